/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fanout_bench - in-process fan-out throughput on one thread: enumerate,
 * resolve, render, batch, "send" and record, with no engine, no sockets
 * and no event log (fanout/run.h driven directly).
 *
 *   fanout_bench [--users N] [--repeat R] [--sink null|encode] [--personal]
 *                [--tag-expr EXPR] [--mix] [--receipts count|encode]
 *                [--layout id|hash] [--no-walk]
 *
 * Set-up (not timed as fan-out): a struct sto_users table of N users of
 * one app, "user-<i>", each with one push device (Huawei, or with --mix
 * Huawei / Xiaomi / OPPO / vivo in turn) holding a 64-byte token, the tags
 * "all", "even" (even i) and "three" (i % 3 == 0), and a "name" attribute.
 * They are created in order of i (--layout id, the default: the arena holds
 * them in an order unrelated to the hash order fan-out walks them in, as
 * users that arrive over time) or in the index's hash order (--layout hash:
 * the walk reads the arena front to back, as if the store kept its blocks
 * in hash order; table_bytes then counts the freed blocks of placeholder
 * users, see fill_users).
 * A struct fan_core over that table, with stand-ins for the core around
 * the pipeline:
 *
 *   owner()          sto_user_hash with a fixed key; everything is core 0's
 *   receipt()        counts it; --receipts encode also writes it with
 *                    sto_receipt_encode into a reused 1 MiB buffer
 *   events_durable() UINT64_MAX (every receipt is durable at once)
 *   invalid()        0 (never called: every answer is a success)
 *   progress()       0
 *   send()           --sink null: NULL, fanout's own null sink (every
 *                    address accepted at once, no request encoded);
 *                    --sink encode: fanout encodes the vendor's real HTTP
 *                    request, send() takes its bytes and queues the batch,
 *                    and the loop answers every queued batch after each
 *                    fan_core_poll with HTTP 200 and the vendor's documented
 *                    success body (docs/VENDORS.md), which fanout parses.
 *
 * Each of R campaigns (CAMPAIGN_CREATE bodies, docs/PROTOCOL.md 5.10:
 * audience 4 "all", or 3 with --tag-expr; channel push; --personal puts
 * "{{name}}" in the body, so each address is rendered on its own and, but
 * for OPPO, goes in its own vendor call) runs to local_done with
 * fan_core_poll in a loop on a monotonic clock. One line per campaign:
 *
 *   name=fanout_<sink>_<broadcast|personal> run=i users=N recipients=...
 *   seconds=... recipients_per_sec=... cpu_s=... recipients_per_cpu_sec=...
 *   calls=... poll_s=... answer_s=... req_bytes_per_recipient=...
 *
 * seconds is poll_s + answer_s: wall time inside fan_core_poll and inside
 * fan_batch_answer (the bench's own making of answer bodies is left out).
 * cpu_s is the thread's CPU time over the campaign, less that making of
 * answers: on a shared machine it leaves out the time the thread waited
 * for a CPU.
 * Before the campaigns, two lines give the floor under any campaign on
 * this table: the same hash-range walk over every user decoding each
 * (sto_users_view), and that plus the user hash (what owner() costs).
 *
 * For instruction counts (repeatable on this machine, wall time is not):
 *   valgrind --tool=callgrind --toggle-collect=fan_core_poll \
 *            --toggle-collect=fan_batch_answer build/bench/fanout_bench --users 100000
 * and divide the total by recipients (bench/run_fanout.sh does this).
 *
 * Exit status 1 if any campaign does not end with every recipient sent
 * and receipted exactly once.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "base/htab32.h"
#include "fanout/campaign.h"
#include "fanout/run.h"
#include "include/herald_proto.h"
#include "store/events.h"
#include "store/users.h"

#define BENCH_APP            1u
#define BENCH_TOKEN_BYTES    64u
#define BENCH_PARTITIONS     1024u
#define BENCH_RECEIPT_BUF    (1u << 20)
#define BENCH_ANSWER_BYTES   (FAN_BATCH_TOKENS_MAX * 160u + 256u)
#define BENCH_STALL_SECONDS  30.0 /* a campaign that moves no address for this long is a failure */

static const struct base_hash_key bench_key = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };

