/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bad campaign requests get a clear error and change nothing: malformed
 * tag expressions (with the offset), templates that do not compile or
 * name an unknown variable, bad channels and audiences, a list of 1001,
 * trailing bytes, unknown or another app's campaigns, bad control actions,
 * bad vendor settings. After all of them a good campaign still runs and
 * the first id handed out is 1 (no refused request took an id).
 */
#include "tests/campaign_lib.h"

static const uint8_t push[] = { HRL_CH_PUSH };

static void bad_expr(struct te_conn *c, const char *expr, const char *want)
{
	uint64_t id;
	char why[200];
	CHECK(tc_create(c, 3, 0, push, 1, "", "b", expr, &id, why, sizeof(why)) == HRL_E_INVALID_ARGUMENT);
	fprintf(stderr, "tag expression '%s': %s\n", expr, why);
	CHECK(strstr(why, want) != NULL);
}

static void bad_body(struct te_conn *c, const char *title, const char *body, const char *want)
{
	uint64_t id;
	char why[200];
	CHECK(tc_create(c, 4, 0, push, 1, title, body, NULL, &id, why, sizeof(why)) == HRL_E_INVALID_ARGUMENT);
	fprintf(stderr, "template '%s' / '%s': %s\n", title, body, why);
	CHECK(strstr(why, want) != NULL);
}

static int raw_create(struct te_conn *c, const void *p, size_t n)
{
	struct net_hdr h;
	const uint8_t *b;
	return te_call(c, HRL_OP_CAMPAIGN_CREATE, p, n, &h, &b);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c, other;
	uint8_t secret[32], secret2[32];
	struct te_body t = { 0 };
	uint64_t id;
	struct tc_status s;
	static const char *const args[] = { "--cores", "2", "--vendor-sink", "null", NULL };

	te_setup_app(&e, args, &c, secret);
	bad_expr(&c, "a AND", "at 5");
	bad_expr(&c, "(a OR b", " at ");
	bad_expr(&c, "a b", "at 2");
	bad_expr(&c, "", "empty");
	bad_body(&c, "", "Hi {{name", "body template");
	bad_body(&c, "Hi {{ name }}", "x", "title template");
	bad_body(&c, "", "{{row.order}}", "body template");
	bad_body(&c, "", "", "body must be");

	static const uint8_t sms_twice[] = { HRL_CH_SMS, HRL_CH_SMS };
	static const uint8_t bad_ch[] = { 9 };
	char why[200];
	CHECK(tc_create(&c, 4, 0, sms_twice, 2, "", "b", NULL, &id, why, sizeof(why)) == HRL_E_INVALID_ARGUMENT);
	CHECK(strstr(why, "twice"));
	CHECK(tc_create(&c, 4, 0, bad_ch, 1, "", "b", NULL, &id, why, sizeof(why)) == HRL_E_INVALID_ARGUMENT);
	CHECK(strstr(why, "unknown channel 9"));
	CHECK(tc_create(&c, 7, 0, push, 1, "", "b", NULL, &id, why, sizeof(why)) == HRL_E_INVALID_ARGUMENT);
	CHECK(tc_create(&c, 4, 5, push, 1, "", "b", NULL, &id, why, sizeof(why)) == HRL_E_INVALID_ARGUMENT);
	CHECK(strstr(why, "lane"));

	/* a list of 1001 */
	tb_u8(&t, 2);
	tb_u8(&t, 0);
	tb_u8(&t, 1);
	tb_u8(&t, HRL_CH_PUSH);
	tb_str(&t, "");
	tb_str(&t, "b");
	tb_str(&t, "");
	tb_u16(&t, 1001);
	for (unsigned i = 0; i < 1001; i++)
		tb_str(&t, "u");
	CHECK(raw_create(&c, t.b.data, t.b.len) == HRL_E_INVALID_ARGUMENT);
	/* all users, then a trailing byte; and a body cut short */
	tb_reset(&t);
	tb_u8(&t, 4);
	tb_u8(&t, 0);
	tb_u8(&t, 1);
	tb_u8(&t, HRL_CH_PUSH);
	tb_str(&t, "");
	tb_str(&t, "b");
	tb_str(&t, "");
	tb_u8(&t, 0);
	CHECK(raw_create(&c, t.b.data, t.b.len) == HRL_E_INVALID_ARGUMENT);
	CHECK(raw_create(&c, t.b.data, 5) == HRL_E_INVALID_ARGUMENT);
	CHECK(raw_create(&c, t.b.data, 0) == HRL_E_INVALID_ARGUMENT);

	/* unknown campaigns, bad actions, bad vendor settings */
	CHECK(tc_status(&c, 12345, &s) == HRL_E_NOT_FOUND);
	CHECK(tc_control(&c, 12345, 1) == HRL_E_NOT_FOUND);
	CHECK(tc_vendor_set(&c, 9, "http://127.0.0.1:9", "", "", 0, 0, 0) == HRL_E_INVALID_ARGUMENT);
	CHECK(tc_vendor_set(&c, 1, "ftp://127.0.0.1:9", "", "", 0, 0, 0) == HRL_E_INVALID_ARGUMENT);
	CHECK(tc_vendor_set(&c, 1, "http://127.0.0.1:9", "", "", 1001, 0, 0) == HRL_E_INVALID_ARGUMENT);

	/* nothing took an id; a good campaign runs, and another app cannot see or touch it */
	CHECK(tc_create(&c, 4, 0, push, 1, "", "b", NULL, &id, NULL, 0) == 0);
	CHECK(id == 1);
	tc_wait(&c, id, 10000, &s);
	CHECK(s.state == 4);
	CHECK(tc_control(&c, id, 9) == HRL_E_INVALID_ARGUMENT);
	struct te_conn admin;
	te_admin(&e, &admin);
	te_app_create(&admin, "app2", secret2);
	te_close(&admin);
	te_open(&e, &other);
	CHECK(te_auth(&other, "app2", secret2) == 0);
	CHECK(tc_status(&other, id, &s) == HRL_E_NOT_FOUND);
	CHECK(tc_control(&other, id, 3) == HRL_E_NOT_FOUND);
	te_close(&other);

	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
