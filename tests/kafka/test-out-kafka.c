/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_kafka.so through dlopen and the fake host, against librdkafka's mock cluster (a real
 * Kafka wire-protocol peer on 127.0.0.1): delivery reports → acks, what lands in Kafka (value,
 * key, headers, topic per event type), broker down → REDO then delivered, queue full → RETRY,
 * topic authorization failure → FATAL and probe(), config errors with file:line, malformed
 * records dropped alone within a batch.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "fake_host.h"
#include "mock.h"
#include "tap.h"
#include "testrec.h"

#define ACK_TIMEOUT_MS 30000
#define MAX_RECS       64
#define MAX_MSGS       128

static const struct vigil_plugin *plugin;

/* --- records ------------------------------------------------------------------------------- */

struct recs {
	unsigned n;
	msgpack_sbuffer sb[MAX_RECS];
	struct vigil_record r[MAX_RECS];
	char exec_id[MAX_RECS][48];
};

static void recs_push(struct recs *rs, uint32_t type)
{
	unsigned i = rs->n++;

	rs->r[i] = (struct vigil_record){(const uint8_t *)rs->sb[i].data, (uint32_t)rs->sb[i].size,
					 type, i};
}

static void recs_exec(struct recs *rs, unsigned pid)
{
	struct testproc p = testrec_curl;
	unsigned i = rs->n;

	snprintf(rs->exec_id[i], sizeof(rs->exec_id[i]), "exec-id-%u", pid);
	p.exec_id = rs->exec_id[i];
	p.pid = p.tid = pid;
	msgpack_sbuffer_init(&rs->sb[i]);
	testrec_exec(&rs->sb[i], &p, &testrec_bash);
	recs_push(rs, VIGIL_RECORD_PROCESS_EXEC);
}

static void recs_exit(struct recs *rs, unsigned pid)
{
	struct testproc p = testrec_curl;
	unsigned i = rs->n;

	snprintf(rs->exec_id[i], sizeof(rs->exec_id[i]), "exec-id-%u", pid);
	p.exec_id = rs->exec_id[i];
	p.pid = p.tid = pid;
	msgpack_sbuffer_init(&rs->sb[i]);
	testrec_exit(&rs->sb[i], &p, &testrec_bash, 3, "");
	recs_push(rs, VIGIL_RECORD_PROCESS_EXIT);
}

static void recs_loss(struct recs *rs)
{
	unsigned i = rs->n;

	rs->exec_id[i][0] = 0;
	msgpack_sbuffer_init(&rs->sb[i]);
	testrec_loss(&rs->sb[i], "queue", 12, 40, "kafka-test");
	recs_push(rs, VIGIL_RECORD_VIGIL_LOSS);
}

static void recs_done(struct recs *rs)
{
	for (unsigned i = 0; i < rs->n; i++)
		msgpack_sbuffer_destroy(&rs->sb[i]);
	rs->n = 0;
}

static char *render(const struct vigil_record *r)
{
	struct vbuf b = {};

	if (json_render(r->data, r->size, &b) < 0 || vbuf_putc(&b, 0) < 0)
		return NULL;
	return b.data;
}

/*
 * emit() records [@from, @from + @n) of @rs as batch @id and wait for their fate: through the
 * return value (VIGIL_OK) or host->ack() (VIGIL_PENDING). Returns the emit status; @results
 * gets the per-record results. -ETIMEDOUT (as a status) if no ack came.
 */
static int emit_wait(struct fake_host *fh, void *inst, struct recs *rs, unsigned from, unsigned n,
		     uint64_t id, uint8_t *results)
{
	struct vigil_batch b = {
		.records = rs->r + from, .n_records = n, .schema_major = 1, .id = id};
	enum vigil_status st;

	memset(results, VIGIL_DELIVERED, n);
	fake_host_expect(fh, id, n);
	st = plugin->emit(inst, &b, results);
	if (st == VIGIL_PENDING &&
	    fake_host_wait_ack(fh, id, results, n, ACK_TIMEOUT_MS) == -ETIMEDOUT)
		return -ETIMEDOUT;
	return (int)st;
}

static unsigned count_result(const uint8_t *results, unsigned n, uint8_t want)
{
	unsigned c = 0;

	for (unsigned i = 0; i < n; i++)
		c += results[i] == want;
	return c;
}

/* --- what the cluster holds ---------------------------------------------------------------- */

struct msg {
	char *topic, *key, *value, *event, *node, *schema;
	int partition;
};

