/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fanout.h - campaigns on the engine (net/fanout.c): the wire operations,
 * their records, and the core's side of fanout/run.h.
 */
#ifndef NET_FANOUT_H
#define NET_FANOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "net/server.h"

/* Per core, on the main thread before start (after net_server_init). 0 or -ENOMEM. */
int net_fanout_init(struct net_core *nc);
/* On the core's thread, before its loop. */
void net_fanout_thread_start(struct net_core *nc);
/* Every loop iteration; true: more work is waiting. */
bool net_fanout_poll(struct net_core *nc);
/* Every tick: HTTP timeouts. */
void net_fanout_tick(struct net_core *nc);
/* On the core's thread when it starts draining (and at exit): close the vendor connections; the
   pools are freed as their last completions come (net_http_pools_live). */
void net_fanout_free(struct net_core *nc);
/* After the threads are gone: free the campaigns. */
void net_fanout_free_state(struct net_core *nc);

/* Message kind of a campaign announced to the other cores (net/fanout.c). */
#define NET_MSG_FANOUT 2

/* A record of a campaign was undone (its write failed): stop the campaign. */
void net_fanout_undo(struct net_core *nc, const struct sto_rec_hdr *h, const uint8_t *payload, uint64_t prev_loc);

/* Recovery (worker 0 of the scan): keep a campaign, vendor or progress record for later. */
void net_fanout_recover_record(const struct sto_rec_hdr *h, const uint8_t *payload, uint64_t loc);
/* After the scan: install vendors and campaigns on every core with their progress. 0 or -ENOMEM. */
int net_fanout_recover(struct net_server *s);

/* Compaction: append again the records that lie in obsolete segments. false: no room now. */
bool net_fanout_compact(struct net_core *nc, bool (*obsolete)(struct net_core *, uint64_t), uint64_t *last_lsn);

void net_op_campaign_create(struct net_ctx *x);
void net_op_campaign_status(struct net_ctx *x);
void net_op_campaign_control(struct net_ctx *x);
void net_op_vendor_set(struct net_ctx *x);
void net_op_vendor_list(struct net_ctx *x);
void net_op_campaign_upload(struct net_ctx *x);

#endif
