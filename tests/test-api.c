/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The public C API, seen from a program that links it: every scenario runs in api-victim, a
 * child with its own limits and capabilities, which prints what each dmlock_* call returned next
 * to VmLck read from /proc by its own code. This process never locks anything.
 *
 * The first group ports the Rust crate's own tests (lib.rs, config.rs, status.rs, error.rs,
 * unix.rs of duende-mlock 1.0), which mostly check that nothing panics, with assertions on the
 * values; the second covers what the crate never tested: denial, limits, unlock, fork.
 */
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test-common.h"

const unsigned test_needs = HARNESS_NEEDS_ROOT;

#define MCL_CURRENT_ 1
#define MCL_FUTURE_ 2
#define MCL_ONFAULT_ 4

static const char *api_victim(void)
{
	const char *p = getenv("DM_TEST_API_VICTIM");

	ck_assert_msg(p && p[0], "DM_TEST_API_VICTIM is not set (run through meson test)");
	return p;
}

#define API(...) ((const char *const[]){ api_victim(), __VA_ARGS__, NULL })

/* A number the victim printed; the whole output in the message when it is not what we want. */
#define ASSERT_KV(res, key, op, want)                                                              \
	do {                                                                                       \
		long long got_ = kv_get((res)->out, (key));                                        \
		long long want_ = (long long)(want);                                               \
		ck_assert_msg(got_ op want_, "%s=%lld, want %s %lld; stdout:\n%s\nstderr:\n%s",    \
			      (key), got_, #op, want_, (res)->out, (res)->err);                    \
	} while (0)

/* A string the victim printed, in one of a few rotating buffers. */
static const char *kv(const struct victim_result *r, const char *key)
{
	static char buf[4][2048];
	static unsigned next;
	char *b = buf[next++ % 4];

	ck_assert_msg(kv_str(r->out, key, b, sizeof(buf[0])), "no '%s=' in:\n%s", key, r->out);
	return b;
}

static void run(struct victim_opts *o, struct victim_result *r)
{
	RUN(o, r);
	ASSERT_HOST_RAN(r);
	/* The API never writes to stderr: only the caller knows where its words belong. */
	ck_assert_msg(r->err[0] == '\0', "the API wrote to stderr:\n%s", r->err);
}

/* ---- The crate's tests, ported ---- */

/* lib.rs test_default_config, config.rs test_default_values, test_as_flags_default. */
START_TEST(test_config_default)
{
	struct victim_opts o = { .argv = API("default-config") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "cfg_current", ==, 1);
	ASSERT_KV(&r, "cfg_future", ==, 1);
	ASSERT_KV(&r, "cfg_onfault", ==, 0);
	ASSERT_KV(&r, "cfg_required", ==, 1);
	ASSERT_KV(&r, "macro_same", ==, 1);
	victim_result_free(&r);

	/* dmlock_lock_all() is the default config: it asks for MCL_CURRENT | MCL_FUTURE. */
	o.argv = API("lock", "all");
	run(&o, &r);
	ASSERT_KV(&r, "flags_requested", ==, MCL_CURRENT_ | MCL_FUTURE_);
	victim_result_free(&r);
}
END_TEST

/* lib.rs test_config_builder, config.rs test_builder_all_true, test_as_flags_current_only. */
START_TEST(test_config_fields_honoured)
{
	static const struct {
		const char *spec;
		int flags;
	} cases[] = {
		{ "c", MCL_CURRENT_ },
		{ "cr", MCL_CURRENT_ },
		{ "cf", MCL_CURRENT_ | MCL_FUTURE_ },
		{ "co", MCL_CURRENT_ | MCL_ONFAULT_ },
		{ "fo", MCL_FUTURE_ | MCL_ONFAULT_ },
		{ "cfor", MCL_CURRENT_ | MCL_FUTURE_ | MCL_ONFAULT_ },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct victim_opts o = { .argv = API("lock", cases[i].spec) };
		struct victim_result r;

		run(&o, &r);
		ASSERT_KV(&r, "rc", ==, 0);
		ASSERT_KV(&r, "flags_requested", ==, cases[i].flags);
		ASSERT_KV(&r, "flags_used", ==, cases[i].flags);
		victim_result_free(&r);
	}
}
END_TEST

/* lib.rs test_is_locked_returns_bool, test_locked_bytes_returns_usize, unix.rs
 * test_locked_bytes_parses_correctly, test_locked_bytes_is_zero_or_positive: the values, against
 * VmLck as the kernel reports it, before and after. */
START_TEST(test_is_locked_and_locked_bytes_match_vmlck)
{
	struct victim_opts o = { .argv = API("lock", "all") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "before_is_locked", ==, 0);
	ASSERT_KV(&r, "before_locked_bytes", ==, 0);
	ASSERT_KV(&r, "before_vm_lck", ==, 0);
	ASSERT_KV(&r, "after_is_locked", ==, 1);
	ASSERT_KV(&r, "after_locked_bytes", >, 1 * HARNESS_MIB);
	ASSERT_KV(&r, "after_locked_bytes", ==, kv_get(r.out, "after_vm_lck"));
	victim_result_free(&r);
}
END_TEST

/* lib.rs test_unlock_all_does_not_panic, unix.rs test_unlock_all_does_not_error. */
START_TEST(test_unlock_with_nothing_locked)
{
	struct victim_opts o = { .argv = API("unlock") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "before_vm_lck", ==, 0);
	ASSERT_KV(&r, "unlock_rc", ==, 0);
	ASSERT_KV(&r, "after_vm_lck", ==, 0);
	ASSERT_KV(&r, "after_is_locked", ==, 0);
	victim_result_free(&r);
}
END_TEST

/* lib.rs test_lock_all_non_fatal, unix.rs test_lock_non_required_mode: with the right to lock it
 * locks; without it, still 0, and the status says why. */
START_TEST(test_non_required_is_never_an_error)
{
	struct victim_opts o = { .argv = API("lock", "cf") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "state", ==, kv_get(r.out, "const_locked"));
	ASSERT_KV(&r, "after_vm_lck", >, 1 * HARNESS_MIB);
	victim_result_free(&r);

	o.drop_ipc_lock = true;
	o.set_memlock = true;
	o.memlock = 0;
	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "state", ==, kv_get(r.out, "const_failed"));
	ASSERT_KV(&r, "error", ==, EPERM);
	ASSERT_KV(&r, "after_vm_lck", ==, 0);
	victim_result_free(&r);
}
END_TEST

