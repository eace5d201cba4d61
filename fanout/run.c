/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run.c - see run.h.
 */
#include "fanout/run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/htab32.h"
#include "include/herald_proto.h"

#define HRL_DEVICE_STATE_ACTIVE 0u

static uint64_t realtime_us(void);

/* ---- batches ------------------------------------------------------------------------------ */

static struct fan_batch *batch_get(struct fan_core *fc, struct fan_run *r, uint8_t target)
{
	struct fan_batch *b = fc->free;
	if (b) {
		fc->free = b->next;
	} else {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
	}
	char *str = b->str;
	uint32_t cap = b->str_cap;
	memset(b, 0, offsetof(struct fan_batch, out));
	b->str = str;
	b->str_cap = cap;
	b->run = r;
	b->target = target;
	b->state = FAN_B_FILLING;
	b->first_ms = fc->now_ms;
	b->call_id = ++fc->batch_seq;
	fc->batches_out++;
	r->batches_out++;
	return b;
}

static void batch_put(struct fan_core *fc, struct fan_batch *b)
{
	fc->batches_out--;
	b->run->batches_out--;
	if (b->str_cap > (256u << 10)) { /* a big one (long tokens): give it back */
		free(b->str);
		b->str = NULL;
		b->str_cap = 0;
	}
	b->next = fc->free;
	fc->free = b;
}

/* Append s[0..len) and a NUL to the batch's strings; offset or -1 (no memory). */
static int64_t batch_str(struct fan_batch *b, const char *s, size_t len)
{
	if (b->str_len + len + 1 > b->str_cap) {
		size_t cap = b->str_cap ? b->str_cap : 16384;
		while (cap < b->str_len + len + 1)
			cap *= 2;
		char *p = realloc(b->str, cap);
		if (!p)
			return -1;
		b->str = p;
		b->str_cap = (uint32_t)cap;
	}
	uint32_t off = b->str_len;
	memcpy(b->str + off, s, len);
	b->str[off + len] = 0;
	b->str_len += (uint32_t)len + 1;
	return off;
}

static void ready_push(struct fan_core *fc, struct fan_batch *b)
{
	b->state = FAN_B_READY;
	b->next = NULL;
	if (b->run->k.spec.lane == FAN_LANE_TRANSACTIONAL) { /* ahead of the bulk */
		b->next = fc->ready;
		fc->ready = b;
		if (!fc->ready_tail)
			fc->ready_tail = b;
		return;
	}
	if (fc->ready_tail)
		fc->ready_tail->next = b;
	else
		fc->ready = b;
	fc->ready_tail = b;
}

static void answered_push(struct fan_core *fc, struct fan_batch *b)
{
	b->state = FAN_B_ANSWERED;
	b->next = fc->answered;
	fc->answered = b;
}

static void flush_filling(struct fan_core *fc, struct fan_run *r, unsigned t)
{
	struct fan_batch *b = r->filling[t];
	if (!b)
		return;
	r->filling[t] = NULL;
	ready_push(fc, b);
}

/* ---- campaigns ---------------------------------------------------------------------------- */

int fan_core_init(struct fan_core *fc, const struct fan_env *env, struct sto_users *users, unsigned core,
		  unsigned ncores)
{
	memset(fc, 0, sizeof(*fc));
	fc->env = *env;
	fc->users = users;
	fc->core = core;
	fc->ncores = ncores;
	fc->boot_ms = realtime_us() / 1000;
	fc->runs = calloc(FAN_CAMPAIGNS_MAX, sizeof(*fc->runs));
	fc->req_cap = 1u << 20;
	fc->req_buf = malloc(fc->req_cap);
	if (!fc->runs || !fc->req_buf) {
		free(fc->runs);
		free(fc->req_buf);
		return -ENOMEM;
	}
	return 0;
}

static void run_free(struct fan_run *r)
{
	free(r->chunks);
	fan_compiled_free(&r->k);
	free(r->title);
	free(r->body);
	free(r);
}

void fan_core_free(struct fan_core *fc)
{
	struct fan_batch *lists[] = { fc->ready, fc->answered, fc->waiting, fc->free };
	for (unsigned i = 0; i < 4; i++)
		for (struct fan_batch *b = lists[i], *n; b; b = n) {
			n = b->next;
			free(b->str);
			free(b);
		}
	for (uint32_t i = 0; i < fc->run_count; i++) {
		for (unsigned t = 0; t < FAN_TARGET_COUNT; t++)
			if (fc->runs[i]->filling[t]) {
				free(fc->runs[i]->filling[t]->str);
				free(fc->runs[i]->filling[t]);
			}
		run_free(fc->runs[i]);
	}
	for (unsigned a = 0; a < HRL_APPS_MAX; a++) {
		free(fc->vendors[a]);
		free(fc->links[a]);
	}
	free(fc->runs);
	free(fc->req_buf);
	memset(fc, 0, sizeof(*fc));
}

struct fan_run *fan_core_find(struct fan_core *fc, uint64_t id)
{
	for (uint32_t i = 0; i < fc->run_count; i++)
		if (fc->runs[i]->id == id)
			return fc->runs[i];
	return NULL;
}

static char *render_once(const struct fan_template *t)
{
	if (!t)
		return strdup("");
	size_t n = fan_template_render(t, NULL, FAN_ESCAPE_NONE, NULL, 0);
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	fan_template_render(t, NULL, FAN_ESCAPE_NONE, s, n);
	s[n] = 0;
	return s;
}

/*
 * Make room: forget the oldest campaign that is finished here (nothing out,
 * enumerated, done or cancelled) and was created FAN_KEEP_FINISHED_MS ago.
 * Its receipts and counters stay in the store; its status is gone.
 */
