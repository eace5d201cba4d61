/* SPDX-License-Identifier: Apache-2.0 */
/*
 * htab.h - open-addressing hash table from a 64-bit hash to a pointer.
 *
 * Linear probing over a power-of-two array of (hash, ptr) slots; a slot
 * with ptr == NULL is empty. Several entries may share a hash: lookups walk
 * the probe run and ask the caller's match function. Deletion shifts the
 * run back (no tombstones). Grows at 7/8 load, copying a few slots per insert
 * (incremental: see htab.c). Owned by one thread.
 */
#ifndef BASE_HTAB_H
#define BASE_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct base_htab_slot {
	uint64_t hash;
	void *ptr;
};

struct base_htab {
	struct base_htab_slot *slots;
	size_t mask; /* slots - 1, or 0 when empty */
	size_t count;
	struct base_htab_slot *old_slots; /* being copied into slots (incremental growth) */
	size_t old_mask;
	size_t migrate_pos;               /* old slots below this are copied */
};

typedef bool base_htab_match_fn(const void *entry, const void *key);

/* The entry with this hash that match() accepts, or NULL. */
void *base_htab_find(const struct base_htab *t, uint64_t hash, base_htab_match_fn *match,
		     const void *key);
/* Insert (the caller has checked it is absent). 0 or -ENOMEM. */
int base_htab_insert(struct base_htab *t, uint64_t hash, void *ptr);
/* Remove exactly this entry pointer. true if it was there. */
bool base_htab_remove(struct base_htab *t, uint64_t hash, const void *ptr);
void base_htab_free(struct base_htab *t);

/* Iterate: for (size_t i = 0; base_htab_next(t, &i, &p);) */
bool base_htab_next(const struct base_htab *t, size_t *i, void **ptr);

#endif
