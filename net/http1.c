/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http1.c - the HTTP/1.1 client of vendor calls; see http1.h for the API.
 *
 * Objects (all owned by the pool's core):
 *   pool        one endpoint: resolved address, SSL_CTX, connections, FIFO
 *               of waiting requests, a cache of freed request buffers.
 *   connection  socket, one request at a time, a 16 KiB receive buffer of
 *               its own, the parser, the answer's body buffer; with TLS an
 *               SSL over two memory BIOs and a buffer of records to send.
 *   request     { done, arg, deadline, len, flags } + the request bytes,
 *               copied once from the caller; a plain send reads them in
 *               place (no second copy), so a request is freed only when no
 *               send holds it (pins).
 *
 * Connection states:
 *   CONNECTING --connect ok--> (TLS: HANDSHAKE --handshake ok-->) IDLE or BUSY
 *   IDLE --request--> BUSY --final answer, keep-alive--> IDLE
 *   any --error, timeout, Connection: close, EOF, close--> closing
 * A connection is opened for a request and starts it as soon as it is
 * ready. Once connected, a receive is always armed, also while idle, so a
 * server that closes an idle connection is noticed at once.
 *
 * Lost connections: a request written on a reused connection that then
 * closed (EOF, reset, broken pipe) before a single answer byte came back is
 * written again, once, on a fresh connection: the server most likely closed
 * the idle connection while the request was on its way. Anything else is
 * -ECONNRESET (a body that ends at EOF is complete, not lost).
 *
 * TLS: SSL_set_bio with two BIO_s_mem. Received ciphertext is written into
 * the read BIO, then SSL_do_handshake / SSL_read decrypt into the receive
 * buffer (the ciphertext is already copied out); whatever SSL puts in the
 * write BIO is moved into tls_out and sent, one send at a time.
 *
 * Completions: every op carries a struct http_op (iou_op kind NET_OP_HTTP
 * plus a sub-kind indexing the connection's ops[] and the handler table).
 * A completion handler records at most one answer on the connection, lets
 * queued requests take connections that became free, then calls the done
 * callback, and frees the connection only after that (callbacks may send or
 * close the pool: the pool counts the handlers it is inside of, `depth`,
 * and is freed only at depth 0 with no connection left).
 */
#include "net/http1.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/buf.h"
#include "base/log.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

#define HTTP_TLS_LOG_INTERVAL_MS 1000u /* at most one TLS failure line per pool and second */
#define HTTP_REQ_ALLOC_MIN_BYTES 4096u /* small requests share one buffer size */

enum http_sub { HTTP_SUB_CONNECT, HTTP_SUB_SEND, HTTP_SUB_RECV, HTTP_SUBS };

struct http_op {
	struct iou_op op; /* kind NET_OP_HTTP */
	uint8_t sub;      /* enum http_sub: index in the connection's ops[] */
};

enum http_conn_state {
	CONN_CONNECTING, /* IORING_OP_CONNECT out */
	CONN_HANDSHAKE,  /* TLS handshake */
	CONN_IDLE,       /* connected, no request */
	CONN_BUSY,       /* a request written or being written */
};

struct http_req {
	struct http_req *next; /* queue or cache */
	net_http_done_fn *done;
	void *arg;
	uint64_t deadline_ms;
	size_t len;
	size_t cap;
	unsigned pins;         /* plain sends in flight that read data[] */
	bool answered;         /* done was called; freed at the last unpin */
	bool retried;
	bool head;             /* HEAD request: the answer has no body */
	uint8_t data[];
};

struct http_conn {
	struct http_op ops[HTTP_SUBS]; /* first: a completion finds the connection from its op */
	bool busy[HTTP_SUBS];          /* op in the ring */
	struct net_http_pool *pool;
	struct http_conn *next, *prev;
	int fd;
	uint8_t state;                 /* enum http_conn_state */
	bool closing;
	bool msg_done;                 /* the parser saw the end of the final answer */
	int fail;                      /* -errno from a parser callback */
	uint32_t served;               /* answers received on this connection */
	uint64_t connect_deadline_ms;
	struct http_req *req;          /* the request on this connection */
	struct http_req *send_req;     /* plain: the request a send in flight reads */
	size_t sent;                   /* plain: bytes of req written */
	uint64_t resp_bytes;           /* answer bytes received for req (plaintext) */
	http_parser parser;
	struct base_buf body;          /* de-chunked body of the answer being read */
	SSL *ssl;                      /* NULL on plain http */
	BIO *rbio, *wbio;              /* owned by ssl */
	struct base_buf tls_out;       /* records taken from wbio, being sent */
	struct http_req *res_req;      /* answer to deliver when the handler ends */
	int res_status;
	struct base_buf res_body;
	uint8_t rbuf[NET_HTTP_RECV_BYTES];
};

_Static_assert(offsetof(struct http_conn, ops) == 0, "ops[] first");

struct net_http_pool {
	struct iou_core *io;
	unsigned max_conns;
	uint32_t connect_timeout_ms;
	uint32_t request_timeout_ms;
	uint32_t queue_max;
	size_t max_response_bytes;
	bool tls;
	bool insecure;
	bool host_is_ip;
	bool closed;
	bool had_close;                /* a connection has closed: later connects are reconnects */
	char host[NET_HTTP_HOST_BYTES_MAX + 1];
	struct sockaddr_storage addr;
	socklen_t addr_len;
	SSL_CTX *ssl_ctx;
	struct http_conn *conns;       /* every connection, closing ones too */
	unsigned conns_live;           /* not closing */
	struct http_req *q_head, *q_tail;
	unsigned q_len;
	struct http_req *cache;
	unsigned cache_len;
	unsigned inflight;
	unsigned depth;                /* handlers and callbacks of this pool on the stack */
	uint64_t tls_log_ms;
	struct net_http_stats st;
};

static __thread unsigned pools_live;
static __thread long alloc_fail_countdown;

/* ---- allocation ------------------------------------------------------------------ */

void net_http_fail_alloc_after(long n)
{
	alloc_fail_countdown = n;
}

static bool alloc_fails(void)
{
	return alloc_fail_countdown > 0 && --alloc_fail_countdown == 0;
}

static void *http_malloc(size_t n)
{
	return alloc_fails() ? NULL : malloc(n);
}

static void *http_calloc(size_t n)
{
	return alloc_fails() ? NULL : calloc(1, n);
}

/* ---- requests ---------------------------------------------------------------------- */

static struct http_req *req_alloc(struct net_http_pool *p, size_t len)
{
	struct http_req *r = p->cache;
	size_t cap;
	if (r && r->cap >= len) {
		p->cache = r->next;
		p->cache_len--;
		cap = r->cap;
	} else {
		cap = len < HTTP_REQ_ALLOC_MIN_BYTES ? HTTP_REQ_ALLOC_MIN_BYTES : len;
		r = http_malloc(sizeof(*r) + cap);
		if (!r)
			return NULL;
	}
	memset(r, 0, sizeof(*r));
	r->cap = cap;
	return r;
}

static void req_put(struct net_http_pool *p, struct http_req *r)
{
	ALWAYS(r->pins == 0);
	if (p->cache_len < NET_HTTP_REQ_CACHE_MAX && r->cap <= NET_HTTP_REQ_CACHE_BYTES_MAX) {
		r->next = p->cache;
		p->cache = r;
		p->cache_len++;
		return;
	}
	free(r);
}

/* The pool is done with r: free it now, or when the last send reading it completes. */
static void req_drop(struct net_http_pool *p, struct http_req *r)
{
	if (r->pins) {
		r->answered = true;
		return;
	}
	req_put(p, r);
}

static void req_unpin(struct net_http_pool *p, struct http_req *r)
{
	ALWAYS(r->pins > 0);
	if (--r->pins == 0 && r->answered)
		req_put(p, r);
}

/* Deliver the answer to an accepted request and let go of it. */
static void req_finish(struct net_http_pool *p, struct http_req *r, int status, const char *body, size_t len)
{
	ALWAYS(p->inflight > 0 && !r->answered);
	p->inflight--;
	if (status >= 0)
		p->st.responses++;
	else
		p->st.errors++;
	r->done(r->arg, status, body, len);
	req_drop(p, r);
}

static void queue_push(struct net_http_pool *p, struct http_req *r, bool front)
{
	if (front) {
		r->next = p->q_head;
		p->q_head = r;
		if (!p->q_tail)
			p->q_tail = r;
	} else {
		r->next = NULL;
		if (p->q_tail)
			p->q_tail->next = r;
		else
			p->q_head = r;
		p->q_tail = r;
	}
	p->q_len++;
}

static struct http_req *queue_pop(struct net_http_pool *p)
{
	struct http_req *r = p->q_head;
	if (!r)
		return NULL;
	p->q_head = r->next;
	if (!p->q_head)
		p->q_tail = NULL;
	p->q_len--;
	r->next = NULL;
	return r;
}

/* ---- TLS helpers ------------------------------------------------------------------- */

/* The -errno for the OpenSSL failure on this thread's error queue; clears the queue. */
static int tls_errno(void)
{
	unsigned long e = ERR_peek_last_error();
	ERR_clear_error();
	return e && ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ? -ENOMEM : -EPROTO;
}

static void tls_log(struct http_conn *c, const char *what)
{
	struct net_http_pool *p = c->pool;
	uint64_t now = p->io->now_ms;
	if (p->tls_log_ms && now - p->tls_log_ms < HTTP_TLS_LOG_INTERVAL_MS)
		return;
	p->tls_log_ms = now ? now : 1;
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	long v = SSL_get_verify_result(c->ssl);
	base_log(BASE_LOG_WARN, "msg=\"tls %s\" host=%s verify=\"%s\" err=\"%s\"", what, p->host,
		 X509_verify_cert_error_string(v), reason ? reason : "none");
}

/* ---- connections --------------------------------------------------------------------- */

static void conn_result(struct http_conn *c, struct http_req *r, int status)
{
	ALWAYS(!c->res_req);
	c->res_req = r;
	c->res_status = status;
}

static void op_arm(struct http_conn *c, enum http_sub sub, struct io_uring_sqe *sqe)
{
	ALWAYS(!c->busy[sub]);
	io_uring_sqe_set_data(sqe, &c->ops[sub].op);
	c->busy[sub] = true;
}

static bool conn_ops_idle(const struct http_conn *c)
{
	return !c->busy[HTTP_SUB_CONNECT] && !c->busy[HTTP_SUB_SEND] && !c->busy[HTTP_SUB_RECV];
}

static struct http_conn *conn_idle(struct net_http_pool *p)
{
	for (struct http_conn *c = p->conns; c; c = c->next)
		if (!c->closing && c->state == CONN_IDLE)
			return c;
	return NULL;
}

/* Start closing: no more I/O, every op in the ring cancelled. Never frees. */
static void conn_close(struct http_conn *c)
{
	if (c->closing)
		return;
	struct net_http_pool *p = c->pool;
	c->closing = true;
	p->conns_live--;
	p->had_close = true;
	shutdown(c->fd, SHUT_RDWR); /* ends a receive or send in flight */
	for (unsigned sub = 0; sub < HTTP_SUBS; sub++) {
		if (!c->busy[sub])
			continue;
		struct io_uring_sqe *sqe = iou_sqe(p->io);
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&c->ops[sub].op, 0);
		io_uring_sqe_set_data(sqe, &p->io->ignore_op);
	}
}

/* Close and answer the connection's request, if any, with status. */
static void conn_fail(struct http_conn *c, int status)
{
	struct http_req *r = c->req;
	c->req = NULL;
	conn_close(c);
	if (r)
		conn_result(c, r, status);
}

static void conn_free(struct http_conn *c)
{
	struct net_http_pool *p = c->pool;
	ALWAYS(c->closing && conn_ops_idle(c) && !c->req && !c->res_req && !c->send_req);
	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	close(c->fd);
	SSL_free(c->ssl); /* and both BIOs */
	base_buf_free(&c->body);
	base_buf_free(&c->tls_out);
	base_buf_free(&c->res_body);
	free(c);
}

static void conn_arm_recv(struct http_conn *c)
{
	struct io_uring_sqe *sqe = iou_sqe(c->pool->io);
	io_uring_prep_recv(sqe, c->fd, c->rbuf, sizeof(c->rbuf), 0);
	op_arm(c, HTTP_SUB_RECV, sqe);
}

static void conn_send_plain(struct http_conn *c)
{
	struct http_req *r = c->req;
	struct io_uring_sqe *sqe = iou_sqe(c->pool->io);
	io_uring_prep_send(sqe, c->fd, r->data + c->sent, r->len - c->sent, MSG_NOSIGNAL);
	op_arm(c, HTTP_SUB_SEND, sqe);
	c->send_req = r;
	r->pins++;
}

/* Send what SSL wrote into the write BIO, unless a send is out. 0 or -ENOMEM. */
static int conn_flush_tls(struct http_conn *c)
{
	if (c->busy[HTTP_SUB_SEND] || c->closing)
		return 0;
	if (!base_buf_readable(&c->tls_out)) {
		size_t pending = BIO_ctrl_pending(c->wbio);
		if (!pending)
			return 0;
		c->tls_out.off = c->tls_out.len = 0;
		if (base_buf_reserve(&c->tls_out, pending))
			return -ENOMEM;
		int n = BIO_read(c->wbio, c->tls_out.data, (int)pending);
		ALWAYS(n == (int)pending); /* a memory BIO hands out all it holds */
		c->tls_out.len = (size_t)n;
	}
	struct io_uring_sqe *sqe = iou_sqe(c->pool->io);
	io_uring_prep_send(sqe, c->fd, base_buf_head(&c->tls_out), base_buf_readable(&c->tls_out), MSG_NOSIGNAL);
	op_arm(c, HTTP_SUB_SEND, sqe);
	return 0;
}

static const http_parser_settings parser_settings;

/*
 * Write r on the idle (or just connected) connection c. 0, or -errno with c
 * closing and r not attached to it.
 */
static int conn_start(struct http_conn *c, struct http_req *r)
{
	c->req = r;
	c->state = CONN_BUSY;
	c->sent = 0;
	c->resp_bytes = 0;
	c->fail = 0;
	c->msg_done = false;
	c->body.off = c->body.len = 0;
	http_parser_init(&c->parser, HTTP_RESPONSE);
	c->parser.data = c;
	if (!c->ssl) {
		conn_send_plain(c);
		return 0;
	}
	int rc;
	ERR_clear_error();
	if (SSL_write(c->ssl, r->data, (int)r->len) != (int)r->len)
		rc = tls_errno(); /* into a memory BIO: only a broken session or memory fails */
	else
		rc = conn_flush_tls(c);
	if (rc) {
		c->req = NULL;
		conn_close(c);
	}
	return rc;
}

/* TCP connected (plain) or TLS established: write the waiting request, if any. */
static void conn_ready(struct http_conn *c)
{
	struct http_req *r = c->req;
	c->state = CONN_IDLE;
	if (!r)
		return;
	c->req = NULL;
	int rc = conn_start(c, r);
	if (rc)
		conn_result(c, r, rc);
}

static int conn_tls_new(struct http_conn *c)
{
	struct net_http_pool *p = c->pool;
	if (alloc_fails())
		return -ENOMEM;
	c->ssl = SSL_new(p->ssl_ctx);
	if (!c->ssl)
		return tls_errno();
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	if (!rb || !wb) {
		BIO_free(rb);
		BIO_free(wb);
		return tls_errno();
	}
	BIO_set_mem_eof_return(rb, -1); /* empty is "want more", not EOF */
	SSL_set_bio(c->ssl, rb, wb);
	c->rbio = rb;
	c->wbio = wb;
	SSL_set_connect_state(c->ssl);
	if (!p->host_is_ip && !SSL_set_tlsext_host_name(c->ssl, p->host))
		return tls_errno();
	if (!p->insecure) {
		int ok = p->host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), p->host)
				       : SSL_set1_host(c->ssl, p->host);
		if (!ok)
			return tls_errno();
	}
	return 0;
}

