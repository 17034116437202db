/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The config file: opened the careful way, pre-scanned cheaply, parsed with libconfuse.
 *
 * libconfuse is dlopen()ed, not linked. On an appliance this library loads into every process and
 * most of them are not locked; linking libconfuse would make each of them map and relocate it
 * (measured in scripts/bench). Only a process that really needs the file's values pays for it.
 */
#include "config.h"

#include <confuse.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

const char *dm_config_path(void)
{
	const char *p = secure_getenv("DUENDE_MLOCK_CONFIG");

	return p && p[0] ? p : DM_CONFIG_PATH;
}

void dm_conffile_release(struct dm_conffile *f)
{
	if (f->text != f->inline_text)
		free(f->text);
	f->text = NULL;
	f->len = 0;
}

static unsigned line_of(const char *text, const char *at)
{
	unsigned line = 1;

	for (const char *p = text; p < at; p++)
		line += *p == '\n';
	return line;
}

/*
 * libconfuse replaces ${VAR} in unquoted and double-quoted strings with the variable's value,
 * even in setuid programs (its lexer.l). There is no flag to turn that off, so text that could
 * trigger it is refused before libconfuse sees it.
 */
static int refuse_expansion(const char *name, const char *text, size_t len, struct dm_diag *d)
{
	const char *nul = memchr(text, '\0', len);
	const char *dollar;

	if (nul) {
		dm_diag_add(d, "%s:%u: NUL byte in the file", name, line_of(text, nul));
		return -EINVAL;
	}
	dollar = strstr(text, "${");
	if (dollar) {
		dm_diag_add(d, "%s:%u: '${' is not allowed: environment expansion is disabled", name,
			    line_of(text, dollar));
		return -EINVAL;
	}
	return 0;
}

/*
 * Read up to cap bytes. A regular file's read() comes back short only at its end, so a short read
 * ends the loop without the extra read() that would return 0.
 */
static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if ((size_t)n < cap - (got - (size_t)n))
			break;
	}
	*len = got;
	return 0;
}

int dm_conffile_load(struct dm_conffile *f, const char *path, struct dm_diag *d)
{
	struct stat st;
	size_t len = 0, size;
	int fd, r, verdict;

	f->text = NULL;
	f->len = 0;
	f->trusted = false;
	f->path = path;

	/* O_NONBLOCK: a FIFO planted at the path must not hang the host in open(). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			return r;
		if (r == -ELOOP)
			dm_diag_add(d, "%s: is a symbolic link, ignoring it", path);
		else
			dm_diag_add(d, "%s: cannot open: %s, ignoring it", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		dm_diag_add(d, "%s: cannot stat: %s, ignoring it", path, strerror(-r));
		goto out;
	}
	r = -EPERM;
	if (!S_ISREG(st.st_mode)) {
		dm_diag_add(d, "%s: not a regular file, ignoring it", path);
		goto out;
	}
	if (st.st_size > DM_CONFIG_MAX_BYTES) {
		dm_diag_add(d, "%s: larger than %d bytes, ignoring it", path, DM_CONFIG_MAX_BYTES);
		goto out;
	}
	/*
	 * A file the process's own (real) user owns is trusted only outside secure-execution: that
	 * user could set the environment anyway. A setuid program trusts root's files alone. An
	 * untrusted file is still read, into the inline buffer only: its text may decide whether
	 * this process says anything about it, never what is locked.
	 */
	verdict = 0;
	if (st.st_uid != 0 && (getauxval(AT_SECURE) || st.st_uid != getuid())) {
		dm_diag_add(d, "%s: owned by uid %u, not root, ignoring it", path,
			    (unsigned)st.st_uid);
		verdict = -EPERM;
	} else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		dm_diag_add(d, "%s: writable by group or others (mode %04o), ignoring it", path,
			    (unsigned)(st.st_mode & 07777));
		verdict = -EPERM;
	}
	size = (size_t)st.st_size + 2;
	if (size <= sizeof(f->inline_text)) {
		f->text = f->inline_text;
	} else if (verdict < 0) {
		goto out;
	} else {
		f->text = malloc(size);
		if (!f->text) {
			r = -ENOMEM;
			dm_diag_add(d, "%s: out of memory, ignoring it", path);
			goto out;
		}
	}
	/* Read one byte past the size: the file may have grown since fstat(). */
	r = read_all(fd, f->text, (size_t)st.st_size + 1, &len);
	if (r < 0) {
		dm_diag_add(d, "%s: cannot read: %s, ignoring it", path, strerror(-r));
	} else if (len > (size_t)st.st_size) {
		r = -EAGAIN;
		dm_diag_add(d, "%s: changed while being read, ignoring it", path);
	}
	if (r < 0) {
		dm_conffile_release(f);
		goto out;
	}
	f->text[len] = '\0';
	f->len = len;
	f->trusted = verdict == 0;
	r = verdict;
