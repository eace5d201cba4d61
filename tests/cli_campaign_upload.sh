#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_campaign_upload.sh - uploaded audiences end to end through
# `herald`, against an engine whose vendor sink is null (every address is
# accepted at once, no call made; a VENDOR_SET per target is still needed):
#
#   - create --audience upload with a column the body reads, then `campaign
#     upload` of a file with two broken rows: exit 5, each broken row on
#     stderr as "line N: reason", the summary on stdout and in --json, and
#     the campaign done with the right recipients (a row naming nobody is
#     scanned, not a recipient);
#   - a chunk after the last is the engine's E_INVALID_ARGUMENT (exit 1);
#   - phone numbers to sms, from standard input, with create --file --wait
#     (create, upload, watch in one go);
#   - a file of a few thousand rows in 1 KiB chunks: the line numbers of
#     broken rows deep in the file (a bad user id, an empty line that ends
#     a chunk, a line longer than a chunk) are the file's, and the outcome
#     is the same as in one chunk;
#   - --keep-open, then the rest with --first-line: numbering goes on and
#     the campaign finishes only once closed; a user in two rows is sent to
#     twice; CR LF line ends of rows without columns (a CR left in would
#     make the user id unprintable);
#   - usage errors exit 2 before anything is sent.
# Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"

ENGINE_OPTS=(--vendor-sink null)
start_engine
secret=$(new_app shop) || fail "app create shop"
A() { as_app shop "$secret" "$@"; }

# expect_many WHAT EXPR WANT [EXPR WANT]...: each python EXPR on the JSON
# document in $OUT (bound to d) prints WANT.
expect_many() {
	local what=$1 msg
	shift
	msg=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
a = sys.argv[2:]
for e, w in zip(a[0::2], a[1::2]):
    v = eval(e, {"d": d})
    g = json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else str(v)
    if g != w:
        print("%s: got %s, expected %s" % (e, g, w))' "$OUT" "$@") || fail "$what: bad JSON: $(cat "$OUT")"
	[ -z "$msg" ] || fail "$what: $msg"
}
# The campaign id in $OUT (JSON or text).
cid() {
	sed -n 's/.*"campaign_id":\([0-9]*\).*/\1/p; s/^campaign_id: \([0-9]*\)$/\1/p' "$OUT" | head -n 1
}
# expect_err_lines WANT: the "line N: reason" lines of $ERR are exactly WANT.
expect_err_lines() {
	local got
	got=$(grep '^line ' "$ERR")
	[ "$got" = "$1" ] || fail "rejected rows on stderr: got
$got
expected
$1"
}

run_cli 0 A vendor set --target huawei --url http://127.0.0.1:9
run_cli 0 A vendor set --target sms --url http://127.0.0.1:9
for u in alice bob carol dave; do
	run_cli 0 A bind "$u" push "tok-$u" --vendor huawei --platform android
done

# ---- users with a column, two broken rows --------------------------------------
run_cli 0 A campaign create --audience upload --upload-kind users --columns order \
	--channel push --title 'Hi {{user_id}}' --body 'Order {{row.order}} shipped'
id=$(cid)
[ -n "$id" ] || fail "no campaign id: $(cat "$OUT")"
run_cli 0 A --json campaign status "$id"
expect_many "open upload" 'd["state"]' running 'd["audience"]' upload
printf 'alice,A-100\nbob\ncarol,C-300\ndave,D-400,extra\nnobody,N-1\n' >"$CLI_TMP/orders.csv"
run_cli 5 A campaign upload "$id" "$CLI_TMP/orders.csv"
expect_err_lines "line 2: fewer fields than the campaign's columns
line 4: more fields than the campaign's columns"
grep -qx "campaign $id: lines 1 to 5: 3 rows accepted, 2 rejected; upload closed" "$OUT" ||
	fail "upload summary: $(cat "$OUT")"
run_cli 0 A --json campaign status "$id" --watch
expect_many "upload campaign" 'd["state"]' done 'd["audience"]' upload \
	'd["users_scanned"]' 3 'd["recipients"]' 2 'd["queued"]' 2 'd["sent"]' 2 'd["failed"]' 0 \
	'd["progress_ppm"]' 1000000
