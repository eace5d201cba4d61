/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_wire.c - libFuzzer target for the wire codec (net/wire.c) and, when
 * it is there, the request decoders (net/req.c).
 *
 * One input is used four ways:
 *
 *   1. a byte stream of request frames, split as the engine splits it:
 *      decode 24 header bytes, net_hdr_check, stop at an error that breaks
 *      framing or an incomplete body, else take body_len bytes and verify
 *      the CRC. Checked: re-encoding a decoded header gives the same 24
 *      bytes; net_hdr_check agrees with PROTOCOL.md sections 2 and 6 as
 *      restated here (order magic, body_len, version, flags; a request's
 *      flags must be 0, an answer's have RESPONSE and no bit above ERROR); the table CRC
 *      and the SSE4.2 CRC agree on every body.
 *   2. every complete body (whatever its header said) and the input itself
 *      (first byte picks an opcode) go to net_req_decode. Checked: only the
 *      documented results come back; decoded strings lie inside the body;
 *      a body that decodes re-encodes to exactly the same bytes.
 *   3. a reader program: the first byte of the input says where the body
 *      starts; the bytes before it are opcodes for u8/u16/u32/u64/str/raw
 *      reads. A shadow reader computed here says what each read must
 *      return. Checked: no read goes past the body (the body is copied to a
 *      heap block of its exact size, so ASan sees any overrun), values,
 *      offsets, the sticky bad flag, and net_rd_done.
 *   4. the fields the reader program got are written back with net_wr_*:
 *      the frame's body equals the bytes the reader consumed, its header
 *      carries the right length and CRC.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined with the sources
 * fuzz/fuzz_wire.c, every base/ source, net/wire.c and net/req.c
 * (the Makefile's fuzz-build target).
 *   ./fuzz_wire -max_total_time=20 fuzz/seeds
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/crc32c.h"
#include "include/bounds.h"
#include "include/herald_proto.h"
#include "net/wire.h"

#if __has_include("net/req.h")
#include "net/req.h"
#include "fanout/campaign.h"
#include <errno.h>
#define FUZZ_HAVE_REQ 1
#endif

#define FUZZ_FRAMES_MAX 64u      /* frames looked at per input */
#define FUZZ_READS_MAX 512u      /* reader program length */

#define FUZZ_ASSERT(cond)                                                            \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,   \
				__LINE__, #cond);                                    \
			abort();                                                     \
		}                                                                    \
	} while (0)

static uint64_t le_load(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* An exact-size heap copy, so that reading one byte past it is an ASan report. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	FUZZ_ASSERT(d != NULL);
	if (n)
		memcpy(d, p, n);
	return d;
}

/* ---- 1. frames -------------------------------------------------------------- */

/* The header check of PROTOCOL.md section 6, restated independently. */
static int expected_hdr_check(const struct net_hdr *h, uint8_t expect_flags)
{
	if (h->magic != HRL_MAGIC)
		return -HRL_E_BAD_MAGIC;
	if (h->body_len > HRL_FRAME_BODY_BYTES_MAX)
		return -HRL_E_FRAME_TOO_LARGE;
	if (h->version != 1)
		return -HRL_E_UNSUPPORTED_VERSION;
	if (expect_flags == 0 && h->flags != 0)
		return -HRL_E_BAD_FLAGS; /* requests carry no flags at all */
	if (expect_flags != 0 && ((h->flags & 0xFC) || !(h->flags & HRL_FLAG_RESPONSE)))
		return -HRL_E_BAD_FLAGS;
	return 0;
}

