/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP/1.1 client (net/http1.c) against a real server, tests/http_peer.py,
 * plain and TLS: answers, keep-alive, chunked / interim / read-to-EOF / HEAD
 * answers, Connection: close, a server that closes idle connections, the
 * one retry after a reused connection died, refused, connect and request
 * timeouts, garbage, oversize answers, the queue limit, 64 requests over 4
 * connections, TLS verification (CA, wrong CA, wrong name, insecure),
 * closing the pool with requests in flight (also from a callback), and out
 * of memory at each allocation. Every done callback is checked to come
 * exactly once and never from inside net_http_send.
 *
 * One iou_core runs in this thread; done callbacks stop its loop. Skips
 * (77) without python3 or openssl.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/buf.h"
#include "io/reactor.h"
#include "net/http1.h"
#include "tests/unit.h"

#define TEST_TICK_MS   10u
#define ANSWER_WAIT_MS 5000u
#define TEST_BODY_MAX  128u

static struct iou_core core;
static bool tick_lost;          /* the reactor did not re-arm its tick (stopped on it) */
static uint64_t run_deadline_ms;
static bool (*run_until)(void);
static struct net_http_pool *ticking[4];
static bool in_send;            /* inside net_http_send */
static unsigned waiting;        /* answers still expected */
static unsigned pools_target;

struct answer {
	int status;
	unsigned calls;
	size_t len;
	char body[TEST_BODY_MAX];
	uint64_t at_ms;
};

#define EXPECT(cond, ...)                                                                    \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);           \
			fprintf(stderr, __VA_ARGS__);                                        \
			fprintf(stderr, "\n");                                               \
			failures++;                                                          \
		}                                                                            \
	} while (0)

/* ---- the loop ---------------------------------------------------------------------- */

static void test_on_tick(struct iou_core *c)
{
	for (unsigned i = 0; i < sizeof(ticking) / sizeof(ticking[0]); i++)
		if (ticking[i])
			net_http_tick(ticking[i]);
	if (c->now_ms >= run_deadline_ms || (run_until && run_until()))
		c->stop = true;
	tick_lost = c->stop; /* the reactor re-arms the tick only when not stopping */
}

/* Run the loop until until() holds (checked by callbacks and every tick) or max_ms passed. */
static void run(uint32_t max_ms, bool (*until)(void))
{
	run_until = until;
	run_deadline_ms = iou_now_ms() + max_ms;
	while (!(until && until()) && iou_now_ms() < run_deadline_ms) {
		core.stop = false;
		if (tick_lost) {
			struct io_uring_sqe *sqe = iou_sqe(&core);
			io_uring_prep_timeout(sqe, &core.tick_ts, 0, 0);
			io_uring_sqe_set_data(sqe, &core.tick_op);
			tick_lost = false;
		}
		iou_core_run(&core);
	}
	run_until = NULL;
}

static bool none_waiting(void)
{
	return waiting == 0;
}

static bool pools_down(void)
{
	return net_http_pools_live() <= pools_target;
}

static void on_done(void *arg, int status, const char *body, size_t len)
{
	struct answer *a = arg;
	EXPECT(!in_send, "done called from inside net_http_send");
	EXPECT(a->calls == 0, "done called twice (status %d, then %d)", a->status, status);
	EXPECT(status < 0 ? body == NULL : body != NULL && body[len] == '\0', "body %p for status %d", (void *)body, status);
	a->calls++;
	a->status = status;
	a->len = len;
	a->at_ms = iou_now_ms();
	size_t n = body ? (len < TEST_BODY_MAX - 1 ? len : TEST_BODY_MAX - 1) : 0;
	if (n)
		memcpy(a->body, body, n);
	a->body[n] = '\0';
	if (waiting && --waiting == 0)
		core.stop = true;
}

/* ---- pools and requests --------------------------------------------------------------- */

