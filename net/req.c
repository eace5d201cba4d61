/* SPDX-License-Identifier: Apache-2.0 */
/*
 * req.c - request body decoders and field rules; see req.h and
 * docs/PROTOCOL.md sections 3 and 5.
 */
#include "net/req.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "net/wire.h"

/* ---- field rules ---------------------------------------------------------- */

bool net_valid_utf8(const char *s, size_t len, bool allow_control)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		unsigned c = p[i];
		if (c < 0x80) {
			if (!allow_control && (c < 0x20 || c == 0x7F))
				return false;
			i++;
			continue;
		}
		unsigned n;
		unsigned cp;
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (unsigned k = 1; k <= n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		if (!allow_control && cp >= 0x80 && cp <= 0x9F)
			return false; /* C1 controls */
		i += n + 1;
	}
	return true;
}

static bool all_of(const char *p, size_t len, const char *extra, bool upper, bool lower)
{
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if ((c >= '0' && c <= '9') || (lower && c >= 'a' && c <= 'z') ||
		    (upper && c >= 'A' && c <= 'Z') || (c && strchr(extra, c)))
			continue;
		return false;
	}
	return true;
}

bool net_valid_app_id(const char *p, size_t len)
{
	return len >= 1 && len <= HRL_APP_ID_BYTES_MAX && all_of(p, len, "_-", false, true);
}

bool net_valid_user_id(const char *p, size_t len)
{
	return len >= 1 && len <= HRL_USER_ID_BYTES_MAX && net_valid_utf8(p, len, false);
}

bool net_valid_tag(const char *p, size_t len)
{
	return len >= 1 && len <= HRL_TAG_BYTES_MAX && all_of(p, len, "_-.:", true, true);
}

bool net_valid_alias_type(const char *p, size_t len)
{
	return len >= 1 && len <= HRL_ALIAS_TYPE_BYTES_MAX && all_of(p, len, "_", false, true);
}

bool net_valid_alias(const char *p, size_t len)
{
	return len >= 1 && len <= HRL_ALIAS_BYTES_MAX && net_valid_utf8(p, len, false);
}

