/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * duende-mlock run: exec a program with the shim in front of its LD_PRELOAD. exec, not fork: the
 * program keeps this PID, its signals and its exit status, as with env(1) or eatmydata(1).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

static const char run_usage[] =
	"Usage: duende-mlock run [--onfault] [--required] [--config FILE] -- PROGRAM [ARGS...]\n"
	"\n"
	"Run PROGRAM with the duende-mlock library in front of LD_PRELOAD, so that its memory is\n"
	"locked (mlockall) before its main() runs. The options become DUENDE_MLOCK_* variables.\n"
	"\n"
	"  --onfault        lock pages when first touched (MCL_ONFAULT), not all at once\n"
	"  --required       stop PROGRAM with exit status 71 if locking fails\n"
	"  --config FILE    read settings from FILE instead of " DM_CONFIG_PATH "\n"
	"  -h, --help       this text\n"
	"\n"
	"The library is " DM_LIBRARY_PATH ", or DUENDE_MLOCK_LIBRARY when set.\n"
	"Exit status: PROGRAM's; 127 when it cannot be found, 126 when it cannot be executed.\n";

/* ld.so splits LD_PRELOAD at ':' and ' ' (elf/rtld.c): such a path would name other files. */
static int check_library(const char *lib)
{
	char esc[PATH_MAX];

	dm_escape(esc, sizeof(esc), lib, PATH_MAX / 4);
	if (strpbrk(lib, ": \t\n")) {
		tool_error("Failed to use library %s: LD_PRELOAD cannot name a path with ':' or "
			   "blanks",
			   esc);
		return -EINVAL;
	}
	if (access(lib, R_OK) < 0) {
		int r = -errno;

		tool_error("Failed to find library %s: %s (set DUENDE_MLOCK_LIBRARY to its path)",
			   esc, strerror(-r));
		return r;
	}
	/* A library that does not load would leave PROGRAM unlocked, even with --required. */
	{
		char why[512];
		int r = tool_library_loads(lib, why, sizeof(why));

		if (r == -ENOEXEC) {
			tool_error("Failed to load library %s: %s", esc, why);
			return r;
		}
	}
	return 0;
}

static int prepend_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *val;
	int r;

	if (!old || !old[0])
		return setenv("LD_PRELOAD", lib, 1) < 0 ? -errno : 0;
	if (asprintf(&val, "%s:%s", lib, old) < 0)
		return -ENOMEM;
	r = setenv("LD_PRELOAD", val, 1) < 0 ? -errno : 0;
	free(val);
	return r;
}

/*
 * A swap server whose settings name its export also gets the I/O object (export.c), from the
 * library's own directory: the library arms it, and cannot load it.
 */
static int add_io_object(const struct dm_settings *s, bool required)
{
	char io[PATH_MAX];
	int r;

	if (s->profile != DM_PROFILE_SWAP_SERVER || !s->export_path[0])
		return 0;
	if (tool_io_library_path(io, sizeof(io)) < 0) {
		tool_error("Failed to name %s beside %s: the path is too long", DM_IO_STEM,
			   tool_library_path());
		return -ENAMETOOLONG;
	}
	if (check_library(io) < 0) {
		/* Under required the export step not done would stop PROGRAM: say it now instead. */
		if (required)
			return -ENOENT;
		tool_error("warning: without %s the export's I/O stays in the page cache",
			   DM_IO_STEM);
		return 0;
	}
	r = prepend_preload(io);
	if (r < 0)
		tool_error("Failed to set the environment: %s", strerror(-r));
	return r;
}

/*
 * The settings as the library will decide them inside PROGRAM. A file named with --config must
 * be good. Problems that the library will say itself on PROGRAM's stderr (it is named, and logs
 * there) are left to it, so each is said once; the others are said here, where the operator can
 * see them, as warnings.
 */
