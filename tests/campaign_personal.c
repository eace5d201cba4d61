/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Personalised content (a template reading the user's values): OPPO takes
 * a message per address in one unicast_batch call, so 600 OPPO users go in
 * a call per core and batch; Huawei has no such call, so each of 200
 * Huawei users gets a call of its own. Every address reaches the simulator
 * once.
 */
#include "tests/campaign_lib.h"

static void op(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "oppo-reg-%06u", i);
}

static void hw(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "pers-hw-%06u-0123456789abcdef", i);
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
	CHECK(tc_vendor_set(&c, 3, sim.url, "", "oppo-token", 0, 2, 0) == 0);
	CHECK(tc_vendor_set(&c, 1, sim.url, "10086", "hw-token", 0, 2, 0) == 0);
	tc_bind_users(&c, "o", 600, HRL_CH_PUSH, HRL_VENDOR_OPPO, op);
	tc_bind_users(&c, "h", 200, HRL_CH_PUSH, HRL_VENDOR_HUAWEI, hw);
	CHECK(tc_create(&c, 4, 0, push, 1, "Hello {{user_id}}", "Your code: {{code|none}}", NULL, &id, NULL, 0) == 0);
	tc_wait(&c, id, 30000, &s);
	char *sum = tc_sim_http(&sim, "GET", "/ledger/summary");
	uint64_t oppo_calls = tc_sim_summary(sum, "oppo", "requests"), hw_calls = tc_sim_summary(sum, "huawei", "requests");
	fprintf(stderr, "personalised: sent %llu in %llu calls; oppo %llu calls for 600, huawei %llu calls for 200\n",
		(unsigned long long)s.sent, (unsigned long long)s.calls, (unsigned long long)oppo_calls,
		(unsigned long long)hw_calls);
	CHECK(s.state == 4 && s.sent == 800);
	CHECK(tc_sim_summary(sum, "oppo", "distinct") == 600 && tc_sim_summary(sum, "huawei", "distinct") == 200);
	CHECK(oppo_calls <= 6);  /* a batch per core, and partial ones flushed after the linger time */
	CHECK(hw_calls == 200);
	free(sum);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	tc_sim_kill();
	te_cleanup();
	return 0;
}
