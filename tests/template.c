/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Message templates (fanout/template.h): literals, variables and defaults,
 * the "{{{{" escape, every compile error with its byte position, unknown
 * variables, each step of the variant fallback order, JSON and form
 * escaping, the snprintf-like return on truncation, renders into buffers of
 * exactly the needed size, out of memory at each allocation of compile,
 * and a seeded random round trip checked against a reference renderer and
 * by decoding the escaped output.
 */
#include "fanout/template.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit.h"

#define OUT_BYTES_MAX (1u << 20)

static char out_buf[OUT_BYTES_MAX];

static struct fan_template *compile(const char *text, const struct fan_template_vars *known)
{
	struct fan_template *t = NULL;
	struct fan_template_error err = { 0 };
	int rc = fan_template_compile(text, strlen(text), known, &t, &err);
	if (rc) {
		fprintf(stderr, "compile \"%s\": %d at %u: %s\n", text, rc, err.pos, err.msg);
		failures++;
	}
	return t;
}

/* Renders into out_buf, NUL-terminated for comparison. */
static const char *render(const struct fan_template *t, const struct fan_template_value *vals,
			  uint32_t count, enum fan_escape mode)
{
	struct fan_template_values v = { .value = vals, .count = count };
	size_t n = fan_template_render(t, &v, mode, out_buf, sizeof(out_buf) - 1);
	if (n >= sizeof(out_buf))
		return "(too long)";
	out_buf[n] = '\0';
	return out_buf;
}

static struct fan_template_value val(const char *s)
{
	return (struct fan_template_value){ .ptr = s, .len = s ? (uint32_t)strlen(s) : 0 };
}

static void expect_error(const char *text, size_t len, const struct fan_template_vars *known, int rc,
			 uint32_t pos, const char *msg_part)
{
	struct fan_template *t = (struct fan_template *)1;
	struct fan_template_error err = { 0 };
	int got = fan_template_compile(text, len, known, &t, &err);
	if (got != rc || err.pos != pos || t != NULL || !strstr(err.msg, msg_part)) {
		fprintf(stderr, "error for \"%.*s\": got %d at %u \"%s\", want %d at %u \"%s\"\n",
			(int)(len < 60 ? len : 60), text, got, err.pos, err.msg, rc, pos, msg_part);
		failures++;
	}
	if (got == 0)
		fan_template_free(t);
}

static void test_literals(void)
{
	const char *texts[] = { "", "Hello, world", "a { b } c }} d", "{", "}", "{}", "x{", "tail }}}" };
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct fan_template *t = compile(texts[i], NULL);
		if (!t)
			continue;
		CHECK(fan_template_var_count(t) == 0);
		CHECK(fan_template_slot_count(t) == 0);
		CHECK(strcmp(render(t, NULL, 0, FAN_ESCAPE_NONE), texts[i]) == 0);
		fan_template_free(t);
	}
}

static void test_variables(void)
{
	struct fan_template *t = compile("Hi {{first_name}}, order {{row.order_id}} for {{user_id}}; "
					"bye {{first_name}}",
					NULL);
	if (!t)
		return;
	CHECK(fan_template_var_count(t) == 3);
	CHECK(fan_template_slot_count(t) == 3);
	const struct fan_template_var *a = fan_template_var(t, 0), *r = fan_template_var(t, 1),
				     *u = fan_template_var(t, 2);
	CHECK(a->slot == 0 && a->kind == FAN_TEMPLATE_VAR_ATTR && a->key_len == 10 &&
	      memcmp(a->key, "first_name", 10) == 0);
	CHECK(r->slot == 1 && r->kind == FAN_TEMPLATE_VAR_ROW && r->key_len == 8 &&
	      memcmp(r->key, "order_id", 8) == 0);
	CHECK(u->slot == 2 && u->kind == FAN_TEMPLATE_VAR_BUILTIN && u->key_len == 7 &&
	      memcmp(u->key, "user_id", 7) == 0);
	struct fan_template_value v[3] = { val("Ann"), val("A-17"), val("u42") };
	CHECK(strcmp(render(t, v, 3, FAN_ESCAPE_NONE), "Hi Ann, order A-17 for u42; bye Ann") == 0);
	/* values are bytes, not strings: a len shorter than the text is honoured */
	v[0].len = 2;
	CHECK(strcmp(render(t, v, 3, FAN_ESCAPE_NONE), "Hi An, order A-17 for u42; bye An") == 0);
	fan_template_free(t);

	/* adjacent placeholders, names with every allowed character */
	t = compile("{{a}}{{B.c-d_9}}{{row.x.y}}", NULL);
	if (t) {
		struct fan_template_value w[3] = { val("1"), val("2"), val("3") };
		CHECK(strcmp(render(t, w, 3, FAN_ESCAPE_NONE), "123") == 0);
		fan_template_free(t);
	}
}

