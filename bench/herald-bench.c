/* SPDX-License-Identifier: Apache-2.0 */
/*
 * herald-bench - one campaign end to end through a running engine, measured
 * from the outside with libherald (include/herald.h) and libc only.
 *
 *   herald-bench [--server HOST:PORT] [--app ID] (--secret HEX | --secret-file F
 *                | --admin-secret-file DATA/admin.secret)
 *                [--users N [--no-bind] [--mix]] [--vendor-url URL [--batch N]
 *                [--connections N] [--no-ledger]] [--audience all|tag:EXPR|list:FILE]
 *                [--personal] [--engine-pid PID] [--sim-pid PID]
 *                [--json] [--plot F.svg] [--html F.html]
 *
 * Steps, each optional but the campaign:
 *
 *   1. app     with --admin-secret-file: APP_CREATE the app (or, when it
 *              exists, APP_ROTATE it) and use the secret it gets;
 *              --secret-out writes that secret to a file (mode 0600).
 *   2. bind    --users N: users "<prefix><i>" (prefix "bench-"), i = 0..N-1,
 *              each with one push device, pipelined over --bind-conns
 *              connections with --bind-depth requests in flight on each
 *              (herald_submit_bind / herald_recv / herald_decode_bind).
 *              The address of user i is the lowercase hex of i, zero-padded
 *              to --token-bytes (64), a Huawei token, as bench/gen_users
 *              writes them. With --mix, i % 10 == 9 is a Xiaomi regid ("xm"
 *              + the hex) and i % 1000 == 500 a Huawei token starting "bad"
 *              (herald-vendorsim calls those invalid). Users with
 *              i % 10 == 0 also get the tag "vip" (TAG_ADD), for
 *              --audience tag:vip. An already bound address is fine
 *              (created 0): a second run over the same users binds nothing
 *              new. Any error answer fails the run.
 *   3. vendor  --vendor-url: VENDOR_SET huawei (appid 10086, access token
 *              "bench-access-token") and xiaomi (app secret
 *              "bench-app-secret", package com.example.bench) at that URL,
 *              with --batch (0: the engine's 1000) and --connections
 *              (0: the engine's 4) per core.
 *   4. campaign CAMPAIGN_CREATE on channel push, lane bulk; the body is
 *              --body, or with --personal a template naming {{user_id}} (so
 *              the engine renders every address on its own and each vendor
 *              call carries one address). Then CAMPAIGN_STATUS every
 *              --interval-ms (100) until done or cancelled, with a progress
 *              bar on stderr (a line a second when stderr is not a TTY).
 *
 * What is measured, and how (every time on CLOCK_MONOTONIC in this process):
 *
 *   seconds            from just before CAMPAIGN_CREATE is sent to the
 *                      answer of the first CAMPAIGN_STATUS that says done
 *                      (so it overshoots by less than one interval);
 *   recipients_per_sec recipients / seconds; addresses_per_sec queued / seconds;
 *   first_call_ms      the engine's own first_call_us (create to first
 *                      vendor call, PROTOCOL.md 5.10);
 *   q2d_p50_ms_est,    NOT a per-address measurement: the engine does not
 *   q2d_p99_ms_est     expose per-address timings. From the sampled curves
 *                      queued(t) and finished(t) = sent + failed + invalid,
 *                      the k-th address is taken to finish in the order it
 *                      was queued (FIFO), and its time from "queued" (put in a
 *                      vendor batch) to its outcome is the horizontal distance
 *                      between the curves at height k (linear interpolation
 *                      between samples), for k at every 1/1000 of the
 *                      addresses; p50 and p99 of those. The sampling interval
 *                      bounds its resolution. q2d_mean_ms_little is Little's
 *                      law over the same samples: mean inflight / throughput;
 *   engine memory      with --engine-pid: "5" is written to
 *                      /proc/PID/clear_refs (resets VmHWM; if refused the
 *                      peak may include start-up) and VmRSS read before the
 *                      create (rest); VmRSS is sampled with each status and
 *                      VmHWM read at the end: peak = the larger of the two.
 *                      VmRSS, RssAnon (heap) and RssFile (mapped files) are
 *                      also given as sampled, to tell a spike between two
 *                      samples from the working set;
 *   CPU time           utime + stime from /proc/PID/stat over the campaign,
 *                      of the engine (--engine-pid) and the simulator
 *                      (--sim-pid), per address queued;
 *   ledger             with --vendor-url: GET /ledger/summary before and after
 *                      the campaign; accepted, invalid and duplicates are the
 *                      differences summed over the simulator's vendors, and
 *                      ledger_match says whether accepted == Herald's sent
 *                      (--no-ledger skips it: an engine started with
 *                      --vendor-sink null makes no call).
 *
 * Output: a text report on stdout and one machine-readable line
 *   name=herald_campaign recipients=... seconds=... recipients_per_sec=... ...
 * or, with --json, one JSON object instead. --plot writes an SVG of the
 * addresses sent (and queued) over time with the create and first-call
 * marks; --html a page with the funnel (recipients, queued, sent, failed,
 * invalid) as bars and the same plot.
 *
 * Exit status: 0 done (and, with --vendor-url, the ledger matches), 1 a
 * failure (an error answer, a cancelled or unfinished campaign, a ledger
 * mismatch), 2 a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "include/bounds.h"
#include "include/herald.h"
#include "include/herald_proto.h"

/* Limits of the tool. */
#define HB_BIND_CONNS_MAX     64u
#define HB_BIND_DEPTH_MAX     HRL_CONN_INFLIGHT_MAX /* the engine pauses a connection above this */
#define HB_SAMPLES_MAX        (1u << 20)            /* status samples kept for the plot */
#define HB_INTERVAL_MS_MAX    10000u
#define HB_TOKEN_BYTES_MIN    24u                   /* room for the hex of a 64-bit i */
#define HB_TOKEN_BYTES_MAX    HRL_ADDRESS_BYTES_MAX
#define HB_HTTP_ANSWER_BYTES_MAX (1u << 20)         /* GET /ledger/summary answer */
#define HB_LIST_LINE_BYTES_MAX 256u
#define HB_QUANTILE_STEPS     1000u                 /* k at every 1/1000 of the addresses */
#define HB_Q2D_SAMPLES_MIN    6u                    /* samples needed for the latency estimate */
#define HB_CONNECT_TIMEOUT_MS 5000
#define HB_BLOCKING_TIMEOUT_MS 30000

_Static_assert(HB_TOKEN_BYTES_MIN >= 2 + 16 + 3, "xm/bad prefix and 16 hex digits fit");
_Static_assert(HB_BIND_DEPTH_MAX <= HRL_CONN_INFLIGHT_MAX, "bind depth within the engine's");

static const char *const hb_sim_vendors[] = { "huawei", "xiaomi", "oppo", "vivo", "sms", "webhook" };
#define HB_SIM_VENDORS (sizeof(hb_sim_vendors) / sizeof(hb_sim_vendors[0]))

