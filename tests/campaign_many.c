/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 1000 campaigns at once (null vendor sink, two cores): created pipelined,
 * each to its own list of three users, all running together; every one
 * ends "done" with exactly its three recipients sent, and the counters of
 * its receipts say the same.
 */
#include "tests/campaign_lib.h"

#define CAMPAIGNS 1000u
#define USERS     300u

static void token(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "xm-regid-%06u", i);
}

static struct te_body t;
static uint64_t ids[CAMPAIGNS];

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	struct net_hdr h;
	const uint8_t *b;
	static const char *const args[] = { "--cores", "2", "--vendor-sink", "null", NULL };

	te_setup_app(&e, args, &c, secret);
	CHECK(tc_vendor_set(&c, 2, "http://127.0.0.1:9", "", "key", 0, 0, 0) == 0);
	tc_bind_users(&c, "m", USERS, HRL_CH_PUSH, HRL_VENDOR_XIAOMI, token);

	/* pipelined: all 1000 creates in flight, answers in any order */
	uint64_t req[CAMPAIGNS];
	char user[32];
	for (unsigned i = 0; i < CAMPAIGNS; i++) {
		tb_reset(&t);
		tb_u8(&t, 2);
		tb_u8(&t, 0);
		tb_u8(&t, 1);
		tb_u8(&t, HRL_CH_PUSH);
		tb_str(&t, "");
		tb_str(&t, "News {{user_id}}");
		tb_str(&t, "");
		tb_u16(&t, 3);
		for (unsigned k = 0; k < 3; k++) {
			snprintf(user, sizeof(user), "m%u", (i + k * 97) % USERS);
			tb_str(&t, user);
		}
		req[i] = te_send(&c, HRL_OP_CAMPAIGN_CREATE, t.b.data, t.b.len);
	}
	for (unsigned n = 0; n < CAMPAIGNS; n++) {
		CHECK(te_recv(&c, &h, &b, 20000) == 0);
		CHECK(te_err(&h, b) == 0 && h.body_len == 8);
		unsigned i = 0;
		while (i < CAMPAIGNS && req[i] != h.request_id)
			i++;
		CHECK(i < CAMPAIGNS && !ids[i]);
		ids[i] = te_le64(b);
	}
	unsigned done = 0;
	for (unsigned i = 0; i < CAMPAIGNS; i++) {
		struct tc_status s;
		tc_wait(&c, ids[i], 30000, &s);
		CHECK(s.state == 4 && s.recipients == 3 && s.sent == 3 && s.failed == 0);
		struct te_counters k;
		CHECK(te_counters_get(&c, &t, ids[i], &k) == 0);
		CHECK(k.v[HRL_CH_PUSH][HRL_STATE_SENT] == 3);
		done++;
	}
	fprintf(stderr, "%u campaigns done, 3 recipients each\n", done);
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
