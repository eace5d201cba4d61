/* SPDX-License-Identifier: Apache-2.0 */
/*
 * herald.h - libherald, the C client of Herald wire protocol v1.
 *
 * Three layers, each built on the one below:
 *
 *   1. Pipelining. herald_req_begin .. herald_req_end (or herald_submit, or
 *      a herald_submit_<op>) appends one request frame to the connection's
 *      output buffer and hands back its request id; nothing is sent yet.
 *      herald_flush sends the buffer; herald_recv returns the next answer,
 *      whatever request it answers (the engine may answer out of order),
 *      and sends anything still buffered first. Many frames go out in one
 *      send() and come in with one recv(); no memory is allocated per
 *      frame once the buffers have grown to the working size.
 *   2. Decoding. herald_decode_<op> turns one answer into C values.
 *   3. Blocking calls. herald_<op> = submit + wait for that answer + decode.
 *      They need a connection with no pipelined request outstanding.
 *
 * Return values, everywhere:
 *
 *   0          success
 *   -errno     the library or the transport failed: -ECONNRESET (the engine
 *              closed), -ETIMEDOUT, -EPROTO (the engine sent a frame that
 *              breaks the protocol: bad magic, version, flags or CRC, a
 *              body that does not decode exactly, an answer to a request
 *              that was never sent), -EINVAL, -EMSGSIZE, -ENOMEM, -EBUSY,
 *              -ENOTCONN (the connection is unusable after an earlier
 *              failure; close it). See herald_strerror.
 *   > 0        the engine answered with an error frame; the value is its
 *              HRL_E_* code (include/herald_proto.h). Blocking calls
 *              return it and keep the message for herald_errmsg();
 *              herald_decode_* return it for an error reply, whose code
 *              and message are also in herald_reply.error / .message.
 *
 * After -EPROTO, -ETIMEDOUT from a blocking call, or an error that closes
 * the connection (HRL_E_AUTH_FAILED, HRL_E_BAD_MAGIC, HRL_E_FRAME_TOO_LARGE,
 * HRL_E_TIMEOUT), the connection is dead: every later call returns an error
 * and the only thing left to do is herald_close.
 *
 * Threads: a connection belongs to one thread at a time. Different
 * connections may be used from different threads at once. Functions that
 * take no connection (herald_secret_*, names, herald_decode_*) may be
 * called from any thread.
 *
 * Strings passed in are NUL-terminated UTF-8 and are copied before the
 * call returns. Strings handed back are NUL-terminated.
 */
#ifndef HERALD_H
#define HERALD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "include/bounds.h"
#include "include/herald_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

struct herald_conn; /* opaque */

/* ---- connection ------------------------------------------------------- */

/*
 * Connect to "host:port" ("127.0.0.1:7600", "localhost:7600", "[::1]:7600";
 * without ":port" the port is 7600). timeout_ms bounds the connect and
 * becomes the connection's I/O timeout (see herald_set_timeout); a negative
 * value means no limit. On success *connp is a new connection, to be
 * released with herald_close. Returns 0 or -errno (-EINVAL for a malformed
 * address, -ENXIO for a host that does not resolve, -ECONNREFUSED,
 * -ETIMEDOUT, ...). No frame is exchanged: call herald_login next.
 * Any thread; the connection may then move between threads, used by one
 * at a time.
 */
int herald_connect(const char *addr, int timeout_ms, struct herald_conn **connp);

/*
 * Close the socket and free everything: c, and every reply, error message
 * and server name pointer taken from it, become invalid. Blocks built by
 * herald_decode_* stay valid. NULL is allowed. The thread that owns c.
 */
void herald_close(struct herald_conn *c);

/*
 * How long one wait for the engine may last, in milliseconds: a negative
 * value waits for ever, 0 does not wait at all. Bounds each herald_recv,
 * each herald_flush (also the one herald_req_begin may start) and the
 * wait for the answer of a blocking call; a blocking call that times out
 * leaves the connection dead, herald_recv and herald_flush do not.
 */
void herald_set_timeout(struct herald_conn *c, int timeout_ms);

/*
 * The socket, for poll() by callers that run their own event loop. Valid
 * until herald_close; do not read, write or close it yourself.
 */
int herald_fd(const struct herald_conn *c);

/*
 * The engine's error of the last blocking call that returned > 0: its code
 * (0 if the last call did not end with an engine error) and its message
 * ("" if none). The string stays valid until the next call on c.
 */
int herald_errcode(const struct herald_conn *c);
const char *herald_errmsg(const struct herald_conn *c);

/*
 * Text for any return value of this library: "OK" for 0, the protocol name
 * of an engine error ("E_NOT_FOUND") for > 0, strerror() for -errno.
 * Static storage (strerror's for -errno); any thread.
 */
const char *herald_strerror(int rc);
/* Protocol name of an HRL_E_* code, "E_UNKNOWN" if not a v1 code. */
const char *herald_err_name(int code);

