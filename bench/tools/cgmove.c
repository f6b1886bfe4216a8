/*
 * cgmove CGROUP_DIR IDLE_MS REPEAT
 *
 * What it costs to put a new process into a cgroup-v1 cgroup, two ways,
 * each after IDLE_MS of quiet, REPEAT times:
 *
 *   procs  the parent writes the child's pid to CGROUP_DIR/cgroup.procs
 *          (what runtimes do: the parent moves the container's init)
 *   self   the child, single-threaded, writes "0" to CGROUP_DIR/tasks
 *
 * Moving a whole thread group takes the kernel's global
 * cgroup_threadgroup_rwsem for writing; its first writer after a quiet
 * period waits for an RCU grace period (milliseconds). A single thread that
 * moves itself does not need that lock (recent kernels, e.g. 6.18), so it
 * does not wait.
 * Prints one line per sample: "procs <us>" or "self <us>" (the write alone).
 * The children only wait and exit. CGROUP_DIR must exist and be empty.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int open_in(const char *dir, const char *file)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "cgmove: %s: %s\n", path, strerror(errno));
	return fd;
}

/* parent moves a waiting child by pid */
static int by_parent(const char *dir)
{
	int go[2], fd = open_in(dir, "cgroup.procs");
	char pid[32], c;
	if (fd < 0 || pipe(go) != 0)
		return -1;
	pid_t child = fork();
	if (child == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	int n = snprintf(pid, sizeof pid, "%d", (int)child);
	long long t0 = now_us();
	ssize_t w = write(fd, pid, n);
	long long t1 = now_us();
	close(go[1]);
	close(fd);
	waitpid(child, NULL, 0);
	if (w != n)
		return -1;
	printf("procs %lld\n", t1 - t0);
	return 0;
}

/* a single-threaded child moves itself; it reports through a pipe */
static int by_self(const char *dir)
{
	int res[2], fd = open_in(dir, "tasks");
	long long us = -1;
	if (fd < 0 || pipe(res) != 0)
		return -1;
	pid_t child = fork();
	if (child == 0) {
		long long t0 = now_us();
		ssize_t w = write(fd, "0", 1);
		long long d = w == 1 ? now_us() - t0 : -1;
		if (write(res[1], &d, sizeof d) < 0)
			_exit(1);
		_exit(0);
	}
	close(fd);
	close(res[1]);
	ssize_t r = read(res[0], &us, sizeof us);
	waitpid(child, NULL, 0);
	if (r != sizeof us || us < 0)
		return -1;
	printf("self %lld\n", us);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: cgmove CGROUP_DIR IDLE_MS REPEAT\n");
		return 2;
	}
	int idle = atoi(argv[2]), repeat = atoi(argv[3]);
	for (int i = 0; i < repeat; i++) {
		usleep(idle * 1000);
		if (by_parent(argv[1]) != 0)
			return 1;
		usleep(idle * 1000);
		if (by_self(argv[1]) != 0)
			return 1;
		fflush(stdout);
	}
	return 0;
}
