/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vivo takes two calls per batch: saveListPayload (the message, no
 * addresses) answers a taskId, then pushToList sends it to the regids.
 * 300 vivo users through the simulator: every address sent once; and when
 * the save call fails (the simulator refuses vivo's credential), no
 * address counts as sent.
 */
#include "tests/campaign_lib.h"

static void vv(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "vivo-regid-%06u", i);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	struct tc_sim sim;
	uint8_t secret[32];
	static const char *const sim_args[] = { "--auth", "vivo=good-token", NULL };
	static const char *const args[] = { "--cores", "2", NULL };
	static const uint8_t push[] = { HRL_CH_PUSH };
	struct tc_status s;
	uint64_t id;

	tc_sim_start(&sim, sim_args);
	te_setup_app(&e, args, &c, secret);
	CHECK(tc_vendor_set(&c, 4, sim.url, "vivo-app", "good-token", 0, 2, 0) == 0);
	tc_bind_users(&c, "v", 300, HRL_CH_PUSH, HRL_VENDOR_VIVO, vv);
	CHECK(tc_create(&c, 4, 0, push, 1, "Hi", "News", NULL, &id, NULL, 0) == 0);
	tc_wait(&c, id, 30000, &s);
	char *sum = tc_sim_http(&sim, "GET", "/ledger/summary");
	fprintf(stderr, "vivo: sent %llu failed %llu calls %llu; simulator %s\n", (unsigned long long)s.sent,
		(unsigned long long)s.failed, (unsigned long long)s.calls, sum);
	CHECK(s.state == 4 && s.sent == 300 && s.failed == 0);
	CHECK(tc_sim_summary(sum, "vivo", "distinct") == 300 && tc_sim_summary(sum, "vivo", "duplicates") == 0);
	free(sum);

	/* a credential the vendor refuses: the save call fails, nothing is sent */
	CHECK(tc_vendor_set(&c, 4, sim.url, "vivo-app", "wrong-token", 0, 2, 0) == 0);
	CHECK(tc_create(&c, 4, 0, push, 1, "Hi", "Again", NULL, &id, NULL, 0) == 0);
	tc_wait(&c, id, 30000, &s);
	fprintf(stderr, "vivo, refused credential: sent %llu failed %llu\n", (unsigned long long)s.sent,
		(unsigned long long)s.failed);
	CHECK(s.state == 4 && s.sent == 0 && s.failed == 300);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	tc_sim_kill();
	te_cleanup();
	return 0;
}
