/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The status line and the words for each failure: what it means here and what fixes it. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"

/*
 * The one table of what each failure means and what fixes it: the status line, the tool and the
 * API's dmlock_strerror() all say these words. The meanings are mlockall(2)'s and mm/mlock.c's;
 * ECANCELED is ours (lock.c withholds a future-only request, and no syscall is made).
 */
#define MEANING_EPERM "RLIMIT_MEMLOCK is 0 and the process lacks CAP_IPC_LOCK"
#define REMEDY_EPERM                                                                               \
	"grant CAP_IPC_LOCK (setcap cap_ipc_lock=+ep PROGRAM; docker run --cap-add=IPC_LOCK;"      \
	" systemd AmbientCapabilities=CAP_IPC_LOCK) or raise RLIMIT_MEMLOCK"
#define MEANING_ENOMEM "the process is larger than RLIMIT_MEMLOCK allows and lacks CAP_IPC_LOCK"
#define REMEDY_LIMIT                                                                               \
	"raise RLIMIT_MEMLOCK (ulimit -l unlimited; docker run --ulimit memlock=-1:-1;"            \
	" systemd LimitMEMLOCK=infinity) or grant CAP_IPC_LOCK"
#define MEANING_EINVAL "flags not supported by this kernel, or no flags at all"
#define REMEDY_EINVAL "set current or future; drop onfault on kernels before 4.4"
#define MEANING_EAGAIN "some pages could not be locked"
#define REMEDY_EAGAIN "retry later; check for memory pressure"
#define MEANING_ENOSYS "mlockall is not available (seccomp filter or kernel)"
#define REMEDY_ENOSYS                                                                              \
	"allow the @memlock syscall group (systemd SystemCallFilter) or the seccomp profile"
#define MEANING_ECANCELED                                                                          \
	"only MCL_FUTURE was asked for, and it was withheld: RLIMIT_MEMLOCK is finite and the"     \
	" process lacks CAP_IPC_LOCK, so its later mappings would fail at the limit"

#define WORDS(e, title, meaning, remedy)                                                           \
	{                                                                                          \
		e, #e, meaning, remedy, title ": " meaning "; fix: " remedy                        \
	}

static const struct {
	int err;
	const char *name;
	const char *meaning;
	const char *remedy;
	const char *summary; /* dmlock_strerror()'s */
} words[] = {
	WORDS(EPERM, "permission denied", MEANING_EPERM, REMEDY_EPERM),
	WORDS(ENOMEM, "resource limit", MEANING_ENOMEM, REMEDY_LIMIT),
	WORDS(EINVAL, "invalid argument", MEANING_EINVAL, REMEDY_EINVAL),
	WORDS(EAGAIN, "would block", MEANING_EAGAIN, REMEDY_EAGAIN),
	WORDS(ENOSYS, "unsupported", MEANING_ENOSYS, REMEDY_ENOSYS),
	WORDS(ECANCELED, "future locking withheld", MEANING_ECANCELED, REMEDY_LIMIT),
};

static int word_index(int err)
{
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (words[i].err == err)
			return (int)i;
	return -1;
}

const char *dm_errno_name(int err)
{
	int i = word_index(err);

	return i < 0 ? "error" : words[i].name;
}

const char *dm_errno_meaning(int err)
{
	int i = word_index(err);

	return i < 0 ? NULL : words[i].meaning;
}

const char *dm_errno_remedy(int err)
{
	int i = word_index(err);

	return i < 0 ? NULL : words[i].remedy;
}

const char *dm_errno_summary(int err)
{
	int i;

	if (err == 0)
		return "success";
	i = word_index(err);
	return i < 0 ? "unknown error: see the errno in the status" : words[i].summary;
}

const char *dm_human_bytes(char *buf, size_t size, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	unsigned u = 0;

	if (bytes < 1024) {
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	v /= 1024.0;
	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

const char *dm_limit_text(char *buf, size_t size, rlim_t v, bool human)
{
	if (v == RLIM_INFINITY)
		return "unlimited";
	if (human)
		return dm_human_bytes(buf, size, (uint64_t)v);
	snprintf(buf, size, "%llu", (unsigned long long)v);
	return buf;
}

size_t dm_flags_format(char *buf, size_t size, int flags)
{
	static const struct {
		int flag;
		const char *name;
	} names[] = { { MCL_CURRENT, "MCL_CURRENT" },
		      { MCL_FUTURE, "MCL_FUTURE" },
		      { MCL_ONFAULT, "MCL_ONFAULT" } };
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & names[i].flag))
			continue;
		n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s", n ? "|" : "",
				      names[i].name);
	}
	if (n == 0)
		n = (size_t)snprintf(buf, size, "none");
	return n < size ? n : size - 1;
}

