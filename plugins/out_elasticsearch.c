/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_elasticsearch: records as documents through the _bulk API (NDJSON), synchronously (one
 * request at a time per instance). Every document gets a deterministic _id (XXH3-128 of the
 * record's msgpack bytes) and is sent with op_type create, so a retry or a replay after a restart
 * is answered 409 (already there) instead of writing a duplicate. Per-item results map onto
 * per-record results; see docs/outputs.md ("Elasticsearch") for keys and error classes.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <vigil/plugin.h>

#include "common/http.h"
#include "common/json.h"
#include "common/record_view.h"
#include "es_ecs.h"
#include "util/macro.h"

#define SECTION		  "Elasticsearch"
#define DEFAULT_INDEX	  "vigil-%Y.%m.%d"
#define DEFAULT_MAX_BULK  (5ULL << 20)
#define WARN_INTERVAL_SEC 10

static const char *const es_keys[] = {"Hosts",	      "Index",		"DataStream", "Pipeline",
				      "Username",     "PasswordFile",	"ApiKeyFile", "Format",
				      "MaxBulkBytes", "DeadLetterFile", HTTP_KEYS,    NULL};

/* One record of the current batch, rendered as its action + source lines in es->items. */
struct item {
	size_t off, len; /* action + source lines, both with '\n'; len 0: not sent */
	size_t src_off;	 /* offset of the source line (the document) */
	char id[33];
	char index[256];
};

struct es {
	const struct vigil_host *host;
	struct http_client *http;
	char **hosts; /* base URLs without a trailing '/' */
	size_t n_hosts, cur_host;
	char *index_pattern; /* Index= (strftime pattern), or NULL with DataStream= */
	char *data_stream;
	char *pipeline_query; /* "?pipeline=<escaped>" or "" */
	char *auth_header;    /* "Authorization: ..." or NULL */
	bool ecs;
	uint64_t max_bulk;
	char *dead_letter;
	int dl_fd;

	struct vbuf items; /* the batch's NDJSON */
	struct item *it;
	size_t it_cap;
	struct vbuf url;
	struct vbuf scratch;
	struct http_response resp;

	/* Rate limit of per-item warnings. */
	uint64_t warn_next_usec;
	uint64_t warn_suppressed;
	bool failing; /* inside a burst of request failures: logged once */
};

/* What one _bulk request (a contiguous range of items) came to. */
enum range_outcome {
	RANGE_DONE,  /* per-item results written */
	RANGE_RETRY, /* nothing delivered, try the whole range later */
	RANGE_FATAL, /* credentials refused */
};

static uint64_t mono_usec(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static const char *loc(const struct es *es, const char *key)
{
	return strempty(es->host->cfg_location(es->host, SECTION, key));
}

static int cfg_err(const struct es *es, const char *key, const char *value, const char *reason)
{
	return es->host->log(es->host, LOG_ERR, EINVAL, "%s: [" SECTION "] %s=%s: %s", loc(es, key),
			     key, strempty(value), reason);
}

/* "5M", "512K", "1G", plain bytes; base 1024. */
static int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 0:
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = (uint64_t)v << shift;
	return 0;
}

/*
 * Elasticsearch's index name rules: lowercase, none of \ / * ? " < > | space , #, not starting
 * with - _ +, not . or .., at most 255 bytes. Returns a reason or NULL.
 */
static const char *index_name_invalid(const char *name)
{
	if (!*name)
		return "the index name is empty";
	if (strlen(name) > 255)
		return "longer than 255 bytes";
	if (strchr("-_+", name[0]))
		return "must not start with '-', '_' or '+'";
	if (streq(name, ".") || streq(name, ".."))
		return "must not be '.' or '..'";
	for (const char *p = name; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			return "must be lowercase";
		if (strchr("\\/*?\"<>| ,#:", *p))
			return "must not contain \\ / * ? \" < > | space , # :";
	}
	return NULL;
}

/* The index of a record's time under Index= (UTC). */
static int format_index(const struct es *es, int64_t sec, char *buf, size_t size)
{
	time_t t = (time_t)sec;
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		return -EINVAL;
		/* Index= is a strftime pattern by design (validated in init). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (strftime(buf, size, es->index_pattern, &tm) == 0)
		return -ENAMETOOLONG;
#pragma GCC diagnostic pop
	return 0;
}

static void es_free(struct es *es)
{
	if (!es)
		return;
	http_client_free(es->http);
	for (size_t i = 0; i < es->n_hosts; i++)
		free(es->hosts[i]);
	free(es->hosts);
	free(es->index_pattern);
	free(es->data_stream);
	free(es->pipeline_query);
	if (es->auth_header) {
		explicit_bzero(es->auth_header, strlen(es->auth_header));
		free(es->auth_header);
	}
	free(es->dead_letter);
	if (es->dl_fd >= 0)
		close(es->dl_fd);
	vbuf_done(&es->items);
	vbuf_done(&es->url);
	vbuf_done(&es->scratch);
	http_response_done(&es->resp);
	free(es->it);
	free(es);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct es *, es_free)

static int add_host(struct es *es, const char *s, size_t n, const char *raw)
{
	char **a;
	char *h;

	while (n > 0 && s[n - 1] == '/')
		n--;
	if (!((n > 7 && strncmp(s, "http://", 7) == 0) ||
	      (n > 8 && strncmp(s, "https://", 8) == 0)))
		return cfg_err(es, "Hosts", raw, "expected http:// or https:// URLs");
	h = strndup(s, n);
	if (!h)
		return -ENOMEM;
	a = realloc(es->hosts, (es->n_hosts + 1) * sizeof(*a));
	if (!a) {
		free(h);
		return -ENOMEM;
	}
	es->hosts = a;
	es->hosts[es->n_hosts++] = h;
	return 0;
}

static int parse_hosts(struct es *es)
{
	const char *const *l = es->host->cfg_get_list(es->host, SECTION, "Hosts");
	int r;

	for (; l && *l; l++)
		for (const char *p = *l; *p;) {
			size_t n;
			p += strspn(p, " \t,");
			n = strcspn(p, " \t,");
			if (n == 0)
				break;
			r = add_host(es, p, n, *l);
			if (r < 0)
				return r;
			p += n;
		}
	if (es->n_hosts == 0)
		return es->host->log(es->host, LOG_ERR, EINVAL,
				     "[" SECTION "] Hosts= is required (e.g. https://es1:9200)");
	return 0;
}

static int parse_auth(struct es *es)
{
	const struct vigil_host *host = es->host;
	const char *user = host->cfg_get(host, SECTION, "Username");
	const char *pwf = host->cfg_get(host, SECTION, "PasswordFile");
	const char *akf = host->cfg_get(host, SECTION, "ApiKeyFile");
	_cleanup_free_ char *secret = NULL;
	struct vbuf b = {};
	int r;

	if (!isempty(akf) && (!isempty(user) || !isempty(pwf)))
		return cfg_err(es, "ApiKeyFile", akf,
			       "use either ApiKeyFile= or Username= with PasswordFile=, not both");
	if (!isempty(user) != !isempty(pwf))
		return isempty(user) ? cfg_err(es, "PasswordFile", pwf, "needs Username=")
				     : cfg_err(es, "Username", user, "needs PasswordFile=");
	if (!isempty(akf)) {
		r = http_read_secret(host, akf, &secret);
		if (r < 0)
			return r;
		r = vbuf_printf(&b, "Authorization: ApiKey %s", secret);
	} else if (!isempty(user)) {
		struct vbuf cred = {};

		if (strchr(user, ':'))
			return cfg_err(es, "Username", user, "must not contain ':'");
		r = http_read_secret(host, pwf, &secret);
		if (r < 0)
			return r;
		r = vbuf_printf(&cred, "%s:%s", user, secret);
		if (r == 0)
			r = vbuf_append_str(&b, "Authorization: Basic ");
		if (r == 0)
			r = json_append_base64(&b, cred.data, cred.len);
		if (cred.data)
			explicit_bzero(cred.data, cred.len);
		vbuf_done(&cred);
	} else
		return 0;
	explicit_bzero(secret, strlen(secret));
	if (r == 0)
		r = vbuf_putc(&b, 0);
	if (r < 0) {
		if (b.data)
			explicit_bzero(b.data, b.len);
		vbuf_done(&b);
		return r;
	}
	es->auth_header = b.data;
	return 0;
}

/* URL-escape @s for a query value (RFC 3986 unreserved kept). */
static int escape_query(struct vbuf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int r;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c))
			r = vbuf_putc(b, (char)c);
		else
			r = vbuf_printf(b, "%%%02X", c);
		if (r < 0)
			return r;
	}
	return 0;
}

