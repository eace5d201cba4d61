/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tagexpr.c - tag expressions: a recursive-descent parser (one function per
 * rule of the grammar in tagexpr.h, recursion bounded by
 * FAN_TAGEXPR_DEPTH_MAX parentheses) that emits a postfix program, and its
 * evaluator.
 *
 * The parser works in a struct on its caller's stack: the ops emitted so
 * far, each tag as written (its bytes still in the text, its TAG op naming
 * the occurrence), and the depth the evaluator's stack would reach. At the
 * end the occurrences are sorted, repeats merged, the TAG ops renumbered to
 * the distinct tags, and everything is copied into one block:
 *
 *   struct fan_tagexpr | sto_bytes tags[tag_count] | sto_bytes seeds[seed_count]
 *                     | u16 ops[op_count] | tag bytes, back to back
 *
 * tags[] and seeds[] point into the tag bytes at the end of the block. The
 * struct holds the truth table (4 x u64) when there are at most 8 distinct
 * tags, filled by running the program once per combination of them.
 *
 * Matching a user: a search of the user's sorted tags per distinct tag, each
 * starting after the previous one's place (a match costs about 60-100 ns
 * for 5 distinct tags against 10-17 user tags on the development machine;
 * the comparisons, not the program, are most of it).
 */
#include "fanout/tagexpr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/assert.h"

/* Opcodes: the high byte of an op; the low byte is the tag for TAG. */
enum {
	OP_TAG = 0,
	OP_AND = 1,
	OP_OR = 2,
	OP_NOT = 3,
};

#define OP(code, arg) ((uint16_t)((code) << 8 | (arg)))
#define OP_CODE(op) ((op) >> 8)
#define OP_ARG(op) ((op)&0xFFu)

/* An expression of at most TABLE_TAGS distinct tags is also kept as its
 * truth table: bit h of table is the answer for the user whose "has" set
 * is h. Matching is then a lookup instead of running the program. */
#define TABLE_TAGS 8u
#define TABLE_WORDS ((1u << TABLE_TAGS) / 64u)

struct fan_tagexpr {
	uint16_t op_count;
	uint16_t tag_count;
	uint16_t seed_count;
	bool needs_scan;
	bool tabled; /* tag_count <= TABLE_TAGS: table holds every answer */
	uint64_t table[TABLE_WORDS];
	const struct sto_bytes *tags;
	const struct sto_bytes *seeds;
	const uint16_t *ops;
};

/* ---- allocation ------------------------------------------------------------- */

static __thread long alloc_fail_countdown;

void fan_tagexpr_fail_alloc_after(long n)
{
	alloc_fail_countdown = n;
}

static void *tagexpr_alloc(size_t n)
{
	if (alloc_fail_countdown > 0 && --alloc_fail_countdown == 0)
		return NULL;
	return malloc(n);
}

/* ---- bytes ------------------------------------------------------------------ */

/* Bytewise, a prefix before the longer string: the order of sto_user tags.
 * Tags are at most 64 bytes and mostly differ early: a byte loop the
 * compiler inlines beats a call to memcmp. */
static inline int tag_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
	uint32_t n = alen < blen ? alen : blen;
	for (uint32_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
	}
	return alen < blen ? -1 : alen > blen;
}

static bool is_tag_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == ':';
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- tokens ----------------------------------------------------------------- */

enum tok_kind {
	TOK_END,
	TOK_TAG,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_AND,
	TOK_OR,
	TOK_NOT,
};

struct token {
	enum tok_kind kind;
	uint32_t offset; /* of its first byte (the quote of a quoted tag) */
	const char *p;   /* TOK_TAG: the tag's bytes, without quotes */
	uint32_t len;
};

struct term {
	const char *p;
	uint16_t len;
	uint8_t occurrence; /* index in the order written */
	bool positive;      /* written under an even number of NOTs */
};

