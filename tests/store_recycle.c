/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Recycled segments: segments deleted by retention or compaction become the
 * next spares without being zero-filled, so a new segment may start with
 * what an old one held. Writes many small segments while deleting all but
 * the newest two, then reads the directory back as recovery would: every
 * record of the live segments comes back once, in order, and nothing the
 * recycled files held before is taken for a record (their CRCs were salted
 * with another segment's identity); the current segment's stale tail is a
 * torn tail, not corruption.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/reactor.h"
#include "store/log.h"
#include "tests/unit.h"

#define PAYLOAD 88u

static void on_durable(struct sto_log *l, uint64_t lsn)
{
}

static const struct sto_log_hooks hooks = { .durable = on_durable };

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
	uint64_t first, next, records;
	bool in_order;
};

static void apply(void *arg, unsigned worker, const struct sto_rec_hdr *h, const uint8_t *payload, uint64_t loc)
{
	struct seen *s = arg;
	uint64_t v;
	memcpy(&v, payload, 8);
	if (!s->records)
		s->first = s->next = v;
	if (h->type != 1 || v != s->next || h->seq != v)
		s->in_order = false;
	s->next = v + 1;
	s->records++;
}

static unsigned count_names(const char *dir, const char *prefix)
{
	unsigned n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	if (d)
		closedir(d);
	return n;
}

int main(void)
{
	char dir[] = "/tmp/herald-recycle-XXXXXX";
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
	cfg.segment_bytes = 1u << 20; /* small: many segments */
	static struct sto_log log;
	CHECK(sto_log_open(&log, &cfg, &core, 0) == 0);

	uint32_t seen_idx[256];
	unsigned nseg = 0, recycled_used = 0;
	uint64_t id = 0;
	for (unsigned round = 0; round < 400000; round++) {
		uint64_t lsn, loc;
		while (sto_log_room(&log, PAYLOAD)) {
			sto_log_flush(&log, 0);
			pump(&core);
		}
		uint8_t *p = sto_log_append(&log, 1, 0, id, PAYLOAD, 0, &lsn, &loc);
		memset(p, 0xA5, PAYLOAD); /* old records must not look like zeros */
		memcpy(p, &id, 8);
		id++;
		if (round % 64 == 63) {
			sto_log_flush(&log, 0);
			while (log.fl_count)
				pump(&core);
		}
		if (!nseg || seen_idx[(nseg - 1) % 256] != log.seg_idx) {
			seen_idx[nseg++ % 256] = log.seg_idx;
			if (nseg > 3) /* keep the newest two sealed and the current one */
				sto_segments_drop(seen_idx[(nseg - 4) % 256]);
		}
	}
	while (log.fl_count || log.buf_len != log.flushed_len) {
		sto_log_flush(&log, 0);
		if (log.fl_count)
			pump(&core);
	}
	CHECK(nseg > 10);           /* many segments went by */
	recycled_used = (unsigned)sto_segments_recycled();
	CHECK(recycled_used > 0);   /* and spares came from recycled files */
	CHECK(count_names(dir, "recycle-") <= 4);
	CHECK(log.segment_stalls <= 2);
	sto_log_close(&log);
	sto_segments_close_all();

	/* what recovery sees: the live segments' records, once, in order, nothing stale */
	struct seen s = { 0, 0, 0, true };
	struct sto_scan_stats st;
	CHECK(sto_log_scan(dir, 1, apply, &s, &st) == 0);
	CHECK(s.in_order);
	CHECK(s.next == id); /* up to the last record written */
	CHECK(s.records == id - s.first);
	CHECK(st.corrupt == 0);
	CHECK(st.segments == 3);

	iou_core_teardown(&core);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	if (failures)
		fprintf(stderr, "%d checks failed\n", failures);
	return failures ? 1 : 0;
}
