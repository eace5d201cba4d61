/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template.c - compile a message template into pieces, render it per
 * recipient. Grammar, escaping and variant order: template.h.
 *
 * A compiled template is one allocation:
 *
 *   struct fan_template
 *   struct fan_template_var var[nvars]
 *   struct fan_piece   piece[FAN_ESCAPE_COUNT][n + 1]   n = placeholders
 *   char              bytes[FAN_ESCAPE_COUNT][...]     literals and defaults, escaped per mode
 *   char              keys[...]                       variable keys
 *
 * Piece i is "literal i, then placeholder i" (the last piece, i = n, has
 * only its literal). Literals have their "{{{{" escapes undone and are
 * escaped for the mode, so rendering copies them as they are; only the
 * values are escaped per recipient.
 */
#include "fanout/template.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"

#define SLOT_NONE UINT32_MAX


struct fan_piece {
	uint32_t lit_off, lit_len; /* in bytes[mode] */
	uint32_t def_off, def_len; /* in bytes[mode] */
	uint32_t slot;             /* SLOT_NONE on the last piece */
};

struct fan_template {
	uint32_t placeholders;                         /* n */
	uint32_t nvars;
	uint32_t nslots;
	struct fan_piece *piece[FAN_ESCAPE_COUNT];
	const char *bytes[FAN_ESCAPE_COUNT];
	struct fan_template_var *var;
};

/* var[] follows the header, pieces follow var[]: each keeps its alignment */
_Static_assert(sizeof(struct fan_template) % _Alignof(struct fan_template_var) == 0, "var[] alignment");
_Static_assert(sizeof(struct fan_template_var) % _Alignof(struct fan_piece) == 0, "piece[] alignment");

/* Builtin names, resolved before attributes. */
static const char *const builtin_names[] = { "user_id" };

static long alloc_fail_countdown; /* test hook: fan_template_fail_alloc_after */

void fan_template_fail_alloc_after(long n)
{
	alloc_fail_countdown = n;
}

static bool alloc_fails(void)
{
	return alloc_fail_countdown > 0 && --alloc_fail_countdown == 0;
}

/* ---- escaping ------------------------------------------------------------ */

/*
 * Length of each byte once escaped, 0 for a byte copied as it is; a table
 * per mode (FAN_ESCAPE_NONE copies everything).
 */
static const uint8_t escape_len[FAN_ESCAPE_COUNT][256] = {
	[FAN_ESCAPE_JSON] = {
		[0x00 ... 0x07] = 6, ['\b'] = 2, ['\t'] = 2, ['\n'] = 2, [0x0b] = 6,
		['\f'] = 2, ['\r'] = 2, [0x0e ... 0x1f] = 6, ['"'] = 2, ['\\'] = 2,
	},
	[FAN_ESCAPE_FORM] = {
		[0x00 ... 0x1f] = 3, [' '] = 1, [0x21 ... 0x29] = 3, [0x2b ... 0x2c] = 3,
		[0x2f] = 3, [0x3a ... 0x40] = 3, [0x5b ... 0x5e] = 3, [0x60] = 3,
		[0x7b ... 0xff] = 3,
	},
};

static const size_t escape_growth_max[FAN_ESCAPE_COUNT] = { 1, 6, 3 };

static const char hex_upper[] = "0123456789ABCDEF";

/* Writes the escape of c (escape_len[mode][c] != 0) at e; returns its length. */
static size_t escape_byte(enum fan_escape mode, unsigned char c, char *e)
{
	size_t k = escape_len[mode][c];
	if (mode == FAN_ESCAPE_FORM) {
		if (k == 1) {
			e[0] = '+';
		} else {
			e[0] = '%';
			e[1] = hex_upper[c >> 4];
			e[2] = hex_upper[c & 15];
		}
		return k;
	}
	ALWAYS(mode == FAN_ESCAPE_JSON);
	e[0] = '\\';
	if (k == 6) {
		e[1] = 'u';
		e[2] = '0';
		e[3] = '0';
		e[4] = hex_upper[c >> 4];
		e[5] = hex_upper[c & 15];
	} else {
		e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == '\b' ? 'b' : c == '\f' ? 'f' : (char)c;
	}
	return k;
}

static size_t escaped_len(enum fan_escape mode, const char *s, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = escape_len[mode][(unsigned char)s[i]];
		total += k ? k : 1;
	}
	return total;
}

