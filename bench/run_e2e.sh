#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# run_e2e.sh - fan-out end to end: one campaign to every user through a
# one-core engine and HTTP/1.1 to the vendor simulator, next to the classic
# architecture it replaces (user -> token in Redis, a worker that walks the
# users, fetches tokens and POSTs the vendor's requests), in one run.
#
#   herald   heraldd --cores 1 pinned to ENGINE_CPU, over a data directory
#            of USERS users made offline by bench/gen_users (app "bench",
#            secret 32 zero bytes, users "user-<i>", one Huawei token of 64
#            bytes each); bench/herald-bench --no-bind --audience all sets
#            the Huawei vendor at the simulator and runs the campaign.
#   redis    redis-server (no persistence: --save "" --appendonly no) pinned
#            to ENGINE_CPU, loaded with the same users and tokens (SET
#            user-<i> <token>, redis-cli --pipe), and bench/redis_fanout, also
#            pinned to ENGINE_CPU: pipelined GETs in chunks of 1000, one
#            Huawei request per chunk made with Herald's own encoder, POSTed
#            over CONNS keep-alive connections. So each side has one core.
#   vendor   bench/herald-vendorsim --threads 1 pinned to SIM_CPU, the same
#            process for both; its ledger is reset before every campaign,
#            so each one sends only addresses the ledger has not seen.
#
# The campaigns alternate (herald, redis, herald, redis, ...) REPEATS times
# on the same engine and the same Redis. Then, with ENGINE_ALONE=1, a
# fresh engine with --vendor-sink null (every address accepted without a
# call) over a fresh copy of the users runs REPEATS campaigns: the engine's
# own ceiling. With MEM10M=1, last, a fresh engine over 10 million users
# (gen_users again) runs one campaign to check the engine's memory during
# a campaign (target: < 64 MiB above its size at rest).
#
# Each engine is started on a freshly generated data directory (a restart
# over segments the engine has since sealed in LZ4 form is far slower) and
# measured only once it is idle (its background LZ4 sealing and compaction
# after start-up done: less than 2 % of a CPU over a second).
#
# Figures (median and best of the repeats; herald-bench.c and
# redis_fanout.c say how each is measured):
#   recipients/s       create (herald) or first GET (redis) to the last outcome
#   first call ms      create to the first vendor call
#   mem above rest     engine: VmHWM (reset before the campaign) minus VmRSS
#                      before it; redis: the driver's max RSS (Redis's RSS at
#                      rest is given apart). Below the table the engine's
#                      growth is split, at the 20 ms samples, into anonymous
#                      memory (heap) and mapped files (RssFile: the receipt
#                      log's .hint files, which grow with receipts written)
#   cpu us/address     the server side's CPU time per address: engine; Redis
#                      + driver
#   sim us/address     the simulator's CPU time per address (is it the limit?)
#
# Builds nothing: run `make all` first. Settings, from the environment:
#   BUILD=build  USERS=1000000  REPEATS=3  CONNS=4 (vendor connections, both
#   sides)  ENGINE_CPU=0  SIM_CPU=1  ENGINE_ALONE=1  MEM10M=0
#   MEM_USERS=10000000  OUT_DIR=<temporary> (JSON, logs, plot.svg, plot.html)
set -euo pipefail

BUILD=${BUILD:-build}
USERS=${USERS:-1000000}
REPEATS=${REPEATS:-3}
CONNS=${CONNS:-4}
ENGINE_CPU=${ENGINE_CPU:-0}
SIM_CPU=${SIM_CPU:-1}
ENGINE_ALONE=${ENGINE_ALONE:-1}
MEM10M=${MEM10M:-0}
MEM_USERS=${MEM_USERS:-10000000}
APP_SECRET=$(printf '%064d' 0) # gen_users' app "bench": a secret of 32 zero bytes
TARGET_RATIO=10
TARGET_RPS_PER_CORE=1000000
TARGET_MEM_MIB=64

