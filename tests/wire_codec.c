/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/wire_codec.c - net/wire: the frame header, the body reader and the
 * frame writer of protocol v1 (docs/PROTOCOL.md sections 2, 3 and 6).
 *
 *   header   encode writes the documented 24 bytes; decode(encode(h)) == h
 *   check    net_hdr_check reports magic, body_len, version, flags in that
 *            order; a request's flags must be 0; bodies of exactly 1 MiB pass
 *   reader   little-endian integers; a truncated str, a u64 past the end,
 *            a short raw mark the reader bad, return zeroes and never move
 *            past the body; net_rd_done is false on trailing bytes
 *   writer   frame header and CRC32C; a body over HRL_FRAME_BODY_BYTES_MAX
 *            or a str over 65535 bytes gives -EMSGSIZE, allocation failure
 *            -ENOMEM, and either rolls the buffer back to where begin found it
 *   error    net_wr_error writes flags 0x03 and the body u16 code, str message
 *   names    every opcode and error code has its name; unknown ones do not
 *
 * Exit 0 pass, 1 fail.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/crc32c.h"
#include "include/bounds.h"
#include "include/herald_proto.h"
#include "net/wire.h"

#include "tests/unit.h"

#define CHECK_EQ(a, b)                                                               \
	do {                                                                         \
		long long a_ = (long long)(a), b_ = (long long)(b);                  \
		if (a_ != b_) {                                                      \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, \
				__LINE__, #a, a_, b_);                               \
			failures++;                                                  \
		}                                                                    \
	} while (0)

static uint64_t rng_state = 0xD1B54A32D192ED03ull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- header ------------------------------------------------------------- */

static void test_header_layout(void)
{
	const struct net_hdr h = {
		.magic = HRL_MAGIC,
		.version = 1,
		.flags = HRL_FLAG_RESPONSE | HRL_FLAG_ERROR,
		.opcode = 0x0A0B,
		.request_id = 0x0102030405060708ull,
		.body_len = 0x00100000,
		.body_crc = 0xE3069283u,
	};
	static const uint8_t want[HRL_FRAME_HEADER_BYTES] = {
		'H', 'R', 'L', 'D', 1, 0x03, 0x0B, 0x0A,
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0x00, 0x00, 0x10, 0x00, 0x83, 0x92, 0x06, 0xE3,
	};
	uint8_t got[HRL_FRAME_HEADER_BYTES + 1];

	got[HRL_FRAME_HEADER_BYTES] = 0x5A; /* guard: encode writes 24 bytes only */
	net_hdr_encode(got, &h);
	CHECK(memcmp(got, want, sizeof(want)) == 0);
	CHECK(got[HRL_FRAME_HEADER_BYTES] == 0x5A);

	struct net_hdr d;
	memset(&d, 0xEE, sizeof(d));
	net_hdr_decode(want, &d);
	CHECK(d.magic == HRL_MAGIC);
	CHECK(d.version == 1);
	CHECK(d.flags == 0x03);
	CHECK(d.opcode == 0x0A0B);
	CHECK(d.request_id == 0x0102030405060708ull);
	CHECK(d.body_len == 0x00100000);
	CHECK(d.body_crc == 0xE3069283u);
}

static void test_header_roundtrip(void)
{
	for (int i = 0; i < 10000; i++) {
		struct net_hdr h, d;
		uint8_t img[HRL_FRAME_HEADER_BYTES], img2[HRL_FRAME_HEADER_BYTES];

		h.magic = (uint32_t)rng_next();
		h.version = (uint8_t)rng_next();
		h.flags = (uint8_t)rng_next();
		h.opcode = (uint16_t)rng_next();
		h.request_id = rng_next();
		h.body_len = (uint32_t)rng_next();
		h.body_crc = (uint32_t)rng_next();
		net_hdr_encode(img, &h);
		net_hdr_decode(img, &d);
		if (d.magic != h.magic || d.version != h.version || d.flags != h.flags ||
		    d.opcode != h.opcode || d.request_id != h.request_id ||
		    d.body_len != h.body_len || d.body_crc != h.body_crc) {
			CHECK(!"decode(encode(h)) != h");
			return;
		}
		/* And bytes -> header -> bytes is the identity. */
		for (size_t k = 0; k < sizeof(img); k++)
			img[k] = (uint8_t)rng_next();
		net_hdr_decode(img, &d);
		net_hdr_encode(img2, &d);
		if (memcmp(img, img2, sizeof(img))) {
			CHECK(!"encode(decode(bytes)) != bytes");
			return;
		}
	}
}

