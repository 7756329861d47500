/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The shared libcurl client of the HTTP outputs (see http.h). One easy handle per instance, kept
 * across requests so connections (and TLS sessions) are reused; request bodies optionally
 * gzip-compressed with zlib into a buffer reused across requests.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <zlib.h>

#include "cfg.h"
#include "http.h"
#include "util/macro.h"

struct http_client {
	const struct vigil_host *host;
	CURL *curl;
	bool verify;
	bool gzip;
	int gzip_level; /* CompressLevel= */
	bool zs_ready;	/* zs initialised: reset, not rebuilt, for each request */
	z_stream zs;	/* ~270 KiB of deflate state, kept: allocating it per request
			 * costs an mmap/munmap pair and page faults every time */
	char *ca_file, *cert_file, *key_file;
	uint64_t timeout_usec, connect_timeout_usec;
	struct vbuf gz;	     /* compressed body of the current request */
	atomic_bool aborted; /* http_client_abort(): fail what runs now and what comes */
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
	/* Never paired with curl_global_cleanup(): plugins are never unloaded. */
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int cfg_error(const struct vigil_host *host, const char *section, const char *key,
		     const char *value, int error, const char *reason)
{
	return host->log(host, LOG_ERR, error, "%s: [%s] %s=%s: %s",
			 strempty(host->cfg_location(host, section, key)), section, key,
			 strempty(value), reason);
}

/* A readable file named by an absolute path, or unset. */
static int cfg_file(const struct vigil_host *host, const char *section, const char *key, char **ret)
{
	const char *v = host->cfg_get(host, section, key);

	if (isempty(v))
		return 0;
	if (v[0] != '/')
		return cfg_error(host, section, key, v, EINVAL, "not an absolute path");
	if (access(v, R_OK) < 0) {
		int r = -errno;
		char reason[128];
		snprintf(reason, sizeof(reason), "cannot read it: %s", strerror(-r));
		return cfg_error(host, section, key, v, r, reason);
	}
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

static int cfg_timeout(const struct vigil_host *host, const char *section, const char *key,
		       uint64_t *ret)
{
	uint64_t u;
	int r = host->cfg_get_usec(host, section, key, &u);

	if (r == -ENOENT)
		return 0;
	if (r < 0 || u < USEC_PER_MSEC || u > 3600 * USEC_PER_SEC)
		return cfg_error(host, section, key, host->cfg_get(host, section, key), EINVAL,
				 "expected a time span between 1ms and 1h, e.g. 30s");
	*ret = u;
	return 0;
}

struct http_client *http_client_free(struct http_client *c)
{
	if (!c)
		return NULL;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->zs_ready)
		deflateEnd(&c->zs);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	vbuf_done(&c->gz);
	free(c);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct http_client *, http_client_free)

int http_client_new(const struct vigil_host *host, const char *section, struct http_client **ret)
{
	_cleanup_(http_client_freep) struct http_client *c = NULL;
	const char *v;
	int r, b;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->host = host;
	c->verify = true;
	c->gzip = true;
	c->gzip_level = Z_BEST_SPEED;
	c->timeout_usec = 30 * USEC_PER_SEC;
	c->connect_timeout_usec = 10 * USEC_PER_SEC;

	v = host->cfg_get(host, section, "TLSVerify");
	if (!isempty(v) && (b = cfg_parse_bool(v)) >= 0)
		c->verify = b;
	else if (!isempty(v))
		return cfg_error(host, section, "TLSVerify", v, EINVAL, "expected yes or no");
	if (!c->verify)
		host->log(host, LOG_WARNING, 0,
			  "%s: [%s] TLSVerify=no: the server's certificate is not checked, "
			  "anyone on the path can read and alter what is sent",
			  strempty(host->cfg_location(host, section, "TLSVerify")), section);

	v = host->cfg_get(host, section, "Compress");
	if (!isempty(v)) {
		if (streq(v, "gzip"))
			c->gzip = true;
		else if (streq(v, "none"))
			c->gzip = false;
		else
			return cfg_error(host, section, "Compress", v, EINVAL,
					 "expected gzip or none");
	}

	v = host->cfg_get(host, section, "CompressLevel");
	if (!isempty(v)) {
		char *end;
		long l;

		errno = 0;
		l = strtol(v, &end, 10);
		if (errno || end == v || *end || l < 1 || l > 9)
			return cfg_error(host, section, "CompressLevel", v, EINVAL,
					 "expected a gzip level from 1 (fastest) to 9 (smallest)");
		c->gzip_level = (int)l;
	}

	r = cfg_file(host, section, "TLSCAFile", &c->ca_file);
	if (r < 0)
		return r;
	r = cfg_file(host, section, "TLSCertFile", &c->cert_file);
	if (r < 0)
		return r;
	r = cfg_file(host, section, "TLSKeyFile", &c->key_file);
	if (r < 0)
		return r;
	if (!!c->cert_file != !!c->key_file) {
		const char *key = c->cert_file ? "TLSCertFile" : "TLSKeyFile";
		return cfg_error(host, section, key, host->cfg_get(host, section, key), EINVAL,
				 "TLSCertFile= and TLSKeyFile= go together");
	}

	r = cfg_timeout(host, section, "TimeoutSec", &c->timeout_usec);
	if (r < 0)
		return r;
	r = cfg_timeout(host, section, "ConnectTimeoutSec", &c->connect_timeout_usec);
	if (r < 0)
		return r;

	(void)pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK)
		return host->log(host, LOG_ERR, EIO, "Cannot initialise libcurl: %s",
				 curl_easy_strerror(curl_init_result));
	c->curl = curl_easy_init();
	if (!c->curl)
		return host->log(host, LOG_ERR, ENOMEM, "Cannot create a libcurl handle");

