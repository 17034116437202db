/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * duende-mlock status: is each process locked, and is any of it in swap. Read from /proc only,
 * so it works on any process, preloaded or locking itself through the API.
 *
 * VmLck (/proc/PID/status) is the locked virtual size, untouched MCL_ONFAULT ranges included;
 * Locked: in /proc/PID/smaps_rollup is what is locked and resident (fs/proc/task_mmu.c). Both are
 * shown because each alone misleads.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

static const char status_usage[] =
	"Usage: duende-mlock status [--json|--prometheus] [--no-children] [PID...|--all]\n"
	"\n"
	"For each process: VmLck (locked virtual memory), Locked (locked and resident, from\n"
	"smaps_rollup), RSS, swap, whether the duende-mlock library is mapped in it, whether\n"
	"new memory will be locked (NEW), and a verdict: locked, PARTLY LOCKED (with how much\n"
	"of resident memory is), NOT LOCKED. A second line shows what a swap server depends on:\n"
	"IO_FLUSHER, oom_score_adj, scheduling class, threads and their locked stacks.\n"
	"\n"
	"  --all            every process that has the library mapped (the default without PIDs)\n"
	"  --no-children    only the PIDs given, not their descendants that have the library\n"
	"  --json           a JSON array, one object per process\n"
	"  --prometheus     node_exporter textfile-collector format\n"
	"  -h, --help       this text\n"
	"\n"
	"Exit status: 0 when every process is fully locked (every mapping that can be, and new\n"
	"memory too) with nothing in swap; 3 when some are only partly locked and none worse;\n"
	"1 when one is not locked, has pages in swap, is locked up to its RLIMIT_MEMLOCK\n"
	"without CAP_IPC_LOCK (its next mapping fails), cannot be read or is gone; 2 on usage\n"
	"errors.\n";

enum format { FMT_TEXT, FMT_JSON, FMT_PROMETHEUS };

/* The "state" of JSON, for machines. */
static const char *const state_names[] = {
	[TOOL_ST_LOCKED] = "locked",
	[TOOL_ST_PARTLY] = "partly-locked",
	[TOOL_ST_IN_SWAP] = "in-swap",
	[TOOL_ST_AT_LIMIT] = "at-limit",
	[TOOL_ST_UNKNOWN] = "locked-extent-unknown",
	[TOOL_ST_NOT_LOCKED] = "not-locked",
	[TOOL_ST_UNREADABLE] = "unreadable",
	[TOOL_ST_GONE] = "gone",
};

struct proc_info {
	int pid;
	int ppid;
	int err;	    /* negative errno: the process could not be read */
	bool have_resident; /* smaps_rollup readable (needs ptrace read access) */
	bool have_maps;	    /* maps readable (same rule as smaps_rollup) */
	bool shim_loaded;
	bool child;    /* not asked for: a descendant of a PID that was */
	char comm[80]; /* escaped */
	struct dm_proc_mem mem;
	uint64_t locked_resident;
	struct tool_lockstate ls;
	enum tool_state state;
};

static int state_exit(enum tool_state st)
{
	if (st == TOOL_ST_LOCKED)
		return TOOL_EXIT_OK;
	return st == TOOL_ST_PARTLY ? TOOL_EXIT_PARTLY : TOOL_EXIT_FAIL;
}

/* Every mapping locked and new ones will be, swap or not: "locked" in JSON and Prometheus. */
static bool fully_locked(const struct proc_info *p)
{
	return p->state == TOOL_ST_LOCKED || p->state == TOOL_ST_IN_SWAP ||
	       p->state == TOOL_ST_AT_LIMIT;
}

static const char *future_word(const struct tool_lockstate *ls)
{
	if (!ls->have_smaps && !ls->marker)
		return "?";
	if (ls->future == TOOL_FUTURE_YES)
		return ls->future_inferred ? "yes*" : "yes";
	if (ls->future == TOOL_FUTURE_NO)
		return ls->future_inferred ? "no*" : "no";
	return "?";
}

