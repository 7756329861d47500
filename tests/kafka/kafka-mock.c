/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kafka-mock BROKERS PARTITIONS BOOTSTRAP-FILE [TOPIC...]: run librdkafka's mock cluster for the
 * shell tests. Writes the bootstrap address to BOOTSTRAP-FILE (atomically, via rename), creates
 * each TOPIC with PARTITIONS partitions, then obeys one command per line on stdin and answers
 * each with one line on stdout ("ok ..." or "error ..."):
 *   topic NAME PARTITIONS       create a topic
 *   down ID | up ID             take broker ID (1..BROKERS) down / bring it back
 *   consume TOPIC N OUTFILE [TIMEOUT-SECONDS]
 *                               read N messages of TOPIC from the beginning and write them as
 *                               JSON lines {topic,partition,offset,key,headers,value} to OUTFILE;
 *                               answers "ok COUNT" or "timeout COUNT" (default timeout 30 s)
 *   quit                        (or end of input) stop
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

static void write_json(const rd_kafka_message_t *m, void *userdata)
{
	kmock_write_json(m, userdata);
}

int main(int argc, char **argv)
{
	struct kmock *m;
	char line[4096], tmp[4096];
	FILE *f;

	if (argc < 4) {
		fprintf(stderr, "usage: %s BROKERS PARTITIONS BOOTSTRAP-FILE [TOPIC...]\n",
			argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	m = kmock_new(atoi(argv[1]));
	if (!m)
		return 1;
	for (int i = 4; i < argc; i++)
		if (kmock_topic(m, argv[i], atoi(argv[2])) < 0) {
			fprintf(stderr, "cannot create topic %s\n", argv[i]);
			return 1;
		}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[3]);
	f = fopen(tmp, "we");
	if (!f || fprintf(f, "%s\n", kmock_bootstraps(m)) < 0 || fclose(f) != 0 ||
	    rename(tmp, argv[3]) < 0) {
		perror(argv[3]);
		return 1;
	}

	while (fgets(line, sizeof(line), stdin)) {
		char a[1024] = "", b[1024] = "", c[1024] = "";
		int n = sscanf(line, "%1023s %1023s %1023s %1023s", tmp, a, b, c);
		unsigned timeout = 30;

		if (n < 1)
			continue;
		if (!strcmp(tmp, "quit"))
			break;
		if (!strcmp(tmp, "topic") && n >= 3)
			printf(kmock_topic(m, a, atoi(b)) < 0 ? "error\n" : "ok\n");
		else if (!strcmp(tmp, "down") && n >= 2)
			printf(kmock_down(m, atoi(a)) < 0 ? "error\n" : "ok\n");
		else if (!strcmp(tmp, "up") && n >= 2)
			printf(kmock_up(m, atoi(a)) < 0 ? "error\n" : "ok\n");
		else if (!strcmp(tmp, "consume") && n >= 4) {
			int want = atoi(b), got;

			/* OUTFILE is the 4th word; an optional timeout follows it. */
			if (sscanf(line, "%*s %*s %*s %1023s %u", c, &timeout) < 1) {
				printf("error usage\n");
				continue;
			}
			f = fopen(c, "we");
			if (!f) {
				printf("error %s\n", c);
				continue;
			}
			got = kmock_consume(kmock_bootstraps(m), a, want, timeout * 1000,
					    write_json, f);
			fclose(f);
			printf("%s %d\n", got >= want ? "ok" : "timeout", got);
		} else
			printf("error unknown command\n");
	}
	kmock_free(m);
	return 0;
}
