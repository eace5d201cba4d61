/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen_users - write a data directory holding N users with one push binding
 * each (a 64-byte token), as the engine would have written them, to measure
 * start-up (recovery) time and memory per binding:
 *
 *   gen_users --data DIR --users N [--cores C] [--token-bytes 64]
 *
 * Creates DIR/herald.meta (1024 partitions, a fixed hash key), DIR/admin.secret,
 * one app "bench" and N users "user-<i>" spread over C cores' logs by
 * partition, like a running engine with C cores. Writes through store/log.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/assert.h"
#include "base/hash.h"
#include "io/reactor.h"
#include "store/log.h"
#include "store/record.h"

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

int main(int argc, char **argv)
{
	const char *data = NULL;
	unsigned long long users = 1000000;
	unsigned cores = 2, token_bytes = 64;
	int o;
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "users", required_argument, NULL, 'u' },
		{ "cores", required_argument, NULL, 'c' },
		{ "token-bytes", required_argument, NULL, 't' },
		{ 0, 0, 0, 0 },
	};
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': data = optarg; break;
		case 'u': users = strtoull(optarg, NULL, 10); break;
		case 'c': cores = (unsigned)atoi(optarg); break;
		case 't': token_bytes = (unsigned)atoi(optarg); break;
		default: return 2;
		}
	}
	if (!data || cores < 1 || cores > 8 || token_bytes < 1 || token_bytes > 512) {
		fprintf(stderr, "usage: gen_users --data DIR --users N [--cores 1..8] [--token-bytes 1..512]\n");
		return 2;
	}
	char path[4200];
	mkdir(data, 0755);
	const char *key_hex = "000102030405060708090a0b0c0d0e0f";
	struct base_hash_key key;
	uint8_t kb[16];
	for (int i = 0; i < 16; i++)
		kb[i] = (uint8_t)i;
	memcpy(&key.k0, kb, 8);
	memcpy(&key.k1, kb + 8, 8);
	snprintf(path, sizeof(path), "%s/herald.meta", data);
	FILE *f = fopen(path, "w");
	ALWAYS(f);
	fprintf(f, "herald-data-version 1\npartitions 1024\nhash-key %s\ncreated-unix-ms %llu\n", key_hex,
		(unsigned long long)time(NULL) * 1000ull);
	fclose(f);
	snprintf(path, sizeof(path), "%s/admin.secret", data);
	f = fopen(path, "w");
	ALWAYS(f);
	fprintf(f, "%064d\n", 0);
	fclose(f);
	chmod(path, 0600);

	static char logdir[4200];
	snprintf(logdir, sizeof(logdir), "%s/log", data);
	static struct iou_core core[8];
	static struct iou_core *cp[8];
	static struct sto_log log[8];
	static struct sto_log_cfg cfg;
	cfg.dir = logdir;
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
	}
	/* the app */
	struct sto_app app = { .id = "bench", .id_len = 5, .used = true, .secret_version = 1 };
	uint64_t lsn, loc;
	uint8_t *p = sto_log_append(&log[0], STO_REC_APP_PUT, STO_PARTITION_APPS, 1,
				    (uint32_t)sto_app_put_bytes(&app), 0, &lsn, &loc);
	sto_app_put_encode(0, &app, p);

	char id[64], token[520];
	static struct sto_user u;
	struct sto_device *dev = &u.devices[0];
	u.device_count = 1;
	u.next_device_id = 2;
	memset(token, 'a', token_bytes);
	static uint64_t seq[1024];
	for (unsigned long long i = 0; i < users; i++) {
		int n = snprintf(id, sizeof(id), "user-%llu", i);
		snprintf(token, sizeof(token), "%0*llx", (int)token_bytes, i);
		memset(dev, 0, sizeof(*dev));
		dev->id = 1;
		dev->channel = 1;
		dev->vendor = 3;
		dev->platform = 1;
		dev->bound_unix_ms = 1763780000000ull;
		dev->address.p = token;
		dev->address.len = (uint16_t)token_bytes;
		u.id.p = id;
		u.id.len = (uint16_t)n;
		uint64_t h = sto_user_hash(&key, 0, id, (size_t)n);
		uint32_t part = base_hash_reduce(h, 1024);
		u.partition = (uint16_t)part;
		struct sto_log *l = &log[part % cores];
		size_t bytes = sto_user_put_bytes(&u);
		while (sto_log_room(l, (uint32_t)bytes)) {
			sto_log_flush(l, 0);
			pump(l->io);
		}
		p = sto_log_append(l, STO_REC_USER_PUT, (uint16_t)part, ++seq[part], (uint32_t)bytes, 0, &lsn, &loc);
		sto_user_put_encode(&u, p);
		if ((i & 0xFFF) == 0)
			for (unsigned k = 0; k < cores; k++)
				sto_log_flush(&log[k], 0);
	}
	for (unsigned k = 0; k < cores; k++) {
		while (log[k].durable_lsn < log[k].lsn_base + log[k].buf_len) {
			sto_log_flush(&log[k], 0);
			pump(&core[k]);
		}
		sto_log_close(&log[k]);
	}
	printf("gen_users: %llu users with a %u-byte token in %s (%u cores' logs)\n", users, token_bytes, data, cores);
	return 0;
}
