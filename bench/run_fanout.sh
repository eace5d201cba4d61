#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# run_fanout.sh - in-process fan-out throughput (bench/fanout_bench.c) for
# (sink null | encode) x (broadcast | personal), and the instructions each
# recipient costs, in one run. Target (the issue): >= 10 M recipients/s
# per core for resolve + render + batch with vendor calls into a null sink.
#
#   null      fanout's own null sink: every address accepted at once, no
#             request encoded, no answer parsed
#   encode    the vendor's real HTTP request encoded for every call, and
#             the vendor's documented success answer parsed
#   broadcast one text for everyone: batches of 1000 addresses per call
#   personal  "{{name}}" in the body: one render and one call per address
#
# plus "null broadcast, hash layout": the same table created in the index's
# hash order, so that the walk reads the users' blocks front to back (what
# the figure would be if the store kept its blocks in hash order).
#
# 1. Rate: USERS users (default 1,000,000), REPEATS rounds; each round runs
#    every case once (a fresh table, one campaign), so machine noise falls
#    on all cases alike. Median and best of the rounds, in recipients per
#    second of wall time inside fan_core_poll and fan_batch_answer, and in
#    recipients per second of the thread's CPU time (on a shared machine
#    the time the thread waited for a CPU is not the code's). The first
#    round also prints the floor: a hash-range walk over the table decoding
#    every user, and that plus hashing each user id (fanout_walk_*).
# 2. Instructions: CG_USERS users (default 100,000), one campaign per case
#    under valgrind --tool=callgrind, collecting only inside fan_core_poll
#    and fan_batch_answer (so filling the table and the bench's making of
#    answer bodies are left out), divided by recipients; and the inclusive
#    instructions per recipient of the stages that are functions of their
#    own: decode (sto_users_view), hash (sto_user_hash, in owner()), render
#    (fan_template_render), fields (batch_req: request id, nonce, timestamp,
#    message and credentials), encode (fan_fmt_request), parse
#    (fan_parse_answer), record (receipts), and the rest (enumerate,
#    resolve, batch, send bookkeeping).
#
# Instruction counts repeat from run to run on this machine; wall time does
# not (a shared 2-vCPU VM): compare cases within one run.
#
# Builds nothing: run `make all` first. Settings, all from the environment:
#   BUILD=build  USERS=1000000  REPEATS=3  CG_USERS=100000  CALLGRIND=1
#   CPU=0 (taskset; empty: no pinning)  EXTRA="" (more fanout_bench options
#   for every case, e.g. "--mix" or "--receipts encode")
#   OUT_DIR=<temporary> (outputs and callgrind files are kept there)
# About 3 minutes with the defaults.
set -euo pipefail

BUILD=${BUILD:-build}
USERS=${USERS:-1000000}
REPEATS=${REPEATS:-3}
CG_USERS=${CG_USERS:-100000}
CALLGRIND=${CALLGRIND:-1}
CPU=${CPU-0}
EXTRA=${EXTRA:-}
BENCH=$BUILD/bench/fanout_bench

[ -x "$BENCH" ] || { echo "run_fanout: $BENCH not built (make all)" >&2; exit 1; }
if [ "$CALLGRIND" = 1 ]; then
	for tool in valgrind callgrind_annotate; do
		command -v "$tool" >/dev/null || { echo "run_fanout: $tool not installed" >&2; exit 1; }
	done
fi
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/herald-fanout.XXXXXX)}
mkdir -p "$OUT_DIR"
cp "$BENCH" "$OUT_DIR/fanout_bench" # a make elsewhere cannot swap it mid-run
BENCH=$OUT_DIR/fanout_bench
PIN=()
[ -n "$CPU" ] && command -v taskset >/dev/null && PIN=(taskset -c "$CPU")

