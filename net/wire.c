/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire.c - frame and body codec, see wire.h. Little-endian is written out
 * byte by byte so the codec is correct on any host.
 */
#include "net/wire.h"

#include <errno.h>
#include <string.h>

#include "base/crc32c.h"

static inline uint16_t ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t ld32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t ld64(const uint8_t *p)
{
	return (uint64_t)ld32(p) | ((uint64_t)ld32(p + 4) << 32);
}

static inline void st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void st32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void st64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void net_hdr_decode(const uint8_t *p, struct net_hdr *h)
{
	h->magic = ld32(p);
	h->version = p[4];
	h->flags = p[5];
	h->opcode = ld16(p + 6);
	h->request_id = ld64(p + 8);
	h->body_len = ld32(p + 16);
	h->body_crc = ld32(p + 20);
}

void net_hdr_encode(uint8_t *p, const struct net_hdr *h)
{
	st32(p, h->magic);
	p[4] = h->version;
	p[5] = h->flags;
	st16(p + 6, h->opcode);
	st64(p + 8, h->request_id);
	st32(p + 16, h->body_len);
	st32(p + 20, h->body_crc);
}

int net_hdr_check(const struct net_hdr *h, uint8_t expect_flags)
{
	if (h->magic != HRL_MAGIC)
		return -HRL_E_BAD_MAGIC;
	if (h->body_len > HRL_FRAME_BODY_BYTES_MAX)
		return -HRL_E_FRAME_TOO_LARGE;
	if (h->version < HRL_VERSION_MIN || h->version > HRL_VERSION_MAX)
		return -HRL_E_UNSUPPORTED_VERSION;
	if (expect_flags == 0 ? h->flags != 0 :
	    (h->flags & ~HRL_FLAGS_KNOWN) || !(h->flags & HRL_FLAG_RESPONSE))
		return -HRL_E_BAD_FLAGS; /* requests carry no flags at all */
	return 0;
}

bool net_err_breaks_framing(int hrl_err)
{
	return hrl_err == HRL_E_BAD_MAGIC || hrl_err == HRL_E_FRAME_TOO_LARGE;
}

static const char *const err_names[HRL_E_COUNT] = {
	[0] = "OK",
	[HRL_E_BAD_MAGIC] = "E_BAD_MAGIC",
	[HRL_E_UNSUPPORTED_VERSION] = "E_UNSUPPORTED_VERSION",
	[HRL_E_BAD_FLAGS] = "E_BAD_FLAGS",
	[HRL_E_FRAME_TOO_LARGE] = "E_FRAME_TOO_LARGE",
	[HRL_E_BAD_CRC] = "E_BAD_CRC",
	[HRL_E_UNKNOWN_OPCODE] = "E_UNKNOWN_OPCODE",
	[HRL_E_BAD_BODY] = "E_BAD_BODY",
	[HRL_E_HELLO_REQUIRED] = "E_HELLO_REQUIRED",
	[HRL_E_AUTH_REQUIRED] = "E_AUTH_REQUIRED",
	[HRL_E_AUTH_FAILED] = "E_AUTH_FAILED",
	[HRL_E_FORBIDDEN] = "E_FORBIDDEN",
	[HRL_E_NOT_FOUND] = "E_NOT_FOUND",
	[HRL_E_EXISTS] = "E_EXISTS",
	[HRL_E_INVALID_ARGUMENT] = "E_INVALID_ARGUMENT",
	[HRL_E_LIMIT_EXCEEDED] = "E_LIMIT_EXCEEDED",
	[HRL_E_TIMEOUT] = "E_TIMEOUT",
	[HRL_E_SHUTTING_DOWN] = "E_SHUTTING_DOWN",
	[HRL_E_INTERNAL] = "E_INTERNAL",
	[HRL_E_BUSY] = "E_BUSY",
	[HRL_E_STORE] = "E_STORE",
};

const char *net_err_name(int e)
{
	if (e < 0 || e >= HRL_E_COUNT || !err_names[e])
		return "E_UNKNOWN";
	return err_names[e];
}

static const char *const op_names[HRL_OP_TABLE_SIZE] = {
	[HRL_OP_HELLO] = "HELLO",
	[HRL_OP_AUTH] = "AUTH",
	[HRL_OP_PING] = "PING",
	[HRL_OP_STATS] = "STATS",
	[HRL_OP_STORE_STATS] = "STORE_STATS",
	[HRL_OP_APP_CREATE] = "APP_CREATE",
	[HRL_OP_APP_LIST] = "APP_LIST",
	[HRL_OP_APP_ROTATE] = "APP_ROTATE",
	[HRL_OP_BIND] = "BIND",
	[HRL_OP_UNBIND] = "UNBIND",
	[HRL_OP_ALIAS_SET] = "ALIAS_SET",
	[HRL_OP_ALIAS_DEL] = "ALIAS_DEL",
	[HRL_OP_ALIAS_LOOKUP] = "ALIAS_LOOKUP",
	[HRL_OP_TAG_ADD] = "TAG_ADD",
	[HRL_OP_TAG_DEL] = "TAG_DEL",
	[HRL_OP_ATTR_SET] = "ATTR_SET",
	[HRL_OP_USER_SHOW] = "USER_SHOW",
	[HRL_OP_RECEIPT_PUT] = "RECEIPT_PUT",
	[HRL_OP_HISTORY] = "HISTORY",
	[HRL_OP_CAMPAIGN_COUNTERS] = "CAMPAIGN_COUNTERS",
	[HRL_OP_CAMPAIGN_CREATE] = "CAMPAIGN_CREATE",
	[HRL_OP_CAMPAIGN_STATUS] = "CAMPAIGN_STATUS",
	[HRL_OP_CAMPAIGN_CONTROL] = "CAMPAIGN_CONTROL",
	[HRL_OP_VENDOR_SET] = "VENDOR_SET",
	[HRL_OP_VENDOR_LIST] = "VENDOR_LIST",
	[HRL_OP_CAMPAIGN_UPLOAD] = "CAMPAIGN_UPLOAD",
};

