/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention on an idle engine (--event-window 1s, --retention 2s): no
 * receipt arrives after the old ones, yet the core seals their segment
 * when its window is over, so retention deletes it and HISTORY no longer
 * shows them; the counters still count them.
 */
#include "tests/testlib.h"

#define OLD 5

static struct te_body t;
static struct te_receipt got[16];

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	struct te_counters k;
	static const char *const args[] = { "--cores", "1", "--event-window", "1s", "--retention", "2s",
					    "--event-segment-mb", "8", NULL };

	te_setup_app(&e, args, &c, secret);
	for (unsigned i = 0; i < OLD; i++) {
		struct te_receipt r = { .message_id = 1 + i, .campaign_id = 5, .channel = HRL_CH_SMS,
					.state = HRL_STATE_SENT };
		CHECK(te_receipt_put(&c, &t, "idle", &r, NULL) == 0);
	}
	CHECK(te_history_all(&c, &t, "idle", 100, got, 16) == OLD);
	/* nothing else is put: wait for window (1 s) + retention (2 s) + the checks */
	uint64_t deadline = te_now_ms() + 10000;
	unsigned n = OLD;
	while (n && te_now_ms() < deadline) {
		usleep(200000);
		n = te_history_all(&c, &t, "idle", 100, got, 16);
		CHECK(n == 0 || n == OLD);
	}
	CHECK(n == 0);
	CHECK(te_counters_get(&c, &t, 5, &k) == 0);
	CHECK(k.entries == 1 && k.v[HRL_CH_SMS][HRL_STATE_SENT] == OLD);
	te_close(&c);
	te_cleanup();
	return 0;
}
