/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The constructor: decide whether this process is to be locked, lock it, say how it went.
 *
 * It runs in every process that loads the library, before that program's main(). Through
 * /etc/ld.so.preload that is every process of the machine, so the path for a process that is not
 * locked must cost next to nothing: no libconfuse, no allocation when there is no config file,
 * a handful of syscalls, and not a word logged.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "core.h"

/*
 * The one symbol this object exports (preload.sym): dlsym(RTLD_DEFAULT) finds it in the copy the
 * loader put first when two are loaded. Our own address comes from a local object instead: a
 * reference to an exported symbol binds to the first copy's, whichever copy makes it.
 */
__attribute__((visibility("default"))) const char __duende_mlock_preload = 0;
static const char self_marker = 0;

/*
 * ---- The skip path ----
 *
 * Through /etc/ld.so.preload this runs in every process of the machine, and almost all of them
 * are not locked, so it decides that case alone and at the cost of loading an empty library,
 * within a page fault or two (scripts/bench --counts). Anything it is not sure of goes to start()
 * below, which decides everything as before: the skip path only ever answers "not locked and
 * nothing to say" where start() would answer the same, or "ask start()".
 *
 * What a first touch costs decides how it is written: every page fault costs more than all of its
 * syscalls (bench/NOTES.md). So: raw syscalls, not libc's wrappers, whose code pages a tiny
 * program never touches; byte loops, not strlen/memcmp; its strings in .data, on the page the
 * loader already wrote when it cleared .bss, not in .rodata (a page of its own); buffers on the
 * stack that ld.so already touched, below the constructor's frame (about 8 KiB here). getauxval()
 * never fails for AT_SECURE and AT_EXECFN (the kernel always sets them), and raw syscalls do not
 * set errno: the host's errno is untouched.
 */
#if defined(__x86_64__)
static inline long raw4(long n, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "0"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return r;
}
#elif defined(__aarch64__)
static inline long raw4(long n, long a, long b, long c, long d)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;

	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory", "cc");
	return x0;
}
#else
/* Elsewhere libc's syscall(), with errno kept as it was. */
static long raw4(long n, long a, long b, long c, long d)
{
	int saved = errno;
	long r = syscall(n, a, b, c, d);

	if (r < 0)
		r = -errno;
	errno = saved;
	return r;
}
#endif

/*
 * getauxval() is the one libc function the skip path calls. The object binds lazily
 * (preload/meson.build), and a lazy binding's resolver puts its register save area and the
 * symbol lookup below the constructor's stack, one more page fault in many processes
 * (scripts/bench): called through its GOT slot, it is bound at load instead.
 */
#if defined(__GNUC__) && !defined(__clang__)
extern __typeof__(getauxval) getauxval __attribute__((noplt));
#endif

/* The same syscalls glibc's open(), fstat(), read(), readlink() and close() make. */
static int raw_open(const char *path, int flags)
{
	return (int)raw4(SYS_openat, AT_FDCWD, (long)path, flags, 0);
}

/* "" in .data: a literal would be in .rodata (and .bss may be a page of its own). */
static char skip_empty[1] __attribute__((section(".data")));

static int raw_fstat(int fd, struct stat *st)
{
#ifdef SYS_newfstatat
	return (int)raw4(SYS_newfstatat, fd, (long)skip_empty, (long)st, AT_EMPTY_PATH);
#else
	return (int)raw4(SYS_fstatat64, fd, (long)skip_empty, (long)st, AT_EMPTY_PATH);
#endif
}

static ssize_t raw_read(int fd, char *buf, size_t len)
{
	return raw4(SYS_read, fd, (long)buf, (long)len, 0);
}

static void raw_close(int fd)
{
	raw4(SYS_close, fd, 0, 0, 0);
}

static ssize_t raw_readlink(const char *path, char *buf, size_t len)
{
#ifdef SYS_readlink
	return raw4(SYS_readlink, (long)path, (long)buf, (long)len, 0);
#else
	return raw4(SYS_readlinkat, AT_FDCWD, (long)path, (long)buf, (long)len);
#endif
}

