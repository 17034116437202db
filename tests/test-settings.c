/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Unit tests of settings.c and decide.c: the keys, the environment, the allow-list, the layers. */
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
	ck_assert_int_eq(dm_programs_parse_list(&s, " trueno-ublk , /usr/sbin/nbd-server,,", &d),
			 0);
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

/* defaults < profile < file < environment, through the one pipeline the faces call. */
START_TEST(test_decide_layers)
{
	const char *path =
		harness_write_config("layers.conf",
				     "onfault = true\nrequired = true\n"
				     "program \"nbd-server\" { profile = swap-server }\n",
				     0644);
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
	ck_assert_int_eq(s.origin[DM_KEY_PROFILE], DM_FROM_SECTION);
	/* The profile's value, over the default. */
	ck_assert_int_eq(s.origin[DM_KEY_CURRENT], DM_FROM_PROFILE);
	/* The file's, over the profile's, even where the profile was chosen in a section. */
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

Suite *test_suite(void)
{
	const struct harness_case cases[] = {
		CASE(test_parse_bool, 0), CASE(test_programs_list, 0), CASE(test_programs_match, 0),
		CASE(test_key_table, 0),  CASE(test_decide_layers, 0), CASE(test_self_name, 0),
	};

	return HARNESS_SUITE("settings", cases);
}
