/* SPDX-License-Identifier: Apache-2.0 */
/* A body whose CRC does not match gets E_BAD_CRC and the connection stays usable. */
#include "tests/testlib.h"

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	struct net_hdr h;
	const uint8_t *b;
	struct base_buf f = { 0 };
	struct net_wr w;

	te_start(&e, NULL);
	te_open(&e, &c);
	te_hello(&c);
	net_wr_begin(&w, &f, HRL_OP_PING, 0, 77);
	net_wr_raw(&w, "hello", 5);
	CHECK(net_wr_end(&w) == 0);
	f.data[20] ^= 0x01; /* flip a bit of body_crc */
	te_send_raw(&c, f.data, f.len);
	CHECK(te_recv(&c, &h, &b, 5000) == 0);
	CHECK(h.request_id == 77 && h.opcode == HRL_OP_PING);
	CHECK(te_err(&h, b) == HRL_E_BAD_CRC);
	/* a flipped body bit is caught too */
	f.data[20] ^= 0x01;
	f.data[24] ^= 0x40;
	te_send_raw(&c, f.data, f.len);
	CHECK(te_recv(&c, &h, &b, 5000) == 0);
	CHECK(te_err(&h, b) == HRL_E_BAD_CRC);
	CHECK(te_call(&c, HRL_OP_PING, "x", 1, &h, &b) == 0);
	base_buf_free(&f);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
