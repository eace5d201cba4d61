/* SPDX-License-Identifier: Apache-2.0 */
/*
 * htab.c - see htab.h.
 *
 * Growing is incremental, so no single request pays for rehashing millions
 * of entries: when the table passes 7/8 load, a table twice the size takes
 * over for inserts and the old one is copied into it HTAB_MIGRATE_SLOTS slots
 * per insert. While that runs:
 *   - the old table is never changed, only read (a slot below migrate_pos
 *     has been copied; the copy in the new table is the one that counts);
 *   - find looks in the new table, then in the old one;
 *   - remove first finishes the copy (removes are rare), then removes;
 *   - iteration walks the old table from migrate_pos on, then the new one.
 */
#include "base/htab.h"

#include <errno.h>
#include <stdlib.h>

#define HTAB_MIGRATE_SLOTS 64u

static void *probe(const struct base_htab_slot *slots, size_t mask, uint64_t hash,
		   base_htab_match_fn *match, const void *key)
{
	if (!slots)
		return NULL;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		const struct base_htab_slot *s = &slots[i];
		if (!s->ptr)
			return NULL;
		if (s->hash == hash && match(s->ptr, key))
			return s->ptr;
	}
}

void *base_htab_find(const struct base_htab *t, uint64_t hash, base_htab_match_fn *match,
		     const void *key)
{
	void *p = probe(t->slots, t->mask, hash, match, key);
	if (!p && t->old_slots)
		p = probe(t->old_slots, t->old_mask, hash, match, key);
	return p;
}

static void place(struct base_htab_slot *slots, size_t mask, uint64_t hash, void *ptr)
{
	size_t i = hash & mask;
	while (slots[i].ptr)
		i = (i + 1) & mask;
	slots[i].hash = hash;
	slots[i].ptr = ptr;
}

/* Copy up to n slots of the old table; free it when done. */
static void migrate(struct base_htab *t, size_t n)
{
	if (!t->old_slots)
		return;
	while (n-- && t->migrate_pos <= t->old_mask) {
		struct base_htab_slot *s = &t->old_slots[t->migrate_pos++];
		if (s->ptr)
			place(t->slots, t->mask, s->hash, s->ptr);
	}
	if (t->migrate_pos > t->old_mask) {
		free(t->old_slots);
		t->old_slots = NULL;
		t->old_mask = 0;
		t->migrate_pos = 0;
	}
}

static int grow(struct base_htab *t)
{
	size_t n = t->slots ? (t->mask + 1) * 2 : 16;
	struct base_htab_slot *s = calloc(n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	migrate(t, SIZE_MAX); /* a previous copy still running: finish it first */
	t->old_slots = t->slots;
	t->old_mask = t->mask;
	t->migrate_pos = 0;
	t->slots = s;
	t->mask = n - 1;
	if (!t->old_slots)
		t->old_mask = 0;
	return 0;
}

int base_htab_insert(struct base_htab *t, uint64_t hash, void *ptr)
{
	if (!t->slots || (t->count + 1) * 8 > (t->mask + 1) * 7) {
		int rc = grow(t);
		if (rc)
			return rc;
	}
	migrate(t, HTAB_MIGRATE_SLOTS);
	place(t->slots, t->mask, hash, ptr);
	t->count++;
	return 0;
}

bool base_htab_remove(struct base_htab *t, uint64_t hash, const void *ptr)
{
	migrate(t, SIZE_MAX);
	if (!t->slots)
		return false;
	size_t i = hash & t->mask;
	for (;; i = (i + 1) & t->mask) {
		if (!t->slots[i].ptr)
			return false;
		if (t->slots[i].ptr == ptr)
			break;
	}
	/* backward-shift deletion */
	size_t j = i;
	for (;;) {
		t->slots[i].ptr = NULL;
		for (;;) {
			j = (j + 1) & t->mask;
			if (!t->slots[j].ptr) {
				t->count--;
				return true;
			}
			size_t home = t->slots[j].hash & t->mask;
			/* move j to i if home is not cyclically in (i, j] */
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		t->slots[i] = t->slots[j];
		i = j;
	}
}

void base_htab_free(struct base_htab *t)
{
	free(t->slots);
	free(t->old_slots);
	t->slots = NULL;
	t->old_slots = NULL;
	t->mask = 0;
	t->old_mask = 0;
	t->migrate_pos = 0;
	t->count = 0;
}

bool base_htab_next(const struct base_htab *t, size_t *i, void **ptr)
{
	size_t old_n = t->old_slots ? t->old_mask + 1 : 0;
	/* positions [0, old_n): the old table's slots not yet copied; then the new table */
	while (*i < old_n) {
		size_t k = (*i)++;
		if (k >= t->migrate_pos && t->old_slots[k].ptr) {
			*ptr = t->old_slots[k].ptr;
			return true;
		}
	}
	if (!t->slots)
		return false;
	while (*i - old_n <= t->mask) {
		struct base_htab_slot *s = &t->slots[*i - old_n];
		(*i)++;
		if (s->ptr) {
			*ptr = s->ptr;
			return true;
		}
	}
	return false;
}
