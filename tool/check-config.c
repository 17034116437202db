/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * duende-mlock check-config: the config file read by the library's own code (trusted open, the
 * '${' refusal, libconfuse with the same options), then the environment over it, as the shim does.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

static const char check_usage[] =
	"Usage: duende-mlock check-config [FILE]\n"
	"\n"
	"Parse FILE (default: DUENDE_MLOCK_CONFIG, else " DM_CONFIG_PATH ") exactly as the\n"
	"library does, then apply the DUENDE_MLOCK_* variables of this environment, and print the\n"
	"effective settings and where each came from.\n"
	"\n"
	"  -h, --help       this text\n"
	"\n"
	"Exit status: 0 when the file is good (or the default file is absent), 1 when the library\n"
	"would ignore it, 2 on usage errors.\n";

static const char *origin_text(const struct dm_settings *s, enum dm_key k, char *buf, size_t size)
{
	switch (s->origin[k]) {
	case DM_FROM_FILE:
		return "file";
	case DM_FROM_ENV:
		snprintf(buf, size, "environment %s", dm_env_names[k]);
		return buf;
	case DM_FROM_DEFAULT:
		break;
	}
	return "default";
}

static void print_programs(const struct dm_settings *s)
{
	const char *e;
	char esc[PATH_MAX];

	if (!s->n_programs) {
		printf("{}");
		return;
	}
	putchar('{');
	for (e = dm_programs_next(s, NULL); e; e = dm_programs_next(s, e)) {
		dm_escape(esc, sizeof(esc), e, PATH_MAX / 4);
		printf("%s\"%s\"", e == s->programs ? "" : ", ", esc);
	}
	putchar('}');
}

static void print_settings(const struct dm_settings *s)
{
	const bool *bools[] = {
		[DM_KEY_CURRENT] = &s->current,	    [DM_KEY_FUTURE] = &s->future,
		[DM_KEY_ONFAULT] = &s->onfault,	    [DM_KEY_REQUIRED] = &s->required,
		[DM_KEY_PROPAGATE] = &s->propagate,
	};
	char buf[64];

	for (int k = DM_KEY_CURRENT; k <= DM_KEY_PROPAGATE; k++)
		printf("%-9s = %-6s  # %s\n", dm_key_names[k], *bools[k] ? "true" : "false",
		       origin_text(s, (enum dm_key)k, buf, sizeof(buf)));
	printf("%-9s = ", dm_key_names[DM_KEY_PROGRAMS]);
	print_programs(s);
	printf("  # %s%s\n", origin_text(s, DM_KEY_PROGRAMS, buf, sizeof(buf)),
	       s->n_programs ? "" :
			       "; empty: every process under LD_PRELOAD, none system-wide");
	if (s->log == DM_LOG_DEFAULT)
		printf("%-9s = (unset)  # default: stderr under LD_PRELOAD, syslog system-wide\n",
		       dm_key_names[DM_KEY_LOG]);
	else
		printf("%-9s = %-6s  # %s\n", dm_key_names[DM_KEY_LOG], dm_log_name(s->log),
		       origin_text(s, DM_KEY_LOG, buf, sizeof(buf)));
}

int tool_cmd_check_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dm_conffile f = { .text = NULL };
	struct dm_settings s;
	struct dm_diag file_diag = { 0 }, env_diag = { 0 };
	const char *path;
	char esc[PATH_MAX];
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(check_usage, stdout);
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error("check-config", "check-config: bad option");
		}
	}
	if (argc - optind > 1)
		return tool_usage_error("check-config", "check-config: at most one FILE");
	path = optind < argc ? argv[optind] : dm_config_path();
	dm_escape(esc, sizeof(esc), path, PATH_MAX / 4);

	dm_settings_default(&s);
	r = dm_conffile_load(&f, path, &file_diag);
	if (r == 0) {
		r = dm_conffile_apply(&f, &s, &file_diag);
		dm_conffile_release(&f);
	}
	dm_settings_from_env(&s, &env_diag);

	for (unsigned i = 0; i < file_diag.n; i++)
		tool_error("%s", file_diag.msg[i]);
	if (file_diag.dropped)
		tool_error("%u more errors not shown", file_diag.dropped);
	for (unsigned i = 0; i < env_diag.n; i++)
		tool_error("warning: %s", env_diag.msg[i]);

	if (r == -ENOENT && optind >= argc) {
		printf("# %s: no such file: the built-in defaults apply\n", esc);
		r = 0;
	} else if (r == -ENOENT) {
		tool_error("Failed to open %s: %s", esc, strerror(ENOENT));
	} else if (r < 0) {
		if (file_diag.n == 0)
			tool_error("Failed to read %s: %s", esc, strerror(-r));
		printf("# %s: the library ignores this file; these settings apply instead\n", esc);
	} else {
		printf("# %s: ok\n", esc);
	}
	print_settings(&s);
	return r < 0 ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}
