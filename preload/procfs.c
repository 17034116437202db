/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Reading memory figures from /proc: one open, one read, no stdio. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

static int read_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return r;
}

/* "Key:   1234 kB" at the start of a line; the figure in bytes. */
static int find_kb(const char *text, const char *key, uint64_t *bytes)
{
	size_t klen = strlen(key);
	const char *p = text;
	uint64_t v = 0;

	for (;;) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':')
			break;
		p = strchr(p, '\n');
		if (!p)
			return -ENODATA;
		p++;
	}
	p += klen + 1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -EBADMSG;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*bytes = v * 1024;
	return 0;
}

int dm_proc_read_kb(const char *path, const char *key, uint64_t *bytes)
{
	char buf[4096];
	int r = read_file(path, buf, sizeof(buf));

	return r < 0 ? r : find_kb(buf, key, bytes);
}

int dm_proc_mem_read(pid_t pid, struct dm_proc_mem *m)
{
	char path[64], buf[4096];
	int r;

	if (pid == 0)
		strcpy(path, "/proc/self/status");
	else
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	r = read_file(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	*m = (struct dm_proc_mem){ 0 };
	/* Kernel threads have no Vm* lines: report zeros, not an error. */
	if (find_kb(buf, "VmSize", &m->vm_size) < 0)
		return 0;
	find_kb(buf, "VmLck", &m->vm_lck);
	find_kb(buf, "VmRSS", &m->vm_rss);
	find_kb(buf, "VmSwap", &m->vm_swap);
	return 0;
}
