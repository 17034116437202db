/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The libc wrappers of the preload object: what keeps a locked program working as it works
 * without the library, where locking alone would break it.
 *
 *   setuid, seteuid, setreuid, setresuid, capset
 *       A daemon that drops root loses CAP_IPC_LOCK. With MCL_FUTURE on under a finite
 *       RLIMIT_MEMLOCK, and locked_vm already above it, its next mmap, brk, thread stack and
 *       stack growth would fail (nginx workers, haproxy, memcached, chronyd). MCL_FUTURE is taken
 *       off for the call; after it, it is put back where it cannot fail (CAP_IPC_LOCK still
 *       effective, or no limit), and otherwise everything is unlocked, and said so once. The
 *       locks come back when the capability does (seteuid(0)).
 *   madvise
 *       The kernel refuses MADV_DONTNEED, MADV_FREE and MADV_REMOVE on locked memory (EINVAL,
 *       mm/madvise.c), so allocators that give memory back fail (redis/jemalloc keeps it, V8
 *       aborts). On memory the library locked the call is made to succeed as it would without
 *       it: MADV_DONTNEED_LOCKED (Linux 5.18) drops the pages and keeps the range locked for when
 *       they are touched again; older kernels get munlock, the advice, mlock2(MLOCK_ONFAULT).
 *   mlock, mlock2, munlock, mlockall, munlockall
 *       The program's own locks come first: a program that mlocks within the limit without the
 *       capability still can (the library gives its own locks up and retries), and the program's
 *       mlockall or munlockall supersedes the library's (and its fork handler) for good.
 *
 * Each wrapper runs in every process the object is loaded into, through /etc/ld.so.preload in
 * every process of the machine. Where the library holds no locks, each one is a test of one
 * variable and a jump to glibc's function: same result, same errno, async-signal-safe where
 * glibc's is. glibc's functions are reached through references that preload/bind-to-libc.py
 * marks so that the loader binds them to glibc and not to these wrappers: bound lazily through
 * the PLT like any libc call, no dlsym(), no raw system call (glibc's setuid changes every
 * thread's credentials, which a raw system call would not).
 */
#include "config.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core.h"
#include "libc-bind.h"

REAL(int, setuid, (uid_t), GLIBC_BASE);
REAL(int, seteuid, (uid_t), GLIBC_BASE);
REAL(int, setreuid, (uid_t, uid_t), GLIBC_BASE);
REAL(int, setresuid, (uid_t, uid_t, uid_t), GLIBC_BASE);
REAL(int, capset, (cap_user_header_t, const cap_user_data_t), GLIBC_BASE);
REAL(int, madvise, (void *, size_t, int), GLIBC_BASE);
REAL(int, mlock, (const void *, size_t), GLIBC_BASE);
REAL(int, mlock2, (const void *, size_t, unsigned int), "GLIBC_2.27");
REAL(int, munlock, (const void *, size_t), GLIBC_BASE);
REAL(int, mlockall, (int), GLIBC_BASE);
REAL(int, munlockall, (void), GLIBC_BASE);

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

#define EXPORT __attribute__((visibility("default")))

/* glibc exports capset without declaring it (libcap's header does). */
int capset(cap_user_header_t hdr, const cap_user_data_t data);

/*
 * The core's own calls, past the wrappers (lock.c has the weak ones the API library uses). Not
 * under ASan: its runtime, first in the search scope, turns mlockall() into a no-op on purpose
 * (scripts/test-sanitizers), and the core must keep calling that one.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(DM_ASAN)
#define DM_ASAN 1
#endif
#ifndef DM_ASAN
int dm_sys_mlockall(int flags)
{
	return dm_real_mlockall(flags);
}

int dm_sys_munlockall(void)
{
	return dm_real_munlockall();
}
#endif

static void say(int priority, const char *what)
{
	struct dm_raw line = { 0 };

	dm_raw_self(&line);
	dm_raw_str(&line, what);
	dm_log_raw(dm_guard.log, priority, &line);
}

/* ---- privilege changes ---------------------------------------------------------------------- */

/* What setid_before() did and saw, for setid_after(). */
enum {
	SETID_FUTURE_OFF = 1 << 0, /* MCL_FUTURE taken off, to be put back */
	SETID_WAS_SAFE = 1 << 1,   /* CAP_IPC_LOCK effective (or no limit) before the call */
};

/*
 * Before: MCL_FUTURE off, so that nothing the call or another thread maps meanwhile is locked
 * against a limit that may apply afterwards. mlockall(MCL_CURRENT | MCL_ONFAULT) keeps the pages
 * that are locked where they are and faults nothing in; it cannot fail here, where MCL_FUTURE
 * was kept only with the capability or without a limit.
 */
static int setid_before(void)
{
	int flags = dm_guard.flags, state = 0;

	if (!flags)
		return 0;
	if (dm_future_safe())
		state |= SETID_WAS_SAFE;
	if ((flags & MCL_FUTURE) && dm_real_mlockall(MCL_CURRENT | MCL_ONFAULT) == 0)
		state |= SETID_FUTURE_OFF;
	return state;
}

/*
 * After: where MCL_FUTURE can no longer fail a mapping, the locks are as before (the mappings made
 * meanwhile included). Where the call took that away (the capability dropped under a finite
 * limit), everything is unlocked: locked_vm above the limit would fail stack growth of the locked
 * stack, mremap of locked mappings and the program's own mlock too. The flags are kept, to lock
 * again if the capability comes back. A process that never had the capability locked only what
 * the limit allows, and keeps it.
 */
static void setid_after(int state)
{
	int saved = errno;

	if (dm_guard.program_owns)
		goto out;
	if (dm_guard.flags) {
		if (dm_future_safe()) {
			if (state & SETID_FUTURE_OFF)
				dm_relock(dm_guard.flags);
			goto out;
		}
		if (!(state & SETID_WAS_SAFE))
			goto out;
		dm_guard.dropped = dm_guard.flags;
		dm_guard.flags = 0;
		dm_real_munlockall();
		say(4 /* LOG_WARNING */,
		    "unlocked: the process dropped CAP_IPC_LOCK under a finite RLIMIT_MEMLOCK, where"
		    " locked memory would fail its next mappings; see duende-mlock doctor");
	} else if (dm_guard.dropped && dm_future_safe()) {
		if (dm_relock(dm_guard.dropped) == 0) {
			dm_guard.flags = dm_guard.dropped;
			dm_guard.dropped = 0;
		}
	}
out:
	errno = saved;
}

/*
 * Each wrapper is a test and a tail call to glibc where the library holds no locks; the rest is
 * out of line, so that the fast path saves no registers and builds no frame.
 */
#define SLOW __attribute__((noinline, cold))
#define NOT_OURS(cond) __builtin_expect(!(cond), 1)

static SLOW int setid_guarded(int (*call)(uintptr_t, uintptr_t, uintptr_t), uintptr_t a,
			      uintptr_t b, uintptr_t c)
{
	int state = setid_before(), r = call(a, b, c);

	setid_after(state);
	return r;
}

static int call_setuid(uintptr_t a, uintptr_t b, uintptr_t c)
{
	return dm_real_setuid((uid_t)a);
}

static int call_seteuid(uintptr_t a, uintptr_t b, uintptr_t c)
{
	return dm_real_seteuid((uid_t)a);
}

static int call_setreuid(uintptr_t a, uintptr_t b, uintptr_t c)
{
	return dm_real_setreuid((uid_t)a, (uid_t)b);
}

static int call_setresuid(uintptr_t a, uintptr_t b, uintptr_t c)
{
	return dm_real_setresuid((uid_t)a, (uid_t)b, (uid_t)c);
}

static int call_capset(uintptr_t a, uintptr_t b, uintptr_t c)
{
	return dm_real_capset((cap_user_header_t)a, (const cap_user_data_t)b);
}

EXPORT int setuid(uid_t uid)
{
	if (NOT_OURS(dm_guard.flags | dm_guard.dropped))
		return dm_real_setuid(uid);
	return setid_guarded(call_setuid, uid, 0, 0);
}

EXPORT int seteuid(uid_t euid)
{
	if (NOT_OURS(dm_guard.flags | dm_guard.dropped))
		return dm_real_seteuid(euid);
	return setid_guarded(call_seteuid, euid, 0, 0);
}

EXPORT int setreuid(uid_t ruid, uid_t euid)
{
	if (NOT_OURS(dm_guard.flags | dm_guard.dropped))
		return dm_real_setreuid(ruid, euid);
	return setid_guarded(call_setreuid, ruid, euid, 0);
}

EXPORT int setresuid(uid_t ruid, uid_t euid, uid_t suid)
{
	if (NOT_OURS(dm_guard.flags | dm_guard.dropped))
		return dm_real_setresuid(ruid, euid, suid);
	return setid_guarded(call_setresuid, ruid, euid, suid);
}

EXPORT int capset(cap_user_header_t hdr, const cap_user_data_t data)
{
	if (NOT_OURS(dm_guard.flags | dm_guard.dropped))
		return dm_real_capset(hdr, data);
	return setid_guarded(call_capset, (uintptr_t)hdr, (uintptr_t)data, 0);
}

/* ---- the program's own locks ---------------------------------------------------------------- */

/*
 * Ranges the program locked itself, so that madvise() leaves them the kernel's answer. Written
 * by mlock/munlock (rare) under a spin lock, read by madvise's slow path. Past the table's size
 * the program's locks are no longer known, and madvise stops second-guessing the kernel.
 */
#define OWN_MAX 32

static struct {
	atomic_flag busy;
	bool overflow;
	unsigned n;
	struct own_range {
		uintptr_t start, end;
		unsigned flags; /* mlock2 flags */
	} r[OWN_MAX];
} own = { .busy = ATOMIC_FLAG_INIT };

static void own_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&own.busy, memory_order_acquire))
		;
}

