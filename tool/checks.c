/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * doctor's checks of what happens after start: what the program does that locking changes
 * (dropping privileges, freeing memory with madvise), whether the memlock limit can be lifted,
 * and, for a swap server, the system settings and profile steps it depends on (vm/RESULTS.md). Each
 * check reads state; the one probe that changes anything (IO_FLUSHER, oom_score_adj,
 * SCHED_FIFO) runs in a child that exits at once.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tool.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

struct checks {
	unsigned *warns, *fails;
	const struct dm_settings *s;
};

/* A finding, in doctor's layout (tool_vfinding in doctor.c). */
static void say(struct checks *c, enum tool_level lv, const char *topic, const char *remedy,
		const char *fmt, ...) DM_PRINTF(5, 6);
static void say(struct checks *c, enum tool_level lv, const char *topic, const char *remedy,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tool_vfinding(c->fails, c->warns, lv, topic, remedy, fmt, ap);
	va_end(ap);
}

/* ---- capabilities of this shell, as the kernel counts them ---- */

static uint64_t cap_eff(void)
{
	uint64_t caps;

	return dm_proc_cap_eff(0, &caps) == 0 ? caps : 0;
}

/* capable() checks the initial user namespace (kernel/capability.c). */
static bool has_cap(int cap)
{
	static bool init_ns_known, init_ns;

	if (!init_ns_known) {
		char buf[128] = "";
		int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		unsigned long a = 1, b = 1, len = 0;

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			init_ns = sscanf(buf, "%lu %lu %lu", &a, &b, &len) == 3 && a == 0 &&
				  b == 0 && len == 4294967295UL;
		} else {
			init_ns = true; /* no user namespaces */
		}
		init_ns_known = true;
	}
	return init_ns && (cap_eff() >> cap) & 1;
}

/* ---- what the program imports ---- */

/* Calls that drop privileges: after them CAP_IPC_LOCK is gone (capabilities(7)). */
static const char *const drop_calls[] = {
	"setuid",   "setgid",	    "setresuid",   "setresgid",	      "setreuid",
	"setregid", "seteuid",	    "setegid",	   "setgroups",	      "initgroups",
	"capset",   "cap_set_proc", "capng_apply", "capng_change_id", NULL,
};

static const char *const madvise_calls[] = { "madvise", "posix_madvise", NULL };

/* Libraries that return memory to the kernel with madvise(MADV_DONTNEED/MADV_FREE). */
static const char *const madvise_libs[] = {
	"libjemalloc.so", "libtcmalloc", "libmimalloc.so", "libnode.so", "libjvm.so",
	"libjli.so",	  NULL,
};

struct imports {
	char drops[160];
	char frees[80];	    /* madvise calls imported */
	char free_libs[80]; /* allocators and runtimes that call it */
	/* the library's own exports: the wrappers it has */
	bool wraps_setuid, wraps_madvise;
};

static bool in_list(const char *const *list, const char *name, bool prefix)
{
	for (; *list; list++)
		if (prefix ? strncmp(name, *list, strlen(*list)) == 0 : strcmp(name, *list) == 0)
			return true;
	return false;
}

static void add_name(char *buf, size_t size, const char *name)
{
	size_t len = strlen(buf);

	if (strstr(buf, name) || len + strlen(name) + 3 >= size)
		return;
	snprintf(buf + len, size - len, "%s%s", len ? ", " : "", name);
}

static int program_symbol(void *ctx, enum tool_elf_symbol_kind kind, const char *name)
{
	struct imports *im = ctx;

	if (kind == TOOL_ELF_IMPORT && in_list(drop_calls, name, false))
		add_name(im->drops, sizeof(im->drops), name);
	else if (kind == TOOL_ELF_IMPORT && in_list(madvise_calls, name, false))
		add_name(im->frees, sizeof(im->frees), name);
	else if (kind == TOOL_ELF_NEEDED && in_list(madvise_libs, name, true))
		add_name(im->free_libs, sizeof(im->free_libs), name);
	return 0;
}