static void test_defaults(void)
{
	struct fan_template *t = compile("Hi {{name|friend}}! {{city}}. {{x|}}|{{tier|gold}}}", NULL);
	if (!t)
		return;
	struct fan_template_value v[4] = { val("Bo"), val("Oslo"), val("X"), val("silver") };
	CHECK(strcmp(render(t, v, 4, FAN_ESCAPE_NONE), "Hi Bo! Oslo. X|silver}") == 0);
	struct fan_template_value missing[4] = { val(NULL), val(NULL), val(NULL), val(NULL) };
	CHECK(strcmp(render(t, missing, 4, FAN_ESCAPE_NONE), "Hi friend! . |gold}") == 0);
	struct fan_template_value empty[4] = { { "", 0 }, { "", 0 }, { "", 0 }, { "", 0 } };
	CHECK(strcmp(render(t, empty, 4, FAN_ESCAPE_NONE), "Hi friend! . |gold}") == 0);
	/* slots past values.count are missing */
	CHECK(strcmp(render(t, v, 1, FAN_ESCAPE_NONE), "Hi Bo! . |gold}") == 0);
	CHECK(strcmp(render(t, NULL, 0, FAN_ESCAPE_NONE), "Hi friend! . |gold}") == 0);
	fan_template_free(t);

	/* a default may hold '|', '{', '}' and spaces; it ends at the first "}}" */
	t = compile("{{a|x | {y} z}}", NULL);
	if (t) {
		CHECK(strcmp(render(t, NULL, 0, FAN_ESCAPE_NONE), "x | {y} z") == 0);
		fan_template_free(t);
	}
}

static void test_brace_escapes(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "{{{{", "{{" },
		{ "a {{{{not a var}} b", "a {{not a var}} b" },
		{ "{{{{x}}}}", "{{x}}}}" },
		{ "{{{x}}}", "{V}" },
		{ "{\"k\":{{{x}}}}", "{\"k\":{V}}" },
		{ "{{{{{{x}}", "{{V" },
		{ "{{{{{x}}", "{{{x}}" },
		{ "{{{{{{{x}}", "{{{V" },
		{ "{{{{{{{{", "{{{{" },
	};
	struct fan_template_value v[1] = { val("V") };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fan_template *t = compile(cases[i].text, NULL);
		if (!t)
			continue;
		const char *got = render(t, v, 1, FAN_ESCAPE_NONE);
		if (strcmp(got, cases[i].want) != 0) {
			fprintf(stderr, "escape \"%s\": got \"%s\", want \"%s\"\n", cases[i].text, got,
				cases[i].want);
			failures++;
		}
		fan_template_free(t);
	}
}

#define ERR(text, rc, pos, msg) expect_error(text, sizeof(text) - 1, NULL, rc, pos, msg)

