/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The core shared by the preload constructor, the public API and the operator tool.
 *
 * Where each part lives:
 *   settings.c   the keys (dm_keys[]), defaults, profiles, the environment, the allow-list
 *   decide.c     the one sequence that decides the settings: defaults < profile < file < env
 *   diag.c       problems recorded by inner functions, for the face to say
 *   conffile.c   trusted open of the config file, the cheap pre-scan, libconfuse parsing
 *   lock.c       the decision (which flags, limits, capability) and the mlockall(2) call
 *   procfs.c     reading /proc/PID/status (VmLck, VmSize, CapEff...) without stdio
 *   status.c     turning a lock result into one status line; errno names and remedies
 *   log.c        the one log helper: stderr, syslog or nothing, one write per line
 *   profile.c    the swap-server profile's steps beyond the lock (IO_FLUSHER, RT class...)
 *
 * Every function returns 0 or a negative errno. None of them logs: problems are recorded in a
 * struct dm_diag and the face (constructor, API, tool) decides where they go.
 */
#pragma once

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>

/* glibc headers older than Linux 4.4's flag lack it; the value is the kernel's. */
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

#define DM_HIDDEN __attribute__((visibility("hidden")))
#define DM_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- diag.c: diagnostics collected by inner functions, printed by the face ---- */

#define DM_DIAG_MAX 8
#define DM_DIAG_LEN 400

struct dm_diag {
	unsigned n;
	unsigned dropped;
	char msg[DM_DIAG_MAX][DM_DIAG_LEN];
};

DM_HIDDEN void dm_diag_add(struct dm_diag *d, const char *fmt, ...) DM_PRINTF(2, 3);
DM_HIDDEN void dm_diag_vadd(struct dm_diag *d, const char *fmt, va_list ap) DM_PRINTF(2, 0);

/* ---- settings.c ---- */

/* The stem of the preload object's file name: LD_PRELOAD entries, ld.so.preload, /proc/PID/maps. */
#define DM_PRELOAD_STEM "libduende_mlock_preload.so"

enum dm_log_target {
	DM_LOG_DEFAULT = 0, /* stderr in preload mode, syslog in system-wide mode */
	DM_LOG_STDERR,
	DM_LOG_SYSLOG,
	DM_LOG_NONE,
};

enum dm_profile {
	DM_PROFILE_NONE = 0,
	DM_PROFILE_SWAP_SERVER, /* a daemon that serves swap: see dm_profile_values in settings.c */
	DM_PROFILE_COUNT,
};

/* Where a setting's value came from: each layer overrides the ones before it. */
enum dm_origin {
	DM_FROM_DEFAULT = 0,
	DM_FROM_PROFILE, /* the profile's value for the key */
	DM_FROM_FILE,	 /* the config file, outside any program section */
	DM_FROM_SECTION, /* the config file's program "NAME" { } section for this program */
	DM_FROM_ENV,
};

/*
 * The keys, in the order check-config prints them. A new key: its field in struct dm_settings,
 * its name here, and its entry in dm_keys[] (settings.c). The file, the environment, profiles,
 * check-config and the pipeline all work from that table.
 */
enum dm_key {
	DM_KEY_PROFILE,
	DM_KEY_CURRENT,
	DM_KEY_FUTURE,
	DM_KEY_ONFAULT,
	DM_KEY_REQUIRED,
	DM_KEY_PROPAGATE,
	DM_KEY_PROGRAMS,
	DM_KEY_LOG,
	/* The swap-server profile's steps (profile.c); 0 turns a step off. */
	DM_KEY_RT_PRIORITY,
	DM_KEY_OOM_SCORE_ADJ,
	DM_KEY_HEAP_RESERVE_MIB,
	DM_KEY_STACK_KIB,
	DM_KEY_THREAD_STACK_KIB,
	DM_KEY_EXPORT, /* the file or device the server exports: its I/O bypasses the page cache */
	DM_KEY_COUNT,
};

