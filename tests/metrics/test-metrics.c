/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Prometheus exposition (daemon/metrics.c) without root: rendering of a known snapshot
 * (values, label escaping, histogram invariants, `promtool check metrics`), and the HTTP server
 * (publish/serve, status codes, port in use, bad addresses, publishing while scraped).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "daemon/metrics.h"
#include "tap.h"

#include <vigil/plugin.h>

static struct output_stats sample_outputs[2];
static struct metrics_bpf_prog sample_progs[2];

static void sample_snapshot(struct metrics_snapshot *s)
{
	sample_outputs[0] = (struct output_stats){
		.name = "file",
		.plugin = "file",
		.delivered = 120,
		.retried = 4,
		.dropped = 9,
		.queue_dropped = 3,
		.spool_dropped = 2,
		.filtered = 5,
		.in_queue = 11,
		.spool = true,
		.spool_bytes = 4096,
		.spool_records = 10,
		.spool_corrupt = 1,
		.paused = true,
		.send_latency = {[0] = 2, [1] = 3, [OUTPUT_LATENCY_BUCKETS] = 1},
		.send_latency_sum_usec = 12500000,
	};
	sample_outputs[1] = (struct output_stats){
		.name = "we\"ird\\na\nme",
		.plugin = "kafka",
	};
	sample_progs[0] = (struct metrics_bpf_prog){
		.name = "handle_exec", .id = 7, .run_time_ns = 1500000123, .run_cnt = 42};
	sample_progs[1] = (struct metrics_bpf_prog){.name = "handle_exit", .id = 8};
	*s = (struct metrics_snapshot){
		.start_time_usec = 1700000000250000,
		.kernel_events = 1000,
		.records_by_type = {[VIGIL_RECORD_PROCESS_EXEC] = 7,
				    [VIGIL_RECORD_PROCESS_EXIT] = 6,
				    [VIGIL_RECORD_VIGIL_LOSS] = 1},
		.lost_kernel = 13,
		.lost_decode = 2,
		.outputs = sample_outputs,
		.n_outputs = 2,
		.procs = 321,
		.procs_bytes = 65536,
		.procs_evictions = 17,
		.policies_loaded = 3,
		.policies_failed = 1,
		.policy_hooks = 9,
		.policy_actions = {[0] = 4, [VIGIL_ACT_POST] = 50, [VIGIL_ACT_SIGKILL] = 2},
		.bpf_stats_enabled = 0,
		.progs = sample_progs,
		.n_progs = 2,
	};
}

/* Every line of text is "# HELP", "# TYPE" or a sample of a family declared by TYPE before it. */
static void check_structure(const char *text)
{
	char declared[8192] = " ";
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL;

	ASSERT_NOT_NULL(copy);
	ASSERT_TRUE(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[256], type[32], key[300];
		size_t len;

		if (sscanf(line, "# TYPE %255s %31s", name, type) == 2) {
			snprintf(key, sizeof(key), " %s ", name);
			ASSERT_NULL(strstr(declared, key)); /* one TYPE per family */
			ASSERT_TRUE(strlen(declared) + strlen(key) < sizeof(declared));
			strcat(declared, name);
			strcat(declared, " ");
			ASSERT_TRUE(strncmp(name, "vigil_", 6) == 0);
			len = strlen(name);
			/* Counters and only counters end in _total. */
			if (streq(type, "counter"))
				ASSERT_TRUE(len > 6 && streq(name + len - 6, "_total"));
			else
				ASSERT_FALSE(len > 6 && streq(name + len - 6, "_total"));
			continue;
		}
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		ASSERT_TRUE(line[0] != '#');
		len = strcspn(line, "{ ");
		ASSERT_TRUE(len > 0 && len < 200);
		memcpy(name, line, len);
		name[len] = '\0';
		snprintf(key, sizeof(key), " %s ", name);
		if (!strstr(declared, key)) {
			/* A histogram's series: NAME_bucket, NAME_sum, NAME_count. */
			char *us = strrchr(name, '_');

			ASSERT_NOT_NULL(us);
			ASSERT_TRUE(streq(us, "_bucket") || streq(us, "_sum") ||
				    streq(us, "_count"));
			*us = '\0';
			snprintf(key, sizeof(key), " %s ", name);
			if (!strstr(declared, key))
				TAP_FAIL("sample of an undeclared family: %s", line);
		}
	}
}

/*
 * `promtool check metrics` on text: 1 clean, 0 not run (promtool missing outside CI), fails
 * the test on complaints.
 */