for bin in heraldd herald bench/gen_users bench/herald-bench bench/herald-vendorsim bench/redis_fanout; do
	[ -x "$BUILD/$bin" ] || { echo "run_e2e: $BUILD/$bin missing; run 'make all' first" >&2; exit 1; }
done
for tool in redis-server redis-cli taskset ss python3; do
	command -v "$tool" >/dev/null || { echo "run_e2e: $tool not installed (make deps)" >&2; exit 1; }
done

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/herald-e2e.XXXXXX)}
mkdir -p "$OUT_DIR/bin"
# Measure copies: a `make` running meanwhile must not swap the binaries mid-run.
cp "$BUILD/heraldd" "$BUILD/herald" "$BUILD/bench/gen_users" "$BUILD/bench/herald-bench" \
	"$BUILD/bench/herald-vendorsim" "$BUILD/bench/redis_fanout" "$OUT_DIR/bin/"
BIN=$OUT_DIR/bin

ENGINE_PID=
SIM_PID=
REDIS_PID=
cleanup() {
	local pid
	for pid in $ENGINE_PID $SIM_PID $REDIS_PID; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $ENGINE_PID $SIM_PID $REDIS_PID; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$OUT_DIR"/data-* "$OUT_DIR/users.resp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s run_e2e: %s\n' "$(date +%T)" "$*" >&2; }

# A TCP port below the ephemeral range that no socket uses.
free_port() {
	local p lo
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
	for _ in $(seq 1 100); do
		p=$((10000 + RANDOM % (lo - 10000)))
		if [ -z "$(ss -Htan "sport = :$p")" ]; then
			echo "$p"
			return 0
		fi
	done
	echo "run_e2e: no free port" >&2
	return 1
}

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# Wait until process $1 uses less than 2 % of a CPU over a second (at most $2 s).
wait_idle() {
	local a b
	for _ in $(seq 1 "${2:-300}"); do
		a=$(cpu_ticks "$1")
		sleep 1
		b=$(cpu_ticks "$1")
		[ $((b - a)) -le $(($(getconf CLK_TCK) / 50)) ] && return 0
	done
	echo "run_e2e: process $1 did not go idle" >&2
}

# start_engine DATA_DIR [heraldd options...]: sets ENGINE_PID and ENGINE_ADDR
start_engine() {
	local data=$1 port t0
	shift
	port=$(free_port)
	ENGINE_ADDR=127.0.0.1:$port
	t0=$(date +%s.%N)
	taskset -c "$ENGINE_CPU" "$BIN/heraldd" --cores 1 --data "$data" --listen "$ENGINE_ADDR" "$@" \
		>>"$OUT_DIR/heraldd.log" 2>&1 &
	ENGINE_PID=$!
	for _ in $(seq 1 3000); do
		"$BIN/herald" --server "$ENGINE_ADDR" ping >/dev/null 2>&1 && break
		kill -0 "$ENGINE_PID" 2>/dev/null || { echo "run_e2e: heraldd exited" >&2; tail "$OUT_DIR/heraldd.log" >&2; exit 1; }
		sleep 0.1
	done
	say "engine up in $(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')") s; waiting for it to go idle"
	wait_idle "$ENGINE_PID"
}

stop_engine() {
	kill -TERM "$ENGINE_PID"
	wait "$ENGINE_PID" || true
	ENGINE_PID=
}

gen_data() { # DIR N
	rm -rf "$1"
	"$BIN/gen_users" --data "$1" --users "$2" --cores 1 --token-bytes 64 >&2
}

ledger_reset() {
	python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/ledger/reset", data=b"", method="POST")).read()' "$SIM_URL"
}

# herald_campaign NAME [herald-bench options...] > JSON
herald_campaign() {
	local name=$1
	shift
	taskset -c "$SIM_CPU" "$BIN/herald-bench" --server "$ENGINE_ADDR" --app bench --secret "$APP_SECRET" \
		--no-bind --users "$USERS" --audience all --vendor-url "$SIM_URL" --connections "$CONNS" \
		--engine-pid "$ENGINE_PID" --sim-pid "$SIM_PID" --interval-ms 20 --json --quiet --name "$name" "$@"
}

