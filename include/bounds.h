/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bounds.h - every limit Herald enforces, in one place.
 *
 * Names put the unit first and _MAX last (HRL_FRAME_BODY_BYTES_MAX).
 * Relations between limits are checked with _Static_assert at the bottom,
 * so a change that breaks one fails the build, not production.
 */
#ifndef HERALD_BOUNDS_H
#define HERALD_BOUNDS_H

/* ---- wire protocol ---------------------------------------------------- */
#define HRL_FRAME_HEADER_BYTES        24u
#define HRL_FRAME_BODY_BYTES_MAX      (1u << 20)      /* 1 MiB hard cap */
#define HRL_STR_BYTES_MAX             65535u          /* u16 length prefix */
#define HRL_NONCE_BYTES               32u
#define HRL_MAC_BYTES                 32u
#define HRL_SECRET_BYTES              32u
#define HRL_CLIENT_NAME_BYTES_MAX     64u

/* ---- identities --------------------------------------------------------- */
#define HRL_APP_ID_BYTES_MAX          64u
#define HRL_APPS_MAX                  1024u
#define HRL_USER_ID_BYTES_MAX         128u
#define HRL_ADDRESS_BYTES_MAX         512u
#define HRL_DEVICES_PER_USER_MAX      32u
#define HRL_ALIAS_TYPE_BYTES_MAX      32u
#define HRL_ALIAS_BYTES_MAX           128u
#define HRL_ALIASES_PER_DEVICE_MAX    8u
#define HRL_ALIAS_LOOKUP_RESULTS_MAX  1000u           /* devices listed per ALIAS_LOOKUP */
#define HRL_TAG_BYTES_MAX             64u
#define HRL_TAGS_PER_USER_MAX         256u
#define HRL_TAGS_PER_REQUEST_MAX      256u
#define HRL_ATTR_KEY_BYTES_MAX        64u
#define HRL_ATTR_VALUE_BYTES_MAX      1024u
#define HRL_ATTRS_PER_USER_MAX        64u
#define HRL_ATTRS_PER_REQUEST_MAX     64u
#define HRL_UNIX_MS_MAX               ((1ull << 48) - 1) /* times kept in 48 bits: year 10889 */

#define HRL_REASON_BYTES_MAX          64u             /* receipt reason text */
#define HRL_HISTORY_LIMIT_MAX         1000u           /* receipts per HISTORY answer */
#define HRL_CURSOR_BYTES              16u
#define HRL_EVENT_FUTURE_MS_MAX       (24ull * 3600 * 1000) /* receipt times ahead of the clock */

/* ---- campaigns and vendors (PROTOCOL.md 5.10, 5.11) ------------------- */
#define HRL_CAMPAIGN_CHANNELS_MAX     4u              /* channels of one campaign */
#define HRL_CAMPAIGN_USERS_MAX        1000u           /* user ids of a list audience */
#define HRL_CAMPAIGN_BODY_BYTES_MAX   4096u           /* body template text */
#define HRL_CAMPAIGN_TITLE_BYTES_MAX  HRL_CAMPAIGN_BODY_BYTES_MAX /* title template text */
#define HRL_CAMPAIGN_CATEGORY_BYTES_MAX 64u
#define HRL_TAG_EXPR_BYTES_MAX        4096u
#define HRL_CAMPAIGNS_ACTIVE_MAX      4096u           /* campaigns not finished, per data directory */
#define HRL_VENDOR_STR_BYTES_MAX      255u            /* each string of VENDOR_SET */
#define HRL_VENDOR_BATCH_MAX          1000u           /* addresses per vendor call */
#define HRL_VENDOR_BATCH_DEFAULT      1000u
#define HRL_VENDOR_CONNS_MAX          64u             /* connections per core and target */
#define HRL_VENDOR_CONNS_DEFAULT      4u
#define HRL_UPLOAD_COLUMNS_MAX        16u             /* columns of an uploaded row after the first */
#define HRL_UPLOAD_COLUMN_BYTES_MAX   64u             /* one column name */
#define HRL_UPLOAD_ROW_BYTES_MAX      1024u           /* one uploaded row, without its LF */
#define HRL_UPLOAD_CHUNK_BYTES_MAX    (448u << 10)    /* rows in one CAMPAIGN_UPLOAD */
#define HRL_UPLOAD_FIXED_BYTES        13u             /* u64 campaign_id, u32 first_line, u8 last */
#define HRL_UPLOAD_REPORTS_MAX        100u            /* rejected rows named in one answer */

/* ---- partitions and cores --------------------------------------------- */
#define HRL_PARTITIONS_DEFAULT        1024u
#define HRL_PARTITIONS_MAX            65536u
#define HRL_CORES_MAX                 64u

