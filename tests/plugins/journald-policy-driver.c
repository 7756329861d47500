/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helper of test-journald.sh (not a test by itself): encode a process_kprobe record (open of
 * /etc/shadow, Sigkill) and a process_tracepoint record (Post) with the daemon's encoder, emit
 * them through out_journald.so and print "status=OK results=00".
 */
#include <signal.h>
#include <stdio.h>

#include "fake_host.h"
#include "policy-record-fixtures.h"

int main(void)
{
	static const char *const names[] = {"OK", "PENDING", "RETRY", "FATAL"};
	static const char pargs[] = "bash", args[] = "cat\0/etc/shadow";
	static char *tags[] = {"file", "sensitive", NULL};
	const struct vigil_plugin *plugin = fake_host_load("out_journald.so");
	struct fake_host *fh = fake_host_new("journald-test");
	struct proc_cache *c = new_cache();
	struct record_encoder *r = NULL;
	struct compiled_hook kp = {.kind = POLICY_HOOK_KPROBE},
			     tp = {.kind = POLICY_HOOK_TRACEPOINT};
	const struct proc_entry *p;
	struct vigil_record recs[2];
	uint8_t *copies[2];
	uint8_t results[2] = {};
	struct vigil_batch b = {.records = recs, .n_records = 2, .schema_major = 1, .id = 1};
	const uint8_t *data;
	size_t size;
	enum vigil_status s;
	void *inst;

	(void)tap_tail; /* tap.h comes with the fixtures; no TEST() here */
	if (!plugin || !fh)
		return 99;
	if (!feed_exec(c, 1200, 5 * TICK, 0, 0, "/bin/bash", pargs, sizeof(pargs), 0))
		return 99;
	p = feed_exec(c, 1234, 7 * TICK, 1200, 5 * TICK, "/usr/bin/cat", args, sizeof(args), 0);
	if (!p || record_encoder_new("web-1", false, &r) < 0)
		return 99;
	if (plugin->init(&fh->host, &inst) < 0)
		return 1;

	kp.function_name = "__x64_sys_openat";
	kp.message = "shadow read";
	kp.tags = tags;
	meta_int(&kp.args[0], "int", true, 4, "dirfd");
	meta_of(&kp.args[1], POLICY_ARG_FILENAME, "filename");
	ev_init(1 << VIGIL_ACT_POST | 1 << VIGIL_ACT_SIGKILL, 0);
	pb.ev.signal = SIGKILL;
	arg_int((uint64_t)-100);
	arg_add(VIGIL_ARG_FILENAME, 0, "/etc/shadow", 11);
	if (record_encode_policy(r, 1700000000000000000ULL, 1234, c, p, &kp, "sensitive-files",
				 decode(), &data, &size) < 0)
		return 99;
	copies[0] = malloc(size);
	memcpy(copies[0], data, size);
	recs[0] =
		(struct vigil_record){copies[0], (uint32_t)size, VIGIL_RECORD_PROCESS_KPROBE, 2000};

	tp.subsys = "sched";
	tp.event = "sched_process_fork";
	meta_int(&tp.args[0], "int", true, 4, "child");
	ev_init(0, 0);
	arg_int(4242);
	if (record_encode_policy(r, 1700000000000000000ULL, 1234, c, p, &tp, "forks", decode(),
				 &data, &size) < 0)
		return 99;
	copies[1] = malloc(size);
	memcpy(copies[1], data, size);
	recs[1] = (struct vigil_record){copies[1], (uint32_t)size, VIGIL_RECORD_PROCESS_TRACEPOINT,
					2001};

	s = plugin->emit(inst, &b, results);
	printf("status=%s results=%u%u\n", names[s & 3], results[0], results[1]);
	plugin->fini(inst);
	fake_host_free(fh);
	record_encoder_free(r);
	proc_cache_free(c);
	free(copies[0]);
	free(copies[1]);
	return 0;
}
