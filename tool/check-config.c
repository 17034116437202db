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
	"Usage: duende-mlock check-config [--program PROGRAM] [FILE]\n"
	"\n"
	"Parse FILE (default: DUENDE_MLOCK_CONFIG, else " DM_CONFIG_PATH ") exactly as the\n"
	"library does, then apply the DUENDE_MLOCK_* variables of this environment, and print the\n"
	"effective settings and where each came from.\n"
	"\n"
	"  --program PROGRAM  the settings for PROGRAM (a name found in PATH, or a path): its\n"
	"                     program section applies, and whether the list names it is said\n"
	"  -h, --help         this text\n"
	"\n"
	"Exit status: 0 when the file is good (or the default file is absent), 1 when the library\n"
	"would ignore it, 2 on usage errors.\n";

static const char *origin_text(const struct dm_settings *s, enum dm_key k, char *buf, size_t size)
{
	switch (s->origin[k]) {
	case DM_FROM_PROFILE:
		snprintf(buf, size, "profile %s", dm_keys[DM_KEY_PROFILE].values[s->profile]);
		return buf;
	case DM_FROM_FILE:
		return "file";
	case DM_FROM_SECTION:
		return "file, the program's section";
	case DM_FROM_ENV:
		snprintf(buf, size, "environment %s", dm_keys[k].env);
		return buf;
	case DM_FROM_DEFAULT:
		break;
	}
	return "default";
}

static void print_settings(const struct dm_settings *s)
{
	char value[DM_PROGRAMS_BYTES + 2 * DM_PROGRAMS_MAX + 8], origin[64];

	for (int k = 0; k < DM_KEY_COUNT; k++) {
		const struct dm_key_info *ki = &dm_keys[k];
		const char *v = dm_key_format((enum dm_key)k, s, value, sizeof(value));
		bool unset = dm_key_unset((enum dm_key)k, s);

		if (unset && ki->type != DM_TYPE_LIST) {
			printf("%-9s = (unset)  # %s\n", ki->name,
			       ki->unset_note ? ki->unset_note : "default");
			continue;
		}
		printf("%-9s = %-*s  # %s%s%s\n", ki->name, ki->type == DM_TYPE_LIST ? 0 : 6, v,
		       origin_text(s, (enum dm_key)k, origin, sizeof(origin)),
		       unset && ki->unset_note ? "; " : "",
		       unset && ki->unset_note ? ki->unset_note : "");
	}
}

int tool_cmd_check_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "program", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dm_decision dec;
	struct dm_settings s;
	struct dm_self self;
	const char *path, *program = NULL;
	char esc[PATH_MAX], found[PATH_MAX];
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			program = optarg;
			break;
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

	if (program) {
		if (tool_find_program(program, found, sizeof(found)) < 0)
			snprintf(found, sizeof(found), "%s", program);
		dm_self_of_program(&self, found);
	}
	dm_decide(&dec, path, program ? &self : NULL, &s);
	tool_print_diags(&dec, "", "warning: ");

	r = dec.load_r < 0 ? dec.load_r : dec.parse_r;
	if (r == -ENOENT && optind >= argc) {
		printf("# %s: no such file: the built-in defaults apply\n", esc);
		r = 0;
	} else if (r == -ENOENT) {
		tool_error("Failed to open %s: %s", esc, strerror(ENOENT));
	} else if (r < 0) {
		if (dec.file_diags == 0)
			tool_error("Failed to read %s: %s", esc, strerror(-r));
		printf("# %s: the library ignores this file; these settings apply instead\n", esc);
	} else {
		printf("# %s: ok\n", esc);
	}
	if (program) {
		dm_escape(esc, sizeof(esc), program, PATH_MAX / 4);
		printf("# %s: %s\n", esc,
		       !s.n_programs ? "no programs list: locked under LD_PRELOAD, not "
				       "system-wide" :
		       dm_programs_match(&s, &self) ? "named by the programs list" :
						      "not named by the programs list: left alone");
	}
	print_settings(&s);
	return r < 0 ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}