/* Open a connection for r (which it writes once connected). 0 or -errno; r untouched on error. */
static int conn_open(struct net_http_pool *p, struct http_req *r)
{
	struct http_conn *c = http_calloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	int fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		int rc = -errno;
		free(c);
		return rc;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->pool = p;
	if (p->tls) {
		int rc = conn_tls_new(c);
		if (rc) {
			SSL_free(c->ssl);
			close(fd);
			free(c);
			return rc;
		}
	}
	for (unsigned sub = 0; sub < HTTP_SUBS; sub++) {
		c->ops[sub].op.kind = NET_OP_HTTP;
		c->ops[sub].sub = (uint8_t)sub;
	}
	c->next = p->conns;
	if (p->conns)
		p->conns->prev = c;
	p->conns = c;
	p->conns_live++;
	c->state = CONN_CONNECTING;
	c->req = r;
	c->connect_deadline_ms = p->io->now_ms + p->connect_timeout_ms;
	struct io_uring_sqe *sqe = iou_sqe(p->io);
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&p->addr, p->addr_len);
	op_arm(c, HTTP_SUB_CONNECT, sqe);
	return 0;
}

/* The final answer is parsed: record it; keep the connection if both sides agree. */
static void conn_answer(struct http_conn *c, bool stray_bytes)
{
	struct http_req *r = c->req;
	bool sent_all = c->ssl ? !c->busy[HTTP_SUB_SEND] && !base_buf_readable(&c->tls_out) && !BIO_ctrl_pending(c->wbio)
			       : !c->busy[HTTP_SUB_SEND] && c->sent == r->len;
	bool keep = !stray_bytes && sent_all && http_should_keep_alive(&c->parser);
	c->req = NULL;
	c->served++;
	if (base_buf_reserve(&c->body, 1)) {
		conn_close(c);
		conn_result(c, r, -ENOMEM);
		return;
	}
	c->body.data[c->body.len] = '\0';
	c->res_body = c->body;
	c->body = (struct base_buf){ 0 };
	conn_result(c, r, (int)c->parser.status_code);
	if (keep)
		c->state = CONN_IDLE;
	else
		conn_close(c);
}