run_cli 0 A campaign status "$id"
grep -q '^campaign [0-9]*: done, audience upload' "$OUT" || fail "status text: $(cat "$OUT")"
grep -q '(3 rows looked at)' "$OUT" || fail "status text rows: $(cat "$OUT")"
run_cli 0 A --json user history alice
expect_json "alice's receipt" '[(r["campaign_id"], r["state"]) for r in d["receipts"]]' \
	"[[$id, \"sent\"]]"
run_cli 0 A --json user history bob
expect_json "bob's row was rejected" 'len(d["receipts"])' 0
# The upload is closed: another chunk is refused, and nothing else changes.
run_cli 1 A campaign upload "$id" "$CLI_TMP/orders.csv"
grep -qx 'herald: E_INVALID_ARGUMENT: the upload is closed' "$ERR" || fail "closed: $(cat "$ERR")"
# Not an upload campaign; no such campaign.
run_cli 0 A campaign create --audience user --user alice --channel push --body hi
other=$(cid)
run_cli 1 A campaign upload "$other" "$CLI_TMP/orders.csv"
grep -q "the campaign's audience is not an upload" "$ERR" || fail "not an upload: $(cat "$ERR")"
run_cli 1 A campaign upload 999999 "$CLI_TMP/orders.csv"
grep -q '^herald: E_NOT_FOUND' "$ERR" || fail "unknown campaign: $(cat "$ERR")"
# The engine judges the columns and the templates.
run_cli 1 A campaign create --audience upload --upload-kind users --columns order \
	--channel push --body 'Hi {{row.name}}'
grep -q "unknown template variable 'row.name' at 5" "$ERR" || fail "row.name: $(cat "$ERR")"
run_cli 1 A campaign create --audience upload --upload-kind phones --channel push --body x
grep -q 'an upload of phone numbers goes to the sms channel alone' "$ERR" ||
	fail "phones on push: $(cat "$ERR")"

# ---- phone numbers to sms: create, upload from stdin, watch ----------------------
printf '+8613800000001,Li\r\n+8613800000002,Wang\r\n12345,Bad\r\n+8613800000003,Zhao\r\n' |
	run_cli 5 A --json campaign create --audience upload --upload-kind phones --columns name \
		--channel sms --body 'Hi {{row.name}}' --file - --wait
expect_err_lines "line 3: phone number must be E.164: + and 7 to 15 digits"
expect_many "phones" 'd["state"]' done 'd["recipients"]' 3 'd["sent"]' 3 \
	'd["upload"]["accepted"]' 3 'd["upload"]["rejected"]' 1 'd["upload"]["closed"]' true \
	'd["upload"]["next_line"]' 5 'd["upload"]["rejects"]' \
	'[{"line": 3, "reason": "phone number must be E.164: + and 7 to 15 digits"}]'
run_cli 0 A --json user history +8613800000002
expect_json "a number's receipt" '[r["state"] for r in d["receipts"]]' '["sent"]'

# ---- a few thousand rows in 1 KiB chunks ------------------------------------------
# Lines 1-4000: u<i>,<value>; user ids u1-u4000 are nobody, so the campaign
# only scans. Broken: line 1777 (a space in the id), line 2500 (a line of
# 1500 bytes, longer than a chunk), line 3001 (empty), and lines 3400 +
# 3401 (an empty line, then a row with no column). Each row is 40 bytes, so
# some of the empty lines end a chunk whatever the cut; the outcome must
# not depend on it.
python3 - "$CLI_TMP/big.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, 4001):
        if i == 1777:
            f.write("u 1777,x\n")
        elif i == 2500:
            f.write("u2500," + "y" * 1494 + "\n")
        elif i in (3001, 3400):
            f.write("\n")
        elif i == 3401:
            f.write("u3401\n")
        else:
            f.write(("u%d," % i).ljust(39, "v") + "\n")
