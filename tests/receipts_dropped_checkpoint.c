/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine dies just before the first write of its third receipt
 * segment. One core, 2 s windows, HERALD_FAULTS=crash_drop@9, receipts put
 * one at a time, and the test waits for each idle seal (a window over, the
 * segment has receipts: the reactor's tick opens the next segment and
 * writes its counters checkpoint alone), so the writes are numbered:
 *   #1 APP_CREATE; #2-#4 three receipts in segment 1;
 *   #5 segment 2's checkpoint; #6-#8 three receipts in segment 2;
 *   #9 segment 3's checkpoint - the engine dies before it.
 * Segment 3 holds no checkpoint, so the start-up counts segment 2's
 * checkpoint and receipts (receipts_replayed >= 3): counters equal the six
 * acknowledged receipts, each in its user's history once.
 */
#include "tests/testlib.h"

static struct te_body t;
static struct te_receipt got[16];

static void put(struct te_conn *c, uint64_t message_id, uint8_t state)
{
	struct te_receipt r = { .message_id = message_id, .campaign_id = 12, .channel = HRL_CH_WECHAT,
				.state = state };
	CHECK(te_receipt_put(c, &t, message_id % 2 ? "odd" : "even", &r, NULL) == 0);
}

static bool segment_exists(const struct te_engine *e, unsigned n)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "e00000001-c000-%06u", n);
	return te_count_files(e->dir, "events", prefix, ".seg") == 1;
}

/* the tick seals segment n-1 and opens n; its checkpoint is submitted in that same turn */
static void wait_segment(const struct te_engine *e, unsigned n)
{
	uint64_t deadline = te_now_ms() + 10000;
	while (!segment_exists(e, n)) {
		CHECK(te_now_ms() < deadline);
		usleep(10000);
	}
	usleep(100000);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	static const char *const args[] = { "--cores", "1", "--event-window", "2s", "--event-segment-mb", "8", NULL };

	setenv("HERALD_FAULTS", "crash_drop@9", 1);
	te_setup_app(&e, args, &c, secret); /* #1 */
	unsetenv("HERALD_FAULTS");
	for (unsigned i = 1; i <= 3; i++)
		put(&c, i, HRL_STATE_QUEUED);   /* #2-#4, segment 1 */
	if (segment_exists(&e, 2))
		SKIP("a window passed among three receipts: the writes are not numbered as planned");
	wait_segment(&e, 2);                     /* #5 */
	for (unsigned i = 4; i <= 6; i++)
		put(&c, i, HRL_STATE_DELIVERED); /* #6-#8, segment 2 */
	if (segment_exists(&e, 3))
		SKIP("a window passed among three receipts: the writes are not numbered as planned");

	/* #9: segment 3's checkpoint at the next idle seal; the engine dies before writing it */
	int status;
	CHECK(waitpid(e.pid, &status, 0) == e.pid);
	e.pid = 0;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 137);
	te_close(&c);
	CHECK(segment_exists(&e, 3));

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
