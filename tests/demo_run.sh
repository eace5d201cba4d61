#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make run's demo (scripts/demo.sh) works on a fresh data directory and again
# on the same one (apps are durable: the second run rotates the demo app's
# secret), and stops cleanly on SIGTERM (a background job ignores SIGINT).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ -x "$BUILD/heraldd" ] && [ -x "$BUILD/herald" ] || { echo "skip: not built"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/herald-demo.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

run_once() {
	local n=$1 port attempt
	for attempt in 1 2 3; do # a random port another test holds: try another
		port=$((20000 + RANDOM % 30000))
		BUILD=$BUILD HERALD_LISTEN=127.0.0.1:$port HERALD_DATA=$tmp/var scripts/demo.sh >"$tmp/out$n" 2>&1 &
		pid=$!
		for _ in $(seq 1 300); do
			grep -q "Herald is running" "$tmp/out$n" && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		grep -q "in use" "$tmp/out$n" || break
		wait "$pid" 2>/dev/null
		pid=
	done
	if ! grep -q "Herald is running" "$tmp/out$n"; then
		echo "demo run $n did not come up:"; cat "$tmp/out$n"; exit 1
	fi
	grep -q "alice 1" "$tmp/out$n" || { echo "demo run $n: alias lookup missing"; cat "$tmp/out$n"; exit 1; }
	grep -q "address: +8613800000001" "$tmp/out$n" || { echo "demo run $n: user show missing"; exit 1; }
	kill -TERM "$pid"
	wait "$pid"
	local rc=$?
	pid=
	[ "$rc" = 0 ] || { echo "demo run $n exited $rc after SIGTERM"; cat "$tmp/out$n"; exit 1; }
}

run_once 1
run_once 2
grep -q "rotating its secret" "$tmp/out2" || { echo "second run did not reuse the durable app"; cat "$tmp/out2"; exit 1; }
echo "demo ran twice on one data directory"
exit 0
