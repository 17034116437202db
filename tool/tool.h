/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The operator tool duende-mlock: one file per command, all of them over the same core as the
 * library (preload/core.h), so what the tool says is what the shim does.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core.h"

/* Exit statuses shared by every command. */
enum {
	TOOL_EXIT_OK = 0,
	TOOL_EXIT_FAIL = 1,   /* the answer is "no": not locked, would fail, bad config */
	TOOL_EXIT_USAGE = 2,  /* the command line was wrong */
	TOOL_EXIT_PARTLY = 3, /* status: locked, but not all of it, or new memory will not be */
};

/* "duende-mlock: ..." on stderr, one line. */
void tool_error(const char *fmt, ...) DM_PRINTF(1, 2);
/* The usage error: the message, then a hint at --help; returns TOOL_EXIT_USAGE. */
int tool_usage_error(const char *command, const char *fmt, ...) DM_PRINTF(2, 3);

/*
 * A decision's problems, one line each: the file's with file_prefix, the environment's with
 * env_prefix ("warning: "), and a count of those not kept.
 */
void tool_print_diags(const struct dm_decision *dec, const char *file_prefix,
		      const char *env_prefix);

/* A PID from the command line: decimal, > 0, fits pid_t. 0 or -EINVAL. */
int tool_parse_pid(const char *text, int *pid);
/* Bytes as "12.3 MiB", for people; buf of at least 32 bytes. */
const char *tool_human_bytes(char *buf, size_t size, uint64_t bytes);
/* Search PATH like execvp(3) does; the result in buf. 0 or a negative errno. */
int tool_find_program(const char *name, char *buf, size_t size);
/*
 * Call fn for every process in /proc but this one. fn returns 0 to go on or a negative errno
 * to stop with it; a process gone between the two is fn's to notice.
 */
int tool_proc_walk(int (*fn)(int pid, void *ctx), void *ctx);
/* /proc/PID/NAME opened for reading line by line (close-on-exec); NULL with errno set. */
FILE *tool_proc_fopen(int pid, const char *name);
/* The library that run preloads: DUENDE_MLOCK_LIBRARY or the installed path. */
const char *tool_library_path(void);
/* The swap server's I/O object (DM_IO_STEM), in the library's directory. 0 or -ENAMETOOLONG. */
int tool_io_library_path(char *buf, size_t size);
/*
 * library.c: does lib load under LD_PRELOAD? 0; -ENOEXEC with the loader's reason in why; another
 * negative errno when it could not be asked.
 */
int tool_library_loads(const char *lib, char *why, size_t size);

/* elf.c: what the loader would do with a file. */
enum tool_elf_kind {
	TOOL_ELF_DYNAMIC, /* has PT_INTERP: ld.so runs first and honours LD_PRELOAD */
	TOOL_ELF_STATIC,  /* no PT_INTERP: nothing can be preloaded into it */
	TOOL_ELF_SCRIPT,  /* "#!": the interpreter is what gets locked */
	TOOL_ELF_OTHER,	  /* neither */
};

struct tool_elf_info {
	enum tool_elf_kind kind;
	char interp[PATH_MAX]; /* PT_INTERP, or the #! interpreter */
};

int tool_elf_inspect(const char *path, struct tool_elf_info *info);

enum tool_elf_symbol_kind {
	TOOL_ELF_IMPORT, /* an undefined dynamic symbol: called through the PLT */
	TOOL_ELF_EXPORT, /* a defined global or weak dynamic symbol */
	TOOL_ELF_NEEDED, /* a DT_NEEDED library name */
};

/* Return 0 to go on, > 0 to stop the walk (tool_elf_symbols then returns 0), < 0 on error. */
typedef int (*tool_elf_symbol_fn)(void *ctx, enum tool_elf_symbol_kind kind, const char *name);

/* Every dynamic symbol and DT_NEEDED entry of a 64-bit ELF file. -ENOTSUP for other files. */
int tool_elf_symbols(const char *path, tool_elf_symbol_fn fn, void *ctx);

/* lockstate.c: how much of a process is locked, and its per-task state. */

/*
 * The name of the probe mapping the library may leave in a process after each lock call, so that
 * MCL_FUTURE can be read from outside: "[anon:NAME]" where PR_SET_VMA_ANON_NAME works, else
 * "/memfd:NAME (deleted)". Its VmFlags "lo" is the kernel's answer to "is new memory locked".
 */
#define DM_MARKER_NAME "duende-mlock-future"

/* PR_SET_IO_FLUSHER sets both task flags (include/linux/sched.h). */
#define TOOL_PF_MEMALLOC_NOIO 0x00080000u
#define TOOL_PF_LOCAL_THROTTLE 0x00100000u
#define TOOL_PF_IO_FLUSHER (TOOL_PF_MEMALLOC_NOIO | TOOL_PF_LOCAL_THROTTLE)

