/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arena.c - see arena.h.
 *
 * Classes (in 4-byte units u, at least 3):
 *   u <= 256             class u, exactly u units
 *   2^k < u <= 2^(k+1)   (k = 8 .. 17) rounded up to a multiple of 2^(k-2):
 *                        class 257 + 4 (k - 8) + (rounded / 2^(k-2) - 5)
 */
#include "store/arena.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"

#define UNITS_EXACT   (STO_ARENA_EXACT_BYTES / STO_ARENA_UNIT_BYTES)
#define UNITS_MIN     (STO_ARENA_BLOCK_BYTES_MIN / STO_ARENA_UNIT_BYTES)
#define CHUNK_UNITS   (1u << STO_ARENA_OFFSET_BITS)
#define OFFSET_MASK   (CHUNK_UNITS - 1)

_Static_assert(UNITS_EXACT == 256, "class formula: 2^8 exact units");
_Static_assert(STO_ARENA_OFFSET_BITS == 18, "class formula: doublings up to 2^18 units");

/* Class and rounded size (units) of a block for n bytes; false if too large. */
static bool classify(size_t n, unsigned *cls, uint32_t *units)
{
	size_t u = (n + STO_ARENA_UNIT_BYTES - 1) / STO_ARENA_UNIT_BYTES;
	if (u < UNITS_MIN)
		u = UNITS_MIN;
	if (u > CHUNK_UNITS)
		return false;
	if (u <= UNITS_EXACT) {
		*cls = (unsigned)u;
		*units = (uint32_t)u;
		return true;
	}
	unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)(u - 1));
	size_t step = (size_t)1 << (k - 2);
	size_t rounded = (u + step - 1) / step * step;
	*cls = UNITS_EXACT + 1 + 4 * (k - 8) + (unsigned)(rounded / step - 5);
	*units = (uint32_t)rounded;
	ALWAYS(*cls < STO_ARENA_CLASSES);
	return true;
}

size_t sto_arena_block_bytes(size_t n)
{
	unsigned cls;
	uint32_t units;
	return classify(n, &cls, &units) ? (size_t)units * STO_ARENA_UNIT_BYTES : 0;
}

static uint32_t make_ref(uint32_t chunk, uint32_t unit)
{
	return (chunk + 1) << STO_ARENA_OFFSET_BITS | unit;
}

static int add_chunk(struct sto_arena *a)
{
	if (a->chunk_count >= STO_ARENA_CHUNKS_MAX)
		return -1;
	if (a->chunk_count == a->chunk_cap) {
		uint32_t cap = a->chunk_cap ? a->chunk_cap * 2 : 16;
		uint8_t **c = realloc(a->chunks, cap * sizeof(*c));
		if (!c)
			return -1;
		a->chunks = c;
		uint32_t *f = realloc(a->chunk_fill, cap * sizeof(*f));
		if (!f)
			return -1;
		a->chunk_fill = f;
		a->chunk_cap = cap;
	}
	uint8_t *m = malloc(STO_ARENA_CHUNK_BYTES);
	if (!m)
		return -1;
	a->chunks[a->chunk_count] = m;
	a->chunk_fill[a->chunk_count] = 0;
	a->chunk_count++;
	return 0;
}

uint32_t sto_arena_alloc(struct sto_arena *a, size_t n)
{
	unsigned cls;
	uint32_t units, ref;
	if (!n || !classify(n, &cls, &units))
		return 0;
	if ((ref = a->free_head[cls])) {
		const uint8_t *b = sto_arena_ptr(a, ref);
		uint32_t got, next;
		memcpy(&got, b + 4, 4);
		memcpy(&next, b + 8, 4);
		ALWAYS(b[0] == 0 && got == units);
		a->free_head[cls] = next;
		a->free_bytes -= (uint64_t)units * STO_ARENA_UNIT_BYTES;
	} else {
		if (!a->chunk_count || a->chunk_fill[a->chunk_count - 1] + units > CHUNK_UNITS)
			if (add_chunk(a))
				return 0;
		uint32_t c = a->chunk_count - 1;
		ref = make_ref(c, a->chunk_fill[c]);
		a->chunk_fill[c] += units;
	}
	a->live_bytes += (uint64_t)units * STO_ARENA_UNIT_BYTES;
	return ref;
}

static void mark_free(uint8_t *b, uint32_t units, uint32_t next)
{
	memset(b, 0, 4);
	memcpy(b + 4, &units, 4);
	memcpy(b + 8, &next, 4);
}

void sto_arena_free(struct sto_arena *a, uint32_t ref, size_t n)
{
	unsigned cls;
	uint32_t units;
	ALWAYS(ref && classify(n, &cls, &units));
	uint8_t *b = sto_arena_ptr(a, ref);
	NEVER(b[0] == 0); /* a live block never starts with zero: freed twice */
	mark_free(b, units, a->free_head[cls]);
	a->free_head[cls] = ref;
	a->live_bytes -= (uint64_t)units * STO_ARENA_UNIT_BYTES;
	a->free_bytes += (uint64_t)units * STO_ARENA_UNIT_BYTES;
}

uint32_t sto_arena_next(const struct sto_arena *a, uint32_t ref, sto_arena_size_fn *size)
{
	uint32_t chunk = 0, unit = 0;
	if (ref) {
		const uint8_t *b = sto_arena_ptr(a, ref);
		ALWAYS(b[0] != 0);
		chunk = (ref >> STO_ARENA_OFFSET_BITS) - 1;
		unit = (ref & OFFSET_MASK) + (uint32_t)(sto_arena_block_bytes(size(b)) / STO_ARENA_UNIT_BYTES);
	}
	while (chunk < a->chunk_count) {
		if (unit >= a->chunk_fill[chunk]) {
			chunk++;
			unit = 0;
			continue;
		}
		const uint8_t *b = a->chunks[chunk] + (size_t)unit * STO_ARENA_UNIT_BYTES;
		if (b[0])
			return make_ref(chunk, unit);
		uint32_t units;
		memcpy(&units, b + 4, 4);
		ALWAYS(units >= UNITS_MIN);
		unit += units;
	}
	return 0;
}

size_t sto_arena_bytes(const struct sto_arena *a)
{
	return (size_t)a->chunk_count * STO_ARENA_CHUNK_BYTES +
	       (size_t)a->chunk_cap * (sizeof(*a->chunks) + sizeof(*a->chunk_fill));
}

void sto_arena_free_all(struct sto_arena *a)
{
	for (uint32_t i = 0; i < a->chunk_count; i++)
		free(a->chunks[i]);
	free(a->chunks);
	free(a->chunk_fill);
	memset(a, 0, sizeof(*a));
}