/* Writes the escaped s into dst, which has room for it; returns bytes written. */
static size_t escape_into(enum fan_escape mode, char *dst, const char *s, size_t n)
{
	const uint8_t *len_of = escape_len[mode];
	char *o = dst;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (__builtin_expect(len_of[c] == 0, 1))
			*o++ = (char)c;
		else
			o += escape_byte(mode, c, o);
	}
	return (size_t)(o - dst);
}

/* ---- compile ------------------------------------------------------------- */

static int fail(struct fan_template_error *err, int rc, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct fan_template_error *err, int rc, size_t pos, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->pos = (uint32_t)pos;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Offset of the first byte that is not valid UTF-8, or n. */
static size_t utf8_bad_at(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		uint32_t lo = 0x80, hi = 0xBF; /* range of the second byte */
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF) {
			k = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			k = 2;
			if (c == 0xE0)
				lo = 0xA0; /* overlong */
			if (c == 0xED)
				hi = 0x9F; /* surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3;
			if (c == 0xF0)
				lo = 0x90; /* overlong */
			if (c == 0xF4)
				hi = 0x8F; /* above U+10FFFF */
		} else {
			return i;
		}
		if (n - i <= k) /* cut short */
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t j = 2; j <= k; j++)
			if ((s[i + j] & 0xC0) != 0x80)
				return i;
		i += k + 1;
	}
	return n;
}

static inline bool name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-' || c == '.';
}

struct ph {
	uint32_t lit_begin, lit_end; /* the literal before it, in the decoded buffer */
	uint32_t def_off, def_len;   /* default text, in the source */
	uint32_t var;                /* index into vars */
};

struct cvar {
	uint32_t name_off, name_len; /* in the source */
	uint32_t key_off, key_len;   /* in the source */
	uint8_t kind;
	uint32_t slot;
};

static bool same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Kind and key of name[0..n), checked; 0 or an error. */
static int classify(const char *text, uint32_t off, uint32_t n, struct cvar *cv,
		    struct fan_template_error *err)
{
	const char *name = text + off;
	cv->name_off = off;
	cv->name_len = n;
	cv->kind = FAN_TEMPLATE_VAR_ATTR;
	cv->key_off = off;
	cv->key_len = n;
	if (n >= 4 && memcmp(name, "row.", 4) == 0) {
		cv->kind = FAN_TEMPLATE_VAR_ROW;
		cv->key_off = off + 4;
		cv->key_len = n - 4;
		if (cv->key_len == 0)
			return fail(err, -EINVAL, off + 4, "empty column name after 'row.'");
	} else {
		for (size_t b = 0; b < sizeof(builtin_names) / sizeof(builtin_names[0]); b++)
			if (same(name, n, builtin_names[b], strlen(builtin_names[b])))
				cv->kind = FAN_TEMPLATE_VAR_BUILTIN;
	}
	if (cv->key_len > FAN_TEMPLATE_NAME_BYTES_MAX)
		return fail(err, -EINVAL, cv->key_off + FAN_TEMPLATE_NAME_BYTES_MAX,
			    "name longer than %u bytes", FAN_TEMPLATE_NAME_BYTES_MAX);
	return 0;
}

/* The slot of cv given known; 0 or -ENOENT. extra counts attributes given slots past known. */
static int resolve(const char *text, struct cvar *cv, const struct fan_template_vars *known,
		   uint32_t *extra, uint32_t nvars, struct fan_template_error *err)
{
	const char *name = text + cv->name_off;
	if (!known) {
		cv->slot = nvars;
		return 0;
	}
	for (uint32_t i = 0; i < known->count; i++) {
		if (known->name[i] && same(name, cv->name_len, known->name[i], strlen(known->name[i]))) {
			cv->slot = i;
			return 0;
		}
	}
	if (cv->kind == FAN_TEMPLATE_VAR_ATTR && known->any_attr) {
		cv->slot = known->count + (*extra)++;
		return 0;
	}
	return fail(err, -ENOENT, cv->name_off, "unknown template variable '%.*s'", (int)cv->name_len,
		    name);
}

