/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * libduende_mlock_io.so: a swap server's reads and writes of its export kept out of the page
 * cache. Under memory pressure a buffered pwrite() to the exported device first allocates page
 * cache, and that allocation reclaims, possibly into the very swap the server is serving
 * (vm/RESULTS.md: pwrite64 -> blkdev_write_iter -> __filemap_get_folio -> reclaim). With O_DIRECT
 * the data goes from a buffer allocated and locked before main() straight to the device.
 *
 * Only an explicit LD_PRELOAD of a swap server loads this object, beside the preload object,
 * whose constructor arms it (__duende_mlock_io_arm) when the program's settings choose the
 * swap-server profile and name its export (the export key). Until then, and in every process it
 * is never armed in, each wrapper is one load and a jump to glibc's function.
 *
 * When armed:
 *   open, open64, __open_2, __open64_2
 *       An open of the export (the same device number, or the same inode) gets a twin: a second
 *       descriptor of the same file with O_DIRECT, with the same access mode. The program's own
 *       descriptor is left as it opened it.
 *   pread, pread64, pwrite, pwrite64
 *       On a descriptor with a twin, a request whose offset and length are multiples of the
 *       export's alignment (the device's logical block size; a file's STATX_DIOALIGN) goes to
 *       the twin: straight from the caller's buffer when that is aligned too, else through one of
 *       the bounce buffers. Anything else, and a request the twin refuses (EINVAL), goes to the
 *       program's descriptor as it would have. The kernel keeps the two coherent: a direct write
 *       writes back and drops cached pages in its range, a direct read writes back dirty ones
 *       first.
 *   close
 *       Closes the twin with the descriptor.
 * Each call checks that the descriptor is still the export (fstat), so a descriptor number the
 * program reused through dup2() or a raw close never reaches the twin, and checks the twin
 * (fcntl, fstat): a twin the program closed behind close() (close_range) is forgotten, never
 * written through. Twins sit near the top of the descriptor table; close() of one answers EBADF,
 * as it would without this object. An export opened with O_APPEND gets no twin; O_SYNC and
 * O_DSYNC carry over. Not reached: an export opened with openat() (its libc symbol's version
 * cannot be bound past a wrapper here without giving up the stack protector), read, write,
 * preadv, pwritev, splice, io_uring, mmap of the export, and __pread_chk (fortify level 3): those
 * stay buffered. nbd-server opens with open64 and serves with pread64/pwrite64. A pread or pwrite
 * of the export from a signal handler may wait on a bounce buffer its thread holds.
 */
/*
 * The build asks for 64-bit offsets, which makes glibc's headers rename open to open64 and pread
 * to pread64; this file defines both names itself. On LP64 they are the same functions.
 */
#undef _FILE_OFFSET_BITS
#include "config.h"

#if !defined(__LP64__)
/* There off_t and off64_t differ, and pread is not pread64: the wrappers would need both. */
#error "libduende_mlock_io.so is written for 64-bit (LP64) targets only"
#endif

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libc-bind.h"

REAL(int, open64, (const char *, int, ...), GLIBC_BASE);
REAL(int, close, (int), GLIBC_BASE);
REAL(int, __open64_2, (const char *, int), "GLIBC_2.7");
REAL(ssize_t, pread64, (int, void *, size_t, off_t), GLIBC_BASE);
REAL(ssize_t, pwrite64, (int, const void *, size_t, off_t), GLIBC_BASE);

#define EXPORT __attribute__((visibility("default")))

/* Descriptors above this are served buffered: a swap server opens its export early. */
#define IO_MAX_FD 4096
/* Twins at most, all told: the export is opened once per server process, not per request. */
#define IO_MAX_TWINS 64
/*
 * Bounce buffers: a few, so that a server's worker threads do not queue behind one another, each
 * large enough for a typical swap request (the kernel writes swap in clusters of up to 1 MiB).
 */
#define IO_BOUNCES 4
#define IO_BOUNCE_BYTES (1u << 20)