static const char *const names[] = { "Ann", "Bo", "Chen Wei", "Dolores", "\xc3\x89lodie",
				     "Jo\xc3\xa3o", "Kai", "\xe6\x9d\x8e\xe9\x9b\xb7" };
static const uint8_t mix_vendors[] = { HRL_VENDOR_HUAWEI, HRL_VENDOR_XIAOMI, HRL_VENDOR_OPPO, HRL_VENDOR_VIVO };
static const uint8_t mix_targets[] = { FAN_T_HUAWEI, FAN_T_XIAOMI, FAN_T_OPPO, FAN_T_VIVO };

struct bench {
	/* what the env callbacks count */
	uint64_t receipts, receipts_sent;
	uint64_t lsn;
	uint8_t *rbuf;
	size_t rbuf_len;
	uint64_t req_bytes;
	/* batches sent and not yet answered (--sink encode) */
	struct fan_batch **q;
	size_t q_len, q_cap;
	bool q_overflow;
	bool encode_receipts;
};

static struct sto_users users;
static struct fan_core core;

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread: what a core spent, whatever else the machine ran */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- the table -------------------------------------------------------------------------- */

struct by_hash {
	uint32_t hash, i;
};

static int by_hash_cmp(const void *a, const void *b)
{
	const struct by_hash *x = a, *y = b;
	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/*
 * The users, created in order of i (layout "id": the arena holds them in
 * that order, unrelated to the hash order fan-out walks them in) or in the
 * index's hash order (layout "hash": the walk reads the arena front to back).
 */
static int fill_users(unsigned long n, bool mix, bool hash_layout)
{
	static const char hex[] = "0123456789abcdef";
	char id[32], token[BENCH_TOKEN_BYTES];
	static const struct sto_bytes tag_all = { "all", 3 }, tag_even = { "even", 4 }, tag_three = { "three", 5 };
	static const struct sto_bytes key_name = { "name", 4 };
	struct by_hash *order = NULL;
	if (hash_layout) {
		order = malloc(n * sizeof(*order));
		if (!order)
			return -ENOMEM;
		for (unsigned long k = 0; k < n; k++) {
			int len = snprintf(id, sizeof(id), "user-%lu", k);
			uint32_t h32 = (uint32_t)sto_user_hash(&bench_key, BENCH_APP, id, (size_t)len);
			order[k].hash = h32 << 16 | h32 >> 16; /* the walk's order: class (low 16 bits), then home */
			order[k].i = (uint32_t)k;
		}
		qsort(order, n, sizeof(*order), by_hash_cmp);
		/* Inserting in hash order into a small linear-probing index piles every key onto its
		   first slots (quadratic): grow the index first with n small placeholder users, in id
		   order, and delete them. Their blocks are of another size class than the real users',
		   so the arena does not hand them out again below. */
		static const struct sto_bytes tag_pad = { "p", 1 };
		for (unsigned long k = 0; k < n; k++) {
			int len = snprintf(id, sizeof(id), "pad-%lu", k);
			uint64_t h = sto_user_hash(&bench_key, BENCH_APP, id, (size_t)len);
			struct sto_user *u = sto_user_get(&users, h, BENCH_APP, 0, id, (size_t)len);
			if (sto_user_tags_add(u, &tag_pad, 1) != 1 || sto_user_commit(&users, u))
				goto out_inval;
		}
		for (unsigned long k = 0; k < n; k++) {
			int len = snprintf(id, sizeof(id), "pad-%lu", k);
			uint64_t h = sto_user_hash(&bench_key, BENCH_APP, id, (size_t)len);
			if (!sto_user_delete(&users, h, BENCH_APP, id, (size_t)len))
				goto out_inval;
		}
	}
	for (unsigned long k = 0; k < n; k++) {
		unsigned long i = order ? order[k].i : k;
		uint64_t seed = 42 + i * 4; /* the same token for user i in either layout */
		int len = snprintf(id, sizeof(id), "user-%lu", i);
		for (unsigned b = 0; b < BENCH_TOKEN_BYTES; b += 16) {
			uint64_t r = splitmix64(&seed);
			for (unsigned d = 0; d < 16; d++)
				token[b + d] = hex[(r >> (4 * d)) & 15];
		}
		uint64_t h = sto_user_hash(&bench_key, BENCH_APP, id, (size_t)len);
		struct sto_user *u = sto_user_get(&users, h, BENCH_APP, (uint16_t)base_hash_reduce(h, BENCH_PARTITIONS),
						  id, (size_t)len);
		uint32_t dev;
		bool created;
		uint8_t vendor = mix ? mix_vendors[i % 4] : HRL_VENDOR_HUAWEI;
		if (sto_user_bind(u, HRL_CH_PUSH, vendor, HRL_PLATFORM_ANDROID, token, sizeof(token),
				  1763780000000ull + i, &dev, &created) || !created)
			goto out_inval;
		struct sto_bytes tags[3];
		unsigned nt = 0;
		tags[nt++] = tag_all;
		if (i % 2 == 0)
			tags[nt++] = tag_even;
		if (i % 3 == 0)
			tags[nt++] = tag_three;
		if (sto_user_tags_add(u, tags, nt) < 0)
			goto out_inval;
		const char *name = names[i % (sizeof(names) / sizeof(names[0]))];
		struct sto_bytes value = { name, (uint16_t)strlen(name) };
		if (sto_user_attrs_set(u, &key_name, &value, 1))
			goto out_inval;
		int rc = sto_user_commit(&users, u);
		if (rc) {
			free(order);
			return rc;
		}
	}
	free(order);
	return users.count == n ? 0 : -EINVAL;
out_inval:
	free(order);
	return -EINVAL;
}

/* ---- the floor: walking and decoding every user ----------------------------------------- */

struct walk {
	bool hash;
	uint64_t seen, sum;
};

static void walk_visit(void *arg, uint32_t hash, uint32_t ref)
{
	struct walk *w = arg;
	struct sto_user *u = sto_users_view(&users, ref);
	(void)hash;
	w->seen++;
	w->sum += u->devices[0].address.len + u->tag_count;
	if (w->hash)
		w->sum += sto_user_hash(&bench_key, u->app_idx, u->id.p, u->id.len) & 1;
}

static void walk_all(bool hash)
{
	struct walk w = { .hash = hash };
	double t0 = mono_s(), c0 = cpu_s();
	/* the windows fanout uses: about FAN_WINDOW_USERS users each */
	uint64_t span = (FAN_HASH_END * FAN_WINDOW_USERS) / (users.count + 1);
	for (uint64_t lo = 0; lo < FAN_HASH_END; lo += span) {
		uint64_t hi = lo + span > FAN_HASH_END ? FAN_HASH_END : lo + span;
		base_htab32_classes(&users.index, (uint32_t)lo, (uint32_t)hi, walk_visit, &w);
	}
	double s = mono_s() - t0, c = cpu_s() - c0;
	printf("name=fanout_walk_%s users=%llu seconds=%.3f users_per_sec=%.0f cpu_s=%.3f users_per_cpu_sec=%.0f "
	       "check=%llu\n",
	       hash ? "view_hash" : "view", (unsigned long long)w.seen, s, (double)w.seen / s, c, (double)w.seen / c,
	       (unsigned long long)(w.sum % 1000));
}

/* ---- what the core around the pipeline provides ------------------------------------------ */

static unsigned env_owner(void *ctx, uint16_t app, const char *id, size_t len, uint64_t *hash)
{
	(void)ctx;
	*hash = sto_user_hash(&bench_key, app, id, len);
	return 0;
}

static int env_receipt(void *ctx, const struct sto_receipt *r, uint64_t *lsn)
{
	struct bench *bn = ctx;
	bn->receipts++;
	bn->receipts_sent += r->state == HRL_STATE_SENT;
	if (bn->encode_receipts) {
		size_t n = sto_receipt_bytes(r);
		if (bn->rbuf_len + n > BENCH_RECEIPT_BUF)
			bn->rbuf_len = 0;
		sto_receipt_encode(r, bn->rbuf + bn->rbuf_len);
		bn->rbuf_len += n;
	}
	*lsn = ++bn->lsn;
	return 0;
}

static uint64_t env_events_durable(void *ctx)
{
	(void)ctx;
	return UINT64_MAX;
}

static int env_invalid(void *ctx, uint16_t app, uint64_t hash, const char *uid, size_t uid_len, uint32_t device_id,
		       const char *token)
{
	(void)ctx, (void)app, (void)hash, (void)uid, (void)uid_len, (void)device_id, (void)token;
	return 0;
}

static int env_progress(void *ctx, const struct fan_run *r)
{
	(void)ctx, (void)r;
	return 0;
}

/* Take the request's bytes and queue the batch: answered from the loop, never from here. */
static int env_send(void *ctx, struct fan_core *fc, struct fan_batch *b, const struct fan_vendor *v,
		    struct fan_link *lane, const void *req, size_t len)
{
	struct bench *bn = ctx;
	(void)fc, (void)v, (void)lane, (void)req;
	if (bn->q_len == bn->q_cap) {
		size_t cap = bn->q_cap ? bn->q_cap * 2 : 4096;
		struct fan_batch **q = realloc(bn->q, cap * sizeof(*q));
		if (!q) {
			bn->q_overflow = true;
			return -EBUSY;
		}
		bn->q = q;
		bn->q_cap = cap;
	}
	bn->q[bn->q_len++] = b;
	bn->req_bytes += len;
	return 0;
}

/* ---- vendors' success answers (docs/VENDORS.md) ------------------------------------------ */

/* The documented success body for b's call into buf; its length. */
static size_t answer_body(const struct fan_batch *b, uint64_t seq, char *buf, size_t cap)
{
	switch (b->target) {
	case FAN_T_HUAWEI:
		return (size_t)snprintf(buf, cap, "{\"code\":\"80000000\",\"msg\":\"Success\",\"requestId\":\"%llu\"}",
					(unsigned long long)(157440000000000000ull + seq));
	case FAN_T_XIAOMI:
		return (size_t)snprintf(buf, cap,
					"{\"result\":\"ok\",\"trace_id\":\"Xcm%020llu\",\"code\":0,\"data\":{\"id\":"
					"\"scm%020llu\"},\"description\":\"\xe6\x88\x90\xe5\x8a\x9f\",\"info\":"
					"\"Received push messages for %u REGID\"}",
					(unsigned long long)seq, (unsigned long long)seq, b->n);
	case FAN_T_OPPO: { /* one element per regid, each with its messageId */
		size_t n = (size_t)snprintf(buf, cap, "{\"code\":0,\"message\":\"success\",\"data\":[");
		for (unsigned i = 0; i < b->n && n < cap; i++)
			n += (size_t)snprintf(buf + n, cap - n, "%s{\"messageId\":\"%llu-%u\",\"registrationId\":\"%s\"}",
					      i ? "," : "", (unsigned long long)seq, i, b->str + b->a[i].tok_off);
		if (n < cap)
			n += (size_t)snprintf(buf + n, cap - n, "]}");
		return n < cap ? n : cap;
	}
	case FAN_T_VIVO:
		if (b->step == 0)
			return (size_t)snprintf(buf, cap,
						"{\"result\":0,\"desc\":\"\xe8\xaf\xb7\xe6\xb1\x82\xe6\x88\x90\xe5\x8a\x9f\","
						"\"taskId\":\"%llu\"}",
						(unsigned long long)(6800000000000000000ull + seq));
		return (size_t)snprintf(buf, cap,
					"{\"result\":0,\"desc\":\"\xe8\xaf\xb7\xe6\xb1\x82\xe6\x88\x90\xe5\x8a\x9f\","
					"\"requestId\":\"r%llu\",\"invalidUsers\":[]}",
					(unsigned long long)seq);
	default:
		return 0;
	}
}

/* ---- campaigns --------------------------------------------------------------------------- */

static void put_str(uint8_t **p, const char *s)
{
	size_t n = strlen(s);
	(*p)[0] = (uint8_t)n;
	(*p)[1] = (uint8_t)(n >> 8);
	memcpy(*p + 2, s, n);
	*p += 2 + n;
}

/* CAMPAIGN_CREATE's body; its length. */
static size_t campaign_def(uint8_t *buf, bool personal, const char *tag_expr)
{
	uint8_t *p = buf;
	*p++ = tag_expr ? FAN_AUD_TAG : FAN_AUD_ALL;
	*p++ = FAN_LANE_BULK;
	*p++ = 1;
	*p++ = HRL_CH_PUSH;
	put_str(&p, "Your order");
	put_str(&p, personal ? "Hi {{name}}, your order has shipped and arrives tomorrow. Track it in the app." :
			       "Hi there, your order has shipped and arrives tomorrow. Track it in the app.");
	put_str(&p, "");
	if (tag_expr)
		put_str(&p, tag_expr);
	return (size_t)(p - buf);
}

/* VENDOR_SET's body for target t (docs/PROTOCOL.md 5.11), decoded as the engine does. */
static int vendor_set(uint8_t target)
{
	uint8_t body[1024], *p = body;
	*p++ = target;
	put_str(&p, "http://127.0.0.1:1");
	put_str(&p, "10086123");                                   /* app_id */
	put_str(&p, "CV6kBdvBVEDeSmF5bw+8aQ5oo3Rqa2Z0d2M1cWNxbA=="); /* secret: an access token's size */
	put_str(&p, "");                                           /* secret2 */
	put_str(&p, "com.example.shop");                           /* package */
	put_str(&p, "");                                           /* sign_name */
	put_str(&p, "");                                           /* template_code */
	uint16_t batch_max = 1000, conns = 64;
	memcpy(p, &batch_max, 2);
	memcpy(p + 2, &conns, 2);
	memset(p + 4, 0, 8); /* rate_per_s, daily_quota: unlimited */
	p += 12;
	struct fan_vendor v;
	char why[FAN_WHY_BYTES_MAX];
	int rc = fan_vendor_decode(body, (size_t)(p - body), &v, why);
	if (rc) {
		fprintf(stderr, "fanout_bench: vendor: %s\n", why);
		return rc;
	}
	return fan_core_vendor_set(&core, BENCH_APP, &v);
}

struct run_result {
	double poll_s, answer_s, bench_s, wall_s, cpu_s;
	uint64_t polls;
};

/* Answer every queued batch (HTTP 200, the vendor's success body). */
static void answer_queued(struct bench *bn, char *ans, uint64_t *seq, struct run_result *res)
{
	size_t n = bn->q_len;
	if (!n)
		return;
	/* fan_batch_answer may queue nothing (it never calls send), so the queue is stable here */
	for (size_t i = 0; i < n; i++) {
		struct fan_batch *b = bn->q[i];
		double t0 = mono_s();
		size_t len = answer_body(b, ++*seq, ans, BENCH_ANSWER_BYTES);
		double t1 = mono_s();
		fan_batch_answer(&core, b, 200, ans, len);
		double t2 = mono_s();
		res->bench_s += t1 - t0;
		res->answer_s += t2 - t1;
	}
	bn->q_len = 0;
}

static int run_campaign(struct bench *bn, uint64_t id, const uint8_t *def, size_t def_len, char *ans,
			struct run_result *res, struct fan_run **out)
{
	int rc = fan_core_add(&core, id, BENCH_APP, FAN_RUNNING, unix_ms(), def, def_len, 0, NULL);
	if (rc)
		return rc;
	struct fan_run *r = fan_core_find(&core, id);
	uint64_t seq = 0, last_moved = 0;
	memset(res, 0, sizeof(*res));
	double t_start = mono_s(), t_moved = t_start, c_start = cpu_s();
	while (!r->local_done) {
		double t0 = mono_s();
		fan_core_poll(&core, mono_ms());
		double t1 = mono_s();
		res->poll_s += t1 - t0;
		res->polls++;
		answer_queued(bn, ans, &seq, res);
		uint64_t moved = r->cnt[FAN_C_QUEUED] + bn->receipts;
		if (moved != last_moved) {
			last_moved = moved;
			t_moved = t1;
		} else if (t1 - t_moved > BENCH_STALL_SECONDS) {
			fprintf(stderr, "fanout_bench: campaign %llu stalled (queued %llu, receipts %llu)\n",
				(unsigned long long)id, (unsigned long long)r->cnt[FAN_C_QUEUED],
				(unsigned long long)bn->receipts);
			return -ETIMEDOUT;
		}
		if (bn->q_overflow)
			return -ENOMEM;
	}
	res->wall_s = mono_s() - t_start;
	res->cpu_s = cpu_s() - c_start - res->bench_s; /* less the bench's making of answers */
	*out = r;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: fanout_bench [--users N] [--repeat R] [--sink null|encode] [--personal]\n"
			"                    [--tag-expr EXPR] [--mix] [--receipts count|encode] [--layout id|hash]\n"
			"                    [--no-walk]\n");
}