/* Plaintext from the server. */
static void conn_input(struct http_conn *c, const uint8_t *data, size_t n)
{
	if (c->state != CONN_BUSY) {
		conn_close(c); /* bytes nobody asked for: the stream is out of step */
		return;
	}
	c->resp_bytes += n;
	size_t used = http_parser_execute(&c->parser, &parser_settings, (const char *)data, n);
	if (c->fail)
		conn_fail(c, c->fail);
	else if (c->msg_done)
		conn_answer(c, used < n);
	else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || c->parser.upgrade)
		conn_fail(c, -EPROTO);
}

/* The connection ended (EOF when err is 0): retry, complete a body read to EOF, or fail. */
static void conn_lost(struct http_conn *c, int err)
{
	struct net_http_pool *p = c->pool;
	struct http_req *r = c->req;
	if (c->state == CONN_HANDSHAKE) {
		tls_log(c, "connection closed during the handshake");
		conn_fail(c, -EPROTO);
		return;
	}
	if (!r) {
		conn_close(c); /* the server closed an idle connection */
		return;
	}
	if (!c->resp_bytes && c->served && !r->retried) {
		c->req = NULL;
		conn_close(c);
		r->retried = true;
		p->st.retries++;
		queue_push(p, r, true); /* the dispatch after this handler opens a fresh connection */
		return;
	}
	if (!err && c->resp_bytes) {
		http_parser_execute(&c->parser, &parser_settings, NULL, 0);
		if (c->msg_done) {
			conn_answer(c, false);
			conn_close(c);
			return;
		}
	}
	conn_fail(c, -ECONNRESET);
}

