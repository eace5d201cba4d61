/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention (--retention 3s, --event-window 1s): receipts stay while they
 * are younger than the retention; once their segment is sealed and its
 * newest receipt is older, they are gone from HISTORY, the segment file
 * and its hint are deleted and STORE_STATS counts event_segments_expired;
 * CAMPAIGN_COUNTERS still count them, also after a kill -9 and restart.
 * A receipt put just now is there.
 * (A segment is sealed at the first receipt after its window, so a
 * receipt goes to another user every 200 ms while the test waits.)
 */
#include "tests/testlib.h"

#define OLD 10
#define RETENTION_MS 3000
#define WAIT_MS 12000

static struct te_body t;
static struct te_receipt got[256];

static bool file_exists(const char *dir, const char *name)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/events/%s", dir, name);
	return access(path, F_OK) == 0;
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	static const char *const args[] = { "--cores", "1", "--event-window", "1s", "--retention", "3s",
					    "--event-segment-mb", "8", NULL };
	uint64_t newest_old = 0;

	te_setup_app(&e, args, &c, secret);
	/* the first segment of core 0 in this run holds the old receipts */
	static const char seg[] = "e00000001-c000-000001.seg", hint[] = "e00000001-c000-000001.hint";
	CHECK(file_exists(e.dir, seg));
	for (unsigned i = 0; i < OLD; i++) {
		struct te_receipt r = { .message_id = 1 + i, .campaign_id = 9, .channel = HRL_CH_SMS,
					.state = HRL_STATE_DELIVERED };
		CHECK(te_receipt_put(&c, &t, "old", &r, &r.recorded_unix_ms) == 0);
		newest_old = r.recorded_unix_ms;
	}
	CHECK(te_history_all(&c, &t, "old", 100, got, 256) == OLD);

	/* keep receipts coming (they seal segments) until the old ones go */
	uint64_t fresh = 0, gone_at = 0, deadline = te_now_ms() + WAIT_MS;
	unsigned n = OLD;
	while (te_now_ms() < deadline) {
		struct te_receipt r = { .message_id = 100 + ++fresh, .campaign_id = 10, .channel = HRL_CH_EMAIL,
					.state = HRL_STATE_SENT };
		CHECK(te_receipt_put(&c, &t, "fresh", &r, NULL) == 0);
		n = te_history_all(&c, &t, "old", 100, got, 256);
		uint64_t answered = te_unix_ms();
		CHECK(n == 0 || n == OLD); /* a segment goes whole */
		CHECK(n == OLD || answered >= newest_old + RETENTION_MS); /* not gone while young */
		if (n == 0) {
			gone_at = answered;
			break;
		}
		usleep(200 * 1000);
	}
	if (n != 0)
		fprintf(stderr, "receipts %llu ms old are still served\n", (unsigned long long)(te_unix_ms() - newest_old));
	CHECK(n == 0);
	fprintf(stderr, "old receipts gone %llu ms after the newest was recorded\n",
		(unsigned long long)(gone_at - newest_old));

	/* the files went with them; the statistics say so */
	CHECK(!file_exists(e.dir, seg));
	CHECK(!file_exists(e.dir, hint));
	struct te_event_stats st;
	unsigned on_disk = 0;
	for (int tries = 0; tries < 5; tries++) { /* retention may delete one in between: ask again */
		on_disk = te_count_files(e.dir, "events", "e", ".seg");
		te_event_stats(&c, &st);
		if (st.event_segment_files == on_disk)
			break;
	}
	fprintf(stderr, "segment files on disk %u, ", on_disk);
	CHECK(st.event_segment_files == on_disk);
	fprintf(stderr, "event_segment_files %u, event_segments_expired %llu\n", st.event_segment_files,
		(unsigned long long)st.event_segments_expired);
	CHECK(st.event_segments_expired > 0);
	CHECK(st.receipts_written == OLD + fresh);

	/* counted still */
	struct te_counters k;
	CHECK(te_counters_get(&c, &t, 9, &k) == 0);
	CHECK(k.entries == 1 && k.v[HRL_CH_SMS][HRL_STATE_DELIVERED] == OLD);
	CHECK(te_counters_get(&c, &t, 10, &k) == 0);
	CHECK(k.v[HRL_CH_EMAIL][HRL_STATE_SENT] == fresh);

	/* a receipt put just now is there, newest first */
	struct te_receipt r = { .message_id = 999, .campaign_id = 10, .channel = HRL_CH_EMAIL, .state = HRL_STATE_SENT };
	CHECK(te_receipt_put(&c, &t, "fresh", &r, NULL) == 0);
	n = te_history_all(&c, &t, "fresh", 1000, got, 256);
	CHECK(n >= 1 && got[0].message_id == 999);
	for (unsigned i = 1; i < n; i++)
		CHECK(got[i].message_id == got[i - 1].message_id - 1 || got[i - 1].message_id == 999);

	/* after a crash: still gone, still counted */
	te_close(&c);
	te_kill9(&e);
	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	CHECK(te_history_all(&c, &t, "old", 100, got, 256) == 0);
	CHECK(te_counters_get(&c, &t, 9, &k) == 0);
	CHECK(k.entries == 1 && k.v[HRL_CH_SMS][HRL_STATE_DELIVERED] == OLD);
	n = te_history_all(&c, &t, "fresh", 1000, got, 256);
	CHECK(n >= 1 && got[0].message_id == 999);

	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
