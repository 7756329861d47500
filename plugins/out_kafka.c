/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_kafka: Apache Kafka producer on librdkafka. Every record becomes one message (its Tetragon
 * JSON, key exec_id by default, headers vigil-event/vigil-node/vigil-schema). emit() produces a
 * batch and returns VIGIL_PENDING; a poll thread serves librdkafka's delivery reports, which fill
 * the batch's per-record results, and the last report of a batch acknowledges it through
 * host->ack(). A record counts as delivered only when Kafka confirmed it (acks=all with the
 * idempotent producer by default). See docs/outputs-kafka.md.
 *
 * Throughput: emit() renders the whole batch into one buffer owned by the batch and produces
 * the messages without RD_KAFKA_MSG_F_COPY, pointing into it (librdkafka copies only the key);
 * the buffer lives until the batch's last delivery report and is then recycled. Delivery
 * reports settle records with an atomic counter, taking the lock once per batch.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <vigil/plugin.h>

#include "common/json.h"
#include "common/record_view.h"
#include "common/cfg.h"
#include "util/macro.h"

#define KAFKA_MAX_IN_FLIGHT	 64
#define KAFKA_QUEUE_FULL_WAIT_MS 1000 /* per emit(): then the rest of the batch is REDO */
#define KAFKA_MAX_TOPICS	 16   /* per-event topic handles kept (6 event types today) */
#define KAFKA_TOPIC_MAX		 249  /* Kafka's limit on topic names */
#define KAFKA_DEFAULT_TIMEOUT_MS 60000
#define KAFKA_FINI_FLUSH_MS	 2000
#define KAFKA_PROBE_TIMEOUT_MS	 5000
#define KAFKA_PASSWORD_MAX	 4096
#define RESULT_UNSETTLED	 0xff
#define KAFKA_BUF_POOL		 4	    /* payload buffers kept for reuse */
#define KAFKA_BUF_POOL_MAX	 (8U << 20) /* larger ones are freed */

enum key_mode {
	KEY_EXEC_ID,
	KEY_NODE_NAME,
	KEY_NONE,
};

struct kafka_out;
struct kbatch;

/* The opaque of one produced message: which batch, which record. */
struct kmsg {
	struct kbatch *b;
	uint32_t i;
};

/*
 * One batch in flight. @remaining counts records whose fate is not known yet, plus one while
 * emit() is still producing (so a fast delivery report cannot settle a half-produced batch).
 * Whoever brings it to zero settles the batch. @prev/@next under k->lock.
 */
struct kbatch {
	struct kafka_out *k;
	uint64_t id;
	uint32_t n;
	atomic_uint remaining;
	struct kbatch *prev, *next;
	struct vbuf payload; /* the JSON of every record, back to back: the message values */
	uint8_t *results;    /* points behind msgs[] */
	struct kmsg msgs[];
};

/* emit()'s notes on one record between rendering and producing. */
struct kprep {
	rd_kafka_topic_t *rkt;
	const char *event, *key;
	size_t event_len, key_len;
	size_t off, len; /* of its JSON in the batch's payload */
	uint8_t result;	 /* RESULT_UNSETTLED: to be produced */
};

struct ktopic {
	char *event; /* NULL: the one topic of a template without %{event} */
	rd_kafka_topic_t *rkt;
};

struct kafka_out {
	const struct vigil_host *host;
	rd_kafka_conf_t *conf; /* template: every producer gets a copy */
	rd_kafka_t *rk;
	char *topic_tmpl; /* Topic= with %{node} already substituted */
	bool topic_per_event;
	enum key_mode key;
	char schema[12];

	struct ktopic topics[KAFKA_MAX_TOPICS];
	unsigned n_topics;

	pthread_t poller;
	bool poller_running;
	atomic_bool stop;

	pthread_mutex_t lock;
	struct kbatch *batches; /* unsettled, under lock */

	atomic_bool fatal;	    /* emit() answers VIGIL_FATAL until probe() clears it */
	atomic_bool closing;	    /* fini(): settle nothing any more */
	atomic_bool failing;	    /* inside a burst of delivery failures: logged once */
	atomic_bool brokers_down;   /* inside an all-brokers-down period: logged once */
	atomic_uint_fast64_t drops; /* records Kafka refused for good */

	struct vbuf name;

	/* emit() only. */
	struct kprep *prep;
	size_t prep_cap;

	/* Payload buffers of settled batches, for the next ones; under lock. */
	struct vbuf pool[KAFKA_BUF_POOL];
	unsigned n_pool;
};

static const char *const kafka_keys[] = {
	"Brokers",
	"Topic",
	"Key",
	"Compression",
	"Acks",
	"Idempotence",
	"SecurityProtocol",
	"SASLMechanism",
	"SASLUsername",
	"SASLPasswordFile",
	"TLSCAFile",
	"TLSCertFile",
	"TLSKeyFile",
	"TLSVerify",
	"QueueMaxMessages",
	"QueueMaxKBytes",
	"LingerMs",
	"MessageTimeoutSec",
	"RdKafka.*",
	NULL,
};

/* Settings that hold secrets: refused as RdKafka.<property>= (secrets never sit in the config). */
static const char *const secret_properties[] = {
	"sasl.password",
	"ssl.key.password",
	"ssl.keystore.password",
	"sasl.oauthbearer.client.secret",
	"ssl.key.pem",
	"sasl.oauthbearer.config",
	NULL,
};

/* --- batches ------------------------------------------------------------------------------- */

