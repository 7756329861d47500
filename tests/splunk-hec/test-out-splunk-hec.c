/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_splunk_hec.so through dlopen and the fake host, against tests/servers/fake_hec.py (a
 * loopback HEC): event shape, gzip, token errors and probe(), 503, invalid-event-number, 413
 * splitting, indexer acknowledgement and its timeout, the persisted channel, config errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "fake_host.h"
#include "tap.h"
#include "testrec.h"

#define TOKEN	   "5f0b2ac4-1c6e-4b1e-9d1f-1b9a7e0f2c11"
#define ACK_TOKEN  "8a1d1e0c-7f7e-4a54-8b55-0d1c3f9b7a22"
#define MAX_RECS   16
#define WAIT_MS	   30000 /* generous: the machine is shared */
#define RECORD_SEC 1795305541LL

static const struct vigil_plugin *plugin;
static pid_t fake_pid;
static int fake_port;
static char dir[] = "/tmp/vigil-test-hec.XXXXXX";

/* ---- a minimal HTTP client for the fake's control API ---------------------------------- */

static char *fake_call(const char *method, const char *path, const char *body)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fake_port)};
	size_t blen = body ? strlen(body) : 0, len = 0, cap = 65536;
	char *buf = malloc(cap), *p;
	char hdr[512];
	ssize_t n;
	int fd;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	snprintf(hdr, sizeof(hdr),
		 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
		 "Content-Length: %zu\r\n\r\n",
		 method, path, blen);
	if (write(fd, hdr, strlen(hdr)) < 0 || (blen && write(fd, body, blen) < 0)) {
		close(fd);
		free(buf);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 4096)
			buf = realloc(buf, cap *= 2);
	}
	close(fd);
	buf[len] = 0;
	p = strstr(buf, "\r\n\r\n");
	if (!p) {
		free(buf);
		return NULL;
	}
	memmove(buf, p + 4, strlen(p + 4) + 1);
	return buf;
}

/* POST /_fake/reset with @cfg (JSON), aborting the test on failure. */
#define FAKE_RESET(cfg)                                                                            \
	do {                                                                                       \
		char *_r = fake_call("POST", "/_fake/reset", (cfg));                               \
		ASSERT_NOT_NULL(_r);                                                               \
		free(_r);                                                                          \
	} while (0)

/* GET /_fake/<what> → the array under key @what ("events", "requests"); caller puts @root. */
static struct json_object *fake_get(const char *what, struct json_object **root)
{
	char path[64];
	char *s;
	struct json_object *arr = NULL;

	snprintf(path, sizeof(path), "/_fake/%s", what);
	s = fake_call("GET", path, NULL);
	*root = s ? json_tokener_parse(s) : NULL;
	free(s);
	if (*root)
		json_object_object_get_ex(*root, what, &arr);
	return arr;
}

/* Requests to @path (exact match without the query) in the fake's log. */
static size_t count_requests(struct json_object *reqs, const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < json_object_array_length(reqs); i++) {
		struct json_object *r = json_object_array_get_idx(reqs, i), *p;
		const char *s;

		json_object_object_get_ex(r, "path", &p);
		s = json_object_get_string(p);
		if (strncmp(s, path, strlen(path)) == 0 &&
		    (s[strlen(path)] == 0 || s[strlen(path)] == '?'))
			n++;
	}
	return n;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static void start_fake(void)
{
	char port_file[256];
	FILE *f;

	snprintf(port_file, sizeof(port_file), "%s/port", dir);
	fake_pid = fork();
	if (fake_pid == 0) {
		execlp("python3", "python3", FAKE_HEC, "--port-file", port_file, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		int st;

		f = fopen(port_file, "re");
		if (f) {
			if (fscanf(f, "%d", &fake_port) != 1)
				fake_port = 0;
			fclose(f);
			return;
		}
		if (waitpid(fake_pid, &st, WNOHANG) == fake_pid) {
			fake_pid = 0;
			return;
		}
		usleep(50000);
	}
}

static void stop_fake(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
	}
}

/* ---- records and hosts ---------------------------------------------------------------- */

struct recs {
	msgpack_sbuffer sb[MAX_RECS];
	struct vigil_record r[MAX_RECS];
	unsigned n;
};

/* @n exec records; record i has pid 1000 + i and seq 100 + i. */
static void recs_make(struct recs *rs, unsigned n)
{
	rs->n = n;
	for (unsigned i = 0; i < n; i++) {
		struct testproc p = testrec_curl;

		p.pid = p.tid = 1000 + i;
		msgpack_sbuffer_init(&rs->sb[i]);
		testrec_exec(&rs->sb[i], &p, &testrec_bash);
		rs->r[i] = (struct vigil_record){(const uint8_t *)rs->sb[i].data,
						 (uint32_t)rs->sb[i].size,
						 VIGIL_RECORD_PROCESS_EXEC, 100 + i};
	}
}

