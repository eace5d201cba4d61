/* SPDX-License-Identifier: Apache-2.0 */
/*
 * herald.c - the `herald` command-line tool, a thin shell over libherald.
 *
 *   herald [global flags] <command> [args]
 *
 * Every command is one row of cli_cmds[]: its words ("app create"), the
 * usage of its arguments, how many it takes, whether it needs AUTH, the
 * command flags it takes (--vendor, --user, --limit, ...: cli_flags[] says
 * where each value goes), the function that checks its arguments before
 * anything is sent (if any) and the function that runs it. main() parses
 * flags (they may appear anywhere before "--"), finds the row, checks the
 * arity and refuses command flags the row does not take, runs the row's
 * check, connects, says HELLO, authenticates, runs the row's function and
 * maps the outcome to the exit status:
 *
 *   0  ok
 *   1  the engine answered with an error   (stderr: herald: E_NOT_FOUND: message)
 *   2  usage error (bad flag, argument, address or secret)
 *   3  connection or transport error (refused, timeout, malformed answer)
 *   4  authentication failed (E_AUTH_FAILED)
 *   5  done, but the engine rejected some rows of an upload (campaign
 *      upload, campaign create --file; stderr: line N: reason)
 *
 * Output is text for people by default and one JSON document with --json.
 * Strings are escaped by hand (json_str); the engine only hands back UTF-8.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "include/herald.h"

#define CLI_SERVER_DEFAULT     "127.0.0.1:7600"
#define CLI_TIMEOUT_MS_DEFAULT 5000
#define CLI_TIMEOUT_MS_MAX     (24 * 3600 * 1000)
#define CLI_PING_BYTES         16u
#define CLI_NAME               "herald-cli"
#define CLI_HISTORY_LIMIT_DEFAULT 100u
#define CLI_HISTORY_PAGES_MAX  100000u /* --all: pages followed before giving up */
_Static_assert(CLI_HISTORY_LIMIT_DEFAULT <= HRL_HISTORY_LIMIT_MAX, "default page fits the limit");
#define CLI_WATCH_BAR_WIDTH    30u
#define CLI_WATCH_TTY_MS       250u     /* --watch redraws its line this often on a terminal */
#define CLI_WATCH_LINE_MS      1000u    /* and prints a line this often otherwise */
#define CLI_WATCH_POLLS_MAX    (30u * 24 * 3600 * 4) /* 30 days of terminal redraws */
#define CLI_CHUNK_KB_DEFAULT   256u     /* campaign upload --chunk-kb */
#define CLI_CHUNK_KB_MIN       1u
#define CLI_CHUNK_KB_MAX       (HRL_UPLOAD_CHUNK_BYTES_MAX / 1024u)
#define CLI_UPLOAD_PROGRESS_BYTES (4u << 20) /* a progress line on stderr per this much read */
#define CLI_UPLOAD_LISTED_MAX  10000u   /* rejected rows kept for --json */
_Static_assert(CLI_CHUNK_KB_MIN * 1024u >= HRL_UPLOAD_ROW_BYTES_MAX,
	       "the longest row fits the smallest chunk (without its LF)");
_Static_assert(CLI_CHUNK_KB_DEFAULT <= CLI_CHUNK_KB_MAX, "default chunk within the engine's limit");
_Static_assert(CLI_CHUNK_KB_MAX * 1024u <= HRL_UPLOAD_CHUNK_BYTES_MAX, "chunks the engine takes");

enum cli_exit {
	EXIT_OK = 0,
	EXIT_ENGINE = 1,
	EXIT_USAGE = 2,
	EXIT_TRANSPORT = 3,
	EXIT_AUTH = 4,
	EXIT_REJECTED = 5, /* an upload went through, but some of its rows were rejected */
};

/*
 * Flags that belong to some commands only, a bit each; a command lists
 * the ones it takes (cli_cmd.flags) and main() refuses the others.
 */
#define CF_BIT(n) (UINT64_C(1) << (n))
#define CF_VENDOR        CF_BIT(0)  /* bind, receipt put */
#define CF_PLATFORM      CF_BIT(1)  /* bind */
#define CF_USER          CF_BIT(2)  /* receipt put, campaign create */
#define CF_MESSAGE       CF_BIT(3)
#define CF_CAMPAIGN      CF_BIT(4)
#define CF_CHANNEL       CF_BIT(5)  /* receipt put, campaign create */
#define CF_STATE         CF_BIT(6)
#define CF_TIME          CF_BIT(7)
#define CF_REASON        CF_BIT(8)
#define CF_LIMIT         CF_BIT(9)  /* user history */
#define CF_CURSOR        CF_BIT(10)
#define CF_ALL           CF_BIT(11)
#define CF_AUDIENCE      CF_BIT(12) /* campaign create */
#define CF_USERS         CF_BIT(13)
#define CF_USERS_FILE    CF_BIT(14)
#define CF_TAG_EXPR      CF_BIT(15)
#define CF_TITLE         CF_BIT(16)
#define CF_BODY          CF_BIT(17)
#define CF_CATEGORY      CF_BIT(18)
#define CF_LANE          CF_BIT(19)
#define CF_WAIT          CF_BIT(20)
#define CF_WATCH         CF_BIT(21) /* campaign status */
#define CF_TARGET        CF_BIT(22) /* vendor set */
#define CF_URL           CF_BIT(23)
#define CF_APP_ID        CF_BIT(24)
#define CF_VSECRET       CF_BIT(25)
#define CF_VSECRET2      CF_BIT(26)
#define CF_PACKAGE       CF_BIT(27)
#define CF_SIGN_NAME     CF_BIT(28)
#define CF_TEMPLATE_CODE CF_BIT(29)
#define CF_BATCH         CF_BIT(30)
#define CF_CONNECTIONS   CF_BIT(31)
#define CF_RATE          CF_BIT(32)
#define CF_QUOTA         CF_BIT(33)
#define CF_UPLOAD_KIND   CF_BIT(34) /* campaign create --audience upload */
#define CF_COLUMNS       CF_BIT(35)
#define CF_FILE          CF_BIT(36)
#define CF_FIRST_LINE    CF_BIT(37) /* campaign upload */
#define CF_CHUNK_KB      CF_BIT(38) /* campaign upload, campaign create --file */
#define CF_KEEP_OPEN     CF_BIT(39)
#define CF_BIT_LAST      39
#define CLI_FLAG_BITS 64
_Static_assert(CF_BIT_LAST < CLI_FLAG_BITS && CF_KEEP_OPEN == CF_BIT(CF_BIT_LAST),
	       "a name slot per command flag");

/* The user ids of a list audience, as the CLI collected them. */
struct user_list {
	char *text;   /* owned copy of --users or of the file, split in place */
	const char **ids;
	size_t count;
};

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
	const char *audience; /* campaign create */
	const char *users;
	const char *users_file;
	const char *tag_expr;
	const char *title;
	const char *body;
	const char *category;
	const char *lane;
	bool wait;
	bool watch;           /* campaign status */
	const char *target;   /* vendor set */
	const char *url;
	const char *app_id;
	const char *vsecret;
	const char *vsecret2;
	const char *package;
	const char *sign_name;
	const char *template_code;
	const char *batch;
	const char *connections;
	const char *rate;
	const char *quota;
	const char *upload_kind; /* campaign create --audience upload */
	const char *columns;
	const char *file;
	const char *first_line;  /* campaign upload */
	const char *chunk_kb;
	bool keep_open;
	const char *timeout_text; /* --timeout, checked once all flags are read */
	int timeout_ms;
	bool json;
	bool help;
	uint64_t flags_seen; /* CF_* bits of the command flags given */
	const char *flag_names[CLI_FLAG_BITS]; /* each command flag's name, by bit */
	struct herald_conn *conn;
	char server_name[256]; /* from HELLO, for ping */
	/* What a command's check found in its arguments, for its run. */
	uint64_t campaign_id;
	struct herald_campaign_spec spec;
	struct user_list ul;
	struct herald_vendor_cfg vendor_cfg;
	int upload_fd;          /* the rows to upload: a file, standard input, or -1 */
	const char *upload_path; /* its name for messages ("-": standard input) */
	uint32_t upload_first_line;
	size_t chunk_bytes;
};

