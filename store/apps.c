/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apps.c - see apps.h. At most HRL_APPS_MAX apps: a linear scan on AUTH and
 * APP_* requests, which are rare next to user operations.
 */
#include "store/apps.h"

#include <errno.h>
#include <string.h>

#include "base/assert.h"

int sto_apps_find(const struct sto_apps *t, const char *id, size_t len)
{
	for (unsigned i = 0; i < HRL_APPS_MAX; i++) {
		const struct sto_app *a = &t->apps[i];
		if (a->used && a->id_len == len && memcmp(a->id, id, len) == 0)
			return (int)i;
	}
	return -1;
}

void sto_apps_put(struct sto_apps *t, uint32_t idx, const struct sto_app *a)
{
	ALWAYS(idx < HRL_APPS_MAX && a->used && a->id_len <= HRL_APP_ID_BYTES_MAX);
	if (!t->apps[idx].used)
		t->count++;
	t->apps[idx] = *a;
}

int sto_apps_free_index(const struct sto_apps *t)
{
	for (unsigned i = 0; i < HRL_APPS_MAX; i++)
		if (!t->apps[i].used)
			return (int)i;
	return -ENOSPC;
}
