/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Unit tests of the pure parts of the core: parsing, matching, the pre-scan, formatting. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core.h"
#include "harness.h"

static struct dm_self self_as(const char *path)
{
	struct dm_self s;

	dm_self_of_program(&s, path);
	return s;
}

START_TEST(test_parse_bool)
{
	const char *yes[] = { "1", "true", "TRUE", "yes", "On" };
	const char *no[] = { "0", "false", "no", "OFF" };
	const char *bad[] = { "", "2", "maybe", "truee", " 1", "y" };
	bool v;

	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		v = false;
		ck_assert_int_eq(dm_parse_bool(yes[i], &v), 0);
		ck_assert(v);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++) {
		v = true;
		ck_assert_int_eq(dm_parse_bool(no[i], &v), 0);
		ck_assert(!v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_int_eq(dm_parse_bool(bad[i], &v), -EINVAL);
}
END_TEST

START_TEST(test_programs_list)
{
	struct dm_settings s;
	struct dm_diag d = { 0 };
	const char *e;

	dm_settings_default(&s);
	ck_assert_int_eq(dm_programs_parse_list(&s, " trueno-ublk , /usr/sbin/nbd-server,,", &d), 0);
	ck_assert_uint_eq(s.n_programs, 2);
	e = dm_programs_next(&s, NULL);
	ck_assert_str_eq(e, "trueno-ublk");
	e = dm_programs_next(&s, e);
	ck_assert_str_eq(e, "/usr/sbin/nbd-server");
	ck_assert_ptr_null(dm_programs_next(&s, e));

	ck_assert_int_eq(dm_programs_parse_list(&s, "ok,sbin/relative", &d), -EINVAL);
	ck_assert_uint_eq(s.n_programs, 0);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.msg[0], "DUENDE_MLOCK_PROGRAMS: entry 'sbin/relative': not a program "
				   "name or an absolute path");
	ck_assert_int_eq(dm_programs_parse_list(&s, "bad\x01name", &d), -EINVAL);
	ck_assert_int_eq(dm_programs_parse_list(&s, "/usr/bin/", &d), -EINVAL);
}
END_TEST

START_TEST(test_programs_match)
{
	struct dm_settings s;
	struct dm_self a = self_as("/usr/sbin/trueno-ublk");
	struct dm_self b = self_as("/opt/trueno-ublk");
	struct dm_self c = self_as("/usr/sbin/trueno-ublk2");

	dm_settings_default(&s);
	dm_programs_parse_list(&s, "trueno-ublk", NULL);
	ck_assert(dm_programs_match(&s, &a));
	ck_assert(dm_programs_match(&s, &b));
	ck_assert(!dm_programs_match(&s, &c));
	dm_programs_parse_list(&s, "/usr/sbin/trueno-ublk", NULL);
	ck_assert(dm_programs_match(&s, &a));
	ck_assert(!dm_programs_match(&s, &b));
}
END_TEST

