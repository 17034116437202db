/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * duende_mlock.h - keep a process's memory out of swap with mlockall(2).
 *
 * The C face of the duende-mlock core: the same code that the LD_PRELOAD shim runs, so a program
 * that locks itself and the shim can never disagree. Linking this library (libduende_mlock.so.1 or
 * libduende_mlock.a) does not lock anything by itself, whatever DUENDE_MLOCK_* say: the shim is a
 * separate object, libduende_mlock_preload.so. Call dmlock_lock_all() or dmlock_lock_with_config().
 *
 * Linux only: it needs mlockall(2) with MCL_ONFAULT semantics, /proc and glibc's loader. The
 * crate's other targets (macOS's mlockall, "Unsupported" elsewhere) have no counterpart here.
 *
 * Where this API differs from the Rust crate duende-mlock 1.0, on purpose:
 *  - A config that asks for nothing (current and future both false) is DMLOCK_ERR_INVALID_ARGUMENT,
 *    not "locked, 0 bytes".
 *  - On kernels before 4.4, which refuse MCL_ONFAULT, the call is retried without it and
 *    status->onfault_fallback says so.
 *  - With MCL_FUTURE asked for, RLIMIT_MEMLOCK is first set to unlimited where the process may
 *    (CAP_SYS_RESOURCE): status->limit_lifted says so. Without CAP_IPC_LOCK the soft limit is then
 *    raised to the hard limit (anyone may): status->soft_limit_raised says so.
 *  - MCL_FUTURE is withheld under a finite RLIMIT_MEMLOCK without CAP_IPC_LOCK, because later
 *    mmap()/brk()/pthread_create() would fail at random places once the limit is reached;
 *    status->future_withheld says so and current pages are still locked. Where only future was
 *    asked for, nothing is left to lock: DMLOCK_ERR_FUTURE_WITHHELD (-ECANCELED), no syscall made.
 *    With CAP_IPC_LOCK it is kept, and status->future_needs_cap says the limit is finite.
 *  - A child made by fork() (or daemon()) locks itself again; the crate's locks end at fork(). The
 *    child locks its current pages with MCL_CURRENT|MCL_ONFAULT (locked where they are, so the
 *    parent's memory is not copied), then sets MCL_FUTURE on its own if the parent had it.
 *  - EPERM means "RLIMIT_MEMLOCK is 0 and no CAP_IPC_LOCK", and the status carries the numbers.
 *  - DMLOCK_UNSUPPORTED means mlockall(2) answered ENOSYS (a seccomp filter without @memlock, or
 *    a kernel without it), and dmlock_status_failure_errno() returns that ENOSYS where the
 *    crate's failure_errno() says None; dmlock_strerror() words it "unsupported: ...".
 *  - struct dmlock_status carries its size (set by the caller), so later fields can be added.
 */
#ifndef DUENDE_MLOCK_H
#define DUENDE_MLOCK_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exit status of a host that the shim stops before main() because locking failed and
 * "required" was set. */
#define DMLOCK_EXIT_REQUIRED 71

struct dmlock_config {
	bool current; /* MCL_CURRENT: lock every page mapped now */
	bool future;  /* MCL_FUTURE: lock every page mapped later */
	bool onfault; /* MCL_ONFAULT: lock pages when first touched instead of faulting all in */
	bool required; /* a failure is an error (negative return) instead of a DMLOCK_FAILED status */
};

/* The crate's defaults: current, future and required; not onfault. The same as
 * DMLOCK_CONFIG_DEFAULT. */
struct dmlock_config dmlock_config_default(void);

enum dmlock_state {
	DMLOCK_LOCKED = 1,
	DMLOCK_FAILED = 2,
	DMLOCK_UNSUPPORTED = 3,
};

/*
 * Errors: negative errno codes from <errno.h>, so they are right on every architecture. The
 * precise errno is also in status->error.
 */
enum {
	DMLOCK_ERR_PERMISSION_DENIED = -EPERM, /* RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK */
	DMLOCK_ERR_RESOURCE_LIMIT = -ENOMEM,   /* larger than RLIMIT_MEMLOCK, no CAP_IPC_LOCK */
	DMLOCK_ERR_INVALID_ARGUMENT = -EINVAL, /* no flags, or flags the kernel lacks */
	DMLOCK_ERR_WOULD_BLOCK = -EAGAIN,      /* some pages could not be locked */
	DMLOCK_ERR_UNSUPPORTED = -ENOSYS,      /* no mlockall here (seccomp, kernel) */
	/*
	 * Only future was asked for, under a finite RLIMIT_MEMLOCK without CAP_IPC_LOCK: MCL_FUTURE
	 * would make later mappings fail at the limit, so the library withheld it and made no call.
	 */
	DMLOCK_ERR_FUTURE_WITHHELD = -ECANCELED,
	DMLOCK_ERR_UNKNOWN = -EIO, /* any other errno, kept in status->error */
};

/*
 * The outcome of a lock call. The caller allocates it and sets size first: a later version of
 * the library adds fields at the end, and writes and reads only the first size bytes, so a
 * program built against this header keeps working with it.
 *
 *	struct dmlock_status st = DMLOCK_STATUS_INIT;
 *
 * size 0 (a zeroed struct, or one made by hand with designated initializers) stands for
 * sizeof(struct dmlock_status) of this header's version, 1.0. A size smaller than the fields up
 * to vm_size is no status: the lock calls return DMLOCK_ERR_INVALID_ARGUMENT without locking.
 */
struct dmlock_status {
	size_t size; /* set by the caller: sizeof(struct dmlock_status), or 0 */
	enum dmlock_state state;
	size_t bytes_locked;		 /* VmLck after the call */
	int error;			 /* positive errno of a failure, 0 when locked */
	int flags_requested;		 /* MCL_* asked for */
	int flags_used;			 /* MCL_* the successful call used */
	bool onfault_fallback;		 /* MCL_ONFAULT refused by the kernel, retried without */
	bool future_withheld;		 /* MCL_FUTURE left out: finite limit, no CAP_IPC_LOCK */
	bool soft_limit_raised;		 /* soft RLIMIT_MEMLOCK raised to the hard limit */
	bool cap_ipc_lock;		 /* CAP_IPC_LOCK effective (initial user namespace) */
	unsigned long long memlock_soft; /* RLIMIT_MEMLOCK when locking; ~0ULL = unlimited */
	unsigned long long memlock_hard;
	unsigned long long vm_size; /* VmSize after the call, bytes */
	bool limit_lifted;	    /* RLIMIT_MEMLOCK set to unlimited first (CAP_SYS_RESOURCE) */
	bool future_needs_cap;	    /* MCL_FUTURE kept under a finite limit on CAP_IPC_LOCK alone:
				     * dropping the capability later makes new mappings fail */
};

#define DMLOCK_STATUS_INIT                                                                         \
	{                                                                                          \
		.size = sizeof(struct dmlock_status)                                               \
	}

/*
 * The start of every config: dmlock_config_default(), or this initializer, then change what
 * differs. A designated initializer alone ({ .onfault = true }) leaves current, future and
 * required false, which asks for nothing.
 */
#define DMLOCK_CONFIG_DEFAULT                                                                      \
	{                                                                                          \
		.current = true, .future = true, .onfault = false, .required = true                \
	}

/* dmlock_lock_with_config(&dmlock_config_default(), status). */
int dmlock_lock_all(struct dmlock_status *status);

/*
 * Lock as config says. Returns 0 when locked, and 0 with a DMLOCK_FAILED status when locking failed
 * and config->required is false. When it failed and required is true: a DMLOCK_ERR_* code.
 * A config asking for nothing returns DMLOCK_ERR_INVALID_ARGUMENT whatever required says.
 * status may be NULL.
 */
int dmlock_lock_with_config(const struct dmlock_config *config, struct dmlock_status *status);

/* munlockall(2); also stops fork() children from locking again. 0 or a negative errno. */
int dmlock_unlock_all(void);

/* VmLck of the calling process, in bytes; 0 when unreadable. */
size_t dmlock_locked_bytes(void);
/* dmlock_locked_bytes() > 0. */
bool dmlock_is_locked(void);

/*
 * The crate's status methods. A NULL status is none of the states, 0 bytes and errno 0.
 * bytes_locked is 0 unless DMLOCK_LOCKED; failure_errno is status->error unless DMLOCK_LOCKED.
 */
bool dmlock_status_is_locked(const struct dmlock_status *status);
bool dmlock_status_is_failed(const struct dmlock_status *status);
bool dmlock_status_is_unsupported(const struct dmlock_status *status);
size_t dmlock_status_bytes_locked(const struct dmlock_status *status);
int dmlock_status_failure_errno(const struct dmlock_status *status);

/*
 * The meaning of a DMLOCK_ERR_* code (or a positive errno from status->error) and its remedy, as a
 * static string: CAP_IPC_LOCK and --cap-add=IPC_LOCK for a permission error, RLIMIT_MEMLOCK and
 * --ulimit memlock=-1:-1 for the limit.
 */
const char *dmlock_strerror(int error);

/*
 * Format status as one line, the same words as the shim's status line (without the
 * "duende-mlock: " prefix), the limit lift and MCL_FUTURE's reliance on CAP_IPC_LOCK included.
 * Returns the length it needed, as snprintf() does, or -EINVAL (buf untouched) when status is
 * NULL or no status at all: a state other than the three, DMLOCK_FAILED without an errno, or a
 * size too small. A status made by hand needs only state and error.
 */
int dmlock_status_format(const struct dmlock_status *status, char *buf, size_t size);

/*
 * The swap-server profile's steps beyond the lock (duende-mlock.conf(5), profile = swap-server),
 * for a program that serves a swap device (an NBD or ublk server) and locks itself: what lets it
 * allocate nothing under memory pressure that reclaim must find by swapping to the device it
 * serves. Call dmlock_swap_server() after the lock (dmlock_lock_with_config() with current and
 * future) and before serving, from the main thread, before other threads start: the thread stack
 * size and the heap reserve are process-wide. Each field is one step; 0 turns it off.
 *
 *	struct dmlock_swap_server ss = DMLOCK_SWAP_SERVER_INIT;  // the profile's values
 *
 * size works as in struct dmlock_status: set by the caller; 0 stands for the struct of 1.1, this
 * one, in every later version too.
 * A fork() child keeps every step (and copies every page at once when the process is locked:
 * a copy-on-write break under pressure is an allocation). Programs it execs keep the real-time
 * class and the score, as execve() does: reset them in the child before exec
 * (sched_setscheduler(), /proc/self/oom_score_adj) where a helper must not have them.
 */
struct dmlock_swap_server {
	size_t size;		   /* set by the caller: sizeof(struct dmlock_swap_server), or 0 */
	int rt_priority;	   /* SCHED_FIFO at this priority (1-99); needs CAP_SYS_NICE */
	int oom_score_adj;	   /* -1000 to -1 (lowering needs CAP_SYS_RESOURCE) */
	unsigned heap_reserve_mib; /* one malloc arena grown and touched by this much, no trim */
	unsigned stack_kib;	   /* the calling thread's stack faulted in to this depth */
	unsigned thread_stack_kib; /* default stack size of threads created later */
	/*
	 * The exported file or device: its open()/pread()/pwrite() go through O_DIRECT, past the
	 * page cache. Needs libduende_mlock_io.so in LD_PRELOAD (its wrappers must come before
	 * libc's); without it the step is -ENOSYS. NULL: no such step.
	 */
	const char *export_path;
	/* Written by dmlock_swap_server(): 0 done, 1 off, a negative errno when not done. */
	int io_flusher; /* PR_SET_IO_FLUSHER (Linux 5.6, CAP_SYS_RESOURCE): always asked for */
	int oom, sched, heap, stack, thread_stack, export_io;
};

#define DMLOCK_SWAP_SERVER_INIT                                                                    \
	{                                                                                          \
		.size = sizeof(struct dmlock_swap_server), .rt_priority = 50,                      \
		.oom_score_adj = -1000, .heap_reserve_mib = 16, .stack_kib = 256,                  \
		.thread_stack_kib = 256, .export_path = NULL                                       \
	}

/*
 * Take every step ss asks for, each whatever the others did, and write each one's result into ss.
 * Returns 0 when every step asked for was done, else the negative errno of the first that was
 * not (in the order of the fields), or -EINVAL (nothing done) for a NULL ss, a size too small or
 * a value out of range.
 */
int dmlock_swap_server(struct dmlock_swap_server *ss);

/*
 * The steps' results as one line, the words of the shim's "swap-server profile:" line ("io_flusher
 * done; oom_score_adj -1000 not done: Permission denied, needs CAP_SYS_RESOURCE; ..."). Returns
 * the length it needed, as snprintf() does, or -EINVAL.
 */
int dmlock_swap_server_format(const struct dmlock_swap_server *ss, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
