/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Not a test: measures json_render() and compact_render() on a typical exec record (process +
 * parent, ~700 bytes of msgpack) on one core and prints records/s. Target: ≥ 2M records/s for
 * JSON. Usage: tests/plugins/bench-json [iterations]
 */
#include <stdio.h>
#include <time.h>

#include "common/json.h"
#include "common/record_view.h"
#include "testrec.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench(const char *name, int (*fn)(const uint8_t *, size_t, struct vbuf *),
		  const msgpack_sbuffer *sb, long n)
{
	struct vbuf out = {};
	size_t bytes = 0;
	double t;

	t = now();
	for (long i = 0; i < n; i++) {
		out.len = 0;
		if (fn((const uint8_t *)sb->data, sb->size, &out) < 0) {
			fprintf(stderr, "%s failed\n", name);
			return;
		}
		bytes += out.len;
	}
	t = now() - t;
	printf("%-8s %zu bytes msgpack -> %zu bytes: %.0f records/s (%.0f ns/record)\n", name,
	       sb->size, bytes / (size_t)n, (double)n / t, t * 1e9 / (double)n);
	vbuf_done(&out);
}

int main(int argc, char **argv)
{
	static const char *const argv_long[] = {
		"curl",	      "--silent",      "--show-error",
		"--location", "--header",      "Accept: application/json",
		"-o",	      "/tmp/out.json", "https://example.org/api/v1/items?id=42",
		NULL};
	struct testproc p = testrec_curl;
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	msgpack_sbuffer sb;

	p.argv = argv_long;
	p.arguments = "--silent --show-error --location --header \"Accept: application/json\" -o "
		      "/tmp/out.json https://example.org/api/v1/items?id=42";
	msgpack_sbuffer_init(&sb);
	testrec_exec(&sb, &p, &testrec_bash);
	{
		/* Baseline: msgpack-c building its object tree (no rendering at all). */
		msgpack_zone z;
		double t;

		msgpack_zone_init(&z, 8192);
		t = now();
		for (long i = 0; i < n / 4; i++) {
			msgpack_object o;
			size_t off = 0;
			msgpack_unpack(sb.data, sb.size, &off, &z, &o);
			msgpack_zone_clear(&z);
		}
		t = now() - t;
		printf("baseline msgpack_unpack (tree only): %.0f records/s (%.0f ns/record)\n",
		       (double)(n / 4) / t, t * 1e9 / (double)(n / 4));
		msgpack_zone_destroy(&z);
	}
	bench("json", json_render, &sb, n);
	bench("compact", compact_render, &sb, n / 4);
	msgpack_sbuffer_destroy(&sb);
	return 0;
}