static void check_header(const uint8_t *p, struct net_hdr *h)
{
	uint8_t again[HRL_FRAME_HEADER_BYTES];

	net_hdr_decode(p, h);
	FUZZ_ASSERT(h->magic == le_load(p, 4));
	FUZZ_ASSERT(h->version == p[4] && h->flags == p[5]);
	FUZZ_ASSERT(h->opcode == le_load(p + 6, 2));
	FUZZ_ASSERT(h->request_id == le_load(p + 8, 8));
	FUZZ_ASSERT(h->body_len == le_load(p + 16, 4));
	FUZZ_ASSERT(h->body_crc == le_load(p + 20, 4));
	net_hdr_encode(again, h);
	FUZZ_ASSERT(memcmp(again, p, HRL_FRAME_HEADER_BYTES) == 0);

	int rc_req = net_hdr_check(h, 0);
	int rc_resp = net_hdr_check(h, HRL_FLAG_RESPONSE);
	FUZZ_ASSERT(rc_req == expected_hdr_check(h, 0));
	FUZZ_ASSERT(rc_resp == expected_hdr_check(h, HRL_FLAG_RESPONSE));
	FUZZ_ASSERT(net_err_breaks_framing(-rc_req) ==
		    (rc_req == -HRL_E_BAD_MAGIC || rc_req == -HRL_E_FRAME_TOO_LARGE));
	FUZZ_ASSERT(strcmp(net_err_name(-rc_req), "E_UNKNOWN") != 0);
	/* A name exactly for the opcodes of section 5. */
	const char *name = net_op_name(h->opcode);
	if (name)
		FUZZ_ASSERT((h->opcode >= HRL_OP_HELLO && h->opcode <= HRL_OP_USER_SHOW) ||
			    (h->opcode >= HRL_OP_RECEIPT_PUT && h->opcode <= HRL_OP_CAMPAIGN_COUNTERS) ||
			    (h->opcode >= HRL_OP_CAMPAIGN_CREATE && h->opcode <= HRL_OP_CAMPAIGN_UPLOAD));
}

#ifdef FUZZ_HAVE_REQ
static void fuzz_request(uint16_t opcode, const uint8_t *body, size_t len);
#endif

static void fuzz_frames(const uint8_t *data, size_t size)
{
	size_t off = 0;

	for (unsigned n = 0; n < FUZZ_FRAMES_MAX && size - off >= HRL_FRAME_HEADER_BYTES; n++) {
		struct net_hdr h;

		check_header(data + off, &h);
		int rc = net_hdr_check(&h, 0);
		if (rc && net_err_breaks_framing(-rc))
			return; /* the engine closes the connection here */
		FUZZ_ASSERT(h.body_len <= HRL_FRAME_BODY_BYTES_MAX);
		off += HRL_FRAME_HEADER_BYTES;
		if (size - off < h.body_len)
			return; /* incomplete: the engine waits for more */
		uint8_t *body = dup_exact(data + off, h.body_len);
		uint32_t crc = base_crc32c(0, body, h.body_len);
		FUZZ_ASSERT(crc == base_crc32c_sw(0, body, h.body_len));
		FUZZ_ASSERT(crc == base_crc32c_hw(0, body, h.body_len));
		if (h.body_len == 0)
			FUZZ_ASSERT(crc == 0);
#ifdef FUZZ_HAVE_REQ
		/* The engine decodes only good frames; the decoder must survive any. */
		fuzz_request(h.opcode, body, h.body_len);
#endif
		free(body);
		off += h.body_len;
	}
}

/* ---- 2. request decoders --------------------------------------------------- */

#ifdef FUZZ_HAVE_REQ
static void str_inside(const struct net_str *s, const uint8_t *body, size_t len)
{
	const uint8_t *p = (const uint8_t *)s->p;

	if (s->len == 0)
		return;
	FUZZ_ASSERT(p >= body && p <= body + len);
	FUZZ_ASSERT((size_t)(body + len - p) >= s->len);
}

static void wr_nstr(struct net_wr *w, const struct net_str *s)
{
	net_wr_str(w, s->p, s->len);
}

/*
 * Write a decoded request back in its opcode's layout; the result must be
 * the body it came from, byte for byte (a body is consumed exactly).
 */
