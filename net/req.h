/* SPDX-License-Identifier: Apache-2.0 */
/*
 * req.h - decode and check request bodies, one function per opcode family.
 *
 * Decoding is separate from execution so that it can be fuzzed on its own
 * (fuzz/fuzz_wire.c) and so that the engine checks a request whole before it
 * changes anything. Decoded strings point into the body: they live as long
 * as the body does. Field rules are those of docs/PROTOCOL.md section 5.2.
 * Any thread may call these.
 */
#ifndef NET_REQ_H
#define NET_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "include/bounds.h"
#include "include/herald_proto.h"

struct net_str {
	const char *p;
	uint16_t len;
};

struct net_req_hello {
	uint8_t version_min;
	uint8_t version_max;
	struct net_str client_name;
};

struct net_req_auth {
	struct net_str app_id;
	const uint8_t *mac; /* HRL_MAC_BYTES */
};

struct net_req_app {
	struct net_str app_id;
};

struct net_req_bind {
	struct net_str user;
	uint8_t channel;
	uint8_t vendor;
	uint8_t platform;
	struct net_str address;
};

struct net_req_device {
	struct net_str user;
	uint32_t device_id;
	struct net_str alias_type; /* ALIAS_SET, ALIAS_DEL */
	struct net_str alias;      /* ALIAS_SET */
};

struct net_req_alias_lookup {
	struct net_str alias_type;
	struct net_str alias;
};

struct net_req_tags {
	struct net_str user;
	uint16_t count;
	struct net_str tags[HRL_TAGS_PER_REQUEST_MAX];
};

struct net_req_attrs {
	struct net_str user;
	uint16_t count;
	struct net_str keys[HRL_ATTRS_PER_REQUEST_MAX];
	struct net_str values[HRL_ATTRS_PER_REQUEST_MAX];
};

struct net_req_user {
	struct net_str user;
};

struct net_req_receipt {
	struct net_str user;
	uint64_t message_id;
	uint64_t campaign_id;
	uint8_t channel;
	uint8_t vendor;
	uint8_t state;
	uint64_t event_unix_ms;  /* 0: now; the handler checks it against the clock */
	struct net_str reason;
};

struct net_req_history {
	struct net_str user;
	const uint8_t *cursor;   /* HRL_CURSOR_BYTES */
	uint16_t limit;
};

struct net_req_campaign {
	uint64_t campaign_id;
};

union net_req {
	struct net_req_receipt receipt;
	struct net_req_history history;
	struct net_req_campaign campaign;
	struct net_req_hello hello;
	struct net_req_auth auth;
	struct net_req_app app;
	struct net_req_bind bind;
	struct net_req_device device;
	struct net_req_alias_lookup lookup;
	struct net_req_tags tags;
	struct net_req_attrs attrs;
	struct net_req_user user;
};

/*
 * Decode the body of a request with this opcode into *out and check every
 * field rule. Returns 0, or a negative HRL error code (-HRL_E_BAD_BODY,
 * -HRL_E_INVALID_ARGUMENT, -HRL_E_LIMIT_EXCEEDED, -HRL_E_UNKNOWN_OPCODE)
 * with *why set to a static message for people.
 * Opcodes with an empty or opaque body (PING, STATS, APP_LIST) decode to
 * nothing; PING accepts any body, the others require an empty one.
 */
int net_req_decode(uint16_t opcode, const uint8_t *body, size_t len, union net_req *out,
		   const char **why);

/* Field rules, usable on their own. */
bool net_valid_utf8(const char *p, size_t len, bool allow_control);
bool net_valid_app_id(const char *p, size_t len);
bool net_valid_user_id(const char *p, size_t len);
bool net_valid_tag(const char *p, size_t len);
bool net_valid_alias_type(const char *p, size_t len);
bool net_valid_alias(const char *p, size_t len);
bool net_valid_attr_key(const char *p, size_t len);
bool net_valid_locale(const char *p, size_t len);
/* Name syntax, then existence in the zone database (/usr/share/zoneinfo). */
bool net_valid_tz(const char *p, size_t len);
/* Channel, vendor, platform and address together; *why on failure. */
bool net_valid_binding(uint8_t channel, uint8_t vendor, uint8_t platform, const char *addr,
		       size_t len, const char **why);

#endif