static const char *verdict(const struct proc_info *p, char *buf, size_t size)
{
	const struct tool_lockstate *ls = &p->ls;
	char a[32], b[32];

	switch (p->state) {
	case TOOL_ST_GONE:
		return "no such process";
	case TOOL_ST_UNREADABLE:
		return "unreadable";
	case TOOL_ST_NOT_LOCKED:
		return p->mem.vm_size ? "NOT LOCKED" : "NOT LOCKED (kernel thread)";
	case TOOL_ST_UNKNOWN:
		return "LOCKED, EXTENT UNKNOWN (smaps unreadable)";
	case TOOL_ST_IN_SWAP:
		return "LOCKED, BUT PART IS IN SWAP";
	case TOOL_ST_AT_LIMIT:
		snprintf(buf, size,
			 "LOCKED, BUT NEW MEMORY WILL FAIL: VmLck %s has reached its "
			 "RLIMIT_MEMLOCK %s, without CAP_IPC_LOCK",
			 tool_human_bytes(a, sizeof(a), p->mem.vm_lck),
			 tool_human_bytes(b, sizeof(b), ls->memlock_soft));
		return buf;
	case TOOL_ST_LOCKED:
		return "locked";
	case TOOL_ST_PARTLY:
		break;
	}
	snprintf(buf, size, "PARTLY LOCKED: %s of %s resident (%.1f%%)%s%s",
		 tool_human_bytes(a, sizeof(a), ls->locked_rss),
		 tool_human_bytes(b, sizeof(b), ls->resident), tool_locked_percent(ls),
		 ls->future == TOOL_FUTURE_NO ? ", new memory not locked" : "",
		 p->mem.vm_swap ? ", part is in swap" : "");
	return buf;
}
static bool is_shim_path(const char *path)
{
	return dm_names_preload(path);
}

/* Is the library mapped? Each line of maps ends with the file's path, if any. */
static int read_shim_loaded(int pid, bool *loaded)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	*loaded = false;
	f = tool_proc_fopen(pid, "maps");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *slash = strchr(line, '/');

		if (!slash)
			continue;
		slash[strcspn(slash, "\n")] = '\0';
		if (is_shim_path(slash)) {
			*loaded = true;
			break;
		}
	}
	free(line);
	fclose(f);
	return 0;
}

static void read_comm(int pid, char *out, size_t size)
{
	char path[64], raw[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0) {
		n = read(fd, raw, sizeof(raw) - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(out, size, "?");
		return;
	}
	raw[n] = '\0';
	if (raw[n - 1] == '\n')
		raw[n - 1] = '\0';
	/* comm is chosen by the process (prctl PR_SET_NAME): it may hold anything. */
	dm_escape(out, size, raw, sizeof(raw));
}

static void proc_read(int pid, struct proc_info *p)
{
	char path[64];
	struct tool_stat st;

	*p = (struct proc_info){ .pid = pid };
	read_comm(pid, p->comm, sizeof(p->comm));
	p->err = dm_proc_mem_read(pid, &p->mem);
	if (p->err == 0) {
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if (tool_stat_read(path, &st) == 0)
			p->ppid = st.ppid;
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
		p->have_resident = dm_proc_read_kb(path, "Locked", &p->locked_resident) == 0;
		p->have_maps = read_shim_loaded(pid, &p->shim_loaded) == 0;
		p->err = tool_lockstate_read(pid, &p->ls);
	}
	p->state = tool_lock_state(p->err, &p->mem, &p->ls);
}

struct list {
	struct proc_info *v;
	size_t n, cap;
};

static struct proc_info *list_add(struct list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct proc_info *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		l->v = nv;
		l->cap = cap;
	}
	return &l->v[l->n++];
}

static bool list_has(const struct list *l, int pid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].pid == pid)
			return true;
	return false;
}

static int add_if_loaded(int pid, void *ctx)
{
	struct list *l = ctx;
	struct proc_info *p;
	bool loaded;

	if (read_shim_loaded(pid, &loaded) < 0 || !loaded)
		return 0;
	p = list_add(l);
	if (!p)
		return -ENOMEM;
	proc_read(pid, p);
	/* It may have exited between the two reads. */
	if (p->err)
		l->n--;
	return 0;
}

/* --all: every process with the library mapped, except this one. */
static int collect_all(struct list *l)
{
	return tool_proc_walk(add_if_loaded, l);
}