/* ---- secrets ----------------------------------------------------------- */

/*
 * Parse a secret written as 64 hex digits (either case), optionally
 * followed by whitespace (a trailing newline as in admin.secret). Returns 0
 * or -EINVAL. Any thread.
 */
int herald_secret_parse(const char *hex, uint8_t secret[HRL_SECRET_BYTES]);
/* Write the 64 lowercase hex digits and a NUL into out. Any thread. */
void herald_secret_format(const uint8_t secret[HRL_SECRET_BYTES],
			  char out[2 * HRL_SECRET_BYTES + 1]);
/*
 * Read a secret file (64 hex digits, optional newline). Returns 0, -EINVAL
 * if the content is not a secret, or the -errno of open/read.
 */
int herald_secret_read_file(const char *path, uint8_t secret[HRL_SECRET_BYTES]);

/* ---- session ----------------------------------------------------------- */

struct herald_hello_info {
	uint8_t version;
	uint16_t core_count;
	uint32_t max_body_bytes;
	uint8_t nonce[HRL_NONCE_BYTES];
	const char *server_name; /* valid until the next HELLO or close */
};

/*
 * HELLO: agree on version 1 and fetch a nonce for AUTH. client_name may be
 * NULL ("libherald"); at most HRL_CLIENT_NAME_BYTES_MAX bytes. info may be
 * NULL. Returns 0, -errno or an engine error code.
 */
int herald_hello(struct herald_conn *c, const char *client_name, struct herald_hello_info *info);

/*
 * AUTH with the nonce of the last successful herald_hello (-EINVAL if there
 * is none; a nonce is good for one AUTH). mac = HMAC-SHA256(secret,
 * nonce || app_id). role (may be NULL) gets HRL_ROLE_APP or HRL_ROLE_ADMIN.
 * A wrong secret returns HRL_E_AUTH_FAILED and the connection is dead.
 */
int herald_auth(struct herald_conn *c, const char *app_id, const uint8_t secret[HRL_SECRET_BYTES],
		uint8_t *role);

/* herald_hello then herald_auth. Same returns. */
int herald_login(struct herald_conn *c, const char *app_id,
		 const uint8_t secret[HRL_SECRET_BYTES]);

/* ---- pipelining ---------------------------------------------------------- */

/*
 * Build a request in place, at the end of the output buffer:
 *   herald_req_begin(c, HRL_OP_TAG_ADD);
 *   herald_req_str(c, "alice"); herald_req_u16(c, 1); herald_req_str(c, "vip");
 *   herald_req_end(c, &id);
 * Field functions never fail by themselves; a failure (body over
 * HRL_FRAME_BODY_BYTES_MAX, a str over 65535 bytes, out of memory) is
 * remembered and reported by herald_req_end, which then drops the request.
 * No other call on c may come between begin and end (that aborts).
 * herald_req_begin returns 0; -ENOTCONN if the connection is closed or
 * dead; or, when more than 256 KiB are already buffered, whatever the
 * herald_flush it starts returns (-ETIMEDOUT, -errno of the socket), and
 * then nothing was begun. herald_req_end returns 0 and the new request id
 * in *request_id (may be NULL; ids go up by one, never 0), or -EMSGSIZE /
 * -ENOMEM, and then the request is dropped whole.
 */
int herald_req_begin(struct herald_conn *c, uint16_t opcode);
void herald_req_u8(struct herald_conn *c, uint8_t v);
void herald_req_u16(struct herald_conn *c, uint16_t v);
void herald_req_u32(struct herald_conn *c, uint32_t v);
void herald_req_u64(struct herald_conn *c, uint64_t v);
void herald_req_str(struct herald_conn *c, const char *s);            /* NUL-terminated */
void herald_req_strn(struct herald_conn *c, const char *s, size_t n); /* n bytes */
void herald_req_raw(struct herald_conn *c, const void *p, size_t n);
int herald_req_end(struct herald_conn *c, uint64_t *request_id);

/*
 * One request whose body is already encoded (for instance with net_wr_*
 * of net/wire.h, or by hand). body may be NULL when body_len is 0.
 * Returns like herald_req_end.
 */
int herald_submit(struct herald_conn *c, uint16_t opcode, const void *body, size_t body_len,
		  uint64_t *request_id);

/*
 * Send everything buffered. While the socket is full it also reads answers
 * into the input buffer, so a client that pipelines much more than the
 * engine will hold cannot deadlock. Returns 0, -ETIMEDOUT (what is left
 * stays buffered), or -errno of the socket.
 */
int herald_flush(struct herald_conn *c);

/* Requests submitted whose answer herald_recv has not returned yet. Any
 * thread that owns c. */
size_t herald_inflight(const struct herald_conn *c);

/*
 * One answer. body/message point into the connection's input buffer and
 * stay valid until the next call on the connection.
 */
