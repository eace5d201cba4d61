/* SPDX-License-Identifier: Apache-2.0 */
/*
 * herald.c - the `herald` command-line tool, a thin shell over libherald.
 *
 *   herald [global flags] <command> [args]
 *
 * Every command is one row of cli_cmds[]: its words ("app create"), the
 * usage of its arguments, how many it takes, whether it needs AUTH, the
 * command flags it takes (--vendor, --user, --limit, ...: cli_flags[] says
 * where each value goes) and the function that runs it. main() parses
 * flags (they may appear anywhere before "--"), finds the row, checks the
 * arity and refuses command flags the row does not take, connects, says
 * HELLO, authenticates, runs the row's function and maps the outcome to
 * the exit status:
 *
 *   0  ok
 *   1  the engine answered with an error   (stderr: herald: E_NOT_FOUND: message)
 *   2  usage error (bad flag, argument, address or secret)
 *   3  connection or transport error (refused, timeout, malformed answer)
 *   4  authentication failed (E_AUTH_FAILED)
 *
 * Output is text for people by default and one JSON document with --json.
 * Strings are escaped by hand (json_str); the engine only hands back UTF-8.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "include/herald.h"

#define CLI_SERVER_DEFAULT     "127.0.0.1:7600"
#define CLI_TIMEOUT_MS_DEFAULT 5000
#define CLI_TIMEOUT_MS_MAX     (24 * 3600 * 1000)
#define CLI_PING_BYTES         16u
#define CLI_NAME               "herald-cli"
#define CLI_HISTORY_LIMIT_DEFAULT 100u
#define CLI_HISTORY_PAGES_MAX  100000u /* --all: pages followed before giving up */
_Static_assert(CLI_HISTORY_LIMIT_DEFAULT <= HRL_HISTORY_LIMIT_MAX, "default page fits the limit");

enum cli_exit {
	EXIT_OK = 0,
	EXIT_ENGINE = 1,
	EXIT_USAGE = 2,
	EXIT_TRANSPORT = 3,
	EXIT_AUTH = 4,
};

/*
 * Flags that belong to some commands only, a bit each; a command lists
 * the ones it takes (cli_cmd.flags) and main() refuses the others.
 */
enum cli_flag_bit {
	CF_VENDOR = 1u << 0,   /* bind, receipt put */
	CF_PLATFORM = 1u << 1, /* bind */
	CF_USER = 1u << 2,     /* receipt put */
	CF_MESSAGE = 1u << 3,
	CF_CAMPAIGN = 1u << 4,
	CF_CHANNEL = 1u << 5,
	CF_STATE = 1u << 6,
	CF_TIME = 1u << 7,
	CF_REASON = 1u << 8,
	CF_LIMIT = 1u << 9,    /* user history */
	CF_CURSOR = 1u << 10,
	CF_ALL = 1u << 11,
};
#define CLI_FLAG_BITS 16
_Static_assert(CF_ALL < (1u << CLI_FLAG_BITS), "a name slot per command flag");

struct cli {
	const char *server;
	const char *app;
	const char *secret_hex;
	const char *secret_file;
	const char *vendor;   /* bind, receipt put --vendor */
	const char *platform; /* bind --platform */
	const char *user;     /* receipt put --user ... --reason */
	const char *message;
	const char *campaign;
	const char *channel;
	const char *state;
	const char *time;
	const char *reason;
	const char *limit;    /* user history --limit, --cursor, --all */
	const char *cursor;
	bool all;
	const char *timeout_text; /* --timeout, checked once all flags are read */
	int timeout_ms;
	bool json;
	bool help;
	unsigned flags_seen; /* enum cli_flag_bit of the command flags given */
	const char *flag_names[CLI_FLAG_BITS]; /* each command flag's name, by bit */
	struct herald_conn *conn;
	char server_name[256]; /* from HELLO, for ping */
};

struct cli_cmd {
	const char *group; /* first word of two-word commands, else NULL */
	const char *name;
	const char *args;
	const char *help;
	int args_min;
	int args_max; /* < 0: no limit */
	bool auth;
	unsigned flags; /* enum cli_flag_bit: the command flags it takes */
	int (*run)(struct cli *cli, char **argv, int argc);
};

/* ---- output helpers -------------------------------------------------------- */

/* n bytes as a JSON string. */
static void json_strn(const char *s, size_t n)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; p < (const unsigned char *)s + n;
	     p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

static void json_str(const char *s)
{
	json_strn(s, strlen(s));
}

/* n bytes for a terminal: control characters shown as \n, \t, \xNN. */
static void text_strn(const char *s, size_t n)
{
	for (const unsigned char *p = (const unsigned char *)s; p < (const unsigned char *)s + n;
	     p++) {
		if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\t')
			fputs("\\t", stdout);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
}

/* A name from a table, or the number when the table has none. */
static void json_enum(const char *name, unsigned v)
{
	if (name)
		json_str(name);
	else
		printf("%u", v);
}

static const char *enum_text(const char *name, unsigned v, char *buf, size_t size)
{
	if (name)
		return name;
	snprintf(buf, size, "%u", v);
	return buf;
}

/* ISO 8601 UTC with milliseconds. */
static const char *time_text(uint64_t unix_ms, char *buf, size_t size)
{
	time_t secs = (time_t)(unix_ms / 1000);
	struct tm tm;
	char day[32];

	if (!gmtime_r(&secs, &tm) || !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, size, "%" PRIu64 "ms", unix_ms);
		return buf;
	}
	snprintf(buf, size, "%s.%03uZ", day, (unsigned)(unix_ms % 1000));
	return buf;
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("herald: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n(try 'herald --help')\n", stderr);
	return EXIT_USAGE;
}

/* Map a libherald result to an exit status, telling the user what went wrong. */
static int fail(struct cli *cli, int rc, const char *what)
{
	if (rc > 0) {
		const char *msg = cli->conn ? herald_errmsg(cli->conn) : "";
		fprintf(stderr, "herald: %s: %s\n", herald_err_name(rc), *msg ? msg : what);
		return rc == HRL_E_AUTH_FAILED ? EXIT_AUTH : EXIT_ENGINE;
	}
	if (rc == -EINVAL || rc == -EMSGSIZE) {
		fprintf(stderr, "herald: %s: %s (an argument is malformed or too long)\n", what,
			herald_strerror(rc));
		return EXIT_USAGE;
	}
	if (rc == -EPROTO)
		fprintf(stderr,
			"herald: %s: malformed answer (is a Herald v1 engine listening there?)\n",
			what);
	else
		fprintf(stderr, "herald: %s: %s\n", what, herald_strerror(rc));
	return EXIT_TRANSPORT;
}

static void print_ok(struct cli *cli)
{
	if (cli->json)
		puts("{\"ok\":true}");
	else
		puts("ok");
}

/* ---- argument parsing helpers ------------------------------------------------ */

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > UINT64_MAX)
		return false;
	*out = (uint64_t)v;
	return true;
}

