/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_elasticsearch.so through dlopen and the fake host, against tests/servers/fake_es.py (a
 * loopback model of the _bulk API): documents and _id, both formats, index pattern, data
 * stream, pipeline, gzip, per-item results, whole-request failures, auth, failover, 413 split,
 * config errors; batches in flight (emit() returns PENDING, the sender thread acknowledges in
 * order), a failed request among them, and the synchronous mode after a failure.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "fake_host.h"
#include "tap.h"
#include "testrec.h"

static const struct vigil_plugin *plugin;
static pid_t server_pid;
static int server_port;
static char base_url[64];
static char dir[] = "/tmp/vigil-test-es.XXXXXX";

static void stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		(void)waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
}

static void start_server(void)
{
	char port_file[128];
	FILE *f;

	snprintf(port_file, sizeof(port_file), "%s/port", dir);
	server_pid = fork();
	if (server_pid == 0) {
		execlp("python3", "python3", FAKE_ES, "--port-file", port_file, "--data-streams",
		       "logs-vigil-default", (char *)NULL);
		_exit(127);
	}
	atexit(stop_server);
	/* Generous: the machine may be busy. */
	for (int i = 0; i < 300 && !(f = fopen(port_file, "re")); i++)
		usleep(50 * 1000);
	if (!f || fscanf(f, "%d", &server_port) != 1) {
		printf("Bail out! fake_es.py did not start\n");
		exit(1);
	}
	fclose(f);
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", server_port);
}

static size_t collect(char *p, size_t s, size_t n, void *u)
{
	struct vbuf_ {
		char *d;
		size_t len;
	} *b = u;
	char *q = realloc(b->d, b->len + s * n + 1);
	if (!q)
		return 0;
	memcpy(q + b->len, p, s * n);
	b->d = q;
	b->len += s * n;
	b->d[b->len] = 0;
	return s * n;
}

/* The fake's control API: GET when @body is NULL, else POST of JSON @body. Parsed response. */
static struct json_object *ctl(const char *path, const char *body)
{
	struct {
		char *d;
		size_t len;
	} b = {};
	char url[256];
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *c = curl_easy_init();
	struct json_object *o;

	snprintf(url, sizeof(url), "%s%s", base_url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) != CURLE_OK) {
		printf("Bail out! control request %s failed\n", path);
		exit(1);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	o = json_tokener_parse(b.d ? b.d : "null");
	free(b.d);
	return o;
}

static void reset(void)
{
	json_object_put(ctl("/_fake/reset", "{}"));
}

static struct json_object *jpath(struct json_object *o, const char *const *path)
{
	for (; o && *path; path++) {
		struct json_object *n = NULL;
		if (json_object_is_type(o, json_type_array))
			n = json_object_array_get_idx(o, (size_t)atoi(*path));
		else if (!json_object_object_get_ex(o, *path, &n))
			return NULL;
		o = n;
	}
	return o;
}
#define J(o, ...)    jpath((o), (const char *const[]){__VA_ARGS__, NULL})
#define JSTR(o, ...) json_object_get_string(J((o), __VA_ARGS__))
#define JINT(o, ...) json_object_get_int64(J((o), __VA_ARGS__))

/* A process_exec (or exit) record for @pid at @sec. */
static void make_rec(msgpack_sbuffer *sb, const char *event, uint32_t pid, int64_t sec)
{
	msgpack_packer pk;
	struct testproc p = testrec_curl;
	bool exit = strcmp(event, "process_exit") == 0;

	p.pid = p.tid = pid;
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	testrec_pack_str(&pk, event);
	msgpack_pack_map(&pk, exit ? 4 : 2);
	testrec_pack_str(&pk, "process");
	testrec_pack_process(&pk, &p);
	testrec_pack_str(&pk, "parent");
	testrec_pack_process(&pk, &testrec_bash);
	if (exit) {
		testrec_pack_str(&pk, "status");
		msgpack_pack_uint32(&pk, 3);
		testrec_pack_str(&pk, "signal");
		testrec_pack_str(&pk, "");
	}
	testrec_pack_str(&pk, "node_name");
	testrec_pack_str(&pk, "web-1");
	testrec_pack_str(&pk, "time");
	testrec_pack_time(&pk, 12, sec, 123456789);
}

#define T_2026 1795305541 /* 2026-11-21T23:59:01Z */

struct recs {
	msgpack_sbuffer sb[64];
	struct vigil_record r[64];
	uint8_t results[64];
	size_t n;
};

/* Every record buffer made by recs_add(), freed at the end of main(). */
static char **rec_bufs;
static size_t n_rec_bufs;

static void recs_add(struct recs *rs, const char *event, uint32_t pid, int64_t sec)
{
	msgpack_sbuffer *sb = &rs->sb[rs->n];

	msgpack_sbuffer_init(sb);
	make_rec(sb, event, pid, sec);
	rec_bufs = realloc(rec_bufs, (n_rec_bufs + 1) * sizeof(*rec_bufs));
	rec_bufs[n_rec_bufs++] = sb->data;
	rs->r[rs->n] = (struct vigil_record){(const uint8_t *)sb->data, (uint32_t)sb->size,
					     VIGIL_RECORD_PROCESS_EXEC, rs->n};
	rs->n++;
}