/* ---- header check --------------------------------------------------------- */

static struct net_hdr good_request(void)
{
	struct net_hdr h = {
		.magic = HRL_MAGIC,
		.version = 1,
		.flags = 0,
		.opcode = HRL_OP_PING,
		.request_id = 7,
		.body_len = 0,
		.body_crc = 0,
	};
	return h;
}

static void test_header_check_order(void)
{
	struct net_hdr h = good_request();

	CHECK_EQ(net_hdr_check(&h, 0), 0);
	h.body_len = HRL_FRAME_BODY_BYTES_MAX; /* exactly 1 MiB is allowed */
	CHECK_EQ(net_hdr_check(&h, 0), 0);

	/* Everything wrong at once: magic is reported first. */
	h.magic = 0x444C5249; /* "IRLD" */
	h.body_len = HRL_FRAME_BODY_BYTES_MAX + 1;
	h.version = 2;
	h.flags = 0xFF;
	CHECK_EQ(net_hdr_check(&h, 0), -HRL_E_BAD_MAGIC);
	/* The magic in the other byte order is wrong too. */
	h.magic = 0x48524C44;
	CHECK_EQ(net_hdr_check(&h, 0), -HRL_E_BAD_MAGIC);

	/* Magic fixed: the oversize length comes next. */
	h.magic = HRL_MAGIC;
	CHECK_EQ(net_hdr_check(&h, 0), -HRL_E_FRAME_TOO_LARGE);
	h.body_len = UINT32_MAX;
	CHECK_EQ(net_hdr_check(&h, 0), -HRL_E_FRAME_TOO_LARGE);

	/* Length fixed: the version. */
	h.body_len = 10;
	CHECK_EQ(net_hdr_check(&h, 0), -HRL_E_UNSUPPORTED_VERSION);
	h.version = 0;
	CHECK_EQ(net_hdr_check(&h, 0), -HRL_E_UNSUPPORTED_VERSION);
	h.version = 255;
	CHECK_EQ(net_hdr_check(&h, 0), -HRL_E_UNSUPPORTED_VERSION);

	/* Version fixed: the flags. */
	h.version = 1;
	CHECK_EQ(net_hdr_check(&h, 0), -HRL_E_BAD_FLAGS);
	for (unsigned bit = 2; bit < 8; bit++) {
		h.flags = (uint8_t)(1u << bit);
		CHECK_EQ(net_hdr_check(&h, 0), -HRL_E_BAD_FLAGS);
		h.flags |= HRL_FLAG_RESPONSE;
		CHECK_EQ(net_hdr_check(&h, HRL_FLAG_RESPONSE), -HRL_E_BAD_FLAGS);
	}
	/* A request carries no flags: RESPONSE, ERROR or both are refused. */
	h.flags = HRL_FLAG_RESPONSE;
	CHECK_EQ(net_hdr_check(&h, 0), -HRL_E_BAD_FLAGS);
	h.flags = HRL_FLAG_ERROR;
	CHECK_EQ(net_hdr_check(&h, 0), -HRL_E_BAD_FLAGS);
	h.flags = HRL_FLAG_RESPONSE | HRL_FLAG_ERROR;
	CHECK_EQ(net_hdr_check(&h, 0), -HRL_E_BAD_FLAGS);
	/* A response without RESPONSE. */
	h.flags = 0;
	CHECK_EQ(net_hdr_check(&h, HRL_FLAG_RESPONSE), -HRL_E_BAD_FLAGS);
	h.flags = HRL_FLAG_ERROR;
	CHECK_EQ(net_hdr_check(&h, HRL_FLAG_RESPONSE), -HRL_E_BAD_FLAGS);

	/* Good responses. */
	h.flags = HRL_FLAG_RESPONSE;
	CHECK_EQ(net_hdr_check(&h, HRL_FLAG_RESPONSE), 0);
	h.flags = HRL_FLAG_RESPONSE | HRL_FLAG_ERROR;
	CHECK_EQ(net_hdr_check(&h, HRL_FLAG_RESPONSE), 0);

	/* The opcode and request id are not the header check's business. */
	h = good_request();
	h.opcode = 0xFFFF;
	h.request_id = UINT64_MAX;
	CHECK_EQ(net_hdr_check(&h, 0), 0);
}

