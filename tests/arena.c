/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The block arena against a model: blocks of random sizes are allocated,
 * filled and freed at random; every live block keeps its bytes, a freed
 * block is reused for its own class first, the byte counts add up, and a
 * walk in memory order visits exactly the live blocks, each once.
 */
#include "store/arena.h"
#include "tests/testlib.h"

#define BLOCKS 30000

static uint32_t refs[BLOCKS];
static uint32_t sizes[BLOCKS];
static bool seen[BLOCKS];

/* A test block: u8 0xA5, u8[3] pad, u32 index, u32 size, then index-derived bytes. */
static size_t block_size(const uint8_t *b)
{
	uint32_t n;
	memcpy(&n, b + 8, 4);
	return n;
}

static void fill(uint8_t *b, uint32_t idx, uint32_t n)
{
	b[0] = 0xA5;
	memcpy(b + 4, &idx, 4);
	memcpy(b + 8, &n, 4);
	for (uint32_t i = 12; i < n; i++)
		b[i] = (uint8_t)(idx * 31 + i);
}

static bool intact(const uint8_t *b, uint32_t idx, uint32_t n)
{
	uint32_t got_idx;
	memcpy(&got_idx, b + 4, 4);
	if (b[0] != 0xA5 || got_idx != idx || block_size(b) != n)
		return false;
	for (uint32_t i = 12; i < n; i++)
		if (b[i] != (uint8_t)(idx * 31 + i))
			return false;
	return true;
}

int main(void)
{
	/* classes */
	CHECK(sto_arena_block_bytes(1) == STO_ARENA_BLOCK_BYTES_MIN);
	CHECK(sto_arena_block_bytes(12) == 12 && sto_arena_block_bytes(13) == 16);
	CHECK(sto_arena_block_bytes(104) == 104 && sto_arena_block_bytes(105) == 108);
	CHECK(sto_arena_block_bytes(1024) == 1024 && sto_arena_block_bytes(1025) == 1280);
	CHECK(sto_arena_block_bytes(2049) == 2560 && sto_arena_block_bytes(3073) == 3584);
	CHECK(sto_arena_block_bytes(STO_ARENA_CHUNK_BYTES) == STO_ARENA_CHUNK_BYTES);
	CHECK(sto_arena_block_bytes(STO_ARENA_CHUNK_BYTES + 1) == 0);
	for (size_t n = 1; n < 300000; n += n / 7 + 1)
		CHECK(sto_arena_block_bytes(n) >= n && sto_arena_block_bytes(n) % STO_ARENA_UNIT_BYTES == 0 &&
		      sto_arena_block_bytes(n) <= n + n / 4 + STO_ARENA_BLOCK_BYTES_MIN);

	struct sto_arena a = { 0 };
	uint64_t rng = 0x2545F4914F6CDD1Dull, live = 0;
	CHECK(sto_arena_alloc(&a, 0) == 0 && sto_arena_alloc(&a, STO_ARENA_CHUNK_BYTES + 1) == 0);
	for (int round = 0; round < 200000; round++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		uint32_t i = (uint32_t)(rng % BLOCKS);
		if (refs[i]) {
			CHECK(intact(sto_arena_ptr(&a, refs[i]), i, sizes[i]));
			sto_arena_free(&a, refs[i], sizes[i]);
			live -= sto_arena_block_bytes(sizes[i]);
			/* the next block of that class is the one just freed */
			if (round % 3 == 0) {
				uint32_t again = sto_arena_alloc(&a, sizes[i]);
				CHECK(again == refs[i]);
				fill(sto_arena_ptr(&a, again), i, sizes[i]);
				live += sto_arena_block_bytes(sizes[i]);
				continue;
			}
			refs[i] = 0;
			continue;
		}
		/* mostly user-sized blocks, now and then a large one */
		uint32_t n = (rng >> 40) % 16 ? 12 + (uint32_t)(rng >> 20) % 300 : 12 + (uint32_t)(rng >> 20) % 40000;
		refs[i] = sto_arena_alloc(&a, n);
		CHECK(refs[i] != 0);
		sizes[i] = n;
		fill(sto_arena_ptr(&a, refs[i]), i, n);
		live += sto_arena_block_bytes(n);
	}
	CHECK(a.live_bytes == live);
	CHECK(a.live_bytes + a.free_bytes <= (uint64_t)a.chunk_count * STO_ARENA_CHUNK_BYTES);
	CHECK(sto_arena_bytes(&a) >= (size_t)a.chunk_count * STO_ARENA_CHUNK_BYTES);

	/* the walk: exactly the live blocks, intact, each once, in memory order */
	size_t walked = 0;
	uint32_t last = 0;
	for (uint32_t r = 0; (r = sto_arena_next(&a, r, block_size));) {
		const uint8_t *b = sto_arena_ptr(&a, r);
		uint32_t idx;
		memcpy(&idx, b + 4, 4);
		CHECK(idx < BLOCKS && refs[idx] == r && !seen[idx] && intact(b, idx, sizes[idx]));
		seen[idx] = true;
		/* chunk by chunk, front to back within each */
		CHECK(r > last && ((r >> STO_ARENA_OFFSET_BITS) != (last >> STO_ARENA_OFFSET_BITS) ||
				   (r & ((1u << STO_ARENA_OFFSET_BITS) - 1)) > (last & ((1u << STO_ARENA_OFFSET_BITS) - 1))));
		last = r;
		walked++;
	}
	size_t expect = 0;
	for (uint32_t i = 0; i < BLOCKS; i++)
		expect += refs[i] != 0;
	CHECK(walked == expect);
	sto_arena_free_all(&a);
	CHECK(a.chunk_count == 0 && sto_arena_next(&a, 0, block_size) == 0);
	return 0;
}
