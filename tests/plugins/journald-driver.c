/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helper of test-journald.sh (not a test by itself): dlopen out_journald.so, emit one batch of
 * exec, exit (SIGKILL), clone and vigil_loss records and print the emit() status and each
 * record's result: "status=OK results=0000". Usage: journald-driver [json]
 */
#include "fake_host.h"
#include "testrec.h"

int main(int argc, char **argv)
{
	static const char *const names[] = {"OK", "PENDING", "RETRY", "FATAL"};
	static const char *const marker_argv[] = {"vigil-marker", "--password=x", "two words",
						  "line\nbreak", NULL};
	const struct vigil_plugin *plugin = fake_host_load("out_journald.so");
	struct fake_host *fh = fake_host_new("journald-test");
	msgpack_sbuffer sb[4];
	struct vigil_record recs[4];
	uint8_t results[4] = {};
	struct testproc p = testrec_curl;
	struct vigil_batch b = {.records = recs, .n_records = 4, .schema_major = 1, .id = 1};
	enum vigil_status s;
	void *inst;

	if (!plugin)
		return 99;
	if (argc > 1)
		fake_host_set(fh, "Journald", "Fields", argv[1]);
	if (plugin->init(&fh->host, &inst) < 0)
		return 1;
	p.binary = "/usr/local/bin/vigil-marker";
	p.argv = marker_argv;
	p.arguments = "--password=x \"two words\" line\nbreak";
	p.container_id = "0123456789abcdef0123456789abcdef";
	for (int i = 0; i < 4; i++)
		msgpack_sbuffer_init(&sb[i]);
	testrec_exec(&sb[0], &p, &testrec_bash);
	testrec_exit(&sb[1], &p, &testrec_bash, 0, "SIGKILL");
	testrec_clone(&sb[2], &p, &testrec_bash);
	testrec_loss(&sb[3], "queue", 12, 40, "kafka-main");
	for (int i = 0; i < 4; i++)
		recs[i] = (struct vigil_record){(const uint8_t *)sb[i].data, (uint32_t)sb[i].size,
						(uint32_t)i + 1, 1000 + (uint64_t)i};
	s = plugin->emit(inst, &b, results);
	printf("status=%s results=%u%u%u%u\n", names[s & 3], results[0], results[1], results[2],
	       results[3]);
	plugin->fini(inst);
	fake_host_free(fh);
	for (int i = 0; i < 4; i++)
		msgpack_sbuffer_destroy(&sb[i]);
	return 0;
}
