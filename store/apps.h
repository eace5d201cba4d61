/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apps.h - the table of apps (tenants), one replica per core.
 *
 * Core 0 owns the directory: it assigns an app its index and secret. Every
 * change is then applied to each core's replica, one core after the other,
 * before the client is answered, so that AUTH on any core sees it. An app's
 * index is stable for the life of the engine and is what user records
 * carry instead of the app id string.
 */
#ifndef STORE_APPS_H
#define STORE_APPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "include/bounds.h"

struct sto_app {
	char id[HRL_APP_ID_BYTES_MAX + 1]; /* NUL-terminated */
	uint8_t id_len;
	bool used;
	uint32_t secret_version;
	uint64_t created_unix_ms;
	uint8_t secret[HRL_SECRET_BYTES];
};

struct sto_apps {
	uint32_t count;
	struct sto_app apps[HRL_APPS_MAX];
};

/* Index of the app with this id, or -1. */
int sto_apps_find(const struct sto_apps *t, const char *id, size_t len);
/* Apply a record at its index (create or replace). */
void sto_apps_put(struct sto_apps *t, uint32_t idx, const struct sto_app *a);
/* First free index, or -ENOSPC. */
int sto_apps_free_index(const struct sto_apps *t);

#endif
