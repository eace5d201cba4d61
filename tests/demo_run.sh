#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make run's demo (scripts/demo.sh) works on a fresh data directory and again
# on the same one (apps are durable: the second run rotates the demo app's
# secret), and stops cleanly on SIGTERM (a background job ignores SIGINT),
# the vendor simulator with it. Its campaign runs with DEMO_USERS=2000 (not
# the million of make run): every user bound, the campaign done, the
# simulator's ledger equal to Herald's sent, the plot written.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
for b in heraldd herald bench/herald-bench bench/herald-vendorsim; do
	[ -x "$BUILD/$b" ] || { echo "skip: $BUILD/$b not built"; exit 77; }
done
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
		BUILD=$BUILD HERALD_LISTEN=127.0.0.1:$port HERALD_DATA=$tmp/var DEMO_USERS=2000 \
			scripts/demo.sh >"$tmp/out$n" 2>&1 &
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
	grep -q "^bind: *2000 users" "$tmp/out$n" || { echo "demo run $n: users not bound"; cat "$tmp/out$n"; exit 1; }
	grep -q "^campaign [0-9]* done" "$tmp/out$n" || { echo "demo run $n: campaign not done"; cat "$tmp/out$n"; exit 1; }
	grep -q "accepted == Herald's sent" "$tmp/out$n" || { echo "demo run $n: ledger differs"; cat "$tmp/out$n"; exit 1; }
	grep -q "^push *sent" "$tmp/out$n" || { echo "demo run $n: counters missing"; cat "$tmp/out$n"; exit 1; }
	grep -q "<svg" "$tmp/var/demo-campaign.svg" && grep -q "<svg" "$tmp/var/demo-campaign.html" ||
		{ echo "demo run $n: plot missing"; exit 1; }
	local sim
	sim=$(sed -n 's|^herald-vendorsim on http://\([0-9.:]*\).*|\1|p' "$tmp/out$n")
	kill -TERM "$pid"
	wait "$pid"
	local rc=$?
	pid=
	[ "$rc" = 0 ] || { echo "demo run $n exited $rc after SIGTERM"; cat "$tmp/out$n"; exit 1; }
	if [ -n "$sim" ] && (exec 3<>"/dev/tcp/${sim%:*}/${sim#*:}") 2>/dev/null; then
		echo "demo run $n: the simulator on $sim still answers after SIGTERM"; exit 1
	fi
}

run_once 1
run_once 2
grep -q "rotating its secret" "$tmp/out2" || { echo "second run did not reuse the durable app"; cat "$tmp/out2"; exit 1; }
echo "demo ran twice on one data directory"
exit 0