static void recs_done(struct recs *rs)
{
	for (unsigned i = 0; i < rs->n; i++)
		msgpack_sbuffer_destroy(&rs->sb[i]);
}

static enum vigil_status emit(void *inst, struct recs *rs, uint64_t id, uint8_t *results)
{
	struct vigil_batch b = {.records = rs->r, .n_records = rs->n, .schema_major = 1, .id = id};

	memset(results, VIGIL_DELIVERED, rs->n);
	return plugin->emit(inst, &b, results);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror(path);
		close(fd);
	}
}

static unsigned n_hosts;

/* A fake host with its own state directory, URL= and TokenFile= holding @token. */
static struct fake_host *new_host(const char *token, char *token_path, size_t n)
{
	struct fake_host *fh = fake_host_new("hec-test");
	char url[64];

	snprintf(fh->state_dir, sizeof(fh->state_dir), "%s/state%u", dir, n_hosts++);
	mkdir(fh->state_dir, 0700);
	snprintf(token_path, n, "%s/token", fh->state_dir);
	write_file(token_path, token);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", fake_port);
	fake_host_set(fh, "SplunkHEC", "URL", url);
	fake_host_set(fh, "SplunkHEC", "TokenFile", token_path);
	return fh;
}

static int64_t event_pid(struct json_object *ev)
{
	struct json_object *v = ev;
	const char *const path[] = {"event", "process_exec", "process", "pid"};

	for (size_t i = 0; i < 4; i++)
		if (!json_object_object_get_ex(v, path[i], &v))
			return -1;
	return json_object_get_int64(v);
}

/* ---- tests ---------------------------------------------------------------------------- */

TEST(descriptor)
{
	ASSERT_NOT_NULL(plugin);
	ASSERT_STREQ(plugin->name, "splunk_hec");
	ASSERT_STREQ(plugin->section, "SplunkHEC");
	ASSERT_EQ(plugin->kind, VIGIL_PLUGIN_OUTPUT);
	ASSERT_EQ(plugin->flags & VIGIL_PLUGIN_F_SPOOL, VIGIL_PLUGIN_F_SPOOL);
	ASSERT_EQ(plugin->max_in_flight, 32);
	ASSERT_NOT_NULL(plugin->probe);
}