/*
 * The descendants of the PIDs asked about that have the library mapped: the workers of a master
 * (nginx, a forking server) are locked, or not, on their own, and a health check on the master's
 * PID must see them. Processes that show no library (a shell in between) are followed, not shown.
 */
struct pp {
	int pid, ppid;
};

struct pp_table {
	struct pp *v;
	size_t n, cap;
};

static int add_parent(int pid, void *ctx)
{
	struct pp_table *t = ctx;
	char path[64];
	struct tool_stat st;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (tool_stat_read(path, &st) < 0)
		return 0;
	if (t->n == t->cap) {
		struct pp *nv;

		t->cap = t->cap ? t->cap * 2 : 256;
		nv = realloc(t->v, t->cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		t->v = nv;
	}
	t->v[t->n++] = (struct pp){ pid, st.ppid };
	return 0;
}

static int collect_children(struct list *l)
{
	struct pp_table pt = { 0 };
	struct pp *all;
	size_t n, asked = l->n;
	bool grew = true;
	int *tree = NULL;
	size_t tree_n = 0;
	int r;

	r = tool_proc_walk(add_parent, &pt);
	all = pt.v;
	n = pt.n;
	if (r < 0)
		goto out;
	tree = calloc(n + asked + 1, sizeof(*tree));
	if (!tree) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < asked; i++)
		if (l->v[i].err == 0)
			tree[tree_n++] = l->v[i].pid;
	/* Breadth by repetition: few processes, shallow trees. */
	while (grew) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			bool in = false, parent_in = false;

			for (size_t k = 0; k < tree_n; k++) {
				in = in || tree[k] == all[i].pid;
				parent_in = parent_in || tree[k] == all[i].ppid;
			}
			if (in || !parent_in)
				continue;
			tree[tree_n++] = all[i].pid;
			grew = true;
		}
	}
	for (size_t k = 0; k < tree_n; k++) {
		struct proc_info *p;
		bool loaded;

		if (list_has(l, tree[k]) || read_shim_loaded(tree[k], &loaded) < 0 || !loaded)
			continue;
		p = list_add(l);
		if (!p) {
			r = -ENOMEM;
			goto out;
		}
		proc_read(tree[k], p);
		p->child = true;
		if (p->err)
			l->n--;
	}
out:
	free(all);
	free(tree);
	return r;
}

static void print_tasks_text(const struct proc_info *p)
{
	const struct tool_lockstate *ls = &p->ls;
	char a[32], b[32];

	printf("%-8s ", "");
	if (p->child)
		printf("child of %d; ", p->ppid);
	if (!ls->have_tasks) {
		printf("tasks unreadable\n");
		return;
	}
	if (ls->have_main)
		printf("io_flusher %s",
		       (ls->main.flags & TOOL_PF_IO_FLUSHER) == TOOL_PF_IO_FLUSHER ? "yes" : "no");
	if (ls->io_flusher_threads && ls->io_flusher_threads != ls->threads)
		printf(" (%u of %u threads)", ls->io_flusher_threads, ls->threads);
	if (ls->have_oom)
		printf("; oom_score_adj %d", ls->oom_score_adj);
	if (ls->have_main) {
		printf("; %s", tool_policy_name(ls->main.policy));
		if (ls->main.policy == SCHED_FIFO || ls->main.policy == SCHED_RR)
			printf(" priority %d", ls->main.rt_priority);
		else
			printf(" nice %d", ls->main.nice);
	}
	if (ls->rt_threads && ls->rt_threads != ls->threads)
		printf(" (%u of %u threads real-time)", ls->rt_threads, ls->threads);
	if (tool_lock_headroom(&p->mem, &p->ls) > 0) {
		printf("; new memory counts against RLIMIT_MEMLOCK %s (no CAP_IPC_LOCK): %s left",
		       tool_human_bytes(a, sizeof(a), ls->memlock_soft),
		       tool_human_bytes(b, sizeof(b),
					(uint64_t)tool_lock_headroom(&p->mem, &p->ls)));
	}
	printf("; %u thread%s", ls->threads, ls->threads == 1 ? "" : "s");
	if (ls->stacks_found)
		printf(", stacks %s locked of %s resident",
		       tool_human_bytes(a, sizeof(a), ls->stack_locked),
		       tool_human_bytes(b, sizeof(b), ls->stack_rss));
	if (ls->stacks_unknown)
		printf(" (%u stack%s not found: running or not traceable)", ls->stacks_unknown,
		       ls->stacks_unknown == 1 ? "" : "s");
	putchar('\n');
}