/*
 * lib.rs test_lock_with_config_empty_flags and unix.rs test_lock_with_empty_flags assert that a
 * config asking for nothing is "locked, 0 bytes". That is the crate's wart: nothing was asked, so
 * nothing can be claimed. Here it is an invalid argument whatever required says.
 */
START_TEST(test_nothing_asked_is_invalid_argument)
{
	static const char *const specs[] = { "-", "-r", "o", "or" };

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct victim_opts o = { .argv = API("lock", specs[i]) };
		struct victim_result r;

		run(&o, &r);
		ASSERT_KV(&r, "rc", ==, kv_get(r.out, "const_invalid_argument"));
		ASSERT_KV(&r, "rc", ==, -EINVAL);
		ASSERT_KV(&r, "state", ==, kv_get(r.out, "const_failed"));
		ASSERT_KV(&r, "error", ==, EINVAL);
		ASSERT_KV(&r, "flags_requested", ==, 0);
		ASSERT_KV(&r, "flags_used", ==, 0);
		ASSERT_KV(&r, "status_is_locked", ==, 0);
		ASSERT_KV(&r, "status_is_failed", ==, 1);
		ASSERT_KV(&r, "status_bytes", ==, 0);
		ASSERT_KV(&r, "after_vm_lck", ==, 0);
		ASSERT_HAS(kv(&r, "line"), "not locked: the settings ask for nothing");
		ASSERT_LACKS(kv(&r, "line"), "locked 0 bytes");
		ASSERT_HAS(kv(&r, "strerror_rc"), "invalid argument");
		victim_result_free(&r);
	}
}
END_TEST

/* unix.rs test_lock_current_only: current pages locked, a later mapping not. */
START_TEST(test_current_only)
{
	struct victim_opts o = { .argv = API("lock", "cr", "map", "16") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "flags_used", ==, MCL_CURRENT_);
	ASSERT_KV(&r, "after_vm_lck", >, 1 * HARNESS_MIB);
	ASSERT_KV(&r, "map_resident", ==, 16 * HARNESS_MIB);
	ASSERT_KV(&r, "mapped_vm_lck", <, kv_get(r.out, "after_vm_lck") + 1 * HARNESS_MIB);
	ASSERT_HAS(kv(&r, "line"), ", flags MCL_CURRENT");
	victim_result_free(&r);
}
END_TEST

