#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_receipts.sh - `herald receipt put`, `herald user history` and
# `herald campaign counters` (RECEIPT_PUT, HISTORY, CAMPAIGN_COUNTERS,
# PROTOCOL.md 5.2, 5.6, 5.7) and the receipt-log fields of `herald store
# stats` (5.4), in text and JSON: receipts come back newest first, paging
# with --limit and --cursor lists each receipt once and agrees with --all,
# counters and funnels equal what was put, and all of it is the same after
# a restart. Bad input: an unknown state, channel or vendor, a missing
# --message, a malformed cursor or limit exit 2 with a message naming the
# problem; what the engine refuses (message id 0, failed without a reason,
# a cursor it never made) exits 1 with the error's name. Then libherald
# against a fake engine: answers that break 5.6 / 5.7 exit 3 "malformed
# answer", and --all stops on an engine that hands back the cursor it got.
# Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"
start_engine

secret=$(new_app shop) || fail "app create"
export HERALD_APP=shop HERALD_SECRET=$secret
puts=0 # receipts the engine acknowledged

# put ARGS...: `herald receipt put ARGS` must succeed.
put() {
	run_cli 0 "$HERALD" receipt put "$@"
	puts=$((puts + 1))
}

# ---- help ---------------------------------------------------------------------

for cmd in "receipt put" "user history" "campaign counters"; do
	# shellcheck disable=SC2086
	run_cli 0 "$HERALD" $cmd --help
	grep -q "^usage: herald \[global flags\] $cmd" "$OUT" || fail "$cmd --help: $(cat "$OUT")"
done
run_cli 0 "$HERALD" receipt put --help
for word in --user --message --campaign --channel --vendor --state --time --reason \
	queued recalled; do
	grep -q -- "$word" "$OUT" || fail "receipt put --help does not mention $word: $(cat "$OUT")"
done
run_cli 0 "$HERALD" user history --help
for word in --limit --cursor --all 'newest first'; do
	grep -q -- "$word" "$OUT" || fail "user history --help does not mention $word: $(cat "$OUT")"
done
run_cli 0 "$HERALD" --help
for cmd in "receipt put" "user history" "campaign counters"; do
	grep -q "^  $cmd " "$OUT" || fail "top-level help has no '$cmd' line"
done
run_cli 0 "$HERALD" receipt --help
grep -q '^  receipt put --user' "$OUT" || fail "receipt --help: $(cat "$OUT")"
run_cli 0 "$HERALD" user --help
grep -q '^  user history <user>' "$OUT" || fail "user --help: $(cat "$OUT")"

# ---- receipt put ----------------------------------------------------------------

before=$(date +%s%3N)
run_cli 0 "$HERALD" receipt put --user alice --message 1 --campaign 7 --channel push \
	--vendor huawei --state queued
puts=$((puts + 1))
grep -Eqx 'recorded: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z \([0-9]+\)' "$OUT" ||
	fail "receipt put text: $(cat "$OUT")"
recorded=$(sed -E 's/.*\(([0-9]+)\)$/\1/' "$OUT")
after=$(date +%s%3N)
[ "$recorded" -ge $((before - 5000)) ] && [ "$recorded" -le $((after + 5000)) ] ||
	fail "recorded $recorded not between $before and $after"

run_cli 0 "$HERALD" --json receipt put --user alice --message 1 --campaign 7 --channel=push \
	--vendor=huawei --state=sent --time 1700000000000
puts=$((puts + 1))
expect_json "put json" '[d["user_id"], d["message_id"], d["recorded_unix_ms"] >= '"$recorded"']' \
	'["alice", 1, true]'
put --user alice --message 1 --campaign 7 --channel push --vendor huawei --state failed \
	--reason 'token expired'
put --user alice --message 2 --channel sms --state delivered

run_cli 0 "$HERALD" --json user history alice
expect_json "alice: newest first" '[(r["message_id"], r["state"]) for r in d["receipts"]]' \
	'[[2, "delivered"], [1, "failed"], [1, "sent"], [1, "queued"]]'