say "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), kernel $(uname -r)"
say "out: $OUT_DIR"

# ---- the simulator -------------------------------------------------------------
taskset -c "$SIM_CPU" "$BIN/herald-vendorsim" --threads 1 --listen 127.0.0.1:0 >"$OUT_DIR/sim.out" 2>"$OUT_DIR/sim.log" &
SIM_PID=$!
for _ in $(seq 1 100); do
	grep -q '^listening' "$OUT_DIR/sim.out" && break
	sleep 0.05
done
SIM_URL=http://$(awk '/^listening/ { print $2; exit }' "$OUT_DIR/sim.out")
say "simulator at $SIM_URL (CPU $SIM_CPU)"

# ---- Herald: users made offline, one-core engine ---------------------------------
say "gen_users: $USERS users"
t0=$(date +%s.%N)
gen_data "$OUT_DIR/data-e2e" "$USERS"
say "gen_users took $(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')") s"
start_engine "$OUT_DIR/data-e2e"

# ---- Redis: the same users and tokens ----------------------------------------------
REDIS_PORT=$(free_port)
taskset -c "$ENGINE_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
	--daemonize no >"$OUT_DIR/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do
	redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
	sleep 0.05
done
"$BIN/redis_fanout" --gen-proto --users "$USERS" >"$OUT_DIR/users.resp"
t0=$(date +%s.%N)
redis-cli -p "$REDIS_PORT" --pipe <"$OUT_DIR/users.resp" >"$OUT_DIR/redis-load.log"
rm -f "$OUT_DIR/users.resp"
say "redis: $(redis-cli -p "$REDIS_PORT" dbsize) keys loaded in $(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')") s, RSS $(awk '/VmRSS/ { printf "%.0f MiB", $2 / 1024 }' /proc/$REDIS_PID/status)"
wait_idle "$REDIS_PID" 30

# ---- the campaigns, alternating ------------------------------------------------------
for r in $(seq 1 "$REPEATS"); do
	ledger_reset
	extra=()
	[ "$r" = 1 ] && extra=(--plot "$OUT_DIR/plot.svg" --html "$OUT_DIR/plot.html")
	herald_campaign herald_e2e "${extra[@]}" >"$OUT_DIR/herald-$r.json"
	say "herald $r: $(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(f\"{d['recipients_per_sec']:,.0f} recipients/s, ledger match {d['ledger']['match']}\")" "$OUT_DIR/herald-$r.json")"
	ledger_reset
	taskset -c "$ENGINE_CPU" "$BIN/redis_fanout" --redis "127.0.0.1:$REDIS_PORT" --vendor-url "$SIM_URL" \
		--users "$USERS" --conns "$CONNS" --redis-pid "$REDIS_PID" --sim-pid "$SIM_PID" >"$OUT_DIR/redis-$r.txt"
	say "redis  $r: $(grep -o 'recipients_per_sec=[0-9]*' "$OUT_DIR/redis-$r.txt")"
done
REDIS_REST_MIB=$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' /proc/$REDIS_PID/status)
kill -TERM "$REDIS_PID"
wait "$REDIS_PID" || true
REDIS_PID=
ENGINE_REST_MIB=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['engine_rss_rest_mib'])" "$OUT_DIR/herald-1.json")
stop_engine

# ---- the engine alone: --vendor-sink null ----------------------------------------------
if [ "$ENGINE_ALONE" = 1 ]; then
	say "engine alone (--vendor-sink null), fresh data"
	gen_data "$OUT_DIR/data-null" "$USERS"
	start_engine "$OUT_DIR/data-null" --vendor-sink null
	for r in $(seq 1 "$REPEATS"); do
		herald_campaign herald_null_sink --no-ledger >"$OUT_DIR/null-$r.json"
	done
	stop_engine
	rm -rf "$OUT_DIR/data-null"
fi

