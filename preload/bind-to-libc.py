#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Make the preload object's references to the libc functions it wraps bind to libc, not to itself.

The preload object defines setuid, madvise, mlock... unversioned, so that they interpose glibc's
for the program (a versioned reference such as setuid@GLIBC_2.2.5 accepts an unversioned
definition: glibc elf/dl-lookup.c, check_match). Its own calls to the real functions are
references to the same names, made with .symver (preload/guard.c), and would bind to the wrappers
themselves, first in the search scope. check_match refuses an unversioned definition only to a
reference whose version need is marked hidden (vna_other & 0x8000), and no linker marks a
reference so. This marks them: it sets the hidden bit on the base-version need that the object has
on ld.so (an anchor reference in guard.c creates it; nothing else of ours uses it), makes it a
need on libc.so.6 (which defines the same version), and moves the wrapped names' references onto
it; and it sets the bit on libc's needs that only wrapped names use (mlock2's GLIBC_2.27). Every
other reference of the object (malloc, open...) binds as before.

The loader still binds these references lazily through the PLT, as it binds any program's libc
calls: no lookup at load time, no dlsym(), no raw system call.

Usage: bind-to-libc.py INPUT OUTPUT NAME...
"""
import struct
import sys

SHT_DYNSYM = 11
SHT_GNU_VERNEED = 0x6FFFFFFE
SHT_GNU_VERSYM = 0x6FFFFFFF
HIDDEN = 0x8000
SHN_UNDEF = 0


def fail(msg):
    sys.exit("bind-to-libc: " + msg)


def main():
    src, dst, names = sys.argv[1], sys.argv[2], set(sys.argv[3:])
    b = bytearray(open(src, "rb").read())
    if b[:4] != b"\x7fELF":
        fail(src + ": not an ELF file")
    is64 = b[4] == 2
    end = "<" if b[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", b, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", b, 0x3A)
        shfmt, symfmt, symsize = end + "IIQQQQIIQQ", end + "IBBHQQ", 24
    else:
        shoff, = struct.unpack_from(end + "I", b, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", b, 0x2E)
        shfmt, symfmt, symsize = end + "IIIIIIIIII", end + "IIIBBH", 16
    secs = [struct.unpack_from(shfmt, b, shoff + i * shentsize) for i in range(shnum)]

    def sec(kind):
        found = [s for s in secs if s[1] == kind]
        if len(found) != 1:
            fail("%s: expected one section of type %#x" % (src, kind))
        return found[0]

    def cstr(strsec, off):
        start = strsec[4] + off
        return bytes(b[start:b.index(0, start)]).decode()

    dynsym, versym, verneed = sec(SHT_DYNSYM), sec(SHT_GNU_VERSYM), sec(SHT_GNU_VERNEED)
    dynstr = secs[dynsym[6]]
    needstr = secs[verneed[6]]

    # Every version need: index -> (file, version name, offset of its vernaux entry).
    needs = {}
    files = {}  # file name -> [offset of its verneed entry, offset of the name in .dynstr]
    vn = verneed[4]
    for _ in range(verneed[7]):
        _, cnt, vfile, aux, nxt = struct.unpack_from(end + "HHIII", b, vn)
        files.setdefault(cstr(needstr, vfile), []).append((vn, vfile))
        a = vn + aux
        for _ in range(cnt):
            _, _, other, vname, anext = struct.unpack_from(end + "IHHII", b, a)
            needs[other & 0x7FFF] = (cstr(needstr, vfile), cstr(needstr, vname), a)
            a += anext
        vn += nxt

    # The undefined symbols and their version index.
    refs = []
    for i in range(dynsym[5] // symsize):
        off = dynsym[4] + i * symsize
        if is64:
            name, _, _, shndx, _, _ = struct.unpack_from(symfmt, b, off)
        else:
            name, _, _, _, _, shndx = struct.unpack_from(symfmt, b, off)
        if shndx != SHN_UNDEF or name == 0:
            continue
        vs_off = versym[4] + i * 2
        idx, = struct.unpack_from(end + "H", b, vs_off)
        refs.append((cstr(dynstr, name), idx & 0x7FFF, vs_off))

    wrapped = [r for r in refs if r[0] in names and r[1] in needs and needs[r[1]][0] == "libc.so.6"]
    missing = names - {r[0] for r in wrapped}
    if missing:
        fail("no versioned libc reference to: " + " ".join(sorted(missing)))
    anchors = {i: n for i, n in needs.items() if n[0].startswith("ld")}

    def set_hidden(i):
        off = needs[i][2] + 6
        other, = struct.unpack_from(end + "H", b, off)
        struct.pack_into(end + "H", b, off, other | HIDDEN)

    done = set()
    for name, idx, vs_off in wrapped:
        version = needs[idx][1]
        users = {r[0] for r in refs if r[1] == idx}
        if users <= names:
            # Only wrapped names use this need (mlock2's GLIBC_2.27): mark it.
            set_hidden(idx)
            continue
        anchor = [i for i, n in anchors.items() if n[1] == version]
        if not anchor:
            fail("no %s need on ld.so to move %s onto (guard.c's anchor)" % (version, name))
        struct.pack_into(end + "H", b, vs_off, anchor[0])
        done.add(anchor[0])
    for i in done:
        set_hidden(i)
    if done:
        # The version check then looks the need up in libc, which defines the same version,
        # rather than in ld.so by name (some 500 instructions less in every process).
        libc_name = files["libc.so.6"][0][1]
        for vn_off, _ in files[needs[next(iter(done))][0]]:
            struct.pack_into(end + "I", b, vn_off + 4, libc_name)
    open(dst, "wb").write(b)


main()