struct hb_opts {
	const char *server;
	const char *app;
	const char *secret_hex;
	const char *secret_file;
	const char *admin_secret_file;
	const char *secret_out;
	const char *prefix;
	unsigned long long users;
	bool no_bind;
	bool mix;
	unsigned token_bytes;
	unsigned bind_conns;
	unsigned bind_depth;
	const char *vendor_url;
	bool no_ledger;
	unsigned batch;
	unsigned connections;
	const char *audience;
	bool personal;
	const char *title;
	const char *body;
	unsigned interval_ms;
	unsigned timeout_s;
	long engine_pid;
	long sim_pid;
	bool json;
	bool quiet;
	const char *plot;
	const char *html;
	const char *name;
};

struct hb_sample {
	double t_s; /* since create was sent */
	uint64_t queued, finished, sent, recipients, inflight;
	uint32_t ppm;
};

struct hb_ledger {
	bool ok;
	uint64_t accepted, invalid, duplicates, requests;
	char *raw; /* the JSON object, malloc'd */
};

struct hb_proc {
	bool ok;
	uint64_t cpu_ticks; /* utime + stime */
	uint64_t sys_ticks; /* stime */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc, struct herald_conn *c)
{
	if (rc > 0 && c)
		fprintf(stderr, "herald-bench: %s: %s: %s\n", what, herald_strerror(rc), herald_errmsg(c));
	else
		fprintf(stderr, "herald-bench: %s: %s\n", what, herald_strerror(rc));
	exit(1);
}

/* ---- /proc ------------------------------------------------------------------ */

/* A "Vm...:" line of /proc/PID/status in KiB; 0 if unreadable. */
static uint64_t proc_status_kib(long pid, const char *key)
{
	char path[64], line[256];
	uint64_t v = 0;
	size_t kl = strlen(key);
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtoull(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static struct hb_proc proc_cpu(long pid)
{
	struct hb_proc p = { 0 };
	char path[64], buf[1024];
	if (pid <= 0)
		return p;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return p;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* fields after the command, which ends at the last ')': state is field 3,
	   utime 14, stime 15 */
	char *q = strrchr(buf, ')');
	if (!q)
		return p;
	unsigned long long ut = 0, st = 0;
	if (sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return p;
	p.ok = true;
	p.cpu_ticks = ut + st;
	p.sys_ticks = st;
	return p;
}

static bool proc_reset_hwm(long pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/clear_refs", pid);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = write(fd, "5", 1) == 1;
	close(fd);
	return ok;
}

/* ---- the simulator's ledger over plain HTTP/1.1 ---------------------------- */

/* "http://host[:port][/...]" -> host, port. Returns 0 or -EINVAL. */
static int url_split(const char *url, char *host, size_t host_cap, char *port, size_t port_cap)
{
	if (strncmp(url, "http://", 7))
		return -EINVAL;
	const char *h = url + 7, *end = h + strcspn(h, "/"), *colon = memchr(h, ':', (size_t)(end - h));
	const char *hend = colon ? colon : end;
	if (hend == h || (size_t)(hend - h) >= host_cap)
		return -EINVAL;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = 0;
	if (colon) {
		size_t pl = (size_t)(end - colon - 1);
		if (pl == 0 || pl >= port_cap)
			return -EINVAL;
		memcpy(port, colon + 1, pl);
		port[pl] = 0;
	} else {
		snprintf(port, port_cap, "80");
	}
	return 0;
}

/* GET path from url's host; returns the answer body (malloc'd) or NULL. */
static char *http_get(const char *url, const char *path)
{
	char host[256], port[16];
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	if (url_split(url, host, sizeof(host), port, sizeof(port)) || getaddrinfo(host, port, &hints, &ai))
		return NULL;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char *buf = NULL, *body = NULL;
	if (fd < 0)
		goto out_free_ai;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen))
		goto out_close_fd;
	char req[512];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
	if (write(fd, req, (size_t)n) != n)
		goto out_close_fd;
	buf = malloc(HB_HTTP_ANSWER_BYTES_MAX + 1);
	if (!buf)
		goto out_close_fd;
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, HB_HTTP_ANSWER_BYTES_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == HB_HTTP_ANSWER_BYTES_MAX)
			break;
	}
	buf[len] = 0;
	char *sep = strstr(buf, "\r\n\r\n");
	if (sep && !strncmp(buf, "HTTP/1.1 200", 12))
		body = strdup(sep + 4);
	free(buf);
out_close_fd:
	close(fd);
out_free_ai:
	freeaddrinfo(ai);
	return body;
}

/* The number after "key": inside the object of vendor in a /ledger/summary answer. */
static uint64_t summary_field(const char *json, const char *vendor, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":{", vendor);
	const char *o = strstr(json, pat);
	if (!o)
		return 0;
	const char *end = strchr(o, '}');
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *f = strstr(o, pat);
	if (!f || (end && f > end))
		return 0;
	return strtoull(f + strlen(pat), NULL, 10);
}

static struct hb_ledger ledger_read(const char *url)
{
	struct hb_ledger l = { 0 };
	if (!url)
		return l;
	l.raw = http_get(url, "/ledger/summary");
	if (!l.raw)
		return l;
	l.raw[strcspn(l.raw, "\r\n")] = 0;
	l.ok = true;
	for (size_t i = 0; i < HB_SIM_VENDORS; i++) {
		l.accepted += summary_field(l.raw, hb_sim_vendors[i], "accepted");
		l.invalid += summary_field(l.raw, hb_sim_vendors[i], "invalid");
		l.duplicates += summary_field(l.raw, hb_sim_vendors[i], "duplicates");
		l.requests += summary_field(l.raw, hb_sim_vendors[i], "requests");
	}
	return l;
}

/* ---- app, bind, vendor -------------------------------------------------------- */

static struct herald_conn *connect_login(const struct hb_opts *o, const char *app, const uint8_t *secret)
{
	struct herald_conn *c;
	int rc = herald_connect(o->server, HB_CONNECT_TIMEOUT_MS, &c);
	if (rc)
		die(o->server, rc, NULL);
	herald_set_timeout(c, HB_BLOCKING_TIMEOUT_MS);
	rc = herald_login(c, app, secret);
	if (rc)
		die("login", rc, c);
	return c;
}

static void app_make(const struct hb_opts *o, uint8_t secret[HRL_SECRET_BYTES])
{
	uint8_t admin[HRL_SECRET_BYTES];
	int rc = herald_secret_read_file(o->admin_secret_file, admin);
	if (rc)
		die(o->admin_secret_file, rc, NULL);
	struct herald_conn *c = connect_login(o, "admin", admin);
	rc = herald_app_create(c, o->app, secret);
	if (rc == HRL_E_EXISTS) {
		uint32_t version;
		rc = herald_app_rotate(c, o->app, secret, &version);
		if (!rc && !o->json)
			fprintf(stderr, "herald-bench: app %s exists: rotated its secret (version %u)\n", o->app,
				version);
	}
	if (rc)
		die("APP_CREATE", rc, c);
	herald_close(c);
}

