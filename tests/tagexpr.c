/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/tagexpr.c - campaign audiences by tag expression (fanout/tagexpr.h).
 *
 *   - precedence: NOT over AND over OR, parentheses override it
 *   - keywords in any case; a quoted word is a tag, even "and"; tags are
 *     case-sensitive; parentheses and quotes need no spaces around them
 *   - every error: its return code, byte offset and message
 *   - limits exactly at and one over: text length, nesting, tags, tag length;
 *     the evaluator's stack and the program at their largest
 *   - matching users with no tags, many tags, tags that prefix each other
 *   - the distinct tags, the seed tags and needs_scan
 *   - out of memory: -ENOMEM, nothing returned, the next parse works
 *   - property: random expressions, printed with random spacing, keyword
 *     case, quotes and spare parentheses, match exactly as a recursive
 *     evaluation of the tree they were printed from, for random users; and
 *     every match of an expression without needs_scan holds a seed tag
 *
 * Exit 0 pass, 1 fail.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fanout/tagexpr.h"
#include "tests/unit.h"

/* ---- helpers ------------------------------------------------------------------ */

static struct fan_tagexpr *parse(const char *text)
{
	struct fan_tagexpr *e = NULL;
	struct fan_tagexpr_error err = { 0 };
	int rc = fan_tagexpr_parse(text, strlen(text), &e, &err);
	if (rc) {
		fprintf(stderr, "parse(\"%.80s\") = %d: %s\n", text, rc, err.message);
		failures++;
		return NULL;
	}
	return e;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Does e match a user holding names[0..n)? The names are sorted first. */
static bool match_names(const struct fan_tagexpr *e, const char **names, uint32_t n)
{
	const char *sorted[300];
	struct sto_bytes tags[300];

	for (uint32_t i = 0; i < n; i++)
		sorted[i] = names[i];
	qsort(sorted, n, sizeof(sorted[0]), cmp_str);
	for (uint32_t i = 0; i < n; i++)
		tags[i] = (struct sto_bytes){ .p = sorted[i], .len = (uint16_t)strlen(sorted[i]) };
	struct fan_tagset set = { .tags = tags, .count = n };
	return fan_tagexpr_match(e, &set);
}

/* The truth table of text over the tags a, b, c: bit m is the answer for
 * the user holding the tags whose bits are set in m (1: a, 2: b, 4: c). */
static unsigned truth(const char *text)
{
	static const char *abc[3] = { "a", "b", "c" };
	struct fan_tagexpr *e = parse(text);
	unsigned table = 0;

	if (!e)
		return ~0u;
	for (unsigned m = 0; m < 8; m++) {
		const char *names[3];
		uint32_t n = 0;
		for (unsigned i = 0; i < 3; i++)
			if (m & (1u << i))
				names[n++] = abc[i];
		table |= (unsigned)match_names(e, names, n) << m;
	}
	fan_tagexpr_free(e);
	return table;
}

/* Truth tables of a, b, c as masks over the 8 users. */
#define A 0xAAu
#define B 0xCCu
#define C 0xF0u
#define ALL 0xFFu

static void expect_error(const char *text, size_t len, int rc_want, uint32_t offset,
			 const char *message)
{
	struct fan_tagexpr *e = (struct fan_tagexpr *)&e; /* must be set to NULL */
	struct fan_tagexpr_error err = { 0 };
	int rc = fan_tagexpr_parse(text, len, &e, &err);

	if (rc != rc_want || e != NULL || err.offset != offset || strcmp(err.message, message) != 0) {
		fprintf(stderr, "error for \"%.60s\": rc %d offset %u \"%s\", want %d %u \"%s\"\n",
			text, rc, err.offset, err.message, rc_want, offset, message);
		failures++;
	}
}

static char big[8192];

/* ---- precedence and syntax ------------------------------------------------------ */

static void test_precedence(void)
{
	CHECK(truth("a") == A);
	CHECK(truth("a OR b AND c") == (A | (B & C)));
	CHECK(truth("a AND b OR c") == ((A & B) | C));
	CHECK(truth("a OR b OR c") == (A | B | C));
	CHECK(truth("a AND b AND c") == (A & B & C));
	CHECK(truth("a AND b OR a AND c") == ((A & B) | (A & C)));
}

static void test_not_binding(void)
{
	CHECK(truth("NOT a") == (ALL & ~A));
	CHECK(truth("NOT a AND b") == ((ALL & ~A) & B));
	CHECK(truth("NOT a OR b") == ((ALL & ~A) | B));
	CHECK(truth("b AND NOT a") == (B & ~A & ALL));
	CHECK(truth("NOT NOT a") == A);
	CHECK(truth("NOT NOT NOT a") == (ALL & ~A));
	CHECK(truth("NOT (NOT a)") == A);
	CHECK(truth("NOT (NOT (NOT a))") == (ALL & ~A));
}

static void test_parentheses(void)
{
	CHECK(truth("(a OR b) AND c") == ((A | B) & C));
	CHECK(truth("a AND (b OR c)") == (A & (B | C)));
	CHECK(truth("NOT (a AND b)") == (ALL & ~(A & B)));
	CHECK(truth("NOT (a OR b) AND c") == (ALL & ~(A | B) & C));
	CHECK(truth("((((a))))") == A);
	CHECK(truth("(a)AND(b)") == (A & B));
	CHECK(truth("NOT(a)OR(NOT(b))") == (ALL & (~A | ~B)));
	CHECK(truth(" \t\r\na\nOR\tb ") == (A | B));
}

static void test_keyword_case_and_quotes(void)
{
	CHECK(truth("a and b") == (A & B));
	CHECK(truth("a And b oR c") == ((A & B) | C));
	CHECK(truth("nOt a") == (ALL & ~A));
	CHECK(truth("\"a\" AND \"b\"") == (A & B));
	CHECK(truth("\"a\"AND\"b\"") == (A & B));

	/* A quoted keyword is a tag; tags are case-sensitive. */
	struct fan_tagexpr *e = parse("\"and\" OR \"NOT\"");
	const char *u_and[] = { "and" }, *u_AND[] = { "AND" }, *u_NOT[] = { "NOT" }, *u_not[] = { "not" };
	if (e) {
		CHECK(match_names(e, u_and, 1));
		CHECK(!match_names(e, u_AND, 1));
		CHECK(match_names(e, u_NOT, 1));
		CHECK(!match_names(e, u_not, 1));
		fan_tagexpr_free(e);
	}
	e = parse("VIP AND NOT vip");
	const char *u_VIP[] = { "VIP" }, *u_both[] = { "VIP", "vip" };
	if (e) {
		CHECK(match_names(e, u_VIP, 1));
		CHECK(!match_names(e, u_both, 2));
		fan_tagexpr_free(e);
	}
	/* Every tag byte, and words that only start like keywords. */
	e = parse("Az09_-.:x AND android AND ord AND notify");
	const char *u_all[] = { "Az09_-.:x", "android", "ord", "notify" };
	if (e) {
		CHECK(match_names(e, u_all, 4));
		CHECK(!match_names(e, u_all, 3));
		fan_tagexpr_free(e);
	}
}

static void test_errors(void)
{
	expect_error("", 0, -EINVAL, 0, "empty expression");
	expect_error(" \t\n", 3, -EINVAL, 0, "empty expression");
	expect_error("a AND", 5, -EINVAL, 5, "expected a tag or '(' at 5");
	expect_error("a AND OR b", 10, -EINVAL, 6, "expected a tag or '(' at 6");
	expect_error("OR a", 4, -EINVAL, 0, "expected a tag or '(' at 0");
	expect_error("NOT", 3, -EINVAL, 3, "expected a tag or '(' at 3");
	expect_error("()", 2, -EINVAL, 1, "expected a tag or '(' at 1");
	expect_error("a b", 3, -EINVAL, 2, "expected AND or OR at 2");
	expect_error("a NOT b", 7, -EINVAL, 2, "expected AND or OR at 2");
	expect_error("a \"b\"", 5, -EINVAL, 2, "expected AND or OR at 2");
	expect_error("(a b)", 5, -EINVAL, 3, "expected AND, OR or ')' at 3");
	expect_error("a)", 2, -EINVAL, 1, "unbalanced ')' at 1");
	expect_error("(a AND b) OR c)", 15, -EINVAL, 14, "unbalanced ')' at 14");
	expect_error(")", 1, -EINVAL, 0, "unbalanced ')' at 0");
	expect_error("a AND )", 7, -EINVAL, 6, "unbalanced ')' at 6");
	expect_error("x OR (a AND (b)", 15, -EINVAL, 5, "unbalanced '(' at 5");
	expect_error("a & b", 5, -EINVAL, 2, "unexpected character '&' at 2");
	expect_error("a AND b\x01", 8, -EINVAL, 7, "unexpected byte 0x01 at 7");
	expect_error("a\0b", 3, -EINVAL, 1, "unexpected byte 0x00 at 1");
	expect_error("caf\xc3\xa9", 5, -EINVAL, 3, "unexpected byte 0xc3 at 3");
	expect_error("a OR \"b", 7, -EINVAL, 5, "unterminated quote at 5");
	expect_error("\"a b\"", 5, -EINVAL, 2, "unexpected character ' ' in a quoted tag at 2");
	expect_error("\"\"", 2, -EINVAL, 0, "empty tag at 0");
	expect_error("a OR \"\"", 7, -EINVAL, 5, "empty tag at 5");

	/* err may be NULL. */
	struct fan_tagexpr *e = NULL;
	CHECK(fan_tagexpr_parse("a AND", 5, &e, NULL) == -EINVAL && e == NULL);
}

/* ---- limits ------------------------------------------------------------------- */

static void test_limit_tag_length(void)
{
	char text[200];
	struct fan_tagexpr *e;

	/* 64 bytes: a tag; 65: too long, bare or quoted. */
	memset(text, 't', 64);
	memcpy(text + 64, " OR x", 6);
	e = parse(text);
	CHECK(e != NULL);
	char tag64[65];
	memset(tag64, 't', 64);
	tag64[64] = 0;
	const char *u[] = { tag64 };
	if (e) {
		CHECK(match_names(e, u, 1));
		fan_tagexpr_free(e);
	}
	snprintf(text, sizeof(text), "x AND %st", tag64);
	expect_error(text, strlen(text), -EINVAL, 6, "tag longer than 64 bytes at 6");
	snprintf(text, sizeof(text), "\"%s\"", tag64);
	e = parse(text);
	CHECK(e != NULL);
	fan_tagexpr_free(e);
	snprintf(text, sizeof(text), "x OR \"%st\"", tag64);
	expect_error(text, strlen(text), -EINVAL, 5, "tag longer than 64 bytes at 5");
}

static void test_limit_length(void)
{
	struct fan_tagexpr *e = NULL;
	struct fan_tagexpr_error err;

	/* Exactly FAN_TAGEXPR_BYTES_MAX: "a" and spaces; one more byte: too long. */
	memset(big, ' ', FAN_TAGEXPR_BYTES_MAX + 1);
	big[FAN_TAGEXPR_BYTES_MAX - 1] = 'a';
	CHECK(fan_tagexpr_parse(big, FAN_TAGEXPR_BYTES_MAX, &e, &err) == 0 && e != NULL);
	fan_tagexpr_free(e);
	expect_error(big, FAN_TAGEXPR_BYTES_MAX + 1, -E2BIG, 4096, "expression longer than 4096 bytes at 4096");
}

/* Nesting d levels: "a OR b AND (" d times, then "a OR b AND c", then ")" d
 * times. Each level leaves two operands on the evaluator's stack, so 32
 * levels use all of FAN_TAGEXPR_STACK_MAX. */
static size_t nested(uint32_t d)
{
	size_t n = 0;
	for (uint32_t i = 0; i < d; i++)
		n += (size_t)sprintf(big + n, "a OR b AND (");
	n += (size_t)sprintf(big + n, "a OR b AND c");
	for (uint32_t i = 0; i < d; i++)
		big[n++] = ')';
	big[n] = 0;
	return n;
}

static void test_limit_depth(void)
{
	nested(FAN_TAGEXPR_DEPTH_MAX);
	struct fan_tagexpr *e = parse(big);
	const char *u_a[] = { "a" }, *u_bc[] = { "b", "c" }, *u_b[] = { "b" }, *u_c[] = { "c" };

	CHECK(e != NULL);
	if (e) {
		CHECK(match_names(e, u_a, 1));
		CHECK(match_names(e, u_bc, 2));
		CHECK(!match_names(e, u_b, 1));
		CHECK(!match_names(e, u_c, 1));
		CHECK(!match_names(e, NULL, 0));
		fan_tagexpr_free(e);
	}
	size_t n = nested(FAN_TAGEXPR_DEPTH_MAX + 1);
	/* The 33rd '(' is the last one opened: 12 bytes per level, '(' last. */
	uint32_t at = 12 * (FAN_TAGEXPR_DEPTH_MAX + 1) - 1;
	char msg[64];
	snprintf(msg, sizeof(msg), "expression nests deeper than 32 at %u", at);
	expect_error(big, n, -E2BIG, at, msg);

	/* A long NOT chain does not nest. */
	n = 0;
	for (int i = 0; i < 101; i++)
		n += (size_t)sprintf(big + n, "NOT ");
	sprintf(big + n, "a");
	CHECK(truth(big) == (ALL & ~A));
}

static void test_limit_terms(void)
{
	size_t n = 0;
	struct fan_tagexpr *e;
	const struct sto_bytes *tags;

	/* 256 tags written, 26 distinct. */
	for (uint32_t i = 0; i < FAN_TAGEXPR_TERMS_MAX; i++)
		n += (size_t)sprintf(big + n, "%s%c", i ? " OR " : "", 'a' + i % 26);
	e = parse(big);
	CHECK(e != NULL);
	if (e) {
		CHECK(fan_tagexpr_tags(e, &tags) == 26);
		const char *u_z[] = { "z" }, *u_q[] = { "zz" };
		CHECK(match_names(e, u_z, 1));
		CHECK(!match_names(e, u_q, 1));
		fan_tagexpr_free(e);
	}
	uint32_t at = (uint32_t)n + 4;
	n += (size_t)sprintf(big + n, " OR q");
	char msg[64];
	snprintf(msg, sizeof(msg), "more than 256 tags at %u", at);
	expect_error(big, n, -E2BIG, at, msg);

	/* 256 distinct tags, all held by one user (a user's own limit is 256). */
	n = 0;
	for (uint32_t i = 0; i < FAN_TAGEXPR_TERMS_MAX; i++)
		n += (size_t)sprintf(big + n, "%st%u", i ? " AND " : "", i);
	e = parse(big);
	CHECK(e != NULL);
	if (e) {
		static char names_buf[256][8];
		const char *names[256];
		for (uint32_t i = 0; i < 256; i++) {
			snprintf(names_buf[i], sizeof(names_buf[i]), "t%u", i);
			names[i] = names_buf[i];
		}
		CHECK(fan_tagexpr_tags(e, &tags) == 256);
		CHECK(match_names(e, names, 256));
		CHECK(!match_names(e, names + 1, 255));
		CHECK(!match_names(e, names, 255));
		fan_tagexpr_free(e);
	}
}

/* ---- a tree, its reference evaluation and its printing -------------------------- */

enum node_kind { N_TAG, N_NOT, N_AND, N_OR };

struct node {
	enum node_kind kind;
	uint32_t left, right; /* N_NOT: left only; N_TAG: left is the tag */
};

#define NODES_MAX 2048

static struct node nodes[NODES_MAX];
static uint32_t node_count;

/* Prefixes of each other, case pairs, keywords as tags; 12 of them, so
 * that random expressions hold both up to 8 distinct tags (matched by
 * truth table) and more (matched by running the program). */
static const char *universe[] = { "a",   "ab",  "abc", "b",       "B",      "x:1",
				  "x.2", "and", "z-_", "Not", "lang:zh", "lang:en" };
#define UNIVERSE (sizeof(universe) / sizeof(universe[0]))

static uint32_t add(enum node_kind kind, uint32_t left, uint32_t right)
{
	if (node_count == NODES_MAX)
		abort();
	nodes[node_count] = (struct node){ kind, left, right };
	return node_count++;
}

/* The reference: straight recursion over the tree; has is a bit per universe tag. */
static bool ref_eval(uint32_t i, uint32_t has)
{
	const struct node *n = &nodes[i];
	switch (n->kind) {
	case N_TAG:
		return has >> n->left & 1;
	case N_NOT:
		return !ref_eval(n->left, has);
	case N_AND:
		return ref_eval(n->left, has) && ref_eval(n->right, has);
	default:
		return ref_eval(n->left, has) || ref_eval(n->right, has);
	}
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 16) % n);
}