static struct fake_host *cur_fh; /* of the instance init_ok() made last */
static uint64_t next_batch_id = 1;
static bool last_pending; /* the last recs_emit() went asynchronous */

/* emit() without waiting: a PENDING batch is acknowledged later, see recs_wait(). */
static enum vigil_status recs_emit_async(void *inst, struct recs *rs, uint64_t id)
{
	struct vigil_batch b = {
		.records = rs->r, .n_records = (uint32_t)rs->n, .schema_major = 1, .id = id};

	memset(rs->results, VIGIL_DELIVERED, sizeof(rs->results));
	fake_host_expect(cur_fh, id, rs->n);
	return plugin->emit(inst, &b, rs->results);
}

/* Wait (generously) for the ack of batch @id into rs->results. */
static int recs_wait(struct recs *rs, uint64_t id)
{
	return fake_host_wait_ack(cur_fh, id, rs->results, rs->n, 20000);
}

/*
 * emit() as the host sees it in the end: a PENDING batch is waited for, and its acknowledged
 * results count like those of an OK (so the result is VIGIL_OK with rs->results filled).
 */
static enum vigil_status recs_emit(void *inst, struct recs *rs)
{
	uint64_t id = next_batch_id++;
	enum vigil_status st = recs_emit_async(inst, rs, id);

	last_pending = st == VIGIL_PENDING;
	if (st != VIGIL_PENDING)
		return st;
	if (recs_wait(rs, id) < 0) {
		printf("# no ack for batch %llu\n", (unsigned long long)id);
		return (enum vigil_status) - 1;
	}
	return VIGIL_OK;
}

static bool all_results(const struct recs *rs, uint8_t v)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->results[i] != v)
			return false;
	return true;
}

static void id_of(const struct vigil_record *r, char out[33])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits(r->data, r->size));
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", c.digest[i]);
}

static struct fake_host *host_new(void)
{
	struct fake_host *fh = fake_host_new("es-test");
	fake_host_set(fh, "Elasticsearch", "Hosts", base_url);
	return fh;
}

static void *init_ok(struct fake_host *fh)
{
	void *inst = NULL;
	int r = plugin->init(&fh->host, &inst);
	if (r < 0)
		printf("# init: %s", fake_host_logs(fh));
	ASSERT_OK(r);
	cur_fh = fh;
	return inst;
}

static struct json_object *last_request(void)
{
	struct json_object *o = ctl("/_fake/requests", NULL);
	size_t n = json_object_array_length(J(o, "requests"));
	struct json_object *last =
		json_object_get(json_object_array_get_idx(J(o, "requests"), n - 1));
	json_object_put(o);
	return last;
}

TEST(descriptor)
{
	ASSERT_STREQ(plugin->name, "elasticsearch");
	ASSERT_EQ(plugin->max_in_flight, 4u);
	ASSERT_EQ(plugin->flags & VIGIL_PLUGIN_F_SPOOL, VIGIL_PLUGIN_F_SPOOL);
	ASSERT_NOT_NULL(plugin->probe);
}

