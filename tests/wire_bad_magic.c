/* SPDX-License-Identifier: Apache-2.0 */
/* Garbage bytes: E_BAD_MAGIC with request id 0, then the engine closes; others are served. */
#include "tests/testlib.h"

int main(void)
{
	struct te_engine e;
	struct te_conn bad, good;
	struct net_hdr h;
	const uint8_t *b;
	uint8_t junk[100];

	te_start(&e, (const char *[]){ "--cores", "2", NULL });
	te_open(&e, &good);
	te_hello(&good);
	te_open(&e, &bad);
	for (unsigned i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	te_send_raw(&bad, junk, sizeof(junk));
	CHECK(te_recv(&bad, &h, &b, 5000) == 0);
	CHECK(te_err(&h, b) == HRL_E_BAD_MAGIC);
	CHECK(h.request_id == 0 && h.opcode == 0);
	CHECK(te_recv(&bad, &h, &b, 5000) == -ECONNRESET);
	CHECK(te_call(&good, HRL_OP_PING, "ok", 2, &h, &b) == 0);
	CHECK(h.body_len == 2 && memcmp(b, "ok", 2) == 0);
	te_close(&bad);
	te_close(&good);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
