/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tagexpr.h - campaign audiences by tag expression: parse once, match
 * every user with no allocation.
 *
 * Grammar (EBNF; tokens are separated by whitespace, or by nothing where a
 * parenthesis or a quote ends one):
 *
 *   expr    = or ;
 *   or      = and , { "OR" , and } ;
 *   and     = not , { "AND" , not } ;
 *   not     = "NOT" , not | primary ;
 *   primary = tag | "(" , expr , ")" ;
 *   tag     = word | '"' , word , '"' ;
 *   word    = 1-64 bytes of A-Z a-z 0-9 _ - . :     (docs/PROTOCOL.md 5.2)
 *   space   = " " | "\t" | "\r" | "\n" ;
 *
 * NOT binds tightest, then AND, then OR; AND and OR group from the left.
 * The keywords are case-insensitive (AND, and, And). A bare word that
 * spells a keyword is the keyword; a tag of that name is quoted ("and",
 * "NOT"); a longer word is a tag (NOT:x, android, a-or-b). Any tag may be quoted; a quoted tag holds the same bytes as a bare
 * one (no escapes, no spaces). Tags themselves are case-sensitive bytes:
 * vip and VIP are two tags.
 *
 * Limits: FAN_TAGEXPR_BYTES_MAX bytes of text, FAN_TAGEXPR_DEPTH_MAX nested
 * parentheses (a NOT does not nest: NOT NOT NOT a is read in a loop),
 * FAN_TAGEXPR_TERMS_MAX tags written (a tag written twice counts twice).
 *
 * Compiled form (one malloc, owned by the caller, read-only afterwards so
 * any number of threads may match with it at once):
 *
 *   - the distinct tags, sorted bytewise, copied into the block: tag i is
 *     bit i of a 256-bit "has" set built once per user by searching the
 *     user's sorted tags once per distinct tag;
 *   - the program, postfix, u16 per op: high byte the opcode (TAG, AND, OR,
 *     NOT), low byte the tag's index for TAG. NOT NOT x is emitted as x, so
 *     there are at most 4 * FAN_TAGEXPR_TERMS_MAX - 2 ops;
 *   - the stack of the evaluator is FAN_TAGEXPR_STACK_MAX bytes on the
 *     caller's stack (every nesting level holds at most an OR and an AND
 *     operand while its right side is evaluated);
 *   - for an expression of at most 8 distinct tags (most audiences), its
 *     truth table too (256 bits): matching is then the searches and one
 *     bit lookup, without running the program.
 *
 * Which users to visit (fan_tagexpr_needs_scan, fan_tagexpr_seed_tags): an
 * expression that is true for a user with none of its tags (NOT vip,
 * a OR NOT b) can match a user who is in no posting list, so the core must
 * scan all its users. Otherwise every match holds at least one seed tag: a
 * tag written at least once under an even number of NOTs. (Proof: the
 * expression is monotone falling in the tags written only under odd NOTs,
 * so a user with no seed tag matches no more than a user with no tag at
 * all, which does not match.) The union of the seeds' posting lists then
 * covers the audience; each candidate is still checked with
 * fan_tagexpr_match. The cover is sound, not minimal (a AND b seeds both).
 */
#ifndef FANOUT_TAGEXPR_H
#define FANOUT_TAGEXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "include/bounds.h"
#include "store/users.h"

#define FAN_TAGEXPR_BYTES_MAX 4096u /* text of one expression */
#define FAN_TAGEXPR_DEPTH_MAX 32u   /* nested parentheses */
#define FAN_TAGEXPR_TERMS_MAX 256u  /* tags written, repeats included */
#define FAN_TAGEXPR_TAG_BYTES_MAX HRL_TAG_BYTES_MAX
#define FAN_TAGEXPR_OPS_MAX (4u * FAN_TAGEXPR_TERMS_MAX - 2u)
#define FAN_TAGEXPR_STACK_MAX (2u * FAN_TAGEXPR_DEPTH_MAX + 3u)
#define FAN_TAGEXPR_MESSAGE_BYTES_MAX 96u

_Static_assert(FAN_TAGEXPR_TERMS_MAX <= 256u, "a TAG op names its tag in one byte");
_Static_assert(FAN_TAGEXPR_OPS_MAX <= UINT16_MAX, "op count fits a u16");
_Static_assert(FAN_TAGEXPR_TAG_BYTES_MAX == 64u, "the messages say 64 bytes");
_Static_assert(FAN_TAGEXPR_STACK_MAX <= UINT8_MAX, "stack index fits a byte");

/* A user's tags: sorted bytewise (shorter first on a common prefix), unique,
 * as struct sto_user keeps them (tags, tag_count). */
struct fan_tagset {
	const struct sto_bytes *tags;
	uint32_t count;
};

/* Why a parse failed: offset is the byte (from 0) the message points at;
 * message is NUL-terminated, e.g. "expected a tag or '(' at 7". */
struct fan_tagexpr_error {
	uint32_t offset;
	char message[FAN_TAGEXPR_MESSAGE_BYTES_MAX];
};

struct fan_tagexpr;

/*
 * Parse text[0..len) (not NUL-terminated; a NUL byte is an error) into *out.
 * Returns 0, or:
 *   -EINVAL  syntax: bad character, misplaced or missing token, unbalanced
 *            parenthesis, unterminated quote, empty tag or expression, a
 *            tag longer than 64 bytes (as the tag rule of TAG_ADD);
 *   -E2BIG   a limit of the expression: length, nesting, number of tags;
 *   -ENOMEM  no memory (err says so).
 * On error *out is NULL and err (if not NULL) says what and where. The
 * expression keeps no pointer into text. Any core may call it; the result
 * belongs to the caller until fan_tagexpr_free.
 */
int fan_tagexpr_parse(const char *text, size_t len, struct fan_tagexpr **out,
		     struct fan_tagexpr_error *err);

/* Free an expression (NULL is allowed). The core that parsed it frees it. */
void fan_tagexpr_free(struct fan_tagexpr *e);

/*
 * true if a user with these tags is in the audience. No allocation, no
 * error: one search of user_tags per distinct tag of e, then the program on
 * a fixed stack. Safe from any thread while e lives.
 */
bool fan_tagexpr_match(const struct fan_tagexpr *e, const struct fan_tagset *user_tags);

/* The distinct tags e mentions, sorted bytewise: the count, and in *tags an
 * array that lives as long as e. */
uint32_t fan_tagexpr_tags(const struct fan_tagexpr *e, const struct sto_bytes **tags);

/* The seed tags (see the top of this file): a sorted subset of
 * fan_tagexpr_tags, living as long as e. */
uint32_t fan_tagexpr_seed_tags(const struct fan_tagexpr *e, const struct sto_bytes **tags);

/* true if e matches a user with none of its tags: every user must be
 * checked, posting lists do not cover the audience. */
bool fan_tagexpr_needs_scan(const struct fan_tagexpr *e);

/* Test hook: when set, the n-th allocation from now (1 = next) fails. */
void fan_tagexpr_fail_alloc_after(long n);

#endif
