/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reactor.h - one io_uring event loop per core, pinned to its CPU.
 *
 * A core owns: its io_uring (created on its own thread, SINGLE_ISSUER),
 * a provided-buffer ring for multishot receives, a periodic tick, and one
 * inbound SPSC ring from every other core. Everything that completes on the
 * ring carries a `struct iou_op *` as user_data; the op's kind selects a
 * handler from a table the layer above fills in (net/). Messages from other
 * cores are dispatched the same way, by message kind.
 *
 * Waking another core: after pushing messages on its ring, the producer
 * posts one IORING_OP_MSG_RING to the consumer's io_uring per loop
 * iteration (or, if the probe says the kernel lacks it, writes the
 * consumer's eventfd, which the consumer keeps a read armed on).
 *
 * Thread rules: everything here runs on the core's own thread, except
 * iou_core_request_stop(), which any thread may call.
 */
#ifndef IO_REACTOR_H
#define IO_REACTOR_H

#include <liburing.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "include/bounds.h"
#include "io/xring.h"

#define IOU_OP_KINDS_MAX  16u
#define IOU_MSG_KINDS_MAX 16u

/* Kinds 0..3 belong to the reactor; the layer above uses 4.. */
enum iou_op_kind {
	IOU_OP_IGNORE = 0, /* completion needs no action */
	IOU_OP_WAKE = 1,   /* another core pushed messages */
	IOU_OP_TICK = 2,   /* periodic timer */
	IOU_OP_USER = 4,
};

struct iou_op {
	uint8_t kind;
};

struct iou_core;
typedef void iou_cqe_fn(struct iou_core *c, struct iou_op *op, struct io_uring_cqe *cqe);
typedef void iou_msg_fn(struct iou_core *c, const struct iou_msg *m);
typedef void iou_hook_fn(struct iou_core *c);

struct iou_core {
	alignas(64) unsigned id;
	unsigned ncores;
	int cpu;                 /* -1: not pinned */
	struct io_uring ring;
	bool ring_ready;
	bool msg_ring_supported;
	int wake_efd;            /* eventfd fallback, -1 when MSG_RING is used */
	uint64_t wake_efd_value;
	struct iou_op wake_op;
	struct iou_op tick_op;
	struct iou_op ignore_op;
	struct __kernel_timespec tick_ts;
	uint32_t tick_ms;        /* 0: HRL_TICK_MS */
	uint64_t now_ms;         /* CLOCK_MONOTONIC, updated every loop iteration */

	/* provided buffers for multishot receive (group IOU_BUF_GROUP) */
	struct io_uring_buf_ring *br;
	uint8_t *buf_base;
	unsigned buf_count;
	unsigned buf_size;
	unsigned bufs_out;       /* handed to the kernel's completions, not yet returned */

	/* cross-core rings: in[j] is j -> this core, out[j] this core -> j */
	struct iou_xring *in[HRL_CORES_MAX];
	struct iou_xring *out[HRL_CORES_MAX];
	struct base_buf overflow[HRL_CORES_MAX]; /* iou_msg that did not fit out[j] */
	uint64_t wake_mask;      /* cores pushed to since the last flush */
	struct iou_core **peers; /* every core, indexed by id */

	iou_cqe_fn *cqe_handlers[IOU_OP_KINDS_MAX];
	iou_msg_fn *msg_handlers[IOU_MSG_KINDS_MAX];
	iou_hook_fn *on_tick;    /* every HRL_TICK_MS */
	iou_hook_fn *before_wait;/* end of every loop iteration: flush sends */
	void *owner;             /* the layer above's per-core state */

	bool stop;               /* set on this thread only */
	uint64_t loops;
	uint64_t msgs_in;
};

#define IOU_BUF_GROUP 0

/*
 * Create the io_uring, buffer ring and tick on the calling thread, which
 * becomes the core's thread. The xrings (in/out) and peers must already be
 * set. 0 or -errno.
 */
int iou_core_setup(struct iou_core *c);
/* Run until c->stop is set and iou_core_run's caller-visible work is done. */
void iou_core_run(struct iou_core *c);
void iou_core_teardown(struct iou_core *c);

/* An SQE, submitting first if the SQ is full. Never NULL (asserts). */
struct io_uring_sqe *iou_sqe(struct iou_core *c);

/* Queue a message for core dst (may be this core: handled on the next loop). */
void iou_send(struct iou_core *c, unsigned dst, const struct iou_msg *m);

/* Hand buffer bid back to the kernel after a receive completion. */
void iou_buf_recycle(struct iou_core *c, unsigned bid);
static inline uint8_t *iou_buf_addr(struct iou_core *c, unsigned bid)
{
	return c->buf_base + (size_t)bid * c->buf_size;
}

/* Pin the calling thread to cpu. 0 or -errno. */
int iou_pin_cpu(int cpu);
uint64_t iou_now_ms(void);

/* Allocate the ncores x ncores rings and wire in/out. 0 or -ENOMEM. */
int iou_cores_wire(struct iou_core **cores, unsigned ncores);
void iou_cores_unwire(struct iou_core **cores, unsigned ncores);

/* Test switch: behave as if the kernel had no IORING_OP_MSG_RING. */
extern bool iou_force_eventfd;

#endif