static void own_unlock(void)
{
	atomic_flag_clear_explicit(&own.busy, memory_order_release);
}

static uintptr_t page_down(const void *p)
{
	return (uintptr_t)p & ~(uintptr_t)(getpagesize() - 1);
}

static uintptr_t page_up(const void *p, size_t len)
{
	uintptr_t ps = (uintptr_t)getpagesize();

	return ((uintptr_t)p + len + ps - 1) & ~(ps - 1);
}

static void own_add(const void *addr, size_t len, unsigned flags)
{
	own_lock();
	if (own.n < OWN_MAX)
		own.r[own.n++] = (struct own_range){ page_down(addr), page_up(addr, len), flags };
	else
		own.overflow = true;
	own_unlock();
}

/* Forget the ranges that [addr, addr+len) unlocks whole; a part unlocked stays recorded. */
static void own_remove(const void *addr, size_t len)
{
	uintptr_t s = page_down(addr), e = page_up(addr, len);

	own_lock();
	for (unsigned i = 0; i < own.n;) {
		if (own.r[i].start >= s && own.r[i].end <= e)
			own.r[i] = own.r[--own.n];
		else
			i++;
	}
	own_unlock();
}

static bool own_overlaps(const void *addr, size_t len)
{
	uintptr_t s = page_down(addr), e = page_up(addr, len);
	bool hit;

	/* Most programs lock nothing of their own: no lock taken on their frees. */
	if (!own.n && !own.overflow)
		return false;
	/*
	 * madvise() is async-signal-safe, mlock() is not required to be: a free from a signal
	 * handler that interrupted this thread's own mlock() would spin for ever on the lock that
	 * mlock() holds. So the wait is bounded, and past it the range counts as the program's
	 * own: the kernel's answer, as if the library had locked nothing there.
	 */
	for (unsigned spins = 0; atomic_flag_test_and_set_explicit(&own.busy, memory_order_acquire);
	     spins++)
		if (spins == 1u << 16)
			return true;
	hit = own.overflow;
	for (unsigned i = 0; i < own.n && !hit; i++)
		hit = own.r[i].start < e && s < own.r[i].end;
	own_unlock();
	return hit;
}