out:
	close(fd);
	return r;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/*
 * A byte of an unquoted string in libconfuse's lexer (src/lexer.l): its rule admits every byte
 * but blanks, CR, LF and  # " ' = { } ( ) + , *  -- a lone '/' included, so "//" can stand
 * inside a string.
 */
static bool is_unquoted_char(char c)
{
	return c != '\0' && !strchr(" #\"'\t\n\r={}()+,*", c);
}

/*
 * Does name stand in text as a whole word outside comments? Comments are found the way
 * libconfuse's flex lexer finds them (src/lexer.l): '#' always starts one outside quotes, but
 * '//' and '/' '*' only at the start of a token, and '//' only when the unquoted-string rule would
 * not match longer there (flex takes the longest match: "//usr/sbin/x" is a string, "// x" a
 * comment). Inside a token, '/' is part of the string. A string value that equals name, or a path
 * that ends in "/name", shows name bounded by a quote, a delimiter or '/', so a miss here proves
 * no entry names the program. Doubt (an unterminated quote, an escape inside quotes) counts as a
 * hit; a backslash in a comment or an unquoted string is a plain byte to libconfuse too.
 */
static bool names_word(const char *text, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	enum { CODE, DQUOTE, SQUOTE, LINE, BLOCK } st = CODE;
	bool in_token = false; /* the previous byte, in CODE, belongs to an unquoted string */

	if (nlen == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = text[i], next = i + 1 < len ? text[i + 1] : '\0';

		switch (st) {
		case LINE:
			if (c == '\n')
				st = CODE;
			continue;
		case BLOCK:
			if (c == '*' && next == '/') {
				st = CODE;
				i++;
			}
			continue;
		case DQUOTE:
			if (c == '"') {
				st = CODE;
				continue;
			}
			/* An escape could spell the name from other bytes: assume it does. */
			if (c == '\\')
				return true;
			break;
		case SQUOTE:
			if (c == '\'') {
				st = CODE;
				continue;
			}
			if (c == '\\')
				return true;
			break;
		case CODE:
			if (c == '#') {
				st = LINE;
				in_token = false;
				continue;
			}
			if (!in_token && c == '/' && next == '*') {
				st = BLOCK;
				i++;
				continue;
			}
			if (!in_token && c == '/' && next == '/') {
				size_t k = i;

				while (k < len && text[k] == '/')
					k++;
				if (k == len || !is_unquoted_char(text[k])) {
					st = LINE;
					continue;
				}
				/* Otherwise the string rule matches longer: a string token. */
			}
			if (c == '"') {
				st = DQUOTE;
				in_token = false;
				continue;
			}
			if (c == '\'') {
				st = SQUOTE;
				in_token = false;
				continue;
			}
			in_token = is_unquoted_char(c);
			break;
		}
		if (c == name[0] && len - i >= nlen && memcmp(text + i, name, nlen) == 0 &&
		    (i == 0 || !is_name_char(text[i - 1])) &&
		    (i + nlen == len || !is_name_char(text[i + nlen])))
			return true;
	}
	return false;
}

bool dm_conffile_cannot_name(const struct dm_conffile *f, struct dm_self *self)
{
	const char *exe;

	if (self->execfn && names_word(f->text, f->len, dm_base_name(self->execfn)))
		return false;
	exe = dm_self_exe(self);
	if (exe[0] && names_word(f->text, f->len, dm_base_name(exe)))
		return false;
	return true;
}

