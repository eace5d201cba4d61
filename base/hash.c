/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hash.c - SipHash-2-4 written from the paper's description: state v0..v3
 * initialised from the key and the constants "somepseudorandomlygeneratedbytes",
 * 2 compression rounds per 8-byte little-endian word, the last word holding
 * the remaining bytes and (len mod 256) in its top byte, then 0xff xored into
 * v2 and 4 finalisation rounds. tests/hash.c checks the paper's test vector.
 */
#include "base/hash.h"

#include <string.h>

#define ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define SIP_ROUND(v0, v1, v2, v3)                                                  \
	do {                                                                       \
		v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32);      \
		v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2;                           \
		v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0;                           \
		v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32);      \
	} while (0)

struct sip_state {
	uint64_t v0, v1, v2, v3;
	uint64_t tail;     /* pending bytes, little-endian */
	unsigned tail_len; /* 0..7 */
	uint64_t total;
};

static void sip_init(struct sip_state *s, const struct base_hash_key *k)
{
	s->v0 = k->k0 ^ 0x736f6d6570736575ull;
	s->v1 = k->k1 ^ 0x646f72616e646f6dull;
	s->v2 = k->k0 ^ 0x6c7967656e657261ull;
	s->v3 = k->k1 ^ 0x7465646279746573ull;
	s->tail = 0;
	s->tail_len = 0;
	s->total = 0;
}

static inline void sip_word(struct sip_state *s, uint64_t m)
{
	s->v3 ^= m;
	SIP_ROUND(s->v0, s->v1, s->v2, s->v3);
	SIP_ROUND(s->v0, s->v1, s->v2, s->v3);
	s->v0 ^= m;
}

static void sip_update(struct sip_state *s, const uint8_t *p, size_t len)
{
	s->total += len;
	while (len && s->tail_len) {
		s->tail |= (uint64_t)*p++ << (8 * s->tail_len);
		len--;
		if (++s->tail_len == 8) {
			sip_word(s, s->tail);
			s->tail = 0;
			s->tail_len = 0;
		}
	}
	while (len >= 8) {
		uint64_t m;
		memcpy(&m, p, 8); /* x86-64 is little-endian */
		sip_word(s, m);
		p += 8;
		len -= 8;
	}
	while (len--) {
		s->tail |= (uint64_t)*p++ << (8 * s->tail_len);
		s->tail_len++;
	}
}

static uint64_t sip_final(struct sip_state *s)
{
	uint64_t b = s->tail | ((s->total & 0xFF) << 56);

	sip_word(s, b);
	s->v2 ^= 0xFF;
	for (int i = 0; i < 4; i++)
		SIP_ROUND(s->v0, s->v1, s->v2, s->v3);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t base_hash64(const struct base_hash_key *key, const void *data, size_t len)
{
	struct sip_state s;

	sip_init(&s, key);
	sip_update(&s, data, len);
	return sip_final(&s);
}

uint64_t base_hash64_pair(const struct base_hash_key *key, const void *a, size_t alen,
			  const void *b, size_t blen)
{
	struct sip_state s;
	uint8_t sep[4] = { (uint8_t)alen, (uint8_t)(alen >> 8), (uint8_t)(alen >> 16), 0xFF };

	sip_init(&s, key);
	sip_update(&s, sep, sizeof(sep));
	sip_update(&s, a, alen);
	sip_update(&s, b, blen);
	return sip_final(&s);
}
