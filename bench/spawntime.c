/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * spawntime: time posix_spawn() + waitpid() of a program under several variants, interleaved.
 *
 * hyperfine runs one command after the other; on a VM whose speed drifts by several percent over a
 * minute, that drift lands in the ratios. Here every round runs each variant once (the starting
 * variant rotates), so drift hits all variants alike, and the median of many rounds is reported.
 *
 * Each variant runs in a helper process of its own, forked before any timing starts. A helper can
 * live in a private mount namespace with a directory bind-mounted over /etc: that is how a variant
 * gets its own /etc/ld.so.preload without the real one ever being written. The coordinator tells
 * helpers in turn to run once, through a pipe; the helper times spawn to reap and sends the time
 * back, so pipe traffic is outside the timed window.
 *
 * Usage:
 *   spawntime [--rounds N] [--warmup N] [--cmd PROG [--arg A]...] [--pair A:B]...
 *             --variant NAME [--etc DIR] [--env K=V]... [--cmd PROG [--arg A]...] ...
 * Output, one line per variant: NAME median_us p10_us p90_us runs failures
 * and one per --pair: "ratio A B median p10 p90" of the per-round ratios A/B. Both runs of a
 * round are close in time, so the paired ratio cancels slow drift that the ratio of the two
 * medians keeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
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
	pid_t helper;
	int to_helper;
	int from_helper;
	int64_t *ns;
	unsigned n;
	unsigned failures;
};

struct sample {
	int64_t ns;
	int failed;
};

static struct variant variants[MAX_VARIANTS];
static const char *pairs[MAX_VARIANTS];
static unsigned n_pairs;
static unsigned n_variants;
static const char *global_argv[MAX_ARGS + 2];
static unsigned n_global_args;

