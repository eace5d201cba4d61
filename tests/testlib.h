/* SPDX-License-Identifier: Apache-2.0 */
/*
 * testlib.h - helpers for Herald's C tests: CHECK, starting and stopping a
 * real heraldd on a loopback port, and a raw frame-level client that can
 * also send broken frames. Header-only so every test stays one file.
 *
 * Test protocol (tests/run): exit 0 pass, 1 fail, 77 skip.
 */
#ifndef HERALD_TESTLIB_H
#define HERALD_TESTLIB_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/crc32c.h"
#include "net/wire.h"

#define CHECK(x)                                                                           \
	do {                                                                               \
		if (!(x)) {                                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #x); \
			te_cleanup();                                                      \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

#define SKIP(why)                                              \
	do {                                                   \
		fprintf(stderr, "skip: %s\n", why);            \
		te_cleanup();                                  \
		exit(77);                                      \
	} while (0)

struct te_engine {
	pid_t pid;
	int port;
	char dir[256];
	uint8_t admin[32];
	char log_path[300];   /* if set, the engine's stderr goes there */
};

static struct te_engine *te_current;

static inline uint64_t te_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void te_cleanup(void)
{
	if (te_current && te_current->pid > 0) {
		kill(te_current->pid, SIGKILL);
		waitpid(te_current->pid, NULL, 0);
		te_current->pid = 0;
	}
	if (te_current && te_current->dir[0]) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", te_current->dir);
		if (system(cmd)) {
		}
	}
}

static inline const char *te_build(void)
{
	const char *b = getenv("BUILD");
	return b && *b ? b : "build";
}

static inline int te_hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static inline int te_try_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * Start heraldd with extra arguments (NULL-terminated); waits until it
 * accepts. fresh: a new data directory (else e->dir again); log_path: where
 * the engine's stderr goes (NULL: inherited).
 */
static inline void te_start_impl(struct te_engine *e, const char *const *extra, bool fresh,
				 const char *log_path)
{
	char bin[300], listen[64];
	const char *argv[40];
	int n = 0;

	if (fresh) {
		memset(e, 0, sizeof(*e));
		snprintf(e->dir, sizeof(e->dir), "/tmp/herald-test-XXXXXX");
		CHECK(mkdtemp(e->dir) != NULL);
		if (log_path)
			snprintf(e->log_path, sizeof(e->log_path), "%s", log_path);
	}
	te_current = e;
	snprintf(bin, sizeof(bin), "%s/heraldd", te_build());
	if (access(bin, X_OK))
		SKIP("heraldd not built");
	srand((unsigned)(getpid() ^ te_now_ms()));
	for (int attempt = 0; attempt < 20; attempt++) {
		e->port = 20000 + rand() % 12000; /* below the kernel's ephemeral range (32768-) */
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", e->port);
		n = 0;
		argv[n++] = bin;
		argv[n++] = "--listen";
		argv[n++] = listen;
		argv[n++] = "--data";
		argv[n++] = e->dir;
		argv[n++] = "--log-level";
		argv[n++] = e->log_path[0] ? "info" : "warn";
		argv[n++] = "--segment-mb";
		argv[n++] = "4";
		argv[n++] = "--event-segment-mb"; /* small receipt segments: less to zero-fill at each start */
		argv[n++] = "8";
		for (int i = 0; extra && extra[i] && n < 38; i++)
			argv[n++] = extra[i];
		argv[n] = NULL;
		e->pid = fork();
		CHECK(e->pid >= 0);
		if (e->pid == 0) {
			int devnull = open("/dev/null", O_WRONLY);
			dup2(devnull, STDOUT_FILENO);
			if (e->log_path[0]) {
				int lf = open(e->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
				if (lf >= 0)
					dup2(lf, STDERR_FILENO);
			}
			execv(bin, (char *const *)argv);
			_exit(127);
		}
		uint64_t deadline = te_now_ms() + 10000;
		while (te_now_ms() < deadline) {
			int st;
			if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
				e->pid = 0;
				break; /* port taken? try another */
			}
			int fd = te_try_connect(e->port);
			if (fd >= 0) {
				close(fd);
				goto started;
			}
			usleep(20000);
		}
		if (e->pid > 0) {
			kill(e->pid, SIGKILL);
			waitpid(e->pid, NULL, 0);
			e->pid = 0;
		}
	}
	CHECK(!"engine did not start");
started:;
	char path[400], line[100];
	snprintf(path, sizeof(path), "%s/admin.secret", e->dir);
	FILE *f = fopen(path, "r");
	CHECK(f && fgets(line, sizeof(line), f));
	fclose(f);
	for (int i = 0; i < 32; i++)
		e->admin[i] = (uint8_t)(te_hexval(line[2 * i]) << 4 | te_hexval(line[2 * i + 1]));
}

/* kill -9 and reap. */
static inline void te_kill9(struct te_engine *e)
{
	if (e->pid > 0) {
		kill(e->pid, SIGKILL);
		waitpid(e->pid, NULL, 0);
		e->pid = 0;
	}
}

/* Start again on the same data directory (after te_stop or te_kill9). */
static inline void te_restart(struct te_engine *e, const char *const *extra)
{
	te_start_impl(e, extra, false, NULL);
}

static inline void te_start(struct te_engine *e, const char *const *extra)
{
	te_start_impl(e, extra, true, NULL);
}

/* Files in <dir>/log whose names start with prefix and end with suffix. */
static inline unsigned te_count_log_files(const char *dir, const char *prefix, const char *suffix)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/log", dir);
	DIR *d = opendir(path);
	struct dirent *de;
	unsigned n = 0;
	size_t pl = strlen(prefix), sl = strlen(suffix);
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		n += l >= pl + sl && strncmp(de->d_name, prefix, pl) == 0 && strcmp(de->d_name + l - sl, suffix) == 0;
	}
	if (d)
		closedir(d);
	return n;
}

