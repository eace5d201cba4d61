/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.h - Herald's wire-protocol server: one listener, connection table
 * and state shard per core.
 *
 * Path of a request (see docs/ARCHITECTURE.md):
 *   kernel picks a core's SO_REUSEPORT listener -> that core owns the
 *   connection -> multishot recv into a provided buffer -> frames cut out
 *   and checked (net_conn_feed) -> the opcode table says where the request
 *   runs: here, on the core owning the user's partition, on the core owning
 *   an alias, on core 0 (app directory) or on every core in turn -> the
 *   answer frame is appended to the connection's output and sent in one
 *   batch at the end of the loop iteration.
 *
 * A request that must run elsewhere travels as a `struct net_call` on the
 * SPSC rings and comes back the same way; the connection's core allocates
 * and frees it.
 */
#ifndef NET_SERVER_H
#define NET_SERVER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/hash.h"
#include "io/reactor.h"
#include "net/wire.h"
#include "store/alias_index.h"
#include "store/apps.h"
#include "store/events.h"
#include "store/log.h"
#include "store/users.h"
#include "fanout/run.h"

struct net_config {
	char listen_host[64];
	uint16_t listen_port;         /* 0: ephemeral, read back after bind */
	unsigned cores;
	bool pin;
	unsigned partitions;
	uint32_t read_stall_ms;
	struct base_hash_key hash_key;
	uint8_t admin_secret[HRL_SECRET_BYTES];
	char log_dir[4096];
	struct sto_log_cfg log;   /* log.dir points at log_dir; epoch set by recovery */
	uint64_t compact_bytes;   /* start a compaction round after this many bytes */
	char events_dir[4096];
	struct sto_log_cfg events; /* events.dir points at events_dir; epoch from recovery */
	uint64_t retention_ms;    /* receipt segments older than this are deleted */
	bool fanout_null_sink;    /* vendor calls go nowhere: every address accepted (benchmarks) */
};

struct net_core;

struct net_conn {
	struct iou_op recv_op;
	struct iou_op send_op;
	struct net_core *nc;
	int fd;
	uint32_t idx;
	uint32_t gen;
	uint32_t inflight;       /* requests running on other cores */
	uint8_t ops_pending;     /* io_uring operations not yet completed */
	bool recv_armed;
	bool send_busy;
	bool dirty;              /* on the core's flush list */
	bool paused;             /* too much unanswered: not parsing input */
	bool rd_closed;          /* EOF or shut down: answer what is in flight, then close */
	bool close_after_flush;  /* framing lost or auth failed */
	bool closing;            /* fd shut down, waiting for completions */
	bool hello;
	bool authed;
	bool nonce_valid;
	uint8_t role;
	uint16_t app_idx;
	uint64_t partial_since_ms;
	struct base_buf in;
	struct base_buf out;
	struct base_buf sending;
	struct net_conn *dirty_next;
	struct net_conn *rearm_next;
	uint8_t nonce[HRL_NONCE_BYTES];
};

struct net_server;

enum net_compact_state {
	NET_COMPACT_IDLE = 0,
	NET_COMPACT_REWRITING = 1, /* rewriting live records found in obsolete segments */
	NET_COMPACT_SYNCING = 2,   /* waiting for the rewrites to be durable */
	NET_COMPACT_DONE = 3,      /* waiting until old segments may be deleted */
};

/* One core's compaction: see net/compact.c. */
struct net_compact {
	uint8_t state;
	bool found;              /* this pass rewrote something: make another */
	bool epoch_counted;      /* counted in net_server.cores_compacted */
	uint32_t before_n;       /* own segments numbered below are obsolete */
	size_t pos;              /* slot of the users table reached */
	uint64_t last_lsn;
	uint64_t bytes_at_start; /* log bytes when this round started */
	uint64_t round_bytes;    /* bytes the last round rewrote */
	uint32_t rounds;
	uint32_t passes;
	uint64_t rewritten;
	uint64_t segments_deleted;
	uint64_t bytes_reclaimed;
};

