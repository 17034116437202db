#!/bin/sh
# Every dynamic symbol the library defines must be a dmlock_* function declared in the public
# header: anything else would interpose on symbols of every host it is preloaded into.
set -eu
lib=$1
header=$2
status=0
defined=$(nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }')
[ -n "$defined" ] || { echo "no dynamic symbols found in $lib"; exit 1; }
for sym in $defined; do
	case $sym in
	dmlock_*)
		grep -q "\\b$sym(" "$header" || { echo "exported but not in the header: $sym"; status=1; } ;;
	*)
		echo "leaked symbol: $sym"; status=1 ;;
	esac
done
# And each function the header declares is really exported.
for sym in $(grep -o '\bdmlock_[a-z_]*(' "$header" | tr -d '(' | sort -u); do
	echo "$defined" | grep -qx "$sym" || { echo "declared but not exported: $sym"; status=1; }
done
[ $status -eq 0 ] && echo "exports: $(echo "$defined" | wc -l) dmlock_* symbols, nothing else"
exit $status