/* unix.rs test_lock_future_only: nothing present is locked, a later mapping is. */
START_TEST(test_future_only)
{
	struct victim_opts o = { .argv = API("lock", "fr", "map", "16") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "state", ==, kv_get(r.out, "const_locked"));
	ASSERT_KV(&r, "flags_used", ==, MCL_FUTURE_);
	ASSERT_KV(&r, "after_vm_lck", <, 1 * HARNESS_MIB);
	ASSERT_KV(&r, "mapped_vm_lck", >=, 16 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

/* unix.rs test_mlock_with_onfault: MCL_ONFAULT is used, and it is what it says: a later mapping
 * is locked but not faulted in, where without it the same mapping is populated in full. */
START_TEST(test_onfault)
{
	struct victim_opts o = { .argv = API("lock", "cfor", "reserve", "64") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "flags_requested", ==, MCL_CURRENT_ | MCL_FUTURE_ | MCL_ONFAULT_);
	ASSERT_KV(&r, "flags_used", ==, MCL_CURRENT_ | MCL_FUTURE_ | MCL_ONFAULT_);
	ASSERT_KV(&r, "onfault_fallback", ==, 0); /* every kernel since 4.4 knows it */
	ASSERT_HAS(kv(&r, "line"), "flags MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT");
	ASSERT_KV(&r, "reserved_vm_lck", >=, 64 * HARNESS_MIB);
	ASSERT_KV(&r, "reserve_resident", ==, 0);
	victim_result_free(&r);

	o.argv = API("lock", "cfr", "reserve", "64");
	run(&o, &r);
	ASSERT_KV(&r, "flags_used", ==, MCL_CURRENT_ | MCL_FUTURE_);
	ASSERT_KV(&r, "reserve_resident", ==, 64 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

/* lib.rs test_mlock_status_methods; status.rs test_locked_status, test_failed_status,
 * test_unsupported_status: statuses made by hand, as the crate's tests make them. */
START_TEST(test_status_helpers)
{
	struct victim_opts o = { .argv = API("helpers") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "locked_is_locked", ==, 1);
	ASSERT_KV(&r, "locked_is_failed", ==, 0);
	ASSERT_KV(&r, "locked_is_unsupported", ==, 0);
	ASSERT_KV(&r, "locked_bytes", ==, 1024);
	ASSERT_KV(&r, "locked_errno", ==, 0);

	ASSERT_KV(&r, "failed_is_locked", ==, 0);
	ASSERT_KV(&r, "failed_is_failed", ==, 1);
	ASSERT_KV(&r, "failed_is_unsupported", ==, 0);
	ASSERT_KV(&r, "failed_bytes", ==, 0);
	ASSERT_KV(&r, "failed_errno", ==, 1);

	ASSERT_KV(&r, "unsupported_is_locked", ==, 0);
	ASSERT_KV(&r, "unsupported_is_failed", ==, 0);
	ASSERT_KV(&r, "unsupported_is_unsupported", ==, 1);
	ASSERT_KV(&r, "unsupported_bytes", ==, 0);
	ASSERT_KV(&r, "unsupported_errno", ==, 0);
	victim_result_free(&r);
}
END_TEST

/* The C-only case: a NULL status is nothing, not a crash. */
START_TEST(test_status_helpers_on_null)
{
	struct victim_opts o = { .argv = API("helpers") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "null_is_locked", ==, 0);
	ASSERT_KV(&r, "null_is_failed", ==, 0);
	ASSERT_KV(&r, "null_is_unsupported", ==, 0);
	ASSERT_KV(&r, "null_bytes", ==, 0);
	ASSERT_KV(&r, "null_errno", ==, 0);
	ASSERT_KV(&r, "null_format_rc", ==, -EINVAL);
	ck_assert_str_eq(kv(&r, "null_format"), "(untouched)");
	victim_result_free(&r);

	/* And a NULL status or config for locking. */
	o.argv = API("lock", "alln");
	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "after_is_locked", ==, 1);
	victim_result_free(&r);

	o.argv = API("lock", "nullconfig");
	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, -EINVAL);
	ASSERT_KV(&r, "state", ==, kv_get(r.out, "const_failed"));
	ASSERT_KV(&r, "error", ==, EINVAL);
	ASSERT_KV(&r, "after_vm_lck", ==, 0);
	victim_result_free(&r);
}
END_TEST

/*
 * lib.rs test_mlock_status_display, status.rs test_display_*: the crate's Display says "locked",
 * "failed", "unsupported"; the line here is the shim's status line, with the numbers and the
 * remedy, for statuses the library made and statuses made by hand.
 */
START_TEST(test_status_format_words)
{
	struct victim_opts o = { .argv = API("format") };
	struct victim_result r;
	const char *line;

	run(&o, &r);
	line = kv(&r, "full_locked");
	ck_assert_str_eq(line, "locked 1048576 bytes (VmLck), flags MCL_CURRENT|MCL_FUTURE");
	ASSERT_KV(&r, "full_locked_rc", ==, strlen(line));

	line = kv(&r, "full_eperm");
	ASSERT_HAS(line, "not locked: mlockall(MCL_CURRENT) failed: EPERM (RLIMIT_MEMLOCK is 0 and "
			 "the process lacks CAP_IPC_LOCK)");
	ASSERT_HAS(line,
		   "RLIMIT_MEMLOCK soft 0 hard 0 bytes, VmSize 4194304 bytes, CAP_IPC_LOCK no");
	ASSERT_HAS(line, "; fix: grant CAP_IPC_LOCK");
	ASSERT_KV(&r, "full_eperm_rc", ==, strlen(line));

	ASSERT_HAS(kv(&r, "hand_locked"), "locked 1024 bytes");

	/* The shim's words for the limit lift and for MCL_FUTURE kept on the capability alone. */
	ASSERT_HAS(kv(&r, "lifted"), "; RLIMIT_MEMLOCK lifted to unlimited");
	ASSERT_HAS(kv(&r, "needs_cap"), "; MCL_FUTURE relies on CAP_IPC_LOCK");
	ASSERT_LACKS(kv(&r, "full_locked"), "lifted");

	/* status.rs test_display_failed: Failed { errno: 12 }. */
	line = kv(&r, "hand_failed12");
	ASSERT_HAS(line, "failed");
	ASSERT_HAS(line, "ENOMEM");
	ASSERT_HAS(line, "RLIMIT_MEMLOCK");
	ASSERT_LACKS(line, "ask for nothing");

	/* error.rs test_display_unknown: the errno is named, here by its text. */
	line = kv(&r, "hand_failed42");
	ASSERT_HAS(line, "failed");
	ASSERT_HAS(line, strerror(42));

	/* status.rs test_display_unsupported. */
	line = kv(&r, "hand_unsupported");
	ASSERT_HAS(line, "ENOSYS");
	ASSERT_HAS(line, "not available");
	ASSERT_LACKS(line, "locked ");

	/* A status no call made (all zero) is refused rather than shown as "locked 0 bytes". */
	ASSERT_KV(&r, "zero_rc", ==, -EINVAL);
	ck_assert_str_eq(kv(&r, "zero"), "(untouched)");
	victim_result_free(&r);
}
END_TEST

/*
 * A program linked against libduende_mlock.a (-static where the toolchain can) locks and
 * reports: the archive is how a static program, which nothing can preload, gets locked.
 */
START_TEST(test_static_consumer)
{
	const char *exe = getenv("DM_TEST_API_VICTIM_STATIC"), *fully;
	struct victim_opts o = { 0 };
	struct victim_result r;

	ck_assert_msg(exe && exe[0],
		      "DM_TEST_API_VICTIM_STATIC is not set (run through meson test)");
	fully = getenv("DM_TEST_API_VICTIM_STATIC_FULLY");
	o.argv = (const char *const[]){ exe, "lock", "all", NULL };
	run(&o, &r);
	if (fully && strcmp(fully, "1") == 0)
		ASSERT_KV(&r, "static_exe", ==, 1);
	else
		fprintf(stderr, "no -static here (sanitizers?): the archive linked into a dynamic "
				"program instead\n");
	ASSERT_KV(&r, "rc", ==, 0);
	ck_assert_str_eq(kv(&r, "state_name"), "LOCKED");
	ck_assert_int_ge(kv_get(r.out, "after_vm_lck"), kv_get(r.out, "bytes_locked"));
	ck_assert_int_gt(kv_get(r.out, "bytes_locked"), 0);
	ASSERT_HAS(kv(&r, "line"), "locked ");
	victim_result_free(&r);
}
END_TEST

/* struct dmlock_status grows at its end: a program built with a smaller one keeps working. */
START_TEST(test_status_older_smaller_struct)
{
	struct victim_opts o = { .argv = API("old-struct") };
	struct victim_result r;

	run(&o, &r);
	ck_assert_int_lt(kv_get(r.out, "old_size"), kv_get(r.out, "new_size"));
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "size_kept", ==, 1);
	ASSERT_KV(&r, "canary_intact", ==, 1);
	ck_assert_str_eq(kv(&r, "state_name"), "LOCKED");
	ASSERT_KV(&r, "is_locked", ==, 1);
	ASSERT_HAS(kv(&r, "line"), "locked ");
	ck_assert_int_gt(kv_get(r.out, "after_vm_lck"), 0);
	victim_result_free(&r);

	o.argv = API("tiny-struct");
	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, -EINVAL);
	ASSERT_KV(&r, "untouched", ==, 1);
	ASSERT_KV(&r, "is_locked", ==, 0);
	ASSERT_KV(&r, "line_rc", ==, -EINVAL);
	ASSERT_KV(&r, "after_vm_lck", ==, 0);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_status_format_truncates_like_snprintf)
{
	struct victim_opts o = { .argv = API("format") };
	struct victim_result r;
	const char *full;

	run(&o, &r);
	full = kv(&r, "full_locked");
	ASSERT_KV(&r, "len_null", ==, strlen(full));
	ASSERT_KV(&r, "len_small", ==, strlen(full));
	ASSERT_KV(&r, "small_terminated", ==, 1);
	ck_assert_int_eq(strncmp(kv(&r, "small"), full, 15), 0);
	ck_assert_uint_eq(strlen(kv(&r, "small")), 15);
	victim_result_free(&r);
}
END_TEST