static int decide_settings(const char *config, const char *program, struct dm_settings *s,
			   char *abs, size_t size)
{
	struct dm_decision dec;
	struct dm_self self;
	char path[PATH_MAX];
	bool named, library_says;

	if (tool_find_program(program, path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "%s", program);
	dm_self_of_program(&self, path);
	dm_decide(&dec, config, &self, s);
	if (config && dm_decide_file_ignored(&dec)) {
		tool_print_diags(&dec, "", "warning: ");
		if (dec.file_diags == 0) {
			int err = dec.load_r < 0 ? -dec.load_r : -dec.parse_r;
			char esc[PATH_MAX];

			dm_escape(esc, sizeof(esc), config, PATH_MAX / 4);
			tool_error("Failed to read config %s: %s", esc, strerror(err));
		}
		{
			char esc[PATH_MAX];

			/* --config is a request for that file: not run without it. */
			dm_escape(esc, sizeof(esc), program, PATH_MAX / 4);
			tool_error("not running %s: the library would ignore the config named with "
				   "--config",
				   esc);
		}
		return -EINVAL;
	}
	named = s->n_programs ? dm_programs_match(s, &self) : true;
	library_says = named && (s->log == DM_LOG_DEFAULT || s->log == DM_LOG_STDERR);
	if (!library_says)
		tool_print_diags(&dec, "warning: ", "warning: ");
	/*
	 * In preload mode an allow-list still applies: a file written for system-wide use that
	 * lists other daemons would leave PROGRAM unlocked without a word from the library.
	 */
	if (!named) {
		char esc[PATH_MAX];

		dm_escape(esc, sizeof(esc), program, PATH_MAX / 4);
		tool_error("warning: %s is not in the config's programs list, so it will not be "
			   "locked (add it, or set DUENDE_MLOCK_PROGRAMS=)",
			   esc);
	}
	/* PROGRAM may chdir() before it execs a child that reads the file again. */
	if (config && (!realpath(config, abs) || strlen(abs) >= size))
		snprintf(abs, size, "%s", config);
	return 0;
}

/*
 * A static program runs unlocked whatever LD_PRELOAD says, and a setuid or setgid one has the
 * loader drop LD_PRELOAD paths (ld.so(8), secure-execution mode): better to hear it now.
 */
static void warn_if_unreachable(const char *program)
{
	struct tool_elf_info info;
	char path[PATH_MAX], esc[PATH_MAX];
	struct stat st;

	if (tool_find_program(program, path, sizeof(path)) < 0)
		return;
	dm_escape(esc, sizeof(esc), path, PATH_MAX / 4);
	/* Secure-execution applies when the exec changes the effective uid or gid. */
	if (stat(path, &st) == 0 && (((st.st_mode & S_ISUID) && st.st_uid != getuid()) ||
				     ((st.st_mode & S_ISGID) && st.st_gid != getgid())))
		tool_error("warning: %s is setuid or setgid: the loader ignores LD_PRELOAD paths "
			   "for it, so it will run unlocked (use /etc/ld.so.preload and the "
			   "config's programs list instead)",
			   esc);
	if (tool_elf_inspect(path, &info) < 0 || info.kind != TOOL_ELF_STATIC)
		return;
	tool_error("%s is statically linked: the library cannot be preloaded into it, it will run "
		   "unlocked (it has to call mlockall itself)",
		   esc);
}

int tool_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "onfault", no_argument, NULL, 'o' },
		{ "required", no_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *lib;
	char config_abs[PATH_MAX];
	struct dm_settings s;
	bool onfault = false, required = false;
	int c;

	/* '+': stop at PROGRAM, whose own options are not ours. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			onfault = true;
			break;
		case 'r':
			required = true;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			fputs(run_usage, stdout);
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error("run", "run: bad option");
		}
	}
	if (optind >= argc)
		return tool_usage_error("run", "run: no PROGRAM given");

	lib = tool_library_path();
	if (check_library(lib) < 0)
		return TOOL_EXIT_FAIL;
	if (decide_settings(config, argv[optind], &s, config_abs, sizeof(config_abs)) < 0)
		return TOOL_EXIT_FAIL;
	if (add_io_object(&s, required || s.required) < 0)
		return TOOL_EXIT_FAIL;
	if (prepend_preload(lib) < 0 || (onfault && setenv("DUENDE_MLOCK_ONFAULT", "1", 1) < 0) ||
	    (required && setenv("DUENDE_MLOCK_REQUIRED", "1", 1) < 0) ||
	    (config && setenv("DUENDE_MLOCK_CONFIG", config_abs, 1) < 0)) {
		tool_error("Failed to set the environment: %s", strerror(errno));
		return TOOL_EXIT_FAIL;
	}
	warn_if_unreachable(argv[optind]);

	fflush(stdout);
	execvp(argv[optind], argv + optind);
	{
		int err = errno;
		char esc[PATH_MAX];

		dm_escape(esc, sizeof(esc), argv[optind], PATH_MAX / 4);
		tool_error("Failed to execute %s: %s", esc, strerror(err));
		return err == ENOENT ? 127 : 126;
	}
}
