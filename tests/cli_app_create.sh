#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_app_create.sh - `herald app create` makes an app whose printed
# secret authenticates, `app list` shows it, and creating it twice is an
# engine error (exit 1, E_EXISTS). Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"
start_engine

# Human output: the app id and 64 lowercase hex digits.
run_cli 0 admin app create shop
grep -qx 'app_id: shop' "$OUT" || fail "no app id line in: $(cat "$OUT")"
secret=$(sed -n 's/^secret: //p' "$OUT")
[[ $secret =~ ^[0-9a-f]{64}$ ]] || fail "secret is not 64 hex digits: '$secret'"

# JSON output.
run_cli 0 admin --json app create news
expect_json "json app_id" 'd["app_id"]' news
news_secret=$(json 'd["secret"]' <"$OUT")
[[ $news_secret =~ ^[0-9a-f]{64}$ ]] || fail "json secret: '$news_secret'"
[ "$news_secret" != "$secret" ] || fail "two apps got the same secret"

# The secrets work: an authenticated call as each app succeeds.
run_cli 0 as_app shop "$secret" stats
run_cli 0 as_app news "$news_secret" ping

# Listed, sorted by app id, secret version 1.
run_cli 0 admin --json app list
expect_json "app ids" '[a["app_id"] for a in d["apps"]]' '["news", "shop"]'
expect_json "versions" '[a["secret_version"] for a in d["apps"]]' '[1, 1]'
run_cli 0 admin app list
grep -q '^shop ' "$OUT" || fail "human app list lacks shop: $(cat "$OUT")"
grep -q '^news ' "$OUT" || fail "human app list lacks news: $(cat "$OUT")"

# Twice: engine error, the documented stderr form, exit 1.
run_cli 1 admin app create shop
grep -q '^herald: E_EXISTS: ' "$ERR" || fail "stderr: $(cat "$ERR")"
# A bad app id is the engine's call too.
run_cli 1 admin app create 'Bad App'
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "stderr: $(cat "$ERR")"
# Only admin may create apps.
run_cli 1 as_app shop "$secret" app create other
grep -q '^herald: E_FORBIDDEN: ' "$ERR" || fail "stderr: $(cat "$ERR")"

finish