/* The longest export path the settings hold, with its NUL. */
#define DM_EXPORT_PATH_MAX 512

#define DM_PROGRAMS_MAX 64
#define DM_PROGRAMS_BYTES 4096

struct dm_settings {
	enum dm_profile profile;
	bool current;
	bool future;
	bool onfault;
	bool required;
	bool propagate;
	enum dm_log_target log;
	int rt_priority, oom_score_adj, heap_reserve_mib, stack_kib, thread_stack_kib;
	char export_path[DM_EXPORT_PATH_MAX];
	enum dm_origin origin[DM_KEY_COUNT];
	/* Allow-list: NUL-separated entries in one buffer, so nothing is allocated in the host. */
	unsigned n_programs;
	size_t programs_used;
	char programs[DM_PROGRAMS_BYTES];
};

enum dm_key_type {
	DM_TYPE_BOOL,	/* bool; in the file a libconfuse boolean, in the environment 1/0 too */
	DM_TYPE_ENUM,	/* int-sized enum; values[] names each value, NULL for "cannot be set" */
	DM_TYPE_INT,	/* int within [min, max], decimal */
	DM_TYPE_STRING, /* char[size], NUL-terminated; "" is unset */
	DM_TYPE_LIST,	/* the program allow-list (one of these, its own fields) */
};

struct dm_key_info {
	const char *name; /* in the config file */
	const char *env;  /* the environment variable */
	enum dm_key_type type;
	size_t offset;		   /* of the field in struct dm_settings */
	size_t size;		   /* of the field */
	const char *expect;	   /* what a good value is, after "not ": "a boolean (use ...)" */
	const char *const *values; /* DM_TYPE_ENUM */
	unsigned n_values;
	long min, max; /* DM_TYPE_INT */
	bool global;   /* only outside program sections */
	/*
	 * In a file, only inside a program section: one line outside would give SCHED_FIFO and
	 * oom_score_adj -1000 to every program the file lists.
	 */
	bool section_only;
	bool path; /* DM_TYPE_STRING: an absolute path */
	/* check-config's note when the key is unset (an empty list, an enum at a NULL name) */
	const char *unset_note;
};

#define DM_FIELD(f)                                                                                \
	.offset = offsetof(struct dm_settings, f), .size = sizeof(((struct dm_settings *)0)->f)

DM_HIDDEN extern const struct dm_key_info dm_keys[DM_KEY_COUNT];

/* What the process is: read lazily, because /proc/self/exe costs a syscall. */
struct dm_self {
	const char *execfn; /* AT_EXECFN: the path given to execve() */
	bool exe_tried;
	char exe[PATH_MAX]; /* /proc/self/exe, "" when unreadable */
};

DM_HIDDEN void dm_settings_default(struct dm_settings *s);
/* Parse text as key k's value into s (field and nothing else). 0 or -EINVAL/-ERANGE/-E2BIG... */
DM_HIDDEN int dm_key_parse(enum dm_key k, const char *text, struct dm_settings *s);
/* A DM_TYPE_ENUM key's value from its name, into *out only when it is one. */
DM_HIDDEN int dm_key_parse_enum(enum dm_key k, const char *text, int *out);
/* Key k's value in s as text, as the file would spell it; "" for an unset value. */
DM_HIDDEN const char *dm_key_format(enum dm_key k, const struct dm_settings *s, char *buf,
				    size_t size);