/* ---- reactor ------------------------------------------------------------ */
#define HRL_URING_ENTRIES             4096u
#define HRL_RECV_BUF_BYTES            (64u << 10)
#define HRL_RECV_BUFS_PER_CORE        128u            /* power of two */
#define HRL_CONNS_PER_CORE_MAX        65536u
#define HRL_CONN_INFLIGHT_MAX         4096u           /* requests per connection */
#define HRL_CONN_OUT_BYTES_MAX        (8u << 20)      /* stop reading above this */
#define HRL_CONN_IN_BYTES_MAX         (HRL_FRAME_HEADER_BYTES + HRL_FRAME_BODY_BYTES_MAX + HRL_RECV_BUF_BYTES)
#define HRL_XRING_SLOTS               8192u           /* per ordered core pair, power of two */
#define HRL_XRING_BURST_MAX           256u
#define HRL_TICK_MS                   100u
#define HRL_READ_STALL_MS_DEFAULT     10000u          /* half a frame, then silence */
#define HRL_AUTH_FAILURES_MAX         1u              /* then the connection closes */

/* ---- store ---------------------------------------------------------------- */
#define HRL_LOG_BUF_BYTES             (8u << 20)      /* per-core write buffer, registered */
#define HRL_LOG_SLIDE_BYTES           (256u << 10)    /* durable bytes that make the buffer slide */
#define HRL_RECORD_BYTES_MAX          (512u << 10)    /* one record, header included */
#define HRL_SEGMENT_BYTES_DEFAULT     (64ull << 20)
#define HRL_SEGMENTS_MAX              65536u
#define HRL_FSYNC_INTERVAL_MS_DEFAULT 10u

_Static_assert(HRL_RECORD_BYTES_MAX * 4 <= HRL_LOG_BUF_BYTES, "several records fit the write buffer");
_Static_assert((HRL_LOG_BUF_BYTES % 4096) == 0, "write buffer is whole blocks");

/* ---- client library ----------------------------------------------------- */
#define HRL_CLIENT_OUT_BYTES_MAX      (256u << 10)    /* buffered requests that force a send */
#define HRL_CLIENT_RECV_BYTES         (256u << 10)    /* room offered to one recv() */
#define HRL_SECRET_FILE_BYTES_MAX     (2 * HRL_SECRET_BYTES + 64)

_Static_assert(HRL_FRAME_BODY_BYTES_MAX < (1u << 31), "body length must fit a signed 32-bit int");
_Static_assert((HRL_RECV_BUFS_PER_CORE & (HRL_RECV_BUFS_PER_CORE - 1)) == 0, "buf ring size: power of two");
_Static_assert((HRL_XRING_SLOTS & (HRL_XRING_SLOTS - 1)) == 0, "xring size: power of two");
_Static_assert(HRL_XRING_BURST_MAX <= HRL_XRING_SLOTS, "burst fits the ring");
_Static_assert(HRL_USER_ID_BYTES_MAX <= HRL_STR_BYTES_MAX, "user id fits a str");
_Static_assert(HRL_ADDRESS_BYTES_MAX <= HRL_STR_BYTES_MAX, "address fits a str");
_Static_assert(HRL_ATTR_VALUE_BYTES_MAX <= HRL_STR_BYTES_MAX, "attr value fits a str");
_Static_assert(HRL_CONN_OUT_BYTES_MAX >= 2 * HRL_FRAME_BODY_BYTES_MAX, "one full answer always fits");
_Static_assert(HRL_CAMPAIGN_BODY_BYTES_MAX <= HRL_STR_BYTES_MAX, "campaign body fits a str");
_Static_assert(HRL_TAG_EXPR_BYTES_MAX <= HRL_STR_BYTES_MAX, "tag expression fits a str");
_Static_assert(HRL_CAMPAIGN_USERS_MAX * (2 + HRL_USER_ID_BYTES_MAX) < HRL_FRAME_BODY_BYTES_MAX,
	       "a full list audience fits one frame");
_Static_assert(HRL_VENDOR_BATCH_DEFAULT <= HRL_VENDOR_BATCH_MAX, "default batch within max");
_Static_assert(HRL_VENDOR_CONNS_DEFAULT <= HRL_VENDOR_CONNS_MAX, "default connections within max");
_Static_assert(HRL_UPLOAD_FIXED_BYTES + HRL_UPLOAD_CHUNK_BYTES_MAX <= HRL_FRAME_BODY_BYTES_MAX,
	       "a full upload chunk fits one frame");
_Static_assert(HRL_UPLOAD_ROW_BYTES_MAX < HRL_UPLOAD_CHUNK_BYTES_MAX, "a row fits a chunk");
_Static_assert(HRL_PARTITIONS_DEFAULT <= HRL_PARTITIONS_MAX, "default partitions within max");
_Static_assert(HRL_CORES_MAX <= HRL_PARTITIONS_DEFAULT, "every core can own a partition");

#endif