START_TEST(test_config_parse_values_and_origins)
{
	static const char text[] = "# comment\ncurrent = false\nonfault = yes\n"
				   "programs = {\"trueno-ublk\", /usr/sbin/nbd-server}\nlog = syslog\n";
	struct dm_settings s;
	struct dm_diag d = { 0 };

	dm_settings_default(&s);
	ck_assert_int_eq(dm_config_parse_text("t.conf", text, strlen(text), NULL, &s, &d), 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert(!s.current);
	ck_assert(s.future);
	ck_assert(s.onfault);
	ck_assert_int_eq(s.log, DM_LOG_SYSLOG);
	ck_assert_uint_eq(s.n_programs, 2);
	ck_assert_int_eq(s.origin[DM_KEY_CURRENT], DM_FROM_FILE);
	ck_assert_int_eq(s.origin[DM_KEY_FUTURE], DM_FROM_DEFAULT);
	ck_assert_int_eq(s.origin[DM_KEY_PROGRAMS], DM_FROM_FILE);
}
END_TEST

START_TEST(test_config_errors_name_file_and_line)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "current = true\n\ncurrent = maybe\n", "x.conf:3: " },
		{ "future = true\nnosuchkey = 1\n", "x.conf:2: no such option 'nosuchkey'" },
		{ "log = loud\n", "x.conf:1: log = 'loud': not a log target" },
		{ "\nprograms = {\"ok\", \"rel/ative\"}\n",
		  "x.conf:2: programs: entry 'rel/ative': not a program name or an absolute path" },
		{ "onfault = true\nlog = \"${HOME}\"\n", "x.conf:2: '${' is not allowed" },
		{ "programs = {${USER}}\n", "x.conf:1: '${' is not allowed" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct dm_settings s;
		struct dm_diag d = { 0 };

		dm_settings_default(&s);
		ck_assert_int_eq(dm_config_parse_text("x.conf", cases[i].text,
						      strlen(cases[i].text), NULL, &s, &d),
				 -EINVAL);
		ck_assert_uint_ge(d.n, 1);
		ck_assert_msg(strstr(d.msg[0], cases[i].msg), "case %zu: '%s' lacks '%s'", i,
			      d.msg[0], cases[i].msg);
		/* Ignored as a whole. */
		ck_assert(s.current && s.future && !s.onfault);
		ck_assert_uint_eq(s.n_programs, 0);
	}
}
END_TEST

static bool cannot_name(const char *text, const char *path)
{
	struct dm_conffile f = { .text = (char *)text, .len = strlen(text) };
	struct dm_self self = self_as(path);

	return dm_conffile_cannot_name(&f, &self);
}

START_TEST(test_prescan)
{
	/* Names the program: must not claim otherwise. */
	ck_assert(!cannot_name("programs = {\"sshd\"}", "/usr/sbin/sshd"));
	ck_assert(!cannot_name("programs = {sshd}", "/usr/sbin/sshd"));
	ck_assert(!cannot_name("programs = {'/usr/sbin/sshd'}", "/usr/sbin/sshd"));
	ck_assert(!cannot_name("programs={a,sshd}", "/usr/sbin/sshd"));
	/* Escapes could spell it: no claim. */
	ck_assert(!cannot_name("programs = {\"ss\\x68d\"}", "/usr/sbin/sshd"));
	/* Cannot name it: comments, longer words, other names. */
	ck_assert(cannot_name("# sshd is not here\nprograms = {\"trueno-ublk\"}", "/usr/sbin/sshd"));
	ck_assert(cannot_name("// sshd\n/* sshd */ programs = {sshd2, xsshd}", "/usr/sbin/sshd"));
	ck_assert(cannot_name("programs = {\"/opt/sshd-x\"}", "/usr/sbin/sshd"));
	/* A backslash is a plain byte in comments and unquoted strings, for libconfuse too. */
	ck_assert(cannot_name("# see C:\\path\nprograms = {a\\b}", "/usr/sbin/sshd"));
	ck_assert(!cannot_name("programs = {'ss\\hd'}", "/usr/sbin/sshd"));
	/* A quote inside a comment does not open a string. */
	ck_assert(cannot_name("# don't\nprograms = {a}", "/bin/t"));
}
END_TEST

START_TEST(test_escape)
{
	char buf[32];

	dm_escape(buf, sizeof(buf), "plain", 64);
	ck_assert_str_eq(buf, "plain");
	dm_escape(buf, sizeof(buf), "a\nb\x1b[31m\\", 64);
	ck_assert_str_eq(buf, "a\\x0ab\\x1b[31m\\x5c");
	dm_escape(buf, sizeof(buf), "0123456789abcdef", 8);
	ck_assert_str_eq(buf, "01234567...");
	dm_escape(buf, 8, "0123456789", 64);
	ck_assert_uint_lt(strlen(buf), 8);
}
END_TEST

