/* SPDX-License-Identifier: Apache-2.0 */
/*
 * users.h - one core's users: devices (bindings), aliases, tags, attributes.
 *
 * A user is identified by (app index, user id). hash(app, user id) picks
 * the user's partition, and the partition's owner core holds the record;
 * nothing here is ever touched by another core. Kept in memory at this
 * stage; the store issue makes every change durable.
 *
 * Invariants (checked by sto_user_check in tests):
 *   devices sorted by id, ids < next_device_id, at most one alias per type
 *   per device, tags sorted bytewise and unique, attrs sorted by key and
 *   unique, no attr with an empty value.
 */
#ifndef STORE_USERS_H
#define STORE_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"
#include "base/htab.h"
#include "include/bounds.h"

struct sto_bytes {
	char *p;
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
	struct sto_alias *aliases; /* alias_count of them, NULL when none */
};

struct sto_attr {
	struct sto_bytes key;
	struct sto_bytes value;
};

struct sto_user {
	uint64_t hash;
	uint64_t loc;            /* where its latest record is (store/log.h), 0: not logged */
	uint16_t app_idx;
	uint16_t partition;
	uint32_t next_device_id;
	struct sto_bytes id;
	uint16_t device_count;
	uint16_t tag_count;
	uint16_t attr_count;
	struct sto_device *devices;
	struct sto_bytes *tags;
	struct sto_attr *attrs;
};

struct sto_users {
	struct base_htab tab;
	uint64_t count;
};

/* Hash of (app, user id): the same on every core and across restarts. */
uint64_t sto_user_hash(const struct base_hash_key *k, uint16_t app_idx, const char *id, size_t len);

/* The user, or NULL. Valid until the next change to this table. */
struct sto_user *sto_user_find(struct sto_users *t, uint64_t hash, uint16_t app_idx,
			       const char *id, size_t len);
/* Find or create. NULL on out-of-memory. */
struct sto_user *sto_user_get(struct sto_users *t, uint64_t hash, uint16_t app_idx,
			      uint16_t partition, const char *id, size_t len);
/* Remove the user if it holds nothing (no devices, tags or attributes). */
void sto_user_drop_if_empty(struct sto_users *t, struct sto_user *u);
/* True if the user holds nothing. */
bool sto_user_empty(const struct sto_user *u);
/* Put a decoded user in the table, replacing (and freeing) one with the same key. 0 or -ENOMEM. */
int sto_user_replace(struct sto_users *t, struct sto_user *u);
/* Remove and free a user. */
void sto_user_remove(struct sto_users *t, struct sto_user *u);
/* Free a user that is in no table (NULL is fine). */
void sto_user_free(struct sto_user *u);
void sto_users_free(struct sto_users *t);

/*
 * Bind an address. *device_id gets the device, *created whether it is new.
 * 0, -ENOSPC (device limit) or -ENOMEM.
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
 * 0, -ENOENT (no device), -ENOSPC (alias types per device), -ENOMEM.
 */
int sto_user_alias_set(struct sto_user *u, uint32_t device_id, const char *type, size_t tlen,
		       const char *alias, size_t alen, char *old, size_t *old_len);
/* Remove; copies the removed alias out as above. 0 or -ENOENT. */
int sto_user_alias_del(struct sto_user *u, uint32_t device_id, const char *type, size_t tlen,
		       char *old, size_t *old_len);

/* Tags: all checked before any change. Returns the number changed, or -ENOSPC / -ENOMEM. */
int sto_user_tags_add(struct sto_user *u, const struct sto_bytes *tags, unsigned n);
int sto_user_tags_del(struct sto_user *u, const struct sto_bytes *tags, unsigned n);

/* Attributes: empty value deletes. Checked whole first. 0, -ENOSPC or -ENOMEM. */
int sto_user_attrs_set(struct sto_user *u, const struct sto_bytes *keys,
		       const struct sto_bytes *values, unsigned n);

/* Check every invariant; false (and a message on stderr) if one is broken. */
bool sto_user_check(const struct sto_user *u);

/* Test hook: the n-th next allocation in this file fails (1 = next). */
void sto_users_fail_alloc_after(long n);

#endif
