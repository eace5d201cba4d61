/* SPDX-License-Identifier: Apache-2.0 */
/*
 * herald-vendorsim.c - one process that plays every push vendor Herald talks
 * to (Huawei, Xiaomi, OPPO, vivo), the SMS gateway (Alibaba SendSms shape)
 * and the generic webhook over HTTP/1.1, and keeps a ledger of every address
 * it accepted. With --load it is instead a load generator for itself.
 *
 * It is an independent implementation of docs/VENDORS.md: it shares no code
 * with fanout/vendor_fmt.*, whose encoders and parsers it exists to check.
 * Options, endpoints, answer codes, the ledger and the receipt formats are
 * described in bench/README.md, section "herald-vendorsim".
 *
 * Threads
 *   main       parses options, opens one SO_REUSEPORT listener per worker,
 *              waits for SIGTERM / SIGINT, stops and joins everyone, writes
 *              --ledger-file, frees everything, exits 0.
 *   worker[i]  epoll over its listener and its connections. Requests are
 *              parsed with http_parser (Content-Length and chunked bodies,
 *              pipelining) and answered in order; an answer held back by
 *              --latency-ms waits in its connection's queue, its due time
 *              in the worker's min-heap, which sets the epoll timeout.
 *   callback   (only with --callback) drains one SPSC ring of receipt jobs
 *              per worker, waits out --callback-delay-ms, POSTs receipts in
 *              batches of up to 1000 over one keep-alive TCP connection per
 *              vendor.
 *
 * Shared state: the ledger (SV_LEDGER_SHARDS shards by token hash, a mutex
 * each, taken only with --threads > 1), one token bucket and quota per
 * vendor (a mutex each), the vivo taskId counter (atomic). Request counters
 * are per worker with a single writer; readers load them relaxed.
 *
 * Ledger shard layout (all of it mmap'd: growth never copies records)
 *   slots[]  u64 per slot: bits 63..32 the low 32 bits of the token hash,
 *            bits 31..0 a record reference, 1 + chunk << 20 + offset / 4
 *            (0: empty). Linear probing; the table doubles above 3/4 full.
 *   chunks   4 MiB each, records packed 4-byte aligned (a chunk's tail is
 *            left unused when the next record does not fit):
 *              off 0  u32  count    times accepted (saturates)
 *              off 4  u16  len      token bytes
 *              off 6  u8   vendor   enum sv_vendor
 *              off 7  u8   0
 *              off 8  len  token bytes, zero padding to a multiple of 4
 *   The shard is the top 6 bits of the hash (sv_hash, seeded by vendor). A
 *   40-byte token costs 48 chunk bytes and 8 / load-factor slot bytes.
 *
 * Request bodies: token-carrying JSON (Huawei, OPPO's messages, vivo
 * pushToList, webhook) goes through a validating scanner that does not
 * allocate per token (see "JSON scanner"); vivo saveListPayload, which
 * carries no addresses, through jansson; forms through req_form.
 *
 * Receipt job (worker -> callback thread, one per accepted request with a
 * callback configured): the due time, the vendor, four strings (message id,
 * request id, aux1, aux2: see sv_rjob) and per delivered token its offset,
 * length, index in the request and whether it is also clicked; one
 * allocation, freed by the callback thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/assert.h"

/* ---- limits ------------------------------------------------------------------------------ */
#define SV_THREADS_MAX              64u
#define SV_CONNS_PER_WORKER_MAX     65536u
#define SV_RECV_BYTES               (256u << 10)      /* one read() */
#define SV_URL_BYTES_MAX            4096u
#define SV_HEADER_NAME_BYTES_MAX    64u
#define SV_HEADER_VALUE_BYTES_MAX   4096u
#define SV_BODY_BYTES_MAX           (16u << 20)       /* larger: 413 and close */
#define SV_OUT_BYTES_PAUSE          (4u << 20)        /* stop reading above this */
#define SV_OUT_BYTES_KEEP           (1u << 20)        /* free a drained buffer above this */
#define SV_PENDING_PER_CONN_MAX     4096u             /* delayed answers; stop reading above */
#define SV_BATCH_TOKENS_MAX         1000u             /* per request, every vendor */
#define SV_TOKEN_BYTES_MAX          512u              /* longer: an invalid token */
#define SV_ID_BYTES_MAX             256u              /* request ids, biTag, params */
#define SV_JSON_DEPTH_MAX           64u
#define SV_FORM_FIELDS_MAX          128u
#define SV_FAULTS_MAX               32u               /* --error options */
#define SV_LATENCY_MS_MAX           60000.0
#define SV_LEDGER_SHARDS            64u               /* power of two */
#define SV_LEDGER_SLOTS_MIN         1024u             /* power of two */
#define SV_LEDGER_COUNT_MAX         UINT32_MAX
#define SV_RING_SLOTS               65536u            /* receipt jobs per worker, power of two */
#define SV_CB_JOBS_MAX              (1u << 20)        /* waiting in the callback thread */
#define SV_CB_RECEIPTS_PER_POST_MAX 1000u
#define SV_CB_TRIES_MAX             3u
#define SV_CB_IO_TIMEOUT_MS         5000u
#define SV_CB_IDLE_SLEEP_US         1000u
#define SV_CB_RETRY_STEP_US         20000u            /* 20 ms, then 40 ms between attempts */
#define SV_URL_PART_BYTES_MAX       1024u             /* host, port, path of a callback URL */
#define SV_EPOLL_EVENTS_MAX         256u
#define SV_LISTEN_BACKLOG           4096
#define SV_LOAD_CONNS_MAX           1024u
#define SV_LOAD_DEPTH_MAX           64u
#define SV_SMS_SECRET_BYTES_MAX     256u
#define SV_HUGE_PAGE_BYTES          (2u << 20)        /* tables this large ask for huge pages */
#define SV_RESPONSE_HEAD_BYTES_MAX  512u

_Static_assert((SV_LEDGER_SHARDS & (SV_LEDGER_SHARDS - 1)) == 0, "shard count is a power of two");
_Static_assert((SV_LEDGER_SLOTS_MIN & (SV_LEDGER_SLOTS_MIN - 1)) == 0, "slot count is a power of two");
_Static_assert((SV_RING_SLOTS & (SV_RING_SLOTS - 1)) == 0, "ring size is a power of two");
_Static_assert(SV_TOKEN_BYTES_MAX <= UINT16_MAX, "token length fits the record's u16");
_Static_assert(SV_BATCH_TOKENS_MAX <= UINT16_MAX, "token index fits a u16");
_Static_assert(SV_CB_RECEIPTS_PER_POST_MAX >= SV_BATCH_TOKENS_MAX, "one request's receipts fit a POST");
_Static_assert(SV_BODY_BYTES_MAX < (1u << 31), "body lengths fit an int");

/* ---- vendors ----------------------------------------------------------------------------- */
enum sv_vendor { SV_HUAWEI, SV_XIAOMI, SV_OPPO, SV_VIVO, SV_SMS, SV_WEBHOOK, SV_VENDORS };

static const char *const sv_vendor_names[SV_VENDORS] = {
	[SV_HUAWEI] = "huawei", [SV_XIAOMI] = "xiaomi", [SV_OPPO] = "oppo",
	[SV_VIVO] = "vivo", [SV_SMS] = "sms", [SV_WEBHOOK] = "webhook",
};
_Static_assert(sizeof(sv_vendor_names) / sizeof(sv_vendor_names[0]) == SV_VENDORS, "every vendor named");

static int sv_vendor_parse(const char *s, size_t n)
{
	for (int v = 0; v < SV_VENDORS; v++)
		if (strlen(sv_vendor_names[v]) == n && memcmp(sv_vendor_names[v], s, n) == 0)
			return v;
	return -1;
}

/* ---- small helpers ----------------------------------------------------------------------- */
static void sv_die(const char *what)
{
	fprintf(stderr, "herald-vendorsim: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *sv_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		sv_die("malloc");
	return p;
}

static void *sv_zalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	if (!p)
		sv_die("calloc");
	return p;
}

static void *sv_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		sv_die("realloc");
	return q;
}

static uint64_t sv_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t sv_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

/* A growable byte buffer; running out of memory ends the process. */
struct sv_buf {
	char *p;
	size_t len;
	size_t cap;
};

static void buf_reserve(struct sv_buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < more)
		cap *= 2;
	b->p = sv_realloc(b->p, cap);
	b->cap = cap;
}

