/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A full segment or write buffer makes changes wait for the next flush, not
 * fail: with 1 MiB segments, 20,000 pipelined BINDs over four connections
 * all succeed (no E_BUSY), across many segment switches, and all are there
 * after a restart.
 */
#include "tests/testlib.h"

#define CONNS 4
#define PER_CONN 5000

int main(void)
{
	struct te_engine e;
	struct te_conn c[CONNS];
	uint8_t secret[32];
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	char user[160], addr[32];
	static const char *const args[] = { "--cores", "2", "--segment-mb", "1", "--compact-mb", "0", NULL };

	te_setup_app(&e, args, &c[0], secret);
	for (int k = 1; k < CONNS; k++) {
		te_open(&e, &c[k]);
		CHECK(te_auth(&c[k], "app1", secret) == 0);
	}
	for (int k = 0; k < CONNS; k++)
		for (int i = 0; i < PER_CONN; i++) {
			snprintf(user, sizeof(user), "bp-%d-%d-%0100d", k, i, 0); /* ~110-byte ids: fill segments */
			snprintf(addr, sizeof(addr), "+86%d%09d", k + 1, i);
			te_bind_body(&t, user, HRL_CH_SMS, 0, 0, addr);
			te_send(&c[k], HRL_OP_BIND, t.b.data, t.b.len);
		}
	for (int k = 0; k < CONNS; k++)
		for (int i = 0; i < PER_CONN; i++) {
			CHECK(te_recv(&c[k], &h, &b, 20000) == 0);
			CHECK(te_err(&h, b) == 0); /* never E_BUSY */
		}
	/* several segment switches happened */
	unsigned segs = te_count_log_files(e.dir, "e", ".seg") + te_count_log_files(e.dir, "e", ".seg.lz4");
	fprintf(stderr, "segments: %u\n", segs);
	CHECK(segs >= 4);
	for (int k = 0; k < CONNS; k++)
		te_close(&c[k]);
	te_kill9(&e);
	te_restart(&e, args);
	te_open(&e, &c[0]);
	CHECK(te_auth(&c[0], "app1", secret) == 0);
	CHECK(te_call(&c[0], HRL_OP_STATS, "", 0, &h, &b) == 0);
	uint64_t users = 0;
	for (int k = 0; k < b[0]; k++) {
		uint64_t v;
		memcpy(&v, b + 2 + k * 38 + 6 + 24, 8);
		users += v;
	}
	CHECK(users == CONNS * PER_CONN);
	te_close(&c[0]);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