/* Is key k at its unset value (an empty list, "" string, an enum at a NULL name)? */
DM_HIDDEN bool dm_key_unset(enum dm_key k, const struct dm_settings *s);
/* Copy each key src has from a layer (origin not DM_FROM_DEFAULT) into dst, with its origin. */
DM_HIDDEN void dm_settings_overlay(struct dm_settings *dst, const struct dm_settings *src);
/* The values a profile gives its keys (over the defaults, under the file), origin DM_FROM_PROFILE. */
DM_HIDDEN void dm_profile_apply(struct dm_settings *s, enum dm_profile p);
DM_HIDDEN int dm_parse_bool(const char *text, bool *out);
DM_HIDDEN const char *dm_log_name(enum dm_log_target t);
DM_HIDDEN void dm_programs_clear(struct dm_settings *s);
DM_HIDDEN int dm_programs_add(struct dm_settings *s, const char *entry, size_t len);
DM_HIDDEN const char *dm_programs_problem(int r);
DM_HIDDEN int dm_programs_parse_list(struct dm_settings *s, const char *csv, struct dm_diag *d);
DM_HIDDEN bool dm_programs_match(const struct dm_settings *s, struct dm_self *self);
DM_HIDDEN bool dm_programs_has(const struct dm_settings *s, const char *entry);
DM_HIDDEN const char *dm_programs_next(const struct dm_settings *s, const char *prev);
/* Does an allow-list entry (a name or an absolute path) name this process? */
DM_HIDDEN bool dm_entry_names(const char *entry, struct dm_self *self);
/* Apply DUENDE_MLOCK_* (read with secure_getenv) over s; bad values are recorded and skipped. */
DM_HIDDEN void dm_settings_from_env(struct dm_settings *s, struct dm_diag *d);
/* This process, as the constructor sees it. */
DM_HIDDEN void dm_self_init(struct dm_self *self);
/* A program the tool is asked about, as it would see itself when started as path. */
DM_HIDDEN void dm_self_of_program(struct dm_self *self, const char *path);
DM_HIDDEN const char *dm_self_exe(struct dm_self *self);
/* The name the operator called it by: AT_EXECFN's base name, else the executable's. */
DM_HIDDEN const char *dm_self_name(struct dm_self *self);
/* The executable's base name where it differs from dm_self_name() (a symlink), else NULL. */
DM_HIDDEN const char *dm_self_exe_name(struct dm_self *self);
/* Is path's base name the preload object's (DM_PRELOAD_STEM, any suffix)? */
DM_HIDDEN bool dm_names_preload(const char *path);
/* The part of path after its last '/'. */
DM_HIDDEN const char *dm_base_name(const char *path);

/* ---- conffile.c ---- */

#define DM_CONFIG_MAX_BYTES (64 * 1024)

struct dm_conffile {
	const char *path; /* the caller's string, which must outlive the struct */
	char *text;	  /* NUL-terminated; NULL when not loaded */
	size_t len;
	bool trusted;
	bool stat_done; /* owner and mode are the opened file's (fstat), for doctor */
	uid_t owner;
	mode_t mode;
	/*
	 * Most config files fit here: no malloc() in a host the library will not lock. Last, and
	 * the small fields together, so a small file touches as few stack pages as it can.
	 */
	char inline_text[8192];
};

/* The config file path: DUENDE_MLOCK_CONFIG (outside secure-execution) or the built-in one. */
DM_HIDDEN const char *dm_config_path(void);
/*
 * Open and read a config file the careful way: no symlink, regular file, owned by root (or by the
 * real user, outside secure-execution), not writable by group or others, at most
 * DM_CONFIG_MAX_BYTES. -ENOENT when missing; other errors come with a reason in d. A regular file
 * that fails only the owner or mode check returns -EPERM with its text loaded (trusted = false),
 * so system-wide mode can stay silent in the processes it could not name anyway.
 */
DM_HIDDEN int dm_conffile_load(struct dm_conffile *f, const char *path, struct dm_diag *d);
DM_HIDDEN void dm_conffile_release(struct dm_conffile *f);
/*
 * The cheap test for system-wide mode: true when no entry of the file's allow-list can name this
 * program, decided without libconfuse. Sound because names are matched literally: an entry naming
 * the program shows its base name as a word outside comments, unless an escape inside quotes
 * spells it, and an escape inside quotes counts as naming it.
 */