static void check_reencode(uint16_t opcode, const union net_req *q, const uint8_t *body,
			   size_t len)
{
	struct base_buf b = { 0 };
	struct net_wr w;

	net_wr_begin(&w, &b, opcode, 0, 1);
	switch (opcode) {
	case HRL_OP_HELLO:
		net_wr_u8(&w, q->hello.version_min);
		net_wr_u8(&w, q->hello.version_max);
		wr_nstr(&w, &q->hello.client_name);
		str_inside(&q->hello.client_name, body, len);
		break;
	case HRL_OP_AUTH:
		wr_nstr(&w, &q->auth.app_id);
		str_inside(&q->auth.app_id, body, len);
		FUZZ_ASSERT(q->auth.mac >= body && q->auth.mac + HRL_MAC_BYTES <= body + len);
		net_wr_raw(&w, q->auth.mac, HRL_MAC_BYTES);
		break;
	case HRL_OP_APP_CREATE:
	case HRL_OP_APP_ROTATE:
		wr_nstr(&w, &q->app.app_id);
		str_inside(&q->app.app_id, body, len);
		break;
	case HRL_OP_BIND:
		wr_nstr(&w, &q->bind.user);
		net_wr_u8(&w, q->bind.channel);
		net_wr_u8(&w, q->bind.vendor);
		net_wr_u8(&w, q->bind.platform);
		wr_nstr(&w, &q->bind.address);
		str_inside(&q->bind.user, body, len);
		str_inside(&q->bind.address, body, len);
		break;
	case HRL_OP_UNBIND:
	case HRL_OP_ALIAS_SET:
	case HRL_OP_ALIAS_DEL:
		wr_nstr(&w, &q->device.user);
		net_wr_u32(&w, q->device.device_id);
		str_inside(&q->device.user, body, len);
		if (opcode != HRL_OP_UNBIND) {
			wr_nstr(&w, &q->device.alias_type);
			str_inside(&q->device.alias_type, body, len);
		}
		if (opcode == HRL_OP_ALIAS_SET) {
			wr_nstr(&w, &q->device.alias);
			str_inside(&q->device.alias, body, len);
		}
		break;
	case HRL_OP_ALIAS_LOOKUP:
		wr_nstr(&w, &q->lookup.alias_type);
		wr_nstr(&w, &q->lookup.alias);
		str_inside(&q->lookup.alias_type, body, len);
		str_inside(&q->lookup.alias, body, len);
		break;
	case HRL_OP_TAG_ADD:
	case HRL_OP_TAG_DEL:
		FUZZ_ASSERT(q->tags.count <= HRL_TAGS_PER_REQUEST_MAX);
		wr_nstr(&w, &q->tags.user);
		net_wr_u16(&w, q->tags.count);
		str_inside(&q->tags.user, body, len);
		for (unsigned i = 0; i < q->tags.count; i++) {
			wr_nstr(&w, &q->tags.tags[i]);
			str_inside(&q->tags.tags[i], body, len);
		}
		break;
	case HRL_OP_ATTR_SET:
		FUZZ_ASSERT(q->attrs.count <= HRL_ATTRS_PER_REQUEST_MAX);
		wr_nstr(&w, &q->attrs.user);
		net_wr_u16(&w, q->attrs.count);
		str_inside(&q->attrs.user, body, len);
		for (unsigned i = 0; i < q->attrs.count; i++) {
			wr_nstr(&w, &q->attrs.keys[i]);
			wr_nstr(&w, &q->attrs.values[i]);
			str_inside(&q->attrs.keys[i], body, len);
			str_inside(&q->attrs.values[i], body, len);
		}
		break;
	case HRL_OP_USER_SHOW:
		wr_nstr(&w, &q->user.user);
		str_inside(&q->user.user, body, len);
		break;
	case HRL_OP_RECEIPT_PUT:
		wr_nstr(&w, &q->receipt.user);
		net_wr_u64(&w, q->receipt.message_id);
		net_wr_u64(&w, q->receipt.campaign_id);
		net_wr_u8(&w, q->receipt.channel);
		net_wr_u8(&w, q->receipt.vendor);
		net_wr_u8(&w, q->receipt.state);
		net_wr_u64(&w, q->receipt.event_unix_ms);
		wr_nstr(&w, &q->receipt.reason);
		str_inside(&q->receipt.user, body, len);
		str_inside(&q->receipt.reason, body, len);
		break;
	case HRL_OP_HISTORY:
		wr_nstr(&w, &q->history.user);
		str_inside(&q->history.user, body, len);
		FUZZ_ASSERT(q->history.cursor >= body && q->history.cursor + HRL_CURSOR_BYTES <= body + len);
		net_wr_raw(&w, q->history.cursor, HRL_CURSOR_BYTES);
		net_wr_u16(&w, q->history.limit);
		break;
	case HRL_OP_CAMPAIGN_COUNTERS:
		net_wr_u64(&w, q->campaign.campaign_id);
		break;
	case HRL_OP_STATS:
	case HRL_OP_APP_LIST:
		break;
	default:
		base_buf_free(&b);
		return; /* PING: opaque */
	}
	FUZZ_ASSERT(net_wr_end(&w) == 0);
	FUZZ_ASSERT(b.len == HRL_FRAME_HEADER_BYTES + len);
	FUZZ_ASSERT(len == 0 || memcmp(b.data + HRL_FRAME_HEADER_BYTES, body, len) == 0);
	base_buf_free(&b);
}