/* SIGTERM and wait; returns the exit status (or -1 on timeout / signal). */
static inline int te_stop(struct te_engine *e, int timeout_ms)
{
	int st = 0;
	kill(e->pid, SIGTERM);
	uint64_t deadline = te_now_ms() + (uint64_t)timeout_ms;
	while (te_now_ms() < deadline) {
		if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
			e->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
		usleep(10000);
	}
	return -1;
}

struct te_conn {
	int fd;
	uint64_t next_id;
	struct base_buf in;
	uint8_t nonce[32];
};

static inline void te_open(struct te_engine *e, struct te_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = te_try_connect(e->port);
	CHECK(c->fd >= 0);
	c->next_id = 1;
}

static inline void te_close(struct te_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	base_buf_free(&c->in);
}

static inline void te_send_raw(struct te_conn *c, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
		CHECK(w > 0);
		b += w;
		n -= (size_t)w;
	}
}

/* Send one request frame; returns its request id. */
static inline uint64_t te_send(struct te_conn *c, uint16_t op, const void *body, size_t len)
{
	struct base_buf b = { 0 };
	struct net_wr w;
	uint64_t id = c->next_id++;
	net_wr_begin(&w, &b, op, 0, id);
	net_wr_raw(&w, body, len);
	CHECK(net_wr_end(&w) == 0);
	te_send_raw(c, b.data, b.len);
	base_buf_free(&b);
	return id;
}

/*
 * Receive one frame. 0 with *h and *body (valid until the next receive),
 * -ETIMEDOUT, or -ECONNRESET when the engine closed the connection.
 */
static inline int te_recv(struct te_conn *c, struct net_hdr *h, const uint8_t **body, int timeout_ms)
{
	uint64_t deadline = te_now_ms() + (uint64_t)timeout_ms;
	if (base_buf_readable(&c->in) == 0)
		c->in.off = c->in.len = 0;
	for (;;) {
		size_t have = base_buf_readable(&c->in);
		if (have >= HRL_FRAME_HEADER_BYTES) {
			net_hdr_decode(base_buf_head(&c->in), h);
			if (have >= HRL_FRAME_HEADER_BYTES + h->body_len) {
				*body = base_buf_head(&c->in) + HRL_FRAME_HEADER_BYTES;
				CHECK(h->magic == HRL_MAGIC && h->version == 1);
				CHECK(h->flags & HRL_FLAG_RESPONSE);
				CHECK(base_crc32c(0, *body, h->body_len) == h->body_crc);
				base_buf_consume(&c->in, HRL_FRAME_HEADER_BYTES + h->body_len);
				return 0;
			}
		}
		int left = (int)(deadline - te_now_ms());
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		if (poll(&pfd, 1, left) <= 0)
			continue;
		base_buf_compact(&c->in);
		CHECK(base_buf_reserve(&c->in, 65536) == 0);
		ssize_t r = recv(c->fd, c->in.data + c->in.len, 65536, 0);
		if (r <= 0)
			return -ECONNRESET;
		c->in.len += (size_t)r;
	}
}

/* Error code of an error frame, 0 for an OK answer. */
static inline int te_err(const struct net_hdr *h, const uint8_t *body)
{
	if (!(h->flags & HRL_FLAG_ERROR))
		return 0;
	CHECK(h->body_len >= 4);
	return body[0] | body[1] << 8;
}

