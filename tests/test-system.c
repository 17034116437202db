/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * System-wide mode, for real: the library listed in /etc/ld.so.preload, in a private mount
 * namespace over a copy of /etc (the machine's /etc is never touched), and the system log
 * caught on a socket standing in for /dev/log.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test-common.h"

const unsigned test_needs = HARNESS_NEEDS_ROOT | HARNESS_NEEDS_MOUNT_NS;

#define NOBODY 65534

static char etc_file[4300];
static char log_path[4300];
static int log_fd = -1;

static const char *etc_path(const char *name)
{
	snprintf(etc_file, sizeof(etc_file), "%s/%s", harness_etc_copy(), name);
	return etc_file;
}

/* /etc/ld.so.preload names the library; the config is text, or absent when NULL. */
static void appliance(const char *conf, unsigned mode, uid_t owner)
{
	char line[4200];

	snprintf(line, sizeof(line), "%s\n", harness_library());
	harness_write_file(etc_path("ld.so.preload"), line, 0644, 0, 0);
	unlink(etc_path("duende-mlock.conf"));
	if (conf)
		harness_write_file(etc_path("duende-mlock.conf"), conf, mode, owner, 0);
	if (log_fd < 0) {
		snprintf(log_path, sizeof(log_path), "%s/log.sock", harness_tmpdir());
		log_fd = harness_syslog_open(log_path);
	}
	free(harness_syslog_drain(log_fd));
}

static struct victim_opts on_appliance(const char *const *argv)
{
	return (struct victim_opts){ .argv = argv,
				     .new_mount_ns = true,
				     .etc_overlay = harness_etc_copy(),
				     .syslog_socket = log_path };
}

/* Run, and return what reached the system log. */
static char *run_logged(struct victim_opts *o, struct victim_result *r)
{
	RUN(o, r);
	return harness_syslog_drain(log_fd);
}

START_TEST(test_no_allow_list_does_nothing)
{
	struct victim_opts o;
	struct victim_result r;
	char *log;

	appliance(NULL, 0, 0);
	o = on_appliance(VICTIM("status"));
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(log, "");
	victim_result_free(&r);
	free(log);

	/* A config without programs is still no allow-list. */
	appliance("onfault = true\n", 0644, 0);
	log = run_logged(&o, &r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(log, "");
	victim_result_free(&r);
	free(log);
}
END_TEST

START_TEST(test_listed_locked_unlisted_not)
{
	struct victim_opts o;
	struct victim_result r;
	char *log;

	appliance("# the swap server\nprograms = {\"trueno-ublk\", \"victim\"}\n", 0644, 0);
	o = on_appliance(VICTIM("map", "8"));
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_ge(kv_get(r.out, "vm_lck"), 8 * HARNESS_MIB);
	/* System-wide, the status goes to the system log, not the host's stderr. */
	ck_assert_str_eq(r.err, "");
	ASSERT_HAS(log, "duende-mlock[");
	ASSERT_HAS(log, "]: victim[");
	ASSERT_HAS(log, "locked ");
	victim_result_free(&r);
	free(log);

	appliance("programs = {\"trueno-ublk\", \"/usr/sbin/victim\"}\n", 0644, 0);
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(log, "");
	victim_result_free(&r);
	free(log);
}
END_TEST

/*
 * libconfuse is loaded only where the file's values are needed, and unloaded after: a process
 * the allow-list cannot name never maps it, a locked one keeps no trace of it.
 */
START_TEST(test_parser_loaded_only_when_needed)
{
	struct victim_opts o;
	struct victim_result r;
	char *log;

	appliance("# locks the swap server only\nprograms = {\"trueno-ublk\"}\nonfault = true\n",
		  0644, 0);
	o = on_appliance(VICTIM("maps"));
	free(run_logged(&o, &r));
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "shim_mapped"), 1);
	ck_assert_int_eq(kv_get(r.out, "confuse_mapped"), 0);
	victim_result_free(&r);

	/* Parsed (onfault came from the file), then unloaded. */
	appliance("programs = {\"victim\"}\nonfault = true\n", 0644, 0);
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(log, "MCL_ONFAULT");
	ck_assert_int_eq(kv_get(r.out, "shim_mapped"), 1);
	ck_assert_int_eq(kv_get(r.out, "confuse_mapped"), 0);
	victim_result_free(&r);
	free(log);
}
END_TEST