TEST(tetragon_documents_and_ids)
{
	struct fake_host *fh = host_new();
	void *inst;
	struct recs rs = {};
	struct json_object *docs, *req;
	char id[33];

	reset();
	inst = init_ok(fh);
	for (int i = 0; i < 3; i++)
		recs_add(&rs, "process_exec", 100 + i, T_2026);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(rs.results[i], VIGIL_DELIVERED);

	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 3);
	for (int i = 0; i < 3; i++) {
		struct json_object *d;
		id_of(&rs.r[i], id);
		d = J(docs, "vigil-2026.11.21", id);
		ASSERT_NOT_NULL(d);
		ASSERT_STREQ(JSTR(d, "@timestamp"), "2026-11-21T23:59:01.123456789Z");
		ASSERT_STREQ(JSTR(d, "time"), "2026-11-21T23:59:01.123456789Z");
		ASSERT_EQ(JINT(d, "process_exec", "process", "pid"), 100 + i);
		ASSERT_STREQ(JSTR(d, "node_name"), "web-1");
	}
	json_object_put(docs);
	/* Compress= defaults to gzip; no pipeline unless asked. */
	req = last_request();
	ASSERT_TRUE(json_object_get_boolean(J(req, "gzip")));
	ASSERT_NULL(J(req, "query", "pipeline"));
	ASSERT_EQ(JINT(req, "actions"), 3);
	json_object_put(req);

	/* The same records again (a replay): delivered, no duplicates. */
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(rs.results[i], VIGIL_DELIVERED);
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 3);
	json_object_put(docs);
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(compress_none)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	struct json_object *req;
	void *inst;

	reset();
	fake_host_set(fh, "Elasticsearch", "Compress", "none");
	inst = init_ok(fh);
	recs_add(&rs, "process_exec", 1, T_2026);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	req = last_request();
	ASSERT_FALSE(json_object_get_boolean(J(req, "gzip")));
	ASSERT_EQ(JINT(req, "content_length"), JINT(req, "body_length"));
	json_object_put(req);
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(ecs_exec_and_exit)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	struct json_object *docs, *d;
	char id[33];
	void *inst;

	reset();
	fake_host_set(fh, "Elasticsearch", "Format", "ecs");
	inst = init_ok(fh);
	recs_add(&rs, "process_exec", 4242, T_2026);
	recs_add(&rs, "process_exit", 4242, T_2026 + 1);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_EQ(rs.results[0], VIGIL_DELIVERED);
	ASSERT_EQ(rs.results[1], VIGIL_DELIVERED);
	docs = ctl("/_fake/docs", NULL);

	id_of(&rs.r[0], id);
	d = J(docs, "vigil-2026.11.21", id);
	ASSERT_NOT_NULL(d);
	ASSERT_STREQ(JSTR(d, "@timestamp"), "2026-11-21T23:59:01.123456789Z");
	ASSERT_STREQ(JSTR(d, "event", "kind"), "event");
	ASSERT_STREQ(JSTR(d, "event", "category", "0"), "process");
	ASSERT_STREQ(JSTR(d, "event", "type", "0"), "start");
	ASSERT_STREQ(JSTR(d, "event", "action"), "exec");
	ASSERT_STREQ(JSTR(d, "event", "dataset"), "vigil.events");
	ASSERT_STREQ(JSTR(d, "event", "module"), "vigil");
	ASSERT_STREQ(JSTR(d, "event", "id"), id);
	ASSERT_EQ(JINT(d, "process", "pid"), 4242);
	ASSERT_STREQ(JSTR(d, "process", "entity_id"), testrec_curl.exec_id);
	ASSERT_STREQ(JSTR(d, "process", "executable"), "/usr/bin/curl");
	ASSERT_STREQ(JSTR(d, "process", "name"), "curl");
	ASSERT_STREQ(JSTR(d, "process", "args", "0"), testrec_curl.argv[0]);
	ASSERT_EQ((size_t)JINT(d, "process", "args_count"),
		  json_object_array_length(J(d, "process", "args")));
	ASSERT_TRUE(JINT(d, "process", "args_count") >= 2);
	ASSERT_NOT_NULL(strstr(JSTR(d, "process", "command_line"), testrec_curl.argv[1]));
	ASSERT_STREQ(JSTR(d, "process", "working_directory"), "/var/www");
	ASSERT_NOT_NULL(J(d, "process", "start"));
	ASSERT_NULL(J(d, "process", "exit_code"));
	ASSERT_EQ(JINT(d, "process", "parent", "pid"), 1200);
	ASSERT_STREQ(JSTR(d, "process", "parent", "entity_id"), testrec_bash.exec_id);
	ASSERT_STREQ(JSTR(d, "process", "parent", "executable"), "/bin/bash");
	ASSERT_STREQ(JSTR(d, "user", "id"), "33");
	ASSERT_STREQ(JSTR(d, "group", "id"), "33");
	ASSERT_STREQ(JSTR(d, "host", "name"), "web-1");
	ASSERT_STREQ(JSTR(d, "vigil", "process", "unit"), "nginx.service");
	ASSERT_NULL(J(d, "orchestrator"));

	id_of(&rs.r[1], id);
	d = J(docs, "vigil-2026.11.21", id);
	ASSERT_NOT_NULL(d);
	ASSERT_STREQ(JSTR(d, "event", "type", "0"), "end");
	ASSERT_STREQ(JSTR(d, "event", "action"), "exit");
	ASSERT_EQ(JINT(d, "process", "exit_code"), 3);
	ASSERT_STREQ(JSTR(d, "vigil", "signal"), "");
	json_object_put(docs);
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(index_date_pattern)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	struct json_object *docs;
	void *inst;

	reset();
	fake_host_set(fh, "Elasticsearch", "Index", "audit-%Y-%m");
	inst = init_ok(fh);
	recs_add(&rs, "process_exec", 1, 1709251199); /* 2024-02-29T23:59:59Z */
	recs_add(&rs, "process_exec", 1, 1709251200); /* 2024-03-01T00:00:00Z */
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "audit-2024-02")), 1);
	ASSERT_EQ(json_object_object_length(J(docs, "audit-2024-03")), 1);
	json_object_put(docs);
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(data_stream_create_and_409)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	struct json_object *docs, *reqs;
	void *inst;

	reset();
	fake_host_set(fh, "Elasticsearch", "DataStream", "logs-vigil-default");
	inst = init_ok(fh);
	recs_add(&rs, "process_exec", 1, T_2026);
	recs_add(&rs, "process_exec", 2, T_2026);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_EQ(rs.results[0], VIGIL_DELIVERED);
	ASSERT_EQ(rs.results[1], VIGIL_DELIVERED);
	/* Resend: the data stream answers 409 per item, which means delivered. */
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_EQ(rs.results[0], VIGIL_DELIVERED);
	ASSERT_EQ(rs.results[1], VIGIL_DELIVERED);
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "logs-vigil-default")), 2);
	json_object_put(docs);
	reqs = ctl("/_fake/requests", NULL);
	ASSERT_EQ(JINT(reqs, "count"), 2);
	json_object_put(reqs);
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(pipeline_param)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	struct json_object *req;
	void *inst;

	reset();
	fake_host_set(fh, "Elasticsearch", "Pipeline", "geo ip&x");
	inst = init_ok(fh);
	recs_add(&rs, "process_exec", 1, T_2026);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	req = last_request();
	ASSERT_STREQ(JSTR(req, "query", "pipeline"), "geo ip&x");
	json_object_put(req);
	plugin->fini(inst);
	fake_host_free(fh);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s = NULL;
	size_t n = 0;

	if (!f)
		return NULL;
	if (getdelim(&s, &n, '\0', f) < 0) {
		free(s);
		s = strdup("");
	}
	fclose(f);
	return s;
}

