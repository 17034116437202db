/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Test harness: run a victim program in a child, under the preload or not, with a real
 * capability drop and real limits, and read what it printed. The test process itself never locks
 * memory, changes its limits or preloads anything.
 */
#pragma once

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum harness_stderr {
	HARNESS_STDERR_PIPE = 0, /* captured into result.err */
	HARNESS_STDERR_CLOSED,	 /* fd 2 closed at exec */
	HARNESS_STDERR_BROKEN,	 /* a pipe whose reader is already gone */
};

#define HARNESS_MEMLOCK_UNLIMITED (-2LL)

struct victim_opts {
	const char *const *argv; /* argv[0] is the program path; NULL-terminated */
	const char *const *env;	 /* extra "NAME=value" entries, NULL-terminated; may be NULL */
	bool preload;		 /* put the built library in LD_PRELOAD */
	bool drop_ipc_lock;	 /* drop CAP_IPC_LOCK from the bounding and all sets before exec */
	bool set_memlock;	 /* set RLIMIT_MEMLOCK soft=hard to memlock */
	long long memlock;	 /* bytes, or HARNESS_MEMLOCK_UNLIMITED */
	bool set_memlock_hard;	 /* with set_memlock: a different hard limit */
	long long memlock_hard;
	enum harness_stderr stderr_mode;
	int extra_groups; /* this many supplementary groups (10000, 10001, ...) */
	bool set_uid;	  /* run as uid/gid (after the other changes) */
	uid_t uid;
	gid_t gid;
	bool new_mount_ns;	 /* unshare(CLONE_NEWNS) and make / private before exec */
	const char *etc_overlay; /* with new_mount_ns: bind this directory over /etc */
	const char
		*syslog_socket; /* with new_mount_ns: a tmpfs /dev whose /dev/log is this socket */
	int timeout_s;		/* kill after this many seconds (default 20) */
	/*
	 * A seccomp filter that fails mlockall(2) with this errno when its flags have any bit of
	 * mlockall_mask: EINVAL for MCL_ONFAULT is what kernels before 4.4 answer, ENOSYS for all
	 * flags what a hardened unit's SystemCallFilter may. 0: no filter.
	 */
	int mlockall_errno;
	unsigned mlockall_mask;
};

struct victim_result {
	int exit_code; /* -1 when killed by a signal */
	int signal;    /* terminating signal, 0 when it exited */
	char *out;     /* stdout, NUL-terminated */
	char *err;     /* stderr (HARNESS_STDERR_PIPE), NUL-terminated */
};

/* Memory locking is "locked" when VmLck is at least this many bytes. */
#define HARNESS_KIB 1024LL
#define HARNESS_MIB (1024LL * 1024LL)

/*
 * The built library, victim and tool: the build's own files, or, when the build directory is out
 * of other users' reach (a clone in a 0700 home), copies in a directory made for them, so that
 * the cases run as nobody find them.
 */
const char *harness_library(void); /* the built library (what LD_PRELOAD gets) */
/* The swap server's I/O object, in the same directory as harness_library() (run looks there). */
const char *harness_io_library(void);
const char *harness_victim(void); /* the built victim program */
const char *harness_tool(void);	  /* the built duende-mlock tool (may be NULL) */
const char *harness_tmpdir(void); /* a fresh directory, reachable by other users */
/* Make the copies above once, in the runner, before the cases fork. */
void harness_prepare(void);
/* Can a child have a private mount namespace (/ made private)? If not, why. */
bool harness_private_mounts(char *why, size_t size);

/*
 * Fork, set up, execve, wait, collect. Returns 0, or a negative errno if it could not run:
 * -ECANCELED when the child's setup failed (a mount, a limit, a capability), and then
 * harness_setup_error() says what failed.
 */
int victim_run(const struct victim_opts *o, struct victim_result *r);
const char *harness_setup_error(void);
/* The exit code of a child whose setup failed (its report says why). */
#define HARNESS_SETUP_FAILED 125
void victim_result_free(struct victim_result *r);

/* Value of "key=NUMBER" on its own line in text (victim output), or -1 when absent. */
long long kv_get(const char *text, const char *key);
/* Value of "key=STRING" on its own line, copied into buf; false when absent. */
bool kv_str(const char *text, const char *key, char *buf, size_t size);

