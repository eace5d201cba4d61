/* SPDX-License-Identifier: Apache-2.0 */
/* 10,000 idle connections: the engine keeps them all and still serves a working client. */
#include <sys/resource.h>

#include "tests/testlib.h"

#define IDLE 10000

int main(void)
{
	struct te_engine e;
	struct te_conn c;
	struct net_hdr h;
	const uint8_t *b;
	struct rlimit rl;
	static int fds[IDLE];

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max < IDLE + 100)
		SKIP("RLIMIT_NOFILE hard limit below 10100");
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	te_start(&e, (const char *[]){ "--cores", "2", NULL });
	for (int i = 0; i < IDLE; i++) {
		fds[i] = te_try_connect(e.port);
		CHECK(fds[i] >= 0);
	}
	te_open(&e, &c);
	te_hello(&c);
	CHECK(te_call(&c, HRL_OP_PING, "alive", 5, &h, &b) == 0);
	/* some of the idle ones speak, they are served too */
	for (int i = 0; i < IDLE; i += 1000) {
		struct te_conn k = { .fd = fds[i], .next_id = 1 };
		te_hello(&k);
		base_buf_free(&k.in);
	}
	char path[64], line[256];
	long rss_kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", e.pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			rss_kb = atol(line + 6);
	if (f)
		fclose(f);
	fprintf(stderr, "engine RSS with %d connections: %ld KiB\n", IDLE, rss_kb);
	for (int i = 0; i < IDLE; i++)
		close(fds[i]);
	CHECK(te_call(&c, HRL_OP_PING, "still", 5, &h, &b) == 0);
	te_close(&c);
	CHECK(te_stop(&e, 20000) == 0);
	te_cleanup();
	return 0;
}
