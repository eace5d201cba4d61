/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cancel stops sending: a campaign to 8000 users through the simulator
 * (each call answered after ~20 ms, 100 tokens a call) is cancelled once
 * some addresses went out. It ends "cancelled", and after the calls in
 * flight came back the simulator receives nothing more: its ledger stops
 * growing, far below the audience; the addresses not sent are counted
 * failed ("cancelled").
 */
#include "tests/campaign_lib.h"

#define USERS 8000u

static void hw(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "cancel-%06u-0123456789abcdef", i);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	struct tc_sim sim;
	uint8_t secret[32];
	static const char *const sim_args[] = { "--latency-ms", "20,30", NULL };
	static const char *const args[] = { "--cores", "2", NULL };
	static const uint8_t push[] = { HRL_CH_PUSH };
	struct tc_status s;
	uint64_t id;

	tc_sim_start(&sim, sim_args);
	te_setup_app(&e, args, &c, secret);
	CHECK(tc_vendor_set(&c, 1, sim.url, "10086", "token", 100, 1, 0) == 0);
	tc_bind_users(&c, "c", USERS, HRL_CH_PUSH, HRL_VENDOR_HUAWEI, hw);
	CHECK(tc_create(&c, 4, 0, push, 1, "t", "b", NULL, &id, NULL, 0) == 0);
	do {
		usleep(10000);
		CHECK(tc_status(&c, id, &s) == 0);
	} while (s.sent < 400);
	CHECK(tc_control(&c, id, 3) == 0);
	tc_wait(&c, id, 20000, &s);
	CHECK(s.state == 3);
	usleep(300000); /* calls in flight come back */
	char *sum = tc_sim_http(&sim, "GET", "/ledger/summary");
	uint64_t a1 = tc_sim_summary(sum, "huawei", "accepted");
	free(sum);
	usleep(500000);
	sum = tc_sim_http(&sim, "GET", "/ledger/summary");
	uint64_t a2 = tc_sim_summary(sum, "huawei", "accepted");
	free(sum);
	CHECK(tc_status(&c, id, &s) == 0);
	fprintf(stderr, "cancelled: simulator accepted %llu then %llu; engine sent %llu failed %llu of %u\n",
		(unsigned long long)a1, (unsigned long long)a2, (unsigned long long)s.sent,
		(unsigned long long)s.failed, USERS);
	CHECK(a1 == a2 && a2 < USERS / 2);
	CHECK(s.sent == a2);
	CHECK(tc_control(&c, id, 2) == HRL_E_INVALID_ARGUMENT);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	tc_sim_kill();
	te_cleanup();
	return 0;
}
