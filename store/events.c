/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events.c - see events.h for the files, records and the recovery rules.
 */
#include "store/events.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/crc32c.h"
#include "base/log.h"

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t now_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int fsync_path(const char *path)
{
	int d = open(path, O_RDONLY | O_CLOEXEC);
	if (d < 0)
		return -errno;
	int rc = fsync(d) ? -errno : 0;
	close(d);
	return rc;
}

/* ---- receipts ---------------------------------------------------------------------------- */

size_t sto_receipt_bytes(const struct sto_receipt *r)
{
	return STO_RECEIPT_FIXED_BYTES + r->reason_len + r->user_len;
}

void sto_receipt_encode(const struct sto_receipt *r, uint8_t *p)
{
	memcpy(p, &r->message_id, 8);
	memcpy(p + 8, &r->campaign_id, 8);
	memcpy(p + 16, &r->user_hash, 8);
	memcpy(p + 24, &r->event_unix_ms, 8);
	memcpy(p + 32, &r->app_idx, 2);
	p[34] = r->channel;
	p[35] = r->vendor;
	p[36] = r->state;
	p[37] = r->reason_len;
	p[38] = r->user_len;
	memcpy(p + STO_RECEIPT_FIXED_BYTES, r->reason, r->reason_len);
	memcpy(p + STO_RECEIPT_FIXED_BYTES + r->reason_len, r->user_id, r->user_len);
}

int sto_receipt_decode(const uint8_t *p, size_t n, struct sto_receipt *r)
{
	if (n < STO_RECEIPT_FIXED_BYTES)
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	r->message_id = get64(p);
	r->campaign_id = get64(p + 8);
	r->user_hash = get64(p + 16);
	r->event_unix_ms = get64(p + 24);
	memcpy(&r->app_idx, p + 32, 2);
	r->channel = p[34];
	r->vendor = p[35];
	r->state = p[36];
	r->reason_len = p[37];
	r->user_len = p[38];
	if (n != STO_RECEIPT_FIXED_BYTES + (size_t)r->reason_len + r->user_len || r->reason_len > HRL_REASON_BYTES_MAX ||
	    r->user_len == 0 || r->user_len > HRL_USER_ID_BYTES_MAX || r->state == 0)
		return -EBADMSG;
	r->reason = (const char *)p + STO_RECEIPT_FIXED_BYTES;
	r->user_id = r->reason + r->reason_len;
	return 0;
}

/* ---- counters ----------------------------------------------------------------------------- */

static uint64_t counter_hash(uint16_t app, uint64_t campaign, uint8_t channel, uint8_t state)
{
	uint64_t h = campaign * 0x9E3779B97F4A7C15ull;
	h ^= ((uint64_t)app << 16 | (uint64_t)channel << 8 | state) * 0xC2B2AE3D27D4EB4Full;
	return h ^ (h >> 29);
}

static struct sto_counter *counter_slot(const struct sto_counters *t, uint16_t app, uint64_t campaign,
					uint8_t channel, uint8_t state)
{
	if (!t->cap)
		return NULL;
	uint32_t mask = t->cap - 1;
	for (uint32_t i = (uint32_t)counter_hash(app, campaign, channel, state) & mask;; i = (i + 1) & mask) {
		struct sto_counter *c = &t->slots[i];
		if (!c->state || (c->campaign == campaign && c->app == app && c->channel == channel && c->state == state))
			return c;
	}
}

static int counters_grow(struct sto_counters *t)
{
	uint32_t cap = t->cap ? t->cap * 2 : 64;
	struct sto_counter *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	struct sto_counters n = { slots, cap, 0 };
	for (uint32_t i = 0; i < t->cap; i++) {
		const struct sto_counter *c = &t->slots[i];
		if (c->state) {
			*counter_slot(&n, c->app, c->campaign, c->channel, c->state) = *c;
			n.count++;
		}
	}
	free(t->slots);
	*t = n;
	return 0;
}

bool sto_counters_full_for(const struct sto_counters *t, uint16_t app, uint64_t campaign, uint8_t channel,
			   uint8_t state)
{
	if (t->count < STO_COUNTERS_MAX)
		return false;
	const struct sto_counter *c = counter_slot(t, app, campaign, channel, state);
	return !c || !c->state;
}

int sto_counters_add(struct sto_counters *t, uint16_t app, uint64_t campaign, uint8_t channel, uint8_t state,
		     int64_t delta)
{
	ALWAYS(state != 0);
	struct sto_counter *c = counter_slot(t, app, campaign, channel, state);
	if (!c || !c->state) {
		if (t->count >= STO_COUNTERS_MAX)
			return -ENOSPC;
		if ((t->count + 1) * 2 > t->cap) {
			int rc = counters_grow(t);
			if (rc)
				return rc;
		}
		c = counter_slot(t, app, campaign, channel, state);
		*c = (struct sto_counter){ .campaign = campaign, .app = app, .channel = channel, .state = state };
		t->count++;
	}
	c->value += (uint64_t)delta;
	return 0;
}

uint64_t sto_counters_get(const struct sto_counters *t, uint16_t app, uint64_t campaign, uint8_t channel,
			  uint8_t state)
{
	const struct sto_counter *c = counter_slot(t, app, campaign, channel, state);
	return c && c->state ? c->value : 0;
}

