/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events.h - receipts: what happened to each message for each recipient on
 * each channel, in time-partitioned segments that retention deletes whole;
 * counters per app x campaign x channel x state; each user's history.
 *
 * Files, in <data>/events:
 *   e<epoch>-c<core>-<n>.seg   the core's event log (store/log.h layout), a
 *                              new segment at least every window
 *   e<epoch>-c<core>-<n>.hint  history index of a sealed segment (below)
 *   base-e<epoch>.ckpt         counters of everything before that epoch
 *
 * RECEIPT record payload (little-endian):
 *   0   8  message_id
 *   8   8  campaign_id
 *   16  8  user_hash      sto_user_hash(app, user id)
 *   24  8  event_unix_ms  when the state was reached
 *   32  2  app_idx
 *   34  1  channel
 *   35  1  vendor
 *   36  1  state
 *   37  1  reason_len (<= 64)
 *   38  1  user_len (1..128)
 *   39  .. reason, then user id
 * The time it was recorded is the record header's unix_ms.
 *
 * COUNTERS record payload (a checkpoint: the counts this core made in
 * this epoch, written as the first records of every segment after its
 * first; one checkpoint may take several records):
 *   0   4  part (0-based)   4  4  parts   8  4  count   12  4  0
 *   16  .. count x { u64 campaign, u16 app, u8 channel, u8 state, u32 0, u64 value }
 *
 * Counters after a crash: base-e<B>.ckpt of the newest base B holds every
 * count made before epoch B. For each core of each epoch >= B, the newest
 * segment's checkpoint plus the receipts after it in that segment give
 * that core's counts. A start adds them up, writes base-e<new>.ckpt (synced,
 * renamed), and only then lets the cores run, so nothing is counted twice
 * or lost. If the newest segment's checkpoint was torn by the crash, the
 * segment before it (its checkpoint plus all its receipts) is used as
 * well; a sealed segment is handed to retention only once its successor's
 * checkpoint is durable.
 *
 * Hint file (sorted index of one sealed segment's receipts):
 *   0   8  magic "HRLDHNT1"
 *   8   4  count
 *   12  4  crc32c of bytes 16..47 and of the entries
 *   16  8  min_unix_ms (recorded; the segment's creation if empty)
 *   24  8  max_unix_ms
 *   32  16 zero
 *   48  .. count x { u64 user_hash, u32 offset, u32 0 } sorted by hash, then offset
 * Hints are rebuilt from their segment when missing or damaged, so they
 * are written without fsync.
 *
 * History of a user, newest first: the core's own receipts of this run
 * that are not in a hint yet (a scan of their user hashes, in memory), then
 * every hinted segment from the newest (epoch, n) down. Positions are
 * (epoch, core, n, offset); within one epoch a user's receipts are all on
 * one core, so (epoch, n, offset) orders them.
 */
#ifndef STORE_EVENTS_H
#define STORE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "include/bounds.h"
#include "include/herald_proto.h"
#include "store/log.h"

#define STO_RECEIPT_FIXED_BYTES 39u
#define STO_COUNTER_ENTRY_BYTES 24u
#define STO_COUNTERS_HEAD_BYTES 16u
#define STO_COUNTERS_PER_RECORD ((HRL_RECORD_BYTES_MAX - STO_REC_HEADER_BYTES - STO_COUNTERS_HEAD_BYTES) / STO_COUNTER_ENTRY_BYTES)
#define STO_COUNTERS_MAX        (1u << 18)  /* keys per core and epoch */
#define STO_HINT_HEADER_BYTES   48u

_Static_assert((uint64_t)STO_COUNTERS_MAX * STO_COUNTER_ENTRY_BYTES + 64u * STO_REC_HEADER_BYTES <
		       HRL_LOG_BUF_BYTES - 8192u,
	       "a whole checkpoint fits the write buffer after a segment header");

struct sto_receipt {
	uint64_t message_id;
	uint64_t campaign_id;
	uint64_t user_hash;
	uint64_t event_unix_ms;
	uint64_t recorded_unix_ms; /* decode only: the record's time */
	uint16_t app_idx;
	uint8_t channel;
	uint8_t vendor;
	uint8_t state;
	uint8_t reason_len;
	uint8_t user_len;
	const char *reason;
	const char *user_id;
};

size_t sto_receipt_bytes(const struct sto_receipt *r);
void sto_receipt_encode(const struct sto_receipt *r, uint8_t *p);
/* Pointers into p. 0 or -EBADMSG. */
int sto_receipt_decode(const uint8_t *p, size_t n, struct sto_receipt *r);

/* ---- counters ------------------------------------------------------------------------ */

struct sto_counter {
	uint64_t campaign;
	uint16_t app;
	uint8_t channel;
	uint8_t state;    /* 0: empty slot */
	uint32_t reserved;
	uint64_t value;
};
_Static_assert(sizeof(struct sto_counter) == STO_COUNTER_ENTRY_BYTES, "counter entry is 24 bytes");

struct sto_counters {
	struct sto_counter *slots;
	uint32_t cap;     /* power of two, or 0 */
	uint32_t count;
};

/* Add delta. 0, -ENOSPC (STO_COUNTERS_MAX keys) or -ENOMEM. */
int sto_counters_add(struct sto_counters *t, uint16_t app, uint64_t campaign, uint8_t channel, uint8_t state,
		     int64_t delta);
/* Will adding to this key need a new slot that the table cannot have? */
bool sto_counters_full_for(const struct sto_counters *t, uint16_t app, uint64_t campaign, uint8_t channel,
			   uint8_t state);
uint64_t sto_counters_get(const struct sto_counters *t, uint16_t app, uint64_t campaign, uint8_t channel,
			  uint8_t state);
void sto_counters_free(struct sto_counters *t);

/* ---- one core's events ------------------------------------------------------------------ */

struct sto_hist_ent {
	uint64_t loc;     /* STO_LOC in this run's segment registry */
	uint32_t seg_n;
};

struct sto_mem_seg {
	uint32_t seg_idx;
	uint32_t n;
	uint64_t first;   /* absolute entry number of its first receipt */
};

struct sto_events {
	struct sto_log *log;
	unsigned core;
	uint32_t epoch;
	struct sto_counters counters; /* counts made on this core in this epoch */

	struct sto_hist_ent *ents;    /* receipts not yet in a published hint, oldest first */
	uint64_t *hashes;             /* their user hashes, apart: History scans only these */
	uint64_t ent_base;            /* absolute number of ents[0] */
	uint32_t ent_count, ent_cap;
	uint64_t ent_lost;            /* not indexed for want of memory */
	struct sto_mem_seg *segs;     /* segments with entries in memory, oldest first */
	uint32_t seg_count, seg_cap;

	uint64_t ckpt_lsn;            /* the current segment's checkpoint is durable past this */
	uint32_t pending_seal;        /* sealed segment to hint once the checkpoint is durable */
	uint64_t pending_limit;       /* its durable end, if it ended in an I/O error */
	uint32_t fail_seg;            /* the last segment that ended in an I/O error */
	uint64_t fail_keep;           /* and its durable end */
	uint64_t receipts_written;
	uint64_t receipts_undone;
	uint64_t seg_receipts;        /* in the current segment */
};

/* Set up on the core, after its event log is open. 0 or -ENOMEM. */
int sto_events_init(struct sto_events *e, struct sto_log *log, unsigned core, uint32_t epoch);
void sto_events_free(struct sto_events *e);

/*
 * Room for this receipt (log space and, for a new key, counter space)?
 * 0, -ENOBUFS (retry after the next flush), -ENOSPC (counter table full),
 * -EIO (store failed).
 */
int sto_events_room(struct sto_events *e, const struct sto_receipt *r);
/* Append (after room said yes): counts it, indexes it, sets *lsn to wait for. */
void sto_events_append(struct sto_events *e, const struct sto_receipt *r, uint16_t partition, uint64_t *lsn);

/* Log hooks of the event log (the server calls them from its own). */
void sto_events_on_opened(struct sto_events *e);
void sto_events_on_durable(struct sto_events *e, uint64_t lsn);
void sto_events_on_undo(struct sto_events *e, const struct sto_rec_hdr *h, const uint8_t *payload);
/* The log failed (after the undos, before it opens a new segment). */
void sto_events_on_failed(struct sto_events *e);
/* Periodic, on the core: drop memory that published hints now cover. */
void sto_events_tick(struct sto_events *e);

/* ---- history ---------------------------------------------------------------------------- */

struct sto_pos {
	uint32_t epoch;
	uint16_t core;
	uint32_t n;
	uint32_t off;
};
void sto_pos_encode(const struct sto_pos *p, uint8_t out[HRL_CURSOR_BYTES]);
/* All zero: *start = true. 0 or -EINVAL (not a cursor the engine makes). */
int sto_pos_decode(const uint8_t in[HRL_CURSOR_BYTES], uint32_t cur_epoch, struct sto_pos *p, bool *start);

/*
 * emit(arg, receipt) for up to limit receipts of (app, user id) older than
 * *cursor (or from the newest if start), newest first; *next gets the
 * position of the last one emitted and *more whether the page is full.
 * Runs on the user's owner core. 0 or -errno (a read failed).
 */
typedef int sto_hist_emit_fn(void *arg, const struct sto_receipt *r);
int sto_events_history(struct sto_events *e, uint64_t hash, uint16_t app, const char *id, size_t id_len,
		       const struct sto_pos *cursor, bool start, unsigned limit, sto_hist_emit_fn *emit, void *arg,
		       struct sto_pos *next, bool *more);

/* ---- recovery, retention, statistics (any thread unless said) ------------------------ */

struct sto_events_recovery {
	uint64_t segments;
	uint64_t hints_built;
	uint64_t receipts_replayed;   /* read to rebuild counters */
	uint32_t base_epoch;          /* the base found (0 none) */
	uint64_t ms;
};

/*
 * Main thread, before the cores start: register the event segments, load
 * or build their hints, rebuild the counters of everything before epoch
 * `epoch` into *base (read-only afterwards, shared by every core) and make
 * them durable as base-e<epoch>.ckpt. 0 or -errno.
 */
int sto_events_recover(const char *dir, uint32_t epoch, struct sto_counters *base, struct sto_events_recovery *st);

/* Delete sealed segments (and hints) whose newest receipt is older than cutoff. Returns how many. */
unsigned sto_events_expire(uint64_t cutoff_unix_ms);
uint64_t sto_events_expired_total(void);
/* Unmap every published hint (shutdown). */
void sto_events_close_all(void);

#endif