/* ---- parser callbacks ----------------------------------------------------------------- */

static int on_headers_complete(http_parser *hp)
{
	struct http_conn *c = hp->data;
	if (hp->status_code < 200)
		return 0; /* interim answer: its end is reported, then the real one follows */
	if (hp->content_length != ULLONG_MAX && hp->content_length > 0) {
		if (hp->content_length > c->pool->max_response_bytes) {
			c->fail = -EMSGSIZE;
			return -1;
		}
		if (base_buf_reserve(&c->body, (size_t)hp->content_length + 1)) {
			c->fail = -ENOMEM;
			return -1;
		}
	}
	return c->req->head ? 1 : 0; /* 1: no body follows */
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
	struct http_conn *c = hp->data;
	if (c->body.len + n > c->pool->max_response_bytes) {
		c->fail = -EMSGSIZE;
		return -1;
	}
	if (base_buf_append(&c->body, at, n)) {
		c->fail = -ENOMEM;
		return -1;
	}
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	struct http_conn *c = hp->data;
	if (hp->status_code < 200) {
		c->body.len = 0;
		return 0;
	}
	c->msg_done = true;
	http_parser_pause(hp, 1); /* stop at the end of the answer: what follows is stray */
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- completions --------------------------------------------------------------------- */

static void conn_handshake(struct http_conn *c)
{
	ERR_clear_error();
	int rc = SSL_do_handshake(c->ssl);
	int f;
	if (rc == 1) {
		f = conn_flush_tls(c);
		if (f)
			conn_fail(c, f);
		else
			conn_ready(c);
		return;
	}
	int e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		f = conn_flush_tls(c);
		if (f)
			conn_fail(c, f);
		return;
	}
	tls_log(c, "handshake failed");
	conn_fail(c, tls_errno());
}

