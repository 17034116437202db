/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Does the library load? A path can exist and still not load: the wrong ELF class (a 32-bit
 * build for 64-bit programs), not an ELF file, a missing dependency. ld.so then prints
 * "object ... cannot be preloaded (REASON): ignored." and runs the program unlocked, with
 * status 0 even under DUENDE_MLOCK_REQUIRED=1, since the library that would stop it never ran.
 * So the tool asks the loader itself: /bin/true under LD_PRELOAD=the library, with an allow-list
 * that names no real program, so that the library, once loaded, does nothing and says nothing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tool.h"

#define LOAD_PROBE "/bin/true"

int tool_library_loads(const char *lib, char *why, size_t size)
{
	char env_preload[PATH_MAX + 16], out[1024];
	char *const argv[] = { (char *)LOAD_PROBE, NULL };
	char *const envp[] = { env_preload, (char *)"DUENDE_MLOCK_PROGRAMS=duende-mlock-load-check",
			       (char *)"DUENDE_MLOCK_CONFIG=/nonexistent", NULL };
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	int pipefd[2], status, r;
	pid_t pid;
	ssize_t n;

	why[0] = '\0';
	if (access(LOAD_PROBE, X_OK) < 0)
		return 0; /* nothing to ask the loader with: the caller's access() check stands */
	snprintf(env_preload, sizeof(env_preload), "LD_PRELOAD=%s", lib);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	r = posix_spawn(&pid, LOAD_PROBE, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return -r;
	}
	while (len < sizeof(out) - 1 && (n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	out[len] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/*
	 * ld.so: "ERROR: ld.so: object 'X' from LD_PRELOAD cannot be preloaded (REASON): ignored."
	 * (elf/rtld.c). Lines "from /etc/ld.so.preload" are about the machine's own list.
	 */
	{
		static const char marker[] = " from LD_PRELOAD cannot be preloaded (";
		const char *p = strstr(out, marker), *end;

		if (p) {
			p += strlen(marker);
			end = strstr(p, "): ignored");
			if (!end)
				end = p + strcspn(p, "\n");
			snprintf(why, size, "the loader cannot preload it (%.*s)", (int)(end - p), p);
			return -ENOEXEC;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(why, size, "%s under LD_PRELOAD=it did not run: %s", LOAD_PROBE,
			 WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exit status not 0");
		return -ENOEXEC;
	}
	return 0;
}
