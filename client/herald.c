/* SPDX-License-Identifier: Apache-2.0 */
/*
 * herald.c - libherald connections: transport, pipelining, answer checks,
 * and the operations of protocol v1 on top. The API is in include/herald.h.
 *
 * A connection owns a non-blocking TCP socket and two byte buffers
 * (base/buf.h):
 *
 *   out   request frames appended by herald_req_* through net_wr_*; sent
 *         with one send() per herald_flush / herald_recv, or when more
 *         than HRL_CLIENT_OUT_BYTES_MAX is waiting at herald_req_begin.
 *   in    bytes received, at least HRL_CLIENT_RECV_BYTES of room offered to
 *         each recv(); herald_recv parses frames in place and hands out
 *         pointers into it.
 *
 * Neither buffer is allocated per frame: each grows to the working size
 * and stays there. While out does not drain (the engine stops reading when
 * it holds too many of our requests), the flush loop keeps reading answers
 * into in, so the two sides cannot wait on each other.
 *
 * Every answer is checked before it is handed out, in this order: header
 * (magic, body length, version, flags via net_hdr_check), CRC32C of the
 * body, then the body against the layout of its opcode (answer_codecs[],
 * indexed by opcode) or, for an error, u16 code + str message, consumed
 * exactly. A failure makes the connection dead (-EPROTO, then -ENOTCONN).
 *
 * Decoders write through an arena that first runs with no memory: that
 * pass checks the body and measures what the result needs; a second pass
 * fills one malloc'd block of exactly that size. The check of herald_recv
 * is the first pass alone, so there is one description of each layout.
 *
 * Request ids start at 1 and go up by one per request; 0 is what the engine
 * uses for connection-level errors, so we never send it.
 */
#include "include/herald.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/buf.h"
#include "base/crc32c.h"
#include "net/wire.h"

/*
 * Client-side limits. They belong with the others in include/bounds.h;
 * they live here until that header can take them.
 */
#define HRL_CLIENT_PORT_DEFAULT  "7600"
#define HRL_CLIENT_NAME_DEFAULT  "libherald"
_Static_assert(HRL_CLIENT_OUT_BYTES_MAX >= HRL_FRAME_HEADER_BYTES, "one frame fits before a send");
_Static_assert(sizeof(HRL_CLIENT_NAME_DEFAULT) - 1 <= HRL_CLIENT_NAME_BYTES_MAX, "name fits HELLO");

#define CLIENT_ASSERT(cond)                                                                  \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "libherald: %s:%d: assertion failed: %s\n", __FILE__, \
				__LINE__, #cond);                                            \
			abort();                                                             \
		}                                                                            \
	} while (0)

struct herald_conn {
	int fd;
	int timeout_ms;   /* < 0: no limit */
	int dead;         /* 0, or -ENOTCONN after a failure that ends the connection */
	int closed;       /* 0, or -errno: the transport ended; buffered answers remain */
	bool building;    /* between herald_req_begin and herald_req_end */
	uint64_t next_id; /* id of the next request */
	uint16_t last_opcode; /* of the last request begun: what a blocking call awaits */
	size_t inflight;
	struct net_wr wr;
	struct base_buf out;
	struct base_buf in;

	bool have_nonce;
	uint8_t nonce[HRL_NONCE_BYTES];
	char *server_name;

	int err_code;             /* engine error of the last blocking call */
	struct base_buf err_msg;  /* its message, NUL-terminated */
};

/* ---- time ---------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* -1: no deadline. */
static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Milliseconds left for poll(): -1 for ever, 0 when past. */
static int ms_left(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Wait for events on the socket. Returns the revents (> 0), -ETIMEDOUT or -errno. */
static int sock_wait(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int n = poll(&pfd, 1, ms_left(deadline));
		if (n > 0)
			return pfd.revents;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* ---- connect / close --------------------------------------------------- */

/* "host:port", "[v6]:port", "host" -> host and port strings. 0 or -EINVAL. */
static int split_addr(const char *addr, char *host, size_t host_size, char *port,
		      size_t port_size)
{
	const char *h = addr, *p = NULL;
	size_t hlen;

	if (!addr || !*addr)
		return -EINVAL;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close)
			return -EINVAL;
		h = addr + 1;
		hlen = (size_t)(close - h);
		if (close[1] == ':')
			p = close + 2;
		else if (close[1] != '\0')
			return -EINVAL;
	} else {
		const char *colon = strrchr(addr, ':');
		if (colon && strchr(addr, ':') != colon)
			return -EINVAL; /* a bare IPv6 address needs brackets */
		hlen = colon ? (size_t)(colon - addr) : strlen(addr);
		p = colon ? colon + 1 : NULL;
	}
	if (hlen == 0 || hlen >= host_size)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (!p)
		p = HRL_CLIENT_PORT_DEFAULT;
	size_t plen = strlen(p);
	if (plen == 0 || plen >= port_size || strspn(p, "0123456789") != plen)
		return -EINVAL;
	long v = strtol(p, NULL, 10);
	if (v < 1 || v > 65535)
		return -EINVAL;
	memcpy(port, p, plen + 1);
	return 0;
}

/* One connect attempt. Returns a connected non-blocking fd or -errno. */
static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			rc = -errno;
			goto out_close_fd;
		}
		rc = sock_wait(fd, POLLOUT, deadline);
		if (rc < 0)
			goto out_close_fd;
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr) {
			rc = -soerr;
			goto out_close_fd;
		}
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;

out_close_fd:
	close(fd);
	return rc;
}

int herald_connect(const char *addr, int timeout_ms, struct herald_conn **connp)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV,
	};
	struct addrinfo *res = NULL;
	int64_t deadline = deadline_after(timeout_ms);
	int rc, fd = -ECONNREFUSED;

	*connp = NULL;
	rc = split_addr(addr, host, sizeof(host), port, sizeof(port));
	if (rc)
		return rc;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		if (rc == EAI_SYSTEM)
			return errno ? -errno : -EIO;
		return rc == EAI_MEMORY ? -ENOMEM : -ENXIO;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = connect_one(ai, deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	if (fd < 0) {
		rc = fd;
		goto out_free_addrinfo;
	}
	struct herald_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		rc = -ENOMEM;
		goto out_close_fd;
	}
	c->fd = fd;
	c->timeout_ms = timeout_ms;
	c->next_id = 1;
	*connp = c;
	freeaddrinfo(res);
	return 0;

out_close_fd:
	close(fd);
out_free_addrinfo:
	freeaddrinfo(res);
	return rc;
}

void herald_close(struct herald_conn *c)
{
	if (!c)
		return;
	close(c->fd);
	base_buf_free(&c->out);
	base_buf_free(&c->in);
	base_buf_free(&c->err_msg);
	free(c->server_name);
	free(c);
}