int fan_template_compile(const char *text, size_t len, const struct fan_template_vars *known,
			struct fan_template **out, struct fan_template_error *err)
{
	struct ph ph[FAN_TEMPLATE_PLACEHOLDERS_MAX + 1];
	struct cvar cvar[FAN_TEMPLATE_PLACEHOLDERS_MAX];
	uint32_t n = 0, nvars = 0, extra = 0;
	char *raw;
	size_t raw_len = 0, i = 0, bad;
	int rc;

	*out = NULL;
	if (len > FAN_TEMPLATE_BYTES_MAX)
		return fail(err, -E2BIG, FAN_TEMPLATE_BYTES_MAX, "template longer than %u bytes",
			    FAN_TEMPLATE_BYTES_MAX);
	if (known && known->count > FAN_TEMPLATE_SLOTS_MAX - FAN_TEMPLATE_PLACEHOLDERS_MAX)
		return fail(err, -E2BIG, 0, "more than %u known variables",
			    FAN_TEMPLATE_SLOTS_MAX - FAN_TEMPLATE_PLACEHOLDERS_MAX);
	bad = utf8_bad_at((const unsigned char *)text, len);
	if (bad < len)
		return fail(err, -EINVAL, bad, "invalid UTF-8");

	raw = alloc_fails() ? NULL : malloc(len + 1); /* literals, escapes undone: never longer */
	if (!raw)
		return fail(err, -ENOMEM, 0, "out of memory");

	ph[0].lit_begin = 0;
	while (i < len) {
		if (text[i] != '{' || i + 1 >= len || text[i + 1] != '{') {
			raw[raw_len++] = text[i++];
			continue;
		}
		if (i + 3 < len && text[i + 2] == '{' && text[i + 3] == '{') { /* "{{{{" */
			raw[raw_len++] = '{';
			raw[raw_len++] = '{';
			i += 4;
			continue;
		}
		if (i + 2 < len && text[i + 2] == '{') { /* "{{{": a literal '{' first */
			raw[raw_len++] = text[i++];
			continue;
		}
		/* a placeholder at i */
		size_t open = i, name = i + 2, j = name;
		if (n == FAN_TEMPLATE_PLACEHOLDERS_MAX) {
			rc = fail(err, -E2BIG, open, "more than %u placeholders",
				  FAN_TEMPLATE_PLACEHOLDERS_MAX);
			goto out_free_raw;
		}
		while (j < len && name_char((unsigned char)text[j]))
			j++;
		if (j >= len) {
			rc = fail(err, -EINVAL, open, "unterminated placeholder");
			goto out_free_raw;
		}
		bool closes = text[j] == '}' && j + 1 < len && text[j + 1] == '}';
		if (!closes && text[j] != '|') {
			if (text[j] == '}') /* one '}' only */
				rc = fail(err, -EINVAL, open, "unterminated placeholder");
			else
				rc = fail(err, -EINVAL, j, "bad character in variable name");
			goto out_free_raw;
		}
		if (j == name) {
			rc = fail(err, -EINVAL, name, "empty variable name");
			goto out_free_raw;
		}
		struct ph *p = &ph[n];
		p->lit_end = (uint32_t)raw_len;
		p->def_off = 0;
		p->def_len = 0;
		struct cvar cv;
		rc = classify(text, (uint32_t)name, (uint32_t)(j - name), &cv, err);
		if (rc)
			goto out_free_raw;
		if (text[j] == '|') {
			size_t d = j + 1, k = d;
			while (k + 1 < len && !(text[k] == '}' && text[k + 1] == '}')) {
				if (text[k] == '{' && text[k + 1] == '{') {
					rc = fail(err, -EINVAL, k, "'{{' in a default (placeholders do not nest)");
					goto out_free_raw;
				}
				k++;
			}
			if (k + 1 >= len) {
				rc = fail(err, -EINVAL, open, "unterminated placeholder");
				goto out_free_raw;
			}
			p->def_off = (uint32_t)d;
			p->def_len = (uint32_t)(k - d);
			j = k;
		}
		i = j + 2;

		uint32_t v;
		for (v = 0; v < nvars; v++)
			if (same(text + cvar[v].name_off, cvar[v].name_len, text + cv.name_off, cv.name_len))
				break;
		if (v == nvars) {
			rc = resolve(text, &cv, known, &extra, nvars, err);
			if (rc)
				goto out_free_raw;
			cvar[nvars++] = cv;
		}
		p->var = v;
		n++;
		ph[n].lit_begin = (uint32_t)raw_len;
	}
	ph[n].lit_end = (uint32_t)raw_len;
	ph[n].def_off = ph[n].def_len = 0;

