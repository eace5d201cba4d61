/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A flipped bit in a segment is detected on recovery: the damaged record is
 * reported with its segment and offset and never served; the records around
 * it are. A flip in the last record is a torn tail and is reported as such.
 */
#include <sys/mman.h>

#include "tests/testlib.h"

static void bind_one(struct te_conn *c, struct te_body *t, const char *user, const char *addr)
{
	struct net_hdr h;
	const uint8_t *b;
	te_bind_body(t, user, HRL_CH_EMAIL, 0, 0, addr);
	CHECK(te_call(c, HRL_OP_BIND, t->b.data, t->b.len, &h, &b) == 0);
}

static int show(struct te_conn *c, struct te_body *t, const char *user)
{
	struct net_hdr h;
	const uint8_t *b;
	tb_reset(t);
	tb_str(t, user);
	return te_call(c, HRL_OP_USER_SHOW, t->b.data, t->b.len, &h, &b);
}

/* Flip one bit inside the first occurrence of needle in the core-0 segment. */
static void flip(const char *dir, const char *needle)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/log/e00000001-c000-000001.seg", dir);
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	uint8_t *p = memmem(m, (size_t)st.st_size, needle, strlen(needle));
	CHECK(p != NULL);
	p[2] ^= 0x10;
	CHECK(msync(m, (size_t)st.st_size, MS_SYNC) == 0);
	munmap(m, (size_t)st.st_size);
	close(fd);
}

static bool log_has(const char *path, const char *a, const char *b)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, a) && strstr(line, b))
			found = true;
	if (f)
		fclose(f);
	return found;
}

int main(void)
{
	struct te_engine e;
	struct te_conn c, admin;
	uint8_t secret[32];
	struct te_body t = { 0 };
	static const char *const args[] = { "--cores", "1", NULL };
	char log_path[64];

	snprintf(log_path, sizeof(log_path), "/tmp/herald-bitflip-%d.log", getpid());
	unlink(log_path);
	te_start_impl(&e, args, true, log_path);
	te_admin(&e, &admin);
	te_app_create(&admin, "app1", secret);
	te_close(&admin);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	bind_one(&c, &t, "first", "first@example.com");
	bind_one(&c, &t, "middle", "middle@example.com");
	bind_one(&c, &t, "last", "last@example.com");
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);

	flip(e.dir, "middle@example.com");
	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	CHECK(show(&c, &t, "first") == 0);
	CHECK(show(&c, &t, "middle") == HRL_E_NOT_FOUND); /* never served */
	CHECK(show(&c, &t, "last") == 0);
	CHECK(log_has(log_path, "corrupt record skipped", "offset="));
	CHECK(log_has(log_path, "corrupt record skipped", "e00000001-c000-000001.seg"));
	CHECK(log_has(log_path, "store recovered", "corrupt=1"));
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);

	/*
	 * Damage the last record of a segment: a torn tail. On a new data
	 * directory: the restart above may already have compacted epoch 1 away.
	 */
	te_cleanup();
	unlink(log_path);
	te_start_impl(&e, args, true, log_path);
	te_admin(&e, &admin);
	te_app_create(&admin, "app1", secret);
	te_close(&admin);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	bind_one(&c, &t, "first", "first@example.com");
	bind_one(&c, &t, "last", "last@example.com");
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	flip(e.dir, "last@example.com");
	te_restart(&e, args);
	te_open(&e, &c);
	CHECK(te_auth(&c, "app1", secret) == 0);
	CHECK(show(&c, &t, "first") == 0);
	CHECK(show(&c, &t, "last") == HRL_E_NOT_FOUND);
	CHECK(log_has(log_path, "torn tail", "e00000001-c000-000001.seg"));
	te_close(&c);
	CHECK(te_stop(&e, 10000) == 0);
	base_buf_free(&t.b);
	unlink(log_path);
	te_cleanup();
	return 0;
}
