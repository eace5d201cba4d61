/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vendor_fmt.c - request encoders and answer parsers for the vendor calls.
 *
 * Every request is written in two passes through the same body function:
 * the first only counts bytes (for Content-Length), the second writes
 * after the headers. Writers never write past cap; a request that does not
 * fit is -ENOSPC. Nothing is allocated while encoding.
 *
 * Request layout (all calls):
 *
 *   POST <path> HTTP/1.1\r\n
 *   Host: <host>\r\n
 *   <auth header>\r\n                   (not for OPPO and SMS: in the body)
 *   Content-Type: <type>\r\n
 *   Content-Length: <decimal>\r\n
 *   \r\n
 *   <body>
 *
 * A writer in form mode percent-encodes each byte it is given (RFC 3986
 * unreserved bytes kept, everything else %XX upper case), so a JSON
 * document can be written straight into a form value (OPPO messages=, SMS
 * TemplateParam=).
 *
 * Answers are read with jansson (json_loadb, bounded by len; a body that is
 * not JSON is just an error). Each call maps its vendor's codes through a
 * table of {code text, outcome} rows, the same rows as docs/VENDORS.md.
 * Common HTTP rules come first: 429/500/502/503/504 retry, 401/403 auth.
 */
#include "fanout/vendor_fmt.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "base/assert.h"
#include "include/bounds.h"

/* ---- writer ------------------------------------------------------------- */

struct wr {
	char *p; /* NULL: count only */
	size_t len, cap;
	bool form;
};

static void put_byte_raw(struct wr *w, char c)
{
	if (w->p && w->len < w->cap)
		w->p[w->len] = c;
	w->len++;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_' || c == '.' || c == '~';
}

static void put_byte(struct wr *w, char c)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char u = (unsigned char)c;

	if (!w->form || unreserved(u)) {
		put_byte_raw(w, c);
		return;
	}
	put_byte_raw(w, '%');
	put_byte_raw(w, hex[u >> 4]);
	put_byte_raw(w, hex[u & 15]);
}

static void put_n(struct wr *w, const char *s, size_t n)
{
	if (!w->form) { /* raw: copy what fits, count all (the counting pass copies nothing) */
		if (w->p && w->len < w->cap)
			memcpy(w->p + w->len, s, n < w->cap - w->len ? n : w->cap - w->len);
		w->len += n;
		return;
	}
	for (size_t i = 0; i < n; i++)
		put_byte(w, s[i]);
}

static void put_s(struct wr *w, const char *s)
{
	put_n(w, s, strlen(s));
}

/* s as a form value: percent-encoded whatever the writer's mode */
static void put_form(struct wr *w, const char *s)
{
	bool was = w->form;
	w->form = true;
	put_s(w, s);
	w->form = was;
}

static void put_u64(struct wr *w, uint64_t v)
{
	char d[24];
	int n = snprintf(d, sizeof(d), "%llu", (unsigned long long)v);
	put_n(w, d, (size_t)n);
}

