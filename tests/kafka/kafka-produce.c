/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kafka-produce N EXPECTED-FILE KEY=VALUE...: load out_kafka.so through the fake host with the
 * given [Kafka] settings, emit N exec records (pids 1..N, exec_id "exec-id-PID") and wait until
 * every one is acknowledged as delivered. EXPECTED-FILE gets one JSON line per record,
 * {"key":…,"value":…}, value being the record's JSON rendering (what a consumer must read).
 * Exit status 0 when all were delivered.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "fake_host.h"
#include "testrec.h"

#define BATCH 50

int main(int argc, char **argv)
{
	const struct vigil_plugin *plugin = fake_host_load("out_kafka.so");
	struct fake_host *fh = fake_host_new("kafka-produce");
	unsigned n, delivered = 0;
	void *inst = NULL;
	FILE *out;

	if (argc < 3 || !plugin)
		return 2;
	n = (unsigned)atoi(argv[1]);
	out = fopen(argv[2], "we");
	if (!out)
		return 2;
	for (int i = 3; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq)
			return 2;
		*eq = 0;
		fake_host_set(fh, "Kafka", argv[i], eq + 1);
	}
	if (plugin->init(&fh->host, &inst) < 0)
		return 1;

	for (unsigned base = 0; base < n; base += BATCH) {
		unsigned m = n - base < BATCH ? n - base : BATCH;
		msgpack_sbuffer sb[BATCH];
		struct vigil_record recs[BATCH];
		char ids[BATCH][32];
		uint8_t res[BATCH];
		struct vigil_batch b = {
			.records = recs, .n_records = m, .schema_major = 1, .id = base + 1};
		enum vigil_status st;

		for (unsigned i = 0; i < m; i++) {
			struct testproc p = testrec_curl;
			struct vbuf v = {};
			json_object *o = json_object_new_object();

			snprintf(ids[i], sizeof(ids[i]), "exec-id-%u", base + i + 1);
			p.exec_id = ids[i];
			p.pid = p.tid = base + i + 1;
			msgpack_sbuffer_init(&sb[i]);
			testrec_exec(&sb[i], &p, &testrec_bash);
			recs[i] = (struct vigil_record){(const uint8_t *)sb[i].data,
							(uint32_t)sb[i].size,
							VIGIL_RECORD_PROCESS_EXEC, base + i};
			if (json_render(recs[i].data, recs[i].size, &v) < 0)
				return 1;
			json_object_object_add(o, "key", json_object_new_string(ids[i]));
			json_object_object_add(o, "value",
					       json_object_new_string_len(v.data, (int)v.len));
			fprintf(out, "%s\n",
				json_object_to_json_string_ext(
					o,
					JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
			vbuf_done(&v);
		}
		memset(res, VIGIL_DELIVERED, m);
		fake_host_expect(fh, b.id, m);
		st = plugin->emit(inst, &b, res);
		if (st == VIGIL_PENDING && fake_host_wait_ack(fh, b.id, res, m, 30000) < 0) {
			fprintf(stderr, "kafka-produce: no ack for batch %llu\n",
				(unsigned long long)b.id);
			return 1;
		}
		if (st != VIGIL_PENDING && st != VIGIL_OK)
			return 1;
		for (unsigned i = 0; i < m; i++) {
			delivered += res[i] == VIGIL_DELIVERED;
			msgpack_sbuffer_destroy(&sb[i]);
		}
	}
	plugin->fini(inst);
	fclose(out);
	fake_host_free(fh);
	fprintf(stderr, "kafka-produce: %u of %u delivered\n", delivered, n);
	return delivered == n ? 0 : 1;
}