expect_json "alice: fields" \
	'[d["receipts"][1][k] for k in ("campaign_id", "channel", "vendor", "reason")]' \
	'[7, "push", "huawei", "token expired"]'
expect_json "alice: sms has no vendor" '[d["receipts"][0][k] for k in ("campaign_id", "vendor", "reason")]' \
	'[0, "none", ""]'
expect_json "alice: --time kept" 'd["receipts"][2]["event_unix_ms"]' 1700000000000
expect_json "alice: time 0 is now" \
	'd["receipts"][3]["event_unix_ms"] == d["receipts"][3]["recorded_unix_ms"] == '"$recorded" true
expect_json "alice: count" 'd["count"]' 4
expect_json "alice: nothing older" 'd["next_cursor"]' 00000000000000000000000000000000

# Text: a header, one row per receipt, the cursor.
run_cli 0 "$HERALD" user history alice
head -n 1 "$OUT" | grep -q '^RECORDED  *STATE  *CHANNEL  *VENDOR  *MESSAGE_ID  *CAMPAIGN_ID  *EVENT  *REASON$' ||
	fail "history header: $(cat "$OUT")"
grep -Eq '^[0-9T:.-]+Z +failed +push +huawei +1 +7 +[0-9T:.-]+Z +token expired$' "$OUT" ||
	fail "history row: $(cat "$OUT")"
grep -Eq '^[0-9T:.-]+Z +sent +push +huawei +1 +7 +2023-11-14T22:13:20.000Z *$' "$OUT" ||
	fail "history row: $(cat "$OUT")"
[ "$(grep -c 'Z  ' "$OUT")" = 4 ] || fail "history rows: $(cat "$OUT")"
tail -n 1 "$OUT" | grep -qx 'next_cursor: 00000000000000000000000000000000' ||
	fail "history cursor line: $(cat "$OUT")"

# A user without receipts (who does not exist either): not an error.
run_cli 0 "$HERALD" user history nobody
grep -qx 'no receipts for nobody' "$OUT" || fail "empty history: $(cat "$OUT")"
run_cli 0 "$HERALD" --json user history nobody --all
expect_json "empty history json" '[d["count"], d["receipts"], "next_cursor" in d]' '[0, [], false]'
# Receipts do not make a user (PROTOCOL.md 5.2).
run_cli 1 "$HERALD" user show alice
grep -q '^herald: E_NOT_FOUND: ' "$ERR" || fail "user show: $(cat "$ERR")"

# ---- paging ------------------------------------------------------------------------

n=23
for i in $(seq 1 $n); do
	put --user bob --message $((100 + i)) --channel email --state sent
done
run_cli 0 "$HERALD" --json user history bob --all --limit 4
expect_json "--all: every receipt, newest first" '[r["message_id"] for r in d["receipts"]]' \
	"$(python3 -c "print(list(range(100 + $n, 100, -1)))")"
expect_json "--all prints no cursor" '"next_cursor" in d' false
all_ids=$(json '[r["message_id"] for r in d["receipts"]]' <"$OUT")
run_cli 0 "$HERALD" user history bob --all
[ "$(grep -c 'Z  ' "$OUT")" = "$n" ] || fail "--all text rows: $(cat "$OUT")"
! grep -q next_cursor "$OUT" || fail "--all text prints a cursor: $(cat "$OUT")"

# --limit and --cursor by hand, as a script would page.
cursor=
paged=()
for page in $(seq 1 50); do
	run_cli 0 "$HERALD" --json user history bob --limit 5 ${cursor:+--cursor "$cursor"}
	expect_json "page $page holds at most 5" 'len(d["receipts"]) <= 5' true
	for id in $(json '" ".join(str(r["message_id"]) for r in d["receipts"])' <"$OUT"); do
		paged+=("$id")
	done
	cursor=$(json 'd["next_cursor"]' <"$OUT")
	[[ $cursor =~ ^[0-9a-f]{32}$ ]] || fail "next_cursor '$cursor'"
	[ "$cursor" = 00000000000000000000000000000000 ] && break
