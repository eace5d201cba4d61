#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_campaign.sh - campaigns and vendor settings end to end through
# `herald`: vendor set / list (secrets never shown, a setting replaced,
# bad settings refused); campaigns of each audience (user, list, tag, all)
# run to done, with the funnel in their status and their outcomes as
# receipts; pause, resume, cancel and what a final campaign refuses; a
# vendor that calls an address invalid turns the device invalid in `user
# show`, and the next campaign skips it; bad input (a tag expression or a
# template with the offset of the problem, a list of 1001 users, a channel
# twice) is the engine's E_INVALID_ARGUMENT, exit 1; other apps see none of
# it; and everything but the running state survives a restart. (That a
# done campaign refuses every control is tests/cli_campaign_final.sh.)
#
# Vendors: a small HTTP server of this test, as Huawei and the SMS gateway
# refusing every request (failed at once) and as the webhook calling every
# address invalid; for pause and resume, sms at a port where nobody listens
# (every call fails and is retried with backoff).
# Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"

hook_pid=
trap '[ -n "$hook_pid" ] && kill "$hook_pid" 2>/dev/null; cli_cleanup' EXIT

start_engine
secret=$(new_app shop) || fail "app create shop"
other=$(new_app other) || fail "app create other"
A() { as_app shop "$secret" "$@"; }
O() { as_app other "$other" "$@"; }

# expect_many WHAT EXPR WANT [EXPR WANT]...: like expect_json for each pair,
# on the JSON document in $OUT, in one python3 run (starting python is the
# slow part of these tests).
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
# status ID: the campaign's status, as JSON in $OUT.
status() {
	run_cli 0 A --json campaign status "$1"
}
# watch ID: wait (with --watch) until the campaign is done or cancelled.
watch() {
	run_cli 0 A --json campaign status "$1" --watch
}
# Checks that hold for every finished campaign (for expect_many).
FINISHED=('d["sent"] + d["failed"] + d["invalid"] == d["queued"]' true 'd["inflight"]' 0)
DONE=("${FINISHED[@]}" 'd["state"]' done 'd["progress_ppm"]' 1000000)

# ---- the users ---------------------------------------------------------------
# alice: push (huawei) + sms, tags vip cn, attribute name
# bob:   sms, tags vip hk
# carol: push (xiaomi: no vendor set for it), tag cn
# dave:  webhook, tag hook
# eve:   no device, tag vip
run_cli 0 A bind alice push tok-alice --vendor huawei --platform android
run_cli 0 A bind alice sms +8613800000001
run_cli 0 A bind bob sms +8613800000002
run_cli 0 A bind carol push tok-carol --vendor xiaomi --platform android
run_cli 0 A bind dave webhook https://hooks.example/dave
run_cli 0 A tag add alice vip cn
run_cli 0 A tag add bob vip hk
run_cli 0 A tag add carol cn
run_cli 0 A tag add dave hook
run_cli 0 A tag add eve vip
run_cli 0 A attr set alice name=Alice
run_cli 0 O bind zed sms +8613800000009 # another app's user: never in shop's campaigns

# ---- vendors -----------------------------------------------------------------
dead=$(free_port)
run_cli 0 A --json vendor list
grep -qx '{"vendors":\[\]}' "$OUT" || fail "no vendors yet: $(cat "$OUT")"
run_cli 0 A vendor list
grep -q 'no vendors configured' "$OUT" || fail "empty vendor list: $(cat "$OUT")"
# The vendors: one small HTTP server of this test. As the webhook
# (/herald/in) it calls every address invalid and notes each call (path,
# Authorization, addresses) in hook.port.calls; as Huawei (/v1/...) it
# answers 80100001 "parameter error" and as the SMS gateway (/)
# isv.INVALID_PARAMETERS: failed at once, no retry (docs/VENDORS.md).
cat >"$CLI_TMP/hook.py" <<'PY'
import http.server, json, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def answer(self, code, doc):
        out = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def do_POST(self):
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.startswith("/herald/in"):
            to = json.loads(raw)["to"]
            with open(sys.argv[1] + ".calls", "a") as f:
                f.write(self.path + " " + self.headers.get("Authorization", "") + " " +
                        json.dumps(to) + "\n")
            self.answer(200, {"invalid": to})
        elif self.path.startswith("/v1/"):
            self.answer(400, {"code": "80100001", "msg": "parameter error", "requestId": "1"})
        else:
            self.answer(200, {"Code": "isv.INVALID_PARAMETERS", "Message": "no", "RequestId": "1"})
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PY
python3 "$CLI_TMP/hook.py" "$CLI_TMP/hook.port" &
hook_pid=$!
for _ in $(seq 200); do
	[ -s "$CLI_TMP/hook.port" ] && break
	sleep 0.05
