/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The watcher of scripts/vm-deadlock: runs the hog as its child and decides the run's outcome.
 *
 *   watch [-s STALL] [-t TIMEOUT] -- hog MIB
 *
 * Progress is any change in the swap counters (pswpin/pswpout in /proc/vmstat) or in the hog's
 * page faults (/proc/PID/stat). No progress for STALL seconds is a deadlock (a livelock counts
 * too): the watcher dumps every user task's state and kernel stack, asks the kernel for sysrq-w
 * (tasks in D) and sysrq-l (what the CPUs run), and prints "DM-RESULT: deadlocked". The host
 * sends a serial BREAK-w too, in case this process cannot run any more.
 *
 * The watcher must keep running when nothing else does: locked, SCHED_FIFO (so the kernel's
 * allocations on its behalf may dip below the min watermark), OOM-exempt, no allocation after
 * start. SCHED_RESET_ON_FORK keeps the hog an ordinary task.
 *
 * Exit status 0 only when the hog completed: vm/init then reads the server's state again, which
 * after a deadlock could block on a stuck task's locks.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char line[4096];
static char buf[65536];

static void say(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(1, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ssize_t slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while (total < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(fd, buf + total, sizeof(buf) - 1 - (size_t)total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	return total;
}

static unsigned long long field_after(const char *key)
{
	const char *p = strstr(buf, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

struct sample {
	unsigned long long pswpin, pswpout, minflt, majflt, swap_total, swap_free, mem_free;
};

static void sample(pid_t child, struct sample *s)
{
	char path[64];

	memset(s, 0, sizeof(*s));
	if (slurp("/proc/vmstat") > 0) {
		s->pswpin = field_after("\npswpin ");
		s->pswpout = field_after("\npswpout ");
	}
	if (slurp("/proc/meminfo") > 0) {
		s->swap_total = field_after("SwapTotal:");
		s->swap_free = field_after("SwapFree:");
		s->mem_free = field_after("MemFree:");
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)child);
	if (slurp(path) > 0) {
		/* Fields after the comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt. */
		char *p = strrchr(buf, ')');
		unsigned long long v[8] = { 0 };

		if (p &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %llu %*u %llu", &v[0], &v[1]) == 2) {
			s->minflt = v[0];
			s->majflt = v[1];
		}
	}
}

static void dump_file(const char *label, const char *path)
{
	if (slurp(path) < 0)
		return;
	say("--- %s %s\n", label, path);
	for (char *l = buf, *e; *l; l = e) {
		e = strchrnul(l, '\n');
		say("    %.*s\n", (int)(e - l), l);
		if (*e)
			e++;
	}
}

/* Every user task: its status lines that matter here, its task flags and kernel stack. */
static void dump_tasks(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char path[128];

	if (!d)
		return;
	while ((e = readdir(d))) {
		int pid = atoi(e->d_name);
		DIR *t;
		struct dirent *te;

		if (pid <= 1 || pid == getpid())
			continue;
		/* Kernel threads by their flags (PF_KTHREAD): reading a task's cmdline takes its
		 * mmap_lock, which a task stuck in reclaim may hold. */
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if (slurp(path) <= 0)
			continue;
		{
			char *p = strrchr(buf, ')');
			unsigned long flags = 0;

			if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags) != 1 ||
			    (flags & 0x00200000))
				continue;
		}
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
		if (slurp(path) > 0) {
			say("=== pid %d\n", pid);
			for (char *l = buf, *x; *l; l = x) {
				x = strchrnul(l, '\n');
				if (!strncmp(l, "Name:", 5) || !strncmp(l, "State:", 6) ||
				    !strncmp(l, "Uid:", 4) || !strncmp(l, "VmRSS:", 6) ||
				    !strncmp(l, "VmLck:", 6) || !strncmp(l, "VmSwap:", 7) ||
				    !strncmp(l, "Threads:", 8) || !strncmp(l, "CapEff:", 7))
					say("    %.*s\n", (int)(x - l), l);
				if (*x)
					x++;
			}
		}
		snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
		dump_file("oom_score_adj", path);
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		t = opendir(path);
		while (t && (te = readdir(t))) {
			int tid = atoi(te->d_name);

			if (tid <= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
			dump_file("stat", path);
			snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", pid, tid);
			dump_file("stack", path);
		}
		if (t)
			closedir(t);
	}
	closedir(d);
}

static void sysrq(char c)
{
	int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	(void)!write(fd, &c, 1);
	close(fd);
}

static void prefault_stack(void)
{
	volatile char pad[256 * 1024];

	for (size_t i = 0; i < sizeof(pad); i += 4096)
		pad[i] = 0;
}

int main(int argc, char **argv)
{
	struct sched_param sp = { .sched_priority = 90 };
	double stall = 30, timeout = 900, t0, last;
	struct sample s, prev;
	int opt, status, fd;
	pid_t child;

	while ((opt = getopt(argc, argv, "+s:t:")) != -1) {
		if (opt == 's')
			stall = strtod(optarg, NULL);
		else if (opt == 't')
			timeout = strtod(optarg, NULL);
		else
			return 2;
	}
	if (optind >= argc) {
		say("usage: watch [-s STALL] [-t TIMEOUT] -- PROGRAM ARGS...\n");
		return 2;
	}
	prefault_stack();
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		say("watch: mlockall: %s\n", strerror(errno));
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp))
		say("watch: SCHED_FIFO: %s\n", strerror(errno));
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "-1000", 5);
		close(fd);
	}
	child = fork();
	if (child < 0) {
		say("watch: fork: %s\n", strerror(errno));
		return 2;
	}
	if (child == 0) {
		fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "0", 1);
			close(fd);
		}
		execv(argv[optind], argv + optind);
		_exit(127);
	}
	t0 = last = now();
	sample(child, &prev);
	for (int tick = 1;; tick++) {
		pid_t r;
		double t;

		sleep(1);
		r = waitpid(child, &status, WNOHANG);
		t = now();
		sample(child, &s);
		if (r == child) {
			say("watch: t=%.0f swap used %llu kB, pswpout %llu pswpin %llu\n", t - t0,
			    s.swap_total - s.swap_free, s.pswpout, s.pswpin);
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				say("DM-RESULT: completed %.0f s, swap used %llu kB, pswpout %llu\n",
				    t - t0, s.swap_total - s.swap_free, s.pswpout);
			else if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
				say("DM-RESULT: corrupt\n");
			else
				say("DM-RESULT: failed (hog status 0x%x)\n", status);
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
		}
		if (s.pswpin != prev.pswpin || s.pswpout != prev.pswpout ||
		    s.minflt != prev.minflt || s.majflt != prev.majflt)
			last = t;
		if (tick % 5 == 0)
			say("watch: t=%.0f swap used %llu kB, pswpout %llu pswpin %llu, hog flt %llu/%llu, "
			    "MemFree %llu kB\n",
			    t - t0, s.swap_total - s.swap_free, s.pswpout, s.pswpin, s.minflt,
			    s.majflt, s.mem_free);
		prev = s;
		if (t - last >= stall || t - t0 >= timeout) {
			bool stuck = t - last >= stall;

			say("watch: %s at t=%.0f: no progress for %.0f s; swap used %llu kB\n",
			    stuck ? "STALL" : "TIMEOUT", t - t0, t - last,
			    s.swap_total - s.swap_free);
			/* The verdict first: the dump below may block on a stuck task's locks. */
			if (stuck)
				say("DM-RESULT: deadlocked after %.0f s, swap used %llu kB, pswpout %llu\n",
				    t - t0, s.swap_total - s.swap_free, s.pswpout);
			else
				say("DM-RESULT: timeout %.0f s, swap used %llu kB\n", t - t0,
				    s.swap_total - s.swap_free);
			sysrq('w');
			sysrq('l');
			dump_file("meminfo", "/proc/meminfo");
			dump_tasks();
			say("DM-DUMPED\n");
			return 1;
		}
	}
}