static struct kbatch *kbatch_new(struct kafka_out *k, const struct vigil_batch *batch)
{
	size_t n = batch->n_records;
	struct kbatch *b = malloc(sizeof(*b) + n * sizeof(struct kmsg) + n);

	if (!b)
		return NULL;
	b->k = k;
	b->id = batch->id;
	b->n = (uint32_t)n;
	atomic_init(&b->remaining, (uint32_t)n + 1);
	b->results = (uint8_t *)&b->msgs[n];
	memset(b->results, RESULT_UNSETTLED, n);
	for (uint32_t i = 0; i < n; i++)
		b->msgs[i] = (struct kmsg){b, i};
	pthread_mutex_lock(&k->lock);
	b->payload = k->n_pool > 0 ? k->pool[--k->n_pool] : (struct vbuf){};
	b->payload.len = 0;
	b->prev = NULL;
	b->next = k->batches;
	if (k->batches)
		k->batches->prev = b;
	k->batches = b;
	pthread_mutex_unlock(&k->lock);
	return b;
}

static void kbatch_unlink_locked(struct kafka_out *k, struct kbatch *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		k->batches = b->next;
	if (b->next)
		b->next->prev = b->prev;
}

/* Account @settled records (their results written already); true if the batch is now complete
 * and unlinked: the caller then owns it (and frees it with kbatch_free()). */
static bool kbatch_settle(struct kafka_out *k, struct kbatch *b, uint32_t settled)
{
	if (atomic_fetch_sub_explicit(&b->remaining, settled, memory_order_acq_rel) != settled)
		return false;
	pthread_mutex_lock(&k->lock);
	kbatch_unlink_locked(k, b);
	pthread_mutex_unlock(&k->lock);
	return true;
}

/* Free a settled batch; librdkafka no longer points into its payload. */
static void kbatch_free(struct kafka_out *k, struct kbatch *b)
{
	if (!b)
		return;
	if (b->payload.cap > 0 && b->payload.cap <= KAFKA_BUF_POOL_MAX) {
		pthread_mutex_lock(&k->lock);
		if (k->n_pool < KAFKA_BUF_POOL) {
			k->pool[k->n_pool++] = b->payload;
			b->payload = (struct vbuf){};
		}
		pthread_mutex_unlock(&k->lock);
	}
	vbuf_done(&b->payload);
	free(b);
}

/* --- librdkafka callbacks (poll thread, or whoever calls rd_kafka_poll/flush) --------------- */

static bool is_auth_error(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR__FATAL:
		return true;
	default:
		return false;
	}
}

/* Errors about the message itself: sending it again cannot help. */
static bool is_permanent_error(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
		return true;
	default:
		return false;
	}
}

static void set_fatal(struct kafka_out *k, const char *what, const char *reason)
{
	if (!atomic_exchange(&k->fatal, true))
		k->host->log(k->host, LOG_ERR, 0,
			     "%s: %s; pausing this output until the cluster accepts us again", what,
			     reason);
}