done
hook_port=$(cat "$CLI_TMP/hook.port") || fail "the webhook receiver did not start"
touch "$CLI_TMP/hook.port.calls"
vendor_url=http://127.0.0.1:$hook_port
run_cli 0 A vendor set --target huawei --url "$vendor_url" --app-id 10086 \
	--vendor-secret hw-token-SECRET
grep -qx ok "$OUT" || fail "vendor set: $(cat "$OUT")"
run_cli 0 A --json vendor set --target sms --url "$vendor_url" \
	--vendor-secret ak-SECRET --vendor-secret2 sk-SECRET --sign-name Shop \
	--template-code SMS_1 --rate 1000 --quota 50000
grep -qx '{"ok":true}' "$OUT" || fail "vendor set --json: $(cat "$OUT")"
run_cli 0 A vendor set --target webhook --url "http://127.0.0.1:$hook_port/herald/in" \
	--vendor-secret hook-SECRET

run_cli 0 A --json vendor list
expect_many "vendor list" \
	'[v["target"] for v in d["vendors"]]' '["huawei", "sms", "webhook"]' \
	'd["vendors"][0]["url"]' "$vendor_url" \
	'[[v["batch_max"], v["connections"]] for v in d["vendors"]]' '[[1000, 4], [1000, 4], [1000, 4]]' \
	'[d["vendors"][1]["rate_per_s"], d["vendors"][1]["daily_quota"]]' '[1000, 50000]'
! grep -q 'SECRET\|10086\|SMS_1\|Shop' "$OUT" || fail "vendor list shows credentials: $(cat "$OUT")"
run_cli 0 A vendor list
grep -q '^huawei ' "$OUT" || fail "vendor list text: $(cat "$OUT")"
! grep -q 'SECRET' "$OUT" || fail "vendor list text shows a secret"
# A new setting replaces the old one whole.
run_cli 0 A vendor set --target huawei --url "$vendor_url" --app-id 10086 \
	--vendor-secret hw-token-SECRET --batch 10 --connections 2
run_cli 0 A --json vendor list
expect_many "huawei replaced" \
	'[d["vendors"][0]["batch_max"], d["vendors"][0]["connections"], len(d["vendors"])]' '[10, 2, 3]'
# Bad settings: the engine's E_INVALID_ARGUMENT, exit 1, nothing changed.
run_cli 1 A vendor set --target huawei --url ftp://127.0.0.1:1
grep -q '^herald: E_INVALID_ARGUMENT: url must start with http:// or https://' "$ERR" ||
	fail "ftp url: $(cat "$ERR")"
run_cli 1 A vendor set --target huawei --url http://x --batch 1001
grep -q 'batch_max is at most 1000' "$ERR" || fail "batch 1001: $(cat "$ERR")"
run_cli 1 A vendor set --target huawei --url http://x --connections 65
grep -q 'connections is at most 64' "$ERR" || fail "connections 65: $(cat "$ERR")"
run_cli 1 A vendor set --target huawei --url ''
run_cli 1 A vendor set --target sms --url http://x --vendor-secret "$(printf 'k%.0s' $(seq 256))"
grep -q 'secret longer than 255 bytes' "$ERR" || fail "long secret: $(cat "$ERR")"
run_cli 0 A --json vendor list
expect_many "refused settings changed nothing" \
	'[d["vendors"][0]["batch_max"], d["vendors"][1]["url"], len(d["vendors"])]' \
	"[10, \"$vendor_url\", 3]"
# Another app has its own (none); admin has none at all.
run_cli 0 O --json vendor list
grep -qx '{"vendors":\[\]}' "$OUT" || fail "other app's vendors: $(cat "$OUT")"
run_cli 1 admin vendor list
grep -q '^herald: E_FORBIDDEN' "$ERR" || fail "admin vendor list: $(cat "$ERR")"

# ---- campaigns of each audience -----------------------------------------------
# user: alice on push -> huawei, which refuses the request.
run_cli 0 A --json campaign create --audience user --user alice --channel push \
	--title 'Hi {{name|there}}' --body 'Sale for {{user_id}} {{{{today}}'