/* Not const: in .data (see above). */
static struct {
	char programs[sizeof("DUENDE_MLOCK_PROGRAMS=")];
	char config[sizeof("DUENDE_MLOCK_CONFIG=")];
	char ld_preload[sizeof("LD_PRELOAD=")];
	char self_exe[sizeof("/proc/self/exe")];
	char config_path[sizeof(DM_CONFIG_PATH)];
	char server_before[sizeof(DM_SERVER_BEFORE_ENV "=")];
} skip_strings = {
	"DUENDE_MLOCK_PROGRAMS=", "DUENDE_MLOCK_CONFIG=", "LD_PRELOAD=",
	"/proc/self/exe",	  DM_CONFIG_PATH,	  DM_SERVER_BEFORE_ENV "=",
};

/*
 * Larger files and longer executable paths go to start(): correct, only slower. Both buffers are
 * on the stack, within what ld.so already touched below the constructor's frame (about 8 KiB
 * here; a larger frame costs a page fault in a third of the processes, stack-clash probes
 * included). In .bss a buffer would cost an anonymous mapping (a syscall) and its own page.
 */
#define SKIP_TEXT_MAX 4096
#define SKIP_EXE_MAX 1024

/* What the skip path knows of /proc/self/exe. */
enum skip_exe_state {
	EXE_UNKNOWN,
	EXE_IS_EXECFN, /* the file AT_EXECFN names: the same base name */
	EXE_READ,      /* read into exe[] ("" when unreadable, as dm_self_exe() has it) */
	EXE_TOO_LONG,
};

struct skip_self {
	const char *execfn; /* NULL in secure-execution mode, as dm_self_init() has it */
	enum skip_exe_state exe_state;
	size_t exe_len;
	char exe[SKIP_EXE_MAX] __attribute__((aligned(8))); /* also skip_execfn_runs()'s buffer */
};

/* The value of "NAME=" in environ (getenv's first match), or NULL. */
static const char *skip_getenv(const char *name_eq)
{
	for (char **e = environ; e && *e; e++) {
		const char *v = *e;
		size_t i = 0;

		while (name_eq[i] && v[i] == name_eq[i])
			i++;
		if (!name_eq[i])
			return v + i;
	}
	return NULL;
}

static const char *skip_base(const char *path, size_t len, size_t *blen)
{
	size_t b = 0;

	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			b = i + 1;
	*blen = len - b;
	return path + b;
}

/*
 * A string's length and base name in one pass: a loop that only counts becomes a strlen() call
 * (GCC's loop distribution), which is what the skip path avoids.
 */
static const char *skip_base_z(const char *path, size_t *len, size_t *blen)
{
	size_t i = 0, b = 0;

	for (; path[i]; i++)
		if (path[i] == '/')
			b = i + 1;
	*len = i;
	*blen = i - b;
	return path + b;
}

/*
 * Is the file AT_EXECFN names, its last component no symlink, the program that runs? Then
 * /proc/self/exe is that file under the same base name (the kernel's name for the file execve()
 * opened: a symlink in a directory part does not change the last one), and the skip path need not
 * read it: the first look into /proc/<pid> costs a process some 25 us (the kernel makes its /proc
 * entries on demand, and drops them at exit), more than all the rest of the skip path together
 * (scripts/bench). The test: open without following a last symlink, and compare the file's ELF
 * and program headers with the running program's (AT_PHDR, AT_PHNUM, AT_ENTRY). A symlink
 * (ELOOP), a script or a binfmt_misc program (the interpreter runs, with other headers), fexecve
 * (/dev/fd/N is a symlink), ld.so run as a command (AT_BASE is 0: then /proc/self/exe is ld.so)
 * and an unreadable file all fail it, and /proc/self/exe is read as before.
 */
