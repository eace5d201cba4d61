/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compaction reclaims stale records without losing the live ones: many
 * updates of a few users fill several small segments, compaction rewrites
 * the live state and deletes the old segments (fewer files, bytes
 * reclaimed), earlier epochs are deleted after a restart, and every user
 * reads back its latest state before and after restarts.
 */
#include "tests/testlib.h"

#define USERS 64
#define ROUNDS 120

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* Sum of segments_deleted over the cores, from STORE_STATS. */
static uint64_t deleted_segments(struct te_conn *c)
{
	struct net_hdr h;
	const uint8_t *b;
	CHECK(te_call(c, HRL_OP_STORE_STATS, "", 0, &h, &b) == 0);
	const uint8_t *p = b + 4 + 8 * 5 + 4 + 8;
	unsigned n = p[0] | p[1] << 8;
	p += 2;
	uint64_t sum = 0;
	/* the per-core list, then the receipt segments' tail: u32 + 4 x u64 */
	CHECK(h.body_len == (size_t)(p - b) + n * (2 + 8 * 5 + 1 + 4 + 8 * 3) + 4 + 8 * 4);
	for (unsigned i = 0; i < n; i++, p += 2 + 8 * 5 + 1 + 4 + 8 * 3)
		sum += le64(p + 2 + 8 * 5 + 1 + 4 + 8);
	return sum;
}

static void verify(struct te_conn *c, struct te_body *t, int round)
{
	struct net_hdr h;
	const uint8_t *b;
	char user[16], want[32];
	for (int u = 0; u < USERS; u++) {
		snprintf(user, sizeof(user), "u%d", u);
		snprintf(want, sizeof(want), "round-%04d-", round);
		tb_reset(t);
		tb_str(t, user);
		CHECK(te_call(c, HRL_OP_USER_SHOW, t->b.data, t->b.len, &h, &b) == 0);
		CHECK(memmem(b, h.body_len, want, strlen(want)) != NULL);
	}
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	char user[16], value[600];
	static const char *const args[] = { "--cores", "2", "--segment-mb", "1", "--compact-mb", "1", NULL };

	te_setup_app(&e, args, &c, secret);
	unsigned peak = 0;
	for (int r = 0; r < ROUNDS; r++) {
		for (int u = 0; u < USERS; u++) {
			snprintf(user, sizeof(user), "u%d", u);
			snprintf(value, sizeof(value), "round-%04d-%0500d", r, u);
			tb_reset(&t);
			tb_str(&t, user);
			tb_u16(&t, 1);
			tb_str(&t, "state");
			tb_str(&t, value);
			te_send(&c, HRL_OP_ATTR_SET, t.b.data, t.b.len);
		}
		for (int u = 0; u < USERS; u++) {
			CHECK(te_recv(&c, &h, &b, 10000) == 0);
			CHECK(te_err(&h, b) == 0);
		}
		unsigned n = te_count_log_files(e.dir, "e", "");
		if (n > peak)
			peak = n;
	}
	/* ~2.5 MB per core of updates to 64 users: rounds must have run */
	uint64_t deadline = te_now_ms() + 5000;
	while (deleted_segments(&c) == 0 && te_now_ms() < deadline)
		usleep(50000);
	fprintf(stderr, "segments: peak %u, now %u, deleted %llu\n", peak, te_count_log_files(e.dir, "e", ""),
		(unsigned long long)deleted_segments(&c));
	CHECK(deleted_segments(&c) > 0);
	verify(&c, &t, ROUNDS - 1);
	te_close(&c);
	te_kill9(&e);

	/* after a restart, compaction rewrites what lives in epoch 1 and deletes it */
	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	verify(&c, &t, ROUNDS - 1);
	deadline = te_now_ms() + 5000;
	while (te_count_log_files(e.dir, "e00000001-", "") > 0 && te_now_ms() < deadline)
		usleep(50000);
	CHECK(te_count_log_files(e.dir, "e00000001-", "") == 0);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);

	te_restart(&e, (const char *[]){ "--cores", "1", NULL });
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	verify(&c, &t, ROUNDS - 1);
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