static int library_symbol(void *ctx, enum tool_elf_symbol_kind kind, const char *name)
{
	struct imports *im = ctx;

	if (kind != TOOL_ELF_EXPORT)
		return 0;
	if (strcmp(name, "setresuid") == 0 || strcmp(name, "setuid") == 0)
		im->wraps_setuid = true;
	else if (strcmp(name, "madvise") == 0)
		im->wraps_madvise = true;
	return 0;
}

static void check_privilege_drop(struct checks *c, const char *esc, const struct imports *im)
{
	char soft[32], hard[32];
	struct rlimit rl;

	if (im->drops[0] && !c->s->future) {
		say(c, L_OK, "privileges", NULL,
		    "%s can drop privileges (imports %s); harmless: future = false, so no "
		    "MCL_FUTURE to outlive the capability",
		    esc, im->drops);
		return;
	}
	if (!im->drops[0]) {
		say(c, L_OK, "privileges", NULL,
		    "%s imports none of setuid, setgid, setresuid, initgroups, capset, "
		    "cap_set_proc and their kin: it keeps the privileges it starts with",
		    esc);
		return;
	}
	getrlimit(RLIMIT_MEMLOCK, &rl);
	dm_limit_text(soft, sizeof(soft), rl.rlim_cur, true);
	dm_limit_text(hard, sizeof(hard), rl.rlim_max, true);
	if (rl.rlim_max == RLIM_INFINITY || has_cap(CAP_SYS_RESOURCE)) {
		say(c, L_OK, "privileges", NULL,
		    "%s can drop privileges (imports %s); harmless here: RLIMIT_MEMLOCK %s, "
		    "which the drop keeps",
		    esc, im->drops,
		    rl.rlim_max == RLIM_INFINITY ? "is unlimited" :
						   "is lifted to unlimited by the library "
						   "(CAP_SYS_RESOURCE)");
		return;
	}
	if (!dm_has_ipc_lock()) {
		say(c, L_INFO, "privileges", NULL,
		    "%s can drop privileges (imports %s); MCL_FUTURE is withheld here anyway (no "
		    "CAP_IPC_LOCK under a finite limit), so the drop changes nothing",
		    esc, im->drops);
		return;
	}
	if (im->wraps_setuid)
		say(c, L_WARN, "privileges",
		    "LimitMEMLOCK=infinity (systemd), docker run --ulimit memlock=-1:-1, or keep "
		    "CAP_SYS_RESOURCE so the library lifts the limit",
		    "%s can drop privileges (imports %s) while RLIMIT_MEMLOCK is finite (soft "
		    "%s, hard %s) and cannot be lifted (no CAP_SYS_RESOURCE): the library sees "
		    "the drop (it wraps setuid and its kin), takes MCL_FUTURE off for it, and "
		    "puts it back only where it cannot fail; without CAP_IPC_LOCK after the drop "
		    "it unlocks the process and says so once: the program keeps working, "
		    "unlocked (duende-mlock status shows it)",
		    esc, im->drops, soft, hard);
	else
		say(c, L_WARN, "privileges",
		    "LimitMEMLOCK=infinity (systemd), docker run --ulimit memlock=-1:-1, or keep "
		    "CAP_SYS_RESOURCE so the library lifts the limit",
		    "%s can drop privileges (imports %s) while RLIMIT_MEMLOCK is finite (soft "
		    "%s, hard %s) and cannot be lifted (no CAP_SYS_RESOURCE): the library keeps "
		    "MCL_FUTURE on CAP_IPC_LOCK, which the drop loses; from then on every mmap, "
		    "brk and thread stack fails at the limit, which its locked memory already "
		    "exceeds (nginx workers die, haproxy gets SIGSEGV)",
		    esc, im->drops, soft, hard);
}

static bool is_named(const char *path, const char *name)
{
	return strcmp(dm_base_name(path), name) == 0;
}

