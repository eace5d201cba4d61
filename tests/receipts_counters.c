/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CAMPAIGN_COUNTERS (PROTOCOL.md 5.7) on two cores: for each campaign the
 * counts equal the receipts put per (channel, state) by that app, summed
 * over users on both cores, sorted by channel then state, zero counts
 * left out; another app's receipts with the same campaign id are not
 * counted (and it sees only its own); a campaign without receipts gives
 * count 0; campaign id 0 (single messages) is counted like any other.
 */
#include "tests/testlib.h"

#define USERS 16
#define CAMPAIGNS 3

static struct te_body t;
static const uint64_t campaigns[CAMPAIGNS] = { 77, 0, 0xFFFFFFFFFFFFFFFFull };
static uint64_t want[CAMPAIGNS][HRL_CH_COUNT][HRL_STATE_COUNT];
static uint64_t want2[HRL_CH_COUNT][HRL_STATE_COUNT]; /* app2, campaign 77 */

static void check(struct te_conn *c, uint64_t campaign, uint64_t expect[HRL_CH_COUNT][HRL_STATE_COUNT])
{
	struct te_counters k;
	unsigned entries = 0;
	CHECK(te_counters_get(c, &t, campaign, &k) == 0); /* layout, order and no zeros checked there */
	for (unsigned ch = 1; ch < HRL_CH_COUNT; ch++)
		for (unsigned st = 1; st < HRL_STATE_COUNT; st++) {
			entries += expect[ch][st] != 0;
			if (k.v[ch][st] != expect[ch][st]) {
				fprintf(stderr, "campaign %llu channel %u state %u: %llu, want %llu\n",
					(unsigned long long)campaign, ch, st, (unsigned long long)k.v[ch][st],
					(unsigned long long)expect[ch][st]);
				CHECK(!"counter differs from the receipts put");
			}
		}
	CHECK(k.entries == entries);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c, c2, admin;
	uint8_t secret[32], secret2[32];
	char user[32];
	static const char *const args[] = { "--cores", "2", "--event-segment-mb", "8", NULL };

	te_setup_app(&e, args, &c, secret);
	te_admin(&e, &admin);
	te_app_create(&admin, "app2", secret2);
	te_close(&admin);
	te_open(&e, &c2);
	CHECK(te_auth(&c2, "app2", secret2) == 0);

	/* nothing yet */
	static uint64_t none[HRL_CH_COUNT][HRL_STATE_COUNT];
	check(&c, 77, none);

	/* users spread over both cores; each walks some channels through some states */
	unsigned puts = 0;
	for (unsigned u = 0; u < USERS; u++) {
		snprintf(user, sizeof(user), "user-%u", u);
		for (unsigned j = 0; j < 9; j++) {
			unsigned ci = (u + j) % CAMPAIGNS;
			struct te_receipt r = {
				.message_id = 100 + u * 10 + j,
				.campaign_id = campaigns[ci],
				.channel = (uint8_t)(1 + (u * 3 + j) % 5),
				.state = (uint8_t)(1 + (u + j * j) % 7),
			};
			r.vendor = r.channel == HRL_CH_PUSH ? (uint8_t)(1 + u % 8) : 0;
			if (r.state == HRL_STATE_FAILED)
				strcpy(r.reason, "quota");
			CHECK(te_receipt_put(&c, &t, user, &r, NULL) == 0);
			want[ci][r.channel][r.state]++;
			puts++;
			/* app2: the same user ids and campaign 77 in other channels */
			if (j % 3 == 0) {
				r.campaign_id = 77;
				r.channel = HRL_CH_EMAIL;
				r.vendor = 0;
				r.state = (uint8_t)(1 + u % 5);
				CHECK(te_receipt_put(&c2, &t, user, &r, NULL) == 0);
				want2[r.channel][r.state]++;
			}
		}
	}
	/* one recipient through the whole funnel counts once in each state */
	for (uint8_t st = HRL_STATE_QUEUED; st <= HRL_STATE_CLICKED; st++) {
		struct te_receipt r = { .message_id = 9, .campaign_id = 77, .channel = HRL_CH_PUSH,
					.vendor = HRL_VENDOR_APNS, .state = st };
		CHECK(te_receipt_put(&c, &t, "funnel", &r, NULL) == 0);
		want[0][HRL_CH_PUSH][st]++;
		puts++;
	}

	for (unsigned ci = 0; ci < CAMPAIGNS; ci++)
		check(&c, campaigns[ci], want[ci]);
	check(&c2, 77, want2);
	check(&c2, 0, none);
	check(&c, 78, none);
	struct te_counters k;
	uint64_t total = 0;
	for (unsigned ci = 0; ci < CAMPAIGNS; ci++) {
		CHECK(te_counters_get(&c, &t, campaigns[ci], &k) == 0);
		total += te_counters_total(&k);
	}
	CHECK(total == puts);
	fprintf(stderr, "%u receipts in %u campaigns counted\n", puts, CAMPAIGNS);

	te_close(&c2);
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
