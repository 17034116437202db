/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * victim-threads N: start N threads that sit idle (as a daemon's worker pool does between
 * requests), then print what memory the process holds: VmLck (locked virtual size), Locked
 * (locked and resident, from smaps_rollup) and VmRSS, in kB.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_barrier_t started;
static int idle_pipe[2];

static void *idle(void *arg)
{
	char c;

	(void)arg;
	pthread_barrier_wait(&started);
	/* Blocks until the process exits: nobody writes. */
	while (read(idle_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static long long kb_of(const char *path, const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtoll(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	unsigned long n;
	char *end;
	pthread_t t;

	if (argc != 2)
		return 2;
	errno = 0;
	n = strtoul(argv[1], &end, 10);
	if (errno || *end || n > 4096)
		return 2;
	if (pipe(idle_pipe) < 0)
		return 3;
	pthread_barrier_init(&started, NULL, (unsigned)n + 1);
	for (unsigned long i = 0; i < n; i++) {
		int r = pthread_create(&t, NULL, idle, NULL);

		if (r) {
			printf("pthread_create=%s\n", strerror(r));
			return 4;
		}
	}
	pthread_barrier_wait(&started);
	printf("VmLck=%lld\n", kb_of("/proc/self/status", "VmLck"));
	printf("Locked=%lld\n", kb_of("/proc/self/smaps_rollup", "Locked"));
	printf("VmRSS=%lld\n", kb_of("/proc/self/status", "VmRSS"));
	fflush(stdout);
	_exit(0);
}
