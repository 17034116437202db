#!/bin/sh
# SPDX-License-Identifier: MIT OR Apache-2.0
# duende_mlock(3)'s EXAMPLE, compiled and run as the page prints it, against the built library.
# Usage: man-example.sh PAGE.scd INCLUDE_DIR LIBRARY_DIR WORK_DIR   (CC from the environment)
set -eu
page=$1 inc=$2 libdir=$3 work=$4
src="$work/man3-example.c"

# The first ``` block after "# EXAMPLE", with scdoc's escaped backslashes undone.
awk '/^# EXAMPLE/ { ex = 1; next }
     ex && /^```/ { if (inb) exit; inb = 1; next }
     inb { print }' "$page" | sed 's/\\\\/\\/g' >"$src"
[ -s "$src" ] || { echo "no EXAMPLE code block in $page" >&2; exit 1; }
# shellcheck disable=SC2086 # CC may be a command with arguments
${CC:-cc} -std=c11 -Wall -Wextra -Werror -I"$inc" -o "$work/man3-example" "$src" \
	-L"$libdir" -lduende_mlock
out=$(LD_LIBRARY_PATH="$libdir" "$work/man3-example" 2>&1) || {
	echo "the example exited $?: $out" >&2
	exit 1
}
echo "$out"
case $out in
*"mydaemon: locked "*) ;;
*) echo "the example did not say it locked" >&2; exit 1 ;;
esac
