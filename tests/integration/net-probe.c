/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Minimal TCP peer for the shell tests (no nc/python on a bare CI machine):
 *   net-probe listen ADDR PORT SECONDS   listen, print the number of connections accepted
 *                                        within SECONDS (non-blocking accept) and exit
 *   net-probe connect ADDR PORT          connect once; print "ok" or the errno name (ECONNREFUSED)
 * ADDR may be IPv4 or IPv6.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int make_addr(const char *a, const char *p, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	int port = atoi(p);

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((unsigned short)port);
		*len = sizeof(*in4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, a, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*in6);
		return AF_INET6;
	}
	return -1;
}

int main(int argc, char *argv[])
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fam, fd, one = 1;

	if (argc < 4 || (fam = make_addr(argv[2], argv[3], &ss, &len)) < 0) {
		fprintf(stderr, "usage: net-probe listen|connect ADDR PORT [SECONDS]\n");
		return 2;
	}
	fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return perror("socket"), 1;
	if (strcmp(argv[1], "listen") == 0 && argc == 5) {
		time_t end = time(NULL) + atoi(argv[4]);
		int n = 0;

		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0)
			return perror("bind/listen"), 1;
		(void)fcntl(fd, F_SETFL, O_NONBLOCK);
		printf("listening\n");
		fflush(stdout);
		while (time(NULL) < end) {
			int c = accept(fd, NULL, NULL);

			if (c >= 0) {
				n++;
				close(c);
			} else
				usleep(20000);
		}
		printf("accepted %d\n", n);
		return 0;
	}
	if (strcmp(argv[1], "connect") == 0) {
		if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
			printf("ok\n");
			return 0;
		}
		printf("%s\n", strerrorname_np(errno) ?: "unknown");
		return 1;
	}
	fprintf(stderr, "usage: net-probe listen|connect ADDR PORT [SECONDS]\n");
	return 2;
}