static uint32_t gen(uint32_t depth)
{
	if (depth == 0 || rnd(4) == 0)
		return add(N_TAG, rnd(UNIVERSE), 0);
	switch (rnd(3)) {
	case 0:
		return add(N_NOT, gen(depth - 1), 0);
	case 1: {
		uint32_t l = gen(depth - 1);
		return add(N_AND, l, gen(depth - 1));
	}
	default: {
		uint32_t l = gen(depth - 1);
		return add(N_OR, l, gen(depth - 1));
	}
	}
}

struct printer {
	char *buf;
	size_t len;
	bool random; /* random spaces, keyword case, quotes, spare parentheses */
};

static bool word_end(char c)
{
	return c && c != '(' && c != ')' && c != ' ' && c != '\t' && c != '\n';
}

static void put(struct printer *pr, const char *tok)
{
	bool word = tok[0] != '(' && tok[0] != ')';
	if (pr->len && word && word_end(pr->buf[pr->len - 1]))
		pr->buf[pr->len++] = " \t\n"[pr->random ? rnd(3) : 0];
	else if (pr->random && rnd(3) == 0)
		pr->buf[pr->len++] = ' ';
	size_t n = strlen(tok);
	memcpy(pr->buf + pr->len, tok, n);
	pr->len += n;
	pr->buf[pr->len] = 0;
}

