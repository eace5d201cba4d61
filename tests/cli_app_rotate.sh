#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_app_rotate.sh - `herald app rotate` replaces an app's secret:
# the new one authenticates, the old one fails with exit 4, the version
# goes up; an app may rotate its own secret. Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"
start_engine

old=$(new_app shop) || fail "app create"

# Admin rotates: human output.
run_cli 0 admin app rotate shop
grep -qx 'app_id: shop' "$OUT" || fail "rotate output: $(cat "$OUT")"
grep -qx 'secret_version: 2' "$OUT" || fail "rotate output: $(cat "$OUT")"
new=$(sed -n 's/^secret: //p' "$OUT")
[[ $new =~ ^[0-9a-f]{64}$ ]] || fail "new secret: '$new'"
[ "$new" != "$old" ] || fail "rotate kept the secret"

run_cli 4 as_app shop "$old" stats
grep -q '^herald: E_AUTH_FAILED' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 0 as_app shop "$new" stats

# The app rotates itself: JSON output.
run_cli 0 as_app shop "$new" --json app rotate shop
expect_json "version" 'd["secret_version"]' 3
newer=$(json 'd["secret"]' <"$OUT")
run_cli 4 as_app shop "$new" stats
run_cli 0 as_app shop "$newer" stats

run_cli 0 admin --json app list
expect_eq "listed version" \
	"$(json '[a["secret_version"] for a in d["apps"] if a["app_id"] == "shop"]' <"$OUT")" '[3]'

# Nobody rotates an app that does not exist; an app cannot rotate another.
run_cli 1 admin app rotate nosuch
grep -q '^herald: E_NOT_FOUND: ' "$ERR" || fail "stderr: $(cat "$ERR")"
other=$(new_app other) || fail "app create other"
run_cli 1 as_app other "$other" app rotate shop
grep -q '^herald: E_FORBIDDEN: ' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 0 as_app shop "$newer" stats

finish
