/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h - one core's append-only log: segment files written through the
 * core's io_uring with O_DIRECT, group commit, recovery, fault injection.
 *
 * Files: <data>/log/e<epoch>-c<core>-<n>.seg. Every start of the engine is
 * a new epoch; a core writes only its own files; files are never rewritten
 * once their epoch is over. Reading every file in (epoch, core, n) order
 * replays every partition's changes in the order they were made, because
 * within one epoch a partition has exactly one writer.
 *
 * Segment layout:
 *   block 0 (4096 bytes): header
 *     0   8  magic "HRLDSEG1"
 *     8   4  version (2: salted record CRCs)
 *     12  4  epoch
 *     16  2  core
 *     18  2  cores: how many cores the engine ran with (0 in older files)
 *     20  4  n (segment number within the epoch and core)
 *     24  8  created_unix_ms
 *     32  4  crc32c of bytes 0..31
 *     36  .. zero
 *   from 4096: records, each 8-byte aligned, back to back; the first record
 *   header that is all zero ends the segment (files are preallocated).
 *
 * Record header (32 bytes), then payload, then zero padding to 8 bytes:
 *     0   4  crc32c of bytes 4 .. 32+len (header after this field + payload),
 *            started from the segment's salt (crc32c of its epoch, core, n as
 *            u32s, from 0x48524c44) and with its lowest bit set
 *     4   4  len      payload bytes
 *     8   1  type     enum sto_rec_type
 *     9   1  flags    0
 *     10  2  partition (0xFFFF: the app directory)
 *     12  4  reserved (0)
 *     16  8  seq      per-partition sequence, +1 per record
 *     24  8  unix_ms  time of the change
 *
 * Durability: records are appended to a 4 KiB-aligned buffer registered
 * with io_uring; before the loop sleeps, everything appended since the last
 * flush is written (whole blocks, the partial tail block again each time)
 * with one write linked to one fdatasync. Requests wait for the LSN (byte
 * position in this core's stream) of their record; when the fsync
 * completes, every waiter at or below it is answered. Small groups: one
 * flush in flight at a time, the next group fills while the disk syncs.
 * Large groups (>= 64 KiB): up to four flushes in flight, each padded to
 * a block boundary with a PAD record (struct sto_flight below); durability
 * still advances in order.
 */
#ifndef STORE_LOG_H
#define STORE_LOG_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "include/bounds.h"
#include "io/reactor.h"

#define STO_SEG_HEADER_BYTES 4096u
#define STO_OP_WRITE 8 /* iou_op kinds of the log's completions */
#define STO_OP_FSYNC 9
#define STO_REC_HEADER_BYTES 32u
#define STO_PARTITION_APPS   0xFFFFu

enum sto_rec_type {
	STO_REC_USER_PUT = 1, /* full state of one user */
	STO_REC_USER_DEL = 2, /* the user holds nothing any more */
	STO_REC_APP_PUT = 3,  /* one app of the directory */
	STO_REC_RECEIPT = 4,  /* one receipt (store/events.h) */
	STO_REC_COUNTERS = 5, /* a part of a core's counter checkpoint (store/events.h) */
	STO_REC_PAD = 6,      /* zeros up to a block boundary (several flights in flight) */
	STO_REC_CAMPAIGN = 7, /* a campaign's definition and state (core 0; net/fanout.c) */
	STO_REC_PROGRESS = 8, /* one core's progress in a campaign (net/fanout.c) */
	STO_REC_VENDOR = 9,   /* an app's vendor settings (core 0; net/fanout.c) */
	STO_REC_UPLOAD = 10,  /* rows of an uploaded audience a core owns (net/fanout.c) */
};
#define STO_REC_TYPES 11
#define STO_PARTITION_COUNTERS 0xFFFEu
#define STO_PARTITION_FANOUT   0xFFFDu /* campaign progress: read by recovery worker 0 from every core's log */

/* Streams: each core writes one log of each, in its own directory. */
enum sto_stream {
	STO_STREAM_STATE = 0,  /* <data>/log: compacted state */
	STO_STREAM_EVENTS = 1, /* <data>/events: receipts, deleted whole by retention */
};
#define STO_STREAMS 2

struct sto_rec_hdr {
	uint32_t crc;
	uint32_t len;
	uint8_t type;
	uint8_t flags;
	uint16_t partition;
	uint32_t reserved;
	uint64_t seq;
	uint64_t unix_ms;
};
_Static_assert(sizeof(struct sto_rec_hdr) == STO_REC_HEADER_BYTES, "record header is 32 bytes");
_Static_assert(__builtin_offsetof(struct sto_rec_hdr, len) == 4, "len at 4");
_Static_assert(__builtin_offsetof(struct sto_rec_hdr, type) == 8, "type at 8");
_Static_assert(__builtin_offsetof(struct sto_rec_hdr, partition) == 10, "partition at 10");
_Static_assert(__builtin_offsetof(struct sto_rec_hdr, seq) == 16, "seq at 16");
_Static_assert(__builtin_offsetof(struct sto_rec_hdr, unix_ms) == 24, "unix_ms at 24");

/*
 * A location: (segment registry index << 32) | byte offset in the segment.
 * Meaningful within one run of the engine only; 0 is "nowhere".
 */
#define STO_LOC(seg, off) (((uint64_t)(seg) << 32) | (uint32_t)(off))
#define STO_LOC_SEG(loc)  ((uint32_t)((loc) >> 32))
#define STO_LOC_OFF(loc)  ((uint32_t)(loc))

enum sto_fsync_mode {
	STO_FSYNC_ALWAYS = 0,   /* answer after fdatasync */
	STO_FSYNC_INTERVAL = 1, /* answer at once, fdatasync every interval */
};

struct sto_log;
struct sto_rec_hdr;

/*
 * Called by the log on its core: durable(lsn) when everything below lsn is
 * durable; failed(lsn, err) when everything from lsn on was lost (after the
 * undo callback ran for each lost record, newest first); opened(l) right
 * after a new segment (not the first of the run) became current, before
 * anything else is appended to it.
 */
struct sto_log_hooks {
	void (*durable)(struct sto_log *l, uint64_t lsn);
	void (*undo)(struct sto_log *l, const struct sto_rec_hdr *h, const uint8_t *payload, uint64_t prev_loc);
	void (*failed)(struct sto_log *l, uint64_t lsn, int err);
	void (*opened)(struct sto_log *l);
};

struct sto_log_cfg {
	const char *dir;          /* <data>/log or <data>/events */
	enum sto_stream stream;
	const struct sto_log_hooks *hooks; /* NULL: sto_log_hooks */
	uint16_t cores;           /* written in segment headers */
	uint64_t window_ms;       /* > 0: a segment holds at most this much time */
	uint32_t epoch;
	enum sto_fsync_mode fsync_mode;
	uint32_t fsync_interval_ms;
	uint64_t segment_bytes;   /* soft limit; rotation at the next quiet point */
	bool lz4;                 /* rewrite sealed segments in LZ4 form where it pays */
};

/*
 * One write + fdatasync in flight. Up to STO_FLIGHTS_MAX of them when the
 * groups are large: a flight of at least STO_PIPELINE_MIN_BYTES is padded
 * to a block boundary (a PAD record), so the next one can start on a fresh
 * block while it is still in flight; smaller groups join the next flight.
 */
#define STO_FLIGHTS_MAX 4u
#define STO_PIPELINE_MIN_BYTES (64u << 10)

struct sto_log;
struct sto_flight {
	struct iou_op write_op;
	struct iou_op fsync_op;
	struct sto_log *log;
	uint32_t start;           /* buf offset of the first byte it makes durable */
	uint32_t end;             /* buf offset after its last record */
	uint32_t write_total;     /* bytes written so far, from start's block */
	uint32_t undo_end;        /* undo entries (from the ring's head when sent) it covers */
	int write_res;
	int err;
	bool done;
};

/* Undo entry of a record not yet durable: where the key lived before. */
struct sto_undo {
	uint64_t lsn;
	uint64_t prev_loc;
};

struct sto_log {
	const struct sto_log_cfg *cfg;
	struct iou_core *io;
	unsigned core;
	struct sto_flight flights[STO_FLIGHTS_MAX]; /* a ring, oldest at fl_head */
	uint32_t fl_head, fl_count;
	bool failing;             /* a flight failed: fail the log once every flight is back */
	int fail_err;
	int fd;                   /* O_DIRECT, current segment */
	uint32_t seg_idx;         /* registry index of the current segment */
	uint32_t seg_n;
	bool failed;              /* an I/O error: refuse appends until a new segment opens */
	int last_error;

	uint8_t *buf;             /* HRL_LOG_BUF_BYTES, 4 KiB aligned, registered */
	bool buf_registered;
	uint64_t buf_seg_off;     /* segment offset of buf[0] */
	uint32_t buf_len;         /* bytes of records in buf */
	uint32_t flushed_len;     /* buf bytes durable */
	uint32_t inflight_len;    /* buf bytes covered by the flights in flight, 0 if none */

	uint64_t unix_ms_cached;  /* the time records get, refreshed at every flush call */
	uint64_t seg_created_ms;  /* when the current segment was opened */
	uint32_t salt;            /* the current segment's record CRC salt */
	uint64_t lsn_base;        /* LSN of buf[0] */
	uint64_t durable_lsn;     /* everything below is durable */
	uint64_t last_sync_ms;

	struct sto_undo *undo;    /* ring of not-yet-durable records */
	uint32_t undo_head, undo_count;
	uint32_t undo_sealed;     /* of them, how many have their CRC (from the head) */

	/* statistics */
	uint64_t records;
	uint64_t bytes;
	uint64_t flushes;
	uint64_t io_errors;
	uint64_t segment_stalls;  /* segments zeroed on the core: no spare was ready */
};

/* Registry of segment files, shared by all cores (guarded; not on the hot path). */
int sto_segments_register(const char *path, uint32_t *idx);
/* Read n bytes at a location (any thread). 0 or -errno. */
int sto_segments_pread(uint32_t idx, void *buf, size_t n, uint64_t off);
const char *sto_segments_path(uint32_t idx);
/*
 * Is the segment older than a snapshot of `core` that started when that
 * core was writing segment before_n of epoch cur_epoch? (Every earlier
 * epoch is older than any snapshot of this epoch.) Any thread, no lock.
 */
bool sto_segments_obsolete(uint32_t idx, uint32_t cur_epoch, unsigned core, uint32_t before_n);
bool sto_segments_old_epoch_present(uint32_t cur_epoch);
/*
 * Delete (unlink) segments: core < 0, every segment of an earlier epoch;
 * else this core's segments of cur_epoch numbered below before_n. Adds the
 * space freed to *bytes; returns how many were deleted.
 */
unsigned sto_segments_delete(const char *dir, uint32_t cur_epoch, int core, uint32_t before_n, uint64_t *bytes);
/* Unlink a segment file (retention); reads of it fail from now on. */
void sto_segments_drop(uint32_t idx);
/* Segment files of a stream on disk now and the space they take. */
void sto_segments_usage(enum sto_stream stream, uint32_t *count, uint64_t *bytes);
/* Identity of a registered segment (from its name). false if idx is not one. */
bool sto_segments_ident(uint32_t idx, uint32_t *epoch, uint32_t *core, uint32_t *n);
/* Spare segments made so far from deleted (recycled) ones instead of zeros. */
uint64_t sto_segments_recycled(void);
/* Disk space saved so far by LZ4 forms of sealed segments. */
uint64_t sto_segments_lz4_saved(void);
void sto_segments_close_all(void);

/* True once the background thread has a spare segment for this core (benchmarks wait for it). */
bool sto_log_spare_ready(enum sto_stream stream, unsigned core);

/*
 * Run fn(arg) on the store's background thread (after any spare segment a
 * core waits for). Jobs run one at a time, in order. 0 or -EAGAIN (queue full).
 */
int sto_bg_submit(void (*fn)(void *arg), void *arg);
/* Wait until every background job submitted so far has run (tools, tests). */
void sto_bg_drain(void);

/* Open this core's first segment of the epoch. Core thread. 0 or -errno. */
int sto_log_open(struct sto_log *l, const struct sto_log_cfg *cfg, struct iou_core *io, unsigned core);
void sto_log_close(struct sto_log *l);

/*
 * Room for a record of payload_bytes? 0, -ENOBUFS (buffer full: retry
 * later), or -EIO (the store failed and no new segment could be opened).
 * Check before changing memory: the append after it cannot fail.
 */
int sto_log_room(struct sto_log *l, uint32_t payload_bytes);

/*
 * Append a record; returns a pointer to its payload (payload_bytes to fill
 * before the next call into the log) and sets *lsn (wait for durable_lsn
 * to pass it) and *loc. prev_loc is kept to undo the record if it never
 * becomes durable. Only after sto_log_room said yes.
 */
uint8_t *sto_log_append(struct sto_log *l, uint8_t type, uint16_t partition, uint64_t seq,
			uint32_t payload_bytes, uint64_t prev_loc, uint64_t *lsn, uint64_t *loc);

/* Seal the current segment and open the next now, if all of it is durable. 0 or -errno. */
int sto_log_rotate(struct sto_log *l);

/* Start a flush if there is anything to make durable (end of a loop iteration). */
void sto_log_flush(struct sto_log *l, uint64_t now_ms);

/* Hooks of logs whose cfg names none (benchmarks, tools). */
extern struct sto_log_hooks sto_log_hooks;

/* CQE kinds the log uses; the reactor's table must route them here. */
void sto_log_on_write(struct iou_core *io, struct iou_op *op, struct io_uring_cqe *cqe);
void sto_log_on_fsync(struct iou_core *io, struct iou_op *op, struct io_uring_cqe *cqe);

/* ---- recovery -------------------------------------------------------------------- */

struct sto_scan_stats {
	uint64_t segments;
	uint64_t records;
	uint64_t bytes;
	uint64_t torn_tails;
	uint64_t corrupt;
	uint32_t max_epoch;
};

/*
 * Read every segment under dir in write order and call apply for each
 * valid record (loc is its location in the registry). A record that fails
 * its CRC is never passed on: at a segment's tail it is a torn write and
 * ends the segment; followed by valid records it is reported (segment and
 * offset) as corruption and skipped. Main thread, before the cores start.
 */
typedef void sto_apply_fn(void *arg, unsigned worker, const struct sto_rec_hdr *h, const uint8_t *payload,
			  uint64_t loc);
/* The newest epoch among the segment files' names in dir (0: none). */
uint32_t sto_log_max_epoch(const char *dir);
/* workers threads each read every segment; apply keeps a record on one worker only. */
int sto_log_scan(const char *dir, unsigned workers, sto_apply_fn *apply, void *arg, struct sto_scan_stats *st);

/* Read one record at loc (header checked, CRC verified). buf must hold HRL_RECORD_BYTES_MAX. */
int sto_log_read(uint64_t loc, struct sto_rec_hdr *h, uint8_t *buf, size_t cap);
/*
 * The same on the log's own core, where loc may also be a record still in
 * the write buffer (not yet written, or not yet durable).
 */
int sto_log_read_own(const struct sto_log *l, uint64_t loc, struct sto_rec_hdr *h, uint8_t *buf, size_t cap);

/*
 * Check one segment image (header, then records) and call apply for each
 * valid record; loc is STO_LOC(idx, offset). Returns the used length (0 if
 * the header is damaged). report: log torn tails and corruption and count
 * them in st (may be NULL when !report).
 */
size_t sto_segment_scan(const char *path, const uint8_t *m, size_t size, uint32_t idx, sto_apply_fn *apply,
			void *arg, struct sto_scan_stats *st, unsigned worker, bool report);
/*
 * Map a segment file (plain or LZ4 form) for reading: *m and *size, and
 * *release to free it with sto_segment_unmap. 0 or -errno.
 */
int sto_segment_map(const char *path, bool lz4, const uint8_t **m, size_t *size, void **release);
void sto_segment_unmap(const uint8_t *m, size_t size, void *release);

/* ---- fault injection --------------------------------------------------------------------- */

/*
 * HERALD_FAULTS="kind@n[,kind@n...]": the n-th operation of that kind (counted
 * over all cores from 1) fails. Kinds: write_eio, write_enospc, write_short,
 * fsync_eio, crash_drop (exit before the n-th write reaches the disk),
 * crash_torn (write the first half of the n-th write's blocks, then exit).
 * Parsed once at start-up. 0 or -EINVAL.
 */
int sto_faults_parse(const char *spec);

#endif
