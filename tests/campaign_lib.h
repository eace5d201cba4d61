/* SPDX-License-Identifier: Apache-2.0 */
/*
 * campaign_lib.h - campaign helpers for the engine tests (PROTOCOL.md 5.10,
 * 5.11): bind many users pipelined, create a campaign, read its status,
 * configure a vendor, wait until a campaign is done.
 */
#ifndef TESTS_CAMPAIGN_LIB_H
#define TESTS_CAMPAIGN_LIB_H

#include "tests/testlib.h"

struct tc_status {
	uint8_t state, audience, lane;
	uint64_t created_ms;
	uint64_t scanned, recipients, queued, sent, failed, invalid, no_address, resent, calls;
	uint64_t first_call_us;
	uint32_t ppm, inflight;
};

/* Bind users prefix0..prefix(n-1), each one address made by addr(i) on (channel, vendor); tags: every
   user gets "all", even users "even", users i % 3 == 0 "three". Pipelined, 256 in flight. */
static inline void tc_bind_users(struct te_conn *c, const char *prefix, unsigned n, uint8_t ch, uint8_t vendor,
				 void (*addr)(unsigned i, char *out, size_t cap))
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	unsigned sent = 0, got = 0;
	char user[64], a[256];
	while (got < 2 * n) {
		while (sent < 2 * n && sent - got < 256) {
			unsigned i = sent / 2;
			snprintf(user, sizeof(user), "%s%u", prefix, i);
			if (sent % 2 == 0) {
				addr(i, a, sizeof(a));
				te_bind_body(&t, user, ch, vendor, HRL_PLATFORM_ANDROID, a);
				te_send(c, HRL_OP_BIND, t.b.data, t.b.len);
			} else {
				tb_reset(&t);
				tb_str(&t, user);
				unsigned k = 1 + (i % 2 == 0) + (i % 3 == 0);
				tb_u16(&t, (uint16_t)k);
				tb_str(&t, "all");
				if (i % 2 == 0)
					tb_str(&t, "even");
				if (i % 3 == 0)
					tb_str(&t, "three");
				te_send(c, HRL_OP_TAG_ADD, t.b.data, t.b.len);
			}
			sent++;
		}
		CHECK(te_recv(c, &h, &b, 10000) == 0);
		CHECK(te_err(&h, b) == 0);
		got++;
	}
	base_buf_free(&t.b);
}

/* CAMPAIGN_CREATE; returns the error code, *id on success, why (if not NULL) gets an error's message. */
static inline int tc_create(struct te_conn *c, uint8_t audience, uint8_t lane, const uint8_t *channels, unsigned nch,
			    const char *title, const char *body, const char *audience_arg, uint64_t *id, char *why,
			    size_t why_cap)
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	tb_u8(&t, audience);
	tb_u8(&t, lane);
	tb_u8(&t, (uint8_t)nch);
	tb_raw(&t, channels, nch);
	tb_str(&t, title);
	tb_str(&t, body);
	tb_str(&t, "");
	if (audience == 1 || audience == 3) {
		tb_str(&t, audience_arg);
	} else if (audience == 2) { /* comma-separated */
		unsigned n = 1;
		for (const char *p = audience_arg; *p; p++)
			n += *p == ',';
		tb_u16(&t, (uint16_t)n);
		const char *p = audience_arg;
		for (;;) {
			size_t l = strcspn(p, ",");
			tb_u16(&t, (uint16_t)l);
			tb_raw(&t, p, l);
			if (!p[l])
				break;
			p += l + 1;
		}
	}
	int rc = te_call(c, HRL_OP_CAMPAIGN_CREATE, t.b.data, t.b.len, &h, &b);
	if (!rc) {
		CHECK(h.body_len == 8);
		*id = te_le64(b);
	} else if (why) {
		size_t l = h.body_len > 4 ? (size_t)(b[2] | b[3] << 8) : 0;
		if (l > why_cap - 1)
			l = why_cap - 1;
		memcpy(why, b + 4, l);
		why[l] = 0;
	}
	base_buf_free(&t.b);
	return rc;
}

static inline int tc_status(struct te_conn *c, uint64_t id, struct tc_status *s)
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	tb_u64(&t, id);
	int rc = te_call(c, HRL_OP_CAMPAIGN_STATUS, t.b.data, t.b.len, &h, &b);
	base_buf_free(&t.b);
	if (rc)
		return rc;
	CHECK(h.body_len == 4 + 8 + 9 * 8 + 8 + 4 + 4);
	s->state = b[0];
	s->audience = b[1];
	s->lane = b[2];
	s->created_ms = te_le64(b + 4);
	uint64_t *f[] = { &s->scanned, &s->recipients, &s->queued, &s->sent, &s->failed,
			  &s->invalid, &s->no_address, &s->resent, &s->calls };
	for (unsigned i = 0; i < 9; i++)
		*f[i] = te_le64(b + 12 + 8 * i);
	s->first_call_us = te_le64(b + 84);
	s->ppm = (uint32_t)(b[92] | b[93] << 8 | b[94] << 16 | (uint32_t)b[95] << 24);
	s->inflight = (uint32_t)(b[96] | b[97] << 8 | b[98] << 16 | (uint32_t)b[99] << 24);
	return 0;
}

static inline int tc_control(struct te_conn *c, uint64_t id, uint8_t action)
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	tb_u64(&t, id);
	tb_u8(&t, action);
	int rc = te_call(c, HRL_OP_CAMPAIGN_CONTROL, t.b.data, t.b.len, &h, &b);
	base_buf_free(&t.b);
	return rc;
}

/* Wait until the campaign is done or cancelled (state 3 or 4); returns the last status. */
static inline void tc_wait(struct te_conn *c, uint64_t id, int timeout_ms, struct tc_status *s)
{
	uint64_t deadline = te_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		CHECK(tc_status(c, id, s) == 0);
		if (s->state == 3 || s->state == 4)
			return;
		if (te_now_ms() > deadline) {
			fprintf(stderr, "campaign %llu: state %u recipients %llu queued %llu sent %llu failed %llu inflight %u ppm %u\n",
				(unsigned long long)id, s->state, (unsigned long long)s->recipients,
				(unsigned long long)s->queued, (unsigned long long)s->sent, (unsigned long long)s->failed,
				s->inflight, s->ppm);
			CHECK(!"campaign did not finish in time");
		}
		usleep(20000);
	}
}

/* VENDOR_SET with the fields a test needs; returns the error code. */
static inline int tc_vendor_set(struct te_conn *c, uint8_t target, const char *url, const char *app_id,
				const char *secret, uint16_t batch, uint16_t conns, uint32_t rate)
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	tb_u8(&t, target);
	tb_str(&t, url);
	tb_str(&t, app_id);
	tb_str(&t, secret);
	tb_str(&t, "sms-secret");
	tb_str(&t, "com.example.app");
	tb_str(&t, "Herald");
	tb_str(&t, "SMS_0001");
	tb_u16(&t, batch);
	tb_u16(&t, conns);
	tb_u32(&t, rate);
	tb_u32(&t, 0);
	int rc = te_call(c, HRL_OP_VENDOR_SET, t.b.data, t.b.len, &h, &b);
	base_buf_free(&t.b);
	return rc;
}

#endif