done
[ "$cursor" = 00000000000000000000000000000000 ] || fail "paging did not end"
expect_eq "paging by hand == --all" "[$(IFS=,; echo "${paged[*]}" | sed 's/,/, /g')]" "$all_ids"
# The text form's cursor works the same; upper-case hex is taken too.
run_cli 0 "$HERALD" user history bob --limit 3
cursor=$(sed -n 's/^next_cursor: //p' "$OUT")
[[ $cursor =~ ^[0-9a-f]{32}$ ]] && [ "$cursor" != 00000000000000000000000000000000 ] ||
	fail "text cursor: $(cat "$OUT")"
shown=$(grep -c 'Z  ' "$OUT")
[ "$shown" -le 3 ] || fail "a page of limit 3 printed $shown rows"
run_cli 0 "$HERALD" --json user history bob --all --cursor "${cursor^^}"
expect_json "--all from a cursor: the rest" '[r["message_id"] for r in d["receipts"]]' \
	"$(python3 -c "import sys; print(eval(sys.argv[1])[$shown:])" "$all_ids")"

# ---- campaign counters ----------------------------------------------------------

for u in c1 c2 c3; do
	put --user $u --message 500 --campaign 42 --channel push --vendor fcm --state queued
	put --user $u --message 500 --campaign 42 --channel push --vendor fcm --state sent
done
put --user c1 --message 500 --campaign 42 --channel push --vendor fcm --state delivered
put --user c2 --message 500 --campaign 42 --channel push --vendor fcm --state delivered
put --user c1 --message 500 --campaign 42 --channel push --vendor fcm --state clicked
put --user c3 --message 500 --campaign 42 --channel push --vendor fcm --state failed \
	--reason 'unregistered'
put --user c4 --message 500 --campaign 42 --channel sms --state queued
put --user c4 --message 500 --campaign 42 --channel sms --state recalled
put --user c1 --message 501 --campaign 43 --channel sms --state queued # another campaign

run_cli 0 "$HERALD" --json campaign counters 42
expect_json "counters" '[[x["channel"], x["state"], x["count"]] for x in d["counters"]]' \
	'[["push", "queued", 3], ["push", "sent", 3], ["push", "delivered", 2], ["push", "clicked", 1], ["push", "failed", 1], ["sms", "queued", 1], ["sms", "recalled", 1]]'
expect_json "campaign id" 'd["campaign_id"]' 42
expect_json "funnels" '[[f["channel"], f["queued"], f["sent"], f["delivered"], f["displayed"], f["clicked"], f["failed"], f["recalled"]] for f in d["funnels"]]' \
	'[["push", 3, 3, 2, 0, 1, 1, 0], ["sms", 1, 0, 0, 0, 0, 0, 1]]'

run_cli 0 "$HERALD" campaign counters 42
head -n 1 "$OUT" | grep -q '^CHANNEL  *STATE  *COUNT$' || fail "counters header: $(cat "$OUT")"
grep -Eqx 'push +delivered +2' "$OUT" || fail "counters row: $(cat "$OUT")"
grep -Eqx 'sms +recalled +1' "$OUT" || fail "counters row: $(cat "$OUT")"
grep -qx 'funnel push: queued 3 > sent 3 (100.0%) > delivered 2 (66.7%) > displayed 0 (0.0%) > clicked 1 (33.3%); failed 1, recalled 0' \
	"$OUT" || fail "push funnel: $(cat "$OUT")"
grep -qx 'funnel sms: queued 1 > sent 0 (0.0%) > delivered 0 (0.0%) > displayed 0 (0.0%) > clicked 0 (0.0%); failed 0, recalled 1' \
	"$OUT" || fail "sms funnel: $(cat "$OUT")"
counters_text=$(cat "$OUT")

run_cli 0 "$HERALD" campaign counters 99
grep -qx 'no receipts for campaign 99' "$OUT" || fail "empty campaign: $(cat "$OUT")"
run_cli 0 "$HERALD" --json campaign counters 18446744073709551615
expect_json "empty campaign json" '[d["counters"], d["funnels"]]' '[[], []]'
# Counters are per app.
news=$(new_app news) || fail "app create news"
run_cli 0 as_app news "$news" --json campaign counters 42
expect_json "another app's campaign 42" 'd["counters"]' '[]'