c_user=$(cid)
[ "${c_user:-0}" -ge 1 ] || fail "campaign id: $(cat "$OUT")"
watch "$c_user"
expect_many "user" "${DONE[@]}" \
	'[d["audience"], d["lane"]]' '["user", "bulk"]' \
	'[d["users_scanned"], d["recipients"], d["queued"]]' '[1, 1, 1]' \
	'[d["sent"], d["failed"], d["invalid"]]' '[0, 1, 0]' \
	'd["vendor_calls"]' 1 \
	'd["vendor_calls"] >= 1 and d["first_call_us"] > 0' true
# Its outcome is a receipt: counters by campaign, history by user.
run_cli 0 A --json campaign counters "$c_user"
expect_many "user: counters" 'd["counters"]' '[{"channel": "push", "state": "failed", "count": 1}]'
run_cli 0 A --json user history alice
expect_many "user: alice's receipt" \
	'[[r["campaign_id"], r["message_id"], r["state"], r["vendor"], r["reason"]] for r in d["receipts"]]' \
	"[[$c_user, $c_user, \"failed\", \"huawei\", \"80100001\"]]"

# list: alice (push, sms), bob (sms), nobody (not a user); transactional.
run_cli 0 A --json campaign create --audience list --users alice,bob,nobody --channel push,sms \
	--body 'Your code is 1234' --lane transactional --category otp
c_list=$(cid)
[ "$c_list" -gt "$c_user" ] || fail "ids go up: $c_user then $c_list"
watch "$c_list"
expect_many "list" "${DONE[@]}" \
	'[d["audience"], d["lane"]]' '["list", "transactional"]' \
	'[d["users_scanned"], d["recipients"], d["queued"], d["no_address"]]' '[3, 2, 3, 0]'
# The same list from a file, one id a line.
printf 'alice\r\nbob\n\nnobody\n' >"$CLI_TMP/users"
run_cli 0 A --json campaign create --audience list --users-file "$CLI_TMP/users" --channel sms --body hi
watch "$(cid)"
expect_many "list from a file" "${DONE[@]}" \
	'[d["users_scanned"], d["recipients"], d["queued"]]' '[3, 2, 2]'

# tag: vip AND NOT hk = alice, eve; on sms only alice has an address.
run_cli 0 A --json campaign create --audience tag --tag-expr 'vip AND NOT hk' --channel sms --body hi
c_tag=$(cid)
watch "$c_tag"
expect_many "tag" "${DONE[@]}" \
	'd["audience"]' tag \
	'[d["recipients"], d["queued"], d["no_address"]]' '[2, 1, 1]' \
	'd["users_scanned"]' 5
# Precedence: NOT > AND > OR, so this is cn OR (hk AND NOT vip) = alice, carol.
run_cli 0 A --json campaign create --audience tag --tag-expr 'cn OR hk AND NOT vip' --channel sms --body hi
watch "$(cid)"
expect_many "tag precedence" "${DONE[@]}" 'd["recipients"]' 2

# all, with --wait: text progress (a line per poll: stdout is no terminal),
# then the funnel. carol's xiaomi device has no vendor set: failed, "no
# vendor configured".
run_cli 0 A campaign create --audience all --channel push --body 'hello {{user_id}}' --wait
c_all=$(cid)
[ -n "$c_all" ] || fail "--wait: $(cat "$OUT")"
grep -q '^\[[#-]*\] *[0-9.]*%' "$OUT" || fail "--wait progress line: $(cat "$OUT")"
grep -q "^campaign $c_all done" "$OUT" || fail "--wait end: $(cat "$OUT")"
for field in recipients queued sent failed invalid 'no address' 'vendor calls' 'first call'; do
	grep -q "^$field: " "$OUT" || fail "--wait funnel lacks '$field': $(cat "$OUT")"
done
grep -q '^recipients: *5$' "$OUT" || fail "all: recipients: $(cat "$OUT")"
status "$c_all"
expect_many "all" "${DONE[@]}" \
	'd["audience"]' all \
	'[d["queued"], d["no_address"]]' '[2, 3]'
run_cli 0 A --json user history carol
expect_many "carol" '[r["reason"] for r in d["receipts"]]' '["no vendor configured"]'
# Text status of a finished campaign.
run_cli 0 A campaign status "$c_all"
grep -q "^campaign $c_all: done, audience all, lane bulk" "$OUT" || fail "status text: $(cat "$OUT")"
grep -q '^progress: *100.0%' "$OUT" || fail "status text progress: $(cat "$OUT")"