static int es_init(const struct vigil_host *host, void **ret)
{
	_cleanup_(es_freep) struct es *es = NULL;
	const char *v, *ds;
	int r;

	es = calloc(1, sizeof(*es));
	if (!es)
		return -ENOMEM;
	es->host = host;
	es->dl_fd = -1;
	es->max_bulk = DEFAULT_MAX_BULK;

	r = parse_hosts(es);
	if (r < 0)
		return r;

	v = host->cfg_get(host, SECTION, "Index");
	ds = host->cfg_get(host, SECTION, "DataStream");
	if (!isempty(v) && !isempty(ds))
		return cfg_err(es, "DataStream", ds, "use either Index= or DataStream=, not both");
	if (!isempty(ds)) {
		const char *why = index_name_invalid(ds);
		if (why)
			return cfg_err(es, "DataStream", ds, why);
		es->data_stream = strdup(ds);
		if (!es->data_stream)
			return -ENOMEM;
	} else {
		char probe[256];
		const char *why;

		es->index_pattern = strdup(isempty(v) ? DEFAULT_INDEX : v);
		if (!es->index_pattern)
			return -ENOMEM;
		/* The pattern must give a valid name for any time: try one. */
		if (format_index(es, 1700000000, probe, sizeof(probe)) < 0)
			return cfg_err(es, "Index", es->index_pattern,
				       "expands to more than 255 bytes");
		why = index_name_invalid(probe);
		if (why) {
			char reason[320];
			snprintf(reason, sizeof(reason), "expands to '%s', which %s", probe, why);
			return cfg_err(es, "Index", es->index_pattern, reason);
		}
	}

	v = host->cfg_get(host, SECTION, "Pipeline");
	{
		struct vbuf q = {};
		if (!isempty(v)) {
			r = vbuf_append_str(&q, "?pipeline=");
			if (r == 0)
				r = escape_query(&q, v);
		} else
			r = 0;
		if (r == 0)
			r = vbuf_putc(&q, 0);
		if (r < 0) {
			vbuf_done(&q);
			return r;
		}
		es->pipeline_query = q.data;
	}

	v = host->cfg_get(host, SECTION, "Format");
	if (!isempty(v) && !streq(v, "tetragon") && !streq(v, "ecs"))
		return cfg_err(es, "Format", v, "expected tetragon or ecs");
	es->ecs = v && streq(v, "ecs");

	v = host->cfg_get(host, SECTION, "MaxBulkBytes");
	if (!isempty(v) && (parse_size(v, &es->max_bulk) < 0 || es->max_bulk < 1024 ||
			    es->max_bulk > (1ULL << 30)))
		return cfg_err(es, "MaxBulkBytes", v, "expected a size between 1K and 1G, e.g. 5M");

	v = host->cfg_get(host, SECTION, "DeadLetterFile");
	if (!isempty(v)) {
		if (v[0] != '/')
			return cfg_err(es, "DeadLetterFile", v, "not an absolute path");
		es->dead_letter = strdup(v);
		if (!es->dead_letter)
			return -ENOMEM;
		es->dl_fd = open(
			v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
		if (es->dl_fd < 0)
			return host->log(host, LOG_ERR, errno,
					 "%s: [" SECTION "] DeadLetterFile=%s: cannot open: %m",
					 loc(es, "DeadLetterFile"), v);
	}

	r = parse_auth(es);
	if (r < 0)
		return r;
	r = http_client_new(host, SECTION, &es->http);
	if (r < 0)
		return r;

	*ret = TAKE_PTR(es);
	return 0;
}

/* A per-item warning, at most one per WARN_INTERVAL_SEC, with a count of those suppressed. */
static void item_warning(struct es *es, const struct item *it, long status, const char *type,
			 const char *reason)
{
	uint64_t now = mono_usec();

	if (now < es->warn_next_usec) {
		es->warn_suppressed++;
		return;
	}
	es->host->log(es->host, LOG_WARNING, 0,
		      "Document %s for index '%s' dropped: HTTP %ld %s: %s%s (%" PRIu64
		      " similar messages suppressed)",
		      it->id, it->index, status, strempty(type), strempty(reason),
		      es->dead_letter ? ", written to the dead-letter file" : "",
		      es->warn_suppressed);
	es->warn_suppressed = 0;
	es->warn_next_usec = now + WARN_INTERVAL_SEC * USEC_PER_SEC;
}

/* One JSON line for a dropped item: {"time","status","error","index","id","document"}. */
static void dead_letter(struct es *es, const struct item *it, long status, const char *error_json,
			const char *error_text)
{
	struct vbuf *b = &es->scratch;
	struct timespec ts;
	int r;

	if (es->dl_fd < 0)
		return;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	b->len = 0;
	r = vbuf_append_str(b, "{\"time\":\"");
	if (r == 0)
		r = json_append_rfc3339(b, ts.tv_sec, (uint32_t)ts.tv_nsec);
	if (r == 0)
		r = vbuf_printf(b, "\",\"status\":%ld,\"error\":", status);
	if (r == 0)
		r = error_json ? vbuf_append_str(b, error_json)
			       : json_append_string(b, error_text, strlen(error_text));
	if (r == 0)
		r = vbuf_append_str(b, ",\"index\":");
	if (r == 0)
		r = json_append_string(b, it->index, strlen(it->index));
	if (r == 0)
		r = vbuf_printf(b, ",\"id\":\"%s\",\"document\":", it->id);
	if (r == 0) {
		if (it->len > 0) /* the source line, without its '\n' */
			r = vbuf_append(b, es->items.data + it->src_off,
					it->off + it->len - 1 - it->src_off);
		else
			r = vbuf_append_str(b, "null");
	}
	if (r == 0)
		r = vbuf_append_str(b, "}\n");
	if (r < 0)
		return;
	/* O_APPEND and one write(): lines never interleave. */
	if (write(es->dl_fd, b->data, b->len) != (ssize_t)b->len)
		es->host->log(es->host, LOG_WARNING, errno,
			      "Cannot write to dead-letter file %s: %m", es->dead_letter);
}

static void drop_item(struct es *es, const struct item *it, uint8_t *result, long status,
		      const char *type, const char *reason, const char *error_json)
{
	*result = VIGIL_DROP;
	item_warning(es, it, status, type, reason);
	dead_letter(es, it, status, error_json, reason);
}

/*
 * Render record @i into es->items: the action line and the document. Returns 0, -ENOMEM, or
 * -EBADMSG for a malformed record.
 */
static int render_item(struct es *es, const struct vigil_record *rec, struct item *it)
{
	struct vbuf *b = &es->items;
	size_t start = b->len;
	XXH128_canonical_t canon;
	int64_t sec = 0;
	uint32_t nsec = 0;
	int r;

	it->off = start;
	it->len = 0;
	XXH128_canonicalFromHash(&canon, XXH3_128bits(rec->data, rec->size));
	for (size_t k = 0; k < sizeof(canon.digest); k++)
		snprintf(it->id + 2 * k, 3, "%02x", canon.digest[k]);

	r = rv_get_timestamp((struct mp_span){rec->data, rec->size}, "time", &sec, &nsec);
	if (es->data_stream)
		snprintf(it->index, sizeof(it->index), "%s", es->data_stream);
	else if (r < 0) {
		/* No time: the index of the hour we are in would be a guess; refuse the record. */
		snprintf(it->index, sizeof(it->index), "%s", es->index_pattern);
		return -EBADMSG;
	} else if (format_index(es, sec, it->index, sizeof(it->index)) < 0)
		return -EBADMSG;

	r = vbuf_printf(b, "{\"create\":{\"_index\":\"%s\",\"_id\":\"%s\"}}\n", it->index, it->id);
	if (r < 0)
		return r;
	it->src_off = b->len;
	if (es->ecs)
		r = ecs_render(rec->data, rec->size, it->id, b);
	else {
		size_t pos;
		/* Tetragon JSON with "@timestamp" spliced in first. */
		r = vbuf_append_str(b, "{\"@timestamp\":\"");
		if (r == 0)
			r = json_append_rfc3339(b, sec, nsec);
		if (r == 0)
			r = vbuf_append_str(b, "\",");
		pos = b->len;
		if (r == 0)
			r = json_render(rec->data, rec->size, b);
		if (r == 0) {
			if (b->len - pos < 2 || b->data[pos] != '{')
				r = -EBADMSG;
			else if (b->data[pos + 1] == '}') {
				/* an empty map: drop our comma too */
				b->data[pos - 1] = '}';
				b->len = pos;
			} else {
				memmove(b->data + pos, b->data + pos + 1, b->len - pos - 1);
				b->len--;
			}
		}
	}
	if (r == 0)
		r = vbuf_putc(b, '\n');
	if (r < 0) {
		b->len = start;
		return r;
	}
	it->len = b->len - start;
	return 0;
}

static bool status_retryable(long status)
{
	return status == 408 || status == 429 || status >= 500;
}

/* Apply the items of a 200 response to items [a, b). */
static enum range_outcome apply_items(struct es *es, size_t a, size_t b, uint8_t *results)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root = NULL, *errors, *items;
	enum range_outcome out = RANGE_DONE;
	size_t n_sent = 0, k = 0;

	if (!tok)
		return RANGE_RETRY;
	root = json_tokener_parse_ex(tok, es->resp.body.data, (int)es->resp.body.len);
	json_tokener_free(tok);
	for (size_t i = a; i < b; i++)
		n_sent += es->it[i].len > 0;
	if (!root || !json_object_object_get_ex(root, "errors", &errors) ||
	    !json_object_object_get_ex(root, "items", &items) ||
	    !json_object_is_type(items, json_type_array) ||
	    json_object_array_length(items) != n_sent) {
		es->host->log(es->host, LOG_WARNING, 0,
			      "Unexpected _bulk response from %s (not %zu items), will retry",
			      es->hosts[es->cur_host], n_sent);
		out = RANGE_RETRY;
		goto done;
	}
	if (!json_object_get_boolean(errors))
		goto done; /* all delivered: results are pre-filled */

	for (size_t i = a; i < b; i++) {
		struct json_object *item, *op = NULL, *st, *err, *type, *reason;
		const char *opname = NULL;
		long status;

		if (es->it[i].len == 0)
			continue;
		item = json_object_array_get_idx(items, k++);
		if (item && json_object_is_type(item, json_type_object)) {
			json_object_object_foreach(item, kname, kval)
			{
				opname = kname;
				op = kval;
				break;
			}
		}
		if (!op || !json_object_object_get_ex(op, "status", &st)) {
			results[i] = VIGIL_REDO;
			continue;
		}
		status = (long)json_object_get_int64(st);
		if (status >= 200 && status < 300)
			continue;
		if (status == 409 && opname && streq(opname, "create"))
			continue; /* already there: a retry or a replay of a delivered record */
		if (status_retryable(status)) {
			results[i] = VIGIL_REDO;
			continue;
		}
		err = type = reason = NULL;
		if (json_object_object_get_ex(op, "error", &err)) {
			(void)json_object_object_get_ex(err, "type", &type);
			(void)json_object_object_get_ex(err, "reason", &reason);
		}
		drop_item(es, &es->it[i], &results[i], status,
			  type ? json_object_get_string(type) : NULL,
			  reason ? json_object_get_string(reason) : "rejected",
			  err ? json_object_to_json_string_ext(err, JSON_C_TO_STRING_PLAIN) : NULL);
	}
done:
	json_object_put(root);
	return out;
}