/* the JSON escape of one byte into e; returns its length (1, 2 or 6) */
static size_t json_escape_byte(unsigned char c, char e[6])
{
	static const char hex[] = "0123456789abcdef";
	/* RFC 8259's two-character escapes, by byte; 0: none */
	static const char short_escape[128] = {
		['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
		['\n'] = 'n', ['\r'] = 'r',  ['\t'] = 't',
	};

	if (c < 128 && short_escape[c]) {
		e[0] = '\\';
		e[1] = short_escape[c];
		return 2;
	}
	if (c < 0x20) {
		e[0] = '\\';
		e[1] = 'u';
		e[2] = '0';
		e[3] = '0';
		e[4] = hex[c >> 4];
		e[5] = hex[c & 15];
		return 6;
	}
	e[0] = (char)c;
	return 1;
}

/* Bytes JSON carries as they are: not NUL, not a control character, not " or \\ */
static const bool json_plain[256] = { [0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0xff] = 1 };

/* "s" as a JSON string: runs of plain bytes in one piece */
static void put_json(struct wr *w, const char *s)
{
	char e[6];

	put_byte(w, '"');
	for (;;) {
		const char *run = s;
		while (json_plain[(unsigned char)*s])
			s++;
		if (s > run)
			put_n(w, run, (size_t)(s - run));
		if (!*s)
			break;
		put_n(w, e, json_escape_byte((unsigned char)*s, e));
		s++;
	}
	put_byte(w, '"');
}

size_t fan_json_escape(char *dst, size_t cap, const char *src)
{
	struct wr w = { .p = dst, .cap = cap };
	char e[6];

	for (; *src; src++)
		put_n(&w, e, json_escape_byte((unsigned char)*src, e));
	return w.len;
}

/* ["t0","t1",...] */
static void put_json_tokens(struct wr *w, const struct fan_req *r)
{
	put_byte(w, '[');
	for (size_t i = 0; i < r->n; i++) {
		if (i)
			put_byte(w, ',');
		put_json(w, r->tokens[i]);
	}
	put_byte(w, ']');
}

/* t0,t1,... form-encoded, the commas kept when keep_commas */
static void put_form_tokens(struct wr *w, const struct fan_req *r, bool keep_commas)
{
	for (size_t i = 0; i < r->n; i++) {
		if (i)
			keep_commas ? put_byte_raw(w, ',') : put_form(w, ",");
		put_form(w, r->tokens[i]);
	}
}

/* ---- request bodies ------------------------------------------------------ */

static void body_huawei(struct wr *w, const struct fan_req *r)
{
	const struct fan_msg *m = r->msg;

	put_s(w, "{\"validate_only\":false,\"message\":{\"notification\":{\"title\":");
	put_json(w, m->title);
	put_s(w, ",\"body\":");
	put_json(w, m->body);
	put_s(w, "},\"android\":{");
	if (m->category) {
		put_s(w, "\"category\":");
		put_json(w, m->category);
		put_byte(w, ',');
	}
	put_s(w, "\"notification\":{\"title\":");
	put_json(w, m->title);
	put_s(w, ",\"body\":");
	put_json(w, m->body);
	put_s(w, ",\"click_action\":{\"type\":3}}},\"token\":");
	put_json_tokens(w, r);
	put_s(w, "}}");
}

static void body_xiaomi(struct wr *w, const struct fan_req *r)
{
	const struct fan_msg *m = r->msg;

	put_s(w, "restricted_package_name=");
	put_form(w, r->cred->package);
	put_s(w, "&pass_through=0&notify_type=-1&title=");
	put_form(w, m->title);
	put_s(w, "&description=");
	put_form(w, m->body);
	put_s(w, "&registration_id=");
	put_form_tokens(w, r, true);
	if (m->category) {
		put_s(w, "&extra.channel_id=");
		put_form(w, m->category);
	}
	if (m->payload) {
		put_s(w, "&payload=");
		put_form(w, m->payload);
	}
}

static void body_oppo(struct wr *w, const struct fan_req *r)
{
	const struct fan_msg *m = r->msg;

	put_s(w, "auth_token=");
	put_form(w, r->cred->secret);
	put_s(w, "&messages=");
	w->form = true;
	put_byte(w, '[');
	for (size_t i = 0; i < r->n; i++) {
		if (r->msgs) /* personalised: each address its own message (unicast_batch is per message) */
			m = &r->msgs[i];
		if (i)
			put_byte(w, ',');
		put_s(w, "{\"target_type\":2,\"target_value\":");
		put_json(w, r->tokens[i]);
		put_s(w, ",\"notification\":{\"title\":");
		put_json(w, m->title);
		put_s(w, ",\"content\":");
		put_json(w, m->body);
		if (m->category) {
			put_s(w, ",\"channel_id\":");
			put_json(w, m->category);
		}
		put_s(w, "}}");
	}
	put_byte(w, ']');
	w->form = false;
}

static void body_vivo_save(struct wr *w, const struct fan_req *r)
{
	const struct fan_msg *m = r->msg;

	put_s(w, "{\"appId\":");
	put_json(w, r->cred->app_id);
	put_s(w, ",\"title\":");
	put_json(w, m->title);
	put_s(w, ",\"content\":");
	put_json(w, m->body);
	put_s(w, ",\"notifyType\":4,\"skipType\":1,\"requestId\":");
	put_json(w, r->request_id);
	if (m->category) {
		put_s(w, ",\"category\":");
		put_json(w, m->category);
	}
	put_byte(w, '}');
}

static void body_vivo_push(struct wr *w, const struct fan_req *r)
{
	put_s(w, "{\"appId\":");
	put_json(w, r->cred->app_id);
	put_s(w, ",\"regIds\":");
	put_json_tokens(w, r);
	put_s(w, ",\"taskId\":");
	put_json(w, r->task_id);
	put_s(w, ",\"requestId\":");
	put_json(w, r->request_id);
	put_byte(w, '}');
}

/* SendSms parameters in byte order of their names (the signing order) */
static void body_sms(struct wr *w, const struct fan_req *r)
{
	put_s(w, "AccessKeyId=");
	put_form(w, r->cred->secret);
	put_s(w, "&Action=SendSms&Format=JSON&PhoneNumbers=");
	put_form_tokens(w, r, false);
	put_s(w, "&RegionId=cn-hangzhou&SignName=");
	put_form(w, r->cred->sign_name);
	put_s(w, "&SignatureMethod=HMAC-SHA1&SignatureNonce=");
	put_form(w, r->nonce);
	put_s(w, "&SignatureVersion=1.0&TemplateCode=");
	put_form(w, r->cred->template_code);
	put_s(w, "&TemplateParam=");
	w->form = true;
	put_s(w, "{\"text\":");
	put_json(w, r->msg->body);
	put_byte(w, '}');
	w->form = false;
	put_s(w, "&Timestamp=");
	put_form(w, r->timestamp);
	put_s(w, "&Version=2017-05-25&Signature=");
	put_form(w, r->signature);
}

static void body_webhook(struct wr *w, const struct fan_req *r)
{
	const struct fan_msg *m = r->msg;

	put_s(w, "{\"herald\":1,");
	if (r->request_id) {
		put_s(w, "\"id\":");
		put_json(w, r->request_id);
		put_byte(w, ',');
	}
	put_s(w, "\"title\":");
	put_json(w, m->title);
	put_s(w, ",\"body\":");
	put_json(w, m->body);
	if (m->category) {
		put_s(w, ",\"category\":");
		put_json(w, m->category);
	}
	put_s(w, ",\"to\":");
	put_json_tokens(w, r);
	put_byte(w, '}');
}

/* ---- request lines and auth headers -------------------------------------- */

static void head_huawei(struct wr *w, const struct fan_req *r)
{
	put_s(w, "POST /v1/");
	put_form(w, r->cred->app_id);
	put_s(w, "/messages:send HTTP/1.1\r\nHost: ");
	put_s(w, r->cred->host);
	put_s(w, "\r\nAuthorization: Bearer ");
	put_s(w, r->cred->secret);
	put_s(w, "\r\n");
}

static void head_xiaomi(struct wr *w, const struct fan_req *r)
{
	put_s(w, "POST /v3/message/regid HTTP/1.1\r\nHost: ");
	put_s(w, r->cred->host);
	put_s(w, "\r\nAuthorization: key=");
	put_s(w, r->cred->secret);
	put_s(w, "\r\n");
}

static void head_oppo(struct wr *w, const struct fan_req *r)
{
	put_s(w, "POST /server/v1/message/notification/unicast_batch HTTP/1.1\r\nHost: ");
	put_s(w, r->cred->host);
	put_s(w, "\r\n");
}

static void head_vivo(struct wr *w, const struct fan_req *r, const char *path)
{
	put_s(w, "POST ");
	put_s(w, path);
	put_s(w, " HTTP/1.1\r\nHost: ");
	put_s(w, r->cred->host);
	put_s(w, "\r\nauthToken: ");
	put_s(w, r->cred->secret);
	put_s(w, "\r\n");
}

static void head_vivo_save(struct wr *w, const struct fan_req *r)
{
	head_vivo(w, r, "/message/saveListPayload");
}

static void head_vivo_push(struct wr *w, const struct fan_req *r)
{
	head_vivo(w, r, "/message/pushToList");
}

static void head_sms(struct wr *w, const struct fan_req *r)
{
	put_s(w, "POST / HTTP/1.1\r\nHost: ");
	put_s(w, r->cred->host);
	put_s(w, "\r\n");
}

static void head_webhook(struct wr *w, const struct fan_req *r)
{
	put_s(w, "POST ");
	put_s(w, r->cred->path ? r->cred->path : "/");
	put_s(w, " HTTP/1.1\r\nHost: ");
	put_s(w, r->cred->host);
	put_s(w, "\r\nAuthorization: Bearer ");
	put_s(w, r->cred->secret);
	put_s(w, "\r\n");
}

/* ---- answer code tables (docs/VENDORS.md) ---------------------------------- */

struct code_row {
	const char *code;
	enum fan_outcome outcome;
};

static const struct code_row huawei_codes[] = {
	{ "80000000", FAN_OUT_SENT },        { "80100001", FAN_OUT_BAD_REQUEST },
	{ "80100003", FAN_OUT_BAD_REQUEST }, { "80100004", FAN_OUT_BAD_REQUEST },
	{ "80100016", FAN_OUT_BAD_REQUEST }, { "80200001", FAN_OUT_AUTH },
	{ "80200003", FAN_OUT_AUTH },        { "80300002", FAN_OUT_AUTH },
	{ "80300007", FAN_OUT_INVALID_TOKEN }, { "80300008", FAN_OUT_BAD_REQUEST },
	{ "80300010", FAN_OUT_BAD_REQUEST }, { "80600003", FAN_OUT_RETRY },
	{ "81000001", FAN_OUT_RETRY },       { NULL, 0 },
};

static const struct code_row xiaomi_codes[] = {
	{ "0", FAN_OUT_SENT },          { "21301", FAN_OUT_AUTH },      { "22006", FAN_OUT_AUTH },
	{ "10001", FAN_OUT_RETRY },     { "10002", FAN_OUT_RETRY },     { "10003", FAN_OUT_RETRY },
	{ "10009", FAN_OUT_RETRY },     { "10004", FAN_OUT_RETRY },     { "10022", FAN_OUT_RETRY },
	{ "10023", FAN_OUT_RETRY },     { "10024", FAN_OUT_RETRY },     { "20301", FAN_OUT_INVALID_TOKEN },
	{ "200001", FAN_OUT_QUOTA },    { "200002", FAN_OUT_QUOTA },    { NULL, 0 },
};

static const struct code_row oppo_codes[] = {
	{ "0", FAN_OUT_SENT },  { "-1", FAN_OUT_RETRY }, { "-2", FAN_OUT_RETRY },
	{ "11", FAN_OUT_AUTH }, { "12", FAN_OUT_BAD_REQUEST }, { "13", FAN_OUT_RETRY },
	{ "14", FAN_OUT_AUTH }, { "33", FAN_OUT_QUOTA }, { NULL, 0 },
};

static const struct code_row vivo_codes[] = {
	{ "0", FAN_OUT_SENT },      { "10000", FAN_OUT_AUTH },  { "10094", FAN_OUT_AUTH },
	{ "10070", FAN_OUT_QUOTA }, { "10252", FAN_OUT_QUOTA }, { "10254", FAN_OUT_QUOTA },
	{ "10072", FAN_OUT_RETRY }, { NULL, 0 },
};

static const struct code_row sms_codes[] = {
	{ "OK", FAN_OUT_SENT },
	{ "isv.MOBILE_NUMBER_ILLEGAL", FAN_OUT_INVALID_TOKEN },
	{ "isv.BUSINESS_LIMIT_CONTROL", FAN_OUT_RETRY },
	{ "Throttling.User", FAN_OUT_RETRY },
	{ "Throttling", FAN_OUT_RETRY },
	{ "isp.SYSTEM_ERROR", FAN_OUT_RETRY },
	{ "isv.DAY_LIMIT_CONTROL", FAN_OUT_QUOTA },
	{ "isv.MONTH_LIMIT_CONTROL", FAN_OUT_QUOTA },
	{ "isv.AMOUNT_NOT_ENOUGH", FAN_OUT_QUOTA },
	{ "isv.OUT_OF_SERVICE", FAN_OUT_QUOTA },
	{ "isp.RAM_PERMISSION_DENY", FAN_OUT_AUTH },
	{ "isv.ACCOUNT_NOT_EXISTS", FAN_OUT_AUTH },
	{ "isv.ACCOUNT_ABNORMAL", FAN_OUT_AUTH },
	{ "isv.PRODUCT_UN_SUBSCRIPT", FAN_OUT_AUTH },
	{ "isv.PRODUCT_UNSUBSCRIBE", FAN_OUT_AUTH },
	{ "isv.DENY_IP_RANGE", FAN_OUT_AUTH },
	{ "InvalidAccessKeyId.NotFound", FAN_OUT_AUTH },
	{ "SignatureDoesNotMatch", FAN_OUT_AUTH },
	{ NULL, 0 }, /* the isv.* request and content errors fall to bad_request */
};

static enum fan_outcome code_outcome(const struct code_row *t, const char *code, int http_status)
{
	for (; t->code; t++)
		if (strcmp(t->code, code) == 0)
			return t->outcome;
	return http_status >= 500 ? FAN_OUT_RETRY : FAN_OUT_BAD_REQUEST;
}

/* ---- answer helpers ------------------------------------------------------------ */

static void set_all(const struct fan_req *r, uint8_t *out, enum fan_outcome o)
{
	for (size_t i = 0; i < r->n; i++)
		out[i] = (uint8_t)o;
}

/* mark every address equal to tok (n <= 1000: a scan is cheap enough) */
static void mark(const struct fan_req *r, uint8_t *out, const char *tok, enum fan_outcome o)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->tokens[i], tok) == 0)
			out[i] = (uint8_t)o;
}