static void test_error_classes(void)
{
	CHECK(net_err_breaks_framing(HRL_E_BAD_MAGIC));
	CHECK(net_err_breaks_framing(HRL_E_FRAME_TOO_LARGE));
	for (int e = 0; e < HRL_E_COUNT; e++)
		if (e != HRL_E_BAD_MAGIC && e != HRL_E_FRAME_TOO_LARGE)
			CHECK(!net_err_breaks_framing(e));
}

static void test_names(void)
{
	static const struct {
		unsigned op;
		const char *name;
	} ops[] = {
		{ HRL_OP_HELLO, "HELLO" },         { HRL_OP_AUTH, "AUTH" },
		{ HRL_OP_PING, "PING" },           { HRL_OP_STATS, "STATS" },
		{ HRL_OP_STORE_STATS, "STORE_STATS" },
		{ HRL_OP_APP_CREATE, "APP_CREATE" }, { HRL_OP_APP_LIST, "APP_LIST" },
		{ HRL_OP_APP_ROTATE, "APP_ROTATE" }, { HRL_OP_BIND, "BIND" },
		{ HRL_OP_UNBIND, "UNBIND" },       { HRL_OP_ALIAS_SET, "ALIAS_SET" },
		{ HRL_OP_ALIAS_DEL, "ALIAS_DEL" }, { HRL_OP_ALIAS_LOOKUP, "ALIAS_LOOKUP" },
		{ HRL_OP_TAG_ADD, "TAG_ADD" },     { HRL_OP_TAG_DEL, "TAG_DEL" },
		{ HRL_OP_ATTR_SET, "ATTR_SET" },   { HRL_OP_USER_SHOW, "USER_SHOW" },
		{ HRL_OP_RECEIPT_PUT, "RECEIPT_PUT" }, { HRL_OP_HISTORY, "HISTORY" },
		{ HRL_OP_CAMPAIGN_COUNTERS, "CAMPAIGN_COUNTERS" },
		{ HRL_OP_CAMPAIGN_CREATE, "CAMPAIGN_CREATE" }, { HRL_OP_CAMPAIGN_STATUS, "CAMPAIGN_STATUS" },
		{ HRL_OP_CAMPAIGN_CONTROL, "CAMPAIGN_CONTROL" }, { HRL_OP_VENDOR_SET, "VENDOR_SET" },
		{ HRL_OP_VENDOR_LIST, "VENDOR_LIST" }, { HRL_OP_CAMPAIGN_UPLOAD, "CAMPAIGN_UPLOAD" },
	};
	size_t known = 0;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		const char *n = net_op_name(ops[i].op);
		CHECK(n && strcmp(n, ops[i].name) == 0);
	}
	for (unsigned op = 0; op < 0x10000; op++)
		if (net_op_name(op))
			known++;
	CHECK_EQ(known, sizeof(ops) / sizeof(ops[0])); /* no others */
	CHECK(net_op_name(0) == NULL);
	CHECK(net_op_name(0x0006) == NULL);
	CHECK(net_op_name(HRL_OP_TABLE_SIZE) == NULL);

	static const char *const errs[HRL_E_COUNT] = {
		"OK", "E_BAD_MAGIC", "E_UNSUPPORTED_VERSION", "E_BAD_FLAGS",
		"E_FRAME_TOO_LARGE", "E_BAD_CRC", "E_UNKNOWN_OPCODE", "E_BAD_BODY",
		"E_HELLO_REQUIRED", "E_AUTH_REQUIRED", "E_AUTH_FAILED", "E_FORBIDDEN",
		"E_NOT_FOUND", "E_EXISTS", "E_INVALID_ARGUMENT", "E_LIMIT_EXCEEDED",
		"E_TIMEOUT", "E_SHUTTING_DOWN", "E_INTERNAL", "E_BUSY", "E_STORE",
	};
	for (int e = 1; e < HRL_E_COUNT; e++)
		CHECK(strcmp(net_err_name(e), errs[e]) == 0);
	CHECK(strcmp(net_err_name(-1), "E_UNKNOWN") == 0);
	CHECK(strcmp(net_err_name(HRL_E_COUNT), "E_UNKNOWN") == 0);
	CHECK(strcmp(net_err_name(1000), "E_UNKNOWN") == 0);
}

/* ---- reader --------------------------------------------------------------- */