void sto_counters_free(struct sto_counters *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* Add every entry of a COUNTERS payload (or a base file's entries) into t. */
static int counters_add_entries(struct sto_counters *t, const uint8_t *p, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++, p += STO_COUNTER_ENTRY_BYTES) {
		struct sto_counter c;
		memcpy(&c, p, sizeof(c));
		if (!c.state || c.state >= HRL_STATE_COUNT)
			return -EBADMSG;
		int rc = sto_counters_add(t, c.app, c.campaign, c.channel, c.state, (int64_t)c.value);
		if (rc)
			return rc;
	}
	return 0;
}

static void counters_merge(struct sto_counters *into, const struct sto_counters *from, int *rc)
{
	for (uint32_t i = 0; i < from->cap && !*rc; i++) {
		const struct sto_counter *c = &from->slots[i];
		if (c->state && c->value)
			*rc = sto_counters_add(into, c->app, c->campaign, c->channel, c->state, (int64_t)c->value);
	}
}

/* ---- sealed segments: hints, published for queries and retention ------------------------ */

struct sealed {
	uint32_t idx;        /* segment registry */
	uint32_t epoch, core, n;
	const uint8_t *hint; /* mapped hint file */
	size_t hint_size;
	uint32_t count;
	uint64_t max_ms;
	char *hint_path;
	uint64_t *fence;     /* hash of every FENCE_STEP-th entry, or NULL (not built yet) */
};

/* One fence per 256 hint entries (4 KiB): a lookup then reads one page of the hint. */
#define FENCE_STEP 256u

static pthread_mutex_t sealed_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sealed *sealed;   /* newest (epoch, n, core) first */
static uint32_t sealed_count, sealed_cap;
static uint32_t run_epoch;
static uint64_t expired_total; /* atomic */

static bool sealed_newer(const struct sealed *a, const struct sealed *b)
{
	if (a->epoch != b->epoch)
		return a->epoch > b->epoch;
	if (a->n != b->n)
		return a->n > b->n;
	return a->core > b->core;
}

static void sealed_release(struct sealed *s)
{
	if (s->hint)
		munmap((void *)s->hint, s->hint_size);
	free(s->hint_path);
	free(s->fence);
}

static uint32_t fence_count(uint32_t entries)
{
	return (entries + FENCE_STEP - 1) / FENCE_STEP;
}

/* Give the published hint of segment idx its fences (takes fence). */
static void sealed_set_fence(uint32_t idx, uint64_t *fence)
{
	pthread_mutex_lock(&sealed_lock);
	for (uint32_t i = 0; i < sealed_count && fence; i++)
		if (sealed[i].idx == idx && !sealed[i].fence) {
			sealed[i].fence = fence;
			fence = NULL;
		}
	pthread_mutex_unlock(&sealed_lock);
	free(fence);
}

/* Publish a mapped, checked hint. Takes ownership of the mapping and path. */
static int sealed_publish(const struct sealed *s)
{
	pthread_mutex_lock(&sealed_lock);
	if (sealed_count == sealed_cap) {
		uint32_t cap = sealed_cap ? sealed_cap * 2 : 64;
		struct sealed *n = realloc(sealed, cap * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&sealed_lock);
			return -ENOMEM;
		}
		sealed = n;
		sealed_cap = cap;
	}
	for (uint32_t i = 0; i < sealed_count; i++)
		if (sealed[i].idx == s->idx) { /* a rebuilt hint replaces the old one */
			sealed_release(&sealed[i]);
			sealed[i] = *s;
			pthread_mutex_unlock(&sealed_lock);
			return 0;
		}
	uint32_t at = 0;
	while (at < sealed_count && sealed_newer(&sealed[at], s))
		at++;
	memmove(&sealed[at + 1], &sealed[at], (sealed_count - at) * sizeof(*sealed));
	sealed[at] = *s;
	sealed_count++;
	pthread_mutex_unlock(&sealed_lock);
	return 0;
}



static bool hint_crc_ok(const uint8_t *h, size_t size)
{
	uint32_t count = get32(h + 8);
	return base_crc32c(base_crc32c(0, h + 16, 32), h + STO_HINT_HEADER_BYTES, (size_t)count * 16u) == get32(h + 12);
}

/*
 * Map and check a hint file. 0 or -errno. verify: check the CRC of every
 * entry now (else the caller has it verified later: at start-up the hints
 * of all sealed segments are mapped at once, and checked in the background).
 */
static int hint_load(const char *path, struct sealed *s, bool verify)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) || sb.st_size < STO_HINT_HEADER_BYTES) {
		close(fd);
		return -EBADMSG;
	}
	void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -errno;
	const uint8_t *h = m;
	uint32_t count = get32(h + 8);
	if (memcmp(h, "HRLDHNT1", 8) != 0 || (uint64_t)sb.st_size != STO_HINT_HEADER_BYTES + (uint64_t)count * 16u ||
	    (verify && !hint_crc_ok(h, (size_t)sb.st_size))) {
		munmap(m, (size_t)sb.st_size);
		return -EBADMSG;
	}
	s->hint = m;
	s->hint_size = (size_t)sb.st_size;
	s->count = count;
	s->max_ms = get64(h + 24);
	s->hint_path = strdup(path);
	return 0;
}

struct hint_build {
	uint64_t *ents;      /* pairs: hash, offset */
	size_t count, cap;
	uint64_t min_ms, max_ms;
	struct sto_counters *counters; /* optional: add receipts here */
	uint64_t receipts;
	bool ckpt_wanted;    /* collecting the checkpoint at the head */
	bool ckpt_done;
	uint32_t ckpt_parts, ckpt_next;
	struct sto_counters ckpt;
	uint64_t limit;      /* > 0: records at or after this offset were undone (an I/O error) */
	int rc;
};

