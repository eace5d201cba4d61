/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vendor request encoders and answer parsers against docs/VENDORS.md:
 * each encoder's exact bytes for a small batch (and its body read back with
 * jansson), JSON escaping, the 1000-address limit, every documented answer
 * code, partial success marking exactly the listed addresses, and garbage,
 * truncated and randomly mutated answers giving an error outcome, never a
 * crash.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fanout/vendor_fmt.h"
#include "tests/unit.h"

static char buf[1 << 20];

static const char *const two[] = { "t1", "t2" };
static const struct fan_msg hello = { .title = "Hi", .body = "Hello" };

/* head + Content-Length + blank line + body, as the docs write them */
static char *expect(const char *head, const char *body)
{
	static char e[1 << 16];
	snprintf(e, sizeof(e), "%sContent-Length: %zu\r\n\r\n%s", head, strlen(body), body);
	return e;
}

static bool same(ssize_t n, const char *want)
{
	if (n < 0 || (size_t)n != strlen(want) || memcmp(buf, want, (size_t)n) != 0) {
		fprintf(stderr, "got  %.*s\nwant %s\n", n < 0 ? 0 : (int)n, buf, want);
		return false;
	}
	return true;
}

static json_t *body_json(ssize_t n)
{
	char *b = memmem(buf, (size_t)n, "\r\n\r\n", 4);
	if (!b)
		return NULL;
	b += 4;
	return json_loadb(b, (size_t)(buf + n - b), 0, NULL);
}

/* percent-decode the value of key in the form body of the request in buf */
static char *form_value(ssize_t n, const char *key)
{
	static char v[1 << 16];
	char *b = memmem(buf, (size_t)n, "\r\n\r\n", 4), *end = buf + n, pat[64];
	size_t k = 0;

	if (!b)
		return NULL;
	b += 4;
	snprintf(pat, sizeof(pat), "%s=", key);
	for (char *p = b; p < end;) {
		char *amp = memchr(p, '&', (size_t)(end - p));
		char *stop = amp ? amp : end;
		if ((size_t)(stop - p) >= strlen(pat) && memcmp(p, pat, strlen(pat)) == 0) {
			for (char *q = p + strlen(pat); q < stop && k + 1 < sizeof(v); q++) {
				if (*q == '%' && q + 2 < stop + 1) {
					char h[3] = { q[1], q[2], 0 };
					v[k++] = (char)strtol(h, NULL, 16);
					q += 2;
				} else {
					v[k++] = *q;
				}
			}
			v[k] = 0;
			return v;
		}
		p = stop + 1;
	}
	return NULL;
}

static void test_huawei_request(void)
{
	struct fan_cred c = { .host = "push-api.cloud.huawei.com", .app_id = "10086", .secret = "AT" };
	struct fan_req r = { .call = FAN_CALL_HUAWEI, .msg = &hello, .cred = &c, .tokens = two, .n = 2 };
	ssize_t n = fan_fmt_request(&r, buf, sizeof(buf));

	CHECK(same(n, expect("POST /v1/10086/messages:send HTTP/1.1\r\n"
			     "Host: push-api.cloud.huawei.com\r\n"
			     "Authorization: Bearer AT\r\n"
			     "Content-Type: application/json; charset=UTF-8\r\n",
			     "{\"validate_only\":false,\"message\":{\"notification\":{\"title\":\"Hi\",\"body\":\"Hello\"},"
			     "\"android\":{\"notification\":{\"title\":\"Hi\",\"body\":\"Hello\",\"click_action\":{\"type\":3}}},"
			     "\"token\":[\"t1\",\"t2\"]}}")));
	json_t *j = body_json(n);
	json_t *tok = json_object_get(json_object_get(j, "message"), "token");
	CHECK(json_array_size(tok) == 2);
	CHECK(strcmp(json_string_value(json_array_get(tok, 1)), "t2") == 0);
	CHECK(json_is_false(json_object_get(j, "validate_only")));
	json_decref(j);

	struct fan_msg cat = { .title = "Hi", .body = "Hello", .category = "IM" };
	r.msg = &cat;
	n = fan_fmt_request(&r, buf, sizeof(buf));
	j = body_json(n);
	CHECK(strcmp(json_string_value(json_object_get(
			     json_object_get(json_object_get(j, "message"), "android"), "category")),
		     "IM") == 0);
	json_decref(j);
}

static void test_xiaomi_request(void)
{
	struct fan_cred c = { .host = "api.xmpush.xiaomi.com", .secret = "S3cr", .package = "com.ex.app" };
	struct fan_msg m = { .title = "Hi there", .body = "a&b=c" };
	struct fan_req r = { .call = FAN_CALL_XIAOMI, .msg = &m, .cred = &c, .tokens = two, .n = 2 };
	ssize_t n = fan_fmt_request(&r, buf, sizeof(buf));

	CHECK(same(n, expect("POST /v3/message/regid HTTP/1.1\r\n"
			     "Host: api.xmpush.xiaomi.com\r\n"
			     "Authorization: key=S3cr\r\n"
			     "Content-Type: application/x-www-form-urlencoded;charset=UTF-8\r\n",
			     "restricted_package_name=com.ex.app&pass_through=0&notify_type=-1"
			     "&title=Hi%20there&description=a%26b%3Dc&registration_id=t1,t2")));
	CHECK(strcmp(form_value(n, "description"), "a&b=c") == 0);
	CHECK(strcmp(form_value(n, "registration_id"), "t1,t2") == 0);

	const char *comma[] = { "t1", "x,y" };
	r.tokens = comma;
	CHECK(fan_fmt_request(&r, buf, sizeof(buf)) == -EINVAL);
}