static int build_url(struct es *es, const char *base, const char *path)
{
	es->url.len = 0;
	if (vbuf_append_str(&es->url, base) < 0 || vbuf_append_str(&es->url, path) < 0 ||
	    vbuf_putc(&es->url, 0) < 0)
		return -ENOMEM;
	return 0;
}

static void mark_redo(const struct es *es, size_t a, size_t b, uint8_t *results)
{
	for (size_t i = a; i < b; i++)
		if (es->it[i].len > 0)
			results[i] = VIGIL_REDO;
}

static bool whole_retryable(long status)
{
	return status == 408 || status == 429 || status >= 500;
}

/*
 * Send items [a, b) as one _bulk request, failing over across Hosts= on connection errors and
 * 5xx. 413 splits the range in halves (one item that is too large is dropped).
 */
static enum range_outcome send_range(struct es *es, size_t a, size_t b, uint8_t *results)
{
	const char *hdrs[2] = {es->auth_header, NULL};
	size_t first = a, last = b;
	struct http_request req;
	long status = 0;
	int r = 0;

	while (first < last && es->it[first].len == 0)
		first++;
	while (last > first && es->it[last - 1].len == 0)
		last--;
	if (first == last)
		return RANGE_DONE;

	req = (struct http_request){
		.method = "POST",
		.headers = es->auth_header ? hdrs : NULL,
		.body = es->items.data + es->it[first].off,
		.body_size = es->it[last - 1].off + es->it[last - 1].len - es->it[first].off,
		.content_type = "application/x-ndjson",
	};

