/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fanout.c - campaigns on the engine: the wire operations (CAMPAIGN_CREATE,
 * CAMPAIGN_STATUS, CAMPAIGN_CONTROL, VENDOR_SET, VENDOR_LIST), their
 * records, and what the core gives fanout/run.c (struct fan_env): user
 * hashes, receipts, unbinding invalid tokens, progress, HTTP calls.
 *
 * Records (store/log.h):
 *   STO_REC_CAMPAIGN, partition STO_PARTITION_APPS, core 0's log:
 *     u64 id, u16 app_idx, u8 state, u64 created_unix_ms, CAMPAIGN_CREATE's body
 *   STO_REC_VENDOR, partition STO_PARTITION_APPS, core 0's log:
 *     u16 app_idx, VENDOR_SET's body
 *   STO_REC_PROGRESS, partition STO_PARTITION_FANOUT, each core's own log:
 *     u64 id, u16 core, u16 cores, u64 version, u64 done_below, u8 done,
 *     u8 n, n x u64 count (enum fan_count, of the windows below done_below)
 *   STO_REC_UPLOAD, partition STO_PARTITION_FANOUT, each core's own log: the
 *     rows of one CAMPAIGN_UPLOAD this core owns:
 *     u64 id, u16 core, u16 cores, u32 first_line, u32 rows, u8 closed,
 *     rows x (row text, LF)
 * Core 0 decides (ids, state changes) and logs; the decision then visits
 * every other core in turn, as the app directory does (net/ops.c).
 */
#include "net/fanout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/assert.h"
#include "base/log.h"
#include "net/http1.h"
#include "store/record.h"

static uint64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ---- what the pipeline asks of the core ---------------------------------------------------- */

static unsigned env_owner(void *ctx, uint16_t app, const char *id, size_t len, uint64_t *hash)
{
	struct net_core *nc = ctx;
	struct net_server *s = nc->srv;
	*hash = sto_user_hash(&s->cfg.hash_key, app, id, len);
	return net_partition_core(s, net_user_partition(s, *hash));
}

static int env_receipt(void *ctx, const struct sto_receipt *r, uint64_t *lsn)
{
	struct net_core *nc = ctx;
	int rc = sto_events_room(&nc->events, r);
	if (rc) {
		if (rc != -ENOBUFS && !nc->fan_store_warned) {
			nc->fan_store_warned = true;
			base_log(BASE_LOG_ERROR, "msg=\"fan-out: receipts cannot be written; campaigns wait\" err=%d", rc);
		}
		return -ENOBUFS; /* never lose one: the batch waits until the store takes it */
	}
	uint64_t l;
	sto_events_append(&nc->events, r, (uint16_t)net_user_partition(nc->srv, r->user_hash), &l);
	*lsn = l + 1;
	return 0;
}

static uint64_t env_events_durable(void *ctx)
{
	struct net_core *nc = ctx;
	return nc->evlog.durable_lsn;
}

/* Commit a changed user and log it (no request waits for it). */
static int store_user_now(struct net_core *nc, struct sto_user *u)
{
	uint64_t lsn, loc;
	if (sto_log_room(&nc->log, (uint32_t)sto_user_put_bytes(u) + 64))
		return -ENOBUFS;
	int rc = sto_user_commit(&nc->users, u);
	if (rc)
		return rc;
	size_t n = sto_user_put_bytes(u);
	uint8_t *p = sto_log_append(&nc->log, STO_REC_USER_PUT, u->partition, ++nc->part_seq[u->partition],
				    (uint32_t)n, u->loc, &lsn, &loc);
	sto_user_put_encode(u, p);
	sto_user_set_loc(&nc->users, u, loc);
	return 0;
}

static int env_invalid(void *ctx, uint16_t app, uint64_t hash, const char *uid, size_t uid_len,
		       uint32_t device_id, const char *token)
{
	struct net_core *nc = ctx;
	struct sto_user *u = sto_user_find(&nc->users, hash, app, uid, uid_len);
	if (!u)
		return 0;
	struct sto_device *d = sto_user_device(u, device_id);
	if (!d || d->state == HRL_DEVICE_INVALID || d->address.len != strlen(token) ||
	    memcmp(d->address.p, token, d->address.len))
		return 0; /* rebound or gone since the call */
	d->state = HRL_DEVICE_INVALID;
	int rc = store_user_now(nc, u);
	if (rc == 0)
		nc->fan_unbound++;
	return rc == -ENOBUFS ? -ENOBUFS : 0;
}

static int progress_append(struct net_core *nc, const struct fan_run *r, uint64_t *lsn)
{
	uint32_t n = 8 + 2 + 2 + 8 + 8 + 1 + 1 + 8 * FAN_C_COUNT;
	uint64_t loc;
	if (sto_log_room(&nc->log, n))
		return -ENOBUFS;
	uint8_t *p = sto_log_append(&nc->log, STO_REC_PROGRESS, STO_PARTITION_FANOUT, r->progress_version, n,
				    r->progress_loc, lsn, &loc);
	put64(p, r->id);
	put16(p + 8, (uint16_t)nc->id);
	put16(p + 10, (uint16_t)nc->srv->ncores);
	put64(p + 12, r->progress_version);
	put64(p + 20, r->done_below);
	p[28] = r->local_done;
	p[29] = FAN_C_COUNT;
	for (unsigned i = 0; i < FAN_C_COUNT; i++)
		put64(p + 30 + 8 * i, r->cnt_done[i]);
	((struct fan_run *)r)->progress_loc = loc;
	return 0;
}

