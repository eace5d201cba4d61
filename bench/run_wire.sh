#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# run_wire.sh - Herald's wire benchmark next to redis-server, in one run.
#
# Pipelined PING and BIND on a one-core engine (heraldd --cores 1, pinned to
# ENGINE_CPU) against redis-server doing PING and HSET under redis-benchmark
# (pinned to the same CPU), at each depth of DEPTHS, with CONNS connections.
# Both load generators run on CLIENT_CPU and are single-threaded.
#
#   herald_ping  build/bench/wire_bench --op ping            (empty body)
#   herald_bind  build/bench/wire_bench --op bind            (new user per request, sms)
#   redis_ping   redis-benchmark ... PING                    (multi-bulk, as PING_MBULK)
#   redis_hset   redis-benchmark ... -t hset -r 100000000    (new field per request, nearly always)
#
# Each measurement starts from an empty store: a fresh engine with a fresh
# data directory for every Herald run, FLUSHALL before every Redis run.
# The four measurements of a depth run back to back and the whole set is
# repeated REPEATS times, so machine noise falls on both sides; the table
# gives the median and the best of the repeats (best: highest rate, least
# wall time per request; lowest latency) and the ratios Herald / Redis.
#
# Server CPU per request is the server process's user + system time (all
# threads, /proc/PID/stat) over the measurement, divided by its requests;
# `util` is that time over the wall time (1.00 = the server's core was busy
# all the time). Herald's is taken by wire_bench around its pipelined phase;
# Redis's by this script around the redis-benchmark run.
#
# CALLGRIND=1 adds a pass that runs the engine under valgrind --tool=callgrind
# and counts the engine's user-space instructions per request for fixed
# numbers of pipelined PINGs and BINDs (repeatable on this machine, unlike
# wall time), and lists the functions with the most instructions.
#
# REDIS_APPENDFSYNC=always (or everysec) gives Redis an append-only file
# with that fsync policy, a peer for an engine that answers a BIND only once
# it is on disk; the default is no persistence (--save "" --appendonly no).
#
# Builds nothing: run `make all` first. Settings, all from the environment:
#   BUILD=build  REPEATS=3  RUN_SECONDS=2  CONNS=50  DEPTHS="1 32"
#   ENGINE_CPU=0  CLIENT_CPU=1  CALLGRIND=0  CG_REQUESTS=200000
#   REDIS_APPENDFSYNC=""  OUT_DIR=<temporary>  (results.txt, logs and
#   callgrind files are kept there)
set -euo pipefail

BUILD=${BUILD:-build}
REPEATS=${REPEATS:-3}
RUN_SECONDS=${RUN_SECONDS:-2}
CONNS=${CONNS:-50}
DEPTHS=${DEPTHS:-"1 32"}
ENGINE_CPU=${ENGINE_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CALLGRIND=${CALLGRIND:-0}
CG_REQUESTS=${CG_REQUESTS:-200000}
REDIS_APPENDFSYNC=${REDIS_APPENDFSYNC:-}
REDIS_HSET_KEYSPACE=100000000

HERALDD=$BUILD/heraldd
WIRE_BENCH=$BUILD/bench/wire_bench

for bin in "$HERALDD" "$WIRE_BENCH"; do
	[ -x "$bin" ] || { echo "run_wire: $bin missing; run 'make all' first" >&2; exit 1; }
done
for tool in redis-server redis-benchmark redis-cli taskset ss; do
	command -v "$tool" >/dev/null || { echo "run_wire: $tool not installed (make deps)" >&2; exit 1; }
done
if [ "$CALLGRIND" = 1 ]; then
	for tool in valgrind callgrind_control callgrind_annotate; do
		command -v "$tool" >/dev/null || { echo "run_wire: $tool not installed" >&2; exit 1; }
	done
fi

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/herald-bench.XXXXXX)}
mkdir -p "$OUT_DIR/bin"
# Measure copies: a `make` running meanwhile must not swap the binaries mid-run.
cp "$HERALDD" "$WIRE_BENCH" "$OUT_DIR/bin/"
HERALDD=$OUT_DIR/bin/heraldd
WIRE_BENCH=$OUT_DIR/bin/wire_bench
RESULTS=$OUT_DIR/results.txt
: >"$RESULTS"
CLK_TCK=$(getconf CLK_TCK)