	for (size_t tries = 0; tries < es->n_hosts; tries++) {
		char path[32 + 2048];

		snprintf(path, sizeof(path), "/_bulk%s", es->pipeline_query);
		if (build_url(es, es->hosts[es->cur_host], path) < 0)
			return RANGE_RETRY;
		req.url = es->url.data;
		r = http_perform(es->http, &req, &es->resp);
		status = r < 0 ? 0 : es->resp.status;
		if (r == -ENOMEM)
			return RANGE_RETRY;
		if (r < 0 || (status >= 500 && status != 501)) {
			/* This node is down or broken: try the next one. */
			if (!es->failing || es->n_hosts > 1) {
				if (r < 0)
					es->host->log(es->host, LOG_WARNING, r, "%s: %s%s",
						      es->hosts[es->cur_host], es->resp.error,
						      es->n_hosts > 1 ? ", trying the next host"
								      : ", will retry");
				else
					es->host->log(es->host, LOG_WARNING, 0, "%s: HTTP %ld%s",
						      es->hosts[es->cur_host], status,
						      es->n_hosts > 1 ? ", trying the next host"
								      : ", will retry");
			}
			es->failing = true;
			es->cur_host = (es->cur_host + 1) % es->n_hosts;
			continue;
		}
		break;
	}
	if (r < 0 || (status >= 500 && status != 501))
		return RANGE_RETRY;

