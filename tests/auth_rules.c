/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session rules: nothing but HELLO before HELLO, PING without AUTH, user
 * operations need AUTH, admin operations need the admin, a wrong mac or an
 * unknown app closes the connection, a nonce serves one AUTH.
 */
#include "tests/testlib.h"

int main(void)
{
	struct te_engine e;
	struct te_conn c, admin, app;
	struct net_hdr h;
	const uint8_t *b;
	uint8_t secret[32], wrong[32];
	struct te_body t = { 0 };

	te_start(&e, (const char *[]){ "--cores", "2", NULL });
	te_open(&e, &c);
	CHECK(te_call(&c, HRL_OP_PING, "", 0, &h, &b) == HRL_E_HELLO_REQUIRED);
	te_hello(&c);
	CHECK(te_call(&c, HRL_OP_PING, "p", 1, &h, &b) == 0);
	te_bind_body(&t, "u1", HRL_CH_SMS, 0, 0, "+8613800000000");
	CHECK(te_call(&c, HRL_OP_BIND, t.b.data, t.b.len, &h, &b) == HRL_E_AUTH_REQUIRED);
	CHECK(te_call(&c, HRL_OP_APP_LIST, "", 0, &h, &b) == HRL_E_AUTH_REQUIRED);
	te_close(&c);

	te_admin(&e, &admin);
	te_app_create(&admin, "shop", secret);
	tb_reset(&t);
	tb_str(&t, "shop");
	CHECK(te_call(&admin, HRL_OP_APP_CREATE, t.b.data, t.b.len, &h, &b) == HRL_E_EXISTS);
	tb_reset(&t);
	tb_str(&t, "Bad App");
	CHECK(te_call(&admin, HRL_OP_APP_CREATE, t.b.data, t.b.len, &h, &b) == HRL_E_INVALID_ARGUMENT);
	te_bind_body(&t, "u1", HRL_CH_SMS, 0, 0, "+8613800000000");
	CHECK(te_call(&admin, HRL_OP_BIND, t.b.data, t.b.len, &h, &b) == HRL_E_FORBIDDEN);

	te_open(&e, &app);
	CHECK(te_auth(&app, "shop", secret) == 0);
	CHECK(te_call(&app, HRL_OP_APP_LIST, "", 0, &h, &b) == HRL_E_FORBIDDEN);
	CHECK(te_call(&app, HRL_OP_BIND, t.b.data, t.b.len, &h, &b) == 0);
	/* a second AUTH on the same nonce is refused */
	tb_reset(&t);
	tb_str(&t, "shop");
	tb_raw(&t, secret, 32);
	CHECK(te_call(&app, HRL_OP_AUTH, t.b.data, t.b.len, &h, &b) == HRL_E_HELLO_REQUIRED);
	te_close(&app);

	memcpy(wrong, secret, 32);
	wrong[0] ^= 1;
	te_open(&e, &c);
	CHECK(te_auth(&c, "shop", wrong) == HRL_E_AUTH_FAILED);
	CHECK(te_recv(&c, &h, &b, 3000) == -ECONNRESET);
	te_close(&c);
	te_open(&e, &c);
	CHECK(te_auth(&c, "nosuchapp", secret) == HRL_E_AUTH_FAILED);
	CHECK(te_recv(&c, &h, &b, 3000) == -ECONNRESET);
	te_close(&c);
	te_open(&e, &c);
	CHECK(te_auth(&c, "admin", secret) == HRL_E_AUTH_FAILED);
	te_close(&c);

	/* rotation: the old secret stops working, the new one works */
	tb_reset(&t);
	tb_str(&t, "shop");
	CHECK(te_call(&admin, HRL_OP_APP_ROTATE, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(h.body_len == 36 && b[32] == 2);
	uint8_t fresh[32];
	memcpy(fresh, b, 32);
	te_open(&e, &c);
	CHECK(te_auth(&c, "shop", secret) == HRL_E_AUTH_FAILED);
	te_close(&c);
	for (int i = 0; i < 4; i++) { /* land on every core */
		te_open(&e, &c);
		CHECK(te_auth(&c, "shop", fresh) == 0);
		te_close(&c);
	}
	base_buf_free(&t.b);
	te_close(&admin);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
