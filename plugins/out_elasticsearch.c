/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_elasticsearch: records as documents through the _bulk API (NDJSON). Every document gets a
 * deterministic _id (XXH3-128 of the record's msgpack bytes) and is sent with op_type create, so a
 * retry or a replay after a restart is answered 409 (already there) instead of writing a
 * duplicate. Per-item results map onto per-record results; see docs/outputs-elasticsearch.md for
 * keys and error classes.
 *
 * Pipelining: emit() renders a batch into a job and hands it to the instance's sender thread,
 * which sends the jobs one after the other on one connection (gzip, POST, reading the answer) and
 * reports each through host->ack(). While the sender waits for the cluster, the worker renders the
 * next batches (up to max_in_flight). Requests stay strictly ordered: when one fails, the jobs
 * queued behind it are not sent but returned as REDO, and emit() works synchronously (returning
 * RETRY or FATAL itself, so the host backs off or pauses once) until a request succeeds again.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
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
#include "common/cfg.h"
#include "es_ecs.h"
#include "util/macro.h"

#define SECTION		  "Elasticsearch"
#define DEFAULT_INDEX	  "vigil-%Y.%m.%d"
#define DEFAULT_MAX_BULK  (5ULL << 20)
#define WARN_INTERVAL_SEC 10
#define MAX_IN_FLIGHT	  4 /* rendered batches queued for the sender, the one sent included */

static const char *const es_keys[] = {"Hosts",	      "Index",		"DataStream", "Pipeline",
				      "Username",     "PasswordFile",	"ApiKeyFile", "Format",
				      "MaxBulkBytes", "DeadLetterFile", HTTP_KEYS,    NULL};

/* One record of a job, rendered as its action + source lines in job->items. */
struct item {
	size_t off, len; /* action + source lines, both with '\n'; len 0: not sent */
	size_t src_off;	 /* offset of the source line (the document) */
	char id[33];
	char index[256];
};

/* One batch, rendered, on its way to the cluster. Owned by whoever holds it. */
struct job {
	uint64_t batch_id;
	size_t n, cap;
	uint8_t *results;  /* n: the fate of each record, reported through host->ack() */
	struct item *it;   /* n */
	struct vbuf items; /* the NDJSON */
	struct vbuf gz;	   /* items [gz_src_off, + gz_src_len) gzip'ed by emit(), when gz_src_len */
	size_t gz_src_off, gz_src_len;
	bool sync; /* emit() waits for it (after a failure) instead of returning PENDING */
	bool done; /* sync: the sender finished it; outcome says how */
	enum vigil_status outcome;
	struct job *next;
};

struct es {
	const struct vigil_host *host;
	char **hosts;	  /* base URLs without a trailing '/' */
	char **log_hosts; /* the same for logs: without user:password@ (http_url_redact()) */
	size_t n_hosts;
	atomic_size_t cur_host;
	char *index_pattern; /* Index= (strftime pattern), or NULL with DataStream= */
	char *data_stream;
	char *pipeline_query; /* "?pipeline=<escaped>" or "" */
	char *auth_header;    /* "Authorization: ..." or NULL */
	bool ecs;
	uint64_t max_bulk;
	char *dead_letter;
	int dl_fd;

	/* The sender thread's. */
	struct http_client *http;
	struct http_response resp;
	struct vbuf url;
	bool failing; /* inside a burst of request failures: logged once */

	/* The worker's: probe(), and compressing a batch while the sender waits for the cluster. */
	struct http_client *worker_http;
	struct http_response probe_resp;
	struct vbuf probe_url;

	/* Shared between the worker and the sender, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t work; /* sender: a job was queued, or stop */
	pthread_cond_t done; /* a job was finished */
	struct job *queue, **queue_tail;
	struct job *spare; /* finished jobs kept for reuse: their buffers are warm */
	unsigned n_active; /* queued or being sent */
	bool degraded;	   /* the last job met a failure: emit() waits for its job */
	bool fatal;	   /* credentials refused: emit() says FATAL until probe() succeeds */
	bool stop, thread_started;
	pthread_t thread;

	/* Rate limit of per-item warnings, under lock. */
	uint64_t warn_next_usec;
	uint64_t warn_suppressed;
};

/* What one _bulk request (a contiguous range of items) came to. */
enum range_outcome {
	RANGE_DONE,  /* per-item results written */
	RANGE_RETRY, /* nothing delivered, try the whole range later */
	RANGE_FATAL, /* credentials refused, or not Elasticsearch answering: results exact, the
		      * undelivered REDO */
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

static struct job *job_free(struct job *j)
{
	if (!j)
		return NULL;
	free(j->results);
	free(j->it);
	vbuf_done(&j->items);
	vbuf_done(&j->gz);
	free(j);
	return NULL;
}

static void job_list_free(struct job *j)
{
	while (j) {
		struct job *next = j->next;

		job_free(j);
		j = next;
	}
}

static void es_free(struct es *es)
{
	if (!es)
		return;
	if (es->thread_started) {
		pthread_mutex_lock(&es->lock);
		es->stop = true;
		pthread_cond_broadcast(&es->work);
		pthread_mutex_unlock(&es->lock);
		/* A request under way is cut short rather than waited for (TimeoutSec=). */
		http_client_abort(es->http);
		(void)pthread_join(es->thread, NULL);
	}
	/* Jobs never sent are not acknowledged: the host settles them at shutdown (spool). */
	job_list_free(es->queue);
	job_list_free(es->spare);
	http_client_free(es->http);
	http_client_free(es->worker_http);
	for (size_t i = 0; i < es->n_hosts; i++)
		free(es->hosts[i]);
	free(es->hosts);
	for (size_t i = 0; i < es->n_hosts; i++)
		free(es->log_hosts[i]);
	free(es->log_hosts);
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
	vbuf_done(&es->url);
	vbuf_done(&es->probe_url);
	http_response_done(&es->resp);
	http_response_done(&es->probe_resp);
	pthread_cond_destroy(&es->work);
	pthread_cond_destroy(&es->done);
	pthread_mutex_destroy(&es->lock);
	free(es);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct es *, es_free)

static int add_host(struct es *es, const char *s, size_t n)
{
	_cleanup_free_ char *h = NULL, *shown = NULL;
	char **a;

	while (n > 0 && s[n - 1] == '/')
		n--;
	if (!((n > 7 && strncmp(s, "http://", 7) == 0) ||
	      (n > 8 && strncmp(s, "https://", 8) == 0))) {
		_cleanup_free_ char *bad = strndup(s, n);

		shown = bad ? http_url_redact(bad) : NULL;
		return cfg_err(es, "Hosts", shown ? shown : "(this URL)",
			       "expected http:// or https:// URLs");
	}
	h = strndup(s, n);
	if (!h)
		return -ENOMEM;
	shown = http_url_redact(h);
	if (!shown)
		return -ENOMEM;
	a = realloc(es->log_hosts, (es->n_hosts + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	es->log_hosts = a;
	a = realloc(es->hosts, (es->n_hosts + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	es->hosts = a;
	es->log_hosts[es->n_hosts] = TAKE_PTR(shown);
	es->hosts[es->n_hosts++] = TAKE_PTR(h);
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
			r = add_host(es, p, n);
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

static void *es_sender(void *userdata);

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
	es->queue_tail = &es->queue;
	pthread_mutex_init(&es->lock, NULL);
	pthread_cond_init(&es->work, NULL);
	pthread_cond_init(&es->done, NULL);

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
	if (!isempty(v) && (cfg_parse_size(v, &es->max_bulk) < 0 || es->max_bulk < 1024 ||
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
	r = http_client_new(host, SECTION, &es->worker_http);
	if (r < 0)
		return r;
	r = -pthread_create(&es->thread, NULL, es_sender, es);
	if (r < 0)
		return host->log(host, LOG_ERR, r, "Cannot start the sender thread: %m");
	es->thread_started = true;

	*ret = TAKE_PTR(es);
	return 0;
}

/* A per-item warning, at most one per WARN_INTERVAL_SEC, with a count of those suppressed. */
static void item_warning(struct es *es, const struct item *it, long status, const char *type,
			 const char *reason)
{
	uint64_t now = mono_usec(), suppressed;

	pthread_mutex_lock(&es->lock);
	if (now < es->warn_next_usec) {
		es->warn_suppressed++;
		pthread_mutex_unlock(&es->lock);
		return;
	}
	suppressed = es->warn_suppressed;
	es->warn_suppressed = 0;
	es->warn_next_usec = now + WARN_INTERVAL_SEC * USEC_PER_SEC;
	pthread_mutex_unlock(&es->lock);
	es->host->log(es->host, LOG_WARNING, 0,
		      "Document %s for index '%s' dropped: HTTP %ld %s: %s%s (%" PRIu64
		      " similar messages suppressed)",
		      it->id, it->index, status, strempty(type), strempty(reason),
		      es->dead_letter ? ", written to the dead-letter file" : "", suppressed);
}

/* One JSON line for a dropped item: {"time","status","error","index","id","document"}. */
static void dead_letter(struct es *es, const struct job *j, const struct item *it, long status,
			const char *error_json, const char *error_text)
{
	struct vbuf b = {};
	struct timespec ts;
	int r;

	if (es->dl_fd < 0)
		return;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	r = vbuf_append_str(&b, "{\"time\":\"");
	if (r == 0)
		r = json_append_rfc3339(&b, ts.tv_sec, (uint32_t)ts.tv_nsec);
	if (r == 0)
		r = vbuf_printf(&b, "\",\"status\":%ld,\"error\":", status);
	if (r == 0)
		r = error_json ? vbuf_append_str(&b, error_json)
			       : json_append_string(&b, error_text, strlen(error_text));
	if (r == 0)
		r = vbuf_append_str(&b, ",\"index\":");
	if (r == 0)
		r = json_append_string(&b, it->index, strlen(it->index));
	if (r == 0)
		r = vbuf_printf(&b, ",\"id\":\"%s\",\"document\":", it->id);
	if (r == 0) {
		if (it->len > 0) /* the source line, without its '\n' */
			r = vbuf_append(&b, j->items.data + it->src_off,
					it->off + it->len - 1 - it->src_off);
		else
			r = vbuf_append_str(&b, "null");
	}
	if (r == 0)
		r = vbuf_append_str(&b, "}\n");
	/* O_APPEND and one write(): lines never interleave. */
	if (r == 0 && write(es->dl_fd, b.data, b.len) != (ssize_t)b.len)
		es->host->log(es->host, LOG_WARNING, errno,
			      "Cannot write to dead-letter file %s: %m", es->dead_letter);
	vbuf_done(&b);
}

static void drop_item(struct es *es, const struct job *j, size_t i, long status, const char *type,
		      const char *reason, const char *error_json)
{
	j->results[i] = VIGIL_DROP;
	item_warning(es, &j->it[i], status, type, reason);
	dead_letter(es, j, &j->it[i], status, error_json, reason);
}

static const char hexdigits[] = "0123456789abcdef";

/*
 * Render record @i into j->items: the action line and the document. Returns 0, -ENOMEM, or
 * -EBADMSG for a malformed record.
 */
static int render_item(struct es *es, struct job *j, const struct vigil_record *rec,
		       struct item *it)
{
	struct vbuf *b = &j->items;
	size_t start = b->len, ilen;
	XXH128_canonical_t canon;
	int64_t sec = 0;
	uint32_t nsec = 0;
	char *p;
	int r;

	it->off = start;
	it->len = 0;
	XXH128_canonicalFromHash(&canon, XXH3_128bits(rec->data, rec->size));
	for (size_t k = 0; k < sizeof(canon.digest); k++) {
		it->id[2 * k] = hexdigits[canon.digest[k] >> 4];
		it->id[2 * k + 1] = hexdigits[canon.digest[k] & 0xf];
	}
	it->id[32] = 0;

	r = rv_get_timestamp((struct mp_span){rec->data, rec->size}, "time", &sec, &nsec);
	if (es->data_stream)
		snprintf(it->index, sizeof(it->index), "%s", es->data_stream);
	else if (r < 0) {
		/* No time: the index of the hour we are in would be a guess; refuse the record. */
		snprintf(it->index, sizeof(it->index), "%s", es->index_pattern);
		return -EBADMSG;
	} else if (format_index(es, sec, it->index, sizeof(it->index)) < 0)
		return -EBADMSG;

	/* {"create":{"_index":"<index>","_id":"<id>"}}\n, without printf: this runs per record. */
	ilen = strlen(it->index);
	r = vbuf_reserve(b, ilen + 64);
	if (r < 0)
		return r;
	p = b->data + b->len;
	memcpy(p, "{\"create\":{\"_index\":\"", 21);
	p += 21;
	memcpy(p, it->index, ilen);
	p += ilen;
	memcpy(p, "\",\"_id\":\"", 9);
	p += 9;
	memcpy(p, it->id, 32);
	p += 32;
	memcpy(p, "\"}}\n", 4);
	p += 4;
	b->len = (size_t)(p - b->data);

	it->src_off = b->len;
	if (es->ecs)
		r = ecs_render(rec->data, rec->size, it->id, b);
	else {
		size_t pos;
		/*
		 * Tetragon JSON with "@timestamp" spliced in first: the rendering's opening '{'
		 * becomes the comma after it, so nothing is moved.
		 */
		r = vbuf_append(b, "{\"@timestamp\":\"", 15);
		if (r == 0)
			r = json_append_rfc3339(b, sec, nsec);
		if (r == 0)
			r = vbuf_putc(b, '"');
		pos = b->len;
		if (r == 0)
			r = json_render(rec->data, rec->size, b);
		if (r == 0) {
			if (b->len - pos < 2 || b->data[pos] != '{')
				r = -EBADMSG;
			else if (b->data[pos + 1] == '}') {
				/* an empty map */
				b->data[pos] = '}';
				b->len = pos + 1;
			} else
				b->data[pos] = ',';
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

/*
 * A cheap look at a _bulk answer, without building it in memory: the top-level "errors" flag
 * and the number of elements of "items". The scanner only tracks strings and nesting; the
 * answer is parsed for real (json-c) only when "errors" is true. Returns 0, or -EBADMSG when the
 * body is not a JSON object with both members.
 */
struct bulk_summary {
	bool errors;
	size_t items;
};

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* Past the string starting at the '"' at @p, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Past the value starting at @p (object, array, string or literal), or NULL. */
static const char *skip_value(const char *p, const char *end)
{
	unsigned depth = 0;

	if (p >= end)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && !strchr(",}] \t\r\n", *p))
			p++;
		return p;
	}
	while (p < end) {
		switch (*p) {
		case '"':
			p = skip_string(p, end);
			if (!p)
				return NULL;
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth == 0)
				return p + 1;
			break;
		}
		p++;
	}
	return NULL;
}

static int bulk_scan(const char *p, size_t len, struct bulk_summary *ret)
{
	const char *end = p + len;
	bool have_errors = false, have_items = false;

	*ret = (struct bulk_summary){};
	p = skip_ws(p, end);
	if (p >= end || *p++ != '{')
		return -EBADMSG;
	for (;;) {
		const char *key, *kend;

		p = skip_ws(p, end);
		if (p >= end || *p != '"')
			return -EBADMSG;
		key = p + 1;
		p = skip_string(p, end);
		if (!p)
			return -EBADMSG;
		kend = p - 1;
		p = skip_ws(p, end);
		if (p >= end || *p++ != ':')
			return -EBADMSG;
		p = skip_ws(p, end);
		if (kend - key == 6 && memcmp(key, "errors", 6) == 0) {
			if (end - p >= 4 && memcmp(p, "true", 4) == 0)
				ret->errors = true;
			else if (!(end - p >= 5 && memcmp(p, "false", 5) == 0))
				return -EBADMSG;
			have_errors = true;
			p = skip_value(p, end);
		} else if (kend - key == 5 && memcmp(key, "items", 5) == 0) {
			if (p >= end || *p != '[')
				return -EBADMSG;
			p = skip_ws(p + 1, end);
			if (p < end && *p == ']')
				p++;
			else
				for (;;) {
					p = skip_value(p, end);
					if (!p)
						return -EBADMSG;
					ret->items++;
					p = skip_ws(p, end);
					if (p < end && *p == ',') {
						p = skip_ws(p + 1, end);
						continue;
					}
					if (p < end && *p == ']') {
						p++;
						break;
					}
					return -EBADMSG;
				}
			have_items = true;
		} else
			p = skip_value(p, end);
		if (!p)
			return -EBADMSG;
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}')
			break;
		return -EBADMSG;
	}
	return have_errors && have_items ? 0 : -EBADMSG;
}

static bool status_retryable(long status)
{
	return status == 408 || status == 429 || status >= 500;
}

/* Apply the items of a 200 response to items [a, b) of @j. */
static enum range_outcome apply_items(struct es *es, struct job *j, size_t a, size_t b)
{
	struct json_tokener *tok;
	struct json_object *root = NULL, *items;
	struct bulk_summary sum;
	enum range_outcome out = RANGE_DONE;
	size_t n_sent = 0, k = 0;

	for (size_t i = a; i < b; i++)
		n_sent += j->it[i].len > 0;
	if (bulk_scan(es->resp.body.data, es->resp.body.len, &sum) < 0 || sum.items != n_sent)
		goto unexpected;
	if (!sum.errors)
		return RANGE_DONE; /* all delivered: results are pre-filled */

	tok = json_tokener_new();
	if (!tok)
		return RANGE_RETRY;
	root = json_tokener_parse_ex(tok, es->resp.body.data, (int)es->resp.body.len);
	json_tokener_free(tok);
	if (!root || !json_object_object_get_ex(root, "items", &items) ||
	    !json_object_is_type(items, json_type_array) ||
	    json_object_array_length(items) != n_sent) {
		json_object_put(root);
		goto unexpected;
	}

	for (size_t i = a; i < b; i++) {
		struct json_object *item, *op = NULL, *st, *err, *type, *reason;
		const char *opname = NULL;
		long status;

		if (j->it[i].len == 0)
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
			j->results[i] = VIGIL_REDO;
			continue;
		}
		status = (long)json_object_get_int64(st);
		if (status >= 200 && status < 300)
			continue;
		if (status == 409 && opname && streq(opname, "create"))
			continue; /* already there: a retry or a replay of a delivered record */
		if (status_retryable(status)) {
			j->results[i] = VIGIL_REDO;
			continue;
		}
		err = type = reason = NULL;
		if (json_object_object_get_ex(op, "error", &err)) {
			(void)json_object_object_get_ex(err, "type", &type);
			(void)json_object_object_get_ex(err, "reason", &reason);
		}
		if (status == 401 || status == 403) {
			/*
			 * security_exception: the credentials may not write this index (a new
			 * daily index the role does not cover). An operator fixes that; the
			 * records wait for it instead of going to the dead letter.
			 */
			j->results[i] = VIGIL_REDO;
			if (out != RANGE_FATAL)
				es->host->log(es->host, LOG_ERR, 0,
					      "%s: HTTP %ld for document %s of index '%s': %s: %s; "
					      "check the role's index privileges (create_doc, "
					      "auto_configure). Paused, records kept",
					      es->log_hosts[atomic_load(&es->cur_host)], status,
					      j->it[i].id, j->it[i].index,
					      type ? json_object_get_string(type) : "?",
					      reason ? json_object_get_string(reason) : "refused");
			out = RANGE_FATAL;
			continue;
		}
		drop_item(es, j, i, status, type ? json_object_get_string(type) : NULL,
			  reason ? json_object_get_string(reason) : "rejected",
			  err ? json_object_to_json_string_ext(err, JSON_C_TO_STRING_PLAIN) : NULL);
	}
	json_object_put(root);
	return out;

unexpected:
	es->host->log(es->host, LOG_WARNING, 0,
		      "Unexpected _bulk response from %s (not %zu items), will retry",
		      es->log_hosts[atomic_load(&es->cur_host)], n_sent);
	return RANGE_RETRY;
}

static int build_url(struct vbuf *url, const char *base, const char *path)
{
	url->len = 0;
	if (vbuf_append_str(url, base) < 0 || vbuf_append_str(url, path) < 0 ||
	    vbuf_putc(url, 0) < 0)
		return -ENOMEM;
	return 0;
}

static void mark_redo(const struct job *j, size_t a, size_t b)
{
	for (size_t i = a; i < b; i++)
		if (j->it[i].len > 0)
			j->results[i] = VIGIL_REDO;
}

/* Elasticsearch's error answer: {"error":{"type":…,"reason":…},"status":N} (or "error":"…"). */
static bool es_error_body(const struct http_response *resp)
{
	struct json_object *root, *err;
	bool ok;

	if (!resp->body.data || resp->body.len == 0)
		return false;
	root = json_tokener_parse(resp->body.data);
	ok = root && json_object_is_type(root, json_type_object) &&
	     json_object_object_get_ex(root, "error", &err) &&
	     (json_object_is_type(err, json_type_object) ||
	      json_object_is_type(err, json_type_string));
	json_object_put(root);
	return ok;
}

static bool whole_retryable(long status)
{
	return status == 408 || status == 429 || status >= 500;
}

/*
 * Send items [a, b) of @j as one _bulk request, failing over across Hosts= on connection errors
 * and 5xx. 413 splits the range in halves (one item that is too large is dropped). Sender thread.
 */
static enum range_outcome send_range(struct es *es, struct job *j, size_t a, size_t b)
{
	const char *hdrs[2] = {es->auth_header, NULL};
	size_t first = a, last = b, cur = atomic_load(&es->cur_host);
	struct http_request req;
	long status = 0;
	int r = 0;

	while (first < last && j->it[first].len == 0)
		first++;
	while (last > first && j->it[last - 1].len == 0)
		last--;
	if (first == last)
		return RANGE_DONE;

	req = (struct http_request){
		.method = "POST",
		.headers = es->auth_header ? hdrs : NULL,
		.body = j->items.data + j->it[first].off,
		.body_size = j->it[last - 1].off + j->it[last - 1].len - j->it[first].off,
		.content_type = "application/x-ndjson",
	};
	if (j->gz_src_len > 0 && j->gz_src_off == j->it[first].off &&
	    j->gz_src_len == req.body_size) {
		/* emit() compressed exactly this: the usual case of one request per batch. */
		req.body = j->gz.data;
		req.body_size = j->gz.len;
		req.body_gzipped = true;
	}

	for (size_t tries = 0; tries < es->n_hosts; tries++) {
		char path[32 + 2048];

		snprintf(path, sizeof(path), "/_bulk%s", es->pipeline_query);
		if (build_url(&es->url, es->hosts[cur], path) < 0)
			return RANGE_RETRY;
		req.url = es->url.data;
		r = http_perform(es->http, &req, &es->resp);
		status = r < 0 ? 0 : es->resp.status;
		if (r == -ENOMEM || r == -ECANCELED)
			return RANGE_RETRY;
		if (r < 0 || (status >= 500 && status != 501)) {
			/* This node is down or broken: try the next one. */
			if (!es->failing || es->n_hosts > 1) {
				if (r < 0)
					es->host->log(es->host, LOG_WARNING, r, "%s: %s%s",
						      es->log_hosts[cur], es->resp.error,
						      es->n_hosts > 1 ? ", trying the next host"
								      : ", will retry");
				else
					es->host->log(es->host, LOG_WARNING, 0, "%s: HTTP %ld%s",
						      es->log_hosts[cur], status,
						      es->n_hosts > 1 ? ", trying the next host"
								      : ", will retry");
			}
			es->failing = true;
			cur = (cur + 1) % es->n_hosts;
			atomic_store(&es->cur_host, cur);
			continue;
		}
		break;
	}
	if (r < 0 || (status >= 500 && status != 501))
		return RANGE_RETRY;

	if (status == 200) {
		if (es->failing)
			es->host->log(es->host, LOG_INFO, 0, "%s: delivering again",
				      es->log_hosts[cur]);
		es->failing = false;
		return apply_items(es, j, first, last);
	}
	if (status == 401 || status == 403) {
		mark_redo(j, first, last);
		es->host->log(
			es->host, LOG_ERR, 0,
			"%s: HTTP %ld: Elasticsearch refuses our credentials (%s); check "
			"Username=/PasswordFile= or ApiKeyFile= and the role's index privileges: "
			"%.200s",
			es->log_hosts[cur], status,
			es->auth_header ? "as configured" : "none configured", es->resp.body.data);
		return RANGE_FATAL;
	}
	if (whole_retryable(status)) {
		/* Once per burst, and whenever the cluster says how long to wait. */
		if (!es->failing || es->resp.retry_after_sec) {
			if (es->resp.retry_after_sec)
				es->host->log(es->host, LOG_WARNING, 0,
					      "%s: HTTP %ld, Retry-After %" PRIu64
					      " s, backing off",
					      es->log_hosts[cur], status, es->resp.retry_after_sec);
			else
				es->host->log(es->host, LOG_WARNING, 0, "%s: HTTP %ld, backing off",
					      es->log_hosts[cur], status);
		}
		es->failing = true;
		return RANGE_RETRY;
	}
	if (status == 413) {
		size_t mid;
		enum range_outcome o1, o2;

		if (last - first == 1) {
			drop_item(
				es, j, first, 413, "request_entity_too_large",
				"the document alone exceeds the cluster's http.max_content_length",
				NULL);
			return RANGE_DONE;
		}
		mid = first + (last - first) / 2;
		o1 = send_range(es, j, first, mid);
		if (o1 == RANGE_FATAL) {
			mark_redo(j, mid, last);
			return o1;
		}
		o2 = send_range(es, j, mid, last);
		if (o2 == RANGE_FATAL) {
			if (o1 == RANGE_RETRY)
				mark_redo(j, first, mid);
			return o2;
		}
		/* Half delivered, half not: report the undelivered half as REDO. */
		if (o1 == RANGE_RETRY && o2 == RANGE_RETRY)
			return RANGE_RETRY;
		if (o1 == RANGE_RETRY)
			mark_redo(j, first, mid);
		if (o2 == RANGE_RETRY)
			mark_redo(j, mid, last);
		return RANGE_DONE;
	}

	/*
	 * A redirect (http:// to https://, a login page), 404/405 (a wrong path prefix, a proxy),
	 * Elasticsearch's own 400 "no handler found for uri" (a wrong path prefix), or another
	 * status without Elasticsearch's error body: whoever answers, it is not a
	 * cluster refusing these documents. Pause and keep them; the operator fixes Hosts=.
	 */
	if (status != 400 || !es_error_body(&es->resp) ||
	    strstr(es->resp.body.data, "no handler found")) {
		char body[121];

		snprintf(body, sizeof(body), "%s", es->resp.body.data ? es->resp.body.data : "");
		body[strcspn(body, "\r\n")] = 0;
		mark_redo(j, first, last);
		es->host->log(es->host, LOG_ERR, 0,
			      "%s: [" SECTION "] Hosts=%s: HTTP %ld for %s/_bulk is not an "
			      "Elasticsearch answer%s; check the scheme, port and path prefix of "
			      "Hosts=. Paused, records kept: '%s'",
			      loc(es, "Hosts"), es->log_hosts[cur], status, es->log_hosts[cur],
			      status >= 300 && status < 400 ? " (a redirect, not followed)" : "",
			      body);
		return RANGE_FATAL;
	}

	/* 400 with Elasticsearch's error body: a malformed bulk (our bug); resending cannot help.
	 */
	es->host->log(es->host, LOG_ERR, 0,
		      "%s: HTTP %ld for a _bulk request of %zu documents, dropping them%s%s: "
		      "%.300s",
		      es->log_hosts[cur], status, last - first,
		      es->dead_letter ? " (see the dead-letter file)" : "",
		      "; this is a bug in vigil, please report it", es->resp.body.data);
	for (size_t i = first; i < last; i++)
		if (j->it[i].len > 0) {
			j->results[i] = VIGIL_DROP;
			dead_letter(es, j, &j->it[i], status, NULL, "request rejected as a whole");
		}
	return RANGE_DONE;
}

/* How a job went, as a whole. Its results[] are exact in every case. */
enum job_outcome {
	JOB_OK,	     /* every request answered (results may hold REDO and DROP items) */
	JOB_PARTIAL, /* a request failed after others went through: the rest is REDO */
	JOB_RETRY,   /* nothing went through: every sent item is REDO */
	JOB_FATAL,   /* credentials refused: what did not go through is REDO */
};

/* Send @j as requests of at most MaxBulkBytes (at least one item each), in order. */
static enum job_outcome job_send(struct es *es, struct job *j)
{
	bool any_done = false;
	size_t a = 0;

	while (a < j->n) {
		size_t b = a, bytes = 0;
		enum range_outcome o;

		while (b < j->n && (b == a || bytes + j->it[b].len <= es->max_bulk))
			bytes += j->it[b++].len;
		o = send_range(es, j, a, b);
		if (o != RANGE_DONE) {
			/*
			 * Ranges after a failed one are not tried: the cluster just refused us.
			 * RANGE_FATAL set the range's own results (some of it may be in).
			 */
			mark_redo(j, o == RANGE_FATAL ? b : a, j->n);
			if (o == RANGE_FATAL)
				return JOB_FATAL;
			return any_done ? JOB_PARTIAL : JOB_RETRY;
		}
		any_done = true;
		a = b;
	}
	return JOB_OK;
}

/* Hand a finished job back: wake its emit(), or acknowledge it. Lock held. */
static void job_finish(struct es *es, struct job *j, enum job_outcome o)
{
	es->n_active--;
	pthread_cond_broadcast(&es->done);
	if (j->sync) {
		/* emit() reports it: RETRY and FATAL keep the whole batch at the host. */
		j->outcome = o == JOB_RETRY ? VIGIL_RETRY : o == JOB_FATAL ? VIGIL_FATAL : VIGIL_OK;
		j->done = true;
		return;
	}
	if (!es->stop) {
		pthread_mutex_unlock(&es->lock);
		es->host->ack(es->host, j->batch_id, j->results);
		pthread_mutex_lock(&es->lock);
	}
	j->next = es->spare;
	es->spare = j;
}

static void *es_sender(void *userdata)
{
	struct es *es = userdata;

	pthread_mutex_lock(&es->lock);
	for (;;) {
		struct job *j;
		enum job_outcome o;

		while (!es->stop && !es->queue)
			pthread_cond_wait(&es->work, &es->lock);
		if (es->stop)
			break;
		j = es->queue;
		es->queue = j->next;
		if (!es->queue)
			es->queue_tail = &es->queue;
		j->next = NULL;
		pthread_mutex_unlock(&es->lock);

		o = job_send(es, j);

		pthread_mutex_lock(&es->lock);
		es->degraded = o != JOB_OK;
		if (o == JOB_FATAL)
			es->fatal = true;
		if (o != JOB_OK) {
			/* Keep the order: what was queued behind a failure goes back unsent. */
			while (es->queue) {
				struct job *q = es->queue;

				es->queue = q->next;
				q->next = NULL;
				mark_redo(q, 0, q->n);
				job_finish(es, q, JOB_RETRY);
			}
			es->queue_tail = &es->queue;
		}
		job_finish(es, j, o);
	}
	pthread_mutex_unlock(&es->lock);
	return NULL;
}

/* A job for @n records, from the spare list or new. */
static struct job *job_get(struct es *es, size_t n)
{
	struct job *j;

	pthread_mutex_lock(&es->lock);
	j = es->spare;
	if (j)
		es->spare = j->next;
	pthread_mutex_unlock(&es->lock);
	if (!j) {
		j = calloc(1, sizeof(*j));
		if (!j)
			return NULL;
	}
	if (n > j->cap) {
		uint8_t *r = realloc(j->results, n);
		struct item *it;

		if (r)
			j->results = r;
		it = r ? realloc(j->it, n * sizeof(*it)) : NULL;
		if (!it) {
			job_free(j);
			return NULL;
		}
		j->it = it;
		j->cap = n;
	}
	j->n = n;
	j->next = NULL;
	j->sync = j->done = false;
	j->items.len = 0;
	j->gz_src_len = 0;
	memset(j->results, VIGIL_DELIVERED, n);
	return j;
}

static void job_put(struct es *es, struct job *j)
{
	pthread_mutex_lock(&es->lock);
	j->next = es->spare;
	es->spare = j;
	pthread_mutex_unlock(&es->lock);
}

/*
 * When the whole job goes as one request (it fits MaxBulkBytes), gzip its body here, on the
 * worker thread, so that compressing the next batch overlaps with the cluster's work on this one.
 */
static void job_precompress(struct es *es, struct job *j)
{
	size_t first = 0, last = j->n, bytes = 0;

	while (first < last && j->it[first].len == 0)
		first++;
	while (last > first && j->it[last - 1].len == 0)
		last--;
	for (size_t i = first; i < last; i++)
		bytes += j->it[i].len;
	if (first == last || (bytes > es->max_bulk && last - first > 1))
		return;
	bytes = j->it[last - 1].off + j->it[last - 1].len - j->it[first].off;
	if (http_compress(es->worker_http, j->items.data + j->it[first].off, bytes, &j->gz) > 0) {
		j->gz_src_off = j->it[first].off;
		j->gz_src_len = bytes;
	}
}

static enum vigil_status es_emit(void *instance, const struct vigil_batch *batch, uint8_t *results)
{
	struct es *es = instance;
	size_t n = batch->n_records, n_sent = 0;
	enum vigil_status st;
	struct job *j;
	bool fatal;

	if (n == 0)
		return VIGIL_OK;
	pthread_mutex_lock(&es->lock);
	fatal = es->fatal;
	pthread_mutex_unlock(&es->lock);
	if (fatal)
		return VIGIL_FATAL; /* until probe() finds the credentials accepted again */

	j = job_get(es, n);
	if (!j)
		return VIGIL_RETRY;
	j->batch_id = batch->id;
	for (size_t i = 0; i < n; i++) {
		int r = render_item(es, j, &batch->records[i], &j->it[i]);

		if (r == -ENOMEM) {
			job_put(es, j);
			return VIGIL_RETRY;
		}
		if (r < 0)
			drop_item(es, j, i, 0, "malformed_record",
				  "the record could not be rendered", NULL);
		else
			n_sent++;
	}
	if (n_sent == 0) {
		memcpy(results, j->results, n);
		job_put(es, j);
		return VIGIL_OK;
	}
	job_precompress(es, j);

	pthread_mutex_lock(&es->lock);
	j->sync = es->degraded;
	*es->queue_tail = j;
	es->queue_tail = &j->next;
	es->n_active++;
	pthread_cond_signal(&es->work);
	if (!j->sync) {
		pthread_mutex_unlock(&es->lock);
		return VIGIL_PENDING;
	}
	/* After a failure: wait, so RETRY or FATAL reach the host as such. */
	while (!j->done)
		pthread_cond_wait(&es->done, &es->lock);
	st = j->outcome;
	if (st == VIGIL_OK)
		memcpy(results, j->results, n);
	j->next = es->spare;
	es->spare = j;
	pthread_mutex_unlock(&es->lock);
	return st;
}

static enum vigil_status es_flush(void *instance, uint64_t timeout_usec)
{
	struct es *es = instance;
	uint64_t deadline = mono_usec() + timeout_usec;
	bool idle;

	/* What is left is in the sender's hands: wait for it to be answered. */
	pthread_mutex_lock(&es->lock);
	while (es->n_active > 0) {
		uint64_t now = mono_usec();
		struct timespec ts;

		if (now >= deadline)
			break;
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)((deadline - now) / USEC_PER_SEC);
		ts.tv_nsec += (long)((deadline - now) % USEC_PER_SEC * NSEC_PER_USEC);
		if (ts.tv_nsec >= (long)NSEC_PER_SEC) {
			ts.tv_sec++;
			ts.tv_nsec -= (long)NSEC_PER_SEC;
		}
		(void)pthread_cond_timedwait(&es->done, &es->lock, &ts);
	}
	idle = es->n_active == 0;
	pthread_mutex_unlock(&es->lock);
	return idle ? VIGIL_OK : VIGIL_RETRY;
}

/* After FATAL: GET / with the credentials on each host; 200 means we may write again. */
static enum vigil_status es_probe(void *instance)
{
	struct es *es = instance;
	const char *hdrs[2] = {es->auth_header, NULL};
	enum vigil_status st = VIGIL_RETRY;
	size_t cur = atomic_load(&es->cur_host);

	for (size_t tries = 0; tries < es->n_hosts; tries++) {
		struct http_request req = {
			.method = "GET",
			.headers = es->auth_header ? hdrs : NULL,
		};
		int r;

		if (build_url(&es->probe_url, es->hosts[cur], "/") < 0)
			return VIGIL_RETRY;
		req.url = es->probe_url.data;
		r = http_perform(es->worker_http, &req, &es->probe_resp);
		if (r == 0 && es->probe_resp.status == 200) {
			es->host->log(es->host, LOG_INFO, 0,
				      "%s: reachable and accepting our credentials again",
				      es->log_hosts[cur]);
			atomic_store(&es->cur_host, cur);
			pthread_mutex_lock(&es->lock);
			es->fatal = false;
			pthread_mutex_unlock(&es->lock);
			return VIGIL_OK;
		}
		if (r == 0 && (es->probe_resp.status == 401 || es->probe_resp.status == 403))
			st = VIGIL_FATAL;
		cur = (cur + 1) % es->n_hosts;
	}
	return st;
}

static void es_fini(void *instance)
{
	es_free(instance);
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_OUTPUT, .name = "elasticsearch",
		    .description = "Elasticsearch _bulk API (Tetragon JSON or ECS documents)",
		    .section = SECTION, .keys = es_keys, .max_in_flight = MAX_IN_FLIGHT,
		    .init = es_init, .emit = es_emit, .flush = es_flush, .probe = es_probe,
		    .fini = es_fini, .flags = VIGIL_PLUGIN_F_SPOOL);
