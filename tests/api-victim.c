/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The API victim: a program linked against libduende_mlock that calls the public dmlock_* API,
 * one scenario per command, and prints what it got as "key=value" lines. Everything the library
 * says is printed next to VmLck read from /proc by this program's own code, so a test can tell
 * the library's word from the kernel's.
 *
 *   api-victim default-config | helpers | format | strerror | unlock | old-struct | tiny-struct
 *   api-victim swap-server [EXPORT|-] [drop]   lock all, then the swap-server steps, after
 *       dropping CAP_SYS_NICE and CAP_SYS_RESOURCE from every set with "drop"
 *   api-victim lock SPEC [STEP...]
 *
 * SPEC: "all" calls dmlock_lock_all(); otherwise the letters c, f, o, r set current, future,
 * onfault and required of a config ("-" for none of them), and "nullconfig" passes NULL.
 * Modifier letters: n passes a NULL status, s installs a seccomp filter that makes mlockall(2)
 * fail with ENOSYS first. STEPs after locking: "unlock", "fork", "map MIB" (mapped and touched),
 * "reserve MIB" (mapped, not touched).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "duende_mlock.h"

static long long ctor_vm_lck = -1;

/* VmLck in bytes, read with open/read into the stack: no allocation, so under MCL_FUTURE the
 * read itself does not change the figure it reads. */
static long long vm_kb(const char *key)
{
	char buf[4096], *p;
	size_t klen = strlen(key);
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; p; p = strchr(p, '\n')) {
		p += *p == '\n';
		if (strncmp(p, key, klen) == 0 && p[klen] == ':')
			return strtoll(p + klen + 1, NULL, 10) * 1024;
	}
	return -1;
}

/* Runs after the library's constructor: shows whether linking alone locked anything. */
__attribute__((constructor)) static void api_victim_ctor(void)
{
	ctor_vm_lck = vm_kb("VmLck");
}

static const char *state_name(enum dmlock_state s)
{
	switch (s) {
	case DMLOCK_LOCKED:
		return "LOCKED";
	case DMLOCK_FAILED:
		return "FAILED";
	case DMLOCK_UNSUPPORTED:
		return "UNSUPPORTED";
	default:
		return "none";
	}
}

/* RLIMIT values as the harness writes them: -2 for unlimited. */
static long long limit_value(unsigned long long v)
{
	return v == ~0ULL ? -2 : (long long)v;
}

static void print_helpers(const char *p, const struct dmlock_status *st)
{
	printf("%s_is_locked=%d\n", p, dmlock_status_is_locked(st));
	printf("%s_is_failed=%d\n", p, dmlock_status_is_failed(st));
	printf("%s_is_unsupported=%d\n", p, dmlock_status_is_unsupported(st));
	printf("%s_bytes=%zu\n", p, dmlock_status_bytes_locked(st));
	printf("%s_errno=%d\n", p, dmlock_status_failure_errno(st));
}

static void print_format(const char *key, const struct dmlock_status *st)
{
	char line[1024];
	int n;

	strcpy(line, "(untouched)");
	n = dmlock_status_format(st, line, sizeof(line));
	printf("%s_rc=%d\n", key, n);
	printf("%s=%s\n", key, line);
}

static void print_status(const struct dmlock_status *st)
{
	printf("state=%d\n", (int)st->state);
	printf("state_name=%s\n", state_name(st->state));
	printf("bytes_locked=%zu\n", st->bytes_locked);
	printf("error=%d\n", st->error);
	printf("flags_requested=%d\n", st->flags_requested);
	printf("flags_used=%d\n", st->flags_used);
	printf("onfault_fallback=%d\n", st->onfault_fallback);
	printf("future_withheld=%d\n", st->future_withheld);
	printf("soft_limit_raised=%d\n", st->soft_limit_raised);
	printf("cap_ipc_lock=%d\n", st->cap_ipc_lock);
	printf("memlock_soft=%lld\n", limit_value(st->memlock_soft));
	printf("memlock_hard=%lld\n", limit_value(st->memlock_hard));
	printf("vm_size=%llu\n", st->vm_size);
	print_helpers("status", st);
	printf("strerror_error=%s\n", dmlock_strerror(st->error));
	print_format("line", st);
}

