/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alias_index.h - one core's part of the index alias -> devices.
 *
 * The index entry for (app, alias_type, alias) lives on the core that owns
 * hash(app, alias_type '\0' alias)'s partition, which is in general not the
 * core of the users whose devices carry the alias. The user's core changes
 * the device and then the request travels to the index core(s) to add and
 * remove references before the client is answered (net/ops_user.c).
 */
#ifndef STORE_ALIAS_INDEX_H
#define STORE_ALIAS_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"
#include "base/htab.h"
#include "store/users.h"

/* Bytes the index owns (its own copies, freed with the entry). */
struct sto_alias_bytes {
	char *p;
	uint16_t len;
};

struct sto_alias_ref {
	struct sto_alias_bytes user;
	uint32_t device_id;
};

struct sto_alias_entry {
	uint64_t hash;
	uint16_t app_idx;
	struct sto_alias_bytes type;
	struct sto_alias_bytes alias;
	uint32_t ref_count;
	uint32_t ref_cap;
	struct sto_alias_ref *refs;
};

struct sto_alias_index {
	struct base_htab tab;
	uint64_t refs;
};

uint64_t sto_alias_hash(const struct base_hash_key *k, uint16_t app_idx, const char *type,
			size_t tlen, const char *alias, size_t alen);

/* Add a reference (no-op if present). 0 or -ENOMEM. */
int sto_alias_add(struct sto_alias_index *x, uint64_t hash, uint16_t app_idx, const char *type,
		  size_t tlen, const char *alias, size_t alen, const char *user, size_t ulen,
		  uint32_t device_id);
/* Remove a reference (no-op if absent). */
void sto_alias_del(struct sto_alias_index *x, uint64_t hash, uint16_t app_idx, const char *type,
		   size_t tlen, const char *alias, size_t alen, const char *user, size_t ulen,
		   uint32_t device_id);
/* The entry, or NULL. Valid until the next change. */
const struct sto_alias_entry *sto_alias_find(const struct sto_alias_index *x, uint64_t hash,
					     uint16_t app_idx, const char *type, size_t tlen,
					     const char *alias, size_t alen);
void sto_alias_index_free(struct sto_alias_index *x);

#endif