static void put_keyword(struct printer *pr, const char *kw)
{
	char k[4];
	size_t n = strlen(kw);
	for (size_t i = 0; i <= n; i++)
		k[i] = pr->random && rnd(2) ? (char)(kw[i] | (i < n ? 0x20 : 0)) : kw[i];
	put(pr, k);
}

static int prec(enum node_kind k)
{
	return k == N_OR ? 1 : k == N_AND ? 2 : k == N_NOT ? 3 : 4;
}

/* Print node i where the grammar needs precedence at least need. */
static void print(struct printer *pr, uint32_t i, int need)
{
	const struct node *n = &nodes[i];
	bool parens = prec(n->kind) < need || (pr->random && rnd(10) == 0);

	if (parens)
		put(pr, "(");
	switch (n->kind) {
	case N_TAG: {
		const char *t = universe[n->left];
		bool keyword = !strcasecmp(t, "and") || !strcasecmp(t, "or") || !strcasecmp(t, "not");
		if (keyword || (pr->random && rnd(4) == 0)) {
			char q[80];
			snprintf(q, sizeof(q), "\"%s\"", t);
			put(pr, q);
		} else {
			put(pr, t);
		}
		break;
	}
	case N_NOT:
		put_keyword(pr, "NOT");
		print(pr, n->left, 3);
		break;
	case N_AND:
		print(pr, n->left, 2);
		put_keyword(pr, "AND");
		print(pr, n->right, 2);
		break;
	default:
		print(pr, n->left, 1);
		put_keyword(pr, "OR");
		print(pr, n->right, 1);
		break;
	}
	if (parens)
		put(pr, ")");
}

