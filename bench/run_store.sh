#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# run_store.sh - durable 64-byte receipt appends: RocksDB, LMDB, SQLite and the
# raw limit of the disk, side by side in one run, on one CPU, on one disk.
#
#   rocksdb  store_peers --engine rocksdb   write batch of B puts, sync=1, WAL on
#   lmdb     store_peers --engine lmdb      one write txn per batch, default sync
#   sqlite   store_peers --engine sqlite    WAL, synchronous=FULL, one txn per batch
#   raw      store_peers --engine raw       O_DIRECT blocks + linked fdatasync through
#                                           io_uring, one commit in flight
#   raw-i4   store_peers --engine raw --inflight 4 --tail pad
#                                           four commits in flight; every commit starts
#                                           on a fresh block (only batch 1 differs:
#                                           64 receipts of 64 bytes fill a block)
#   herald   $BUILD/bench/store_herald      if that binary exists (see below),
#   herald-i4                               with --inflight 4 (HERALD_INFLIGHTS)
#   herald-rcpt, herald-rcpt-i4             store_herald --receipts: real receipts through
#                                           store/events.c (counters, history index; 80
#                                           bytes on disk each, against the others' 64)
#
# at each batch size of BATCHES ("1 64 1024"; the raw rows and herald also at
# RAW_BATCHES, "1 64 1024 4096"). Every measurement gets a fresh directory
# under STORE_DIR (./var/bench-store: the disk the store will use), removed
# right after it, and lasts RUN_SECONDS (2); all are repeated REPEATS times (3),
# engines interleaved within a repeat so that machine noise falls on all of
# them. Every run is pinned with taskset to CPU (1; on this VM the virtio disk
# interrupt goes to CPU 1, so the whole cost of a commit lands on the one
# core measured); io_uring's workers and RocksDB's background threads inherit
# the pin. The table gives median / min / max receipts per second, median
# commit latency, bytes written per payload byte, CPU use of that core, and
# the medians' ratios to the raw limit (the better of raw and raw-i4 at that
# batch) and to RocksDB.
#
# store_herald, provided by the store itself, is called as
#   store_herald --dir DIR --records N --batch B --record-bytes 64 --seconds S --cpu K
#                [--inflight K]     (K > 1 only, once per K of HERALD_INFLIGHTS)
# and must print a line in store_peers' format (name=store_append engine=herald
# batch=B records=N records_per_sec=... commits_per_sec=... p50_commit_us=...
# p99_commit_us=... bytes_written=...); fields it leaves out show as "-".
#
# A run that fails is reported and left out of the table; the script then
# exits 1 after printing it.
#
# Builds nothing: run `make build/bench/store_peers` (or `make all`) first.
# Settings, all from the environment:
#   BUILD=build  STORE_DIR=./var/bench-store  REPEATS=3  RUN_SECONDS=2  CPU=1
#   BATCHES="1 64 1024"  RAW_BATCHES="1 64 1024 4096"  RECORDS=1000000000 (cap)
#   HERALD_INFLIGHTS="1 4"  HERALD_RECEIPTS=1 (0: no herald-rcpt rows)
#   HERALD_KEEP_SEGMENTS=8  herald rows keep the newest 8 segments and delete the
#                           rest as they go, like a store at its steady size under
#                           retention (deleted segments are recycled as the next
#                           spares; raw, too, rewrites one file); 0: the log grows
#   OUT_DIR=<temporary>  (results.txt and table.txt are kept there)
set -euo pipefail

BUILD=${BUILD:-build}
STORE_DIR=${STORE_DIR:-./var/bench-store}
REPEATS=${REPEATS:-3}
RUN_SECONDS=${RUN_SECONDS:-2}
CPU=${CPU:-1}
BATCHES=${BATCHES:-"1 64 1024"}
RAW_BATCHES=${RAW_BATCHES:-"1 64 1024 4096"}
RECORDS=${RECORDS:-1000000000}
HERALD_INFLIGHTS=${HERALD_INFLIGHTS:-"1 4"}
HERALD_RECEIPTS=${HERALD_RECEIPTS:-1}
HERALD_KEEP_SEGMENTS=${HERALD_KEEP_SEGMENTS:-8}
RECORD_BYTES=64

STORE_PEERS=$BUILD/bench/store_peers
STORE_HERALD=$BUILD/bench/store_herald