size_t dm_escape(char *buf, size_t size, const char *src, size_t max_in)
{
	size_t o = 0, i;

	if (size == 0)
		return 0;
	for (i = 0; src[i] && i < max_in; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t need = (c < 0x20 || c >= 0x7f || c == '\\') ? 4 : 1;

		if (o + need + 4 > size) /* keep room for "..." and NUL */
			break;
		if (need == 4)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (src[i] && o + 4 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return o;
}

struct out {
	char *buf;
	size_t size, n;
};

static void put(struct out *o, const char *fmt, ...) DM_PRINTF(2, 3);
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(o->buf + o->n, o->n < o->size ? o->size - o->n : 0, fmt, ap);
	va_end(ap);
	if (w > 0)
		o->n += (size_t)w;
	if (o->n >= o->size)
		o->n = o->size - 1;
}

size_t dm_status_format(char *buf, size_t size, const char *program, const char *exe, pid_t pid,
			const struct dm_lock_result *res)
{
	struct out o = { buf, size, 0 };
	char flags[64], soft[32], hard[32], name[96];
	bool shortfall = false;

	buf[0] = '\0';
	/* Names capped so that a line with nothing to report fits in 160 characters. */
	if (program) {
		dm_escape(name, sizeof(name), program, 32);
		put(&o, "%s[%d]", name, (int)pid);
		/* Called by a symlink's name: the executable it runs, once, beside it. */
		if (exe) {
			dm_escape(name, sizeof(name), exe, 40);
			put(&o, " (executable %s)", name);
		}
		put(&o, ": ");
	}
	soft[0] = hard[0] = '\0';
	dm_limit_text(soft, sizeof(soft), res->limit.rlim_cur, false);
	dm_limit_text(hard, sizeof(hard), res->limit.rlim_max, false);

	if (!res->err) {
		dm_flags_format(flags, sizeof(flags), res->flags_used);
		put(&o, "locked %llu bytes (VmLck), flags %s", (unsigned long long)res->mem.vm_lck,
		    flags);
	} else if (res->flags_requested == 0) {
		put(&o,
		    "not locked: the settings ask for nothing (current and future are both off)");
		return o.n;
	} else {
		const char *meaning = dm_errno_meaning(res->err);
		const char *remedy = dm_errno_remedy(res->err);
		int tried = res->flags_requested & ~(res->future_withheld ? MCL_FUTURE : 0);

		dm_flags_format(flags, sizeof(flags), tried);
		if (res->future_withheld && !(tried & (MCL_CURRENT | MCL_FUTURE)))
			put(&o,
			    "not locked: only future locking was asked for, and it was withheld");
		else
			put(&o, "not locked: mlockall(%s) failed: %s (%s)", flags,
			    dm_errno_name(res->err), meaning ? meaning : strerror(res->err));
		put(&o,
		    "; RLIMIT_MEMLOCK soft %s hard %s bytes, VmSize %llu bytes, CAP_IPC_LOCK %s",
		    soft, hard, (unsigned long long)res->mem.vm_size,
		    res->cap_ipc_lock ? "yes" : "no");
		if (remedy)
			put(&o, "; fix: %s", remedy);
	}
	/*
	 * When everything asked for was done the line stays within 160 characters; each shortfall
	 * adds one clause, and the line then points to doctor, which explains it and its remedy.
	 * MCL_FUTURE kept on CAP_IPC_LOCK alone is one for a program that locked itself through the
	 * API; the preload object clears future_needs_cap, as its setuid wrappers handle the drop
	 * of the capability (preload/guard.c).
	 */
	if (res->future_withheld && !res->err) {
		put(&o,
		    "; MCL_FUTURE withheld: RLIMIT_MEMLOCK is finite (soft %s hard %s bytes) and"
		    " CAP_IPC_LOCK is missing, later memory is not locked",
		    soft, hard);
		shortfall = true;
	}
	if (res->future_needs_cap && !res->err) {
		put(&o,
		    "; MCL_FUTURE relies on CAP_IPC_LOCK: RLIMIT_MEMLOCK is finite (soft %s bytes)",
		    soft);
		shortfall = true;
	}
	if (res->limit_lifted && !res->err)
		put(&o, "; RLIMIT_MEMLOCK lifted to unlimited");
	if (res->onfault_fallback) {
		put(&o, "; MCL_ONFAULT refused by this kernel (before 4.4), retried without it");
		shortfall = true;
	}
	if (res->soft_raised)
		put(&o, "; soft RLIMIT_MEMLOCK raised to the hard limit");
	if (shortfall)
		put(&o, "; see duende-mlock doctor");
	return o.n;
}
