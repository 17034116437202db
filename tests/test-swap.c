/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The point of the project, tested for real: with swap on, MADV_PAGEOUT moves an unlocked
 * victim's pages to swap and cannot move a locked victim's (mm/madvise.c refuses VM_LOCKED
 * ranges with EINVAL).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>

#include "test-common.h"

const unsigned test_needs = HARNESS_NEEDS_ROOT | HARNESS_NEEDS_SWAP;

START_TEST(test_unlocked_pages_go_to_swap)
{
	struct victim_opts o = { .argv = VICTIM("pageout", "64") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "madvise"), 0);
	/* mincore() still counts pages in the swap cache as resident: VmSwap is the proof. */
	ck_assert_int_ge(kv_get(r.out, "vm_swap"), 48 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_locked_pages_stay_out_of_swap)
{
	struct victim_opts o = { .argv = VICTIM("pageout", "64"), .preload = true };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "madvise"), -1);
	ck_assert_int_eq(kv_get(r.out, "madvise_errno"), EINVAL);
	ck_assert_int_eq(kv_get(r.out, "vm_swap"), 0);
	ck_assert_int_eq(kv_get(r.out, "map_resident"), 64 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_onfault_touched_pages_stay_out_of_swap)
{
	struct victim_opts o = { .argv = VICTIM("pageout", "64"),
				 .preload = true,
				 .env = ENV("DUENDE_MLOCK_ONFAULT=1") };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_swap"), 0);
	ck_assert_int_eq(kv_get(r.out, "map_resident"), 64 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_forked_child_stays_out_of_swap)
{
	/* fork() drops the locks; the library's fork handler takes them again, so the child cannot
	 * page out what it inherited. The control run shows the same child without the library. */
	struct victim_opts o = { .argv = VICTIM("forkpageout", "32"), .preload = true };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "child_madvise_errno"), EINVAL);
	ck_assert_int_eq(kv_get(r.out, "child_vm_swap"), 0);
	ck_assert_int_eq(kv_get(r.out, "child_map_resident"), 32 * HARNESS_MIB);
	victim_result_free(&r);

	/* Without the library the child's pages are not locked: madvise accepts them (they stay
	 * resident only because they are shared with the parent, which MADV_PAGEOUT skips). */
	o.preload = false;
	RUN(&o, &r);
	ck_assert_int_eq(kv_get(r.out, "child_madvise"), 0);
	ck_assert_int_eq(kv_get(r.out, "child_vm_lck"), 0);
	victim_result_free(&r);
}
END_TEST

Suite *test_suite(void)
{
	const struct harness_case cases[] = {
		CASE(test_unlocked_pages_go_to_swap, CASE_SWAP),
		CASE(test_locked_pages_stay_out_of_swap, CASE_REAL_MLOCKALL | CASE_SWAP),
		CASE(test_onfault_touched_pages_stay_out_of_swap, CASE_REAL_MLOCKALL | CASE_SWAP),
		CASE(test_forked_child_stays_out_of_swap, CASE_REAL_MLOCKALL | CASE_SWAP),
	};

	return HARNESS_SUITE("swap", cases);
}