static void conn_tls_input(struct http_conn *c, size_t n)
{
	ERR_clear_error();
	if (BIO_write(c->rbio, c->rbuf, (int)n) != (int)n) {
		conn_fail(c, -ENOMEM);
		return;
	}
	if (c->state == CONN_HANDSHAKE) {
		conn_handshake(c);
		if (c->closing || c->state == CONN_HANDSHAKE)
			return;
	}
	/* ends once the read BIO is drained: every pass consumes records or stops */
	for (;;) {
		ERR_clear_error();
		int k = SSL_read(c->ssl, c->rbuf, (int)sizeof(c->rbuf));
		if (k > 0) {
			conn_input(c, c->rbuf, (size_t)k);
			if (c->closing)
				return;
			continue;
		}
		int e = SSL_get_error(c->ssl, k);
		if (e == SSL_ERROR_WANT_READ)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify */
			conn_lost(c, 0);
			return;
		}
		tls_log(c, "read failed");
		conn_fail(c, tls_errno());
		return;
	}
	int f = conn_flush_tls(c); /* post-handshake messages */
	if (f)
		conn_fail(c, f);
}

static void on_connect(struct http_conn *c, int res)
{
	struct net_http_pool *p = c->pool;
	if (c->closing)
		return;
	if (res < 0) {
		conn_fail(c, res);
		return;
	}
	p->st.connects++;
	if (p->had_close)
		p->st.reconnects++;
	conn_arm_recv(c);
	if (!c->ssl) {
		conn_ready(c);
		return;
	}
	c->state = CONN_HANDSHAKE;
	conn_handshake(c);
}

