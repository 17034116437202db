/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * How an object that wraps libc functions (guard.c, export.c) calls glibc's own: references made
 * with .symver under another name, which preload/bind-to-libc.py marks after the link so that the
 * loader binds them to glibc and not back to the wrapper of the same name. Include it once per
 * object that is finished by bind-to-libc.py.
 */
#pragma once

#include <stdint.h>

/* glibc's base symbol version on this architecture: the version of setuid, madvise... */
#if defined(__x86_64__) && !defined(__ILP32__)
#define GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__) || (defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
#define GLIBC_BASE "GLIBC_2.17"
#elif defined(__i386__)
#define GLIBC_BASE "GLIBC_2.0"
#elif defined(__s390x__)
#define GLIBC_BASE "GLIBC_2.2"
#elif defined(__riscv) && __riscv_xlen == 64
#define GLIBC_BASE "GLIBC_2.27"
#elif defined(__arm__)
#define GLIBC_BASE "GLIBC_2.4"
#else
#error "glibc's base symbol version for this architecture is not known: add it above"
#endif

/* glibc's function NAME, as dm_real_NAME (see bind-to-libc.py). */
#define REAL(ret, name, params, version)                                                           \
	extern ret dm_real_##name params;                                                          \
	__asm__(".symver dm_real_" #name ", " #name "@" version)

/*
 * The anchor: a reference to ld.so at glibc's base version gives the object a version need on
 * ld.so that nothing else uses, onto which bind-to-libc.py moves the references above. Never
 * called; kept by "used", bound lazily, so it costs no lookup.
 */
extern void _dl_mcount(uintptr_t frompc, uintptr_t selfpc);
__attribute__((used)) static void version_anchor(void)
{
	_dl_mcount(0, 0);
}
