/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Settings: defaults, the environment, and the program allow-list. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "core.h"

const char *const dm_key_names[DM_KEY_COUNT] = {
	[DM_KEY_CURRENT] = "current",	  [DM_KEY_FUTURE] = "future",
	[DM_KEY_ONFAULT] = "onfault",	  [DM_KEY_REQUIRED] = "required",
	[DM_KEY_PROPAGATE] = "propagate", [DM_KEY_PROGRAMS] = "programs",
	[DM_KEY_LOG] = "log",
};

const char *const dm_env_names[DM_KEY_COUNT] = {
	[DM_KEY_CURRENT] = "DUENDE_MLOCK_CURRENT",
	[DM_KEY_FUTURE] = "DUENDE_MLOCK_FUTURE",
	[DM_KEY_ONFAULT] = "DUENDE_MLOCK_ONFAULT",
	[DM_KEY_REQUIRED] = "DUENDE_MLOCK_REQUIRED",
	[DM_KEY_PROPAGATE] = "DUENDE_MLOCK_PROPAGATE",
	[DM_KEY_PROGRAMS] = "DUENDE_MLOCK_PROGRAMS",
	[DM_KEY_LOG] = "DUENDE_MLOCK_LOG",
};

void dm_diag_vadd(struct dm_diag *d, const char *fmt, va_list ap)
{
	if (!d)
		return;
	if (d->n >= DM_DIAG_MAX) {
		d->dropped++;
		return;
	}
	vsnprintf(d->msg[d->n++], DM_DIAG_LEN, fmt, ap);
}

void dm_diag_add(struct dm_diag *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dm_diag_vadd(d, fmt, ap);
	va_end(ap);
}

void dm_settings_default(struct dm_settings *s)
{
	*s = (struct dm_settings){
		.current = true,
		.future = true,
		.onfault = false,
		.required = false,
		.propagate = true,
		.log = DM_LOG_DEFAULT,
	};
}

int dm_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int dm_parse_log(const char *text, enum dm_log_target *out)
{
	if (strcmp(text, "stderr") == 0)
		*out = DM_LOG_STDERR;
	else if (strcmp(text, "syslog") == 0)
		*out = DM_LOG_SYSLOG;
	else if (strcmp(text, "none") == 0)
		*out = DM_LOG_NONE;
	else
		return -EINVAL;
	return 0;
}

const char *dm_log_name(enum dm_log_target t)
{
	switch (t) {
	case DM_LOG_STDERR:
		return "stderr";
	case DM_LOG_SYSLOG:
		return "syslog";
	case DM_LOG_NONE:
		return "none";
	case DM_LOG_DEFAULT:
		break;
	}
	return "default";
}

void dm_programs_clear(struct dm_settings *s)
{
	s->n_programs = 0;
	s->programs_used = 0;
	s->programs[0] = '\0';
}

/*
 * An entry is a program name (matched against the executable's base name) or an absolute path
 * (matched against the executable's path). Anything else could never match, so it is an error
 * rather than a silent no-op.
 */
int dm_programs_add(struct dm_settings *s, const char *entry, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)entry[i];
		if (c < 0x20 || c == 0x7f)
			return -EINVAL;
	}
	if (memchr(entry, '/', len) && entry[0] != '/')
		return -EINVAL;
	if (entry[len - 1] == '/')
		return -EINVAL;
	if (s->n_programs >= DM_PROGRAMS_MAX || s->programs_used + len + 2 > sizeof(s->programs))
		return -E2BIG;
	memcpy(s->programs + s->programs_used, entry, len);
	s->programs_used += len;
	s->programs[s->programs_used++] = '\0';
	s->programs[s->programs_used] = '\0';
	s->n_programs++;
	return 0;
}

const char *dm_programs_next(const struct dm_settings *s, const char *prev)
{
	const char *p = prev ? prev + strlen(prev) + 1 : s->programs;

	if (p >= s->programs + s->programs_used)
		return NULL;
	return p;
}

static const char *entry_problem(int r)
{
	switch (r) {
	case -ENAMETOOLONG:
		return "entry too long";
	case -E2BIG:
		return "too many entries (at most 64, 4 KiB in all)";
	default:
		return "not a program name or an absolute path";
	}
}

