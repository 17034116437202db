/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The test harness: victims in children, real limits, a real capability drop, real swap. */
#include "harness.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && v[0] ? v : fallback;
}

static int run_quiet(const char *const argv[]);

/*
 * Can a user who is neither owner nor group (nobody, in the setuid cases) reach path? Every
 * directory on the way must let others search it: a clone in a 0700 home (root's /root, or any
 * home Debian's adduser makes) does not.
 */
static bool others_can_reach(const char *path)
{
	char buf[4096];
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return false;
	for (char *slash = buf + strlen(buf); slash > buf; slash = strrchr(buf, '/')) {
		*slash = '\0';
		if (stat(buf[0] ? buf : "/", &st) < 0 || !(st.st_mode & S_IXOTH))
			return false;
	}
	return true;
}

/*
 * Fixtures that another user must reach, when the build directory is out of their reach: a
 * directory made for them under /var/tmp (on disk, where a swap file works; /tmp may be a tmpfs),
 * holding copies of the programs and the library they run. Made once, by the process that runs
 * the suite (harness_prepare()), and removed by it at exit.
 */
static char shared_dir[4096];
static pid_t shared_owner;

static void shared_remove(void)
{
	if (shared_dir[0] && getpid() == shared_owner)
		run_quiet((const char *const[]){ "/bin/rm", "-rf", shared_dir, NULL });
}

static const char *shared_base(void)
{
	if (shared_dir[0])
		return shared_dir;
	snprintf(shared_dir, sizeof(shared_dir), "%s/duende-mlock-test.XXXXXX",
		 access("/var/tmp", W_OK) == 0 ? "/var/tmp" : "/tmp");
	if (!mkdtemp(shared_dir)) {
		fprintf(stderr, "harness: cannot make a fixtures directory %s: %s\n", shared_dir,
			strerror(errno));
		exit(EXIT_FAILURE);
	}
	if (chmod(shared_dir, 0755) < 0) {
		fprintf(stderr, "harness: chmod 0755 %s: %s\n", shared_dir, strerror(errno));
		exit(EXIT_FAILURE);
	}
	shared_owner = getpid();
	atexit(shared_remove);
	return shared_dir;
}

/* The file named by the environment variable, or a copy of it others can reach. */
static const char *reachable(const char *name, char *copy, size_t size)
{
	const char *path = env_or(name, NULL);
	const char *base;

	if (!path || others_can_reach(path))
		return path;
	if (copy[0])
		return copy;
	base = strrchr(path, '/');
	if (snprintf(copy, size, "%s/%s", shared_base(), base ? base + 1 : path) >= (int)size ||
	    run_quiet((const char *const[]){ "/bin/cp", path, copy, NULL }) != 0 ||
	    chmod(copy, 0755) < 0) {
		fprintf(stderr, "harness: cannot copy %s to %s for other users to run\n", path,
			copy);
		exit(EXIT_FAILURE);
	}
	return copy;
}

const char *harness_library(void)
{
	static char copy[4096];

	return reachable("DM_TEST_LIBRARY", copy, sizeof(copy));
}

const char *harness_io_library(void)
{
	static char copy[4096];

	return reachable("DM_TEST_IO_LIBRARY", copy, sizeof(copy));
}

const char *harness_victim(void)
{
	static char copy[4096];

	return reachable("DM_TEST_VICTIM", copy, sizeof(copy));
}

const char *harness_tool(void)
{
	static char copy[4096];

	return reachable("DM_TEST_TOOL", copy, sizeof(copy));
}

const char *harness_tmpdir(void)
{
	static char dir[4096];

	if (!dir[0]) {
		const char *base = env_or("DM_TEST_TMPDIR", "/var/tmp");

		if (!others_can_reach(base) || access(base, W_OK) < 0)
			base = shared_base();
		if (snprintf(dir, sizeof(dir), "%s/dm-test-XXXXXX", base) >= (int)sizeof(dir) ||
		    !mkdtemp(dir))
			ck_abort_msg("mkdtemp %s: %s", dir, strerror(errno));
		chmod(dir, 0755);
	}
	return dir;
}