struct net_core {
	struct iou_core io;      /* first: net_core and iou_core convert */
	struct net_server *srv;
	unsigned id;
	int listen_fd;
	struct iou_op accept_op;
	bool accept_armed;
	bool draining;
	bool drain_reported;
	struct net_conn **conns;
	uint32_t conn_cap;
	uint32_t conns_open;
	uint32_t *free_idx;
	uint32_t free_count;
	uint32_t next_gen;
	struct net_conn *dirty;
	struct net_conn *rearm;  /* recv to re-arm (ENOBUFS) */
	uint32_t partitions_owned;

	struct sto_apps apps;    /* replica; core 0 owns the directory */
	struct sto_users users;
	struct sto_alias_index aliases;
	struct sto_log log;
	struct sto_log evlog;    /* receipts */
	struct sto_events events;
	struct net_call *ev_wait_head; /* calls waiting for the event log */
	struct net_call *ev_wait_tail;
	uint64_t *part_seq;      /* last record sequence per partition (own partitions) */
	uint64_t apps_seq;       /* core 0 */
	uint64_t apps_loc[HRL_APPS_MAX]; /* core 0: latest record of each app */
	struct net_call *wait_head; /* calls waiting for their record to be durable */
	struct net_call *wait_tail;
	struct net_compact compact;
	struct net_call *room_head; /* calls waiting for room in the log, through wait_next */
	struct net_call *room_tail;
	struct net_call *call_pool; /* free calls, linked through wait_next */
	uint32_t call_pool_count;

	struct fan_core fan;     /* this core's share of every campaign (fanout/run.h) */
	uint64_t fan_next_id;    /* core 0: the next campaign id */
	uint64_t fan_unbound;    /* addresses unbound as invalid */
	bool fan_store_warned;

	uint64_t requests_total;
	uint64_t forwarded_total;
	uint64_t accepted_total;
	pthread_t thread;
	int setup_rc;
};

struct net_server {
	struct net_config cfg;
	unsigned ncores;
	struct net_core *cores[HRL_CORES_MAX];
	struct iou_core *io[HRL_CORES_MAX];
	int stopping;            /* atomic: set by the signal thread */
	unsigned cores_drained;  /* atomic */
	uint64_t started_unix_ms;
	struct sto_scan_stats recovered;
	uint64_t recovery_ms;
	unsigned cores_compacted;  /* atomic: cores done with a round this epoch */
	struct sto_counters counters_base; /* read-only: counts of earlier runs */
	struct sto_events_recovery ev_recovered;
	int ev_recover_rc;
	uint64_t last_expire_ms;   /* core 0 */
	int old_epochs_gone;       /* atomic: earlier epochs' segments deleted */
};

static inline struct net_core *net_core_of(struct iou_core *c)
{
	return (struct net_core *)c; /* io is the first member */
}

/* Create listeners and per-core state. 0 or -errno. Main thread. */
int net_server_init(struct net_server *s, const struct net_config *cfg);
/* Start one thread per core. 0 or -errno. */
int net_server_start(struct net_server *s);
/* Ask every core to drain and stop (any thread, async-signal-safe). */
void net_server_request_stop(struct net_server *s);
/* Join the core threads, then free everything. */
void net_server_wait(struct net_server *s);

/* Owner core of a partition. */
static inline unsigned net_partition_core(const struct net_server *s, uint32_t partition)
{
	return partition % s->ncores;
}

/* ---- used by net/ops.c ------------------------------------------------------ */

/*
 * A request in progress away from its connection's core. Allocated by the
 * connection's core (origin), which also frees it when the answer is back.
 */
struct net_call {
	uint16_t opcode;
	uint16_t origin;
	uint16_t app_idx;
	uint8_t role;
	uint8_t step;
	uint32_t conn_idx;
	uint32_t conn_gen;
	uint64_t request_id;
	uint64_t wait_lsn;       /* durable wait: its record's LSN */
	uint64_t user_hash;      /* hash of the body's user id, 0 if not computed */
	int resume_core;         /* where to go once durable, -1: finish */
	uint8_t wait_stream;     /* enum sto_stream the durable wait is on */
	struct net_call *wait_next;
	struct net_wr w;         /* the answer frame being written into resp */
	struct base_buf resp;
	struct base_buf scratch; /* op-specific state between steps */
	uint32_t body_len;
	uint8_t body[];
};

