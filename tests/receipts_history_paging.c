/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HISTORY pages through a user's receipts newest first (PROTOCOL.md 5.6):
 * 25 receipts of one user, in two receipt segments (a 1 s window), paged
 * with limit 7 by next_cursor, come back each exactly once, in the order
 * they were recorded, with the fields that were put (event_unix_ms 0 is
 * the recording time); next_cursor is all zero at the end. Receipts put
 * while paging do not appear in that paging and do on a fresh cursor. A
 * user without receipts gets count 0 and a zero cursor; another user's
 * receipts and those of the same user id in another app are not shown.
 */
#include "tests/testlib.h"

#define PUT_FIRST 25
#define PUT_LATER 3
#define LIMIT 7

static struct te_body t;
static struct te_receipt put[PUT_FIRST + PUT_LATER]; /* what alice got, oldest first */
static struct te_receipt all[64];

/* Receipt i: every channel and state, vendors for push, some with a reason, some with an event time. */
static void make(struct te_receipt *r, unsigned i)
{
	memset(r, 0, sizeof(*r));
	r->message_id = 1000 + i;
	r->campaign_id = i % 3 == 0 ? 0 : 40 + i % 3;
	r->channel = (uint8_t)(1 + i % 5);
	r->vendor = r->channel == HRL_CH_PUSH ? (uint8_t)(1 + i % 8) : 0;
	r->state = (uint8_t)(1 + i % 7);
	r->event_unix_ms = i % 2 ? 0 : 1700000000000ull + i * 1000u;
	if (r->state == HRL_STATE_FAILED || i % 4 == 1)
		snprintf(r->reason, sizeof(r->reason), "reason %u: ~!@#$%%^&*()_+{}", i);
}

static void put_alice(struct te_conn *c, unsigned i)
{
	uint64_t before = te_unix_ms(), rec;
	make(&put[i], i);
	CHECK(te_receipt_put(c, &t, "alice", &put[i], &rec) == 0);
	CHECK(rec + 2000 >= before && rec <= te_unix_ms() + 2000);
	put[i].recorded_unix_ms = rec;
	if (!put[i].event_unix_ms)
		put[i].event_unix_ms = rec;
}

static void put_other(struct te_conn *c, const char *user, uint64_t message_id)
{
	struct te_receipt r = { .message_id = message_id, .campaign_id = 41, .channel = HRL_CH_SMS,
				.state = HRL_STATE_DELIVERED };
	CHECK(te_receipt_put(c, &t, user, &r, NULL) == 0);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c, c2, admin;
	uint8_t secret[32], secret2[32];
	static struct te_history pg;
	static const char *const args[] = { "--cores", "2", "--event-window", "1s", "--event-segment-mb", "8", NULL };

	te_setup_app(&e, args, &c, secret);
	te_admin(&e, &admin);
	te_app_create(&admin, "app2", secret2);
	te_close(&admin);
	te_open(&e, &c2);
	CHECK(te_auth(&c2, "app2", secret2) == 0);

	/* alice's receipts, with bob's and app2's alice's in between; a window ends half way */
	for (unsigned i = 0; i < PUT_FIRST; i++) {
		if (i == PUT_FIRST / 2)
			usleep(1200 * 1000);
		put_alice(&c, i);
		if (i % 5 == 0) {
			put_other(&c, "bob", 5000 + i);
			put_other(&c2, "alice", 6000 + i);
		}
	}

	/* the first half is in a sealed segment, served through its hint file */
	CHECK(te_count_files(e.dir, "events", "e", ".seg") >= 3);
	for (int w = 0; w < 200 && te_count_files(e.dir, "events", "e", ".hint") == 0; w++)
		usleep(10000);
	CHECK(te_count_files(e.dir, "events", "e", ".hint") >= 1);

	/* page with limit 7; receipts put after the first page are not in this paging */
	uint8_t cursor[HRL_CURSOR_BYTES] = { 0 };
	unsigned seen = 0, pages = 0;
	for (;;) {
		CHECK(te_history_page(&c, &t, "alice", cursor, LIMIT, &pg) == 0);
		CHECK(pg.count <= LIMIT);
		for (unsigned k = 0; k < pg.count; k++, seen++) {
			CHECK(seen < PUT_FIRST);
			const struct te_receipt *want = &put[PUT_FIRST - 1 - seen];
			if (!te_receipt_eq(&pg.r[k], want)) {
				fprintf(stderr, "page %u item %u: message %llu state %u, want message %llu state %u\n", pages,
					k, (unsigned long long)pg.r[k].message_id, pg.r[k].state,
					(unsigned long long)want->message_id, want->state);
				CHECK(!"HISTORY differs from what was put");
			}
		}
		pages++;
		if (pages == 1)
			for (unsigned i = PUT_FIRST; i < PUT_FIRST + PUT_LATER; i++)
				put_alice(&c, i);
		if (te_cursor_is_end(pg.next_cursor))
			break;
		CHECK(pages < 10);
		memcpy(cursor, pg.next_cursor, sizeof(cursor));
	}
	CHECK(seen == PUT_FIRST);
	fprintf(stderr, "%u receipts in %u pages of at most %u\n", seen, pages, LIMIT);

	/* a fresh cursor has the new ones first */
	unsigned n = te_history_all(&c, &t, "alice", LIMIT, all, 64);
	CHECK(n == PUT_FIRST + PUT_LATER);
	for (unsigned k = 0; k < n; k++)
		CHECK(te_receipt_eq(&all[k], &put[n - 1 - k]));
	/* one at a time: the same, across the segment boundary */
	CHECK(te_history_all(&c, &t, "alice", 1, all, 64) == PUT_FIRST + PUT_LATER);
	for (unsigned k = 0; k < n; k++)
		CHECK(te_receipt_eq(&all[k], &put[n - 1 - k]));
	/* one page of 1000 holds the same */
	CHECK(te_history_page(&c, &t, "alice", NULL, 1000, &pg) == 0);
	CHECK(pg.count == n && te_cursor_is_end(pg.next_cursor));
	for (unsigned k = 0; k < n; k++)
		CHECK(te_receipt_eq(&pg.r[k], &put[n - 1 - k]));

	/* a user without receipts: an empty page, not an error */
	CHECK(te_history_page(&c, &t, "nobody", NULL, LIMIT, &pg) == 0);
	CHECK(pg.count == 0 && te_cursor_is_end(pg.next_cursor));
	/* bob has only his own */
	n = te_history_all(&c, &t, "bob", LIMIT, all, 64);
	CHECK(n == (PUT_FIRST + 4) / 5);
	for (unsigned k = 0; k < n; k++)
		CHECK(all[k].message_id == 5000 + (n - 1 - k) * 5);
	/* app2's alice has only app2's */
	n = te_history_all(&c2, &t, "alice", LIMIT, all, 64);
	CHECK(n == (PUT_FIRST + 4) / 5);
	for (unsigned k = 0; k < n; k++)
		CHECK(all[k].message_id == 6000 + (n - 1 - k) * 5);

	te_close(&c2);
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
