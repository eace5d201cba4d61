/* SPDX-License-Identifier: Apache-2.0 */
/*
 * campaign_lib.h - campaign helpers for the engine tests (PROTOCOL.md 5.10,
 * 5.11): bind many users pipelined, create a campaign, read its status,
 * configure a vendor, wait until a campaign is done.
 */
#ifndef TESTS_CAMPAIGN_LIB_H
#define TESTS_CAMPAIGN_LIB_H

#include "tests/testlib.h"

struct tc_status {
	uint8_t state, audience, lane;
	uint64_t created_ms;
	uint64_t scanned, recipients, queued, sent, failed, invalid, no_address, resent, calls;
	uint64_t first_call_us;
	uint32_t ppm, inflight;
};

/* Bind users prefix0..prefix(n-1), each one address made by addr(i) on (channel, vendor); tags: every
   user gets "all", even users "even", users i % 3 == 0 "three". Pipelined, 256 in flight. */
static inline void tc_bind_users(struct te_conn *c, const char *prefix, unsigned n, uint8_t ch, uint8_t vendor,
				 void (*addr)(unsigned i, char *out, size_t cap))
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	unsigned sent = 0, got = 0;
	char user[64], a[256];
	while (got < 2 * n) {
		while (sent < 2 * n && sent - got < 256) {
			unsigned i = sent / 2;
			snprintf(user, sizeof(user), "%s%u", prefix, i);
			if (sent % 2 == 0) {
				addr(i, a, sizeof(a));
				te_bind_body(&t, user, ch, vendor, ch == HRL_CH_PUSH ? HRL_PLATFORM_ANDROID : 0, a);
				te_send(c, HRL_OP_BIND, t.b.data, t.b.len);
			} else {
				tb_reset(&t);
				tb_str(&t, user);
				unsigned k = 1 + (i % 2 == 0) + (i % 3 == 0);
				tb_u16(&t, (uint16_t)k);
				tb_str(&t, "all");
				if (i % 2 == 0)
					tb_str(&t, "even");
				if (i % 3 == 0)
					tb_str(&t, "three");
				te_send(c, HRL_OP_TAG_ADD, t.b.data, t.b.len);
			}
			sent++;
		}
		CHECK(te_recv(c, &h, &b, 10000) == 0);
		CHECK(te_err(&h, b) == 0);
		got++;
	}
	base_buf_free(&t.b);
}

/* CAMPAIGN_CREATE; returns the error code, *id on success, why (if not NULL) gets an error's message. */
static inline int tc_create(struct te_conn *c, uint8_t audience, uint8_t lane, const uint8_t *channels, unsigned nch,
			    const char *title, const char *body, const char *audience_arg, uint64_t *id, char *why,
			    size_t why_cap)
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	tb_u8(&t, audience);
	tb_u8(&t, lane);
	tb_u8(&t, (uint8_t)nch);
	tb_raw(&t, channels, nch);
	tb_str(&t, title);
	tb_str(&t, body);
	tb_str(&t, "");
	if (audience == 1 || audience == 3) {
		tb_str(&t, audience_arg);
	} else if (audience == 2) { /* comma-separated */
		unsigned n = 1;
		for (const char *p = audience_arg; *p; p++)
			n += *p == ',';
		tb_u16(&t, (uint16_t)n);
		const char *p = audience_arg;
		for (;;) {
			size_t l = strcspn(p, ",");
			tb_u16(&t, (uint16_t)l);
			tb_raw(&t, p, l);
			if (!p[l])
				break;
			p += l + 1;
		}
	}
	int rc = te_call(c, HRL_OP_CAMPAIGN_CREATE, t.b.data, t.b.len, &h, &b);
	if (!rc) {
		CHECK(h.body_len == 8);
		*id = te_le64(b);
	} else if (why) {
		size_t l = h.body_len > 4 ? (size_t)(b[2] | b[3] << 8) : 0;
		if (l > why_cap - 1)
			l = why_cap - 1;
		memcpy(why, b + 4, l);
		why[l] = 0;
	}
	base_buf_free(&t.b);
	return rc;
}

static inline int tc_status(struct te_conn *c, uint64_t id, struct tc_status *s)
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	tb_u64(&t, id);
	int rc = te_call(c, HRL_OP_CAMPAIGN_STATUS, t.b.data, t.b.len, &h, &b);
	base_buf_free(&t.b);
	if (rc)
		return rc;
	CHECK(h.body_len == 4 + 8 + 9 * 8 + 8 + 4 + 4);
	s->state = b[0];
	s->audience = b[1];
	s->lane = b[2];
	s->created_ms = te_le64(b + 4);
	uint64_t *f[] = { &s->scanned, &s->recipients, &s->queued, &s->sent, &s->failed,
			  &s->invalid, &s->no_address, &s->resent, &s->calls };
	for (unsigned i = 0; i < 9; i++)
		*f[i] = te_le64(b + 12 + 8 * i);
	s->first_call_us = te_le64(b + 84);
	s->ppm = (uint32_t)(b[92] | b[93] << 8 | b[94] << 16 | (uint32_t)b[95] << 24);
	s->inflight = (uint32_t)(b[96] | b[97] << 8 | b[98] << 16 | (uint32_t)b[99] << 24);
	return 0;
}