DM_HIDDEN bool dm_conffile_cannot_name(const struct dm_conffile *f, struct dm_self *self);
/* Its word test: does name (nlen bytes) stand in text as a word outside comments? No libc call. */
DM_HIDDEN bool dm_conffile_names_word(const char *text, size_t len, const char *name, size_t nlen);
/*
 * Parse with libconfuse (dlopen()ed on first use) and apply the file's values over s, with origin
 * DM_FROM_FILE; then, when self is given, the values of each program "NAME" { } section that
 * names self, with origin DM_FROM_SECTION. Every section's NAME joins the programs list. On a
 * parse error nothing is applied and d holds "path:line: reason". Returns 0, -EINVAL (bad file)
 * or -ELIBACC (libconfuse could not be loaded).
 */
DM_HIDDEN int dm_conffile_apply(const struct dm_conffile *f, struct dm_self *self,
				struct dm_settings *s, struct dm_diag *d);
DM_HIDDEN int dm_config_parse_text(const char *name, const char *text, size_t len,
				   struct dm_self *self, struct dm_settings *s, struct dm_diag *d);

/* ---- decide.c: the settings as the shim decides them, for every face ---- */

struct dm_decision {
	struct dm_conffile file; /* file.path; owner and mode from the load's fstat */
	int load_r;  /* dm_conffile_load(): 0, -ENOENT (no file), -EPERM (untrusted), ... */
	int parse_r; /* dm_conffile_apply() when the file was loaded and trusted, else 0 */
	unsigned
		file_diags; /* diag.msg[0, file_diags) are the file's; the rest the environment's */
	struct dm_diag diag;
};

/*
 * The one sequence: defaults < profile < file (its program section above the rest) < environment.
 * dm_decide() is the two steps together. The constructor calls them apart, to skip the second
 * when the file cannot name the process (dm_conffile_cannot_name): then it calls
 * dm_decide_skip() to release the file. path NULL: dm_config_path(). self NULL: no program
 * (sections are not applied).
 */
DM_HIDDEN int dm_decide_load(struct dm_decision *dec, const char *path);
DM_HIDDEN void dm_decide_settings(struct dm_decision *dec, struct dm_self *self,
				  struct dm_settings *s);
DM_HIDDEN void dm_decide_skip(struct dm_decision *dec);
DM_HIDDEN void dm_decide(struct dm_decision *dec, const char *path, struct dm_self *self,
			 struct dm_settings *s);
/* The file is missing, unusable or bad: the library goes on without it. */
DM_HIDDEN bool dm_decide_file_ignored(const struct dm_decision *dec);

/* ---- procfs.c ---- */

struct dm_proc_mem {
	uint64_t vm_size;
	uint64_t vm_lck;
	uint64_t vm_rss;
	uint64_t vm_swap;
};

/* pid 0 is the calling process. Values in bytes. */
DM_HIDDEN int dm_proc_mem_read(pid_t pid, struct dm_proc_mem *m);
/* Value of "Key:" (in kB in the file) from a /proc file, in bytes. */
DM_HIDDEN int dm_proc_read_kb(const char *path, const char *key, uint64_t *bytes);
/* The text of "Key:" in /proc/PID/status (pid 0: this process), e.g. CapEff, Seccomp. */
DM_HIDDEN int dm_proc_status_text(pid_t pid, const char *key, char *buf, size_t size);
/* The effective capability set (CapEff) as the process's own namespace shows it. */
DM_HIDDEN int dm_proc_cap_eff(pid_t pid, uint64_t *caps);

/* ---- lock.c ---- */

struct dm_lock_request {
	bool current;
	bool future;
	bool onfault;
};

