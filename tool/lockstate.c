/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * How much of a process is locked, whether its new memory will be, and the per-task state a swap
 * server depends on. Read from /proc only, for any process this user may trace.
 *
 * Locked or not is decided per mapping, from VmFlags in /proc/PID/smaps ("lo" is VM_LOCKED), and
 * only over the mappings mlockall(2) can lock: mm/mlock.c (mlock_fixup) leaves VM_SPECIAL
 * mappings (VM_IO, VM_DONTEXPAND, VM_PFNMAP, VM_MIXEDMAP: [vvar], [vdso]), hugetlb mappings and
 * the gate mapping ([vsyscall]) alone. Every resident page of a VM_LOCKED mapping is locked, so
 * the resident figures are sums of Rss: Locked: in smaps counts shared pages in proportion (as
 * Pss does) and would put a fully locked process below 100%.
 *
 * MCL_FUTURE (mm->def_flags) is not shown anywhere in /proc. What tells it: a mapping made after
 * the lock gets VM_LOCKED from the kernel only when MCL_FUTURE is on. When the process holds a
 * mapping named DM_MARKER_NAME, made for that purpose after its last lock call, its "lo" flag is
 * the answer; otherwise it is inferred: a process that has mapped memory since its lock shows an
 * unlocked mapping beside locked ones unless MCL_FUTURE is on.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

/* ---- tasks: /proc/PID/task/TID/{stat,syscall} ---- */

/*
 * Fields of /proc/PID/stat after the ")" that ends comm (which may hold anything, ")" included):
 * field 3 (state) is index 0. proc(5): 4 ppid, 9 flags, 19 nice, 20 num_threads, 40 rt_priority,
 * 41 policy.
 */
#define STAT_PPID 1
#define STAT_FLAGS 6
#define STAT_NICE 16
#define STAT_THREADS 17
#define STAT_RT_PRIORITY 37
#define STAT_POLICY 38
#define STAT_FIELDS 39

static int read_small(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	return (int)n;
}