	/* sizes, then one allocation */
	size_t mode_bytes[FAN_ESCAPE_COUNT], keys_bytes = 0, total;
	for (int m = 0; m < FAN_ESCAPE_COUNT; m++) {
		mode_bytes[m] = escaped_len(m, raw, raw_len);
		for (uint32_t k = 0; k < n; k++)
			mode_bytes[m] += escaped_len(m, text + ph[k].def_off, ph[k].def_len);
	}
	for (uint32_t v = 0; v < nvars; v++)
		keys_bytes += cvar[v].key_len;
	total = sizeof(struct fan_template) + FAN_ESCAPE_COUNT * (n + 1) * sizeof(struct fan_piece) +
		nvars * sizeof(struct fan_template_var);
	for (int m = 0; m < FAN_ESCAPE_COUNT; m++)
		total += mode_bytes[m];
	total += keys_bytes;

	struct fan_template *t = alloc_fails() ? NULL : calloc(1, total);
	if (!t) {
		rc = fail(err, -ENOMEM, 0, "out of memory");
		goto out_free_raw;
	}
	char *cur = (char *)(t + 1);
	t->placeholders = n;
	t->nvars = nvars;
	t->var = (struct fan_template_var *)cur; /* first: it holds pointers */
	cur += nvars * sizeof(struct fan_template_var);
	for (int m = 0; m < FAN_ESCAPE_COUNT; m++) {
		t->piece[m] = (struct fan_piece *)cur;
		cur += (n + 1) * sizeof(struct fan_piece);
	}
	for (int m = 0; m < FAN_ESCAPE_COUNT; m++) {
		char *base = cur;
		size_t at = 0;
		t->bytes[m] = base;
		for (uint32_t k = 0; k <= n; k++) {
			struct fan_piece *pc = &t->piece[m][k];
			pc->lit_off = (uint32_t)at;
			pc->lit_len = (uint32_t)escape_into(m, base + at, raw + ph[k].lit_begin,
							    ph[k].lit_end - ph[k].lit_begin);
			at += pc->lit_len;
			pc->def_off = (uint32_t)at;
			pc->def_len = (uint32_t)escape_into(m, base + at, text + ph[k].def_off, ph[k].def_len);
			at += pc->def_len;
			pc->slot = k < n ? cvar[ph[k].var].slot : SLOT_NONE;
		}
		ALWAYS(at == mode_bytes[m]);
		cur += at;
	}
	t->nslots = known ? known->count + extra : nvars;
	for (uint32_t v = 0; v < nvars; v++) {
		ALWAYS(cvar[v].slot < t->nslots);
		memcpy(cur, text + cvar[v].key_off, cvar[v].key_len);
		t->var[v] = (struct fan_template_var){
			.slot = (uint16_t)cvar[v].slot,
			.kind = cvar[v].kind,
			.key_len = (uint8_t)cvar[v].key_len,
			.key = cur,
		};
		cur += cvar[v].key_len;
	}
	ALWAYS(cur == (char *)t + total);
	*out = t;
	rc = 0;
out_free_raw:
	free(raw);
	return rc;
}

void fan_template_free(struct fan_template *t)
{
	free(t);
}

uint32_t fan_template_slot_count(const struct fan_template *t)
{
	return t->nslots;
}

uint32_t fan_template_var_count(const struct fan_template *t)
{
	return t->nvars;
}

const struct fan_template_var *fan_template_var(const struct fan_template *t, uint32_t i)
{
	ALWAYS(i < t->nvars);
	return &t->var[i];
}

/* ---- render -------------------------------------------------------------- */

/* Copy what fits of s[0..n) at out+pos; returns pos + n. */
static inline size_t put(char *out, size_t cap, size_t pos, const char *s, size_t n)
{
	if (pos + n <= cap) {
		memcpy(out + pos, s, n);
	} else if (pos < cap) {
		memcpy(out + pos, s, cap - pos);
	}
	return pos + n;
}