static void check_madvise(struct checks *c, const char *path, const char *esc, struct imports *im)
{
	const char *runtime = NULL;
	char how[400] = "";

	if (is_named(path, "node") || is_named(path, "nodejs"))
		runtime = "Node.js: V8 checks the result and aborts";
	else if (is_named(path, "java"))
		runtime = "a JVM: its collectors return heap with madvise";
	if (!im->frees[0] && !im->free_libs[0] && !runtime)
		return;
	if (im->frees[0])
		snprintf(how, sizeof(how), "imports %s", im->frees);
	if (im->free_libs[0])
		snprintf(how + strlen(how), sizeof(how) - strlen(how), "%slinks %s",
			 how[0] ? "; " : "", im->free_libs);
	if (runtime)
		snprintf(how + strlen(how), sizeof(how) - strlen(how), "%s%s", how[0] ? "; " : "",
			 runtime);
	if (c->s->profile == DM_PROFILE_SWAP_SERVER)
		say(c, runtime ? L_WARN : L_INFO, "madvise",
		    runtime ? "a runtime that checks madvise cannot serve swap under the profile" :
			      NULL,
		    "%s frees memory with madvise (%s): under the swap-server profile freed memory "
		    "stays locked and resident by design (faulting it back in under pressure is "
		    "the deadlock), so the call fails with EINVAL as the kernel answers it",
		    esc, how);
	else if (!c->s->future)
		say(c, L_OK, "madvise", NULL,
		    "%s frees memory with madvise (%s): with future = false what it maps after "
		    "start is not locked, and madvise works on that",
		    esc, how);
	else if (im->wraps_madvise)
		say(c, L_INFO, "madvise", NULL,
		    "%s frees memory with madvise (%s): the library wraps madvise, so "
		    "MADV_DONTNEED and MADV_FREE on memory it locked succeed as without it; "
		    "frees made inside libc (glibc malloc's own trimming) do not pass the "
		    "wrapper and stay locked and resident; under the swap-server profile freed "
		    "memory stays locked by design",
		    esc, how);
	else
		say(c, L_WARN, "madvise",
		    "leave it out of programs, or set future = false for it: memory mapped after "
		    "start is then not locked, and madvise works on it",
		    "%s frees memory with madvise (%s): the kernel refuses MADV_DONTNEED and "
		    "MADV_FREE on locked memory (EINVAL), so under MCL_FUTURE freed memory never "
		    "returns (jemalloc keeps it resident), and a program that checks the result "
		    "aborts",
		    esc, how);
}

/* Whether the program drops privileges: 1 yes, 0 no, -1 not known. */
static int check_program_calls(struct checks *c, const char *path)
{
	struct imports im = { .drops = "" };
	const char *lib = tool_library_path();
	char esc[PATH_MAX];
	int r;

	dm_escape(esc, sizeof(esc), path, PATH_MAX / 4);
	r = tool_elf_symbols(path, program_symbol, &im);
	if (r < 0) {
		if (r != -ENOTSUP)
			say(c, L_INFO, "privileges", NULL,
			    "%s: its dynamic symbols could not be read (%s): privilege drops and "
			    "madvise not checked",
			    esc, strerror(-r));
		return -1;
	}
	/* Absent or unreadable: no wrappers to count on. */
	tool_elf_symbols(lib, library_symbol, &im);
	check_privilege_drop(c, esc, &im);
	check_madvise(c, path, esc, &im);
	return im.drops[0] != '\0';
}

/*
 * A limit that cannot be lifted, with the capability: MCL_FUTURE then lasts as long as the
 * capability. Said as a warning where nobody knows whether the program drops it; a program known
 * to drop it has had its warning, one known not to is told why it does not matter.
 */
