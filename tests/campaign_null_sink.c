/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Campaigns of every audience kind against the null vendor sink (every
 * address accepted at once, no call made), on two cores: each reaches
 * "done" with exactly its audience counted (recipients, queued, sent), the
 * receipts' counters agree (CAMPAIGN_COUNTERS: one "sent" per address), and
 * a user's history shows the campaign.
 */
#include "tests/campaign_lib.h"

#define USERS 3000u

static void token(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "hw-token-%08u-abcdefghijklmnopqrstuvwxyz", i);
}

static struct te_body t;

static void check_campaign(struct te_conn *c, uint8_t audience, const char *arg, uint64_t want)
{
	static const uint8_t push[] = { HRL_CH_PUSH };
	uint64_t id;
	struct tc_status s;
	struct te_counters k;
	CHECK(tc_create(c, audience, 0, push, 1, "Hello", "Sale today", arg, &id, NULL, 0) == 0);
	tc_wait(c, id, 20000, &s);
	fprintf(stderr, "audience %u %s: recipients %llu queued %llu sent %llu calls %llu first call %llu us\n", audience,
		arg ? arg : "", (unsigned long long)s.recipients, (unsigned long long)s.queued,
		(unsigned long long)s.sent, (unsigned long long)s.calls, (unsigned long long)s.first_call_us);
	CHECK(s.state == 4);
	CHECK(s.recipients == want && s.queued == want && s.sent == want);
	CHECK(s.failed == 0 && s.invalid == 0 && s.no_address == 0 && s.inflight == 0 && s.ppm == 1000000);
	CHECK(s.first_call_us > 0 || want == 0);
	CHECK(te_counters_get(c, &t, id, &k) == 0);
	CHECK(k.v[HRL_CH_PUSH][HRL_STATE_SENT] == want);
	CHECK(te_counters_total(&k) == want);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	static const char *const args[] = { "--cores", "2", "--vendor-sink", "null", NULL };

	te_setup_app(&e, args, &c, secret);
	CHECK(tc_vendor_set(&c, 1, "http://127.0.0.1:9", "appid", "token", 0, 0, 0) == 0);
	tc_bind_users(&c, "u", USERS, HRL_CH_PUSH, HRL_VENDOR_HUAWEI, token);

	check_campaign(&c, 4, NULL, USERS);                    /* all */
	check_campaign(&c, 3, "even", USERS / 2);              /* tag */
	check_campaign(&c, 3, "even AND NOT three", USERS / 2 - USERS / 6);
	check_campaign(&c, 3, "(even OR three) AND all", USERS / 2 + USERS / 6);
	check_campaign(&c, 2, "u1,u2,u3,nobody,u2999", 4);      /* list: unknown users are skipped */
	check_campaign(&c, 1, "u7", 1);                         /* one user */
	check_campaign(&c, 1, "nobody", 0);

	/* the user's history holds the receipt of the one-user campaign */
	struct te_receipt got[8];
	CHECK(te_history_all(&c, &t, "u7", 100, got, 8) >= 1);
	CHECK(got[0].state == HRL_STATE_SENT && got[0].channel == HRL_CH_PUSH);

	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