static struct net_http_pool *pool_new(const struct net_http_pool_cfg *cfg_in)
{
	struct net_http_pool_cfg c = *cfg_in, *cfg = &c;
	struct net_http_pool *p = NULL;
	if (!c.max_conns)
		c.max_conns = 1;
	int rc = net_http_pool_init(&p, &core, cfg);
	EXPECT(rc == 0, "pool_init(%s) = %d", cfg->url, rc);
	if (rc)
		return NULL;
	for (unsigned i = 0; i < sizeof(ticking) / sizeof(ticking[0]); i++)
		if (!ticking[i]) {
			ticking[i] = p;
			return p;
		}
	NEVER(true);
	return NULL;
}

static void pool_untick(struct net_http_pool *p)
{
	for (unsigned i = 0; i < sizeof(ticking) / sizeof(ticking[0]); i++)
		if (ticking[i] == p)
			ticking[i] = NULL;
}

/* Close p and run the loop until the ring gave every op back and p is freed. */
static void pool_end(struct net_http_pool *p)
{
	pools_target = net_http_pools_live() - 1;
	pool_untick(p);
	net_http_pool_close(p);
	run(3000, pools_down);
	EXPECT(net_http_pools_live() == pools_target, "the closed pool was not freed (%u live)", net_http_pools_live());
}

static struct net_http_stats stats_of(struct net_http_pool *p)
{
	struct net_http_stats st;
	net_http_pool_stats(p, &st);
	return st;
}

static int send_req(struct net_http_pool *p, const char *method, const char *path, const void *body, size_t body_len,
		    net_http_done_fn *done, struct answer *a)
{
	static char buf[128 << 10];
	int n = snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n",
			 method, path, body_len);
	ALWAYS(n > 0 && (size_t)n + body_len <= sizeof(buf));
	if (body_len)
		memcpy(buf + n, body, body_len);
	memset(a, 0, sizeof(*a));
	in_send = true;
	int rc = net_http_send(p, buf, (size_t)n + body_len, done ? done : on_done, a);
	in_send = false;
	if (rc == 0)
		waiting++;
	return rc;
}

/* One request, answered before returning. */
static void call(struct net_http_pool *p, const char *method, const char *path, const char *body, struct answer *a)
{
	int rc = send_req(p, method, path, body, body ? strlen(body) : 0, NULL, a);
	EXPECT(rc == 0, "net_http_send(%s %s) = %d", method, path, rc);
	run(ANSWER_WAIT_MS, none_waiting);
	EXPECT(a->calls == 1, "%s %s: %u answers", method, path, a->calls);
	waiting = 0;
}

/* a pool configuration; pool_new makes max_conns 0 into 1 */
#define CFG(u, ...) (&(struct net_http_pool_cfg){ .url = (u), __VA_ARGS__ })

/* ---- peers ---------------------------------------------------------------------------- */

