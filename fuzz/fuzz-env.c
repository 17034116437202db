/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The environment values and what the library prints from them: every DUENDE_MLOCK_* variable
 * set to the input, parsed with dm_settings_from_env() and the single parsers, the allow-list
 * matched against the input as a program path, and the escaper and status line formatted into
 * buffers of input-chosen sizes (allocated to exactly that size, so AddressSanitizer sees a
 * one-byte overflow) from an input-chosen lock result.
 *
 * Input: 8 bytes of parameters, then the string (cut at its first NUL, as an environment value
 * would be).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t take(const uint8_t **p, size_t *left, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && *left; i++, (*p)++, (*left)--)
		v = v << 8 | **p;
	return v;
}

static void check_escape(const char *str, size_t size, size_t max_in)
{
	char *buf = malloc(size);
	size_t n;

	if (!buf)
		return;
	n = dm_escape(buf, size, str, max_in);
	if (size && (n >= size || strlen(buf) != n)) {
		fprintf(stderr, "fuzz-env: dm_escape returned %zu for size %zu\n", n, size);
		abort();
	}
	/* Nothing that could steer a terminal or split a log line may come out. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c < 0x20 || c >= 0x7f) {
			fprintf(stderr, "fuzz-env: dm_escape let byte 0x%02x through\n", c);
			abort();
		}
	}
	free(buf);
}

static void check_status(const char *program, const uint8_t **p, size_t *left)
{
	static const int errs[] = { 0, EPERM, ENOMEM, EINVAL, EAGAIN, ENOSYS, EIO, 4095, -1 };
	struct dm_lock_result res;
	uint64_t bits = take(p, left, 2);
	size_t size = 1 + (size_t)take(p, left, 2) % 2048;
	char *buf;
	size_t n;

	memset(&res, 0, sizeof(res));
	res.flags_requested = (int)(bits & 7) | (bits & 8 ? 0x100 : 0);
	res.flags_used = (int)(bits >> 4 & 7);
	res.err = errs[(bits >> 7 & 0xf) % (sizeof(errs) / sizeof(errs[0]))];
	res.onfault_fallback = bits >> 11 & 1;
	res.future_withheld = bits >> 12 & 1;
	res.soft_raised = bits >> 13 & 1;
	res.cap_ipc_lock = bits >> 14 & 1;
	res.limit.rlim_cur = bits >> 15 & 1 ? RLIM_INFINITY : (rlim_t)take(p, left, 8);
	res.limit.rlim_max = (rlim_t)take(p, left, 8);
	res.mem.vm_lck = take(p, left, 8);
	res.mem.vm_size = take(p, left, 8);

	buf = malloc(size);
	if (!buf)
		return;
	n = dm_status_format(buf, size, (bits & 0x8000) ? NULL : program,
			     (bits & 0x4000) ? program : NULL, (pid_t)bits, &res);
	if (n >= size || strlen(buf) != n) {
		fprintf(stderr, "fuzz-env: dm_status_format returned %zu for size %zu\n", n, size);
		abort();
	}
	free(buf);
}

/*
 * setenv() never frees a value it replaces (glibc keeps them, for callers that still hold the
 * pointer), so a million iterations would grow without bound. putenv() of our own buffers, once,
 * and rewriting them in place sets the same values without allocating.
 */
static void set_env_all(const char *value)
{
	static char bufs[DM_KEY_COUNT][8192];
	static bool put;

	for (int k = 0; k < DM_KEY_COUNT; k++) {
		snprintf(bufs[k], sizeof(bufs[k]), "%s=%s", dm_keys[k].env, value);
		if (!put && putenv(bufs[k]) != 0)
			abort();
	}
	put = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t left = size;
	size_t esc_size = (size_t)take(&p, &left, 1);
	size_t max_in = (size_t)take(&p, &left, 1);
	struct dm_settings s;
	struct dm_self self;
	struct dm_diag d = { .n = 0 };
	char *str, *nul;
	bool b;

	str = malloc(left + 1);
	if (!str)
		return 0;
	memcpy(str, p, left);
	str[left] = '\0';
	nul = memchr(str, '\0', left + 1);
	/* What follows the string's NUL parameterises the status line. */
	left -= (size_t)(nul - str) < left ? (size_t)(nul - str) + 1 : left;
	p = (const uint8_t *)(data + (size - left));

	(void)dm_parse_bool(str, &b);
	(void)dm_key_parse(DM_KEY_LOG, str, &s);
	(void)dm_key_parse(DM_KEY_PROFILE, str, &s);

	dm_settings_default(&s);
	if (dm_programs_parse_list(&s, str, &d) == 0) {
		unsigned n = 0;

		for (const char *e = dm_programs_next(&s, NULL); e; e = dm_programs_next(&s, e))
			n++;
		if (n != s.n_programs) {
			fprintf(stderr, "fuzz-env: %u entries listed, %u counted\n", s.n_programs,
				n);
			abort();
		}
	}
	self.execfn = str;
	self.exe_tried = true;
	snprintf(self.exe, sizeof(self.exe), "/usr/sbin/%s", str);
	(void)dm_programs_match(&s, &self);

	set_env_all(str);
	dm_settings_default(&s);
	dm_settings_from_env(&s, &d);

	check_escape(str, esc_size, max_in);
	check_status(str, &p, &left);
	free(str);
	return 0;
}