static void test_compile_errors(void)
{
	ERR("ab{{name", -EINVAL, 2, "unterminated");
	ERR("ab{{name}", -EINVAL, 2, "unterminated");
	ERR("ab{{", -EINVAL, 2, "unterminated");
	ERR("{{x|abc", -EINVAL, 0, "unterminated");
	ERR("{{x|abc}", -EINVAL, 0, "unterminated");
	ERR("x{{}}", -EINVAL, 3, "empty variable name");
	ERR("x{{|d}}", -EINVAL, 3, "empty variable name");
	ERR("{{na me}}", -EINVAL, 4, "bad character");
	ERR("ok {{ name }}", -EINVAL, 5, "bad character");
	ERR("{{n!}}", -EINVAL, 3, "bad character");
	ERR("{{\xc3\xa9}}", -EINVAL, 2, "bad character");
	ERR("hi {{row.}}", -EINVAL, 9, "empty column");
	ERR("{{x|a{{b}}}}", -EINVAL, 5, "do not nest");
	ERR("ab\xff", -EINVAL, 2, "UTF-8");
	ERR("\xe2\x82", -EINVAL, 0, "UTF-8");
	ERR("a\xc0\x80", -EINVAL, 1, "UTF-8");
	ERR("ab\xed\xa0\x80", -EINVAL, 2, "UTF-8");
	ERR("\xe0\x9f\xbf", -EINVAL, 0, "UTF-8");
	ERR("\xf0\x8f\xbf\xbf", -EINVAL, 0, "UTF-8");
	ERR("\xe2\x82\x41", -EINVAL, 0, "UTF-8");
	ERR("\xf4\x90\x80\x80", -EINVAL, 0, "UTF-8");
	ERR("{{x|\x80}}", -EINVAL, 4, "UTF-8");

	/* names: 64 bytes, row columns 64 bytes after "row." */
	char name[200];
	memset(name, 'k', sizeof(name));
	memcpy(name, "{{", 2);
	memcpy(name + 2 + 64, "}}", 2);
	struct fan_template *t = NULL;
	CHECK(fan_template_compile(name, 2 + 64 + 2, NULL, &t, NULL) == 0);
	fan_template_free(t);
	name[2 + 64] = 'k';
	memcpy(name + 2 + 65, "}}", 2);
	expect_error(name, 2 + 65 + 2, NULL, -EINVAL, 2 + 64, "longer than 64");
	memcpy(name + 2, "row.", 4);
	memcpy(name + 2 + 4 + 64, "}}", 2);
	CHECK(fan_template_compile(name, 2 + 4 + 64 + 2, NULL, &t, NULL) == 0);
	fan_template_free(t);
	memset(name + 2 + 4, 'k', 65);
	memcpy(name + 2 + 4 + 65, "}}", 2);
	expect_error(name, 2 + 4 + 65 + 2, NULL, -EINVAL, 2 + 4 + 64, "longer than 64");

	/* size limit: exactly the limit compiles, a byte more is -E2BIG at the limit */
	char *big = malloc(FAN_TEMPLATE_BYTES_MAX + 1);
	if (!big)
		abort();
	memset(big, 'a', FAN_TEMPLATE_BYTES_MAX + 1);
	CHECK(fan_template_compile(big, FAN_TEMPLATE_BYTES_MAX, NULL, &t, NULL) == 0);
	if (t)
		CHECK(fan_template_render(t, NULL, FAN_ESCAPE_JSON, NULL, 0) == FAN_TEMPLATE_BYTES_MAX);
	fan_template_free(t);
	expect_error(big, FAN_TEMPLATE_BYTES_MAX + 1, NULL, -E2BIG, FAN_TEMPLATE_BYTES_MAX, "longer than");

	/* placeholder limit: 256 compile, the 257th is -E2BIG at its "{{" */
	size_t n = 0;
	for (uint32_t i = 0; i <= FAN_TEMPLATE_PLACEHOLDERS_MAX; i++)
		n += (size_t)sprintf(big + n, "{{v%u}}", i % 300);
	size_t last = n - strlen("{{v256}}");
	CHECK(fan_template_compile(big, last, NULL, &t, NULL) == 0);
	if (t) {
		CHECK(fan_template_var_count(t) == FAN_TEMPLATE_PLACEHOLDERS_MAX);
		fan_template_free(t);
	}
	expect_error(big, n, NULL, -E2BIG, (uint32_t)last, "more than 256 placeholders");
	free(big);

	/* no error structure: still the return code */
	CHECK(fan_template_compile("{{", 2, NULL, &t, NULL) == -EINVAL && t == NULL);
}