static void secret_write(const char *path, const uint8_t secret[HRL_SECRET_BYTES])
{
	char hex[2 * HRL_SECRET_BYTES + 1];
	herald_secret_format(secret, hex);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || dprintf(fd, "%s\n", hex) < 0) {
		fprintf(stderr, "herald-bench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	close(fd);
}

/* The address of user i: its vendor and token (see the top of the file). */
static uint8_t user_address(const struct hb_opts *o, unsigned long long i, char *out, size_t cap)
{
	if (o->mix && i % 10 == 9) {
		snprintf(out, cap, "xm%0*llx", (int)o->token_bytes - 2, i);
		return HRL_VENDOR_XIAOMI;
	}
	if (o->mix && i % 1000 == 500)
		snprintf(out, cap, "bad%0*llx", (int)o->token_bytes - 3, i);
	else
		snprintf(out, cap, "%0*llx", (int)o->token_bytes, i);
	return HRL_VENDOR_HUAWEI;
}

struct hb_bind_conn {
	struct herald_conn *c;
	size_t inflight;
};

struct hb_bind_result {
	unsigned long long requests, created, existing, tagged;
	double seconds;
};

/* Submit the next request of the plan: per user a BIND, and for i % 10 == 0
   then a TAG_ADD "vip". *next_user is the next user to bind; *tag_pending
   says its TAG_ADD is still due. */
static int bind_submit(const struct hb_opts *o, struct herald_conn *c, unsigned long long *next_user,
		       bool *tag_pending)
{
	char user[HRL_USER_ID_BYTES_MAX + 1], addr[HB_TOKEN_BYTES_MAX + 1];
	unsigned long long i = *next_user;
	snprintf(user, sizeof(user), "%s%llu", o->prefix, i);
	if (*tag_pending) {
		static const char *const vip[] = { "vip" };
		*tag_pending = false;
		(*next_user)++;
		return herald_submit_tag_add(c, user, vip, 1, NULL);
	}
	uint8_t vendor = user_address(o, i, addr, sizeof(addr));
	if (i % 10 == 0)
		*tag_pending = true;
	else
		(*next_user)++;
	return herald_submit_bind(c, user, HRL_CH_PUSH, vendor, HRL_PLATFORM_ANDROID, addr, NULL);
}

static struct hb_bind_result bind_users(const struct hb_opts *o, const uint8_t *secret)
{
	struct hb_bind_result res = { 0 };
	struct hb_bind_conn conns[HB_BIND_CONNS_MAX];
	struct pollfd pfd[HB_BIND_CONNS_MAX];
	unsigned nc = o->bind_conns;
	unsigned long long next = 0, errors = 0;
	bool tag_pending = false;
	size_t inflight_total = 0;
	double t0 = now_s(), last_report = t0;
	bool tty = isatty(2);

	for (unsigned k = 0; k < nc; k++) {
		conns[k].c = connect_login(o, o->app, secret);
		conns[k].inflight = 0;
	}
	while (next < o->users || tag_pending || inflight_total) {
		for (unsigned k = 0; k < nc; k++) {
			struct hb_bind_conn *bc = &conns[k];
			while (bc->inflight < o->bind_depth && (next < o->users || tag_pending)) {
				int rc = bind_submit(o, bc->c, &next, &tag_pending);
				if (rc)
					die("submit", rc, bc->c);
				bc->inflight++;
				inflight_total++;
				res.requests++;
			}
			int rc = herald_flush(bc->c);
			if (rc && rc != -ETIMEDOUT)
				die("flush", rc, bc->c);
			pfd[k].fd = herald_fd(bc->c);
			pfd[k].events = POLLIN;
			pfd[k].revents = 0;
		}
		if (poll(pfd, nc, 1000) < 0 && errno != EINTR)
			die("poll", -errno, NULL);
		for (unsigned k = 0; k < nc; k++) {
			struct hb_bind_conn *bc = &conns[k];
			if (!bc->inflight)
				continue;
			herald_set_timeout(bc->c, 0);
			for (;;) {
				struct herald_reply r;
				int rc = herald_recv(bc->c, &r);
				if (rc == -ETIMEDOUT)
					break;
				if (rc)
					die("recv", rc, bc->c);
				bc->inflight--;
				inflight_total--;
				if (r.error) {
					if (errors++ < 5)
						fprintf(stderr, "herald-bench: %s answered %s: %.*s\n",
							r.opcode == HRL_OP_BIND ? "BIND" : "TAG_ADD",
							herald_err_name(r.error), (int)r.message_len, r.message);
					continue;
				}
				if (r.opcode == HRL_OP_BIND) {
					bool created = false;
					rc = herald_decode_bind(&r, NULL, &created);
					if (rc)
						die("BIND answer", rc, bc->c);
					if (created)
						res.created++;
					else
						res.existing++;
				} else {
					if (herald_decode_tag_add(&r, NULL))
						die("TAG_ADD answer", -EPROTO, bc->c);
					res.tagged++;
				}
				if (!bc->inflight)
					break;
			}
			herald_set_timeout(bc->c, HB_BLOCKING_TIMEOUT_MS);
		}
		double t = now_s();
		if (!o->quiet && t - last_report >= (tty ? 0.1 : 1.0)) {
			last_report = t;
			unsigned long long done = res.created + res.existing;
			fprintf(stderr, tty ? "\rbind: %llu / %llu users, %.0f/s   " : "bind: %llu / %llu users, %.0f/s\n",
				done, o->users, (double)done / (t - t0));
		}
	}
	res.seconds = now_s() - t0;
	if (!o->quiet && tty)
		fputc('\n', stderr);
	for (unsigned k = 0; k < nc; k++)
		herald_close(conns[k].c);
	if (errors) {
		fprintf(stderr, "herald-bench: %llu bind requests failed\n", errors);
		exit(1);
	}
	return res;
}

static void vendors_set(const struct hb_opts *o, struct herald_conn *c)
{
	struct herald_vendor_cfg hw = {
		.target = HRL_TARGET_HUAWEI, .url = o->vendor_url, .app_id = "10086",
		.secret = "bench-access-token", .batch_max = (uint16_t)o->batch,
		.connections = (uint16_t)o->connections,
	};
	struct herald_vendor_cfg xm = {
		.target = HRL_TARGET_XIAOMI, .url = o->vendor_url, .secret = "bench-app-secret",
		.package = "com.example.bench", .batch_max = (uint16_t)o->batch,
		.connections = (uint16_t)o->connections,
	};
	int rc = herald_vendor_set(c, &hw);
	if (!rc)
		rc = herald_vendor_set(c, &xm);
	if (rc)
		die("VENDOR_SET", rc, c);
}

/* ---- the campaign ------------------------------------------------------------- */

struct hb_list {
	char **ids;
	size_t n;
};

static struct hb_list list_read(const char *path)
{
	struct hb_list l = { 0 };
	char line[HB_LIST_LINE_BYTES_MAX];
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "herald-bench: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	l.ids = calloc(HRL_CAMPAIGN_USERS_MAX, sizeof(*l.ids));
	if (!l.ids)
		die("list", -ENOMEM, NULL);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		if (l.n == HRL_CAMPAIGN_USERS_MAX) {
			fprintf(stderr, "herald-bench: %s: a list audience holds at most %u users\n", path,
				HRL_CAMPAIGN_USERS_MAX);
			exit(2);
		}
		l.ids[l.n] = strdup(line);
		if (!l.ids[l.n++])
			die("list", -ENOMEM, NULL);
	}
	fclose(f);
	return l;
}

