#!/bin/bash
# The field suite: Debian's own daemons and runtimes doing their job, each started without the
# preload and with it, in two conditions, and checked by use (a page served, a key read back, a
# script's exit status), not by VmLck alone.
#
#   container  root with CAP_IPC_LOCK, without CAP_SYS_RESOURCE, RLIMIT_MEMLOCK 8 MiB soft and hard:
#              what `docker run --cap-add=IPC_LOCK` gives; the limit cannot be lifted.
#   nocap      the same, and CAP_IPC_LOCK dropped from the bounding set: a plain container.
#   root       root with CAP_SYS_RESOURCE, the same finite limit, which the library lifts: every
#              daemon, workers included, stays locked. Only where the machine gives root
#              CAP_SYS_RESOURCE (a container does not); said, not skipped, where it does not.
#
# A case passes when it works with the preload as it works without it, and the library did what it
# says: the main process holds locked memory, or, where the daemon drops root itself in the
# container condition, the library said it unlocked (preload/guard.c). Cases known to fail are
# listed in XFAIL below; the work that fixes one removes it from there.
#
# Usage: daemons.sh LIBRARY VICTIM [CASE...]
# Exit 77 (skipped) where the machine cannot run it (not root, a package missing), except in CI.
set -u

lib=$1
victim=$2
shift 2
only=("$@")

# "case:condition" pairs that fail with the preload today, in one place.
XFAIL=""

limit=$((8 << 20))
in_ci() { [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; }
skip() {
	if in_ci; then
		echo "FAIL: $1, and in CI nothing may be skipped" >&2
		exit 1
	fi
	echo "SKIP: $1" >&2
	exit 77
}

# Under ASan the runtime must come first in every daemon's LD_PRELOAD and it turns mlockall()
# into a no-op: nothing here would mean anything. The other builds run the suite.
if [ "${DM_TEST_SANITIZER:-}" = address ]; then
	echo "ok: (ASan build: the field suite runs in the other builds)"
	exit 0
fi
[ "$(id -u)" -eq 0 ] || skip "the field suite starts daemons as root and drops to their users"
for tool in setpriv prlimit curl timeout setsid nginx haproxy memcached chronyd chronyc \
	redis-server redis-cli node java; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool is missing (scripts/deps installs it)"
done
for user in www-data haproxy memcache _chrony; do
	id "$user" >/dev/null 2>&1 || skip "user $user is missing (its Debian package creates it)"
done

top=$(mktemp -d /tmp/dm-field.XXXXXX)
chmod 755 "$top"
pgids=()
cleanup() {
	for g in "${pgids[@]}"; do
		kill -KILL -- "-$g" 2>/dev/null
	done
	rm -rf "$top"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- helpers -----------------------------------------------------------------------------------

# The condition's wrapper: the limit first (prlimit may still hold CAP_SYS_RESOURCE to set it),
# then the bounding set, which takes the capabilities away from what is exec'd next.
cond_cmd() { # condition
	case $1 in
	root) echo "prlimit --memlock=$limit:$limit" ;;
	container) echo "prlimit --memlock=$limit:$limit setpriv --bounding-set=-sys_resource" ;;
	nocap)
		echo "prlimit --memlock=$limit:$limit setpriv" \
			"--bounding-set=-sys_resource,-ipc_lock --inh-caps=-ipc_lock,-sys_resource"
		;;
	esac
}

# The preload, or none. Nothing else of the environment decides for the library.
shim_cmd() { # yes|no
	if [ "$1" = yes ]; then
		echo "env -u DUENDE_MLOCK_PROGRAMS DUENDE_MLOCK_CONFIG=/nonexistent LD_PRELOAD=$lib"
	else
		echo "env -u LD_PRELOAD"
	fi
}

port_in_use() {
	local hex
	hex=$(printf ':%04X ' "$1")
	grep -q "$hex" /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 2>/dev/null
}
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		port_in_use "$p" || { echo "$p"; return; }
	done
}

# Start a daemon in its own process group (setsid does not fork here: a background job of a
# non-interactive shell is no group leader), so that stopping it stops its workers too.
# Sets $pid. Output goes to $dir/log.
launch() { # condition shim command...
	local c s
	c=$(cond_cmd "$1")
	s=$(shim_cmd "$2")
	shift 2
	# shellcheck disable=SC2086 # the wrappers are words
	setsid $c $s "$@" >"$dir/log" 2>&1 </dev/null &
	pid=$!
	pgids+=("$pid")
}

