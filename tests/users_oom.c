/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Out of memory inside every user operation, at every allocation it makes:
 * the operation reports -ENOMEM and the user is exactly as before (same
 * rendering, invariants hold). Run under ASan, nothing leaks.
 */
#include "store/users.h"
#include "tests/testlib.h"

/* A canonical rendering of a user, to compare before and after. */
static void render(const struct sto_user *u, struct base_buf *b)
{
	char line[256];
	b->off = b->len = 0;
	for (unsigned i = 0; i < u->device_count; i++) {
		const struct sto_device *d = &u->devices[i];
		int n = snprintf(line, sizeof(line), "dev %u %u %.*s;", d->id, d->channel, d->address.len, d->address.p);
		CHECK(base_buf_append(b, line, (size_t)n) == 0);
		for (unsigned a = 0; a < d->alias_count; a++) {
			n = snprintf(line, sizeof(line), "alias %.*s=%.*s;", d->aliases[a].type.len, d->aliases[a].type.p,
				     d->aliases[a].alias.len, d->aliases[a].alias.p);
			CHECK(base_buf_append(b, line, (size_t)n) == 0);
		}
	}
	for (unsigned i = 0; i < u->tag_count; i++) {
		int n = snprintf(line, sizeof(line), "tag %.*s;", u->tags[i].len, u->tags[i].p);
		CHECK(base_buf_append(b, line, (size_t)n) == 0);
	}
	for (unsigned i = 0; i < u->attr_count; i++) {
		int n = snprintf(line, sizeof(line), "attr %.*s=%.*s;", u->attrs[i].key.len, u->attrs[i].key.p,
				 u->attrs[i].value.len, u->attrs[i].value.p);
		CHECK(base_buf_append(b, line, (size_t)n) == 0);
	}
}

static struct sto_bytes B(const char *s)
{
	return (struct sto_bytes){ (char *)s, (uint16_t)strlen(s) };
}

/* Run op with the k-th allocation failing for k = 1, 2, ... until it succeeds. */
#define EXHAUST(op_expr)                                                              \
	do {                                                                          \
		for (long k = 1;; k++) {                                              \
			render(u, &before);                                           \
			sto_users_fail_alloc_after(k);                                \
			int rc_ = (op_expr);                                          \
			sto_users_fail_alloc_after(0);                                \
			if (rc_ >= 0)                                                 \
				break;                                                \
			CHECK(rc_ == -ENOMEM);                                        \
			render(u, &after);                                            \
			CHECK(before.len == after.len && (!before.len || memcmp(before.data, after.data, before.len) == 0)); \
			CHECK(sto_user_check(u));                                     \
			CHECK(k < 100);                                               \
		}                                                                     \
		CHECK(sto_user_check(u));                                             \
	} while (0)

int main(void)
{
	struct sto_users t = { 0 };
	struct base_hash_key key = { 1, 2 };
	struct base_buf before = { 0 }, after = { 0 };
	uint32_t dev;
	bool created;
	char old[HRL_ALIAS_BYTES_MAX];
	size_t old_len;

	/* creating the user itself */
	for (long k = 1; k < 10; k++) {
		sto_users_fail_alloc_after(k);
		struct sto_user *x = sto_user_get(&t, sto_user_hash(&key, 0, "u", 1), 0, 0, "u", 1);
		sto_users_fail_alloc_after(0);
		if (x)
			break;
		CHECK(t.count == 0);
	}
	struct sto_user *u = sto_user_find(&t, sto_user_hash(&key, 0, "u", 1), 0, "u", 1);
	CHECK(u && t.count == 1);

	EXHAUST(sto_user_bind(u, 1, 3, 1, "tokA", 4, 1, &dev, &created));
	EXHAUST(sto_user_bind(u, 2, 0, 0, "+8613800000000", 14, 2, &dev, &created));
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
	render(u, &after);
	CHECK(memmem(after.data, after.len, "attr tz=Asia/Shanghai;", 22) != NULL);
	CHECK(memmem(after.data, after.len, "gold", 4) == NULL);
	CHECK(memmem(after.data, after.len, "alias uid=43;", 13) != NULL);
	CHECK(u->tag_count == 5);
	sto_users_free(&t);
	base_buf_free(&before);
	base_buf_free(&after);
	return 0;
}
