/* SPDX-License-Identifier: Apache-2.0 */
/*
 * users.c - see users.h. Every change is checked whole first and allocates
 * everything it needs before it modifies the record, so an out-of-memory
 * failure leaves the user exactly as it was.
 */
#include "store/users.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"

static __thread long users_fail_countdown;

void sto_users_fail_alloc_after(long n)
{
	users_fail_countdown = n;
}

static bool fail_now(void)
{
	return users_fail_countdown > 0 && --users_fail_countdown == 0;
}

static void *u_malloc(size_t n)
{
	return fail_now() ? NULL : malloc(n);
}

static void *u_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : realloc(p, n);
}

static int bytes_dup(struct sto_bytes *b, const char *p, size_t len)
{
	b->p = u_malloc(len ? len : 1);
	if (!b->p)
		return -ENOMEM;
	if (len)
		memcpy(b->p, p, len);
	b->len = (uint16_t)len;
	return 0;
}

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
	return b->len == len && memcmp(b->p, p, len) == 0;
}

uint64_t sto_user_hash(const struct base_hash_key *k, uint16_t app_idx, const char *id, size_t len)
{
	uint8_t app[2] = { (uint8_t)app_idx, (uint8_t)(app_idx >> 8) };
	return base_hash64_pair(k, app, sizeof(app), id, len);
}

struct user_key {
	uint16_t app_idx;
	const char *id;
	size_t len;
};

static bool user_match(const void *entry, const void *key)
{
	const struct sto_user *u = entry;
	const struct user_key *k = key;
	return u->app_idx == k->app_idx && bytes_eq(&u->id, k->id, k->len);
}

struct sto_user *sto_user_find(struct sto_users *t, uint64_t hash, uint16_t app_idx,
			       const char *id, size_t len)
{
	struct user_key k = { app_idx, id, len };
	return base_htab_find(&t->tab, hash, user_match, &k);
}

struct sto_user *sto_user_get(struct sto_users *t, uint64_t hash, uint16_t app_idx,
			      uint16_t partition, const char *id, size_t len)
{
	struct sto_user *u = sto_user_find(t, hash, app_idx, id, len);
	if (u)
		return u;
	u = u_malloc(sizeof(*u));
	if (!u)
		return NULL;
	memset(u, 0, sizeof(*u));
	u->hash = hash;
	u->app_idx = app_idx;
	u->partition = partition;
	u->next_device_id = 1;
	if (bytes_dup(&u->id, id, len))
		goto out_free_user;
	if (fail_now() || base_htab_insert(&t->tab, hash, u))
		goto out_free_id;
	t->count++;
	return u;

out_free_id:
	free(u->id.p);
out_free_user:
	free(u);
	return NULL;
}

static void device_free(struct sto_device *d)
{
	free(d->address.p);
	for (unsigned i = 0; i < d->alias_count; i++) {
		free(d->aliases[i].type.p);
		free(d->aliases[i].alias.p);
	}
	free(d->aliases);
}

void sto_user_free(struct sto_user *u)
{
	if (!u)
		return;
	for (unsigned i = 0; i < u->device_count; i++)
		device_free(&u->devices[i]);
	free(u->devices);
	for (unsigned i = 0; i < u->tag_count; i++)
		free(u->tags[i].p);
	free(u->tags);
	for (unsigned i = 0; i < u->attr_count; i++) {
		free(u->attrs[i].key.p);
		free(u->attrs[i].value.p);
	}
	free(u->attrs);
	free(u->id.p);
	free(u);
}

bool sto_user_empty(const struct sto_user *u)
{
	return !u->device_count && !u->tag_count && !u->attr_count;
}

void sto_user_remove(struct sto_users *t, struct sto_user *u)
{
	ALWAYS(base_htab_remove(&t->tab, u->hash, u));
	t->count--;
	sto_user_free(u);
}

void sto_user_drop_if_empty(struct sto_users *t, struct sto_user *u)
{
	if (sto_user_empty(u))
		sto_user_remove(t, u);
}

int sto_user_replace(struct sto_users *t, struct sto_user *u)
{
	struct sto_user *old = sto_user_find(t, u->hash, u->app_idx, u->id.p, u->id.len);
	if (old)
		sto_user_remove(t, old);
	if (base_htab_insert(&t->tab, u->hash, u))
		return -ENOMEM;
	t->count++;
	return 0;
}

void sto_users_free(struct sto_users *t)
{
	void *p;
	for (size_t i = 0; base_htab_next(&t->tab, &i, &p);)
		sto_user_free(p);
	base_htab_free(&t->tab);
	t->count = 0;
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
	struct sto_bytes a;
	if (bytes_dup(&a, addr, len))
		return -ENOMEM;
	struct sto_device *devs = u_realloc(u->devices, (u->device_count + 1u) * sizeof(*devs));
	if (!devs) {
		free(a.p);
		return -ENOMEM;
	}
	u->devices = devs;
	struct sto_device *d = &devs[u->device_count++];
	memset(d, 0, sizeof(*d));
	d->id = u->next_device_id++;
	d->channel = channel;
	d->vendor = vendor;
	d->platform = platform;
	d->bound_unix_ms = now_unix_ms;
	d->address = a;
	*device_id = d->id;
	*created = true;
	return 0;
}