static void print_text(const struct proc_info *v, size_t n)
{
	char a[32], b[32], c[32], d[32], why[160];
	bool inferred = false;

	printf("%-8s %-16s %10s %10s %10s %10s %-5s %-4s %s\n", "PID", "COMM", "VMLCK", "LOCKED",
	       "RSS", "SWAP", "SHIM", "NEW", "VERDICT");
	for (size_t i = 0; i < n; i++) {
		const struct proc_info *p = &v[i];

		if (p->err) {
			printf("%-8d %-16s %10s %10s %10s %10s %-5s %-4s %s", p->pid, p->comm, "-",
			       "-", "-", "-", "-", "-", verdict(p, why, sizeof(why)));
			if (p->err != -ENOENT && p->err != -ESRCH)
				printf(" (%s)", strerror(-p->err));
			putchar('\n');
			continue;
		}
		inferred = inferred || (p->ls.future_inferred && p->state != TOOL_ST_NOT_LOCKED);
		printf("%-8d %-16s %10s %10s %10s %10s %-5s %-4s %s\n", p->pid, p->comm,
		       tool_human_bytes(a, sizeof(a), p->mem.vm_lck),
		       p->have_resident ? tool_human_bytes(b, sizeof(b), p->locked_resident) : "?",
		       tool_human_bytes(c, sizeof(c), p->mem.vm_rss),
		       tool_human_bytes(d, sizeof(d), p->mem.vm_swap),
		       !p->have_maps  ? "?" :
		       p->shim_loaded ? "yes" :
					"no",
		       p->state == TOOL_ST_NOT_LOCKED ? "no" : future_word(&p->ls),
		       verdict(p, why, sizeof(why)));
		print_tasks_text(p);
	}
	if (inferred)
		printf("NEW: will new memory be locked (MCL_FUTURE). * inferred from the mappings "
		       "(all locked, or not): /proc does not show MCL_FUTURE.\n");
}

