#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_exit_codes.sh - the exit status of `herald` says what went
# wrong: 0 ok, 1 engine error (stderr "herald: E_NAME: message"), 2 usage,
# 3 connection or transport, 4 authentication failed. --help exits 0.
# Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"
start_engine

# 0: help, on the tool and on every command.
run_cli 0 "$HERALD" --help
grep -q '^usage: herald' "$OUT" || fail "--help: $(cat "$OUT")"
for cmd in ping stats "app create" "app list" "app rotate" bind unbind "alias set" \
	"alias del" "alias lookup" "tag add" "tag del" "attr set" "user show"; do
	# shellcheck disable=SC2086
	run_cli 0 "$HERALD" $cmd --help
	grep -q "^usage: herald .*$cmd" "$OUT" || fail "$cmd --help: $(cat "$OUT")"
done
run_cli 0 "$HERALD" alias --help

# 1: the engine answered an error.
run_cli 1 admin user show alice
grep -q '^herald: E_FORBIDDEN: .' "$ERR" || fail "stderr: $(cat "$ERR")"
secret=$(new_app shop) || fail "app create"
run_cli 1 as_app shop "$secret" user show alice
grep -qx 'herald: E_NOT_FOUND: .*' "$ERR" || fail "stderr: $(cat "$ERR")"
[ ! -s "$OUT" ] || fail "an error printed to stdout: $(cat "$OUT")"
run_cli 1 as_app shop "$secret" app list

# 2: usage.
run_cli 2 "$HERALD"
run_cli 2 "$HERALD" frobnicate
run_cli 2 "$HERALD" app
run_cli 2 "$HERALD" app frob
run_cli 2 "$HERALD" --no-such-flag ping
run_cli 2 "$HERALD" --server
run_cli 2 admin user show
run_cli 2 admin user show a b
run_cli 2 admin unbind alice notanumber
run_cli 2 admin alias set alice 4294967296 t a
run_cli 2 admin bind alice pigeon addr
run_cli 2 admin bind alice push tok --vendor nokia --platform ios
run_cli 2 admin bind alice push tok --vendor apns --platform windows
run_cli 2 admin tag add alice vip --vendor apns
run_cli 2 "$HERALD" --timeout zero ping
run_cli 2 "$HERALD" --secret 1234 stats
grep -q 'herald: .*64 hex digits' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" --secret-file "$CLI_TMP/missing" stats
run_cli 2 "$HERALD" stats # no secret at all
grep -q 'no secret' "$ERR" || fail "stderr: $(cat "$ERR")"

# 3: nobody listens; a port that is not a port.
dead=$(free_port)
run_cli 3 "$HERALD" --server "127.0.0.1:$dead" ping
grep -q '^herald: cannot connect' "$ERR" || fail "stderr: $(cat "$ERR")"
run_cli 2 "$HERALD" --server 127.0.0.1:99999 ping

# 4: wrong secret, unknown app (the environment route this time).
HERALD_APP=shop HERALD_SECRET=$(printf '%064d' 0) run_cli 4 "$HERALD" stats
grep -q '^herald: E_AUTH_FAILED' "$ERR" || fail "stderr: $(cat "$ERR")"
HERALD_APP=nosuch HERALD_SECRET=$secret run_cli 4 "$HERALD" stats
run_cli 4 "$HERALD" --app shop --secret-file "$DATA/admin.secret" stats

# Flags beat the environment.
HERALD_SECRET=$(printf '%064d' 0) run_cli 0 "$HERALD" --app shop --secret "$secret" stats
HERALD_SERVER=127.0.0.1:$dead run_cli 0 "$HERALD" --server "127.0.0.1:$PORT" ping

finish