# ---- a vendor that calls the address invalid ------------------------------------
run_cli 0 A --json campaign create --audience tag --tag-expr hook --channel webhook --body ping
watch "$(cid)"
expect_many "webhook" "${DONE[@]}" '[d["queued"], d["sent"], d["failed"], d["invalid"]]' '[1, 0, 0, 1]'
grep -q '^/herald/in Bearer hook-SECRET \["https://hooks.example/dave"\]$' "$CLI_TMP/hook.port.calls" ||
	fail "webhook call: $(cat "$CLI_TMP/hook.port.calls")"
run_cli 0 A user show dave
grep -q 'invalid (vendor said so; never tried again)' "$OUT" || fail "user show dave: $(cat "$OUT")"
run_cli 0 A --json user show dave
expect_many "dave's device" '[d["devices"][0]["state"], d["devices"][0]["address"]]' \
	'["invalid", "https://hooks.example/dave"]'
run_cli 0 A --json user show alice
expect_many "alice's devices stay active" '[x["state"] for x in d["devices"]]' '["active", "active"]'
# Never tried again: the next campaign finds no address for dave, calls nobody.
calls=$(wc -l <"$CLI_TMP/hook.port.calls")
run_cli 0 A --json campaign create --audience user --user dave --channel webhook --body ping
watch "$(cid)"
expect_many "dave skipped" "${DONE[@]}" \
	'[d["recipients"], d["queued"], d["no_address"], d["vendor_calls"]]' '[1, 0, 1, 0]'
[ "$(wc -l <"$CLI_TMP/hook.port.calls")" = "$calls" ] || fail "an invalid address was called again"
# Binding the same address again leaves it invalid.
run_cli 0 A --json bind dave webhook https://hooks.example/dave
grep -qx '{"user_id":"dave","device_id":1,"created":false}' "$OUT" || fail "rebind: $(cat "$OUT")"
run_cli 0 A --json user show dave
grep -q '"state":"invalid"' "$OUT" || fail "still invalid: $(cat "$OUT")"

# ---- pause, resume, cancel --------------------------------------------------------
# sms now goes to a port where nobody listens: every call fails and is
# retried with backoff for seconds, so the campaign is still running when
# it is paused. (A new setting applies to the next calls.)
run_cli 0 A vendor set --target sms --url "http://127.0.0.1:$dead" --vendor-secret ak-SECRET \
	--vendor-secret2 sk-SECRET --sign-name Shop --template-code SMS_1
run_cli 0 A --json campaign create --audience list --users alice,bob --channel sms --body slow
c_ctl=$(cid)
run_cli 0 A campaign pause "$c_ctl"
grep -qx "campaign $c_ctl: paused" "$OUT" || fail "pause: $(cat "$OUT")"
status "$c_ctl"
grep -q '"state":"paused"' "$OUT" || fail "paused: $(cat "$OUT")"
run_cli 0 A --json campaign pause "$c_ctl"
grep -qx "{\"campaign_id\":$c_ctl,\"state\":\"paused\"}" "$OUT" || fail "pause again: $(cat "$OUT")"
run_cli 0 A campaign resume "$c_ctl"
grep -qx "campaign $c_ctl: running" "$OUT" || fail "resume: $(cat "$OUT")"
run_cli 0 A --json campaign cancel "$c_ctl"
grep -qx "{\"campaign_id\":$c_ctl,\"state\":\"cancelled\"}" "$OUT" || fail "cancel: $(cat "$OUT")"
watch "$c_ctl"
expect_many "cancelled" 'd["state"]' cancelled
for action in pause resume cancel; do
	run_cli 1 A campaign $action "$c_ctl"
	grep -qx 'herald: E_INVALID_ARGUMENT: campaign is cancelled' "$ERR" ||
		fail "$action of a cancelled campaign: $(cat "$ERR")"
done
# A paused campaign for the restart below.
run_cli 0 A --json campaign create --audience list --users alice,bob --channel sms --body later
c_paused=$(cid)
run_cli 0 A campaign pause "$c_paused"
# ---- bad input -----------------------------------------------------------------------
run_cli 1 A campaign create --audience tag --tag-expr 'vip AND (cn OR' --channel push --body hi
grep -Eq "^herald: E_INVALID_ARGUMENT: tag expression: expected a tag or '\\(' at (offset )?14$" "$ERR" ||
	fail "bad tag expression: $(cat "$ERR")"
run_cli 1 A campaign create --audience tag --tag-expr 'vip & cn' --channel push --body hi
grep -Eq "tag expression: unexpected character '&' at (offset )?4$" "$ERR" || fail "'&': $(cat "$ERR")"
run_cli 1 A campaign create --audience all --channel push --body 'Hi {{row.order}}'
grep -Eqx "herald: E_INVALID_ARGUMENT: body template: unknown template variable 'row.order' at (offset )?5" "$ERR" ||
	fail "unknown template variable: $(cat "$ERR")"