/* s is dm_escape()d already: only '"' and '\' (from the \xNN escapes) need care. */
static void put_quoted(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

static void put_num_or_null(bool have, long long v)
{
	if (have)
		printf("%lld", v);
	else
		printf("null");
}

static void print_json_lock(const struct proc_info *p)
{
	const struct tool_lockstate *ls = &p->ls;
	bool sm = ls->have_smaps;

	printf(", \"resident_bytes\": ");
	put_num_or_null(sm, (long long)ls->resident);
	printf(", \"resident_locked_bytes\": ");
	put_num_or_null(sm, (long long)ls->locked_rss);
	printf(", \"resident_unlocked_bytes\": ");
	put_num_or_null(sm, (long long)ls->unlocked_rss);
	printf(", \"locked_percent\": ");
	if (sm)
		printf("%.1f", tool_locked_percent(ls));
	else
		printf("null");
	printf(", \"unlocked_mappings\": ");
	put_num_or_null(sm, ls->unlocked_maps);
	printf(", \"new_memory_locked\": %s, \"new_memory_basis\": %s",
	       ls->future == TOOL_FUTURE_UNKNOWN ? "null" :
	       ls->future == TOOL_FUTURE_YES	 ? "true" :
						   "false",
	       ls->future == TOOL_FUTURE_UNKNOWN ? "null" :
	       ls->future_inferred		 ? "\"inferred\"" :
						   "\"marker\"");
	printf(", \"memlock_limit_bytes\": ");
	put_num_or_null(ls->have_limit && ls->memlock_soft != UINT64_MAX,
			(long long)ls->memlock_soft);
	printf(", \"cap_ipc_lock\": %s, \"new_memory_fails\": %s",
	       !ls->have_caps	? "null" :
	       ls->cap_ipc_lock ? "true" :
				  "false",
	       p->state == TOOL_ST_AT_LIMIT ? "true" : "false");
}

static void print_json_tasks(const struct proc_info *p)
{
	const struct tool_lockstate *ls = &p->ls;
	bool m = ls->have_main, t = ls->have_tasks;

	printf(", \"io_flusher\": %s", !m ? "null" :
				       (ls->main.flags & TOOL_PF_IO_FLUSHER) == TOOL_PF_IO_FLUSHER ?
					    "true" :
					    "false");
	printf(", \"task_flags\": ");
	put_num_or_null(m, ls->main.flags);
	printf(", \"oom_score_adj\": ");
	put_num_or_null(ls->have_oom, ls->oom_score_adj);
	printf(", \"sched_policy\": ");
	if (m)
		put_quoted(tool_policy_name(ls->main.policy));
	else
		printf("null");
	printf(", \"sched_priority\": ");
	put_num_or_null(m, ls->main.rt_priority);
	printf(", \"nice\": ");
	put_num_or_null(m, ls->main.nice);
	printf(", \"threads\": ");
	put_num_or_null(t, ls->threads);
	printf(", \"io_flusher_threads\": ");
	put_num_or_null(t, ls->io_flusher_threads);
	printf(", \"realtime_threads\": ");
	put_num_or_null(t, ls->rt_threads);
	printf(", \"stacks_found\": ");
	put_num_or_null(t, ls->stacks_found);
	printf(", \"stacks_unknown\": ");
	put_num_or_null(t, ls->stacks_unknown);
	printf(", \"stack_size_bytes\": ");
	put_num_or_null(t && ls->have_smaps, (long long)ls->stack_size);
	printf(", \"stack_resident_bytes\": ");
	put_num_or_null(t && ls->have_smaps, (long long)ls->stack_rss);
	printf(", \"stack_locked_bytes\": ");
	put_num_or_null(t && ls->have_smaps, (long long)ls->stack_locked);
}

static void print_json(const struct proc_info *v, size_t n)
{
	char why[160];

	putchar('[');
	for (size_t i = 0; i < n; i++) {
		const struct proc_info *p = &v[i];

		printf("%s\n  {\"pid\": %d, \"comm\": ", i ? "," : "", p->pid);
		put_quoted(p->comm);
		if (p->err) {
			printf(", \"error\": ");
			put_quoted(strerror(-p->err));
			printf(", \"ppid\": null, \"child\": %s, \"locked_bytes\": null, "
			       "\"locked_resident_bytes\": null, \"rss_bytes\": null, "
			       "\"swap_bytes\": null, \"shim_loaded\": null, \"locked\": false",
			       p->child ? "true" : "false");
			/* Nothing was read: every figure below prints as null. */
			print_json_lock(p);
			print_json_tasks(p);
		} else {
			printf(", \"ppid\": %d, \"child\": %s, \"locked_bytes\": %" PRIu64
			       ", \"locked_resident_bytes\": ",
			       p->ppid, p->child ? "true" : "false", p->mem.vm_lck);
			put_num_or_null(p->have_resident, (long long)p->locked_resident);
			printf(", \"rss_bytes\": %" PRIu64 ", \"swap_bytes\": %" PRIu64
			       ", \"shim_loaded\": %s, \"locked\": %s",
			       p->mem.vm_rss, p->mem.vm_swap,
			       !p->have_maps  ? "null" :
			       p->shim_loaded ? "true" :
						"false",
			       fully_locked(p) ? "true" : "false");
			print_json_lock(p);
			print_json_tasks(p);
		}
		printf(", \"state\": \"%s\", \"verdict\": ", state_names[p->state]);
		put_quoted(verdict(p, why, sizeof(why)));
		putchar('}');
	}
	printf("%s]\n", n ? "\n" : "");
}

enum metric {
	M_LOCKED,
	M_RESIDENT,
	M_RSS,
	M_SWAP,
	M_SHIM,
	M_LOCKED_OK,
	M_PARTLY,
	M_NEW,
	M_RES_LOCKED,
	M_RES_UNLOCKED,
	M_FAILS,
	M_LIMIT,
	M_IO_FLUSHER,
	M_OOM,
	M_SCHED,
	M_THREADS,
	M_RT_THREADS,
	M_STACK_LOCKED,
	M_STACK_RSS,
};

static const struct {
	const char *name;
	const char *help;
} metrics[] = {
	[M_LOCKED] = { "duende_mlock_locked_bytes", "Memory locked by mlock (VmLck), in bytes." },
	[M_RESIDENT] = { "duende_mlock_locked_resident_bytes",
			 "Memory locked and resident (Locked: in smaps_rollup), in bytes." },
	[M_RSS] = { "duende_mlock_rss_bytes", "Resident set size (VmRSS), in bytes." },
	[M_SWAP] = { "duende_mlock_swap_bytes", "Memory in swap (VmSwap), in bytes." },
	[M_SHIM] = { "duende_mlock_shim_loaded",
		     "1 when libduende_mlock is mapped in the process." },
	[M_LOCKED_OK] = { "duende_mlock_locked",
			  "1 when every mapping that can be locked is, and new memory will be." },
	[M_PARTLY] = { "duende_mlock_partly_locked",
		       "1 when some memory is locked but not all, or new memory will not be." },
	[M_NEW] = { "duende_mlock_new_memory_locked",
		    "1 when new mappings will be locked (MCL_FUTURE); basis label: marker or "
		    "inferred." },
	[M_RES_LOCKED] = { "duende_mlock_resident_locked_bytes",
			   "Resident memory in locked mappings, in bytes." },
	[M_RES_UNLOCKED] = { "duende_mlock_resident_unlocked_bytes",
			     "Resident memory in mappings that could be locked and are not, in "
			     "bytes." },
	[M_FAILS] = { "duende_mlock_new_memory_fails",
		      "1 when new memory is locked, RLIMIT_MEMLOCK applies (no CAP_IPC_LOCK) and "
		      "VmLck has reached it: the next mmap, brk or thread stack fails." },
	[M_LIMIT] = { "duende_mlock_memlock_limit_bytes",
		      "RLIMIT_MEMLOCK (soft) of the process, in bytes; absent when unlimited." },
	[M_IO_FLUSHER] = { "duende_mlock_io_flusher",
			   "1 when the main thread has PR_SET_IO_FLUSHER's task flags." },
	[M_OOM] = { "duende_mlock_oom_score_adj", "The process's oom_score_adj." },
	[M_SCHED] = { "duende_mlock_sched_priority",
		      "Real-time priority of the main thread (0 outside SCHED_FIFO/RR); policy "
		      "label: its scheduling class." },
	[M_THREADS] = { "duende_mlock_threads", "Number of threads." },
	[M_RT_THREADS] = { "duende_mlock_realtime_threads", "Threads in SCHED_FIFO or SCHED_RR." },
	[M_STACK_LOCKED] = { "duende_mlock_stack_locked_bytes",
			     "Resident and locked bytes of the threads' stack mappings (those of "
			     "threads found blocked)." },
	[M_STACK_RSS] = { "duende_mlock_stack_resident_bytes",
			  "Resident bytes of the threads' stack mappings." },
};

static bool metric_value(const struct proc_info *p, enum metric m, long long *v)
{
	const struct tool_lockstate *ls = &p->ls;

	switch (m) {
	case M_LOCKED:
		*v = (long long)p->mem.vm_lck;
		return true;
	case M_RESIDENT:
		*v = (long long)p->locked_resident;
		return p->have_resident;
	case M_RSS:
		*v = (long long)p->mem.vm_rss;
		return true;
	case M_SWAP:
		*v = (long long)p->mem.vm_swap;
		return true;
	case M_SHIM:
		*v = p->shim_loaded;
		return p->have_maps;
	case M_LOCKED_OK:
		*v = fully_locked(p);
		return true;
	case M_PARTLY:
		*v = p->state == TOOL_ST_PARTLY;
		return true;
	case M_NEW:
		*v = ls->future == TOOL_FUTURE_YES;
		return ls->future != TOOL_FUTURE_UNKNOWN;
	case M_RES_LOCKED:
		*v = (long long)ls->locked_rss;
		return ls->have_smaps;
	case M_RES_UNLOCKED:
		*v = (long long)ls->unlocked_rss;
		return ls->have_smaps;
	case M_FAILS:
		*v = p->state == TOOL_ST_AT_LIMIT;
		return true;
	case M_LIMIT:
		*v = (long long)ls->memlock_soft;
		return ls->have_limit && ls->memlock_soft != UINT64_MAX;
	case M_IO_FLUSHER:
		*v = (ls->main.flags & TOOL_PF_IO_FLUSHER) == TOOL_PF_IO_FLUSHER;
		return ls->have_main;
	case M_OOM:
		*v = ls->oom_score_adj;
		return ls->have_oom;
	case M_SCHED:
		*v = ls->main.rt_priority;
		return ls->have_main;
	case M_THREADS:
		*v = ls->threads;
		return ls->have_tasks;
	case M_RT_THREADS:
		*v = ls->rt_threads;
		return ls->have_tasks;
	case M_STACK_LOCKED:
		*v = (long long)ls->stack_locked;
		return ls->have_tasks && ls->have_smaps;
	case M_STACK_RSS:
		*v = (long long)ls->stack_rss;
		return ls->have_tasks && ls->have_smaps;
	}
	return false;
}

/* Label values escape '\', '"' and newline (exposition format); comm has no newline left. */
static void print_prometheus(const struct proc_info *v, size_t n)
{
	for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
		printf("# HELP %s %s\n# TYPE %s gauge\n", metrics[m].name, metrics[m].help,
		       metrics[m].name);
		for (size_t i = 0; i < n; i++) {
			long long val;

			if (v[i].err || !metric_value(&v[i], (enum metric)m, &val))
				continue;
			printf("%s{pid=\"%d\",comm=", metrics[m].name, v[i].pid);
			put_quoted(v[i].comm);
			if (m == M_NEW)
				printf(",basis=\"%s\"",
				       v[i].ls.future_inferred ? "inferred" : "marker");
			else if (m == M_SCHED)
				printf(",policy=\"%s\"", tool_policy_name(v[i].ls.main.policy));
			printf("} %lld\n", val);
		}
	}
}