struct hb_run {
	struct herald_campaign_status st;
	uint64_t id;
	double seconds;
	bool finished;
	struct hb_sample *samples;
	size_t n_samples;
	uint64_t rss_rest_kib, rss_peak_kib;
	uint64_t anon_rest_kib, anon_peak_kib; /* RssAnon: heap and stacks, no page cache */
	uint64_t rss_sampled_kib, file_rest_kib, file_peak_kib; /* VmRSS, RssFile at the samples */
	bool hwm_reset;
	struct hb_proc eng0, eng1, sim0, sim1;
	struct hb_ledger led0, led1;
	/* derived */
	double q2d_p50_ms, q2d_p99_ms, q2d_mean_ms;
	bool q2d_ok;
};

static void sample_add(struct hb_run *run, size_t *cap, const struct hb_sample *s)
{
	if (run->n_samples == *cap) {
		if (*cap == HB_SAMPLES_MAX)
			return;
		size_t ncap = *cap ? 2 * *cap : 1024;
		struct hb_sample *p = realloc(run->samples, ncap * sizeof(*p));
		if (!p)
			return;
		run->samples = p;
		*cap = ncap;
	}
	run->samples[run->n_samples++] = *s;
}

static void progress_draw(const struct hb_opts *o, double t, const struct herald_campaign_status *st, bool tty,
			  bool last)
{
	const unsigned width = 30;
	unsigned fill = (unsigned)((uint64_t)st->progress_ppm * width / 1000000u);
	char bar[64];
	for (unsigned i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '-';
	bar[width] = 0;
	if (o->quiet)
		return;
	fprintf(stderr, "%s[%s] %5.1f%% %6.1fs %-9s recipients %llu sent %llu failed %llu invalid %llu in flight %u%s",
		tty ? "\r" : "", bar, st->progress_ppm / 10000.0, t, herald_campaign_state_name(st->state),
		(unsigned long long)st->recipients, (unsigned long long)st->sent,
		(unsigned long long)st->failed, (unsigned long long)st->invalid, st->inflight,
		tty ? (last ? "\n" : "  ") : "\n");
}

/* Time at which the curve (t, v) first reaches height k, interpolated. */
static double curve_time(const struct hb_sample *s, size_t n, bool queued, double k)
{
	double pt = 0, pv = 0;
	for (size_t i = 0; i < n; i++) {
		double v = (double)(queued ? s[i].queued : s[i].finished);
		if (v >= k) {
			if (v == pv)
				return s[i].t_s;
			return pt + (s[i].t_s - pt) * (k - pv) / (v - pv);
		}
		pt = s[i].t_s;
		pv = v;
	}
	return -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void q2d_estimate(struct hb_run *run)
{
	uint64_t total = run->st.queued;
	size_t n = run->n_samples;
	if (total == 0 || n < HB_Q2D_SAMPLES_MIN)
		return; /* over in a few intervals: the curves say nothing */
	double lat[HB_QUANTILE_STEPS];
	size_t m = 0;
	for (unsigned j = 1; j <= HB_QUANTILE_STEPS; j++) {
		double k = (double)total * j / HB_QUANTILE_STEPS;
		double tq = curve_time(run->samples, n, true, k), td = curve_time(run->samples, n, false, k);
		if (tq < 0 || td < 0)
			continue;
		lat[m++] = td > tq ? td - tq : 0;
	}
	if (m == 0)
		return;
	qsort(lat, m, sizeof(lat[0]), cmp_double);
	run->q2d_p50_ms = 1000 * lat[(m - 1) / 2];
	run->q2d_p99_ms = 1000 * lat[(size_t)((double)(m - 1) * 0.99)];
	/* Little: mean inflight over the time the campaign had addresses out / rate */
	double area = 0, busy_from = -1, busy_to = 0;
	for (size_t i = 1; i < n; i++) {
		double dt = run->samples[i].t_s - run->samples[i - 1].t_s;
		double q = (double)(run->samples[i - 1].queued - run->samples[i - 1].finished);
		area += q * dt;
		if (run->samples[i].queued > 0 && busy_from < 0)
			busy_from = run->samples[i - 1].t_s;
		if (run->samples[i - 1].finished < total)
			busy_to = run->samples[i].t_s;
	}
	if (busy_from >= 0 && busy_to > busy_from)
		run->q2d_mean_ms = 1000 * (area / (busy_to - busy_from)) / ((double)total / (busy_to - busy_from));
	run->q2d_ok = true;
}

static void campaign_run(const struct hb_opts *o, struct herald_conn *c, struct hb_run *run)
{
	struct herald_campaign_spec spec = { 0 };
	struct hb_list list = { 0 };
	char body[512];
	size_t cap = 0;
	bool tty = isatty(2);

	spec.lane = HRL_LANE_BULK;
	spec.channel_count = 1;
	spec.channels[0] = HRL_CH_PUSH;
	spec.title = o->title;
	if (o->personal) {
		snprintf(body, sizeof(body), "%s, {{user_id}}", o->body);
		spec.body = body;
	} else {
		spec.body = o->body;
	}
	if (!strcmp(o->audience, "all")) {
		spec.audience = HRL_AUD_ALL;
	} else if (!strncmp(o->audience, "tag:", 4)) {
		spec.audience = HRL_AUD_TAG;
		spec.tag_expr = o->audience + 4;
	} else if (!strncmp(o->audience, "list:", 5)) {
		list = list_read(o->audience + 5);
		spec.audience = HRL_AUD_LIST;
		spec.user_ids = (const char *const *)list.ids;
		spec.user_count = list.n;
	} else {
		fprintf(stderr, "herald-bench: --audience: all, tag:EXPR or list:FILE\n");
		exit(2);
	}

	run->led0 = ledger_read(o->no_ledger ? NULL : o->vendor_url);
	if (o->engine_pid > 0) {
		run->hwm_reset = proc_reset_hwm(o->engine_pid);
		run->rss_rest_kib = proc_status_kib(o->engine_pid, "VmRSS");
		run->rss_peak_kib = run->rss_rest_kib;
		run->anon_rest_kib = run->anon_peak_kib = proc_status_kib(o->engine_pid, "RssAnon");
		run->file_rest_kib = run->file_peak_kib = proc_status_kib(o->engine_pid, "RssFile");
		run->rss_sampled_kib = run->rss_rest_kib;
	}
	run->eng0 = proc_cpu(o->engine_pid);
	run->sim0 = proc_cpu(o->sim_pid);

	double t0 = now_s();
	int rc = herald_campaign_create(c, &spec, &run->id);
	if (rc)
		die("CAMPAIGN_CREATE", rc, c);
	struct hb_sample s0 = { 0 };
	sample_add(run, &cap, &s0);
	double deadline = t0 + o->timeout_s, last_line = -1;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		rc = herald_campaign_status(c, run->id, &run->st);
		double t = now_s() - t0;
		if (rc)
			die("CAMPAIGN_STATUS", rc, c);
		struct hb_sample s = {
			.t_s = t, .queued = run->st.queued,
			.finished = run->st.sent + run->st.failed + run->st.invalid,
			.sent = run->st.sent, .recipients = run->st.recipients,
			.inflight = run->st.inflight, .ppm = run->st.progress_ppm,
		};
		sample_add(run, &cap, &s);
		if (o->engine_pid > 0) {
			uint64_t rss = proc_status_kib(o->engine_pid, "VmRSS");
			uint64_t anon = proc_status_kib(o->engine_pid, "RssAnon");
			uint64_t file = proc_status_kib(o->engine_pid, "RssFile");
			if (rss > run->rss_peak_kib)
				run->rss_peak_kib = rss;
			if (rss > run->rss_sampled_kib)
				run->rss_sampled_kib = rss;
			if (file > run->file_peak_kib)
				run->file_peak_kib = file;
			if (anon > run->anon_peak_kib)
				run->anon_peak_kib = anon;
		}
		run->finished = herald_campaign_finished(run->st.state);
		if (run->finished) {
			run->seconds = t;
			break;
		}
		if (tty || t - last_line >= 1.0) {
			progress_draw(o, t, &run->st, tty, false);
			last_line = t;
		}
		if (now_s() > deadline) {
			run->seconds = t;
			break;
		}
		next.tv_nsec += (long)o->interval_ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	progress_draw(o, run->seconds, &run->st, tty, true);
	run->eng1 = proc_cpu(o->engine_pid);
	run->sim1 = proc_cpu(o->sim_pid);
	if (o->engine_pid > 0) {
		uint64_t hwm = proc_status_kib(o->engine_pid, "VmHWM");
		if (run->hwm_reset && hwm > run->rss_peak_kib)
			run->rss_peak_kib = hwm;
	}
	run->led1 = ledger_read(o->no_ledger ? NULL : o->vendor_url);
	q2d_estimate(run);
	for (size_t i = 0; i < list.n; i++)
		free(list.ids[i]);
	free(list.ids);
}

/* ---- reports ------------------------------------------------------------------ */

static double cpu_s(struct hb_proc a, struct hb_proc b)
{
	if (!a.ok || !b.ok)
		return -1;
	return (double)(b.cpu_ticks - a.cpu_ticks) / (double)sysconf(_SC_CLK_TCK);
}

static double sys_s(struct hb_proc a, struct hb_proc b)
{
	if (!a.ok || !b.ok)
		return -1;
	return (double)(b.sys_ticks - a.sys_ticks) / (double)sysconf(_SC_CLK_TCK);
}

/* A tick step of 1, 2 or 5 times a power of ten, about span / 5. */
static double tick_step(double span)
{
	double raw = span / 5, p = pow(10, floor(log10(raw))), m = raw / p;
	return p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
}

static void svg_write(FILE *f, const struct hb_run *run)
{
	const double W = 800, H = 420, ml = 80, mr = 20, mt = 40, mb = 50;
	double tmax = run->seconds > 0 ? run->seconds : 1;
	uint64_t ymax = run->st.queued > 0 ? run->st.queued : 1;
	double fc = run->st.first_call_us / 1e6;
	double pw = W - ml - mr, ph = H - mt - mb;
#define X(t) (ml + pw * (t) / tmax)
#define Y(v) (mt + ph - ph * (double)(v) / (double)ymax)
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		   "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"14\">campaign %llu: %llu recipients, "
		   "%.0f recipients/s, first vendor call %.1f ms after create</text>\n",
		ml, (unsigned long long)run->id, (unsigned long long)run->st.recipients,
		run->seconds > 0 ? (double)run->st.recipients / run->seconds : 0, run->st.first_call_us / 1e3);
	/* axes and ticks */
	fprintf(f, "<g stroke=\"#444\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>\n",
		ml, mt + ph, ml + pw, mt + ph, ml, mt, ml, mt + ph);
	double ts = tick_step(tmax), vs = tick_step((double)ymax);
	for (double t = 0; t <= tmax * 1.0001; t += ts)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", X(t), mt + ph + 16, t);
	for (double v = 0; v <= (double)ymax * 1.0001; v += vs) {
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", ml,
			Y(v), ml + pw, Y(v));
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n", ml - 6, Y(v) + 4, v);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">seconds since CAMPAIGN_CREATE</text>\n",
		ml + pw / 2, H - 10);
	fprintf(f, "<text x=\"14\" y=\"%.1f\" transform=\"rotate(-90 14 %.1f)\" text-anchor=\"middle\">"
		   "addresses</text>\n", mt + ph / 2, mt + ph / 2);
	/* curves */
	for (int which = 0; which < 2; which++) {
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
			which ? "#1f77b4" : "#aaa", which ? "" : " stroke-dasharray=\"5,4\"");
		for (size_t i = 0; i < run->n_samples; i++) {
			const struct hb_sample *s = &run->samples[i];
			fprintf(f, "%.1f,%.1f ", X(s->t_s), Y(which ? s->sent : s->queued));
		}
		fprintf(f, "\"/>\n");
	}
	/* marks */
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#2ca02c\"/>"
		   "<text x=\"%.1f\" y=\"%.1f\" fill=\"#2ca02c\">create</text>\n",
		X(0.0), mt, X(0.0), mt + ph, X(0.0) + 4, mt + 12);
	if (run->st.first_call_us)
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d62728\" "
			   "stroke-dasharray=\"3,3\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#d62728\">first call "
			   "(%.1f ms)</text>\n",
			X(fc), mt, X(fc), mt + ph, X(fc) + 4, mt + 28, fc * 1e3);
	fprintf(f, "<g><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#1f77b4\" stroke-width=\"2\"/>"
		   "<text x=\"%.1f\" y=\"%.1f\">sent</text>"
		   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#aaa\" stroke-width=\"2\" "
		   "stroke-dasharray=\"5,4\"/><text x=\"%.1f\" y=\"%.1f\">queued</text></g>\n",
		ml + pw - 150, mt + ph - 40, ml + pw - 125, mt + ph - 40, ml + pw - 120, mt + ph - 36,
		ml + pw - 150, mt + ph - 22, ml + pw - 125, mt + ph - 22, ml + pw - 120, mt + ph - 18);
	fprintf(f, "</svg>\n");
