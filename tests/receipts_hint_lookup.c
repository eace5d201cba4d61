/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HISTORY read through hint files finds every user's receipts: 2,000
 * users with three receipts each fill the first receipt segment of both
 * cores (thousands of hint entries, so a user's entries often straddle
 * the hint's lookup fences); after the window the segments are sealed and
 * indexed, and every user's history is complete and newest first; the
 * same after kill -9 and a restart, when the hints are mapped at start
 * and checked in the background.
 */
#include "tests/testlib.h"

#define USERS 2000
#define EACH 3
#define PIPE 512

static struct te_body t;

static void user_name(char *out, size_t cap, unsigned u)
{
	snprintf(out, cap, "hint-user-%u", u);
}

/* Every user's history, pipelined: exactly its receipts, newest first. */
static void check_all(struct te_conn *c, const char *when)
{
	static struct te_history pg;
	struct net_hdr h;
	const uint8_t *b;
	char user[32];
	unsigned sent = 0, answered = 0, bad = 0;
	uint64_t first = c->next_id;
	while (answered < USERS) {
		while (sent < USERS && sent - answered < PIPE) {
			user_name(user, sizeof(user), sent);
			te_history_body(&t, user, NULL, 10);
			te_send(c, HRL_OP_HISTORY, t.b.data, t.b.len);
			sent++;
		}
		CHECK(te_recv(c, &h, &b, 10000) == 0);
		CHECK(te_err(&h, b) == 0);
		uint64_t u = h.request_id - first;
		CHECK(u < sent);
		answered++;
		te_history_decode(b, h.body_len, &pg);
		bool ok = pg.count == EACH && te_cursor_is_end(pg.next_cursor);
		for (unsigned k = 0; ok && k < EACH; k++)
			ok = pg.r[k].message_id == u * 10 + (EACH - k);
		if (!ok && bad++ < 5)
			fprintf(stderr, "%s: hint-user-%llu has %u receipts (first %llu), want %u\n", when,
				(unsigned long long)u, pg.count, pg.count ? (unsigned long long)pg.r[0].message_id : 0ull,
				EACH);
	}
	if (bad)
		fprintf(stderr, "%s: %u of %u users' histories wrong\n", when, bad, USERS);
	CHECK(bad == 0);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	struct net_hdr h;
	const uint8_t *b;
	char user[32];
	static const char *const args[] = { "--cores", "2", "--event-window", "1s", "--event-segment-mb", "8", NULL };

	te_setup_app(&e, args, &c, secret);
	unsigned sent = 0, answered = 0;
	while (answered < USERS * EACH) {
		while (sent < USERS * EACH && sent - answered < PIPE) {
			unsigned u = sent % USERS, k = sent / USERS + 1;
			struct te_receipt r = { .message_id = u * 10 + k, .campaign_id = 3, .channel = HRL_CH_SMS,
						.state = (uint8_t)k };
			user_name(user, sizeof(user), u);
			te_receipt_body(&t, user, &r);
			te_send(&c, HRL_OP_RECEIPT_PUT, t.b.data, t.b.len);
			sent++;
		}
		CHECK(te_recv(&c, &h, &b, 10000) == 0);
		CHECK(te_err(&h, b) == 0);
		answered++;
	}
	check_all(&c, "in memory");

	/* the next window: a receipt on each core seals its first segment */
	usleep(1100 * 1000);
	for (unsigned i = 0; i < 16; i++) {
		struct te_receipt r = { .message_id = 1, .campaign_id = 4, .channel = HRL_CH_SMS,
					.state = HRL_STATE_QUEUED };
		snprintf(user, sizeof(user), "rotate-%u", i);
		CHECK(te_receipt_put(&c, &t, user, &r, NULL) == 0);
	}
	for (int w = 0; w < 300 && te_count_files(e.dir, "events", "e00000001-", "-000001.hint") < 2; w++)
		usleep(10000);
	CHECK(te_count_files(e.dir, "events", "e00000001-", "-000001.hint") == 2);
	usleep(300 * 1000); /* the cores' ticks hand the sealed receipts over to the hints */
	check_all(&c, "from hints");
	te_close(&c);
	te_kill9(&e);

	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	check_all(&c, "after restart");
	usleep(500 * 1000); /* the hints are checked by now */
	check_all(&c, "after restart, hints checked");
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
