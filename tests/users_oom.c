/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Out of memory at every allocation a user change makes: changes edit a
 * view and allocate nothing; committing the view allocates the new packed
 * block and perhaps an index slot. With the k-th of those failing, the
 * commit reports -ENOMEM and the table holds exactly what it held before
 * (same rendering, invariants hold, same count). Run under ASan, nothing
 * leaks.
 */
#include "store/log.h"
#include "store/users.h"
#include "tests/testlib.h"

#define ID "u"

static struct sto_users t;
static struct base_hash_key key = { 1, 2 };

/* A canonical rendering of the table's user, to compare before and after. */
static void render(struct base_buf *b)
{
	char line[256];
	b->off = b->len = 0;
	const struct sto_user *u = sto_user_find(&t, sto_user_hash(&key, 0, ID, 1), 0, ID, 1);
	int n = snprintf(line, sizeof(line), "count %llu;", (unsigned long long)t.count);
	CHECK(base_buf_append(b, line, (size_t)n) == 0);
	if (!u)
		return;
	CHECK(sto_user_check(u));
	n = snprintf(line, sizeof(line), "loc %llu next %u;", (unsigned long long)u->loc, u->next_device_id);
	CHECK(base_buf_append(b, line, (size_t)n) == 0);
	for (unsigned i = 0; i < u->device_count; i++) {
		const struct sto_device *d = &u->devices[i];
		n = snprintf(line, sizeof(line), "dev %u %u %u %.*s;", d->id, d->channel, d->platform,
			     d->address.len, d->address.p);
		CHECK(base_buf_append(b, line, (size_t)n) == 0);
		for (unsigned a = 0; a < d->alias_count; a++) {
			n = snprintf(line, sizeof(line), "alias %.*s=%.*s;", d->aliases[a].type.len, d->aliases[a].type.p,
				     d->aliases[a].alias.len, d->aliases[a].alias.p);
			CHECK(base_buf_append(b, line, (size_t)n) == 0);
		}
	}
	for (unsigned i = 0; i < u->tag_count; i++) {
		n = snprintf(line, sizeof(line), "tag %.*s;", u->tags[i].len, u->tags[i].p);
		CHECK(base_buf_append(b, line, (size_t)n) == 0);
	}
	for (unsigned i = 0; i < u->attr_count; i++) {
		n = snprintf(line, sizeof(line), "attr %.*s=%.*s;", u->attrs[i].key.len, u->attrs[i].key.p,
			     u->attrs[i].value.len, u->attrs[i].value.p);
		CHECK(base_buf_append(b, line, (size_t)n) == 0);
	}
}

static struct sto_bytes B(const char *s)
{
	return (struct sto_bytes){ s, (uint16_t)strlen(s) };
}

/*
 * Apply the change to a fresh view of the user and commit it, with the k-th
 * allocation failing, for k = 1, 2, ... until the commit succeeds.
 */
#define EXHAUST(change_expr)                                                          \
	do {                                                                          \
		for (long k = 1;; k++) {                                              \
			render(&before);                                              \
			u = sto_user_get(&t, sto_user_hash(&key, 0, ID, 1), 0, 0, ID, 1); \
			CHECK(u && (change_expr) >= 0);                               \
			sto_users_fail_alloc_after(k);                                \
			int rc_ = sto_user_commit(&t, u);                             \
			sto_users_fail_alloc_after(0);                                \
			if (rc_ == 0)                                                 \
				break;                                                \
			CHECK(rc_ == -ENOMEM);                                        \
			render(&after);                                               \
			CHECK(before.len == after.len && memcmp(before.data, after.data, before.len) == 0); \
			CHECK(k < 100);                                               \
		}                                                                     \
		CHECK(sto_user_check(u));                                             \
	} while (0)

int main(void)
{
	struct base_buf before = { 0 }, after = { 0 };
	struct sto_user *u;
	uint32_t dev;
	bool created;
	char old[HRL_ALIAS_BYTES_MAX];
	size_t old_len;

	/* creating the user (a block and its first index slot) */
	EXHAUST(sto_user_bind(u, 1, 3, 1, "tokA", 4, 1, &dev, &created));
	CHECK(t.count == 1);
	sto_user_set_loc(&t, u, STO_LOC(3, 4096));
	EXHAUST(sto_user_bind(u, 2, 0, 0, "+8613800000000", 14, 2, &dev, &created));
	EXHAUST(sto_user_bind(u, 1, 3, 2, "tokA", 4, 3, &dev, &created)); /* same address: platform */
	EXHAUST(sto_user_alias_set(u, 1, "uid", 3, "42", 2, old, &old_len));
	EXHAUST(sto_user_alias_set(u, 1, "uid", 3, "43", 2, old, &old_len));
	EXHAUST(sto_user_alias_set(u, 1, "phone", 5, "p", 1, old, &old_len));
	struct sto_bytes tags[] = { B("vip"), B("city:sh"), B("a"), B("vip") };
	EXHAUST(sto_user_tags_add(u, tags, 4));
	struct sto_bytes more[] = { B("zz"), B("b") };
	EXHAUST(sto_user_tags_add(u, more, 2));
	struct sto_bytes keys[] = { B("tz"), B("locale"), B("level") };
	struct sto_bytes vals[] = { B("UTC"), B("en"), B("gold") };
	EXHAUST(sto_user_attrs_set(u, keys, vals, 3));
	struct sto_bytes keys2[] = { B("level"), B("tz"), B("new") };
	struct sto_bytes vals2[] = { B(""), B("Asia/Shanghai"), B("x") };
	EXHAUST(sto_user_attrs_set(u, keys2, vals2, 3));
	EXHAUST(sto_user_unbind(u, 2));
	render(&after);
	CHECK(memmem(after.data, after.len, "loc 12884905984 next 3;", 23) != NULL); /* STO_LOC(3, 4096) kept */
	CHECK(memmem(after.data, after.len, "dev 1 1 2 tokA;", 15) != NULL);
	CHECK(memmem(after.data, after.len, "+86138", 6) == NULL);
	CHECK(memmem(after.data, after.len, "attr tz=Asia/Shanghai;", 22) != NULL);
	CHECK(memmem(after.data, after.len, "gold", 4) == NULL);
	CHECK(memmem(after.data, after.len, "alias uid=43;", 13) != NULL);
	CHECK(memmem(after.data, after.len, "tag a;tag b;tag city:sh;tag vip;tag zz;", 39) != NULL);
	sto_users_free(&t);
	base_buf_free(&before);
	base_buf_free(&after);
	return 0;
}