static void test_reader_values(void)
{
	static const uint8_t body[] = {
		0xFE,                                           /* u8 */
		0x34, 0x12,                                     /* u16 0x1234 */
		0x78, 0x56, 0x34, 0x12,                         /* u32 */
		0xEF, 0xCD, 0xAB, 0x90, 0x78, 0x56, 0x34, 0x12, /* u64 */
		0x03, 0x00, 'a', 'b', 'c',                      /* str "abc" */
		0x00, 0x00,                                     /* str "" */
		0xAA, 0xBB,                                     /* raw[2] */
	};
	struct net_rd r;
	const char *s;

	net_rd_init(&r, body, sizeof(body));
	CHECK(!net_rd_done(&r));
	CHECK_EQ(net_rd_u8(&r), 0xFE);
	CHECK_EQ(net_rd_u16(&r), 0x1234);
	CHECK_EQ(net_rd_u32(&r), 0x12345678);
	CHECK(net_rd_u64(&r) == 0x1234567890ABCDEFull);
	CHECK_EQ(net_rd_str(&r, &s), 3);
	CHECK(memcmp(s, "abc", 3) == 0);
	CHECK(s == (const char *)body + 17); /* points into the body, no copy */
	s = NULL;
	CHECK_EQ(net_rd_str(&r, &s), 0);
	CHECK(s != NULL);
	CHECK(!net_rd_done(&r));
	const uint8_t *raw = net_rd_raw(&r, 2);
	CHECK(raw == body + sizeof(body) - 2);
	CHECK(net_rd_done(&r));
	CHECK(!r.bad);

	/* One read past the end: bad, zero, and done turns false. */
	CHECK_EQ(net_rd_u8(&r), 0);
	CHECK(r.bad);
	CHECK(!net_rd_done(&r));
	CHECK(r.off == sizeof(body));

	/* The empty body. */
	net_rd_init(&r, NULL, 0);
	CHECK(net_rd_done(&r));
	net_rd_init(&r, body, 0);
	CHECK(net_rd_done(&r));
	CHECK_EQ(net_rd_u16(&r), 0);
	CHECK(!net_rd_done(&r));
}

static void test_reader_truncated_str(void)
{
	/* Length 5, only 3 bytes follow. */
	static const uint8_t body[] = { 0x05, 0x00, 'a', 'b', 'c' };
	struct net_rd r;
	const char *s = NULL;

	net_rd_init(&r, body, sizeof(body));
	CHECK_EQ(net_rd_str(&r, &s), 0);
	CHECK(s != NULL && s[0] == '\0');
	CHECK(r.bad);
	CHECK(r.off <= sizeof(body));
	CHECK(!net_rd_done(&r));
	/* Once bad, stays bad even where bytes remain. */
	CHECK_EQ(net_rd_u8(&r), 0);
	CHECK(net_rd_raw(&r, 1) == NULL);
	CHECK(r.bad);

	/* Only one byte of the length itself. */
	net_rd_init(&r, body, 1);
	CHECK_EQ(net_rd_str(&r, &s), 0);
	CHECK(r.bad && !net_rd_done(&r));

	/* The longest str, 65535 bytes, and one byte short of it. */
	size_t n = 2 + HRL_STR_BYTES_MAX;
	uint8_t *big = malloc(n);
	CHECK(big != NULL);
	if (!big)
		return;
	big[0] = 0xFF;
	big[1] = 0xFF;
	memset(big + 2, 'x', HRL_STR_BYTES_MAX);
	net_rd_init(&r, big, n);
	CHECK_EQ(net_rd_str(&r, &s), HRL_STR_BYTES_MAX);
	CHECK(s == (const char *)big + 2);
	CHECK(net_rd_done(&r));
	net_rd_init(&r, big, n - 1);
	CHECK_EQ(net_rd_str(&r, &s), 0);
	CHECK(r.bad && !net_rd_done(&r));
	free(big);
}