/*
 * The program's mlock failed at the limit, where the library's locks count too: give those up,
 * keep the program's own (munlockall clears everything; they are locked again), and let the
 * program's call be tried once more.
 */
static bool give_way(void)
{
	bool ok = true;

	if (!dm_guard.flags || dm_guard.program_owns || own.overflow)
		return false;
	dm_guard.flags = 0;
	dm_guard.dropped = 0;
	dm_real_munlockall();
	own_lock();
	for (unsigned i = 0; i < own.n; i++)
		ok &= dm_real_mlock2((void *)own.r[i].start, own.r[i].end - own.r[i].start,
				     own.r[i].flags) == 0;
	own_unlock();
	say(4, ok ? "unlocked: the program locks memory of its own within RLIMIT_MEMLOCK, and"
		    " comes first; see duende-mlock doctor" :
		    "unlocked: the program locks memory of its own within RLIMIT_MEMLOCK, and"
		    " comes first; some of its locks could not be restored");
	return true;
}

static SLOW int program_lock(const void *addr, size_t len, unsigned flags, bool two)
{
	int r = two ? dm_real_mlock2(addr, len, flags) : dm_real_mlock(addr, len);

	if (r < 0 && (errno == ENOMEM || errno == EAGAIN) && give_way())
		r = two ? dm_real_mlock2(addr, len, flags) : dm_real_mlock(addr, len);
	if (r == 0)
		own_add(addr, len, flags);
	return r;
}

EXPORT int mlock(const void *addr, size_t len)
{
	if (NOT_OURS(dm_guard.flags))
		return dm_real_mlock(addr, len);
	return program_lock(addr, len, 0, false);
}

