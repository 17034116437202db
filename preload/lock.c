/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The decision and the call: which mlockall(2) flags are safe here, and locking with them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core.h"

/* The library's own locks; guard.flags is re-issued in fork() children, 0 when not locked. */
struct dm_guard dm_guard;
static volatile bool onfault_works = true;

/* The API library and the tool call libc's; the preload object defines these itself (guard.c). */
__attribute__((weak)) int dm_sys_mlockall(int flags)
{
	return mlockall(flags);
}

__attribute__((weak)) int dm_sys_munlockall(void)
{
	return munlockall();
}

/*
 * The kernel checks CAP_IPC_LOCK with capable(), against the initial user namespace. Inside a
 * user namespace (rootless containers) CapEff may show the bit while it means nothing for mlock.
 * The initial user namespace has a fixed inode number (PROC_USER_INIT_INO in
 * include/linux/proc_ns.h), which a namespace created later can never have, whatever its uid map.
 */
#define PROC_USER_INIT_INO 0xEFFFFFFDU

static bool in_initial_userns(void)
{
	struct stat st;

	if (stat("/proc/self/ns/user", &st) < 0)
		return errno == ENOENT; /* a kernel without user namespaces */
	return st.st_ino == PROC_USER_INIT_INO;
}

bool dm_has_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	if (!(data[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32))))
		return false;
	return in_initial_userns();
}

void dm_guard_note(enum dm_log_target log, const char *name, bool keep_freed)
{
	dm_guard.log = log;
	dm_guard.keep_freed = keep_freed;
	dm_escape(dm_guard.name, sizeof(dm_guard.name), name ? name : "", 48);
}

bool dm_future_safe(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };
	struct rlimit lim;

	if (getrlimit(RLIMIT_MEMLOCK, &lim) == 0 && lim.rlim_cur == RLIM_INFINITY)
		return true;
	/* capget as in dm_has_ipc_lock(), with the namespace test the lock made: no stat() here. */
	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return (data[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32))) &&
	       dm_guard.initial_userns;
}

/*
 * Lock again what flags locked. MCL_CURRENT without MCL_ONFAULT would fault in every page for
 * writing, and in a fork() child so break copy-on-write for the whole address space: a full copy
 * of the parent per fork. With MCL_ONFAULT the pages that are present (in a child, all of the
 * parent's locked anonymous memory, shared copy-on-write) are locked where they are, and the rest
 * lock when touched. MCL_FUTURE is then set on its own, which leaves the current mappings alone.
 * Async-signal-safe: it runs in fork() children and around setuid().
 */
int dm_relock(int flags)
{
	if ((flags & MCL_CURRENT) && !(flags & MCL_ONFAULT) && onfault_works) {
		if (dm_sys_mlockall(MCL_CURRENT | MCL_ONFAULT) < 0)
			return -errno;
		if ((flags & MCL_FUTURE) && dm_sys_mlockall(MCL_FUTURE) < 0)
			return -errno;
		return 0;
	}
	return dm_sys_mlockall(flags) < 0 ? -errno : 0;
}

/*
 * fork() does not carry locks to the child (mm/mlock.c: VM_LOCKED is cleared on dup) and
 * daemon() forks, so a daemon that locked itself before daemonizing would lose everything. The
 * child locks again, and does nothing else here: this runs in every fork of a locked process.
 * A child that cannot (it grew past RLIMIT_MEMLOCK since the parent locked, MCL_FUTURE having
 * been withheld) says so once where the parent logs, and runs unlocked as it would without us.
 */
static void relock_in_child(void)
{
	int flags = dm_guard.flags, saved = errno, r;
	struct dm_raw line = { 0 };

	if (!flags)
		return;
	r = dm_relock(flags);
	if (r < 0) {
		dm_guard.flags = 0;
		dm_raw_self(&line);
		dm_raw_str(&line, "fork child not locked: mlockall failed: ");
		dm_raw_str(&line, dm_errno_name(-r));
		if (r == -ENOMEM)
			dm_raw_str(&line, " (the child is larger than RLIMIT_MEMLOCK)");
		dm_raw_str(&line, "; see duende-mlock doctor");
		dm_log_raw(dm_guard.log, 4 /* LOG_WARNING */, &line);
	}
	errno = saved;
}

