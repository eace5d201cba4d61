/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http1.h - an HTTP/1.1 client for vendor calls, on one core's io_uring.
 *
 * A pool belongs to one core and one endpoint (scheme, host, port). It keeps
 * up to max_conns keep-alive connections and writes one request at a time
 * on each (no pipelining); requests that find every connection busy wait in
 * a bounded FIFO. The caller hands over complete request bytes (request
 * line, headers including Host and Content-Length, body); the pool hands
 * back the status and the de-chunked body. https URLs speak TLS (OpenSSL
 * over memory BIOs: the socket I/O still goes through the ring).
 *
 * Every completion on the ring carries an iou_op of kind NET_OP_HTTP; the
 * core must route that kind here (net_http_register). The pool has no
 * timers of its own: the core's tick calls net_http_tick, so timeouts are
 * as precise as the tick.
 *
 * Thread rules: every function, and every done callback, runs on the thread
 * of the core the pool was created on.
 */
#ifndef NET_HTTP1_H
#define NET_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/reactor.h"

#define NET_OP_HTTP 10 /* iou_op kind of every completion of this file */

/* ---- limits (unit first, _MAX last) ------------------------------------------- */
#define NET_HTTP_CONNS_MAX                   256u          /* per pool */
#define NET_HTTP_QUEUE_MAX                   65536u        /* requests waiting, per pool */
#define NET_HTTP_REQUEST_BYTES_MAX           (16u << 20)   /* one request, headers included */
#define NET_HTTP_RESPONSE_BYTES_DEFAULT      (1u << 20)    /* body bytes, when the cfg says 0 */
#define NET_HTTP_RESPONSE_BYTES_MAX          (64u << 20)
#define NET_HTTP_RECV_BYTES                  (16u << 10)   /* offered to one receive */
#define NET_HTTP_HOST_BYTES_MAX              255u
#define NET_HTTP_CONNECT_TIMEOUT_MS_DEFAULT  3000u
#define NET_HTTP_REQUEST_TIMEOUT_MS_DEFAULT  10000u
#define NET_HTTP_REQ_CACHE_MAX               64u           /* freed requests kept for reuse */
#define NET_HTTP_REQ_CACHE_BYTES_MAX         (128u << 10)  /* larger ones are freed */
#define NET_HTTP_BODY_KEEP_BYTES_MAX         (256u << 10)  /* a connection keeps its body buffer up to this */

_Static_assert(NET_OP_HTTP >= IOU_OP_USER && NET_OP_HTTP < IOU_OP_KINDS_MAX, "op kind fits the table");
_Static_assert(NET_HTTP_RESPONSE_BYTES_DEFAULT <= NET_HTTP_RESPONSE_BYTES_MAX, "default within max");
_Static_assert(NET_HTTP_REQUEST_BYTES_MAX < (1u << 31), "a request fits SSL_write's int");
_Static_assert(NET_HTTP_RECV_BYTES < (1u << 31), "a receive fits an int");

struct net_http_pool;

struct net_http_pool_cfg {
	const char *url;             /* "http://127.0.0.1:8080" or "https://host[:port]"; path ignored */
	unsigned max_conns;          /* 1..NET_HTTP_CONNS_MAX */
	uint32_t connect_timeout_ms; /* TCP + TLS handshake; 0: default */
	uint32_t request_timeout_ms; /* from net_http_send to the answer, queueing included; 0: default */
	uint32_t queue_max;          /* requests waiting for a connection; 0: none wait */
	const char *ca_file;         /* PEM CAs to trust; NULL: the system's */
	bool insecure;               /* skip certificate and host name checks (tests only) */
	size_t max_response_bytes;   /* de-chunked body; 0: default */
};

/*
 * The answer to one request. status: the HTTP status (100..599, never 1xx
 * in practice: interim answers are skipped) with the de-chunked body, or
 *   -ECONNREFUSED, -ENETUNREACH, ...  the connect failed (its errno)
 *   -ETIMEDOUT    connect or request timeout
 *   -ECONNRESET   the connection closed before the answer was complete
 *   -EPROTO       not HTTP, a malformed answer, or a TLS failure
 *   -EMSGSIZE     the body is over max_response_bytes
 *   -ENOMEM       out of memory
 *   -ECANCELED    the pool was closed
 * body is NUL-terminated (not counted in len), "" when empty, NULL on an
 * error; it stays valid until the callback returns. Called exactly once per
 * accepted request, on the core's thread, never from inside net_http_send.
 * The callback may call net_http_send and net_http_pool_close.
 */
typedef void net_http_done_fn(void *arg, int status, const char *body, size_t len);

struct net_http_stats {
	uint64_t requests;   /* accepted by net_http_send */
	uint64_t responses;  /* answered with an HTTP status */
	uint64_t errors;     /* answered with -errno */
	uint64_t connects;   /* connections established (TCP; TLS handshake not included) */
	uint64_t reconnects; /* of those, made after an earlier connection of the pool had closed */
	uint64_t retries;    /* requests written again on a fresh connection */
	uint64_t bytes_out;  /* socket bytes (TLS records on https) */
	uint64_t bytes_in;
};

/*
 * Create a pool for io's core: parses the URL and resolves the host once
 * (getaddrinfo, blocking: call at start-up), loads the CAs for https.
 * 0 with *p set, -EINVAL (bad URL or cfg), -ENOENT (host not found), -ENOMEM,
 * or another -errno. Call on io's thread.
 */
int net_http_pool_init(struct net_http_pool **p, struct iou_core *io, const struct net_http_pool_cfg *cfg);

/*
 * Send len bytes of req (copied: the caller may reuse req at once); done
 * is called later with the answer. 0: accepted. Not accepted (done will
 * not be called): -EBUSY (every connection busy and the queue full),
 * -EMSGSIZE (len 0 or over NET_HTTP_REQUEST_BYTES_MAX), -ENOMEM, -ECANCELED
 * (inside a done callback after net_http_pool_close), or the -errno of a
 * socket that could not be created.
 */
int net_http_send(struct net_http_pool *p, const void *req, size_t len, net_http_done_fn *done, void *arg);

/* Requests accepted and not yet answered: written, being written, or queued. */
unsigned net_http_inflight(const struct net_http_pool *p);

/* Call every reactor tick: connect, request and queue timeouts against io->now_ms. */
void net_http_tick(struct net_http_pool *p);

/*
 * Answer every request with -ECANCELED (from inside this call), close the
 * sockets, and free the pool once the ring has given back every operation
 * it still holds (the core's loop must keep running until
 * net_http_pools_live() says so). p is invalid after this call, except to
 * net_http_send, which a done callback run by this call may still call
 * (it returns -ECANCELED).
 */
void net_http_pool_close(struct net_http_pool *p);

/* Route NET_OP_HTTP completions of io's ring to this file. */
void net_http_register(struct iou_core *io);

void net_http_pool_stats(const struct net_http_pool *p, struct net_http_stats *out);

/* Pools of the calling thread not yet freed (closed ones waiting for the ring included). */
unsigned net_http_pools_live(void);

/* Test hook: the n-th allocation of this file on the calling thread fails (1 = next; 0 = none). */
void net_http_fail_alloc_after(long n);

#endif