static atomic_bool armed;
/* The export: a block device by its device number, anything else by device and inode. */
static bool exp_blk;
static dev_t exp_rdev, exp_dev;
static ino_t exp_ino;
static size_t exp_align;
/* twin[fd]: the O_DIRECT twin of the program's fd, plus one; 0 for none. */
static atomic_int twin[IO_MAX_FD];
/* Every twin this object holds, plus one: close() of one of them is the program's mistake. */
static atomic_int twins[IO_MAX_TWINS];
static atomic_int n_twins;
static char *bounce[IO_BOUNCES];
static pthread_mutex_t bounce_lock[IO_BOUNCES] = {
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
};

static bool is_export(const struct stat *st)
{
	if (exp_blk)
		return S_ISBLK(st->st_mode) && st->st_rdev == exp_rdev;
	return !S_ISBLK(st->st_mode) && st->st_dev == exp_dev && st->st_ino == exp_ino;
}

static bool fd_is_export(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && is_export(&st);
}

/*
 * Is d still this object's twin, good for the call? The program may have closed it behind our
 * back (close_range, a raw close) and got the number again for another file: then writing to it
 * would put the export's data there.
 */
static bool twin_valid(int d, bool write)
{
	int fl = fcntl(d, F_GETFL);

	if (fl < 0 || !(fl & O_DIRECT) || (fl & O_APPEND))
		return false;
	if ((fl & O_ACCMODE) == (write ? O_RDONLY : O_WRONLY))
		return false;
	return fd_is_export(d);
}

static void twins_note(int d, bool add)
{
	for (unsigned i = 0; i < IO_MAX_TWINS; i++) {
		int want = add ? 0 : d + 1;

		if (atomic_compare_exchange_strong(&twins[i], &want, add ? d + 1 : 0)) {
			atomic_fetch_add(&n_twins, add ? 1 : -1);
			return;
		}
	}
}

static bool twins_has(int d)
{
	if (!atomic_load_explicit(&n_twins, memory_order_relaxed))
		return false;
	for (unsigned i = 0; i < IO_MAX_TWINS; i++)
		if (atomic_load_explicit(&twins[i], memory_order_relaxed) == d + 1)
			return true;
	return false;
}

/* Is d still a twin of ours, whatever the call (its access mode aside)? */
static bool twin_ours(int d)
{
	return twin_valid(d, false) || twin_valid(d, true);
}

/* A twin (plus one, 0 for none) taken out of its slot: forgotten, and closed if still ours. */
static void twin_release(int t)
{
	if (!t)
		return;
	twins_note(t - 1, false);
	if (twin_ours(t - 1))
		dm_real_close(t - 1);
}

static void twin_drop(int fd)
{
	twin_release(atomic_exchange(&twin[fd], 0));
}

/*
 * A twin sits near the top of the descriptor table, out of the numbers the program expects its
 * next open() to return and out of its low-numbered close() loops.
 */
static int high_fd(int d)
{
	struct rlimit rl;
	int h;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < 256 || rl.rlim_cur == RLIM_INFINITY)
		return d;
	h = fcntl(d, F_DUPFD_CLOEXEC, (int)(rl.rlim_cur - IO_MAX_TWINS));
	if (h < 0)
		return d;
	dm_real_close(d);
	return h;
}

/* After the program's own open succeeded: a twin for the export. errno is the caller's. */
static int after_open(int fd, const char *path, int flags)
{
	int saved = errno, d;

	/*
	 * O_APPEND: pwrite() appends there, which the twin would not. O_SYNC and O_DSYNC carry over:
	 * O_DIRECT alone flushes no device cache.
	 */
	if (fd < 0 || fd >= IO_MAX_FD || (flags & (O_DIRECT | O_PATH | O_APPEND)) ||
	    !fd_is_export(fd) || atomic_load(&n_twins) >= IO_MAX_TWINS)
		return fd;
	/* A twin left from an earlier descriptor of this number goes first. */
	twin_drop(fd);
	d = dm_real_open64(path, (flags & (O_ACCMODE | O_SYNC | O_DSYNC)) | O_DIRECT | O_CLOEXEC);
	if (d >= 0 && !fd_is_export(d)) {
		/* The path was renamed in between: no twin is better than a wrong one. */
		dm_real_close(d);
		d = -1;
	}
	if (d >= 0) {
		d = high_fd(d);
		twins_note(d, true);
		atomic_store(&twin[fd], d + 1);
	}
	errno = saved;
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	/* __O_TMPFILE holds O_DIRECTORY's bit: only both together are O_TMPFILE. */
	bool has_mode = (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE;

	return has_mode ? (mode_t)va_arg(ap, int) : 0;
}

EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return dm_real_open64(path, flags, mode);
	return after_open(dm_real_open64(path, flags, mode), path, flags);
}