/* Make mlockall(2) fail with ENOSYS, as a seccomp profile without @memlock does. */
static int deny_mlockall(void)
{
#if defined(__x86_64__)
#define VICTIM_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define VICTIM_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define VICTIM_AUDIT_ARCH AUDIT_ARCH_I386
#endif
	struct sock_filter filter[] = {
#ifdef VICTIM_AUDIT_ARCH
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, VICTIM_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
#endif
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mlockall, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
}

static size_t mib_arg(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s ? s : "", &end, 10);
	if (!s || !*s || *end || errno || v < 0 || v > 4096) {
		fprintf(stderr, "api-victim: bad size '%s'\n", s ? s : "");
		exit(2);
	}
	return (size_t)v << 20;
}

static char *map_anon(const char *key, size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		printf("%s_errno=%d\n", key, errno);
		return NULL;
	}
	return p;
}

static size_t resident(char *p, size_t len)
{
	unsigned char vec[4096];
	size_t n = 0;

	/* At most 16 MiB of pages per call into the fixed vector. */
	for (size_t off = 0; off < len; off += sizeof(vec) * 4096) {
		size_t chunk = len - off < sizeof(vec) * 4096 ? len - off : sizeof(vec) * 4096;

		if (mincore(p + off, chunk, vec) < 0)
			return 0;
		for (size_t i = 0; i < chunk / 4096; i++)
			n += vec[i] & 1;
	}
	return n * 4096;
}

static void print_now(const char *p)
{
	/* Both read back to back, before any printf(), so they describe the same moment. */
	bool locked = dmlock_is_locked();
	size_t bytes = dmlock_locked_bytes();
	long long vm_lck = vm_kb("VmLck");

	printf("%s_is_locked=%d\n", p, locked);
	printf("%s_locked_bytes=%zu\n", p, bytes);
	printf("%s_vm_lck=%lld\n", p, vm_lck);
}

static int step(char **argv, int argc, int i)
{
	const char *s = argv[i];

	if (strcmp(s, "unlock") == 0) {
		printf("unlock_rc=%d\n", dmlock_unlock_all());
		print_now("unlocked");
		return 1;
	}
	if (strcmp(s, "fork") == 0) {
		pid_t pid;
		int st;

		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			printf("fork_errno=%d\n", errno);
			return 1;
		}
		if (pid == 0) {
			print_now("child");
			fflush(stdout);
			_exit(0);
		}
		waitpid(pid, &st, 0);
		return 1;
	}
	if ((strcmp(s, "map") == 0 || strcmp(s, "reserve") == 0) && i + 1 < argc) {
		bool touch = s[0] == 'm';
		size_t len = mib_arg(argv[i + 1]);
		char *p = map_anon(touch ? "map" : "reserve", len);

		if (p && touch)
			for (size_t off = 0; off < len; off += 4096)
				p[off] = 1;
		if (p)
			printf("%s_resident=%zu\n", touch ? "map" : "reserve", resident(p, len));
		print_now(touch ? "mapped" : "reserved");
		return 2;
	}
	fprintf(stderr, "api-victim: unknown step '%s'\n", s);
	exit(2);
}

static int cmd_lock(int argc, char **argv)
{
	const char *spec = argc > 2 ? argv[2] : "all";
	struct dmlock_config c = { 0 };
	struct dmlock_status st;
	bool all = strncmp(spec, "all", 3) == 0, null_config = strcmp(spec, "nullconfig") == 0;
	bool null_status = false;
	int r;

	memset(&st, 0xa5, sizeof(st)); /* garbage the library must overwrite */
	st.size = sizeof(st);
	for (const char *p = all ? spec + 3 : spec; !null_config && *p; p++) {
		switch (*p) {
		case 'c':
			c.current = true;
			break;
		case 'f':
			c.future = true;
			break;
		case 'o':
			c.onfault = true;
			break;
		case 'r':
			c.required = true;
			break;
		case 'n':
			null_status = true;
			break;
		case 's':
			r = deny_mlockall();
			printf("seccomp_rc=%d\n", r);
			if (r < 0)
				return 3;
			break;
		case '-':
			break;
		default:
			fprintf(stderr, "api-victim: bad spec '%s'\n", spec);
			return 2;
		}
	}
	print_now("before");
	fflush(stdout);

	if (all)
		r = dmlock_lock_all(null_status ? NULL : &st);
	else
		r = dmlock_lock_with_config(null_config ? NULL : &c, null_status ? NULL : &st);
	print_now("after");
	printf("rc=%d\n", r);
	printf("strerror_rc=%s\n", dmlock_strerror(r));
	if (!null_status)
		print_status(&st);
	for (int i = 3; i < argc;)
		i += step(argv, argc, i);
	return 0;
}