/* What a request that decodes without error must satisfy (section 5.2). */
static void check_valid(uint16_t opcode, const union net_req *q)
{
	const char *why = NULL;

	switch (opcode) {
	case HRL_OP_HELLO:
		FUZZ_ASSERT(q->hello.client_name.len <= HRL_CLIENT_NAME_BYTES_MAX);
		break;
	case HRL_OP_APP_CREATE:
	case HRL_OP_APP_ROTATE:
		FUZZ_ASSERT(q->app.app_id.len >= 1 && q->app.app_id.len <= HRL_APP_ID_BYTES_MAX);
		FUZZ_ASSERT(net_valid_app_id(q->app.app_id.p, q->app.app_id.len));
		break;
	case HRL_OP_BIND:
		FUZZ_ASSERT(q->bind.user.len >= 1 && q->bind.user.len <= HRL_USER_ID_BYTES_MAX);
		FUZZ_ASSERT(q->bind.channel >= 1 && q->bind.channel < HRL_CH_COUNT);
		FUZZ_ASSERT(q->bind.vendor < HRL_VENDOR_COUNT && q->bind.platform < HRL_PLATFORM_COUNT);
		FUZZ_ASSERT((q->bind.channel == HRL_CH_PUSH) ==
			    (q->bind.vendor != 0 && q->bind.platform != 0));
		FUZZ_ASSERT(q->bind.address.len >= 1 && q->bind.address.len <= HRL_ADDRESS_BYTES_MAX);
		FUZZ_ASSERT(net_valid_binding(q->bind.channel, q->bind.vendor, q->bind.platform,
					      q->bind.address.p, q->bind.address.len, &why));
		break;
	case HRL_OP_ALIAS_SET:
		FUZZ_ASSERT(q->device.alias.len >= 1 && q->device.alias.len <= HRL_ALIAS_BYTES_MAX);
		__attribute__((fallthrough));
	case HRL_OP_ALIAS_DEL:
		FUZZ_ASSERT(q->device.alias_type.len >= 1 &&
			    q->device.alias_type.len <= HRL_ALIAS_TYPE_BYTES_MAX);
		__attribute__((fallthrough));
	case HRL_OP_UNBIND:
		FUZZ_ASSERT(net_valid_user_id(q->device.user.p, q->device.user.len));
		break;
	case HRL_OP_ALIAS_LOOKUP:
		FUZZ_ASSERT(net_valid_alias_type(q->lookup.alias_type.p, q->lookup.alias_type.len));
		FUZZ_ASSERT(net_valid_alias(q->lookup.alias.p, q->lookup.alias.len));
		break;
	case HRL_OP_TAG_ADD:
	case HRL_OP_TAG_DEL:
		FUZZ_ASSERT(net_valid_user_id(q->tags.user.p, q->tags.user.len));
		for (unsigned i = 0; i < q->tags.count; i++) {
			const struct net_str *t = &q->tags.tags[i];
			FUZZ_ASSERT(t->len >= 1 && t->len <= HRL_TAG_BYTES_MAX);
			for (unsigned k = 0; k < t->len; k++)
				FUZZ_ASSERT(t->p[k] > 0x20 && t->p[k] < 0x7F && t->p[k] != ' ');
		}
		break;
	case HRL_OP_ATTR_SET:
		FUZZ_ASSERT(net_valid_user_id(q->attrs.user.p, q->attrs.user.len));
		for (unsigned i = 0; i < q->attrs.count; i++) {
			FUZZ_ASSERT(q->attrs.keys[i].len >= 1 &&
				    q->attrs.keys[i].len <= HRL_ATTR_KEY_BYTES_MAX);
			FUZZ_ASSERT(q->attrs.values[i].len <= HRL_ATTR_VALUE_BYTES_MAX);
		}
		break;
	case HRL_OP_USER_SHOW:
		FUZZ_ASSERT(q->user.user.len >= 1 && q->user.user.len <= HRL_USER_ID_BYTES_MAX);
		break;
	case HRL_OP_RECEIPT_PUT:
		FUZZ_ASSERT(net_valid_user_id(q->receipt.user.p, q->receipt.user.len));
		FUZZ_ASSERT(q->receipt.message_id != 0);
		FUZZ_ASSERT(q->receipt.channel >= 1 && q->receipt.channel < HRL_CH_COUNT);
		FUZZ_ASSERT((q->receipt.channel == HRL_CH_PUSH) == (q->receipt.vendor != 0));
		FUZZ_ASSERT(q->receipt.vendor < HRL_VENDOR_COUNT);
		FUZZ_ASSERT(q->receipt.state >= 1 && q->receipt.state < HRL_STATE_COUNT);
		FUZZ_ASSERT(q->receipt.reason.len <= HRL_REASON_BYTES_MAX);
		FUZZ_ASSERT(q->receipt.state != HRL_STATE_FAILED || q->receipt.reason.len > 0);
		for (unsigned k = 0; k < q->receipt.reason.len; k++)
			FUZZ_ASSERT(q->receipt.reason.p[k] >= 0x20 && q->receipt.reason.p[k] < 0x7F);
		break;
	case HRL_OP_HISTORY:
		FUZZ_ASSERT(net_valid_user_id(q->history.user.p, q->history.user.len));
		FUZZ_ASSERT(q->history.limit >= 1 && q->history.limit <= HRL_HISTORY_LIMIT_MAX);
		break;
	default:
		break;
	}
}