static size_t mark_array(const struct fan_req *r, uint8_t *out, json_t *arr, enum fan_outcome o)
{
	size_t i, marked = 0;
	json_t *v;

	if (!json_is_array(arr))
		return 0;
	json_array_foreach (arr, i, v)
		if (json_is_string(v)) {
			mark(r, out, json_string_value(v), o);
			marked++;
		}
	return marked;
}

/* the code member as text: strings as they are, integers in decimal */
static bool code_text(json_t *obj, const char *key, char *dst)
{
	json_t *c = json_object_get(obj, key);

	if (json_is_string(c))
		snprintf(dst, FAN_CODE_BYTES_MAX, "%s", json_string_value(c));
	else if (json_is_integer(c))
		snprintf(dst, FAN_CODE_BYTES_MAX, "%lld", (long long)json_integer_value(c));
	else
		return false;
	return true;
}

/* ---- answer parsers: return the batch outcome, fill out[] ------------------- */

typedef enum fan_outcome (*parse_fn)(const struct fan_req *r, int status, json_t *root, uint8_t *out,
				    struct fan_answer *ans);

/* Huawei's list of rejected tokens, in the msg string: v1 "illegal_tokens"
   array, or v3 "illegalTokens" object of arrays by reason. -1: unreadable. */
static long huawei_illegal(const struct fan_req *r, json_t *root, uint8_t *out)
{
	json_t *msg = json_object_get(root, "msg"), *inner, *v;
	const char *key;
	long marked = 0;

	if (!json_is_string(msg))
		return -1;
	inner = json_loadb(json_string_value(msg), json_string_length(msg), 0, NULL);
	if (!json_is_object(inner)) {
		json_decref(inner);
		return -1;
	}
	marked += (long)mark_array(r, out, json_object_get(inner, "illegal_tokens"), FAN_OUT_INVALID_TOKEN);
	v = json_object_get(inner, "illegalTokens");
	if (json_is_object(v)) {
		json_t *arr;
		json_object_foreach (v, key, arr)
			marked += (long)mark_array(r, out, arr, FAN_OUT_INVALID_TOKEN);
	}
	json_decref(inner);
	return marked;
}

