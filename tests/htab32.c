/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The 8-byte-slot table against a plain array model under random inserts,
 * upserts, in-place replaces and removals, with many colliding hashes
 * (backward-shift deletion must keep every run reachable), and in the
 * middle of incremental growth (a replace or upsert of an entry not yet
 * copied must survive the copy). Walks by class ranges (the hash's low 16
 * bits) see every entry once, before, during and after growth, in tables
 * smaller and larger than 65536 slots.
 */
#include "base/htab32.h"
#include "tests/testlib.h"

#define KEYS 80000 /* the growth phase passes 65536 slots: both ways of walking classes */

static uint32_t cur[KEYS]; /* the ref key k names now, 0: absent */

/* Key k is found by any ref that maps back to k (refs are k + 1 + KEYS * gen). */
static bool match_key(uint32_t ref, const void *key)
{
	return (ref - 1) % KEYS == *(const uint32_t *)key;
}

static uint32_t hash_of(uint32_t k, bool colliding)
{
	return colliding ? (k % 97) * 0x9E3779B1u : k * 0x9E3779B1u;
}

static void check_all(const struct base_htab32 *t, bool colliding)
{
	for (uint32_t k = 0; k < KEYS; k++)
		CHECK(base_htab32_find(t, hash_of(k, colliding), match_key, &k) == cur[k]);
}

/* Walks by hash ranges that cover [0, 2^32) visit every entry exactly once, inside its range. */
static uint8_t visits[KEYS];
static uint32_t range_lo, range_hi;

static void visit(void *arg, uint32_t hash, uint32_t ref)
{
	CHECK((hash & 0xFFFF) >= range_lo && (hash & 0xFFFF) < range_hi);
	uint32_t k = (ref - 1) % KEYS;
	CHECK(cur[k] == ref && hash == hash_of(k, *(const bool *)arg));
	visits[k]++;
}

static void check_ranges(const struct base_htab32 *t, bool colliding, uint32_t step)
{
	memset(visits, 0, sizeof(visits));
	for (uint32_t lo = 0; lo < BASE_HTAB32_CLASSES;) {
		uint32_t hi = lo + step > BASE_HTAB32_CLASSES ? BASE_HTAB32_CLASSES : lo + step;
		range_lo = lo;
		range_hi = hi;
		base_htab32_classes(t, lo, hi, visit, &colliding);
		lo = hi;
	}
	for (uint32_t k = 0; k < KEYS; k++)
		CHECK(visits[k] == (cur[k] != 0));
}

int main(void)
{
	struct base_htab32 t = { 0 };
	uint64_t rng = 88172645463325252ull;
	size_t live = 0;
	uint32_t old;

	for (int round = 0; round < 400000; round++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		uint32_t k = (uint32_t)(rng % KEYS), h = hash_of(k, true);
		uint32_t next = cur[k] ? cur[k] + KEYS : k + 1;
		switch ((rng >> 32) % 4) {
		case 0: /* remove or insert */
			if (cur[k]) {
				CHECK(base_htab32_remove(&t, h, cur[k]));
				cur[k] = 0;
				live--;
			} else {
				CHECK(base_htab32_find(&t, h, match_key, &k) == 0);
				CHECK(base_htab32_insert(&t, h, next) == 0);
				cur[k] = next;
				live++;
			}
			break;
		case 1: /* upsert */
			CHECK(base_htab32_upsert(&t, h, match_key, &k, next, &old) == 0);
			CHECK(old == cur[k]);
			live += !cur[k];
			cur[k] = next;
			break;
		case 2: /* replace in place */
			CHECK(base_htab32_replace(&t, h, cur[k] ? cur[k] : next, next) == (cur[k] != 0));
			if (cur[k])
				cur[k] = next;
			break;
		default:
			CHECK(base_htab32_find(&t, h, match_key, &k) == cur[k]);
			break;
		}
		if (round % 50000 == 0) {
			check_all(&t, true);
			check_ranges(&t, true, 1);
			check_ranges(&t, true, 777);
			check_ranges(&t, true, 1u << 16);
		}
	}
	check_all(&t, true);
	CHECK(t.count == live);
	size_t seen = 0;
	uint32_t ref;
	for (size_t i = 0; base_htab32_next(&t, &i, &ref);) {
		CHECK(cur[(ref - 1) % KEYS] == ref);
		seen++;
	}
	CHECK(seen == live);
	base_htab32_free(&t);

	/* growth: every entry stays findable, replaces and upserts in the middle
	   of a copy land, iteration sees each entry exactly once */
	static bool once[KEYS];
	struct base_htab32 g = { 0 };
	bool mid_copy = false;
	memset(cur, 0, sizeof(cur));
	for (uint32_t k = 0; k < KEYS; k++) {
		uint32_t h = hash_of(k, false);
		CHECK(base_htab32_upsert(&g, h, match_key, &k, k + 1, &old) == 0 && old == 0);
		cur[k] = k + 1;
		if (g.old_slots) {
			mid_copy = true;
			uint32_t j = (k * 7919u) % (k + 1); /* an earlier key, perhaps not copied yet */
			uint32_t next = cur[j] + KEYS;
			if (k % 2)
				CHECK(base_htab32_replace(&g, hash_of(j, false), cur[j], next));
			else
				CHECK(base_htab32_upsert(&g, hash_of(j, false), match_key, &j, next, &old) == 0 &&
				      old == cur[j]);
			cur[j] = next;
		}
		if (k % 997 == 0 || g.old_slots)
			for (uint32_t j = 0; j <= k; j += 1 + k / 50)
				CHECK(base_htab32_find(&g, hash_of(j, false), match_key, &j) == cur[j]);
		if (g.old_slots && k % 7 == 0) {
			memset(once, 0, sizeof(once));
			size_t n = 0;
			for (size_t i = 0; base_htab32_next(&g, &i, &ref);) {
				uint32_t idx = (ref - 1) % KEYS;
				CHECK(!once[idx] && cur[idx] == ref);
				once[idx] = true;
				n++;
			}
			CHECK(n == (size_t)k + 1);
		}
		if (g.old_slots && k % 61 == 0)
			check_ranges(&g, false, k % 2 ? 3 : 5000);
	}
	CHECK(mid_copy);
	CHECK(g.count == KEYS);
	for (uint32_t k = 0; k < KEYS; k++)
		CHECK(base_htab32_find(&g, hash_of(k, false), match_key, &k) == cur[k]);
	CHECK(base_htab32_bytes(&g) == (g.mask + 1 + (g.old_slots ? g.old_mask + 1 : 0)) * 8);
	base_htab32_free(&g);
	return 0;
}