# sink:kind:layout
CASES="null:broadcast:id null:personal:id encode:broadcast:id encode:personal:id null:broadcast:hash"
CG_CASES="null:broadcast:id null:personal:id encode:broadcast:id encode:personal:id"
opts() { # $1 case
	local sink kind layout rest
	IFS=: read -r sink kind layout rest <<<"$1"
	local o=(--sink "$sink" --layout "$layout")
	[ "$kind" = personal ] && o+=(--personal)
	# shellcheck disable=SC2206
	[ -n "$EXTRA" ] && o+=($EXTRA)
	echo "${o[@]}"
}
label() { # $1 case
	local sink kind layout rest
	IFS=: read -r sink kind layout rest <<<"$1"
	if [ "$layout" = hash ]; then echo "$sink $kind, hash layout"; else echo "$sink $kind"; fi
}
group() { # 1234567 -> 1,234,567
	echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'
}
field() { # $1 key, stdin: name=... lines
	sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p"
}
median() { # stdin: numbers
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
best() {
	sort -n | tail -1
}

echo "# fanout_bench: $USERS users, $REPEATS rounds, CPU ${CPU:-any}, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
	"(worktree $(git status --porcelain 2>/dev/null | grep -c '^ M\|^M' || true) files modified)"
for round in $(seq 1 "$REPEATS"); do
	for c in $CASES; do
		tag=${c//:/.}
		walk=--no-walk
		[ "$round" = 1 ] && [ "$c" = "null:broadcast:id" ] && walk=
		# shellcheck disable=SC2046,SC2086
		"${PIN[@]}" "$BENCH" --users "$USERS" $walk $(opts "$c") >"$OUT_DIR/wall.$tag.$round.txt"
		sed "s/^/round=$round /" "$OUT_DIR/wall.$tag.$round.txt"
	done
done

declare -A MED BEST CPUMED IR SPLIT
for c in $CASES; do
	tag=${c//:/.}
	lines=$(cat "$OUT_DIR"/wall."$tag".*.txt | grep -E '^name=fanout_(null|encode)_')
	MED[$c]=$(echo "$lines" | field recipients_per_sec | median)
	BEST[$c]=$(echo "$lines" | field recipients_per_sec | best)
	CPUMED[$c]=$(echo "$lines" | field recipients_per_cpu_sec | median)
done
walk_view=$(grep -h '^name=fanout_walk_view ' "$OUT_DIR"/wall.null.broadcast.id.1.txt | field users_per_cpu_sec)
walk_hash=$(grep -h '^name=fanout_walk_view_hash ' "$OUT_DIR"/wall.null.broadcast.id.1.txt | field users_per_cpu_sec)

# The inclusive instructions of function $2 in callgrind file $1 (the largest
# row: an inlined function has a row per source file).
incl() {
	awk -v fn="$2" '$0 ~ ":" fn "( |$)" { gsub(",", "", $1); if ($1 + 0 > m) m = $1 + 0 } END { printf "%.0f\n", m }' "$1.incl"
}
if [ "$CALLGRIND" = 1 ]; then
	echo
	echo "# callgrind: $CG_USERS users, one campaign per case, instructions inside fan_core_poll and fan_batch_answer"
	for c in $CG_CASES; do
		cg=$OUT_DIR/cg.${c//:/.}
		# shellcheck disable=SC2046
		valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$cg" \
			--toggle-collect=fan_core_poll --toggle-collect=fan_batch_answer \
			"$BENCH" --users "$CG_USERS" --no-walk $(opts "$c") >"$cg.txt" 2>"$cg.log"
		recipients=$(grep -E '^name=fanout_(null|encode)_' "$cg.txt" | field recipients)
		total=$(sed -n 's/^totals: //p' "$cg")
		callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$cg" >"$cg.incl" 2>/dev/null
		callgrind_annotate --threshold=100 --auto=no "$cg" >"$cg.self" 2>/dev/null
		IR[$c]=$((total / recipients))
		s=""
		sum=0
		for f in sto_users_view sto_user_hash fan_template_render batch_req fan_fmt_request fan_parse_answer record; do
			v=$(incl "$cg" "$f")
			sum=$((sum + v))
			s="$s $((v / recipients))"
		done
		SPLIT[$c]="$s $(((total - sum) / recipients))"
		echo "name=fanout_${c//:/_}_ir users=$CG_USERS recipients=$recipients instructions=$total ir_per_recipient=${IR[$c]} split=\"${SPLIT[$c]# }\""
		echo "  top functions (own instructions, share):"
		awk '/file:function/ { on = 1; getline; next }
		     on && NF && shown++ < 12 { sub(/ \[.*/, ""); sub(/[^ ]*\//, ""); print "   ", $0 }' "$cg.self"
	done
fi

echo
echo "## fan-out in process: $USERS users (rates), $CG_USERS users (instructions)"
echo
echo "| case | recipients/s, median of $REPEATS | best | recipients per CPU-second, median | instructions / recipient |"
echo "|---|---:|---:|---:|---:|"
for c in $CASES; do
	printf '| %s | %s | %s | %s | %s |\n' "$(label "$c")" "$(group "${MED[$c]}")" "$(group "${BEST[$c]}")" \
		"$(group "${CPUMED[$c]}")" "$(group "${IR[$c]:-n/a}")"
done
printf '| floor: walk + decode every user (round 1) | | | %s | |\n' "$(group "$walk_view")"
printf '| floor: walk + decode + hash every user (round 1) | | | %s | |\n' "$(group "$walk_hash")"
if [ "$CALLGRIND" = 1 ]; then
	echo
	echo "Instructions per recipient by stage (inclusive):"
	echo
	echo "| case | decode | hash | render | fields | encode | parse | record | rest | total |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for c in $CG_CASES; do
		# shellcheck disable=SC2086
		printf '| %s |%s %s |\n' "$(label "$c")" "$(printf ' %s |' ${SPLIT[$c]})" "$(group "${IR[$c]}")"
	done
fi
echo
echo "target: >= 10,000,000 recipients/s per core; null broadcast: median $(group "${MED[null:broadcast:id]}")/s," \
	"$(group "${CPUMED[null:broadcast:id]}") per CPU-second"
echo "outputs: $OUT_DIR"
