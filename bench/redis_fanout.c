/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis_fanout - the baseline of the end-to-end fan-out benchmark
 * (bench/run_e2e.sh): the "classic" architecture Herald replaces, where the
 * user -> push token map sits in Redis and an application worker walks the
 * users, fetches their tokens, builds the vendor's requests and POSTs them.
 *
 *   redis_fanout --gen-proto --users N [--prefix user-] [--token-bytes 64] > FILE
 *   redis_fanout --redis HOST:PORT --vendor-url http://HOST:PORT --users N
 *                [--prefix user-] [--chunk 1000] [--conns 4]
 *                [--redis-pid PID] [--sim-pid PID]
 *
 * --gen-proto writes, for `redis-cli --pipe`, one SET per user in RESP:
 *
 *   *3\r\n$3\r\nSET\r\n$<len>\r\n<prefix><i>\r\n$<T>\r\n<token>\r\n
 *
 * where the token is the lowercase hex of i zero-padded to T bytes, the
 * very users and tokens bench/gen_users gives Herald ("user-<i>", T = 64).
 *
 * The fan-out: one thread. For each chunk of --chunk (1000) consecutive
 * user ids it writes --chunk GET commands to Redis in one write (a
 * pipeline, RESP by hand: no client library), reads the --chunk bulk
 * replies, and builds one Huawei request (POST /v1/10086/messages:send)
 * for the chunk's tokens with Herald's own encoder (fan_fmt_request,
 * fanout/vendor_fmt.c: the same bytes Herald sends). Requests go over
 * --conns (4) HTTP/1.1 keep-alive connections to the simulator, plain
 * blocking sockets, round robin: before a connection takes its next
 * request it reads the answer to its previous one, so up to --conns calls
 * are in flight while the next chunk is fetched from Redis. Each answer is
 * read to its Content-Length and parsed with fan_parse_answer (as Herald
 * does), giving the count of addresses sent and invalid. A user without a
 * token (nil) counts as no address. Nothing is recorded per address: no
 * receipt, no outcome log, no retry (a failed call counts its addresses
 * failed).
 *
 * Output, one line on stdout:
 *   name=redis_fanout users=... recipients=... sent=... invalid=... failed=...
 *   no_address=... calls=... seconds=... recipients_per_sec=...
 *   first_call_ms=... driver_cpu_us_per_address=... driver_maxrss_mib=...
 *   [redis_cpu_us_per_address=... redis_rss_mib=...] [sim_cpu_us_per_address=...]
 * seconds runs from the first GET to the last answer. first_call_ms is the
 * time to the first POST written. Exit status 1 if any call failed or an
 * address was not sent, 2 on bad options.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fanout/vendor_fmt.h"

#define RF_CONNS_MAX        64u
#define RF_CHUNK_MAX        FAN_BATCH_TOKENS_MAX /* one vendor call per chunk */
#define RF_TOKEN_BYTES_MAX  512u
#define RF_KEY_BYTES_MAX    128u
#define RF_REQ_BYTES_MAX    (4u << 20)           /* one encoded Huawei request */
#define RF_ANSWER_BYTES_MAX (4u << 20)           /* one vendor answer */
#define RF_REDIS_IN_BYTES   (1u << 20)

_Static_assert(RF_CHUNK_MAX * (RF_TOKEN_BYTES_MAX + 8) < RF_REQ_BYTES_MAX, "a chunk's request fits");

struct rf_http {
	int fd;
	bool busy;            /* a request is out, its answer not read yet */
	const char **tokens;  /* the tokens of that request (for fan_parse_answer) */
	size_t n;
	char *in;
	size_t in_len;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what)
{
	fprintf(stderr, "redis_fanout: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static int tcp_connect(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(host, port, &hints, &ai))
		return -1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd >= 0) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	return fd;
}

/* "host:port" or "http://host:port[/...]" into host and port. */
static void split_hostport(const char *s, char *host, size_t hcap, char *port, size_t pcap)
{
	if (!strncmp(s, "http://", 7))
		s += 7;
	size_t l = strcspn(s, "/");
	const char *colon = memchr(s, ':', l);
	if (!colon || (size_t)(colon - s) >= hcap || l - (size_t)(colon - s) - 1 >= pcap || colon == s) {
		fprintf(stderr, "redis_fanout: '%s': want HOST:PORT\n", s);
		exit(2);
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memcpy(port, colon + 1, l - (size_t)(colon - s) - 1);
	port[l - (size_t)(colon - s) - 1] = 0;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fail("write");
		p += w;
		n -= (size_t)w;
	}
}

