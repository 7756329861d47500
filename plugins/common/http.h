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
 *   CompressLevel=    gzip level, 1 (fastest, default) to 9 (smallest)
 *   TimeoutSec=       whole-request timeout, default 30s
 *   ConnectTimeoutSec= default 10s
 * A bad value fails init with "file:line: Key=value: reason" (through host->log and
 * host->cfg_location).
 */

struct http_client;

/* HTTP_KEYS: the keys above, to splice into a plugin's keys[] list. */
#define HTTP_KEYS                                                                                  \
	"TLSVerify", "TLSCAFile", "TLSCertFile", "TLSKeyFile", "Compress", "CompressLevel",        \
		"TimeoutSec", "ConnectTimeoutSec"

int http_client_new(const struct vigil_host *host, const char *section, struct http_client **ret);
struct http_client *http_client_free(struct http_client *c);
/*
 * Make the request @c performs now, and every later one, fail at once with -ECANCELED. The only
 * function that may be called from another thread than the one using @c: for a plugin's fini()
 * that must not wait out TimeoutSec= of a request its sender thread is blocked in.
 */
void http_client_abort(struct http_client *c);

/*
 * Read a secret (password, API key, token) from @path: the first line, without the trailing
 * newline, must be non-empty. A file readable by group or others is accepted with a warning
 * naming it. Returns 0 and a malloc'ed string (caller frees, ideally after explicit_bzero), or
 * -errno after logging "path: reason" through @host.
 */
int http_read_secret(const struct vigil_host *host, const char *path, char **ret);

/*
 * @url without its userinfo ("https://user:pass@host/x" → "https://host/x"), for logs: a URL as
 * the operator wrote it may carry a password. Returns a malloc'ed string, NULL on ENOMEM.
 */
char *http_url_redact(const char *url);

/* One request. Headers are "Name: value" strings, NULL-terminated list, may be NULL. */
struct http_request {
	const char *method; /* "POST", "GET", ... */
	const char *url;
	const char *const *headers;
	const void *body; /* sent as is, or gzip-compressed when the client compresses */
	size_t body_size;
	const char *content_type; /* e.g. "application/x-ndjson" */
	/* The body is gzip already (http_compress()): sent as is with Content-Encoding: gzip. */
	bool body_gzipped;
};

/*
 * gzip @size bytes at @data into @out (replacing its content) as http_perform() would, when @c
 * compresses (Compress=gzip). Returns 1 when it did, 0 when @c does not compress (@out is then
 * untouched), -errno on failure. Lets a plugin compress on another thread than the one that
 * sends: with a client of its own, as @c's deflate state is not shared.
 */
int http_compress(struct http_client *c, const void *data, size_t size, struct vbuf *out);

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
 * -EIO/-ETIMEDOUT/-ECONNREFUSED/-EPROTO when none did (resp->error says why), -ECANCELED after
 * http_client_abort().
 */
int http_perform(struct http_client *c, const struct http_request *req, struct http_response *resp);
void http_response_done(struct http_response *resp);

#endif /* VIGIL_PLUGINS_HTTP_H */