void herald_set_timeout(struct herald_conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

int herald_fd(const struct herald_conn *c)
{
	return c->fd;
}

size_t herald_inflight(const struct herald_conn *c)
{
	return c->inflight;
}

int herald_errcode(const struct herald_conn *c)
{
	return c->err_code;
}

const char *herald_errmsg(const struct herald_conn *c)
{
	return c->err_msg.len ? (const char *)c->err_msg.data : "";
}

/* ---- transport ----------------------------------------------------------- */

/* Mark the connection unusable and pass rc through. */
static int conn_kill(struct herald_conn *c, int rc)
{
	c->dead = -ENOTCONN;
	return rc;
}

/* The byte stream ended (or failed): nothing more can be sent. */
static void conn_set_closed(struct herald_conn *c, int rc)
{
	if (!c->closed)
		c->closed = rc;
	c->out.off = c->out.len = 0;
}

/* Send what the socket takes now. 0 (all sent, or it would block) or -errno. */
static int conn_send(struct herald_conn *c)
{
	while (base_buf_readable(&c->out)) {
		ssize_t n = send(c->fd, base_buf_head(&c->out), base_buf_readable(&c->out),
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			base_buf_consume(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

/* One recv into in. > 0 bytes read, -EAGAIN, -ECONNRESET at end of stream, -errno. */
static int conn_fill(struct herald_conn *c)
{
	if (base_buf_reserve(&c->in, HRL_CLIENT_RECV_BYTES))
		return -ENOMEM;
	for (;;) {
		ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len,
				 MSG_DONTWAIT);
		if (n > 0) {
			c->in.len += (size_t)n;
			return 1;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		return -errno;
	}
}

static int conn_flush_until(struct herald_conn *c, int64_t deadline)
{
	for (;;) {
		if (c->dead)
			return c->dead;
		if (c->closed)
			return c->closed;
		int rc = conn_send(c);
		if (rc) {
			conn_set_closed(c, rc);
			return rc;
		}
		if (!base_buf_readable(&c->out))
			return 0;
		rc = sock_wait(c->fd, POLLOUT | POLLIN, deadline);
		if (rc < 0)
			return rc;
		if (rc & (POLLIN | POLLHUP | POLLERR)) {
			rc = conn_fill(c);
			if (rc < 0 && rc != -EAGAIN) {
				conn_set_closed(c, rc);
				return rc;
			}
		}
	}
}

int herald_flush(struct herald_conn *c)
{
	CLIENT_ASSERT(!c->building);
	return conn_flush_until(c, deadline_after(c->timeout_ms));
}

/* ---- requests -------------------------------------------------------------- */

int herald_req_begin(struct herald_conn *c, uint16_t opcode)
{
	CLIENT_ASSERT(!c->building);
	if (c->dead || c->closed)
		return -ENOTCONN;
	if (base_buf_readable(&c->out) >= HRL_CLIENT_OUT_BYTES_MAX) {
		int rc = conn_flush_until(c, deadline_after(c->timeout_ms));
		if (rc)
			return rc;
	}
	/*
	 * net_wr remembers where the frame starts as an offset from data; a
	 * compaction inside base_buf_reserve would move the frame under it.
	 * With off at 0 no compaction can happen while the frame is built.
	 */
	if (c->out.off)
		base_buf_compact(&c->out);
	c->building = true;
	c->last_opcode = opcode;
	net_wr_begin(&c->wr, &c->out, opcode, 0, c->next_id++);
	return 0;
}

void herald_req_u8(struct herald_conn *c, uint8_t v)
{
	net_wr_u8(&c->wr, v);
}

void herald_req_u16(struct herald_conn *c, uint16_t v)
{
	net_wr_u16(&c->wr, v);
}

void herald_req_u32(struct herald_conn *c, uint32_t v)
{
	net_wr_u32(&c->wr, v);
}

void herald_req_u64(struct herald_conn *c, uint64_t v)
{
	net_wr_u64(&c->wr, v);
}

void herald_req_strn(struct herald_conn *c, const char *s, size_t n)
{
	net_wr_str(&c->wr, s, n);
}

void herald_req_str(struct herald_conn *c, const char *s)
{
	net_wr_str(&c->wr, s, strlen(s));
}

void herald_req_raw(struct herald_conn *c, const void *p, size_t n)
{
	net_wr_raw(&c->wr, p, n);
}

int herald_req_end(struct herald_conn *c, uint64_t *request_id)
{
	CLIENT_ASSERT(c->building);
	c->building = false;
	int rc = net_wr_end(&c->wr);
	if (rc)
		return rc;
	c->inflight++;
	if (request_id)
		*request_id = c->next_id - 1;
	return 0;
}

int herald_submit(struct herald_conn *c, uint16_t opcode, const void *body, size_t body_len,
		  uint64_t *request_id)
{
	int rc = herald_req_begin(c, opcode);
	if (rc)
		return rc;
	if (body_len)
		herald_req_raw(c, body, body_len);
	return herald_req_end(c, request_id);
}

/* ---- answer decoders ---------------------------------------------------------- */

/*
 * Arena of one decode pass. base == NULL: measuring pass, takes return
 * NULL and only used grows. Otherwise a block of cap bytes from malloc.
 */
struct arena {
	uint8_t *base;
	size_t used;
	size_t cap;
};

static void *arena_take(struct arena *a, size_t n, size_t align)
{
	size_t off = (a->used + align - 1) & ~(align - 1);
	a->used = off + n;
	if (!a->base)
		return NULL;
	CLIENT_ASSERT(a->used <= a->cap);
	return a->base + off;
}

/* Copy n bytes of s, NUL-terminated, into the arena (NULL when measuring). */
static const char *arena_copy_str(struct arena *a, const char *s, size_t n)
{
	char *d = arena_take(a, n + 1, 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Read a str and copy it, NUL-terminated, into the arena; its length in *len. */
static const char *rd_str_copy_len(struct net_rd *r, struct arena *a, size_t *len)
{
	const char *s;
	size_t n = net_rd_str(r, &s);
	*len = n;
	return arena_copy_str(a, s, n);
}

static const char *rd_str_copy(struct net_rd *r, struct arena *a)
{
	size_t len;
	return rd_str_copy_len(r, a, &len);
}

static void rd_fail(struct net_rd *r)
{
	r->bad = true;
}

/* Fixed-size results; variable-size ones are a root pointer into the arena. */
struct res_hello {
	uint8_t version;
	uint16_t core_count;
	uint32_t max_body_bytes;
	const uint8_t *nonce;
	const char *server_name; /* into the body, not terminated */
	size_t server_name_len;
};

struct res_secret {
	const uint8_t *secret;
	uint32_t secret_version;
};

struct res_bind {
	uint32_t device_id;
	uint8_t created;
};

struct res_str {
	const char *s; /* into the body, not terminated */
	size_t len;
};

union res_any {
	struct res_hello hello;
	uint8_t role;
	uint8_t u8;
	struct res_secret secret;
	struct res_bind bind;
	struct res_str str;
	uint16_t count;
	uint64_t u64;
	struct herald_campaign_status campaign_status;
	void *root;
};

static void dec_hello(struct net_rd *r, void *out, struct arena *a)
{
	struct res_hello *o = out;
	o->version = net_rd_u8(r);
	(void)net_rd_u8(r); /* reserved */
	o->core_count = net_rd_u16(r);
	o->max_body_bytes = net_rd_u32(r);
	o->nonce = net_rd_raw(r, HRL_NONCE_BYTES);
	o->server_name_len = net_rd_str(r, &o->server_name);
	if (o->version < HRL_VERSION_MIN || o->version > HRL_VERSION_MAX)
		rd_fail(r);
}

static void dec_auth(struct net_rd *r, void *out, struct arena *a)
{
	const char *app_id;
	(void)net_rd_str(r, &app_id);
	uint8_t role = net_rd_u8(r);
	if (role != HRL_ROLE_APP && role != HRL_ROLE_ADMIN)
		rd_fail(r);
	*(uint8_t *)out = role;
}

static void dec_ping(struct net_rd *r, void *out, struct arena *a)
{
	(void)net_rd_raw(r, r->len - r->off);
}

static void dec_empty(struct net_rd *r, void *out, struct arena *a)
{
}

static void dec_count(struct net_rd *r, void *out, struct arena *a)
{
	*(uint16_t *)out = net_rd_u16(r);
}

static void dec_stats(struct net_rd *r, void *out, struct arena *a)
{
	struct herald_stats *s = arena_take(a, sizeof(*s), _Alignof(struct herald_stats));
	struct herald_stats v = { .core_count = net_rd_u16(r) };
	v.cores = arena_take(a, v.core_count * sizeof(*v.cores), _Alignof(struct herald_core_stats));
	for (unsigned i = 0; i < v.core_count && !r->bad; i++) {
		struct herald_core_stats cs;
		cs.core = net_rd_u16(r);
		cs.partitions_owned = net_rd_u32(r);
		cs.connections_open = net_rd_u64(r);
		cs.requests_total = net_rd_u64(r);
		cs.forwarded_total = net_rd_u64(r);
		cs.users = net_rd_u64(r);
		if (v.cores)
			v.cores[i] = cs;
	}
	if (s)
		*s = v;
	*(void **)out = s;
}

/*
 * STORE_STATS answer (PROTOCOL.md 5.4), 58 + 71 * core_count + 36 bytes:
 *
 *   u32 epoch, u64 recovery_ms, u64 recovered_segments,
 *   u64 recovered_records, u64 torn_tails, u64 corrupt_records,
 *   u32 segment_files, u64 segment_bytes, u16 core_count, then per core
 *   u16 core, u64 records_written, u64 bytes_written, u64 flushes,
 *   u64 io_errors, u64 users, u8 compaction, u32 compaction_rounds,
 *   u64 records_rewritten, u64 segments_deleted, u64 bytes_reclaimed;
 *   then the receipt log: u32 event_segment_files, u64 event_segment_bytes,
 *   u64 receipts_written, u64 receipts_replayed, u64 event_segments_expired.
 */
#define STORE_STATS_FIXED_BYTES (4u + 5u * 8u + 4u + 8u + 2u)
#define STORE_STATS_CORE_BYTES  (2u + 5u * 8u + 1u + 4u + 3u * 8u)
#define STORE_STATS_TAIL_BYTES  (4u + 4u * 8u)
_Static_assert(STORE_STATS_FIXED_BYTES == 58 && STORE_STATS_CORE_BYTES == 71 &&
		       STORE_STATS_TAIL_BYTES == 36,
	       "STORE_STATS layout of PROTOCOL.md 5.4");

static void dec_store_stats(struct net_rd *r, void *out, struct arena *a)
{
	struct herald_store_stats *s =
		arena_take(a, sizeof(*s), _Alignof(struct herald_store_stats));
	struct herald_store_stats v = { 0 };

	v.epoch = net_rd_u32(r);
	v.recovery_ms = net_rd_u64(r);
	v.recovered_segments = net_rd_u64(r);
	v.recovered_records = net_rd_u64(r);
	v.torn_tails = net_rd_u64(r);
	v.corrupt_records = net_rd_u64(r);
	v.segment_files = net_rd_u32(r);
	v.segment_bytes = net_rd_u64(r);
	v.core_count = net_rd_u16(r);
	/* The entries are fixed-size: a count the body cannot hold is a lie. */
	if ((uint64_t)v.core_count * STORE_STATS_CORE_BYTES + STORE_STATS_TAIL_BYTES !=
	    r->len - r->off) {
		rd_fail(r);
		v.core_count = 0;
	}
	v.cores = arena_take(a, v.core_count * sizeof(*v.cores),
			     _Alignof(struct herald_core_store_stats));
	for (unsigned i = 0; i < v.core_count && !r->bad; i++) {
		struct herald_core_store_stats cs;
		cs.core = net_rd_u16(r);
		cs.records_written = net_rd_u64(r);
		cs.bytes_written = net_rd_u64(r);
		cs.flushes = net_rd_u64(r);
		cs.io_errors = net_rd_u64(r);
		cs.users = net_rd_u64(r);
		cs.compaction = net_rd_u8(r);
		cs.compaction_rounds = net_rd_u32(r);
		cs.records_rewritten = net_rd_u64(r);
		cs.segments_deleted = net_rd_u64(r);
		cs.bytes_reclaimed = net_rd_u64(r);
		if (cs.compaction >= HERALD_COMPACTION_COUNT)
			rd_fail(r);
		if (v.cores)
			v.cores[i] = cs;
	}
	v.event_segment_files = net_rd_u32(r);
	v.event_segment_bytes = net_rd_u64(r);
	v.receipts_written = net_rd_u64(r);
	v.receipts_replayed = net_rd_u64(r);
	v.event_segments_expired = net_rd_u64(r);
	if (s)
		*s = v;
	*(void **)out = s;
}

static void dec_app_create(struct net_rd *r, void *out, struct arena *a)
{
	struct res_secret *o = out;
	const char *app_id;
	(void)net_rd_str(r, &app_id);
	o->secret = net_rd_raw(r, HRL_SECRET_BYTES);
	o->secret_version = 0;
}

static void dec_app_list(struct net_rd *r, void *out, struct arena *a)
{
	struct herald_app_list *l = arena_take(a, sizeof(*l), _Alignof(struct herald_app_list));
	struct herald_app_list v = { .count = net_rd_u32(r) };
	/* Each entry takes at least 14 bytes: a count beyond that is a lie. */
	if ((uint64_t)v.count * 14 > r->len - r->off) {
		rd_fail(r);
		v.count = 0;
	}
	v.apps = arena_take(a, (size_t)v.count * sizeof(*v.apps), _Alignof(struct herald_app_info));
	for (uint32_t i = 0; i < v.count && !r->bad; i++) {
		struct herald_app_info ai;
		ai.app_id = rd_str_copy(r, a);
		ai.created_unix_ms = net_rd_u64(r);
		ai.secret_version = net_rd_u32(r);
		if (v.apps)
			v.apps[i] = ai;
	}
	if (l)
		*l = v;
	*(void **)out = l;
}

static void dec_app_rotate(struct net_rd *r, void *out, struct arena *a)
{
	struct res_secret *o = out;
	o->secret = net_rd_raw(r, HRL_SECRET_BYTES);
	o->secret_version = net_rd_u32(r);
}

static void dec_bind(struct net_rd *r, void *out, struct arena *a)
{
	struct res_bind *o = out;
	o->device_id = net_rd_u32(r);
	o->created = net_rd_u8(r);
	if (o->created > 1)
		rd_fail(r);
}

static void dec_alias_set(struct net_rd *r, void *out, struct arena *a)
{
	struct res_str *o = out;
	o->len = net_rd_str(r, &o->s);
	if (o->len > HRL_ALIAS_BYTES_MAX)
		rd_fail(r);
}

static void dec_alias_lookup(struct net_rd *r, void *out, struct arena *a)
{
	struct herald_alias_hits *h = arena_take(a, sizeof(*h), _Alignof(struct herald_alias_hits));
	struct herald_alias_hits v = { .count = net_rd_u16(r) };
	v.hits = arena_take(a, v.count * sizeof(*v.hits), _Alignof(struct herald_alias_hit));
	for (unsigned i = 0; i < v.count && !r->bad; i++) {
		struct herald_alias_hit hit;
		hit.user_id = rd_str_copy(r, a);
		hit.device_id = net_rd_u32(r);
		if (v.hits)
			v.hits[i] = hit;
	}
	if (h)
		*h = v;
	*(void **)out = h;
}

static void dec_device(struct net_rd *r, struct arena *a, struct herald_device *d)
{
	d->device_id = net_rd_u32(r);
	d->channel = net_rd_u8(r);
	d->vendor = net_rd_u8(r);
	d->platform = net_rd_u8(r);
	d->state = net_rd_u8(r);
	d->bound_unix_ms = net_rd_u64(r);
	d->address = rd_str_copy(r, a);
	d->alias_count = net_rd_u8(r);
	d->aliases = arena_take(a, d->alias_count * sizeof(*d->aliases), _Alignof(struct herald_alias));
	for (unsigned j = 0; j < d->alias_count && !r->bad; j++) {
		struct herald_alias al;
		al.alias_type = rd_str_copy(r, a);
		al.alias = rd_str_copy(r, a);
		if (d->aliases)
			d->aliases[j] = al;
	}
}

static void dec_user_show(struct net_rd *r, void *out, struct arena *a)
{
	struct herald_user *u = arena_take(a, sizeof(*u), _Alignof(struct herald_user));
	struct herald_user v = { 0 };

	v.user_id = rd_str_copy(r, a);
	v.partition = net_rd_u16(r);
	v.device_count = net_rd_u16(r);
	v.devices = arena_take(a, v.device_count * sizeof(*v.devices), _Alignof(struct herald_device));
	for (unsigned i = 0; i < v.device_count && !r->bad; i++) {
		struct herald_device d;
		dec_device(r, a, &d);
		if (v.devices)
			v.devices[i] = d;
	}
	v.tag_count = net_rd_u16(r);
	v.tags = arena_take(a, v.tag_count * sizeof(*v.tags), _Alignof(const char *));
	for (unsigned i = 0; i < v.tag_count && !r->bad; i++) {
		const char *t = rd_str_copy(r, a);
		if (v.tags)
			v.tags[i] = t;
	}
	v.attr_count = net_rd_u16(r);
	v.attrs = arena_take(a, v.attr_count * sizeof(*v.attrs), _Alignof(struct herald_attr));
	for (unsigned i = 0; i < v.attr_count && !r->bad; i++) {
		struct herald_attr at;
		at.key = rd_str_copy(r, a);
		at.value = rd_str_copy_len(r, a, &at.value_len);
		if (v.attrs)
			v.attrs[i] = at;
	}
	if (u)
		*u = v;
	*(void **)out = u;
}

static void dec_receipt_put(struct net_rd *r, void *out, struct arena *a)
{
	*(uint64_t *)out = net_rd_u64(r); /* recorded_unix_ms */
}

/* Receipt enumerations as PROTOCOL.md 5.1 defines them. */
static bool receipt_channel_ok(uint8_t channel)
{
	return channel >= HRL_CH_PUSH && channel < HRL_CH_COUNT;
}

static bool receipt_state_ok(uint8_t state)
{
	return state >= HRL_STATE_QUEUED && state < HRL_STATE_COUNT;
}

/* 0 .. HRL_REASON_BYTES_MAX bytes of printable ASCII (0x20 .. 0x7e). */
static bool reason_ok(const char *s, size_t n)
{
	if (n > HRL_REASON_BYTES_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/*
 * HISTORY answer (PROTOCOL.md 5.6): u16 count, then count x { u64
 * message_id, u64 campaign_id, u8 channel, u8 vendor, u8 state, u64
 * event_unix_ms, u64 recorded_unix_ms, str reason }, then raw[16]
 * next_cursor. An entry takes at least HISTORY_ENTRY_BYTES_MIN bytes.
 */
#define HISTORY_ENTRY_BYTES_MIN (8u + 8u + 1u + 1u + 1u + 8u + 8u + 2u)
_Static_assert(HISTORY_ENTRY_BYTES_MIN == 37, "HISTORY entry layout of PROTOCOL.md 5.6");

static void dec_history(struct net_rd *r, void *out, struct arena *a)
{
	struct herald_history *h = arena_take(a, sizeof(*h), _Alignof(struct herald_history));
	struct herald_history v = { .count = net_rd_u16(r) };

	if (v.count > HRL_HISTORY_LIMIT_MAX ||
	    (uint64_t)v.count * HISTORY_ENTRY_BYTES_MIN + HRL_CURSOR_BYTES > r->len - r->off) {
		rd_fail(r);
		v.count = 0;
	}
	v.receipts = arena_take(a, v.count * sizeof(*v.receipts), _Alignof(struct herald_receipt));
	for (unsigned i = 0; i < v.count && !r->bad; i++) {
		struct herald_receipt rc;
		rc.message_id = net_rd_u64(r);
		rc.campaign_id = net_rd_u64(r);
		rc.channel = net_rd_u8(r);
		rc.vendor = net_rd_u8(r);
		rc.state = net_rd_u8(r);
		rc.event_unix_ms = net_rd_u64(r);
		rc.recorded_unix_ms = net_rd_u64(r);
		const char *reason;
		size_t reason_len = net_rd_str(r, &reason);
		rc.reason = arena_copy_str(a, reason, reason_len);
		if (!receipt_channel_ok(rc.channel) || rc.vendor >= HRL_VENDOR_COUNT ||
		    !receipt_state_ok(rc.state) || !reason_ok(reason, reason_len))
			rd_fail(r);
		if (v.receipts)
			v.receipts[i] = rc;
	}
	const uint8_t *cursor = net_rd_raw(r, HRL_CURSOR_BYTES);
	if (cursor)
		memcpy(v.next_cursor, cursor, HRL_CURSOR_BYTES);
	if (h)
		*h = v;
	*(void **)out = h;
}

/*
 * CAMPAIGN_COUNTERS answer (PROTOCOL.md 5.7): u16 count, then count x
 * { u8 channel, u8 state, u64 count }, strictly increasing by (channel,
 * state), every count non-zero.
 */
#define COUNTER_ENTRY_BYTES (1u + 1u + 8u)

static void dec_campaign_counters(struct net_rd *r, void *out, struct arena *a)
{
	struct herald_campaign_counters *cc =
		arena_take(a, sizeof(*cc), _Alignof(struct herald_campaign_counters));
	struct herald_campaign_counters v = { .count = net_rd_u16(r) };
	unsigned prev = 0; /* (channel << 8 | state) of the entry before */

	if ((uint64_t)v.count * COUNTER_ENTRY_BYTES != r->len - r->off) {
		rd_fail(r);
		v.count = 0;
	}
	v.counters = arena_take(a, v.count * sizeof(*v.counters), _Alignof(struct herald_counter));
	for (unsigned i = 0; i < v.count && !r->bad; i++) {
		struct herald_counter ct;
		ct.channel = net_rd_u8(r);
		ct.state = net_rd_u8(r);
		ct.count = net_rd_u64(r);
		unsigned key = (unsigned)ct.channel << 8 | ct.state;
		if (!receipt_channel_ok(ct.channel) || !receipt_state_ok(ct.state) || ct.count == 0 ||
		    key <= prev)
			rd_fail(r);
		prev = key;
		if (v.counters)
			v.counters[i] = ct;
	}
	if (cc)
		*cc = v;
	*(void **)out = cc;
}

static void dec_campaign_create(struct net_rd *r, void *out, struct arena *a)
{
	uint64_t id = net_rd_u64(r);
	if (id == 0)
		rd_fail(r); /* 5.10: a campaign id is never 0 */
	*(uint64_t *)out = id;
}

static bool campaign_state_ok(uint8_t state)
{
	return state >= HRL_CAMPAIGN_RUNNING && state < HRL_CAMPAIGN_STATE_COUNT;
}

bool herald_campaign_finished(uint8_t state)
{
	return state == HRL_CAMPAIGN_CANCELLED || state == HRL_CAMPAIGN_DONE;
}

/*
 * CAMPAIGN_STATUS answer (PROTOCOL.md 5.10), 100 bytes: u8 state, u8
 * audience, u8 lane, u8 reserved, u64 created_unix_ms, then ten u64
 * counters (users_scanned, recipients, queued, sent, failed, invalid,
 * no_address, resent, vendor_calls, first_call_us), u32 progress_ppm,
 * u32 inflight.
 */
#define CAMPAIGN_STATUS_BYTES (4u * 1u + 11u * 8u + 2u * 4u)
#define CAMPAIGN_PROGRESS_PPM_MAX 1000000u
_Static_assert(CAMPAIGN_STATUS_BYTES == 100, "CAMPAIGN_STATUS layout of PROTOCOL.md 5.10");

static void dec_campaign_status(struct net_rd *r, void *out, struct arena *a)
{
	struct herald_campaign_status *st = out;
	st->state = net_rd_u8(r);
	st->audience = net_rd_u8(r);
	st->lane = net_rd_u8(r);
	(void)net_rd_u8(r); /* reserved */
	st->created_unix_ms = net_rd_u64(r);
	st->users_scanned = net_rd_u64(r);
	st->recipients = net_rd_u64(r);
	st->queued = net_rd_u64(r);
	st->sent = net_rd_u64(r);
	st->failed = net_rd_u64(r);
	st->invalid = net_rd_u64(r);
	st->no_address = net_rd_u64(r);
	st->resent = net_rd_u64(r);
	st->vendor_calls = net_rd_u64(r);
	st->first_call_us = net_rd_u64(r);
	st->progress_ppm = net_rd_u32(r);
	st->inflight = net_rd_u32(r);
	if (!campaign_state_ok(st->state) || st->audience < HRL_AUD_USER ||
	    st->audience >= HRL_AUD_COUNT || st->lane >= HRL_LANE_COUNT ||
	    st->progress_ppm > CAMPAIGN_PROGRESS_PPM_MAX)
		rd_fail(r);
}

static void dec_campaign_control(struct net_rd *r, void *out, struct arena *a)
{
	uint8_t state = net_rd_u8(r);
	if (!campaign_state_ok(state))
		rd_fail(r);
	*(uint8_t *)out = state;
}

/*
 * CAMPAIGN_UPLOAD answer (PROTOCOL.md 5.12): u32 accepted, u32 rejected,
 * u16 reported, then reported x { u32 line, str reason } for the first
 * HRL_UPLOAD_REPORTS_MAX rejected rows, so reported = min(rejected, that).
 * A reason is 1 or more bytes of printable ASCII (0x20-0x7E).
 */
#define UPLOAD_REJECT_BYTES_MIN (4u + 2u + 1u)

static bool upload_reason_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static void dec_campaign_upload(struct net_rd *r, void *out, struct arena *a)
{
	struct herald_upload_result *u = arena_take(a, sizeof(*u), _Alignof(struct herald_upload_result));
	struct herald_upload_result v = { .accepted = net_rd_u32(r), .rejected = net_rd_u32(r) };
	v.reported = net_rd_u16(r);
	uint32_t want = v.rejected < HRL_UPLOAD_REPORTS_MAX ? v.rejected : HRL_UPLOAD_REPORTS_MAX;

	if (v.reported != want || (uint64_t)v.reported * UPLOAD_REJECT_BYTES_MIN > r->len - r->off) {
		rd_fail(r);
		v.reported = 0;
	}
	v.rejects = arena_take(a, v.reported * sizeof(*v.rejects), _Alignof(struct herald_upload_reject));
	for (unsigned i = 0; i < v.reported && !r->bad; i++) {
		struct herald_upload_reject rj;
		const char *reason;
		rj.line = net_rd_u32(r);
		size_t reason_len = net_rd_str(r, &reason);
		rj.reason = arena_copy_str(a, reason, reason_len);
		if (!upload_reason_ok(reason, reason_len))
			rd_fail(r);
		if (v.rejects)
			v.rejects[i] = rj;
	}
	if (u)
		*u = v;
	*(void **)out = u;
}

/*
 * VENDOR_LIST answer (PROTOCOL.md 5.11): u8 count, then count x { u8
 * target, str url, u16 batch_max, u16 connections, u32 rate_per_s, u32
 * daily_quota }, at most one entry per target.
 */
#define VENDOR_ENTRY_BYTES_MIN (1u + 2u + 2u + 2u + 4u + 4u)

static void dec_vendor_list(struct net_rd *r, void *out, struct arena *a)
{
	struct herald_vendor_list *l = arena_take(a, sizeof(*l), _Alignof(struct herald_vendor_list));
	struct herald_vendor_list v = { .count = net_rd_u8(r) };
	unsigned seen = 0; /* bit per target */

	if (v.count >= HRL_TARGET_COUNT ||
	    (uint64_t)v.count * VENDOR_ENTRY_BYTES_MIN > r->len - r->off) {
		rd_fail(r);
		v.count = 0;
	}
	v.vendors = arena_take(a, v.count * sizeof(*v.vendors), _Alignof(struct herald_vendor_info));
	for (unsigned i = 0; i < v.count && !r->bad; i++) {
		struct herald_vendor_info vi;
		const char *url;
		vi.target = net_rd_u8(r);
		size_t url_len = net_rd_str(r, &url);
		vi.url = arena_copy_str(a, url, url_len);
		vi.batch_max = net_rd_u16(r);
		vi.connections = net_rd_u16(r);
		vi.rate_per_s = net_rd_u32(r);
		vi.daily_quota = net_rd_u32(r);
		if (vi.target < HRL_TARGET_HUAWEI || vi.target >= HRL_TARGET_COUNT ||
		    (seen & 1u << vi.target) || url_len > HRL_VENDOR_STR_BYTES_MAX)
			rd_fail(r);
		else
			seen |= 1u << vi.target;
		if (v.vendors)
			v.vendors[i] = vi;
	}
	if (l)
		*l = v;
	*(void **)out = l;
}

/*
 * How to read the answer of each opcode. variable: the result is a block
 * allocated by a second pass. NULL decode: not a v1 opcode.
 */
struct answer_codec {
	void (*decode)(struct net_rd *r, void *out, struct arena *a);
	bool variable;
};

static const struct answer_codec answer_codecs[HRL_OP_TABLE_SIZE] = {
	[HRL_OP_HELLO] = { dec_hello, false },
	[HRL_OP_AUTH] = { dec_auth, false },
	[HRL_OP_PING] = { dec_ping, false },
	[HRL_OP_STATS] = { dec_stats, true },
	[HRL_OP_STORE_STATS] = { dec_store_stats, true },
	[HRL_OP_APP_CREATE] = { dec_app_create, false },
	[HRL_OP_APP_LIST] = { dec_app_list, true },
	[HRL_OP_APP_ROTATE] = { dec_app_rotate, false },
	[HRL_OP_BIND] = { dec_bind, false },
	[HRL_OP_UNBIND] = { dec_empty, false },
	[HRL_OP_ALIAS_SET] = { dec_alias_set, false },
	[HRL_OP_ALIAS_DEL] = { dec_empty, false },
	[HRL_OP_ALIAS_LOOKUP] = { dec_alias_lookup, true },
	[HRL_OP_TAG_ADD] = { dec_count, false },
	[HRL_OP_TAG_DEL] = { dec_count, false },
	[HRL_OP_ATTR_SET] = { dec_count, false },
	[HRL_OP_USER_SHOW] = { dec_user_show, true },
	[HRL_OP_RECEIPT_PUT] = { dec_receipt_put, false },
	[HRL_OP_HISTORY] = { dec_history, true },
	[HRL_OP_CAMPAIGN_COUNTERS] = { dec_campaign_counters, true },
	[HRL_OP_CAMPAIGN_CREATE] = { dec_campaign_create, false },
	[HRL_OP_CAMPAIGN_STATUS] = { dec_campaign_status, false },
	[HRL_OP_CAMPAIGN_CONTROL] = { dec_campaign_control, false },
	[HRL_OP_VENDOR_SET] = { dec_empty, false },
	[HRL_OP_VENDOR_LIST] = { dec_vendor_list, true },
	[HRL_OP_CAMPAIGN_UPLOAD] = { dec_campaign_upload, true },
};
_Static_assert(sizeof(answer_codecs) / sizeof(answer_codecs[0]) == HRL_OP_TABLE_SIZE,
	       "one codec slot per opcode");

/* True if body is a well-formed answer to opcode (the measuring pass). */
static bool answer_valid(uint16_t opcode, const uint8_t *body, size_t len)
{
	if (opcode >= HRL_OP_TABLE_SIZE || !answer_codecs[opcode].decode)
		return false;
	union res_any scratch;
	struct arena measure = { 0 };
	struct net_rd r;
	net_rd_init(&r, body, len);
	answer_codecs[opcode].decode(&r, &scratch, &measure);
	return net_rd_done(&r);
}

/*
 * Decode reply r as an answer to opcode into out (a union res_any for
 * fixed results, a void * root for variable ones, which is malloc'd).
 * Returns 0, r's error code (> 0), -EINVAL for another opcode, -EPROTO,
 * -ENOMEM.
 */
static int reply_decode(const struct herald_reply *r, uint16_t opcode, void *out)
{
	const struct answer_codec *ac = &answer_codecs[opcode];
	struct arena a = { 0 };
	struct net_rd rd;

	if (r->error)
		return r->error;
	if (r->opcode != opcode)
		return -EINVAL;
	net_rd_init(&rd, r->body, r->body_len);
	ac->decode(&rd, out, &a);
	if (!net_rd_done(&rd))
		return -EPROTO;
	if (!ac->variable)
		return 0;
	a.base = malloc(a.used ? a.used : 1);
	if (!a.base)
		return -ENOMEM;
	a.cap = a.used;
	a.used = 0;
	net_rd_init(&rd, r->body, r->body_len);
	ac->decode(&rd, out, &a);
	CLIENT_ASSERT(net_rd_done(&rd) && a.used == a.cap && *(void **)out == a.base);
	return 0;
}

/* ---- receiving ----------------------------------------------------------------- */

/* Codes after which the engine closes the connection (PROTOCOL.md section 6). */
static bool err_closes(uint16_t code)
{
	return code == HRL_E_BAD_MAGIC || code == HRL_E_FRAME_TOO_LARGE ||
	       code == HRL_E_AUTH_FAILED || code == HRL_E_TIMEOUT;
}

/* Parse one frame from in. 1: *r filled; 0: need more bytes; -EPROTO. */
static int conn_parse(struct herald_conn *c, struct herald_reply *r)
{
	size_t avail = base_buf_readable(&c->in);
	const uint8_t *p = base_buf_head(&c->in);
	struct net_hdr h;

	if (avail < HRL_FRAME_HEADER_BYTES)
		return 0;
	net_hdr_decode(p, &h);
	if (net_hdr_check(&h, HRL_FLAG_RESPONSE))
		return conn_kill(c, -EPROTO);
	if (avail - HRL_FRAME_HEADER_BYTES < h.body_len)
		return 0;
	const uint8_t *body = p + HRL_FRAME_HEADER_BYTES;
	if (base_crc32c(0, body, h.body_len) != h.body_crc)
		return conn_kill(c, -EPROTO);

	*r = (struct herald_reply){
		.request_id = h.request_id,
		.opcode = h.opcode,
		.body = body,
		.body_len = h.body_len,
	};
	if (h.flags & HRL_FLAG_ERROR) {
		struct net_rd rd;
		net_rd_init(&rd, body, h.body_len);
		r->error = net_rd_u16(&rd);
		r->message_len = net_rd_str(&rd, &r->message);
		if (!net_rd_done(&rd) || r->error == 0)
			return conn_kill(c, -EPROTO);
		if (err_closes(r->error) || h.request_id == 0)
			conn_set_closed(c, -ECONNRESET); /* the engine closes after this frame */
	} else if (h.request_id == 0 || !answer_valid(h.opcode, body, h.body_len)) {
		return conn_kill(c, -EPROTO);
	}
	if (h.request_id != 0) {
		if (h.request_id >= c->next_id || c->inflight == 0)
			return conn_kill(c, -EPROTO); /* answers nothing we sent */
		c->inflight--;
	}
	/* The bytes stay in place until the next call fills the buffer again. */
	base_buf_consume(&c->in, HRL_FRAME_HEADER_BYTES + h.body_len);
	return 1;
}

int herald_recv(struct herald_conn *c, struct herald_reply *r)
{
	int64_t deadline = deadline_after(c->timeout_ms);

	CLIENT_ASSERT(!c->building);
	if (c->dead)
		return c->dead;
	for (;;) {
		int rc = conn_parse(c, r);
		if (rc)
			return rc < 0 ? rc : 0;
		if (c->closed)
			return c->closed;
		bool sending = base_buf_readable(&c->out) > 0;
		if (sending) {
			rc = conn_send(c);
			if (rc) {
				conn_set_closed(c, rc);
				continue; /* answers may still be buffered, then c->closed */
			}
			sending = base_buf_readable(&c->out) > 0;
		}
		rc = conn_fill(c);
		if (rc > 0)
			continue;
		if (rc != -EAGAIN) {
			conn_set_closed(c, rc);
			continue;
		}
		rc = sock_wait(c->fd, POLLIN | (sending ? POLLOUT : 0), deadline);
		if (rc < 0)
			return rc;
	}
}

/* ---- blocking calls ------------------------------------------------------------ */

/* Start a blocking call: the connection must be usable and idle. */
static int call_begin(struct herald_conn *c)
{
	c->err_code = 0;
	c->err_msg.len = 0;
	if (c->dead || c->closed)
		return -ENOTCONN;
	if (c->inflight)
		return -EBUSY;
	return 0;
}

static int record_error(struct herald_conn *c, const struct herald_reply *r)
{
	c->err_code = r->error;
	c->err_msg.len = 0;
	if (base_buf_append(&c->err_msg, r->message, r->message_len) ||
	    base_buf_append(&c->err_msg, "", 1))
		c->err_msg.len = 0;
	return r->error;
}

/*
 * Wait for the answer to request id, the only one in flight, which must
 * carry the request's opcode. Returns 0 with *r filled, the engine's error
 * code (> 0, recorded for herald_errmsg), or -errno; a timeout or a stray
 * answer ends the connection.
 */
static int call_wait(struct herald_conn *c, uint64_t id, struct herald_reply *r)
{
	int rc = herald_recv(c, r);
	if (rc)
		return rc == -ETIMEDOUT ? conn_kill(c, rc) : rc;
	if (r->request_id == 0 && r->error) {
		conn_kill(c, 0);
		return record_error(c, r);
	}
	if (r->request_id != id || r->opcode != c->last_opcode)
		return conn_kill(c, -EPROTO);
	if (r->error) {
		if (err_closes(r->error))
			conn_kill(c, 0);
		return record_error(c, r);
	}
	return 0;
}

/* Blocking call body: submit expression, then wait; declares rc, id, reply. */
#define CALL(c, submit_expr)                            \
	struct herald_reply reply;                      \
	uint64_t id;                                    \
	int rc = call_begin(c);                         \
	if (rc)                                         \
		return rc;                              \
	rc = (submit_expr);                             \
	if (rc)                                         \
		return rc;                              \
	rc = call_wait((c), id, &reply);                \
	if (rc)                                         \
		return rc

/* ---- session ----------------------------------------------------------------------- */

static int submit_hello(struct herald_conn *c, const char *name, uint64_t *request_id)
{
	int rc = herald_req_begin(c, HRL_OP_HELLO);
	if (rc)
		return rc;
	herald_req_u8(c, HRL_VERSION_MIN);
	herald_req_u8(c, HRL_VERSION_MAX);
	herald_req_str(c, name);
	return herald_req_end(c, request_id);
}

static int submit_auth(struct herald_conn *c, const char *app_id, size_t app_len,
		       const uint8_t mac[HRL_MAC_BYTES], uint64_t *request_id)
{
	int rc = herald_req_begin(c, HRL_OP_AUTH);
	if (rc)
		return rc;
	herald_req_strn(c, app_id, app_len);
	herald_req_raw(c, mac, HRL_MAC_BYTES);
	return herald_req_end(c, request_id);
}

int herald_hello(struct herald_conn *c, const char *client_name, struct herald_hello_info *info)
{
	union res_any res;
	const char *name = client_name ? client_name : HRL_CLIENT_NAME_DEFAULT;

	if (strlen(name) > HRL_CLIENT_NAME_BYTES_MAX)
		return -EINVAL;
	CALL(c, submit_hello(c, name, &id));
	rc = reply_decode(&reply, HRL_OP_HELLO, &res);
	if (rc)
		return rc;
	char *server_name = strndup(res.hello.server_name, res.hello.server_name_len);
	if (!server_name)
		return -ENOMEM;
	free(c->server_name);
	c->server_name = server_name;
	memcpy(c->nonce, res.hello.nonce, HRL_NONCE_BYTES);
	c->have_nonce = true;
	if (info) {
		info->version = res.hello.version;
		info->core_count = res.hello.core_count;
		info->max_body_bytes = res.hello.max_body_bytes;
		memcpy(info->nonce, c->nonce, HRL_NONCE_BYTES);
		info->server_name = c->server_name;
	}
	return 0;
}

int herald_auth(struct herald_conn *c, const char *app_id, const uint8_t secret[HRL_SECRET_BYTES],
		uint8_t *role)
{
	uint8_t msg[HRL_NONCE_BYTES + HRL_APP_ID_BYTES_MAX];
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	size_t app_len = strlen(app_id);
	union res_any res;

	if (c->inflight)
		return -EBUSY; /* before the nonce is spent */
	if (!c->have_nonce || app_len == 0 || app_len > HRL_APP_ID_BYTES_MAX)
		return -EINVAL;
	memcpy(msg, c->nonce, HRL_NONCE_BYTES);
	memcpy(msg + HRL_NONCE_BYTES, app_id, app_len); /* NOLINT(bugprone-not-null-terminated-result): bytes, not a string */
	if (!HMAC(EVP_sha256(), secret, HRL_SECRET_BYTES, msg, HRL_NONCE_BYTES + app_len, mac,
		  &mac_len) ||
	    mac_len != HRL_MAC_BYTES)
		return -EIO;
	c->have_nonce = false; /* one AUTH per nonce */
	CALL(c, submit_auth(c, app_id, app_len, mac, &id));
	rc = reply_decode(&reply, HRL_OP_AUTH, &res);
	if (!rc && role)
		*role = res.role;
	return rc;
}

int herald_login(struct herald_conn *c, const char *app_id, const uint8_t secret[HRL_SECRET_BYTES])
{
	int rc = herald_hello(c, NULL, NULL);
	return rc ? rc : herald_auth(c, app_id, secret, NULL);
}

/* ---- operations -------------------------------------------------------------------- */

int herald_submit_ping(struct herald_conn *c, const void *data, size_t len, uint64_t *request_id)
{
	return herald_submit(c, HRL_OP_PING, data, len, request_id);
}

int herald_ping(struct herald_conn *c, const void *data, size_t len, uint64_t *rtt_ns)
{
	uint64_t t0 = now_ns();
	CALL(c, herald_submit_ping(c, data, len, &id));
	if (reply.opcode != HRL_OP_PING || reply.body_len != len ||
	    (len && memcmp(reply.body, data, len) != 0))
		return conn_kill(c, -EPROTO);
	if (rtt_ns)
		*rtt_ns = now_ns() - t0;
	return 0;
}

int herald_submit_stats(struct herald_conn *c, uint64_t *request_id)
{
	return herald_submit(c, HRL_OP_STATS, NULL, 0, request_id);
}

int herald_decode_stats(const struct herald_reply *r, struct herald_stats **out)
{
	void *root = NULL;
	int rc = reply_decode(r, HRL_OP_STATS, &root);
	if (!rc)
		*out = root;
	return rc;
}

int herald_stats(struct herald_conn *c, struct herald_stats **out)
{
	CALL(c, herald_submit_stats(c, &id));
	return herald_decode_stats(&reply, out);
}

void herald_stats_free(struct herald_stats *s)
{
	free(s);
}

int herald_submit_store_stats(struct herald_conn *c, uint64_t *request_id)
{
	return herald_submit(c, HRL_OP_STORE_STATS, NULL, 0, request_id);
}

int herald_decode_store_stats(const struct herald_reply *r, struct herald_store_stats **out)
{
	void *root = NULL;
	int rc = reply_decode(r, HRL_OP_STORE_STATS, &root);
	if (!rc)
		*out = root;
	return rc;
}

int herald_store_stats(struct herald_conn *c, struct herald_store_stats **out)
{
	CALL(c, herald_submit_store_stats(c, &id));
	return herald_decode_store_stats(&reply, out);
}

void herald_store_stats_free(struct herald_store_stats *s)
{
	free(s);
}

/* A request whose body is one str. */
static int submit_str(struct herald_conn *c, uint16_t opcode, const char *s, uint64_t *request_id)
{
	int rc = herald_req_begin(c, opcode);
	if (rc)
		return rc;
	herald_req_str(c, s);
	return herald_req_end(c, request_id);
}

int herald_submit_app_create(struct herald_conn *c, const char *app_id, uint64_t *request_id)
{
	return submit_str(c, HRL_OP_APP_CREATE, app_id, request_id);
}

int herald_decode_app_create(const struct herald_reply *r, uint8_t secret[HRL_SECRET_BYTES])
{
	union res_any res;
	int rc = reply_decode(r, HRL_OP_APP_CREATE, &res);
	if (!rc && secret)
		memcpy(secret, res.secret.secret, HRL_SECRET_BYTES);
	return rc;
}

int herald_app_create(struct herald_conn *c, const char *app_id, uint8_t secret[HRL_SECRET_BYTES])
{
	CALL(c, herald_submit_app_create(c, app_id, &id));
	return herald_decode_app_create(&reply, secret);
}

int herald_submit_app_list(struct herald_conn *c, uint64_t *request_id)
{
	return herald_submit(c, HRL_OP_APP_LIST, NULL, 0, request_id);
}

int herald_decode_app_list(const struct herald_reply *r, struct herald_app_list **out)
{
	void *root = NULL;
	int rc = reply_decode(r, HRL_OP_APP_LIST, &root);
	if (!rc)
		*out = root;
	return rc;
}

int herald_app_list(struct herald_conn *c, struct herald_app_list **out)
{
	CALL(c, herald_submit_app_list(c, &id));
	return herald_decode_app_list(&reply, out);
}

void herald_app_list_free(struct herald_app_list *l)
{
	free(l);
}

int herald_submit_app_rotate(struct herald_conn *c, const char *app_id, uint64_t *request_id)
{
	return submit_str(c, HRL_OP_APP_ROTATE, app_id, request_id);
}

int herald_decode_app_rotate(const struct herald_reply *r, uint8_t secret[HRL_SECRET_BYTES],
			     uint32_t *secret_version)
{
	union res_any res;
	int rc = reply_decode(r, HRL_OP_APP_ROTATE, &res);
	if (rc)
		return rc;
	if (secret)
		memcpy(secret, res.secret.secret, HRL_SECRET_BYTES);
	if (secret_version)
		*secret_version = res.secret.secret_version;
	return 0;
}

int herald_app_rotate(struct herald_conn *c, const char *app_id, uint8_t secret[HRL_SECRET_BYTES],
		      uint32_t *secret_version)
{
	CALL(c, herald_submit_app_rotate(c, app_id, &id));
	return herald_decode_app_rotate(&reply, secret, secret_version);
}

int herald_submit_bind(struct herald_conn *c, const char *user_id, uint8_t channel, uint8_t vendor,
		       uint8_t platform, const char *address, uint64_t *request_id)
{
	int rc = herald_req_begin(c, HRL_OP_BIND);
	if (rc)
		return rc;
	herald_req_str(c, user_id);
	herald_req_u8(c, channel);
	herald_req_u8(c, vendor);
	herald_req_u8(c, platform);
	herald_req_str(c, address);
	return herald_req_end(c, request_id);
}

int herald_decode_bind(const struct herald_reply *r, uint32_t *device_id, bool *created)
{
	union res_any res;
	int rc = reply_decode(r, HRL_OP_BIND, &res);
	if (rc)
		return rc;
	if (device_id)
		*device_id = res.bind.device_id;
	if (created)
		*created = res.bind.created == 1;
	return 0;
}

int herald_bind(struct herald_conn *c, const char *user_id, uint8_t channel, uint8_t vendor,
		uint8_t platform, const char *address, uint32_t *device_id, bool *created)
{
	CALL(c, herald_submit_bind(c, user_id, channel, vendor, platform, address, &id));
	return herald_decode_bind(&reply, device_id, created);
}

int herald_submit_unbind(struct herald_conn *c, const char *user_id, uint32_t device_id,
			 uint64_t *request_id)
{
	int rc = herald_req_begin(c, HRL_OP_UNBIND);
	if (rc)
		return rc;
	herald_req_str(c, user_id);
	herald_req_u32(c, device_id);
	return herald_req_end(c, request_id);
}

int herald_decode_unbind(const struct herald_reply *r)
{
	union res_any res;
	return reply_decode(r, HRL_OP_UNBIND, &res);
}

int herald_unbind(struct herald_conn *c, const char *user_id, uint32_t device_id)
{
	CALL(c, herald_submit_unbind(c, user_id, device_id, &id));
	return herald_decode_unbind(&reply);
}

int herald_submit_alias_set(struct herald_conn *c, const char *user_id, uint32_t device_id,
			    const char *alias_type, const char *alias, uint64_t *request_id)
{
	int rc = herald_req_begin(c, HRL_OP_ALIAS_SET);
	if (rc)
		return rc;
	herald_req_str(c, user_id);
	herald_req_u32(c, device_id);
	herald_req_str(c, alias_type);
	herald_req_str(c, alias);
	return herald_req_end(c, request_id);
}

int herald_decode_alias_set(const struct herald_reply *r, char *previous, size_t previous_size)
{
	union res_any res;
	if (previous && previous_size < HRL_ALIAS_BYTES_MAX + 1)
		return -EINVAL;
	int rc = reply_decode(r, HRL_OP_ALIAS_SET, &res);
	if (rc)
		return rc;
	if (previous) {
		memcpy(previous, res.str.s, res.str.len);
		previous[res.str.len] = '\0';
	}
	return 0;
}

int herald_alias_set(struct herald_conn *c, const char *user_id, uint32_t device_id,
		     const char *alias_type, const char *alias, char *previous,
		     size_t previous_size)
{
	if (previous && previous_size < HRL_ALIAS_BYTES_MAX + 1)
		return -EINVAL;
	CALL(c, herald_submit_alias_set(c, user_id, device_id, alias_type, alias, &id));
	return herald_decode_alias_set(&reply, previous, previous_size);
}

int herald_submit_alias_del(struct herald_conn *c, const char *user_id, uint32_t device_id,
			    const char *alias_type, uint64_t *request_id)
{
	int rc = herald_req_begin(c, HRL_OP_ALIAS_DEL);
	if (rc)
		return rc;
	herald_req_str(c, user_id);
	herald_req_u32(c, device_id);
	herald_req_str(c, alias_type);
	return herald_req_end(c, request_id);
}

int herald_decode_alias_del(const struct herald_reply *r)
{
	union res_any res;
	return reply_decode(r, HRL_OP_ALIAS_DEL, &res);
}

int herald_alias_del(struct herald_conn *c, const char *user_id, uint32_t device_id,
		     const char *alias_type)
{
	CALL(c, herald_submit_alias_del(c, user_id, device_id, alias_type, &id));
	return herald_decode_alias_del(&reply);
}

int herald_submit_alias_lookup(struct herald_conn *c, const char *alias_type, const char *alias,
			       uint64_t *request_id)
{
	int rc = herald_req_begin(c, HRL_OP_ALIAS_LOOKUP);
	if (rc)
		return rc;
	herald_req_str(c, alias_type);
	herald_req_str(c, alias);
	return herald_req_end(c, request_id);
}

int herald_decode_alias_lookup(const struct herald_reply *r, struct herald_alias_hits **out)
{
	void *root = NULL;
	int rc = reply_decode(r, HRL_OP_ALIAS_LOOKUP, &root);
	if (!rc)
		*out = root;
	return rc;
}

int herald_alias_lookup(struct herald_conn *c, const char *alias_type, const char *alias,
			struct herald_alias_hits **out)
{
	CALL(c, herald_submit_alias_lookup(c, alias_type, alias, &id));
	return herald_decode_alias_lookup(&reply, out);
}

void herald_alias_hits_free(struct herald_alias_hits *h)
{
	free(h);
}

static int submit_tags(struct herald_conn *c, uint16_t opcode, const char *user_id,
		       const char *const *tags, size_t n, uint64_t *request_id)
{
	if (n > UINT16_MAX)
		return -EINVAL;
	int rc = herald_req_begin(c, opcode);
	if (rc)
		return rc;
	herald_req_str(c, user_id);
	herald_req_u16(c, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		herald_req_str(c, tags[i]);
	return herald_req_end(c, request_id);
}

int herald_submit_tag_add(struct herald_conn *c, const char *user_id, const char *const *tags,
			  size_t n, uint64_t *request_id)
{
	return submit_tags(c, HRL_OP_TAG_ADD, user_id, tags, n, request_id);
}

int herald_submit_tag_del(struct herald_conn *c, const char *user_id, const char *const *tags,
			  size_t n, uint64_t *request_id)
{
	return submit_tags(c, HRL_OP_TAG_DEL, user_id, tags, n, request_id);
}

static int decode_count(const struct herald_reply *r, uint16_t opcode, uint16_t *count)
{
	union res_any res;
	int rc = reply_decode(r, opcode, &res);
	if (!rc && count)
		*count = res.count;
	return rc;
}

int herald_decode_tag_add(const struct herald_reply *r, uint16_t *added)
{
	return decode_count(r, HRL_OP_TAG_ADD, added);
}

int herald_decode_tag_del(const struct herald_reply *r, uint16_t *removed)
{
	return decode_count(r, HRL_OP_TAG_DEL, removed);
}

int herald_tag_add(struct herald_conn *c, const char *user_id, const char *const *tags, size_t n,
		   uint16_t *added)
{
	CALL(c, herald_submit_tag_add(c, user_id, tags, n, &id));
	return herald_decode_tag_add(&reply, added);
}

int herald_tag_del(struct herald_conn *c, const char *user_id, const char *const *tags, size_t n,
		   uint16_t *removed)
{
	CALL(c, herald_submit_tag_del(c, user_id, tags, n, &id));
	return herald_decode_tag_del(&reply, removed);
}

int herald_submit_attr_set(struct herald_conn *c, const char *user_id,
			   const struct herald_attr *attrs, size_t n, uint64_t *request_id)
{
	if (n > UINT16_MAX)
		return -EINVAL;
	int rc = herald_req_begin(c, HRL_OP_ATTR_SET);
	if (rc)
		return rc;
	herald_req_str(c, user_id);
	herald_req_u16(c, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		const struct herald_attr *at = &attrs[i];
		herald_req_str(c, at->key);
		herald_req_strn(c, at->value, at->value_len ? at->value_len : strlen(at->value));
	}
	return herald_req_end(c, request_id);
}

int herald_decode_attr_set(const struct herald_reply *r, uint16_t *attr_count)
{
	return decode_count(r, HRL_OP_ATTR_SET, attr_count);
}

int herald_attr_set(struct herald_conn *c, const char *user_id, const struct herald_attr *attrs,
		    size_t n, uint16_t *attr_count)
{
	CALL(c, herald_submit_attr_set(c, user_id, attrs, n, &id));
	return herald_decode_attr_set(&reply, attr_count);
}

int herald_submit_user_show(struct herald_conn *c, const char *user_id, uint64_t *request_id)
{
	return submit_str(c, HRL_OP_USER_SHOW, user_id, request_id);
}

int herald_decode_user_show(const struct herald_reply *r, struct herald_user **out)
{
	void *root = NULL;
	int rc = reply_decode(r, HRL_OP_USER_SHOW, &root);
	if (!rc)
		*out = root;
	return rc;
}

int herald_user_show(struct herald_conn *c, const char *user_id, struct herald_user **out)
{
	CALL(c, herald_submit_user_show(c, user_id, &id));
	return herald_decode_user_show(&reply, out);
}

void herald_user_free(struct herald_user *u)
{
	free(u);
}

int herald_submit_receipt_put(struct herald_conn *c, const char *user_id,
			      const struct herald_receipt *receipt, uint64_t *request_id)
{
	int rc = herald_req_begin(c, HRL_OP_RECEIPT_PUT);
	if (rc)
		return rc;
	herald_req_str(c, user_id);
	herald_req_u64(c, receipt->message_id);
	herald_req_u64(c, receipt->campaign_id);
	herald_req_u8(c, receipt->channel);
	herald_req_u8(c, receipt->vendor);
	herald_req_u8(c, receipt->state);
	herald_req_u64(c, receipt->event_unix_ms);
	herald_req_str(c, receipt->reason ? receipt->reason : "");
	return herald_req_end(c, request_id);
}

int herald_decode_receipt_put(const struct herald_reply *r, uint64_t *recorded_unix_ms)
{
	union res_any res;
	int rc = reply_decode(r, HRL_OP_RECEIPT_PUT, &res);
	if (!rc && recorded_unix_ms)
		*recorded_unix_ms = res.u64;
	return rc;
}

int herald_receipt_put(struct herald_conn *c, const char *user_id,
		       const struct herald_receipt *receipt, uint64_t *recorded_unix_ms)
{
	CALL(c, herald_submit_receipt_put(c, user_id, receipt, &id));
	return herald_decode_receipt_put(&reply, recorded_unix_ms);
}

bool herald_cursor_is_end(const uint8_t *cursor)
{
	for (unsigned i = 0; i < HRL_CURSOR_BYTES; i++)
		if (cursor[i])
			return false;
	return true;
}

int herald_submit_history(struct herald_conn *c, const char *user_id, const uint8_t *cursor,
			  uint16_t limit, uint64_t *request_id)
{
	static const uint8_t newest[HRL_CURSOR_BYTES];
	int rc = herald_req_begin(c, HRL_OP_HISTORY);
	if (rc)
		return rc;
	herald_req_str(c, user_id);
	herald_req_raw(c, cursor ? cursor : newest, HRL_CURSOR_BYTES);
	herald_req_u16(c, limit);
	return herald_req_end(c, request_id);
}

int herald_decode_history(const struct herald_reply *r, struct herald_history **out)
{
	void *root = NULL;
	int rc = reply_decode(r, HRL_OP_HISTORY, &root);
	if (!rc)
		*out = root;
	return rc;
}

int herald_history(struct herald_conn *c, const char *user_id, const uint8_t *cursor,
		   uint16_t limit, struct herald_history **out)
{
	CALL(c, herald_submit_history(c, user_id, cursor, limit, &id));
	return herald_decode_history(&reply, out);
}

void herald_history_free(struct herald_history *h)
{
	free(h);
}

int herald_submit_campaign_counters(struct herald_conn *c, uint64_t campaign_id,
				    uint64_t *request_id)
{
	int rc = herald_req_begin(c, HRL_OP_CAMPAIGN_COUNTERS);
	if (rc)
		return rc;
	herald_req_u64(c, campaign_id);
	return herald_req_end(c, request_id);
}

int herald_decode_campaign_counters(const struct herald_reply *r,
				    struct herald_campaign_counters **out)
{
	void *root = NULL;
	int rc = reply_decode(r, HRL_OP_CAMPAIGN_COUNTERS, &root);
	if (!rc)
		*out = root;
	return rc;
}

int herald_campaign_counters(struct herald_conn *c, uint64_t campaign_id,
			     struct herald_campaign_counters **out)
{
	CALL(c, herald_submit_campaign_counters(c, campaign_id, &id));
	return herald_decode_campaign_counters(&reply, out);
}

void herald_campaign_counters_free(struct herald_campaign_counters *cc)
{
	free(cc);
}

/* ---- campaigns and vendors ------------------------------------------------------ */

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

int herald_submit_campaign_create(struct herald_conn *c, const struct herald_campaign_spec *spec,
				  uint64_t *request_id)
{
	/* The audiences whose data struct herald_campaign_spec carries. */
	if (spec->audience < HRL_AUD_USER || spec->audience >= HRL_AUD_COUNT ||
	    spec->channel_count > HRL_CAMPAIGN_CHANNELS_MAX || !spec->body)
		return -EINVAL;
	if (spec->audience == HRL_AUD_USER && !spec->user_id)
		return -EINVAL;
	if (spec->audience == HRL_AUD_TAG && !spec->tag_expr)
		return -EINVAL;
	if (spec->audience == HRL_AUD_LIST) {
		if (spec->user_count > UINT16_MAX || (spec->user_count && !spec->user_ids))
			return -EINVAL;
		for (size_t i = 0; i < spec->user_count; i++)
			if (!spec->user_ids[i])
				return -EINVAL;
	}
	int rc = herald_req_begin(c, HRL_OP_CAMPAIGN_CREATE);
	if (rc)
		return rc;
	herald_req_u8(c, spec->audience);
	herald_req_u8(c, spec->lane);
	herald_req_u8(c, spec->channel_count);
	for (unsigned i = 0; i < spec->channel_count; i++)
		herald_req_u8(c, spec->channels[i]);
	herald_req_str(c, or_empty(spec->title));
	herald_req_str(c, spec->body);
	herald_req_str(c, or_empty(spec->category));
	switch (spec->audience) {
	case HRL_AUD_USER:
		herald_req_str(c, spec->user_id);
		break;
	case HRL_AUD_LIST:
		herald_req_u16(c, (uint16_t)spec->user_count);
		for (size_t i = 0; i < spec->user_count; i++)
			herald_req_str(c, spec->user_ids[i]);
		break;
	case HRL_AUD_TAG:
		herald_req_str(c, spec->tag_expr);
		break;
	case HRL_AUD_UPLOAD:
		herald_req_u8(c, spec->upload_kind);
		herald_req_str(c, or_empty(spec->columns));
		break;
	default: /* HRL_AUD_ALL: nothing follows */
		break;
	}
	return herald_req_end(c, request_id);
}

int herald_decode_campaign_create(const struct herald_reply *r, uint64_t *campaign_id)
{
	union res_any res;
	int rc = reply_decode(r, HRL_OP_CAMPAIGN_CREATE, &res);
	if (!rc && campaign_id)
		*campaign_id = res.u64;
	return rc;
}

int herald_campaign_create(struct herald_conn *c, const struct herald_campaign_spec *spec,
			   uint64_t *campaign_id)
{
	CALL(c, herald_submit_campaign_create(c, spec, &id));
	return herald_decode_campaign_create(&reply, campaign_id);
}

int herald_submit_campaign_status(struct herald_conn *c, uint64_t campaign_id,
				  uint64_t *request_id)
{
	int rc = herald_req_begin(c, HRL_OP_CAMPAIGN_STATUS);
	if (rc)
		return rc;
	herald_req_u64(c, campaign_id);
	return herald_req_end(c, request_id);
}

int herald_decode_campaign_status(const struct herald_reply *r, struct herald_campaign_status *st)
{
	union res_any res;
	int rc = reply_decode(r, HRL_OP_CAMPAIGN_STATUS, &res);
	if (!rc && st)
		*st = res.campaign_status;
	return rc;
}

int herald_campaign_status(struct herald_conn *c, uint64_t campaign_id,
			   struct herald_campaign_status *st)
{
	CALL(c, herald_submit_campaign_status(c, campaign_id, &id));
	return herald_decode_campaign_status(&reply, st);
}

int herald_submit_campaign_control(struct herald_conn *c, uint64_t campaign_id, uint8_t action,
				   uint64_t *request_id)
{
	int rc = herald_req_begin(c, HRL_OP_CAMPAIGN_CONTROL);
	if (rc)
		return rc;
	herald_req_u64(c, campaign_id);
	herald_req_u8(c, action);
	return herald_req_end(c, request_id);
}

int herald_decode_campaign_control(const struct herald_reply *r, uint8_t *state)
{
	union res_any res;
	int rc = reply_decode(r, HRL_OP_CAMPAIGN_CONTROL, &res);
	if (!rc && state)
		*state = res.u8;
	return rc;
}

int herald_campaign_control(struct herald_conn *c, uint64_t campaign_id, uint8_t action,
			    uint8_t *state)
{
	CALL(c, herald_submit_campaign_control(c, campaign_id, action, &id));
	return herald_decode_campaign_control(&reply, state);
}

int herald_submit_campaign_upload(struct herald_conn *c, uint64_t campaign_id, uint32_t first_line,
				  uint8_t last, const void *rows, size_t len, uint64_t *request_id)
{
	if (len && !rows)
		return -EINVAL;
	if (len > HRL_FRAME_BODY_BYTES_MAX - HRL_UPLOAD_FIXED_BYTES)
		return -EMSGSIZE;
	int rc = herald_req_begin(c, HRL_OP_CAMPAIGN_UPLOAD);
	if (rc)
		return rc;
	herald_req_u64(c, campaign_id);
	herald_req_u32(c, first_line);
	herald_req_u8(c, last);
	if (len)
		herald_req_raw(c, rows, len);
	return herald_req_end(c, request_id);
}

int herald_decode_campaign_upload(const struct herald_reply *r, struct herald_upload_result **out)
{
	void *root = NULL;
	int rc = reply_decode(r, HRL_OP_CAMPAIGN_UPLOAD, &root);
	if (!rc)
		*out = root;
	return rc;
}

int herald_campaign_upload(struct herald_conn *c, uint64_t campaign_id, uint32_t first_line,
			   uint8_t last, const void *rows, size_t len, struct herald_upload_result **out)
{
	CALL(c, herald_submit_campaign_upload(c, campaign_id, first_line, last, rows, len, &id));
	return herald_decode_campaign_upload(&reply, out);
}

void herald_upload_result_free(struct herald_upload_result *u)
{
	free(u);
}

int herald_submit_vendor_set(struct herald_conn *c, const struct herald_vendor_cfg *cfg,
			     uint64_t *request_id)
{
	int rc = herald_req_begin(c, HRL_OP_VENDOR_SET);
	if (rc)
		return rc;
	herald_req_u8(c, cfg->target);
	herald_req_str(c, or_empty(cfg->url));
	herald_req_str(c, or_empty(cfg->app_id));
	herald_req_str(c, or_empty(cfg->secret));
	herald_req_str(c, or_empty(cfg->secret2));
	herald_req_str(c, or_empty(cfg->package));
	herald_req_str(c, or_empty(cfg->sign_name));
	herald_req_str(c, or_empty(cfg->template_code));
	herald_req_u16(c, cfg->batch_max);
	herald_req_u16(c, cfg->connections);
	herald_req_u32(c, cfg->rate_per_s);
	herald_req_u32(c, cfg->daily_quota);
	return herald_req_end(c, request_id);
}

int herald_decode_vendor_set(const struct herald_reply *r)
{
	union res_any res;
	return reply_decode(r, HRL_OP_VENDOR_SET, &res);
}

int herald_vendor_set(struct herald_conn *c, const struct herald_vendor_cfg *cfg)
{
	CALL(c, herald_submit_vendor_set(c, cfg, &id));
	return herald_decode_vendor_set(&reply);
}

int herald_submit_vendor_list(struct herald_conn *c, uint64_t *request_id)
{
	return herald_submit(c, HRL_OP_VENDOR_LIST, NULL, 0, request_id);
}

int herald_decode_vendor_list(const struct herald_reply *r, struct herald_vendor_list **out)
{
	void *root = NULL;
	int rc = reply_decode(r, HRL_OP_VENDOR_LIST, &root);
	if (!rc)
		*out = root;
	return rc;
}

int herald_vendor_list(struct herald_conn *c, struct herald_vendor_list **out)
{
	CALL(c, herald_submit_vendor_list(c, &id));
	return herald_decode_vendor_list(&reply, out);
}

void herald_vendor_list_free(struct herald_vendor_list *l)
{
	free(l);
}
