/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A long-running process for the tool's tests, in states the victim cannot hold while it waits:
 * memory paged out to swap, then locked with MCL_ONFAULT (which leaves swapped pages in swap);
 * memory mapped after start; a swap server's task state. Commands run in order: "pageout MIB",
 * "lock-onfault", "map MIB" (mapped and touched), "io-flusher" (PR_SET_IO_FLUSHER),
 * "oom-min" (oom_score_adj -1000), "fifo PRIO" (SCHED_FIFO), "threads N" (idle threads),
 * "fork-unlocked" (a child that munlockall()s and waits), "free MIB" (mapped, touched, given
 * back with MADV_DONTNEED), "setuid-self" (setuid(getuid()): imported, so doctor sees a program
 * that can drop privileges), "drop-ipc-lock" (CAP_IPC_LOCK out of every set, as a daemon's
 * privilege drop does), "sleep SECONDS". At "sleep" it prints
 * "pid=" and "ready=1" and waits. Also built statically, for doctor's "cannot be preloaded".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

static long number(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s ? s : "", &end, 10);
	if (!s || !*s || *end || errno || v < 0 || v > 4096) {
		fprintf(stderr, "tool-target: bad number '%s'\n", s ? s : "");
		exit(2);
	}
	return v;
}

static void *idle(void *arg)
{
	pause();
	return arg;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "pageout") == 0 && i + 1 < argc) {
			size_t len = (size_t)number(argv[++i]) << 20;
			char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				return 3;
			for (size_t o = 0; o < len; o += 4096)
				p[o] = 1;
			printf("madvise=%d\n", madvise(p, len, MADV_PAGEOUT));
		} else if (strcmp(argv[i], "lock-onfault") == 0) {
			printf("mlockall=%d\n", mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT));
		} else if (strcmp(argv[i], "map") == 0 && i + 1 < argc) {
			size_t len = (size_t)number(argv[++i]) << 20;
			char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				return 3;
			for (size_t o = 0; o < len; o += 4096)
				p[o] = 1;
		} else if (strcmp(argv[i], "io-flusher") == 0) {
			printf("io_flusher=%d\n", prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0));
		} else if (strcmp(argv[i], "oom-min") == 0) {
			int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

			printf("oom=%d\n", fd >= 0 && write(fd, "-1000", 5) == 5 ? 0 : -1);
			if (fd >= 0)
				close(fd);
		} else if (strcmp(argv[i], "fifo") == 0 && i + 1 < argc) {
			struct sched_param sp = { .sched_priority = (int)number(argv[++i]) };

			printf("fifo=%d\n", sched_setscheduler(0, SCHED_FIFO, &sp));
		} else if (strcmp(argv[i], "threads") == 0 && i + 1 < argc) {
			long n = number(argv[++i]);
			pthread_t t;

			for (long k = 0; k < n; k++)
				if (pthread_create(&t, NULL, idle, NULL) != 0)
					return 4;
		} else if (strcmp(argv[i], "fork-unlocked") == 0) {
			int done[2];
			char c;

			fflush(stdout);
			if (pipe(done) < 0)
				return 3;
			if (fork() == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				munlockall();
				/* Only now is the child in the state the tests read. */
				if (write(done[1], "u", 1) != 1)
					_exit(3);
				for (;;)
					pause();
			}
			close(done[1]);
			if (read(done[0], &c, 1) != 1)
				return 3;
			close(done[0]);
		} else if (strcmp(argv[i], "free") == 0 && i + 1 < argc) {
			size_t len = (size_t)number(argv[++i]) << 20;
			char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			int r;

			if (p == MAP_FAILED)
				return 3;
			for (size_t o = 0; o < len; o += 4096)
				p[o] = 1;
			r = madvise(p, len, MADV_DONTNEED);
			printf("dontneed=%d\ndontneed_errno=%d\n", r, r < 0 ? errno : 0);
		} else if (strcmp(argv[i], "drop-ipc-lock") == 0) {
			struct __user_cap_header_struct h = {
				.version = _LINUX_CAPABILITY_VERSION_3,
			};
			struct __user_cap_data_struct d[2] = { 0 };
			int r = (int)syscall(SYS_capget, &h, d);

			d[0].effective &= ~(1u << CAP_IPC_LOCK);
			d[0].permitted &= ~(1u << CAP_IPC_LOCK);
			d[0].inheritable &= ~(1u << CAP_IPC_LOCK);
			printf("drop_ipc_lock=%d\n", r < 0 ? r : (int)syscall(SYS_capset, &h, d));
		} else if (strcmp(argv[i], "setuid-self") == 0) {
			printf("setuid=%d\n", setuid(getuid()));
		} else if (strcmp(argv[i], "sleep") == 0 && i + 1 < argc) {
			long s = number(argv[++i]);

			printf("pid=%d\nready=1\n", (int)getpid());
			fflush(stdout);
			sleep((unsigned)s);
		} else {
			fprintf(stderr, "tool-target: unknown command '%s'\n", argv[i]);
			return 2;
		}
	}
	fflush(stdout);
	return 0;
}