static void test_unknown_variables(void)
{
	const char *names[] = { "first_name", "row.order_id", "user_id" };
	struct fan_template_vars known = { .name = names, .count = 3, .any_attr = false };

	expect_error("Hi {{frist_name}}!", strlen("Hi {{frist_name}}!"), &known, -ENOENT, 5,
		     "unknown template variable 'frist_name'");
	expect_error("{{row.order}}", strlen("{{row.order}}"), &known, -ENOENT, 2,
		     "unknown template variable 'row.order'");
	/* a builtin is a variable like any other: unknown unless listed */
	known.count = 2;
	expect_error("{{first_name}} {{user_id}}", strlen("{{first_name}} {{user_id}}"), &known, -ENOENT,
		     17, "'user_id'");
	known.count = 3;

	/* known names take their index as slot */
	struct fan_template *t = compile("{{user_id}}:{{first_name}}", &known);
	if (t) {
		CHECK(fan_template_slot_count(t) == 3);
		CHECK(fan_template_var_count(t) == 2);
		CHECK(fan_template_var(t, 0)->slot == 2 && fan_template_var(t, 1)->slot == 0);
		struct fan_template_value v[3] = { val("Ann"), val(NULL), val("u1") };
		CHECK(strcmp(render(t, v, 3, FAN_ESCAPE_NONE), "u1:Ann") == 0);
		fan_template_free(t);
	}

	/* any_attr: attribute keys outside the list get slots after it; rows do not */
	known.any_attr = true;
	t = compile("{{city}} {{first_name}} {{zip}} {{city}}", &known);
	if (t) {
		CHECK(fan_template_slot_count(t) == 5);
		CHECK(fan_template_var(t, 0)->slot == 3);
		CHECK(fan_template_var(t, 1)->slot == 0);
		CHECK(fan_template_var(t, 2)->slot == 4);
		struct fan_template_value v[5] = { val("Ann"), val(NULL), val(NULL), val("Rome"), val("00100") };
		CHECK(strcmp(render(t, v, 5, FAN_ESCAPE_NONE), "Rome Ann 00100 Rome") == 0);
		fan_template_free(t);
	}
	expect_error("{{row.city}}", strlen("{{row.city}}"), &known, -ENOENT, 2, "'row.city'");
}

static struct fan_template *tag_template(const char *tag)
{
	return compile(tag, NULL);
}

static const char *picked(const struct fan_template_set *s, unsigned channel, const char *locale)
{
	const struct fan_template *t = fan_template_set_pick(s, channel, locale, strlen(locale));
	return t ? render(t, NULL, 0, FAN_ESCAPE_NONE) : "(none)";
}

