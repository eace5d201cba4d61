#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_app_isolation.sh - a user id names a different user in each
# app: a second app cannot see, change or find through aliases the first
# app's user. Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"
start_engine

a=$(new_app app-a) || fail "app create a"
b=$(new_app app-b) || fail "app create b"

run_cli 0 as_app app-a "$a" bind alice sms +8613800000001
run_cli 0 as_app app-a "$a" alias set alice 1 member shared-1
run_cli 0 as_app app-a "$a" tag add alice vip
run_cli 0 as_app app-a "$a" attr set alice tz=UTC

# app-b sees no alice, cannot change her, finds nothing by her alias.
run_cli 1 as_app app-b "$b" user show alice
grep -q '^herald: E_NOT_FOUND: ' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 1 as_app app-b "$b" unbind alice 1
run_cli 1 as_app app-b "$b" alias set alice 1 member x
run_cli 1 as_app app-b "$b" tag del alice vip
run_cli 0 as_app app-b "$b" --json alias lookup member shared-1
expect_json "b lookup" 'd["devices"]' '[]'

# app-b's own alice is another user, with her own device numbering.
run_cli 0 as_app app-b "$b" --json bind alice email alice@b.example
expect_json "b device" '[d["device_id"], d["created"]]' '[1, true]'
run_cli 0 as_app app-b "$b" alias set alice 1 member shared-1
run_cli 0 as_app app-b "$b" --json alias lookup member shared-1
expect_json "b own lookup" '[(x["user_id"], x["device_id"]) for x in d["devices"]]' \
	'[["alice", 1]]'

# app-a's alice is untouched.
run_cli 0 as_app app-a "$a" --json user show alice
expect_json "a devices" '[x["channel"] for x in d["devices"]]' '["sms"]'
expect_json "a tags" 'd["tags"]' '["vip"]'
expect_json "a attrs" 'd["attrs"]' '{"tz": "UTC"}'
run_cli 0 as_app app-a "$a" --json alias lookup member shared-1
expect_json "a lookup" 'len(d["devices"])' 1

finish