int tool_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "prometheus", no_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },  { "no-children", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	enum format fmt = FMT_TEXT;
	struct list l = { 0 };
	bool all = false, children = true;
	enum tool_state worst = TOOL_ST_LOCKED;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
		case 'p':
			if (fmt != FMT_TEXT)
				return tool_usage_error("status",
							"status: --json and --prometheus exclude "
							"each other");
			fmt = c == 'j' ? FMT_JSON : FMT_PROMETHEUS;
			break;
		case 'a':
			all = true;
			break;
		case 'C':
			children = false;
			break;
		case 'h':
			fputs(status_usage, stdout);
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error("status", "status: bad option");
		}
	}
	if (all && optind < argc)
		return tool_usage_error("status", "status: give PIDs or --all, not both");

	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			int pid;

			if (tool_parse_pid(argv[i], &pid) < 0) {
				char esc[64];

				free(l.v);
				dm_escape(esc, sizeof(esc), argv[i], 32);
				return tool_usage_error("status", "status: '%s' is not a PID", esc);
			}
		}
		for (int i = optind; i < argc; i++) {
			struct proc_info *p = list_add(&l);
			int pid;

			if (!p) {
				free(l.v);
				tool_error("Failed to allocate: %s", strerror(ENOMEM));
				return TOOL_EXIT_FAIL;
			}
			tool_parse_pid(argv[i], &pid);
			proc_read(pid, p);
		}
		r = children ? collect_children(&l) : 0;
	} else {
		r = collect_all(&l);
	}
	if (r < 0) {
		free(l.v);
		tool_error("Failed to read /proc: %s", strerror(-r));
		return TOOL_EXIT_FAIL;
	}

	for (size_t i = 0; i < l.n; i++)
		if (state_exit(l.v[i].state) == TOOL_EXIT_FAIL ||
		    (state_exit(worst) == TOOL_EXIT_OK && l.v[i].state != TOOL_ST_LOCKED))
			worst = l.v[i].state;
	if (fmt == FMT_JSON)
		print_json(l.v, l.n);
	else if (fmt == FMT_PROMETHEUS)
		print_prometheus(l.v, l.n);
	else if (l.n)
		print_text(l.v, l.n);
	if (l.n == 0) {
		/* Nothing found fails a health check: the daemon is not running locked. */
		worst = TOOL_ST_NOT_LOCKED;
		if (fmt == FMT_TEXT)
			tool_error("no process has libduende_mlock mapped");
	}
	free(l.v);
	fflush(stdout);
	return state_exit(worst);
}
