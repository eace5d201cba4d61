#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_tags.sh - `herald tag add` / `tag del` report how many tags
# really changed, `user show` lists them sorted, and a request with one bad
# tag changes nothing. Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"
start_engine

secret=$(new_app shop) || fail "app create"
export HERALD_APP=shop HERALD_SECRET=$secret

# TAG_ADD creates the user.
run_cli 0 "$HERALD" tag add carol vip city:sh tier.gold
grep -qx 'added: 3' "$OUT" || fail "add: $(cat "$OUT")"
run_cli 0 "$HERALD" --json tag add carol vip beta
expect_json "re-add" 'd["added"]' 1

run_cli 0 "$HERALD" --json user show carol
expect_json "sorted" 'd["tags"]' '["beta", "city:sh", "tier.gold", "vip"]'

run_cli 0 "$HERALD" tag del carol vip nope
grep -qx 'removed: 1' "$OUT" || fail "del: $(cat "$OUT")"
run_cli 0 "$HERALD" --json tag del carol nope
expect_json "del absent" 'd["removed"]' 0

# One bad tag: the whole request is refused.
run_cli 1 "$HERALD" tag add carol ok-tag 'bad tag'
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 0 "$HERALD" --json user show carol
expect_json "unchanged" 'd["tags"]' '["beta", "city:sh", "tier.gold"]'

run_cli 0 "$HERALD" user show carol
grep -q '^tags: *3$' "$OUT" || fail "text show: $(cat "$OUT")"
grep -qx '  tier.gold' "$OUT" || fail "text show: $(cat "$OUT")"

# A tag starting with '-' goes after "--".
run_cli 0 "$HERALD" tag add carol -- -dash
run_cli 0 "$HERALD" --json user show carol
expect_json "dash tag" '"-dash" in d["tags"]' true

# Missing tags is a usage error.
run_cli 2 "$HERALD" tag add carol
run_cli 1 "$HERALD" tag del nobody vip
grep -q '^herald: E_NOT_FOUND: ' "$ERR" || fail "stderr: $(cat "$ERR")"

finish
