/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A scratch preload for scripts/vm-deadlock's "proto" configurations: every step a preload can
 * take so that an unmodified swap server allocates nothing under pressure, each switched by an
 * environment variable, to learn which ones matter (vm/RESULTS.md). Not the product: the
 * swap-server profile (preload/profile.c) is what comes of it.
 *
 *   DMP_LOCK=1        mlockall(MCL_CURRENT | MCL_FUTURE), again in every fork child
 *   DMP_FLUSHER=1     prctl(PR_SET_IO_FLUSHER)
 *   DMP_OOM=N         oom_score_adj N (-1000)
 *   DMP_FIFO=P        SCHED_FIFO at priority P (DMP_RR=P: SCHED_RR)
 *   DMP_HEAP=MIB      one malloc arena, no mmap'd chunks, no trimming, MIB grown and touched
 *   DMP_STACK=KIB     stack faulted in to that depth
 *   DMP_TSTACK=KIB    default thread stack size (pthread_setattr_default_np)
 *   DMP_EXPORT=PATH   reads and writes of that file or device through O_DIRECT bounce buffers
 *
 * Steps are taken in the order above, except the lock, which comes after the heap, the stack and
 * the bounce buffer are in place. Each says what it did on /dev/kmsg (the console), or stderr.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

#define BOUNCE (4u << 20)
#define MAXFD 1024
#define ALIGN 4096

