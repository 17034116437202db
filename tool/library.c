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
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tool.h"

#define LOAD_PROBE "/bin/true"

extern char **environ;

/*
 * The probe's environment: this one, with the library after any LD_PRELOAD already there (a
 * sanitizer runtime must stay first), less the DUENDE_MLOCK_ settings, plus an allow-list that
 * names no real program.
 */
static char **probe_env(const char *lib)
{
	static const char programs[] = "DUENDE_MLOCK_PROGRAMS=duende-mlock-load-check";
	static const char config[] = "DUENDE_MLOCK_CONFIG=/nonexistent";
	const char *old = getenv("LD_PRELOAD");
	size_t n = 0, i = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 4, sizeof(*env));
	if (!env)
		return NULL;
	if (asprintf(&env[i], "LD_PRELOAD=%s%s%s", old && old[0] ? old : "",
		     old && old[0] ? ":" : "", lib) < 0) {
		free(env);
		return NULL;
	}
	i++;
	env[i++] = (char *)programs;
	env[i++] = (char *)config;
	for (size_t k = 0; k < n; k++)
		if (strncmp(environ[k], "LD_PRELOAD=", 11) != 0 &&
		    strncmp(environ[k], "DUENDE_MLOCK_", 13) != 0)
			env[i++] = environ[k];
	env[i] = NULL;
	return env;
}

int tool_library_loads(const char *lib, char *why, size_t size)
{
	char out[2048], marker[PATH_MAX + 64];
	char *const argv[] = { (char *)LOAD_PROBE, NULL };
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	int pipefd[2], status, r;
	char **envp;
	pid_t pid;
	ssize_t n;

	why[0] = '\0';
	if (access(LOAD_PROBE, X_OK) < 0)
		return 0; /* nothing to ask the loader with: the caller's access() check stands */
	envp = probe_env(lib);
	if (!envp)
		return -ENOMEM;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = -errno;
		free(envp[0]);
		free(envp);
		return r;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	r = posix_spawn(&pid, LOAD_PROBE, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp[0]);
	free(envp);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return -r;
	}
	while (len < sizeof(out) - 1 &&
	       (n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) != 0) {
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
	 * (elf/rtld.c), X as given. Lines about other objects (another LD_PRELOAD entry, the
	 * machine's /etc/ld.so.preload) are not about this library.
	 */
	snprintf(marker, sizeof(marker), "'%s' from LD_PRELOAD cannot be preloaded (", lib);
	{
		const char *p = strstr(out, marker), *end;

		if (p) {
			p += strlen(marker);
			end = strstr(p, "): ignored");
			if (!end)
				end = p + strcspn(p, "\n");
			snprintf(why, size, "the loader cannot preload it (%.*s)", (int)(end - p),
				 p);
			return -ENOEXEC;
		}
	}
	/* Loaded, and then the program could not run: a missing symbol, a crash in a constructor. */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFSIGNALED(status))
			snprintf(why, size, "%s under it was killed by %s", LOAD_PROBE,
				 strsignal(WTERMSIG(status)));
		else
			snprintf(why, size, "%s under it exited %d: %.*s", LOAD_PROBE,
				 WEXITSTATUS(status), (int)strcspn(out, "\n"), out);
		return -ENOEXEC;
	}
	return 0;
}
