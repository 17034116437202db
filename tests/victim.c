/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The victim: an ordinary program the tests run under the preload. It prints what it sees of
 * itself as "key=value" lines on stdout and does one thing per command. It knows nothing of
 * duende-mlock: everything it reports comes from /proc and the kernel.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static long long ctor_vm_lck = -1, ctor_vm_rss = -1;
static int errno_at_ctor;

static long long proc_kb(const char *path, const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtoll(line + klen + 1, NULL, 10) * 1024;
			break;
		}
	}
	fclose(f);
	return v;
}

/* Runs after the preload's constructor: shows whether memory was locked before our code. */
__attribute__((constructor)) static void victim_ctor(void)
{
	errno_at_ctor = errno;
	ctor_vm_lck = proc_kb("/proc/self/status", "VmLck");
	ctor_vm_rss = proc_kb("/proc/self/status", "VmRSS");
}

static void print_status(const char *prefix)
{
	printf("%svm_lck=%lld\n", prefix, proc_kb("/proc/self/status", "VmLck"));
	printf("%svm_rss=%lld\n", prefix, proc_kb("/proc/self/status", "VmRSS"));
	printf("%svm_swap=%lld\n", prefix, proc_kb("/proc/self/status", "VmSwap"));
	printf("%svm_size=%lld\n", prefix, proc_kb("/proc/self/status", "VmSize"));
	printf("%slocked_resident=%lld\n", prefix, proc_kb("/proc/self/smaps_rollup", "Locked"));
	fflush(stdout);
}

static long num_arg(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s ? s : "", &end, 10);
	if (!s || !*s || *end || errno || v < 0 || v > 65536) {
		fprintf(stderr, "victim: bad number '%s'\n", s ? s : "");
		exit(2);
	}
	return v;
}

static size_t mib_arg(const char *s)
{
	return (size_t)num_arg(s) << 20;
}

static char *map_anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		printf("mmap_errno=%d\n", errno);
		fflush(stdout);
		exit(3);
	}
	return p;
}

static void touch(char *p, size_t len)
{
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
}

static size_t resident(char *p, size_t len)
{
	size_t pages = len / 4096, n = 0;
	unsigned char *vec = malloc(pages);

	if (!vec || mincore(p, len, vec) < 0)
		return 0;
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n * 4096;
}

/*
 * setuid and kin, looked up rather than imported: the tool's tests use this victim as a program
 * that does not drop privileges (doctor reads the imports). The lookup finds what the program's
 * own call would bind to, the preload's wrapper first.
 */
static int call_setid(const char *name, uid_t a, uid_t b, uid_t c)
{
	int (*one)(uid_t);
	int (*three)(uid_t, uid_t, uid_t);
	void *f = dlsym(RTLD_DEFAULT, name);

	if (!f) {
		errno = ENOSYS;
		return -1;
	}
	if (strcmp(name, "setresuid") == 0) {
		memcpy(&three, &f, sizeof(f));
		return three(a, b, c);
	}
	memcpy(&one, &f, sizeof(f));
	return one(a);
}

static void *idle_thread(void *arg)
{
	pause();
	return arg;
}

/*
 * "stacks N": a pool's idle workers. Each touches a little of its stack, as a worker's first
 * request would, says so, and waits; main() reads the process's memory while all are alive.
 * Nothing here mallocs in a thread: a thread's first malloc makes an arena of its own (a 64 MiB
 * reservation), which MCL_FUTURE would count too, and the figure is the stacks'.
 */
static pthread_mutex_t stacks_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stacks_touched_cond = PTHREAD_COND_INITIALIZER;
static long stacks_touched;

static void *stack_worker(void *arg)
{
	volatile char used[16 << 10];

	for (size_t i = 0; i < sizeof(used); i += 4096)
		used[i] = 1;
	pthread_mutex_lock(&stacks_lock);
	stacks_touched++;
	pthread_cond_signal(&stacks_touched_cond);
	pthread_mutex_unlock(&stacks_lock);
	for (;;)
		pause();
	return arg;
}

