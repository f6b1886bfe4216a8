/*
 * rusage LOGFILE COMMAND [ARG...]
 *
 * Runs COMMAND, waits for it, and appends one line to LOGFILE:
 *   <status> <wall_us> <maxrss_kib> <user_us> <sys_us>
 * wall is taken from just before fork(2) to just after wait4(2) returns;
 * maxrss/user/sys come from wait4's rusage, i.e. they cover COMMAND and the
 * descendants it waited for (maxrss: the largest single process, as
 * /usr/bin/time %M). status is the exit code, or 128+N after signal N.
 * COMMAND's stdin, stdout and stderr are ours. Exits with COMMAND's status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static long long tv_us(struct timeval tv)
{
	return tv.tv_sec * 1000000LL + tv.tv_usec;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	int st, code;

	if (argc < 3) {
		fprintf(stderr, "usage: rusage LOGFILE COMMAND [ARG...]\n");
		return 2;
	}
	FILE *log = fopen(argv[1], "a");
	if (!log) {
		fprintf(stderr, "rusage: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	long long t0 = now_us();
	pid_t pid = fork();
	if (pid < 0) {
		perror("rusage: fork");
		return 2;
	}
	if (pid == 0) {
		fclose(log);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "rusage: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("rusage: wait4");
			return 2;
		}
	long long t1 = now_us();
	code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	fprintf(log, "%d %lld %ld %lld %lld\n", code, t1 - t0, ru.ru_maxrss,
		tv_us(ru.ru_utime), tv_us(ru.ru_stime));
	fclose(log);
	return code;
}