/* One request, one answer; returns the error code (0 = OK). */
static inline int te_call(struct te_conn *c, uint16_t op, const void *body, size_t len,
			  struct net_hdr *h, const uint8_t **rbody)
{
	uint64_t id = te_send(c, op, body, len);
	CHECK(te_recv(c, h, rbody, 10000) == 0);
	CHECK(h->request_id == id && h->opcode == op);
	return te_err(h, *rbody);
}

/* Body builder. */
struct te_body {
	struct base_buf b;
};

static inline void tb_u8(struct te_body *t, uint8_t v) { CHECK(base_buf_append(&t->b, &v, 1) == 0); }
static inline void tb_u16(struct te_body *t, uint16_t v) { uint8_t p[2] = { (uint8_t)v, (uint8_t)(v >> 8) }; CHECK(base_buf_append(&t->b, p, 2) == 0); }
static inline void tb_u32(struct te_body *t, uint32_t v) { for (int i = 0; i < 4; i++) tb_u8(t, (uint8_t)(v >> (8 * i))); }
static inline void tb_raw(struct te_body *t, const void *p, size_t n) { CHECK(base_buf_append(&t->b, p, n) == 0); }
static inline void tb_str(struct te_body *t, const char *s) { tb_u16(t, (uint16_t)strlen(s)); tb_raw(t, s, strlen(s)); }
static inline void tb_reset(struct te_body *t) { t->b.off = t->b.len = 0; }

static inline void te_hello(struct te_conn *c)
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	tb_u8(&t, 1);
	tb_u8(&t, 1);
	tb_str(&t, "test");
	CHECK(te_call(c, HRL_OP_HELLO, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(h.body_len >= 8 + 32);
	memcpy(c->nonce, b + 8, 32);
	base_buf_free(&t.b);
}

/* HELLO + AUTH; returns the AUTH error code. */
static inline int te_auth(struct te_conn *c, const char *app, const uint8_t secret[32])
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	uint8_t msg[32 + 64], mac[32];
	unsigned mlen = 0;
	te_hello(c);
	memcpy(msg, c->nonce, 32);
	memcpy(msg + 32, app, strlen(app));
	HMAC(EVP_sha256(), secret, 32, msg, 32 + strlen(app), mac, &mlen);
	tb_str(&t, app);
	tb_raw(&t, mac, 32);
	int rc = te_call(c, HRL_OP_AUTH, t.b.data, t.b.len, &h, &b);
	base_buf_free(&t.b);
	return rc;
}

static inline void te_admin(struct te_engine *e, struct te_conn *c)
{
	te_open(e, c);
	CHECK(te_auth(c, "admin", e->admin) == 0);
}

