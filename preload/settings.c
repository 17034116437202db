/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Settings: defaults, the environment, and the program allow-list. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "core.h"

#define DM_STR_(x) #x
#define DM_STR(x) DM_STR_(x)

static const char *const log_values[] = {
	[DM_LOG_DEFAULT] = NULL, /* unset: stderr or syslog by mode */
	[DM_LOG_STDERR] = "stderr",
	[DM_LOG_SYSLOG] = "syslog",
	[DM_LOG_NONE] = "none",
};

static const char *const profile_values[] = {
	[DM_PROFILE_NONE] = "none",
	[DM_PROFILE_SWAP_SERVER] = "swap-server",
};

#define BOOL_KEY(key, env_name, field)                                                             \
	{                                                                                          \
		.name = key, .env = env_name, .type = DM_TYPE_BOOL, DM_FIELD(field),               \
		.expect = "a boolean (use 1/0, true/false, yes/no, on/off)"                        \
	}

#define INT_KEY(key, env_name, field, lo, hi, what)                                                \
	{                                                                                          \
		.name = key, .env = env_name, .type = DM_TYPE_INT, DM_FIELD(field), .min = lo,     \
		.max = hi, .expect = what                                                          \
	}

const struct dm_key_info dm_keys[DM_KEY_COUNT] = {
	[DM_KEY_PROFILE] = { .name = "profile",
			     .env = "DUENDE_MLOCK_PROFILE",
			     .type = DM_TYPE_ENUM,
			     DM_FIELD(profile),
			     .expect = "a profile (use none or swap-server)",
			     .values = profile_values,
			     .n_values = sizeof(profile_values) / sizeof(profile_values[0]),
			     .section_only = true },
	[DM_KEY_CURRENT] = BOOL_KEY("current", "DUENDE_MLOCK_CURRENT", current),
	[DM_KEY_FUTURE] = BOOL_KEY("future", "DUENDE_MLOCK_FUTURE", future),
	[DM_KEY_ONFAULT] = BOOL_KEY("onfault", "DUENDE_MLOCK_ONFAULT", onfault),
	[DM_KEY_REQUIRED] = BOOL_KEY("required", "DUENDE_MLOCK_REQUIRED", required),
	[DM_KEY_PROPAGATE] = BOOL_KEY("propagate", "DUENDE_MLOCK_PROPAGATE", propagate),
	[DM_KEY_PROGRAMS] = { .name = "programs",
			      .env = "DUENDE_MLOCK_PROGRAMS",
			      .type = DM_TYPE_LIST,
			      DM_FIELD(programs),
			      .expect = "a list of program names or absolute paths",
			      .global = true,
			      .unset_note =
				      "empty: every process under LD_PRELOAD, none system-wide" },
	[DM_KEY_LOG] = { .name = "log",
			 .env = "DUENDE_MLOCK_LOG",
			 .type = DM_TYPE_ENUM,
			 DM_FIELD(log),
			 .expect = "a log target (use stderr, syslog or none)",
			 .values = log_values,
			 .n_values = sizeof(log_values) / sizeof(log_values[0]),
			 .unset_note = "default: stderr under LD_PRELOAD, syslog system-wide" },
	[DM_KEY_RT_PRIORITY] = INT_KEY("rt_priority", "DUENDE_MLOCK_RT_PRIORITY", rt_priority, 0,
				       99, "a SCHED_FIFO priority from 1 to 99, or 0 for none"),
	[DM_KEY_OOM_SCORE_ADJ] =
		INT_KEY("oom_score_adj", "DUENDE_MLOCK_OOM_SCORE_ADJ", oom_score_adj, -1000, 0,
			"an oom_score_adj from -1000 to 0 (0 leaves it alone)"),
	[DM_KEY_HEAP_RESERVE_MIB] =
		INT_KEY("heap_reserve_mib", "DUENDE_MLOCK_HEAP_RESERVE_MIB", heap_reserve_mib, 0,
			1024, "a heap reserve in MiB, 0 to 1024"),
	[DM_KEY_STACK_KIB] = INT_KEY("stack_kib", "DUENDE_MLOCK_STACK_KIB", stack_kib, 0, 4096,
				     "a stack depth to fault in, in KiB, 0 to 4096"),
	[DM_KEY_THREAD_STACK_KIB] =
		INT_KEY("thread_stack_kib", "DUENDE_MLOCK_THREAD_STACK_KIB", thread_stack_kib, 0,
			65536, "a default thread stack size in KiB, 0 to 65536"),
	[DM_KEY_EXPORT] = { .name = "export",
			    .env = "DUENDE_MLOCK_EXPORT",
			    .type = DM_TYPE_STRING,
			    DM_FIELD(export_path),
			    .expect = "an absolute path of at most 511 bytes (the exported file or "
				      "device)",
			    .section_only = true,
			    .path = true,
			    .unset_note = "none: the export's I/O goes through the page cache" },
};

/*
 * What a profile sets, as the file would spell it: over the defaults, under the file and the
 * environment, so an operator can still change any of it.
 */
struct dm_profile_value {
	enum dm_key key;
	const char *value;
};