ENGINE_PID=
REDIS_PID=
CG_PID=
cleanup() {
	local pid
	for pid in $ENGINE_PID $REDIS_PID $CG_PID; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $ENGINE_PID $REDIS_PID $CG_PID; do
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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
	echo "run_wire: no free port" >&2
	return 1
}

# Wait up to $2 seconds (default 10) until something listens on port $1.
# Only ss looks: no connection is made.
wait_listen() {
	for _ in $(seq 1 $((${2:-10} * 20))); do
		[ -n "$(ss -Hltn "sport = :$1")" ] && return 0
		sleep 0.05
	done
	echo "run_wire: nothing listens on port $1" >&2
	return 1
}

# CPU time of process $1 in microseconds, all threads: "user system".
proc_cpu_us() {
	awk -v tck="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.0f %.0f\n", $12 * 1000000 / tck, $13 * 1000000 / tck }' \
		"/proc/$1/stat"
}

# User + system time of this shell's finished children, in microseconds.
# `times` must run in this shell, not in a $(...) subshell.
children_cpu_us() {
	times >"$OUT_DIR/times.txt"
	awk 'NR == 2 {
		n = split($0, f, " "); t = 0
		for (i = 1; i <= n; i++) { split(f[i], a, "m"); sub(/s/, "", a[2]); t += a[1] * 60 + a[2] }
		printf "%.0f\n", t * 1000000 }' "$OUT_DIR/times.txt" >"$OUT_DIR/times.us"
}

ENGINE_RUNS=0
# $1: seconds to wait for the listener, $2: pin or no-pin, then the command to
# run heraldd under, if any (valgrind ...). Sets ENGINE_PID, ENGINE_PORT, ENGINE_DATA.
engine_start() {
	local wait_s=$1 flags=()
	[ "$2" = no-pin ] && flags=(--no-pin)
	shift 2
	ENGINE_RUNS=$((ENGINE_RUNS + 1))
	ENGINE_PORT=$(free_port)
	ENGINE_DATA=$OUT_DIR/engine.$ENGINE_RUNS
	taskset -c "$ENGINE_CPU" "$@" "$HERALDD" --listen "127.0.0.1:$ENGINE_PORT" --data "$ENGINE_DATA" \
		--cores 1 "${flags[@]}" --log-level warn >"$OUT_DIR/engine.$ENGINE_RUNS.log" 2>&1 &
	ENGINE_PID=$!
	wait_listen "$ENGINE_PORT" "$wait_s"
	for _ in $(seq 1 100); do
		[ -s "$ENGINE_DATA/admin.secret" ] && return 0
		sleep 0.05
	done
	echo "run_wire: engine wrote no admin.secret" >&2
	return 1
}

engine_stop() {
	[ -n "$ENGINE_PID" ] || return 0
	kill -TERM "$ENGINE_PID" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$ENGINE_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$ENGINE_PID" 2>/dev/null || true
	wait "$ENGINE_PID" 2>/dev/null || true
	ENGINE_PID=
	rm -rf "$ENGINE_DATA"
}

herald_run() { # $1 op, $2 depth
	local extra=() line
	engine_start 10 pin
	[ "$1" = bind ] && extra=(--secret-file "$ENGINE_DATA/admin.secret")
	if ! line=$("$WIRE_BENCH" --addr "127.0.0.1:$ENGINE_PORT" --op "$1" --depth "$2" --conns "$CONNS" \
		--seconds "$RUN_SECONDS" --cpu "$CLIENT_CPU" --server-pid "$ENGINE_PID" "${extra[@]}" \
		2>>"$OUT_DIR/wire_bench.err"); then
		echo "run_wire: wire_bench failed ($1, depth $2): $line" >&2
		tail -5 "$OUT_DIR/wire_bench.err" >&2
		engine_stop
		return 1
	fi
	engine_stop
	echo "$line" | tee -a "$RESULTS"
}

