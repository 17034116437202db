#!/bin/sh
# What each object exports is exactly what it means to: the API library every dmlock_* function
# of the public header and nothing else; the preload object only the names its version script
# lists (anything else would interpose on symbols of every host it is preloaded into).
# The I/O object likewise exports only what io.sym lists.
# Usage: check-exports.sh API_LIB HEADER PRELOAD_LIB PRELOAD_SYM IO_LIB IO_SYM
set -eu
api=$1
header=$2
preload=$3
preload_sym=$4
io=$5
io_sym=$6
status=0

defined() {
	nm -D --defined-only "$1" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }'
}

exported=$(defined "$api")
[ -n "$exported" ] || { echo "no dynamic symbols found in $api"; exit 1; }
for sym in $exported; do
	case $sym in
	dmlock_*)
		grep -q "\\b$sym(" "$header" || { echo "exported but not in the header: $sym"; status=1; } ;;
	*)
		echo "leaked symbol from $api: $sym"; status=1 ;;
	esac
done
# And each function the header declares is really exported.
for sym in $(grep -o '\bdmlock_[a-z_]*(' "$header" | tr -d '(' | sort -u); do
	echo "$exported" | grep -qx "$sym" || { echo "declared but not exported: $sym"; status=1; }
done

# The names listed under global: in a version script, one per line ("name;").
listed() {
	sed -n '/^global:/,/^local:/p' "$1" | sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);.*/\1/p' | sort
}

# An object exports exactly what its version script lists, and never the API.
exports_listed() {
	# (sh has no local: these names are used nowhere else)
	wanted=$(listed "$2")
	got=$(defined "$1" | sort)
	if [ "$got" != "$wanted" ]; then
		echo "$1 exports:"; echo "$got" | sed 's/^/  /'
		echo "its version script lists:"; echo "$wanted" | sed 's/^/  /'
		status=1
	fi
	echo "$got" | grep -q '^dmlock_' && { echo "$1 exports the API"; status=1; }
	echo "$got" | wc -l
}
n_preload=$(exports_listed "$preload" "$preload_sym")
n_io=$(exports_listed "$io" "$io_sym")

[ $status -eq 0 ] && echo "exports: $(echo "$exported" | wc -l) dmlock_* symbols from the API;" \
	"$n_preload names from the preload object, $n_io from the I/O object"
exit $status
