/* SPDX-License-Identifier: Apache-2.0 */
/*
 * herald_proto.h - constants of Herald wire protocol v1, shared by the
 * engine and by clients. docs/PROTOCOL.md is the normative text; the
 * numbers here must match it.
 *
 * Frame header, 24 bytes, little-endian:
 *
 *   offset size field
 *   0      4    magic        bytes 'H' 'R' 'L' 'D' (u32 0x444C5248)
 *   4      1    version      1
 *   5      1    flags        bit0 RESPONSE, bit1 ERROR, bits 2..7 zero
 *   6      2    opcode
 *   8      8    request_id   chosen by the client, echoed in the answer
 *   16     4    body_len     0 .. 1048576
 *   20     4    body_crc     CRC32C (Castagnoli) of the body bytes
 *   24     ...  body
 */
#ifndef HERALD_PROTO_H
#define HERALD_PROTO_H

#include <stdint.h>

#define HRL_MAGIC           0x444C5248u /* "HRLD" on the wire */
#define HRL_VERSION_MIN     1u
#define HRL_VERSION_MAX     1u

#define HRL_FLAG_RESPONSE   0x01u
#define HRL_FLAG_ERROR      0x02u
#define HRL_FLAGS_KNOWN     (HRL_FLAG_RESPONSE | HRL_FLAG_ERROR)

/* Opcodes. Keep in step with the table in net/ops.c and docs/PROTOCOL.md. */
enum hrl_op {
	HRL_OP_HELLO        = 0x0001,
	HRL_OP_AUTH         = 0x0002,
	HRL_OP_PING         = 0x0003,
	HRL_OP_STATS        = 0x0004,
	HRL_OP_STORE_STATS  = 0x0005,

	HRL_OP_APP_CREATE   = 0x0010,
	HRL_OP_APP_LIST     = 0x0011,
	HRL_OP_APP_ROTATE   = 0x0012,

	HRL_OP_BIND         = 0x0020,
	HRL_OP_UNBIND       = 0x0021,
	HRL_OP_ALIAS_SET    = 0x0022,
	HRL_OP_ALIAS_DEL    = 0x0023,
	HRL_OP_ALIAS_LOOKUP = 0x0024,
	HRL_OP_TAG_ADD      = 0x0025,
	HRL_OP_TAG_DEL      = 0x0026,
	HRL_OP_ATTR_SET     = 0x0027,
	HRL_OP_USER_SHOW    = 0x0028,

	HRL_OP_RECEIPT_PUT       = 0x0030,
	HRL_OP_HISTORY           = 0x0031,
	HRL_OP_CAMPAIGN_COUNTERS = 0x0032,

	HRL_OP_CAMPAIGN_CREATE   = 0x0040,
	HRL_OP_CAMPAIGN_STATUS   = 0x0041,
	HRL_OP_CAMPAIGN_CONTROL  = 0x0042,
	HRL_OP_VENDOR_SET        = 0x0043,
	HRL_OP_VENDOR_LIST       = 0x0044,
	HRL_OP_CAMPAIGN_UPLOAD   = 0x0045,
};
#define HRL_OP_TABLE_SIZE 0x0046

/* Error codes carried in an error frame's body (u16 code, str message). */
enum hrl_err {
	HRL_E_BAD_MAGIC           = 1,  /* connection closed */
	HRL_E_UNSUPPORTED_VERSION = 2,
	HRL_E_BAD_FLAGS           = 3,
	HRL_E_FRAME_TOO_LARGE     = 4,  /* connection closed */
	HRL_E_BAD_CRC             = 5,
	HRL_E_UNKNOWN_OPCODE      = 6,
	HRL_E_BAD_BODY            = 7,
	HRL_E_HELLO_REQUIRED      = 8,
	HRL_E_AUTH_REQUIRED       = 9,
	HRL_E_AUTH_FAILED         = 10, /* connection closed */
	HRL_E_FORBIDDEN           = 11,
	HRL_E_NOT_FOUND           = 12,
	HRL_E_EXISTS              = 13,
	HRL_E_INVALID_ARGUMENT    = 14,
	HRL_E_LIMIT_EXCEEDED      = 15,
	HRL_E_TIMEOUT             = 16, /* connection closed */
	HRL_E_SHUTTING_DOWN       = 17,
	HRL_E_INTERNAL            = 18,
	HRL_E_BUSY                = 19,
	HRL_E_STORE               = 20, /* not made durable, not applied */
};
#define HRL_E_COUNT 21

