/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xring.h - single-producer / single-consumer ring of fixed-size messages,
 * the only way cores talk to each other.
 *
 * One ring per ordered pair of cores (producer core -> consumer core).
 * The producer index and the consumer index live on separate cache lines;
 * each side caches the other's index and re-reads it only when the ring
 * looks full (producer) or empty (consumer). Bursts return a count.
 *
 *   struct iou_msg (32 bytes):
 *     u16 kind      what the consumer's handler table dispatches on
 *     u16 src_core  producer core id
 *     u32 arg       kind-specific
 *     u64 arg64     kind-specific
 *     void *ptr     an object handed over to the consumer
 *     u64 reserved
 */
#ifndef IO_XRING_H
#define IO_XRING_H

#include <stdalign.h>
#include <stdint.h>

#include "include/bounds.h"

struct iou_msg {
	uint16_t kind;
	uint16_t src_core;
	uint32_t arg;
	uint64_t arg64;
	void *ptr;
	uint64_t reserved;
};
_Static_assert(sizeof(struct iou_msg) == 32, "iou_msg is 32 bytes");

struct iou_xring {
	alignas(64) uint32_t head;    /* written by the consumer */
	uint32_t tail_cached;         /* consumer's copy of tail */
	alignas(64) uint32_t tail;    /* written by the producer */
	uint32_t head_cached;         /* producer's copy of head */
	alignas(64) struct iou_msg slots[HRL_XRING_SLOTS];
};

/* Allocate a zeroed ring, NULL on failure. Any thread; free with iou_xring_free. */
struct iou_xring *iou_xring_new(void);
void iou_xring_free(struct iou_xring *r);

/* Producer side only. Push up to n messages, returns how many fit. */
unsigned iou_xring_push(struct iou_xring *r, const struct iou_msg *m, unsigned n);
/* Consumer side only. Pop up to n messages into out, returns the count. */
unsigned iou_xring_pop(struct iou_xring *r, struct iou_msg *out, unsigned n);
/* Consumer side: true if nothing is waiting. */
int iou_xring_empty(struct iou_xring *r);

#endif