static int log_fd = -1;
static int lock_on;
static int twin[MAXFD]; /* fd of the export -> its O_DIRECT twin + 1 (0: none) */
static dev_t exp_rdev;
static dev_t exp_dev;
static ino_t exp_ino;
static int exp_set;
static char *bounce;
static pthread_mutex_t bounce_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long n_direct, n_buffered;

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pread64)(int, void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n, e = errno;

	n = snprintf(line, sizeof(line), "dmp[%d]: ", (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (real_write)
		(void)!real_write(log_fd >= 0 ? log_fd : 2, line, (size_t)n);
	errno = e;
}

static long knob(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : dflt;
}

static void prefault_stack(size_t kib)
{
	volatile char *p = alloca(kib * 1024);

	for (size_t i = 0; i < kib * 1024; i += 4096)
		p[i] = 0;
}

static void lock_all(const char *when)
{
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		say("%s: mlockall: %m\n", when);
	else
		say("%s: mlockall current+future: done\n", when);
}

static void atfork_child(void)
{
	if (lock_on)
		lock_all("fork child");
}

static int is_export(int fd)
{
	struct stat st;

	if (!exp_set || fd < 0 || fd >= MAXFD || fstat(fd, &st))
		return 0;
	if (S_ISBLK(st.st_mode))
		return st.st_rdev == exp_rdev;
	return st.st_dev == exp_dev && st.st_ino == exp_ino;
}

static void adopt(int fd, const char *path, int flags)
{
	int d;

	if (fd < 0 || !is_export(fd))
		return;
	d = real_open(path, (flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_DIRECT | O_CLOEXEC);
	if (d < 0) {
		say("export %s: O_DIRECT twin: %m; its I/O stays buffered\n", path);
		return;
	}
	twin[fd] = d + 1;
	say("export %s (fd %d): reads and writes through O_DIRECT (fd %d)\n", path, fd, d);
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	fd = real_open(path, flags, mode);
	adopt(fd, path, flags);
	return fd;
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	fd = real_open64(path, flags, mode);
	adopt(fd, path, flags);
	return fd;
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	fd = real_openat(dirfd, path, flags, mode);
	if (path[0] == '/')
		adopt(fd, path, flags);
	return fd;
}

int close(int fd)
{
	if (fd >= 0 && fd < MAXFD && twin[fd]) {
		real_close(twin[fd] - 1);
		twin[fd] = 0;
	}
	return real_close(fd);
}

/* O_DIRECT needs offset, length and buffer aligned: the bounce buffer is; offset and length must
 * be multiples of 512 (the logical block size), or the call goes the buffered way. */
static ssize_t direct_io(int fd, void *ubuf, size_t len, off_t off, int wr)
{
	int d = twin[fd] - 1;
	size_t done = 0;

	pthread_mutex_lock(&bounce_lock);
	while (done < len) {
		size_t n = len - done < BOUNCE ? len - done : BOUNCE;
		ssize_t r;

		if (wr) {
			memcpy(bounce, (char *)ubuf + done, n);
			r = real_pwrite64(d, bounce, n, off + (off_t)done);
		} else {
			r = real_pread64(d, bounce, n, off + (off_t)done);
			if (r > 0)
				memcpy((char *)ubuf + done, bounce, (size_t)r);
		}
		if (r < 0) {
			pthread_mutex_unlock(&bounce_lock);
			return done ? (ssize_t)done : -1;
		}
		done += (size_t)r;
		if ((size_t)r < n)
			break;
	}
	n_direct++;
	pthread_mutex_unlock(&bounce_lock);
	return (ssize_t)done;
}

static int direct_ok(int fd, size_t len, off_t off)
{
	if (fd < 0 || fd >= MAXFD || !twin[fd])
		return 0;
	if ((off | (off_t)len) & 511) {
		if (n_buffered++ < 5)
			say("export: unaligned I/O (%zu at %lld) goes through the page cache\n",
			    len, (long long)off);
		return 0;
	}
	return 1;
}

ssize_t pread64(int fd, void *buf, size_t len, off_t off)
{
	return direct_ok(fd, len, off) ? direct_io(fd, buf, len, off, 0) :
					 real_pread64(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	return direct_ok(fd, len, off) ? direct_io(fd, (void *)buf, len, off, 1) :
					 real_pwrite64(fd, buf, len, off);
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	return direct_ok(fd, len, off) ? direct_io(fd, buf, len, off, 0) :
					 real_pread(fd, buf, len, off);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return direct_ok(fd, len, off) ? direct_io(fd, (void *)buf, len, off, 1) :
					 real_pwrite(fd, buf, len, off);
}

ssize_t read(int fd, void *buf, size_t len)
{
	off_t off;
	ssize_t r;

	if (fd < 0 || fd >= MAXFD || !twin[fd] || (off = lseek(fd, 0, SEEK_CUR)) < 0 ||
	    !direct_ok(fd, len, off))
		return real_read(fd, buf, len);
	r = direct_io(fd, buf, len, off, 0);
	if (r > 0)
		lseek(fd, off + r, SEEK_SET);
	return r;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	off_t off;
	ssize_t r;

	if (fd < 0 || fd >= MAXFD || !twin[fd] || (off = lseek(fd, 0, SEEK_CUR)) < 0 ||
	    !direct_ok(fd, len, off))
		return real_write(fd, buf, len);
	r = direct_io(fd, (void *)buf, len, off, 1);
	if (r > 0)
		lseek(fd, off + r, SEEK_SET);
	return r;
}

__attribute__((constructor)) static void dmp_start(void)
{
	long oom, fifo, rr, heap, stack, tstack;
	const char *exp;

	real_open = dlsym(RTLD_NEXT, "open");
	real_open64 = dlsym(RTLD_NEXT, "open64");
	real_openat = dlsym(RTLD_NEXT, "openat");
	real_close = dlsym(RTLD_NEXT, "close");
	real_pread = dlsym(RTLD_NEXT, "pread");
	real_pwrite = dlsym(RTLD_NEXT, "pwrite");
	real_pread64 = dlsym(RTLD_NEXT, "pread64");
	real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
	real_read = dlsym(RTLD_NEXT, "read");
	real_write = dlsym(RTLD_NEXT, "write");
	log_fd = real_open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	if (knob("DMP_FLUSHER", 0)) {
		if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0))
			say("PR_SET_IO_FLUSHER: %m\n");
		else
			say("PR_SET_IO_FLUSHER: done\n");
	}
	oom = knob("DMP_OOM", 0);
	if (oom) {
		char v[16];
		int fd = real_open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		int n = snprintf(v, sizeof(v), "%ld", oom);

		if (fd < 0 || real_write(fd, v, (size_t)n) != n)
			say("oom_score_adj %ld: %m\n", oom);
		else
			say("oom_score_adj %ld: done\n", oom);
		if (fd >= 0)
			real_close(fd);
	}
	fifo = knob("DMP_FIFO", 0);
	rr = knob("DMP_RR", 0);
	if (fifo || rr) {
		struct sched_param sp = { .sched_priority = (int)(fifo ? fifo : rr) };

		if (sched_setscheduler(0, fifo ? SCHED_FIFO : SCHED_RR, &sp))
			say("%s %d: %m\n", fifo ? "SCHED_FIFO" : "SCHED_RR", sp.sched_priority);
		else
			say("%s %d: done\n", fifo ? "SCHED_FIFO" : "SCHED_RR", sp.sched_priority);
	}
	heap = knob("DMP_HEAP", 0);
	if (heap > 0) {
		size_t bytes = (size_t)heap << 20;
		char *p;

		/* One arena: threads would otherwise get arenas of their own, mmap'd and grown
		 * with mprotect, which MCL_FUTURE populates under pressure. No chunk gets its own
		 * mmap; nothing is given back, so the reserve stays. */
		mallopt(M_ARENA_MAX, 1);
		mallopt(M_MMAP_THRESHOLD, 32 << 20);
		mallopt(M_MMAP_MAX, 0);
		mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
		mallopt(M_TOP_PAD, (int)bytes);
		p = malloc(bytes);
		if (p) {
			for (size_t i = 0; i < bytes; i += 4096)
				p[i] = 1;
			free(p);
			say("heap reserve %ld MiB: done\n", heap);
		} else {
			say("heap reserve %ld MiB: %m\n", heap);
		}
	}
	stack = knob("DMP_STACK", 0);
	if (stack > 0) {
		prefault_stack((size_t)stack);
		say("stack %ld KiB faulted in: done\n", stack);
	}
	tstack = knob("DMP_TSTACK", 0);
	if (tstack > 0) {
		pthread_attr_t a;
		int e;

		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, (size_t)tstack << 10);
		e = pthread_setattr_default_np(&a);
		pthread_attr_destroy(&a);
		if (e)
			say("thread stacks %ld KiB: %s\n", tstack, strerror(e));
		else
			say("thread stacks %ld KiB: done\n", tstack);
	}
	exp = getenv("DMP_EXPORT");
	if (exp && *exp) {
		struct stat st;

		bounce = mmap(NULL, BOUNCE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			      0);
		if (bounce == MAP_FAILED || stat(exp, &st)) {
			say("export %s: %m\n", exp);
		} else {
			memset(bounce, 0, BOUNCE);
			exp_rdev = st.st_rdev;
			exp_dev = st.st_dev;
			exp_ino = st.st_ino;
			exp_set = 1;
			say("export %s: bounce buffer %u KiB\n", exp, BOUNCE >> 10);
		}
	}
	if (knob("DMP_LOCK", 0)) {
		lock_on = 1;
		lock_all("start");
		pthread_atfork(NULL, NULL, atfork_child);
	}
}
