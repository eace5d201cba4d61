/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Receipts survive kill -9 also when the number of cores changes: on two
 * cores with a 1 s window, receipts are put across several segments (the
 * counter checkpoints are written at each rotation), the engine is killed,
 * restarted on one core, then more receipts, kill -9 again, two cores
 * again. After each restart CAMPAIGN_COUNTERS and every user's full
 * HISTORY (order, fields, recording times) equal what was put, and a
 * next_cursor given out before the crash goes on where it stopped.
 */
#include "tests/testlib.h"

#define USERS 12
#define PER_USER_MAX 64
#define CAMPAIGN_A 5
#define CAMPAIGN_B 6

static struct te_body t;
static struct te_receipt model[USERS][PER_USER_MAX]; /* oldest first */
static unsigned model_n[USERS];
static uint64_t want[2][HRL_CH_COUNT][HRL_STATE_COUNT];
static struct te_receipt got[PER_USER_MAX];
static uint64_t next_message = 1;

/* One round: every user gets `each` receipts. */
static void put_round(struct te_conn *c, unsigned each)
{
	char user[32];
	for (unsigned k = 0; k < each; k++)
		for (unsigned u = 0; u < USERS; u++) {
			snprintf(user, sizeof(user), "user-%u", u);
			CHECK(model_n[u] < PER_USER_MAX);
			struct te_receipt *r = &model[u][model_n[u]];
			uint64_t m = next_message++;
			*r = (struct te_receipt){
				.message_id = m,
				.campaign_id = m % 2 ? CAMPAIGN_A : CAMPAIGN_B,
				.channel = (uint8_t)(1 + m % 5),
				.state = (uint8_t)(1 + (m / 5) % 7),
				.event_unix_ms = m % 3 ? 0 : 1690000000000ull + m,
			};
			r->vendor = r->channel == HRL_CH_PUSH ? (uint8_t)(1 + m % 8) : 0;
			if (r->state == HRL_STATE_FAILED || m % 4 == 0)
				snprintf(r->reason, sizeof(r->reason), "r%llu", (unsigned long long)m);
			CHECK(te_receipt_put(c, &t, user, r, &r->recorded_unix_ms) == 0);
			if (!r->event_unix_ms)
				r->event_unix_ms = r->recorded_unix_ms;
			want[r->campaign_id - CAMPAIGN_A][r->channel][r->state]++;
			model_n[u]++;
		}
}

static void verify(struct te_conn *c, const char *when)
{
	char user[32];
	for (unsigned u = 0; u < USERS; u++) {
		snprintf(user, sizeof(user), "user-%u", u);
		unsigned n = te_history_all(c, &t, user, 5, got, PER_USER_MAX);
		if (n != model_n[u])
			fprintf(stderr, "%s: %s has %u receipts, want %u\n", when, user, n, model_n[u]);
		CHECK(n == model_n[u]);
		for (unsigned k = 0; k < n; k++) {
			const struct te_receipt *w = &model[u][n - 1 - k], *g = &got[k];
			if (!te_receipt_eq(g, w)) {
				fprintf(stderr, "%s: %s item %u is message %llu, want %llu\n", when, user, k,
					(unsigned long long)g->message_id, (unsigned long long)w->message_id);
				CHECK(!"history differs after restart");
			}
		}
	}
	for (unsigned ci = 0; ci < 2; ci++) {
		struct te_counters k;
		CHECK(te_counters_get(c, &t, CAMPAIGN_A + ci, &k) == 0);
		for (unsigned ch = 1; ch < HRL_CH_COUNT; ch++)
			for (unsigned st = 1; st < HRL_STATE_COUNT; st++)
				if (k.v[ch][st] != want[ci][ch][st]) {
					fprintf(stderr, "%s: campaign %u channel %u state %u: %llu, want %llu\n", when,
						CAMPAIGN_A + ci, ch, st, (unsigned long long)k.v[ch][st],
						(unsigned long long)want[ci][ch][st]);
					CHECK(!"counters differ after restart");
				}
	}
}

static void reconnect(struct te_engine *e, struct te_conn *c, const uint8_t secret[32])
{
	te_open(e, c);
	CHECK(te_auth(c, "app1", secret) == 0);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	static const char *const two[] = { "--cores", "2", "--event-window", "1s", "--event-segment-mb", "8", NULL };
	static const char *const one[] = { "--cores", "1", "--event-window", "1s", "--event-segment-mb", "8", NULL };

	te_setup_app(&e, two, &c, secret);
	put_round(&c, 3);
	usleep(1100 * 1000);
	put_round(&c, 3); /* rotates both cores' segments: checkpoints */
	usleep(1100 * 1000);
	put_round(&c, 2);
	CHECK(te_count_files(e.dir, "events", "e00000001-", ".seg") >= 4);
	verify(&c, "before the crash");
	static struct te_history pg;
	CHECK(te_history_page(&c, &t, "user-3", NULL, 5, &pg) == 0);
	CHECK(pg.count == 5 && !te_cursor_is_end(pg.next_cursor));
	uint8_t cursor[HRL_CURSOR_BYTES];
	memcpy(cursor, pg.next_cursor, sizeof(cursor));
	te_close(&c);
	te_kill9(&e);

	te_restart(&e, one);
	reconnect(&e, &c, secret);
	verify(&c, "one core after kill -9");
	/* the cursor of the crashed run: the rest of user-3's receipts, each once */
	unsigned rest = 0;
	for (int pages = 0; pages < 20; pages++) {
		CHECK(te_history_page(&c, &t, "user-3", cursor, 5, &pg) == 0);
		for (unsigned k = 0; k < pg.count; k++, rest++)
			CHECK(5 + rest < model_n[3] && te_receipt_eq(&pg.r[k], &model[3][model_n[3] - 1 - 5 - rest]));
		if (te_cursor_is_end(pg.next_cursor))
			break;
		memcpy(cursor, pg.next_cursor, sizeof(cursor));
	}
	CHECK(5 + rest == model_n[3]);
	put_round(&c, 2);
	usleep(1100 * 1000);
	put_round(&c, 1);
	verify(&c, "one core, more put");
	te_close(&c);
	te_kill9(&e);

	te_restart(&e, two);
	reconnect(&e, &c, secret);
	verify(&c, "two cores after kill -9");
	struct te_event_stats st;
	te_event_stats(&c, &st);
	fprintf(stderr, "receipts_replayed %llu, event segment files %u\n", (unsigned long long)st.receipts_replayed,
		st.event_segment_files);
	put_round(&c, 1);
	verify(&c, "two cores, more put");
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
