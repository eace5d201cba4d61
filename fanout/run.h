/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run.h - one core's share of every campaign: enumerate, resolve, render,
 * batch, send, record.
 *
 * Each core runs every campaign over its own users only. Pipeline, each
 * stage pulling from the one before and every stage bounded:
 *
 *   enumerate  the core's users by class (the low 16 bits of the user's
 *              hash; "windows" of classes holding about FAN_WINDOW_USERS
 *              users: base_htab32_classes over the users' index), or the core's entries of an
 *              explicit list; only while fewer than FAN_BATCHES_SOFT
 *              batches are out and FAN_WINDOWS_MAX windows are open;
 *   resolve    the matched user's active devices on the campaign's
 *              channels -> a target (fan_target_of) per address;
 *   render     the templates once per campaign, or once per address when
 *              they read the user's values (then one address per call);
 *   batch      per (campaign, target), up to the vendor's batch_max,
 *              flushed when full, after FAN_LINGER_MS, or when the core's
 *              enumeration of the campaign ends;
 *   send       one vendor call per batch through env->send (HTTP or a null
 *              sink), transactional lane first, under the per-core share
 *              of the vendor's rate limit and daily quota, at most
 *              2 x connections calls in flight per (app, target), a circuit
 *              breaker per (app, target);
 *   record     the answer (fan_fmt/fan_parse_answer) gives one outcome per
 *              address: sent and failed addresses get a receipt
 *              (env->receipt, the event log), invalid tokens are unbound
 *              first (env->invalid), retryable ones wait with capped
 *              exponential backoff and jitter and go again.
 *
 * Progress: a window is done when every address it produced has its final
 * receipt and those receipts are durable; the campaign's cursor on this
 * core (done_below) then moves past it and is logged (env->progress). After
 * a crash the core starts again at its cursor: re-sent addresses are at
 * most those of the windows that were open.
 *
 * Everything here runs on the core's thread.
 */
#ifndef FANOUT_RUN_H
#define FANOUT_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/htab32.h"
#include "fanout/campaign.h"
#include "fanout/vendor_fmt.h"
#include "store/events.h"
#include "store/users.h"

#define FAN_WINDOW_USERS    256u   /* users a window holds, on average */
#define FAN_WINDOWS_MAX     64u    /* open windows per campaign and core */
#define FAN_BATCHES_SOFT    48u    /* batches out per core before enumeration pauses */
#define FAN_TX_BATCHES      16u    /* more that the transactional lane may have out */
#define FAN_LINGER_MS       5u     /* a partial batch waits at most this long */
#define FAN_RETRIES_MAX     6u     /* attempts of one address before it fails */
#define FAN_BACKOFF_BASE_MS 100u
#define FAN_BACKOFF_MAX_MS  10000u
#define FAN_BREAKER_FAILS   5u     /* consecutive failed calls that open the breaker */
#define FAN_PROGRESS_MS     20u    /* progress logged at most this often per campaign */
#define FAN_TX_CONNS(c)     (c) /* the transactional lane's connections per core: as many as the bulk lane's */
#define FAN_HASH_END        ((uint64_t)BASE_HTAB32_CLASSES) /* the cursor of a walk over users: a class */
#define FAN_KEEP_FINISHED_MS (10u * 60u * 1000u) /* a finished campaign's status is kept at least this long */

enum fan_count {
	FAN_C_SCANNED,
	FAN_C_RECIPIENTS,
	FAN_C_QUEUED,
	FAN_C_SENT,
	FAN_C_FAILED,
	FAN_C_INVALID,
	FAN_C_NO_ADDRESS,
	FAN_C_RESENT,
	FAN_C_CALLS,
	FAN_C_COUNT
};

/* Outcome of an address beyond enum fan_outcome (fan_batch.out). */
#define FAN_OUT_CANCELLED  (FAN_OUT_COUNT + 0)
#define FAN_OUT_NO_VENDOR  (FAN_OUT_COUNT + 1)
#define FAN_OUT_TRANSPORT  (FAN_OUT_COUNT + 2) /* no HTTP answer: refused, reset, timeout */
#define FAN_OUT_DONE_FLAG  0x80u               /* its receipt is written */
#define FAN_OUT_UNBOUND    0x40u               /* invalid: the address was unbound */

struct fan_addr {
	uint64_t user_hash;
	uint32_t device_id;
	uint32_t window;   /* sequence number of its window in the campaign */
	uint32_t tok_off;  /* NUL-terminated, in the batch's strings */
	uint32_t uid_off;
	uint32_t title_off;  /* personal: its own texts in the batch's strings */
	uint32_t body_off;
	uint8_t uid_len;
	uint8_t channel;
	uint8_t vendor;
	uint8_t attempts;
};

enum fan_batch_state {
	FAN_B_FILLING = 1,
	FAN_B_READY,
	FAN_B_INFLIGHT,
	FAN_B_ANSWERED,
	FAN_B_WAIT,
};

