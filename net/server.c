/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c - listeners, connections, framing and request routing; see
 * server.h for the path of a request and docs/PROTOCOL.md for the wire.
 *
 * Connection life:
 *   accepted -> recv armed (multishot, provided buffers)
 *   frames parsed as bytes arrive; answers appended to `out`
 *   before the loop sleeps, `out` is swapped with `sending` and sent
 *   EOF / drain: no more reading; close once in-flight answers are sent
 *   close: shutdown(2) the socket, wait for every io_uring op and every
 *   call on another core to come back, then close(2) and free.
 * A connection is paused (input kept, not parsed) while it has
 * HRL_CONN_INFLIGHT_MAX requests on other cores or HRL_CONN_OUT_BYTES_MAX
 * of answers unsent; its receive is cancelled if input piles up meanwhile.
 */
#include "net/server.h"
#include "net/fanout.h"
#include "net/http1.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/crc32c.h"
#include "base/log.h"
#include "store/record.h"

#ifdef HRL_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

enum net_op_kind {
	NET_OP_ACCEPT = IOU_OP_USER,
	NET_OP_RECV,
	NET_OP_SEND,
};

enum net_msg_kind {
	NET_MSG_CALL = 0,  /* run the call's next step here */
	NET_MSG_REPLY = 1, /* the call is done: deliver its answer */
};

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

static pthread_barrier_t start_barrier;


uint32_t net_user_partition(const struct net_server *s, uint64_t user_hash)
{
	return base_hash_reduce(user_hash, s->cfg.partitions);
}

/* ---- answers ------------------------------------------------------------------ */

void net_ctx_begin(struct net_ctx *x, struct net_wr *w)
{
	net_wr_begin(w, x->out, x->opcode, HRL_FLAG_RESPONSE, x->request_id);
}

void net_ctx_error(struct net_ctx *x, uint16_t code, const char *msg)
{
	if (x->call)
		x->out->len = x->out->off = 0; /* a call's buffer holds only its answer */
	if (net_wr_error(x->out, x->opcode, x->request_id, code, msg))
		base_log(BASE_LOG_ERROR, "msg=\"cannot encode error answer\" code=%u", code);
}

void net_ctx_end(struct net_ctx *x, struct net_wr *w)
{
	int rc = net_wr_end(w);
	if (rc)
		net_ctx_error(x, HRL_E_INTERNAL,
			      rc == -EMSGSIZE ? "answer exceeds the frame size limit" : "out of memory");
}

/* ---- connection table ------------------------------------------------------------ */

static struct net_conn *conn_lookup(struct net_core *nc, uint32_t idx, uint32_t gen)
{
	if (idx >= nc->conn_cap)
		return NULL;
	struct net_conn *c = nc->conns[idx];
	return c && c->gen == gen ? c : NULL;
}

static struct net_conn *conn_new(struct net_core *nc, int fd)
{
	if (!nc->free_count) {
		uint32_t cap = nc->conn_cap ? nc->conn_cap * 2 : 256;
		if (cap > HRL_CONNS_PER_CORE_MAX)
			return NULL;
		struct net_conn **t = realloc(nc->conns, cap * sizeof(*t)); /* NOLINT(bugprone-sizeof-expression) */
		if (!t)
			return NULL;
		nc->conns = t;
		uint32_t *f = realloc(nc->free_idx, cap * sizeof(*f));
		if (!f)
			return NULL;
		nc->free_idx = f;
		for (uint32_t i = cap; i > nc->conn_cap; i--) {
			nc->conns[i - 1] = NULL;
			nc->free_idx[nc->free_count++] = i - 1;
		}
		nc->conn_cap = cap;
	}
	struct net_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->idx = nc->free_idx[--nc->free_count];
	c->gen = ++nc->next_gen;
	c->fd = fd;
	c->nc = nc;
	c->recv_op.kind = NET_OP_RECV;
	c->send_op.kind = NET_OP_SEND;
	nc->conns[c->idx] = c;
	nc->conns_open++;
	return c;
}

static void conn_maybe_free(struct net_conn *c)
{
	if (!c->closing || c->ops_pending || c->inflight)
		return;
	struct net_core *nc = c->nc;
	if (c->dirty) {
		/* unlink from the flush list */
		struct net_conn **pp = &nc->dirty;
		while (*pp && *pp != c)
			pp = &(*pp)->dirty_next;
		if (*pp)
			*pp = c->dirty_next;
	}
	close(c->fd);
	base_buf_free(&c->in);
	base_buf_free(&c->out);
	base_buf_free(&c->sending);
	nc->conns[c->idx] = NULL;
	nc->free_idx[nc->free_count++] = c->idx;
	nc->conns_open--;
	free(c);
}

/*
 * Start closing. Never frees: every top-level handler (completion, message,
 * tick) ends with exactly one conn_maybe_free and does not touch c after.
 */
static void conn_close(struct net_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	shutdown(c->fd, SHUT_RDWR); /* ends the armed recv and any send */
	if (c->recv_armed) {
		struct io_uring_sqe *sqe = iou_sqe(&c->nc->io);
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&c->recv_op, 0);
		io_uring_sqe_set_data(sqe, &c->nc->io.ignore_op);
	}
	/* freed by conn_maybe_free at the end of the handler that got us here */
}

void net_conn_close_after_flush(struct net_conn *c)
{
	c->close_after_flush = true;
}

static void conn_mark_dirty(struct net_conn *c)
{
	if (c->dirty || c->closing)
		return;
	c->dirty = true;
	c->dirty_next = c->nc->dirty;
	c->nc->dirty = c;
}

static bool conn_idle_out(const struct net_conn *c)
{
	return !c->send_busy && !base_buf_readable(&c->out) && !base_buf_readable(&c->sending);
}

/* Close a connection that has nothing more to do. */
static void conn_check_done(struct net_conn *c)
{
	if (c->closing)
		return;
	if (!conn_idle_out(c))
		return;
	if (c->close_after_flush || (c->rd_closed && !c->inflight && !c->paused))
		conn_close(c); /* calls still out keep the memory until they are back */
}

static void conn_arm_recv(struct net_conn *c)
{
	if (c->recv_armed || c->closing || c->rd_closed)
		return;
	struct io_uring_sqe *sqe = iou_sqe(&c->nc->io);
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = IOU_BUF_GROUP;
	io_uring_sqe_set_data(sqe, &c->recv_op);
	c->recv_armed = true;
	c->ops_pending++;
}

static bool conn_over_limits(const struct net_conn *c)
{
	return c->inflight >= HRL_CONN_INFLIGHT_MAX ||
	       base_buf_readable(&c->out) + base_buf_readable(&c->sending) > HRL_CONN_OUT_BYTES_MAX;
}

/* ---- routing of requests ------------------------------------------------------------ */

/*
 * Calls come from a per-core free list when their body fits NET_CALL_BODY_POOLED:
 * a request that changes the store is always a call, even on its own core,
 * so this is on the path of every BIND. Pooled calls keep their answer and
 * scratch buffers for the next one. The origin core allocates and frees.
 */
