/* SPDX-License-Identifier: Apache-2.0 */
/*
 * campaign.c - see campaign.h.
 */
#include "fanout/campaign.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/herald_proto.h"

struct rd {
	const uint8_t *p;
	size_t n;
	bool bad;
};

static uint8_t rd_u8(struct rd *r)
{
	if (r->n < 1) {
		r->bad = true;
		return 0;
	}
	r->n--;
	return *r->p++;
}

static uint16_t rd_u16(struct rd *r)
{
	if (r->n < 2) {
		r->bad = true;
		r->n = 0;
		return 0;
	}
	uint16_t v = (uint16_t)(r->p[0] | r->p[1] << 8);
	r->p += 2;
	r->n -= 2;
	return v;
}

static uint32_t rd_u32(struct rd *r)
{
	uint32_t lo = rd_u16(r);
	return lo | (uint32_t)rd_u16(r) << 16;
}

static struct sto_bytes rd_str(struct rd *r)
{
	struct sto_bytes b = { "", 0 };
	uint16_t len = rd_u16(r);
	if (r->bad || r->n < len) {
		r->bad = true;
		r->n = 0;
		return b;
	}
	b.p = (const char *)r->p;
	b.len = len;
	r->p += len;
	r->n -= len;
	return b;
}

static int fail(char why[FAN_WHY_BYTES_MAX], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, FAN_WHY_BYTES_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Variables a campaign template may read: user_id, the upload's columns (row.<name>) and any attribute. */
static int compile_template(struct fan_compiled *c, struct sto_bytes text, const char *what,
			    struct fan_template **out, char why[FAN_WHY_BYTES_MAX])
{
	struct fan_template_error err;
	struct fan_template_vars vars = { c->var_ptr, 1u + c->spec.column_count, true };
	int rc = fan_template_compile(text.p, text.len, &vars, out, &err);
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		return fail(why, "%s template: %s at %u", what, err.msg, err.pos);
	return 0;
}

static int spec_decode(const uint8_t *p, size_t n, struct fan_spec *s, char why[FAN_WHY_BYTES_MAX])
{
	struct rd r = { p, n, false };
	memset(s, 0, sizeof(*s));
	s->audience = rd_u8(&r);
	s->lane = rd_u8(&r);
	s->channel_count = rd_u8(&r);
	if (r.bad)
		return fail(why, "body too short");
	if (s->audience < FAN_AUD_USER || s->audience > FAN_AUD_UPLOAD)
		return fail(why, "audience must be 1 (user), 2 (list), 3 (tag expression), 4 (all) or 5 (upload)");
	if (s->lane > FAN_LANE_TRANSACTIONAL)
		return fail(why, "lane must be 0 (bulk) or 1 (transactional)");
	if (s->channel_count < 1 || s->channel_count > FAN_CHANNELS_MAX)
		return fail(why, "channel_count must be 1 to %u", FAN_CHANNELS_MAX);
	for (unsigned i = 0; i < s->channel_count; i++) {
		uint8_t ch = rd_u8(&r);
		if (r.bad)
			return fail(why, "body too short");
		if (ch < HRL_CH_PUSH || ch >= HRL_CH_COUNT)
			return fail(why, "unknown channel %u", ch);
		for (unsigned j = 0; j < i; j++)
			if (s->channels[j] == ch)
				return fail(why, "channel %u given twice", ch);
		s->channels[i] = ch;
	}
	s->title = rd_str(&r);
	s->body = rd_str(&r);
	s->category = rd_str(&r);
	if (r.bad)
		return fail(why, "body too short");
	if (s->title.len > FAN_BODY_BYTES_MAX)
		return fail(why, "title longer than %u bytes", FAN_BODY_BYTES_MAX);
	if (s->body.len < 1 || s->body.len > FAN_BODY_BYTES_MAX)
		return fail(why, "body must be 1 to %u bytes", FAN_BODY_BYTES_MAX);
	if (s->category.len > FAN_CATEGORY_BYTES_MAX)
		return fail(why, "category longer than %u bytes", FAN_CATEGORY_BYTES_MAX);
	switch (s->audience) {
	case FAN_AUD_USER:
		s->user = rd_str(&r);
		if (r.bad)
			return fail(why, "body too short");
		if (s->user.len < 1 || s->user.len > HRL_USER_ID_BYTES_MAX)
			return fail(why, "user_id must be 1 to %u bytes", HRL_USER_ID_BYTES_MAX);
		break;
	case FAN_AUD_LIST:
		s->list_count = rd_u16(&r);
		if (r.bad)
			return fail(why, "body too short");
		if (s->list_count < 1 || s->list_count > FAN_LIST_USERS_MAX)
			return fail(why, "a list holds 1 to %u users", FAN_LIST_USERS_MAX);
		s->list = r.p;
		for (unsigned i = 0; i < s->list_count; i++) {
			struct sto_bytes u = rd_str(&r);
			if (r.bad)
				return fail(why, "body too short (list entry %u)", i);
			if (u.len < 1 || u.len > HRL_USER_ID_BYTES_MAX)
				return fail(why, "list entry %u: user_id must be 1 to %u bytes", i, HRL_USER_ID_BYTES_MAX);
		}
		s->list_bytes = (size_t)(r.p - s->list);
		break;
	case FAN_AUD_TAG:
		s->expr = rd_str(&r);
		if (r.bad)
			return fail(why, "body too short");
		break;
	case FAN_AUD_UPLOAD:
		s->upload_kind = rd_u8(&r);
		s->columns = rd_str(&r);
		if (r.bad)
			return fail(why, "body too short");
		if (s->upload_kind != FAN_UP_USER_ID && s->upload_kind != FAN_UP_PHONE)
			return fail(why, "upload kind must be 1 (user ids) or 2 (phone numbers)");
		if (s->upload_kind == FAN_UP_PHONE) {
			bool sms = false;
			for (unsigned i = 0; i < s->channel_count; i++)
				sms |= s->channels[i] == HRL_CH_SMS;
			if (!sms || s->channel_count != 1)
				return fail(why, "an upload of phone numbers goes to the sms channel alone");
		}
		for (size_t at = 0; s->columns.len && at <= s->columns.len;) {
			const char *name = s->columns.p + at;
			size_t l = 0;
			while (at + l < s->columns.len && name[l] != ',')
				l++;
			if (s->column_count == FAN_COLUMNS_MAX)
				return fail(why, "at most %u columns", FAN_COLUMNS_MAX);
			if (l < 1 || l > FAN_TEMPLATE_NAME_BYTES_MAX)
				return fail(why, "column %u: a name of 1 to %u bytes", s->column_count + 1,
					    FAN_TEMPLATE_NAME_BYTES_MAX);
			for (size_t i = 0; i < l; i++) {
				char ch = name[i];
				if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
				      ch == '_' || ch == '-' || ch == '.'))
					return fail(why, "column %u: names are A-Z a-z 0-9 _ - .", s->column_count + 1);
			}
			s->column[s->column_count].p = name;
			s->column[s->column_count].len = (uint16_t)l;
			s->column_count++;
			at += l + 1;
		}
		break;
	default:
		break;
	}
	if (r.n)
		return fail(why, "%zu bytes after the end of the body", r.n);
	return 0;
}