struct herald_reply {
	uint64_t request_id; /* 0: a connection-level error (section 6) */
	uint16_t opcode;     /* the request's opcode (0 with request_id 0) */
	uint16_t error;      /* 0, or the HRL_E_* code of an error answer */
	const char *message; /* error message, not NUL-terminated; NULL if no error */
	size_t message_len;
	const uint8_t *body; /* the answer body (of an error: the raw error body) */
	size_t body_len;
};

/*
 * Send what is buffered, then wait (up to the connection's timeout) for the
 * next answer and fill *r. Every frame is checked in full: magic, version,
 * RESPONSE flag, no unknown flags, length, CRC, a known opcode, and a body
 * that decodes exactly as section 5 of the protocol says (an error body as
 * u16 code + str message). Returns 0, -ETIMEDOUT (nothing lost; call
 * again), -EPROTO (the connection is dead), -ECONNRESET when the engine
 * closed and every answer it sent has been returned, or -errno.
 */
int herald_recv(struct herald_conn *c, struct herald_reply *r);

/* ---- enumerations -------------------------------------------------------- */

/*
 * Names of channels ("push", "sms", "email", "wechat", "webhook"), vendors
 * ("none", "apns", "fcm", "huawei", "xiaomi", "oppo", "vivo", "honor",
 * "meizu") and platforms ("none", "android", "ios", "harmony", "web").
 * *_name returns NULL for a value outside the table; *_parse returns the
 * value or -EINVAL. Static tables; any thread.
 */
const char *herald_channel_name(unsigned v);
const char *herald_vendor_name(unsigned v);
const char *herald_platform_name(unsigned v);
int herald_channel_parse(const char *name);
int herald_vendor_parse(const char *name);
int herald_platform_parse(const char *name);
/* A STORE_STATS compaction state ("idle", "rewriting", "syncing",
 * "wait_delete"); NULL for a value outside enum herald_compaction. */
const char *herald_compaction_name(unsigned v);
/* Receipt states of enum hrl_state ("queued", "sent", "delivered",
 * "displayed", "clicked", "failed", "recalled"); value 0 has no name. */
const char *herald_state_name(unsigned v);
int herald_state_parse(const char *name);
/*
 * Campaign and vendor enumerations (PROTOCOL.md 5.10, 5.11), same rules:
 * audiences of enum hrl_audience ("user", "list", "tag", "all", "upload"), lanes of
 * enum hrl_lane ("bulk", "transactional"), campaign states of enum
 * hrl_campaign_state ("running", "paused", "cancelled", "done"), control
 * actions of enum hrl_control ("pause", "resume", "cancel"), vendor targets
 * of enum hrl_target ("huawei", "xiaomi", "oppo", "vivo", "sms", "webhook"),
 * device states of enum hrl_device_state ("active", "invalid") and upload
 * kinds of enum hrl_upload_kind ("users", "phones").
 */
const char *herald_audience_name(unsigned v);
int herald_audience_parse(const char *name);
const char *herald_lane_name(unsigned v);
int herald_lane_parse(const char *name);
const char *herald_campaign_state_name(unsigned v);
const char *herald_control_name(unsigned v);
int herald_control_parse(const char *name);
const char *herald_target_name(unsigned v);
int herald_target_parse(const char *name);
const char *herald_device_state_name(unsigned v);
const char *herald_upload_kind_name(unsigned v);
int herald_upload_kind_parse(const char *name);

/* ---- operations ------------------------------------------------------------
 *
 * For each operation X:
 *   herald_submit_X(c, args..., &request_id)   queue the request (layer 1)
 *   herald_decode_X(reply, outs...)            decode its answer (layer 2):
 *        0, -EPROTO if the body does not match, the error code (> 0) if
 *        the reply is an error answer, -EINVAL if it answers another opcode
 *   herald_X(c, args..., outs...)              the blocking call (layer 3)
 * Out pointers may be NULL when the value is not wanted, except the
 * struct pointers of variable-size results: those are allocated in one
 * block (-ENOMEM if that fails), owned by the caller, independent of the
 * connection and of the reply, and released by the matching
 * herald_*_free (NULL allowed; any thread). Every string inside lives as
 * long as the block. herald_decode_* take a reply from herald_recv and
 * only read it: call them before the next call on the connection.
 * Submitting and blocking calls belong to the thread that owns c.
 */

/* PING: the engine echoes data; herald_ping checks the echo and gives the
 * round trip in *rtt_ns (may be NULL). Works after HELLO, without AUTH. */
int herald_submit_ping(struct herald_conn *c, const void *data, size_t len, uint64_t *request_id);
int herald_ping(struct herald_conn *c, const void *data, size_t len, uint64_t *rtt_ns);

