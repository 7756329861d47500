/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-outputs: throughput of the network outputs through the daemon's real plugin host and the
 * real plugins (bench/outputs.sh drives it; docs/benchmarks-outputs.md has the method).
 *
 *   bench-outputs json N FILE
 *	write the N benchmark records as JSON lines (json_render(), the Tetragon shape the plugins
 *	send) to FILE: the input of the syslog-ng comparison, so both ship the same bytes.
 *   bench-outputs run CONFDIR PLUGINDIR STATEDIR N [TIMEOUT-SECONDS]
 *	load CONFDIR like vigild --config-dir (vigild.conf + outputs.d/), start its outputs with
 *	the plugins of PLUGINDIR and the state (spool) under STATEDIR, enqueue the N records as
 *	fast as plugin_host_enqueue() takes them, and wait until every one is confirmed by the
 *	sink (delivered) or lost (dropped). Prints one "result ..." line: wall time from the first
 *	enqueue to the last confirmation, events/s, and the CPU time (user + system, every thread
 *	of this process: the enqueueing thread, the output worker, librdkafka's or the ack poller's
 *	threads) per event. Exit status 0 only when all N were delivered and none was lost.
 *
 * The records are what vigild produces for a burst of execs: the real decode -> process cache ->
 * msgpack encoder path (as in bench-pipeline.c), each record a distinct process (own pid,
 * exec_id and start time) with a parent, eight different binaries and argument lists. They are
 * built before the clock starts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <vigil/plugin.h>

#include "bpf/events.h"
#include "config.h"
#include "event.h"
#include "log.h"
#include "plugin_host.h"
#include "proc_cache.h"
#include "record.h"
#include "util/macro.h"
#include "plugins/common/json.h"

struct records {
	struct vbuf buf; /* the records, back to back */
	size_t *off;	 /* record i at buf.data + off[i] */
	uint32_t *len;	 /* of len[i] bytes */
	size_t n;
};

static void records_done(struct records *r)
{
	vbuf_done(&r->buf);
	free(r->off);
	free(r->len);
	*r = (struct records){};
}

struct image {
	const char *binary, *cwd;
	const char *args; /* NUL-separated */
	size_t args_len;
};

#define ARGS(s) s, sizeof(s) - 1
static const struct image images[] = {
	{"/usr/bin/curl", "/home/deploy",
	 ARGS("curl\0-fsSL\0--retry\0003\0https://artifacts.example.com/releases/v2.3.1/"
	      "app.tar.gz")},
	{"/usr/bin/git", "/srv/build/checkout",
	 ARGS("git\0fetch\0--prune\0--tags\0origin\0+refs/heads/*:refs/remotes/origin/*")},
	{"/usr/bin/python3.11", "/opt/app",
	 ARGS("python3\0-m\0gunicorn\0--workers\0004\0--bind\0127.0.0.1:8000\0app.wsgi:"
	      "application")},
	{"/usr/bin/dash", "/",
	 ARGS("sh\0-c\0/usr/lib/update-notifier/update-motd-updates-available")},
	{"/usr/sbin/nginx", "/", ARGS("nginx\0-g\0daemon on; master_process on;")},
	{"/usr/lib/x86_64-linux-gnu/some-daemon/bin/worker", "/var/lib/some-daemon/spool",
	 ARGS("worker\0--config=/etc/some-daemon/worker.conf\0--log-level=info\0--threads=4")},
	{"/usr/bin/ssh", "/home/deploy",
	 ARGS("ssh\0-o\0BatchMode=yes\0-i\0/home/deploy/.ssh/id_ed25519\0deploy@10.20.30.40")},
	{"/usr/bin/tar", "/var/backups",
	 ARGS("tar\0--zstd\0-cf\0/var/backups/etc-2025-11-22.tar.zst\0/etc")},
};

/* One exec sample as the BPF program writes it; returns its size. */
static size_t make_exec(uint8_t *buf, uint32_t pid, uint32_t ppid, uint64_t start,
			uint64_t parent_start, uint32_t uid, const struct image *im)
{
	struct vigil_exec_event *e = (struct vigil_exec_event *)buf;
	size_t bl = strlen(im->binary), cl = strlen(im->cwd);
	size_t size = sizeof(*e) + bl + cl + im->args_len;

	memset(e, 0, sizeof(*e));
	e->hdr = (struct vigil_event_hdr){.ts_ns = start + 1000,
					  .tgid = pid,
					  .pid = pid,
					  .cgroup_id = 1,
					  .type = VIGIL_EV_EXEC,
					  .version = VIGIL_EVENT_VERSION,
					  .size = (uint32_t)size};
	e->creds =
		(struct vigil_creds){.uid = uid, .euid = uid, .gid = uid, .egid = uid, .auid = uid};
	e->start_boottime = start;
	e->parent_start_boottime = parent_start;
	e->ppid = ppid;
	e->old_pid = pid;
	e->exe_ino = 4242 + (uint64_t)(im - images);
	e->binary_len = (uint32_t)bl;
	e->cwd_len = (uint32_t)cl;
	e->args_len = (uint32_t)im->args_len;
	memcpy(e->data, im->binary, bl);
	memcpy(e->data + bl, im->cwd, cl);
	memcpy(e->data + bl + cl, im->args, im->args_len);
	return size;
}