/* The campaign operations' bodies are decoded by fanout/campaign.c (net/fanout.c calls it). */
static bool fuzz_campaign_body(uint16_t opcode, const uint8_t *body, size_t len)
{
	char why[FAN_WHY_BYTES_MAX];
	why[0] = 0;
	if (opcode == HRL_OP_CAMPAIGN_CREATE) {
		struct fan_spec s;
		int rc = fan_spec_decode(body, len, &s, why);
		FUZZ_ASSERT(rc == 0 || ((rc == -EINVAL || rc == -ENOMEM) && why[0]));
		if (rc == 0 && s.audience == FAN_AUD_LIST) {
			size_t pos = 0;
			for (unsigned i = 0; i < s.list_count; i++) {
				struct sto_bytes u = fan_spec_list_next(&s, &pos);
				FUZZ_ASSERT(u.len >= 1 && u.len <= HRL_USER_ID_BYTES_MAX);
			}
			FUZZ_ASSERT(pos == s.list_bytes);
		}
		if (rc == 0 && s.audience == FAN_AUD_UPLOAD) { /* the rows of an upload after it: any bytes */
			struct sto_bytes f[1 + FAN_COLUMNS_MAX];
			unsigned nf;
			if (!fan_row_split(&s, (const char *)body, len > FAN_ROW_BYTES_MAX ? 0 : len, f, &nf))
				FUZZ_ASSERT(nf == 1u + s.column_count && f[0].len >= 1);
		}
		return true;
	}
	if (opcode == HRL_OP_VENDOR_SET) {
		struct fan_vendor v;
		int rc = fan_vendor_decode(body, len, &v, why);
		FUZZ_ASSERT(rc == 0 || (rc == -EINVAL && why[0]));
		if (rc == 0) { /* what is logged decodes to the same */
			uint8_t *again = malloc(fan_vendor_bytes(&v));
			struct fan_vendor w;
			FUZZ_ASSERT(again);
			fan_vendor_encode(&v, again);
			FUZZ_ASSERT(fan_vendor_decode(again, fan_vendor_bytes(&v), &w, why) == 0);
			FUZZ_ASSERT(!strcmp(v.url, w.url) && v.batch_max == w.batch_max && v.target == w.target);
			free(again);
		}
		return true;
	}
	return opcode >= HRL_OP_CAMPAIGN_CREATE && opcode <= HRL_OP_CAMPAIGN_UPLOAD; /* fixed layouts, checked in place */
}

static void fuzz_request(uint16_t opcode, const uint8_t *body, size_t len)
{
	union net_req q;
	const char *why = NULL;

	if (fuzz_campaign_body(opcode, body, len))
		return;

	memset(&q, 0xA5, sizeof(q)); /* no field may be used unset */
	int rc = net_req_decode(opcode, body, len, &q, &why);
	FUZZ_ASSERT(why != NULL);
	switch (rc) {
	case 0:
		check_valid(opcode, &q);
		check_reencode(opcode, &q, body, len);
		break;
	case -HRL_E_INVALID_ARGUMENT:
		/* The layout was right; a field broke a rule. */
		FUZZ_ASSERT(why[0] != '\0');
		check_reencode(opcode, &q, body, len);
		break;
	case -HRL_E_BAD_BODY:
	case -HRL_E_LIMIT_EXCEEDED:
		FUZZ_ASSERT(why[0] != '\0');
		FUZZ_ASSERT(opcode != HRL_OP_PING);
		break;
	case -HRL_E_UNKNOWN_OPCODE:
		FUZZ_ASSERT(net_op_name(opcode) == NULL);
		break;
	default:
		fprintf(stderr, "net_req_decode(0x%04x) returned %d\n", opcode, rc);
		FUZZ_ASSERT(!"undocumented result");
	}
	if (net_op_name(opcode) == NULL)
		FUZZ_ASSERT(rc == -HRL_E_UNKNOWN_OPCODE);
	if (opcode == HRL_OP_PING)
		FUZZ_ASSERT(rc == 0);
	if ((opcode == HRL_OP_STATS || opcode == HRL_OP_APP_LIST))
		FUZZ_ASSERT(rc == (len ? -HRL_E_BAD_BODY : 0));
}

