/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A counter checkpoint too big for one record is written in parts: one
 * core puts receipts for 22,000 campaigns (more keys than one COUNTERS
 * record holds), a receipt after the 1 s window rotates the segment, and
 * the engine is killed. The restart takes the counts from that two-part
 * checkpoint (it replays only the one receipt after it) and every
 * campaign is counted exactly once.
 */
#include "tests/testlib.h"

#define CAMPAIGNS 22000   /* > STO_COUNTERS_PER_RECORD (21,843) */
#define CAMPAIGN0 500000
#define PIPE 1024

static struct te_body t;

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	struct net_hdr h;
	const uint8_t *b;
	char user[32];
	static const char *const args[] = { "--cores", "1", "--event-window", "1s", "--event-segment-mb", "8", NULL };

	te_setup_app(&e, args, &c, secret);
	unsigned sent = 0, answered = 0;
	while (answered < CAMPAIGNS) {
		while (sent < CAMPAIGNS && sent - answered < PIPE) {
			struct te_receipt r = { .message_id = 1 + sent, .campaign_id = CAMPAIGN0 + sent,
						.channel = HRL_CH_SMS, .state = HRL_STATE_QUEUED };
			snprintf(user, sizeof(user), "user-%u", sent % 64);
			te_receipt_body(&t, user, &r);
			te_send(&c, HRL_OP_RECEIPT_PUT, t.b.data, t.b.len);
			sent++;
		}
		CHECK(te_recv(&c, &h, &b, 10000) == 0);
		CHECK(te_err(&h, b) == 0);
		answered++;
	}
	/* the next window: this receipt rotates, and the new segment starts with the whole checkpoint */
	usleep(1100 * 1000);
	struct te_receipt r = { .message_id = 1 + CAMPAIGNS, .campaign_id = CAMPAIGN0, .channel = HRL_CH_SMS,
				.state = HRL_STATE_SENT };
	CHECK(te_receipt_put(&c, &t, "user-0", &r, NULL) == 0);
	te_close(&c);
	te_kill9(&e);

	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	struct te_event_stats st;
	te_event_stats(&c, &st);
	fprintf(stderr, "receipts_replayed %llu\n", (unsigned long long)st.receipts_replayed);
	CHECK(st.receipts_replayed == 1); /* the checkpoint was read, not the receipts before it */
	sent = answered = 0;
	uint64_t first_id = c.next_id;
	while (answered < CAMPAIGNS) {
		while (sent < CAMPAIGNS && sent - answered < PIPE) {
			tb_reset(&t);
			tb_u64(&t, CAMPAIGN0 + sent);
			te_send(&c, HRL_OP_CAMPAIGN_COUNTERS, t.b.data, t.b.len);
			sent++;
		}
		CHECK(te_recv(&c, &h, &b, 10000) == 0);
		CHECK(te_err(&h, b) == 0);
		uint64_t i = h.request_id - first_id;
		CHECK(i < sent);
		answered++;
		uint64_t want_sent = i == 0;
		CHECK(h.body_len == 2 + 10u * (1 + want_sent));
		CHECK(b[0] == 1 + want_sent && b[2] == HRL_CH_SMS && b[3] == HRL_STATE_QUEUED && te_le64(b + 4) == 1);
		if (want_sent)
			CHECK(b[12] == HRL_CH_SMS && b[13] == HRL_STATE_SENT && te_le64(b + 14) == 1);
	}
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