struct tool_stat {
	int ppid;
	unsigned flags; /* PF_* task flags */
	int nice;
	unsigned threads;
	int rt_priority;
	int policy;
};

/* A /proc/PID/stat or /proc/PID/task/TID/stat file. 0 or a negative errno. */
int tool_stat_read(const char *path, struct tool_stat *st);

enum tool_future {
	TOOL_FUTURE_UNKNOWN,
	TOOL_FUTURE_YES,
	TOOL_FUTURE_NO,
};

struct tool_lockstate {
	bool have_smaps; /* needs the right to trace the process */
	/* Mappings mlockall can lock: not VM_IO/PFNMAP/DONTEXPAND/MIXEDMAP, hugetlb, [vsyscall]. */
	unsigned lockable_maps, locked_maps, unlocked_maps;
	uint64_t resident;	 /* Rss of the lockable mappings */
	uint64_t locked_rss;	 /* of which in locked mappings */
	uint64_t unlocked_rss;	 /* of which in unlocked ones */
	enum tool_future future; /* will new mappings be locked (MCL_FUTURE) */
	bool future_inferred;	 /* no marker: inferred from the mappings */
	bool marker, marker_locked;
	/* Tasks: /proc/PID/task/TID/stat, and syscall for the stack pointer. */
	bool have_tasks, have_main;
	struct tool_stat main; /* the main thread */
	unsigned threads, io_flusher_threads, rt_threads;
	unsigned stacks_found;	 /* threads whose stack pointer was found in a mapping */
	unsigned stacks_unknown; /* running, or syscall unreadable */
	unsigned stack_maps;
	uint64_t stack_size, stack_rss, stack_locked;
	bool have_oom;
	int oom_score_adj;
	/* What new locked memory is charged against: RLIMIT_MEMLOCK, unless CAP_IPC_LOCK. */
	bool have_limit;
	uint64_t memlock_soft; /* bytes; UINT64_MAX when unlimited */
	bool have_caps;
	bool cap_ipc_lock; /* effective, and in the initial user namespace */
};

/* 0, or a negative errno when nothing could be read at all (what could not be is left unset). */
int tool_lockstate_read(int pid, struct tool_lockstate *ls);

/* What status and doctor call a process; worst last: status exits with the worst one's code. */
enum tool_state {
	TOOL_ST_LOCKED,	    /* every lockable mapping locked, new memory too, nothing in swap */
	TOOL_ST_PARTLY,	    /* some locked: a mapping is not, or new memory will not be */
	TOOL_ST_IN_SWAP,    /* locked, but pages are in swap */
	TOOL_ST_AT_LIMIT,   /* MCL_FUTURE at its RLIMIT_MEMLOCK without CAP_IPC_LOCK: maps fail */
	TOOL_ST_UNKNOWN,    /* locked, but smaps could not be read to tell how much */
	TOOL_ST_NOT_LOCKED, /* nothing locked */
	TOOL_ST_UNREADABLE,
	TOOL_ST_GONE,
};

/* err: a negative errno from reading the process, or 0. */
enum tool_state tool_lock_state(int err, const struct dm_proc_mem *mem,
				const struct tool_lockstate *ls);
/*
 * Bytes of locked memory left before RLIMIT_MEMLOCK where it applies (no CAP_IPC_LOCK, finite
 * limit) and new memory is locked; -1 where it does not apply.
 */
long long tool_lock_headroom(const struct dm_proc_mem *mem, const struct tool_lockstate *ls);
/* Resident memory in locked mappings, in percent of that in lockable ones. */
double tool_locked_percent(const struct tool_lockstate *ls);
const char *tool_policy_name(int policy);

/*
 * checks.c: doctor's checks of what happens after start (privilege drops, madvise, a limit that
 * cannot be lifted) and of a swap server's system (vm sysctls, swap on nbd/ublk, its cgroup, the
 * profile's privileged steps). program may be NULL; running_pid 0 when none runs; s the settings
 * decided for the program. Findings are printed as doctor prints its own and counted into warns
 * and fails.
 */
void tool_doctor_checks(const char *program, int running_pid, const struct dm_settings *s,
			unsigned *warns, unsigned *fails);

/* What doctor recommends for a swap server, and the profile's defaults: DM_SWAP_SERVER_* in core.h. */

/* The commands: argv[0] is the command name. Each returns an exit status. */
int tool_cmd_run(int argc, char **argv);
int tool_cmd_status(int argc, char **argv);
int tool_cmd_doctor(int argc, char **argv);
int tool_cmd_check_config(int argc, char **argv);

/* doctor's findings: "TAG   TOPIC       message", then "fix: remedy"; counts fails and warnings. */
enum tool_level { L_OK, L_INFO, L_WARN, L_FAIL };
void tool_vfinding(unsigned *fails, unsigned *warns, enum tool_level lv, const char *topic,
		   const char *remedy, const char *fmt, va_list ap) DM_PRINTF(6, 0);
