#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/proto_independent.sh - docs/PROTOCOL.md is enough to talk to heraldd.
#
# Starts an engine on a random free loopback port with an empty data
# directory and runs tests/pyclient/proto_test.py against it. The Python
# client (tests/pyclient/herald_client.py) is written from the document
# alone, so a failure here is an engine bug or a gap in the document.
#
# Exit 0 pass, 1 fail, 77 skip (no engine built, no python3).
# Environment: BUILD (default build), PROTO_TEST_ARGS (extra arguments for
# proto_test.py, e.g. "--only framing auth").

set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) build_dir=$BUILD ;;
*) build_dir=$root/$BUILD ;;
esac
heraldd=$build_dir/heraldd
cores=2

if [ ! -x "$heraldd" ]; then
	echo "skip: $heraldd not built"
	exit 77
fi
if ! command -v python3 >/dev/null; then
	echo "skip: no python3"
	exit 77
fi

data=$(mktemp -d "${TMPDIR:-/tmp}/herald-proto.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$data" "$data.log"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A free port: bind to port 0 and read what the kernel picked. Another
# process could take it before heraldd does; then the start-up check fails
# and we try again with a new port.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

started=0
for attempt in 1 2 3; do
	port=$(free_port)
	rm -rf "${data:?}"/*
	"$heraldd" --listen "127.0.0.1:$port" --data "$data" --cores "$cores" \
		>"$data.log" 2>&1 &
	pid=$!
	# Wait up to 15 s for the admin secret and a listening socket.
	for _ in $(seq 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		if [ -s "$data/admin.secret" ] &&
			python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null; then
			started=1
			break
		fi
		sleep 0.1
	done
	[ $started = 1 ] && break
	echo "heraldd did not come up on port $port (attempt $attempt); its output:"
	sed 's/^/    /' "$data.log"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
done
if [ $started != 1 ]; then
	rm -f "$data.log"
	echo "FAIL: heraldd would not start"
	exit 1
fi

# shellcheck disable=SC2086
python3 "$root/tests/pyclient/proto_test.py" --port "$port" --data "$data" --cores "$cores" \
	${PROTO_TEST_ARGS:-}
rc=$?

if ! kill -0 "$pid" 2>/dev/null; then
	wait "$pid"
	echo "FAIL: heraldd exited during the test (status $?)"
	rc=1
fi
if [ $rc != 0 ]; then
	echo "---- heraldd output ----"
	tail -n 200 "$data.log"
fi
rm -f "$data.log"
[ $rc = 0 ] && exit 0
exit 1
