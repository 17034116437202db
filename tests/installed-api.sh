#!/bin/sh
# The public API as a consumer meets it, on an installed tree: a program outside the repository
# includes <duende_mlock.h>, builds with `pkg-config --cflags --libs duende-mlock` and nothing
# else, calls dmlock_lock_all() and sees itself locked; under denial it gets
# DMLOCK_ERR_PERMISSION_DENIED and a message naming CAP_IPC_LOCK.
#
# The project is configured, built and DESTDIR-installed here in a temporary directory of its
# own: `meson install` of the build dir under test would race the other install test, and would
# miss targets that a partial `meson test` run did not rebuild.
#
# Usage: installed-api.sh MESON SOURCE_ROOT WORK_DIR EXAMPLE.c   (CC and CXX from the environment)
set -eu
meson=$1 src=$2 work=$3 example=$4
cc=${CC:-cc}

tmp=$(mktemp -d "$work/installed-api.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
quiet() {
	"$@" >"$tmp/log" 2>&1 || {
		cat "$tmp/log" >&2
		fail "$*"
	}
}
# "key=value" printed by the example.
val() {
	printf '%s\n' "$2" | sed -n "s/^$1=//p" | head -n 1
}

# meson's default prefix (/usr/local) and libdir: what `meson setup && meson install` gives a
# user. Not /usr: pkg-config drops -I/usr/include before it adds the sysroot.
quiet "$meson" setup "$tmp/build" "$src" -Dtests=false -Dprefix=/usr/local
quiet "$meson" compile -C "$tmp/build"
quiet "$meson" install -C "$tmp/build" --destdir "$tmp/root" --no-rebuild

# The installed tree: the library under its soname, the development symlink, header, .pc file.
pc=$(find "$tmp/root" -name duende-mlock.pc)
if [ -z "$pc" ] || [ "$(echo "$pc" | wc -l)" -ne 1 ]; then
	fail "one duende-mlock.pc expected: '$pc'"
fi
libdir=$(dirname "$(dirname "$pc")")
so=$libdir/libduende_mlock.so.1
[ -f "$so" ] || fail "no $so"
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libduende_mlock.so.1 ] || fail "SONAME is '$soname', want libduende_mlock.so.1"
[ -L "$libdir/libduende_mlock.so" ] || fail "no development symlink libduende_mlock.so"
[ "$(readlink -f "$libdir/libduende_mlock.so")" = "$(readlink -f "$so")" ] ||
	fail "libduende_mlock.so does not lead to $so"
echo "ok: $so, SONAME $soname, development symlink"

export PKG_CONFIG_PATH="$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig" # the installed file, never one from the system
cflags=$(pkg-config --cflags duende-mlock) || fail "pkg-config --cflags duende-mlock"
libs=$(pkg-config --libs duende-mlock) || fail "pkg-config --libs duende-mlock"
case "$cflags" in
*"-I$tmp/root/"*) ;;
*) fail "pkg-config --cflags does not point into the install: '$cflags'" ;;
esac
inc=$(echo "$cflags" | sed 's/.*-I\([^ ]*\).*/\1/')
[ -f "$inc/duende_mlock.h" ] || fail "no duende_mlock.h in $inc"
echo "ok: header $inc/duende_mlock.h; cflags '$cflags' libs '$libs'"

# Strict C11 with every warning an error: the header must be clean for any user. Nothing of the
# source tree is on the include path.
strict="-std=c11 -Wall -Wextra -Wpedantic -Wstrict-prototypes -Wundef -Wshadow -Werror"
# shellcheck disable=SC2086 # word splitting of CC, of the flags and of pkg-config's output
$cc $strict $cflags -o "$tmp/example" "$example" $libs ||
	fail "the example does not build against the installed header and .pc file"
readelf -d "$tmp/example" | grep -q 'NEEDED.*\[libduende_mlock\.so\.1\]' ||
	fail "the example does not need libduende_mlock.so.1 by its soname"
echo "ok: built with $cc against the installed tree"

# And from C++: the header's extern "C" lets a C++ program link the same symbols.
cxx=${CXX:-c++}
if command -v "${cxx%% *}" >/dev/null 2>&1; then
	printf '%s\n' '#include <duende_mlock.h>' \
		'int main() { struct dmlock_status s; return dmlock_lock_all(&s) ? 1 : 0; }' \
		>"$tmp/example.cc"
	# shellcheck disable=SC2086
	$cxx -Wall -Wextra -Werror $cflags -o "$tmp/example-cxx" "$tmp/example.cc" $libs ||
		fail "a C++ program does not build against the installed header"
	echo "ok: built with $cxx"
fi

run() {
	LD_LIBRARY_PATH=$libdir "$@" "$tmp/example"
}

# Locking, with the right to lock (root has CAP_IPC_LOCK; anyone else needs a limit that
# covers the program).
out=$(run env) || fail "the example failed: $out"
echo "$out" | sed 's/^/  /'
lib=$(val library "$out")
case "$lib" in
"$libdir"/*) ;;
*) fail "the example loaded '$lib', not the installed library" ;;
esac
[ "$(val before_is_locked "$out")" = 0 ] || fail "locked before dmlock_lock_all(): linking did it"
if [ "$(val rc "$out")" != 0 ] && [ "$(id -u)" != 0 ] && [ "${CI:-}" != true ]; then
	echo "SKIP: not root, and this user cannot lock: $(val status "$out")"
	exit 77
fi
[ "$(val rc "$out")" = 0 ] || fail "dmlock_lock_all() returned $(val rc "$out")"
[ "$(val is_locked "$out")" = 1 ] || fail "dmlock_is_locked() is not true"
[ "$(val locked_bytes "$out")" -gt 0 ] || fail "dmlock_locked_bytes() is 0"
echo "ok: dmlock_lock_all() 0, dmlock_is_locked() true, $(val locked_bytes "$out") bytes"

# Denied: CAP_IPC_LOCK out of every set (root gets it back at execve from the bounding set
# otherwise) and RLIMIT_MEMLOCK 0.
if [ "$(id -u)" = 0 ]; then
	out=$(run setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock prlimit --memlock=0:0) ||
		fail "the example failed under denial: $out"
else
	out=$(run prlimit --memlock=0:0) || fail "the example failed under denial: $out"
fi
echo "$out" | sed 's/^/  /'
[ "$(val cap_ipc_lock "$out")" = 0 ] || fail "CAP_IPC_LOCK was not dropped"
[ "$(val rc_is_permission_denied "$out")" = 1 ] ||
	fail "rc $(val rc "$out"), want DMLOCK_ERR_PERMISSION_DENIED"
[ "$(val is_locked "$out")" = 0 ] || fail "locked although denied"
case "$(val strerror "$out")" in
*CAP_IPC_LOCK*) ;;
*) fail "dmlock_strerror() does not name CAP_IPC_LOCK: $(val strerror "$out")" ;;
esac
echo "ok: denied gives DMLOCK_ERR_PERMISSION_DENIED and names CAP_IPC_LOCK"