static void check_lift(struct checks *c, int drops)
{
	char hard[32];
	struct rlimit rl;

	getrlimit(RLIMIT_MEMLOCK, &rl);
	if (rl.rlim_max == RLIM_INFINITY || has_cap(CAP_SYS_RESOURCE))
		return;
	dm_limit_text(hard, sizeof(hard), rl.rlim_max, true);
	if (dm_has_ipc_lock() && drops == 0)
		say(c, L_INFO, "limit", NULL,
		    "RLIMIT_MEMLOCK hard %s cannot be lifted (no CAP_SYS_RESOURCE): MCL_FUTURE "
		    "rests on CAP_IPC_LOCK alone, which the program keeps",
		    hard);
	else if (dm_has_ipc_lock() && drops < 0)
		say(c, L_WARN, "limit",
		    "LimitMEMLOCK=infinity (systemd), ulimit -l unlimited, docker run --ulimit "
		    "memlock=-1:-1",
		    "RLIMIT_MEMLOCK hard %s cannot be lifted (no CAP_SYS_RESOURCE): MCL_FUTURE "
		    "rests on CAP_IPC_LOCK alone, which a privilege drop loses",
		    hard);
	else if (!dm_has_ipc_lock())
		say(c, L_INFO, "limit", NULL,
		    "RLIMIT_MEMLOCK hard %s cannot be lifted (no CAP_SYS_RESOURCE): the program "
		    "runs partly locked, and duende-mlock status says so (exit 3)",
		    hard);
}

/* ---- a running instance: what status would say of it ---- */

static void check_running(struct checks *c, int pid, struct tool_lockstate *ls)
{
	char a[32], b[32], fix[64];
	struct dm_proc_mem mem;
	int err = dm_proc_mem_read(pid, &mem);

	if (err == 0)
		err = tool_lockstate_read(pid, ls);
	snprintf(fix, sizeof(fix), "duende-mlock status %d", pid);
	switch (tool_lock_state(err, &mem, ls)) {
	case TOOL_ST_LOCKED:
		say(c, L_OK, "running", NULL,
		    "the running instance, PID %d, is fully locked, and new memory will be (%s)",
		    pid, ls->future_inferred ? "inferred" : "its marker says so");
		break;
	case TOOL_ST_PARTLY:
		say(c, L_WARN, "running", fix,
		    "the running instance, PID %d, is partly locked: %s of %s resident (%.1f%%)%s",
		    pid, tool_human_bytes(a, sizeof(a), ls->locked_rss),
		    tool_human_bytes(b, sizeof(b), ls->resident), tool_locked_percent(ls),
		    ls->future == TOOL_FUTURE_NO ? ", new memory not locked" : "");
		break;
	case TOOL_ST_AT_LIMIT:
		say(c, L_FAIL, "running", dm_errno_remedy(ENOMEM),
		    "the running instance, PID %d, holds %s locked, which has reached its "
		    "RLIMIT_MEMLOCK %s, without CAP_IPC_LOCK, and new memory is locked: its next "
		    "mmap, brk or thread stack fails",
		    pid, tool_human_bytes(a, sizeof(a), mem.vm_lck),
		    tool_human_bytes(b, sizeof(b), ls->memlock_soft));
		break;
	case TOOL_ST_IN_SWAP:
		say(c, L_WARN, "running", fix,
		    "the running instance, PID %d, is locked, but %s of it is in swap", pid,
		    tool_human_bytes(a, sizeof(a), mem.vm_swap));
		break;
	case TOOL_ST_NOT_LOCKED:
		say(c, L_INFO, "running", NULL,
		    "the running instance, PID %d, is not locked (started without the library, or "
		    "before it was set up)",
		    pid);
		break;
	default:
		say(c, L_INFO, "running", NULL,
		    "the running instance, PID %d, could not be read fully (run as root)", pid);
		break;
	}
}

/* ---- swap server ---- */

static int read_long(const char *path, long long *v)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	if (strncmp(buf, "max", 3) == 0) {
		*v = -1;
		return 0;
	}
	*v = strtoll(buf, NULL, 10);
	return 0;
}

/* The block device a swap area lives on (a device, or a file's file system) served from user
 * space? nbd and ublk; name in out. */
static bool user_space_device(const char *swap, char *out, size_t size)
{
	char link[64], target[PATH_MAX];
	struct stat st;
	dev_t dev;
	ssize_t n;
	const char *base;

	if (stat(swap, &st) < 0)
		return false;
	dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	base = dm_base_name(target);
	snprintf(out, size, "%s", base);
	return strncmp(base, "nbd", 3) == 0 || strncmp(base, "ublkb", 5) == 0;
}

