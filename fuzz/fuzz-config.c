/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The config file text through the library's own parse path (dm_conffile_apply ->
 * dm_config_parse_text -> libconfuse), plus a differential check of the cheap pre-scan:
 * dm_conffile_cannot_name() may say "this file cannot name the program" only when the full parse
 * yields no allow-list entry matching it. A wrong "cannot name" would leave a listed daemon
 * unlocked in system-wide mode without a word.
 *
 * Completeness of the check: a process matches when some entry equals the base name (or the
 * path) of its AT_EXECFN or of /proc/self/exe, and the pre-scan looks only at those base names.
 * So it is enough to build, for every entry the parse yields, a process whose AT_EXECFN matches
 * it and one whose executable matches it, and require "can name" for both.
 */
#include "config.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/*
	 * dm_config_parse_text() dlopen()s and dlclose()s libconfuse on every call, as the library
	 * does once per process. Holding a reference here keeps it mapped across iterations, so a
	 * run measures the parser, not the loader.
	 */
	if (!dlopen(DM_CONFUSE_SONAME, RTLD_NOW | RTLD_LOCAL)) {
		fprintf(stderr, "fuzz-config: cannot load %s: %s\n", DM_CONFUSE_SONAME, dlerror());
		abort();
	}
	return 0;
}

static void must_name(const struct dm_conffile *f, const struct dm_settings *s, const char *entry,
		      const char *execfn, const char *exe)
{
	struct dm_self self = { .execfn = execfn, .exe_tried = true };

	if (strlen(exe) >= sizeof(self.exe))
		return;
	strcpy(self.exe, exe);
	if (!dm_programs_match(s, &self)) {
		fprintf(stderr, "fuzz-config: built process does not match entry '%s'\n", entry);
		abort();
	}
	if (dm_conffile_cannot_name(f, &self)) {
		fprintf(stderr,
			"fuzz-config: pre-scan says the file cannot name execfn '%s' exe '%s', but "
			"entry '%s' matches it\n",
			execfn, exe, entry);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char path[] = "fuzz.conf";
	char other_path[PATH_MAX + 16];
	struct dm_conffile f;
	struct dm_settings s;
	struct dm_diag d = { .n = 0 };
	int r;

	/* The library never reads more than this. */
	if (size > DM_CONFIG_MAX_BYTES)
		return 0;
	/* As dm_conffile_load() leaves it: exactly the bytes read, then a NUL. */
	f.text = malloc(size + 1);
	if (!f.text)
		return 0;
	memcpy(f.text, data, size);
	f.text[size] = '\0';
	f.len = size;
	f.path = path;

	dm_settings_default(&s);
	r = dm_conffile_apply(&f, NULL, &s, &d);
	if (r == 0) {
		for (const char *e = dm_programs_next(&s, NULL); e; e = dm_programs_next(&s, e)) {
			const char *unrelated = "/usr/libexec/zz-not-listed-zz";

			if (e[0] == '/') {
				must_name(&f, &s, e, e, unrelated);
				must_name(&f, &s, e, unrelated, e);
			} else {
				snprintf(other_path, sizeof(other_path), "/usr/bin/%s", e);
				must_name(&f, &s, e, other_path, unrelated);
				must_name(&f, &s, e, unrelated, e);
			}
		}
	} else if (d.n == 0) {
		/* A refused file must say why: the operator reads only the log. */
		fprintf(stderr, "fuzz-config: parse failed (%d) without a diagnostic\n", r);
		abort();
	}
	dm_conffile_release(&f);
	return 0;
}