static const struct dm_profile_value swap_server_values[] = {
	/* Every page resident and locked at once: faulting one in under pressure is the deadlock. */
	{ DM_KEY_CURRENT, "true" },
	{ DM_KEY_FUTURE, "true" },
	{ DM_KEY_ONFAULT, "false" },
	/* What let a stock nbd-server survive in the VM runs (vm/RESULTS.md, core.h). */
	{ DM_KEY_RT_PRIORITY, DM_STR(DM_SWAP_SERVER_RT_PRIORITY) },
	{ DM_KEY_OOM_SCORE_ADJ, DM_STR(DM_SWAP_SERVER_OOM_SCORE_ADJ) },
	{ DM_KEY_HEAP_RESERVE_MIB, DM_STR(DM_SWAP_SERVER_HEAP_MIB) },
	{ DM_KEY_STACK_KIB, DM_STR(DM_SWAP_SERVER_STACK_KIB) },
	{ DM_KEY_THREAD_STACK_KIB, DM_STR(DM_SWAP_SERVER_THREAD_STACK_KIB) },
	{ DM_KEY_COUNT, NULL },
};

static const struct dm_profile_value *const profile_table[DM_PROFILE_COUNT] = {
	[DM_PROFILE_NONE] = NULL,
	[DM_PROFILE_SWAP_SERVER] = swap_server_values,
};