static const uint16_t fuzz_opcodes[] = {
	HRL_OP_HELLO, HRL_OP_AUTH, HRL_OP_PING, HRL_OP_STATS,
	HRL_OP_APP_CREATE, HRL_OP_APP_LIST, HRL_OP_APP_ROTATE,
	HRL_OP_BIND, HRL_OP_UNBIND, HRL_OP_ALIAS_SET, HRL_OP_ALIAS_DEL,
	HRL_OP_ALIAS_LOOKUP, HRL_OP_TAG_ADD, HRL_OP_TAG_DEL, HRL_OP_ATTR_SET,
	HRL_OP_USER_SHOW, 0x0000, 0x0005, 0x0029, 0xFFFF,
	HRL_OP_RECEIPT_PUT, HRL_OP_HISTORY, HRL_OP_CAMPAIGN_COUNTERS, HRL_OP_TABLE_SIZE,
	HRL_OP_CAMPAIGN_CREATE, HRL_OP_VENDOR_SET, HRL_OP_CAMPAIGN_CREATE, HRL_OP_CAMPAIGN_UPLOAD,
};

static void fuzz_request_direct(const uint8_t *data, size_t size)
{
	if (size < 1)
		return;
	uint16_t op = fuzz_opcodes[data[0] % (sizeof(fuzz_opcodes) / sizeof(fuzz_opcodes[0]))];
	uint8_t *body = dup_exact(data + 1, size - 1);
	fuzz_request(op, body, size - 1);
	free(body);
}
#endif /* FUZZ_HAVE_REQ */

/* ---- 3 and 4. reader program and writer ------------------------------------ */

enum rd_kind { RD_U8, RD_U16, RD_U32, RD_U64, RD_STR, RD_RAW, RD_DONE, RD_KINDS };

struct rd_field {
	enum rd_kind kind;
	uint64_t value;    /* integers */
	const uint8_t *p;  /* str, raw */
	size_t n;          /* str, raw length */
};