/* ---- libconfuse, loaded on demand ---- */

struct confuse_api {
	void *handle;
	__typeof__(cfg_init) *init;
	__typeof__(cfg_parse_buf) *parse_buf;
	__typeof__(cfg_free) *free;
	__typeof__(cfg_set_error_function) *set_error_function;
	__typeof__(cfg_error) *error;
	__typeof__(cfg_set_validate_func) *set_validate_func;
	__typeof__(cfg_size) *size;
	__typeof__(cfg_getbool) *getbool;
	__typeof__(cfg_getstr) *getstr;
	__typeof__(cfg_getnstr) *getnstr;
	__typeof__(cfg_opt_size) *opt_size;
	__typeof__(cfg_opt_getnstr) *opt_getnstr;
};

static int confuse_open(struct confuse_api *api)
{
	api->handle = dlopen(DM_CONFUSE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!api->handle)
		return -ELIBACC;
#define SYM(field, name)                                              \
	do {                                                          \
		*(void **)&api->field = dlsym(api->handle, #name);    \
		if (!api->field)                                      \
			goto fail;                                    \
	} while (0)
	SYM(init, cfg_init);
	SYM(parse_buf, cfg_parse_buf);
	SYM(free, cfg_free);
	SYM(set_error_function, cfg_set_error_function);
	SYM(error, cfg_error);
	SYM(set_validate_func, cfg_set_validate_func);
	SYM(size, cfg_size);
	SYM(getbool, cfg_getbool);
	SYM(getstr, cfg_getstr);
	SYM(getnstr, cfg_getnstr);
	SYM(opt_size, cfg_opt_size);
	SYM(opt_getnstr, cfg_opt_getnstr);
#undef SYM
	return 0;
fail:
	dlclose(api->handle);
	api->handle = NULL;
	return -ELIBACC;
}

/*
 * libconfuse's callbacks carry no user pointer, so the parse in progress is described here. The
 * parser is not reentrant anyway (its lexer has global state).
 */
static struct {
	const struct confuse_api *api;
	const char *name;
	struct dm_diag *diag;
} parsing;

/* The format comes from libconfuse's own messages (cfg_errfunc_t), never from the file. */
DM_PRINTF(2, 0) static void on_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[DM_DIAG_LEN];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	dm_diag_add(parsing.diag, "%s:%d: %s", parsing.name, cfg->line, msg);
}

static int validate_log(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = parsing.api->opt_getnstr(opt, 0);
	enum dm_log_target t;
	char esc[160];

	if (v && dm_parse_log(v, &t) == 0)
		return 0;
	dm_escape(esc, sizeof(esc), v ? v : "", 64);
	parsing.api->error(cfg, "log = '%s': not a log target (use stderr, syslog or none)", esc);
	return -1;
}

static int validate_programs(cfg_t *cfg, cfg_opt_t *opt)
{
	struct dm_settings scratch;
	unsigned n = parsing.api->opt_size(opt);

	dm_programs_clear(&scratch);
	for (unsigned i = 0; i < n; i++) {
		const char *v = parsing.api->opt_getnstr(opt, i);
		int r = dm_programs_add(&scratch, v, strlen(v));

		if (r < 0) {
			char esc[160];

			dm_escape(esc, sizeof(esc), v, 64);
			parsing.api->error(cfg, "programs: entry '%s': %s", esc,
					   r == -E2BIG	      ? "too many entries" :
					   r == -ENAMETOOLONG ? "entry too long" :
								"not a program name or an absolute path");
			return -1;
		}
	}
	return 0;
}

static void apply_bool(const struct confuse_api *api, cfg_t *cfg, enum dm_key key, bool *field,
		       struct dm_settings *s)
{
	if (api->size(cfg, dm_key_names[key]) == 0)
		return;
	*field = api->getbool(cfg, dm_key_names[key]);
	s->origin[key] = DM_FROM_FILE;
}