static bool parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	if (!parse_u64(s, &v) || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A HISTORY cursor: exactly 2 * HRL_CURSOR_BYTES hex digits, either case. */
static bool parse_cursor(const char *s, uint8_t cursor[HRL_CURSOR_BYTES])
{
	if (strlen(s) != 2 * HRL_CURSOR_BYTES)
		return false;
	for (unsigned i = 0; i < HRL_CURSOR_BYTES; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		cursor[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static void cursor_hex(const uint8_t cursor[HRL_CURSOR_BYTES], char out[2 * HRL_CURSOR_BYTES + 1])
{
	for (unsigned i = 0; i < HRL_CURSOR_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", cursor[i]);
}

/* A required command flag is missing. */
static int missing_flag(const char *cmd, const char *flag, const char *what)
{
	fprintf(stderr, "herald: %s needs %s (%s)\n(try 'herald %s --help')\n", cmd, flag, what,
		cmd);
	return EXIT_USAGE;
}

/* ---- commands ------------------------------------------------------------------ */

static int cmd_ping(struct cli *cli, char **argv, int argc)
{
	uint8_t payload[CLI_PING_BYTES];
	uint64_t rtt_ns = 0;

	for (unsigned i = 0; i < CLI_PING_BYTES; i++)
		payload[i] = (uint8_t)('a' + i);
	int rc = herald_ping(cli->conn, payload, sizeof(payload), &rtt_ns);
	if (rc)
		return fail(cli, rc, "ping");
	if (cli->json) {
		fputs("{\"server\":", stdout);
		json_str(cli->server_name);
		printf(",\"rtt_us\":%.1f}\n", (double)rtt_ns / 1000.0);
	} else {
		printf("pong from %s (%s): time=%.3f ms\n", cli->server, cli->server_name,
		       (double)rtt_ns / 1e6);
	}
	return EXIT_OK;
}

static int cmd_stats(struct cli *cli, char **argv, int argc)
{
	struct herald_stats *s = NULL;
	int rc = herald_stats(cli->conn, &s);
	if (rc)
		return fail(cli, rc, "stats");
	if (cli->json) {
		printf("{\"core_count\":%u,\"cores\":[", s->core_count);
		for (unsigned i = 0; i < s->core_count; i++) {
			const struct herald_core_stats *cs = &s->cores[i];
			printf("%s{\"core\":%u,\"partitions_owned\":%u,\"connections_open\":%" PRIu64
			       ",\"requests_total\":%" PRIu64 ",\"forwarded_total\":%" PRIu64
			       ",\"users\":%" PRIu64 "}",
			       i ? "," : "", cs->core, cs->partitions_owned, cs->connections_open,
			       cs->requests_total, cs->forwarded_total, cs->users);
		}
		puts("]}");
	} else {
		uint64_t conns = 0, reqs = 0, fwd = 0, users = 0, parts = 0;
		printf("%-6s %10s %12s %14s %14s %12s\n", "core", "partitions", "connections",
		       "requests", "forwarded", "users");
		for (unsigned i = 0; i < s->core_count; i++) {
			const struct herald_core_stats *cs = &s->cores[i];
			printf("%-6u %10u %12" PRIu64 " %14" PRIu64 " %14" PRIu64 " %12" PRIu64 "\n",
			       cs->core, cs->partitions_owned, cs->connections_open,
			       cs->requests_total, cs->forwarded_total, cs->users);
			parts += cs->partitions_owned;
			conns += cs->connections_open;
			reqs += cs->requests_total;
			fwd += cs->forwarded_total;
			users += cs->users;
		}
		printf("%-6s %10" PRIu64 " %12" PRIu64 " %14" PRIu64 " %14" PRIu64 " %12" PRIu64 "\n",
		       "total", parts, conns, reqs, fwd, users);
	}
	herald_stats_free(s);
	return EXIT_OK;
}

static int cmd_store_stats(struct cli *cli, char **argv, int argc)
{
	struct herald_store_stats *s = NULL;
	char b[16];
	int rc = herald_store_stats(cli->conn, &s);
	if (rc)
		return fail(cli, rc, "store stats");
	if (cli->json) {
		printf("{\"epoch\":%u,\"recovery_ms\":%" PRIu64 ",\"recovered_segments\":%" PRIu64
		       ",\"recovered_records\":%" PRIu64 ",\"torn_tails\":%" PRIu64
		       ",\"corrupt_records\":%" PRIu64 ",\"segment_files\":%u,\"segment_bytes\":%" PRIu64
		       ",\"core_count\":%u,",
		       s->epoch, s->recovery_ms, s->recovered_segments, s->recovered_records,
		       s->torn_tails, s->corrupt_records, s->segment_files, s->segment_bytes,
		       s->core_count);
		printf("\"event_segment_files\":%u,\"event_segment_bytes\":%" PRIu64
		       ",\"receipts_written\":%" PRIu64 ",\"receipts_replayed\":%" PRIu64
		       ",\"event_segments_expired\":%" PRIu64 ",\"cores\":[",
		       s->event_segment_files, s->event_segment_bytes, s->receipts_written,
		       s->receipts_replayed, s->event_segments_expired);
		for (unsigned i = 0; i < s->core_count; i++) {
			const struct herald_core_store_stats *cs = &s->cores[i];
			printf("%s{\"core\":%u,\"records_written\":%" PRIu64 ",\"bytes_written\":%" PRIu64
			       ",\"flushes\":%" PRIu64 ",\"io_errors\":%" PRIu64 ",\"users\":%" PRIu64
			       ",\"compaction\":",
			       i ? "," : "", cs->core, cs->records_written, cs->bytes_written,
			       cs->flushes, cs->io_errors, cs->users);
			json_enum(herald_compaction_name(cs->compaction), cs->compaction);
			printf(",\"compaction_rounds\":%u,\"records_rewritten\":%" PRIu64
			       ",\"segments_deleted\":%" PRIu64 ",\"bytes_reclaimed\":%" PRIu64 "}",
			       cs->compaction_rounds, cs->records_rewritten, cs->segments_deleted,
			       cs->bytes_reclaimed);
		}
		puts("]}");
	} else {
		uint64_t recs = 0, bytes = 0, flushes = 0, errs = 0, users = 0, rounds = 0;
		uint64_t rewritten = 0, deleted = 0, reclaimed = 0;
		printf("epoch:    %u\n", s->epoch);
		printf("recovery: %" PRIu64 " ms: %" PRIu64 " segments, %" PRIu64 " records, %" PRIu64
		       " torn tails, %" PRIu64 " corrupt records\n",
		       s->recovery_ms, s->recovered_segments, s->recovered_records, s->torn_tails,
		       s->corrupt_records);
		printf("segments: %u files, %" PRIu64 " bytes\n", s->segment_files, s->segment_bytes);
		printf("receipts: %" PRIu64 " written, %" PRIu64 " replayed at start-up\n",
		       s->receipts_written, s->receipts_replayed);
		printf("receipt segments: %u files, %" PRIu64 " bytes, %" PRIu64 " expired\n\n",
		       s->event_segment_files, s->event_segment_bytes, s->event_segments_expired);
		printf("%-6s %12s %14s %10s %9s %10s %-11s %7s %10s %8s %14s\n", "core", "records",
		       "bytes", "flushes", "io_errors", "users", "compaction", "rounds", "rewritten",
		       "deleted", "reclaimed");
		for (unsigned i = 0; i < s->core_count; i++) {
			const struct herald_core_store_stats *cs = &s->cores[i];
			printf("%-6u %12" PRIu64 " %14" PRIu64 " %10" PRIu64 " %9" PRIu64 " %10" PRIu64
			       " %-11s %7u %10" PRIu64 " %8" PRIu64 " %14" PRIu64 "\n",
			       cs->core, cs->records_written, cs->bytes_written, cs->flushes,
			       cs->io_errors, cs->users,
			       enum_text(herald_compaction_name(cs->compaction), cs->compaction, b,
					 sizeof(b)),
			       cs->compaction_rounds, cs->records_rewritten, cs->segments_deleted,
			       cs->bytes_reclaimed);
			recs += cs->records_written;
			bytes += cs->bytes_written;
			flushes += cs->flushes;
			errs += cs->io_errors;
			users += cs->users;
			rounds += cs->compaction_rounds;
			rewritten += cs->records_rewritten;
			deleted += cs->segments_deleted;
			reclaimed += cs->bytes_reclaimed;
		}
		printf("%-6s %12" PRIu64 " %14" PRIu64 " %10" PRIu64 " %9" PRIu64 " %10" PRIu64
		       " %-11s %7" PRIu64 " %10" PRIu64 " %8" PRIu64 " %14" PRIu64 "\n",
		       "total", recs, bytes, flushes, errs, users, "", rounds, rewritten, deleted,
		       reclaimed);
	}
	herald_store_stats_free(s);
	return EXIT_OK;
}

static void print_secret(struct cli *cli, const char *app_id, const uint8_t *secret,
			 const uint32_t *secret_version)
{
	char hex[2 * HRL_SECRET_BYTES + 1];

	herald_secret_format(secret, hex);
	if (cli->json) {
		fputs("{\"app_id\":", stdout);
		json_str(app_id);
		printf(",\"secret\":\"%s\"", hex);
		if (secret_version)
			printf(",\"secret_version\":%u", *secret_version);
		puts("}");
	} else {
		printf("app_id: %s\nsecret: %s\n", app_id, hex);
		if (secret_version)
			printf("secret_version: %u\n", *secret_version);
	}
}

static int cmd_app_create(struct cli *cli, char **argv, int argc)
{
	uint8_t secret[HRL_SECRET_BYTES];
	int rc = herald_app_create(cli->conn, argv[0], secret);
	if (rc)
		return fail(cli, rc, "app create");
	print_secret(cli, argv[0], secret, NULL);
	return EXIT_OK;
}

static int cmd_app_list(struct cli *cli, char **argv, int argc)
{
	struct herald_app_list *l = NULL;
	char when[64];
	int rc = herald_app_list(cli->conn, &l);
	if (rc)
		return fail(cli, rc, "app list");
	if (cli->json) {
		fputs("{\"apps\":[", stdout);
		for (uint32_t i = 0; i < l->count; i++) {
			fputs(i ? ",{\"app_id\":" : "{\"app_id\":", stdout);
			json_str(l->apps[i].app_id);
			printf(",\"created_unix_ms\":%" PRIu64 ",\"secret_version\":%u}",
			       l->apps[i].created_unix_ms, l->apps[i].secret_version);
		}
		puts("]}");
	} else {
		printf("%-32s %-24s %s\n", "APP_ID", "CREATED", "SECRET_VERSION");
		for (uint32_t i = 0; i < l->count; i++)
			printf("%-32s %-24s %u\n", l->apps[i].app_id,
			       time_text(l->apps[i].created_unix_ms, when, sizeof(when)),
			       l->apps[i].secret_version);
	}
	herald_app_list_free(l);
	return EXIT_OK;
}

static int cmd_app_rotate(struct cli *cli, char **argv, int argc)
{
	uint8_t secret[HRL_SECRET_BYTES];
	uint32_t version = 0;
	int rc = herald_app_rotate(cli->conn, argv[0], secret, &version);
	if (rc)
		return fail(cli, rc, "app rotate");
	print_secret(cli, argv[0], secret, &version);
	return EXIT_OK;
}

static int cmd_bind(struct cli *cli, char **argv, int argc)
{
	int channel = herald_channel_parse(argv[1]);
	int vendor = cli->vendor ? herald_vendor_parse(cli->vendor) : HRL_VENDOR_NONE;
	int platform = cli->platform ? herald_platform_parse(cli->platform) : HRL_PLATFORM_NONE;
	uint32_t device_id = 0;
	bool created = false;

	if (channel < 0)
		return usage_error("unknown channel '%s' (push sms email wechat webhook)", argv[1]);
	if (vendor < 0)
		return usage_error("unknown vendor '%s' (apns fcm huawei xiaomi oppo vivo honor meizu)",
				   cli->vendor);
	if (platform < 0)
		return usage_error("unknown platform '%s' (android ios harmony web)", cli->platform);
	int rc = herald_bind(cli->conn, argv[0], (uint8_t)channel, (uint8_t)vendor,
			     (uint8_t)platform, argv[2], &device_id, &created);
	if (rc)
		return fail(cli, rc, "bind");
	if (cli->json) {
		fputs("{\"user_id\":", stdout);
		json_str(argv[0]);
		printf(",\"device_id\":%u,\"created\":%s}\n", device_id, created ? "true" : "false");
	} else {
		printf("device_id: %u (%s)\n", device_id, created ? "new" : "already bound");
	}
	return EXIT_OK;
}

static int cmd_unbind(struct cli *cli, char **argv, int argc)
{
	uint32_t device_id;
	if (!parse_u32(argv[1], &device_id))
		return usage_error("bad device id '%s'", argv[1]);
	int rc = herald_unbind(cli->conn, argv[0], device_id);
	if (rc)
		return fail(cli, rc, "unbind");
	print_ok(cli);
	return EXIT_OK;
}

static int cmd_alias_set(struct cli *cli, char **argv, int argc)
{
	char previous[HRL_ALIAS_BYTES_MAX + 1];
	uint32_t device_id;

	if (!parse_u32(argv[1], &device_id))
		return usage_error("bad device id '%s'", argv[1]);
	int rc = herald_alias_set(cli->conn, argv[0], device_id, argv[2], argv[3], previous,
				  sizeof(previous));
	if (rc)
		return fail(cli, rc, "alias set");
	if (cli->json) {
		fputs("{\"previous_alias\":", stdout);
		json_str(previous);
		puts("}");
	} else {
		printf("previous_alias: %s\n", *previous ? previous : "(none)");
	}
	return EXIT_OK;
}

static int cmd_alias_del(struct cli *cli, char **argv, int argc)
{
	uint32_t device_id;
	if (!parse_u32(argv[1], &device_id))
		return usage_error("bad device id '%s'", argv[1]);
	int rc = herald_alias_del(cli->conn, argv[0], device_id, argv[2]);
	if (rc)
		return fail(cli, rc, "alias del");
	print_ok(cli);
	return EXIT_OK;
}

static int cmd_alias_lookup(struct cli *cli, char **argv, int argc)
{
	struct herald_alias_hits *h = NULL;
	int rc = herald_alias_lookup(cli->conn, argv[0], argv[1], &h);
	if (rc)
		return fail(cli, rc, "alias lookup");
	if (cli->json) {
		fputs("{\"alias_type\":", stdout);
		json_str(argv[0]);
		fputs(",\"alias\":", stdout);
		json_str(argv[1]);
		fputs(",\"devices\":[", stdout);
		for (unsigned i = 0; i < h->count; i++) {
			fputs(i ? ",{\"user_id\":" : "{\"user_id\":", stdout);
			json_str(h->hits[i].user_id);
			printf(",\"device_id\":%u}", h->hits[i].device_id);
		}
		puts("]}");
	} else {
		for (unsigned i = 0; i < h->count; i++)
			printf("%s %u\n", h->hits[i].user_id, h->hits[i].device_id);
	}
	herald_alias_hits_free(h);
	return EXIT_OK;
}

static int tag_change(struct cli *cli, char **argv, int argc, bool add)
{
	const char *const *tags = (const char *const *)&argv[1];
	uint16_t changed = 0;
	int rc = add ? herald_tag_add(cli->conn, argv[0], tags, (size_t)argc - 1, &changed)
		     : herald_tag_del(cli->conn, argv[0], tags, (size_t)argc - 1, &changed);
	if (rc)
		return fail(cli, rc, add ? "tag add" : "tag del");
	if (cli->json)
		printf("{\"%s\":%u}\n", add ? "added" : "removed", changed);
	else
		printf("%s: %u\n", add ? "added" : "removed", changed);
	return EXIT_OK;
}

static int cmd_tag_add(struct cli *cli, char **argv, int argc)
{
	return tag_change(cli, argv, argc, true);
}

static int cmd_tag_del(struct cli *cli, char **argv, int argc)
{
	return tag_change(cli, argv, argc, false);
}

static int cmd_attr_set(struct cli *cli, char **argv, int argc)
{
	size_t n = (size_t)argc - 1;
	uint16_t attr_count = 0;
	int rc, status;

	struct herald_attr *attrs = calloc(n, sizeof(*attrs));
	char **keys = calloc(n, sizeof(*keys));
	if (!attrs || !keys) {
		status = fail(cli, -ENOMEM, "attr set");
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		const char *pair = argv[1 + i];
		const char *eq = strchr(pair, '=');
		if (!eq || eq == pair) {
			status = usage_error("expected key=value, got '%s'", pair);
			goto out_free;
		}
		keys[i] = strndup(pair, (size_t)(eq - pair));
		if (!keys[i]) {
			status = fail(cli, -ENOMEM, "attr set");
			goto out_free;
		}
		attrs[i].key = keys[i];
		attrs[i].value = eq + 1;
	}
	rc = herald_attr_set(cli->conn, argv[0], attrs, n, &attr_count);
	if (rc) {
		status = fail(cli, rc, "attr set");
		goto out_free;
	}
	if (cli->json)
		printf("{\"attr_count\":%u}\n", attr_count);
	else
		printf("attr_count: %u\n", attr_count);
	status = EXIT_OK;

out_free:
	for (size_t i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
	free(attrs);
	return status;
}

static void user_json(const struct herald_user *u)
{
	fputs("{\"user_id\":", stdout);
	json_str(u->user_id);
	printf(",\"partition\":%u,\"devices\":[", u->partition);
	for (unsigned i = 0; i < u->device_count; i++) {
		const struct herald_device *d = &u->devices[i];
		printf("%s{\"device_id\":%u,\"channel\":", i ? "," : "", d->device_id);
		json_enum(herald_channel_name(d->channel), d->channel);
		fputs(",\"vendor\":", stdout);
		json_enum(herald_vendor_name(d->vendor), d->vendor);
		fputs(",\"platform\":", stdout);
		json_enum(herald_platform_name(d->platform), d->platform);
		fputs(",\"state\":", stdout);
		json_enum(d->state == 0 ? "active" : NULL, d->state);
		printf(",\"bound_unix_ms\":%" PRIu64 ",\"address\":", d->bound_unix_ms);
		json_str(d->address);
		fputs(",\"aliases\":{", stdout);
		for (unsigned j = 0; j < d->alias_count; j++) {
			if (j)
				putchar(',');
			json_str(d->aliases[j].alias_type);
			putchar(':');
			json_str(d->aliases[j].alias);
		}
		fputs("}}", stdout);
	}
	fputs("],\"tags\":[", stdout);
	for (unsigned i = 0; i < u->tag_count; i++) {
		if (i)
			putchar(',');
		json_str(u->tags[i]);
	}
	fputs("],\"attrs\":{", stdout);
	for (unsigned i = 0; i < u->attr_count; i++) {
		if (i)
			putchar(',');
		json_str(u->attrs[i].key);
		putchar(':');
		json_strn(u->attrs[i].value, u->attrs[i].value_len);
	}
	puts("}}");
}

static void user_text(const struct herald_user *u)
{
	char when[64], b1[16], b2[16], b3[16], b4[16];

	printf("user_id:   %s\npartition: %u\ndevices:   %u\n", u->user_id, u->partition,
	       u->device_count);
	for (unsigned i = 0; i < u->device_count; i++) {
		const struct herald_device *d = &u->devices[i];
		printf("  device %u: %s", d->device_id,
		       enum_text(herald_channel_name(d->channel), d->channel, b1, sizeof(b1)));
		if (d->vendor || d->platform)
			printf(" %s/%s",
			       enum_text(herald_vendor_name(d->vendor), d->vendor, b2, sizeof(b2)),
			       enum_text(herald_platform_name(d->platform), d->platform, b3,
					 sizeof(b3)));
		printf(", %s, bound %s\n",
		       enum_text(d->state == 0 ? "active" : NULL, d->state, b4, sizeof(b4)),
		       time_text(d->bound_unix_ms, when, sizeof(when)));
		printf("    address: %s\n", d->address);
		for (unsigned j = 0; j < d->alias_count; j++)
			printf("    alias:   %s = %s\n", d->aliases[j].alias_type,
			       d->aliases[j].alias);
	}
	printf("tags:      %u\n", u->tag_count);
	for (unsigned i = 0; i < u->tag_count; i++)
		printf("  %s\n", u->tags[i]);
	printf("attrs:     %u\n", u->attr_count);
	for (unsigned i = 0; i < u->attr_count; i++) {
		printf("  %s = ", u->attrs[i].key);
		text_strn(u->attrs[i].value, u->attrs[i].value_len);
		putchar('\n');
	}
}

static int cmd_user_show(struct cli *cli, char **argv, int argc)
{
	struct herald_user *u = NULL;
	int rc = herald_user_show(cli->conn, argv[0], &u);
	if (rc)
		return fail(cli, rc, "user show");
	if (cli->json)
		user_json(u);
	else
		user_text(u);
	herald_user_free(u);
	return EXIT_OK;
}

/* ---- receipts ------------------------------------------------------------------- */

#define STATE_NAMES "queued sent delivered displayed clicked failed recalled"

static int cmd_receipt_put(struct cli *cli, char **argv, int argc)
{
	static const char cmd[] = "receipt put";
	struct herald_receipt r = { .reason = cli->reason ? cli->reason : "" };
	uint64_t recorded_unix_ms = 0;
	char when[64];
	int v;

	if (!cli->user)
		return missing_flag(cmd, "--user", "the user the receipt is for");
	if (!cli->message)
		return missing_flag(cmd, "--message", "the message id, 1 or more");
	if (!cli->channel)
		return missing_flag(cmd, "--channel", "push sms email wechat webhook");
	if (!cli->state)
		return missing_flag(cmd, "--state", STATE_NAMES);
	if (!parse_u64(cli->message, &r.message_id))
		return usage_error("bad --message '%s' (a message id: a number, 1 or more)",
				   cli->message);
	if (cli->campaign && !parse_u64(cli->campaign, &r.campaign_id))
		return usage_error("bad --campaign '%s' (a number; 0 for none)", cli->campaign);
	if ((v = herald_channel_parse(cli->channel)) < 0)
		return usage_error("unknown channel '%s' (push sms email wechat webhook)",
				   cli->channel);
	r.channel = (uint8_t)v;
	if ((v = cli->vendor ? herald_vendor_parse(cli->vendor) : HRL_VENDOR_NONE) < 0)
		return usage_error("unknown vendor '%s' (apns fcm huawei xiaomi oppo vivo honor meizu)",
				   cli->vendor);
	r.vendor = (uint8_t)v;
	if ((v = herald_state_parse(cli->state)) < 0)
		return usage_error("unknown state '%s' (" STATE_NAMES ")", cli->state);
	r.state = (uint8_t)v;
	if (cli->time && !parse_u64(cli->time, &r.event_unix_ms))
		return usage_error("bad --time '%s' (unix time in milliseconds; 0 for now)", cli->time);

	int rc = herald_receipt_put(cli->conn, cli->user, &r, &recorded_unix_ms);
	if (rc)
		return fail(cli, rc, cmd);
	if (cli->json) {
		fputs("{\"user_id\":", stdout);
		json_str(cli->user);
		printf(",\"message_id\":%" PRIu64 ",\"recorded_unix_ms\":%" PRIu64 "}\n",
		       r.message_id, recorded_unix_ms);
	} else {
		printf("recorded: %s (%" PRIu64 ")\n", time_text(recorded_unix_ms, when, sizeof(when)),
		       recorded_unix_ms);
	}
	return EXIT_OK;
}

/* The pages of one `user history`, kept until all are in, then printed. */
struct history_pages {
	struct herald_history **pages;
	size_t count;
	size_t cap;
};

static void history_pages_free(struct history_pages *hp)
{
	for (size_t i = 0; i < hp->count; i++)
		herald_history_free(hp->pages[i]);
	free(hp->pages);
}

static int history_pages_add(struct history_pages *hp, struct herald_history *h)
{
	if (hp->count == hp->cap) {
		size_t cap = hp->cap ? 2 * hp->cap : 8;
		struct herald_history **p = realloc(hp->pages, cap * sizeof(struct herald_history *));
		if (!p)
			return -ENOMEM;
		hp->pages = p;
		hp->cap = cap;
	}
	hp->pages[hp->count++] = h;
	return 0;
}

static void receipt_json(const struct herald_receipt *r)
{
	printf("{\"message_id\":%" PRIu64 ",\"campaign_id\":%" PRIu64 ",\"channel\":",
	       r->message_id, r->campaign_id);
	json_enum(herald_channel_name(r->channel), r->channel);
	fputs(",\"vendor\":", stdout);
	json_enum(herald_vendor_name(r->vendor), r->vendor);
	fputs(",\"state\":", stdout);
	json_enum(herald_state_name(r->state), r->state);
	printf(",\"event_unix_ms\":%" PRIu64 ",\"recorded_unix_ms\":%" PRIu64 ",\"reason\":",
	       r->event_unix_ms, r->recorded_unix_ms);
	json_str(r->reason);
	putchar('}');
}

static void receipt_text(const struct herald_receipt *r)
{
	char recorded[64], event[64], b1[16], b2[16], b3[16];

	printf("%-24s  %-9s  %-7s  %-6s  %12" PRIu64 "  %12" PRIu64 "  %-24s  ",
	       time_text(r->recorded_unix_ms, recorded, sizeof(recorded)),
	       enum_text(herald_state_name(r->state), r->state, b1, sizeof(b1)),
	       enum_text(herald_channel_name(r->channel), r->channel, b2, sizeof(b2)),
	       enum_text(herald_vendor_name(r->vendor), r->vendor, b3, sizeof(b3)), r->message_id,
	       r->campaign_id, time_text(r->event_unix_ms, event, sizeof(event)));
	text_strn(r->reason, strlen(r->reason));
	putchar('\n');
}

static void history_print(struct cli *cli, const char *user_id, const struct history_pages *hp)
{
	const struct herald_history *last = hp->pages[hp->count - 1];
	char next[2 * HRL_CURSOR_BYTES + 1];
	size_t total = 0;

	cursor_hex(last->next_cursor, next);
	for (size_t i = 0; i < hp->count; i++)
		total += hp->pages[i]->count;
	if (cli->json) {
		fputs("{\"user_id\":", stdout);
		json_str(user_id);
		printf(",\"count\":%zu,\"receipts\":[", total);
		for (size_t i = 0, n = 0; i < hp->count; i++)
			for (unsigned j = 0; j < hp->pages[i]->count; j++, n++) {
				if (n)
					putchar(',');
				receipt_json(&hp->pages[i]->receipts[j]);
			}
		putchar(']');
		if (!cli->all)
			printf(",\"next_cursor\":\"%s\"", next);
		puts("}");
		return;
	}
	if (total == 0) {
		printf("no receipts for %s\n", user_id);
	} else {
		printf("%-24s  %-9s  %-7s  %-6s  %12s  %12s  %-24s  %s\n", "RECORDED", "STATE",
		       "CHANNEL", "VENDOR", "MESSAGE_ID", "CAMPAIGN_ID", "EVENT", "REASON");
		for (size_t i = 0; i < hp->count; i++)
			for (unsigned j = 0; j < hp->pages[i]->count; j++)
				receipt_text(&hp->pages[i]->receipts[j]);
	}
	if (!cli->all)
		printf("next_cursor: %s\n", next);
}

static int cmd_user_history(struct cli *cli, char **argv, int argc)
{
	static const char cmd[] = "user history";
	uint8_t cursor[HRL_CURSOR_BYTES] = { 0 };
	uint32_t limit = CLI_HISTORY_LIMIT_DEFAULT;
	struct history_pages hp = { 0 };
	int rc, status;

	if (cli->limit && (!parse_u32(cli->limit, &limit) || limit == 0 ||
			   limit > HRL_HISTORY_LIMIT_MAX)) {
		fprintf(stderr, "herald: bad --limit '%s' (receipts per page, 1 to %u)\n", cli->limit,
			HRL_HISTORY_LIMIT_MAX);
		return EXIT_USAGE;
	}
	if (cli->cursor && !parse_cursor(cli->cursor, cursor))
		return usage_error("bad --cursor '%s' (32 hex digits, a next_cursor printed by "
				   "'herald user history')",
				   cli->cursor);
	for (unsigned page = 0;; page++) {
		struct herald_history *h = NULL;
		if (page == CLI_HISTORY_PAGES_MAX) {
			fprintf(stderr, "herald: %s: more than %u pages; stopped\n", cmd,
				CLI_HISTORY_PAGES_MAX);
			status = EXIT_TRANSPORT;
			goto out_free_pages;
		}
		rc = herald_history(cli->conn, argv[0], cursor, (uint16_t)limit, &h);
		if (rc) {
			status = fail(cli, rc, cmd);
			goto out_free_pages;
		}
		if (history_pages_add(&hp, h)) {
			herald_history_free(h);
			status = fail(cli, -ENOMEM, cmd);
			goto out_free_pages;
		}
		if (!cli->all || herald_cursor_is_end(h->next_cursor))
			break;
		if (memcmp(h->next_cursor, cursor, HRL_CURSOR_BYTES) == 0) {
			/* The same request again would get the same answer, for ever. */
			fprintf(stderr, "herald: %s: the engine handed back the cursor it was given; "
					"paging would not end\n",
				cmd);
			status = EXIT_TRANSPORT;
			goto out_free_pages;
		}
		memcpy(cursor, h->next_cursor, HRL_CURSOR_BYTES);
	}
	history_print(cli, argv[0], &hp);
	status = EXIT_OK;

out_free_pages:
	history_pages_free(&hp);
	return status;
}

/* The funnel of one channel: counts by state, index enum hrl_state. */
struct funnel {
	uint8_t channel;
	uint64_t by_state[HRL_STATE_COUNT];
};

/* States in funnel order, then the ones beside it. */
static const uint8_t funnel_steps[] = { HRL_STATE_QUEUED, HRL_STATE_SENT, HRL_STATE_DELIVERED,
					HRL_STATE_DISPLAYED, HRL_STATE_CLICKED };
static const uint8_t funnel_aside[] = { HRL_STATE_FAILED, HRL_STATE_RECALLED };
_Static_assert(sizeof(funnel_steps) + sizeof(funnel_aside) + 1 == HRL_STATE_COUNT,
	       "every receipt state is in the funnel line");

static void funnel_text(const struct funnel *f)
{
	char b[16];
	uint64_t top = f->by_state[HRL_STATE_QUEUED];

	printf("funnel %s: ", enum_text(herald_channel_name(f->channel), f->channel, b, sizeof(b)));
	for (size_t i = 0; i < sizeof(funnel_steps); i++) {
		uint8_t st = funnel_steps[i];
		printf("%s%s %" PRIu64, i ? " > " : "", herald_state_name(st), f->by_state[st]);
		if (i && top)
			printf(" (%.1f%%)", 100.0 * (double)f->by_state[st] / (double)top);
	}
	for (size_t i = 0; i < sizeof(funnel_aside); i++)
		printf("%s%s %" PRIu64, i ? ", " : "; ", herald_state_name(funnel_aside[i]),
		       f->by_state[funnel_aside[i]]);
	putchar('\n');
}

static void funnel_json(const struct funnel *f)
{
	fputs("{\"channel\":", stdout);
	json_enum(herald_channel_name(f->channel), f->channel);
	for (unsigned st = HRL_STATE_QUEUED; st < HRL_STATE_COUNT; st++)
		printf(",\"%s\":%" PRIu64, herald_state_name(st), f->by_state[st]);
	putchar('}');
}

static int cmd_campaign_counters(struct cli *cli, char **argv, int argc)
{
	struct herald_campaign_counters *cc = NULL;
	struct funnel funnels[HRL_CH_COUNT];
	size_t nfunnels = 0;
	uint64_t campaign_id;
	char b1[16], b2[16];

	if (!parse_u64(argv[0], &campaign_id))
		return usage_error("bad campaign id '%s' (a number)", argv[0]);
	int rc = herald_campaign_counters(cli->conn, campaign_id, &cc);
	if (rc)
		return fail(cli, rc, "campaign counters");
	/* Entries come sorted by channel: one funnel per run of a channel. */
	for (unsigned i = 0; i < cc->count; i++) {
		const struct herald_counter *ct = &cc->counters[i];
		if (nfunnels == 0 || funnels[nfunnels - 1].channel != ct->channel) {
			if (nfunnels == HRL_CH_COUNT)
				break; /* NEVER: the decoder allows only HRL_CH_COUNT - 1 channels */
			funnels[nfunnels] = (struct funnel){ .channel = ct->channel };
			nfunnels++;
		}
		funnels[nfunnels - 1].by_state[ct->state] = ct->count;
	}
	if (cli->json) {
		printf("{\"campaign_id\":%" PRIu64 ",\"counters\":[", campaign_id);
		for (unsigned i = 0; i < cc->count; i++) {
			const struct herald_counter *ct = &cc->counters[i];
			fputs(i ? ",{\"channel\":" : "{\"channel\":", stdout);
			json_enum(herald_channel_name(ct->channel), ct->channel);
			fputs(",\"state\":", stdout);
			json_enum(herald_state_name(ct->state), ct->state);
			printf(",\"count\":%" PRIu64 "}", ct->count);
		}
		fputs("],\"funnels\":[", stdout);
		for (size_t i = 0; i < nfunnels; i++) {
			if (i)
				putchar(',');
			funnel_json(&funnels[i]);
		}
		puts("]}");
	} else if (cc->count == 0) {
		printf("no receipts for campaign %" PRIu64 "\n", campaign_id);
	} else {
		printf("%-8s  %-9s  %12s\n", "CHANNEL", "STATE", "COUNT");
		for (unsigned i = 0; i < cc->count; i++) {
			const struct herald_counter *ct = &cc->counters[i];
			printf("%-8s  %-9s  %12" PRIu64 "\n",
			       enum_text(herald_channel_name(ct->channel), ct->channel, b1, sizeof(b1)),
			       enum_text(herald_state_name(ct->state), ct->state, b2, sizeof(b2)),
			       ct->count);
		}
		putchar('\n');
		for (size_t i = 0; i < nfunnels; i++)
			funnel_text(&funnels[i]);
	}
	herald_campaign_counters_free(cc);
	return EXIT_OK;
}

static const struct cli_cmd cli_cmds[] = {
	{ NULL, "ping", "", "Say HELLO (and AUTH when a secret is given) and time one PING.",
	  0, 0, false, 0, cmd_ping },
	{ NULL, "stats", "", "Per-core counters of the engine.", 0, 0, true, 0, cmd_stats },
	{ "store", "stats", "",
	  "Counters of the durable store: recovery, segment files, writes and compaction.\n"
	  "For the engine: epoch (this run's number, one more at each start), what the\n"
	  "start-up replay took and found (ms, segments, records, torn tails, corrupt\n"
	  "records), and the segment files on disk now. Per core: records, bytes and\n"
	  "flushes (write + fdatasync) since start, I/O errors, users, the compaction state\n"
	  "(idle, rewriting, syncing, wait_delete), its rounds, records rewritten, segments\n"
	  "deleted and bytes reclaimed. The receipt log: receipts written since start and\n"
	  "replayed at start-up (to rebuild the campaign counters), its segment files and\n"
	  "bytes on disk, and the segments retention deleted. Any app or the admin may ask.",
	  0, 0, true, 0, cmd_store_stats },
	{ "app", "create", "<app_id>",
	  "Create an app (admin). Prints the app id and its new secret as 64 hex digits;\n"
	  "the secret is shown only once.",
	  1, 1, true, 0, cmd_app_create },
	{ "app", "list", "", "List apps with their creation time and secret version (admin).",
	  0, 0, true, 0, cmd_app_list },
	{ "app", "rotate", "<app_id>",
	  "Give an app a new secret (admin, or the app itself). The old one stops working.",
	  1, 1, true, 0, cmd_app_rotate },
	{ NULL, "bind", "<user> <channel> <address> [--vendor V --platform P]",
	  "Bind an address to a user; prints the device id. Channels: push sms email wechat\n"
	  "webhook. For push, --vendor (apns fcm huawei xiaomi oppo vivo honor meizu) and\n"
	  "--platform (android ios harmony web) are required; other channels take neither.",
	  3, 3, true, CF_VENDOR | CF_PLATFORM, cmd_bind },
	{ NULL, "unbind", "<user> <device_id>", "Remove a device and its aliases.", 2, 2, true,
	  0, cmd_unbind },
	{ "alias", "set", "<user> <device_id> <type> <alias>",
	  "Set the device's alias of this type; prints the alias it replaced.", 4, 4, true,
	  0, cmd_alias_set },
	{ "alias", "del", "<user> <device_id> <type>", "Delete the device's alias of this type.",
	  3, 3, true, 0, cmd_alias_del },
	{ "alias", "lookup", "<type> <alias>",
	  "List the devices (user and device id) that hold an alias.", 2, 2, true, 0,
	  cmd_alias_lookup },
	{ "tag", "add", "<user> <tag>...", "Add tags to a user; prints how many were new.", 2, -1,
	  true, 0, cmd_tag_add },
	{ "tag", "del", "<user> <tag>...", "Remove tags from a user; prints how many it had.", 2,
	  -1, true, 0, cmd_tag_del },
	{ "attr", "set", "<user> key=value...",
	  "Set user attributes; an empty value (key=) deletes the key. tz must be an IANA\n"
	  "zone name, locale a BCP 47 tag. Prints the user's attribute count.",
	  2, -1, true, 0, cmd_attr_set },
	{ "user", "show", "<user>", "Show a user's devices, aliases, tags and attributes.", 1, 1,
	  true, 0, cmd_user_show },
	{ "user", "history", "<user> [--limit N] [--cursor HEX] [--all]",
	  "List a user's receipts, newest first (the order the engine recorded them).\n"
	  "One page of --limit receipts (1 to 1000, default 100), then the cursor of the\n"
	  "next page as 32 hex digits (all zero: nothing older); --cursor HEX continues\n"
	  "from there. --all follows the cursors to the oldest receipt and prints them all.\n"
	  "The user need not exist: no receipts is not an error.",
	  1, 1, true, CF_LIMIT | CF_CURSOR | CF_ALL, cmd_user_history },
	{ "receipt", "put",
	  "--user U --message ID --channel C --state S [--vendor V] [--campaign ID] "
	  "[--time MS] [--reason TEXT]",
	  "Record a receipt: where message ID stands for user U on channel C. States: queued\n"
	  "sent delivered displayed clicked failed recalled. Channels: push sms email wechat\n"
	  "webhook; push needs --vendor (apns fcm huawei xiaomi oppo vivo honor meizu), the\n"
	  "others take none. --campaign: the campaign id (default 0, no campaign). --time:\n"
	  "when the state was reached, unix milliseconds (default 0: now). --reason: up to\n"
	  "64 printable ASCII characters, required for failed. Prints when the engine\n"
	  "recorded it. The user need not exist.",
	  0, 0, true,
	  CF_USER | CF_MESSAGE | CF_CAMPAIGN | CF_CHANNEL | CF_VENDOR | CF_STATE | CF_TIME |
		  CF_REASON,
	  cmd_receipt_put },
	{ "campaign", "counters", "<campaign_id>",
	  "Count a campaign's receipts per channel and state, with a funnel per channel.\n"
	  "The funnel: queued > sent > delivered > displayed > clicked, each in percent of\n"
	  "queued, then failed and recalled. A recipient that went through several states\n"
	  "counts once in each. The counts are this app's; campaign 0 counts the messages\n"
	  "sent outside any campaign.",
	  1, 1, true, 0, cmd_campaign_counters },
};
#define CLI_CMD_COUNT (sizeof(cli_cmds) / sizeof(cli_cmds[0]))

/* ---- help ------------------------------------------------------------------------ */

static void cmd_words(const struct cli_cmd *c, char *buf, size_t size)
{
	if (c->group)
		snprintf(buf, size, "%s %s", c->group, c->name);
	else
		snprintf(buf, size, "%s", c->name);
}

/* The first sentence of a command's help, on one line. */
static void print_summary(FILE *f, const char *help)
{
	for (const char *p = help; *p; p++) {
		fputc(*p == '\n' ? ' ' : *p, f);
		if (*p == '.' && (p[1] == ' ' || p[1] == '\n' || p[1] == '\0'))
			break;
	}
	fputc('\n', f);
}

static void print_usage(FILE *f)
{
	char words[64];

	fputs("usage: herald [global flags] <command> [args]\n\ncommands:\n", f);
	for (size_t i = 0; i < CLI_CMD_COUNT; i++) {
		cmd_words(&cli_cmds[i], words, sizeof(words));
		if (*cli_cmds[i].args)
			fprintf(f, "  %-14s %s\n", words, cli_cmds[i].args);
		else
			fprintf(f, "  %s\n", words);
		fputs("      ", f);
		print_summary(f, cli_cmds[i].help);
	}
	fputs("\n'herald <command> --help' tells more about a command.\n", f);
	fputs("\nglobal flags (environment):\n"
	      "  --server HOST:PORT   (HERALD_SERVER)       engine address,\n"
	      "                                             default " CLI_SERVER_DEFAULT "\n"
	      "  --app APP_ID         (HERALD_APP)          app to act as, default admin\n"
	      "  --secret HEX         (HERALD_SECRET)       the app's secret, 64 hex digits\n"
	      "  --secret-file PATH   (HERALD_SECRET_FILE)  file holding the secret; for admin the\n"
	      "                                             engine writes <data-dir>/admin.secret\n"
	      "  --timeout MS         (HERALD_TIMEOUT_MS)   connect and answer timeout, default 5000\n"
	      "  --json                                     print JSON instead of text\n"
	      "  -h, --help                                 this text; after a command, its help\n"
	      "\nexit status: 0 ok, 1 the engine answered an error, 2 usage error,\n"
	      "3 connection or transport error, 4 authentication failed.\n",
	      f);
}

static void print_group_usage(FILE *f, const char *group)
{
	fprintf(f, "usage: herald [global flags] %s <subcommand> [args]\n\nsubcommands:\n", group);
	for (size_t i = 0; i < CLI_CMD_COUNT; i++)
		if (cli_cmds[i].group && strcmp(cli_cmds[i].group, group) == 0)
			fprintf(f, "  %s %s%s%s\n", group, cli_cmds[i].name,
				*cli_cmds[i].args ? " " : "", cli_cmds[i].args);
}

static void print_cmd_help(const struct cli_cmd *c)
{
	char words[64];
	cmd_words(c, words, sizeof(words));
	printf("usage: herald [global flags] %s%s%s\n\n%s\n", words, *c->args ? " " : "", c->args,
	       c->help);
	if (c->auth)
		puts("\nNeeds a secret (--secret, --secret-file, HERALD_SECRET, HERALD_SECRET_FILE).");
	puts("Global flags: see 'herald --help'.");
}

/* ---- main ------------------------------------------------------------------------- */

static bool is_group(const char *word)
{
	for (size_t i = 0; i < CLI_CMD_COUNT; i++)
		if (cli_cmds[i].group && strcmp(cli_cmds[i].group, word) == 0)
			return true;
	return false;
}

static const struct cli_cmd *find_cmd(const char *w0, const char *w1)
{
	for (size_t i = 0; i < CLI_CMD_COUNT; i++) {
		const struct cli_cmd *c = &cli_cmds[i];
		if (!c->group && strcmp(c->name, w0) == 0)
			return c;
		if (c->group && w1 && strcmp(c->group, w0) == 0 && strcmp(c->name, w1) == 0)
			return c;
	}
	return NULL;
}

/* Flags that take a value: where each one goes, and its command bit (0: global). */
struct cli_flag {
	const char *name;
	size_t offset; /* of its const char * in struct cli */
	unsigned bit;  /* enum cli_flag_bit, 0 for global flags */
};

static const struct cli_flag cli_flags[] = {
	{ "--server", offsetof(struct cli, server), 0 },
	{ "--app", offsetof(struct cli, app), 0 },
	{ "--secret", offsetof(struct cli, secret_hex), 0 },
	{ "--secret-file", offsetof(struct cli, secret_file), 0 },
	{ "--timeout", offsetof(struct cli, timeout_text), 0 },
	{ "--vendor", offsetof(struct cli, vendor), CF_VENDOR },
	{ "--platform", offsetof(struct cli, platform), CF_PLATFORM },
	{ "--user", offsetof(struct cli, user), CF_USER },
	{ "--message", offsetof(struct cli, message), CF_MESSAGE },
	{ "--campaign", offsetof(struct cli, campaign), CF_CAMPAIGN },
	{ "--channel", offsetof(struct cli, channel), CF_CHANNEL },
	{ "--state", offsetof(struct cli, state), CF_STATE },
	{ "--time", offsetof(struct cli, time), CF_TIME },
	{ "--reason", offsetof(struct cli, reason), CF_REASON },
	{ "--limit", offsetof(struct cli, limit), CF_LIMIT },
	{ "--cursor", offsetof(struct cli, cursor), CF_CURSOR },
};
#define CLI_FLAG_COUNT (sizeof(cli_flags) / sizeof(cli_flags[0]))

static const struct cli_flag *find_flag(const char *name)
{
	for (size_t i = 0; i < CLI_FLAG_COUNT; i++)
		if (strcmp(cli_flags[i].name, name) == 0)
			return &cli_flags[i];
	return NULL;
}

/* Remember that a command flag was given, under the name used. */
static void flag_seen(struct cli *cli, unsigned bit, const char *name)
{
	cli->flags_seen |= bit;
	cli->flag_names[__builtin_ctz(bit)] = name;
}

static int parse_timeout(const char *text, int *timeout_ms)
{
	uint32_t v;
	if (!parse_u32(text, &v) || v == 0 || v > CLI_TIMEOUT_MS_MAX)
		return usage_error("bad timeout '%s' (milliseconds, 1 or more)", text);
	*timeout_ms = (int)v;
	return 0;
}

/*
 * Split argv into flags (into cli) and positional words (into words).
 * Returns the number of words, or -EXIT_USAGE after printing why.
 */
static int parse_args(struct cli *cli, int argc, char **argv, char **words)
{
	int n = 0;
	bool flags_done = false;

	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (flags_done || a[0] != '-' || a[1] == '\0') {
			words[n++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			flags_done = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cli->help = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			cli->json = true;
			continue;
		}
		if (strcmp(a, "--all") == 0) {
			cli->all = true;
			flag_seen(cli, CF_ALL, "--all");
			continue;
		}
		char name[32];
		const char *value = NULL;
		const char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		if (nlen >= sizeof(name))
			return -usage_error("unknown flag '%s'", a);
		memcpy(name, a, nlen);
		name[nlen] = '\0';
		const struct cli_flag *flag = find_flag(name);
		if (!flag)
			return -usage_error("unknown flag '%s'", a);
		if (eq) {
			value = eq + 1;
		} else {
			if (i + 1 >= argc)
				return -usage_error("flag %s needs a value", name);
			value = argv[++i];
		}
		*(const char **)((char *)cli + flag->offset) = value;
		if (flag->bit)
			flag_seen(cli, flag->bit, flag->name);
	}
	if (cli->timeout_text && parse_timeout(cli->timeout_text, &cli->timeout_ms))
		return -EXIT_USAGE;
	return n;
}

static void defaults_from_env(struct cli *cli)
{
	const char *v;

	if (!cli->server)
		cli->server = (v = getenv("HERALD_SERVER")) && *v ? v : CLI_SERVER_DEFAULT;
	if (!cli->app)
		cli->app = (v = getenv("HERALD_APP")) && *v ? v : HRL_ADMIN_APP_ID;
	if (!cli->secret_hex && !cli->secret_file) {
		if ((v = getenv("HERALD_SECRET")) && *v)
			cli->secret_hex = v;
		else if ((v = getenv("HERALD_SECRET_FILE")) && *v)
			cli->secret_file = v;
	}
}

/* 0 with *have set, or an exit status. */
static int load_secret(struct cli *cli, uint8_t secret[HRL_SECRET_BYTES], bool *have)
{
	*have = false;
	if (cli->secret_hex) {
		if (herald_secret_parse(cli->secret_hex, secret))
			return usage_error("%s", "the secret must be 64 hex digits");
		*have = true;
		return 0;
	}
	if (cli->secret_file) {
		int rc = herald_secret_read_file(cli->secret_file, secret);
		if (rc == -EINVAL) {
			fprintf(stderr, "herald: %s does not hold a secret (64 hex digits)\n",
				cli->secret_file);
			return EXIT_USAGE;
		}
		if (rc) {
			fprintf(stderr, "herald: cannot read secret file %s: %s\n", cli->secret_file,
				herald_strerror(rc));
			return EXIT_USAGE;
		}
		*have = true;
	}
	return 0;
}

/* Connect, HELLO, and AUTH when a secret is at hand. 0 or an exit status. */
static int open_session(struct cli *cli, bool need_auth)
{
	uint8_t secret[HRL_SECRET_BYTES];
	struct herald_hello_info hello;
	bool have_secret;
	char what[320];

	int status = load_secret(cli, secret, &have_secret);
	if (status)
		return status;
	if (need_auth && !have_secret) {
		fprintf(stderr,
			"herald: no secret for app '%s': give --secret, --secret-file, HERALD_SECRET "
			"or HERALD_SECRET_FILE\n",
			cli->app);
		return EXIT_USAGE;
	}
	int rc = herald_connect(cli->server, cli->timeout_ms, &cli->conn);
	if (rc == -EINVAL)
		return usage_error("bad server address '%s' (want host:port)", cli->server);
	snprintf(what, sizeof(what), "cannot connect to %s", cli->server);
	if (rc)
		return fail(cli, rc, what);
	snprintf(what, sizeof(what), "HELLO to %s", cli->server);
	rc = herald_hello(cli->conn, CLI_NAME, &hello);
	if (rc)
		return fail(cli, rc, what);
	snprintf(cli->server_name, sizeof(cli->server_name), "%s", hello.server_name);
	if (!have_secret)
		return 0;
	snprintf(what, sizeof(what), "authentication as '%s'", cli->app);
	rc = herald_auth(cli->conn, cli->app, secret, NULL);
	if (rc == -EINVAL)
		return usage_error("bad app id '%s'", cli->app);
	if (rc)
		return fail(cli, rc, what);
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli = { .timeout_ms = CLI_TIMEOUT_MS_DEFAULT };
	const char *v;
	int status;

	if ((v = getenv("HERALD_TIMEOUT_MS")) && *v && parse_timeout(v, &cli.timeout_ms))
		return EXIT_USAGE;
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	if (!words) {
		fputs("herald: out of memory\n", stderr);
		return EXIT_TRANSPORT;
	}
	int nwords = parse_args(&cli, argc, argv, words);
	if (nwords < 0) {
		status = -nwords;
		goto out_free_words;
	}
	if (nwords == 0) {
		print_usage(cli.help ? stdout : stderr);
		status = cli.help ? EXIT_OK : EXIT_USAGE;
		goto out_free_words;
	}
	const struct cli_cmd *cmd = find_cmd(words[0], nwords > 1 ? words[1] : NULL);
	if (!cmd) {
		if (is_group(words[0])) {
			if (cli.help && nwords == 1) {
				print_group_usage(stdout, words[0]);
				status = EXIT_OK;
			} else {
				if (nwords > 1)
					fprintf(stderr, "herald: unknown subcommand '%s %s'\n", words[0],
						words[1]);
				print_group_usage(stderr, words[0]);
				status = EXIT_USAGE;
			}
		} else {
			status = usage_error("unknown command '%s'", words[0]);
		}
		goto out_free_words;
	}
	if (cli.help) {
		print_cmd_help(cmd);
		status = EXIT_OK;
		goto out_free_words;
	}
	int skip = cmd->group ? 2 : 1;
	int nargs = nwords - skip;
	if (nargs < cmd->args_min || (cmd->args_max >= 0 && nargs > cmd->args_max)) {
		char words_text[64];
		cmd_words(cmd, words_text, sizeof(words_text));
		fprintf(stderr, "herald: wrong number of arguments\nusage: herald %s %s\n", words_text,
			cmd->args);
		status = EXIT_USAGE;
		goto out_free_words;
	}
	unsigned stray = cli.flags_seen & ~cmd->flags;
	if (stray) {
		char words_text[64];
		cmd_words(cmd, words_text, sizeof(words_text));
		fprintf(stderr, "herald: flag %s does not apply to '%s'\n(try 'herald %s --help')\n",
			cli.flag_names[__builtin_ctz(stray)], words_text, words_text);
		status = EXIT_USAGE;
		goto out_free_words;
	}
	defaults_from_env(&cli);
	status = open_session(&cli, cmd->auth);
	if (status)
		goto out_close;
	status = cmd->run(&cli, words + skip, nargs);

out_close:
	herald_close(cli.conn);
out_free_words:
	free(words);
	return status;
}