static void hint_apply(void *arg, unsigned worker, const struct sto_rec_hdr *h, const uint8_t *payload, uint64_t loc)
{
	struct hint_build *b = arg;
	if (b->rc || (b->limit && STO_LOC_OFF(loc) >= b->limit))
		return;
	if (h->type == STO_REC_COUNTERS) {
		if (!b->ckpt_wanted || b->ckpt_done || b->receipts || h->len < STO_COUNTERS_HEAD_BYTES)
			return;
		uint32_t part = get32(payload), parts = get32(payload + 4), count = get32(payload + 8);
		if (part != b->ckpt_next || (part && parts != b->ckpt_parts) || !parts ||
		    h->len != STO_COUNTERS_HEAD_BYTES + (uint64_t)count * STO_COUNTER_ENTRY_BYTES)
			return;
		b->ckpt_parts = parts;
		if (counters_add_entries(&b->ckpt, payload + STO_COUNTERS_HEAD_BYTES, count))
			return;
		b->ckpt_next++;
		b->ckpt_done = b->ckpt_next == parts;
		return;
	}
	if (h->type != STO_REC_RECEIPT)
		return;
	struct sto_receipt r;
	if (sto_receipt_decode(payload, h->len, &r))
		return;
	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		uint64_t *n = realloc(b->ents, cap * 2 * sizeof(*n));
		if (!n) {
			b->rc = -ENOMEM;
			return;
		}
		b->ents = n;
		b->cap = cap;
	}
	b->ents[b->count * 2] = r.user_hash;
	b->ents[b->count * 2 + 1] = STO_LOC_OFF(loc);
	b->count++;
	if (!b->min_ms || h->unix_ms < b->min_ms)
		b->min_ms = h->unix_ms;
	if (h->unix_ms > b->max_ms)
		b->max_ms = h->unix_ms;
	b->receipts++;
	if (b->counters && (b->rc = sto_counters_add(b->counters, r.app_idx, r.campaign_id, r.channel, r.state, 1)))
		return;
}

static int pair_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Write the hint of what b collected. 0 or -errno. */
static int hint_write(const char *path, struct hint_build *b, uint64_t created_ms)
{
	if (b->count > 1)
		qsort(b->ents, b->count, 2 * sizeof(uint64_t), pair_cmp);
	size_t bytes = STO_HINT_HEADER_BYTES + b->count * 16u;
	uint8_t *out = calloc(1, bytes);
	if (!out)
		return -ENOMEM;
	memcpy(out, "HRLDHNT1", 8);
	uint32_t count = (uint32_t)b->count;
	memcpy(out + 8, &count, 4);
	uint64_t min_ms = b->count ? b->min_ms : created_ms, max_ms = b->count ? b->max_ms : created_ms;
	memcpy(out + 16, &min_ms, 8);
	memcpy(out + 24, &max_ms, 8);
	for (size_t i = 0; i < b->count; i++) {
		uint32_t off = (uint32_t)b->ents[i * 2 + 1];
		memcpy(out + STO_HINT_HEADER_BYTES + i * 16, &b->ents[i * 2], 8);
		memcpy(out + STO_HINT_HEADER_BYTES + i * 16 + 8, &off, 4);
	}
	uint32_t crc = base_crc32c(base_crc32c(0, out + 16, 32), out + STO_HINT_HEADER_BYTES, b->count * 16u);
	memcpy(out + 12, &crc, 4);
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = fd < 0 ? -errno : 0;
	if (!rc && write(fd, out, bytes) != (ssize_t)bytes)
		rc = -EIO;
	if (fd >= 0)
		close(fd);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	free(out);
	return rc;
}

/* "<dir>/eE-cC-N.seg" -> "<dir>/eE-cC-N.hint" */
static void hint_path_of(const char *seg_path, char *out, size_t cap)
{
	snprintf(out, cap, "%s", seg_path);
	size_t n = strlen(out);
	if (n > 4 && strcmp(out + n - 4, ".seg") == 0 && n + 1 < cap)
		strcpy(out + n - 4, ".hint");
}

static uint64_t seg_created_ms(const uint8_t *m, size_t size)
{
	return size >= 32 ? get64(m + 24) : 0;
}

/*
 * Scan one segment: collect its receipts (and, if wanted, its head
 * checkpoint), write its hint unless it has a good one, publish the hint.
 */
static int segment_index(const char *path, uint32_t idx, uint32_t epoch, uint32_t core, uint32_t n,
			 struct hint_build *b, bool publish, size_t *used_out)
{
	const uint8_t *m;
	size_t size;
	void *rel;
	int rc = sto_segment_map(path, false, &m, &size, &rel);
	if (rc)
		return rc;
	size_t used = sto_segment_scan(path, m, size, idx, hint_apply, b, NULL, 1, false);
	uint64_t created = seg_created_ms(m, size);
	sto_segment_unmap(m, size, rel);
	if (used_out)
		*used_out = used;
	if (b->rc)
		return b->rc;
	if (!publish)
		return 0;
	/* sealed: never written again, so give back the preallocated tail */
	struct stat sb;
	uint64_t keep = (used + 4095) & ~(uint64_t)4095;
	if (used && stat(path, &sb) == 0 && keep < (uint64_t)sb.st_size && truncate(path, (off_t)keep))
		base_log(BASE_LOG_WARN, "msg=\"store: cannot trim segment\" segment=%s err=%d", path, errno);
	char hp[4200];
	hint_path_of(path, hp, sizeof(hp));
	rc = hint_write(hp, b, created);
	struct sealed s = { .idx = idx, .epoch = epoch, .core = core, .n = n };
	if (!rc)
		rc = hint_load(hp, &s, true);
	if (!rc && (s.fence = malloc((fence_count(s.count) + 1) * sizeof(*s.fence))))
		for (uint32_t k = 0; k < s.count; k += FENCE_STEP)
			s.fence[k / FENCE_STEP] = b->ents[(size_t)k * 2]; /* sorted by hint_write */
	if (!rc && (rc = sealed_publish(&s)))
		sealed_release(&s);
	return rc;
}

struct hint_job {
	uint32_t idx, epoch, core, n;
	uint64_t limit;
	char path[];
};

static void hint_job_run(void *arg)
{
	struct hint_job *j = arg;
	struct hint_build b = { .limit = j->limit };
	int rc = segment_index(j->path, j->idx, j->epoch, j->core, j->n, &b, true, NULL);
	if (rc)
		base_log(BASE_LOG_ERROR, "msg=\"store: cannot index a sealed receipt segment; it is indexed at the next start\" segment=%s err=%d",
			 j->path, rc);
	free(b.ents);
	sto_counters_free(&b.ckpt);
	free(j);
}

/*
 * Background, after start-up: check a hint mapped without its CRC; rebuild
 * it if damaged. The file is read with pread, not through the mapping, so
 * the check does not leave the whole hint resident in the engine.
 */
