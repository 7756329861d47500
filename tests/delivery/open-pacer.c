/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Event generator for the delivery tests: open-pacer PREFIX RATE SECONDS [FIRST]
 * calls open("PREFIX<n>") on a path that does not exist for n = FIRST, FIRST+1, ... at RATE
 * opens per second for SECONDS seconds, paced per millisecond, so every event a policy on
 * openat reports carries its own number and a test can check that none is lost and that they
 * arrive in order. Prints "opened=N last=M" at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char *argv[])
{
	unsigned long rate, seconds, first = 1, n = 0, total;
	uint64_t start;
	char path[4096];

	if (argc < 4 || argc > 5 || (rate = strtoul(argv[2], NULL, 10)) == 0 ||
	    (seconds = strtoul(argv[3], NULL, 10)) == 0) {
		fprintf(stderr, "usage: open-pacer PREFIX RATE SECONDS [FIRST]\n");
		return 2;
	}
	if (argc == 5)
		first = strtoul(argv[4], NULL, 10);
	total = rate * seconds;
	start = mono_ns();
	while (n < total) {
		/* How many opens should be done by now. */
		uint64_t due = (mono_ns() - start) * rate / 1000000000ULL + 1;

		if (due > total)
			due = total;
		while (n < due) {
			int fd;

			snprintf(path, sizeof(path), "%s%lu", argv[1], first + n);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0)
				close(fd);
			n++;
		}
		if (n < total) {
			struct timespec ts = {0, 1000000};

			nanosleep(&ts, NULL);
		}
	}
	printf("opened=%lu last=%lu\n", n, first + n - 1);
	return 0;
}
