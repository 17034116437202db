/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The preload object's libc wrappers (preload/guard.c), seen from outside: a victim under the
 * preload drops root, frees memory, locks memory of its own and forks, with a real capability
 * drop and real limits, and does each as it does without the library.
 *
 * The container condition is root with CAP_IPC_LOCK under a finite limit it cannot lift. Where the
 * test process holds CAP_SYS_RESOURCE, the library lifts the limit instead, and the cases say what
 * that condition gives.
 */
#include <check.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test-common.h"

const unsigned test_needs = HARNESS_NEEDS_ROOT;

#define LIMIT (8 * HARNESS_MIB)

/* What the victim printed after the preamble (its own lines), for comparing two runs. */
static const char *after_preamble(const char *out)
{
	const char *p = strstr(out, "errno_at_main=");

	return p ? strchr(p, '\n') + 1 : out;
}

/*
 * A daemon that keeps MCL_FUTURE on CAP_IPC_LOCK alone under a finite limit, then drops root: its
 * next mapping and thread work as without the library. Unlocked then, and said so.
 */
START_TEST(test_privilege_drop_keeps_host_working)
{
	struct victim_opts o = { .argv = VICTIM("dropuid", "65534"),
				 .preload = true,
				 .set_memlock = true,
				 .memlock = LIMIT };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "setuid"), 0);
	ck_assert_int_gt(kv_get(r.out, "ctor_vm_lck"), 0);
	ck_assert_int_eq(kv_get(r.out, "after_mmap_errno"), 0);
	ck_assert_int_eq(kv_get(r.out, "after_thread"), 0);
	if (harness_has_sys_resource()) {
		/* The limit was lifted: nothing to fear from MCL_FUTURE, all stays locked. */
		ck_assert_int_ge(kv_get(r.out, "vm_lck"), 16 * HARNESS_MIB);
		ASSERT_LACKS(r.err, "dropped CAP_IPC_LOCK");
	} else {
		ck_assert_int_eq(kv_get(r.out, "dropped_vm_lck"), 0);
		ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
		ASSERT_HAS(r.err, "]: unlocked: the process dropped CAP_IPC_LOCK under a finite "
				  "RLIMIT_MEMLOCK");
		ck_assert_int_eq(count_of(r.err, "\n"), 2);
	}
	victim_result_free(&r);

	/* And without the library, the same program does the same. */
	o.preload = false;
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "after_mmap_errno"), 0);
	ck_assert_int_eq(kv_get(r.out, "after_thread"), 0);
	victim_result_free(&r);
}
END_TEST

/* seteuid() away from root and back: the locks go with the capability and come back with it. */
START_TEST(test_seteuid_back_to_root_locks_again)
{
	struct victim_opts o = { .argv = VICTIM("seteuid", "65534"),
				 .preload = true,
				 .set_memlock = true,
				 .memlock = LIMIT };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "setuid"), 0);
	ck_assert_int_eq(kv_get(r.out, "seteuid0"), 0);
	ck_assert_int_eq(kv_get(r.out, "after_mmap_errno"), 0);
	if (!harness_has_sys_resource())
		ck_assert_int_eq(kv_get(r.out, "dropped_vm_lck"), 0);
	/* Locked again, the 16 MiB mapped while unlocked included (MCL_CURRENT on the way back). */
	ck_assert_int_ge(kv_get(r.out, "vm_lck"), 16 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

/* Without CAP_IPC_LOCK at all, a drop changes nothing: MCL_FUTURE was withheld from the start. */
START_TEST(test_privilege_drop_without_capability)
{
	struct victim_opts o = { .argv = VICTIM("dropuid", "65534"),
				 .preload = true,
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = LIMIT };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "after_mmap_errno"), 0);
	ck_assert_int_eq(kv_get(r.out, "after_thread"), 0);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	ASSERT_LACKS(r.err, "dropped CAP_IPC_LOCK");
	victim_result_free(&r);
}
END_TEST

static void check_free(const char *how, bool zeroed)
{
	struct victim_opts o = { .argv = VICTIM("free", "64", how), .preload = true };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "ctor_vm_lck"), 0);
	ck_assert_msg(kv_get(r.out, "madvise") == 0, "madvise(%s) failed: errno %lld", how,
		      kv_get(r.out, "madvise_errno"));
	if (zeroed) {
		ck_assert_int_eq(kv_get(r.out, "zeroed"), 1);
		ck_assert_int_lt(kv_get(r.out, "freed_resident"), 1 * HARNESS_MIB);
	}
	/* What is touched again is locked again. */
	ck_assert_int_ge(kv_get(r.out, "locked_resident"), 64 * HARNESS_MIB);
	victim_result_free(&r);
}