static size_t put_escaped(enum fan_escape mode, char *out, size_t cap, size_t pos, const char *s,
			  size_t n)
{
	if (mode == FAN_ESCAPE_NONE)
		return put(out, cap, pos, s, n);
	if (pos <= cap && n <= (cap - pos) / escape_growth_max[mode])
		return pos + escape_into(mode, out + pos, s, n);
	for (size_t i = 0; i < n; i++) { /* near the end of out: byte by byte */
		char e[6];
		unsigned char c = (unsigned char)s[i];
		if (escape_len[mode][c])
			pos = put(out, cap, pos, e, escape_byte(mode, c, e));
		else
			pos = put(out, cap, pos, (const char *)&c, 1);
	}
	return pos;
}

size_t fan_template_render(const struct fan_template *t, const struct fan_template_values *v,
			  enum fan_escape mode, char *out, size_t cap)
{
	ALWAYS((unsigned)mode < FAN_ESCAPE_COUNT);
	const struct fan_piece *p = t->piece[mode];
	const char *b = t->bytes[mode];
	size_t pos = 0;
	for (uint32_t i = 0;; i++) {
		pos = put(out, cap, pos, b + p[i].lit_off, p[i].lit_len);
		if (i == t->placeholders)
			break;
		uint32_t slot = p[i].slot;
		const struct fan_template_value *val = v && slot < v->count ? &v->value[slot] : NULL;
		if (val && val->ptr && val->len)
			pos = put_escaped(mode, out, cap, pos, val->ptr, val->len);
		else
			pos = put(out, cap, pos, b + p[i].def_off, p[i].def_len);
	}
	return pos;
}

/* ---- variants ------------------------------------------------------------ */

static inline unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static inline bool alpha(unsigned char c)
{
	return (lower(c) >= 'a' && lower(c) <= 'z');
}

static bool locale_valid(const char *s, size_t n)
{
	size_t i = 0, part;
	if (n > FAN_TEMPLATE_LOCALE_BYTES_MAX)
		return false;
	while (i < n && alpha((unsigned char)s[i]))
		i++;
	if (i < 2 || i > 3)
		return false;
	while (i < n) {
		if (s[i++] != '-')
			return false;
		for (part = 0; i < n && s[i] != '-'; i++, part++)
			if (!alpha((unsigned char)s[i]) && !(s[i] >= '0' && s[i] <= '9'))
				return false;
		if (part < 2 || part > 8)
			return false;
	}
	return true;
}

static const struct fan_template_variant *find(const struct fan_template_set *s, unsigned channel,
					      const char *locale, size_t n)
{
	for (uint32_t i = 0; i < s->count; i++) {
		const struct fan_template_variant *v = &s->variant[i];
		if (v->channel != channel || v->locale_len != n)
			continue;
		size_t k = 0;
		while (k < n && v->locale[k] == (char)lower((unsigned char)locale[k]))
			k++;
		if (k == n)
			return v;
	}
	return NULL;
}

int fan_template_set_add(struct fan_template_set *s, unsigned channel, const char *locale,
			size_t locale_len, const struct fan_template *t)
{
	ALWAYS(t != NULL);
	if (channel > UINT8_MAX || (locale_len && !locale_valid(locale, locale_len)))
		return -EINVAL;
	if (find(s, channel, locale, locale_len))
		return -EEXIST;
	if (s->count == FAN_TEMPLATE_VARIANTS_MAX)
		return -ENOSPC;
	struct fan_template_variant *v = &s->variant[s->count++];
	v->t = t;
	v->channel = (uint8_t)channel;
	v->locale_len = (uint8_t)locale_len;
	for (size_t k = 0; k < locale_len; k++)
		v->locale[k] = (char)lower((unsigned char)locale[k]);
	return 0;
}

const struct fan_template *fan_template_set_pick(const struct fan_template_set *s, unsigned channel,
					       const char *locale, size_t locale_len)
{
	const unsigned channels[2] = { channel, FAN_TEMPLATE_CHANNEL_ANY };
	const struct fan_template_variant *v;

	if (locale_len > FAN_TEMPLATE_LOCALE_BYTES_MAX)
		locale_len = 0; /* no variant has it, nor any prefix worth trusting */
	for (int c = 0; c < 2; c++) {
		size_t n = locale_len;
		while (n > 0) {
			v = find(s, channels[c], locale, n);
			if (v)
				return v->t;
			while (n > 0 && locale[n - 1] != '-')
				n--;
			if (n > 0)
				n--; /* drop the '-' */
		}
		v = find(s, channels[c], NULL, 0);
		if (v)
			return v->t;
	}
	return NULL;
}
