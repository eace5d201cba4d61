/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SPSC ring between two threads: every message arrives once, in order,
 * through wrap-around and full/empty transitions, in bursts of any size.
 */
#include <pthread.h>

#include "io/xring.h"
#include "tests/testlib.h"

#define TOTAL 3000000u

static struct iou_xring *ring;

static void *producer(void *arg)
{
	struct iou_msg burst[37];
	uint64_t next = 0;
	while (next < TOTAL) {
		unsigned n = (unsigned)(next % 37) + 1;
		if (next + n > TOTAL)
			n = (unsigned)(TOTAL - next);
		for (unsigned i = 0; i < n; i++) {
			burst[i].kind = (uint16_t)((next + i) & 0xF);
			burst[i].arg64 = next + i;
			burst[i].ptr = (void *)(uintptr_t)(next + i) ;
		}
		unsigned pushed = iou_xring_push(ring, burst, n);
		next += pushed; /* the rest is retried */
	}
	return NULL;
}

int main(void)
{
	pthread_t t;
	struct iou_msg out[64];
	uint64_t expect = 0;

	ring = iou_xring_new();
	CHECK(ring != NULL);
	CHECK(iou_xring_empty(ring));
	CHECK(iou_xring_pop(ring, out, 64) == 0);
	/* single-threaded: fills exactly to capacity */
	struct iou_msg m = { 0 };
	unsigned filled = 0;
	while (iou_xring_push(ring, &m, 1) == 1)
		filled++;
	CHECK(filled == HRL_XRING_SLOTS);
	while (iou_xring_pop(ring, out, 64))
		;
	CHECK(iou_xring_empty(ring));

	CHECK(pthread_create(&t, NULL, producer, NULL) == 0);
	while (expect < TOTAL) {
		unsigned n = iou_xring_pop(ring, out, (unsigned)(expect % 64) + 1);
		for (unsigned i = 0; i < n; i++) {
			CHECK(out[i].arg64 == expect);
			CHECK(out[i].kind == (expect & 0xF));
			CHECK((uintptr_t)out[i].ptr == expect);
			expect++;
		}
	}
	pthread_join(t, NULL);
	CHECK(iou_xring_empty(ring));
	iou_xring_free(ring);
	return 0;
}
