/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fdatasync fails on the receipt log (HERALD_FAULTS=fsync_eio@3 on one
 * core: #1 is APP_CREATE, #2 the first receipt, #3 the second): the data
 * may be on disk, but the receipt is answered E_STORE and undone. Within
 * the run it must stay undone (PROTOCOL.md 5.5: "a later read shows the
 * state before it"), also after its segment is sealed and indexed from
 * the file; it is not counted. After a restart it may be found again
 * (the 5.5 exception), but counters and histories agree: the counters
 * count exactly the receipts the histories hold.
 */
#include "tests/testlib.h"

static struct te_body t;
static struct te_receipt got[16];

static struct te_receipt receipt(uint64_t message_id, uint8_t state)
{
	return (struct te_receipt){ .message_id = message_id, .campaign_id = 32, .channel = HRL_CH_EMAIL,
				    .state = state };
}

static unsigned history(struct te_conn *c, const char *when)
{
	unsigned n = te_history_all(c, &t, "alice", 100, got, 16);
	fprintf(stderr, "%s: alice's history:", when);
	for (unsigned i = 0; i < n; i++)
		fprintf(stderr, " %llu", (unsigned long long)got[i].message_id);
	fprintf(stderr, "\n");
	return n;
}

static uint64_t counted(struct te_conn *c)
{
	struct te_counters k;
	CHECK(te_counters_get(c, &t, 32, &k) == 0);
	return te_counters_total(&k);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	static const char *const args[] = { "--cores", "1", "--event-segment-mb", "8", NULL };

	setenv("HERALD_FAULTS", "fsync_eio@3", 1);
	te_setup_app(&e, args, &c, secret); /* fsync #1 */
	unsetenv("HERALD_FAULTS");
	struct te_receipt r = receipt(1, HRL_STATE_QUEUED);
	CHECK(te_receipt_put(&c, &t, "alice", &r, NULL) == 0);              /* #2 */
	r = receipt(2, HRL_STATE_SENT);
	CHECK(te_receipt_put(&c, &t, "alice", &r, NULL) == HRL_E_STORE);    /* #3: EIO */
	CHECK(history(&c, "after E_STORE") == 1 && got[0].message_id == 1);
	CHECK(counted(&c) == 1);

	/* the failed segment is sealed; once its successor's checkpoint is durable it is indexed */
	r = receipt(3, HRL_STATE_DELIVERED);
	CHECK(te_receipt_put(&c, &t, "alice", &r, NULL) == 0);
	for (int w = 0; w < 300 && te_count_files(e.dir, "events", "e00000001-c000-000001", ".hint") == 0; w++)
		usleep(10000);
	CHECK(te_count_files(e.dir, "events", "e00000001-c000-000001", ".hint") == 1);
	usleep(300 * 1000); /* the core's tick hands the sealed receipts over to the hint */
	unsigned n = history(&c, "segment indexed");
	CHECK(n == 2 && got[0].message_id == 3 && got[1].message_id == 1); /* 2 stays undone */
	CHECK(counted(&c) == 2);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);

	/* after a restart: 2 may be back, but then it is counted too */
	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	n = history(&c, "after restart");
	CHECK(n == 2 || n == 3);
	CHECK(got[0].message_id == 3 && got[n - 1].message_id == 1);
	uint64_t k = counted(&c);
	fprintf(stderr, "after restart: %u in history, %llu counted\n", n, (unsigned long long)k);
	CHECK(k == n);

	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
