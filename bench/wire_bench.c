/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire_bench.c - pipelined load generator for Herald wire protocol v1.
 *
 * One thread, one epoll set, N TCP connections (default 50, as
 * redis-benchmark -c). Each connection works in batches, the way
 * redis-benchmark -P does: it encodes `depth` request frames into one
 * buffer, sends them with one write, reads until every answer of the batch
 * is in, then sends the next batch. The run ends after a number of requests
 * (--requests) or once --seconds have passed (batches in flight finish).
 *
 *   ping   PING with a body of --body-bytes bytes (default 0); the answer
 *          must echo the body. The frame is encoded once and copied with
 *          each request id patched in, as redis-benchmark reuses its
 *          command buffer: the load generator should cost less than the
 *          server it measures.
 *   bind   BIND of a new user per request: user id u<conn>_<n> (after
 *          --user-prefix), channel sms with a unique E.164 number
 *          +1<13 digits>, or channel push (vendor fcm, platform android)
 *          with a unique token. The answer must say created = 1.
 *
 * BIND needs an app. With --secret-file (the engine's admin.secret) the
 * tool logs in as admin and makes a fresh app with APP_CREATE, so user ids
 * never collide with an earlier run; --app and --secret name an existing
 * app instead (pick a new --user-prefix per run then).
 *
 * Every answer is checked: header (net_hdr_check), CRC32C of the body,
 * opcode, request id inside the connection's current batch and not seen
 * before, no ERROR flag, and the body of its opcode consumed exactly.
 * A failed check counts as an error; the tool exits 1 if there was any.
 * E_BUSY answers (the engine shedding load) are not errors: they are
 * counted in busy= and left out of requests= and of the latencies.
 *
 * Latency of an answer is the time from the write of its batch to the
 * return of the read() that brought its last byte; it goes into a
 * log-bucketed histogram (HDR style: 2^WB_HIST_SUB_BITS linear sub-buckets
 * per power of two, relative error under 1/128) kept in nanoseconds.
 * Percentiles are reported as the highest value of their bucket.
 *
 * Output, one line on stdout:
 *   name=herald_ping op=ping depth=32 conns=50 requests=... errors=0
 *   busy=0 seconds=... ops_per_sec=... p50_us=... p99_us=... p999_us=...
 *   max_us=... client_cpu_us_per_req=...
 * and with --server-pid, from /proc/PID/stat around the measured phase:
 *   server_cpu_us_per_req=... server_cpu_util=... server_sys_frac=...
 * (the engine's CPU time per request, that time over the wall time, and
 * the kernel's share of it).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/buf.h"
#include "base/crc32c.h"
#include "include/bounds.h"
#include "include/herald_proto.h"
#include "include/herald.h"
#include "net/wire.h"

/* Limits of the tool. */
#define WB_CONNS_MAX          4096u
#define WB_DEPTH_MAX          HRL_CONN_INFLIGHT_MAX    /* the engine pauses above this */
#define WB_PING_BODY_BYTES_MAX (64u << 10)
#define WB_RECV_BYTES         (256u << 10)             /* room offered to one read() */
#define WB_STALL_MS_MAX       10000u                   /* no answer for this long: fail */
#define WB_SETUP_TIMEOUT_MS   10000u                   /* one setup call (HELLO, AUTH...) */
#define WB_ERRORS_SHOWN_MAX   5u
#define WB_EPOLL_EVENTS_MAX   256u
#define WB_USER_PREFIX_BYTES_MAX 32u
#define WB_HIST_SUB_BITS      7u
#define WB_HIST_SUB           (1u << WB_HIST_SUB_BITS)
#define WB_HIST_BUCKETS       ((64u - WB_HIST_SUB_BITS + 1u) * WB_HIST_SUB)

_Static_assert(WB_DEPTH_MAX <= HRL_CONN_INFLIGHT_MAX, "a batch never pauses the engine");
_Static_assert(WB_PING_BODY_BYTES_MAX <= HRL_FRAME_BODY_BYTES_MAX, "ping body fits a frame");
_Static_assert(WB_USER_PREFIX_BYTES_MAX + 32u <= HRL_USER_ID_BYTES_MAX, "user ids fit");

enum wb_op { WB_OP_PING, WB_OP_BIND };

struct wb_opts {
	const char *addr;
	const char *name;
	enum wb_op op;
	unsigned conns;
	unsigned depth;
	uint64_t requests;     /* 0: run for seconds */
	double seconds;
	unsigned body_bytes;
	uint8_t channel;
	const char *secret_file;
	const char *app;
	const char *secret_hex;
	const char *user_prefix;
	int cpu;               /* -1: no pinning */
	long server_pid;       /* 0: do not read the engine's CPU time */
};

struct wb_hist {
	uint64_t count;
	uint64_t max_ns;
	uint64_t buckets[WB_HIST_BUCKETS];
};

struct wb_conn {
	int fd;
	unsigned idx;
	bool done;
	bool want_write;
	struct base_buf out;
	struct base_buf in;
	uint64_t next_id;        /* request id of the next request; ids start at 1 */
	uint64_t batch_first_id;
	unsigned batch_size;
	unsigned batch_left;
	uint64_t batch_sent_ns;
	uint64_t *seen;          /* one bit per request of the batch */
	uint64_t user_seq;       /* BIND users made by this connection */
};

struct wb_run {
	struct wb_opts o;
	uint16_t opcode;
	uint8_t app_secret[HRL_SECRET_BYTES];
	char app_id[HRL_APP_ID_BYTES_MAX + 1];
	uint8_t *ping_body;
	struct base_buf ping_frame;  /* one encoded PING, request id 0 */
	struct wb_conn *conns;
	int epfd;
	int admin_fd;          /* kept open until exit, see setup_app_create */
	uint64_t issued;
	uint64_t answered;     /* done: a good answer, or an error other than E_BUSY */
	uint64_t busy;         /* answered E_BUSY */
	uint64_t errors;
	uint64_t deadline_ns;
	uint64_t last_progress_ns;
	unsigned active;
	struct wb_hist hist;
};

/* ---- time and histogram ------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned hist_index(uint64_t v)
{
	if (v < 2 * WB_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - WB_HIST_SUB_BITS;
	return shift * WB_HIST_SUB + (unsigned)(v >> shift);
}

/* Highest value that lands in bucket i. */
static uint64_t hist_bucket_high(unsigned i)
{
	if (i < 2 * WB_HIST_SUB)
		return i;
	unsigned shift = i / WB_HIST_SUB - 1;
	uint64_t m = i - shift * WB_HIST_SUB;
	return ((m + 1) << shift) - 1;
}

static void hist_record(struct wb_hist *h, uint64_t v)
{
	unsigned i = hist_index(v);
	if (i >= WB_HIST_BUCKETS)
		i = WB_HIST_BUCKETS - 1;
	h->buckets[i]++;
	h->count++;
	if (v > h->max_ns)
		h->max_ns = v;
}

static uint64_t hist_percentile(const struct wb_hist *h, double pct)
{
	if (!h->count)
		return 0;
	uint64_t rank = (uint64_t)(pct / 100.0 * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < WB_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t v = hist_bucket_high(i);
			return v < h->max_ns ? v : h->max_ns;
		}
	}
	return h->max_ns;
}

/* ---- small helpers ------------------------------------------------------------ */

/* Decimal digits of v into p, at least `width` of them (zero padded). */
static size_t put_u64(char *p, uint64_t v, unsigned width)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		tmp[n++] = '0';
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || !*s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * CPU time of process pid in microseconds, all threads: user time in
 * *usr_us, system time in *sys_us, from /proc/pid/stat fields 14 and 15.
 * 0 or -errno.
 */
static int proc_cpu_us(long pid, double *usr_us, double *sys_us)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	const char *p = strrchr(text, ')'); /* the command name may hold spaces */
	unsigned long long utime, stime;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
			 &stime) != 2)
		return -EINVAL;
	double tick_us = 1e6 / (double)sysconf(_SC_CLK_TCK);
	*usr_us = (double)utime * tick_us;
	*sys_us = (double)stime * tick_us;
	return 0;
}