START_TEST(test_environment_allow_list)
{
	struct victim_opts o;
	struct victim_result r;
	char *log;

	appliance(NULL, 0, 0);
	o = on_appliance(VICTIM("status"));
	o.env = ENV("DUENDE_MLOCK_PROGRAMS=victim", "DUENDE_MLOCK_LOG=stderr");
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	ASSERT_HAS(r.err, "duende-mlock: victim[");
	ck_assert_str_eq(log, "");
	victim_result_free(&r);
	free(log);
}
END_TEST

/* Each untrusted config: ignored (the victim it lists stays unlocked), one line says why. */
static void check_untrusted(const char *why)
{
	struct victim_opts o = on_appliance(VICTIM("status"));
	struct victim_result r;
	char *log = run_logged(&o, &r);

	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ck_assert_str_eq(r.err, "");
	ASSERT_HAS(log, "/etc/duende-mlock.conf: ");
	ASSERT_HAS(log, why);
	ck_assert_int_eq(count_of(log, "\n"), 1);
	victim_result_free(&r);
	free(log);
}

static const char listed[] = "programs = {\"victim\"}\n";

START_TEST(test_config_group_writable)
{
	appliance(listed, 0664, 0);
	check_untrusted("writable by group or others (mode 0664), ignoring it");
}
END_TEST

/* An untrusted file that could not name this program is no business of this process. */
START_TEST(test_untrusted_config_silent_where_it_cannot_concern)
{
	struct victim_opts o;
	struct victim_result r;
	char *log;

	appliance("# a comment that mentions the victim\nprograms = {\"trueno-ublk\"}\n", 0664, 0);
	o = on_appliance(VICTIM("status"));
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(log, "");
	victim_result_free(&r);
	free(log);
}
END_TEST

START_TEST(test_config_world_writable)
{
	appliance(listed, 0646, 0);
	check_untrusted("writable by group or others (mode 0646), ignoring it");
}
END_TEST

START_TEST(test_config_owned_by_user)
{
	appliance(listed, 0644, NOBODY);
	check_untrusted("owned by uid 65534, not root, ignoring it");
}
END_TEST

START_TEST(test_config_symlink)
{
	char target[4300];

	appliance(NULL, 0, 0);
	snprintf(target, sizeof(target), "%s/real.conf", harness_tmpdir());
	harness_write_file(target, listed, 0644, 0, 0);
	ck_assert_int_eq(symlink(target, etc_path("duende-mlock.conf")), 0);
	check_untrusted("is a symbolic link, ignoring it");
}
END_TEST

START_TEST(test_config_fifo)
{
	appliance(NULL, 0, 0);
	ck_assert_int_eq(mkfifo(etc_path("duende-mlock.conf"), 0644), 0);
	/* Nobody writes the FIFO: a blocking open would hang the host, and the harness would
	 * kill it after its timeout. */
	check_untrusted("not a regular file, ignoring it");
}
END_TEST

START_TEST(test_config_oversized)
{
	size_t n = 70 * 1024;
	char *big = malloc(n + sizeof(listed));

	memcpy(big, listed, sizeof(listed) - 1);
	memset(big + sizeof(listed) - 1, '#', n);
	big[sizeof(listed) - 1 + n] = '\0';
	appliance(big, 0644, 0);
	free(big);
	check_untrusted("larger than 65536 bytes, ignoring it");
}
END_TEST

START_TEST(test_config_not_expanded)
{
	struct victim_opts o;
	struct victim_result r;
	char *log;

	/* If ${VICTIM_NAME} were expanded, the allow-list would name the victim. */
	appliance("programs = {${VICTIM_NAME}}\n", 0644, 0);
	o = on_appliance(VICTIM("status"));
	o.env = ENV("VICTIM_NAME=victim");
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	victim_result_free(&r);
	free(log);

	/* Named literally, the file is read, refused, and the refusal logged with its line. */
	appliance("programs = {\"victim\"}\nlog = ${LOG_TARGET}\n", 0644, 0);
	o.env = ENV("LOG_TARGET=stderr");
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ck_assert_str_eq(r.err, "");
	ASSERT_HAS(log, "/etc/duende-mlock.conf:2: '${' is not allowed");
	victim_result_free(&r);
	free(log);
}
END_TEST