static void buf_free(struct sv_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static void buf_put(struct sv_buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_puts(struct sv_buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void buf_putc(struct sv_buf *b, char c)
{
	buf_reserve(b, 1);
	b->p[b->len++] = c;
}

static void buf_put_u64(struct sv_buf *b, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf_put(b, tmp + i, sizeof(tmp) - (size_t)i);
}

__attribute__((format(printf, 2, 3))) static void buf_printf(struct sv_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	ALWAYS(n >= 0);
	buf_reserve(b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* bytes that stand for themselves inside a JSON string */
static uint8_t sv_json_plain[256];

static void sv_json_tables_init(void)
{
	for (unsigned c = 0; c < 256; c++)
		sv_json_plain[c] = c >= 0x20 && c != '"' && c != '\\';
}

/* s as a JSON string, quotes included (RFC 8259 escapes; other bytes as-is) */
static void buf_json_str(struct sv_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	buf_reserve(b, n + 2);
	b->p[b->len++] = '"';
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		while (run < n && sv_json_plain[(uint8_t)s[run]])
			run++;
		buf_put(b, s + i, run - i);
		if (run == n)
			break;
		uint8_t c = (uint8_t)s[run];
		char esc[6] = { '\\', 0 };
		size_t elen = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		buf_put(b, esc, elen);
		i = run + 1;
	}
	buf_putc(b, '"');
}

static void buf_json_cstr(struct sv_buf *b, const char *s)
{
	buf_json_str(b, s, strlen(s));
}

/* RFC 3986 percent-encoding: A-Z a-z 0-9 - _ . ~ kept, the rest %XX */
static bool sv_unreserved(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

static void buf_pct(struct sv_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	buf_reserve(b, n * 3);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if (sv_unreserved(c)) {
			b->p[b->len++] = (char)c;
		} else {
			b->p[b->len++] = '%';
			b->p[b->len++] = hex[c >> 4];
			b->p[b->len++] = hex[c & 15];
		}
	}
}

static int sv_hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Form-decode s[0..n) into dst ('+' is a space, %XX a byte). dst has room
 * for n bytes. Returns the decoded length, or -EINVAL for a bad %XX.
 */
static ssize_t sv_form_decode(const char *s, size_t n, char *dst)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+') {
			dst[o++] = ' ';
		} else if (c == '%') {
			if (n - i < 3)
				return -EINVAL;
			int hi = sv_hexval((uint8_t)s[i + 1]), lo = sv_hexval((uint8_t)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			dst[o++] = c;
		}
	}
	return (ssize_t)o;
}

/* ---- random numbers and hashes ----------------------------------------------------------- */
struct sv_rng {
	uint64_t s;
};

static uint64_t sv_splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t sv_rng_u64(struct sv_rng *r)
{
	return sv_splitmix(&r->s);
}

/* uniform in [0, 1) */
static double sv_rng_unit(struct sv_rng *r)
{
	return (double)(sv_rng_u64(r) >> 11) * 0x1.0p-53;
}

static uint64_t sv_fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

/* FNV-1a 64 over the bytes: the --invalid-per-10000 rule */
static uint64_t sv_fnv1a64(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* the ledger's hash: 8 bytes a step, not for adversarial input */
static uint64_t sv_hash(const char *p, size_t n, uint64_t seed)
{
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ull);
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w *= 0x87c37b91114253d5ull;
		w = (w << 31) | (w >> 33);
		h ^= w * 0x4cf5ad432745937full;
		h = ((h << 27) | (h >> 37)) * 5 + 0x52dce729;
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;
		memcpy(&w, p, n);
		h ^= sv_fmix64(w ^ 0x2545f4914f6cdd1dull);
	}
	return sv_fmix64(h);
}

/* ---- JSON scanner ---------------------------------------------------------------------------
 *
 * A validating RFC 8259 walker for the token-carrying bodies, which jansson
 * would turn into one allocation per token. It checks the whole grammar
 * (structure, string escapes, numbers, literals, nesting up to
 * SV_JSON_DEPTH_MAX, nothing after the value) and hands the fields a
 * vendor wants to a callback; strings come back as raw slices and are
 * unescaped (\uXXXX with surrogate pairs to UTF-8) only when they hold a
 * backslash. Bytes >= 0x80 are passed through without UTF-8 validation.
 */
struct js {
	const char *p;
	const char *end;
	unsigned depth;
};

struct js_str {
	const char *p; /* between the quotes, still escaped */
	size_t len;
	bool esc;      /* holds a backslash */
};

typedef int (*js_member_fn)(struct js *j, const struct js_str *key, void *ctx);
typedef int (*js_elem_fn)(struct js *j, size_t index, void *ctx);

static void js_ws(struct js *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static int js_peek(struct js *j)
{
	js_ws(j);
	return j->p < j->end ? (uint8_t)*j->p : -1;
}

/* at '"'; leaves p after the closing quote */
static int js_string(struct js *j, struct js_str *s)
{
	const char *p = j->p + 1, *end = j->end;
	bool esc = false;
	s->p = p;
	for (;;) {
		while (p + 8 <= end) { /* eight plain bytes at a time */
			if (!sv_json_plain[(uint8_t)p[0]] || !sv_json_plain[(uint8_t)p[1]] ||
			    !sv_json_plain[(uint8_t)p[2]] || !sv_json_plain[(uint8_t)p[3]] ||
			    !sv_json_plain[(uint8_t)p[4]] || !sv_json_plain[(uint8_t)p[5]] ||
			    !sv_json_plain[(uint8_t)p[6]] || !sv_json_plain[(uint8_t)p[7]])
				break;
			p += 8;
		}
		while (p < end && sv_json_plain[(uint8_t)*p])
			p++;
		if (p >= end)
			return -EINVAL;
		if (*p == '"')
			break;
		if (*p != '\\')
			return -EINVAL; /* a control character */
		esc = true;
		if (++p >= end)
			return -EINVAL;
		switch (*p) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			p++;
			break;
		case 'u':
			if (end - p < 5)
				return -EINVAL;
			for (int k = 1; k <= 4; k++)
				if (sv_hexval((uint8_t)p[k]) < 0)
					return -EINVAL;
			p += 5;
			break;
		default:
			return -EINVAL;
		}
	}
	s->len = (size_t)(p - s->p);
	s->esc = esc;
	j->p = p + 1;
	return 0;
}

static unsigned js_hex4(const char *p)
{
	unsigned v = 0;
	for (int k = 0; k < 4; k++)
		v = v << 4 | (unsigned)sv_hexval((uint8_t)p[k]);
	return v;
}

/*
 * Unescape a string js_string accepted into dst (room for s->len bytes: no
 * escape grows). Returns the length, or -EINVAL for a lone surrogate.
 */
static ssize_t js_unescape(const struct js_str *s, char *dst)
{
	if (!s->esc) {
		memcpy(dst, s->p, s->len);
		return (ssize_t)s->len;
	}
	const char *p = s->p, *end = s->p + s->len;
	size_t o = 0;
	while (p < end) {
		if (*p != '\\') {
			dst[o++] = *p++;
			continue;
		}
		p++;
		char c = *p++;
		switch (c) {
		case 'b': dst[o++] = '\b'; break;
		case 'f': dst[o++] = '\f'; break;
		case 'n': dst[o++] = '\n'; break;
		case 'r': dst[o++] = '\r'; break;
		case 't': dst[o++] = '\t'; break;
		case 'u': {
			unsigned cp = js_hex4(p);
			p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -EINVAL;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
					return -EINVAL;
				unsigned lo = js_hex4(p + 2);
				if (lo < 0xdc00 || lo > 0xdfff)
					return -EINVAL;
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp < 0x80) {
				dst[o++] = (char)cp;
			} else if (cp < 0x800) {
				dst[o++] = (char)(0xc0 | cp >> 6);
				dst[o++] = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				dst[o++] = (char)(0xe0 | cp >> 12);
				dst[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				dst[o++] = (char)(0x80 | (cp & 0x3f));
			} else {
				dst[o++] = (char)(0xf0 | cp >> 18);
				dst[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
				dst[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				dst[o++] = (char)(0x80 | (cp & 0x3f));
			}
			break;
		}
		default: /* " \ / */
			dst[o++] = c;
		}
	}
	return (ssize_t)o;
}

static bool js_key_is(const struct js_str *k, const char *lit)
{
	size_t n = strlen(lit);
	if (!k->esc)
		return k->len == n && memcmp(k->p, lit, n) == 0;
	char tmp[64];
	if (k->len > sizeof(tmp))
		return false;
	ssize_t m = js_unescape(k, tmp);
	return m == (ssize_t)n && memcmp(tmp, lit, n) == 0;
}

static int js_skip(struct js *j);

static int js_number(struct js *j)
{
	const char *p = j->p, *end = j->end;
	if (p < end && *p == '-')
		p++;
	if (p >= end)
		return -EINVAL;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return -EINVAL;
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return -EINVAL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return -EINVAL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	j->p = p;
	return 0;
}

/* an integer value into *v (no fraction, no exponent, fits int64) */
static int js_int(struct js *j, int64_t *v)
{
	js_ws(j);
	const char *start = j->p;
	if (js_number(j))
		return -EINVAL;
	char tmp[24];
	size_t n = (size_t)(j->p - start);
	if (n >= sizeof(tmp) || memchr(start, '.', n) || memchr(start, 'e', n) || memchr(start, 'E', n))
		return -EINVAL;
	memcpy(tmp, start, n);
	tmp[n] = 0;
	errno = 0;
	long long x = strtoll(tmp, NULL, 10);
	if (errno)
		return -EINVAL;
	*v = x;
	return 0;
}

static int js_literal(struct js *j, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return -EINVAL;
	j->p += n;
	return 0;
}

/* at '{': each member's value is consumed by fn (or skipped when fn is NULL) */
static int js_object(struct js *j, js_member_fn fn, void *ctx)
{
	if (++j->depth > SV_JSON_DEPTH_MAX)
		return -EINVAL;
	j->p++;
	if (js_peek(j) == '}') {
		j->p++;
		j->depth--;
		return 0;
	}
	for (;;) {
		struct js_str key;
		if (js_peek(j) != '"' || js_string(j, &key))
			return -EINVAL;
		if (js_peek(j) != ':')
			return -EINVAL;
		j->p++;
		if (js_peek(j) < 0)
			return -EINVAL;
		int rc = fn ? fn(j, &key, ctx) : js_skip(j);
		if (rc)
			return rc;
		int c = js_peek(j);
		j->p++;
		if (c == ',')
			continue;
		if (c == '}')
			break;
		return -EINVAL;
	}
	j->depth--;
	return 0;
}

/* at '[': each element is consumed by fn (or skipped when fn is NULL) */
static int js_array(struct js *j, js_elem_fn fn, void *ctx)
{
	if (++j->depth > SV_JSON_DEPTH_MAX)
		return -EINVAL;
	j->p++;
	if (js_peek(j) == ']') {
		j->p++;
		j->depth--;
		return 0;
	}
	for (size_t i = 0;; i++) {
		if (js_peek(j) < 0)
			return -EINVAL;
		int rc = fn ? fn(j, i, ctx) : js_skip(j);
		if (rc)
			return rc;
		int c = js_peek(j);
		j->p++;
		if (c == ',')
			continue;
		if (c == ']')
			break;
		return -EINVAL;
	}
	j->depth--;
	return 0;
}

static int js_skip(struct js *j)
{
	struct js_str s;
	switch (js_peek(j)) {
	case '{': return js_object(j, NULL, NULL);
	case '[': return js_array(j, NULL, NULL);
	case '"': return js_string(j, &s);
	case 't': return js_literal(j, "true");
	case 'f': return js_literal(j, "false");
	case 'n': return js_literal(j, "null");
	default: return js_number(j);
	}
}

/* the whole of [p, p + n) is one object whose members go to fn */
static int js_document(const char *p, size_t n, js_member_fn fn, void *ctx)
{
	struct js j = { .p = p, .end = p + n, .depth = 0 };
	if (js_peek(&j) != '{')
		return -EINVAL;
	int rc = js_object(&j, fn, ctx);
	if (rc)
		return rc;
	return js_peek(&j) < 0 ? 0 : -EINVAL;
}

/* ---- configuration ----------------------------------------------------------------------- */
struct sv_fault {
	bool http;          /* answer HTTP `status` with a text body */
	int status;         /* HTTP status of the answer */
	char code[48];      /* vendor body code (when !http) */
	const char *msg;    /* its text */
	double rate;        /* fraction of requests */
};

struct sv_cfg {
	struct sockaddr_in listen;
	unsigned threads;
	const char *invalid_prefix;
	size_t invalid_prefix_len;
	unsigned invalid_per_10000;
	double latency_p50_ms, latency_p99_ms;
	double latency_mu, latency_sigma; /* of ln(delay in ms) */
	struct sv_fault faults[SV_VENDORS][SV_FAULTS_MAX];
	unsigned faults_n[SV_VENDORS];
	double garbage;
	uint64_t seed;
	bool rate_on[SV_VENDORS];
	double rate_per_s[SV_VENDORS], burst[SV_VENDORS];
	bool quota_on[SV_VENDORS];
	uint64_t quota[SV_VENDORS];
	const char *auth[SV_VENDORS];
	const char *sms_secret;
	const char *ledger_file;
	const char *callback_url[SV_VENDORS];
	bool callbacks_on;
	double delivered, clicked;
	unsigned callback_delay_ms;
};

static struct sv_cfg g_cfg;
static uint64_t g_start_ms;
static atomic_bool g_stop;

/* ---- vendor answers ---------------------------------------------------------------------- */
struct sv_answer {
	int http;
	const char *code;
	const char *msg;
};

struct sv_req;
typedef void (*sv_error_body_fn)(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg);

struct sv_vendor_def {
	sv_error_body_fn error_body;
	const struct sv_answer *auth, *throttle, *quota;
	const struct sv_answer *codes; /* known codes, for --error */
	size_t codes_n;
	int code_http_default;         /* HTTP status of a code not in codes[] */
	bool numeric_codes;            /* the body carries the code as a JSON number */
	const char *const *success;    /* codes that mean success: --error refuses them */
};

/* Huawei */
static const struct sv_answer hw_codes[] = {
	{ 400, "80100001", "Some request parameters are incorrect" },
	{ 400, "80100003", "Incorrect message structure" },
	{ 400, "80100004", "The message expiry time is earlier than the current time" },
	{ 400, "80100016", "The message contains sensitive information" },
	{ 401, "80200001", "Oauth authentication error" },
	{ 401, "80200003", "Oauth Token expired" },
	{ 403, "80300002", "The current app does not have the permission to send messages to the tokens" },
	{ 400, "80300007", "All the tokens are invalid" },
	{ 400, "80300008", "The message body size exceeds the default value" },
	{ 400, "80300010", "The number of tokens in the message body exceeds the default value" },
	{ 500, "80600003", "Request OAuth service failed" },
	{ 500, "81000001", "System inner error" },
};
static const struct sv_answer hw_bad_body = { 400, "80100003", "Incorrect message structure" };
static const struct sv_answer hw_bad_field = { 400, "80100001", "Some request parameters are incorrect" };
static const struct sv_answer hw_bad_count = { 400, "80300010", "The number of tokens in the message body exceeds the default value" };
static const struct sv_answer hw_auth = { 401, "80200001", "Oauth authentication error" };
static const struct sv_answer hw_throttle = { 503, "81000001", "Flow control, try again later" };
static const char *const hw_success[] = { "80000000", "80100000", NULL };

/* Xiaomi: HTTP 200 with result "error" */
static const struct sv_answer mi_codes[] = {
	{ 200, "10001", "system error" },
	{ 200, "10002", "service unavailable" },
	{ 200, "10003", "remote service error" },
	{ 200, "10004", "IP request rate over limit" },
	{ 200, "10009", "system busy" },
	{ 200, "10016", "missing required parameter" },
	{ 200, "10017", "invalid parameter value" },
	{ 200, "10022", "user request rate over limit" },
	{ 200, "10023", "user request rate for the resource over limit" },
	{ 200, "10024", "resource request rate over limit" },
	{ 200, "20301", "invalid regid" },
	{ 200, "21301", "authentication failed" },
	{ 200, "22006", "invalid app id" },
	{ 200, "200001", "daily push count of the app over limit" },
	{ 200, "200002", "push rate of the app over limit" },
};
static const struct sv_answer mi_bad_body = { 200, "10017", "invalid parameter value" };
static const struct sv_answer mi_bad_field = { 200, "10016", "missing required parameter" };
static const struct sv_answer mi_bad_count = { 200, "10017", "registration_id holds 1 to 1000 regids" };
static const struct sv_answer mi_bad_regid = { 200, "20301", "invalid regid" };
static const struct sv_answer mi_auth = { 200, "21301", "authentication failed" };
static const struct sv_answer mi_throttle = { 200, "10022", "user request rate over limit" };
static const struct sv_answer mi_quota = { 200, "200001", "daily push count of the app over limit" };
static const char *const mi_success[] = { "0", NULL };

/* OPPO: HTTP 200, {"code","message"} */
static const struct sv_answer op_codes[] = {
	{ 200, "-1", "Service Currently Busy" },
	{ 200, "-2", "Service Currently Unavailable" },
	{ 200, "11", "Invalid AuthToken" },
	{ 200, "12", "Http Action Not Allowed" },
	{ 200, "13", "App Call Limited" },
	{ 200, "14", "Invalid App Key" },
	{ 200, "33", "The number of messages exceeds the daily limit" },
	{ 200, "41", "Invalid Parameter" },
};
static const struct sv_answer op_bad_body = { 200, "41", "Invalid Parameter" };
static const struct sv_answer op_bad_count = { 200, "41", "messages holds 1 to 1000 elements" };
static const struct sv_answer op_auth = { 200, "11", "Invalid AuthToken" };
static const struct sv_answer op_throttle = { 200, "13", "App Call Limited" };
static const struct sv_answer op_quota = { 200, "33", "The number of messages exceeds the daily limit" };
static const char *const op_success[] = { "0", NULL };

/* vivo: HTTP 200, {"result","desc"} */
static const struct sv_answer vv_codes[] = {
	{ 200, "10000", "authToken invalid" },
	{ 200, "10050", "parameter invalid" },
	{ 200, "10055", "taskId invalid" },
	{ 200, "10070", "total send count over limit" },
	{ 200, "10072", "call frequency over limit" },
	{ 200, "10094", "appId does not match the authToken" },
	{ 200, "10252", "batch message bodies over limit" },
	{ 200, "10254", "broadcast count over limit" },
};
static const struct sv_answer vv_bad_body = { 200, "10050", "parameter invalid" };
static const struct sv_answer vv_bad_count = { 200, "10050", "regIds holds 2 to 1000 regids" };
static const struct sv_answer vv_bad_task = { 200, "10055", "taskId invalid" };
static const struct sv_answer vv_auth = { 200, "10000", "authToken invalid" };
static const struct sv_answer vv_throttle = { 200, "10072", "call frequency over limit" };
static const struct sv_answer vv_quota = { 200, "10070", "total send count over limit" };
static const char *const vv_success[] = { "0", NULL };

/* SMS (Alibaba SendSms): {"RequestId","Code","Message"} */
static const struct sv_answer sms_codes[] = {
	{ 200, "isv.MOBILE_NUMBER_ILLEGAL", "invalid mobile number" },
	{ 200, "isv.BUSINESS_LIMIT_CONTROL", "flow control of the number" },
	{ 400, "Throttling.User", "Request was denied due to user flow control." },
	{ 400, "Throttling", "Request was denied due to request throttling." },
	{ 200, "isp.SYSTEM_ERROR", "system error" },
	{ 200, "isv.DAY_LIMIT_CONTROL", "daily send limit reached" },
	{ 200, "isv.MONTH_LIMIT_CONTROL", "monthly send limit reached" },
	{ 200, "isv.AMOUNT_NOT_ENOUGH", "account balance not enough" },
	{ 200, "isv.OUT_OF_SERVICE", "service stopped" },
	{ 200, "isp.RAM_PERMISSION_DENY", "RAM permission denied" },
	{ 200, "isv.ACCOUNT_NOT_EXISTS", "account does not exist" },
	{ 200, "isv.ACCOUNT_ABNORMAL", "account abnormal" },
	{ 200, "isv.PRODUCT_UN_SUBSCRIPT", "product not subscribed" },
	{ 200, "isv.PRODUCT_UNSUBSCRIBE", "product not subscribed" },
	{ 200, "isv.DENY_IP_RANGE", "source IP denied" },
	{ 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found." },
	{ 400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation." },
	{ 404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method." },
	{ 200, "isv.SMS_TEMPLATE_ILLEGAL", "template illegal" },
	{ 200, "isv.SMS_SIGNATURE_ILLEGAL", "signature name illegal" },
	{ 200, "isv.INVALID_PARAMETERS", "parameter invalid" },
	{ 200, "isv.MOBILE_COUNT_OVER_LIMIT", "more than 1000 numbers" },
	{ 200, "isv.TEMPLATE_MISSING_PARAMETERS", "template parameter missing" },
	{ 200, "isv.INVALID_JSON_PARAM", "TemplateParam is not valid JSON" },
	{ 200, "isv.SMS_CONTENT_ILLEGAL", "content illegal" },
};
static const struct sv_answer sms_bad_body = { 200, "isv.INVALID_PARAMETERS", "parameter invalid" };
static const struct sv_answer sms_bad_count = { 200, "isv.MOBILE_COUNT_OVER_LIMIT", "PhoneNumbers holds 1 to 1000 numbers" };
static const struct sv_answer sms_bad_action = { 404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method." };
static const struct sv_answer sms_bad_number = { 200, "isv.MOBILE_NUMBER_ILLEGAL", "invalid mobile number" };
static const struct sv_answer sms_bad_signature = { 400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation." };
static const struct sv_answer sms_auth = { 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found." };
static const struct sv_answer sms_throttle = { 400, "Throttling.User", "Request was denied due to user flow control." };
static const struct sv_answer sms_quota = { 200, "isv.DAY_LIMIT_CONTROL", "daily send limit reached" };
static const char *const sms_success[] = { "OK", NULL };

/* webhook: HTTP status is the answer; {"error","message"} */
static const struct sv_answer wh_bad_body = { 400, "bad_request", "body is not Herald webhook JSON version 1" };
static const struct sv_answer wh_bad_count = { 422, "bad_count", "to holds 1 to 1000 addresses" };
static const struct sv_answer wh_auth = { 401, "unauthorized", "bad or missing bearer secret" };
static const struct sv_answer wh_throttle = { 429, "throttled", "rate limit, retry later" };
static const struct sv_answer wh_quota = { 402, "quota", "quota exhausted" };
static const char *const wh_success[] = { NULL };

static void hw_error_body(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg);
static void mi_error_body(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg);
static void op_error_body(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg);
static void vv_error_body(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg);
static void sms_error_body(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg);
static void wh_error_body(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg);

#define SV_N(a) (sizeof(a) / sizeof((a)[0]))

static const struct sv_vendor_def sv_vendor_defs[SV_VENDORS] = {
	[SV_HUAWEI] = { hw_error_body, &hw_auth, &hw_throttle, &hw_throttle, hw_codes, SV_N(hw_codes), 400, false, hw_success },
	[SV_XIAOMI] = { mi_error_body, &mi_auth, &mi_throttle, &mi_quota, mi_codes, SV_N(mi_codes), 200, true, mi_success },
	[SV_OPPO] = { op_error_body, &op_auth, &op_throttle, &op_quota, op_codes, SV_N(op_codes), 200, true, op_success },
	[SV_VIVO] = { vv_error_body, &vv_auth, &vv_throttle, &vv_quota, vv_codes, SV_N(vv_codes), 200, true, vv_success },
	[SV_SMS] = { sms_error_body, &sms_auth, &sms_throttle, &sms_quota, sms_codes, SV_N(sms_codes), 200, false, sms_success },
	[SV_WEBHOOK] = { wh_error_body, &wh_auth, &wh_throttle, &wh_quota, NULL, 0, 400, false, wh_success },
};
_Static_assert(SV_N(sv_vendor_defs) == SV_VENDORS, "every vendor has answers");

static const char *sv_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

/* an address of a request: in the body, or in decode space */
struct sv_tok {
	const char *p;
	uint32_t len;
};

/* ---- ledger ------------------------------------------------------------------------------ */
struct sv_lrec {
	uint32_t count;
	uint16_t len;
	uint8_t vendor;
	uint8_t zero;
	char token[];
};
_Static_assert(sizeof(struct sv_lrec) == 8, "ledger record header is 8 bytes");
_Static_assert(offsetof(struct sv_lrec, len) == 4 && offsetof(struct sv_lrec, vendor) == 6, "record layout");

struct sv_shard {
	pthread_mutex_t mu;
	uint64_t *slots;                /* mmap'd; written under mu, read relaxed by prefetches */
	uint32_t mask;                  /* slots - 1 */
	uint32_t used;
	char **chunks;                  /* SV_LEDGER_CHUNK_BYTES each, mmap'd */
	uint32_t *chunk_fill;           /* bytes of records in each chunk */
	uint32_t chunks_n, chunks_cap;
	uint64_t accepted[SV_VENDORS];  /* addresses, duplicates included */
	uint64_t distinct[SV_VENDORS];  /* records */
} __attribute__((aligned(64)));

/*
 * A record reference (slot bits 31..0) is 1 + chunk index << 20 + offset / 4:
 * 4 MiB chunks, at most 4095 of them (16 GiB) per shard.
 */
#define SV_LEDGER_CHUNK_BYTES (4u << 20)
#define SV_LEDGER_CHUNKS_MAX  4095u
_Static_assert(SV_LEDGER_CHUNK_BYTES / 4 == 1u << 20, "offset units fill 20 bits");
_Static_assert(((uint64_t)SV_LEDGER_CHUNKS_MAX << 20) + 1 <= 0xffffffffull, "references fit 32 bits");

static struct sv_shard g_ledger[SV_LEDGER_SHARDS];
static bool g_ledger_locking;      /* more than one worker */
static const uint64_t sv_ledger_seed = 0x6c65646765723031ull;

static void ledger_lock(struct sv_shard *s)
{
	if (g_ledger_locking)
		pthread_mutex_lock(&s->mu);
}

static void ledger_unlock(struct sv_shard *s)
{
	if (g_ledger_locking)
		pthread_mutex_unlock(&s->mu);
}

static struct sv_shard *ledger_shard(uint64_t h)
{
	return &g_ledger[(h >> 58) & (SV_LEDGER_SHARDS - 1)];
}

/* zeroed memory straight from the kernel: no copy on growth, returned at once */
static void *sv_map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		sv_die("mmap");
	if (bytes >= SV_HUGE_PAGE_BYTES)
		madvise(p, bytes, MADV_HUGEPAGE); /* fewer TLB misses on random probes; advice only */
	return p;
}

static struct sv_lrec *ledger_rec(const struct sv_shard *s, uint64_t slot)
{
	uint32_t ref = (uint32_t)slot - 1;
	return (struct sv_lrec *)(s->chunks[ref >> 20] + ((size_t)(ref & 0xfffffu) << 2));
}

static void ledger_shard_clear(struct sv_shard *s)
{
	if (s->slots)
		munmap(s->slots, ((size_t)s->mask + 1) * sizeof(uint64_t));
	for (uint32_t i = 0; i < s->chunks_n; i++)
		munmap(s->chunks[i], SV_LEDGER_CHUNK_BYTES);
	free(s->chunks);
	free(s->chunk_fill);
	__atomic_store_n(&s->slots, NULL, __ATOMIC_RELAXED);
	s->chunks = NULL;
	s->chunk_fill = NULL;
	s->chunks_n = s->chunks_cap = 0;
	s->mask = 0;
	s->used = 0;
	memset(s->accepted, 0, sizeof(s->accepted));
	memset(s->distinct, 0, sizeof(s->distinct));
}

static void ledger_grow(struct sv_shard *s)
{
	uint64_t slots_n = s->slots ? ((uint64_t)s->mask + 1) * 2 : SV_LEDGER_SLOTS_MIN;
	ALWAYS(slots_n <= (1ull << 32));
	uint64_t *slots = sv_map(slots_n * sizeof(uint64_t));
	uint32_t mask = (uint32_t)(slots_n - 1);
	if (s->slots) {
		for (uint64_t i = 0; i <= s->mask; i++) {
			uint64_t v = s->slots[i];
			if (!v)
				continue;
			uint32_t k = (uint32_t)(v >> 32) & mask;
			while (slots[k])
				k = (k + 1) & mask;
			slots[k] = v;
		}
		munmap(s->slots, ((size_t)s->mask + 1) * sizeof(uint64_t));
	}
	__atomic_store_n(&s->slots, slots, __ATOMIC_RELAXED);
	__atomic_store_n(&s->mask, mask, __ATOMIC_RELAXED);
}

/* room for need bytes of records; returns the reference of the first unit */
static uint32_t ledger_room(struct sv_shard *s, size_t need)
{
	ALWAYS(need <= SV_LEDGER_CHUNK_BYTES);
	if (!s->chunks_n || SV_LEDGER_CHUNK_BYTES - s->chunk_fill[s->chunks_n - 1] < need) {
		ALWAYS(s->chunks_n < SV_LEDGER_CHUNKS_MAX); /* 16 GiB of tokens in one shard */
		if (s->chunks_n == s->chunks_cap) {
			s->chunks_cap = s->chunks_cap ? s->chunks_cap * 2 : 16;
			s->chunks = sv_realloc(s->chunks, s->chunks_cap * sizeof(*s->chunks));
			s->chunk_fill = sv_realloc(s->chunk_fill, s->chunks_cap * sizeof(*s->chunk_fill));
		}
		s->chunks[s->chunks_n] = sv_map(SV_LEDGER_CHUNK_BYTES);
		s->chunk_fill[s->chunks_n] = 0;
		s->chunks_n++;
	}
	uint32_t c = s->chunks_n - 1;
	return (c << 20) + s->chunk_fill[c] / 4 + 1;
}

/* Count one acceptance of (vendor, token); h is sv_hash of the token. */
static void ledger_add(int vendor, const char *tok, size_t len, uint64_t h)
{
	struct sv_shard *s = ledger_shard(h);
	uint32_t h32 = (uint32_t)h;
	ALWAYS(len <= SV_TOKEN_BYTES_MAX);
	ledger_lock(s);
	s->accepted[vendor]++;
	if (!s->slots || (uint64_t)(s->used + 1) * 4 > ((uint64_t)s->mask + 1) * 3)
		ledger_grow(s);
	uint32_t k = h32 & s->mask;
	for (;;) {
		uint64_t v = s->slots[k];
		if (!v)
			break;
		if ((uint32_t)(v >> 32) == h32) {
			struct sv_lrec *r = ledger_rec(s, v);
			if (r->vendor == vendor && r->len == len && memcmp(r->token, tok, len) == 0) {
				if (r->count < SV_LEDGER_COUNT_MAX)
					r->count++;
				ledger_unlock(s);
				return;
			}
		}
		k = (k + 1) & s->mask;
	}
	size_t need = (sizeof(struct sv_lrec) + len + 3) & ~(size_t)3;
	uint32_t ref = ledger_room(s, need);
	struct sv_lrec *r = ledger_rec(s, ref);
	r->count = 1;
	r->len = (uint16_t)len;
	r->vendor = (uint8_t)vendor;
	r->zero = 0;
	memcpy(r->token, tok, len); /* the padding is still zero from mmap */
	s->chunk_fill[s->chunks_n - 1] += (uint32_t)need;
	s->slots[k] = (uint64_t)h32 << 32 | ref;
	s->used++;
	s->distinct[vendor]++;
	ledger_unlock(s);
}

/* touch the slot a later ledger_add will probe (racy read: only a hint) */
static void ledger_prefetch(uint64_t h)
{
	struct sv_shard *s = ledger_shard(h);
	uintptr_t slots = (uintptr_t)__atomic_load_n(&s->slots, __ATOMIC_RELAXED);
	uint32_t mask = __atomic_load_n(&s->mask, __ATOMIC_RELAXED);
	if (slots)
		__builtin_prefetch((const void *)(slots + (uintptr_t)((uint32_t)h & mask) * sizeof(uint64_t)), 1);
}

/* ledger_add for every token of the request that is not invalid, SV_PREFETCH_DISTANCE ahead */
#define SV_PREFETCH_DISTANCE 8u
static void ledger_add_batch(int vendor, const struct sv_tok *toks, const uint8_t *invalid, const uint64_t *hash,
			     size_t n)
{
	for (size_t i = 0; i < n && i < SV_PREFETCH_DISTANCE; i++)
		if (!invalid[i])
			ledger_prefetch(hash[i]);
	for (size_t i = 0; i < n; i++) {
		size_t ahead = i + SV_PREFETCH_DISTANCE;
		if (ahead < n && !invalid[ahead])
			ledger_prefetch(hash[ahead]);
		if (!invalid[i])
			ledger_add(vendor, toks[i].p, toks[i].len, hash[i]);
	}
}

static void ledger_lock_all(void)
{
	for (unsigned i = 0; i < SV_LEDGER_SHARDS; i++)
		ledger_lock(&g_ledger[i]);
}

static void ledger_unlock_all(void)
{
	for (unsigned i = SV_LEDGER_SHARDS; i-- > 0;)
		ledger_unlock(&g_ledger[i]);
}

/* vendor order of the dump: by name */
static int sv_vendor_rank[SV_VENDORS];

static void sv_vendor_rank_init(void)
{
	for (int v = 0; v < SV_VENDORS; v++) {
		int rank = 0;
		for (int u = 0; u < SV_VENDORS; u++)
			rank += strcmp(sv_vendor_names[u], sv_vendor_names[v]) < 0;
		sv_vendor_rank[v] = rank;
	}
}

static int ledger_cmp(const void *a, const void *b)
{
	const struct sv_lrec *x = *(const struct sv_lrec *const *)a;
	const struct sv_lrec *y = *(const struct sv_lrec *const *)b;
	if (x->vendor != y->vendor)
		return sv_vendor_rank[x->vendor] - sv_vendor_rank[y->vendor];
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->token, y->token, n);
	if (c)
		return c;
	return (int)x->len - (int)y->len;
}

/*
 * Every record (of one vendor, or all when vendor < 0), sorted by vendor
 * name then token bytes. Call with every shard locked; the pointers are
 * valid until they are unlocked. *n gets the count; free() the array.
 */
static struct sv_lrec **ledger_sorted(int vendor, size_t *n)
{
	size_t total = 0;
	for (unsigned i = 0; i < SV_LEDGER_SHARDS; i++)
		total += g_ledger[i].used;
	struct sv_lrec **refs = sv_alloc(total * sizeof(*refs));
	size_t k = 0;
	for (unsigned i = 0; i < SV_LEDGER_SHARDS; i++) {
		const struct sv_shard *s = &g_ledger[i];
		for (uint32_t c = 0; c < s->chunks_n; c++) {
			for (size_t off = 0; off < s->chunk_fill[c];) {
				struct sv_lrec *r = (struct sv_lrec *)(s->chunks[c] + off);
				if (vendor < 0 || r->vendor == vendor)
					refs[k++] = r;
				off += (sizeof(*r) + r->len + 3) & ~(size_t)3;
			}
		}
	}
	ALWAYS(k <= total);
	qsort(refs, k, sizeof(*refs), ledger_cmp);
	*n = k;
	return refs;
}

/*
 * One dump line, "vendor<TAB>token<TAB>count\n", with backslash, tab, CR and
 * LF in the token written as \\ \t \r \n. dst NULL: only the length.
 */
static size_t ledger_line(char *dst, const struct sv_lrec *r)
{
	const char *name = sv_vendor_names[r->vendor];
	size_t nlen = strlen(name), o = 0;
	char num[16];
	int numlen = snprintf(num, sizeof(num), "%" PRIu32, r->count);
	if (dst)
		memcpy(dst, name, nlen);
	o += nlen;
	if (dst)
		dst[o] = '\t';
	o++;
	for (size_t i = 0; i < r->len; i++) {
		char c = r->token[i], e = 0;
		switch (c) {
		case '\\': e = '\\'; break;
		case '\t': e = 't'; break;
		case '\r': e = 'r'; break;
		case '\n': e = 'n'; break;
		}
		if (e) {
			if (dst) {
				dst[o] = '\\';
				dst[o + 1] = e;
			}
			o += 2;
		} else {
			if (dst)
				dst[o] = c;
			o++;
		}
	}
	if (dst) {
		dst[o] = '\t';
		memcpy(dst + o + 1, num, (size_t)numlen);
		dst[o + 1 + (size_t)numlen] = '\n';
	}
	return o + 1 + (size_t)numlen + 1;
}

/* the dump into a file (written to PATH.tmp, then renamed). 0 or -errno */
static int ledger_dump_file(const char *path)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	ledger_lock_all();
	size_t n;
	struct sv_lrec **refs = ledger_sorted(-1, &n);
	char line[SV_TOKEN_BYTES_MAX * 2 + 64];
	for (size_t i = 0; i < n; i++)
		fwrite(line, 1, ledger_line(line, refs[i]), f);
	ledger_unlock_all();
	free(refs);
	int rc = 0;
	if (fflush(f) || fsync(fileno(f)))
		rc = -errno;
	if (fclose(f) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* ---- rate and quota ---------------------------------------------------------------------- */
struct sv_limit {
	pthread_mutex_t mu;
	double tokens;      /* bucket content, addresses */
	uint64_t last_ns;
	uint64_t used;      /* addresses counted against the quota */
} __attribute__((aligned(64)));

static struct sv_limit g_limits[SV_VENDORS];

enum sv_limit_verdict { SV_LIMIT_OK, SV_LIMIT_RATE, SV_LIMIT_QUOTA };

/* take n addresses from vendor's bucket and quota, both or neither */
static enum sv_limit_verdict sv_limit_take(int vendor, size_t n)
{
	if (!g_cfg.rate_on[vendor] && !g_cfg.quota_on[vendor])
		return SV_LIMIT_OK;
	struct sv_limit *l = &g_limits[vendor];
	enum sv_limit_verdict v = SV_LIMIT_OK;
	pthread_mutex_lock(&l->mu);
	if (g_cfg.rate_on[vendor]) {
		uint64_t now = sv_now_ns();
		double t = l->tokens + (double)(now - l->last_ns) * 1e-9 * g_cfg.rate_per_s[vendor];
		l->tokens = t < g_cfg.burst[vendor] ? t : g_cfg.burst[vendor];
		l->last_ns = now;
		if (l->tokens < (double)n)
			v = SV_LIMIT_RATE;
	}
	if (v == SV_LIMIT_OK && g_cfg.quota_on[vendor] && l->used + n > g_cfg.quota[vendor])
		v = SV_LIMIT_QUOTA;
	if (v == SV_LIMIT_OK) {
		if (g_cfg.rate_on[vendor])
			l->tokens -= (double)n;
		l->used += n;
	}
	pthread_mutex_unlock(&l->mu);
	return v;
}

/* ---- counters ---------------------------------------------------------------------------- */
struct sv_stats {
	uint64_t requests;   /* vendor requests answered */
	uint64_t invalid;    /* addresses answered as invalid */
	uint64_t throttled;  /* requests refused by --rate or --quota */
	uint64_t errors;     /* requests answered with auth, bad request, --error, --garbage */
};

/* single writer (the owning worker); readers load relaxed */
static void stat_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static uint64_t stat_load(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* callback thread counters */
static atomic_uint_fast64_t g_cb_jobs, g_cb_posts, g_cb_receipts, g_cb_failed, g_cb_rejected, g_cb_dropped;

/* vivo taskIds handed out: SV_VIVO_TASK_BASE + 1 .. + g_vivo_tasks */
#define SV_VIVO_TASK_BASE 700000000000ull
static atomic_uint_fast64_t g_vivo_tasks;

/* ---- receipt jobs and the worker -> callback rings --------------------------------------- */
enum sv_rjob_str { SV_RS_MSG_ID, SV_RS_REQ_ID, SV_RS_AUX1, SV_RS_AUX2, SV_RS_N };

struct sv_rtok {
	uint32_t off;     /* in data */
	uint16_t len;
	uint16_t index;   /* in the request (OPPO message ids) */
	uint8_t clicked;
};

/*
 * One accepted request's delivered addresses. Strings by vendor:
 *   huawei   msg_id = answer requestId, aux1 = appid (path), aux2 = android.bi_tag
 *   xiaomi   msg_id = data.id of the answer, aux1 = callback.param, aux2 = extra.jobkey
 *   oppo     msg_id = message id stem (an address's messageId is stem + %04x index)
 *   vivo     msg_id = taskId, req_id = requestId of pushToList
 *   sms      msg_id = BizId, req_id = OutId
 *   webhook  msg_id = id of the request
 */
struct sv_rjob {
	uint64_t due_ns;
	uint32_t ntok;
	uint8_t vendor;
	struct {
		uint32_t off, len;
	} str[SV_RS_N];
	struct sv_rtok *tok;
	char *data;
};

struct sv_ring {
	_Alignas(64) atomic_uint_fast64_t head; /* consumer */
	_Alignas(64) atomic_uint_fast64_t tail; /* producer */
	_Alignas(64) struct sv_rjob *slots[SV_RING_SLOTS];
};

static bool ring_push(struct sv_ring *q, struct sv_rjob *job)
{
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	if (t - h >= SV_RING_SLOTS)
		return false;
	q->slots[t & (SV_RING_SLOTS - 1)] = job;
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	return true;
}

static struct sv_rjob *ring_pop(struct sv_ring *q)
{
	uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
	if (h == t)
		return NULL;
	struct sv_rjob *job = q->slots[h & (SV_RING_SLOTS - 1)];
	atomic_store_explicit(&q->head, h + 1, memory_order_release);
	return job;
}

/* ---- worker, connection, request --------------------------------------------------------- */
struct sv_str {
	const char *p;
	size_t len;
};

struct sv_kv {
	struct sv_str k, v;
};

struct sv_timer {
	uint64_t due_ns;
	struct sv_conn *c;
};

struct sv_worker {
	unsigned index;
	pthread_t thread;
	int epfd, lfd, stopfd;
	struct sv_rng rng_fault, rng_latency, rng_receipt;
	char *recv;
	struct sv_buf body;      /* the answer body being built */
	struct sv_buf decode;    /* decoded strings of the current request */
	struct sv_buf aux;       /* scratch */
	struct sv_tok toks[SV_BATCH_TOKENS_MAX];
	uint8_t tok_invalid[SV_BATCH_TOKENS_MAX];
	uint64_t tok_hash[SV_BATCH_TOKENS_MAX];
	struct sv_kv kv[SV_FORM_FIELDS_MAX];
	struct sv_timer *heap;
	size_t heap_n, heap_cap;
	uint64_t seq;
	unsigned conns;                  /* open sockets */
	struct sv_conn *conn_list;       /* allocated connections, open or waiting for timers */
	struct sv_ring *ring;
	struct sv_stats stats[SV_VENDORS]; /* written by this worker only */
	struct sv_stats base[SV_VENDORS];  /* stats at the last reset, under g_reset_mu */
};

static struct sv_worker *g_workers;
static unsigned g_workers_n;
static pthread_mutex_t g_reset_mu = PTHREAD_MUTEX_INITIALIZER;

struct sv_pending {
	struct sv_pending *next;
	uint64_t due_ns;
	size_t len;
	char data[];
};

enum sv_header { SV_H_AUTHORIZATION, SV_H_AUTHTOKEN, SV_H_N };

struct sv_conn {
	int fd;
	struct sv_worker *w;
	http_parser parser;
	/* the request being read */
	char url[SV_URL_BYTES_MAX];
	size_t url_len;
	char hname[SV_HEADER_NAME_BYTES_MAX];
	size_t hname_len;
	bool hname_long;
	bool in_value;
	int hcur;                      /* enum sv_header of the value being read, or -1 */
	char hval[SV_H_N][SV_HEADER_VALUE_BYTES_MAX];
	size_t hval_len[SV_H_N];
	const char *body;              /* in the read buffer, or body_own.p */
	size_t body_len;
	bool body_is_own;
	struct sv_buf body_own;
	bool too_large;
	bool in_message;
	/* answers */
	struct sv_buf out;
	size_t out_off;
	struct sv_pending *pend_head, *pend_tail;
	unsigned pend_n;
	unsigned timers;               /* heap entries naming this connection */
	bool close_after;              /* no more requests; close once the answers are out */
	bool closed;                   /* socket closed, memory waits for timers == 0 */
	bool epollout;
	bool paused;
	struct sv_conn *prev, *next;   /* every allocated connection of the worker */
};

struct sv_req {
	struct sv_worker *w;
	struct sv_conn *c;
	int vendor;
	enum http_method method;
	struct sv_str path, query;
	const char *body;
	size_t body_len;
	struct sv_str authorization, authtoken;
	uint64_t delay_ns;
	/* filled by the vendor's parser */
	size_t ntok;                   /* stored in w->toks (<= SV_BATCH_TOKENS_MAX) */
	size_t ntok_total;             /* seen */
	bool validate_only;
	struct sv_str appid, bi_tag, param, jobkey, req_id, task_id;
	size_t nkv;
	/* filled by the pipeline */
	size_t ninvalid;
	char id[64];                   /* answer id: requestId, msg id, BizId... */
	char id2[64];                  /* Xiaomi trace_id, SMS BizId */
};

static uint64_t sv_uid(struct sv_worker *w)
{
	return (uint64_t)w->index << 40 | ++w->seq;
}

/* n bytes of the request's decode space, reserved at its start (never moves) */
static char *req_scratch(struct sv_req *r, size_t n)
{
	struct sv_buf *d = &r->w->decode;
	ALWAYS(d->cap - d->len >= n);
	char *p = d->p + d->len;
	d->len += n;
	return p;
}

static void req_tok_push(struct sv_req *r, const char *p, size_t n)
{
	if (r->ntok < SV_BATCH_TOKENS_MAX) {
		r->w->toks[r->ntok].p = p;
		r->w->toks[r->ntok].len = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
		r->ntok++;
	}
	r->ntok_total++;
}

/* the string value at j, unescaped into decode space; -EINVAL if not a valid string */
static int req_js_string(struct sv_req *r, struct js *j, struct sv_str *out)
{
	struct js_str s;
	if (js_peek(j) != '"' || js_string(j, &s))
		return -EINVAL;
	if (!s.esc) {
		out->p = s.p;
		out->len = s.len;
		return 0;
	}
	char *dst = req_scratch(r, s.len);
	ssize_t n = js_unescape(&s, dst);
	if (n < 0)
		return -EINVAL;
	r->w->decode.len -= s.len - (size_t)n;
	out->p = dst;
	out->len = (size_t)n;
	return 0;
}

/* a short string field (ids, tags, params) */
static int req_js_id(struct sv_req *r, struct js *j, struct sv_str *out)
{
	if (req_js_string(r, j, out) || out->len > SV_ID_BYTES_MAX)
		return -EINVAL;
	return 0;
}

/*
 * Split an application/x-www-form-urlencoded body into r->w->kv, keys and
 * values decoded into decode space. -EINVAL on a bad %XX or too many fields.
 */
static int req_form(struct sv_req *r, const char *s, size_t n)
{
	struct sv_worker *w = r->w;
	r->nkv = 0;
	size_t i = 0;
	while (i < n) {
		const char *amp = memchr(s + i, '&', n - i);
		size_t end = amp ? (size_t)(amp - s) : n;
		if (end > i) {
			if (r->nkv == SV_FORM_FIELDS_MAX)
				return -EINVAL;
			const char *eq = memchr(s + i, '=', end - i);
			size_t klen = eq ? (size_t)(eq - (s + i)) : end - i;
			const char *vp = eq ? eq + 1 : s + end;
			size_t vlen = (size_t)(s + end - vp);
			struct sv_kv *kv = &w->kv[r->nkv++];
			char *kd = req_scratch(r, klen);
			ssize_t kn = sv_form_decode(s + i, klen, kd);
			char *vd = req_scratch(r, vlen);
			ssize_t vn = sv_form_decode(vp, vlen, vd);
			if (kn < 0 || vn < 0)
				return -EINVAL;
			kv->k = (struct sv_str){ kd, (size_t)kn };
			kv->v = (struct sv_str){ vd, (size_t)vn };
		}
		i = end + 1;
	}
	return 0;
}

/* the last value of form field name, or NULL */
static const struct sv_str *req_field(const struct sv_req *r, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = r->nkv; i-- > 0;) {
		const struct sv_kv *kv = &r->w->kv[i];
		if (kv->k.len == n && memcmp(kv->k.p, name, n) == 0)
			return &kv->v;
	}
	return NULL;
}

static bool str_is(const struct sv_str *s, const char *lit)
{
	return s && s->len == strlen(lit) && memcmp(s->p, lit, s->len) == 0;
}

/* comma-separated addresses; empty pieces are skipped */
static void req_split_tokens(struct sv_req *r, const struct sv_str *list)
{
	const char *p = list->p, *end = list->p + list->len;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *q = comma ? comma : end;
		if (q > p)
			req_tok_push(r, p, (size_t)(q - p));
		p = q + 1;
	}
}

/* a credential is accepted when non-empty and, with --auth, equal to it */
static bool sv_auth_ok(int vendor, const char *p, size_t n)
{
	if (n == 0)
		return false;
	const char *want = g_cfg.auth[vendor];
	return !want || (strlen(want) == n && memcmp(want, p, n) == 0);
}

/* "Bearer X" (scheme case-insensitive) -> X */
static bool sv_bearer(const struct sv_str *h, struct sv_str *cred)
{
	if (h->len < 7 || strncasecmp(h->p, "Bearer ", 7) != 0)
		return false;
	cred->p = h->p + 7;
	cred->len = h->len - 7;
	while (cred->len && *cred->p == ' ') {
		cred->p++;
		cred->len--;
	}
	return true;
}

/* ---- answers ----------------------------------------------------------------------------- */
static void heap_push(struct sv_worker *w, uint64_t due_ns, struct sv_conn *c)
{
	if (w->heap_n == w->heap_cap) {
		w->heap_cap = w->heap_cap ? w->heap_cap * 2 : 256;
		w->heap = sv_realloc(w->heap, w->heap_cap * sizeof(*w->heap));
	}
	size_t i = w->heap_n++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (w->heap[parent].due_ns <= due_ns)
			break;
		w->heap[i] = w->heap[parent];
		i = parent;
	}
	w->heap[i] = (struct sv_timer){ due_ns, c };
}

static struct sv_timer heap_pop(struct sv_worker *w)
{
	ALWAYS(w->heap_n > 0);
	struct sv_timer top = w->heap[0], last = w->heap[--w->heap_n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l >= w->heap_n)
			break;
		m = l;
		if (l + 1 < w->heap_n && w->heap[l + 1].due_ns < w->heap[l].due_ns)
			m = l + 1;
		if (last.due_ns <= w->heap[m].due_ns)
			break;
		w->heap[i] = w->heap[m];
		i = m;
	}
	if (w->heap_n)
		w->heap[i] = last;
	return top;
}

/*
 * Queue an answer on c: status line and headers now, body_len bytes to be
 * written by the caller at the returned pointer (valid until the next
 * answer on c). It leaves after every earlier answer of c, and not before
 * delay_ns from now.
 */
static char *sv_respond_begin(struct sv_conn *c, int status, const char *ctype, size_t body_len,
			      uint64_t delay_ns, const char *extra_headers)
{
	char head[SV_RESPONSE_HEAD_BYTES_MAX];
	int hlen = snprintf(head, sizeof(head),
			    "HTTP/1.1 %d %s\r\nServer: herald-vendorsim\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
			    status, sv_reason(status), ctype, body_len, extra_headers ? extra_headers : "",
			    c->close_after ? "Connection: close\r\n" : "");
	ALWAYS(hlen > 0 && (size_t)hlen < sizeof(head));
	if (delay_ns == 0 && !c->pend_head) {
		buf_reserve(&c->out, (size_t)hlen + body_len);
		memcpy(c->out.p + c->out.len, head, (size_t)hlen);
		char *dst = c->out.p + c->out.len + hlen;
		c->out.len += (size_t)hlen + body_len;
		return dst;
	}
	struct sv_pending *p = sv_alloc(sizeof(*p) + (size_t)hlen + body_len);
	p->next = NULL;
	p->due_ns = sv_now_ns() + delay_ns;
	p->len = (size_t)hlen + body_len;
	memcpy(p->data, head, (size_t)hlen);
	if (c->pend_tail)
		c->pend_tail->next = p;
	else
		c->pend_head = p;
	c->pend_tail = p;
	c->pend_n++;
	c->timers++;
	heap_push(c->w, p->due_ns, c);
	return p->data + hlen;
}

static void sv_respond(struct sv_req *r, int status, const char *ctype, const char *body, size_t len,
		       const char *extra_headers)
{
	char *dst = sv_respond_begin(r->c, status, ctype, len, r->delay_ns, extra_headers);
	memcpy(dst, body, len);
}

static const char sv_ctype_json[] = "application/json;charset=UTF-8";
static const char sv_ctype_text[] = "text/plain; charset=utf-8";

static const char *sv_retry_after(int status)
{
	return status == 429 || status == 503 ? "Retry-After: 1\r\n" : NULL;
}

/* answer with w->body as JSON */
static void sv_respond_json(struct sv_req *r, int status)
{
	sv_respond(r, status, sv_ctype_json, r->w->body.p, r->w->body.len, sv_retry_after(status));
}

static void sv_respond_text(struct sv_req *r, int status, const char *text)
{
	sv_respond(r, status, sv_ctype_text, text, strlen(text), sv_retry_after(status));
}

static void sv_answer_error(struct sv_req *r, const struct sv_answer *a)
{
	r->w->body.len = 0;
	sv_vendor_defs[r->vendor].error_body(&r->w->body, r, a->code, a->msg);
	sv_respond_json(r, a->http);
}

/* the vendor's code as a JSON value: a number for Xiaomi, OPPO, vivo */
static void buf_code(struct sv_buf *b, int vendor, const char *code)
{
	if (sv_vendor_defs[vendor].numeric_codes)
		buf_puts(b, code);
	else
		buf_json_cstr(b, code);
}

static void hw_error_body(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg)
{
	buf_puts(b, "{\"code\":");
	buf_json_cstr(b, code);
	buf_puts(b, ",\"msg\":");
	buf_json_cstr(b, msg);
	buf_puts(b, ",\"requestId\":");
	buf_json_cstr(b, r->id);
	buf_putc(b, '}');
}

static void mi_error_body(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg)
{
	buf_puts(b, "{\"result\":\"error\",\"reason\":");
	buf_json_cstr(b, msg);
	buf_puts(b, ",\"trace_id\":");
	buf_json_cstr(b, r->id2);
	buf_puts(b, ",\"code\":");
	buf_code(b, SV_XIAOMI, code);
	buf_puts(b, ",\"description\":");
	buf_json_cstr(b, msg);
	buf_putc(b, '}');
}

static void op_error_body(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg)
{
	(void)r;
	buf_puts(b, "{\"code\":");
	buf_code(b, SV_OPPO, code);
	buf_puts(b, ",\"message\":");
	buf_json_cstr(b, msg);
	buf_putc(b, '}');
}

static void vv_error_body(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg)
{
	(void)r;
	buf_puts(b, "{\"result\":");
	buf_code(b, SV_VIVO, code);
	buf_puts(b, ",\"desc\":");
	buf_json_cstr(b, msg);
	buf_putc(b, '}');
}

static void sms_error_body(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg)
{
	buf_puts(b, "{\"RequestId\":");
	buf_json_cstr(b, r->id);
	buf_puts(b, ",\"Code\":");
	buf_json_cstr(b, code);
	buf_puts(b, ",\"Message\":");
	buf_json_cstr(b, msg);
	buf_putc(b, '}');
}

static void wh_error_body(struct sv_buf *b, const struct sv_req *r, const char *code, const char *msg)
{
	(void)r;
	buf_puts(b, "{\"error\":");
	buf_json_cstr(b, code);
	buf_puts(b, ",\"message\":");
	buf_json_cstr(b, msg);
	buf_putc(b, '}');
}

/* ---- Huawei ------------------------------------------------------------------------------ */
struct sv_jctx {
	struct sv_req *r;
	const struct sv_answer *bad;   /* the answer for the error being returned */
	const struct sv_answer *bad_elem;
	bool seen[8];
	int64_t num;
	struct sv_str str;
};

/* an array element that must be a string: an address */
static int sv_tok_elem(struct js *j, size_t index, void *ctx)
{
	struct sv_jctx *x = ctx;
	struct sv_str s;
	(void)index;
	if (js_peek(j) != '"') {
		x->bad = x->bad_elem;
		return -EINVAL;
	}
	if (req_js_string(x->r, j, &s))
		return -EINVAL;
	req_tok_push(x->r, s.p, s.len);
	return 0;
}

/* the value at j must be an array of strings; bad_kind answers when it is not */
static int sv_tok_array(struct sv_jctx *x, struct js *j, const struct sv_answer *bad_kind)
{
	if (js_peek(j) != '[') {
		x->bad = bad_kind;
		return -EINVAL;
	}
	x->r->ntok = x->r->ntok_total = 0;
	return js_array(j, sv_tok_elem, x);
}

static int hw_android(struct js *j, const struct js_str *key, void *ctx)
{
	struct sv_jctx *x = ctx;
	if (js_key_is(key, "bi_tag")) {
		if (req_js_id(x->r, j, &x->r->bi_tag)) {
			x->bad = &hw_bad_field;
			return -EINVAL;
		}
		return 0;
	}
	return js_skip(j);
}

enum { HW_SEEN_MESSAGE, HW_SEEN_TOKEN };

static int hw_message(struct js *j, const struct js_str *key, void *ctx)
{
	struct sv_jctx *x = ctx;
	if (js_key_is(key, "token")) {
		x->seen[HW_SEEN_TOKEN] = true;
		x->bad_elem = &hw_bad_field;
		return sv_tok_array(x, j, &hw_bad_count);
	}
	if (js_key_is(key, "android") && js_peek(j) == '{')
		return js_object(j, hw_android, x);
	return js_skip(j);
}

static int hw_top(struct js *j, const struct js_str *key, void *ctx)
{
	struct sv_jctx *x = ctx;
	if (js_key_is(key, "message")) {
		if (js_peek(j) != '{') {
			x->bad = &hw_bad_body;
			return -EINVAL;
		}
		x->seen[HW_SEEN_MESSAGE] = true;
		return js_object(j, hw_message, x);
	}
	if (js_key_is(key, "validate_only")) {
		int c = js_peek(j);
		if (c == 't' && !js_literal(j, "true")) {
			x->r->validate_only = true;
			return 0;
		}
		if (c == 'f' && !js_literal(j, "false"))
			return 0;
		x->bad = &hw_bad_field;
		return -EINVAL;
	}
	return js_skip(j);
}

static const struct sv_answer *hw_parse(struct sv_req *r)
{
	struct sv_str cred;
	if (!sv_bearer(&r->authorization, &cred) || !sv_auth_ok(SV_HUAWEI, cred.p, cred.len))
		return &hw_auth;
	struct sv_jctx x = { .r = r };
	if (js_document(r->body, r->body_len, hw_top, &x))
		return x.bad ? x.bad : &hw_bad_body;
	if (!x.seen[HW_SEEN_MESSAGE])
		return &hw_bad_body;
	if (!x.seen[HW_SEEN_TOKEN] || r->ntok_total == 0 || r->ntok_total > SV_BATCH_TOKENS_MAX)
		return &hw_bad_count;
	return NULL;
}

/* the invalid addresses as a JSON array */
static void buf_invalid_array(struct sv_buf *b, const struct sv_req *r)
{
	const struct sv_worker *w = r->w;
	bool first = true;
	buf_putc(b, '[');
	for (size_t i = 0; i < r->ntok; i++) {
		if (!w->tok_invalid[i])
			continue;
		if (!first)
			buf_putc(b, ',');
		first = false;
		buf_json_str(b, w->toks[i].p, w->toks[i].len);
	}
	buf_putc(b, ']');
}

static void hw_answer(struct sv_req *r)
{
	struct sv_worker *w = r->w;
	struct sv_buf *b = &w->body, *inner = &w->aux;
	b->len = inner->len = 0;
	if (r->ninvalid == 0) {
		buf_puts(b, "{\"code\":\"80000000\",\"msg\":\"Success\",\"requestId\":");
		buf_json_cstr(b, r->id);
		buf_putc(b, '}');
		sv_respond_json(r, 200);
		return;
	}
	bool all = r->ninvalid == r->ntok;
	if (!all) {
		/* v1 partial success: msg is a JSON string holding counts and illegal_tokens */
		buf_puts(inner, "{\"success\":");
		buf_put_u64(inner, r->ntok - r->ninvalid);
		buf_puts(inner, ",\"failure\":");
		buf_put_u64(inner, r->ninvalid);
		buf_puts(inner, ",\"illegal_tokens\":");
		buf_invalid_array(inner, r);
		buf_putc(inner, '}');
	} else {
		/* 80300007: the tokens under an object of reasons (VENDORS.md) */
		buf_puts(inner, "{\"illegalTokens\":{\"tokenFormatError\":");
		buf_invalid_array(inner, r);
		buf_puts(inner, "},\"failure\":");
		buf_put_u64(inner, r->ninvalid);
		buf_putc(inner, '}');
	}
	buf_puts(b, all ? "{\"code\":\"80300007\",\"msg\":" : "{\"code\":\"80100000\",\"msg\":");
	buf_json_str(b, inner->p, inner->len);
	buf_puts(b, ",\"requestId\":");
	buf_json_cstr(b, r->id);
	buf_putc(b, '}');
	sv_respond_json(r, all ? 400 : 200);
}

/* ---- Xiaomi ------------------------------------------------------------------------------ */
static const struct sv_answer *mi_parse(struct sv_req *r)
{
	const struct sv_str *h = &r->authorization;
	if (h->len < 4 || memcmp(h->p, "key=", 4) != 0 || !sv_auth_ok(SV_XIAOMI, h->p + 4, h->len - 4))
		return &mi_auth;
	if (req_form(r, r->body, r->body_len))
		return &mi_bad_body;
	const struct sv_str *regids = req_field(r, "registration_id");
	const struct sv_str *pkg = req_field(r, "restricted_package_name");
	const struct sv_str *pass = req_field(r, "pass_through");
	if (!regids || !pkg || pkg->len == 0)
		return &mi_bad_field;
	if (!pass || str_is(pass, "0")) {
		const struct sv_str *title = req_field(r, "title"), *desc = req_field(r, "description");
		if (!title || !desc || title->len == 0 || desc->len == 0)
			return &mi_bad_field;
	}
	const struct sv_str *param = req_field(r, "callback.param"), *jobkey = req_field(r, "extra.jobkey");
	if ((param && param->len > SV_ID_BYTES_MAX) || (jobkey && jobkey->len > SV_ID_BYTES_MAX))
		return &mi_bad_body;
	if (param)
		r->param = *param;
	if (jobkey)
		r->jobkey = *jobkey;
	req_split_tokens(r, regids);
	if (r->ntok_total == 0 || r->ntok_total > SV_BATCH_TOKENS_MAX)
		return &mi_bad_count;
	return NULL;
}

static void mi_answer(struct sv_req *r)
{
	struct sv_worker *w = r->w;
	if (r->ninvalid && r->ntok == 1) {
		sv_answer_error(r, &mi_bad_regid);
		return;
	}
	struct sv_buf *b = &w->body;
	b->len = 0;
	buf_puts(b, "{\"result\":\"ok\",\"trace_id\":");
	buf_json_cstr(b, r->id2);
	buf_puts(b, ",\"code\":0,\"data\":{\"id\":");
	buf_json_cstr(b, r->id);
	if (r->ninvalid) {
		struct sv_buf *list = &w->aux;
		list->len = 0;
		for (size_t i = 0; i < r->ntok; i++) {
			if (!w->tok_invalid[i])
				continue;
			if (list->len)
				buf_putc(list, ',');
			buf_put(list, w->toks[i].p, w->toks[i].len);
		}
		buf_puts(b, ",\"bad_regids\":");
		buf_json_str(b, list->p, list->len);
	}
	buf_puts(b, "},\"description\":\"成功\",\"info\":\"Received push messages for ");
	buf_put_u64(b, r->ntok - r->ninvalid);
	buf_puts(b, " REGID\"}");
	sv_respond_json(r, 200);
}

/* ---- OPPO -------------------------------------------------------------------------------- */
enum { OP_SEEN_TYPE, OP_SEEN_VALUE, OP_SEEN_NOTIFICATION };

static int op_member(struct js *j, const struct js_str *key, void *ctx)
{
	struct sv_jctx *x = ctx;
	if (js_key_is(key, "target_type")) {
		x->seen[OP_SEEN_TYPE] = true;
		return js_int(j, &x->num);
	}
	if (js_key_is(key, "target_value")) {
		x->seen[OP_SEEN_VALUE] = true;
		return req_js_string(x->r, j, &x->str);
	}
	if (js_key_is(key, "notification")) {
		if (js_peek(j) != '{')
			return -EINVAL;
		x->seen[OP_SEEN_NOTIFICATION] = true;
	}
	return js_skip(j);
}

static int op_elem(struct js *j, size_t index, void *ctx)
{
	struct sv_jctx *x = ctx;
	(void)index;
	memset(x->seen, 0, sizeof(x->seen));
	if (js_peek(j) != '{' || js_object(j, op_member, x))
		return -EINVAL;
	if (!x->seen[OP_SEEN_TYPE] || !x->seen[OP_SEEN_VALUE] || !x->seen[OP_SEEN_NOTIFICATION] || x->num != 2)
		return -EINVAL;
	req_tok_push(x->r, x->str.p, x->str.len);
	return 0;
}

static const struct sv_answer *op_parse(struct sv_req *r)
{
	if (req_form(r, r->body, r->body_len))
		return &op_bad_body;
	const struct sv_str *token = req_field(r, "auth_token");
	if (!token || !sv_auth_ok(SV_OPPO, token->p, token->len))
		return &op_auth;
	const struct sv_str *messages = req_field(r, "messages");
	if (!messages)
		return &op_bad_body;
	struct sv_jctx x = { .r = r };
	struct js j = { .p = messages->p, .end = messages->p + messages->len };
	if (js_peek(&j) != '[' || js_array(&j, op_elem, &x) || js_peek(&j) >= 0)
		return &op_bad_body;
	if (r->ntok_total == 0 || r->ntok_total > SV_BATCH_TOKENS_MAX)
		return &op_bad_count;
	return NULL;
}

static void op_answer(struct sv_req *r)
{
	struct sv_worker *w = r->w;
	struct sv_buf *b = &w->body;
	b->len = 0;
	buf_puts(b, "{\"code\":0,\"message\":\"success\",\"data\":[");
	for (size_t i = 0; i < r->ntok; i++) {
		if (i)
			buf_putc(b, ',');
		if (w->tok_invalid[i]) {
			buf_puts(b, "{\"registrationId\":");
			buf_json_str(b, w->toks[i].p, w->toks[i].len);
			buf_puts(b, ",\"errorCode\":10000,\"errorMessage\":\"Invalid RegistrationId\"}");
		} else {
			buf_printf(b, "{\"messageId\":\"%s%04zx\",\"registrationId\":", r->id, i);
			buf_json_str(b, w->toks[i].p, w->toks[i].len);
			buf_putc(b, '}');
		}
	}
	buf_puts(b, "]}");
	sv_respond_json(r, 200);
}

/* ---- vivo -------------------------------------------------------------------------------- */
static const struct sv_answer *vv_save_parse(struct sv_req *r)
{
	if (!sv_auth_ok(SV_VIVO, r->authtoken.p, r->authtoken.len))
		return &vv_auth;
	json_error_t err;
	json_t *root = json_loadb(r->body, r->body_len, 0, &err);
	const struct sv_answer *bad = NULL;
	if (!json_is_object(root) || !json_is_string(json_object_get(root, "title")) ||
	    !json_is_string(json_object_get(root, "content")) ||
	    !json_is_integer(json_object_get(root, "notifyType")) ||
	    !json_is_integer(json_object_get(root, "skipType")) ||
	    !json_is_string(json_object_get(root, "requestId")))
		bad = &vv_bad_body;
	json_decref(root);
	return bad;
}

static void vv_save_answer(struct sv_req *r)
{
	uint64_t task = SV_VIVO_TASK_BASE + atomic_fetch_add(&g_vivo_tasks, 1) + 1;
	struct sv_buf *b = &r->w->body;
	b->len = 0;
	buf_puts(b, "{\"result\":0,\"desc\":\"请求成功\",\"taskId\":\"");
	buf_put_u64(b, task);
	buf_puts(b, "\"}");
	sv_respond_json(r, 200);
}

enum { VV_SEEN_REGIDS, VV_SEEN_TASK, VV_SEEN_REQUEST };

static int vv_push_top(struct js *j, const struct js_str *key, void *ctx)
{
	struct sv_jctx *x = ctx;
	if (js_key_is(key, "regIds")) {
		x->seen[VV_SEEN_REGIDS] = true;
		x->bad_elem = &vv_bad_body;
		return sv_tok_array(x, j, &vv_bad_body);
	}
	if (js_key_is(key, "taskId")) {
		x->seen[VV_SEEN_TASK] = true;
		return req_js_id(x->r, j, &x->r->task_id);
	}
	if (js_key_is(key, "requestId")) {
		x->seen[VV_SEEN_REQUEST] = true;
		return req_js_id(x->r, j, &x->r->req_id);
	}
	return js_skip(j);
}

/* a taskId saveListPayload handed out */
static bool vv_task_known(const struct sv_str *t)
{
	if (t->len == 0 || t->len > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < t->len; i++) {
		if (t->p[i] < '0' || t->p[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(t->p[i] - '0');
	}
	return v > SV_VIVO_TASK_BASE && v - SV_VIVO_TASK_BASE <= atomic_load(&g_vivo_tasks);
}

static const struct sv_answer *vv_push_parse(struct sv_req *r)
{
	if (!sv_auth_ok(SV_VIVO, r->authtoken.p, r->authtoken.len))
		return &vv_auth;
	struct sv_jctx x = { .r = r };
	if (js_document(r->body, r->body_len, vv_push_top, &x))
		return x.bad ? x.bad : &vv_bad_body;
	if (!x.seen[VV_SEEN_REGIDS] || !x.seen[VV_SEEN_TASK] || !x.seen[VV_SEEN_REQUEST])
		return &vv_bad_body;
	if (r->ntok_total < 2 || r->ntok_total > SV_BATCH_TOKENS_MAX)
		return &vv_bad_count;
	if (!vv_task_known(&r->task_id))
		return &vv_bad_task;
	return NULL;
}

static void vv_push_answer(struct sv_req *r)
{
	struct sv_worker *w = r->w;
	struct sv_buf *b = &w->body;
	b->len = 0;
	buf_puts(b, "{\"result\":0,\"desc\":\"请求成功\",\"requestId\":");
	buf_json_str(b, r->req_id.p, r->req_id.len);
	if (r->ninvalid) {
		buf_puts(b, ",\"invalidUsers\":[");
		bool first = true;
		for (size_t i = 0; i < r->ntok; i++) {
			if (!w->tok_invalid[i])
				continue;
			buf_puts(b, first ? "{\"status\":1,\"userid\":" : ",{\"status\":1,\"userid\":");
			first = false;
			buf_json_str(b, w->toks[i].p, w->toks[i].len);
			buf_putc(b, '}');
		}
		buf_putc(b, ']');
	}
	buf_putc(b, '}');
	sv_respond_json(r, 200);
}

/* ---- SMS (Alibaba SendSms) --------------------------------------------------------------- */
static int sms_kv_cmp(const void *a, const void *b)
{
	const struct sv_kv *x = *(const struct sv_kv *const *)a, *y = *(const struct sv_kv *const *)b;
	size_t n = x->k.len < y->k.len ? x->k.len : y->k.len;
	int c = memcmp(x->k.p, y->k.p, n);
	if (c || x->k.len != y->k.len)
		return c ? c : (x->k.len < y->k.len ? -1 : 1);
	n = x->v.len < y->v.len ? x->v.len : y->v.len;
	c = memcmp(x->v.p, y->v.p, n);
	return c ? c : (int)(x->v.len > y->v.len) - (int)(x->v.len < y->v.len);
}

/*
 * Alibaba Cloud RPC signature, version 1.0: every parameter but Signature,
 * sorted by name, percent-encoded (RFC 3986) as k=v joined by '&'; then
 * base64(HMAC-SHA1(secret + "&", "POST&%2F&" + percent-encode(that))).
 */
static bool sms_signature_ok(struct sv_req *r)
{
	struct sv_worker *w = r->w;
	const struct sv_str *sig = req_field(r, "Signature");
	if (!sig)
		return false;
	const struct sv_kv *sorted[SV_FORM_FIELDS_MAX];
	size_t n = 0;
	for (size_t i = 0; i < r->nkv; i++)
		if (!str_is(&w->kv[i].k, "Signature"))
			sorted[n++] = &w->kv[i];
	qsort(sorted, n, sizeof(sorted[0]), sms_kv_cmp);
	struct sv_buf canon = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(&canon, '&');
		buf_pct(&canon, sorted[i]->k.p, sorted[i]->k.len);
		buf_putc(&canon, '=');
		buf_pct(&canon, sorted[i]->v.p, sorted[i]->v.len);
	}
	struct sv_buf *sts = &w->aux;
	sts->len = 0;
	buf_puts(sts, "POST&%2F&");
	buf_pct(sts, canon.p ? canon.p : "", canon.len);
	buf_free(&canon);
	char key[SV_SMS_SECRET_BYTES_MAX + 2];
	int klen = snprintf(key, sizeof(key), "%s&", g_cfg.sms_secret);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	if (klen <= 0 || (size_t)klen >= sizeof(key) ||
	    !HMAC(EVP_sha1(), key, klen, (const unsigned char *)sts->p, sts->len, mac, &mac_len))
		return false;
	char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	int b64_len = EVP_EncodeBlock((unsigned char *)b64, mac, (int)mac_len);
	return b64_len > 0 && sig->len == (size_t)b64_len && memcmp(sig->p, b64, sig->len) == 0;
}

static const struct sv_answer *sms_parse(struct sv_req *r)
{
	if (req_form(r, r->body, r->body_len))
		return &sms_bad_body;
	if (!str_is(req_field(r, "Action"), "SendSms"))
		return &sms_bad_action;
	const struct sv_str *key = req_field(r, "AccessKeyId");
	if (!key || !sv_auth_ok(SV_SMS, key->p, key->len))
		return &sms_auth;
	if (g_cfg.sms_secret && !sms_signature_ok(r))
		return &sms_bad_signature;
	const struct sv_str *numbers = req_field(r, "PhoneNumbers");
	const struct sv_str *sign = req_field(r, "SignName"), *tmpl = req_field(r, "TemplateCode");
	if (!numbers || !sign || !tmpl || sign->len == 0 || tmpl->len == 0)
		return &sms_bad_body;
	const struct sv_str *out_id = req_field(r, "OutId");
	if (out_id) {
		if (out_id->len > SV_ID_BYTES_MAX)
			return &sms_bad_body;
		r->req_id = *out_id;
	}
	req_split_tokens(r, numbers);
	if (r->ntok_total == 0 || r->ntok_total > SV_BATCH_TOKENS_MAX)
		return &sms_bad_count;
	return NULL;
}

static void sms_answer(struct sv_req *r)
{
	if (r->ninvalid) {
		sv_answer_error(r, &sms_bad_number);
		return;
	}
	struct sv_buf *b = &r->w->body;
	b->len = 0;
	buf_puts(b, "{\"RequestId\":");
	buf_json_cstr(b, r->id);
	buf_puts(b, ",\"Code\":\"OK\",\"Message\":\"OK\",\"BizId\":");
	buf_json_cstr(b, r->id2);
	buf_putc(b, '}');
	sv_respond_json(r, 200);
}

/* ---- webhook ----------------------------------------------------------------------------- */
enum { WH_SEEN_HERALD, WH_SEEN_ID, WH_SEEN_TO };

static int wh_top(struct js *j, const struct js_str *key, void *ctx)
{
	struct sv_jctx *x = ctx;
	if (js_key_is(key, "herald")) {
		x->seen[WH_SEEN_HERALD] = true;
		return js_int(j, &x->num);
	}
	if (js_key_is(key, "id")) {
		x->seen[WH_SEEN_ID] = true;
		return req_js_id(x->r, j, &x->r->req_id);
	}
	if (js_key_is(key, "to")) {
		x->seen[WH_SEEN_TO] = true;
		x->bad_elem = &wh_bad_body;
		return sv_tok_array(x, j, &wh_bad_body);
	}
	return js_skip(j);
}

static const struct sv_answer *wh_parse(struct sv_req *r)
{
	struct sv_str cred;
	if (!sv_bearer(&r->authorization, &cred) || !sv_auth_ok(SV_WEBHOOK, cred.p, cred.len))
		return &wh_auth;
	struct sv_jctx x = { .r = r };
	if (js_document(r->body, r->body_len, wh_top, &x))
		return &wh_bad_body;
	if (!x.seen[WH_SEEN_HERALD] || !x.seen[WH_SEEN_ID] || !x.seen[WH_SEEN_TO] || x.num != 1)
		return &wh_bad_body;
	if (r->ntok_total == 0 || r->ntok_total > SV_BATCH_TOKENS_MAX)
		return &wh_bad_count;
	return NULL;
}

static void wh_answer(struct sv_req *r)
{
	struct sv_buf *b = &r->w->body;
	b->len = 0;
	buf_puts(b, "{\"accepted\":");
	buf_put_u64(b, r->ntok - r->ninvalid);
	if (r->ninvalid) {
		buf_puts(b, ",\"invalid\":");
		buf_invalid_array(b, r);
	}
	buf_putc(b, '}');
	sv_respond_json(r, 200);
}

/* ---- the vendor pipeline ----------------------------------------------------------------- */
struct sv_vendor_op {
	int vendor;
	const struct sv_answer *(*parse)(struct sv_req *r);  /* NULL: accepted for processing */
	void (*answer)(struct sv_req *r);                     /* success / partial success */
	bool addresses;                                       /* carries addresses */
	bool all_or_nothing;                                  /* an invalid address refuses the request */
};

static const struct sv_vendor_op op_huawei = { SV_HUAWEI, hw_parse, hw_answer, true, false };
static const struct sv_vendor_op op_xiaomi = { SV_XIAOMI, mi_parse, mi_answer, true, false };
static const struct sv_vendor_op op_oppo = { SV_OPPO, op_parse, op_answer, true, false };
static const struct sv_vendor_op op_vivo_save = { SV_VIVO, vv_save_parse, vv_save_answer, false, false };
static const struct sv_vendor_op op_vivo_push = { SV_VIVO, vv_push_parse, vv_push_answer, true, false };
static const struct sv_vendor_op op_sms = { SV_SMS, sms_parse, sms_answer, true, true };
static const struct sv_vendor_op op_webhook = { SV_WEBHOOK, wh_parse, wh_answer, true, false };

static void sv_make_ids(struct sv_req *r)
{
	uint64_t uid = sv_uid(r->w);
	switch (r->vendor) {
	case SV_HUAWEI:
		snprintf(r->id, sizeof(r->id), "%013" PRIu64 "%012" PRIu64, g_start_ms, uid);
		break;
	case SV_XIAOMI:
		snprintf(r->id, sizeof(r->id), "slm%010" PRIx64 "%014" PRIx64, g_start_ms, uid);
		snprintf(r->id2, sizeof(r->id2), "Xcm%010" PRIx64 "%014" PRIx64, g_start_ms, uid);
		break;
	case SV_OPPO:
		snprintf(r->id, sizeof(r->id), "%04" PRIx64 "%016" PRIx64, g_start_ms & 0xffff, uid);
		break;
	case SV_SMS:
		snprintf(r->id, sizeof(r->id), "%08" PRIX64 "-%04" PRIX64 "-4%03" PRIX64 "-8000-%012" PRIX64,
			 g_start_ms & 0xffffffffu, (g_start_ms >> 32) & 0xffff, uid >> 40 & 0xfff, uid & (uint64_t)0xffffffffffff);
		snprintf(r->id2, sizeof(r->id2), "%" PRIu64 "^%" PRIu64, uid, g_start_ms);
		break;
	default:
		break;
	}
}

static uint64_t sv_latency_draw(struct sv_worker *w)
{
	if (g_cfg.latency_p50_ms <= 0)
		return 0;
	double ms = g_cfg.latency_p50_ms;
	if (g_cfg.latency_sigma > 0) {
		double u1 = 1.0 - sv_rng_unit(&w->rng_latency), u2 = sv_rng_unit(&w->rng_latency);
		double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
		ms = exp(g_cfg.latency_mu + g_cfg.latency_sigma * z);
	}
	if (ms > SV_LATENCY_MS_MAX)
		ms = SV_LATENCY_MS_MAX;
	return (uint64_t)(ms * 1e6);
}

static const char sv_garbage_body[] =
	"<html><head><title>502 Bad Gateway</title></head><body><h1>upstream sent garbage</h1></body></html>\n";

/* --error / --garbage: true if this request got an injected answer */
static bool sv_fault_draw(struct sv_req *r)
{
	int v = r->vendor;
	if (!g_cfg.faults_n[v] && g_cfg.garbage <= 0)
		return false;
	double u = sv_rng_unit(&r->w->rng_fault), acc = 0;
	for (unsigned i = 0; i < g_cfg.faults_n[v]; i++) {
		const struct sv_fault *f = &g_cfg.faults[v][i];
		acc += f->rate;
		if (u >= acc)
			continue;
		if (f->http) {
			char text[64];
			snprintf(text, sizeof(text), "%d %s\n", f->status, sv_reason(f->status));
			sv_respond_text(r, f->status, text);
		} else {
			struct sv_answer a = { f->status, f->code, f->msg };
			sv_answer_error(r, &a);
		}
		return true;
	}
	if (u < acc + g_cfg.garbage) {
		sv_respond(r, 200, "text/html", sv_garbage_body, sizeof(sv_garbage_body) - 1, NULL);
		return true;
	}
	return false;
}

static bool sv_token_invalid(const char *p, size_t n)
{
	if (n == 0 || n > SV_TOKEN_BYTES_MAX)
		return true;
	if (g_cfg.invalid_prefix_len && n >= g_cfg.invalid_prefix_len &&
	    memcmp(p, g_cfg.invalid_prefix, g_cfg.invalid_prefix_len) == 0)
		return true;
	return g_cfg.invalid_per_10000 && sv_fnv1a64(p, n) % 10000 < g_cfg.invalid_per_10000;
}

static void sv_receipts_enqueue(struct sv_req *r);

static void sv_vendor_request(struct sv_req *r, const struct sv_vendor_op *op)
{
	struct sv_worker *w = r->w;
	int v = op->vendor;
	struct sv_stats *st = &w->stats[v];
	r->vendor = v;
	stat_add(&st->requests, 1);
	r->delay_ns = sv_latency_draw(w);
	sv_make_ids(r);
	w->decode.len = 0;
	buf_reserve(&w->decode, 2 * r->body_len + 64);
	const struct sv_answer *bad = op->parse(r);
	if (bad) {
		sv_answer_error(r, bad);
		stat_add(&st->errors, 1);
		return;
	}
	if (sv_fault_draw(r)) {
		stat_add(&st->errors, 1);
		return;
	}
	if (op->addresses) {
		ALWAYS(r->ntok == r->ntok_total && r->ntok >= 1 && r->ntok <= SV_BATCH_TOKENS_MAX);
		enum sv_limit_verdict verdict = sv_limit_take(v, r->ntok);
		if (verdict != SV_LIMIT_OK) {
			const struct sv_vendor_def *vd = &sv_vendor_defs[v];
			sv_answer_error(r, verdict == SV_LIMIT_RATE ? vd->throttle : vd->quota);
			stat_add(&st->throttled, 1);
			return;
		}
		r->ninvalid = 0;
		for (size_t i = 0; i < r->ntok; i++) {
			bool bad_tok = sv_token_invalid(w->toks[i].p, w->toks[i].len);
			w->tok_invalid[i] = bad_tok;
			r->ninvalid += bad_tok;
		}
		stat_add(&st->invalid, r->ninvalid);
		bool accept = !r->validate_only && !(op->all_or_nothing && r->ninvalid);
		if (accept) {
			uint64_t seed = sv_ledger_seed ^ ((uint64_t)v << 56);
			for (size_t i = 0; i < r->ntok; i++)
				w->tok_hash[i] = w->tok_invalid[i] ? 0 : sv_hash(w->toks[i].p, w->toks[i].len, seed);
			ledger_add_batch(v, w->toks, w->tok_invalid, w->tok_hash, r->ntok);
			if (g_cfg.callback_url[v] && g_cfg.delivered > 0 && r->ninvalid < r->ntok)
				sv_receipts_enqueue(r);
		}
	}
	op->answer(r);
}

/* ---- the simulator's own endpoints ------------------------------------------------------- */
static void sv_ledger_get(struct sv_req *r)
{
	int vendor = -1;
	if (r->query.len) {
		if (r->query.len < 7 || memcmp(r->query.p, "vendor=", 7) != 0 ||
		    (vendor = sv_vendor_parse(r->query.p + 7, r->query.len - 7)) < 0) {
			sv_respond_text(r, 400, "query: vendor=NAME (huawei xiaomi oppo vivo sms webhook)\n");
			return;
		}
	}
	ledger_lock_all();
	size_t n, total = 0;
	struct sv_lrec **refs = ledger_sorted(vendor, &n);
	for (size_t i = 0; i < n; i++)
		total += ledger_line(NULL, refs[i]);
	char *dst = sv_respond_begin(r->c, 200, sv_ctype_text, total, 0, NULL);
	for (size_t i = 0; i < n; i++)
		dst += ledger_line(dst, refs[i]);
	ledger_unlock_all();
	free(refs);
}

static void sv_ledger_summary(struct sv_req *r)
{
	uint64_t accepted[SV_VENDORS] = { 0 }, distinct[SV_VENDORS] = { 0 };
	struct sv_stats sum[SV_VENDORS];
	memset(sum, 0, sizeof(sum));
	pthread_mutex_lock(&g_reset_mu);
	for (unsigned i = 0; i < SV_LEDGER_SHARDS; i++) {
		struct sv_shard *s = &g_ledger[i];
		ledger_lock(s);
		for (int v = 0; v < SV_VENDORS; v++) {
			accepted[v] += s->accepted[v];
			distinct[v] += s->distinct[v];
		}
		ledger_unlock(s);
	}
	for (unsigned i = 0; i < g_workers_n; i++) {
		const struct sv_worker *w = &g_workers[i];
		for (int v = 0; v < SV_VENDORS; v++) {
			sum[v].requests += stat_load(&w->stats[v].requests) - w->base[v].requests;
			sum[v].invalid += stat_load(&w->stats[v].invalid) - w->base[v].invalid;
			sum[v].throttled += stat_load(&w->stats[v].throttled) - w->base[v].throttled;
			sum[v].errors += stat_load(&w->stats[v].errors) - w->base[v].errors;
		}
	}
	pthread_mutex_unlock(&g_reset_mu);
	struct sv_buf *b = &r->w->body;
	b->len = 0;
	buf_putc(b, '{');
	for (int v = 0; v < SV_VENDORS; v++) {
		buf_printf(b,
			   "%s\"%s\":{\"requests\":%" PRIu64 ",\"accepted\":%" PRIu64 ",\"invalid\":%" PRIu64
			   ",\"throttled\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"distinct\":%" PRIu64
			   ",\"duplicates\":%" PRIu64 "}",
			   v ? "," : "", sv_vendor_names[v], sum[v].requests, accepted[v], sum[v].invalid,
			   sum[v].throttled, sum[v].errors, distinct[v], accepted[v] - distinct[v]);
	}
	buf_puts(b, "}\n");
	sv_respond_json(r, 200);
}

static void sv_ledger_reset(struct sv_req *r)
{
	pthread_mutex_lock(&g_reset_mu);
	ledger_lock_all();
	for (unsigned i = 0; i < SV_LEDGER_SHARDS; i++)
		ledger_shard_clear(&g_ledger[i]);
	ledger_unlock_all();
	for (unsigned i = 0; i < g_workers_n; i++) {
		struct sv_worker *w = &g_workers[i];
		for (int v = 0; v < SV_VENDORS; v++) {
			w->base[v].requests = stat_load(&w->stats[v].requests);
			w->base[v].invalid = stat_load(&w->stats[v].invalid);
			w->base[v].throttled = stat_load(&w->stats[v].throttled);
			w->base[v].errors = stat_load(&w->stats[v].errors);
		}
	}
	pthread_mutex_unlock(&g_reset_mu);
	r->w->body.len = 0;
	buf_puts(&r->w->body, "{\"reset\":true}\n");
	sv_respond_json(r, 200);
}

static void sv_callbacks_summary(struct sv_req *r)
{
	struct sv_buf *b = &r->w->body;
	b->len = 0;
	buf_printf(b,
		   "{\"jobs\":%" PRIu64 ",\"posts\":%" PRIu64 ",\"receipts\":%" PRIu64 ",\"failed\":%" PRIu64
		   ",\"rejected\":%" PRIu64 ",\"dropped\":%" PRIu64 "}\n",
		   (uint64_t)atomic_load(&g_cb_jobs), (uint64_t)atomic_load(&g_cb_posts),
		   (uint64_t)atomic_load(&g_cb_receipts), (uint64_t)atomic_load(&g_cb_failed),
		   (uint64_t)atomic_load(&g_cb_rejected), (uint64_t)atomic_load(&g_cb_dropped));
	sv_respond_json(r, 200);
}

/* ---- routing ----------------------------------------------------------------------------- */
struct sv_route {
	enum http_method method;
	const char *path;                    /* NULL: the Huawei pattern /v1/{appid}/messages:send */
	const struct sv_vendor_op *op;       /* a vendor route */
	void (*local)(struct sv_req *r);     /* or one of the simulator's own */
};

static const struct sv_route sv_routes[] = {
	{ HTTP_POST, NULL, &op_huawei, NULL },
	{ HTTP_POST, "/v3/message/regid", &op_xiaomi, NULL },
	{ HTTP_POST, "/server/v1/message/notification/unicast_batch", &op_oppo, NULL },
	{ HTTP_POST, "/message/saveListPayload", &op_vivo_save, NULL },
	{ HTTP_POST, "/message/pushToList", &op_vivo_push, NULL },
	{ HTTP_POST, "/", &op_sms, NULL },
	{ HTTP_POST, "/webhook", &op_webhook, NULL },
	{ HTTP_GET, "/ledger", NULL, sv_ledger_get },
	{ HTTP_GET, "/ledger/summary", NULL, sv_ledger_summary },
	{ HTTP_POST, "/ledger/reset", NULL, sv_ledger_reset },
	{ HTTP_GET, "/callbacks/summary", NULL, sv_callbacks_summary },
};

/* /v1/{appid}/messages:send -> appid */
static bool sv_huawei_path(const struct sv_str *path, struct sv_str *appid)
{
	static const char pre[] = "/v1/", post[] = "/messages:send";
	size_t a = sizeof(pre) - 1, b = sizeof(post) - 1;
	if (path->len <= a + b || memcmp(path->p, pre, a) != 0 || memcmp(path->p + path->len - b, post, b) != 0)
		return false;
	appid->p = path->p + a;
	appid->len = path->len - a - b;
	return appid->len <= SV_ID_BYTES_MAX && !memchr(appid->p, '/', appid->len);
}

static void sv_dispatch(struct sv_req *r)
{
	bool path_known = false;
	for (size_t i = 0; i < SV_N(sv_routes); i++) {
		const struct sv_route *rt = &sv_routes[i];
		bool match = rt->path ? str_is(&r->path, rt->path) : sv_huawei_path(&r->path, &r->appid);
		if (!match)
			continue;
		path_known = true;
		if (rt->method != r->method)
			continue;
		if (rt->op)
			sv_vendor_request(r, rt->op);
		else
			rt->local(r);
		return;
	}
	if (path_known)
		sv_respond_text(r, 405, "method not allowed\n");
	else
		sv_respond_text(r, 404, "no such path\n");
}

/* ---- HTTP server side -------------------------------------------------------------------- */
static int on_message_begin(http_parser *p)
{
	struct sv_conn *c = p->data;
	c->url_len = 0;
	c->hname_len = 0;
	c->hname_long = false;
	c->in_value = false;
	c->hcur = -1;
	memset(c->hval_len, 0, sizeof(c->hval_len));
	c->body = NULL;
	c->body_len = 0;
	c->body_is_own = false;
	c->body_own.len = 0;
	c->too_large = false;
	c->in_message = true;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct sv_conn *c = p->data;
	if (c->url_len + n > sizeof(c->url)) {
		c->too_large = true;
		return 0;
	}
	memcpy(c->url + c->url_len, at, n);
	c->url_len += n;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct sv_conn *c = p->data;
	if (c->in_value) {
		c->in_value = false;
		c->hname_len = 0;
		c->hname_long = false;
	}
	if (c->hname_len + n > sizeof(c->hname)) {
		c->hname_long = true;
		return 0;
	}
	memcpy(c->hname + c->hname_len, at, n);
	c->hname_len += n;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct sv_conn *c = p->data;
	if (!c->in_value) {
		c->in_value = true;
		c->hcur = -1;
		if (!c->hname_long && c->hname_len == 13 && strncasecmp(c->hname, "Authorization", 13) == 0)
			c->hcur = SV_H_AUTHORIZATION;
		else if (!c->hname_long && c->hname_len == 9 && strncasecmp(c->hname, "authToken", 9) == 0)
			c->hcur = SV_H_AUTHTOKEN;
		if (c->hcur >= 0)
			c->hval_len[c->hcur] = 0; /* the last of repeated headers wins */
	}
	if (c->hcur < 0)
		return 0;
	size_t *len = &c->hval_len[c->hcur];
	if (*len + n > SV_HEADER_VALUE_BYTES_MAX) {
		c->too_large = true;
		return 0;
	}
	memcpy(c->hval[c->hcur] + *len, at, n);
	*len += n;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct sv_conn *c = p->data;
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > SV_BODY_BYTES_MAX)
		c->too_large = true;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct sv_conn *c = p->data;
	if (c->too_large)
		return 0;
	if (c->body_len + n > SV_BODY_BYTES_MAX) {
		c->too_large = true;
		return 0;
	}
	if (!c->body_is_own && c->body_len == 0) {
		c->body = at; /* valid until http_parser_execute returns (see sv_conn_read) */
		c->body_len = n;
		return 0;
	}
	if (!c->body_is_own) {
		c->body_own.len = 0;
		buf_put(&c->body_own, c->body, c->body_len);
		c->body_is_own = true;
	}
	buf_put(&c->body_own, at, n);
	c->body = c->body_own.p;
	c->body_len = c->body_own.len;
	return 0;
}

static struct sv_str sv_trim(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return (struct sv_str){ p, n };
}

static int on_message_complete(http_parser *p)
{
	struct sv_conn *c = p->data;
	c->in_message = false;
	if (!http_should_keep_alive(p))
		c->close_after = true;
	struct sv_req r = { .w = c->w, .c = c, .vendor = -1, .method = (enum http_method)p->method };
	if (c->too_large) {
		c->close_after = true;
		sv_respond_text(&r, 413, "request too large\n");
	} else {
		const char *q = memchr(c->url, '?', c->url_len);
		r.path = (struct sv_str){ c->url, q ? (size_t)(q - c->url) : c->url_len };
		r.query = q ? (struct sv_str){ q + 1, c->url_len - (size_t)(q + 1 - c->url) } : (struct sv_str){ "", 0 };
		r.body = c->body ? c->body : "";
		r.body_len = c->body_len;
		r.authorization = sv_trim(c->hval[SV_H_AUTHORIZATION], c->hval_len[SV_H_AUTHORIZATION]);
		r.authtoken = sv_trim(c->hval[SV_H_AUTHTOKEN], c->hval_len[SV_H_AUTHTOKEN]);
		sv_dispatch(&r);
	}
	c->body = NULL;
	c->body_len = 0;
	c->body_is_own = false;
	if (c->body_own.cap > SV_OUT_BYTES_KEEP)
		buf_free(&c->body_own);
	if (c->close_after)
		http_parser_pause(p, 1); /* the rest of the input is not read */
	return 0;
}

static const http_parser_settings sv_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static void sv_conn_free(struct sv_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->w->conn_list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	buf_free(&c->out);
	buf_free(&c->body_own);
	free(c);
}

static void sv_conn_close(struct sv_conn *c)
{
	if (c->closed)
		return;
	close(c->fd); /* leaves the epoll set */
	c->fd = -1;
	c->closed = true;
	c->w->conns--;
	while (c->pend_head) {
		struct sv_pending *p = c->pend_head;
		c->pend_head = p->next;
		free(p);
	}
	c->pend_tail = NULL;
	c->pend_n = 0;
	if (c->timers == 0)
		sv_conn_free(c);
}

static void sv_conn_events(struct sv_conn *c)
{
	uint32_t want = (c->paused ? 0 : EPOLLIN) | (c->epollout ? EPOLLOUT : 0);
	struct epoll_event ev = { .events = want, .data.ptr = c };
	if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		sv_die("epoll_ctl MOD");
}

/* write what is ready; close when asked to and done. Returns false if c was closed. */
static bool sv_conn_flush(struct sv_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->epollout) {
				c->epollout = true;
				sv_conn_events(c);
			}
			return true;
		}
		if (n < 0 && errno == EINTR)
			continue;
		sv_conn_close(c);
		return false;
	}
	c->out.len = c->out_off = 0;
	if (c->out.cap > SV_OUT_BYTES_KEEP)
		buf_free(&c->out);
	bool resume = c->paused && !c->close_after && c->pend_n < SV_PENDING_PER_CONN_MAX;
	if (c->epollout || resume) {
		c->epollout = false;
		if (resume)
			c->paused = false;
		sv_conn_events(c);
	}
	if (c->close_after && !c->pend_head) {
		sv_conn_close(c);
		return false;
	}
	return true;
}

static void sv_conn_read(struct sv_conn *c)
{
	struct sv_worker *w = c->w;
	ssize_t n = recv(c->fd, w->recv, SV_RECV_BYTES, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		sv_conn_close(c);
		return;
	}
	if (c->close_after)
		return; /* input after the last request is dropped */
	http_parser_execute(&c->parser, &sv_settings, w->recv, (size_t)n);
	enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
	if (e != HPE_OK && e != HPE_PAUSED) {
		struct sv_req r = { .w = w, .c = c, .vendor = -1 };
		char text[160];
		snprintf(text, sizeof(text), "bad request: %s\n", http_errno_description(e));
		c->close_after = true;
		sv_respond_text(&r, 400, text);
	} else if (c->parser.upgrade) {
		struct sv_req r = { .w = w, .c = c, .vendor = -1 };
		c->close_after = true;
		sv_respond_text(&r, 400, "upgrade not supported\n");
	}
	if (c->in_message && c->body_len && !c->body_is_own) {
		/* the body so far points into the read buffer: keep a copy */
		c->body_own.len = 0;
		buf_put(&c->body_own, c->body, c->body_len);
		c->body_is_own = true;
		c->body = c->body_own.p;
	}
	if (!sv_conn_flush(c))
		return;
	if (!c->paused && !c->close_after &&
	    (c->out.len - c->out_off > SV_OUT_BYTES_PAUSE || c->pend_n >= SV_PENDING_PER_CONN_MAX)) {
		c->paused = true;
		sv_conn_events(c);
	}
}

static void sv_accept(struct sv_worker *w)
{
	for (;;) {
		int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
				return;
			if (errno == EMFILE || errno == ENFILE) {
				fprintf(stderr, "herald-vendorsim: accept: %s\n", strerror(errno));
				return;
			}
			sv_die("accept");
		}
		if (w->conns >= SV_CONNS_PER_WORKER_MAX) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct sv_conn *c = sv_zalloc(sizeof(*c));
		c->fd = fd;
		c->w = w;
		c->hcur = -1;
		http_parser_init(&c->parser, HTTP_REQUEST);
		c->parser.data = c;
		c->next = w->conn_list;
		if (c->next)
			c->next->prev = c;
		w->conn_list = c;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev))
			sv_die("epoll_ctl ADD");
		w->conns++;
	}
}

