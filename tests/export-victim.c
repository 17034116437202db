/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A swap server's I/O, as nbd-server does it: open the export with open(), serve requests with
 * pread()/pwrite() from malloc()ed buffers. Run under the I/O object (libduende_mlock_io.so), it
 * shows whether the export's pages went through the page cache, and that the data is right.
 *
 *   export-victim PATH [fork]
 *
 * Writes 8 MiB in 1 MiB requests at aligned offsets from a buffer that is not aligned, plus one
 * small write at an unaligned offset past them; reads it all back and compares; then prints
 * cached=N of M (pages of the first 8 MiB in the page cache, by mincore() on a mapping of the
 * file) and disk=ok when the data read past the library (raw system calls, after dropping the
 * cache) is what was written. With "fork", a fork child does the I/O, as nbd-server's does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

static int serve(const char *path)
{
	unsigned char *raw = malloc(SPAN + 64), *buf = raw + 16, *back = malloc(SPAN + ODD_LEN);
	size_t pages = SPAN / 4096, cached = 0;
	unsigned char *map, vec[SPAN / 4096];
	int fd;

	if (!raw || !back)
		return fail("malloc");
	fd = open(path, O_RDWR);
	if (fd < 0)
		return fail("open");
	/* Nothing of the file in the page cache to begin with. */
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);

	for (size_t i = 0; i < SPAN; i++)
		buf[i] = byte_at(i);
	for (size_t off = 0; off < SPAN; off += MIB)
		if (pwrite(fd, buf + off, MIB, (off_t)off) != (ssize_t)MIB)
			return fail("pwrite");
	for (size_t i = 0; i < ODD_LEN; i++)
		back[i] = byte_at(ODD_OFF + i);
	if (pwrite(fd, back, ODD_LEN, ODD_OFF) != (ssize_t)ODD_LEN)
		return fail("pwrite unaligned");

	memset(back, 0, SPAN + ODD_LEN);
	for (size_t off = 0; off < SPAN; off += MIB)
		if (pread(fd, back + off + 0, MIB, (off_t)off) != (ssize_t)MIB)
			return fail("pread");
	if (pread(fd, back + SPAN, ODD_LEN, ODD_OFF) != (ssize_t)ODD_LEN)
		return fail("pread unaligned");
	if (differs(back, "read back"))
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

int main(int argc, char **argv)
{
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: export-victim PATH [fork]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 2 && strcmp(argv[2], "fork") == 0) {
		pid_t pid = fork();
		int status;

		if (pid < 0)
			return fail("fork");
		if (pid == 0)
			_exit(serve(argv[1]));
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
			return fail("wait");
		r = WEXITSTATUS(status);
	} else {
		r = serve(argv[1]);
	}
	return r ? r : check_disk(argv[1]);
}
