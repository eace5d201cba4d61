#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_campaign_final.sh - done and cancelled are final states
# (PROTOCOL.md 5.10): once a campaign is done, pause, resume and cancel
# are each E_INVALID_ARGUMENT "campaign is done" (exit 1) and it stays
# done, also after a restart, so `campaign status --watch` of it returns at
# once. (Cancelled campaigns refusing alike: tests/cli_campaign.sh.)
# Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"
start_engine
secret=$(new_app shop) || fail "app create"
A() { as_app shop "$secret" "$@"; }

# No vendor is set: alice's address fails at once, "no vendor configured".
run_cli 0 A bind alice sms +8613800000001
run_cli 0 A --json campaign create --audience user --user alice --channel sms --body hi
done_id=$(sed -n 's/.*"campaign_id":\([0-9]*\).*/\1/p' "$OUT")
run_cli 0 A --json campaign status "$done_id" --watch
grep -q '"state":"done"' "$OUT" || fail "not done: $(cat "$OUT")"

check_final() {
	local action
	for action in pause resume cancel; do
		run_cli 1 A campaign $action "$done_id"
		grep -qx 'herald: E_INVALID_ARGUMENT: campaign is done' "$ERR" ||
			fail "$action of a done campaign: $(cat "$ERR")"
	done
	run_cli 0 A --json campaign status "$done_id"
	grep -q '"state":"done"' "$OUT" || fail "a done campaign stays done: $(cat "$OUT")"
	run_cli 0 timeout 10 "$HERALD" --app shop --secret "$secret" --json campaign status \
		"$done_id" --watch
}
check_final
stop_engine
restart_engine
check_final

finish
