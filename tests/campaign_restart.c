/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Campaigns survive a restart (null vendor sink, two cores): a finished
 * campaign comes back "done" with the same counts and nothing resent; a
 * paused one comes back paused and finishes once resumed; a cancelled one
 * stays cancelled; ids are not reused; vendor settings come back.
 */
#include "tests/campaign_lib.h"

#define USERS 2000u

static void token(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "oppo-%06u", i);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	static const char *const args[] = { "--cores", "2", "--vendor-sink", "null", NULL };
	static const uint8_t push[] = { HRL_CH_PUSH };
	struct tc_status s, before;
	uint64_t done_id, paused_id, cancelled_id, next_id;

	te_setup_app(&e, args, &c, secret);
	CHECK(tc_vendor_set(&c, 3, "http://127.0.0.1:9", "", "tok", 0, 0, 0) == 0);
	tc_bind_users(&c, "r", USERS, HRL_CH_PUSH, HRL_VENDOR_OPPO, token);
	CHECK(tc_create(&c, 4, 0, push, 1, "t", "b", NULL, &done_id, NULL, 0) == 0);
	tc_wait(&c, done_id, 20000, &before);
	CHECK(before.state == 4 && before.sent == USERS);
	/* a campaign paused at once: it may have sent some, not all */
	CHECK(tc_create(&c, 3, 0, push, 1, "t", "b", "three", &paused_id, NULL, 0) == 0);
	CHECK(tc_control(&c, paused_id, 1) == 0);
	CHECK(tc_create(&c, 3, 0, push, 1, "t", "b", "even", &cancelled_id, NULL, 0) == 0);
	CHECK(tc_control(&c, cancelled_id, 3) == 0);
	CHECK(tc_control(&c, cancelled_id, 2) == HRL_E_INVALID_ARGUMENT); /* no resume after cancel */
	usleep(300000); /* let the progress records go out */
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);

	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	CHECK(tc_status(&c, done_id, &s) == 0);
	CHECK(s.state == 4 && s.recipients == before.recipients && s.sent == before.sent && s.resent == 0);
	CHECK(tc_status(&c, cancelled_id, &s) == 0 && s.state == 3);
	CHECK(tc_status(&c, paused_id, &s) == 0 && s.state == 2);
	CHECK(tc_control(&c, paused_id, 2) == 0);
	tc_wait(&c, paused_id, 20000, &s);
	fprintf(stderr, "paused campaign after resume: recipients %llu sent %llu resent %llu\n",
		(unsigned long long)s.recipients, (unsigned long long)s.sent, (unsigned long long)s.resent);
	CHECK(s.state == 4 && s.sent == (USERS + 2) / 3);
	CHECK(tc_create(&c, 1, 0, push, 1, "t", "b", "r1", &next_id, NULL, 0) == 0);
	CHECK(next_id > cancelled_id);
	tc_wait(&c, next_id, 20000, &s);
	CHECK(s.sent == 1); /* the vendor setting came back */
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