static void on_send(struct http_conn *c, int res)
{
	struct net_http_pool *p = c->pool;
	struct http_req *sr = c->send_req; /* plain only */
	c->send_req = NULL;
	if (c->closing || res <= 0) {
		if (sr)
			req_unpin(p, sr); /* freed here if it was answered meanwhile */
		if (!c->closing)
			conn_lost(c, res < 0 ? res : -EPIPE);
		return;
	}
	p->st.bytes_out += (uint64_t)res;
	if (c->ssl) {
		base_buf_consume(&c->tls_out, (size_t)res);
		int f = conn_flush_tls(c); /* the rest of tls_out, or what SSL wrote since */
		if (f)
			conn_fail(c, f);
		return;
	}
	/* an open plain connection sends only its own request, unanswered while attached */
	ALWAYS(sr && sr == c->req && !sr->answered);
	c->sent += (size_t)res;
	if (c->sent < sr->len)
		conn_send_plain(c); /* the rest: pins it again */
	req_unpin(p, sr);
}

static void on_recv(struct http_conn *c, int res)
{
	if (c->closing)
		return;
	if (res <= 0) {
		conn_lost(c, res);
		return;
	}
	c->pool->st.bytes_in += (uint64_t)res;
	if (c->ssl)
		conn_tls_input(c, (size_t)res);
	else
		conn_input(c, c->rbuf, (size_t)res);
	if (!c->closing)
		conn_arm_recv(c);
}

typedef void http_op_fn(struct http_conn *c, int res);

static http_op_fn *const http_op_handlers[] = {
	[HTTP_SUB_CONNECT] = on_connect,
	[HTTP_SUB_SEND] = on_send,
	[HTTP_SUB_RECV] = on_recv,
};
_Static_assert(sizeof(http_op_handlers) / sizeof(http_op_handlers[0]) == HTTP_SUBS, "a handler per sub-kind");

/* Give waiting requests the connections that are free or may be opened. */
static void pool_dispatch(struct net_http_pool *p)
{
	while (p->q_head && !p->closed) {
		struct http_conn *c = conn_idle(p);
		bool can_open = p->conns_live < p->max_conns;
		if (p->q_head->retried && can_open)
			c = NULL; /* a retry goes to a fresh connection */
		if (!c && !can_open)
			return;
		struct http_req *r = queue_pop(p);
		int rc = c ? conn_start(c, r) : conn_open(p, r);
		if (rc)
			req_finish(p, r, rc, NULL, 0);
	}
}

/* Hand the answer recorded on c to its callback. */
static void conn_deliver(struct http_conn *c)
{
	struct http_req *r = c->res_req;
	if (!r)
		return;
	struct net_http_pool *p = c->pool;
	struct base_buf body = c->res_body;
	int status = c->res_status;
	c->res_req = NULL;
	c->res_body = (struct base_buf){ 0 };
	if (status >= 0)
		req_finish(p, r, status, body.data ? (const char *)body.data : "", body.len);
	else
		req_finish(p, r, status, NULL, 0);
	if (!c->body.data && !c->closing && body.cap <= NET_HTTP_BODY_KEEP_BYTES_MAX) {
		body.off = body.len = 0;
		c->body = body; /* the next answer reuses the buffer */
	} else {
		base_buf_free(&body);
	}
}

/*
 * Leave a handler or API call. At depth 0, free the connection that closed
 * and has no op left in the ring (c, or with c NULL any such connection),
 * then the pool if it is closed and empty.
 */
static void pool_leave(struct net_http_pool *p, struct http_conn *c)
{
	ALWAYS(p->depth > 0);
	if (--p->depth)
		return;
	if (c) {
		if (c->closing && conn_ops_idle(c))
			conn_free(c);
	} else {
		/* only a completion's own connection can be without ops: this is a safety net */
		for (c = p->conns; c;) {
			struct http_conn *next = c->next;
			if (c->closing && conn_ops_idle(c))
				conn_free(c);
			c = next;
		}
	}
	if (!p->closed || p->conns)
		return;
	while (p->cache) {
		struct http_req *r = p->cache;
		p->cache = r->next;
		free(r);
	}
	SSL_CTX_free(p->ssl_ctx);
	free(p);
	pools_live--;
}