TEST(partial_failure_redo_and_drop)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	char cfg[256], dl[128], id0[33];
	struct json_object *docs, *line;
	char *text;
	void *inst;

	reset();
	snprintf(dl, sizeof(dl), "%s/dead.jsonl", dir);
	unlink(dl);
	fake_host_set(fh, "Elasticsearch", "DeadLetterFile", dl);
	inst = init_ok(fh);
	for (int i = 0; i < 6; i++)
		recs_add(&rs, "process_exec", 10 + i, T_2026);
	id_of(&rs.r[0], id0);
	/* Every 3rd item 429; item 0 a mapping error. */
	snprintf(cfg, sizeof(cfg), "{\"item_429_every\":3,\"item_status_ids\":{\"%s\":400}}", id0);
	json_object_put(ctl("/_fake/config", cfg));
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_EQ(rs.results[0], VIGIL_DROP);
	ASSERT_EQ(rs.results[1], VIGIL_DELIVERED);
	ASSERT_EQ(rs.results[2], VIGIL_REDO);
	ASSERT_EQ(rs.results[3], VIGIL_DELIVERED);
	ASSERT_EQ(rs.results[4], VIGIL_DELIVERED);
	ASSERT_EQ(rs.results[5], VIGIL_REDO);
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 3);
	json_object_put(docs);
	ASSERT_CONTAINS(fake_host_logs(fh), "mapper_parsing_exception");
	ASSERT_CONTAINS(fake_host_logs(fh), id0);

	/* Exactly one dead-letter line, for item 0, with the document. */
	text = slurp(dl);
	ASSERT_NOT_NULL(text);
	ASSERT_NOT_NULL(strchr(text, '\n'));
	ASSERT_EQ(strchr(text, '\n')[1], '\0');
	line = json_tokener_parse(text);
	ASSERT_NOT_NULL(line);
	ASSERT_EQ(JINT(line, "status"), 400);
	ASSERT_STREQ(JSTR(line, "error", "type"), "mapper_parsing_exception");
	ASSERT_STREQ(JSTR(line, "id"), id0);
	ASSERT_STREQ(JSTR(line, "index"), "vigil-2026.11.21");
	ASSERT_EQ(JINT(line, "document", "process_exec", "process", "pid"), 10);
	ASSERT_NOT_NULL(J(line, "time"));
	json_object_put(line);
	free(text);
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(whole_request_503_and_429_retry)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	struct json_object *docs;
	void *inst;

	reset();
	inst = init_ok(fh);
	recs_add(&rs, "process_exec", 1, T_2026);
	recs_add(&rs, "process_exec", 2, T_2026);
	/* In flight when the cluster says 503: acknowledged as REDO, nothing stored. */
	json_object_put(ctl("/_fake/config", "{\"fail_status\":503,\"fail_count\":1}"));
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_TRUE(last_pending);
	ASSERT_TRUE(all_results(&rs, VIGIL_REDO));
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(docs), 0);
	json_object_put(docs);

	/* After a failure emit() waits for its request: the host sees RETRY and backs off. */
	json_object_put(
		ctl("/_fake/config", "{\"fail_status\":429,\"fail_count\":1,\"retry_after\":7}"));
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_RETRY);
	ASSERT_FALSE(last_pending);
	ASSERT_CONTAINS(fake_host_logs(fh), "Retry-After 7");

	/* Still synchronous until a request succeeds; then asynchronous again. */
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_FALSE(last_pending);
	ASSERT_TRUE(all_results(&rs, VIGIL_DELIVERED));
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 2);
	json_object_put(docs);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_TRUE(last_pending);
	ASSERT_TRUE(all_results(&rs, VIGIL_DELIVERED));
	plugin->fini(inst);
	fake_host_free(fh);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

TEST(auth_401_fatal_then_probe)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	char pw[128];
	void *inst;

	reset();
	json_object_put(ctl("/_fake/config", "{\"user\":\"vigil\",\"password\":\"right\"}"));
	snprintf(pw, sizeof(pw), "%s/password", dir);
	write_file(pw, "wrong\n");
	fake_host_set(fh, "Elasticsearch", "Username", "vigil");
	fake_host_set(fh, "Elasticsearch", "PasswordFile", pw);
	inst = init_ok(fh);
	recs_add(&rs, "process_exec", 1, T_2026);
	/* The request in flight is refused: its records come back, nothing is dropped ... */
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_EQ(rs.results[0], VIGIL_REDO);
	ASSERT_CONTAINS(fake_host_logs(fh), "HTTP 401");
	ASSERT_CONTAINS(fake_host_logs(fh), "credentials");
	/* ... and the next emit() tells the host to pause, without sending anything. */
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_FATAL);
	{
		const char *l = fake_host_logs(fh), *first = strstr(l, "refuses our credentials");
		ASSERT_NOT_NULL(first);
		ASSERT_NULL(strstr(first + 1, "refuses our credentials"));
	}
	ASSERT_EQ(plugin->probe(inst), VIGIL_FATAL);

	/* The operator fixes the cluster side: probe() sees it, delivery resumes. */
	json_object_put(ctl("/_fake/config", "{\"password\":\"wrong\"}"));
	ASSERT_EQ(plugin->probe(inst), VIGIL_OK);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_EQ(rs.results[0], VIGIL_DELIVERED);
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(api_key)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	struct json_object *req;
	char key[128];
	void *inst;

	reset();
	json_object_put(ctl("/_fake/config", "{\"api_key\":\"aWQ6c2VjcmV0\"}"));
	snprintf(key, sizeof(key), "%s/apikey", dir);
	write_file(key, "aWQ6c2VjcmV0\n");
	fake_host_set(fh, "Elasticsearch", "ApiKeyFile", key);
	inst = init_ok(fh);
	recs_add(&rs, "process_exec", 1, T_2026);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_EQ(rs.results[0], VIGIL_DELIVERED);
	req = last_request();
	ASSERT_STREQ(JSTR(req, "auth"), "ApiKey");
	ASSERT_EQ(JINT(req, "status"), 200);
	json_object_put(req);
	plugin->fini(inst);
	fake_host_free(fh);
}

