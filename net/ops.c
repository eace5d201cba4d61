/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ops.c - the opcode table and one handler per operation of protocol v1.
 *
 * A handler runs on the core the table's route names (server.h); it decodes
 * and checks the body whole (net/req.c) before it changes anything, then
 * writes exactly one answer frame into x->out. Handlers of multi-step
 * operations run once per core they visit, with x->call->step counting
 * the visits, and set x->next_core to continue elsewhere.
 *
 * Alias index updates ride in the call's scratch buffer as a list of
 * index operations, each applied by the core that owns its alias:
 *
 *   u8 done, u8 add, u16 core, u64 hash, u32 device_id,
 *   u8 type_len, type, u8 alias_len, alias, u16 user_len, user
 */
#include "net/server.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/assert.h"
#include "base/log.h"
#include "net/req.h"
#include "net/fanout.h"

#define HRL_SERVER_NAME "heraldd 0.1.0"

static uint64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int fill_random(uint8_t *p, size_t n)
{
	while (n) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static int map_errno(int rc)
{
	switch (rc) {
	case -ENOENT:
		return HRL_E_NOT_FOUND;
	case -ENOSPC:
		return HRL_E_LIMIT_EXCEEDED;
	default:
		return HRL_E_INTERNAL;
	}
}

/* Decode into *r; on failure answer the error and return false. */
static bool decode(struct net_ctx *x, union net_req *r)
{
	const char *why;
	int rc = net_req_decode(x->opcode, x->body, x->body_len, r, &why);
	if (rc) {
		net_ctx_error(x, (uint16_t)-rc, why);
		return false;
	}
	return true;
}

static struct sto_user *find_user(struct net_ctx *x, const struct net_str *id, bool create)
{
	struct net_server *s = x->nc->srv;
	/* routing hashed the same id (the body's first field) already */
	uint64_t h = x->user_hash ? x->user_hash : sto_user_hash(&s->cfg.hash_key, x->app_idx, id->p, id->len);
	if (!create)
		return sto_user_find(&x->nc->users, h, x->app_idx, id->p, id->len);
	uint32_t part = net_user_partition(s, h);
	ALWAYS(net_partition_core(s, part) == x->nc->id); /* routed to the owner */
	return sto_user_get(&x->nc->users, h, x->app_idx, (uint16_t)part, id->p, id->len);
}

/*
 * The user a change applies to (a view: store/users.h), with room in the
 * log for its new record. create: a new user's view if it does not exist
 * (in the table only once committed). NULL: an error was answered.
 */
static struct sto_user *user_for_change(struct net_ctx *x, const struct net_str *id, bool create)
{
	struct sto_user *u = find_user(x, id, create);
	if (!u) {
		net_ctx_error(x, HRL_E_NOT_FOUND, "no such user");
		return NULL;
	}
	if (!net_store_room(x, u))
		return NULL;
	return u;
}

/* Commit the changed view and log it; false: out of memory answered, nothing changed. */
static bool store_user(struct net_ctx *x, struct sto_user *u)
{
	if (net_store_user(x, u) == 0)
		return true;
	net_ctx_error(x, HRL_E_INTERNAL, "out of memory");
	return false;
}

/* ---- session ------------------------------------------------------------------------ */

static void op_hello(struct net_ctx *x)
{
	union net_req r;
	struct net_wr w;
	struct net_conn *c = x->conn;

	if (!decode(x, &r))
		return;
	if (r.hello.version_max < HRL_VERSION_MIN || r.hello.version_min > HRL_VERSION_MAX) {
		net_ctx_error(x, HRL_E_UNSUPPORTED_VERSION, "no common protocol version; this engine speaks 1");
		return;
	}
	if (fill_random(c->nonce, sizeof(c->nonce))) {
		net_ctx_error(x, HRL_E_INTERNAL, "no randomness for the nonce");
		return;
	}
	c->hello = true;
	c->authed = false;
	c->nonce_valid = true;
	net_ctx_begin(x, &w);
	net_wr_u8(&w, 1);
	net_wr_u8(&w, 0);
	net_wr_u16(&w, (uint16_t)x->nc->srv->ncores);
	net_wr_u32(&w, HRL_FRAME_BODY_BYTES_MAX);
	net_wr_raw(&w, c->nonce, sizeof(c->nonce));
	net_wr_str(&w, HRL_SERVER_NAME, strlen(HRL_SERVER_NAME));
	net_ctx_end(x, &w);
}

static void op_auth(struct net_ctx *x)
{
	union net_req r;
	struct net_wr w;
	struct net_conn *c = x->conn;
	struct net_core *nc = x->nc;
	const uint8_t *key = NULL;
	uint8_t role = HRL_ROLE_APP;
	int app_idx = -1;

	if (!decode(x, &r))
		return;
	if (!c->nonce_valid) {
		net_ctx_error(x, HRL_E_HELLO_REQUIRED, "the nonce was used; send HELLO again");
		return;
	}
	c->nonce_valid = false;
	const struct net_str *id = &r.auth.app_id;
	if (id->len == strlen(HRL_ADMIN_APP_ID) && memcmp(id->p, HRL_ADMIN_APP_ID, id->len) == 0) {
		key = nc->srv->cfg.admin_secret;
		role = HRL_ROLE_ADMIN;
	} else {
		app_idx = sto_apps_find(&nc->apps, id->p, id->len);
		if (app_idx >= 0)
			key = nc->apps.apps[app_idx].secret;
	}
	uint8_t msg[HRL_NONCE_BYTES + HRL_APP_ID_BYTES_MAX];
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	bool ok = false;
	if (key && id->len <= HRL_APP_ID_BYTES_MAX) {
		memcpy(msg, c->nonce, HRL_NONCE_BYTES);
		memcpy(msg + HRL_NONCE_BYTES, id->p, id->len);
		ok = HMAC(EVP_sha256(), key, HRL_SECRET_BYTES, msg, HRL_NONCE_BYTES + id->len, mac, &mac_len) &&
		     mac_len == HRL_MAC_BYTES && CRYPTO_memcmp(mac, r.auth.mac, HRL_MAC_BYTES) == 0;
	}
	if (!ok) {
		base_log(BASE_LOG_INFO, "msg=\"auth failed\" app=\"%.*s\"", (int)(id->len > 64 ? 64 : id->len), id->p);
		net_ctx_error(x, HRL_E_AUTH_FAILED, "unknown app or wrong mac; closing");
		net_conn_close_after_flush(c);
		return;
	}
	c->authed = true;
	c->role = role;
	c->app_idx = app_idx >= 0 ? (uint16_t)app_idx : 0;
	net_ctx_begin(x, &w);
	net_wr_str(&w, id->p, id->len);
	net_wr_u8(&w, role);
	net_ctx_end(x, &w);
}

static void op_ping(struct net_ctx *x)
{
	struct net_wr w;
	net_ctx_begin(x, &w);
	net_wr_raw(&w, x->body, x->body_len);
	net_ctx_end(x, &w);
}

static void op_stats(struct net_ctx *x)
{
	struct net_call *call = x->call;
	struct net_core *nc = x->nc;
	unsigned n = nc->srv->ncores;

	if (call->step == 0) {
		union net_req r;
		if (!decode(x, &r))
			return;
		net_ctx_begin(x, &call->w);
		net_wr_u16(&call->w, (uint16_t)n);
	}
	ALWAYS(call->step == nc->id);
	net_wr_u16(&call->w, (uint16_t)nc->id);
	net_wr_u32(&call->w, nc->partitions_owned);
	net_wr_u64(&call->w, nc->conns_open);
	net_wr_u64(&call->w, nc->requests_total);
	net_wr_u64(&call->w, nc->forwarded_total);
	net_wr_u64(&call->w, nc->users.count);
	if (nc->id + 1 < n)
		x->next_core = (int)nc->id + 1;
	else
		net_ctx_end(x, &call->w);
}

static void op_store_stats(struct net_ctx *x)
{
	struct net_call *call = x->call;
	struct net_core *nc = x->nc;
	struct net_server *s = nc->srv;

	if (call->step == 0) {
		union net_req r;
		uint32_t segs;
		uint64_t seg_bytes;
		if (!decode(x, &r))
			return;
		sto_segments_usage(STO_STREAM_STATE, &segs, &seg_bytes);
		net_ctx_begin(x, &call->w);
		net_wr_u32(&call->w, s->cfg.log.epoch);
		net_wr_u64(&call->w, s->recovery_ms);
		net_wr_u64(&call->w, s->recovered.segments);
		net_wr_u64(&call->w, s->recovered.records);
		net_wr_u64(&call->w, s->recovered.torn_tails);
		net_wr_u64(&call->w, s->recovered.corrupt);
		net_wr_u32(&call->w, segs);
		net_wr_u64(&call->w, seg_bytes);
		net_wr_u16(&call->w, (uint16_t)s->ncores);
	}
	ALWAYS(call->step == nc->id);
	const struct net_compact *k = &nc->compact;
	net_wr_u16(&call->w, (uint16_t)nc->id);
	net_wr_u64(&call->w, nc->log.records);
	net_wr_u64(&call->w, nc->log.bytes);
	net_wr_u64(&call->w, nc->log.flushes);
	net_wr_u64(&call->w, nc->log.io_errors);
	net_wr_u64(&call->w, nc->users.count);
	net_wr_u8(&call->w, k->state);
	net_wr_u32(&call->w, k->rounds);
	net_wr_u64(&call->w, k->rewritten);
	net_wr_u64(&call->w, k->segments_deleted);
	net_wr_u64(&call->w, k->bytes_reclaimed);
	uint64_t written = nc->events.receipts_written - nc->events.receipts_undone;
	if (call->step > 0)
		written += *(const uint64_t *)base_buf_head(&call->scratch);
	base_buf_consume(&call->scratch, base_buf_readable(&call->scratch));
	if (base_buf_append(&call->scratch, &written, sizeof(written))) {
		net_ctx_error(x, HRL_E_INTERNAL, "out of memory");
		return;
	}
	if (nc->id + 1 < s->ncores) {
		x->next_core = (int)nc->id + 1;
		return;
	}
	uint32_t ev_segs;
	uint64_t ev_bytes;
	sto_segments_usage(STO_STREAM_EVENTS, &ev_segs, &ev_bytes);
	net_wr_u32(&call->w, ev_segs);
	net_wr_u64(&call->w, ev_bytes);
	net_wr_u64(&call->w, written);
	net_wr_u64(&call->w, s->ev_recovered.receipts_replayed);
	net_wr_u64(&call->w, sto_events_expired_total());
	net_ctx_end(x, &call->w);
}

/* ---- apps ----------------------------------------------------------------------------- */

/*
 * APP_CREATE and APP_ROTATE: step 0 on core 0 decides and answers; the
 * record then visits cores 1..n-1, each putting it in its replica, and the
 * answer goes out only after the last one.
 */
struct app_change {
	uint32_t idx;
	struct sto_app app;
};

static void app_replicate(struct net_ctx *x)
{
	struct net_call *call = x->call;
	struct net_core *nc = x->nc;
	if (call->step > 0) {
		const struct app_change *ch = (const struct app_change *)base_buf_head(&call->scratch);
		ALWAYS(call->step == nc->id);
		sto_apps_put(&nc->apps, ch->idx, &ch->app);
	}
	if (nc->id + 1 < nc->srv->ncores)
		x->next_core = (int)nc->id + 1;
}

static void op_app_change(struct net_ctx *x)
{
	struct net_call *call = x->call;
	struct net_core *nc = x->nc;
	union net_req r;
	struct app_change ch;
	struct net_wr w;

	if (call->step > 0) {
		app_replicate(x);
		return;
	}
	ALWAYS(nc->id == 0);
	if (!decode(x, &r))
		return;
	const struct net_str *id = &r.app.app_id;
	if (x->role == HRL_ROLE_APP) { /* before any lookup: do not reveal other apps */
		const struct sto_app *own = &nc->apps.apps[x->app_idx];
		if (own->id_len != id->len || memcmp(own->id, id->p, id->len) != 0) {
			net_ctx_error(x, HRL_E_FORBIDDEN, "an app may rotate only its own secret");
			return;
		}
	}
	int idx = sto_apps_find(&nc->apps, id->p, id->len);
	memset(&ch, 0, sizeof(ch));
	if (x->opcode == HRL_OP_APP_CREATE) {
		if (id->len == strlen(HRL_ADMIN_APP_ID) && memcmp(id->p, HRL_ADMIN_APP_ID, id->len) == 0) {
			net_ctx_error(x, HRL_E_INVALID_ARGUMENT, "app id admin is reserved");
			return;
		}
		if (idx >= 0) {
			net_ctx_error(x, HRL_E_EXISTS, "an app with this id exists");
			return;
		}
		idx = sto_apps_free_index(&nc->apps);
		if (idx < 0) {
			net_ctx_error(x, HRL_E_LIMIT_EXCEEDED, "the engine holds 1024 apps at most");
			return;
		}
		memcpy(ch.app.id, id->p, id->len);
		ch.app.id_len = (uint8_t)id->len;
		ch.app.used = true;
		ch.app.created_unix_ms = unix_ms();
	} else {
		if (idx < 0) {
			net_ctx_error(x, HRL_E_NOT_FOUND, "no app with this id");
			return;
		}
		ch.app = nc->apps.apps[idx];
	}
	ch.idx = (uint32_t)idx;
	ch.app.secret_version++;
	if (fill_random(ch.app.secret, sizeof(ch.app.secret))) {
		net_ctx_error(x, HRL_E_INTERNAL, "no randomness for the secret");
		return;
	}
	if (!net_store_app_room(x))
		return;
	if (base_buf_append(&call->scratch, &ch, sizeof(ch))) {
		net_ctx_error(x, HRL_E_INTERNAL, "out of memory");
		return;
	}
	sto_apps_put(&nc->apps, ch.idx, &ch.app);
	net_store_app(x, (uint16_t)ch.idx);
	base_log(BASE_LOG_INFO, "msg=\"%s\" app=%s version=%u",
		 x->opcode == HRL_OP_APP_CREATE ? "app created" : "app secret rotated", ch.app.id,
		 ch.app.secret_version);
	net_ctx_begin(x, &w);
	if (x->opcode == HRL_OP_APP_CREATE) {
		net_wr_str(&w, ch.app.id, ch.app.id_len);
		net_wr_raw(&w, ch.app.secret, sizeof(ch.app.secret));
	} else {
		net_wr_raw(&w, ch.app.secret, sizeof(ch.app.secret));
		net_wr_u32(&w, ch.app.secret_version);
	}
	net_ctx_end(x, &w);
	app_replicate(x);
}

static int app_cmp(const void *a, const void *b)
{
	const struct sto_app *x = *(const struct sto_app *const *)a;
	const struct sto_app *y = *(const struct sto_app *const *)b;
	return strcmp(x->id, y->id);
}

static void op_app_list(struct net_ctx *x)
{
	union net_req r;
	struct net_wr w;
	static __thread const struct sto_app *sorted[HRL_APPS_MAX];
	unsigned n = 0;

	if (!decode(x, &r))
		return;
	for (unsigned i = 0; i < HRL_APPS_MAX; i++)
		if (x->nc->apps.apps[i].used)
			sorted[n++] = &x->nc->apps.apps[i];
	qsort(sorted, n, sizeof(sorted[0]), app_cmp); /* NOLINT(bugprone-sizeof-expression) */
	net_ctx_begin(x, &w);
	net_wr_u32(&w, n);
	for (unsigned i = 0; i < n; i++) {
		net_wr_str(&w, sorted[i]->id, sorted[i]->id_len);
		net_wr_u64(&w, sorted[i]->created_unix_ms);
		net_wr_u32(&w, sorted[i]->secret_version);
	}
	net_ctx_end(x, &w);
}

/* ---- alias index walk ------------------------------------------------------------------ */

static int index_op_push(struct net_ctx *x, bool add, const char *type, size_t tlen,
			 const char *alias, size_t alen, const struct net_str *user, uint32_t device_id)
{
	struct net_server *s = x->nc->srv;
	struct base_buf *b = &x->call->scratch;
	uint64_t h = sto_alias_hash(&s->cfg.hash_key, x->app_idx, type, tlen, alias, alen);
	uint16_t core = (uint16_t)net_partition_core(s, net_user_partition(s, h));
	uint8_t head[2 + 2 + 8 + 4];
	head[0] = 0;
	head[1] = add;
	memcpy(head + 2, &core, 2);
	memcpy(head + 4, &h, 8);
	memcpy(head + 12, &device_id, 4);
	uint8_t tl = (uint8_t)tlen, al = (uint8_t)alen;
	uint16_t ul = user->len;
	ALWAYS(tlen <= HRL_ALIAS_TYPE_BYTES_MAX && alen <= HRL_ALIAS_BYTES_MAX);
	if (base_buf_append(b, head, sizeof(head)) || base_buf_append(b, &tl, 1) ||
	    base_buf_append(b, type, tlen) || base_buf_append(b, &al, 1) ||
	    base_buf_append(b, alias, alen) || base_buf_append(b, &ul, 2) ||
	    base_buf_append(b, user->p, ul))
		return -ENOMEM;
	return 0;
}

/* Apply this core's pending index operations; set next_core to the next owner. */
static void index_walk(struct net_ctx *x)
{
	struct net_core *nc = x->nc;
	struct base_buf *b = &x->call->scratch;
	uint8_t *p = base_buf_head(b), *end = p + base_buf_readable(b);
	int next = -1;

	while (p < end) {
		uint8_t *op = p;
		uint16_t core;
		uint64_t h;
		uint32_t dev;
		memcpy(&core, p + 2, 2);
		memcpy(&h, p + 4, 8);
		memcpy(&dev, p + 12, 4);
		p += 16;
		uint8_t tl = *p++;
		const char *type = (const char *)p;
		p += tl;
		uint8_t al = *p++;
		const char *alias = (const char *)p;
		p += al;
		uint16_t ul;
		memcpy(&ul, p, 2);
		p += 2;
		const char *user = (const char *)p;
		p += ul;
		ALWAYS(p <= end);
		if (op[0])
			continue;
		if (core != nc->id) {
			if (next < 0)
				next = core;
			continue;
		}
		if (next >= 0)
			continue; /* keep the list's order: earlier owners first */
		op[0] = 1;
		if (op[1]) {
			if (sto_alias_add(&nc->aliases, h, x->app_idx, type, tl, alias, al, user, ul, dev))
				base_log(BASE_LOG_ERROR, "msg=\"alias index: out of memory, reference lost\"");
		} else {
			sto_alias_del(&nc->aliases, h, x->app_idx, type, tl, alias, al, user, ul, dev);
		}
	}
	x->next_core = next;
}

/* ---- user operations ----------------------------------------------------------------- */

static void op_bind(struct net_ctx *x)
{
	union net_req r;
	struct net_wr w;
	uint32_t device_id;
	bool created;

	if (!decode(x, &r))
		return;
	struct sto_user *u = user_for_change(x, &r.bind.user, true);
	if (!u)
		return;
	int rc = sto_user_bind(u, r.bind.channel, r.bind.vendor, r.bind.platform, r.bind.address.p,
			       r.bind.address.len, unix_ms(), &device_id, &created);
	if (rc) {
		net_ctx_error(x, (uint16_t)map_errno(rc),
			      rc == -ENOSPC ? "the user has 32 devices already" : "out of memory");
		return;
	}
	if (!store_user(x, u))
		return;
	net_ctx_begin(x, &w);
	net_wr_u32(&w, device_id);
	net_wr_u8(&w, created);
	net_ctx_end(x, &w);
}

/* UNBIND, ALIAS_SET, ALIAS_DEL: change the user, then walk the alias index. */
static void op_device_change(struct net_ctx *x)
{
	union net_req r;
	struct net_wr w;
	char old[HRL_ALIAS_BYTES_MAX];
	size_t old_len = 0;
	int rc = 0;

	if (x->call->step > 0) {
		index_walk(x); /* the user's change is durable: now the alias index */
		return;
	}
	if (!decode(x, &r))
		return;
	const struct net_req_device *d = &r.device;
	struct sto_user *u = find_user(x, &d->user, false);
	struct sto_device *dev = u ? sto_user_device(u, d->device_id) : NULL;
	if (!dev) {
		net_ctx_error(x, HRL_E_NOT_FOUND, u ? "the user has no device with this id" : "no such user");
		return;
	}
	if (!net_store_room(x, u))
		return;
	if (x->opcode == HRL_OP_UNBIND) {
		for (unsigned i = 0; i < dev->alias_count && !rc; i++)
			rc = index_op_push(x, false, dev->aliases[i].type.p, dev->aliases[i].type.len,
					   dev->aliases[i].alias.p, dev->aliases[i].alias.len, &d->user,
					   d->device_id);
		if (rc) {
			net_ctx_error(x, HRL_E_INTERNAL, "out of memory");
			return;
		}
		ALWAYS(sto_user_unbind(u, d->device_id) == 0);
		if (!store_user(x, u))
			return;
		net_ctx_begin(x, &w);
		net_ctx_end(x, &w);
	} else if (x->opcode == HRL_OP_ALIAS_SET) {
		/* reserve the index operations first: nothing may fail after the change */
		rc = index_op_push(x, true, d->alias_type.p, d->alias_type.len, d->alias.p,
				   d->alias.len, &d->user, d->device_id);
		if (!rc)
			rc = sto_user_alias_set(u, d->device_id, d->alias_type.p, d->alias_type.len,
						d->alias.p, d->alias.len, old, &old_len);
		if (rc) {
			net_ctx_error(x, (uint16_t)map_errno(rc),
				      rc == -ENOSPC ? "the device has 8 alias types already" : "out of memory");
			return;
		}
		if (!store_user(x, u))
			return;
		bool same = old_len == d->alias.len && memcmp(old, d->alias.p, old_len) == 0;
		if (same) {
			base_buf_consume(&x->call->scratch, base_buf_readable(&x->call->scratch));
		} else if (old_len) {
			struct base_buf add = x->call->scratch; /* put the delete first */
			memset(&x->call->scratch, 0, sizeof(x->call->scratch));
			rc = index_op_push(x, false, d->alias_type.p, d->alias_type.len, old, old_len,
					   &d->user, d->device_id);
			if (rc || base_buf_append(&x->call->scratch, base_buf_head(&add), base_buf_readable(&add)))
				base_log(BASE_LOG_ERROR, "msg=\"alias index: out of memory, stale reference kept\"");
			base_buf_free(&add);
		}
		net_ctx_begin(x, &w);
		net_wr_str(&w, old, old_len);
		net_ctx_end(x, &w);
	} else {
		rc = sto_user_alias_del(u, d->device_id, d->alias_type.p, d->alias_type.len, old, &old_len);
		if (rc) {
			net_ctx_error(x, HRL_E_NOT_FOUND, "the device has no alias of this type");
			return;
		}
		if (!store_user(x, u))
			return;
		if (index_op_push(x, false, d->alias_type.p, d->alias_type.len, old, old_len, &d->user,
				  d->device_id))
			base_log(BASE_LOG_ERROR, "msg=\"alias index: out of memory, stale reference kept\"");
		net_ctx_begin(x, &w);
		net_ctx_end(x, &w);
	}
	x->next_core = (int)x->nc->id; /* step 1, here, once durable: the index walk */
}

static void op_alias_lookup(struct net_ctx *x)
{
	union net_req r;
	struct net_wr w;

	if (!decode(x, &r))
		return;
	const struct net_req_alias_lookup *l = &r.lookup;
	uint64_t h = sto_alias_hash(&x->nc->srv->cfg.hash_key, x->app_idx, l->alias_type.p,
				    l->alias_type.len, l->alias.p, l->alias.len);
	const struct sto_alias_entry *e = sto_alias_find(&x->nc->aliases, h, x->app_idx,
							 l->alias_type.p, l->alias_type.len,
							 l->alias.p, l->alias.len);
	uint32_t n = e ? e->ref_count : 0;
	if (n > HRL_ALIAS_LOOKUP_RESULTS_MAX)
		n = HRL_ALIAS_LOOKUP_RESULTS_MAX;
	net_ctx_begin(x, &w);
	net_wr_u16(&w, (uint16_t)n);
	for (uint32_t i = 0; i < n; i++) {
		net_wr_str(&w, e->refs[i].user.p, e->refs[i].user.len);
		net_wr_u32(&w, e->refs[i].device_id);
	}
	net_ctx_end(x, &w);
}

static void op_tags(struct net_ctx *x)
{
	static __thread union net_req r; /* large: keep it off the stack */
	static __thread struct sto_bytes tags[HRL_TAGS_PER_REQUEST_MAX];
	struct net_wr w;

	if (!decode(x, &r))
		return;
	bool add = x->opcode == HRL_OP_TAG_ADD;
	struct sto_user *u = user_for_change(x, &r.tags.user, add);
	if (!u)
		return;
	for (unsigned i = 0; i < r.tags.count; i++) {
		tags[i].p = r.tags.tags[i].p;
		tags[i].len = r.tags.tags[i].len;
	}
	int n = add ? sto_user_tags_add(u, tags, r.tags.count) : sto_user_tags_del(u, tags, r.tags.count);
	if (n < 0) {
		net_ctx_error(x, (uint16_t)map_errno(n),
			      n == -ENOSPC ? "a user has 256 tags at most" : "out of memory");
		return;
	}
	if (n > 0 && !store_user(x, u)) /* nothing changed: nothing to write */
		return;
	net_ctx_begin(x, &w);
	net_wr_u16(&w, (uint16_t)n);
	net_ctx_end(x, &w);
}

static void op_attr_set(struct net_ctx *x)
{
	static __thread union net_req r;
	static __thread struct sto_bytes keys[HRL_ATTRS_PER_REQUEST_MAX], values[HRL_ATTRS_PER_REQUEST_MAX];
	struct net_wr w;

	if (!decode(x, &r))
		return;
	struct sto_user *u = user_for_change(x, &r.attrs.user, true);
	if (!u)
		return;
	for (unsigned i = 0; i < r.attrs.count; i++) {
		keys[i].p = r.attrs.keys[i].p;
		keys[i].len = r.attrs.keys[i].len;
		values[i].p = r.attrs.values[i].p;
		values[i].len = r.attrs.values[i].len;
	}
	int rc = sto_user_attrs_set(u, keys, values, r.attrs.count);
	uint16_t count = u->attr_count;
	if (rc) {
		net_ctx_error(x, (uint16_t)map_errno(rc),
			      rc == -ENOSPC ? "a user has 64 attributes at most" : "out of memory");
		return;
	}
	if (!store_user(x, u))
		return;
	net_ctx_begin(x, &w);
	net_wr_u16(&w, count);
	net_ctx_end(x, &w);
}

static void op_user_show(struct net_ctx *x)
{
	union net_req r;
	struct net_wr w;

	if (!decode(x, &r))
		return;
	const struct sto_user *u = find_user(x, &r.user.user, false);
	if (!u) {
		net_ctx_error(x, HRL_E_NOT_FOUND, "no such user");
		return;
	}
	net_ctx_begin(x, &w);
	net_wr_str(&w, u->id.p, u->id.len);
	net_wr_u16(&w, u->partition);
	net_wr_u16(&w, u->device_count);
	for (unsigned i = 0; i < u->device_count; i++) {
		const struct sto_device *d = &u->devices[i];
		net_wr_u32(&w, d->id);
		net_wr_u8(&w, d->channel);
		net_wr_u8(&w, d->vendor);
		net_wr_u8(&w, d->platform);
		net_wr_u8(&w, d->state);
		net_wr_u64(&w, d->bound_unix_ms);
		net_wr_str(&w, d->address.p, d->address.len);
		net_wr_u8(&w, d->alias_count);
		for (unsigned a = 0; a < d->alias_count; a++) {
			net_wr_str(&w, d->aliases[a].type.p, d->aliases[a].type.len);
			net_wr_str(&w, d->aliases[a].alias.p, d->aliases[a].alias.len);
		}
	}
	net_wr_u16(&w, u->tag_count);
	for (unsigned i = 0; i < u->tag_count; i++)
		net_wr_str(&w, u->tags[i].p, u->tags[i].len);
	net_wr_u16(&w, u->attr_count);
	for (unsigned i = 0; i < u->attr_count; i++) {
		net_wr_str(&w, u->attrs[i].key.p, u->attrs[i].key.len);
		net_wr_str(&w, u->attrs[i].value.p, u->attrs[i].value.len);
	}
	net_ctx_end(x, &w);
}

/* ---- the table ----------------------------------------------------------------------- */

#define ANY (NET_ROLE_NONE | NET_ROLE_APP | NET_ROLE_ADMIN)
#define AUTHED (NET_ROLE_APP | NET_ROLE_ADMIN)

/* ---- receipts, history, counters ----------------------------------------------------------- */

static void op_receipt_put(struct net_ctx *x)
{
	union net_req r;
	struct net_wr w;
	struct net_core *nc = x->nc;
	struct net_server *s = nc->srv;

	if (!decode(x, &r))
		return;
	const struct net_req_receipt *q = &r.receipt;
	uint64_t now = nc->evlog.unix_ms_cached; /* the time the record will carry */
	if (q->event_unix_ms > now + HRL_EVENT_FUTURE_MS_MAX) {
		net_ctx_error(x, HRL_E_INVALID_ARGUMENT, "event_unix_ms is more than 24 h ahead of the engine's clock");
		return;
	}
	uint64_t h = x->user_hash ? x->user_hash : sto_user_hash(&s->cfg.hash_key, x->app_idx, q->user.p, q->user.len);
	uint32_t part = net_user_partition(s, h);
	ALWAYS(net_partition_core(s, part) == nc->id);
	struct sto_receipt rec = {
		.message_id = q->message_id,
		.campaign_id = q->campaign_id,
		.user_hash = h,
		.event_unix_ms = q->event_unix_ms ? q->event_unix_ms : now,
		.app_idx = x->app_idx,
		.channel = q->channel,
		.vendor = q->vendor,
		.state = q->state,
		.reason_len = (uint8_t)q->reason.len,
		.user_len = (uint8_t)q->user.len,
		.reason = q->reason.p,
		.user_id = q->user.p,
	};
	int rc = sto_events_room(&nc->events, &rec);
	if (rc == -ENOBUFS && x->call && (nc->evlog.inflight_len || nc->evlog.buf_len != nc->evlog.flushed_len)) {
		x->retry = true; /* a flush is coming: wait for it rather than refuse */
		return;
	}
	if (rc == -ENOSPC) {
		net_ctx_error(x, HRL_E_LIMIT_EXCEEDED, "this core's counter table is full (262144 app x campaign x channel x state keys per run)");
		return;
	}
	if (rc) {
		net_ctx_error(x, rc == -ENOBUFS ? HRL_E_BUSY : HRL_E_STORE,
			      rc == -ENOBUFS ? "the store's write buffer is full; retry"
					     : "the store cannot write (I/O error); nothing was recorded");
		return;
	}
	uint64_t lsn;
	sto_events_append(&nc->events, &rec, (uint16_t)part, &lsn);
	x->wait_lsn = lsn + 1;
	x->wait_events = true;
	net_ctx_begin(x, &w);
	net_wr_u64(&w, now);
	net_ctx_end(x, &w);
}

#define HIST_REASON_MAX HRL_REASON_BYTES_MAX

struct hist_page {
	unsigned n;
	struct {
		struct sto_receipt r;
		char reason[HIST_REASON_MAX];
	} items[HRL_HISTORY_LIMIT_MAX];
};

static int hist_collect(void *arg, const struct sto_receipt *r)
{
	struct hist_page *pg = arg;
	ALWAYS(pg->n < HRL_HISTORY_LIMIT_MAX);
	pg->items[pg->n].r = *r;
	memcpy(pg->items[pg->n].reason, r->reason, r->reason_len);
	pg->items[pg->n].r.reason = pg->items[pg->n].reason;
	pg->items[pg->n].r.user_id = NULL;
	pg->n++;
	return 0;
}

static void op_history(struct net_ctx *x)
{
	static __thread struct hist_page pg;
	union net_req r;
	struct net_wr w;
	struct net_core *nc = x->nc;
	struct net_server *s = nc->srv;

	if (!decode(x, &r))
		return;
	const struct net_req_history *q = &r.history;
	struct sto_pos cursor, next = { 0 };
	bool start, more;
	if (sto_pos_decode(q->cursor, s->cfg.events.epoch, &cursor, &start)) {
		net_ctx_error(x, HRL_E_INVALID_ARGUMENT, "cursor is not one this engine gave out");
		return;
	}
	uint64_t h = x->user_hash ? x->user_hash : sto_user_hash(&s->cfg.hash_key, x->app_idx, q->user.p, q->user.len);
	pg.n = 0;
	int rc = sto_events_history(&nc->events, h, x->app_idx, q->user.p, q->user.len, &cursor, start, q->limit,
				    hist_collect, &pg, &next, &more);
	if (rc) {
		net_ctx_error(x, HRL_E_STORE, "the store could not read the history");
		return;
	}
	uint8_t out_cursor[HRL_CURSOR_BYTES] = { 0 };
	if (more)
		sto_pos_encode(&next, out_cursor);
	net_ctx_begin(x, &w);
	net_wr_u16(&w, (uint16_t)pg.n);
	for (unsigned i = 0; i < pg.n; i++) {
		const struct sto_receipt *e = &pg.items[i].r;
		net_wr_u64(&w, e->message_id);
		net_wr_u64(&w, e->campaign_id);
		net_wr_u8(&w, e->channel);
		net_wr_u8(&w, e->vendor);
		net_wr_u8(&w, e->state);
		net_wr_u64(&w, e->event_unix_ms);
		net_wr_u64(&w, e->recorded_unix_ms);
		net_wr_str(&w, e->reason, e->reason_len);
	}
	net_wr_raw(&w, out_cursor, sizeof(out_cursor));
	net_ctx_end(x, &w);
}

/* CAMPAIGN_COUNTERS: core 0 starts the sums (with the counts of earlier runs), every core adds its own. */
struct counter_sums {
	uint64_t campaign;
	uint64_t v[HRL_CH_COUNT][HRL_STATE_COUNT];
};

static void counters_add_core(struct counter_sums *cs, const struct sto_counters *t, uint16_t app)
{
	for (unsigned ch = 1; ch < HRL_CH_COUNT; ch++)
		for (unsigned st = 1; st < HRL_STATE_COUNT; st++)
			cs->v[ch][st] += sto_counters_get(t, app, cs->campaign, (uint8_t)ch, (uint8_t)st);
}

static void op_campaign_counters(struct net_ctx *x)
{
	struct net_call *call = x->call;
	struct net_core *nc = x->nc;
	struct net_server *s = nc->srv;
	struct counter_sums *cs;

	if (call->step == 0) {
		union net_req r;
		struct counter_sums zero = { 0 };
		if (!decode(x, &r))
			return;
		zero.campaign = r.campaign.campaign_id;
		if (base_buf_append(&call->scratch, &zero, sizeof(zero))) {
			net_ctx_error(x, HRL_E_INTERNAL, "out of memory");
			return;
		}
		cs = (struct counter_sums *)base_buf_head(&call->scratch);
		counters_add_core(cs, &s->counters_base, x->app_idx); /* read-only after start */
	}
	ALWAYS(call->step == nc->id);
	cs = (struct counter_sums *)base_buf_head(&call->scratch);
	counters_add_core(cs, &nc->events.counters, x->app_idx);
	if (nc->id + 1 < s->ncores) {
		x->next_core = (int)nc->id + 1;
		return;
	}
	struct net_wr w;
	uint16_t n = 0;
	for (unsigned ch = 1; ch < HRL_CH_COUNT; ch++)
		for (unsigned st = 1; st < HRL_STATE_COUNT; st++)
			n += cs->v[ch][st] != 0;
	net_ctx_begin(x, &w);
	net_wr_u16(&w, n);
	for (unsigned ch = 1; ch < HRL_CH_COUNT; ch++)
		for (unsigned st = 1; st < HRL_STATE_COUNT; st++)
			if (cs->v[ch][st]) {
				net_wr_u8(&w, (uint8_t)ch);
				net_wr_u8(&w, (uint8_t)st);
				net_wr_u64(&w, cs->v[ch][st]);
			}
	net_ctx_end(x, &w);
}

const struct net_op_desc net_ops[HRL_OP_TABLE_SIZE] = {
	[HRL_OP_HELLO] = { op_hello, ANY, NET_ROUTE_HERE, false },
	[HRL_OP_AUTH] = { op_auth, ANY, NET_ROUTE_HERE, false },
	[HRL_OP_PING] = { op_ping, ANY, NET_ROUTE_HERE, false },
	[HRL_OP_STATS] = { op_stats, AUTHED, NET_ROUTE_ALL, true },
	[HRL_OP_STORE_STATS] = { op_store_stats, AUTHED, NET_ROUTE_ALL, true },
	[HRL_OP_APP_CREATE] = { op_app_change, NET_ROLE_ADMIN, NET_ROUTE_APPS, true, true },
	[HRL_OP_APP_LIST] = { op_app_list, NET_ROLE_ADMIN, NET_ROUTE_HERE, false },
	[HRL_OP_APP_ROTATE] = { op_app_change, AUTHED, NET_ROUTE_APPS, true, true },
	[HRL_OP_BIND] = { op_bind, NET_ROLE_APP, NET_ROUTE_USER, false, true },
	[HRL_OP_UNBIND] = { op_device_change, NET_ROLE_APP, NET_ROUTE_USER, true, true },
	[HRL_OP_ALIAS_SET] = { op_device_change, NET_ROLE_APP, NET_ROUTE_USER, true, true },
	[HRL_OP_ALIAS_DEL] = { op_device_change, NET_ROLE_APP, NET_ROUTE_USER, true, true },
	[HRL_OP_ALIAS_LOOKUP] = { op_alias_lookup, NET_ROLE_APP, NET_ROUTE_ALIAS, false },
	[HRL_OP_TAG_ADD] = { op_tags, NET_ROLE_APP, NET_ROUTE_USER, false, true },
	[HRL_OP_TAG_DEL] = { op_tags, NET_ROLE_APP, NET_ROUTE_USER, false, true },
	[HRL_OP_ATTR_SET] = { op_attr_set, NET_ROLE_APP, NET_ROUTE_USER, false, true },
	[HRL_OP_USER_SHOW] = { op_user_show, NET_ROLE_APP, NET_ROUTE_USER, false },
	[HRL_OP_RECEIPT_PUT] = { op_receipt_put, NET_ROLE_APP, NET_ROUTE_USER, false, true },
	[HRL_OP_HISTORY] = { op_history, NET_ROLE_APP, NET_ROUTE_USER, false },
	[HRL_OP_CAMPAIGN_COUNTERS] = { op_campaign_counters, NET_ROLE_APP, NET_ROUTE_ALL, true },
	[HRL_OP_CAMPAIGN_CREATE] = { net_op_campaign_create, NET_ROLE_APP, NET_ROUTE_APPS, true, true },
	[HRL_OP_CAMPAIGN_STATUS] = { net_op_campaign_status, NET_ROLE_APP, NET_ROUTE_ALL, true },
	[HRL_OP_CAMPAIGN_CONTROL] = { net_op_campaign_control, NET_ROLE_APP, NET_ROUTE_APPS, true, true },
	[HRL_OP_VENDOR_SET] = { net_op_vendor_set, NET_ROLE_APP, NET_ROUTE_APPS, true, true },
	[HRL_OP_VENDOR_LIST] = { net_op_vendor_list, NET_ROLE_APP, NET_ROUTE_HERE, false },
	[HRL_OP_CAMPAIGN_UPLOAD] = { net_op_campaign_upload, NET_ROLE_APP, NET_ROUTE_ALL, true, true },
};
