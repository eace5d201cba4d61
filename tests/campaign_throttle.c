/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Throttling holds the configured rate within 10 %: a vendor limited to
 * 2000 addresses per second (VENDOR_SET rate_per_s, shared out across the
 * two cores), 100 tokens a call, a campaign to 6000 users. Measured from
 * the first vendor call to the last answer, the rate is 2000/s +- 10 %
 * (after the first burst the buckets allow: one batch per core).
 */
#include "tests/campaign_lib.h"

#define USERS 6000u
#define RATE  2000u

static void hw(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "rate-%06u-0123456789abcdef", i);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	struct tc_sim sim;
	uint8_t secret[32];
	static const char *const args[] = { "--cores", "2", NULL };
	static const uint8_t push[] = { HRL_CH_PUSH };
	struct tc_status s;
	uint64_t id;

	tc_sim_start(&sim, NULL);
	te_setup_app(&e, args, &c, secret);
	CHECK(tc_vendor_set(&c, 1, sim.url, "10086", "token", 100, 2, RATE) == 0);
	tc_bind_users(&c, "r", USERS, HRL_CH_PUSH, HRL_VENDOR_HUAWEI, hw);
	uint64_t t0 = te_now_ms();
	CHECK(tc_create(&c, 4, 0, push, 1, "t", "b", NULL, &id, NULL, 0) == 0);
	tc_wait(&c, id, 30000, &s);
	uint64_t ms = te_now_ms() - t0;
	CHECK(s.state == 4 && s.sent == USERS);
	/* the buckets start full: 2 x 100 go at once, the rest at the rate */
	double rate = (double)(USERS - 200) * 1000.0 / (double)ms;
	fprintf(stderr, "%u addresses in %llu ms: %.0f/s after the first burst (limit %u/s)\n", USERS,
		(unsigned long long)ms, rate, RATE);
	CHECK(rate <= RATE * 1.10 && rate >= RATE * 0.90);
	char *sum = tc_sim_http(&sim, "GET", "/ledger/summary");
	CHECK(tc_sim_summary(sum, "huawei", "throttled") == 0 && tc_sim_summary(sum, "huawei", "distinct") == USERS);
	free(sum);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	tc_sim_kill();
	te_cleanup();
	return 0;
}