static inline int tc_control(struct te_conn *c, uint64_t id, uint8_t action)
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	tb_u64(&t, id);
	tb_u8(&t, action);
	int rc = te_call(c, HRL_OP_CAMPAIGN_CONTROL, t.b.data, t.b.len, &h, &b);
	base_buf_free(&t.b);
	return rc;
}

/* Wait until the campaign is done or cancelled (state 3 or 4); returns the last status. */
static inline void tc_wait(struct te_conn *c, uint64_t id, int timeout_ms, struct tc_status *s)
{
	uint64_t deadline = te_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		CHECK(tc_status(c, id, s) == 0);
		if (s->state == 3 || s->state == 4)
			return;
		if (te_now_ms() > deadline) {
			fprintf(stderr, "campaign %llu: state %u recipients %llu queued %llu sent %llu failed %llu inflight %u ppm %u\n",
				(unsigned long long)id, s->state, (unsigned long long)s->recipients,
				(unsigned long long)s->queued, (unsigned long long)s->sent, (unsigned long long)s->failed,
				s->inflight, s->ppm);
			CHECK(!"campaign did not finish in time");
		}
		usleep(20000);
	}
}

/* VENDOR_SET with the fields a test needs; returns the error code. */
static inline int tc_vendor_set(struct te_conn *c, uint8_t target, const char *url, const char *app_id,
				const char *secret, uint16_t batch, uint16_t conns, uint32_t rate)
{
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	tb_u8(&t, target);
	tb_str(&t, url);
	tb_str(&t, app_id);
	tb_str(&t, secret);
	tb_str(&t, "sms-secret");
	tb_str(&t, "com.example.app");
	tb_str(&t, "Herald");
	tb_str(&t, "SMS_0001");
	tb_u16(&t, batch);
	tb_u16(&t, conns);
	tb_u32(&t, rate);
	tb_u32(&t, 0);
	int rc = te_call(c, HRL_OP_VENDOR_SET, t.b.data, t.b.len, &h, &b);
	base_buf_free(&t.b);
	return rc;
}

#endif

/* ---- herald-vendorsim (bench/herald-vendorsim.c) ---------------------------------------- */

#include <sys/prctl.h>
#include <sys/wait.h>

struct tc_sim {
	pid_t pid;
	int port;
	char url[64];
};

static struct tc_sim *tc_sim_current;

static inline void tc_sim_kill(void)
{
	if (tc_sim_current && tc_sim_current->pid > 0) {
		kill(tc_sim_current->pid, SIGKILL);
		waitpid(tc_sim_current->pid, NULL, 0);
		tc_sim_current->pid = 0;
	}
}

/* Start the simulator with extra arguments (NULL-terminated); skip if it is not built. */
static inline void tc_sim_start(struct tc_sim *s, const char *const *extra)
{
	char bin[300];
	const char *argv[40];
	int n = 0, fds[2];
	snprintf(bin, sizeof(bin), "%s/bench/herald-vendorsim", te_build());
	if (access(bin, X_OK))
		SKIP("herald-vendorsim not built");
	argv[n++] = bin;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	for (int i = 0; extra && extra[i] && n < 38; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	CHECK(pipe(fds) == 0);
	s->pid = fork();
	CHECK(s->pid >= 0);
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test, however it ends */
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	tc_sim_current = s;
	atexit(tc_sim_kill);
	char line[128];
	FILE *f = fdopen(fds[0], "r");
	CHECK(f && fgets(line, sizeof(line), f));
	fclose(f);
	char *colon = strrchr(line, ':');
	CHECK(!strncmp(line, "listening ", 10) && colon);
	s->port = atoi(colon + 1);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
}

/* One HTTP/1.0 request to the simulator; the body of the answer (malloc'd, NUL-terminated). */
static inline char *tc_sim_http(const struct tc_sim *s, const char *method, const char *path)
{
	int fd = te_try_connect(s->port);
	CHECK(fd >= 0);
	char req[256];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: sim\r\nContent-Length: 0\r\n\r\n", method, path);
	CHECK(write(fd, req, (size_t)n) == n);
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	CHECK(buf);
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			CHECK(buf);
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		CHECK(r >= 0);
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = 0;
	char *body = strstr(buf, "\r\n\r\n");
	CHECK(body);
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
}

/* A number from the summary JSON: "vendor":{... "field":N ...}. */
static inline uint64_t tc_sim_summary(const char *json, const char *vendor, const char *field)
{
	char key[64];
	snprintf(key, sizeof(key), "\"%s\":{", vendor);
	const char *v = strstr(json, key);
	CHECK(v);
	snprintf(key, sizeof(key), "\"%s\":", field);
	const char *f = strstr(v, key);
	CHECK(f);
	return strtoull(f + strlen(key), NULL, 10);
}
