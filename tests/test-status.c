/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Unit tests of status.c and procfs.c: escaping, the status line, /proc/PID/status fields. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core.h"
#include "harness.h"

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
	ck_assert_str_eq(line,
			 "d\\x0amon[42]: locked 4096 bytes (VmLck), flags MCL_CURRENT|MCL_FUTURE");
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
	const struct harness_case cases[] = {
		CASE(test_escape, 0),
		CASE(test_status_format, 0),
		CASE(test_proc_status_fields, 0),
	};

	return HARNESS_SUITE("status", cases);
}
