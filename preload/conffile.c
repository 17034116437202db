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
		dm_diag_add(d, "%s:%u: '${' is not allowed: environment expansion is disabled",
			    name, line_of(text, dollar));
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
	f->stat_done = false;
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
	f->stat_done = true;
	f->owner = st.st_uid;
	f->mode = st.st_mode;
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

/* memcmp(a, b, n) == 0 without a libc call (see dm_conffile_names_word). */
static bool same_bytes(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
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
	/* Compares, not strchr(): this runs on the preload object's skip path (see below). */
	return c != '\0' && c != ' ' && c != '#' && c != '"' && c != '\'' && c != '\t' &&
	       c != '\n' && c != '\r' && c != '=' && c != '{' && c != '}' && c != '(' && c != ')' &&
	       c != '+' && c != ',' && c != '*';
}

/*
 * Does name stand in text as a whole word outside comments? Comments are found the way
 * libconfuse 3.3's flex lexer finds them (src/lexer.l): '#' always starts one outside quotes, but
 * '//' and '/' '*' only at the start of a token. There the rule "/"{2,}.* matches to the end of
 * the line, which an unquoted string can at best equal, and it comes first, so it always wins:
 * "//r\t/" "*" is a one-line comment, not the string "//r" and a block comment. Inside a token,
 * '/' is part of the string. A string value that equals name, or a path
 * that ends in "/name", shows name bounded by a quote, a delimiter or '/', so a miss here proves
 * no entry names the program. Doubt (an unterminated quote, an escape inside quotes) counts as a
 * hit; a backslash in a comment or an unquoted string is a plain byte to libconfuse too.
 *
 * The preload object's skip path runs this in every process of the machine, so it calls no libc
 * function (their code pages are page faults a tiny program would not take; bench/NOTES.md).
 */
bool dm_conffile_names_word(const char *text, size_t len, const char *name, size_t nlen)
{
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
				st = LINE;
				continue;
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
		if (c == name[0] && len - i >= nlen && same_bytes(text + i, name, nlen) &&
		    (i == 0 || !is_name_char(text[i - 1])) &&
		    (i + nlen == len || !is_name_char(text[i + nlen])))
			return true;
	}
	return false;
}

bool dm_conffile_cannot_name(const struct dm_conffile *f, struct dm_self *self)
{
	const char *exe;

	const char *b;

	if (self->execfn) {
		b = dm_base_name(self->execfn);
		if (dm_conffile_names_word(f->text, f->len, b, strlen(b)))
			return false;
	}
	exe = dm_self_exe(self);
	b = dm_base_name(exe);
	if (exe[0] && dm_conffile_names_word(f->text, f->len, b, strlen(b)))
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
	__typeof__(cfg_size) *size;
	__typeof__(cfg_getbool) *getbool;
	__typeof__(cfg_getstr) *getstr;
	__typeof__(cfg_getnstr) *getnstr;
	__typeof__(cfg_opt_size) *opt_size;
	__typeof__(cfg_opt_getnstr) *opt_getnstr;
	__typeof__(cfg_getnsec) *getnsec;
	__typeof__(cfg_opt_getnsec) *opt_getnsec;
	__typeof__(cfg_title) *title;
};

static int confuse_open(struct confuse_api *api)
{
	api->handle = dlopen(DM_CONFUSE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!api->handle)
		return -ELIBACC;
#define SYM(field, name)                                                                           \
	do {                                                                                       \
		*(void **)&api->field = dlsym(api->handle, #name);                                 \
		if (!api->field)                                                                   \
			goto fail;                                                                 \
	} while (0)
	SYM(init, cfg_init);
	SYM(parse_buf, cfg_parse_buf);
	SYM(free, cfg_free);
	SYM(set_error_function, cfg_set_error_function);
	SYM(error, cfg_error);
	SYM(size, cfg_size);
	SYM(getbool, cfg_getbool);
	SYM(getstr, cfg_getstr);
	SYM(getnstr, cfg_getnstr);
	SYM(opt_size, cfg_opt_size);
	SYM(opt_getnstr, cfg_opt_getnstr);
	SYM(getnsec, cfg_getnsec);
	SYM(opt_getnsec, cfg_opt_getnsec);
	SYM(title, cfg_title);
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
	cfg_t *top; /* the file's own level, outside every program section */
} parsing;

/* The format comes from libconfuse's own messages (cfg_errfunc_t), never from the file. */
DM_PRINTF(2, 0) static void on_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[DM_DIAG_LEN];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	dm_diag_add(parsing.diag, "%s:%d: %s", parsing.name, cfg->line, msg);
}