static void register_fork_handler(void)
{
	pthread_atfork(NULL, NULL, relock_in_child);
}

static void arm_fork_handler(int flags)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	dm_guard.flags = flags;
	dm_guard.dropped = 0;
	dm_guard.program_owns = false;
	pthread_once(&once, register_fork_handler);
}

int dm_lock(const struct dm_lock_request *req, struct dm_lock_result *res)
{
	int flags;

	*res = (struct dm_lock_result){ 0 };
	flags = (req->current ? MCL_CURRENT : 0) | (req->future ? MCL_FUTURE : 0);
	if (flags && req->onfault)
		flags |= MCL_ONFAULT;
	res->flags_requested = flags;
	/* Nothing asked for is not "locked, 0 bytes": it is a mistake in the settings. */
	if (!flags) {
		res->err = EINVAL;
		goto out;
	}

	res->cap_ipc_lock = dm_has_ipc_lock();
	dm_guard.initial_userns = in_initial_userns();
	getrlimit(RLIMIT_MEMLOCK, &res->limit);
	/*
	 * MCL_FUTURE under a finite limit is safe only while the process keeps CAP_IPC_LOCK; a daemon
	 * that drops privileges later would then fail its next mappings at the limit. Lifting the
	 * limit altogether removes the hazard, and succeeds where CAP_SYS_RESOURCE is held (most
	 * root daemons).
	 */
	if ((flags & MCL_FUTURE) && res->limit.rlim_cur != RLIM_INFINITY) {
		struct rlimit inf = { RLIM_INFINITY, RLIM_INFINITY };

		if (setrlimit(RLIMIT_MEMLOCK, &inf) == 0) {
			res->limit = inf;
			res->limit_lifted = true;
		}
	}
	/* Without CAP_IPC_LOCK the soft limit is what counts; raising it to the hard limit is
	 * allowed to anyone and costs nothing. */
	if (!res->cap_ipc_lock && res->limit.rlim_cur < res->limit.rlim_max) {
		struct rlimit raised = { res->limit.rlim_max, res->limit.rlim_max };

		if (setrlimit(RLIMIT_MEMLOCK, &raised) == 0) {
			res->limit = raised;
			res->soft_raised = true;
		}
	}

	/*
	 * MCL_FUTURE under a finite limit without CAP_IPC_LOCK turns every later mapping into a
	 * gamble: once locked_vm reaches the limit, mmap() fails with EAGAIN, brk() fails,
	 * pthread_create() fails for its 8 MiB stack and stack growth ends in SIGSEGV, at a place the
	 * program does not expect. Locking what exists now is safe; the later failures are not, so
	 * MCL_FUTURE is withheld and the status line says so. With CAP_IPC_LOCK it is kept (the
	 * limit does not apply), and the status line warns that dropping the capability would
	 * bring the limit back.
	 */
	if ((flags & MCL_FUTURE) && res->limit.rlim_cur != RLIM_INFINITY) {
		if (res->cap_ipc_lock) {
			res->future_needs_cap = true;
		} else {
			flags &= ~MCL_FUTURE;
			res->future_withheld = true;
			/* Nothing left to ask the kernel for: no syscall is made, and the
			 * errno says the library itself declined (ECANCELED), not the kernel. */
			if (!(flags & MCL_CURRENT)) {
				res->err = ECANCELED;
				goto out;
			}
		}
	}

	if (dm_sys_mlockall(flags) < 0) {
		res->err = errno;
		/* Kernels before 4.4 know no MCL_ONFAULT and answer EINVAL. */
		if (res->err == EINVAL && (flags & MCL_ONFAULT)) {
			flags &= ~MCL_ONFAULT;
			res->onfault_fallback = true;
			onfault_works = false;
			res->err = dm_sys_mlockall(flags) < 0 ? errno : 0;
		}
	} else {
		res->err = 0;
	}
	if (!res->err) {
		res->flags_used = flags;
		arm_fork_handler(flags);
	}
out:
	dm_proc_mem_read(0, &res->mem);
	return -res->err;
}

int dm_unlock(void)
{
	if (dm_sys_munlockall() < 0)
		return -errno;
	dm_guard.flags = 0;
	dm_guard.dropped = 0;
	return 0;
}