static void test_variants(void)
{
	enum { PUSH = 1, SMS = 2 };
	struct fan_template_set *s = calloc(1, sizeof(*s));
	struct fan_template *t_def = tag_template("default"), *t_any_zh = tag_template("any/zh"),
			   *t_any_zhcn = tag_template("any/zh-CN"), *t_push = tag_template("push/any"),
			   *t_push_zh = tag_template("push/zh"), *t_push_zhcn = tag_template("push/zh-CN"),
			   *t_push_hant = tag_template("push/zh-Hant");
	if (!s || !t_def || !t_any_zh || !t_any_zhcn || !t_push || !t_push_zh || !t_push_zhcn ||
	    !t_push_hant)
		abort();

	CHECK(strcmp(picked(s, PUSH, "zh-CN"), "(none)") == 0);
	/* each step of the order, added from the last to the first */
	CHECK(fan_template_set_add(s, FAN_TEMPLATE_CHANNEL_ANY, NULL, 0, t_def) == 0);
	CHECK(strcmp(picked(s, PUSH, "zh-CN"), "default") == 0);
	CHECK(fan_template_set_add(s, FAN_TEMPLATE_CHANNEL_ANY, "zh", 2, t_any_zh) == 0);
	CHECK(strcmp(picked(s, PUSH, "zh-CN"), "any/zh") == 0);
	CHECK(fan_template_set_add(s, FAN_TEMPLATE_CHANNEL_ANY, "zh-CN", 5, t_any_zhcn) == 0);
	CHECK(strcmp(picked(s, PUSH, "zh-CN"), "any/zh-CN") == 0);
	CHECK(fan_template_set_add(s, PUSH, NULL, 0, t_push) == 0);
	CHECK(strcmp(picked(s, PUSH, "zh-CN"), "push/any") == 0);
	CHECK(fan_template_set_add(s, PUSH, "zh", 2, t_push_zh) == 0);
	CHECK(strcmp(picked(s, PUSH, "zh-CN"), "push/zh") == 0);
	CHECK(fan_template_set_add(s, PUSH, "zh-cn", 5, t_push_zhcn) == 0);
	CHECK(strcmp(picked(s, PUSH, "zh-CN"), "push/zh-CN") == 0);

	/* the full set, from other recipients */
	CHECK(strcmp(picked(s, PUSH, "ZH-cn"), "push/zh-CN") == 0);
	CHECK(strcmp(picked(s, PUSH, "zh-TW"), "push/zh") == 0);
	CHECK(strcmp(picked(s, PUSH, "zh"), "push/zh") == 0);
	CHECK(strcmp(picked(s, PUSH, "en-US"), "push/any") == 0);
	CHECK(strcmp(picked(s, PUSH, ""), "push/any") == 0);
	CHECK(strcmp(picked(s, SMS, "zh-CN"), "any/zh-CN") == 0);
	CHECK(strcmp(picked(s, SMS, "zh-SG"), "any/zh") == 0);
	CHECK(strcmp(picked(s, SMS, "en"), "default") == 0);
	CHECK(strcmp(picked(s, SMS, ""), "default") == 0);
	CHECK(strcmp(picked(s, SMS, "zhx"), "default") == 0); /* "zh" is not a prefix of "zhx" */
	CHECK(strcmp(picked(s, SMS, "zh-"), "any/zh") == 0);
	/* a tag is cut one subtag at a time */
	CHECK(fan_template_set_add(s, PUSH, "zh-Hant", 7, t_push_hant) == 0);
	CHECK(strcmp(picked(s, PUSH, "zh-Hant-TW"), "push/zh-Hant") == 0);
	CHECK(strcmp(picked(s, PUSH, "zh-Hans-CN"), "push/zh") == 0);
	/* a locale longer than any variant's is treated as none */
	CHECK(strcmp(picked(s, PUSH, "zh-aaaaaaaa-bbbbbbbb-cccccccc-dddddddd"), "push/any") == 0);

	/* adding: bad locales, duplicates (case folded), a full set */
	CHECK(fan_template_set_add(s, PUSH, "z", 1, t_def) == -EINVAL);
	CHECK(fan_template_set_add(s, PUSH, "zh-", 3, t_def) == -EINVAL);
	CHECK(fan_template_set_add(s, PUSH, "zh-C", 4, t_def) == -EINVAL);
	CHECK(fan_template_set_add(s, PUSH, "zh_CN", 5, t_def) == -EINVAL);
	CHECK(fan_template_set_add(s, PUSH, "1a", 2, t_def) == -EINVAL);
	CHECK(fan_template_set_add(s, PUSH, "en-abcdefghi", 12, t_def) == -EINVAL);
	CHECK(fan_template_set_add(s, 256, NULL, 0, t_def) == -EINVAL);
	CHECK(fan_template_set_add(s, PUSH, "ZH-CN", 5, t_def) == -EEXIST);
	CHECK(fan_template_set_add(s, FAN_TEMPLATE_CHANNEL_ANY, NULL, 0, t_def) == -EEXIST);
	unsigned extra = 0;
	while (s->count < FAN_TEMPLATE_VARIANTS_MAX)
		CHECK(fan_template_set_add(s, 10 + extra++, NULL, 0, t_def) == 0);
	CHECK(fan_template_set_add(s, 200, NULL, 0, t_def) == -ENOSPC);
	CHECK(strcmp(picked(s, PUSH, "zh-CN"), "push/zh-CN") == 0);

	fan_template_free(t_def);
	fan_template_free(t_any_zh);
	fan_template_free(t_any_zhcn);
	fan_template_free(t_push);
	fan_template_free(t_push_zh);
	fan_template_free(t_push_zhcn);
	fan_template_free(t_push_hant);
	free(s);
}