/* Does e match the user holding the universe tags in has? */
static bool match_has(const struct fan_tagexpr *e, uint32_t has)
{
	const char *names[UNIVERSE];
	uint32_t n = 0;
	for (uint32_t t = 0; t < UNIVERSE; t++)
		if (has >> t & 1)
			names[n++] = universe[t];
	return match_names(e, names, n);
}

static bool holds_seed(const struct fan_tagexpr *e, uint32_t has)
{
	const struct sto_bytes *seeds;
	uint32_t n = fan_tagexpr_seed_tags(e, &seeds);
	for (uint32_t s = 0; s < n; s++)
		for (uint32_t t = 0; t < UNIVERSE; t++)
			if (has >> t & 1 && seeds[s].len == strlen(universe[t]) &&
			    memcmp(seeds[s].p, universe[t], seeds[s].len) == 0)
				return true;
	return false;
}

static void test_property(void)
{
	int mismatches = 0;

	for (int round = 0; round < 20000; round++) {
		node_count = 0;
		uint32_t root = gen(1 + rnd(7));
		struct printer pr = { .buf = big, .len = 0, .random = true };
		big[0] = 0;
		print(&pr, root, 1);
		struct fan_tagexpr *e = parse(big);
		if (!e)
			continue;
		CHECK(fan_tagexpr_needs_scan(e) == ref_eval(root, 0));
		for (int u = 0; u < 16; u++) {
			uint32_t has = rnd(1u << UNIVERSE);
			bool want = ref_eval(root, has);
			if (fan_tagexpr_match(e, &(struct fan_tagset){ 0 }) != ref_eval(root, 0) ||
			    match_has(e, has) != want) {
				if (mismatches++ < 5)
					fprintf(stderr, "mismatch: \"%s\" user 0x%x want %d\n", big, has, want);
				failures++;
			}
			if (want && !fan_tagexpr_needs_scan(e))
				CHECK(holds_seed(e, has));
		}
		fan_tagexpr_free(e);
	}
}

