/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template_bench - render a typical push template with three variables
 * (an attribute with a default, two columns of the uploaded row) for N
 * recipients, in each escaping mode, next to snprintf filling the same
 * text with %s as a peer.
 *
 *   template_bench [--n N] [--mode none|json|form|snprintf|all]
 *
 * One line per mode: name=template_render_<mode> n=... ns_per_render=...
 * renders_per_sec=... bytes_per_render=... Values come from a pool of
 * 1024 recipients made before the clock starts; one recipient in eight
 * has no first name (the default is used). For an instruction count run
 * one mode under
 *   valgrind --tool=callgrind --toggle-collect=fan_template_render
 * and divide the total by N.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanout/template.h"

#define POOL 1024u
#define OUT_BYTES 1024u

static const char template_text[] =
	"Hi {{first_name|there}}, your order {{row.order_id}} has shipped and arrives "
	"{{row.eta}}. Track it in the app.";
static const char printf_text[] = "Hi %s, your order %s has shipped and arrives %s. Track it in the app.";

static const char *const first_names[] = { "Ann", "Bo", "Chen Wei", "Dolores", "\xc3\x89lodie",
					   "Jo\xc3\xa3o", "Kai", "\xe6\x9d\x8e\xe9\x9b\xb7" };
static const char *const etas[] = { "today", "tomorrow", "on Friday", "in 3 \"business\" days" };

static char names_pool[POOL][32], orders_pool[POOL][16], etas_pool[POOL][32];
static struct fan_template_value values_pool[POOL][3];

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void make_pool(void)
{
	for (unsigned i = 0; i < POOL; i++) {
		snprintf(names_pool[i], sizeof(names_pool[i]), "%s", i % 8 == 7 ? "" : first_names[i % 8]);
		snprintf(orders_pool[i], sizeof(orders_pool[i]), "A-%07u", i * 7919u % 10000000u);
		snprintf(etas_pool[i], sizeof(etas_pool[i]), "%s", etas[i % 4]);
		values_pool[i][0] = (struct fan_template_value){ names_pool[i], (uint32_t)strlen(names_pool[i]) };
		values_pool[i][1] = (struct fan_template_value){ orders_pool[i], (uint32_t)strlen(orders_pool[i]) };
		values_pool[i][2] = (struct fan_template_value){ etas_pool[i], (uint32_t)strlen(etas_pool[i]) };
	}
}

static void run_render(const struct fan_template *t, enum fan_escape mode, const char *name, unsigned long n)
{
	static char out[OUT_BYTES];
	unsigned long bytes = 0, sum = 0;
	double t0 = now_ns();
	for (unsigned long i = 0; i < n; i++) {
		struct fan_template_values v = { values_pool[i % POOL], 3 };
		size_t len = fan_template_render(t, &v, mode, out, sizeof(out));
		bytes += len;
		sum += (unsigned char)out[len / 2];
	}
	double ns = (now_ns() - t0) / (double)n;
	printf("name=template_render_%s n=%lu ns_per_render=%.1f renders_per_sec=%.0f bytes_per_render=%.1f check=%lu\n",
	       name, n, ns, 1e9 / ns, (double)bytes / (double)n, sum % 1000);
}

static void run_snprintf(unsigned long n)
{
	static char out[OUT_BYTES];
	unsigned long bytes = 0, sum = 0;
	double t0 = now_ns();
	for (unsigned long i = 0; i < n; i++) {
		unsigned k = (unsigned)(i % POOL);
		const char *first = names_pool[k][0] ? names_pool[k] : "there";
		int len = snprintf(out, sizeof(out), printf_text, first, orders_pool[k], etas_pool[k]);
		bytes += (unsigned long)len;
		sum += (unsigned char)out[len / 2];
	}
	double ns = (now_ns() - t0) / (double)n;
	printf("name=snprintf_none n=%lu ns_per_render=%.1f renders_per_sec=%.0f bytes_per_render=%.1f check=%lu\n",
	       n, ns, 1e9 / ns, (double)bytes / (double)n, sum % 1000);
}

int main(int argc, char **argv)
{
	unsigned long n = 10000000;
	const char *mode = "all";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--n") && i + 1 < argc) {
			n = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			mode = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [--n N] [--mode none|json|form|snprintf|all]\n", argv[0]);
			return 2;
		}
	}
	if (n == 0)
		n = 1;

	const char *names[] = { "first_name", "row.order_id", "row.eta" };
	struct fan_template_vars known = { .name = names, .count = 3 };
	struct fan_template_error err;
	struct fan_template *t;
	if (fan_template_compile(template_text, strlen(template_text), &known, &t, &err) != 0) {
		fprintf(stderr, "compile: %s at %u\n", err.msg, err.pos);
		return 1;
	}
	make_pool();

	bool all = !strcmp(mode, "all");
	if (all || !strcmp(mode, "none"))
		run_render(t, FAN_ESCAPE_NONE, "none", n);
	if (all || !strcmp(mode, "json"))
		run_render(t, FAN_ESCAPE_JSON, "json", n);
	if (all || !strcmp(mode, "form"))
		run_render(t, FAN_ESCAPE_FORM, "form", n);
	if (all || !strcmp(mode, "snprintf"))
		run_snprintf(n);
	fan_template_free(t);
	return 0;
}