static void cmd_default_config(void)
{
	struct dmlock_config c = dmlock_config_default();

	struct dmlock_config m = DMLOCK_CONFIG_DEFAULT;

	printf("cfg_current=%d\ncfg_future=%d\ncfg_onfault=%d\ncfg_required=%d\n", c.current,
	       c.future, c.onfault, c.required);
	printf("macro_same=%d\n", m.current == c.current && m.future == c.future &&
					  m.onfault == c.onfault && m.required == c.required);
}

/* The crate's MlockStatus values, made by hand as its tests make them. The failure carries VmLck
 * (from an earlier lock, say), which is not what this call locked. */
static const struct dmlock_status hand_locked = { .state = DMLOCK_LOCKED, .bytes_locked = 1024 };
static const struct dmlock_status hand_failed = { .state = DMLOCK_FAILED,
						  .error = 1,
						  .bytes_locked = 4096 };
static const struct dmlock_status hand_unsupported = { .state = DMLOCK_UNSUPPORTED };

static void cmd_helpers(void)
{
	print_helpers("locked", &hand_locked);
	print_helpers("failed", &hand_failed);
	print_helpers("unsupported", &hand_unsupported);
	print_helpers("null", NULL);
	print_format("null_format", NULL);
}

static void cmd_format(void)
{
	const struct dmlock_status locked = {
		.state = DMLOCK_LOCKED,
		.bytes_locked = 1048576,
		.flags_requested = MCL_CURRENT | MCL_FUTURE,
		.flags_used = MCL_CURRENT | MCL_FUTURE,
		.cap_ipc_lock = true,
		.memlock_soft = ~0ULL,
		.memlock_hard = ~0ULL,
	};
	const struct dmlock_status eperm = {
		.state = DMLOCK_FAILED,
		.error = EPERM,
		.flags_requested = MCL_CURRENT | MCL_FUTURE,
		.future_withheld = true,
		.vm_size = 4194304,
	};
	const struct dmlock_status lifted = {
		.state = DMLOCK_LOCKED,
		.bytes_locked = 1048576,
		.flags_requested = MCL_CURRENT | MCL_FUTURE,
		.flags_used = MCL_CURRENT | MCL_FUTURE,
		.memlock_soft = ~0ULL,
		.memlock_hard = ~0ULL,
		.limit_lifted = true,
	};
	const struct dmlock_status needs_cap = {
		.size = sizeof(struct dmlock_status),
		.state = DMLOCK_LOCKED,
		.bytes_locked = 1048576,
		.flags_requested = MCL_CURRENT | MCL_FUTURE,
		.flags_used = MCL_CURRENT | MCL_FUTURE,
		.cap_ipc_lock = true,
		.memlock_soft = 8388608,
		.memlock_hard = 8388608,
		.future_needs_cap = true,
	};
	const struct dmlock_status failed12 = { .state = DMLOCK_FAILED, .error = ENOMEM };
	const struct dmlock_status failed42 = { .state = DMLOCK_FAILED, .error = 42 };
	const struct dmlock_status zero = { 0 };
	char small[16];
	int n;

	print_format("full_locked", &locked);
	print_format("full_eperm", &eperm);
	print_format("lifted", &lifted);
	print_format("needs_cap", &needs_cap);
	print_format("hand_locked", &hand_locked);
	print_format("hand_failed12", &failed12);
	print_format("hand_failed42", &failed42);
	print_format("hand_unsupported", &hand_unsupported);
	print_format("zero", &zero);

	/* snprintf() semantics: the length needed, whatever fits. */
	printf("len_null=%d\n", dmlock_status_format(&locked, NULL, 0));
	memset(small, 'x', sizeof(small));
	n = dmlock_status_format(&locked, small, sizeof(small));
	printf("len_small=%d\n", n);
	printf("small_terminated=%d\n", memchr(small, '\0', sizeof(small)) == small + 15);
	printf("small=%s\n", small);
}