struct herald_core_stats {
	uint16_t core;
	uint32_t partitions_owned;
	uint64_t connections_open;
	uint64_t requests_total;
	uint64_t forwarded_total;
	uint64_t users;
};
struct herald_stats {
	uint16_t core_count;
	struct herald_core_stats *cores; /* core_count entries */
};
int herald_submit_stats(struct herald_conn *c, uint64_t *request_id);
int herald_decode_stats(const struct herald_reply *r, struct herald_stats **out);
int herald_stats(struct herald_conn *c, struct herald_stats **out);
void herald_stats_free(struct herald_stats *s);

/*
 * STORE_STATS (app or admin): the durable store's counters, PROTOCOL.md
 * section 5.4. The first block is the engine's (this run's start-up replay
 * and the segment files on disk now), then one entry per core. An answer
 * whose compaction state is not one of enum herald_compaction is -EPROTO.
 */
enum herald_compaction {
	HERALD_COMPACTION_IDLE = 0,
	HERALD_COMPACTION_REWRITING = 1,    /* rewriting live records */
	HERALD_COMPACTION_SYNCING = 2,      /* syncing the rewritten records */
	HERALD_COMPACTION_WAIT_DELETE = 3,  /* waiting to delete old segments */
};
#define HERALD_COMPACTION_COUNT 4

struct herald_core_store_stats {
	uint16_t core;
	uint64_t records_written;   /* since this run's start */
	uint64_t bytes_written;
	uint64_t flushes;           /* write + fdatasync pairs */
	uint64_t io_errors;
	uint64_t users;
	uint8_t compaction;         /* enum herald_compaction */
	uint32_t compaction_rounds;
	uint64_t records_rewritten;
	uint64_t segments_deleted;
	uint64_t bytes_reclaimed;
};
struct herald_store_stats {
	uint32_t epoch;              /* this run's number: one more at each start */
	uint64_t recovery_ms;        /* how long the start-up replay took */
	uint64_t recovered_segments; /* segment files read at start-up */
	uint64_t recovered_records;  /* valid records replayed */
	uint64_t torn_tails;         /* segments that ended in a torn write */
	uint64_t corrupt_records;    /* damaged records reported and skipped */
	uint32_t segment_files;      /* on disk now */
	uint64_t segment_bytes;      /* disk space they take */
	uint16_t core_count;
	struct herald_core_store_stats *cores; /* core_count entries */
	/* The receipt log (after the per-core list on the wire). */
	uint32_t event_segment_files;     /* receipt segment files on disk now */
	uint64_t event_segment_bytes;     /* space they take */
	uint64_t receipts_written;        /* since this run's start, all cores */
	uint64_t receipts_replayed;       /* read at start-up to rebuild counters */
	uint64_t event_segments_expired;  /* deleted by retention since this start */
};
int herald_submit_store_stats(struct herald_conn *c, uint64_t *request_id);
int herald_decode_store_stats(const struct herald_reply *r, struct herald_store_stats **out);
int herald_store_stats(struct herald_conn *c, struct herald_store_stats **out);
void herald_store_stats_free(struct herald_store_stats *s);

/* APP_CREATE (admin): the new app's secret in secret[]. */
int herald_submit_app_create(struct herald_conn *c, const char *app_id, uint64_t *request_id);
int herald_decode_app_create(const struct herald_reply *r, uint8_t secret[HRL_SECRET_BYTES]);
int herald_app_create(struct herald_conn *c, const char *app_id, uint8_t secret[HRL_SECRET_BYTES]);

struct herald_app_info {
	const char *app_id;
	uint64_t created_unix_ms;
	uint32_t secret_version;
};
struct herald_app_list {
	uint32_t count;
	struct herald_app_info *apps; /* sorted by app id */
};
int herald_submit_app_list(struct herald_conn *c, uint64_t *request_id);
int herald_decode_app_list(const struct herald_reply *r, struct herald_app_list **out);
int herald_app_list(struct herald_conn *c, struct herald_app_list **out);
void herald_app_list_free(struct herald_app_list *l);

/* APP_ROTATE (admin, or an app for itself): new secret and its version. */
int herald_submit_app_rotate(struct herald_conn *c, const char *app_id, uint64_t *request_id);
int herald_decode_app_rotate(const struct herald_reply *r, uint8_t secret[HRL_SECRET_BYTES],
			     uint32_t *secret_version);
int herald_app_rotate(struct herald_conn *c, const char *app_id, uint8_t secret[HRL_SECRET_BYTES],
		      uint32_t *secret_version);

/* BIND: *created is true for a new device, false if it was bound already. */
int herald_submit_bind(struct herald_conn *c, const char *user_id, uint8_t channel, uint8_t vendor,
		       uint8_t platform, const char *address, uint64_t *request_id);
int herald_decode_bind(const struct herald_reply *r, uint32_t *device_id, bool *created);
int herald_bind(struct herald_conn *c, const char *user_id, uint8_t channel, uint8_t vendor,
		uint8_t platform, const char *address, uint32_t *device_id, bool *created);

