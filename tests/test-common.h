/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Shorthands shared by the black-box tests. */
#pragma once

#include <check.h>
#include <errno.h>
#include <string.h>

#include "harness.h"

#define VICTIM(...) ((const char *const[]){ harness_victim(), __VA_ARGS__, NULL })
#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Run and require that the victim could be started at all; if not, say what failed. */
#define RUN(opts, res)                                                                             \
	do {                                                                                       \
		int rc_ = victim_run((opts), (res));                                               \
		ck_assert_msg(rc_ == 0, "could not start the victim: %s",                          \
			      rc_ == -ECANCELED ? harness_setup_error() : strerror(-rc_));         \
	} while (0)

#define ASSERT_HAS(text, needle)                                                                   \
	ck_assert_msg(strstr((text), (needle)) != NULL, "expected '%s' in:\n%s", (needle), (text))
#define ASSERT_LACKS(text, needle)                                                                 \
	ck_assert_msg(strstr((text), (needle)) == NULL, "did not expect '%s' in:\n%s", (needle),   \
		      (text))

/* The host ran its main() and exited normally with status 0. */
#define ASSERT_HOST_RAN(res)                                                                       \
	do {                                                                                       \
		ck_assert_msg((res)->signal == 0, "victim killed by signal %d; stderr:\n%s",       \
			      (res)->signal, (res)->err);                                          \
		ck_assert_msg((res)->exit_code == 0, "victim exit %d; stderr:\n%s",                \
			      (res)->exit_code, (res)->err);                                       \
		ck_assert_int_eq(kv_get((res)->out, "main_ran"), 1);                               \
	} while (0)

static inline int count_of(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* The status line's flags are exactly these: "flags X" ends the line or a ';' follows. */
#define ASSERT_FLAGS(text, flags)                                                                  \
	do {                                                                                       \
		const char *f_ = strstr((text), "flags " flags);                                   \
		ck_assert_msg(f_, "expected 'flags %s' in:\n%s", flags, (text));                   \
		f_ += strlen("flags " flags);                                                      \
		ck_assert_msg(*f_ == '\n' || *f_ == ';', "flags are not exactly '%s' in:\n%s",     \
			      flags, (text));                                                      \
	} while (0)
