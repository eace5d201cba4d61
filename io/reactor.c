/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reactor.c - the per-core io_uring loop; see reactor.h.
 *
 * One loop iteration:
 *   1. before_wait hook (the layer above queues its sends),
 *   2. flush cross-core messages and post one wake per destination core,
 *   3. submit and wait for at least one completion,
 *   4. dispatch every completion through cqe_handlers[op->kind],
 *   5. drain every inbound xring through msg_handlers[msg.kind].
 * The tick (HRL_TICK_MS) bounds the wait, so a lost wake-up would cost at
 * most one tick; none is lost, because a producer always posts a wake after
 * its pushes and the consumer drains after every wait.
 */
#include "io/reactor.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/assert.h"

bool iou_force_eventfd;

uint64_t iou_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int iou_pin_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	return -rc;
}

struct io_uring_sqe *iou_sqe(struct iou_core *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	if (!sqe) {
		io_uring_submit(&c->ring);
		sqe = io_uring_get_sqe(&c->ring);
	}
	ALWAYS(sqe != NULL);
	return sqe;
}

static void arm_tick(struct iou_core *c)
{
	struct io_uring_sqe *sqe = iou_sqe(c);
	uint32_t ms = c->tick_ms ? c->tick_ms : HRL_TICK_MS;
	c->tick_ts.tv_sec = ms / 1000;
	c->tick_ts.tv_nsec = (long long)(ms % 1000) * 1000000LL;
	io_uring_prep_timeout(sqe, &c->tick_ts, 0, 0);
	io_uring_sqe_set_data(sqe, &c->tick_op);
}

static void arm_efd_read(struct iou_core *c)
{
	struct io_uring_sqe *sqe = iou_sqe(c);
	io_uring_prep_read(sqe, c->wake_efd, &c->wake_efd_value, sizeof(c->wake_efd_value), 0);
	io_uring_sqe_set_data(sqe, &c->wake_op);
}

static void on_ignore(struct iou_core *c, struct iou_op *op, struct io_uring_cqe *cqe)
{
}

static void on_wake(struct iou_core *c, struct iou_op *op, struct io_uring_cqe *cqe)
{
	if (c->wake_efd >= 0 && !c->stop)
		arm_efd_read(c); /* the drain after dispatch picks the messages up */
}

static void on_tick(struct iou_core *c, struct iou_op *op, struct io_uring_cqe *cqe)
{
	if (c->on_tick)
		c->on_tick(c);
	if (!c->stop)
		arm_tick(c);
}

static bool probe_msg_ring(struct io_uring *ring)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	bool ok = p && io_uring_opcode_supported(p, IORING_OP_MSG_RING);
	if (p)
		io_uring_free_probe(p);
	return ok;
}

static int setup_buf_ring(struct iou_core *c)
{
	size_t ring_bytes = HRL_RECV_BUFS_PER_CORE * sizeof(struct io_uring_buf);
	void *mem = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	c->br = mem;
	c->buf_count = HRL_RECV_BUFS_PER_CORE;
	c->buf_size = HRL_RECV_BUF_BYTES;
	c->buf_base = aligned_alloc(4096, (size_t)c->buf_count * c->buf_size);
	if (!c->buf_base) {
		munmap(mem, ring_bytes);
		c->br = NULL;
		return -ENOMEM;
	}
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)mem,
		.ring_entries = c->buf_count,
		.bgid = IOU_BUF_GROUP,
	};
	int rc = io_uring_register_buf_ring(&c->ring, &reg, 0);
	if (rc) {
		free(c->buf_base);
		munmap(mem, ring_bytes);
		c->br = NULL;
		c->buf_base = NULL;
		return rc;
	}
	io_uring_buf_ring_init(c->br);
	for (unsigned i = 0; i < c->buf_count; i++)
		io_uring_buf_ring_add(c->br, iou_buf_addr(c, i), c->buf_size, (unsigned short)i,
				      io_uring_buf_ring_mask(c->buf_count), (int)i);
	io_uring_buf_ring_advance(c->br, (int)c->buf_count);
	return 0;
}

