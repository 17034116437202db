/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A long-running process for the tool's tests, in states the victim cannot hold while it waits:
 * memory paged out to swap, then locked with MCL_ONFAULT (which leaves swapped pages in swap).
 * Commands run in order: "pageout MIB", "lock-onfault", "sleep SECONDS". At "sleep" it prints
 * "pid=" and "ready=1" and waits. Also built statically, for doctor's "cannot be preloaded".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
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