int sto_user_unbind(struct sto_user *u, uint32_t device_id)
{
	struct sto_device *d = sto_user_device(u, device_id);
	if (!d)
		return -ENOENT;
	device_free(d);
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
	int i = alias_index(d, type, tlen);
	struct sto_bytes na;
	if (i < 0 && d->alias_count >= HRL_ALIASES_PER_DEVICE_MAX)
		return -ENOSPC;
	if (bytes_dup(&na, alias, alen))
		return -ENOMEM;
	if (i >= 0) {
		copy_out(&d->aliases[i].alias, old, old_len);
		free(d->aliases[i].alias.p);
		d->aliases[i].alias = na;
		return 0;
	}
	struct sto_bytes nt;
	struct sto_alias *grown = u_realloc(d->aliases, (d->alias_count + 1u) * sizeof(*grown));
	if (!grown) {
		free(na.p);
		return -ENOMEM;
	}
	d->aliases = grown;
	if (bytes_dup(&nt, type, tlen)) {
		free(na.p);
		return -ENOMEM;
	}
	d->aliases[d->alias_count].type = nt;
	d->aliases[d->alias_count].alias = na;
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
	free(d->aliases[i].type.p);
	free(d->aliases[i].alias.p);
	d->aliases[i] = d->aliases[d->alias_count - 1];
	if (--d->alias_count == 0) {
		free(d->aliases);
		d->aliases = NULL;
	}
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
	struct sto_bytes *nt = u_malloc((u->tag_count + fresh) * sizeof(*nt));
	struct sto_bytes copies[HRL_TAGS_PER_REQUEST_MAX];
	unsigned ncopies = 0;
	if (!nt)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		tag_pos(u->tags, u->tag_count, tags[i].p, tags[i].len, &found);
		if (found || seen_before(tags, i))
			continue;
		if (bytes_dup(&copies[ncopies], tags[i].p, tags[i].len)) {
			while (ncopies)
				free(copies[--ncopies].p);
			free(nt);
			return -ENOMEM;
		}
		ncopies++;
	}
	/* merge: nothing below can fail */
	if (u->tag_count)
		memcpy(nt, u->tags, u->tag_count * sizeof(*nt));
	unsigned count = u->tag_count;
	for (unsigned i = 0; i < ncopies; i++) {
		unsigned pos = tag_pos(nt, count, copies[i].p, copies[i].len, &found);
		memmove(&nt[pos + 1], &nt[pos], (count - pos) * sizeof(*nt));
		nt[pos] = copies[i];
		count++;
	}
	free(u->tags);
	u->tags = nt;
	u->tag_count = (uint16_t)count;
	return (int)ncopies;
}

int sto_user_tags_del(struct sto_user *u, const struct sto_bytes *tags, unsigned n)
{
	int removed = 0;
	bool found;
	for (unsigned i = 0; i < n; i++) {
		unsigned pos = tag_pos(u->tags, u->tag_count, tags[i].p, tags[i].len, &found);
		if (!found)
			continue;
		free(u->tags[pos].p);
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
	/* Work on a copy of the array so a failure changes nothing. */
	unsigned cap = u->attr_count + n;
	struct sto_attr *na = u_malloc((cap ? cap : 1) * sizeof(*na));
	struct sto_bytes fresh[HRL_ATTRS_PER_REQUEST_MAX * 2];
	struct sto_bytes dropped[HRL_ATTRS_PER_USER_MAX + HRL_ATTRS_PER_REQUEST_MAX];
	unsigned nfresh = 0, ndropped = 0;
	bool found;
	if (!na)
		return -ENOMEM;
	if (u->attr_count)
		memcpy(na, u->attrs, u->attr_count * sizeof(*na));
	unsigned count = u->attr_count;
	for (unsigned i = 0; i < n; i++) {
		unsigned pos = attr_pos(na, count, keys[i].p, keys[i].len, &found);
		if (values[i].len == 0) {
			if (found) {
				dropped[ndropped++] = na[pos].key;
				dropped[ndropped++] = na[pos].value;
				memmove(&na[pos], &na[pos + 1], (count - pos - 1) * sizeof(*na));
				count--;
			}
			continue;
		}
		struct sto_bytes v;
		if (bytes_dup(&v, values[i].p, values[i].len))
			goto out_nomem;
		fresh[nfresh++] = v;
		if (found) {
			dropped[ndropped++] = na[pos].value;
			na[pos].value = v;
			continue;
		}
		if (count >= HRL_ATTRS_PER_USER_MAX) {
			while (nfresh)
				free(fresh[--nfresh].p);
			free(na);
			return -ENOSPC;
		}
		struct sto_bytes k;
		if (bytes_dup(&k, keys[i].p, keys[i].len))
			goto out_nomem;
		fresh[nfresh++] = k;
		memmove(&na[pos + 1], &na[pos], (count - pos) * sizeof(*na));
		na[pos].key = k;
		na[pos].value = v;
		count++;
	}
	/* commit: free what was replaced or deleted, but never a fresh copy */
	for (unsigned i = 0; i < ndropped; i++)
		free(dropped[i].p);
	free(u->attrs);
	u->attrs = na;
	u->attr_count = (uint16_t)count;
	return 0;

out_nomem:
	while (nfresh)
		free(fresh[--nfresh].p);
	free(na);
	return -ENOMEM;
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
