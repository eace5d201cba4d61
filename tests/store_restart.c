/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Everything acknowledged survives restarts, also when the number of cores
 * changes: write on 2 cores, restart on 1, then on 2 again, and compare
 * every user, alias lookup and app with what was written.
 */
#include "tests/testlib.h"

#define USERS 400

static struct te_body t;

static void write_all(struct te_conn *c)
{
	char user[32], addr[32], tag[16];
	struct net_hdr h;
	const uint8_t *b;
	for (int u = 0; u < USERS; u++) {
		snprintf(user, sizeof(user), "user-%d", u);
		snprintf(addr, sizeof(addr), "+8613%09d", u);
		te_bind_body(&t, user, HRL_CH_SMS, 0, 0, addr);
		te_send(c, HRL_OP_BIND, t.b.data, t.b.len);
		tb_reset(&t);
		tb_str(&t, user);
		tb_u32(&t, 1);
		tb_str(&t, "member");
		snprintf(addr, sizeof(addr), "M%d", u % 50); /* shared aliases */
		tb_str(&t, addr);
		te_send(c, HRL_OP_ALIAS_SET, t.b.data, t.b.len);
		tb_reset(&t);
		tb_str(&t, user);
		tb_u16(&t, 1);
		snprintf(tag, sizeof(tag), "t%d", u % 7);
		tb_str(&t, tag);
		te_send(c, HRL_OP_TAG_ADD, t.b.data, t.b.len);
	}
	for (int i = 0; i < USERS * 3; i++) {
		CHECK(te_recv(c, &h, &b, 10000) == 0);
		CHECK(te_err(&h, b) == 0);
	}
	/* a few removals, which must survive too */
	for (int u = 0; u < USERS; u += 10) {
		snprintf(user, sizeof(user), "user-%d", u);
		tb_reset(&t);
		tb_str(&t, user);
		tb_u32(&t, 1);
		CHECK(te_call(c, HRL_OP_UNBIND, t.b.data, t.b.len, &h, &b) == 0);
	}
}

static void verify_all(struct te_conn *c)
{
	char user[32], addr[32], tag[16];
	struct net_hdr h;
	const uint8_t *b;
	for (int u = 0; u < USERS; u++) {
		snprintf(user, sizeof(user), "user-%d", u);
		snprintf(addr, sizeof(addr), "+8613%09d", u);
		snprintf(tag, sizeof(tag), "t%d", u % 7);
		tb_reset(&t);
		tb_str(&t, user);
		CHECK(te_call(c, HRL_OP_USER_SHOW, t.b.data, t.b.len, &h, &b) == 0);
		CHECK(memmem(b, h.body_len, tag, strlen(tag)) != NULL);
		bool unbound = u % 10 == 0;
		CHECK((memmem(b, h.body_len, addr, strlen(addr)) != NULL) == !unbound);
	}
	for (int m = 0; m < 50; m++) {
		snprintf(addr, sizeof(addr), "M%d", m);
		tb_reset(&t);
		tb_str(&t, "member");
		tb_str(&t, addr);
		CHECK(te_call(c, HRL_OP_ALIAS_LOOKUP, t.b.data, t.b.len, &h, &b) == 0);
		int expect = 0;
		for (int u = m; u < USERS; u += 50)
			expect += u % 10 != 0;
		CHECK((b[0] | b[1] << 8) == expect);
	}
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	static const char *const two[] = { "--cores", "2", NULL };
	static const char *const one[] = { "--cores", "1", NULL };

	te_setup_app(&e, two, &c, secret);
	write_all(&c);
	verify_all(&c);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);

	te_restart(&e, one);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	verify_all(&c);
	/* a change made on one core ... */
	te_bind_body(&t, "late", HRL_CH_EMAIL, 0, 0, "late@example.com");
	struct net_hdr h;
	const uint8_t *b;
	CHECK(te_call(&c, HRL_OP_BIND, t.b.data, t.b.len, &h, &b) == 0);
	te_close(&c);
	te_kill9(&e); /* ... and a crash, not a clean stop */

	te_restart(&e, two);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	verify_all(&c);
	tb_reset(&t);
	tb_str(&t, "late");
	CHECK(te_call(&c, HRL_OP_USER_SHOW, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(memmem(b, h.body_len, "late@example.com", 16) != NULL);
	/* the admin credential and the app survive too */
	struct te_conn admin;
	te_admin(&e, &admin);
	CHECK(te_call(&admin, HRL_OP_APP_LIST, "", 0, &h, &b) == 0);
	CHECK(b[0] == 1 && memmem(b, h.body_len, "app1", 4) != NULL);
	te_close(&admin);
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