EXPORT int mlock2(const void *addr, size_t len, unsigned int flags)
{
	if (NOT_OURS(dm_guard.flags))
		return dm_real_mlock2(addr, len, flags);
	return program_lock(addr, len, flags, true);
}

static SLOW int program_unlock(const void *addr, size_t len)
{
	int r = dm_real_munlock(addr, len);

	if (r == 0)
		own_remove(addr, len);
	return r;
}

EXPORT int munlock(const void *addr, size_t len)
{
	if (NOT_OURS(own.n))
		return dm_real_munlock(addr, len);
	return program_unlock(addr, len);
}

/* The program's own mlockall or munlockall: its word stands from here on, fork children too. */
static SLOW int program_lock_all(int flags, bool lock)
{
	int r = lock ? dm_real_mlockall(flags) : dm_real_munlockall();

	if (r == 0) {
		dm_guard.flags = 0;
		dm_guard.dropped = 0;
		dm_guard.program_owns = true;
	}
	return r;
}

EXPORT int mlockall(int flags)
{
	if (NOT_OURS(dm_guard.flags | dm_guard.dropped))
		return dm_real_mlockall(flags);
	return program_lock_all(flags, true);
}

EXPORT int munlockall(void)
{
	if (NOT_OURS(dm_guard.flags | dm_guard.dropped))
		return dm_real_munlockall();
	return program_lock_all(0, false);
}

/* ---- madvise -------------------------------------------------------------------------------- */

/* MADV_DONTNEED_LOCKED: unknown, refused (before Linux 5.18), or taken. */
static atomic_int dontneed_locked; /* 0 unknown, 1 yes, -1 no */

static bool have_dontneed_locked(void)
{
	int v = atomic_load_explicit(&dontneed_locked, memory_order_relaxed);

	if (!v) {
		/* An empty range is refused only for an advice the kernel does not know. */
		v = dm_real_madvise(NULL, 0, MADV_DONTNEED_LOCKED) == 0 ? 1 : -1;
		atomic_store_explicit(&dontneed_locked, v, memory_order_relaxed);
	}
	return v > 0;
}

/*
 * The kernel said EINVAL to a free on memory the library may have locked. Retried where that is
 * what refused it; anything else keeps the kernel's answer.
 */
static int madvise_locked(void *addr, size_t len, int advice)
{
	int r;

	if (advice != MADV_DONTNEED && advice != MADV_FREE && advice != MADV_REMOVE)
		goto kernel;
	/* The swap-server profile: faulting freed memory back in under pressure is the deadlock. */
	if (dm_guard.keep_freed || dm_guard.program_owns || own_overlaps(addr, len))
		goto kernel;
	/* MADV_FREE may leave the old contents or zeros: dropping the pages is one of its answers. */
	if (advice != MADV_REMOVE && have_dontneed_locked()) {
		r = dm_real_madvise(addr, len, MADV_DONTNEED_LOCKED);
		if (r == 0 || errno != EINVAL)
			return r;
		goto kernel;
	}
	/* Before 5.18, or MADV_REMOVE: unlock the range, free it, lock it again on touch. */
	if (dm_real_munlock(addr, len) < 0)
		goto kernel;
	r = dm_real_madvise(addr, len, advice);
	if (r < 0) {
		int e = errno;

		dm_real_mlock2(addr, len, MLOCK_ONFAULT);
		errno = e;
		return r;
	}
	dm_real_mlock2(addr, len, MLOCK_ONFAULT);
	return 0;
kernel:
	errno = EINVAL;
	return -1;
}

static SLOW int madvise_ours(void *addr, size_t len, int advice)
{
	int r;

	/*
	 * In a locked process nearly every free is on locked memory: MADV_DONTNEED_LOCKED first
	 * saves the system call the kernel would refuse. It acts as MADV_DONTNEED on memory that is
	 * not locked; the program's own locks keep the kernel's answer.
	 */
	if (advice == MADV_DONTNEED && !dm_guard.keep_freed && !dm_guard.program_owns &&
	    have_dontneed_locked() && !own_overlaps(addr, len))
		return dm_real_madvise(addr, len, MADV_DONTNEED_LOCKED);
	r = dm_real_madvise(addr, len, advice);

	if (r == 0 || errno != EINVAL)
		return r;
	return madvise_locked(addr, len, advice);
}

EXPORT int madvise(void *addr, size_t len, int advice)
{
	if (NOT_OURS(dm_guard.flags))
		return dm_real_madvise(addr, len, advice);
	return madvise_ours(addr, len, advice);
}