static enum fan_outcome parse_huawei(const struct fan_req *r, int status, json_t *root, uint8_t *out,
				    struct fan_answer *ans)
{
	if (!code_text(root, "code", ans->code))
		return FAN_OUT_MALFORMED;
	if (strcmp(ans->code, "80100000") == 0) {
		set_all(r, out, FAN_OUT_SENT);
		return huawei_illegal(r, root, out) < 0 ? FAN_OUT_MALFORMED : FAN_OUT_SENT;
	}
	if (strcmp(ans->code, "80300007") == 0) {
		set_all(r, out, FAN_OUT_BAD_REQUEST);
		if (huawei_illegal(r, root, out) <= 0)
			set_all(r, out, FAN_OUT_INVALID_TOKEN);
		return FAN_OUT_INVALID_TOKEN;
	}
	enum fan_outcome o = code_outcome(huawei_codes, ans->code, status);
	set_all(r, out, o);
	return o;
}

static enum fan_outcome parse_xiaomi(const struct fan_req *r, int status, json_t *root, uint8_t *out,
				    struct fan_answer *ans)
{
	json_t *result = json_object_get(root, "result");
	bool ok = json_is_string(result) && strcmp(json_string_value(result), "ok") == 0;

	if (!code_text(root, "code", ans->code)) {
		if (!ok)
			return FAN_OUT_MALFORMED;
		strcpy(ans->code, "0");
	}
	if (ok && strcmp(ans->code, "0") == 0) {
		json_t *bad = json_object_get(json_object_get(root, "data"), "bad_regids");
		set_all(r, out, FAN_OUT_SENT);
		if (json_is_string(bad)) {
			char tok[HRL_ADDRESS_BYTES_MAX + 1];
			const char *s = json_string_value(bad);
			while (*s) {
				size_t k = strcspn(s, ",");
				if (k < sizeof(tok)) {
					memcpy(tok, s, k);
					tok[k] = '\0';
					mark(r, out, tok, FAN_OUT_INVALID_TOKEN);
				}
				s += k + (s[k] == ',');
			}
		}
		return FAN_OUT_SENT;
	}
	enum fan_outcome o = code_outcome(xiaomi_codes, ans->code, status);
	if (o == FAN_OUT_SENT || (o == FAN_OUT_INVALID_TOKEN && r->n != 1))
		o = FAN_OUT_BAD_REQUEST; /* "0" with result error; 20301 with several regids */
	set_all(r, out, o);
	return o;
}

