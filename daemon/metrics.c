/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <microhttpd.h>

#include <vigil/plugin.h>

#include "bpf/vigil.skel.h"
#include "log.h"
#include "metrics.h"

#if MHD_VERSION < 0x00097002
typedef int mhd_result;
#else
typedef enum MHD_Result mhd_result;
#endif

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Connections served at once, and how long an idle one may stay (a scraper needs one). */
#define MAX_CONNECTIONS	   16
#define CONNECTION_TIMEOUT 10 /* seconds */

/* Label value escaping of the text format: backslash, double quote and line feed. */
static void put_label_value(FILE *f, const char *v)
{
	for (const char *p = strempty(v); *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '"')
			fputs("\\\"", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
}

static void put_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample with up to two labels (NULL label = none). */
static void put_sample(FILE *f, const char *name, const char *l1, const char *v1, const char *l2,
		       const char *v2, uint64_t value)
{
	fputs(name, f);
	if (l1) {
		fprintf(f, "{%s=\"", l1);
		put_label_value(f, v1);
		fputc('"', f);
		if (l2) {
			fprintf(f, ",%s=\"", l2);
			put_label_value(f, v2);
			fputc('"', f);
		}
		fputc('}', f);
	}
	fprintf(f, " %" PRIu64 "\n", value);
}

/* A per-output family: one sample per output instance, the value picked by field. */
#define PUT_OUTPUT_FAMILY(f_, s_, name_, type_, help_, expr_)                                      \
	do {                                                                                       \
		put_family(f_, name_, type_, help_);                                               \
		for (size_t _i = 0; _i < (s_)->n_outputs; _i++) {                                  \
			const struct output_stats *st = &(s_)->outputs[_i];                        \
			put_sample(f_, name_, "output", st->name, NULL, NULL, (uint64_t)(expr_));  \
		}                                                                                  \
	} while (0)

static void put_seconds(FILE *f, uint64_t usec)
{
	fprintf(f, "%" PRIu64 ".%06" PRIu64, usec / (uint64_t)USEC_PER_SEC,
		usec % (uint64_t)USEC_PER_SEC);
}

static void render_outputs(FILE *f, const struct metrics_snapshot *s)
{
	static const char *const hist = "vigil_output_send_duration_seconds";

	if (s->n_outputs == 0)
		return;

	put_family(f, "vigil_output_info", "gauge", "Output instances and their plugin; always 1.");
	for (size_t i = 0; i < s->n_outputs; i++)
		put_sample(f, "vigil_output_info", "output", s->outputs[i].name, "plugin",
			   s->outputs[i].plugin, 1);
	PUT_OUTPUT_FAMILY(f, s, "vigil_output_delivered_total", "counter",
			  "Records the sink confirmed.", st->delivered);
	PUT_OUTPUT_FAMILY(f, s, "vigil_output_retried_total", "counter",
			  "Records offered again after a transient failure (a record may count "
			  "several times).",
			  st->retried);
	PUT_OUTPUT_FAMILY(f, s, "vigil_output_dropped_total", "counter",
			  "Records this output lost, whatever the stage (queue, spool or sink).",
			  st->dropped);
	PUT_OUTPUT_FAMILY(f, s, "vigil_output_filtered_total", "counter",
			  "Records a filter plugin chose not to send (not a loss).", st->filtered);
	PUT_OUTPUT_FAMILY(f, s, "vigil_output_queue_records", "gauge",
			  "Records waiting for this output: queued, in flight, waiting for a retry "
			  "or in the spool.",
			  st->in_queue);
	PUT_OUTPUT_FAMILY(f, s, "vigil_output_spool_bytes", "gauge",
			  "Size of the output's disk spool files (0 without a spool).",
			  st->spool_bytes);
	PUT_OUTPUT_FAMILY(f, s, "vigil_output_spool_records", "gauge",
			  "Records in the disk spool not yet confirmed by the sink.",
			  st->spool_records);
	PUT_OUTPUT_FAMILY(f, s, "vigil_output_spool_corrupt_total", "counter",
			  "Damaged places skipped while reading the disk spool.",
			  st->spool_corrupt);
	PUT_OUTPUT_FAMILY(f, s, "vigil_output_paused", "gauge",
			  "1 while the output is paused (fatal error or backing off after a "
			  "failure), else 0.",
			  st->paused);

	put_family(f, hist, "histogram",
		   "Time from handing a batch to the output plugin to the sink's answer "
		   "(delivered or acknowledged).");
	for (size_t i = 0; i < s->n_outputs; i++) {
		const struct output_stats *st = &s->outputs[i];
		uint64_t cum = 0;

		for (size_t b = 0; b <= OUTPUT_LATENCY_BUCKETS; b++) {
			cum += st->send_latency[b];
			fprintf(f, "%s_bucket{output=\"", hist);
			put_label_value(f, st->name);
			fputs("\",le=\"", f);
			if (b < OUTPUT_LATENCY_BUCKETS)
				fprintf(f, "%g",
					(double)output_latency_bounds_usec[b] /
						(double)USEC_PER_SEC);
			else
				fputs("+Inf", f);
			fprintf(f, "\"} %" PRIu64 "\n", cum);
		}
		fprintf(f, "%s_sum{output=\"", hist);
		put_label_value(f, st->name);
		fputs("\"} ", f);
		put_seconds(f, st->send_latency_sum_usec);
		fprintf(f, "\n%s_count{output=\"", hist);
		put_label_value(f, st->name);
		fprintf(f, "\"} %" PRIu64 "\n", cum);
	}
}

static const char *const action_name[_VIGIL_ACT_MAX] = {
	[VIGIL_ACT_POST] = "post",	   [VIGIL_ACT_NOPOST] = "nopost",
	[VIGIL_ACT_SIGKILL] = "sigkill",   [VIGIL_ACT_SIGNAL] = "signal",
	[VIGIL_ACT_OVERRIDE] = "override",
};

int metrics_render(const struct metrics_snapshot *s, char **ret, size_t *ret_size)
{
	_cleanup_free_ char *buf = NULL;
	bool bpf_stats_seen = false;
	size_t size = 0;
	FILE *f;

	assert(s);
	assert(ret);

	f = open_memstream(&buf, &size);
	if (!f)
		return -errno;

	put_family(f, "vigil_build_info", "gauge", "Version of vigild; always 1.");
	put_sample(f, "vigil_build_info", "version", PACKAGE_VERSION, NULL, NULL, 1);
	put_family(f, "vigil_up", "gauge",
		   "1 while vigild runs and its event loop publishes metrics.");
	put_sample(f, "vigil_up", NULL, NULL, NULL, NULL, 1);
	put_family(f, "vigil_start_time_seconds", "gauge",
		   "Start time of vigild since the Unix epoch, in seconds.");
	fputs("vigil_start_time_seconds ", f);
	put_seconds(f, s->start_time_usec);
	fputc('\n', f);

	put_family(f, "vigil_kernel_events_total", "counter",
		   "Events read from the kernel ring buffer and decoded.");
	put_sample(f, "vigil_kernel_events_total", NULL, NULL, NULL, NULL, s->kernel_events);
	put_family(f, "vigil_events_total", "counter",
		   "Records built (before routing to outputs), by event type.");
	for (uint32_t t = 0; t < METRICS_RECORD_TYPES; t++) {
		const char *name = plugin_host_event_name(t);

		if (name)
			put_sample(f, "vigil_events_total", "type", name, NULL, NULL,
				   s->records_by_type[t]);
	}

	put_family(f, "vigil_events_lost_total", "counter",
		   "Events lost, by stage: kernel (ring buffer full), decode (malformed or not "
		   "encodable), and per output queue (queue full), spool (spool cap or write "
		   "errors), output (dropped by or at the sink, or at shutdown).");
	put_sample(f, "vigil_events_lost_total", "stage", "kernel", NULL, NULL, s->lost_kernel);
	put_sample(f, "vigil_events_lost_total", "stage", "decode", NULL, NULL, s->lost_decode);
	for (size_t i = 0; i < s->n_outputs; i++) {
		const struct output_stats *st = &s->outputs[i];
		uint64_t other =
			st->dropped - MIN(st->dropped, st->queue_dropped + st->spool_dropped);

		put_sample(f, "vigil_events_lost_total", "stage", "queue", "output", st->name,
			   st->queue_dropped);
		put_sample(f, "vigil_events_lost_total", "stage", "spool", "output", st->name,
			   st->spool_dropped);
		put_sample(f, "vigil_events_lost_total", "stage", "output", "output", st->name,
			   other);
	}

	render_outputs(f, s);

	put_family(f, "vigil_process_cache_entries", "gauge",
		   "Processes in the process cache (live and recently exited).");
	put_sample(f, "vigil_process_cache_entries", NULL, NULL, NULL, NULL, s->procs);
	put_family(f, "vigil_process_cache_bytes", "gauge", "Memory held by the process cache.");
	put_sample(f, "vigil_process_cache_bytes", NULL, NULL, NULL, NULL, s->procs_bytes);
	put_family(f, "vigil_process_cache_evictions_total", "counter",
		   "Processes evicted from the full process cache.");
	put_sample(f, "vigil_process_cache_evictions_total", NULL, NULL, NULL, NULL,
		   s->procs_evictions);

	put_family(f, "vigil_policies_loaded", "gauge", "TracingPolicies running.");
	put_sample(f, "vigil_policies_loaded", NULL, NULL, NULL, NULL, s->policies_loaded);
	put_family(f, "vigil_policies_failed", "gauge",
		   "TracingPolicies rejected at the last (re)load.");
	put_sample(f, "vigil_policies_failed", NULL, NULL, NULL, NULL, s->policies_failed);
	put_family(f, "vigil_policy_hooks", "gauge", "Hooks attached for the running policies.");
	put_sample(f, "vigil_policy_hooks", NULL, NULL, NULL, NULL, s->policy_hooks);
	put_family(f, "vigil_policy_actions_total", "counter",
		   "Actions the policies took in the kernel, by action.");
	for (size_t a = 0; a < _VIGIL_ACT_MAX; a++)
		if (action_name[a])
			put_sample(f, "vigil_policy_actions_total", "action", action_name[a], NULL,
				   NULL, s->policy_actions[a]);
	put_family(f, "vigil_policy_posts_ratelimited_total", "counter",
		   "Policy events not posted because of a rateLimit.");
	put_sample(f, "vigil_policy_posts_ratelimited_total", NULL, NULL, NULL, NULL,
		   s->policy_actions[VIGIL_ACT_NONE]);

	put_family(f, "vigil_bpf_stats_enabled", "gauge",
		   "Value of the sysctl kernel.bpf_stats_enabled (-1: unreadable); the BPF "
		   "program metrics are exported once statistics are or were on.");
	fprintf(f, "vigil_bpf_stats_enabled %d\n", s->bpf_stats_enabled);
	/*
	 * Run counts only grow while statistics are on, by the sysctl or by a BPF_ENABLE_STATS
	 * file descriptor (which the sysctl does not show): export them in either case.
	 */
	for (size_t i = 0; i < s->n_progs; i++)
		bpf_stats_seen = bpf_stats_seen || s->progs[i].run_cnt > 0;
	if ((s->bpf_stats_enabled == 1 || bpf_stats_seen) && s->n_progs > 0) {
		put_family(
			f, "vigil_bpf_program_run_time_seconds_total", "counter",
			"Time spent in each BPF program of vigild while BPF statistics were on.");
		for (size_t i = 0; i < s->n_progs; i++) {
			fputs("vigil_bpf_program_run_time_seconds_total{program=\"", f);
			put_label_value(f, s->progs[i].name);
			fprintf(f, "\"} %" PRIu64 ".%09" PRIu64 "\n",
				s->progs[i].run_time_ns / (uint64_t)NSEC_PER_SEC,
				s->progs[i].run_time_ns % (uint64_t)NSEC_PER_SEC);
		}
		put_family(f, "vigil_bpf_program_runs_total", "counter",
			   "Runs of each BPF program of vigild while BPF statistics were on.");
		for (size_t i = 0; i < s->n_progs; i++)
			put_sample(f, "vigil_bpf_program_runs_total", "program", s->progs[i].name,
				   NULL, NULL, s->progs[i].run_cnt);
	}

	if (ferror(f) | (fclose(f) != 0))
		return -ENOMEM;
	*ret = TAKE_PTR(buf);
	if (ret_size)
		*ret_size = size;
	return 0;
}

int metrics_bpf_stats_enabled(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "re");
	int v;

	if (!f || fscanf(f, "%d", &v) != 1)
		return -1;
	return v;
}