int herald_submit_unbind(struct herald_conn *c, const char *user_id, uint32_t device_id,
			 uint64_t *request_id);
int herald_decode_unbind(const struct herald_reply *r);
int herald_unbind(struct herald_conn *c, const char *user_id, uint32_t device_id);

/*
 * ALIAS_SET: the replaced alias ("" if none) is copied into previous,
 * which must hold HRL_ALIAS_BYTES_MAX + 1 bytes (previous_size is checked:
 * -EINVAL if smaller). previous may be NULL.
 */
int herald_submit_alias_set(struct herald_conn *c, const char *user_id, uint32_t device_id,
			    const char *alias_type, const char *alias, uint64_t *request_id);
int herald_decode_alias_set(const struct herald_reply *r, char *previous, size_t previous_size);
int herald_alias_set(struct herald_conn *c, const char *user_id, uint32_t device_id,
		     const char *alias_type, const char *alias, char *previous,
		     size_t previous_size);

int herald_submit_alias_del(struct herald_conn *c, const char *user_id, uint32_t device_id,
			    const char *alias_type, uint64_t *request_id);
int herald_decode_alias_del(const struct herald_reply *r);
int herald_alias_del(struct herald_conn *c, const char *user_id, uint32_t device_id,
		     const char *alias_type);

struct herald_alias_hit {
	const char *user_id;
	uint32_t device_id;
};
struct herald_alias_hits {
	uint16_t count;
	struct herald_alias_hit *hits; /* in no particular order */
};
int herald_submit_alias_lookup(struct herald_conn *c, const char *alias_type, const char *alias,
			       uint64_t *request_id);
int herald_decode_alias_lookup(const struct herald_reply *r, struct herald_alias_hits **out);
int herald_alias_lookup(struct herald_conn *c, const char *alias_type, const char *alias,
			struct herald_alias_hits **out);
void herald_alias_hits_free(struct herald_alias_hits *h);

/* TAG_ADD / TAG_DEL: n tags (n <= 65535, else -EINVAL); *changed is how
 * many were actually added or removed. */
int herald_submit_tag_add(struct herald_conn *c, const char *user_id, const char *const *tags,
			  size_t n, uint64_t *request_id);
int herald_submit_tag_del(struct herald_conn *c, const char *user_id, const char *const *tags,
			  size_t n, uint64_t *request_id);
int herald_decode_tag_add(const struct herald_reply *r, uint16_t *added);
int herald_decode_tag_del(const struct herald_reply *r, uint16_t *removed);
int herald_tag_add(struct herald_conn *c, const char *user_id, const char *const *tags, size_t n,
		   uint16_t *added);
int herald_tag_del(struct herald_conn *c, const char *user_id, const char *const *tags, size_t n,
		   uint16_t *removed);

/*
 * An attribute. key is NUL-terminated. value is value_len bytes of UTF-8,
 * where value_len 0 means strlen(value), so a NUL-terminated value needs
 * no length and "" (deleting the key) needs none either. Values may hold
 * any character, U+0000 included: decoded values carry their real length
 * in value_len and are NUL-terminated after it as well.
 */
struct herald_attr {
	const char *key;
	const char *value;
	size_t value_len;
};
/* ATTR_SET: n pairs (n <= 65535); *attr_count is the user's count after. */
int herald_submit_attr_set(struct herald_conn *c, const char *user_id,
			   const struct herald_attr *attrs, size_t n, uint64_t *request_id);
int herald_decode_attr_set(const struct herald_reply *r, uint16_t *attr_count);
int herald_attr_set(struct herald_conn *c, const char *user_id, const struct herald_attr *attrs,
		    size_t n, uint16_t *attr_count);

struct herald_alias {
	const char *alias_type;
	const char *alias;
};
struct herald_device {
	uint32_t device_id;
	uint8_t channel;  /* enum hrl_channel */
	uint8_t vendor;   /* enum hrl_vendor */
	uint8_t platform; /* enum hrl_platform */
	uint8_t state;    /* enum hrl_device_state: active, or invalid (never tried again) */
	uint64_t bound_unix_ms;
	const char *address;
	uint8_t alias_count;
	struct herald_alias *aliases;
};
struct herald_user {
	const char *user_id;
	uint16_t partition;
	uint16_t device_count;
	struct herald_device *devices; /* by increasing device_id */
	uint16_t tag_count;
	const char **tags;             /* sorted bytewise */
	uint16_t attr_count;
	struct herald_attr *attrs;     /* sorted bytewise by key */
};
/* USER_SHOW: *out is one allocation, released with herald_user_free. */
int herald_submit_user_show(struct herald_conn *c, const char *user_id, uint64_t *request_id);
int herald_decode_user_show(const struct herald_reply *r, struct herald_user **out);
int herald_user_show(struct herald_conn *c, const char *user_id, struct herald_user **out);
void herald_user_free(struct herald_user *u);