# ---- store stats ----------------------------------------------------------------

run_cli 0 admin --json store stats
expect_json "receipts_written" 'd["receipts_written"]' "$puts"
expect_json "nothing replayed on a fresh start" 'd["receipts_replayed"]' 0
expect_json "nothing expired" 'd["event_segments_expired"]' 0
expect_json "event segment files" 'd["event_segment_files"] >= 1' true
expect_json "event segment bytes" 'd["event_segment_bytes"] > 0' true
run_cli 0 "$HERALD" store stats
grep -qx "receipts: $puts written, 0 replayed at start-up" "$OUT" || fail "text: $(cat "$OUT")"
grep -Eqx 'receipt segments: [1-9][0-9]* files, [1-9][0-9]* bytes, 0 expired' "$OUT" ||
	fail "text: $(cat "$OUT")"

# ---- bad input ------------------------------------------------------------------

# Usage (2), with a message that names the problem.
run_cli 2 "$HERALD" receipt put --user a --message 1 --channel sms --state bogus
grep -q "unknown state 'bogus' (queued sent delivered displayed clicked failed recalled)" "$ERR" ||
	fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" receipt put --user a --channel sms --state sent
grep -q 'receipt put needs --message' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" receipt put --message 1 --channel sms --state sent
grep -q 'receipt put needs --user' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" receipt put --user a --message 1 --state sent
grep -q 'receipt put needs --channel' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" receipt put --user a --message 1 --channel sms
grep -q 'receipt put needs --state' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" receipt put --user a --message 1x --channel sms --state sent
grep -q "bad --message '1x'" "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" receipt put --user a --message 18446744073709551616 --channel sms --state sent
run_cli 2 "$HERALD" receipt put --user a --message 1 --channel pigeon --state sent
grep -q "unknown channel 'pigeon'" "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" receipt put --user a --message 1 --channel push --vendor nokia --state sent
grep -q "unknown vendor 'nokia'" "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" receipt put --user a --message 1 --channel sms --state sent --time -5
grep -q "bad --time '-5'" "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" receipt put --user a --message 1 --channel sms --state sent --campaign x
run_cli 2 "$HERALD" receipt put --user a --message 1 --channel sms --state sent extra
run_cli 2 "$HERALD" receipt put --user a --message 1 --channel sms --state sent --platform ios
grep -q "flag --platform does not apply to 'receipt put'" "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" user history bob --cursor xyz
grep -q "bad --cursor 'xyz' (32 hex digits" "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" user history bob --cursor 0123456789abcdef0123456789abcde
run_cli 2 "$HERALD" user history bob --cursor 0123456789abcdef0123456789abcdefa
run_cli 2 "$HERALD" user history bob --cursor 0123456789abcdef0123456789abcdeg
for bad in 0 1001 x -1; do
	run_cli 2 "$HERALD" user history bob --limit "$bad"
	grep -q "bad --limit '$bad' (receipts per page, 1 to 1000)" "$ERR" || fail "stderr: $(cat "$ERR")"
done
run_cli 2 "$HERALD" user history
run_cli 2 "$HERALD" user history bob --reason x
grep -q "flag --reason does not apply to 'user history'" "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" user show bob --all
grep -q "flag --all does not apply to 'user show'" "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" campaign counters seven
grep -q "bad campaign id 'seven'" "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" campaign counters

