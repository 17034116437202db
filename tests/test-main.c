/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * One runner for every test-*.c: each defines test_suite() and, when it needs root or swap,
 * test_needs. A missing need skips the binary (exit 77) with the reason, except in CI, where the
 * machine is root and can swap, so a skip there would hide a failure.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

extern const unsigned test_needs __attribute__((weak));

/*
 * Leave out the cases that need a private mount namespace (CASE_MOUNT_NS), and say so in
 * the line scripts/test counts: "SKIP: N cases (names): reason".
 */
static int skip_cases(const char *const *names, const char *why)
{
	const char *old = getenv("CK_EXCLUDE_TAGS");
	char tags[1024];
	size_t n = 0;

	if (harness_in_ci()) {
		fprintf(stderr, "FAIL: %s, and in CI nothing may be skipped\n", why);
		return -1;
	}
	snprintf(tags, sizeof(tags), "%s%s%s", old ? old : "", old && old[0] ? " " : "",
		 "mount-ns");
	setenv("CK_EXCLUDE_TAGS", tags, 1);
	while (names[n])
		n++;
	fprintf(stderr, "SKIP: %zu case%s (", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%s", i ? " " : "", names[i]);
	fprintf(stderr, "): %s\n", why);
	return 0;
}

static int skip(const char *why)
{
	if (harness_in_ci()) {
		fprintf(stderr, "FAIL: %s, and in CI nothing may be skipped\n", why);
		return EXIT_FAILURE;
	}
	fprintf(stderr, "SKIP: %s\n", why);
	return 77;
}

int main(void)
{
	unsigned needs = &test_needs ? test_needs : 0;
	SRunner *sr;
	Suite *suite;
	int failed;

	if (!harness_library() || !harness_victim()) {
		fprintf(stderr,
			"DM_TEST_LIBRARY and DM_TEST_VICTIM must be set (run through meson test)\n");
		return EXIT_FAILURE;
	}
	if ((needs & HARNESS_NEEDS_ROOT) && !harness_is_root())
		return skip(
			"needs root with CAP_IPC_LOCK and CAP_SYS_ADMIN (to drop the capability "
			"for real and to mount)");
	if (needs & HARNESS_NEEDS_SWAP) {
		char path[4096], why[512];

		if (!harness_is_root())
			return skip("needs root to switch on a swap file");
		if (!swap_on(path, sizeof(path), why, sizeof(why))) {
			char msg[700];

			snprintf(msg, sizeof(msg), "cannot switch on swap: %s", why);
			return skip(msg);
		}
		swap_off(path);
	}

	suite = test_suite();
	if ((needs & HARNESS_NEEDS_MOUNT_NS) || harness_mount_ns_cases()) {
		char why[512];

		if (harness_is_root() && !harness_private_mounts(why, sizeof(why))) {
			if (needs & HARNESS_NEEDS_MOUNT_NS)
				return skip(why);
			if (skip_cases(harness_mount_ns_cases(), why) < 0)
				return EXIT_FAILURE;
		}
	}
	harness_prepare();

	sr = srunner_create(suite);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
