/* SPDX-License-Identifier: Apache-2.0 */
/*
 * users.c - see users.h.
 *
 * The packed user: one arena block, little-endian, no padding; v is an
 * unsigned LEB128 varint (7 bits a byte, low bits first, at most 5 bytes),
 * u48 six bytes. Offsets of the fixed header:
 *
 *    0  u8   id_len          1..128; never 0 (a free arena block starts with 0)
 *    1  u8   device_count    0..32
 *    2  u8   attr_count      0..64
 *    3  u8   tag_count       low 8 bits
 *    4  u8   bits            bit 0: tag_count bit 8 (256 tags)
 *                            bit 1: some device holds an alias
 *    5  u16  loc segment     the latest record: STO_LOC(segment, offset)
 *    7  u32  loc offset
 *   11  u16  partition
 *   13  v    app_idx
 *       v    next_device_id
 *       id_len bytes: the user id
 *       device_count x { v id, u8 channel, u8 vendor, u8 platform, u8 state,
 *                        u48 bound_unix_ms, v address_len, address,
 *                        u8 alias_count, alias_count x { u8 type_len, type,
 *                                                        u8 alias_len, alias } }
 *       tag_count x { u8 len, tag }
 *       attr_count x { u8 key_len, key, v value_len, value }
 *
 * A user with one 64-byte push token and a 12-byte id is 104 bytes: 40
 * beyond id and token. The hash index keeps 32 bits of the user hash next
 * to the block's ref, so a lookup reads the block only to confirm the key.
 *
 * A view is decoded from the block on every find; a commit packs the view
 * into a new block, swaps the index entry to it and frees the old one.
 */
#include "store/users.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "store/log.h"

#define PK_ID_LEN       0
#define PK_DEVICES      1
#define PK_ATTRS        2
#define PK_TAGS_LO      3
#define PK_BITS         4
#define PK_LOC_SEG      5
#define PK_LOC_OFF      7
#define PK_PARTITION    11
#define PK_HEADER_BYTES 13
#define PK_BIT_TAGS_HI  0x01u
#define PK_BIT_ALIASES  0x02u
#define PK_VARINT_BYTES_MAX 5u
#define PK_UNIX_MS_BITS 48u

_Static_assert(HRL_USER_ID_BYTES_MAX <= 255, "id_len is a u8");
_Static_assert(HRL_DEVICES_PER_USER_MAX <= 255, "device_count is a u8");
_Static_assert(HRL_ATTRS_PER_USER_MAX <= 255, "attr_count is a u8");
_Static_assert(HRL_TAGS_PER_USER_MAX <= 511, "tag_count is 9 bits");
_Static_assert(HRL_ALIASES_PER_DEVICE_MAX <= 255, "alias_count is a u8");
_Static_assert(HRL_ALIAS_TYPE_BYTES_MAX <= 255 && HRL_ALIAS_BYTES_MAX <= 255, "alias lengths are u8");
_Static_assert(HRL_TAG_BYTES_MAX <= 255 && HRL_ATTR_KEY_BYTES_MAX <= 255, "tag and key lengths are u8");
_Static_assert(HRL_SEGMENTS_MAX <= 65536, "a segment index fits the packed loc's u16");
_Static_assert(HRL_UNIX_MS_MAX < (1ull << PK_UNIX_MS_BITS), "bound times fit a u48");

/* The largest user there can be, packed (varints at their widest). */
#define PK_DEVICE_BYTES_MAX                                                               \
	(PK_VARINT_BYTES_MAX + 4 + 6 + PK_VARINT_BYTES_MAX + HRL_ADDRESS_BYTES_MAX + 1 + \
	 HRL_ALIASES_PER_DEVICE_MAX * (2 + HRL_ALIAS_TYPE_BYTES_MAX + HRL_ALIAS_BYTES_MAX))
#define PK_USER_BYTES_MAX                                                                  \
	(PK_HEADER_BYTES + 2 * PK_VARINT_BYTES_MAX + HRL_USER_ID_BYTES_MAX +               \
	 HRL_DEVICES_PER_USER_MAX * PK_DEVICE_BYTES_MAX + HRL_TAGS_PER_USER_MAX * (1 + HRL_TAG_BYTES_MAX) + \
	 HRL_ATTRS_PER_USER_MAX * (1 + HRL_ATTR_KEY_BYTES_MAX + PK_VARINT_BYTES_MAX + HRL_ATTR_VALUE_BYTES_MAX))