/* ---- receipts, history, campaign counters (PROTOCOL.md 5.2, 5.6, 5.7) ----- */

/*
 * Where a message stands for one recipient on one channel. RECEIPT_PUT
 * sends every field but recorded_unix_ms (ignored there); HISTORY hands
 * back all of them. event_unix_ms 0 in a RECEIPT_PUT means "now".
 * reason: printable ASCII, at most HRL_REASON_BYTES_MAX bytes, required
 * for HRL_STATE_FAILED; NULL is taken as "" when sending. The engine
 * checks the field rules; the library sends what it is given.
 */
struct herald_receipt {
	uint64_t message_id;       /* non-zero */
	uint64_t campaign_id;      /* 0: no campaign */
	uint8_t channel;           /* enum hrl_channel */
	uint8_t vendor;            /* enum hrl_vendor: non-zero for push, else 0 */
	uint8_t state;             /* enum hrl_state */
	uint64_t event_unix_ms;    /* when the state was reached */
	uint64_t recorded_unix_ms; /* when the engine recorded it (HISTORY) */
	const char *reason;
};

/* RECEIPT_PUT (app): record one receipt for user_id (who need not exist).
 * *recorded_unix_ms gets the engine's time of recording. */
int herald_submit_receipt_put(struct herald_conn *c, const char *user_id,
			      const struct herald_receipt *receipt, uint64_t *request_id);
int herald_decode_receipt_put(const struct herald_reply *r, uint64_t *recorded_unix_ms);
int herald_receipt_put(struct herald_conn *c, const char *user_id,
		       const struct herald_receipt *receipt, uint64_t *recorded_unix_ms);

/*
 * HISTORY (app): one page of user_id's receipts, newest first. cursor is
 * HRL_CURSOR_BYTES opaque bytes: NULL or all zero for the newest, else the
 * next_cursor of an earlier page for the same user. limit: 1 ..
 * HRL_HISTORY_LIMIT_MAX (the engine answers E_INVALID_ARGUMENT /
 * E_LIMIT_EXCEEDED otherwise). A page may hold fewer than limit receipts
 * while next_cursor is not all zero: go on until it is
 * (herald_cursor_is_end). An answer with more than HRL_HISTORY_LIMIT_MAX
 * receipts, a state, channel or vendor outside enum hrl_state /
 * hrl_channel / hrl_vendor, or a reason over HRL_REASON_BYTES_MAX bytes
 * is -EPROTO.
 */
struct herald_history {
	uint16_t count;
	struct herald_receipt *receipts; /* count entries, newest first */
	uint8_t next_cursor[HRL_CURSOR_BYTES]; /* all zero: nothing older */
};
int herald_submit_history(struct herald_conn *c, const char *user_id,
			  const uint8_t *cursor, uint16_t limit, uint64_t *request_id);
int herald_decode_history(const struct herald_reply *r, struct herald_history **out);
int herald_history(struct herald_conn *c, const char *user_id, const uint8_t *cursor,
		   uint16_t limit, struct herald_history **out);
void herald_history_free(struct herald_history *h);
/* True if cursor (HRL_CURSOR_BYTES bytes) is all zero. Any thread. */
bool herald_cursor_is_end(const uint8_t *cursor);

/*
 * CAMPAIGN_COUNTERS (app): how many receipts this app recorded for a
 * campaign, per channel and state; only non-zero counts, sorted by
 * channel then state. An answer out of that order, with a count of 0 or
 * a channel or state outside its enum is -EPROTO.
 */
struct herald_counter {
	uint8_t channel; /* enum hrl_channel */
	uint8_t state;   /* enum hrl_state */
	uint64_t count;
};
struct herald_campaign_counters {
	uint16_t count;
	struct herald_counter *counters; /* count entries */
};
int herald_submit_campaign_counters(struct herald_conn *c, uint64_t campaign_id,
				    uint64_t *request_id);
int herald_decode_campaign_counters(const struct herald_reply *r,
				    struct herald_campaign_counters **out);
int herald_campaign_counters(struct herald_conn *c, uint64_t campaign_id,
			     struct herald_campaign_counters **out);
void herald_campaign_counters_free(struct herald_campaign_counters *cc);

/* ---- campaigns and vendors (PROTOCOL.md 5.8 - 5.12) --------------------------- */

