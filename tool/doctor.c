/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * duende-mlock doctor: would locking work for PROGRAM (or a program started from this shell)?
 * Every check reads state and nothing is changed: the one mlockall() call is made in a child that
 * exits at once. Each finding comes with its remedy; any FAIL makes the exit status 1.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tool.h"

#define LD_SO_PRELOAD "/etc/ld.so.preload"

static const char doctor_usage[] =
	"Usage: duende-mlock doctor [PROGRAM]\n"
	"\n"
	"Check whether PROGRAM (or a program started from this shell) could be locked now:\n"
	"CAP_IPC_LOCK, RLIMIT_MEMLOCK against the program's size, kernel support for MCL_ONFAULT,\n"
	"seccomp, the config file's trust and validity, /etc/ld.so.preload, and whether\n"
	"PROGRAM is dynamically linked (a static program cannot be preloaded). Nothing is\n"
	"changed.\n"
	"\n"
	"  -h, --help       this text\n"
	"\n"
	"Exit status: 0 when locking would work, 1 when something would make it fail, 2 on usage\n"
	"errors.\n";

struct report {
	unsigned fails, warns;
};

void tool_vfinding(unsigned *fails, unsigned *warns, enum tool_level lv, const char *topic,
		   const char *remedy, const char *fmt, va_list ap)
{
	static const char *const tags[] = { "ok", "info", "WARN", "FAIL" };
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	printf("%-5s %-11s %s\n", tags[lv], topic, msg);
	if (remedy)
		printf("%-5s %-11s fix: %s\n", "", "", remedy);
	*fails += lv == L_FAIL;
	*warns += lv == L_WARN;
}

static void finding(struct report *rep, enum tool_level lv, const char *topic, const char *remedy,
		    const char *fmt, ...) DM_PRINTF(5, 6);
static void finding(struct report *rep, enum tool_level lv, const char *topic, const char *remedy,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tool_vfinding(&rep->fails, &rep->warns, lv, topic, remedy, fmt, ap);
	va_end(ap);
}

struct target {
	const char *arg;     /* as given, NULL for "a program started from this shell" */
	char path[PATH_MAX]; /* found in PATH */
	char real[PATH_MAX]; /* realpath */
	char esc[PATH_MAX];  /* for printing */
	bool found;
	uint64_t file_size;
	int running_pid; /* a running instance, 0 when none */
	uint64_t running_vm_size;
};

/* ---- the program ---- */

static bool has_file_caps(const char *path)
{
	return getxattr(path, "security.capability", NULL, 0) > 0;
}

static int note_running(int pid, void *ctx)
{
	struct target *t = ctx;
	char link[64], exe[PATH_MAX];
	struct dm_proc_mem m;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = '\0';
	if (strcmp(exe, t->real) != 0 || dm_proc_mem_read(pid, &m) < 0)
		return 0;
	if (m.vm_size > t->running_vm_size) {
		t->running_vm_size = m.vm_size;
		t->running_pid = pid;
	}
	return 0;
}

/* A running instance tells the real size: the largest VmSize of processes running this file. */
static void find_running(struct target *t)
{
	tool_proc_walk(note_running, t);
}