/* Swap areas on user-space devices, named in list; how many. */
static unsigned user_space_swaps(char *list, size_t size)
{
	char line[PATH_MAX + 64];
	unsigned n = 0;
	FILE *f = fopen("/proc/swaps", "re");

	list[0] = '\0';
	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f)) { /* the header */
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char dev[64], esc[256], item[400];

		line[strcspn(line, " \t\n")] = '\0';
		if (!user_space_device(line, dev, sizeof(dev)))
			continue;
		dm_escape(esc, sizeof(esc), line, 64);
		snprintf(item, sizeof(item), "%s (on %s)", esc, dev);
		add_name(list, size, item);
		n++;
	}
	fclose(f);
	return n;
}

static void check_vm_settings(struct checks *c)
{
	char fix[160];
	long long v;

	if (read_long("/proc/sys/vm/min_free_kbytes", &v) == 0) {
		snprintf(fix, sizeof(fix),
			 "sysctl -w vm.min_free_kbytes=%d, and the same line in /etc/sysctl.d/",
			 DM_SWAP_SERVER_MIN_FREE_KBYTES);
		if (v < DM_SWAP_SERVER_MIN_FREE_KBYTES)
			say(c, L_WARN, "vm", fix,
			    "vm.min_free_kbytes is %lld, below %d: the reserve the kernel keeps "
			    "for allocations made on the server's behalf under pressure (socket "
			    "buffers for its replies) is too small; in the VM runs a server "
			    "without it deadlocked",
			    v, DM_SWAP_SERVER_MIN_FREE_KBYTES);
		else
			say(c, L_OK, "vm", NULL, "vm.min_free_kbytes is %lld (at least %d)", v,
			    DM_SWAP_SERVER_MIN_FREE_KBYTES);
	}
	if (read_long("/proc/sys/vm/watermark_boost_factor", &v) == 0) {
		snprintf(fix, sizeof(fix),
			 "sysctl -w vm.watermark_boost_factor=%d, and the same line in "
			 "/etc/sysctl.d/",
			 DM_SWAP_SERVER_WATERMARK_BOOST_FACTOR);
		if (v != DM_SWAP_SERVER_WATERMARK_BOOST_FACTOR)
			say(c, L_WARN, "vm", fix,
			    "vm.watermark_boost_factor is %lld: after fragmentation kswapd "
			    "reclaims (and swaps out to the server) beyond the normal "
			    "watermarks; in the VM runs recorded in the source tree's "
			    "vm/RESULTS.md the server survived with %d (and SCHED_FIFO)",
			    v, DM_SWAP_SERVER_WATERMARK_BOOST_FACTOR);
		else
			say(c, L_OK, "vm", NULL, "vm.watermark_boost_factor is %lld", v);
	}
}

