/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kafka-sink BROKERS PARTITIONS BOOTSTRAP-FILE TOPIC...: librdkafka's mock cluster
 * (tests/kafka/mock.c) for bench/outputs.sh, which also says how many messages it stored.
 * Writes the bootstrap address to BOOTSTRAP-FILE (atomically), creates each TOPIC with
 * PARTITIONS partitions, then answers one command per line on stdin with one line on stdout:
 *   count TOPIC              "ok COUNT": messages stored in TOPIC (sum of the partitions'
 *                            high watermarks, asked over the Kafka protocol)
 *   wait TOPIC N [SECONDS]   poll that every 5 ms until COUNT >= N: "ok COUNT", or
 *                            "timeout COUNT" after SECONDS (default 120)
 *   quit                     (or end of input) stop
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mock.h"

static rd_kafka_t *client_new(const char *bootstraps)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK) {
		fprintf(stderr, "%s\n", err);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk)
		fprintf(stderr, "%s\n", err);
	return rk;
}

/* Messages in @topic, or -1 when a partition could not be asked. */
static long long count(rd_kafka_t *rk, const char *topic, int partitions)
{
	long long n = 0;

	for (int p = 0; p < partitions; p++) {
		int64_t lo, hi;

		if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000))
			return -1;
		n += hi - lo;
	}
	return n;
}

int main(int argc, char **argv)
{
	char line[4096], cmd[64], topic[1024], tmp[4096];
	struct kmock *m;
	rd_kafka_t *rk;
	int partitions;
	FILE *f;

	if (argc < 5) {
		fprintf(stderr, "usage: %s BROKERS PARTITIONS BOOTSTRAP-FILE TOPIC...\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	partitions = atoi(argv[2]);
	m = kmock_new(atoi(argv[1]));
	if (!m)
		return 1;
	for (int i = 4; i < argc; i++)
		if (kmock_topic(m, argv[i], partitions) < 0) {
			fprintf(stderr, "cannot create topic %s\n", argv[i]);
			return 1;
		}
	rk = client_new(kmock_bootstraps(m));
	if (!rk)
		return 1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[3]);
	f = fopen(tmp, "we");
	if (!f || fprintf(f, "%s\n", kmock_bootstraps(m)) < 0 || fclose(f) != 0 ||
	    rename(tmp, argv[3]) < 0) {
		perror(argv[3]);
		return 1;
	}

	while (fgets(line, sizeof(line), stdin)) {
		long long want = 0, n;
		unsigned secs = 120;
		int k = sscanf(line, "%63s %1023s %lld %u", cmd, topic, &want, &secs);
		time_t end;

		if (k < 1)
			continue;
		if (!strcmp(cmd, "quit"))
			break;
		if (!strcmp(cmd, "count") && k >= 2) {
			n = count(rk, topic, partitions);
			printf(n < 0 ? "error %lld\n" : "ok %lld\n", n);
		} else if (!strcmp(cmd, "wait") && k >= 3) {
			end = time(NULL) + secs;
			while ((n = count(rk, topic, partitions)) < want && time(NULL) < end)
				(void)usleep(5000);
			printf("%s %lld\n", n >= want ? "ok" : "timeout", n);
		} else
			printf("error unknown command\n");
	}
	rd_kafka_destroy(rk);
	kmock_free(m);
	return 0;
}