static bool skip_execfn_runs(struct skip_self *self)
{
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	unsigned long phnum = getauxval(AT_PHNUM);
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)(void *)self->exe;
	const char *fph;
	uintptr_t base = 0;
	bool have_base = false;
	ssize_t n;
	int fd;

	if (!self->execfn || !ph || getauxval(AT_BASE) == 0 ||
	    getauxval(AT_PHENT) != sizeof(ElfW(Phdr)))
		return false;
	fd = raw_open(self->execfn, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return false;
	n = raw_read(fd, self->exe, sizeof(self->exe));
	raw_close(fd);
	if (n < (ssize_t)sizeof(*eh) || eh->e_ident[EI_MAG0] != ELFMAG0 ||
	    eh->e_ident[EI_MAG1] != ELFMAG1 || eh->e_ident[EI_MAG2] != ELFMAG2 ||
	    eh->e_ident[EI_MAG3] != ELFMAG3 || eh->e_phentsize != sizeof(ElfW(Phdr)) ||
	    eh->e_phnum != phnum || eh->e_phoff > (size_t)n ||
	    ((size_t)n - eh->e_phoff) / sizeof(ElfW(Phdr)) < phnum)
		return false;
	for (unsigned long i = 0; i < phnum; i++) {
		if (ph[i].p_type == PT_PHDR) {
			base = (uintptr_t)ph - ph[i].p_vaddr;
			have_base = true;
		}
	}
	if (!have_base || base + eh->e_entry != getauxval(AT_ENTRY))
		return false;
	/* Word by word: program headers are 8-byte aligned in memory, and e_phoff is in practice. */
	fph = self->exe + eh->e_phoff;
	if (eh->e_phoff % sizeof(unsigned long) != 0)
		return false;
	for (size_t i = 0; i < phnum * sizeof(ElfW(Phdr)) / sizeof(unsigned long); i++)
		if (((const unsigned long *)(const void *)fph)[i] !=
		    ((const unsigned long *)(const void *)ph)[i])
			return false;
	return true;
}

/* What /proc/self/exe is, found once. */
static enum skip_exe_state skip_exe(struct skip_self *self)
{
	ssize_t n;

	if (self->exe_state != EXE_UNKNOWN)
		return self->exe_state;
	if (skip_execfn_runs(self))
		return self->exe_state = EXE_IS_EXECFN;
	n = raw_readlink(skip_strings.self_exe, self->exe, sizeof(self->exe));
	if (n >= (ssize_t)sizeof(self->exe))
		return self->exe_state = EXE_TOO_LONG;
	self->exe_len = n < 0 ? 0 : (size_t)n;
	return self->exe_state = EXE_READ;
}

/*
 * A path (plen bytes) and its base name (blen bytes). path_unknown: only the base name is known
 * (EXE_IS_EXECFN), so an absolute entry with that base name may match.
 */
struct skip_name {
	const char *path, *base;
	size_t plen, blen;
	bool path_unknown;
};

/* entry_matches() of settings.c, on a length-delimited entry; true also for "may match". */
static bool skip_entry_matches(const char *e, size_t elen, const struct skip_name *n)
{
	const char *s = e[0] == '/' ? n->path : n->base;
	size_t slen = e[0] == '/' ? n->plen : n->blen;

	if (n->plen == 0)
		return false;
	if (e[0] == '/' && n->path_unknown) {
		e = skip_base(e, elen, &elen);
		s = n->base;
		slen = n->blen;
	}
	if (slen != elen)
		return false;
	for (size_t i = 0; i < elen; i++)
		if (e[i] != s[i])
			return false;
	return true;
}

enum skip_verdict { SKIP, ASK_START };

static bool ld_preload_names_us(const char *lp);

/*
 * DUENDE_MLOCK_PROGRAMS, parsed as dm_programs_parse_list() does (entries split at ',', blanks
 * trimmed, the same validity rules and limits). An invalid list, a match, or an empty list in a
 * process that may have named us in LD_PRELOAD: start() decides.
 */