TEST(events_shape_time_and_gzip)
{
	char tok[256];
	struct fake_host *fh = new_host(TOKEN, tok, sizeof(tok));
	struct json_object *root, *evs, *rroot, *reqs, *req;
	struct vbuf want = {};
	struct recs rs;
	uint8_t res[MAX_RECS];
	void *inst = NULL;
	char *raw;

	FAKE_RESET("{\"tokens\":{\"" TOKEN "\":{}}}");
	recs_make(&rs, 3);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_OK);
	for (unsigned i = 0; i < 3; i++)
		ASSERT_EQ(res[i], VIGIL_DELIVERED);

	evs = fake_get("events", &root);
	ASSERT_NOT_NULL(evs);
	ASSERT_EQ(json_object_array_length(evs), 3);
	for (unsigned i = 0; i < 3; i++) {
		struct json_object *ev = json_object_array_get_idx(evs, i), *t, *event, *exp;

		ASSERT_STREQ(jstr(ev, "host"), "web-1");
		ASSERT_STREQ(jstr(ev, "source"), "vigil");
		ASSERT_STREQ(jstr(ev, "sourcetype"), "vigil:event");
		ASSERT_FALSE(json_object_object_get_ex(ev, "index", NULL));
		ASSERT_TRUE(json_object_object_get_ex(ev, "time", &t));
		ASSERT_TRUE(json_object_is_type(t, json_type_double));
		/* 1795305541.123456789 in the record: seconds with microseconds. */
		ASSERT_TRUE(fabs(json_object_get_double(t) - 1795305541.123456) < 1e-6);
		/* "event" is exactly json_render() of the record. */
		want.len = 0;
		ASSERT_OK(json_render(rs.r[i].data, rs.r[i].size, &want));
		ASSERT_OK(vbuf_putc(&want, 0));
		exp = json_tokener_parse(want.data);
		ASSERT_NOT_NULL(exp);
		ASSERT_TRUE(json_object_object_get_ex(ev, "event", &event));
		ASSERT_TRUE(json_object_equal(exp, event));
		json_object_put(exp);
		ASSERT_EQ(event_pid(ev), 1000 + i);
	}
	/* The wire text keeps six fractional digits. */
	raw = fake_call("GET", "/_fake/events", NULL);
	ASSERT_CONTAINS(raw, "\"time\": 1795305541.123456,");
	free(raw);

	reqs = fake_get("requests", &rroot);
	ASSERT_EQ(json_object_array_length(reqs), 1);
	req = json_object_array_get_idx(reqs, 0);
	ASSERT_STREQ(jstr(req, "path"), "/services/collector/event");
	ASSERT_STREQ(jstr(req, "gzip"), "true");
	ASSERT_STREQ(jstr(req, "auth"), "Splunk " TOKEN);
	ASSERT_EQ(strlen(jstr(req, "channel")), 36);

	json_object_put(root);
	json_object_put(rroot);
	vbuf_done(&want);
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(index_host_source_no_gzip)
{
	char tok[256];
	struct fake_host *fh = new_host(TOKEN, tok, sizeof(tok));
	struct json_object *root, *evs, *ev, *rroot, *reqs;
	struct recs rs;
	uint8_t res[MAX_RECS];
	void *inst = NULL;

	FAKE_RESET("{\"tokens\":{\"" TOKEN "\":{\"indexes\":[\"security\"]}}}");
	fake_host_set(fh, "SplunkHEC", "Index", "security");
	fake_host_set(fh, "SplunkHEC", "Host", "edge-7");
	fake_host_set(fh, "SplunkHEC", "Source", "vigil:prod");
	fake_host_set(fh, "SplunkHEC", "Sourcetype", "tetragon");
	fake_host_set(fh, "SplunkHEC", "Compress", "none");
	recs_make(&rs, 1);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_OK);
	ASSERT_EQ(res[0], VIGIL_DELIVERED);
	evs = fake_get("events", &root);
	ASSERT_EQ(json_object_array_length(evs), 1);
	ev = json_object_array_get_idx(evs, 0);
	ASSERT_STREQ(jstr(ev, "index"), "security");
	ASSERT_STREQ(jstr(ev, "host"), "edge-7");
	ASSERT_STREQ(jstr(ev, "source"), "vigil:prod");
	ASSERT_STREQ(jstr(ev, "sourcetype"), "tetragon");
	reqs = fake_get("requests", &rroot);
	ASSERT_STREQ(jstr(json_object_array_get_idx(reqs, 0), "gzip"), "false");
	json_object_put(root);
	json_object_put(rroot);
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(incorrect_index_is_fatal_naming_index)
{
	char tok[256];
	struct fake_host *fh = new_host(TOKEN, tok, sizeof(tok));
	struct json_object *root;
	struct recs rs;
	uint8_t res[MAX_RECS];
	void *inst = NULL;

	FAKE_RESET("{\"tokens\":{\"" TOKEN "\":{\"indexes\":[\"main\"]}}}");
	fake_host_set(fh, "SplunkHEC", "Index", "vigil");
	recs_make(&rs, 2);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_FATAL);
	ASSERT_CONTAINS(fake_host_logs(fh), "test.conf:3: [SplunkHEC] Index='vigil'");
	ASSERT_EQ(json_object_array_length(fake_get("events", &root)), 0);
	json_object_put(root);
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(bad_token_fatal_then_fixed_file_and_probe)
{
	char tok[256];
	struct fake_host *fh = new_host("not-the-token", tok, sizeof(tok));
	struct json_object *root, *rroot, *reqs;
	struct recs rs;
	uint8_t res[MAX_RECS];
	void *inst = NULL;

	FAKE_RESET("{\"tokens\":{\"" TOKEN "\":{}}}");
	recs_make(&rs, 2);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_FATAL);
	ASSERT_CONTAINS(fake_host_logs(fh), "check TokenFile=");
	ASSERT_EQ(json_object_array_length(fake_get("events", &root)), 0);
	json_object_put(root);

	/* A disabled token is fatal too (403 code 1). */
	FAKE_RESET("{\"tokens\":{\"not-the-token\":{\"disabled\":true},\"" TOKEN "\":{}}}");
	ASSERT_EQ(emit(inst, &rs, 2, res), VIGIL_FATAL);

	/* The operator fixes the file; probe() reads it again and checks health, posting nothing.
	 */
	FAKE_RESET("{\"tokens\":{\"" TOKEN "\":{}}}");
	write_file(tok, TOKEN "\n");
	ASSERT_EQ(plugin->probe(inst), VIGIL_OK);
	reqs = fake_get("requests", &rroot);
	ASSERT_EQ(json_object_array_length(reqs), 1);
	ASSERT_STREQ(jstr(json_object_array_get_idx(reqs, 0), "path"),
		     "/services/collector/health");
	ASSERT_STREQ(jstr(json_object_array_get_idx(reqs, 0), "method"), "GET");
	json_object_put(rroot);

	ASSERT_EQ(emit(inst, &rs, 3, res), VIGIL_OK);
	ASSERT_EQ(json_object_array_length(fake_get("events", &root)), 2);
	json_object_put(root);

	/* Unhealthy HEC: probe keeps the instance paused. */
	FAKE_RESET("{\"unhealthy\":true}");
	ASSERT_NE(plugin->probe(inst), VIGIL_OK);

	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(server_busy_and_no_response_retry)
{
	char tok[256];
	struct fake_host *fh = new_host(TOKEN, tok, sizeof(tok));
	struct json_object *root;
	struct recs rs;
	uint8_t res[MAX_RECS];
	void *inst = NULL;

	FAKE_RESET("{\"tokens\":{\"" TOKEN "\":{}},\"busy\":1}");
	recs_make(&rs, 3);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_RETRY);
	ASSERT_EQ(json_object_array_length(fake_get("events", &root)), 0);
	json_object_put(root);

	FAKE_RESET("{\"internal_error\":1}");
	ASSERT_EQ(emit(inst, &rs, 2, res), VIGIL_RETRY);

	/* No answer at all (libcurl itself retries once on a reused connection). */
	FAKE_RESET("{\"drop\":2}");
	ASSERT_EQ(emit(inst, &rs, 3, res), VIGIL_RETRY);
	ASSERT_EQ(json_object_array_length(fake_get("events", &root)), 0);
	json_object_put(root);
	FAKE_RESET(NULL);

	ASSERT_EQ(emit(inst, &rs, 4, res), VIGIL_OK);
	ASSERT_EQ(json_object_array_length(fake_get("events", &root)), 3);
	json_object_put(root);
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(invalid_event_number_splits_delivered_drop_redo)
{
	char tok[256];
	struct fake_host *fh = new_host(TOKEN, tok, sizeof(tok));
	struct json_object *root, *evs;
	struct recs rs;
	uint8_t res[MAX_RECS];
	void *inst = NULL;

	FAKE_RESET("{\"tokens\":{\"" TOKEN "\":{}},\"bad_event\":2}");
	recs_make(&rs, 5);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_OK);
	ASSERT_EQ(res[0], VIGIL_DELIVERED);
	ASSERT_EQ(res[1], VIGIL_DELIVERED);
	ASSERT_EQ(res[2], VIGIL_DROP);
	ASSERT_EQ(res[3], VIGIL_REDO);
	ASSERT_EQ(res[4], VIGIL_REDO);
	ASSERT_CONTAINS(fake_host_logs(fh), "seq=102");
	evs = fake_get("events", &root);
	ASSERT_EQ(json_object_array_length(evs), 2);
	ASSERT_EQ(event_pid(json_object_array_get_idx(evs, 0)), 1000);
	ASSERT_EQ(event_pid(json_object_array_get_idx(evs, 1)), 1001);
	json_object_put(root);
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(request_too_large_splits_then_drops_what_cannot_fit)
{
	char tok[256];
	struct fake_host *fh = new_host(TOKEN, tok, sizeof(tok));
	struct json_object *root, *evs;
	struct recs rs;
	uint8_t res[MAX_RECS];
	void *inst = NULL;
	char cfg[256];

	recs_make(&rs, 6);
	/* Room for two events per request, uncompressed. */
	snprintf(cfg, sizeof(cfg), "{\"tokens\":{\"" TOKEN "\":{}},\"max_content_length\":%u}",
		 2 * 1400);
	FAKE_RESET(cfg);
	fake_host_set(fh, "SplunkHEC", "Compress", "none");
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_OK);
	for (unsigned i = 0; i < 6; i++)
		ASSERT_EQ(res[i], VIGIL_DELIVERED);
	evs = fake_get("events", &root);
	ASSERT_EQ(json_object_array_length(evs), 6);
	for (unsigned i = 0; i < 6; i++)
		ASSERT_EQ(event_pid(json_object_array_get_idx(evs, i)), 1000 + i);
	json_object_put(root);

	/* No single event fits: each is dropped, none retried for ever. */
	FAKE_RESET("{\"max_content_length\":100}");
	ASSERT_EQ(emit(inst, &rs, 2, res), VIGIL_OK);
	for (unsigned i = 0; i < 6; i++)
		ASSERT_EQ(res[i], VIGIL_DROP);
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(max_request_bytes_splits_batches)
{
	char tok[256];
	struct fake_host *fh = new_host(TOKEN, tok, sizeof(tok));
	struct json_object *root, *rroot, *evs;
	struct recs rs;
	uint8_t res[MAX_RECS];
	void *inst = NULL;

	FAKE_RESET("{\"tokens\":{\"" TOKEN "\":{}}}");
	fake_host_set(fh, "SplunkHEC", "MaxRequestBytes", "3K");
	recs_make(&rs, 8);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_OK);
	evs = fake_get("events", &root);
	ASSERT_EQ(json_object_array_length(evs), 8);
	for (unsigned i = 0; i < 8; i++)
		ASSERT_EQ(event_pid(json_object_array_get_idx(evs, i)), 1000 + i);
	/* ~1.2 KiB per event: at least three requests, none of them refused. */
	ASSERT_GE(count_requests(fake_get("requests", &rroot), "/services/collector/event"), 3);
	json_object_put(root);
	json_object_put(rroot);
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(acks_pending_then_delivered)
{
	char tok[256];
	struct fake_host *fh = new_host(ACK_TOKEN, tok, sizeof(tok));
	struct json_object *rroot, *reqs;
	struct recs rs;
	uint8_t res[MAX_RECS], acked[MAX_RECS];
	void *inst = NULL;

	FAKE_RESET("{\"tokens\":{\"" ACK_TOKEN "\":{\"ack\":true}},\"ack_delay\":0.5}");
	fake_host_set(fh, "SplunkHEC", "UseAck", "yes");
	fake_host_set(fh, "SplunkHEC", "AckPollIntervalSec", "100ms");
	recs_make(&rs, 4);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	fake_host_expect(fh, 7, 4);
	ASSERT_EQ(emit(inst, &rs, 7, res), VIGIL_PENDING);
	memset(acked, 0xee, sizeof(acked));
	ASSERT_OK(fake_host_wait_ack(fh, 7, acked, 4, WAIT_MS));
	for (unsigned i = 0; i < 4; i++)
		ASSERT_EQ(acked[i], VIGIL_DELIVERED);
	reqs = fake_get("requests", &rroot);
	ASSERT_GE(count_requests(reqs, "/services/collector/ack"), 1);
	/* Nothing waits any more: flush returns at once. */
	ASSERT_EQ(plugin->flush(inst, 1000000), VIGIL_OK);
	json_object_put(rroot);
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(ack_timeout_redoes_the_batch)
{
	char tok[256];
	struct fake_host *fh = new_host(ACK_TOKEN, tok, sizeof(tok));
	struct recs rs;
	uint8_t res[MAX_RECS], acked[MAX_RECS];
	void *inst = NULL;

	FAKE_RESET("{\"tokens\":{\"" ACK_TOKEN "\":{\"ack\":true}},\"ack_never\":true}");
	fake_host_set(fh, "SplunkHEC", "UseAck", "yes");
	fake_host_set(fh, "SplunkHEC", "AckPollIntervalSec", "100ms");
	fake_host_set(fh, "SplunkHEC", "AckTimeoutSec", "1s");
	recs_make(&rs, 3);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	fake_host_expect(fh, 9, 3);
	ASSERT_EQ(emit(inst, &rs, 9, res), VIGIL_PENDING);
	memset(acked, 0xee, sizeof(acked));
	ASSERT_OK(fake_host_wait_ack(fh, 9, acked, 3, WAIT_MS));
	for (unsigned i = 0; i < 3; i++)
		ASSERT_EQ(acked[i], VIGIL_REDO);
	ASSERT_CONTAINS(fake_host_logs(fh), "AckTimeoutSec=");
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(acks_with_partial_failure_settle_each_part)
{
	char tok[256];
	struct fake_host *fh = new_host(ACK_TOKEN, tok, sizeof(tok));
	struct recs rs;
	uint8_t res[MAX_RECS], acked[MAX_RECS];
	void *inst = NULL;

	/* Event 1 is bad: 0 indexed (no ackId for it: REDO), 1 dropped, 2 and 3 sent again. */
	FAKE_RESET("{\"tokens\":{\"" ACK_TOKEN "\":{\"ack\":true}},\"bad_event\":1}");
	fake_host_set(fh, "SplunkHEC", "UseAck", "yes");
	fake_host_set(fh, "SplunkHEC", "AckPollIntervalSec", "100ms");
	recs_make(&rs, 4);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_OK);
	/* HEC indexed event 0, but without an ackId nothing confirms it: sent again. */
	ASSERT_EQ(res[0], VIGIL_REDO);
	ASSERT_EQ(res[1], VIGIL_DROP);
	ASSERT_EQ(res[2], VIGIL_REDO);
	ASSERT_EQ(res[3], VIGIL_REDO);

	/* Two requests (MaxRequestBytes), two ackIds: the batch settles when both are indexed. */
	plugin->fini(inst);
	fake_host_set(fh, "SplunkHEC", "MaxRequestBytes", "3K");
	FAKE_RESET("{\"ack_delay\":0.2}");
	ASSERT_OK(plugin->init(&fh->host, &inst));
	fake_host_expect(fh, 2, 4);
	ASSERT_EQ(emit(inst, &rs, 2, res), VIGIL_PENDING);
	ASSERT_OK(fake_host_wait_ack(fh, 2, acked, 4, WAIT_MS));
	for (unsigned i = 0; i < 4; i++)
		ASSERT_EQ(acked[i], VIGIL_DELIVERED);
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

static char *request_channel(size_t idx)
{
	struct json_object *rroot, *reqs = fake_get("requests", &rroot);
	const char *c = jstr(json_object_array_get_idx(reqs, idx), "channel");
	char *s = c ? strdup(c) : NULL;

	json_object_put(rroot);
	return s;
}

TEST(channel_persisted_across_instances)
{
	char tok[256], path[512], line[64] = "";
	struct fake_host *fh = new_host(ACK_TOKEN, tok, sizeof(tok));
	struct recs rs;
	uint8_t res[MAX_RECS], acked[MAX_RECS];
	void *inst = NULL;
	char *c1, *c2;
	FILE *f;

	FAKE_RESET("{\"tokens\":{\"" ACK_TOKEN "\":{\"ack\":true}}}");
	fake_host_set(fh, "SplunkHEC", "UseAck", "yes");
	fake_host_set(fh, "SplunkHEC", "AckPollIntervalSec", "100ms");
	recs_make(&rs, 1);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	fake_host_expect(fh, 1, 1);
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_PENDING);
	ASSERT_OK(fake_host_wait_ack(fh, 1, acked, 1, WAIT_MS));
	plugin->fini(inst);
	c1 = request_channel(0);

	snprintf(path, sizeof(path), "%s/splunk-hec-channel", fh->state_dir);
	f = fopen(path, "re");
	ASSERT_NOT_NULL(f);
	ASSERT_NOT_NULL(fgets(line, sizeof(line), f));
	fclose(f);
	line[strcspn(line, "\n")] = 0;
	ASSERT_STREQ(c1, line);

	/* A second instance (a restart) on the same state directory talks on the same channel. */
	FAKE_RESET(NULL);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	fake_host_expect(fh, 2, 1);
	ASSERT_EQ(emit(inst, &rs, 2, res), VIGIL_PENDING);
	ASSERT_OK(fake_host_wait_ack(fh, 2, acked, 1, WAIT_MS));
	plugin->fini(inst);
	c2 = request_channel(0);
	ASSERT_STREQ(c2, c1);

	/* Channel= wins over the saved one. */
	fake_host_set(fh, "SplunkHEC", "Channel", "0aecd5c8-5ad2-4e0c-a2c4-4c5e05e8b6b0");
	FAKE_RESET(NULL);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	fake_host_expect(fh, 3, 1);
	ASSERT_EQ(emit(inst, &rs, 3, res), VIGIL_PENDING);
	ASSERT_OK(fake_host_wait_ack(fh, 3, acked, 1, WAIT_MS));
	plugin->fini(inst);
	free(c2);
	c2 = request_channel(0);
	ASSERT_STREQ(c2, "0aecd5c8-5ad2-4e0c-a2c4-4c5e05e8b6b0");
	free(c1);
	free(c2);
	recs_done(&rs);
	fake_host_free(fh);
}

/* init() must fail with -EINVAL and log @want ("test.conf:N: …"). */
static void expect_config_error(const char *key, const char *value, const char *want)
{
	char tok[256];
	struct fake_host *fh = new_host(TOKEN, tok, sizeof(tok));
	void *inst = NULL;

	if (key)
		fake_host_set(fh, "SplunkHEC", key, value);
	ASSERT_ERRNO(plugin->init(&fh->host, &inst), EINVAL);
	ASSERT_CONTAINS(fake_host_logs(fh), want);
	fake_host_free(fh);
}

TEST(config_errors_name_file_and_line)
{
	struct fake_host *fh = fake_host_new("hec-test");
	void *inst = NULL;

	ASSERT_ERRNO(plugin->init(&fh->host, &inst), EINVAL);
	ASSERT_CONTAINS(fake_host_logs(fh), "URL= is required");
	fake_host_free(fh);

	expect_config_error("UseAck", "maybe",
			    "test.conf:3: [SplunkHEC] UseAck='maybe' is invalid");
	expect_config_error("Channel", "not-a-guid",
			    "test.conf:3: [SplunkHEC] Channel='not-a-guid' is invalid");
	expect_config_error("MaxRequestBytes", "lots",
			    "test.conf:3: [SplunkHEC] MaxRequestBytes='lots' is invalid");
	expect_config_error("AckTimeoutSec", "soon",
			    "test.conf:3: [SplunkHEC] AckTimeoutSec='soon' is invalid");
	expect_config_error("URL", "splunk:8088", "test.conf:3: [SplunkHEC] URL='splunk:8088'");
	expect_config_error("TokenFile", "relative/token",
			    "test.conf:3: [SplunkHEC] TokenFile='relative/token' is not absolute");
}

TEST(url_with_endpoint_path_is_accepted)
{
	char tok[256], url[128];
	struct fake_host *fh = new_host(TOKEN, tok, sizeof(tok));
	struct json_object *root;
	struct recs rs;
	uint8_t res[MAX_RECS];
	void *inst = NULL;

	FAKE_RESET("{\"tokens\":{\"" TOKEN "\":{}}}");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/services/collector/event/", fake_port);
	fake_host_set(fh, "SplunkHEC", "URL", url);
	recs_make(&rs, 1);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_OK);
	ASSERT_EQ(json_object_array_length(fake_get("events", &root)), 1);
	json_object_put(root);
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

static size_t count_events(void)
{
	struct json_object *root, *evs = fake_get("events", &root);
	size_t n = evs ? json_object_array_length(evs) : (size_t)-1;

	json_object_put(root);
	return n;
}

TEST(non_hec_answers_are_never_delivered_and_turn_fatal)
{
	char tok[256];
	struct fake_host *fh = new_host(TOKEN, tok, sizeof(tok));
	struct recs rs;
	uint8_t res[MAX_RECS];
	void *inst = NULL;

	/* A proxy answering 200 with an HTML page for a dead HEC: not delivered. */
	FAKE_RESET("{\"tokens\":{\"" TOKEN "\":{}},\"non_hec\":3}");
	recs_make(&rs, 3);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_RETRY);
	ASSERT_CONTAINS(fake_host_logs(fh), "HTTP 200 '<html>");
	ASSERT_CONTAINS(fake_host_logs(fh), "not a Splunk HEC answer");
	ASSERT_EQ(emit(inst, &rs, 2, res), VIGIL_RETRY);
	/* It keeps happening: the configuration is wrong, pause (records kept). */
	ASSERT_EQ(emit(inst, &rs, 3, res), VIGIL_FATAL);
	ASSERT_CONTAINS(fake_host_logs(fh), "test.conf:1: [SplunkHEC] URL=");
	ASSERT_EQ(count_events(), 0);
	/* probe() wants HEC's own health answer, not any 200. */
	FAKE_RESET("{\"non_hec_health\":true}");
	ASSERT_NE(plugin->probe(inst), VIGIL_OK);
	FAKE_RESET(NULL);
	ASSERT_EQ(plugin->probe(inst), VIGIL_OK);
	ASSERT_EQ(emit(inst, &rs, 4, res), VIGIL_OK);
	for (unsigned i = 0; i < 3; i++)
		ASSERT_EQ(res[i], VIGIL_DELIVERED);
	ASSERT_EQ(count_events(), 3);

	/* A 404 page (a wrong path prefix): retried, never dropped. */
	FAKE_RESET("{\"non_hec\":1,\"non_hec_status\":404}");
	ASSERT_EQ(emit(inst, &rs, 5, res), VIGIL_RETRY);
	ASSERT_EQ(count_events(), 0);
	ASSERT_EQ(emit(inst, &rs, 6, res), VIGIL_OK);
	ASSERT_EQ(res[0], VIGIL_DELIVERED);
	ASSERT_EQ(count_events(), 3);
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(use_ack_without_ack_id_retries_unless_acks_are_off)
{
	char tok[256];
	struct fake_host *fh = new_host(ACK_TOKEN, tok, sizeof(tok));
	struct recs rs;
	uint8_t res[MAX_RECS], acked[MAX_RECS];
	void *inst = NULL;

	/* An answer without ackId while the token has acknowledgement on: not delivered. */
	FAKE_RESET("{\"tokens\":{\"" ACK_TOKEN "\":{\"ack\":true}},\"no_ack_id\":1}");
	fake_host_set(fh, "SplunkHEC", "UseAck", "yes");
	fake_host_set(fh, "SplunkHEC", "AckPollIntervalSec", "100ms");
	recs_make(&rs, 2);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_RETRY);
	ASSERT_CONTAINS(fake_host_logs(fh), "carries no ackId");
	fake_host_expect(fh, 2, 2);
	ASSERT_EQ(emit(inst, &rs, 2, res), VIGIL_PENDING);
	ASSERT_OK(fake_host_wait_ack(fh, 2, acked, 2, WAIT_MS));
	ASSERT_EQ(acked[0], VIGIL_DELIVERED);
	ASSERT_EQ(acked[1], VIGIL_DELIVERED);

	/* The token has acknowledgement off: HEC says so on /ack (code 14), records count. */
	FAKE_RESET("{\"tokens\":{\"" ACK_TOKEN "\":{\"ack\":false}}}");
	ASSERT_EQ(emit(inst, &rs, 3, res), VIGIL_OK);
	ASSERT_EQ(res[0], VIGIL_DELIVERED);
	ASSERT_EQ(res[1], VIGIL_DELIVERED);
	ASSERT_CONTAINS(fake_host_logs(fh), "code 14");
	ASSERT_EQ(count_events(), 2);
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(ack_id_reused_after_splunk_restart_redoes_the_old_batch)
{
	char tok[256];
	struct fake_host *fh = new_host(ACK_TOKEN, tok, sizeof(tok));
	struct recs rs;
	uint8_t res[MAX_RECS], acked[MAX_RECS];
	void *inst = NULL;
	char *r;

	/* Batch 1 gets ackId 0 and is never indexed: Splunk restarts and loses it. */
	FAKE_RESET("{\"tokens\":{\"" ACK_TOKEN "\":{\"ack\":true}},\"ack_never\":true}");
	fake_host_set(fh, "SplunkHEC", "UseAck", "yes");
	fake_host_set(fh, "SplunkHEC", "AckPollIntervalSec", "100ms");
	recs_make(&rs, 2);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	fake_host_expect(fh, 1, 2);
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_PENDING);
	r = fake_call("POST", "/_fake/config", "{\"restart\":true,\"ack_never\":false}");
	ASSERT_NOT_NULL(r);
	free(r);
	/* Batch 2 gets ackId 0 again, on the same channel, and is indexed. */
	fake_host_expect(fh, 2, 2);
	ASSERT_EQ(emit(inst, &rs, 2, res), VIGIL_PENDING);
	memset(acked, 0xee, sizeof(acked));
	ASSERT_OK(fake_host_wait_ack(fh, 1, acked, 2, WAIT_MS));
	ASSERT_EQ(acked[0], VIGIL_REDO);
	ASSERT_EQ(acked[1], VIGIL_REDO);
	memset(acked, 0xee, sizeof(acked));
	ASSERT_OK(fake_host_wait_ack(fh, 2, acked, 2, WAIT_MS));
	ASSERT_EQ(acked[0], VIGIL_DELIVERED);
	ASSERT_EQ(acked[1], VIGIL_DELIVERED);
	ASSERT_CONTAINS(fake_host_logs(fh), "reused their ackId");
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);
}

