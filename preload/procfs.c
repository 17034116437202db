/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Reading /proc/PID/status and friends: a small buffer, line by line, no stdio. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

struct kb_key {
	const char *key;
	uint64_t *bytes; /* "Key: N kB", in bytes; or, when NULL: */
	char *text;	 /* the value as text, blanks trimmed */
	size_t text_size;
	bool found;
};

/* "Key:\tvalue": the value, without the blanks around it, cut to fit. */
static bool parse_text_line(const char *line, size_t len, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key), i;

	if (len <= klen || memcmp(line, key, klen) != 0 || line[klen] != ':' || size == 0)
		return false;
	for (i = klen + 1; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	while (len > i && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	len -= i;
	if (len >= size)
		len = size - 1;
	memcpy(out, line + i, len);
	out[len] = '\0';
	return true;
}

/* "Key:   1234 kB": the figure in bytes, or false when the line is not that. */
static bool parse_kb_line(const char *line, size_t len, const char *key, uint64_t *bytes)
{
	size_t klen = strlen(key), i;
	uint64_t v = 0;

	if (len <= klen || memcmp(line, key, klen) != 0 || line[klen] != ':')
		return false;
	for (i = klen + 1; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len || line[i] < '0' || line[i] > '9')
		return false;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10 / 1024)
			return false;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	*bytes = v * 1024;
	return true;
}

/*
 * Scan a /proc file for "Key: N kB" lines. /proc/PID/status can be far larger than any buffer
 * here (its Groups: line alone, before the Vm* lines, grows with every supplementary group), so
 * it is read in pieces, and a line longer than the buffer, never one of ours, is skipped.
 */
static int scan_kb(const char *path, struct kb_key *keys, size_t n)
{
	char buf[1024];
	size_t have = 0, found = 0;
	bool skipping = false;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t got = read(fd, buf + have, sizeof(buf) - have);
		char *line = buf, *nl;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			break;
		}
		have += (size_t)got;
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			if (!skipping) {
				for (size_t k = 0; k < n; k++) {
					size_t len = (size_t)(nl - line);

					if (!keys[k].found &&
					    (keys[k].bytes ? parse_kb_line(line, len, keys[k].key,
									   keys[k].bytes) :
							     parse_text_line(line, len, keys[k].key,
									     keys[k].text,
									     keys[k].text_size))) {
						keys[k].found = true;
						found++;
					}
				}
			}
			skipping = false;
			line = nl + 1;
		}
		if (got == 0 || found == n)
			break;
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf)) {
			/* One line fills the buffer: drop it up to its end. */
			skipping = true;
			have = 0;
		}
	}
	close(fd);
	if (r < 0)
		return r;
	return found ? 0 : -ENODATA;
}

int dm_proc_read_kb(const char *path, const char *key, uint64_t *bytes)
{
	struct kb_key k = { .key = key, .bytes = bytes };

	return scan_kb(path, &k, 1);
}

int dm_proc_status_text(pid_t pid, const char *key, char *buf, size_t size)
{
	char path[64];
	struct kb_key k = { .key = key, .text = buf, .text_size = size };

	if (pid == 0)
		strcpy(path, "/proc/self/status");
	else
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return scan_kb(path, &k, 1);
}

int dm_proc_mem_read(pid_t pid, struct dm_proc_mem *m)
{
	char path[64];
	struct kb_key keys[] = {
		{ .key = "VmSize", .bytes = &m->vm_size },
		{ .key = "VmLck", .bytes = &m->vm_lck },
		{ .key = "VmRSS", .bytes = &m->vm_rss },
		{ .key = "VmSwap", .bytes = &m->vm_swap },
	};
	int r;

	if (pid == 0)
		strcpy(path, "/proc/self/status");
	else
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	*m = (struct dm_proc_mem){ 0 };
	r = scan_kb(path, keys, sizeof(keys) / sizeof(keys[0]));
	/* Kernel threads have no Vm* lines: report zeros, not an error. */
	return r == -ENODATA ? 0 : r;
}

int dm_proc_cap_eff(pid_t pid, uint64_t *caps)
{
	char text[32];
	uint64_t v = 0;
	int r = dm_proc_status_text(pid, "CapEff", text, sizeof(text));

	if (r < 0)
		return r;
	/* 16 hex digits (fs/proc/array.c, render_cap_t). */
	if (!text[0])
		return -EINVAL;
	for (const char *p = text; *p; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' :
			*p >= 'a' && *p <= 'f' ? *p - 'a' + 10 :
						 -1;

		if (d < 0 || v >> 60)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	*caps = v;
	return 0;
}