static enum fan_outcome parse_oppo(const struct fan_req *r, int status, json_t *root, uint8_t *out,
				  struct fan_answer *ans)
{
	size_t i;
	json_t *el;

	if (!code_text(root, "code", ans->code))
		return FAN_OUT_MALFORMED;
	enum fan_outcome o = code_outcome(oppo_codes, ans->code, status);
	set_all(r, out, o);
	if (o != FAN_OUT_SENT)
		return o;
	json_array_foreach (json_object_get(root, "data"), i, el) {
		json_t *reg = json_object_get(el, "registrationId");
		json_t *err = json_object_get(el, "errorCode");
		if (!json_is_string(reg) || !err)
			continue;
		bool invalid = json_is_integer(err) ? json_integer_value(err) == 10000
						    : json_is_string(err) && strcmp(json_string_value(err), "10000") == 0;
		mark(r, out, json_string_value(reg), invalid ? FAN_OUT_INVALID_TOKEN : FAN_OUT_BAD_REQUEST);
	}
	return FAN_OUT_SENT;
}

static enum fan_outcome parse_vivo(const struct fan_req *r, int status, json_t *root, uint8_t *out,
				  struct fan_answer *ans)
{
	size_t i;
	json_t *el;

	if (!code_text(root, "result", ans->code))
		return FAN_OUT_MALFORMED;
	enum fan_outcome o = code_outcome(vivo_codes, ans->code, status);
	set_all(r, out, o);
	if (o != FAN_OUT_SENT)
		return o;
	if (r->call == FAN_CALL_VIVO_SAVE) {
		json_t *t = json_object_get(root, "taskId");
		if (json_is_integer(t))
			snprintf(ans->task_id, sizeof(ans->task_id), "%lld", (long long)json_integer_value(t));
		else if (json_is_string(t) && json_string_length(t) > 0 &&
			 json_string_length(t) < sizeof(ans->task_id))
			snprintf(ans->task_id, sizeof(ans->task_id), "%s", json_string_value(t));
		else
			return FAN_OUT_MALFORMED;
		return FAN_OUT_SENT;
	}
	json_array_foreach (json_object_get(root, "invalidUsers"), i, el) {
		json_t *u = json_object_get(el, "userid");
		if (json_is_string(u))
			mark(r, out, json_string_value(u), FAN_OUT_INVALID_TOKEN);
	}
	return FAN_OUT_SENT;
}