static bool evict_one(struct fan_core *fc)
{
	uint32_t best = UINT32_MAX;
	uint64_t now = realtime_us() / 1000;
	for (uint32_t i = 0; i < fc->run_count; i++) {
		const struct fan_run *r = fc->runs[i];
		bool finished = r->batches_out == 0 && (r->local_done || r->state == FAN_CANCELLED);
		if (finished && r->created_ms + FAN_KEEP_FINISHED_MS <= now &&
		    (best == UINT32_MAX || r->created_ms < fc->runs[best]->created_ms))
			best = i;
	}
	if (best == UINT32_MAX)
		return false;
	struct fan_run *r = fc->runs[best];
	for (unsigned t = 0; t < FAN_TARGET_COUNT; t++)
		if (r->filling[t]) /* empty: finished */
			batch_put(fc, r->filling[t]);
	run_free(r);
	fc->runs[best] = fc->runs[--fc->run_count];
	return true;
}

bool fan_core_room(struct fan_core *fc)
{
	return fc->run_count < FAN_CAMPAIGNS_MAX || evict_one(fc);
}

int fan_core_add(struct fan_core *fc, uint64_t id, uint16_t app, uint8_t state, uint64_t created_ms,
		 const uint8_t *def, size_t len, uint64_t done_below, const uint64_t *cnt)
{
	char why[FAN_WHY_BYTES_MAX];
	if (fan_core_find(fc, id))
		return -EEXIST;
	if (fc->run_count == FAN_CAMPAIGNS_MAX && !evict_one(fc))
		return -ENOSPC;
	struct fan_run *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int rc = fan_compile(def, len, &r->k, why);
	if (rc) {
		free(r);
		return rc;
	}
	r->id = id;
	r->app_idx = app;
	r->state = state;
	r->created_ms = created_ms;
	r->done_below = done_below;
	r->next = done_below;
	r->cur_chunk = UINT32_MAX;
	if (r->k.spec.audience == FAN_AUD_LIST)
		for (uint64_t i = 0; i < done_below && i < r->k.spec.list_count; i++)
			fan_spec_list_next(&r->k.spec, &r->list_pos);
	if (cnt) {
		memcpy(r->cnt, cnt, sizeof(r->cnt));
		memcpy(r->cnt_done, cnt, sizeof(r->cnt_done));
	}
	if (!r->k.personal) {
		r->title = render_once(r->k.title);
		r->body = render_once(r->k.body);
		if (!r->title || !r->body) {
			run_free(r);
			return -ENOMEM;
		}
	}
	fc->runs[fc->run_count++] = r;
	return 0;
}

void fan_core_set_state(struct fan_core *fc, struct fan_run *r, uint8_t state)
{
	r->state = state;
	if (state != FAN_CANCELLED)
		return;
	/* nothing new goes out: what waits here fails as cancelled */
	for (unsigned t = 0; t < FAN_TARGET_COUNT; t++)
		flush_filling(fc, r, t);
	struct fan_batch **pp = &fc->ready;
	fc->ready_tail = NULL;
	while (*pp) {
		struct fan_batch *b = *pp;
		if (b->run == r) {
			*pp = b->next;
			memset(b->out, FAN_OUT_CANCELLED, b->n);
			answered_push(fc, b);
			continue;
		}
		fc->ready_tail = b;
		pp = &b->next;
	}
	for (pp = &fc->waiting; *pp;) {
		struct fan_batch *b = *pp;
		if (b->run == r) {
			*pp = b->next;
			for (unsigned i = b->done; i < b->n; i++)
				if (!(b->out[i] & FAN_OUT_DONE_FLAG))
					b->out[i] = FAN_OUT_CANCELLED;
			answered_push(fc, b);
			continue;
		}
		pp = &b->next;
	}
}

int fan_core_vendor_set(struct fan_core *fc, uint16_t app, const struct fan_vendor *v)
{
	if (app >= HRL_APPS_MAX || v->target >= FAN_TARGET_COUNT)
		return -EINVAL;
	if (!fc->vendors[app]) {
		fc->vendors[app] = calloc(FAN_TARGET_COUNT, sizeof(struct fan_vendor));
		fc->links[app] = calloc(FAN_TARGET_COUNT, sizeof(struct fan_link));
		if (!fc->vendors[app] || !fc->links[app]) {
			free(fc->vendors[app]);
			free(fc->links[app]);
			fc->vendors[app] = NULL;
			fc->links[app] = NULL;
			return -ENOMEM;
		}
	}
	uint32_t version = fc->vendors[app][v->target].version + 1;
	uint64_t loc = fc->vendors[app][v->target].loc;
	fc->vendors[app][v->target] = *v;
	fc->vendors[app][v->target].version = version;
	if (!v->loc)
		fc->vendors[app][v->target].loc = loc;
	struct fan_link *l = &fc->links[app][v->target];
	l->fails = 0;
	l->open_until_ms = 0;
	l->bucket = 0;
	l->bucket_ms = 0;
	return 0;
}

const struct fan_vendor *fan_core_vendor(const struct fan_core *fc, uint16_t app, unsigned target)
{
	if (app >= HRL_APPS_MAX || target >= FAN_TARGET_COUNT || !fc->vendors[app] ||
	    !fc->vendors[app][target].used)
		return NULL;
	return &fc->vendors[app][target];
}

static void count(struct fan_run *r, struct fan_window *w, enum fan_count c)
{
	r->cnt[c]++;
	if (w)
		w->cnt[c]++;
}

