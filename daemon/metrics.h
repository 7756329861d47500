/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/policy.h"
#include "plugin_host.h"
#include "util/macro.h"

/*
 * Prometheus exposition (docs/metrics.md). The main thread collects a struct metrics_snapshot
 * (plain data), renders it with metrics_render() and hands the text
 * to metrics_server_publish(); the HTTP server (libmicrohttpd, its own thread) only ever serves
 * the last published text, under a lock. Nothing of the daemon is read from the server thread.
 */

#define METRICS_RECORD_TYPES 8 /* VIGIL_RECORD_* values are below this */

struct metrics_bpf_prog {
	char name[16]; /* BPF_OBJ_NAME_LEN */
	uint32_t id;
	uint64_t run_time_ns;
	uint64_t run_cnt;
};

struct metrics_snapshot {
	uint64_t start_time_usec;			/* CLOCK_REALTIME */
	uint64_t kernel_events;				/* ring-buffer samples decoded */
	uint64_t records_by_type[METRICS_RECORD_TYPES]; /* records built, by VIGIL_RECORD_* */
	uint64_t lost_kernel;				/* ring buffer full */
	uint64_t lost_decode; /* malformed samples, records that could not be built */
	struct output_stats
		*outputs; /* name/plugin point into the host: render before freeing it */
	size_t n_outputs;
	size_t procs;
	size_t procs_bytes;
	uint64_t procs_evictions;
	size_t policies_loaded;
	size_t policies_failed;
	size_t policy_hooks;
	uint64_t policy_actions[_VIGIL_ACT_MAX]; /* [0]: posts suppressed by rateLimit */
	int bpf_stats_enabled;			 /* kernel.bpf_stats_enabled; -1 unknown */
	struct metrics_bpf_prog *progs;
	size_t n_progs;
};

/* Prometheus text format 0.0.4; *ret is NUL-terminated, malloc()ed. */
int metrics_render(const struct metrics_snapshot *s, char **ret, size_t *ret_size);

/*
 * Run time and run count of every loaded program of the BPF object skel (struct vigil_bpf *,
 * bpf/vigil.skel.h), and whether kernel.bpf_stats_enabled is on. *ret is malloc()ed.
 */
struct vigil_bpf;
int metrics_bpf_programs(struct vigil_bpf *skel, struct metrics_bpf_prog **ret, size_t *ret_n);
int metrics_bpf_stats_enabled(void);

struct metrics_server;

/*
 * Listen on "IPv4:port" or "[IPv6]:port" (port 0 = any free port) and serve /metrics from a
 * libmicrohttpd thread. Fails with -errno (logged), e.g. -EADDRINUSE, before any thread starts;
 * a failure to bind or listen is logged as an error if required, else as a warning.
 */
int metrics_server_new(const char *address, bool required, struct metrics_server **ret);
/* The bound port (useful with port 0). */
uint16_t metrics_server_port(struct metrics_server *s);
/* Serve text (malloc()ed, size bytes) from now on; takes ownership. Any thread. */
void metrics_server_publish(struct metrics_server *s, char *text, size_t size);
struct metrics_server *metrics_server_free(struct metrics_server *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct metrics_server *, metrics_server_free)

#endif /* VIGIL_METRICS_H */
