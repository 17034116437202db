/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * dm-bench-load FD: one of many victims started at once. Waits until the starter closes the
 * write end of the pipe whose read end is FD (so all of them are alive together), then exits 0
 * when the shim locked it (VmLck > 0), 1 when it did not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char line[256], c, *end;
	long long lck = -1;
	long fd;
	FILE *f;

	if (argc != 2)
		return 2;
	errno = 0;
	fd = strtol(argv[1], &end, 10);
	if (errno || *end || fd < 0)
		return 2;
	while (read((int)fd, &c, 1) < 0 && errno == EINTR)
		;
	f = fopen("/proc/self/status", "re");
	if (!f)
		return 3;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %lld kB", &lck) == 1)
			break;
	fclose(f);
	return lck > 0 ? 0 : 1;
}
