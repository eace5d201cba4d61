/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_herald - durable appends through Herald's own store (store/log.c),
 * in the output format of bench/store_peers.c so bench/run_store.sh can put
 * it in the same table.
 *
 *   store_herald --dir DIR --records N --batch B [--record-bytes 64]
 *                [--inflight K] [--seconds S] [--cpu C] [--receipts] [--segment-mb MB]
 *                [--keep-segments K]
 *
 * --receipts: append real receipts through store/events.c, as RECEIPT_PUT
 * does (counter update, history index, the receipt record: 39 bytes + a
 * 7-byte user id + the 32-byte header = 80 bytes on disk) instead of bare
 * records of --record-bytes; reported as engine=herald-rcpt.
 *
 * --segment-mb: segment size (default 64). A segment larger than the run
 * writes means no new segment is zero-filled during the measurement.
 * --keep-segments K: delete all but the newest K sealed segments as it goes,
 * as retention or compaction would in a store that has reached its steady
 * size: deleted segments are recycled as the next spares.
 *
 * A "commit" is B records appended together (what one request, or one
 * RocksDB write batch with sync=true, would carry); at most K commits are
 * waiting for durability at a time, the way K concurrent clients would
 * wait. After each commit the log is asked to flush, as the engine's loop
 * does after each turn: the log groups whatever is waiting into one write +
 * fdatasync (group commit), and keeps up to four large groups in flight,
 * exactly as in the engine. Commit latency: from the
 * append of a commit's first record to the fsync completion that covers it.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/crc32c.h"
#include "io/reactor.h"
#include "store/events.h"
#include "store/log.h"

#define INFLIGHT_MAX 4096u
#define LAT_SAMPLES_MAX (1u << 22)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct pending {
	uint64_t lsn_end; /* durable once durable_lsn >= this */
	uint64_t t0;
};

static struct pending q[INFLIGHT_MAX];
static unsigned q_head, q_count;
static uint64_t *lat_ns;
static uint64_t lat_n, commits_done;

static struct sto_events ev;
static bool use_events;

static void on_durable(struct sto_log *l, uint64_t lsn)
{
	if (use_events)
		sto_events_on_durable(&ev, lsn);
	uint64_t t = now_ns();
	while (q_count && q[q_head].lsn_end <= lsn) {
		if (lat_n < LAT_SAMPLES_MAX)
			lat_ns[lat_n++] = t - q[q_head].t0;
		q_head = (q_head + 1) % INFLIGHT_MAX;
		q_count--;
		commits_done++;
	}
}