static void test_reader_past_end(void)
{
	uint8_t body[16];
	struct net_rd r;

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(0xA0 + i);

	/* u64 with 7 bytes left. */
	net_rd_init(&r, body, 7);
	CHECK(net_rd_u64(&r) == 0);
	CHECK(r.bad && !net_rd_done(&r));
	CHECK(r.off <= 7);

	/* u64 after a u32 in 10 bytes. */
	net_rd_init(&r, body, 10);
	CHECK_EQ(net_rd_u32(&r), 0xA3A2A1A0u);
	CHECK(net_rd_u64(&r) == 0);
	CHECK(r.bad);

	/* u32, u16 one short. */
	net_rd_init(&r, body, 3);
	CHECK_EQ(net_rd_u32(&r), 0);
	CHECK(r.bad);
	net_rd_init(&r, body, 1);
	CHECK_EQ(net_rd_u16(&r), 0);
	CHECK(r.bad);

	/* raw longer than the rest, and a length that would wrap. */
	net_rd_init(&r, body, sizeof(body));
	CHECK(net_rd_raw(&r, 17) == NULL);
	CHECK(r.bad);
	net_rd_init(&r, body, sizeof(body));
	net_rd_u8(&r);
	CHECK(net_rd_raw(&r, SIZE_MAX) == NULL);
	CHECK(r.bad && r.off <= sizeof(body));

	/* Exactly enough is fine, every width. */
	net_rd_init(&r, body, 15);
	net_rd_u8(&r);
	net_rd_u16(&r);
	net_rd_u32(&r);
	net_rd_u64(&r);
	CHECK(net_rd_done(&r));
}

static void test_reader_trailing(void)
{
	static const uint8_t body[] = { 0x01, 0x00, 'z', 0x99 };
	struct net_rd r;
	const char *s;

	net_rd_init(&r, body, sizeof(body));
	CHECK_EQ(net_rd_str(&r, &s), 1);
	CHECK(!r.bad);
	CHECK(!net_rd_done(&r)); /* one byte left over */
	CHECK_EQ(net_rd_u8(&r), 0x99);
	CHECK(net_rd_done(&r));
}

/* ---- writer --------------------------------------------------------------- */

static void check_frame(const uint8_t *f, uint8_t flags, uint16_t op, uint64_t id,
			const void *body, uint32_t body_len)
{
	struct net_hdr h;

	net_hdr_decode(f, &h);
	CHECK(h.magic == HRL_MAGIC);
	CHECK(memcmp(f, "HRLD", 4) == 0);
	CHECK_EQ(h.version, 1);
	CHECK_EQ(h.flags, flags);
	CHECK_EQ(h.opcode, op);
	CHECK(h.request_id == id);
	CHECK_EQ(h.body_len, body_len);
	CHECK(h.body_crc == base_crc32c(0, f + HRL_FRAME_HEADER_BYTES, body_len));
	if (body)
		CHECK(memcmp(f + HRL_FRAME_HEADER_BYTES, body, body_len) == 0);
}

static void test_writer_frame(void)
{
	struct base_buf b = { 0 };
	struct net_wr w;

	/* Empty body: length 0, crc 0. */
	net_wr_begin(&w, &b, HRL_OP_PING, 0, 42);
	CHECK_EQ(net_wr_end(&w), 0);
	CHECK_EQ(b.len, HRL_FRAME_HEADER_BYTES);
	check_frame(b.data, 0, HRL_OP_PING, 42, NULL, 0);
	CHECK_EQ(le32(b.data + 20), 0);

	/* Every primitive, after the first frame in the same buffer. */
	size_t at = b.len;
	net_wr_begin(&w, &b, HRL_OP_BIND, HRL_FLAG_RESPONSE, UINT64_MAX);
	net_wr_u8(&w, 0xFE);
	net_wr_u16(&w, 0x1234);
	net_wr_u32(&w, 0x12345678);
	net_wr_u64(&w, 0x1234567890ABCDEFull);
	net_wr_str(&w, "abc", 3);
	net_wr_str(&w, "", 0);
	net_wr_raw(&w, "\xAA\xBB", 2);
	net_wr_raw(&w, NULL, 0);
	CHECK_EQ(net_wr_end(&w), 0);
	static const uint8_t want[] = {
		0xFE, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12,
		0xEF, 0xCD, 0xAB, 0x90, 0x78, 0x56, 0x34, 0x12,
		0x03, 0x00, 'a', 'b', 'c', 0x00, 0x00, 0xAA, 0xBB,
	};
	CHECK_EQ(b.len, at + HRL_FRAME_HEADER_BYTES + sizeof(want));
	check_frame(b.data + at, HRL_FLAG_RESPONSE, HRL_OP_BIND, UINT64_MAX, want, sizeof(want));
	check_frame(b.data, 0, HRL_OP_PING, 42, NULL, 0); /* first frame untouched */

	/* "123456789" as a raw body carries the CRC32C check value. */
	base_buf_free(&b);
	net_wr_begin(&w, &b, HRL_OP_PING, 0, 1);
	net_wr_raw(&w, "123456789", 9);
	CHECK_EQ(net_wr_end(&w), 0);
	CHECK(le32(b.data + 20) == 0xE3069283u);
	CHECK_EQ(le32(b.data + 16), 9);

	/* What the writer wrote, the reader reads back. */
	base_buf_free(&b);
	net_wr_begin(&w, &b, HRL_OP_USER_SHOW, 0, 9);
	for (int i = 0; i < 100; i++) {
		net_wr_u32(&w, (uint32_t)i * 2654435761u);
		net_wr_str(&w, "user", (size_t)(i % 5));
	}
	CHECK_EQ(net_wr_end(&w), 0);
	struct net_rd r;
	net_rd_init(&r, b.data + HRL_FRAME_HEADER_BYTES, b.len - HRL_FRAME_HEADER_BYTES);
	for (int i = 0; i < 100; i++) {
		const char *s;
		CHECK(net_rd_u32(&r) == (uint32_t)i * 2654435761u);
		CHECK_EQ(net_rd_str(&r, &s), i % 5);
	}
	CHECK(net_rd_done(&r));
	base_buf_free(&b);
}