/* The largest program: a balanced tree of 256 tags with a NOT on every node
 * (4 * 256 - 2 ops), printed without spare bytes, within 4096 bytes, with
 * the one-byte tags a, b, B of the universe. */
static const uint32_t one_byte_tags[3] = { 0, 3, 4 };

static uint32_t gen_full(uint32_t leaves, uint32_t *next_tag, bool and)
{
	uint32_t i;
	if (leaves == 1)
		i = add(N_TAG, one_byte_tags[(*next_tag)++ % 3], 0);
	else {
		uint32_t l = gen_full(leaves / 2, next_tag, !and);
		i = add(and ? N_AND : N_OR, l, gen_full(leaves / 2, next_tag, !and));
	}
	return add(N_NOT, i, 0);
}

static void test_largest_program(void)
{
	uint32_t next_tag = 0;
	node_count = 0;
	uint32_t root = gen_full(FAN_TAGEXPR_TERMS_MAX, &next_tag, true);
	struct printer pr = { .buf = big, .len = 0, .random = false };
	big[0] = 0;
	print(&pr, root, 1);
	CHECK(pr.len <= FAN_TAGEXPR_BYTES_MAX);
	struct fan_tagexpr *e = parse(big);
	if (!e)
		return;
	for (uint32_t has = 0; has < (1u << UNIVERSE); has++)
		CHECK(match_has(e, has) == ref_eval(root, has));
	fan_tagexpr_free(e);
}