void iou_buf_recycle(struct iou_core *c, unsigned bid)
{
	ALWAYS(bid < c->buf_count);
	io_uring_buf_ring_add(c->br, iou_buf_addr(c, bid), c->buf_size, (unsigned short)bid,
			      io_uring_buf_ring_mask(c->buf_count), 0);
	io_uring_buf_ring_advance(c->br, 1);
}

int iou_core_setup(struct iou_core *c)
{
	struct io_uring_params p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = HRL_URING_ENTRIES * 4;
	rc = io_uring_queue_init_params(HRL_URING_ENTRIES, &c->ring, &p);
	if (rc == -EINVAL) { /* older kernel: plain ring */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = HRL_URING_ENTRIES * 4;
		rc = io_uring_queue_init_params(HRL_URING_ENTRIES, &c->ring, &p);
	}
	if (rc)
		return rc;
	c->ring_ready = true;
	c->wake_op.kind = IOU_OP_WAKE;
	c->tick_op.kind = IOU_OP_TICK;
	c->ignore_op.kind = IOU_OP_IGNORE;
	c->cqe_handlers[IOU_OP_IGNORE] = on_ignore;
	c->cqe_handlers[IOU_OP_WAKE] = on_wake;
	c->cqe_handlers[IOU_OP_TICK] = on_tick;
	c->now_ms = iou_now_ms();

	rc = setup_buf_ring(c);
	if (rc)
		goto out_exit_ring;

	c->msg_ring_supported = !iou_force_eventfd && probe_msg_ring(&c->ring);
	c->wake_efd = -1;
	if (!c->msg_ring_supported) {
		c->wake_efd = eventfd(0, EFD_CLOEXEC);
		if (c->wake_efd < 0) {
			rc = -errno;
			goto out_exit_ring;
		}
		arm_efd_read(c);
	}
	arm_tick(c);
	io_uring_submit(&c->ring);
	return 0;

out_exit_ring:
	io_uring_queue_exit(&c->ring);
	c->ring_ready = false;
	return rc;
}

void iou_core_teardown(struct iou_core *c)
{
	if (c->ring_ready) {
		io_uring_queue_exit(&c->ring);
		c->ring_ready = false;
	}
	if (c->br) {
		munmap(c->br, HRL_RECV_BUFS_PER_CORE * sizeof(struct io_uring_buf));
		c->br = NULL;
	}
	free(c->buf_base);
	c->buf_base = NULL;
	if (c->wake_efd >= 0)
		close(c->wake_efd);
	c->wake_efd = -1;
	for (unsigned j = 0; j < HRL_CORES_MAX; j++)
		base_buf_free(&c->overflow[j]);
}

void iou_send(struct iou_core *c, unsigned dst, const struct iou_msg *m)
{
	ALWAYS(dst < c->ncores);
	struct base_buf *ov = &c->overflow[dst];
	if (base_buf_readable(ov) == 0 && iou_xring_push(c->out[dst], m, 1) == 1) {
		c->wake_mask |= 1ull << dst;
		return;
	}
	/* ring full: keep order by queueing behind what is already waiting */
	int rc = base_buf_append(ov, m, sizeof(*m));
	ALWAYS(rc == 0); /* losing a cross-core message would lose a request */
	c->wake_mask |= 1ull << dst;
}

static void flush_overflow(struct iou_core *c, unsigned dst)
{
	struct base_buf *ov = &c->overflow[dst];
	size_t n = base_buf_readable(ov) / sizeof(struct iou_msg);
	if (!n)
		return;
	unsigned pushed = iou_xring_push(c->out[dst], (const struct iou_msg *)base_buf_head(ov),
					 n > HRL_XRING_SLOTS ? HRL_XRING_SLOTS : (unsigned)n);
	base_buf_consume(ov, (size_t)pushed * sizeof(struct iou_msg));
}