static int encode_one(struct record_encoder *enc, int64_t boot_offset, struct proc_cache *cache,
		      const uint8_t *sample, size_t size, const uint8_t **ret_data,
		      size_t *ret_size)
{
	struct event_decoded ev;
	const struct proc_entry *p;
	int r;

	r = event_decode(sample, size, &ev);
	if (r < 0)
		return r;
	p = proc_cache_on_exec(cache, &ev.exec);
	if (!p)
		return -ENOMEM;
	return record_encode_exec(enc, (uint64_t)((int64_t)ev.hdr->ts_ns + boot_offset),
				  ev.hdr->pid, cache, p, ret_data, ret_size);
}

static int records_make(size_t n, struct records *ret)
{
	struct proc_cache_options pco = {.max_entries = 65536,
					 .grace_usec = 0,
					 .node_name = "bench-node",
					 .proc_root = "/nonexistent"};
	struct proc_cache *cache = NULL;
	struct record_encoder *enc = NULL;
	static const struct image parent_image = {"/usr/bin/bash", "/home/deploy",
						  ARGS("-bash\0-l")};
	const uint64_t parent_start = 500000000ULL;
	const uint32_t parent_pid = 4000;
	struct records rs = {};
	uint8_t sample[1024];
	const uint8_t *rec;
	struct timespec ts;
	int64_t boot_offset;
	size_t rec_size, sz;
	int r;

	rs.off = calloc(n, sizeof(*rs.off));
	rs.len = calloc(n, sizeof(*rs.len));
	if (!rs.off || !rs.len) {
		r = -ENOMEM;
		goto fail;
	}
	r = proc_cache_new(&pco, &cache);
	if (r < 0)
		goto fail;
	r = record_encoder_new("bench-node", false, &enc);
	if (r < 0)
		goto fail;
	/* Wall clock: the burst ends now (dated indices are today's). */
	clock_gettime(CLOCK_REALTIME, &ts);
	boot_offset = (int64_t)ts.tv_sec * (int64_t)NSEC_PER_SEC + ts.tv_nsec - 1000000000LL -
		      (int64_t)n * 20000LL;
	record_encoder_set_boot_offset(enc, boot_offset);

	/* The login shell every process of the burst comes from. */
	sz = make_exec(sample, parent_pid, 1, parent_start, 0, 1000, &parent_image);
	r = encode_one(enc, boot_offset, cache, sample, sz, &rec, &rec_size);
	if (r < 0)
		goto fail;

	for (size_t i = 0; i < n; i++) {
		uint64_t start = 1000000000ULL + i * 20000ULL;
		uint32_t pid = 10000 + (uint32_t)(i % 4000000);
		struct vigil_exit_event ex = {.hdr = {.ts_ns = start + 5000,
						      .tgid = pid,
						      .pid = pid,
						      .cgroup_id = 1,
						      .type = VIGIL_EV_EXIT,
						      .version = VIGIL_EVENT_VERSION,
						      .size = sizeof(ex)},
					      .start_boottime = start,
					      .ppid = parent_pid};

		sz = make_exec(sample, pid, parent_pid, start, parent_start, 1000,
			       &images[i % ELEMENTSOF(images)]);
		r = encode_one(enc, boot_offset, cache, sample, sz, &rec, &rec_size);
		if (r < 0)
			goto fail;
		rs.off[i] = rs.buf.len;
		rs.len[i] = (uint32_t)rec_size;
		r = vbuf_append(&rs.buf, rec, rec_size);
		if (r < 0)
			goto fail;
		/* The process exits: keeps the cache the size it has in a real burst. */
		(void)proc_cache_on_exit(cache, &ex);
		if ((i & 8191) == 8191)
			proc_cache_expire(cache, UINT64_MAX / 2);
	}
	rs.n = n;
	record_encoder_free(enc);
	proc_cache_free(cache);
	*ret = rs;
	return 0;
fail:
	record_encoder_free(enc);
	proc_cache_free(cache);
	records_done(&rs);
	return r;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t cpu_usec(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * USEC_PER_SEC +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int cmd_json(size_t n, const char *path)
{
	_cleanup_(records_done) struct records rs = {};
	struct vbuf out = {};
	FILE *f;
	int r;

	r = records_make(n, &rs);
	if (r < 0)
		return log_error_errno(r, "Cannot build the records: %m");
	f = fopen(path, "we");
	if (!f)
		return log_error_errno(errno, "Cannot create %s: %m", path);
	for (size_t i = 0; i < rs.n; i++) {
		out.len = 0;
		r = json_render((const uint8_t *)rs.buf.data + rs.off[i], rs.len[i], &out);
		if (r >= 0)
			r = vbuf_putc(&out, '\n');
		if (r < 0)
			break;
		if (fwrite(out.data, 1, out.len, f) != out.len) {
			r = -EIO;
			break;
		}
	}
	vbuf_done(&out);
	if (fclose(f) != 0 && r >= 0)
		r = -errno;
	if (r < 0)
		return log_error_errno(r, "Cannot write %s: %m", path);
	return 0;
}

static int cmd_run(const char *confdir, const char *plugindir, const char *statedir, size_t n,
		   unsigned timeout_sec)
{
	_cleanup_(records_done) struct records rs = {};
	struct vigil_config *cfg = NULL;
	struct plugin_host *h = NULL;
	struct output_stats st = {};
	uint64_t t0, t1, c0, c1, deadline, not_taken = 0;
	bool done = false;
	int r;

	r = records_make(n, &rs);
	if (r < 0)
		return log_error_errno(r, "Cannot build the records: %m");
	r = config_load(&(struct config_source){.config_dir = confdir}, &cfg);
	if (r < 0)
		return r;
	r = plugin_host_new(&(struct plugin_host_options){.plugin_dir = plugindir,
							  .state_dir = statedir,
							  .node_name = "bench-node"},
			    cfg->outputs, cfg->n_outputs, &h);
	if (r < 0)
		goto finish;
	if (plugin_host_n_outputs(h) != 1) {
		r = log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s: expected one enabled output",
				    confdir);
		goto finish;
	}
	r = plugin_host_start(h);
	if (r < 0)
		goto finish;

	t0 = now_usec();
	c0 = cpu_usec();
	/* Bursts of 1024 records, as the main loop enqueues one ring-buffer drain at a time. */
	for (size_t i = 0; i < rs.n; i++) {
		if ((i & 1023) == 0)
			plugin_host_hold_wakeups(h);
		if (plugin_host_enqueue(h, VIGIL_RECORD_PROCESS_EXEC, i + 1,
					(const uint8_t *)rs.buf.data + rs.off[i], rs.len[i]) != 1)
			not_taken++;
		if ((i & 1023) == 1023 || i + 1 == rs.n)
			plugin_host_release_wakeups(h);
	}
	deadline = t0 + (uint64_t)timeout_sec * USEC_PER_SEC;
	for (;;) {
		plugin_host_stats(h, 0, &st);
		if (st.delivered + st.dropped + not_taken >= rs.n) {
			done = true;
			break;
		}
		if (now_usec() > deadline)
			break;
		(void)usleep(1000);
	}
	t1 = now_usec();
	c1 = cpu_usec();

	printf("result plugin=%s n=%zu delivered=%" PRIu64 " dropped=%" PRIu64
	       " not_enqueued=%" PRIu64 " retried=%" PRIu64 " spool=%s secs=%.3f eps=%.0f"
	       " cpu_us_per_event=%.2f record_bytes=%.0f%s\n",
	       st.plugin, rs.n, st.delivered, st.dropped, not_taken, st.retried,
	       st.spool ? "yes" : "no", (double)(t1 - t0) / 1e6,
	       (double)st.delivered / ((double)(t1 - t0) / 1e6),
	       (double)(c1 - c0) / (double)MAX(st.delivered, 1), (double)rs.buf.len / (double)n,
	       done ? "" : " TIMEOUT");
	fflush(stdout);
	r = done && st.delivered == rs.n && st.dropped == 0 && not_taken == 0 ? 0 : -EIO;
	if (plugin_host_stop(h, 10 * USEC_PER_SEC) < 0 && r == 0)
		r = -ETIMEDOUT;
finish:
	plugin_host_free(h);
	config_free(cfg);
	return r;
}

int main(int argc, char *argv[])
{
	int r;

	log_set_max_level(LOG_WARNING);
	if (argc == 4 && !strcmp(argv[1], "json"))
		r = cmd_json(strtoul(argv[2], NULL, 10), argv[3]);
	else if ((argc == 6 || argc == 7) && !strcmp(argv[1], "run"))
		r = cmd_run(argv[2], argv[3], argv[4], strtoul(argv[5], NULL, 10),
			    argc == 7 ? (unsigned)strtoul(argv[6], NULL, 10) : 120);
	else {
		fprintf(stderr,
			"usage: %s json N FILE\n"
			"       %s run CONFDIR PLUGINDIR STATEDIR N [TIMEOUT-SECONDS]\n",
			argv[0], argv[0]);
		return 2;
	}
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
