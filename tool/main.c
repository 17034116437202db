/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* duende-mlock: the command dispatcher and the helpers every command shares. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

static const char usage_text[] =
	"Usage: duende-mlock COMMAND [OPTIONS] [ARGS]\n"
	"\n"
	"Keep daemons out of swap with the duende-mlock LD_PRELOAD shim.\n"
	"\n"
	"Commands:\n"
	"  run [--onfault] [--required] [--config FILE] -- PROGRAM [ARGS...]\n"
	"                   run PROGRAM with the shim preloaded, so it is locked before main()\n"
	"  status [--json|--prometheus] [--no-children] [PID...|--all]\n"
	"                   is each process locked, and is any of it in swap\n"
	"  doctor [PROGRAM] would locking work here; each problem with its fix\n"
	"  check-config [--program NAME] [FILE]\n"
	"                   parse the config file as the shim does; print the effective settings\n"
	"\n"
	"Options:\n"
	"  -h, --help       this text; COMMAND --help for a command's own\n"
	"  -V, --version    the version\n"
	"\n"
	"See duende-mlock(8) and duende-mlock.conf(5).\n";

/* "duende-mlock: MESSAGE", after whatever stdout holds, so the two interleave as written. */
__attribute__((format(printf, 1, 0))) static void verror(const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fflush(stdout);
	fprintf(stderr, "duende-mlock: %s\n", msg);
}

void tool_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
}

int tool_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'duende-mlock %s%s--help'.\n", command ? command : "",
		command ? " " : "");
	return TOOL_EXIT_USAGE;
}

void tool_print_diags(const struct dm_decision *dec, const char *file_prefix,
		      const char *env_prefix)
{
	for (unsigned i = 0; i < dec->diag.n; i++)
		tool_error("%s%s", i < dec->file_diags ? file_prefix : env_prefix,
			   dec->diag.msg[i]);
	if (dec->diag.dropped)
		tool_error("%s%u more problems not shown", file_prefix, dec->diag.dropped);
}

int tool_parse_pid(const char *text, int *pid)
{
	char *end;
	long v;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || *end || v <= 0 || v > INT32_MAX)
		return -EINVAL;
	*pid = (int)v;
	return 0;
}

const char *tool_human_bytes(char *buf, size_t size, uint64_t bytes)
{
	return dm_human_bytes(buf, size, bytes);
}

int tool_find_program(const char *name, char *buf, size_t size)
{
	const char *path, *p;
	int r = -ENOENT;

	if (!name[0])
		return -ENOENT;
	if (strchr(name, '/')) {
		if (strlen(name) >= size)
			return -ENAMETOOLONG;
		strcpy(buf, name);
		return access(buf, F_OK) == 0 ? 0 : -errno;
	}
	path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p++) {
		const char *end = strchrnul(p, ':');
		int n;

		/* An empty PATH entry means the current directory (execvp(3) does the same). */
		n = snprintf(buf, size, "%.*s%s%s", (int)(end - p), p, end == p ? "" : "/", name);
		if (n > 0 && (size_t)n < size && access(buf, X_OK) == 0)
			return 0;
		if (n > 0 && (size_t)n < size && errno == EACCES)
			r = -EACCES;
		if (!*end)
			break;
		p = end;
	}
	return r;
}

FILE *tool_proc_fopen(int pid, const char *name)
{
	char path[96];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "re");
	if (!f) {
		close(fd);
		errno = ENOMEM;
	}
	return f;
}

int tool_proc_walk(int (*fn)(int pid, void *ctx), void *ctx)
{
	struct dirent *de;
	DIR *dir = opendir("/proc");
	int r = 0;

	if (!dir)
		return -errno;
	while (r >= 0 && (de = readdir(dir))) {
		int pid;

		if (tool_parse_pid(de->d_name, &pid) < 0 || pid == getpid())
			continue;
		r = fn(pid, ctx);
	}
	closedir(dir);
	return r < 0 ? r : 0;
}

const char *tool_library_path(void)
{
	const char *lib = secure_getenv("DUENDE_MLOCK_LIBRARY");

	return lib && lib[0] ? lib : DM_LIBRARY_PATH;
}

int tool_io_library_path(char *buf, size_t size)
{
	const char *lib = tool_library_path(), *slash = strrchr(lib, '/');
	int n = snprintf(buf, size, "%.*s%s", slash ? (int)(slash - lib + 1) : 0, lib, DM_IO_STEM);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "run", tool_cmd_run },
	{ "status", tool_cmd_status },
	{ "doctor", tool_cmd_doctor },
	{ "check-config", tool_cmd_check_config },
};

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		return tool_usage_error(NULL, "no command given");
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return TOOL_EXIT_OK;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
		printf("duende-mlock %s\n", DM_VERSION);
		return TOOL_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	{
		char esc[96];

		dm_escape(esc, sizeof(esc), cmd, 64);
		return tool_usage_error(NULL, "unknown command '%s'", esc);
	}
}