void harness_prepare(void)
{
	/* In the runner, before Check forks a child per case: the copies are made once. */
	harness_library();
	harness_io_library();
	harness_victim();
	harness_tool();
}

/*
 * The system-wide cases bind a copy of /etc in a private mount namespace. Making / private needs
 * / to be a mount point, which it is not in a plain chroot: there mount(2) says EINVAL.
 */
bool harness_private_mounts(char *why, size_t size)
{
	int report[2], status;
	char msg[256] = "";
	ssize_t n;
	pid_t pid;

	if (pipe2(report, O_CLOEXEC) < 0) {
		snprintf(why, size, "pipe: %s", strerror(errno));
		return false;
	}
	pid = fork();
	if (pid == 0) {
		const char *what = "unshare(CLONE_NEWNS)";

		if (unshare(CLONE_NEWNS) == 0) {
			what = "mount --make-rprivate /";
			if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
				_exit(0);
		}
		dprintf(report[1], "%s: %s%s", what, strerror(errno),
			errno == EINVAL ? " (/ is not a mount point: a chroot? bind-mount its root "
					  "onto itself before entering it)" :
					  "");
		_exit(1);
	}
	close(report[1]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		snprintf(why, size, "fork: %s", strerror(errno));
		close(report[0]);
		return false;
	}
	n = read(report[0], msg, sizeof(msg) - 1);
	close(report[0]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	snprintf(why, size, "no private mount namespace: %s", n > 0 ? msg : "probe failed");
	return false;
}

bool harness_is_root(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	if (geteuid() != 0 || syscall(SYS_capget, &h, d) < 0)
		return false;
	return (d[0].effective & (1u << CAP_IPC_LOCK)) && (d[0].effective & (1u << CAP_SYS_ADMIN));
}

bool harness_has_sys_resource(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[0].effective & (1u << CAP_SYS_RESOURCE);
}

bool harness_in_ci(void)
{
	const char *ci = getenv("CI");

	return ci && (strcmp(ci, "true") == 0 || strcmp(ci, "1") == 0);
}

/*
 * A child that cannot set itself up says what failed on the report pipe and exits: its exit code
 * alone would read like the victim's own (124 is also timeout(1)'s).
 */
static _Noreturn void setup_failed(int report, const char *what)
{
	dprintf(report, "%s: %s", what, strerror(errno));
	_exit(HARNESS_SETUP_FAILED);
}

static void drop_ipc_lock(int report)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	/* Out of the bounding set, so execve() of a root process cannot grant it again. */
	if (prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0) < 0)
		setup_failed(report, "prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK)");
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capget, &h, d) < 0)
		setup_failed(report, "capget");
	d[0].effective &= ~(1u << CAP_IPC_LOCK);
	d[0].permitted &= ~(1u << CAP_IPC_LOCK);
	d[0].inheritable &= ~(1u << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &h, d) < 0)
		setup_failed(report, "capset without CAP_IPC_LOCK");
}

void harness_drop_ipc_lock(void)
{
	drop_ipc_lock(STDERR_FILENO);
}

/*
 * A /dev of our own in the victim's mount namespace: the machine may have no /dev/log, and the
 * real /dev must not be changed. The devices a program expects are made again on a tmpfs.
 */
static void private_dev(const char *socket_path, int report)
{
	static const struct {
		const char *name;
		unsigned maj, min;
	} nodes[] = { { "null", 1, 3 },	  { "zero", 1, 5 },    { "full", 1, 7 },
		      { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 } };
	int fd;

	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0)
		setup_failed(report, "mount a tmpfs on /dev");
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		char path[64];

		snprintf(path, sizeof(path), "/dev/%s", nodes[i].name);
		if (mknod(path, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0)
			setup_failed(report, "mknod in the private /dev");
		chmod(path, 0666);
	}
	symlink("/proc/self/fd", "/dev/fd");
	fd = open("/dev/log", O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		setup_failed(report, "create /dev/log");
	close(fd);
	if (mount(socket_path, "/dev/log", NULL, MS_BIND, NULL) < 0)
		setup_failed(report, "bind the log socket to /dev/log");
}