int metrics_bpf_programs(struct vigil_bpf *skel, struct metrics_bpf_prog **ret, size_t *ret_n)
{
	_cleanup_free_ struct metrics_bpf_prog *l = NULL;
	struct bpf_program *prog;
	size_t n = 0, cap = 0;

	assert(ret);
	assert(ret_n);

	if (skel)
		bpf_object__for_each_program(prog, skel->obj)
		{
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);
			int fd = bpf_program__fd(prog);

			if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
				continue; /* not loaded (autoload off) */
			if (n == cap) {
				struct metrics_bpf_prog *t;

				cap = cap ? cap * 2 : 32;
				t = reallocarray(l, cap, sizeof(*l));
				if (!t)
					return -ENOMEM;
				l = t;
			}
			l[n] = (struct metrics_bpf_prog){
				.id = info.id,
				.run_time_ns = info.run_time_ns,
				.run_cnt = info.run_cnt,
			};
			/* The full name: the kernel keeps only 15 characters. */
			snprintf(l[n].name, sizeof(l[n].name), "%s", bpf_program__name(prog));
			n++;
		}
	*ret = TAKE_PTR(l);
	*ret_n = n;
	return 0;
}

struct metrics_server {
	struct MHD_Daemon *mhd;
	uint16_t port;
	pthread_mutex_t lock;
	char *text; /* protected by lock */
	size_t size;
};