struct cli_cmd {
	const char *group; /* first word of two-word commands, else NULL */
	const char *name;
	const char *args;
	const char *help;
	int args_min;
	int args_max; /* < 0: no limit */
	bool auth;
	uint64_t flags; /* CF_* bits: the command flags it takes */
	int (*run)(struct cli *cli, char **argv, int argc);
	/* NULL, or the argument checks that need no engine: run before
	 * connecting, 0 or an exit status. */
	int (*check)(struct cli *cli, char **argv, int argc);
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
		json_enum(herald_device_state_name(d->state), d->state);
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

/* A device's state for people: an invalid one will not be tried again. */
static const char *device_state_text(uint8_t state, char *buf, size_t size)
{
	if (state == HRL_DEVICE_INVALID)
		return "invalid (vendor said so; never tried again)";
	return enum_text(herald_device_state_name(state), state, buf, size);
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
		printf(", %s, bound %s\n", device_state_text(d->state, b4, sizeof(b4)),
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

/* ---- campaigns and vendors --------------------------------------------------------- */

#define AUDIENCE_NAMES "user list tag all upload"
#define TARGET_NAMES   "huawei xiaomi oppo vivo sms webhook"

/* A u16 flag value; false if it is not a number up to 65535. */
static bool parse_u16(const char *s, uint16_t *out)
{
	uint64_t v;
	if (!parse_u64(s, &v) || v > UINT16_MAX)
		return false;
	*out = (uint16_t)v;
	return true;
}

static void user_list_free(struct user_list *ul)
{
	free(ul->text);
	free(ul->ids);
}

/*
 * Split ul->text in place at sep (',' for --users, '\n' for a file, where
 * a '\r' before the '\n' goes too and empty lines are skipped). 0, or an
 * exit status after saying why.
 */
static int user_list_split(struct user_list *ul, char sep, const char *from)
{
	size_t cap = 1;
	for (const char *p = ul->text; *p; p++)
		cap += *p == sep;
	ul->ids = calloc(cap, sizeof(*ul->ids));
	if (!ul->ids) {
		fputs("herald: out of memory\n", stderr);
		return EXIT_TRANSPORT;
	}
	for (char *p = ul->text, *next; p; p = next) {
		next = strchr(p, sep);
		if (next)
			*next++ = '\0';
		size_t n = strlen(p);
		if (sep == '\n') {
			if (n && p[n - 1] == '\r')
				p[--n] = '\0';
			if (n == 0)
				continue;
		} else if (n == 0) {
			return usage_error("empty user id in %s", from);
		}
		ul->ids[ul->count++] = p;
	}
	if (ul->count == 0)
		return usage_error("no user ids in %s", from);
	return 0;
}

/* Read --users-file ("-": standard input), at most one frame's worth. */
static int user_list_read_file(struct user_list *ul, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t len = 0;

	if (!f) {
		fprintf(stderr, "herald: cannot read --users-file %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	ul->text = malloc(HRL_FRAME_BODY_BYTES_MAX + 1);
	if (!ul->text) {
		if (f != stdin)
			fclose(f);
		fputs("herald: out of memory\n", stderr);
		return EXIT_TRANSPORT;
	}
	len = fread(ul->text, 1, HRL_FRAME_BODY_BYTES_MAX + 1, f);
	bool bad = ferror(f) != 0;
	if (f != stdin)
		fclose(f);
	if (bad) {
		fprintf(stderr, "herald: cannot read --users-file %s\n", path);
		return EXIT_USAGE;
	}
	if (len > HRL_FRAME_BODY_BYTES_MAX) {
		fprintf(stderr, "herald: --users-file %s is larger than a request may be (%u bytes)\n",
			path, HRL_FRAME_BODY_BYTES_MAX);
		return EXIT_USAGE;
	}
	if (memchr(ul->text, '\0', len))
		return usage_error("--users-file %s holds a NUL byte", path);
	ul->text[len] = '\0';
	return user_list_split(ul, '\n', "--users-file");
}

/* --channel push,sms,...: at most HRL_CAMPAIGN_CHANNELS_MAX names. 0 or an exit status. */
static int parse_channels(const char *text, struct herald_campaign_spec *spec)
{
	char buf[256];
	if (strlen(text) >= sizeof(buf))
		return usage_error("bad --channel '%s' (a list such as push,sms)", text);
	memcpy(buf, text, strlen(text) + 1);
	spec->channel_count = 0;
	for (char *p = buf, *next; p; p = next) {
		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		int ch = herald_channel_parse(p);
		if (ch < 0)
			return usage_error("unknown channel '%s' in --channel (push sms email wechat "
					   "webhook)",
					   p);
		if (spec->channel_count == HRL_CAMPAIGN_CHANNELS_MAX) {
			fprintf(stderr, "herald: --channel names more than %u channels\n",
				HRL_CAMPAIGN_CHANNELS_MAX);
			return EXIT_USAGE;
		}
		spec->channels[spec->channel_count++] = (uint8_t)ch;
	}
	return 0;
}

/*
 * The rows of an upload: FILE, or standard input for "-", and the chunk
 * size (--chunk-kb). Opened before anything is sent, so that a missing
 * file is a usage error. 0 or an exit status.
 */
static int upload_open(struct cli *cli, const char *path, const char *what)
{
	uint32_t kb = CLI_CHUNK_KB_DEFAULT;

	if (cli->chunk_kb && (!parse_u32(cli->chunk_kb, &kb) || kb < CLI_CHUNK_KB_MIN ||
			      kb > CLI_CHUNK_KB_MAX)) {
		fprintf(stderr, "herald: bad --chunk-kb '%s' (KiB of rows per request, %u to %u)\n",
			cli->chunk_kb, CLI_CHUNK_KB_MIN, CLI_CHUNK_KB_MAX);
		return EXIT_USAGE;
	}
	cli->chunk_bytes = (size_t)kb * 1024u;
	cli->upload_path = path;
	if (strcmp(path, "-") == 0) {
		cli->upload_fd = STDIN_FILENO;
		return 0;
	}
	cli->upload_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (cli->upload_fd < 0) {
		fprintf(stderr, "herald: cannot read %s%s%s: %s\n", what, *what ? " " : "", path,
			strerror(errno));
		return EXIT_USAGE;
	}
	return 0;
}

/* An audience flag given with the wrong --audience. */
static int audience_flag_error(const char *flag, const char *audience)
{
	fprintf(stderr, "herald: %s does not go with --audience %s\n(try 'herald campaign create "
			"--help')\n",
		flag, audience);
	return EXIT_USAGE;
}

/*
 * Check the flags of `campaign create` and fill *spec (pointing into cli
 * and ul). 0 or an exit status; nothing is sent.
 */
static int campaign_spec_from_flags(struct cli *cli, struct herald_campaign_spec *spec,
				    struct user_list *ul)
{
	static const char cmd[] = "campaign create";
	int v, status;

	*spec = (struct herald_campaign_spec){ .lane = HRL_LANE_BULK };
	if (!cli->audience)
		return missing_flag(cmd, "--audience", AUDIENCE_NAMES);
	if ((v = herald_audience_parse(cli->audience)) < 0)
		return usage_error("unknown audience '%s' (" AUDIENCE_NAMES ")", cli->audience);
	spec->audience = (uint8_t)v;
	if (!cli->channel)
		return missing_flag(cmd, "--channel", "push sms email wechat webhook, comma-separated");
	if (!cli->body)
		return missing_flag(cmd, "--body", "the message text, a template");
	if ((status = parse_channels(cli->channel, spec)))
		return status;
	if (cli->lane) {
		if ((v = herald_lane_parse(cli->lane)) < 0)
			return usage_error("unknown lane '%s' (bulk transactional)", cli->lane);
		spec->lane = (uint8_t)v;
	}
	spec->title = cli->title;
	spec->body = cli->body;
	spec->category = cli->category;

	/* Each audience takes its own flags and refuses the others'. */
	const char *aud = cli->audience;
	if (spec->audience != HRL_AUD_USER && cli->user)
		return audience_flag_error("--user", aud);
	if (spec->audience != HRL_AUD_LIST && cli->users)
		return audience_flag_error("--users", aud);
	if (spec->audience != HRL_AUD_LIST && cli->users_file)
		return audience_flag_error("--users-file", aud);
	if (spec->audience != HRL_AUD_TAG && cli->tag_expr)
		return audience_flag_error("--tag-expr", aud);
	if (spec->audience != HRL_AUD_UPLOAD) {
		if (cli->upload_kind)
			return audience_flag_error("--upload-kind", aud);
		if (cli->columns)
			return audience_flag_error("--columns", aud);
		if (cli->file)
			return audience_flag_error("--file", aud);
	}
	if (cli->chunk_kb && !cli->file)
		return usage_error("%s", "--chunk-kb goes with --file (the rows to upload)");
	switch (spec->audience) {
	case HRL_AUD_USER:
		if (!cli->user)
			return missing_flag(cmd, "--user", "the one user of --audience user");
		spec->user_id = cli->user;
		break;
	case HRL_AUD_LIST:
		if (cli->users && cli->users_file)
			return usage_error("%s", "give --users or --users-file, not both");
		if (cli->users) {
			ul->text = strdup(cli->users);
			if (!ul->text)
				return fail(cli, -ENOMEM, cmd);
			status = user_list_split(ul, ',', "--users");
		} else if (cli->users_file) {
			status = user_list_read_file(ul, cli->users_file);
		} else {
			return missing_flag(cmd, "--users or --users-file",
					    "the users of --audience list");
		}
		if (status)
			return status;
		spec->user_ids = ul->ids;
		spec->user_count = ul->count;
		break;
	case HRL_AUD_TAG:
		if (!cli->tag_expr)
			return missing_flag(cmd, "--tag-expr", "for example 'vip AND NOT churned'");
		spec->tag_expr = cli->tag_expr;
		break;
	case HRL_AUD_UPLOAD:
		if (!cli->upload_kind)
			return missing_flag(cmd, "--upload-kind",
					    "users (rows of user ids) or phones (rows of phone numbers)");
		if ((v = herald_upload_kind_parse(cli->upload_kind)) < 0)
			return usage_error("unknown upload kind '%s' (users phones)", cli->upload_kind);
		spec->upload_kind = (uint8_t)v;
		spec->columns = cli->columns;
		if (cli->wait && !cli->file)
			return usage_error("%s", "--wait with --audience upload needs --file: the campaign "
						 "cannot finish before its upload is closed");
		if (cli->file && (status = upload_open(cli, cli->file, "--file")))
			return status;
		break;
	default: /* HRL_AUD_ALL */
		break;
	}
	return 0;
}

static void campaign_status_json_fields(const struct herald_campaign_status *st)
{
	fputs("\"state\":", stdout);
	json_enum(herald_campaign_state_name(st->state), st->state);
	fputs(",\"audience\":", stdout);
	json_enum(herald_audience_name(st->audience), st->audience);
	fputs(",\"lane\":", stdout);
	json_enum(herald_lane_name(st->lane), st->lane);
	printf(",\"created_unix_ms\":%" PRIu64 ",\"users_scanned\":%" PRIu64
	       ",\"recipients\":%" PRIu64 ",\"queued\":%" PRIu64 ",\"sent\":%" PRIu64
	       ",\"failed\":%" PRIu64 ",\"invalid\":%" PRIu64 ",\"no_address\":%" PRIu64
	       ",\"resent\":%" PRIu64 ",\"vendor_calls\":%" PRIu64 ",\"first_call_us\":%" PRIu64
	       ",\"progress_ppm\":%u,\"inflight\":%u",
	       st->created_unix_ms, st->users_scanned, st->recipients, st->queued, st->sent,
	       st->failed, st->invalid, st->no_address, st->resent, st->vendor_calls,
	       st->first_call_us, st->progress_ppm, st->inflight);
}

static void campaign_status_json(uint64_t campaign_id, const struct herald_campaign_status *st)
{
	printf("{\"campaign_id\":%" PRIu64 ",", campaign_id);
	campaign_status_json_fields(st);
	puts("}");
}

/* n of the whole, in percent, or "" when the whole is 0. */
static const char *percent_of(uint64_t n, uint64_t whole, char *buf, size_t size)
{
	if (whole == 0)
		return "";
	snprintf(buf, size, "  (%.1f%% of queued)", 100.0 * (double)n / (double)whole);
	return buf;
}

/* The funnel of a campaign, for people: who matched and what became of them. */
static void campaign_funnel_text(const struct herald_campaign_status *st)
{
	char b[48];

	printf("recipients:    %12" PRIu64 "\n", st->recipients);
	printf("queued:        %12" PRIu64 "\n", st->queued);
	printf("sent:          %12" PRIu64 "%s\n", st->sent,
	       percent_of(st->sent, st->queued, b, sizeof(b)));
	printf("failed:        %12" PRIu64 "%s\n", st->failed,
	       percent_of(st->failed, st->queued, b, sizeof(b)));
	printf("invalid:       %12" PRIu64 "%s\n", st->invalid,
	       percent_of(st->invalid, st->queued, b, sizeof(b)));
	printf("no address:    %12" PRIu64 "\n", st->no_address);
	printf("vendor calls:  %12" PRIu64 "\n", st->vendor_calls);
	if (st->first_call_us)
		printf("first call:    %12.3f ms after create\n", (double)st->first_call_us / 1000.0);
	else
		printf("first call:    %12s\n", "none yet");
}

static void campaign_status_text(uint64_t campaign_id, const struct herald_campaign_status *st)
{
	char when[64], b1[16], b2[16], b3[16];

	printf("campaign %" PRIu64 ": %s, audience %s, lane %s, created %s\n", campaign_id,
	       enum_text(herald_campaign_state_name(st->state), st->state, b1, sizeof(b1)),
	       enum_text(herald_audience_name(st->audience), st->audience, b2, sizeof(b2)),
	       enum_text(herald_lane_name(st->lane), st->lane, b3, sizeof(b3)),
	       time_text(st->created_unix_ms, when, sizeof(when)));
	printf("progress:      %11.1f%%  (%" PRIu64 " %s looked at)\n",
	       (double)st->progress_ppm / 10000.0, st->users_scanned,
	       st->audience == HRL_AUD_UPLOAD ? "rows" : "users");
	campaign_funnel_text(st);
	printf("in flight:     %12u\n", st->inflight);
	printf("resent:        %12" PRIu64 "  (sent again after a restart)\n", st->resent);
}

/* One line of --watch: a bar of the enumeration, then the counters. */
static void watch_line(const struct herald_campaign_status *st, bool tty)
{
	char bar[CLI_WATCH_BAR_WIDTH + 1], b[16];
	unsigned filled = (unsigned)((uint64_t)st->progress_ppm * CLI_WATCH_BAR_WIDTH / 1000000u);

	for (unsigned i = 0; i < CLI_WATCH_BAR_WIDTH; i++)
		bar[i] = i < filled ? '#' : '-';
	bar[CLI_WATCH_BAR_WIDTH] = '\0';
	printf("%s[%s] %5.1f%%  %-9s  recipients %" PRIu64 "  sent %" PRIu64 "  failed %" PRIu64
	       "  invalid %" PRIu64 "  in flight %u%s",
	       tty ? "\r" : "", bar, (double)st->progress_ppm / 10000.0,
	       enum_text(herald_campaign_state_name(st->state), st->state, b, sizeof(b)),
	       st->recipients, st->sent, st->failed, st->invalid, st->inflight,
	       tty ? "\033[K" : "\n");
	fflush(stdout);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

struct upload_run;
static void upload_json_fields(const struct upload_run *up);

/*
 * Poll a campaign until it is cancelled or done, showing its progress
 * (not with --json), then print its funnel, or with --json its final
 * status as one document (with the upload's outcome under "upload" when
 * up is not NULL).
 */
static int campaign_watch(struct cli *cli, uint64_t campaign_id, const struct upload_run *up)
{
	static const char cmd[] = "campaign status";
	struct herald_campaign_status st;
	bool tty = !cli->json && isatty(STDOUT_FILENO);
	unsigned interval_ms = tty ? CLI_WATCH_TTY_MS : CLI_WATCH_LINE_MS;

	for (uint64_t polls = 0;; polls++) {
		int rc = herald_campaign_status(cli->conn, campaign_id, &st);
		if (rc) {
			if (tty && polls)
				putchar('\n');
			return fail(cli, rc, cmd);
		}
		if (!cli->json)
			watch_line(&st, tty);
		if (herald_campaign_finished(st.state))
			break;
		if (polls == CLI_WATCH_POLLS_MAX) {
			if (tty)
				putchar('\n');
			fprintf(stderr, "herald: %s: campaign %" PRIu64 " not finished after %u polls; "
					"stopped watching\n",
				cmd, campaign_id, CLI_WATCH_POLLS_MAX);
			return EXIT_TRANSPORT;
		}
		sleep_ms(interval_ms);
	}
	if (cli->json) {
		printf("{\"campaign_id\":%" PRIu64 ",", campaign_id);
		if (up) {
			fputs("\"upload\":{", stdout);
			upload_json_fields(up);
			fputs("},", stdout);
		}
		campaign_status_json_fields(&st);
		puts("}");
		return EXIT_OK;
	}
	if (tty)
		putchar('\n');
	printf("\ncampaign %" PRIu64 " %s\n", campaign_id,
	       st.state == HRL_CAMPAIGN_DONE ? "done" : "cancelled");
	campaign_funnel_text(&st);
	return EXIT_OK;
}

/* ---- uploads ------------------------------------------------------------------------ */

/* A rejected row, kept for --json. */
struct upload_note {
	uint32_t line;
	char *reason;
};

/* Where an upload stands: what was sent, what the engine said. */
struct upload_run {
	uint64_t campaign_id;
	uint64_t first_line;     /* of the file's first row */
	uint64_t next_line;      /* of the next row to send */
	uint64_t accepted;
	uint64_t rejected;       /* by the engine, and rows too long to send */
	uint64_t unlisted;       /* rejected rows the engine did not name (100 per chunk) */
	uint64_t chunks;
	uint64_t bytes_read;
	uint64_t progress_at;    /* bytes_read at which the next progress line is due */
	bool closed;             /* a chunk with last = 1 went through */
	struct upload_note *notes;
	size_t note_count;
	uint64_t notes_dropped;  /* rejected rows named, but past CLI_UPLOAD_LISTED_MAX */
};

static void upload_run_free(struct upload_run *up)
{
	for (size_t i = 0; i < up->note_count; i++)
		free(up->notes[i].reason);
	free(up->notes);
}

/* A rejected row: "line N: reason" on stderr, and kept for --json. */
static void upload_reject(struct upload_run *up, uint32_t line, const char *reason)
{
	fprintf(stderr, "line %" PRIu32 ": %s\n", line, reason);
	if (up->note_count == CLI_UPLOAD_LISTED_MAX) {
		up->notes_dropped++;
		return;
	}
	if (!up->notes) {
		up->notes = calloc(CLI_UPLOAD_LISTED_MAX, sizeof(*up->notes));
		if (!up->notes) {
			up->notes_dropped++;
			return;
		}
	}
	char *copy = strdup(reason);
	if (!copy) {
		up->notes_dropped++;
		return;
	}
	up->notes[up->note_count].line = line;
	up->notes[up->note_count].reason = copy;
	up->note_count++;
}

/*
 * Send one chunk: rows[0 .. len), nrows rows numbered from up->next_line.
 * Prints the rows the engine rejected. 0 or an exit status (after saying
 * what became of the rows).
 */
static int upload_send(struct cli *cli, struct upload_run *up, const char *rows, size_t len,
		       uint64_t nrows, bool last)
{
	static const char cmd[] = "campaign upload";
	struct herald_upload_result *res = NULL;
	uint64_t first = up->next_line, end = first + (nrows ? nrows - 1 : 0);

	if (end > UINT32_MAX) {
		fprintf(stderr, "herald: %s: line %" PRIu64 " is past the last line number the "
				"protocol has (%" PRIu32 ")\n",
			cmd, end, UINT32_MAX);
		return EXIT_USAGE;
	}
	int rc = herald_campaign_upload(cli->conn, up->campaign_id, (uint32_t)first, last ? 1 : 0, rows,
					len, &res);
	if (rc) {
		int status = fail(cli, rc, cmd);
		if (rc < 0 && rc != -EINVAL && rc != -EMSGSIZE && rc != -ENOMEM)
			fprintf(stderr,
				"herald: the answer for lines %" PRIu64 " to %" PRIu64 " was lost: the "
				"engine may have taken them. Look at 'herald campaign status %" PRIu64
				"' before sending them again (a row sent twice gets its message twice).\n",
				first, end, up->campaign_id);
		if (up->chunks)
			fprintf(stderr,
				"herald: lines %" PRIu64 " to %" PRIu64 " went through (%" PRIu64
				" rows accepted, %" PRIu64 " rejected); the rest starts at line %" PRIu64
				" (--first-line %" PRIu64 ")\n",
				up->first_line, first - 1, up->accepted, up->rejected, first, first);
		return status;
	}
	up->chunks++;
	up->accepted += res->accepted;
	up->rejected += res->rejected;
	for (unsigned i = 0; i < res->reported; i++)
		upload_reject(up, res->rejects[i].line, res->rejects[i].reason);
	if (res->rejected > res->reported) {
		up->unlisted += res->rejected - res->reported;
		fprintf(stderr, "herald: %" PRIu32 " more rejected rows in lines %" PRIu64 " to %" PRIu64
				" (the engine names the first %u of each chunk)\n",
			res->rejected - res->reported, first, end, HRL_UPLOAD_REPORTS_MAX);
	}
	herald_upload_result_free(res);
	up->next_line = first + nrows;
	up->closed = last;
	if (up->bytes_read >= up->progress_at) {
		fprintf(stderr, "herald: %.1f MiB read, up to line %" PRIu64 ": %" PRIu64
				" rows accepted, %" PRIu64 " rejected\n",
			(double)up->bytes_read / (1024.0 * 1024.0), up->next_line - 1, up->accepted,
			up->rejected);
		up->progress_at = up->bytes_read + CLI_UPLOAD_PROGRESS_BYTES;
	}
	return 0;
}

/* Drop each CR that comes just before an LF of p[0 .. len) (and at the end
 * when an LF follows it); returns the new length. */
static size_t strip_cr(char *p, size_t len, bool lf_follows)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\r' && (i + 1 < len ? p[i + 1] == '\n' : lf_follows))
			continue;
		p[o++] = p[i];
	}
	return o;
}

/* Rows in a chunk: one per LF, and one more for text after the last LF. */
static uint64_t rows_in(const char *p, size_t len)
{
	uint64_t n = 0;
	for (const char *q = p; (q = memchr(q, '\n', (size_t)(p + len - q))); q++)
		n++;
	return n + (len && p[len - 1] != '\n');
}

/*
 * Fill buf[*n .. cap) from the upload's file, *eof set at its end. 0, or
 * an exit status after saying why.
 */
static int upload_fill(struct cli *cli, struct upload_run *up, char *buf, size_t cap, size_t *n,
		       bool *eof)
{
	while (!*eof && *n < cap) {
		ssize_t got = read(cli->upload_fd, buf + *n, cap - *n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			fprintf(stderr, "herald: cannot read %s: %s\n",
				strcmp(cli->upload_path, "-") ? cli->upload_path : "standard input",
				strerror(errno));
			return EXIT_USAGE;
		}
		if (got == 0)
			*eof = true;
		*n += (size_t)got;
		up->bytes_read += (uint64_t)got;
	}
	return 0;
}

/*
 * Stream the rows of cli->upload_fd to the campaign in chunks of at most
 * cli->chunk_bytes, each cut after a whole row, numbering lines from
 * up->first_line across chunks. A chunk ends with the LF of its last row,
 * or, for a row that fills a chunk alone, just before it (the final LF is
 * optional), so a row of HRL_UPLOAD_ROW_BYTES_MAX bytes fits the smallest
 * chunk. What the engine cannot see is reported here as it would report
 * it: a line longer than a chunk (so longer than a row may be) is skipped,
 * and an empty line at the end of a chunk, which the engine does not count
 * there (PROTOCOL.md 5.12), is "empty row" as it is inside a chunk. So the
 * outcome does not depend on the chunk size: it is the engine's for the
 * whole file in one chunk. The last chunk closes the upload unless
 * --keep-open. 0 or an exit status.
 */
static int upload_stream(struct cli *cli, struct upload_run *up)
{
	size_t limit = cli->chunk_bytes, cap = limit + 1, n = 0;
	bool eof = false;
	int status = 0;
	char *buf = malloc(cap);

	if (!buf) {
		fputs("herald: out of memory\n", stderr);
		return EXIT_TRANSPORT;
	}
	up->progress_at = CLI_UPLOAD_PROGRESS_BYTES;
	for (;;) {
		if ((status = upload_fill(cli, up, buf, cap, &n, &eof)))
			break;
		if (eof && n <= limit) { /* the rest fits: the last chunk */
			size_t len = strip_cr(buf, n, false);
			status = upload_send(cli, up, buf, len, rows_in(buf, len), !cli->keep_open);
			break;
		}
		if (up->next_line > UINT32_MAX) {
			fprintf(stderr, "herald: campaign upload: line %" PRIu64 " is past the last line "
					"number the protocol has (%" PRIu32 ")\n",
				up->next_line, UINT32_MAX);
			status = EXIT_USAGE;
			break;
		}
		/* n == cap: the chunk is buf[0 .. cut), its rows' LFs included */
		char *lf = memrchr(buf, '\n', limit);
		size_t cut, used;
		if (lf) {
			cut = used = (size_t)(lf + 1 - buf);
		} else if (buf[limit] == '\n') { /* one row of exactly limit bytes */
			cut = limit;
			used = limit + 1;
		} else { /* one line longer than a chunk: skip to its end */
			upload_reject(up, (uint32_t)up->next_line, "row longer than 1024 bytes");
			up->rejected++;
			up->next_line++;
			for (n = 0; !eof;) {
				size_t got = 0;
				if ((status = upload_fill(cli, up, buf, cap, &got, &eof)))
					goto out;
				char *end = memchr(buf, '\n', got);
				if (end) {
					n = got - (size_t)(end + 1 - buf);
					memmove(buf, end + 1, n);
					break;
				}
			}
			continue;
		}
		size_t len = strip_cr(buf, cut, cut < used);
		uint64_t nrows = rows_in(buf, len);
		/* the engine skips an empty row that ends the chunk */
		bool empty_last = buf[len - 1] == '\n' && (len == 1 || buf[len - 2] == '\n');
		uint64_t last_line = up->next_line + nrows - 1;
		if (len == 1 && empty_last)
			up->next_line++;
		else if ((status = upload_send(cli, up, buf, len, nrows, false)))
			break;
		if (empty_last) {
			upload_reject(up, (uint32_t)last_line, "empty row");
			up->rejected++;
		}
		n -= used;
		memmove(buf, buf + used, n);
	}
out:
	free(buf);
	return status;
}

/* The upload's outcome as JSON fields (no braces). */
static void upload_json_fields(const struct upload_run *up)
{
	printf("\"first_line\":%" PRIu64 ",\"next_line\":%" PRIu64 ",\"accepted\":%" PRIu64
	       ",\"rejected\":%" PRIu64 ",\"closed\":%s,\"chunks\":%" PRIu64 ",\"rejects\":[",
	       up->first_line, up->next_line, up->accepted, up->rejected, up->closed ? "true" : "false",
	       up->chunks);
	for (size_t i = 0; i < up->note_count; i++) {
		printf("%s{\"line\":%" PRIu32 ",\"reason\":", i ? "," : "", up->notes[i].line);
		json_str(up->notes[i].reason);
		putchar('}');
	}
	printf("],\"rejects_not_listed\":%" PRIu64, up->unlisted + up->notes_dropped);
}

/* The upload's outcome for people, one line on stdout. */
static void upload_text(const struct upload_run *up)
{
	printf("campaign %" PRIu64 ": ", up->campaign_id);
	if (up->next_line > up->first_line)
		printf("lines %" PRIu64 " to %" PRIu64 ": ", up->first_line, up->next_line - 1);
	printf("%" PRIu64 " rows accepted, %" PRIu64 " rejected; ", up->accepted, up->rejected);
	if (up->closed)
		puts("upload closed");
	else
		printf("upload open, next line %" PRIu64 "\n", up->next_line);
}

/*
 * Create-or-upload's common part: stream cli->upload_fd to campaign_id
 * into *up. 0 when every chunk went through (rows may have been
 * rejected), else an exit status.
 */
static int upload_run(struct cli *cli, uint64_t campaign_id, struct upload_run *up)
{
	*up = (struct upload_run){
		.campaign_id = campaign_id,
		.first_line = cli->upload_first_line,
		.next_line = cli->upload_first_line,
	};
	return upload_stream(cli, up);
}

/* The <campaign_id> <FILE> of campaign upload, --first-line and --chunk-kb. */
static int check_campaign_upload(struct cli *cli, char **argv, int argc)
{
	uint32_t first = 1;

	if (!parse_u64(argv[0], &cli->campaign_id))
		return usage_error("bad campaign id '%s' (a number)", argv[0]);
	if (cli->first_line && (!parse_u32(cli->first_line, &first) || first == 0))
		return usage_error("bad --first-line '%s' (the number of the file's first line, 1 or "
				   "more)",
				   cli->first_line);
	cli->upload_first_line = first;
	return upload_open(cli, argv[1], "");
}

static int cmd_campaign_upload(struct cli *cli, char **argv, int argc)
{
	struct upload_run up;

	int status = upload_run(cli, cli->campaign_id, &up);
	if (!status) {
		if (cli->json) {
			printf("{\"campaign_id\":%" PRIu64 ",", up.campaign_id);
			upload_json_fields(&up);
			puts("}");
		} else {
			upload_text(&up);
		}
		status = up.rejected ? EXIT_REJECTED : EXIT_OK;
	}
	upload_run_free(&up);
	return status;
}

static int check_campaign_create(struct cli *cli, char **argv, int argc)
{
	return campaign_spec_from_flags(cli, &cli->spec, &cli->ul);
}

/*
 * campaign create --file: the campaign, then its rows, then (--wait) the
 * watch. The id is printed first (text) so that a failed upload leaves
 * the user the campaign to go on with or cancel.
 */
static int campaign_create_upload(struct cli *cli, uint64_t campaign_id)
{
	struct upload_run up;

	if (!cli->json) {
		printf("campaign_id: %" PRIu64 "\n", campaign_id);
		fflush(stdout);
	}
	cli->upload_first_line = 1;
	int status = upload_run(cli, campaign_id, &up);
	if (status) {
		fprintf(stderr, "herald: campaign %" PRIu64 " stays running with its upload open: "
				"'herald campaign upload %" PRIu64 " FILE --first-line N' sends the rest, "
				"'herald campaign cancel %" PRIu64 "' drops it\n",
			campaign_id, campaign_id, campaign_id);
		goto out;
	}
	if (!cli->json) {
		upload_text(&up);
		fflush(stdout);
	}
	if (cli->wait) {
		status = campaign_watch(cli, campaign_id, &up);
	} else if (cli->json) {
		printf("{\"campaign_id\":%" PRIu64 ",\"upload\":{", campaign_id);
		upload_json_fields(&up);
		puts("}}");
	}
	if (!status && up.rejected)
		status = EXIT_REJECTED;
out:
	upload_run_free(&up);
	return status;
}

static int cmd_campaign_create(struct cli *cli, char **argv, int argc)
{
	uint64_t campaign_id = 0;

	int rc = herald_campaign_create(cli->conn, &cli->spec, &campaign_id);
	if (rc)
		return fail(cli, rc, "campaign create");
	if (cli->upload_fd >= 0)
		return campaign_create_upload(cli, campaign_id);
	if (cli->wait) {
		if (!cli->json) {
			printf("campaign_id: %" PRIu64 "\n", campaign_id);
			fflush(stdout);
		}
		return campaign_watch(cli, campaign_id, NULL);
	}
	if (cli->json)
		printf("{\"campaign_id\":%" PRIu64 "}\n", campaign_id);
	else
		printf("campaign_id: %" PRIu64 "\n", campaign_id);
	return EXIT_OK;
}

/* The <campaign_id> of status, pause, resume and cancel. */
static int check_campaign_id(struct cli *cli, char **argv, int argc)
{
	if (!parse_u64(argv[0], &cli->campaign_id))
		return usage_error("bad campaign id '%s' (a number)", argv[0]);
	return 0;
}

static int cmd_campaign_status(struct cli *cli, char **argv, int argc)
{
	struct herald_campaign_status st;
	uint64_t campaign_id = cli->campaign_id;

	if (cli->watch)
		return campaign_watch(cli, campaign_id, NULL);
	int rc = herald_campaign_status(cli->conn, campaign_id, &st);
	if (rc)
		return fail(cli, rc, "campaign status");
	if (cli->json)
		campaign_status_json(campaign_id, &st);
	else
		campaign_status_text(campaign_id, &st);
	return EXIT_OK;
}

static int campaign_control(struct cli *cli, char **argv, uint8_t action)
{
	char what[64], b[16];
	uint64_t campaign_id = cli->campaign_id;
	uint8_t state = 0;

	snprintf(what, sizeof(what), "campaign %s", herald_control_name(action));
	int rc = herald_campaign_control(cli->conn, campaign_id, action, &state);
	if (rc)
		return fail(cli, rc, what);
	if (cli->json) {
		printf("{\"campaign_id\":%" PRIu64 ",\"state\":", campaign_id);
		json_enum(herald_campaign_state_name(state), state);
		puts("}");
	} else {
		printf("campaign %" PRIu64 ": %s\n", campaign_id,
		       enum_text(herald_campaign_state_name(state), state, b, sizeof(b)));
	}
	return EXIT_OK;
}

static int cmd_campaign_pause(struct cli *cli, char **argv, int argc)
{
	return campaign_control(cli, argv, HRL_CONTROL_PAUSE);
}

static int cmd_campaign_resume(struct cli *cli, char **argv, int argc)
{
	return campaign_control(cli, argv, HRL_CONTROL_RESUME);
}

static int cmd_campaign_cancel(struct cli *cli, char **argv, int argc)
{
	return campaign_control(cli, argv, HRL_CONTROL_CANCEL);
}

/* A numeric flag of vendor set: NULL leaves *out at 0 (the default). */
static bool vendor_u16(const char *text, uint16_t *out)
{
	return !text || parse_u16(text, out);
}

static bool vendor_u32(const char *text, uint32_t *out)
{
	return !text || parse_u32(text, out);
}

static int check_vendor_set(struct cli *cli, char **argv, int argc)
{
	static const char cmd[] = "vendor set";
	struct herald_vendor_cfg *cfg = &cli->vendor_cfg;
	int v;

	*cfg = (struct herald_vendor_cfg){
		.url = cli->url,
		.app_id = cli->app_id,
		.secret = cli->vsecret,
		.secret2 = cli->vsecret2,
		.package = cli->package,
		.sign_name = cli->sign_name,
		.template_code = cli->template_code,
	};
	if (!cli->target)
		return missing_flag(cmd, "--target", TARGET_NAMES);
	if (!cli->url)
		return missing_flag(cmd, "--url", "http://host:port or https://host:port");
	if ((v = herald_target_parse(cli->target)) < 0)
		return usage_error("unknown target '%s' (" TARGET_NAMES ")", cli->target);
	cfg->target = (uint8_t)v;
	if (!vendor_u16(cli->batch, &cfg->batch_max))
		return usage_error("bad --batch '%s' (addresses per call, 0 for the default)",
				   cli->batch);
	if (!vendor_u16(cli->connections, &cfg->connections))
		return usage_error("bad --connections '%s' (per core, 0 for the default)",
				   cli->connections);
	if (!vendor_u32(cli->rate, &cfg->rate_per_s))
		return usage_error("bad --rate '%s' (addresses per second, 0 for unlimited)",
				   cli->rate);
	if (!vendor_u32(cli->quota, &cfg->daily_quota))
		return usage_error("bad --quota '%s' (addresses per day, 0 for unlimited)",
				   cli->quota);
	return 0;
}

static int cmd_vendor_set(struct cli *cli, char **argv, int argc)
{
	int rc = herald_vendor_set(cli->conn, &cli->vendor_cfg);
	if (rc)
		return fail(cli, rc, "vendor set");
	print_ok(cli);
	return EXIT_OK;
}

static int cmd_vendor_list(struct cli *cli, char **argv, int argc)
{
	struct herald_vendor_list *l = NULL;
	char b[16];
	int rc = herald_vendor_list(cli->conn, &l);
	if (rc)
		return fail(cli, rc, "vendor list");
	if (cli->json) {
		fputs("{\"vendors\":[", stdout);
		for (unsigned i = 0; i < l->count; i++) {
			const struct herald_vendor_info *vi = &l->vendors[i];
			fputs(i ? ",{\"target\":" : "{\"target\":", stdout);
			json_enum(herald_target_name(vi->target), vi->target);
			fputs(",\"url\":", stdout);
			json_str(vi->url);
			printf(",\"batch_max\":%u,\"connections\":%u,\"rate_per_s\":%u,\"daily_quota\":%u}",
			       vi->batch_max, vi->connections, vi->rate_per_s, vi->daily_quota);
		}
		puts("]}");
	} else if (l->count == 0) {
		puts("no vendors configured");
	} else {
		printf("%-8s  %-40s  %6s  %11s  %10s  %11s\n", "TARGET", "URL", "BATCH", "CONNECTIONS",
		       "RATE/S", "DAILY_QUOTA");
		for (unsigned i = 0; i < l->count; i++) {
			const struct herald_vendor_info *vi = &l->vendors[i];
			printf("%-8s  %-40s  %6u  %11u  %10u  %11u\n",
			       enum_text(herald_target_name(vi->target), vi->target, b, sizeof(b)),
			       vi->url, vi->batch_max, vi->connections, vi->rate_per_s,
			       vi->daily_quota);
		}
		puts("(0: the default for batch and connections, unlimited for rate and quota)");
	}
	herald_vendor_list_free(l);
	return EXIT_OK;
}

static const struct cli_cmd cli_cmds[] = {
	{ NULL, "ping", "", "Say HELLO (and AUTH when a secret is given) and time one PING.",
	  0, 0, false, 0, cmd_ping, NULL },
	{ NULL, "stats", "", "Per-core counters of the engine.", 0, 0, true, 0, cmd_stats, NULL },
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
	  0, 0, true, 0, cmd_store_stats, NULL },
	{ "app", "create", "<app_id>",
	  "Create an app (admin). Prints the app id and its new secret as 64 hex digits;\n"
	  "the secret is shown only once.",
	  1, 1, true, 0, cmd_app_create, NULL },
	{ "app", "list", "", "List apps with their creation time and secret version (admin).",
	  0, 0, true, 0, cmd_app_list, NULL },
	{ "app", "rotate", "<app_id>",
	  "Give an app a new secret (admin, or the app itself). The old one stops working.",
	  1, 1, true, 0, cmd_app_rotate, NULL },
	{ NULL, "bind", "<user> <channel> <address> [--vendor V --platform P]",
	  "Bind an address to a user; prints the device id. Channels: push sms email wechat\n"
	  "webhook. For push, --vendor (apns fcm huawei xiaomi oppo vivo honor meizu) and\n"
	  "--platform (android ios harmony web) are required; other channels take neither.",
	  3, 3, true, CF_VENDOR | CF_PLATFORM, cmd_bind, NULL },
	{ NULL, "unbind", "<user> <device_id>", "Remove a device and its aliases.", 2, 2, true,
	  0, cmd_unbind, NULL },
	{ "alias", "set", "<user> <device_id> <type> <alias>",
	  "Set the device's alias of this type; prints the alias it replaced.", 4, 4, true,
	  0, cmd_alias_set, NULL },
	{ "alias", "del", "<user> <device_id> <type>", "Delete the device's alias of this type.",
	  3, 3, true, 0, cmd_alias_del, NULL },
	{ "alias", "lookup", "<type> <alias>",
	  "List the devices (user and device id) that hold an alias.", 2, 2, true, 0,
	  cmd_alias_lookup, NULL },
	{ "tag", "add", "<user> <tag>...", "Add tags to a user; prints how many were new.", 2, -1,
	  true, 0, cmd_tag_add, NULL },
	{ "tag", "del", "<user> <tag>...", "Remove tags from a user; prints how many it had.", 2,
	  -1, true, 0, cmd_tag_del, NULL },
	{ "attr", "set", "<user> key=value...",
	  "Set user attributes; an empty value (key=) deletes the key. tz must be an IANA\n"
	  "zone name, locale a BCP 47 tag. Prints the user's attribute count.",
	  2, -1, true, 0, cmd_attr_set, NULL },
	{ "user", "show", "<user>", "Show a user's devices, aliases, tags and attributes.", 1, 1,
	  true, 0, cmd_user_show, NULL },
	{ "user", "history", "<user> [--limit N] [--cursor HEX] [--all]",
	  "List a user's receipts, newest first (the order the engine recorded them).\n"
	  "One page of --limit receipts (1 to 1000, default 100), then the cursor of the\n"
	  "next page as 32 hex digits (all zero: nothing older); --cursor HEX continues\n"
	  "from there. --all follows the cursors to the oldest receipt and prints them all.\n"
	  "The user need not exist: no receipts is not an error.",
	  1, 1, true, CF_LIMIT | CF_CURSOR | CF_ALL, cmd_user_history, NULL },
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
	  cmd_receipt_put, NULL },
	{ "campaign", "counters", "<campaign_id>",
	  "Count a campaign's receipts per channel and state, with a funnel per channel.\n"
	  "The funnel: queued > sent > delivered > displayed > clicked, each in percent of\n"
	  "queued, then failed and recalled. A recipient that went through several states\n"
	  "counts once in each. The counts are this app's; campaign 0 counts the messages\n"
	  "sent outside any campaign.",
	  1, 1, true, 0, cmd_campaign_counters, NULL },
	{ "campaign", "create",
	  "--audience user|list|tag|all|upload [--user U] [--users a,b,c | --users-file F] "
	  "[--tag-expr EXPR] [--upload-kind users|phones [--columns a,b] [--file F] "
	  "[--chunk-kb K]] --channel push[,sms,...] [--title T] --body B [--category C] "
	  "[--lane bulk|transactional] [--wait]",
	  "Start a campaign: send a message to an audience on one to four channels; prints\n"
	  "its id. Audiences: user (--user U), list (--users a,b,c, or --users-file F with\n"
	  "one user id a line, '-' for standard input; 1 to 1000 users), tag (--tag-expr, for\n"
	  "example 'vip AND (cn OR hk) AND NOT churned'; NOT binds tighter than AND, AND\n"
	  "than OR), all (every user of the app), upload (rows sent after the create, see\n"
	  "'campaign upload'). --channel: push sms email wechat webhook, comma-separated.\n"
	  "--title and --body are templates: {{name}} is the user's attribute name,\n"
	  "{{name|default}} falls back to default, {{user_id}} the user id, {{row.col}} the\n"
	  "column col of an uploaded row, {{{{ a literal {{. --category: the vendors' message\n"
	  "class. --lane: bulk (default) or transactional. The campaign is durable when its\n"
	  "id is printed and starts at once. --wait: then watch it as 'campaign status\n"
	  "--watch' does.\n"
	  "Upload audiences: --upload-kind users (each row starts with a user id of the app)\n"
	  "or phones (an E.164 number, sent to by sms: --channel sms alone); --columns a,b\n"
	  "names the fields after the first (each row then is id,a-value,b-value; up to 16\n"
	  "columns, read by the templates as {{row.a}}). The campaign runs with its upload\n"
	  "open until a last chunk closes it. --file F (or '-' for standard input) uploads\n"
	  "F's rows at once and closes the upload, as 'campaign upload' does (--chunk-kb\n"
	  "too); with --wait: create, upload and watch in one go. Exit 5 when rows were\n"
	  "rejected (each on stderr as 'line N: reason').",
	  0, 0, true,
	  CF_AUDIENCE | CF_USER | CF_USERS | CF_USERS_FILE | CF_TAG_EXPR | CF_CHANNEL | CF_TITLE |
		  CF_BODY | CF_CATEGORY | CF_LANE | CF_WAIT | CF_UPLOAD_KIND | CF_COLUMNS | CF_FILE |
		  CF_CHUNK_KB,
	  cmd_campaign_create, check_campaign_create },
	{ "campaign", "upload", "<campaign_id> <FILE|-> [--first-line N] [--chunk-kb K] [--keep-open]",
	  "Send the rows of an upload campaign: FILE, or standard input for '-', one row a\n"
	  "line: the user id or phone number, then ',value' for each of the campaign's\n"
	  "columns (no quoting: values hold no ',' and no line break; at most 1024 bytes a\n"
	  "row; a CR before the LF is dropped). The file goes in chunks of --chunk-kb KiB\n"
	  "(default 256, at most 448), each cut at the end of a line; lines are numbered\n"
	  "from --first-line (default 1) across chunks. The last chunk closes the upload, so\n"
	  "that the campaign can finish; --keep-open leaves it open for another upload (then\n"
	  "give --first-line the next line's number). Rows the engine rejects are skipped\n"
	  "and printed on stderr as 'line N: reason' (the engine names the first 100 of each\n"
	  "chunk); the rest is durable and being sent. Rows naming users that do not exist\n"
	  "are accepted and skipped by the campaign; a row given twice is sent to twice.\n"
	  "Prints the lines sent and the rows accepted and rejected; a progress line on\n"
	  "stderr every 4 MiB. Exit 0 when every row was accepted, 5 when some were\n"
	  "rejected, 1 when the engine refused a chunk (the rows before it went through: the\n"
	  "message says from which line to go on). If an answer is lost (timeout, closed\n"
	  "connection) its chunk may have been taken: look at 'campaign status' before\n"
	  "sending it again, a row sent twice gets its message twice.",
	  2, 2, true, CF_FIRST_LINE | CF_CHUNK_KB | CF_KEEP_OPEN, cmd_campaign_upload,
	  check_campaign_upload },
	{ "campaign", "status", "<campaign_id> [--watch]",
	  "Show where a campaign stands: its state (running, paused, cancelled, done), how\n"
	  "far the enumeration of users got, and its funnel: recipients (users that matched),\n"
	  "addresses queued, sent (a vendor accepted them), failed, invalid (the vendor said\n"
	  "so; unbound, never tried again), users with no address on the campaign's channels,\n"
	  "vendor calls and the time from create to the first call. --watch: poll until the\n"
	  "campaign is done or cancelled, redrawing a progress line on a terminal (a line a\n"
	  "second otherwise), then print the funnel; with --json, only the final status.",
	  1, 1, true, CF_WATCH, cmd_campaign_status, check_campaign_id },
	{ "campaign", "pause", "<campaign_id>",
	  "Pause a campaign: no more users are enumerated and no new vendor calls start\n"
	  "(calls in flight finish). Prints the new state.",
	  1, 1, true, 0, cmd_campaign_pause, check_campaign_id },
	{ "campaign", "resume", "<campaign_id>",
	  "Resume a paused campaign where it stopped. Prints the new state.", 1, 1, true, 0,
	  cmd_campaign_resume, check_campaign_id },
	{ "campaign", "cancel", "<campaign_id>",
	  "Cancel a campaign for good: nothing new is sent, queued batches are dropped and\n"
	  "counted failed (reason \"cancelled\"). Prints the new state.",
	  1, 1, true, 0, cmd_campaign_cancel, check_campaign_id },
	{ "vendor", "set",
	  "--target huawei|xiaomi|oppo|vivo|sms|webhook --url URL [--app-id ID] "
	  "[--vendor-secret S] [--vendor-secret2 S] [--package P] [--sign-name N] "
	  "[--template-code C] [--batch N] [--connections N] [--rate N] [--quota N]",
	  "Configure where and as whom this app's messages go for one target; replaces the\n"
	  "target's earlier setting. Push devices go to the target of their vendor, the sms\n"
	  "channel to sms, the webhook channel to webhook. --url: http://host:port or\n"
	  "https://host:port (for webhook, the path is where to POST). --app-id: Huawei\n"
	  "appid, vivo appId. --vendor-secret: the access token, app secret, auth token or\n"
	  "AccessKeyId (docs/VENDORS.md); --vendor-secret2: the SMS AccessKey secret.\n"
	  "(They are not --secret, which is this app's own secret for logging in.)\n"
	  "--package: Xiaomi restricted_package_name. --sign-name, --template-code: SMS\n"
	  "SignName and TemplateCode. --batch: addresses per call (default and at most\n"
	  "1000). --connections: per engine core (default 4, at most 64). --rate:\n"
	  "addresses per second across all cores; --quota: addresses per day (0, the\n"
	  "default: unlimited). Secrets are stored by the engine and never shown again.",
	  0, 0, true,
	  CF_TARGET | CF_URL | CF_APP_ID | CF_VSECRET | CF_VSECRET2 | CF_PACKAGE | CF_SIGN_NAME |
		  CF_TEMPLATE_CODE | CF_BATCH | CF_CONNECTIONS | CF_RATE | CF_QUOTA,
	  cmd_vendor_set, check_vendor_set },
	{ "vendor", "list", "",
	  "List this app's vendor settings: target, url, batch, connections, rate and quota\n"
	  "(never the secrets).",
	  0, 0, true, 0, cmd_vendor_list, NULL },
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
	      "3 connection or transport error, 4 authentication failed, 5 an upload went\n"
	      "through but the engine rejected some of its rows (stderr: line N: reason).\n",
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
	uint64_t bit;  /* CF_*, 0 for global flags */
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
	{ "--audience", offsetof(struct cli, audience), CF_AUDIENCE },
	{ "--users", offsetof(struct cli, users), CF_USERS },
	{ "--users-file", offsetof(struct cli, users_file), CF_USERS_FILE },
	{ "--tag-expr", offsetof(struct cli, tag_expr), CF_TAG_EXPR },
	{ "--title", offsetof(struct cli, title), CF_TITLE },
	{ "--body", offsetof(struct cli, body), CF_BODY },
	{ "--category", offsetof(struct cli, category), CF_CATEGORY },
	{ "--lane", offsetof(struct cli, lane), CF_LANE },
	{ "--target", offsetof(struct cli, target), CF_TARGET },
	{ "--url", offsetof(struct cli, url), CF_URL },
	{ "--app-id", offsetof(struct cli, app_id), CF_APP_ID },
	{ "--vendor-secret", offsetof(struct cli, vsecret), CF_VSECRET },
	{ "--vendor-secret2", offsetof(struct cli, vsecret2), CF_VSECRET2 },
	{ "--package", offsetof(struct cli, package), CF_PACKAGE },
	{ "--sign-name", offsetof(struct cli, sign_name), CF_SIGN_NAME },
	{ "--template-code", offsetof(struct cli, template_code), CF_TEMPLATE_CODE },
	{ "--batch", offsetof(struct cli, batch), CF_BATCH },
	{ "--connections", offsetof(struct cli, connections), CF_CONNECTIONS },
	{ "--rate", offsetof(struct cli, rate), CF_RATE },
	{ "--quota", offsetof(struct cli, quota), CF_QUOTA },
	{ "--upload-kind", offsetof(struct cli, upload_kind), CF_UPLOAD_KIND },
	{ "--columns", offsetof(struct cli, columns), CF_COLUMNS },
	{ "--file", offsetof(struct cli, file), CF_FILE },
	{ "--first-line", offsetof(struct cli, first_line), CF_FIRST_LINE },
	{ "--chunk-kb", offsetof(struct cli, chunk_kb), CF_CHUNK_KB },
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
static void flag_seen(struct cli *cli, uint64_t bit, const char *name)
{
	cli->flags_seen |= bit;
	cli->flag_names[__builtin_ctzll(bit)] = name;
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
		if (strcmp(a, "--wait") == 0) {
			cli->wait = true;
			flag_seen(cli, CF_WAIT, "--wait");
			continue;
		}
		if (strcmp(a, "--watch") == 0) {
			cli->watch = true;
			flag_seen(cli, CF_WATCH, "--watch");
			continue;
		}
		if (strcmp(a, "--keep-open") == 0) {
			cli->keep_open = true;
			flag_seen(cli, CF_KEEP_OPEN, "--keep-open");
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
	struct cli cli = { .timeout_ms = CLI_TIMEOUT_MS_DEFAULT, .upload_fd = -1 };
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
	uint64_t stray = cli.flags_seen & ~cmd->flags;
	if (stray) {
		char words_text[64];
		cmd_words(cmd, words_text, sizeof(words_text));
		fprintf(stderr, "herald: flag %s does not apply to '%s'\n(try 'herald %s --help')\n",
			cli.flag_names[__builtin_ctzll(stray)], words_text, words_text);
		status = EXIT_USAGE;
		goto out_free_words;
	}
	if (cmd->check && (status = cmd->check(&cli, words + skip, nargs)))
		goto out_close;
	defaults_from_env(&cli);
	status = open_session(&cli, cmd->auth);
	if (status)
		goto out_close;
	status = cmd->run(&cli, words + skip, nargs);

out_close:
	herald_close(cli.conn);
	user_list_free(&cli.ul);
	if (cli.upload_fd > STDIN_FILENO)
		close(cli.upload_fd);
out_free_words:
	free(words);
	return status;
}
