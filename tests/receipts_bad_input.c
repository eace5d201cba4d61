/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every field rule of RECEIPT_PUT, HISTORY and CAMPAIGN_COUNTERS
 * (PROTOCOL.md section 5 table, 5.6, 5.7), one request per rule: the
 * error code the spec names, and nothing recorded (HISTORY, counters and
 * receipts_written unchanged afterwards). The limits themselves are
 * accepted: a 64-byte reason, channel 5, state 7, vendor 8, an event 23 h
 * ahead, a 128-byte user id, limit 1000. An admin connection gets
 * E_FORBIDDEN, a connection without AUTH E_AUTH_REQUIRED.
 */
#include "tests/testlib.h"

static struct te_conn c;
static struct te_body t;
static struct net_hdr h;
static const uint8_t *b;

static struct te_receipt good(void)
{
	return (struct te_receipt){ .message_id = 7, .campaign_id = 55, .channel = HRL_CH_PUSH,
				    .vendor = HRL_VENDOR_HUAWEI, .state = HRL_STATE_DELIVERED };
}

static int put(const char *user, const struct te_receipt *r)
{
	return te_receipt_put(&c, &t, user, r, NULL);
}

/* RECEIPT_PUT of a good receipt with one field changed must fail with err. */
#define BAD(err, field_change)                                    \
	do {                                                      \
		struct te_receipt r_ = good();                    \
		field_change;                                     \
		int got_ = put("alice", &r_);                     \
		if (got_ != (err))                                \
			fprintf(stderr, "%s: error %d, want %d\n", #field_change, got_, (err)); \
		CHECK(got_ == (err));                             \
	} while (0)

static int raw(uint16_t op, const void *body, size_t len)
{
	return te_call(&c, op, body, len, &h, &b);
}

static int history_cursor(const uint8_t cursor[HRL_CURSOR_BYTES])
{
	te_history_body(&t, "alice", cursor, 10);
	return raw(HRL_OP_HISTORY, t.b.data, t.b.len);
}

int main(void)
{
	struct te_engine e;
	uint8_t secret[32];
	static const char *const args[] = { "--cores", "2", "--event-segment-mb", "8", NULL };
	char id128[129], id129[130];
	static struct te_history pg;

	te_setup_app(&e, args, &c, secret);

	/* the limits are accepted */
	struct te_receipt ok = good();
	CHECK(put("alice", &ok) == 0);
	memset(ok.reason, 'x', 64);
	ok.reason[64] = 0;
	ok.channel = HRL_CH_WEBHOOK;
	ok.vendor = 0;
	ok.state = HRL_STATE_RECALLED;
	CHECK(put("alice", &ok) == 0);
	ok = good();
	ok.vendor = HRL_VENDOR_MEIZU;
	ok.event_unix_ms = te_unix_ms() + 23ull * 3600 * 1000;
	strcpy(ok.reason, " ~");
	CHECK(put("alice", &ok) == 0);
	memset(id128, 'u', 128);
	id128[128] = 0;
	ok = good();
	CHECK(put(id128, &ok) == 0);
	ok.state = HRL_STATE_FAILED;
	strcpy(ok.reason, "x");
	CHECK(put("alice", &ok) == 0);
	CHECK(put("\xe7\x8e\x8b\xe5\xb0\x8f\xe6\x98\x8e", &ok) == 0); /* UTF-8 user id */

	/* what is there now; nothing below may change it */
	static struct te_receipt before[16], after[16];
	unsigned n_before = te_history_all(&c, &t, "alice", 1000, before, 16);
	CHECK(n_before == 4);
	struct te_counters k_before, k_after;
	CHECK(te_counters_get(&c, &t, 55, &k_before) == 0);
	CHECK(te_counters_total(&k_before) == 6);
	struct te_event_stats st;
	te_event_stats(&c, &st);
	CHECK(st.receipts_written == 6);

	/* RECEIPT_PUT, one rule each */
	BAD(HRL_E_INVALID_ARGUMENT, r_.message_id = 0);
	BAD(HRL_E_INVALID_ARGUMENT, (r_.channel = 0, r_.vendor = 0));
	BAD(HRL_E_INVALID_ARGUMENT, (r_.channel = 6, r_.vendor = 0));
	BAD(HRL_E_INVALID_ARGUMENT, r_.channel = 255);
	BAD(HRL_E_INVALID_ARGUMENT, r_.vendor = 0);                          /* push without a vendor */
	BAD(HRL_E_INVALID_ARGUMENT, r_.vendor = 9);                          /* no such vendor */
	BAD(HRL_E_INVALID_ARGUMENT, r_.channel = HRL_CH_SMS);                /* sms with vendor 3 */
	BAD(HRL_E_INVALID_ARGUMENT, (r_.channel = HRL_CH_EMAIL, r_.vendor = HRL_VENDOR_APNS));
	BAD(HRL_E_INVALID_ARGUMENT, r_.state = 0);
	BAD(HRL_E_INVALID_ARGUMENT, r_.state = 8);
	BAD(HRL_E_INVALID_ARGUMENT, r_.state = 255);
	BAD(HRL_E_INVALID_ARGUMENT, strcpy(r_.reason, "tab\there"));
	BAD(HRL_E_INVALID_ARGUMENT, strcpy(r_.reason, "del\x7f"));
	BAD(HRL_E_INVALID_ARGUMENT, strcpy(r_.reason, "\xc3\xa9t\xc3\xa9")); /* UTF-8 is not printable ASCII */
	BAD(HRL_E_INVALID_ARGUMENT, r_.state = HRL_STATE_FAILED);            /* failed without a reason */
	BAD(HRL_E_INVALID_ARGUMENT, r_.event_unix_ms = te_unix_ms() + 24ull * 3600 * 1000 + 60000);
	BAD(HRL_E_INVALID_ARGUMENT, r_.event_unix_ms = UINT64_MAX);
	ok = good();
	memset(id129, 'u', 129);
	id129[129] = 0;
	CHECK(put(id129, &ok) == HRL_E_INVALID_ARGUMENT);
	CHECK(put("", &ok) == HRL_E_INVALID_ARGUMENT);
	CHECK(put("ali\nce", &ok) == HRL_E_INVALID_ARGUMENT);
	CHECK(put("bad\xff utf8", &ok) == HRL_E_INVALID_ARGUMENT);
	/* a 65-byte reason: built by hand, te_receipt holds at most 64 */
	{
		char reason65[66];
		memset(reason65, 'z', 65);
		reason65[65] = 0;
		tb_reset(&t);
		tb_str(&t, "alice");
		tb_u64(&t, 7);
		tb_u64(&t, 55);
		tb_u8(&t, HRL_CH_PUSH);
		tb_u8(&t, HRL_VENDOR_HUAWEI);
		tb_u8(&t, HRL_STATE_DELIVERED);
		tb_u64(&t, 0);
		tb_str(&t, reason65);
		CHECK(raw(HRL_OP_RECEIPT_PUT, t.b.data, t.b.len) == HRL_E_LIMIT_EXCEEDED);
	}
	/* truncated and trailing bytes */
	te_receipt_body(&t, "alice", &ok);
	CHECK(raw(HRL_OP_RECEIPT_PUT, t.b.data, t.b.len - 1) == HRL_E_BAD_BODY);
	CHECK(raw(HRL_OP_RECEIPT_PUT, t.b.data, t.b.len - 2) == HRL_E_BAD_BODY); /* no reason length */
	CHECK(raw(HRL_OP_RECEIPT_PUT, t.b.data, 20) == HRL_E_BAD_BODY);
	CHECK(raw(HRL_OP_RECEIPT_PUT, "", 0) == HRL_E_BAD_BODY);
	tb_u8(&t, 0);
	CHECK(raw(HRL_OP_RECEIPT_PUT, t.b.data, t.b.len) == HRL_E_BAD_BODY);

	/* HISTORY */
	te_history_body(&t, "alice", NULL, 0);
	CHECK(raw(HRL_OP_HISTORY, t.b.data, t.b.len) == HRL_E_INVALID_ARGUMENT);
	te_history_body(&t, "alice", NULL, 1001);
	CHECK(raw(HRL_OP_HISTORY, t.b.data, t.b.len) == HRL_E_LIMIT_EXCEEDED);
	te_history_body(&t, "alice", NULL, 65535);
	CHECK(raw(HRL_OP_HISTORY, t.b.data, t.b.len) == HRL_E_LIMIT_EXCEEDED);
	CHECK(te_history_page(&c, &t, "alice", NULL, 1000, &pg) == 0);
	te_history_body(&t, "", NULL, 10);
	CHECK(raw(HRL_OP_HISTORY, t.b.data, t.b.len) == HRL_E_INVALID_ARGUMENT);
	te_history_body(&t, "alice", NULL, 10);
	CHECK(raw(HRL_OP_HISTORY, t.b.data, t.b.len - 1) == HRL_E_BAD_BODY);
	CHECK(raw(HRL_OP_HISTORY, t.b.data, t.b.len - 3) == HRL_E_BAD_BODY); /* a short cursor */
	tb_u8(&t, 0);
	CHECK(raw(HRL_OP_HISTORY, t.b.data, t.b.len) == HRL_E_BAD_BODY);
	/* cursors the engine could not have made */
	uint8_t cur[HRL_CURSOR_BYTES];
	memset(cur, 0xff, sizeof(cur));
	CHECK(history_cursor(cur) == HRL_E_INVALID_ARGUMENT);
	memset(cur, 0, sizeof(cur));
	cur[15] = 1;
	CHECK(history_cursor(cur) == HRL_E_INVALID_ARGUMENT);
	memset(cur, 0xa5, sizeof(cur));
	CHECK(history_cursor(cur) == HRL_E_INVALID_ARGUMENT);
	/* a real cursor with a byte changed past what the engine writes */
	CHECK(te_history_page(&c, &t, "alice", NULL, 1, &pg) == 0);
	CHECK(!te_cursor_is_end(pg.next_cursor));
	memcpy(cur, pg.next_cursor, sizeof(cur));
	CHECK(history_cursor(cur) == 0);
	uint8_t bent[HRL_CURSOR_BYTES];
	memcpy(bent, cur, sizeof(bent));
	bent[0] ^= 0x80; /* an epoch far in the future */
	CHECK(history_cursor(bent) == HRL_E_INVALID_ARGUMENT);

	/* CAMPAIGN_COUNTERS */
	CHECK(raw(HRL_OP_CAMPAIGN_COUNTERS, "1234567", 7) == HRL_E_BAD_BODY);
	CHECK(raw(HRL_OP_CAMPAIGN_COUNTERS, "123456789", 9) == HRL_E_BAD_BODY);
	CHECK(raw(HRL_OP_CAMPAIGN_COUNTERS, "", 0) == HRL_E_BAD_BODY);

	/* roles */
	struct te_conn admin, anon;
	te_admin(&e, &admin);
	ok = good();
	te_receipt_body(&t, "alice", &ok);
	CHECK(te_call(&admin, HRL_OP_RECEIPT_PUT, t.b.data, t.b.len, &h, &b) == HRL_E_FORBIDDEN);
	te_history_body(&t, "alice", NULL, 10);
	CHECK(te_call(&admin, HRL_OP_HISTORY, t.b.data, t.b.len, &h, &b) == HRL_E_FORBIDDEN);
	tb_reset(&t);
	tb_u64(&t, 55);
	CHECK(te_call(&admin, HRL_OP_CAMPAIGN_COUNTERS, t.b.data, t.b.len, &h, &b) == HRL_E_FORBIDDEN);
	te_close(&admin);
	te_open(&e, &anon);
	te_hello(&anon);
	te_receipt_body(&t, "alice", &ok);
	CHECK(te_call(&anon, HRL_OP_RECEIPT_PUT, t.b.data, t.b.len, &h, &b) == HRL_E_AUTH_REQUIRED);
	te_close(&anon);

	/* nothing was recorded */
	unsigned n_after = te_history_all(&c, &t, "alice", 1000, after, 16);
	CHECK(n_after == n_before);
	for (unsigned i = 0; i < n_after; i++)
		CHECK(te_receipt_eq(&after[i], &before[i]));
	CHECK(te_counters_get(&c, &t, 55, &k_after) == 0);
	CHECK(memcmp(k_after.v, k_before.v, sizeof(k_after.v)) == 0);
	struct te_event_stats st2;
	te_event_stats(&c, &st2);
	CHECK(st2.receipts_written == st.receipts_written);

	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
