/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_splunk_hec: Splunk HTTP Event Collector. Batches of concatenated event objects are POSTed
 * to {URL}/services/collector/event; each answer is judged by HEC's documented status codes. With
 * UseAck=yes, a batch stays pending until /services/collector/ack reports every ackId of it as
 * indexed; a thread of the instance polls for that. See docs/outputs-splunk-hec.md.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <vigil/plugin.h>

#include "common/http.h"
#include "common/json.h"
#include "common/record_view.h"
#include "common/cfg.h"
#include "util/macro.h"

#define SECTION			 "SplunkHEC"
#define DEFAULT_SOURCETYPE	 "vigil:event"
#define DEFAULT_SOURCE		 "vigil"
#define DEFAULT_MAX_REQUEST	 (1ULL << 20)
#define DEFAULT_ACK_POLL_USEC	 (1 * USEC_PER_SEC)
#define DEFAULT_ACK_TIMEOUT_USEC (300 * USEC_PER_SEC)
#define CHANNEL_FILE		 "splunk-hec-channel"
#define GUID_LEN		 36
#define MAX_IN_FLIGHT		 32
#define ACKS_PER_POLL		 1000 /* ids asked per /ack request */
/* Answers in a row that are not HEC's (a proxy, a login page, another service) before FATAL. */
#define NON_HEC_FATAL 3

/* results[] value of a record sent under an ackId not yet confirmed; never shown to the host. */
#define RESULT_AWAIT_ACK 0xff

/* Rate-limited per-record warnings: at most this many per window. */
#define WARN_BURST	 10
#define WARN_WINDOW_USEC (30 * USEC_PER_SEC)

/* A batch emit() returned VIGIL_PENDING for. Under hec->lock. */
struct hec_batch {
	uint64_t id;
	uint32_t n;
	uint8_t *results;
	unsigned acks_left;
	uint64_t deadline; /* CLOCK_MONOTONIC usec: REDO what is not acknowledged by then */
	struct hec_batch *next;
};

/* One ackId: the records [first, end) of @batch whose results are RESULT_AWAIT_ACK. */
struct hec_ack {
	uint64_t id;
	uint32_t first, end;
	struct hec_batch *batch;
};

struct hec {
	const struct vigil_host *host;
	struct http_client *http;     /* worker thread: emit() and probe() */
	struct http_client *ack_http; /* the ack poller thread */
	struct http_response resp;

	char *token_file;
	char *event_url, *ack_url, *health_url;
	char channel[GUID_LEN + 1];
	char *channel_header;
	char *meta; /* ,"host":…,"source":…,"sourcetype":…[,"index":…],"event": */
	char *index;
	bool use_ack;
	uint64_t ack_poll_usec, ack_timeout_usec, max_request;

	/* Rendered events of the current batch: item j is flat[off[j], off[j+1]), of record rec[j].
	 */
	struct vbuf flat;
	size_t *off;
	uint32_t *rec;
	size_t cap_items;

	/* URL= as logged: without user:password@ (http_url_redact()). */
	char *log_url;
	bool fatal_logged, warned_no_ack_id, retry_logged;
	bool acks_disabled; /* /ack answered code 14: the token has acknowledgement off */
	unsigned non_hec;   /* consecutive answers that were not HEC's */
	uint64_t warn_window, warn_count;

	/* Shared with the poller thread. */
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* poller: work or stop */
	pthread_cond_t drained; /* flush(): a batch was settled */
	char *auth_header;	/* "Authorization: Splunk <token>", replaced by probe() */
	struct hec_batch *batches;
	struct hec_ack *acks;
	size_t n_acks, cap_acks;
	bool stop, thread_started, poll_failing;
	pthread_t thread;
};

static const char *const hec_keys[] = {"URL",
				       "TokenFile",
				       "Index",
				       "Sourcetype",
				       "Source",
				       "Host",
				       "UseAck",
				       "Channel",
				       "AckPollIntervalSec",
				       "AckTimeoutSec",
				       "MaxRequestBytes",
				       HTTP_KEYS,
				       NULL};

