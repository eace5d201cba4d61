/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arena.h - one core's block arena: variable-size blocks named by 32-bit
 * refs, 4-byte granularity, for millions of small objects (packed users).
 *
 * Why not one malloc per object: jemalloc rounds each request up to its
 * size class (16 bytes apart up to 128, 32 apart up to 256, ...) and the
 * owner needs an 8-byte pointer to each object; here a block costs its size
 * rounded to 4 bytes and a ref is 4 bytes, small enough to share a hash
 * slot with 32 bits of hash (base/htab32.h).
 *
 * Memory: chunks of STO_ARENA_CHUNK_BYTES from malloc (the owning core's
 * jemalloc arena), filled front to back; never returned until the arena is
 * freed. A ref is (chunk index + 1) << 18 | offset in 4-byte units, so ref
 * 0 names nothing and an arena holds STO_ARENA_CHUNKS_MAX chunks (16 GiB).
 *
 * Sizes: up to STO_ARENA_EXACT_BYTES a block is its size rounded up to 4
 * bytes; above, to one of four classes per doubling. A freed block goes on
 * the free list of its class and is reused only for that class (no
 * splitting or merging: the objects are users, whose sizes repeat).
 *
 * A free block, at least STO_ARENA_BLOCK_BYTES_MIN bytes:
 *   u8 0 (the owner's live blocks never start with a zero byte), u8[3] 0,
 *   u32 size in 4-byte units, u32 ref of the next free block of its class
 *
 * Blocks lie back to back in each chunk up to its fill mark, so the arena
 * can be walked in memory order (sto_arena_next): sequential reads, for
 * passes over every object (rebuilding the alias index at start-up).
 *
 * One thread owns an arena; refs stay valid until their block is freed.
 */
#ifndef STORE_ARENA_H
#define STORE_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STO_ARENA_CHUNK_BYTES     (1u << 20)
#define STO_ARENA_UNIT_BYTES      4u
#define STO_ARENA_OFFSET_BITS     18u          /* units in a chunk */
#define STO_ARENA_CHUNKS_MAX      ((1u << (32 - STO_ARENA_OFFSET_BITS)) - 1)
#define STO_ARENA_EXACT_BYTES     1024u        /* exact 4-byte sizes up to here */
#define STO_ARENA_BLOCK_BYTES_MIN 12u
#define STO_ARENA_BLOCK_BYTES_MAX STO_ARENA_CHUNK_BYTES
#define STO_ARENA_CLASSES         (STO_ARENA_EXACT_BYTES / STO_ARENA_UNIT_BYTES + 1 + 4 * 10)

_Static_assert(STO_ARENA_CHUNK_BYTES / STO_ARENA_UNIT_BYTES == (1u << STO_ARENA_OFFSET_BITS),
	       "a chunk's units fill the offset bits");

/* Given a live block, the number of bytes its owner wrote there. */
typedef size_t sto_arena_size_fn(const uint8_t *block);

struct sto_arena {
	uint8_t **chunks;
	uint32_t *chunk_fill;  /* units used at the front of each chunk */
	uint32_t chunk_count;
	uint32_t chunk_cap;
	uint64_t live_bytes;   /* in live blocks */
	uint64_t free_bytes;   /* in blocks on the free lists */
	uint32_t free_head[STO_ARENA_CLASSES];
};

/* The bytes a block for n bytes takes (n rounded up to its class). */
size_t sto_arena_block_bytes(size_t n);
/* A block of sto_arena_block_bytes(n) bytes: its ref, or 0 (out of memory, or n too large). */
uint32_t sto_arena_alloc(struct sto_arena *a, size_t n);
/* Give back a block allocated for n bytes. */
void sto_arena_free(struct sto_arena *a, uint32_t ref, size_t n);

static inline uint8_t *sto_arena_ptr(const struct sto_arena *a, uint32_t ref)
{
	return a->chunks[(ref >> STO_ARENA_OFFSET_BITS) - 1] +
	       (size_t)(ref & ((1u << STO_ARENA_OFFSET_BITS) - 1)) * STO_ARENA_UNIT_BYTES;
}

/*
 * Walk the live blocks in memory order: for (uint32_t r = 0; (r = sto_arena_next(a, r, size));)
 * size() says how many bytes each live block holds. No change during a walk.
 */
uint32_t sto_arena_next(const struct sto_arena *a, uint32_t ref, sto_arena_size_fn *size);

/* Bytes the arena holds from the allocator: its chunks and their table. */
size_t sto_arena_bytes(const struct sto_arena *a);
void sto_arena_free_all(struct sto_arena *a);

#endif
