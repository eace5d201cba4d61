/* SPDX-License-Identifier: Apache-2.0 */
/*
 * htab32.c - see htab32.h.
 *
 * Growing is incremental, exactly as in htab.c: when the table passes 7/8
 * load, a table twice the size takes over for inserts and the old one is
 * copied into it HTAB32_MIGRATE_SLOTS slots per insert. While that runs:
 *   - the old table only changes by replace() or upsert() of a slot not
 *     yet copied (the copy then carries the new ref); a slot below
 *     migrate_pos has been copied and the copy in the new table is the one
 *     that counts;
 *   - find, replace and upsert look in the new table, then in the old one;
 *   - remove first finishes the copy (removes are rare), then removes;
 *   - iteration walks the old table from migrate_pos on, then the new one.
 * Copying reads slots only: the hash kept in each slot says where it goes.
 */
#include "base/htab32.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HTAB32_MIGRATE_SLOTS 64u
#define HTAB32_SLOTS_MIN     16u
#define HTAB32_SLOTS_MAX     ((size_t)1 << 32) /* the home index is 32 bits of hash */
#define HTAB32_HUGE_BYTES    ((size_t)2 << 20) /* x86-64 huge page */

/* Home slot (see htab32.h). */
static inline size_t home(uint32_t hash, size_t mask)
{
	return base_htab32_home(hash, mask);
}

static struct base_htab32_slot *probe(struct base_htab32_slot *slots, size_t mask, uint32_t hash,
				      base_htab32_match_fn *match, const void *key)
{
	if (!slots)
		return NULL;
	for (size_t i = home(hash, mask);; i = (i + 1) & mask) {
		struct base_htab32_slot *s = &slots[i];
		if (!s->ref)
			return NULL;
		if (s->hash == hash && match(s->ref, key))
			return s;
	}
}

uint32_t base_htab32_find(const struct base_htab32 *t, uint32_t hash, base_htab32_match_fn *match,
			  const void *key)
{
	const struct base_htab32_slot *s = probe(t->slots, t->mask, hash, match, key);
	if (!s && t->old_slots)
		s = probe(t->old_slots, t->old_mask, hash, match, key);
	return s ? s->ref : 0;
}

static void place(struct base_htab32_slot *slots, size_t mask, uint32_t hash, uint32_t ref)
{
	size_t i = home(hash, mask);
	while (slots[i].ref)
		i = (i + 1) & mask;
	slots[i].hash = hash;
	slots[i].ref = ref;
}

/* Copy up to n slots of the old table; free it when done. */
static void migrate(struct base_htab32 *t, size_t n)
{
	if (!t->old_slots)
		return;
	while (n-- && t->migrate_pos <= t->old_mask) {
		const struct base_htab32_slot *s = &t->old_slots[t->migrate_pos++];
		if (s->ref)
			place(t->slots, t->mask, s->hash, s->ref);
	}
	if (t->migrate_pos > t->old_mask) {
		free(t->old_slots);
		t->old_slots = NULL;
		t->old_mask = 0;
		t->migrate_pos = 0;
	}
}

/*
 * A zeroed slot array. Large ones are 2 MiB aligned and asked to be backed
 * by huge pages: every probe of a big table is a random access, and a TLB
 * miss on each was a fifth of start-up replay's time.
 */
static struct base_htab32_slot *slots_alloc(size_t n)
{
	size_t bytes = n * sizeof(struct base_htab32_slot);
	if (bytes < HTAB32_HUGE_BYTES)
		return calloc(n, sizeof(struct base_htab32_slot));
	void *p = aligned_alloc(HTAB32_HUGE_BYTES, bytes);
	if (!p)
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE); /* a hint: without it the table only runs slower */
	memset(p, 0, bytes);
	return p;
}