/* due answers move from their connection's queue to its output, in order */
static void sv_timers_run(struct sv_worker *w)
{
	uint64_t now = sv_now_ns();
	while (w->heap_n && w->heap[0].due_ns <= now) {
		struct sv_timer t = heap_pop(w);
		struct sv_conn *c = t.c;
		ALWAYS(c->timers > 0);
		c->timers--;
		if (c->closed) {
			if (c->timers == 0)
				sv_conn_free(c);
			continue;
		}
		bool moved = false;
		while (c->pend_head && c->pend_head->due_ns <= now) {
			struct sv_pending *p = c->pend_head;
			buf_put(&c->out, p->data, p->len);
			c->pend_head = p->next;
			if (!c->pend_head)
				c->pend_tail = NULL;
			c->pend_n--;
			free(p);
			moved = true;
		}
		if (moved)
			sv_conn_flush(c);
	}
}

static void *sv_worker_main(void *arg)
{
	struct sv_worker *w = arg;
	struct epoll_event evs[SV_EPOLL_EVENTS_MAX];
	while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
		int timeout_ms = -1;
		if (w->heap_n) {
			uint64_t now = sv_now_ns(), due = w->heap[0].due_ns;
			timeout_ms = due <= now ? 0 : (int)((due - now + 999999) / 1000000);
		}
		int n = epoll_wait(w->epfd, evs, (int)SV_EPOLL_EVENTS_MAX, timeout_ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sv_die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			void *ptr = evs[i].data.ptr;
			if (ptr == &w->lfd) {
				sv_accept(w);
				continue;
			}
			if (ptr == &w->stopfd)
				continue; /* g_stop is set */
			struct sv_conn *c = ptr;
			if (evs[i].events & EPOLLOUT) {
				if (!sv_conn_flush(c))
					continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				sv_conn_read(c);
		}
		sv_timers_run(w);
	}
	return NULL;
}