#define NET_CALL_BODY_POOLED 512u
#define NET_CALL_POOL_MAX    4096u

static struct net_call *call_alloc(struct net_core *nc, uint32_t body_len)
{
	struct net_call *call;
	if (body_len <= NET_CALL_BODY_POOLED && nc->call_pool) {
		call = nc->call_pool;
		nc->call_pool = call->wait_next;
		nc->call_pool_count--;
		struct base_buf resp = call->resp, scratch = call->scratch;
		memset(call, 0, sizeof(*call));
		call->resp = resp;
		call->scratch = scratch;
		call->resp.off = call->resp.len = 0;
		call->scratch.off = call->scratch.len = 0;
		return call;
	}
	call = malloc(sizeof(*call) + (body_len <= NET_CALL_BODY_POOLED ? NET_CALL_BODY_POOLED : body_len));
	if (call)
		memset(call, 0, sizeof(*call));
	return call;
}

static void call_free(struct net_core *nc, struct net_call *call)
{
	if (call->body_len <= NET_CALL_BODY_POOLED && nc->call_pool_count < NET_CALL_POOL_MAX &&
	    call->resp.cap <= 4096 && call->scratch.cap <= 4096) {
		call->wait_next = nc->call_pool;
		nc->call_pool = call;
		nc->call_pool_count++;
		return;
	}
	base_buf_free(&call->resp);
	base_buf_free(&call->scratch);
	free(call);
}

static void call_pool_free(struct net_core *nc)
{
	while (nc->call_pool) {
		struct net_call *call = nc->call_pool;
		nc->call_pool = call->wait_next;
		base_buf_free(&call->resp);
		base_buf_free(&call->scratch);
		free(call);
	}
	nc->call_pool_count = 0;
}

static void conn_resume(struct net_conn *c);

static void call_deliver(struct net_core *nc, struct net_call *call)
{
	struct net_conn *c = conn_lookup(nc, call->conn_idx, call->conn_gen);
	if (c) {
		ALWAYS(c->inflight > 0);
		c->inflight--;
		if (!c->closing) {
			if (base_buf_append(&c->out, base_buf_head(&call->resp), base_buf_readable(&call->resp)))
				conn_close(c); /* out of memory: the client sees EOF, not a wrong answer */
			else
				conn_mark_dirty(c);
		}
	}
	call_free(nc, call);
	if (c) {
		conn_resume(c);
		conn_check_done(c);
		conn_maybe_free(c);
	}
}

static void call_finish(struct net_core *nc, struct net_call *call)
{
	if (call->origin == nc->id) {
		call_deliver(nc, call);
	} else {
		struct iou_msg m = { .kind = NET_MSG_REPLY, .src_core = (uint16_t)nc->id, .ptr = call };
		iou_send(&nc->io, call->origin, &m);
	}
}

static void call_park(struct net_core *nc, struct net_call *call, uint64_t lsn, int resume_core, bool events)
{
	struct net_call **head = events ? &nc->ev_wait_head : &nc->wait_head;
	struct net_call **tail = events ? &nc->ev_wait_tail : &nc->wait_tail;
	call->wait_lsn = lsn;
	call->resume_core = resume_core;
	call->wait_stream = events ? STO_STREAM_EVENTS : STO_STREAM_STATE;
	call->wait_next = NULL;
	if (*tail)
		(*tail)->wait_next = call;
	else
		*head = call;
	*tail = call;
}

static void call_run(struct net_core *nc, struct net_call *call, unsigned core);

static void room_park(struct net_core *nc, struct net_call *call)
{
	call->wait_next = NULL;
	if (nc->room_tail)
		nc->room_tail->wait_next = call;
	else
		nc->room_head = call;
	nc->room_tail = call;
}

/* Run again the calls that found the log full (they changed nothing yet). */
static void room_retry(struct net_core *nc)
{
	struct net_call *list = nc->room_head;
	nc->room_head = nc->room_tail = NULL;
	while (list) {
		struct net_call *call = list;
		list = call->wait_next;
		call_run(nc, call, nc->id);
	}
}

/* A log is durable below lsn: answer or continue every call waiting on it. */
static void answer_durable(struct net_core *nc, struct net_call **head, struct net_call **tail, uint64_t lsn)
{
	while (*head && (*head)->wait_lsn < lsn) {
		struct net_call *call = *head;
		*head = call->wait_next;
		if (!*head)
			*tail = NULL;
		if (call->resume_core >= 0)
			call_run(nc, call, (unsigned)call->resume_core);
		else
			call_finish(nc, call);
	}
	room_retry(nc);
}

/* Everything from lsn on is lost: every call waiting on that log is answered E_STORE. */
static void answer_failed(struct net_core *nc, struct net_call **head, struct net_call **tail, int err)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "the store could not make the change durable (%s); it was not applied",
		 strerror(-err));
	while (*head) {
		struct net_call *call = *head;
		*head = call->wait_next;
		if (!*head)
			*tail = NULL;
		call->resp.off = call->resp.len = 0;
		if (net_wr_error(&call->resp, call->opcode, call->request_id, HRL_E_STORE, msg))
			base_log(BASE_LOG_ERROR, "msg=\"cannot encode error answer\"");
		call_finish(nc, call);
	}
	room_retry(nc); /* a new segment is open: there is room again */
}

static void on_durable(struct sto_log *l, uint64_t lsn)
{
	struct net_core *nc = net_core_of(l->io);
	answer_durable(nc, &nc->wait_head, &nc->wait_tail, lsn);
}

static void on_failed(struct sto_log *l, uint64_t lsn, int err)
{
	struct net_core *nc = net_core_of(l->io);
	net_compact_restart(nc);
	answer_failed(nc, &nc->wait_head, &nc->wait_tail, err);
}

static void on_ev_durable(struct sto_log *l, uint64_t lsn)
{
	struct net_core *nc = net_core_of(l->io);
	sto_events_on_durable(&nc->events, lsn);
	answer_durable(nc, &nc->ev_wait_head, &nc->ev_wait_tail, lsn);
}

static void on_ev_failed(struct sto_log *l, uint64_t lsn, int err)
{
	struct net_core *nc = net_core_of(l->io);
	sto_events_on_failed(&nc->events);
	answer_failed(nc, &nc->ev_wait_head, &nc->ev_wait_tail, err);
}

static void on_ev_undo(struct sto_log *l, const struct sto_rec_hdr *h, const uint8_t *payload, uint64_t prev_loc)
{
	sto_events_on_undo(&net_core_of(l->io)->events, h, payload);
}

static void on_ev_opened(struct sto_log *l)
{
	struct net_core *nc = net_core_of(l->io);
	if (nc->events.log) /* not before the events are set up */
		sto_events_on_opened(&nc->events);
}