int fan_compile(const uint8_t *def, size_t len, struct fan_compiled *c, char why[FAN_WHY_BYTES_MAX])
{
	memset(c, 0, sizeof(*c));
	c->def = malloc(len ? len : 1);
	if (!c->def)
		return -ENOMEM;
	memcpy(c->def, def, len);
	c->def_len = (uint32_t)len;
	int rc = spec_decode(c->def, len, &c->spec, why);
	if (rc)
		goto out;
	const struct fan_spec *s = &c->spec;
	snprintf(c->var_names[0], sizeof(c->var_names[0]), "user_id");
	c->var_ptr[0] = c->var_names[0];
	for (unsigned i = 0; i < s->column_count; i++) {
		snprintf(c->var_names[1 + i], sizeof(c->var_names[1 + i]), "row.%.*s", (int)s->column[i].len,
			 s->column[i].p);
		c->var_ptr[1 + i] = c->var_names[1 + i];
	}
	if (s->audience == FAN_AUD_TAG) {
		struct fan_tagexpr_error err;
		rc = fan_tagexpr_parse(s->expr.p, s->expr.len, &c->expr, &err);
		if (rc == -ENOMEM)
			goto out;
		if (rc) {
			rc = fail(why, "tag expression: %s", err.message);
			goto out;
		}
	}
	if (s->title.len && (rc = compile_template(c, s->title, "title", &c->title, why)))
		goto out;
	if ((rc = compile_template(c, s->body, "body", &c->body, why)))
		goto out;
	c->personal = (c->title && fan_template_var_count(c->title)) || fan_template_var_count(c->body);
	return 0;
out:
	if (rc == -ENOMEM)
		fail(why, "out of memory");
	fan_compiled_free(c);
	return rc;
}

