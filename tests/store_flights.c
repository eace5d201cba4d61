/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Several flushes in flight: groups of 64 KiB and more go out while the
 * previous ones are still being written, each padded to a block boundary.
 * Checks that more than one flight was out at once, that durability only
 * advances in order, and that reading the segment back gives every record
 * once, in order, with the padding skipped. Then an EIO on the second of
 * several flights: every record from the failed flight on is undone and
 * reported failed, the earlier ones stay durable.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/reactor.h"
#include "store/log.h"
#include "tests/unit.h"

#define PAYLOAD 96u
#define GROUP 2048u /* records per group: ~256 KiB */

static uint64_t durable_seen, undone, failed_calls;

static void on_durable(struct sto_log *l, uint64_t lsn)
{
	CHECK(lsn >= durable_seen); /* never backwards */
	durable_seen = lsn;
}

static void on_undo(struct sto_log *l, const struct sto_rec_hdr *h, const uint8_t *payload, uint64_t prev_loc)
{
	undone++;
}

static void on_failed(struct sto_log *l, uint64_t lsn, int err)
{
	failed_calls++;
}

static const struct sto_log_hooks hooks = { .durable = on_durable, .undo = on_undo, .failed = on_failed };

static void pump(struct iou_core *c)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	io_uring_submit_and_wait(&c->ring, 1);
	io_uring_for_each_cqe(&c->ring, head, cqe) {
		struct iou_op *op = io_uring_cqe_get_data(cqe);
		n++;
		if (op && op->kind < IOU_OP_KINDS_MAX && c->cqe_handlers[op->kind])
			c->cqe_handlers[op->kind](c, op, cqe);
	}
	io_uring_cq_advance(&c->ring, n);
}

struct seen {
	uint64_t next;
	uint64_t records;
	bool in_order;     /* exactly 0, 1, 2, ... */
	bool increasing;   /* strictly increasing: nothing twice */
};

static void count_apply(void *arg, unsigned worker, const struct sto_rec_hdr *h, const uint8_t *payload, uint64_t loc)
{
	struct seen *s = arg;
	uint64_t v;
	memcpy(&v, payload, 8);
	if (h->type != 1 || v != s->next || h->seq != v)
		s->in_order = false;
	if (s->records && v < s->next)
		s->increasing = false;
	s->next = v + 1;
	s->records++;
}

/* Append groups, asking for a flush after each; returns the most flights seen out at once. */
static unsigned write_groups(struct sto_log *log, struct iou_core *core, unsigned groups, uint64_t *id)
{
	unsigned most = 0;
	for (unsigned g = 0; g < groups; g++) {
		for (unsigned i = 0; i < GROUP; i++) {
			uint64_t lsn, loc;
			while (sto_log_room(log, PAYLOAD)) {
				sto_log_flush(log, 0);
				pump(core);
			}
			uint8_t *p = sto_log_append(log, 1, 0, *id, PAYLOAD, 0, &lsn, &loc);
			memset(p, 0, PAYLOAD);
			memcpy(p, id, 8);
			(*id)++;
		}
		sto_log_flush(log, 0);
		if (log->fl_count > most)
			most = log->fl_count;
	}
	while (log->fl_count || log->buf_len != log->flushed_len) {
		sto_log_flush(log, 0);
		if (log->fl_count)
			pump(core);
	}
	return most;
}

int main(void)
{
	char dir[] = "/tmp/herald-flights-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	static struct iou_core core;
	struct iou_core *cores[1] = { &core };
	CHECK(iou_cores_wire(cores, 1) == 0);
	CHECK(iou_core_setup(&core) == 0);
	core.cqe_handlers[STO_OP_WRITE] = sto_log_on_write;
	core.cqe_handlers[STO_OP_FSYNC] = sto_log_on_fsync;
	static struct sto_log_cfg cfg;
	cfg.dir = dir;
	cfg.hooks = &hooks;
	cfg.epoch = 1;
	cfg.cores = 1;
	cfg.fsync_mode = STO_FSYNC_ALWAYS;
	cfg.segment_bytes = 64u << 20;
	static struct sto_log log;
	CHECK(sto_log_open(&log, &cfg, &core, 0) == 0);

	/* 1. pipelined flights, read back in order */
	uint64_t id = 0;
	unsigned most = write_groups(&log, &core, 12, &id);
	CHECK(most > 1);
	CHECK(log.io_errors == 0);
	CHECK(durable_seen == log.lsn_base + log.buf_len);
	uint64_t writes_part1 = log.flushes; /* one write each: no short writes here */
	struct seen s = { 0, 0, true, true };
	struct sto_scan_stats st;
	sto_log_close(&log);
	sto_segments_close_all();
	CHECK(sto_log_scan(dir, 1, count_apply, &s, &st) == 0);
	CHECK(s.records == id);
	CHECK(s.in_order);
	CHECK(st.corrupt == 0 && st.torn_tails == 0);
	sto_segments_close_all();

	/* 2. EIO on a flight while others are out: it and what follows are undone */
	char dir2[] = "/tmp/herald-flights-XXXXXX";
	CHECK(mkdtemp(dir2) != NULL);
	cfg.dir = dir2;
	char spec[64];
	snprintf(spec, sizeof(spec), "write_eio@%llu", (unsigned long long)writes_part1 + 3); /* writes count over the run */
	CHECK(sto_faults_parse(spec) == 0);
	durable_seen = 0;
	CHECK(sto_log_open(&log, &cfg, &core, 0) == 0);
	id = 0;
	write_groups(&log, &core, 8, &id);
	CHECK(log.io_errors == 1);
	CHECK(failed_calls == 1);
	CHECK(undone > 0);
	uint64_t kept = id - undone;
	sto_log_close(&log);
	sto_segments_close_all();
	s = (struct seen){ 0, 0, true, true };
	CHECK(sto_log_scan(dir2, 1, count_apply, &s, &st) == 0);
	/* the records before the failed flight are all there, in order; a later
	 * flight that reached the disk may follow (never acknowledged) */
	CHECK(s.records >= kept);
	CHECK(s.increasing);

	iou_core_teardown(&core);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, dir2);
	CHECK(system(cmd) == 0);
	if (failures)
		fprintf(stderr, "%d checks failed\n", failures);
	return failures ? 1 : 0;
}