run_cli 1 A campaign create --audience all --channel push --title 'Hi {{name' --body hi
grep -Eq 'title template: unterminated placeholder at (offset )?3$' "$ERR" || fail "title: $(cat "$ERR")"
seq -f 'u%g' 1 1001 >"$CLI_TMP/1001"
run_cli 1 A campaign create --audience list --users-file "$CLI_TMP/1001" --channel push --body hi
grep -qx 'herald: E_INVALID_ARGUMENT: a list holds 1 to 1000 users' "$ERR" || fail "1001 users: $(cat "$ERR")"
head -n 1000 "$CLI_TMP/1001" >"$CLI_TMP/1000"
run_cli 0 A --json campaign create --audience list --users-file "$CLI_TMP/1000" --channel push --body hi
watch "$(cid)"
expect_many "1000 users" "${DONE[@]}" '[d["users_scanned"], d["recipients"]]' '[1000, 0]'
run_cli 1 A campaign create --audience all --channel push,sms,push --body hi
grep -q 'channel 1 given twice' "$ERR" || fail "channel twice: $(cat "$ERR")"
run_cli 1 A campaign create --audience all --channel push --body ''
grep -q 'body must be 1 to 4096 bytes' "$ERR" || fail "empty body: $(cat "$ERR")"
run_cli 1 A campaign create --audience all --channel push --body hi --category "$(printf 'c%.0s' $(seq 65))"
grep -q 'category longer than 64 bytes' "$ERR" || fail "category: $(cat "$ERR")"
run_cli 1 A campaign status 999999
grep -qx 'herald: E_NOT_FOUND: no such campaign' "$ERR" || fail "unknown id: $(cat "$ERR")"
run_cli 1 A campaign pause 999999
run_cli 1 A campaign status 999999 --watch

# ---- other apps and admin --------------------------------------------------------------
run_cli 1 O campaign status "$c_user"
grep -q '^herald: E_NOT_FOUND' "$ERR" || fail "other app's status: $(cat "$ERR")"
run_cli 1 O campaign cancel "$c_paused"
grep -q '^herald: E_NOT_FOUND' "$ERR" || fail "other app's cancel: $(cat "$ERR")"
run_cli 1 admin campaign status "$c_user"
grep -q '^herald: E_FORBIDDEN' "$ERR" || fail "admin status: $(cat "$ERR")"
run_cli 0 O --json campaign create --audience all --channel sms --body hi
c_other=$(cid)
run_cli 0 O --json campaign status "$c_other" --watch
expect_many "other app: only its own user, no vendor of its own" "${DONE[@]}" \
	'[d["recipients"], d["queued"], d["failed"]]' '[1, 1, 1]'

# ---- a restart keeps settings, states and counts ----------------------------------------
status "$c_list"
cp "$OUT" "$CLI_TMP/list_before"
stop_engine
restart_engine
run_cli 0 A --json vendor list
expect_many "vendors after restart" '[[v["target"], v["batch_max"], v["rate_per_s"]] for v in d["vendors"]]' \
	'[["huawei", 10, 0], ["sms", 1000, 0], ["webhook", 1000, 0]]' \
	'd["vendors"][1]["url"]' "http://127.0.0.1:$dead"
status "$c_list"
# Everything but first_call_us, which is not kept on disk (5.10).
cmp -s <(sed 's/"first_call_us":[0-9]*,//' "$CLI_TMP/list_before") <(sed 's/"first_call_us":[0-9]*,//' "$OUT") ||
	fail "status after restart: $(cat "$OUT"), before: $(cat "$CLI_TMP/list_before")"
status "$c_ctl"
grep -q '"state":"cancelled"' "$OUT" || fail "cancelled after restart: $(cat "$OUT")"
status "$c_paused"
grep -q '"state":"paused"' "$OUT" || fail "paused after restart: $(cat "$OUT")"
run_cli 0 A campaign resume "$c_paused"
watch "$c_paused"
expect_many "resumed after restart" "${DONE[@]}"
run_cli 0 A --json campaign create --audience user --user bob --channel sms --body hi
c_new=$(cid)
[ "$c_new" -gt "$c_other" ] || fail "ids after restart: $c_new after $c_other"
run_cli 0 A --json user show dave
grep -q '"state":"invalid"' "$OUT" || fail "invalid after restart: $(cat "$OUT")"

finish
