/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The operator tool duende-mlock: one file per command, all of them over the same core as the
 * library (preload/core.h), so what the tool says is what the shim does.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

/* Exit statuses shared by every command. */
enum {
	TOOL_EXIT_OK = 0,
	TOOL_EXIT_FAIL = 1,  /* the answer is "no": not locked, would fail, bad config */
	TOOL_EXIT_USAGE = 2, /* the command line was wrong */
};

/* "duende-mlock: ..." on stderr, one line. */
void tool_error(const char *fmt, ...) DM_PRINTF(1, 2);
/* The usage error: the message, then a hint at --help; returns TOOL_EXIT_USAGE. */
int tool_usage_error(const char *command, const char *fmt, ...) DM_PRINTF(2, 3);

/* A PID from the command line: decimal, > 0, fits pid_t. 0 or -EINVAL. */
int tool_parse_pid(const char *text, int *pid);
/* Bytes as "12.3 MiB", for people; buf of at least 32 bytes. */
const char *tool_human_bytes(char *buf, size_t size, uint64_t bytes);
/* Search PATH like execvp(3) does; the result in buf. 0 or a negative errno. */
int tool_find_program(const char *name, char *buf, size_t size);
/* The library that run preloads: DUENDE_MLOCK_LIBRARY or the installed path. */
const char *tool_library_path(void);

/* elf.c: what the loader would do with a file. */
enum tool_elf_kind {
	TOOL_ELF_DYNAMIC, /* has PT_INTERP: ld.so runs first and honours LD_PRELOAD */
	TOOL_ELF_STATIC,  /* no PT_INTERP: nothing can be preloaded into it */
	TOOL_ELF_SCRIPT,  /* "#!": the interpreter is what gets locked */
	TOOL_ELF_OTHER,   /* neither */
};

struct tool_elf_info {
	enum tool_elf_kind kind;
	char interp[PATH_MAX]; /* PT_INTERP, or the #! interpreter */
};

int tool_elf_inspect(const char *path, struct tool_elf_info *info);

/* The commands: argv[0] is the command name. Each returns an exit status. */
int tool_cmd_run(int argc, char **argv);
int tool_cmd_status(int argc, char **argv);
int tool_cmd_doctor(int argc, char **argv);
int tool_cmd_check_config(int argc, char **argv);