_Static_assert(PK_USER_BYTES_MAX <= STO_ARENA_BLOCK_BYTES_MAX, "the largest user fits one arena block");

static __thread long users_fail_countdown;

void sto_users_fail_alloc_after(long n)
{
	users_fail_countdown = n;
}

static bool fail_now(void)
{
	return users_fail_countdown > 0 && --users_fail_countdown == 0;
}

/* ---- bytes ------------------------------------------------------------------ */

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static bool bytes_eq(const struct sto_bytes *b, const char *p, size_t len)
{
	return b->len == len && (!len || memcmp(b->p, p, len) == 0);
}

static struct sto_bytes bytes_of(const char *p, size_t len)
{
	return (struct sto_bytes){ p, (uint16_t)len };
}

/* ---- the packed form ------------------------------------------------------- */

static size_t v_len(uint32_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *v_put(uint8_t *p, uint32_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static const uint8_t *v_get(const uint8_t *p, uint32_t *v)
{
	uint32_t x = 0;
	for (unsigned i = 0; i < PK_VARINT_BYTES_MAX; i++) {
		uint8_t b = *p++;
		x |= (uint32_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = x;
			return p;
		}
	}
	NEVER(true); /* we wrote it: a longer varint is memory damage */
	return p;
}

static uint8_t *bytes_put(uint8_t *p, const struct sto_bytes *b)
{
	if (b->len)
		memcpy(p, b->p, b->len);
	return p + b->len;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_loc(uint8_t *p, uint64_t loc)
{
	uint32_t seg = STO_LOC_SEG(loc), off = STO_LOC_OFF(loc);
	ALWAYS(seg < 65536);
	put16(p + PK_LOC_SEG, (uint16_t)seg);
	memcpy(p + PK_LOC_OFF, &off, 4);
}

static uint64_t get_loc(const uint8_t *p)
{
	uint32_t off;
	memcpy(&off, p + PK_LOC_OFF, 4);
	return STO_LOC(get16(p + PK_LOC_SEG), off);
}

static unsigned tag_count_of(const uint8_t *p)
{
	return p[PK_TAGS_LO] | (p[PK_BITS] & PK_BIT_TAGS_HI ? 256u : 0u);
}

static bool has_aliases(const struct sto_user *u)
{
	for (unsigned i = 0; i < u->device_count; i++)
		if (u->devices[i].alias_count)
			return true;
	return false;
}

static size_t packed_bytes(const struct sto_user *u)
{
	size_t n = PK_HEADER_BYTES + v_len(u->app_idx) + v_len(u->next_device_id) + u->id.len;
	for (unsigned i = 0; i < u->device_count; i++) {
		const struct sto_device *d = &u->devices[i];
		n += v_len(d->id) + 4 + 6 + v_len(d->address.len) + d->address.len + 1;
		for (unsigned a = 0; a < d->alias_count; a++)
			n += 2 + d->aliases[a].type.len + d->aliases[a].alias.len;
	}
	for (unsigned i = 0; i < u->tag_count; i++)
		n += 1 + u->tags[i].len;
	for (unsigned i = 0; i < u->attr_count; i++)
		n += 1 + u->attrs[i].key.len + v_len(u->attrs[i].value.len) + u->attrs[i].value.len;
	return n;
}

static void pack(const struct sto_user *u, uint8_t *start, size_t n)
{
	uint8_t *p = start;
	ALWAYS(u->id.len >= 1 && u->id.len <= HRL_USER_ID_BYTES_MAX);
	ALWAYS(u->device_count <= HRL_DEVICES_PER_USER_MAX && u->tag_count <= HRL_TAGS_PER_USER_MAX &&
	       u->attr_count <= HRL_ATTRS_PER_USER_MAX);
	p[PK_ID_LEN] = (uint8_t)u->id.len;
	p[PK_DEVICES] = (uint8_t)u->device_count;
	p[PK_ATTRS] = (uint8_t)u->attr_count;
	p[PK_TAGS_LO] = (uint8_t)u->tag_count;
	p[PK_BITS] = (uint8_t)((u->tag_count >> 8 ? PK_BIT_TAGS_HI : 0) | (has_aliases(u) ? PK_BIT_ALIASES : 0));
	put_loc(p, u->loc);
	put16(p + PK_PARTITION, u->partition);
	p += PK_HEADER_BYTES;
	p = v_put(p, u->app_idx);
	p = v_put(p, u->next_device_id);
	p = bytes_put(p, &u->id);
	for (unsigned i = 0; i < u->device_count; i++) {
		const struct sto_device *d = &u->devices[i];
		ALWAYS(d->bound_unix_ms <= HRL_UNIX_MS_MAX && d->alias_count <= HRL_ALIASES_PER_DEVICE_MAX);
		p = v_put(p, d->id);
		*p++ = d->channel;
		*p++ = d->vendor;
		*p++ = d->platform;
		*p++ = d->state;
		for (unsigned b = 0; b < 6; b++)
			*p++ = (uint8_t)(d->bound_unix_ms >> (8 * b));
		p = v_put(p, d->address.len);
		p = bytes_put(p, &d->address);
		*p++ = d->alias_count;
		for (unsigned a = 0; a < d->alias_count; a++) {
			*p++ = (uint8_t)d->aliases[a].type.len;
			p = bytes_put(p, &d->aliases[a].type);
			*p++ = (uint8_t)d->aliases[a].alias.len;
			p = bytes_put(p, &d->aliases[a].alias);
		}
	}
	for (unsigned i = 0; i < u->tag_count; i++) {
		*p++ = (uint8_t)u->tags[i].len;
		p = bytes_put(p, &u->tags[i]);
	}
	for (unsigned i = 0; i < u->attr_count; i++) {
		*p++ = (uint8_t)u->attrs[i].key.len;
		p = bytes_put(p, &u->attrs[i].key);
		p = v_put(p, u->attrs[i].value.len);
		p = bytes_put(p, &u->attrs[i].value);
	}
	ALWAYS((size_t)(p - start) == n);
}

static const uint8_t *str8_get(const uint8_t *p, struct sto_bytes *b)
{
	b->len = *p++;
	b->p = (const char *)p;
	return p + b->len;
}

static const uint8_t *strv_get(const uint8_t *p, struct sto_bytes *b)
{
	uint32_t n;
	p = v_get(p, &n);
	b->len = (uint16_t)n;
	b->p = (const char *)p;
	return p + n;
}

/* Decode a packed block into a view (ref and hash are the caller's). */
static void unpack(const uint8_t *start, struct sto_user *u)
{
	const uint8_t *p = start;
	uint32_t v;
	u->id.len = p[PK_ID_LEN];
	u->device_count = p[PK_DEVICES];
	u->attr_count = p[PK_ATTRS];
	u->tag_count = (uint16_t)tag_count_of(p);
	ALWAYS(u->id.len >= 1 && u->device_count <= HRL_DEVICES_PER_USER_MAX &&
	       u->tag_count <= HRL_TAGS_PER_USER_MAX && u->attr_count <= HRL_ATTRS_PER_USER_MAX);
	u->loc = get_loc(p);
	u->partition = get16(p + PK_PARTITION);
	p += PK_HEADER_BYTES;
	p = v_get(p, &v);
	u->app_idx = (uint16_t)v;
	p = v_get(p, &u->next_device_id);
	u->id.p = (const char *)p;
	p += u->id.len;
	for (unsigned i = 0; i < u->device_count; i++) {
		struct sto_device *d = &u->devices[i];
		p = v_get(p, &d->id);
		d->channel = *p++;
		d->vendor = *p++;
		d->platform = *p++;
		d->state = *p++;
		d->bound_unix_ms = 0;
		for (unsigned b = 0; b < 6; b++)
			d->bound_unix_ms |= (uint64_t)*p++ << (8 * b);
		p = strv_get(p, &d->address);
		d->alias_count = *p++;
		ALWAYS(d->alias_count <= HRL_ALIASES_PER_DEVICE_MAX);
		for (unsigned a = 0; a < d->alias_count; a++) {
			p = str8_get(p, &d->aliases[a].type);
			p = str8_get(p, &d->aliases[a].alias);
		}
	}
	for (unsigned i = 0; i < u->tag_count; i++)
		p = str8_get(p, &u->tags[i]);
	for (unsigned i = 0; i < u->attr_count; i++) {
		p = str8_get(p, &u->attrs[i].key);
		p = strv_get(p, &u->attrs[i].value);
	}
}

/* The bytes of a packed block (the arena's size callback: walks, frees). */
static size_t packed_size(const uint8_t *start)
{
	const uint8_t *p = start;
	uint32_t v;
	unsigned devices = p[PK_DEVICES], attrs = p[PK_ATTRS], tags = tag_count_of(p);
	p += PK_HEADER_BYTES;
	p = v_get(p, &v);
	p = v_get(p, &v);
	p += start[PK_ID_LEN];
	for (unsigned i = 0; i < devices; i++) {
		p = v_get(p, &v);
		p += 4 + 6;
		p = v_get(p, &v);
		p += v;
		unsigned aliases = *p++;
		for (unsigned a = 0; a < aliases; a++) {
			p += 1 + *p;
			p += 1 + *p;
		}
	}
	for (unsigned i = 0; i < tags; i++)
		p += 1 + *p;
	for (unsigned i = 0; i < attrs; i++) {
		p += 1 + *p;
		p = v_get(p, &v);
		p += v;
	}
	return (size_t)(p - start);
}

/* ---- the table ------------------------------------------------------------- */

uint64_t sto_user_hash(const struct base_hash_key *k, uint16_t app_idx, const char *id, size_t len)
{
	uint8_t app[2] = { (uint8_t)app_idx, (uint8_t)(app_idx >> 8) };
	return base_hash64_pair(k, app, sizeof(app), id, len);
}

struct user_key {
	const struct sto_arena *arena;
	uint16_t app_idx;
	const char *id;
	size_t len;
};

static bool user_match(uint32_t ref, const void *key)
{
	const struct user_key *k = key;
	const uint8_t *p = sto_arena_ptr(k->arena, ref);
	uint32_t app, next;
	if (p[PK_ID_LEN] != k->len)
		return false;
	const uint8_t *q = v_get(p + PK_HEADER_BYTES, &app);
	q = v_get(q, &next);
	return app == k->app_idx && memcmp(q, k->id, k->len) == 0;
}

static uint32_t find_ref(const struct sto_users *t, uint64_t hash, uint16_t app_idx, const char *id,
			 size_t len)
{
	struct user_key k = { &t->arena, app_idx, id, len };
	return base_htab32_find(&t->index, (uint32_t)hash, user_match, &k);
}

struct sto_user *sto_users_view(struct sto_users *t, uint32_t ref)
{
	struct sto_user *u = &t->view;
	unpack(sto_arena_ptr(&t->arena, ref), u);
	u->ref = ref;
	u->hash = 0;
	return u;
}

struct sto_user *sto_user_find(struct sto_users *t, uint64_t hash, uint16_t app_idx,
			       const char *id, size_t len)
{
	uint32_t ref = find_ref(t, hash, app_idx, id, len);
	if (!ref)
		return NULL;
	struct sto_user *u = sto_users_view(t, ref);
	u->hash = hash;
	return u;
}

struct sto_user *sto_user_get(struct sto_users *t, uint64_t hash, uint16_t app_idx,
			      uint16_t partition, const char *id, size_t len)
{
	struct sto_user *u = sto_user_find(t, hash, app_idx, id, len);
	if (u)
		return u;
	u = &t->view;
	u->hash = hash;
	u->loc = 0;
	u->ref = 0;
	u->app_idx = app_idx;
	u->partition = partition;
	u->next_device_id = 1;
	u->id = bytes_of(id, len);
	u->device_count = u->tag_count = u->attr_count = 0;
	return u;
}

bool sto_user_empty(const struct sto_user *u)
{
	return !u->device_count && !u->tag_count && !u->attr_count;
}

static void remove_ref(struct sto_users *t, uint32_t hash, uint32_t ref)
{
	ALWAYS(base_htab32_remove(&t->index, hash, ref));
	sto_arena_free(&t->arena, ref, packed_size(sto_arena_ptr(&t->arena, ref)));
	t->count--;
}

int sto_user_put(struct sto_users *t, struct sto_user *u)
{
	uint32_t hash = (uint32_t)u->hash, old;
	if (sto_user_empty(u)) {
		old = find_ref(t, u->hash, u->app_idx, u->id.p, u->id.len);
		if (old)
			remove_ref(t, hash, old);
		u->ref = 0;
		return 0;
	}
	size_t n = packed_bytes(u);
	uint32_t ref = fail_now() ? 0 : sto_arena_alloc(&t->arena, n);
	if (!ref)
		return -ENOMEM;
	/* the view may point into the old block: pack first, free the old one after */
	pack(u, sto_arena_ptr(&t->arena, ref), n);
	struct user_key k = { &t->arena, u->app_idx, u->id.p, u->id.len };
	if (fail_now() || base_htab32_upsert(&t->index, hash, user_match, &k, ref, &old)) {
		sto_arena_free(&t->arena, ref, n);
		return -ENOMEM;
	}
	if (old)
		sto_arena_free(&t->arena, old, packed_size(sto_arena_ptr(&t->arena, old)));
	else
		t->count++;
	u->ref = ref;
	return 0;
}

void sto_users_prefetch(const struct sto_users *t, uint64_t hash)
{
	base_htab32_prefetch(&t->index, (uint32_t)hash);
}

int sto_user_commit(struct sto_users *t, struct sto_user *u)
{
	int rc = sto_user_put(t, u);
	if (rc == 0 && u->ref)
		unpack(sto_arena_ptr(&t->arena, u->ref), u);
	return rc;
}

void sto_user_set_loc(struct sto_users *t, struct sto_user *u, uint64_t loc)
{
	u->loc = loc;
	if (u->ref)
		put_loc(sto_arena_ptr(&t->arena, u->ref), loc);
}

bool sto_user_delete(struct sto_users *t, uint64_t hash, uint16_t app_idx, const char *id, size_t len)
{
	uint32_t ref = find_ref(t, hash, app_idx, id, len);
	if (!ref)
		return false;
	remove_ref(t, (uint32_t)hash, ref);
	return true;
}

bool sto_users_next(const struct sto_users *t, size_t *pos, uint32_t *ref, uint64_t *loc)
{
	if (!base_htab32_next(&t->index, pos, ref))
		return false;
	*loc = get_loc(sto_arena_ptr(&t->arena, *ref));
	return true;
}

struct sto_user *sto_users_next_aliased(struct sto_users *t, uint32_t *ref)
{
	while ((*ref = sto_arena_next(&t->arena, *ref, packed_size))) {
		const uint8_t *p = sto_arena_ptr(&t->arena, *ref);
		if (p[PK_BITS] & PK_BIT_ALIASES)
			return sto_users_view(t, *ref);
	}
	return NULL;
}

void sto_users_free(struct sto_users *t)
{
	base_htab32_free(&t->index);
	sto_arena_free_all(&t->arena);
	t->count = 0;
}

size_t sto_users_bytes(const struct sto_users *t)
{
	return sto_arena_bytes(&t->arena) + base_htab32_bytes(&t->index);
}

/* ---- devices ---------------------------------------------------------------- */

struct sto_device *sto_user_device(struct sto_user *u, uint32_t device_id)
{
	unsigned lo = 0, hi = u->device_count;
	while (lo < hi) { /* devices are sorted by id */
		unsigned mid = (lo + hi) / 2;
		if (u->devices[mid].id < device_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < u->device_count && u->devices[lo].id == device_id)
		return &u->devices[lo];
	return NULL;
}

int sto_user_bind(struct sto_user *u, uint8_t channel, uint8_t vendor, uint8_t platform,
		  const char *addr, size_t len, uint64_t now_unix_ms, uint32_t *device_id,
		  bool *created)
{
	for (unsigned i = 0; i < u->device_count; i++) {
		struct sto_device *d = &u->devices[i];
		if (d->channel == channel && d->vendor == vendor && bytes_eq(&d->address, addr, len)) {
			d->platform = platform;
			*device_id = d->id;
			*created = false;
			return 0;
		}
	}
	if (u->device_count >= HRL_DEVICES_PER_USER_MAX)
		return -ENOSPC;
	ALWAYS(len <= HRL_ADDRESS_BYTES_MAX && now_unix_ms <= HRL_UNIX_MS_MAX);
	struct sto_device *d = &u->devices[u->device_count++];
	d->id = u->next_device_id++;
	d->channel = channel;
	d->vendor = vendor;
	d->platform = platform;
	d->state = 0;
	d->alias_count = 0;
	d->bound_unix_ms = now_unix_ms;
	d->address = bytes_of(addr, len);
	*device_id = d->id;
	*created = true;
	return 0;
}

int sto_user_unbind(struct sto_user *u, uint32_t device_id)
{
	struct sto_device *d = sto_user_device(u, device_id);
	if (!d)
		return -ENOENT;
	size_t i = (size_t)(d - u->devices);
	memmove(d, d + 1, (u->device_count - i - 1) * sizeof(*d));
	u->device_count--;
	return 0;
}

static int alias_index(const struct sto_device *d, const char *type, size_t tlen)
{
	for (unsigned i = 0; i < d->alias_count; i++)
		if (bytes_eq(&d->aliases[i].type, type, tlen))
			return (int)i;
	return -1;
}

static void copy_out(const struct sto_bytes *b, char *old, size_t *old_len)
{
	size_t n = b->len < HRL_ALIAS_BYTES_MAX ? b->len : HRL_ALIAS_BYTES_MAX;
	if (n)
		memcpy(old, b->p, n);
	*old_len = n;
}

int sto_user_alias_set(struct sto_user *u, uint32_t device_id, const char *type, size_t tlen,
		       const char *alias, size_t alen, char *old, size_t *old_len)
{
	struct sto_device *d = sto_user_device(u, device_id);
	*old_len = 0;
	if (!d)
		return -ENOENT;
	ALWAYS(tlen <= HRL_ALIAS_TYPE_BYTES_MAX && alen <= HRL_ALIAS_BYTES_MAX);
	int i = alias_index(d, type, tlen);
	if (i >= 0) {
		copy_out(&d->aliases[i].alias, old, old_len);
		d->aliases[i].alias = bytes_of(alias, alen);
		return 0;
	}
	if (d->alias_count >= HRL_ALIASES_PER_DEVICE_MAX)
		return -ENOSPC;
	d->aliases[d->alias_count].type = bytes_of(type, tlen);
	d->aliases[d->alias_count].alias = bytes_of(alias, alen);
	d->alias_count++;
	return 0;
}

int sto_user_alias_del(struct sto_user *u, uint32_t device_id, const char *type, size_t tlen,
		       char *old, size_t *old_len)
{
	struct sto_device *d = sto_user_device(u, device_id);
	*old_len = 0;
	if (!d)
		return -ENOENT;
	int i = alias_index(d, type, tlen);
	if (i < 0)
		return -ENOENT;
	copy_out(&d->aliases[i].alias, old, old_len);
	d->aliases[i] = d->aliases[d->alias_count - 1];
	d->alias_count--;
	return 0;
}

/* ---- tags ------------------------------------------------------------------- */

/* Position of tag in the sorted array, *found if present. */
static unsigned tag_pos(const struct sto_bytes *tags, unsigned n, const char *p, size_t len,
			bool *found)
{
	unsigned lo = 0, hi = n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (bytes_cmp(tags[mid].p, tags[mid].len, p, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < n && bytes_eq(&tags[lo], p, len);
	return lo;
}

static bool seen_before(const struct sto_bytes *list, unsigned i)
{
	for (unsigned j = 0; j < i; j++)
		if (bytes_eq(&list[j], list[i].p, list[i].len))
			return true;
	return false;
}

int sto_user_tags_add(struct sto_user *u, const struct sto_bytes *tags, unsigned n)
{
	unsigned fresh = 0;
	bool found;
	for (unsigned i = 0; i < n; i++) {
		tag_pos(u->tags, u->tag_count, tags[i].p, tags[i].len, &found);
		if (!found && !seen_before(tags, i))
			fresh++;
	}
	if (!fresh)
		return 0;
	if (u->tag_count + fresh > HRL_TAGS_PER_USER_MAX)
		return -ENOSPC;
	for (unsigned i = 0; i < n; i++) {
		unsigned pos = tag_pos(u->tags, u->tag_count, tags[i].p, tags[i].len, &found);
		if (found)
			continue; /* present, or added earlier in this request */
		ALWAYS(tags[i].len <= HRL_TAG_BYTES_MAX);
		memmove(&u->tags[pos + 1], &u->tags[pos], (u->tag_count - pos) * sizeof(*u->tags));
		u->tags[pos] = tags[i];
		u->tag_count++;
	}
	return (int)fresh;
}

int sto_user_tags_del(struct sto_user *u, const struct sto_bytes *tags, unsigned n)
{
	int removed = 0;
	bool found;
	for (unsigned i = 0; i < n; i++) {
		unsigned pos = tag_pos(u->tags, u->tag_count, tags[i].p, tags[i].len, &found);
		if (!found)
			continue;
		memmove(&u->tags[pos], &u->tags[pos + 1], (u->tag_count - pos - 1u) * sizeof(*u->tags));
		u->tag_count--;
		removed++;
	}
	return removed;
}

/* ---- attributes ------------------------------------------------------------- */

static unsigned attr_pos(const struct sto_attr *a, unsigned n, const char *p, size_t len, bool *found)
{
	unsigned lo = 0, hi = n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (bytes_cmp(a[mid].key.p, a[mid].key.len, p, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < n && bytes_eq(&a[lo].key, p, len);
	return lo;
}

int sto_user_attrs_set(struct sto_user *u, const struct sto_bytes *keys,
		       const struct sto_bytes *values, unsigned n)
{
	/* Work on a copy of the array so a refusal changes nothing. */
	struct sto_attr na[HRL_ATTRS_PER_USER_MAX];
	unsigned count = u->attr_count;
	bool found;
	memcpy(na, u->attrs, count * sizeof(*na));
	for (unsigned i = 0; i < n; i++) {
		unsigned pos = attr_pos(na, count, keys[i].p, keys[i].len, &found);
		if (values[i].len == 0) {
			if (found) {
				memmove(&na[pos], &na[pos + 1], (count - pos - 1) * sizeof(*na));
				count--;
			}
			continue;
		}
		ALWAYS(keys[i].len <= HRL_ATTR_KEY_BYTES_MAX && values[i].len <= HRL_ATTR_VALUE_BYTES_MAX);
		if (found) {
			na[pos].value = values[i];
			continue;
		}
		if (count >= HRL_ATTRS_PER_USER_MAX)
			return -ENOSPC;
		memmove(&na[pos + 1], &na[pos], (count - pos) * sizeof(*na));
		na[pos].key = keys[i];
		na[pos].value = values[i];
		count++;
	}
	memcpy(u->attrs, na, count * sizeof(*na));
	u->attr_count = (uint16_t)count;
	return 0;
}

bool sto_user_check(const struct sto_user *u)
{
	for (unsigned i = 0; i < u->device_count; i++) {
		const struct sto_device *d = &u->devices[i];
		if (d->id == 0 || d->id >= u->next_device_id || (i && u->devices[i - 1].id >= d->id)) {
			fprintf(stderr, "user check: device order\n");
			return false;
		}
		for (unsigned a = 0; a < d->alias_count; a++)
			for (unsigned b = a + 1; b < d->alias_count; b++)
				if (bytes_eq(&d->aliases[a].type, d->aliases[b].type.p, d->aliases[b].type.len)) {
					fprintf(stderr, "user check: alias type twice\n");
					return false;
				}
	}
	for (unsigned i = 1; i < u->tag_count; i++)
		if (bytes_cmp(u->tags[i - 1].p, u->tags[i - 1].len, u->tags[i].p, u->tags[i].len) >= 0) {
			fprintf(stderr, "user check: tag order\n");
			return false;
		}
	for (unsigned i = 0; i < u->attr_count; i++) {
		if (u->attrs[i].value.len == 0 ||
		    (i && bytes_cmp(u->attrs[i - 1].key.p, u->attrs[i - 1].key.len, u->attrs[i].key.p,
				    u->attrs[i].key.len) >= 0)) {
			fprintf(stderr, "user check: attr order\n");
			return false;
		}
	}
	return true;
}