struct dm_lock_result {
	int flags_requested;
	int flags_used;		/* what the successful call used; 0 when none succeeded */
	int err;		/* positive errno of the failure; 0 on success */
	bool onfault_fallback;	/* kernel refused MCL_ONFAULT (before 4.4); retried without */
	bool future_withheld;	/* MCL_FUTURE left out: finite limit and no CAP_IPC_LOCK */
	bool soft_raised;	/* soft RLIMIT_MEMLOCK raised to the hard limit */
	bool limit_lifted;	/* RLIMIT_MEMLOCK set to unlimited (CAP_SYS_RESOURCE held) */
	bool future_needs_cap;	/* MCL_FUTURE kept under a finite limit on CAP_IPC_LOCK alone */
	bool cap_ipc_lock;	/* CAP_IPC_LOCK effective in the initial user namespace */
	struct rlimit limit;	/* RLIMIT_MEMLOCK as it was when mlockall ran */
	struct dm_proc_mem mem; /* read after the call */
};

/* Decide, call mlockall(2), fill res. 0 on success, -errno when locking failed. */
DM_HIDDEN int dm_lock(const struct dm_lock_request *req, struct dm_lock_result *res);
DM_HIDDEN int dm_unlock(void);
DM_HIDDEN bool dm_has_ipc_lock(void);

/*
 * What the preload object's libc wrappers (guard.c) act on: the library's own locks in this
 * process. Written by the constructor and by the wrappers, read by the wrappers and the fork
 * handler; every field fits in one load, so the wrappers' test for "not ours" is one branch.
 */
struct dm_guard {
	volatile int flags;   /* mlockall flags of the library's own locks; 0 when it holds none */
	volatile int dropped; /* flags given up when the process dropped CAP_IPC_LOCK, 0 if none */
	volatile bool program_owns; /* the program called mlockall/munlockall: its word stands */
	volatile bool keep_freed;   /* swap-server profile: freed memory stays locked, resident */
	bool initial_userns;	    /* the capability means something for mlock here */
	enum dm_log_target log;	    /* where this process's lines go */
	char name[64];		    /* its name, escaped, for those lines */
};
DM_HIDDEN extern struct dm_guard dm_guard;

/* Where later lines of this process go, under which name, and whether frees stay locked. */
DM_HIDDEN void dm_guard_note(enum dm_log_target log, const char *name, bool keep_freed);
/* CAP_IPC_LOCK effective now, or RLIMIT_MEMLOCK infinite: MCL_FUTURE cannot fail a mapping. */
DM_HIDDEN bool dm_future_safe(void);
/* Lock again what was locked with flags: present pages where they are, then MCL_FUTURE. */
DM_HIDDEN int dm_relock(int flags);
/*
 * The calls the core makes. The API library calls libc's; the preload object, which defines
 * mlockall and munlockall itself, goes past its own wrappers (guard.c).
 */
DM_HIDDEN int dm_sys_mlockall(int flags);
DM_HIDDEN int dm_sys_munlockall(void);

/* ---- profile.c: the swap-server profile's steps beyond the lock ---- */

/* Defaults (vm/RESULTS.md); the system settings are doctor's to check, not the profile's. */
#define DM_SWAP_SERVER_MIN_FREE_KBYTES 16384
#define DM_SWAP_SERVER_WATERMARK_BOOST_FACTOR 0
#define DM_SWAP_SERVER_RT_PRIORITY 50
#define DM_SWAP_SERVER_OOM_SCORE_ADJ -1000
#define DM_SWAP_SERVER_HEAP_MIB 16
#define DM_SWAP_SERVER_STACK_KIB 256
#define DM_SWAP_SERVER_THREAD_STACK_KIB 256

struct dm_swap_server_params {
	int rt_priority;   /* SCHED_FIFO priority; 0: the class is left alone */
	int oom_score_adj; /* 0: left alone */
	unsigned heap_mib, stack_kib, thread_stack_kib; /* 0: step off */
	const char *export_path;			/* NULL or "": no export step */
};

/* Each step: 0 done, 1 off, -errno not done. */
struct dm_swap_server_result {
	struct dm_swap_server_params params;
	int io_flusher, oom, sched, heap, stack, thread_stack;
	int export_r;	     /* -ENOSYS: the I/O object is not loaded */
	size_t export_align; /* the O_DIRECT alignment it found, when done */
};

/* The I/O object's file name (export.c), for the preload object's lines and the tool. */
#define DM_IO_STEM "libduende_mlock_io.so"

