/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record.h - payloads of the store's records (see log.h for the header).
 *
 * All little-endian; str = u16 length + bytes.
 *
 * STO_REC_USER_PUT, the whole user:
 *   u16 app_idx, str user_id, u16 partition, u32 next_device_id,
 *   u16 device_count, device_count x {
 *     u32 id, u8 channel, u8 vendor, u8 platform, u8 state,
 *     u64 bound_unix_ms (at most HRL_UNIX_MS_MAX),
 *     str address, u8 alias_count, alias_count x { str type, str alias } },
 *   u16 tag_count, tag_count x str,
 *   u16 attr_count, attr_count x { str key, str value }
 * STO_REC_USER_DEL:
 *   u16 app_idx, str user_id
 * STO_REC_APP_PUT:
 *   u16 app_idx, str app_id, raw[32] secret, u32 secret_version, u64 created_unix_ms
 */
#ifndef STORE_RECORD_H
#define STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "store/apps.h"
#include "store/users.h"

size_t sto_user_put_bytes(const struct sto_user *u);
void sto_user_put_encode(const struct sto_user *u, uint8_t *p);
size_t sto_user_del_bytes(const struct sto_user *u);
void sto_user_del_encode(const struct sto_user *u, uint8_t *p);

/* The key of a USER_PUT or USER_DEL payload. 0 or -EBADMSG. */
int sto_user_key_decode(const uint8_t *p, size_t n, uint16_t *app_idx, const char **id, uint16_t *id_len);
/*
 * Decode a USER_PUT payload into a view whose strings point into the payload
 * (valid while it is); hash, loc and ref are left 0. 0 or -EBADMSG.
 */
int sto_user_put_decode(const uint8_t *p, size_t n, struct sto_user *u);

size_t sto_app_put_bytes(const struct sto_app *a);
void sto_app_put_encode(uint16_t idx, const struct sto_app *a, uint8_t *p);
int sto_app_put_decode(const uint8_t *p, size_t n, uint16_t *idx, struct sto_app *a);

#endif