static int promtool_check(const char *text)
{
	char cmd[512], out[4096] = "";
	_cleanup_free_ char *path = NULL;
	FILE *f;
	size_t n;
	int status;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		if (getenv("CI"))
			TAP_FAIL("promtool is not installed (apt-get install prometheus)");
		printf("# promtool not installed: format checked by this test only\n");
		return 0;
	}
	ASSERT_TRUE(asprintf(&path, "/tmp/test-metrics.%d.txt", (int)getpid()) > 0);
	f = fopen(path, "we");
	ASSERT_NOT_NULL(f);
	fputs(text, f);
	ASSERT_EQ(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics <%s 2>&1", path);
	f = popen(cmd, "r");
	ASSERT_NOT_NULL(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	status = pclose(f);
	(void)unlink(path);
	if (status != 0 || n > 0)
		TAP_FAIL("promtool check metrics (status %d):\n%s", status, out);
	return 1;
}

TEST(render_values)
{
	struct metrics_snapshot s;
	_cleanup_free_ char *text = NULL;
	size_t size = 0;

	sample_snapshot(&s);
	ASSERT_OK(metrics_render(&s, &text, &size));
	ASSERT_EQ(size, strlen(text));
	check_structure(text);

	ASSERT_CONTAINS(text, "\nvigil_build_info{version=\"" PACKAGE_VERSION "\"} 1\n");
	ASSERT_CONTAINS(text, "\nvigil_up 1\n");
	ASSERT_CONTAINS(text, "\nvigil_start_time_seconds 1700000000.250000\n");
	ASSERT_CONTAINS(text, "\nvigil_kernel_events_total 1000\n");
	ASSERT_CONTAINS(text, "\nvigil_events_total{type=\"process_exec\"} 7\n");
	ASSERT_CONTAINS(text, "\nvigil_events_total{type=\"process_exit\"} 6\n");
	ASSERT_CONTAINS(text, "\nvigil_events_total{type=\"process_clone\"} 0\n");
	ASSERT_CONTAINS(text, "\nvigil_events_total{type=\"vigil_loss\"} 1\n");
	ASSERT_CONTAINS(text, "\nvigil_events_lost_total{stage=\"kernel\"} 13\n");
	ASSERT_CONTAINS(text, "\nvigil_events_lost_total{stage=\"decode\"} 2\n");
	ASSERT_CONTAINS(text, "\nvigil_events_lost_total{stage=\"queue\",output=\"file\"} 3\n");
	ASSERT_CONTAINS(text, "\nvigil_events_lost_total{stage=\"spool\",output=\"file\"} 2\n");
	/* What is neither queue nor spool loss was lost at the sink: 9 - 3 - 2. */
	ASSERT_CONTAINS(text, "\nvigil_events_lost_total{stage=\"output\",output=\"file\"} 4\n");

	ASSERT_CONTAINS(text, "\nvigil_output_info{output=\"file\",plugin=\"file\"} 1\n");
	ASSERT_CONTAINS(text, "\nvigil_output_delivered_total{output=\"file\"} 120\n");
	ASSERT_CONTAINS(text, "\nvigil_output_retried_total{output=\"file\"} 4\n");
	ASSERT_CONTAINS(text, "\nvigil_output_dropped_total{output=\"file\"} 9\n");
	ASSERT_CONTAINS(text, "\nvigil_output_filtered_total{output=\"file\"} 5\n");
	ASSERT_CONTAINS(text, "\nvigil_output_queue_records{output=\"file\"} 11\n");
	ASSERT_CONTAINS(text, "\nvigil_output_spool_bytes{output=\"file\"} 4096\n");
	ASSERT_CONTAINS(text, "\nvigil_output_spool_records{output=\"file\"} 10\n");
	ASSERT_CONTAINS(text, "\nvigil_output_spool_corrupt_total{output=\"file\"} 1\n");
	ASSERT_CONTAINS(text, "\nvigil_output_paused{output=\"file\"} 1\n");

	/* Cumulative buckets; +Inf = count; the sum in seconds. */
	ASSERT_CONTAINS(text, "\nvigil_output_send_duration_seconds_bucket{output=\"file\","
			      "le=\"0.001\"} 2\n");
	ASSERT_CONTAINS(text, "\nvigil_output_send_duration_seconds_bucket{output=\"file\","
			      "le=\"0.005\"} 5\n");
	ASSERT_CONTAINS(text, "\nvigil_output_send_duration_seconds_bucket{output=\"file\","
			      "le=\"10\"} 5\n");
	ASSERT_CONTAINS(text, "\nvigil_output_send_duration_seconds_bucket{output=\"file\","
			      "le=\"+Inf\"} 6\n");
	ASSERT_CONTAINS(text, "\nvigil_output_send_duration_seconds_count{output=\"file\"} 6\n");
	ASSERT_CONTAINS(text,
			"\nvigil_output_send_duration_seconds_sum{output=\"file\"} 12.500000\n");

	/* Label values are escaped: backslash, double quote, line feed. */
	ASSERT_CONTAINS(text,
			"\nvigil_output_info{output=\"we\\\"ird\\\\na\\nme\",plugin=\"kafka\"} "
			"1\n");

	ASSERT_CONTAINS(text, "\nvigil_process_cache_entries 321\n");
	ASSERT_CONTAINS(text, "\nvigil_process_cache_bytes 65536\n");
	ASSERT_CONTAINS(text, "\nvigil_process_cache_evictions_total 17\n");
	ASSERT_CONTAINS(text, "\nvigil_policies_loaded 3\n");
	ASSERT_CONTAINS(text, "\nvigil_policies_failed 1\n");
	ASSERT_CONTAINS(text, "\nvigil_policy_hooks 9\n");
	ASSERT_CONTAINS(text, "\nvigil_policy_actions_total{action=\"post\"} 50\n");
	ASSERT_CONTAINS(text, "\nvigil_policy_actions_total{action=\"sigkill\"} 2\n");
	ASSERT_CONTAINS(text, "\nvigil_policy_actions_total{action=\"override\"} 0\n");
	ASSERT_CONTAINS(text, "\nvigil_policy_posts_ratelimited_total 4\n");

	/* Statistics were on (a run was counted) although the sysctl says 0. */
	ASSERT_CONTAINS(text, "\nvigil_bpf_stats_enabled 0\n");
	ASSERT_CONTAINS(text, "\nvigil_bpf_program_run_time_seconds_total{program=\"handle_exec\"} "
			      "1.500000123\n");
	ASSERT_CONTAINS(text, "\nvigil_bpf_program_runs_total{program=\"handle_exec\"} 42\n");
	ASSERT_CONTAINS(text, "\nvigil_bpf_program_runs_total{program=\"handle_exit\"} 0\n");

	(void)promtool_check(text);
}

TEST(render_minimal)
{
	struct metrics_snapshot s = {.bpf_stats_enabled = -1};
	struct metrics_bpf_prog idle = {.name = "handle_exec"};
	_cleanup_free_ char *text = NULL;

	/* No outputs, and programs that never ran with statistics off: no empty families. */
	s.progs = &idle;
	s.n_progs = 1;
	ASSERT_OK(metrics_render(&s, &text, NULL));
	check_structure(text);
	ASSERT_NULL(strstr(text, "vigil_output_"));
	ASSERT_NULL(strstr(text, "output=\""));
	ASSERT_NULL(strstr(text, "vigil_bpf_program_"));
	ASSERT_CONTAINS(text, "\nvigil_bpf_stats_enabled -1\n");
	ASSERT_CONTAINS(text, "\nvigil_events_lost_total{stage=\"kernel\"} 0\n");
	(void)promtool_check(text);

	/* With the sysctl on, programs are exported even before they ran. */
	free(TAKE_PTR(text));
	s.bpf_stats_enabled = 1;
	ASSERT_OK(metrics_render(&s, &text, NULL));
	ASSERT_CONTAINS(text, "\nvigil_bpf_program_runs_total{program=\"handle_exec\"} 0\n");
	(void)promtool_check(text);
}

TEST(bpf_programs_without_object)
{
	struct metrics_bpf_prog *l = (void *)1;
	size_t n = 99;

	ASSERT_OK(metrics_bpf_programs(NULL, &l, &n));
	ASSERT_EQ(n, 0);
	ASSERT_NULL(l);
}

struct reply {
	long status;
	char *body;
	size_t size;
	char content_type[128];
};

static size_t on_body(char *p, size_t sz, size_t n, void *userdata)
{
	struct reply *r = userdata;
	char *t = realloc(r->body, r->size + sz * n + 1);

	if (!t)
		return 0;
	memcpy(t + r->size, p, sz * n);
	r->size += sz * n;
	t[r->size] = '\0';
	r->body = t;
	return sz * n;
}

static void http(const char *method, const char *host, uint16_t port, const char *path,
		 struct reply *r)
{
	char url[256];
	CURL *c = curl_easy_init();
	const char *ct = NULL;
	CURLcode rc;

	ASSERT_NOT_NULL(c);
	*r = (struct reply){};
	snprintf(url, sizeof(url), "http://%s:%u%s", host, port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	if (streq(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (!streq(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		curl_easy_cleanup(c);
		TAP_FAIL("%s %s: %s", method, url, curl_easy_strerror(rc));
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(r->content_type, sizeof(r->content_type), "%s", ct);
	curl_easy_cleanup(c);
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

TEST(server_serves_published_text)
{
	_cleanup_(metrics_server_freep) struct metrics_server *s = NULL;
	struct reply r;
	uint16_t port;

	ASSERT_OK(metrics_server_new("127.0.0.1:0", true, &s));
	port = metrics_server_port(s);
	ASSERT_TRUE(port > 0);

	/* Nothing published yet. */
	http("GET", "127.0.0.1", port, "/metrics", &r);
	ASSERT_EQ(r.status, 503);
	free(r.body);

	metrics_server_publish(s, xstrdup("vigil_up 1\n"), strlen("vigil_up 1\n"));
	http("GET", "127.0.0.1", port, "/metrics", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_STREQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	ASSERT_STREQ(r.body, "vigil_up 1\n");
	free(r.body);

	/* A new publication replaces the old one. */
	metrics_server_publish(s, xstrdup("vigil_up 1\nvigil_x 2\n"), 21);
	http("GET", "127.0.0.1", port, "/metrics", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_STREQ(r.body, "vigil_up 1\nvigil_x 2\n");
	free(r.body);

	http("HEAD", "127.0.0.1", port, "/metrics", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_EQ(r.size, 0);
	free(r.body);

	http("GET", "127.0.0.1", port, "/other", &r);
	ASSERT_EQ(r.status, 404);
	free(r.body);

	http("POST", "127.0.0.1", port, "/metrics", &r);
	ASSERT_EQ(r.status, 405);
	free(r.body);

	http("GET", "127.0.0.1", port, "/", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_CONTAINS(r.body, "/metrics");
	free(r.body);
}

TEST(server_port_in_use)
{
	_cleanup_(metrics_server_freep) struct metrics_server *s = NULL;
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	char addr[64];

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ASSERT_EQ(listen(fd, 1), 0);
	ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));

	ASSERT_ERRNO(metrics_server_new(addr, true, &s), EADDRINUSE);
	ASSERT_NULL(s);
}

TEST(server_bad_addresses)
{
	static const char *const bad[] = {
		"",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:65536",
		"127.0.0.1:8x",
		"localhost:80",
		"::1:80",
		"[::1]",
		"[::1:80",
		"[127.0.0.1]:80",
		"1.2.3:80",
		":80",
	};
	struct metrics_server *s = NULL;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		printf("# %s\n", bad[i]);
		ASSERT_ERRNO(metrics_server_new(bad[i], true, &s), EINVAL);
		ASSERT_NULL(s);
	}
}

TEST(server_ipv6)
{
	_cleanup_(metrics_server_freep) struct metrics_server *s = NULL;
	_cleanup_close_ int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct reply r;

	if (probe < 0 || bind(probe, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("# no IPv6 loopback here, not tested\n");
		return;
	}
	ASSERT_OK(metrics_server_new("[::1]:0", true, &s));
	metrics_server_publish(s, xstrdup("vigil_up 1\n"), 11);
	http("GET", "[::1]", metrics_server_port(s), "/metrics", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_STREQ(r.body, "vigil_up 1\n");
	free(r.body);
}

struct publisher {
	struct metrics_server *s;
	atomic_int stop;
	unsigned n;
};

static void *publish_loop(void *arg)
{
	struct publisher *p = arg;

	while (!p->stop) {
		char *t = NULL;
		int len = asprintf(&t, "vigil_n %u\nvigil_end 1\n", p->n++);

		if (len < 0)
			abort();
		metrics_server_publish(p->s, t, (size_t)len);
	}
	return NULL;
}

/* Scrapes while the text is replaced as fast as possible: every body is one whole text. */
TEST(server_publish_while_scraped)
{
	_cleanup_(metrics_server_freep) struct metrics_server *s = NULL;
	struct publisher p = {};
	pthread_t t;

	ASSERT_OK(metrics_server_new("127.0.0.1:0", true, &s));
	metrics_server_publish(s, xstrdup("vigil_n 0\nvigil_end 1\n"), 22);
	p.s = s;
	ASSERT_EQ(pthread_create(&t, NULL, publish_loop, &p), 0);
	for (int i = 0; i < 100; i++) {
		struct reply r;
		unsigned n;
		int used = 0;

		http("GET", "127.0.0.1", metrics_server_port(s), "/metrics", &r);
		if (r.status != 200 ||
		    sscanf(r.body, "vigil_n %u\nvigil_end 1\n%n", &n, &used) != 1 ||
		    (size_t)used != r.size) {
			p.stop = 1;
			pthread_join(t, NULL);
			TAP_FAIL("torn or bad body (status %ld): '%s'", r.status, strempty(r.body));
		}
		free(r.body);
	}
	p.stop = 1;
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_TRUE(p.n > 0);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return tap_run();
}