# ---- memory with 10 M users ---------------------------------------------------------------
if [ "$MEM10M" = 1 ]; then
	rm -rf "$OUT_DIR/data-e2e"
	say "memory check: $MEM_USERS users"
	gen_data "$OUT_DIR/data-mem" "$MEM_USERS"
	start_engine "$OUT_DIR/data-mem"
	ledger_reset
	USERS=$MEM_USERS herald_campaign herald_e2e_mem --timeout-s 1800 >"$OUT_DIR/mem.json"
	stop_engine
	rm -rf "$OUT_DIR/data-mem"
fi

# ---- the table ---------------------------------------------------------------------------------
python3 - "$OUT_DIR" "$REPEATS" "$USERS" "$CONNS" "$REDIS_REST_MIB" "$ENGINE_REST_MIB" \
	"$TARGET_RATIO" "$TARGET_RPS_PER_CORE" "$TARGET_MEM_MIB" <<'PY' | tee "$OUT_DIR/table.txt"
import json, os, statistics, sys
out, repeats, users, conns, redis_rest, engine_rest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
t_ratio, t_rps, t_mem = float(sys.argv[7]), float(sys.argv[8]), float(sys.argv[9])

def kv(path):
    return {k: v for k, v in (f.split('=', 1) for f in open(path).read().split())}

H = [json.load(open(f"{out}/herald-{r}.json")) for r in range(1, repeats + 1)]
R = [kv(f"{out}/redis-{r}.txt") for r in range(1, repeats + 1)]
N = [json.load(open(f"{out}/null-{r}.json")) for r in range(1, repeats + 1) if os.path.exists(f"{out}/null-{r}.json")]

def row(name, rps, first, mem, cpu, sim, extra=""):
    med = statistics.median
    print(f"{name:<22} {med(rps):>12,.0f} {max(rps):>12,.0f} {med(first):>9.1f} {mem:>11} {med(cpu):>9.3f} {med(sim):>9.3f}  {extra}")

print(f"fan-out end to end: {users:,} users, one Huawei token each, campaign to all, {repeats} repeats, {conns} vendor connections")
print(f"{'':<22} {'recipients/s':>12} {'recipients/s':>12} {'first':>9} {'mem above':>11} {'cpu us/':>9} {'sim us/':>9}")
print(f"{'':<22} {'median':>12} {'best':>12} {'call ms':>9} {'rest MiB':>11} {'address':>9} {'address':>9}")
row("herald (1 core, http)", [h["recipients_per_sec"] for h in H], [h["first_call_ms"] for h in H],
    f"{max(h['engine_mem_above_rest_mib'] for h in H):.1f}", [h["engine_cpu_us_per_address"] for h in H],
    [h["sim_cpu_us_per_address"] for h in H], f"rest {engine_rest:.0f} MiB; ledger match: {all(h['ledger']['match'] for h in H)}")
row("redis + driver (1 core)", [float(r["recipients_per_sec"]) for r in R], [float(r["first_call_ms"]) for r in R],
    f"{max(float(r['driver_maxrss_mib']) for r in R):.1f}",
    [float(r["redis_cpu_us_per_address"]) + float(r["driver_cpu_us_per_address"]) for r in R],
    [float(r["sim_cpu_us_per_address"]) for r in R],
    f"redis rest {redis_rest:.0f} MiB; cpu = redis {statistics.median(float(r['redis_cpu_us_per_address']) for r in R):.3f}"
    f" + driver {statistics.median(float(r['driver_cpu_us_per_address']) for r in R):.3f}")
if N:
    row("herald, null sink", [h["recipients_per_sec"] for h in N], [h["first_call_ms"] for h in N],
        f"{max(h['engine_mem_above_rest_mib'] for h in N):.1f}", [h["engine_cpu_us_per_address"] for h in N],
        [0.0 for h in N], "no vendor call: the engine's own ceiling")
ratios = [h["recipients_per_sec"] / float(r["recipients_per_sec"]) for h, r in zip(H, R)]
best = max(h["recipients_per_sec"] for h in H) / max(float(r["recipients_per_sec"]) for r in R)
cpu_ratio = statistics.median(float(r["redis_cpu_us_per_address"]) + float(r["driver_cpu_us_per_address"]) for r in R) / \
    statistics.median(h["engine_cpu_us_per_address"] for h in H)