static void test_json(void)
{
	struct fan_template *t = compile("{\"t\":\"{{v|d\"\\ef}}\"}\n", NULL);
	if (!t)
		return;
	/* literals and defaults are escaped too */
	CHECK(strcmp(render(t, NULL, 0, FAN_ESCAPE_JSON), "{\\\"t\\\":\\\"d\\\"\\\\ef\\\"}\\n") == 0);
	static const char raw[] = "q\"b\\s/\n\r\t\b\f\x01\x1f\x7f \xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80";
	static const char want[] = "{\\\"t\\\":\\\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001F\x7f "
				   "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\\\"}\\n";
	struct fan_template_value v[1] = { val(raw) };
	CHECK(strcmp(render(t, v, 1, FAN_ESCAPE_JSON), want) == 0);
	/* NUL inside a value */
	struct fan_template_value z[1] = { { "a\0b", 3 } };
	CHECK(strcmp(render(t, z, 1, FAN_ESCAPE_JSON), "{\\\"t\\\":\\\"a\\u0000b\\\"}\\n") == 0);
	fan_template_free(t);
}

static void test_form(void)
{
	struct fan_template *t = compile("Hi {{n|dear friend}} & co=1", NULL);
	if (!t)
		return;
	CHECK(strcmp(render(t, NULL, 0, FAN_ESCAPE_FORM), "Hi+dear+friend+%26+co%3D1") == 0);
	struct fan_template_value v[1] = { val("a b&c=d/\xc3\xa9*-._~+%\n") };
	CHECK(strcmp(render(t, v, 1, FAN_ESCAPE_FORM), "Hi+a+b%26c%3Dd%2F%C3%A9*-._%7E%2B%25%0A+%26+co%3D1") ==
	      0);
	fan_template_free(t);
}

/* For every cap below the full length: the same return, the first cap bytes, nothing written past cap. */
static void check_truncation(const struct fan_template *t, const struct fan_template_values *v)
{
	static char full[4096], part[4096 + 16];
	for (int m = 0; m < FAN_ESCAPE_COUNT; m++) {
		size_t n = fan_template_render(t, v, m, full, sizeof(full));
		CHECK(n <= sizeof(full));
		if (n > sizeof(full))
			continue;
		CHECK(fan_template_render(t, v, m, NULL, 0) == n);
		for (size_t cap = 0; cap <= n; cap++) {
			memset(part, '#', sizeof(part));
			CHECK(fan_template_render(t, v, m, part, cap) == n);
			CHECK(memcmp(part, full, cap) == 0);
			CHECK(part[cap] == '#');
		}
		/* exactly sized, on the heap so a sanitizer sees a byte too many */
		char *exact = malloc(n ? n : 1);
		if (!exact)
			abort();
		CHECK(fan_template_render(t, v, m, exact, n) == n);
		CHECK(memcmp(exact, full, n) == 0);
		free(exact);
	}
}

static void test_truncation(void)
{
	struct fan_template *t = compile("Hi \"{{name|you}}\", order {{row.o}} \xe4\xb8\xad {{x}}.", NULL);
	if (!t)
		return;
	struct fan_template_value v[3] = { val("A\"n\n\x01n"), val("x y/z"), val(NULL) };
	struct fan_template_values vals = { v, 3 };
	CHECK(fan_template_render(t, &vals, FAN_ESCAPE_NONE, NULL, 0) == strlen("Hi \"A\"n\n\x01n\", order x y/z \xe4\xb8\xad ."));
	CHECK(fan_template_render(t, &vals, FAN_ESCAPE_JSON, out_buf, 5) ==
	      strlen("Hi \\\"A\\\"n\\n\\u0001n\\\", order x y/z \xe4\xb8\xad ."));
	check_truncation(t, &vals);
	struct fan_template_values none = { NULL, 0 };
	check_truncation(t, &none);
	fan_template_free(t);
}