static enum skip_verdict skip_env_list(const char *list, const char *lp, struct skip_self *self)
{
	struct skip_name execfn = { skip_empty, skip_empty, 0, 0, false }, exe;
	size_t used = 0;
	unsigned n = 0;

	if (self->execfn) {
		execfn.path = self->execfn;
		execfn.base = skip_base_z(self->execfn, &execfn.plen, &execfn.blen);
	}

	for (int pass = 0; pass < 2; pass++) {
		const char *p = list;

		if (pass == 1) {
			enum skip_exe_state st = skip_exe(self);

			if (st == EXE_TOO_LONG)
				return ASK_START;
			if (st == EXE_IS_EXECFN) {
				exe = execfn;
				exe.path_unknown = true;
			} else {
				exe.path = self->exe;
				exe.plen = self->exe_len;
				exe.base = skip_base(exe.path, exe.plen, &exe.blen);
				exe.path_unknown = false;
			}
		}
		for (;;) {
			const char *a = p, *b = p;

			while (*b && *b != ',')
				b++;
			p = b;
			while (a < b && (*a == ' ' || *a == '\t'))
				a++;
			while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
			if (a < b) {
				size_t len = (size_t)(b - a);
				bool slash = false;

				if (pass == 0) {
					/* dm_programs_add()'s rules. */
					if (len >= PATH_MAX || a[len - 1] == '/' ||
					    n >= DM_PROGRAMS_MAX ||
					    used + len + 2 > DM_PROGRAMS_BYTES)
						return ASK_START;
					for (size_t i = 0; i < len; i++) {
						unsigned char c = (unsigned char)a[i];

						if (c < 0x20 || c == 0x7f)
							return ASK_START;
						slash |= c == '/';
					}
					if (slash && a[0] != '/')
						return ASK_START;
					n++;
					used += len + 1;
					if (skip_entry_matches(a, len, &execfn))
						return ASK_START;
				} else if (skip_entry_matches(a, len, &exe)) {
					return ASK_START;
				}
			}
			if (!*p)
				break;
			p++;
		}
		if (n == 0)
			return lp && ld_preload_names_us(lp) ? ASK_START : SKIP;
	}
	return SKIP;
}

/*
 * System-wide, no list in the environment: the config file, loaded as dm_conffile_load() does
 * (same open flags, a regular file, the same size rule, a read that checks it did not grow) and
 * tested with the same word test as dm_conffile_cannot_name(). Trust is not checked: start()
 * skips an untrusted file that cannot name us without a word too. No file: nothing to do.
 */
static enum skip_verdict skip_config(struct skip_self *self)
{
	char text[SKIP_TEXT_MAX];
	struct stat st;
	size_t len = 0, blen, plen;
	const char *b;
	int fd;

	fd = raw_open(skip_strings.config_path,
		      O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd == -ENOENT)
		return SKIP;
	if (fd < 0)
		return ASK_START;
	if (raw_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    st.st_size + 2 > (off_t)sizeof(text))
		goto ask;
	/* read_all() of conffile.c: one byte past the size, to see a file that grew. */
	while (len < (size_t)st.st_size + 1) {
		ssize_t n = raw_read(fd, text + len, (size_t)st.st_size + 1 - len);

		if (n == -EINTR)
			continue;
		if (n < 0)
			goto ask;
		if (n == 0)
			break;
		len += (size_t)n;
		if ((size_t)n < (size_t)st.st_size + 1 - (len - (size_t)n))
			break;
	}
	if (len > (size_t)st.st_size)
		goto ask;
	raw_close(fd);
	text[len] = '\0';

