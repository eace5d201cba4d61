/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The open-addressing table against a plain array model under random
 * inserts and removals, with many colliding hashes (backward-shift
 * deletion must keep every run reachable).
 */
#include "base/htab.h"
#include "tests/testlib.h"

#define KEYS 20000

static bool match_ptr(const void *entry, const void *key)
{
	return entry == key;
}

int main(void)
{
	struct base_htab t = { 0 };
	static uint64_t hashes[KEYS];
	static bool present[KEYS];
	static char objs[KEYS];
	uint64_t rng = 88172645463325252ull;
	size_t live = 0;

	for (int i = 0; i < KEYS; i++)
		hashes[i] = (uint64_t)(i % 97) * 0x9E3779B97F4A7C15ull; /* 97 distinct hashes */
	for (int round = 0; round < 400000; round++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		int k = (int)(rng % KEYS);
		if (present[k]) {
			CHECK(base_htab_remove(&t, hashes[k], &objs[k]));
			present[k] = false;
			live--;
		} else {
			CHECK(base_htab_find(&t, hashes[k], match_ptr, &objs[k]) == NULL);
			CHECK(base_htab_insert(&t, hashes[k], &objs[k]) == 0);
			present[k] = true;
			live++;
		}
		if (round % 50000 == 0) {
			for (int i = 0; i < KEYS; i++)
				CHECK((base_htab_find(&t, hashes[i], match_ptr, &objs[i]) != NULL) == present[i]);
		}
	}
	CHECK(t.count == live);
	size_t seen = 0;
	void *p;
	for (size_t i = 0; base_htab_next(&t, &i, &p);) {
		CHECK(present[(char *)p - objs]);
		seen++;
	}
	CHECK(seen == live);
	CHECK(!base_htab_remove(&t, 1, &objs[0]) || present[0]);
	base_htab_free(&t);

	/* inserts only: growth copies incrementally; every entry stays findable
	   and iteration sees each exactly once, in the middle of a copy too */
	static bool once[KEYS];
	struct base_htab g = { 0 };
	bool mid_copy = false;
	for (int k = 0; k < KEYS; k++) {
		CHECK(base_htab_insert(&g, (uint64_t)k * 0x9E3779B97F4A7C15ull, &objs[k]) == 0);
		if (g.old_slots)
			mid_copy = true;
		if (k % 997 == 0 || g.old_slots) {
			for (int j = 0; j <= k; j += 1 + k / 50)
				CHECK(base_htab_find(&g, (uint64_t)j * 0x9E3779B97F4A7C15ull, match_ptr, &objs[j]) != NULL);
		}
		if (g.old_slots && k % 7 == 0) {
			memset(once, 0, sizeof(once));
			size_t n = 0;
			for (size_t i = 0; base_htab_next(&g, &i, &p);) {
				size_t idx = (size_t)((char *)p - objs);
				CHECK(!once[idx]);
				once[idx] = true;
				n++;
			}
			CHECK(n == (size_t)k + 1);
		}
	}
	CHECK(mid_copy);
	CHECK(g.count == KEYS);
	base_htab_free(&g);
	return 0;
}