/* error.rs test_display_*: each message names its cause and its remedy. */
START_TEST(test_strerror_words)
{
	struct victim_opts o = { .argv = API("strerror") };
	struct victim_result r;
	const char *s;

	run(&o, &r);
	s = kv(&r, "strerror_perm");
	ASSERT_HAS(s, "permission denied");
	ASSERT_HAS(s, "CAP_IPC_LOCK");
	ASSERT_HAS(s, "--cap-add=IPC_LOCK");
	ASSERT_HAS(s, "setcap cap_ipc_lock=+ep");
	/* The kernel's EPERM is about the limit too, not only the capability. */
	ASSERT_HAS(s, "RLIMIT_MEMLOCK is 0");
	ck_assert_str_eq(kv(&r, "strerror_eperm"), s);

	s = kv(&r, "strerror_limit");
	ASSERT_HAS(s, "resource limit");
	ASSERT_HAS(s, "RLIMIT_MEMLOCK");
	ASSERT_HAS(s, "--ulimit memlock=-1:-1");
	ASSERT_HAS(s, "ulimit -l unlimited");
	ASSERT_HAS(s, "LimitMEMLOCK=infinity");
	ck_assert_str_eq(kv(&r, "strerror_enomem"), s);

	ASSERT_HAS(kv(&r, "strerror_inval"), "invalid argument");
	ASSERT_HAS(kv(&r, "strerror_again"), "would block");
	ASSERT_HAS(kv(&r, "strerror_unsupported"), "unsupported");
	ASSERT_HAS(kv(&r, "strerror_unknown"), "unknown error");
	ASSERT_HAS(kv(&r, "strerror_e42"), "unknown error");
	ASSERT_HAS(kv(&r, "strerror_intmin"), "unknown error");
	ck_assert_str_eq(kv(&r, "strerror_zero"), "success");
	victim_result_free(&r);
}
END_TEST

