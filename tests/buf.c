/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/buf.c - struct base_buf: append, consume, compact, reserve, and
 * allocation failure.
 *
 *   - appends keep every byte, across many doublings of capacity
 *   - consume drops from the front; consuming everything resets to empty
 *   - compact moves the readable bytes to offset 0 and keeps them intact
 *   - reserve reuses consumed space before it grows
 *   - allocation failure (base_buf_fail_alloc_after) makes append/reserve
 *     return -ENOMEM and leaves data, off, len, cap and the bytes unchanged;
 *     the n-th allocation fails, not the n-th call
 *   - a reservation too large for size_t returns -ENOMEM, in a bounded time
 *
 * Exit 0 pass, 1 fail.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif

#ifdef TEST_ASAN
/* Let a huge realloc return NULL instead of aborting the test. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

#include "tests/unit.h"

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 8) * 7 + 3);
}

static int holds_pattern(const struct base_buf *b, size_t first, size_t n)
{
	const uint8_t *p = base_buf_head(b);

	for (size_t i = 0; i < n; i++)
		if (p[i] != pattern(first + i))
			return 0;
	return 1;
}

static void test_append_grows(void)
{
	struct base_buf b = { 0 };
	uint8_t chunk[97];
	size_t total = 0;

	CHECK(base_buf_readable(&b) == 0);
	CHECK(base_buf_append(&b, NULL, 0) == 0); /* empty append is fine */
	CHECK(b.len == 0);
	while (total < 100000) {
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = pattern(total + i);
		CHECK(base_buf_append(&b, chunk, sizeof(chunk)) == 0);
		total += sizeof(chunk);
		if (b.len != total || b.cap < b.len) {
			CHECK(b.len == total);
			CHECK(b.cap >= b.len);
			break;
		}
	}
	CHECK(base_buf_readable(&b) == total);
	CHECK(holds_pattern(&b, 0, total));
	base_buf_free(&b);
	CHECK(b.data == NULL && b.off == 0 && b.len == 0 && b.cap == 0);
	base_buf_free(&b); /* twice is harmless */
}

static void test_consume_and_compact(void)
{
	struct base_buf b = { 0 };
	uint8_t data[1000];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = pattern(i);
	CHECK(base_buf_append(&b, data, sizeof(data)) == 0);

	base_buf_consume(&b, 100);
	CHECK(b.off == 100);
	CHECK(base_buf_readable(&b) == 900);
	CHECK(holds_pattern(&b, 100, 900));

	base_buf_consume(&b, 0);
	CHECK(base_buf_readable(&b) == 900);

	base_buf_compact(&b);
	CHECK(b.off == 0);
	CHECK(b.len == 900);
	CHECK(holds_pattern(&b, 100, 900));

	base_buf_compact(&b); /* nothing consumed: no-op */
	CHECK(b.off == 0 && b.len == 900);

	/* Consuming exactly everything resets the offsets. */
	base_buf_consume(&b, 900);
	CHECK(b.off == 0 && b.len == 0);
	CHECK(base_buf_readable(&b) == 0);

	/* Interleaved appends and consumes keep the byte stream in order. */
	size_t written = 0, read = 0;
	for (int round = 0; round < 500; round++) {
		size_t n = (size_t)(round * 37 % 300) + 1;
		uint8_t tmp[300];
		for (size_t i = 0; i < n; i++)
			tmp[i] = pattern(written + i);
		CHECK(base_buf_append(&b, tmp, n) == 0);
		written += n;
		size_t take = base_buf_readable(&b) / 2 + (round & 1);
		if (!holds_pattern(&b, read, base_buf_readable(&b))) {
			CHECK(!"stream out of order");
			break;
		}
		base_buf_consume(&b, take);
		read += take;
		if (round % 7 == 0)
			base_buf_compact(&b);
		CHECK(base_buf_readable(&b) == written - read);
	}
	base_buf_free(&b);
}

static void test_reserve_reuses_consumed_space(void)
{
	struct base_buf b = { 0 };
	uint8_t data[256];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = pattern(i);
	CHECK(base_buf_append(&b, data, sizeof(data)) == 0);
	size_t cap = b.cap;
	CHECK(cap >= sizeof(data));
	/* Consume most, then ask for room that fits only after compaction. */
	base_buf_consume(&b, cap - 16 < sizeof(data) ? cap - 16 : sizeof(data) - 16);
	size_t left = base_buf_readable(&b);
	size_t first = sizeof(data) - left;
	base_buf_fail_alloc_after(1); /* growing now would fail */
	CHECK(base_buf_reserve(&b, cap - left) == 0);
	base_buf_fail_alloc_after(0);
	CHECK(b.cap == cap);
	CHECK(b.cap - b.len >= cap - left);
	CHECK(base_buf_readable(&b) == left);
	CHECK(holds_pattern(&b, first, left));

	CHECK(base_buf_reserve(&b, 0) == 0);
	base_buf_free(&b);
}

struct buf_snapshot {
	uint8_t *data;
	size_t off, len, cap;
	uint8_t bytes[4096];
};