/* An allocator gives memory back from the locked heap: it succeeds, and the memory goes. */
START_TEST(test_dontneed_on_locked_memory)
{
	check_free("dontneed", true);
}
END_TEST

START_TEST(test_free_on_locked_memory)
{
	/* Done as MADV_DONTNEED_LOCKED where the kernel has it: the pages go at once. */
	check_free("free", false);
}
END_TEST

START_TEST(test_remove_on_locked_shared_memory)
{
	check_free("remove", true);
}
END_TEST

/*
 * The swap-server profile: freed memory stays locked and resident (faulting it back in under
 * memory pressure is the deadlock), so the free keeps the kernel's answer.
 */
/*
 * The swap-server profile's real-time class is the server's: a program it execs (a script, a
 * system() helper) runs in the class the server had before the profile, and is not a server.
 */
START_TEST(test_swap_server_helper_gets_no_real_time)
{
	struct victim_opts o = { .argv = VICTIM("sched"),
				 .preload = true,
				 .env = ENV("DUENDE_MLOCK_PROFILE=swap-server",
					    "DUENDE_MLOCK_RT_PRIORITY=7") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	if (kv_get(r.out, "sched_policy") != SCHED_FIFO) {
		/* Without CAP_SYS_NICE and RLIMIT_RTPRIO the profile could not give it. */
		ASSERT_HAS(r.err, "SCHED_FIFO 7 not done");
		fprintf(stderr, "no real-time class here: the helper case left out\n");
		victim_result_free(&r);
		return;
	}
	/* The priority is a setting over the profile's 50. */
	ASSERT_HAS(r.err, "SCHED_FIFO 7 done");
	victim_result_free(&r);

	o.argv = VICTIM("exec", harness_victim(), "sched");
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "sched_policy"), SCHED_OTHER);
	ck_assert_int_eq(kv_get(r.out, "oom_score_adj"), 0);
	ASSERT_HAS(r.out, "server_before=unset");
	/* Locked as any program the server runs, but not given the profile, nor told of its keys. */
	ck_assert_int_eq(count_of(r.err, "swap-server profile:"), 1);
	ASSERT_LACKS(r.err, "does nothing");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_swap_server_keeps_freed_memory)
{
	struct victim_opts o = { .argv = VICTIM("free", "16", "dontneed"),
				 .preload = true,
				 .env = ENV("DUENDE_MLOCK_PROFILE=swap-server") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "madvise"), -1);
	ck_assert_int_eq(kv_get(r.out, "madvise_errno"), EINVAL);
	ck_assert_int_eq(kv_get(r.out, "zeroed"), 0);
	ck_assert_int_ge(kv_get(r.out, "freed_resident"), 16 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

/* Memory the program locked itself keeps the kernel's answer (EINVAL), as without the library. */
START_TEST(test_dontneed_on_programs_own_lock_refused)
{
	struct victim_opts o = { .argv = VICTIM("ownfree"), .preload = true };
	struct victim_result r;

	for (int with = 0; with < 2; with++) {
		o.preload = with;
		RUN(&o, &r);
		ASSERT_HOST_RAN(&r);
		ck_assert_int_eq(kv_get(r.out, "mlock"), 0);
		ck_assert_int_eq(kv_get(r.out, "madvise"), -1);
		ck_assert_int_eq(kv_get(r.out, "madvise_errno"), EINVAL);
		victim_result_free(&r);
	}
}
END_TEST

/*
 * A program that mlocks 6 MiB of its own within the 8 MiB limit, without the capability: the
 * library's locks were there first (VmLck > 0 before its mlock), and give way.
 */
START_TEST(test_programs_own_mlock_within_limit)
{
	struct victim_opts o = { .argv = VICTIM("mlock", "6"),
				 .preload = true,
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = LIMIT };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "ctor_vm_lck"), 0);
	ck_assert_int_eq(kv_get(r.out, "mlock"), 0);
	ck_assert_int_ge(kv_get(r.out, "vm_lck"), 6 * HARNESS_MIB);
	ASSERT_HAS(r.err, "]: unlocked: the program locks memory of its own within RLIMIT_MEMLOCK");
	victim_result_free(&r);
}
END_TEST

/* The program's munlockall is its word: nothing locked, fork children included. */
START_TEST(test_programs_munlockall_supersedes)
{
	struct victim_opts o = { .argv = VICTIM("munlockall"), .preload = true };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "ctor_vm_lck"), 0);
	ck_assert_int_eq(kv_get(r.out, "munlockall"), 0);
	ck_assert_int_eq(kv_get(r.out, "child_vm_lck"), 0);
	ck_assert_int_eq(kv_get(r.out, "parent_vm_lck"), 0);
	victim_result_free(&r);
}
END_TEST

