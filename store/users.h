/* SPDX-License-Identifier: Apache-2.0 */
/*
 * users.h - one core's users: devices (bindings), aliases, tags, attributes.
 *
 * A user is identified by (app index, user id). hash(app, user id) picks
 * the user's partition, and the partition's owner core holds the user;
 * nothing here is ever touched by another core.
 *
 * Two forms of a user:
 *
 *  - packed, in the table: one block of the core's arena (store/arena.h)
 *    holding the user's bytes back to back (layout in users.c), found
 *    through a hash index of 8-byte slots (base/htab32.h). About 40 bytes
 *    beyond its id and addresses for a user with one binding, plus 13 for
 *    its index slot: a malloc'd struct with a pointer per string and array
 *    cost 170 (docs/BENCHMARKS.md, "Store: restart time and memory per
 *    binding").
 *
 *  - a view (struct sto_user), decoded on demand: fixed arrays whose
 *    strings point into the packed block, into a record payload
 *    (record.h), or into bytes a change was given. Reading, checking and
 *    changing a user all work on a view; a change becomes the table's
 *    state only when the view is committed.
 *
 * Changes (bind, alias, tags, attributes) edit a view and never allocate;
 * they check everything before they change anything, so a refused change
 * (-ENOSPC, -ENOENT) leaves the view as it was. They keep pointers to the
 * bytes they are given: those must stay valid until the view is committed
 * or dropped. sto_user_commit allocates the new packed block first and
 * only then swaps it in: on -ENOMEM the table is exactly as before. A view
 * that is never committed changes nothing (dropping it is forgetting it).
 *
 * Invariants (sto_user_check): devices sorted by id, ids < next_device_id,
 * at most one alias per type per device, tags sorted bytewise and unique,
 * attrs sorted by key and unique, no attr with an empty value; a user in
 * the table holds at least one device, tag or attribute.
 */
#ifndef STORE_USERS_H
#define STORE_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"
#include "base/htab32.h"
#include "include/bounds.h"
#include "store/arena.h"

struct sto_bytes {
	const char *p;
	uint16_t len;
};

struct sto_alias {
	struct sto_bytes type;
	struct sto_bytes alias;
};

struct sto_device {
	uint32_t id;
	uint8_t channel;
	uint8_t vendor;
	uint8_t platform;
	uint8_t state;
	uint8_t alias_count;
	uint64_t bound_unix_ms;
	struct sto_bytes address;
	struct sto_alias aliases[HRL_ALIASES_PER_DEVICE_MAX];
};

struct sto_attr {
	struct sto_bytes key;
	struct sto_bytes value;
};

/* A view of one user (see above). */
struct sto_user {
	uint64_t hash;           /* of (app, id): set by find and get; 0 from sto_users_view */
	uint64_t loc;            /* where its latest record is (store/log.h), 0: not logged */
	uint32_t ref;            /* its packed block, 0: not in the table */
	uint16_t app_idx;
	uint16_t partition;
	uint32_t next_device_id;
	struct sto_bytes id;
	uint16_t device_count;
	uint16_t tag_count;
	uint16_t attr_count;
	struct sto_device devices[HRL_DEVICES_PER_USER_MAX];
	struct sto_bytes tags[HRL_TAGS_PER_USER_MAX];
	struct sto_attr attrs[HRL_ATTRS_PER_USER_MAX];
};

struct sto_users {
	struct base_htab32 index; /* low 32 bits of the user hash -> packed block */
	struct sto_arena arena;
	uint64_t count;
	struct sto_user view;     /* what find, get and view return */
};

/* Hash of (app, user id): the same on every core and across restarts. */
uint64_t sto_user_hash(const struct base_hash_key *k, uint16_t app_idx, const char *id, size_t len);

/*
 * The user, decoded into the table's view, or NULL. The view is valid until
 * the next call on this table that returns the view or changes the table.
 */
struct sto_user *sto_user_find(struct sto_users *t, uint64_t hash, uint16_t app_idx,
			       const char *id, size_t len);
/* The user, or a view of a new empty user (not in the table until committed). Never NULL. */
struct sto_user *sto_user_get(struct sto_users *t, uint64_t hash, uint16_t app_idx,
			      uint16_t partition, const char *id, size_t len);