	*ret = TAKE_PTR(c);
	return 0;
}

void http_client_abort(struct http_client *c)
{
	if (c)
		atomic_store(&c->aborted, true);
}

char *http_url_redact(const char *url)
{
	const char *auth, *end, *at;
	char *s;

	if (!url)
		return NULL;
	auth = strstr(url, "://");
	auth = auth ? auth + 3 : url;
	/* The authority ends at the first '/', '?' or '#'; userinfo is what precedes its last '@'.
	 */
	end = auth + strcspn(auth, "/?#");
	at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return strdup(url);
	if (asprintf(&s, "%.*s%s", (int)(auth - url), url, at + 1) < 0)
		return NULL;
	return s;
}

int http_read_secret(const struct vigil_host *host, const char *path, char **ret)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0, cap = 4096;
	char *nl;

	if (isempty(path))
		return host->log(host, LOG_ERR, EINVAL, "empty secret file name");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return host->log(host, LOG_ERR, errno, "%s: cannot open: %m", path);
	if (fstat(fd, &st) < 0)
		return host->log(host, LOG_ERR, errno, "%s: cannot stat: %m", path);
	if (!S_ISREG(st.st_mode))
		return host->log(host, LOG_ERR, EINVAL, "%s: not a regular file", path);
	if (st.st_mode & 0077)
		host->log(host, LOG_WARNING, 0,
			  "%s: secret file is accessible by group or others (mode %04o), "
			  "consider chmod 0600",
			  path, (unsigned)(st.st_mode & 07777));

	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	/* A secret is one line; 4 KiB is plenty (ES API keys, HEC tokens are < 200 bytes). */
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int r = -errno;
			explicit_bzero(buf, cap);
			return host->log(host, LOG_ERR, r, "%s: cannot read: %m", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = 0;
	if (len == 0) {
		explicit_bzero(buf, cap);
		return host->log(host, LOG_ERR, EINVAL, "%s: first line is empty", path);
	}
	if (!nl && len == cap) {
		explicit_bzero(buf, cap);
		return host->log(host, LOG_ERR, EFBIG, "%s: secret longer than %zu bytes", path,
				 cap);
	}
	*ret = TAKE_PTR(buf);
	return 0;
}

/* gzip @size bytes at @data into @out. */
static int gzip_into(struct http_client *c, const void *data, size_t size, struct vbuf *out)
{
	z_stream *zs = &c->zs;
	int r;

	/*
	 * Level 1 (CompressLevel=) by default: bulk NDJSON compresses ~8x at the fastest level;
	 * higher levels cost CPU the sink side does not pay back. windowBits 15 + 16: gzip
	 * framing. The stream is set up once and reset per request.
	 */
	if (!c->zs_ready) {
		if (deflateInit2(zs, c->gzip_level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
		    Z_OK)
			return -ENOMEM;
		c->zs_ready = true;
	} else if (deflateReset(zs) != Z_OK)
		return -EIO;
	out->len = 0;
	r = vbuf_reserve(out, deflateBound(zs, size));
	if (r < 0)
		return r;
	zs->next_in = (Bytef *)data;
	zs->avail_in = size;
	zs->next_out = (Bytef *)out->data;
	zs->avail_out = out->cap;
	if (deflate(zs, Z_FINISH) != Z_STREAM_END)
		return -EIO;
	out->len = zs->total_out;
	return 0;
}

int http_compress(struct http_client *c, const void *data, size_t size, struct vbuf *out)
{
	int r;

	if (!c->gzip)
		return 0;
	r = gzip_into(c, data, size, out);
	return r < 0 ? r : 1;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_response *resp = userdata;
	size_t n = size * nmemb;

	/* Keep room for the terminating NUL. */
	if (vbuf_reserve(&resp->body, n + 1) < 0)
		return 0;
	memcpy(resp->body.data + resp->body.len, ptr, n);
	resp->body.len += n;
	return n;
}

static int xferinfo_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct http_client *c = userdata;

	return atomic_load(&c->aborted) ? 1 : 0;
}

static int curl_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