/*
 * A program built against an older, smaller struct dmlock_status: its size says so, and the
 * library writes nothing past it (the canary after it stays) and reads nothing past it.
 */
#define OLD_SIZE (offsetof(struct dmlock_status, vm_size) + sizeof(unsigned long long))

static void cmd_old_struct(void)
{
	union {
		struct dmlock_status st;
		unsigned char bytes[sizeof(struct dmlock_status) + 32];
	} u;
	bool intact = true;
	int r;

	memset(u.bytes, 0x5a, sizeof(u.bytes));
	u.st.size = OLD_SIZE;
	r = dmlock_lock_all(&u.st);
	for (size_t i = OLD_SIZE; i < sizeof(u.bytes); i++)
		intact = intact && u.bytes[i] == 0x5a;
	printf("rc=%d\nold_size=%zu\nnew_size=%zu\n", r, (size_t)OLD_SIZE,
	       sizeof(struct dmlock_status));
	printf("size_kept=%d\ncanary_intact=%d\n", u.st.size == OLD_SIZE, intact);
	printf("state_name=%s\nbytes_locked=%zu\n", state_name(u.st.state), u.st.bytes_locked);
	printf("is_locked=%d\n", dmlock_status_is_locked(&u.st));
	print_format("line", &u.st);
	print_now("after");
}

/* A size too small to hold a status: refused, nothing locked, nothing written. */
static void cmd_tiny_struct(void)
{
	struct dmlock_status st;
	unsigned char before[sizeof(st)];

	memset(&st, 0x5a, sizeof(st));
	st.size = sizeof(size_t);
	memcpy(before, &st, sizeof(st));
	printf("rc=%d\n", dmlock_lock_all(&st));
	printf("untouched=%d\n", memcmp(before, &st, sizeof(st)) == 0);
	printf("is_locked=%d\n", dmlock_status_is_locked(&st));
	print_format("line", &st);
	print_now("after");
}

static void cmd_strerror(void)
{
	static const struct {
		const char *key;
		int code;
	} codes[] = {
		{ "perm", DMLOCK_ERR_PERMISSION_DENIED },
		{ "eperm", EPERM },
		{ "limit", DMLOCK_ERR_RESOURCE_LIMIT },
		{ "enomem", ENOMEM },
		{ "inval", DMLOCK_ERR_INVALID_ARGUMENT },
		{ "again", DMLOCK_ERR_WOULD_BLOCK },
		{ "unsupported", DMLOCK_ERR_UNSUPPORTED },
		{ "unknown", DMLOCK_ERR_UNKNOWN },
		{ "e42", 42 },
		{ "zero", 0 },
		{ "intmin", INT_MIN },
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		printf("strerror_%s=%s\n", codes[i].key, dmlock_strerror(codes[i].code));
}

static void *stack_size_of_thread(void *arg)
{
	pthread_attr_t a;
	size_t size = 0;

	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstacksize(&a, &size);
		pthread_attr_destroy(&a);
	}
	*(size_t *)arg = size;
	return NULL;
}

/* What the kernel says of this process, beside what the library says it did. */
static void print_swap_server_seen(void)
{
	char text[64] = "";
	unsigned long flags = 0;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t thread_stack = 0;
	pthread_t t;

	/* Field 9, after "pid (comm) state ppid pgrp session tty_nr tpgid". */
	if (f && fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %lu", &flags) == 1)
		printf("task_flags=%lu\n", flags);
	if (f)
		fclose(f);
	f = fopen("/proc/self/oom_score_adj", "re");
	if (f && fgets(text, sizeof(text), f))
		printf("oom_score_adj_seen=%ld\n", strtol(text, NULL, 10));
	if (f)
		fclose(f);
	printf("policy_seen=%d\n", sched_getscheduler(0));
	if (pthread_create(&t, NULL, stack_size_of_thread, &thread_stack) == 0)
		pthread_join(t, NULL);
	printf("thread_stack_bytes=%zu\n", thread_stack);
}

/* The capabilities the profile's privileged steps need, gone from every set of this process. */
static int drop_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	const int caps[] = { CAP_SYS_NICE, CAP_SYS_RESOURCE };

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0) < 0)
			return -1;
		d[0].effective &= ~(1u << caps[i]);
		d[0].permitted &= ~(1u << caps[i]);
		d[0].inheritable &= ~(1u << caps[i]);
	}
	return (int)syscall(SYS_capset, &h, d);
}