static void fuzz_reader(const uint8_t *data, size_t size)
{
	static struct rd_field fields[FUZZ_READS_MAX];

	if (size < 1)
		return;
	size_t prog_len = data[0];
	if (prog_len > size - 1)
		prog_len = size - 1;
	const uint8_t *prog = data + 1;
	size_t len = size - 1 - prog_len;
	uint8_t *body = dup_exact(data + 1 + prog_len, len);

	struct net_rd r;
	size_t shadow_off = 0;
	bool shadow_bad = false;
	size_t good_off = 0; /* bytes consumed by the reads that succeeded */
	unsigned nfields = 0;

	net_rd_init(&r, body, len);
	FUZZ_ASSERT(net_rd_done(&r) == (len == 0));
	for (size_t i = 0; i < prog_len && i < FUZZ_READS_MAX; i++) {
		enum rd_kind kind = (enum rd_kind)(prog[i] % RD_KINDS);
		static const unsigned width[] = { [RD_U8] = 1, [RD_U16] = 2, [RD_U32] = 4,
						  [RD_U64] = 8 };
		struct rd_field f = { .kind = kind };

		switch (kind) {
		case RD_U8:
		case RD_U16:
		case RD_U32:
		case RD_U64: {
			unsigned w = width[kind];
			bool fits = !shadow_bad && len - shadow_off >= w;
			uint64_t want = fits ? le_load(body + shadow_off, w) : 0;
			uint64_t got = kind == RD_U8    ? net_rd_u8(&r)
				       : kind == RD_U16 ? net_rd_u16(&r)
				       : kind == RD_U32 ? net_rd_u32(&r)
							: net_rd_u64(&r);
			FUZZ_ASSERT(got == want);
			if (fits)
				shadow_off += w;
			else
				shadow_bad = true;
			f.value = got;
			break;
		}
		case RD_STR: {
			const char *s = NULL;
			bool fits = false;
			size_t n = 0;
			if (!shadow_bad && len - shadow_off >= 2) {
				n = (size_t)le_load(body + shadow_off, 2);
				fits = len - shadow_off - 2 >= n;
			}
			size_t got = net_rd_str(&r, &s);
			FUZZ_ASSERT(s != NULL);
			if (fits) {
				FUZZ_ASSERT(got == n);
				FUZZ_ASSERT((const uint8_t *)s == body + shadow_off + 2);
				shadow_off += 2 + n;
			} else {
				FUZZ_ASSERT(got == 0);
				FUZZ_ASSERT(s[0] == '\0'); /* "" when bad */
				shadow_bad = true;
			}
			f.p = (const uint8_t *)s;
			f.n = got;
			break;
		}
		case RD_RAW: {
			/* Length from the next program byte, sometimes huge. */
			size_t n = i + 1 < prog_len ? prog[++i] : 0;
			if (n == 0xFF)
				n = SIZE_MAX - 3;
			bool fits = !shadow_bad && len - shadow_off >= n;
			const uint8_t *p = net_rd_raw(&r, n);
			if (fits) {
				FUZZ_ASSERT(p == body + shadow_off);
				shadow_off += n;
			} else {
				FUZZ_ASSERT(p == NULL);
				shadow_bad = true;
			}
			f.p = p;
			f.n = p ? n : 0;
			break;
		}
		case RD_DONE:
		default:
			break;
		}
		FUZZ_ASSERT(r.bad == shadow_bad);
		if (shadow_bad) {
			/* Where a failed read leaves the offset is not specified
			 * (a str may keep its length prefix consumed): only that
			 * it stays inside the body and does not go back. */
			FUZZ_ASSERT(r.off >= shadow_off && r.off <= len);
			shadow_off = r.off;
		}
		FUZZ_ASSERT(r.off == shadow_off);
		FUZZ_ASSERT(r.off <= len);
		FUZZ_ASSERT(net_rd_done(&r) == (!shadow_bad && shadow_off == len));
		if (kind != RD_DONE && !shadow_bad && nfields < FUZZ_READS_MAX)
			fields[nfields++] = f;
		if (!shadow_bad)
			good_off = shadow_off;
	}

	/* 4. Write what was read; the body must be the consumed bytes. */
	struct base_buf b = { 0 };
	struct net_wr w;
	net_wr_begin(&w, &b, HRL_OP_PING, HRL_FLAG_RESPONSE, 0xFEEDull);
	for (unsigned k = 0; k < nfields; k++) {
		const struct rd_field *f = &fields[k];
		switch (f->kind) {
		case RD_U8: net_wr_u8(&w, (uint8_t)f->value); break;
		case RD_U16: net_wr_u16(&w, (uint16_t)f->value); break;
		case RD_U32: net_wr_u32(&w, (uint32_t)f->value); break;
		case RD_U64: net_wr_u64(&w, f->value); break;
		case RD_STR: net_wr_str(&w, (const char *)f->p, f->n); break;
		case RD_RAW: net_wr_raw(&w, f->p, f->n); break;
		default: break;
		}
	}
	FUZZ_ASSERT(net_wr_end(&w) == 0);
	FUZZ_ASSERT(b.len == HRL_FRAME_HEADER_BYTES + good_off);
	struct net_hdr h;
	net_hdr_decode(b.data, &h);
	FUZZ_ASSERT(net_hdr_check(&h, HRL_FLAG_RESPONSE) == 0);
	FUZZ_ASSERT(h.opcode == HRL_OP_PING && h.request_id == 0xFEEDull);
	FUZZ_ASSERT(h.body_len == good_off);
	FUZZ_ASSERT(h.body_crc == base_crc32c(0, body, good_off));
	FUZZ_ASSERT(good_off == 0 || memcmp(b.data + HRL_FRAME_HEADER_BYTES, body, good_off) == 0);
	base_buf_free(&b);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_frames(data, size);
#ifdef FUZZ_HAVE_REQ
	fuzz_request_direct(data, size);
#endif
	fuzz_reader(data, size);
	return 0;
}
