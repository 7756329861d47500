/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bpf-stats-hold CMD [ARG...]: run CMD with BPF run-time statistics on, through a
 * BPF_ENABLE_STATS file descriptor held by this process, so they are off again when it exits
 * whatever happens (unlike the kernel.bpf_stats_enabled sysctl). Exits with CMD's status, or 77
 * when the kernel cannot enable statistics this way.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

int main(int argc, char **argv)
{
	int fd, status;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CMD [ARG...]\n", argv[0]);
		return 2;
	}
	fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (fd < 0) {
		fprintf(stderr, "BPF_ENABLE_STATS: %s\n", strerror(-fd));
		return 77;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("waitpid");
		return 1;
	}
	close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
