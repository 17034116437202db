/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * victim-hold MIB MODE: map MIB MiB, write every page, check the lock, exit.
 * MODE: shim    - expect the shim to have locked us (VmLck >= MIB MiB)
 *       self    - call mlockall(MCL_CURRENT | MCL_FUTURE) first
 *       self-onfault - the same with MCL_ONFAULT
 *       none    - no lock expected
 * Exit 0 when the lock is as expected, so the timer counts anything else as a failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static long long vm_lck_kib(void)
{
	char line[256];
	long long v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %lld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long mib;
	size_t len, page = (size_t)sysconf(_SC_PAGESIZE);
	const char *mode;
	char *p;
	long long lck;
	int want_lock;

	if (argc != 3)
		return 2;
	errno = 0;
	mib = strtoul(argv[1], &end, 10);
	if (errno || *end || mib == 0 || mib > 65536)
		return 2;
	mode = argv[2];
	if (strcmp(mode, "self") == 0) {
		if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
			return 4;
	} else if (strcmp(mode, "self-onfault") == 0) {
		if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0)
			return 4;
	} else if (strcmp(mode, "shim") != 0 && strcmp(mode, "none") != 0) {
		return 2;
	}
	want_lock = strcmp(mode, "none") != 0;
	len = mib << 20;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 5;
	for (size_t o = 0; o < len; o += page)
		p[o] = 1;
	lck = vm_lck_kib();
	printf("VmLck=%lld\n", lck);
	if (want_lock ? lck < (long long)(mib << 10) : lck != 0)
		return 1;
	return 0;
}