# Requests per redis-benchmark run, adjusted after each run to last about RUN_SECONDS.
declare -A REDIS_RATE=([ping_1]=100000 [hset_1]=100000 [ping_32]=1200000 [hset_32]=450000)

redis_run() { # $1 ping|hset, $2 depth
	local key=$1_$2 rate n args csv cpu0 cpu1 cli0 cli1 usr sys
	rate=${REDIS_RATE[$key]:-100000}
	n=$(awk -v r="$rate" -v s="$RUN_SECONDS" 'BEGIN { n = int(r * s); if (n < 10000) n = 10000; print n }')
	if [ "$1" = ping ]; then
		args=(PING)
	else
		args=(-r "$REDIS_HSET_KEYSPACE" -t hset)
	fi
	redis-cli -p "$REDIS_PORT" flushall >/dev/null
	children_cpu_us
	cli0=$(cat "$OUT_DIR/times.us")
	cpu0=$(proc_cpu_us "$REDIS_PID")
	taskset -c "$CLIENT_CPU" redis-benchmark -p "$REDIS_PORT" -c "$CONNS" -P "$2" -n "$n" --csv "${args[@]}" \
		>"$OUT_DIR/redis-benchmark.csv"
	cpu1=$(proc_cpu_us "$REDIS_PID")
	children_cpu_us
	cli1=$(cat "$OUT_DIR/times.us")
	csv=$(cat "$OUT_DIR/redis-benchmark.csv")
	usr=$(( ${cpu1% *} - ${cpu0% *} ))
	sys=$(( ${cpu1#* } - ${cpu0#* } ))
	echo "$csv" | awk -F'"' -v name="redis_$1" -v depth="$2" -v conns="$CONNS" -v n="$n" \
		-v usr="$usr" -v sys="$sys" -v ccpu="$((cli1 - cli0))" '
		$2 == "test" { next }
		NF > 10 {
			rps = $4; secs = n / rps; scpu = usr + sys
			printf "name=%s op=%s depth=%d conns=%d requests=%d errors=0 seconds=%.3f ops_per_sec=%.0f " \
			       "p50_us=%.1f p99_us=%.1f max_us=%.1f client_cpu_us_per_req=%.3f " \
			       "server_cpu_us_per_req=%.3f server_cpu_util=%.2f server_sys_frac=%.2f\n",
			       name, tolower($2), depth, conns, n, secs, rps, $10 * 1000, $14 * 1000, $16 * 1000,
			       ccpu / n, scpu / n, scpu / 1e6 / secs, (scpu > 0 ? sys / scpu : 0)
			exit
		}' | tee -a "$RESULTS"
	REDIS_RATE[$key]=$(tail -1 "$RESULTS" | sed -n 's/.* ops_per_sec=\([0-9]*\).*/\1/p')
}

echo "# run_wire: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r)"
echo "# engine CPU $ENGINE_CPU, clients CPU $CLIENT_CPU, conns $CONNS, depths $DEPTHS, $REPEATS repeats of ${RUN_SECONDS}s; output in $OUT_DIR"

REDIS_PORT=$(free_port)
redis_persist=(--appendonly no)
if [ -n "$REDIS_APPENDFSYNC" ]; then
	mkdir -p "$OUT_DIR/redis-data"
	redis_persist=(--appendonly yes --appendfsync "$REDIS_APPENDFSYNC" --dir "$OUT_DIR/redis-data")
fi
taskset -c "$ENGINE_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" "${redis_persist[@]}" \
	--daemonize no --logfile "$OUT_DIR/redis.log" &
REDIS_PID=$!
wait_listen "$REDIS_PORT"
echo "# redis: $(redis-server --version | cut -d' ' -f1-3), pid $REDIS_PID, port $REDIS_PORT, ${redis_persist[*]}"

for _ in $(seq 1 "$REPEATS"); do
	for depth in $DEPTHS; do
		herald_run ping "$depth"
		redis_run ping "$depth"
		herald_run bind "$depth"
		redis_run hset "$depth"
	done
done

kill -TERM "$REDIS_PID" 2>/dev/null || true
wait "$REDIS_PID" 2>/dev/null || true
REDIS_PID=

# ---- table -------------------------------------------------------------------------
# Pairs: herald_ping vs redis_ping, herald_bind vs redis_hset, per depth.
summarize() {
	awk -v repeats="$REPEATS" '
	function sort(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	}
	function pick(name, d, arr, how,   k, i, a, n) {
		k = name SUBSEP d; n = cnt[k]
		for (i = 1; i <= n; i++) a[i] = arr[k, i]
		sort(a, n)
		if (how == "min") return a[1]
		if (how == "max") return a[n]
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function ratio(h, r, d,   kh, kr, i, a, n) {
		kh = h SUBSEP d; kr = r SUBSEP d; n = cnt[kh] < cnt[kr] ? cnt[kh] : cnt[kr]
		for (i = 1; i <= n; i++) a[i] = ops[kh, i] / ops[kr, i]
		sort(a, n)
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function line(h, r, d) {
		if (!cnt[h SUBSEP d] || !cnt[r SUBSEP d]) return
		printf "%-5s %s / %s: ops/s %.2fx median of per-repeat ratios, %.2fx best / best; server CPU per request %.2fx\n",
		       d, h, r, ratio(h, r, d), pick(h, d, ops, "max") / pick(r, d, ops, "max"),
		       pick(r, d, scpu, "med") / pick(h, d, scpu, "med")
	}
	{
		delete kv
		for (i = 1; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
		if (!("ops_per_sec" in kv)) next
		k = kv["name"] SUBSEP kv["depth"]
		c = ++cnt[k]
		ops[k, c] = kv["ops_per_sec"]; p50[k, c] = kv["p50_us"]; p99[k, c] = kv["p99_us"]
		scpu[k, c] = kv["server_cpu_us_per_req"]; util[k, c] = kv["server_cpu_util"]; sysf[k, c] = kv["server_sys_frac"]
		busy[k, c] = kv["busy"] + 0 ? 100 * kv["busy"] / (kv["busy"] + kv["requests"]) : 0
		if (!(kv["depth"] in seen_depth)) { seen_depth[kv["depth"]] = 1; depths[++nd] = kv["depth"] }
	}
	END {
		printf "\n%-5s %-12s %10s %10s %8s %8s %8s %8s %7s %7s %5s %5s %6s\n", "depth", "test", "ops/s", "ops/s", "p50 us",
		       "p50 us", "p99 us", "p99 us", "srv us", "srv us", "util", "sys", "busy%"
		printf "%-5s %-12s %10s %10s %8s %8s %8s %8s %7s %7s %5s %5s %6s\n", "", "", "median", "best", "median", "min",
		       "median", "min", "median", "min", "med", "med", "max"
		np = split("herald_ping redis_ping herald_bind redis_hset", names, " ")
		for (di = 1; di <= nd; di++) {
			d = depths[di]
			for (ni = 1; ni <= np; ni++) {
				nm = names[ni]
				if (!cnt[nm SUBSEP d]) continue
				printf "%-5s %-12s %10.0f %10.0f %8.1f %8.1f %8.1f %8.1f %7.3f %7.3f %5.2f %5.2f %6.2f\n", d, nm,
				       pick(nm, d, ops, "med"), pick(nm, d, ops, "max"), pick(nm, d, p50, "med"), pick(nm, d, p50, "min"),
				       pick(nm, d, p99, "med"), pick(nm, d, p99, "min"), pick(nm, d, scpu, "med"), pick(nm, d, scpu, "min"),
				       pick(nm, d, util, "med"), pick(nm, d, sysf, "med"), pick(nm, d, busy, "max")
			}
			line("herald_ping", "redis_ping", d)
			line("herald_bind", "redis_hset", d)
		}
		print "(" repeats " repeats. best = highest ops/s, i.e. the least wall time per request. srv us: server CPU time"
		print " per request; util: server CPU time / wall time; sys: the share of that time spent in the kernel;"
		print " busy%: answers E_BUSY (engine shedding load), not counted in ops/s, highest of the repeats."
		print " Server CPU ratio: Redis CPU per request / Herald CPU per request; above 1 = Herald spends less.)"
	}' "$RESULTS"
}
summarize | tee "$OUT_DIR/table.txt"

# ---- instructions per request under callgrind ----------------------------------------
if [ "$CALLGRIND" = 1 ]; then
	CG_DIR=$OUT_DIR/callgrind
	mkdir -p "$CG_DIR"
	echo
	echo "# callgrind: engine user-space instructions per request ($CG_REQUESTS requests per case, setup subtracted)"
	engine_start 60 no-pin valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$CG_DIR/cg.out"
	CG_PID=$ENGINE_PID
	dump_ir() { # $1 label: dump the counters since the last dump, print their total
		callgrind_control -d "$1" "$CG_PID" >/dev/null 2>&1
		local f
		for _ in $(seq 1 100); do
			f=$(grep -l "^desc: Trigger: dump $1\$" "$CG_DIR"/cg.out.* 2>/dev/null | head -1 || true)
			[ -n "$f" ] && grep -q '^totals:' "$f" && break
			sleep 0.1
		done
		[ -n "$f" ] || { echo "run_wire: callgrind dump $1 not found" >&2; return 1; }
		echo "$f" >"$CG_DIR/$1.file"
		sed -n 's/^summary: //p' "$f"
	}
	cg_bench() { # $1 op, $2 depth, $3 requests; prints the requests done (E_BUSY answers left out)
		local extra=() line
		[ "$1" = bind ] && extra=(--secret-file "$ENGINE_DATA/admin.secret")
		line=$("$WIRE_BENCH" --addr "127.0.0.1:$ENGINE_PORT" --op "$1" --depth "$2" --conns "$CONNS" \
			--requests "$3" --cpu "$CLIENT_CPU" "${extra[@]}" 2>>"$CG_DIR/wire_bench.err")
		echo "$line" >>"$CG_DIR/wire_bench.out"
		echo "$line" | sed -n 's/.* requests=\([0-9]*\) .*/\1/p'
	}
	cg_bench ping 32 20000 >/dev/null # warm-up: code paths, buffers, allocator
	dump_ir warm >/dev/null
	for depth in $DEPTHS; do
		for op in ping bind; do
			cg_bench "$op" "$depth" 1 >/dev/null
			setup=$(dump_ir "setup_${op}_$depth")
			done_n=$(cg_bench "$op" "$depth" "$CG_REQUESTS")
			total=$(dump_ir "${op}_$depth")
			awk -v op="$op" -v d="$depth" -v t="$total" -v s="$setup" -v n="$done_n" -v c="$CONNS" 'BEGIN {
				printf "name=herald_%s_ir depth=%d conns=%d requests=%d ir_total=%.0f ir_setup=%.0f ir_per_req=%.0f\n",
				       op, d, c, n, t, s, (t - s) / (n - 1) }' | tee -a "$RESULTS"
		done
	done
	engine_stop
	CG_PID=
	for depth in $DEPTHS; do
		for op in ping bind; do
			f=$(cat "$CG_DIR/${op}_$depth.file")
			echo
			echo "# top functions by own instructions, $op depth $depth ($f)"
			# Frames still on the stack at the dump (clone, start_thread, core_main) show the
			# whole total as their own in a mid-run dump; they are left out.
			callgrind_annotate --threshold=100 --auto=no "$f" >"$f.annotate"
			awk '/file:function/ { on = 1; getline; next }
			     on && NF && !/clone|start_thread|core_main/ && shown++ < 15' "$f.annotate"
		done
	done
fi
