#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_campaign_answers.sh - libherald reads the answers of the
# campaign and vendor operations exactly as PROTOCOL.md 5.10 and 5.11 lay
# them out, and refuses those that break the layout. A fake engine answers
# HELLO, AUTH and then one request with a body of this test's making:
#
#   - well-formed answers with a distinct value in every field: `herald
#     --json` prints each field from its own offset;
#   - broken ones (a byte short or over, a state, audience, lane or target
#     outside its enum, progress over 1000000 ppm, campaign id 0, a target
#     listed twice, a url over 255 bytes, a count the body cannot hold; for
#     CAMPAIGN_UPLOAD (5.12) a reported count other than min(rejected,
#     100), an empty reason or one that is not printable ASCII):
#     exit 3, "malformed answer", no crash or hang.
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

# The fake engine: HELLO, AUTH as app "shop", then answers one request with
# the body named by the case (hex of the answer body, from answers.py).
cat >"$tmp/fake.py" <<'PY'
import os, struct, sys

body_hex, port_file = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.environ["HERALD_TESTS_DIR"])
from fake_engine_util import frame, s, read_request, listen_and_accept  # noqa: E402

c = listen_and_accept(port_file)
op, rid, _ = read_request(c)
c.sendall(frame(op, rid, struct.pack("<BBHI", 1, 0, 2, 1 << 20) + b"\x07" * 32 + s(b"fake")))
op, rid, _ = read_request(c)
c.sendall(frame(op, rid, s(b"shop") + b"\x00"))
op, rid, _ = read_request(c)
c.sendall(frame(op, rid, bytes.fromhex(body_hex)))
try:
    c.recv(1)
except OSError:
    pass
PY

# The answer bodies, by case name: "name<TAB>hex".
python3 - >"$tmp/cases" <<'PY'
import struct
def s(b):
    return struct.pack("<H", len(b)) + b
def status(state=2, audience=3, lane=1, ppm=654321, tail=b""):
    # u8 state, audience, lane, reserved; u64 created, then ten u64 counters
    # 101..110; u32 progress_ppm, u32 inflight 77.
    return (bytes([state, audience, lane, 0]) + struct.pack("<Q", 1700000000123)
            + b"".join(struct.pack("<Q", 101 + i) for i in range(10))
            + struct.pack("<II", ppm, 77) + tail)
def upload(accepted, rejected, reports, count=None):
    # u32 accepted, u32 rejected, u16 reported, reported x (u32 line, str reason)
    n = len(reports) if count is None else count
    return (struct.pack("<IIH", accepted, rejected, n)
            + b"".join(struct.pack("<I", line) + s(why) for line, why in reports))
def vendor(target, url=b"http://v:1", batch=500, conns=8, rate=300, quota=9000):
    return bytes([target]) + s(url) + struct.pack("<HHII", batch, conns, rate, quota)
cases = {
    "status_ok": status(),
    "status_short": status()[:-1],
    "status_long": status(tail=b"\x00"),
    "status_state0": status(state=0),
    "status_state5": status(state=5),
    "status_audience0": status(audience=0),
    "status_audience6": status(audience=6),
    "status_lane2": status(lane=2),
    "status_ppm": status(ppm=1000001),
    "create_ok": struct.pack("<Q", 0x0102030405060708),
    "create_zero": struct.pack("<Q", 0),
    "create_short": struct.pack("<Q", 9)[:7],
    "control_ok": b"\x03",
    "control_state0": b"\x00",
    "control_state5": b"\x05",
    "control_long": b"\x02\x00",
    "vset_ok": b"",
    "vset_long": b"\x00",
    "vlist_ok": b"\x02" + vendor(1) + vendor(6, b"https://h:2/p", 0, 0, 0, 0),
    "vlist_empty": b"\x00",
    "vlist_dup": b"\x02" + vendor(5) + vendor(5),
    "vlist_target0": b"\x01" + vendor(0),
    "vlist_target7": b"\x01" + vendor(7),
    "vlist_url256": b"\x01" + vendor(1, b"u" * 256),
    "vlist_count": b"\x03" + vendor(1) + vendor(2),
    "vlist_count7": b"\x07" + b"".join(vendor(t) for t in (1, 2, 3, 4, 5, 6, 1)),
    "vlist_trailing": b"\x01" + vendor(1) + b"\x00",
    "upload_ok": upload(7, 2, [(3, b"empty row"), (9, b"row longer than 1024 bytes")]),
    "upload_clean": upload(5, 0, []),
    "upload_cap": upload(0, 150, [(i, b"empty row") for i in range(1, 101)]),
    "upload_short": upload(7, 2, [(3, b"a"), (9, b"b")])[:-1],
    "upload_long": upload(7, 2, [(3, b"a"), (9, b"b")]) + b"\x00",
    "upload_more": upload(7, 2, [(3, b"a"), (9, b"b"), (10, b"c")]),
    "upload_fewer": upload(7, 2, [(3, b"a")]),
    "upload_over_cap": upload(0, 150, [(i, b"empty row") for i in range(1, 102)]),
    "upload_none_of_some": upload(7, 2, []),
    "upload_empty_reason": upload(7, 1, [(3, b"")]),
    "upload_ctrl_reason": upload(7, 1, [(3, b"bad\nrow")]),
    "upload_count": upload(7, 2, [(3, b"a")], count=2),
}
for k, v in cases.items():
    print("%s\t%s" % (k, v.hex()))
PY