/* ---- receipts: worker side --------------------------------------------------------------- */
static void sv_receipts_enqueue(struct sv_req *r)
{
	struct sv_worker *w = r->w;
	size_t delivered = 0, bytes = 0;
	uint8_t flags[SV_BATCH_TOKENS_MAX]; /* bit 0 delivered, bit 1 clicked */
	for (size_t i = 0; i < r->ntok; i++) {
		flags[i] = 0;
		if (w->tok_invalid[i])
			continue;
		if (sv_rng_unit(&w->rng_receipt) >= g_cfg.delivered)
			continue;
		flags[i] = 1;
		if (g_cfg.clicked > 0 && sv_rng_unit(&w->rng_receipt) < g_cfg.clicked)
			flags[i] |= 2;
		delivered++;
		bytes += w->toks[i].len;
	}
	if (!delivered)
		return;
	struct sv_str strs[SV_RS_N] = { { "", 0 }, { "", 0 }, { "", 0 }, { "", 0 } };
	switch (r->vendor) {
	case SV_HUAWEI:
		strs[SV_RS_MSG_ID] = (struct sv_str){ r->id, strlen(r->id) };
		strs[SV_RS_AUX1] = r->appid;
		strs[SV_RS_AUX2] = r->bi_tag;
		break;
	case SV_XIAOMI:
		strs[SV_RS_MSG_ID] = (struct sv_str){ r->id, strlen(r->id) };
		strs[SV_RS_AUX1] = r->param;
		strs[SV_RS_AUX2] = r->jobkey;
		break;
	case SV_OPPO:
		strs[SV_RS_MSG_ID] = (struct sv_str){ r->id, strlen(r->id) };
		break;
	case SV_VIVO:
		strs[SV_RS_MSG_ID] = r->task_id;
		strs[SV_RS_REQ_ID] = r->req_id;
		break;
	case SV_SMS:
		strs[SV_RS_MSG_ID] = (struct sv_str){ r->id2, strlen(r->id2) };
		strs[SV_RS_REQ_ID] = r->req_id;
		break;
	case SV_WEBHOOK:
		strs[SV_RS_MSG_ID] = r->req_id;
		break;
	default:
		NEVER(true);
	}
	for (int k = 0; k < SV_RS_N; k++)
		bytes += strs[k].len;
	struct sv_rjob *job = sv_alloc(sizeof(*job) + delivered * sizeof(struct sv_rtok) + bytes);
	job->due_ns = sv_now_ns() + (uint64_t)g_cfg.callback_delay_ms * 1000000ull;
	job->vendor = (uint8_t)r->vendor;
	job->ntok = (uint32_t)delivered;
	job->tok = (struct sv_rtok *)(job + 1);
	job->data = (char *)(job->tok + delivered);
	uint32_t off = 0;
	for (int k = 0; k < SV_RS_N; k++) {
		if (strs[k].len)
			memcpy(job->data + off, strs[k].p, strs[k].len);
		job->str[k].off = off;
		job->str[k].len = (uint32_t)strs[k].len;
		off += (uint32_t)strs[k].len;
	}
	size_t t = 0;
	for (size_t i = 0; i < r->ntok; i++) {
		if (!flags[i])
			continue;
		struct sv_rtok *rt = &job->tok[t++];
		rt->off = off;
		rt->len = (uint16_t)w->toks[i].len;
		rt->index = (uint16_t)i;
		rt->clicked = (flags[i] & 2) != 0;
		memcpy(job->data + off, w->toks[i].p, w->toks[i].len);
		off += w->toks[i].len;
	}
	ALWAYS(t == delivered && off == bytes);
	if (!ring_push(w->ring, job)) {
		atomic_fetch_add(&g_cb_dropped, delivered);
		free(job);
		return;
	}
	atomic_fetch_add(&g_cb_jobs, 1);
}