struct fan_run;

struct fan_batch {
	struct fan_batch *next;
	struct fan_run *run;
	uint8_t target;
	uint8_t state;
	uint8_t step;          /* vivo: 0 saveListPayload, 1 pushToList */
	bool personal;         /* each address has its own title and body (fan_addr) */
	uint16_t n;
	uint16_t done;         /* addresses [0, done) have their receipts */
	uint64_t first_ms;     /* when its first address came */
	uint64_t retry_at_ms;
	uint64_t sent_us;      /* enqueue of the call, for latency */
	uint64_t call_id;      /* the request id vivo and webhooks get: the same on every retry */
	char code[FAN_CODE_BYTES_MAX];
	char task_id[FAN_TASK_ID_BYTES_MAX];
	char *str;             /* tokens, user ids, personal texts */
	uint32_t str_len, str_cap;
	uint8_t out[FAN_BATCH_TOKENS_MAX];
	const char *tokens[FAN_BATCH_TOKENS_MAX];
	struct fan_addr a[FAN_BATCH_TOKENS_MAX];
};

/* A part of an upload this core holds: rows in a record of its log. */
struct fan_chunk {
	uint64_t loc;        /* the STO_REC_UPLOAD record */
	uint32_t rows;
	uint32_t first_line; /* the client's line number of the chunk's first line (for reports) */
};

struct fan_window {
	uint64_t end;      /* cursor value once this window is done */
	uint32_t pending;  /* addresses without a final receipt */
	uint64_t ev_lsn;   /* the event log must be durable past this */
	uint32_t cnt[FAN_C_COUNT]; /* what its users and addresses counted */
};

struct fan_run {
	uint64_t id;
	uint16_t app_idx;
	uint8_t state;         /* enum fan_state (RUNNING even when this core is done) */
	bool local_done;       /* this core has nothing more to do */
	uint64_t created_ms;
	struct fan_compiled k;
	char *title, *body;    /* rendered once (not personal) */
	uint64_t next;         /* hash cursor, or list index */
	size_t list_pos;       /* list: byte position of entry next */
	uint64_t done_below;   /* durable progress */
	uint32_t win_first;    /* sequence number of win[0] */
	uint32_t win_count;
	struct fan_window win[FAN_WINDOWS_MAX];
	struct fan_batch *filling[FAN_TARGET_COUNT];
	uint32_t batches_out;  /* batches of this campaign not yet recorded */
	uint64_t cnt[FAN_C_COUNT];      /* live */
	uint64_t cnt_done[FAN_C_COUNT]; /* of the windows below done_below (what progress logs) */
	uint64_t first_call_us;
	uint64_t progress_ms;
	bool progress_dirty;
	uint64_t progress_version;
	/* upload audience: the rows this core holds, and where enumeration is in them */
	struct fan_chunk *chunks;
	uint32_t chunk_count, chunk_cap;
	uint64_t rows_total;
	bool upload_closed;    /* no more rows will come */
	uint32_t cur_chunk;    /* the chunk cur_rows is read from, UINT32_MAX: none */
	uint64_t cur_first;    /* row index of its first row */
	const char *cur_rows;  /* its text (env->read_rows' buffer) */
	size_t cur_len;
	size_t cur_off;        /* byte offset of row next */
	uint64_t cores_done;   /* core 0: bit c set once core c reported the campaign done there */
	uint64_t def_loc;      /* core 0: its latest STO_REC_CAMPAIGN (the store's business) */
	uint64_t progress_loc; /* its latest STO_REC_PROGRESS on this core */
};

/* Per (app, target) on this core. */
struct fan_link {
	void *pool[2];         /* the sink's connection pools, per lane (env->send owns them) */
	uint32_t pool_version[2]; /* vendor version each pool was made for */
	uint32_t inflight[2];  /* calls out, per lane: the transactional lane has its own connections */
	double bucket;         /* rate limit tokens (addresses) */
	uint64_t bucket_ms;
	uint64_t quota_day;    /* day number the quota counts */
	uint64_t quota_used;
	uint32_t fails;        /* consecutive failed calls */
	uint64_t open_until_ms;/* breaker open until */
	uint32_t open_ms;      /* the last open period */
};

struct fan_status {
	uint8_t state;
	uint8_t audience;
	uint8_t lane;
	uint64_t created_ms;
	uint64_t cnt[FAN_C_COUNT];      /* live */
	uint64_t cnt_done[FAN_C_COUNT]; /* of the windows below done_below (what progress logs) */
	uint64_t first_call_us;
	uint64_t progress_ppm_sum; /* over cores: divide by cores */
	uint32_t inflight;
	uint32_t cores;
	uint32_t cores_done;
};

struct fan_core;

