#!/bin/sh
# The deployment examples are well-formed: the systemd drop-in passes `systemd-analyze verify` in a
# small unit that includes it, and the YAML files parse. Exit 77 (skipped) where a tool is missing,
# except in CI.
# The config examples that README and duende-mlock.conf(5) quote are what the library reads: each
# passes check-config with nothing said.
# Usage: test-examples.sh SOURCE_ROOT TOOL
set -eu
src=$1
tool=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
skipped=""
fail=0

skip() {
	if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
		echo "FAIL: $1, and in CI nothing may be skipped" >&2
		exit 1
	fi
	echo "SKIP: $1" >&2
	skipped="$skipped $1"
}

# systemd reads a drop-in from UNIT.d/ beside the unit file it verifies.
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$tmp/trueno-ublk.service.d"
	cp "$src/examples/systemd/trueno-ublk.service.d/duende-mlock.conf" "$tmp/trueno-ublk.service.d/"
	cat >"$tmp/trueno-ublk.service" <<-UNIT
	[Unit]
	Description=stand-in for trueno-ublk, to verify the duende-mlock drop-in
	[Service]
	ExecStart=/bin/sleep infinity
	[Install]
	WantedBy=multi-user.target
	UNIT
	# verify exits 0 on "Unknown key" and bad values, which it only prints: any output fails.
	out=$(cd "$tmp" && systemd-analyze verify --man=no ./trueno-ublk.service 2>&1) || {
		echo "$out" >&2
		echo "FAIL: systemd-analyze verify failed" >&2
		fail=1
	}
	if [ -n "$out" ]; then
		echo "$out" >&2
		echo "FAIL: systemd-analyze verify complained" >&2
		fail=1
	fi
	# And the drop-in was really read.
	dump=$(cd "$tmp" && SYSTEMD_LOG_LEVEL=debug systemd-analyze verify --man=no ./trueno-ublk.service 2>&1 || true)
	case "$dump" in
	*"DropIn Path: $tmp/trueno-ublk.service.d/duende-mlock.conf"*) echo "ok: systemd drop-in verified" ;;
	*) echo "FAIL: the drop-in was not loaded by systemd-analyze" >&2; fail=1 ;;
	esac
else
	skip "systemd-analyze not installed"
fi

python=""
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import yaml' >/dev/null 2>&1; then
		python=$p
		break
	fi
done
if [ -n "$python" ]; then
	for f in "$src/examples/docker/docker-compose.yml" "$src/examples/kubernetes/pod.yaml"; do
		if "$python" -c 'import yaml,sys; docs = list(yaml.safe_load_all(open(sys.argv[1]))); assert docs and all(isinstance(d, dict) for d in docs)' "$f"; then
			echo "ok: $f parses"
		else
			echo "FAIL: $f does not parse" >&2
			fail=1
		fi
	done
	# The pod and the compose service really ask for the capability and preload the library.
	"$python" - "$src" <<-'PY' || fail=1
	import sys, yaml
	src = sys.argv[1]
	pod = yaml.safe_load(open(src + "/examples/kubernetes/pod.yaml"))
	c = pod["spec"]["containers"][0]
	assert "IPC_LOCK" in c["securityContext"]["capabilities"]["add"], "pod: no IPC_LOCK"
	assert any(e["name"] == "LD_PRELOAD" for e in c["env"]), "pod: no LD_PRELOAD"
	svc = yaml.safe_load(open(src + "/examples/docker/docker-compose.yml"))["services"]["trueno-ublk"]
	assert "IPC_LOCK" in svc["cap_add"], "compose: no IPC_LOCK"
	assert svc["ulimits"]["memlock"] == {"soft": -1, "hard": -1}, "compose: memlock"
	assert "LD_PRELOAD" in svc["environment"], "compose: no LD_PRELOAD"
	print("ok: examples ask for IPC_LOCK and preload the library")
	PY
else
	skip "python3 with PyYAML not installed"
fi

# README points at each example file by its path, and the file is there: README quotes none of
# them, so the two cannot drift apart.
for f in examples/docker/docker-compose.yml examples/systemd/trueno-ublk.service.d/duende-mlock.conf \
	examples/kubernetes/pod.yaml; do
	if [ -f "$src/$f" ] && grep -qF "$f" "$src/README.md"; then
		echo "ok: README names $f"
	else
		echo "FAIL: README does not name $f, or it is missing" >&2
		fail=1
	fi
done

# Each fenced block that sets programs or a program section, in README.md and the conf man page.
n=0
for doc in README.md man/duende-mlock.conf.5.scd; do
	awk -v dir="$tmp" -v base="$(basename "$doc")" '
		/^```/ { if (inb) { close(f); inb = 0 } else { inb = 1; f = sprintf("%s/%s.%d.conf", dir, base, ++k) } next }
		inb { print > f }' "$src/$doc"
	for f in "$tmp/$(basename "$doc")".*.conf; do
		[ -e "$f" ] || continue
		grep -qE '^(programs = |program ")' "$f" || continue
		chmod 644 "$f"
		n=$((n + 1))
		if out=$("$tool" check-config "$f" 2>&1) && [ "$(echo "$out" | grep -c 'duende-mlock:')" = 0 ]; then
			echo "ok: $doc's config example $(basename "$f") reads as written"
		else
			echo "$out" >&2
			echo "FAIL: $doc's config example $(basename "$f") does not read cleanly" >&2
			fail=1
		fi
	done
done
[ "$n" -ge 2 ] || { echo "FAIL: found $n config examples in README and the man page" >&2; fail=1; }

[ "$fail" -eq 0 ] || exit 1
[ -z "$skipped" ] || exit 77
exit 0
