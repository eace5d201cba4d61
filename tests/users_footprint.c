/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RAM per user: 100,000 users, each with one 64-byte push token, made
 * through the users API as BIND makes them, cost at most 64 bytes each
 * beyond the token (the store issue's budget), counted two ways:
 *   - what the table says it holds (arena chunks and index arrays);
 *   - what the allocator says was allocated in between (jemalloc's
 *     stats.allocated, or ASan's allocator), which also catches memory a
 *     change might allocate outside the table.
 * docs/BENCHMARKS.md measures the same at 10 M users on a running engine.
 */
#include "store/log.h"
#include "store/users.h"
#include "tests/testlib.h"

#ifdef HRL_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#ifdef __SANITIZE_ADDRESS__
size_t __sanitizer_get_current_allocated_bytes(void); /* libasan's; gcc 12 ships no header for it */
#endif

#define USERS         100000u
#define TOKEN_BYTES   64u
#define BEYOND_MAX    64u /* bytes per user beyond the token */

/* Bytes the allocator has handed out and not had back; 0 if it cannot say. */
static size_t allocated_bytes(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return __sanitizer_get_current_allocated_bytes();
#elif defined(HRL_JEMALLOC)
	uint64_t epoch = 1;
	size_t sz = sizeof(epoch), n = 0;
	mallctl("epoch", &epoch, &sz, &epoch, sz);
	sz = sizeof(n);
	return mallctl("stats.allocated", &n, &sz, NULL, 0) == 0 ? n : 0;
#else
	return 0;
#endif
}

int main(void)
{
	static struct sto_users t;
	static char ids[USERS][16], tokens[USERS][TOKEN_BYTES];
	struct base_hash_key key = { 7, 9 };
	uint32_t dev;
	bool created;

	for (unsigned i = 0; i < USERS; i++) {
		snprintf(ids[i], sizeof(ids[i]), "user-%u", i);
		for (unsigned b = 0; b < TOKEN_BYTES; b++)
			tokens[i][b] = "0123456789abcdef"[(i >> (b % 8 * 4)) & 15];
	}
	size_t before = allocated_bytes();
	for (unsigned i = 0; i < USERS; i++) {
		size_t len = strlen(ids[i]);
		uint64_t h = sto_user_hash(&key, 0, ids[i], len);
		struct sto_user *u = sto_user_get(&t, h, 0, (uint16_t)(i % 1024), ids[i], len);
		CHECK(sto_user_bind(u, HRL_CH_PUSH, HRL_VENDOR_APNS, HRL_PLATFORM_IOS, tokens[i], TOKEN_BYTES,
				    1763780000000ull + i, &dev, &created) == 0 && created);
		CHECK(sto_user_commit(&t, u) == 0);
		sto_user_set_loc(&t, u, STO_LOC(1 + i / 400000, 4096 + (i % 400000) * 168));
	}
	size_t after = allocated_bytes();
	CHECK(t.count == USERS);

	double table = (double)sto_users_bytes(&t) / USERS - TOKEN_BYTES;
	double alloc = after > before ? (double)(after - before) / USERS - TOKEN_BYTES : 0;
	printf("users=%u token_bytes=%u table_bytes_beyond_token=%.1f allocator_bytes_beyond_token=%.1f max=%u\n",
	       USERS, TOKEN_BYTES, table, alloc, BEYOND_MAX);
	CHECK(table <= BEYOND_MAX);
	CHECK(alloc <= BEYOND_MAX);
	/* and the allocator agrees with the table's own count (no hidden allocations) */
	CHECK(after == 0 || after - before <= sto_users_bytes(&t) + sto_users_bytes(&t) / 20);

	/* the users are all there, token and all */
	for (unsigned i = 0; i < USERS; i += 997) {
		size_t len = strlen(ids[i]);
		struct sto_user *u = sto_user_find(&t, sto_user_hash(&key, 0, ids[i], len), 0, ids[i], len);
		CHECK(u && u->device_count == 1 && u->devices[0].address.len == TOKEN_BYTES &&
		      memcmp(u->devices[0].address.p, tokens[i], TOKEN_BYTES) == 0);
	}
	sto_users_free(&t);
	return 0;
}
