/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An uploaded audience through the simulator (two cores): a campaign whose
 * rows come in three CAMPAIGN_UPLOAD chunks of user ids with two columns
 * (order, amount) used by the template. Broken rows (too many fields, an
 * empty row, a user id with a space) are reported by line and the rest
 * proceeds; rows naming unknown users are skipped. Once the last chunk
 * closes the upload the campaign ends "done" with each good row's user
 * sent once, personalised from its row. A second campaign uploads phone
 * numbers straight to SMS, with a bad number reported.
 */
#include "tests/campaign_lib.h"

#define USERS 1500u

static void hw(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "up-%06u-0123456789abcdef", i);
}

static struct te_body t;

/* CAMPAIGN_UPLOAD; returns the error code; accepted/rejected and the first report's line. */
static int upload(struct te_conn *c, uint64_t id, uint32_t first_line, uint8_t last, const char *rows,
		  uint32_t *accepted, uint32_t *rejected, uint32_t *lines, unsigned nlines)
{
	struct net_hdr h;
	const uint8_t *b;
	tb_reset(&t);
	tb_u64(&t, id);
	tb_u32(&t, first_line);
	tb_u8(&t, last);
	tb_raw(&t, rows, strlen(rows));
	int rc = te_call(c, HRL_OP_CAMPAIGN_UPLOAD, t.b.data, t.b.len, &h, &b);
	if (rc)
		return rc;
	CHECK(h.body_len >= 10);
	*accepted = (uint32_t)(b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24);
	*rejected = (uint32_t)(b[4] | b[5] << 8 | b[6] << 16 | (uint32_t)b[7] << 24);
	unsigned n = b[8] | b[9] << 8, off = 10;
	for (unsigned i = 0; i < n; i++) {
		uint32_t line = (uint32_t)(b[off] | b[off + 1] << 8 | b[off + 2] << 16 | (uint32_t)b[off + 3] << 24);
		unsigned l = b[off + 4] | b[off + 5] << 8;
		fprintf(stderr, "  line %u: %.*s\n", line, (int)l, (const char *)b + off + 6);
		if (i < nlines)
			lines[i] = line;
		off += 6 + l;
	}
	return 0;
}