/* What the core around the pipeline provides (net/ implements it). */
struct fan_env {
	void *ctx;
	/* owner core and hash of (app, user id) */
	unsigned (*owner)(void *ctx, uint16_t app, const char *id, size_t len, uint64_t *hash);
	/* append a receipt: 0 (*lsn set), -ENOBUFS (no room now: again later), other: cannot */
	int (*receipt)(void *ctx, const struct sto_receipt *r, uint64_t *lsn);
	uint64_t (*events_durable)(void *ctx);
	/* unbind the device (an invalid token): 0, -ENOBUFS (again later), other: gave up */
	int (*invalid)(void *ctx, uint16_t app, uint64_t hash, const char *uid, size_t uid_len, uint32_t device_id,
		       const char *token);
	/* the run has just become done on this core (local_done); may be NULL */
	void (*done)(void *ctx, const struct fan_run *r);
	/* log the run's progress: 0 or -ENOBUFS */
	int (*progress)(void *ctx, const struct fan_run *r);
	/* the rows of an upload record: *text valid until the next call; 0 or -EIO */
	int (*read_rows)(void *ctx, uint64_t loc, const char **text, size_t *len);
	/* start the call on the campaign's lane (b->run->k.spec.lane: link->pool[lane]): 0 (an answer
	   comes through fan_batch_answer), -EBUSY (again later);
	   NULL: a null sink that accepts every address at once (benchmarks) */
	int (*send)(void *ctx, struct fan_core *fc, struct fan_batch *b, const struct fan_vendor *v,
		    struct fan_link *lane, const void *req, size_t len);
};

struct fan_core {
	struct fan_env env;
	struct sto_users *users;
	unsigned core, ncores;
	uint64_t now_ms;
	struct fan_run **runs;
	uint32_t run_count;
	uint32_t rr;
	struct fan_vendor *vendors[HRL_APPS_MAX]; /* [FAN_TARGET_COUNT] each, NULL: none set */
	struct fan_link *links[HRL_APPS_MAX];     /* [FAN_TARGET_COUNT] each */
	struct fan_batch *ready;                 /* FIFO: head */
	struct fan_batch *ready_tail;
	struct fan_batch *answered;              /* LIFO */
	struct fan_batch *waiting;               /* retries */
	struct fan_batch *free;
	uint32_t batches_out;                    /* allocated and in use */
	uint64_t seq;                            /* SMS nonces, retry jitter */
	uint64_t batch_seq;                      /* call ids of the batches */
	uint64_t boot_ms;                        /* when this run of the engine began: ids differ across restarts */
	char *req_buf;                           /* one request being encoded */
	size_t req_cap;
	uint64_t lat_us[64];                     /* enqueue -> answer, log2 buckets of microseconds */
};

int fan_core_init(struct fan_core *fc, const struct fan_env *env, struct sto_users *users, unsigned core,
		  unsigned ncores);
void fan_core_free(struct fan_core *fc);

/*
 * Install a campaign on this core (created, or recovered with its cursor
 * and counts). 0, -EEXIST (already here), -ENOSPC (FAN_CAMPAIGNS_MAX),
 * -EINVAL (definition does not compile), -ENOMEM.
 */
int fan_core_add(struct fan_core *fc, uint64_t id, uint16_t app, uint8_t state, uint64_t created_ms,
		 const uint8_t *def, size_t len, uint64_t done_below, const uint64_t *cnt);
struct fan_run *fan_core_find(struct fan_core *fc, uint64_t id);
/* Is there room for one more campaign (forgetting an old finished one if need be)? */
bool fan_core_room(struct fan_core *fc);
/* Upload audience: rows this core holds (a record at loc), or the end of the upload. 0 or -ENOMEM. */
int fan_run_add_chunk(struct fan_run *r, uint64_t loc, uint32_t rows, uint32_t first_line);
void fan_run_close_upload(struct fan_run *r);
/* Pause, resume or cancel here. */
void fan_core_set_state(struct fan_core *fc, struct fan_run *r, uint8_t state);
/* VENDOR_SET on this core (copied). 0 or -ENOMEM. */
int fan_core_vendor_set(struct fan_core *fc, uint16_t app, const struct fan_vendor *v);
const struct fan_vendor *fan_core_vendor(const struct fan_core *fc, uint16_t app, unsigned target);

/* Do a bounded amount of work. true: more is waiting (do not sleep). */
bool fan_core_poll(struct fan_core *fc, uint64_t now_ms);

/* The vendor's answer to b's call (status: HTTP status, or -errno for none). */
void fan_batch_answer(struct fan_core *fc, struct fan_batch *b, int status, const char *body, size_t len);

/* Add this core's part of the campaign to *st. */
void fan_core_status(const struct fan_core *fc, const struct fan_run *r, struct fan_status *st);

/* Progress of the run on this core, parts per million. */
uint32_t fan_run_ppm(const struct fan_run *r);

#endif
