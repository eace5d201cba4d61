/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Semantics of the user operations: BIND is idempotent per address and
 * numbers devices from 1, ALIAS_SET replaces and returns the old alias and
 * moves the index entry, tags count real changes, ATTR_SET with an empty
 * value deletes, limits give E_LIMIT_EXCEEDED and change nothing, UNBIND
 * removes the device and its aliases from the index.
 */
#include "tests/testlib.h"

static struct te_conn c;
static struct net_hdr h;
static const uint8_t *b;
static struct te_body t;

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int alias_set(const char *user, uint32_t dev, const char *type, const char *alias)
{
	tb_reset(&t);
	tb_str(&t, user);
	tb_u32(&t, dev);
	tb_str(&t, type);
	tb_str(&t, alias);
	return te_call(&c, HRL_OP_ALIAS_SET, t.b.data, t.b.len, &h, &b);
}

static int lookup_count(const char *type, const char *alias)
{
	tb_reset(&t);
	tb_str(&t, type);
	tb_str(&t, alias);
	CHECK(te_call(&c, HRL_OP_ALIAS_LOOKUP, t.b.data, t.b.len, &h, &b) == 0);
	return b[0] | b[1] << 8;
}

static int tags(uint16_t op, const char *user, int n, const char **list)
{
	tb_reset(&t);
	tb_str(&t, user);
	tb_u16(&t, (uint16_t)n);
	for (int i = 0; i < n; i++)
		tb_str(&t, list[i]);
	return te_call(&c, op, t.b.data, t.b.len, &h, &b);
}

