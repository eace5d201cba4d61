#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_store_stats.sh - `herald store stats` (STORE_STATS, PROTOCOL.md
# 5.4) in text and JSON, across a restart: the counters follow writes, the
# users are counted per core, and after SIGTERM and a start on the same data
# directory the epoch is one more, the replay recovered records and the users
# are all still there. Then libherald against a fake engine: a STORE_STATS
# answer that breaks 5.4 (short, long, a core count that lies, an unknown
# compaction state, no receipt-log fields after the cores) exits 3
# "malformed answer", and an E_STORE error (code 20) is named E_STORE.
# Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"
start_engine

# store_json: `herald store stats --json` as admin into $OUT, its layout checked.
store_json() {
	run_cli 0 admin store stats --json
	expect_json "core entries == core_count" 'len(d["cores"]) == d["core_count"]' true
	expect_json "core_count" 'd["core_count"]' 2
	expect_json "core numbers" 'sorted(c["core"] for c in d["cores"])' '[0, 1]'
	expect_json "compaction states" \
		'all(c["compaction"] in ("idle", "rewriting", "syncing", "wait_delete") for c in d["cores"])' \
		true
	expect_json "io_errors" 'sum(c["io_errors"] for c in d["cores"])' 0
}

# --help of the command, and its line in the top-level help.
run_cli 0 "$HERALD" store stats --help
grep -q '^usage: herald \[global flags\] store stats$' "$OUT" || fail "help: $(cat "$OUT")"
grep -q 'epoch' "$OUT" || fail "help does not explain the epoch: $(cat "$OUT")"
run_cli 0 "$HERALD" --help
grep -A1 '^  store stats$' "$OUT" | grep -q 'durable store' ||
	fail "top-level help has no 'store stats' line: $(cat "$OUT")"
run_cli 0 "$HERALD" store --help
grep -q '^  store stats$' "$OUT" || fail "store --help: $(cat "$OUT")"
run_cli 2 "$HERALD" store stats extra
run_cli 2 "$HERALD" store frob

# A fresh data directory: the first epoch, nothing recovered.
store_json
expect_json "first epoch" 'd["epoch"]' 1
expect_json "nothing to recover" \
	'[d["recovered_records"], d["torn_tails"], d["corrupt_records"]]' '[0, 0, 0]'
records0=$(json 'sum(c["records_written"] for c in d["cores"])' <"$OUT")

# Writes: two apps, five users (users are per app: "alice" twice is two).
shop=$(new_app shop) || fail "app create shop"
news=$(new_app news) || fail "app create news"
run_cli 0 as_app shop "$shop" bind alice sms +8613800000001
run_cli 0 as_app shop "$shop" bind bob email bob@example.com
run_cli 0 as_app shop "$shop" tag add carol vip beta
run_cli 0 as_app shop "$shop" attr set carol tz=UTC
run_cli 0 as_app news "$news" bind alice push tok-1 --vendor fcm --platform android
run_cli 0 as_app news "$news" attr set dave locale=en
users=5

store_json
expect_json "epoch unchanged" 'd["epoch"]' 1
expect_json "records written" "sum(c[\"records_written\"] for c in d[\"cores\"]) > $records0" true
expect_json "bytes written" 'sum(c["bytes_written"] for c in d["cores"]) > 0' true
expect_json "flushes" 'sum(c["flushes"] for c in d["cores"]) > 0' true
expect_json "users" 'sum(c["users"] for c in d["cores"])' "$users"
expect_json "segment files" 'd["segment_files"] >= 1' true
expect_json "segment bytes" 'd["segment_bytes"] > 0' true
run_cli 0 admin --json stats
expect_json "STATS users agree" 'sum(c["users"] for c in d["cores"])' "$users"

# An app may ask too; the text form has the same numbers.
run_cli 0 as_app news "$news" store stats
grep -q '^epoch: *1$' "$OUT" || fail "text: $(cat "$OUT")"
grep -q '^segments: *[1-9][0-9]* files, [1-9][0-9]* bytes$' "$OUT" || fail "text: $(cat "$OUT")"
awk -v want="$users" '$1 == "total" { found = 1; ok = $6 == want } END { exit !(found && ok) }' \
	"$OUT" || fail "text total users: $(cat "$OUT")"
[ "$(grep -cE '^[01] ' "$OUT")" = 2 ] || fail "text: one row per core: $(cat "$OUT")"

# Stop, start on the same data: one more epoch, a replay, the same users.
stop_engine
restart_engine
store_json
expect_json "epoch after restart" 'd["epoch"]' 2
expect_json "recovered records" 'd["recovered_records"] > 0' true
expect_json "recovered segments" 'd["recovered_segments"] >= 1' true
expect_json "clean shutdown: no torn tail" 'd["torn_tails"]' 0
expect_json "no corrupt record" 'd["corrupt_records"]' 0
expect_json "users after restart" 'sum(c["users"] for c in d["cores"])' "$users"

run_cli 0 as_app shop "$shop" --json user show alice
expect_json "shop alice" '[(x["channel"], x["address"]) for x in d["devices"]]' \
	'[["sms", "+8613800000001"]]'
run_cli 0 as_app shop "$shop" --json user show bob
expect_json "shop bob" '[x["address"] for x in d["devices"]]' '["bob@example.com"]'
run_cli 0 as_app shop "$shop" --json user show carol
expect_json "shop carol" '[d["tags"], d["attrs"]]' '[["beta", "vip"], {"tz": "UTC"}]'
run_cli 0 as_app news "$news" --json user show alice
expect_json "news alice" '[(x["vendor"], x["platform"], x["address"]) for x in d["devices"]]' \
	'[["fcm", "android", "tok-1"]]'