	if (status == 200) {
		if (es->failing)
			es->host->log(es->host, LOG_INFO, 0, "%s: delivering again",
				      es->hosts[es->cur_host]);
		es->failing = false;
		return apply_items(es, first, last, results);
	}
	if (status == 401 || status == 403) {
		es->host->log(
			es->host, LOG_ERR, 0,
			"%s: HTTP %ld: Elasticsearch refuses our credentials (%s); check "
			"Username=/PasswordFile= or ApiKeyFile= and the role's index privileges: "
			"%.200s",
			es->hosts[es->cur_host], status,
			es->auth_header ? "as configured" : "none configured", es->resp.body.data);
		return RANGE_FATAL;
	}
	if (whole_retryable(status)) {
		/* Once per burst, and whenever the cluster says how long to wait. */
		if (!es->failing || es->resp.retry_after_sec) {
			if (es->resp.retry_after_sec)
				es->host->log(
					es->host, LOG_WARNING, 0,
					"%s: HTTP %ld, Retry-After %" PRIu64 " s, backing off",
					es->hosts[es->cur_host], status, es->resp.retry_after_sec);
			else
				es->host->log(es->host, LOG_WARNING, 0, "%s: HTTP %ld, backing off",
					      es->hosts[es->cur_host], status);
		}
		es->failing = true;
		return RANGE_RETRY;
	}
	if (status == 413) {
		size_t mid;
		enum range_outcome o1, o2;

		if (last - first == 1) {
			drop_item(
				es, &es->it[first], &results[first], 413,
				"request_entity_too_large",
				"the document alone exceeds the cluster's http.max_content_length",
				NULL);
			return RANGE_DONE;
		}
		mid = first + (last - first) / 2;
		o1 = send_range(es, first, mid, results);
		if (o1 == RANGE_FATAL)
			return o1;
		o2 = send_range(es, mid, last, results);
		if (o2 == RANGE_FATAL)
			return o2;
		/* Half delivered, half not: report the undelivered half as REDO. */
		if (o1 == RANGE_RETRY && o2 == RANGE_RETRY)
			return RANGE_RETRY;
		if (o1 == RANGE_RETRY)
			mark_redo(es, first, mid, results);
		if (o2 == RANGE_RETRY)
			mark_redo(es, mid, last, results);
		return RANGE_DONE;
	}