/* A copy of the victim, owned by root, with the given mode (04755 for setuid). */
static const char *victim_copy(const char *name, unsigned mode)
{
	static char path[2][4300];
	static int i;
	char *p = path[i++ % 2];
	char cmd[9000];

	snprintf(p, 4300, "%s/%s", harness_tmpdir(), name);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chown 0:0 '%s' && chmod %o '%s'",
		 harness_victim(), p, p, mode, p);
	ck_assert_int_eq(system(cmd), 0);
	return p;
}

START_TEST(test_setuid_ignores_environment)
{
	char cfg[4300], cfg_env[4400];
	const char *suid = victim_copy("victim-suid", 04755);
	const char *plain = victim_copy("victim-plain", 0755);
	struct victim_opts o;
	struct victim_result r;
	char *log;

	/* An allow-list and a config of the user's own, in the environment. */
	snprintf(cfg, sizeof(cfg), "%s/user.conf", harness_tmpdir());
	harness_write_file(cfg, "programs = {\"victim-suid\", \"victim-plain\"}\n", 0644, NOBODY,
			   NOBODY);
	snprintf(cfg_env, sizeof(cfg_env), "DUENDE_MLOCK_CONFIG=%s", cfg);
	appliance(NULL, 0, 0);

	o = on_appliance((const char *const[]){ suid, "status", NULL });
	o.set_uid = true;
	o.uid = NOBODY;
	o.gid = NOBODY;
	o.env = ENV("DUENDE_MLOCK_PROGRAMS=victim-suid", "DUENDE_MLOCK_LOG=stderr");
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(log, "");
	victim_result_free(&r);
	free(log);

	o.env = ENV(cfg_env, "DUENDE_MLOCK_LOG=stderr");
	log = run_logged(&o, &r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ck_assert_str_eq(r.err, "");
	victim_result_free(&r);
	free(log);

	/* The same environment steers a plain copy run by the same user. */
	o.argv = (const char *const[]){ plain, "status", NULL };
	o.env = ENV("DUENDE_MLOCK_PROGRAMS=victim-plain", "DUENDE_MLOCK_LOG=stderr");
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	ASSERT_HAS(r.err, "duende-mlock: victim-plain[");
	victim_result_free(&r);
	free(log);

	/* A symlink cannot lend the setuid copy a listed name: the kernel's executable counts. */
	{
		char link[4300];

		snprintf(link, sizeof(link), "%s/lockme", harness_tmpdir());
		unlink(link);
		ck_assert_int_eq(symlink(suid, link), 0);
		appliance("programs = {\"lockme\"}\n", 0644, 0);
		o.argv = (const char *const[]){ link, "status", NULL };
		o.env = NULL;
		log = run_logged(&o, &r);
		ASSERT_HOST_RAN(&r);
		ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
		ck_assert_str_eq(log, "");
		victim_result_free(&r);
		free(log);
	}

	/* And root's config does reach the setuid copy. */
	appliance("programs = {\"victim-suid\"}\n", 0644, 0);
	o.argv = (const char *const[]){ suid, "status", NULL };
	o.env = NULL;
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	ASSERT_HAS(log, "]: victim-suid[");
	victim_result_free(&r);
	free(log);
}
END_TEST

START_TEST(test_host_unharmed)
{
	struct victim_opts o;
	struct victim_result plain, shim;
	char *log;

	/* Same fds with the library locking, as without it. */
	appliance(NULL, 0, 0);
	o = on_appliance(VICTIM("fds"));
	free(run_logged(&o, &plain));
	appliance(listed, 0644, 0);
	log = run_logged(&o, &shim);
	ASSERT_HOST_RAN(&shim);
	ASSERT_HAS(log, "locked");
	ck_assert_int_eq(kv_get(plain.out, "fd_count"), kv_get(shim.out, "fd_count"));
	ck_assert_int_eq(kv_get(plain.out, "errno_at_main"), kv_get(shim.out, "errno_at_main"));
	victim_result_free(&plain);
	victim_result_free(&shim);
	free(log);

	/* Closed and broken-pipe stderr, with the log on stderr. */
	o = on_appliance(VICTIM("signals"));
	o.env = ENV("DUENDE_MLOCK_LOG=stderr");
	o.stderr_mode = HARNESS_STDERR_CLOSED;
	free(run_logged(&o, &shim));
	ASSERT_HOST_RAN(&shim);
	victim_result_free(&shim);
	o.stderr_mode = HARNESS_STDERR_BROKEN;
	free(run_logged(&o, &shim));
	ASSERT_HOST_RAN(&shim);
	ck_assert_int_eq(kv_get(shim.out, "sigpipe_pending"), 0);
	victim_result_free(&shim);
}
END_TEST

START_TEST(test_full_log_socket_never_blocks)
{
	struct victim_opts o;
	struct victim_result r;
	char junk[512] = { 0 };
	int n = 0;

	appliance(listed, 0644, 0);
	/* Fill the socket's queue: a blocking send would now wait forever. */
	{
		int w = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		strcpy(a.sun_path, log_path);
		while (sendto(w, junk, sizeof(junk), MSG_DONTWAIT, (struct sockaddr *)&a,
			      sizeof(a)) > 0)
			n++;
		close(w);
	}
	ck_assert_int_gt(n, 0);
	o = on_appliance(VICTIM("status"));
	o.timeout_s = 10;
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	victim_result_free(&r);
}
END_TEST

START_TEST(test_loaded_twice_runs_once)
{
	char env[4400], copy[4300], cmd[9000];
	struct victim_opts o;
	struct victim_result r;
	char *log;

	/* The same file in LD_PRELOAD and /etc/ld.so.preload: the loader loads it once. */
	appliance(NULL, 0, 0);
	o = on_appliance(VICTIM("status"));
	snprintf(env, sizeof(env), "LD_PRELOAD=%s", harness_library());
	o.env = ENV(env);
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(count_of(r.err, "duende-mlock: victim["), 1);
	victim_result_free(&r);
	free(log);

	/* A second copy of the library from another file: two instances, one of them acts. */
	snprintf(copy, sizeof(copy), "%s/libduende_mlock_preload.so", harness_tmpdir());
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", harness_library(), copy);
	ck_assert_int_eq(system(cmd), 0);
	appliance(listed, 0644, 0);
	snprintf(env, sizeof(env), "LD_PRELOAD=%s", copy);
	o.env = ENV(env, "DUENDE_MLOCK_LOG=stderr");
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	ck_assert_int_eq(count_of(r.err, "duende-mlock: victim["), 1);
	victim_result_free(&r);
	free(log);
}
END_TEST

START_TEST(test_program_name_escaped_and_capped)
{
	char name[300];
	const char *evil;
	struct victim_opts o;
	struct victim_result r;

	/* Preload mode locks any program: its name reaches the log as the kernel gave it. */
	snprintf(name, sizeof(name), "evil\x1b[2Jname");
	evil = victim_copy(name, 0755);
	o = (struct victim_opts){ .argv = (const char *const[]){ evil, "status", NULL },
				  .preload = true };
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(r.err, "duende-mlock: evil\\x1b[2Jname[");
	ASSERT_LACKS(r.err, "\x1b");
	victim_result_free(&r);

	memset(name, 'n', 200);
	name[200] = '\0';
	evil = victim_copy(name, 0755);
	o.argv = (const char *const[]){ evil, "status", NULL };
	RUN(&o, &r);
	ASSERT_HOST_RAN(&r);
	ASSERT_HAS(r.err, "nnnnnnnnnn...[");
	ck_assert_uint_lt(strlen(r.err), 200 + 200);
	victim_result_free(&r);
}
END_TEST

/* The locked victim: its status line reached the system log (or stderr) and VmLck counts. */
static void check_locked(struct victim_opts *o)
{
	struct victim_result r;
	char *log = run_logged(o, &r);

	ASSERT_HOST_RAN(&r);
	ck_assert_int_gt(kv_get(r.out, "vm_lck"), 0);
	victim_result_free(&r);
	free(log);
}

/*
 * The allow-list matches a program by the path it was started as (AT_EXECFN) or by its
 * executable (/proc/self/exe), in the file and in the environment: a program started through a
 * symlink of another name is found by either name. The preload object's skip path decides these
 * cases itself (preload.c), so they are checked on it.
 */
START_TEST(test_symlink_started_program_matches)
{
	char link[4300], script[4300], text[4400];
	const char *by_link[] = { link, "status", NULL }, *by_script[] = { script, NULL };
	struct victim_opts o;

	snprintf(link, sizeof(link), "%s/other-name", harness_tmpdir());
	unlink(link);
	ck_assert_int_eq(symlink(harness_victim(), link), 0);
	o = on_appliance(by_link);

	appliance("programs = {\"trueno-ublk\", \"victim\"}\n", 0644, 0);
	check_locked(&o);
	appliance("programs = {\"trueno-ublk\", \"other-name\"}\n", 0644, 0);
	check_locked(&o);

	appliance(NULL, 0, 0);
	o.env = ENV("DUENDE_MLOCK_PROGRAMS=trueno-ublk,victim");
	check_locked(&o);
	o.env = ENV("DUENDE_MLOCK_PROGRAMS=trueno-ublk, other-name");
	check_locked(&o);
	/* A script runs its interpreter: the interpreter's name matches. */
	snprintf(script, sizeof(script), "%s/a-script", harness_tmpdir());
	snprintf(text, sizeof(text), "#!%s status\n", harness_victim());
	harness_write_file(script, text, 0755, 0, 0);
	o.argv = by_script;
	o.env = ENV("DUENDE_MLOCK_PROGRAMS=trueno-ublk,victim");
	check_locked(&o);
	o.env = NULL;
	appliance("programs = {\"trueno-ublk\", \"victim\"}\n", 0644, 0);
	check_locked(&o);
	appliance(NULL, 0, 0);
	o.argv = by_link;

	o.env = ENV("DUENDE_MLOCK_PROGRAMS=trueno-ublk");
	{
		struct victim_result r;
		char *log = run_logged(&o, &r);

		ASSERT_HOST_RAN(&r);
		ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
		ck_assert_str_eq(log, "");
		victim_result_free(&r);
		free(log);
	}
}
END_TEST

/* A file longer than the skip path reads (6 KiB) still names the program at its end. */
START_TEST(test_long_config_names_program)
{
	static char text[20000];
	size_t n = 0;
	struct victim_opts o = on_appliance(VICTIM("status"));

	while (n < sizeof(text) - 200)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "# a comment line of the file\n");
	snprintf(text + n, sizeof(text) - n, "programs = {\"victim\"}\n");
	appliance(text, 0644, 0);
	check_locked(&o);
}
END_TEST

