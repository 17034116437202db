/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The operator tool against real processes: a locked victim, an unlocked one, one with pages in
 * swap, a static program, a capability drop with a zero limit, good and bad config files, and
 * run locking a victim. The tool is a black box: only its output and exit status are read.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test-common.h"

const unsigned test_needs = HARNESS_NEEDS_ROOT | HARNESS_NEEDS_SWAP;

/* The tool's environment: the built library, and no config file unless a test names one. */
static char env_library[4200], env_no_config[4200];

static const char *tool(void)
{
	const char *t = harness_tool();

	ck_assert_msg(t != NULL, "DM_TEST_TOOL is not set");
	snprintf(env_library, sizeof(env_library), "DUENDE_MLOCK_LIBRARY=%s", harness_library());
	snprintf(env_no_config, sizeof(env_no_config), "DUENDE_MLOCK_CONFIG=%s/no-such.conf",
		 harness_tmpdir());
	return t;
}

static const char *target(void)
{
	const char *t = getenv("DM_TEST_TOOL_TARGET");

	ck_assert_msg(t && t[0], "DM_TEST_TOOL_TARGET is not set");
	return t;
}

/* NULL in a build that cannot link statically (sanitizers): tests/meson.build says why. */
static const char *static_target(void)
{
	const char *t = getenv("DM_TEST_TOOL_TARGET_STATIC");

	if (!t || !t[0]) {
		fprintf(stderr, "no static build here (sanitizers?): static case left out\n");
		return NULL;
	}
	return t;
}

/*
 * doctor judges a program by its running instances too, and the other suites run the shared
 * victim at the same time: doctor's cases look at a copy of it that only they run.
 */
static const char *doctor_victim(void)
{
	static char path[4200];
	char cmd[8600];

	if (!path[0]) {
		/* Same base name, so the allow-lists that name "victim" still name it. */
		snprintf(path, sizeof(path), "%s/doctor/victim", harness_tmpdir());
		snprintf(cmd, sizeof(cmd), "mkdir -p '%s/doctor' && cp '%s' '%s'", harness_tmpdir(),
			 harness_victim(), path);
		ck_assert_int_eq(system(cmd), 0);
	}
	return path;
}

#define TOOL(...) ((const char *const[]){ tool(), __VA_ARGS__, NULL })
#define TOOL_ENV(...) ENV(env_library, env_no_config, __VA_ARGS__)

static void run_tool(const char *const *argv, const char *const *env, struct victim_result *r)
{
	struct victim_opts o = { .argv = argv, .env = env ? env : ENV(env_library, env_no_config) };

	RUN(&o, r);
	ck_assert_msg(r->signal == 0, "tool killed by signal %d; stderr:\n%s", r->signal, r->err);
}

#define ASSERT_EXIT(r, code)                                                                       \
	ck_assert_msg((r)->exit_code == (code), "exit %d, expected %d; stdout:\n%s\nstderr:\n%s",  \
		      (r)->exit_code, (code), (r)->out, (r)->err)

/* ---- processes that stay alive while the tool looks at them ---- */

struct bg {
	pid_t pid;
	char pid_text[16];
	char out[8192]; /* what it printed up to the ready key */
};

/*
 * Start argv and wait until it printed "ready_key=". PR_SET_PDEATHSIG: if the test dies on an
 * assertion, the process goes with it instead of sleeping on.
 */
struct bg_opts {
	bool preload;
	bool drop_ipc_lock; /* the container condition: no CAP_IPC_LOCK ... */
	long long memlock;  /* ... and RLIMIT_MEMLOCK soft = hard = this, when > 0 */
};

static void bg_start_opts(struct bg *b, const char *const *argv, const struct bg_opts *o,
			  const char *ready_key);
static void bg_wait_asleep(const struct bg *b);

static void bg_start(struct bg *b, const char *const *argv, bool preload, const char *ready_key)
{
	struct bg_opts o = { .preload = preload };

	bg_start_opts(b, argv, &o, ready_key);
}

static void bg_start_opts(struct bg *b, const char *const *argv, const struct bg_opts *o,
			  const char *ready_key)
{
	bool preload = o->preload;

	static char preload_env[4200];
	char *env[3] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL, NULL };
	char buf[8192] = "", key[64];
	size_t len = 0;
	time_t deadline = time(NULL) + 20;
	int fds[2];

	if (preload) {
		snprintf(preload_env, sizeof(preload_env), "LD_PRELOAD=%s", harness_library());
		env[1] = preload_env;
	}
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (o->memlock > 0) {
			struct rlimit rl = { (rlim_t)o->memlock, (rlim_t)o->memlock };

			if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
				_exit(126);
		}
		if (o->drop_ipc_lock)
			harness_drop_ipc_lock();
		dup2(fds[1], 1);
		dup2(devnull, 2);
		execve(argv[0], (char *const *)argv, env);
		_exit(127);
	}
	close(fds[1]);
	snprintf(key, sizeof(key), "%s=", ready_key);
	while (!strstr(buf, key) && time(NULL) < deadline && len + 1 < sizeof(buf)) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 500) <= 0)
			continue;
		n = read(fds[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	close(fds[0]);
	ck_assert_msg(strstr(buf, key), "the process never printed %s; it printed:\n%s", key, buf);
	/* The process reports what it sees before waiting: keep the line after the key whole. */
	ck_assert_int_eq(kv_get(buf, "pid"), b->pid);
	memcpy(b->out, buf, sizeof(b->out));
	bg_wait_asleep(b);
	snprintf(b->pid_text, sizeof(b->pid_text), "%d", (int)b->pid);
}

/*
 * Every thread asleep in the kernel: it printed its ready key just before its sleep, and status
 * finds a thread's stack only while the thread is blocked (/proc/PID/task/TID/syscall).
 */
static void bg_wait_asleep(const struct bg *b)
{
	for (int tries = 0; tries < 200; tries++) {
		char path[64], line[512];
		struct dirent *de;
		bool all = true;
		DIR *d;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)b->pid);
		d = opendir(path);
		ck_assert_ptr_nonnull(d);
		while ((de = readdir(d))) {
			char stat[320];
			FILE *f;
			char *paren;

			if (de->d_name[0] == '.')
				continue;
			snprintf(stat, sizeof(stat), "/proc/%d/task/%s/stat", (int)b->pid,
				 de->d_name);
			f = fopen(stat, "re");
			if (!f)
				continue;
			if (fgets(line, sizeof(line), f) && (paren = strrchr(line, ')')) &&
			    paren[2] != 'S')
				all = false;
			fclose(f);
		}
		closedir(d);
		if (all)
			return;
		usleep(10000);
	}
	ck_abort_msg("process %d never slept", (int)b->pid);
}

static void bg_stop(struct bg *b)
{
	kill(b->pid, SIGKILL);
	waitpid(b->pid, NULL, 0);
}

/* A victim that sleeps: locked under the preload, unlocked without. */
static void victim_sleeping(struct bg *b, bool preload)
{
	bg_start(b, VICTIM("sleep", "60"), preload, "locked_resident");
}

/* A JSON number "key": N in text; -1 when absent or null. */
static long long json_num(const char *text, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\": ", key);
	p = strstr(text, k);
	if (!p || p[strlen(k)] < '0' || p[strlen(k)] > '9')
		return -1;
	return strtoll(p + strlen(k), NULL, 10);
}

/* ---- top level ---- */

START_TEST(test_version_and_help)
{
	static const char *const commands[] = { "run", "status", "doctor", "check-config" };
	struct victim_result r;

	run_tool(TOOL("--version"), NULL, &r);
	ASSERT_EXIT(&r, 0);
	ck_assert_msg(strncmp(r.out, "duende-mlock ", 13) == 0, "%s", r.out);
	victim_result_free(&r);

	run_tool(TOOL("--help"), NULL, &r);
	ASSERT_EXIT(&r, 0);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		ASSERT_HAS(r.out, commands[i]);
	victim_result_free(&r);

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char usage[64];

		run_tool(TOOL(commands[i], "--help"), NULL, &r);
		ASSERT_EXIT(&r, 0);
		snprintf(usage, sizeof(usage), "Usage: duende-mlock %s", commands[i]);
		ASSERT_HAS(r.out, usage);
		ck_assert_str_eq(r.err, "");
		victim_result_free(&r);
	}
}
END_TEST