static int grow(struct base_htab32 *t)
{
	size_t n = t->slots ? (t->mask + 1) * 2 : HTAB32_SLOTS_MIN;
	if (n > HTAB32_SLOTS_MAX)
		return -ENOMEM;
	struct base_htab32_slot *s = slots_alloc(n);
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

int base_htab32_insert(struct base_htab32 *t, uint32_t hash, uint32_t ref)
{
	if (!ref)
		return -EINVAL;
	if (!t->slots || (t->count + 1) * 8 > (t->mask + 1) * 7) {
		int rc = grow(t);
		if (rc)
			return rc;
	}
	migrate(t, HTAB32_MIGRATE_SLOTS);
	place(t->slots, t->mask, hash, ref);
	t->count++;
	return 0;
}

int base_htab32_upsert(struct base_htab32 *t, uint32_t hash, base_htab32_match_fn *match,
		       const void *key, uint32_t ref, uint32_t *old)
{
	if (!ref)
		return -EINVAL;
	if (!t->slots || (t->count + 1) * 8 > (t->mask + 1) * 7) {
		int rc = grow(t); /* perhaps a replace after all: growing early is harmless */
		if (rc)
			return rc;
	}
	migrate(t, HTAB32_MIGRATE_SLOTS);
	size_t i = home(hash, t->mask);
	for (;; i = (i + 1) & t->mask) {
		struct base_htab32_slot *s = &t->slots[i];
		if (!s->ref)
			break;
		if (s->hash == hash && match(s->ref, key)) {
			*old = s->ref;
			s->ref = ref;
			return 0;
		}
	}
	struct base_htab32_slot *s = probe(t->old_slots, t->old_mask, hash, match, key);
	if (s && (size_t)(s - t->old_slots) >= t->migrate_pos) { /* not copied yet: the copy will carry ref */
		*old = s->ref;
		s->ref = ref;
		return 0;
	}
	t->slots[i].hash = hash;
	t->slots[i].ref = ref;
	t->count++;
	*old = 0;
	return 0;
}

static struct base_htab32_slot *slot_of(struct base_htab32_slot *slots, size_t mask, uint32_t hash,
					uint32_t ref)
{
	if (!slots)
		return NULL;
	for (size_t i = home(hash, mask);; i = (i + 1) & mask) {
		if (!slots[i].ref)
			return NULL;
		if (slots[i].ref == ref)
			return &slots[i];
	}
}

bool base_htab32_replace(struct base_htab32 *t, uint32_t hash, uint32_t ref, uint32_t new_ref)
{
	struct base_htab32_slot *s = slot_of(t->slots, t->mask, hash, ref);
	if (!s && t->old_slots) {
		s = slot_of(t->old_slots, t->old_mask, hash, ref);
		/* a copied old slot would have been found in the new table */
		if (s && (size_t)(s - t->old_slots) < t->migrate_pos)
			s = NULL;
	}
	if (!s || !new_ref)
		return false;
	s->ref = new_ref;
	return true;
}

bool base_htab32_remove(struct base_htab32 *t, uint32_t hash, uint32_t ref)
{
	migrate(t, SIZE_MAX);
	struct base_htab32_slot *s = slot_of(t->slots, t->mask, hash, ref);
	if (!s)
		return false;
	/* backward-shift deletion */
	size_t i = (size_t)(s - t->slots), j = i;
	for (;;) {
		t->slots[i].ref = 0;
		for (;;) {
			j = (j + 1) & t->mask;
			if (!t->slots[j].ref) {
				t->count--;
				return true;
			}
			size_t h = home(t->slots[j].hash, t->mask);
			/* move j to i if home is not cyclically in (i, j] */
			if (i <= j ? (h <= i || h > j) : (h <= i && h > j))
				break;
		}
		t->slots[i] = t->slots[j];
		i = j;
	}
}

void base_htab32_free(struct base_htab32 *t)
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

bool base_htab32_next(const struct base_htab32 *t, size_t *i, uint32_t *ref)
{
	size_t old_n = t->old_slots ? t->old_mask + 1 : 0;
	/* positions [0, old_n): the old table's slots not yet copied; then the new table */
	while (*i < old_n) {
		size_t k = (*i)++;
		if (k >= t->migrate_pos && t->old_slots[k].ref) {
			*ref = t->old_slots[k].ref;
			return true;
		}
	}
	if (!t->slots)
		return false;
	while (*i - old_n <= t->mask) {
		const struct base_htab32_slot *s = &t->slots[*i - old_n];
		(*i)++;
		if (s->ref) {
			*ref = s->ref;
			return true;
		}
	}
	return false;
}

size_t base_htab32_bytes(const struct base_htab32 *t)
{
	size_t n = t->slots ? t->mask + 1 : 0;
	if (t->old_slots)
		n += t->old_mask + 1;
	return n * sizeof(struct base_htab32_slot);
}

/* The entries homed at slot h, in the run from h (located at or after skip_below). */
static void visit_home(const struct base_htab32_slot *slots, size_t mask, size_t skip_below, size_t h, uint32_t lo,
		       uint32_t hi, base_htab32_visit_fn *fn, void *arg)
{
	for (size_t j = h; slots[j].ref; j = (j + 1) & mask) {
		const struct base_htab32_slot *s = &slots[j];
		uint32_t c = s->hash & (BASE_HTAB32_CLASSES - 1);
		if (j >= skip_below && home(s->hash, mask) == h && c >= lo && c < hi)
			fn(arg, s->hash, s->ref);
		if (((j + 1) & mask) == h)
			break; /* a full table: around once */
	}
}

static void classes_one(const struct base_htab32_slot *slots, size_t mask, size_t skip_below, uint32_t lo,
			uint32_t hi, base_htab32_visit_fn *fn, void *arg)
{
	if (mask + 1 >= BASE_HTAB32_CLASSES) {
		/* class c is homed at c, c + 65536, ...: no slot homes two classes */
		for (uint32_t c = lo; c < hi; c++)
			for (size_t h = c; h <= mask; h += BASE_HTAB32_CLASSES)
				visit_home(slots, mask, skip_below, h, lo, hi, fn, arg);
	} else if (hi - lo > mask) {
		for (size_t h = 0; h <= mask; h++) /* the range covers every home */
			visit_home(slots, mask, skip_below, h, lo, hi, fn, arg);
	} else {
		for (uint32_t c = lo; c < hi; c++) /* fewer classes than slots: distinct homes */
			visit_home(slots, mask, skip_below, c & mask, lo, hi, fn, arg);
	}
}

void base_htab32_classes(const struct base_htab32 *t, uint32_t lo, uint32_t hi, base_htab32_visit_fn *fn,
			 void *arg)
{
	if (t->old_slots) /* the old slots below migrate_pos were copied: the new array has them */
		classes_one(t->old_slots, t->old_mask, t->migrate_pos, lo, hi, fn, arg);
	if (t->slots)
		classes_one(t->slots, t->mask, 0, lo, hi, fn, arg);
}