static const struct sto_log_hooks ev_hooks = {
	.durable = on_ev_durable,
	.undo = on_ev_undo,
	.failed = on_ev_failed,
	.opened = on_ev_opened,
};

/* Run the call's steps while they are on this core; ship it when not. */
static void call_run(struct net_core *nc, struct net_call *call, unsigned core)
{
	for (;;) {
		if (core != nc->id) {
			struct iou_msg m = { .kind = NET_MSG_CALL, .src_core = (uint16_t)nc->id, .ptr = call };
			iou_send(&nc->io, core, &m);
			return;
		}
		struct net_ctx x = {
			.nc = nc,
			.call = call,
			.opcode = call->opcode,
			.request_id = call->request_id,
			.app_idx = call->app_idx,
			.role = call->role,
			.body = call->body,
			.body_len = call->body_len,
			.out = &call->resp,
			.next_core = -1,
			.user_hash = call->user_hash,
		};
		net_ops[call->opcode].fn(&x);
		if (x.retry) {
			room_park(nc, call); /* same step again once the log has room */
			return;
		}
		call->step++;
		if (x.wait_lsn && nc->log.cfg->fsync_mode == STO_FSYNC_ALWAYS) {
			call_park(nc, call, x.wait_lsn, x.next_core, x.wait_events);
			return;
		}
		if (x.next_core < 0)
			break;
		ALWAYS((unsigned)x.next_core < nc->srv->ncores);
		core = (unsigned)x.next_core;
	}
	call_finish(nc, call);
}

static void on_msg_call(struct iou_core *io, const struct iou_msg *m)
{
	call_run(net_core_of(io), m->ptr, io->id);
}

static void on_msg_reply(struct iou_core *io, const struct iou_msg *m)
{
	call_deliver(net_core_of(io), m->ptr);
}

/* Where a request runs first. Malformed bodies run here and get E_BAD_BODY. */
static unsigned route_target(struct net_core *nc, struct net_conn *c, const struct net_op_desc *d,
			     const uint8_t *body, uint32_t len, uint64_t *user_hash)
{
	struct net_server *s = nc->srv;
	struct net_rd r;
	const char *a, *b;
	size_t alen, blen;

	switch (d->route) {
	case NET_ROUTE_USER:
		net_rd_init(&r, body, len);
		alen = net_rd_str(&r, &a);
		if (r.bad)
			return nc->id;
		*user_hash = sto_user_hash(&s->cfg.hash_key, c->app_idx, a, alen);
		return net_partition_core(s, net_user_partition(s, *user_hash));
	case NET_ROUTE_ALIAS:
		net_rd_init(&r, body, len);
		alen = net_rd_str(&r, &a);
		blen = net_rd_str(&r, &b);
		if (r.bad)
			return nc->id;
		return net_partition_core(s, net_user_partition(s, sto_alias_hash(&s->cfg.hash_key, c->app_idx, a, alen, b, blen)));
	case NET_ROUTE_APPS:
	case NET_ROUTE_ALL:
		return 0;
	default:
		return nc->id;
	}
}

static void conn_error(struct net_conn *c, uint16_t opcode, uint64_t request_id, uint16_t code,
		       const char *msg)
{
	if (net_wr_error(&c->out, opcode, request_id, code, msg))
		conn_close(c);
	else
		conn_mark_dirty(c);
}

static void conn_frame(struct net_conn *c, const struct net_hdr *h, const uint8_t *body)
{
	struct net_core *nc = c->nc;

	nc->requests_total++;
	if (base_crc32c(0, body, h->body_len) != h->body_crc) {
		conn_error(c, h->opcode, h->request_id, HRL_E_BAD_CRC, "body_crc does not match the body");
		return;
	}
	if (h->opcode >= HRL_OP_TABLE_SIZE || !net_ops[h->opcode].fn) {
		conn_error(c, h->opcode, h->request_id, HRL_E_UNKNOWN_OPCODE, "unknown opcode");
		return;
	}
	const struct net_op_desc *d = &net_ops[h->opcode];
	if (!c->hello && h->opcode != HRL_OP_HELLO) {
		conn_error(c, h->opcode, h->request_id, HRL_E_HELLO_REQUIRED, "send HELLO first");
		return;
	}
	uint8_t role_bit = !c->authed ? NET_ROLE_NONE :
			   c->role == HRL_ROLE_ADMIN ? NET_ROLE_ADMIN : NET_ROLE_APP;
	if (!(d->roles & role_bit)) {
		if (!c->authed)
			conn_error(c, h->opcode, h->request_id, HRL_E_AUTH_REQUIRED, "AUTH first");
		else
			conn_error(c, h->opcode, h->request_id, HRL_E_FORBIDDEN,
				   c->role == HRL_ROLE_ADMIN ? "admin cannot do this; authenticate as an app"
							     : "this operation needs the admin credential");
		return;
	}
	if (nc->draining) {
		conn_error(c, h->opcode, h->request_id, HRL_E_SHUTTING_DOWN, "engine is shutting down");
		return;
	}
	uint64_t user_hash = 0;
	unsigned target = route_target(nc, c, d, body, h->body_len, &user_hash);
	if (target == nc->id && !d->multi_step && !d->mutates) {
		struct net_ctx x = {
			.nc = nc,
			.conn = c,
			.opcode = h->opcode,
			.request_id = h->request_id,
			.app_idx = c->app_idx,
			.role = c->role,
			.body = body,
			.body_len = h->body_len,
			.out = &c->out,
			.next_core = -1,
			.user_hash = user_hash,
		};
		d->fn(&x);
		NEVER(x.next_core >= 0);
		conn_mark_dirty(c);
		return;
	}
	struct net_call *call = call_alloc(nc, h->body_len);
	if (!call) {
		conn_error(c, h->opcode, h->request_id, HRL_E_INTERNAL, "out of memory");
		return;
	}
	call->opcode = h->opcode;
	call->origin = (uint16_t)nc->id;
	call->app_idx = c->app_idx;
	call->role = c->role;
	call->conn_idx = c->idx;
	call->conn_gen = c->gen;
	call->request_id = h->request_id;
	call->user_hash = user_hash;
	call->body_len = h->body_len;
	memcpy(call->body, body, h->body_len);
	c->inflight++;
	if (target != nc->id)
		nc->forwarded_total++;
	call_run(nc, call, target);
}

