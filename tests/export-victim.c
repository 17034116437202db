/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A swap server's I/O, as nbd-server does it: open the export with open(), serve requests with
 * pread()/pwrite() from malloc()ed buffers. Run under the I/O object (libduende_mlock_io.so), it
 * shows whether the export's pages went through the page cache, and that the data is right.
 * Built with _FORTIFY_SOURCE, as distributions build servers: open() with flags the compiler
 * cannot see is glibc's __open64_2.
 *
 *   export-victim PATH [fork | closed-twin]
 *
 * Writes 8 MiB at aligned offsets from a buffer that is not aligned (1 MiB requests, then one of
 * 4 MiB), plus one small write at an unaligned offset past them; reads it all back (4 MiB into an
 * aligned buffer, then 2 MiB requests into one that is not) and compares; then prints cached=N
 * of M (pages of the first 8 MiB in the page cache, by mincore() on a mapping of the file) and
 * disk=ok when the data read past the library (raw system calls, after dropping the cache) is
 * what was written.
 *   fork         the export is opened, then a fork child does the I/O, as nbd-server's does;
 *   closed-twin  after the open, every descriptor above the export's is closed with close_range()
 *                (the library's cannot be seen), and another file takes the numbers near the top
 *                of the table, where the library's was: it must get none of the export's data
 *                (other=0 bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024u * 1024u)
#define SPAN (8u * MIB)
#define ODD_OFF (SPAN + 100u)
#define ODD_LEN 1000u

static unsigned char byte_at(size_t off)
{
	return (unsigned char)((off * 7u + off / 4096u) & 0xff);
}

/* back holds the 8 MiB span, then the unaligned bytes: are they what was written? */
static int differs(const unsigned char *back, const char *what)
{
	for (size_t i = 0; i < SPAN; i++)
		if (back[i] != byte_at(i)) {
			printf("error=%s differs at %zu\n", what, i);
			return 1;
		}
	for (size_t i = 0; i < ODD_LEN; i++)
		if (back[SPAN + i] != byte_at(ODD_OFF + i)) {
			printf("error=%s differs at %u\n", what, ODD_OFF + (unsigned)i);
			return 1;
		}
	return 0;
}

static int fail(const char *what)
{
	printf("error=%s: %s\n", what, strerror(errno));
	return 1;
}

static int write_all(int fd, const unsigned char *buf, size_t len, size_t req, off_t off)
{
	for (size_t done = 0; done < len; done += req)
		if (pwrite(fd, buf + done, req, off + (off_t)done) != (ssize_t)req)
			return fail("pwrite");
	return 0;
}

static int read_all(int fd, unsigned char *buf, size_t len, size_t req, off_t off)
{
	for (size_t done = 0; done < len; done += req)
		if (pread(fd, buf + done, req, off + (off_t)done) != (ssize_t)req)
			return fail("pread");
	return 0;
}

static int serve(int fd)
{
	unsigned char *raw = malloc(SPAN + 64), *buf = raw + 16, *back, *odd = malloc(ODD_LEN + 16);
	size_t pages = SPAN / 4096, cached = 0;
	unsigned char *map, vec[SPAN / 4096];

	if (!raw || !odd || posix_memalign((void **)&back, 4096, SPAN + 4096 + ODD_LEN))
		return fail("malloc");
	/* Nothing of the file in the page cache to begin with. */
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);

	for (size_t i = 0; i < SPAN; i++)
		buf[i] = byte_at(i);
	for (size_t i = 0; i < ODD_LEN; i++)
		odd[i + 3] = byte_at(ODD_OFF + i);
	if (write_all(fd, buf, SPAN / 2, MIB, 0) ||
	    write_all(fd, buf + SPAN / 2, SPAN / 2, SPAN / 2, SPAN / 2))
		return 1;
	if (pwrite(fd, odd + 3, ODD_LEN, ODD_OFF) != (ssize_t)ODD_LEN)
		return fail("pwrite unaligned");

	/* The first half straight into an aligned buffer, the rest into one that is not. */
	memset(back, 0, SPAN + 4096 + ODD_LEN);
	if (read_all(fd, back, SPAN / 2, SPAN / 2, 0))
		return 1;
	memmove(back + 1, back, SPAN / 2);
	if (read_all(fd, back + 1 + SPAN / 2, SPAN / 2, 2 * MIB, SPAN / 2) ||
	    read_all(fd, back + 1 + SPAN, ODD_LEN, ODD_LEN, ODD_OFF))
		return 1;
	if (differs(back + 1, "read back"))
		return 1;

	/* PROT_NONE: a locked process (MCL_FUTURE) would otherwise fault the whole mapping in. */
	map = mmap(NULL, SPAN, PROT_NONE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || mincore(map, SPAN, vec) < 0)
		return fail("mincore");
	for (size_t i = 0; i < pages; i++)
		cached += vec[i] & 1;
	munmap(map, SPAN);
	printf("cached=%zu of %zu\n", cached, pages);
	if (close(fd) < 0)
		return fail("close");
	return 0;
}

/* The bytes on the file, read with system calls the library cannot see, after a cache drop. */
static int check_disk(const char *path)
{
	unsigned char *back = malloc(SPAN + ODD_LEN);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !back)
		return fail("raw open");
	syscall(SYS_fadvise64, fd, 0, 0, POSIX_FADV_DONTNEED);
	if (syscall(SYS_pread64, fd, back, SPAN, 0) != (long)SPAN ||
	    syscall(SYS_pread64, fd, back + SPAN, ODD_LEN, ODD_OFF) != (long)ODD_LEN)
		return fail("raw pread");
	syscall(SYS_close, fd);
	if (differs(back, "file"))
		return 1;
	printf("disk=ok\n");
	return 0;
}

/* Another file on every number near the top of the table, where the library puts its own. */
static int take_top_numbers(const char *path, char *other, size_t size)
{
	struct rlimit rl;
	int o;

	snprintf(other, size, "%s.other", path);
	o = open(other, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o < 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return fail("other");
	for (rlim_t n = rl.rlim_cur > 128 ? rl.rlim_cur - 128 : 16; n < rl.rlim_cur; n++)
		dup2(o, (int)n);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "";
	/* Not a constant: the fortified open() calls __open64_2. */
	volatile int flags = O_RDWR;
	char other[4200];
	int fd, r;

	if (argc < 2) {
		fprintf(stderr, "usage: export-victim PATH [fork | closed-twin]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	fd = open(argv[1], flags);
	if (fd < 0)
		return fail("open");
	if (strcmp(mode, "closed-twin") == 0) {
		if (close_range((unsigned)fd + 1, ~0u, 0) < 0 ||
		    take_top_numbers(argv[1], other, sizeof(other)))
			return fail("close_range");
	}
	if (strcmp(mode, "fork") == 0) {
		pid_t pid = fork();
		int status;

		if (pid < 0)
			return fail("fork");
		if (pid == 0)
			_exit(serve(fd));
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
			return fail("wait");
		r = WEXITSTATUS(status);
	} else {
		r = serve(fd);
	}
	if (strcmp(mode, "closed-twin") == 0) {
		struct stat st;

		if (stat(other, &st) < 0)
			return fail("stat other");
		printf("other=%lld bytes\n", (long long)st.st_size);
	}
	return r ? r : check_disk(argv[1]);
}