/*
 * CAMPAIGN_CREATE (app): what to send, to whom, on which channels. title,
 * body and category are sent as given (NULL: ""); title and body are
 * templates (5.9), category the vendors' message class. Audience data:
 * user_id for HRL_AUD_USER, user_ids[0 .. user_count) for HRL_AUD_LIST,
 * tag_expr (5.8) for HRL_AUD_TAG, nothing for HRL_AUD_ALL, upload_kind and
 * columns for HRL_AUD_UPLOAD (5.12: the rows come later, by
 * herald_campaign_upload); the fields of the other audiences are ignored.
 * The library refuses with -EINVAL only what it cannot encode: an
 * audience outside enum hrl_audience, a channel_count over
 * HRL_CAMPAIGN_CHANNELS_MAX, a user_count over 65535, a NULL body or a
 * NULL audience string (columns may be NULL: no columns). Everything else
 * (no channel, a list of 0 or more than HRL_CAMPAIGN_USERS_MAX users, a
 * bad tag expression or template, an upload kind outside enum
 * hrl_upload_kind, bad column names, phone numbers on another channel than
 * sms alone) is for the engine to judge: E_INVALID_ARGUMENT with a message
 * naming the field and, for tag expressions and templates, the byte
 * offset. *campaign_id gets the new campaign's id (non-zero). The
 * campaign is durable before the answer; an upload campaign is created
 * running with its upload open.
 */
struct herald_campaign_spec {
	uint8_t audience;                             /* enum hrl_audience */
	uint8_t lane;                                 /* enum hrl_lane */
	uint8_t channel_count;                        /* 1 .. HRL_CAMPAIGN_CHANNELS_MAX */
	uint8_t channels[HRL_CAMPAIGN_CHANNELS_MAX];  /* enum hrl_channel, distinct */
	const char *title;                            /* template, may be NULL or "" */
	const char *body;                             /* template, 1 .. 4096 bytes */
	const char *category;                         /* NULL or "": none */
	const char *user_id;                          /* HRL_AUD_USER */
	const char *const *user_ids;                  /* HRL_AUD_LIST */
	size_t user_count;
	const char *tag_expr;                         /* HRL_AUD_TAG */
	uint8_t upload_kind;                          /* HRL_AUD_UPLOAD: enum hrl_upload_kind */
	const char *columns;                          /* HRL_AUD_UPLOAD: "a,b": names of the fields
	                                                 after the first (row.a, row.b); NULL or "": none */
};
int herald_submit_campaign_create(struct herald_conn *c, const struct herald_campaign_spec *spec,
				  uint64_t *request_id);
int herald_decode_campaign_create(const struct herald_reply *r, uint64_t *campaign_id);
int herald_campaign_create(struct herald_conn *c, const struct herald_campaign_spec *spec,
			   uint64_t *campaign_id);

/*
 * CAMPAIGN_STATUS (app): where a campaign of this app stands (E_NOT_FOUND
 * for an unknown id or another app's). An answer with a state, audience
 * or lane outside its enum, or progress_ppm over 1000000, is -EPROTO.
 */
struct herald_campaign_status {
	uint8_t state;            /* enum hrl_campaign_state */
	uint8_t audience;         /* enum hrl_audience, as created */
	uint8_t lane;             /* enum hrl_lane */
	uint64_t created_unix_ms;
	uint64_t users_scanned;   /* users the cores looked at */
	uint64_t recipients;      /* users that matched the audience */
	uint64_t queued;          /* addresses put into vendor batches */
	uint64_t sent;            /* addresses a vendor accepted */
	uint64_t failed;          /* addresses that failed, invalid ones aside */
	uint64_t invalid;         /* addresses the vendor called invalid (now unbound) */
	uint64_t no_address;      /* matched users with no address on the campaign's channels */
	uint64_t resent;          /* addresses sent again after a restart */
	uint64_t vendor_calls;    /* HTTP requests made */
	uint64_t first_call_us;   /* create to first vendor call; 0: none yet */
	uint32_t progress_ppm;    /* enumeration progress, 1000000 = every user looked at */
	uint32_t inflight;        /* addresses in batches waiting for the vendor */
};
int herald_submit_campaign_status(struct herald_conn *c, uint64_t campaign_id,
				  uint64_t *request_id);
int herald_decode_campaign_status(const struct herald_reply *r, struct herald_campaign_status *st);
int herald_campaign_status(struct herald_conn *c, uint64_t campaign_id,
			   struct herald_campaign_status *st);
/* True for a campaign that will not change any more (cancelled or done). Any thread. */
bool herald_campaign_finished(uint8_t state);

/*
 * CAMPAIGN_CONTROL (app): pause, resume or cancel (enum hrl_control, sent
 * as given); *state (may be NULL) gets the campaign's new state. Pausing or
 * resuming a cancelled or done campaign is E_INVALID_ARGUMENT. Durable
 * before the answer. An answered state outside its enum is -EPROTO.
 */
int herald_submit_campaign_control(struct herald_conn *c, uint64_t campaign_id, uint8_t action,
				   uint64_t *request_id);
int herald_decode_campaign_control(const struct herald_reply *r, uint8_t *state);
int herald_campaign_control(struct herald_conn *c, uint64_t campaign_id, uint8_t action,
			    uint8_t *state);