const char *net_op_name(unsigned opcode)
{
	if (opcode >= HRL_OP_TABLE_SIZE)
		return NULL;
	return op_names[opcode];
}

/* ---- reader ------------------------------------------------------------- */

static inline const uint8_t *rd_take(struct net_rd *r, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t net_rd_u8(struct net_rd *r)
{
	const uint8_t *p = rd_take(r, 1);
	return p ? p[0] : 0;
}

uint16_t net_rd_u16(struct net_rd *r)
{
	const uint8_t *p = rd_take(r, 2);
	return p ? ld16(p) : 0;
}

uint32_t net_rd_u32(struct net_rd *r)
{
	const uint8_t *p = rd_take(r, 4);
	return p ? ld32(p) : 0;
}

uint64_t net_rd_u64(struct net_rd *r)
{
	const uint8_t *p = rd_take(r, 8);
	return p ? ld64(p) : 0;
}

size_t net_rd_str(struct net_rd *r, const char **s)
{
	uint16_t n = net_rd_u16(r);
	const uint8_t *p = rd_take(r, n);
	if (!p) {
		*s = "";
		return 0;
	}
	*s = (const char *)p;
	return n;
}

const uint8_t *net_rd_raw(struct net_rd *r, size_t n)
{
	return rd_take(r, n);
}

/* ---- writer ------------------------------------------------------------- */

void net_wr_begin(struct net_wr *w, struct base_buf *b, uint16_t opcode, uint8_t flags,
		  uint64_t request_id)
{
	w->b = b;
	w->start = b->len - b->off; /* relative: base_buf_reserve may compact */
	w->bad = false;
	w->err = 0;
	if (base_buf_reserve(b, HRL_FRAME_HEADER_BYTES)) {
		w->bad = true;
		w->err = -ENOMEM;
		return;
	}
	struct net_hdr h = {
		.magic = HRL_MAGIC,
		.version = 1,
		.flags = flags,
		.opcode = opcode,
		.request_id = request_id,
	};
	net_hdr_encode(b->data + b->len, &h);
	b->len += HRL_FRAME_HEADER_BYTES;
}

static inline uint8_t *wr_room(struct net_wr *w, size_t n)
{
	if (w->bad)
		return NULL;
	if (w->b->len - w->b->off - w->start - HRL_FRAME_HEADER_BYTES + n > HRL_FRAME_BODY_BYTES_MAX) {
		w->bad = true;
		w->err = -EMSGSIZE;
		return NULL;
	}
	if (base_buf_reserve(w->b, n)) {
		w->bad = true;
		w->err = -ENOMEM;
		return NULL;
	}
	uint8_t *p = w->b->data + w->b->len;
	w->b->len += n;
	return p;
}

void net_wr_u8(struct net_wr *w, uint8_t v)
{
	uint8_t *p = wr_room(w, 1);
	if (p)
		p[0] = v;
}

void net_wr_u16(struct net_wr *w, uint16_t v)
{
	uint8_t *p = wr_room(w, 2);
	if (p)
		st16(p, v);
}

void net_wr_u32(struct net_wr *w, uint32_t v)
{
	uint8_t *p = wr_room(w, 4);
	if (p)
		st32(p, v);
}

void net_wr_u64(struct net_wr *w, uint64_t v)
{
	uint8_t *p = wr_room(w, 8);
	if (p)
		st64(p, v);
}

void net_wr_str(struct net_wr *w, const char *s, size_t len)
{
	if (len > HRL_STR_BYTES_MAX) {
		w->bad = true;
		w->err = -EMSGSIZE;
		return;
	}
	uint8_t *p = wr_room(w, 2 + len);
	if (!p)
		return;
	st16(p, (uint16_t)len);
	if (len)
		memcpy(p + 2, s, len);
}

void net_wr_raw(struct net_wr *w, const void *src, size_t n)
{
	uint8_t *p = wr_room(w, n);
	if (p && n)
		memcpy(p, src, n);
}

int net_wr_end(struct net_wr *w)
{
	size_t start = w->b->off + w->start;
	if (w->bad) {
		if (w->b->len > start)
			w->b->len = start;
		return w->err ? w->err : -ENOMEM;
	}
	uint8_t *hdr = w->b->data + start;
	uint32_t body_len = (uint32_t)(w->b->len - start - HRL_FRAME_HEADER_BYTES);
	st32(hdr + 16, body_len);
	st32(hdr + 20, base_crc32c(0, hdr + HRL_FRAME_HEADER_BYTES, body_len));
	return 0;
}

int net_wr_error(struct base_buf *b, uint16_t opcode, uint64_t request_id, uint16_t code,
		 const char *msg)
{
	struct net_wr w;
	net_wr_begin(&w, b, opcode, HRL_FLAG_RESPONSE | HRL_FLAG_ERROR, request_id);
	net_wr_u16(&w, code);
	net_wr_str(&w, msg, strlen(msg));
	return net_wr_end(&w);
}
