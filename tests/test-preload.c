/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The preload shim, seen from outside: a victim runs under LD_PRELOAD and reports its own
 * VmLck; the settings come from files and variables as an operator would write them.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <errno.h>

#include "test-common.h"

const unsigned test_needs = HARNESS_NEEDS_ROOT;

static char *config_file(const char *name, const char *text)
{
	static char env[4400];

	snprintf(env, sizeof(env), "DUENDE_MLOCK_CONFIG=%s",
		 harness_write_config(name, text, 0644));
	return env;
}

START_TEST(test_control_without_preload_nothing_locked)
{
	struct victim_opts o = { .argv = VICTIM("map", "16") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ck_assert_str_eq(r.err, "");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_default_locks_before_main)
{
	struct victim_opts o = { .argv = VICTIM("status"), .preload = true };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	/* Locked before the program's own constructors ran, and all that was resident then. */
	ck_assert_int_gt(kv_get(r.out, "ctor_vm_lck"), 1 * HARNESS_MIB);
	/* Everything resident then, but the vDSO (VM_PFNMAP mappings are never locked). */
	ck_assert_int_ge(kv_get(r.out, "ctor_vm_lck") + 64 * HARNESS_KIB,
			 kv_get(r.out, "ctor_vm_rss"));
	ck_assert_int_ge(kv_get(r.out, "vm_lck") + 64 * HARNESS_KIB, kv_get(r.out, "vm_rss"));
	ASSERT_HAS(r.err, "duende-mlock: victim[");
	ASSERT_HAS(r.err, "locked ");
	ASSERT_FLAGS(r.err, "MCL_CURRENT|MCL_FUTURE");
	/* One status line, nothing on stdout from the library. */
	ck_assert_ptr_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	ASSERT_LACKS(r.out, "duende-mlock");
	victim_result_free(&r);
}
END_TEST

/* /proc/self/status grows with the Groups: line, which comes before the Vm* lines. */
START_TEST(test_status_line_with_many_groups)
{
	struct victim_opts o = { .argv = VICTIM("status"), .preload = true, .extra_groups = 2000 };
	struct victim_result r;
	const char *n;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	n = strstr(r.err, "]: locked ");
	ck_assert_msg(n, "no status line in:\n%s", r.err);
	ck_assert_int_gt(strtoll(n + strlen("]: locked "), NULL, 10), 1 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_mapping_made_in_main_is_locked)
{
	struct victim_opts o = { .argv = VICTIM("map", "64"), .preload = true };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_ge(kv_get(r.out, "vm_lck"), 64 * HARNESS_MIB);
	ck_assert_int_ge(kv_get(r.out, "locked_resident"), 64 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_onfault_leaves_untouched_memory_out)
{
	struct victim_opts o = { .argv = VICTIM("onfault", "512", "16"),
				 .preload = true,
				 .env = ENV("DUENDE_MLOCK_ONFAULT=1") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(r.err, "flags MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT");
	/* VmLck counts the whole mapping (it is charged), but only touched pages are resident. */
	ck_assert_int_ge(kv_get(r.out, "vm_lck"), 512 * HARNESS_MIB);
	ck_assert_int_lt(kv_get(r.out, "map_resident"), 32 * HARNESS_MIB);
	ck_assert_int_ge(kv_get(r.out, "map_resident"), 16 * HARNESS_MIB);
	ck_assert_int_ge(kv_get(r.out, "locked_resident"), 16 * HARNESS_MIB);
	ck_assert_int_lt(kv_get(r.out, "locked_resident"), 64 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_eperm_names_cause_and_remedy_host_runs)
{
	struct victim_opts o = { .argv = VICTIM("status"),
				 .preload = true,
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 0 };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ASSERT_HAS(r.err, "not locked: mlockall(MCL_CURRENT) failed: EPERM");
	ASSERT_HAS(r.err, "RLIMIT_MEMLOCK soft 0 hard 0 bytes");
	ASSERT_HAS(r.err, "CAP_IPC_LOCK no");
	ASSERT_HAS(r.err, "setcap cap_ipc_lock=+ep");
	ASSERT_HAS(r.err, "--cap-add=IPC_LOCK");
	ASSERT_HAS(r.err, "AmbientCapabilities=CAP_IPC_LOCK");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_enomem_names_limit_and_remedy_host_runs)
{
	struct victim_opts o = { .argv = VICTIM("status"),
				 .preload = true,
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 1 * HARNESS_MIB };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ASSERT_HAS(r.err, "failed: ENOMEM");
	ASSERT_HAS(r.err, "RLIMIT_MEMLOCK soft 1048576 hard 1048576 bytes, VmSize ");
	ASSERT_HAS(r.err, "ulimit -l unlimited");
	ASSERT_HAS(r.err, "--ulimit memlock=-1:-1");
	ASSERT_HAS(r.err, "LimitMEMLOCK=infinity");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_required_failure_exits_before_main)
{
	struct victim_opts o = { .argv = VICTIM("status"),
				 .preload = true,
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 0,
				 .env = ENV("DUENDE_MLOCK_REQUIRED=yes") };
	struct victim_result r;

	RUN(&o, &r);
	ck_assert_int_eq(r.exit_code, 71);
	ck_assert_int_eq(kv_get(r.out, "main_ran"), -1);
	ASSERT_HAS(r.err, "EPERM");
	ASSERT_HAS(r.err, "required = true: stopping victim[");
	ASSERT_HAS(r.err, "exit status 71");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_required_success_runs_host)
{
	struct victim_opts o = { .argv = VICTIM("status"),
				 .preload = true,
				 .env = ENV("DUENDE_MLOCK_REQUIRED=1") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	victim_result_free(&r);
}
END_TEST

/* Without CAP_IPC_LOCK and with a finite limit, MCL_FUTURE would make later allocations fail. */
START_TEST(test_future_withheld_under_finite_limit)
{
	struct victim_opts o = { .argv = VICTIM("map", "128"),
				 .preload = true,
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 8 * HARNESS_MIB };
	struct victim_result r;

	RUN(&o, &r);
	/* The 128 MiB mapping in main() succeeds although it is 16 times the limit. */
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "mmap_errno"), -1);
	ck_assert_int_gt(kv_get(r.out, "ctor_vm_lck"), 0);
	ck_assert_int_lt(kv_get(r.out, "vm_lck"), 8 * HARNESS_MIB);
	ASSERT_HAS(r.err, "flags MCL_CURRENT;");
	ASSERT_HAS(r.err, "MCL_FUTURE withheld: RLIMIT_MEMLOCK is finite (soft 8388608 hard "
			  "8388608 bytes) and CAP_IPC_LOCK is missing");
	victim_result_free(&r);
}
END_TEST

/*
 * With CAP_IPC_LOCK under a finite limit, MCL_FUTURE is kept (the setuid wrappers handle a later
 * drop of the capability), and the line is the short one: nothing fell short. Where
 * CAP_SYS_RESOURCE is held the limit is lifted.
 */
START_TEST(test_future_kept_on_capability_under_finite_limit)
{
	struct victim_opts o = { .argv = VICTIM("map", "32"),
				 .preload = true,
				 .set_memlock = true,
				 .memlock = 8 * HARNESS_MIB };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_ge(kv_get(r.out, "vm_lck"), 32 * HARNESS_MIB);
	ASSERT_FLAGS(r.err, "MCL_CURRENT|MCL_FUTURE");
	if (harness_has_sys_resource())
		ASSERT_HAS(r.err, "; RLIMIT_MEMLOCK lifted to unlimited\n");
	ASSERT_LACKS(r.err, "see duende-mlock doctor");
	ck_assert_int_eq(count_of(r.err, "\n"), 1);
	ck_assert_msg(strlen(r.err) - strlen("duende-mlock: \n") <= 160,
		      "a line with nothing to report is longer than 160 characters:\n%s", r.err);
	victim_result_free(&r);
}
END_TEST

/* A seccomp filter answers MCL_ONFAULT with EINVAL, as kernels before 4.4 do. */
START_TEST(test_onfault_refused_retried_without)
{
	struct victim_opts o = { .argv = VICTIM("map", "8"),
				 .preload = true,
				 .env = ENV("DUENDE_MLOCK_ONFAULT=1"),
				 .mlockall_errno = EINVAL,
				 .mlockall_mask = MCL_ONFAULT };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_ge(kv_get(r.out, "vm_lck"), 8 * HARNESS_MIB);
	ASSERT_FLAGS(r.err, "MCL_CURRENT|MCL_FUTURE");
	ASSERT_HAS(r.err, "; MCL_ONFAULT refused by this kernel (before 4.4), retried without it; "
			  "see duende-mlock doctor\n");
	victim_result_free(&r);
}
END_TEST

/* A hardened unit's SystemCallFilter without @memlock: the host runs and is told why. */
START_TEST(test_mlockall_filtered_out)
{
	struct victim_opts o = { .argv = VICTIM("status"),
				 .preload = true,
				 .mlockall_errno = ENOSYS,
				 .mlockall_mask = ~0u };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ASSERT_HAS(r.err, "failed: ENOSYS");
	ASSERT_HAS(r.err, "@memlock");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_soft_limit_raised_to_hard)
{
	struct victim_opts o = { .argv = VICTIM("status"),
				 .preload = true,
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 0,
				 .set_memlock_hard = true,
				 .memlock_hard = 8 * HARNESS_MIB };
	struct victim_result r;

	/* Soft 0 under an 8 MiB hard limit would be EPERM; raising the soft limit (allowed to
	 * anyone) makes locking the current pages possible. */
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	ASSERT_HAS(r.err, "flags MCL_CURRENT; MCL_FUTURE withheld");
	ASSERT_HAS(r.err,
		   "; soft RLIMIT_MEMLOCK raised to the hard limit; see duende-mlock doctor\n");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_precedence_defaults_file_env)
{
	const char *cfg = config_file("prec.conf", "# test\nonfault = true\nfuture = false\n");
	struct victim_opts o = { .argv = VICTIM("status"), .preload = true };
	struct victim_result r;

	/* File over defaults: onfault on, future off. */
	o.env = ENV(cfg);
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_FLAGS(r.err, "MCL_CURRENT|MCL_ONFAULT");
	victim_result_free(&r);

	/* Environment over file: future back on. */
	o.env = ENV(cfg, "DUENDE_MLOCK_FUTURE=on");
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_FLAGS(r.err, "MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_filter_by_name)
{
	struct victim_opts o = { .argv = VICTIM("status"), .preload = true };
	struct victim_result r;

	o.env = ENV("DUENDE_MLOCK_PROGRAMS=trueno-ublk,nbd-server");
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ck_assert_str_eq(r.err, ""); /* not ours: not a word */
	victim_result_free(&r);

	o.env = ENV("DUENDE_MLOCK_PROGRAMS=trueno-ublk, victim");
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_filter_by_path_in_file)
{
	char text[4400];
	const char *cfg;
	struct victim_opts o = { .argv = VICTIM("status"), .preload = true };
	struct victim_result r;

	snprintf(text, sizeof(text), "programs = {\"/usr/sbin/elsewhere/victim\"}\n");
	cfg = config_file("path-no.conf", text);
	o.env = ENV(cfg);
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0); /* same name, other path */
	ck_assert_str_eq(r.err, "");
	victim_result_free(&r);

	snprintf(text, sizeof(text), "programs = {\"other\", \"%s\"}\n", harness_victim());
	cfg = config_file("path-yes.conf", text);
	o.env = ENV(cfg);
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_broken_file_reported_with_line_and_ignored)
{
	const char *cfg = config_file("broken.conf", "future = false\n\ncurrent = maybe\n");
	struct victim_opts o = { .argv = VICTIM("status"), .preload = true, .env = ENV(cfg) };
	struct victim_result r;
	char where[4400];

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	snprintf(where, sizeof(where), "duende-mlock: %s/broken.conf:3: ", harness_tmpdir());
	ASSERT_HAS(r.err, where);
	ASSERT_HAS(r.err, "current");
	/* Ignored as a whole: future = false on line 1 did not apply either. */
	ASSERT_FLAGS(r.err, "MCL_CURRENT|MCL_FUTURE");
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_environment_expansion_refused)
{
	const char *cfg = config_file("dollar.conf", "onfault = true\nlog = ${DM_LOG_FROM_ENV}\n");
	struct victim_opts o = { .argv = VICTIM("status"),
				 .preload = true,
				 .env = ENV(cfg, "DM_LOG_FROM_ENV=none") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(r.err, "dollar.conf:2: '${' is not allowed");
	/* Not expanded: log = none would have silenced the status line. */
	ASSERT_FLAGS(r.err, "MCL_CURRENT|MCL_FUTURE");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_bad_environment_value_named_and_ignored)
{
	struct victim_opts o = { .argv = VICTIM("status"),
				 .preload = true,
				 .env = ENV("DUENDE_MLOCK_FUTURE=maybe", "DUENDE_MLOCK_LOG=loud") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(r.err, "DUENDE_MLOCK_FUTURE='maybe': not a boolean");
	ASSERT_HAS(r.err, "DUENDE_MLOCK_LOG='loud': not a log target");
	ASSERT_FLAGS(r.err, "MCL_CURRENT|MCL_FUTURE");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_missing_file_is_normal)
{
	struct victim_opts o = { .argv = VICTIM("status"),
				 .preload = true,
				 .env = ENV("DUENDE_MLOCK_CONFIG=/nonexistent/duende-mlock.conf") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_LACKS(r.err, "nonexistent");
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_untrusted_file_ignored_with_reason)
{
	char path[4200], env[4300];
	struct victim_opts o = { .argv = VICTIM("status"), .preload = true };
	struct victim_result r;

	snprintf(path, sizeof(path), "%s/loose.conf", harness_tmpdir());
	harness_write_file(path, "onfault = true\n", 0666, 0, 0);
	snprintf(env, sizeof(env), "DUENDE_MLOCK_CONFIG=%s", path);
	o.env = ENV(env);
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(r.err, "writable by group or others (mode 0666), ignoring it");
	ASSERT_FLAGS(r.err, "MCL_CURRENT|MCL_FUTURE");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_nothing_asked_is_said)
{
	struct victim_opts o = { .argv = VICTIM("status"),
				 .preload = true,
				 .env = ENV("DUENDE_MLOCK_CURRENT=0", "DUENDE_MLOCK_FUTURE=0") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ASSERT_HAS(r.err, "not locked: the settings ask for nothing");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_log_none_is_silent)
{
	struct victim_opts o = { .argv = VICTIM("status"),
				 .preload = true,
				 .env = ENV("DUENDE_MLOCK_LOG=none") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	ck_assert_str_eq(r.err, "");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_fork_child_locked)
{
	struct victim_opts o = { .argv = VICTIM("fork"), .preload = true };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "child_vm_lck"), 1 * HARNESS_MIB);
	victim_result_free(&r);

	/* Control: without the library the child has nothing locked. */
	o.preload = false;
	RUN(&o, &r);
	ck_assert_int_eq(kv_get(r.out, "child_vm_lck"), 0);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_daemon_locked)
{
	struct victim_opts o = { .argv = VICTIM("daemon"), .preload = true };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "daemon_pid"), 0);
	ck_assert_int_gt(kv_get(r.out, "daemon_vm_lck"), 1 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_exec_child_locked_again)
{
	struct victim_opts o = { .argv = VICTIM("exec", "victim", "map", "8"), .preload = true };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_ge(kv_get(r.out, "vm_lck"), 8 * HARNESS_MIB);
	/* Two processes, two status lines. */
	ck_assert_int_eq(count_of(r.err, "duende-mlock: victim["), 2);
	victim_result_free(&r);
}
END_TEST

/*
 * `required` is the named program's: a helper it execs inherits the library, and when the helper
 * cannot lock it runs unlocked rather than exit 71 because its parent was locked.
 */
START_TEST(test_required_not_inherited_by_exec_child)
{
	struct victim_opts o = { .argv = VICTIM("exec-nolimit", "victim", "status"),
				 .preload = true,
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 8 * HARNESS_MIB,
				 .env = ENV("DUENDE_MLOCK_REQUIRED=yes") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	/* The parent locked, the helper could not (EPERM) and ran all the same. */
	ck_assert_int_eq(count_of(r.out, "main_ran=1"), 2);
	ck_assert_int_eq(count_of(r.err, "]: locked "), 1);
	ASSERT_HAS(r.err, "EPERM");
	ASSERT_LACKS(r.err, "required = true: stopping");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_propagate_off_leaves_exec_child_alone)
{
	struct victim_opts o = { .argv = VICTIM("exec", "victim", "status"),
				 .preload = true,
				 .env = ENV("DUENDE_MLOCK_PROPAGATE=0") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ck_assert_int_eq(count_of(r.err, "duende-mlock: victim["), 1);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_closed_stderr_host_unharmed)
{
	/* A failure, so the library has something to say and nowhere to say it. */
	struct victim_opts o = { .argv = VICTIM("status"),
				 .preload = true,
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 0,
				 .stderr_mode = HARNESS_STDERR_CLOSED };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_broken_pipe_stderr_host_unharmed)
{
	struct victim_opts o = { .argv = VICTIM("signals"),
				 .preload = true,
				 .stderr_mode = HARNESS_STDERR_BROKEN };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	/* No SIGPIPE delivered, none left pending, mask and disposition as they were. */
	ck_assert_int_eq(kv_get(r.out, "sigpipe_pending"), 0);
	ck_assert_int_eq(kv_get(r.out, "sigpipe_blocked"), 0);
	ck_assert_int_eq(kv_get(r.out, "sigpipe_default"), 1);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_host_state_unchanged)
{
	struct victim_opts plain = { .argv = VICTIM("fds") };
	struct victim_opts shim = { .argv = VICTIM("fds"), .preload = true };
	struct victim_result a, b;

	RUN(&plain, &a);
	RUN(&shim, &b);
	ASSERT_HOST_RAN(&b);
	ck_assert_int_eq(kv_get(a.out, "fd_count"), kv_get(b.out, "fd_count"));
	ck_assert_int_eq(kv_get(a.out, "errno_at_main"), kv_get(b.out, "errno_at_main"));
	ck_assert_int_eq(kv_get(a.out, "errno_at_ctor"), kv_get(b.out, "errno_at_ctor"));
	victim_result_free(&a);
	victim_result_free(&b);

	/* Nothing on stdout. */
	shim.argv = VICTIM("quiet");
	RUN(&shim, &b);
	ck_assert_int_eq(b.exit_code, 0);
	ck_assert_str_eq(b.out, "");
	victim_result_free(&b);
}
END_TEST

START_TEST(test_listed_twice_runs_once)
{
	char twice[8300];
	struct victim_opts o = { .argv = VICTIM("status") };
	struct victim_result r;

	snprintf(twice, sizeof(twice), "LD_PRELOAD=%s:%s", harness_library(), harness_library());
	o.env = ENV(twice);
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(count_of(r.err, "duende-mlock: victim["), 1);
	victim_result_free(&r);
}
END_TEST

/*
 * Thread stacks under MCL_FUTURE. glibc maps a new thread's stack PROT_NONE and mprotect()s all
 * but the guard page writable; on a VM_LOCKED mapping the kernel populates the range it makes
 * writable (mprotect_fixup() in mm/mprotect.c), so each thread's whole stack, 8 MiB by default
 * (RLIMIT_STACK), becomes resident and locked when the thread starts: CAP_IPC_LOCK lets that
 * pass RLIMIT_MEMLOCK. The swap-server profile bounds the default stack
 * (pthread_setattr_default_np). The victim starts 64 threads that each touch 16 KiB of stack and
 * wait, and reports its memory before the first and while all 64 are alive.
 */
#define STACK_THREADS 64

struct stack_figures {
	long long stack, guard; /* every thread's, from pthread_getattr_np() */
	long long lck_added, rss_added, lck;
};

static void run_stacks(const struct victim_opts *how, struct stack_figures *f)
{
	struct victim_opts o = *how;
	struct victim_result r;

	o.argv = VICTIM("stacks", "64");
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	/* A program whose threads start without the library starts them with it. */
	ck_assert_msg(kv_get(r.out, "threads_started") == STACK_THREADS,
		      "not every thread started:\n%s\nstderr:\n%s", r.out, r.err);
	ck_assert_int_eq(kv_get(r.out, "stack_min"), kv_get(r.out, "stack_max"));
	*f = (struct stack_figures){
		.stack = kv_get(r.out, "stack_max"),
		.guard = kv_get(r.out, "guard_max"),
		.lck_added = kv_get(r.out, "vm_lck") - kv_get(r.out, "before_vm_lck"),
		.rss_added = kv_get(r.out, "vm_rss") - kv_get(r.out, "before_vm_rss"),
		.lck = kv_get(r.out, "vm_lck"),
	};
	ck_assert_int_gt(f->stack, 0);
	victim_result_free(&r);
}

/*
 * VmLck grew by the 64 stacks and their guard pages (locked_vm counts the PROT_NONE guard), with
 * room for 16 KiB more a thread; VmRSS by the 64 stacks, each populated whole.
 */
static void assert_stacks_locked_whole(const struct stack_figures *f)
{
	long long want = STACK_THREADS * (f->stack + f->guard);

	ck_assert_int_ge(f->lck_added, want);
	ck_assert_int_le(f->lck_added, want + STACK_THREADS * 16 * HARNESS_KIB);
	ck_assert_int_ge(f->rss_added, STACK_THREADS * f->stack);
	ck_assert_int_le(f->rss_added, want + STACK_THREADS * 16 * HARNESS_KIB);
}

/* With the library's defaults each new thread's 8 MiB is locked whole: 64 of them, 512 MiB. */
START_TEST(test_thread_stacks_locked_whole_by_default)
{
	struct victim_opts o = { 0 };
	struct stack_figures plain, shim;

	run_stacks(&o, &plain);
	/* Control: unlocked, a thread costs only the stack it touched (16 KiB) and its TLS. */
	ck_assert_int_eq(plain.lck, 0);
	ck_assert_int_lt(plain.rss_added, STACK_THREADS * 128 * HARNESS_KIB);
	/* A default this small would make the comparisons below tell nothing. */
	ck_assert_int_gt(plain.stack, 1 * HARNESS_MIB);

	o.preload = true;
	run_stacks(&o, &shim);
	ck_assert_int_eq(shim.stack, plain.stack);
	assert_stacks_locked_whole(&shim);
}
END_TEST

/* Under the profile every new thread's stack is 256 KiB: 64 threads lock 16 MiB, not 512. */
START_TEST(test_thread_stacks_bounded_by_profile)
{
	struct victim_opts o = { .preload = true, .env = ENV("DUENDE_MLOCK_PROFILE=swap-server") };
	struct stack_figures f;

	run_stacks(&o, &f);
	ck_assert_int_eq(f.stack, 256 * HARNESS_KIB);
	assert_stacks_locked_whole(&f);
	ck_assert_int_lt(f.lck_added, STACK_THREADS * 1 * HARNESS_MIB);
}
END_TEST

/*
 * thread_stack_kib is the profile's step: over the profile's 256 it sets the size, and without
 * the profile none of the profile's steps is taken (duende-mlock.conf(5)): the key alone leaves
 * glibc's default, and 64 threads lock 512 MiB as with the defaults.
 */
START_TEST(test_thread_stack_key_is_the_profiles)
{
	struct victim_opts o = { .preload = true,
				 .env = ENV("DUENDE_MLOCK_PROFILE=swap-server",
					    "DUENDE_MLOCK_THREAD_STACK_KIB=64") };
	struct stack_figures f, plain;

	run_stacks(&o, &f);
	ck_assert_int_eq(f.stack, 64 * HARNESS_KIB);
	assert_stacks_locked_whole(&f);

	o = (struct victim_opts){ 0 };
	run_stacks(&o, &plain);
	o = (struct victim_opts){ .preload = true,
				  .env = ENV("DUENDE_MLOCK_THREAD_STACK_KIB=256") };
	run_stacks(&o, &f);
	ck_assert_int_eq(f.stack, plain.stack);
	assert_stacks_locked_whole(&f);

	/* ... and says so, rather than leave the operator to find 8 MiB stacks. */
	{
		struct victim_result r;

		o.argv = VICTIM("status");
		RUN(&o, &r);
		ASSERT_HOST_RAN(&r);
		ASSERT_HAS(r.err, "duende-mlock: DUENDE_MLOCK_THREAD_STACK_KIB is set but does "
				  "nothing without DUENDE_MLOCK_PROFILE=swap-server\n");
		victim_result_free(&r);
	}
}
END_TEST

/*
 * Without CAP_IPC_LOCK, under RLIMIT_MEMLOCK 0 (nothing can be locked: EPERM) and 8 MiB (MCL_FUTURE
 * withheld), with the defaults and the profile: all 64 threads start, and nothing the threads
 * added is locked. Under MCL_FUTURE and a finite limit each thread's stack mmap() would fail
 * (EAGAIN: the whole 8 MiB is charged, PROT_NONE as it is), and pthread_create() with it.
 */
START_TEST(test_thread_stacks_start_without_ipc_lock)
{
	const long long limits[] = { 0, 8 * HARNESS_MIB };
	const char *const *profile_env = ENV("DUENDE_MLOCK_PROFILE=swap-server");

	for (size_t i = 0; i < sizeof(limits) / sizeof(*limits); i++) {
		for (int profile = 0; profile < 2; profile++) {
			struct victim_opts o = { .preload = true,
						 .drop_ipc_lock = true,
						 .set_memlock = true,
						 .memlock = limits[i] };
			struct stack_figures f;

			o.env = profile ? profile_env : NULL;

			run_stacks(&o, &f);
			ck_assert_int_eq(f.lck_added, 0);
			if (limits[i] == 0)
				ck_assert_int_eq(f.lck, 0);
			/* The profile's step does not depend on the lock. */
			if (profile)
				ck_assert_int_eq(f.stack, 256 * HARNESS_KIB);
		}
	}
}
END_TEST

Suite *test_suite(void)
{
	const struct harness_case cases[] = {
		CASE(test_control_without_preload_nothing_locked, 0),
		CASE(test_default_locks_before_main, CASE_REAL_MLOCKALL),
		CASE(test_mapping_made_in_main_is_locked, CASE_REAL_MLOCKALL),
		CASE(test_status_line_with_many_groups, CASE_REAL_MLOCKALL),
		CASE(test_onfault_leaves_untouched_memory_out, CASE_REAL_MLOCKALL),
		CASE(test_eperm_names_cause_and_remedy_host_runs, CASE_REAL_MLOCKALL),
		CASE(test_enomem_names_limit_and_remedy_host_runs, CASE_REAL_MLOCKALL),
		CASE(test_required_failure_exits_before_main, CASE_REAL_MLOCKALL),
		CASE(test_required_success_runs_host, CASE_REAL_MLOCKALL),
		CASE(test_future_withheld_under_finite_limit, CASE_REAL_MLOCKALL),
		CASE(test_future_kept_on_capability_under_finite_limit, CASE_REAL_MLOCKALL),
		CASE(test_onfault_refused_retried_without, CASE_REAL_MLOCKALL),
		CASE(test_mlockall_filtered_out, CASE_REAL_MLOCKALL),
		CASE(test_soft_limit_raised_to_hard, CASE_REAL_MLOCKALL),
		CASE(test_precedence_defaults_file_env, 0),
		CASE(test_filter_by_name, CASE_REAL_MLOCKALL),
		CASE(test_filter_by_path_in_file, CASE_REAL_MLOCKALL),
		CASE(test_broken_file_reported_with_line_and_ignored, CASE_REAL_MLOCKALL),
		CASE(test_environment_expansion_refused, 0),
		CASE(test_bad_environment_value_named_and_ignored, 0),
		CASE(test_missing_file_is_normal, CASE_REAL_MLOCKALL),
		CASE(test_untrusted_file_ignored_with_reason, 0),
		CASE(test_nothing_asked_is_said, 0),
		CASE(test_log_none_is_silent, CASE_REAL_MLOCKALL),
		CASE(test_fork_child_locked, CASE_REAL_MLOCKALL),
		CASE(test_daemon_locked, CASE_REAL_MLOCKALL),
		CASE(test_exec_child_locked_again, CASE_REAL_MLOCKALL),
		CASE(test_required_not_inherited_by_exec_child, CASE_REAL_MLOCKALL),
		CASE(test_propagate_off_leaves_exec_child_alone, 0),
		CASE(test_closed_stderr_host_unharmed, 0),
		CASE(test_broken_pipe_stderr_host_unharmed, 0),
		CASE(test_host_state_unchanged, 0),
		CASE(test_listed_twice_runs_once, 0),
		CASE(test_thread_stacks_locked_whole_by_default, CASE_REAL_MLOCKALL),
		CASE(test_thread_stacks_bounded_by_profile, CASE_REAL_MLOCKALL),
		CASE(test_thread_stack_key_is_the_profiles, CASE_REAL_MLOCKALL),
		CASE(test_thread_stacks_start_without_ipc_lock, CASE_REAL_MLOCKALL),
	};

	return HARNESS_SUITE("preload", cases);
}