run_cli 0 as_app news "$news" --json user show dave
expect_json "news dave" 'd["attrs"]' '{"locale": "en"}'

# Writes after the restart are counted from this start on.
store_json
before=$(json 'sum(c["records_written"] for c in d["cores"])' <"$OUT")
run_cli 0 as_app shop "$shop" tag add erin new
store_json
expect_json "records written after restart" \
	"sum(c[\"records_written\"] for c in d[\"cores\"]) > $before" true
expect_json "users after a new one" 'sum(c["users"] for c in d["cores"])' $((users + 1))

# ---- malformed answers, against a fake engine ------------------------------

cat >"$CLI_TMP/fake.py" <<'PY'
import os, socket, struct, sys

fault, port_file = sys.argv[1], sys.argv[2]

sys.path.insert(0, os.environ["HERALD_TESTS_DIR"])
from fake_engine_util import crc32c, frame, s, recv_exact, read_request, listen_and_accept  # noqa: E402

# PROTOCOL.md 5.4: the engine part, core_count, then core_count entries,
# then the receipt log.
def store_stats(core_count, entries=None, compaction=0, tail=True):
    body = struct.pack("<IQQQQQIQH", 3, 5, 2, 40, 0, 0, 2, 4096, core_count)
    for core in range(core_count if entries is None else entries):
        body += struct.pack("<HQQQQQBIQQQ", core, 10, 880, 4, 0, 7, compaction, 1, 3, 1,
                            8192)
    if tail:
        body += struct.pack("<IQQQQ", 2, 65536, 12, 9, 1)
    return body

c = listen_and_accept(port_file)

op, rid, _ = read_request(c)  # HELLO
c.sendall(frame(op, rid, struct.pack("<BBHI", 1, 0, 2, 1 << 20) + b"\x07" * 32 + s(b"fake")))
op, rid, _ = read_request(c)  # AUTH
c.sendall(frame(op, rid, s(b"admin") + b"\x01"))
op, rid, _ = read_request(c)  # STORE_STATS
good = store_stats(2)
answers = {
    "none":        frame(op, rid, good),
    "no_cores":    frame(op, rid, store_stats(0)),
    "short":       frame(op, rid, good[:-1]),
    "trailing":    frame(op, rid, good + b"\x00"),
    "fixed_only":  frame(op, rid, good[:58]),
    "no_tail":     frame(op, rid, store_stats(2, tail=False)),
    "tail_short":  frame(op, rid, good[:-8]),
    "count_high":  frame(op, rid, store_stats(3, entries=2)),
    "count_low":   frame(op, rid, store_stats(1, entries=2)),
    "compaction":  frame(op, rid, store_stats(2, compaction=4)),
    "as_stats":    frame(op, rid, struct.pack("<H", 0)),
    "e_store":     frame(op, rid, struct.pack("<H", 20) + s(b"disk on fire"), flags=3),
}
c.sendall(answers[fault])
try:
    c.recv(1)
except OSError:
    pass
PY

fake_pid=
stop_fake() {
	if [ -n "$fake_pid" ]; then
		kill "$fake_pid" 2>/dev/null
		wait "$fake_pid" 2>/dev/null
		fake_pid=
	fi
}

# run_fake FAULT WANT [ARGS]: herald store stats against the fake exits WANT.
run_fake() {
	local fault=$1 want=$2 port
	shift 2
	rm -f "$CLI_TMP/port"
	HERALD_TESTS_DIR="$(cd "$(dirname "$0")" && pwd)" python3 "$CLI_TMP/fake.py" "$fault" "$CLI_TMP/port" &
	fake_pid=$!
	for _ in $(seq 100); do
		[ -s "$CLI_TMP/port" ] && break
		sleep 0.05
	done
	port=$(cat "$CLI_TMP/port" 2>/dev/null) || { stop_fake; fail "fake engine did not start"; }
	run_cli "$want" timeout 10 "$HERALD" --server "127.0.0.1:$port" --timeout 3000 \
		--secret "$(printf '%064d' 0)" "$@" store stats
	stop_fake
}

run_fake none 0 --json
expect_json "fake: engine part" \
	'[d[k] for k in ("epoch", "recovery_ms", "recovered_segments", "recovered_records", "torn_tails", "corrupt_records", "segment_files", "segment_bytes")]' \
	'[3, 5, 2, 40, 0, 0, 2, 4096]'
expect_json "fake: receipt log" \
	'[d[k] for k in ("event_segment_files", "event_segment_bytes", "receipts_written", "receipts_replayed", "event_segments_expired")]' \
	'[2, 65536, 12, 9, 1]'
expect_json "fake: core entry" \
	'[d["cores"][1][k] for k in ("core", "records_written", "bytes_written", "flushes", "io_errors", "users", "compaction", "compaction_rounds", "records_rewritten", "segments_deleted", "bytes_reclaimed")]' \
	'[1, 10, 880, 4, 0, 7, "idle", 1, 3, 1, 8192]'
run_fake no_cores 0 --json
expect_json "fake: no cores" '[d["core_count"], d["cores"]]' '[0, []]'
for fault in short trailing fixed_only no_tail tail_short count_high count_low compaction \
	as_stats; do
	run_fake "$fault" 3
	grep -q 'store stats: malformed answer' "$ERR" || fail "fault $fault: stderr: $(cat "$ERR")"
done
run_fake e_store 1
grep -qx 'herald: E_STORE: disk on fire' "$ERR" || fail "E_STORE: stderr: $(cat "$ERR")"

finish