static void fail_mlockall(int err, unsigned mask, int report)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mlockall, 0, 3),
		/* The flags' low 32 bits (little-endian x86-64). */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, mask, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		setup_failed(report, "install the seccomp filter");
}

static void child_setup(const struct victim_opts *o, int out_w, int err_w, int report)
{
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(out_w, 1);
	if (o->stderr_mode == HARNESS_STDERR_CLOSED)
		close(2);
	else
		dup2(err_w, 2);
	/* A default SIGPIPE disposition, as a program started from a shell has. */
	signal(SIGPIPE, SIG_DFL);

	if (o->new_mount_ns) {
		if (unshare(CLONE_NEWNS) < 0)
			setup_failed(report, "unshare(CLONE_NEWNS)");
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			setup_failed(report, "mount --make-rprivate / (is / a mount point?)");
		if (o->etc_overlay &&
		    mount(o->etc_overlay, "/etc", NULL, MS_BIND | MS_REC, NULL) < 0)
			setup_failed(report, "bind-mount the copy of /etc");
		if (o->syslog_socket)
			private_dev(o->syslog_socket, report);
	}
	if (o->set_memlock) {
		rlim_t v = o->memlock == HARNESS_MEMLOCK_UNLIMITED ? RLIM_INFINITY :
								     (rlim_t)o->memlock;
		rlim_t h = !o->set_memlock_hard				? v :
			   o->memlock_hard == HARNESS_MEMLOCK_UNLIMITED ? RLIM_INFINITY :
									  (rlim_t)o->memlock_hard;
		struct rlimit rl = { v, h };

		if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
			setup_failed(report, "setrlimit(RLIMIT_MEMLOCK)");
	}
	if (o->drop_ipc_lock)
		drop_ipc_lock(report);
	if (o->extra_groups > 0) {
		static gid_t groups[65536];
		int n = o->extra_groups < 65536 ? o->extra_groups : 65536;

		for (int i = 0; i < n; i++)
			groups[i] = (gid_t)(10000 + i);
		if (setgroups((size_t)n, groups) < 0)
			setup_failed(report, "setgroups");
	}
	if (o->set_uid) {
		if (setgroups(0, NULL) < 0 || setgid(o->gid) < 0 || setuid(o->uid) < 0)
			setup_failed(report, "setgroups/setgid/setuid");
	}
	/* Last: no_new_privs would keep a setuid victim from gaining its owner's rights. */
	if (o->mlockall_errno)
		fail_mlockall(o->mlockall_errno, o->mlockall_mask, report);
}