static void hint_verify_run(void *arg)
{
	struct hint_job *j = arg;
	char hp[4200];
	uint64_t *fence = NULL;
	hint_path_of(j->path, hp, sizeof(hp));
	int fd = open(hp, O_RDONLY | O_CLOEXEC);
	uint8_t head[STO_HINT_HEADER_BYTES];
	bool bad = fd < 0 || pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head);
	if (!bad) {
		static uint8_t chunk[1 << 20]; /* the background thread only; a multiple of 16 * FENCE_STEP */
		uint32_t entries = get32(head + 8);
		uint64_t left = (uint64_t)entries * 16u, off = STO_HINT_HEADER_BYTES, at = 0;
		uint32_t crc = base_crc32c(0, head + 16, 32);
		fence = malloc((fence_count(entries) + 1) * sizeof(*fence));
		bad = !fence;
		while (left && !bad) {
			size_t n = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
			bad = pread(fd, chunk, n, (off_t)off) != (ssize_t)n;
			crc = base_crc32c(crc, chunk, n);
			for (size_t k = 0; k < n / 16; k++, at++)
				if (at % FENCE_STEP == 0)
					fence[at / FENCE_STEP] = get64(chunk + k * 16);
			left -= n;
			off += n;
		}
		bad = bad || crc != get32(head + 12);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	if (fd >= 0)
		close(fd);
	if (bad) {
		free(fence);
		base_log(BASE_LOG_ERROR, "msg=\"store: receipt hint damaged; rebuilding it from its segment\" segment=%s", j->path);
		hint_job_run(j); /* frees j */
		return;
	}
	sealed_set_fence(j->idx, fence);
	free(j);
}

static void bg_job_limit(uint32_t idx, void (*fn)(void *), uint64_t limit)
{
	uint32_t epoch, core, n;
	const char *path = sto_segments_path(idx);
	if (!sto_segments_ident(idx, &epoch, &core, &n))
		return;
	struct hint_job *j = malloc(sizeof(*j) + strlen(path) + 1);
	if (!j)
		return;
	*j = (struct hint_job){ idx, epoch, core, n, limit };
	strcpy(j->path, path);
	if (sto_bg_submit(fn, j)) {
		base_log(BASE_LOG_WARN, "msg=\"store: background queue full; segment indexed at the next start\" segment=%s", path);
		free(j);
	}
}

static void bg_job(uint32_t idx, void (*fn)(void *))
{
	bg_job_limit(idx, fn, 0);
}

/* ---- one core -------------------------------------------------------------------------- */