START_TEST(test_usage_errors)
{
	struct victim_result r;

	run_tool(TOOL("frobnicate"), NULL, &r);
	ASSERT_EXIT(&r, 2);
	ASSERT_HAS(r.err, "duende-mlock: unknown command 'frobnicate'");
	victim_result_free(&r);

	run_tool((const char *const[]){ tool(), NULL }, NULL, &r);
	ASSERT_EXIT(&r, 2);
	ASSERT_HAS(r.err, "duende-mlock: ");
	victim_result_free(&r);

	/* A name with a control character is escaped, not echoed raw into a terminal. */
	run_tool(TOOL("status", "12\033x"), NULL, &r);
	ASSERT_EXIT(&r, 2);
	ASSERT_HAS(r.err, "duende-mlock: status: '12\\x1bx' is not a PID");
	victim_result_free(&r);

	run_tool(TOOL("status", "--json", "--prometheus", "1"), NULL, &r);
	ASSERT_EXIT(&r, 2);
	victim_result_free(&r);

	run_tool(TOOL("run"), NULL, &r);
	ASSERT_EXIT(&r, 2);
	ASSERT_HAS(r.err, "no PROGRAM");
	victim_result_free(&r);
}
END_TEST

/* ---- status ---- */

START_TEST(test_status_locked_victim)
{
	struct victim_result r;
	struct bg b;

	victim_sleeping(&b, true);
	run_tool(TOOL("status", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, b.pid_text);
	ASSERT_HAS(r.out, "victim");
	ASSERT_HAS(r.out, " yes ");
	/* Every mapping locked, no marker: MCL_FUTURE inferred (the '*'). */
	ASSERT_HAS(r.out, " yes* locked\n");
	ASSERT_HAS(r.out, "io_flusher no; oom_score_adj 0; SCHED_OTHER nice 0; 1 thread, stacks ");
	victim_result_free(&r);

	run_tool(TOOL("status", "--json", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 0);
	ck_assert_int_eq(json_num(r.out, "pid"), b.pid);
	ASSERT_HAS(r.out, "\"comm\": \"victim\"");
	ck_assert_int_ge(json_num(r.out, "locked_bytes"), HARNESS_MIB);
	ck_assert_int_gt(json_num(r.out, "locked_resident_bytes"), 0);
	ck_assert_int_gt(json_num(r.out, "rss_bytes"), 0);
	ck_assert_int_eq(json_num(r.out, "swap_bytes"), 0);
	ASSERT_HAS(r.out, "\"shim_loaded\": true");
	ASSERT_HAS(r.out, "\"locked\": true");
	ASSERT_HAS(r.out, "\"state\": \"locked\"");
	ASSERT_HAS(r.out, "\"new_memory_locked\": true, \"new_memory_basis\": \"inferred\"");
	ASSERT_HAS(r.out, "\"locked_percent\": 100.0");
	ck_assert_int_eq(json_num(r.out, "resident_unlocked_bytes"), 0);
	ck_assert_int_eq(json_num(r.out, "unlocked_mappings"), 0);
	ck_assert_int_eq(json_num(r.out, "resident_locked_bytes"),
			 json_num(r.out, "resident_bytes"));
	ASSERT_HAS(r.out, "\"io_flusher\": false");
	ck_assert_int_eq(json_num(r.out, "oom_score_adj"), 0);
	ASSERT_HAS(r.out, "\"sched_policy\": \"SCHED_OTHER\"");
	ck_assert_int_eq(json_num(r.out, "threads"), 1);
	/* The victim sleeps in nanosleep(): its stack pointer is in [stack], which is locked. */
	ck_assert_int_eq(json_num(r.out, "stacks_found"), 1);
	ck_assert_int_gt(json_num(r.out, "stack_locked_bytes"), 0);
	ck_assert_int_eq(json_num(r.out, "stack_locked_bytes"),
			 json_num(r.out, "stack_resident_bytes"));
	victim_result_free(&r);
	bg_stop(&b);
}
END_TEST

START_TEST(test_status_unlocked_victim)
{
	struct victim_result r;
	struct bg b;

	victim_sleeping(&b, false);
	run_tool(TOOL("status", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "NOT LOCKED");
	ASSERT_HAS(r.out, " no ");
	victim_result_free(&r);

	run_tool(TOOL("status", "--json", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ck_assert_int_eq(json_num(r.out, "locked_bytes"), 0);
	ASSERT_HAS(r.out, "\"shim_loaded\": false");
	ASSERT_HAS(r.out, "\"locked\": false");
	ASSERT_HAS(r.out, "\"state\": \"not-locked\"");
	ASSERT_HAS(r.out, "\"new_memory_locked\": false");
	ck_assert_int_eq(json_num(r.out, "resident_locked_bytes"), 0);
	ck_assert_int_eq(json_num(r.out, "stack_locked_bytes"), 0);
	ck_assert_int_gt(json_num(r.out, "stack_resident_bytes"), 0);
	victim_result_free(&r);
	bg_stop(&b);
}
END_TEST

START_TEST(test_status_all_must_be_locked)
{
	struct victim_result r;
	struct bg locked, unlocked;

	victim_sleeping(&locked, true);
	victim_sleeping(&unlocked, false);
	run_tool(TOOL("status", locked.pid_text, unlocked.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	/* The header and two processes, each on two lines, and the footnote on '*'. */
	ck_assert_int_eq(count_of(r.out, "\n"), 6);
	ASSERT_HAS(r.out, "\nNEW: ");
	victim_result_free(&r);

	/* --all: the preloaded victim is found; the other has no library mapped. */
	run_tool(TOOL("status", "--json", "--all"), NULL, &r);
	ASSERT_HAS(r.out, locked.pid_text);
	{
		char unlocked_pid[32];

		snprintf(unlocked_pid, sizeof(unlocked_pid), "\"pid\": %s,", unlocked.pid_text);
		ASSERT_LACKS(r.out, unlocked_pid);
	}
	victim_result_free(&r);
	bg_stop(&locked);
	bg_stop(&unlocked);
}
END_TEST

START_TEST(test_status_gone_process)
{
	struct victim_result r;
	struct bg b;

	victim_sleeping(&b, true);
	bg_stop(&b);
	run_tool(TOOL("status", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "no such process");
	victim_result_free(&r);

	run_tool(TOOL("status", "--json", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "\"locked_bytes\": null");
	ASSERT_HAS(r.out, "\"locked\": false");
	/* Every key of a readable process is there, null. */
	ASSERT_HAS(r.out, "\"new_memory_locked\": null");
	ASSERT_HAS(r.out, "\"threads\": null");
	ASSERT_HAS(r.out, "\"state\": \"gone\"");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_status_prometheus)
{
	static const char *const families[] = {
		"duende_mlock_locked_bytes",
		"duende_mlock_locked_resident_bytes",
		"duende_mlock_rss_bytes",
		"duende_mlock_swap_bytes",
		"duende_mlock_shim_loaded",
		"duende_mlock_locked",
		"duende_mlock_partly_locked",
		"duende_mlock_new_memory_locked",
		"duende_mlock_resident_locked_bytes",
		"duende_mlock_resident_unlocked_bytes",
		"duende_mlock_new_memory_fails",
		"duende_mlock_memlock_limit_bytes",
		"duende_mlock_io_flusher",
		"duende_mlock_oom_score_adj",
		"duende_mlock_sched_priority",
		"duende_mlock_threads",
		"duende_mlock_realtime_threads",
		"duende_mlock_stack_locked_bytes",
		"duende_mlock_stack_resident_bytes",
	};
	struct victim_result r;
	struct bg b;
	char sample[128];

	victim_sleeping(&b, true);
	run_tool(TOOL("status", "--prometheus", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 0);
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		char line[128];

		snprintf(line, sizeof(line), "# HELP %s ", families[i]);
		ASSERT_HAS(r.out, line);
		snprintf(line, sizeof(line), "# TYPE %s gauge\n", families[i]);
		ASSERT_HAS(r.out, line);
	}
	snprintf(sample, sizeof(sample), "duende_mlock_locked{pid=\"%s\",comm=\"victim\"} 1\n",
		 b.pid_text);
	ASSERT_HAS(r.out, sample);
	snprintf(sample, sizeof(sample), "duende_mlock_swap_bytes{pid=\"%s\",comm=\"victim\"} 0\n",
		 b.pid_text);
	ASSERT_HAS(r.out, sample);
	/* Every line is a comment or "name{labels} value". */
	for (const char *l = r.out; *l; l = strchr(l, '\n') + 1) {
		ck_assert_msg(l[0] == '#' || strncmp(l, "duende_mlock_", 13) == 0, "bad line: %s",
			      l);
		ck_assert_ptr_nonnull(strchr(l, '\n'));
	}
	victim_result_free(&r);
	bg_stop(&b);
}
END_TEST

/*
 * The container condition: no CAP_IPC_LOCK, a finite limit. The library locks what there is and
 * withholds MCL_FUTURE; the 16 MiB mapped after start stays unlocked. That is "partly locked",
 * exit 3, never "locked" with 0: a health check built on status must fail.
 */
static void target_partly(struct bg *b)
{
	struct bg_opts o = { .preload = true, .drop_ipc_lock = true, .memlock = 64 * HARNESS_MIB };
	struct rlimit rl;

	/* Lowered, never raised: raising the hard limit needs CAP_SYS_RESOURCE. */
	ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && (long long)rl.rlim_max < o.memlock)
		o.memlock = (long long)rl.rlim_max;

	bg_start_opts(b, (const char *const[]){ target(), "map", "16", "sleep", "60", NULL }, &o,
		      "ready");
}

START_TEST(test_status_partly_locked)
{
	struct victim_result r;
	struct bg b, full, none;

	target_partly(&b);
	run_tool(TOOL("status", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 3);
	ASSERT_HAS(r.out, " no*  PARTLY LOCKED: ");
	ASSERT_HAS(r.out, "resident (");
	ASSERT_HAS(r.out, "%), new memory not locked\n");
	ASSERT_LACKS(r.out, "* locked\n");
	victim_result_free(&r);

	run_tool(TOOL("status", "--json", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 3);
	ASSERT_HAS(r.out, "\"locked\": false");
	ASSERT_HAS(r.out, "\"state\": \"partly-locked\"");
	ASSERT_HAS(r.out, "\"new_memory_locked\": false, \"new_memory_basis\": \"inferred\"");
	ck_assert_int_gt(json_num(r.out, "resident_locked_bytes"), 0);
	ck_assert_int_ge(json_num(r.out, "resident_unlocked_bytes"), 16 * HARNESS_MIB);
	ck_assert_int_ge(json_num(r.out, "unlocked_mappings"), 1);
	ck_assert_int_eq(json_num(r.out, "resident_locked_bytes") +
				 json_num(r.out, "resident_unlocked_bytes"),
			 json_num(r.out, "resident_bytes"));
	victim_result_free(&r);

	run_tool(TOOL("status", "--prometheus", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 3);
	{
		char sample[160];

		snprintf(sample, sizeof(sample),
			 "duende_mlock_partly_locked{pid=\"%s\",comm=\"tool-target\"} 1\n",
			 b.pid_text);
		ASSERT_HAS(r.out, sample);
		snprintf(sample, sizeof(sample),
			 "duende_mlock_locked{pid=\"%s\",comm=\"tool-target\"} 0\n", b.pid_text);
		ASSERT_HAS(r.out, sample);
		snprintf(sample, sizeof(sample),
			 "duende_mlock_new_memory_locked{pid=\"%s\",comm=\"tool-target\","
			 "basis=\"inferred\"} 0\n",
			 b.pid_text);
		ASSERT_HAS(r.out, sample);
	}
	victim_result_free(&r);

	/* The worst state decides: partly beside fully locked is 3, beside not locked 1. */
	victim_sleeping(&full, true);
	victim_sleeping(&none, false);
	run_tool(TOOL("status", full.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 0);
	victim_result_free(&r);
	run_tool(TOOL("status", full.pid_text, b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 3);
	victim_result_free(&r);
	run_tool(TOOL("status", b.pid_text, none.pid_text, full.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	victim_result_free(&r);
	bg_stop(&full);
	bg_stop(&none);
	bg_stop(&b);
}
END_TEST

/*
 * A master whose worker is not locked: status on the master's PID shows the worker too (it has
 * the library mapped) and fails; --no-children looks at the master alone.
 */
START_TEST(test_status_children)
{
	struct victim_result r;
	struct bg b;
	char child_of[64];

	bg_start(&b, (const char *const[]){ target(), "fork-unlocked", "sleep", "60", NULL }, true,
		 "ready");
	run_tool(TOOL("status", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	snprintf(child_of, sizeof(child_of), "child of %s; ", b.pid_text);
	ASSERT_HAS(r.out, child_of);
	ASSERT_HAS(r.out, " locked\n");
	ASSERT_HAS(r.out, "NOT LOCKED\n");
	victim_result_free(&r);

	run_tool(TOOL("status", "--json", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "\"child\": true");
	ASSERT_HAS(r.out, "\"child\": false");
	ck_assert_int_eq(count_of(r.out, "\"pid\": "), 2);
	victim_result_free(&r);

	run_tool(TOOL("status", "--no-children", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_LACKS(r.out, "child of");
	victim_result_free(&r);
	bg_stop(&b);
}
END_TEST

/*
 * What a swap server depends on, set by the process itself and read back by status. IO_FLUSHER
 * and a lower oom_score_adj need CAP_SYS_RESOURCE, which this machine may withhold even from root:
 * the process says whether its call worked, and status must agree with it either way.
 */
START_TEST(test_status_swap_server_fields)
{
	struct victim_result r;
	struct bg b;
	char sample[200], line[200];
	bool flusher, oom;

	bg_start(&b,
		 (const char *const[]){ target(), "io-flusher", "oom-min", "fifo", "10", "threads",
					"3", "sleep", "60", NULL },
		 true, "ready");
	ck_assert_int_eq(kv_get(b.out, "fifo"), 0);
	flusher = kv_get(b.out, "io_flusher") == 0;
	oom = kv_get(b.out, "oom") == 0;
	ck_assert_msg(flusher == oom || !harness_has_sys_resource(), "%s", b.out);
	if (!flusher)
		fprintf(stderr, "no CAP_SYS_RESOURCE: IO_FLUSHER, oom_score_adj read back unset\n");
	run_tool(TOOL("status", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 0);
	snprintf(line, sizeof(line),
		 "io_flusher %s; oom_score_adj %s; SCHED_FIFO priority 10; 4 threads, stacks ",
		 flusher ? "yes" : "no", oom ? "-1000" : "0");
	ASSERT_HAS(r.out, line);
	victim_result_free(&r);

	run_tool(TOOL("status", "--json", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, flusher ? "\"io_flusher\": true" : "\"io_flusher\": false");
	ck_assert_int_eq(json_num(r.out, "task_flags") & 0x00180000, flusher ? 0x00180000 : 0);
	ASSERT_HAS(r.out, oom ? "\"oom_score_adj\": -1000" : "\"oom_score_adj\": 0");
	ASSERT_HAS(r.out, "\"sched_policy\": \"SCHED_FIFO\"");
	ck_assert_int_eq(json_num(r.out, "sched_priority"), 10);
	ck_assert_int_eq(json_num(r.out, "threads"), 4);
	/* Threads inherit all three from the thread that created them. */
	ck_assert_int_eq(json_num(r.out, "io_flusher_threads"), flusher ? 4 : 0);
	ck_assert_int_eq(json_num(r.out, "realtime_threads"), 4);
	/* Every thread waits in a system call: each stack is found, and each is locked. */
	ck_assert_int_eq(json_num(r.out, "stacks_found"), 4);
	ck_assert_int_eq(json_num(r.out, "stacks_unknown"), 0);
	ck_assert_int_gt(json_num(r.out, "stack_locked_bytes"), 0);
	ck_assert_int_eq(json_num(r.out, "stack_locked_bytes"),
			 json_num(r.out, "stack_resident_bytes"));
	victim_result_free(&r);

	run_tool(TOOL("status", "--prometheus", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 0);
	snprintf(sample, sizeof(sample),
		 "duende_mlock_io_flusher{pid=\"%s\",comm=\"tool-target\"} %d\n", b.pid_text,
		 flusher);
	ASSERT_HAS(r.out, sample);
	snprintf(sample, sizeof(sample),
		 "duende_mlock_oom_score_adj{pid=\"%s\",comm=\"tool-target\"} %s\n", b.pid_text,
		 oom ? "-1000" : "0");
	ASSERT_HAS(r.out, sample);
	snprintf(sample, sizeof(sample),
		 "duende_mlock_sched_priority{pid=\"%s\",comm=\"tool-target\","
		 "policy=\"SCHED_FIFO\"} 10\n",
		 b.pid_text);
	ASSERT_HAS(r.out, sample);
	snprintf(sample, sizeof(sample),
		 "duende_mlock_threads{pid=\"%s\",comm=\"tool-target\"} 4\n", b.pid_text);
	ASSERT_HAS(r.out, sample);
	victim_result_free(&r);
	bg_stop(&b);
}
END_TEST

/*
 * An nginx worker's case: MCL_FUTURE kept on CAP_IPC_LOCK under a finite limit, then the
 * capability dropped with VmLck already above the limit. Every mapping is locked and new memory
 * would be, but the next mmap, brk or thread stack fails: status must not say "locked" with 0.
 */
START_TEST(test_status_at_limit)
{
	struct bg_opts o = { .preload = true, .memlock = HARNESS_MIB };
	struct victim_result r;
	struct bg b;

	bg_start_opts(&b, (const char *const[]){ target(), "drop-ipc-lock", "sleep", "60", NULL },
		      &o, "ready");
	ck_assert_int_eq(kv_get(b.out, "drop_ipc_lock"), 0);
	run_tool(TOOL("status", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "LOCKED, BUT NEW MEMORY WILL FAIL: VmLck ");
	ASSERT_HAS(r.out, "has reached its RLIMIT_MEMLOCK 1.0 MiB, without CAP_IPC_LOCK\n");
	victim_result_free(&r);

	run_tool(TOOL("status", "--json", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "\"state\": \"at-limit\"");
	ASSERT_HAS(r.out, "\"new_memory_fails\": true");
	ASSERT_HAS(r.out, "\"cap_ipc_lock\": false");
	ck_assert_int_eq(json_num(r.out, "memlock_limit_bytes"), HARNESS_MIB);
	victim_result_free(&r);

	run_tool(TOOL("status", "--prometheus", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	{
		char sample[160];

		snprintf(sample, sizeof(sample),
			 "duende_mlock_new_memory_fails{pid=\"%s\",comm=\"tool-target\"} 1\n",
			 b.pid_text);
		ASSERT_HAS(r.out, sample);
	}
	victim_result_free(&r);
	bg_stop(&b);
}
END_TEST

START_TEST(test_status_escapes_names)
{
	/* comm is the name the program was executed as: a symlink chooses it. */
	static const char json[] = "\"comm\": \"v\\\"q\\\\x5cb\\\\x01\"";
	static const char prom[] = "comm=\"v\\\"q\\\\x5cb\\\\x01\"}";
	char link[4300];
	struct victim_result r;
	struct bg b;

	snprintf(link, sizeof(link), "%s/v\"q\\b\001", harness_tmpdir());
	unlink(link);
	ck_assert_int_eq(symlink(harness_victim(), link), 0);
	bg_start(&b, (const char *const[]){ link, "sleep", "60", NULL }, true, "locked_resident");

	run_tool(TOOL("status", "--json", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 0);
	/* Escaped to \xNN first, then quoted for JSON: no raw control byte or bare quote. */
	ASSERT_HAS(r.out, json);
	victim_result_free(&r);

	run_tool(TOOL("status", "--prometheus", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, prom);
	ASSERT_LACKS(r.out, "\001");
	victim_result_free(&r);

	run_tool(TOOL("status", b.pid_text), NULL, &r);
	ASSERT_HAS(r.out, "v\"q\\x5cb\\x01");
	ASSERT_LACKS(r.out, "\001");
	victim_result_free(&r);
	bg_stop(&b);
	unlink(link);
}
END_TEST

START_TEST(test_status_unlocked_in_swap)
{
	struct victim_result r;
	struct bg b;

	bg_start(&b, (const char *const[]){ target(), "pageout", "32", "sleep", "60", NULL }, false,
		 "ready");
	run_tool(TOOL("status", "--json", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ck_assert_int_ge(json_num(r.out, "swap_bytes"), 16 * HARNESS_MIB);
	ASSERT_HAS(r.out, "\"locked\": false");
	victim_result_free(&r);
	bg_stop(&b);
}
END_TEST

START_TEST(test_status_locked_but_partly_in_swap)
{
	/* Paged out first, then locked with MCL_ONFAULT: the swapped pages stay in swap. */
	struct victim_result r;
	struct bg b;

	bg_start(&b,
		 (const char *const[]){ target(), "pageout", "32", "lock-onfault", "sleep", "60",
					NULL },
		 false, "ready");
	run_tool(TOOL("status", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "LOCKED, BUT PART IS IN SWAP");
	victim_result_free(&r);

	run_tool(TOOL("status", "--json", b.pid_text), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ck_assert_int_ge(json_num(r.out, "swap_bytes"), 16 * HARNESS_MIB);
	ck_assert_int_ge(json_num(r.out, "locked_bytes"), 32 * HARNESS_MIB);
	ASSERT_HAS(r.out, "\"locked\": true");
	victim_result_free(&r);
	bg_stop(&b);
}
END_TEST

/* ---- doctor ---- */

START_TEST(test_doctor_dynamic_program_ok)
{
	struct victim_result r;

	run_tool(TOOL("doctor", doctor_victim()), NULL, &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, "is dynamically linked");
	ASSERT_HAS(r.out, "CAP_IPC_LOCK is effective");
	ASSERT_HAS(r.out, "supports MCL_ONFAULT");
	ASSERT_HAS(r.out, "seccomp");
	ASSERT_HAS(r.out, "verdict: locking would work");
	ASSERT_LACKS(r.out, "FAIL");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_doctor_static_program)
{
	const char *st = static_target();
	struct victim_result r;

	if (!st)
		return;
	run_tool(TOOL("doctor", st), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "FAIL  program");
	ASSERT_HAS(r.out, "is statically linked");
	ASSERT_HAS(r.out, "fix: ");
	ASSERT_HAS(r.out, "dmlock_lock_all()");
	ASSERT_HAS(r.out, "verdict: locking would FAIL");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_doctor_missing_program)
{
	struct victim_result r;

	run_tool(TOOL("doctor", "no-such-program-anywhere"), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "not found");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_doctor_denied)
{
	/* The capability dropped for real and the limit at 0: mlockall would fail with EPERM. */
	struct victim_opts o = { .argv = TOOL("doctor", doctor_victim()),
				 .env = ENV(env_library, env_no_config),
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 0 };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "no CAP_IPC_LOCK");
	ASSERT_HAS(r.out, "FAIL  limit");
	ASSERT_HAS(r.out, "EPERM");
	ASSERT_HAS(r.out, "fix: grant CAP_IPC_LOCK");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_doctor_denied_setpriv)
{
	/* The operator's way to ask the same question from a root shell. */
	struct victim_result r;

	run_tool((const char *const[]){ "/usr/bin/setpriv", "--bounding-set=-ipc_lock",
					"--inh-caps=-ipc_lock", "/usr/bin/prlimit", "--memlock=0:0",
					tool(), "doctor", NULL },
		 NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "EPERM");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_doctor_small_limit)
{
	/* 64 KiB, the old default: smaller than any program, so ENOMEM. */
	struct victim_opts o = { .argv = TOOL("doctor", doctor_victim()),
				 .env = ENV(env_library, env_no_config),
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 64 * HARNESS_KIB };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "ENOMEM");
	ASSERT_HAS(r.out, "LimitMEMLOCK=infinity");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_doctor_large_finite_limit_warns)
{
	/*
	 * Enough to lock now, but MCL_FUTURE is withheld: works, with warnings. The hard limit we
	 * have is the most we can set (raising it needs CAP_SYS_RESOURCE, which may be missing).
	 */
	struct victim_opts o = { .argv = TOOL("doctor", doctor_victim()),
				 .env = ENV(env_library, env_no_config),
				 .drop_ipc_lock = true,
				 .set_memlock = true };
	struct victim_result r;
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	o.memlock = rl.rlim_max == RLIM_INFINITY ? 1024 * HARNESS_MIB : (long long)rl.rlim_max;
	ck_assert_msg(o.memlock >= 8 * HARNESS_MIB, "hard RLIMIT_MEMLOCK %lld is too small to test",
		      o.memlock);
	RUN(&o, &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, "WARN  limit");
	ASSERT_HAS(r.out, "MCL_FUTURE will be withheld");
	ASSERT_HAS(r.out, "verdict: locking would work, with");
	victim_result_free(&r);
}
END_TEST

static const char *config_env(const char *path)
{
	static char e[4400];

	snprintf(e, sizeof(e), "DUENDE_MLOCK_CONFIG=%s", path);
	return e;
}

/*
 * Called by a symlink's name (Debian's redis-server runs redis-check-rdb): that name counts and is
 * said, with the executable beside it, by doctor and by the status line.
 */
START_TEST(test_symlink_named_as_called)
{
	struct victim_result r;
	const char *path;
	char link[4300], expect[4400];

	tool();
	snprintf(link, sizeof(link), "%s/redis-like", harness_tmpdir());
	unlink(link);
	ck_assert_int_eq(symlink(harness_victim(), link), 0);
	path = harness_write_config("link.conf", "programs = {\"redis-like\"}\n", 0644);
	run_tool(TOOL("doctor", link), ENV(env_library, config_env(path)), &r);
	ASSERT_EXIT(&r, 0);
	snprintf(expect, sizeof(expect), "%s (executable %s) is in the programs list", link,
		 harness_victim());
	ASSERT_HAS(r.out, expect);
	victim_result_free(&r);

	run_tool(TOOL("run", "--", link, "status"), ENV(env_library, config_env(path)), &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(r.err, "duende-mlock: redis-like[");
	ASSERT_HAS(r.err, "] (executable victim): locked");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_doctor_config_problems)
{
	struct victim_result r;
	const char *path;

	tool();
	path = harness_write_config("other.conf", "programs = {\"some-other-daemon\"}\n", 0644);
	run_tool(TOOL("doctor", doctor_victim()), ENV(env_library, config_env(path)), &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "is trusted (owner uid 0, mode 0644) and valid");
	ASSERT_HAS(r.out, "is not in the programs list");
	victim_result_free(&r);

	path = harness_write_config("listed.conf", "programs = {\"victim\"}\n", 0644);
	run_tool(TOOL("doctor", doctor_victim()), ENV(env_library, config_env(path)), &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, "is in the programs list");
	victim_result_free(&r);

	path = harness_write_config("writable.conf", "onfault = true\n", 0666);
	run_tool(TOOL("doctor"), ENV(env_library, config_env(path)), &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "FAIL  config");
	ASSERT_HAS(r.out, "writable by group or others");
	ASSERT_HAS(r.out, "fix: chown root:root");
	victim_result_free(&r);

	path = harness_write_config("broken.conf", "onfault = perhaps\n", 0644);
	run_tool(TOOL("doctor"), ENV(env_library, config_env(path)), &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "broken.conf:1:");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_doctor_system_wide)
{
	/* /etc/ld.so.preload in a private copy of /etc: read and judged, never written. */
	char line[4300], etc_file[4300];
	struct victim_opts o = { .argv = TOOL("doctor"),
				 .env = ENV(env_library, env_no_config),
				 .new_mount_ns = true,
				 .etc_overlay = harness_etc_copy() };
	struct victim_result r;

	snprintf(etc_file, sizeof(etc_file), "%s/ld.so.preload", harness_etc_copy());
	snprintf(line, sizeof(line), "%s\n", harness_library());
	harness_write_file(etc_file, line, 0644, 0, 0);
	RUN(&o, &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, "ok    system-wide /etc/ld.so.preload loads");
	/* No config, so no allow-list: system-wide, nothing would be locked. */
	ASSERT_HAS(r.out, "programs is empty");
	victim_result_free(&r);

	/* A path that does not exist: every program of the machine complains. */
	harness_write_file(etc_file, "/nonexistent/libduende_mlock_preload.so\n", 0644, 0, 0);
	RUN(&o, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "FAIL  system-wide");
	ASSERT_HAS(r.out, "cannot be read");
	victim_result_free(&r);
	unlink(etc_file);
}
END_TEST

/* ---- check-config ---- */

START_TEST(test_check_config_good)
{
	struct victim_result r;
	const char *path;

	tool();
	path = harness_write_config("good.conf",
				    "# a comment\n"
				    "onfault = true\n"
				    "programs = {\"trueno-ublk\", \"/usr/sbin/nbd-server\"}\n"
				    "log = syslog\n",
				    0644);
	run_tool(TOOL("check-config", path), ENV(env_library, "DUENDE_MLOCK_REQUIRED=yes"), &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, ": ok\n");
	ASSERT_HAS(r.out, "current   = true    # default\n");
	ASSERT_HAS(r.out, "onfault   = true    # file\n");
	ASSERT_HAS(r.out, "required  = true    # environment DUENDE_MLOCK_REQUIRED\n");
	ASSERT_HAS(r.out, "programs  = {\"trueno-ublk\", \"/usr/sbin/nbd-server\"}  # file");
	ASSERT_HAS(r.out, "log       = syslog  # file\n");
	ASSERT_HAS(r.out, "profile   = none    # default\n");
	ck_assert_str_eq(r.err, "");
	victim_result_free(&r);

	/* The default file comes from DUENDE_MLOCK_CONFIG, as in the library. */
	run_tool(TOOL("check-config"), ENV(env_library, config_env(path)), &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, "onfault   = true    # file\n");
	victim_result_free(&r);
}
END_TEST

/* A profile and a program's section, with the layer each value came from. */
START_TEST(test_check_config_program_section)
{
	struct victim_result r;
	const char *path;

	tool();
	path = harness_write_config(
		"section.conf",
		"programs = {sshd}\nonfault = true\n"
		"program \"nbd-server\" {\n\tprofile = swap-server\n\trequired = true\n}\n",
		0644);
	run_tool(TOOL("check-config", "--program", "/usr/sbin/nbd-server", path),
		 ENV(env_library, "DUENDE_MLOCK_PROPAGATE=0"), &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, "# /usr/sbin/nbd-server: named by the programs list\n");
	ASSERT_HAS(r.out, "profile   = swap-server  # file, the program's section\n");
	ASSERT_HAS(r.out, "current   = true    # profile swap-server\n");
	ASSERT_HAS(r.out, "onfault   = true    # file\n");
	ASSERT_HAS(r.out, "required  = true    # file, the program's section\n");
	ASSERT_HAS(r.out, "propagate = false   # environment DUENDE_MLOCK_PROPAGATE\n");
	ASSERT_HAS(r.out, "programs  = {\"sshd\", \"nbd-server\"}  # file");
	victim_result_free(&r);

	/* Another program gets none of the section. */
	run_tool(TOOL("check-config", "--program", "/usr/sbin/sshd", path), NULL, &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, "profile   = none    # default\n");
	ASSERT_HAS(r.out, "required  = false   # default\n");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_check_config_default_missing)
{
	struct victim_result r;

	run_tool(TOOL("check-config"), NULL, &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, "no such file: the built-in defaults apply");
	ASSERT_HAS(r.out, "future    = true    # default\n");
	victim_result_free(&r);

	/* Named on the command line, a missing file is an error. */
	run_tool(TOOL("check-config", "/nonexistent/duende-mlock.conf"), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.err, "duende-mlock: Failed to open /nonexistent/duende-mlock.conf");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_check_config_errors)
{
	static const struct {
		const char *name, *text;
		unsigned mode;
		const char *expect;
	} cases[] = {
		{ "bool.conf", "current = true\nfuture = maybe\n", 0644, "bool.conf:2:" },
		{ "key.conf", "\n\nlocked = true\n", 0644, "key.conf:3:" },
		{ "log.conf", "log = journal\n", 0644, "log.conf:1: log = 'journal'" },
		{ "prog.conf", "programs = {\"bin/x\"}\n", 0644, "not a program name or an" },
		{ "dollar.conf", "# x\nprograms = {\"${HOME}\"}\n", 0644,
		  "dollar.conf:2: '${' is not allowed" },
		{ "mode.conf", "onfault = true\n", 0664, "or others (mode 0664)" },
	};
	struct victim_result r;

	tool();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path =
			harness_write_config(cases[i].name, cases[i].text, cases[i].mode);

		run_tool(TOOL("check-config", path), NULL, &r);
		ASSERT_EXIT(&r, 1);
		ASSERT_HAS(r.err, "duende-mlock: ");
		ASSERT_HAS(r.err, cases[i].expect);
		/* The library would ignore the file: the settings shown are the defaults. */
		ASSERT_HAS(r.out, "the library ignores this file");
		ASSERT_HAS(r.out, "onfault   = false   # default\n");
		victim_result_free(&r);
	}
}
END_TEST

START_TEST(test_check_config_not_root_owned)
{
	char path[4300];
	struct victim_result r;

	tool();
	snprintf(path, sizeof(path), "%s/nobody.conf", harness_tmpdir());
	harness_write_file(path, "onfault = true\n", 0644, 65534, 65534);
	run_tool(TOOL("check-config", path), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.err, "owned by uid 65534, not root");
	victim_result_free(&r);
}
END_TEST

/* ---- run ---- */

START_TEST(test_run_locks_victim)
{
	struct victim_result r;

	run_tool(TOOL("run", "--", harness_victim(), "status"), NULL, &r);
	ASSERT_HOST_RAN(&r);
	/* Locked before the victim's own constructor ran, so before main(). */
	ck_assert_int_ge(kv_get(r.out, "ctor_vm_lck"), HARNESS_MIB);
	ck_assert_int_ge(kv_get(r.out, "vm_lck"), HARNESS_MIB);
	ASSERT_HAS(r.err, "duende-mlock: victim[");
	ASSERT_HAS(r.err, "MCL_CURRENT|MCL_FUTURE");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_run_onfault)
{
	struct victim_result r;

	run_tool(TOOL("run", "--onfault", "--", harness_victim(), "onfault", "64", "8"), NULL, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(r.err, "MCL_ONFAULT");
	/* VmLck counts the whole mapping; only the touched part is resident. */
	ck_assert_int_ge(kv_get(r.out, "vm_lck"), 64 * HARNESS_MIB);
	ck_assert_int_lt(kv_get(r.out, "map_resident"), 32 * HARNESS_MIB);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_run_prepends_to_ld_preload)
{
	char lp[4300];
	struct victim_result r;

	tool();
	/* A name ld.so cannot find only makes it warn; what matters is the order kept. */
	run_tool(TOOL("run", "--", "/usr/bin/env"),
		 ENV(env_library, env_no_config, "LD_PRELOAD=libother-preload.so"), &r);
	ASSERT_EXIT(&r, 0);
	snprintf(lp, sizeof(lp), "LD_PRELOAD=%s:libother-preload.so\n", harness_library());
	ASSERT_HAS(r.out, lp);
	victim_result_free(&r);

	run_tool(TOOL("run", "--onfault", "--required", "--", "/usr/bin/env"), NULL, &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_HAS(r.out, "DUENDE_MLOCK_ONFAULT=1\n");
	ASSERT_HAS(r.out, "DUENDE_MLOCK_REQUIRED=1\n");
	snprintf(lp, sizeof(lp), "LD_PRELOAD=%s\n", harness_library());
	ASSERT_HAS(r.out, lp);
	victim_result_free(&r);
}
END_TEST

/* A swap server whose settings name its export gets the I/O object beside the library. */
START_TEST(test_run_adds_io_object_for_export)
{
	char lp[9000], export_env[4200];
	struct victim_result r;

	tool();
	snprintf(export_env, sizeof(export_env), "DUENDE_MLOCK_EXPORT=%s/x.img", harness_tmpdir());
	run_tool(TOOL("run", "--", "/usr/bin/env"),
		 TOOL_ENV("DUENDE_MLOCK_PROFILE=swap-server", export_env), &r);
	ASSERT_EXIT(&r, 0);
	snprintf(lp, sizeof(lp), "LD_PRELOAD=%s:%s\n", harness_library(), harness_io_library());
	ASSERT_HAS(r.out, lp);
	victim_result_free(&r);

	/* Not without the profile: open() and pwrite() are wrapped in swap servers only. */
	run_tool(TOOL("run", "--", "/usr/bin/env"), TOOL_ENV(export_env), &r);
	ASSERT_EXIT(&r, 0);
	ASSERT_LACKS(r.out, "libduende_mlock_io.so");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_run_required_denied_exits_71)
{
	struct victim_opts o = { .argv = TOOL("run", "--required", "--", harness_victim(),
					      "status"),
				 .env = ENV(env_library, env_no_config),
				 .drop_ipc_lock = true,
				 .set_memlock = true,
				 .memlock = 0 };
	struct victim_result r;

	RUN(&o, &r);
	ASSERT_EXIT(&r, 71);
	ASSERT_LACKS(r.out, "main_ran=1");
	ASSERT_HAS(r.err, "EPERM");
	victim_result_free(&r);
}
END_TEST

START_TEST(test_run_config)
{
	struct victim_result r;
	const char *path;

	tool();
	path = harness_write_config("run-onfault.conf", "onfault = true\n", 0644);
	run_tool(TOOL("run", "--config", path, "--", harness_victim(), "status"), NULL, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(r.err, "MCL_ONFAULT");
	victim_result_free(&r);

	/* A file the library would ignore is refused before anything runs. */
	path = harness_write_config("run-bad.conf", "onfault = sometimes\n", 0644);
	run_tool(TOOL("run", "--config", path, "--", harness_victim(), "status"), NULL, &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.err, "run-bad.conf:1:");
	ASSERT_LACKS(r.out, "main_ran");
	victim_result_free(&r);

	/* A list that does not name the program: the library would leave it alone; say so. */
	path = harness_write_config("run-other.conf", "programs = {\"other-daemon\"}\n", 0644);
	run_tool(TOOL("run", "--config", path, "--", harness_victim(), "status"), NULL, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(r.err, "is not in the config's programs list");
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	victim_result_free(&r);
}
END_TEST

/* Each problem is said once: by the library where it will say it, else by run. */
START_TEST(test_run_says_problems_once)
{
	struct victim_result r;
	const char *path;

	tool();
	path = harness_write_config("run-warn.conf", "onfault = sometimes\n", 0644);
	run_tool(TOOL("run", "--", harness_victim(), "status"),
		 ENV(env_library, config_env(path), "DUENDE_MLOCK_FUTURE=perhaps"), &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(count_of(r.err, "run-warn.conf:1:"), 1);
	ck_assert_int_eq(count_of(r.err, "DUENDE_MLOCK_FUTURE='perhaps'"), 1);
	victim_result_free(&r);

	/* Not named: the library says nothing, so run does. */
	run_tool(TOOL("run", "--", harness_victim(), "status"),
		 ENV(env_library, env_no_config, "DUENDE_MLOCK_PROGRAMS=other-daemon",
		     "DUENDE_MLOCK_FUTURE=perhaps"),
		 &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(count_of(r.err, "duende-mlock: warning: DUENDE_MLOCK_FUTURE='perhaps'"),
			 1);
	ck_assert_int_eq(count_of(r.err, "DUENDE_MLOCK_FUTURE='perhaps'"), 1);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_run_failures)
{
	struct victim_result r;

	run_tool(TOOL("run", "--", "/nonexistent/daemon"), NULL, &r);
	ASSERT_EXIT(&r, 127);
	ASSERT_HAS(r.err, "duende-mlock: Failed to execute /nonexistent/daemon");
	victim_result_free(&r);

	run_tool(TOOL("run", "--", harness_victim()),
		 ENV("DUENDE_MLOCK_LIBRARY=/nonexistent/libduende_mlock.so.1"), &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.err, "duende-mlock: Failed to find library /nonexistent/libduende_mlock.so.1");
	ASSERT_LACKS(r.out, "main_ran");
	victim_result_free(&r);

	/* A static program runs, unlocked, and the operator hears why. */
	if (static_target()) {
		run_tool(TOOL("run", "--", static_target()), NULL, &r);
		ASSERT_EXIT(&r, 0);
		ASSERT_HAS(r.err, "is statically linked");
		victim_result_free(&r);
	}
}
END_TEST

/*
 * A library that exists but does not load (here not an ELF file; in the field a 32-bit build, or
 * a wrong multiarch directory): ld.so would ignore it and run the program unlocked with status 0,
 * --required or not. run refuses to start, and doctor fails, each with the loader's reason.
 */
START_TEST(test_run_and_doctor_library_does_not_load)
{
	char lib[4300], env_lib[4400];
	struct victim_result r;

	tool();
	snprintf(lib, sizeof(lib), "%s/libduende_mlock_preload.so", harness_tmpdir());
	/* Longer than an ELF header, or ld.so says "file too short" instead. */
	harness_write_file(
		lib,
		"This is a text file, not an ELF shared object: ld.so refuses to preload "
		"it, and a program would run unlocked.\n",
		0644, 0, 0);
	snprintf(env_lib, sizeof(env_lib), "DUENDE_MLOCK_LIBRARY=%s", lib);

	run_tool(TOOL("run", "--required", "--", harness_victim(), "status"),
		 ENV(env_lib, env_no_config), &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.err, "duende-mlock: Failed to load library ");
	ASSERT_HAS(r.err, "the loader cannot preload it (invalid ELF header)");
	ASSERT_LACKS(r.out, "main_ran");
	victim_result_free(&r);

	run_tool(TOOL("doctor"), ENV(env_lib, env_no_config), &r);
	ASSERT_EXIT(&r, 1);
	ASSERT_HAS(r.out, "FAIL  library");
	ASSERT_HAS(r.out, "does not load: the loader cannot preload it (invalid ELF header)");
	victim_result_free(&r);

	/* The built library does load. */
	run_tool(TOOL("doctor"), NULL, &r);
	ASSERT_HAS(r.out, "is in place and loads");
	victim_result_free(&r);
}
END_TEST

/* A setuid-root copy of the victim, run by nobody: the loader drops LD_PRELOAD paths for it. */
START_TEST(test_run_and_doctor_warn_setuid)
{
	char path[4300], cmd[4 * 4300 + 4400];
	struct victim_opts o = { .set_uid = true, .uid = 65534, .gid = 65534 };
	struct victim_result r;

	tool();
	snprintf(path, sizeof(path), "%s/victim-suid", harness_tmpdir());
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chown 0:0 '%s' && chmod 4755 '%s'",
		 harness_victim(), path, path, path);
	ck_assert_int_eq(system(cmd), 0);

	o.argv = TOOL("run", "--", path, "status");
	o.env = ENV(env_library, env_no_config);
	RUN(&o, &r);
	ck_assert_int_eq(kv_get(r.out, "main_ran"), 1);
	ASSERT_HAS(r.err, "is setuid or setgid: the loader ignores LD_PRELOAD paths");
	/* And the warning is true: nothing was locked. */
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	victim_result_free(&r);

	o.argv = TOOL("doctor", path);
	RUN(&o, &r);
	ASSERT_HAS(r.out, "WARN  program");
	ASSERT_HAS(r.out, "is setuid, setgid or has file capabilities");
	victim_result_free(&r);
	unlink(path);
}
END_TEST

/*
 * What the program does after start: tool-target imports setuid and madvise. In the container
 * condition with the capability (CAP_IPC_LOCK kept, CAP_SYS_RESOURCE gone, a finite limit), the
 * privilege drop and the frees are warned about, and the limit that cannot be lifted. What the
 * consequence is depends on the library's wrappers; the facts are the same.
 */
START_TEST(test_doctor_privilege_drop_and_madvise)
{
	struct victim_result r;

	run_tool((const char *const[]){ "/usr/bin/setpriv", "--bounding-set=-sys_resource",
					"--inh-caps=-sys_resource", "/usr/bin/prlimit",
					"--memlock=8388608:8388608", tool(), "doctor", target(),
					NULL },
		 NULL, &r);
	ASSERT_HAS(r.out, "WARN  privileges  ");
	ASSERT_HAS(r.out, "can drop privileges (imports setuid) while RLIMIT_MEMLOCK is finite "
			  "(soft 8.0 MiB, hard 8.0 MiB) and cannot be lifted "
			  "(no CAP_SYS_RESOURCE)");
	ASSERT_HAS(r.out, "fix: LimitMEMLOCK=infinity (systemd), docker run --ulimit "
			  "memlock=-1:-1");
	ASSERT_HAS(r.out, "frees memory with madvise (imports madvise)");
	victim_result_free(&r);

	/* Without the capability MCL_FUTURE is withheld anyway: the drop changes nothing. */
	run_tool((const char *const[]){ "/usr/bin/setpriv",
					"--bounding-set=-sys_resource,-ipc_lock",
					"--inh-caps=-sys_resource,-ipc_lock", "/usr/bin/prlimit",
					"--memlock=8388608:8388608", tool(), "doctor", target(),
					NULL },
		 NULL, &r);
	ASSERT_HAS(r.out, "info  privileges  ");
	ASSERT_HAS(r.out, "MCL_FUTURE is withheld here anyway");
	ASSERT_HAS(r.out, "cannot be lifted (no CAP_SYS_RESOURCE): the program runs partly locked");
	victim_result_free(&r);

	/* future = false: no MCL_FUTURE to outlive the capability, and madvise works. */
	run_tool((const char *const[]){ "/usr/bin/setpriv", "--bounding-set=-sys_resource",
					"--inh-caps=-sys_resource", "/usr/bin/prlimit",
					"--memlock=8388608:8388608", tool(), "doctor", target(),
					NULL },
		 TOOL_ENV("DUENDE_MLOCK_FUTURE=0"), &r);
	ASSERT_HAS(r.out, "ok    privileges  ");
	ASSERT_HAS(r.out, "harmless: future = false");
	ASSERT_HAS(r.out, "ok    madvise     ");
	victim_result_free(&r);

	/* A program that does not drop privileges (the victim; it pages out with madvise). */
	run_tool(TOOL("doctor", doctor_victim()), NULL, &r);
	ASSERT_HAS(r.out, "ok    privileges  ");
	ASSERT_HAS(r.out, "imports none of setuid");
	victim_result_free(&r);

	/* Where the limit can be lifted (CAP_SYS_RESOURCE), the drop is harmless. */
	if (harness_has_sys_resource()) {
		run_tool(TOOL("doctor", target()), NULL, &r);
		ASSERT_HAS(r.out, "ok    privileges  ");
		ASSERT_HAS(r.out, "harmless here");
		victim_result_free(&r);
	} else {
		fprintf(stderr, "no CAP_SYS_RESOURCE here: the harmless-drop case left out\n");
	}
}
END_TEST

/*
 * The swap-server profile's checks: the system settings are read and named; the privileged
 * steps are tried for real in a child, and refused where the test removed the capabilities.
 */
START_TEST(test_doctor_swap_server)
{
	struct victim_result r;

	run_tool(TOOL("doctor", target()), TOOL_ENV("DUENDE_MLOCK_PROFILE=swap-server"), &r);
	ASSERT_HAS(r.out, "the settings select profile swap-server (DUENDE_MLOCK_PROFILE)");
	ASSERT_HAS(r.out, "under the swap-server profile freed memory stays locked and resident");
	ASSERT_HAS(r.out, "vm.min_free_kbytes is ");
	ASSERT_HAS(r.out, "vm.watermark_boost_factor is ");
	ASSERT_HAS(r.out, "cgroup  ");
	ASSERT_HAS(r.out, "profile     PR_SET_IO_FLUSHER would ");
	ASSERT_HAS(r.out, "oom_score_adj");
	ASSERT_HAS(r.out, harness_has_sys_resource() ? "PR_SET_IO_FLUSHER would succeed here" :
						       "PR_SET_IO_FLUSHER would fail");
	ASSERT_HAS(r.out, "SCHED_FIFO priority 50 would succeed here");
	ASSERT_HAS(r.out, "info  export      no export named");
	victim_result_free(&r);

	/* The export step: the I/O object beside the library, O_DIRECT on the export. */
	{
		char ok_env[4200], bad_env[4200], io[4200];

		snprintf(ok_env, sizeof(ok_env), "DUENDE_MLOCK_EXPORT=%s", harness_io_library());
		run_tool(TOOL("doctor", target()),
			 TOOL_ENV("DUENDE_MLOCK_PROFILE=swap-server", ok_env), &r);
		snprintf(io, sizeof(io), "ok    export      %s is installed", harness_io_library());
		ASSERT_HAS(r.out, io);
		ASSERT_HAS(r.out, "libduende_mlock_io.so opens with O_DIRECT");
		victim_result_free(&r);

		snprintf(bad_env, sizeof(bad_env), "DUENDE_MLOCK_EXPORT=/proc/self/status");
		run_tool(TOOL("doctor", target()),
			 TOOL_ENV("DUENDE_MLOCK_PROFILE=swap-server", bad_env), &r);
		ASSERT_HAS(r.out, "WARN  export      /proc/self/status does not open with O_DIRECT "
				  "(its file system does no O_DIRECT)");
		victim_result_free(&r);
	}

	run_tool((const char *const[]){ "/usr/bin/setpriv",
					"--bounding-set=-sys_resource,-sys_nice",
					"--inh-caps=-sys_resource,-sys_nice", "/usr/bin/prlimit",
					"--rtprio=0:0", tool(), "doctor", target(), NULL },
		 TOOL_ENV("DUENDE_MLOCK_PROFILE=swap-server"), &r);
	ASSERT_HAS(r.out, "WARN  profile     PR_SET_IO_FLUSHER would fail (Operation not "
			  "permitted): it needs CAP_SYS_RESOURCE, which this shell lacks");
	ASSERT_HAS(r.out, "WARN  profile     lowering oom_score_adj to -1000 would fail");
	ASSERT_HAS(r.out, "WARN  profile     SCHED_FIFO priority 50 would fail (Operation not "
			  "permitted): it needs CAP_SYS_NICE or RLIMIT_RTPRIO >= 50 (it is 0)");
	victim_result_free(&r);

	/* Under required each step that would fail is a failure: the server would exit 71. */
	if (!harness_has_sys_resource()) {
		run_tool(TOOL("doctor", target()),
			 TOOL_ENV("DUENDE_MLOCK_PROFILE=swap-server", "DUENDE_MLOCK_REQUIRED=1"),
			 &r);
		ASSERT_HAS(r.out, "FAIL  profile     PR_SET_IO_FLUSHER would fail");
		ASSERT_HAS(r.out, "verdict: locking would FAIL");
		victim_result_free(&r);
	}

	/* A profile line at the top of a good file is left out: doctor says which line. */
	{
		const char *path = harness_write_config(
			"top-profile.conf", "programs = {\"tool-target\"}\nprofile = swap-server\n",
			0644);

		run_tool(TOOL("doctor", target()), ENV(env_library, config_env(path)), &r);
		ASSERT_HAS(r.out, "WARN  config      ");
		ASSERT_HAS(r.out, "top-profile.conf:2: profile is ignored here");
		victim_result_free(&r);
	}

	/* Neither the profile nor swap on nbd/ublk: skipped, in one line. */
	run_tool(TOOL("doctor", target()), NULL, &r);
	ASSERT_HAS(r.out, "swap-server checks skipped");
	ASSERT_LACKS(r.out, "vm.min_free_kbytes");
	victim_result_free(&r);
}
END_TEST

/* doctor PROGRAM looks at a running instance of it the way status does. */
START_TEST(test_doctor_running_instance)
{
	struct bg_opts o = { .preload = true, .memlock = HARNESS_MIB };
	struct victim_result r;
	char line[160];
	struct bg b;

	/* A worker as nginx's: MCL_FUTURE on the capability, then the capability dropped. */
	bg_start_opts(&b, (const char *const[]){ target(), "drop-ipc-lock", "sleep", "60", NULL },
		      &o, "ready");
	run_tool(TOOL("doctor", target()), NULL, &r);
	ASSERT_EXIT(&r, 1);
	snprintf(line, sizeof(line), "FAIL  running     the running instance, PID %s, holds ",
		 b.pid_text);
	ASSERT_HAS(r.out, line);
	ASSERT_HAS(r.out, "which has reached its RLIMIT_MEMLOCK 1.0 MiB, without CAP_IPC_LOCK");
	victim_result_free(&r);
	bg_stop(&b);

	/* A swap server in real time: its own steps read back. */
	bg_start(&b,
		 (const char *const[]){ target(), "fifo", "10", "threads", "1", "sleep", "60",
					NULL },
		 true, "ready");
	run_tool(TOOL("doctor", target()), TOOL_ENV("DUENDE_MLOCK_PROFILE=swap-server"), &r);
	snprintf(line, sizeof(line),
		 "ok    running     the running instance, PID %s, is fully "
		 "locked",
		 b.pid_text);
	ASSERT_HAS(r.out, line);
	snprintf(line, sizeof(line),
		 "the running server, PID %s: SCHED_FIFO (2 of 2 threads "
		 "real-time)",
		 b.pid_text);
	ASSERT_HAS(r.out, line);
	snprintf(line, sizeof(line),
		 "WARN  running     the running server, PID %s: IO_FLUSHER "
		 "not set",
		 b.pid_text);
	ASSERT_HAS(r.out, line);
	victim_result_free(&r);
	bg_stop(&b);
}
END_TEST

Suite *test_suite(void)
{
	/* The swap cases switch a swap file on and off around each. */
	const struct harness_case cases[] = {
		CASE(test_version_and_help, 0),
		CASE(test_usage_errors, 0),
		CASE(test_status_locked_victim, CASE_REAL_MLOCKALL),
		CASE(test_status_unlocked_victim, 0),
		CASE(test_status_all_must_be_locked, CASE_REAL_MLOCKALL),
		CASE(test_status_gone_process, CASE_REAL_MLOCKALL),
		CASE(test_status_prometheus, CASE_REAL_MLOCKALL),
		CASE(test_status_escapes_names, CASE_REAL_MLOCKALL),
		CASE(test_status_partly_locked, CASE_REAL_MLOCKALL),
		CASE(test_status_children, CASE_REAL_MLOCKALL),
		CASE(test_status_swap_server_fields, CASE_REAL_MLOCKALL),
		CASE(test_status_at_limit, CASE_REAL_MLOCKALL),
		CASE(test_doctor_dynamic_program_ok, 0),
		CASE(test_doctor_static_program, 0),
		CASE(test_doctor_missing_program, 0),
		CASE(test_doctor_denied, 0),
		CASE(test_doctor_denied_setpriv, 0),
		CASE(test_doctor_small_limit, 0),
		CASE(test_doctor_large_finite_limit_warns, CASE_REAL_MLOCKALL),
		CASE(test_doctor_config_problems, 0),
		CASE(test_symlink_named_as_called, CASE_REAL_MLOCKALL),
		CASE(test_doctor_system_wide, CASE_MOUNT_NS),
		CASE(test_doctor_privilege_drop_and_madvise, 0),
		CASE(test_doctor_swap_server, 0),
		CASE(test_doctor_running_instance, CASE_REAL_MLOCKALL),
		CASE(test_check_config_good, 0),
		CASE(test_check_config_default_missing, 0),
		CASE(test_check_config_program_section, 0),
		CASE(test_check_config_errors, 0),
		CASE(test_check_config_not_root_owned, 0),
		CASE(test_run_locks_victim, CASE_REAL_MLOCKALL),
		CASE(test_run_onfault, CASE_REAL_MLOCKALL),
		CASE(test_run_prepends_to_ld_preload, CASE_REAL_MLOCKALL),
		CASE(test_run_adds_io_object_for_export, CASE_REAL_MLOCKALL),
		CASE(test_run_required_denied_exits_71, CASE_REAL_MLOCKALL),
		CASE(test_run_config, CASE_REAL_MLOCKALL),
		CASE(test_run_says_problems_once, CASE_REAL_MLOCKALL),
		CASE(test_run_failures, 0),
		CASE(test_run_and_doctor_library_does_not_load, 0),
		CASE(test_run_and_doctor_warn_setuid, 0),
		CASE(test_status_unlocked_in_swap, CASE_REAL_MLOCKALL | CASE_SWAP),
		CASE(test_status_locked_but_partly_in_swap, CASE_REAL_MLOCKALL | CASE_SWAP),
	};

	return HARNESS_SUITE("tool", cases);
}
