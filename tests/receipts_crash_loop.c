/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kill -9 while two connections pipeline RECEIPT_PUT, in a loop (two
 * cores, 1 s receipt windows, so some kills land near a rotation): after
 * every restart each acknowledged receipt is in its user's HISTORY, no
 * receipt is there twice, and CAMPAIGN_COUNTERS of every cycle's campaign
 * equal the receipts its users' histories hold (exact, acknowledged or
 * not), also for the campaigns of earlier cycles after later crashes.
 * Prints acknowledged, present and counted. HERALD_CRASH_CYCLES sets the
 * number of cycles (default 3).
 */
#include "tests/testlib.h"

#define CONNS 2
#define USERS 32          /* per cycle */
#define SENT_MAX (1 << 17) /* per connection and cycle */
#define CYCLES_MAX 64
#define HIST_MAX (CONNS * SENT_MAX / USERS + 1) /* one user's receipts in a cycle */
#define PIPE 512          /* unanswered requests per connection */
#define BATCH 32

static struct te_body t;
static bool acked[CONNS][SENT_MAX];
static uint64_t first_id[CONNS];
static struct te_receipt got[HIST_MAX];
static bool found[CONNS][SENT_MAX];
static uint64_t present_in[CYCLES_MAX]; /* receipts in the histories of each cycle's users */

/* message id: cycle, connection, sequence */
static uint64_t msg_id(int cycle, int k, int i)
{
	return (uint64_t)(cycle + 1) << 40 | (uint64_t)k << 32 | (uint64_t)(i + 1);
}

static void user_of(char *out, size_t cap, int cycle, int i)
{
	snprintf(out, cap, "c%d-user-%d", cycle, i % USERS);
}

/* Histories of one cycle's users: how many receipts; every acknowledged one must be there. */
static uint64_t check_cycle(struct te_conn *v, int cycle, const int *sent, bool check_acked, uint64_t *acked_n,
			    uint64_t *unacked_present)
{
	char user[48];
	uint64_t present = 0;
	memset(found, 0, sizeof(found));
	for (int u = 0; u < USERS; u++) {
		user_of(user, sizeof(user), cycle, u);
		unsigned n = te_history_all(v, &t, user, 1000, got, HIST_MAX);
		for (unsigned j = 0; j < n; j++) {
			uint64_t m = got[j].message_id;
			int k = (int)(m >> 32 & 0xff), i = (int)(m & 0xffffffff) - 1;
			CHECK((m >> 40) == (uint64_t)cycle + 1 && k < CONNS && i >= 0 && i < sent[k]);
			CHECK(i % USERS == u);            /* in its own user's history */
			CHECK(got[j].campaign_id == (uint64_t)cycle + 1);
			CHECK(!found[k][i]);              /* once */
			found[k][i] = true;
		}
		present += n;
	}
	if (check_acked) {
		*acked_n = *unacked_present = 0;
		for (int k = 0; k < CONNS; k++)
			for (int i = 0; i < sent[k]; i++) {
				*acked_n += acked[k][i];
				*unacked_present += found[k][i] && !acked[k][i];
				if (acked[k][i] && !found[k][i]) {
					fprintf(stderr, "cycle %d: acknowledged receipt %d of connection %d is missing\n",
						cycle, i, k);
					CHECK(!"an acknowledged receipt was lost");
				}
			}
	}
	return present;
}

static uint64_t counted(struct te_conn *v, int cycle)
{
	struct te_counters k;
	CHECK(te_counters_get(v, &t, (uint64_t)cycle + 1, &k) == 0);
	return te_counters_total(&k);
}

