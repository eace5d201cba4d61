#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_attrs.sh - `herald attr set key=value...` sets, replaces and
# (with an empty value) deletes attributes; a time zone the engine does not
# know or a malformed locale is refused and changes nothing.
# Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"
start_engine

secret=$(new_app shop) || fail "app create"
export HERALD_APP=shop HERALD_SECRET=$secret

run_cli 0 "$HERALD" attr set dave tz=Asia/Shanghai locale=zh-CN level=7
grep -qx 'attr_count: 3' "$OUT" || fail "set: $(cat "$OUT")"
run_cli 0 "$HERALD" --json attr set dave level=8 'note=a=b c'
expect_json "count" 'd["attr_count"]' 4

run_cli 0 "$HERALD" --json user show dave
expect_json "attrs" 'd["attrs"]' \
	'{"level": "8", "locale": "zh-CN", "note": "a=b c", "tz": "Asia/Shanghai"}'
expect_json "key order" 'list(d["attrs"])' '["level", "locale", "note", "tz"]'

# Bad tz: refused, nothing changed (the good pair before it included).
run_cli 1 "$HERALD" attr set dave level=9 tz=Mars/Olympus_Mons
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 1 "$HERALD" attr set dave locale=not_a_locale!
grep -q '^herald: E_INVALID_ARGUMENT: ' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 0 "$HERALD" --json user show dave
expect_json "unchanged" '[d["attrs"]["level"], d["attrs"]["tz"], d["attrs"]["locale"]]' \
	'["8", "Asia/Shanghai", "zh-CN"]'

# UTC is a zone; an empty value deletes.
run_cli 0 "$HERALD" attr set dave tz=UTC note=
grep -qx 'attr_count: 3' "$OUT" || fail "delete: $(cat "$OUT")"
run_cli 0 "$HERALD" user show dave
grep -qx '  tz = UTC' "$OUT" || fail "text show: $(cat "$OUT")"
grep -q 'note' "$OUT" && fail "deleted key still shown: $(cat "$OUT")"

# Values may hold control characters: JSON escapes them, text shows them.
run_cli 0 "$HERALD" attr set dave $'memo=two\nlines\ttab'
run_cli 0 "$HERALD" --json user show dave
expect_json "control characters" 'd["attrs"]["memo"] == "two\nlines\ttab"' true
run_cli 0 "$HERALD" user show dave
grep -qxF '  memo = two\nlines\ttab' "$OUT" || fail "text show: $(cat "$OUT")"

# Not key=value: usage error, nothing sent.
run_cli 2 "$HERALD" attr set dave novalue
run_cli 2 "$HERALD" attr set dave =x
run_cli 2 "$HERALD" attr set dave

finish