/* The memory limit of a process's cgroup and its ancestors; v2 or the v1 memory controller. */
static void check_cgroup(struct checks *c, int pid)
{
	char path[64], line[PATH_MAX + 128], cg[PATH_MAX] = "", dir[PATH_MAX + 32];
	bool v2 = true;
	long long limit = -1, high = -1, adj = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid ? pid : (int)getpid());
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *ctl = strchr(line, ':'), *p = ctl ? strchr(ctl + 1, ':') : NULL;

		if (!p)
			continue;
		p[strcspn(p, "\n")] = '\0';
		if (strncmp(line, "0::", 3) == 0 && !cg[0]) {
			snprintf(cg, sizeof(cg), "%s", p + 1);
		} else if (strncmp(ctl, ":memory:", 8) == 0) {
			snprintf(cg, sizeof(cg), "%s", p + 1);
			v2 = false;
			break;
		}
	}
	fclose(f);
	if (!cg[0])
		return;
	/* The tightest limit on the way up decides. */
	for (;;) {
		long long v;
		char *slash;

		snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s%s", v2 ? "" : "/memory",
			 strcmp(cg, "/") == 0 ? "" : cg);
		snprintf(line, sizeof(line), "%s/%s", dir,
			 v2 ? "memory.max" : "memory.limit_in_bytes");
		/* v1 spells "no limit" as a page-rounded LLONG_MAX. */
		if (read_long(line, &v) == 0 && v >= 0 && v < (1LL << 62) &&
		    (limit < 0 || v < limit))
			limit = v;
		if (v2) {
			snprintf(line, sizeof(line), "%s/memory.high", dir);
			if (read_long(line, &v) == 0 && v >= 0 && (high < 0 || v < high))
				high = v;
		}
		slash = strrchr(cg, '/');
		if (!slash || strcmp(cg, "/") == 0)
			break;
		if (slash == cg)
			cg[1] = '\0';
		else
			*slash = '\0';
	}
	if (pid) {
		snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
		read_long(path, &adj);
	}
	if (limit < 0 && high < 0) {
		say(c, L_OK, "cgroup", NULL, "no memory limit on the %s's cgroup",
		    pid ? "server" : "shell");
		return;
	}
	if (limit >= 0) {
		char l[32];

		tool_human_bytes(l, sizeof(l), (uint64_t)limit);
		say(c, L_WARN, "cgroup",
		    "give the server a cgroup of its own without a memory limit "
		    "(MemoryMax=infinity), or one well above its locked memory and page cache",
		    "the %s's cgroup has a memory limit of %s (%s): locked memory counts against "
		    "it, and at the limit the cgroup's OOM killer runs%s",
		    pid ? "server" : "shell", l, v2 ? "memory.max" : "memory.limit_in_bytes",
		    adj == -1000 ? "; with oom_score_adj -1000 the server is no victim, and if "
				   "nothing else in the cgroup is, the cgroup's allocations wait "
				   "with no way out" :
				   ", and may kill the server");
	}
	if (high >= 0) {
		char h[32];

		tool_human_bytes(h, sizeof(h), (uint64_t)high);
		say(c, L_WARN, "cgroup", "MemoryHigh=infinity for the server's cgroup",
		    "the %s's cgroup has memory.high %s: above it the kernel throttles the "
		    "server and reclaims from it, swapping to itself",
		    pid ? "server" : "shell", h);
	}
}

struct profile_probe {
	bool ran;
	int io_flusher; /* errno, 0 on success */
	int oom;
	int fifo;
};