static bool ack_request_hanging(void)
{
	struct json_object *rroot, *reqs = fake_get("requests", &rroot), *v;
	bool found = false;

	for (size_t i = 0; reqs && i < json_object_array_length(reqs); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(reqs, i), "hanging", &v))
			found = true;
	json_object_put(rroot);
	return found;
}

TEST(fini_cuts_a_hanging_ack_poll_short)
{
	char tok[256];
	struct fake_host *fh = new_host(ACK_TOKEN, tok, sizeof(tok));
	struct timespec t0, t1;
	struct recs rs;
	uint8_t res[MAX_RECS];
	void *inst = NULL;
	int i;

	/* /ack answers after 60 s; TimeoutSec= would wait 120 s. */
	FAKE_RESET("{\"tokens\":{\"" ACK_TOKEN "\":{\"ack\":true}},\"ack_hang\":60}");
	fake_host_set(fh, "SplunkHEC", "UseAck", "yes");
	fake_host_set(fh, "SplunkHEC", "AckPollIntervalSec", "100ms");
	fake_host_set(fh, "SplunkHEC", "TimeoutSec", "120s");
	recs_make(&rs, 1);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	fake_host_expect(fh, 1, 1);
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_PENDING);
	for (i = 0; i < WAIT_MS / 50 && !ack_request_hanging(); i++)
		usleep(50000);
	ASSERT_TRUE(ack_request_hanging());
	clock_gettime(CLOCK_MONOTONIC, &t0);
	plugin->fini(inst);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Not a speed test: only that fini() did not sit out the 60 s request. */
	ASSERT_TRUE(t1.tv_sec - t0.tv_sec < 30);
	FAKE_RESET(NULL);
	recs_done(&rs);
	fake_host_free(fh);
}