static int mem_seg_push(struct sto_events *e, uint32_t seg_idx)
{
	uint32_t epoch, core, n;
	if (!sto_segments_ident(seg_idx, &epoch, &core, &n))
		return -EINVAL;
	if (e->seg_count == e->seg_cap) {
		uint32_t cap = e->seg_cap ? e->seg_cap * 2 : 8;
		struct sto_mem_seg *s = realloc(e->segs, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		e->segs = s;
		e->seg_cap = cap;
	}
	e->segs[e->seg_count++] = (struct sto_mem_seg){ seg_idx, n, e->ent_base + e->ent_count };
	return 0;
}

int sto_events_init(struct sto_events *e, struct sto_log *log, unsigned core, uint32_t epoch)
{
	memset(e, 0, sizeof(*e));
	e->log = log;
	e->core = core;
	e->epoch = epoch;
	run_epoch = epoch;
	e->ent_cap = 1024;
	e->ents = malloc(e->ent_cap * sizeof(*e->ents));
	e->hashes = malloc(e->ent_cap * sizeof(*e->hashes));
	if (!e->ents || !e->hashes)
		return -ENOMEM;
	return mem_seg_push(e, log->seg_idx);
}

void sto_events_free(struct sto_events *e)
{
	sto_counters_free(&e->counters);
	free(e->ents);
	free(e->hashes);
	free(e->segs);
	memset(e, 0, sizeof(*e));
}

int sto_events_room(struct sto_events *e, const struct sto_receipt *r)
{
	if (sto_counters_full_for(&e->counters, r->app_idx, r->campaign_id, r->channel, r->state))
		return -ENOSPC;
	if (e->ent_count == UINT32_MAX - 1)
		return -ENOBUFS;
	return sto_log_room(e->log, (uint32_t)sto_receipt_bytes(r));
}

void sto_events_append(struct sto_events *e, const struct sto_receipt *r, uint16_t partition, uint64_t *lsn)
{
	uint64_t loc;
	/* memory first: the append below cannot fail once room said yes */
	if (e->ent_count == e->ent_cap) {
		struct sto_hist_ent *n = realloc(e->ents, (size_t)e->ent_cap * 2 * sizeof(*n));
		if (n)
			e->ents = n;
		uint64_t *h = n ? realloc(e->hashes, (size_t)e->ent_cap * 2 * sizeof(*h)) : NULL;
		if (h) {
			e->hashes = h;
			e->ent_cap *= 2;
		}
	}
	int crc = sto_counters_add(&e->counters, r->app_idx, r->campaign_id, r->channel, r->state, 1);
	uint8_t *p = sto_log_append(e->log, STO_REC_RECEIPT, partition, ++e->receipts_written,
				    (uint32_t)sto_receipt_bytes(r), 0, lsn, &loc);
	sto_receipt_encode(r, p);
	if (crc)
		base_log(BASE_LOG_ERROR, "msg=\"store: counter not kept (out of memory); recounted at the next start\"");
	e->seg_receipts++;
	if (e->ent_count < e->ent_cap) {
		e->ents[e->ent_count] = (struct sto_hist_ent){ loc, e->segs[e->seg_count - 1].n };
		e->hashes[e->ent_count++] = r->user_hash;
	} else {
		e->ent_lost++; /* out of memory: History misses it until its segment is sealed */
		base_log(BASE_LOG_ERROR, "msg=\"store: history index out of memory; receipt found after the segment is sealed\"");
	}
}

void sto_events_on_undo(struct sto_events *e, const struct sto_rec_hdr *h, const uint8_t *payload)
{
	struct sto_receipt r;
	if (h->type != STO_REC_RECEIPT || sto_receipt_decode(payload, h->len, &r))
		return;
	sto_counters_add(&e->counters, r.app_idx, r.campaign_id, r.channel, r.state, -1);
	e->receipts_undone++;
	if (e->seg_receipts)
		e->seg_receipts--;
	/* undo runs newest first: the receipt is the newest entry */
	if (e->ent_count && e->hashes[e->ent_count - 1] == r.user_hash)
		e->ent_count--;
}

static void checkpoint_append(struct sto_events *e)
{
	const struct sto_counters *t = &e->counters;
	uint32_t parts = t->count ? (t->count + STO_COUNTERS_PER_RECORD - 1) / STO_COUNTERS_PER_RECORD : 1;
	uint32_t slot = 0;
	for (uint32_t part = 0; part < parts; part++) {
		uint32_t n = t->count - part * STO_COUNTERS_PER_RECORD;
		if (n > STO_COUNTERS_PER_RECORD)
			n = STO_COUNTERS_PER_RECORD;
		uint32_t bytes = STO_COUNTERS_HEAD_BYTES + n * STO_COUNTER_ENTRY_BYTES;
		uint64_t loc;
		ALWAYS(sto_log_room(e->log, bytes) == 0); /* a fresh segment: the buffer is empty */
		uint8_t *p = sto_log_append(e->log, STO_REC_COUNTERS, STO_PARTITION_COUNTERS, part, bytes, 0,
					    &e->ckpt_lsn, &loc);
		uint32_t head[4] = { part, parts, n, 0 };
		memcpy(p, head, sizeof(head));
		p += STO_COUNTERS_HEAD_BYTES;
		for (uint32_t i = 0; i < n; slot++) {
			const struct sto_counter *c = &t->slots[slot];
			if (!c->state)
				continue;
			memcpy(p, c, sizeof(*c));
			p += sizeof(*c);
			i++;
		}
	}
}

void sto_events_on_opened(struct sto_events *e)
{
	uint32_t sealed_idx = e->segs[e->seg_count - 1].seg_idx;
	if (e->pending_seal)
		bg_job_limit(e->pending_seal, hint_job_run, e->pending_limit); /* its successor was all durable before this rotation */
	e->pending_seal = sealed_idx;
	e->seg_receipts = 0;
	e->pending_limit = sealed_idx == e->fail_seg ? e->fail_keep : 0;
	checkpoint_append(e);
	if (mem_seg_push(e, e->log->seg_idx))
		base_log(BASE_LOG_ERROR, "msg=\"store: out of memory tracking a receipt segment\"");
}

void sto_events_on_durable(struct sto_events *e, uint64_t lsn)
{
	if (e->pending_seal && lsn > e->ckpt_lsn) {
		bg_job_limit(e->pending_seal, hint_job_run, e->pending_limit);
		e->pending_seal = 0;
	}
}

void sto_events_on_failed(struct sto_events *e)
{
	/*
	 * The segment ends where it was last durable: what the failed write
	 * may have left after that was undone, so it must not come back
	 * through the hint (in this run) nor at the next start.
	 */
	struct sto_log *l = e->log;
	e->fail_seg = l->seg_idx;
	e->fail_keep = l->buf_seg_off + l->flushed_len;
	if (l->fd >= 0 && (ftruncate(l->fd, (off_t)e->fail_keep) || fdatasync(l->fd)))
		base_log(BASE_LOG_ERROR, "msg=\"store: cannot cut the failed receipt segment at its durable end; undone receipts may reappear after a restart\" segment=%s err=%d",
			 sto_segments_path(l->seg_idx), errno);
}

/* Is the hint of segment idx published (queries find its receipts there)? */
static bool sealed_has(uint32_t idx)
{
	bool found = false;
	pthread_mutex_lock(&sealed_lock);
	for (uint32_t i = 0; i < sealed_count && !found; i++)
		found = sealed[i].idx == idx;
	pthread_mutex_unlock(&sealed_lock);
	return found;
}

void sto_events_tick(struct sto_events *e)
{
	/* an idle core still seals a segment whose window is over, so retention can take it */
	const struct sto_log *l = e->log;
	if (e->seg_receipts && l->cfg->window_ms && l->unix_ms_cached >= l->seg_created_ms + l->cfg->window_ms)
		sto_log_rotate(e->log);
	/* memory that published hints cover, oldest first; a hint that failed keeps its receipts here */
	uint32_t drop_segs = 0;
	while (drop_segs + 1 < e->seg_count && sealed_has(e->segs[drop_segs].seg_idx))
		drop_segs++;
	if (!drop_segs)
		return;
	uint64_t upto = e->segs[drop_segs].first;
	uint32_t k = (uint32_t)(upto - e->ent_base);
	memmove(e->ents, e->ents + k, (size_t)(e->ent_count - k) * sizeof(*e->ents));
	memmove(e->hashes, e->hashes + k, (size_t)(e->ent_count - k) * sizeof(*e->hashes));
	e->ent_count -= k;
	e->ent_base = upto;
	memmove(e->segs, e->segs + drop_segs, (e->seg_count - drop_segs) * sizeof(*e->segs));
	e->seg_count -= drop_segs;
}

/* ---- history ---------------------------------------------------------------------------- */

void sto_pos_encode(const struct sto_pos *p, uint8_t out[HRL_CURSOR_BYTES])
{
	memset(out, 0, HRL_CURSOR_BYTES);
	memcpy(out, &p->epoch, 4);
	memcpy(out + 4, &p->core, 2);
	memcpy(out + 8, &p->n, 4);
	memcpy(out + 12, &p->off, 4);
}

int sto_pos_decode(const uint8_t in[HRL_CURSOR_BYTES], uint32_t cur_epoch, struct sto_pos *p, bool *start)
{
	static const uint8_t zero[HRL_CURSOR_BYTES];
	*start = memcmp(in, zero, HRL_CURSOR_BYTES) == 0;
	memset(p, 0, sizeof(*p));
	if (*start)
		return 0;
	memcpy(&p->epoch, in, 4);
	memcpy(&p->core, in + 4, 2);
	memcpy(&p->n, in + 8, 4);
	memcpy(&p->off, in + 12, 4);
	if (p->epoch == 0 || p->epoch > cur_epoch || p->core >= HRL_CORES_MAX || in[6] || in[7] || p->n == 0 ||
	    p->off < STO_SEG_HEADER_BYTES || p->off % 8)
		return -EINVAL;
	return 0;
}

/* a is older than b in history order */
static bool pos_older(const struct sto_pos *a, const struct sto_pos *b)
{
	if (a->epoch != b->epoch)
		return a->epoch < b->epoch;
	if (a->n != b->n)
		return a->n < b->n;
	return a->off < b->off;
}

static __thread uint8_t hist_buf[HRL_RECORD_BYTES_MAX];

struct hist_walk {
	uint64_t hash;
	uint16_t app;
	const char *id;
	size_t id_len;
	const struct sto_pos *cursor;
	bool start;
	unsigned limit, emitted;
	sto_hist_emit_fn *emit;
	void *arg;
	struct sto_pos *next;
};

/* Read the record at loc; emit it if it is the user's. 1 when the page is full, 0 go on, -errno. */
static int hist_take(struct hist_walk *w, const struct sto_log *own, uint64_t loc, const struct sto_pos *pos)
{
	if (!w->start && !pos_older(pos, w->cursor))
		return 0;
	struct sto_rec_hdr h;
	int rc = own ? sto_log_read_own(own, loc, &h, hist_buf, sizeof(hist_buf))
		     : sto_log_read(loc, &h, hist_buf, sizeof(hist_buf));
	if (rc == -EBADMSG) {
		base_log(BASE_LOG_ERROR, "msg=\"store: damaged receipt skipped, not served\" segment=%s offset=%u",
			 sto_segments_path(STO_LOC_SEG(loc)), STO_LOC_OFF(loc));
		return 0;
	}
	if (rc)
		return rc;
	struct sto_receipt r;
	if (h.type != STO_REC_RECEIPT || sto_receipt_decode(hist_buf + STO_REC_HEADER_BYTES, h.len, &r))
		return 0;
	if (r.app_idx != w->app || r.user_len != w->id_len || memcmp(r.user_id, w->id, w->id_len) != 0)
		return 0; /* another user with the same 64-bit hash */
	r.recorded_unix_ms = h.unix_ms;
	if ((rc = w->emit(w->arg, &r)))
		return rc;
	*w->next = *pos;
	return ++w->emitted == w->limit;
}

int sto_events_history(struct sto_events *e, uint64_t hash, uint16_t app, const char *id, size_t id_len,
		       const struct sto_pos *cursor, bool start, unsigned limit, sto_hist_emit_fn *emit, void *arg,
		       struct sto_pos *next, bool *more)
{
	struct hist_walk w = { hash, app, id, id_len, cursor, start, limit, 0, emit, arg, next };
	int rc = 0;
	*more = false;
	/* 1. this run's receipts of this core not yet hinted: a scan of their hashes, newest first */
	for (uint32_t i = e->ent_count; i-- > 0 && rc == 0;) {
		if (e->hashes[i] != hash)
			continue;
		const struct sto_hist_ent *h = &e->ents[i];
		struct sto_pos p = { e->epoch, (uint16_t)e->core, h->seg_n, STO_LOC_OFF(h->loc) };
		rc = hist_take(&w, e->log, h->loc, &p);
	}
	uint32_t mem_min_n = e->segs[0].n;
	/* 2. hinted segments, newest first */
	pthread_mutex_lock(&sealed_lock);
	for (uint32_t i = 0; i < sealed_count && rc == 0; i++) {
		const struct sealed *s = &sealed[i];
		if (s->epoch == e->epoch && s->core == e->core && s->n >= mem_min_n)
			continue; /* still served from memory */
		if (!start && (s->epoch > cursor->epoch || (s->epoch == cursor->epoch && s->n > cursor->n)))
			continue;
		const uint8_t *ent = s->hint + STO_HINT_HEADER_BYTES;
		uint32_t lo = 0, hi = s->count;
		if (s->fence) { /* narrow to one page: the first fence >= hash, and the page before it */
			uint32_t flo = 0, fhi = fence_count(s->count);
			while (flo < fhi) {
				uint32_t mid = flo + (fhi - flo) / 2;
				if (s->fence[mid] < hash)
					flo = mid + 1;
				else
					fhi = mid;
			}
			lo = flo ? (flo - 1) * FENCE_STEP : 0;
			hi = flo * FENCE_STEP < s->count ? flo * FENCE_STEP : s->count;
		}
		while (lo < hi) { /* first entry with hash >= ours */
			uint32_t mid = lo + (hi - lo) / 2;
			if (get64(ent + (size_t)mid * 16) < hash)
				lo = mid + 1;
			else
				hi = mid;
		}
		uint32_t end = lo;
		while (end < s->count && get64(ent + (size_t)end * 16) == hash)
			end++;
		for (uint32_t k = end; k-- > lo && rc == 0;) {
			uint32_t off = get32(ent + (size_t)k * 16 + 8);
			struct sto_pos p = { s->epoch, (uint16_t)s->core, s->n, off };
			rc = hist_take(&w, NULL, STO_LOC(s->idx, off), &p);
		}
	}
	pthread_mutex_unlock(&sealed_lock);
	if (rc == 1) {
		*more = true;
		rc = 0;
	}
	return rc;
}

/* ---- retention -------------------------------------------------------------------------- */

unsigned sto_events_expire(uint64_t cutoff_unix_ms)
{
	unsigned n = 0;
	pthread_mutex_lock(&sealed_lock);
	for (uint32_t i = 0; i < sealed_count;) {
		struct sealed *s = &sealed[i];
		if (s->max_ms >= cutoff_unix_ms) {
			i++;
			continue;
		}
		base_log(BASE_LOG_INFO, "msg=\"store: receipt segment expired\" segment=%s newest_unix_ms=%llu",
			 sto_segments_path(s->idx), (unsigned long long)s->max_ms);
		sto_segments_drop(s->idx);
		if (s->hint_path)
			unlink(s->hint_path);
		sealed_release(s);
		memmove(s, s + 1, (sealed_count - i - 1) * sizeof(*s));
		sealed_count--;
		n++;
	}
	pthread_mutex_unlock(&sealed_lock);
	__atomic_add_fetch(&expired_total, n, __ATOMIC_RELAXED);
	return n;
}

uint64_t sto_events_expired_total(void)
{
	return __atomic_load_n(&expired_total, __ATOMIC_RELAXED);
}

void sto_events_close_all(void)
{
	pthread_mutex_lock(&sealed_lock);
	for (uint32_t i = 0; i < sealed_count; i++)
		sealed_release(&sealed[i]);
	free(sealed);
	sealed = NULL;
	sealed_count = sealed_cap = 0;
	pthread_mutex_unlock(&sealed_lock);
}

/* ---- recovery ----------------------------------------------------------------------------- */

struct ev_file {
	uint32_t epoch, core, n;
	uint32_t idx;
	bool has_hint;
	char name[40];
};

static int ev_cmp(const void *a, const void *b)
{
	const struct ev_file *x = a, *y = b;
	if (x->epoch != y->epoch)
		return x->epoch < y->epoch ? -1 : 1;
	if (x->core != y->core)
		return x->core < y->core ? -1 : 1;
	return x->n < y->n ? -1 : x->n > y->n;
}

/* Base file: magic "HRLDBAS1", u32 epoch, u32 count, u32 crc32c(entries), u32 0, entries. */
#define BASE_HEADER_BYTES 24u

static int base_load(const char *path, struct sto_counters *t)
{
	const uint8_t *m;
	size_t size;
	void *rel;
	int rc = sto_segment_map(path, false, &m, &size, &rel);
	if (rc)
		return rc;
	uint32_t count = size >= BASE_HEADER_BYTES ? get32(m + 12) : 0;
	if (size < BASE_HEADER_BYTES || memcmp(m, "HRLDBAS1", 8) != 0 ||
	    size != BASE_HEADER_BYTES + (size_t)count * STO_COUNTER_ENTRY_BYTES ||
	    base_crc32c(0, m + BASE_HEADER_BYTES, size - BASE_HEADER_BYTES) != get32(m + 16))
		rc = -EBADMSG;
	if (!rc)
		rc = counters_add_entries(t, m + BASE_HEADER_BYTES, count);
	sto_segment_unmap(m, size, rel);
	return rc;
}

static int base_write(const char *dir, uint32_t epoch, const struct sto_counters *t)
{
	size_t bytes = BASE_HEADER_BYTES + (size_t)t->count * STO_COUNTER_ENTRY_BYTES;
	uint8_t *out = calloc(1, bytes);
	if (!out)
		return -ENOMEM;
	memcpy(out, "HRLDBAS1", 8);
	memcpy(out + 8, &epoch, 4);
	memcpy(out + 12, &t->count, 4);
	uint8_t *p = out + BASE_HEADER_BYTES;
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->slots[i].state) {
			memcpy(p, &t->slots[i], STO_COUNTER_ENTRY_BYTES);
			p += STO_COUNTER_ENTRY_BYTES;
		}
	uint32_t crc = base_crc32c(0, out + BASE_HEADER_BYTES, bytes - BASE_HEADER_BYTES);
	memcpy(out + 16, &crc, 4);
	char path[4200], tmp[4300];
	snprintf(path, sizeof(path), "%s/base-e%08u.ckpt", dir, epoch);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = fd < 0 ? -errno : 0;
	if (!rc && (write(fd, out, bytes) != (ssize_t)bytes || fdatasync(fd)))
		rc = -EIO;
	if (fd >= 0)
		close(fd);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (!rc)
		rc = fsync_path(dir);
	if (rc)
		unlink(tmp);
	free(out);
	return rc;
}