/* ---- receipts: the callback thread ------------------------------------------------------- */
struct sv_cb_target {
	char host[SV_URL_PART_BYTES_MAX];
	char port[8];
	char path[SV_URL_PART_BYTES_MAX];
	int fd;
};

struct sv_cb_item {
	struct sv_rjob *job;
	uint32_t t;
};

enum sv_event { SV_EV_DELIVERED, SV_EV_CLICKED, SV_EV_N };

struct sv_cb {
	pthread_t thread;
	struct sv_cb_target target[SV_VENDORS];
	struct sv_cb_item batch[SV_VENDORS][SV_EV_N][SV_CB_RECEIPTS_PER_POST_MAX];
	unsigned batch_n[SV_VENDORS][SV_EV_N];
	struct sv_rjob **heap;          /* by due time */
	size_t heap_n, heap_cap;
	struct sv_rjob **done;          /* handled this round, freed after the flush */
	size_t done_n, done_cap;
	struct sv_buf body, json, head, targets;
	char resp[16384];
};

static struct sv_cb *g_cb;

/* "http://host:port/path" (port defaults to 80, path to /). 0 or -EINVAL */
static int sv_url_parse(const char *url, struct sv_cb_target *t)
{
	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	const char *h = url + 7, *slash = strchr(h, '/');
	size_t hp_len = slash ? (size_t)(slash - h) : strlen(h);
	const char *colon = memchr(h, ':', hp_len);
	size_t host_len = colon ? (size_t)(colon - h) : hp_len;
	if (host_len == 0 || host_len >= sizeof(t->host))
		return -EINVAL;
	memcpy(t->host, h, host_len);
	t->host[host_len] = 0;
	if (colon) {
		size_t plen = hp_len - host_len - 1;
		if (plen == 0 || plen >= sizeof(t->port))
			return -EINVAL;
		memcpy(t->port, colon + 1, plen);
		t->port[plen] = 0;
		for (size_t i = 0; i < plen; i++)
			if (t->port[i] < '0' || t->port[i] > '9')
				return -EINVAL;
	} else {
		strcpy(t->port, "80");
	}
	const char *path = slash ? slash : "/";
	if (strlen(path) >= sizeof(t->path))
		return -EINVAL;
	strcpy(t->path, path);
	t->fd = -1;
	return 0;
}