/* Each allocation of compile failing in turn: -ENOMEM, nothing returned, nothing leaked. */
static void test_out_of_memory(void)
{
	static const char text[] = "Hi {{first_name|there}}, order {{row.o}}.";
	struct fan_template *t;
	struct fan_template_error err;
	for (long k = 1; k <= 2; k++) {
		t = (struct fan_template *)1;
		fan_template_fail_alloc_after(k);
		CHECK(fan_template_compile(text, sizeof(text) - 1, NULL, &t, &err) == -ENOMEM);
		CHECK(t == NULL && strstr(err.msg, "out of memory"));
	}
	fan_template_fail_alloc_after(3); /* two allocations: the third is never reached */
	CHECK(fan_template_compile(text, sizeof(text) - 1, NULL, &t, &err) == 0);
	fan_template_fail_alloc_after(0);
	if (t) {
		CHECK(strcmp(render(t, NULL, 0, FAN_ESCAPE_NONE), "Hi there, order .") == 0);
		fan_template_free(t);
	}
}

/* ---- random round trip --------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 16) % n);
}

static const char *const alphabet[] = { "a", "Z", " ", "{", "}", "|", "\"", "\\", "\n", "\x01",
					"%", "+", "=", "&", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80" };
#define ALPHABET_COUNT (sizeof(alphabet) / sizeof(alphabet[0]))
static const char *const var_names[] = { "a", "first_name", "row.col", "user_id", "x.y-z" };
#define VAR_COUNT 5

struct sbuf {
	char *p;
	size_t len;
};

static void add(struct sbuf *b, const char *s, size_t n)
{
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Random text from the alphabet; braces left out when no_braces. */
static void random_text(struct sbuf *b, uint32_t max, bool no_braces)
{
	uint32_t n = rnd(max + 1);
	for (uint32_t i = 0; i < n; i++) {
		const char *s = alphabet[rnd(ALPHABET_COUNT)];
		if (no_braces && (s[0] == '{' || s[0] == '}'))
			s = "b";
		add(b, s, strlen(s));
	}
}

/* The template source for literal s: every "{{" written "{{{{". */
static void encode_literal(struct sbuf *src, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '{' && i + 1 < n && s[i + 1] == '{') {
			add(src, "{{{{", 4);
			i++;
		} else {
			add(src, s + i, 1);
		}
	}
}