static enum fan_outcome parse_sms(const struct fan_req *r, int status, json_t *root, uint8_t *out,
				 struct fan_answer *ans)
{
	if (!code_text(root, "Code", ans->code))
		return FAN_OUT_MALFORMED;
	enum fan_outcome o = code_outcome(sms_codes, ans->code, status);
	if (o == FAN_OUT_INVALID_TOKEN && r->n != 1)
		o = FAN_OUT_BAD_REQUEST; /* the answer does not say which number */
	set_all(r, out, o);
	return o;
}

static enum fan_outcome parse_webhook(const struct fan_req *r, int status, json_t *root, uint8_t *out,
				     struct fan_answer *ans)
{
	snprintf(ans->code, sizeof(ans->code), "%d", status);
	if (status >= 200 && status < 300) {
		if (!json_is_object(root))
			return FAN_OUT_MALFORMED;
		json_t *inv = json_object_get(root, "invalid");
		if (inv && !json_is_array(inv))
			return FAN_OUT_MALFORMED;
		set_all(r, out, FAN_OUT_SENT);
		mark_array(r, out, inv, FAN_OUT_INVALID_TOKEN);
		return FAN_OUT_SENT;
	}
	enum fan_outcome o = status == 402 ? FAN_OUT_QUOTA : FAN_OUT_BAD_REQUEST;
	set_all(r, out, o);
	return o;
}

/* ---- the call table --------------------------------------------------------------- */

/* what a call needs besides host, title and body */
enum {
	NEED_AUTH_HEADER = 1 << 0, /* cred->secret, sent in a header */
	NEED_SECRET = 1 << 1,      /* cred->secret, sent in the body */
	NEED_APP_ID = 1 << 2,
	NEED_PACKAGE = 1 << 3,
	NEED_REQUEST_ID = 1 << 4,
	NEED_TASK_ID = 1 << 5,
	NEED_SMS = 1 << 6,         /* sign name, template, timestamp, nonce, signature */
	NEED_PATH_OK = 1 << 7,     /* cred->path, when set, is a clean absolute path */
};

struct call_fmt {
	const char *content_type;
	bool tokens;      /* carries addresses (1..FAN_BATCH_TOKENS_MAX) */
	bool no_commas;   /* addresses joined with commas */
	unsigned need;
	void (*head)(struct wr *, const struct fan_req *);
	void (*body)(struct wr *, const struct fan_req *);
	parse_fn parse;
};

