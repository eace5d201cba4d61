#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_malformed_answer.sh - libherald checks every answer in full and
# fails cleanly on a malformed one: `herald ping` against a fake engine
# that breaks one rule per run (magic, version, RESPONSE flag, unknown
# flag, CRC, a body too long or too short, an unknown opcode or another
# request's opcode, an answer to a request never sent, an error body
# without a message, an oversize length, a wrong PING echo, a connection
# closed early) exits 3 without crashing or hanging. The same fake engine
# with no fault must pass, which shows the faults are the only difference.
# Exit 0 pass, 1 fail, 77 skip.

set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) build_dir=$BUILD ;;
*) build_dir=$root/$BUILD ;;
esac
herald=$build_dir/herald
if [ ! -x "$herald" ]; then
	echo "skip: $herald not built"
	exit 77
fi
if ! command -v python3 >/dev/null; then
	echo "skip: no python3"
	exit 77
fi
unset HERALD_SERVER HERALD_APP HERALD_SECRET HERALD_SECRET_FILE HERALD_TIMEOUT_MS

tmp=$(mktemp -d "${TMPDIR:-/tmp}/herald-fake.XXXXXX")
fake_pid=
cleanup() {
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# The fake engine: answers one connection's HELLO and PING, breaking the
# answer as the fault says, then exits.
cat >"$tmp/fake.py" <<'PY'
import os, socket, struct, sys

fault, port_file = sys.argv[1], sys.argv[2]

sys.path.insert(0, os.environ["HERALD_TESTS_DIR"])
from fake_engine_util import crc32c, frame, s, recv_exact, read_request, listen_and_accept  # noqa: E402

c = listen_and_accept(port_file)
if fault == "closed":
    c.close()
    raise SystemExit(0)

op, rid, body = read_request(c)
hello = struct.pack("<BBHI", 1, 0, 2, 1 << 20) + b"\x07" * 32 + s(b"fake")
answers = {
    "none":          frame(op, rid, hello),
    "magic":         frame(op, rid, hello, magic=b"HRLX"),
    "version":       frame(op, rid, hello, version=2),
    "no_response":   frame(op, rid, hello, flags=0),
    "unknown_flag":  frame(op, rid, hello, flags=1 | 4),
    "crc":           frame(op, rid, hello, crc=crc32c(hello) ^ 1),
    "trailing":      frame(op, rid, hello + b"\x00"),
    "short":         frame(op, rid, hello[:-1]),
    "hello_version": frame(op, rid, b"\x02" + hello[1:]),
    "opcode":        frame(0x0099, rid, hello),
    "other_opcode":  frame(0x0003, rid, hello),
    "request_id":    frame(op, rid + 1000, hello),
    "error_body":    frame(op, rid, struct.pack("<H", 12), flags=3),
    "error_zero":    frame(op, rid, struct.pack("<H", 0) + s(b"zero"), flags=3),
    "oversize":      frame(op, rid, b"", length=(1 << 20) + 1),
}
c.sendall(answers.get(fault, answers["none"]))
op, rid, body = read_request(c)
if fault == "ping_echo":
    body = body[:-1] + b"?"
c.sendall(frame(op, rid, body))
try:
    c.recv(1)
except OSError:
    pass
PY

# run_fake FAULT WANT: herald ping against the fake engine must exit WANT.
run_fake() {
	local fault=$1 want=$2 got port
	rm -f "$tmp/port"
	HERALD_TESTS_DIR="$(cd "$(dirname "$0")" && pwd)" python3 "$tmp/fake.py" "$fault" "$tmp/port" &
	fake_pid=$!
	for _ in $(seq 100); do
		[ -s "$tmp/port" ] && break
		sleep 0.05
	done
	port=$(cat "$tmp/port" 2>/dev/null) || { echo "FAIL: fake engine did not start"; exit 1; }
	timeout 10 "$herald" --server "127.0.0.1:$port" --timeout 3000 ping >"$tmp/out" 2>"$tmp/err"
	got=$?
	kill "$fake_pid" 2>/dev/null
	wait "$fake_pid" 2>/dev/null
	fake_pid=
	if [ "$got" != "$want" ]; then
		echo "FAIL: fault '$fault': herald exited $got, expected $want"
		sed 's/^/    /' "$tmp/out" "$tmp/err"
		exit 1
	fi
	echo "fault $fault: exit $got: $(cat "$tmp/err" "$tmp/out" | head -n 1)"
}

run_fake none 0
for fault in magic version no_response unknown_flag crc trailing short hello_version \
	opcode other_opcode request_id error_body error_zero oversize ping_echo; do
	run_fake "$fault" 3
	if ! grep -q 'malformed answer' "$tmp/err"; then
		echo "FAIL: '$fault': stderr: $(cat "$tmp/err")"
		exit 1
	fi
done
run_fake closed 3
echo ok
