/* SPDX-License-Identifier: Apache-2.0 */
/*
 * htab.c - see htab.h.
 */
#include "base/htab.h"

#include <errno.h>
#include <stdlib.h>

void *base_htab_find(const struct base_htab *t, uint64_t hash, base_htab_match_fn *match,
		     const void *key)
{
	if (!t->slots)
		return NULL;
	for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		const struct base_htab_slot *s = &t->slots[i];
		if (!s->ptr)
			return NULL;
		if (s->hash == hash && match(s->ptr, key))
			return s->ptr;
	}
}

static void place(struct base_htab_slot *slots, size_t mask, uint64_t hash, void *ptr)
{
	size_t i = hash & mask;
	while (slots[i].ptr)
		i = (i + 1) & mask;
	slots[i].hash = hash;
	slots[i].ptr = ptr;
}

static int grow(struct base_htab *t)
{
	size_t n = t->slots ? (t->mask + 1) * 2 : 16;
	struct base_htab_slot *s = calloc(n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (t->slots) {
		for (size_t i = 0; i <= t->mask; i++)
			if (t->slots[i].ptr)
				place(s, n - 1, t->slots[i].hash, t->slots[i].ptr);
		free(t->slots);
	}
	t->slots = s;
	t->mask = n - 1;
	return 0;
}

int base_htab_insert(struct base_htab *t, uint64_t hash, void *ptr)
{
	if (!t->slots || (t->count + 1) * 8 > (t->mask + 1) * 7) {
		int rc = grow(t);
		if (rc)
			return rc;
	}
	place(t->slots, t->mask, hash, ptr);
	t->count++;
	return 0;
}

bool base_htab_remove(struct base_htab *t, uint64_t hash, const void *ptr)
{
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
	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
}

bool base_htab_next(const struct base_htab *t, size_t *i, void **ptr)
{
	if (!t->slots)
		return false;
	while (*i <= t->mask) {
		struct base_htab_slot *s = &t->slots[(*i)++];
		if (s->ptr) {
			*ptr = s->ptr;
			return true;
		}
	}
	return false;
}