TEST(userinfo_in_url_is_never_logged)
{
	char tok[256], url[128];
	struct fake_host *fh = new_host(TOKEN, tok, sizeof(tok));
	struct recs rs;
	uint8_t res[MAX_RECS];
	void *inst = NULL;

	FAKE_RESET("{\"tokens\":{\"" TOKEN "\":{}},\"non_hec\":1}");
	snprintf(url, sizeof(url), "http://vigil:s3cr3tpw@127.0.0.1:%d", fake_port);
	fake_host_set(fh, "SplunkHEC", "URL", url);
	recs_make(&rs, 1);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit(inst, &rs, 1, res), VIGIL_RETRY);
	ASSERT_CONTAINS(fake_host_logs(fh), "not a Splunk HEC answer");
	ASSERT_CONTAINS(fake_host_logs(fh), "http://127.0.0.1:");
	ASSERT_NULL(strstr(fake_host_logs(fh), "s3cr3tpw"));
	plugin->fini(inst);
	recs_done(&rs);
	fake_host_free(fh);

	expect_config_error("URL", "vigil:s3cr3tpw@splunk:8088",
			    "test.conf:3: [SplunkHEC] URL='splunk:8088' is invalid");
}

int main(void)
{
	int r;

	if (system("command -v python3 >/dev/null 2>&1") != 0)
		tap_skip_all("python3 not installed");
	if (!mkdtemp(dir))
		tap_skip_all("cannot create a temporary directory");
	plugin = fake_host_load("out_splunk_hec.so");
	start_fake();
	if (fake_port <= 0) {
		printf("1..1\nnot ok 1 - fake_hec.py did not start\n");
		stop_fake();
		return 1;
	}
	r = tap_run();
	stop_fake();
	if (!getenv("KEEP_TEST_DIR")) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			r = 1;
	}
	return r;
}
