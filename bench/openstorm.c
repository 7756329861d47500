/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * open() storm: THREADS threads each open(PATH, O_RDONLY) COUNT times (PATH normally does not
 * exist, so the cost is the syscall and whatever observes it). Prints
 *   opens=N threads=T ns_per_open=X (wall time x threads / opens)
 * Usage: openstorm THREADS COUNT PATH
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static long count;

static void *worker(void *arg)
{
	(void)arg;
	for (long i = 0; i < count; i++) {
		int fd = open(path, O_RDONLY);

		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char *argv[])
{
	pthread_t th[64];
	int threads;
	uint64_t t0, t1;

	if (argc != 4 || (threads = atoi(argv[1])) < 1 || threads > 64 ||
	    (count = atol(argv[2])) < 1) {
		fprintf(stderr, "usage: openstorm THREADS COUNT PATH\n");
		return 2;
	}
	path = argv[3];
	t0 = now_ns();
	for (int i = 0; i < threads; i++)
		if (pthread_create(&th[i], NULL, worker, NULL) != 0)
			return perror("pthread_create"), 1;
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	t1 = now_ns();
	printf("opens=%ld threads=%d ns_per_open=%.1f wall_ms=%.1f\n", count * threads, threads,
	       (double)(t1 - t0) * threads / ((double)count * threads), (double)(t1 - t0) / 1e6);
	return 0;
}
