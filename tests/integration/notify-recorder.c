/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * notify-recorder LOG CMD [ARGS...]: run CMD with $NOTIFY_SOCKET pointing at a datagram socket
 * we own, and append every sd_notify() message CMD sends to LOG, one line per assignment, as
 * systemd would receive them. SIGTERM/SIGINT/SIGHUP are forwarded. Exits with CMD's status
 * (128+signal if it was killed). A stand-in for the service manager's notify socket in tests.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

int main(int argc, char *argv[])
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	FILE *log;
	int fd, status;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: notify-recorder LOG CMD [ARGS...]\n");
		return 2;
	}
	log = fopen(argv[1], "a");
	if (!log)
		return perror("fopen"), 2;
	setvbuf(log, NULL, _IOLBF, 0);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return perror("socket"), 2;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.sock", argv[1]);
	unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return perror("bind"), 2;
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);

	signal(SIGTERM, forward);
	signal(SIGINT, forward);
	signal(SIGHUP, forward);
	signal(SIGUSR1, forward);

	pid = fork();
	if (pid < 0)
		return perror("fork"), 2;
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("execvp");
		_exit(127);
	}
	child_pid = pid;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char buf[4096];
		ssize_t n;
		pid_t w;

		if (poll(&p, 1, 100) > 0) {
			n = recv(fd, buf, sizeof(buf) - 1, 0);
			if (n > 0) {
				buf[n] = '\0';
				fprintf(log, "%s\n", buf);
			}
			continue;
		}
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return perror("waitpid"), 2;
	}
	/* Collect anything sent right before exit. */
	for (;;) {
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n <= 0)
			break;
		buf[n] = '\0';
		fprintf(log, "%s\n", buf);
	}
	unlink(sa.sun_path);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