static uint64_t mono_usec(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static const char *loc(const struct vigil_host *host, const char *key)
{
	return strempty(host->cfg_location(host, SECTION, key));
}

static bool is_guid(const char *s)
{
	if (strlen(s) != GUID_LEN)
		return false;
	for (int i = 0; i < GUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = s[i];

		if (dash ? c != '-'
			 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static char *strjoin3(const char *a, const char *b, const char *c)
{
	char *s;

	if (asprintf(&s, "%s%s%s", a, b, strempty(c)) < 0)
		return NULL;
	return s;
}

/*
 * The channel: Channel= if set, else the GUID kept in the state directory, else a new random
 * one, saved there so that a restart keeps talking on the same channel (HEC keeps per-channel
 * state, and a token allows a limited number of channels).
 */
static int hec_load_channel(struct hec *h)
{
	const struct vigil_host *host = h->host;
	_cleanup_free_ char *path = NULL, *tmp = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	uint8_t u[16];
	char line[64];
	int fd;

	if (host->state_dir) {
		path = strjoin3(host->state_dir, "/", CHANNEL_FILE);
		if (!path)
			return -ENOMEM;
		f = fopen(path, "re");
		if (f && fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\r\n")] = 0;
			if (is_guid(line)) {
				memcpy(h->channel, line, GUID_LEN + 1);
				return 0;
			}
			host->log(host, LOG_WARNING, 0,
				  "'%s' does not hold a GUID, replacing it with a new channel",
				  path);
		}
	}

	if (getrandom(u, sizeof(u), 0) != sizeof(u))
		return host->log(host, LOG_ERR, errno, "Cannot get random bytes for a channel: %m");
	u[6] = (u[6] & 0x0f) | 0x40; /* version 4 */
	u[8] = (u[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(h->channel, sizeof(h->channel),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
		 u[15]);
	if (!path) {
		host->log(host, LOG_NOTICE, 0,
			  "No state directory: channel %s will change at the next start",
			  h->channel);
		return 0;
	}

	/* Write to a temporary file and rename, so a crash never leaves half a GUID. */
	tmp = strjoin3(path, ".tmp", NULL);
	if (!tmp)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || dprintf(fd, "%s\n", h->channel) < 0 || fsync(fd) < 0 ||
	    close(TAKE_FD(fd)) < 0 || rename(tmp, path) < 0) {
		int r = -errno;

		if (fd >= 0)
			(void)close(fd); /* dprintf() or fsync() failed: fd is still open */
		(void)unlink(tmp);
		/* Not fatal: acknowledgement works within this run all the same. */
		host->log(host, LOG_WARNING, r, "Cannot save channel to '%s', ignoring: %m", path);
	}
	return 0;
}

static int hec_read_token(struct hec *h)
{
	_cleanup_free_ char *tok = NULL, *hdr = NULL;
	int r;

	r = http_read_secret(h->host, h->token_file, &tok);
	if (r < 0)
		return r;
	hdr = strjoin3("Authorization: Splunk ", tok, NULL);
	explicit_bzero(tok, strlen(tok));
	if (!hdr)
		return -ENOMEM;
	pthread_mutex_lock(&h->lock);
	if (h->auth_header) {
		explicit_bzero(h->auth_header, strlen(h->auth_header));
		free(h->auth_header);
	}
	h->auth_header = TAKE_PTR(hdr);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

/* Ask for @code and, when present, @ackId and @invalid-event-number of a HEC answer. */
struct hec_answer {
	int64_t code;	       /* -1: absent */
	int64_t ack_id;	       /* -1: absent */
	int64_t invalid_event; /* -1: absent */
	bool hec;	       /* the body is a JSON object with an integer "code": HEC's */
	char text[128];
};

static void hec_parse_answer(const struct http_response *resp, struct hec_answer *a)
{
	struct json_object *root, *v;

	*a = (struct hec_answer){.code = -1, .ack_id = -1, .invalid_event = -1};
	if (!resp->body.data || resp->body.len == 0)
		return;
	root = json_tokener_parse(resp->body.data);
	if (!root)
		return;
	if (json_object_is_type(root, json_type_object)) {
		if (json_object_object_get_ex(root, "code", &v) &&
		    json_object_is_type(v, json_type_int)) {
			a->code = json_object_get_int64(v);
			a->hec = true;
		}
		if (json_object_object_get_ex(root, "ackId", &v) &&
		    json_object_is_type(v, json_type_int))
			a->ack_id = json_object_get_int64(v);
		if (json_object_object_get_ex(root, "invalid-event-number", &v) &&
		    json_object_is_type(v, json_type_int))
			a->invalid_event = json_object_get_int64(v);
		if (json_object_object_get_ex(root, "text", &v) &&
		    json_object_is_type(v, json_type_string))
			snprintf(a->text, sizeof(a->text), "%s", json_object_get_string(v));
	}
	json_object_put(root);
}

static bool hec_warn_allowed(struct hec *h)
{
	uint64_t now = mono_usec();

	if (now - h->warn_window > WARN_WINDOW_USEC) {
		h->warn_window = now;
		h->warn_count = 0;
	}
	return h->warn_count++ < WARN_BURST;
}

static void hec_fatal(struct hec *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hec_fatal(struct hec *h, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (h->fatal_logged)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->host->log(h->host, LOG_ERR, 0, "%s", msg);
	h->fatal_logged = true;
}

/* Render record @i of @batch as item number @j: {"time":…,"host":…,…,"event":…}\n. */
static int hec_render(struct hec *h, const struct vigil_record *rec)
{
	struct mp_span map = {rec->data, rec->size};
	size_t start = h->flat.len;
	int64_t sec;
	uint32_t nsec;
	int r;

	if (rv_get_timestamp(map, "time", &sec, &nsec) < 0 || sec < 0) {
		struct timespec ts;

		/* Every canonical record has a time; a record without one is stamped now. */
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		sec = ts.tv_sec;
		nsec = (uint32_t)ts.tv_nsec;
	}
	r = vbuf_printf(&h->flat, "{\"time\":%" PRId64 ".%06u", sec, nsec / 1000);
	if (r >= 0)
		r = vbuf_append_str(&h->flat, h->meta);
	if (r >= 0)
		r = json_render(rec->data, rec->size, &h->flat);
	if (r >= 0)
		r = vbuf_append(&h->flat, "}\n", 2);
	if (r < 0)
		h->flat.len = start;
	return r;
}

static int hec_items_reserve(struct hec *h, size_t n)
{
	size_t *off;
	uint32_t *rec;

	if (n + 1 <= h->cap_items)
		return 0;
	off = realloc(h->off, (n + 1) * sizeof(*off));
	if (!off)
		return -ENOMEM;
	h->off = off;
	rec = realloc(h->rec, (n + 1) * sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	h->rec = rec;
	h->cap_items = n + 1;
	return 0;
}

/* What a request did to its items. */
struct hec_sent {
	size_t settled; /* items at the start of the range whose result is final (or awaits an ack)
			 */
	enum vigil_status status; /* VIGIL_OK: all settled; else why the rest was not */
	int64_t ack_id;		  /* -1: none */
};

/*
 * An answer that is not HEC's: a 2xx without HEC's {"text","code":0} body (a proxy or load
 * balancer answering for a dead HEC, a login page, URL= on another service's port), or a 3xx or
 * 4xx without a HEC body. Nothing is known to be indexed: RETRY, and FATAL (paused, records
 * kept) once it keeps happening, since the configuration must be wrong.
 */
static void hec_not_hec(struct hec *h, long st, struct hec_sent *ret)
{
	char body[81];

	snprintf(body, sizeof(body), "%s", h->resp.body.data ? h->resp.body.data : "");
	body[strcspn(body, "\r\n")] = 0;
	ret->status = VIGIL_RETRY;
	if (++h->non_hec >= NON_HEC_FATAL) {
		hec_fatal(h,
			  "%s: [SplunkHEC] URL=%s: HTTP %ld '%s' is not a Splunk HEC answer, "
			  "%u times in a row; check that URL= is HEC's port (8088 by default) and "
			  "that no proxy answers for it. Paused, records kept",
			  loc(h->host, "URL"), h->log_url, st, body, h->non_hec);
		ret->status = VIGIL_FATAL;
		return;
	}
	h->host->log(h->host, LOG_WARNING, 0,
		     "%s: HTTP %ld '%s' is not a Splunk HEC answer (is URL= the HEC base URL?), "
		     "nothing counts as delivered, will retry",
		     h->log_url, st, body);
}

/*
 * A 2xx with code 0 but no ackId while UseAck=yes: is acknowledgement off for the token? Asks
 * /ack, which answers 400 code 14 "ACK is disabled" then. Worker thread; uses h->resp.
 */
static bool hec_acks_are_disabled(struct hec *h)
{
	static const char body[] = "{\"acks\":[0]}";
	const char *headers[3] = {h->auth_header, h->channel_header, NULL};
	struct http_request req = {
		.method = "POST",
		.url = h->ack_url,
		.headers = headers,
		.body = body,
		.body_size = sizeof(body) - 1,
		.content_type = "application/json",
	};
	struct hec_answer ans;

	if (h->acks_disabled)
		return true;
	if (http_perform(h->http, &req, &h->resp) < 0 || h->resp.status != 400)
		return false;
	hec_parse_answer(&h->resp, &ans);
	h->acks_disabled = ans.hec && ans.code == 14;
	return h->acks_disabled;
}

/* Items [a, b) as one request. Sets results[] for the settled items. Recurses on 413. */
static void hec_send(struct hec *h, const struct vigil_batch *batch, uint8_t *results, size_t a,
		     size_t b, struct hec_sent *ret);

static void hec_settle(struct hec *h, uint8_t *results, size_t a, size_t b, uint8_t v)
{
	for (size_t j = a; j < b; j++)
		results[h->rec[j]] = v;
}

static void hec_send(struct hec *h, const struct vigil_batch *batch, uint8_t *results, size_t a,
		     size_t b, struct hec_sent *ret)
{
	const char *headers[3] = {h->auth_header, h->channel_header, NULL};
	struct http_request req = {
		.method = "POST",
		.url = h->event_url,
		.headers = headers,
		.body = h->flat.data + h->off[a],
		.body_size = h->off[b] - h->off[a],
		.content_type = "application/json",
	};
	struct hec_answer ans;
	long st;
	int r;

	*ret = (struct hec_sent){.settled = 0, .status = VIGIL_RETRY, .ack_id = -1};

	r = http_perform(h->http, &req, &h->resp);
	if (r < 0) {
		if (!h->retry_logged)
			h->host->log(h->host, LOG_WARNING, r,
				     "POST %s/services/collector/event: %s, will retry", h->log_url,
				     h->resp.error[0] ? h->resp.error : "no response");
		h->retry_logged = true;
		return;
	}
	st = h->resp.status;
	hec_parse_answer(&h->resp, &ans);

	if (st >= 200 && st < 300) {
		/* Only HEC's own success answer, {"text":"Success","code":0}, means accepted. */
		if (!ans.hec || ans.code != 0) {
			hec_not_hec(h, st, ret);
			return;
		}
		h->non_hec = 0;
		if (h->use_ack && ans.ack_id < 0) {
			/*
			 * Accepted, but nothing will ever confirm it is indexed. Only when HEC says
			 * acknowledgement is off for the token (code 14 on /ack) do records count
			 * as delivered on acceptance; else send them again.
			 */
			if (!hec_acks_are_disabled(h)) {
				if (!h->retry_logged)
					h->host->log(
						h->host, LOG_WARNING, 0,
						"UseAck=yes but HEC's answer carries no ackId "
						"while acknowledgement is not off for the token; "
						"will retry");
				h->retry_logged = true;
				return;
			}
			if (!h->warned_no_ack_id)
				h->host->log(
					h->host, LOG_WARNING, 0,
					"UseAck=yes but indexer acknowledgement is off for this "
					"token (HEC code 14 on /ack): records count as delivered "
					"when HEC accepts them");
			h->warned_no_ack_id = true;
		} else if (ans.ack_id >= 0)
			h->acks_disabled = false;
		h->fatal_logged = h->retry_logged = false;
		ret->settled = b - a;
		ret->status = VIGIL_OK;
		if (h->use_ack && ans.ack_id >= 0) {
			ret->ack_id = ans.ack_id;
			hec_settle(h, results, a, b, RESULT_AWAIT_ACK);
		} else
			hec_settle(h, results, a, b, VIGIL_DELIVERED);
		return;
	}

	if (st == 413) {
		struct hec_sent first;
		size_t mid;

		if (b - a == 1) {
			/* One event larger than HEC's max_content_length: resending cannot help. */
			results[h->rec[a]] = VIGIL_DROP;
			if (hec_warn_allowed(h))
				h->host->log(h->host, LOG_WARNING, 0,
					     "HEC refused record seq=%" PRIu64
					     " as too large (413, %zu bytes), dropping it; raise "
					     "max_content_length in Splunk's limits.conf",
					     batch->records[h->rec[a]].seq, h->off[b] - h->off[a]);
			ret->settled = 1;
			ret->status = VIGIL_OK;
			return;
		}
		if (hec_warn_allowed(h))
			h->host->log(h->host, LOG_NOTICE, 0,
				     "HEC refused a %zu-byte request as too large (413), splitting "
				     "it; consider a smaller MaxRequestBytes=",
				     h->off[b] - h->off[a]);
		mid = a + (b - a) / 2;
		hec_send(h, batch, results, a, mid, &first);
		if (first.status != VIGIL_OK || first.ack_id >= 0) {
			/*
			 * Stop at the first half: either it failed, or it waits for an ackId that
			 * covers only it (one ackId per request); the caller sends the rest.
			 */
			*ret = first;
			return;
		}
		hec_send(h, batch, results, mid, b, ret);
		ret->settled += mid - a;
		return;
	}

	if (st == 401 || st == 403) {
		hec_fatal(h,
			  "HEC refused the token (HTTP %ld, code %" PRId64
			  ": %s); check TokenFile='%s' and that the token is enabled in Splunk. "
			  "Paused; the token file is read again when HEC is probed",
			  st, ans.code, ans.text[0] ? ans.text : "?", h->token_file);
		ret->status = VIGIL_FATAL;
		return;
	}

	if (st == 400) {
		switch (ans.code) {
		case 6:	 /* Invalid data format */
		case 12: /* Event field is required */
		case 13: /* Event field cannot be blank */
		case 15: /* Error in handling indexed fields */
			if (ans.invalid_event >= 0 && (uint64_t)ans.invalid_event < b - a) {
				size_t n = (size_t)ans.invalid_event;

				/*
				 * HEC indexed the events before the bad one and none after it. With
				 * UseAck=yes nothing confirms the first ones are indexed (this
				 * answer has no ackId): they go again, after the bad one is
				 * dropped.
				 */
				hec_settle(h, results, a, a + n,
					   h->use_ack ? VIGIL_REDO : VIGIL_DELIVERED);
				h->non_hec = 0;
				results[h->rec[a + n]] = VIGIL_DROP;
				if (hec_warn_allowed(h))
					h->host->log(h->host, LOG_WARNING, 0,
						     "HEC rejected record seq=%" PRIu64
						     " (code %" PRId64 ": %s), dropping it",
						     batch->records[h->rec[a + n]].seq, ans.code,
						     ans.text);
				ret->settled = n + 1;
				ret->status = n + 1 == b - a ? VIGIL_OK : VIGIL_RETRY;
				return;
			}
			break;
		case 5: /* No data: we never send an empty body */
			h->host->log(
				h->host, LOG_ERR, 0,
				"HEC answered 'No data' to a %zu-byte request: a bug or a proxy "
				"that drops bodies; will retry",
				h->off[b] - h->off[a]);
			return;
		case 7:
			hec_fatal(
				h,
				"%s: [SplunkHEC] Index='%s' is not allowed for this token "
				"(HEC code 7, Incorrect index); fix Index= or the token's allowed "
				"indexes. Paused",
				loc(h->host, "Index"), strempty(h->index));
			ret->status = VIGIL_FATAL;
			return;
		case 10:
		case 11:
			hec_fatal(h, "HEC refused channel %s (code %" PRId64 ": %s); %s Paused",
				  h->channel, ans.code, ans.text,
				  ans.code == 10
					  ? "the request carried X-Splunk-Request-Channel, so a "
					    "proxy probably removes it."
					  : "set Channel= to a GUID.");
			ret->status = VIGIL_FATAL;
			return;
		default:
			break;
		}
	}

	if (st == 408 || st == 429 || st >= 500) {
		if (!h->retry_logged)
			h->host->log(h->host, LOG_WARNING, 0,
				     "HEC answered HTTP %ld (code %" PRId64 ": %s), will retry", st,
				     ans.code, ans.text[0] ? ans.text : "?");
		h->retry_logged = true;
		return;
	}

	if (!ans.hec) {
		hec_not_hec(h, st, ret);
		return;
	}
	h->non_hec = 0;

	if (st >= 400) {
		/* Any other refusal of the whole request by HEC: resending cannot help. */
		hec_settle(h, results, a, b, VIGIL_DROP);
		if (hec_warn_allowed(h))
			h->host->log(h->host, LOG_WARNING, 0,
				     "HEC refused a request of %zu records (HTTP %ld, code %" PRId64
				     ": %s), dropping them",
				     b - a, st, ans.code, ans.text[0] ? ans.text : "?");
		ret->settled = b - a;
		ret->status = VIGIL_OK;
		return;
	}

	/* 1xx/3xx with a HEC body: not something HEC sends. */
	hec_not_hec(h, st, ret);
}

/* Settle the records of ack @k with @v; a batch with no ack left moves to *@done. Lock held. */
static void hec_ack_resolve(struct hec *h, size_t k, uint8_t v, struct hec_batch **done)
{
	struct hec_ack *a = &h->acks[k];
	struct hec_batch *b = a->batch;

	for (uint32_t i = a->first; i < a->end; i++)
		if (b->results[i] == RESULT_AWAIT_ACK)
			b->results[i] = v;
	h->acks[k] = h->acks[--h->n_acks];
	if (--b->acks_left > 0)
		return;
	for (struct hec_batch **p = &h->batches; *p; p = &(*p)->next)
		if (*p == b) {
			*p = b->next;
			break;
		}
	b->next = *done;
	*done = b;
}

/* Hand batches settled by hec_ack_resolve() to the host. Lock not held. */
static void hec_report_done(struct hec *h, struct hec_batch *done)
{
	while (done) {
		struct hec_batch *b = done;
		unsigned redo = 0;

		done = b->next;
		for (uint32_t i = 0; i < b->n; i++)
			redo += b->results[i] == VIGIL_REDO;
		if (redo)
			h->host->log(
				h->host, LOG_WARNING, 0,
				"%u records of batch %" PRIu64
				" were not acknowledged (AckTimeoutSec= passed, or HEC restarted "
				"and reused their ackId), sending them again",
				redo, b->id);
		h->host->ack(h->host, b->id, b->results);
		free(b->results);
		free(b);
	}
}

/*
 * Wait for ackId @id on records [first, end) of @b. Lock held. HEC numbers ackIds per channel
 * from 0 again after a restart, and the channel outlives it: an id still pending from before
 * belongs to events the restart may have lost, and an answer "true" for @id now speaks of the
 * new events only. So the older one is given up (REDO, moved to *@done) first.
 */
static int hec_acks_add(struct hec *h, uint64_t id, uint32_t first, uint32_t end,
			struct hec_batch *b, struct hec_batch **done)
{
	for (size_t k = 0; k < h->n_acks; k++) {
		struct hec_ack *old = &h->acks[k];

		if (old->id != id)
			continue;
		if (old->batch != b) {
			hec_ack_resolve(h, k, VIGIL_REDO, done);
			break;
		}
		/* Of the batch being added (not yet published): settle it in place. */
		for (uint32_t i = old->first; i < old->end; i++)
			if (b->results[i] == RESULT_AWAIT_ACK)
				b->results[i] = VIGIL_REDO;
		h->acks[k] = h->acks[--h->n_acks];
		b->acks_left--;
		break;
	}
	if (h->n_acks == h->cap_acks) {
		size_t cap = h->cap_acks ? h->cap_acks * 2 : 64;
		struct hec_ack *a = realloc(h->acks, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		h->acks = a;
		h->cap_acks = cap;
	}
	h->acks[h->n_acks++] = (struct hec_ack){id, first, end, b};
	b->acks_left++;
	return 0;
}

static enum vigil_status hec_emit(void *instance, const struct vigil_batch *batch, uint8_t *results)
{
	struct hec *h = instance;
	struct {
		uint64_t id;
		uint32_t first, end;
	} *acks = NULL;
	size_t n_items = 0, n_acks = 0, a;
	struct hec_batch *done = NULL;
	bool settled_any = false;
	enum vigil_status stop = VIGIL_OK;
	_cleanup_free_ void *acks_mem = NULL;

	if (hec_items_reserve(h, batch->n_records) < 0)
		return VIGIL_RETRY;
	h->flat.len = 0;
	for (uint32_t i = 0; i < batch->n_records; i++) {
		size_t start = h->flat.len;
		int r = hec_render(h, &batch->records[i]);

		if (r == -ENOMEM)
			return VIGIL_RETRY;
		if (r < 0) {
			results[i] = VIGIL_DROP; /* malformed record; counted by the host */
			continue;
		}
		h->off[n_items] = start;
		h->rec[n_items++] = i;
	}
	h->off[n_items] = h->flat.len;
	if (n_items == 0)
		return VIGIL_OK;

	if (h->use_ack) {
		acks_mem = calloc(n_items, sizeof(*acks));
		if (!acks_mem)
			return VIGIL_RETRY;
		acks = acks_mem;
	}

	/* Requests of at most MaxRequestBytes (but at least one event), in order. */
	for (a = 0; a < n_items;) {
		struct hec_sent s;
		size_t b = a + 1;

		while (b < n_items && h->off[b + 1] - h->off[a] <= h->max_request)
			b++;
		hec_send(h, batch, results, a, b, &s);
		if (s.ack_id >= 0) {
			acks[n_acks].id = (uint64_t)s.ack_id;
			acks[n_acks].first = h->rec[a];
			acks[n_acks].end = h->rec[a + s.settled - 1] + 1;
			n_acks++;
		}
		if (s.settled > 0)
			settled_any = true;
		a += s.settled;
		if (s.status != VIGIL_OK) {
			stop = s.status;
			break;
		}
	}

	if (a < n_items) {
		if (!settled_any)
			return stop; /* nothing reached HEC: the host retries the whole batch */
		/* Keep order: what follows a failure goes again, after what HEC has. */
		hec_settle(h, results, a, n_items, VIGIL_REDO);
	}
	if (n_acks == 0)
		return VIGIL_OK;

	{
		struct hec_batch *hb = calloc(1, sizeof(*hb));
		int r = 0;

		if (hb)
			hb->results = malloc(batch->n_records);
		if (!hb || !hb->results) {
			/* Cannot wait for the acks: send again what waits for one. */
			if (hb)
				free(hb);
			for (uint32_t i = 0; i < batch->n_records; i++)
				if (results[i] == RESULT_AWAIT_ACK)
					results[i] = VIGIL_REDO;
			return VIGIL_OK;
		}
		hb->id = batch->id;
		hb->n = batch->n_records;
		memcpy(hb->results, results, batch->n_records);
		hb->deadline = mono_usec() + h->ack_timeout_usec;

		pthread_mutex_lock(&h->lock);
		for (size_t k = 0; k < n_acks && r >= 0; k++)
			r = hec_acks_add(h, acks[k].id, acks[k].first, acks[k].end, hb, &done);
		if (r < 0) {
			/* Undo: the batch is not published (its acks are the last ones added). */
			h->n_acks -= hb->acks_left;
			pthread_mutex_unlock(&h->lock);
			hec_report_done(h, done);
			free(hb->results);
			free(hb);
			for (uint32_t i = 0; i < batch->n_records; i++)
				if (results[i] == RESULT_AWAIT_ACK)
					results[i] = VIGIL_REDO;
			return VIGIL_OK;
		}
		hb->next = h->batches;
		h->batches = hb;
		pthread_cond_signal(&h->cond);
		pthread_mutex_unlock(&h->lock);
	}
	if (done) {
		hec_report_done(h, done);
		pthread_mutex_lock(&h->lock);
		pthread_cond_broadcast(&h->drained);
		pthread_mutex_unlock(&h->lock);
	}
	return VIGIL_PENDING;
}

/* Ask HEC about up to ACKS_PER_POLL ackIds; apply the answer and the timeouts. Lock held. */
static void hec_poll_once(struct hec *h, struct http_response *resp)
{
	_cleanup_free_ char *auth = NULL;
	struct vbuf body = {};
	struct hec_batch *done = NULL;
	struct json_object *root = NULL, *acks;
	uint64_t now;
	size_t n;
	int r = 0;

	n = MIN(h->n_acks, (size_t)ACKS_PER_POLL);
	r = vbuf_append_str(&body, "{\"acks\":[");
	for (size_t k = 0; k < n && r >= 0; k++)
		r = vbuf_printf(&body, "%s%" PRIu64, k ? "," : "", h->acks[k].id);
	if (r >= 0)
		r = vbuf_append(&body, "]}", 3); /* with the NUL */
	auth = h->auth_header ? strdup(h->auth_header) : NULL;

	if (r >= 0 && n > 0 && auth) {
		const char *headers[3] = {auth, h->channel_header, NULL};
		struct http_request req = {
			.method = "POST",
			.url = h->ack_url,
			.headers = headers,
			.body = body.data,
			.body_size = body.len - 1,
			.content_type = "application/json",
		};

		pthread_mutex_unlock(&h->lock);
		r = http_perform(h->ack_http, &req, resp);
		if (r >= 0 && resp->status == 200)
			root = json_tokener_parse(resp->body.data);
		if (!root || !json_object_object_get_ex(root, "acks", &acks) ||
		    !json_object_is_type(acks, json_type_object)) {
			if (!h->poll_failing && r != -ECANCELED) /* -ECANCELED: fini() */
				h->host->log(
					h->host, LOG_WARNING, r,
					"Polling %s/services/collector/ack failed (%s), will "
					"retry; records not acknowledged within AckTimeoutSec= "
					"are sent again",
					h->log_url,
					r < 0 ? resp->error
					      : (resp->body.data ? resp->body.data : "?"));
			h->poll_failing = true;
			json_object_put(root);
			root = NULL;
		} else if (h->poll_failing) {
			h->host->log(h->host, LOG_INFO, 0,
				     "Polling %s/services/collector/ack works again", h->log_url);
			h->poll_failing = false;
		}
		pthread_mutex_lock(&h->lock);
		if (root) {
			json_object_object_foreach(acks, key, val)
			{
				char *end;
				uint64_t id;

				if (!json_object_get_boolean(val))
					continue;
				errno = 0;
				id = strtoull(key, &end, 10);
				if (errno || end == key || *end)
					continue;
				for (size_t k = 0; k < h->n_acks; k++)
					if (h->acks[k].id == id) {
						hec_ack_resolve(h, k, VIGIL_DELIVERED, &done);
						break;
					}
			}
			json_object_put(root);
		}
	}
	vbuf_done(&body);
	if (auth)
		explicit_bzero(auth, strlen(auth));

	/* Not indexed in time (or HEC lost the ackId across a restart): send again. */
	now = mono_usec();
	for (size_t k = 0; k < h->n_acks;)
		if (h->acks[k].batch->deadline <= now)
			hec_ack_resolve(h, k, VIGIL_REDO, &done);
		else
			k++;

	if (!done)
		return;
	pthread_mutex_unlock(&h->lock);
	hec_report_done(h, done);
	pthread_mutex_lock(&h->lock);
	pthread_cond_broadcast(&h->drained);
}

static void *hec_poller(void *arg)
{
	struct hec *h = arg;
	struct http_response resp = {};

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		struct timespec ts;
		uint64_t wake;

		if (h->n_acks == 0) {
			pthread_cond_wait(&h->cond, &h->lock);
			continue;
		}
		wake = mono_usec() + h->ack_poll_usec;
		ts.tv_sec = (time_t)(wake / USEC_PER_SEC);
		ts.tv_nsec = (long)(wake % USEC_PER_SEC * NSEC_PER_USEC);
		while (!h->stop && mono_usec() < wake)
			if (pthread_cond_timedwait(&h->cond, &h->lock, &ts) == ETIMEDOUT)
				break;
		if (h->stop)
			break;
		hec_poll_once(h, &resp);
	}
	pthread_mutex_unlock(&h->lock);
	http_response_done(&resp);
	return NULL;
}

static enum vigil_status hec_flush(void *instance, uint64_t timeout_usec)
{
	struct hec *h = instance;
	uint64_t deadline = mono_usec() + timeout_usec;
	bool empty;

	/* Records are sent in emit(); what remains is waiting for indexer acknowledgement. */
	pthread_mutex_lock(&h->lock);
	while (h->batches && mono_usec() < deadline) {
		struct timespec ts = {.tv_sec = (time_t)(deadline / USEC_PER_SEC),
				      .tv_nsec = (long)(deadline % USEC_PER_SEC * NSEC_PER_USEC)};

		(void)pthread_cond_timedwait(&h->drained, &h->lock, &ts);
	}
	empty = !h->batches;
	pthread_mutex_unlock(&h->lock);
	return empty ? VIGIL_OK : VIGIL_RETRY;
}

static enum vigil_status hec_probe(void *instance)
{
	struct hec *h = instance;
	struct http_request req = {.method = "GET", .url = h->health_url};
	struct hec_answer ans;
	int r;

	/* The operator may have fixed the token file: take it as it is now. */
	if (hec_read_token(h) < 0)
		return VIGIL_FATAL;
	r = http_perform(h->http, &req, &h->resp);
	if (r >= 0)
		hec_parse_answer(&h->resp, &ans);
	/* HEC's own "HEC is healthy" (code 17), not a proxy's 200. */
	if (r < 0 || h->resp.status != 200 || !ans.hec) {
		h->host->log(h->host, LOG_DEBUG, r, "HEC health check %s: %s", h->log_url,
			     r < 0		     ? h->resp.error
			     : h->resp.status != 200 ? "not healthy"
						     : "not a Splunk HEC answer");
		return VIGIL_RETRY;
	}
	/* fatal_logged stays set until a request succeeds: a token still refused is not logged
	 * again at every probe. */
	return VIGIL_OK;
}

static void hec_free(struct hec *h)
{
	if (!h)
		return;
	if (h->thread_started) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
		/* A poll under way is cut short (within ~1 s) rather than waited for (TimeoutSec=).
		 */
		http_client_abort(h->ack_http);
		(void)pthread_join(h->thread, NULL);
	}
	/* Batches still waiting are not acked: the host settles them at shutdown (spool). */
	while (h->batches) {
		struct hec_batch *b = h->batches;

		h->batches = b->next;
		free(b->results);
		free(b);
	}
	free(h->acks);
	http_client_free(h->http);
	http_client_free(h->ack_http);
	http_response_done(&h->resp);
	if (h->auth_header) {
		explicit_bzero(h->auth_header, strlen(h->auth_header));
		free(h->auth_header);
	}
	free(h->token_file);
	free(h->event_url);
	free(h->log_url);
	free(h->ack_url);
	free(h->health_url);
	free(h->channel_header);
	free(h->meta);
	free(h->index);
	vbuf_done(&h->flat);
	free(h->off);
	free(h->rec);
	pthread_cond_destroy(&h->cond);
	pthread_cond_destroy(&h->drained);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct hec *, hec_free)

/* ,"host":"…","source":"…","sourcetype":"…"[,"index":"…"],"event": */
static int hec_build_meta(struct hec *h, const char *host_name, const char *source,
			  const char *sourcetype)
{
	struct vbuf m = {};
	int r;

	r = vbuf_append_str(&m, ",\"host\":");
	if (r >= 0)
		r = json_append_string(&m, host_name, strlen(host_name));
	if (r >= 0)
		r = vbuf_append_str(&m, ",\"source\":");
	if (r >= 0)
		r = json_append_string(&m, source, strlen(source));
	if (r >= 0)
		r = vbuf_append_str(&m, ",\"sourcetype\":");
	if (r >= 0)
		r = json_append_string(&m, sourcetype, strlen(sourcetype));
	if (r >= 0 && h->index) {
		r = vbuf_append_str(&m, ",\"index\":");
		if (r >= 0)
			r = json_append_string(&m, h->index, strlen(h->index));
	}
	if (r >= 0)
		r = vbuf_append(&m, ",\"event\":", 10); /* with the NUL */
	if (r < 0) {
		vbuf_done(&m);
		return r;
	}
	h->meta = m.data;
	return 0;
}

/* URL=: http(s)://host[:port][/prefix], a trailing /services/collector[/event[/1.0]] removed. */
static int hec_urls(struct hec *h, const char *url)
{
	static const char *const tails[] = {"/services/collector/event/1.0",
					    "/services/collector/event", "/services/collector/raw",
					    "/services/collector", NULL};
	_cleanup_free_ char *base = strdup(url);
	size_t n;

	if (!base)
		return -ENOMEM;
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		base[--n] = 0;
	for (const char *const *t = tails; *t; t++) {
		size_t tl = strlen(*t);

		if (n >= tl && streq(base + n - tl, *t)) {
			base[n - tl] = 0;
			break;
		}
	}
	if (asprintf(&h->event_url, "%s/services/collector/event", base) < 0)
		h->event_url = NULL;
	if (asprintf(&h->ack_url, "%s/services/collector/ack?channel=%s", base, h->channel) < 0)
		h->ack_url = NULL;
	if (asprintf(&h->health_url, "%s/services/collector/health", base) < 0)
		h->health_url = NULL;
	h->log_url = http_url_redact(base);
	if (!h->event_url || !h->ack_url || !h->health_url || !h->log_url)
		return -ENOMEM;
	return 0;
}

static int hec_get_usec(const struct vigil_host *host, const char *key, uint64_t *val)
{
	int r = host->cfg_get_usec(host, SECTION, key, val);

	if (r == -ENOENT)
		return 0;
	if (r < 0 || *val == 0)
		return host->log(
			host, LOG_ERR, EINVAL,
			"%s: [SplunkHEC] %s='%s' is invalid, expected a positive time span "
			"like 1s, 500ms or 5min",
			loc(host, key), key, strempty(host->cfg_get(host, SECTION, key)));
	return 0;
}

static int hec_init(const struct vigil_host *host, void **ret)
{
	_cleanup_(hec_freep) struct hec *h = NULL;
	pthread_condattr_t ca;
	const char *url, *v, *host_name, *source, *sourcetype;
	int r;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->host = host;
	h->max_request = DEFAULT_MAX_REQUEST;
	h->ack_poll_usec = DEFAULT_ACK_POLL_USEC;
	h->ack_timeout_usec = DEFAULT_ACK_TIMEOUT_USEC;
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	pthread_cond_init(&h->drained, &ca);
	pthread_condattr_destroy(&ca);

	url = host->cfg_get(host, SECTION, "URL");
	if (isempty(url))
		return host->log(host, LOG_ERR, EINVAL,
				 "%s: [SplunkHEC] URL= is required (e.g. https://splunk:8088)",
				 strempty(host->cfg_location(host, "Output", "Plugin")));
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		_cleanup_free_ char *shown = http_url_redact(url);

		return host->log(host, LOG_ERR, EINVAL,
				 "%s: [SplunkHEC] URL='%s' is invalid, expected http:// or "
				 "https://host:port",
				 loc(host, "URL"), strempty(shown));
	}

	v = host->cfg_get(host, SECTION, "TokenFile");
	if (isempty(v))
		return host->log(host, LOG_ERR, EINVAL,
				 "%s: [SplunkHEC] TokenFile= is required (a file holding the HEC "
				 "token)",
				 strempty(host->cfg_location(host, "Output", "Plugin")));
	if (v[0] != '/')
		return host->log(host, LOG_ERR, EINVAL,
				 "%s: [SplunkHEC] TokenFile='%s' is not absolute",
				 loc(host, "TokenFile"), v);
	h->token_file = strdup(v);
	if (!h->token_file)
		return -ENOMEM;

	v = host->cfg_get(host, SECTION, "UseAck");
	if (v) {
		r = cfg_parse_bool(v);
		if (r < 0)
			return host->log(
				host, LOG_ERR, EINVAL,
				"%s: [SplunkHEC] UseAck='%s' is invalid, expected yes or no",
				loc(host, "UseAck"), v);
		h->use_ack = r;
	}

	v = host->cfg_get(host, SECTION, "Channel");
	if (v) {
		if (!is_guid(v))
			return host->log(host, LOG_ERR, EINVAL,
					 "%s: [SplunkHEC] Channel='%s' is invalid, expected a GUID "
					 "like 0aecd5c8-5ad2-4e0c-a2c4-4c5e05e8b6b0",
					 loc(host, "Channel"), v);
		memcpy(h->channel, v, GUID_LEN + 1);
	} else {
		r = hec_load_channel(h);
		if (r < 0)
			return r;
	}

	v = host->cfg_get(host, SECTION, "MaxRequestBytes");
	if (v && (cfg_parse_size(v, &h->max_request) < 0 || h->max_request < 1024))
		return host->log(
			host, LOG_ERR, EINVAL,
			"%s: [SplunkHEC] MaxRequestBytes='%s' is invalid, expected at least "
			"1K (bytes with K, M or G)",
			loc(host, "MaxRequestBytes"), v);
	r = hec_get_usec(host, "AckPollIntervalSec", &h->ack_poll_usec);
	if (r < 0)
		return r;
	r = hec_get_usec(host, "AckTimeoutSec", &h->ack_timeout_usec);
	if (r < 0)
		return r;

	v = host->cfg_get(host, SECTION, "Index");
	if (!isempty(v)) {
		h->index = strdup(v);
		if (!h->index)
			return -ENOMEM;
	}
	host_name = host->cfg_get(host, SECTION, "Host");
	if (isempty(host_name))
		host_name = strempty(host->node_name);
	source = host->cfg_get(host, SECTION, "Source");
	if (isempty(source))
		source = DEFAULT_SOURCE;
	sourcetype = host->cfg_get(host, SECTION, "Sourcetype");
	if (isempty(sourcetype))
		sourcetype = DEFAULT_SOURCETYPE;
	r = hec_build_meta(h, host_name, source, sourcetype);
	if (r < 0)
		return r;

	r = hec_urls(h, url);
	if (r < 0)
		return r;
	h->channel_header = strjoin3("X-Splunk-Request-Channel: ", h->channel, NULL);
	if (!h->channel_header)
		return -ENOMEM;

	r = http_client_new(host, SECTION, &h->http);
	if (r < 0)
		return r;
	r = hec_read_token(h);
	if (r < 0)
		return r;

	if (h->use_ack) {
		r = http_client_new(host, SECTION, &h->ack_http);
		if (r < 0)
			return r;
		r = -pthread_create(&h->thread, NULL, hec_poller, h);
		if (r < 0)
			return host->log(host, LOG_ERR, r, "Cannot start the ack poller: %m");
		h->thread_started = true;
	}
	host->log(host, LOG_DEBUG, 0, "HEC %s, channel %s, acknowledgement %s", h->log_url,
		  h->channel, h->use_ack ? "on" : "off");

	*ret = TAKE_PTR(h);
	return 0;
}

static void hec_fini(void *instance)
{
	hec_free(instance);
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_OUTPUT, .name = "splunk_hec",
		    .description = "Splunk HTTP Event Collector, with indexer acknowledgement",
		    .section = SECTION, .keys = hec_keys, .max_in_flight = MAX_IN_FLIGHT,
		    .init = hec_init, .emit = hec_emit, .flush = hec_flush, .probe = hec_probe,
		    .fini = hec_fini, .flags = VIGIL_PLUGIN_F_SPOOL);
