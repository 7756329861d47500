/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-pipeline [N]: push N synthetic kernel events (exec + exit pairs of short-lived
 * processes with realistic paths and argv) through the daemon's real code path: event_decode()
 * -> proc_cache (enrich) -> record_encode_*() (msgpack) -> json_render() -> write(/dev/null) in
 * 64 KiB batches, on the calling thread. Prints events/s, and the same loop with only
 * memcpy + write of the raw samples as a baseline measured in the same run.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf/events.h"
#include "cgroup.h"
#include "event.h"
#include "log.h"
#include "proc_cache.h"
#include "record.h"
#include "plugins/common/json.h"

#define NPIDS 4096

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static size_t make_exec(uint8_t *buf, uint32_t pid, uint64_t start)
{
	static const char binary[] = "/usr/lib/x86_64-linux-gnu/some-daemon/bin/worker";
	static const char cwd[] = "/var/lib/some-daemon/spool";
	static const char args[] =
		"worker\0--config=/etc/some-daemon/worker.conf\0--log-level=info\0"
		"--listen=127.0.0.1:8080\0--threads=4\0job-12345";
	struct vigil_exec_event *e = (struct vigil_exec_event *)buf;
	size_t size = sizeof(*e) + sizeof(binary) - 1 + sizeof(cwd) - 1 + sizeof(args) - 1;

	memset(e, 0, sizeof(*e));
	e->hdr = (struct vigil_event_hdr){.ts_ns = start + 1000,
					  .tgid = pid,
					  .pid = pid,
					  .cgroup_id = 1,
					  .type = VIGIL_EV_EXEC,
					  .version = VIGIL_EVENT_VERSION,
					  .size = (uint32_t)size};
	e->start_boottime = start;
	e->ppid = 1;
	e->exe_ino = 4242;
	e->binary_len = sizeof(binary) - 1;
	e->cwd_len = sizeof(cwd) - 1;
	e->args_len = sizeof(args) - 1;
	memcpy(e->data, binary, e->binary_len);
	memcpy(e->data + e->binary_len, cwd, e->cwd_len);
	memcpy(e->data + e->binary_len + e->cwd_len, args, e->args_len);
	return size;
}

static size_t make_exit(uint8_t *buf, uint32_t pid, uint64_t start)
{
	struct vigil_exit_event *e = (struct vigil_exit_event *)buf;

	*e = (struct vigil_exit_event){.hdr = {.ts_ns = start + 5000,
					       .tgid = pid,
					       .pid = pid,
					       .cgroup_id = 1,
					       .type = VIGIL_EV_EXIT,
					       .version = VIGIL_EVENT_VERSION,
					       .size = sizeof(*e)},
				       .start_boottime = start,
				       .ppid = 1,
				       .exit_code = 3 << 8};
	return sizeof(*e);
}

int main(int argc, char *argv[])
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
	struct proc_cache_options pco = {.max_entries = 65536,
					 .grace_usec = 0,
					 .node_name = "bench-node",
					 .proc_root = "/nonexistent"};
	struct proc_cache *cache = NULL;
	struct record_encoder *enc = NULL;
	struct vbuf out = {};
	static uint8_t samples[2][NPIDS][512];
	static size_t sizes[2][NPIDS];
	uint64_t t0, t1, base_ns, pipe_ns;
	int devnull, r;

	log_set_max_level(LOG_WARNING);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (devnull < 0 || proc_cache_new(&pco, &cache) < 0 ||
	    record_encoder_new("bench-node", false, &enc) < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	for (uint32_t i = 0; i < NPIDS; i++) {
		sizes[0][i] = make_exec(samples[0][i], 100000 + i, 1000000000ULL + i);
		sizes[1][i] = make_exit(samples[1][i], 100000 + i, 1000000000ULL + i);
	}

	/* Baseline: copy each raw sample into the output buffer and write it out. */
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		uint32_t k = (uint32_t)(i / 2) % NPIDS;
		int kind = (int)(i & 1);

		(void)vbuf_append(&out, samples[kind][k], sizes[kind][k]);
		if (out.len >= 65536) {
			(void)!write(devnull, out.data, out.len);
			out.len = 0;
		}
	}
	t1 = now_ns();
	base_ns = t1 - t0;
	out.len = 0;

	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		uint32_t k = (uint32_t)(i / 2) % NPIDS;
		int kind = (int)(i & 1);
		struct event_decoded ev;
		const struct proc_entry *p;
		const uint8_t *rec;
		size_t rec_size;

		r = event_decode(samples[kind][k], sizes[kind][k], &ev);
		if (r < 0)
			return fprintf(stderr, "decode failed\n"), 1;
		if (ev.type == VIGIL_EV_EXEC) {
			p = proc_cache_on_exec(cache, &ev.exec);
			r = p ? record_encode_exec(enc, 1, ev.hdr->pid, cache, p, &rec, &rec_size)
			      : -1;
		} else {
			p = proc_cache_on_exit(cache, ev.exit);
			r = p ? record_encode_exit(enc, 1, ev.hdr->pid, cache, p,
						   ev.exit->exit_code, &rec, &rec_size)
			      : -1;
		}
		if (r < 0)
			return fprintf(stderr, "enrich/encode failed at %ld\n", i), 1;
		if (json_render(rec, rec_size, &out) < 0 || vbuf_putc(&out, '\n') < 0)
			return fprintf(stderr, "render failed\n"), 1;
		if (out.len >= 65536) {
			(void)!write(devnull, out.data, out.len);
			out.len = 0;
		}
		if ((i & 8191) == 8191)
			proc_cache_expire(cache, UINT64_MAX / 2);
	}
	t1 = now_ns();
	pipe_ns = t1 - t0;

	printf("baseline (memcpy+write):       %.2f M events/s\n", n / (base_ns / 1e9) / 1e6);
	printf("pipeline (decode..JSON):       %.2f M events/s, %.0f ns/event  (target >= 1.00 "
	       "M/s)\n",
	       n / (pipe_ns / 1e9) / 1e6, (double)pipe_ns / n);
	printf("pipeline / baseline time:      %.1fx\n", (double)pipe_ns / base_ns);
	vbuf_done(&out);
	record_encoder_free(enc);
	proc_cache_free(cache);
	close(devnull);
	return 0;
}
