/* SPDX-License-Identifier: Apache-2.0 */
/*
 * campaign.h - what a campaign is: its definition as the client sent it
 * (CAMPAIGN_CREATE's body, docs/PROTOCOL.md 5.10), checked and compiled
 * once per core, and an app's vendor settings (VENDOR_SET, 5.11).
 *
 * The definition is kept as the bytes of the request body: that is what
 * the store logs (STO_REC_CAMPAIGN) and what every core decodes again, so
 * there is exactly one encoding. fan_spec_decode checks it whole and
 * points into it; fan_campaign_compile parses the tag expression and the
 * templates (fanout/tagexpr.h, fanout/template.h).
 */
#ifndef FANOUT_CAMPAIGN_H
#define FANOUT_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/tagexpr.h"
#include "fanout/template.h"
#include "fanout/vendor_fmt.h"
#include "store/users.h"

#define FAN_CHANNELS_MAX        4u     /* channels of one campaign */
#define FAN_LIST_USERS_MAX      1000u  /* an explicit list in CAMPAIGN_CREATE */
#define FAN_BODY_BYTES_MAX      4096u  /* template texts */
#define FAN_CATEGORY_BYTES_MAX  64u
#define FAN_CAMPAIGNS_MAX       4096u  /* campaigns a core holds; finished ones are forgotten after 10 min when room is needed */
#define FAN_WHY_BYTES_MAX       160u

enum fan_audience {
	FAN_AUD_USER = 1,
	FAN_AUD_LIST = 2,
	FAN_AUD_TAG  = 3,
	FAN_AUD_ALL  = 4,
	FAN_AUD_UPLOAD = 5,
};

/* What an uploaded row's first field is. */
enum fan_upload_kind {
	FAN_UP_USER_ID = 1,
	FAN_UP_PHONE   = 2, /* an SMS number: no user needed */
};
#define FAN_COLUMNS_MAX        16u     /* columns of an uploaded row after the first */
#define FAN_ROW_BYTES_MAX      1024u   /* one uploaded row */
#define FAN_UPLOAD_BYTES_MAX   (448u << 10) /* rows in one CAMPAIGN_UPLOAD: a core's share fits one record */

enum fan_lane {
	FAN_LANE_BULK          = 0,
	FAN_LANE_TRANSACTIONAL = 1,
};

enum fan_state {
	FAN_RUNNING   = 1,
	FAN_PAUSED    = 2,
	FAN_CANCELLED = 3,
	FAN_DONE      = 4,
};

enum fan_action {
	FAN_ACT_PAUSE  = 1,
	FAN_ACT_RESUME = 2,
	FAN_ACT_CANCEL = 3,
};

/* Where an address goes (VENDOR_SET's target). */
enum fan_target {
	FAN_T_NONE    = 0,
	FAN_T_HUAWEI  = 1,
	FAN_T_XIAOMI  = 2,
	FAN_T_OPPO    = 3,
	FAN_T_VIVO    = 4,
	FAN_T_SMS     = 5,
	FAN_T_WEBHOOK = 6,
};
#define FAN_TARGET_COUNT 7u

/* CAMPAIGN_CREATE's body, decoded: every pointer is into the body. */
struct fan_spec {
	uint8_t audience;
	uint8_t lane;
	uint8_t channel_count;
	uint8_t channels[FAN_CHANNELS_MAX];
	struct sto_bytes title;
	struct sto_bytes body;
	struct sto_bytes category;
	struct sto_bytes user;      /* FAN_AUD_USER */
	struct sto_bytes expr;      /* FAN_AUD_TAG */
	uint16_t list_count;        /* FAN_AUD_LIST: list_count x str from list */
	const uint8_t *list;
	size_t list_bytes;
	uint8_t upload_kind;        /* FAN_AUD_UPLOAD */
	struct sto_bytes columns;   /* "a,b,c": names of the fields after the first */
	uint8_t column_count;
	struct sto_bytes column[FAN_COLUMNS_MAX];
};