int main(void)
{
	struct te_engine e;
	struct te_conn c[CONNS];
	uint8_t secret[32];
	struct net_hdr h;
	const uint8_t *b;
	char user[48];
	const char *env = getenv("HERALD_CRASH_CYCLES");
	int cycles = env ? atoi(env) : 3;
	static const char *const args[] = { "--cores", "2", "--event-window", "1s", "--event-segment-mb", "8", NULL };
	uint64_t total_acked = 0, total_present = 0, total_counted = 0;
	static int sent_of[CYCLES_MAX][CONNS];

	if (cycles < 1)
		cycles = 1;
	if (cycles > CYCLES_MAX)
		cycles = CYCLES_MAX;
	srand((unsigned)getpid());
	te_setup_app(&e, args, &c[0], secret);
	te_close(&c[0]);
	for (int cycle = 0; cycle < cycles; cycle++) {
		int *sent = sent_of[cycle], answered[CONNS] = { 0 };
		for (int k = 0; k < CONNS; k++) {
			te_open(&e, &c[k]);
			CHECK(te_auth(&c[k], "app1", secret) == 0);
			first_id[k] = c[k].next_id;
		}
		/* put until the engine is killed at a random moment, now and then after a window */
		uint64_t kill_at = te_now_ms() + 20 + (uint64_t)(rand() % 1300);
		bool killed = false;
		int open_conns = CONNS;
		memset(acked, 0, sizeof(acked));
		while (open_conns > 0) {
			for (int k = 0; k < CONNS && !killed; k++) {
				if (sent[k] >= SENT_MAX - BATCH || sent[k] - answered[k] >= PIPE)
					continue;
				for (int i = 0; i < BATCH; i++) {
					int n = sent[k];
					struct te_receipt r = {
						.message_id = msg_id(cycle, k, n),
						.campaign_id = (uint64_t)cycle + 1,
						.channel = (uint8_t)(2 + n % 4),
						.state = (uint8_t)(1 + n % 5),
					};
					user_of(user, sizeof(user), cycle, n);
					te_receipt_body(&t, user, &r);
					CHECK(te_send(&c[k], HRL_OP_RECEIPT_PUT, t.b.data, t.b.len) ==
					      first_id[k] + (uint64_t)n);
					sent[k]++;
				}
			}
			/* kill with requests in flight */
			if (!killed && te_now_ms() >= kill_at) {
				te_kill9(&e);
				killed = true;
			}
			for (int k = 0; k < CONNS; k++) {
				if (c[k].fd < 0)
					continue;
				int rc = 0, got_n = 0;
				while ((killed || got_n < BATCH) && (rc = te_recv(&c[k], &h, &b, killed ? 2000 : 1)) == 0) {
					uint64_t slot = h.request_id - first_id[k];
					CHECK(slot < (uint64_t)sent[k] && h.opcode == HRL_OP_RECEIPT_PUT);
					int err = te_err(&h, b);
					answered[k]++;
					got_n++;
					if (err == 0)
						acked[k][slot] = true;
					else
						CHECK(err == HRL_E_SHUTTING_DOWN);
				}
				if (killed && rc == -ECONNRESET) {
					te_close(&c[k]);
					open_conns--;
				}
			}
		}
		/* restart: every acknowledged receipt is there; counters equal the histories */
		te_restart(&e, args);
		struct te_conn v;
		te_open(&e, &v);
		CHECK(te_auth(&v, "app1", secret) == 0);
		uint64_t acked_n, unacked_present;
		uint64_t present = check_cycle(&v, cycle, sent, true, &acked_n, &unacked_present);
		present_in[cycle] = present;
		uint64_t count = counted(&v, cycle);
		fprintf(stderr, "cycle %d: sent %d, acknowledged %llu, in histories %llu (+%llu not acknowledged), counted %llu\n",
			cycle, sent[0] + sent[1], (unsigned long long)acked_n, (unsigned long long)present,
			(unsigned long long)unacked_present, (unsigned long long)count);
		CHECK(count == present);
		/* earlier cycles: still all there, still counted exactly */
		for (int old = 0; old < cycle; old++) {
			uint64_t p = check_cycle(&v, old, sent_of[old], false, NULL, NULL);
			uint64_t k = counted(&v, old);
			if (p != present_in[old] || k != p)
				fprintf(stderr, "cycle %d after cycle %d: in histories %llu (was %llu), counted %llu\n", old,
					cycle, (unsigned long long)p, (unsigned long long)present_in[old],
					(unsigned long long)k);
			CHECK(p == present_in[old] && k == p);
		}
		te_close(&v);
		total_acked += acked_n;
		total_present += present;
		total_counted += count;
	}
	printf("receipts crash loop: %d cycles, acknowledged %llu, in histories %llu, counted %llu\n", cycles,
	       (unsigned long long)total_acked, (unsigned long long)total_present,
	       (unsigned long long)total_counted);
	CHECK(total_counted == total_present);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
