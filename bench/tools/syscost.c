/*
 * syscost [LOOPS [REPEAT [FILTER]]]     defaults: 1000000 5 none
 *
 * Cost of one system call, in nanoseconds, measured from inside whatever
 * confinement the process runs in (a container, a seccomp filter). Two calls:
 *
 *   getppid()                  no arguments. A seccomp filter that allows it
 *                              whatever the arguments lets the kernel's
 *                              per-filter action cache (Linux >= 5.11) skip
 *                              the BPF program: only the fixed cost of
 *                              "some filter is installed" remains.
 *   personality(0xffffffff)    queries the persona, changes nothing. Docker's
 *                              default profile allows personality() only for
 *                              a few argument values, so the filter has to
 *                              look at the argument: no cache, the BPF
 *                              program runs on every call.
 *
 * Each call is timed REPEAT times over LOOPS iterations (CLOCK_MONOTONIC,
 * read through the vDSO, so the clock itself is not a system call). Output,
 * one line:
 *   syscost loops=L repeat=R filter=F getppid=<median> getppid_min=<min>
 *           personality=<median> personality_min=<min>
 *
 * FILTER installs a seccomp filter on this process first, for measuring the
 * kernel's part on a host:  none; allow = one instruction, RET_ALLOW (always
 * cached); argload = reads args[0], then RET_ALLOW (never cached).
 *
 * Build static, so it runs in a busybox rootfs:  gcc -O2 -static
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPEAT 101

static int install(const char *filter)
{
	static struct sock_filter allow[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	static struct sock_filter argload[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog;

	if (strcmp(filter, "none") == 0)
		return 0;
	if (strcmp(filter, "allow") == 0) {
		prog.len = 1;
		prog.filter = allow;
	} else if (strcmp(filter, "argload") == 0) {
		prog.len = 2;
		prog.filter = argload;
	} else {
		fprintf(stderr, "syscost: unknown filter %s\n", filter);
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		perror("syscost: seccomp");
		return -1;
	}
	return 0;
}

static double clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* median and minimum ns per call over `repeat` timed loops */
static void measure(long nr, unsigned long arg, long loops, int repeat,
		    double *median, double *minimum)
{
	double per_call[MAX_REPEAT];

	for (int r = 0; r < repeat; r++) {
		double start = clock_ns();
		for (long i = 0; i < loops; i++)
			syscall(nr, arg);
		per_call[r] = (clock_ns() - start) / (double)loops;
	}
	qsort(per_call, repeat, sizeof(double), by_value);
	*minimum = per_call[0];
	*median = repeat % 2 ? per_call[repeat / 2]
			     : (per_call[repeat / 2 - 1] + per_call[repeat / 2]) / 2;
}

int main(int argc, char **argv)
{
	long loops = argc > 1 ? atol(argv[1]) : 1000000;
	int repeat = argc > 2 ? atoi(argv[2]) : 5;
	const char *filter = argc > 3 ? argv[3] : "none";
	double gm, gmin, pm, pmin;

	if (loops < 1 || repeat < 1 || repeat > MAX_REPEAT) {
		fprintf(stderr, "usage: syscost [LOOPS [REPEAT(1..%d) [none|allow|argload]]]\n",
			MAX_REPEAT);
		return 2;
	}
	if (install(filter) != 0)
		return 2;
	/* a filter that refused the call would make the loop time an error path */
	if (syscall(SYS_personality, 0xffffffffUL) == -1) {
		perror("syscost: personality(0xffffffff)");
		return 1;
	}
	measure(SYS_getppid, 0, loops, repeat, &gm, &gmin);
	measure(SYS_personality, 0xffffffffUL, loops, repeat, &pm, &pmin);
	printf("syscost loops=%ld repeat=%d filter=%s getppid=%.1f getppid_min=%.1f "
	       "personality=%.1f personality_min=%.1f\n",
	       loops, repeat, filter, gm, gmin, pm, pmin);
	return 0;
}
