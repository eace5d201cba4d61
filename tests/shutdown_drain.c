/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SIGTERM while requests are in flight: the engine stops accepting, answers
 * what it has read (each answer whole and correct), closes, and exits 0.
 */
#include "tests/testlib.h"

#define N 2000

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	struct net_hdr h;
	const uint8_t *b;
	uint8_t secret[32];
	struct te_body t = { 0 };
	char user[32], addr[32];

	te_setup_app(&e, (const char *[]){ "--cores", "2", NULL }, &c, secret);
	for (int u = 0; u < N; u++) {
		snprintf(user, sizeof(user), "d%d", u);
		snprintf(addr, sizeof(addr), "+8613%09d", u);
		te_bind_body(&t, user, HRL_CH_SMS, 0, 0, addr);
		te_send(&c, HRL_OP_BIND, t.b.data, t.b.len);
	}
	CHECK(te_recv(&c, &h, &b, 5000) == 0); /* the engine is working on them */
	kill(e.pid, SIGTERM);
	int answered = 1, rc;
	while ((rc = te_recv(&c, &h, &b, 10000)) == 0) {
		CHECK(h.opcode == HRL_OP_BIND);
		CHECK(te_err(&h, b) == 0 || te_err(&h, b) == HRL_E_SHUTTING_DOWN);
		answered++;
	}
	CHECK(rc == -ECONNRESET);
	CHECK(base_buf_readable(&c.in) == 0); /* no torn answer */
	fprintf(stderr, "answered %d of %d before close\n", answered, N);
	int st;
	uint64_t deadline = te_now_ms() + 10000;
	while (waitpid(e.pid, &st, WNOHANG) != e.pid) {
		CHECK(te_now_ms() < deadline);
		usleep(10000);
	}
	e.pid = 0;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* and nobody is listening any more */
	CHECK(te_try_connect(e.port) < 0);
	base_buf_free(&t.b);
	te_close(&c);
	te_cleanup();
	return 0;
}
