/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * loadstart N PROG: start N copies of PROG at once, each given the read end of one pipe; close the
 * write end when all are started, so they all run their constructors concurrently and then check
 * themselves. Prints "started=N locked=N failed=N" and exits 0 when every copy was locked.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	unsigned long n, started = 0, locked = 0, failed = 0;
	posix_spawn_file_actions_t fa;
	char fdarg[16], *end;
	int p[2], status;
	pid_t pid;

	if (argc != 3)
		return 2;
	errno = 0;
	n = strtoul(argv[1], &end, 10);
	if (errno || *end || n == 0 || n > 10000)
		return 2;
	/* The read end is inherited on purpose; the write end must not be, or nobody sees EOF. */
	if (pipe(p) < 0 || fcntl(p[1], F_SETFD, FD_CLOEXEC) < 0)
		return 3;
	snprintf(fdarg, sizeof(fdarg), "%d", p[0]);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	for (unsigned long i = 0; i < n; i++) {
		char *args[] = { argv[2], fdarg, NULL };

		if (posix_spawn(&pid, argv[2], &fa, NULL, args, environ) == 0)
			started++;
		else
			failed++;
	}
	close(p[1]);
	while ((pid = wait(&status)) > 0 || errno == EINTR) {
		if (pid < 0)
			continue;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			locked++;
		else
			failed++;
	}
	printf("started=%lu locked=%lu failed=%lu\n", started, locked, failed);
	return locked == n && failed == 0 ? 0 : 1;
}