/* Cut frames out of p[0..n). Returns the bytes consumed. */
static size_t conn_parse(struct net_conn *c, const uint8_t *p, size_t n)
{
	size_t used = 0;
	bool progressed = false;

	c->ops_pending++; /* a call finishing inline must not free c under us */
	while (!c->paused && !c->close_after_flush && !c->closing) {
		size_t left = n - used;
		struct net_hdr h;
		if (left < HRL_FRAME_HEADER_BYTES)
			break;
		net_hdr_decode(p + used, &h);
		int rc = net_hdr_check(&h, 0);
		if (rc == -HRL_E_BAD_MAGIC) {
			conn_error(c, 0, 0, HRL_E_BAD_MAGIC, "frame does not start with HRLD; closing");
			c->close_after_flush = true;
			used = n;
			break;
		}
		if (rc == -HRL_E_FRAME_TOO_LARGE) {
			conn_error(c, h.opcode, h.request_id, HRL_E_FRAME_TOO_LARGE,
				   "body_len exceeds 1048576; closing");
			c->close_after_flush = true;
			used = n;
			break;
		}
		if (left - HRL_FRAME_HEADER_BYTES < h.body_len)
			break;
		const uint8_t *body = p + used + HRL_FRAME_HEADER_BYTES;
		used += HRL_FRAME_HEADER_BYTES + h.body_len;
		progressed = true;
		if (rc == -HRL_E_UNSUPPORTED_VERSION)
			conn_error(c, h.opcode, h.request_id, HRL_E_UNSUPPORTED_VERSION,
				   "header version must be 1");
		else if (rc == -HRL_E_BAD_FLAGS)
			conn_error(c, h.opcode, h.request_id, HRL_E_BAD_FLAGS,
				   "request flags must be 0");
		else
			conn_frame(c, &h, body);
		if (conn_over_limits(c))
			c->paused = true;
	}
	c->ops_pending--;
	if (used < n && (progressed || !c->partial_since_ms))
		c->partial_since_ms = c->nc->io.now_ms;
	else if (used == n)
		c->partial_since_ms = 0;
	return used;
}

static void conn_parse_in(struct net_conn *c)
{
	size_t used = conn_parse(c, base_buf_head(&c->in), base_buf_readable(&c->in));
	base_buf_consume(&c->in, used);
	if (c->close_after_flush)
		base_buf_consume(&c->in, base_buf_readable(&c->in));
}

static void conn_resume(struct net_conn *c)
{
	if (!c->paused || conn_over_limits(c) || c->closing)
		return;
	c->paused = false;
	conn_parse_in(c);
	if (!c->paused)
		conn_arm_recv(c);
}

static void conn_feed(struct net_conn *c, const uint8_t *p, size_t n)
{
	if (c->close_after_flush || c->closing)
		return; /* nothing more is read from a connection being closed */
	if (base_buf_readable(&c->in) || c->paused) {
		if (base_buf_append(&c->in, p, n)) {
			conn_close(c);
			return;
		}
		if (!c->paused)
			conn_parse_in(c);
	} else {
		size_t used = conn_parse(c, p, n);
		if (used < n && !c->close_after_flush && base_buf_append(&c->in, p + used, n - used)) {
			conn_close(c);
			return;
		}
	}
	if (c->paused && c->recv_armed && base_buf_readable(&c->in) > HRL_CONN_IN_BYTES_MAX) {
		struct io_uring_sqe *sqe = iou_sqe(&c->nc->io);
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&c->recv_op, 0);
		io_uring_sqe_set_data(sqe, &c->nc->io.ignore_op);
	}
}

/* ---- completions ------------------------------------------------------------------ */

static void arm_accept(struct net_core *nc)
{
	struct io_uring_sqe *sqe = iou_sqe(&nc->io);
	io_uring_prep_multishot_accept(sqe, nc->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data(sqe, &nc->accept_op);
	nc->accept_armed = true;
}

static void on_accept(struct iou_core *io, struct iou_op *op, struct io_uring_cqe *cqe)
{
	struct net_core *nc = net_core_of(io);
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		nc->accept_armed = false;
		if (!nc->draining && nc->listen_fd >= 0)
			arm_accept(nc);
	}
	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED && cqe->res != -EINVAL)
			base_log(BASE_LOG_WARN, "msg=\"accept failed\" err=%d", cqe->res);
		return;
	}
	int fd = cqe->res;
	if (nc->draining) {
		close(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct net_conn *c = conn_new(nc, fd);
	if (!c) {
		base_log(BASE_LOG_WARN, "msg=\"connection refused: table full or out of memory\"");
		close(fd);
		return;
	}
	nc->accepted_total++;
	conn_arm_recv(c);
}

static void on_recv(struct iou_core *io, struct iou_op *op, struct io_uring_cqe *cqe)
{
	struct net_conn *c = container_of(op, struct net_conn, recv_op);
	struct net_core *nc = c->nc;
	bool more = cqe->flags & IORING_CQE_F_MORE;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (cqe->res > 0)
			conn_feed(c, iou_buf_addr(io, bid), (size_t)cqe->res);
		iou_buf_recycle(io, bid);
	}
	if (!more) {
		c->recv_armed = false;
		ALWAYS(c->ops_pending > 0);
		c->ops_pending--;
	}
	if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED)) {
		c->rd_closed = true; /* EOF or error: answer what is in flight, then close */
		if (cqe->res < 0 && cqe->res != -ECONNRESET)
			base_log(BASE_LOG_DEBUG, "msg=\"recv failed\" err=%d", cqe->res);
		if (cqe->res < 0)
			conn_close(c);
	} else if (!more && !c->closing && !c->paused) {
		if (cqe->res == -ENOBUFS) {
			/* every buffer is in use: retry once this iteration returns some */
			c->rearm_next = nc->rearm;
			nc->rearm = c;
			c->ops_pending++; /* hold the connection until re-armed */
		} else {
			conn_arm_recv(c);
		}
	}
	conn_check_done(c);
	conn_maybe_free(c);
}

static void on_send(struct iou_core *io, struct iou_op *op, struct io_uring_cqe *cqe)
{
	struct net_conn *c = container_of(op, struct net_conn, send_op);
	ALWAYS(c->ops_pending > 0 && c->send_busy);
	c->ops_pending--;
	c->send_busy = false;
	if (cqe->res < 0) {
		conn_close(c);
		conn_maybe_free(c);
		return;
	}
	base_buf_consume(&c->sending, (size_t)cqe->res);
	if (base_buf_readable(&c->sending) && !c->closing) {
		struct io_uring_sqe *sqe = iou_sqe(io);
		io_uring_prep_send(sqe, c->fd, base_buf_head(&c->sending), base_buf_readable(&c->sending),
				   MSG_NOSIGNAL);
		io_uring_sqe_set_data(sqe, &c->send_op);
		c->send_busy = true;
		c->ops_pending++;
		return;
	}
	if (c->sending.cap > (1u << 20))
		base_buf_free(&c->sending); /* do not keep a burst's memory */
	if (base_buf_readable(&c->out))
		conn_mark_dirty(c);
	conn_resume(c);
	conn_check_done(c);
	conn_maybe_free(c);
}

/* ---- loop hooks -------------------------------------------------------------------- */