static const struct dm_key_info *key_named(const char *name, enum dm_key *k)
{
	for (int i = 0; i < DM_KEY_COUNT; i++)
		if (strcmp(dm_keys[i].name, name) == 0) {
			*k = (enum dm_key)i;
			return &dm_keys[i];
		}
	return NULL;
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
					   dm_programs_problem(r));
			return -1;
		}
	}
	return 0;
}

/* Runs as each value is parsed, so its error carries the line number. */
static int validate_value(cfg_t *cfg, cfg_opt_t *opt)
{
	struct dm_settings scratch;
	const struct dm_key_info *ki;
	enum dm_key k;
	const char *v;
	char esc[160];

	ki = key_named(opt->name, &k);
	if (!ki)
		return 0;
	if (ki->section_only && cfg == parsing.top) {
		/*
		 * Said and left out, not an error: a 1.0 file with a top-level profile would
		 * otherwise be ignored whole after an upgrade, and every daemon it lists run unlocked.
		 */
		dm_diag_add(
			parsing.diag,
			"%s:%d: %s is ignored here: it may be set only in a program \"NAME\" "
			"{ } section, as outside one it would apply to every program the file lists",
			parsing.name, cfg->line, ki->name);
		return 0;
	}
	if (ki->type == DM_TYPE_LIST)
		return validate_programs(cfg, opt);
	v = parsing.api->opt_getnstr(opt, 0);
	if (v && dm_key_parse(k, v, &scratch) == 0)
		return 0;
	dm_escape(esc, sizeof(esc), v ? v : "", 64);
	parsing.api->error(cfg, "%s = '%s': not %s", ki->name, esc, ki->expect);
	return -1;
}

/* A program section's title is an allow-list entry: a name or an absolute path. */
static int validate_section(cfg_t *cfg, cfg_opt_t *opt)
{
	struct dm_settings scratch;
	unsigned n = parsing.api->opt_size(opt);

	for (unsigned i = 0; i < n; i++) {
		const char *title = parsing.api->title(parsing.api->opt_getnsec(opt, i));
		int r;

		dm_programs_clear(&scratch);
		r = dm_programs_add(&scratch, title, strlen(title));
		if (r < 0) {
			char esc[160];

			dm_escape(esc, sizeof(esc), title, 64);
			parsing.api->error(cfg, "program \"%s\": %s", esc, dm_programs_problem(r));
			return -1;
		}
	}
	return 0;
}

/* The options of one level: every key (the global ones only at the top), then CFG_END. */
static unsigned make_opts(cfg_opt_t *opts, bool top)
{
	unsigned n = 0;

	for (int k = 0; k < DM_KEY_COUNT; k++) {
		const struct dm_key_info *ki = &dm_keys[k];

		if (!top && ki->global)
			continue;
		switch (ki->type) {
		case DM_TYPE_BOOL:
			/* CFGF_NODEFAULT everywhere: an option the file does not set has size 0,
			 * so the layers below it stay in force and their origin is known. */
			opts[n] = (cfg_opt_t)CFG_BOOL(ki->name, cfg_false, CFGF_NODEFAULT);
			break;
		case DM_TYPE_LIST:
			opts[n] = (cfg_opt_t)CFG_STR_LIST(ki->name, NULL, CFGF_NODEFAULT);
			break;
		default:
			opts[n] = (cfg_opt_t)CFG_STR(ki->name, NULL, CFGF_NODEFAULT);
			break;
		}
		if (ki->type != DM_TYPE_BOOL)
			opts[n].validcb = validate_value;
		n++;
	}
	return n;
}

static void apply_keys(const struct confuse_api *api, cfg_t *cfg, struct dm_settings *s,
		       enum dm_origin origin)
{
	for (int k = 0; k < DM_KEY_COUNT; k++) {
		const struct dm_key_info *ki = &dm_keys[k];
		unsigned n;

		if ((origin == DM_FROM_SECTION && ki->global) ||
		    (origin == DM_FROM_FILE && ki->section_only))
			continue;
		n = api->size(cfg, ki->name);
		if (n == 0)
			continue;
		switch (ki->type) {
		case DM_TYPE_BOOL:
			*(bool *)((char *)s + ki->offset) = api->getbool(cfg, ki->name);
			break;
		case DM_TYPE_LIST:
			dm_programs_clear(s);
			for (unsigned i = 0; i < n; i++) {
				const char *v = api->getnstr(cfg, ki->name, i);

				/* The validator accepted each entry already. */
				dm_programs_add(s, v, strlen(v));
			}
			break;
		default:
			dm_key_parse((enum dm_key)k, api->getstr(cfg, ki->name), s);
			break;
		}
		s->origin[k] = origin;
	}
}