static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd); /* nobody listens there now: connection refused */
	return ntohs(a.sin_port);
}

TEST(failover_from_dead_host)
{
	struct fake_host *fh = fake_host_new("es-test");
	struct recs rs = {};
	struct json_object *docs;
	char hosts[160];
	void *inst;

	reset();
	snprintf(hosts, sizeof(hosts), "http://127.0.0.1:%d %s/", closed_port(), base_url);
	fake_host_set(fh, "Elasticsearch", "Hosts", hosts);
	inst = init_ok(fh);
	recs_add(&rs, "process_exec", 1, T_2026);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_EQ(rs.results[0], VIGIL_DELIVERED);
	ASSERT_CONTAINS(fake_host_logs(fh), "trying the next host");
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 1);
	json_object_put(docs);
	plugin->fini(inst);
	fake_host_free(fh);

	/* Every host dead: RETRY, nothing dropped. */
	fh = fake_host_new("es-test");
	snprintf(hosts, sizeof(hosts), "http://127.0.0.1:%d", closed_port());
	fake_host_set(fh, "Elasticsearch", "Hosts", hosts);
	inst = init_ok(fh);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_EQ(rs.results[0], VIGIL_REDO);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_RETRY);
	ASSERT_EQ(plugin->probe(inst), VIGIL_RETRY);
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(split_on_413_and_by_max_bulk_bytes)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	struct json_object *docs, *reqs;
	size_t one;
	char cfg[64];
	void *inst;
	bool saw413 = false;

	reset();
	fake_host_set(fh, "Elasticsearch", "Compress", "none");
	inst = init_ok(fh);
	for (int i = 0; i < 8; i++)
		recs_add(&rs, "process_exec", 100 + i, T_2026);
	/* Learn one item's size, then allow three per request. */
	{
		struct recs one_rec = {};
		struct json_object *req;
		recs_add(&one_rec, "process_exec", 99, T_2026);
		ASSERT_EQ(recs_emit(inst, &one_rec), VIGIL_OK);
		req = last_request();
		one = (size_t)JINT(req, "body_length");
		json_object_put(req);
	}
	reset();
	snprintf(cfg, sizeof(cfg), "{\"max_body\":%zu}", one * 3 + one / 2);
	json_object_put(ctl("/_fake/config", cfg));
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(rs.results[i], VIGIL_DELIVERED);
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 8);
	json_object_put(docs);
	reqs = ctl("/_fake/requests", NULL);
	for (size_t i = 0; i < json_object_array_length(J(reqs, "requests")); i++) {
		char idx[24];
		snprintf(idx, sizeof(idx), "%zu", i);
		saw413 |= JINT(reqs, "requests", idx, "status") == 413;
	}
	ASSERT_TRUE(saw413);
	json_object_put(reqs);

	/* One document larger than the limit: dropped, the others delivered. */
	reset();
	snprintf(cfg, sizeof(cfg), "{\"max_body\":%zu}", one / 2);
	json_object_put(ctl("/_fake/config", cfg));
	rs.n = 2;
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_EQ(rs.results[0], VIGIL_DROP);
	ASSERT_EQ(rs.results[1], VIGIL_DROP);
	ASSERT_CONTAINS(fake_host_logs(fh), "http.max_content_length");
	plugin->fini(inst);
	fake_host_free(fh);

	/* MaxBulkBytes=1K: about one item per request, all delivered. */
	reset();
	fh = host_new();
	fake_host_set(fh, "Elasticsearch", "MaxBulkBytes", "1K");
	inst = init_ok(fh);
	rs.n = 8;
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	reqs = ctl("/_fake/requests", NULL);
	ASSERT_TRUE(JINT(reqs, "count") >= 4);
	json_object_put(reqs);
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 8);
	json_object_put(docs);
	plugin->fini(inst);
	fake_host_free(fh);
}

/* Three batches of two records, pids base.., for the in-flight tests. */
static void three_batches(struct recs rs[3], uint32_t base)
{
	for (int b = 0; b < 3; b++) {
		rs[b] = (struct recs){};
		recs_add(&rs[b], "process_exec", base + 2 * b, T_2026);
		recs_add(&rs[b], "process_exec", base + 2 * b + 1, T_2026);
	}
}

static bool has_ack(uint64_t id, struct recs *rs)
{
	return fake_host_wait_ack(cur_fh, id, rs->results, rs->n, 0) == 0;
}