/*
 * CAMPAIGN_UPLOAD (app): one chunk of the rows of an upload campaign
 * (PROTOCOL.md 5.12). rows[0 .. len) is text: rows separated by LF, a final
 * LF optional; each row the user id or phone number, then one ",value" per
 * declared column. first_line is the line number of the chunk's first row
 * (the engine numbers the rows from there in its reports); last is 1 for
 * the chunk that closes the upload (may be empty), else 0 (sent as given:
 * the engine refuses other values). rows may be NULL when len is 0. The
 * library refuses with -EINVAL only a NULL rows with len > 0 and
 * -EMSGSIZE a chunk that does not fit a frame; a chunk of more than
 * HRL_UPLOAD_CHUNK_BYTES_MAX bytes is the engine's E_LIMIT_EXCEEDED.
 *
 * *out gets how many rows were accepted and rejected, and the line and
 * reason of the first HRL_UPLOAD_REPORTS_MAX rejected ones. Rejected rows
 * are skipped; the accepted ones are durable before the answer. Sending a
 * chunk again adds its rows again: after a lost answer (-ETIMEDOUT,
 * -ECONNRESET, -EPROTO) or E_STORE (which may leave part of the chunk
 * taken) look at herald_campaign_status before re-sending. An
 * answer whose reported is not min(rejected, HRL_UPLOAD_REPORTS_MAX), or
 * with a reason that is empty or not printable ASCII, is -EPROTO.
 */
struct herald_upload_reject {
	uint32_t line;              /* first_line + the row's index in the chunk */
	const char *reason;         /* "empty row", "fewer fields than the campaign's columns", ... */
};
struct herald_upload_result {
	uint32_t accepted;
	uint32_t rejected;
	uint16_t reported;          /* min(rejected, HRL_UPLOAD_REPORTS_MAX) */
	struct herald_upload_reject *rejects; /* reported entries, in the engine's order */
};
int herald_submit_campaign_upload(struct herald_conn *c, uint64_t campaign_id, uint32_t first_line,
				  uint8_t last, const void *rows, size_t len, uint64_t *request_id);
int herald_decode_campaign_upload(const struct herald_reply *r, struct herald_upload_result **out);
int herald_campaign_upload(struct herald_conn *c, uint64_t campaign_id, uint32_t first_line,
			   uint8_t last, const void *rows, size_t len, struct herald_upload_result **out);
void herald_upload_result_free(struct herald_upload_result *u);

/*
 * VENDOR_SET (app): where, and as whom, this app's messages for one target
 * go; replaces the target's earlier setting, durable before the answer.
 * The strings (NULL: "") are sent as given; the engine checks them (url
 * 1 .. 255 bytes starting http:// or https://, the others 0 .. 255) and
 * the numbers (batch_max <= HRL_VENDOR_BATCH_MAX, connections <=
 * HRL_VENDOR_CONNS_MAX; 0 means the default, and for rate_per_s and
 * daily_quota, unlimited). Which credential goes in which field per
 * target: PROTOCOL.md 5.11.
 */
struct herald_vendor_cfg {
	uint8_t target;             /* enum hrl_target */
	const char *url;
	const char *app_id;
	const char *secret;
	const char *secret2;
	const char *package;
	const char *sign_name;
	const char *template_code;
	uint16_t batch_max;         /* addresses per call; 0: HRL_VENDOR_BATCH_DEFAULT */
	uint16_t connections;       /* per core; 0: HRL_VENDOR_CONNS_DEFAULT */
	uint32_t rate_per_s;        /* this app and target, all cores; 0: unlimited */
	uint32_t daily_quota;       /* addresses per day; 0: unlimited */
};
int herald_submit_vendor_set(struct herald_conn *c, const struct herald_vendor_cfg *cfg,
			     uint64_t *request_id);
int herald_decode_vendor_set(const struct herald_reply *r);
int herald_vendor_set(struct herald_conn *c, const struct herald_vendor_cfg *cfg);

/*
 * VENDOR_LIST (app): this app's vendor settings, one per configured
 * target; the secrets are never returned. An answer with a target outside
 * enum hrl_target, a target listed twice or a url over
 * HRL_VENDOR_STR_BYTES_MAX bytes is -EPROTO.
 */
struct herald_vendor_info {
	uint8_t target;             /* enum hrl_target */
	const char *url;
	uint16_t batch_max;
	uint16_t connections;
	uint32_t rate_per_s;
	uint32_t daily_quota;
};
struct herald_vendor_list {
	uint8_t count;
	struct herald_vendor_info *vendors; /* count entries, in the engine's order */
};
int herald_submit_vendor_list(struct herald_conn *c, uint64_t *request_id);
int herald_decode_vendor_list(const struct herald_reply *r, struct herald_vendor_list **out);
int herald_vendor_list(struct herald_conn *c, struct herald_vendor_list **out);
void herald_vendor_list_free(struct herald_vendor_list *l);

#ifdef __cplusplus
}
#endif

#endif