static void check_program(struct report *rep, struct target *t)
{
	struct tool_elf_info info;
	struct stat st;
	int r;

	if (!t->arg) {
		finding(rep, L_INFO, "program", NULL,
			"none named: checking for a program started from this shell");
		return;
	}
	dm_escape(t->esc, sizeof(t->esc), t->arg, PATH_MAX / 4);
	r = tool_find_program(t->arg, t->path, sizeof(t->path));
	if (r < 0 || stat(t->path, &st) < 0) {
		finding(rep, L_FAIL, "program", "give a path, or a name found in PATH",
			"%s: not found: %s", t->esc, strerror(r < 0 ? -r : errno));
		return;
	}
	t->found = true;
	if (!realpath(t->path, t->real))
		snprintf(t->real, sizeof(t->real), "%s", t->path);
	/*
	 * Named as the operator called it; a symlink to another executable (Debian's redis-server
	 * runs redis-check-rdb) is said with the executable beside it, once.
	 */
	dm_escape(t->esc, sizeof(t->esc), t->path, PATH_MAX / 4);
	if (strcmp(dm_base_name(t->path), dm_base_name(t->real)) != 0) {
		char real[PATH_MAX];
		size_t n = strlen(t->esc);

		dm_escape(real, sizeof(real), t->real, PATH_MAX / 4);
		snprintf(t->esc + n, sizeof(t->esc) - n, " (executable %s)", real);
	}
	t->file_size = (uint64_t)st.st_size;
	find_running(t);

	r = tool_elf_inspect(t->real, &info);
	if (r < 0) {
		finding(rep, L_FAIL, "program", "name an executable file", "%s: cannot read: %s",
			t->esc, strerror(-r));
		return;
	}
	switch (info.kind) {
	case TOOL_ELF_DYNAMIC: {
		char interp[PATH_MAX];

		dm_escape(interp, sizeof(interp), info.interp, PATH_MAX / 4);
		finding(rep, L_OK, "program", NULL, "%s is dynamically linked (loader %s)", t->esc,
			interp);
		/* musl's loader knows LD_PRELOAD but not /etc/ld.so.preload. */
		if (strstr(info.interp, "musl"))
			finding(rep, L_WARN, "program",
				"use LD_PRELOAD (duende-mlock run), and a library built for musl",
				"%s uses the musl loader, which ignores /etc/ld.so.preload",
				t->esc);
		break;
	}
	case TOOL_ELF_STATIC:
		finding(rep, L_FAIL, "program",
			"link it dynamically, or have it lock itself: link libduende_mlock and "
			"call dmlock_lock_all() (see duende_mlock(3))",
			"%s is statically linked: no dynamic loader runs, so neither LD_PRELOAD "
			"nor /etc/ld.so.preload can load the library into it",
			t->esc);
		break;
	case TOOL_ELF_SCRIPT: {
		char interp[PATH_MAX];

		dm_escape(interp, sizeof(interp), info.interp, PATH_MAX / 4);
		finding(rep, L_INFO, "program", NULL,
			"%s is a script: the interpreter %s is the process that gets locked",
			t->esc, interp);
		break;
	}
	case TOOL_ELF_OTHER:
		finding(rep, L_FAIL, "program", "name the daemon's executable",
			"%s is neither an ELF program nor a #! script", t->esc);
		break;
	}
	/* ld.so(8): in secure-execution mode LD_PRELOAD entries with a '/' are ignored. */
	if ((st.st_mode & (S_ISUID | S_ISGID)) || has_file_caps(t->real))
		finding(rep, L_WARN, "program",
			"list it in " LD_SO_PRELOAD " (system-wide, with programs = {...}) or "
			"let it call dmlock_lock_all() itself",
			"%s is setuid, setgid or has file capabilities: started by another user "
			"than its owner, the loader ignores LD_PRELOAD paths and the library "
			"ignores the DUENDE_MLOCK_* variables",
			t->esc);
}

/* ---- the library ---- */

static void check_library(struct report *rep)
{
	const char *lib = tool_library_path();
	char esc[PATH_MAX];

	char why[512];

	dm_escape(esc, sizeof(esc), lib, PATH_MAX / 4);
	if (access(lib, R_OK) == 0 && tool_library_loads(lib, why, sizeof(why)) == -ENOEXEC)
		finding(rep, L_FAIL, "library",
			"install the library built for this machine's programs, or set "
			"DUENDE_MLOCK_LIBRARY to its path",
			"%s is in place but does not load: %s; programs would run unlocked, even "
			"with required",
			esc, why);
	else if (access(lib, R_OK) == 0)
		finding(rep, L_OK, "library", NULL, "%s is in place and loads", esc);
	else
		finding(rep, L_FAIL, "library",
			"install duende-mlock, or set DUENDE_MLOCK_LIBRARY to the library's path",
			"%s: %s", esc, strerror(errno));
}

/* ---- capability and limit ---- */

static bool cap_eff_has_ipc_lock(void)
{
	uint64_t caps;

	return dm_proc_cap_eff(0, &caps) == 0 && (caps >> CAP_IPC_LOCK) & 1;
}