# run_case CASE WANT ARGS...: herald ARGS against the fake engine answering
# CASE's body must exit WANT; its stdout is in $tmp/out.
run_case() {
	local case=$1 want=$2 got port hex
	shift 2
	hex=$(awk -F '\t' -v k="$case" '$1 == k { print $2 }' "$tmp/cases")
	rm -f "$tmp/port"
	HERALD_TESTS_DIR="$root/tests" python3 "$tmp/fake.py" "${hex:-}" "$tmp/port" &
	fake_pid=$!
	for _ in $(seq 200); do
		[ -s "$tmp/port" ] && break
		sleep 0.05
	done
	port=$(cat "$tmp/port" 2>/dev/null) || { echo "FAIL: fake engine did not start"; exit 1; }
	timeout 10 "$herald" --server "127.0.0.1:$port" --timeout 3000 --app shop \
		--secret "$(printf '%064d' 0)" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	kill "$fake_pid" 2>/dev/null
	wait "$fake_pid" 2>/dev/null
	fake_pid=
	if [ "$got" != "$want" ]; then
		echo "FAIL: case '$case' ($*): herald exited $got, expected $want"
		sed 's/^/    /' "$tmp/out" "$tmp/err"
		exit 1
	fi
	if [ "$want" = 3 ] && ! grep -q 'malformed answer' "$tmp/err"; then
		echo "FAIL: case '$case': stderr: $(cat "$tmp/err")"
		exit 1
	fi
}

# expect_out CASE TEXT: the last run printed exactly TEXT.
expect_out() {
	if [ "$(cat "$tmp/out")" != "$2" ]; then
		echo "FAIL: case '$1': printed"
		sed 's/^/    /' "$tmp/out"
		echo "  expected"
		echo "$2" | sed 's/^/    /'
		exit 1
	fi
}

run_case status_ok 0 --json campaign status 42
expect_out status_ok '{"campaign_id":42,"state":"paused","audience":"tag","lane":"transactional","created_unix_ms":1700000000123,"users_scanned":101,"recipients":102,"queued":103,"sent":104,"failed":105,"invalid":106,"no_address":107,"resent":108,"vendor_calls":109,"first_call_us":110,"progress_ppm":654321,"inflight":77}'
run_case status_ok 0 campaign status 42
grep -q '^campaign 42: paused, audience tag, lane transactional, created 2023-11-14T22:13:20.123Z$' "$tmp/out" ||
	{ echo "FAIL: status text: $(cat "$tmp/out")"; exit 1; }
grep -q '^progress: *65.4%  (101 users looked at)$' "$tmp/out" ||
	{ echo "FAIL: status text progress: $(cat "$tmp/out")"; exit 1; }
grep -q '^first call: *0.110 ms after create$' "$tmp/out" ||
	{ echo "FAIL: status text first call: $(cat "$tmp/out")"; exit 1; }
for bad in status_short status_long status_state0 status_state5 status_audience0 \
	status_audience6 status_lane2 status_ppm; do
	run_case "$bad" 3 campaign status 42
done

run_case create_ok 0 --json campaign create --audience all --channel push --body hi
expect_out create_ok '{"campaign_id":72623859790382856}'
run_case create_zero 3 campaign create --audience all --channel push --body hi
run_case create_short 3 campaign create --audience all --channel push --body hi

run_case control_ok 0 --json campaign cancel 5
expect_out control_ok '{"campaign_id":5,"state":"cancelled"}'
run_case control_ok 0 campaign pause 5
expect_out control_ok 'campaign 5: cancelled'
for bad in control_state0 control_state5 control_long; do
	run_case "$bad" 3 campaign resume 5
done

run_case vset_ok 0 vendor set --target sms --url http://x
expect_out vset_ok ok
run_case vset_long 3 vendor set --target sms --url http://x

run_case vlist_ok 0 --json vendor list
expect_out vlist_ok '{"vendors":[{"target":"huawei","url":"http://v:1","batch_max":500,"connections":8,"rate_per_s":300,"daily_quota":9000},{"target":"webhook","url":"https://h:2/p","batch_max":0,"connections":0,"rate_per_s":0,"daily_quota":0}]}'
run_case vlist_empty 0 --json vendor list
expect_out vlist_empty '{"vendors":[]}'
for bad in vlist_dup vlist_target0 vlist_target7 vlist_url256 vlist_count vlist_count7 \
	vlist_trailing; do
	run_case "$bad" 3 vendor list
done
# CAMPAIGN_UPLOAD: one chunk (a file of one row), answered by the case.
printf 'alice\n' >"$tmp/rows"
run_case upload_ok 5 --json campaign upload 9 "$tmp/rows"
expect_out upload_ok '{"campaign_id":9,"first_line":1,"next_line":2,"accepted":7,"rejected":2,"closed":true,"chunks":1,"rejects":[{"line":3,"reason":"empty row"},{"line":9,"reason":"row longer than 1024 bytes"}],"rejects_not_listed":0}'
grep -qx 'line 9: row longer than 1024 bytes' "$tmp/err" || { echo "FAIL: upload_ok stderr: $(cat "$tmp/err")"; exit 1; }
run_case upload_clean 0 campaign upload 9 "$tmp/rows" --first-line 41
expect_out upload_clean 'campaign 9: lines 41 to 41: 5 rows accepted, 0 rejected; upload closed'
run_case upload_cap 5 --json campaign upload 9 "$tmp/rows"
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["rejects"]) == 100 and d["rejects_not_listed"] == 50, d' "$tmp/out" ||
	{ echo "FAIL: upload_cap: $(cat "$tmp/out")"; exit 1; }
for bad in upload_short upload_long upload_more upload_fewer upload_over_cap upload_none_of_some \
	upload_empty_reason upload_ctrl_reason upload_count; do
	run_case "$bad" 3 campaign upload 9 "$tmp/rows"
	grep -q 'the answer for lines 1 to 1 was lost' "$tmp/err" ||
		{ echo "FAIL: case '$bad': no lost-answer note: $(cat "$tmp/err")"; exit 1; }
done
echo ok