#undef X
#undef Y
}

static int svg_file(const char *path, const struct hb_run *run)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	svg_write(f, run);
	return fclose(f) ? -errno : 0;
}

static int html_file(const char *path, const struct hb_run *run)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	const struct herald_campaign_status *st = &run->st;
	const struct {
		const char *name;
		uint64_t v;
		const char *color;
	} rows[] = {
		{ "recipients", st->recipients, "#7f7f7f" }, { "queued", st->queued, "#9467bd" },
		{ "sent", st->sent, "#2ca02c" },             { "failed", st->failed, "#ff7f0e" },
		{ "invalid", st->invalid, "#d62728" },
	};
	uint64_t max = 1;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].v > max)
			max = rows[i].v;
	fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Herald campaign %llu</title>\n"
		   "<style>body{font-family:sans-serif;margin:2em}td{padding:2px 8px}"
		   ".bar{height:18px}</style></head><body>\n<h1>Campaign %llu: %s</h1>\n",
		(unsigned long long)run->id, (unsigned long long)run->id, herald_campaign_state_name(st->state));
	fprintf(f, "<p>%.2f s from create to done, %.0f recipients/s; first vendor call %.1f ms after create; "
		   "%llu vendor calls.</p>\n<h2>Funnel</h2>\n<table>\n",
		run->seconds, run->seconds > 0 ? (double)st->recipients / run->seconds : 0,
		st->first_call_us / 1e3, (unsigned long long)st->vendor_calls);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		fprintf(f, "<tr><td>%s</td><td align=\"right\">%llu</td><td style=\"width:500px\">"
			   "<div class=\"bar\" style=\"width:%.1f%%;background:%s\"></div></td></tr>\n",
			rows[i].name, (unsigned long long)rows[i].v, 100.0 * (double)rows[i].v / (double)max,
			rows[i].color);
	fprintf(f, "</table>\n<h2>Addresses over time</h2>\n");
	svg_write(f, run);
	fprintf(f, "</body></html>\n");
	return fclose(f) ? -errno : 0;
}