/*
 * Would the programs list still fit with every section's title added? Checked before anything is
 * applied, so a file is applied whole or not at all. Titles already in the list count too: an
 * upper bound, on a list of at most 64 entries.
 */
static bool titles_fit(const struct confuse_api *api, cfg_t *cfg, const struct dm_settings *s)
{
	unsigned n = api->size(cfg, "programs"), secs = api->size(cfg, "program");
	size_t used = 0;

	if (n == 0) {
		n = s->n_programs;
		used = s->programs_used;
	} else {
		for (unsigned i = 0; i < n; i++)
			used += strlen(api->getnstr(cfg, "programs", i)) + 1;
	}
	for (unsigned i = 0; i < secs; i++)
		used += strlen(api->title(api->getnsec(cfg, "program", i))) + 1;
	return n + secs <= DM_PROGRAMS_MAX && used + 1 <= DM_PROGRAMS_BYTES;
}

static int parse_with(const struct confuse_api *api, const char *name, const char *text,
		      struct dm_self *self, struct dm_settings *s, struct dm_diag *d)
{
	cfg_opt_t section_opts[DM_KEY_COUNT + 1], opts[DM_KEY_COUNT + 2];
	unsigned n, diags = d ? d->n + d->dropped : 0;
	cfg_t *cfg;
	int r;

	section_opts[make_opts(section_opts, false)] = (cfg_opt_t)CFG_END();
	n = make_opts(opts, true);
	/* program "NAME" { ... }: settings for one program, above the file's own. */
	opts[n] =
		(cfg_opt_t)CFG_SEC("program", section_opts,
				   CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES | CFGF_NODEFAULT);
	opts[n].validcb = validate_section;
	opts[n + 1] = (cfg_opt_t)CFG_END();

	cfg = api->init(opts, CFGF_NONE);
	if (!cfg) {
		dm_diag_add(d, "%s: libconfuse could not start, ignoring the file", name);
		return -ENOMEM;
	}
	parsing.api = api;
	parsing.name = name;
	parsing.diag = d;
	parsing.top = cfg;
	api->set_error_function(cfg, on_error);

	r = api->parse_buf(cfg, text);
	if (r != CFG_SUCCESS) {
		/*
		 * libconfuse 3.3 fails some files without calling the error function: a quoted string
		 * where a key belongs ('"" x') is one (found by fuzz/fuzz-config). The file is still
		 * ignored as a whole, so the operator must still hear why.
		 */
		if (d && d->n + d->dropped == diags)
			dm_diag_add(
				d,
				"%s: libconfuse rejected the file without a reason (a key must be "
				"an unquoted name), ignoring it",
				name);
		else
			/* What a line's error costs: none of the file's settings, its sections'
			 * profile and required included. */
			dm_diag_add(d,
				    "%s: ignored as a whole for the error above: the defaults and "
				    "DUENDE_MLOCK_* apply, nothing of its sections",
				    name);
		r = -EINVAL;
		goto out;
	}
	if (!titles_fit(api, cfg, s)) {
		dm_diag_add(d, "%s: programs and program sections: %s, ignoring the file", name,
			    dm_programs_problem(-E2BIG));
		r = -EINVAL;
		goto out;
	}
	apply_keys(api, cfg, s, DM_FROM_FILE);
	n = api->size(cfg, "program");
	for (unsigned i = 0; i < n; i++) {
		cfg_t *sec = api->getnsec(cfg, "program", i);
		const char *title = api->title(sec);

		if (!dm_programs_has(s, title)) {
			dm_programs_add(s, title, strlen(title));
			s->origin[DM_KEY_PROGRAMS] = DM_FROM_FILE;
		}
		if (self && dm_entry_names(title, self))
			apply_keys(api, sec, s, DM_FROM_SECTION);
	}
	r = 0;
out:
	api->free(cfg);
	parsing.api = NULL;
	parsing.diag = NULL;
	parsing.top = NULL;
	return r;
}

int dm_config_parse_text(const char *name, const char *text, size_t len, struct dm_self *self,
			 struct dm_settings *s, struct dm_diag *d)
{
	struct confuse_api api;
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
	/* Nothing is applied unless the whole file is good: s is untouched on failure. */
	r = parse_with(&api, name, text, self, s, d);
	/* Unload again: a host that is not locked keeps no trace of the parser. */
	dlclose(api.handle);
	return r;
}

int dm_conffile_apply(const struct dm_conffile *f, struct dm_self *self, struct dm_settings *s,
		      struct dm_diag *d)
{
	return dm_config_parse_text(f->path, f->text, f->len, self, s, d);
}
