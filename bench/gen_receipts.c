/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen_receipts - add N receipts to a data directory made by gen_users, as a
 * running engine with C cores would have written them (through
 * store/events.c: event segments of 64 MiB, a counter checkpoint at the head
 * of each, hint files written in the background for sealed segments; each
 * core's newest segment is left without a hint, as after a crash), to
 * measure start-up time with many receipts:
 *
 *   gen_receipts --data DIR --receipts N --users U [--cores C]
 *
 * Receipt i goes to user "user-<k>" for a pseudo-random k < U (gen_users'
 * ids and hash key), message i + 1, campaign i / 1000000 + 1, push/huawei,
 * state queued, sent or delivered in turn. Prints the counts per state.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/assert.h"
#include "base/hash.h"
#include "io/reactor.h"
#include "store/events.h"
#include "store/log.h"
#include "store/users.h"

static struct sto_events ev[8];

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

static void on_durable(struct sto_log *l, uint64_t lsn)
{
	sto_events_on_durable(&ev[l->core], lsn);
}

static void on_opened(struct sto_log *l)
{
	sto_events_on_opened(&ev[l->core]);
}

static const struct sto_log_hooks hooks = { .durable = on_durable, .opened = on_opened };

int main(int argc, char **argv)
{
	const char *data = NULL;
	unsigned long long receipts = 1000000, users = 1000000;
	unsigned cores = 2;
	int o;
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "receipts", required_argument, NULL, 'r' },
		{ "users", required_argument, NULL, 'u' },
		{ "cores", required_argument, NULL, 'c' },
		{ 0, 0, 0, 0 },
	};
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': data = optarg; break;
		case 'r': receipts = strtoull(optarg, NULL, 10); break;
		case 'u': users = strtoull(optarg, NULL, 10); break;
		case 'c': cores = (unsigned)atoi(optarg); break;
		default: return 2;
		}
	}
	if (!data || cores < 1 || cores > 8 || users < 1) {
		fprintf(stderr, "usage: gen_receipts --data DIR --receipts N --users U [--cores 1..8]\n");
		return 2;
	}
	struct base_hash_key key;
	uint8_t kb[16];
	for (int i = 0; i < 16; i++)
		kb[i] = (uint8_t)i;
	memcpy(&key.k0, kb, 8);
	memcpy(&key.k1, kb + 8, 8);

	static char dir[4200];
	snprintf(dir, sizeof(dir), "%s/events", data);
	mkdir(dir, 0755);
	static struct iou_core core[8];
	static struct iou_core *cp[8];
	static struct sto_log log[8];
	static struct sto_log_cfg cfg;
	cfg.dir = dir;
	cfg.stream = STO_STREAM_EVENTS;
	cfg.hooks = &hooks;
	cfg.cores = (uint16_t)cores;
	cfg.epoch = 1;
	cfg.fsync_mode = STO_FSYNC_ALWAYS;
	cfg.segment_bytes = HRL_SEGMENT_BYTES_DEFAULT;
	for (unsigned i = 0; i < cores; i++)
		cp[i] = &core[i];
	ALWAYS(iou_cores_wire(cp, cores) == 0);
	for (unsigned i = 0; i < cores; i++) {
		core[i].id = i;
		ALWAYS(iou_core_setup(&core[i]) == 0);
		core[i].cqe_handlers[STO_OP_WRITE] = sto_log_on_write;
		core[i].cqe_handlers[STO_OP_FSYNC] = sto_log_on_fsync;
		ALWAYS(sto_log_open(&log[i], &cfg, &core[i], i) == 0);
		ALWAYS(sto_events_init(&ev[i], &log[i], i, 1) == 0);
	}
	char id[64];
	uint64_t x = 88172645463325252ull, per_state[4] = { 0 };
	for (unsigned long long i = 0; i < receipts; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int n = snprintf(id, sizeof(id), "user-%llu", (unsigned long long)(x % users));
		uint64_t h = sto_user_hash(&key, 0, id, (size_t)n);
		uint32_t part = base_hash_reduce(h, 1024);
		struct sto_receipt r = {
			.message_id = i + 1,
			.campaign_id = i / 1000000 + 1,
			.user_hash = h,
			.event_unix_ms = 1763780000000ull + i,
			.app_idx = 0,
			.channel = 1,
			.vendor = 3,
			.state = (uint8_t)(1 + i % 3),
			.user_len = (uint8_t)n,
			.user_id = id,
			.reason = "",
		};
		unsigned c = part % cores;
		uint64_t lsn;
		while (sto_events_room(&ev[c], &r)) {
			sto_log_flush(&log[c], 0);
			pump(&core[c]);
			sto_events_tick(&ev[c]);
		}
		sto_events_append(&ev[c], &r, (uint16_t)part, &lsn);
		per_state[r.state]++;
		if ((i & 0xFFF) == 0)
			for (unsigned k = 0; k < cores; k++)
				sto_log_flush(&log[k], 0);
	}
	for (unsigned k = 0; k < cores; k++) {
		while (log[k].durable_lsn < log[k].lsn_base + log[k].buf_len) {
			sto_log_flush(&log[k], 0);
			pump(&core[k]);
		}
	}
	sto_bg_drain();
	for (unsigned k = 0; k < cores; k++) {
		sto_events_free(&ev[k]);
		sto_log_close(&log[k]);
	}
	printf("gen_receipts: %llu receipts for %llu users in %s (%u cores): queued %llu sent %llu delivered %llu\n",
	       receipts, users, dir, cores, (unsigned long long)per_state[1], (unsigned long long)per_state[2],
	       (unsigned long long)per_state[3]);
	return 0;
}
