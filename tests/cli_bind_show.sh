#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_bind_show.sh - `herald bind` on every channel, re-binding the
# same address, and `herald user show` in text and JSON (including a user
# id that JSON must escape). Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"
start_engine

secret=$(new_app shop) || fail "app create"
export HERALD_APP=shop HERALD_SECRET=$secret

run_cli 0 "$HERALD" bind alice push tok-apns-1 --vendor apns --platform ios
grep -qx 'device_id: 1 (new)' "$OUT" || fail "bind output: $(cat "$OUT")"
run_cli 0 "$HERALD" bind alice sms +8613800000000
grep -qx 'device_id: 2 (new)' "$OUT" || fail "bind output: $(cat "$OUT")"
run_cli 0 "$HERALD" --json bind alice email alice@example.com
expect_json "json bind" '[d["device_id"], d["created"]]' '[3, true]'
run_cli 0 "$HERALD" bind alice wechat oAbC_12-x
run_cli 0 "$HERALD" bind alice webhook https://hooks.example.com/a
run_cli 0 "$HERALD" bind --vendor huawei --platform harmony alice push tok-hw

# Same address, channel and vendor: same device, created false, platform updated.
run_cli 0 "$HERALD" --json bind alice push tok-apns-1 --vendor apns --platform web
expect_json "rebind" '[d["device_id"], d["created"]]' '[1, false]'
run_cli 0 "$HERALD" bind alice push tok-apns-1 --vendor apns --platform web
grep -qx 'device_id: 1 (already bound)' "$OUT" || fail "rebind output: $(cat "$OUT")"

run_cli 0 "$HERALD" --json user show alice
expect_json "user_id" 'd["user_id"]' alice
expect_json "device ids" '[x["device_id"] for x in d["devices"]]' '[1, 2, 3, 4, 5, 6]'
expect_json "channels" '[x["channel"] for x in d["devices"]]' \
	'["push", "sms", "email", "wechat", "webhook", "push"]'
expect_json "device 1" '[d["devices"][0][k] for k in ("vendor", "platform", "state", "address")]' \
	'["apns", "web", "active", "tok-apns-1"]'
expect_json "device 6" '[d["devices"][5][k] for k in ("vendor", "platform")]' \
	'["huawei", "harmony"]'
expect_json "sms vendor" 'd["devices"][1]["vendor"]' none
expect_json "bound time" 'd["devices"][0]["bound_unix_ms"] > 1600000000000' true
expect_json "empty parts" '[d["tags"], d["attrs"], d["devices"][0]["aliases"]]' '[[], {}, {}]'

run_cli 0 "$HERALD" user show alice
grep -q '^user_id: *alice$' "$OUT" || fail "text show: $(cat "$OUT")"
grep -q '^devices: *6$' "$OUT" || fail "text show: $(cat "$OUT")"
grep -q '^  device 1: push apns/web, active, bound 20[0-9-]*T' "$OUT" ||
	fail "text show: $(cat "$OUT")"
grep -q '^    address: +8613800000000$' "$OUT" || fail "text show: $(cat "$OUT")"

# A user id with characters JSON must escape still gives valid JSON.
odd='quote"back\slash/é'
run_cli 0 "$HERALD" bind "$odd" sms +4915112345678
run_cli 0 "$HERALD" --json user show "$odd"
expect_json "escaped user id" 'd["user_id"]' "$odd"

# Unbind removes the device; the numbers are not reused.
run_cli 0 "$HERALD" unbind alice 2
run_cli 0 "$HERALD" --json bind alice sms +8613900000000
expect_json "new id after unbind" 'd["device_id"]' 7
run_cli 1 "$HERALD" unbind alice 2
grep -q '^herald: E_NOT_FOUND: ' "$ERR" || fail "stderr: $(cat "$ERR")"

# Addresses the engine must refuse, and push without vendor.
run_cli 1 "$HERALD" bind alice sms 12345
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 1 "$HERALD" bind alice push tok-x
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 1 "$HERALD" user show nobody
grep -q '^herald: E_NOT_FOUND: ' "$ERR" || fail "stderr: $(cat "$ERR")"

finish