static int parse_with(const struct confuse_api *api, const char *name, const char *text,
		      struct dm_settings *s, struct dm_diag *d)
{
	/* CFGF_NODEFAULT everywhere: an option the file does not set has size 0, so the settings
	 * below it (defaults) stay in force and check-config can say where each value came from. */
	cfg_opt_t opts[] = {
		CFG_BOOL("current", cfg_true, CFGF_NODEFAULT),
		CFG_BOOL("future", cfg_true, CFGF_NODEFAULT),
		CFG_BOOL("onfault", cfg_false, CFGF_NODEFAULT),
		CFG_BOOL("required", cfg_false, CFGF_NODEFAULT),
		CFG_BOOL("propagate", cfg_true, CFGF_NODEFAULT),
		CFG_STR_LIST("programs", NULL, CFGF_NODEFAULT),
		CFG_STR("log", NULL, CFGF_NODEFAULT),
		CFG_END(),
	};
	cfg_t *cfg;
	unsigned n, diags = d ? d->n + d->dropped : 0;
	int r;

	cfg = api->init(opts, CFGF_NONE);
	if (!cfg) {
		dm_diag_add(d, "%s: libconfuse could not start, ignoring the file", name);
		return -ENOMEM;
	}
	parsing.api = api;
	parsing.name = name;
	parsing.diag = d;
	api->set_error_function(cfg, on_error);
	/* Validators run as each value is parsed, so their errors carry the line number. */
	api->set_validate_func(cfg, "programs", validate_programs);
	api->set_validate_func(cfg, "log", validate_log);

	r = api->parse_buf(cfg, text);
	if (r != CFG_SUCCESS) {
		/*
		 * libconfuse 3.3 fails some files without calling the error function: a quoted string
		 * where a key belongs ('"" x') is one (found by fuzz/fuzz-config). The file is still
		 * ignored as a whole, so the operator must still hear why.
		 */
		if (d && d->n + d->dropped == diags)
			dm_diag_add(d, "%s: libconfuse rejected the file without a reason (a key must be "
				       "an unquoted name), ignoring it",
				    name);
		r = -EINVAL;
		goto out;
	}
	apply_bool(api, cfg, DM_KEY_CURRENT, &s->current, s);
	apply_bool(api, cfg, DM_KEY_FUTURE, &s->future, s);
	apply_bool(api, cfg, DM_KEY_ONFAULT, &s->onfault, s);
	apply_bool(api, cfg, DM_KEY_REQUIRED, &s->required, s);
	apply_bool(api, cfg, DM_KEY_PROPAGATE, &s->propagate, s);
	if (api->size(cfg, "log") > 0) {
		dm_parse_log(api->getstr(cfg, "log"), &s->log);
		s->origin[DM_KEY_LOG] = DM_FROM_FILE;
	}
	n = api->size(cfg, "programs");
	if (n > 0) {
		dm_programs_clear(s);
		for (unsigned i = 0; i < n; i++) {
			const char *v = api->getnstr(cfg, "programs", i);

			/* validate_programs() accepted each entry already. */
			dm_programs_add(s, v, strlen(v));
		}
		s->origin[DM_KEY_PROGRAMS] = DM_FROM_FILE;
	}
	r = 0;
out:
	api->free(cfg);
	parsing.api = NULL;
	parsing.diag = NULL;
	return r;
}

int dm_config_parse_text(const char *name, const char *text, size_t len, struct dm_settings *s,
			 struct dm_diag *d)
{
	struct confuse_api api;
	struct dm_settings parsed = *s;
	int r;

	r = refuse_expansion(name, text, len, d);
	if (r < 0)
		return r;
	r = confuse_open(&api);
	if (r < 0) {
		dm_diag_add(d, "%s: cannot load %s to parse it: %s, ignoring the file", name,
			    DM_CONFUSE_SONAME, dlerror());
		return r;
	}
	/* Parse into a copy: a file that fails is ignored as a whole. */
	r = parse_with(&api, name, text, &parsed, d);
	if (r == 0)
		*s = parsed;
	/* Unload again: a host that is not locked keeps no trace of the parser. */
	dlclose(api.handle);
	return r;
}

int dm_conffile_apply(const struct dm_conffile *f, struct dm_settings *s, struct dm_diag *d)
{
	return dm_config_parse_text(f->path, f->text, f->len, s, d);
}
