#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_alias.sh - `herald alias set` replaces a device's alias of a type
# and prints the old one, `alias lookup` finds every device (of several
# users) holding an alias, `alias del` and `unbind` take it out of the index.
# Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"
start_engine

secret=$(new_app shop) || fail "app create"
export HERALD_APP=shop HERALD_SECRET=$secret

run_cli 0 "$HERALD" bind alice sms +8613800000001
run_cli 0 "$HERALD" bind alice email alice@example.com
run_cli 0 "$HERALD" bind bob sms +8613800000002

run_cli 0 "$HERALD" alias set alice 1 member m-100
grep -qx 'previous_alias: (none)' "$OUT" || fail "first set: $(cat "$OUT")"
run_cli 0 "$HERALD" --json alias set alice 1 member m-200
expect_json "replaced" 'd["previous_alias"]' m-100
run_cli 0 "$HERALD" alias set alice 1 member m-300
grep -qx 'previous_alias: m-200' "$OUT" || fail "replace: $(cat "$OUT")"

# The old alias is gone from the index, the new one is there.
run_cli 0 "$HERALD" --json alias lookup member m-200
expect_json "old alias" 'd["devices"]' '[]'
run_cli 0 "$HERALD" alias lookup member m-300
expect_eq "text lookup" "$(cat "$OUT")" "alice 1"

# Shared alias across devices and users.
run_cli 0 "$HERALD" alias set alice 2 family f-1
run_cli 0 "$HERALD" alias set bob 1 family f-1
run_cli 0 "$HERALD" --json alias lookup family f-1
expect_json "shared" 'sorted((x["user_id"], x["device_id"]) for x in d["devices"])' \
	'[["alice", 2], ["bob", 1]]'

# Another type on the same device does not replace.
run_cli 0 "$HERALD" --json alias set alice 1 phone p-9
expect_json "other type" 'd["previous_alias"]' ""
run_cli 0 "$HERALD" --json user show alice
expect_json "aliases" 'd["devices"][0]["aliases"]' '{"member": "m-300", "phone": "p-9"}'

# Delete one alias; unbind drops the device's aliases.
run_cli 0 "$HERALD" alias del alice 1 member
run_cli 0 "$HERALD" --json alias lookup member m-300
expect_json "after del" 'len(d["devices"])' 0
run_cli 1 "$HERALD" alias del alice 1 member
grep -q '^herald: E_NOT_FOUND: ' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 0 "$HERALD" unbind bob 1
run_cli 0 "$HERALD" --json alias lookup family f-1
expect_json "after unbind" '[(x["user_id"], x["device_id"]) for x in d["devices"]]' \
	'[["alice", 2]]'

# Bad alias type; unknown device.
run_cli 1 "$HERALD" alias set alice 1 Bad-Type x
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 1 "$HERALD" alias set alice 99 member x
grep -q '^herald: E_NOT_FOUND: ' "$ERR" || fail "stderr: $(cat "$ERR")"

finish