/* Returns true when locking would fail for lack of permission or limit. */
static void check_limits(struct report *rep, const struct target *t, const struct dm_settings *s)
{
	char soft[32], hard[32], est[32];
	struct dm_proc_mem self_mem = { 0 };
	struct rlimit rl;
	bool cap = dm_has_ipc_lock();
	uint64_t estimate;
	const char *basis;
	rlim_t limit;

	if (cap) {
		finding(rep, L_OK, "capability", NULL,
			"CAP_IPC_LOCK is effective: RLIMIT_MEMLOCK does not limit locking");
	} else if (cap_eff_has_ipc_lock()) {
		finding(rep, L_WARN, "capability",
			"run in the initial user namespace (rootful container), or raise "
			"RLIMIT_MEMLOCK on the host for the container",
			"CAP_IPC_LOCK is set but this is a user namespace: the kernel checks it in "
			"the initial namespace, so it does not count for mlock");
	} else {
		finding(rep, L_INFO, "capability", NULL,
			"no CAP_IPC_LOCK: RLIMIT_MEMLOCK decides how much can be locked");
	}

	getrlimit(RLIMIT_MEMLOCK, &rl);
	dm_limit_text(soft, sizeof(soft), rl.rlim_cur, true);
	dm_limit_text(hard, sizeof(hard), rl.rlim_max, true);

	/* mlockall(MCL_CURRENT) compares the whole VmSize with the limit (mm/mlock.c). */
	dm_proc_mem_read(0, &self_mem);
	if (t->running_pid) {
		estimate = t->running_vm_size;
		basis = "VmSize of the running instance";
	} else if (t->found) {
		estimate = t->file_size > self_mem.vm_size ? t->file_size : self_mem.vm_size;
		basis = "at least: its file size or a small program's VmSize; it grows when "
			"running";
	} else {
		estimate = self_mem.vm_size;
		basis = "VmSize of a small program; a daemon is larger";
	}
	tool_human_bytes(est, sizeof(est), estimate);

	if (!s->current && !s->future) {
		finding(rep, L_FAIL, "settings", "set current = true (and future = true)",
			"current and future are both false: the shim would lock nothing");
		return;
	}
	if (cap) {
		finding(rep, L_OK, "limit", NULL,
			"RLIMIT_MEMLOCK soft %s, hard %s: not in effect with CAP_IPC_LOCK", soft,
			hard);
		return;
	}
	/* The library raises the soft limit to the hard one first (preload/lock.c). */
	limit = rl.rlim_max;
	if (limit == RLIM_INFINITY) {
		finding(rep, L_OK, "limit", NULL,
			"RLIMIT_MEMLOCK soft %s, hard %s: everything can be locked%s", soft, hard,
			rl.rlim_cur != RLIM_INFINITY ? " (the shim raises the soft limit)" : "");
		return;
	}
	if (limit == 0) {
		finding(rep, L_FAIL, "limit", dm_errno_remedy(EPERM),
			"RLIMIT_MEMLOCK is 0 (soft %s, hard %s) and there is no CAP_IPC_LOCK: "
			"mlockall would fail with EPERM",
			soft, hard);
		return;
	}
	if (s->current && estimate > limit) {
		finding(rep, L_FAIL, "limit", dm_errno_remedy(ENOMEM),
			"RLIMIT_MEMLOCK hard %s is below the program's size %s (%s): mlockall "
			"would fail with ENOMEM",
			hard, est, basis);
		return;
	}
	if (s->current)
		finding(rep, L_WARN, "limit", dm_errno_remedy(ENOMEM),
			"RLIMIT_MEMLOCK soft %s, hard %s is above the program's size %s (%s), but "
			"finite: locking fails once the program outgrows it",
			soft, hard, est, basis);
	if (s->future)
		finding(rep, s->current ? L_WARN : L_FAIL, "limit", dm_errno_remedy(ECANCELED),
			"MCL_FUTURE will be withheld under a finite limit without CAP_IPC_LOCK: "
			"memory mapped after start is not locked");
}

/* ---- kernel and seccomp: one real mlockall() in a child ---- */

struct probe {
	bool ran;
	int err;    /* errno of mlockall, 0 on success */
	int signal; /* the child was killed (seccomp SECCOMP_RET_KILL) */
};

/*
 * MCL_ONFAULT faults nothing in, so the probe costs nothing, and the flags are checked before
 * any permission (mm/mlock.c): EINVAL means the kernel does not know MCL_ONFAULT, whatever the
 * limits say. The child's exit status carries the errno.
 */
static void probe_mlockall(struct probe *p)
{
	int status;
	pid_t pid;

	*p = (struct probe){ 0 };
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_MEMLOCK, &rl);
		}
		_exit(mlockall(MCL_CURRENT | MCL_ONFAULT) == 0 ? 0 : errno & 0xff);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return;
	p->ran = true;
	if (WIFSIGNALED(status))
		p->signal = WTERMSIG(status);
	else
		p->err = WEXITSTATUS(status);
}

static int seccomp_mode(void)
{
	char text[16];

	if (dm_proc_status_text(0, "Seccomp", text, sizeof(text)) < 0 || text[1] || text[0] < '0' ||
	    text[0] > '2')
		return -1;
	return text[0] - '0';
}

