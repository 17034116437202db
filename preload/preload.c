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
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
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
static bool named_in_ld_preload(void)
{
	const char *lp = secure_getenv("LD_PRELOAD"), *lib = NULL;

	if (!lp || !lp[0])
		return false;
	for (const char *p = lp; *p;) {
		size_t len = entry_length(p);

		if (len && entry_is_us(p, len, &lib))
			return true;
		p += len;
		p += *p != '\0';
	}
	return false;
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
	const char *name = dm_self_name(self);
	int r;

	r = dm_lock(&(struct dm_lock_request){ .current = s->current,
					       .future = s->future,
					       .onfault = s->onfault },
		    &res);
	dm_status_format(line, sizeof(line), name, getpid(), &res);
	dm_log(target, r < 0 ? LOG_ERR : LOG_INFO, "%s", line);
	if (r < 0 && s->required) {
		char esc[96];

		dm_escape(esc, sizeof(esc), name, 64);
		dm_log(target, LOG_ERR,
		       "required = true: stopping %s[%d] before main() with exit status %d", esc,
		       (int)getpid(), DM_EXIT_REQUIRED);
		_exit(DM_EXIT_REQUIRED);
	}
}

/*
 * Steps 2 and 3: the config file, then the full settings. Out of line, so that the file buffer
 * and the diagnostics (7 KiB) are on the stack only of processes that get this far: every page
 * of stack the constructor reaches below what ld.so already touched is one more page fault in
 * every process the library loads into (scripts/bench counts them).
 */
static __attribute__((noinline)) void decide_with_file(struct dm_settings *s,
							struct dm_self *self, bool preload,
							bool from_env)
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
	if (!s->propagate)
		drop_from_ld_preload();
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
	int saved = errno;

	if (!done) {
		done = true;
		start();
	}
	errno = saved;
}
