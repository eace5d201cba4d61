#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make run: start heraldd with embedded defaults (data in ./var) and the
# vendor simulator (build/bench/herald-vendorsim, every vendor's push API on
# loopback), create a demo app, bind a few demo users through the CLI and
# DEMO_USERS (1,000,000) more pipelined through build/bench/herald-bench,
# point the Huawei and Xiaomi vendors at the simulator, run one campaign to
# every user with a progress bar, print its funnel and the simulator's
# ledger, write a plot, and leave the engine running in the foreground.
# Ctrl-C (or SIGTERM) stops both gracefully.
#
# Environment: BUILD (build), HERALD_LISTEN (127.0.0.1:7600), HERALD_DATA
# (./var), DEMO_USERS (1000000; 0 skips the campaign).
set -euo pipefail

BUILD=${BUILD:-build}
LISTEN=${HERALD_LISTEN:-127.0.0.1:7600}
DATA=${HERALD_DATA:-./var}
DEMO_USERS=${DEMO_USERS:-1000000}
HERALDD="$BUILD/heraldd"
HERALD="$BUILD/herald"
BENCH="$BUILD/bench/herald-bench"
VENDORSIM="$BUILD/bench/herald-vendorsim"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

"$HERALDD" --listen "$LISTEN" --data "$DATA" &
ENGINE=$!
SIM=
stop() {
	kill -TERM "$ENGINE" 2>/dev/null || true
	[ -n "$SIM" ] && kill -TERM "$SIM" 2>/dev/null
	wait "$ENGINE" 2>/dev/null || true
	[ -n "$SIM" ] && wait "$SIM" 2>/dev/null
	true
}
trap 'stop; exit 130' INT TERM

export HERALD_SERVER="$LISTEN"
for _ in $(seq 1 100); do
	if "$HERALD" ping >/dev/null 2>&1; then break; fi
	if ! kill -0 "$ENGINE" 2>/dev/null; then
		echo "demo: heraldd exited; is $LISTEN in use? Set HERALD_LISTEN=127.0.0.1:PORT" >&2
		exit 1
	fi
	sleep 0.1
done

ADMIN=(--secret-file "$DATA/admin.secret")
say "engine: $("$HERALD" ping)"

say "create the demo app (as admin)"
# the store keeps apps across restarts: on a second run, rotate the demo app's secret instead
if ! "$HERALD" "${ADMIN[@]}" --json app create demo > "$DATA/demo.app.json" 2>/dev/null; then
	echo "(the demo app exists from an earlier run: rotating its secret)"
	"$HERALD" "${ADMIN[@]}" --json app rotate demo > "$DATA/demo.app.json"
fi
cat "$DATA/demo.app.json"
sed -n 's/.*"secret":"\([0-9a-f]*\)".*/\1/p' "$DATA/demo.app.json" > "$DATA/demo.secret"
chmod 600 "$DATA/demo.secret"
APP=(--app demo --secret-file "$DATA/demo.secret")

say "bind demo users"
"$HERALD" "${APP[@]}" bind alice push hw-token-alice-0001 --vendor huawei --platform android
"$HERALD" "${APP[@]}" bind alice sms +8613800000001
"$HERALD" "${APP[@]}" bind bob push apns-token-bob-0002 --vendor apns --platform ios
"$HERALD" "${APP[@]}" bind bob email bob@example.com
"$HERALD" "${APP[@]}" bind carol wechat oUpF8uMuAJO_M2pxb1Q9zNjWeS6o
"$HERALD" "${APP[@]}" alias set alice 1 member_id M-1001
"$HERALD" "${APP[@]}" tag add alice vip city:sh
"$HERALD" "${APP[@]}" tag add bob city:bj
"$HERALD" "${APP[@]}" attr set alice tz=Asia/Shanghai locale=zh-CN
"$HERALD" "${APP[@]}" attr set bob tz=UTC locale=en

say "show them"
for u in alice bob carol; do "$HERALD" "${APP[@]}" user show "$u"; echo; done
say "alias lookup member_id M-1001"
"$HERALD" "${APP[@]}" alias lookup member_id M-1001

CAMPAIGN_MSG=
if [ "$DEMO_USERS" -gt 0 ]; then
	say "start the vendor simulator (Huawei, Xiaomi, OPPO, vivo, SMS, webhook on loopback)"
	"$VENDORSIM" --listen 127.0.0.1:0 > "$DATA/vendorsim.out" 2> "$DATA/vendorsim.log" &
	SIM=$!
	for _ in $(seq 1 100); do
		grep -q '^listening' "$DATA/vendorsim.out" && break
		kill -0 "$SIM" 2>/dev/null || { echo "demo: herald-vendorsim exited:" >&2; cat "$DATA/vendorsim.log" >&2; stop; exit 1; }
		sleep 0.05
	done
	SIM_URL=http://$(awk '/^listening/ { print $2; exit }' "$DATA/vendorsim.out")
	echo "herald-vendorsim on $SIM_URL (log: $DATA/vendorsim.log)"

	say "bind $DEMO_USERS users (bench-0 ...), set the vendors, and run a campaign to every user"
	# herald-bench: BINDs pipelined over 4 connections (9 in 10 Huawei tokens, 1 in 10
	# Xiaomi regids, 1 in 1000 a token the simulator calls invalid), VENDOR_SET huawei
	# and xiaomi at the simulator, CAMPAIGN_CREATE to all, CAMPAIGN_STATUS every 100 ms
	if ! "$BENCH" --app demo --secret-file "$DATA/demo.secret" --users "$DEMO_USERS" --mix \
		--vendor-url "$SIM_URL" --engine-pid "$ENGINE" \
		--title "Herald demo" --body "Your parcel is on its way" \
		--plot "$DATA/demo-campaign.svg" --html "$DATA/demo-campaign.html" | tee "$DATA/demo-campaign.txt"; then
		echo "demo: the campaign did not end as expected (see above); the engine stays up" >&2
	fi
	CAMPAIGN=$(sed -n 's/^campaign \([0-9]*\) .*/\1/p' "$DATA/demo-campaign.txt")

	say "the campaign's receipts, per channel and state (herald campaign counters $CAMPAIGN)"
	[ -n "$CAMPAIGN" ] && "$HERALD" "${APP[@]}" campaign counters "$CAMPAIGN"
	CAMPAIGN_MSG="
Campaign $CAMPAIGN: funnel above; plot of addresses sent over time in $DATA/demo-campaign.svg,
funnel and plot as a page in $DATA/demo-campaign.html. The simulator keeps running on $SIM_URL:
  $HERALD --app demo --secret-file $DATA/demo.secret campaign counters $CAMPAIGN
  $HERALD --app demo --secret-file $DATA/demo.secret campaign create --audience tag --tag-expr vip --channel push --body 'Hi {{user_id}}' --wait
  $BENCH --app demo --secret-file $DATA/demo.secret --vendor-url $SIM_URL --audience tag:vip --personal
The simulator's ledger: GET $SIM_URL/ledger/summary (bench/README.md, herald-vendorsim)."
fi

say "per-core stats"
"$HERALD" "${ADMIN[@]}" stats

cat <<MSG

Herald is running on $LISTEN (data in $DATA). Talk to it:
  $HERALD --app demo --secret-file $DATA/demo.secret user show alice
  $HERALD --secret-file $DATA/admin.secret app list
  $HERALD --help
$CAMPAIGN_MSG
Press Ctrl-C to stop (graceful drain).
MSG
trap 'stop; exit 0' INT TERM
wait "$ENGINE"