TEST(non_es_answers_pause_and_keep_the_records)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	struct json_object *docs;
	char dl[128], hosts[192];
	char *text;
	void *inst;

	/* http:// answered by a redirect to https://: paused (FATAL), records kept. */
	reset();
	snprintf(dl, sizeof(dl), "%s/dead-non-es.jsonl", dir);
	unlink(dl);
	fake_host_set(fh, "Elasticsearch", "DeadLetterFile", dl);
	inst = init_ok(fh);
	recs_add(&rs, "process_exec", 1, T_2026);
	recs_add(&rs, "process_exec", 2, T_2026);
	json_object_put(ctl("/_fake/config", "{\"non_es_status\":301,\"non_es_count\":1}"));
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_TRUE(last_pending);
	ASSERT_TRUE(all_results(&rs, VIGIL_REDO));
	ASSERT_CONTAINS(fake_host_logs(fh), "HTTP 301");
	ASSERT_CONTAINS(fake_host_logs(fh), "not an Elasticsearch answer");
	ASSERT_CONTAINS(fake_host_logs(fh), "test.conf:1: [Elasticsearch] Hosts=");
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_FATAL);
	/* Nothing went to the dead letter. */
	text = slurp(dl);
	ASSERT_TRUE(!text || !*text);
	free(text);
	/* Fixed: probe() resumes and the same records are delivered. */
	ASSERT_EQ(plugin->probe(inst), VIGIL_OK);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_TRUE(all_results(&rs, VIGIL_DELIVERED));
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 2);
	json_object_put(docs);

	/* A proxy's 404 page (after a success: emit() answers it synchronously). */
	json_object_put(ctl("/_fake/config", "{\"non_es_status\":404,\"non_es_count\":1}"));
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_TRUE(all_results(&rs, VIGIL_REDO));
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_FATAL);
	plugin->fini(inst);
	fake_host_free(fh);

	/* A wrong path prefix: Elasticsearch's own 405 for /a/b/_bulk, with its error body. */
	reset();
	fh = fake_host_new("es-test");
	snprintf(hosts, sizeof(hosts), "%s/a/b", base_url);
	fake_host_set(fh, "Elasticsearch", "Hosts", hosts);
	fake_host_set(fh, "Elasticsearch", "DeadLetterFile", dl);
	inst = init_ok(fh);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_TRUE(all_results(&rs, VIGIL_REDO));
	ASSERT_CONTAINS(fake_host_logs(fh), "HTTP 405");
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_FATAL);
	text = slurp(dl);
	ASSERT_TRUE(!text || !*text);
	free(text);
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(item_403_pauses_instead_of_dropping)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	char cfg[256], id1[33], dl[128];
	struct json_object *docs;
	char *text;
	void *inst;

	reset();
	snprintf(dl, sizeof(dl), "%s/dead-403.jsonl", dir);
	unlink(dl);
	fake_host_set(fh, "Elasticsearch", "DeadLetterFile", dl);
	inst = init_ok(fh);
	for (int i = 0; i < 3; i++)
		recs_add(&rs, "process_exec", 40 + i, T_2026);
	id_of(&rs.r[1], id1);
	snprintf(cfg, sizeof(cfg), "{\"item_status_ids\":{\"%s\":403}}", id1);
	json_object_put(ctl("/_fake/config", cfg));
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_EQ(rs.results[0], VIGIL_DELIVERED);
	ASSERT_EQ(rs.results[1], VIGIL_REDO);
	ASSERT_EQ(rs.results[2], VIGIL_DELIVERED);
	ASSERT_CONTAINS(fake_host_logs(fh), "security_exception");
	ASSERT_CONTAINS(fake_host_logs(fh), "Paused, records kept");
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_FATAL);
	text = slurp(dl);
	ASSERT_TRUE(!text || !*text);
	free(text);
	/* The role is fixed: after probe() the kept record goes in. */
	json_object_put(ctl("/_fake/config", "{\"item_status_ids\":{}}"));
	ASSERT_EQ(plugin->probe(inst), VIGIL_OK);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_TRUE(all_results(&rs, VIGIL_DELIVERED));
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 3);
	json_object_put(docs);
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(userinfo_in_hosts_is_never_logged)
{
	struct fake_host *fh = fake_host_new("es-test");
	struct recs rs = {};
	char hosts[192];
	void *inst;

	reset();
	snprintf(hosts, sizeof(hosts), "http://vigil:s3cr3tpw@%s", base_url + strlen("http://"));
	fake_host_set(fh, "Elasticsearch", "Hosts", hosts);
	inst = init_ok(fh);
	recs_add(&rs, "process_exec", 1, T_2026);
	json_object_put(ctl("/_fake/config", "{\"fail_status\":503,\"fail_count\":1}"));
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_EQ(rs.results[0], VIGIL_REDO);
	ASSERT_CONTAINS(fake_host_logs(fh), base_url);
	ASSERT_NULL(strstr(fake_host_logs(fh), "s3cr3tpw"));
	plugin->fini(inst);
	fake_host_free(fh);

	fh = fake_host_new("es-test");
	fake_host_set(fh, "Elasticsearch", "Hosts", "vigil:s3cr3tpw@es1:9200");
	ASSERT_TRUE(plugin->init(&fh->host, &inst) < 0);
	ASSERT_CONTAINS(fake_host_logs(fh), "Hosts=es1:9200");
	ASSERT_NULL(strstr(fake_host_logs(fh), "s3cr3tpw"));
	fake_host_free(fh);
}

