/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A vendor that answers garbage or flow control: the simulator answers 20 %
 * of Huawei calls with an HTML page (HTTP 200) and 10 % of Xiaomi calls with
 * HTTP 503. Herald never counts a garbage answer as sent: those addresses
 * are retried (backoff, jitter) until the vendor takes them, so the
 * campaign ends "done" with every address sent once as far as Herald knows
 * and every address in the simulator's ledger; the calls that were
 * retried show in the call count.
 */
#include "tests/campaign_lib.h"

#define HW 3000u
#define XM 2000u

static void hw(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "g-hw-%06u-0123456789abcdef", i);
}

static void xm(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "g-xm-%06u", i);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	struct tc_sim sim;
	uint8_t secret[32];
	struct te_body t = { 0 };
	static const char *const args[] = { "--cores", "2", NULL };
	static const uint8_t push[] = { HRL_CH_PUSH };
	struct tc_status s;
	struct te_counters k;
	uint64_t id;
	static const char *const sim_args2[] = { "--garbage", "0.2", "--error", "xiaomi:503:0.1", "--seed", "7", NULL };
	tc_sim_start(&sim, sim_args2);
	te_setup_app(&e, args, &c, secret);
	CHECK(tc_vendor_set(&c, 1, sim.url, "10086", "token", 100, 2, 0) == 0);
	CHECK(tc_vendor_set(&c, 2, sim.url, "", "secret", 100, 2, 0) == 0);
	tc_bind_users(&c, "h", HW, HRL_CH_PUSH, HRL_VENDOR_HUAWEI, hw);
	tc_bind_users(&c, "x", XM, HRL_CH_PUSH, HRL_VENDOR_XIAOMI, xm);
	CHECK(tc_create(&c, 4, 0, push, 1, "t", "b", NULL, &id, NULL, 0) == 0);
	tc_wait(&c, id, 60000, &s);
	char *sum = tc_sim_http(&sim, "GET", "/ledger/summary");
	fprintf(stderr, "state %u sent %llu failed %llu calls %llu (without errors: 50); simulator %s\n", s.state,
		(unsigned long long)s.sent, (unsigned long long)s.failed, (unsigned long long)s.calls, sum);
	CHECK(s.state == 4 && s.sent == HW + XM && s.failed == 0);
	CHECK(s.calls > (HW + XM) / 100);                        /* some calls were made again */
	CHECK(tc_sim_summary(sum, "huawei", "distinct") == HW);  /* every address reached the vendor */
	CHECK(tc_sim_summary(sum, "xiaomi", "distinct") == XM);
	CHECK(tc_sim_summary(sum, "xiaomi", "duplicates") == 0); /* a 503 accepted nothing: no address twice */
	free(sum);
	CHECK(te_counters_get(&c, &t, id, &k) == 0);
	CHECK(k.v[HRL_CH_PUSH][HRL_STATE_SENT] == HW + XM && k.entries == 1);
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	tc_sim_kill();
	te_cleanup();
	return 0;
}
