/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A campaign through herald-vendorsim over loopback HTTP (two engine cores):
 * 2000 users with Huawei tokens (every 50th starts "bad": the simulator
 * calls it invalid), 1000 with Xiaomi regids, 500 with phone numbers.
 * Campaign to all on push and SMS:
 *   - the simulator's ledger equals Herald's counts per vendor: every
 *     accepted address exactly once (no duplicates), invalid ones never
 *     accepted;
 *   - the receipts' counters agree (sent, failed);
 *   - invalid tokens are unbound: a second campaign does not send to them
 *     (the simulator sees no new invalid address) and counts those users as
 *     having no address.
 */
#include "tests/campaign_lib.h"

static void hw(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "%s-hw-%06u-0123456789abcdef0123456789abcdef", i % 50 == 0 ? "bad" : "ok", i);
}

static void xm(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "xm-%06u/regid+abc=", i);
}

static void phone(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "+861380000%04u", i);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	struct tc_sim sim;
	uint8_t secret[32];
	struct te_body t = { 0 };
	static const char *const args[] = { "--cores", "2", NULL };
	static const uint8_t both[] = { HRL_CH_PUSH, HRL_CH_SMS };
	struct tc_status s;
	struct te_counters k;
	uint64_t id, id2;

	tc_sim_start(&sim, NULL);
	te_setup_app(&e, args, &c, secret);
	CHECK(tc_vendor_set(&c, 1, sim.url, "10086", "hw-access-token", 0, 2, 0) == 0);
	CHECK(tc_vendor_set(&c, 2, sim.url, "", "xm-app-secret", 0, 2, 0) == 0);
	CHECK(tc_vendor_set(&c, 5, sim.url, "", "LTAI-key", 0, 2, 0) == 0);
	tc_bind_users(&c, "h", 2000, HRL_CH_PUSH, HRL_VENDOR_HUAWEI, hw);
	tc_bind_users(&c, "x", 1000, HRL_CH_PUSH, HRL_VENDOR_XIAOMI, xm);
	tc_bind_users(&c, "p", 500, HRL_CH_SMS, HRL_VENDOR_NONE, phone);

	CHECK(tc_create(&c, 4, 0, both, 2, "Hello", "Your order has shipped", NULL, &id, NULL, 0) == 0);
	tc_wait(&c, id, 30000, &s);
	fprintf(stderr, "campaign: state %u recipients %llu queued %llu sent %llu failed %llu invalid %llu calls %llu first call %llu us\n",
		s.state, (unsigned long long)s.recipients, (unsigned long long)s.queued, (unsigned long long)s.sent,
		(unsigned long long)s.failed, (unsigned long long)s.invalid, (unsigned long long)s.calls,
		(unsigned long long)s.first_call_us);
	CHECK(s.state == 4 && s.recipients == 3500 && s.queued == 3500);
	CHECK(s.invalid == 40 && s.sent == 3460 && s.failed == 0);

	char *sum = tc_sim_http(&sim, "GET", "/ledger/summary");
	fprintf(stderr, "simulator: %s\n", sum);
	CHECK(tc_sim_summary(sum, "huawei", "accepted") == 1960);
	CHECK(tc_sim_summary(sum, "huawei", "distinct") == 1960);
	CHECK(tc_sim_summary(sum, "huawei", "invalid") == 40);
	CHECK(tc_sim_summary(sum, "xiaomi", "accepted") == 1000 && tc_sim_summary(sum, "xiaomi", "duplicates") == 0);
	CHECK(tc_sim_summary(sum, "sms", "accepted") == 500 && tc_sim_summary(sum, "sms", "duplicates") == 0);
	free(sum);
	/* the ledger names the very addresses */
	char *ledger = tc_sim_http(&sim, "GET", "/ledger");
	CHECK(strstr(ledger, "huawei\tok-hw-000001-0123456789abcdef0123456789abcdef\t1\n"));
	CHECK(!strstr(ledger, "bad-hw-"));
	CHECK(strstr(ledger, "xiaomi\txm-000999/regid+abc=\t1\n"));
	CHECK(strstr(ledger, "sms\t+8613800000499\t1\n"));
	free(ledger);
	CHECK(te_counters_get(&c, &t, id, &k) == 0);
	CHECK(k.v[HRL_CH_PUSH][HRL_STATE_SENT] == 2960 && k.v[HRL_CH_SMS][HRL_STATE_SENT] == 500);
	CHECK(k.v[HRL_CH_PUSH][HRL_STATE_FAILED] == 40);

	/* the invalid tokens were unbound: never tried again */
	CHECK(tc_create(&c, 4, 0, both, 2, "Again", "Second message", NULL, &id2, NULL, 0) == 0);
	tc_wait(&c, id2, 30000, &s);
	CHECK(s.state == 4 && s.sent == 3460 && s.invalid == 0 && s.no_address == 40);
	sum = tc_sim_http(&sim, "GET", "/ledger/summary");
	CHECK(tc_sim_summary(sum, "huawei", "invalid") == 40);
	CHECK(tc_sim_summary(sum, "huawei", "duplicates") == 1960); /* the second campaign, once each */
	free(sum);

	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	tc_sim_kill();
	te_cleanup();
	return 0;
}