# The engine's refusals (1): nothing is recorded.
run_cli 1 "$HERALD" receipt put --user a --message 0 --channel sms --state sent
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "message 0: $(cat "$ERR")"
run_cli 1 "$HERALD" receipt put --user a --message 1 --channel sms --state failed
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "failed without reason: $(cat "$ERR")"
run_cli 1 "$HERALD" receipt put --user a --message 1 --channel push --state sent
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "push without vendor: $(cat "$ERR")"
run_cli 1 "$HERALD" receipt put --user a --message 1 --channel sms --vendor apns --state sent
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "sms with vendor: $(cat "$ERR")"
run_cli 1 "$HERALD" receipt put --user a --message 1 --channel sms --state sent \
	--time $(($(date +%s%3N) + 25 * 3600 * 1000))
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "a day ahead: $(cat "$ERR")"
run_cli 1 "$HERALD" receipt put --user a --message 1 --channel sms --state failed \
	--reason "$(printf 'r%.0s' $(seq 65))"
grep -q '^herald: E_LIMIT_EXCEEDED: ' "$ERR" || fail "long reason: $(cat "$ERR")"
run_cli 1 "$HERALD" receipt put --user a --message 1 --channel sms --state failed \
	--reason "$(printf 'tab\there')"
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "reason with a tab: $(cat "$ERR")"
run_cli 1 "$HERALD" user history bob --cursor ffffffffffffffffffffffffffffffff
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "foreign cursor: $(cat "$ERR")"
[ ! -s "$OUT" ] || fail "an error printed to stdout: $(cat "$OUT")"
run_cli 0 "$HERALD" --json user history a
expect_json "refused receipts are not kept" 'd["count"]' 0
run_cli 1 admin receipt put --user a --message 1 --channel sms --state sent
grep -q '^herald: E_FORBIDDEN: ' "$ERR" || fail "admin: $(cat "$ERR")"
run_cli 1 admin campaign counters 42
run_cli 1 admin user history alice

# ---- restart ----------------------------------------------------------------------

run_cli 0 "$HERALD" --json user history bob --all
history_before=$(cat "$OUT")
run_cli 0 "$HERALD" --json user history alice
alice_before=$(cat "$OUT")
# engine_up's readiness ping is admin's; HERALD_APP=shop would make it fail.
unset HERALD_APP HERALD_SECRET
stop_engine
restart_engine
export HERALD_APP=shop HERALD_SECRET=$secret
run_cli 0 "$HERALD" --json user history bob --all
expect_eq "bob's history after a restart" "$(cat "$OUT")" "$history_before"
run_cli 0 "$HERALD" --json user history alice
expect_eq "alice's history after a restart" "$(cat "$OUT")" "$alice_before"
run_cli 0 "$HERALD" campaign counters 42
expect_eq "counters after a restart" "$(cat "$OUT")" "$counters_text"
run_cli 0 admin --json store stats
expect_json "epoch 2" 'd["epoch"]' 2
expect_json "no receipts written since the restart" 'd["receipts_written"]' 0
expect_json "replayed at most what was written" "d[\"receipts_replayed\"] <= $puts" true
echo "receipts replayed at start-up: $(json 'd["receipts_replayed"]' <"$OUT") of $puts"
put --user bob --message 999 --channel sms --state sent
run_cli 0 "$HERALD" --json user history bob --limit 1
expect_json "a new receipt after the restart comes first" 'd["receipts"][0]["message_id"]' 999

# ---- the pipelined API of libherald ------------------------------------------

cat >"$CLI_TMP/receipts.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/herald.h"

