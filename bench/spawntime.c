/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * spawntime: time posix_spawn() to wait4() of a program under several variants, interleaved.
 *
 * The timed span is posix_spawn() (no file actions, no attributes) to the return of wait4() and
 * nothing else: no helper process, no pipe, no open() of /dev/null. Whatever fixed work sits in
 * the span is added to both sides of every ratio and shrinks it, so it is kept out; what cannot be
 * kept out (fork, exec, the kernel's reaping) is shown by a variant that runs a static program
 * without any preload: the timer's own floor.
 *
 * A variant may have its own /etc: the timer creates one mount namespace per --etc directory at
 * start-up (unshare, make / private, bind the directory over /etc), keeps a file descriptor of
 * each, and enters the variant's namespace with setns() before the clock starts. The child
 * inherits it, so it reads that copy's /etc/ld.so.preload; the real one is never written.
 *
 * Every round runs each variant once (the first variant rotates), so drift of the machine's speed
 * hits all variants alike; a --pair reports the median of the per-round ratios and differences,
 * which cancel the slow drift that the ratio of two medians keeps.
 *
 * Children inherit standard input, output and error: all three are /dev/null (set once, before
 * the first round), the results go to a copy of the original standard output. --keep-stderr
 * leaves the children's standard error on ours.
 *
 * Usage:
 *   spawntime [--rounds N] [--warmup N] [--keep-stderr] [--cmd PROG [--arg A]...] [--pair A:B]...
 *             --variant NAME [--etc DIR] [--env K=V]... [--cmd PROG [--arg A]...] ...
 * Output, one line per variant:
 *   NAME median_us p10_us p90_us runs failures minflt_median majflt_median cpu_us_median
 * and one per --pair, of the per-round values (A and B from the same round):
 *   ratio A B ratio_median ratio_p10 ratio_p90 diff_us_median minflt_diff_median
 *         cpu_ratio_median cpu_diff_us_median
 * cpu is the child's own CPU time (wait4's ru_utime + ru_stime, which the kernel derives from
 * its exact runtime): unlike the wall time it leaves out waiting for a CPU, so on a loaded
 * machine it is the steadier figure, though it misses the parent's share of spawn and reap.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_VARIANTS 32
#define MAX_ENV 16
#define MAX_ARGS 16

struct variant {
	const char *name;
	const char *etc;
	const char *env[MAX_ENV + 2];
	unsigned n_env;
	const char *argv[MAX_ARGS + 2];
	unsigned n_args; /* 0: the global command */
	int ns;		 /* mount namespace fd; -1: the timer's own */
	int64_t *ns_time;
	int64_t *minflt;
	int64_t *majflt;
	int64_t *cpu_ns;
	unsigned n;
	unsigned failures;
};

static struct variant variants[MAX_VARIANTS];
static const char *pairs[MAX_VARIANTS];
static unsigned n_pairs;
static unsigned n_variants;
static const char *global_argv[MAX_ARGS + 2];
static unsigned n_global_args;
static FILE *out;
static int err_fd = 2;

static void die(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(err_fd, "spawntime: ", 11) < 0 || write(err_fd, buf, (size_t)n) < 0)
		_exit(2);
	exit(2);
}

static void usage(void)
{
	die("usage: spawntime [--rounds N] [--warmup N] [--keep-stderr] [--cmd PROG [--arg A]...] "
	    "[--pair A:B]... --variant NAME [--etc DIR] [--env K=V]... [--cmd PROG [--arg A]...] "
	    "...");
}

static unsigned parse_count(const char *s, unsigned min)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > 1000000)
		usage();
	return (unsigned)v;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The mount namespace of a variant with its own /etc; the timer goes back to its own after. */
static int make_namespace(const char *etc, int home)
{
	int fd;

	if (unshare(CLONE_NEWNS) < 0)
		die("unshare(CLONE_NEWNS): %s", strerror(errno));
	/* Private propagation first, or the bind would show up in the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("mount / private: %s", strerror(errno));
	if (mount(etc, "/etc", NULL, MS_BIND | MS_REC, NULL) < 0)
		die("bind mount %s over /etc: %s", etc, strerror(errno));
	fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open /proc/self/ns/mnt: %s", strerror(errno));
	if (setns(home, CLONE_NEWNS) < 0)
		die("setns back to the timer's namespace: %s", strerror(errno));
	return fd;
}

static void setup_namespaces(void)
{
	int home = -1;

	for (unsigned i = 0; i < n_variants; i++) {
		struct variant *v = &variants[i];

		v->ns = -1;
		if (!v->etc)
			continue;
		/* Variants with the same directory share one namespace. */
		for (unsigned j = 0; j < i; j++)
			if (variants[j].etc && strcmp(variants[j].etc, v->etc) == 0)
				v->ns = variants[j].ns;
		if (v->ns >= 0)
			continue;
		if (home < 0) {
			home = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
			if (home < 0)
				die("open /proc/self/ns/mnt: %s", strerror(errno));
		}
		v->ns = make_namespace(v->etc, home);
	}
	/* Variants without --etc run in the timer's own namespace. */
	for (unsigned i = 0; i < n_variants; i++)
		if (variants[i].ns < 0)
			variants[i].ns = home;
}