/* The profile's three privileged steps, tried in a child that exits at once. */
static void probe_profile(struct profile_probe *p)
{
	int fds[2], status;
	pid_t pid;

	*p = (struct profile_probe){ 0 };
	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		struct sched_param sp = { .sched_priority = DM_SWAP_SERVER_RT_PRIORITY };
		int res[3], fd;

		res[0] = prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) == 0 ? 0 : errno;
		fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		res[1] = fd < 0 ? errno : write(fd, "-1000", 5) == 5 ? 0 : errno;
		if (fd >= 0)
			close(fd);
		res[2] = sched_setscheduler(0, SCHED_FIFO, &sp) == 0 ? 0 : errno;
		_exit(write(fds[1], res, sizeof(res)) == sizeof(res) ? 0 : 1);
	}
	close(fds[1]);
	{
		int res[3];

		if (read(fds[0], res, sizeof(res)) == sizeof(res)) {
			p->ran = true;
			p->io_flusher = res[0];
			p->oom = res[1];
			p->fifo = res[2];
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

static bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int a = 0, b = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return true;
	return a > major || (a == major && b >= minor);
}

/* Under required a step not done stops the server: what would only warn is a failure then. */
static enum tool_level step_level(const struct checks *c)
{
	return c->s->required ? L_FAIL : L_WARN;
}

static void check_profile_steps(struct checks *c)
{
	struct profile_probe p;
	struct rlimit rt;
	bool sys_resource = has_cap(CAP_SYS_RESOURCE), sys_nice = has_cap(CAP_SYS_NICE);

	probe_profile(&p);
	if (!p.ran) {
		say(c, L_INFO, "profile", NULL, "could not run the probe of the profile's steps");
		return;
	}
	if (p.io_flusher == 0)
		say(c, L_OK, "profile", NULL, "PR_SET_IO_FLUSHER would succeed here");
	else if (p.io_flusher == EINVAL && !kernel_at_least(5, 6))
		say(c, step_level(c), "profile", "Linux 5.6 or later",
		    "PR_SET_IO_FLUSHER would fail: the kernel is older than 5.6");
	else
		say(c, step_level(c), "profile",
		    "grant CAP_SYS_RESOURCE (AmbientCapabilities=CAP_SYS_RESOURCE in the unit; "
		    "docker --cap-add=SYS_RESOURCE)",
		    "PR_SET_IO_FLUSHER would fail (%s)%s: the server's own allocations may then "
		    "start I/O to the device it serves",
		    strerror(p.io_flusher),
		    sys_resource ? "" : ": it needs CAP_SYS_RESOURCE, which this shell lacks");
	if (p.oom == 0)
		say(c, L_OK, "profile", NULL, "oom_score_adj -1000 would succeed here");
	else
		say(c, step_level(c), "profile",
		    "grant CAP_SYS_RESOURCE, or OOMScoreAdjust=-1000 in the unit",
		    "lowering oom_score_adj to -1000 would fail (%s)%s: the OOM killer may pick "
		    "the server",
		    strerror(p.oom),
		    sys_resource ? "" :
				   ": lowering it needs CAP_SYS_RESOURCE, which this shell "
				   "lacks");
	getrlimit(RLIMIT_RTPRIO, &rt);
	if (p.fifo == 0) {
		say(c, L_OK, "profile", NULL, "SCHED_FIFO priority %d would succeed here (%s)",
		    DM_SWAP_SERVER_RT_PRIORITY,
		    sys_nice ? "CAP_SYS_NICE" : "RLIMIT_RTPRIO allows it");
	} else {
		char why[160];

		if (!sys_nice && (rt.rlim_cur == RLIM_INFINITY ||
				  rt.rlim_cur >= (rlim_t)DM_SWAP_SERVER_RT_PRIORITY))
			snprintf(why, sizeof(why),
				 ": RLIMIT_RTPRIO would allow it, so real-time time is denied "
				 "(kernel.sched_rt_runtime_us, or the cgroup's cpu.rt_runtime_us)");
		else
			snprintf(why, sizeof(why),
				 ": it needs CAP_SYS_NICE or RLIMIT_RTPRIO >= %d (it is %llu)",
				 DM_SWAP_SERVER_RT_PRIORITY,
				 rt.rlim_cur == RLIM_INFINITY ? 99ULL :
								(unsigned long long)rt.rlim_cur);
		say(c, step_level(c), "profile",
		    "grant CAP_SYS_NICE, or LimitRTPRIO= in the unit (ulimit -r); or "
		    "CPUSchedulingPolicy=fifo",
		    "SCHED_FIFO priority %d would fail (%s)%s: without a real-time class the "
		    "kernel's allocations for the server cannot dip into the reserves",
		    DM_SWAP_SERVER_RT_PRIORITY, strerror(p.fifo), why);
	}
}

/* The export step: the I/O object beside the library, and O_DIRECT on the export. */
static void check_export(struct checks *c)
{
	char io[PATH_MAX], esc[160];
	struct stat st;
	int fd;

	if (!c->s->export_path[0]) {
		say(c, L_INFO, "export", NULL,
		    "no export named: the server's I/O to its export goes through the page cache, "
		    "which it must allocate under pressure (the export key)");
		return;
	}
	dm_escape(esc, sizeof(esc), c->s->export_path, 64);
	if (tool_io_library_path(io, sizeof(io)) == 0 && access(io, R_OK) == 0)
		say(c, L_OK, "export", NULL, "%s is installed; preload it beside the library", io);
	else
		say(c, step_level(c), "export", "install it beside the library, and preload both",
		    "%s: %s: the export step cannot be taken", io, strerror(errno));
	/* What the arming takes, and nothing that could block (a FIFO) or act (a tape). */
	errno = 0;
	if (stat(c->s->export_path, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		say(c, step_level(c), "export",
		    "set export to the file or block device the server opens",
		    "%s: %s: the export step cannot be taken", esc,
		    errno ? strerror(errno) : "not a regular file or a block device");
		return;
	}
	fd = open(c->s->export_path, O_RDONLY | O_DIRECT | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		say(c, L_OK, "export", NULL, "%s opens with O_DIRECT", esc);
	} else {
		int err = errno;

		say(c, step_level(c), "export",
		    err == EINVAL ? "export a block device, or a file on ext4, xfs or btrfs" :
				    "set export to the path the server opens",
		    "%s does not open with O_DIRECT (%s): its I/O would stay in the page cache",
		    esc, err == EINVAL ? "its file system does no O_DIRECT" : strerror(err));
	}
}

/* The running server's own state, read back as status does. */
static void check_running_server(struct checks *c, int pid, const struct tool_lockstate *ls)
{
	bool flusher = (ls->main.flags & TOOL_PF_IO_FLUSHER) == TOOL_PF_IO_FLUSHER;
	bool rt = ls->main.policy == SCHED_FIFO || ls->main.policy == SCHED_RR;

	say(c, flusher ? L_OK : L_WARN, "running", flusher ? NULL : "the profile's io_flusher step",
	    "the running server, PID %d: IO_FLUSHER %s", pid, flusher ? "set" : "not set");
	if (ls->have_oom)
		say(c, ls->oom_score_adj == -1000 ? L_OK : L_WARN, "running",
		    ls->oom_score_adj == -1000 ? NULL : "the profile's oom_score_adj step",
		    "the running server, PID %d: oom_score_adj %d", pid, ls->oom_score_adj);
	say(c, rt ? L_OK : L_WARN, "running", rt ? NULL : "the profile's real-time step",
	    "the running server, PID %d: %s%s (%u of %u threads real-time)", pid,
	    tool_policy_name(ls->main.policy), rt ? "" : ", not real-time", ls->rt_threads,
	    ls->threads);
}

static void check_swap_server(struct checks *c, int running_pid, const struct tool_lockstate *ls)
{
	char swaps[512];
	unsigned n = user_space_swaps(swaps, sizeof(swaps));
	bool profile = c->s->profile == DM_PROFILE_SWAP_SERVER;

	if (profile)
		say(c, L_INFO, "swap-server", NULL,
		    "the settings select profile swap-server (%s): checking what it depends on",
		    c->s->origin[DM_KEY_PROFILE] == DM_FROM_ENV ? "DUENDE_MLOCK_PROFILE" :
								  "the config file");
	if (!n && !profile) {
		say(c, L_INFO, "swap-server", NULL,
		    "no swap on a device served from user space (nbd, ublk) and the profile is "
		    "not swap-server: swap-server checks skipped");
		return;
	}
	if (n)
		say(c, L_WARN, "swap-server",
		    "run its server under the swap-server profile and the system settings below; "
		    "swapoff before the server stops",
		    "swap on %s: a server in user space serves it, and deadlocks if, while "
		    "serving, it must allocate memory that reclaim can only free by swapping to "
		    "it",
		    swaps);
	check_vm_settings(c);
	check_cgroup(c, running_pid);
	check_profile_steps(c);
	if (profile)
		check_export(c);
	if (profile && c->s->required)
		say(c, L_INFO, "profile", NULL,
		    "required = true: a step not done stops the server before main() (exit 71), so "
		    "each step that would fail here is a failure");
	if (running_pid && ls->have_main)
		check_running_server(c, running_pid, ls);
}

void tool_doctor_checks(const char *program, int running_pid, const struct dm_settings *s,
			unsigned *warns, unsigned *fails)
{
	struct checks c = { warns, fails, s };
	struct tool_lockstate ls = { 0 };
	int drops = -1;

	if (program)
		drops = check_program_calls(&c, program);
	check_lift(&c, drops);
	if (running_pid)
		check_running(&c, running_pid, &ls);
	check_swap_server(&c, running_pid, &ls);
}