med_rps = statistics.median(h["recipients_per_sec"] for h in H)
print(f"herald / redis: recipients/s {statistics.median(ratios):.2f}x median of per-repeat ratios, {best:.2f}x best / best;"
      f" server CPU per address {cpu_ratio:.2f}x  (target >= {t_ratio:.0f}x: {'met' if statistics.median(ratios) >= t_ratio else 'NOT met'})")
print(f"herald recipients/s per engine core: {med_rps:,.0f} median (target >= {t_rps:,.0f}: {'met' if med_rps >= t_rps else 'NOT met'})")
h = H[0]
print(f"herald queued -> outcome (estimated from the status curves, 20 ms samples): p50 {statistics.median(x['q2d_p50_ms_est'] for x in H):.1f} ms,"
      f" p99 {statistics.median(x['q2d_p99_ms_est'] for x in H):.1f} ms")
sim_util = [x["sim_cpu_s"] / x["seconds"] for x in H]
eng_util = [x["engine_cpu_s"] / x["seconds"] for x in H]
eng_sys = [x["engine_sys_s"] / x["engine_cpu_s"] for x in H if x["engine_cpu_s"] > 0]
print("herald memory, run by run: " + "; ".join(f"rest {x['engine_rss_rest_mib']:.0f} peak {x['engine_rss_peak_mib']:.0f} MiB"
      f" (anonymous +{x['engine_anon_peak_sampled_mib'] - x['engine_anon_rest_mib']:.0f}, mapped files"
      f" +{x['engine_file_peak_sampled_mib'] - x['engine_file_rest_mib']:.0f})" for x in H))
print(f"busy during herald's campaigns: engine {statistics.median(eng_util):.2f} of its core ({statistics.median(eng_sys) * 100:.0f} % kernel),"
      f" simulator {statistics.median(sim_util):.2f} of its core")
if os.path.exists(f"{out}/mem.json"):
    m = json.load(open(f"{out}/mem.json"))
    ok = m["engine_mem_above_rest_mib"] < t_mem
    print(f"memory, {m['recipients']:,} recipients: rest {m['engine_rss_rest_mib']:.0f} MiB, peak {m['engine_rss_peak_mib']:.0f} MiB,"
          f" {m['engine_mem_above_rest_mib']:.1f} MiB above rest (target < {t_mem:.0f}: {'met' if ok else 'NOT met'});"
          f" of it, at the samples: anonymous +{m['engine_anon_peak_sampled_mib'] - m['engine_anon_rest_mib']:.1f} MiB"
          f" (target {'met' if m['engine_anon_peak_sampled_mib'] - m['engine_anon_rest_mib'] < t_mem else 'NOT met'}),"
          f" mapped files +{m['engine_file_peak_sampled_mib'] - m['engine_file_rest_mib']:.1f} MiB;"
          f" {m['recipients_per_sec']:,.0f} recipients/s, ledger match {m['ledger']['match']}")
for x in H:
    print(f"name=herald_e2e users={users} recipients={x['recipients']} recipients_per_sec={x['recipients_per_sec']:.0f} first_call_ms={x['first_call_ms']:.3f}"
          f" engine_above_rest_mib={x['engine_mem_above_rest_mib']:.1f} engine_cpu_us_per_address={x['engine_cpu_us_per_address']:.3f}"
          f" sim_cpu_us_per_address={x['sim_cpu_us_per_address']:.3f} ledger_match={int(x['ledger']['match'])}")
for x in R:
    print(" ".join(f"{k}={v}" for k, v in x.items()))
for x in N:
    print(f"name=herald_null_sink users={users} recipients={x['recipients']} recipients_per_sec={x['recipients_per_sec']:.0f}"
          f" engine_cpu_us_per_address={x['engine_cpu_us_per_address']:.3f}")
PY
say "plot: $OUT_DIR/plot.svg, funnel: $OUT_DIR/plot.html, table: $OUT_DIR/table.txt"