static void test_writer_body_max(void)
{
	struct base_buf b = { 0 };
	struct net_wr w;
	uint8_t *big = malloc(HRL_FRAME_BODY_BYTES_MAX + 1);

	CHECK(big != NULL);
	if (!big)
		return;
	for (size_t i = 0; i <= HRL_FRAME_BODY_BYTES_MAX; i++)
		big[i] = (uint8_t)(i * 13);

	/* Exactly the maximum fits. */
	net_wr_begin(&w, &b, HRL_OP_PING, HRL_FLAG_RESPONSE, 5);
	net_wr_raw(&w, big, HRL_FRAME_BODY_BYTES_MAX);
	CHECK_EQ(net_wr_end(&w), 0);
	CHECK_EQ(b.len, HRL_FRAME_HEADER_BYTES + HRL_FRAME_BODY_BYTES_MAX);
	check_frame(b.data, HRL_FLAG_RESPONSE, HRL_OP_PING, 5, big, HRL_FRAME_BODY_BYTES_MAX);

	/* One byte more, in one go: -EMSGSIZE, the earlier frame stays. */
	size_t before = b.len;
	net_wr_begin(&w, &b, HRL_OP_PING, HRL_FLAG_RESPONSE, 6);
	net_wr_raw(&w, big, HRL_FRAME_BODY_BYTES_MAX + 1);
	CHECK(w.bad);
	CHECK_EQ(net_wr_end(&w), -EMSGSIZE);
	CHECK_EQ(b.len, before);
	check_frame(b.data, HRL_FLAG_RESPONSE, HRL_OP_PING, 5, big, HRL_FRAME_BODY_BYTES_MAX);

	/* Or crossing the limit with the last small field. */
	net_wr_begin(&w, &b, HRL_OP_PING, HRL_FLAG_RESPONSE, 7);
	net_wr_raw(&w, big, HRL_FRAME_BODY_BYTES_MAX - 3);
	CHECK(!w.bad);
	net_wr_u16(&w, 1);
	CHECK(!w.bad);
	net_wr_u16(&w, 2); /* 1 MiB + 1 */
	CHECK(w.bad);
	net_wr_u8(&w, 3); /* writes after bad are ignored */
	CHECK_EQ(net_wr_end(&w), -EMSGSIZE);
	CHECK_EQ(b.len, before);

	/* A str longer than a u16 can say. */
	net_wr_begin(&w, &b, HRL_OP_PING, 0, 8);
	net_wr_u8(&w, 1);
	net_wr_str(&w, (const char *)big, HRL_STR_BYTES_MAX + 1);
	CHECK_EQ(net_wr_end(&w), -EMSGSIZE);
	CHECK_EQ(b.len, before);
	/* The longest str is fine. */
	net_wr_begin(&w, &b, HRL_OP_PING, 0, 9);
	net_wr_str(&w, (const char *)big, HRL_STR_BYTES_MAX);
	CHECK_EQ(net_wr_end(&w), 0);
	CHECK_EQ(b.len, before + HRL_FRAME_HEADER_BYTES + 2 + HRL_STR_BYTES_MAX);
	check_frame(b.data + before, 0, HRL_OP_PING, 9, NULL, 2 + HRL_STR_BYTES_MAX);

	free(big);
	base_buf_free(&b);
}