static int cb_connect(struct sv_cb_target *t)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	if (getaddrinfo(t->host, t->port, &hints, &res) || !res)
		return -EHOSTUNREACH;
	int rc = -ECONNREFUSED;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = { .tv_sec = SV_CB_IO_TIMEOUT_MS / 1000, .tv_usec = (SV_CB_IO_TIMEOUT_MS % 1000) * 1000 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			t->fd = fd;
			rc = 0;
			break;
		}
		rc = -errno;
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

static void cb_disconnect(struct sv_cb_target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

static int cb_send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EPIPE;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int cb_on_complete(http_parser *p)
{
	*(bool *)p->data = true;
	http_parser_pause(p, 1);
	return 0;
}

/* one POST on the target's connection: the HTTP status or -errno */
static int cb_post_once(struct sv_cb *cb, struct sv_cb_target *t, const char *ctype)
{
	if (t->fd < 0) {
		int rc = cb_connect(t);
		if (rc)
			return rc;
	}
	cb->head.len = 0;
	buf_printf(&cb->head,
		   "POST %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: herald-vendorsim\r\nContent-Type: %s\r\n"
		   "Content-Length: %zu\r\n\r\n",
		   t->path, t->host, t->port, ctype, cb->body.len);
	int rc = cb_send_all(t->fd, cb->head.p, cb->head.len);
	if (!rc)
		rc = cb_send_all(t->fd, cb->body.p, cb->body.len);
	if (rc)
		return rc;
	static const http_parser_settings settings = { .on_message_complete = cb_on_complete };
	http_parser parser;
	bool done = false;
	http_parser_init(&parser, HTTP_RESPONSE);
	parser.data = &done;
	while (!done) {
		ssize_t n = recv(t->fd, cb->resp, sizeof(cb->resp), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		http_parser_execute(&parser, &settings, cb->resp, (size_t)n); /* n == 0: end of input */
		enum http_errno e = HTTP_PARSER_ERRNO(&parser);
		if (e != HPE_OK && e != HPE_PAUSED)
			return -EPROTO;
		if (n == 0 && !done)
			return -ECONNRESET;
	}
	if (!http_should_keep_alive(&parser))
		cb_disconnect(t);
	return parser.status_code;
}

static void cb_post(struct sv_cb *cb, int vendor, const char *ctype, size_t receipts)
{
	struct sv_cb_target *t = &cb->target[vendor];
	int status = -EIO;
	for (unsigned attempt = 0; attempt < SV_CB_TRIES_MAX && !atomic_load(&g_stop); attempt++) {
		if (attempt)
			usleep(SV_CB_RETRY_STEP_US * attempt);
		status = cb_post_once(cb, t, ctype);
		if (status > 0)
			break;
		cb_disconnect(t);
	}
	if (status <= 0) {
		atomic_fetch_add(&g_cb_failed, receipts);
		return;
	}
	atomic_fetch_add(&g_cb_posts, 1);
	if (status >= 200 && status < 300)
		atomic_fetch_add(&g_cb_receipts, receipts);
	else
		atomic_fetch_add(&g_cb_rejected, receipts);
}

static struct sv_str rjob_str(const struct sv_rjob *job, enum sv_rjob_str k)
{
	return (struct sv_str){ job->data + job->str[k].off, job->str[k].len };
}

static struct sv_str rjob_tok(const struct sv_rjob *job, uint32_t t)
{
	return (struct sv_str){ job->data + job->tok[t].off, job->tok[t].len };
}

static void cb_body_huawei(struct sv_cb *cb, const struct sv_cb_item *items, unsigned n, uint64_t now_ms)
{
	struct sv_buf *b = &cb->body;
	buf_puts(b, "{\"statuses\":[");
	for (unsigned i = 0; i < n; i++) {
		const struct sv_rjob *job = items[i].job;
		struct sv_str s;
		buf_puts(b, i ? ",{\"biTag\":" : "{\"biTag\":");
		s = rjob_str(job, SV_RS_AUX2);
		buf_json_str(b, s.p, s.len);
		buf_puts(b, ",\"appid\":");
		s = rjob_str(job, SV_RS_AUX1);
		buf_json_str(b, s.p, s.len);
		buf_puts(b, ",\"token\":");
		s = rjob_tok(job, items[i].t);
		buf_json_str(b, s.p, s.len);
		buf_puts(b, ",\"status\":0,\"timestamp\":");
		buf_put_u64(b, now_ms);
		buf_puts(b, ",\"requestId\":");
		s = rjob_str(job, SV_RS_MSG_ID);
		buf_json_str(b, s.p, s.len);
		buf_putc(b, '}');
	}
	buf_puts(b, "]}");
}

/* data={"msgid":{"param","type","targets","jobkey","barStatus","timestamp"},...}, form-encoded */
static void cb_body_xiaomi(struct sv_cb *cb, const struct sv_cb_item *items, unsigned n, int event, uint64_t now_ms)
{
	struct sv_buf *j = &cb->json, *targets = &cb->targets;
	j->len = 0;
	buf_putc(j, '{');
	for (unsigned i = 0; i < n;) {
		const struct sv_rjob *job = items[i].job;
		targets->len = 0;
		unsigned k = i;
		for (; k < n && items[k].job == job; k++) {
			struct sv_str tok = rjob_tok(job, items[k].t);
			if (k > i)
				buf_putc(targets, ',');
			buf_put(targets, tok.p, tok.len);
		}
		struct sv_str id = rjob_str(job, SV_RS_MSG_ID), param = rjob_str(job, SV_RS_AUX1);
		struct sv_str jobkey = rjob_str(job, SV_RS_AUX2);
		if (i)
			buf_putc(j, ',');
		buf_json_str(j, id.p, id.len);
		buf_putc(j, ':');
		buf_putc(j, '{');
		if (param.len) {
			buf_puts(j, "\"param\":");
			buf_json_str(j, param.p, param.len);
			buf_putc(j, ',');
		}
		buf_puts(j, event == SV_EV_CLICKED ? "\"type\":3,\"targets\":" : "\"type\":1,\"targets\":");
		buf_json_str(j, targets->p, targets->len);
		if (jobkey.len) {
			buf_puts(j, ",\"jobkey\":");
			buf_json_str(j, jobkey.p, jobkey.len);
		}
		buf_puts(j, ",\"barStatus\":\"Enable\",\"timestamp\":");
		buf_put_u64(j, now_ms);
		buf_putc(j, '}');
		i = k;
	}
	buf_putc(j, '}');
	buf_puts(&cb->body, "data=");
	buf_pct(&cb->body, j->p, j->len);
}

static void cb_body_generic(struct sv_cb *cb, int vendor, const struct sv_cb_item *items, unsigned n, int event,
			    uint64_t now_ms)
{
	struct sv_buf *b = &cb->body;
	buf_printf(b, "{\"vendor\":\"%s\",\"receipts\":[", sv_vendor_names[vendor]);
	for (unsigned i = 0; i < n; i++) {
		const struct sv_rjob *job = items[i].job;
		const struct sv_rtok *rt = &job->tok[items[i].t];
		struct sv_str id = rjob_str(job, SV_RS_MSG_ID), req = rjob_str(job, SV_RS_REQ_ID);
		buf_puts(b, i ? ",{\"msg_id\":" : "{\"msg_id\":");
		if (vendor == SV_OPPO) {
			char mid[96];
			snprintf(mid, sizeof(mid), "%.*s%04x", (int)id.len, id.p, (unsigned)rt->index);
			buf_json_cstr(b, mid);
		} else {
			buf_json_str(b, id.p, id.len);
		}
		if (req.len) {
			buf_puts(b, ",\"request_id\":");
			buf_json_str(b, req.p, req.len);
		}
		buf_puts(b, ",\"token\":");
		struct sv_str tok = rjob_tok(job, items[i].t);
		buf_json_str(b, tok.p, tok.len);
		buf_puts(b, event == SV_EV_CLICKED ? ",\"event\":\"clicked\"" : ",\"event\":\"delivered\"");
		buf_puts(b, ",\"timestamp\":");
		buf_put_u64(b, now_ms);
		buf_putc(b, '}');
	}
	buf_puts(b, "]}");
}

static void cb_flush(struct sv_cb *cb, int vendor, int event)
{
	unsigned n = cb->batch_n[vendor][event];
	if (!n)
		return;
	if (event == SV_EV_CLICKED)
		cb_flush(cb, vendor, SV_EV_DELIVERED); /* never a click before its delivery */
	const struct sv_cb_item *items = cb->batch[vendor][event];
	uint64_t now_ms = sv_wall_ms();
	const char *ctype = "application/json";
	cb->body.len = 0;
	if (vendor == SV_HUAWEI) {
		cb_body_huawei(cb, items, n, now_ms);
	} else if (vendor == SV_XIAOMI) {
		cb_body_xiaomi(cb, items, n, event, now_ms);
		ctype = "application/x-www-form-urlencoded";
	} else {
		cb_body_generic(cb, vendor, items, n, event, now_ms);
	}
	cb->batch_n[vendor][event] = 0;
	cb_post(cb, vendor, ctype, n);
}

static void cb_add(struct sv_cb *cb, struct sv_rjob *job, uint32_t t, int event)
{
	int v = job->vendor;
	cb->batch[v][event][cb->batch_n[v][event]++] = (struct sv_cb_item){ job, t };
	if (cb->batch_n[v][event] == SV_CB_RECEIPTS_PER_POST_MAX)
		cb_flush(cb, v, event);
}

static void cb_heap_push(struct sv_cb *cb, struct sv_rjob *job)
{
	if (cb->heap_n == cb->heap_cap) {
		cb->heap_cap = cb->heap_cap ? cb->heap_cap * 2 : 1024;
		cb->heap = sv_realloc(cb->heap, cb->heap_cap * sizeof(*cb->heap));
	}
	size_t i = cb->heap_n++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (cb->heap[parent]->due_ns <= job->due_ns)
			break;
		cb->heap[i] = cb->heap[parent];
		i = parent;
	}
	cb->heap[i] = job;
}

static struct sv_rjob *cb_heap_pop(struct sv_cb *cb)
{
	struct sv_rjob *top = cb->heap[0], *last = cb->heap[--cb->heap_n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, m;
		if (l >= cb->heap_n)
			break;
		m = l;
		if (l + 1 < cb->heap_n && cb->heap[l + 1]->due_ns < cb->heap[l]->due_ns)
			m = l + 1;
		if (last->due_ns <= cb->heap[m]->due_ns)
			break;
		cb->heap[i] = cb->heap[m];
		i = m;
	}
	if (cb->heap_n)
		cb->heap[i] = last;
	return top;
}

static void *sv_cb_main(void *arg)
{
	struct sv_cb *cb = arg;
	while (!atomic_load(&g_stop)) {
		for (unsigned i = 0; i < g_workers_n; i++) {
			struct sv_rjob *job;
			while ((job = ring_pop(g_workers[i].ring))) {
				if (cb->heap_n >= SV_CB_JOBS_MAX) {
					atomic_fetch_add(&g_cb_dropped, job->ntok);
					free(job);
					continue;
				}
				cb_heap_push(cb, job);
			}
		}
		uint64_t now = sv_now_ns();
		size_t round = 0;
		while (cb->heap_n && cb->heap[0]->due_ns <= now && round < SV_RING_SLOTS) {
			struct sv_rjob *job = cb_heap_pop(cb);
			round++;
			if (cb->done_n == cb->done_cap) {
				cb->done_cap = cb->done_cap ? cb->done_cap * 2 : 1024;
				cb->done = sv_realloc(cb->done, cb->done_cap * sizeof(*cb->done));
			}
			cb->done[cb->done_n++] = job;
			if (cb->target[job->vendor].host[0] == 0) {
				atomic_fetch_add(&g_cb_failed, job->ntok);
				continue;
			}
			for (uint32_t t = 0; t < job->ntok; t++)
				cb_add(cb, job, t, SV_EV_DELIVERED);
			if (job->vendor != SV_HUAWEI) /* Huawei receipts report delivery only */
				for (uint32_t t = 0; t < job->ntok; t++)
					if (job->tok[t].clicked)
						cb_add(cb, job, t, SV_EV_CLICKED);
		}
		for (int v = 0; v < SV_VENDORS; v++)
			cb_flush(cb, v, SV_EV_DELIVERED);
		for (int v = 0; v < SV_VENDORS; v++)
			cb_flush(cb, v, SV_EV_CLICKED);
		for (size_t i = 0; i < cb->done_n; i++)
			free(cb->done[i]);
		cb->done_n = 0;
		if (round)
			continue;
		uint64_t sleep_ns = SV_CB_IDLE_SLEEP_US * 1000ull;
		if (cb->heap_n && cb->heap[0]->due_ns - now < sleep_ns)
			sleep_ns = cb->heap[0]->due_ns - now;
		struct timespec ts = { 0, (long)sleep_ns };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void sv_cb_free(struct sv_cb *cb)
{
	for (int v = 0; v < SV_VENDORS; v++)
		cb_disconnect(&cb->target[v]);
	for (size_t i = 0; i < cb->heap_n; i++)
		free(cb->heap[i]);
	for (unsigned i = 0; i < g_workers_n; i++) {
		struct sv_rjob *job;
		while ((job = ring_pop(g_workers[i].ring)))
			free(job);
	}
	free(cb->heap);
	free(cb->done);
	buf_free(&cb->body);
	buf_free(&cb->json);
	buf_free(&cb->head);
	buf_free(&cb->targets);
	free(cb);
}

/* ---- --load: a load generator for the simulator ---------------------------------------------
 *
 * One thread, epoll over --conns connections. Each connection sends --depth
 * pipelined requests in one write, reads all their answers, then sends the
 * next round, until --seconds have passed. Every request is a batch of
 * --batch fresh addresses (never seen before in this run) of --token-bytes
 * bytes, to Huawei (JSON) or Xiaomi (form). An answer counts when it is HTTP
 * 200 with the vendor's success code; its addresses then count as accepted.
 */
struct ld_opts {
	struct sockaddr_in addr;
	int vendor;
	unsigned conns, depth, batch, token_bytes;
	double seconds;
	long server_pid;
};

struct ld_conn {
	int fd;
	http_parser parser;
	struct sv_buf out;
	size_t out_off;
	unsigned outstanding;
	char head[64];          /* the first bytes of the answer body */
	size_t head_len;
	bool want_out;          /* EPOLLOUT registered */
};

struct ld {
	const struct ld_opts *o;
	uint32_t run_id;
	uint64_t next_token;
	uint64_t ok, errors;
	bool stopping;
};

static struct ld g_ld;

static void ld_token(char *dst, unsigned len, uint64_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t words[3] = { (uint64_t)g_ld.run_id << 32 | (n >> 32), n, sv_fmix64(n ^ g_ld.run_id) };
	for (unsigned i = 0; i < len; i++) {
		uint64_t w = words[(i / 16) % 3];
		dst[i] = hex[(w >> (60 - 4 * (i % 16))) & 15];
	}
}

static void ld_request(struct ld_conn *lc)
{
	const struct ld_opts *o = g_ld.o;
	struct sv_buf body = { 0 };
	char tok[SV_TOKEN_BYTES_MAX];
	if (o->vendor == SV_HUAWEI)
		buf_puts(&body, "{\"validate_only\":false,\"message\":{\"notification\":{\"title\":\"load\",\"body\":\"load\"},"
				"\"android\":{\"notification\":{\"title\":\"load\",\"body\":\"load\",\"click_action\":{\"type\":3}}},"
				"\"token\":[");
	else
		buf_puts(&body, "restricted_package_name=com.example.load&pass_through=0&notify_type=-1&title=load"
				"&description=load&registration_id=");
	buf_reserve(&body, (size_t)o->batch * (o->token_bytes + 3) + 8);
	for (unsigned i = 0; i < o->batch; i++) {
		ld_token(tok, o->token_bytes, g_ld.next_token++);
		if (o->vendor == SV_HUAWEI) {
			if (i)
				body.p[body.len++] = ',';
			body.p[body.len++] = '"';
			memcpy(body.p + body.len, tok, o->token_bytes);
			body.len += o->token_bytes;
			body.p[body.len++] = '"';
		} else {
			if (i)
				body.p[body.len++] = ',';
			memcpy(body.p + body.len, tok, o->token_bytes);
			body.len += o->token_bytes;
		}
	}
	if (o->vendor == SV_HUAWEI)
		buf_puts(&body, "]}}");
	if (o->vendor == SV_HUAWEI)
		buf_printf(&lc->out, "POST /v1/10000001/messages:send HTTP/1.1\r\nHost: load\r\n"
				     "Authorization: Bearer load\r\nContent-Type: application/json; charset=UTF-8\r\n"
				     "Content-Length: %zu\r\n\r\n", body.len);
	else
		buf_printf(&lc->out, "POST /v3/message/regid HTTP/1.1\r\nHost: load\r\nAuthorization: key=load\r\n"
				     "Content-Type: application/x-www-form-urlencoded;charset=UTF-8\r\n"
				     "Content-Length: %zu\r\n\r\n", body.len);
	buf_put(&lc->out, body.p, body.len);
	buf_free(&body);
	lc->outstanding++;
}

static int ld_on_body(http_parser *p, const char *at, size_t n)
{
	struct ld_conn *lc = p->data;
	size_t room = sizeof(lc->head) - lc->head_len;
	if (n > room)
		n = room;
	memcpy(lc->head + lc->head_len, at, n);
	lc->head_len += n;
	return 0;
}

static int ld_on_complete(http_parser *p)
{
	struct ld_conn *lc = p->data;
	static const char hw_ok[] = "{\"code\":\"80000000\"", mi_ok[] = "{\"result\":\"ok\"";
	const char *want = g_ld.o->vendor == SV_HUAWEI ? hw_ok : mi_ok;
	size_t wlen = strlen(want);
	if (p->status_code == 200 && lc->head_len >= wlen && memcmp(lc->head, want, wlen) == 0)
		g_ld.ok++;
	else
		g_ld.errors++;
	lc->head_len = 0;
	ALWAYS(lc->outstanding > 0);
	lc->outstanding--;
	return 0;
}

static double ld_proc_cpu_s(long pid)
{
	char path[64], line[2048];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = 0;
	const char *p = strrchr(line, ')');
	if (!p)
		return -1;
	unsigned long ut = 0, st = 0;
	/* after ")": state(3) ... utime(14) stime(15) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* send what is buffered; EPOLLOUT is asked for only while some is left */
static int ld_flush(int ep, struct ld_conn *lc)
{
	while (lc->out_off < lc->out.len) {
		ssize_t n = send(lc->fd, lc->out.p + lc->out_off, lc->out.len - lc->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			lc->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!lc->want_out) {
				struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = lc };
				lc->want_out = true;
				if (epoll_ctl(ep, EPOLL_CTL_MOD, lc->fd, &ev))
					return -errno;
			}
			return 0;
		}
		return -EIO;
	}
	lc->out.len = lc->out_off = 0;
	if (lc->want_out) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = lc };
		lc->want_out = false;
		if (epoll_ctl(ep, EPOLL_CTL_MOD, lc->fd, &ev))
			return -errno;
	}
	return 0;
}