/* ---- Redis: RESP by hand ---------------------------------------------------- */

struct rf_redis {
	int fd;
	char *in;
	size_t len, off;
};

static void redis_fill(struct rf_redis *r)
{
	if (r->off == r->len) {
		r->off = r->len = 0;
	} else if (r->off > RF_REDIS_IN_BYTES / 2) {
		memmove(r->in, r->in + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	if (r->len == RF_REDIS_IN_BYTES)
		fail("redis reply too long");
	ssize_t n = read(r->fd, r->in + r->len, RF_REDIS_IN_BYTES - r->len);
	if (n <= 0)
		fail("redis read");
	r->len += (size_t)n;
}

/* One reply to GET: a bulk string copied to out (NUL-terminated, length
   returned) or nil (-1). */
static long redis_bulk(struct rf_redis *r, char *out, size_t cap)
{
	for (;;) {
		char *p = r->in + r->off, *end = r->in + r->len;
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl) {
			if (*p != '$') {
				fprintf(stderr, "redis_fanout: unexpected reply '%.*s'\n", (int)(nl - p), p);
				exit(1);
			}
			long n = strtol(p + 1, NULL, 10);
			if (n < 0) {
				r->off += (size_t)(nl + 1 - p);
				return -1;
			}
			if ((size_t)n >= cap)
				fail("token too long");
			if (end - (nl + 1) >= n + 2) {
				memcpy(out, nl + 1, (size_t)n);
				out[n] = 0;
				r->off += (size_t)(nl + 1 - p) + (size_t)n + 2;
				return n;
			}
		}
		redis_fill(r);
	}
}

/* ---- HTTP: one keep-alive connection, one request at a time ------------------ */

/* Read the answer to c's request; returns the number of addresses sent and
   adds the invalid and failed ones. */
static size_t http_answer(struct rf_http *c, const char *const *tokens, size_t n, enum fan_call call,
			  uint64_t *invalid, uint64_t *failed)
{
	size_t head = 0, clen = 0;
	for (;;) {
		if (!head) {
			char *sep = c->in_len >= 4 ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL;
			if (sep) {
				head = (size_t)(sep - c->in) + 4;
				char *cl = memmem(c->in, head, "Content-Length:", 15);
				if (!cl)
					cl = memmem(c->in, head, "content-length:", 15);
				if (!cl)
					fail("answer without Content-Length");
				clen = strtoul(cl + 15, NULL, 10);
				if (head + clen > RF_ANSWER_BYTES_MAX)
					fail("answer too long");
			}
		}
		if (head && c->in_len >= head + clen)
			break;
		ssize_t r = read(c->fd, c->in + c->in_len, RF_ANSWER_BYTES_MAX - c->in_len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail("vendor read");
		c->in_len += (size_t)r;
	}
	int status = 0;
	if (sscanf(c->in, "HTTP/1.%*d %d", &status) != 1)
		fail("vendor answer status line");
	static uint8_t out[FAN_BATCH_TOKENS_MAX];
	struct fan_answer ans;
	struct fan_req req = { .call = call, .tokens = tokens, .n = n };
	fan_parse_answer(&req, status, c->in + head, clen, out, &ans);
	/* keep bytes of a next answer (none: one request at a time) */
	memmove(c->in, c->in + head + clen, c->in_len - head - clen);
	c->in_len -= head + clen;
	*invalid += ans.count[FAN_OUT_INVALID_TOKEN];
	*failed += n - ans.count[FAN_OUT_SENT] - ans.count[FAN_OUT_INVALID_TOKEN];
	return ans.count[FAN_OUT_SENT];
}

/* ---- /proc ------------------------------------------------------------------- */

static double proc_cpu_s(long pid)
{
	char path[64], buf[1024];
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *q = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!q || sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double proc_rss_mib(long pid)
{
	char path[64], line[256];
	double v = -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			v = (double)strtoull(line + 6, NULL, 10) / 1024.0;
	fclose(f);
	return v;
}

/* ---- main ---------------------------------------------------------------------- */

static void gen_proto(unsigned long long users, const char *prefix, unsigned token_bytes)
{
	char key[RF_KEY_BYTES_MAX], tok[RF_TOKEN_BYTES_MAX + 1];
	static char out[1 << 16];
	setvbuf(stdout, out, _IOFBF, sizeof(out));
	for (unsigned long long i = 0; i < users; i++) {
		int kl = snprintf(key, sizeof(key), "%s%llu", prefix, i);
		snprintf(tok, sizeof(tok), "%0*llx", (int)token_bytes, i);
		printf("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%u\r\n%s\r\n", kl, key, token_bytes, tok);
	}
	if (fflush(stdout))
		fail("stdout");
}

static unsigned long long num(const char *opt, const char *v, unsigned long long lo, unsigned long long hi)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi || v[0] == '-') {
		fprintf(stderr, "redis_fanout: --%s: a number from %llu to %llu\n", opt, lo, hi);
		exit(2);
	}
	return x;
}

int main(int argc, char **argv)
{
	const char *redis = NULL, *vendor_url = NULL, *prefix = "user-";
	const char *title = "Herald bench", *body = "Hello from Herald";
	unsigned long long users = 1000000;
	unsigned token_bytes = 64, chunk = 1000, nconns = 4;
	long redis_pid = 0, sim_pid = 0;
	bool proto = false;
	enum { O_REDIS = 256, O_VURL, O_PREFIX, O_USERS, O_TOKEN, O_CHUNK, O_CONNS, O_RPID, O_SPID, O_PROTO,
	       O_TITLE, O_BODY };
	static const struct option opts[] = {
		{ "redis", required_argument, NULL, O_REDIS },
		{ "vendor-url", required_argument, NULL, O_VURL },
		{ "prefix", required_argument, NULL, O_PREFIX },
		{ "users", required_argument, NULL, O_USERS },
		{ "token-bytes", required_argument, NULL, O_TOKEN },
		{ "chunk", required_argument, NULL, O_CHUNK },
		{ "conns", required_argument, NULL, O_CONNS },
		{ "redis-pid", required_argument, NULL, O_RPID },
		{ "sim-pid", required_argument, NULL, O_SPID },
		{ "gen-proto", no_argument, NULL, O_PROTO },
		{ "title", required_argument, NULL, O_TITLE },
		{ "body", required_argument, NULL, O_BODY },
		{ 0, 0, 0, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_REDIS: redis = optarg; break;
		case O_VURL: vendor_url = optarg; break;
		case O_PREFIX: prefix = optarg; break;
		case O_USERS: users = num("users", optarg, 1, 1ull << 40); break;
		case O_TOKEN: token_bytes = (unsigned)num("token-bytes", optarg, 16, RF_TOKEN_BYTES_MAX); break;
		case O_CHUNK: chunk = (unsigned)num("chunk", optarg, 1, RF_CHUNK_MAX); break;
		case O_CONNS: nconns = (unsigned)num("conns", optarg, 1, RF_CONNS_MAX); break;
		case O_RPID: redis_pid = (long)num("redis-pid", optarg, 1, 1u << 30); break;
		case O_SPID: sim_pid = (long)num("sim-pid", optarg, 1, 1u << 30); break;
		case O_PROTO: proto = true; break;
		case O_TITLE: title = optarg; break;
		case O_BODY: body = optarg; break;
		default:
			fprintf(stderr, "usage: redis_fanout --gen-proto --users N [--prefix P] [--token-bytes T]\n"
					"       redis_fanout --redis HOST:PORT --vendor-url URL --users N [--prefix P]\n"
					"                    [--chunk 1000] [--conns 4] [--redis-pid PID] [--sim-pid PID]\n");
			return 2;
		}
	}
	if (proto) {
		gen_proto(users, prefix, token_bytes);
		return 0;
	}
	if (!redis || !vendor_url) {
		fprintf(stderr, "redis_fanout: --redis and --vendor-url are required\n");
		return 2;
	}

	char rhost[256], rport[16], vhost[256], vport[16], host_hdr[300];
	split_hostport(redis, rhost, sizeof(rhost), rport, sizeof(rport));
	split_hostport(vendor_url, vhost, sizeof(vhost), vport, sizeof(vport));
	snprintf(host_hdr, sizeof(host_hdr), "%s:%s", vhost, vport);

	struct rf_redis rd = { .fd = tcp_connect(rhost, rport), .in = malloc(RF_REDIS_IN_BYTES) };
	if (rd.fd < 0 || !rd.in)
		fail(redis);
	static struct rf_http http[RF_CONNS_MAX];
	for (unsigned k = 0; k < nconns; k++) {
		http[k].fd = tcp_connect(vhost, vport);
		http[k].in = malloc(RF_ANSWER_BYTES_MAX);
		http[k].tokens = calloc(chunk, sizeof(char *));
		if (http[k].fd < 0 || !http[k].in || !http[k].tokens)
			fail(vendor_url);
	}
	/* token storage: one slab per connection, reused once its answer is read */
	char **slab = calloc(nconns, sizeof(char *));
	char *req_buf = malloc(RF_REQ_BYTES_MAX), *cmd = malloc((size_t)chunk * (RF_KEY_BYTES_MAX + 32));
	if (!slab || !req_buf || !cmd)
		fail("malloc");
	for (unsigned k = 0; k < nconns; k++)
		if (!(slab[k] = malloc((size_t)chunk * (RF_TOKEN_BYTES_MAX + 1))))
			fail("malloc");

	struct fan_msg msg = { .title = title, .body = body };
	struct fan_cred cred = { .host = host_hdr, .app_id = "10086", .secret = "bench-access-token" };
	uint64_t sent = 0, invalid = 0, failed = 0, no_address = 0, calls = 0;
	double sim0 = proc_cpu_s(sim_pid), red0 = proc_cpu_s(redis_pid), first_call = -1;
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	double t0 = now_s();
	unsigned next_conn = 0;
	for (unsigned long long base = 0; base < users; base += chunk) {
		unsigned n = (unsigned)(users - base < chunk ? users - base : chunk);
		/* the connection that takes this chunk: free it first */
		struct rf_http *c = &http[next_conn];
		char *tok = slab[next_conn];
		next_conn = (next_conn + 1) % nconns;
		if (c->busy) {
			sent += http_answer(c, c->tokens, c->n, FAN_CALL_HUAWEI, &invalid, &failed);
			c->busy = false;
		}
		/* n GETs in one write */
		size_t cl = 0;
		for (unsigned i = 0; i < n; i++) {
			char key[RF_KEY_BYTES_MAX];
			int kl = snprintf(key, sizeof(key), "%s%llu", prefix, base + i);
			cl += (size_t)sprintf(cmd + cl, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, key);
		}
		write_all(rd.fd, cmd, cl);
		size_t m = 0;
		for (unsigned i = 0; i < n; i++) {
			char *t = tok + (size_t)i * (RF_TOKEN_BYTES_MAX + 1);
			if (redis_bulk(&rd, t, RF_TOKEN_BYTES_MAX + 1) < 0) {
				no_address++;
				continue;
			}
			c->tokens[m++] = t;
		}
		if (!m)
			continue;
		struct fan_req req = { .call = FAN_CALL_HUAWEI, .msg = &msg, .cred = &cred,
				       .tokens = c->tokens, .n = m };
		ssize_t len = fan_fmt_request(&req, req_buf, RF_REQ_BYTES_MAX);
		if (len < 0) {
			errno = (int)-len;
			fail("fan_fmt_request");
		}
		write_all(c->fd, req_buf, (size_t)len);
		if (first_call < 0)
			first_call = now_s() - t0;
		c->n = m;
		c->busy = true;
		calls++;
	}
	for (unsigned k = 0; k < nconns; k++)
		if (http[k].busy) {
			sent += http_answer(&http[k], http[k].tokens, http[k].n, FAN_CALL_HUAWEI, &invalid, &failed);
			http[k].busy = false;
		}
	double secs = now_s() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	double drv = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	uint64_t addrs = sent + invalid + failed;
	double per = addrs ? 1e6 / (double)addrs : 0;
	printf("name=redis_fanout users=%llu recipients=%llu sent=%llu invalid=%llu failed=%llu no_address=%llu "
	       "calls=%llu seconds=%.3f recipients_per_sec=%.0f first_call_ms=%.3f driver_cpu_us_per_address=%.3f "
	       "driver_maxrss_mib=%.1f",
	       users, (unsigned long long)(users - no_address), (unsigned long long)sent,
	       (unsigned long long)invalid, (unsigned long long)failed, (unsigned long long)no_address,
	       (unsigned long long)calls, secs, (double)(users - no_address) / secs, first_call * 1e3, drv * per,
	       ru1.ru_maxrss / 1024.0);
	if (redis_pid > 0)
		printf(" redis_cpu_us_per_address=%.3f redis_rss_mib=%.1f", (proc_cpu_s(redis_pid) - red0) * per,
		       proc_rss_mib(redis_pid));
	if (sim_pid > 0)
		printf(" sim_cpu_us_per_address=%.3f", (proc_cpu_s(sim_pid) - sim0) * per);
	printf("\n");
	return failed || sent + invalid != users - no_address ? 1 : 0;
}