/* error.rs test_from_errno_*, test_errno_all_variants: each code is the negative errno. */
START_TEST(test_error_codes_are_negative_errno)
{
	struct victim_opts o = { .argv = API("default-config") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "const_permission_denied", ==, -EPERM);
	ASSERT_KV(&r, "const_resource_limit", ==, -ENOMEM);
	ASSERT_KV(&r, "const_invalid_argument", ==, -EINVAL);
	ASSERT_KV(&r, "const_would_block", ==, -EAGAIN);
	ASSERT_KV(&r, "const_unsupported", ==, -ENOSYS);
	ASSERT_KV(&r, "const_unknown", <, 0);
	ASSERT_KV(&r, "const_future_withheld", ==, -ECANCELED);
	victim_result_free(&r);
}
END_TEST

/* ---- Beyond the crate ---- */

START_TEST(test_success)
{
	struct victim_opts o = { .argv = API("lock", "all") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "state", ==, kv_get(r.out, "const_locked"));
	ASSERT_KV(&r, "error", ==, 0);
	ASSERT_KV(&r, "bytes_locked", >, 1 * HARNESS_MIB);
	ASSERT_KV(&r, "bytes_locked", <=, kv_get(r.out, "vm_size"));
	ASSERT_KV(&r, "status_is_locked", ==, 1);
	ASSERT_KV(&r, "status_bytes", ==, kv_get(r.out, "bytes_locked"));
	ASSERT_KV(&r, "status_errno", ==, 0);
	ASSERT_KV(&r, "flags_used", ==, MCL_CURRENT_ | MCL_FUTURE_);
	ASSERT_KV(&r, "cap_ipc_lock", ==, 1);
	ASSERT_KV(&r, "future_withheld", ==, 0);
	ASSERT_KV(&r, "soft_limit_raised", ==, 0);
	ASSERT_KV(&r, "after_is_locked", ==, 1);
	ASSERT_KV(&r, "after_locked_bytes", >, 1 * HARNESS_MIB);
	ASSERT_HAS(kv(&r, "line"), "flags MCL_CURRENT|MCL_FUTURE");
	ck_assert_int_eq(strncmp(kv(&r, "line"), "locked ", 7), 0);
	ck_assert_str_eq(kv(&r, "strerror_rc"), "success");
	victim_result_free(&r);
}
END_TEST

/* Linking the API does not lock the program: nothing before the call, at the program's own
 * constructor or at main(). */
START_TEST(test_linking_does_not_lock)
{
	struct victim_opts o = { .argv = API("lock", "all") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "ctor_vm_lck", ==, 0);
	ASSERT_KV(&r, "before_vm_lck", ==, 0);
	ASSERT_KV(&r, "before_is_locked", ==, 0);
	ASSERT_KV(&r, "before_locked_bytes", ==, 0);
	ASSERT_KV(&r, "after_is_locked", ==, 1);
	ASSERT_KV(&r, "after_vm_lck", >, 1 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

/*
 * Linking is not preloading: the environment that would lock a preloaded program, with required
 * set, does nothing to a program that only links the API. No status line, no exit 71, not locked.
 */
START_TEST(test_linked_consumer_ignores_environment)
{
	struct victim_opts o = { .argv = API("unlock"),
				 .env = ENV("DUENDE_MLOCK_PROGRAMS=api-victim",
					    "DUENDE_MLOCK_REQUIRED=1") };
	struct victim_result r;

	run(&o, &r);
	ck_assert_int_eq(r.exit_code, 0);
	ASSERT_KV(&r, "ctor_vm_lck", ==, 0);
	ASSERT_KV(&r, "before_vm_lck", ==, 0);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_unlock)
{
	struct victim_opts o = { .argv = API("lock", "all", "unlock") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "after_vm_lck", >, 1 * HARNESS_MIB);
	ASSERT_KV(&r, "unlock_rc", ==, 0);
	ASSERT_KV(&r, "unlocked_vm_lck", ==, 0);
	ASSERT_KV(&r, "unlocked_is_locked", ==, 0);
	ASSERT_KV(&r, "unlocked_locked_bytes", ==, 0);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_permission_denied_required)
{
	struct victim_opts o = { .argv = API("lock", "all"),
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 0 };
	struct victim_result r;
	const char *line;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, kv_get(r.out, "const_permission_denied"));
	ASSERT_KV(&r, "state", ==, kv_get(r.out, "const_failed"));
	ASSERT_KV(&r, "error", ==, EPERM);
	ASSERT_KV(&r, "status_is_failed", ==, 1);
	ASSERT_KV(&r, "status_errno", ==, EPERM);
	ASSERT_KV(&r, "status_bytes", ==, 0);
	ASSERT_KV(&r, "flags_used", ==, 0);
	ASSERT_KV(&r, "cap_ipc_lock", ==, 0);
	ASSERT_KV(&r, "memlock_soft", ==, 0);
	ASSERT_KV(&r, "memlock_hard", ==, 0);
	ASSERT_KV(&r, "after_is_locked", ==, 0);
	ASSERT_KV(&r, "after_vm_lck", ==, 0);
	ASSERT_HAS(kv(&r, "strerror_rc"), "CAP_IPC_LOCK");
	ASSERT_HAS(kv(&r, "strerror_rc"), "--cap-add=IPC_LOCK");
	ck_assert_str_eq(kv(&r, "strerror_error"), kv(&r, "strerror_rc"));
	line = kv(&r, "line");
	ASSERT_HAS(line, "not locked: mlockall(MCL_CURRENT) failed: EPERM");
	ASSERT_HAS(line, "RLIMIT_MEMLOCK soft 0 hard 0 bytes");
	ASSERT_HAS(line, "CAP_IPC_LOCK no");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_permission_denied_not_required)
{
	struct victim_opts o = { .argv = API("lock", "cf"),
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 0 };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "state", ==, kv_get(r.out, "const_failed"));
	ASSERT_KV(&r, "error", ==, EPERM);
	ASSERT_KV(&r, "status_is_failed", ==, 1);
	ASSERT_KV(&r, "after_is_locked", ==, 0);
	ASSERT_HAS(kv(&r, "strerror_error"), "CAP_IPC_LOCK");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_resource_limit_required)
{
	struct victim_opts o = { .argv = API("lock", "all"),
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 1 * HARNESS_MIB };
	struct victim_result r;
	const char *s;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, kv_get(r.out, "const_resource_limit"));
	ASSERT_KV(&r, "state", ==, kv_get(r.out, "const_failed"));
	ASSERT_KV(&r, "error", ==, ENOMEM);
	ASSERT_KV(&r, "memlock_soft", ==, 1 * HARNESS_MIB);
	ASSERT_KV(&r, "vm_size", >, 1 * HARNESS_MIB); /* why it failed, in the status */
	ASSERT_KV(&r, "after_vm_lck", ==, 0);
	s = kv(&r, "strerror_rc");
	ASSERT_HAS(s, "RLIMIT_MEMLOCK");
	ASSERT_HAS(s, "--ulimit memlock=-1:-1");
	ASSERT_HAS(kv(&r, "line"), "failed: ENOMEM");
	ASSERT_HAS(kv(&r, "line"), "RLIMIT_MEMLOCK soft 1048576 hard 1048576 bytes");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_resource_limit_not_required)
{
	struct victim_opts o = { .argv = API("lock", "cf"),
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 1 * HARNESS_MIB };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "state", ==, kv_get(r.out, "const_failed"));
	ASSERT_KV(&r, "error", ==, ENOMEM);
	ASSERT_KV(&r, "status_errno", ==, ENOMEM);
	victim_result_free(&r);
}
END_TEST