static mhd_result respond(struct MHD_Connection *c, unsigned status, const char *type,
			  const char *body, size_t size)
{
	struct MHD_Response *resp;
	mhd_result r;

	resp = MHD_create_response_from_buffer(size, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

#define TEXT(s) "text/plain; charset=utf-8", s, sizeof(s) - 1

static mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url,
			     const char *method, const char *version, const char *upload_data,
			     size_t *upload_data_size, void **con_cls)
{
	struct metrics_server *s = cls;
	mhd_result r;

	if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
		return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT("Method not allowed.\n"));
	if (streq(url, "/"))
		return respond(c, MHD_HTTP_OK, TEXT("vigild: metrics are at /metrics\n"));
	if (!streq(url, "/metrics"))
		return respond(c, MHD_HTTP_NOT_FOUND, TEXT("Not found: metrics are at /metrics\n"));

	/* The copy is made under the lock: the main thread may publish a new text meanwhile. */
	pthread_mutex_lock(&s->lock);
	if (s->text)
		r = respond(c, MHD_HTTP_OK, CONTENT_TYPE, s->text, s->size);
	else
		r = respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, TEXT("Starting.\n"));
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("Metrics server: %s", buf);
}

/* "1.2.3.4:80" or "[::1]:80" → a socket address. */
static int parse_listen(const char *address, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *h = address;
	size_t hlen;
	char *end;
	unsigned long port;

	colon = strrchr(address, ':');
	if (!colon)
		return -EINVAL;
	hlen = (size_t)(colon - address);
	if (address[0] == '[') {
		if (hlen < 2 || address[hlen - 1] != ']')
			return -EINVAL;
		h = address + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port > 65535)
		return -EINVAL;

	memset(ret, 0, sizeof(*ret));
	if (address[0] == '[') {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)ret;

		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sa->sin6_addr) != 1)
			return -EINVAL;
		*ret_len = sizeof(*sa);
	} else {
		struct sockaddr_in *sa = (struct sockaddr_in *)ret;

		sa->sin_family = AF_INET;
		sa->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
			return -EINVAL;
		*ret_len = sizeof(*sa);
	}
	return 0;
}

