/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/hash.c - base_hash64 is SipHash-2-4; pairs and reduction behave.
 *
 *   - the paper's test vector: key 00..0f, message 00..0e -> 0xa129ca6149be45e5
 *   - the reference implementation's full table: key 00..0f, message
 *     00..(i-1) for i = 0..63 (vectors_sip64, read as little-endian u64)
 *   - the key matters; one flipped message bit changes the hash
 *   - base_hash64_pair is unambiguous: every split of one byte string into
 *     (a, b) hashes differently ("ab","c") != ("a","bc"), and is stable
 *   - base_hash_reduce stays below n and spreads user ids evenly over 1024
 *     buckets (chi-square well inside the 1023-degree-of-freedom range)
 *
 * Exit 0 pass, 1 fail.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/hash.h"

#include "tests/unit.h"

#define CHECK_EQ_U64(a, b)                                                           \
	do {                                                                         \
		uint64_t a_ = (a), b_ = (b);                                         \
		if (a_ != b_) {                                                      \
			fprintf(stderr, "%s:%d: %s == 0x%016llx, expected 0x%016llx\n", \
				__FILE__, __LINE__, #a, (unsigned long long)a_,      \
				(unsigned long long)b_);                             \
			failures++;                                                  \
		}                                                                    \
	} while (0)

/* Key bytes 00 01 .. 0f, as two little-endian words. */
static const struct base_hash_key ref_key = {
	.k0 = 0x0706050403020100ull,
	.k1 = 0x0f0e0d0c0b0a0908ull,
};

/* SipHash-2-4 of 00 01 .. (i-1) under ref_key, for i = 0..63. */
static const uint64_t ref_vectors[64] = {
	0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull, 0x85676696d7fb7e2dull,
	0xcf2794e0277187b7ull, 0x18765564cd99a68dull, 0xcbc9466e58fee3ceull, 0xab0200f58b01d137ull,
	0x93f5f5799a932462ull, 0x9e0082df0ba9e4b0ull, 0x7a5dbbc594ddb9f3ull, 0xf4b32f46226bada7ull,
	0x751e8fbc860ee5fbull, 0x14ea5627c0843d90ull, 0xf723ca908e7af2eeull, 0xa129ca6149be45e5ull,
	0x3f2acc7f57c29bdbull, 0x699ae9f52cbe4794ull, 0x4bc1b3f0968dd39cull, 0xbb6dc91da77961bdull,
	0xbed65cf21aa2ee98ull, 0xd0f2cbb02e3b67c7ull, 0x93536795e3a33e88ull, 0xa80c038ccd5ccec8ull,
	0xb8ad50c6f649af94ull, 0xbce192de8a85b8eaull, 0x17d835b85bbb15f3ull, 0x2f2e6163076bcfadull,
	0xde4daaaca71dc9a5ull, 0xa6a2506687956571ull, 0xad87a3535c49ef28ull, 0x32d892fad841c342ull,
	0x7127512f72f27cceull, 0xa7f32346f95978e3ull, 0x12e0b01abb051238ull, 0x15e034d40fa197aeull,
	0x314dffbe0815a3b4ull, 0x027990f029623981ull, 0xcadcd4e59ef40c4dull, 0x9abfd8766a33735cull,
	0x0e3ea96b5304a7d0ull, 0xad0c42d6fc585992ull, 0x187306c89bc215a9ull, 0xd4a60abcf3792b95ull,
	0xf935451de4f21df2ull, 0xa9538f0419755787ull, 0xdb9acddff56ca510ull, 0xd06c98cd5c0975ebull,
	0xe612a3cb9ecba951ull, 0xc766e62cfcadaf96ull, 0xee64435a9752fe72ull, 0xa192d576b245165aull,
	0x0a8787bf8ecb74b2ull, 0x81b3e73d20b49b6full, 0x7fa8220ba3b2eceaull, 0x245731c13ca42499ull,
	0xb78dbfaf3a8d83bdull, 0xea1ad565322a1a0bull, 0x60e61c23a3795013ull, 0x6606d7e446282b93ull,
	0x6ca4ecb15c5f91e1ull, 0x9f626da15c9625f3ull, 0xe51b38608ef25f57ull, 0x958a324ceb064572ull,
};

static void test_paper_vector(void)
{
	uint8_t msg[15];

	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	CHECK_EQ_U64(base_hash64(&ref_key, msg, sizeof(msg)), 0xa129ca6149be45e5ull);
}

static void test_reference_table(void)
{
	uint8_t msg[64];

	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (size_t len = 0; len < 64; len++) {
		uint64_t h = base_hash64(&ref_key, msg, len);
		if (h != ref_vectors[len]) {
			fprintf(stderr, "%s:%d: length %zu: 0x%016llx, expected 0x%016llx\n",
				__FILE__, __LINE__, len, (unsigned long long)h,
				(unsigned long long)ref_vectors[len]);
			failures++;
		}
	}
	/* The same messages from a misaligned start. */
	uint8_t shifted[64 + 3];
	for (int i = 0; i < 64; i++)
		shifted[3 + i] = (uint8_t)i;
	for (size_t len = 0; len < 64; len++)
		CHECK_EQ_U64(base_hash64(&ref_key, shifted + 3, len), ref_vectors[len]);
}