static uint8_t classify(struct kafka_out *k, rd_kafka_resp_err_t err)
{
	if (!err) {
		/* Loads first: no locked bus cycle per delivered message in the common case. */
		if (atomic_load_explicit(&k->failing, memory_order_relaxed) &&
		    atomic_exchange(&k->failing, false))
			k->host->log(k->host, LOG_INFO, 0, "Delivery to Kafka works again");
		if (atomic_load_explicit(&k->brokers_down, memory_order_relaxed))
			atomic_store(&k->brokers_down, false);
		return VIGIL_DELIVERED;
	}
	if (err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		return VIGIL_REDO; /* our own purge (probe/fini): nothing went wrong with it */
	if (is_auth_error(err)) {
		set_fatal(k, "Kafka refuses the producer", rd_kafka_err2str(err));
		return VIGIL_REDO;
	}
	if (is_permanent_error(err)) {
		atomic_fetch_add(&k->drops, 1);
		k->host->log(k->host, LOG_DEBUG, 0, "Kafka rejected a record for good: %s",
			     rd_kafka_err2str(err));
		return VIGIL_DROP;
	}
	if (!atomic_exchange(&k->failing, true))
		k->host->log(k->host, LOG_WARNING, 0,
			     "Delivery to Kafka failed (%s), records go back to the host for "
			     "retry",
			     rd_kafka_err2str(err));
	return VIGIL_REDO;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_out *k = opaque;
	struct kmsg *km = m->_private;
	struct kbatch *b;

	(void)rk;
	if (!km)
		return;
	b = km->b;
	b->results[km->i] = classify(k, m->err);
	if (!kbatch_settle(k, b, 1))
		return;
	if (!atomic_load(&k->closing))
		k->host->ack(k->host, b->id, b->results);
	kbatch_free(k, b);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_out *k = opaque;
	char buf[512];

	switch (err) {
	case RD_KAFKA_RESP_ERR__FATAL:
		(void)rd_kafka_fatal_error(rk, buf, sizeof(buf));
		set_fatal(k, "Fatal Kafka producer error", buf);
		break;
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
		set_fatal(k, "Kafka authentication or authorization failed", reason);
		break;
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR__RESOLVE:
		if (!atomic_exchange(&k->brokers_down, true))
			k->host->log(k->host, LOG_WARNING, 0,
				     "Kafka brokers unreachable (%s), records wait in librdkafka "
				     "up to MessageTimeoutSec=, then go back to the host",
				     reason);
		break;
	default:
		k->host->log(k->host, LOG_DEBUG, 0, "librdkafka: %s: %s",
			     rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
	}
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct kafka_out *k = rd_kafka_opaque(rk);

	/* Failures that matter reach on_error()/on_delivery(); librdkafka's own lines are
	 * context, never above warning (a reconnect loop must not flood the log with errors). */
	if (k)
		k->host->log(k->host, level < LOG_WARNING ? LOG_WARNING : level, 0,
			     "librdkafka %s: %s", fac, buf);
}

static void *poll_thread(void *arg)
{
	struct kafka_out *k = arg;

	while (!atomic_load(&k->stop))
		(void)rd_kafka_poll(k->rk, 100);
	return NULL;
}

/* --- producer life cycle ------------------------------------------------------------------- */

static int producer_start(struct kafka_out *k)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_dup(k->conf);
	sigset_t all, old;
	char err[512];
	int r;

	if (!conf)
		return -ENOMEM;
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!k->rk) {
		rd_kafka_conf_destroy(conf);
		return k->host->log(k->host, LOG_ERR, EINVAL, "Cannot create Kafka producer: %s",
				    err);
	}
	atomic_store(&k->stop, false);
	/* The poll thread takes no signals: they belong to the daemon's main loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&k->poller, NULL, poll_thread, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		rd_kafka_destroy(k->rk);
		k->rk = NULL;
		return k->host->log(k->host, LOG_ERR, r, "Cannot start Kafka poll thread: %m");
	}
	k->poller_running = true;
	return 0;
}

/*
 * Settle every batch still in flight: records without a delivery report become REDO (the host
 * sends them again), unless @ack is false (fini: the host counts what it never heard of).
 */
static void settle_all(struct kafka_out *k, bool ack)
{
	for (;;) {
		struct kbatch *b;

		pthread_mutex_lock(&k->lock);
		b = k->batches;
		if (b)
			kbatch_unlink_locked(k, b);
		pthread_mutex_unlock(&k->lock);
		if (!b)
			return;
		for (uint32_t i = 0; i < b->n; i++)
			if (b->results[i] == RESULT_UNSETTLED)
				b->results[i] = VIGIL_REDO;
		if (ack)
			k->host->ack(k->host, b->id, b->results);
		kbatch_free(k, b);
	}
}

/* Stop polling and destroy the producer. Messages still queued are purged; their batches are
 * settled as REDO when @ack (probe after a fatal error), else left unacknowledged (fini). */
static void producer_stop(struct kafka_out *k, bool ack)
{
	if (k->poller_running) {
		atomic_store(&k->stop, true);
		pthread_join(k->poller, NULL);
		k->poller_running = false;
	}
	for (unsigned i = 0; i < k->n_topics; i++) {
		rd_kafka_topic_destroy(k->topics[i].rkt);
		free(k->topics[i].event);
	}
	k->n_topics = 0;
	if (k->rk) {
		(void)rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		(void)rd_kafka_poll(k->rk, 0); /* serves the purge reports: REDO */
		rd_kafka_destroy(k->rk);
		k->rk = NULL;
	}
	settle_all(k, ack);
}

/* --- topics -------------------------------------------------------------------------------- */

static bool topic_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static bool topic_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > KAFKA_TOPIC_MAX || (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!topic_char_ok(s[i]))
			return false;
	return true;
}

/* Expand the template for @event into k->name (NUL-terminated). 0, -EINVAL, -ENOMEM. */
static int topic_expand(struct kafka_out *k, const char *event, size_t event_len)
{
	const char *p = k->topic_tmpl;
	int r;

	k->name.len = 0;
	while (*p) {
		const char *m = strstr(p, "%{event}");
		size_t n = m ? (size_t)(m - p) : strlen(p);

		r = vbuf_append(&k->name, p, n);
		if (r < 0)
			return r;
		if (!m)
			break;
		r = vbuf_append(&k->name, event, event_len);
		if (r < 0)
			return r;
		p = m + strlen("%{event}");
	}
	if (!topic_name_ok(k->name.data, k->name.len))
		return -EINVAL;
	return vbuf_putc(&k->name, 0);
}

/* The topic handle for records of @event. NULL with *ret_error: -EINVAL (that event makes no
 * valid topic name) or -ENOMEM. */
static rd_kafka_topic_t *topic_get(struct kafka_out *k, const char *event, size_t event_len,
				   int *ret_error)
{
	rd_kafka_topic_t *rkt;
	int r;

	for (unsigned i = 0; i < k->n_topics; i++) {
		const char *e = k->topics[i].event;

		if (!k->topic_per_event || (strlen(e) == event_len && !memcmp(e, event, event_len)))
			return k->topics[i].rkt;
	}
	if (k->n_topics == KAFKA_MAX_TOPICS) {
		*ret_error = -ENOMEM;
		return NULL;
	}
	r = topic_expand(k, event, event_len);
	if (r < 0) {
		*ret_error = r;
		return NULL;
	}
	rkt = rd_kafka_topic_new(k->rk, k->name.data, NULL);
	if (!rkt) {
		*ret_error = -ENOMEM;
		return NULL;
	}
	k->topics[k->n_topics].event = k->topic_per_event ? strndup(event, event_len) : NULL;
	if (k->topic_per_event && !k->topics[k->n_topics].event) {
		rd_kafka_topic_destroy(rkt);
		*ret_error = -ENOMEM;
		return NULL;
	}
	k->topics[k->n_topics++].rkt = rkt;
	return rkt;
}