PY
want="line 1777: the first field holds a space or a byte that is not printable ASCII
line 2500: row longer than 1024 bytes
line 3001: empty row
line 3400: empty row
line 3401: fewer fields than the campaign's columns"
for kb in 1 448; do
	run_cli 0 A campaign create --audience upload --upload-kind users --columns v \
		--channel push --body '{{row.v}}'
	big=$(cid)
	run_cli 5 A --json campaign upload "$big" "$CLI_TMP/big.csv" --chunk-kb "$kb"
	expect_err_lines "$want"
	expect_many "4000 rows, --chunk-kb $kb" 'd["accepted"]' 3995 'd["rejected"]' 5 \
		'd["first_line"]' 1 'd["next_line"]' 4001 'd["closed"]' true \
		'[r["line"] for r in d["rejects"]]' '[1777, 2500, 3001, 3400, 3401]' \
		'd["rejects_not_listed"]' 0
	chunks=$(json 'd["chunks"]' <"$OUT")
	if [ "$kb" = 1 ]; then
		[ "$chunks" -ge 150 ] || fail "--chunk-kb 1: only $chunks chunks"
	else
		[ "$chunks" = 1 ] || fail "--chunk-kb 448: $chunks chunks"
	fi
	run_cli 0 A --json campaign status "$big" --watch
	expect_many "4000 rows" 'd["state"]' done 'd["users_scanned"]' 3995 'd["recipients"]' 0
done

# ---- --keep-open, then the rest with --first-line ------------------------------------
run_cli 0 A campaign create --audience upload --upload-kind users --channel push --body hi
open_id=$(cid)
printf 'alice\r\nbob\r\n' | run_cli 0 A campaign upload "$open_id" - --keep-open
grep -qx "campaign $open_id: lines 1 to 2: 2 rows accepted, 0 rejected; upload open, next line 3" \
	"$OUT" || fail "keep-open summary: $(cat "$OUT")"
sleep 0.5
run_cli 0 A --json campaign status "$open_id"
expect_many "open upload" 'd["state"]' running 'd["recipients"]' 2 'd["progress_ppm"] < 1000000' true
printf 'alice\nbad id\n' | run_cli 5 A campaign upload "$open_id" - --first-line 3
expect_err_lines "line 4: the first field holds a space or a byte that is not printable ASCII"
run_cli 0 A --json campaign status "$open_id" --watch
expect_many "closed upload" 'd["state"]' done 'd["recipients"]' 3 'd["sent"]' 3

# ---- usage errors: nothing sent ---------------------------------------------------------
run_cli 2 A campaign upload "$open_id" "$CLI_TMP/missing.csv"
grep -q "cannot read $CLI_TMP/missing.csv" "$ERR" || fail "missing file: $(cat "$ERR")"
run_cli 2 A campaign upload "$open_id" "$CLI_TMP/orders.csv" --chunk-kb 449
run_cli 2 A campaign upload "$open_id" "$CLI_TMP/orders.csv" --chunk-kb 0
run_cli 2 A campaign upload "$open_id" "$CLI_TMP/orders.csv" --first-line 0
run_cli 2 A campaign upload x "$CLI_TMP/orders.csv"
run_cli 2 A campaign upload "$open_id"
run_cli 2 A campaign create --audience upload --channel push --body hi
grep -q 'needs --upload-kind' "$ERR" || fail "no kind: $(cat "$ERR")"
run_cli 2 A campaign create --audience upload --upload-kind rows --channel push --body hi
run_cli 2 A campaign create --audience upload --upload-kind users --channel push --body hi --wait
grep -q -- '--wait with --audience upload needs --file' "$ERR" || fail "wait: $(cat "$ERR")"
run_cli 2 A campaign create --audience all --columns a --channel push --body hi
run_cli 2 A campaign create --audience all --file "$CLI_TMP/orders.csv" --channel push --body hi
run_cli 2 A campaign create --audience upload --upload-kind users --channel push --body hi \
	--chunk-kb 4
run_cli 2 A campaign create --audience upload --upload-kind users --channel push --body hi \
	--keep-open
for cmd in "campaign upload" "campaign create"; do
	# shellcheck disable=SC2086
	run_cli 0 "$HERALD" $cmd --help
	grep -q "^usage: herald .*$cmd" "$OUT" || fail "$cmd --help: $(cat "$OUT")"
done
run_cli 0 "$HERALD" campaign upload --help
for flag in --first-line --chunk-kb --keep-open 'line N: reason' 'Exit 0'; do
	grep -q -- "$flag" "$OUT" || fail "campaign upload --help does not mention $flag"
done
run_cli 0 "$HERALD" campaign create --help
for flag in --upload-kind --columns --file 'row.col'; do
	grep -q -- "$flag" "$OUT" || fail "campaign create --help does not mention $flag"
done
run_cli 0 "$HERALD" --help
grep -q '5 an upload went' "$OUT" || fail "--help does not document exit 5"

finish