/* Core 0 learns which cores are done with a campaign: CONTROL refuses to touch a done one. */
static void env_done(void *ctx, const struct fan_run *r)
{
	struct net_core *nc = ctx;
	if (nc->id == 0) {
		((struct fan_run *)r)->cores_done |= 1ull;
		return;
	}
	struct iou_msg m = { .kind = NET_MSG_FANOUT, .src_core = (uint16_t)nc->id, .arg64 = r->id };
	iou_send(&nc->io, 0, &m);
}

static int env_progress(void *ctx, const struct fan_run *r)
{
	uint64_t lsn;
	return progress_append(ctx, r, &lsn);
}

#define UPLOAD_HEAD 21u

static __thread uint8_t rows_buf[HRL_RECORD_BYTES_MAX];

static int env_read_rows(void *ctx, uint64_t loc, const char **text, size_t *len)
{
	struct net_core *nc = ctx;
	struct sto_rec_hdr h;
	int rc = sto_log_read_own(&nc->log, loc, &h, rows_buf, sizeof(rows_buf));
	if (rc || h.type != STO_REC_UPLOAD || h.len < UPLOAD_HEAD) {
		if (!nc->fan_store_warned) {
			nc->fan_store_warned = true;
			base_log(BASE_LOG_ERROR, "msg=\"fan-out: uploaded rows cannot be read back\" err=%d", rc);
		}
		return -EIO;
	}
	*text = (const char *)rows_buf + STO_REC_HEADER_BYTES + UPLOAD_HEAD;
	*len = h.len - UPLOAD_HEAD;
	return 0;
}

static __thread struct net_core *http_core; /* the core whose thread this is */

static void on_http_done(void *arg, int status, const char *body, size_t len)
{
	fan_batch_answer(&http_core->fan, arg, status, body, len);
}

static int env_send(void *ctx, struct fan_core *fc, struct fan_batch *b, const struct fan_vendor *v,
		    struct fan_link *lane, const void *req, size_t len)
{
	struct net_core *nc = ctx;
	http_core = nc;
	if (nc->draining)
		return -EBUSY; /* stopping: no new calls */
	unsigned ln = b->run->k.spec.lane;
	if (lane->pool[ln] && lane->pool_version[ln] != v->version) {
		net_http_pool_close(lane->pool[ln]);
		lane->pool[ln] = NULL;
	}
	if (!lane->pool[ln]) {
		unsigned conns = ln == FAN_LANE_TRANSACTIONAL ? FAN_TX_CONNS(v->connections) : v->connections;
		struct net_http_pool_cfg cfg = {
			.url = v->url,
			.max_conns = conns,
			.request_timeout_ms = 10000,
			.queue_max = 2u * conns,
		};
		struct net_http_pool *p;
		int rc = net_http_pool_init(&p, &nc->io, &cfg);
		if (rc) {
			base_log(BASE_LOG_WARN, "msg=\"fan-out: cannot reach the vendor\" url=%s err=%d", v->url, rc);
			return -EBUSY;
		}
		lane->pool[ln] = p;
		lane->pool_version[ln] = v->version;
	}
	return net_http_send(lane->pool[ln], req, len, on_http_done, b) ? -EBUSY : 0;
}

int net_fanout_init(struct net_core *nc)
{
	struct fan_env env = {
		.ctx = nc,
		.owner = env_owner,
		.receipt = env_receipt,
		.events_durable = env_events_durable,
		.invalid = env_invalid,
		.progress = env_progress,
		.done = env_done,
		.read_rows = env_read_rows,
		.send = nc->srv->cfg.fanout_null_sink ? NULL : env_send,
	};
	return fan_core_init(&nc->fan, &env, &nc->users, nc->id, nc->srv->ncores);
}

/*
 * A campaign starts on every core as soon as core 0 has logged it, not once
 * the record is durable (the answer still waits for that): the other cores
 * get the definition as a message (NET_MSG_FANOUT, ptr: a malloc'd struct
 * create_step, freed by the receiver); a later visit of the call finds it
 * installed. Should the record fail to become durable, core 0 cancels it
 * everywhere the same way (def_len 0, state CANCELLED).
 */
struct create_step {
	uint64_t id;
	uint64_t created_ms;
	uint16_t app;
	uint8_t state;
	uint32_t def_len;
	uint8_t def[];
};

static void on_fanout_msg(struct iou_core *io, const struct iou_msg *m)
{
	struct net_core *nc = net_core_of(io);
	if (!m->ptr) { /* core src_core is done with campaign arg64 (to core 0) */
		struct fan_run *r = fan_core_find(&nc->fan, m->arg64);
		if (r)
			r->cores_done |= 1ull << m->src_core;
		return;
	}
	struct create_step *cs = m->ptr;
	struct fan_run *r = fan_core_find(&nc->fan, cs->id);
	if (cs->def_len && !r) {
		int rc = fan_core_add(&nc->fan, cs->id, cs->app, FAN_RUNNING, cs->created_ms, cs->def, cs->def_len, 0, NULL);
		if (rc)
			base_log(BASE_LOG_ERROR, "msg=\"campaign not installed on this core\" campaign=%llu err=%d",
				 (unsigned long long)cs->id, rc);
	} else if (!cs->def_len && r) {
		fan_core_set_state(&nc->fan, r, cs->state);
	}
	free(cs);
}