/* --- emit ---------------------------------------------------------------------------------- */

/* Map a synchronous produce error to a record result. */
static uint8_t produce_error_result(struct kafka_out *k, rd_kafka_resp_err_t err)
{
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[512];

		(void)rd_kafka_fatal_error(k->rk, buf, sizeof(buf));
		set_fatal(k, "Fatal Kafka producer error", buf);
		return VIGIL_REDO;
	}
	return classify(k, err);
}

/*
 * Read one map key at @c (which must be inside a map): 0 with @ret, -EBADMSG. A container used
 * as a key (never in our records) is skipped whole and reported as a MP_MAP key, matching nothing.
 */
static int mp_key(struct mp_cursor *c, struct mp_obj *ret)
{
	struct mp_cursor save = *c;
	int r = mp_read(c, ret);

	if (r < 0 || (ret->type != MP_ARRAY && ret->type != MP_MAP))
		return r;
	*c = save;
	ret->type = MP_MAP;
	return mp_skip(c);
}

/*
 * With @c before a map, move it to the value of @key in that map: 1, 0 when the value there is
 * not a map or has no such key, -EBADMSG when malformed. Skips only the values before @key.
 */
static int mp_enter(struct mp_cursor *c, const char *key)
{
	struct mp_obj o, k;
	int r = mp_read(c, &o);

	if (r < 0)
		return r;
	if (o.type != MP_MAP)
		return 0;
	for (uint32_t i = 0; i < o.len; i++) {
		r = mp_key(c, &k);
		if (r < 0)
			return r;
		if (mp_str_eq(&k, key))
			return 1;
		r = mp_skip(c);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The event key of a record (its first top-level key other than node_name and time, as
 * rv_event() finds it) and, with @want_exec_id, the string <event>.process.exec_id (NULL when
 * absent). Walks only as far as it must: rv_event() + rv_find() measured the whole event body
 * (profiled: ~5 % of the CPU of this output), while the process object comes first in it.
 * 0, -ENOENT (no event key), -EBADMSG.
 */
static int record_keys(const struct vigil_record *rec, bool want_exec_id, const char **ret_event,
		       size_t *ret_event_len, const char **ret_exec_id, size_t *ret_exec_id_len)
{
	struct mp_cursor c = mp_cursor_make(rec->data, rec->size);
	struct mp_obj o, k;
	int r;

	*ret_exec_id = NULL;
	*ret_exec_id_len = 0;
	r = mp_read(&c, &o);
	if (r < 0)
		return r;
	if (o.type != MP_MAP)
		return -EBADMSG;
	for (uint32_t i = 0; i < o.len; i++) {
		r = mp_key(&c, &k);
		if (r < 0)
			return r;
		if (k.type == MP_STR && !mp_str_eq(&k, "node_name") && !mp_str_eq(&k, "time")) {
			*ret_event = (const char *)k.ptr;
			*ret_event_len = k.len;
			if (!want_exec_id)
				return 0;
			r = mp_enter(&c, "process");
			if (r <= 0)
				return r;
			r = mp_enter(&c, "exec_id");
			if (r <= 0)
				return r;
			r = mp_read(&c, &o);
			if (r < 0)
				return r;
			if (o.type == MP_STR) {
				*ret_exec_id = (const char *)o.ptr;
				*ret_exec_id_len = o.len;
			}
			return 0;
		}
		r = mp_skip(&c);
		if (r < 0)
			return r;
	}
	return -ENOENT;
}

/* Render @rec into @b's payload and note in @p what producing it needs (or its result). */
static void prepare_one(struct kafka_out *k, struct kbatch *b, const struct vigil_record *rec,
			struct kprep *p)
{
	int r;

	*p = (struct kprep){.result = RESULT_UNSETTLED};
	if (record_keys(rec, k->key == KEY_EXEC_ID, &p->event, &p->event_len, &p->key,
			&p->key_len) < 0) {
		p->result = VIGIL_DROP; /* malformed: counted by the host */
		return;
	}
	p->rkt = topic_get(k, p->event, p->event_len, &r);
	if (!p->rkt) {
		if (r == -EINVAL)
			k->host->log(k->host, LOG_DEBUG, 0,
				     "Record type '%.*s' gives no valid topic name, dropping",
				     (int)p->event_len, p->event);
		p->result = r == -EINVAL ? VIGIL_DROP : VIGIL_REDO;
		return;
	}

	p->off = b->payload.len;
	r = json_render(rec->data, rec->size, &b->payload);
	if (r < 0) {
		b->payload.len = p->off;
		p->result = r == -EBADMSG ? VIGIL_DROP : VIGIL_REDO;
		return;
	}
	p->len = b->payload.len - p->off;

	switch (k->key) {
	case KEY_EXEC_ID:
		/* Found by record_keys(); records without a process (vigil_loss) have no key:
		 * any partition. */
		break;
	case KEY_NODE_NAME:
		p->key = strempty(k->host->node_name);
		p->key_len = strlen(p->key);
		break;
	case KEY_NONE:
		break;
	}
}

/*
 * Produce record @i of batch @b, rendered by prepare_one() into @p. The value points into the
 * batch's payload (no copy: it outlives the message). Returns RESULT_UNSETTLED when librdkafka
 * took it (its delivery report will settle it), else the result to record now. *@queue_full is
 * set when the producer queue stayed full: the caller then gives the rest of the batch back.
 */
static uint8_t produce_one(struct kafka_out *k, struct kbatch *b, uint32_t i, const struct kprep *p,
			   unsigned *waited_ms, bool *queue_full)
{
	const char *node = strempty(k->host->node_name);
	size_t node_len = strlen(node), schema_len = strlen(k->schema);
	rd_kafka_resp_err_t err;

	for (;;) {
		err = rd_kafka_producev(
			k->rk, RD_KAFKA_V_RKT(p->rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
			RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_VALUE(b->payload.data + p->off, p->len),
			RD_KAFKA_V_KEY(p->key, p->key_len),
			RD_KAFKA_V_HEADER("vigil-event", p->event, (ssize_t)p->event_len),
			RD_KAFKA_V_HEADER("vigil-node", node, (ssize_t)node_len),
			RD_KAFKA_V_HEADER("vigil-schema", k->schema, (ssize_t)schema_len),
			RD_KAFKA_V_OPAQUE(&b->msgs[i]), RD_KAFKA_V_END);
		if (!err)
			return RESULT_UNSETTLED;
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return produce_error_result(k, err);
		/* Full: let delivery reports drain it a little (QueueMaxMessages=, -KBytes=). */
		if (*waited_ms >= KAFKA_QUEUE_FULL_WAIT_MS) {
			*queue_full = true;
			return VIGIL_REDO;
		}
		(void)rd_kafka_poll(k->rk, 50);
		*waited_ms += 50;
	}
}

static enum vigil_status kafka_emit(void *instance, const struct vigil_batch *batch,
				    uint8_t *results)
{
	struct kafka_out *k = instance;
	uint32_t n = batch->n_records, settled = 0, produced = 0;
	unsigned waited_ms = 0;
	bool queue_full = false;
	struct kbatch *b;

	if (atomic_load(&k->fatal) || !k->rk)
		return VIGIL_FATAL;
	if (n == 0)
		return VIGIL_OK;
	if (n > k->prep_cap) {
		struct kprep *p = reallocarray(k->prep, n, sizeof(*p));

		if (!p)
			return VIGIL_RETRY;
		k->prep = p;
		k->prep_cap = n;
	}
	snprintf(k->schema, sizeof(k->schema), "%" PRIu32, batch->schema_major);
	b = kbatch_new(k, batch);
	if (!b)
		return VIGIL_RETRY;

	/* Render everything first: the payload buffer may move while it grows. */
	for (uint32_t i = 0; i < n; i++)
		prepare_one(k, b, &batch->records[i], &k->prep[i]);

	for (uint32_t i = 0; i < n; i++) {
		uint8_t res = k->prep[i].result;

		if (res == RESULT_UNSETTLED)
			res = queue_full
				      ? VIGIL_REDO
				      : produce_one(k, b, i, &k->prep[i], &waited_ms, &queue_full);
		if (res == RESULT_UNSETTLED) {
			produced++;
			continue;
		}
		b->results[i] = res;
		settled++;
	}
	if (queue_full)
		k->host->log(k->host, LOG_DEBUG, 0,
			     "Producer queue full for %u ms, %u of %u records go back to the host",
			     waited_ms, settled, n);

	/* Drop emit()'s own hold: if every report is in already, answer right here. */
	if (!kbatch_settle(k, b, settled + 1))
		return VIGIL_PENDING;
	if (produced == 0 && queue_full) {
		kbatch_free(k, b);
		return VIGIL_RETRY; /* nothing left us: back off, keep order */
	}
	memcpy(results, b->results, b->n);
	kbatch_free(k, b);
	return VIGIL_OK;
}

static enum vigil_status kafka_flush(void *instance, uint64_t timeout_usec)
{
	struct kafka_out *k = instance;
	uint64_t ms = timeout_usec / USEC_PER_MSEC;

	if (!k->rk)
		return VIGIL_OK;
	return rd_kafka_flush(k->rk, (int)MIN(ms, (uint64_t)INT32_MAX)) ? VIGIL_RETRY : VIGIL_OK;
}

/*
 * Paused after VIGIL_FATAL (or repeated failures): a producer in librdkafka's fatal state is
 * unusable, so it is replaced (its queued records are given back as REDO); then a metadata
 * request proves the brokers answer and, with a fixed topic, that the topic is usable.
 */
static enum vigil_status kafka_probe(void *instance)
{
	struct kafka_out *k = instance;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = NULL;
	rd_kafka_resp_err_t err;
	int r;

	if (!k->rk || rd_kafka_fatal_error(k->rk, NULL, 0)) {
		producer_stop(k, /* ack= */ true);
		r = producer_start(k);
		if (r < 0)
			return VIGIL_FATAL;
		k->host->log(k->host, LOG_NOTICE, 0, "Kafka producer recreated");
	}
	if (!k->topic_per_event) {
		r = 0;
		rkt = topic_get(k, "", 0, &r);
	}
	err = rd_kafka_metadata(k->rk, 0, rkt, &md, KAFKA_PROBE_TIMEOUT_MS);
	if (err) {
		k->host->log(k->host, LOG_DEBUG, 0, "Kafka probe: metadata request failed: %s",
			     rd_kafka_err2str(err));
		return VIGIL_RETRY;
	}
	if (rkt && md->topic_cnt == 1 && is_auth_error(md->topics[0].err)) {
		k->host->log(k->host, LOG_DEBUG, 0, "Kafka probe: topic '%s': %s",
			     md->topics[0].topic, rd_kafka_err2str(md->topics[0].err));
		rd_kafka_metadata_destroy(md);
		return VIGIL_RETRY;
	}
	rd_kafka_metadata_destroy(md);
	if (atomic_exchange(&k->fatal, false))
		k->host->log(k->host, LOG_NOTICE, 0, "Kafka cluster answers again, resuming");
	return VIGIL_OK;
}

/* --- config -------------------------------------------------------------------------------- */

static const char *where(struct kafka_out *k, const char *key)
{
	const char *loc = k->host->cfg_location(k->host, "Kafka", key);

	if (!loc)
		loc = k->host->cfg_location(k->host, "Output", "Plugin");
	return loc ?: k->host->instance;
}

/* librdkafka's messages may end in a newline. */
static void strip_trailing_space(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '.'))
		s[--n] = 0;
}

static int set_prop(struct kafka_out *k, const char *key, const char *value, const char *prop,
		    const char *prop_value)
{
	char err[512];

	if (rd_kafka_conf_set(k->conf, prop, prop_value, err, sizeof(err)) == RD_KAFKA_CONF_OK)
		return 0;
	strip_trailing_space(err);
	return k->host->log(k->host, LOG_ERR, EINVAL, "%s: %s=%s: %s", where(k, key), key, value,
			    err);
}

/* One of @choices (case-insensitive), its index; else an error naming file:line. */
static int parse_choice(struct kafka_out *k, const char *key, const char *const *choices,
			const char *expected, int def)
{
	const char *v = k->host->cfg_get(k->host, "Kafka", key);

	if (!v)
		return def;
	for (int i = 0; choices[i]; i++)
		if (!strcasecmp(v, choices[i]))
			return i;
	return k->host->log(k->host, LOG_ERR, EINVAL, "%s: %s=%s: expected %s", where(k, key), key,
			    v, expected);
}

/* A key whose value is handed to one librdkafka property as it is (librdkafka checks it). */
static int pass_prop(struct kafka_out *k, const char *key, const char *prop)
{
	const char *v = k->host->cfg_get(k->host, "Kafka", key);

	return v ? set_prop(k, key, v, prop, v) : 0;
}

static int parse_brokers(struct kafka_out *k)
{
	const char *const *l = k->host->cfg_get_list(k->host, "Kafka", "Brokers");
	struct vbuf out = {};
	int r = 0;

	for (; l && *l; l++) {
		const char *p = *l;

		/* Each assignment may hold several, separated by commas and/or spaces. */
		while (*p) {
			size_t n;

			p += strspn(p, ", \t");
			n = strcspn(p, ", \t");
			if (n == 0)
				break;
			if ((out.len > 0 && (r = vbuf_putc(&out, ',')) < 0) ||
			    (r = vbuf_append(&out, p, n)) < 0)
				goto done;
			p += n;
		}
	}
	if (out.len == 0) {
		r = k->host->log(k->host, LOG_ERR, EINVAL,
				 "%s: [Kafka] Brokers= is required (host:port, comma-separated "
				 "or repeated)",
				 where(k, "Brokers"));
		goto done;
	}
	if ((r = vbuf_putc(&out, 0)) < 0)
		goto done;
	r = set_prop(k, "Brokers", out.data, "bootstrap.servers", out.data);
done:
	vbuf_done(&out);
	return r;
}

static int parse_topic(struct kafka_out *k)
{
	const char *v = k->host->cfg_get(k->host, "Kafka", "Topic") ?: "vigil";
	const char *node = strempty(k->host->node_name);
	struct vbuf t = {};
	const char *p;
	int r = 0;

	/* %{node} is fixed for the run: substitute it now; keep %{event} for emit(). */
	for (p = v; *p;) {
		if (p[0] == '%' && p[1] == '{') {
			if (!strncmp(p, "%{node}", 7)) {
				r = vbuf_append_str(&t, node);
				p += 7;
			} else if (!strncmp(p, "%{event}", 8)) {
				r = vbuf_append_str(&t, "%{event}");
				p += 8;
				k->topic_per_event = true;
			} else {
				r = k->host->log(k->host, LOG_ERR, EINVAL,
						 "%s: Topic=%s: unknown placeholder at '%.16s', "
						 "expected %%{event} or %%{node}",
						 where(k, "Topic"), v, p);
				goto done;
			}
		} else if (topic_char_ok(*p))
			r = vbuf_putc(&t, *p++);
		else {
			r = k->host->log(k->host, LOG_ERR, EINVAL,
					 "%s: Topic=%s: '%c' is not allowed in Kafka topic names "
					 "(letters, digits, '.', '_', '-')",
					 where(k, "Topic"), v, *p);
			goto done;
		}
		if (r < 0)
			goto done;
	}
	if ((r = vbuf_putc(&t, 0)) < 0)
		goto done;
	k->topic_tmpl = strdup(t.data);
	if (!k->topic_tmpl) {
		r = -ENOMEM;
		goto done;
	}
	/* Check with the longest event name there is. */
	if (topic_expand(k, "process_tracepoint", strlen("process_tracepoint")) < 0) {
		r = k->host->log(k->host, LOG_ERR, EINVAL,
				 "%s: Topic=%s: gives no valid Kafka topic name for node '%s' "
				 "(letters, digits, '.', '_', '-'; at most %d characters)",
				 where(k, "Topic"), v, node, KAFKA_TOPIC_MAX);
		goto done;
	}
	r = 0;
done:
	vbuf_done(&t);
	return r;
}

static int read_secret(struct kafka_out *k, const char *key, const char *path, char **ret)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	char *s;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0)
		return k->host->log(k->host, LOG_ERR, errno, "%s: %s=%s: %m", where(k, key), key,
				    path);
	if (!S_ISREG(st.st_mode))
		return k->host->log(k->host, LOG_ERR, EINVAL, "%s: %s=%s: not a regular file",
				    where(k, key), key, path);
	if (st.st_mode & 0077)
		k->host->log(k->host, LOG_WARNING, 0,
			     "%s: %s=%s is accessible by group or others (mode %04o); it should "
			     "be 0600",
			     where(k, key), key, path, (unsigned)(st.st_mode & 07777));
	s = calloc(1, KAFKA_PASSWORD_MAX + 1);
	if (!s)
		return -ENOMEM;
	n = read(fd, s, KAFKA_PASSWORD_MAX + 1);
	if (n < 0 || n > KAFKA_PASSWORD_MAX) {
		int r = k->host->log(k->host, LOG_ERR, n < 0 ? errno : EFBIG, "%s: %s=%s: %s",
				     where(k, key), key, path,
				     n < 0 ? strerror(errno) : "larger than 4 KiB");
		free(s);
		return r;
	}
	s[n] = 0;
	/* One trailing newline is the file's, not the secret's. */
	if (n > 0 && s[n - 1] == '\n')
		s[--n] = 0;
	if (n > 0 && s[n - 1] == '\r')
		s[--n] = 0;
	if (n == 0) {
		free(s);
		return k->host->log(k->host, LOG_ERR, EINVAL, "%s: %s=%s: the file is empty",
				    where(k, key), key, path);
	}
	*ret = s;
	return 0;
}