START_TEST(test_status_format)
{
	struct dm_lock_result res = { .flags_requested = MCL_CURRENT | MCL_FUTURE,
				      .flags_used = MCL_CURRENT | MCL_FUTURE,
				      .limit = { RLIM_INFINITY, RLIM_INFINITY },
				      .mem = { .vm_lck = 4096 } };
	char line[DM_LOG_MAX];

	dm_status_format(line, sizeof(line), "d\nmon", NULL, 42, &res);
	ck_assert_str_eq(line, "d\\x0amon[42]: locked 4096 bytes (VmLck), flags MCL_CURRENT|MCL_FUTURE");
	dm_status_format(line, sizeof(line), "redis-server", "redis-check-rdb", 42, &res);
	ck_assert_str_eq(line, "redis-server[42] (executable redis-check-rdb): locked 4096 bytes "
			       "(VmLck), flags MCL_CURRENT|MCL_FUTURE");

	res.err = EPERM;
	res.flags_used = 0;
	res.limit = (struct rlimit){ 0, 0 };
	res.mem.vm_size = 1 << 20;
	dm_status_format(line, sizeof(line), "d", NULL, 1, &res);
	ck_assert_msg(strstr(line, "failed: EPERM"), "%s", line);
	ck_assert_msg(strstr(line, "soft 0 hard 0 bytes, VmSize 1048576 bytes"), "%s", line);
	ck_assert_msg(strstr(line, "setcap cap_ipc_lock=+ep"), "%s", line);

	/* A tiny buffer is cut, never overrun. */
	ck_assert_uint_eq(dm_status_format(line, 10, "d", NULL, 1, &res), 9);
	ck_assert_uint_eq(strlen(line), 9);
}
END_TEST

/* Every key of the table is complete, and every profile's values parse. */
START_TEST(test_key_table)
{
	struct dm_settings s;

	for (int k = 0; k < DM_KEY_COUNT; k++) {
		ck_assert_ptr_nonnull(dm_keys[k].name);
		ck_assert_ptr_nonnull(dm_keys[k].env);
		ck_assert_ptr_nonnull(dm_keys[k].expect);
		ck_assert_uint_gt(dm_keys[k].size, 0);
		ck_assert_msg(strncmp(dm_keys[k].env, "DUENDE_MLOCK_", 13) == 0, "%s",
			      dm_keys[k].env);
	}
	for (int p = 0; p < DM_PROFILE_COUNT; p++) {
		dm_settings_default(&s);
		dm_profile_apply(&s, (enum dm_profile)p);
	}
	dm_settings_default(&s);
	dm_profile_apply(&s, DM_PROFILE_SWAP_SERVER);
	ck_assert_int_eq(s.origin[DM_KEY_ONFAULT], DM_FROM_PROFILE);
	ck_assert(!s.onfault && s.current && s.future);
	ck_assert_int_eq(s.origin[DM_KEY_REQUIRED], DM_FROM_DEFAULT);
}
END_TEST

static const char *write_conf(const char *name, const char *text)
{
	static char path[4300];

	snprintf(path, sizeof(path), "%s/%s", harness_tmpdir(), name);
	harness_write_file(path, text, 0644, getuid(), getgid());
	return path;
}