/*
 * Recovery work, one item per segment that must be read: the newest
 * segment of each stream that counts (its checkpoint and receipts, and the
 * segment before it if that checkpoint was torn), and every segment
 * without a good hint. Items run on parallel threads.
 */
struct rec_item {
	size_t i;            /* the segment, in f[] */
	size_t first;        /* its stream's first segment */
	bool count;
	bool build_hint;
	struct sto_counters counts;
	uint64_t receipts;
	int rc;
};

struct rec_job {
	const char *dir;
	struct ev_file *f;
	struct rec_item *items;
	size_t nitems;
	size_t next;         /* atomic */
};

static int scan_counts(struct rec_job *j, size_t i, struct rec_item *it, bool publish, bool *ckpt_ok)
{
	char path[4200];
	struct ev_file *f = j->f;
	struct hint_build b = { .ckpt_wanted = f[i].n > 1, .counters = it->count ? &it->counts : NULL };
	snprintf(path, sizeof(path), "%s/%s", j->dir, f[i].name);
	int rc = segment_index(path, f[i].idx, f[i].epoch, f[i].core, f[i].n, &b, publish, NULL);
	free(b.ents);
	it->receipts += b.receipts;
	*ckpt_ok = f[i].n == 1 || b.ckpt_done;
	if (!rc && it->count && *ckpt_ok)
		counters_merge(&it->counts, &b.ckpt, &rc);
	sto_counters_free(&b.ckpt);
	return rc;
}