/* Finite limit, no CAP_IPC_LOCK: MCL_FUTURE would make later allocations fail at the limit, so it
 * is left out, the status says so, and a mapping far over the limit still succeeds. */
START_TEST(test_future_withheld_under_finite_limit)
{
	struct victim_opts o = { .argv = API("lock", "all", "map", "32"),
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 8 * HARNESS_MIB };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "state", ==, kv_get(r.out, "const_locked"));
	ASSERT_KV(&r, "future_withheld", ==, 1);
	ASSERT_KV(&r, "flags_requested", ==, MCL_CURRENT_ | MCL_FUTURE_);
	ASSERT_KV(&r, "flags_used", ==, MCL_CURRENT_);
	ASSERT_KV(&r, "cap_ipc_lock", ==, 0);
	ASSERT_KV(&r, "after_vm_lck", >, 0);
	ASSERT_KV(&r, "map_errno", ==, -1);
	ASSERT_KV(&r, "map_resident", ==, 32 * HARNESS_MIB);
	ASSERT_KV(&r, "mapped_vm_lck", <, 8 * HARNESS_MIB);
	ASSERT_HAS(kv(&r, "line"), "flags MCL_CURRENT; MCL_FUTURE withheld");
	victim_result_free(&r);

	/* With the capability MCL_FUTURE is kept and the same mapping is locked. */
	o.drop_ipc_lock = false;
	run(&o, &r);
	ASSERT_KV(&r, "future_withheld", ==, 0);
	ASSERT_KV(&r, "flags_used", ==, MCL_CURRENT_ | MCL_FUTURE_);
	ASSERT_KV(&r, "mapped_vm_lck", >=, 32 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

/*
 * Only MCL_FUTURE asked for, and withheld: no syscall was made, so no kernel errno stands for it;
 * its own code, and words that say what happened.
 */
START_TEST(test_future_only_withheld)
{
	struct victim_opts o = { .argv = API("lock", "fr"),
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 8 * HARNESS_MIB };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, kv_get(r.out, "const_future_withheld"));
	ASSERT_KV(&r, "rc", ==, -ECANCELED);
	ASSERT_KV(&r, "error", ==, ECANCELED);
	ASSERT_KV(&r, "future_withheld", ==, 1);
	ASSERT_HAS(kv(&r, "line"), "only future locking was asked for, and it was withheld");
	ASSERT_LACKS(kv(&r, "line"), "larger than RLIMIT_MEMLOCK");
	ASSERT_HAS(kv(&r, "strerror_rc"), "future locking withheld");
	ASSERT_HAS(kv(&r, "strerror_rc"), "LimitMEMLOCK=infinity");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_soft_limit_raised_to_hard)
{
	struct victim_opts o = { .argv = API("lock", "all"),
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 0,
				 .set_memlock_hard = true,
				 .memlock_hard = 8 * HARNESS_MIB };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "soft_limit_raised", ==, 1);
	ASSERT_KV(&r, "memlock_soft", ==, 8 * HARNESS_MIB);
	ASSERT_KV(&r, "memlock_hard", ==, 8 * HARNESS_MIB);
	ASSERT_KV(&r, "after_vm_lck", >, 0);
	ASSERT_HAS(kv(&r, "line"), "; soft RLIMIT_MEMLOCK raised to the hard limit");
	victim_result_free(&r);
}
END_TEST

