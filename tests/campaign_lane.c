/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A unicast is not delayed behind a broadcast: while a campaign to 40000
 * users runs through the simulator (~50 ms a call, 50 tokens a call, four
 * connections per core kept busy), 100 one-user campaigns (one every 20 ms) on the
 * transactional lane each reach their vendor call within 10 ms of being
 * created (p99 of CAMPAIGN_STATUS first_call_us), and are sent.
 */
#include "tests/campaign_lib.h"

#define USERS 40000u
#define UNICASTS 100u

static void hw(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "lane-%06u-0123456789abcdef", i);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	struct tc_sim sim;
	uint8_t secret[32];
	static const char *const sim_args[] = { "--latency-ms", "40,60", NULL };
	static const char *const args[] = { "--cores", "2", NULL };
	static const uint8_t push[] = { HRL_CH_PUSH };
	struct tc_status s, b;
	uint64_t bid, ids[UNICASTS], first[UNICASTS];
	char user[32];

	tc_sim_start(&sim, sim_args);
	te_setup_app(&e, args, &c, secret);
	CHECK(tc_vendor_set(&c, 1, sim.url, "10086", "token", 50, 4, 0) == 0);
	tc_bind_users(&c, "l", USERS, HRL_CH_PUSH, HRL_VENDOR_HUAWEI, hw);
	uint64_t warm;
	CHECK(tc_create(&c, 1, 1, push, 1, "Code", "warm-up", "l1", &warm, NULL, 0) == 0);
	tc_wait(&c, warm, 10000, &s);
	CHECK(tc_create(&c, 4, 0, push, 1, "Sale", "Everything must go", NULL, &bid, NULL, 0) == 0);
	usleep(100000);
	for (unsigned i = 0; i < UNICASTS; i++) {
		snprintf(user, sizeof(user), "l%u", i * 7);
		CHECK(tc_create(&c, 1, 1, push, 1, "Code", "Your login code is 1234", user, &ids[i], NULL, 0) == 0);
		usleep(20000);
	}
	CHECK(tc_status(&c, bid, &b) == 0);
	CHECK(b.state == 1); /* the broadcast was running all along */
	for (unsigned i = 0; i < UNICASTS; i++) {
		tc_wait(&c, ids[i], 10000, &s);
		CHECK(s.state == 4 && s.sent == 1);
		first[i] = s.first_call_us;
	}
	qsort(first, UNICASTS, sizeof(first[0]), cmp_u64);
	uint64_t p50 = first[UNICASTS / 2], p99 = first[UNICASTS - 1 - UNICASTS / 100];
	fprintf(stderr, "unicasts during a broadcast (%llu of %u sent then): create to vendor call p50 %llu us, p99 %llu us\n",
		(unsigned long long)b.sent, USERS, (unsigned long long)p50, (unsigned long long)p99);
	CHECK(p99 < 10000);
	CHECK(tc_control(&c, bid, 3) == 0);
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	tc_sim_kill();
	te_cleanup();
	return 0;
}