static int sv_load_main(const struct ld_opts *o)
{
	static const http_parser_settings settings = { .on_body = ld_on_body, .on_message_complete = ld_on_complete };
	g_ld.o = o;
	g_ld.run_id = (uint32_t)(sv_wall_ms() ^ ((uint64_t)getpid() << 16));
	struct ld_conn *conns = sv_zalloc(o->conns * sizeof(*conns));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		sv_die("epoll_create1");
	for (unsigned i = 0; i < o->conns; i++) {
		struct ld_conn *lc = &conns[i];
		lc->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lc->fd < 0 || connect(lc->fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)))
			sv_die("load: connect");
		int one = 1;
		setsockopt(lc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(lc->fd, F_SETFL, fcntl(lc->fd, F_GETFL) | O_NONBLOCK);
		http_parser_init(&lc->parser, HTTP_RESPONSE);
		lc->parser.data = lc;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = lc };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, lc->fd, &ev))
			sv_die("epoll_ctl");
	}
	double cpu0 = o->server_pid ? ld_proc_cpu_s(o->server_pid) : -1;
	uint64_t t0 = sv_now_ns(), end = t0 + (uint64_t)(o->seconds * 1e9);
	int rc = 0;
	for (unsigned i = 0; i < o->conns && !rc; i++) {
		for (unsigned d = 0; d < o->depth; d++)
			ld_request(&conns[i]);
		rc = ld_flush(ep, &conns[i]);
	}
	unsigned busy = o->conns;
	char *rbuf = sv_alloc(SV_RECV_BYTES);
	while (busy && !rc) {
		struct epoll_event evs[SV_EPOLL_EVENTS_MAX];
		int n = epoll_wait(ep, evs, (int)SV_EPOLL_EVENTS_MAX, 1000);
		if (n < 0 && errno != EINTR)
			sv_die("epoll_wait");
		for (int i = 0; i < n && !rc; i++) {
			struct ld_conn *lc = evs[i].data.ptr;
			if (lc->fd < 0)
				continue;
			if ((evs[i].events & EPOLLOUT) && ld_flush(ep, lc))
				rc = -EIO;
			if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			ssize_t k = recv(lc->fd, rbuf, SV_RECV_BYTES, 0);
			if (k < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (k <= 0) {
				fprintf(stderr, "herald-vendorsim: load: the server closed a connection\n");
				rc = -EIO;
				break;
			}
			http_parser_execute(&lc->parser, &settings, rbuf, (size_t)k);
			if (HTTP_PARSER_ERRNO(&lc->parser) != HPE_OK) {
				fprintf(stderr, "herald-vendorsim: load: bad answer\n");
				rc = -EPROTO;
				break;
			}
			if (lc->outstanding)
				continue;
			if (sv_now_ns() >= end) {
				close(lc->fd);
				lc->fd = -1;
				busy--;
				continue;
			}
			for (unsigned d = 0; d < o->depth; d++)
				ld_request(lc);
			if (ld_flush(ep, lc))
				rc = -EIO;
		}
	}
	double secs = (double)(sv_now_ns() - t0) * 1e-9;
	double cpu1 = o->server_pid ? ld_proc_cpu_s(o->server_pid) : -1;
	uint64_t tokens = g_ld.ok * o->batch;
	printf("name=vendorsim_load vendor=%s batch=%u token_bytes=%u conns=%u depth=%u requests=%" PRIu64
	       " errors=%" PRIu64 " seconds=%.3f tokens=%" PRIu64 " tokens_per_sec=%.0f",
	       sv_vendor_names[o->vendor], o->batch, o->token_bytes, o->conns, o->depth, g_ld.ok, g_ld.errors, secs,
	       tokens, (double)tokens / secs);
	if (cpu0 >= 0 && cpu1 >= 0) {
		double cpu = cpu1 - cpu0;
		printf(" server_cpu_s=%.3f server_cpu_util=%.2f server_tokens_per_cpu_sec=%.0f", cpu, cpu / secs,
		       cpu > 0 ? (double)tokens / cpu : 0.0);
	}
	printf("\n");
	fflush(stdout);
	for (unsigned i = 0; i < o->conns; i++) {
		if (conns[i].fd >= 0)
			close(conns[i].fd);
		buf_free(&conns[i].out);
	}
	free(conns);
	free(rbuf);
	close(ep);
	return rc || g_ld.errors ? 1 : 0;
}

/* ---- options ----------------------------------------------------------------------------- */
static void sv_usage(FILE *f)
{
	fprintf(f,
		"usage: herald-vendorsim [options]            play every vendor over HTTP/1.1\n"
		"       herald-vendorsim --load ADDR:PORT [load options]   load generator\n"
		"\n"
		"Vendors: huawei xiaomi oppo vivo sms webhook. Prints \"listening ADDR:PORT\" first;\n"
		"SIGTERM or SIGINT ends it (exit 0). Details: bench/README.md, herald-vendorsim.\n"
		"\n"
		"  --listen ADDR:PORT          IPv4 address to listen on; port 0 picks one (127.0.0.1:0)\n"
		"  --threads N                 worker threads, one SO_REUSEPORT listener each (1, max %u)\n"
		"  --invalid-prefix P          addresses starting with P are invalid; \"\" for none (bad)\n"
		"  --invalid-per-10000 N       also invalid when fnv1a64(address) %% 10000 < N (0)\n"
		"  --latency-ms P50,P99        answer delay, log-normal with these percentiles (0,0: none)\n"
		"  --error VENDOR:CODE[@HTTP]:RATE\n"
		"                              answer RATE of VENDOR's requests with CODE (repeatable; none).\n"
		"                              CODE 100..599 without @ is an HTTP status with a text body;\n"
		"                              otherwise a vendor body code, at the HTTP status its table\n"
		"                              gives or @HTTP (e.g. huawei:503:0.01, xiaomi:200001:0.05,\n"
		"                              sms:isp.SYSTEM_ERROR:0.1, oppo:-2@503:0.1)\n"
		"  --garbage RATE              answer RATE of all vendor requests with HTTP 200 and HTML (0)\n"
		"  --seed N                    seed of --error, --garbage, --latency-ms, receipts (1)\n"
		"  --rate VENDOR=N[/BURST]     token bucket, N addresses per second; BURST defaults to\n"
		"                              max(N/10, 1000), one full batch; starts full (none)\n"
		"  --quota VENDOR=N            N addresses per process lifetime, then the quota answer (none)\n"
		"  --auth VENDOR=VALUE         only this credential is accepted (any non-empty one)\n"
		"  --sms-secret S              verify the SendSms HMAC-SHA1 signature with secret S (no check)\n"
		"  --ledger-file PATH          write the ledger there on SIGTERM / SIGINT (none)\n"
		"  --callback VENDOR=URL       POST receipts of VENDOR to http://HOST:PORT/PATH (repeatable; none)\n"
		"  --delivered RATIO           share of accepted addresses with a delivery receipt (0)\n"
		"  --clicked RATIO             share of delivered addresses also clicked (0)\n"
		"  --callback-delay-ms D       receipts leave D ms after the acceptance (0)\n"
		"  --help                      this text\n"
		"\n"
		"Load generator (--load):\n"
		"  --load ADDR:PORT            the simulator to load\n"
		"  --vendor huawei|xiaomi      request shape (huawei)\n"
		"  --conns N                   connections (4, max %u)\n"
		"  --depth N                   pipelined requests per connection per round (2, max %u)\n"
		"  --seconds S                 run time (5)\n"
		"  --batch N                   addresses per request, all new (1000)\n"
		"  --token-bytes N             bytes per address, 24..%u (40)\n"
		"  --server-pid PID            also report the server's CPU time per address (none)\n",
		SV_THREADS_MAX, SV_LOAD_CONNS_MAX, SV_LOAD_DEPTH_MAX, SV_TOKEN_BYTES_MAX);
}

static void sv_bad_option(const char *opt, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void sv_bad_option(const char *opt, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "herald-vendorsim: --%s: ", opt);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see --help)\n");
	exit(2);
}