/*
 * Check the body whole and fill *s. 0, or -EINVAL with why (a message for
 * the client, NUL-terminated) saying which field; the tag expression and
 * the templates are compiled here too, so a campaign that decodes runs.
 */
int fan_spec_decode(const uint8_t *p, size_t n, struct fan_spec *s, char why[FAN_WHY_BYTES_MAX]);

/*
 * Check one uploaded row (text without its newline) of a campaign of this
 * spec and split it: fields[0] the user id or number, then the columns.
 * NULL if good, else why (a static message).
 */
const char *fan_row_split(const struct fan_spec *s, const char *row, size_t len, struct sto_bytes *fields,
			  unsigned *nfields);

/* The list audience's user i (i < list_count): walk with *pos from 0. */
struct sto_bytes fan_spec_list_next(const struct fan_spec *s, size_t *pos);

/* What a core keeps compiled of a definition. */
struct fan_compiled {
	struct fan_spec spec;       /* points into def */
	char var_names[1 + FAN_COLUMNS_MAX][FAN_TEMPLATE_NAME_BYTES_MAX + 8]; /* user_id, row.<column>... */
	const char *var_ptr[1 + FAN_COLUMNS_MAX];
	uint8_t *def;               /* owned copy of the body */
	uint32_t def_len;
	struct fan_tagexpr *expr;   /* FAN_AUD_TAG */
	struct fan_template *title; /* NULL: empty title */
	struct fan_template *body;
	bool personal;              /* a template reads per-user values: one render per address */
};

/* 0, -EINVAL (why says) or -ENOMEM. */
int fan_compile(const uint8_t *def, size_t len, struct fan_compiled *c, char why[FAN_WHY_BYTES_MAX]);
void fan_compiled_free(struct fan_compiled *c);

/* The target an address goes to: push by its vendor, sms, webhook; FAN_T_NONE if Herald has no adapter. */
enum fan_target fan_target_of(uint8_t channel, uint8_t vendor);
const char *fan_target_name(unsigned t);

/* ---- vendor settings (VENDOR_SET) -------------------------------------------------------- */

#define FAN_URL_BYTES_MAX   255u
#define FAN_CRED_BYTES_MAX  255u
#define FAN_CONNS_DEFAULT   4u
#define FAN_CONNS_MAX       64u

struct fan_vendor {
	bool used;
	uint8_t target;
	uint16_t batch_max;   /* 1..FAN_BATCH_TOKENS_MAX */
	uint16_t connections; /* per core */
	uint32_t rate_per_s;  /* whole app, all cores; 0: unlimited */
	uint32_t daily_quota;
	uint32_t version;     /* bumped by each VENDOR_SET: pools reconnect */
	uint64_t loc;         /* core 0: its latest STO_REC_VENDOR */
	char url[FAN_URL_BYTES_MAX + 1];
	char app_id[FAN_CRED_BYTES_MAX + 1];
	char secret[FAN_CRED_BYTES_MAX + 1];
	char secret2[FAN_CRED_BYTES_MAX + 1];
	char package[FAN_CRED_BYTES_MAX + 1];
	char sign_name[FAN_CRED_BYTES_MAX + 1];
	char template_code[FAN_CRED_BYTES_MAX + 1];
	char host[FAN_URL_BYTES_MAX + 1]; /* Host header, from url */
	char path[FAN_URL_BYTES_MAX + 1]; /* webhook path, from url ("/" if none) */
};

/* VENDOR_SET's body (after nothing: app_idx comes from the connection). 0 or -EINVAL with why. */
int fan_vendor_decode(const uint8_t *p, size_t n, struct fan_vendor *v, char why[FAN_WHY_BYTES_MAX]);
/* VENDOR_SET's body again (the store logs it after the app index). */
size_t fan_vendor_bytes(const struct fan_vendor *v);
void fan_vendor_encode(const struct fan_vendor *v, uint8_t *p);

#endif
