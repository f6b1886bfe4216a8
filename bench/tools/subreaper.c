/*
 * subreaper COMMAND [ARG...]
 *
 * Runs COMMAND as a child while this process is a child subreaper
 * (PR_SET_CHILD_SUBREAPER), and reaps every process that gets re-parented
 * to it, as containerd-shim or conmon do for the containers they start.
 * Without it a detached container init (after `create`/`start`, `run -d`)
 * is re-parented to pid 1, which on some machines reaps late; its zombie
 * then keeps the container "running" for the runtime and holds its pid.
 *
 * SIGINT, SIGTERM and SIGHUP are passed on to COMMAND. Exits with COMMAND's
 * status (128+N if it died of signal N), once it and every orphan that was
 * re-parented here have been reaped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t command_pid;

static void pass_on(int sig)
{
	if (command_pid > 0)
		kill(command_pid, sig);
}

int main(int argc, char **argv)
{
	int status, result = 1;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: subreaper COMMAND [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
		fprintf(stderr, "subreaper: prctl: %s\n", strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "subreaper: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		fprintf(stderr, "subreaper: %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	command_pid = pid;
	signal(SIGINT, pass_on);
	signal(SIGTERM, pass_on);
	signal(SIGHUP, pass_on);
	for (;;) {
		pid_t p = waitpid(-1, &status, 0);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: nothing is left */
		}
		if (p == pid)
			result = WIFEXITED(status) ? WEXITSTATUS(status)
						   : 128 + WTERMSIG(status);
	}
	return result;
}