static void die(const char *what)
{
	fprintf(stderr, "spawntime: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void usage(void)
{
	fprintf(stderr, "usage: spawntime [--rounds N] [--warmup N] [--cmd PROG [--arg A]...] "
			"--variant NAME [--etc DIR] [--env K=V]... [--cmd PROG [--arg A]...] ...\n");
	exit(2);
}

static unsigned parse_count(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > 1000000)
		usage();
	return (unsigned)v;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static ssize_t full_read(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : (ssize_t)got;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* The helper: set up the variant's namespace once, then spawn on every request. */
static void helper_main(struct variant *v, int in, int out)
{
	posix_spawn_file_actions_t fa;
	const char *const *argv = v->n_args ? v->argv : global_argv;
	char cmd;

	if (v->etc) {
		/* Private propagation first, or the bind would show up in the host's namespace. */
		if (unshare(CLONE_NEWNS) < 0)
			die("unshare(CLONE_NEWNS)");
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			die("mount / private");
		if (mount(v->etc, "/etc", NULL, MS_BIND | MS_REC, NULL) < 0)
			die("bind mount over /etc");
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

	while (full_read(in, &cmd, 1) == 1) {
		struct sample s = { 0, 0 };
		int64_t t0 = now_ns();
		pid_t pid;
		int status, r;

		r = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
				(char *const *)v->env);
		if (r != 0) {
			s.failed = 1;
		} else {
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			s.failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		}
		s.ns = now_ns() - t0;
		if (write(out, &s, sizeof(s)) != (ssize_t)sizeof(s))
			_exit(3);
	}
	_exit(0);
}

static void start_helper(struct variant *v)
{
	int a[2], b[2];

	if (pipe2(a, O_CLOEXEC) < 0 || pipe2(b, O_CLOEXEC) < 0)
		die("pipe2");
	v->helper = fork();
	if (v->helper < 0)
		die("fork");
	if (v->helper == 0) {
		/* Drop the ends meant for earlier helpers, or they never see EOF when we are done. */
		for (struct variant *o = variants; o < v; o++) {
			close(o->to_helper);
			close(o->from_helper);
		}
		close(a[1]);
		close(b[0]);
		helper_main(v, a[0], b[1]);
	}
	close(a[0]);
	close(b[1]);
	v->to_helper = a[1];
	v->from_helper = b[0];
}

static struct sample run_once(struct variant *v)
{
	struct sample s;

	if (write(v->to_helper, "g", 1) != 1)
		die("write to helper");
	if (full_read(v->from_helper, &s, sizeof(s)) != (ssize_t)sizeof(s)) {
		fprintf(stderr, "spawntime: helper of %s died\n", v->name);
		exit(2);
	}
	return s;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double pct(const int64_t *sorted, unsigned n, double p)
{
	double pos = p * (n - 1);
	unsigned i = (unsigned)pos;
	double f = pos - i;

	if (i + 1 >= n)
		return (double)sorted[n - 1];
	return (double)sorted[i] * (1 - f) + (double)sorted[i + 1] * f;
}

static struct variant *find_variant(const char *name, size_t len)
{
	for (unsigned i = 0; i < n_variants; i++)
		if (strlen(variants[i].name) == len && memcmp(variants[i].name, name, len) == 0)
			return &variants[i];
	fprintf(stderr, "spawntime: --pair names an unknown variant: %.*s\n", (int)len, name);
	exit(2);
}

/* Before the samples are sorted: sample k of every variant is from round k. */
static void print_pair(const char *spec)
{
	const char *colon = strchr(spec, ':');
	struct variant *a = find_variant(spec, (size_t)(colon - spec));
	struct variant *b = find_variant(colon + 1, strlen(colon + 1));
	int64_t *r = calloc(a->n, sizeof(int64_t));

	if (!r)
		die("calloc");
	/* Ratios in parts per million, so the integer sort and pct() serve. */
	for (unsigned k = 0; k < a->n; k++)
		r[k] = b->ns[k] ? a->ns[k] * 1000000 / b->ns[k] : 0;
	qsort(r, a->n, sizeof(int64_t), cmp_i64);
	printf("ratio %s %s %.4f %.4f %.4f\n", a->name, b->name, pct(r, a->n, 0.5) / 1e6,
	       pct(r, a->n, 0.1) / 1e6, pct(r, a->n, 0.9) / 1e6);
	free(r);
}

int main(int argc, char **argv)
{
	unsigned rounds = 1000, warmup = 20;
	struct variant *cur = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			usage();
		i++;
		if (strcmp(a, "--rounds") == 0) {
			rounds = parse_count(val);
		} else if (strcmp(a, "--warmup") == 0) {
			warmup = parse_count(val);
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

	for (unsigned v = 0; v < n_variants; v++) {
		variants[v].ns = calloc(rounds, sizeof(int64_t));
		if (!variants[v].ns)
			die("calloc");
		start_helper(&variants[v]);
	}

	for (unsigned r = 0; r < warmup + rounds; r++) {
		/* Rotate who goes first, so no variant always follows the same neighbour. */
		for (unsigned k = 0; k < n_variants; k++) {
			struct variant *v = &variants[(r + k) % n_variants];
			struct sample s = run_once(v);

			if (r < warmup)
				continue;
			v->ns[v->n++] = s.ns;
			v->failures += (unsigned)s.failed;
		}
	}

	for (unsigned i = 0; i < n_pairs; i++)
		print_pair(pairs[i]);
	for (unsigned i = 0; i < n_variants; i++) {
		struct variant *v = &variants[i];

		close(v->to_helper);
		waitpid(v->helper, NULL, 0);
		qsort(v->ns, v->n, sizeof(int64_t), cmp_i64);
		printf("%s %.1f %.1f %.1f %u %u\n", v->name, pct(v->ns, v->n, 0.5) / 1000,
		       pct(v->ns, v->n, 0.1) / 1000, pct(v->ns, v->n, 0.9) / 1000, v->n,
		       v->failures);
	}
	return 0;
}
