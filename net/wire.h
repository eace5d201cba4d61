/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire.h - encoder and decoder of Herald wire protocol v1 frames and bodies.
 *
 * Shared by the engine (net/) and the client library (client/): one codec
 * for both ends. Layout of the 24-byte header is in include/herald_proto.h
 * and docs/PROTOCOL.md. Body primitives, all little-endian:
 *
 *   u8 u16 u32 u64    fixed width integers
 *   str               u16 length n, then n bytes (UTF-8, no terminator)
 *   raw[n]            n bytes, n fixed by the opcode
 *
 * Decoding never reads past the body: a reader that runs out marks itself
 * bad and returns zeroes; net_rd_done() is true only if every byte was
 * consumed and nothing ran out. Any thread may use these.
 */
#ifndef NET_WIRE_H
#define NET_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "include/bounds.h"
#include "include/herald_proto.h"

struct net_hdr {
	uint32_t magic;
	uint8_t version;
	uint8_t flags;
	uint16_t opcode;
	uint64_t request_id;
	uint32_t body_len;
	uint32_t body_crc;
};

/* The on-wire image, for offset checks only. */
struct net_hdr_wire {
	uint8_t magic[4];
	uint8_t version;
	uint8_t flags;
	uint8_t opcode[2];
	uint8_t request_id[8];
	uint8_t body_len[4];
	uint8_t body_crc[4];
};
_Static_assert(sizeof(struct net_hdr_wire) == HRL_FRAME_HEADER_BYTES, "header is 24 bytes");
_Static_assert(__builtin_offsetof(struct net_hdr_wire, version) == 4, "version at 4");
_Static_assert(__builtin_offsetof(struct net_hdr_wire, flags) == 5, "flags at 5");
_Static_assert(__builtin_offsetof(struct net_hdr_wire, opcode) == 6, "opcode at 6");
_Static_assert(__builtin_offsetof(struct net_hdr_wire, request_id) == 8, "request_id at 8");
_Static_assert(__builtin_offsetof(struct net_hdr_wire, body_len) == 16, "body_len at 16");
_Static_assert(__builtin_offsetof(struct net_hdr_wire, body_crc) == 20, "body_crc at 20");

/* Parse 24 header bytes. No validation. */
void net_hdr_decode(const uint8_t *p, struct net_hdr *h);
void net_hdr_encode(uint8_t *p, const struct net_hdr *h);

/*
 * Validate a decoded header as the engine does, in this order:
 * magic, body length, version, flags. Returns 0 or -HRL_E_* .
 * Magic and oversize length break framing (the caller must close);
 * version and flags errors leave framing intact.
 */
int net_hdr_check(const struct net_hdr *h, uint8_t expect_flags);

/* True if the error code means the byte stream can no longer be trusted. */
bool net_err_breaks_framing(int hrl_err);

/* Name of an error code, "E_UNKNOWN" for codes outside the table. */
const char *net_err_name(int hrl_err);
/* Name of an opcode, NULL if unknown. */
const char *net_op_name(unsigned opcode);

struct net_rd {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool bad;
};

static inline void net_rd_init(struct net_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = false;
}

uint8_t net_rd_u8(struct net_rd *r);
uint16_t net_rd_u16(struct net_rd *r);
uint32_t net_rd_u32(struct net_rd *r);
uint64_t net_rd_u64(struct net_rd *r);
/* A str: sets *s (not terminated) and returns its length; "" when bad. */
size_t net_rd_str(struct net_rd *r, const char **s);
/* n raw bytes, NULL when bad. */
const uint8_t *net_rd_raw(struct net_rd *r, size_t n);
static inline bool net_rd_done(const struct net_rd *r)
{
	return !r->bad && r->off == r->len;
}

/*
 * Writer: appends one frame to a buffer. Begin reserves the header; put
 * functions append; end fills in length and CRC. On allocation failure or
 * a body over the limit the writer is marked bad and end returns -ENOMEM
 * or -EMSGSIZE with the buffer rolled back to where begin found it.
 */
struct net_wr {
	struct base_buf *b;
	size_t start; /* frame start, relative to b->off */
	bool bad;
	int err;
};

void net_wr_begin(struct net_wr *w, struct base_buf *b, uint16_t opcode, uint8_t flags,
		  uint64_t request_id);
void net_wr_u8(struct net_wr *w, uint8_t v);
void net_wr_u16(struct net_wr *w, uint16_t v);
void net_wr_u32(struct net_wr *w, uint32_t v);
void net_wr_u64(struct net_wr *w, uint64_t v);
void net_wr_str(struct net_wr *w, const char *s, size_t len);
void net_wr_raw(struct net_wr *w, const void *p, size_t n);
int net_wr_end(struct net_wr *w);

/* Append a whole error frame (flags RESPONSE|ERROR). 0 or -errno. */
int net_wr_error(struct base_buf *b, uint16_t opcode, uint64_t request_id, uint16_t code,
		 const char *msg);

#endif
