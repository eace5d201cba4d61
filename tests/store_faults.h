/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_faults.h - one scenario, run by each tests/store_fault_*.c with a
 * different HERALD_FAULTS: two binds succeed, then a large ATTR_SET on the
 * first user meets the fault, then more binds. Checks that what was
 * acknowledged is there (before and after a restart), that a failed change
 * is rolled back to the user's previous durable state, and that the engine
 * goes on serving.
 */
#include "tests/testlib.h"

enum fault_expect {
	FE_ERROR,       /* ATTR_SET answered E_STORE, rolled back, not on disk */
	FE_ERROR_MAYBE_ON_DISK, /* E_STORE; after a restart it may be there (fsync failed late) */
	FE_OK,          /* the fault is absorbed (short write): acknowledged */
	FE_CRASH,       /* the engine dies at the fault */
};

static int fault_bind(struct te_conn *c, struct te_body *t, const char *user, const char *addr)
{
	struct net_hdr h;
	const uint8_t *b;
	te_bind_body(t, user, HRL_CH_SMS, 0, 0, addr);
	uint64_t id = te_send(c, HRL_OP_BIND, t->b.data, t->b.len);
	int rc = te_recv(c, &h, &b, 10000);
	if (rc)
		return -1; /* connection gone */
	CHECK(h.request_id == id);
	return te_err(&h, b);
}

static bool has_attrs(struct te_conn *c, struct te_body *t, const char *user)
{
	struct net_hdr h;
	const uint8_t *b;
	tb_reset(t);
	tb_str(t, user);
	CHECK(te_call(c, HRL_OP_USER_SHOW, t->b.data, t->b.len, &h, &b) == 0);
	return memmem(b, h.body_len, "note0", 5) != NULL;
}

static bool exists(struct te_conn *c, struct te_body *t, const char *user)
{
	struct net_hdr h;
	const uint8_t *b;
	tb_reset(t);
	tb_str(t, user);
	int err = te_call(c, HRL_OP_USER_SHOW, t->b.data, t->b.len, &h, &b);
	CHECK(err == 0 || err == HRL_E_NOT_FOUND);
	return err == 0;
}

static int run_fault_case(const char *faults, enum fault_expect expect)
{
	struct te_engine e;
	struct te_conn c;
	uint8_t secret[32];
	struct te_body t = { 0 };
	struct net_hdr h;
	const uint8_t *b;
	static const char *const args[] = { "--cores", "1", NULL };
	char value[1001];

	setenv("HERALD_FAULTS", faults, 1); /* write/fsync #1 is APP_CREATE */
	te_setup_app(&e, args, &c, secret);
	unsetenv("HERALD_FAULTS");
	CHECK(fault_bind(&c, &t, "u0", "+8613800000000") == 0); /* #2 */
	CHECK(fault_bind(&c, &t, "u1", "+8613800000001") == 0); /* #3 */
	/* #4: several blocks, so a short write has something to cut */
	memset(value, 'v', 1000);
	value[1000] = 0;
	tb_reset(&t);
	tb_str(&t, "u0");
	tb_u16(&t, 6);
	for (int i = 0; i < 6; i++) {
		char key[8];
		snprintf(key, sizeof(key), "note%d", i);
		tb_str(&t, key);
		tb_str(&t, value);
	}
	uint64_t id = te_send(&c, HRL_OP_ATTR_SET, t.b.data, t.b.len);
	int rc = te_recv(&c, &h, &b, 10000);
	if (expect == FE_CRASH) {
		CHECK(rc == -ECONNRESET);
		int st;
		CHECK(waitpid(e.pid, &st, 0) == e.pid);
		e.pid = 0;
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 137);
	} else {
		CHECK(rc == 0 && h.request_id == id);
		int err = te_err(&h, b);
		if (expect == FE_OK) {
			CHECK(err == 0);
			CHECK(has_attrs(&c, &t, "u0"));
		} else {
			CHECK(err == HRL_E_STORE);
			CHECK(!has_attrs(&c, &t, "u0")); /* rolled back to its last durable state */
			CHECK(exists(&c, &t, "u0"));
		}
		/* the engine goes on serving, and writing */
		CHECK(fault_bind(&c, &t, "u2", "+8613800000002") == 0);
		CHECK(fault_bind(&c, &t, "u3", "+8613800000003") == 0);
		CHECK(te_call(&c, HRL_OP_PING, "x", 1, &h, &b) == 0);
		CHECK(te_stop(&e, 10000) == 0);
	}
	te_close(&c);

	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	CHECK(exists(&c, &t, "u0") && exists(&c, &t, "u1"));
	if (expect == FE_OK)
		CHECK(has_attrs(&c, &t, "u0"));
	if (expect == FE_ERROR || expect == FE_CRASH)
		CHECK(!has_attrs(&c, &t, "u0"));
	if (expect != FE_CRASH)
		CHECK(exists(&c, &t, "u2") && exists(&c, &t, "u3"));
	te_close(&c);
	base_buf_free(&t.b);
	CHECK(te_stop(&e, 10000) == 0);
	te_cleanup();
	return 0;
}