static void test_oppo_request(void)
{
	struct fan_cred c = { .host = "api.push.oppomobile.com", .secret = "tok" };
	struct fan_req r = { .call = FAN_CALL_OPPO_BATCH, .msg = &hello, .cred = &c, .tokens = two, .n = 2 };
	ssize_t n = fan_fmt_request(&r, buf, sizeof(buf));
	const char *msgs = "[{\"target_type\":2,\"target_value\":\"t1\",\"notification\":{\"title\":\"Hi\",\"content\":\"Hello\"}},"
			   "{\"target_type\":2,\"target_value\":\"t2\",\"notification\":{\"title\":\"Hi\",\"content\":\"Hello\"}}]";

	CHECK(n > 0 && memmem(buf, (size_t)n, "POST /server/v1/message/notification/unicast_batch HTTP/1.1\r\n"
					      "Host: api.push.oppomobile.com\r\n"
					      "Content-Type: application/x-www-form-urlencoded;charset=UTF-8\r\n",
			      150));
	CHECK(strcmp(form_value(n, "auth_token"), "tok") == 0);
	char *v = form_value(n, "messages");
	CHECK(v && strcmp(v, msgs) == 0);
	json_t *j = v ? json_loads(v, 0, NULL) : NULL;
	CHECK(json_array_size(j) == 2);
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(j, 1), "target_value")), "t2") == 0);
	json_decref(j);
	/* every body byte is form-safe: no raw JSON punctuation */
	char *b = memmem(buf, (size_t)n, "\r\n\r\n", 4) + 4;
	CHECK(!memchr(b, '{', (size_t)(buf + n - b)) && !memchr(b, '"', (size_t)(buf + n - b)));

	/* personalised: a message of its own per address (unicast_batch is per message) */
	const struct fan_msg own[2] = { { .title = "Hi Li", .body = "Order 1" }, { .title = "Hi Wang", .body = "Order 2" } };
	r.msgs = own;
	n = fan_fmt_request(&r, buf, sizeof(buf));
	v = form_value(n, "messages");
	CHECK(v && strcmp(v, "[{\"target_type\":2,\"target_value\":\"t1\",\"notification\":{\"title\":\"Hi Li\",\"content\":\"Order 1\"}},"
			    "{\"target_type\":2,\"target_value\":\"t2\",\"notification\":{\"title\":\"Hi Wang\",\"content\":\"Order 2\"}}]") == 0);
}

static void test_vivo_requests(void)
{
	struct fan_cred c = { .host = "api-push.vivo.com.cn", .secret = "AUTH", .app_id = "1234" };
	struct fan_req s = { .call = FAN_CALL_VIVO_SAVE, .msg = &hello, .cred = &c, .request_id = "m1-0" };
	ssize_t n = fan_fmt_request(&s, buf, sizeof(buf));

	CHECK(same(n, expect("POST /message/saveListPayload HTTP/1.1\r\n"
			     "Host: api-push.vivo.com.cn\r\n"
			     "authToken: AUTH\r\n"
			     "Content-Type: application/json\r\n",
			     "{\"appId\":\"1234\",\"title\":\"Hi\",\"content\":\"Hello\",\"notifyType\":4,\"skipType\":1,"
			     "\"requestId\":\"m1-0\"}")));
	struct fan_req p = { .call = FAN_CALL_VIVO_PUSH, .msg = &hello, .cred = &c, .tokens = two, .n = 2,
			    .request_id = "m1-1", .task_id = "777" };
	n = fan_fmt_request(&p, buf, sizeof(buf));
	CHECK(same(n, expect("POST /message/pushToList HTTP/1.1\r\n"
			     "Host: api-push.vivo.com.cn\r\n"
			     "authToken: AUTH\r\n"
			     "Content-Type: application/json\r\n",
			     "{\"appId\":\"1234\",\"regIds\":[\"t1\",\"t2\"],\"taskId\":\"777\",\"requestId\":\"m1-1\"}")));
	json_t *j = body_json(n);
	CHECK(json_array_size(json_object_get(j, "regIds")) == 2);
	json_decref(j);
	p.task_id = NULL;
	CHECK(fan_fmt_request(&p, buf, sizeof(buf)) == -EINVAL);
	s.tokens = two, s.n = 2; /* the save call carries no addresses */
	CHECK(fan_fmt_request(&s, buf, sizeof(buf)) == -EINVAL);
}

static void test_sms_request(void)
{
	const char *nums[] = { "13800000000", "13900000000" };
	struct fan_cred c = { .host = "dysmsapi.aliyuncs.com", .secret = "AKID", .sign_name = "Herald",
			     .template_code = "SMS_1" };
	struct fan_msg m = { .title = "", .body = "Code 42" };
	struct fan_req r = { .call = FAN_CALL_SMS, .msg = &m, .cred = &c, .tokens = nums, .n = 2,
			    .timestamp = "2026-11-22T06:00:00Z", .nonce = "n1", .signature = "c2ln+/=" };
	ssize_t n = fan_fmt_request(&r, buf, sizeof(buf));

	CHECK(same(n, expect("POST / HTTP/1.1\r\n"
			     "Host: dysmsapi.aliyuncs.com\r\n"
			     "Content-Type: application/x-www-form-urlencoded\r\n",
			     "AccessKeyId=AKID&Action=SendSms&Format=JSON&PhoneNumbers=13800000000%2C13900000000"
			     "&RegionId=cn-hangzhou&SignName=Herald&SignatureMethod=HMAC-SHA1&SignatureNonce=n1"
			     "&SignatureVersion=1.0&TemplateCode=SMS_1"
			     "&TemplateParam=%7B%22text%22%3A%22Code%2042%22%7D&Timestamp=2026-11-22T06%3A00%3A00Z"
			     "&Version=2017-05-25&Signature=c2ln%2B%2F%3D")));
	json_t *j = json_loads(form_value(n, "TemplateParam"), 0, NULL);
	CHECK(strcmp(json_string_value(json_object_get(j, "text")), "Code 42") == 0);
	json_decref(j);
}