static char **build_env(const struct victim_opts *o)
{
	static char *env[64];
	static char preload[8192];
	size_t n = 0;
	const char *first = getenv("DM_TEST_PRELOAD_FIRST");
	const char *pass[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL };

	env[n++] = (char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (size_t i = 0; pass[i]; i++) {
		static char buf[3][1024];
		const char *v = getenv(pass[i]);

		if (v) {
			snprintf(buf[i], sizeof(buf[i]), "%s=%s", pass[i], v);
			env[n++] = buf[i];
		}
	}
	/*
	 * One LD_PRELOAD: the sanitizer runtime a sanitized build needs first (DM_TEST_PRELOAD_FIRST),
	 * then the library when asked for, then what the test put in its own LD_PRELOAD. The runtime
	 * goes first for every victim, since system-wide victims load the library too.
	 */
	{
		const char *own = NULL;
		size_t len = 0;

		for (size_t i = 0; o->env && o->env[i]; i++)
			if (strncmp(o->env[i], "LD_PRELOAD=", 11) == 0)
				own = o->env[i] + 11;
		preload[0] = '\0';
		if (first)
			len += (size_t)snprintf(preload + len, sizeof(preload) - len, ":%s", first);
		if (o->preload && len < sizeof(preload))
			len += (size_t)snprintf(preload + len, sizeof(preload) - len, ":%s",
						harness_library());
		if (own && len < sizeof(preload))
			len += (size_t)snprintf(preload + len, sizeof(preload) - len, ":%s", own);
		if (len) {
			static char var[8208];

			snprintf(var, sizeof(var), "LD_PRELOAD=%s", preload + 1);
			env[n++] = var;
		}
	}
	for (size_t i = 0; o->env && o->env[i] && n < 63; i++)
		if (strncmp(o->env[i], "LD_PRELOAD=", 11) != 0)
			env[n++] = (char *)o->env[i];
	env[n] = NULL;
	return env;
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	ck_assert_ptr_nonnull(*buf);
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static char setup_error[512];

int victim_run(const struct victim_opts *o, struct victim_result *r)
{
	int out[2], err[2], report[2], status = 0;
	size_t out_len = 0, err_len = 0;
	int timeout = o->timeout_s ? o->timeout_s : 20;
	struct timespec start, now;
	char **env = build_env(o);
	pid_t pid;

	*r = (struct victim_result){ .out = calloc(1, 1), .err = calloc(1, 1) };
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0)
		return -errno;
	if (o->stderr_mode == HARNESS_STDERR_BROKEN) {
		close(err[0]); /* no reader: the child's writes get EPIPE (and SIGPIPE) */
		err[0] = -1;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_setup(o, out[1], err[1], report[1]);
		execve(o->argv[0], (char *const *)o->argv, env);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	close(report[1]);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
		char buf[4096];
		int n;

		if (p[0].fd < 0 && p[1].fd < 0)
			break;
		n = poll(p, 2, 200);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > timeout) {
			kill(pid, SIGKILL);
			break;
		}
		if (n <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			ssize_t got;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			got = read(p[i].fd, buf, sizeof(buf));
			if (got <= 0) {
				close(p[i].fd);
				if (i == 0)
					out[0] = -1;
				else
					err[0] = -1;
				continue;
			}
			if (i == 0)
				append(&r->out, &out_len, buf, (size_t)got);
			else
				append(&r->err, &err_len, buf, (size_t)got);
		}
	}
	if (out[0] >= 0)
		close(out[0]);
	if (err[0] >= 0)
		close(err[0]);
	waitpid(pid, &status, 0);
	r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	{
		/* The child's setup failed before execve(): say what, not just an exit code. */
		ssize_t n = read(report[0], setup_error, sizeof(setup_error) - 1);

		close(report[0]);
		if (n > 0) {
			setup_error[n] = '\0';
			return -ECANCELED;
		}
	}
	setup_error[0] = '\0';
	return 0;
}

const char *harness_setup_error(void)
{
	return setup_error[0] ? setup_error : "no setup error";
}