static int rdkafka_prop(const char *key, const char *value, const char *location, void *userdata)
{
	struct kafka_out *k = userdata;
	const char *prop = key + strlen("RdKafka.");
	char err[512];

	for (size_t i = 0; secret_properties[i]; i++)
		if (!strcmp(prop, secret_properties[i]))
			return k->host->log(k->host, LOG_ERR, EINVAL,
					    "%s: %s=: secrets are not accepted in the "
					    "configuration; use SASLPasswordFile= (or a "
					    "credential file)",
					    location, key);
	if (rd_kafka_conf_set(k->conf, prop, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		strip_trailing_space(err);
		/* Never the value: an RdKafka.* property may hold a secret this list misses. */
		return k->host->log(k->host, LOG_ERR, EINVAL, "%s: %s=: %s", location, key, err);
	}
	return 0;
}

static int parse_config(struct kafka_out *k)
{
	static const char *const keys[] = {"exec_id", "node_name", "none", NULL};
	static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};
	static const char *const acks_names[] = {"all", "-1", "1", "0", NULL};
	static const char *const acks_values[] = {"all", "all", "1", "0"};
	const struct vigil_host *host = k->host;
	_cleanup_free_ char *password = NULL;
	const char *v;
	char buf[64];
	uint64_t usec;
	int r, acks, idem = 1;

	if ((r = parse_brokers(k)) < 0 || (r = parse_topic(k)) < 0)
		return r;

	r = parse_choice(k, "Key", keys, "exec_id, node_name or none", KEY_EXEC_ID);
	if (r < 0)
		return r;
	k->key = (enum key_mode)r;

	r = parse_choice(k, "Compression", codecs, "none, gzip, snappy, lz4 or zstd", 3);
	if (r < 0)
		return r;
	v = host->cfg_get(host, "Kafka", "Compression");
	if ((r = set_prop(k, "Compression", v ?: "lz4", "compression.codec", codecs[r])) < 0)
		return r;

	v = host->cfg_get(host, "Kafka", "Idempotence");
	if (v && (idem = cfg_parse_bool(v)) < 0)
		return host->log(host, LOG_ERR, EINVAL, "%s: Idempotence=%s: expected yes or no",
				 where(k, "Idempotence"), v);
	acks = parse_choice(k, "Acks", acks_names, "all, 1 or 0", 0);
	if (acks < 0)
		return acks;
	if (idem && acks >= 2)
		return host->log(host, LOG_ERR, EINVAL,
				 "%s: Acks=%s: the idempotent producer (Idempotence=yes, the "
				 "default) needs Acks=all; set Idempotence=no to use it",
				 where(k, "Acks"), host->cfg_get(host, "Kafka", "Acks"));
	v = host->cfg_get(host, "Kafka", "Idempotence");
	if ((r = set_prop(k, "Idempotence", v ?: "yes", "enable.idempotence",
			  idem ? "true" : "false")) < 0)
		return r;
	v = host->cfg_get(host, "Kafka", "Acks");
	if ((r = set_prop(k, "Acks", v ?: "all", "acks", acks_values[acks])) < 0)
		return r;

	if ((r = pass_prop(k, "SecurityProtocol", "security.protocol")) < 0 ||
	    (r = pass_prop(k, "SASLMechanism", "sasl.mechanisms")) < 0 ||
	    (r = pass_prop(k, "SASLUsername", "sasl.username")) < 0 ||
	    (r = pass_prop(k, "TLSCAFile", "ssl.ca.location")) < 0 ||
	    (r = pass_prop(k, "TLSCertFile", "ssl.certificate.location")) < 0 ||
	    (r = pass_prop(k, "TLSKeyFile", "ssl.key.location")) < 0 ||
	    (r = pass_prop(k, "QueueMaxMessages", "queue.buffering.max.messages")) < 0 ||
	    (r = pass_prop(k, "QueueMaxKBytes", "queue.buffering.max.kbytes")) < 0 ||
	    (r = pass_prop(k, "LingerMs", "linger.ms")) < 0)
		return r;

	v = host->cfg_get(host, "Kafka", "SASLPasswordFile");
	if (v) {
		if ((r = read_secret(k, "SASLPasswordFile", v, &password)) < 0)
			return r;
		if ((r = set_prop(k, "SASLPasswordFile", v, "sasl.password", password)) < 0)
			return r;
		explicit_bzero(password, strlen(password));
	}

	v = host->cfg_get(host, "Kafka", "TLSVerify");
	if (v) {
		int verify = cfg_parse_bool(v);

		if (verify < 0)
			return host->log(host, LOG_ERR, EINVAL,
					 "%s: TLSVerify=%s: expected yes or no",
					 where(k, "TLSVerify"), v);
		if ((r = set_prop(k, "TLSVerify", v, "enable.ssl.certificate.verification",
				  verify ? "true" : "false")) < 0 ||
		    (r = set_prop(k, "TLSVerify", v, "ssl.endpoint.identification.algorithm",
				  verify ? "https" : "none")) < 0)
			return r;
	}

	r = host->cfg_get_usec(host, "Kafka", "MessageTimeoutSec", &usec);
	if (r == -ENOENT)
		usec = KAFKA_DEFAULT_TIMEOUT_MS * USEC_PER_MSEC;
	else if (r < 0 || usec < USEC_PER_MSEC || usec / USEC_PER_MSEC > INT32_MAX)
		return host->log(host, LOG_ERR, EINVAL,
				 "%s: MessageTimeoutSec=%s: expected a time span such as 60s",
				 where(k, "MessageTimeoutSec"),
				 strempty(host->cfg_get(host, "Kafka", "MessageTimeoutSec")));
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(usec / USEC_PER_MSEC));
	if ((r = set_prop(k, "MessageTimeoutSec", buf, "message.timeout.ms", buf)) < 0)
		return r;

	/* Last, so an expert's RdKafka.<property>= wins over the keys above. */
	if (host->struct_size >= offsetof(struct vigil_host, cfg_foreach) + sizeof(void *) &&
	    host->cfg_foreach)
		return host->cfg_foreach(host, "Kafka", "RdKafka.", rdkafka_prop, k);
	return 0;
}

