#!/bin/sh
# `meson install` into a DESTDIR puts everything in place: the library and its symlinks, the
# header, the pkg-config file, the tool, the man pages, the example config and the deployment
# examples. The installed tool names the installed library, and that library loads.
# Usage: test-install.sh MESON BUILD_ROOT PREFIX LIBDIR INCLUDEDIR SBINDIR MANDIR DATADIR MAN(yes|no)
set -eu
meson=$1 build=$2 prefix=$3 libdir=$4 includedir=$5 sbindir=$6 mandir=$7 datadir=$8 man=$9

# Relative install dirs are under the prefix; absolute ones stand alone.
under() {
	case "$1" in
	/*) echo "$1" ;;
	*) echo "$prefix/$1" ;;
	esac
}

dest=$(mktemp -d "$build/install-test.XXXXXX")
trap 'rm -rf "$dest"' EXIT
"$meson" install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$dest.log" 2>&1 || {
	cat "$dest.log" >&2
	rm -f "$dest.log"
	echo "FAIL: meson install" >&2
	exit 1
}
rm -f "$dest.log"

fail=0
lib=$dest$(under "$libdir")
doc=$dest$(under "$datadir")/doc/duende-mlock
tool=$dest$(under "$sbindir")/duende-mlock

need() { # TEST PATH WHAT, TEST one of -f (a file), -L (a symlink), -x (executable)
	case $1 in
	-f) [ -f "$2" ] ;;
	-L) [ -L "$2" ] ;;
	-x) [ -x "$2" ] ;;
	*) false ;;
	esac
	if [ $? -eq 0 ]; then
		echo "ok: $3"
	else
		echo "FAIL: $3: $2" >&2
		fail=1
	fi
}

need -f "$lib/libduende_mlock.so.1.1.0" "API library"
need -f "$lib/libduende_mlock_preload.so" "preload object"
need -f "$lib/libduende_mlock_io.so" "swap server I/O object"
need -f "$lib/libduende_mlock.a" "static archive"
need -L "$lib/libduende_mlock.so.1" "SONAME symlink"
need -L "$lib/libduende_mlock.so" "development symlink"
[ "$(readlink "$lib/libduende_mlock.so.1")" = libduende_mlock.so.1.1.0 ] ||
	{ echo "FAIL: libduende_mlock.so.1 points elsewhere" >&2; fail=1; }
need -f "$dest$(under "$includedir")/duende_mlock.h" "header"
need -f "$lib/pkgconfig/duende-mlock.pc" "pkg-config file"
grep -q -- '-lduende_mlock' "$lib/pkgconfig/duende-mlock.pc" ||
	{ echo "FAIL: pkg-config file lacks -lduende_mlock" >&2; fail=1; }
need -x "$tool" "tool"
if [ "$man" = yes ]; then
	man_root=$dest$(under "$mandir")
	need -f "$man_root/man8/duende-mlock.8" "duende-mlock(8)"
	need -f "$man_root/man5/duende-mlock.conf.5" "duende-mlock.conf(5)"
	need -f "$man_root/man3/duende_mlock.3" "duende_mlock(3)"
	grep -q '^\.TH' "$man_root/man8/duende-mlock.8" || { echo "FAIL: man page is not roff" >&2; fail=1; }
fi
need -f "$doc/examples/duende-mlock.conf" "example config"
need -f "$doc/examples/systemd/trueno-ublk.service.d/duende-mlock.conf" "systemd drop-in"
need -f "$doc/examples/docker/docker-compose.yml" "docker-compose example"
need -f "$doc/examples/kubernetes/pod.yaml" "kubernetes example"
# Nothing goes to /etc: the config is an example, never a live file.
if [ -e "$dest/etc" ] || [ -e "$dest$prefix/etc" ]; then
	echo "FAIL: install wrote under etc: $(find "$dest" -path '*/etc/*')" >&2
	fail=1
fi

# The example config as shipped is valid and changes nothing.
out=$(DUENDE_MLOCK_LIBRARY='' "$tool" check-config "$doc/examples/duende-mlock.conf" 2>&1) || {
	echo "$out" >&2
	echo "FAIL: check-config rejects the example config" >&2
	fail=1
}
if echo "$out" | grep -q '# file'; then
	echo "FAIL: the example config sets something:" >&2
	echo "$out" >&2
	fail=1
fi

# Every key of the example, uncommented, is valid: the documented values parse.
sed 's/^#\([a-z]*\) = /\1 = /' "$doc/examples/duende-mlock.conf" >"$dest/all-keys.conf"
out=$("$tool" check-config "$dest/all-keys.conf" 2>&1) || {
	echo "$out" >&2
	echo "FAIL: the example config with every key uncommented does not parse" >&2
	fail=1
}
keys=$(grep -c '^#[a-z]* = ' "$doc/examples/duende-mlock.conf")
if [ "$(echo "$out" | grep -c '# file')" -ne "$keys" ]; then
	echo "FAIL: expected $keys keys from the file:" >&2
	echo "$out" >&2
	fail=1
else
	echo "ok: every documented key parses"
fi

# On Debian, /usr and /usr/local installs land where the loader and pkg-config look (meson's
# lib64 fallback without dpkg-dev was searched by neither).
libdir_abs=$(under "$libdir")
if [ -f /etc/debian_version ] && { [ "$prefix" = /usr ] || [ "$prefix" = /usr/local ]; }; then
	# What ldconfig caches: the loader's built-in directories and those of ld.so.conf (which
	# ldconfig -v would list only where they exist already).
	searched=$( (/lib64/ld-linux-x86-64.so.2 --list-diagnostics 2>/dev/null |
		sed -n 's/^path.system_dirs\[.*\]="\(.*\)\/"$/\1/p'
		cat /etc/ld.so.conf /etc/ld.so.conf.d/*.conf 2>/dev/null | grep '^/') | sort -u)
	if echo "$searched" | grep -qx "$libdir_abs"; then
		echo "ok: the loader searches $libdir_abs"
	else
		echo "FAIL: the loader does not search $libdir_abs: $(echo $searched)" >&2
		fail=1
	fi
	if ! command -v pkg-config >/dev/null; then
		echo "ok: (no pkg-config here to ask)"
	elif pkg-config --variable pc_path pkg-config | tr ':' '\n' | grep -qx "$libdir_abs/pkgconfig"; then
		echo "ok: pkg-config searches $libdir_abs/pkgconfig"
	else
		echo "FAIL: pkg-config does not search $libdir_abs/pkgconfig" >&2
		fail=1
	fi
fi

# The installed tool's default library path is where the library was installed.
want=$(under "$libdir")/libduende_mlock_preload.so
if DUENDE_MLOCK_LIBRARY='' "$tool" doctor 2>&1 | grep -q "$want"; then
	echo "ok: the tool's library path is $want"
else
	echo "FAIL: the tool does not name $want" >&2
	fail=1
fi
# And the installed library loads and locks (needs the right to lock: root, or a limit). Not
# under ASan: its runtime must come first in LD_PRELOAD, and it turns mlockall() into a no-op;
# scripts/test-sanitizers runs this check in the UBSan build instead.
if [ "${DM_TEST_SANITIZER:-}" = address ]; then
	echo "ok: (ASan build: the installed library's locking is checked in the other builds)"
else
out=$(DUENDE_MLOCK_LIBRARY="$lib/libduende_mlock_preload.so" DUENDE_MLOCK_CONFIG=/nonexistent \
	"$tool" run -- sh -c 'grep ^VmLck /proc/$$/status' 2>&1) || true
case "$out" in
*"locked "*) echo "ok: the installed library locks: $(echo "$out" | tail -1)" ;;
*) echo "FAIL: the installed library did not report locking:" >&2; echo "$out" >&2; fail=1 ;;
esac
fi

exit "$fail"