/* The profile's steps as the settings say (the keys rt_priority ... thread_stack_kib). */
DM_HIDDEN void dm_swap_server_params(const struct dm_settings *s, struct dm_swap_server_params *p);
/* Take every step; locked: the process is locked, so fork children copy every page at once. */
DM_HIDDEN void dm_swap_server_apply(const struct dm_swap_server_params *p, bool locked,
				    struct dm_swap_server_result *r);
/*
 * Programs a swap server execs (scripts, system()) are helpers, not servers: they must not keep
 * its real-time class or its oom_score_adj, which execve() keeps. Before the profile's steps the
 * server records its own in DM_SERVER_BEFORE_ENV and takes DUENDE_MLOCK_PROFILE out of its
 * environment (its fork children, which serve, keep everything); a program started with that
 * variable gets them back before anything else. SCHED_RESET_ON_FORK would reset the fork
 * children too.
 */
#define DM_SERVER_BEFORE_ENV "DUENDE_MLOCK_SERVER_BEFORE"
DM_HIDDEN void dm_swap_server_helper_prepare(void);
DM_HIDDEN void dm_swap_server_helper_restore(void);
/* "io_flusher done; oom_score_adj -1000 done; SCHED_FIFO 50 not done: ..., needs ...". */
DM_HIDDEN size_t dm_swap_server_format(char *buf, size_t size,
				       const struct dm_swap_server_result *r);
/* The first step that was asked for and not done ("io_flusher", ...), or NULL. */
DM_HIDDEN const char *dm_swap_server_failed(const struct dm_swap_server_result *r);

/* ---- status.c ---- */

DM_HIDDEN const char *dm_errno_name(int err);
/* What err means for mlockall and what fixes it (NULL when there is no specific remedy). */
DM_HIDDEN const char *dm_errno_meaning(int err);
DM_HIDDEN const char *dm_errno_remedy(int err);
/* "title: meaning; fix: remedy" for the API's dmlock_strerror(); "success" for 0. */
DM_HIDDEN const char *dm_errno_summary(int err);
/* Bytes as "12.3 MiB", for people. */
DM_HIDDEN const char *dm_human_bytes(char *buf, size_t size, uint64_t bytes);
/* An rlimit value: "unlimited", else bytes (human: as dm_human_bytes()). */
DM_HIDDEN const char *dm_limit_text(char *buf, size_t size, rlim_t v, bool human);
DM_HIDDEN size_t dm_flags_format(char *buf, size_t size, int flags);
/*
 * One status line, without prefix or newline. program may be NULL (no "name[pid]: "); exe, the
 * executable's base name where it differs from program (dm_self_exe_name()), may be NULL.
 */
DM_HIDDEN size_t dm_status_format(char *buf, size_t size, const char *program, const char *exe,
				  pid_t pid, const struct dm_lock_result *res);
/* Copy src into buf with control and non-ASCII bytes escaped as \xNN and the length capped. */
DM_HIDDEN size_t dm_escape(char *buf, size_t size, const char *src, size_t max_in);

/* ---- log.c ---- */

#define DM_LOG_MAX 1024

DM_HIDDEN void dm_log(enum dm_log_target target, int priority, const char *fmt, ...)
	DM_PRINTF(3, 4);

/* A line built without stdio, for places where only async-signal-safe calls may run. */
struct dm_raw {
	size_t n;
	char buf[240];
};

DM_HIDDEN void dm_raw_str(struct dm_raw *r, const char *s);
DM_HIDDEN void dm_raw_uint(struct dm_raw *r, unsigned long long v);
/* "NAME[PID]: " of this process, as the constructor recorded it. */
DM_HIDDEN void dm_raw_self(struct dm_raw *r);
/* One write(2) or one datagram, like dm_log(); async-signal-safe. */
DM_HIDDEN void dm_log_raw(enum dm_log_target target, int priority, const struct dm_raw *r);