static void on_cqe(struct iou_core *io, struct iou_op *op, struct io_uring_cqe *cqe)
{
	struct http_op *hop = container_of(op, struct http_op, op);
	ALWAYS(hop->sub < HTTP_SUBS);
	struct http_conn *c = container_of(hop - hop->sub, struct http_conn, ops);
	struct net_http_pool *p = c->pool;
	ALWAYS(c->busy[hop->sub]);
	c->busy[hop->sub] = false;
	p->depth++;
	http_op_handlers[hop->sub](c, cqe->res);
	pool_dispatch(p);
	conn_deliver(c);
	pool_leave(p, c);
}

void net_http_register(struct iou_core *io)
{
	io->cqe_handlers[NET_OP_HTTP] = on_cqe;
}

/* ---- API ------------------------------------------------------------------------------ */

int net_http_send(struct net_http_pool *p, const void *req, size_t len, net_http_done_fn *done, void *arg)
{
	if (p->closed)
		return -ECANCELED;
	if (!len || len > NET_HTTP_REQUEST_BYTES_MAX)
		return -EMSGSIZE;
	struct http_conn *c = conn_idle(p);
	bool can_open = p->conns_live < p->max_conns;
	if (!c && !can_open && p->q_len >= p->queue_max)
		return -EBUSY;
	struct http_req *r = req_alloc(p, len);
	if (!r)
		return -ENOMEM;
	memcpy(r->data, req, len);
	r->len = len;
	r->done = done;
	r->arg = arg;
	r->deadline_ms = p->io->now_ms + p->request_timeout_ms;
	r->head = len >= 5 && memcmp(req, "HEAD ", 5) == 0;
	int rc = 0;
	if (c)
		rc = conn_start(c, r);
	else if (can_open)
		rc = conn_open(p, r);
	else
		queue_push(p, r, false);
	if (rc) {
		req_drop(p, r);
		return rc;
	}
	p->inflight++;
	p->st.requests++;
	return 0;
}

unsigned net_http_inflight(const struct net_http_pool *p)
{
	return p->inflight;
}

void net_http_tick(struct net_http_pool *p)
{
	if (p->closed)
		return;
	uint64_t now = p->io->now_ms;
	p->depth++;
	/* callbacks may add connections (at the head) but free none while depth > 0 */
	for (struct http_conn *c = p->conns; c; c = c->next) {
		if (c->closing)
			continue;
		bool connecting = c->state == CONN_CONNECTING || c->state == CONN_HANDSHAKE;
		if ((connecting && now >= c->connect_deadline_ms) || (c->req && now >= c->req->deadline_ms)) {
			conn_fail(c, -ETIMEDOUT);
			conn_deliver(c);
		}
	}
	while (p->q_head && now >= p->q_head->deadline_ms)
		req_finish(p, queue_pop(p), -ETIMEDOUT, NULL, 0);
	pool_dispatch(p);
	pool_leave(p, NULL);
}

void net_http_pool_close(struct net_http_pool *p)
{
	if (p->closed)
		return;
	p->closed = true;
	p->depth++;
	struct http_req *r;
	while ((r = queue_pop(p)))
		req_finish(p, r, -ECANCELED, NULL, 0);
	for (struct http_conn *c = p->conns; c; c = c->next) {
		r = c->req;
		c->req = NULL;
		conn_close(c);
		if (r)
			req_finish(p, r, -ECANCELED, NULL, 0);
	}
	pool_leave(p, NULL);
}

void net_http_pool_stats(const struct net_http_pool *p, struct net_http_stats *out)
{
	*out = p->st;
}

unsigned net_http_pools_live(void)
{
	return pools_live;
}