int tool_stat_read(const char *path, struct tool_stat *st)
{
	char buf[1024], *p, *end;
	long long f[STAT_FIELDS];
	int r;

	r = read_small(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	p = strrchr(buf, ')');
	if (!p)
		return -EBADMSG;
	p += 2; /* ") " */
	/* Field 3 is a letter: skip it. */
	if (!*p)
		return -EBADMSG;
	p++;
	f[0] = 0;
	for (int i = 1; i < STAT_FIELDS; i++) {
		/* rsslim (field 25) is ULONG_MAX when unlimited: parse unsigned; "-1" wraps. */
		f[i] = (long long)strtoull(p, &end, 10);
		if (end == p)
			return -EBADMSG;
		p = end;
	}
	*st = (struct tool_stat){
		.ppid = (int)f[STAT_PPID],
		.flags = (unsigned)f[STAT_FLAGS],
		.nice = (int)f[STAT_NICE],
		.threads = (unsigned)f[STAT_THREADS],
		.rt_priority = (int)f[STAT_RT_PRIORITY],
		.policy = (int)f[STAT_POLICY],
	};
	return 0;
}

/*
 * The user stack pointer of a task that is blocked: /proc/PID/task/TID/syscall is
 * "NR ARG1..ARG6 SP PC", or "-1 SP PC" outside a system call, or "running" (fs/proc/base.c,
 * proc_pid_syscall; it needs the right to attach to the task). False when it is running or the
 * file cannot be read.
 */
static bool task_sp(int pid, const char *tid, uint64_t *sp)
{
	char path[320], buf[256], *tok[9], *save = NULL;
	unsigned n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall", pid, tid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return false;
	for (char *t = strtok_r(buf, " \n", &save); t && n < 9; t = strtok_r(NULL, " \n", &save))
		tok[n++] = t;
	if (n != 9 && n != 3)
		return false;
	*sp = strtoull(tok[n - 2], NULL, 16);
	return *sp != 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct sps {
	uint64_t *v;
	size_t n, cap;
};

static int read_tasks(int pid, struct tool_lockstate *ls, struct sps *sps)
{
	char path[64];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		char stat_path[96];
		struct tool_stat st;
		uint64_t sp;
		int tid;

		if (tool_parse_pid(de->d_name, &tid) < 0)
			continue;
		snprintf(stat_path, sizeof(stat_path), "/proc/%d/task/%d/stat", pid, tid);
		if (tool_stat_read(stat_path, &st) < 0)
			continue; /* exited meanwhile */
		ls->threads++;
		if ((st.flags & TOOL_PF_IO_FLUSHER) == TOOL_PF_IO_FLUSHER)
			ls->io_flusher_threads++;
		if (st.policy == SCHED_FIFO || st.policy == SCHED_RR)
			ls->rt_threads++;
		if (tid == pid) {
			ls->main = st;
			ls->have_main = true;
		}
		if (!task_sp(pid, de->d_name, &sp)) {
			ls->stacks_unknown++;
			continue;
		}
		if (sps->n == sps->cap) {
			size_t cap = sps->cap ? sps->cap * 2 : 64;
			uint64_t *nv = realloc(sps->v, cap * sizeof(*nv));

			if (!nv) {
				closedir(dir);
				return -ENOMEM;
			}
			sps->v = nv;
			sps->cap = cap;
		}
		sps->v[sps->n++] = sp;
	}
	closedir(dir);
	/* qsort()'s base must not be NULL, even for no elements (UBSan nonnull-arg). */
	if (sps->n)
		qsort(sps->v, sps->n, sizeof(*sps->v), cmp_u64);
	ls->have_tasks = ls->threads > 0;
	return 0;
}

/* ---- mappings: /proc/PID/smaps ---- */

struct vma {
	uint64_t start, end;
	uint64_t rss;
	bool locked;
	bool special; /* mlockall leaves it alone */
	bool marker;
	bool have_flags;
};

/* The two-letter VmFlags mnemonics (fs/proc/task_mmu.c, show_smap_vma_flags). */
static void parse_vmflags(const char *s, struct vma *v)
{
	v->have_flags = true;
	for (; *s; s++) {
		if (s[0] == ' ' || s[0] == '\n' || !s[1])
			continue;
		if (s[2] != ' ' && s[2] != '\n' && s[2] != '\0')
			continue;
		if (memcmp(s, "lo", 2) == 0)
			v->locked = true;
		else if (memcmp(s, "io", 2) == 0 || memcmp(s, "de", 2) == 0 ||
			 memcmp(s, "pf", 2) == 0 || memcmp(s, "mm", 2) == 0 ||
			 memcmp(s, "ht", 2) == 0)
			v->special = true;
		s++;
	}
}

static bool is_marker_name(const char *name)
{
	/* [anon:NAME] (PR_SET_VMA_ANON_NAME) or /memfd:NAME (deleted) (memfd_create). */
	return strcmp(name, "[anon:" DM_MARKER_NAME "]") == 0 ||
	       strncmp(name, "/memfd:" DM_MARKER_NAME " ", strlen("/memfd:" DM_MARKER_NAME " ")) ==
		       0 ||
	       strcmp(name, "/memfd:" DM_MARKER_NAME) == 0;
}

static void vma_done(struct tool_lockstate *ls, const struct vma *v, const struct sps *sps)
{
	size_t lo = 0, hi = sps->n;

	if (!v->have_flags)
		return;
	if (v->marker) {
		ls->marker = true;
		ls->marker_locked = v->locked;
		return; /* the probe, not the program's memory */
	}
	if (!v->special) {
		ls->lockable_maps++;
		ls->resident += v->rss;
		if (v->locked) {
			ls->locked_maps++;
			ls->locked_rss += v->rss;
		} else {
			ls->unlocked_maps++;
			ls->unlocked_rss += v->rss;
		}
	}
	/* Is some task's stack pointer in it? The first sp >= start, by bisection. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (sps->v[mid] < v->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < sps->n && sps->v[lo] < v->end) {
		unsigned in = 0;

		for (size_t i = lo; i < sps->n && sps->v[i] < v->end; i++)
			in++;
		ls->stacks_found += in;
		ls->stack_maps++;
		ls->stack_size += v->end - v->start;
		ls->stack_rss += v->rss;
		if (v->locked)
			ls->stack_locked += v->rss;
	}
}

static bool parse_header(const char *line, struct vma *v)
{
	unsigned long long s, e;
	int name_at = 0;
	const char *name;
	char *end;

	errno = 0;
	s = strtoull(line, &end, 16);
	if (end == line || *end != '-')
		return false;
	line = end + 1;
	e = strtoull(line, &end, 16);
	if (end == line || *end != ' ' || errno)
		return false;
	*v = (struct vma){ .start = s, .end = e };
	/* perms offset dev inode, then the name after blanks */
	if (sscanf(end, " %*s %*s %*s %*s %n", &name_at) < 0 || name_at == 0)
		return true;
	name = end + name_at;
	{
		char buf[PATH_MAX];
		size_t len = strcspn(name, "\n");

		if (len >= sizeof(buf))
			return true;
		memcpy(buf, name, len);
		buf[len] = '\0';
		v->marker = is_marker_name(buf);
		/* The gate mapping is no VMA of the process's own: mlock never touches it. */
		v->special = strcmp(buf, "[vsyscall]") == 0;
	}
	return true;
}

static int read_smaps(int pid, struct tool_lockstate *ls, const struct sps *sps)
{
	char *line = NULL;
	size_t cap = 0;
	struct vma v = { 0 };
	bool in_vma = false;
	FILE *f = tool_proc_fopen(pid, "smaps");

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		struct vma next;
		uint64_t kb;

		if (strncmp(line, "VmFlags:", 8) == 0) {
			parse_vmflags(line + 8, &v);
		} else if (sscanf(line, "Rss: %" SCNu64 " kB", &kb) == 1) {
			v.rss = kb * 1024;
		} else if (parse_header(line, &next)) {
			if (in_vma)
				vma_done(ls, &v, sps);
			v = next;
			in_vma = true;
		}
	}
	if (in_vma)
		vma_done(ls, &v, sps);
	free(line);
	/* A process this user may not trace gives an empty file, not an error. */
	if (ferror(f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return in_vma ? 0 : -EACCES;
}

/* "Max locked memory  SOFT  HARD  bytes" in /proc/PID/limits. */
static void read_limit(int pid, struct tool_lockstate *ls)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char soft[32];

		if (strncmp(line, "Max locked memory", 17) != 0)
			continue;
		if (sscanf(line + 17, " %31s", soft) == 1) {
			ls->have_limit = true;
			ls->memlock_soft = strcmp(soft, "unlimited") == 0 ?
						   UINT64_MAX :
						   strtoull(soft, NULL, 10);
		}
		break;
	}
	fclose(f);
}