static void *rec_worker(void *arg)
{
	struct rec_job *j = arg;
	size_t k;
	while ((k = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->nitems) {
		struct rec_item *it = &j->items[k];
		bool ckpt_ok;
		it->rc = scan_counts(j, it->i, it, it->build_hint, &ckpt_ok);
		/* a torn checkpoint: the segment before it gives its checkpoint and receipts, too */
		for (size_t i = it->i; !it->rc && it->count && !ckpt_ok;) {
			if (i == it->first || j->f[i - 1].n != j->f[i].n - 1) {
				base_log(BASE_LOG_ERROR, "msg=\"store: counter checkpoint missing; counts of earlier segments of this run lost\" segment=%s",
					 j->f[i].name);
				break;
			}
			i--;
			it->rc = scan_counts(j, i, it, false, &ckpt_ok);
		}
	}
	return NULL;
}

static int recover_segments(const char *dir, struct ev_file *f, size_t count, uint32_t best_base,
			    struct sto_counters *base, struct sto_events_recovery *st)
{
	struct rec_item *items = calloc(count + 1, sizeof(*items));
	if (!items)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0, first = 0; i < count; i++) {
		if (i > 0 && (f[i].epoch != f[i - 1].epoch || f[i].core != f[i - 1].core))
			first = i;
		bool last = i + 1 == count || f[i + 1].epoch != f[i].epoch || f[i + 1].core != f[i].core;
		bool count_it = last && f[i].epoch >= best_base;
		if (count_it || !f[i].has_hint)
			items[n++] = (struct rec_item){ .i = i, .first = first, .count = count_it, .build_hint = !f[i].has_hint };
	}
	struct rec_job job = { dir, f, items, n, 0 };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned workers = cpus < 1 ? 1 : cpus > (long)HRL_CORES_MAX ? HRL_CORES_MAX : (unsigned)cpus;
	if (workers > n)
		workers = n ? (unsigned)n : 1;
	pthread_t t[HRL_CORES_MAX];
	unsigned started = 0;
	for (unsigned w = 1; w < workers; w++)
		if (pthread_create(&t[started], NULL, rec_worker, &job) == 0)
			started++;
	rec_worker(&job);
	for (unsigned w = 0; w < started; w++)
		pthread_join(t[w], NULL);
	int rc = 0;
	for (size_t k = 0; k < n; k++) {
		if (!rc)
			rc = items[k].rc;
		if (!rc && items[k].count)
			counters_merge(base, &items[k].counts, &rc);
		st->receipts_replayed += items[k].count ? items[k].receipts : 0;
		st->hints_built += items[k].build_hint;
		sto_counters_free(&items[k].counts);
	}
	free(items);
	return rc;
}