	if (self->execfn) {
		b = skip_base_z(self->execfn, &plen, &blen);
		if (dm_conffile_names_word(text, len, b, blen))
			return ASK_START;
	}
	switch (skip_exe(self)) {
	case EXE_IS_EXECFN: /* the same base name, tested above */
		return SKIP;
	case EXE_READ:
		b = skip_base(self->exe, self->exe_len, &blen);
		if (self->exe_len > 0 && dm_conffile_names_word(text, len, b, blen))
			return ASK_START;
		return SKIP;
	default:
		return ASK_START;
	}
ask:
	raw_close(fd);
	return ASK_START;
}

/*
 * The environment as start() reads it with secure_getenv(): nothing of it in secure-execution
 * mode. An LD_PRELOAD that names us (preload mode) or a DUENDE_MLOCK_CONFIG: start() decides. An
 * LD_PRELOAD of other libraries (fakeroot, eatmydata, valgrind's) costs the test of its entries
 * (and our own file name, through dladdr(), when an entry's name is not ours).
 */
static __attribute__((noinline)) enum skip_verdict skip_path(void)
{
	struct skip_self self;
	const char *list = NULL, *lp = NULL, *conf = NULL;
	bool secure = getauxval(AT_SECURE) != 0;

	self.execfn = secure ? NULL : (const char *)getauxval(AT_EXECFN);
	self.exe_state = EXE_UNKNOWN;
	self.exe_len = 0;
	if (!secure) {
		list = skip_getenv(skip_strings.programs);
		lp = skip_getenv(skip_strings.ld_preload);
		conf = skip_getenv(skip_strings.config);
	}
	/* Exec'd by a swap server: start() gives back what the profile gave the server. */
	if (!secure && skip_getenv(skip_strings.server_before))
		return ASK_START;
	if (list)
		return skip_env_list(list, lp, &self);
	if ((conf && conf[0]) || (lp && ld_preload_names_us(lp)))
		return ASK_START;
	return skip_config(&self);
}

/* Our own file name, as the loader recorded it. */
static const char *self_library(void)
{
	Dl_info info;

	if (!dladdr(&self_marker, &info) || !info.dli_fname)
		return NULL;
	return info.dli_fname;
}

static const char *base_of(const char *path, size_t len, size_t *blen)
{
	const char *b = path;

	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			b = path + i + 1;
	*blen = len - (size_t)(b - path);
	return b;
}

/*
 * The length of the LD_PRELOAD entry at p: ld.so splits the list at ':' and ' ' (elf/rtld.c). A
 * loop rather than strcspn(): in a process that is not locked, the first touch of strcspn's code
 * and table pages in libc costs two page faults (scripts/bench).
 */
static size_t entry_length(const char *p)
{
	size_t n = 0;

	while (p[n] && p[n] != ':' && p[n] != ' ')
		n++;
	return n;
}

/*
 * Is this LD_PRELOAD entry this library? An entry is ours when its base name starts with
 * DM_PRELOAD_STEM, or is our file's base name (a copy under another name). *lib is our file
 * name, looked up on first need: dladdr() binds
 * _dl_find_dso_for_object lazily, and the resolver's register save area is one more page of stack
 * in every process, so the common case (the stem matches) goes without it.
 */
static bool entry_is_us(const char *e, size_t len, const char **lib)
{
	static const char stem[] = DM_PRELOAD_STEM;
	size_t blen, llen;
	const char *b = base_of(e, len, &blen), *l;

	if (blen >= sizeof(stem) - 1 && memcmp(b, stem, sizeof(stem) - 1) == 0)
		return true;
	if (!*lib)
		*lib = self_library();
	if (!*lib)
		return false;
	l = base_of(*lib, strlen(*lib), &llen);
	return blen == llen && memcmp(b, l, blen) == 0;
}

/*
 * Preload mode: the process named this library in its own LD_PRELOAD. In secure-execution mode
 * ld.so drops LD_PRELOAD entries with a '/', and secure_getenv() returns NULL, so a setuid program
 * is always in system-wide mode.
 */