#define SETOPT(opt, val)                                                                           \
	do {                                                                                       \
		cc = curl_easy_setopt(c->curl, opt, val);                                          \
		if (cc != CURLE_OK)                                                                \
			goto curl_fail;                                                            \
	} while (0)

int http_perform(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
	struct curl_slist *hdrs = NULL, *tmp;
	char ctype[256];
	const void *body = req->body;
	size_t body_size = req->body_size;
	bool has_body = req->body != NULL;
	curl_off_t retry_after = 0;
	CURLcode cc;
	int r = 0;

	resp->status = 0;
	resp->error[0] = 0;
	resp->retry_after_sec = 0;
	resp->body.len = 0;
	if (vbuf_reserve(&resp->body, 1) < 0)
		return -ENOMEM;
	resp->body.data[0] = 0;
	if (atomic_load(&c->aborted)) {
		snprintf(resp->error, sizeof(resp->error), "the output is shutting down");
		return -ECANCELED;
	}

	if (has_body && c->gzip && body_size > 0 && !req->body_gzipped) {
		r = gzip_into(c, body, body_size, &c->gz);
		if (r < 0) {
			snprintf(resp->error, sizeof(resp->error), "gzip failed");
			return r;
		}
		body = c->gz.data;
		body_size = c->gz.len;
	}

	for (const char *const *h = req->headers; h && *h; h++) {
		tmp = curl_slist_append(hdrs, *h);
		if (!tmp)
			goto oom;
		hdrs = tmp;
	}
	if (has_body) {
		if (req->content_type) {
			snprintf(ctype, sizeof(ctype), "Content-Type: %s", req->content_type);
			tmp = curl_slist_append(hdrs, ctype);
			if (!tmp)
				goto oom;
			hdrs = tmp;
		}
		if ((c->gzip && body_size > 0) || req->body_gzipped) {
			tmp = curl_slist_append(hdrs, "Content-Encoding: gzip");
			if (!tmp)
				goto oom;
			hdrs = tmp;
		}
		/* No 100-continue round trip: the servers we talk to answer the whole body. */
		tmp = curl_slist_append(hdrs, "Expect:");
		if (!tmp)
			goto oom;
		hdrs = tmp;
	}

	curl_easy_reset(c->curl);
	c->errbuf[0] = 0;
	SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_URL, req->url);
	SETOPT(CURLOPT_USERAGENT, "vigil/" PACKAGE_VERSION);
	SETOPT(CURLOPT_TIMEOUT_MS, (long)(c->timeout_usec / USEC_PER_MSEC));
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)(c->connect_timeout_usec / USEC_PER_MSEC));
	SETOPT(CURLOPT_SSL_VERIFYPEER, c->verify ? 1L : 0L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, c->verify ? 2L : 0L);
	if (c->ca_file)
		SETOPT(CURLOPT_CAINFO, c->ca_file);
	if (c->cert_file) {
		SETOPT(CURLOPT_SSLCERT, c->cert_file);
		SETOPT(CURLOPT_SSLKEY, c->key_file);
	}
	/* Accept gzip'ed responses; libcurl decompresses them. */
	SETOPT(CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(CURLOPT_WRITEDATA, resp);
	SETOPT(CURLOPT_NOPROGRESS, 0L);
	SETOPT(CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	SETOPT(CURLOPT_XFERINFODATA, c);
	if (hdrs)
		SETOPT(CURLOPT_HTTPHEADER, hdrs);
	if (has_body) {
		SETOPT(CURLOPT_POST, 1L);
		SETOPT(CURLOPT_POSTFIELDS, body);
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_size);
	}
	if (req->method && !streq(req->method, has_body ? "POST" : "GET")) {
		if (streq(req->method, "HEAD"))
			SETOPT(CURLOPT_NOBODY, 1L);
		else
			SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
	}

	cc = curl_easy_perform(c->curl);
	if (cc != CURLE_OK) {
		/* A write_cb failure is our memory, not the network. */
		r = cc == CURLE_WRITE_ERROR ? -ENOMEM : curl_errno(cc);
		snprintf(resp->error, sizeof(resp->error), "%s",
			 c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
		resp->body.len = 0;
		goto out;
	}
	(void)curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
	    retry_after > 0)
		resp->retry_after_sec = (uint64_t)retry_after;
	if (resp->status == 0) {
		snprintf(resp->error, sizeof(resp->error), "no HTTP status in the response");
		r = -EPROTO;
	}
out:
	if (vbuf_reserve(&resp->body, 1) == 0)
		resp->body.data[resp->body.len] = 0;
	curl_slist_free_all(hdrs);
	return r;

curl_fail:
	snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(cc));
	r = curl_errno(cc);
	goto out;

oom:
	curl_slist_free_all(hdrs);
	snprintf(resp->error, sizeof(resp->error), "out of memory");
	return -ENOMEM;
}

void http_response_done(struct http_response *resp)
{
	if (!resp)
		return;
	vbuf_done(&resp->body);
}