/*
 * MCL_FUTURE withheld, the parent grew past the limit, then forked: the child cannot lock all it
 * has, runs unlocked as without the library, and says so where the parent logs.
 */
START_TEST(test_fork_child_relock_failure_is_said)
{
	struct victim_opts o = { .argv = VICTIM("mapfork", "16"),
				 .preload = true,
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = LIMIT };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "child_vm_lck"), 0);
	ck_assert_int_gt(kv_get(r.out, "parent_vm_lck"), 0);
	ASSERT_HAS(r.err, "]: fork child not locked: mlockall failed: ENOMEM (the child is larger "
			  "than RLIMIT_MEMLOCK); see duende-mlock doctor");
	victim_result_free(&r);
}
END_TEST

/* Where the library did not lock, every wrapper answers as libc does, errno included. */
START_TEST(test_not_locked_wrappers_answer_as_libc)
{
	struct victim_opts o = { .argv = VICTIM("errnos") };
	struct victim_result plain, shim;

	RUN(&o, &plain);
	ASSERT_HOST_RAN(&plain);
	o.preload = true;
	o.env = ENV("DUENDE_MLOCK_PROGRAMS=not-this-program");
	RUN(&o, &shim);
	ASSERT_HOST_RAN(&shim);
	ck_assert_int_eq(kv_get(shim.out, "ctor_vm_lck"), 0);
	ck_assert_str_eq(after_preamble(shim.out), after_preamble(plain.out));
	ck_assert_str_eq(shim.err, "");
	victim_result_free(&plain);
	victim_result_free(&shim);
}
END_TEST

/*
 * The profile where its privileged steps are refused: CAP_SYS_RESOURCE and CAP_SYS_NICE taken out
 * of every set by setpriv, RLIMIT_RTPRIO 0. Each refusal is said with what it needs, the kernel
 * shows none of them taken, and the program runs as it would without the library. The variables
 * are set by env(1) after setpriv: set for setpriv, it would be the server, and the victim its
 * helper.
 */
START_TEST(test_swap_server_refusals_said)
{
	char preload[4200];
	struct victim_opts o = { 0 };
	struct victim_result r;

	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", harness_library());
	o.argv = (const char *const[]){ "/usr/bin/setpriv",
					"--bounding-set=-sys_resource,-sys_nice",
					"--inh-caps=-sys_resource,-sys_nice",
					"/usr/bin/prlimit",
					"--rtprio=0:0",
					"/usr/bin/env",
					preload,
					"DUENDE_MLOCK_PROFILE=swap-server",
					harness_victim(),
					"sched",
					NULL };
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(r.err,
		   "swap-server profile: io_flusher not done: Operation not permitted, needs "
		   "CAP_SYS_RESOURCE; oom_score_adj -1000 not done: Permission denied, needs "
		   "CAP_SYS_RESOURCE; SCHED_FIFO 50 not done: Operation not permitted, needs "
		   "CAP_SYS_NICE or RLIMIT_RTPRIO; heap reserve 16 MiB done");
	ck_assert_int_eq(kv_get(r.out, "sched_policy"), SCHED_OTHER);
	ck_assert_int_eq(kv_get(r.out, "oom_score_adj"), 0);
	victim_result_free(&r);
}
END_TEST

Suite *test_suite(void)
{
	const struct harness_case cases[] = {
		CASE(test_privilege_drop_keeps_host_working, CASE_REAL_MLOCKALL),
		CASE(test_seteuid_back_to_root_locks_again, CASE_REAL_MLOCKALL),
		CASE(test_privilege_drop_without_capability, CASE_REAL_MLOCKALL),
		CASE(test_dontneed_on_locked_memory, CASE_REAL_MLOCKALL),
		CASE(test_free_on_locked_memory, CASE_REAL_MLOCKALL),
		CASE(test_remove_on_locked_shared_memory, CASE_REAL_MLOCKALL),
		CASE(test_swap_server_keeps_freed_memory, CASE_REAL_MLOCKALL),
		CASE(test_swap_server_helper_gets_no_real_time, CASE_REAL_MLOCKALL),
		CASE(test_swap_server_refusals_said, CASE_REAL_MLOCKALL),
		CASE(test_dontneed_on_programs_own_lock_refused, CASE_REAL_MLOCKALL),
		CASE(test_programs_own_mlock_within_limit, CASE_REAL_MLOCKALL),
		CASE(test_programs_munlockall_supersedes, CASE_REAL_MLOCKALL),
		CASE(test_fork_child_relock_failure_is_said, CASE_REAL_MLOCKALL),
		CASE(test_not_locked_wrappers_answer_as_libc, 0),
	};

	return HARNESS_SUITE("guard", cases);
}