static bool ld_preload_names_us(const char *lp)
{
	const char *lib = NULL;

	for (const char *p = lp; *p;) {
		size_t len = entry_length(p);

		if (len && entry_is_us(p, len, &lib))
			return true;
		p += len;
		p += *p != '\0';
	}
	return false;
}

static bool named_in_ld_preload(void)
{
	const char *lp = secure_getenv("LD_PRELOAD");

	return lp && ld_preload_names_us(lp);
}

/*
 * Two copies of the library from different files (one in LD_PRELOAD, one in /etc/ld.so.preload)
 * would both lock and both log. The copy whose marker the loader binds first acts; the others
 * step aside.
 */
static bool another_copy_acts(void)
{
	void *first = dlsym(RTLD_DEFAULT, "__duende_mlock_preload");
	Dl_info a, b;

	if (!first || !dladdr(first, &a) || !dladdr(&self_marker, &b))
		return false;
	return a.dli_fbase != b.dli_fbase;
}

/* propagate = false: programs this one execs do not get the library through LD_PRELOAD. */
static void drop_from_ld_preload(void)
{
	const char *lp = secure_getenv("LD_PRELOAD"), *lib = NULL;
	char *out;
	size_t o = 0;

	if (!lp)
		return;
	out = malloc(strlen(lp) + 1);
	if (!out)
		return;
	for (const char *p = lp; *p;) {
		size_t len = entry_length(p);

		if (len && !entry_is_us(p, len, &lib)) {
			if (o)
				out[o++] = ':';
			memcpy(out + o, p, len);
			o += len;
		}
		p += len;
		p += *p != '\0';
	}
	out[o] = '\0';
	if (o)
		setenv("LD_PRELOAD", out, 1);
	else
		unsetenv("LD_PRELOAD");
	free(out);
}

static void log_diags(enum dm_log_target t, const struct dm_diag *d)
{
	for (unsigned i = 0; i < d->n; i++)
		dm_log(t, LOG_WARNING, "%s", d->msg[i]);
	if (d->dropped)
		dm_log(t, LOG_WARNING, "%u more problems not shown", d->dropped);
}

static void lock_and_report(const struct dm_settings *s, enum dm_log_target target,
			    struct dm_self *self)
{
	struct dm_lock_result res;
	char line[DM_LOG_MAX - 32];
	const char *name = dm_self_name(self), *failed = NULL;
	int r;

	dm_guard_note(target, name, s->profile == DM_PROFILE_SWAP_SERVER);
	r = dm_lock(&(struct dm_lock_request){ .current = s->current,
					       .future = s->future,
					       .onfault = s->onfault },
		    &res);
	/* The setuid wrappers (guard.c) handle a later drop of the capability. */
	res.future_needs_cap = false;
	dm_status_format(line, sizeof(line), name, dm_self_exe_name(self), getpid(), &res);
	dm_log(target, r < 0 ? LOG_ERR : LOG_INFO, "%s", line);
	if (s->profile == DM_PROFILE_SWAP_SERVER) {
		struct dm_swap_server_params p;
		struct dm_swap_server_result ss;

		dm_swap_server_params(s, &p);
		dm_swap_server_helper_prepare();
		dm_swap_server_apply(&p, r == 0, &ss);
		dm_swap_server_format(line, sizeof(line), &ss);
		failed = dm_swap_server_failed(&ss);
		dm_log(target, failed ? LOG_WARNING : LOG_INFO, "swap-server profile: %s", line);
	}
	/* Under required, a profile step not taken is as fatal as the lock: the server is not safe. */
	if ((r < 0 || failed) && s->required) {
		char esc[96];

		dm_escape(esc, sizeof(esc), name, 64);
		dm_log(target, LOG_ERR,
		       "required = true: stopping %s[%d] before main() with exit status %d%s%s%s",
		       esc, (int)getpid(), DM_EXIT_REQUIRED, r < 0 || !failed ? "" : " (",
		       r < 0 || !failed ? "" : failed, r < 0 || !failed ? "" : " not done)");
		_exit(DM_EXIT_REQUIRED);
	}
}

