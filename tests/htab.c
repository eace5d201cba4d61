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
	return 0;
}