static void wake_core(struct iou_core *c, unsigned dst)
{
	struct iou_core *peer = c->peers[dst];
	if (dst == c->id)
		return; /* drained after this iteration's wait anyway */
	if (c->msg_ring_supported) {
		struct io_uring_sqe *sqe = iou_sqe(c);
		io_uring_prep_msg_ring(sqe, peer->ring.ring_fd, 0, (uint64_t)(uintptr_t)&peer->wake_op, 0);
		io_uring_sqe_set_data(sqe, &c->ignore_op);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	} else {
		uint64_t one = 1;
		ssize_t w = write(peer->wake_efd, &one, sizeof(one));
		(void)w; /* EAGAIN means a wake is already pending */
	}
}

static void flush_wakes(struct iou_core *c)
{
	uint64_t mask = c->wake_mask;
	c->wake_mask = 0;
	while (mask) {
		unsigned dst = (unsigned)__builtin_ctzll(mask);
		mask &= mask - 1;
		flush_overflow(c, dst);
		if (base_buf_readable(&c->overflow[dst]))
			c->wake_mask |= 1ull << dst; /* retry next iteration */
		wake_core(c, dst);
	}
}

static void drain_inbound(struct iou_core *c)
{
	struct iou_msg burst[64];
	for (unsigned j = 0; j < c->ncores; j++) {
		struct iou_xring *r = c->in[j];
		unsigned n, total = 0;
		while (total < HRL_XRING_BURST_MAX && (n = iou_xring_pop(r, burst, 64)) > 0) {
			for (unsigned i = 0; i < n; i++) {
				ALWAYS(burst[i].kind < IOU_MSG_KINDS_MAX && c->msg_handlers[burst[i].kind]);
				c->msg_handlers[burst[i].kind](c, &burst[i]);
			}
			total += n;
		}
		c->msgs_in += total;
		if (total >= HRL_XRING_BURST_MAX)
			c->wake_mask |= 1ull << c->id; /* more waiting: do not sleep */
	}
}

void iou_core_run(struct iou_core *c)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec zero = { 0, 0 };

	while (!c->stop) {
		if (c->before_wait)
			c->before_wait(c);
		bool self_pending = c->wake_mask & (1ull << c->id);
		flush_wakes(c);
		c->wake_mask &= ~(1ull << c->id);
		int rc;
		if (self_pending)
			rc = io_uring_submit_and_wait_timeout(&c->ring, &cqe, 1, &zero, NULL);
		else
			rc = io_uring_submit_and_wait(&c->ring, 1);
		if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EAGAIN && rc != -EBUSY) {
			fprintf(stderr, "level=fatal core=%u msg=\"io_uring wait failed\" err=%d\n", c->id, rc);
			abort();
		}
		c->now_ms = iou_now_ms();
		unsigned head, count = 0;
		io_uring_for_each_cqe(&c->ring, head, cqe) {
			struct iou_op *op = io_uring_cqe_get_data(cqe);
			count++;
			if (!op)
				continue;
			ALWAYS(op->kind < IOU_OP_KINDS_MAX && c->cqe_handlers[op->kind]);
			c->cqe_handlers[op->kind](c, op, cqe);
		}
		io_uring_cq_advance(&c->ring, count);
		drain_inbound(c);
		c->loops++;
	}
}

int iou_cores_wire(struct iou_core **cores, unsigned ncores)
{
	for (unsigned i = 0; i < ncores; i++) {
		cores[i]->peers = cores;
		cores[i]->ncores = ncores;
		for (unsigned j = 0; j < ncores; j++) {
			struct iou_xring *r = iou_xring_new();
			if (!r) {
				iou_cores_unwire(cores, ncores);
				return -ENOMEM;
			}
			cores[i]->out[j] = r; /* i -> j */
			cores[j]->in[i] = r;
		}
	}
	return 0;
}

void iou_cores_unwire(struct iou_core **cores, unsigned ncores)
{
	for (unsigned i = 0; i < ncores; i++)
		for (unsigned j = 0; j < ncores; j++) {
			iou_xring_free(cores[i]->out[j]);
			cores[i]->out[j] = NULL;
			cores[j]->in[i] = NULL;
		}
}