/* "http[s]://host[:port][/...]", host a name, IPv4 or [IPv6]. 0 or -EINVAL. */
static int url_parse(struct net_http_pool *p, const char *url, char port[8])
{
	const char *s, *def;
	if (!url)
		return -EINVAL;
	if (strncasecmp(url, "http://", 7) == 0) {
		s = url + 7;
		def = "80";
	} else if (strncasecmp(url, "https://", 8) == 0) {
		s = url + 8;
		def = "443";
		p->tls = true;
	} else {
		return -EINVAL;
	}
	size_t auth_len = strcspn(s, "/?#");
	const char *end = s + auth_len, *h = s, *h_end, *after;
	if (memchr(s, '@', auth_len))
		return -EINVAL; /* no user info */
	if (*s == '[') {
		h = s + 1;
		h_end = memchr(h, ']', (size_t)(end - h));
		if (!h_end)
			return -EINVAL;
		after = h_end + 1;
	} else {
		h_end = memchr(s, ':', auth_len);
		if (!h_end)
			h_end = end;
		after = h_end;
	}
	size_t host_len = (size_t)(h_end - h);
	if (!host_len || host_len > NET_HTTP_HOST_BYTES_MAX)
		return -EINVAL;
	memcpy(p->host, h, host_len);
	p->host[host_len] = '\0';
	if (after == end) {
		strcpy(port, def);
		return 0;
	}
	if (*after != ':' || end - after < 2 || end - after > 6)
		return -EINVAL;
	unsigned v = 0;
	for (const char *d = after + 1; d < end; d++) {
		if (*d < '0' || *d > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*d - '0');
	}
	if (!v || v > 65535)
		return -EINVAL;
	snprintf(port, 8, "%u", v);
	return 0;
}

static int resolve(struct net_http_pool *p, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	int gai = getaddrinfo(p->host, port, &hints, &res);
	if (gai) {
		switch (gai) {
		case EAI_MEMORY:
			return -ENOMEM;
		case EAI_AGAIN:
			return -EAGAIN;
		case EAI_SYSTEM:
			return errno ? -errno : -EIO;
		case EAI_NONAME:
		case EAI_NODATA:
		case EAI_FAIL:
			return -ENOENT;
		default:
			return -EINVAL;
		}
	}
	int rc = -EAFNOSUPPORT;
	if (res->ai_addrlen <= sizeof(p->addr)) { /* the first answer, as resolved once */
		memcpy(&p->addr, res->ai_addr, res->ai_addrlen);
		p->addr_len = res->ai_addrlen;
		rc = 0;
	}
	freeaddrinfo(res);
	struct in6_addr a6;
	p->host_is_ip = inet_pton(AF_INET, p->host, &a6) == 1 || inet_pton(AF_INET6, p->host, &a6) == 1;
	return rc;
}

static int tls_ctx_new(struct net_http_pool *p, const struct net_http_pool_cfg *cfg)
{
	if (alloc_fails())
		return -ENOMEM;
	ERR_clear_error();
	p->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!p->ssl_ctx)
		return tls_errno();
	SSL_CTX_set_min_proto_version(p->ssl_ctx, TLS1_2_VERSION);
	if (cfg->insecure) {
		SSL_CTX_set_verify(p->ssl_ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SSL_CTX_set_verify(p->ssl_ctx, SSL_VERIFY_PEER, NULL);
	if (cfg->ca_file) {
		if (access(cfg->ca_file, R_OK))
			return -errno;
		if (SSL_CTX_load_verify_locations(p->ssl_ctx, cfg->ca_file, NULL) != 1) {
			base_log(BASE_LOG_ERROR, "msg=\"cannot load CA file\" file=%s", cfg->ca_file);
			ERR_clear_error();
			return -EINVAL;
		}
	} else if (SSL_CTX_set_default_verify_paths(p->ssl_ctx) != 1) {
		return tls_errno();
	}
	return 0;
}

int net_http_pool_init(struct net_http_pool **out, struct iou_core *io, const struct net_http_pool_cfg *cfg)
{
	char port[8];
	int rc;
	if (!cfg->max_conns || cfg->max_conns > NET_HTTP_CONNS_MAX || cfg->queue_max > NET_HTTP_QUEUE_MAX ||
	    cfg->max_response_bytes > NET_HTTP_RESPONSE_BYTES_MAX)
		return -EINVAL;
	struct net_http_pool *p = http_calloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->io = io;
	p->max_conns = cfg->max_conns;
	p->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : NET_HTTP_CONNECT_TIMEOUT_MS_DEFAULT;
	p->request_timeout_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms : NET_HTTP_REQUEST_TIMEOUT_MS_DEFAULT;
	p->queue_max = cfg->queue_max;
	p->max_response_bytes = cfg->max_response_bytes ? cfg->max_response_bytes : NET_HTTP_RESPONSE_BYTES_DEFAULT;
	p->insecure = cfg->insecure;
	rc = url_parse(p, cfg->url, port);
	if (rc)
		goto out_free_pool;
	rc = resolve(p, port);
	if (rc)
		goto out_free_pool;
	if (p->tls) {
		rc = tls_ctx_new(p, cfg);
		if (rc)
			goto out_free_ctx;
	}
	pools_live++;
	*out = p;
	return 0;

out_free_ctx:
	SSL_CTX_free(p->ssl_ctx);
out_free_pool:
	free(p);
	return rc;
}