static void test_writer_enomem(void)
{
	struct base_buf b = { 0 };
	struct net_wr w;
	uint8_t body[1000];

	memset(body, 'q', sizeof(body));

	/* begin cannot get room for the header. */
	base_buf_fail_alloc_after(1);
	net_wr_begin(&w, &b, HRL_OP_PING, 0, 1);
	net_wr_raw(&w, body, 10);
	CHECK_EQ(net_wr_end(&w), -ENOMEM);
	CHECK_EQ(b.len, 0);
	base_buf_fail_alloc_after(0);

	/* One good frame, then a second whose body cannot grow the buffer. */
	net_wr_begin(&w, &b, HRL_OP_PING, 0, 2);
	net_wr_raw(&w, body, 10);
	CHECK_EQ(net_wr_end(&w), 0);
	size_t before = b.len;
	base_buf_fail_alloc_after(1);
	net_wr_begin(&w, &b, HRL_OP_PING, 0, 3);
	CHECK(!w.bad); /* the header fits in the spare room */
	net_wr_raw(&w, body, sizeof(body));
	CHECK(w.bad);
	CHECK_EQ(net_wr_end(&w), -ENOMEM);
	base_buf_fail_alloc_after(0);
	CHECK_EQ(b.len, before);
	check_frame(b.data, 0, HRL_OP_PING, 2, body, 10);

	/* The same for an error frame. */
	base_buf_fail_alloc_after(1);
	char msg[600];
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	CHECK_EQ(net_wr_error(&b, HRL_OP_BIND, 4, HRL_E_INTERNAL, msg), -ENOMEM);
	base_buf_fail_alloc_after(0);
	CHECK_EQ(b.len, before);
	base_buf_free(&b);
}

static void test_writer_error_frame(void)
{
	struct base_buf b = { 0 };
	static const char msg[] = "no such user";

	CHECK_EQ(net_wr_error(&b, HRL_OP_USER_SHOW, 0x1122334455667788ull, HRL_E_NOT_FOUND, msg), 0);
	uint8_t want[2 + 2 + sizeof(msg) - 1];
	want[0] = HRL_E_NOT_FOUND;
	want[1] = 0;
	want[2] = (uint8_t)(sizeof(msg) - 1);
	want[3] = 0;
	memcpy(want + 4, msg, sizeof(msg) - 1);
	CHECK_EQ(b.len, HRL_FRAME_HEADER_BYTES + sizeof(want));
	check_frame(b.data, HRL_FLAG_RESPONSE | HRL_FLAG_ERROR, HRL_OP_USER_SHOW,
		    0x1122334455667788ull, want, sizeof(want));
	CHECK_EQ(b.data[5], 0x03);

	/* Read back with the reader. */
	struct net_rd r;
	const char *s;
	net_rd_init(&r, b.data + HRL_FRAME_HEADER_BYTES, b.len - HRL_FRAME_HEADER_BYTES);
	CHECK_EQ(net_rd_u16(&r), HRL_E_NOT_FOUND);
	CHECK_EQ(net_rd_str(&r, &s), sizeof(msg) - 1);
	CHECK(memcmp(s, msg, sizeof(msg) - 1) == 0);
	CHECK(net_rd_done(&r));

	/* Connection-level error: request id 0, opcode 0, empty message. */
	size_t at = b.len;
	CHECK_EQ(net_wr_error(&b, 0, 0, HRL_E_BAD_MAGIC, ""), 0);
	static const uint8_t want2[] = { HRL_E_BAD_MAGIC, 0, 0, 0 };
	check_frame(b.data + at, 0x03, 0, 0, want2, sizeof(want2));
	base_buf_free(&b);
}

int main(void)
{
	test_header_layout();
	test_header_roundtrip();
	test_header_check_order();
	test_error_classes();
	test_names();
	test_reader_values();
	test_reader_truncated_str();
	test_reader_past_end();
	test_reader_trailing();
	test_writer_frame();
	test_writer_body_max();
	test_writer_enomem();
	test_writer_error_frame();
	if (failures) {
		fprintf(stderr, "wire_codec: %d check(s) failed\n", failures);
		return 1;
	}
	return 0;
}
