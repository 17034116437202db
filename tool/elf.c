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
#include <stdlib.h>
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
	*ph = (Elf64_Phdr){ .p_type = p32.p_type,
			    .p_offset = p32.p_offset,
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

/*
 * The dynamic symbols and DT_NEEDED entries of a 64-bit ELF file, from its section headers
 * (SHT_DYNSYM and SHT_DYNAMIC, each with sh_link naming its string table): what a program
 * imports is what it calls through the PLT, which is also what a preloaded wrapper can reach.
 */
#define ELF_TABLE_MAX (64u << 20)

/* malloc()ed, so aligned for the symbol and dynamic entries read into it. */
static int read_section(int fd, const Elf64_Shdr *sh, void **out)
{
	char *buf;
	int r;

	if (sh->sh_size == 0 || sh->sh_size > ELF_TABLE_MAX)
		return -EBADMSG;
	buf = malloc(sh->sh_size + 1);
	if (!buf)
		return -ENOMEM;
	r = read_at(fd, buf, sh->sh_size, (off_t)sh->sh_offset);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[sh->sh_size] = '\0';
	*out = buf;
	return 0;
}

static int walk_section(int fd, const Elf64_Shdr *shdrs, unsigned shnum, unsigned i,
			tool_elf_symbol_fn fn, void *ctx)
{
	const Elf64_Shdr *sh = &shdrs[i], *strsh;
	void *tab = NULL, *strv = NULL;
	char *str;
	int r;

	if (sh->sh_link >= shnum)
		return -EBADMSG;
	strsh = &shdrs[sh->sh_link];
	r = read_section(fd, sh, &tab);
	if (r < 0)
		return r;
	r = read_section(fd, strsh, &strv);
	if (r < 0)
		goto out;
	str = strv;
	if (sh->sh_type == SHT_DYNSYM) {
		const Elf64_Sym *sym = (const Elf64_Sym *)tab;
		size_t n = sh->sh_size / sizeof(*sym);

		for (size_t k = 1; k < n && r == 0; k++) {
			unsigned bind = ELF64_ST_BIND(sym[k].st_info);

			if (sym[k].st_name >= strsh->sh_size || !str[sym[k].st_name])
				continue;
			if (bind != STB_GLOBAL && bind != STB_WEAK)
				continue;
			r = fn(ctx,
			       sym[k].st_shndx == SHN_UNDEF ? TOOL_ELF_IMPORT : TOOL_ELF_EXPORT,
			       str + sym[k].st_name);
		}
	} else {
		const Elf64_Dyn *dyn = (const Elf64_Dyn *)tab;
		size_t n = sh->sh_size / sizeof(*dyn);

		for (size_t k = 0; k < n && dyn[k].d_tag != DT_NULL && r == 0; k++)
			if (dyn[k].d_tag == DT_NEEDED && dyn[k].d_un.d_val < strsh->sh_size)
				r = fn(ctx, TOOL_ELF_NEEDED, str + dyn[k].d_un.d_val);
	}
out:
	free(tab);
	free(strv);
	return r;
}

int tool_elf_symbols(const char *path, tool_elf_symbol_fn fn, void *ctx)
{
	Elf64_Ehdr eh;
	Elf64_Shdr *shdrs = NULL;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	r = read_at(fd, &eh, sizeof(eh), 0);
	if (r < 0)
		goto out;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] !=
		    (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB)) {
		r = -ENOTSUP;
		goto out;
	}
	if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0) {
		r = -EBADMSG;
		goto out;
	}
	shdrs = calloc(eh.e_shnum, sizeof(*shdrs));
	if (!shdrs) {
		r = -ENOMEM;
		goto out;
	}
	r = read_at(fd, shdrs, eh.e_shnum * sizeof(*shdrs), (off_t)eh.e_shoff);
	if (r < 0)
		goto out;
	for (unsigned i = 0; i < eh.e_shnum && r == 0; i++)
		if (shdrs[i].sh_type == SHT_DYNSYM || shdrs[i].sh_type == SHT_DYNAMIC)
			r = walk_section(fd, shdrs, eh.e_shnum, i, fn, ctx);
	if (r > 0)
		r = 0; /* the callback stopped the walk */
out:
	free(shdrs);
	close(fd);
	return r;
}
