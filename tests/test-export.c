/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The I/O object (preload/export.c, libduende_mlock_io.so), seen from outside: a program that
 * serves a file the way nbd-server serves its export (open, then pread/pwrite from malloc()ed
 * buffers) under the swap-server profile, with the export named. Its requests must reach the file
 * without filling the page cache, the data must be exactly what it wrote, and nothing must change
 * where the profile or the object is missing.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test-common.h"

const unsigned test_needs = HARNESS_NEEDS_ROOT;

/* Pages of the 8 MiB the victim writes (export-victim.c). */
#define SPAN_PAGES 2048

static char export_env[600], io_env[600];

/* A fresh 16 MiB export on the build's file system (O_DIRECT-capable: ext4, xfs, btrfs). */
static const char *export_file(void)
{
	static char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/export.img", harness_tmpdir());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 16 << 20), 0);
	close(fd);
	snprintf(export_env, sizeof(export_env), "DUENDE_MLOCK_EXPORT=%s", path);
	snprintf(io_env, sizeof(io_env), "LD_PRELOAD=%s", harness_io_library());
	return path;
}

static void run_export(const char *mode, const char *const *env, struct victim_result *r)
{
	const char *path = export_file();
	struct victim_opts o = {
		.argv = (const char *const[]){ getenv("DM_TEST_EXPORT_VICTIM"), path, mode, NULL },
		.preload = true,
		.env = env,
	};

	RUN(&o, r);
	ck_assert_msg(r->signal == 0 && r->exit_code == 0, "exit %d signal %d\n%s%s", r->exit_code,
		      r->signal, r->out, r->err);
	/* Whatever the path, the data reached the file intact (read back past the library). */
	ASSERT_HAS(r->out, "disk=ok");
}

/* Armed: aligned requests go through O_DIRECT, nothing of them stays in the page cache. */
START_TEST(test_export_bypasses_page_cache)
{
	struct victim_result r;

	run_export("", ENV("DUENDE_MLOCK_PROFILE=swap-server", export_env, io_env), &r);
	ASSERT_HAS(r.err, "O_DIRECT (align ");
	ASSERT_HAS(r.err, ") done");
	ck_assert_int_eq(kv_get(r.out, "cached"), 0);
	victim_result_free(&r);
}
END_TEST

/*
 * nbd-server serves from a fork child: the export opened before fork(), its twin and the bounce
 * buffers go with it.
 */
START_TEST(test_export_fork_child_bypasses_page_cache)
{
	struct victim_result r;

	run_export("fork", ENV("DUENDE_MLOCK_PROFILE=swap-server", export_env, io_env), &r);
	ck_assert_int_eq(kv_get(r.out, "cached"), 0);
	victim_result_free(&r);
}
END_TEST

/*
 * The program closes every descriptor above its export's (close_range: the library's twin among
 * them, unseen) and fills the numbers near the top of the table with another file: the export's
 * data must not go there, but to the export, through the page cache.
 */
START_TEST(test_export_twin_closed_behind_is_never_written)
{
	struct victim_result r;

	run_export("closed-twin", ENV("DUENDE_MLOCK_PROFILE=swap-server", export_env, io_env), &r);
	ck_assert_int_eq(kv_get(r.out, "other"), 0);
	ck_assert_int_eq(kv_get(r.out, "cached"), SPAN_PAGES);
	victim_result_free(&r);
}
END_TEST

/* The control: the same program through the page cache, so the case above can fail. */
START_TEST(test_export_without_io_object_is_buffered_and_said)
{
	struct victim_result r;

	run_export("", ENV("DUENDE_MLOCK_PROFILE=swap-server", export_env), &r);
	ASSERT_HAS(r.err, "O_DIRECT not done: libduende_mlock_io.so is not preloaded beside this "
			  "library");
	ck_assert_int_eq(kv_get(r.out, "cached"), SPAN_PAGES);
	victim_result_free(&r);
}
END_TEST

/* Loaded, but the program's settings do not choose the profile: the object stays unarmed. */
START_TEST(test_export_without_profile_changes_nothing)
{
	struct victim_result r;

	run_export("", ENV(export_env, io_env), &r);
	ASSERT_LACKS(r.err, "O_DIRECT");
	ck_assert_int_eq(kv_get(r.out, "cached"), SPAN_PAGES);
	victim_result_free(&r);
}
END_TEST

/* An export the object cannot serve directly is said, and under required stops the server. */
START_TEST(test_export_refused_is_said_and_required_stops)
{
	const char *const argv[] = { harness_victim(), "status", NULL };
	struct victim_opts o = { .argv = argv, .preload = true };
	struct victim_result r;

	export_file();
	o.env = ENV("DUENDE_MLOCK_PROFILE=swap-server", "DUENDE_MLOCK_EXPORT=/proc", io_env);
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(r.err, "export /proc O_DIRECT not done: not a regular file or a block device");
	victim_result_free(&r);

	o.env = ENV("DUENDE_MLOCK_PROFILE=swap-server", "DUENDE_MLOCK_EXPORT=/nonexistent/disk",
		    "DUENDE_MLOCK_REQUIRED=1", io_env);
	RUN(&o, &r);
	ck_assert_int_eq(r.exit_code, 71);
	ASSERT_LACKS(r.out, "main_ran");
	ASSERT_HAS(r.err, "export /nonexistent/disk O_DIRECT not done: No such file or directory");
	ASSERT_HAS(r.err, "required = true: stopping");
	victim_result_free(&r);
}
END_TEST

Suite *test_suite(void)
{
	const struct harness_case cases[] = {
		CASE(test_export_bypasses_page_cache, CASE_REAL_MLOCKALL),
		CASE(test_export_fork_child_bypasses_page_cache, CASE_REAL_MLOCKALL),
		CASE(test_export_twin_closed_behind_is_never_written, CASE_REAL_MLOCKALL),
		CASE(test_export_without_io_object_is_buffered_and_said, CASE_REAL_MLOCKALL),
		CASE(test_export_without_profile_changes_nothing, CASE_REAL_MLOCKALL),
		CASE(test_export_refused_is_said_and_required_stops, CASE_REAL_MLOCKALL),
	};

	return HARNESS_SUITE("export", cases);
}