/*
 * Our results go to a private copy of standard output; the children inherit /dev/null as 0, 1
 * and 2 (or our standard error as 2), with no file action in the timed span.
 */
static void setup_stdio(int keep_stderr)
{
	int o = fcntl(1, F_DUPFD_CLOEXEC, 3), e = fcntl(2, F_DUPFD_CLOEXEC, 3);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (o < 0 || e < 0 || null < 0)
		die("saving standard output: %s", strerror(errno));
	err_fd = e;
	out = fdopen(o, "w");
	if (!out)
		die("fdopen: %s", strerror(errno));
	fflush(stdout);
	if (dup2(null, 0) < 0 || dup2(null, 1) < 0 || (!keep_stderr && dup2(null, 2) < 0))
		die("dup2 /dev/null: %s", strerror(errno));
	close(null);
}

/* One run: the clock covers posix_spawn() to wait4()'s return, nothing else. */
static void run_once(struct variant *v, int *cur_ns, int keep)
{
	const char *const *argv = v->n_args ? v->argv : global_argv;
	struct rusage ru;
	int64_t t0, t1;
	pid_t pid;
	int status = 0, r;

	if (v->ns != *cur_ns) {
		if (setns(v->ns, CLONE_NEWNS) < 0)
			die("setns for %s: %s", v->name, strerror(errno));
		*cur_ns = v->ns;
	}
	memset(&ru, 0, sizeof(ru));

	t0 = now_ns();
	r = posix_spawn(&pid, argv[0], NULL, NULL, (char *const *)argv, (char *const *)v->env);
	if (r == 0)
		while (wait4(pid, &status, 0, &ru) < 0)
			if (errno != EINTR)
				die("wait4: %s", strerror(errno));
	t1 = now_ns();

	if (!keep)
		return;
	v->ns_time[v->n] = t1 - t0;
	v->minflt[v->n] = ru.ru_minflt;
	v->majflt[v->n] = ru.ru_majflt;
	v->cpu_ns[v->n] = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
			  ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
	v->n++;
	if (r != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		v->failures++;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The p-quantile of n values (sorts them). */
static double pct(int64_t *v, unsigned n, double p)
{
	double pos = p * (n - 1), f;
	unsigned i = (unsigned)pos;

	qsort(v, n, sizeof(int64_t), cmp_i64);
	f = pos - i;
	if (i + 1 >= n)
		return (double)v[n - 1];
	return (double)v[i] * (1 - f) + (double)v[i + 1] * f;
}

static struct variant *find_variant(const char *name, size_t len)
{
	for (unsigned i = 0; i < n_variants; i++)
		if (strlen(variants[i].name) == len && memcmp(variants[i].name, name, len) == 0)
			return &variants[i];
	die("--pair names an unknown variant: %.*s", (int)len, name);
	return NULL;
}

/* Before anything is sorted: sample k of every variant is from round k. */
static void print_pair(const char *spec)
{
	const char *colon = strchr(spec, ':');
	struct variant *a = find_variant(spec, (size_t)(colon - spec));
	struct variant *b = find_variant(colon + 1, strlen(colon + 1));
	int64_t *r = calloc(a->n, sizeof(int64_t)), *d = calloc(a->n, sizeof(int64_t));
	int64_t *f = calloc(a->n, sizeof(int64_t)), *cr = calloc(a->n, sizeof(int64_t));
	int64_t *cd = calloc(a->n, sizeof(int64_t));
	double r50, r10, r90, d50, f50, cr50;

	if (!r || !d || !f || !cr || !cd)
		die("calloc: %s", strerror(errno));
	for (unsigned k = 0; k < a->n; k++) {
		/* Ratios in parts per million, so the integer sort serves. */
		r[k] = b->ns_time[k] ? a->ns_time[k] * 1000000 / b->ns_time[k] : 0;
		d[k] = a->ns_time[k] - b->ns_time[k];
		f[k] = a->minflt[k] - b->minflt[k];
		cr[k] = b->cpu_ns[k] ? a->cpu_ns[k] * 1000000 / b->cpu_ns[k] : 0;
		cd[k] = a->cpu_ns[k] - b->cpu_ns[k];
	}
	r50 = pct(r, a->n, 0.5);
	r10 = pct(r, a->n, 0.1);
	r90 = pct(r, a->n, 0.9);
	d50 = pct(d, a->n, 0.5);
	f50 = pct(f, a->n, 0.5);
	cr50 = pct(cr, a->n, 0.5);
	fprintf(out, "ratio %s %s %.4f %.4f %.4f %.1f %.1f %.4f %.1f\n", a->name, b->name,
		r50 / 1e6, r10 / 1e6, r90 / 1e6, d50 / 1000, f50, cr50 / 1e6,
		pct(cd, a->n, 0.5) / 1000);
	free(r);
	free(d);
	free(f);
	free(cr);
	free(cd);
}

static void print_variant(struct variant *v)
{
	double m50, m10, m90;

	m50 = pct(v->ns_time, v->n, 0.5) / 1000;
	m10 = pct(v->ns_time, v->n, 0.1) / 1000;
	m90 = pct(v->ns_time, v->n, 0.9) / 1000;
	fprintf(out, "%s %.1f %.1f %.1f %u %u %.1f %.1f %.1f\n", v->name, m50, m10, m90, v->n,
		v->failures, pct(v->minflt, v->n, 0.5), pct(v->majflt, v->n, 0.5),
		pct(v->cpu_ns, v->n, 0.5) / 1000);
}

int main(int argc, char **argv)
{
	unsigned rounds = 1000, warmup = 20;
	struct variant *cur = NULL;
	int keep_stderr = 0, cur_ns = -1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val;

		if (strcmp(a, "--keep-stderr") == 0) {
			keep_stderr = 1;
			continue;
		}
		val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!val)
			usage();
		i++;
		if (strcmp(a, "--rounds") == 0) {
			rounds = parse_count(val, 1);
		} else if (strcmp(a, "--warmup") == 0) {
			warmup = parse_count(val, 0);
		} else if (strcmp(a, "--pair") == 0) {
			if (n_pairs == MAX_VARIANTS || !strchr(val, ':'))
				usage();
			pairs[n_pairs++] = val;
		} else if (strcmp(a, "--variant") == 0) {
			if (n_variants == MAX_VARIANTS)
				usage();
			cur = &variants[n_variants++];
			cur->name = val;
			/* A clean, fixed environment: nothing of the caller's leaks in. */
			cur->env[cur->n_env++] = "PATH=/usr/bin:/bin";
		} else if (strcmp(a, "--etc") == 0 && cur) {
			cur->etc = val;
		} else if (strcmp(a, "--env") == 0 && cur) {
			if (cur->n_env == MAX_ENV || !strchr(val, '='))
				usage();
			cur->env[cur->n_env++] = val;
		} else if (strcmp(a, "--cmd") == 0) {
			if (cur) {
				cur->n_args = 0;
				cur->argv[cur->n_args++] = val;
			} else {
				n_global_args = 0;
				global_argv[n_global_args++] = val;
			}
		} else if (strcmp(a, "--arg") == 0) {
			if (cur && cur->n_args) {
				if (cur->n_args == MAX_ARGS)
					usage();
				cur->argv[cur->n_args++] = val;
			} else if (!cur && n_global_args) {
				if (n_global_args == MAX_ARGS)
					usage();
				global_argv[n_global_args++] = val;
			} else {
				usage();
			}
		} else {
			usage();
		}
	}
	if (!n_variants)
		usage();
	for (unsigned v = 0; v < n_variants; v++)
		if (!variants[v].n_args && !n_global_args)
			usage();

	setup_stdio(keep_stderr);
	for (unsigned v = 0; v < n_variants; v++) {
		struct variant *x = &variants[v];

		x->ns_time = calloc(rounds, sizeof(int64_t));
		x->minflt = calloc(rounds, sizeof(int64_t));
		x->majflt = calloc(rounds, sizeof(int64_t));
		x->cpu_ns = calloc(rounds, sizeof(int64_t));
		if (!x->ns_time || !x->minflt || !x->majflt || !x->cpu_ns)
			die("calloc: %s", strerror(errno));
	}
	setup_namespaces();

	for (unsigned r = 0; r < warmup + rounds; r++)
		/* Rotate who goes first, so no variant always follows the same neighbour. */
		for (unsigned k = 0; k < n_variants; k++)
			run_once(&variants[(r + k) % n_variants], &cur_ns, r >= warmup);

	for (unsigned i = 0; i < n_pairs; i++)
		print_pair(pairs[i]);
	for (unsigned i = 0; i < n_variants; i++)
		print_variant(&variants[i]);
	return fclose(out) == 0 ? 0 : 1;
}