bool net_valid_attr_key(const char *p, size_t len)
{
	return len >= 1 && len <= HRL_ATTR_KEY_BYTES_MAX && all_of(p, len, "_-.", true, true);
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

bool net_valid_locale(const char *p, size_t len)
{
	size_t i = 0;
	while (i < len && is_alpha(p[i]))
		i++;
	if (i < 2 || i > 3)
		return false;
	while (i < len) {
		if (p[i] != '-')
			return false;
		size_t start = ++i;
		while (i < len && is_alnum(p[i]))
			i++;
		if (i - start < 2 || i - start > 8)
			return false;
	}
	return true;
}

#define TZ_NAME_BYTES_MAX 64u
#define TZ_DB_DIR "/usr/share/zoneinfo/"

bool net_valid_tz(const char *p, size_t len)
{
	char path[sizeof(TZ_DB_DIR) + TZ_NAME_BYTES_MAX];
	struct stat st;

	if (len < 1 || len > TZ_NAME_BYTES_MAX || !all_of(p, len, "_-+/", true, true))
		return false;
	if (p[0] == '/' || p[len - 1] == '/')
		return false;
	for (size_t i = 0; i + 1 < len; i++)
		if (p[i] == '/' && p[i + 1] == '/')
			return false;
	if (len == 3 && memcmp(p, "UTC", 3) == 0)
		return true; /* always known, even without a zone database */
	memcpy(path, TZ_DB_DIR, sizeof(TZ_DB_DIR) - 1);
	memcpy(path + sizeof(TZ_DB_DIR) - 1, p, len);
	path[sizeof(TZ_DB_DIR) - 1 + len] = 0;
	if (strstr(path, "/.") || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	if ((len == 9 && memcmp(p, "localtime", 9) == 0) || (len == 10 && memcmp(p, "posixrules", 10) == 0))
		return false; /* files of the database, not zone names */
	char magic[4];
	FILE *f = fopen(path, "rb");
	bool ok = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
	if (f)
		fclose(f);
	return ok; /* a compiled zone, not leapseconds, zone.tab, ... */
}

static bool printable_ascii(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7E)
			return false;
	return true;
}

bool net_valid_binding(uint8_t channel, uint8_t vendor, uint8_t platform, const char *a,
		       size_t len, const char **why)
{
	if (channel == 0 || channel >= HRL_CH_COUNT) {
		*why = "unknown channel";
		return false;
	}
	if (channel == HRL_CH_PUSH) {
		if (vendor == 0 || vendor >= HRL_VENDOR_COUNT) {
			*why = "push needs a known vendor";
			return false;
		}
		if (platform == 0 || platform >= HRL_PLATFORM_COUNT) {
			*why = "push needs a known platform";
			return false;
		}
	} else if (vendor || platform) {
		*why = "vendor and platform are for push only";
		return false;
	}
	switch (channel) {
	case HRL_CH_PUSH:
		if (len >= 1 && len <= HRL_ADDRESS_BYTES_MAX && printable_ascii(a, len))
			return true;
		*why = "push token must be 1-512 printable ASCII bytes";
		return false;
	case HRL_CH_SMS:
		if (len >= 8 && len <= 16 && a[0] == '+' && all_of(a + 1, len - 1, "", false, false))
			return true;
		*why = "sms address must be E.164: + and 7-15 digits";
		return false;
	case HRL_CH_EMAIL: {
		const char *at = memchr(a, '@', len);
		if (len >= 3 && len <= 254 && printable_ascii(a, len) && at && at != a &&
		    at != a + len - 1 && !memchr(at + 1, '@', (size_t)(a + len - at - 1)))
			return true;
		*why = "email address must be local@domain, 3-254 printable ASCII bytes";
		return false;
	}
	case HRL_CH_WECHAT:
		if (len >= 1 && len <= 128 && all_of(a, len, "_-", true, true))
			return true;
		*why = "wechat open id must be 1-128 bytes of A-Z a-z 0-9 _ -";
		return false;
	case HRL_CH_WEBHOOK:
		if (len <= HRL_ADDRESS_BYTES_MAX && printable_ascii(a, len) &&
		    ((len > 7 && memcmp(a, "http://", 7) == 0) ||
		     (len > 8 && memcmp(a, "https://", 8) == 0)))
			return true;
		*why = "webhook address must be an http:// or https:// URL";
		return false;
	}
	*why = "unknown channel";
	return false;
}

/* ---- decoders --------------------------------------------------------------- */

static void rd_nstr(struct net_rd *r, struct net_str *s)
{
	const char *p;
	size_t n = net_rd_str(r, &p);
	s->p = p;
	s->len = (uint16_t)n;
}

#define FAIL(code, msg)              \
	do {                         \
		*why = (msg);        \
		return -(code);      \
	} while (0)

static int check_user(const struct net_str *u, const char **why)
{
	if (!net_valid_user_id(u->p, u->len))
		FAIL(HRL_E_INVALID_ARGUMENT, "user_id must be 1-128 bytes of UTF-8 without control characters");
	return 0;
}

int net_req_decode(uint16_t opcode, const uint8_t *body, size_t len, union net_req *out,
		   const char **why)
{
	struct net_rd r;
	int rc;

	net_rd_init(&r, body, len);
	*why = "";
	switch (opcode) {
	case HRL_OP_PING:
		return 0;
	case HRL_OP_STATS:
	case HRL_OP_STORE_STATS:
	case HRL_OP_APP_LIST:
		if (len)
			FAIL(HRL_E_BAD_BODY, "body must be empty");
		return 0;
	case HRL_OP_HELLO: {
		struct net_req_hello *h = &out->hello;
		h->version_min = net_rd_u8(&r);
		h->version_max = net_rd_u8(&r);
		rd_nstr(&r, &h->client_name);
		if (!net_rd_done(&r))
			FAIL(HRL_E_BAD_BODY, "HELLO body is u8 min_version, u8 max_version, str client_name");
		if (h->client_name.len > HRL_CLIENT_NAME_BYTES_MAX ||
		    !net_valid_utf8(h->client_name.p, h->client_name.len, false))
			FAIL(HRL_E_INVALID_ARGUMENT, "client_name must be at most 64 bytes of UTF-8");
		if (h->version_min > h->version_max)
			FAIL(HRL_E_INVALID_ARGUMENT, "min_version is above max_version");
		return 0;
	}
	case HRL_OP_AUTH: {
		struct net_req_auth *a = &out->auth;
		rd_nstr(&r, &a->app_id);
		a->mac = net_rd_raw(&r, HRL_MAC_BYTES);
		if (!net_rd_done(&r))
			FAIL(HRL_E_BAD_BODY, "AUTH body is str app_id, raw[32] mac");
		return 0;
	}
	case HRL_OP_APP_CREATE:
	case HRL_OP_APP_ROTATE: {
		rd_nstr(&r, &out->app.app_id);
		if (!net_rd_done(&r))
			FAIL(HRL_E_BAD_BODY, "body is str app_id");
		if (!net_valid_app_id(out->app.app_id.p, out->app.app_id.len))
			FAIL(HRL_E_INVALID_ARGUMENT, "app_id must be 1-64 bytes of a-z 0-9 _ -");
		return 0;
	}
	case HRL_OP_BIND: {
		struct net_req_bind *b = &out->bind;
		rd_nstr(&r, &b->user);
		b->channel = net_rd_u8(&r);
		b->vendor = net_rd_u8(&r);
		b->platform = net_rd_u8(&r);
		rd_nstr(&r, &b->address);
		if (!net_rd_done(&r))
			FAIL(HRL_E_BAD_BODY, "BIND body is str user_id, u8 channel, u8 vendor, u8 platform, str address");
		if ((rc = check_user(&b->user, why)))
			return rc;
		if (!net_valid_binding(b->channel, b->vendor, b->platform, b->address.p, b->address.len, why))
			return -HRL_E_INVALID_ARGUMENT;
		return 0;
	}
	case HRL_OP_UNBIND:
	case HRL_OP_ALIAS_SET:
	case HRL_OP_ALIAS_DEL: {
		struct net_req_device *d = &out->device;
		memset(d, 0, sizeof(*d));
		rd_nstr(&r, &d->user);
		d->device_id = net_rd_u32(&r);
		if (opcode != HRL_OP_UNBIND)
			rd_nstr(&r, &d->alias_type);
		if (opcode == HRL_OP_ALIAS_SET)
			rd_nstr(&r, &d->alias);
		if (!net_rd_done(&r))
			FAIL(HRL_E_BAD_BODY, "body does not match the opcode's layout");
		if ((rc = check_user(&d->user, why)))
			return rc;
		if (opcode != HRL_OP_UNBIND && !net_valid_alias_type(d->alias_type.p, d->alias_type.len))
			FAIL(HRL_E_INVALID_ARGUMENT, "alias_type must be 1-32 bytes of a-z 0-9 _");
		if (opcode == HRL_OP_ALIAS_SET && !net_valid_alias(d->alias.p, d->alias.len))
			FAIL(HRL_E_INVALID_ARGUMENT, "alias must be 1-128 bytes of UTF-8 without control characters");
		return 0;
	}
	case HRL_OP_ALIAS_LOOKUP: {
		struct net_req_alias_lookup *l = &out->lookup;
		rd_nstr(&r, &l->alias_type);
		rd_nstr(&r, &l->alias);
		if (!net_rd_done(&r))
			FAIL(HRL_E_BAD_BODY, "ALIAS_LOOKUP body is str alias_type, str alias");
		if (!net_valid_alias_type(l->alias_type.p, l->alias_type.len))
			FAIL(HRL_E_INVALID_ARGUMENT, "alias_type must be 1-32 bytes of a-z 0-9 _");
		if (!net_valid_alias(l->alias.p, l->alias.len))
			FAIL(HRL_E_INVALID_ARGUMENT, "alias must be 1-128 bytes of UTF-8 without control characters");
		return 0;
	}
	case HRL_OP_TAG_ADD:
	case HRL_OP_TAG_DEL: {
		struct net_req_tags *t = &out->tags;
		rd_nstr(&r, &t->user);
		t->count = net_rd_u16(&r);
		if (r.bad)
			FAIL(HRL_E_BAD_BODY, "body is str user_id, u16 count, count x str tag");
		if (t->count > HRL_TAGS_PER_REQUEST_MAX)
			FAIL(HRL_E_LIMIT_EXCEEDED, "at most 256 tags per request");
		for (unsigned i = 0; i < t->count; i++)
			rd_nstr(&r, &t->tags[i]);
		if (!net_rd_done(&r))
			FAIL(HRL_E_BAD_BODY, "body is str user_id, u16 count, count x str tag");
		if ((rc = check_user(&t->user, why)))
			return rc;
		for (unsigned i = 0; i < t->count; i++)
			if (!net_valid_tag(t->tags[i].p, t->tags[i].len))
				FAIL(HRL_E_INVALID_ARGUMENT, "a tag must be 1-64 bytes of A-Z a-z 0-9 _ - . :");
		return 0;
	}
	case HRL_OP_ATTR_SET: {
		struct net_req_attrs *a = &out->attrs;
		rd_nstr(&r, &a->user);
		a->count = net_rd_u16(&r);
		if (r.bad)
			FAIL(HRL_E_BAD_BODY, "body is str user_id, u16 count, count x (str key, str value)");
		if (a->count > HRL_ATTRS_PER_REQUEST_MAX)
			FAIL(HRL_E_LIMIT_EXCEEDED, "at most 64 attributes per request");
		for (unsigned i = 0; i < a->count; i++) {
			rd_nstr(&r, &a->keys[i]);
			rd_nstr(&r, &a->values[i]);
		}
		if (!net_rd_done(&r))
			FAIL(HRL_E_BAD_BODY, "body is str user_id, u16 count, count x (str key, str value)");
		if ((rc = check_user(&a->user, why)))
			return rc;
		for (unsigned i = 0; i < a->count; i++) {
			const struct net_str *k = &a->keys[i], *v = &a->values[i];
			if (!net_valid_attr_key(k->p, k->len))
				FAIL(HRL_E_INVALID_ARGUMENT, "an attribute key must be 1-64 bytes of A-Z a-z 0-9 _ - .");
			if (v->len > HRL_ATTR_VALUE_BYTES_MAX || !net_valid_utf8(v->p, v->len, true))
				FAIL(HRL_E_INVALID_ARGUMENT, "an attribute value must be 0-1024 bytes of UTF-8");
			if (v->len == 0)
				continue;
			if (k->len == 2 && memcmp(k->p, "tz", 2) == 0 && !net_valid_tz(v->p, v->len))
				FAIL(HRL_E_INVALID_ARGUMENT, "tz is not a time zone in the zone database");
			if (k->len == 6 && memcmp(k->p, "locale", 6) == 0 && !net_valid_locale(v->p, v->len))
				FAIL(HRL_E_INVALID_ARGUMENT, "locale must be a BCP 47 tag such as zh-CN");
		}
		return 0;
	}
	case HRL_OP_USER_SHOW: {
		rd_nstr(&r, &out->user.user);
		if (!net_rd_done(&r))
			FAIL(HRL_E_BAD_BODY, "USER_SHOW body is str user_id");
		return check_user(&out->user.user, why);
	}
	case HRL_OP_RECEIPT_PUT: {
		struct net_req_receipt *e = &out->receipt;
		rd_nstr(&r, &e->user);
		e->message_id = net_rd_u64(&r);
		e->campaign_id = net_rd_u64(&r);
		e->channel = net_rd_u8(&r);
		e->vendor = net_rd_u8(&r);
		e->state = net_rd_u8(&r);
		e->event_unix_ms = net_rd_u64(&r);
		rd_nstr(&r, &e->reason);
		if (!net_rd_done(&r))
			FAIL(HRL_E_BAD_BODY, "RECEIPT_PUT body is str user_id, u64 message_id, u64 campaign_id, u8 channel, "
					     "u8 vendor, u8 state, u64 event_unix_ms, str reason");
		if ((rc = check_user(&e->user, why)))
			return rc;
		if (e->message_id == 0)
			FAIL(HRL_E_INVALID_ARGUMENT, "message_id must not be 0");
		if (e->channel == 0 || e->channel >= HRL_CH_COUNT)
			FAIL(HRL_E_INVALID_ARGUMENT, "unknown channel");
		if (e->vendor >= HRL_VENDOR_COUNT)
			FAIL(HRL_E_INVALID_ARGUMENT, "unknown vendor");
		if ((e->channel == HRL_CH_PUSH) != (e->vendor != HRL_VENDOR_NONE))
			FAIL(HRL_E_INVALID_ARGUMENT, "push needs a vendor; other channels take vendor 0");
		if (e->state == 0 || e->state >= HRL_STATE_COUNT)
			FAIL(HRL_E_INVALID_ARGUMENT, "unknown state");
		if (e->reason.len > HRL_REASON_BYTES_MAX)
			FAIL(HRL_E_LIMIT_EXCEEDED, "reason is at most 64 bytes");
		for (unsigned i = 0; i < e->reason.len; i++)
			if (e->reason.p[i] < 0x20 || e->reason.p[i] > 0x7E)
				FAIL(HRL_E_INVALID_ARGUMENT, "reason must be printable ASCII");
		if (e->state == HRL_STATE_FAILED && e->reason.len == 0)
			FAIL(HRL_E_INVALID_ARGUMENT, "a failed receipt needs a reason");
		return 0;
	}
	case HRL_OP_HISTORY: {
		struct net_req_history *h = &out->history;
		rd_nstr(&r, &h->user);
		h->cursor = net_rd_raw(&r, HRL_CURSOR_BYTES);
		h->limit = net_rd_u16(&r);
		if (!net_rd_done(&r))
			FAIL(HRL_E_BAD_BODY, "HISTORY body is str user_id, raw[16] cursor, u16 limit");
		if ((rc = check_user(&h->user, why)))
			return rc;
		if (h->limit == 0)
			FAIL(HRL_E_INVALID_ARGUMENT, "limit must be 1-1000");
		if (h->limit > HRL_HISTORY_LIMIT_MAX)
			FAIL(HRL_E_LIMIT_EXCEEDED, "at most 1000 receipts per page");
		return 0;
	}
	case HRL_OP_CAMPAIGN_COUNTERS: {
		out->campaign.campaign_id = net_rd_u64(&r);
		if (!net_rd_done(&r))
			FAIL(HRL_E_BAD_BODY, "CAMPAIGN_COUNTERS body is u64 campaign_id");
		return 0;
	}
	default:
		FAIL(HRL_E_UNKNOWN_OPCODE, "unknown opcode");
	}
}