void victim_result_free(struct victim_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

static const char *find_key(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p;) {
		if (strncmp(p, key, klen) == 0 && p[klen] == '=')
			return p + klen + 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

long long kv_get(const char *text, const char *key)
{
	const char *v = find_key(text, key);

	return v ? strtoll(v, NULL, 10) : -1;
}

bool kv_str(const char *text, const char *key, char *buf, size_t size)
{
	const char *v = find_key(text, key);

	if (!v)
		return false;
	snprintf(buf, size, "%.*s", (int)strcspn(v, "\n"), v);
	return true;
}

static int run_quiet(const char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool swap_on(char *path, size_t size, char *why, size_t why_size)
{
	const char *mkswap =
		access("/sbin/mkswap", X_OK) == 0 ? "/sbin/mkswap" : "/usr/sbin/mkswap";
	int fd;

	snprintf(path, size, "%s/swapfile", harness_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, why_size, "cannot create %s: %s", path, strerror(errno));
		return false;
	}
	/* Written, not fallocate()d: some filesystems refuse swap on unwritten extents. */
	{
		static char zero[1 << 20];

		for (int i = 0; i < 160; i++) {
			if (write(fd, zero, sizeof(zero)) != (ssize_t)sizeof(zero)) {
				snprintf(why, why_size, "cannot write %s: %s", path,
					 strerror(errno));
				close(fd);
				unlink(path);
				return false;
			}
		}
	}
	close(fd);
	if (run_quiet((const char *const[]){ mkswap, path, NULL }) != 0) {
		snprintf(why, why_size, "mkswap %s failed", path);
		unlink(path);
		return false;
	}
	if (swapon(path, 0) < 0) {
		snprintf(why, why_size, "swapon %s: %s", path, strerror(errno));
		unlink(path);
		return false;
	}
	return true;
}

void swap_off(const char *path)
{
	swapoff(path);
	unlink(path);
}

void harness_write_file(const char *path, const char *text, unsigned mode, uid_t uid, gid_t gid)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchown(fd, uid, gid), 0);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

const char *harness_write_config(const char *name, const char *text, unsigned mode)
{
	static char path[4300];

	snprintf(path, sizeof(path), "%s/%s", harness_tmpdir(), name);
	harness_write_file(path, text, mode, getuid(), getgid());
	return path;
}

const char *harness_etc_copy(void)
{
	static char dir[4200];

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/etc", harness_tmpdir());
		ck_assert_int_eq(
			run_quiet((const char *const[]){ "/bin/cp", "-a", "/etc", dir, NULL }), 0);
		/* Nothing of the machine's own preload list: only what a test writes. */
		{
			char p[4300];

			snprintf(p, sizeof(p), "%s/ld.so.preload", dir);
			unlink(p);
			snprintf(p, sizeof(p), "%s/duende-mlock.conf", dir);
			unlink(p);
		}
	}
	return dir;
}

int harness_syslog_open(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof(a.sun_path));
	strcpy(a.sun_path, path);
	unlink(path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	chmod(path, 0666);
	return fd;
}

char *harness_syslog_drain(int fd)
{
	char *all = calloc(1, 1), buf[4096];
	size_t len = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = '\n';
		append(&all, &len, buf, (size_t)n + 1);
	}
	return all;
}

/* ---- Suites ---------------------------------------------------------------------------------- */

static const char *mount_ns_cases[64];

static char swap_path[4300];

/* Unchecked fixtures run in the runner process, so the swap file goes away even when a case
 * fails. */
static void swap_setup(void)
{
	char why[512];

	ck_assert_msg(swap_on(swap_path, sizeof(swap_path), why, sizeof(why)), "%s", why);
}

static void swap_teardown(void)
{
	swap_off(swap_path);
}

Suite *harness_suite(const char *name, const struct harness_case *cases, size_t n)
{
	Suite *s = suite_create(name);
	size_t ns = 0;

	for (size_t i = 0; i < n; i++) {
		const char *tc_name = cases[i].name;
		unsigned tags = cases[i].tags;
		TCase *tc;

		if (strncmp(tc_name, "test_", 5) == 0)
			tc_name += 5;
		tc = tcase_create(tc_name);
		if (tags & (CASE_REAL_MLOCKALL | CASE_MOUNT_NS))
			tcase_set_tags(tc, (tags & CASE_REAL_MLOCKALL) && (tags & CASE_MOUNT_NS) ?
						   "real-mlockall mount-ns" :
					   tags & CASE_REAL_MLOCKALL ? "real-mlockall" :
								       "mount-ns");
		if (tags & CASE_MOUNT_NS) {
			if (ns + 1 >= sizeof(mount_ns_cases) / sizeof(*mount_ns_cases))
				abort();
			mount_ns_cases[ns++] = tc_name;
		}
		if (tags & CASE_SWAP)
			tcase_add_unchecked_fixture(tc, swap_setup, swap_teardown);
		tcase_add_test(tc, cases[i].fn);
		suite_add_tcase(s, tc);
	}
	return s;
}

const char *const *harness_mount_ns_cases(void)
{
	return mount_ns_cases[0] ? mount_ns_cases : NULL;
}
