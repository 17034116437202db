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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

static const char status_usage[] =
	"Usage: duende-mlock status [--json|--prometheus] [PID...|--all]\n"
	"\n"
	"For each process: VmLck (locked virtual memory), Locked (locked and resident, from\n"
	"smaps_rollup), RSS, swap, whether the duende-mlock library is mapped in it, and a\n"
	"verdict.\n"
	"\n"
	"  --all            every process that has the library mapped (the default without PIDs)\n"
	"  --json           a JSON array, one object per process\n"
	"  --prometheus     node_exporter textfile-collector format\n"
	"  -h, --help       this text\n"
	"\n"
	"Exit status: 0 when every process is locked with nothing in swap, 1 otherwise, 2 on\n"
	"usage errors.\n";

enum format { FMT_TEXT, FMT_JSON, FMT_PROMETHEUS };

struct proc_info {
	int pid;
	int err;               /* negative errno: the process could not be read */
	bool have_resident;    /* smaps_rollup readable (needs ptrace read access) */
	bool have_maps;     /* maps readable (same rule as smaps_rollup) */
	bool shim_loaded;
	char comm[80];         /* escaped */
	struct dm_proc_mem mem;
	uint64_t locked_resident;
};

static bool proc_locked(const struct proc_info *p)
{
	return p->err == 0 && p->mem.vm_lck > 0;
}

static bool proc_good(const struct proc_info *p)
{
	return proc_locked(p) && p->mem.vm_swap == 0;
}

static const char *verdict(const struct proc_info *p)
{
	if (p->err == -ENOENT || p->err == -ESRCH)
		return "no such process";
	if (p->err)
		return "unreadable";
	if (!proc_locked(p))
		return p->mem.vm_size ? "NOT LOCKED" : "NOT LOCKED (kernel thread)";
	if (p->mem.vm_swap)
		return "LOCKED, BUT PART IS IN SWAP";
	return "locked";
}

static bool is_shim_path(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, "libduende_mlock_preload.so", strlen("libduende_mlock_preload.so")) == 0;
}

/* Is the library mapped? Each line of maps ends with the file's path, if any. */
static int read_shim_loaded(int pid, bool *loaded)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int fd;

	*loaded = false;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "re");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
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

	*p = (struct proc_info){ .pid = pid };
	read_comm(pid, p->comm, sizeof(p->comm));
	p->err = dm_proc_mem_read(pid, &p->mem);
	if (p->err)
		return;
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	p->have_resident = dm_proc_read_kb(path, "Locked", &p->locked_resident) == 0;
	p->have_maps = read_shim_loaded(pid, &p->shim_loaded) == 0;
}

/* --all: every process with the library mapped, except this one. */
static int collect_all(struct proc_info **out, size_t *n)
{
	struct proc_info *v = NULL;
	size_t len = 0, cap = 0;
	struct dirent *de;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		bool loaded;
		int pid;

		if (tool_parse_pid(de->d_name, &pid) < 0 || pid == getpid())
			continue;
		if (read_shim_loaded(pid, &loaded) < 0 || !loaded)
			continue;
		if (len == cap) {
			struct proc_info *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(dir);
				return -ENOMEM;
			}
			v = nv;
		}
		proc_read(pid, &v[len]);
		/* It may have exited between the two reads. */
		if (v[len].err == 0)
			len++;
	}
	closedir(dir);
	*out = v;
	*n = len;
	return 0;
}

