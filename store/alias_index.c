/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alias_index.c - see alias_index.h.
 */
#include "store/alias_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint64_t sto_alias_hash(const struct base_hash_key *k, uint16_t app_idx, const char *type,
			size_t tlen, const char *alias, size_t alen)
{
	uint8_t buf[2 + HRL_ALIAS_TYPE_BYTES_MAX + 1];
	buf[0] = (uint8_t)app_idx;
	buf[1] = (uint8_t)(app_idx >> 8);
	if (tlen > HRL_ALIAS_TYPE_BYTES_MAX)
		tlen = HRL_ALIAS_TYPE_BYTES_MAX;
	memcpy(buf + 2, type, tlen);
	buf[2 + tlen] = 0;
	return base_hash64_pair(k, buf, 3 + tlen, alias, alen);
}

struct alias_key {
	uint16_t app_idx;
	const char *type, *alias;
	size_t tlen, alen;
};

static bool same(const struct sto_alias_bytes *b, const char *p, size_t len)
{
	return b->len == len && memcmp(b->p, p, len) == 0;
}

static bool alias_match(const void *entry, const void *key)
{
	const struct sto_alias_entry *e = entry;
	const struct alias_key *k = key;
	return e->app_idx == k->app_idx && same(&e->type, k->type, k->tlen) &&
	       same(&e->alias, k->alias, k->alen);
}

const struct sto_alias_entry *sto_alias_find(const struct sto_alias_index *x, uint64_t hash,
					     uint16_t app_idx, const char *type, size_t tlen,
					     const char *alias, size_t alen)
{
	struct alias_key k = { app_idx, type, alias, tlen, alen };
	return base_htab_find(&x->tab, hash, alias_match, &k);
}

static char *dup_bytes(const char *p, size_t n)
{
	char *d = malloc(n ? n : 1);
	if (d && n)
		memcpy(d, p, n);
	return d;
}

static void entry_free(struct sto_alias_entry *e)
{
	for (uint32_t i = 0; i < e->ref_count; i++)
		free(e->refs[i].user.p);
	free(e->refs);
	free(e->type.p);
	free(e->alias.p);
	free(e);
}

int sto_alias_add(struct sto_alias_index *x, uint64_t hash, uint16_t app_idx, const char *type,
		  size_t tlen, const char *alias, size_t alen, const char *user, size_t ulen,
		  uint32_t device_id)
{
	struct sto_alias_entry *e =
		(struct sto_alias_entry *)sto_alias_find(x, hash, app_idx, type, tlen, alias, alen);
	bool fresh = false;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->hash = hash;
		e->app_idx = app_idx;
		e->type.p = dup_bytes(type, tlen);
		e->type.len = (uint16_t)tlen;
		e->alias.p = dup_bytes(alias, alen);
		e->alias.len = (uint16_t)alen;
		if (!e->type.p || !e->alias.p || base_htab_insert(&x->tab, hash, e)) {
			entry_free(e);
			return -ENOMEM;
		}
		fresh = true;
	}
	for (uint32_t i = 0; i < e->ref_count; i++)
		if (e->refs[i].device_id == device_id && same(&e->refs[i].user, user, ulen))
			return 0;
	if (e->ref_count == e->ref_cap) {
		uint32_t cap = e->ref_cap ? e->ref_cap * 2 : 2;
		struct sto_alias_ref *r = realloc(e->refs, cap * sizeof(*r));
		if (!r)
			goto out_nomem;
		e->refs = r;
		e->ref_cap = cap;
	}
	char *u = dup_bytes(user, ulen);
	if (!u)
		goto out_nomem;
	e->refs[e->ref_count].user.p = u;
	e->refs[e->ref_count].user.len = (uint16_t)ulen;
	e->refs[e->ref_count].device_id = device_id;
	e->ref_count++;
	x->refs++;
	return 0;

out_nomem:
	if (fresh) {
		base_htab_remove(&x->tab, hash, e);
		entry_free(e);
	}
	return -ENOMEM;
}

void sto_alias_del(struct sto_alias_index *x, uint64_t hash, uint16_t app_idx, const char *type,
		   size_t tlen, const char *alias, size_t alen, const char *user, size_t ulen,
		   uint32_t device_id)
{
	struct sto_alias_entry *e =
		(struct sto_alias_entry *)sto_alias_find(x, hash, app_idx, type, tlen, alias, alen);
	if (!e)
		return;
	for (uint32_t i = 0; i < e->ref_count; i++) {
		if (e->refs[i].device_id != device_id || !same(&e->refs[i].user, user, ulen))
			continue;
		free(e->refs[i].user.p);
		e->refs[i] = e->refs[--e->ref_count];
		x->refs--;
		break;
	}
	if (e->ref_count == 0) {
		base_htab_remove(&x->tab, hash, e);
		entry_free(e);
	}
}

void sto_alias_index_free(struct sto_alias_index *x)
{
	void *p;
	for (size_t i = 0; base_htab_next(&x->tab, &i, &p);)
		entry_free(p);
	base_htab_free(&x->tab);
	x->refs = 0;
}