TEST(batches_in_flight_acked_in_order)
{
	struct fake_host *fh = host_new();
	static struct recs rs[3];
	struct json_object *docs, *reqs;
	char id[33], cfg[128];
	uint64_t id0 = next_batch_id;
	void *inst;

	reset();
	inst = init_ok(fh);
	three_batches(rs, 300);
	/* The cluster is slow, and drops one document of the second batch for good. */
	id_of(&rs[1].r[1], id);
	snprintf(cfg, sizeof(cfg), "{\"delay_ms\":1000,\"item_status_ids\":{\"%s\":400}}", id);
	json_object_put(ctl("/_fake/config", cfg));
	/* All three are taken at once: emit() does not wait for the cluster. */
	for (int b = 0; b < 3; b++)
		ASSERT_EQ(recs_emit_async(inst, &rs[b], id0 + b), VIGIL_PENDING);
	next_batch_id += 3;
	/* Acknowledged in order: when the last one is, the others were already. */
	ASSERT_OK(recs_wait(&rs[2], id0 + 2));
	ASSERT_TRUE(has_ack(id0, &rs[0]));
	ASSERT_TRUE(has_ack(id0 + 1, &rs[1]));
	ASSERT_TRUE(all_results(&rs[0], VIGIL_DELIVERED));
	ASSERT_EQ(rs[1].results[0], VIGIL_DELIVERED);
	ASSERT_EQ(rs[1].results[1], VIGIL_DROP);
	ASSERT_TRUE(all_results(&rs[2], VIGIL_DELIVERED));
	/* One request per batch, sent in emit() order. */
	reqs = ctl("/_fake/requests", NULL);
	ASSERT_EQ(JINT(reqs, "count"), 3);
	json_object_put(reqs);
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 5);
	json_object_put(docs);
	ASSERT_EQ(plugin->flush(inst, 1000000), VIGIL_OK);
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(failed_request_in_flight_returns_what_is_queued_behind_it)
{
	struct fake_host *fh = host_new();
	static struct recs rs[3];
	struct json_object *docs, *reqs;
	uint64_t id0 = next_batch_id;
	char id[33];
	void *inst;

	reset();
	inst = init_ok(fh);
	three_batches(rs, 400);
	/* The first request goes through, the second gets 503, all while the third waits. */
	json_object_put(
		ctl("/_fake/config",
		    "{\"delay_ms\":1000,\"fail_skip\":1,\"fail_status\":503,\"fail_count\":1}"));
	for (int b = 0; b < 3; b++)
		ASSERT_EQ(recs_emit_async(inst, &rs[b], id0 + b), VIGIL_PENDING);
	next_batch_id += 3;
	for (int b = 0; b < 3; b++)
		ASSERT_OK(recs_wait(&rs[b], id0 + b));
	ASSERT_TRUE(all_results(&rs[0], VIGIL_DELIVERED));
	ASSERT_TRUE(all_results(&rs[1], VIGIL_REDO));
	/* Not sent after the failure: a later batch must not overtake the one to be resent. */
	ASSERT_TRUE(all_results(&rs[2], VIGIL_REDO));
	reqs = ctl("/_fake/requests", NULL);
	ASSERT_EQ(JINT(reqs, "count"), 2);
	json_object_put(reqs);
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 2);
	id_of(&rs[0].r[0], id);
	ASSERT_NOT_NULL(J(docs, "vigil-2026.11.21", id));
	json_object_put(docs);

	/* The host re-offers them in order; the first answer comes synchronously. */
	json_object_put(ctl("/_fake/config", "{\"delay_ms\":0}"));
	ASSERT_EQ(recs_emit(inst, &rs[1]), VIGIL_OK);
	ASSERT_FALSE(last_pending);
	ASSERT_TRUE(all_results(&rs[1], VIGIL_DELIVERED));
	ASSERT_EQ(recs_emit(inst, &rs[2]), VIGIL_OK);
	ASSERT_TRUE(last_pending);
	ASSERT_TRUE(all_results(&rs[2], VIGIL_DELIVERED));
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 6);
	json_object_put(docs);
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(bulk_response_item_count_checked)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	void *inst;

	/* "errors":false, but more items than actions: not taken as delivered. */
	reset();
	inst = init_ok(fh);
	json_object_put(ctl("/_fake/config", "{\"bogus_items\":1}"));
	for (int i = 0; i < 4; i++)
		recs_add(&rs, "process_exec", 500 + i, T_2026);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_TRUE(last_pending);
	ASSERT_TRUE(all_results(&rs, VIGIL_REDO));
	ASSERT_CONTAINS(fake_host_logs(fh), "Unexpected _bulk response");
	json_object_put(ctl("/_fake/config", "{\"bogus_items\":0}"));
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_TRUE(all_results(&rs, VIGIL_DELIVERED));
	plugin->fini(inst);
	fake_host_free(fh);
}