static void on_opened(struct sto_log *l)
{
	sto_events_on_opened(&ev);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(double p)
{
	if (!lat_n)
		return 0;
	size_t i = (size_t)ceil(p / 100.0 * (double)lat_n);
	if (i)
		i--;
	return (double)lat_ns[i < lat_n ? i : lat_n - 1] / 1e3;
}

static uint64_t proc_write_bytes(void)
{
	char line[256];
	uint64_t v = 0;
	FILE *f = fopen("/proc/self/io", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "write_bytes:", 12))
			v = strtoull(line + 12, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	unsigned long long records = 1000000;
	unsigned batch = 64, record_bytes = 64, inflight = 1, segment_mb = 0, keep_segments = 0;
	static uint32_t sealed[64];
	unsigned sealed_n = 0;
	double seconds = 0;
	int cpu = -1, o;
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "records", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },
		{ "record-bytes", required_argument, NULL, 'r' },
		{ "inflight", required_argument, NULL, 'i' },
		{ "seconds", required_argument, NULL, 's' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "receipts", no_argument, NULL, 'R' },
		{ "segment-mb", required_argument, NULL, 'S' },
		{ "keep-segments", required_argument, NULL, 'K' },
		{ 0, 0, 0, 0 },
	};
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
		case 'n': records = strtoull(optarg, NULL, 10); break;
		case 'b': batch = (unsigned)atoi(optarg); break;
		case 'r': record_bytes = (unsigned)atoi(optarg); break;
		case 'i': inflight = (unsigned)atoi(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'R': use_events = true; break;
		case 'S': segment_mb = (unsigned)atoi(optarg); break;
		case 'K': keep_segments = (unsigned)atoi(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: store_herald --dir DIR --records N --batch B [--record-bytes 64] "
					"[--inflight K] [--seconds S] [--cpu C] [--receipts] [--segment-mb MB]\n");
			return 2;
		}
	}
	if (!dir || !batch || record_bytes < STO_REC_HEADER_BYTES || !inflight || inflight > INFLIGHT_MAX) {
		fprintf(stderr, "store_herald: --dir, --batch >= 1, --record-bytes >= 32, 1 <= --inflight <= 4096\n");
		return 2;
	}
	if (cpu >= 0)
		iou_pin_cpu(cpu);
	lat_ns = malloc(LAT_SAMPLES_MAX * sizeof(*lat_ns));
	ALWAYS(lat_ns);
	mkdir(dir, 0755);

	/* a record of record_bytes on disk: 32-byte header, the rest payload */
	uint32_t payload = record_bytes - STO_REC_HEADER_BYTES;
	static struct iou_core core;
	struct iou_core *cores[1] = { &core };
	ALWAYS(iou_cores_wire(cores, 1) == 0);
	ALWAYS(iou_core_setup(&core) == 0);
	core.cqe_handlers[STO_OP_WRITE] = sto_log_on_write;
	core.cqe_handlers[STO_OP_FSYNC] = sto_log_on_fsync;
	static struct sto_log_cfg cfg;
	cfg.dir = dir;
	cfg.epoch = 1;
	cfg.fsync_mode = STO_FSYNC_ALWAYS;
	cfg.segment_bytes = segment_mb ? (uint64_t)segment_mb << 20 : HRL_SEGMENT_BYTES_DEFAULT;
	static struct sto_log log;
	int rc = sto_log_open(&log, &cfg, &core, 0);
	if (rc) {
		fprintf(stderr, "store_herald: cannot open the log in %s: %s\n", dir, strerror(-rc));
		return 1;
	}
	sto_log_hooks.durable = on_durable;
	if (use_events) {
		sto_log_hooks.opened = on_opened;
		ALWAYS(sto_events_init(&ev, &log, 0, 1) == 0);
	}
	while (!sto_log_spare_ready(STO_STREAM_STATE, 0)) /* as in a running engine: the next segment is ready */
		usleep(10000);

	uint64_t io0 = proc_write_bytes(), t0 = now_ns(), deadline = seconds > 0 ? t0 + (uint64_t)(seconds * 1e9) : 0;
	unsigned long long appended = 0, commits = 0;
	uint64_t rec_id = 0;
	for (;;) {
		bool more = appended < records && (!deadline || now_ns() < deadline);
		while (more && q_count < inflight) {
			uint64_t start = now_ns(), lsn = 0, loc;
			unsigned i;
			for (i = 0; i < batch && appended < records && use_events; i++) {
				char user[8] = "u";
				for (unsigned k = 0, v = (unsigned)(rec_id % 1000000); k < 6; k++, v /= 10)
					user[6 - k] = (char)('0' + v % 10);
				struct sto_receipt r = {
					.message_id = rec_id + 1,
					.campaign_id = 1 + rec_id / 1000000,
					.user_hash = rec_id % 1000000 * 0x9E3779B97F4A7C15ull,
					.event_unix_ms = 1763780000000ull + rec_id,
					.channel = 1,
					.vendor = 3,
					.state = (uint8_t)(1 + rec_id % 3),
					.user_len = 7,
					.user_id = user,
					.reason = "",
				};
				if (sto_events_room(&ev, &r))
					break;
				sto_events_append(&ev, &r, (uint16_t)(rec_id & 1023), &lsn);
				rec_id++;
				appended++;
			}
			for (i = use_events ? i : 0; i < batch && appended < records && !use_events; i++) {
				if (sto_log_room(&log, payload))
					break;
				uint8_t *p = sto_log_append(&log, 1, (uint16_t)(rec_id & 1023), rec_id, payload, 0, &lsn, &loc);
				/* a receipt: message id, user hash, app, channel, state, vendor, time, reason */
				memset(p, 0, payload);
				memcpy(p, &rec_id, 8);
				uint64_t user = rec_id * 0x9E3779B97F4A7C15ull;
				if (payload >= 16)
					memcpy(p + 8, &user, 8);
				rec_id++;
				appended++;
			}
			if (i == 0)
				break; /* buffer full: let the disk catch up */
			q[(q_head + q_count) % INFLIGHT_MAX] = (struct pending){ lsn + 1, start };
			q_count++;
			commits++;
			/* as the engine's loop does after each turn: whatever waits goes out */
			sto_log_flush(&log, 0);
			more = appended < records && (!deadline || now_ns() < deadline);
		}
		if (!q_count && !more)
			break;
		sto_log_flush(&log, 0);
		struct io_uring_cqe *cqe;
		io_uring_submit_and_wait(&core.ring, 1);
		unsigned head, n = 0;
		io_uring_for_each_cqe(&core.ring, head, cqe) {
			struct iou_op *op = io_uring_cqe_get_data(cqe);
			n++;
			if (op && op->kind < IOU_OP_KINDS_MAX && core.cqe_handlers[op->kind])
				core.cqe_handlers[op->kind](&core, op, cqe);
		}
		io_uring_cq_advance(&core.ring, n);
		if (use_events)
			sto_events_tick(&ev);
		if (keep_segments && (!sealed_n || sealed[(sealed_n - 1) % 64] != log.seg_idx)) {
			sealed[sealed_n++ % 64] = log.seg_idx; /* the current one, sealed later */
			if (sealed_n > keep_segments + 1 && sealed_n - keep_segments - 1 > 0)
				sto_segments_drop(sealed[(sealed_n - keep_segments - 2) % 64]);
		}
		if (log.io_errors) {
			fprintf(stderr, "store_herald: I/O error %d\n", log.last_error);
			return 1;
		}
	}
	uint64_t t1 = now_ns(), io1 = proc_write_bytes();
	double secs = (double)(t1 - t0) / 1e9;
	qsort(lat_ns, lat_n, sizeof(*lat_ns), cmp_u64);
	if (use_events)
		record_bytes = 80;
	printf("name=store_append engine=%s batch=%u records=%llu records_per_sec=%.0f commits_per_sec=%.0f "
	       "p50_commit_us=%.1f p99_commit_us=%.1f bytes_written=%llu record_bytes=%u inflight=%u seconds=%.3f "
	       "flushes=%llu records_per_flush=%.1f segment_stalls=%llu\n",
	       use_events ? "herald-rcpt" : "herald", batch, appended, (double)appended / secs, (double)commits / secs, pct(50), pct(99),
	       (unsigned long long)(io1 - io0), record_bytes, inflight, secs, (unsigned long long)log.flushes,
	       log.flushes ? (double)appended / (double)log.flushes : 0.0, (unsigned long long)log.segment_stalls);
	sto_log_close(&log);
	iou_core_teardown(&core);
	return 0;
}