int metrics_server_new(const char *address, bool required, struct metrics_server **ret)
{
	_cleanup_(metrics_server_freep) struct metrics_server *s = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_storage sa;
	socklen_t sa_len;
	int r, one = 1;

	assert(address);
	assert(ret);

	r = parse_listen(address, &sa, &sa_len);
	if (r < 0)
		return log_error_errno(r, "Invalid MetricsListen= address '%s'.", address);

	s = calloc(1, sizeof(*s));
	if (!s)
		return log_oom();
	r = pthread_mutex_init(&s->lock, NULL);
	if (r != 0) {
		free(TAKE_PTR(s));
		return log_error_errno(r, "Failed to initialise the metrics lock: %m");
	}

	/* Our own socket, so that a bind failure is reported with its real errno. */
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(errno, "Failed to create the metrics socket: %m");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sa_len) < 0 || listen(fd, SOMAXCONN) < 0)
		return log_full_errno(required ? LOG_ERR : LOG_WARNING, errno,
				      "Failed to listen for metrics on %s: %m%s", address,
				      required ? "" : "; running without metrics (MetricsListen=)");
	if (getsockname(fd, (struct sockaddr *)&sa, &sa_len) < 0)
		return log_error_errno(errno, "Failed to read the metrics socket address: %m");
	s->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
						 : ((struct sockaddr_in *)&sa)->sin_port);

	s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
					  (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				  0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT,
				  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
	if (!s->mhd)
		return log_error_errno(SYNTHETIC_ERRNO(EIO),
				       "Failed to start the metrics HTTP server on %s.", address);
	TAKE_FD(fd); /* the daemon closes it */

	/* With port 0 (tests) the kernel chose one: show the real one. */
	log_info("Serving metrics on http://%.*s:%u/metrics",
		 (int)(strrchr(address, ':') - address), address, s->port);
	*ret = TAKE_PTR(s);
	return 0;
}

uint16_t metrics_server_port(struct metrics_server *s)
{
	return s ? s->port : 0;
}

void metrics_server_publish(struct metrics_server *s, char *text, size_t size)
{
	char *old;

	if (!s) {
		free(text);
		return;
	}
	pthread_mutex_lock(&s->lock);
	old = s->text;
	s->text = text;
	s->size = size;
	pthread_mutex_unlock(&s->lock);
	free(old);
}

struct metrics_server *metrics_server_free(struct metrics_server *s)
{
	if (!s)
		return NULL;
	/* Joins the server thread: no request runs after this. */
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	pthread_mutex_destroy(&s->lock);
	free(s->text);
	free(s);
	return NULL;
}
