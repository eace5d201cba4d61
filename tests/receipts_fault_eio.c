/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An I/O error on the receipt log (HERALD_FAULTS=write_eio@3 on one core:
 * write #1 is APP_CREATE, #2 the first receipt, #3 the second): that
 * RECEIPT_PUT is answered E_STORE and is in neither HISTORY nor
 * CAMPAIGN_COUNTERS nor receipts_written; the engine goes on in a new
 * segment, later receipts work, and after a restart exactly the
 * acknowledged receipts are there and counted.
 */
#include "tests/testlib.h"

static struct te_body t;
static struct te_receipt got[16];

static struct te_receipt receipt(uint64_t message_id, uint8_t state)
{
	return (struct te_receipt){ .message_id = message_id, .campaign_id = 31, .channel = HRL_CH_SMS,
				    .state = state };
}

/* alice's history is exactly these message ids, newest first */
static void expect_history(struct te_conn *c, const uint64_t *ids, unsigned n)
{
	unsigned got_n = te_history_all(c, &t, "alice", 100, got, 16);
	if (got_n != n)
		fprintf(stderr, "alice has %u receipts, want %u\n", got_n, n);
	CHECK(got_n == n);
	for (unsigned i = 0; i < n; i++)
		CHECK(got[i].message_id == ids[i]);
}

static void expect_counts(struct te_conn *c, uint64_t queued, uint64_t sent, uint64_t delivered)
{
	struct te_counters k;
	CHECK(te_counters_get(c, &t, 31, &k) == 0);
	CHECK(k.v[HRL_CH_SMS][HRL_STATE_QUEUED] == queued);
	CHECK(k.v[HRL_CH_SMS][HRL_STATE_SENT] == sent);
	CHECK(k.v[HRL_CH_SMS][HRL_STATE_DELIVERED] == delivered);
	CHECK(te_counters_total(&k) == queued + sent + delivered);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	static const char *const args[] = { "--cores", "1", "--event-segment-mb", "8", NULL };
	static const uint64_t ids[] = { 4, 3, 1 };

	setenv("HERALD_FAULTS", "write_eio@3", 1);
	te_setup_app(&e, args, &c, secret); /* write #1 */
	unsetenv("HERALD_FAULTS");
	struct te_receipt r = receipt(1, HRL_STATE_QUEUED);
	CHECK(te_receipt_put(&c, &t, "alice", &r, NULL) == 0);              /* #2 */
	r = receipt(2, HRL_STATE_SENT);
	CHECK(te_receipt_put(&c, &t, "alice", &r, NULL) == HRL_E_STORE);    /* #3: EIO */
	expect_history(&c, ids + 2, 1);
	expect_counts(&c, 1, 0, 0);
	struct te_event_stats st;
	te_event_stats(&c, &st);
	CHECK(st.receipts_written == 1);

	/* the engine goes on serving and recording */
	r = receipt(3, HRL_STATE_SENT);
	CHECK(te_receipt_put(&c, &t, "alice", &r, NULL) == 0);
	r = receipt(4, HRL_STATE_DELIVERED);
	CHECK(te_receipt_put(&c, &t, "alice", &r, NULL) == 0);
	expect_history(&c, ids, 3);
	expect_counts(&c, 1, 1, 1);
	te_event_stats(&c, &st);
	CHECK(st.receipts_written == 3);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);

	/* and after a restart: the acknowledged ones, counted once */
	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	expect_history(&c, ids, 3);
	expect_counts(&c, 1, 1, 1);
	te_close(&c);
	te_kill9(&e);
	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	expect_history(&c, ids, 3);
	expect_counts(&c, 1, 1, 1);

	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