TEST(compress_level)
{
	struct fake_host *fh = host_new();
	struct recs rs = {};
	struct json_object *docs, *req;
	long fast, small;
	void *inst;

	reset();
	for (int i = 0; i < 32; i++)
		recs_add(&rs, "process_exec", 600 + i, T_2026);
	inst = init_ok(fh);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	req = last_request();
	ASSERT_TRUE(json_object_get_boolean(J(req, "gzip")));
	fast = (long)JINT(req, "content_length");
	json_object_put(req);
	plugin->fini(inst);
	fake_host_free(fh);

	reset();
	fh = host_new();
	fake_host_set(fh, "Elasticsearch", "CompressLevel", "9");
	inst = init_ok(fh);
	ASSERT_EQ(recs_emit(inst, &rs), VIGIL_OK);
	ASSERT_TRUE(all_results(&rs, VIGIL_DELIVERED));
	req = last_request();
	small = (long)JINT(req, "content_length");
	json_object_put(req);
	/* The same body, decoded by the fake either way, smaller at level 9. */
	ASSERT_TRUE(small < fast);
	docs = ctl("/_fake/docs", NULL);
	ASSERT_EQ(json_object_object_length(J(docs, "vigil-2026.11.21")), 32);
	json_object_put(docs);
	plugin->fini(inst);
	fake_host_free(fh);
}

/* init() with one extra assignment must fail and log "test.conf:N: [Elasticsearch] Key=..." */
static void config_error(const char *key, const char *value, const char *reason)
{
	struct fake_host *fh = host_new();
	void *inst = NULL;
	char want[256];
	int r;

	if (key)
		fake_host_set(fh, "Elasticsearch", key, value);
	r = plugin->init(&fh->host, &inst);
	if (r >= 0)
		TAP_FAIL("init accepted %s=%s", key, value);
	snprintf(want, sizeof(want), "test.conf:%d: [Elasticsearch] %s=%s", 2, key, value);
	if (!strstr(fake_host_logs(fh), want) || !strstr(fake_host_logs(fh), reason))
		TAP_FAIL("logs lack '%s' / '%s': %s", want, reason, fake_host_logs(fh));
	fake_host_free(fh);
}

TEST(config_errors)
{
	struct fake_host *fh = fake_host_new("es-test");
	void *inst = NULL;

	ASSERT_TRUE(plugin->init(&fh->host, &inst) < 0);
	ASSERT_CONTAINS(fake_host_logs(fh), "Hosts= is required");
	fake_host_free(fh);

	config_error("Format", "xml", "expected tetragon or ecs");
	config_error("Index", "Vigil-%Y", "must be lowercase");
	config_error("DataStream", "logs vigil", "must not contain");
	config_error("MaxBulkBytes", "5X", "expected a size");
	config_error("TLSVerify", "maybe", "expected yes or no");
	config_error("Compress", "brotli", "expected gzip or none");
	config_error("CompressLevel", "0", "expected a gzip level");
	config_error("CompressLevel", "fast", "expected a gzip level");
	config_error("TimeoutSec", "soon", "expected a time span");
	config_error("TLSCAFile", "/nonexistent/ca.pem", "cannot read it");
	config_error("DeadLetterFile", "relative.jsonl", "not an absolute path");
	config_error("PasswordFile", "/etc/hostname", "needs Username=");

	fh = host_new();
	fake_host_set(fh, "Elasticsearch", "Index", "a-%Y");
	fake_host_set(fh, "Elasticsearch", "DataStream", "logs-a-b");
	ASSERT_TRUE(plugin->init(&fh->host, &inst) < 0);
	ASSERT_CONTAINS(fake_host_logs(fh), "test.conf:3: [Elasticsearch] DataStream=logs-a-b");
	fake_host_free(fh);

	fh = fake_host_new("es-test");
	fake_host_set(fh, "Elasticsearch", "Hosts", "es1:9200");
	ASSERT_TRUE(plugin->init(&fh->host, &inst) < 0);
	ASSERT_CONTAINS(fake_host_logs(fh), "test.conf:1: [Elasticsearch] Hosts=es1:9200");
	fake_host_free(fh);
}

TEST(secret_file_checks)
{
	struct fake_host *fh = host_new();
	char key[128];
	void *inst = NULL;

	snprintf(key, sizeof(key), "%s/emptykey", dir);
	write_file(key, "\n");
	fake_host_set(fh, "Elasticsearch", "ApiKeyFile", key);
	ASSERT_TRUE(plugin->init(&fh->host, &inst) < 0);
	ASSERT_CONTAINS(fake_host_logs(fh), "first line is empty");
	fake_host_free(fh);

	fh = host_new();
	snprintf(key, sizeof(key), "%s/openkey", dir);
	write_file(key, "abc\n");
	chmod(key, 0644);
	fake_host_set(fh, "Elasticsearch", "ApiKeyFile", key);
	inst = init_ok(fh);
	ASSERT_CONTAINS(fake_host_logs(fh), "accessible by group or others");
	plugin->fini(inst);
	fake_host_free(fh);
}

int main(void)
{
	if (access("/usr/bin/python3", X_OK) < 0 && system("command -v python3 >/dev/null") != 0)
		tap_skip_all("python3 not found");
	if (!mkdtemp(dir))
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	plugin = fake_host_load("out_elasticsearch.so");
	if (!plugin)
		return 1;
	start_server();
	int r = tap_run();
	char cmd[64];

	stop_server();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
	for (size_t i = 0; i < n_rec_bufs; i++)
		free(rec_bufs[i]);
	free(rec_bufs);
	return r;
}
