/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vendor_fmt.h - the vendors' request and answer formats, as pure functions.
 *
 * fan_fmt_request() writes one complete HTTP/1.1 request (request line,
 * headers with Content-Length, body) for a batch of up to
 * FAN_BATCH_TOKENS_MAX addresses into a caller buffer. fan_parse_answer()
 * turns an HTTP status and body into one Herald outcome per address of that
 * batch. Neither does I/O, reads the clock or keeps state; both may be
 * called from any core. docs/VENDORS.md is the field-by-field and
 * code-by-code description; the tables in vendor_fmt.c follow it row by row.
 */
#ifndef FANOUT_VENDOR_FMT_H
#define FANOUT_VENDOR_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Addresses per vendor call: Huawei token array, Xiaomi regid list, OPPO
   unicast_batch, vivo pushToList, SendSms PhoneNumbers, webhook "to".
   (To move to include/bounds.h with the rest of the fan-out limits.) */
#define FAN_BATCH_TOKENS_MAX 1000u
#define FAN_CODE_BYTES_MAX   48u  /* vendor answer code kept as text */
#define FAN_TASK_ID_BYTES_MAX 64u /* vivo saveListPayload taskId */

enum fan_call {
	FAN_CALL_HUAWEI,         /* POST /v1/{appid}/messages:send */
	FAN_CALL_XIAOMI,         /* POST /v3/message/regid */
	FAN_CALL_OPPO_BATCH,     /* POST /server/v1/message/notification/unicast_batch */
	FAN_CALL_VIVO_SAVE,      /* POST /message/saveListPayload (no addresses) */
	FAN_CALL_VIVO_PUSH,      /* POST /message/pushToList */
	FAN_CALL_SMS,            /* POST / Action=SendSms (Alibaba Cloud shape) */
	FAN_CALL_WEBHOOK,        /* POST {path}, Herald's own JSON */
	FAN_CALL_COUNT
};

enum fan_outcome {
	FAN_OUT_SENT,            /* the vendor accepted it for this address */
	FAN_OUT_INVALID_TOKEN,   /* unbind + tombstone, never again */
	FAN_OUT_RETRY,           /* throttling, flow control, 5xx: back off */
	FAN_OUT_QUOTA,           /* daily / monthly / balance limit */
	FAN_OUT_AUTH,            /* credential wrong or expired */
	FAN_OUT_BAD_REQUEST,     /* rejected as such, not retried */
	FAN_OUT_MALFORMED,       /* the answer could not be read */
	FAN_OUT_COUNT
};

/* The message: title and body, and an optional class (see VENDORS.md). */
struct fan_msg {
	const char *title;
	const char *body;
	const char *category; /* NULL: none */
	const char *payload;  /* Xiaomi payload, NULL: none */
};

/* Where and as whom. Fields a call does not use may be NULL. */
struct fan_cred {
	const char *host;          /* Host header */
	const char *app_id;        /* Huawei appid, vivo appId */
	const char *secret;        /* Huawei access token, Xiaomi app secret, OPPO
	                              auth_token, vivo authToken, webhook bearer,
	                              SMS AccessKeyId */
	const char *package;       /* Xiaomi restricted_package_name */
	const char *path;          /* webhook path, "/" when NULL */
	const char *sign_name;     /* SMS SignName */
	const char *template_code; /* SMS TemplateCode */
};

struct fan_req {
	enum fan_call call;
	const struct fan_msg *msg;
	const struct fan_msg *msgs;   /* OPPO unicast_batch: one message per address (n), NULL: msg for all */
	const struct fan_cred *cred;
	const char *const *tokens; /* n addresses, UTF-8, NUL-terminated */
	size_t n;
	const char *request_id;    /* vivo requestId, webhook id (NULL: omitted
	                              for webhook, required for vivo) */
	const char *task_id;       /* vivo pushToList: taskId from the save call */
	const char *timestamp;     /* SMS Timestamp, ISO 8601 UTC */
	const char *nonce;         /* SMS SignatureNonce */
	const char *signature;     /* SMS Signature (fan_fmt_sms_signed() fills it) */
};

/* Write the request into buf. Returns its length in bytes (the request is
   not NUL-terminated), -EINVAL for a missing field, an empty batch, more
   than FAN_BATCH_TOKENS_MAX addresses or an address the format cannot carry,
   -ENOSPC when cap is too small (buf then holds garbage). Pure; any core. */
ssize_t fan_fmt_request(const struct fan_req *req, char *buf, size_t cap);

struct fan_answer {
	enum fan_outcome batch;         /* the answer as a whole */
	char code[FAN_CODE_BYTES_MAX];  /* vendor code as text, "" when none */
	char task_id[FAN_TASK_ID_BYTES_MAX]; /* vivo saveListPayload */
	uint32_t count[FAN_OUT_COUNT];  /* addresses per outcome */
};

/* Read the answer to req (same call, tokens and n as were sent). Fills
   out[i] with the outcome of req->tokens[i] and *ans with the batch-level
   outcome and counts. Never fails: an answer it cannot read is
   FAN_OUT_MALFORMED for every address. body need not be NUL-terminated and
   may be NULL when len is 0. Pure; any core. */
void fan_parse_answer(const struct fan_req *req, int http_status, const char *body, size_t len,
		     uint8_t *out, struct fan_answer *ans);

#define FAN_SMS_SIGNATURE_BYTES 29u /* base64 of an HMAC-SHA1 + NUL */

/* Alibaba Cloud RPC signature (SignatureVersion 1.0, HMAC-SHA1): base64 of
   HMAC-SHA1 keyed secret + "&" over method + "&%2F&" + the percent-encoded
   canonical string (the byte-ordered, percent-encoded parameters without
   Signature). Writes NUL-terminated base64 to out. Returns 0, -EINVAL, or
   -ENOMEM (OpenSSL could not make its MAC context). Any core. */
int fan_sms_signature(const char *method, const char *canonical, size_t len, const char *secret,
		     char out[FAN_SMS_SIGNATURE_BYTES]);

/* fan_fmt_request() for FAN_CALL_SMS with req->signature computed here from
   the request's own parameters and secret (the AccessKey secret). */
ssize_t fan_fmt_sms_signed(const struct fan_req *req, const char *secret, char *buf, size_t cap);

/* "sent", "invalid_token", ... ; "?" for a value out of range. */
const char *fan_outcome_name(enum fan_outcome o);

/* JSON string escaping as used by the encoders (RFC 8259: quote, backslash
   and control characters escaped, other bytes passed through): writes at
   most cap bytes to dst, returns the length the escaped text needs. */
size_t fan_json_escape(char *dst, size_t cap, const char *src);

#endif