# The same, in the foreground, bounded: for programs that run and exit.
run_bounded() { # condition shim seconds command...
	local c s t
	c=$(cond_cmd "$1")
	s=$(shim_cmd "$2")
	t=$3
	shift 3
	# shellcheck disable=SC2086
	timeout -k 5 "$t" $c $s "$@" >"$dir/log" 2>&1 </dev/null
}

stop() {
	kill -TERM -- "-$pid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*zombie' "/proc/$1/status" 2>/dev/null; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
children() { cat "/proc/$1/task/$1/children" 2>/dev/null; }

# Poll a command until it succeeds, for at most $1 seconds, and only while the daemon ($pid, when
# set) is alive: a daemon that died answers nothing, and waiting for it only slows the suite.
until_ok() { # seconds command...
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -lt "$end" ]; do
		"$@" && return 0
		[ -z "$pid" ] || alive "$pid" || return 1
		sleep 0.1
	done
	return 1
}

# The process and, for a master, its workers: "VmLck kB" of each, for the table.
locks_of() { # pid
	local out w
	out="master VmLck $(status_kb "$1" VmLck)k"
	for w in $(children "$1"); do
		out="$out, worker $(status_kb "$w" VmLck)k"
	done
	echo "$out"
}

# What the program itself said (not the library), first line matching a pattern.
program_said() { grep -v 'duende-mlock:' "$dir/log" | grep -m1 -iE "$1" | cut -c1-120; }

