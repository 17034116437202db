/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Unit tests of conffile.c: libconfuse parsing, program sections, the pre-scan. */
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

static bool cannot_name(const char *text, const char *path)
{
	struct dm_conffile f = { .text = (char *)text, .len = strlen(text) };
	struct dm_self self = self_as(path);

	return dm_conffile_cannot_name(&f, &self);
}

/* Parse text over the defaults: the result is want and the first problem said holds msg. */
static unsigned parse_says(const char *name, const char *text, struct dm_self *self, int want,
			   const char *msg, struct dm_settings *s)
{
	struct dm_diag d = { 0 };

	dm_settings_default(s);
	ck_assert_int_eq(dm_config_parse_text(name, text, strlen(text), self, s, &d), want);
	ck_assert_uint_ge(d.n, 1);
	ck_assert_msg(strstr(d.msg[0], msg), "'%s' lacks '%s'", d.msg[0], msg);
	return d.n;
}

START_TEST(test_config_parse_values_and_origins)
{
	static const char text[] =
		"# comment\ncurrent = false\nonfault = yes\n"
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

/* program "NAME" { } gives one program its settings; its NAME joins the allow-list. */
START_TEST(test_program_sections)
{
	static const char text[] = "programs = {sshd}\n"
				   "program \"nbd-server\" {\n  profile = swap-server\n"
				   "  onfault = true\n  export = \"/dev/vda\"\n}\n"
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
	ck_assert_str_eq(s.export_path, "/dev/vda");
	ck_assert(s.onfault);
	ck_assert(!s.required);
	ck_assert_uint_eq(s.n_programs, 3);
	ck_assert(dm_programs_has(&s, "nbd-server"));
	ck_assert(dm_programs_has(&s, "/usr/sbin/other"));

	/* Another listed program gets none of it. */
	dm_settings_default(&s);
	ck_assert_int_eq(dm_config_parse_text("p.conf", text, strlen(text), &sshd, &s, &d), 0);
	ck_assert_int_eq(s.profile, DM_PROFILE_NONE);
	ck_assert_str_eq(s.export_path, "");
	ck_assert(!s.onfault);
	ck_assert(dm_programs_match(&s, &sshd));

	/* The allow-list belongs to the whole file; a title is an entry; one section a program. */
	{
		static const char *const bad[][2] = {
			{ "program x { programs = {y} }\n", "no such option 'programs'" },
			{ "program \"rel/x\" { onfault = true }\n",
			  "program \"rel/x\": not a program" },
			{ "program x { onfault = true }\nprogram x { current = false }\n", "x" },
			{ "program x { profile = fast }\n", "profile = 'fast': not a profile" },
			{ "program x {\n export = \"dev/vda\"\n}\n",
			  "b.conf:2: export = 'dev/vda': not an absolute path" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
			parse_says("b.conf", bad[i][0], &nbd, -EINVAL, bad[i][1], &s);
			ck_assert_uint_eq(s.n_programs, 0);
		}
	}

	/*
	 * One line outside a section would give the profile to every listed program: said and left
	 * out, the rest of the file applied (a 1.0 file so written keeps its daemons locked).
	 */
	{
		static const char *const outside[][2] = {
			{ "programs = {a, b}\nprofile = swap-server\n",
			  "o.conf:2: profile is ignored here: it may be set only in a program "
			  "\"NAME\" { } section" },
			{ "programs = {a, b}\nexport = \"/dev/nbd0\"\n",
			  "o.conf:2: export is ignored here" },
		};

		for (size_t i = 0; i < sizeof(outside) / sizeof(*outside); i++) {
			ck_assert_uint_eq(
				parse_says("o.conf", outside[i][0], &nbd, 0, outside[i][1], &s), 1);
			ck_assert_int_eq(s.profile, DM_PROFILE_NONE);
			ck_assert_str_eq(s.export_path, "");
			ck_assert_uint_eq(s.n_programs, 2);
		}
	}
}
END_TEST

START_TEST(test_prescan)
{
	/* Names the program: must not claim otherwise. */
	ck_assert(!cannot_name("programs = {\"sshd\"}", "/usr/sbin/sshd"));
	ck_assert(!cannot_name("programs = {sshd}", "/usr/sbin/sshd"));
	ck_assert(!cannot_name("programs = {'/usr/sbin/sshd'}", "/usr/sbin/sshd"));
	ck_assert(!cannot_name("programs={a,sshd}", "/usr/sbin/sshd"));
	/*
	 * "//" at the start of a token is a comment to the end of the line whatever follows it
	 * (libconfuse 3.3's rule comes first and matches at least as long as a string): what
	 * looks like a block comment after it opens none. A file the fuzzer found.
	 */
	ck_assert(!cannot_name("//r\t/*\nprograms = {sshd}", "/usr/sbin/sshd"));
	/* Inside a token, "//" is part of the string. */
	ck_assert(!cannot_name("programs = {/usr//sbin//sshd}", "/usr/sbin/sshd"));
	/* Escapes could spell it: no claim. */
	ck_assert(!cannot_name("programs = {\"ss\\x68d\"}", "/usr/sbin/sshd"));
	/* Cannot name it: comments, longer words, other names. */
	ck_assert(
		cannot_name("# sshd is not here\nprograms = {\"trueno-ublk\"}", "/usr/sbin/sshd"));
	ck_assert(cannot_name("// sshd\n/* sshd */ programs = {sshd2, xsshd}", "/usr/sbin/sshd"));
	ck_assert(cannot_name("programs = {\"/opt/sshd-x\"}", "/usr/sbin/sshd"));
	/* A backslash is a plain byte in comments and unquoted strings, for libconfuse too. */
	ck_assert(cannot_name("# see C:\\path\nprograms = {a\\b}", "/usr/sbin/sshd"));
	ck_assert(!cannot_name("programs = {'ss\\hd'}", "/usr/sbin/sshd"));
	/* A quote inside a comment does not open a string. */
	ck_assert(cannot_name("# don't\nprograms = {a}", "/bin/t"));
}
END_TEST

Suite *test_suite(void)
{
	const struct harness_case cases[] = {
		CASE(test_config_parse_values_and_origins, 0),
		CASE(test_config_errors_name_file_and_line, 0),
		CASE(test_program_sections, 0),
		CASE(test_prescan, 0),
	};

	return HARNESS_SUITE("conffile", cases);
}
