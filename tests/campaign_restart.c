/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Campaigns survive a restart (null vendor sink, two cores): a finished
 * campaign comes back "done" with the same counts and nothing resent, and
 * refuses control; a paused one (an upload kept open, so it cannot finish
 * first) comes back paused and finishes once resumed and closed; a
 * cancelled one stays cancelled; ids are not reused; vendor settings come
 * back.
 */
#include "tests/campaign_lib.h"

#define USERS 2000u

static void token(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "oppo-%06u", i);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	static const char *const args[] = { "--cores", "2", "--vendor-sink", "null", NULL };
	static const uint8_t push[] = { HRL_CH_PUSH };
	struct tc_status s, before;
	uint64_t done_id, paused_id, cancelled_id, next_id;

	te_setup_app(&e, args, &c, secret);
	CHECK(tc_vendor_set(&c, 3, "http://127.0.0.1:9", "", "tok", 0, 0, 0) == 0);
	tc_bind_users(&c, "r", USERS, HRL_CH_PUSH, HRL_VENDOR_OPPO, token);
	CHECK(tc_create(&c, 4, 0, push, 1, "t", "b", NULL, &done_id, NULL, 0) == 0);
	tc_wait(&c, done_id, 20000, &before);
	CHECK(before.state == 4 && before.sent == USERS);
	CHECK(tc_control(&c, done_id, 1) == HRL_E_INVALID_ARGUMENT); /* done: nothing to control */
	/* an upload of the users i % 3 == 0, kept open, then paused */
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	tb_u8(&t, 5);
	tb_u8(&t, 0);
	tb_u8(&t, 1);
	tb_u8(&t, HRL_CH_PUSH);
	tb_str(&t, "t");
	tb_str(&t, "b");
	tb_str(&t, "");
	tb_u8(&t, 1);
	tb_str(&t, "");
	CHECK(te_call(&c, HRL_OP_CAMPAIGN_CREATE, t.b.data, t.b.len, &h, &b) == 0);
	paused_id = te_le64(b);
	CHECK(tc_control(&c, paused_id, 1) == 0);
	tb_reset(&t);
	tb_u64(&t, paused_id);
	tb_u32(&t, 1);
	tb_u8(&t, 0);
	for (unsigned i = 0; i < USERS; i += 3) {
		char row[32];
		snprintf(row, sizeof(row), "r%u\n", i);
		tb_raw(&t, row, strlen(row));
	}
	CHECK(te_call(&c, HRL_OP_CAMPAIGN_UPLOAD, t.b.data, t.b.len, &h, &b) == 0);
	tb_reset(&t); /* an empty upload kept open: cancelled before it could finish */
	tb_u8(&t, 5);
	tb_u8(&t, 0);
	tb_u8(&t, 1);
	tb_u8(&t, HRL_CH_PUSH);
	tb_str(&t, "t");
	tb_str(&t, "b");
	tb_str(&t, "");
	tb_u8(&t, 1);
	tb_str(&t, "");
	CHECK(te_call(&c, HRL_OP_CAMPAIGN_CREATE, t.b.data, t.b.len, &h, &b) == 0);
	cancelled_id = te_le64(b);
	CHECK(tc_control(&c, cancelled_id, 3) == 0);
	CHECK(tc_control(&c, cancelled_id, 2) == HRL_E_INVALID_ARGUMENT); /* no resume after cancel */
	usleep(300000); /* let the progress records go out */
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);

	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	CHECK(tc_status(&c, done_id, &s) == 0);
	CHECK(s.state == 4 && s.recipients == before.recipients && s.sent == before.sent && s.resent == 0);
	CHECK(tc_status(&c, cancelled_id, &s) == 0 && s.state == 3);
	CHECK(tc_status(&c, paused_id, &s) == 0 && s.state == 2 && s.sent == 0);
	CHECK(tc_control(&c, done_id, 3) == HRL_E_INVALID_ARGUMENT); /* still done after the restart */
	CHECK(tc_control(&c, paused_id, 2) == 0);
	tb_reset(&t);
	tb_u64(&t, paused_id);
	tb_u32(&t, 700);
	tb_u8(&t, 1);
	CHECK(te_call(&c, HRL_OP_CAMPAIGN_UPLOAD, t.b.data, t.b.len, &h, &b) == 0);
	tc_wait(&c, paused_id, 20000, &s);
	fprintf(stderr, "paused campaign after resume: recipients %llu sent %llu resent %llu\n",
		(unsigned long long)s.recipients, (unsigned long long)s.sent, (unsigned long long)s.resent);
	CHECK(s.state == 4 && s.sent == (USERS + 2) / 3);
	CHECK(tc_create(&c, 1, 0, push, 1, "t", "b", "r1", &next_id, NULL, 0) == 0);
	CHECK(next_id > cancelled_id);
	tc_wait(&c, next_id, 20000, &s);
	CHECK(s.sent == 1); /* the vendor setting came back */
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