int main(int argc, char **argv)
{
	unsigned long n_users = 1000000, repeat = 1;
	const char *sink = "null", *tag_expr = NULL, *receipts = "count", *layout = "id";
	bool personal = false, mix = false, walk = true;
	static const struct option opts[] = {
		{ "users", required_argument, NULL, 'u' },   { "repeat", required_argument, NULL, 'r' },
		{ "sink", required_argument, NULL, 's' },    { "personal", no_argument, NULL, 'p' },
		{ "tag-expr", required_argument, NULL, 't' }, { "mix", no_argument, NULL, 'm' },
		{ "receipts", required_argument, NULL, 'R' }, { "no-walk", no_argument, NULL, 'W' },
		{ "layout", required_argument, NULL, 'L' },
		{ 0, 0, 0, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u': n_users = strtoul(optarg, NULL, 10); break;
		case 'r': repeat = strtoul(optarg, NULL, 10); break;
		case 's': sink = optarg; break;
		case 'p': personal = true; break;
		case 't': tag_expr = optarg; break;
		case 'm': mix = true; break;
		case 'R': receipts = optarg; break;
		case 'W': walk = false; break;
		case 'L': layout = optarg; break;
		default: usage(); return 2;
		}
	}
	bool encode = !strcmp(sink, "encode");
	if (n_users < 1 || n_users > 100000000 || repeat < 1 || repeat > 1000 || (!encode && strcmp(sink, "null")) ||
	    (strcmp(receipts, "count") && strcmp(receipts, "encode")) || (strcmp(layout, "id") && strcmp(layout, "hash"))) {
		usage();
		return 2;
	}

	struct bench bn = { .encode_receipts = !strcmp(receipts, "encode") };
	bn.rbuf = malloc(BENCH_RECEIPT_BUF);
	char *ans = malloc(BENCH_ANSWER_BYTES);
	if (!bn.rbuf || !ans) {
		fprintf(stderr, "fanout_bench: out of memory\n");
		return 1;
	}

	double t0 = mono_s();
	int rc = fill_users(n_users, mix, !strcmp(layout, "hash"));
	if (rc) {
		fprintf(stderr, "fanout_bench: filling the table: %s\n", strerror(-rc));
		return 1;
	}
	printf("name=fanout_setup users=%lu mix=%d layout=%s seconds=%.3f table_bytes=%zu\n", n_users, mix, layout,
	       mono_s() - t0, sto_users_bytes(&users));
	if (walk) {
		walk_all(false);
		walk_all(true);
	}

	struct fan_env env = {
		.ctx = &bn,
		.owner = env_owner,
		.receipt = env_receipt,
		.events_durable = env_events_durable,
		.invalid = env_invalid,
		.progress = env_progress,
		.send = encode ? env_send : NULL,
	};
	if (fan_core_init(&core, &env, &users, 0, 1)) {
		fprintf(stderr, "fanout_bench: fan_core_init: out of memory\n");
		return 1;
	}
	for (unsigned t = 0; t < (mix ? 4u : 1u); t++)
		if (vendor_set(mix_targets[t]))
			return 1;

	uint8_t def[8192];
	if (tag_expr && strlen(tag_expr) > 4096) {
		usage();
		return 2;
	}
	size_t def_len = campaign_def(def, personal, tag_expr);
	int failed = 0;
	for (unsigned long i = 0; i < repeat; i++) {
		struct run_result res;
		struct fan_run *r = NULL;
		uint64_t receipts0 = bn.receipts, sent0 = bn.receipts_sent, bytes0 = bn.req_bytes;
		rc = run_campaign(&bn, i + 1, def, def_len, ans, &res, &r);
		if (rc) {
			fprintf(stderr, "fanout_bench: campaign %lu: %s\n", i + 1, strerror(-rc));
			return 1;
		}
		uint64_t recipients = r->cnt[FAN_C_RECIPIENTS], queued = r->cnt[FAN_C_QUEUED];
		uint64_t sent = r->cnt[FAN_C_SENT], calls = r->cnt[FAN_C_CALLS];
		uint64_t rcpt = bn.receipts - receipts0, rcpt_sent = bn.receipts_sent - sent0;
		double s = res.poll_s + res.answer_s;
		printf("name=fanout_%s_%s run=%lu users=%lu recipients=%llu seconds=%.3f recipients_per_sec=%.0f "
		       "cpu_s=%.3f recipients_per_cpu_sec=%.0f calls=%llu polls=%llu poll_s=%.3f answer_s=%.3f wall_s=%.3f "
		       "req_bytes_per_recipient=%.1f mix=%d receipts=%s layout=%s\n",
		       sink, personal ? "personal" : "broadcast", i + 1, n_users, (unsigned long long)recipients, s,
		       (double)recipients / s, res.cpu_s, (double)recipients / res.cpu_s, (unsigned long long)calls,
		       (unsigned long long)res.polls, res.poll_s,
		       res.answer_s, res.wall_s, recipients ? (double)(bn.req_bytes - bytes0) / (double)recipients : 0.0,
		       mix, receipts, layout);
		bool want_all = !tag_expr;
		if (sent != queued || queued != recipients || rcpt != sent || rcpt_sent != sent ||
		    r->cnt[FAN_C_FAILED] || r->cnt[FAN_C_NO_ADDRESS] || (want_all && recipients != n_users) ||
		    r->cnt[FAN_C_SCANNED] != n_users || !recipients) {
			fprintf(stderr,
				"fanout_bench: campaign %lu: scanned %llu recipients %llu queued %llu sent %llu "
				"failed %llu no_address %llu receipts %llu (sent %llu): not every recipient sent once\n",
				i + 1, (unsigned long long)r->cnt[FAN_C_SCANNED], (unsigned long long)recipients,
				(unsigned long long)queued, (unsigned long long)sent,
				(unsigned long long)r->cnt[FAN_C_FAILED], (unsigned long long)r->cnt[FAN_C_NO_ADDRESS],
				(unsigned long long)rcpt, (unsigned long long)rcpt_sent);
			failed = 1;
		}
	}
	fan_core_free(&core);
	sto_users_free(&users);
	free(bn.q);
	free(bn.rbuf);
	free(ans);
	return failed;
}
