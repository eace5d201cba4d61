/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kill -9 in the middle of a campaign, then restart: no recipient is lost.
 * 12000 users with Huawei tokens, the simulator answering each call after
 * ~20 ms, 100 tokens a call, two connections per core: the campaign is
 * half way when the engine dies. After the restart it resumes and ends
 * "done"; the simulator's ledger holds all 12000 addresses, and the
 * addresses it saw twice are the batches that were in flight: at most what
 * the open windows held, and exactly what CAMPAIGN_STATUS counts as resent.
 */
#include "fanout/run.h"
#include "tests/campaign_lib.h"

#define USERS 12000u

static void hw(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "crash-%06u-0123456789abcdef0123456789abcdef", i);
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
	CHECK(tc_vendor_set(&c, 1, sim.url, "10086", "token", 100, 2, 0) == 0);
	tc_bind_users(&c, "k", USERS, HRL_CH_PUSH, HRL_VENDOR_HUAWEI, hw);
	CHECK(tc_create(&c, 4, 0, push, 1, "t", "b", NULL, &id, NULL, 0) == 0);
	uint64_t deadline = te_now_ms() + 20000;
	do {
		CHECK(te_now_ms() < deadline);
		usleep(20000);
		CHECK(tc_status(&c, id, &s) == 0);
	} while (s.sent < USERS / 3);
	CHECK(s.state == 1 && s.sent < USERS); /* half way */
	uint64_t sent_before = s.sent;
	te_close(&c);
	te_kill9(&e);

	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	tc_wait(&c, id, 60000, &s);
	char *sum = tc_sim_http(&sim, "GET", "/ledger/summary");
	uint64_t distinct = tc_sim_summary(sum, "huawei", "distinct");
	uint64_t dup = tc_sim_summary(sum, "huawei", "duplicates");
	fprintf(stderr, "killed after %llu sent; after restart: state %u sent %llu resent %llu; simulator distinct %llu duplicates %llu\n",
		(unsigned long long)sent_before, s.state, (unsigned long long)s.sent, (unsigned long long)s.resent,
		(unsigned long long)distinct, (unsigned long long)dup);
	free(sum);
	CHECK(s.state == 4);
	CHECK(distinct == USERS);                 /* nobody lost */
	CHECK(dup <= 2 * FAN_WINDOWS_MAX * FAN_WINDOW_USERS); /* bounded by the open windows of both cores */
	CHECK(s.resent <= dup);                   /* counted: receipts that were durable before the crash */
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	tc_sim_kill();
	te_cleanup();
	return 0;
}