static void test_webhook_request(void)
{
	struct fan_cred c = { .host = "hooks.example", .secret = "B", .path = "/herald" };
	struct fan_msg m = { .title = "Hi", .body = "Hello", .category = "promo" };
	struct fan_req r = { .call = FAN_CALL_WEBHOOK, .msg = &m, .cred = &c, .tokens = two, .n = 2,
			    .request_id = "c9.3" };
	ssize_t n = fan_fmt_request(&r, buf, sizeof(buf));

	CHECK(same(n, expect("POST /herald HTTP/1.1\r\n"
			     "Host: hooks.example\r\n"
			     "Authorization: Bearer B\r\n"
			     "Content-Type: application/json\r\n",
			     "{\"herald\":1,\"id\":\"c9.3\",\"title\":\"Hi\",\"body\":\"Hello\",\"category\":\"promo\","
			     "\"to\":[\"t1\",\"t2\"]}")));
	json_t *j = body_json(n);
	CHECK(json_integer_value(json_object_get(j, "herald")) == 1);
	CHECK(json_array_size(json_object_get(j, "to")) == 2);
	json_decref(j);
	c.path = "/a b";
	CHECK(fan_fmt_request(&r, buf, sizeof(buf)) == -EINVAL);
}

static void test_escaping(void)
{
	const char *src = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f caf\xc3\xa9 \xe2\x9c\x93";
	char e[128];
	size_t n = fan_json_escape(e, sizeof(e), src);
	const char *want = "q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f caf\xc3\xa9 \xe2\x9c\x93";

	CHECK(n == strlen(want) && memcmp(e, want, n) == 0);
	CHECK(fan_json_escape(e, 3, src) == n); /* short cap: still the needed length */

	/* every encoder's body reads back to the same text */
	struct fan_msg m = { .title = src, .body = src, .category = src };
	struct fan_cred c = { .host = "h", .secret = "s", .app_id = "1", .path = "/" };
	const char *toks[] = { src };
	struct fan_req r = { .call = FAN_CALL_HUAWEI, .msg = &m, .cred = &c, .tokens = toks, .n = 1 };
	json_t *j = body_json(fan_fmt_request(&r, buf, sizeof(buf)));
	json_t *msg = json_object_get(j, "message");
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(msg, "notification"), "title")), src) == 0);
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(msg, "token"), 0)), src) == 0);
	json_decref(j);
	r.call = FAN_CALL_WEBHOOK;
	j = body_json(fan_fmt_request(&r, buf, sizeof(buf)));
	CHECK(strcmp(json_string_value(json_object_get(j, "body")), src) == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "category")), src) == 0);
	json_decref(j);
	r.call = FAN_CALL_OPPO_BATCH;
	ssize_t len = fan_fmt_request(&r, buf, sizeof(buf));
	j = json_loads(form_value(len, "messages"), 0, NULL);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(json_array_get(j, 0), "notification"),
							"content")),
		     src) == 0);
	json_decref(j);

	/* header injection through a credential is refused */
	c.secret = "s\r\nX-Evil: 1";
	r.call = FAN_CALL_HUAWEI;
	CHECK(fan_fmt_request(&r, buf, sizeof(buf)) == -EINVAL);
}

static void test_limits(void)
{
	static char names[FAN_BATCH_TOKENS_MAX + 1][16];
	static const char *toks[FAN_BATCH_TOKENS_MAX + 1];
	struct fan_cred c = { .host = "h", .secret = "s", .app_id = "1", .package = "p", .path = "/",
			     .sign_name = "n", .template_code = "t" };
	for (size_t i = 0; i <= FAN_BATCH_TOKENS_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "tok%zu", i);
		toks[i] = names[i];
	}
	for (int call = 0; call < FAN_CALL_COUNT; call++) {
		if (call == FAN_CALL_VIVO_SAVE)
			continue;
		struct fan_req r = { .call = call, .msg = &hello, .cred = &c, .tokens = toks,
				    .request_id = "r", .task_id = "t", .timestamp = "ts", .nonce = "n",
				    .signature = "s" };
		r.n = 0;
		CHECK(fan_fmt_request(&r, buf, sizeof(buf)) == -EINVAL);
		r.n = FAN_BATCH_TOKENS_MAX + 1;
		CHECK(fan_fmt_request(&r, buf, sizeof(buf)) == -EINVAL);
		r.n = FAN_BATCH_TOKENS_MAX;
		ssize_t n = fan_fmt_request(&r, buf, sizeof(buf));
		CHECK(n > 0);
		CHECK(memmem(buf, (size_t)n, "tok999", 6) != NULL);
		/* every shorter buffer is -ENOSPC, never an overrun */
		memset(buf + n - 1, 0x5a, 2);
		CHECK(fan_fmt_request(&r, buf, (size_t)n - 1) == -ENOSPC);
		CHECK(buf[n] == 0x5a);
		CHECK(fan_fmt_request(&r, buf, 10) == -ENOSPC);
		CHECK(fan_fmt_request(&r, buf, (size_t)n) == n);
	}
	struct fan_req bad = { .call = FAN_CALL_COUNT, .msg = &hello, .cred = &c, .tokens = toks, .n = 1 };
	CHECK(fan_fmt_request(&bad, buf, sizeof(buf)) == -EINVAL);
}

/* one documented answer: call, HTTP status, body, outcome for every address */
struct row {
	enum fan_call call;
	int status;
	const char *body;
	enum fan_outcome want;
};

