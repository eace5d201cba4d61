/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xring.c - SPSC ring, see xring.h. Indices run freely and wrap at 2^32;
 * slot = index & (HRL_XRING_SLOTS - 1). The producer publishes slots with a
 * release store of tail, the consumer frees them with a release store of head.
 */
#include "io/xring.h"

#include <stdlib.h>
#include <string.h>

#define XRING_MASK (HRL_XRING_SLOTS - 1)

struct iou_xring *iou_xring_new(void)
{
	struct iou_xring *r = aligned_alloc(64, sizeof(*r));
	if (r)
		memset(r, 0, sizeof(*r));
	return r;
}

void iou_xring_free(struct iou_xring *r)
{
	free(r);
}

unsigned iou_xring_push(struct iou_xring *r, const struct iou_msg *m, unsigned n)
{
	uint32_t tail = r->tail; /* only this thread writes it */
	uint32_t free_slots = HRL_XRING_SLOTS - (tail - r->head_cached);

	if (free_slots < n) {
		r->head_cached = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
		free_slots = HRL_XRING_SLOTS - (tail - r->head_cached);
	}
	if (n > free_slots)
		n = free_slots;
	for (unsigned i = 0; i < n; i++)
		r->slots[(tail + i) & XRING_MASK] = m[i];
	__atomic_store_n(&r->tail, tail + n, __ATOMIC_RELEASE);
	return n;
}

unsigned iou_xring_pop(struct iou_xring *r, struct iou_msg *out, unsigned n)
{
	uint32_t head = r->head;
	uint32_t avail = r->tail_cached - head;

	if (avail < n) {
		r->tail_cached = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
		avail = r->tail_cached - head;
	}
	if (n > avail)
		n = avail;
	for (unsigned i = 0; i < n; i++)
		out[i] = r->slots[(head + i) & XRING_MASK];
	__atomic_store_n(&r->head, head + n, __ATOMIC_RELEASE);
	return n;
}

int iou_xring_empty(struct iou_xring *r)
{
	if (r->tail_cached != r->head)
		return 0;
	r->tail_cached = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	return r->tail_cached == r->head;
}
