/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/crc32c.c - base_crc32c computes CRC32C (Castagnoli).
 *
 *   - the published check value: crc32c("123456789") == 0xE3069283
 *   - a few more known values (32 zero bytes, 32 0xFF bytes, 0..31 ascending:
 *     the iSCSI test patterns of RFC 3720 B.4)
 *   - the empty input gives 0
 *   - the SSE4.2 path and the table path agree on random lengths 0..4096
 *     starting at every alignment 0..15
 *   - chaining: crc(crc(a), b) == crc(a || b) for every split point
 *
 * Exit 0 pass, 1 fail.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"

#include "tests/unit.h"

#define CHECK_EQ_U32(a, b)                                                           \
	do {                                                                         \
		uint32_t a_ = (a), b_ = (b);                                         \
		if (a_ != b_) {                                                      \
			fprintf(stderr, "%s:%d: %s == 0x%08x, expected 0x%08x\n",    \
				__FILE__, __LINE__, #a, a_, b_);                     \
			failures++;                                                  \
		}                                                                    \
	} while (0)

/* xorshift64*, fixed seed: the test is reproducible. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

/* Bit-at-a-time CRC32C straight from the definition, as a third opinion. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
	}
	return ~c;
}

static void test_check_value(void)
{
	static const char check[] = "123456789";

	CHECK_EQ_U32(base_crc32c(0, check, 9), 0xE3069283u);
	CHECK_EQ_U32(base_crc32c_sw(0, check, 9), 0xE3069283u);
	CHECK_EQ_U32(base_crc32c_hw(0, check, 9), 0xE3069283u);
	CHECK_EQ_U32(crc32c_bitwise((const uint8_t *)check, 9), 0xE3069283u);
}

static void test_iscsi_patterns(void)
{
	uint8_t b[32];

	memset(b, 0, sizeof(b));
	CHECK_EQ_U32(base_crc32c(0, b, sizeof(b)), 0x8A9136AAu);
	memset(b, 0xFF, sizeof(b));
	CHECK_EQ_U32(base_crc32c(0, b, sizeof(b)), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	CHECK_EQ_U32(base_crc32c(0, b, sizeof(b)), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	CHECK_EQ_U32(base_crc32c(0, b, sizeof(b)), 0x113FDB5Cu);
}

static void test_empty(void)
{
	uint8_t dummy = 0xAB;

	CHECK_EQ_U32(base_crc32c(0, &dummy, 0), 0);
	CHECK_EQ_U32(base_crc32c(0, NULL, 0), 0);
	CHECK_EQ_U32(base_crc32c_sw(0, NULL, 0), 0);
	CHECK_EQ_U32(base_crc32c_hw(0, NULL, 0), 0);
	/* An empty continuation leaves a running crc unchanged. */
	CHECK_EQ_U32(base_crc32c(0xE3069283u, NULL, 0), 0xE3069283u);
}

#define RANDOM_BYTES_MAX 4096u
#define ALIGN_MAX 16u
#define RANDOM_ROUNDS 2000

static void test_hw_matches_sw(void)
{
	static uint8_t mem[RANDOM_BYTES_MAX + ALIGN_MAX];

	if (!base_crc32c_hw_available())
		fprintf(stderr, "note: no SSE4.2, hw path falls back to sw\n");
	for (size_t i = 0; i < sizeof(mem); i++)
		mem[i] = (uint8_t)rng_next();
	for (int round = 0; round < RANDOM_ROUNDS; round++) {
		size_t len = (size_t)(rng_next() % (RANDOM_BYTES_MAX + 1));
		size_t start = (size_t)round % ALIGN_MAX;
		uint32_t seed = round & 1 ? (uint32_t)rng_next() : 0;
		uint32_t sw = base_crc32c_sw(seed, mem + start, len);
		uint32_t hw = base_crc32c_hw(seed, mem + start, len);
		if (sw != hw) {
			fprintf(stderr, "%s:%d: hw 0x%08x != sw 0x%08x (len %zu start %zu seed 0x%08x)\n",
				__FILE__, __LINE__, hw, sw, len, start, seed);
			failures++;
			return;
		}
		if (seed == 0 && round % 50 == 0)
			CHECK_EQ_U32(sw, crc32c_bitwise(mem + start, len));
		CHECK_EQ_U32(base_crc32c(seed, mem + start, len), sw);
	}
	/* Every short length at every alignment: the tail loops. */
	for (size_t start = 0; start < ALIGN_MAX; start++)
		for (size_t len = 0; len <= 64; len++) {
			uint32_t ref = crc32c_bitwise(mem + start, len);
			CHECK_EQ_U32(base_crc32c_sw(0, mem + start, len), ref);
			CHECK_EQ_U32(base_crc32c_hw(0, mem + start, len), ref);
		}
}

static void test_chaining(void)
{
	uint8_t mem[300];

	for (size_t i = 0; i < sizeof(mem); i++)
		mem[i] = (uint8_t)rng_next();
	uint32_t whole = base_crc32c(0, mem, sizeof(mem));
	for (size_t cut = 0; cut <= sizeof(mem); cut++) {
		uint32_t a = base_crc32c(0, mem, cut);
		CHECK_EQ_U32(base_crc32c(a, mem + cut, sizeof(mem) - cut), whole);
		uint32_t s = base_crc32c_sw(0, mem, cut);
		CHECK_EQ_U32(base_crc32c_hw(s, mem + cut, sizeof(mem) - cut), whole);
	}
	/* Three pieces, byte by byte at the end. */
	uint32_t c = base_crc32c(0, mem, 100);
	c = base_crc32c(c, mem + 100, 150);
	for (size_t i = 250; i < sizeof(mem); i++)
		c = base_crc32c(c, mem + i, 1);
	CHECK_EQ_U32(c, whole);
	/* "1234" then "56789" is the check value. */
	CHECK_EQ_U32(base_crc32c(base_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

int main(void)
{
	test_check_value();
	test_iscsi_patterns();
	test_empty();
	test_hw_matches_sw();
	test_chaining();
	if (failures) {
		fprintf(stderr, "crc32c: %d check(s) failed\n", failures);
		return 1;
	}
	return 0;
}
