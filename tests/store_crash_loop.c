/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kill -9 while clients write, in a loop: after every restart, every write
 * a client saw acknowledged is there. Prints acknowledged and present
 * counts. HERALD_CRASH_CYCLES sets the number of cycles (make check-crash
 * runs hundreds; make test a few).
 */
#include "tests/testlib.h"

#define CONNS 2
#define PIPE 256

int main(void)
{
	struct te_engine e;
	struct te_conn c[CONNS];
	uint8_t secret[32];
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	char user[48], addr[32];
	const char *env = getenv("HERALD_CRASH_CYCLES");
	int cycles = env ? atoi(env) : 5;
	static const char *const args[] = { "--cores", "2", NULL };
	uint64_t total_acked = 0, total_present = 0, total_unacked_present = 0;
	static uint64_t sent_ids[CONNS][1 << 16];
	static bool acked[CONNS][1 << 16];

	if (cycles < 1)
		cycles = 1;
	srand((unsigned)getpid());
	te_setup_app(&e, args, &c[0], secret);
	te_close(&c[0]);
	for (int cycle = 0; cycle < cycles; cycle++) {
		int sent[CONNS] = { 0 };
		for (int k = 0; k < CONNS; k++) {
			te_open(&e, &c[k]);
			CHECK(te_auth(&c[k], "app1", secret) == 0);
		}
		/* write until the engine is killed at a random moment */
		uint64_t kill_at = te_now_ms() + 20 + (uint64_t)(rand() % 150);
		bool killed = false;
		int open_conns = CONNS;
		memset(acked, 0, sizeof(acked));
		while (open_conns > 0) {
			for (int k = 0; k < CONNS; k++) {
				if (c[k].fd < 0)
					continue;
				if (!killed && sent[k] < (1 << 16) - PIPE) {
					for (int i = 0; i < 16; i++) {
						snprintf(user, sizeof(user), "c%d-k%d-u%d", cycle, k, sent[k]);
						snprintf(addr, sizeof(addr), "+86%011d", sent[k]);
						te_bind_body(&t, user, HRL_CH_SMS, 0, 0, addr);
						sent_ids[k][sent[k]] = te_send(&c[k], HRL_OP_BIND, t.b.data, t.b.len);
						sent[k]++;
					}
				}
				int rc;
				while ((rc = te_recv(&c[k], &h, &b, killed ? 2000 : 1)) == 0) {
					uint64_t first = sent_ids[k][0];
					uint64_t slot = h.request_id - first;
					CHECK(slot < (uint64_t)sent[k]);
					if (te_err(&h, b) == 0)
						acked[k][slot] = true;
					else
						CHECK(te_err(&h, b) == HRL_E_SHUTTING_DOWN);
				}
				if (rc == -ECONNRESET) {
					te_close(&c[k]);
					open_conns--;
				}
			}
			if (!killed && te_now_ms() >= kill_at) {
				te_kill9(&e);
				killed = true;
			}
		}
		/* restart and check every acknowledged write */
		te_restart(&e, args);
		struct te_conn v;
		te_open(&e, &v);
		CHECK(te_auth(&v, "app1", secret) == 0);
		uint64_t acked_n = 0, present = 0, unacked_present = 0;
		for (int k = 0; k < CONNS; k++) {
			for (int i = 0; i < sent[k]; i++) {
				snprintf(user, sizeof(user), "c%d-k%d-u%d", cycle, k, i);
				tb_reset(&t);
				tb_str(&t, user);
				te_send(&v, HRL_OP_USER_SHOW, t.b.data, t.b.len);
			}
			for (int i = 0; i < sent[k]; i++) {
				CHECK(te_recv(&v, &h, &b, 10000) == 0);
				uint64_t slot = h.request_id - (v.next_id - (uint64_t)sent[k]);
				CHECK(slot < (uint64_t)sent[k]);
				int err = te_err(&h, b);
				CHECK(err == 0 || err == HRL_E_NOT_FOUND);
				if (acked[k][slot]) {
					acked_n++;
					if (err) {
						fprintf(stderr, "cycle %d: acknowledged c%d-k%d-u%llu is missing\n", cycle,
							cycle, k, (unsigned long long)slot);
						CHECK(!"an acknowledged write was lost");
					}
					present++;
				} else if (!err) {
					unacked_present++;
				}
			}
		}
		te_close(&v);
		total_acked += acked_n;
		total_present += present;
		total_unacked_present += unacked_present;
		fprintf(stderr, "cycle %d: sent %d, acknowledged %llu, present after restart %llu (+%llu not acknowledged)\n",
			cycle, sent[0] + sent[1], (unsigned long long)acked_n, (unsigned long long)present,
			(unsigned long long)unacked_present);
	}
	printf("crash loop: %d cycles, acknowledged %llu, present %llu, lost %llu\n", cycles,
	       (unsigned long long)total_acked, (unsigned long long)total_present,
	       (unsigned long long)(total_acked - total_present));
	CHECK(total_acked == total_present);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