/* A comma-separated list, as in DUENDE_MLOCK_PROGRAMS. Spaces around entries are trimmed. */
int dm_programs_parse_list(struct dm_settings *s, const char *csv, struct dm_diag *d)
{
	const char *p = csv;

	dm_programs_clear(s);
	for (;;) {
		const char *end = strchrnul(p, ',');
		const char *a = p, *b = end;
		int r;

		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (a < b) {
			r = dm_programs_add(s, a, (size_t)(b - a));
			if (r < 0) {
				char esc[160];

				dm_escape(esc, sizeof(esc), a, (size_t)(b - a));
				dm_diag_add(d, "%s: entry '%s': %s", dm_env_names[DM_KEY_PROGRAMS],
					    esc, entry_problem(r));
				dm_programs_clear(s);
				return r;
			}
		}
		if (*end == '\0')
			break;
		p = end + 1;
	}
	return 0;
}

void dm_self_init(struct dm_self *self)
{
	/*
	 * AT_EXECFN is the path the caller passed to execve(): a symlink of any name can point at a
	 * setuid program. In secure-execution mode only the executable the kernel opened counts.
	 */
	self->execfn = getauxval(AT_SECURE) ? NULL : (const char *)getauxval(AT_EXECFN);
	self->exe_tried = false;
	self->exe[0] = '\0';
}

const char *dm_self_exe(struct dm_self *self)
{
	if (!self->exe_tried) {
		ssize_t n = readlink("/proc/self/exe", self->exe, sizeof(self->exe) - 1);

		self->exe[n > 0 ? n : 0] = '\0';
		self->exe_tried = true;
	}
	return self->exe;
}

const char *dm_base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* The name used in log lines: the executable's base name, or AT_EXECFN's. */
const char *dm_self_name(struct dm_self *self)
{
	const char *exe = dm_self_exe(self);

	if (exe[0])
		return dm_base_name(exe);
	return self->execfn ? dm_base_name(self->execfn) : "?";
}

static bool entry_matches(const char *entry, const char *path)
{
	if (!path || !path[0])
		return false;
	if (entry[0] == '/')
		return strcmp(entry, path) == 0;
	return strcmp(entry, dm_base_name(path)) == 0;
}

/*
 * A process matches when an entry names its executable (/proc/self/exe) or the path it was
 * started as (AT_EXECFN, which differs for programs run through a symlink). AT_EXECFN is tried
 * first because it costs nothing; /proc/self/exe only when that did not match.
 */
bool dm_programs_match(const struct dm_settings *s, struct dm_self *self)
{
	const char *e;

	for (e = dm_programs_next(s, NULL); e; e = dm_programs_next(s, e))
		if (entry_matches(e, self->execfn))
			return true;
	for (e = dm_programs_next(s, NULL); e; e = dm_programs_next(s, e))
		if (entry_matches(e, dm_self_exe(self)))
			return true;
	return false;
}

static void env_bool(struct dm_settings *s, enum dm_key key, bool *field, struct dm_diag *d)
{
	const char *v = secure_getenv(dm_env_names[key]);
	char esc[160];

	if (!v)
		return;
	if (dm_parse_bool(v, field) == 0) {
		s->origin[key] = DM_FROM_ENV;
		return;
	}
	dm_escape(esc, sizeof(esc), v, 64);
	dm_diag_add(d, "%s='%s': not a boolean (use 1/0, true/false, yes/no, on/off), ignoring",
		    dm_env_names[key], esc);
}

void dm_settings_from_env(struct dm_settings *s, struct dm_diag *d)
{
	const char *v;
	char esc[160];

	env_bool(s, DM_KEY_CURRENT, &s->current, d);
	env_bool(s, DM_KEY_FUTURE, &s->future, d);
	env_bool(s, DM_KEY_ONFAULT, &s->onfault, d);
	env_bool(s, DM_KEY_REQUIRED, &s->required, d);
	env_bool(s, DM_KEY_PROPAGATE, &s->propagate, d);

	v = secure_getenv(dm_env_names[DM_KEY_LOG]);
	if (v) {
		if (dm_parse_log(v, &s->log) == 0) {
			s->origin[DM_KEY_LOG] = DM_FROM_ENV;
		} else {
			dm_escape(esc, sizeof(esc), v, 64);
			dm_diag_add(d, "%s='%s': not a log target (use stderr, syslog or none), ignoring",
				    dm_env_names[DM_KEY_LOG], esc);
		}
	}

	v = secure_getenv(dm_env_names[DM_KEY_PROGRAMS]);
	if (v) {
		struct dm_settings tmp;

		/* Parse into a scratch copy so a bad list leaves the file's list in force. */
		if (dm_programs_parse_list(&tmp, v, d) == 0) {
			memcpy(s->programs, tmp.programs, tmp.programs_used + 1);
			s->programs_used = tmp.programs_used;
			s->n_programs = tmp.n_programs;
			s->origin[DM_KEY_PROGRAMS] = DM_FROM_ENV;
		}
	}
}