/* defaults < profile < file < environment, through the one pipeline the faces call. */
START_TEST(test_decide_layers)
{
	const char *path = write_conf("layers.conf", "profile = swap-server\nonfault = true\n"
						     "required = true\n");
	struct dm_decision dec;
	struct dm_settings s;
	struct dm_self self = self_as("/usr/sbin/nbd-server");

	unsetenv("DUENDE_MLOCK_PROFILE");
	setenv("DUENDE_MLOCK_REQUIRED", "0", 1);
	dm_decide(&dec, path, &self, &s);
	ck_assert_int_eq(dec.load_r, 0);
	ck_assert_int_eq(dec.parse_r, 0);
	ck_assert_uint_eq(dec.diag.n, 0);
	ck_assert_int_eq(s.profile, DM_PROFILE_SWAP_SERVER);
	ck_assert_int_eq(s.origin[DM_KEY_PROFILE], DM_FROM_FILE);
	/* The profile's value, over the default. */
	ck_assert_int_eq(s.origin[DM_KEY_CURRENT], DM_FROM_PROFILE);
	/* The file's, over the profile's. */
	ck_assert(s.onfault);
	ck_assert_int_eq(s.origin[DM_KEY_ONFAULT], DM_FROM_FILE);
	/* The environment's, over the file's. */
	ck_assert(!s.required);
	ck_assert_int_eq(s.origin[DM_KEY_REQUIRED], DM_FROM_ENV);
	ck_assert_int_eq(s.origin[DM_KEY_PROPAGATE], DM_FROM_DEFAULT);
	/* The load's fstat, for doctor. */
	ck_assert(dec.file.stat_done);
	ck_assert_uint_eq(dec.file.owner, getuid());
	ck_assert_uint_eq(dec.file.mode & 07777, 0644);

	/* The environment names the profile; a bad one is said and changes nothing. */
	setenv("DUENDE_MLOCK_PROFILE", "none", 1);
	dm_decide(&dec, path, &self, &s);
	ck_assert_int_eq(s.profile, DM_PROFILE_NONE);
	ck_assert_int_eq(s.origin[DM_KEY_CURRENT], DM_FROM_DEFAULT);
	setenv("DUENDE_MLOCK_PROFILE", "fast", 1);
	dm_decide(&dec, path, &self, &s);
	ck_assert_int_eq(s.profile, DM_PROFILE_SWAP_SERVER);
	ck_assert_uint_eq(dec.diag.n, 1);
	ck_assert_uint_eq(dec.file_diags, 0);
	ck_assert_str_eq(dec.diag.msg[0], "DUENDE_MLOCK_PROFILE='fast': not a profile (use none or "
					  "swap-server), ignoring");
	unsetenv("DUENDE_MLOCK_PROFILE");
	unsetenv("DUENDE_MLOCK_REQUIRED");

	/* A missing file: the defaults, and the load says so. */
	dm_decide(&dec, "/nonexistent/x.conf", &self, &s);
	ck_assert_int_eq(dec.load_r, -ENOENT);
	ck_assert(dm_decide_file_ignored(&dec));
	ck_assert(s.current && s.future && !s.onfault);
}
END_TEST