void fan_compiled_free(struct fan_compiled *c)
{
	fan_tagexpr_free(c->expr);
	fan_template_free(c->title);
	fan_template_free(c->body);
	free(c->def);
	memset(c, 0, sizeof(*c));
}

int fan_spec_decode(const uint8_t *p, size_t n, struct fan_spec *s, char why[FAN_WHY_BYTES_MAX])
{
	struct fan_compiled c;
	int rc = fan_compile(p, n, &c, why);
	if (rc)
		return rc;
	fan_compiled_free(&c);
	return spec_decode(p, n, s, why);
}

const char *fan_row_split(const struct fan_spec *s, const char *row, size_t len, struct sto_bytes *fields,
			  unsigned *nfields)
{
	if (len > FAN_ROW_BYTES_MAX)
		return "row longer than 1024 bytes";
	unsigned n = 0;
	for (size_t at = 0; at <= len;) {
		size_t l = 0;
		while (at + l < len && row[at + l] != ',')
			l++;
		if (n == 1u + s->column_count)
			return "more fields than the campaign's columns";
		fields[n].p = row + at;
		fields[n].len = (uint16_t)l;
		n++;
		at += l + 1;
	}
	if (n < 1u + s->column_count)
		return "fewer fields than the campaign's columns";
	const struct sto_bytes *v = &fields[0];
	for (size_t i = 0; i < v->len; i++)
		if ((unsigned char)v->p[i] < 0x21 || (unsigned char)v->p[i] > 0x7e)
			return "the first field holds a space or a byte that is not printable ASCII";
	if (s->upload_kind == FAN_UP_USER_ID) {
		if (v->len < 1 || v->len > HRL_USER_ID_BYTES_MAX)
			return "user id must be 1 to 128 bytes";
	} else {
		bool ok = v->len >= 8 && v->len <= 16 && v->p[0] == '+';
		for (size_t i = 1; ok && i < v->len; i++)
			ok = v->p[i] >= '0' && v->p[i] <= '9';
		if (!ok)
			return "phone number must be E.164: + and 7 to 15 digits";
	}
	*nfields = n;
	return NULL;
}

struct sto_bytes fan_spec_list_next(const struct fan_spec *s, size_t *pos)
{
	struct rd r = { s->list + *pos, s->list_bytes - *pos, false };
	struct sto_bytes b = rd_str(&r);
	*pos = (size_t)(r.p - s->list);
	return b;
}

enum fan_target fan_target_of(uint8_t channel, uint8_t vendor)
{
	switch (channel) {
	case HRL_CH_PUSH:
		switch (vendor) {
		case HRL_VENDOR_HUAWEI:
			return FAN_T_HUAWEI;
		case HRL_VENDOR_XIAOMI:
			return FAN_T_XIAOMI;
		case HRL_VENDOR_OPPO:
			return FAN_T_OPPO;
		case HRL_VENDOR_VIVO:
			return FAN_T_VIVO;
		default:
			return FAN_T_NONE;
		}
	case HRL_CH_SMS:
		return FAN_T_SMS;
	case HRL_CH_WEBHOOK:
		return FAN_T_WEBHOOK;
	default:
		return FAN_T_NONE;
	}
}

const char *fan_target_name(unsigned t)
{
	static const char *const names[FAN_TARGET_COUNT] = { "none", "huawei", "xiaomi", "oppo",
							     "vivo", "sms", "webhook" };
	return t < FAN_TARGET_COUNT ? names[t] : "?";
}

/* ---- vendor settings ----------------------------------------------------------------------- */

static int copy_str(struct sto_bytes b, char *dst, size_t cap, const char *what, char why[FAN_WHY_BYTES_MAX])
{
	if (b.len >= cap)
		return fail(why, "%s longer than %zu bytes", what, cap - 1);
	if (memchr(b.p, 0, b.len))
		return fail(why, "%s holds a NUL byte", what);
	memcpy(dst, b.p, b.len);
	dst[b.len] = 0;
	return 0;
}

