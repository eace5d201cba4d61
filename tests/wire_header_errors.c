/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Errors that keep framing: unknown opcode, wrong version, bad flags, bad
 * body. Each is answered with its code and the request id, the body is
 * skipped, and the next frame on the same connection is served.
 */
#include "tests/testlib.h"

static void send_frame(struct te_conn *c, uint8_t version, uint8_t flags, uint16_t op, uint64_t id,
		       const void *body, uint32_t len)
{
	uint8_t hdr[24];
	struct net_hdr o = { .magic = HRL_MAGIC, .version = version, .flags = flags, .opcode = op,
			     .request_id = id, .body_len = len, .body_crc = base_crc32c(0, body, len) };
	net_hdr_encode(hdr, &o);
	te_send_raw(c, hdr, sizeof(hdr));
	if (len)
		te_send_raw(c, body, len);
}

static void expect(struct te_conn *c, uint64_t id, int code)
{
	struct net_hdr h;
	const uint8_t *b;
	CHECK(te_recv(c, &h, &b, 5000) == 0);
	CHECK(h.request_id == id);
	CHECK(te_err(&h, b) == code);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	struct te_body t = { 0 };

	te_setup_app(&e, NULL, &c, secret);
	send_frame(&c, 1, 0, 0x7777, 1, "abc", 3);
	expect(&c, 1, HRL_E_UNKNOWN_OPCODE);
	send_frame(&c, 2, 0, HRL_OP_PING, 2, "abc", 3);
	expect(&c, 2, HRL_E_UNSUPPORTED_VERSION);
	send_frame(&c, 1, HRL_FLAG_RESPONSE, HRL_OP_PING, 3, "abc", 3);
	expect(&c, 3, HRL_E_BAD_FLAGS);
	send_frame(&c, 1, 0x80, HRL_OP_PING, 4, "", 0);
	expect(&c, 4, HRL_E_BAD_FLAGS);
	send_frame(&c, 1, HRL_FLAG_ERROR, HRL_OP_PING, 40, "", 0);
	expect(&c, 40, HRL_E_BAD_FLAGS);
	/* BIND cut short, and BIND with a byte too many */
	te_bind_body(&t, "u1", HRL_CH_SMS, 0, 0, "+8613800000000");
	send_frame(&c, 1, 0, HRL_OP_BIND, 5, t.b.data, (uint32_t)t.b.len - 1);
	expect(&c, 5, HRL_E_BAD_BODY);
	tb_u8(&t, 0);
	send_frame(&c, 1, 0, HRL_OP_BIND, 6, t.b.data, (uint32_t)t.b.len);
	expect(&c, 6, HRL_E_BAD_BODY);
	/* a str whose length runs past the body */
	uint8_t lie[] = { 0xFF, 0x00, 'u' };
	send_frame(&c, 1, 0, HRL_OP_USER_SHOW, 7, lie, sizeof(lie));
	expect(&c, 7, HRL_E_BAD_BODY);
	/* invalid arguments */
	te_bind_body(&t, "u1", HRL_CH_SMS, 0, 0, "13800000000");
	send_frame(&c, 1, 0, HRL_OP_BIND, 8, t.b.data, (uint32_t)t.b.len);
	expect(&c, 8, HRL_E_INVALID_ARGUMENT);
	te_bind_body(&t, "u1", HRL_CH_PUSH, 0, 1, "tok");
	send_frame(&c, 1, 0, HRL_OP_BIND, 9, t.b.data, (uint32_t)t.b.len);
	expect(&c, 9, HRL_E_INVALID_ARGUMENT);
	te_bind_body(&t, "bad\nuser", HRL_CH_SMS, 0, 0, "+8613800000000");
	send_frame(&c, 1, 0, HRL_OP_BIND, 10, t.b.data, (uint32_t)t.b.len);
	expect(&c, 10, HRL_E_INVALID_ARGUMENT);
	/* and the connection still works, nothing was stored */
	tb_reset(&t);
	tb_str(&t, "u1");
	send_frame(&c, 1, 0, HRL_OP_USER_SHOW, 11, t.b.data, (uint32_t)t.b.len);
	expect(&c, 11, HRL_E_NOT_FOUND);
	send_frame(&c, 1, 0, HRL_OP_PING, 12, "", 0);
	expect(&c, 12, 0);
	base_buf_free(&t.b);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