static void flush_sends(struct iou_core *io)
{
	struct net_core *nc = net_core_of(io);

	net_compact_slice(nc);
	if (net_fanout_poll(nc))
		io->wake_mask |= 1ull << nc->id; /* more to do: do not sleep */
	sto_log_flush(&nc->log, io->now_ms);
	sto_log_flush(&nc->evlog, io->now_ms);
	while (nc->rearm) {
		struct net_conn *c = nc->rearm;
		nc->rearm = c->rearm_next;
		c->ops_pending--;
		if (!c->closing && !c->paused)
			conn_arm_recv(c);
		else
			conn_maybe_free(c);
	}
	while (nc->dirty) {
		struct net_conn *c = nc->dirty;
		nc->dirty = c->dirty_next;
		c->dirty = false;
		if (c->closing || c->send_busy || !base_buf_readable(&c->out))
			continue;
		ALWAYS(!base_buf_readable(&c->sending));
		struct base_buf t = c->sending;
		c->sending = c->out;
		c->out = t;
		c->out.off = c->out.len = 0;
		struct io_uring_sqe *sqe = iou_sqe(io);
		io_uring_prep_send(sqe, c->fd, base_buf_head(&c->sending), base_buf_readable(&c->sending),
				   MSG_NOSIGNAL);
		io_uring_sqe_set_data(sqe, &c->send_op);
		c->send_busy = true;
		c->ops_pending++;
	}
}

static void start_drain(struct net_core *nc)
{
	nc->draining = true;
	net_fanout_free(nc); /* vendor calls in flight are cancelled; campaigns resume at the next start */
	base_log(BASE_LOG_INFO, "msg=\"draining\" connections=%u", nc->conns_open);
	if (nc->listen_fd >= 0) {
		if (nc->accept_armed) {
			struct io_uring_sqe *sqe = iou_sqe(&nc->io);
			io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&nc->accept_op, 0);
			io_uring_sqe_set_data(sqe, &nc->io.ignore_op);
		}
		shutdown(nc->listen_fd, SHUT_RDWR);
	}
	for (uint32_t i = 0; i < nc->conn_cap; i++) {
		struct net_conn *c = nc->conns[i];
		if (!c || c->closing)
			continue;
		shutdown(c->fd, SHUT_RD); /* the armed recv ends with EOF */
		c->rd_closed = true;
		conn_check_done(c);
		conn_maybe_free(c);
	}
}

static void on_tick(struct iou_core *io)
{
	struct net_core *nc = net_core_of(io);
	struct net_server *s = nc->srv;

	if (!nc->draining && __atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE))
		start_drain(nc);
	net_compact_tick(nc);
	sto_events_tick(&nc->events);
	net_fanout_tick(nc);
	if (nc->id == 0 && io->now_ms - s->last_expire_ms >= 1000) {
		s->last_expire_ms = io->now_ms;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
		if (now > s->cfg.retention_ms)
			sto_events_expire(now - s->cfg.retention_ms);
	}
	uint32_t stall_ms = s->cfg.read_stall_ms;
	for (uint32_t i = 0; i < nc->conn_cap; i++) {
		struct net_conn *c = nc->conns[i];
		if (!c || c->closing || c->close_after_flush || c->paused || !c->partial_since_ms)
			continue;
		if (!base_buf_readable(&c->in) || io->now_ms - c->partial_since_ms < stall_ms)
			continue;
		conn_error(c, 0, 0, HRL_E_TIMEOUT, "incomplete frame and no data for the read timeout; closing");
		c->close_after_flush = true;
		base_buf_consume(&c->in, base_buf_readable(&c->in));
		conn_check_done(c);
		conn_maybe_free(c);
	}
	if (nc->draining && !nc->drain_reported && nc->conns_open == 0 && net_http_pools_live() == 0) {
		nc->drain_reported = true;
		__atomic_add_fetch(&s->cores_drained, 1, __ATOMIC_ACQ_REL);
	}
	if (nc->drain_reported && __atomic_load_n(&s->cores_drained, __ATOMIC_ACQUIRE) == s->ncores)
		io->stop = true;
}

/* ---- threads ----------------------------------------------------------------------- */

static void core_free_state(struct net_core *nc)
{
	for (uint32_t i = 0; i < nc->conn_cap; i++) {
		struct net_conn *c = nc->conns[i];
		if (!c)
			continue;
		close(c->fd);
		base_buf_free(&c->in);
		base_buf_free(&c->out);
		base_buf_free(&c->sending);
		free(c);
	}
	free(nc->conns);
	free(nc->free_idx);
	nc->conns = NULL;
	nc->free_idx = NULL;
	sto_users_free(&nc->users);
	net_fanout_free_state(nc);
	sto_alias_index_free(&nc->aliases);
	free(nc->part_seq);
	nc->part_seq = NULL;
	call_pool_free(nc);
	if (nc->listen_fd >= 0)
		close(nc->listen_fd);
	nc->listen_fd = -1;
}

static void *core_main(void *arg)
{
	struct net_core *nc = arg;
	struct net_server *s = nc->srv;

	base_log_core = (int)nc->id;
#ifdef HRL_JEMALLOC
	unsigned arena;
	size_t sz = sizeof(arena);
	if (mallctl("arenas.create", &arena, &sz, NULL, 0) == 0)
		mallctl("thread.arena", NULL, NULL, &arena, sizeof(arena));
#endif
	if (s->cfg.pin) {
		int rc = iou_pin_cpu((int)(nc->id % (unsigned)sysconf(_SC_NPROCESSORS_ONLN)));
		if (rc)
			base_log(BASE_LOG_WARN, "msg=\"cannot pin to cpu\" err=%d", rc);
	}
	if (s->cfg.log.fsync_mode == STO_FSYNC_INTERVAL)
		nc->io.tick_ms = s->cfg.log.fsync_interval_ms;
	nc->setup_rc = iou_core_setup(&nc->io);
	if (!nc->setup_rc) {
		nc->setup_rc = sto_log_open(&nc->log, &s->cfg.log, &nc->io, nc->id);
		if (!nc->setup_rc)
			nc->setup_rc = sto_log_open(&nc->evlog, &s->cfg.events, &nc->io, nc->id);
		if (!nc->setup_rc)
			nc->setup_rc = sto_events_init(&nc->events, &nc->evlog, nc->id, s->cfg.events.epoch);
		if (nc->setup_rc)
			base_log(BASE_LOG_ERROR, "msg=\"cannot open the store\" err=%d", nc->setup_rc);
	}
	pthread_barrier_wait(&start_barrier);
	for (unsigned i = 0; i < s->ncores; i++)
		if (s->cores[i]->setup_rc) {
			if (i == nc->id)
				base_log(BASE_LOG_ERROR, "msg=\"io_uring setup failed\" err=%d", nc->setup_rc);
			goto out;
		}
	nc->io.cqe_handlers[NET_OP_ACCEPT] = on_accept;
	nc->io.cqe_handlers[NET_OP_RECV] = on_recv;
	nc->io.cqe_handlers[NET_OP_SEND] = on_send;
	nc->io.cqe_handlers[STO_OP_WRITE] = sto_log_on_write;
	nc->io.cqe_handlers[STO_OP_FSYNC] = sto_log_on_fsync;
	nc->io.msg_handlers[NET_MSG_CALL] = on_msg_call;
	nc->io.msg_handlers[NET_MSG_REPLY] = on_msg_reply;
	nc->io.on_tick = on_tick;
	nc->io.before_wait = flush_sends;
	net_fanout_thread_start(nc);
	arm_accept(nc);
	base_log(BASE_LOG_DEBUG, "msg=\"core ready\" msg_ring=%d partitions=%u",
		 nc->io.msg_ring_supported, nc->partitions_owned);
	iou_core_run(&nc->io);
	net_fanout_free(nc);
out:
	core_free_state(nc);
	sto_log_close(&nc->log);
	sto_log_close(&nc->evlog);
	sto_events_free(&nc->events);
	iou_core_teardown(&nc->io);
	return NULL;
}