static void snap(const struct base_buf *b, struct buf_snapshot *s)
{
	s->data = b->data;
	s->off = b->off;
	s->len = b->len;
	s->cap = b->cap;
	if (b->len)
		memcpy(s->bytes, b->data, b->len < sizeof(s->bytes) ? b->len : sizeof(s->bytes));
}

static int same(const struct base_buf *b, const struct buf_snapshot *s)
{
	if (b->data != s->data || b->off != s->off || b->len != s->len || b->cap != s->cap)
		return 0;
	return !b->len || !memcmp(s->bytes, b->data, b->len < sizeof(s->bytes) ? b->len : sizeof(s->bytes));
}

static void test_alloc_failure(void)
{
	struct base_buf b = { 0 };
	struct buf_snapshot s;
	uint8_t data[3000];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = pattern(i);

	/* The first allocation of an empty buffer fails. */
	snap(&b, &s);
	base_buf_fail_alloc_after(1);
	CHECK(base_buf_append(&b, data, 10) == -ENOMEM);
	CHECK(same(&b, &s));
	CHECK(b.data == NULL);
	/* The hook fired once; the next allocation works. */
	CHECK(base_buf_append(&b, data, 10) == 0);
	CHECK(holds_pattern(&b, 0, 10));

	/* A growing append fails and leaves everything as it was. */
	base_buf_consume(&b, 3); /* a non-zero offset must survive too */
	snap(&b, &s);
	base_buf_fail_alloc_after(1);
	CHECK(base_buf_append(&b, data + 10, 2000) == -ENOMEM);
	CHECK(same(&b, &s));
	CHECK(holds_pattern(&b, 3, 7));
	base_buf_fail_alloc_after(1);
	CHECK(base_buf_reserve(&b, 2000) == -ENOMEM);
	CHECK(same(&b, &s));
	base_buf_fail_alloc_after(0);

	/* Appends that fit do not allocate and do not use up the countdown. */
	size_t room = b.cap - b.len;
	CHECK(room > 0);
	base_buf_fail_alloc_after(1);
	CHECK(base_buf_append(&b, data + 10, room) == 0);
	snap(&b, &s);
	CHECK(base_buf_append(&b, data + 10 + room, 1) == -ENOMEM); /* now it grows: fails */
	CHECK(same(&b, &s));
	base_buf_fail_alloc_after(0);

	/* n = 2: the second allocation fails, the first succeeds. */
	base_buf_free(&b);
	base_buf_fail_alloc_after(2);
	CHECK(base_buf_append(&b, data, 100) == 0); /* allocation 1 */
	size_t cap1 = b.cap;
	snap(&b, &s);
	CHECK(base_buf_append(&b, data + 100, cap1) == -ENOMEM); /* allocation 2 */
	CHECK(same(&b, &s));
	CHECK(base_buf_append(&b, data + 100, cap1) == 0); /* hook spent */
	CHECK(base_buf_readable(&b) == 100 + cap1);
	CHECK(holds_pattern(&b, 0, 100 + cap1));

	/* 0 disarms the hook. */
	base_buf_fail_alloc_after(1);
	base_buf_fail_alloc_after(0);
	CHECK(base_buf_reserve(&b, 1u << 16) == 0);
	base_buf_free(&b);
}

/*
 * Reservations near SIZE_MAX, in a child with an alarm: a capacity
 * computation that wraps around would loop forever instead of failing.
 */
static void test_reserve_too_large(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		failures++;
		return;
	}
	if (pid == 0) {
		struct base_buf b = { 0 };
		int bad = 0;

		alarm(5);
		if (base_buf_append(&b, "0123456789", 10) != 0)
			_exit(2);
		size_t len = b.len, cap = b.cap;
		if (base_buf_reserve(&b, SIZE_MAX - 5) != -ENOMEM) /* len + n wraps */
			bad |= 4;
		if (base_buf_reserve(&b, SIZE_MAX / 2 + 2) != -ENOMEM) /* doubling wraps */
			bad |= 8;
		if (b.len != len || b.cap != cap || memcmp(b.data, "0123456789", 10))
			bad |= 16;
		struct base_buf e = { 0 };
		if (base_buf_reserve(&e, SIZE_MAX) != -ENOMEM || e.data || e.cap)
			bad |= 32;
		base_buf_free(&b);
		_exit(bad);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		failures++;
		return;
	}
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "%s:%d: huge reserve: child killed by signal %d%s\n", __FILE__,
			__LINE__, WTERMSIG(status),
			WTERMSIG(status) == SIGALRM ? " (endless loop growing the capacity)" : "");
		failures++;
	} else if (WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s:%d: huge reserve: failed checks mask 0x%x\n", __FILE__,
			__LINE__, WEXITSTATUS(status));
		failures++;
	}
}

int main(void)
{
	test_append_grows();
	test_consume_and_compact();
	test_reserve_reuses_consumed_space();
	test_alloc_failure();
	test_reserve_too_large();
	if (failures) {
		fprintf(stderr, "buf: %d check(s) failed\n", failures);
		return 1;
	}
	return 0;
}