#define HW(code) "{\"code\":\"" code "\",\"msg\":\"x\",\"requestId\":\"1\"}"
#define XM(res, code) "{\"result\":\"" res "\",\"trace_id\":\"X\",\"code\":" code ",\"description\":\"d\"}"
#define OP(code) "{\"code\":" code ",\"message\":\"m\"}"
#define VV(code) "{\"result\":" code ",\"desc\":\"d\"}"
#define SM(code) "{\"Code\":\"" code "\",\"Message\":\"m\",\"RequestId\":\"r\"}"

static const struct row rows[] = {
	{ FAN_CALL_HUAWEI, 200, HW("80000000"), FAN_OUT_SENT },
	{ FAN_CALL_HUAWEI, 400, HW("80100001"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_HUAWEI, 400, HW("80100003"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_HUAWEI, 400, HW("80100004"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_HUAWEI, 400, HW("80100016"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_HUAWEI, 401, HW("80200001"), FAN_OUT_AUTH },
	{ FAN_CALL_HUAWEI, 401, HW("80200003"), FAN_OUT_AUTH },
	{ FAN_CALL_HUAWEI, 200, HW("80200003"), FAN_OUT_AUTH },
	{ FAN_CALL_HUAWEI, 403, HW("80300002"), FAN_OUT_AUTH },
	{ FAN_CALL_HUAWEI, 400, HW("80300007"), FAN_OUT_INVALID_TOKEN },
	{ FAN_CALL_HUAWEI, 400, HW("80300008"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_HUAWEI, 400, HW("80300010"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_HUAWEI, 500, HW("80600003"), FAN_OUT_RETRY },
	{ FAN_CALL_HUAWEI, 500, HW("81000001"), FAN_OUT_RETRY },
	{ FAN_CALL_HUAWEI, 200, HW("81000001"), FAN_OUT_RETRY },
	{ FAN_CALL_HUAWEI, 503, "flow control", FAN_OUT_RETRY },
	{ FAN_CALL_HUAWEI, 502, "", FAN_OUT_RETRY },
	{ FAN_CALL_HUAWEI, 400, HW("89999999"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_XIAOMI, 200, "{\"result\":\"ok\",\"trace_id\":\"X\",\"code\":0,\"data\":{\"id\":\"m\"}}", FAN_OUT_SENT },
	{ FAN_CALL_XIAOMI, 200, XM("error", "21301"), FAN_OUT_AUTH },
	{ FAN_CALL_XIAOMI, 200, XM("error", "22006"), FAN_OUT_AUTH },
	{ FAN_CALL_XIAOMI, 200, XM("error", "10001"), FAN_OUT_RETRY },
	{ FAN_CALL_XIAOMI, 200, XM("error", "10002"), FAN_OUT_RETRY },
	{ FAN_CALL_XIAOMI, 200, XM("error", "10003"), FAN_OUT_RETRY },
	{ FAN_CALL_XIAOMI, 200, XM("error", "10009"), FAN_OUT_RETRY },
	{ FAN_CALL_XIAOMI, 200, XM("error", "10004"), FAN_OUT_RETRY },
	{ FAN_CALL_XIAOMI, 200, XM("error", "10022"), FAN_OUT_RETRY },
	{ FAN_CALL_XIAOMI, 200, XM("error", "10023"), FAN_OUT_RETRY },
	{ FAN_CALL_XIAOMI, 200, XM("error", "10024"), FAN_OUT_RETRY },
	{ FAN_CALL_XIAOMI, 200, XM("error", "20301"), FAN_OUT_BAD_REQUEST }, /* two regids */
	{ FAN_CALL_XIAOMI, 200, XM("error", "200001"), FAN_OUT_QUOTA },
	{ FAN_CALL_XIAOMI, 200, XM("error", "200002"), FAN_OUT_QUOTA },
	{ FAN_CALL_XIAOMI, 200, XM("error", "10017"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_XIAOMI, 200, XM("error", "0"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_XIAOMI, 500, "oops", FAN_OUT_RETRY },
	{ FAN_CALL_OPPO_BATCH, 200, OP("0"), FAN_OUT_SENT },
	{ FAN_CALL_OPPO_BATCH, 200, OP("-1"), FAN_OUT_RETRY },
	{ FAN_CALL_OPPO_BATCH, 200, OP("-2"), FAN_OUT_RETRY },
	{ FAN_CALL_OPPO_BATCH, 200, OP("11"), FAN_OUT_AUTH },
	{ FAN_CALL_OPPO_BATCH, 200, OP("12"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_OPPO_BATCH, 200, OP("13"), FAN_OUT_RETRY },
	{ FAN_CALL_OPPO_BATCH, 200, OP("14"), FAN_OUT_AUTH },
	{ FAN_CALL_OPPO_BATCH, 200, OP("33"), FAN_OUT_QUOTA },
	{ FAN_CALL_OPPO_BATCH, 200, OP("28"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_VIVO_PUSH, 200, VV("0"), FAN_OUT_SENT },
	{ FAN_CALL_VIVO_PUSH, 200, VV("10000"), FAN_OUT_AUTH },
	{ FAN_CALL_VIVO_PUSH, 200, VV("10094"), FAN_OUT_AUTH },
	{ FAN_CALL_VIVO_PUSH, 200, VV("10070"), FAN_OUT_QUOTA },
	{ FAN_CALL_VIVO_PUSH, 200, VV("10252"), FAN_OUT_QUOTA },
	{ FAN_CALL_VIVO_PUSH, 200, VV("10254"), FAN_OUT_QUOTA },
	{ FAN_CALL_VIVO_PUSH, 200, VV("10072"), FAN_OUT_RETRY },
	{ FAN_CALL_VIVO_PUSH, 200, VV("10055"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_VIVO_PUSH, 500, "Internet server error!", FAN_OUT_RETRY },
	{ FAN_CALL_SMS, 200, SM("OK"), FAN_OUT_SENT },
	{ FAN_CALL_SMS, 200, SM("isv.MOBILE_NUMBER_ILLEGAL"), FAN_OUT_BAD_REQUEST }, /* two numbers */
	{ FAN_CALL_SMS, 200, SM("isv.BUSINESS_LIMIT_CONTROL"), FAN_OUT_RETRY },
	{ FAN_CALL_SMS, 400, SM("Throttling.User"), FAN_OUT_RETRY },
	{ FAN_CALL_SMS, 400, SM("Throttling"), FAN_OUT_RETRY },
	{ FAN_CALL_SMS, 200, SM("isp.SYSTEM_ERROR"), FAN_OUT_RETRY },
	{ FAN_CALL_SMS, 200, SM("isv.DAY_LIMIT_CONTROL"), FAN_OUT_QUOTA },
	{ FAN_CALL_SMS, 200, SM("isv.MONTH_LIMIT_CONTROL"), FAN_OUT_QUOTA },
	{ FAN_CALL_SMS, 200, SM("isv.AMOUNT_NOT_ENOUGH"), FAN_OUT_QUOTA },
	{ FAN_CALL_SMS, 200, SM("isv.OUT_OF_SERVICE"), FAN_OUT_QUOTA },
	{ FAN_CALL_SMS, 200, SM("isp.RAM_PERMISSION_DENY"), FAN_OUT_AUTH },
	{ FAN_CALL_SMS, 200, SM("isv.ACCOUNT_NOT_EXISTS"), FAN_OUT_AUTH },
	{ FAN_CALL_SMS, 200, SM("isv.ACCOUNT_ABNORMAL"), FAN_OUT_AUTH },
	{ FAN_CALL_SMS, 200, SM("isv.PRODUCT_UN_SUBSCRIPT"), FAN_OUT_AUTH },
	{ FAN_CALL_SMS, 200, SM("isv.PRODUCT_UNSUBSCRIBE"), FAN_OUT_AUTH },
	{ FAN_CALL_SMS, 200, SM("isv.DENY_IP_RANGE"), FAN_OUT_AUTH },
	{ FAN_CALL_SMS, 404, SM("InvalidAccessKeyId.NotFound"), FAN_OUT_AUTH },
	{ FAN_CALL_SMS, 400, SM("SignatureDoesNotMatch"), FAN_OUT_AUTH },
	{ FAN_CALL_SMS, 200, SM("isv.SMS_TEMPLATE_ILLEGAL"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_SMS, 200, SM("isv.SMS_SIGNATURE_ILLEGAL"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_SMS, 200, SM("isv.MOBILE_COUNT_OVER_LIMIT"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_SMS, 200, SM("isv.SMS_CONTENT_ILLEGAL"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_SMS, 200, SM("isv.BLACK_KEY_CONTROL_LIMIT"), FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_WEBHOOK, 200, "", FAN_OUT_SENT },
	{ FAN_CALL_WEBHOOK, 204, "", FAN_OUT_SENT },
	{ FAN_CALL_WEBHOOK, 202, "{}", FAN_OUT_SENT },
	{ FAN_CALL_WEBHOOK, 200, "ok", FAN_OUT_MALFORMED },
	{ FAN_CALL_WEBHOOK, 200, "[]", FAN_OUT_MALFORMED },
	{ FAN_CALL_WEBHOOK, 400, "", FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_WEBHOOK, 404, "", FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_WEBHOOK, 413, "", FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_WEBHOOK, 422, "", FAN_OUT_BAD_REQUEST },
	{ FAN_CALL_WEBHOOK, 401, "", FAN_OUT_AUTH },
	{ FAN_CALL_WEBHOOK, 403, "", FAN_OUT_AUTH },
	{ FAN_CALL_WEBHOOK, 402, "", FAN_OUT_QUOTA },
	{ FAN_CALL_WEBHOOK, 429, "", FAN_OUT_RETRY },
	{ FAN_CALL_WEBHOOK, 503, "", FAN_OUT_RETRY },
};

static struct fan_req req_for(enum fan_call call, const char *const *toks, size_t n)
{
	static const struct fan_cred c = { .host = "h", .secret = "s", .app_id = "1", .package = "p" };
	struct fan_req r = { .call = call, .msg = &hello, .cred = &c, .tokens = toks, .n = n };
	return r;
}

static void test_codes(void)
{
	uint8_t out[2];
	struct fan_answer a;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		struct fan_req r = req_for(w->call, two, 2);
		fan_parse_answer(&r, w->status, w->body, strlen(w->body), out, &a);
		if (a.batch != w->want || out[0] != w->want || out[1] != w->want ||
		    a.count[w->want] != 2) {
			fprintf(stderr, "row %zu (%d %s): got %s/%s/%s want %s\n", i, w->status, w->body,
				fan_outcome_name(a.batch), fan_outcome_name(out[0]), fan_outcome_name(out[1]),
				fan_outcome_name(w->want));
			failures++;
		}
	}
	/* one address: an "illegal number" / "invalid regid" answer names it */
	const char *one[] = { "13800000000" };
	struct fan_req r = req_for(FAN_CALL_SMS, one, 1);
	fan_parse_answer(&r, 200, SM("isv.MOBILE_NUMBER_ILLEGAL"), strlen(SM("isv.MOBILE_NUMBER_ILLEGAL")), out, &a);
	CHECK(out[0] == FAN_OUT_INVALID_TOKEN && strcmp(a.code, "isv.MOBILE_NUMBER_ILLEGAL") == 0);
	r = req_for(FAN_CALL_XIAOMI, one, 1);
	fan_parse_answer(&r, 200, XM("error", "20301"), strlen(XM("error", "20301")), out, &a);
	CHECK(out[0] == FAN_OUT_INVALID_TOKEN && strcmp(a.code, "20301") == 0);

	/* vivo save: the taskId is handed back */
	struct fan_req s = req_for(FAN_CALL_VIVO_SAVE, NULL, 0);
	const char *ok = "{\"result\":0,\"desc\":\"请求成功\",\"taskId\":\"12139732\"}";
	fan_parse_answer(&s, 200, ok, strlen(ok), NULL, &a);
	CHECK(a.batch == FAN_OUT_SENT && strcmp(a.task_id, "12139732") == 0);
	fan_parse_answer(&s, 200, VV("0"), strlen(VV("0")), NULL, &a);
	CHECK(a.batch == FAN_OUT_MALFORMED); /* success without a taskId */
	fan_parse_answer(&s, 200, VV("10070"), strlen(VV("10070")), NULL, &a);
	CHECK(a.batch == FAN_OUT_QUOTA);
}

static const char *const five[] = { "t0", "t1", "t2", "t3", "t4" };

static void check_marks(const char *what, enum fan_call call, int status, const char *body, unsigned invalid_mask,
			enum fan_outcome others)
{
	uint8_t out[5];
	struct fan_answer a;
	struct fan_req r = req_for(call, five, 5);

	fan_parse_answer(&r, status, body, strlen(body), out, &a);
	for (int i = 0; i < 5; i++) {
		enum fan_outcome want = (invalid_mask >> i) & 1 ? FAN_OUT_INVALID_TOKEN : others;
		if (out[i] != want) {
			fprintf(stderr, "%s: token %d is %s, want %s\n", what, i, fan_outcome_name(out[i]),
				fan_outcome_name(want));
			failures++;
		}
	}
	CHECK(a.count[FAN_OUT_INVALID_TOKEN] == (uint32_t)__builtin_popcount(invalid_mask));
}

static void test_partial(void)
{
	check_marks("huawei v1", FAN_CALL_HUAWEI, 200,
		    "{\"code\":\"80100000\",\"msg\":\"{\\\"success\\\":3,\\\"failure\\\":2,"
		    "\\\"illegal_tokens\\\":[\\\"t1\\\",\\\"t3\\\"]}\",\"requestId\":\"1\"}",
		    0x0a, FAN_OUT_SENT);
	check_marks("huawei v3 shape", FAN_CALL_HUAWEI, 200,
		    "{\"code\":\"80100000\",\"msg\":\"{\\\"illegalTokens\\\":{\\\"noRight\\\":[\\\"t4\\\"],"
		    "\\\"tokenFormatError\\\":[\\\"t0\\\",\\\"zz\\\"]},\\\"failure\\\":2}\",\"requestId\":\"1\"}",
		    0x11, FAN_OUT_SENT);
	check_marks("huawei 80300007 listed", FAN_CALL_HUAWEI, 400,
		    "{\"code\":\"80300007\",\"msg\":\"{\\\"illegalTokens\\\":{\\\"noRight\\\":[\\\"t2\\\"]},"
		    "\\\"failure\\\":1}\",\"requestId\":\"1\"}",
		    0x04, FAN_OUT_BAD_REQUEST);
	check_marks("huawei 80300007 unlisted", FAN_CALL_HUAWEI, 400, HW("80300007"), 0x1f, FAN_OUT_SENT);
	check_marks("xiaomi bad_regids", FAN_CALL_XIAOMI, 200,
		    "{\"result\":\"ok\",\"code\":0,\"data\":{\"id\":\"m\",\"bad_regids\":\"t3,t0\"}}", 0x09,
		    FAN_OUT_SENT);
	check_marks("oppo elements", FAN_CALL_OPPO_BATCH, 200,
		    "{\"code\":0,\"message\":\"success\",\"data\":["
		    "{\"messageId\":\"a\",\"registrationId\":\"t0\"},"
		    "{\"registrationId\":\"t2\",\"errorCode\":10000,\"errorMessage\":\"Invalid RegistrationId\"},"
		    "{\"registrationId\":\"nobody\",\"errorCode\":10000}]}",
		    0x04, FAN_OUT_SENT);
	check_marks("vivo invalidUsers", FAN_CALL_VIVO_PUSH, 200,
		    "{\"result\":0,\"desc\":\"ok\",\"requestId\":\"r\",\"invalidUsers\":["
		    "{\"status\":1,\"userid\":\"t4\"},{\"status\":1,\"userid\":\"t1\"}]}",
		    0x12, FAN_OUT_SENT);
	check_marks("webhook invalid", FAN_CALL_WEBHOOK, 200, "{\"invalid\":[\"t2\",\"t3\"]}", 0x0c, FAN_OUT_SENT);

	/* an OPPO element with another error fails that regid only, not retried */
	uint8_t out[5];
	struct fan_answer a;
	struct fan_req r = req_for(FAN_CALL_OPPO_BATCH, five, 5);
	const char *b = "{\"code\":0,\"data\":[{\"registrationId\":\"t1\",\"errorCode\":57}]}";
	fan_parse_answer(&r, 200, b, strlen(b), out, &a);
	CHECK(out[1] == FAN_OUT_BAD_REQUEST && out[0] == FAN_OUT_SENT && a.count[FAN_OUT_SENT] == 4);

	/* Huawei partial success with an unreadable list: sent, but flagged */
	r = req_for(FAN_CALL_HUAWEI, five, 5);
	b = "{\"code\":\"80100000\",\"msg\":\"Check Parameter Partial Success\"}";
	fan_parse_answer(&r, 200, b, strlen(b), out, &a);
	CHECK(a.batch == FAN_OUT_MALFORMED && a.count[FAN_OUT_SENT] == 5);
}

static const char *const garbage[] = {
	"", " ", "null", "[]", "[1,2]", "\"80000000\"", "80000000", "{", "}", "{\"code\":}", "{\"code\":null}",
	"{\"code\":[]}", "{\"code\":{}}", "<html>502 Bad Gateway</html>", "{\"result\":\"ok\"", "\xff\xfe\x00\x01",
	"{\"Code\":1.5}", "{\"result\":true}", "{\"code\":\"80000000\"", "{\"a\":1}",
};

static bool sane(const struct fan_req *r, const uint8_t *out, const struct fan_answer *a)
{
	uint32_t sum = 0;
	if (a->batch >= FAN_OUT_COUNT || memchr(a->code, 0, sizeof(a->code)) == NULL ||
	    memchr(a->task_id, 0, sizeof(a->task_id)) == NULL)
		return false;
	for (size_t i = 0; i < r->n; i++)
		if (out[i] >= FAN_OUT_COUNT)
			return false;
	for (int o = 0; o < FAN_OUT_COUNT; o++)
		sum += a->count[o];
	return sum == r->n;
}

/* documented 2xx success answers, one per call, to truncate and mutate */
static const char *const good[FAN_CALL_COUNT] = {
	[FAN_CALL_HUAWEI] = "{\"code\":\"80100000\",\"msg\":\"{\\\"illegal_tokens\\\":[\\\"t1\\\"]}\",\"requestId\":\"1\"}",
	[FAN_CALL_XIAOMI] = "{\"result\":\"ok\",\"code\":0,\"data\":{\"id\":\"m\",\"bad_regids\":\"t1\"}}",
	[FAN_CALL_OPPO_BATCH] = "{\"code\":0,\"data\":[{\"registrationId\":\"t1\",\"errorCode\":10000}]}",
	[FAN_CALL_VIVO_SAVE] = "{\"result\":0,\"desc\":\"ok\",\"taskId\":\"9\"}",
	[FAN_CALL_VIVO_PUSH] = "{\"result\":0,\"invalidUsers\":[{\"status\":1,\"userid\":\"t1\"}]}",
	[FAN_CALL_SMS] = "{\"Code\":\"OK\",\"Message\":\"OK\",\"BizId\":\"b\",\"RequestId\":\"r\"}",
	[FAN_CALL_WEBHOOK] = "{\"invalid\":[\"t1\"]}",
};

static void test_garbage(void)
{
	uint8_t out[2];
	struct fan_answer a;

	for (int call = 0; call < FAN_CALL_COUNT; call++) {
		size_t n = call == FAN_CALL_VIVO_SAVE ? 0 : 2;
		struct fan_req r = req_for(call, n ? two : NULL, n);
		for (size_t g = 0; g < sizeof(garbage) / sizeof(garbage[0]); g++) {
			size_t len = strlen(garbage[g]) + (garbage[g][0] == '\xff' ? 4 : 0);
			json_t *obj = json_loadb(garbage[g], len, 0, NULL);
			bool is_obj = json_is_object(obj);
			json_decref(obj);
			if (call == FAN_CALL_WEBHOOK && (len == 0 || strcmp(garbage[g], " ") == 0 || is_obj))
				continue; /* empty or any object: the webhook's "all sent" */
			fan_parse_answer(&r, 200, garbage[g], len, out, &a);
			if (a.batch != FAN_OUT_MALFORMED && a.batch != FAN_OUT_BAD_REQUEST) {
				fprintf(stderr, "call %d garbage %zu: %s\n", call, g, fan_outcome_name(a.batch));
				failures++;
			}
			CHECK(sane(&r, out, &a));
			CHECK(n == 0 || (out[0] != FAN_OUT_SENT && out[1] != FAN_OUT_SENT));
		}
		/* every strict prefix of a good answer is not a success */
		const char *full = good[call];
		for (size_t len = 1; len < strlen(full); len++) {
			char cut[256];
			memcpy(cut, full, len); /* not NUL-terminated on purpose: bounded by len */
			memset(cut + len, '}', sizeof(cut) - len);
			fan_parse_answer(&r, 200, cut, len, out, &a);
			CHECK(sane(&r, out, &a));
			CHECK(a.batch == FAN_OUT_MALFORMED);
		}
		fan_parse_answer(&r, 200, full, strlen(full), out, &a);
		CHECK(a.batch == FAN_OUT_SENT);
		/* no HTTP status to speak of */
		fan_parse_answer(&r, 0, full, strlen(full), out, &a);
		CHECK(a.batch == FAN_OUT_MALFORMED && sane(&r, out, &a));
		fan_parse_answer(&r, 200, NULL, 0, out, &a);
		CHECK(sane(&r, out, &a));
	}
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_fuzz(void)
{
	static const int statuses[] = { 200, 200, 200, 204, 400, 401, 403, 404, 429, 500, 503, 0, 999 };
	static const char alphabet[] = "{}[]\":,\\ 0123456789abcdeftrunl-.\x01\xc3\xa9";
	char b[512];
	uint8_t out[5];
	struct fan_answer a;

	for (int round = 0; round < 200000; round++) {
		enum fan_call call = (enum fan_call)(next() % FAN_CALL_COUNT);
		size_t n = call == FAN_CALL_VIVO_SAVE ? 0 : 1 + next() % 5;
		struct fan_req r = req_for(call, n ? five : NULL, n);
		const char *src = good[next() % FAN_CALL_COUNT];
		size_t len = strlen(src);

		memcpy(b, src, len);
		switch (next() % 3) {
		case 0: /* flip bytes */
			for (int k = 0, m = 1 + (int)(next() % 4); k < m; k++)
				b[next() % len] = alphabet[next() % (sizeof(alphabet) - 1)];
			break;
		case 1: /* random text */
			len = next() % sizeof(b);
			for (size_t k = 0; k < len; k++)
				b[k] = alphabet[next() % (sizeof(alphabet) - 1)];
			break;
		default: /* truncate */
			len = next() % (len + 1);
			break;
		}
		fan_parse_answer(&r, statuses[next() % (sizeof(statuses) / sizeof(statuses[0]))], b, len, out, &a);
		if (!sane(&r, out, &a)) {
			fprintf(stderr, "fuzz round %d: insane answer\n", round);
			failures++;
			break;
		}
	}
}

/* random titles, bodies and tokens (any byte 1..127, plus UTF-8) come back
   unchanged from every JSON body and from form values */
static void test_encode_roundtrip(void)
{
	static const char *const utf8[] = { "\xc3\xa9", "\xe2\x9c\x93", "\xf0\x9f\x98\x80" };
	struct fan_cred c = { .host = "h", .secret = "s", .app_id = "1", .package = "p", .path = "/" };

	for (int round = 0; round < 3000; round++) {
		char t[3][64];
		for (int k = 0; k < 3; k++) {
			size_t len = 0, want = 1 + next() % 40;
			while (len < want && len + 5 < sizeof(t[k])) {
				if (next() % 8 == 0) {
					const char *u = utf8[next() % 3];
					memcpy(t[k] + len, u, strlen(u));
					len += strlen(u);
				} else {
					t[k][len++] = (char)(1 + next() % 127);
				}
			}
			t[k][len] = 0;
		}
		const char *toks[] = { t[2] };
		struct fan_msg m = { .title = t[0], .body = t[1] };
		struct fan_req r = { .call = FAN_CALL_HUAWEI, .msg = &m, .cred = &c, .tokens = toks, .n = 1,
				    .request_id = "r" };
		json_t *j = body_json(fan_fmt_request(&r, buf, sizeof(buf)));
		json_t *msg = json_object_get(j, "message");
		json_t *no = json_object_get(msg, "notification");
		CHECK(j && strcmp(json_string_value(json_object_get(no, "title")), t[0]) == 0);
		CHECK(j && strcmp(json_string_value(json_object_get(no, "body")), t[1]) == 0);
		CHECK(j && strcmp(json_string_value(json_array_get(json_object_get(msg, "token"), 0)), t[2]) == 0);
		json_decref(j);

		r.call = FAN_CALL_WEBHOOK;
		j = body_json(fan_fmt_request(&r, buf, sizeof(buf)));
		CHECK(j && strcmp(json_string_value(json_object_get(j, "title")), t[0]) == 0);
		CHECK(j && strcmp(json_string_value(json_array_get(json_object_get(j, "to"), 0)), t[2]) == 0);
		json_decref(j);

		r.call = FAN_CALL_XIAOMI;
		ssize_t n = fan_fmt_request(&r, buf, sizeof(buf));
		if (strchr(t[2], ',')) {
			CHECK(n == -EINVAL);
		} else {
			char *v = form_value(n, "title");
			CHECK(v && strcmp(v, t[0]) == 0);
			v = form_value(n, "registration_id");
			CHECK(v && strcmp(v, t[2]) == 0);
		}
		if (failures)
			break;
	}
}

/* the signature example of Alibaba Cloud's signature-mechanism document
   (a GET of SendSms), then a signed POST checked against a recomputation */
static void test_sms_signature(void)
{
	const char *canon =
		"AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&PhoneNumbers=15300000001"
		"&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95"
		"%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466"
		"&SignatureVersion=1.0&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D"
		"&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25";
	char sig[FAN_SMS_SIGNATURE_BYTES];

	CHECK(fan_sms_signature("GET", canon, strlen(canon), "testSecret", sig) == 0);
	CHECK(strcmp(sig, "zJDF+Lrzhj/ThnlvIToysFRq6t4=") == 0);

	const char *nums[] = { "13800000000" };
	struct fan_cred c = { .host = "dysmsapi.aliyuncs.com", .secret = "testId", .sign_name = "Herald",
			     .template_code = "SMS_1" };
	struct fan_msg m = { .title = "", .body = "hi" };
	struct fan_req r = { .call = FAN_CALL_SMS, .msg = &m, .cred = &c, .tokens = nums, .n = 1,
			    .timestamp = "2026-11-22T06:00:00Z", .nonce = "n1" };
	ssize_t n = fan_fmt_sms_signed(&r, "testSecret", buf, sizeof(buf));
	CHECK(n > 0);
	char *body = memmem(buf, (size_t)n, "\r\n\r\n", 4) + 4;
	char *at = memmem(body, (size_t)(buf + n - body), "&Signature=", 11);
	CHECK(at != NULL);
	CHECK(fan_sms_signature("POST", body, (size_t)(at - body), "testSecret", sig) == 0);
	CHECK(strcmp(form_value(n, "Signature"), sig) == 0);
	CHECK(fan_fmt_sms_signed(&r, "testSecret", buf, 20) == -ENOSPC);
	r.call = FAN_CALL_HUAWEI;
	CHECK(fan_fmt_sms_signed(&r, "testSecret", buf, sizeof(buf)) == -EINVAL);
}

int main(void)
{
	test_huawei_request();
	test_xiaomi_request();
	test_oppo_request();
	test_vivo_requests();
	test_sms_request();
	test_sms_signature();
	test_webhook_request();
	test_escaping();
	test_limits();
	test_codes();
	test_partial();
	test_garbage();
	test_fuzz();
	test_encode_roundtrip();
	CHECK(strcmp(fan_outcome_name(FAN_OUT_INVALID_TOKEN), "invalid_token") == 0);
	CHECK(strcmp(fan_outcome_name(FAN_OUT_COUNT), "?") == 0);
	return failures ? 1 : 0;
}
