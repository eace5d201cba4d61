/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record.c - encode and decode record payloads; see record.h for the layout.
 * Decoding checks every length against the payload and every count against
 * the limits in bounds.h: a payload that passed its CRC but breaks a rule
 * is refused (-EBADMSG), never half-applied. A decoded user is a view
 * (users.h) whose strings point into the payload: nothing is allocated.
 */
#include "store/record.h"

#include <errno.h>
#include <string.h>

#include "net/wire.h"

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static uint8_t *putstr(uint8_t *p, const char *s, uint16_t n)
{
	p = put16(p, n);
	if (n)
		memcpy(p, s, n);
	return p + n;
}

size_t sto_user_put_bytes(const struct sto_user *u)
{
	size_t n = 2 + 2 + u->id.len + 2 + 4 + 2;
	for (unsigned i = 0; i < u->device_count; i++) {
		const struct sto_device *d = &u->devices[i];
		n += 4 + 4 + 8 + 2 + d->address.len + 1;
		for (unsigned a = 0; a < d->alias_count; a++)
			n += 4 + d->aliases[a].type.len + d->aliases[a].alias.len;
	}
	n += 2;
	for (unsigned i = 0; i < u->tag_count; i++)
		n += 2 + u->tags[i].len;
	n += 2;
	for (unsigned i = 0; i < u->attr_count; i++)
		n += 4 + u->attrs[i].key.len + u->attrs[i].value.len;
	return n;
}

void sto_user_put_encode(const struct sto_user *u, uint8_t *p)
{
	p = put16(p, u->app_idx);
	p = putstr(p, u->id.p, u->id.len);
	p = put16(p, u->partition);
	p = put32(p, u->next_device_id);
	p = put16(p, u->device_count);
	for (unsigned i = 0; i < u->device_count; i++) {
		const struct sto_device *d = &u->devices[i];
		p = put32(p, d->id);
		*p++ = d->channel;
		*p++ = d->vendor;
		*p++ = d->platform;
		*p++ = d->state;
		p = put64(p, d->bound_unix_ms);
		p = putstr(p, d->address.p, d->address.len);
		*p++ = d->alias_count;
		for (unsigned a = 0; a < d->alias_count; a++) {
			p = putstr(p, d->aliases[a].type.p, d->aliases[a].type.len);
			p = putstr(p, d->aliases[a].alias.p, d->aliases[a].alias.len);
		}
	}
	p = put16(p, u->tag_count);
	for (unsigned i = 0; i < u->tag_count; i++)
		p = putstr(p, u->tags[i].p, u->tags[i].len);
	p = put16(p, u->attr_count);
	for (unsigned i = 0; i < u->attr_count; i++) {
		p = putstr(p, u->attrs[i].key.p, u->attrs[i].key.len);
		p = putstr(p, u->attrs[i].value.p, u->attrs[i].value.len);
	}
}

size_t sto_user_del_bytes(const struct sto_user *u)
{
	return 2 + 2 + u->id.len;
}

void sto_user_del_encode(const struct sto_user *u, uint8_t *p)
{
	p = put16(p, u->app_idx);
	putstr(p, u->id.p, u->id.len);
}

int sto_user_key_decode(const uint8_t *p, size_t n, uint16_t *app_idx, const char **id, uint16_t *id_len)
{
	struct net_rd r;
	net_rd_init(&r, p, n);
	*app_idx = net_rd_u16(&r);
	*id_len = (uint16_t)net_rd_str(&r, id);
	return r.bad || *id_len == 0 || *id_len > HRL_USER_ID_BYTES_MAX ? -EBADMSG : 0;
}

/* A str of at most max bytes, pointing into the payload. */
static int getstr(struct net_rd *r, struct sto_bytes *b, size_t max)
{
	const char *s;
	size_t n = net_rd_str(r, &s);
	if (r->bad || n > max)
		return -EBADMSG;
	b->p = s;
	b->len = (uint16_t)n;
	return 0;
}