/* Swap for the page-out tests: a temporary swap file switched on; NULL with reason on failure. */
bool swap_on(char *path, size_t size, char *why, size_t why_size);
void swap_off(const char *path);

/*
 * What a test binary needs of the machine. A test-*.c file may define
 *     const unsigned test_needs = HARNESS_NEEDS_ROOT | HARNESS_NEEDS_SWAP;
 * and test-main.c checks it before running anything: where it is missing, the binary exits 77
 * (meson's "skipped") with the reason; in CI (CI=true) a missing need fails instead, because the
 * CI machine is root and can swap.
 */
enum {
	HARNESS_NEEDS_ROOT =
		1 << 0, /* uid 0 with CAP_IPC_LOCK and CAP_SYS_ADMIN (to drop it, mount) */
	HARNESS_NEEDS_SWAP = 1 << 1,	 /* a swap file can be switched on */
	HARNESS_NEEDS_MOUNT_NS = 1 << 2, /* a private mount namespace (not in a plain chroot) */
};

bool harness_is_root(void);
/*
 * In a forked child: CAP_IPC_LOCK out of the bounding set and every set; on failure it says what
 * failed on stderr and exits HARNESS_SETUP_FAILED.
 */
void harness_drop_ipc_lock(void);
/* Does the test process hold CAP_SYS_RESOURCE (it may raise hard limits)? */
bool harness_has_sys_resource(void);
/* CI=true: the CI machine is root and can swap, so nothing may be skipped there. */
bool harness_in_ci(void);

/* Each test binary defines test_suite(), and test_needs when it needs more than a victim. */
Suite *test_suite(void);
extern const unsigned test_needs;

/*
 * Every suite is a table of cases, one TCase per case, named after its function without the
 * "test_" prefix:
 *     const struct harness_case cases[] = {
 *             CASE(test_default_locks_before_main, CASE_REAL_MLOCKALL),
 *             CASE(test_config_default, 0),
 *     };
 *     return HARNESS_SUITE("api", cases);
 */
enum {
	/*
	 * It watches the kernel lock memory: Check tag "real-mlockall". An ASan build cannot run
	 * it: ASan intercepts mlockall() and returns 0 without locking (compiler-rt,
	 * MlockIsUnsupported), as a real MCL_CURRENT would fault in its terabytes of shadow.
	 * scripts/test-sanitizers excludes the tag from the ASan run (CK_EXCLUDE_TAGS) and runs
	 * every case, tagged or not, under UBSan.
	 */
	CASE_REAL_MLOCKALL = 1 << 0,
	/*
	 * It needs a private mount namespace: Check tag "mount-ns". Where none can be had, the
	 * runner leaves it out and prints why.
	 */
	CASE_MOUNT_NS = 1 << 1,
	/* It runs with a swap file switched on, off again afterwards even when it fails. */
	CASE_SWAP = 1 << 2,
};

struct harness_case {
	const char *name; /* the function's name; the TCase drops its "test_" */
	const TTest *fn;
	unsigned tags; /* CASE_* */
};

#define CASE(fn, tags)                                                                             \
	{                                                                                          \
#fn, fn, (tags)                                                                    \
	}
#define HARNESS_SUITE(name, cases) harness_suite((name), (cases), sizeof(cases) / sizeof(*(cases)))
Suite *harness_suite(const char *name, const struct harness_case *cases, size_t n);
/*
 * The TCase names of the suite's CASE_MOUNT_NS cases (NULL-terminated; NULL when it has none), for
 * the runner's skip line.
 */
const char *const *harness_mount_ns_cases(void);

/*
 * System-wide mode without touching the machine: a copy of /etc in the test's directory, to be
 * bound over /etc in the victim's private mount namespace (victim_opts.etc_overlay).
 */
const char *harness_etc_copy(void);
/* A datagram socket bound at path, standing in for /dev/log; returns the fd. */
int harness_syslog_open(const char *path);
/* Everything received so far, one message a line (malloc()ed). */
char *harness_syslog_drain(int fd);

/* Write a file with mode and owner. */
void harness_write_file(const char *path, const char *text, unsigned mode, uid_t uid, gid_t gid);
/*
 * A config file named name in harness_tmpdir(), owned by the test process (root in the suites
 * that need root: the owner the shim trusts), with mode. Returns its path, in a buffer the next
 * call reuses.
 */
const char *harness_write_config(const char *name, const char *text, unsigned mode);
