#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_pipeline.sh - libherald's pipelined API against a real engine:
# thousands of requests of several kinds in flight at once, answers matched
# by request id whatever order they come in, error answers in the middle
# of a pipeline, a pipeline much deeper than the engine holds (the client
# must read while it writes, or both sides wait for ever), -EBUSY for a
# blocking call while requests are in flight, then blocking calls again.
# The driver is C, built here against $BUILD/libherald.a.
# Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"
if [ ! -f "$CLI_BUILD/libherald.a" ] || ! command -v "${CC:-gcc}" >/dev/null; then
	echo "skip: no $CLI_BUILD/libherald.a or no C compiler"
	exit 77
fi

cat >"$CLI_TMP/pipeline.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/herald.h"

#define USERS 200
#define BINDS 4000
#define DEEP 60000

static int check(int ok, const char *what)
{
	if (!ok) {
		printf("FAIL: %s\n", what);
		exit(1);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct herald_conn *c;
	uint8_t secret[HRL_SECRET_BYTES];
	struct herald_reply r;
	char user[32], addr[32];
	static uint64_t ids[BINDS];
	static unsigned char seen[DEEP + BINDS + 16];
	int rc;

	check(argc == 4, "usage: pipeline HOST:PORT APP SECRET");
	check(herald_secret_parse(argv[3], secret) == 0, "secret parse");
	check(herald_connect(argv[1], 10000, &c) == 0, "connect");
	check(herald_login(c, argv[2], secret) == 0, "login");

	/* BINDs for users spread over both cores, then their answers. */
	for (int i = 0; i < BINDS; i++) {
		snprintf(user, sizeof(user), "user-%d", i % USERS);
		snprintf(addr, sizeof(addr), "+861380%07d", i);
		check(herald_submit_bind(c, user, HRL_CH_SMS, 0, 0, addr, &ids[i]) == 0, "submit bind");
		check(i == 0 || ids[i] == ids[i - 1] + 1, "ids go up by one");
	}
	check(herald_inflight(c) == BINDS, "inflight counts submissions");
	check(herald_bind(c, "x", HRL_CH_SMS, 0, 0, "+8613800000000", NULL, NULL) == -EBUSY,
	      "blocking call while pipelining is -EBUSY");
	uint32_t per_user[USERS] = { 0 };
	int out_of_order = 0;
	uint64_t last = 0;
	for (int n = 0; n < BINDS; n++) {
		uint32_t device_id;
		bool created;
		rc = herald_recv(c, &r);
		if (rc)
			printf("recv after %d answers: %s\n", n, herald_strerror(rc));
		check(rc == 0, "recv bind");
		check(r.request_id >= ids[0] && r.request_id <= ids[BINDS - 1], "id in range");
		int i = (int)(r.request_id - ids[0]);
		check(!seen[i], "each answer once");
		seen[i] = 1;
		out_of_order += r.request_id < last;
		last = r.request_id;
		if (r.error)
			printf("bind %d: %s: %.*s\n", i, herald_err_name(r.error), (int)r.message_len,
			       r.message);
		check(r.opcode == HRL_OP_BIND && r.error == 0, "bind answer");
		check(herald_decode_bind(&r, &device_id, &created) == 0 && created, "decode bind");
		check(device_id >= 1 && device_id <= BINDS / USERS, "device id range");
		per_user[i % USERS]++;
	}
	check(herald_inflight(c) == 0, "nothing left in flight");
	for (int u = 0; u < USERS; u++)
		check(per_user[u] == BINDS / USERS, "every user answered");
	printf("binds: %d answers, %d out of order\n", BINDS, out_of_order);

	/* Mixed kinds with errors in the middle, built with the request builder. */
	uint64_t show_id, missing_id, tag_id, ping_id, bad_id;
	check(herald_submit_user_show(c, "user-1", &show_id) == 0, "submit show");
	check(herald_submit_user_show(c, "nobody", &missing_id) == 0, "submit missing");
	check(herald_req_begin(c, HRL_OP_TAG_ADD) == 0, "begin");
	herald_req_str(c, "user-2");
	herald_req_u16(c, 2);
	herald_req_str(c, "vip");
	herald_req_str(c, "beta");
	check(herald_req_end(c, &tag_id) == 0, "end");
	check(herald_submit(c, HRL_OP_PING, "abc", 3, &ping_id) == 0, "submit ping");
	check(herald_submit(c, HRL_OP_TAG_ADD, "\x01", 1, &bad_id) == 0, "submit bad body");
	for (int n = 0; n < 5; n++) {
		check(herald_recv(c, &r) == 0, "recv mixed");
		if (r.request_id == show_id) {
			struct herald_user *u = NULL;
			check(herald_decode_user_show(&r, &u) == 0, "decode show");
			check(strcmp(u->user_id, "user-1") == 0 && u->device_count == BINDS / USERS,
			      "show content");
			herald_user_free(u);
		} else if (r.request_id == missing_id) {
			check(r.error == HRL_E_NOT_FOUND, "missing user is E_NOT_FOUND");
			check(r.message && r.message_len > 0, "error has a message");
			struct herald_user *u = NULL;
			check(herald_decode_user_show(&r, &u) == HRL_E_NOT_FOUND, "decode gives code");
		} else if (r.request_id == tag_id) {
			uint16_t added = 0;
			check(herald_decode_tag_add(&r, &added) == 0 && added == 2, "tag add");
		} else if (r.request_id == ping_id) {
			check(r.body_len == 3 && memcmp(r.body, "abc", 3) == 0, "ping echo");
		} else if (r.request_id == bad_id) {
			check(r.error == HRL_E_BAD_BODY, "bad body is E_BAD_BODY");
		} else {
			check(0, "unexpected request id");
		}
	}

	/* Deeper than the engine holds, nothing read until all is submitted. */
	uint64_t first = 0, id;
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < DEEP; i++) {
		check(herald_submit_ping(c, &i, sizeof(i), &id) == 0, "submit deep ping");
		if (i == 0)
			first = id;
	}
	check(herald_flush(c) == 0, "flush");
	for (int n = 0; n < DEEP; n++) {
		int v;
		check(herald_recv(c, &r) == 0, "recv deep ping");
		check(r.request_id >= first && r.request_id < first + DEEP, "deep id range");
		int i = (int)(r.request_id - first);
		check(!seen[i], "deep answer once");
		seen[i] = 1;
		check(r.body_len == sizeof(v), "deep echo size");
		memcpy(&v, r.body, sizeof(v));
		check(v == i, "deep echo matches its request");
	}
	printf("deep: %d pings\n", DEEP);

	/* Nothing in flight: blocking calls work again, a timeout is clean. */
	check(herald_inflight(c) == 0, "drained");
	uint16_t added = 0;
	const char *tags[] = { "gamma" };
	check(herald_tag_add(c, "user-2", tags, 1, &added) == 0 && added == 1, "blocking after");
	/* An attribute value with a NUL byte inside goes and comes back whole. */
	const struct herald_attr blob[] = { { .key = "blob", .value = "a\0b", .value_len = 3 } };
	struct herald_user *u = NULL;
	check(herald_attr_set(c, "user-3", blob, 1, NULL) == 0, "attr with NUL");
	check(herald_user_show(c, "user-3", &u) == 0 && u->attr_count == 1, "show attr");
	check(u->attrs[0].value_len == 3 && memcmp(u->attrs[0].value, "a\0b", 4) == 0,
	      "NUL kept, value terminated");
	herald_user_free(u);
	rc = herald_user_show(c, "nobody", &(struct herald_user *){ NULL });
	check(rc == HRL_E_NOT_FOUND && herald_errcode(c) == rc && *herald_errmsg(c), "blocking error");
	herald_set_timeout(c, 0);
	check(herald_recv(c, &r) == -ETIMEDOUT, "recv with nothing pending times out");
	herald_set_timeout(c, 5000);
	check(herald_ping(c, NULL, 0, NULL) == 0, "ping after timeout");
	herald_close(c);
	puts("pipeline ok");
	return 0;
}
C
# An instrumented library (make asan) needs the sanitizers at link time too.
sanitize=
if nm "$CLI_BUILD/libherald.a" 2>/dev/null | grep -q '__asan_'; then
	sanitize="-fsanitize=address,undefined"
fi
# shellcheck disable=SC2086
"${CC:-gcc}" -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$CLI_ROOT" $sanitize \
	-o "$CLI_TMP/pipeline" "$CLI_TMP/pipeline.c" "$CLI_BUILD/libherald.a" -lcrypto ||
	fail "driver does not build against libherald"

start_engine
secret=$(new_app pipe) || fail "app create"
timeout 60 "$CLI_TMP/pipeline" "127.0.0.1:$PORT" pipe "$secret" || fail "pipeline driver"

finish