/* Decode the user whose block is ref into the table's view (valid as for find). */
struct sto_user *sto_users_view(struct sto_users *t, uint32_t ref);

/*
 * Make the table hold what the view says, keyed by its (hash, app, id):
 * replaces the user with that key, inserts a new one, or removes it if the
 * view holds nothing. 0 or -ENOMEM (the table unchanged). Afterwards the
 * view reads the new packed block (u->ref; 0 if removed).
 */
int sto_user_commit(struct sto_users *t, struct sto_user *u);
/*
 * The same, for replay (start-up recovery, undo): the view is not decoded
 * again, so its strings may point to freed bytes afterwards; only u->ref
 * is meaningful.
 */
int sto_user_put(struct sto_users *t, struct sto_user *u);
/* A hint before a find or put of this hash (replay): start loading its index slot. */
void sto_users_prefetch(const struct sto_users *t, uint64_t hash);
/* Record where the user's latest record is (the view and its packed block). */
void sto_user_set_loc(struct sto_users *t, struct sto_user *u, uint64_t loc);
/* Remove the user (app, id) if it is there. true if it was. */
bool sto_user_delete(struct sto_users *t, uint64_t hash, uint16_t app_idx, const char *id, size_t len);
/* True if the user holds nothing. */
bool sto_user_empty(const struct sto_user *u);

/*
 * Iterate in index order, without decoding:
 *   for (size_t i = 0; sto_users_next(t, &i, &ref, &loc);)
 * A change to the table may move entries: a walk across changes can see
 * one twice or miss one (compaction repeats its pass until it finds nothing).
 */
bool sto_users_next(const struct sto_users *t, size_t *pos, uint32_t *ref, uint64_t *loc);
/*
 * Walk the users that have at least one alias, in memory order (fast on
 * millions of users), decoding each into the view:
 *   for (uint32_t r = 0; (u = sto_users_next_aliased(t, &r));)
 * No change to the table during the walk.
 */
struct sto_user *sto_users_next_aliased(struct sto_users *t, uint32_t *ref);

void sto_users_free(struct sto_users *t);
/* Bytes the table holds from the allocator (arena chunks and index). */
size_t sto_users_bytes(const struct sto_users *t);

/*
 * Bind an address. *device_id gets the device, *created whether it is new.
 * 0 or -ENOSPC (device limit).
 */
int sto_user_bind(struct sto_user *u, uint8_t channel, uint8_t vendor, uint8_t platform,
		  const char *addr, size_t len, uint64_t now_unix_ms, uint32_t *device_id,
		  bool *created);
struct sto_device *sto_user_device(struct sto_user *u, uint32_t device_id);
/* Remove a device (the caller has taken what it needs of its aliases). 0 or -ENOENT. */
int sto_user_unbind(struct sto_user *u, uint32_t device_id);

/*
 * Set the device's alias of this type. If one existed, its alias bytes are
 * copied to old (up to HRL_ALIAS_BYTES_MAX) and *old_len set, else *old_len = 0.
 * 0, -ENOENT (no device) or -ENOSPC (alias types per device).
 */
int sto_user_alias_set(struct sto_user *u, uint32_t device_id, const char *type, size_t tlen,
		       const char *alias, size_t alen, char *old, size_t *old_len);
/* Remove; copies the removed alias out as above. 0 or -ENOENT. */
int sto_user_alias_del(struct sto_user *u, uint32_t device_id, const char *type, size_t tlen,
		       char *old, size_t *old_len);

/* Tags: all checked before any change. Returns the number changed, or -ENOSPC. */
int sto_user_tags_add(struct sto_user *u, const struct sto_bytes *tags, unsigned n);
int sto_user_tags_del(struct sto_user *u, const struct sto_bytes *tags, unsigned n);

/* Attributes: empty value deletes. Checked whole first. 0 or -ENOSPC. */
int sto_user_attrs_set(struct sto_user *u, const struct sto_bytes *keys,
		       const struct sto_bytes *values, unsigned n);

/* Check every invariant; false (and a message on stderr) if one is broken. */
bool sto_user_check(const struct sto_user *u);

/* Test hook: the n-th next allocation by this table code fails (1 = next). */
void sto_users_fail_alloc_after(long n);

#endif