/* Reference escapers, written apart from the library's. */
static void ref_escape(struct sbuf *b, enum fan_escape mode, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[8];
		if (mode == FAN_ESCAPE_JSON && (c == '"' || c == '\\'))
			sprintf(tmp, "\\%c", c);
		else if (mode == FAN_ESCAPE_JSON && c == '\n')
			strcpy(tmp, "\\n");
		else if (mode == FAN_ESCAPE_JSON && c < 0x20)
			sprintf(tmp, "\\u%04X", c);
		else if (mode == FAN_ESCAPE_FORM && c == ' ')
			strcpy(tmp, "+");
		else if (mode == FAN_ESCAPE_FORM && !strchr("*-._", c) && !(c >= '0' && c <= '9') &&
			 !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z'))
			sprintf(tmp, "%%%02X", c);
		else
			tmp[0] = (char)c, tmp[1] = '\0';
		add(b, tmp, strlen(tmp));
	}
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes escaped output back to plain bytes; returns the length or -1 if malformed. */
static long decode(enum fan_escape mode, const char *s, size_t n, char *dst)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (mode == FAN_ESCAPE_JSON && c == '\\') {
			if (i + 1 >= n)
				return -1;
			char e = s[++i];
			if (e == 'u') {
				if (i + 4 >= n || s[i + 1] != '0' || s[i + 2] != '0')
					return -1;
				dst[o++] = (char)(hexval(s[i + 3]) * 16 + hexval(s[i + 4]));
				i += 4;
			} else {
				const char *from = "\"\\nrtbf", *to = "\"\\\n\r\t\b\f";
				const char *k = strchr(from, e);
				if (!k || !e)
					return -1;
				dst[o++] = to[k - from];
			}
		} else if (mode == FAN_ESCAPE_JSON && c < 0x20) {
			return -1;
		} else if (mode == FAN_ESCAPE_FORM && c == '%') {
			if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return -1;
			dst[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else if (mode == FAN_ESCAPE_FORM && c == '+') {
			dst[o++] = ' ';
		} else if (mode == FAN_ESCAPE_FORM && c > 0x7E) {
			return -1;
		} else {
			dst[o++] = (char)c;
		}
	}
	return (long)o;
}

static void test_round_trip(void)
{
	enum { ROUNDS = 3000, BUF = 1 << 16 };
	char *src_p = malloc(BUF), *plain_p = malloc(BUF), *exp_p = malloc(BUF), *got = malloc(BUF),
	     *dec = malloc(BUF), *vals_p = malloc(BUF);
	if (!src_p || !plain_p || !exp_p || !got || !dec || !vals_p)
		abort();
	for (int round = 0; round < ROUNDS; round++) {
		struct sbuf src = { src_p, 0 }, plain = { plain_p, 0 }, vals = { vals_p, 0 };
		struct fan_template_value v[VAR_COUNT];
		uint32_t slot_of[VAR_COUNT];
		uint32_t used = 0;
		/* values: missing, empty or random text */
		for (int i = 0; i < VAR_COUNT; i++) {
			uint32_t kind = rnd(4);
			size_t at = vals.len;
			random_text(&vals, 12, false);
			v[i].ptr = kind == 0 ? NULL : vals.p + at;
			v[i].len = kind == 1 ? 0 : (uint32_t)(vals.len - at);
			slot_of[i] = UINT32_MAX;
		}
		uint32_t pieces = rnd(8);
		for (uint32_t p = 0; p <= pieces; p++) {
			size_t at = plain.len;
			random_text(&plain, 10, false);
			encode_literal(&src, plain.p + at, plain.len - at);
			if (p == pieces)
				break;
			uint32_t k = rnd(VAR_COUNT);
			if (slot_of[k] == UINT32_MAX)
				slot_of[k] = used++;
			add(&src, "{{", 2);
			add(&src, var_names[k], strlen(var_names[k]));
			const char *def = "";
			size_t def_len = 0;
			if (rnd(2)) {
				size_t d = vals.len;
				add(&src, "|", 1);
				random_text(&vals, 6, true);
				def = vals.p + d;
				def_len = vals.len - d;
				add(&src, def, def_len);
			}
			add(&src, "}}", 2);
			if (v[k].ptr && v[k].len)
				add(&plain, v[k].ptr, v[k].len);
			else
				add(&plain, def, def_len);
		}
		struct fan_template *t = NULL;
		struct fan_template_error err = { 0 };
		int rc = fan_template_compile(src.p, src.len, NULL, &t, &err);
		CHECK(rc == 0);
		if (rc) {
			fprintf(stderr, "round %d: \"%.*s\": %s at %u\n", round, (int)src.len, src.p,
				err.msg, err.pos);
			continue;
		}
		CHECK(fan_template_slot_count(t) == used && fan_template_var_count(t) == used);
		struct fan_template_value by_slot[VAR_COUNT];
		for (int i = 0; i < VAR_COUNT; i++)
			if (slot_of[i] != UINT32_MAX)
				by_slot[slot_of[i]] = v[i];
		struct fan_template_values values = { by_slot, used };
		for (int m = 0; m < FAN_ESCAPE_COUNT; m++) {
			struct sbuf exp = { exp_p, 0 };
			ref_escape(&exp, m, plain.p, plain.len);
			size_t n = fan_template_render(t, &values, m, got, BUF);
			CHECK(n == exp.len && memcmp(got, exp.p, n) == 0);
			long d = decode(m, got, n, dec);
			CHECK(d == (long)plain.len && memcmp(dec, plain.p, plain.len) == 0);
			if (n > 0) { /* a random short buffer gives the same length and prefix */
				size_t cap = rnd((uint32_t)n);
				CHECK(fan_template_render(t, &values, m, dec, cap) == n);
				CHECK(memcmp(dec, got, cap) == 0);
			}
		}
		fan_template_free(t);
	}
	free(src_p);
	free(plain_p);
	free(exp_p);
	free(got);
	free(dec);
	free(vals_p);
}

int main(void)
{
	test_literals();
	test_variables();
	test_defaults();
	test_brace_escapes();
	test_compile_errors();
	test_unknown_variables();
	test_variants();
	test_json();
	test_form();
	test_truncation();
	test_out_of_memory();
	test_round_trip();
	if (failures)
		fprintf(stderr, "%d checks failed\n", failures);
	return failures ? 1 : 0;
}