/* A seccomp filter without @memlock: mlockall(2) fails with ENOSYS, the crate's "unsupported". */
START_TEST(test_unsupported_under_seccomp)
{
	struct victim_opts o = { .argv = API("lock", "alls") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "seccomp_rc", ==, 0);
	ASSERT_KV(&r, "rc", ==, kv_get(r.out, "const_unsupported"));
	ASSERT_KV(&r, "state", ==, kv_get(r.out, "const_unsupported_state"));
	ASSERT_KV(&r, "error", ==, ENOSYS);
	ASSERT_KV(&r, "status_is_unsupported", ==, 1);
	ASSERT_KV(&r, "status_is_failed", ==, 0);
	ASSERT_KV(&r, "status_is_locked", ==, 0);
	ASSERT_KV(&r, "status_errno", ==, ENOSYS);
	ASSERT_KV(&r, "after_vm_lck", ==, 0);
	ASSERT_HAS(kv(&r, "strerror_rc"), "unsupported");
	ASSERT_HAS(kv(&r, "line"), "failed: ENOSYS");
	ASSERT_HAS(kv(&r, "line"), "SystemCallFilter");
	victim_result_free(&r);

	o.argv = API("lock", "cfs");
	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "status_is_unsupported", ==, 1);
	victim_result_free(&r);
}
END_TEST

/* The crate's locks end at fork(); here the child of a locked process locks itself again. */
START_TEST(test_fork_child_locked)
{
	struct victim_opts o = { .argv = API("lock", "all", "fork") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "rc", ==, 0);
	ASSERT_KV(&r, "child_vm_lck", >, 1 * HARNESS_MIB);
	ASSERT_KV(&r, "child_is_locked", ==, 1);
	ASSERT_KV(&r, "child_locked_bytes", ==, kv_get(r.out, "child_vm_lck"));
	victim_result_free(&r);

	/* After dmlock_unlock_all() a child stays unlocked: the relock is disarmed. */
	o.argv = API("lock", "all", "unlock", "fork");
	run(&o, &r);
	ASSERT_KV(&r, "unlock_rc", ==, 0);
	ASSERT_KV(&r, "child_vm_lck", ==, 0);
	ASSERT_KV(&r, "child_is_locked", ==, 0);
	victim_result_free(&r);
}
END_TEST

/* The other use of the API: a program checks from inside that the preload did its job. */
START_TEST(test_preload_seen_through_api)
{
	struct victim_opts o = { .argv = API("unlock"), .preload = true };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_KV(&r, "ctor_vm_lck", >, 1 * HARNESS_MIB);
	ASSERT_KV(&r, "before_is_locked", ==, 1);
	ASSERT_KV(&r, "before_locked_bytes", ==, kv_get(r.out, "before_vm_lck"));
	ASSERT_KV(&r, "unlock_rc", ==, 0);
	ASSERT_KV(&r, "after_vm_lck", ==, 0);
	/* One library, one core: the preloaded copy and the linked one are the same, and it locked
	 * once. */
	ck_assert_int_eq(count_of(r.err, "duende-mlock: api-victim["), 1);
	victim_result_free(&r);
}
END_TEST

/*
 * The swap-server steps through the API: each one taken, each one's result written, and the
 * kernel's view beside it (task flags, oom_score_adj, the scheduling class, a new thread's stack).
 */
START_TEST(test_swap_server_steps)
{
	struct victim_opts o = { .argv = API("swap-server") };
	struct victim_result r;
	bool res = harness_has_sys_resource();

	run(&o, &r);
	ASSERT_KV(&r, "lock_rc", ==, 0);
	ASSERT_KV(&r, "sched", ==, 0);
	ASSERT_KV(&r, "policy_seen", ==, 1); /* SCHED_FIFO */
	ASSERT_KV(&r, "heap", ==, 0);
	ASSERT_KV(&r, "stack", ==, 0);
	ASSERT_KV(&r, "thread_stack", ==, 0);
	ASSERT_KV(&r, "thread_stack_bytes", ==, 256 * 1024);
	ASSERT_KV(&r, "export_io", ==, 1);
	if (res) {
		ASSERT_KV(&r, "io_flusher", ==, 0);
		ASSERT_KV(&r, "oom", ==, 0);
		ASSERT_KV(&r, "oom_score_adj_seen", ==, -1000);
		/* PF_MEMALLOC_NOIO and PF_LOCAL_THROTTLE */
		ck_assert_int_eq(kv_get(r.out, "task_flags") & 0x180000, 0x180000);
		ASSERT_KV(&r, "rc", ==, 0);
	} else {
		/* The container condition: the step is refused and the line says what it needs. */
		ASSERT_KV(&r, "io_flusher", ==, -EPERM);
		ASSERT_KV(&r, "oom", <, 0);
		ASSERT_KV(&r, "oom_score_adj_seen", ==, 0);
		ck_assert_int_eq(kv_get(r.out, "task_flags") & 0x180000, 0);
		ASSERT_KV(&r, "rc", ==, -EPERM);
		ASSERT_HAS(kv(&r, "line"),
			   "io_flusher not done: Operation not permitted, needs CAP_SYS_RESOURCE");
	}
	ASSERT_HAS(kv(&r, "line"), "SCHED_FIFO 50 done; heap reserve 16 MiB done; stack 256 KiB "
				   "done; thread stacks 256 KiB done");
	ASSERT_KV(&r, "format_rc", ==, strlen(kv(&r, "line")));
	ASSERT_KV(&r, "bad_priority_rc", ==, -EINVAL);
	ASSERT_KV(&r, "bad_size_rc", ==, -EINVAL);
	ASSERT_KV(&r, "null_rc", ==, -EINVAL);
	victim_result_free(&r);
}
END_TEST