#define USERS 30
#define PER_USER 10
#define CAMPAIGN 777

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("FAIL: %s\n", what);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct herald_conn *c;
	uint8_t secret[HRL_SECRET_BYTES];
	struct herald_reply r;
	static uint64_t ids[USERS * PER_USER];
	uint64_t bad_id, hist_id, count_id, by_state[HRL_STATE_COUNT] = { 0 };
	char user[32];

	check(argc == 4 && herald_secret_parse(argv[3], secret) == 0, "usage: receipts ADDR APP SECRET");
	check(herald_connect(argv[1], 10000, &c) == 0 && herald_login(c, argv[2], secret) == 0, "login");

	/* Receipts of many users in flight at once, one refused in the middle. */
	for (int i = 0; i < USERS * PER_USER; i++) {
		struct herald_receipt rc = {
			.message_id = 1000 + (uint64_t)i, .campaign_id = CAMPAIGN, .channel = HRL_CH_SMS,
			.state = (uint8_t)(HRL_STATE_QUEUED + i % 5), .reason = i % 3 ? "ok" : NULL,
		};
		snprintf(user, sizeof(user), "p-%d", i % USERS);
		check(herald_submit_receipt_put(c, user, &rc, &ids[i]) == 0, "submit receipt");
		by_state[rc.state]++;
		if (i == 100) {
			struct herald_receipt bad = { .message_id = 0, .channel = HRL_CH_SMS,
						      .state = HRL_STATE_SENT };
			check(herald_submit_receipt_put(c, "p-0", &bad, &bad_id) == 0, "submit bad");
		}
	}
	for (int n = 0; n < USERS * PER_USER + 1; n++) {
		uint64_t recorded = 0;
		check(herald_recv(c, &r) == 0 && r.opcode == HRL_OP_RECEIPT_PUT, "recv receipt");
		if (r.request_id == bad_id) {
			check(herald_decode_receipt_put(&r, &recorded) == HRL_E_INVALID_ARGUMENT,
			      "message id 0 is E_INVALID_ARGUMENT");
			continue;
		}
		check(herald_decode_receipt_put(&r, &recorded) == 0 && recorded > 0, "decode receipt");
	}
	check(herald_inflight(c) == 0, "all answered");

	/* A history page and the counters, pipelined; then the rest by blocking calls. */
	check(herald_submit_history(c, "p-7", NULL, 4, &hist_id) == 0, "submit history");
	check(herald_submit_campaign_counters(c, CAMPAIGN, &count_id) == 0, "submit counters");
	struct herald_history *h = NULL;
	struct herald_campaign_counters *cc = NULL;
	for (int n = 0; n < 2; n++) {
		check(herald_recv(c, &r) == 0, "recv");
		if (r.request_id == hist_id) {
			struct herald_campaign_counters *wrong = NULL;
			check(herald_decode_campaign_counters(&r, &wrong) == -EINVAL, "other opcode");
			check(herald_decode_history(&r, &h) == 0, "decode history");
		} else {
			check(r.request_id == count_id, "answer id");
			check(herald_decode_campaign_counters(&r, &cc) == 0, "decode counters");
		}
	}
	check(h && cc, "both answers");
	uint64_t want = 1000 + (PER_USER - 1) * USERS + 7; /* p-7's newest */
	int seen = 0;
	for (int page = 0; page < 100; page++) {
		check(h->count <= 4, "page within limit");
		for (unsigned i = 0; i < h->count; i++, seen++, want -= USERS) {
			check(h->receipts[i].message_id == want, "newest first, each once");
			check(strcmp(h->receipts[i].reason, (want - 1000) % 3 ? "ok" : "") == 0, "reason");
			check(h->receipts[i].campaign_id == CAMPAIGN && h->receipts[i].channel == HRL_CH_SMS,
			      "fields");
		}
		if (herald_cursor_is_end(h->next_cursor))
			break;
		uint8_t cursor[HRL_CURSOR_BYTES];
		memcpy(cursor, h->next_cursor, sizeof(cursor));
		herald_history_free(h);
		h = NULL;
		check(herald_history(c, "p-7", cursor, 4, &h) == 0, "next page");
	}
	check(seen == PER_USER, "every receipt of p-7");
	herald_history_free(h);
	for (unsigned i = 0; i < cc->count; i++) {
		check(cc->counters[i].channel == HRL_CH_SMS, "one channel");
		check(cc->counters[i].count == by_state[cc->counters[i].state], "count per state");
		by_state[cc->counters[i].state] = 0;
	}
	for (unsigned st = 0; st < HRL_STATE_COUNT; st++)
		check(by_state[st] == 0, "every state counted");
	herald_campaign_counters_free(cc);
	check(herald_history(c, "p-7", NULL, 0, &h) == HRL_E_INVALID_ARGUMENT &&
		      *herald_errmsg(c), "limit 0: the engine's error and message");
	herald_close(c);
	puts("receipts pipeline ok");
	return 0;
}
C
if [ -f "$CLI_BUILD/libherald.a" ] && command -v "${CC:-gcc}" >/dev/null; then
	sanitize=
	if nm "$CLI_BUILD/libherald.a" 2>/dev/null | grep -q '__asan_'; then
		sanitize="-fsanitize=address,undefined"
	fi
	# shellcheck disable=SC2086
	"${CC:-gcc}" -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$CLI_ROOT" $sanitize \
		-o "$CLI_TMP/receipts" "$CLI_TMP/receipts.c" "$CLI_BUILD/libherald.a" -lcrypto ||
		fail "driver does not build against libherald"
	timeout 60 "$CLI_TMP/receipts" "127.0.0.1:$PORT" shop "$secret" || fail "pipelined receipts"