/* On LP64, glibc's open is open64 (one function, two names). */
EXPORT int open(const char *path, int flags, ...) __attribute__((alias("open64")));

/* _FORTIFY_SOURCE turns open(path, flags) with flags unknown at compile time into these. */
EXPORT int __open64_2(const char *path, int flags);
EXPORT int __open64_2(const char *path, int flags)
{
	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return dm_real___open64_2(path, flags);
	return after_open(dm_real___open64_2(path, flags), path, flags);
}

EXPORT int __open_2(const char *path, int flags) __attribute__((alias("__open64_2")));

EXPORT int close(int fd)
{
	int r, t, saved;

	if (atomic_load_explicit(&n_twins, memory_order_relaxed) && twins_has(fd)) {
		if (twin_ours(fd)) {
			/* Without this object the number would not be open: answer as then. */
			errno = EBADF;
			return -1;
		}
		/* Closed behind our back, and the program's now. */
		twins_note(fd, false);
	}
	if (fd < 0 || fd >= IO_MAX_FD || !atomic_load_explicit(&twin[fd], memory_order_relaxed))
		return dm_real_close(fd);
	/* The slot first: an open() of the export on the same number may give it a new twin. */
	t = atomic_exchange(&twin[fd], 0);
	r = dm_real_close(fd);
	saved = errno;
	twin_release(t);
	errno = saved;
	return r;
}

/* The twin of an export descriptor for this call, or -1: none, or not valid any more. */
static int twin_of(int fd, bool write)
{
	int t;

	if (fd < 0 || fd >= IO_MAX_FD)
		return -1;
	t = atomic_load_explicit(&twin[fd], memory_order_relaxed);
	if (!t)
		return -1;
	if (!fd_is_export(fd)) {
		/* fd reused behind close(): forget its twin, and serve the call as it is. */
		twin_drop(fd);
		return -1;
	}
	if (!twin_valid(t - 1, write)) {
		/* The twin closed or replaced behind our back: it is not ours to close. */
		if (atomic_compare_exchange_strong(&twin[fd], &t, 0))
			twins_note(t - 1, false);
		return -1;
	}
	return t - 1;
}

static ssize_t buffered(bool write, int fd, void *buf, size_t n, off_t off)
{
	return write ? dm_real_pwrite64(fd, buf, n, off) : dm_real_pread64(fd, buf, n, off);
}

static unsigned bounce_take(void)
{
	for (unsigned i = 0; i < IO_BOUNCES; i++)
		if (pthread_mutex_trylock(&bounce_lock[i]) == 0)
			return i;
	pthread_mutex_lock(&bounce_lock[0]);
	return 0;
}

/* Through a bounce buffer, a chunk at a time; short at the first short transfer, like the call. */
static ssize_t bounced(bool write, int d, char *buf, size_t n, off_t off)
{
	unsigned b = bounce_take();
	size_t done = 0;
	ssize_t r = 0;

	while (done < n) {
		size_t chunk = n - done < IO_BOUNCE_BYTES ? n - done : IO_BOUNCE_BYTES;

		if (write) {
			memcpy(bounce[b], buf + done, chunk);
			r = dm_real_pwrite64(d, bounce[b], chunk, off + (off_t)done);
		} else {
			r = dm_real_pread64(d, bounce[b], chunk, off + (off_t)done);
			if (r > 0)
				memcpy(buf + done, bounce[b], (size_t)r);
		}
		if (r <= 0)
			break;
		done += (size_t)r;
		if ((size_t)r < chunk)
			break;
	}
	pthread_mutex_unlock(&bounce_lock[b]);
	if (r < 0 && done == 0)
		return -1;
	return (ssize_t)done;
}

