/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hash.h - keyed 64-bit hashing (SipHash-2-4, Aumasson & Bernstein 2012).
 *
 * Keyed so that a client cannot choose user ids that pile into one
 * partition or one hash-table chain. The partition key is generated when
 * the data directory is created and stored in it, so a user's partition
 * never changes for the life of the data. Any thread may call these.
 */
#ifndef BASE_HASH_H
#define BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

struct base_hash_key {
	uint64_t k0, k1;
};

uint64_t base_hash64(const struct base_hash_key *key, const void *data, size_t len);

/* Hash of two byte strings with a separator that makes (a,b) unambiguous. */
uint64_t base_hash64_pair(const struct base_hash_key *key, const void *a, size_t alen,
			  const void *b, size_t blen);

/* Lemire's multiply-shift reduction of a hash to [0, n). */
static inline uint32_t base_hash_reduce(uint64_t h, uint32_t n)
{
	return (uint32_t)(((__uint128_t)(uint32_t)(h >> 32) * n) >> 32);
}

#endif