/* ---- enumerate and resolve ---------------------------------------------------------------- */

struct emit_ctx {
	struct fan_core *fc;
	struct fan_run *r;
	uint32_t window;
	struct fan_window *w;
	bool oom;
	const struct sto_bytes *row; /* upload: the row's fields */
	unsigned row_n;
};

static size_t batch_cap(const struct fan_core *fc, const struct fan_run *r, unsigned target)
{
	/* personalised content: one call per address, except where the vendor takes a message per
	   address in one call (OPPO unicast_batch) */
	if (r->k.personal && target != FAN_T_OPPO)
		return 1;
	const struct fan_vendor *v = fan_core_vendor(fc, r->app_idx, target);
	return v ? v->batch_max : FAN_BATCH_TOKENS_MAX;
}

/* Values of the templates' variables for user u. */
static void fill_values(const struct fan_template *t, const struct sto_user *u, const struct sto_bytes *row,
			unsigned row_n, struct fan_template_value *val, uint32_t nval)
{
	uint32_t nv = fan_template_var_count(t);
	for (uint32_t i = 0; i < nv; i++) {
		const struct fan_template_var *v = fan_template_var(t, i);
		if (v->slot >= nval)
			continue;
		val[v->slot].ptr = NULL;
		val[v->slot].len = 0;
		if (v->kind == FAN_TEMPLATE_VAR_BUILTIN) {
			val[v->slot].ptr = u->id.p;
			val[v->slot].len = u->id.len;
		} else if (v->kind == FAN_TEMPLATE_VAR_ROW) {
			if (v->slot < row_n) { /* slot 1 + i is column i, the row's field 1 + i */
				val[v->slot].ptr = row[v->slot].p;
				val[v->slot].len = row[v->slot].len;
			}
		} else if (v->kind == FAN_TEMPLATE_VAR_ATTR) {
			for (unsigned a = 0; a < u->attr_count; a++)
				if (u->attrs[a].key.len == v->key_len && !memcmp(u->attrs[a].key.p, v->key, v->key_len)) {
					val[v->slot].ptr = u->attrs[a].value.p;
					val[v->slot].len = u->attrs[a].value.len;
					break;
				}
		}
	}
}

static int64_t render_into(struct fan_batch *b, const struct fan_template *t, const struct sto_user *u,
			   const struct sto_bytes *row, unsigned row_n)
{
	if (!t)
		return batch_str(b, "", 0);
	struct fan_template_value val[FAN_TEMPLATE_SLOTS_MAX];
	uint32_t nval = fan_template_slot_count(t);
	if (nval > FAN_TEMPLATE_SLOTS_MAX)
		nval = FAN_TEMPLATE_SLOTS_MAX;
	fill_values(t, u, row, row_n, val, nval);
	struct fan_template_values vs = { val, nval };
	char tmp[FAN_BODY_BYTES_MAX * 4];
	size_t n = fan_template_render(t, &vs, FAN_ESCAPE_NONE, tmp, sizeof(tmp));
	if (n > sizeof(tmp))
		n = sizeof(tmp); /* cut: a value longer than the message may be */
	return batch_str(b, tmp, n);
}

/* Put one address of user u into its batch. false: out of memory. */
static bool add_address(struct emit_ctx *e, const struct sto_user *u, const struct sto_device *d)
{
	struct fan_core *fc = e->fc;
	struct fan_run *r = e->r;
	unsigned t = fan_target_of(d->channel, d->vendor);
	struct fan_batch *b = r->filling[t];
	if (!b && !(b = r->filling[t] = batch_get(fc, r, (uint8_t)t)))
		return false;
	int64_t tok = batch_str(b, d->address.p, d->address.len), ti = 0, bi = 0;
	int64_t uid = tok < 0 ? -1 : batch_str(b, u->id.p, u->id.len);
	if (uid < 0)
		return false;
	if (r->k.personal) {
		ti = render_into(b, r->k.title, u, e->row, e->row_n);
		bi = ti < 0 ? -1 : render_into(b, r->k.body, u, e->row, e->row_n);
		if (bi < 0)
			return false;
		b->personal = true;
	}
	struct fan_addr *a = &b->a[b->n];
	if (r->k.personal) {
		a->title_off = (uint32_t)ti;
		a->body_off = (uint32_t)bi;
	}
	a->user_hash = u->hash;
	a->device_id = d->id;
	a->window = e->window;
	a->tok_off = (uint32_t)tok;
	a->uid_off = (uint32_t)uid;
	a->uid_len = (uint8_t)u->id.len;
	a->channel = d->channel;
	a->vendor = d->vendor;
	a->attempts = 0;
	b->out[b->n] = 0;
	b->n++;
	e->w->pending++;
	count(r, e->w, FAN_C_QUEUED);
	if (b->n >= batch_cap(fc, r, t))
		flush_filling(fc, r, t);
	return true;
}

static void emit_user(struct emit_ctx *e, const struct sto_user *u)
{
	struct fan_run *r = e->r;
	count(r, e->w, FAN_C_RECIPIENTS);
	bool any = false;
	for (unsigned c = 0; c < r->k.spec.channel_count; c++)
		for (unsigned i = 0; i < u->device_count; i++) {
			const struct sto_device *d = &u->devices[i];
			if (d->channel != r->k.spec.channels[c] || d->state != HRL_DEVICE_STATE_ACTIVE || !d->address.len)
				continue;
			any = true;
			if (!add_address(e, u, d)) {
				e->oom = true;
				return;
			}
		}
	if (!any)
		count(r, e->w, FAN_C_NO_ADDRESS);
}