static void announce(struct net_core *nc, const struct create_step *cs)
{
	for (unsigned c = 1; c < nc->srv->ncores; c++) {
		struct create_step *copy = malloc(sizeof(*cs) + cs->def_len);
		if (!copy)
			continue; /* the call's visit installs it a little later */
		memcpy(copy, cs, sizeof(*cs) + cs->def_len);
		struct iou_msg m = { .kind = NET_MSG_FANOUT, .src_core = (uint16_t)nc->id, .ptr = copy };
		iou_send(&nc->io, c, &m);
	}
}

void net_fanout_undo(struct net_core *nc, const struct sto_rec_hdr *h, const uint8_t *payload, uint64_t prev_loc)
{
	if (h->type != STO_REC_CAMPAIGN || h->len < 8 || prev_loc)
		return;
	/* a campaign whose creation did not become durable: the client got an error; stop it */
	struct fan_run *r = fan_core_find(&nc->fan, get64(payload));
	if (!r)
		return;
	fan_core_set_state(&nc->fan, r, FAN_CANCELLED);
	struct create_step cs = { .id = r->id, .state = FAN_CANCELLED };
	announce(nc, &cs);
	base_log(BASE_LOG_WARN, "msg=\"campaign cancelled: its record could not be written\" campaign=%llu",
		 (unsigned long long)r->id);
}

void net_fanout_thread_start(struct net_core *nc)
{
	http_core = nc;
	net_http_register(&nc->io);
	nc->io.msg_handlers[NET_MSG_FANOUT] = on_fanout_msg;
}

bool net_fanout_poll(struct net_core *nc)
{
	return fan_core_poll(&nc->fan, nc->io.now_ms);
}

void net_fanout_tick(struct net_core *nc)
{
	for (unsigned a = 0; a < HRL_APPS_MAX; a++)
		if (nc->fan.links[a])
			for (unsigned t = 0; t < FAN_TARGET_COUNT; t++)
				for (unsigned ln = 0; ln < 2; ln++)
					if (nc->fan.links[a][t].pool[ln])
						net_http_tick(nc->fan.links[a][t].pool[ln]);
}

void net_fanout_free(struct net_core *nc)
{
	for (unsigned a = 0; a < HRL_APPS_MAX; a++)
		if (nc->fan.links[a])
			for (unsigned t = 0; t < FAN_TARGET_COUNT; t++)
				for (unsigned ln = 0; ln < 2; ln++)
					if (nc->fan.links[a][t].pool[ln]) {
						net_http_pool_close(nc->fan.links[a][t].pool[ln]);
						nc->fan.links[a][t].pool[ln] = NULL;
					}
}

void net_fanout_free_state(struct net_core *nc)
{
	fan_core_free(&nc->fan);
}

/* ---- records --------------------------------------------------------------------------------- */

#define CAMPAIGN_HEAD 19u

static bool campaign_append(struct net_core *nc, struct fan_run *r, uint64_t *lsn)
{
	uint32_t n = CAMPAIGN_HEAD + r->k.def_len;
	uint64_t loc;
	if (sto_log_room(&nc->log, n))
		return false;
	uint8_t *p = sto_log_append(&nc->log, STO_REC_CAMPAIGN, STO_PARTITION_APPS, ++nc->apps_seq, n, r->def_loc,
				    lsn, &loc);
	put64(p, r->id);
	put16(p + 8, r->app_idx);
	p[10] = r->state;
	put64(p + 11, r->created_ms);
	memcpy(p + CAMPAIGN_HEAD, r->k.def, r->k.def_len);
	r->def_loc = loc;
	return true;
}

static bool vendor_append(struct net_core *nc, uint16_t app, struct fan_vendor *v, uint64_t *lsn)
{
	uint32_t n = 2 + (uint32_t)fan_vendor_bytes(v);
	uint64_t loc;
	if (sto_log_room(&nc->log, n))
		return false;
	uint8_t *p = sto_log_append(&nc->log, STO_REC_VENDOR, STO_PARTITION_APPS, ++nc->apps_seq, n, v->loc, lsn,
				    &loc);
	put16(p, app);
	fan_vendor_encode(v, p + 2);
	v->loc = loc;
	return true;
}

bool net_fanout_compact(struct net_core *nc, bool (*obsolete)(struct net_core *, uint64_t), uint64_t *last_lsn)
{
	uint64_t lsn;
	for (uint32_t i = 0; i < nc->fan.run_count; i++) {
		struct fan_run *r = nc->fan.runs[i];
		if (nc->id == 0 && obsolete(nc, r->def_loc)) {
			if (!campaign_append(nc, r, &lsn))
				return false;
			*last_lsn = lsn + 1;
		}
		if (obsolete(nc, r->progress_loc)) {
			r->progress_version++;
			if (progress_append(nc, r, &lsn)) {
				r->progress_version--;
				return false;
			}
			*last_lsn = lsn + 1;
		}
	}
	if (nc->id == 0)
		for (unsigned a = 0; a < HRL_APPS_MAX; a++)
			for (unsigned t = 0; nc->fan.vendors[a] && t < FAN_TARGET_COUNT; t++) {
				struct fan_vendor *v = &nc->fan.vendors[a][t];
				if (v->used && obsolete(nc, v->loc)) {
					if (!vendor_append(nc, (uint16_t)a, v, &lsn))
						return false;
					*last_lsn = lsn + 1;
				}
			}
	return true;
}

/* ---- recovery -------------------------------------------------------------------------------- */

struct fan_rec {
	uint8_t type;
	uint64_t seq;
	uint64_t loc;
	uint32_t len;
	uint8_t *payload;
};

