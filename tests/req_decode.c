/* SPDX-License-Identifier: Apache-2.0 */
/* Field rules of docs/PROTOCOL.md 5.1/5.2, one check per rule, through net_req_decode. */
#include "net/req.h"
#include "tests/testlib.h"

static int dec(uint16_t op, struct te_body *t)
{
	static union net_req r;
	const char *why;
	return -net_req_decode(op, t->b.data, t->b.len, &r, &why);
}

static int try_bind(const char *user, uint8_t ch, uint8_t v, uint8_t p, const char *addr)
{
	struct te_body t = { 0 };
	te_bind_body(&t, user, ch, v, p, addr);
	int rc = dec(HRL_OP_BIND, &t);
	base_buf_free(&t.b);
	return rc;
}

int main(void)
{
	struct te_body t = { 0 };

	CHECK(try_bind("u", HRL_CH_PUSH, HRL_VENDOR_APNS, HRL_PLATFORM_IOS, "abcdef0123") == 0);
	CHECK(try_bind("u", HRL_CH_PUSH, HRL_VENDOR_APNS, 0, "abc") == HRL_E_INVALID_ARGUMENT);
	CHECK(try_bind("u", HRL_CH_PUSH, 99, 1, "abc") == HRL_E_INVALID_ARGUMENT);
	CHECK(try_bind("u", HRL_CH_PUSH, 1, 1, "has space") == HRL_E_INVALID_ARGUMENT);
	CHECK(try_bind("u", HRL_CH_SMS, 0, 0, "+8613800000000") == 0);
	CHECK(try_bind("u", HRL_CH_SMS, 0, 0, "+123456") == HRL_E_INVALID_ARGUMENT);      /* 6 digits */
	CHECK(try_bind("u", HRL_CH_SMS, 0, 0, "+1234567") == 0);                          /* 7 digits */
	CHECK(try_bind("u", HRL_CH_SMS, 0, 0, "+1234567890123456") == HRL_E_INVALID_ARGUMENT); /* 16 */
	CHECK(try_bind("u", HRL_CH_SMS, 1, 0, "+8613800000000") == HRL_E_INVALID_ARGUMENT);
	CHECK(try_bind("u", HRL_CH_EMAIL, 0, 0, "a@b") == 0);
	CHECK(try_bind("u", HRL_CH_EMAIL, 0, 0, "@b.c") == HRL_E_INVALID_ARGUMENT);
	CHECK(try_bind("u", HRL_CH_EMAIL, 0, 0, "a@b@c") == HRL_E_INVALID_ARGUMENT);
	CHECK(try_bind("u", HRL_CH_WECHAT, 0, 0, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o") == 0);
	CHECK(try_bind("u", HRL_CH_WECHAT, 0, 0, "o/x") == HRL_E_INVALID_ARGUMENT);
	CHECK(try_bind("u", HRL_CH_WEBHOOK, 0, 0, "https://example.com/hook") == 0);
	CHECK(try_bind("u", HRL_CH_WEBHOOK, 0, 0, "ftp://example.com") == HRL_E_INVALID_ARGUMENT);
	CHECK(try_bind("u", 0, 0, 0, "x") == HRL_E_INVALID_ARGUMENT);
	CHECK(try_bind("u", 6, 0, 0, "x") == HRL_E_INVALID_ARGUMENT);
	CHECK(try_bind("", HRL_CH_SMS, 0, 0, "+8613800000000") == HRL_E_INVALID_ARGUMENT);
	CHECK(try_bind("用户一", HRL_CH_SMS, 0, 0, "+8613800000000") == 0);            /* UTF-8 */
	CHECK(try_bind("\xC0\xAF", HRL_CH_SMS, 0, 0, "+8613800000000") == HRL_E_INVALID_ARGUMENT); /* overlong */
	CHECK(try_bind("\xED\xA0\x80", HRL_CH_SMS, 0, 0, "+8613800000000") == HRL_E_INVALID_ARGUMENT); /* surrogate */
	char longuser[130];
	memset(longuser, 'x', 129);
	longuser[129] = 0;
	CHECK(try_bind(longuser, HRL_CH_SMS, 0, 0, "+8613800000000") == HRL_E_INVALID_ARGUMENT);
	longuser[128] = 0;
	CHECK(try_bind(longuser, HRL_CH_SMS, 0, 0, "+8613800000000") == 0);

	CHECK(net_valid_tag("city:sh", 7) && net_valid_tag("a.b-c_D", 7) && !net_valid_tag("a b", 3) &&
	      !net_valid_tag("", 0));
	CHECK(net_valid_alias_type("phone_no", 8) && !net_valid_alias_type("Phone", 5));
	CHECK(net_valid_app_id("shop-1_x", 8) && !net_valid_app_id("Shop", 4) && !net_valid_app_id("", 0));
	CHECK(net_valid_locale("zh-CN", 5) && net_valid_locale("en", 2) && net_valid_locale("zh-Hans-CN", 10) &&
	      !net_valid_locale("english", 7) && !net_valid_locale("zh-", 3) && !net_valid_locale("z", 1));
	CHECK(net_valid_tz("UTC", 3));
	if (access("/usr/share/zoneinfo/Asia/Shanghai", R_OK) == 0)
		CHECK(net_valid_tz("Asia/Shanghai", 13));
	CHECK(!net_valid_tz("Mars/Olympus", 12) && !net_valid_tz("../../etc/passwd", 16) &&
	      !net_valid_tz("/etc", 4) && !net_valid_tz("Asia/", 5));

	/* HELLO: versions and names */
	tb_u8(&t, 2);
	tb_u8(&t, 1);
	tb_str(&t, "x");
	CHECK(dec(HRL_OP_HELLO, &t) == HRL_E_INVALID_ARGUMENT);
	tb_reset(&t);
	tb_u8(&t, 1);
	tb_u8(&t, 3);
	tb_str(&t, "client");
	CHECK(dec(HRL_OP_HELLO, &t) == 0);
	tb_u8(&t, 0);
	CHECK(dec(HRL_OP_HELLO, &t) == HRL_E_BAD_BODY);
	/* empty-body opcodes */
	tb_reset(&t);
	CHECK(dec(HRL_OP_STATS, &t) == 0 && dec(HRL_OP_APP_LIST, &t) == 0);
	tb_u8(&t, 0);
	CHECK(dec(HRL_OP_STATS, &t) == HRL_E_BAD_BODY);
	CHECK(dec(HRL_OP_PING, &t) == 0);
	/* counts over the limits */
	tb_reset(&t);
	tb_str(&t, "u");
	tb_u16(&t, HRL_TAGS_PER_REQUEST_MAX + 1);
	CHECK(dec(HRL_OP_TAG_ADD, &t) == HRL_E_LIMIT_EXCEEDED);
	tb_reset(&t);
	tb_str(&t, "u");
	tb_u16(&t, 2);
	tb_str(&t, "only-one");
	CHECK(dec(HRL_OP_TAG_ADD, &t) == HRL_E_BAD_BODY);
	tb_reset(&t);
	tb_str(&t, "u");
	tb_u16(&t, HRL_ATTRS_PER_REQUEST_MAX + 1);
	CHECK(dec(HRL_OP_ATTR_SET, &t) == HRL_E_LIMIT_EXCEEDED);
	tb_reset(&t);
	tb_str(&t, "u");
	tb_u16(&t, 1);
	tb_str(&t, "k");
	char big[1100];
	memset(big, 'v', 1025);
	big[1025] = 0;
	tb_str(&t, big);
	CHECK(dec(HRL_OP_ATTR_SET, &t) == HRL_E_INVALID_ARGUMENT);
	/* attribute values may hold any UTF-8, tabs and newlines included */
	tb_reset(&t);
	tb_str(&t, "u");
	tb_u16(&t, 1);
	tb_str(&t, "note");
	tb_str(&t, "line one\n\tline two");
	CHECK(dec(HRL_OP_ATTR_SET, &t) == 0);
	/* C1 controls count as control characters in ids */
	CHECK(try_bind("a\xC2\x85" "b", HRL_CH_SMS, 0, 0, "+8613800000000") == HRL_E_INVALID_ARGUMENT);
	tb_reset(&t);
	tb_str(&t, "u");
	tb_u32(&t, 0);
	CHECK(dec(0x7FFF, &t) == HRL_E_UNKNOWN_OPCODE);
	base_buf_free(&t.b);
	return 0;
}