	/* 400 (malformed bulk: our bug) or another 4xx: resending cannot help. */
	es->host->log(es->host, LOG_ERR, 0,
		      "%s: HTTP %ld for a _bulk request of %zu documents, dropping them%s%s: "
		      "%.300s",
		      es->hosts[es->cur_host], status, last - first,
		      es->dead_letter ? " (see the dead-letter file)" : "",
		      status == 400 ? "; this is a bug in vigil, please report it" : "",
		      es->resp.body.data);
	for (size_t i = first; i < last; i++)
		if (es->it[i].len > 0) {
			results[i] = VIGIL_DROP;
			dead_letter(es, &es->it[i], status, NULL, "request rejected as a whole");
		}
	return RANGE_DONE;
}

static enum vigil_status es_emit(void *instance, const struct vigil_batch *batch, uint8_t *results)
{
	struct es *es = instance;
	size_t n = batch->n_records, a;
	bool any_done = false;
	int r;

	if (n == 0)
		return VIGIL_OK;
	if (n > es->it_cap) {
		struct item *p = realloc(es->it, n * sizeof(*p));
		if (!p)
			return VIGIL_RETRY;
		es->it = p;
		es->it_cap = n;
	}
	es->items.len = 0;
	for (size_t i = 0; i < n; i++) {
		r = render_item(es, &batch->records[i], &es->it[i]);
		if (r == -ENOMEM)
			return VIGIL_RETRY;
		if (r < 0)
			drop_item(es, &es->it[i], &results[i], 0, "malformed_record",
				  "the record could not be rendered", NULL);
	}

