/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The tiny program once more, calling each libc function the preload object may wrap once, with
 * arguments that change nothing: the start-up benchmark's "wrapper" variant runs it under the
 * shim and under the empty library, so the difference is what the wrappers cost a process the
 * shim did not lock (their binding and the call itself). Results are not checked: the program
 * exits 0 whatever the calls return, as the empty library's run of it does.
 *
 * The list: add a line to WRAPPED when the preload object wraps another function.
 * "wrapped --list" prints the names (scripts/bench says which of them the object defines).
 */
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* glibc exports these; only libcap's header declares them. */
int capget(cap_user_header_t hdr, cap_user_data_t data);
int capset(cap_user_header_t hdr, const cap_user_data_t data);

static char page[4096] __attribute__((aligned(4096)));
static struct __user_cap_header_struct cap_hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
static struct __user_cap_data_struct cap_data[2];
static gid_t groups[64];
static int n_groups;

/* name, call: each call leaves the process as it was (same ids, capabilities, locks). */
#define WRAPPED(X)                                                                                 \
	X(setuid, setuid(getuid()))                                                                \
	X(setgid, setgid(getgid()))                                                                \
	X(seteuid, seteuid(geteuid()))                                                             \
	X(setegid, setegid(getegid()))                                                             \
	X(setreuid, setreuid((uid_t)-1, (uid_t)-1))                                                \
	X(setregid, setregid((gid_t)-1, (gid_t)-1))                                                \
	X(setresuid, setresuid((uid_t)-1, (uid_t)-1, (uid_t)-1))                                   \
	X(setresgid, setresgid((gid_t)-1, (gid_t)-1, (gid_t)-1))                                   \
	X(setgroups, setgroups((size_t)n_groups, groups))                                          \
	X(capset, capset(&cap_hdr, cap_data))                                                      \
	X(madvise, madvise(page, sizeof(page), MADV_NORMAL))                                       \
	X(posix_madvise, posix_madvise(page, sizeof(page), POSIX_MADV_NORMAL))                     \
	X(mlock, mlock(page, sizeof(page)))                                                        \
	X(mlock2, mlock2(page, sizeof(page), 0))                                                   \
	X(munlock, munlock(page, sizeof(page)))                                                    \
	X(mlockall, mlockall(MCL_FUTURE))                                                          \
	X(munlockall, munlockall())

#define CALL(name, call) (void)(call);
#define NAME(name, call) #name,

int main(int argc, char **argv)
{
	static const char *const names[] = { WRAPPED(NAME) };

	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			puts(names[i]);
		return 0;
	}
	/* The current values, so that setgroups() and capset() set what is already there. */
	n_groups = getgroups(64, groups);
	if (n_groups < 0)
		n_groups = 0;
	(void)capget(&cap_hdr, cap_data);
	WRAPPED(CALL)
	return 0;
}