int main(void)
{
	struct te_engine e;
	uint8_t secret[32];
	char tok[64];

	te_setup_app(&e, (const char *[]){ "--cores", "2", NULL }, &c, secret);
	te_bind_body(&t, "bob", HRL_CH_PUSH, HRL_VENDOR_HUAWEI, HRL_PLATFORM_ANDROID, "tokA");
	CHECK(te_call(&c, HRL_OP_BIND, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(le32(b) == 1 && b[4] == 1);
	CHECK(te_call(&c, HRL_OP_BIND, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(le32(b) == 1 && b[4] == 0); /* same address: same device */
	te_bind_body(&t, "bob", HRL_CH_SMS, 0, 0, "+8613800000000");
	CHECK(te_call(&c, HRL_OP_BIND, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(le32(b) == 2 && b[4] == 1);

	/* aliases: set, replace (old returned), index follows */
	CHECK(alias_set("bob", 1, "uid", "42") == 0);
	CHECK(h.body_len == 2 && b[0] == 0);
	CHECK(lookup_count("uid", "42") == 1);
	CHECK(alias_set("bob", 1, "uid", "43") == 0);
	CHECK(h.body_len == 4 && memcmp(b + 2, "42", 2) == 0);
	CHECK(lookup_count("uid", "42") == 0);
	CHECK(lookup_count("uid", "43") == 1);
	CHECK(alias_set("bob", 2, "uid", "43") == 0); /* a second device shares it */
	CHECK(lookup_count("uid", "43") == 2);
	CHECK(alias_set("bob", 9, "uid", "43") == HRL_E_NOT_FOUND);
	CHECK(alias_set("nobody", 1, "uid", "43") == HRL_E_NOT_FOUND);
	CHECK(alias_set("bob", 1, "Bad-Type", "x") == HRL_E_INVALID_ARGUMENT);
	for (int i = 0; i < 7; i++) {
		char type[8];
		snprintf(type, sizeof(type), "t%d", i);
		CHECK(alias_set("bob", 1, type, "v") == 0);
	}
	CHECK(alias_set("bob", 1, "t7", "v") == HRL_E_LIMIT_EXCEEDED); /* 8 types per device */

	/* ALIAS_DEL */
	tb_reset(&t);
	tb_str(&t, "bob");
	tb_u32(&t, 2);
	tb_str(&t, "uid");
	CHECK(te_call(&c, HRL_OP_ALIAS_DEL, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(te_call(&c, HRL_OP_ALIAS_DEL, t.b.data, t.b.len, &h, &b) == HRL_E_NOT_FOUND);
	CHECK(lookup_count("uid", "43") == 1);

	/* UNBIND takes the device's aliases out of the index */
	tb_reset(&t);
	tb_str(&t, "bob");
	tb_u32(&t, 1);
	CHECK(te_call(&c, HRL_OP_UNBIND, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(te_call(&c, HRL_OP_UNBIND, t.b.data, t.b.len, &h, &b) == HRL_E_NOT_FOUND);
	CHECK(lookup_count("uid", "43") == 0);
	CHECK(lookup_count("t3", "v") == 0);
	/* device ids are not reused */
	te_bind_body(&t, "bob", HRL_CH_PUSH, HRL_VENDOR_HUAWEI, HRL_PLATFORM_ANDROID, "tokA");
	CHECK(te_call(&c, HRL_OP_BIND, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(le32(b) == 3 && b[4] == 1);

	/* device limit */
	for (int i = 0; i < 30; i++) {
		snprintf(tok, sizeof(tok), "tok-%d", i);
		te_bind_body(&t, "bob", HRL_CH_PUSH, HRL_VENDOR_XIAOMI, HRL_PLATFORM_ANDROID, tok);
		CHECK(te_call(&c, HRL_OP_BIND, t.b.data, t.b.len, &h, &b) == 0);
	}
	te_bind_body(&t, "bob", HRL_CH_PUSH, HRL_VENDOR_XIAOMI, HRL_PLATFORM_ANDROID, "one-too-many");
	CHECK(te_call(&c, HRL_OP_BIND, t.b.data, t.b.len, &h, &b) == HRL_E_LIMIT_EXCEEDED);

	/* tags */
	const char *tl[] = { "vip", "city:sh", "vip" };
	CHECK(tags(HRL_OP_TAG_ADD, "bob", 3, tl) == 0 && b[0] == 2);
	CHECK(tags(HRL_OP_TAG_ADD, "bob", 1, tl) == 0 && b[0] == 0);
	const char *bad[] = { "ok", "not ok" };
	CHECK(tags(HRL_OP_TAG_ADD, "bob", 2, bad) == HRL_E_INVALID_ARGUMENT);
	CHECK(tags(HRL_OP_TAG_DEL, "bob", 1, tl) == 0 && b[0] == 1);
	CHECK(tags(HRL_OP_TAG_DEL, "ghost", 1, tl) == HRL_E_NOT_FOUND);
	/* 256 tags per user */
	static char names[300][16];
	static const char *many[300];
	for (int i = 0; i < 300; i++) {
		snprintf(names[i], sizeof(names[i]), "tag%d", i);
		many[i] = names[i];
	}
	CHECK(tags(HRL_OP_TAG_ADD, "carol", 255, many) == 0 && b[0] == 255);
	CHECK(tags(HRL_OP_TAG_ADD, "carol", 2, many + 255) == HRL_E_LIMIT_EXCEEDED);
	CHECK(tags(HRL_OP_TAG_ADD, "carol", 1, many + 255) == 0);
	CHECK(tags(HRL_OP_TAG_ADD, "carol", 257, many) == HRL_E_LIMIT_EXCEEDED); /* per request */

	/* attributes */
	tb_reset(&t);
	tb_str(&t, "bob");
	tb_u16(&t, 3);
	tb_str(&t, "tz");
	tb_str(&t, "Asia/Shanghai");
	tb_str(&t, "locale");
	tb_str(&t, "zh-CN");
	tb_str(&t, "level");
	tb_str(&t, "gold");
	CHECK(te_call(&c, HRL_OP_ATTR_SET, t.b.data, t.b.len, &h, &b) == 0 && b[0] == 3);
	tb_reset(&t);
	tb_str(&t, "bob");
	tb_u16(&t, 2);
	tb_str(&t, "level");
	tb_str(&t, "");
	tb_str(&t, "tz");
	tb_str(&t, "Europe/Atlantis");
	CHECK(te_call(&c, HRL_OP_ATTR_SET, t.b.data, t.b.len, &h, &b) == HRL_E_INVALID_ARGUMENT);
	tb_reset(&t);
	tb_str(&t, "bob");
	tb_u16(&t, 1);
	tb_str(&t, "level");
	tb_str(&t, "");
	CHECK(te_call(&c, HRL_OP_ATTR_SET, t.b.data, t.b.len, &h, &b) == 0 && b[0] == 2);
	tb_reset(&t);
	tb_str(&t, "bob");
	tb_u16(&t, 1);
	tb_str(&t, "locale");
	tb_str(&t, "chinese");
	CHECK(te_call(&c, HRL_OP_ATTR_SET, t.b.data, t.b.len, &h, &b) == HRL_E_INVALID_ARGUMENT);

	/* USER_SHOW reflects all of it, in order */
	tb_reset(&t);
	tb_str(&t, "bob");
	CHECK(te_call(&c, HRL_OP_USER_SHOW, t.b.data, t.b.len, &h, &b) == 0);
	CHECK(memmem(b, h.body_len, "Asia/Shanghai", 13) != NULL);
	CHECK(memmem(b, h.body_len, "gold", 4) == NULL);
	CHECK(memmem(b, h.body_len, "city:sh", 7) != NULL);
	const uint8_t *p = b + 2 + 3 + 2; /* id "bob", partition */
	CHECK((p[0] | p[1] << 8) == 32);  /* devices */
	CHECK(le32(p + 2) == 2);          /* lowest id first: the sms device */

	base_buf_free(&t.b);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
