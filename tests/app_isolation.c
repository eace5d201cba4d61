/* SPDX-License-Identifier: Apache-2.0 */
/* One app can neither read nor change another app's users, even with the same user id. */
#include "tests/testlib.h"

int main(void)
{
	struct te_engine e;
	struct te_conn admin, a, b2;
	struct net_hdr h;
	const uint8_t *b;
	uint8_t sa[32], sb[32];
	struct te_body t = { 0 };

	te_start(&e, (const char *[]){ "--cores", "2", NULL });
	te_admin(&e, &admin);
	te_app_create(&admin, "bank", sa);
	te_app_create(&admin, "media", sb);
	te_open(&e, &a);
	CHECK(te_auth(&a, "bank", sa) == 0);
	te_open(&e, &b2);
	CHECK(te_auth(&b2, "media", sb) == 0);
	/* media cannot authenticate with bank's secret */
	struct te_conn x;
	te_open(&e, &x);
	CHECK(te_auth(&x, "media", sa) == HRL_E_AUTH_FAILED);
	te_close(&x);

	te_bind_body(&t, "alice", HRL_CH_SMS, 0, 0, "+8613800000001");
	CHECK(te_call(&a, HRL_OP_BIND, t.b.data, t.b.len, &h, &b) == 0);
	tb_reset(&t);
	tb_str(&t, "alice");
	CHECK(te_call(&b2, HRL_OP_USER_SHOW, t.b.data, t.b.len, &h, &b) == HRL_E_NOT_FOUND);
	tb_reset(&t);
	tb_str(&t, "alice");
	tb_u32(&t, 1);
	CHECK(te_call(&b2, HRL_OP_UNBIND, t.b.data, t.b.len, &h, &b) == HRL_E_NOT_FOUND);
	tb_reset(&t);
	tb_str(&t, "alice");
	tb_u32(&t, 1);
	tb_str(&t, "phone");
	tb_str(&t, "p1");
	CHECK(te_call(&b2, HRL_OP_ALIAS_SET, t.b.data, t.b.len, &h, &b) == HRL_E_NOT_FOUND);
	CHECK(te_call(&a, HRL_OP_ALIAS_SET, t.b.data, t.b.len, &h, &b) == 0);
	tb_reset(&t);
	tb_str(&t, "phone");
	tb_str(&t, "p1");
	CHECK(te_call(&b2, HRL_OP_ALIAS_LOOKUP, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(h.body_len == 2 && b[0] == 0 && b[1] == 0);
	CHECK(te_call(&a, HRL_OP_ALIAS_LOOKUP, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(b[0] == 1);
	/* media's own alice is a different user */
	te_bind_body(&t, "alice", HRL_CH_EMAIL, 0, 0, "alice@media.example");
	CHECK(te_call(&b2, HRL_OP_BIND, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(b[0] == 1 && b[4] == 1);
	tb_reset(&t);
	tb_str(&t, "alice");
	CHECK(te_call(&a, HRL_OP_USER_SHOW, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(memmem(b, h.body_len, "+8613800000001", 14) != NULL);
	CHECK(memmem(b, h.body_len, "media.example", 13) == NULL);
	base_buf_free(&t.b);
	te_close(&a);
	te_close(&b2);
	te_close(&admin);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