else
	echo "no $CLI_BUILD/libherald.a or no C compiler: pipelined API not tested"
fi

# ---- malformed answers, against a fake engine -----------------------------------

cat >"$CLI_TMP/fake.py" <<'PY'
import os, struct, sys

fault, port_file = sys.argv[1], sys.argv[2]

sys.path.insert(0, os.environ["HERALD_TESTS_DIR"])
from fake_engine_util import frame, s, read_request, listen_and_accept  # noqa: E402

ZERO = bytes(16)

# PROTOCOL.md 5.6: one HISTORY entry.
def entry(mid, ch=2, vendor=0, state=2, reason=b"", ev=1700000000000, rec=1700000000001):
    return struct.pack("<QQBBBQQ", mid, 9, ch, vendor, state, ev, rec) + s(reason)

def history(entries, cursor=ZERO, count=None):
    return struct.pack("<H", len(entries) if count is None else count) + b"".join(entries) + cursor

def counters(rows, count=None):
    body = struct.pack("<H", len(rows) if count is None else count)
    return body + b"".join(struct.pack("<BBQ", *row) for row in rows)

CURSOR_A, CURSOR_B = b"A" * 16, b"B" * 16
history_faults = {
    "hist_good":       history([entry(3), entry(2, ch=1, vendor=3, state=6, reason=b"gone")]),
    "hist_state0":     history([entry(1, state=0)]),
    "hist_state8":     history([entry(1, state=8)]),
    "hist_channel0":   history([entry(1, ch=0)]),
    "hist_channel6":   history([entry(1, ch=6)]),
    "hist_vendor9":    history([entry(1, ch=1, vendor=9)]),
    "hist_reason_long": history([entry(1, reason=b"r" * 65)]),
    "hist_reason_ctl": history([entry(1, reason=b"a\nb")]),
    "hist_count_high": history([entry(1)], count=2),
    "hist_count_low":  history([entry(1), entry(2)], count=1),
    "hist_no_cursor":  history([entry(1)])[:-16],
    "hist_trailing":   history([entry(1)]) + b"\0",
    "hist_1001":       history([entry(i + 1) for i in range(1001)]),
}
counter_faults = {
    "cnt_good":     counters([(1, 1, 5), (1, 3, 4), (2, 1, 2)]),
    "cnt_unsorted": counters([(1, 3, 4), (1, 1, 5)]),
    "cnt_dup":      counters([(1, 1, 5), (1, 1, 5)]),
    "cnt_zero":     counters([(1, 1, 0)]),
    "cnt_state8":   counters([(1, 8, 1)]),
    "cnt_channel6": counters([(6, 1, 1)]),
    "cnt_count":    counters([(1, 1, 5)], count=2),
    "cnt_trailing": counters([(1, 1, 5)]) + b"\0",
}
put_faults = {
    "put_good":  struct.pack("<Q", 1700000000123),
    "put_short": struct.pack("<Q", 1700000000123)[:7],
    "put_long":  struct.pack("<Q", 1700000000123) + b"\0",
}