static const struct call_fmt calls[] = {
	[FAN_CALL_HUAWEI] = { "application/json; charset=UTF-8", true, false, NEED_AUTH_HEADER | NEED_APP_ID,
			     head_huawei, body_huawei, parse_huawei },
	[FAN_CALL_XIAOMI] = { "application/x-www-form-urlencoded;charset=UTF-8", true, true,
			     NEED_AUTH_HEADER | NEED_PACKAGE, head_xiaomi, body_xiaomi, parse_xiaomi },
	[FAN_CALL_OPPO_BATCH] = { "application/x-www-form-urlencoded;charset=UTF-8", true, false, NEED_SECRET,
				 head_oppo, body_oppo, parse_oppo },
	[FAN_CALL_VIVO_SAVE] = { "application/json", false, false,
				NEED_AUTH_HEADER | NEED_APP_ID | NEED_REQUEST_ID, head_vivo_save,
				body_vivo_save, parse_vivo },
	[FAN_CALL_VIVO_PUSH] = { "application/json", true, false,
				NEED_AUTH_HEADER | NEED_APP_ID | NEED_REQUEST_ID | NEED_TASK_ID,
				head_vivo_push, body_vivo_push, parse_vivo },
	[FAN_CALL_SMS] = { "application/x-www-form-urlencoded", true, true, NEED_SECRET | NEED_SMS, head_sms,
			  body_sms, parse_sms },
	[FAN_CALL_WEBHOOK] = { "application/json", true, false, NEED_AUTH_HEADER | NEED_PATH_OK, head_webhook,
			      body_webhook, parse_webhook },
};
_Static_assert(sizeof(calls) / sizeof(calls[0]) == FAN_CALL_COUNT, "a row per call");

/* ---- validation ---------------------------------------------------------------------- */

static bool set(const char *s)
{
	return s && *s;
}

/* a header value: present, no CR or LF to start another header */
static bool header_ok(const char *s)
{
	return set(s) && !strpbrk(s, "\r\n");
}

static bool fields_ok(const struct fan_req *r, unsigned need)
{
	const struct fan_cred *c = r->cred;
	const struct fan_msg *m = r->msg;

	if (!c || !m || !m->title || !m->body || !header_ok(c->host))
		return false;
	if ((need & NEED_AUTH_HEADER) && !header_ok(c->secret))
		return false;
	if ((need & NEED_SECRET) && !set(c->secret))
		return false;
	if ((need & NEED_APP_ID) && !set(c->app_id))
		return false;
	if ((need & NEED_PACKAGE) && !set(c->package))
		return false;
	if ((need & NEED_REQUEST_ID) && !set(r->request_id))
		return false;
	if ((need & NEED_TASK_ID) && !set(r->task_id))
		return false;
	if ((need & NEED_SMS) && !(set(c->sign_name) && set(c->template_code) && set(r->timestamp) &&
				   set(r->nonce) && r->signature))
		return false;
	if ((need & NEED_PATH_OK) && c->path && (c->path[0] != '/' || strpbrk(c->path, " \r\n")))
		return false;
	return true;
}

static bool req_ok(const struct fan_req *r)
{
	const struct call_fmt *f;

	if (!r || (unsigned)r->call >= FAN_CALL_COUNT)
		return false;
	f = &calls[r->call];
	if (!fields_ok(r, f->need))
		return false;
	if (!f->tokens)
		return r->n == 0;
	if (r->n == 0 || r->n > FAN_BATCH_TOKENS_MAX || !r->tokens)
		return false;
	for (size_t i = 0; i < r->n; i++) {
		if (!r->tokens[i] || !*r->tokens[i])
			return false;
		if (f->no_commas && strchr(r->tokens[i], ','))
			return false;
	}
	return true;
}

static bool all_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* ---- public ------------------------------------------------------------------------------ */

ssize_t fan_fmt_request(const struct fan_req *req, char *buf, size_t cap)
{
	struct wr count = { 0 }, w = { .p = buf, .cap = buf ? cap : 0 };

	if (!req_ok(req))
		return -EINVAL;
	const struct call_fmt *f = &calls[req->call];
	f->body(&count, req);
	f->head(&w, req);
	put_s(&w, "Content-Type: ");
	put_s(&w, f->content_type);
	put_s(&w, "\r\nContent-Length: ");
	put_u64(&w, count.len);
	put_s(&w, "\r\n\r\n");
	size_t head_len = w.len;
	f->body(&w, req);
	ALWAYS(w.len - head_len == count.len);
	if (w.len > cap || w.len > (size_t)SSIZE_MAX)
		return -ENOSPC;
	return (ssize_t)w.len;
}