/* program "NAME" { } gives one program its settings; its NAME joins the allow-list. */
START_TEST(test_program_sections)
{
	static const char text[] = "programs = {sshd}\n"
				   "program \"nbd-server\" {\n  profile = swap-server\n"
				   "  onfault = true\n}\n"
				   "program /usr/sbin/other { required = true }\n";
	struct dm_settings s;
	struct dm_diag d = { 0 };
	struct dm_self nbd = self_as("/usr/sbin/nbd-server");
	struct dm_self sshd = self_as("/usr/sbin/sshd");

	dm_settings_default(&s);
	ck_assert_int_eq(dm_config_parse_text("p.conf", text, strlen(text), &nbd, &s, &d), 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_int_eq(s.profile, DM_PROFILE_SWAP_SERVER);
	ck_assert_int_eq(s.origin[DM_KEY_PROFILE], DM_FROM_SECTION);
	ck_assert(s.onfault);
	ck_assert(!s.required);
	ck_assert_uint_eq(s.n_programs, 3);
	ck_assert(dm_programs_has(&s, "nbd-server"));
	ck_assert(dm_programs_has(&s, "/usr/sbin/other"));

	/* Another listed program gets none of it. */
	dm_settings_default(&s);
	ck_assert_int_eq(dm_config_parse_text("p.conf", text, strlen(text), &sshd, &s, &d), 0);
	ck_assert_int_eq(s.profile, DM_PROFILE_NONE);
	ck_assert(!s.onfault);
	ck_assert(dm_programs_match(&s, &sshd));

	/* The allow-list belongs to the whole file; a title is an entry; one section a program. */
	{
		static const char *const bad[][2] = {
			{ "program x { programs = {y} }\n", "no such option 'programs'" },
			{ "program \"rel/x\" { onfault = true }\n", "program \"rel/x\": not a program" },
			{ "program x { onfault = true }\nprogram x { current = false }\n", "x" },
			{ "program x { profile = fast }\n", "profile = 'fast': not a profile" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
			d.n = 0;
			dm_settings_default(&s);
			ck_assert_int_eq(dm_config_parse_text("b.conf", bad[i][0], strlen(bad[i][0]),
							      &nbd, &s, &d),
					 -EINVAL);
			ck_assert_uint_ge(d.n, 1);
			ck_assert_msg(strstr(d.msg[0], bad[i][1]), "case %zu: %s", i, d.msg[0]);
			ck_assert_uint_eq(s.n_programs, 0);
		}
	}
}
END_TEST

/* What the operator typed names the process; the executable is said beside it. */
START_TEST(test_self_name)
{
	struct dm_self self = { .execfn = "/usr/bin/redis-server", .exe_tried = true };

	snprintf(self.exe, sizeof(self.exe), "/usr/bin/redis-check-rdb");
	ck_assert_str_eq(dm_self_name(&self), "redis-server");
	ck_assert_str_eq(dm_self_exe_name(&self), "redis-check-rdb");
	self.execfn = "/usr/bin/redis-check-rdb";
	ck_assert_ptr_null(dm_self_exe_name(&self));
	/* A descriptor's magic link names nothing. */
	self.execfn = "/proc/self/exe";
	ck_assert_str_eq(dm_self_name(&self), "redis-check-rdb");
	self.execfn = NULL;
	ck_assert_str_eq(dm_self_name(&self), "redis-check-rdb");
}
END_TEST

/* procfs.c's text reader and CapEff, against stdio's reading of the same file. */
START_TEST(test_proc_status_fields)
{
	char line[256], text[64], seccomp[16] = "";
	unsigned long long want = ~0ULL;
	uint64_t caps;
	FILE *f = fopen("/proc/self/status", "re");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "CapEff:", 7) == 0)
			want = strtoull(line + 7, NULL, 16);
		if (strncmp(line, "Seccomp:", 8) == 0)
			sscanf(line + 8, "%15s", seccomp);
	}
	fclose(f);
	ck_assert_int_eq(dm_proc_cap_eff(0, &caps), 0);
	ck_assert_uint_eq(caps, want);
	ck_assert_int_eq(dm_proc_status_text(0, "Seccomp", text, sizeof(text)), 0);
	ck_assert_str_eq(text, seccomp);
	ck_assert_int_eq(dm_proc_status_text(0, "NoSuchKey", text, sizeof(text)), -ENODATA);
	ck_assert_int_eq(dm_proc_status_text(0, "Name", text, 3), 0);
	ck_assert_uint_eq(strlen(text), 2);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("settings");
	const struct {
		const char *name;
		const TTest *test;
	} tests[] = {
		{ "parse_bool", test_parse_bool },
		{ "programs_list", test_programs_list },
		{ "programs_match", test_programs_match },
		{ "config_parse_values_and_origins", test_config_parse_values_and_origins },
		{ "config_errors_name_file_and_line", test_config_errors_name_file_and_line },
		{ "prescan", test_prescan },
		{ "escape", test_escape },
		{ "status_format", test_status_format },
		{ "key_table", test_key_table },
		{ "decide_layers", test_decide_layers },
		{ "program_sections", test_program_sections },
		{ "self_name", test_self_name },
		{ "proc_status_fields", test_proc_status_fields },
	};

	for (size_t i = 0; i < sizeof(tests) / sizeof(*tests); i++) {
		TCase *tc = tcase_create(tests[i].name);

		tcase_add_test(tc, tests[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}