/* s as a JSON string (quotes, backslashes and control bytes escaped). */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void report(const struct hb_opts *o, const struct hb_bind_result *b, const struct hb_run *run)
{
	const struct herald_campaign_status *st = &run->st;
	double rps = run->seconds > 0 ? (double)st->recipients / run->seconds : 0;
	double aps = run->seconds > 0 ? (double)st->queued / run->seconds : 0;
	double ecpu = cpu_s(run->eng0, run->eng1), scpu = cpu_s(run->sim0, run->sim1);
	double esys = sys_s(run->eng0, run->eng1);
	double addrs = st->queued ? (double)st->queued : 1;
	bool have_rss = o->engine_pid > 0 && run->rss_rest_kib;
	double rest_mib = run->rss_rest_kib / 1024.0, peak_mib = run->rss_peak_kib / 1024.0;
	bool led = run->led0.ok && run->led1.ok;
	uint64_t acc = led ? run->led1.accepted - run->led0.accepted : 0;
	uint64_t inv = led ? run->led1.invalid - run->led0.invalid : 0;
	uint64_t dup = led ? run->led1.duplicates - run->led0.duplicates : 0;
	uint64_t req = led ? run->led1.requests - run->led0.requests : 0;
	bool match = led && acc == st->sent;

	if (o->json) {
		printf("{\"name\":");
		json_str(o->name);
		printf(",\"campaign_id\":%llu,\"state\":\"%s\",\"audience\":", (unsigned long long)run->id,
		       herald_campaign_state_name(st->state));
		json_str(o->audience);
		printf(",\"personal\":%s,", o->personal ? "true" : "false");
		if (b)
			printf("\"bind\":{\"users\":%llu,\"requests\":%llu,\"created\":%llu,\"existing\":%llu,"
			       "\"tagged\":%llu,\"seconds\":%.3f,\"users_per_sec\":%.0f},",
			       o->users, b->requests, b->created, b->existing, b->tagged, b->seconds,
			       b->seconds > 0 ? (double)(b->created + b->existing) / b->seconds : 0);
		printf("\"users_scanned\":%llu,\"recipients\":%llu,\"queued\":%llu,\"sent\":%llu,\"failed\":%llu,"
		       "\"invalid\":%llu,\"no_address\":%llu,\"vendor_calls\":%llu,\"seconds\":%.3f,"
		       "\"recipients_per_sec\":%.0f,\"addresses_per_sec\":%.0f,\"first_call_ms\":%.3f,"
		       "\"interval_ms\":%u",
		       (unsigned long long)st->users_scanned, (unsigned long long)st->recipients,
		       (unsigned long long)st->queued, (unsigned long long)st->sent, (unsigned long long)st->failed,
		       (unsigned long long)st->invalid, (unsigned long long)st->no_address,
		       (unsigned long long)st->vendor_calls, run->seconds, rps, aps, st->first_call_us / 1e3,
		       o->interval_ms);
		if (run->q2d_ok)
			printf(",\"q2d_p50_ms_est\":%.1f,\"q2d_p99_ms_est\":%.1f,\"q2d_mean_ms_little\":%.1f",
			       run->q2d_p50_ms, run->q2d_p99_ms, run->q2d_mean_ms);
		if (have_rss)
			printf(",\"engine_rss_rest_mib\":%.1f,\"engine_rss_peak_mib\":%.1f,"
			       "\"engine_mem_above_rest_mib\":%.1f,\"engine_hwm_reset\":%s,"
			       "\"engine_rss_peak_sampled_mib\":%.1f,"
			       "\"engine_anon_rest_mib\":%.1f,\"engine_anon_peak_sampled_mib\":%.1f,"
			       "\"engine_file_rest_mib\":%.1f,\"engine_file_peak_sampled_mib\":%.1f",
			       rest_mib, peak_mib, peak_mib - rest_mib, run->hwm_reset ? "true" : "false",
			       run->rss_sampled_kib / 1024.0, run->anon_rest_kib / 1024.0, run->anon_peak_kib / 1024.0,
			       run->file_rest_kib / 1024.0, run->file_peak_kib / 1024.0);
		if (ecpu >= 0)
			printf(",\"engine_cpu_s\":%.2f,\"engine_sys_s\":%.2f,\"engine_cpu_us_per_address\":%.3f", ecpu,
			       esys, ecpu * 1e6 / addrs);
		if (scpu >= 0)
			printf(",\"sim_cpu_s\":%.2f,\"sim_cpu_us_per_address\":%.3f", scpu, scpu * 1e6 / addrs);
		if (led)
			printf(",\"ledger\":{\"requests\":%llu,\"accepted\":%llu,\"invalid\":%llu,\"duplicates\":%llu,"
			       "\"match\":%s,\"summary\":%s}",
			       (unsigned long long)req, (unsigned long long)acc, (unsigned long long)inv,
			       (unsigned long long)dup, match ? "true" : "false", run->led1.raw);
		printf("}\n");
		return;
	}
	if (b)
		printf("bind:        %llu users (%llu new, %llu already bound, %llu tagged vip) in %.2f s, %.0f users/s\n",
		       o->users, b->created, b->existing, b->tagged, b->seconds,
		       b->seconds > 0 ? (double)(b->created + b->existing) / b->seconds : 0);
	printf("campaign %llu %s (audience %s%s)\n", (unsigned long long)run->id,
	       herald_campaign_state_name(st->state), o->audience, o->personal ? ", personal" : "");
	printf("  recipients       %12llu\n", (unsigned long long)st->recipients);
	printf("  queued           %12llu\n", (unsigned long long)st->queued);
	printf("  sent             %12llu\n", (unsigned long long)st->sent);
	printf("  failed           %12llu\n", (unsigned long long)st->failed);
	printf("  invalid          %12llu\n", (unsigned long long)st->invalid);
	printf("  no address       %12llu\n", (unsigned long long)st->no_address);
	printf("  vendor calls     %12llu\n", (unsigned long long)st->vendor_calls);
	printf("  create -> done   %12.3f s  (polled every %u ms)\n", run->seconds, o->interval_ms);
	printf("  recipients/s     %12.0f\n", rps);
	printf("  create -> first vendor call %.3f ms (the engine's first_call_us)\n", st->first_call_us / 1e3);
	if (run->q2d_ok)
		printf("  queued -> outcome, estimated from the status curves (FIFO): p50 %.1f ms, p99 %.1f ms; "
		       "mean by Little's law %.1f ms\n",
		       run->q2d_p50_ms, run->q2d_p99_ms, run->q2d_mean_ms);
	if (have_rss)
		printf("  engine memory    rest %.1f MiB, peak %.1f MiB, %.1f MiB above rest%s\n"
		       "                   at the samples: VmRSS %.1f MiB at most; RssAnon %.1f -> %.1f MiB, "
		       "RssFile %.1f -> %.1f MiB (rest -> most)\n",
		       rest_mib, peak_mib, peak_mib - rest_mib,
		       run->hwm_reset ? "" : " (VmHWM not reset: peak may be start-up's)", run->rss_sampled_kib / 1024.0,
		       run->anon_rest_kib / 1024.0, run->anon_peak_kib / 1024.0, run->file_rest_kib / 1024.0,
		       run->file_peak_kib / 1024.0);
	if (ecpu >= 0)
		printf("  engine CPU       %.2f s (%.0f %% in the kernel), %.3f us per address\n", ecpu,
		       ecpu > 0 ? 100 * esys / ecpu : 0, ecpu * 1e6 / addrs);
	if (scpu >= 0)
		printf("  simulator CPU    %.2f s, %.3f us per address\n", scpu, scpu * 1e6 / addrs);
	if (led)
		printf("  vendor ledger    %llu requests, %llu accepted, %llu invalid, %llu duplicates: "
		       "accepted %s Herald's sent\n",
		       (unsigned long long)req, (unsigned long long)acc, (unsigned long long)inv,
		       (unsigned long long)dup, match ? "==" : "!=");
	else if (o->vendor_url && !o->no_ledger)
		printf("  vendor ledger    unreadable (GET %s/ledger/summary failed)\n", o->vendor_url);
	printf("name=%s recipients=%llu queued=%llu sent=%llu failed=%llu invalid=%llu seconds=%.3f "
	       "recipients_per_sec=%.0f first_call_ms=%.3f",
	       o->name, (unsigned long long)st->recipients, (unsigned long long)st->queued,
	       (unsigned long long)st->sent, (unsigned long long)st->failed, (unsigned long long)st->invalid,
	       run->seconds, rps, st->first_call_us / 1e3);
	if (run->q2d_ok)
		printf(" q2d_p50_ms_est=%.1f q2d_p99_ms_est=%.1f", run->q2d_p50_ms, run->q2d_p99_ms);
	if (have_rss)
		printf(" engine_rest_mib=%.1f engine_above_rest_mib=%.1f", rest_mib, peak_mib - rest_mib);
	if (ecpu >= 0)
		printf(" engine_cpu_us_per_address=%.3f", ecpu * 1e6 / addrs);
	if (scpu >= 0)
		printf(" sim_cpu_us_per_address=%.3f", scpu * 1e6 / addrs);
	if (led)
		printf(" ledger_accepted=%llu ledger_match=%d", (unsigned long long)acc, match);
	printf("\n");
}