void fan_parse_answer(const struct fan_req *req, int http_status, const char *body, size_t len,
		     uint8_t *out, struct fan_answer *ans)
{
	enum fan_outcome batch;
	json_t *root = NULL;

	ALWAYS(req && (unsigned)req->call < FAN_CALL_COUNT && ans);
	ALWAYS(req->n <= FAN_BATCH_TOKENS_MAX && (req->n == 0 || out));
	ALWAYS(body || len == 0);
	memset(ans, 0, sizeof(*ans));
	set_all(req, out, FAN_OUT_MALFORMED);
	if (body && len > 0)
		root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (req->call == FAN_CALL_WEBHOOK && !root && http_status >= 200 && http_status < 300 &&
	    all_space(body, len))
		root = json_object(); /* an empty 2xx body is "all sent" */

	if (http_status < 100 || http_status > 599) {
		batch = FAN_OUT_MALFORMED;
	} else if (http_status == 429 || http_status == 500 || http_status == 502 || http_status == 503 ||
		   http_status == 504) {
		batch = FAN_OUT_RETRY;
		code_text(root, req->call == FAN_CALL_SMS ? "Code" : "code", ans->code);
		set_all(req, out, batch);
	} else if (http_status == 401 || http_status == 403) {
		batch = FAN_OUT_AUTH;
		code_text(root, req->call == FAN_CALL_SMS ? "Code" : "code", ans->code);
		set_all(req, out, batch);
	} else if (req->call != FAN_CALL_WEBHOOK && !json_is_object(root)) {
		batch = http_status >= 500 ? FAN_OUT_RETRY : FAN_OUT_MALFORMED;
		set_all(req, out, batch);
	} else {
		batch = calls[req->call].parse(req, http_status, root, out, ans);
		if (batch == FAN_OUT_MALFORMED)
			for (size_t i = 0; i < req->n; i++)
				if (out[i] != FAN_OUT_SENT) /* Huawei 80100000 keeps its sent */
					out[i] = FAN_OUT_MALFORMED;
	}
	json_decref(root);
	ans->batch = batch;
	for (size_t i = 0; i < req->n; i++) {
		ALWAYS(out[i] < FAN_OUT_COUNT);
		ans->count[out[i]]++;
	}
}

int fan_sms_signature(const char *method, const char *canonical, size_t len, const char *secret,
		     char out[FAN_SMS_SIGNATURE_BYTES])
{
	char key[256], chunk[256];
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t mac_len = 0;
	int rc = -ENOMEM;

	if (!method || !canonical || !secret || strlen(secret) + 2 > sizeof(key))
		return -EINVAL;
	snprintf(key, sizeof(key), "%s&", secret);
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
		OSSL_PARAM_construct_end(),
	};
	if (!ctx || !EVP_MAC_init(ctx, (const unsigned char *)key, strlen(key), params))
		goto out_free;
	if (!EVP_MAC_update(ctx, (const unsigned char *)method, strlen(method)) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)"&%2F&", 5))
		goto out_free;
	/* percent-encode the canonical string a chunk at a time */
	for (size_t i = 0; i < len;) {
		struct wr w = { .p = chunk, .cap = sizeof(chunk), .form = true };
		while (i < len && w.len + 3 <= w.cap)
			put_byte(&w, canonical[i++]);
		if (!EVP_MAC_update(ctx, (const unsigned char *)chunk, w.len))
			goto out_free;
	}
	if (!EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) || mac_len != 20)
		goto out_free;
	ALWAYS(EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len) == FAN_SMS_SIGNATURE_BYTES - 1);
	rc = 0;
out_free:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
	return rc;
}

ssize_t fan_fmt_sms_signed(const struct fan_req *req, const char *secret, char *buf, size_t cap)
{
	static const char sig_key[] = "&Signature=";
	char sig[FAN_SMS_SIGNATURE_BYTES];
	struct fan_req signed_req;
	ssize_t n;
	int rc;

	if (!req || req->call != FAN_CALL_SMS)
		return -EINVAL;
	signed_req = *req;
	signed_req.signature = "";
	n = fan_fmt_request(&signed_req, buf, cap);
	if (n < 0)
		return n;
	/* the body ends with "&Signature=" (empty): what precedes it is signed */
	const char *body = memmem(buf, (size_t)n, "\r\n\r\n", 4);
	ALWAYS(body && (size_t)n >= sizeof(sig_key) - 1 &&
	       memcmp(buf + n - (sizeof(sig_key) - 1), sig_key, sizeof(sig_key) - 1) == 0);
	body += 4;
	rc = fan_sms_signature("POST", body, (size_t)(buf + n - body) - (sizeof(sig_key) - 1), secret, sig);
	if (rc < 0)
		return rc;
	signed_req.signature = sig;
	return fan_fmt_request(&signed_req, buf, cap);
}

const char *fan_outcome_name(enum fan_outcome o)
{
	static const char *const names[] = {
		[FAN_OUT_SENT] = "sent",       [FAN_OUT_INVALID_TOKEN] = "invalid_token",
		[FAN_OUT_RETRY] = "retry",     [FAN_OUT_QUOTA] = "quota",
		[FAN_OUT_AUTH] = "auth",       [FAN_OUT_BAD_REQUEST] = "bad_request",
		[FAN_OUT_MALFORMED] = "malformed",
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == FAN_OUT_COUNT, "a name per outcome");
	return (unsigned)o < FAN_OUT_COUNT ? names[o] : "?";
}