static void test_key_and_bits_matter(void)
{
	const struct base_hash_key other = { .k0 = ref_key.k0 ^ 1, .k1 = ref_key.k1 };
	const struct base_hash_key other_hi = { .k0 = ref_key.k0, .k1 = ref_key.k1 ^ (1ull << 63) };
	uint8_t msg[40];

	for (int i = 0; i < 40; i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	uint64_t h = base_hash64(&ref_key, msg, sizeof(msg));
	CHECK(base_hash64(&other, msg, sizeof(msg)) != h);
	CHECK(base_hash64(&other_hi, msg, sizeof(msg)) != h);
	CHECK_EQ_U64(base_hash64(&ref_key, msg, sizeof(msg)), h); /* deterministic */
	for (size_t bit = 0; bit < 8 * sizeof(msg); bit++) {
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		uint64_t flipped = base_hash64(&ref_key, msg, sizeof(msg));
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (flipped == h) {
			fprintf(stderr, "%s:%d: flipping bit %zu left the hash unchanged\n",
				__FILE__, __LINE__, bit);
			failures++;
		}
	}
	/* Trailing zero bytes are not ignored (the length is hashed). */
	uint8_t zeros[16] = { 0 };
	for (size_t len = 0; len < 16; len++)
		CHECK(base_hash64(&ref_key, zeros, len) != base_hash64(&ref_key, zeros, len + 1));
}

static void test_pair_unambiguous(void)
{
	CHECK(base_hash64_pair(&ref_key, "ab", 2, "c", 1) != base_hash64_pair(&ref_key, "a", 1, "bc", 2));
	CHECK(base_hash64_pair(&ref_key, "abc", 3, "", 0) != base_hash64_pair(&ref_key, "", 0, "abc", 3));
	CHECK(base_hash64_pair(&ref_key, "ab", 2, "c", 1) == base_hash64_pair(&ref_key, "ab", 2, "c", 1));
	/* A pair is not the hash of the concatenation. */
	CHECK(base_hash64_pair(&ref_key, "ab", 2, "c", 1) != base_hash64(&ref_key, "abc", 3));

	/* Every split of a 40-byte string gives a different hash. */
	char s[40];
	uint64_t seen[41];
	for (int i = 0; i < 40; i++)
		s[i] = (char)('a' + i % 26);
	for (size_t cut = 0; cut <= sizeof(s); cut++) {
		seen[cut] = base_hash64_pair(&ref_key, s, cut, s + cut, sizeof(s) - cut);
		for (size_t j = 0; j < cut; j++)
			if (seen[j] == seen[cut]) {
				fprintf(stderr, "%s:%d: splits %zu and %zu collide\n", __FILE__,
					__LINE__, j, cut);
				failures++;
			}
	}
	/* The key matters for pairs too. */
	const struct base_hash_key other = { .k0 = 1, .k1 = 2 };
	CHECK(base_hash64_pair(&other, "app", 3, "user", 4) !=
	      base_hash64_pair(&ref_key, "app", 3, "user", 4));
}

#define REDUCE_BUCKETS 1024u
#define REDUCE_PER_BUCKET 64u

static void test_reduce_range(void)
{
	static const uint64_t hs[] = { 0, 1, 0xFFFFFFFFull, 0x100000000ull, UINT64_MAX,
				       0x8000000000000000ull, 0x7FFFFFFFFFFFFFFFull };
	static const uint32_t ns[] = { 1, 2, 3, 7, 1024, 65536, 1000003, UINT32_MAX };

	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
		for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++)
			CHECK(base_hash_reduce(hs[i], ns[j]) < ns[j]);
	CHECK(base_hash_reduce(UINT64_MAX, 1024) == 1023);
	CHECK(base_hash_reduce(0, 1024) == 0);
	for (uint32_t n = 1; n < 2000; n += 37)
		for (uint64_t x = 0; x < 200; x++) {
			uint64_t h = base_hash64(&ref_key, &x, sizeof(x));
			CHECK(base_hash_reduce(h, n) < n);
		}
}

static void test_reduce_uniform(void)
{
	static uint32_t count[REDUCE_BUCKETS];
	const struct base_hash_key key = { .k0 = 0x243F6A8885A308D3ull, .k1 = 0x13198A2E03707344ull };
	const uint32_t total = REDUCE_BUCKETS * REDUCE_PER_BUCKET;
	char user[32];

	for (uint32_t i = 0; i < total; i++) {
		int n = snprintf(user, sizeof(user), "user-%u", i);
		uint32_t b = base_hash_reduce(base_hash64(&key, user, (size_t)n), REDUCE_BUCKETS);
		if (b >= REDUCE_BUCKETS) {
			CHECK(b < REDUCE_BUCKETS);
			return;
		}
		count[b]++;
	}
	double chi2 = 0;
	uint32_t lo = UINT32_MAX, hi = 0;
	for (uint32_t b = 0; b < REDUCE_BUCKETS; b++) {
		double d = (double)count[b] - REDUCE_PER_BUCKET;
		chi2 += d * d / REDUCE_PER_BUCKET;
		lo = count[b] < lo ? count[b] : lo;
		hi = count[b] > hi ? count[b] : hi;
	}
	/* 1023 degrees of freedom: mean 1023, standard deviation about 45. */
	if (chi2 < 800 || chi2 > 1300 || lo < 25 || hi > 110) {
		fprintf(stderr, "%s:%d: not uniform: chi2 %.1f, buckets %u..%u (expect ~%u)\n",
			__FILE__, __LINE__, chi2, lo, hi, REDUCE_PER_BUCKET);
		failures++;
	}
}

int main(void)
{
	test_paper_vector();
	test_reference_table();
	test_key_and_bits_matter();
	test_pair_unambiguous();
	test_reduce_range();
	test_reduce_uniform();
	if (failures) {
		fprintf(stderr, "hash: %d check(s) failed\n", failures);
		return 1;
	}
	return 0;
}
