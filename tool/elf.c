/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Is a program dynamically linked? Only a program with a PT_INTERP header is started by ld.so,
 * and only ld.so reads LD_PRELOAD and /etc/ld.so.preload: a static binary cannot be reached by the
 * shim at all (ld.so(8)). Parsed here rather than with libelf to keep the tool's dependencies
 * those of the library.
 */
#include "config.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

static int read_at(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EBADMSG;
}

/* One program header, as a 64-bit one whatever the class. */
static int phdr_at(int fd, bool is64, off_t off, Elf64_Phdr *ph)
{
	Elf32_Phdr p32;
	int r;

	if (is64)
		return read_at(fd, ph, sizeof(*ph), off);
	r = read_at(fd, &p32, sizeof(p32), off);
	if (r < 0)
		return r;
	*ph = (Elf64_Phdr){ .p_type = p32.p_type, .p_offset = p32.p_offset,
			    .p_filesz = p32.p_filesz };
	return 0;
}

static int inspect_elf(int fd, struct tool_elf_info *info)
{
	unsigned char ident[EI_NIDENT];
	Elf64_Ehdr eh;
	bool is64;
	uint64_t phoff;
	unsigned phnum, phentsize;
	int r;

	r = read_at(fd, ident, sizeof(ident), 0);
	if (r < 0)
		return r;
	is64 = ident[EI_CLASS] == ELFCLASS64;
	if (!is64 && ident[EI_CLASS] != ELFCLASS32)
		return -EBADMSG;
	/* Only this machine's byte order can run here; anything else is not ours to judge. */
	if (ident[EI_DATA] !=
	    (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB))
		return -EBADMSG;
	if (is64) {
		r = read_at(fd, &eh, sizeof(eh), 0);
		if (r < 0)
			return r;
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
	} else {
		Elf32_Ehdr e32;

		r = read_at(fd, &e32, sizeof(e32), 0);
		if (r < 0)
			return r;
		phoff = e32.e_phoff;
		phnum = e32.e_phnum;
		phentsize = e32.e_phentsize;
	}
	if (phentsize != (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) || phnum > 4096)
		return -EBADMSG;

	info->kind = TOOL_ELF_STATIC;
	for (unsigned i = 0; i < phnum; i++) {
		Elf64_Phdr ph;
		size_t len;

		r = phdr_at(fd, is64, (off_t)(phoff + (uint64_t)i * phentsize), &ph);
		if (r < 0)
			return r;
		if (ph.p_type != PT_INTERP)
			continue;
		info->kind = TOOL_ELF_DYNAMIC;
		len = ph.p_filesz < sizeof(info->interp) ? (size_t)ph.p_filesz :
							    sizeof(info->interp) - 1;
		r = read_at(fd, info->interp, len, (off_t)ph.p_offset);
		if (r < 0)
			return r;
		info->interp[len] = '\0';
		break;
	}
	return 0;
}

/* "#!/bin/sh -e": the interpreter's path. */
static int inspect_script(int fd, struct tool_elf_info *info)
{
	char line[PATH_MAX + 8];
	ssize_t n = pread(fd, line, sizeof(line) - 1, 0);
	char *p, *end;
	size_t len;

	if (n < 0)
		return -errno;
	line[n] = '\0';
	p = line + 2;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strcspn(p, " \t\n");
	*end = '\0';
	info->kind = TOOL_ELF_SCRIPT;
	len = strnlen(p, sizeof(info->interp) - 1);
	memcpy(info->interp, p, len);
	info->interp[len] = '\0';
	return 0;
}

int tool_elf_inspect(const char *path, struct tool_elf_info *info)
{
	unsigned char magic[4];
	struct stat st;
	int fd, r;

	info->kind = TOOL_ELF_OTHER;
	info->interp[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EISDIR;
		goto out;
	}
	r = read_at(fd, magic, sizeof(magic), 0);
	if (r < 0) {
		r = 0; /* shorter than 4 bytes: neither ELF nor script */
		goto out;
	}
	if (memcmp(magic, ELFMAG, SELFMAG) == 0)
		r = inspect_elf(fd, info);
	else if (magic[0] == '#' && magic[1] == '!')
		r = inspect_script(fd, info);
out:
	close(fd);
	return r;
}