/* The export step through the API: armed where the I/O object is preloaded, -ENOSYS where not. */
START_TEST(test_swap_server_export_step)
{
	char path[4200], io[4300];
	struct victim_opts o = { 0 };
	struct victim_result r;
	FILE *f;

	snprintf(path, sizeof(path), "%s/api-export.img", harness_tmpdir());
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	snprintf(io, sizeof(io), "LD_PRELOAD=%s", harness_io_library());
	o.argv = API("swap-server", path);
	o.env = ENV(io);
	run(&o, &r);
	ASSERT_KV(&r, "export_io", ==, 0);
	ASSERT_HAS(kv(&r, "line"), "O_DIRECT done");
	victim_result_free(&r);

	o.env = NULL;
	run(&o, &r);
	ASSERT_KV(&r, "export_io", ==, -ENOSYS);
	ASSERT_HAS(kv(&r, "line"), "O_DIRECT not done: libduende_mlock_io.so is not preloaded");
	victim_result_free(&r);
}
END_TEST

/* The same with CAP_SYS_NICE and CAP_SYS_RESOURCE dropped by the program: each refusal said. */
START_TEST(test_swap_server_steps_refused)
{
	struct victim_opts o = { .argv = API("swap-server", "-", "drop") };
	struct victim_result r;

	run(&o, &r);
	ASSERT_KV(&r, "drop_rc", ==, 0);
	ASSERT_KV(&r, "io_flusher", ==, -EPERM);
	ASSERT_KV(&r, "sched", ==, -EPERM);
	ASSERT_KV(&r, "policy_seen", ==, 0); /* SCHED_OTHER */
	ASSERT_KV(&r, "oom_score_adj_seen", ==, 0);
	ASSERT_KV(&r, "heap", ==, 0);
	ASSERT_KV(&r, "thread_stack_bytes", ==, 256 * 1024);
	ASSERT_HAS(kv(&r, "line"),
		   "io_flusher not done: Operation not permitted, needs "
		   "CAP_SYS_RESOURCE; oom_score_adj -1000 not done: Permission denied, "
		   "needs CAP_SYS_RESOURCE; SCHED_FIFO 50 not done: Operation not "
		   "permitted, needs CAP_SYS_NICE or RLIMIT_RTPRIO");
	victim_result_free(&r);
}
END_TEST

Suite *test_suite(void)
{
	const struct harness_case cases[] = {
		CASE(test_config_default, 0),
		CASE(test_config_fields_honoured, CASE_REAL_MLOCKALL),
		CASE(test_is_locked_and_locked_bytes_match_vmlck, CASE_REAL_MLOCKALL),
		CASE(test_unlock_with_nothing_locked, CASE_REAL_MLOCKALL),
		CASE(test_non_required_is_never_an_error, CASE_REAL_MLOCKALL),
		CASE(test_nothing_asked_is_invalid_argument, 0),
		CASE(test_current_only, CASE_REAL_MLOCKALL),
		CASE(test_future_only, CASE_REAL_MLOCKALL),
		CASE(test_onfault, CASE_REAL_MLOCKALL),
		CASE(test_status_helpers, 0),
		CASE(test_status_helpers_on_null, CASE_REAL_MLOCKALL),
		CASE(test_status_format_words, 0),
		CASE(test_status_format_truncates_like_snprintf, 0),
		CASE(test_status_older_smaller_struct, CASE_REAL_MLOCKALL),
		CASE(test_static_consumer, CASE_REAL_MLOCKALL),
		CASE(test_strerror_words, 0),
		CASE(test_error_codes_are_negative_errno, 0),
		CASE(test_success, CASE_REAL_MLOCKALL),
		CASE(test_linking_does_not_lock, CASE_REAL_MLOCKALL),
		CASE(test_linked_consumer_ignores_environment, CASE_REAL_MLOCKALL),
		CASE(test_unlock, CASE_REAL_MLOCKALL),
		CASE(test_permission_denied_required, CASE_REAL_MLOCKALL),
		CASE(test_permission_denied_not_required, CASE_REAL_MLOCKALL),
		CASE(test_resource_limit_required, CASE_REAL_MLOCKALL),
		CASE(test_resource_limit_not_required, CASE_REAL_MLOCKALL),
		CASE(test_future_withheld_under_finite_limit, CASE_REAL_MLOCKALL),
		CASE(test_future_only_withheld, CASE_REAL_MLOCKALL),
		CASE(test_soft_limit_raised_to_hard, CASE_REAL_MLOCKALL),
		CASE(test_unsupported_under_seccomp, CASE_REAL_MLOCKALL),
		CASE(test_fork_child_locked, CASE_REAL_MLOCKALL),
		CASE(test_swap_server_steps, CASE_REAL_MLOCKALL),
		CASE(test_swap_server_steps_refused, CASE_REAL_MLOCKALL),
		CASE(test_swap_server_export_step, CASE_REAL_MLOCKALL),
		CASE(test_preload_seen_through_api, CASE_REAL_MLOCKALL),
	};

	return HARNESS_SUITE("api", cases);
}