/* ---- matching and the helpers ----------------------------------------------------- */

static void test_matching(void)
{
	struct fan_tagexpr *e = parse("ab AND NOT abc OR (a AND x:1)");
	const char *u1[] = { "ab" }, *u2[] = { "ab", "abc" }, *u3[] = { "a", "abc", "b", "x:1" };
	const char *u4[] = { "a", "x:10" }, *u5[] = { "a", "aa", "ab", "abd", "b" };

	if (!e)
		return;
	CHECK(!match_names(e, NULL, 0));
	CHECK(match_names(e, u1, 1));
	CHECK(!match_names(e, u2, 2));
	CHECK(match_names(e, u3, 4));
	CHECK(!match_names(e, u4, 2));
	CHECK(match_names(e, u5, 5));
	fan_tagexpr_free(e);

	/* A tag written many times is looked up once. */
	const struct sto_bytes *tags;
	e = parse("a AND a AND (a OR NOT a)");
	if (e) {
		CHECK(fan_tagexpr_tags(e, &tags) == 1);
		CHECK(match_names(e, u3, 1));
		CHECK(!match_names(e, u1, 1));
		fan_tagexpr_free(e);
	}
}

/* The tags of text, joined by spaces. */
static void joined(uint32_t n, const struct sto_bytes *tags, char *out)
{
	size_t len = 0;
	out[0] = 0;
	for (uint32_t i = 0; i < n; i++)
		len += (size_t)sprintf(out + len, "%s%.*s", i ? " " : "", tags[i].len, tags[i].p);
}

