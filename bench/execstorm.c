/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * execstorm N PROGRAM: fork+exec PROGRAM N times, waiting for each; print the median, p90 and
 * mean microseconds per fork+exec+wait as "median_us=… p90_us=… mean_us=… n=…".
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp_u64(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char *argv[])
{
	unsigned long long *t, sum = 0;
	long n;

	if (argc != 3 || (n = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: execstorm N PROGRAM\n");
		return 2;
	}
	t = calloc((size_t)n, sizeof(*t));
	if (!t)
		return 1;
	for (long i = 0; i < n; i++) {
		struct timespec a, b;
		int status;
		pid_t pid;

		clock_gettime(CLOCK_MONOTONIC, &a);
		pid = fork();
		if (pid < 0)
			return perror("fork"), 1;
		if (pid == 0) {
			execl(argv[2], argv[2], (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0)
			return perror("waitpid"), 1;
		clock_gettime(CLOCK_MONOTONIC, &b);
		t[i] = (unsigned long long)(b.tv_sec - a.tv_sec) * 1000000000ULL +
		       (unsigned long long)(b.tv_nsec - a.tv_nsec);
		sum += t[i];
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_u64);
	printf("median_us=%.2f p90_us=%.2f mean_us=%.2f n=%ld\n", t[n / 2] / 1000.0,
	       t[n * 9 / 10] / 1000.0, sum / 1000.0 / n, n);
	free(t);
	return 0;
}