/* Create an app through an admin connection; its secret goes to secret[32]. */
static inline void te_app_create(struct te_conn *admin, const char *app, uint8_t secret[32])
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	tb_str(&t, app);
	CHECK(te_call(admin, HRL_OP_APP_CREATE, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(h.body_len == 2 + strlen(app) + 32);
	memcpy(secret, b + 2 + strlen(app), 32);
	base_buf_free(&t.b);
}

/* Start an engine, create app "app1" and return a connection authenticated as it. */
static inline void te_setup_app(struct te_engine *e, const char *const *extra, struct te_conn *c,
				uint8_t secret[32])
{
	struct te_conn admin;
	te_start(e, extra);
	te_admin(e, &admin);
	te_app_create(&admin, "app1", secret);
	te_close(&admin);
	te_open(e, c);
	CHECK(te_auth(c, "app1", secret) == 0);
}

static inline void te_bind_body(struct te_body *t, const char *user, uint8_t ch, uint8_t vendor,
				uint8_t platform, const char *addr)
{
	tb_reset(t);
	tb_str(t, user);
	tb_u8(t, ch);
	tb_u8(t, vendor);
	tb_u8(t, platform);
	tb_str(t, addr);
}

/* ---- receipts, history, campaign counters (PROTOCOL.md 5.4, 5.6, 5.7) ------------- */

static inline void tb_u64(struct te_body *t, uint64_t v) { for (int i = 0; i < 8; i++) tb_u8(t, (uint8_t)(v >> (8 * i))); }

static inline uint64_t te_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Wall-clock milliseconds (the engine's recorded_unix_ms are on this clock). */
static inline uint64_t te_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One receipt as RECEIPT_PUT sends it and HISTORY gives it back. */
struct te_receipt {
	uint64_t message_id;
	uint64_t campaign_id;
	uint8_t channel, vendor, state;
	uint64_t event_unix_ms;
	uint64_t recorded_unix_ms; /* HISTORY only */
	char reason[HRL_REASON_BYTES_MAX + 1];
};

/* Same receipt, every field (recorded_unix_ms included). */
static inline bool te_receipt_eq(const struct te_receipt *a, const struct te_receipt *b)
{
	return a->message_id == b->message_id && a->campaign_id == b->campaign_id && a->channel == b->channel &&
	       a->vendor == b->vendor && a->state == b->state && a->event_unix_ms == b->event_unix_ms &&
	       a->recorded_unix_ms == b->recorded_unix_ms && strcmp(a->reason, b->reason) == 0;
}

/* RECEIPT_PUT body for user. */
static inline void te_receipt_body(struct te_body *t, const char *user, const struct te_receipt *r)
{
	tb_reset(t);
	tb_str(t, user);
	tb_u64(t, r->message_id);
	tb_u64(t, r->campaign_id);
	tb_u8(t, r->channel);
	tb_u8(t, r->vendor);
	tb_u8(t, r->state);
	tb_u64(t, r->event_unix_ms);
	tb_str(t, r->reason);
}

/* RECEIPT_PUT; returns the error code, *recorded_ms (if not NULL) the answer. */
static inline int te_receipt_put(struct te_conn *c, struct te_body *t, const char *user, const struct te_receipt *r,
				 uint64_t *recorded_ms)
{
	struct net_hdr h;
	const uint8_t *b;
	te_receipt_body(t, user, r);
	int err = te_call(c, HRL_OP_RECEIPT_PUT, t->b.data, t->b.len, &h, &b);
	if (!err) {
		CHECK(h.body_len == 8);
		if (recorded_ms)
			*recorded_ms = te_le64(b);
	}
	return err;
}

/* HISTORY body; cursor NULL: from the newest. */
static inline void te_history_body(struct te_body *t, const char *user, const uint8_t *cursor, uint16_t limit)
{
	static const uint8_t zero[HRL_CURSOR_BYTES];
	tb_reset(t);
	tb_str(t, user);
	tb_raw(t, cursor ? cursor : zero, HRL_CURSOR_BYTES);
	tb_u16(t, limit);
}

struct te_history {
	unsigned count;
	struct te_receipt r[HRL_HISTORY_LIMIT_MAX];
	uint8_t next_cursor[HRL_CURSOR_BYTES];
};

static inline bool te_cursor_is_end(const uint8_t cursor[HRL_CURSOR_BYTES])
{
	for (unsigned i = 0; i < HRL_CURSOR_BYTES; i++)
		if (cursor[i])
			return false;
	return true;
}

/* Decode a HISTORY answer, checking its layout exactly (5.6). */
static inline void te_history_decode(const uint8_t *b, size_t n, struct te_history *out)
{
	size_t at = 2;
	CHECK(n >= 2 + HRL_CURSOR_BYTES);
	out->count = (unsigned)(b[0] | b[1] << 8);
	CHECK(out->count <= HRL_HISTORY_LIMIT_MAX);
	for (unsigned i = 0; i < out->count; i++) {
		struct te_receipt *r = &out->r[i];
		CHECK(at + 37 <= n);
		r->message_id = te_le64(b + at);
		r->campaign_id = te_le64(b + at + 8);
		r->channel = b[at + 16];
		r->vendor = b[at + 17];
		r->state = b[at + 18];
		r->event_unix_ms = te_le64(b + at + 19);
		r->recorded_unix_ms = te_le64(b + at + 27);
		size_t len = (size_t)(b[at + 35] | b[at + 36] << 8);
		at += 37;
		CHECK(len <= HRL_REASON_BYTES_MAX && at + len <= n);
		memcpy(r->reason, b + at, len);
		r->reason[len] = 0;
		at += len;
	}
	CHECK(at + HRL_CURSOR_BYTES == n);
	memcpy(out->next_cursor, b + at, HRL_CURSOR_BYTES);
}

/* One HISTORY page; returns the error code (0: *out is filled). */
static inline int te_history_page(struct te_conn *c, struct te_body *t, const char *user, const uint8_t *cursor,
				  uint16_t limit, struct te_history *out)
{
	struct net_hdr h;
	const uint8_t *b;
	te_history_body(t, user, cursor, limit);
	int err = te_call(c, HRL_OP_HISTORY, t->b.data, t->b.len, &h, &b);
	if (!err) {
		te_history_decode(b, h.body_len, out);
		CHECK(out->count <= limit);
	}
	return err;
}

/*
 * A user's whole history, newest first, following next_cursor until it is
 * all zero; at most cap receipts (more fails the test). Returns the count.
 */
static inline unsigned te_history_all(struct te_conn *c, struct te_body *t, const char *user, uint16_t limit,
				      struct te_receipt *all, unsigned cap)
{
	static struct te_history pg;
	unsigned n = 0;
	uint8_t cursor[HRL_CURSOR_BYTES] = { 0 };
	for (unsigned pages = 0;; pages++) {
		CHECK(pages <= cap + 1); /* an engine that hands back the same cursor */
		CHECK(te_history_page(c, t, user, cursor, limit, &pg) == 0);
		CHECK(n + pg.count <= cap);
		memcpy(all + n, pg.r, pg.count * sizeof(*all));
		n += pg.count;
		if (te_cursor_is_end(pg.next_cursor))
			return n;
		CHECK(memcmp(cursor, pg.next_cursor, HRL_CURSOR_BYTES) != 0);
		memcpy(cursor, pg.next_cursor, HRL_CURSOR_BYTES);
	}
}

/* CAMPAIGN_COUNTERS, by channel and state. */
struct te_counters {
	unsigned entries;
	uint64_t v[HRL_CH_COUNT][HRL_STATE_COUNT];
};

static inline uint64_t te_counters_total(const struct te_counters *k)
{
	uint64_t sum = 0;
	for (unsigned ch = 0; ch < HRL_CH_COUNT; ch++)
		for (unsigned st = 0; st < HRL_STATE_COUNT; st++)
			sum += k->v[ch][st];
	return sum;
}

/*
 * CAMPAIGN_COUNTERS; returns the error code. Checks the answer's layout
 * (5.7): channels and states in range, sorted by channel then state, no
 * zero counts.
 */
static inline int te_counters_get(struct te_conn *c, struct te_body *t, uint64_t campaign, struct te_counters *out)
{
	struct net_hdr h;
	const uint8_t *b;
	tb_reset(t);
	tb_u64(t, campaign);
	int err = te_call(c, HRL_OP_CAMPAIGN_COUNTERS, t->b.data, t->b.len, &h, &b);
	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	CHECK(h.body_len >= 2);
	out->entries = (unsigned)(b[0] | b[1] << 8);
	CHECK(h.body_len == 2 + out->entries * 10u);
	unsigned prev = 0;
	for (unsigned i = 0; i < out->entries; i++) {
		const uint8_t *e = b + 2 + i * 10;
		unsigned ch = e[0], st = e[1];
		CHECK(ch >= 1 && ch < HRL_CH_COUNT && st >= 1 && st < HRL_STATE_COUNT);
		CHECK(ch * 256 + st > prev);
		prev = ch * 256 + st;
		out->v[ch][st] = te_le64(e + 2);
		CHECK(out->v[ch][st] != 0);
	}
	return 0;
}

/* The receipt-log fields at the end of a STORE_STATS answer (5.4). */
struct te_event_stats {
	uint32_t event_segment_files;
	uint64_t event_segment_bytes;
	uint64_t receipts_written;
	uint64_t receipts_replayed;
	uint64_t event_segments_expired;
};

static inline void te_event_stats(struct te_conn *c, struct te_event_stats *out)
{
	struct net_hdr h;
	const uint8_t *b;
	CHECK(te_call(c, HRL_OP_STORE_STATS, "", 0, &h, &b) == 0);
	CHECK(h.body_len >= 58);
	unsigned cores = (unsigned)(b[56] | b[57] << 8);
	CHECK(h.body_len == 58 + 71 * cores + 36);
	const uint8_t *p = b + 58 + 71 * cores;
	out->event_segment_files = (uint32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
	out->event_segment_bytes = te_le64(p + 4);
	out->receipts_written = te_le64(p + 12);
	out->receipts_replayed = te_le64(p + 20);
	out->event_segments_expired = te_le64(p + 28);
}

/* Files in <dir>/<sub> whose names start with prefix and end with suffix. */
static inline unsigned te_count_files(const char *dir, const char *sub, const char *prefix, const char *suffix)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	DIR *d = opendir(path);
	struct dirent *de;
	unsigned n = 0;
	size_t pl = strlen(prefix), sl = strlen(suffix);
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		n += l >= pl + sl && strncmp(de->d_name, prefix, pl) == 0 && strcmp(de->d_name + l - sl, suffix) == 0;
	}
	if (d)
		closedir(d);
	return n;
}

#endif