static void expect_plan(const char *text, const char *tags_want, const char *seeds_want, bool scan)
{
	struct fan_tagexpr *e = parse(text);
	const struct sto_bytes *tags;
	char got_tags[256], got_seeds[256];

	if (!e)
		return;
	uint32_t n = fan_tagexpr_tags(e, &tags);
	joined(n, tags, got_tags);
	n = fan_tagexpr_seed_tags(e, &tags);
	joined(n, tags, got_seeds);
	if (strcmp(got_tags, tags_want) != 0 || strcmp(got_seeds, seeds_want) != 0 ||
	    fan_tagexpr_needs_scan(e) != scan) {
		fprintf(stderr, "plan of \"%s\": tags [%s] seeds [%s] scan %d, want [%s] [%s] %d\n", text,
			got_tags, got_seeds, fan_tagexpr_needs_scan(e), tags_want, seeds_want, scan);
		failures++;
	}
	fan_tagexpr_free(e);
}

static void test_tags_and_scan(void)
{
	expect_plan("vip", "vip", "vip", false);
	expect_plan("NOT vip", "vip", "", true);
	expect_plan("b OR a OR b", "a b", "a b", false);
	expect_plan("a AND NOT b", "a b", "a", false);
	expect_plan("a OR NOT b", "a b", "a", true);
	expect_plan("NOT (a OR b)", "a b", "", true);
	expect_plan("NOT (NOT a AND NOT b)", "a b", "a b", false);
	expect_plan("(a AND b) OR (NOT a AND c)", "a b c", "a b c", false);
	expect_plan("a AND NOT a", "a", "a", false);
	expect_plan("a OR NOT a", "a", "a", true);
	expect_plan("NOT NOT zz AND ab AND \"and\" AND NOT Z", "Z ab and zz", "ab and zz", false);
}

static void test_out_of_memory(void)
{
	struct fan_tagexpr *e = (struct fan_tagexpr *)&e;
	struct fan_tagexpr_error err = { 0 };

	fan_tagexpr_fail_alloc_after(1);
	CHECK(fan_tagexpr_parse("a OR b", 6, &e, &err) == -ENOMEM);
	CHECK(e == NULL);
	CHECK(strcmp(err.message, "out of memory") == 0);
	CHECK(fan_tagexpr_parse("a OR b", 6, &e, &err) == 0 && e != NULL);
	fan_tagexpr_free(e);
	fan_tagexpr_free(NULL);
}

int main(void)
{
	test_precedence();
	test_not_binding();
	test_parentheses();
	test_keyword_case_and_quotes();
	test_errors();
	test_limit_tag_length();
	test_limit_length();
	test_limit_depth();
	test_limit_terms();
	test_matching();
	test_tags_and_scan();
	test_largest_program();
	test_out_of_memory();
	test_property();
	if (failures) {
		fprintf(stderr, "tagexpr: %d check(s) failed\n", failures);
		return 1;
	}
	return 0;
}
