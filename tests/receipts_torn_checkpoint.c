/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine dies half way through the first write of a new receipt
 * segment, the one that carries the counter checkpoint (one core, a 3 s
 * window, HERALD_FAULTS=crash_torn@N): K receipts with K different
 * campaigns are put one at a time (writes #2..#K+1; #1 is APP_CREATE), so
 * the checkpoint spans several blocks; after the window one more receipt
 * rotates the segment and write #K+2 (checkpoint + that receipt) is torn.
 * After the restart the start-up replays the segment before (its
 * receipts: receipts_replayed >= K) and every campaign's counters equal
 * the receipts in the histories: each of the K counted once.
 */
#include "tests/testlib.h"

#define K 300
#define USERS 8
#define WINDOW_MS 3000
#define CAMPAIGN0 1000

static struct te_body t;
static struct te_receipt got[K + 8];

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	struct net_hdr h;
	const uint8_t *b;
	char user[32], faults[64];
	static const char *const args[] = { "--cores", "1", "--event-window", "3s", "--event-segment-mb", "8", NULL };
	static bool seen[K + 1];

	snprintf(faults, sizeof(faults), "crash_torn@%d", K + 2);
	setenv("HERALD_FAULTS", faults, 1);
	uint64_t t0 = te_unix_ms();
	te_setup_app(&e, args, &c, secret); /* write #1; the first receipt segment is created now */
	uint64_t t1 = te_unix_ms();
	unsetenv("HERALD_FAULTS");
	for (unsigned i = 0; i < K; i++) {
		struct te_receipt r = { .message_id = 1 + i, .campaign_id = CAMPAIGN0 + i, .channel = HRL_CH_SMS,
					.state = (uint8_t)(1 + i % 7) };
		if (r.state == HRL_STATE_FAILED)
			strcpy(r.reason, "blocked");
		snprintf(user, sizeof(user), "user-%u", i % USERS);
		CHECK(te_receipt_put(&c, &t, user, &r, NULL) == 0); /* one write each */
	}
	if (te_unix_ms() - t0 >= WINDOW_MS - 200)
		SKIP("the receipts took longer than one window: the fault would not hit the checkpoint");

	/* after the window: this receipt starts segment 2, whose first write is torn */
	while (te_unix_ms() < t1 + WINDOW_MS + 100)
		usleep(20000);
	struct te_receipt last = { .message_id = 9999, .campaign_id = 7, .channel = HRL_CH_SMS,
				   .state = HRL_STATE_SENT };
	te_receipt_body(&t, "user-0", &last);
	te_send(&c, HRL_OP_RECEIPT_PUT, t.b.data, t.b.len);
	CHECK(te_recv(&c, &h, &b, 10000) == -ECONNRESET);
	int status;
	CHECK(waitpid(e.pid, &status, 0) == e.pid);
	e.pid = 0;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 137);
	te_close(&c);
	CHECK(te_count_files(e.dir, "events", "e00000001-c000-000002", ".seg") == 1);

	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	struct te_event_stats st;
	te_event_stats(&c, &st);
	fprintf(stderr, "receipts_replayed %llu\n", (unsigned long long)st.receipts_replayed);
	CHECK(st.receipts_replayed >= K); /* the checkpoint was torn: segment 1 was read */

	/* every receipt once in the histories, and counted exactly */
	unsigned in_hist = 0, last_there = 0;
	for (unsigned u = 0; u < USERS; u++) {
		snprintf(user, sizeof(user), "user-%u", u);
		unsigned n = te_history_all(&c, &t, user, 1000, got, K + 8);
		for (unsigned j = 0; j < n; j++) {
			if (got[j].message_id == 9999) {
				last_there++;
				continue;
			}
			CHECK(got[j].message_id >= 1 && got[j].message_id <= K && !seen[got[j].message_id]);
			seen[got[j].message_id] = true;
			in_hist++;
		}
	}
	CHECK(in_hist == K);
	for (unsigned i = 0; i < K; i++) {
		struct te_counters k;
		CHECK(te_counters_get(&c, &t, CAMPAIGN0 + i, &k) == 0);
		if (te_counters_total(&k) != 1 || k.v[HRL_CH_SMS][1 + i % 7] != 1)
			fprintf(stderr, "campaign %u: %llu counted, want 1\n", CAMPAIGN0 + i,
				(unsigned long long)te_counters_total(&k));
		CHECK(te_counters_total(&k) == 1 && k.v[HRL_CH_SMS][1 + i % 7] == 1);
	}
	struct te_counters k7;
	CHECK(te_counters_get(&c, &t, 7, &k7) == 0);
	CHECK(te_counters_total(&k7) == last_there);
	fprintf(stderr, "%u receipts in histories, each campaign counted once, the torn write's receipt %s\n",
		in_hist, last_there ? "kept" : "lost");

	/* and the engine goes on: a new checkpoint at the next rotation, counts after another crash */
	struct te_receipt more = { .message_id = 10000, .campaign_id = CAMPAIGN0, .channel = HRL_CH_SMS,
				   .state = HRL_STATE_QUEUED };
	CHECK(te_receipt_put(&c, &t, "user-1", &more, NULL) == 0);
	te_close(&c);
	te_kill9(&e);
	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	struct te_counters k0;
	CHECK(te_counters_get(&c, &t, CAMPAIGN0, &k0) == 0);
	CHECK(k0.v[HRL_CH_SMS][HRL_STATE_QUEUED] == 2 && te_counters_total(&k0) == 2);
	CHECK(te_counters_get(&c, &t, CAMPAIGN0 + 1, &k0) == 0);
	CHECK(te_counters_total(&k0) == 1);

	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