static struct fan_rec *recs;
static size_t rec_count, rec_cap;
static bool recs_oom;

void net_fanout_recover_record(const struct sto_rec_hdr *h, const uint8_t *payload, uint64_t loc)
{
	if (rec_count == rec_cap) {
		size_t cap = rec_cap ? rec_cap * 2 : 256;
		struct fan_rec *n = realloc(recs, cap * sizeof(*recs));
		if (!n) {
			recs_oom = true;
			return;
		}
		recs = n;
		rec_cap = cap;
	}
	uint8_t *copy = malloc(h->len ? h->len : 1);
	if (!copy) {
		recs_oom = true;
		return;
	}
	memcpy(copy, payload, h->len);
	recs[rec_count++] = (struct fan_rec){ h->type, h->seq, loc, h->len, copy };
}

static int by_seq(const void *a, const void *b)
{
	const struct fan_rec *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int net_fanout_recover(struct net_server *s)
{
	int rc = recs_oom ? -ENOMEM : 0;
	/* core 0's records in the order written (the APPS partition's sequence) */
	if (rec_count) /* qsort's array must not be NULL */
		qsort(recs, rec_count, sizeof(*recs), by_seq);
	uint64_t max_id = 0;
	for (size_t i = 0; i < rec_count && !rc; i++) {
		struct fan_rec *f = &recs[i];
		if (f->type == STO_REC_VENDOR && f->len >= 2) {
			struct fan_vendor v;
			char why[FAN_WHY_BYTES_MAX];
			uint16_t app = get16(f->payload);
			if (app >= HRL_APPS_MAX || fan_vendor_decode(f->payload + 2, f->len - 2, &v, why)) {
				base_log(BASE_LOG_ERROR, "msg=\"store: a vendor record does not decode\" why=\"%s\"", why);
				continue;
			}
			v.loc = f->loc;
			for (unsigned c = 0; c < s->ncores && !rc; c++)
				rc = fan_core_vendor_set(&s->cores[c]->fan, app, &v);
			if (s->cores[0]->fan.vendors[app])
				s->cores[0]->fan.vendors[app][v.target].loc = f->loc;
		} else if (f->type == STO_REC_CAMPAIGN && f->len >= CAMPAIGN_HEAD) {
			uint64_t id = get64(f->payload);
			uint16_t app = get16(f->payload + 8);
			uint8_t state = f->payload[10];
			uint64_t created = get64(f->payload + 11);
			if (id > max_id)
				max_id = id;
			for (unsigned c = 0; c < s->ncores && !rc; c++) {
				struct fan_run *r = fan_core_find(&s->cores[c]->fan, id);
				if (r) {
					r->state = state;
				} else {
					int e = fan_core_add(&s->cores[c]->fan, id, app, state, created,
							     f->payload + CAMPAIGN_HEAD, f->len - CAMPAIGN_HEAD, 0, NULL);
					if (e == -ENOMEM)
						rc = e;
					else if (e)
						base_log(BASE_LOG_ERROR, "msg=\"store: a campaign record does not compile\" campaign=%llu err=%d",
							 (unsigned long long)id, e);
				}
				if (c == 0 && (r = fan_core_find(&s->cores[0]->fan, id)))
					r->def_loc = f->loc;
			}
		}
	}
	s->cores[0]->fan_next_id = max_id + 1;
	/* uploaded rows: each core keeps what it wrote; under another core count every core reads every
	   part and takes the rows it owns now */
	for (size_t i = 0; i < rec_count && !rc; i++) {
		struct fan_rec *f = &recs[i];
		if (f->type != STO_REC_UPLOAD || f->len < UPLOAD_HEAD)
			continue;
		uint64_t id = get64(f->payload);
		uint16_t core = get16(f->payload + 8), cores = get16(f->payload + 10);
		uint32_t first_line = get32(f->payload + 12), rows = get32(f->payload + 16);
		bool closed = f->payload[20] != 0;
		for (unsigned c = 0; c < s->ncores && !rc; c++) {
			if (cores == s->ncores && c != core)
				continue;
			struct fan_run *r = fan_core_find(&s->cores[c]->fan, id);
			if (!r)
				continue;
			if (rows)
				rc = fan_run_add_chunk(r, f->loc, rows, first_line);
			if (closed)
				fan_run_close_upload(r);
		}
	}
	/* progress: the newest of each (campaign, core) */
	for (size_t i = 0; i < rec_count && !rc; i++) {
		struct fan_rec *f = &recs[i];
		if (f->type != STO_REC_PROGRESS || f->len < 30)
			continue;
		uint64_t id = get64(f->payload);
		uint16_t core = get16(f->payload + 8), cores = get16(f->payload + 10);
		uint64_t version = get64(f->payload + 12), done_below = get64(f->payload + 20);
		unsigned n = f->payload[29];
		if (f->len < 30 + 8u * n)
			continue;
		if (cores != s->ncores) {
			/* written under another core count: the partitions moved, start the campaign over on every
			   core (what was sent is in the receipts: counted as resent) */
			continue;
		}
		if (core >= s->ncores)
			continue;
		struct fan_run *r = fan_core_find(&s->cores[core]->fan, id);
		if (!r || version < r->progress_version)
			continue;
		r->progress_version = version;
		r->progress_loc = f->loc;
		r->done_below = r->next = done_below;
		r->local_done = f->payload[28] != 0;
		if (r->local_done) {
			struct fan_run *r0 = fan_core_find(&s->cores[0]->fan, id);
			if (r0)
				r0->cores_done |= 1ull << core;
		}
		r->list_pos = 0;
		if (r->k.spec.audience == FAN_AUD_LIST)
			for (uint64_t k = 0; k < done_below && k < r->k.spec.list_count; k++)
				fan_spec_list_next(&r->k.spec, &r->list_pos);
		for (unsigned c = 0; c < n && c < FAN_C_COUNT; c++)
			r->cnt[c] = r->cnt_done[c] = get64(f->payload + 30 + 8 * c);
	}
	/* resent: receipts of a campaign beyond the cursors will come again */
	for (uint32_t i = 0; i < s->cores[0]->fan.run_count; i++) {
		struct fan_run *r0 = s->cores[0]->fan.runs[i];
		uint64_t receipted = 0, below = 0;
		for (unsigned ch = 1; ch < HRL_CH_COUNT; ch++)
			for (unsigned st = HRL_STATE_SENT; st <= HRL_STATE_FAILED; st += HRL_STATE_FAILED - HRL_STATE_SENT)
				receipted += sto_counters_get(&s->counters_base, r0->app_idx, r0->id, (uint8_t)ch, (uint8_t)st);
		for (unsigned c = 0; c < s->ncores; c++) {
			struct fan_run *r = fan_core_find(&s->cores[c]->fan, r0->id);
			if (r)
				below += r->cnt_done[FAN_C_SENT] + r->cnt_done[FAN_C_FAILED] + r->cnt_done[FAN_C_INVALID];
		}
		if (receipted > below) {
			r0->cnt[FAN_C_RESENT] = r0->cnt_done[FAN_C_RESENT] = receipted - below;
			base_log(BASE_LOG_INFO, "msg=\"campaign resumes\" campaign=%llu resent=%llu",
				 (unsigned long long)r0->id, (unsigned long long)(receipted - below));
		}
	}
	for (size_t i = 0; i < rec_count; i++)
		free(recs[i].payload);
	free(recs);
	recs = NULL;
	rec_count = rec_cap = 0;
	return rc;
}

/* ---- operations ------------------------------------------------------------------------------ */

static void create_visit(struct net_ctx *x)
{
	struct net_core *nc = x->nc;
	const struct create_step *cs = (const struct create_step *)base_buf_head(&x->call->scratch);
	if (nc->id != 0) {
		int rc = fan_core_add(&nc->fan, cs->id, cs->app, FAN_RUNNING, cs->created_ms, cs->def, cs->def_len, 0, NULL);
		if (rc && rc != -EEXIST)
			base_log(BASE_LOG_ERROR, "msg=\"campaign not installed on this core\" campaign=%llu err=%d",
				 (unsigned long long)cs->id, rc);
	}
	if (nc->id + 1 < nc->srv->ncores)
		x->next_core = (int)nc->id + 1;
}

void net_op_campaign_create(struct net_ctx *x)
{
	struct net_core *nc = x->nc;
	struct net_call *call = x->call;
	if (call->step > 0) {
		create_visit(x);
		return;
	}
	ALWAYS(nc->id == 0);
	struct fan_spec spec;
	char why[FAN_WHY_BYTES_MAX];
	int rc = fan_spec_decode(x->body, x->body_len, &spec, why);
	if (rc) {
		net_ctx_error(x, rc == -ENOMEM ? HRL_E_INTERNAL : HRL_E_INVALID_ARGUMENT, why);
		return;
	}
	if (!fan_core_room(&nc->fan)) {
		net_ctx_error(x, HRL_E_LIMIT_EXCEEDED, "the engine holds 4096 campaigns at most (finished ones are forgotten 10 minutes after their creation)");
		return;
	}
	if (sto_log_room(&nc->log, CAMPAIGN_HEAD + x->body_len)) {
		if (nc->log.inflight_len || nc->log.buf_len != nc->log.flushed_len) {
			x->retry = true;
			return;
		}
		net_ctx_error(x, HRL_E_STORE, "the store cannot write (I/O error); nothing was created");
		return;
	}
	if (!nc->fan_next_id)
		nc->fan_next_id = 1;
	uint64_t id = nc->fan_next_id, created = unix_ms();
	rc = fan_core_add(&nc->fan, id, x->app_idx, FAN_RUNNING, created, x->body, x->body_len, 0, NULL);
	if (rc) {
		net_ctx_error(x, rc == -ENOSPC ? HRL_E_LIMIT_EXCEEDED : HRL_E_INTERNAL,
			      rc == -ENOSPC ? "the engine holds 4096 campaigns at most" : "out of memory");
		return;
	}
	struct create_step cs = { .id = id, .created_ms = created, .app = x->app_idx, .state = FAN_RUNNING,
				  .def_len = x->body_len };
	if (base_buf_append(&call->scratch, &cs, sizeof(cs)) ||
	    base_buf_append(&call->scratch, x->body, x->body_len)) {
		fan_core_set_state(&nc->fan, fan_core_find(&nc->fan, id), FAN_CANCELLED);
		net_ctx_error(x, HRL_E_INTERNAL, "out of memory");
		return;
	}
	announce(nc, (const struct create_step *)base_buf_head(&call->scratch));
	nc->fan_next_id++;
	struct fan_run *r = fan_core_find(&nc->fan, id);
	uint64_t lsn;
	ALWAYS(campaign_append(nc, r, &lsn));
	x->wait_lsn = lsn + 1;
	base_log(BASE_LOG_INFO, "msg=\"campaign created\" campaign=%llu app=%u audience=%u",
		 (unsigned long long)id, x->app_idx, spec.audience);
	struct net_wr w;
	net_ctx_begin(x, &w);
	net_wr_u64(&w, id);
	net_ctx_end(x, &w);
	create_visit(x);
}

struct status_step {
	uint64_t id;
	struct fan_status st;
};

void net_op_campaign_status(struct net_ctx *x)
{
	struct net_core *nc = x->nc;
	struct net_call *call = x->call;
	if (call->step == 0) {
		struct status_step z;
		memset(&z, 0, sizeof(z));
		if (x->body_len != 8) {
			net_ctx_error(x, HRL_E_INVALID_ARGUMENT, "the body is a u64 campaign_id (8 bytes)");
			return;
		}
		z.id = get64(x->body);
		if (base_buf_append(&call->scratch, &z, sizeof(z))) {
			net_ctx_error(x, HRL_E_INTERNAL, "out of memory");
			return;
		}
	}
	struct status_step *ss = (struct status_step *)base_buf_head(&call->scratch);
	struct fan_run *r = fan_core_find(&nc->fan, ss->id);
	if (!r || r->app_idx != x->app_idx) {
		net_ctx_error(x, HRL_E_NOT_FOUND, "no such campaign");
		return;
	}
	fan_core_status(&nc->fan, r, &ss->st);
	if (nc->id + 1 < nc->srv->ncores) {
		x->next_core = (int)nc->id + 1;
		return;
	}
	const struct fan_status *st = &ss->st;
	uint8_t state = st->state;
	if (state == FAN_RUNNING && st->cores_done == st->cores)
		state = FAN_DONE;
	struct net_wr w;
	net_ctx_begin(x, &w);
	net_wr_u8(&w, state);
	net_wr_u8(&w, st->audience);
	net_wr_u8(&w, st->lane);
	net_wr_u8(&w, 0);
	net_wr_u64(&w, st->created_ms);
	static const uint8_t order[] = { FAN_C_SCANNED, FAN_C_RECIPIENTS, FAN_C_QUEUED,   FAN_C_SENT,
					 FAN_C_FAILED,  FAN_C_INVALID,    FAN_C_NO_ADDRESS, FAN_C_RESENT,
					 FAN_C_CALLS };
	for (unsigned i = 0; i < sizeof(order); i++)
		net_wr_u64(&w, st->cnt[order[i]]);
	net_wr_u64(&w, st->first_call_us);
	net_wr_u32(&w, (uint32_t)(st->progress_ppm_sum / (st->cores ? st->cores : 1)));
	net_wr_u32(&w, st->inflight);
	net_ctx_end(x, &w);
}

struct control_step {
	uint64_t id;
	uint8_t state;
};

void net_op_campaign_control(struct net_ctx *x)
{
	struct net_core *nc = x->nc;
	struct net_call *call = x->call;
	if (call->step > 0) {
		const struct control_step *cs = (const struct control_step *)base_buf_head(&call->scratch);
		struct fan_run *r = fan_core_find(&nc->fan, cs->id);
		if (r)
			fan_core_set_state(&nc->fan, r, cs->state);
		if (nc->id + 1 < nc->srv->ncores)
			x->next_core = (int)nc->id + 1;
		return;
	}
	ALWAYS(nc->id == 0);
	if (x->body_len != 9) {
		net_ctx_error(x, HRL_E_INVALID_ARGUMENT, "the body is u64 campaign_id, u8 action (9 bytes)");
		return;
	}
	uint64_t id = get64(x->body);
	uint8_t action = x->body[8];
	struct fan_run *r = fan_core_find(&nc->fan, id);
	if (!r || r->app_idx != x->app_idx) {
		net_ctx_error(x, HRL_E_NOT_FOUND, "no such campaign");
		return;
	}
	if (action < FAN_ACT_PAUSE || action > FAN_ACT_CANCEL) {
		net_ctx_error(x, HRL_E_INVALID_ARGUMENT, "action must be 1 (pause), 2 (resume) or 3 (cancel)");
		return;
	}
	if (r->state == FAN_CANCELLED) {
		net_ctx_error(x, HRL_E_INVALID_ARGUMENT, "campaign is cancelled");
		return;
	}
	uint64_t all = nc->srv->ncores >= 64 ? ~0ull : (1ull << nc->srv->ncores) - 1;
	if ((r->cores_done & all) == all) {
		net_ctx_error(x, HRL_E_INVALID_ARGUMENT, "campaign is done");
		return;
	}
	uint8_t state = action == FAN_ACT_PAUSE ? FAN_PAUSED : action == FAN_ACT_RESUME ? FAN_RUNNING : FAN_CANCELLED;
	if (sto_log_room(&nc->log, CAMPAIGN_HEAD + r->k.def_len)) {
		if (nc->log.inflight_len || nc->log.buf_len != nc->log.flushed_len) {
			x->retry = true;
			return;
		}
		net_ctx_error(x, HRL_E_STORE, "the store cannot write (I/O error); nothing was changed");
		return;
	}
	struct control_step cs = { id, state };
	if (base_buf_append(&call->scratch, &cs, sizeof(cs))) {
		net_ctx_error(x, HRL_E_INTERNAL, "out of memory");
		return;
	}
	fan_core_set_state(&nc->fan, r, state);
	uint64_t lsn;
	ALWAYS(campaign_append(nc, r, &lsn));
	x->wait_lsn = lsn + 1;
	base_log(BASE_LOG_INFO, "msg=\"campaign state\" campaign=%llu state=%u", (unsigned long long)id, state);
	struct net_wr w;
	net_ctx_begin(x, &w);
	net_wr_u8(&w, state);
	net_ctx_end(x, &w);
	if (nc->id + 1 < nc->srv->ncores)
		x->next_core = 1;
}

struct vendor_step {
	uint16_t app;
	struct fan_vendor v;
};

void net_op_vendor_set(struct net_ctx *x)
{
	struct net_core *nc = x->nc;
	struct net_call *call = x->call;
	if (call->step > 0) {
		const struct vendor_step *vs = (const struct vendor_step *)base_buf_head(&call->scratch);
		struct fan_vendor v = vs->v;
		v.loc = 0;
		if (fan_core_vendor_set(&nc->fan, vs->app, &v))
			base_log(BASE_LOG_ERROR, "msg=\"vendor setting not applied on this core: out of memory\"");
		if (nc->id + 1 < nc->srv->ncores)
			x->next_core = (int)nc->id + 1;
		return;
	}
	ALWAYS(nc->id == 0);
	struct vendor_step vs;
	char why[FAN_WHY_BYTES_MAX];
	if (fan_vendor_decode(x->body, x->body_len, &vs.v, why)) {
		net_ctx_error(x, HRL_E_INVALID_ARGUMENT, why);
		return;
	}
	vs.app = x->app_idx;
	if (sto_log_room(&nc->log, 2 + x->body_len)) {
		if (nc->log.inflight_len || nc->log.buf_len != nc->log.flushed_len) {
			x->retry = true;
			return;
		}
		net_ctx_error(x, HRL_E_STORE, "the store cannot write (I/O error); nothing was changed");
		return;
	}
	if (fan_core_vendor_set(&nc->fan, vs.app, &vs.v) || base_buf_append(&call->scratch, &vs, sizeof(vs))) {
		net_ctx_error(x, HRL_E_INTERNAL, "out of memory");
		return;
	}
	uint64_t lsn;
	ALWAYS(vendor_append(nc, vs.app, &nc->fan.vendors[vs.app][vs.v.target], &lsn));
	x->wait_lsn = lsn + 1;
	struct net_wr w;
	net_ctx_begin(x, &w);
	net_ctx_end(x, &w);
	if (nc->id + 1 < nc->srv->ncores)
		x->next_core = 1;
}

void net_op_vendor_list(struct net_ctx *x)
{
	struct net_core *nc = x->nc;
	if (x->body_len) {
		net_ctx_error(x, HRL_E_INVALID_ARGUMENT, "the body is empty");
		return;
	}
	uint8_t n = 0;
	for (unsigned t = 1; t < FAN_TARGET_COUNT; t++)
		n += fan_core_vendor(&nc->fan, x->app_idx, t) != NULL;
	struct net_wr w;
	net_ctx_begin(x, &w);
	net_wr_u8(&w, n);
	for (unsigned t = 1; t < FAN_TARGET_COUNT; t++) {
		const struct fan_vendor *v = fan_core_vendor(&nc->fan, x->app_idx, t);
		if (!v)
			continue;
		net_wr_u8(&w, (uint8_t)t);
		net_wr_str(&w, v->url, strlen(v->url));
		net_wr_u16(&w, v->batch_max);
		net_wr_u16(&w, v->connections);
		net_wr_u32(&w, v->rate_per_s);
		net_wr_u32(&w, v->daily_quota);
	}
	net_ctx_end(x, &w);
}

/* ---- uploads --------------------------------------------------------------------------------- */

#define UPLOAD_FIXED   13u                   /* u64 campaign_id, u32 first_line, u8 last */
#define UPLOAD_REPORTS 100u                  /* rejected rows named in the answer */

struct upload_step {
	uint64_t id;
	uint32_t first_line;
	uint8_t last;
	uint32_t accepted, rejected;
	uint16_t reported;
	struct {
		uint32_t line;
		const char *why;
	} rep[UPLOAD_REPORTS];
};

/* Append this core's rows of the chunk as one record. */
static int upload_append(struct net_core *nc, struct fan_run *r, const struct upload_step *us, const uint8_t *rows,
			 size_t len, uint64_t *lsn)
{
	const struct fan_spec *spec = &r->k.spec;
	struct net_server *s = nc->srv;
	/* pass 1: what goes here, and how many bytes */
	size_t bytes = 0;
	uint32_t mine = 0;
	struct sto_bytes f[1 + FAN_COLUMNS_MAX];
	unsigned nf;
	for (size_t at = 0; at < len;) {
		const char *row = (const char *)rows + at;
		size_t l = 0;
		while (at + l < len && row[l] != '\n')
			l++;
		at += l + 1;
		if (!l && at >= len)
			break;
		uint64_t h;
		if (fan_row_split(spec, row, l, f, &nf) ||
		    env_owner(nc, r->app_idx, f[0].p, f[0].len, &h) != nc->id)
			continue;
		bytes += l + 1;
		mine++;
	}
	if (!mine && !us->last)
		return 0;
	uint32_t n = UPLOAD_HEAD + (uint32_t)bytes;
	if (n + STO_REC_HEADER_BYTES > HRL_RECORD_BYTES_MAX)
		return -EMSGSIZE;
	if (sto_log_room(&nc->log, n))
		return -ENOBUFS;
	uint64_t loc;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t seq = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	uint8_t *p = sto_log_append(&nc->log, STO_REC_UPLOAD, STO_PARTITION_FANOUT, seq, n, 0, lsn, &loc);
	put64(p, r->id);
	put16(p + 8, (uint16_t)nc->id);
	put16(p + 10, (uint16_t)s->ncores);
	put32(p + 12, us->first_line);
	put32(p + 16, mine);
	p[20] = us->last;
	uint8_t *o = p + UPLOAD_HEAD;
	for (size_t at = 0; at < len;) { /* pass 2: copy them */
		const char *row = (const char *)rows + at;
		size_t l = 0;
		while (at + l < len && row[l] != '\n')
			l++;
		at += l + 1;
		if (!l && at >= len)
			break;
		uint64_t h;
		if (fan_row_split(spec, row, l, f, &nf) ||
		    env_owner(nc, r->app_idx, f[0].p, f[0].len, &h) != nc->id)
			continue;
		memcpy(o, row, l);
		o[l] = '\n';
		o += l + 1;
	}
	if (mine && fan_run_add_chunk(r, loc, mine, us->first_line))
		base_log(BASE_LOG_ERROR, "msg=\"upload: out of memory tracking a chunk; it is sent after a restart\"");
	if (us->last)
		fan_run_close_upload(r);
	return 0;
}

void net_op_campaign_upload(struct net_ctx *x)
{
	struct net_core *nc = x->nc;
	struct net_call *call = x->call;
	if (call->step == 0) {
		if (x->body_len < UPLOAD_FIXED) {
			net_ctx_error(x, HRL_E_INVALID_ARGUMENT,
				      "the body is u64 campaign_id, u32 first_line, u8 last, then the rows");
			return;
		}
		struct upload_step us;
		memset(&us, 0, sizeof(us));
		us.id = get64(x->body);
		us.first_line = get32(x->body + 8);
		us.last = x->body[12];
		struct fan_run *r = fan_core_find(&nc->fan, us.id);
		if (!r || r->app_idx != x->app_idx) {
			net_ctx_error(x, HRL_E_NOT_FOUND, "no such campaign");
			return;
		}
		if (r->k.spec.audience != FAN_AUD_UPLOAD) {
			net_ctx_error(x, HRL_E_INVALID_ARGUMENT, "the campaign's audience is not an upload");
			return;
		}
		if (us.last > 1) {
			net_ctx_error(x, HRL_E_INVALID_ARGUMENT, "last must be 0 or 1");
			return;
		}
		if (r->upload_closed || r->state == FAN_CANCELLED) {
			net_ctx_error(x, HRL_E_INVALID_ARGUMENT,
				      r->upload_closed ? "the upload is closed" : "campaign is cancelled");
			return;
		}
		if (x->body_len - UPLOAD_FIXED > FAN_UPLOAD_BYTES_MAX) {
			net_ctx_error(x, HRL_E_LIMIT_EXCEEDED, "a chunk carries at most 448 KiB of rows");
			return;
		}
		/* check every row: the broken ones are reported by line, the others go on */
		const uint8_t *rows = x->body + UPLOAD_FIXED;
		size_t len = x->body_len - UPLOAD_FIXED;
		uint32_t line = us.first_line;
		struct sto_bytes f[1 + FAN_COLUMNS_MAX];
		unsigned nf;
		for (size_t at = 0; at < len; line++) {
			const char *row = (const char *)rows + at;
			size_t l = 0;
			while (at + l < len && row[l] != '\n')
				l++;
			at += l + 1;
			if (!l && at >= len)
				break;
			const char *why = l ? fan_row_split(&r->k.spec, row, l, f, &nf) : "empty row";
			if (!why) {
				us.accepted++;
				continue;
			}
			us.rejected++;
			if (us.reported < UPLOAD_REPORTS) {
				us.rep[us.reported].line = line;
				us.rep[us.reported].why = why;
				us.reported++;
			}
		}
		if (base_buf_append(&call->scratch, &us, sizeof(us))) {
			net_ctx_error(x, HRL_E_INTERNAL, "out of memory");
			return;
		}
	}
	struct upload_step *us = (struct upload_step *)base_buf_head(&call->scratch);
	struct fan_run *r = fan_core_find(&nc->fan, us->id);
	if (r) {
		uint64_t lsn = 0;
		int rc = upload_append(nc, r, us, x->body + UPLOAD_FIXED, x->body_len - UPLOAD_FIXED, &lsn);
		if (rc == -ENOBUFS && (nc->log.inflight_len || nc->log.buf_len != nc->log.flushed_len)) {
			x->retry = true;
			return;
		}
		if (rc) {
			net_ctx_error(x, rc == -EMSGSIZE ? HRL_E_LIMIT_EXCEEDED : HRL_E_STORE,
				      rc == -EMSGSIZE ? "this core's rows of the chunk do not fit one record"
						      : "the store cannot write (I/O error); rows of this chunk may be missing");
			return;
		}
		if (lsn)
			x->wait_lsn = lsn + 1;
	}
	if (nc->id + 1 < nc->srv->ncores) {
		x->next_core = (int)nc->id + 1;
		return;
	}
	struct net_wr w;
	net_ctx_begin(x, &w);
	net_wr_u32(&w, us->accepted);
	net_wr_u32(&w, us->rejected);
	net_wr_u16(&w, us->reported);
	for (unsigned i = 0; i < us->reported; i++) {
		net_wr_u32(&w, us->rep[i].line);
		net_wr_str(&w, us->rep[i].why, strlen(us->rep[i].why));
	}
	net_ctx_end(x, &w);
}