	/* Cut the batch into requests of at most MaxBulkBytes (at least one item each). */
	a = 0;
	while (a < n) {
		size_t b = a, bytes = 0;
		enum range_outcome o;

		while (b < n && (b == a || bytes + es->it[b].len <= es->max_bulk))
			bytes += es->it[b++].len;
		o = send_range(es, a, b, results);
		if (o == RANGE_FATAL)
			return VIGIL_FATAL;
		if (o == RANGE_RETRY) {
			if (!any_done)
				/* Nothing delivered yet: the host backs off and re-offers all. */
				goto retry_rest;
			mark_redo(es, a, b, results);
		} else
			any_done = true;
		a = b;
	}
	return VIGIL_OK;

retry_rest:
	/* Ranges after a failed one are not tried: the cluster just refused us. */
	mark_redo(es, a, n, results);
	return a == 0 ? VIGIL_RETRY : VIGIL_OK;
}

static enum vigil_status es_flush(void *instance, uint64_t timeout_usec)
{
	/* Nothing is buffered between emit() calls. */
	return VIGIL_OK;
}

/* After FATAL: GET / with the credentials on each host; 200 means we may write again. */
static enum vigil_status es_probe(void *instance)
{
	struct es *es = instance;
	const char *hdrs[2] = {es->auth_header, NULL};
	enum vigil_status st = VIGIL_RETRY;

	for (size_t tries = 0; tries < es->n_hosts; tries++) {
		struct http_request req = {
			.method = "GET",
			.headers = es->auth_header ? hdrs : NULL,
		};
		int r;

		if (build_url(es, es->hosts[es->cur_host], "/") < 0)
			return VIGIL_RETRY;
		req.url = es->url.data;
		r = http_perform(es->http, &req, &es->resp);
		if (r == 0 && es->resp.status == 200) {
			es->host->log(es->host, LOG_INFO, 0,
				      "%s: reachable and accepting our "
				      "credentials again",
				      es->hosts[es->cur_host]);
			return VIGIL_OK;
		}
		if (r == 0 && (es->resp.status == 401 || es->resp.status == 403))
			st = VIGIL_FATAL;
		es->cur_host = (es->cur_host + 1) % es->n_hosts;
	}
	return st;
}

static void es_fini(void *instance)
{
	es_free(instance);
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_OUTPUT, .name = "elasticsearch",
		    .description = "Elasticsearch _bulk API (Tetragon JSON or ECS documents)",
		    .section = SECTION, .keys = es_keys, .max_in_flight = 1, .init = es_init,
		    .emit = es_emit, .flush = es_flush, .probe = es_probe, .fini = es_fini,
		    .flags = VIGIL_PLUGIN_F_SPOOL);