/* What a handler sees. */
struct net_ctx {
	struct net_core *nc;
	struct net_conn *conn;   /* only for ops that run on the connection's core */
	struct net_call *call;   /* NULL when run inline */
	uint16_t opcode;
	uint64_t request_id;
	uint16_t app_idx;
	uint8_t role;
	const uint8_t *body;
	uint32_t body_len;
	struct base_buf *out;    /* the answer frame goes here */
	int next_core;           /* >= 0: continue on that core (calls only) */
	uint64_t wait_lsn;       /* > 0: answer only once the log is durable past it */
	bool wait_events;        /* ... the event log, not the state log */
	uint64_t user_hash;      /* routing already hashed the body's user id (0: not) */
	bool retry;              /* no room in the log: run this step again after the next flush */
};

enum net_route {
	NET_ROUTE_HERE,   /* the connection's core */
	NET_ROUTE_USER,   /* owner of hash(app, user_id), user_id first in body */
	NET_ROUTE_ALIAS,  /* owner of hash(app, alias_type, alias), both first in body */
	NET_ROUTE_APPS,   /* core 0, then every other core */
	NET_ROUTE_ALL,    /* core 0, 1, ... n-1 in turn */
};

#define NET_ROLE_NONE  0x1 /* before AUTH (HELLO done) */
#define NET_ROLE_APP   0x2
#define NET_ROLE_ADMIN 0x4

typedef void net_op_fn(struct net_ctx *x);

struct net_op_desc {
	net_op_fn *fn;
	uint8_t roles;    /* NET_ROLE_* allowed */
	uint8_t route;    /* enum net_route */
	bool multi_step;  /* always run as a call */
	bool mutates;     /* writes the store: always a call, waits for durability */
};

extern const struct net_op_desc net_ops[HRL_OP_TABLE_SIZE];

/* Begin the OK answer in x->out. */
void net_ctx_begin(struct net_ctx *x, struct net_wr *w);
/* Finish it; an encoding failure turns into an E_INTERNAL answer. */
void net_ctx_end(struct net_ctx *x, struct net_wr *w);
/* Replace whatever was begun with an error answer. */
void net_ctx_error(struct net_ctx *x, uint16_t code, const char *msg);

/* Partition and owner core of a user / an alias. */
uint32_t net_user_partition(const struct net_server *s, uint64_t user_hash);

/* Close the connection once its answers are sent (auth failure). */
void net_conn_close_after_flush(struct net_conn *c);

/*
 * Store helpers for handlers (net/ops.c). Check room before changing a
 * user (u may be NULL for a new one). net_store_user commits the changed
 * view (store/users.h) to the core's table and appends its record (a user
 * left empty is deleted); 0, or -ENOMEM with the table and the log
 * unchanged: the handler answers the error. Room: true, or an error
 * already answered (or the call set to retry) and false returned.
 */
bool net_store_room(struct net_ctx *x, const struct sto_user *u);
int net_store_user(struct net_ctx *x, struct sto_user *u);
bool net_store_app_room(struct net_ctx *x);
void net_store_app(struct net_ctx *x, uint16_t idx);

/* Load the store into the cores' tables (main thread, before start). 0 or -errno. */
int net_server_recover(struct net_server *s);

/* Compaction (net/compact.c), on the core's thread. */
void net_compact_tick(struct net_core *nc);
void net_compact_slice(struct net_core *nc);
void net_compact_restart(struct net_core *nc);
/* Append a user's current state again (compaction). false: no room now. */
bool net_store_user_again(struct net_core *nc, struct sto_user *u, uint64_t *lsn);
bool net_store_app_again(struct net_core *nc, uint16_t idx, uint64_t *lsn);

#endif