struct parser {
	const char *text;
	uint32_t len;
	uint32_t pos; /* next byte the tokenizer reads */
	struct token tok;
	uint32_t depth;
	uint32_t stack;
	uint32_t op_count;
	uint32_t term_count;
	struct fan_tagexpr_error *err;
	uint16_t ops[FAN_TAGEXPR_OPS_MAX];
	struct term terms[FAN_TAGEXPR_TERMS_MAX];
};

__attribute__((format(printf, 4, 5))) static int fail(struct parser *P, int rc, uint32_t offset,
						      const char *fmt, ...)
{
	if (P->err) {
		va_list ap;
		va_start(ap, fmt);
		P->err->offset = offset;
		vsnprintf(P->err->message, sizeof(P->err->message), fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int fail_byte(struct parser *P, uint32_t at, const char *where)
{
	unsigned char c = (unsigned char)P->text[at];
	if (c >= 0x20 && c <= 0x7E)
		return fail(P, -EINVAL, at, "unexpected character '%c'%s at %u", c, where, at);
	return fail(P, -EINVAL, at, "unexpected byte 0x%02x%s at %u", c, where, at);
}

static int check_tag_len(struct parser *P, uint32_t start, uint32_t len)
{
	if (len == 0)
		return fail(P, -EINVAL, start, "empty tag at %u", start);
	if (len > FAN_TAGEXPR_TAG_BYTES_MAX)
		return fail(P, -EINVAL, start, "tag longer than %u bytes at %u",
			    FAN_TAGEXPR_TAG_BYTES_MAX, start);
	return 0;
}

static bool is_keyword(const char *p, uint32_t len, const char *kw)
{
	return len == strlen(kw) && strncasecmp(p, kw, len) == 0;
}

/* Read the next token into P->tok. */
static int next(struct parser *P)
{
	const char *t = P->text;
	uint32_t i = P->pos;

	while (i < P->len && is_space((unsigned char)t[i]))
		i++;
	P->tok = (struct token){ .kind = TOK_END, .offset = i };
	if (i == P->len) {
		P->pos = i;
		return 0;
	}
	uint32_t start = i;
	unsigned char c = (unsigned char)t[i];
	if (c == '(' || c == ')') {
		P->tok.kind = c == '(' ? TOK_LPAREN : TOK_RPAREN;
		P->pos = i + 1;
		return 0;
	}
	if (c == '"') {
		i++;
		while (i < P->len && is_tag_byte((unsigned char)t[i]))
			i++;
		if (i == P->len)
			return fail(P, -EINVAL, start, "unterminated quote at %u", start);
		if (t[i] != '"')
			return fail_byte(P, i, " in a quoted tag");
		int rc = check_tag_len(P, start, i - start - 1);
		if (rc)
			return rc;
		P->tok.kind = TOK_TAG;
		P->tok.p = t + start + 1;
		P->tok.len = i - start - 1;
		P->pos = i + 1;
		return 0;
	}
	if (!is_tag_byte(c))
		return fail_byte(P, i, "");
	while (i < P->len && is_tag_byte((unsigned char)t[i]))
		i++;
	uint32_t n = i - start;
	P->pos = i;
	if (is_keyword(t + start, n, "and"))
		P->tok.kind = TOK_AND;
	else if (is_keyword(t + start, n, "or"))
		P->tok.kind = TOK_OR;
	else if (is_keyword(t + start, n, "not"))
		P->tok.kind = TOK_NOT;
	else {
		int rc = check_tag_len(P, start, n);
		if (rc)
			return rc;
		P->tok.kind = TOK_TAG;
		P->tok.p = t + start;
		P->tok.len = n;
	}
	return 0;
}

/* ---- grammar ---------------------------------------------------------------- */

/* Append an op, tracking the evaluator's stack. NOT NOT x is emitted as x:
 * a NOT applies to the operand just emitted, whose root is the last op. */
static void emit(struct parser *P, uint16_t op)
{
	switch (OP_CODE(op)) {
	case OP_TAG:
		P->stack++;
		break;
	case OP_AND:
	case OP_OR:
		ALWAYS(P->stack >= 2);
		P->stack--;
		break;
	case OP_NOT:
		ALWAYS(P->stack >= 1);
		if (P->op_count && OP_CODE(P->ops[P->op_count - 1]) == OP_NOT) {
			P->op_count--;
			return;
		}
		break;
	default:
		NEVER(true);
	}
	ALWAYS(P->stack <= FAN_TAGEXPR_STACK_MAX);
	ALWAYS(P->op_count < FAN_TAGEXPR_OPS_MAX);
	P->ops[P->op_count++] = op;
}

static int parse_or(struct parser *P, bool negated);

static int parse_primary(struct parser *P, bool negated)
{
	struct token tok = P->tok;
	int rc;

	switch (tok.kind) {
	case TOK_TAG:
		if (P->term_count == FAN_TAGEXPR_TERMS_MAX)
			return fail(P, -E2BIG, tok.offset, "more than %u tags at %u",
				    FAN_TAGEXPR_TERMS_MAX, tok.offset);
		P->terms[P->term_count] = (struct term){
			.p = tok.p,
			.len = (uint16_t)tok.len,
			.occurrence = (uint8_t)P->term_count,
			.positive = !negated,
		};
		emit(P, OP(OP_TAG, P->term_count));
		P->term_count++;
		return next(P);
	case TOK_LPAREN:
		if (P->depth == FAN_TAGEXPR_DEPTH_MAX)
			return fail(P, -E2BIG, tok.offset, "expression nests deeper than %u at %u",
				    FAN_TAGEXPR_DEPTH_MAX, tok.offset);
		P->depth++;
		if ((rc = next(P)) || (rc = parse_or(P, negated)))
			return rc;
		if (P->tok.kind == TOK_END)
			return fail(P, -EINVAL, tok.offset, "unbalanced '(' at %u", tok.offset);
		if (P->tok.kind != TOK_RPAREN)
			return fail(P, -EINVAL, P->tok.offset, "expected AND, OR or ')' at %u",
				    P->tok.offset);
		P->depth--;
		return next(P);
	case TOK_RPAREN:
		if (P->depth == 0)
			return fail(P, -EINVAL, tok.offset, "unbalanced ')' at %u", tok.offset);
		break;
	default:
		break;
	}
	return fail(P, -EINVAL, tok.offset, "expected a tag or '(' at %u", tok.offset);
}

static int parse_not(struct parser *P, bool negated)
{
	bool odd = false;
	int rc;

	/* A loop, not recursion: NOT chains are bounded only by the length. */
	while (P->tok.kind == TOK_NOT) {
		odd = !odd;
		if ((rc = next(P)))
			return rc;
	}
	if ((rc = parse_primary(P, negated != odd)))
		return rc;
	if (odd)
		emit(P, OP(OP_NOT, 0));
	return 0;
}

static int parse_and(struct parser *P, bool negated)
{
	int rc = parse_not(P, negated);

	while (!rc && P->tok.kind == TOK_AND) {
		if ((rc = next(P)) || (rc = parse_not(P, negated)))
			return rc;
		emit(P, OP(OP_AND, 0));
	}
	return rc;
}

static int parse_or(struct parser *P, bool negated)
{
	int rc = parse_and(P, negated);

	while (!rc && P->tok.kind == TOK_OR) {
		if ((rc = next(P)) || (rc = parse_and(P, negated)))
			return rc;
		emit(P, OP(OP_OR, 0));
	}
	return rc;
}

/* ---- evaluation ------------------------------------------------------------- */

#define HAS_WORDS (FAN_TAGEXPR_TERMS_MAX / 64u)
_Static_assert(TABLE_TAGS <= 64u, "a table index is the first word of has");

static bool run(const struct fan_tagexpr *e, const uint64_t has[HAS_WORDS])
{
	uint8_t stack[FAN_TAGEXPR_STACK_MAX];
	uint32_t sp = 0;

	for (uint32_t i = 0; i < e->op_count; i++) {
		uint16_t op = e->ops[i];
		/* The parser proved these bounds; a program that breaks them is
		 * corrupt memory, so crash rather than read past the stack. */
		switch (OP_CODE(op)) {
		case OP_TAG:
			NEVER(sp == FAN_TAGEXPR_STACK_MAX || OP_ARG(op) >= e->tag_count);
			stack[sp++] = (uint8_t)(has[OP_ARG(op) >> 6] >> (OP_ARG(op) & 63) & 1);
			break;
		case OP_AND:
			NEVER(sp < 2);
			sp--;
			stack[sp - 1] &= stack[sp];
			break;
		case OP_OR:
			NEVER(sp < 2);
			sp--;
			stack[sp - 1] |= stack[sp];
			break;
		case OP_NOT:
			NEVER(sp < 1);
			stack[sp - 1] ^= 1;
			break;
		default:
			NEVER(true);
		}
	}
	ALWAYS(sp == 1);
	return stack[0];
}

/* Bit i of has: the user holds tag i. Both lists are sorted, so each search
 * starts where the previous one ended. (A branch-free search measured
 * slower here: the byte loop of the comparison mispredicts anyway.) */
static void resolve(const struct fan_tagexpr *e, const struct fan_tagset *set,
		    uint64_t has[HAS_WORDS])
{
	uint32_t lo = 0, n = set->count;

	memset(has, 0, HAS_WORDS * sizeof(has[0]));
	for (uint32_t i = 0; i < e->tag_count && lo < n; i++) {
		const struct sto_bytes *want = &e->tags[i];
		uint32_t a = lo, b = n;
		while (a < b) {
			uint32_t mid = a + (b - a) / 2;
			int c = tag_cmp(set->tags[mid].p, set->tags[mid].len, want->p, want->len);
			if (c == 0) {
				has[i >> 6] |= 1ull << (i & 63);
				a = mid + 1;
				break;
			}
			if (c < 0)
				a = mid + 1;
			else
				b = mid;
		}
		lo = a;
	}
}

bool fan_tagexpr_match(const struct fan_tagexpr *e, const struct fan_tagset *user_tags)
{
	uint64_t has[HAS_WORDS];

	resolve(e, user_tags, has);
	if (e->tabled)
		return e->table[has[0] >> 6 & (TABLE_WORDS - 1)] >> (has[0] & 63) & 1;
	return run(e, has);
}

/* ---- building ----------------------------------------------------------------- */

static int term_cmp(const void *a, const void *b)
{
	const struct term *x = a, *y = b;
	int c = tag_cmp(x->p, x->len, y->p, y->len);
	return c ? c : (int)x->occurrence - (int)y->occurrence;
}

static int build(struct parser *P, struct fan_tagexpr **out)
{
	uint8_t distinct_of[FAN_TAGEXPR_TERMS_MAX]; /* occurrence -> distinct tag */
	uint16_t first[FAN_TAGEXPR_TERMS_MAX];      /* distinct tag -> its first term */
	bool positive[FAN_TAGEXPR_TERMS_MAX];
	uint32_t tag_count = 0, seed_count = 0, bytes = 0;

	qsort(P->terms, P->term_count, sizeof(P->terms[0]), term_cmp);
	for (uint32_t i = 0; i < P->term_count; i++) {
		const struct term *t = &P->terms[i];
		if (i == 0 || tag_cmp(t[-1].p, t[-1].len, t->p, t->len) != 0) {
			first[tag_count] = (uint16_t)i;
			positive[tag_count] = false;
			bytes += t->len;
			tag_count++;
		}
		distinct_of[t->occurrence] = (uint8_t)(tag_count - 1);
		positive[tag_count - 1] |= t->positive;
	}
	for (uint32_t i = 0; i < tag_count; i++)
		seed_count += positive[i];

	size_t size = sizeof(struct fan_tagexpr) + (tag_count + seed_count) * sizeof(struct sto_bytes) +
		      P->op_count * sizeof(uint16_t) + bytes;
	struct fan_tagexpr *e = tagexpr_alloc(size);
	if (!e)
		return fail(P, -ENOMEM, 0, "out of memory");

	struct sto_bytes *tags = (struct sto_bytes *)(e + 1);
	struct sto_bytes *seeds = tags + tag_count;
	uint16_t *ops = (uint16_t *)(seeds + seed_count);
	char *copy = (char *)(ops + P->op_count);

	uint32_t s = 0;
	for (uint32_t d = 0; d < tag_count; d++) {
		const struct term *t = &P->terms[first[d]];
		memcpy(copy, t->p, t->len);
		tags[d] = (struct sto_bytes){ .p = copy, .len = t->len };
		if (positive[d])
			seeds[s++] = tags[d];
		copy += t->len;
	}
	ALWAYS(s == seed_count && copy == (char *)e + size);

	for (uint32_t i = 0; i < P->op_count; i++) {
		uint16_t op = P->ops[i];
		ops[i] = OP_CODE(op) == OP_TAG ? OP(OP_TAG, distinct_of[OP_ARG(op)]) : op;
	}
	*e = (struct fan_tagexpr){
		.op_count = (uint16_t)P->op_count,
		.tag_count = (uint16_t)tag_count,
		.seed_count = (uint16_t)seed_count,
		.tags = tags,
		.seeds = seeds,
		.ops = ops,
	};
	uint64_t none[HAS_WORDS] = { 0 };
	e->needs_scan = run(e, none);
	if (tag_count <= TABLE_TAGS) {
		for (uint64_t h = 0; h < (1u << tag_count); h++) {
			uint64_t has[HAS_WORDS] = { h };
			e->table[h >> 6] |= (uint64_t)run(e, has) << (h & 63);
		}
		e->tabled = true;
	}
	*out = e;
	return 0;
}

int fan_tagexpr_parse(const char *text, size_t len, struct fan_tagexpr **out,
		     struct fan_tagexpr_error *err)
{
	struct parser P;
	int rc;

	*out = NULL;
	P.err = err;
	if (len > FAN_TAGEXPR_BYTES_MAX)
		return fail(&P, -E2BIG, FAN_TAGEXPR_BYTES_MAX, "expression longer than %u bytes at %u",
			    FAN_TAGEXPR_BYTES_MAX, FAN_TAGEXPR_BYTES_MAX);
	P.text = text;
	P.len = (uint32_t)len;
	P.pos = 0;
	P.depth = 0;
	P.stack = 0;
	P.op_count = 0;
	P.term_count = 0;
	if ((rc = next(&P)))
		return rc;
	if (P.tok.kind == TOK_END)
		return fail(&P, -EINVAL, 0, "empty expression");
	if ((rc = parse_or(&P, false)))
		return rc;
	if (P.tok.kind == TOK_RPAREN)
		return fail(&P, -EINVAL, P.tok.offset, "unbalanced ')' at %u", P.tok.offset);
	if (P.tok.kind != TOK_END)
		return fail(&P, -EINVAL, P.tok.offset, "expected AND or OR at %u", P.tok.offset);
	ALWAYS(P.depth == 0 && P.stack == 1 && P.term_count >= 1);
	return build(&P, out);
}

void fan_tagexpr_free(struct fan_tagexpr *e)
{
	free(e);
}

uint32_t fan_tagexpr_tags(const struct fan_tagexpr *e, const struct sto_bytes **tags)
{
	*tags = e->tags;
	return e->tag_count;
}

uint32_t fan_tagexpr_seed_tags(const struct fan_tagexpr *e, const struct sto_bytes **tags)
{
	*tags = e->seeds;
	return e->seed_count;
}

bool fan_tagexpr_needs_scan(const struct fan_tagexpr *e)
{
	return e->needs_scan;
}