/* --- init / fini --------------------------------------------------------------------------- */

static void kafka_free(struct kafka_out *k)
{
	if (!k)
		return;
	producer_stop(k, /* ack= */ false);
	if (k->conf)
		rd_kafka_conf_destroy(k->conf);
	free(k->topic_tmpl);
	vbuf_done(&k->name);
	for (unsigned i = 0; i < k->n_pool; i++)
		vbuf_done(&k->pool[i]);
	free(k->prep);
	pthread_mutex_destroy(&k->lock);
	free(k);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kafka_out *, kafka_free)

static int kafka_init(const struct vigil_host *host, void **ret)
{
	_cleanup_(kafka_freep) struct kafka_out *k = NULL;
	char client_id[128];
	int r;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->host = host;
	pthread_mutex_init(&k->lock, NULL);
	k->conf = rd_kafka_conf_new();
	if (!k->conf)
		return -ENOMEM;

	/* Our defaults; the config may change each of them. */
	snprintf(client_id, sizeof(client_id), "vigild-%s", host->instance);
	if ((r = set_prop(k, "client.id", client_id, "client.id", client_id)) < 0 ||
	    /* The Java client's partitioner: a key lands where Java producers put it too. */
	    (r = set_prop(k, "partitioner", "murmur2_random", "partitioner", "murmur2_random")) <
		    0 ||
	    (r = set_prop(k, "socket.keepalive.enable", "true", "socket.keepalive.enable",
			  "true")) < 0)
		return r;

	r = parse_config(k);
	if (r < 0)
		return r;
	rd_kafka_conf_set_dr_msg_cb(k->conf, on_delivery);
	rd_kafka_conf_set_error_cb(k->conf, on_error);
	rd_kafka_conf_set_log_cb(k->conf, on_log);
	rd_kafka_conf_set_opaque(k->conf, k);

	r = producer_start(k);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(k);
	return 0;
}

static void kafka_fini(void *instance)
{
	struct kafka_out *k = instance;

	/* Briefly give what is in flight a chance to be confirmed (and acknowledged). */
	if (k->rk)
		(void)rd_kafka_flush(k->rk, KAFKA_FINI_FLUSH_MS);
	atomic_store(&k->closing, true);
	if (atomic_load(&k->drops))
		k->host->log(k->host, LOG_INFO, 0,
			     "%" PRIuFAST64 " records were rejected by Kafka for good",
			     (uint_fast64_t)atomic_load(&k->drops));
	kafka_free(k);
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_OUTPUT, .name = "kafka",
		    .description = "Apache Kafka producer (librdkafka), acknowledged by delivery "
				   "reports",
		    .section = "Kafka", .keys = kafka_keys, .max_in_flight = KAFKA_MAX_IN_FLIGHT,
		    .init = kafka_init, .emit = kafka_emit, .flush = kafka_flush,
		    .probe = kafka_probe, .fini = kafka_fini, .flags = VIGIL_PLUGIN_F_SPOOL);
