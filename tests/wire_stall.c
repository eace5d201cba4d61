/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Half a frame, then silence: E_TIMEOUT after the read timeout and the
 * connection closes; a truncated frame followed by EOF is just closed; an
 * idle connection with no partial frame is kept; others are served meanwhile.
 */
#include "tests/testlib.h"

int main(void)
{
	struct te_engine e;
	struct te_conn stall, idle, eof, good;
	struct net_hdr h;
	const uint8_t *b;
	struct base_buf f = { 0 };
	struct net_wr w;

	te_start(&e, (const char *[]){ "--read-timeout-ms", "300", NULL });
	te_open(&e, &stall);
	te_open(&e, &idle);
	te_open(&e, &eof);
	te_open(&e, &good);
	te_hello(&idle);
	net_wr_begin(&w, &f, HRL_OP_PING, 0, 5);
	net_wr_raw(&w, "0123456789", 10);
	CHECK(net_wr_end(&w) == 0);
	te_send_raw(&stall, f.data, 30); /* header and 6 of 10 body bytes */
	te_send_raw(&eof, f.data, 10);   /* part of a header */
	shutdown(eof.fd, SHUT_WR);
	CHECK(te_recv(&eof, &h, &b, 3000) == -ECONNRESET);
	uint64_t t0 = te_now_ms();
	CHECK(te_call(&good, HRL_OP_HELLO, "\x01\x01\x00\x00", 4, &h, &b) == 0);
	CHECK(te_recv(&stall, &h, &b, 5000) == 0);
	CHECK(te_err(&h, b) == HRL_E_TIMEOUT && h.request_id == 0);
	CHECK(te_now_ms() - t0 >= 150);
	CHECK(te_recv(&stall, &h, &b, 3000) == -ECONNRESET);
	/* idle for longer than the timeout, still served */
	usleep(600000);
	CHECK(te_call(&idle, HRL_OP_PING, "z", 1, &h, &b) == 0);
	CHECK(te_call(&good, HRL_OP_PING, "z", 1, &h, &b) == 0);
	base_buf_free(&f);
	te_close(&stall);
	te_close(&idle);
	te_close(&eof);
	te_close(&good);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