enum hrl_channel {
	HRL_CH_PUSH    = 1,
	HRL_CH_SMS     = 2,
	HRL_CH_EMAIL   = 3,
	HRL_CH_WECHAT  = 4,
	HRL_CH_WEBHOOK = 5,
};
#define HRL_CH_COUNT 6

enum hrl_vendor {
	HRL_VENDOR_NONE   = 0,
	HRL_VENDOR_APNS   = 1,
	HRL_VENDOR_FCM    = 2,
	HRL_VENDOR_HUAWEI = 3,
	HRL_VENDOR_XIAOMI = 4,
	HRL_VENDOR_OPPO   = 5,
	HRL_VENDOR_VIVO   = 6,
	HRL_VENDOR_HONOR  = 7,
	HRL_VENDOR_MEIZU  = 8,
};
#define HRL_VENDOR_COUNT 9

enum hrl_platform {
	HRL_PLATFORM_NONE    = 0,
	HRL_PLATFORM_ANDROID = 1,
	HRL_PLATFORM_IOS     = 2,
	HRL_PLATFORM_HARMONY = 3,
	HRL_PLATFORM_WEB     = 4,
};
#define HRL_PLATFORM_COUNT 5

/* Where a message stands for one recipient on one channel (receipts). */
enum hrl_state {
	HRL_STATE_QUEUED    = 1,
	HRL_STATE_SENT      = 2, /* the vendor accepted it */
	HRL_STATE_DELIVERED = 3,
	HRL_STATE_DISPLAYED = 4,
	HRL_STATE_CLICKED   = 5,
	HRL_STATE_FAILED    = 6, /* reason says why */
	HRL_STATE_RECALLED  = 7,
};
#define HRL_STATE_COUNT 8

/* u8 state of a device in USER_SHOW (5.3). */
enum hrl_device_state {
	HRL_DEVICE_ACTIVE  = 0,
	HRL_DEVICE_INVALID = 1, /* a vendor called the address invalid; never tried again */
};
#define HRL_DEVICE_STATE_COUNT 2

/* CAMPAIGN_CREATE u8 audience (5.10). */
enum hrl_audience {
	HRL_AUD_USER = 1, /* str user_id */
	HRL_AUD_LIST = 2, /* u16 n, n x str user_id */
	HRL_AUD_TAG  = 3, /* str tag expression (5.8) */
	HRL_AUD_ALL  = 4, /* every user of the app */
	HRL_AUD_UPLOAD = 5, /* u8 kind, str columns; rows come by CAMPAIGN_UPLOAD (5.12) */
};
#define HRL_AUD_COUNT 6

/* CAMPAIGN_CREATE u8 kind of an upload audience: what a row's first field is (5.12). */
enum hrl_upload_kind {
	HRL_UPLOAD_USER_IDS = 1, /* the app's user ids */
	HRL_UPLOAD_PHONES   = 2, /* E.164 numbers, sent to by sms, no user needed */
};
#define HRL_UPLOAD_KIND_COUNT 3

/* CAMPAIGN_CREATE u8 lane. */
enum hrl_lane {
	HRL_LANE_BULK          = 0,
	HRL_LANE_TRANSACTIONAL = 1,
};
#define HRL_LANE_COUNT 2

/* CAMPAIGN_STATUS / CAMPAIGN_CONTROL u8 state. */
enum hrl_campaign_state {
	HRL_CAMPAIGN_RUNNING   = 1,
	HRL_CAMPAIGN_PAUSED    = 2,
	HRL_CAMPAIGN_CANCELLED = 3,
	HRL_CAMPAIGN_DONE      = 4,
};
#define HRL_CAMPAIGN_STATE_COUNT 5

/* CAMPAIGN_CONTROL u8 action. */
enum hrl_control {
	HRL_CONTROL_PAUSE  = 1,
	HRL_CONTROL_RESUME = 2,
	HRL_CONTROL_CANCEL = 3,
};
#define HRL_CONTROL_COUNT 4

/* VENDOR_SET / VENDOR_LIST u8 target. */
enum hrl_target {
	HRL_TARGET_HUAWEI  = 1,
	HRL_TARGET_XIAOMI  = 2,
	HRL_TARGET_OPPO    = 3,
	HRL_TARGET_VIVO    = 4,
	HRL_TARGET_SMS     = 5, /* Alibaba SendSms shape */
	HRL_TARGET_WEBHOOK = 6,
};
#define HRL_TARGET_COUNT 7

enum hrl_role {
	HRL_ROLE_APP   = 0,
	HRL_ROLE_ADMIN = 1,
};

#define HRL_ADMIN_APP_ID "admin"

#endif