static int cmd_swap_server(int argc, char **argv)
{
	struct dmlock_swap_server ss = DMLOCK_SWAP_SERVER_INIT, bad = DMLOCK_SWAP_SERVER_INIT;
	char line[1024];

	printf("lock_rc=%d\n", dmlock_lock_all(NULL));
	if (argc > 3 && strcmp(argv[3], "drop") == 0)
		printf("drop_rc=%d\n", drop_caps());
	if (argc > 2 && strcmp(argv[2], "-") != 0)
		ss.export_path = argv[2];
	printf("rc=%d\n", dmlock_swap_server(&ss));
	printf("io_flusher=%d\noom=%d\nsched=%d\nheap=%d\nstack=%d\nthread_stack=%d\nexport_io=%d\n",
	       ss.io_flusher, ss.oom, ss.sched, ss.heap, ss.stack, ss.thread_stack, ss.export_io);
	printf("format_rc=%d\n", dmlock_swap_server_format(&ss, line, sizeof(line)));
	printf("line=%s\n", line);
	print_swap_server_seen();
	bad.rt_priority = 100;
	printf("bad_priority_rc=%d\n", dmlock_swap_server(&bad));
	bad.rt_priority = 50;
	bad.size = sizeof(size_t);
	printf("bad_size_rc=%d\n", dmlock_swap_server(&bad));
	printf("null_rc=%d\n", dmlock_swap_server(NULL));
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "lock";

	printf("main_ran=1\n");
	/* No program interpreter: linked with -static. */
	printf("static_exe=%d\n", getauxval(AT_BASE) == 0);
	printf("ctor_vm_lck=%lld\n", ctor_vm_lck);
	printf("const_permission_denied=%d\n", DMLOCK_ERR_PERMISSION_DENIED);
	printf("const_resource_limit=%d\n", DMLOCK_ERR_RESOURCE_LIMIT);
	printf("const_invalid_argument=%d\n", DMLOCK_ERR_INVALID_ARGUMENT);
	printf("const_would_block=%d\n", DMLOCK_ERR_WOULD_BLOCK);
	printf("const_unsupported=%d\n", DMLOCK_ERR_UNSUPPORTED);
	printf("const_unknown=%d\n", DMLOCK_ERR_UNKNOWN);
	printf("const_future_withheld=%d\n", DMLOCK_ERR_FUTURE_WITHHELD);
	printf("const_locked=%d\nconst_failed=%d\nconst_unsupported_state=%d\n", DMLOCK_LOCKED,
	       DMLOCK_FAILED, DMLOCK_UNSUPPORTED);

	if (strcmp(cmd, "lock") == 0) {
		int r = cmd_lock(argc, argv);

		if (r)
			return r;
	} else if (strcmp(cmd, "default-config") == 0) {
		cmd_default_config();
	} else if (strcmp(cmd, "helpers") == 0) {
		cmd_helpers();
	} else if (strcmp(cmd, "format") == 0) {
		cmd_format();
	} else if (strcmp(cmd, "strerror") == 0) {
		cmd_strerror();
	} else if (strcmp(cmd, "old-struct") == 0) {
		cmd_old_struct();
	} else if (strcmp(cmd, "tiny-struct") == 0) {
		cmd_tiny_struct();
	} else if (strcmp(cmd, "swap-server") == 0) {
		cmd_swap_server(argc, argv);
	} else if (strcmp(cmd, "unlock") == 0) {
		print_now("before");
		printf("unlock_rc=%d\n", dmlock_unlock_all());
		print_now("after");
	} else {
		fprintf(stderr, "api-victim: unknown command '%s'\n", cmd);
		return 2;
	}
	fflush(stdout);
	return 0;
}
