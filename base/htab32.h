/* SPDX-License-Identifier: Apache-2.0 */
/*
 * htab32.h - open-addressing hash table from 32 bits of hash to a 32-bit
 * reference, 8 bytes a slot.
 *
 * The compact sibling of htab.h, for tables of millions of entries where
 * the slot is a large part of an entry's cost (store/users.c: at the load
 * of the 10 M-user measurement, 0.6, a slot costs 13 bytes per user where
 * htab.h's 16-byte slot cost 27). The entry itself lives
 * elsewhere (an arena) and is named by a non-zero ref; ref 0 marks an empty
 * slot. The hash kept in the slot places the entry (home = hash & mask) and
 * filters candidates before match() is asked, so a lookup touches the
 * entry only when 32 bits of hash agree, and growing never touches entries.
 *
 *   slot: u32 hash, u32 ref
 *
 * Linear probing over a power-of-two array; backward-shift deletion (no
 * tombstones); grows at 7/8 load, copying HTAB32_MIGRATE_SLOTS old slots
 * per insert (incremental, as htab.c). At most 2^32 slots: the home index
 * comes from the 32 bits kept. Owned by one thread.
 */
#ifndef BASE_HTAB32_H
#define BASE_HTAB32_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct base_htab32_slot {
	uint32_t hash;
	uint32_t ref;
};

_Static_assert(sizeof(struct base_htab32_slot) == 8, "a slot is 8 bytes");

struct base_htab32 {
	struct base_htab32_slot *slots;
	size_t mask; /* slots - 1, or 0 when empty */
	size_t count;
	struct base_htab32_slot *old_slots; /* being copied into slots (incremental growth) */
	size_t old_mask;
	size_t migrate_pos;                 /* old slots below this are copied */
};

/*
 * The home slot of a hash is its low log2(slots) bits. Entries can also be
 * walked by class: the class of an entry is its hash's low 16 bits, and the
 * slots homing a class are every 65536th from the class itself, so
 * base_htab32_classes() visits a range of classes without a second index,
 * and a walk by classes keeps its place across growth (fan-out enumerates a
 * core's users so, fanout/run.c). Homes are NOT in hash order on purpose:
 * a log written in slot order (compaction) and replayed into a growing table
 * must not insert keys in home order, which makes linear probing quadratic.
 */
#define BASE_HTAB32_CLASS_BITS 16u
#define BASE_HTAB32_CLASSES    (1u << BASE_HTAB32_CLASS_BITS)

static inline size_t base_htab32_home(uint32_t hash, size_t mask)
{
	return hash & mask;
}

typedef bool base_htab32_match_fn(uint32_t ref, const void *key);

/* The ref with this hash that match() accepts, or 0. */
uint32_t base_htab32_find(const struct base_htab32 *t, uint32_t hash, base_htab32_match_fn *match,
			  const void *key);
/* Insert (the caller has checked it is absent; ref != 0). 0 or -ENOMEM. */
int base_htab32_insert(struct base_htab32 *t, uint32_t hash, uint32_t ref);
/*
 * Insert or replace in one probe: if match() accepts an entry with this
 * hash, it names ref from now on and *old gets the ref it named; else ref
 * is inserted and *old = 0. 0 or -ENOMEM (nothing changed).
 */
int base_htab32_upsert(struct base_htab32 *t, uint32_t hash, base_htab32_match_fn *match,
		       const void *key, uint32_t ref, uint32_t *old);
/* Start loading the slot where a probe for hash begins (a hint; no effect on the table). */
static inline void base_htab32_prefetch(const struct base_htab32 *t, uint32_t hash)
{
	if (t->slots)
		__builtin_prefetch(&t->slots[base_htab32_home(hash, t->mask)]);
}
/* Let the entry (hash, ref) name new_ref instead, in place. true if it was there. */
bool base_htab32_replace(struct base_htab32 *t, uint32_t hash, uint32_t ref, uint32_t new_ref);
/* Remove exactly the entry (hash, ref). true if it was there. */
bool base_htab32_remove(struct base_htab32 *t, uint32_t hash, uint32_t ref);
void base_htab32_free(struct base_htab32 *t);

/* Iterate: for (size_t i = 0; base_htab32_next(t, &i, &ref);) */
bool base_htab32_next(const struct base_htab32 *t, size_t *i, uint32_t *ref);

/*
 * Visit every entry whose class (hash & 0xFFFF) is in [lo, hi) (lo < hi <=
 * 65536), each once, in both arrays while the table grows: fn(arg, hash,
 * ref). The table must not change during the walk. Cost: the slots homing
 * those classes and their probing runs.
 */
typedef void base_htab32_visit_fn(void *arg, uint32_t hash, uint32_t ref);
void base_htab32_classes(const struct base_htab32 *t, uint32_t lo, uint32_t hi, base_htab32_visit_fn *fn,
			 void *arg);

/* Bytes of slot arrays the table holds (both arrays while it grows). */
size_t base_htab32_bytes(const struct base_htab32 *t);

#endif