struct got {
	unsigned n;
	struct msg m[MAX_MSGS];
};

static char *dupn(const void *p, size_t n)
{
	return p ? strndup(p, n) : NULL;
}

static char *header(const rd_kafka_message_t *m, const char *name)
{
	rd_kafka_headers_t *h;
	const void *v;
	size_t n;

	if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &n))
		return NULL;
	return dupn(v, n);
}

static void collect(const rd_kafka_message_t *m, void *userdata)
{
	struct got *g = userdata;
	struct msg *x;

	if (g->n == MAX_MSGS)
		return;
	x = &g->m[g->n++];
	x->topic = strdup(rd_kafka_topic_name(m->rkt));
	x->key = dupn(m->key, m->key_len);
	x->value = dupn(m->payload, m->len);
	x->event = header(m, "vigil-event");
	x->node = header(m, "vigil-node");
	x->schema = header(m, "vigil-schema");
	x->partition = m->partition;
}

static void got_done(struct got *g)
{
	for (unsigned i = 0; i < g->n; i++) {
		struct msg *x = &g->m[i];

		free(x->topic), free(x->key), free(x->value);
		free(x->event), free(x->node), free(x->schema);
	}
	g->n = 0;
}

static const struct msg *got_find_key(const struct got *g, const char *key)
{
	for (unsigned i = 0; i < g->n; i++)
		if (g->m[i].key && !strcmp(g->m[i].key, key))
			return &g->m[i];
	return NULL;
}

static unsigned got_count_key(const struct got *g, const char *key)
{
	unsigned c = 0;

	for (unsigned i = 0; i < g->n; i++)
		c += g->m[i].key && !strcmp(g->m[i].key, key);
	return c;
}

static struct fake_host *host_for(const char *bootstraps)
{
	struct fake_host *fh = fake_host_new("kafka-test");

	fake_host_set(fh, "Kafka", "Brokers", bootstraps);
	/* Tests bring brokers down and up: reconnect fast. */
	fake_host_set(fh, "Kafka", "RdKafka.reconnect.backoff.ms", "10");
	fake_host_set(fh, "Kafka", "RdKafka.reconnect.backoff.max.ms", "100");
	return fh;
}

/* --- tests --------------------------------------------------------------------------------- */

TEST(descriptor)
{
	ASSERT_NOT_NULL(plugin);
	ASSERT_STREQ(plugin->name, "kafka");
	ASSERT_STREQ(plugin->section, "Kafka");
	ASSERT_EQ(plugin->kind, VIGIL_PLUGIN_OUTPUT);
	ASSERT_EQ(plugin->flags & VIGIL_PLUGIN_F_SPOOL, VIGIL_PLUGIN_F_SPOOL);
	ASSERT_GE(plugin->max_in_flight, 8);
	ASSERT_NOT_NULL(plugin->probe);
}