/*
 * Steps 2 and 3: the config file, then the full settings. Out of line, so that the file buffer
 * and the diagnostics (7 KiB) are on the stack only of processes that get this far: every page
 * of stack the constructor reaches below what ld.so already touched is one more page fault in
 * every process the library loads into (scripts/bench counts them).
 */
/* Set in the environment of a locked process for the programs it execs (see below). */
static const char inherited_env[] = "DUENDE_MLOCK_INHERITED";

static __attribute__((noinline)) void decide_with_file(struct dm_settings *s, struct dm_self *self,
						       bool preload, bool from_env)
{
	struct dm_decision dec;
	enum dm_log_target target;
	int r;

	/* 2. The config file. */
	r = dm_decide_load(&dec, NULL);
	if (r == -ENOENT && !preload && !from_env)
		return; /* system-wide, no file, no list: nothing to do */
	/*
	 * System-wide and the file's list cannot name us: the common case. An untrusted file whose
	 * text could not name us either stays unmentioned here, or every process on the machine
	 * would log it; the processes it may concern say it.
	 */
	if ((r == 0 || r == -EPERM) && dec.file.text && !preload && !from_env &&
	    dm_conffile_cannot_name(&dec.file, self)) {
		dm_decide_skip(&dec);
		return;
	}

	/* 3. Full settings: defaults < profile < file < environment. */
	dm_decide_settings(&dec, self, s);

	target = s->log != DM_LOG_DEFAULT ? s->log : preload ? DM_LOG_STDERR : DM_LOG_SYSLOG;
	if (s->n_programs ? !dm_programs_match(s, self) : !preload) {
		/*
		 * Not ours. Problems are still worth a word in system-wide mode when there is no
		 * usable allow-list at all (a broken or untrusted file): otherwise the operator never
		 * learns why the listed daemon runs unlocked.
		 */
		if (!preload && !s->n_programs)
			log_diags(target, &dec.diag);
		return;
	}
	/* A second copy of the library steps aside before it says anything. */
	if (another_copy_acts())
		return;
	log_diags(target, &dec.diag);
	/*
	 * Programs this one execs inherit LD_PRELOAD and are locked too (propagate): a swap server
	 * waits on the helpers it runs, and a helper paged out to the swap it serves stalls it as
	 * surely as its own pages would. But `required` belongs to the program that was named: a
	 * helper that was merely inherited and cannot lock runs unlocked, and never exits 71 because
	 * its parent was locked. Named means matched by the allow-list, or, with none, started with
	 * the library in LD_PRELOAD by someone other than a locked process.
	 */
	if (preload && !s->n_programs && secure_getenv(inherited_env))
		s->required = false;
	if (!s->propagate)
		drop_from_ld_preload();
	else if (preload)
		setenv(inherited_env, "1", 1);
	lock_and_report(s, target, self);
}

static void start(void)
{
	/*
	 * No initializer zeroes the settings here: step 1 needs only the allow-list, which the
	 * parser clears itself, and step 3 sets the defaults.
	 */
	struct dm_settings s;
	struct dm_self self;
	const char *env_list;
	bool preload, from_env = false;

	dm_self_init(&self);
	dm_swap_server_helper_restore();
	preload = named_in_ld_preload();

	/* 1. The allow-list from the environment decides alone when it is set and valid. */
	env_list = secure_getenv(dm_keys[DM_KEY_PROGRAMS].env);
	if (env_list && dm_programs_parse_list(&s, env_list, NULL) == 0) {
		from_env = true;
		if (s.n_programs ? !dm_programs_match(&s, &self) : !preload)
			return;
	}
	decide_with_file(&s, &self, preload, from_env);
}

__attribute__((constructor)) static void duende_mlock_init(void)
{
	static bool done;
	int saved;

	if (done)
		return;
	done = true;
	if (skip_path() == SKIP)
		return;
	saved = errno;
	start();
	errno = saved;
}
