/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.h - a growable byte buffer with a read offset.
 *
 *   data[0 .. off)      consumed, reclaimed by base_buf_compact
 *   data[off .. len)    readable bytes
 *   data[len .. cap)    free space
 *
 * Owned by one thread. Growth doubles; base_buf_reserve returns -ENOMEM when
 * allocation fails and leaves the buffer as it was.
 */
#ifndef BASE_BUF_H
#define BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct base_buf {
	uint8_t *data;
	size_t off;
	size_t len;
	size_t cap;
};

/* Make room for n more bytes after len. 0 or -ENOMEM. */
int base_buf_reserve(struct base_buf *b, size_t n);
int base_buf_append(struct base_buf *b, const void *p, size_t n);
/* Drop n readable bytes from the front. */
void base_buf_consume(struct base_buf *b, size_t n);
/* Move readable bytes to the front. */
void base_buf_compact(struct base_buf *b);
void base_buf_free(struct base_buf *b);

static inline size_t base_buf_readable(const struct base_buf *b)
{
	return b->len - b->off;
}

static inline uint8_t *base_buf_head(const struct base_buf *b)
{
	return b->data + b->off;
}

/* Test hook: when set, the next n-th allocation (1 = next) fails. */
void base_buf_fail_alloc_after(long n);

#endif