TEST(delivers_topic_per_event_key_headers_value)
{
	static const char *const topics[] = {"vigil.process_exec.web-1", "vigil.process_exit.web-1",
					     "vigil.vigil_loss.web-1"};
	struct kmock *mock = kmock_new(3);
	struct fake_host *fh;
	struct recs rs = {};
	uint8_t res[MAX_RECS];
	struct got g = {};
	void *inst = NULL;

	ASSERT_NOT_NULL(mock);
	for (unsigned i = 0; i < 3; i++)
		ASSERT_OK(kmock_topic(mock, topics[i], 3));
	fh = host_for(kmock_bootstraps(mock));
	fake_host_set(fh, "Kafka", "Topic", "vigil.%{event}.%{node}");
	ASSERT_OK(plugin->init(&fh->host, &inst));

	for (unsigned pid = 100; pid < 106; pid++)
		recs_exec(&rs, pid);
	recs_exit(&rs, 100);
	recs_exit(&rs, 101);
	recs_loss(&rs);
	/* Two batches in flight at once: both PENDING, acknowledged separately. */
	{
		struct vigil_batch b1 = {
			.records = rs.r, .n_records = 6, .schema_major = 1, .id = 7};
		struct vigil_batch b2 = {
			.records = rs.r + 6, .n_records = 3, .schema_major = 1, .id = 8};
		uint8_t r1[6], r2[3];
		int s1, s2;

		memset(r1, VIGIL_DELIVERED, sizeof(r1));
		memset(r2, VIGIL_DELIVERED, sizeof(r2));
		fake_host_expect(fh, 7, 6);
		fake_host_expect(fh, 8, 3);
		s1 = plugin->emit(inst, &b1, r1);
		s2 = plugin->emit(inst, &b2, r2);
		ASSERT_EQ(s1, VIGIL_PENDING);
		ASSERT_EQ(s2, VIGIL_PENDING);
		ASSERT_OK(fake_host_wait_ack(fh, 8, r2, 3, ACK_TIMEOUT_MS));
		ASSERT_OK(fake_host_wait_ack(fh, 7, r1, 6, ACK_TIMEOUT_MS));
		ASSERT_EQ(count_result(r1, 6, VIGIL_DELIVERED), 6);
		ASSERT_EQ(count_result(r2, 3, VIGIL_DELIVERED), 3);
	}
	(void)res;

	/* process_exec: value is json_render() of the record, key its exec_id, headers. */
	ASSERT_EQ(kmock_consume(kmock_bootstraps(mock), topics[0], 6, 20000, collect, &g), 6);
	for (unsigned i = 0; i < 6; i++) {
		const struct msg *x = got_find_key(&g, rs.exec_id[i]);
		char *want = render(&rs.r[i]);

		ASSERT_NOT_NULL(x);
		ASSERT_STREQ(x->value, want);
		free(want);
		ASSERT_STREQ(x->topic, topics[0]);
		ASSERT_STREQ(x->event, "process_exec");
		ASSERT_STREQ(x->node, "web-1");
		ASSERT_STREQ(x->schema, "1");
		ASSERT_EQ(got_count_key(&g, rs.exec_id[i]), 1);
	}
	{
		/* Keyed by exec_id: a process's exit lands in the partition of its exec. */
		struct got ge = {};
		const struct msg *exec100 = got_find_key(&g, "exec-id-100");
		const struct msg *exec101 = got_find_key(&g, "exec-id-101");

		ASSERT_EQ(kmock_consume(kmock_bootstraps(mock), topics[1], 2, 20000, collect, &ge),
			  2);
		ASSERT_NOT_NULL(got_find_key(&ge, "exec-id-100"));
		ASSERT_EQ(got_find_key(&ge, "exec-id-100")->partition, exec100->partition);
		ASSERT_EQ(got_find_key(&ge, "exec-id-101")->partition, exec101->partition);
		ASSERT_STREQ(ge.m[0].event, "process_exit");
		got_done(&ge);
	}
	{
		/* vigil_loss has no process: no key. */
		struct got gl = {};
		char *want = render(&rs.r[8]);

		ASSERT_EQ(kmock_consume(kmock_bootstraps(mock), topics[2], 1, 20000, collect, &gl),
			  1);
		ASSERT_NULL(gl.m[0].key);
		ASSERT_STREQ(gl.m[0].event, "vigil_loss");
		ASSERT_STREQ(gl.m[0].value, want);
		free(want);
		got_done(&gl);
	}
	ASSERT_EQ(plugin->flush(inst, 5000000), VIGIL_OK);
	plugin->fini(inst);
	got_done(&g);
	recs_done(&rs);
	fake_host_free(fh);
	kmock_free(mock);
}

TEST(key_node_name_gzip_fixed_topic)
{
	struct kmock *mock = kmock_new(1);
	struct fake_host *fh;
	struct recs rs = {};
	uint8_t res[4];
	struct got g = {};
	void *inst = NULL;

	ASSERT_NOT_NULL(mock);
	ASSERT_OK(kmock_topic(mock, "events", 2));
	fh = host_for(kmock_bootstraps(mock));
	fake_host_set(fh, "Kafka", "Topic", "events");
	fake_host_set(fh, "Kafka", "Key", "node_name");
	fake_host_set(fh, "Kafka", "Compression", "gzip");
	ASSERT_OK(plugin->init(&fh->host, &inst));
	recs_exec(&rs, 1);
	recs_exit(&rs, 1);
	recs_loss(&rs);
	ASSERT_OK(emit_wait(fh, inst, &rs, 0, 3, 1, res));
	ASSERT_EQ(count_result(res, 3, VIGIL_DELIVERED), 3);
	ASSERT_EQ(kmock_consume(kmock_bootstraps(mock), "events", 3, 20000, collect, &g), 3);
	for (unsigned i = 0; i < 3; i++) {
		ASSERT_STREQ(g.m[i].key, "web-1");
		ASSERT_STREQ(g.m[i].topic, "events");
	}
	plugin->fini(inst);
	got_done(&g);
	recs_done(&rs);
	fake_host_free(fh);
	kmock_free(mock);
}