[ -x "$STORE_PEERS" ] || { echo "run_store: $STORE_PEERS missing; run 'make $STORE_PEERS' first" >&2; exit 1; }
command -v taskset >/dev/null || { echo "run_store: taskset not installed (make deps)" >&2; exit 1; }

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/herald-bench-store.XXXXXX)}
mkdir -p "$OUT_DIR/bin"
# Measure copies: a `make` running meanwhile must not swap the binaries mid-run.
cp "$STORE_PEERS" "$OUT_DIR/bin/"
STORE_PEERS=$OUT_DIR/bin/store_peers
HAVE_HERALD=0
if [ -x "$STORE_HERALD" ]; then
	cp "$STORE_HERALD" "$OUT_DIR/bin/"
	STORE_HERALD=$OUT_DIR/bin/store_herald
	HAVE_HERALD=1
fi
RESULTS=$OUT_DIR/results.txt
: >"$RESULTS"

# Only what this script makes under STORE_DIR is removed: one run.N directory
# at a time, and STORE_DIR itself if it did not exist before.
MADE_STORE_DIR=0
[ -e "$STORE_DIR" ] || MADE_STORE_DIR=1
mkdir -p "$STORE_DIR"
RUN_DIR=
cleanup() {
	[ -n "$RUN_DIR" ] && rm -rf -- "$RUN_DIR"
	[ "$MADE_STORE_DIR" = 1 ] && rmdir -- "$STORE_DIR" 2>/dev/null
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RUNS=0
FAILED=0
# $1 label, then the command and its arguments; DIR is replaced by a fresh directory.
measure() {
	local label=$1 line arg args=()
	shift
	RUNS=$((RUNS + 1))
	RUN_DIR=$STORE_DIR/run.$RUNS
	for arg in "$@"; do
		[ "$arg" = DIR ] && arg=$RUN_DIR
		args+=("$arg")
	done
	if ! line=$(taskset -c "$CPU" "${args[@]}" 2>>"$OUT_DIR/errors.txt" | grep -m1 '^name=store_append '); then
		echo "run_store: $label failed: ${args[*]}" >&2
		tail -5 "$OUT_DIR/errors.txt" >&2
		rm -rf -- "$RUN_DIR"
		RUN_DIR=
		FAILED=$((FAILED + 1))
		return 0
	fi
	rm -rf -- "$RUN_DIR"
	RUN_DIR=
	echo "label=$label $line" | tee -a "$RESULTS"
}

peer() { # $1 engine, $2 batch, then extra flags
	local engine=$1 batch=$2
	shift 2
	measure "$engine" "$STORE_PEERS" --engine "$engine" --dir DIR --records "$RECORDS" --batch "$batch" \
		--record-bytes "$RECORD_BYTES" --seconds "$RUN_SECONDS" --cpu "$CPU" "$@"
}

in_list() { # $1 word, $2 list
	case " $2 " in *" $1 "*) return 0 ;; *) return 1 ;; esac
}

ALL_BATCHES=$(printf '%s\n' $BATCHES $RAW_BATCHES | sort -n | uniq | tr '\n' ' ')
echo "# run_store: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r)"
echo "# disk: $STORE_DIR on $(df --output=source,fstype "$STORE_DIR" | tail -1 | tr -s ' '), CPU $CPU," \
	"$REPEATS repeats of ${RUN_SECONDS}s, ${RECORD_BYTES}-byte receipts; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# output in $OUT_DIR"

START=$SECONDS
for rep in $(seq 1 "$REPEATS"); do
	for batch in $ALL_BATCHES; do
		if in_list "$batch" "$RAW_BATCHES"; then
			peer raw "$batch"
			measure raw-i4 "$STORE_PEERS" --engine raw --dir DIR --records "$RECORDS" \
				--batch "$batch" --record-bytes "$RECORD_BYTES" --seconds "$RUN_SECONDS" --cpu "$CPU" \
				--inflight 4 --tail pad
			if [ "$HAVE_HERALD" = 1 ]; then
				for k in $HERALD_INFLIGHTS; do
					if [ "$k" = 1 ]; then
						measure herald "$STORE_HERALD" --dir DIR --records "$RECORDS" --batch "$batch" \
							--record-bytes "$RECORD_BYTES" --seconds "$RUN_SECONDS" --cpu "$CPU" \
							--keep-segments "$HERALD_KEEP_SEGMENTS"
					else
						measure "herald-i$k" "$STORE_HERALD" --dir DIR --records "$RECORDS" \
							--batch "$batch" --record-bytes "$RECORD_BYTES" --seconds "$RUN_SECONDS" \
							--cpu "$CPU" --inflight "$k" --keep-segments "$HERALD_KEEP_SEGMENTS"
					fi
					if [ "$HERALD_RECEIPTS" = 1 ]; then
						label=herald-rcpt
						[ "$k" = 1 ] || label=herald-rcpt-i$k
						measure "$label" "$STORE_HERALD" --dir DIR --records "$RECORDS" --batch "$batch" \
							--seconds "$RUN_SECONDS" --cpu "$CPU" --inflight "$k" --receipts \
							--keep-segments "$HERALD_KEEP_SEGMENTS"
					fi
				done
			fi
		fi
		if in_list "$batch" "$BATCHES"; then
			for engine in rocksdb lmdb sqlite; do
				peer "$engine" "$batch"
			done
		fi
	done
