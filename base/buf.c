/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.c - growable byte buffer; see buf.h for the layout.
 */
#include "base/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static __thread long buf_fail_countdown;

void base_buf_fail_alloc_after(long n)
{
	buf_fail_countdown = n;
}

static void *buf_realloc(void *p, size_t n)
{
	if (buf_fail_countdown > 0 && --buf_fail_countdown == 0)
		return NULL;
	return realloc(p, n);
}

int base_buf_reserve(struct base_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return 0;
	if (b->off > 0 && b->cap - (b->len - b->off) >= n && b->off >= b->cap / 2) {
		base_buf_compact(b);
		if (b->cap - b->len >= n)
			return 0;
	}
	size_t need = b->len + n;
	if (need < b->len)
		return -ENOMEM; /* overflow */
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	uint8_t *d = buf_realloc(b->data, cap);
	if (!d)
		return -ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

int base_buf_append(struct base_buf *b, const void *p, size_t n)
{
	int rc = base_buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void base_buf_consume(struct base_buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void base_buf_compact(struct base_buf *b)
{
	if (b->off == 0)
		return;
	memmove(b->data, b->data + b->off, b->len - b->off);
	b->len -= b->off;
	b->off = 0;
}

void base_buf_free(struct base_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}