static ssize_t io(bool write, int fd, void *buf, size_t n, off_t off)
{
	int d = twin_of(fd, write);
	ssize_t r;
	int saved;

	if (d < 0 || (((size_t)off | n) & (exp_align - 1)) || n == 0)
		return buffered(write, fd, buf, n, off);
	saved = errno;
	if (((uintptr_t)buf & (exp_align - 1)) == 0)
		r = buffered(write, d, buf, n, off);
	else
		r = bounced(write, d, buf, n, off);
	if (r < 0 && errno == EINVAL) {
		/* Stricter than the alignment this object found: the call as the program made it. */
		errno = saved;
		return buffered(write, fd, buf, n, off);
	}
	return r;
}

EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return dm_real_pread64(fd, buf, n, off);
	return io(false, fd, buf, n, off);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return dm_real_pwrite64(fd, buf, n, off);
	return io(true, fd, (void *)buf, n, off);
}

EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off) __attribute__((alias("pread64")));
EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
	__attribute__((alias("pwrite64")));

/* A fork child must not inherit a bounce buffer's lock held by a thread it does not have. */
static void fork_prepare(void)
{
	for (unsigned i = 0; i < IO_BOUNCES; i++)
		pthread_mutex_lock(&bounce_lock[i]);
}

static void fork_done(void)
{
	for (unsigned i = IO_BOUNCES; i-- > 0;)
		pthread_mutex_unlock(&bounce_lock[i]);
}

/* The alignment O_DIRECT needs on the export: offsets, lengths and buffer addresses. */
static int direct_alignment(const char *path, const struct stat *st, size_t *align)
{
	int fd, r = 0;

	fd = dm_real_open64(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return errno == EINVAL ? -EOPNOTSUPP : -errno;
	*align = 4096;
	if (S_ISBLK(st->st_mode)) {
		int lbs = 0;

		if (ioctl(fd, BLKSSZGET, &lbs) == 0 && lbs >= 512)
			*align = (size_t)lbs;
	} else {
#ifdef STATX_DIOALIGN
		struct statx sx;

		if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
		    (sx.stx_mask & STATX_DIOALIGN)) {
			if (!sx.stx_dio_offset_align)
				r = -EOPNOTSUPP;
			else
				*align = sx.stx_dio_offset_align > sx.stx_dio_mem_align ?
						 sx.stx_dio_offset_align :
						 sx.stx_dio_mem_align;
		}
#endif
	}
	dm_real_close(fd);
	return r;
}

/*
 * Called by the preload object's constructor (profile.c), through a weak reference that finds
 * this object only when it is loaded. 0, or a negative errno: -EINVAL the path is not a file or a
 * block device, -EOPNOTSUPP its file system does no O_DIRECT, -ENOMEM no bounce buffers.
 */
EXPORT int __duende_mlock_io_arm(const char *path, size_t *align);
EXPORT int __duende_mlock_io_arm(const char *path, size_t *align)
{
	struct stat st;
	char *p;
	int r;

	if (stat(path, &st) < 0)
		return -errno;
	if (atomic_load(&armed)) {
		/* Armed again (the API after the preload's profile): the same export is no error. */
		if (!is_export(&st))
			return -EALREADY;
		*align = exp_align;
		return 0;
	}
	if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
		return -EINVAL;
	r = direct_alignment(path, &st, &exp_align);
	if (r < 0)
		return r;
	/* Allocated and touched now, before the pressure: under MCL_FUTURE they are locked too. */
	p = mmap(NULL, (size_t)IO_BOUNCES * IO_BOUNCE_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	memset(p, 0, (size_t)IO_BOUNCES * IO_BOUNCE_BYTES);
	for (unsigned i = 0; i < IO_BOUNCES; i++)
		bounce[i] = p + (size_t)i * IO_BOUNCE_BYTES;
	exp_blk = S_ISBLK(st.st_mode);
	exp_rdev = st.st_rdev;
	exp_dev = st.st_dev;
	exp_ino = st.st_ino;
	pthread_atfork(fork_prepare, fork_done, fork_done);
	atomic_store(&armed, true);
	*align = exp_align;
	return 0;
}