static void check_kernel(struct report *rep, const struct dm_settings *s, const struct probe *p)
{
	struct utsname u;
	const char *rel = uname(&u) == 0 ? u.release : "?";

	if (!p->ran) {
		finding(rep, L_INFO, "kernel", NULL, "Linux %s: could not run the mlockall probe",
			rel);
		return;
	}
	if (p->signal || p->err == ENOSYS)
		return; /* said under seccomp */
	if (p->err == EINVAL)
		finding(rep, s->onfault ? L_WARN : L_INFO, "kernel",
			s->onfault ? "set onfault = false, or use Linux 4.4 or later" : NULL,
			"Linux %s does not know MCL_ONFAULT (added in 4.4): the shim locks without "
			"it, faulting every page in",
			rel);
	else
		finding(rep, L_OK, "kernel", NULL, "Linux %s supports MCL_ONFAULT", rel);
}

static void check_seccomp(struct report *rep, const struct probe *p)
{
	int mode = seccomp_mode();

	if (p->ran && (p->signal == SIGSYS || p->signal == SIGKILL)) {
		finding(rep, L_FAIL, "seccomp", dm_errno_remedy(ENOSYS),
			"a seccomp filter kills a process that calls mlockall (signal %d)",
			p->signal);
		return;
	}
	if (p->ran && p->err == ENOSYS) {
		finding(rep, L_FAIL, "seccomp", dm_errno_remedy(ENOSYS),
			"mlockall fails with ENOSYS here: a seccomp filter (or the kernel) "
			"denies it");
		return;
	}
	switch (mode) {
	case 0:
		finding(rep, L_OK, "seccomp", NULL, "no seccomp filter on this shell");
		break;
	case 1:
		finding(rep, L_FAIL, "seccomp", "run the program outside seccomp strict mode",
			"seccomp strict mode: mlockall is not allowed");
		break;
	case 2:
		finding(rep, L_OK, "seccomp", NULL,
			"a seccomp filter is active; it let mlockall through in the probe");
		break;
	default:
		finding(rep, L_INFO, "seccomp", NULL, "seccomp state unknown (no Seccomp: line)");
		break;
	}
}

/* ---- config file ---- */

static void check_config(struct report *rep, const struct target *t, struct dm_settings *s,
			 bool system_wide)
{
	struct dm_decision dec;
	struct dm_self self;
	char esc[PATH_MAX];

	if (t->found)
		dm_self_of_program(&self, t->path);
	dm_decide(&dec, NULL, t->found ? &self : NULL, s);
	dm_escape(esc, sizeof(esc), dec.file.path, PATH_MAX / 4);
	if (dec.load_r == -ENOENT) {
		finding(rep, L_INFO, "config", NULL,
			"%s does not exist: the built-in defaults apply", esc);
	} else if (dec.load_r < 0 || dec.parse_r < 0) {
		const char *remedy = dec.load_r < 0 ?
					     "chown root:root FILE; chmod 644 FILE; keep "
					     "it a regular file under 64 KiB" :
					     "fix the file; duende-mlock check-config shows "
					     "the settings";

		for (unsigned i = 0; i < dec.file_diags; i++)
			finding(rep, L_FAIL, "config", i + 1 == dec.file_diags ? remedy : NULL,
				"%s", dec.diag.msg[i]);
		if (dec.file_diags == 0)
			finding(rep, L_FAIL, "config", remedy, "%s: %s", esc,
				strerror(dec.load_r < 0 ? -dec.load_r : -dec.parse_r));
	} else {
		/* The load's own fstat() of the file it read: no second look at the path. */
		finding(rep, L_OK, "config", NULL,
			"%s is trusted (owner uid %u, mode %04o) and valid", esc,
			(unsigned)dec.file.owner, (unsigned)(dec.file.mode & 07777));
		/* A good file can still have lines the library leaves out (profile at the top). */
		for (unsigned i = 0; i < dec.file_diags; i++)
			finding(rep, L_WARN, "config", "move the key into the program's section",
				"%s", dec.diag.msg[i]);
	}
	for (unsigned i = dec.file_diags; i < dec.diag.n; i++)
		finding(rep, L_WARN, "config", "fix or unset the variable", "%s", dec.diag.msg[i]);

	if (!t->found || !s->n_programs) {
		if (system_wide && !s->n_programs)
			finding(rep, L_WARN, "config",
				"list the daemons: programs = {\"name\", \"/abs/path\"}",
				"the library is in " LD_SO_PRELOAD " but programs is empty: "
				"system-wide, only listed programs are locked");
		return;
	}
	if (dm_programs_match(s, &self))
		finding(rep, L_OK, "config", NULL, "%s is in the programs list", t->esc);
	else
		finding(rep, L_FAIL, "config",
			"add its name or absolute path to programs in the config file",
			"%s is not in the programs list: the shim leaves it alone", t->esc);
}