int sto_events_recover(const char *dir, uint32_t epoch, struct sto_counters *base, struct sto_events_recovery *st)
{
	uint64_t t0 = mono_ms();
	memset(st, 0, sizeof(*st));
	memset(base, 0, sizeof(*base));
	run_epoch = epoch;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct ev_file *f = NULL;
	size_t count = 0, cap = 0;
	uint32_t best_base = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) && !rc) {
		struct ev_file x = { 0 };
		int end = 0;
		uint32_t be;
		size_t len = strlen(de->d_name);
		if (sscanf(de->d_name, "base-e%8u.ckpt%n", &be, &end) == 1 && (size_t)end == len) {
			char p[4200];
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			struct sto_counters t = { 0 };
			/*
			 * A base of this very epoch: a start wrote it, then died before its
			 * state log claimed the epoch (no receipt of this epoch exists).
			 */
			if (be <= epoch && be > best_base && base_load(p, &t) == 0)
				best_base = be;
			else if (be <= epoch && be > best_base)
				base_log(BASE_LOG_ERROR, "msg=\"store: counter base damaged; ignored\" file=%s", p);
			sto_counters_free(&t);
			continue;
		}
		if (len != 25 || sscanf(de->d_name, "e%8u-c%3u-%6u.seg%n", &x.epoch, &x.core, &x.n, &end) != 3 || end != 25)
			continue;
		strcpy(x.name, de->d_name);
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			struct ev_file *n = realloc(f, cap * sizeof(*n));
			if (!n) {
				rc = -ENOMEM;
				break;
			}
			f = n;
		}
		f[count++] = x;
	}
	closedir(d);
	if (rc) {
		free(f);
		return rc;
	}
	if (count > 1)
		qsort(f, count, sizeof(*f), ev_cmp);
	/* register every segment and map the good hints (checked in the background) */
	for (size_t i = 0; i < count && !rc; i++) {
		char path[4200], hp[4200];
		snprintf(path, sizeof(path), "%s/%s", dir, f[i].name);
		rc = sto_segments_register(path, &f[i].idx);
		if (rc)
			break;
		hint_path_of(path, hp, sizeof(hp));
		struct sealed s = { .idx = f[i].idx, .epoch = f[i].epoch, .core = f[i].core, .n = f[i].n };
		if (hint_load(hp, &s, false) == 0) {
			if ((rc = sealed_publish(&s)))
				sealed_release(&s);
			f[i].has_hint = !rc;
			if (!rc)
				bg_job(f[i].idx, hint_verify_run);
		}
	}
	st->segments = count;
	st->base_epoch = best_base;
	if (!rc && best_base) {
		char p[4200];
		snprintf(p, sizeof(p), "%s/base-e%08u.ckpt", dir, best_base);
		rc = base_load(p, base);
	}
	/* counts of every stream of the base's epoch and later; hints that are missing */
	if (!rc)
		rc = recover_segments(dir, f, count, best_base, base, st);
	if (!rc)
		rc = base_write(dir, epoch, base);
	/* older bases are covered by the new one */
	d = rc ? NULL : opendir(dir);
	while (d && (de = readdir(d))) {
		uint32_t be;
		int end = 0;
		if (sscanf(de->d_name, "base-e%8u.ckpt%n", &be, &end) == 1 && (size_t)end == strlen(de->d_name) && be < epoch) {
			char p[4200];
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	}
	if (d)
		closedir(d);
	free(f);
	st->ms = mono_ms() - t0;
	(void)now_unix_ms;
	return rc;
}
