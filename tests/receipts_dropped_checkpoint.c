/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine dies just before the first write of its third receipt
 * segment (one core, 1 s windows, HERALD_FAULTS=crash_drop@8, receipts put
 * one at a time: #1 APP_CREATE, #2-#4 three receipts in segment 1, #5-#7
 * three in segment 2 after a window, the first with segment 2's
 * checkpoint, #8 segment 3's checkpoint with one more receipt). Segment 3
 * holds no checkpoint, so the start-up counts segment 2's checkpoint and
 * receipts (receipts_replayed >= 3): counters equal the six acknowledged
 * receipts, each in its user's history once; the seventh is nowhere.
 */
#include "tests/testlib.h"

#define WINDOW_MS 1000

static struct te_body t;
static struct te_receipt got[16];

static void put(struct te_conn *c, uint64_t message_id, uint8_t state)
{
	struct te_receipt r = { .message_id = message_id, .campaign_id = 12, .channel = HRL_CH_WECHAT,
				.state = state };
	CHECK(te_receipt_put(c, &t, message_id % 2 ? "odd" : "even", &r, NULL) == 0);
}

/* wait until a new window has begun for a segment created no later than since */
static void next_window(uint64_t since)
{
	while (te_unix_ms() < since + WINDOW_MS + 100)
		usleep(20000);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	struct net_hdr h;
	const uint8_t *b;
	static const char *const args[] = { "--cores", "1", "--event-window", "1s", "--event-segment-mb", "8", NULL };

	setenv("HERALD_FAULTS", "crash_drop@8", 1);
	uint64_t t0 = te_unix_ms();
	te_setup_app(&e, args, &c, secret); /* #1 */
	uint64_t t1 = te_unix_ms();
	unsetenv("HERALD_FAULTS");
	for (unsigned i = 1; i <= 3; i++)
		put(&c, i, HRL_STATE_QUEUED);   /* #2-#4, segment 1 */
	if (te_unix_ms() - t0 >= WINDOW_MS - 100)
		SKIP("three receipts took longer than a window: the fault would not hit the checkpoint");
	next_window(t1);
	uint64_t t2 = te_unix_ms();
	for (unsigned i = 4; i <= 6; i++)
		put(&c, i, HRL_STATE_DELIVERED); /* #5 (checkpoint, segment 2) - #7 */
	if (te_unix_ms() - t2 >= WINDOW_MS - 100)
		SKIP("three receipts took longer than a window: the fault would not hit the checkpoint");
	CHECK(te_count_files(e.dir, "events", "e00000001-c000-000002", ".seg") == 1);
	next_window(te_unix_ms());

	/* #8: segment 3's first write; the engine dies before it */
	struct te_receipt r = { .message_id = 7, .campaign_id = 12, .channel = HRL_CH_WECHAT,
				.state = HRL_STATE_CLICKED };
	te_receipt_body(&t, "odd", &r);
	te_send(&c, HRL_OP_RECEIPT_PUT, t.b.data, t.b.len);
	CHECK(te_recv(&c, &h, &b, 10000) == -ECONNRESET);
	int status;
	CHECK(waitpid(e.pid, &status, 0) == e.pid);
	e.pid = 0;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 137);
	te_close(&c);
	CHECK(te_count_files(e.dir, "events", "e00000001-c000-000003", ".seg") == 1);

	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	struct te_event_stats st;
	te_event_stats(&c, &st);
	fprintf(stderr, "receipts_replayed %llu\n", (unsigned long long)st.receipts_replayed);
	CHECK(st.receipts_replayed >= 3);
	struct te_counters k;
	CHECK(te_counters_get(&c, &t, 12, &k) == 0);
	if (k.v[HRL_CH_WECHAT][HRL_STATE_QUEUED] != 3 || k.v[HRL_CH_WECHAT][HRL_STATE_DELIVERED] != 3)
		fprintf(stderr, "counted queued %llu, delivered %llu; want 3 and 3\n",
			(unsigned long long)k.v[HRL_CH_WECHAT][HRL_STATE_QUEUED],
			(unsigned long long)k.v[HRL_CH_WECHAT][HRL_STATE_DELIVERED]);
	CHECK(k.entries == 2 && k.v[HRL_CH_WECHAT][HRL_STATE_QUEUED] == 3 &&
	      k.v[HRL_CH_WECHAT][HRL_STATE_DELIVERED] == 3);
	CHECK(te_history_all(&c, &t, "odd", 100, got, 16) == 3);
	CHECK(got[0].message_id == 5 && got[1].message_id == 3 && got[2].message_id == 1);
	CHECK(te_history_all(&c, &t, "even", 100, got, 16) == 3);
	CHECK(got[0].message_id == 6 && got[1].message_id == 4 && got[2].message_id == 2);

	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
