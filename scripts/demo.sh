#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make run: start heraldd with embedded defaults (data in ./var), create a
# demo app, bind a few demo users through the CLI, show them, and leave the
# engine running in the foreground. Ctrl-C stops it gracefully.
set -euo pipefail

BUILD=${BUILD:-build}
LISTEN=${HERALD_LISTEN:-127.0.0.1:7600}
DATA=${HERALD_DATA:-./var}
HERALDD="$BUILD/heraldd"
HERALD="$BUILD/herald"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

"$HERALDD" --listen "$LISTEN" --data "$DATA" &
ENGINE=$!
stop() { kill -TERM "$ENGINE" 2>/dev/null || true; wait "$ENGINE" 2>/dev/null || true; }
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
say "per-core stats"
"$HERALD" "${ADMIN[@]}" stats

cat <<MSG

Herald is running on $LISTEN (data in $DATA). Talk to it:
  $HERALD --app demo --secret-file $DATA/demo.secret user show alice
  $HERALD --secret-file $DATA/admin.secret app list
  $HERALD --help
Press Ctrl-C to stop (graceful drain).
MSG
trap 'stop; exit 0' INT TERM
wait "$ENGINE"