static pid_t peer_start(const char *script, const char *cert, const char *key, unsigned *port)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		if (cert)
			execlp("python3", "python3", script, "--tls", cert, key, (char *)NULL);
		else
			execlp("python3", "python3", script, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char line[32] = { 0 };
	size_t n = 0;
	while (n < sizeof(line) - 1 && !memchr(line, '\n', n)) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		if (poll(&pfd, 1, 10000) != 1)
			break;
		ssize_t k = read(fds[0], line + n, sizeof(line) - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fds[0]);
	*port = (unsigned)atoi(line);
	if (pid > 0 && !*port) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

static void peer_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
static unsigned free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	ALWAYS(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	ALWAYS(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* ---- behaviours ----------------------------------------------------------------------- */

static void test_answer(const char *url)
{
	struct answer a;
	struct net_http_pool *p = pool_new(CFG(url));
	call(p, "POST", "/echo", "hello herald", &a);
	EXPECT(a.status == 200 && strcmp(a.body, "hello herald") == 0, "echo: %d \"%s\"", a.status, a.body);
	call(p, "GET", "/chunked", NULL, &a);
	EXPECT(a.status == 200 && strcmp(a.body, "hello chunked world") == 0, "chunked answer not de-chunked: %d \"%s\"",
	       a.status, a.body);
	call(p, "GET", "/continue", NULL, &a);
	EXPECT(a.status == 200 && strcmp(a.body, "after continue") == 0, "100 Continue not skipped: %d \"%s\"", a.status,
	       a.body);
	call(p, "GET", "/eof-body", NULL, &a);
	EXPECT(a.status == 200 && strcmp(a.body, "until close") == 0, "body read to EOF: %d \"%s\"", a.status, a.body);
	call(p, "GET", "/missing", NULL, &a);
	EXPECT(a.status == 404, "404 passed through: %d", a.status);
	struct net_http_stats st = stats_of(p);
	EXPECT(st.requests == 5 && st.responses == 5 && st.errors == 0, "stats %lu/%lu/%lu",
	       (unsigned long)st.requests, (unsigned long)st.responses, (unsigned long)st.errors);
	EXPECT(net_http_inflight(p) == 0, "inflight %u after every answer", net_http_inflight(p));
	pool_end(p);
}

static void test_head(const char *url)
{
	struct answer a;
	struct net_http_pool *p = pool_new(CFG(url));
	call(p, "HEAD", "/echo", NULL, &a);
	EXPECT(a.status == 200 && a.len == 0, "HEAD: %d, %zu body bytes", a.status, a.len);
	call(p, "GET", "/count", NULL, &a);
	EXPECT(strstr(a.body, " n=2") != NULL, "connection after HEAD not reused: \"%s\"", a.body);
	pool_end(p);
}

static struct net_http_pool *chain_pool;
static unsigned chain_left;
static struct answer chain_answers[2];

/* Sends the next request from the callback of the previous one. */
static void on_chain(void *arg, int status, const char *body, size_t len)
{
	if (status == 200 && --chain_left) {
		struct answer *next = arg == &chain_answers[0] ? &chain_answers[1] : &chain_answers[0];
		EXPECT(send_req(chain_pool, "GET", "/count", NULL, 0, on_chain, next) == 0, "send from a callback");
	}
	on_done(arg, status, body, len);
}

static void test_keep_alive(const char *url, const char *ca, unsigned n, const char *what)
{
	chain_pool = pool_new(CFG(url, .ca_file = ca));
	chain_left = n;
	EXPECT(send_req(chain_pool, "GET", "/count", NULL, 0, on_chain, &chain_answers[0]) == 0, "first send");
	run(ANSWER_WAIT_MS * 2, none_waiting);
	struct answer *last = &chain_answers[(n - 1) % 2];
	char want[32];
	snprintf(want, sizeof(want), " n=%u", n);
	struct net_http_stats st = stats_of(chain_pool);
	EXPECT(chain_left == 0 && last->status == 200, "%s: %u requests left, last %d", what, chain_left, last->status);
	EXPECT(strstr(last->body, want) != NULL, "%s: %u requests not on one connection: \"%s\"", what, n, last->body);
	EXPECT(st.connects == 1 && st.requests == n && st.responses == n, "%s: %lu connects for %lu requests", what,
	       (unsigned long)st.connects, (unsigned long)st.requests);
	pool_end(chain_pool);
}

static void test_connection_close(const char *url)
{
	struct answer a;
	struct net_http_pool *p = pool_new(CFG(url));
	call(p, "GET", "/close", NULL, &a);
	EXPECT(a.status == 200 && strcmp(a.body, "bye") == 0, "Connection: close answer %d \"%s\"", a.status, a.body);
	call(p, "GET", "/count", NULL, &a);
	struct net_http_stats st = stats_of(p);
	EXPECT(a.status == 200 && strstr(a.body, " n=1"), "after Connection: close: %d \"%s\"", a.status, a.body);
	EXPECT(st.connects == 2 && st.reconnects == 1 && st.retries == 0, "connects %lu reconnects %lu retries %lu",
	       (unsigned long)st.connects, (unsigned long)st.reconnects, (unsigned long)st.retries);
	pool_end(p);
}

static void test_idle_close(const char *url)
{
	struct answer a;
	struct net_http_pool *p = pool_new(CFG(url));
	call(p, "GET", "/idle-close?ms=150", NULL, &a);
	EXPECT(a.status == 200, "idle-close answer %d", a.status);
	run(600, NULL); /* the server closes the idle connection meanwhile */
	call(p, "GET", "/count", NULL, &a);
	struct net_http_stats st = stats_of(p);
	EXPECT(a.status == 200 && strstr(a.body, " n=1"), "after the server closed the idle connection: %d \"%s\"",
	       a.status, a.body);
	EXPECT(st.connects == 2 && st.retries == 0, "idle close not noticed while idle: connects %lu retries %lu",
	       (unsigned long)st.connects, (unsigned long)st.retries);
	pool_end(p);
}

static void test_retry(const char *url)
{
	struct answer a;
	struct net_http_pool *p = pool_new(CFG(url));
	call(p, "GET", "/count", NULL, &a);
	call(p, "POST", "/drop-if-reused", "x", &a);
	struct net_http_stats st = stats_of(p);
	EXPECT(a.status == 200 && strstr(a.body, " n=1"), "retry on a fresh connection: %d \"%s\"", a.status, a.body);
	EXPECT(st.retries == 1 && st.connects == 2, "retries %lu connects %lu", (unsigned long)st.retries,
	       (unsigned long)st.connects);
	pool_end(p);

	p = pool_new(CFG(url));
	call(p, "POST", "/drop", "x", &a);
	st = stats_of(p);
	EXPECT(a.status == -ECONNRESET, "no answer on a fresh connection: %d, want -ECONNRESET", a.status);
	EXPECT(st.retries == 0, "a fresh connection was retried");
	call(p, "GET", "/count", NULL, &a);
	call(p, "POST", "/drop", "x", &a);
	st = stats_of(p);
	EXPECT(a.status == -ECONNRESET, "no answer after the retry: %d, want -ECONNRESET", a.status);
	EXPECT(st.retries == 1 && st.connects == 3, "retried once: retries %lu connects %lu", (unsigned long)st.retries,
	       (unsigned long)st.connects);
	pool_end(p);
}

static void test_refused(void)
{
	char url[64];
	struct answer a;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", free_port());
	struct net_http_pool *p = pool_new(CFG(url));
	call(p, "GET", "/", NULL, &a);
	EXPECT(a.status == -ECONNREFUSED, "nothing listening: %d, want -ECONNREFUSED", a.status);
	pool_end(p);
}

static void test_connect_timeout(void)
{
	/* a listener with a full accept queue drops SYNs: the connect hangs */
	int l = socket(AF_INET, SOCK_STREAM, 0), filler = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	ALWAYS(l >= 0 && filler >= 0 && bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(l, 0) == 0);
	ALWAYS(getsockname(l, (struct sockaddr *)&sa, &sl) == 0);
	ALWAYS(connect(filler, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	char url[64];
	struct answer a;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
	struct net_http_pool *p = pool_new(CFG(url, .connect_timeout_ms = 200, .request_timeout_ms = 4000));
	uint64_t t0 = iou_now_ms();
	call(p, "GET", "/", NULL, &a);
	EXPECT(a.status == -ETIMEDOUT, "hanging connect: %d, want -ETIMEDOUT", a.status);
	EXPECT(a.at_ms - t0 >= 190 && a.at_ms - t0 < 1500, "connect timeout after %lu ms, want ~200",
	       (unsigned long)(a.at_ms - t0));
	pool_end(p); /* the connect cancelled at the timeout comes back, then the pool is freed */
	close(filler);
	close(l);
}

static void test_request_timeout(const char *url)
{
	struct answer a;
	struct net_http_pool *p = pool_new(CFG(url, .request_timeout_ms = 300));
	uint64_t t0 = iou_now_ms();
	call(p, "GET", "/slow?ms=1500", NULL, &a);
	EXPECT(a.status == -ETIMEDOUT, "slow answer: %d, want -ETIMEDOUT", a.status);
	EXPECT(a.at_ms - t0 >= 290 && a.at_ms - t0 < 1200, "request timeout after %lu ms, want ~300",
	       (unsigned long)(a.at_ms - t0));
	call(p, "POST", "/echo", "still there", &a);
	EXPECT(a.status == 200 && strcmp(a.body, "still there") == 0, "pool after a timeout: %d \"%s\"", a.status, a.body);
	pool_end(p);
}

static void test_garbage(const char *url)
{
	struct answer a;
	struct net_http_pool *p = pool_new(CFG(url));
	call(p, "GET", "/garbage", NULL, &a);
	EXPECT(a.status == -EPROTO, "garbage answer: %d, want -EPROTO", a.status);
	call(p, "POST", "/echo", "after garbage", &a);
	EXPECT(a.status == 200 && strcmp(a.body, "after garbage") == 0, "pool after garbage: %d \"%s\"", a.status, a.body);
	pool_end(p);
}

static void test_huge(const char *url)
{
	struct answer a;
	struct net_http_pool *p = pool_new(CFG(url, .max_response_bytes = 64 << 10));
	call(p, "GET", "/huge?bytes=1048576", NULL, &a);
	EXPECT(a.status == -EMSGSIZE, "1 MiB answer (Content-Length) over 64 KiB: %d, want -EMSGSIZE", a.status);
	call(p, "GET", "/huge?bytes=1048576&chunked=1", NULL, &a);
	EXPECT(a.status == -EMSGSIZE, "1 MiB chunked answer over 64 KiB: %d, want -EMSGSIZE", a.status);
	call(p, "GET", "/huge?bytes=65536", NULL, &a);
	EXPECT(a.status == 200 && a.len == 65536, "answer of exactly the limit: %d, %zu bytes", a.status, a.len);
	pool_end(p);
}

static void test_queue_full(const char *url)
{
	struct answer a[4];
	struct net_http_pool *p = pool_new(CFG(url, .queue_max = 2));
	for (int i = 0; i < 3; i++)
		EXPECT(send_req(p, "GET", "/slow?ms=50", NULL, 0, NULL, &a[i]) == 0, "request %d of 1 + queue 2", i);
	int rc = send_req(p, "GET", "/slow?ms=50", NULL, 0, NULL, &a[3]);
	EXPECT(rc == -EBUSY, "request over the queue: %d, want -EBUSY", rc);
	EXPECT(net_http_inflight(p) == 3, "inflight %u, want 3", net_http_inflight(p));
	run(ANSWER_WAIT_MS, none_waiting);
	for (int i = 0; i < 3; i++)
		EXPECT(a[i].calls == 1 && a[i].status == 200, "queued request %d: %u calls, %d", i, a[i].calls, a[i].status);
	EXPECT(a[3].calls == 0, "a refused request was answered");
	pool_end(p);
}

static void test_concurrent(const char *url, const char *ca, const char *what)
{
	static struct answer a[64];
	char body[32];
	struct net_http_pool *p = pool_new(CFG(url, .max_conns = 4, .queue_max = 64, .ca_file = ca));
	for (int i = 0; i < 64; i++) {
		snprintf(body, sizeof(body), "request %d", i);
		EXPECT(send_req(p, "POST", "/echo", body, strlen(body), NULL, &a[i]) == 0, "%s: send %d", what, i);
	}
	EXPECT(net_http_inflight(p) == 64, "%s: inflight %u, want 64", what, net_http_inflight(p));
	run(ANSWER_WAIT_MS * 2, none_waiting);
	int good = 0;
	for (int i = 0; i < 64; i++) {
		snprintf(body, sizeof(body), "request %d", i);
		good += a[i].calls == 1 && a[i].status == 200 && strcmp(a[i].body, body) == 0;
	}
	struct net_http_stats st = stats_of(p);
	EXPECT(good == 64, "%s: %d of 64 concurrent requests answered right", what, good);
	EXPECT(st.connects == 4, "%s: %lu connections for max_conns 4", what, (unsigned long)st.connects);
	EXPECT(net_http_inflight(p) == 0, "%s: inflight %u at the end", what, net_http_inflight(p));
	pool_end(p);
}

static void test_big_request(const char *url, const char *ca, const char *what)
{
	static char big[60 << 10];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	struct answer a;
	struct net_http_pool *p = pool_new(CFG(url, .ca_file = ca));
	EXPECT(send_req(p, "POST", "/echo", big, sizeof(big), NULL, &a) == 0, "%s: send 60 KiB", what);
	run(ANSWER_WAIT_MS, none_waiting);
	EXPECT(a.status == 200 && a.len == sizeof(big) && memcmp(a.body, big, TEST_BODY_MAX - 1) == 0,
	       "%s: 60 KiB echo: %d, %zu bytes", what, a.status, a.len);
	pool_end(p);
}

static void test_tls(unsigned port_a, unsigned port_b, unsigned port_plain, const char *ca_a, const char *ca_b)
{
	char url[96];
	struct answer a;
	struct net_http_pool *p;

	snprintf(url, sizeof(url), "https://localhost:%u", port_a);
	p = pool_new(CFG(url, .ca_file = ca_a));
	call(p, "POST", "/echo", "over tls", &a);
	EXPECT(a.status == 200 && strcmp(a.body, "over tls") == 0, "https with the test CA: %d \"%s\"", a.status, a.body);
	pool_end(p);

	snprintf(url, sizeof(url), "https://127.0.0.1:%u", port_a);
	p = pool_new(CFG(url, .ca_file = ca_a));
	call(p, "POST", "/echo", "ip san", &a);
	EXPECT(a.status == 200, "https to an IP in the certificate: %d", a.status);
	pool_end(p);

	p = pool_new(CFG(url, .ca_file = ca_b));
	call(p, "POST", "/echo", "wrong ca", &a);
	EXPECT(a.status == -EPROTO, "https verified against the wrong CA: %d, want -EPROTO", a.status);
	pool_end(p);

	p = pool_new(CFG(url, .insecure = true));
	call(p, "POST", "/echo", "insecure", &a);
	EXPECT(a.status == 200 && strcmp(a.body, "insecure") == 0, "https insecure: %d \"%s\"", a.status, a.body);
	pool_end(p);

	snprintf(url, sizeof(url), "https://127.0.0.1:%u", port_b); /* certificate for other.example */
	p = pool_new(CFG(url, .ca_file = ca_b));
	call(p, "GET", "/count", NULL, &a);
	EXPECT(a.status == -EPROTO, "https with a certificate for another name: %d, want -EPROTO", a.status);
	pool_end(p);

	snprintf(url, sizeof(url), "https://127.0.0.1:%u", port_plain);
	p = pool_new(CFG(url, .insecure = true));
	call(p, "GET", "/count", NULL, &a);
	EXPECT(a.status == -EPROTO, "https to a plain HTTP server: %d, want -EPROTO", a.status);
	pool_end(p);

	snprintf(url, sizeof(url), "https://localhost:%u", port_a);
	test_keep_alive(url, ca_a, 10, "tls keep-alive");
	test_big_request(url, ca_a, "tls");
	test_concurrent(url, ca_a, "tls");
}

static void test_close_in_flight(const char *url)
{
	struct answer a[6];
	struct net_http_pool *p = pool_new(CFG(url, .max_conns = 2, .queue_max = 8));
	for (int i = 0; i < 6; i++)
		EXPECT(send_req(p, "GET", "/slow?ms=2000", NULL, 0, NULL, &a[i]) == 0, "send %d", i);
	run(200, NULL); /* connected, two written, four queued */
	pools_target = net_http_pools_live() - 1;
	pool_untick(p);
	net_http_pool_close(p);
	EXPECT(waiting == 0, "%u requests not answered by net_http_pool_close", waiting);
	for (int i = 0; i < 6; i++)
		EXPECT(a[i].calls == 1 && a[i].status == -ECANCELED, "request %d after close: %u calls, %d", i, a[i].calls,
		       a[i].status);
	run(3000, pools_down);
	EXPECT(net_http_pools_live() == pools_target, "pool with requests in flight not freed");
	for (int i = 0; i < 6; i++)
		EXPECT(a[i].calls == 1, "request %d answered again after close", i);
	waiting = 0;
}

static struct net_http_pool *closing_pool;

static void on_done_close(void *arg, int status, const char *body, size_t len)
{
	on_done(arg, status, body, len);
	pool_untick(closing_pool);
	net_http_pool_close(closing_pool);
	net_http_pool_close(closing_pool); /* twice: harmless while callbacks run */
}

static void test_close_from_callback(const char *url)
{
	struct answer a, b;
	closing_pool = pool_new(CFG(url, .max_conns = 2));
	pools_target = net_http_pools_live() - 1;
	EXPECT(send_req(closing_pool, "GET", "/slow?ms=2000", NULL, 0, NULL, &b) == 0, "send slow");
	EXPECT(send_req(closing_pool, "POST", "/echo", "x", 1, on_done_close, &a) == 0, "send echo");
	run(ANSWER_WAIT_MS, none_waiting);
	EXPECT(a.calls == 1 && a.status == 200, "the answer whose callback closes: %u calls, %d", a.calls, a.status);
	EXPECT(b.calls == 1 && b.status == -ECANCELED, "request cancelled from a callback: %u calls, %d", b.calls, b.status);
	run(3000, pools_down);
	EXPECT(net_http_pools_live() == pools_target, "pool closed from a callback not freed");
	waiting = 0;
}

/* Every allocation of the client fails in turn: the request fails with -ENOMEM, nothing leaks. */
static void test_oom(const char *url, const char *what, void (*fail_after)(long))
{
	unsigned enomem = 0, ok = 0;
	for (long n = 1; n <= 40; n++) {
		struct net_http_pool *p = NULL;
		struct answer a;
		fail_after(n);
		int rc = net_http_pool_init(&p, &core, CFG(url, .max_conns = 1, .insecure = true));
		if (rc) {
			EXPECT(rc == -ENOMEM, "%s: pool_init with allocation %ld failing: %d", what, n, rc);
			enomem++;
			continue;
		}
		ticking[0] = p;
		rc = send_req(p, "POST", "/echo", "oom", 3, NULL, &a);
		if (rc) {
			EXPECT(rc == -ENOMEM, "%s: send with allocation %ld failing: %d", what, n, rc);
			enomem++;
		} else {
			run(ANSWER_WAIT_MS, none_waiting);
			EXPECT(a.calls == 1 && (a.status == 200 || a.status == -ENOMEM), "%s: allocation %ld failing: %u calls, %d",
			       what, n, a.calls, a.status);
			enomem += a.status == -ENOMEM;
			ok += a.status == 200;
		}
		waiting = 0;
		fail_after(0);
		pool_end(p);
	}
	EXPECT(enomem > 0 && ok > 0, "%s: %u -ENOMEM, %u answers", what, enomem, ok);
}

static void fail_buf_after(long n)
{
	base_buf_fail_alloc_after(n);
}

static int make_cert(const char *dir, const char *name, const char *cn, const char *san)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=%s -addext subjectAltName=%s -days 1 "
		 "-keyout %s/%s.key -out %s/%s.pem >/dev/null 2>&1",
		 cn, san, dir, name, dir, name);
	return system(cmd);
}

int main(void)
{
	if (system("command -v python3 >/dev/null 2>&1") || system("command -v openssl >/dev/null 2>&1")) {
		fprintf(stderr, "skip: needs python3 and openssl\n");
		return 77;
	}
	const char *script = "tests/http_peer.py";
	if (access(script, R_OK)) {
		fprintf(stderr, "cannot find %s (run from the repository root)\n", script);
		return 1;
	}
	char dir[] = "/tmp/herald-http1-XXXXXX";
	ALWAYS(mkdtemp(dir) != NULL);
	char ca_a[64], key_a[64], ca_b[64], key_b[64];
	snprintf(ca_a, sizeof(ca_a), "%s/a.pem", dir);
	snprintf(key_a, sizeof(key_a), "%s/a.key", dir);
	snprintf(ca_b, sizeof(ca_b), "%s/b.pem", dir);
	snprintf(key_b, sizeof(key_b), "%s/b.key", dir);
	if (make_cert(dir, "a", "localhost", "DNS:localhost,IP:127.0.0.1") ||
	    make_cert(dir, "b", "other.example", "DNS:other.example")) {
		fprintf(stderr, "openssl cannot make the test certificates\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	unsigned port, port_a, port_b;
	pid_t plain = peer_start(script, NULL, NULL, &port);
	pid_t tls_a = peer_start(script, ca_a, key_a, &port_a);
	pid_t tls_b = peer_start(script, ca_b, key_b, &port_b);
	if (plain < 0 || tls_a < 0 || tls_b < 0) {
		fprintf(stderr, "the test peer did not start\n");
		peer_stop(plain);
		peer_stop(tls_a);
		peer_stop(tls_b);
		return 1;
	}

	struct iou_core *cores[1] = { &core };
	core.tick_ms = TEST_TICK_MS;
	ALWAYS(iou_cores_wire(cores, 1) == 0);
	int rc = iou_core_setup(&core);
	if (rc) {
		fprintf(stderr, "skip: io_uring setup failed (%d)\n", rc);
		return 77;
	}
	net_http_register(&core);
	core.on_tick = test_on_tick;

	struct net_http_pool *bad = NULL;
	EXPECT(net_http_pool_init(&bad, &core, CFG("ftp://127.0.0.1:21", .max_conns = 1)) == -EINVAL, "ftp URL accepted");
	EXPECT(net_http_pool_init(&bad, &core, CFG("http://127.0.0.1:99999", .max_conns = 1)) == -EINVAL, "port 99999 accepted");
	EXPECT(net_http_pool_init(&bad, &core, CFG("http://:80", .max_conns = 1)) == -EINVAL, "empty host accepted");
	EXPECT(net_http_pool_init(&bad, &core, CFG("http://127.0.0.1", .max_conns = 0)) == -EINVAL, "max_conns 0 accepted");

	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/ignored/path", port);
	test_answer(url);
	test_head(url);
	test_keep_alive(url, NULL, 100, "keep-alive");
	test_connection_close(url);
	test_idle_close(url);
	test_retry(url);
	test_refused();
	test_connect_timeout();
	test_request_timeout(url);
	test_garbage(url);
	test_huge(url);
	test_queue_full(url);
	test_concurrent(url, NULL, "plain");
	test_big_request(url, NULL, "plain");
	test_tls(port_a, port_b, port, ca_a, ca_b);
	test_close_in_flight(url);
	test_close_from_callback(url);
	test_oom(url, "plain, client allocations", net_http_fail_alloc_after);
	test_oom(url, "plain, buffer allocations", fail_buf_after);
	char tls_url[64];
	snprintf(tls_url, sizeof(tls_url), "https://127.0.0.1:%u", port_a);
	test_oom(tls_url, "tls, client allocations", net_http_fail_alloc_after);
	test_oom(tls_url, "tls, buffer allocations", fail_buf_after);
	EXPECT(net_http_pools_live() == 0, "%u pools left", net_http_pools_live());

	iou_core_teardown(&core);
	iou_cores_unwire(cores, 1);
	peer_stop(plain);
	peer_stop(tls_a);
	peer_stop(tls_b);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
	if (failures)
		fprintf(stderr, "%d checks failed\n", failures);
	return failures ? 1 : 0;
}