/* Another library in LD_PRELOAD (fakeroot, eatmydata) leaves the process in system-wide mode. */
START_TEST(test_other_preload_keeps_system_wide)
{
	char env[4400];
	const char *api = getenv("DM_TEST_API_LIBRARY");
	struct victim_opts o = on_appliance(VICTIM("status"));
	struct victim_result r;
	char *log;

	ck_assert_ptr_nonnull(api);
	snprintf(env, sizeof(env), "LD_PRELOAD=%s", api);
	o.env = ENV(env);
	appliance(listed, 0644, 0);
	check_locked(&o);

	appliance("programs = {\"trueno-ublk\"}\n", 0644, 0);
	log = run_logged(&o, &r);
	ASSERT_HOST_RAN(&r);
	ck_assert_int_eq(kv_get(r.out, "vm_lck"), 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(log, "");
	victim_result_free(&r);
	free(log);
}
END_TEST

Suite *test_suite(void)
{
	const struct harness_case cases[] = {
		CASE(test_no_allow_list_does_nothing, 0),
		CASE(test_listed_locked_unlisted_not, CASE_REAL_MLOCKALL),
		CASE(test_parser_loaded_only_when_needed, 0),
		CASE(test_environment_allow_list, CASE_REAL_MLOCKALL),
		CASE(test_config_group_writable, 0),
		CASE(test_config_world_writable, 0),
		CASE(test_untrusted_config_silent_where_it_cannot_concern, 0),
		CASE(test_config_owned_by_user, 0),
		CASE(test_config_symlink, 0),
		CASE(test_config_fifo, 0),
		CASE(test_config_oversized, 0),
		CASE(test_config_not_expanded, 0),
		CASE(test_setuid_ignores_environment, CASE_REAL_MLOCKALL),
		CASE(test_host_unharmed, 0),
		CASE(test_full_log_socket_never_blocks, CASE_REAL_MLOCKALL),
		CASE(test_loaded_twice_runs_once, CASE_REAL_MLOCKALL),
		CASE(test_program_name_escaped_and_capped, 0),
		CASE(test_symlink_started_program_matches, CASE_REAL_MLOCKALL),
		CASE(test_long_config_names_program, CASE_REAL_MLOCKALL),
		CASE(test_other_preload_keeps_system_wide, CASE_REAL_MLOCKALL),
	};

	return HARNESS_SUITE("system-wide", cases);
}