static int listen_socket(const struct net_config *cfg, uint16_t port, int *fd_out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, cfg->listen_host, &sa.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

/* ---- store: durable changes, undo, recovery ------------------------------------------ */

static __thread uint8_t undo_buf[HRL_RECORD_BYTES_MAX];
/* Replay (undo, start-up recovery) decodes records here, not into the table's view. */
static __thread struct sto_user replay_view;

/* Put the user (app, id) back to the record at prev_loc, or remove it. */
static void undo_user(struct net_core *nc, uint16_t app_idx, const char *id, uint16_t id_len, uint64_t prev_loc)
{
	struct net_server *s = nc->srv;
	uint64_t h = sto_user_hash(&s->cfg.hash_key, app_idx, id, id_len);
	struct sto_rec_hdr rh;
	struct sto_user *u = NULL;
	if (prev_loc) {
		int rc = sto_log_read(prev_loc, &rh, undo_buf, sizeof(undo_buf));
		if (rc == 0 && rh.type == STO_REC_USER_PUT) {
			u = &replay_view;
			rc = sto_user_put_decode(undo_buf + STO_REC_HEADER_BYTES, rh.len, u);
		} else if (rc == 0 && rh.type != STO_REC_USER_DEL) {
			rc = -EBADMSG;
		}
		if (rc) {
			/* the previous state cannot be read back: keep memory, say so loudly */
			base_log(BASE_LOG_ERROR, "msg=\"store: undo could not read the previous record\" err=%d", rc);
			return;
		}
	}
	if (u) {
		u->hash = h;
		u->loc = prev_loc;
		if (sto_user_put(&nc->users, u))
			base_log(BASE_LOG_ERROR, "msg=\"store: undo out of memory\"");
	} else {
		sto_user_delete(&nc->users, h, app_idx, id, id_len);
	}
}

static void on_undo(struct sto_log *l, const struct sto_rec_hdr *h, const uint8_t *payload, uint64_t prev_loc)
{
	struct net_core *nc = net_core_of(l->io);
	if (h->type == STO_REC_USER_PUT || h->type == STO_REC_USER_DEL) {
		uint16_t app_idx, id_len;
		const char *id;
		if (sto_user_key_decode(payload, h->len, &app_idx, &id, &id_len) == 0)
			undo_user(nc, app_idx, id, id_len, prev_loc);
		if (h->partition < nc->srv->cfg.partitions && nc->part_seq[h->partition])
			nc->part_seq[h->partition]--;
	} else if (h->type == STO_REC_APP_PUT) {
		uint16_t idx;
		struct sto_app a;
		struct sto_rec_hdr rh;
		if (sto_app_put_decode(payload, h->len, &idx, &a))
			return;
		if (prev_loc && sto_log_read(prev_loc, &rh, undo_buf, sizeof(undo_buf)) == 0 &&
		    sto_app_put_decode(undo_buf + STO_REC_HEADER_BYTES, rh.len, &idx, &a) == 0) {
			sto_apps_put(&nc->apps, idx, &a);
		} else if (!prev_loc && nc->apps.apps[idx].used) {
			nc->apps.apps[idx].used = false;
			nc->apps.count--;
		}
		nc->apps_loc[idx] = prev_loc;
		nc->apps_seq--;
	} else if (h->type == STO_REC_CAMPAIGN || h->type == STO_REC_VENDOR) {
		nc->apps_seq--; /* the request that wrote it was answered with an error */
		net_fanout_undo(nc, h, payload, prev_loc);
	}
}

bool net_store_room(struct net_ctx *x, const struct sto_user *u)
{
	size_t need = (u ? sto_user_put_bytes(u) : 64 + HRL_USER_ID_BYTES_MAX) + x->body_len + 64;
	int rc = sto_log_room(&x->nc->log, (uint32_t)(need > HRL_RECORD_BYTES_MAX ? HRL_RECORD_BYTES_MAX : need));
	if (rc == 0)
		return true;
	if (rc == -ENOBUFS && x->call && (x->nc->log.inflight_len || x->nc->log.buf_len != x->nc->log.flushed_len)) {
		x->retry = true; /* a flush is coming: wait for it rather than refuse */
		return false;
	}
	if (rc == -ENOBUFS)
		net_ctx_error(x, HRL_E_BUSY, "the store's write buffer is full; retry");
	else
		net_ctx_error(x, HRL_E_STORE, "the store cannot write (I/O error); nothing was changed");
	return false;
}

int net_store_user(struct net_ctx *x, struct sto_user *u)
{
	struct net_core *nc = x->nc;
	uint64_t lsn, loc;
	if (sto_user_empty(u)) {
		if (u->loc) {
			uint8_t *p = sto_log_append(&nc->log, STO_REC_USER_DEL, u->partition,
						    ++nc->part_seq[u->partition], (uint32_t)sto_user_del_bytes(u),
						    u->loc, &lsn, &loc);
			sto_user_del_encode(u, p);
			x->wait_lsn = lsn + 1;
		}
		ALWAYS(sto_user_commit(&nc->users, u) == 0); /* removing allocates nothing */
		return 0;
	}
	/* memory first: it may fail, the log append (room checked) may not */
	int rc = sto_user_commit(&nc->users, u);
	if (rc)
		return rc;
	size_t n = sto_user_put_bytes(u);
	ALWAYS(n + STO_REC_HEADER_BYTES <= HRL_RECORD_BYTES_MAX);
	uint8_t *p = sto_log_append(&nc->log, STO_REC_USER_PUT, u->partition, ++nc->part_seq[u->partition],
				    (uint32_t)n, u->loc, &lsn, &loc);
	sto_user_put_encode(u, p);
	sto_user_set_loc(&nc->users, u, loc);
	x->wait_lsn = lsn + 1;
	return 0;
}

bool net_store_user_again(struct net_core *nc, struct sto_user *u, uint64_t *lsn)
{
	size_t n = sto_user_put_bytes(u);
	uint64_t loc;
	if (sto_log_room(&nc->log, (uint32_t)n))
		return false;
	uint8_t *p = sto_log_append(&nc->log, STO_REC_USER_PUT, u->partition, ++nc->part_seq[u->partition],
				    (uint32_t)n, u->loc, lsn, &loc);
	sto_user_put_encode(u, p);
	sto_user_set_loc(&nc->users, u, loc);
	*lsn += 1;
	return true;
}

bool net_store_app_again(struct net_core *nc, uint16_t idx, uint64_t *lsn)
{
	const struct sto_app *a = &nc->apps.apps[idx];
	uint64_t loc;
	if (sto_log_room(&nc->log, (uint32_t)sto_app_put_bytes(a)))
		return false;
	uint8_t *p = sto_log_append(&nc->log, STO_REC_APP_PUT, STO_PARTITION_APPS, ++nc->apps_seq,
				    (uint32_t)sto_app_put_bytes(a), nc->apps_loc[idx], lsn, &loc);
	sto_app_put_encode(idx, a, p);
	nc->apps_loc[idx] = loc;
	*lsn += 1;
	return true;
}

bool net_store_app_room(struct net_ctx *x)
{
	int rc = sto_log_room(&x->nc->log, 256);
	if (rc == 0)
		return true;
	if (rc == -ENOBUFS && (x->nc->log.inflight_len || x->nc->log.buf_len != x->nc->log.flushed_len)) {
		x->retry = true;
		return false;
	}
	net_ctx_error(x, rc == -ENOBUFS ? HRL_E_BUSY : HRL_E_STORE,
		      rc == -ENOBUFS ? "the store's write buffer is full; retry" : "the store cannot write (I/O error)");
	return false;
}

void net_store_app(struct net_ctx *x, uint16_t idx)
{
	struct net_core *nc = x->nc;
	const struct sto_app *a = &nc->apps.apps[idx];
	uint64_t lsn, loc;
	uint8_t *p = sto_log_append(&nc->log, STO_REC_APP_PUT, STO_PARTITION_APPS, ++nc->apps_seq,
				    (uint32_t)sto_app_put_bytes(a), nc->apps_loc[idx], &lsn, &loc);
	sto_app_put_encode(idx, a, p);
	nc->apps_loc[idx] = loc;
	x->wait_lsn = lsn + 1;
}

struct recover_ctx {
	struct net_server *s;
	uint64_t bad;
};

static void recover_apply(void *arg, unsigned worker, const struct sto_rec_hdr *h, const uint8_t *payload,
			  uint64_t loc)
{
	struct recover_ctx *rc = arg;
	struct net_server *s = rc->s;
	/* worker w builds core w's tables; the header's partition says whose a record is */
	if (h->partition == STO_PARTITION_APPS || h->partition == STO_PARTITION_FANOUT ? worker != 0 :
	    h->partition >= s->cfg.partitions || net_partition_core(s, h->partition) != worker)
		return;
	if (h->type == STO_REC_CAMPAIGN || h->type == STO_REC_VENDOR || h->type == STO_REC_PROGRESS ||
	    h->type == STO_REC_UPLOAD) {
		if (h->type == STO_REC_CAMPAIGN || h->type == STO_REC_VENDOR)
			if (h->seq > s->cores[0]->apps_seq)
				s->cores[0]->apps_seq = h->seq;
		net_fanout_recover_record(h, payload, loc);
		return;
	}
	if (h->type == STO_REC_APP_PUT) {
		uint16_t idx;
		struct sto_app a;
		if (sto_app_put_decode(payload, h->len, &idx, &a)) {
			__atomic_add_fetch(&rc->bad, 1, __ATOMIC_RELAXED);
			return;
		}
		for (unsigned i = 0; i < s->ncores; i++)
			sto_apps_put(&s->cores[i]->apps, idx, &a);
		s->cores[0]->apps_loc[idx] = loc;
		if (h->seq > s->cores[0]->apps_seq)
			s->cores[0]->apps_seq = h->seq;
		return;
	}
	uint16_t app_idx, id_len;
	const char *id;
	if (sto_user_key_decode(payload, h->len, &app_idx, &id, &id_len)) {
		__atomic_add_fetch(&rc->bad, 1, __ATOMIC_RELAXED);
		return;
	}
	uint64_t hash = sto_user_hash(&s->cfg.hash_key, app_idx, id, id_len);
	uint32_t part = net_user_partition(s, hash);
	if (part != h->partition) { /* written under another hash key or partition count */
		__atomic_add_fetch(&rc->bad, 1, __ATOMIC_RELAXED);
		return;
	}
	struct net_core *nc = s->cores[net_partition_core(s, part)];
	sto_users_prefetch(&nc->users, hash); /* the index slot loads while the payload is decoded */
	if (h->seq > nc->part_seq[part])
		nc->part_seq[part] = h->seq;
	if (h->type == STO_REC_USER_DEL) {
		sto_user_delete(&nc->users, hash, app_idx, id, id_len);
		return;
	}
	struct sto_user *u = &replay_view;
	if (sto_user_put_decode(payload, h->len, u)) {
		__atomic_add_fetch(&rc->bad, 1, __ATOMIC_RELAXED);
		return;
	}
	u->hash = hash;
	u->partition = (uint16_t)part;
	u->loc = loc;
	if (sto_user_put(&nc->users, u))
		__atomic_add_fetch(&rc->bad, 1, __ATOMIC_RELAXED);
}

/* Receipts recover on their own thread while the state log replays. */
static void *recover_events_main(void *arg)
{
	struct net_server *s = arg;
	s->ev_recover_rc = sto_events_recover(s->cfg.events_dir, s->cfg.events.epoch, &s->counters_base, &s->ev_recovered);
	return NULL;
}

int net_server_recover(struct net_server *s)
{
	struct recover_ctx ctx = { .s = s };
	uint64_t t0 = iou_now_ms();
	sto_log_hooks.durable = on_durable;
	sto_log_hooks.failed = on_failed;
	sto_log_hooks.undo = on_undo;
	s->cfg.events.epoch = sto_log_max_epoch(s->cfg.log_dir) + 1; /* this run's epoch, as the scan will find */
	pthread_t ev_thread;
	bool ev_threaded = pthread_create(&ev_thread, NULL, recover_events_main, s) == 0;
	if (!ev_threaded)
		recover_events_main(s);
	int rc = sto_log_scan(s->cfg.log_dir, s->ncores, recover_apply, &ctx, &s->recovered);
	if (ev_threaded)
		pthread_join(ev_thread, NULL);
	if (!rc && s->recovered.max_epoch + 1 != s->cfg.events.epoch)
		rc = -EIO; /* the log changed under us */
	if (rc) {
		base_log(BASE_LOG_ERROR, "msg=\"store: cannot read the log\" dir=%s err=%d", s->cfg.log_dir, rc);
		return rc;
	}
	/* the alias index is derived: rebuild it on the cores that own the aliases */
	for (unsigned i = 0; i < s->ncores; i++) {
		struct sto_user *u;
		for (uint32_t ref = 0; (u = sto_users_next_aliased(&s->cores[i]->users, &ref));) {
			for (unsigned d = 0; d < u->device_count; d++)
				for (unsigned a = 0; a < u->devices[d].alias_count; a++) {
					const struct sto_alias *al = &u->devices[d].aliases[a];
					uint64_t h = sto_alias_hash(&s->cfg.hash_key, u->app_idx, al->type.p,
								    al->type.len, al->alias.p, al->alias.len);
					struct net_core *owner = s->cores[net_partition_core(s, net_user_partition(s, h))];
					if (sto_alias_add(&owner->aliases, h, u->app_idx, al->type.p, al->type.len,
							  al->alias.p, al->alias.len, u->id.p, u->id.len, u->devices[d].id))
						return -ENOMEM;
				}
		}
	}
	rc = net_fanout_recover(s);
	if (rc) {
		base_log(BASE_LOG_ERROR, "msg=\"store: cannot restore the campaigns\" err=%d", rc);
		return rc;
	}
#ifdef HRL_JEMALLOC
	{
		/* replay freed the index arrays the tables grew out of: give their pages back */
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
		mallctl(cmd, NULL, NULL, NULL, 0);
	}
#endif
	s->cfg.log.epoch = s->recovered.max_epoch + 1;
	s->cfg.log.cores = (uint16_t)s->ncores;
	s->cfg.events.cores = (uint16_t)s->ncores;
	s->cfg.events.dir = s->cfg.events_dir;
	s->cfg.events.stream = STO_STREAM_EVENTS;
	s->cfg.events.hooks = &ev_hooks;
	s->cfg.events.lz4 = false; /* retention deletes them whole; receipts are read back by offset */
	rc = s->ev_recover_rc;
	if (rc) {
		base_log(BASE_LOG_ERROR, "msg=\"store: cannot recover receipts\" dir=%s err=%d", s->cfg.events_dir, rc);
		return rc;
	}
	base_log(BASE_LOG_INFO,
		 "msg=\"receipts recovered\" segments=%llu hints_built=%llu receipts_replayed=%llu base_epoch=%u ms=%llu",
		 (unsigned long long)s->ev_recovered.segments, (unsigned long long)s->ev_recovered.hints_built,
		 (unsigned long long)s->ev_recovered.receipts_replayed, s->ev_recovered.base_epoch,
		 (unsigned long long)s->ev_recovered.ms);
	if (!sto_segments_old_epoch_present(s->cfg.log.epoch))
		s->old_epochs_gone = 1;
	s->recovery_ms = iou_now_ms() - t0;
	uint64_t users = 0;
	for (unsigned i = 0; i < s->ncores; i++)
		users += s->cores[i]->users.count;
	base_log(BASE_LOG_INFO,
		 "msg=\"store recovered\" segments=%llu records=%llu users=%llu torn_tails=%llu corrupt=%llu undecodable=%llu ms=%llu epoch=%u",
		 (unsigned long long)s->recovered.segments, (unsigned long long)s->recovered.records,
		 (unsigned long long)users, (unsigned long long)s->recovered.torn_tails,
		 (unsigned long long)s->recovered.corrupt, (unsigned long long)ctx.bad,
		 (unsigned long long)s->recovery_ms, s->cfg.log.epoch);
	return 0;
}

int net_server_init(struct net_server *s, const struct net_config *cfg)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->ncores = cfg->cores;
	if (s->ncores == 0 || s->ncores > HRL_CORES_MAX || cfg->partitions < s->ncores ||
	    cfg->partitions > HRL_PARTITIONS_MAX)
		return -EINVAL;
	uint16_t port = cfg->listen_port;
	for (unsigned i = 0; i < s->ncores; i++) {
		struct net_core *nc = aligned_alloc(64, (sizeof(*nc) + 63) & ~(size_t)63);
		if (!nc) {
			rc = -ENOMEM;
			goto out_free;
		}
		memset(nc, 0, sizeof(*nc));
		nc->srv = s;
		nc->id = i;
		nc->io.id = i;
		nc->io.cpu = -1;
		nc->io.owner = nc;
		nc->accept_op.kind = NET_OP_ACCEPT;
		nc->listen_fd = -1;
		nc->log.fd = -1;
		nc->evlog.fd = -1;
		nc->part_seq = calloc(cfg->partitions, sizeof(*nc->part_seq));
		if (!nc->part_seq) {
			rc = -ENOMEM;
			goto out_free;
		}
		for (unsigned p = 0; p < cfg->partitions; p++)
			if (p % s->ncores == i)
				nc->partitions_owned++;
		nc->srv = s;
		nc->id = i;
		rc = net_fanout_init(nc);
		if (rc) {
			free(nc->part_seq);
			goto out_free;
		}
		s->cores[i] = nc;
		s->io[i] = &nc->io;
		rc = listen_socket(cfg, port, &nc->listen_fd);
		if (rc)
			goto out_free;
		if (port == 0) { /* the other cores share the port the kernel chose */
			struct sockaddr_in sa = { 0 };
			socklen_t sl = sizeof(sa);
			if (getsockname(nc->listen_fd, (struct sockaddr *)&sa, &sl)) {
				rc = -errno;
				goto out_free;
			}
			port = ntohs(sa.sin_port);
		}
	}
	s->cfg.listen_port = port;
	s->cfg.log.dir = s->cfg.log_dir;
	rc = iou_cores_wire(s->io, s->ncores);
	if (rc)
		goto out_free;
	rc = net_server_recover(s);
	if (rc)
		goto out_free;
	return 0;

out_free:
	for (unsigned i = 0; i < s->ncores; i++) {
		if (s->cores[i] && s->cores[i]->listen_fd >= 0)
			close(s->cores[i]->listen_fd);
		if (s->cores[i])
			free(s->cores[i]->part_seq);
		free(s->cores[i]);
		s->cores[i] = NULL;
	}
	return rc;
}

int net_server_start(struct net_server *s)
{
	pthread_barrier_init(&start_barrier, NULL, s->ncores);
	for (unsigned i = 0; i < s->ncores; i++) {
		int rc = pthread_create(&s->cores[i]->thread, NULL, core_main, s->cores[i]);
		if (rc) {
			NEVER(i == 0 && rc); /* a core that never starts would hang the barrier */
			return -rc;
		}
	}
	return 0;
}

void net_server_request_stop(struct net_server *s)
{
	__atomic_store_n(&s->stopping, 1, __ATOMIC_RELEASE);
}

void net_server_wait(struct net_server *s)
{
	for (unsigned i = 0; i < s->ncores; i++)
		pthread_join(s->cores[i]->thread, NULL);
	iou_cores_unwire(s->io, s->ncores);
	for (unsigned i = 0; i < s->ncores; i++) {
		free(s->cores[i]);
		s->cores[i] = NULL;
	}
	pthread_barrier_destroy(&start_barrier);
	sto_events_close_all();
	sto_segments_close_all();
	sto_counters_free(&s->counters_base);
}