/*
 * emit() renders a batch into one buffer and produces from it without a copy: a record that
 * fails to render (truncated) or to parse (garbage) in the middle of a batch is dropped alone,
 * every other value is exact; a second batch reuses the recycled buffer and is exact too.
 */
TEST(malformed_records_dropped_alone_values_exact)
{
	static const uint8_t garbage[] = {0xc1, 0x00};
	struct kmock *mock = kmock_new(1);
	struct fake_host *fh;
	struct recs rs = {};
	uint8_t res[8];
	struct got g = {};
	void *inst = NULL;
	unsigned good = 0;

	ASSERT_NOT_NULL(mock);
	ASSERT_OK(kmock_topic(mock, "drops", 2));
	fh = host_for(kmock_bootstraps(mock));
	fake_host_set(fh, "Kafka", "Topic", "drops");
	ASSERT_OK(plugin->init(&fh->host, &inst));
	for (unsigned pid = 300; pid < 308; pid++)
		recs_exec(&rs, pid);
	rs.r[2].size /= 2; /* truncated: the event key and exec_id parse, rendering fails */
	rs.r[4].data = garbage;
	rs.r[4].size = sizeof(garbage);

	ASSERT_TRUE(emit_wait(fh, inst, &rs, 0, 5, 1, res) >= 0);
	ASSERT_EQ(res[0], VIGIL_DELIVERED);
	ASSERT_EQ(res[1], VIGIL_DELIVERED);
	ASSERT_EQ(res[2], VIGIL_DROP);
	ASSERT_EQ(res[3], VIGIL_DELIVERED);
	ASSERT_EQ(res[4], VIGIL_DROP);
	ASSERT_TRUE(emit_wait(fh, inst, &rs, 5, 3, 2, res) >= 0);
	ASSERT_EQ(count_result(res, 3, VIGIL_DELIVERED), 3);

	ASSERT_EQ(kmock_consume(kmock_bootstraps(mock), "drops", 6, 20000, collect, &g), 6);
	for (unsigned i = 0; i < 8; i++) {
		const struct msg *x = got_find_key(&g, rs.exec_id[i]);
		char *want;

		if (i == 2 || i == 4) {
			ASSERT_NULL(x);
			continue;
		}
		want = render(&rs.r[i]);
		ASSERT_NOT_NULL(x);
		ASSERT_STREQ(x->value, want);
		ASSERT_EQ(got_count_key(&g, rs.exec_id[i]), 1);
		free(want);
		good++;
	}
	ASSERT_EQ(good, 6);
	plugin->fini(inst);
	got_done(&g);
	recs_done(&rs);
	fake_host_free(fh);
	kmock_free(mock);
}

TEST(broker_down_redo_then_delivered_none_lost)
{
	struct kmock *mock = kmock_new(1);
	struct fake_host *fh, *fq;
	struct recs rs = {};
	uint8_t res[MAX_RECS];
	struct got g = {};
	void *inst = NULL, *qinst = NULL;

	ASSERT_NOT_NULL(mock);
	ASSERT_OK(kmock_topic(mock, "down", 1));
	fh = host_for(kmock_bootstraps(mock));
	fake_host_set(fh, "Kafka", "Topic", "down");
	fake_host_set(fh, "Kafka", "MessageTimeoutSec", "3s");
	ASSERT_OK(plugin->init(&fh->host, &inst));
	for (unsigned pid = 1; pid <= 10; pid++)
		recs_exec(&rs, pid);

	ASSERT_OK(kmock_down(mock, 1));
	/* librdkafka holds the records up to MessageTimeoutSec=, then hands them back. */
	ASSERT_EQ(emit_wait(fh, inst, &rs, 0, 10, 1, res), VIGIL_PENDING);
	ASSERT_EQ(count_result(res, 10, VIGIL_REDO), 10);

	/* The producer queue full (QueueMaxMessages=1) → the batch comes back as RETRY. */
	fq = host_for(kmock_bootstraps(mock));
	fake_host_set(fq, "Kafka", "Topic", "down");
	fake_host_set(fq, "Kafka", "MessageTimeoutSec", "2s");
	fake_host_set(fq, "Kafka", "QueueMaxMessages", "1");
	ASSERT_OK(plugin->init(&fq->host, &qinst));
	{
		struct vigil_batch b1 = {
			.records = rs.r, .n_records = 1, .schema_major = 1, .id = 1};
		struct vigil_batch b2 = {
			.records = rs.r + 1, .n_records = 3, .schema_major = 1, .id = 2};
		uint8_t r1[1] = {VIGIL_DELIVERED}, r2[3];

		fake_host_expect(fq, 1, 1);
		ASSERT_EQ(plugin->emit(qinst, &b1, r1), VIGIL_PENDING);
		ASSERT_EQ(plugin->emit(qinst, &b2, r2), VIGIL_RETRY);
		ASSERT_OK(fake_host_wait_ack(fq, 1, r1, 1, ACK_TIMEOUT_MS));
		ASSERT_EQ(r1[0], VIGIL_REDO);
	}
	plugin->fini(qinst);
	fake_host_free(fq);

	/* Broker back: the host re-sends the REDO records; all delivered, none lost. */
	ASSERT_OK(kmock_up(mock, 1));
	ASSERT_EQ(emit_wait(fh, inst, &rs, 0, 10, 2, res), VIGIL_PENDING);
	ASSERT_EQ(count_result(res, 10, VIGIL_DELIVERED), 10);
	ASSERT_EQ(kmock_consume(kmock_bootstraps(mock), "down", 10, 20000, collect, &g), 10);
	for (unsigned i = 0; i < 10; i++)
		ASSERT_EQ(got_count_key(&g, rs.exec_id[i]), 1);
	plugin->fini(inst);
	got_done(&g);
	recs_done(&rs);
	fake_host_free(fh);
	kmock_free(mock);
}

