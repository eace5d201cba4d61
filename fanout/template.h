/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template.h - message templates: compiled once per campaign, rendered once
 * per recipient without allocation or hashing.
 *
 * Grammar (bytes; the text must be valid UTF-8):
 *
 *   template    = *( literal / placeholder / escape )
 *   placeholder = "{{" name [ "|" default ] "}}"
 *   name        = key / "row." column / builtin
 *   key         = 1*64 ( A-Z / a-z / 0-9 / "_" / "-" / "." )   ; a user attribute
 *   column      = 1*64 ( A-Z / a-z / 0-9 / "_" / "-" / "." )   ; a column of the uploaded row
 *   builtin     = "user_id"
 *   default     = *( any byte up to the first "}}"; no "{{" )
 *   escape      = "{{{{"                                       ; a literal "{{"
 *
 * - Scanning goes left to right. "{{{{" is always a literal "{{". Any other
 *   "{{" opens a placeholder, except that in a run of three braces the first
 *   is a literal "{" ("{{{x}}}" is "{", the value of x, "}").
 * - A placeholder ends at the first "}}"; a "}" or "}}" outside a placeholder
 *   is literal text, so only "{{" ever needs escaping.
 * - No white space inside a name: "{{ name }}" is an error (bad character).
 * - Names that start "row." read the uploaded row, so an attribute whose key
 *   starts "row." cannot be reached; a builtin name wins over an attribute
 *   with the same key.
 * - The default is used when the value is missing or empty. A placeholder
 *   without a default renders nothing for a missing value.
 *
 * Rendering escapes the whole result (literals, values and defaults) for the
 * body it goes into: FAN_ESCAPE_NONE copies, FAN_ESCAPE_JSON writes the inside
 * of a JSON string (RFC 8259: '"', '\' and U+0000-U+001F escaped, every
 * other byte, UTF-8 included, copied), FAN_ESCAPE_FORM writes
 * application/x-www-form-urlencoded (A-Z a-z 0-9 * - . _ kept, space as '+',
 * every other byte as %XX). Literals and defaults are escaped for every mode
 * at compile time; only values are escaped per recipient.
 *
 * Variants: a fan_template_set holds one template per (channel, locale), either
 * of which may be "any". fan_template_set_pick tries, in order:
 *   1. (channel, locale), then (channel, locale cut at each "-" from the
 *      right: zh-Hant-TW, zh-Hant, zh)
 *   2. (channel, any locale)
 *   3. (any channel, locale), cut the same way
 *   4. (any channel, any locale): the default.
 * Locales compare without regard to ASCII case (BCP 47).
 *
 * Threads: a compiled template and a filled set are read-only and may be
 * rendered from any core at once; compile, free and set_add belong to the
 * core that owns the campaign.
 */
#ifndef FANOUT_TEMPLATE_H
#define FANOUT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits (to move to include/bounds.h). */
#define FAN_TEMPLATE_BYTES_MAX         (64u << 10)  /* template source text */
#define FAN_TEMPLATE_PLACEHOLDERS_MAX  256u         /* "{{...}}" per template */
#define FAN_TEMPLATE_NAME_BYTES_MAX    64u          /* an attribute key or a row column */
#define FAN_TEMPLATE_SLOTS_MAX         1024u        /* known variables, and slots per template */
#define FAN_TEMPLATE_VARIANTS_MAX      64u          /* templates in one set */
#define FAN_TEMPLATE_LOCALE_BYTES_MAX  35u          /* BCP 47 tag of a variant */
#define FAN_TEMPLATE_ERROR_BYTES_MAX   128u         /* error message text */

#define FAN_TEMPLATE_CHANNEL_ANY       0u           /* channels are enum hrl_channel, 1-5 */

enum fan_escape {
	FAN_ESCAPE_NONE = 0,
	FAN_ESCAPE_JSON = 1,
	FAN_ESCAPE_FORM = 2,
};
#define FAN_ESCAPE_COUNT 3

enum fan_template_var_kind {
	FAN_TEMPLATE_VAR_ATTR    = 1, /* user attribute: key */
	FAN_TEMPLATE_VAR_ROW     = 2, /* column of the uploaded row: key is the column */
	FAN_TEMPLATE_VAR_BUILTIN = 3, /* key is the builtin's name */
};