static void stacks(long n)
{
	pthread_t *t = calloc((size_t)n + 1, sizeof(*t));
	size_t smin = (size_t)-1, smax = 0, gmax = 0;
	pthread_attr_t a;
	long started = 0;

	if (!t)
		exit(3);
	/* The single-threaded figure, in the same process: what the threads add is the difference. */
	print_status("before_");
	if (pthread_getattr_default_np(&a) == 0) {
		size_t size = 0;

		pthread_attr_getstacksize(&a, &size);
		printf("default_stack=%zu\n", size);
		pthread_attr_destroy(&a);
	}
	for (; started < n; started++) {
		int e = pthread_create(&t[started], NULL, stack_worker, NULL);

		if (e) {
			printf("thread_failed_at=%ld\nthread_errno=%d\n", started, e);
			break;
		}
	}
	/* Until every thread that started has touched its stack: no time bound, a count. */
	pthread_mutex_lock(&stacks_lock);
	while (stacks_touched < started)
		pthread_cond_wait(&stacks_touched_cond, &stacks_lock);
	pthread_mutex_unlock(&stacks_lock);
	print_status("");
	/* Asked from main(): pthread_getattr_np() mallocs (the affinity mask). */
	for (long i = 0; i < started; i++) {
		size_t size = 0, guard = 0;

		if (pthread_getattr_np(t[i], &a) != 0)
			continue;
		pthread_attr_getstacksize(&a, &size);
		pthread_attr_getguardsize(&a, &guard);
		pthread_attr_destroy(&a);
		smin = size < smin ? size : smin;
		smax = size > smax ? size : smax;
		gmax = guard > gmax ? guard : gmax;
	}
	printf("threads_started=%ld\n", started);
	if (started)
		printf("stack_min=%zu\nstack_max=%zu\nguard_max=%zu\n", smin, smax, gmax);
	fflush(stdout);
	/* exit() with the workers still in pause(): exit_group ends them. */
	free(t);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "status";
	int errno_at_main = errno;

	if (strcmp(cmd, "quiet") == 0)
		return 0;
	printf("main_ran=1\n");
	printf("ctor_vm_lck=%lld\n", ctor_vm_lck);
	printf("ctor_vm_rss=%lld\n", ctor_vm_rss);
	printf("errno_at_ctor=%d\n", errno_at_ctor);
	printf("errno_at_main=%d\n", errno_at_main);

	if (strcmp(cmd, "status") == 0) {
		print_status("");
	} else if (strcmp(cmd, "map") == 0) {
		size_t len = mib_arg(argv[2]);
		char *p = map_anon(len);

		touch(p, len);
		print_status("");
	} else if (strcmp(cmd, "onfault") == 0) {
		/* map MIB, touch only the first TOUCH MiB */
		size_t len = mib_arg(argv[2]), t = mib_arg(argv[3]);
		char *p = map_anon(len);

		touch(p, t);
		printf("map_resident=%zu\n", resident(p, len));
		print_status("");
	} else if (strcmp(cmd, "pageout") == 0) {
		size_t len = mib_arg(argv[2]);
		char *p = map_anon(len);
		int r;

		touch(p, len);
		r = madvise(p, len, MADV_PAGEOUT);
		printf("madvise=%d\nmadvise_errno=%d\n", r, r < 0 ? errno : 0);
		printf("map_resident=%zu\n", resident(p, len));
		print_status("");
	} else if (strcmp(cmd, "mlock") == 0) {
		/* The program's own secrets: MIB locked with mlock(2), as gpg-agent or sshd would. */
		size_t len = mib_arg(argv[2]);
		char *p = map_anon(len);
		int r;

		touch(p, len);
		r = mlock(p, len);
		printf("mlock=%d\nmlock_errno=%d\n", r, r < 0 ? errno : 0);
		print_status("");
	} else if (strcmp(cmd, "dropuid") == 0 || strcmp(cmd, "seteuid") == 0) {
		/*
		 * A daemon dropping root: setuid(UID) (or seteuid(UID), then seteuid(0) again), then
		 * the work it does afterwards, which MCL_FUTURE above the limit would fail.
		 */
		uid_t uid = (uid_t)num_arg(argv[2]);
		bool eff = strcmp(cmd, "seteuid") == 0;
		pthread_t t;
		int r = call_setid(eff ? "seteuid" : "setuid", uid, 0, 0);
		size_t len = 16 << 20;
		char *p;

		printf("setuid=%d\nsetuid_errno=%d\n", r, r < 0 ? errno : 0);
		print_status("dropped_");
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("after_mmap_errno=%d\n", p == MAP_FAILED ? errno : 0);
		if (p != MAP_FAILED)
			touch(p, len);
		r = pthread_create(&t, NULL, idle_thread, NULL);
		printf("after_thread=%d\n", r);
		if (eff) {
			r = call_setid("seteuid", 0, 0, 0);
			printf("seteuid0=%d\n", r);
		}
		print_status("");
	} else if (strcmp(cmd, "free") == 0) {
		/* An allocator giving MIB back: madvise(MADV_DONTNEED, _FREE or _REMOVE), touch again. */
		size_t len = mib_arg(argv[2]);
		const char *how = argc > 3 ? argv[3] : "dontneed";
		int advice = strcmp(how, "free") == 0	? MADV_FREE :
			     strcmp(how, "remove") == 0 ? MADV_REMOVE :
							  MADV_DONTNEED;
		char *p = strcmp(how, "remove") == 0 ? mmap(NULL, len, PROT_READ | PROT_WRITE,
							    MAP_SHARED | MAP_ANONYMOUS, -1, 0) :
						       map_anon(len);
		int r;

		if (p == MAP_FAILED)
			return 3;
		memset(p, 7, len);
		r = madvise(p, len, advice);
		printf("madvise=%d\nmadvise_errno=%d\n", r, r < 0 ? errno : 0);
		/* MADV_FREE may keep the pages until memory is short: only DONTNEED says zero. */
		printf("zeroed=%d\n", p[0] == 0 && p[len - 1] == 0);
		printf("freed_resident=%zu\n", resident(p, len));
		touch(p, len);
		printf("map_resident=%zu\n", resident(p, len));
		print_status("");
	} else if (strcmp(cmd, "ownfree") == 0) {
		/* madvise(MADV_DONTNEED) on memory the program locked itself: the kernel's answer. */
		char *p = map_anon(1 << 20);
		int r;

		touch(p, 1 << 20);
		r = mlock(p, 1 << 20);
		printf("mlock=%d\n", r);
		r = madvise(p, 1 << 20, MADV_DONTNEED);
		printf("madvise=%d\nmadvise_errno=%d\n", r, r < 0 ? errno : 0);
	} else if (strcmp(cmd, "mapfork") == 0) {
		/* Grow by MIB after the preload ran, then fork: the child locks again, or says why. */
		size_t len = mib_arg(argv[2]);
		char *p = map_anon(len);
		pid_t pid;
		int st;

		touch(p, len);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			print_status("child_");
			_exit(0);
		}
		waitpid(pid, &st, 0);
		print_status("parent_");
	} else if (strcmp(cmd, "munlockall") == 0) {
		/* The program's own munlockall: its fork children are not locked again either. */
		pid_t pid;
		int st, r = munlockall();

		printf("munlockall=%d\n", r);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			print_status("child_");
			_exit(0);
		}
		waitpid(pid, &st, 0);
		print_status("parent_");
	} else if (strcmp(cmd, "errnos") == 0) {
		/* What libc answers to calls that fail, printed so that runs can be compared. */
		char *p = map_anon(1 << 20);
		int r;

#define CALL(x)                                                                                    \
	do {                                                                                       \
		errno = 0;                                                                         \
		r = (x);                                                                           \
		printf("%s=%d/%d\n", #x, r, errno);                                                \
	} while (0)
		CALL(madvise(p + 1, 4096, MADV_DONTNEED));
		CALL(madvise(p, 4096, 12345));
		CALL(madvise(p, 1 << 20, MADV_DONTNEED));
		CALL(mlock(NULL, 1 << 30));
		CALL(munlock(p, 4096));
		CALL(mlockall(0));
		CALL(call_setid("setuid", getuid(), 0, 0));
		CALL(call_setid("setresuid", (uid_t)-1, (uid_t)-1, (uid_t)-1));
#undef CALL
	} else if (strcmp(cmd, "fork") == 0) {
		pid_t pid;
		int st;

		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			print_status("child_");
			_exit(0);
		}
		waitpid(pid, &st, 0);
		print_status("parent_");
	} else if (strcmp(cmd, "forkpageout") == 0) {
		/* Memory the parent touched, paged out from the child that inherited it. */
		size_t len = mib_arg(argv[2]);
		char *p = map_anon(len);
		pid_t pid;
		int st;

		touch(p, len);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			int r = madvise(p, len, MADV_PAGEOUT);

			printf("child_madvise=%d\nchild_madvise_errno=%d\n", r, r < 0 ? errno : 0);
			printf("child_map_resident=%zu\n", resident(p, len));
			print_status("child_");
			_exit(0);
		}
		waitpid(pid, &st, 0);
	} else if (strcmp(cmd, "daemon") == 0) {
		fflush(stdout);
		/* Keep stdout so the test sees what the daemonized process reports. */
		if (daemon(1, 1) < 0) {
			printf("daemon_errno=%d\n", errno);
			return 4;
		}
		printf("daemon_pid=%d\n", getpid());
		print_status("daemon_");
	} else if (strcmp(cmd, "exec-nolimit") == 0 && argc > 2) {
		/* Exec a helper that cannot lock at all: RLIMIT_MEMLOCK 0 (EPERM without the cap). */
		struct rlimit zero = { 0, 0 };

		setrlimit(RLIMIT_MEMLOCK, &zero);
		fflush(stdout);
		execv("/proc/self/exe", argv + 2);
		printf("exec_errno=%d\n", errno);
		return 5;
	} else if (strcmp(cmd, "exec") == 0 && argc > 2) {
		fflush(stdout);
		execv("/proc/self/exe", argv + 2);
		printf("exec_errno=%d\n", errno);
		return 5;
	} else if (strcmp(cmd, "sched") == 0) {
		/* What the kernel keeps across execve: the scheduling class and oom_score_adj. */
		char text[16] = "";
		FILE *f = fopen("/proc/self/oom_score_adj", "re");

		if (f && fgets(text, sizeof(text), f))
			printf("oom_score_adj=%s", text);
		if (f)
			fclose(f);
		printf("sched_policy=%d\n", sched_getscheduler(0));
		printf("server_before=%s\n",
		       getenv("DUENDE_MLOCK_SERVER_BEFORE") ? "set" : "unset");
	} else if (strcmp(cmd, "sleep") == 0) {
		printf("pid=%d\n", getpid());
		print_status("");
		sleep((unsigned)num_arg(argv[2]));
	} else if (strcmp(cmd, "threads") == 0) {
		long n = num_arg(argv[2]);
		pthread_t t;

		for (long i = 0; i < n; i++)
			if (pthread_create(&t, NULL, idle_thread, NULL) != 0) {
				printf("thread_failed_at=%ld\n", i);
				break;
			}
		usleep(100000);
		print_status("");
	} else if (strcmp(cmd, "stacks") == 0) {
		stacks(num_arg(argv[2]));
	} else if (strcmp(cmd, "fds") == 0) {
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;
		int n = 0;

		while (d && (e = readdir(d)))
			n += e->d_name[0] != '.';
		if (d)
			closedir(d);
		printf("fd_count=%d\n", n - 1); /* less the one opendir() holds */
	} else if (strcmp(cmd, "maps") == 0) {
		/* Is libconfuse (or the library itself) mapped in this process now? */
		char line[512];
		int confuse = 0, shim = 0;
		FILE *f = fopen("/proc/self/maps", "re");

		while (f && fgets(line, sizeof(line), f)) {
			confuse |= strstr(line, "libconfuse") != NULL;
			shim |= strstr(line, "libduende_mlock") != NULL;
		}
		if (f)
			fclose(f);
		printf("confuse_mapped=%d\nshim_mapped=%d\n", confuse, shim);
	} else if (strcmp(cmd, "signals") == 0) {
		sigset_t pending, mask;
		struct sigaction sa;

		sigpending(&pending);
		sigprocmask(SIG_BLOCK, NULL, &mask);
		sigaction(SIGPIPE, NULL, &sa);
		printf("sigpipe_pending=%d\n", sigismember(&pending, SIGPIPE));
		printf("sigpipe_blocked=%d\n", sigismember(&mask, SIGPIPE));
		printf("sigpipe_default=%d\n", sa.sa_handler == SIG_DFL);
	} else {
		fprintf(stderr, "victim: unknown command '%s'\n", cmd);
		return 2;
	}
	fflush(stdout);
	return 0;
}
