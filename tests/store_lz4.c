/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealed segments get an LZ4 form in the background where it pays; the
 * engine reads them back at start-up, and an undo (a failed write of the
 * start-up compaction) reads a user's previous record out of one.
 */
#include "tests/testlib.h"

#define USERS 600

static void verify(struct te_conn *c, struct te_body *t)
{
	struct net_hdr h;
	const uint8_t *b;
	char user[32], want[48];
	for (int u = 0; u < USERS; u++) {
		snprintf(user, sizeof(user), "z%d", u);
		snprintf(want, sizeof(want), "profile of user number %d;", u);
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
	char user[32], value[1024];
	static const char *const args[] = { "--cores", "1", "--segment-mb", "1", "--compact-mb", "0", "--lz4", "on", NULL };

	te_setup_app(&e, args, &c, secret);
	for (int u = 0; u < USERS; u++) {
		snprintf(user, sizeof(user), "z%d", u);
		int n = snprintf(value, sizeof(value), "profile of user number %d;", u);
		while (n < 1000) /* repetitive text: compresses well */
			n += snprintf(value + n, sizeof(value) - (size_t)n, " the quick brown fox");
		tb_reset(&t);
		tb_str(&t, user);
		tb_u16(&t, 4);
		for (int k = 0; k < 4; k++) {
			char key[8];
			snprintf(key, sizeof(key), "p%d", k);
			tb_str(&t, key);
			tb_str(&t, value);
		}
		te_send(&c, HRL_OP_ATTR_SET, t.b.data, t.b.len);
	}
	for (int u = 0; u < USERS; u++) {
		CHECK(te_recv(&c, &h, &b, 10000) == 0);
		CHECK(te_err(&h, b) == 0);
	}
	uint64_t deadline = te_now_ms() + 10000;
	while (te_count_log_files(e.dir, "", ".seg.lz4") == 0 && te_now_ms() < deadline)
		usleep(50000);
	fprintf(stderr, "segments: %u plain, %u lz4\n", te_count_log_files(e.dir, "", ".seg"), te_count_log_files(e.dir, "", ".seg.lz4"));
	CHECK(te_count_log_files(e.dir, "", ".seg.lz4") >= 1);
	verify(&c, &t); /* served from memory, the log is compressed under it */
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);

	/* restart: replay reads the LZ4 segments; the first write (the start-up
	   compaction's) fails, and its undo reads previous records from them */
	setenv("HERALD_FAULTS", "write_eio@1", 1);
	te_restart(&e, args);
	unsetenv("HERALD_FAULTS");
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	usleep(500000);
	verify(&c, &t);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);

	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	verify(&c, &t);
	CHECK(te_call(&c, HRL_OP_STORE_STATS, "", 0, &h, &b) == 0);
	uint64_t corrupt;
	memcpy(&corrupt, b + 4 + 8 * 4, 8);
	CHECK(corrupt == 0);
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