/*
 * CAP_IPC_LOCK counts for mlock only in the initial user namespace (capable() in mm/mlock.c),
 * whose /proc/PID/ns/user inode is PROC_USER_INIT_INO.
 */
static void read_caps(int pid, struct tool_lockstate *ls)
{
	char path[64], line[256], ns[64];
	bool init_ns = true;
	uint64_t eff = 0;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	n = readlink(path, ns, sizeof(ns) - 1);
	if (n > 0) {
		ns[n] = '\0';
		init_ns = strcmp(ns, "user:[4026531837]") == 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "CapEff:", 7) == 0) {
			eff = strtoull(line + 7, NULL, 16);
			ls->have_caps = true;
			break;
		}
	fclose(f);
	ls->cap_ipc_lock = init_ns && (eff >> 14) & 1; /* CAP_IPC_LOCK */
}

static void decide_future(struct tool_lockstate *ls)
{
	if (ls->marker) {
		ls->future = ls->marker_locked ? TOOL_FUTURE_YES : TOOL_FUTURE_NO;
		ls->future_inferred = false;
		return;
	}
	ls->future_inferred = true;
	if (!ls->have_smaps)
		ls->future = TOOL_FUTURE_UNKNOWN;
	else if (ls->locked_maps == 0)
		ls->future = TOOL_FUTURE_NO;
	else
		ls->future = ls->unlocked_maps == 0 ? TOOL_FUTURE_YES : TOOL_FUTURE_NO;
}

int tool_lockstate_read(int pid, struct tool_lockstate *ls)
{
	struct sps sps = { 0 };
	char path[64], buf[32];
	int r;

	*ls = (struct tool_lockstate){ 0 };
	r = read_tasks(pid, ls, &sps);
	if (r == -ENOMEM)
		goto out;
	r = read_smaps(pid, ls, &sps);
	ls->have_smaps = r == 0;
	decide_future(ls);
	read_limit(pid, ls);
	read_caps(pid, ls);
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
	if (read_small(path, buf, sizeof(buf)) > 0) {
		ls->oom_score_adj = (int)strtol(buf, NULL, 10);
		ls->have_oom = true;
	}
	r = 0;
out:
	free(sps.v);
	return r;
}

/*
 * Past the limit, MCL_FUTURE makes every mmap, brk and thread stack fail (nginx workers after
 * their setuid, where nothing took MCL_FUTURE off for the drop).
 */
long long tool_lock_headroom(const struct dm_proc_mem *mem, const struct tool_lockstate *ls)
{
	if (ls->future != TOOL_FUTURE_YES || !ls->have_limit || !ls->have_caps ||
	    ls->cap_ipc_lock || ls->memlock_soft == UINT64_MAX)
		return -1;
	return mem->vm_lck >= ls->memlock_soft ? 0 : (long long)(ls->memlock_soft - mem->vm_lck);
}

enum tool_state tool_lock_state(int err, const struct dm_proc_mem *mem,
				const struct tool_lockstate *ls)
{
	if (err == -ENOENT || err == -ESRCH)
		return TOOL_ST_GONE;
	if (err)
		return TOOL_ST_UNREADABLE;
	if (mem->vm_lck == 0 && ls->locked_maps == 0)
		return TOOL_ST_NOT_LOCKED;
	if (!ls->have_smaps)
		return TOOL_ST_UNKNOWN;
	if (ls->unlocked_maps || ls->future == TOOL_FUTURE_NO)
		return TOOL_ST_PARTLY;
	if (tool_lock_headroom(mem, ls) == 0)
		return TOOL_ST_AT_LIMIT;
	if (mem->vm_swap)
		return TOOL_ST_IN_SWAP;
	return TOOL_ST_LOCKED;
}

double tool_locked_percent(const struct tool_lockstate *ls)
{
	return ls->resident ? 100.0 * (double)ls->locked_rss / (double)ls->resident : 100.0;
}

const char *tool_policy_name(int policy)
{
	switch (policy) {
	case SCHED_OTHER:
		return "SCHED_OTHER";
	case SCHED_FIFO:
		return "SCHED_FIFO";
	case SCHED_RR:
		return "SCHED_RR";
	case SCHED_BATCH:
		return "SCHED_BATCH";
	case SCHED_IDLE:
		return "SCHED_IDLE";
	case 6:
		return "SCHED_DEADLINE";
	case 7:
		return "SCHED_EXT";
	}
	return "unknown";
}