/* ---- main --------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: herald-bench [options]      bind users, run one campaign, report\n\n"
		"  --server HOST:PORT         engine (HERALD_SERVER, else 127.0.0.1:7600)\n"
		"  --app ID                   app (bench)\n"
		"  --secret HEX | --secret-file F   the app's secret\n"
		"  --admin-secret-file F      create the app (or rotate its secret) as admin\n"
		"  --secret-out F             write the app's secret there (0600)\n"
		"  --users N                  bind N users <prefix><i>, each with a Huawei token (0: none)\n"
		"  --no-bind                  the users exist already (e.g. bench/gen_users)\n"
		"  --user-prefix P            user id prefix (bench-)\n"
		"  --mix                      10%% Xiaomi regids, 0.1%% invalid \"bad...\" tokens\n"
		"  --token-bytes N            address length, %u..%u (64)\n"
		"  --bind-conns N             connections for binding (4)\n"
		"  --bind-depth N             requests in flight per connection (256)\n"
		"  --vendor-url URL           VENDOR_SET huawei and xiaomi at URL (a herald-vendorsim)\n"
		"  --batch N                  addresses per vendor call (0: engine default)\n"
		"  --connections N            vendor connections per engine core (0: engine default)\n"
		"  --no-ledger                do not read the simulator's ledger (heraldd --vendor-sink null)\n"
		"  --audience A               all, tag:EXPR or list:FILE (all)\n"
		"  --personal                 body template with {{user_id}}: one call per address\n"
		"  --title T, --body B        the message (\"Herald bench\", \"Hello from Herald\")\n"
		"  --interval-ms N            CAMPAIGN_STATUS period (100)\n"
		"  --timeout-s N              give up waiting after N s (600)\n"
		"  --engine-pid PID           report heraldd's memory and CPU time\n"
		"  --sim-pid PID              report the simulator's CPU time\n"
		"  --json                     one JSON object on stdout instead of text\n"
		"  --plot F.svg               sent/queued addresses over time\n"
		"  --html F.html              funnel bars and the plot\n"
		"  --name N                   name= of the machine-readable line (herald_campaign)\n"
		"  --quiet                    no progress on stderr\n",
		HB_TOKEN_BYTES_MIN, HB_TOKEN_BYTES_MAX);
}

static unsigned long long num_arg(const char *opt, const char *v, unsigned long long lo, unsigned long long hi)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi || v[0] == '-') {
		fprintf(stderr, "herald-bench: --%s: a number from %llu to %llu\n", opt, lo, hi);
		exit(2);
	}
	return x;
}

int main(int argc, char **argv)
{
	struct hb_opts o = {
		.server = getenv("HERALD_SERVER") ? getenv("HERALD_SERVER") : "127.0.0.1:7600",
		.app = "bench", .prefix = "bench-", .token_bytes = 64, .bind_conns = 4, .bind_depth = 256,
		.audience = "all", .title = "Herald bench", .body = "Hello from Herald", .interval_ms = 100,
		.timeout_s = 600, .name = "herald_campaign",
	};
	enum {
		O_SERVER = 256, O_APP, O_SECRET, O_SECRET_FILE, O_ADMIN, O_SECRET_OUT, O_USERS, O_NO_BIND,
		O_PREFIX, O_MIX, O_TOKEN, O_BCONNS, O_BDEPTH, O_VURL, O_BATCH, O_CONNS, O_AUD, O_PERSONAL,
		O_TITLE, O_BODY, O_INTERVAL, O_TIMEOUT, O_EPID, O_SPID, O_JSON, O_PLOT, O_HTML, O_NAME,
		O_QUIET, O_HELP, O_NO_LEDGER,
	};
	static const struct option opts[] = {
		{ "server", required_argument, NULL, O_SERVER },
		{ "app", required_argument, NULL, O_APP },
		{ "secret", required_argument, NULL, O_SECRET },
		{ "secret-file", required_argument, NULL, O_SECRET_FILE },
		{ "admin-secret-file", required_argument, NULL, O_ADMIN },
		{ "secret-out", required_argument, NULL, O_SECRET_OUT },
		{ "users", required_argument, NULL, O_USERS },
		{ "no-bind", no_argument, NULL, O_NO_BIND },
		{ "user-prefix", required_argument, NULL, O_PREFIX },
		{ "mix", no_argument, NULL, O_MIX },
		{ "token-bytes", required_argument, NULL, O_TOKEN },
		{ "bind-conns", required_argument, NULL, O_BCONNS },
		{ "bind-depth", required_argument, NULL, O_BDEPTH },
		{ "vendor-url", required_argument, NULL, O_VURL },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "no-ledger", no_argument, NULL, O_NO_LEDGER },
		{ "connections", required_argument, NULL, O_CONNS },
		{ "audience", required_argument, NULL, O_AUD },
		{ "personal", no_argument, NULL, O_PERSONAL },
		{ "title", required_argument, NULL, O_TITLE },
		{ "body", required_argument, NULL, O_BODY },
		{ "interval-ms", required_argument, NULL, O_INTERVAL },
		{ "timeout-s", required_argument, NULL, O_TIMEOUT },
		{ "engine-pid", required_argument, NULL, O_EPID },
		{ "sim-pid", required_argument, NULL, O_SPID },
		{ "json", no_argument, NULL, O_JSON },
		{ "plot", required_argument, NULL, O_PLOT },
		{ "html", required_argument, NULL, O_HTML },
		{ "name", required_argument, NULL, O_NAME },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ 0, 0, 0, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case O_SERVER: o.server = optarg; break;
		case O_APP: o.app = optarg; break;
		case O_SECRET: o.secret_hex = optarg; break;
		case O_SECRET_FILE: o.secret_file = optarg; break;
		case O_ADMIN: o.admin_secret_file = optarg; break;
		case O_SECRET_OUT: o.secret_out = optarg; break;
		case O_USERS: o.users = num_arg("users", optarg, 0, 1ull << 40); break;
		case O_NO_BIND: o.no_bind = true; break;
		case O_PREFIX: o.prefix = optarg; break;
		case O_MIX: o.mix = true; break;
		case O_TOKEN:
			o.token_bytes = (unsigned)num_arg("token-bytes", optarg, HB_TOKEN_BYTES_MIN, HB_TOKEN_BYTES_MAX);
			break;
		case O_BCONNS: o.bind_conns = (unsigned)num_arg("bind-conns", optarg, 1, HB_BIND_CONNS_MAX); break;
		case O_BDEPTH: o.bind_depth = (unsigned)num_arg("bind-depth", optarg, 1, HB_BIND_DEPTH_MAX); break;
		case O_VURL: o.vendor_url = optarg; break;
		case O_NO_LEDGER: o.no_ledger = true; break;
		case O_BATCH: o.batch = (unsigned)num_arg("batch", optarg, 0, HRL_VENDOR_BATCH_MAX); break;
		case O_CONNS: o.connections = (unsigned)num_arg("connections", optarg, 0, HRL_VENDOR_CONNS_MAX); break;
		case O_AUD: o.audience = optarg; break;
		case O_PERSONAL: o.personal = true; break;
		case O_TITLE: o.title = optarg; break;
		case O_BODY: o.body = optarg; break;
		case O_INTERVAL: o.interval_ms = (unsigned)num_arg("interval-ms", optarg, 1, HB_INTERVAL_MS_MAX); break;
		case O_TIMEOUT: o.timeout_s = (unsigned)num_arg("timeout-s", optarg, 1, 86400); break;
		case O_EPID: o.engine_pid = (long)num_arg("engine-pid", optarg, 1, 1u << 30); break;
		case O_SPID: o.sim_pid = (long)num_arg("sim-pid", optarg, 1, 1u << 30); break;
		case O_JSON: o.json = true; break;
		case O_PLOT: o.plot = optarg; break;
		case O_HTML: o.html = optarg; break;
		case O_NAME: o.name = optarg; break;
		case O_QUIET: o.quiet = true; break;
		case 'h':
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "herald-bench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!!o.secret_hex + !!o.secret_file + !!o.admin_secret_file != 1) {
		fprintf(stderr, "herald-bench: give one of --secret, --secret-file, --admin-secret-file\n");
		return 2;
	}
	if (o.vendor_url && strncmp(o.vendor_url, "http://", 7) && strncmp(o.vendor_url, "https://", 8)) {
		fprintf(stderr, "herald-bench: --vendor-url: http://HOST:PORT\n");
		return 2;
	}

	uint8_t secret[HRL_SECRET_BYTES];
	int rc = 0;
	if (o.admin_secret_file)
		app_make(&o, secret);
	else if (o.secret_file)
		rc = herald_secret_read_file(o.secret_file, secret);
	else
		rc = herald_secret_parse(o.secret_hex, secret);
	if (rc)
		die("secret", rc, NULL);
	if (o.secret_out)
		secret_write(o.secret_out, secret);

	struct hb_bind_result bres, *b = NULL;
	if (o.users && !o.no_bind) {
		bres = bind_users(&o, secret);
		b = &bres;
	}
	struct herald_conn *c = connect_login(&o, o.app, secret);
	if (o.vendor_url)
		vendors_set(&o, c);
	struct hb_run run = { 0 };
	campaign_run(&o, c, &run);
	herald_close(c);
	report(&o, b, &run);

	int status = 0;
	if (run.st.state != HRL_CAMPAIGN_DONE) {
		fprintf(stderr, "herald-bench: campaign %llu is %s after %.1f s\n", (unsigned long long)run.id,
			herald_campaign_state_name(run.st.state), run.seconds);
		status = 1;
	}
	if (o.vendor_url && !o.no_ledger && run.led0.ok && run.led1.ok && run.led1.accepted - run.led0.accepted != run.st.sent) {
		fprintf(stderr, "herald-bench: the simulator accepted %llu addresses, Herald counts %llu sent\n",
			(unsigned long long)(run.led1.accepted - run.led0.accepted), (unsigned long long)run.st.sent);
		status = 1;
	}
	if (o.users && o.no_bind && run.st.audience == HRL_AUD_ALL && run.st.recipients != o.users)
		fprintf(stderr, "herald-bench: warning: %llu recipients, --users said %llu\n",
			(unsigned long long)run.st.recipients, o.users);
	if (o.plot && (rc = svg_file(o.plot, &run)))
		fprintf(stderr, "herald-bench: %s: %s\n", o.plot, strerror(-rc)), status = 1;
	if (o.html && (rc = html_file(o.html, &run)))
		fprintf(stderr, "herald-bench: %s: %s\n", o.html, strerror(-rc)), status = 1;
	free(run.samples);
	free(run.led0.raw);
	free(run.led1.raw);
	return status;
}
