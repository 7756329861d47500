/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test output "record": writes what it receives into files in its state directory so the
 * plugin-host tests can check them. [Record] Mode= picks the behaviour:
 *   ok       deliver everything
 *   flaky    return VIGIL_RETRY for the first FailCount= emit() calls, then deliver
 *   partial  per record: seq % 3 == 1 → DROP, seq % 3 == 2 → REDO the first time, else deliver
 *   fatal    VIGIL_FATAL until the file "healthy" exists in the state directory; probe() says
 *            VIGIL_OK once it does
 *   stuck    always VIGIL_RETRY
 *   block    emit() blocks until the file "release" exists in the state directory (a sink
 *            stuck in a write), then delivers
 *   initfail init() fails with -EINVAL
 * Files: "delivered" gets "seq type data" per delivered record; "calls" a line per callback.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <vigil/plugin.h>

enum mode { MODE_OK, MODE_FLAKY, MODE_PARTIAL, MODE_FATAL, MODE_STUCK, MODE_BLOCK };

struct rec {
	const struct vigil_host *host;
	enum mode mode;
	unsigned fail_count, failed;
	FILE *delivered, *calls;
	char healthy[4096], release[4096];
	unsigned char redone[4096];
};

static const char *const rec_keys[] = {"Mode", "FailCount", "Tag", "Delay", NULL};

static FILE *open_state(const struct vigil_host *host, const char *name)
{
	char p[4096];

	(void)snprintf(p, sizeof(p), "%s/%s", host->state_dir, name);
	return fopen(p, "ae");
}

static int rec_init(const struct vigil_host *host, void **ret)
{
	const char *m = host->cfg_get(host, "Record", "Mode"), *fc, *loc;
	const char *const *tags;
	struct rec *r;
	uint64_t delay;
	int k;

	if (m && strcmp(m, "initfail") == 0)
		return host->log(host, LOG_ERR, EINVAL, "Mode=initfail: failing as asked");
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->host = host;
	r->mode = !m || !strcmp(m, "ok")  ? MODE_OK
		  : !strcmp(m, "flaky")	  ? MODE_FLAKY
		  : !strcmp(m, "partial") ? MODE_PARTIAL
		  : !strcmp(m, "fatal")	  ? MODE_FATAL
		  : !strcmp(m, "block")	  ? MODE_BLOCK
					  : MODE_STUCK;
	fc = host->cfg_get(host, "Record", "FailCount");
	r->fail_count = fc ? (unsigned)atoi(fc) : 0;
	(void)snprintf(r->healthy, sizeof(r->healthy), "%s/healthy", host->state_dir);
	(void)snprintf(r->release, sizeof(r->release), "%s/release", host->state_dir);
	r->delivered = open_state(host, "delivered");
	r->calls = open_state(host, "calls");
	if (!r->delivered || !r->calls) {
		k = -errno;
		if (r->delivered)
			fclose(r->delivered);
		if (r->calls)
			fclose(r->calls);
		free(r);
		return host->log(host, LOG_ERR, k, "cannot open state files: %m");
	}
	fprintf(r->calls, "init %s node=%s\n", host->instance, host->node_name);
	tags = host->cfg_get_list(host, "Record", "Tag");
	fprintf(r->calls, "tags");
	for (k = 0; tags[k]; k++)
		fprintf(r->calls, "%s%s", k ? "," : " ", tags[k]);
	fprintf(r->calls, "\n");
	loc = host->cfg_location(host, "Record", "Mode");
	if (loc)
		fprintf(r->calls, "loc %s\n", loc);
	k = host->cfg_get_usec(host, "Record", "Delay", &delay);
	if (k == 0)
		fprintf(r->calls, "delay %llu\n", (unsigned long long)delay);
	else if (k != -ENOENT)
		fprintf(r->calls, "delay error %d\n", k);
	fflush(r->calls);
	*ret = r;
	return 0;
}

static void deliver(struct rec *r, const struct vigil_record *x)
{
	fprintf(r->delivered, "%llu %u %.*s\n", (unsigned long long)x->seq, x->type, (int)x->size,
		(const char *)x->data);
}

static enum vigil_status rec_emit(void *instance, const struct vigil_batch *b, uint8_t *results)
{
	struct rec *r = instance;
	enum vigil_status st = VIGIL_OK;

	fprintf(r->calls, "emit %u ", b->n_records);
	for (uint32_t i = 0; i < b->n_records; i++)
		fprintf(r->calls, "%s%llu", i ? "," : "", (unsigned long long)b->records[i].seq);
	fprintf(r->calls, "\n");

	switch (r->mode) {
	case MODE_FLAKY:
		if (r->failed < r->fail_count) {
			r->failed++;
			st = VIGIL_RETRY;
		}
		break;
	case MODE_FATAL:
		if (access(r->healthy, F_OK) < 0)
			st = VIGIL_FATAL;
		break;
	case MODE_STUCK:
		st = VIGIL_RETRY;
		break;
	case MODE_BLOCK:
		fflush(r->calls);
		while (access(r->release, F_OK) < 0)
			usleep(1000);
		break;
	default:
		break;
	}
	if (st != VIGIL_OK) {
		fprintf(r->calls, "status %d\n", st);
		fflush(r->calls);
		return st;
	}
	for (uint32_t i = 0; i < b->n_records; i++) {
		uint64_t seq = b->records[i].seq;

		if (r->mode == MODE_PARTIAL && seq % 3 == 1) {
			results[i] = VIGIL_DROP;
			continue;
		}
		if (r->mode == MODE_PARTIAL && seq % 3 == 2 && seq < sizeof(r->redone) &&
		    !r->redone[seq]) {
			r->redone[seq] = 1;
			results[i] = VIGIL_REDO;
			continue;
		}
		deliver(r, &b->records[i]);
	}
	fflush(r->delivered);
	fflush(r->calls);
	return VIGIL_OK;
}

static enum vigil_status rec_flush(void *instance, uint64_t timeout_usec)
{
	struct rec *r = instance;

	fprintf(r->calls, "flush\n");
	fflush(r->calls);
	return VIGIL_OK;
}

static enum vigil_status rec_probe(void *instance)
{
	struct rec *r = instance;
	bool ok = access(r->healthy, F_OK) == 0;

	fprintf(r->calls, "probe %s\n", ok ? "ok" : "down");
	fflush(r->calls);
	return ok ? VIGIL_OK : VIGIL_FATAL;
}

static enum vigil_status rec_reopen(void *instance)
{
	struct rec *r = instance;

	fprintf(r->calls, "reopen\n");
	fflush(r->calls);
	return VIGIL_OK;
}

static void rec_fini(void *instance)
{
	struct rec *r = instance;

	fprintf(r->calls, "fini\n");
	fclose(r->calls);
	fclose(r->delivered);
	free(r);
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_OUTPUT, .name = "record",
		    .description = "test output that records what it gets", .section = "Record",
		    .keys = rec_keys, .init = rec_init, .emit = rec_emit, .flush = rec_flush,
		    .probe = rec_probe, .reopen = rec_reopen, .fini = rec_fini);