/* Split "http://host:port/path" into host (Host header) and path. */
static int url_split(struct fan_vendor *v, char why[FAN_WHY_BYTES_MAX])
{
	const char *rest;
	if (!strncmp(v->url, "http://", 7))
		rest = v->url + 7;
	else if (!strncmp(v->url, "https://", 8))
		rest = v->url + 8;
	else
		return fail(why, "url must start with http:// or https://");
	size_t hl = strcspn(rest, "/?#");
	if (!hl)
		return fail(why, "url has no host");
	memcpy(v->host, rest, hl);
	v->host[hl] = 0;
	snprintf(v->path, sizeof(v->path), "%s", rest[hl] == '/' ? rest + hl : "/");
	return 0;
}

int fan_vendor_decode(const uint8_t *p, size_t n, struct fan_vendor *v, char why[FAN_WHY_BYTES_MAX])
{
	struct rd r = { p, n, false };
	memset(v, 0, sizeof(*v));
	v->target = rd_u8(&r);
	struct sto_bytes s[7];
	for (unsigned i = 0; i < 7; i++)
		s[i] = rd_str(&r);
	v->batch_max = rd_u16(&r);
	v->connections = rd_u16(&r);
	v->rate_per_s = rd_u32(&r);
	v->daily_quota = rd_u32(&r);
	if (r.bad)
		return fail(why, "body too short");
	if (r.n)
		return fail(why, "%zu bytes after the end of the body", r.n);
	if (v->target < FAN_T_HUAWEI || v->target > FAN_T_WEBHOOK)
		return fail(why, "target must be 1 (huawei) to 6 (webhook)");
	if (s[0].len < 1)
		return fail(why, "url must not be empty");
	int rc;
	if ((rc = copy_str(s[0], v->url, sizeof(v->url), "url", why)) ||
	    (rc = copy_str(s[1], v->app_id, sizeof(v->app_id), "app_id", why)) ||
	    (rc = copy_str(s[2], v->secret, sizeof(v->secret), "secret", why)) ||
	    (rc = copy_str(s[3], v->secret2, sizeof(v->secret2), "secret2", why)) ||
	    (rc = copy_str(s[4], v->package, sizeof(v->package), "package", why)) ||
	    (rc = copy_str(s[5], v->sign_name, sizeof(v->sign_name), "sign_name", why)) ||
	    (rc = copy_str(s[6], v->template_code, sizeof(v->template_code), "template_code", why)))
		return rc;
	if ((rc = url_split(v, why)))
		return rc;
	if (v->batch_max > FAN_BATCH_TOKENS_MAX)
		return fail(why, "batch_max is at most %u", FAN_BATCH_TOKENS_MAX);
	if (!v->batch_max)
		v->batch_max = FAN_BATCH_TOKENS_MAX;
	if (v->connections > FAN_CONNS_MAX)
		return fail(why, "connections is at most %u", FAN_CONNS_MAX);
	if (!v->connections)
		v->connections = FAN_CONNS_DEFAULT;
	v->used = true;
	return 0;
}

static const char *vendor_field(const struct fan_vendor *v, unsigned i)
{
	const char *f[7] = { v->url, v->app_id, v->secret, v->secret2, v->package, v->sign_name, v->template_code };
	return f[i];
}

size_t fan_vendor_bytes(const struct fan_vendor *v)
{
	size_t n = 1 + 2 + 2 + 4 + 4;
	for (unsigned i = 0; i < 7; i++)
		n += 2 + strlen(vendor_field(v, i));
	return n;
}

void fan_vendor_encode(const struct fan_vendor *v, uint8_t *p)
{
	*p++ = v->target;
	for (unsigned i = 0; i < 7; i++) {
		const char *s = vendor_field(v, i);
		size_t l = strlen(s);
		*p++ = (uint8_t)l;
		*p++ = (uint8_t)(l >> 8);
		memcpy(p, s, l);
		p += l;
	}
	uint32_t nums[4] = { v->batch_max, v->connections, v->rate_per_s, v->daily_quota };
	for (unsigned i = 0; i < 4; i++) {
		unsigned bytes = i < 2 ? 2 : 4;
		for (unsigned b = 0; b < bytes; b++)
			*p++ = (uint8_t)(nums[i] >> (8 * b));
	}
}