TEST(topic_authorization_failure_fatal_then_probe_resumes)
{
	struct kmock *mock = kmock_new(1);
	struct fake_host *fh;
	struct recs rs = {};
	uint8_t res[4];
	struct got g = {};
	void *inst = NULL;

	ASSERT_NOT_NULL(mock);
	ASSERT_OK(kmock_topic(mock, "authz", 1));
	fh = host_for(kmock_bootstraps(mock));
	fake_host_set(fh, "Kafka", "Topic", "authz");
	fake_host_set(fh, "Kafka", "MessageTimeoutSec", "10s");
	ASSERT_OK(plugin->init(&fh->host, &inst));
	recs_exec(&rs, 1);
	recs_exec(&rs, 2);

	/* The broker refuses our Produce requests (API key 0): nothing is dropped, the records
	 * go back, and the instance reports FATAL from then on. */
	kmock_push_errors(mock, 0, 5, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	ASSERT_EQ(emit_wait(fh, inst, &rs, 0, 2, 1, res), VIGIL_PENDING);
	ASSERT_EQ(count_result(res, 2, VIGIL_REDO), 2);
	kmock_clear_errors(mock, 0);
	ASSERT_EQ(plugin->emit(inst, &(struct vigil_batch){rs.r, 2, 1, 2}, res), VIGIL_FATAL);
	ASSERT_CONTAINS(fake_host_logs(fh), "ERR: Kafka refuses the producer");

	/* probe(): no answer from the cluster → stay paused; the cluster back → resume. */
	ASSERT_OK(kmock_down(mock, 1));
	ASSERT_EQ(plugin->probe(inst), VIGIL_RETRY);
	ASSERT_OK(kmock_up(mock, 1));
	{
		int st = VIGIL_RETRY;

		for (int i = 0; i < 20 && st != VIGIL_OK; i++)
			st = plugin->probe(inst);
		ASSERT_EQ(st, VIGIL_OK);
	}
	ASSERT_EQ(emit_wait(fh, inst, &rs, 0, 2, 3, res), VIGIL_PENDING);
	ASSERT_EQ(count_result(res, 2, VIGIL_DELIVERED), 2);
	ASSERT_EQ(kmock_consume(kmock_bootstraps(mock), "authz", 2, 20000, collect, &g), 2);
	plugin->fini(inst);
	got_done(&g);
	recs_done(&rs);
	fake_host_free(fh);
	kmock_free(mock);
}

/* init() with Brokers= (test.conf:1) plus @key=@value (test.conf:2) must fail and log @want. */
static void expect_config_error(const char *key, const char *value, const char *want)
{
	struct fake_host *fh = fake_host_new("kafka-test");
	void *inst = NULL;

	fake_host_set(fh, "Kafka", "Brokers", "127.0.0.1:1");
	fake_host_set(fh, "Kafka", key, value);
	if (plugin->init(&fh->host, &inst) >= 0) {
		plugin->fini(inst);
		fake_host_free(fh);
		TAP_FAIL("init() accepted %s=%s", key, value);
	}
	if (!strstr(fake_host_logs(fh), want)) {
		printf("# logs: %s\n", fake_host_logs(fh));
		fake_host_free(fh);
		TAP_FAIL("no \"%s\" in the log", want);
	}
	fake_host_free(fh);
}

TEST(config_errors_name_file_and_line)
{
	struct fake_host *fh;
	void *inst = NULL;

	expect_config_error("Compression", "brotli", "test.conf:2: Compression=brotli: expected");
	expect_config_error("Acks", "1", "test.conf:2: Acks=1: the idempotent producer");
	expect_config_error("Acks", "2", "test.conf:2: Acks=2: expected all, 1 or 0");
	expect_config_error("Key", "pid", "test.conf:2: Key=pid: expected exec_id");
	/* RdKafka.* values are never echoed: one may be a secret the plugin does not know. */
	expect_config_error("RdKafka.no.such.property", "1",
			    "test.conf:2: RdKafka.no.such.property=: No such configuration "
			    "property");
	expect_config_error("RdKafka.linger.ms", "abc", "test.conf:2: RdKafka.linger.ms=: ");
	expect_config_error("RdKafka.sasl.password", "hunter2",
			    "test.conf:2: RdKafka.sasl.password=: secrets are not accepted");
	expect_config_error("Topic", "a/b", "test.conf:2: Topic=a/b: '/' is not allowed");
	expect_config_error("Topic", "x-%{pid}",
			    "test.conf:2: Topic=x-%{pid}: unknown placeholder");
	expect_config_error("QueueMaxMessages", "-5", "test.conf:2: QueueMaxMessages=-5: ");
	expect_config_error("MessageTimeoutSec", "soon", "test.conf:2: MessageTimeoutSec=soon");
	expect_config_error("SASLPasswordFile", "/nonexistent/pw",
			    "test.conf:2: SASLPasswordFile=/nonexistent/pw: No such file");

	/* Missing Brokers= */
	fh = fake_host_new("kafka-test");
	fake_host_set(fh, "Kafka", "Topic", "t");
	ASSERT_TRUE(plugin->init(&fh->host, &inst) < 0);
	ASSERT_CONTAINS(fake_host_logs(fh), "Brokers= is required");
	fake_host_free(fh);

	/* Acks=1 is fine without idempotence; brokers from a list and repeated keys. */
	fh = fake_host_new("kafka-test");
	fake_host_set(fh, "Kafka", "Brokers", "127.0.0.1:1, 127.0.0.1:2");
	fake_host_set(fh, "Kafka", "Brokers", "127.0.0.1:3");
	fake_host_set(fh, "Kafka", "Idempotence", "no");
	fake_host_set(fh, "Kafka", "Acks", "1");
	ASSERT_OK(plugin->init(&fh->host, &inst));
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(sasl_password_from_file)
{
	char path[] = "/tmp/vigil-kafka-pw.XXXXXX";
	struct fake_host *fh = fake_host_new("kafka-test");
	void *inst = NULL;
	int fd = mkstemp(path);

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, "s3cret\n", 7), 7);
	close(fd);
	fake_host_set(fh, "Kafka", "Brokers", "127.0.0.1:1");
	fake_host_set(fh, "Kafka", "SecurityProtocol", "sasl_plaintext");
	fake_host_set(fh, "Kafka", "SASLMechanism", "PLAIN");
	fake_host_set(fh, "Kafka", "SASLUsername", "vigil");
	fake_host_set(fh, "Kafka", "SASLPasswordFile", path);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	plugin->fini(inst);
	ASSERT_TRUE(strstr(fake_host_logs(fh), "s3cret") == NULL);
	fake_host_free(fh);

	/* An empty file is an error, not an empty password. */
	fh = fake_host_new("kafka-test");
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	fake_host_set(fh, "Kafka", "Brokers", "127.0.0.1:1");
	fake_host_set(fh, "Kafka", "SASLPasswordFile", path);
	ASSERT_TRUE(plugin->init(&fh->host, &inst) < 0);
	ASSERT_CONTAINS(fake_host_logs(fh), "test.conf:2: SASLPasswordFile=");
	ASSERT_CONTAINS(fake_host_logs(fh), "the file is empty");
	fake_host_free(fh);
	unlink(path);
}

int main(void)
{
	plugin = fake_host_load("out_kafka.so");
	return tap_run();
}