void dm_settings_default(struct dm_settings *s)
{
	*s = (struct dm_settings){
		.profile = DM_PROFILE_NONE,
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

const char *dm_log_name(enum dm_log_target t)
{
	return t > DM_LOG_DEFAULT && t <= DM_LOG_NONE ? log_values[t] : "default";
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

const char *dm_programs_problem(int r)
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
				dm_diag_add(d, "%s: entry '%s': %s", dm_keys[DM_KEY_PROGRAMS].env,
					    esc, dm_programs_problem(r));
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

bool dm_names_preload(const char *path)
{
	return strncmp(dm_base_name(path), DM_PRELOAD_STEM, sizeof(DM_PRELOAD_STEM) - 1) == 0;
}

const char *dm_base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * The name the operator called the program by: AT_EXECFN's base name. Debian's redis-server is a
 * symlink to redis-check-rdb; the executable's name would name the wrong program. In
 * secure-execution mode AT_EXECFN is not trusted, and the executable names it; so it does where
 * AT_EXECFN is a descriptor's magic link (execv("/proc/self/exe"), fexecve's "/dev/fd/N").
 */
const char *dm_self_name(struct dm_self *self)
{
	const char *exe;

	if (self->execfn && self->execfn[0] && strncmp(self->execfn, "/proc/", 6) != 0 &&
	    strncmp(self->execfn, "/dev/fd/", 8) != 0)
		return dm_base_name(self->execfn);
	exe = dm_self_exe(self);
	return exe[0] ? dm_base_name(exe) : "?";
}

const char *dm_self_exe_name(struct dm_self *self)
{
	const char *exe = dm_self_exe(self), *name = dm_self_name(self);

	if (!exe[0] || strcmp(dm_base_name(exe), name) == 0)
		return NULL;
	return dm_base_name(exe);
}

void dm_self_of_program(struct dm_self *self, const char *path)
{
	self->execfn = path;
	self->exe_tried = true;
	/* A path that does not resolve (not installed here) stands for itself. */
	if (!realpath(path, self->exe))
		snprintf(self->exe, sizeof(self->exe), "%s", path);
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

bool dm_entry_names(const char *entry, struct dm_self *self)
{
	return entry_matches(entry, self->execfn) || entry_matches(entry, dm_self_exe(self));
}

bool dm_programs_has(const struct dm_settings *s, const char *entry)
{
	for (const char *e = dm_programs_next(s, NULL); e; e = dm_programs_next(s, e))
		if (strcmp(e, entry) == 0)
			return true;
	return false;
}

/* ---- the keys, from dm_keys[] ---- */

static void *field_of(enum dm_key k, struct dm_settings *s)
{
	return (char *)s + dm_keys[k].offset;
}

static const void *cfield_of(enum dm_key k, const struct dm_settings *s)
{
	return (const char *)s + dm_keys[k].offset;
}

/* Decimal, optional sign, nothing else: no strtol base 0 (hex, octal) from a file or variable. */
static int parse_int(const char *text, long min, long max, int *out)
{
	const char *p = text;
	bool neg = *p == '-';
	long v = 0;

	if (*p == '-' || *p == '+')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (LONG_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (*p - '0');
	}
	if (*p)
		return -EINVAL;
	v = neg ? -v : v;
	if (v < min || v > max)
		return -ERANGE;
	*out = (int)v;
	return 0;
}

int dm_key_parse_enum(enum dm_key k, const char *text, int *out)
{
	const struct dm_key_info *ki = &dm_keys[k];

	for (unsigned i = 0; i < ki->n_values; i++)
		if (ki->values[i] && strcmp(text, ki->values[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	return -EINVAL;
}

int dm_key_parse(enum dm_key k, const char *text, struct dm_settings *s)
{
	const struct dm_key_info *ki = &dm_keys[k];
	size_t len;

	switch (ki->type) {
	case DM_TYPE_BOOL:
		return dm_parse_bool(text, field_of(k, s));
	case DM_TYPE_ENUM:
		return dm_key_parse_enum(k, text, field_of(k, s));
	case DM_TYPE_INT:
		return parse_int(text, ki->min, ki->max, field_of(k, s));
	case DM_TYPE_STRING:
		len = strlen(text);
		if (len == 0 || (ki->path && text[0] != '/'))
			return -EINVAL;
		if (len >= ki->size)
			return -ENAMETOOLONG;
		memcpy(field_of(k, s), text, len + 1);
		return 0;
	case DM_TYPE_LIST:
		return dm_programs_parse_list(s, text, NULL);
	}
	return -EINVAL;
}

bool dm_key_unset(enum dm_key k, const struct dm_settings *s)
{
	const struct dm_key_info *ki = &dm_keys[k];
	int v;

	switch (ki->type) {
	case DM_TYPE_ENUM:
		v = *(const int *)cfield_of(k, s);
		return v < 0 || (unsigned)v >= ki->n_values || !ki->values[v];
	case DM_TYPE_STRING:
		return ((const char *)cfield_of(k, s))[0] == '\0';
	case DM_TYPE_LIST:
		return s->n_programs == 0;
	case DM_TYPE_BOOL:
	case DM_TYPE_INT:
		break;
	}
	return false;
}

const char *dm_key_format(enum dm_key k, const struct dm_settings *s, char *buf, size_t size)
{
	const struct dm_key_info *ki = &dm_keys[k];
	size_t n = 0;

	if (dm_key_unset(k, s) && ki->type != DM_TYPE_LIST)
		return "";
	switch (ki->type) {
	case DM_TYPE_BOOL:
		return *(const bool *)cfield_of(k, s) ? "true" : "false";
	case DM_TYPE_ENUM:
		return ki->values[*(const int *)cfield_of(k, s)];
	case DM_TYPE_INT:
		snprintf(buf, size, "%d", *(const int *)cfield_of(k, s));
		return buf;
	case DM_TYPE_STRING:
		buf[0] = '"';
		n = 1 + dm_escape(buf + 1, size - 2, cfield_of(k, s), size);
		snprintf(buf + n, size - n, "\"");
		return buf;
	case DM_TYPE_LIST:
		n = (size_t)snprintf(buf, size, "{");
		for (const char *e = dm_programs_next(s, NULL); e && n < size;
		     e = dm_programs_next(s, e)) {
			char esc[PATH_MAX];

			dm_escape(esc, sizeof(esc), e, PATH_MAX / 4);
			n += (size_t)snprintf(buf + n, size - n, "%s\"%s\"",
					      e == s->programs ? "" : ", ", esc);
		}
		if (n < size)
			snprintf(buf + n, size - n, "}");
		return buf;
	}
	return "";
}

static void programs_copy(struct dm_settings *dst, const struct dm_settings *src)
{
	memcpy(dst->programs, src->programs, src->programs_used + 1);
	dst->programs_used = src->programs_used;
	dst->n_programs = src->n_programs;
}

void dm_settings_overlay(struct dm_settings *dst, const struct dm_settings *src)
{
	for (int k = 0; k < DM_KEY_COUNT; k++) {
		if (src->origin[k] == DM_FROM_DEFAULT)
			continue;
		if (dm_keys[k].type == DM_TYPE_LIST)
			programs_copy(dst, src);
		else
			memcpy(field_of((enum dm_key)k, dst), cfield_of((enum dm_key)k, src),
			       dm_keys[k].size);
		dst->origin[k] = src->origin[k];
	}
}

void dm_profile_apply(struct dm_settings *s, enum dm_profile p)
{
	const struct dm_profile_value *v = p >= 0 && p < DM_PROFILE_COUNT ? profile_table[p] : NULL;

	for (; v && v->value; v++) {
		/* The table is ours: a value that does not parse is a bug the unit test catches. */
		if (dm_key_parse(v->key, v->value, s) == 0)
			s->origin[v->key] = DM_FROM_PROFILE;
	}
}

void dm_settings_from_env(struct dm_settings *s, struct dm_diag *d)
{
	for (int k = 0; k < DM_KEY_COUNT; k++) {
		const struct dm_key_info *ki = &dm_keys[k];
		const char *v = secure_getenv(ki->env);
		char esc[160];

		if (!v)
			continue;
		if (ki->type == DM_TYPE_LIST) {
			struct dm_settings tmp;

			/* Parse into a scratch copy so a bad list leaves the file's list in force. */
			if (dm_programs_parse_list(&tmp, v, d) == 0) {
				programs_copy(s, &tmp);
				s->origin[k] = DM_FROM_ENV;
			}
			continue;
		}
		if (dm_key_parse((enum dm_key)k, v, s) == 0) {
			s->origin[k] = DM_FROM_ENV;
			continue;
		}
		dm_escape(esc, sizeof(esc), v, 64);
		dm_diag_add(d, "%s='%s': not %s, ignoring", ki->env, esc, ki->expect);
	}
}
