/* SPDX-License-Identifier: Apache-2.0 */
/* body_len above 1 MiB: E_FRAME_TOO_LARGE with the request's id, then close. A 1 MiB PING works. */
#include "tests/testlib.h"

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	struct net_hdr h;
	const uint8_t *b;
	uint8_t hdr[24];

	te_start(&e, NULL);
	te_open(&e, &c);
	te_hello(&c);
	/* exactly the limit is fine */
	uint8_t *big = malloc(HRL_FRAME_BODY_BYTES_MAX);
	CHECK(big);
	for (size_t i = 0; i < HRL_FRAME_BODY_BYTES_MAX; i++)
		big[i] = (uint8_t)i;
	CHECK(te_call(&c, HRL_OP_PING, big, HRL_FRAME_BODY_BYTES_MAX, &h, &b) == 0);
	CHECK(h.body_len == HRL_FRAME_BODY_BYTES_MAX && memcmp(b, big, HRL_FRAME_BODY_BYTES_MAX) == 0);
	free(big);
	struct net_hdr o = { .magic = HRL_MAGIC, .version = 1, .opcode = HRL_OP_PING,
			     .request_id = 9, .body_len = HRL_FRAME_BODY_BYTES_MAX + 1 };
	net_hdr_encode(hdr, &o);
	te_send_raw(&c, hdr, sizeof(hdr));
	CHECK(te_recv(&c, &h, &b, 5000) == 0);
	CHECK(te_err(&h, b) == HRL_E_FRAME_TOO_LARGE && h.request_id == 9);
	CHECK(te_recv(&c, &h, &b, 5000) == -ECONNRESET);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