static int create_upload(struct te_conn *c, uint8_t channel, uint8_t kind, const char *columns, const char *body,
			 uint64_t *id)
{
	struct net_hdr h;
	const uint8_t *b;
	tb_reset(&t);
	tb_u8(&t, 5);
	tb_u8(&t, 0);
	tb_u8(&t, 1);
	tb_u8(&t, channel);
	tb_str(&t, "Order");
	tb_str(&t, body);
	tb_str(&t, "");
	tb_u8(&t, kind);
	tb_str(&t, columns);
	int rc = te_call(c, HRL_OP_CAMPAIGN_CREATE, t.b.data, t.b.len, &h, &b);
	if (!rc)
		*id = te_le64(b);
	return rc;
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	struct tc_sim sim;
	uint8_t secret[32];
	static const char *const args[] = { "--cores", "2", NULL };
	struct tc_status s;
	uint64_t id, sms_id;
	uint32_t acc, rej, lines[8];
	static char rows[200000];

	tc_sim_start(&sim, NULL);
	te_setup_app(&e, args, &c, secret);
	CHECK(tc_vendor_set(&c, 1, sim.url, "10086", "token", 0, 2, 0) == 0);
	CHECK(tc_vendor_set(&c, 5, sim.url, "", "LTAI", 0, 2, 0) == 0);
	tc_bind_users(&c, "u", USERS, HRL_CH_PUSH, HRL_VENDOR_HUAWEI, hw);
	CHECK(create_upload(&c, HRL_CH_PUSH, 1, "order,amount", "Order {{row.order}}: {{row.amount}} EUR", &id) == 0);
	CHECK(tc_status(&c, id, &s) == 0 && s.state == 1);

	/* chunk 1: lines 1-1000, good but for three */
	size_t n = 0;
	for (unsigned i = 0; i < 1000; i++) {
		if (i == 10)
			n += (size_t)snprintf(rows + n, sizeof(rows) - n, "u10,A10,1,extra\n");
		else if (i == 20)
			n += (size_t)snprintf(rows + n, sizeof(rows) - n, "\n");
		else if (i == 30)
			n += (size_t)snprintf(rows + n, sizeof(rows) - n, "u 30,A30,3\n");
		else
			n += (size_t)snprintf(rows + n, sizeof(rows) - n, "u%u,A%u,%u\n", i, i, i * 10);
	}
	CHECK(upload(&c, id, 1, 0, rows, &acc, &rej, lines, 8) == 0);
	CHECK(acc == 997 && rej == 3 && lines[0] == 11 && lines[1] == 21 && lines[2] == 31);
	/* chunk 2: lines 1001-1500, the rest of the users, and two unknown ones */
	n = 0;
	for (unsigned i = 1000; i < USERS; i++)
		n += (size_t)snprintf(rows + n, sizeof(rows) - n, "u%u,A%u,%u\n", i, i, i * 10);
	n += (size_t)snprintf(rows + n, sizeof(rows) - n, "nobody1,X,0\nnobody2,X,0");
	CHECK(upload(&c, id, 1001, 0, rows, &acc, &rej, lines, 8) == 0);
	CHECK(acc == 502 && rej == 0);
	usleep(200000);
	CHECK(tc_status(&c, id, &s) == 0 && s.state == 1); /* still open: not done */
	/* chunk 3: empty, closes the upload */
	CHECK(upload(&c, id, 1503, 1, "", &acc, &rej, lines, 8) == 0);
	CHECK(upload(&c, id, 1503, 0, "u1,A,1\n", &acc, &rej, lines, 8) == HRL_E_INVALID_ARGUMENT); /* closed */
	tc_wait(&c, id, 30000, &s);
	fprintf(stderr, "upload campaign: state %u scanned %llu recipients %llu sent %llu\n", s.state,
		(unsigned long long)s.scanned, (unsigned long long)s.recipients, (unsigned long long)s.sent);
	CHECK(s.state == 4 && s.scanned == 1499 && s.recipients == 1497 && s.sent == 1497);
	char *sum = tc_sim_http(&sim, "GET", "/ledger/summary");
	CHECK(tc_sim_summary(sum, "huawei", "distinct") == 1497 && tc_sim_summary(sum, "huawei", "duplicates") == 0);
	free(sum);

	/* phone numbers straight to SMS */
	CHECK(create_upload(&c, HRL_CH_PUSH, 2, "", "x", &sms_id) == HRL_E_INVALID_ARGUMENT); /* numbers go by sms */
	CHECK(create_upload(&c, HRL_CH_SMS, 2, "name", "Hi {{row.name}}", &sms_id) == 0);
	CHECK(upload(&c, sms_id, 1, 1, "+8613800000001,Li\n+8613800000002,Wang\n12345,Bad\n+8613800000003,Zhao\n", &acc,
		     &rej, lines, 8) == 0);
	CHECK(acc == 3 && rej == 1 && lines[0] == 3);
	tc_wait(&c, sms_id, 30000, &s);
	CHECK(s.state == 4 && s.sent == 3);
	char *ledger = tc_sim_http(&sim, "GET", "/ledger?vendor=sms");
	CHECK(strstr(ledger, "sms\t+8613800000001\t1\n") && strstr(ledger, "sms\t+8613800000003\t1\n"));
	free(ledger);

	/* the open upload and its rows survive a restart */
	uint64_t id3;
	CHECK(create_upload(&c, HRL_CH_PUSH, 1, "", "Again", &id3) == 0);
	CHECK(upload(&c, id3, 1, 0, "u1\nu2\nu3\n", &acc, &rej, lines, 8) == 0 && acc == 3);
	te_close(&c);
	te_kill9(&e);
	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	CHECK(upload(&c, id3, 4, 1, "u4\n", &acc, &rej, lines, 8) == 0 && acc == 1);
	tc_wait(&c, id3, 30000, &s);
	CHECK(s.state == 4 && s.recipients == 4);
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	tc_sim_kill();
	te_cleanup();
	return 0;
}