/*
 * The variables a campaign can fill. Slot i is name[i] (full names as in
 * the template: "first_name", "row.order_id", "user_id"). A name outside
 * the list is an error, except an attribute key when any_attr is true: it
 * gets a slot after count, in order of first use in the template.
 */
struct fan_template_vars {
	const char *const *name;
	uint32_t count;
	bool any_attr;
};

/* One variable the template uses, as fan_template_var lists it. */
struct fan_template_var {
	uint16_t slot;
	uint8_t kind;     /* enum fan_template_var_kind */
	uint8_t key_len;
	const char *key;  /* not NUL-terminated; valid as long as the template */
};

/* A value per slot, filled by the caller per recipient. ptr NULL or len 0: missing. */
struct fan_template_value {
	const char *ptr;
	uint32_t len;
};

struct fan_template_values {
	const struct fan_template_value *value; /* [count], indexed by slot */
	uint32_t count;                        /* slots at or after count are missing */
};

struct fan_template_error {
	uint32_t pos;                          /* byte offset in the template text */
	char msg[FAN_TEMPLATE_ERROR_BYTES_MAX]; /* NUL-terminated */
};

struct fan_template;

/*
 * Compile text[0..len). known NULL accepts every well-formed name and gives
 * slots in order of first use. Returns 0 and *out (free with
 * fan_template_free), or fills *err (if not NULL) and returns -EINVAL (syntax,
 * invalid UTF-8), -ENOENT (a variable not in known), -E2BIG (over
 * FAN_TEMPLATE_BYTES_MAX bytes or FAN_TEMPLATE_PLACEHOLDERS_MAX placeholders,
 * or known->count over FAN_TEMPLATE_SLOTS_MAX - FAN_TEMPLATE_PLACEHOLDERS_MAX)
 * or -ENOMEM. err->pos is where the problem starts: the "{{" of an
 * unterminated or surplus placeholder, the offending byte, the first byte
 * of an unknown name, FAN_TEMPLATE_BYTES_MAX for a text too long.
 */
int fan_template_compile(const char *text, size_t len, const struct fan_template_vars *known,
			struct fan_template **out, struct fan_template_error *err);

void fan_template_free(struct fan_template *t);

/* Test hook: the n-th allocation from now (1 = the next) that compile makes fails. */
void fan_template_fail_alloc_after(long n);

/* Size the values array must have: every slot the template reads is below it. */
uint32_t fan_template_slot_count(const struct fan_template *t);

/* Distinct variables the template reads, in order of first use; i < var_count. */
uint32_t fan_template_var_count(const struct fan_template *t);
const struct fan_template_var *fan_template_var(const struct fan_template *t, uint32_t i);

/*
 * Render t with v (NULL: every value missing), escaped for mode, into out[0..cap). Returns the length of
 * the whole result (no NUL is written). When that is more than cap, out
 * holds its first cap bytes (an escape may be cut) and the caller must not
 * send it. Any core; no allocation.
 */
size_t fan_template_render(const struct fan_template *t, const struct fan_template_values *v,
			  enum fan_escape mode, char *out, size_t cap);

struct fan_template_variant {
	const struct fan_template *t;
	uint8_t channel;                           /* FAN_TEMPLATE_CHANNEL_ANY or 1-5 */
	uint8_t locale_len;                        /* 0: any locale */
	char locale[FAN_TEMPLATE_LOCALE_BYTES_MAX]; /* lower case */
};

struct fan_template_set {
	uint32_t count;
	struct fan_template_variant variant[FAN_TEMPLATE_VARIANTS_MAX];
};

/*
 * Add t (not owned: the caller frees it after the set) for channel and
 * locale (locale_len 0: any locale). Returns 0, -EINVAL (a channel over 255
 * or a locale that is not "2-3 letters, then '-' parts of 2-8 letters or
 * digits" within FAN_TEMPLATE_LOCALE_BYTES_MAX), -EEXIST (that key is taken)
 * or -ENOSPC (FAN_TEMPLATE_VARIANTS_MAX reached).
 */
int fan_template_set_add(struct fan_template_set *s, unsigned channel, const char *locale,
			size_t locale_len, const struct fan_template *t);

/*
 * The variant for a recipient on channel with locale[0..locale_len) (any
 * bytes; 0 length for a user without one), by the order at the top of this
 * file; NULL when none applies. Any core; no allocation.
 */
const struct fan_template *fan_template_set_pick(const struct fan_template_set *s, unsigned channel,
					       const char *locale, size_t locale_len);

#endif
