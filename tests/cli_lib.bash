# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_lib.bash - sourced by tests/cli_*.sh; not a test itself (the
# runner only runs *.sh).
#
# Gives each test a private engine and a way to run `herald` against it:
#
#   start_engine            heraldd on a free loopback port, empty data dir;
#                           sets PORT, DATA, HERALD_SERVER (exported); more
#                           heraldd options from the array ENGINE_OPTS, if
#                           the test set it before (ENGINE_OPTS=(--vendor-sink
#                           null)), for restart_engine too
#   stop_engine             SIGTERM; fail unless it drains and exits 0
#   restart_engine          heraldd again on the same data dir (new PORT)
#   admin ARGS...           herald as admin (secret from $DATA/admin.secret)
#   as_app APP SECRET ARGS  herald as an app
#   run_cli WANT CMD...     run CMD, fail unless it exits WANT; its stdout
#                           and stderr are in $OUT and $ERR afterwards
#   json EXPR               evaluate a Python expression on the JSON document
#                           read from stdin (bound to d); print the result
#   expect_json WHAT EXPR WANT   json EXPR on $OUT must print WANT
#   fail MSG                print MSG and the engine's log tail, exit 1
#   finish                  fail if the engine died during the test, exit 0
#
# Skips (77) when herald or heraldd is not built or python3 is missing.

set -u

CLI_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) CLI_BUILD=$BUILD ;;
*) CLI_BUILD=$CLI_ROOT/$BUILD ;;
esac
HERALD=$CLI_BUILD/herald
HERALDD=$CLI_BUILD/heraldd

for bin in "$HERALD" "$HERALDD"; do
	if [ ! -x "$bin" ]; then
		echo "skip: $bin not built"
		exit 77
	fi
done
if ! command -v python3 >/dev/null; then
	echo "skip: no python3"
	exit 77
fi

# The caller's environment must not steer the tool under test.
unset HERALD_SERVER HERALD_APP HERALD_SECRET HERALD_SECRET_FILE HERALD_TIMEOUT_MS

CLI_TMP=$(mktemp -d "${TMPDIR:-/tmp}/herald-cli.XXXXXX")
DATA=$CLI_TMP/var
OUT=$CLI_TMP/stdout
ERR=$CLI_TMP/stderr
ENGINE_PID=
PORT=

cli_cleanup() {
	if [ -n "$ENGINE_PID" ] && kill -0 "$ENGINE_PID" 2>/dev/null; then
		kill -TERM "$ENGINE_PID" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$ENGINE_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$ENGINE_PID" 2>/dev/null
		wait "$ENGINE_PID" 2>/dev/null
	fi
	rm -rf "$CLI_TMP"
}
trap cli_cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*"
	if [ -f "$CLI_TMP/engine.log" ]; then
		echo "---- heraldd output (tail) ----"
		tail -n 30 "$CLI_TMP/engine.log"
	fi
	exit 1
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# The engine is ours once an authenticated ping with our admin secret
# works: a stranger on the same port would not know the secret.
# engine_up KEEP: KEEP=1 starts on the data directory as it is (a restart).
engine_up() {
	local keep=$1 attempt
	for attempt in 1 2 3; do
		PORT=$(free_port)
		[ "$keep" = 1 ] || rm -rf "$DATA"
		"$HERALDD" --listen "127.0.0.1:$PORT" --data "$DATA" --cores 2 \
			${ENGINE_OPTS[@]+"${ENGINE_OPTS[@]}"} >>"$CLI_TMP/engine.log" 2>&1 &
		ENGINE_PID=$!
		for _ in $(seq 150); do
			kill -0 "$ENGINE_PID" 2>/dev/null || break
			if [ -s "$DATA/admin.secret" ] &&
				"$HERALD" --server "127.0.0.1:$PORT" --timeout 1000 \
					--secret-file "$DATA/admin.secret" ping >/dev/null 2>&1; then
				export HERALD_SERVER=127.0.0.1:$PORT
				return 0
			fi
			sleep 0.1
		done
		echo "heraldd did not come up on port $PORT (attempt $attempt)"
		kill -KILL "$ENGINE_PID" 2>/dev/null
		wait "$ENGINE_PID" 2>/dev/null
		ENGINE_PID=
	done
	fail "heraldd would not start"
}

start_engine() {
	: >"$CLI_TMP/engine.log"
	engine_up 0
}

restart_engine() {
	[ -z "$ENGINE_PID" ] || fail "restart_engine: the engine is still running"
	engine_up 1
}

stop_engine() {
	local status
	[ -n "$ENGINE_PID" ] || fail "stop_engine: no engine"
	kill -TERM "$ENGINE_PID" 2>/dev/null || fail "stop_engine: heraldd already gone"
	for _ in $(seq 100); do
		kill -0 "$ENGINE_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$ENGINE_PID" 2>/dev/null && fail "heraldd still running 10 s after SIGTERM"
	wait "$ENGINE_PID"
	status=$?
	ENGINE_PID=
	[ "$status" = 0 ] || fail "heraldd exited with status $status after SIGTERM"
}

admin() {
	"$HERALD" --app admin --secret-file "$DATA/admin.secret" "$@"
}

as_app() {
	local app=$1 secret=$2
	shift 2
	"$HERALD" --app "$app" --secret "$secret" "$@"
}

run_cli() {
	local want=$1 got
	shift
	"$@" >"$OUT" 2>"$ERR"
	got=$?
	if [ "$got" != "$want" ]; then
		echo "stdout:"
		sed 's/^/    /' "$OUT"
		echo "stderr:"
		sed 's/^/    /' "$ERR"
		fail "'$*' exited $got, expected $want"
	fi
}

json() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1], {"d": d})
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1"
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# expect_json WHAT EXPR WANT: json EXPR on the last command's stdout is WANT.
expect_json() {
	expect_eq "$1" "$(json "$2" <"$OUT")" "$3"
}

# A new app; prints its secret.
new_app() {
	admin --json app create "$1" | json 'd["secret"]'
}

finish() {
	if [ -n "$ENGINE_PID" ] && ! kill -0 "$ENGINE_PID" 2>/dev/null; then
		wait "$ENGINE_PID"
		fail "heraldd exited during the test (status $?)"
	fi
	echo "ok"
	exit 0
}