# The library's own line, for the log: what it said it did.
shim_said() { grep -h -o 'duende-mlock: .*' "$dir"/*log* | sort -u | head -n 3 | cut -c1-200; }

# ---- the cases ---------------------------------------------------------------------------------
# Each runs in a fresh $dir, sets $detail, and returns 0 when the program did its job.
# $vmlck_required: the main process must hold locked memory (checked only with the preload).

http_get() { # url want
	[ "$(curl -s --max-time 2 "$1")" = "$2" ]
}

case_nginx() { # condition shim
	local port
	port=$(free_port)
	mkdir "$dir/www"
	echo duende-field-ok >"$dir/www/index.html"
	head -c 1000000 /dev/urandom | base64 >"$dir/www/big.txt"
	cat >"$dir/nginx.conf" <<-EOF
	daemon off;
	user www-data;
	worker_processes 2;
	pid $dir/nginx.pid;
	error_log $dir/error.log info;
	events { worker_connections 64; }
	http {
		include /etc/nginx/mime.types;
		access_log $dir/access.log;
		gzip on;
		gzip_types text/plain;
		client_body_temp_path $dir/body;
		proxy_temp_path $dir/proxy;
		fastcgi_temp_path $dir/fastcgi;
		uwsgi_temp_path $dir/uwsgi;
		scgi_temp_path $dir/scgi;
		server { listen 127.0.0.1:$port; root $dir/www; }
	}
	EOF
	launch "$1" "$2" nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
	if ! until_ok 10 http_get "http://127.0.0.1:$port/" duende-field-ok; then
		detail="no page in 10 s: $(grep -m1 -E 'emerg|alert|crit' "$dir/error.log" | cut -c1-120)"
		return 1
	fi
	# Debian's usual settings: compressed responses, which the workers allocate for.
	if ! curl -s --max-time 20 --compressed "http://127.0.0.1:$port/big.txt" |
		cmp -s - "$dir/www/big.txt"; then
		detail="index served, but not big.txt compressed"
		return 1
	fi
	sleep 0.3
	detail="serves; $(locks_of "$pid")"
	[ "$(children "$pid" | wc -w)" -eq 2 ] || { detail="$detail; workers missing"; return 1; }
	vmlck_pid=$pid
	return 0
}

case_haproxy() {
	local front origin
	front=$(free_port)
	origin=$(free_port)
	cat >"$dir/haproxy.cfg" <<-EOF
	global
		user haproxy
		group haproxy
	defaults
		mode http
		timeout connect 2s
		timeout client 5s
		timeout server 5s
	frontend front
		bind 127.0.0.1:$front
		default_backend origin
	backend origin
		server origin 127.0.0.1:$origin
	frontend origin
		bind 127.0.0.1:$origin
		http-request return status 200 content-type text/plain string duende-field-ok
	EOF
	launch "$1" "$2" haproxy -db -f "$dir/haproxy.cfg"
	if ! until_ok 10 http_get "http://127.0.0.1:$front/" duende-field-ok; then
		detail="no proxied answer in 10 s: $(program_said 'alert|fatal')"
		alive "$pid" || detail="$detail; haproxy died"
		return 1
	fi
	detail="proxies; $(locks_of "$pid")"
	drops_root=$pid
}

memcached_setget() { # port
	local out
	# shellcheck disable=SC2016 # expanded by the inner shell
	out=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
		printf "set duende 0 0 8\r\nfield-ok\r\nget duende\r\nquit\r\n" >&3 && cat <&3' _ "$1" \
		2>/dev/null)
	case $out in *"VALUE duende 0 8"*field-ok*) return 0 ;; esac
	return 1
}

case_memcached() {
	local port
	port=$(free_port)
	launch "$1" "$2" memcached -u memcache -l 127.0.0.1 -p "$port" -U 0 -m 64
	if ! until_ok 10 memcached_setget "$port"; then
		detail="no set/get in 10 s: $(program_said .)"
		return 1
	fi
	detail="set/get; $(locks_of "$pid")"
	drops_root=$pid
}

case_chronyd() {
	local port
	port=$(free_port)
	# No time sources and -x: it never touches the clock. The command port on loopback is how
	# it is asked whether it runs.
	cat >"$dir/chrony.conf" <<-EOF
	pidfile $dir/chronyd.pid
	port 0
	cmdport $port
	bindcmdaddress 127.0.0.1
	bindcmdaddress /
	EOF
	launch "$1" "$2" chronyd -d -x -F 1 -u _chrony -f "$dir/chrony.conf"
	if ! until_ok 10 timeout 2 chronyc -n -h 127.0.0.1 -p "$port" tracking >/dev/null 2>&1; then
		detail="no answer on its command port in 10 s: $(program_said 'fatal|fail')"
		return 1
	fi
	sleep 2
	if ! alive "$pid"; then
		detail="answered, then died: $(program_said 'fatal|fail')"
		return 1
	fi
	detail="answers tracking, up after 2 s; $(locks_of "$pid")"
	drops_root=$pid
}

case_node() {
	# The V8 heap grows to about 200 MiB and is given back, four times; V8 frees with madvise().
	cat >"$dir/churn.js" <<-'EOF'
	for (let round = 0; round < 4; round++) {
		let keep = [];
		for (let i = 0; i < 200; i++)
			keep.push(new Array(131072).fill(i + 0.5));
		keep = null;
		global.gc();
	}
	console.log("churn-ok");
	EOF
	if ! run_bounded "$1" "$2" 120 node --expose-gc "$dir/churn.js" ||
		! grep -q churn-ok "$dir/log"; then
		detail="failed: $(program_said 'check failed|fatal|error|abort')"
		return 1
	fi
	detail="exits 0"
}

redis_rss() { status_kb "$pid" VmRSS; }

case_redis() {
	local port peak after cli
	port=$(free_port)
	launch "$1" "$2" redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
		--appendonly no --daemonize no --enable-debug-command local --unixsocket ''
	cli=(timeout 60 redis-cli -p "$port")
	if ! until_ok 10 "${cli[@]}" ping >/dev/null 2>&1; then
		detail="no PONG in 10 s: $(program_said .)"
		return 1
	fi
	"${cli[@]}" debug populate 400000 duende 512 >/dev/null
	peak=$(redis_rss)
	"${cli[@]}" flushall >/dev/null
	# jemalloc returns memory in its own time, MEMORY PURGE or not: a few seconds to do it.
	given_back() {
		"${cli[@]}" memory purge >/dev/null
		after=$(redis_rss)
		[ -n "$peak" ] && [ -n "$after" ] && [ $((after * 3)) -lt "$peak" ]
	}
	until_ok 5 given_back
	detail="RSS $((peak >> 10)) MiB full, $((after >> 10)) MiB after FLUSHALL + MEMORY PURGE"
	detail="$detail; $(locks_of "$pid")"
	vmlck_pid=
	# Given back: at most a third of the peak stays.
	given_back
}

victim_value() { sed -n "s/^$1=//p" "$dir/log" | head -1; }

case_secrets() {
	# The program locks 6 MiB of its own within the 8 MiB limit.
	run_bounded "$1" "$2" 30 "$victim" mlock 6
	detail="VmLck before its mlock $(($(victim_value ctor_vm_lck) >> 10))k, mlock() $(victim_value \
		mlock) errno $(victim_value mlock_errno), VmLck after $(($(victim_value vm_lck) >> 10))k"
	[ "$(victim_value mlock)" = 0 ] || return 1
	# With the preload, the library's own lock was there before the program's.
	[ "$2" = no ] || [ "$(victim_value ctor_vm_lck)" -gt 0 ]
}

case_threads() {
	run_bounded "$1" "$2" 60 "$victim" threads 200 || { detail="exit status $?"; return 1; }
	if grep -q thread_failed_at "$dir/log"; then
		detail="pthread_create failed at thread $(victim_value thread_failed_at)"
		return 1
	fi
	detail="200 threads; VmLck $(($(victim_value vm_lck) >> 10))k"
}

case_jvm() {
	if ! run_bounded "$1" "$2" 60 java -Xmx64m -version; then
		detail="failed: $(program_said .)"
		return 1
	fi
	detail="java -version exits 0"
}

# ---- the run -----------------------------------------------------------------------------------

cases=(nginx haproxy memcached chronyd node redis secrets threads jvm)
[ ${#only[@]} -gt 0 ] && cases=("${only[@]}")
passed=0
failed=0
xfailed=0
xpassed=0
n=0

one() { # case condition shim; returns the case's status
	n=$((n + 1))
	dir="$top/$n-$1-$2-$3"
	mkdir "$dir"
	chmod 755 "$dir"
	detail=
	vmlck_pid=
	drops_root=
	pid=
	local t0=$SECONDS
	"case_$1" "$2" "$3"
	local r=$?
	# Root with CAP_SYS_RESOURCE: the limit is lifted, nothing is unlocked, workers included.
	if [ "$r" -eq 0 ] && [ "$3" = yes ] && [ "$2" = root ]; then
		for p in $vmlck_pid $drops_root $(children "${vmlck_pid:-0}"); do
			if [ "$(status_kb "$p" VmLck)" = 0 ]; then
				detail="$detail; pid $p not locked"
				r=1
			fi
		done
	fi
	# With the preload, the daemon's main process holds locked memory where it could lock; one
	# that drops root itself is unlocked then, and the library says so.
	if [ "$r" -eq 0 ] && [ "$3" = yes ] && [ "$2" = container ]; then
		if [ -n "$vmlck_pid" ] && [ "$(status_kb "$vmlck_pid" VmLck)" = 0 ]; then
			detail="$detail; not locked"
			r=1
		fi
		if [ -n "$drops_root" ] && ! grep -q 'dropped CAP_IPC_LOCK' "$dir"/*log*; then
			detail="$detail; unlocked without a word"
			r=1
		fi
	fi
	[ -n "$pid" ] && stop
	detail="$detail ($((SECONDS - t0)) s)"
	return "$r"
}

conditions="container nocap"
if [ $(($(awk '$1 == "CapEff:" { print "0x" $2 }' /proc/self/status) >> 24 & 1)) -eq 1 ]; then
	conditions="root $conditions"
else
	echo "note: root here lacks CAP_SYS_RESOURCE (a container): the root condition is left out"
fi

for c in "${cases[@]}"; do
	for cond in $conditions; do
		one "$c" "$cond" no
		base=$?
		base_detail=$detail
		one "$c" "$cond" yes
		with=$?
		said=$(shim_said)
		xfail=no
		case " $(echo "$XFAIL" | tr '\n' ' ') " in *" $c:$cond "*) xfail=yes ;; esac
		if [ "$base" -ne 0 ]; then
			verdict=FAIL
			why="does not work without the preload either: $base_detail"
		elif [ "$with" -eq 0 ] && [ "$xfail" = no ]; then
			verdict=PASS
			why=
		elif [ "$with" -eq 0 ]; then
			verdict=XPASS
			why="works now: take $c:$cond out of XFAIL in tests/daemons.sh"
		elif [ "$xfail" = yes ]; then
			verdict=XFAIL
			why=
		else
			verdict=FAIL
			why="works without the preload, not with it"
		fi
		printf '%-5s %-9s %-9s without: %s\n' "$verdict" "$c" "$cond" "$base_detail"
		printf '%-25s with:    %s\n' "" "$detail"
		printf '%s\n' "$said" | while IFS= read -r line; do
			[ -n "$line" ] && printf '%-25s %s\n' "" "$line"
		done
		[ -n "$why" ] && printf '%-25s %s\n' "" "$why"
		if [ "$verdict" = FAIL ]; then
			echo "---- log of the last run ($dir/log):"
			tail -n 15 "$dir/log"
			echo "----"
		fi
		case $verdict in
		PASS) passed=$((passed + 1)) ;;
		FAIL) failed=$((failed + 1)) ;;
		XFAIL) xfailed=$((xfailed + 1)) ;;
		XPASS) xpassed=$((xpassed + 1)) ;;
		esac
	done
done

echo "field: $passed passed, $failed failed, $xfailed expected failures, $xpassed unexpected passes"
[ "$failed" -eq 0 ]