static void visit(void *arg, uint32_t hash, uint32_t ref)
{
	struct emit_ctx *e = arg;
	struct fan_run *r = e->r;
	struct sto_user *u = sto_users_view(e->fc->users, ref);
	(void)hash;
	if (u->app_idx != r->app_idx)
		return;
	count(r, e->w, FAN_C_SCANNED);
	if (r->k.spec.audience == FAN_AUD_TAG) {
		struct fan_tagset ts = { u->tags, u->tag_count };
		if (!fan_tagexpr_match(r->k.expr, &ts))
			return;
	}
	e->fc->env.owner(e->fc->env.ctx, r->app_idx, u->id.p, u->id.len, &u->hash);
	emit_user(e, u);
}

static struct fan_window *window_open(struct fan_run *r, uint32_t *seq)
{
	struct fan_window *w = &r->win[r->win_count];
	*seq = r->win_first + r->win_count;
	r->win_count++;
	memset(w, 0, sizeof(*w));
	return w;
}

int fan_run_add_chunk(struct fan_run *r, uint64_t loc, uint32_t rows, uint32_t first_line)
{
	if (r->chunk_count == r->chunk_cap) {
		uint32_t cap = r->chunk_cap ? 2 * r->chunk_cap : 16;
		struct fan_chunk *c = realloc(r->chunks, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		r->chunks = c;
		r->chunk_cap = cap;
	}
	r->chunks[r->chunk_count++] = (struct fan_chunk){ loc, rows, first_line };
	r->rows_total += rows;
	return 0;
}

void fan_run_close_upload(struct fan_run *r)
{
	r->upload_closed = true;
}

static __thread struct sto_user phone_user; /* an uploaded phone number as a user with one address */

/* Up to FAN_WINDOW_USERS rows of the upload, from row r->next. false: out of memory. */
static bool enumerate_rows(struct emit_ctx *e)
{
	struct fan_core *fc = e->fc;
	struct fan_run *r = e->r;
	const struct fan_spec *s = &r->k.spec;
	for (unsigned todo = FAN_WINDOW_USERS; todo && r->next < r->rows_total && !e->oom; todo--) {
		if (r->cur_chunk == UINT32_MAX || r->next >= r->cur_first + r->chunks[r->cur_chunk].rows) {
			/* the chunk that holds row next */
			uint32_t ci = 0;
			uint64_t first = 0;
			while (first + r->chunks[ci].rows <= r->next) {
				first += r->chunks[ci].rows;
				ci++;
			}
			if (fc->env.read_rows(fc->env.ctx, r->chunks[ci].loc, &r->cur_rows, &r->cur_len))
				return true; /* cannot read it now: the window stays short, the next one tries again */
			r->cur_chunk = ci;
			r->cur_first = first;
			r->cur_off = 0;
			for (uint64_t k = first; k < r->next && r->cur_off < r->cur_len; k++) { /* resume inside the chunk */
				const char *nl = memchr(r->cur_rows + r->cur_off, '\n', r->cur_len - r->cur_off);
				r->cur_off = nl ? (size_t)(nl - r->cur_rows) + 1 : r->cur_len;
			}
		}
		const char *row = r->cur_rows + r->cur_off;
		size_t len = 0;
		while (r->cur_off + len < r->cur_len && row[len] != '\n')
			len++;
		r->cur_off += len + 1;
		r->next++;
		struct sto_bytes f[1 + FAN_COLUMNS_MAX];
		unsigned n;
		if (fan_row_split(s, row, len, f, &n))
			continue; /* checked when it came: cannot happen */
		uint64_t h;
		if (fc->env.owner(fc->env.ctx, r->app_idx, f[0].p, f[0].len, &h) != fc->core)
			continue; /* the core count changed since: another core takes it */
		count(r, e->w, FAN_C_SCANNED);
		e->row = f;
		e->row_n = n;
		if (s->upload_kind == FAN_UP_PHONE) {
			struct sto_user *u = &phone_user;
			u->id = f[0];
			u->hash = h;
			u->device_count = 1;
			memset(&u->devices[0], 0, sizeof(u->devices[0]));
			u->devices[0].channel = HRL_CH_SMS;
			u->devices[0].address = f[0];
			u->attr_count = 0;
			emit_user(e, u);
		} else {
			struct sto_user *u = sto_user_find(fc->users, h, r->app_idx, f[0].p, f[0].len);
			if (u) {
				u->hash = h;
				emit_user(e, u);
			}
		}
		e->row = NULL;
		e->row_n = 0;
	}
	return !e->oom;
}

/* One window of the run on this core. false: nothing was done (full or out of memory). */
static bool enumerate_window(struct fan_core *fc, struct fan_run *r)
{
	if (r->win_count == FAN_WINDOWS_MAX)
		return false;
	struct emit_ctx e = { .fc = fc, .r = r };
	e.w = window_open(r, &e.window);
	const struct fan_spec *s = &r->k.spec;
	if (s->audience == FAN_AUD_UPLOAD) {
		enumerate_rows(&e);
	} else if (s->audience == FAN_AUD_ALL || s->audience == FAN_AUD_TAG) {
		uint64_t span = (FAN_HASH_END * FAN_WINDOW_USERS) / (fc->users->count + 1);
		if (span < 1)
			span = 1;
		uint64_t lo = r->next, hi = lo + span > FAN_HASH_END ? FAN_HASH_END : lo + span;
		base_htab32_classes(&fc->users->index, (uint32_t)lo, (uint32_t)hi, visit, &e);
		r->next = hi;
	} else {
		/* the list: this core's entries of the next few */
		unsigned todo = 64;
		while (todo-- && r->next < (s->audience == FAN_AUD_USER ? 1u : s->list_count)) {
			struct sto_bytes id = s->audience == FAN_AUD_USER ? s->user : fan_spec_list_next(s, &r->list_pos);
			r->next++;
			uint64_t h;
			if (fc->env.owner(fc->env.ctx, r->app_idx, id.p, id.len, &h) != fc->core)
				continue;
			count(r, e.w, FAN_C_SCANNED);
			struct sto_user *u = sto_user_find(fc->users, h, r->app_idx, id.p, id.len);
			if (!u)
				continue;
			u->hash = h;
			emit_user(&e, u);
			if (e.oom)
				break;
		}
	}
	e.w->end = r->next;
	return !e.oom;
}

static bool run_enumerated(const struct fan_run *r)
{
	switch (r->k.spec.audience) {
	case FAN_AUD_USER:
		return r->next >= 1;
	case FAN_AUD_LIST:
		return r->next >= r->k.spec.list_count;
	case FAN_AUD_UPLOAD:
		return r->upload_closed && r->next >= r->rows_total;
	default:
		return r->next >= FAN_HASH_END;
	}
}

/* An upload still open with every row so far enumerated: wait for more. */
static bool rows_awaited(const struct fan_run *r)
{
	return r->k.spec.audience == FAN_AUD_UPLOAD && !r->upload_closed && r->next >= r->rows_total;
}

uint32_t fan_run_ppm(const struct fan_run *r)
{
	if (r->local_done)
		return 1000000;
	uint64_t total = r->k.spec.audience == FAN_AUD_USER ? 1 :
			 r->k.spec.audience == FAN_AUD_LIST ? r->k.spec.list_count :
			 r->k.spec.audience == FAN_AUD_UPLOAD ? r->rows_total + !r->upload_closed : FAN_HASH_END;
	if (!total)
		return 0;
	return (uint32_t)(r->done_below * 1000000 / total);
}

/* ---- send --------------------------------------------------------------------------------- */

static struct fan_link *link_of(struct fan_core *fc, uint16_t app, unsigned target)
{
	return fc->links[app] ? &fc->links[app][target] : NULL;
}

static void iso8601_utc(uint64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const enum fan_call call_of[FAN_TARGET_COUNT] = {
	[FAN_T_HUAWEI] = FAN_CALL_HUAWEI, [FAN_T_XIAOMI] = FAN_CALL_XIAOMI, [FAN_T_OPPO] = FAN_CALL_OPPO_BATCH,
	[FAN_T_VIVO] = FAN_CALL_VIVO_SAVE, [FAN_T_SMS] = FAN_CALL_SMS,     [FAN_T_WEBHOOK] = FAN_CALL_WEBHOOK,
};

/* Fill req for b's call (tokens point into the batch). */
static void batch_req(struct fan_core *fc, struct fan_batch *b, const struct fan_vendor *v, struct fan_msg *msg,
		      struct fan_cred *cred, struct fan_req *req, char *ts, char *nonce, char *reqid, bool for_answer)
{
	struct fan_run *r = b->run;
	memset(msg, 0, sizeof(*msg));
	msg->title = b->personal ? b->str + b->a[0].title_off : r->title;
	msg->body = b->personal ? b->str + b->a[0].body_off : r->body;
	msg->category = NULL;
	if (r->k.spec.category.len) {
		static __thread char cat[FAN_CATEGORY_BYTES_MAX + 1];
		memcpy(cat, r->k.spec.category.p, r->k.spec.category.len);
		cat[r->k.spec.category.len] = 0;
		msg->category = cat;
	}
	memset(cred, 0, sizeof(*cred));
	cred->host = v->host;
	cred->app_id = v->app_id;
	cred->secret = v->secret;
	cred->package = v->package;
	cred->path = v->path;
	cred->sign_name = v->sign_name;
	cred->template_code = v->template_code;
	for (unsigned i = 0; i < b->n; i++)
		b->tokens[i] = b->str + b->a[i].tok_off;
	memset(req, 0, sizeof(*req));
	req->call = call_of[b->target];
	if (b->target == FAN_T_VIVO && b->step == 1)
		req->call = FAN_CALL_VIVO_PUSH;
	req->msg = msg;
	req->msgs = NULL;
	if (b->personal && b->n > 1) { /* OPPO unicast_batch: a message per address */
		static __thread struct fan_msg msgs[FAN_BATCH_TOKENS_MAX];
		for (unsigned i = 0; i < b->n; i++) {
			msgs[i] = *msg;
			msgs[i].title = b->str + b->a[i].title_off;
			msgs[i].body = b->str + b->a[i].body_off;
		}
		req->msgs = msgs;
	}
	req->cred = cred;
	req->tokens = b->tokens;
	req->n = b->n;
	if (req->call == FAN_CALL_VIVO_SAVE) { /* the message only: its addresses go with pushToList */
		req->tokens = NULL;
		req->n = 0;
	}
	req->task_id = b->task_id;
	if (for_answer) /* the parser reads the call and the addresses only */
		return;
	if (b->target == FAN_T_VIVO || b->target == FAN_T_WEBHOOK) {
		snprintf(reqid, 64, "c%llu-%u-%llx-%llu", (unsigned long long)r->id, fc->core,
			 (unsigned long long)fc->boot_ms, (unsigned long long)b->call_id);
		req->request_id = reqid;
	}
	if (b->target == FAN_T_SMS) {
		iso8601_utc(realtime_us() / 1000, ts); /* fc->now_ms is the monotonic clock */
		req->timestamp = ts;
		snprintf(nonce, 40, "%u-%llu", fc->core, (unsigned long long)++fc->seq);
		req->nonce = nonce;
	}
}

static ssize_t batch_encode(struct fan_core *fc, struct fan_batch *b, const struct fan_vendor *v)
{
	struct fan_msg msg;
	struct fan_cred cred;
	struct fan_req req;
	char ts[32], nonce[40], reqid[64];
	batch_req(fc, b, v, &msg, &cred, &req, ts, nonce, reqid, false);
	for (;;) {
		ssize_t n = req.call == FAN_CALL_SMS ? fan_fmt_sms_signed(&req, v->secret2, fc->req_buf, fc->req_cap) :
						       fan_fmt_request(&req, fc->req_buf, fc->req_cap);
		if (n != -ENOSPC || fc->req_cap >= (64u << 20))
			return n;
		char *p = realloc(fc->req_buf, fc->req_cap * 2);
		if (!p)
			return -ENOMEM;
		fc->req_buf = p;
		fc->req_cap *= 2;
	}
}

static uint64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t realtime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Fail every address of b with outcome o (no call is made). */
static void fail_all(struct fan_core *fc, struct fan_batch *b, uint8_t o, const char *code)
{
	memset(b->out, o, b->n);
	snprintf(b->code, sizeof(b->code), "%s", code);
	answered_push(fc, b);
}

static void call_started(struct fan_run *r)
{
	r->cnt[FAN_C_CALLS]++;
	if (!r->first_call_us) {
		uint64_t now = realtime_us(), created = r->created_ms * 1000;
		r->first_call_us = now > created ? now - created : 1;
	}
}

/* Try to start b's call. true: it left the ready list. */
static bool send_one(struct fan_core *fc, struct fan_batch *b)
{
	struct fan_run *r = b->run;
	if (r->state == FAN_PAUSED)
		return false;
	const struct fan_vendor *v = fan_core_vendor(fc, r->app_idx, b->target);
	if (!v) {
		fail_all(fc, b, FAN_OUT_NO_VENDOR, b->target == FAN_T_NONE ? "no adapter for this vendor" :
									     "no vendor configured");
		return true;
	}
	struct fan_link *l = link_of(fc, r->app_idx, b->target);
	unsigned lane = r->k.spec.lane;
	unsigned most = lane == FAN_LANE_TRANSACTIONAL ? 2u * FAN_TX_CONNS(v->connections) : 2u * v->connections;
	if (l->inflight[lane] >= most || fc->now_ms < l->open_until_ms)
		return false;
	if (v->rate_per_s) {
		double share = (double)v->rate_per_s / fc->ncores;
		double cap = share / 10 > v->batch_max ? share / 10 : v->batch_max;
		if (!l->bucket_ms) {
			l->bucket = cap;
			l->bucket_ms = fc->now_ms;
		}
		l->bucket += share * (double)(fc->now_ms - l->bucket_ms) / 1000.0;
		l->bucket_ms = fc->now_ms;
		if (l->bucket > cap)
			l->bucket = cap;
		if (l->bucket < (b->step ? 0 : b->n))
			return false;
	}
	if (v->daily_quota && !b->step) {
		uint64_t day = realtime_us() / 86400000000ull;
		if (day != l->quota_day) {
			l->quota_day = day;
			l->quota_used = 0;
		}
		if (l->quota_used + b->n > (v->daily_quota + fc->ncores - 1) / fc->ncores) {
			fail_all(fc, b, FAN_OUT_QUOTA, "daily quota reached");
			return true;
		}
	}
	b->sent_us = monotonic_us();
	if (!fc->env.send) { /* null sink: every address accepted, no request made */
		memset(b->out, FAN_OUT_SENT, b->n);
		call_started(r);
		answered_push(fc, b);
		return true;
	}
	ssize_t n = batch_encode(fc, b, v);
	if (n < 0) {
		fail_all(fc, b, FAN_OUT_BAD_REQUEST, n == -ENOMEM ? "out of memory" : "cannot encode for this vendor");
		return true;
	}
	if (fc->env.send(fc->env.ctx, fc, b, v, l, fc->req_buf, (size_t)n))
		return false;
	if (v->rate_per_s && !b->step)
		l->bucket -= b->n;
	if (v->daily_quota && !b->step)
		l->quota_used += b->n;
	l->inflight[lane]++;
	b->state = FAN_B_INFLIGHT;
	call_started(r);
	return true;
}

static void send_ready(struct fan_core *fc)
{
	struct fan_batch **pp = &fc->ready, *prev = NULL;
	unsigned budget = 64;
	while (*pp && budget--) {
		struct fan_batch *b = *pp, *next = b->next;
		if (send_one(fc, b)) { /* b may be on another list now: its next is not ours */
			*pp = next;
			if (fc->ready_tail == b)
				fc->ready_tail = prev;
			continue;
		}
		prev = b;
		pp = &b->next;
	}
}

/* ---- answers ------------------------------------------------------------------------------ */

static bool retryable(uint8_t o)
{
	return o == FAN_OUT_RETRY || o == FAN_OUT_MALFORMED || o == FAN_OUT_TRANSPORT;
}

void fan_batch_answer(struct fan_core *fc, struct fan_batch *b, int status, const char *body, size_t len)
{
	struct fan_run *r = b->run;
	struct fan_link *l = link_of(fc, r->app_idx, b->target);
	const struct fan_vendor *v = fan_core_vendor(fc, r->app_idx, b->target);
	if (l && l->inflight[r->k.spec.lane])
		l->inflight[r->k.spec.lane]--;
	uint64_t us = monotonic_us() - b->sent_us;
	fc->lat_us[us ? 63 - __builtin_clzll(us) : 0]++;
	struct fan_answer ans;
	memset(&ans, 0, sizeof(ans));
	if (status < 0 || !v) {
		memset(b->out, FAN_OUT_TRANSPORT, b->n);
		snprintf(b->code, sizeof(b->code), "%s", status < 0 ? strerror(-status) : "vendor removed");
		ans.batch = FAN_OUT_RETRY;
	} else {
		struct fan_msg msg;
		struct fan_cred cred;
		struct fan_req req;
		char ts[32], nonce[40], reqid[64];
		batch_req(fc, b, v, &msg, &cred, &req, ts, nonce, reqid, true);
		fan_parse_answer(&req, status, body, len, b->out, &ans);
		if (req.call == FAN_CALL_VIVO_SAVE) /* no per-address outcome: the call's is every address's */
			memset(b->out, ans.batch, b->n);
		snprintf(b->code, sizeof(b->code), "%s", ans.code[0] ? ans.code : fan_outcome_name(ans.batch));
		if (b->target == FAN_T_VIVO && b->step == 0 && ans.batch == FAN_OUT_SENT) {
			/* the message is saved: now the push to the list */
			snprintf(b->task_id, sizeof(b->task_id), "%s", ans.task_id);
			b->step = 1;
			ready_push(fc, b);
			return;
		}
	}
	if (l) { /* the breaker counts calls the vendor did not take at all */
		if (retryable(ans.batch) || (status < 0)) {
			if (++l->fails >= FAN_BREAKER_FAILS) {
				l->open_ms = l->open_ms ? l->open_ms * 2 : 1000;
				if (l->open_ms > 30000)
					l->open_ms = 30000;
				l->open_until_ms = fc->now_ms + l->open_ms;
				l->fails = 0;
			}
		} else {
			l->fails = 0;
			l->open_ms = 0;
		}
	}
	b->step = 0;
	answered_push(fc, b);
}

static const char *reason_of(const struct fan_batch *b, uint8_t o)
{
	switch (o) {
	case FAN_OUT_INVALID_TOKEN:
		return "invalid token";
	case FAN_OUT_CANCELLED:
		return "cancelled";
	case FAN_OUT_NO_VENDOR:
	case FAN_OUT_QUOTA:
	case FAN_OUT_AUTH:
	case FAN_OUT_BAD_REQUEST:
	default:
		return b->code;
	}
}

/* Record every final outcome of b; retryable ones wait. false: the store has no room now. */
static bool record(struct fan_core *fc, struct fan_batch *b)
{
	struct fan_run *r = b->run;
	uint64_t now_unix_ms = realtime_us() / 1000; /* one clock read per batch, not per address */
	for (; b->done < b->n; b->done++) {
		unsigned i = b->done;
		uint8_t o = b->out[i] & 0x3f;
		struct fan_addr *a = &b->a[i];
		if (b->out[i] & FAN_OUT_DONE_FLAG)
			continue;
		if (retryable(o) && ++a->attempts < FAN_RETRIES_MAX && r->state != FAN_CANCELLED)
			continue; /* goes again below */
		const char *uid = b->str + a->uid_off;
		if (o == FAN_OUT_INVALID_TOKEN && !(b->out[i] & FAN_OUT_UNBOUND)) {
			int rc = fc->env.invalid(fc->env.ctx, r->app_idx, a->user_hash, uid, a->uid_len, a->device_id,
						 b->str + a->tok_off);
			if (rc == -ENOBUFS)
				return false;
			b->out[i] |= FAN_OUT_UNBOUND;
		}
		struct sto_receipt rc_ = {
			.message_id = r->id,
			.campaign_id = r->id,
			.user_hash = a->user_hash,
			.event_unix_ms = now_unix_ms,
			.app_idx = r->app_idx,
			.channel = a->channel,
			.vendor = a->vendor,
			.state = o == FAN_OUT_SENT ? HRL_STATE_SENT : HRL_STATE_FAILED,
			.user_id = uid,
			.user_len = a->uid_len,
		};
		const char *why = o == FAN_OUT_SENT ? "" : retryable(o) ? b->code : reason_of(b, o);
		char reason[96];
		if (retryable(o) && o != FAN_OUT_SENT) {
			snprintf(reason, sizeof(reason), "retries exhausted: %s", b->code);
			why = reason;
		}
		rc_.reason = why;
		rc_.reason_len = (uint8_t)(strlen(why) > HRL_REASON_BYTES_MAX ? HRL_REASON_BYTES_MAX : strlen(why));
		uint64_t lsn = 0;
		int rc = fc->env.receipt(fc->env.ctx, &rc_, &lsn);
		if (rc == -ENOBUFS)
			return false;
		b->out[i] |= FAN_OUT_DONE_FLAG;
		uint32_t wi = a->window - r->win_first;
		struct fan_window *w = wi < r->win_count ? &r->win[wi] : NULL;
		count(r, w, o == FAN_OUT_SENT ? FAN_C_SENT : o == FAN_OUT_INVALID_TOKEN ? FAN_C_INVALID : FAN_C_FAILED);
		if (w) {
			w->pending--;
			if (lsn > w->ev_lsn)
				w->ev_lsn = lsn;
		}
	}
	/* what is left waits for another try */
	unsigned k = 0;
	for (unsigned i = 0; i < b->n; i++) {
		if (b->out[i] & FAN_OUT_DONE_FLAG)
			continue;
		b->a[k] = b->a[i];
		b->out[k] = 0;
		k++;
	}
	if (!k) {
		batch_put(fc, b);
		return true;
	}
	b->n = (uint16_t)k;
	b->done = 0;
	unsigned tries = b->a[0].attempts;
	uint64_t backoff = (uint64_t)FAN_BACKOFF_BASE_MS << (tries < 16 ? tries : 16);
	if (backoff > FAN_BACKOFF_MAX_MS)
		backoff = FAN_BACKOFF_MAX_MS;
	fc->seq = fc->seq * 6364136223846793005ull + 1442695040888963407ull;
	backoff = backoff / 2 + (fc->seq >> 33) % (backoff / 2 + 1); /* jitter: half to all of it */
	b->retry_at_ms = fc->now_ms + backoff;
	b->state = FAN_B_WAIT;
	b->next = fc->waiting;
	fc->waiting = b;
	return true;
}

static void record_answered(struct fan_core *fc)
{
	while (fc->answered) {
		struct fan_batch *b = fc->answered;
		fc->answered = b->next;
		if (!record(fc, b)) {
			b->next = fc->answered;
			fc->answered = b;
			return;
		}
	}
}

static void retry_due(struct fan_core *fc)
{
	for (struct fan_batch **pp = &fc->waiting; *pp;) {
		struct fan_batch *b = *pp;
		if (b->retry_at_ms <= fc->now_ms) {
			*pp = b->next;
			ready_push(fc, b);
			continue;
		}
		pp = &b->next;
	}
}

/* ---- progress ----------------------------------------------------------------------------- */

static void advance(struct fan_core *fc, struct fan_run *r)
{
	uint64_t durable = fc->env.events_durable(fc->env.ctx);
	unsigned k = 0;
	while (k < r->win_count && !r->win[k].pending && r->win[k].ev_lsn <= durable) {
		r->done_below = r->win[k].end;
		for (unsigned c = 0; c < FAN_C_COUNT; c++)
			r->cnt_done[c] += r->win[k].cnt[c];
		k++;
	}
	r->cnt_done[FAN_C_CALLS] = r->cnt[FAN_C_CALLS];
	if (k) {
		memmove(r->win, r->win + k, (r->win_count - k) * sizeof(r->win[0]));
		r->win_count -= k;
		r->win_first += k;
		r->progress_dirty = true;
	}
	if (!r->local_done && run_enumerated(r) && !r->win_count && !r->batches_out) {
		r->local_done = true;
		r->progress_dirty = true;
		r->progress_ms = 0; /* log it now */
		if (fc->env.done)
			fc->env.done(fc->env.ctx, r);
	}
	if (r->progress_dirty && fc->now_ms >= r->progress_ms + FAN_PROGRESS_MS) {
		r->progress_version++;
		if (fc->env.progress(fc->env.ctx, r) == 0) {
			r->progress_dirty = false;
			r->progress_ms = fc->now_ms;
		} else {
			r->progress_version--;
		}
	}
}

bool fan_core_poll(struct fan_core *fc, uint64_t now_ms)
{
	fc->now_ms = now_ms;
	record_answered(fc);
	retry_due(fc);
	bool more = false;
	/* enumerate: transactional campaigns first, then the others in turn */
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < fc->run_count; i++) {
			struct fan_run *r = fc->runs[(fc->rr + i) % fc->run_count];
			if ((pass == 0) != (r->k.spec.lane == FAN_LANE_TRANSACTIONAL))
				continue;
			if (r->state != FAN_RUNNING || r->local_done || run_enumerated(r) || rows_awaited(r))
				continue;
			unsigned windows = 4;
			/* the transactional lane has batches of its own beyond what the bulk may fill */
			uint32_t most = FAN_BATCHES_SOFT + (pass == 0 ? FAN_TX_BATCHES : 0);
			while (windows-- && fc->batches_out < most && !run_enumerated(r) && !rows_awaited(r))
				if (!enumerate_window(fc, r))
					break;
			if (run_enumerated(r))
				for (unsigned t = 0; t < FAN_TARGET_COUNT; t++)
					flush_filling(fc, r, t);
			if (!run_enumerated(r) && !rows_awaited(r) && fc->batches_out < most)
				more = true;
		}
	if (fc->run_count)
		fc->rr = (fc->rr + 1) % fc->run_count;
	/* partial batches that waited long enough go */
	for (uint32_t i = 0; i < fc->run_count; i++)
		for (unsigned t = 0; t < FAN_TARGET_COUNT; t++) {
			struct fan_batch *b = fc->runs[i]->filling[t];
			if (b && now_ms >= b->first_ms + FAN_LINGER_MS)
				flush_filling(fc, fc->runs[i], t);
		}
	send_ready(fc);
	record_answered(fc);
	for (uint32_t i = 0; i < fc->run_count; i++)
		advance(fc, fc->runs[i]);
	if (fc->answered)
		more = true;
	return more;
}

void fan_core_status(const struct fan_core *fc, const struct fan_run *r, struct fan_status *st)
{
	st->audience = r->k.spec.audience;
	st->lane = r->k.spec.lane;
	st->created_ms = r->created_ms;
	for (unsigned i = 0; i < FAN_C_COUNT; i++)
		st->cnt[i] += r->cnt[i];
	if (r->first_call_us && (!st->first_call_us || r->first_call_us < st->first_call_us))
		st->first_call_us = r->first_call_us;
	st->progress_ppm_sum += fan_run_ppm(r);
	uint32_t pending = 0;
	for (unsigned i = 0; i < r->win_count; i++)
		pending += r->win[i].pending;
	st->inflight += pending;
	st->cores++;
	st->cores_done += r->local_done;
	st->state = r->state;
}
