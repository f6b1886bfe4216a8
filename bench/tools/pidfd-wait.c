/*
 * pidfd-wait PID [TIMEOUT_MS]
 *
 * Returns once process PID has terminated (is a zombie or gone), without
 * being its parent and without polling: pidfd_open(2) + poll(2).
 * Exit status: 0 terminated (or never existed), 1 error, 3 timed out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: pidfd-wait PID [TIMEOUT_MS]\n");
		return 1;
	}
	pid_t pid = (pid_t)strtol(argv[1], NULL, 10);
	int timeout = argc == 3 ? atoi(argv[2]) : -1;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0) {
		if (errno == ESRCH)
			return 0;
		fprintf(stderr, "pidfd-wait: pidfd_open(%d): %s\n", (int)pid, strerror(errno));
		return 1;
	}
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	for (;;) {
		int n = poll(&pfd, 1, timeout);
		if (n > 0)
			return 0;
		if (n == 0)
			return 3;
		if (errno != EINTR) {
			fprintf(stderr, "pidfd-wait: poll: %s\n", strerror(errno));
			return 1;
		}
	}
}