static void print_text(const struct proc_info *v, size_t n)
{
	char a[32], b[32], c[32], d[32];

	printf("%-8s %-16s %10s %10s %10s %10s %-5s %s\n", "PID", "COMM", "VMLCK", "LOCKED", "RSS",
	       "SWAP", "SHIM", "VERDICT");
	for (size_t i = 0; i < n; i++) {
		const struct proc_info *p = &v[i];

		if (p->err) {
			printf("%-8d %-16s %10s %10s %10s %10s %-5s %s", p->pid, p->comm, "-", "-",
			       "-", "-", "-", verdict(p));
			if (p->err != -ENOENT && p->err != -ESRCH)
				printf(" (%s)", strerror(-p->err));
			putchar('\n');
			continue;
		}
		printf("%-8d %-16s %10s %10s %10s %10s %-5s %s\n", p->pid, p->comm,
		       tool_human_bytes(a, sizeof(a), p->mem.vm_lck),
		       p->have_resident ? tool_human_bytes(b, sizeof(b), p->locked_resident) : "?",
		       tool_human_bytes(c, sizeof(c), p->mem.vm_rss),
		       tool_human_bytes(d, sizeof(d), p->mem.vm_swap),
		       !p->have_maps ? "?" : p->shim_loaded ? "yes" : "no", verdict(p));
	}
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

static void print_json(const struct proc_info *v, size_t n)
{
	putchar('[');
	for (size_t i = 0; i < n; i++) {
		const struct proc_info *p = &v[i];

		printf("%s\n  {\"pid\": %d, \"comm\": ", i ? "," : "", p->pid);
		put_quoted(p->comm);
		if (p->err) {
			printf(", \"error\": ");
			put_quoted(strerror(-p->err));
			printf(", \"locked_bytes\": null, \"locked_resident_bytes\": null, "
			       "\"rss_bytes\": null, \"swap_bytes\": null, \"shim_loaded\": null, "
			       "\"locked\": false, \"verdict\": ");
		} else {
			printf(", \"locked_bytes\": %" PRIu64 ", \"locked_resident_bytes\": ",
			       p->mem.vm_lck);
			if (p->have_resident)
				printf("%" PRIu64, p->locked_resident);
			else
				printf("null");
			printf(", \"rss_bytes\": %" PRIu64 ", \"swap_bytes\": %" PRIu64
			       ", \"shim_loaded\": %s, \"locked\": %s, \"verdict\": ",
			       p->mem.vm_rss, p->mem.vm_swap,
			       !p->have_maps ? "null" : p->shim_loaded ? "true" : "false",
			       proc_locked(p) ? "true" : "false");
		}
		put_quoted(verdict(p));
		putchar('}');
	}
	printf("%s]\n", n ? "\n" : "");
}

enum metric { M_LOCKED, M_RESIDENT, M_RSS, M_SWAP, M_SHIM, M_LOCKED_OK };

static const struct {
	const char *name;
	const char *help;
} metrics[] = {
	[M_LOCKED] = { "duende_mlock_locked_bytes",
		       "Memory locked by mlock (VmLck), in bytes." },
	[M_RESIDENT] = { "duende_mlock_locked_resident_bytes",
			 "Memory locked and resident (Locked: in smaps_rollup), in bytes." },
	[M_RSS] = { "duende_mlock_rss_bytes", "Resident set size (VmRSS), in bytes." },
	[M_SWAP] = { "duende_mlock_swap_bytes", "Memory in swap (VmSwap), in bytes." },
	[M_SHIM] = { "duende_mlock_shim_loaded",
		     "1 when libduende_mlock is mapped in the process." },
	[M_LOCKED_OK] = { "duende_mlock_locked",
			  "1 when the process has memory locked (VmLck > 0)." },
};

static bool metric_value(const struct proc_info *p, enum metric m, uint64_t *v)
{
	switch (m) {
	case M_LOCKED:
		*v = p->mem.vm_lck;
		return true;
	case M_RESIDENT:
		*v = p->locked_resident;
		return p->have_resident;
	case M_RSS:
		*v = p->mem.vm_rss;
		return true;
	case M_SWAP:
		*v = p->mem.vm_swap;
		return true;
	case M_SHIM:
		*v = p->shim_loaded;
		return p->have_maps;
	case M_LOCKED_OK:
		*v = proc_locked(p);
		return true;
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
			uint64_t val;

			if (v[i].err || !metric_value(&v[i], (enum metric)m, &val))
				continue;
			printf("%s{pid=\"%d\",comm=", metrics[m].name, v[i].pid);
			put_quoted(v[i].comm);
			printf("} %" PRIu64 "\n", val);
		}
	}
}

int tool_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum format fmt = FMT_TEXT;
	struct proc_info *v = NULL;
	bool all = false, good = true;
	size_t n = 0;
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
		n = (size_t)(argc - optind);
		v = calloc(n, sizeof(*v));
		if (!v) {
			tool_error("Failed to allocate: %s", strerror(ENOMEM));
			return TOOL_EXIT_FAIL;
		}
		for (size_t i = 0; i < n; i++) {
			int pid;

			if (tool_parse_pid(argv[optind + (int)i], &pid) < 0) {
				char esc[64];

				free(v);
				dm_escape(esc, sizeof(esc), argv[optind + (int)i], 32);
				return tool_usage_error("status", "status: '%s' is not a PID", esc);
			}
			proc_read(pid, &v[i]);
		}
	} else {
		r = collect_all(&v, &n);
		if (r < 0) {
			tool_error("Failed to read /proc: %s", strerror(-r));
			return TOOL_EXIT_FAIL;
		}
	}

	for (size_t i = 0; i < n; i++)
		good = good && proc_good(&v[i]);
	if (fmt == FMT_JSON)
		print_json(v, n);
	else if (fmt == FMT_PROMETHEUS)
		print_prometheus(v, n);
	else if (n)
		print_text(v, n);
	if (n == 0) {
		/* Nothing found fails a health check: the daemon is not running locked. */
		good = false;
		if (fmt == FMT_TEXT)
			tool_error("no process has libduende_mlock mapped");
	}
	free(v);
	fflush(stdout);
	return good ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}