/* ---- connection setup: blocking calls ------------------------------------------ */

static int tcp_connect(const char *addr)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;

	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return -EHOSTUNREACH;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int rc = -errno;
		freeaddrinfo(ai);
		return rc;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		int rc = -errno;
		close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = { .tv_sec = WB_SETUP_TIMEOUT_MS / 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EPIPE;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/*
 * Send the frame in c->out (request id `id`) and wait for its answer.
 * On success *h is the answer's header and *body points into c->in, valid
 * until the next call. An error answer prints its message and gives -EPROTO.
 */
static int setup_call(struct wb_conn *c, uint64_t id, struct net_hdr *h, const uint8_t **body)
{
	int rc = write_all(c->fd, base_buf_head(&c->out), base_buf_readable(&c->out));
	c->out.off = c->out.len = 0;
	if (rc)
		return rc;
	c->in.off = c->in.len = 0;
	for (;;) {
		size_t have = base_buf_readable(&c->in);
		if (have >= HRL_FRAME_HEADER_BYTES) {
			net_hdr_decode(base_buf_head(&c->in), h);
			if (net_hdr_check(h, HRL_FLAG_RESPONSE))
				return -EPROTO;
			if (have >= HRL_FRAME_HEADER_BYTES + h->body_len)
				break;
		}
		if (base_buf_reserve(&c->in, WB_RECV_BYTES))
			return -ENOMEM;
		ssize_t k = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -ECONNRESET;
		c->in.len += (size_t)k;
	}
	*body = base_buf_head(&c->in) + HRL_FRAME_HEADER_BYTES;
	if (base_crc32c(0, *body, h->body_len) != h->body_crc || h->request_id != id)
		return -EPROTO;
	if (h->flags & HRL_FLAG_ERROR) {
		struct net_rd r;
		const char *msg;
		net_rd_init(&r, *body, h->body_len);
		uint16_t code = net_rd_u16(&r);
		size_t len = net_rd_str(&r, &msg);
		fprintf(stderr, "wire_bench: %s answered %s: %.*s\n", net_op_name(h->opcode),
			net_err_name(code), (int)len, msg);
		return -EPROTO;
	}
	return 0;
}

/* HELLO, then AUTH as app_id with secret. 0 or -errno. */
static int setup_login(struct wb_conn *c, const char *app_id, const uint8_t secret[HRL_SECRET_BYTES])
{
	struct net_wr w;
	struct net_hdr h;
	const uint8_t *body;
	struct net_rd r;
	int rc;

	uint64_t id = c->next_id++;
	net_wr_begin(&w, &c->out, HRL_OP_HELLO, 0, id);
	net_wr_u8(&w, HRL_VERSION_MIN);
	net_wr_u8(&w, HRL_VERSION_MAX);
	net_wr_str(&w, "wire_bench", strlen("wire_bench"));
	if ((rc = net_wr_end(&w)) || (rc = setup_call(c, id, &h, &body)))
		return rc;
	net_rd_init(&r, body, h.body_len);
	net_rd_u8(&r);
	net_rd_u8(&r);
	net_rd_u16(&r);
	net_rd_u32(&r);
	const uint8_t *nonce = net_rd_raw(&r, HRL_NONCE_BYTES);
	const char *server;
	net_rd_str(&r, &server);
	if (!net_rd_done(&r))
		return -EPROTO;
	if (!app_id)
		return 0; /* PING needs no AUTH */

	size_t app_len = strlen(app_id);
	uint8_t msg[HRL_NONCE_BYTES + HRL_APP_ID_BYTES_MAX];
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	if (app_len > HRL_APP_ID_BYTES_MAX)
		return -EINVAL;
	memcpy(msg, nonce, HRL_NONCE_BYTES);
	memcpy(msg + HRL_NONCE_BYTES, app_id, app_len);
	if (!HMAC(EVP_sha256(), secret, HRL_SECRET_BYTES, msg, HRL_NONCE_BYTES + app_len, mac, &mac_len) ||
	    mac_len != HRL_MAC_BYTES)
		return -EIO;

	id = c->next_id++;
	net_wr_begin(&w, &c->out, HRL_OP_AUTH, 0, id);
	net_wr_str(&w, app_id, app_len);
	net_wr_raw(&w, mac, HRL_MAC_BYTES);
	if ((rc = net_wr_end(&w)) || (rc = setup_call(c, id, &h, &body)))
		return rc;
	return 0;
}

/* Log in as admin on a scratch connection and make app `app_id`. */
static int setup_app_create(struct wb_run *run)
{
	struct wb_conn admin = { .next_id = 1 };
	uint8_t admin_secret[HRL_SECRET_BYTES];
	struct net_wr w;
	struct net_hdr h;
	const uint8_t *body;
	int rc;

	rc = herald_secret_read_file(run->o.secret_file, admin_secret);
	if (rc) {
		fprintf(stderr, "wire_bench: cannot read a secret from %s: %s\n", run->o.secret_file,
			strerror(-rc));
		return rc;
	}
	admin.fd = tcp_connect(run->o.addr);
	if (admin.fd < 0)
		return admin.fd;
	rc = setup_login(&admin, HRL_ADMIN_APP_ID, admin_secret);
	if (rc)
		goto out_close;
	uint64_t id = admin.next_id++;
	net_wr_begin(&w, &admin.out, HRL_OP_APP_CREATE, 0, id);
	net_wr_str(&w, run->app_id, strlen(run->app_id));
	if ((rc = net_wr_end(&w)) || (rc = setup_call(&admin, id, &h, &body)))
		goto out_close;
	struct net_rd r;
	const char *got;
	net_rd_init(&r, body, h.body_len);
	size_t got_len = net_rd_str(&r, &got);
	const uint8_t *secret = net_rd_raw(&r, HRL_SECRET_BYTES);
	if (!net_rd_done(&r) || got_len != strlen(run->app_id) || memcmp(got, run->app_id, got_len)) {
		rc = -EPROTO;
		goto out_close;
	}
	memcpy(run->app_secret, secret, HRL_SECRET_BYTES);
	/*
	 * The admin connection stays open until the tool exits: closing it
	 * would make the engine tear a connection down while the measurement
	 * runs, work that does not belong in the figures (and which, before
	 * commit 2668173, freed the connection twice; see docs/BENCHMARKS.md).
	 */
	run->admin_fd = admin.fd;
	admin.fd = -1;
out_close:
	if (admin.fd >= 0)
		close(admin.fd);
	base_buf_free(&admin.in);
	base_buf_free(&admin.out);
	return rc;
}

/* ---- the pipelined phase --------------------------------------------------------- */

static void encode_bind(struct wb_run *run, struct wb_conn *c, struct net_wr *w)
{
	char user[HRL_USER_ID_BYTES_MAX];
	char addr[64];
	size_t ul = strlen(run->o.user_prefix);
	uint64_t n = c->user_seq++;

	memcpy(user, run->o.user_prefix, ul);
	ul += put_u64(user + ul, c->idx, 1);
	user[ul++] = '_';
	ul += put_u64(user + ul, n, 1);
	net_wr_str(w, user, ul);
	if (run->o.channel == HRL_CH_SMS) {
		/* +1, then 13 digits: connection (4) and sequence (9): unique per run */
		size_t al = 0;
		addr[al++] = '+';
		addr[al++] = '1';
		al += put_u64(addr + al, (uint64_t)c->idx * 1000000000u + n % 1000000000u, 13);
		net_wr_u8(w, HRL_CH_SMS);
		net_wr_u8(w, HRL_VENDOR_NONE);
		net_wr_u8(w, HRL_PLATFORM_NONE);
		net_wr_str(w, addr, al);
	} else {
		size_t al = 0;
		memcpy(addr, "tok", 3);
		al = 3;
		al += put_u64(addr + al, c->idx, 4);
		addr[al++] = '-';
		al += put_u64(addr + al, n, 12);
		net_wr_u8(w, HRL_CH_PUSH);
		net_wr_u8(w, HRL_VENDOR_FCM);
		net_wr_u8(w, HRL_PLATFORM_ANDROID);
		net_wr_str(w, addr, al);
	}
}

/* Requests the next batch may carry; 0 when the run is over for c. */
static unsigned batch_quota(struct wb_run *run, uint64_t t_ns)
{
	if (run->o.requests) {
		uint64_t left = run->o.requests - run->issued;
		return left < run->o.depth ? (unsigned)left : run->o.depth;
	}
	return t_ns < run->deadline_ns ? run->o.depth : 0;
}

static int conn_flush(struct wb_run *run, struct wb_conn *c)
{
	while (base_buf_readable(&c->out)) {
		ssize_t k = write(c->fd, base_buf_head(&c->out), base_buf_readable(&c->out));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			break;
		if (k <= 0)
			return k < 0 ? -errno : -EPIPE;
		base_buf_consume(&c->out, (size_t)k);
	}
	bool want = base_buf_readable(&c->out) != 0;
	if (!want)
		c->out.off = c->out.len = 0;
	if (want != c->want_write) {
		struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
		if (epoll_ctl(run->epfd, EPOLL_CTL_MOD, c->fd, &ev))
			return -errno;
		c->want_write = want;
	}
	return 0;
}

static void conn_finish(struct wb_run *run, struct wb_conn *c)
{
	if (c->done)
		return;
	c->done = true;
	run->active--;
	epoll_ctl(run->epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

/* Encode and send the next batch, or finish c. 0 or -errno. */
static int conn_next_batch(struct wb_run *run, struct wb_conn *c, uint64_t t_ns)
{
	unsigned n = batch_quota(run, t_ns);
	if (!n) {
		conn_finish(run, c);
		return 0;
	}
	c->batch_first_id = c->next_id;
	c->batch_size = n;
	c->batch_left = n;
	memset(c->seen, 0, ((run->o.depth + 63) / 64) * sizeof(uint64_t));
	if (run->o.op == WB_OP_PING) {
		/* every PING is the same frame but for its id: copy and patch, as
		 * redis-benchmark reuses its pipelined command buffer */
		size_t len = base_buf_readable(&run->ping_frame);
		if (base_buf_reserve(&c->out, n * len))
			return -ENOMEM;
		for (unsigned i = 0; i < n; i++) {
			uint8_t *p = c->out.data + c->out.len;
			memcpy(p, base_buf_head(&run->ping_frame), len);
			uint64_t id = c->next_id++;
			for (unsigned k = 0; k < 8; k++)
				p[8 + k] = (uint8_t)(id >> (8 * k)); /* request_id, little-endian */
			c->out.len += len;
		}
	} else {
		for (unsigned i = 0; i < n; i++) {
			struct net_wr w;
			net_wr_begin(&w, &c->out, run->opcode, 0, c->next_id++);
			encode_bind(run, c, &w);
			int rc = net_wr_end(&w);
			if (rc)
				return rc;
		}
	}
	run->issued += n;
	c->batch_sent_ns = now_ns();
	return conn_flush(run, c);
}

static void answer_error(struct wb_run *run, struct wb_conn *c, const struct net_hdr *h,
			 const uint8_t *body, const char *what)
{
	run->errors++;
	if (run->errors > WB_ERRORS_SHOWN_MAX)
		return;
	if (h && (h->flags & HRL_FLAG_ERROR)) {
		struct net_rd r;
		const char *msg;
		net_rd_init(&r, body, h->body_len);
		uint16_t code = net_rd_u16(&r);
		size_t len = net_rd_str(&r, &msg);
		fprintf(stderr, "wire_bench: conn %u request %llu: %s %.*s\n", c->idx,
			(unsigned long long)h->request_id, net_err_name(code), (int)len, msg);
	} else {
		fprintf(stderr, "wire_bench: conn %u request %llu: %s\n", c->idx,
			h ? (unsigned long long)h->request_id : 0ull, what);
	}
}

/* Check one answer's body for its opcode. NULL if good, else what is wrong. */
static const char *answer_body_check(struct wb_run *run, const uint8_t *body, uint32_t len)
{
	if (run->o.op == WB_OP_PING) {
		if (len != run->o.body_bytes || (len && memcmp(body, run->ping_body, len)))
			return "PING answer does not echo the body";
		return NULL;
	}
	struct net_rd r;
	net_rd_init(&r, body, len);
	uint32_t device_id = net_rd_u32(&r);
	uint8_t created = net_rd_u8(&r);
	if (!net_rd_done(&r))
		return "BIND answer has the wrong layout";
	if (device_id != 1 || created != 1)
		return "BIND of a new user did not create device 1";
	return NULL;
}

/*
 * E_BUSY: the engine is overloaded and did nothing (docs/PROTOCOL.md,
 * section 6). Such answers are counted apart (busy=) and the request is not
 * retried: ops_per_sec counts only requests that were done.
 */
static bool answer_is_busy(const struct net_hdr *h, const uint8_t *body)
{
	struct net_rd r;
	const char *msg;
	if (!(h->flags & HRL_FLAG_ERROR) || base_crc32c(0, body, h->body_len) != h->body_crc)
		return false;
	net_rd_init(&r, body, h->body_len);
	uint16_t code = net_rd_u16(&r);
	net_rd_str(&r, &msg);
	return net_rd_done(&r) && code == HRL_E_BUSY;
}

/* Cut answers out of c->in. Returns 0, or -EPROTO when framing is lost. */
static int conn_parse(struct wb_run *run, struct wb_conn *c, uint64_t t_ns)
{
	for (;;) {
		size_t have = base_buf_readable(&c->in);
		struct net_hdr h;
		if (have < HRL_FRAME_HEADER_BYTES)
			break;
		const uint8_t *p = base_buf_head(&c->in);
		net_hdr_decode(p, &h);
		int rc = net_hdr_check(&h, HRL_FLAG_RESPONSE);
		if (rc && net_err_breaks_framing(-rc)) {
			answer_error(run, c, NULL, NULL, "answer header breaks framing");
			return -EPROTO;
		}
		if (have - HRL_FRAME_HEADER_BYTES < h.body_len)
			break;
		const uint8_t *body = p + HRL_FRAME_HEADER_BYTES;
		base_buf_consume(&c->in, HRL_FRAME_HEADER_BYTES + h.body_len);

		uint64_t slot = h.request_id - c->batch_first_id;
		if (h.request_id < c->batch_first_id || slot >= c->batch_size ||
		    (c->seen[slot / 64] >> (slot % 64) & 1)) {
			answer_error(run, c, &h, body, "answer to no request of the batch");
			if (h.request_id == 0)
				return -EPROTO; /* a connection-level error: the engine closes */
			continue;
		}
		c->seen[slot / 64] |= 1ull << (slot % 64);
		c->batch_left--;

		const char *bad = NULL;
		if (rc)
			bad = "answer header: bad version or flags";
		else if (base_crc32c(0, body, h.body_len) != h.body_crc)
			bad = "answer body_crc does not match";
		else if (h.opcode != run->opcode)
			bad = "answer carries another opcode";
		else if (h.flags & HRL_FLAG_ERROR)
			bad = "error answer";
		else
			bad = answer_body_check(run, body, h.body_len);
		if (bad && answer_is_busy(&h, body)) {
			run->busy++; /* shed, not done: neither a completed request nor an error */
			continue;
		}
		run->answered++;
		hist_record(&run->hist, t_ns - c->batch_sent_ns);
		if (bad)
			answer_error(run, c, &h, body, bad);
	}
	if (!base_buf_readable(&c->in))
		c->in.off = c->in.len = 0;
	else if (c->in.off > c->in.cap / 2)
		base_buf_compact(&c->in);
	return 0;
}

static int conn_on_readable(struct wb_run *run, struct wb_conn *c)
{
	if (base_buf_reserve(&c->in, WB_RECV_BYTES))
		return -ENOMEM;
	ssize_t k = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
	if (k < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (k <= 0) {
		fprintf(stderr, "wire_bench: conn %u: %s\n", c->idx,
			k < 0 ? strerror(errno) : "engine closed the connection");
		return k < 0 ? -errno : -ECONNRESET;
	}
	uint64_t t = now_ns();
	c->in.len += (size_t)k;
	run->last_progress_ns = t;
	int rc = conn_parse(run, c, t);
	if (rc)
		return rc;
	if (c->batch_left == 0)
		return conn_next_batch(run, c, t);
	return 0;
}

static int run_pipelined(struct wb_run *run, uint64_t *elapsed_ns)
{
	struct epoll_event evs[WB_EPOLL_EVENTS_MAX];
	int rc = 0;

	run->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (run->epfd < 0)
		return -errno;
	for (unsigned i = 0; i < run->o.conns; i++) {
		struct wb_conn *c = &run->conns[i];
		int fl = fcntl(c->fd, F_GETFL);
		fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(run->epfd, EPOLL_CTL_ADD, c->fd, &ev)) {
			rc = -errno;
			goto out_close;
		}
		c->in.off = c->in.len = 0;
	}
	run->active = run->o.conns;
	uint64_t start = now_ns();
	run->deadline_ns = start + (uint64_t)(run->o.seconds * 1e9);
	run->last_progress_ns = start;
	for (unsigned i = 0; i < run->o.conns && !rc; i++)
		rc = conn_next_batch(run, &run->conns[i], start);
	while (!rc && run->active) {
		int n = epoll_wait(run->epfd, evs, WB_EPOLL_EVENTS_MAX, 1000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		for (int i = 0; i < n && !rc; i++) {
			struct wb_conn *c = evs[i].data.ptr;
			if (c->done)
				continue;
			if (evs[i].events & EPOLLOUT)
				rc = conn_flush(run, c);
			if (!rc && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				rc = conn_on_readable(run, c);
		}
		if (!rc && now_ns() - run->last_progress_ns > (uint64_t)WB_STALL_MS_MAX * 1000000u) {
			fprintf(stderr, "wire_bench: no answer for %u ms; %llu requests unanswered\n",
				WB_STALL_MS_MAX,
				(unsigned long long)(run->issued - run->answered - run->busy));
			rc = -ETIMEDOUT;
		}
	}
	*elapsed_ns = now_ns() - start;
out_close:
	close(run->epfd);
	return rc;
}

/* ---- command line and main ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wire_bench [options]\n"
		"\n"
		"Pipelined load on a Herald engine over wire protocol v1 (one thread, epoll).\n"
		"\n"
		"  --addr HOST:PORT      engine address                    (default 127.0.0.1:7600)\n"
		"  --op ping|bind        request to send                   (default ping)\n"
		"  --conns N             connections                       (default 50)\n"
		"  --depth N             requests per batch, 1..%u        (default 1)\n"
		"  --requests N          stop after N requests\n"
		"  --seconds S           or stop issuing after S seconds   (default 5)\n"
		"  --body-bytes N        PING body size                    (default 0)\n"
		"  --channel sms|push    BIND channel                      (default sms)\n"
		"  --secret-file PATH    admin secret: create a fresh app for BIND\n"
		"  --app ID --secret HEX or bind as this existing app\n"
		"  --user-prefix S       user ids are S<conn>_<n>          (default u)\n"
		"  --cpu N               pin this process to CPU N\n"
		"  --name S              name= in the result line          (default herald_<op>)\n"
		"  --server-pid PID      also report the engine's CPU time per request\n"
		"  --help\n"
		"\n"
		"Prints one line: name=... depth=... conns=... requests=... ops_per_sec=...\n"
		"p50_us=... p99_us=...; exits 1 if any answer failed its check. E_BUSY\n"
		"answers are counted in busy=, not as errors, and not in requests=.\n",
		WB_DEPTH_MAX);
}

static int parse_opts(int argc, char **argv, struct wb_opts *o)
{
	static const struct option longs[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "op", required_argument, NULL, 'o' },
		{ "conns", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'P' },
		{ "requests", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },
		{ "body-bytes", required_argument, NULL, 'b' },
		{ "channel", required_argument, NULL, 'C' },
		{ "secret-file", required_argument, NULL, 'f' },
		{ "app", required_argument, NULL, 'A' },
		{ "secret", required_argument, NULL, 'S' },
		{ "user-prefix", required_argument, NULL, 'u' },
		{ "cpu", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'N' },
		{ "server-pid", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t v;
	int ch;

	*o = (struct wb_opts){
		.addr = "127.0.0.1:7600",
		.op = WB_OP_PING,
		.conns = 50,
		.depth = 1,
		.seconds = 5.0,
		.channel = HRL_CH_SMS,
		.user_prefix = "u",
		.cpu = -1,
	};
	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case 'a': o->addr = optarg; break;
		case 'o':
			if (!strcmp(optarg, "ping"))
				o->op = WB_OP_PING;
			else if (!strcmp(optarg, "bind"))
				o->op = WB_OP_BIND;
			else
				return -EINVAL;
			break;
		case 'c':
			if (parse_u64(optarg, 1, WB_CONNS_MAX, &v))
				return -EINVAL;
			o->conns = (unsigned)v;
			break;
		case 'P':
			if (parse_u64(optarg, 1, WB_DEPTH_MAX, &v))
				return -EINVAL;
			o->depth = (unsigned)v;
			break;
		case 'n':
			if (parse_u64(optarg, 1, UINT64_MAX / 2, &o->requests))
				return -EINVAL;
			break;
		case 's': {
			char *end;
			o->seconds = strtod(optarg, &end);
			if (*end || !(o->seconds > 0))
				return -EINVAL;
			break;
		}
		case 'b':
			if (parse_u64(optarg, 0, WB_PING_BODY_BYTES_MAX, &v))
				return -EINVAL;
			o->body_bytes = (unsigned)v;
			break;
		case 'C':
			if (!strcmp(optarg, "sms"))
				o->channel = HRL_CH_SMS;
			else if (!strcmp(optarg, "push"))
				o->channel = HRL_CH_PUSH;
			else
				return -EINVAL;
			break;
		case 'f': o->secret_file = optarg; break;
		case 'A': o->app = optarg; break;
		case 'S': o->secret_hex = optarg; break;
		case 'u':
			if (strlen(optarg) > WB_USER_PREFIX_BYTES_MAX)
				return -EINVAL;
			o->user_prefix = optarg;
			break;
		case 'k':
			if (parse_u64(optarg, 0, CPU_SETSIZE - 1, &v))
				return -EINVAL;
			o->cpu = (int)v;
			break;
		case 'N': o->name = optarg; break;
		case 'p':
			if (parse_u64(optarg, 1, 1u << 30, &v))
				return -EINVAL;
			o->server_pid = (long)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind != argc)
		return -EINVAL;
	if (o->op == WB_OP_BIND && !o->secret_file && !(o->app && o->secret_hex)) {
		fprintf(stderr, "wire_bench: --op bind needs --secret-file, or --app and --secret\n");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct wb_run *run;
	int rc;

	run = calloc(1, sizeof(*run));
	if (!run)
		return 1;
	run->admin_fd = -1;
	if (parse_opts(argc, argv, &run->o)) {
		usage(stderr);
		return 2;
	}
	struct wb_opts *o = &run->o;
	if (o->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(o->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "wire_bench: cannot pin to cpu %d: %s\n", o->cpu, strerror(errno));
			return 1;
		}
	}
	run->opcode = o->op == WB_OP_PING ? HRL_OP_PING : HRL_OP_BIND;
	run->ping_body = malloc(o->body_bytes + 1);
	run->conns = calloc(o->conns, sizeof(*run->conns));
	if (!run->ping_body || !run->conns)
		return 1;
	for (unsigned i = 0; i < o->body_bytes; i++)
		run->ping_body[i] = (uint8_t)('a' + i % 26);
	struct net_wr pw;
	net_wr_begin(&pw, &run->ping_frame, HRL_OP_PING, 0, 0);
	net_wr_raw(&pw, run->ping_body, o->body_bytes);
	if (net_wr_end(&pw))
		return 1;

	const char *app_id = NULL;
	if (o->op == WB_OP_BIND) {
		if (o->app) {
			if (strlen(o->app) > HRL_APP_ID_BYTES_MAX || herald_secret_parse(o->secret_hex, run->app_secret)) {
				fprintf(stderr, "wire_bench: bad --app or --secret\n");
				return 2;
			}
			snprintf(run->app_id, sizeof(run->app_id), "%s", o->app);
		} else {
			snprintf(run->app_id, sizeof(run->app_id), "wb_%ld_%d", (long)time(NULL), (int)getpid());
			rc = setup_app_create(run);
			if (rc) {
				fprintf(stderr, "wire_bench: cannot create app %s: %s\n", run->app_id,
					strerror(-rc));
				return 1;
			}
		}
		app_id = run->app_id;
	}

	for (unsigned i = 0; i < o->conns; i++) {
		struct wb_conn *c = &run->conns[i];
		c->idx = i;
		c->next_id = 1;
		c->seen = calloc((o->depth + 63) / 64, sizeof(uint64_t));
		c->fd = tcp_connect(o->addr);
		if (!c->seen || c->fd < 0) {
			fprintf(stderr, "wire_bench: cannot connect to %s: %s\n", o->addr,
				strerror(c->fd < 0 ? -c->fd : ENOMEM));
			return 1;
		}
		rc = setup_login(c, app_id, run->app_secret);
		if (rc) {
			fprintf(stderr, "wire_bench: session setup failed on conn %u: %s\n", i, strerror(-rc));
			return 1;
		}
	}

	struct rusage ru0, ru1;
	double srv_usr0 = 0, srv_sys0 = 0, srv_usr1 = 0, srv_sys1 = 0;
	bool srv_ok = o->server_pid && !proc_cpu_us(o->server_pid, &srv_usr0, &srv_sys0);
	getrusage(RUSAGE_SELF, &ru0);
	uint64_t elapsed_ns = 0;
	rc = run_pipelined(run, &elapsed_ns);
	getrusage(RUSAGE_SELF, &ru1);
	srv_ok = srv_ok && !proc_cpu_us(o->server_pid, &srv_usr1, &srv_sys1);
	if (rc) {
		fprintf(stderr, "wire_bench: run failed: %s\n", strerror(-rc));
		run->errors++;
	}

	double secs = (double)elapsed_ns / 1e9;
	double cpu_us = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1e6 +
			(double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
			(double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e6 +
			(double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
	char name[64];
	if (o->name)
		snprintf(name, sizeof(name), "%s", o->name);
	else
		snprintf(name, sizeof(name), "herald_%s", o->op == WB_OP_PING ? "ping" : "bind");
	printf("name=%s op=%s depth=%u conns=%u requests=%llu errors=%llu busy=%llu seconds=%.3f "
	       "ops_per_sec=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
	       "client_cpu_us_per_req=%.3f",
	       name, o->op == WB_OP_PING ? "ping" : "bind", o->depth, o->conns,
	       (unsigned long long)run->answered, (unsigned long long)run->errors,
	       (unsigned long long)run->busy, secs,
	       secs > 0 ? (double)run->answered / secs : 0.0,
	       (double)hist_percentile(&run->hist, 50.0) / 1e3,
	       (double)hist_percentile(&run->hist, 99.0) / 1e3,
	       (double)hist_percentile(&run->hist, 99.9) / 1e3, (double)run->hist.max_ns / 1e3,
	       run->answered ? cpu_us / (double)run->answered : 0.0);
	if (srv_ok && run->answered && secs > 0) {
		double usr = srv_usr1 - srv_usr0, sys = srv_sys1 - srv_sys0;
		printf(" server_cpu_us_per_req=%.3f server_cpu_util=%.2f server_sys_frac=%.2f",
		       (usr + sys) / (double)run->answered, (usr + sys) / 1e6 / secs,
		       usr + sys > 0 ? sys / (usr + sys) : 0.0);
	}
	printf("\n");
	fflush(stdout);

	for (unsigned i = 0; i < o->conns; i++) {
		close(run->conns[i].fd);
		base_buf_free(&run->conns[i].in);
		base_buf_free(&run->conns[i].out);
		free(run->conns[i].seen);
	}
	if (run->admin_fd >= 0)
		close(run->admin_fd);
	free(run->conns);
	free(run->ping_body);
	base_buf_free(&run->ping_frame);
	int failed = run->errors != 0;
	free(run);
	return failed;
}
