/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The hog: the memory pressure of scripts/vm-deadlock. It maps MiB megabytes of anonymous memory
 * (twice the VM's RAM), writes a pattern to every page, verifies it, rewrites it with another
 * pattern and verifies again (PASSES: 4 does all of that, 2 stops after the first verification). Its pages must go to swap and come back intact: if the swap server
 * stalls, the hog stalls with it, which is what the watcher (vm/watch.c) detects.
 *
 * Static, no stdio after start: one write(2) per line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define STEP_MIB 32UL

static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(1, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every 8-byte word of a page holds its page number, its word number and the pass's seed. */
static inline uint64_t word(uint64_t page, uint64_t i, uint64_t seed)
{
	return (page << 20 | i) ^ seed;
}

static void fill(uint64_t *m, size_t pages, uint64_t seed, const char *pass)
{
	size_t step = STEP_MIB * 1024 * 1024 / PAGE;

	for (size_t p = 0; p < pages; p++) {
		uint64_t *w = m + p * (PAGE / 8);

		for (size_t i = 0; i < PAGE / 8; i++)
			w[i] = word(p, i, seed);
		if ((p + 1) % step == 0)
			say("hog: %s %zu MiB\n", pass, (p + 1) * PAGE >> 20);
	}
}

/*
 * Verification walks backwards: the pages written last are still in RAM, so only what went to
 * swap comes back from it (a forward walk would evict each page just before it is needed, and
 * read the whole hog back through the swap server, at no gain for the test).
 */
static int check(const uint64_t *m, size_t pages, uint64_t seed, const char *pass)
{
	size_t step = STEP_MIB * 1024 * 1024 / PAGE;

	for (size_t q = 0; q < pages; q++) {
		size_t p = pages - 1 - q;
		const uint64_t *w = m + p * (PAGE / 8);

		for (size_t i = 0; i < PAGE / 8; i++)
			if (w[i] != word(p, i, seed)) {
				say("hog: CORRUPT page %zu word %zu: %016llx, expected %016llx\n",
				    p, i, (unsigned long long)w[i],
				    (unsigned long long)word(p, i, seed));
				return -1;
			}
		if ((q + 1) % step == 0)
			say("hog: %s %zu MiB\n", pass, (q + 1) * PAGE >> 20);
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
	unsigned long passes = argc > 2 ? strtoul(argv[2], NULL, 10) : 4;
	size_t pages = mib * (1024 * 1024 / PAGE);
	double t0 = now();
	uint64_t *m;

	if (!mib) {
		say("usage: hog MIB [PASSES]\n");
		return 2;
	}
	m = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		say("hog: mmap %lu MiB: %s\n", mib, strerror(errno));
		return 2;
	}
	say("hog: start %lu MiB\n", mib);
	fill(m, pages, 0x5a5a5a5a00000000ULL, "write1");
	if (check(m, pages, 0x5a5a5a5a00000000ULL, "verify1"))
		return 1;
	if (passes < 4)
		goto done;
	fill(m, pages, 0xc3c3c3c300000000ULL, "write2");
	if (check(m, pages, 0xc3c3c3c300000000ULL, "verify2"))
		return 1;
done:
	say("hog: intact %lu MiB, %lu passes, in %.1f s\n", mib, passes < 4 ? 2 : 4, now() - t0);
	return 0;
}
