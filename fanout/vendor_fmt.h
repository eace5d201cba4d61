/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vendor_fmt.h - the vendors' request and answer formats, as pure functions.
 *
 * fo_fmt_request() writes one complete HTTP/1.1 request (request line,
 * headers with Content-Length, body) for a batch of up to
 * FO_BATCH_TOKENS_MAX addresses into a caller buffer. fo_parse_answer()
 * turns an HTTP status and body into one Herald outcome per address of that
 * batch. Neither does I/O, reads the clock or keeps state; both may be
 * called from any core. docs/VENDORS.md is the field-by-field and
 * code-by-code description; the tables in vendor_fmt.c follow it row by row.
 */
#ifndef HERALD_FANOUT_VENDOR_FMT_H
#define HERALD_FANOUT_VENDOR_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Addresses per vendor call: Huawei token array, Xiaomi regid list, OPPO
   unicast_batch, vivo pushToList, SendSms PhoneNumbers, webhook "to".
   (To move to include/bounds.h with the rest of the fan-out limits.) */
#define FO_BATCH_TOKENS_MAX 1000u
#define FO_CODE_BYTES_MAX   48u  /* vendor answer code kept as text */
#define FO_TASK_ID_BYTES_MAX 64u /* vivo saveListPayload taskId */

enum fo_call {
	FO_CALL_HUAWEI,         /* POST /v1/{appid}/messages:send */
	FO_CALL_XIAOMI,         /* POST /v3/message/regid */
	FO_CALL_OPPO_BATCH,     /* POST /server/v1/message/notification/unicast_batch */
	FO_CALL_VIVO_SAVE,      /* POST /message/saveListPayload (no addresses) */
	FO_CALL_VIVO_PUSH,      /* POST /message/pushToList */
	FO_CALL_SMS,            /* POST / Action=SendSms (Alibaba Cloud shape) */
	FO_CALL_WEBHOOK,        /* POST {path}, Herald's own JSON */
	FO_CALL_COUNT
};

enum fo_outcome {
	FO_OUT_SENT,            /* the vendor accepted it for this address */
	FO_OUT_INVALID_TOKEN,   /* unbind + tombstone, never again */
	FO_OUT_RETRY,           /* throttling, flow control, 5xx: back off */
	FO_OUT_QUOTA,           /* daily / monthly / balance limit */
	FO_OUT_AUTH,            /* credential wrong or expired */
	FO_OUT_BAD_REQUEST,     /* rejected as such, not retried */
	FO_OUT_MALFORMED,       /* the answer could not be read */
	FO_OUT_COUNT
};

/* The message: title and body, and an optional class (see VENDORS.md). */
struct fo_msg {
	const char *title;
	const char *body;
	const char *category; /* NULL: none */
	const char *payload;  /* Xiaomi payload, NULL: none */
};

/* Where and as whom. Fields a call does not use may be NULL. */
struct fo_cred {
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

struct fo_req {
	enum fo_call call;
	const struct fo_msg *msg;
	const struct fo_cred *cred;
	const char *const *tokens; /* n addresses, UTF-8, NUL-terminated */
	size_t n;
	const char *request_id;    /* vivo requestId, webhook id (NULL: omitted
	                              for webhook, required for vivo) */
	const char *task_id;       /* vivo pushToList: taskId from the save call */
	const char *timestamp;     /* SMS Timestamp, ISO 8601 UTC */
	const char *nonce;         /* SMS SignatureNonce */
	const char *signature;     /* SMS Signature (fo_fmt_sms_signed() fills it) */
};

/* Write the request into buf. Returns its length in bytes (the request is
   not NUL-terminated), -EINVAL for a missing field, an empty batch, more
   than FO_BATCH_TOKENS_MAX addresses or an address the format cannot carry,
   -ENOSPC when cap is too small (buf then holds garbage). Pure; any core. */
ssize_t fo_fmt_request(const struct fo_req *req, char *buf, size_t cap);

struct fo_answer {
	enum fo_outcome batch;         /* the answer as a whole */
	char code[FO_CODE_BYTES_MAX];  /* vendor code as text, "" when none */
	char task_id[FO_TASK_ID_BYTES_MAX]; /* vivo saveListPayload */
	uint32_t count[FO_OUT_COUNT];  /* addresses per outcome */
};

/* Read the answer to req (same call, tokens and n as were sent). Fills
   out[i] with the outcome of req->tokens[i] and *ans with the batch-level
   outcome and counts. Never fails: an answer it cannot read is
   FO_OUT_MALFORMED for every address. body need not be NUL-terminated and
   may be NULL when len is 0. Pure; any core. */
void fo_parse_answer(const struct fo_req *req, int http_status, const char *body, size_t len,
		     uint8_t *out, struct fo_answer *ans);

#define FO_SMS_SIGNATURE_BYTES 29u /* base64 of an HMAC-SHA1 + NUL */

/* Alibaba Cloud RPC signature (SignatureVersion 1.0, HMAC-SHA1): base64 of
   HMAC-SHA1 keyed secret + "&" over method + "&%2F&" + the percent-encoded
   canonical string (the byte-ordered, percent-encoded parameters without
   Signature). Writes NUL-terminated base64 to out. Returns 0, -EINVAL, or
   -ENOMEM (OpenSSL could not make its MAC context). Any core. */
int fo_sms_signature(const char *method, const char *canonical, size_t len, const char *secret,
		     char out[FO_SMS_SIGNATURE_BYTES]);

/* fo_fmt_request() for FO_CALL_SMS with req->signature computed here from
   the request's own parameters and secret (the AccessKey secret). */
ssize_t fo_fmt_sms_signed(const struct fo_req *req, const char *secret, char *buf, size_t cap);

/* "sent", "invalid_token", ... ; "?" for a value out of range. */
const char *fo_outcome_name(enum fo_outcome o);

/* JSON string escaping as used by the encoders (RFC 8259: quote, backslash
   and control characters escaped, other bytes passed through): writes at
   most cap bytes to dst, returns the length the escaped text needs. */
size_t fo_json_escape(char *dst, size_t cap, const char *src);

#endif