/* ---- /etc/ld.so.preload, read only ---- */

static bool check_ld_so_preload(struct report *rep)
{
	char buf[4096], *save = NULL, *tok;
	bool ours = false;
	ssize_t n;
	int fd;

	fd = open(LD_SO_PRELOAD, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			finding(rep, L_INFO, "system-wide", NULL,
				LD_SO_PRELOAD " does not exist: only programs started with "
					      "LD_PRELOAD (or duende-mlock run) are locked");
		else
			finding(rep, L_WARN, "system-wide", NULL, LD_SO_PRELOAD ": %s",
				strerror(errno));
		return false;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	/* ld.so splits the file at blanks and newlines; '#' starts a comment (elf/rtld.c). */
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *cut = strchr(line, '#'), *s2 = NULL;

		if (cut)
			*cut = '\0';
		for (tok = strtok_r(line, " \t", &s2); tok; tok = strtok_r(NULL, " \t", &s2)) {
			char esc[PATH_MAX], why[512];

			if (!dm_names_preload(tok))
				continue;
			ours = true;
			dm_escape(esc, sizeof(esc), tok, PATH_MAX / 4);
			/*
			 * $LIB (the loader's own library directory, per program: how one entry
			 * serves 64- and 32-bit programs) is the loader's to expand: ask it.
			 */
			if ((strchr(tok, '$') || access(tok, R_OK) == 0) &&
			    tool_library_loads(tok, why, sizeof(why)) == -ENOEXEC)
				finding(rep, L_FAIL, "system-wide",
					"correct the path in " LD_SO_PRELOAD
					" or remove the line (every program prints an error now)",
					LD_SO_PRELOAD " names %s, which does not load: %s", esc,
					why);
			else if (strchr(tok, '$') || access(tok, R_OK) == 0)
				finding(rep, L_OK, "system-wide", NULL,
					LD_SO_PRELOAD " loads %s into every dynamic program", esc);
			else
				finding(rep, L_FAIL, "system-wide",
					"correct the path in " LD_SO_PRELOAD
					" or remove the line (every program prints an error now)",
					LD_SO_PRELOAD " names %s, which cannot be read: %s", esc,
					strerror(errno));
		}
	}
	if (!ours)
		finding(rep, L_INFO, "system-wide", NULL,
			LD_SO_PRELOAD " does not list the library: only programs started with "
				      "LD_PRELOAD (or duende-mlock run) are locked");
	return ours;
}

/* ---- swap ---- */

static void check_swap(struct report *rep)
{
	char line[512];
	unsigned areas = 0;
	FILE *f = fopen("/proc/swaps", "re");

	if (!f)
		return;
	/* The first line is the header. */
	while (fgets(line, sizeof(line), f))
		areas++;
	fclose(f);
	if (areas > 1)
		finding(rep, L_OK, "swap", NULL,
			"%u swap area%s active: locking keeps the program "
			"out of it",
			areas - 1, areas > 2 ? "s" : "");
	else
		finding(rep, L_INFO, "swap", NULL,
			"no swap is active: locking still keeps code and mapped files from being "
			"dropped under memory pressure");
}

int tool_cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct report rep = { 0 };
	struct target t = { 0 };
	struct dm_settings s;
	struct probe p;
	bool system_wide;
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(doctor_usage, stdout);
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error("doctor", "doctor: bad option");
		}
	}
	if (argc - optind > 1)
		return tool_usage_error("doctor", "doctor: at most one PROGRAM");
	t.arg = optind < argc ? argv[optind] : NULL;

	check_program(&rep, &t);
	check_library(&rep);
	system_wide = check_ld_so_preload(&rep);
	check_config(&rep, &t, &s, system_wide);
	check_limits(&rep, &t, &s);
	probe_mlockall(&p);
	check_kernel(&rep, &s, &p);
	check_seccomp(&rep, &p);
	check_swap(&rep);
	tool_doctor_checks(t.found ? t.real : NULL, t.running_pid, &s, &rep.warns, &rep.fails);

	if (rep.fails)
		printf("\nverdict: locking would FAIL (%u problem%s above)%s\n", rep.fails,
		       rep.fails > 1 ? "s" : "",
		       s.required ? "; with required = true the program would exit with status 71" :
				    "");
	else if (rep.warns)
		printf("\nverdict: locking would work, with %u warning%s\n", rep.warns,
		       rep.warns > 1 ? "s" : "");
	else
		printf("\nverdict: locking would work\n");
	fflush(stdout);
	return rep.fails ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}