static bool parse_u64(const char *s, uint64_t *v)
{
	if (!*s || *s == '-' || *s == '+')
		return false;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

static bool parse_double(const char *s, double *v)
{
	if (!*s)
		return false;
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (errno || *end || !isfinite(x))
		return false;
	*v = x;
	return true;
}

static uint64_t opt_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
	uint64_t v;
	if (!parse_u64(s, &v) || v < lo || v > hi)
		sv_bad_option(opt, "'%s' is not an integer in %" PRIu64 "..%" PRIu64, s, lo, hi);
	return v;
}

static double opt_ratio(const char *opt, const char *s)
{
	double v;
	if (!parse_double(s, &v) || v < 0 || v > 1)
		sv_bad_option(opt, "'%s' is not a number in 0..1", s);
	return v;
}

static void opt_addr(const char *opt, const char *s, struct sockaddr_in *a)
{
	const char *colon = strrchr(s, ':');
	char ip[64];
	uint64_t port;
	if (!colon || (size_t)(colon - s) >= sizeof(ip) || !parse_u64(colon + 1, &port) || port > 65535)
		sv_bad_option(opt, "'%s' is not IPV4:PORT", s);
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, ip, &a->sin_addr) != 1)
		sv_bad_option(opt, "'%s' is not an IPv4 address", ip);
}

/* "vendor=rest" -> vendor, *rest */
static int opt_vendor_eq(const char *opt, const char *s, const char **rest)
{
	const char *eq = strchr(s, '=');
	int v = eq ? sv_vendor_parse(s, (size_t)(eq - s)) : -1;
	if (v < 0)
		sv_bad_option(opt, "'%s' is not VENDOR=VALUE with VENDOR one of huawei xiaomi oppo vivo sms webhook", s);
	*rest = eq + 1;
	return v;
}

static bool code_is_int(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* VENDOR:CODE[@HTTP]:RATE */
static void opt_error(const char *s)
{
	const char *c1 = strchr(s, ':'), *c2 = strrchr(s, ':');
	if (!c1 || c1 == c2)
		sv_bad_option("error", "'%s' is not VENDOR:CODE[@HTTP]:RATE", s);
	int v = sv_vendor_parse(s, (size_t)(c1 - s));
	if (v < 0)
		sv_bad_option("error", "unknown vendor in '%s' (huawei xiaomi oppo vivo sms webhook)", s);
	if (g_cfg.faults_n[v] == SV_FAULTS_MAX)
		sv_bad_option("error", "more than %u for %s", SV_FAULTS_MAX, sv_vendor_names[v]);
	struct sv_fault *f = &g_cfg.faults[v][g_cfg.faults_n[v]];
	char code[64];
	size_t clen = (size_t)(c2 - c1 - 1);
	if (clen == 0 || clen >= sizeof(code))
		sv_bad_option("error", "bad CODE in '%s'", s);
	memcpy(code, c1 + 1, clen);
	code[clen] = 0;
	f->rate = opt_ratio("error", c2 + 1);
	char *at = strchr(code, '@');
	int status = 0;
	if (at) {
		*at = 0;
		uint64_t h;
		if (!parse_u64(at + 1, &h) || h < 100 || h > 599)
			sv_bad_option("error", "'%s' is not an HTTP status 100..599", at + 1);
		status = (int)h;
	}
	uint64_t num;
	const struct sv_vendor_def *vd = &sv_vendor_defs[v];
	if (!at && parse_u64(code, &num) && num >= 100 && num <= 599) {
		f->http = true;
		f->status = (int)num;
	} else {
		if (v == SV_WEBHOOK)
			sv_bad_option("error", "the webhook has no body codes: give an HTTP status ('%s')", s);
		if (vd->numeric_codes && !code_is_int(code))
			sv_bad_option("error", "%s codes are integers ('%s')", sv_vendor_names[v], code);
		if (strlen(code) >= sizeof(f->code))
			sv_bad_option("error", "code too long ('%s')", code);
		for (const char *const *ok = vd->success; *ok; ok++)
			if (strcmp(*ok, code) == 0)
				sv_bad_option("error", "%s means success for %s", code, sv_vendor_names[v]);
		strcpy(f->code, code);
		f->msg = "injected error";
		f->status = vd->code_http_default;
		for (size_t i = 0; i < vd->codes_n; i++) {
			if (strcmp(vd->codes[i].code, code) == 0) {
				f->msg = vd->codes[i].msg;
				f->status = vd->codes[i].http;
			}
		}
		if (status)
			f->status = status;
	}
	g_cfg.faults_n[v]++;
}

static void opt_latency(const char *s)
{
	const char *comma = strchr(s, ',');
	char a[32];
	double p50, p99;
	if (!comma || (size_t)(comma - s) >= sizeof(a))
		sv_bad_option("latency-ms", "'%s' is not P50,P99", s);
	memcpy(a, s, (size_t)(comma - s));
	a[comma - s] = 0;
	if (!parse_double(a, &p50) || !parse_double(comma + 1, &p99) || p50 < 0 || p99 < p50 ||
	    p99 > SV_LATENCY_MS_MAX || (p50 == 0 && p99 > 0))
		sv_bad_option("latency-ms", "'%s' needs 0 < P50 <= P99 <= %.0f (or 0,0)", s, SV_LATENCY_MS_MAX);
	g_cfg.latency_p50_ms = p50;
	g_cfg.latency_p99_ms = p99;
	if (p50 > 0) {
		g_cfg.latency_mu = log(p50);
		g_cfg.latency_sigma = (log(p99) - log(p50)) / 2.3263478740408408; /* z of 0.99 */
	}
}

enum {
	OPT_LISTEN = 256, OPT_THREADS, OPT_INVALID_PREFIX, OPT_INVALID_PER, OPT_LATENCY, OPT_ERROR, OPT_GARBAGE,
	OPT_SEED, OPT_RATE, OPT_QUOTA, OPT_AUTH, OPT_SMS_SECRET, OPT_LEDGER_FILE, OPT_CALLBACK, OPT_DELIVERED,
	OPT_CLICKED, OPT_CALLBACK_DELAY, OPT_HELP, OPT_LOAD, OPT_VENDOR, OPT_CONNS, OPT_DEPTH, OPT_SECONDS,
	OPT_BATCH, OPT_TOKEN_BYTES, OPT_SERVER_PID,
};

static const struct option sv_options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "invalid-prefix", required_argument, NULL, OPT_INVALID_PREFIX },
	{ "invalid-per-10000", required_argument, NULL, OPT_INVALID_PER },
	{ "latency-ms", required_argument, NULL, OPT_LATENCY },
	{ "error", required_argument, NULL, OPT_ERROR },
	{ "garbage", required_argument, NULL, OPT_GARBAGE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "quota", required_argument, NULL, OPT_QUOTA },
	{ "auth", required_argument, NULL, OPT_AUTH },
	{ "sms-secret", required_argument, NULL, OPT_SMS_SECRET },
	{ "ledger-file", required_argument, NULL, OPT_LEDGER_FILE },
	{ "callback", required_argument, NULL, OPT_CALLBACK },
	{ "delivered", required_argument, NULL, OPT_DELIVERED },
	{ "clicked", required_argument, NULL, OPT_CLICKED },
	{ "callback-delay-ms", required_argument, NULL, OPT_CALLBACK_DELAY },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "load", required_argument, NULL, OPT_LOAD },
	{ "vendor", required_argument, NULL, OPT_VENDOR },
	{ "conns", required_argument, NULL, OPT_CONNS },
	{ "depth", required_argument, NULL, OPT_DEPTH },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "token-bytes", required_argument, NULL, OPT_TOKEN_BYTES },
	{ "server-pid", required_argument, NULL, OPT_SERVER_PID },
	{ NULL, 0, NULL, 0 },
};
_Static_assert(SV_N(sv_options) == OPT_SERVER_PID - OPT_LISTEN + 2, "one option per enum value, in order");

/* 0: run the simulator; 1: run the load generator (*lo filled) */
static int sv_parse_options(int argc, char **argv, struct ld_opts *lo)
{
	bool load = false, load_only = false, server_only = false;
	g_cfg.threads = 1;
	g_cfg.invalid_prefix = "bad";
	g_cfg.seed = 1;
	opt_addr("listen", "127.0.0.1:0", &g_cfg.listen);
	*lo = (struct ld_opts){ .vendor = SV_HUAWEI, .conns = 4, .depth = 2, .batch = 1000, .token_bytes = 40, .seconds = 5 };
	opterr = 0;
	for (;;) {
		int idx = 0, c = getopt_long(argc, argv, ":", sv_options, &idx);
		if (c == -1)
			break;
		const char *name = c >= OPT_LISTEN && c <= OPT_SERVER_PID ? sv_options[c - OPT_LISTEN].name : "";
		const char *rest;
		int v;
		double d;
		if (c > OPT_LOAD && c <= OPT_SERVER_PID)
			load_only = true;
		else if (c >= OPT_LISTEN && c < OPT_HELP)
			server_only = true;
		switch (c) {
		case OPT_LISTEN: opt_addr(name, optarg, &g_cfg.listen); break;
		case OPT_THREADS: g_cfg.threads = (unsigned)opt_u64(name, optarg, 1, SV_THREADS_MAX); break;
		case OPT_INVALID_PREFIX: g_cfg.invalid_prefix = optarg; break;
		case OPT_INVALID_PER: g_cfg.invalid_per_10000 = (unsigned)opt_u64(name, optarg, 0, 10000); break;
		case OPT_LATENCY: opt_latency(optarg); break;
		case OPT_ERROR: opt_error(optarg); break;
		case OPT_GARBAGE: g_cfg.garbage = opt_ratio(name, optarg); break;
		case OPT_SEED: g_cfg.seed = opt_u64(name, optarg, 0, UINT64_MAX); break;
		case OPT_RATE: {
			v = opt_vendor_eq(name, optarg, &rest);
			char num[64];
			const char *slash = strchr(rest, '/');
			size_t nlen = slash ? (size_t)(slash - rest) : strlen(rest);
			if (nlen >= sizeof(num))
				sv_bad_option(name, "'%s' is not VENDOR=N[/BURST]", optarg);
			memcpy(num, rest, nlen);
			num[nlen] = 0;
			if (!parse_double(num, &d) || d <= 0)
				sv_bad_option(name, "'%s': N must be a number > 0", optarg);
			g_cfg.rate_per_s[v] = d;
			g_cfg.burst[v] = d / 10 > SV_BATCH_TOKENS_MAX ? d / 10 : SV_BATCH_TOKENS_MAX;
			if (slash) {
				if (!parse_double(slash + 1, &d) || d < 1)
					sv_bad_option(name, "'%s': BURST must be a number >= 1", optarg);
				g_cfg.burst[v] = d;
			}
			g_cfg.rate_on[v] = true;
			break;
		}
		case OPT_QUOTA:
			v = opt_vendor_eq(name, optarg, &rest);
			g_cfg.quota[v] = opt_u64(name, rest, 0, UINT64_MAX);
			g_cfg.quota_on[v] = true;
			break;
		case OPT_AUTH:
			v = opt_vendor_eq(name, optarg, &rest);
			if (!*rest)
				sv_bad_option(name, "'%s': the credential is empty", optarg);
			g_cfg.auth[v] = rest;
			break;
		case OPT_SMS_SECRET:
			if (!*optarg || strlen(optarg) > SV_SMS_SECRET_BYTES_MAX)
				sv_bad_option(name, "the secret must be 1 to %u bytes", SV_SMS_SECRET_BYTES_MAX);
			g_cfg.sms_secret = optarg;
			break;
		case OPT_LEDGER_FILE: g_cfg.ledger_file = optarg; break;
		case OPT_CALLBACK: {
			v = opt_vendor_eq(name, optarg, &rest);
			struct sv_cb_target t;
			if (sv_url_parse(rest, &t))
				sv_bad_option(name, "'%s' is not http://HOST:PORT/PATH", rest);
			g_cfg.callback_url[v] = rest;
			g_cfg.callbacks_on = true;
			break;
		}
		case OPT_DELIVERED: g_cfg.delivered = opt_ratio(name, optarg); break;
		case OPT_CLICKED: g_cfg.clicked = opt_ratio(name, optarg); break;
		case OPT_CALLBACK_DELAY: g_cfg.callback_delay_ms = (unsigned)opt_u64(name, optarg, 0, 3600000); break;
		case OPT_HELP: sv_usage(stdout); exit(0);
		case OPT_LOAD: load = true; opt_addr(name, optarg, &lo->addr); break;
		case OPT_VENDOR:
			v = sv_vendor_parse(optarg, strlen(optarg));
			if (v != SV_HUAWEI && v != SV_XIAOMI)
				sv_bad_option(name, "'%s': the load generator speaks huawei or xiaomi", optarg);
			lo->vendor = v;
			break;
		case OPT_CONNS: lo->conns = (unsigned)opt_u64(name, optarg, 1, SV_LOAD_CONNS_MAX); break;
		case OPT_DEPTH: lo->depth = (unsigned)opt_u64(name, optarg, 1, SV_LOAD_DEPTH_MAX); break;
		case OPT_SECONDS:
			if (!parse_double(optarg, &d) || d <= 0 || d > 3600)
				sv_bad_option(name, "'%s' is not a number of seconds in (0, 3600]", optarg);
			lo->seconds = d;
			break;
		case OPT_BATCH: lo->batch = (unsigned)opt_u64(name, optarg, 1, SV_BATCH_TOKENS_MAX); break;
		case OPT_TOKEN_BYTES: lo->token_bytes = (unsigned)opt_u64(name, optarg, 24, SV_TOKEN_BYTES_MAX); break;
		case OPT_SERVER_PID: lo->server_pid = (long)opt_u64(name, optarg, 1, INT_MAX); break;
		case ':':
			fprintf(stderr, "herald-vendorsim: %s needs a value (see --help)\n", argv[optind - 1]);
			exit(2);
		default:
			fprintf(stderr, "herald-vendorsim: unknown option %s (see --help)\n", argv[optind - 1]);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "herald-vendorsim: unexpected argument '%s' (see --help)\n", argv[optind]);
		exit(2);
	}
	if (load && server_only) {
		fprintf(stderr, "herald-vendorsim: --load takes only the load generator's options (see --help)\n");
		exit(2);
	}
	if (!load && load_only) {
		fprintf(stderr, "herald-vendorsim: --vendor, --conns, --depth, --seconds, --batch, --token-bytes and "
				"--server-pid need --load (see --help)\n");
		exit(2);
	}
	if (load)
		return 1;
	g_cfg.invalid_prefix_len = strlen(g_cfg.invalid_prefix);
	for (int vv = 0; vv < SV_VENDORS; vv++) {
		double sum = g_cfg.garbage;
		for (unsigned i = 0; i < g_cfg.faults_n[vv]; i++)
			sum += g_cfg.faults[vv][i].rate;
		if (sum > 1.0 + 1e-9) {
			fprintf(stderr, "herald-vendorsim: --error rates of %s plus --garbage exceed 1 (see --help)\n",
				sv_vendor_names[vv]);
			exit(2);
		}
	}
	if (g_cfg.callbacks_on && g_cfg.delivered <= 0)
		fprintf(stderr, "herald-vendorsim: note: --callback without --delivered sends no receipts\n");
	return 0;
}

/* ---- main -------------------------------------------------------------------------------- */
static int sv_listener(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) || listen(fd, SV_LISTEN_BACKLOG)) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static void sv_worker_init(struct sv_worker *w, unsigned index, int lfd)
{
	w->index = index;
	w->lfd = lfd;
	w->rng_fault.s = sv_fmix64(g_cfg.seed ^ 0x6661756c74ull) + index * 0x9e3779b97f4a7c15ull;
	w->rng_latency.s = sv_fmix64(g_cfg.seed ^ 0x6c6174656e6379ull) + index * 0x9e3779b97f4a7c15ull;
	w->rng_receipt.s = sv_fmix64(g_cfg.seed ^ 0x72656365697074ull) + index * 0x9e3779b97f4a7c15ull;
	w->recv = sv_alloc(SV_RECV_BYTES);
	w->ring = aligned_alloc(64, sizeof(struct sv_ring));
	if (!w->ring)
		sv_die("aligned_alloc");
	atomic_init(&w->ring->head, 0);
	atomic_init(&w->ring->tail, 0);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->stopfd < 0)
		sv_die("epoll_create1 / eventfd");
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->lfd };
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, lfd, &ev))
		sv_die("epoll_ctl listener");
	ev.data.ptr = &w->stopfd;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->stopfd, &ev))
		sv_die("epoll_ctl eventfd");
}

static void sv_worker_fini(struct sv_worker *w)
{
	w->heap_n = 0; /* the timers are dropped with their answers */
	while (w->conn_list) {
		struct sv_conn *c = w->conn_list;
		c->timers = 0;
		if (c->closed)
			sv_conn_free(c);
		else
			sv_conn_close(c); /* frees c */
	}
	free(w->heap);
	close(w->epfd);
	close(w->stopfd);
	close(w->lfd);
	free(w->recv);
	free(w->ring);
	buf_free(&w->body);
	buf_free(&w->decode);
	buf_free(&w->aux);
}

int main(int argc, char **argv)
{
	struct ld_opts lo;
	sv_json_tables_init();
	sv_vendor_rank_init();
	if (sv_parse_options(argc, argv, &lo))
		return sv_load_main(&lo);

	g_start_ms = sv_wall_ms();
	signal(SIGPIPE, SIG_IGN);
	sigset_t stop_set;
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_set, NULL); /* every thread inherits it; main sigwait()s */

	for (unsigned i = 0; i < SV_LEDGER_SHARDS; i++)
		pthread_mutex_init(&g_ledger[i].mu, NULL);
	g_ledger_locking = g_cfg.threads > 1;
	uint64_t now = sv_now_ns();
	for (int v = 0; v < SV_VENDORS; v++) {
		pthread_mutex_init(&g_limits[v].mu, NULL);
		g_limits[v].tokens = g_cfg.burst[v];
		g_limits[v].last_ns = now;
	}

	g_workers_n = g_cfg.threads;
	g_workers = sv_zalloc(g_workers_n * sizeof(*g_workers));
	struct sockaddr_in addr = g_cfg.listen;
	for (unsigned i = 0; i < g_workers_n; i++) {
		int fd = sv_listener(&addr);
		if (fd < 0) {
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof(ip));
			fprintf(stderr, "herald-vendorsim: listen %s:%u: %s\n", ip, ntohs(addr.sin_port), strerror(-fd));
			return 1;
		}
		if (i == 0) {
			socklen_t len = sizeof(addr);
			if (getsockname(fd, (struct sockaddr *)&addr, &len))
				sv_die("getsockname");
		}
		sv_worker_init(&g_workers[i], i, fd);
	}

	if (g_cfg.callbacks_on) {
		g_cb = sv_zalloc(sizeof(*g_cb));
		for (int v = 0; v < SV_VENDORS; v++) {
			g_cb->target[v].fd = -1;
			if (g_cfg.callback_url[v])
				ALWAYS(sv_url_parse(g_cfg.callback_url[v], &g_cb->target[v]) == 0);
		}
		if (pthread_create(&g_cb->thread, NULL, sv_cb_main, g_cb))
			sv_die("pthread_create");
	}
	for (unsigned i = 0; i < g_workers_n; i++)
		if (pthread_create(&g_workers[i].thread, NULL, sv_worker_main, &g_workers[i]))
			sv_die("pthread_create");

	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof(ip));
	printf("listening %s:%u\n", ip, ntohs(addr.sin_port));
	fflush(stdout);

	int sig = 0;
	while (sigwait(&stop_set, &sig) != 0)
		;
	atomic_store(&g_stop, true);
	for (unsigned i = 0; i < g_workers_n; i++) {
		uint64_t one = 1;
		if (write(g_workers[i].stopfd, &one, sizeof(one)) != sizeof(one))
			sv_die("eventfd write");
	}
	for (unsigned i = 0; i < g_workers_n; i++)
		pthread_join(g_workers[i].thread, NULL);
	if (g_cb) {
		pthread_join(g_cb->thread, NULL);
		sv_cb_free(g_cb);
	}

	int rc = 0;
	if (g_cfg.ledger_file) {
		int err = ledger_dump_file(g_cfg.ledger_file);
		if (err) {
			fprintf(stderr, "herald-vendorsim: --ledger-file %s: %s\n", g_cfg.ledger_file, strerror(-err));
			rc = 1;
		}
	}
	for (unsigned i = 0; i < g_workers_n; i++)
		sv_worker_fini(&g_workers[i]);
	free(g_workers);
	for (unsigned i = 0; i < SV_LEDGER_SHARDS; i++) {
		ledger_shard_clear(&g_ledger[i]);
		pthread_mutex_destroy(&g_ledger[i].mu);
	}
	for (int v = 0; v < SV_VENDORS; v++)
		pthread_mutex_destroy(&g_limits[v].mu);
	return rc;
}