c = listen_and_accept(port_file)
op, rid, _ = read_request(c)  # HELLO
c.sendall(frame(op, rid, struct.pack("<BBHI", 1, 0, 2, 1 << 20) + b"\x07" * 32 + s(b"fake")))
op, rid, _ = read_request(c)  # AUTH
c.sendall(frame(op, rid, s(b"shop") + b"\x00"))
for _ in range(10):
    op, rid, body = read_request(c)
    cursor = body[-18:-2] if op == 0x31 else None
    if fault in history_faults or fault in counter_faults or fault in put_faults:
        answer = {**history_faults, **counter_faults, **put_faults}[fault]
    elif fault == "hist_pages":
        # Three pages, the middle one empty; each cursor must come back as sent.
        pages = {ZERO: history([entry(5), entry(4)], CURSOR_A), CURSOR_A: history([], CURSOR_B),
                 CURSOR_B: history([entry(3)])}
        if cursor not in pages:
            c.sendall(frame(op, rid, struct.pack("<H", 14) + s(b"bad cursor"), flags=3))
            continue
        answer = pages[cursor]
    elif fault == "hist_loop":
        answer = history([entry(1)], CURSOR_A)  # the same cursor, whatever came in
    elif fault == "e_invalid":
        c.sendall(frame(op, rid, struct.pack("<H", 14) + s(b"cursor not from this engine"),
                        flags=3))
        continue
    c.sendall(frame(op, rid, answer))
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

# run_fake FAULT WANT ARGS...: `herald ARGS` against the fake exits WANT.
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
		--app shop --secret "$(printf '%064d' 0)" "$@"
	stop_fake
}

run_fake hist_good 0 --json user history x
expect_json "fake: history" '[[r["message_id"], r["channel"], r["vendor"], r["state"], r["reason"]] for r in d["receipts"]]' \
	'[[3, "sms", "none", "sent", ""], [2, "push", "huawei", "failed", "gone"]]'
expect_json "fake: times" '[d["receipts"][0]["event_unix_ms"], d["receipts"][0]["recorded_unix_ms"]]' \
	'[1700000000000, 1700000000001]'
run_fake hist_pages 0 --json user history x --all --limit 2
expect_json "fake: --all across an empty page" '[r["message_id"] for r in d["receipts"]]' '[5, 4, 3]'
run_fake hist_pages 0 user history x --limit 2
grep -qx "next_cursor: $(printf '41%.0s' $(seq 16))" "$OUT" || fail "fake: cursor: $(cat "$OUT")"
run_fake hist_loop 3 user history x --all
grep -q 'handed back the cursor it was given' "$ERR" || fail "fake: loop: $(cat "$ERR")"
run_fake e_invalid 1 user history x --cursor 00112233445566778899aabbccddeeff
grep -qx 'herald: E_INVALID_ARGUMENT: cursor not from this engine' "$ERR" ||
	fail "fake: error: $(cat "$ERR")"
run_fake cnt_good 0 --json campaign counters 1
expect_json "fake: counters" '[[x["channel"], x["state"], x["count"]] for x in d["counters"]]' \
	'[["push", "queued", 5], ["push", "delivered", 4], ["sms", "queued", 2]]'
run_fake put_good 0 --json receipt put --user x --message 1 --channel sms --state sent
expect_json "fake: put" 'd["recorded_unix_ms"]' 1700000000123

for fault in hist_state0 hist_state8 hist_channel0 hist_channel6 hist_vendor9 hist_reason_long \
	hist_reason_ctl hist_count_high hist_count_low hist_no_cursor hist_trailing hist_1001; do
	run_fake "$fault" 3 user history x
	grep -q 'user history: malformed answer' "$ERR" || fail "fault $fault: stderr: $(cat "$ERR")"
done
for fault in cnt_unsorted cnt_dup cnt_zero cnt_state8 cnt_channel6 cnt_count cnt_trailing; do
	run_fake "$fault" 3 campaign counters 1
	grep -q 'campaign counters: malformed answer' "$ERR" ||
		fail "fault $fault: stderr: $(cat "$ERR")"
done
for fault in put_short put_long; do
	run_fake "$fault" 3 receipt put --user x --message 1 --channel sms --state sent
	grep -q 'receipt put: malformed answer' "$ERR" || fail "fault $fault: stderr: $(cat "$ERR")"
done

finish