done
echo "# $RUNS runs in $((SECONDS - START)) s; load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- table -------------------------------------------------------------------------
summarize() {
	awk -v repeats="$REPEATS" '
	function sort(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	}
	# median / min / max of field f over the repeats of label l at batch b; "" if none
	function pick(l, b, f, how,   k, i, a, n) {
		k = l SUBSEP b; n = 0
		for (i = 1; i <= cnt[k]; i++) if ((k, i, f) in val) a[++n] = val[k, i, f]
		if (n == 0) return ""
		sort(a, n)
		if (how == "min") return a[1]
		if (how == "max") return a[n]
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function num(v, fmt) { return v == "" ? "-" : sprintf(fmt, v) }
	function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2f", a / b) }
	{
		delete kv
		for (i = 1; i <= NF; i++) { p = index($i, "="); if (p) kv[substr($i, 1, p - 1)] = substr($i, p + 1) }
		if (!("records_per_sec" in kv)) next
		k = kv["label"] SUBSEP kv["batch"]
		c = ++cnt[k]
		split("records_per_sec commits_per_sec p50_commit_us p99_commit_us write_amp cpu_util", fs, " ")
		for (i in fs) if ((fs[i] in kv) && kv[fs[i]] != "-") val[k, c, fs[i]] = kv[fs[i]] + 0
		if (!(kv["batch"] in seen_b)) { seen_b[kv["batch"]] = 1; bs[++nb] = kv["batch"] + 0 }
		if (!(kv["label"] in seen_l)) { seen_l[kv["label"]] = 1 }
	}
	END {
		sort(bs, nb)
		nl = 0
		for (l in seen_l) if (l ~ /^herald/) labels[++nl] = l
		sort(labels, nl)
		nl = split("raw raw-i4 rocksdb lmdb sqlite", rest, " ") + nl
		for (i = nl - 4; i <= nl; i++) labels[i] = rest[i - nl + 5]
		printf "\n%5s %-9s %11s %11s %11s %9s %8s %8s %6s %5s %6s %7s\n", "batch", "engine", "records/s", "min", "max",
		       "commits/s", "p50 us", "p99 us", "w.amp", "cpu", "vs raw", "vs rocks"
		for (bi = 1; bi <= nb; bi++) {
			b = bs[bi]
			r1 = pick("raw", b, "records_per_sec", "med"); r4 = pick("raw-i4", b, "records_per_sec", "med")
			lim = (r4 != "" && (r1 == "" || r4 > r1)) ? r4 : r1
			rocks = pick("rocksdb", b, "records_per_sec", "med")
			for (li = 1; li <= nl; li++) {
				l = labels[li]
				if (!cnt[l SUBSEP b]) continue
				m = pick(l, b, "records_per_sec", "med")
				printf "%5d %-9s %11s %11s %11s %9s %8s %8s %6s %5s %6s %7s\n", b, l, num(m, "%.0f"),
				       num(pick(l, b, "records_per_sec", "min"), "%.0f"), num(pick(l, b, "records_per_sec", "max"), "%.0f"),
				       num(pick(l, b, "commits_per_sec", "med"), "%.0f"), num(pick(l, b, "p50_commit_us", "med"), "%.1f"),
				       num(pick(l, b, "p99_commit_us", "med"), "%.1f"), num(pick(l, b, "write_amp", "med"), "%.2f"),
				       num(pick(l, b, "cpu_util", "med"), "%.2f"), ratio(m, lim), ratio(m, rocks)
			}
			printf "\n"
		}
		print "(" repeats " repeats; records/s: median, min, max; the other columns are medians. p50/p99 us:"
		print " commit latency, from the batch'"'"'s first record to durable. w.amp: bytes written / payload bytes."
		print " cpu: process CPU time / wall time on the one core. vs raw: median records/s over the better"
		print " of raw and raw-i4 at that batch; vs rocks: over rocksdb at that batch.)"
	}' "$RESULTS"
}
summarize | tee "$OUT_DIR/table.txt"
if [ "$FAILED" != 0 ]; then
	echo "run_store: $FAILED of $RUNS runs failed (see $OUT_DIR/errors.txt)" >&2
	exit 1
fi