int sto_user_put_decode(const uint8_t *p, size_t n, struct sto_user *u)
{
	struct net_rd r;
	net_rd_init(&r, p, n);
	u->hash = 0;
	u->loc = 0;
	u->ref = 0;
	u->device_count = u->tag_count = u->attr_count = 0;
	u->app_idx = net_rd_u16(&r);
	if (getstr(&r, &u->id, HRL_USER_ID_BYTES_MAX))
		return -EBADMSG;
	u->partition = net_rd_u16(&r);
	u->next_device_id = net_rd_u32(&r);
	uint16_t nd = net_rd_u16(&r);
	if (r.bad || nd > HRL_DEVICES_PER_USER_MAX || u->id.len == 0)
		return -EBADMSG;
	for (unsigned i = 0; i < nd; i++) {
		struct sto_device *d = &u->devices[i];
		d->id = net_rd_u32(&r);
		d->channel = net_rd_u8(&r);
		d->vendor = net_rd_u8(&r);
		d->platform = net_rd_u8(&r);
		d->state = net_rd_u8(&r);
		d->bound_unix_ms = net_rd_u64(&r);
		if (getstr(&r, &d->address, HRL_ADDRESS_BYTES_MAX))
			return -EBADMSG;
		d->alias_count = net_rd_u8(&r);
		if (r.bad || d->alias_count > HRL_ALIASES_PER_DEVICE_MAX || d->id == 0 ||
		    d->id >= u->next_device_id || d->bound_unix_ms > HRL_UNIX_MS_MAX)
			return -EBADMSG;
		for (unsigned a = 0; a < d->alias_count; a++)
			if (getstr(&r, &d->aliases[a].type, HRL_ALIAS_TYPE_BYTES_MAX) ||
			    getstr(&r, &d->aliases[a].alias, HRL_ALIAS_BYTES_MAX))
				return -EBADMSG;
	}
	u->device_count = nd;
	uint16_t nt = net_rd_u16(&r);
	if (r.bad || nt > HRL_TAGS_PER_USER_MAX)
		return -EBADMSG;
	for (unsigned i = 0; i < nt; i++)
		if (getstr(&r, &u->tags[i], HRL_TAG_BYTES_MAX))
			return -EBADMSG;
	u->tag_count = nt;
	uint16_t nattr = net_rd_u16(&r);
	if (r.bad || nattr > HRL_ATTRS_PER_USER_MAX)
		return -EBADMSG;
	for (unsigned i = 0; i < nattr; i++)
		if (getstr(&r, &u->attrs[i].key, HRL_ATTR_KEY_BYTES_MAX) ||
		    getstr(&r, &u->attrs[i].value, HRL_ATTR_VALUE_BYTES_MAX))
			return -EBADMSG;
	u->attr_count = nattr;
	if (!net_rd_done(&r) || !sto_user_check(u))
		return -EBADMSG;
	return 0;
}

size_t sto_app_put_bytes(const struct sto_app *a)
{
	return 2 + 2 + a->id_len + HRL_SECRET_BYTES + 4 + 8;
}

void sto_app_put_encode(uint16_t idx, const struct sto_app *a, uint8_t *p)
{
	p = put16(p, idx);
	p = putstr(p, a->id, a->id_len);
	memcpy(p, a->secret, HRL_SECRET_BYTES);
	p += HRL_SECRET_BYTES;
	p = put32(p, a->secret_version);
	put64(p, a->created_unix_ms);
}

int sto_app_put_decode(const uint8_t *p, size_t n, uint16_t *idx, struct sto_app *a)
{
	struct net_rd r;
	const char *id;
	net_rd_init(&r, p, n);
	memset(a, 0, sizeof(*a));
	*idx = net_rd_u16(&r);
	size_t len = net_rd_str(&r, &id);
	const uint8_t *sec = net_rd_raw(&r, HRL_SECRET_BYTES);
	a->secret_version = net_rd_u32(&r);
	a->created_unix_ms = net_rd_u64(&r);
	if (!net_rd_done(&r) || *idx >= HRL_APPS_MAX || len == 0 || len > HRL_APP_ID_BYTES_MAX)
		return -EBADMSG;
	memcpy(a->id, id, len);
	a->id_len = (uint8_t)len;
	memcpy(a->secret, sec, HRL_SECRET_BYTES);
	a->used = true;
	return 0;
}
