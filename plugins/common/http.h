/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_PLUGINS_HTTP_H
#define VIGIL_PLUGINS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vigil/plugin.h>

#include "json.h"

/*
 * Shared HTTP client code of the HTTP outputs (out_elasticsearch, out_splunk_hec), on libcurl.
 * One struct http_client per plugin instance, used from that instance's worker thread only.
 *
 * TLS and timeouts are read from the plugin's own config section by http_client_new(), with the
 * same keys in every HTTP plugin (documented once in docs/outputs.md, "HTTP outputs"):
 *   TLSVerify=        yes (default) | no: verify the server certificate and host name
 *   TLSCAFile=        PEM bundle of CAs to trust instead of the system store
 *   TLSCertFile=      client certificate (PEM), with TLSKeyFile=
 *   TLSKeyFile=       client private key (PEM)
 *   Compress=         gzip (default) | none: Content-Encoding of request bodies
 *   TimeoutSec=       whole-request timeout, default 30s
 *   ConnectTimeoutSec= default 10s
 * A bad value fails init with "file:line: Key=value: reason" (through host->log and
 * host->cfg_location).
 */

struct http_client;

/* HTTP_KEYS: the keys above, to splice into a plugin's keys[] list. */
#define HTTP_KEYS                                                                                  \
	"TLSVerify", "TLSCAFile", "TLSCertFile", "TLSKeyFile", "Compress", "TimeoutSec",           \
		"ConnectTimeoutSec"

int http_client_new(const struct vigil_host *host, const char *section, struct http_client **ret);
struct http_client *http_client_free(struct http_client *c);

/*
 * Read a secret (password, API key, token) from @path: the first line, without the trailing
 * newline, must be non-empty. A file readable by group or others is accepted with a warning
 * naming it. Returns 0 and a malloc'ed string (caller frees, ideally after explicit_bzero), or
 * -errno after logging "path: reason" through @host.
 */
int http_read_secret(const struct vigil_host *host, const char *path, char **ret);

/* One request. Headers are "Name: value" strings, NULL-terminated list, may be NULL. */
struct http_request {
	const char *method; /* "POST", "GET", ... */
	const char *url;
	const char *const *headers;
	const void *body; /* sent as is, or gzip-compressed when the client compresses */
	size_t body_size;
	const char *content_type; /* e.g. "application/x-ndjson" */
};

struct http_response {
	long status;	  /* HTTP status; 0 when no response arrived (see error) */
	struct vbuf body; /* response body, decompressed if the server gzip'ed it; NUL-terminated */
	/* When status == 0: a libcurl error text (connect refused, timeout, TLS failure). */
	char error[256];
	/* Retry-After: in seconds when the server sent one, else 0. */
	uint64_t retry_after_sec;
};

/*
 * Perform @req and fill @resp (whose body buffer is reused across calls: init it zeroed,
 * release with http_response_done()). Returns 0 when an HTTP response arrived (any status),
 * -EIO/-ETIMEDOUT/-ECONNREFUSED/-EPROTO when none did (resp->error says why).
 */
int http_perform(struct http_client *c, const struct http_request *req, struct http_response *resp);
void http_response_done(struct http_response *resp);

#endif /* VIGIL_PLUGINS_HTTP_H */
