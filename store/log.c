/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c - see log.h for the file and record layout and the commit protocol.
 *
 * Buffer invariants (checked with ALWAYS):
 *   buf_seg_off % 4096 == 0
 *   flushed_len <= inflight_len <= buf_len <= HRL_LOG_BUF_BYTES (inflight 0 = none)
 *   every record's padding is written as zeros by append; the rest of the
 *   last block is zeroed when a flush starts (the end marker), so the
 *   buffer is never cleared wholesale
 *   durable_lsn == lsn_base + flushed_len
 */
#include "store/log.h"

#include <dirent.h>
#include <lz4.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
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

#define BLOCK 4096u
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))

struct sto_log_hooks sto_log_hooks;

static int fsync_dir(const char *dir);

static const struct sto_log_hooks *hooks_of(const struct sto_log *l)
{
	return l->cfg->hooks ? l->cfg->hooks : &sto_log_hooks;
}

/*
 * Records' CRC32C starts from a value derived from their segment's identity,
 * so a record left in a recycled file by its earlier use never checks out.
 */
static uint32_t seg_salt(uint32_t epoch, uint32_t core, uint32_t n)
{
	uint32_t id[3] = { epoch, core, n };
	return base_crc32c(0x48524c44u, id, sizeof(id));
}

static int recycle_file(const char *path);
struct seg_entry;
static int lz4_pread(const struct seg_entry *s, uint8_t *out, size_t n, uint64_t off);
static int lz4_load_index(int fd, struct seg_entry *s);


/* ---- segment registry ----------------------------------------------------------- */

struct seg_entry {
	char *path;
	int fd;
	uint32_t epoch, core, n; /* from the file name; immutable once registered */
	uint8_t stream;          /* enum sto_stream, from the directory's name */
	uint32_t salt;           /* of its records' CRCs */
	bool deleted;
	bool lz4;                /* fd is the .seg.lz4 form: read through its block index */
	uint32_t nblocks;
	uint64_t raw_bytes;
	uint64_t *block_off;     /* nblocks + 1 file offsets */
};

static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct seg_entry seg_table[HRL_SEGMENTS_MAX];
static uint32_t seg_count = 1; /* index 0 means "nowhere" */

int sto_segments_register(const char *path, uint32_t *idx)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&seg_lock);
	if (seg_count >= HRL_SEGMENTS_MAX) {
		pthread_mutex_unlock(&seg_lock);
		close(fd);
		return -ENOSPC;
	}
	uint32_t i = seg_count;
	const char *base = strrchr(path, '/');
	struct seg_entry *s = &seg_table[i];
	memset(s, 0, sizeof(*s));
	s->path = strdup(path);
	s->fd = fd;
	if (sscanf(base ? base + 1 : path, "e%8u-c%3u-%6u", &s->epoch, &s->core, &s->n) != 3)
		s->epoch = s->core = s->n = 0;
	s->stream = base && base - path >= 7 && memcmp(base - 7, "/events", 7) == 0 ? STO_STREAM_EVENTS
										     : STO_STREAM_STATE;
	s->salt = seg_salt(s->epoch, s->core, s->n);
	size_t plen = strlen(path);
	if (plen > 4 && strcmp(path + plen - 4, ".lz4") == 0) {
		s->lz4 = lz4_load_index(fd, s) == 0;
		if (!s->lz4)
			base_log(BASE_LOG_ERROR, "msg=\"store: LZ4 segment index damaged\" segment=%s", path);
	}
	uint8_t head[12];
	if ((s->lz4 ? lz4_pread(s, head, sizeof(head), 0) : (pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) ? 0 : -EIO)) == 0 &&
	    memcmp(head, "HRLDSEG1", 8) == 0 && head[8] == 1)
		s->salt = 0; /* version 1: unsalted record CRCs */
	__atomic_store_n(&seg_count, i + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&seg_lock);
	*idx = i;
	return 0;
}

bool sto_segments_obsolete(uint32_t idx, uint32_t cur_epoch, unsigned core, uint32_t before_n)
{
	if (!idx || idx >= __atomic_load_n(&seg_count, __ATOMIC_ACQUIRE))
		return false;
	const struct seg_entry *s = &seg_table[idx];
	if (s->stream != STO_STREAM_STATE)
		return false;
	return s->epoch < cur_epoch || (s->epoch == cur_epoch && s->core == core && s->n < before_n);
}

bool sto_segments_old_epoch_present(uint32_t cur_epoch)
{
	bool found = false;
	pthread_mutex_lock(&seg_lock);
	for (uint32_t i = 1; i < seg_count && !found; i++)
		found = !seg_table[i].deleted && seg_table[i].stream == STO_STREAM_STATE && seg_table[i].epoch < cur_epoch;
	pthread_mutex_unlock(&seg_lock);
	return found;
}

unsigned sto_segments_delete(const char *dir, uint32_t cur_epoch, int core, uint32_t before_n, uint64_t *bytes)
{
	unsigned n = 0;
	pthread_mutex_lock(&seg_lock);
	for (uint32_t i = 1; i < seg_count; i++) {
		struct seg_entry *s = &seg_table[i];
		bool match = core < 0 ? s->epoch < cur_epoch
				      : s->epoch == cur_epoch && s->core == (uint32_t)core && s->n < before_n;
		if (s->deleted || !match || s->stream != STO_STREAM_STATE)
			continue;
		struct stat st;
		if (fstat(s->fd, &st) == 0)
			*bytes += (uint64_t)st.st_blocks * 512u;
		if (recycle_file(s->path) == 0) {
			s->deleted = true; /* the fd stays open; compaction rewrote every live record first */
			n++;
		}
	}
	pthread_mutex_unlock(&seg_lock);
	if (n)
		fsync_dir(dir);
	return n;
}

void sto_segments_usage(enum sto_stream stream, uint32_t *count, uint64_t *bytes)
{
	*count = 0;
	*bytes = 0;
	pthread_mutex_lock(&seg_lock);
	for (uint32_t i = 1; i < seg_count; i++) {
		struct stat st;
		if (seg_table[i].deleted || seg_table[i].stream != stream || fstat(seg_table[i].fd, &st))
			continue;
		(*count)++;
		*bytes += (uint64_t)st.st_blocks * 512u;
	}
	pthread_mutex_unlock(&seg_lock);
}

static int lz4_pread(const struct seg_entry *s, uint8_t *out, size_t n, uint64_t off);
static uint8_t *lz4_read_all(const char *path, size_t *size);

int sto_segments_pread(uint32_t idx, void *buf, size_t n, uint64_t off)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&seg_lock); /* held across the read: a segment may switch to its LZ4 form */
	if (idx && idx < seg_count && seg_table[idx].fd >= 0) {
		const struct seg_entry *s = &seg_table[idx];
		if (s->lz4) {
			rc = lz4_pread(s, buf, n, off);
		} else {
			ssize_t r = pread(s->fd, buf, n, (off_t)off);
			rc = r < 0 ? -errno : (size_t)r == n ? 0 : -EIO;
		}
	}
	pthread_mutex_unlock(&seg_lock);
	return rc;
}

bool sto_segments_ident(uint32_t idx, uint32_t *epoch, uint32_t *core, uint32_t *n)
{
	if (!idx || idx >= __atomic_load_n(&seg_count, __ATOMIC_ACQUIRE))
		return false;
	const struct seg_entry *s = &seg_table[idx]; /* immutable fields */
	*epoch = s->epoch;
	*core = s->core;
	*n = s->n;
	return true;
}

void sto_segments_drop(uint32_t idx)
{
	pthread_mutex_lock(&seg_lock);
	if (idx && idx < seg_count && !seg_table[idx].deleted) {
		struct seg_entry *s = &seg_table[idx];
		if (recycle_file(s->path) == 0) {
			s->deleted = true;
			close(s->fd);
			s->fd = -1;
		}
	}
	pthread_mutex_unlock(&seg_lock);
}

const char *sto_segments_path(uint32_t idx)
{
	pthread_mutex_lock(&seg_lock);
	const char *p = idx && idx < seg_count ? seg_table[idx].path : "?";
	pthread_mutex_unlock(&seg_lock);
	return p;
}

void sto_segments_close_all(void)
{
	pthread_mutex_lock(&seg_lock);
	for (uint32_t i = 1; i < seg_count; i++) {
		if (seg_table[i].fd >= 0)
			close(seg_table[i].fd);
		free(seg_table[i].path);
		free(seg_table[i].block_off);
	}
	seg_count = 1;
	pthread_mutex_unlock(&seg_lock);
}

/* ---- fault injection ---------------------------------------------------------------- */

enum fault_kind { F_WRITE_EIO, F_WRITE_ENOSPC, F_WRITE_SHORT, F_FSYNC_EIO, F_CRASH_DROP, F_CRASH_TORN, F_KINDS };
static const char *const fault_names[F_KINDS] = {
	"write_eio", "write_enospc", "write_short", "fsync_eio", "crash_drop", "crash_torn",
};
static uint64_t fault_at[F_KINDS][8]; /* the n-th operation fails; 0 = unused */
static uint64_t write_count, fsync_count; /* atomic */

int sto_faults_parse(const char *spec)
{
	char buf[512];
	if (!spec || !*spec)
		return 0;
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *at = strchr(tok, '@');
		if (!at)
			return -EINVAL;
		*at = 0;
		int k;
		for (k = 0; k < F_KINDS && strcmp(tok, fault_names[k]) != 0; k++)
			;
		char *end;
		unsigned long long n = strtoull(at + 1, &end, 10);
		if (k == F_KINDS || *end || n == 0)
			return -EINVAL;
		int slot;
		for (slot = 0; slot < 8 && fault_at[k][slot]; slot++)
			;
		if (slot == 8)
			return -EINVAL;
		fault_at[k][slot] = n;
	}
	return 0;
}

static bool fault_hit(enum fault_kind k, uint64_t n)
{
	for (int i = 0; i < 8; i++)
		if (fault_at[k][i] == n)
			return true;
	return false;
}

/* ---- segments -------------------------------------------------------------------- */

static uint64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static int fsync_dir(const char *dir)
{
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return -errno;
	int rc = fsync(d) ? -errno : 0;
	close(d);
	return rc;
}

/* ---- LZ4 form of sealed segments ------------------------------------------------------
 *
 * A sealed segment (never written again) is rewritten by the background
 * thread as <name>.seg.lz4 when that saves at least a tenth, then the .seg
 * is removed. Layout, little-endian:
 *   0   8  magic "HRLDLZ41"
 *   8   8  raw_bytes: bytes of the segment kept (header block + records)
 *   16  4  block bytes (65536; the last block may be shorter)
 *   20  4  nblocks
 *   24  4  crc32c of bytes 0..23 and of the offset table
 *   28  4  0
 *   32  8 x (nblocks + 1)  file offset of each compressed block, then the end
 *   ..     the LZ4 blocks (LZ4_compress_default, one per 64 KiB)
 * Records keep their own CRC32C inside, so the content is checked after
 * decompression as it is for a plain segment. Recovery prefers a .seg over a
 * .seg.lz4 of the same name (a crash between writing one and removing the other).
 */
#define LZ4_BLOCK_BYTES (64u << 10)
#define LZ4_HEADER_BYTES 32u

static int lz4_load_index(int fd, struct seg_entry *s)
{
	uint8_t h[LZ4_HEADER_BYTES];
	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || memcmp(h, "HRLDLZ41", 8) != 0)
		return -EBADMSG;
	uint64_t raw;
	uint32_t block, nb, crc;
	memcpy(&raw, h + 8, 8);
	memcpy(&block, h + 16, 4);
	memcpy(&nb, h + 20, 4);
	memcpy(&crc, h + 24, 4);
	if (block != LZ4_BLOCK_BYTES || nb != (raw + LZ4_BLOCK_BYTES - 1) / LZ4_BLOCK_BYTES || nb > (1u << 20))
		return -EBADMSG;
	uint64_t *offs = malloc((nb + 1) * sizeof(*offs));
	if (!offs)
		return -ENOMEM;
	if (pread(fd, offs, (nb + 1) * sizeof(*offs), LZ4_HEADER_BYTES) != (ssize_t)((nb + 1) * sizeof(*offs)) ||
	    base_crc32c(base_crc32c(0, h, 24), offs, (nb + 1) * sizeof(*offs)) != crc) {
		free(offs);
		return -EBADMSG;
	}
	for (uint32_t i = 0; i < nb; i++)
		if (offs[i + 1] < offs[i] || offs[i + 1] - offs[i] > (uint64_t)LZ4_compressBound(LZ4_BLOCK_BYTES)) {
			free(offs);
			return -EBADMSG;
		}
	free(s->block_off);
	s->block_off = offs;
	s->nblocks = nb;
	s->raw_bytes = raw;
	return 0;
}

/* Decompress block b into out (LZ4_BLOCK_BYTES), reading through in. Raw length or -errno. */
static int lz4_block(const struct seg_entry *s, uint32_t b, uint8_t *out, char *in)
{
	uint64_t len = s->block_off[b + 1] - s->block_off[b];
	if (pread(s->fd, in, len, (off_t)s->block_off[b]) != (ssize_t)len)
		return -EIO;
	uint64_t want = b + 1 < s->nblocks ? LZ4_BLOCK_BYTES : s->raw_bytes - (uint64_t)b * LZ4_BLOCK_BYTES;
	int got = LZ4_decompress_safe(in, (char *)out, (int)len, LZ4_BLOCK_BYTES);
	return got == (int)want ? got : -EBADMSG; /* lz4's 0-or-negative on failure, converted here */
}

/* Rare (undo, recovery): the scratch space is allocated per call. */
static int lz4_pread(const struct seg_entry *s, uint8_t *out, size_t n, uint64_t off)
{
	if (off + n > s->raw_bytes)
		return -EIO;
	uint8_t *blk = malloc(LZ4_BLOCK_BYTES);
	char *in = malloc((size_t)LZ4_compressBound(LZ4_BLOCK_BYTES));
	int rc = blk && in ? 0 : -ENOMEM;
	while (n && !rc) {
		uint32_t b = (uint32_t)(off / LZ4_BLOCK_BYTES);
		rc = lz4_block(s, b, blk, in);
		if (rc < 0)
			break;
		size_t in_blk = off % LZ4_BLOCK_BYTES, take = (size_t)rc - in_blk;
		if (take > n)
			take = n;
		memcpy(out, blk + in_blk, take);
		out += take;
		off += take;
		n -= take;
		rc = 0;
	}
	free(blk);
	free(in);
	return rc;
}

/* The whole raw segment of an .lz4 file, malloc'd. */
static uint8_t *lz4_read_all(const char *path, size_t *size)
{
	struct seg_entry s = { 0 };
	s.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s.fd < 0)
		return NULL;
	uint8_t *raw = NULL;
	if (lz4_load_index(s.fd, &s) == 0 && (raw = malloc(s.raw_bytes ? s.raw_bytes : 1))) {
		if (lz4_pread(&s, raw, s.raw_bytes, 0)) {
			free(raw);
			raw = NULL;
		}
		*size = s.raw_bytes;
	}
	free(s.block_off);
	close(s.fd);
	return raw;
}

/* Write path.lz4 from the first raw bytes of the segment; 0, -EAGAIN if it does not pay. */
static int lz4_write(int src_fd, uint64_t raw, const char *out_path)
{
	uint32_t nb = (uint32_t)((raw + LZ4_BLOCK_BYTES - 1) / LZ4_BLOCK_BYTES);
	uint64_t *offs = calloc(nb + 1, sizeof(*offs));
	uint8_t *in = malloc(LZ4_BLOCK_BYTES);
	char *cbuf = malloc((size_t)LZ4_compressBound(LZ4_BLOCK_BYTES));
	int rc = 0, fd = -1;
	if (!offs || !in || !cbuf) {
		rc = -ENOMEM;
		goto out;
	}
	fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	uint64_t pos = LZ4_HEADER_BYTES + (nb + 1) * sizeof(*offs);
	for (uint32_t b = 0; b < nb; b++) {
		size_t len = b + 1 < nb ? LZ4_BLOCK_BYTES : (size_t)(raw - (uint64_t)b * LZ4_BLOCK_BYTES);
		if (pread(src_fd, in, len, (off_t)b * LZ4_BLOCK_BYTES) != (ssize_t)len) {
			rc = -EIO;
			goto out;
		}
		int c = LZ4_compress_default((const char *)in, cbuf, (int)len, LZ4_compressBound(LZ4_BLOCK_BYTES));
		if (c <= 0 || pwrite(fd, cbuf, (size_t)c, (off_t)pos) != c) {
			rc = -EIO;
			goto out;
		}
		offs[b] = pos;
		pos += (uint64_t)c;
	}
	offs[nb] = pos;
	if (pos * 10 > raw * 9) {
		rc = -EAGAIN; /* saves less than a tenth: keep the plain segment */
		goto out;
	}
	uint8_t h[LZ4_HEADER_BYTES] = { 0 };
	memcpy(h, "HRLDLZ41", 8);
	memcpy(h + 8, &raw, 8);
	uint32_t block = LZ4_BLOCK_BYTES;
	memcpy(h + 16, &block, 4);
	memcpy(h + 20, &nb, 4);
	uint32_t crc = base_crc32c(base_crc32c(0, h, 24), offs, (nb + 1) * sizeof(*offs));
	memcpy(h + 24, &crc, 4);
	if (pwrite(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    pwrite(fd, offs, (nb + 1) * sizeof(*offs), LZ4_HEADER_BYTES) != (ssize_t)((nb + 1) * sizeof(*offs)) ||
	    fdatasync(fd))
		rc = -EIO;
out:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(out_path);
	free(offs);
	free(in);
	free(cbuf);
	return rc;
}

static uint64_t lz4_saved_bytes; /* atomic */

/* Background: compress sealed segment idx (raw bytes used) and switch the registry to it. */
static void lz4_compress_segment(uint32_t idx, uint64_t raw)
{
	char path[4200], out[4300];
	int src;
	pthread_mutex_lock(&seg_lock);
	struct seg_entry *s = &seg_table[idx];
	bool skip = s->deleted || s->lz4;
	snprintf(path, sizeof(path), "%s", s->path);
	src = skip ? -1 : dup(s->fd);
	pthread_mutex_unlock(&seg_lock);
	if (src < 0)
		return;
	snprintf(out, sizeof(out), "%s.lz4", path);
	int rc = lz4_write(src, raw, out);
	close(src);
	if (rc)
		return;
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	fsync_dir(dir);
	int fd = open(out, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	pthread_mutex_lock(&seg_lock);
	struct stat before, after;
	if (s->deleted || fstat(s->fd, &before) || lz4_load_index(fd, s)) {
		pthread_mutex_unlock(&seg_lock);
		close(fd);
		unlink(out);
		return;
	}
	close(s->fd);
	s->fd = fd;
	s->lz4 = true;
	free(s->path);
	s->path = strdup(out);
	unlink(path);
	if (fstat(fd, &after) == 0 && before.st_blocks > after.st_blocks)
		__atomic_add_fetch(&lz4_saved_bytes, (uint64_t)(before.st_blocks - after.st_blocks) * 512u, __ATOMIC_RELAXED);
	uint64_t stored = s->block_off[s->nblocks];
	pthread_mutex_unlock(&seg_lock);
	fsync_dir(dir);
	base_log(BASE_LOG_INFO, "msg=\"store: sealed segment in LZ4 form\" segment=%s raw_bytes=%llu lz4_bytes=%llu",
		 out, (unsigned long long)raw, (unsigned long long)stored);
}

uint64_t sto_segments_lz4_saved(void)
{
	return __atomic_load_n(&lz4_saved_bytes, __ATOMIC_RELAXED);
}

/*
 * Segment files are written with zeros and synced before use: writing into
 * blocks that already exist lets fdatasync skip the file-system metadata an
 * allocating write would need (about 2x the commit latency here, see
 * docs/BENCHMARKS.md). A background thread keeps one such spare file ready
 * per core, so rotating to a new segment is a rename.
 */
#define ZERO_CHUNK (1u << 20)

/*
 * O_DIRECT, or plain buffered I/O on a file system that refuses it (tmpfs):
 * fdatasync still makes every write durable, the page cache just sees it too.
 */
static int open_direct(const char *path, int flags)
{
	static bool warned;
	int fd = open(path, flags | O_DIRECT, 0644);
	if (fd >= 0 || errno != EINVAL)
		return fd;
	if (!__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
		base_log(BASE_LOG_WARN, "msg=\"store: the file system refuses O_DIRECT; using buffered writes + fdatasync\" file=%s", path);
	return open(path, flags, 0644);
}

/*
 * Segments that retention or compaction delete are kept, up to a few per
 * directory, as recycle-<k>.free: the next spare is made from one of them,
 * so only the part it lacks is zero-filled (a growing log otherwise writes
 * every byte twice: zeros, then data). What the old segment held cannot be
 * mistaken for records of the new one: record CRCs are salted per segment.
 */
#define RECYCLE_KEEP 4u
static uint64_t recycle_seq;  /* atomic */
static uint64_t recycled_total; /* atomic: spares made from recycled segments */

uint64_t sto_segments_recycled(void)
{
	return __atomic_load_n(&recycled_total, __ATOMIC_RELAXED);
}

static unsigned recycle_list(const char *dir, char *first, size_t cap)
{
	unsigned n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 13 && strncmp(e->d_name, "recycle-", 8) == 0 && strcmp(e->d_name + len - 5, ".free") == 0) {
			if (!n && first)
				snprintf(first, cap, "%s/%s", dir, e->d_name);
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

static int recycle_file(const char *path)
{
	char dir[4200], to[4300];
	size_t len = strlen(path);
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	if (len > 4 && strcmp(path + len - 4, ".seg") == 0 && slash && recycle_list(dir, NULL, 0) < RECYCLE_KEEP) {
		snprintf(to, sizeof(to), "%s/recycle-%016llx.free", dir,
			 (unsigned long long)(__atomic_add_fetch(&recycle_seq, 1, __ATOMIC_RELAXED) ^ ((uint64_t)time(NULL) << 20)));
		if (rename(path, to) == 0)
			return 0;
	}
	return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
}

static int zero_range(int fd, uint64_t from, uint64_t to);

/* Make path (bytes long, synced) from a recycled segment of its directory. 0 or -errno. */
static int take_recycled(const char *path, uint64_t bytes)
{
	char dir[4200], from[4300];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	if (!recycle_list(dir, from, sizeof(from)) || rename(from, path))
		return -ENOENT;
	int fd = open_direct(path, O_WRONLY | O_CLOEXEC);
	struct stat st;
	int rc = fd < 0 || fstat(fd, &st) ? -errno : 0;
	uint64_t have = rc ? 0 : ALIGN_DOWN((uint64_t)st.st_size, BLOCK);
	if (!rc && (uint64_t)st.st_size > bytes && ftruncate(fd, (off_t)bytes))
		rc = -errno;
	if (!rc && have < bytes)
		rc = zero_range(fd, have, bytes);
	if (!rc && fdatasync(fd))
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(path);
	else
		__atomic_add_fetch(&recycled_total, 1, __ATOMIC_RELAXED);
	return rc;
}

static uint8_t *zeros;
static pthread_mutex_t zlock = PTHREAD_MUTEX_INITIALIZER;

/* Write zeros over [from, to) (block aligned; to rounded up to whole chunks). 0 or -errno. */
static int zero_range(int fd, uint64_t from, uint64_t to)
{
	pthread_mutex_lock(&zlock);
	if (!zeros && (zeros = aligned_alloc(BLOCK, ZERO_CHUNK)))
		memset(zeros, 0, ZERO_CHUNK);
	pthread_mutex_unlock(&zlock);
	if (!zeros)
		return -ENOMEM;
	for (uint64_t off = from; off < to;) {
		size_t n = to - off < ZERO_CHUNK ? (size_t)ALIGN_UP(to - off, BLOCK) : ZERO_CHUNK;
		ssize_t w = pwrite(fd, zeros, n, (off_t)off);
		if (w != (ssize_t)n)
			return w < 0 ? -errno : -EIO;
		off += n;
	}
	return 0;
}

static int zero_file(const char *path, uint64_t bytes)
{
	int fd = open_direct(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = zero_range(fd, 0, bytes);
	if (!rc && fdatasync(fd))
		rc = -errno;
	close(fd);
	if (rc)
		unlink(path);
	return rc;
}

struct spare {
	char path[4200];
	uint64_t bytes;
	int state; /* 0 none, 1 wanted, 2 ready, 3 failed */
};

static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spare_cond = PTHREAD_COND_INITIALIZER;
static struct spare spares[STO_STREAMS][HRL_CORES_MAX];
static bool spare_thread_started;

/* sealed segments waiting for their LZ4 form (guarded by spare_lock) */
#define LZ4_QUEUE_MAX 1024u
static struct {
	uint32_t idx;
	uint64_t raw;
} lz4_queue[LZ4_QUEUE_MAX];
static uint32_t lz4_head, lz4_count;

/* other background jobs (guarded by spare_lock) */
#define BG_QUEUE_MAX 4096u
static struct {
	void (*fn)(void *arg);
	void *arg;
} bg_queue[BG_QUEUE_MAX];
static uint32_t bg_head, bg_count;
static bool bg_running;
static pthread_cond_t bg_idle_cond = PTHREAD_COND_INITIALIZER;

static void *spare_main(void *arg)
{
	pthread_mutex_lock(&spare_lock);
	for (;;) {
		struct spare *want = NULL;
		for (unsigned i = 0; i < STO_STREAMS * HRL_CORES_MAX && !want; i++)
			if (spares[i / HRL_CORES_MAX][i % HRL_CORES_MAX].state == 1)
				want = &spares[i / HRL_CORES_MAX][i % HRL_CORES_MAX];
		if (!want && bg_count) {
			void (*fn)(void *) = bg_queue[bg_head].fn;
			void *job_arg = bg_queue[bg_head].arg;
			bg_head = (bg_head + 1) % BG_QUEUE_MAX;
			bg_count--;
			bg_running = true;
			pthread_mutex_unlock(&spare_lock);
			fn(job_arg);
			pthread_mutex_lock(&spare_lock);
			bg_running = false;
			pthread_cond_broadcast(&bg_idle_cond);
			continue;
		}
		if (!want && lz4_count) { /* spares first: a core may be waiting for one */
			uint32_t idx = lz4_queue[lz4_head].idx;
			uint64_t raw = lz4_queue[lz4_head].raw;
			lz4_head = (lz4_head + 1) % LZ4_QUEUE_MAX;
			lz4_count--;
			pthread_mutex_unlock(&spare_lock);
			lz4_compress_segment(idx, raw);
			pthread_mutex_lock(&spare_lock);
			continue;
		}
		if (!want) {
			pthread_cond_wait(&spare_cond, &spare_lock);
			continue;
		}
		char path[4200];
		uint64_t bytes = want->bytes;
		memcpy(path, want->path, sizeof(path));
		pthread_mutex_unlock(&spare_lock);
		int rc = take_recycled(path, bytes);
		if (rc)
			rc = zero_file(path, bytes);
		pthread_mutex_lock(&spare_lock);
		want->state = rc ? 3 : 2;
	}
	return NULL;
}

static void spare_thread_start(void);

/* Queue a sealed segment for its LZ4 form (dropped if the queue is full). */
static void lz4_request(uint32_t idx, uint64_t raw)
{
	pthread_mutex_lock(&spare_lock);
	if (lz4_count < LZ4_QUEUE_MAX) {
		lz4_queue[(lz4_head + lz4_count) % LZ4_QUEUE_MAX].idx = idx;
		lz4_queue[(lz4_head + lz4_count) % LZ4_QUEUE_MAX].raw = raw;
		lz4_count++;
		spare_thread_start();
		pthread_cond_signal(&spare_cond);
	}
	pthread_mutex_unlock(&spare_lock);
}

int sto_bg_submit(void (*fn)(void *arg), void *arg)
{
	int rc = -EAGAIN;
	pthread_mutex_lock(&spare_lock);
	if (bg_count < BG_QUEUE_MAX) {
		bg_queue[(bg_head + bg_count) % BG_QUEUE_MAX].fn = fn;
		bg_queue[(bg_head + bg_count) % BG_QUEUE_MAX].arg = arg;
		bg_count++;
		spare_thread_start();
		pthread_cond_signal(&spare_cond);
		rc = 0;
	}
	pthread_mutex_unlock(&spare_lock);
	return rc;
}

void sto_bg_drain(void)
{
	pthread_mutex_lock(&spare_lock);
	while (bg_count || bg_running)
		pthread_cond_wait(&bg_idle_cond, &spare_lock);
	pthread_mutex_unlock(&spare_lock);
}

/* With spare_lock held. */
static void spare_thread_start(void)
{
	if (spare_thread_started)
		return;
	pthread_t t;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	spare_thread_started = pthread_create(&t, NULL, spare_main, NULL) == 0;
	if (spare_thread_started)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void spare_request(const struct sto_log *l)
{
	pthread_mutex_lock(&spare_lock);
	struct spare *s = &spares[l->cfg->stream][l->core];
	if (s->state == 0 || s->state == 3) {
		snprintf(s->path, sizeof(s->path), "%s/spare-c%03u.tmp", l->cfg->dir, l->core);
		s->bytes = l->cfg->segment_bytes + HRL_LOG_BUF_BYTES;
		s->state = 1;
		spare_thread_start();
		pthread_cond_signal(&spare_cond);
	}
	pthread_mutex_unlock(&spare_lock);
}

bool sto_log_spare_ready(enum sto_stream stream, unsigned core)
{
	pthread_mutex_lock(&spare_lock);
	bool ready = spares[stream][core].state == 2 || spares[stream][core].state == 3;
	pthread_mutex_unlock(&spare_lock);
	return ready;
}

/* Move the core's ready spare to path. 0, or -EAGAIN if none is ready. */
static int spare_take(const struct sto_log *l, const char *path)
{
	int rc = -EAGAIN;
	pthread_mutex_lock(&spare_lock);
	struct spare *s = &spares[l->cfg->stream][l->core];
	if (s->state == 2 && s->bytes == l->cfg->segment_bytes + HRL_LOG_BUF_BYTES) {
		rc = rename(s->path, path) ? -errno : 0;
		s->state = 0;
	}
	pthread_mutex_unlock(&spare_lock);
	return rc;
}

/* Open the next segment and write its header. The buffer must be all durable. */
static int segment_open(struct sto_log *l)
{
	char path[4200];
	uint8_t *h = l->buf;
	uint32_t n = l->seg_n + 1;
	snprintf(path, sizeof(path), "%s/e%08u-c%03u-%06u.seg", l->cfg->dir, l->cfg->epoch, l->core, n);
	int rc = spare_take(l, path);
	if (rc) { /* no spare ready: zero a file now (a stall, counted) */
		char tmp[4300];
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		rc = zero_file(tmp, l->cfg->segment_bytes + HRL_LOG_BUF_BYTES);
		if (rc == 0 && rename(tmp, path))
			rc = -errno;
		if (rc)
			return rc;
		l->segment_stalls++;
	}
	spare_request(l);
	int fd = open_direct(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = 0;
	uint32_t sealed_idx = l->fd >= 0 ? l->seg_idx : 0;
	uint64_t sealed_raw = l->buf_seg_off + l->buf_len; /* all of it durable */
	/* the old buffer content is durable: start fresh with the header */
	l->lsn_base += l->buf_len;
	memset(l->buf, 0, STO_SEG_HEADER_BYTES);
	l->buf_len = 0;
	l->flushed_len = 0;
	l->inflight_len = 0;
	l->buf_seg_off = 0;
	memcpy(h, "HRLDSEG1", 8);
	put32(h + 8, 2); /* 2: record CRCs start from the segment's salt */
	put32(h + 12, l->cfg->epoch);
	h[16] = (uint8_t)l->core;
	h[17] = (uint8_t)(l->core >> 8);
	h[18] = (uint8_t)l->cfg->cores;
	h[19] = (uint8_t)(l->cfg->cores >> 8);
	put32(h + 20, n);
	uint64_t now = unix_ms();
	l->seg_created_ms = now;
	memcpy(h + 24, &now, 8);
	put32(h + 32, base_crc32c(0, h, 32));
	/* the header goes to disk now, so a new segment is valid from its start */
	if (rc == 0 && (pwrite(fd, h, STO_SEG_HEADER_BYTES, 0) != STO_SEG_HEADER_BYTES || fdatasync(fd)))
		rc = errno ? errno : EIO;
	if (rc == 0)
		rc = -fsync_dir(l->cfg->dir);
	uint32_t idx = 0;
	if (rc == 0)
		rc = -sto_segments_register(path, &idx);
	if (rc) {
		memset(h, 0, STO_SEG_HEADER_BYTES);
		close(fd);
		unlink(path);
		l->failed = true;
		return -rc;
	}
	if (l->fd >= 0) {
		/* sealed: give back the preallocated tail (never grow a file cut shorter already) */
		struct stat st;
		uint64_t keep = ALIGN_UP(sealed_raw, BLOCK);
		if (fstat(l->fd, &st) == 0 && (uint64_t)st.st_size > keep && ftruncate(l->fd, (off_t)keep))
			base_log(BASE_LOG_WARN, "msg=\"store: cannot trim a sealed segment\" err=%d", errno);
		close(l->fd);
	}
	l->fd = fd;
	l->seg_n = n;
	l->seg_idx = idx;
	l->salt = seg_salt(l->cfg->epoch, l->core, n);
	if (sealed_idx && l->cfg->lz4)
		lz4_request(sealed_idx, sealed_raw);
	l->buf_len = STO_SEG_HEADER_BYTES;
	l->flushed_len = STO_SEG_HEADER_BYTES;
	l->durable_lsn = l->lsn_base + l->flushed_len;
	l->failed = false;
	if (n > 1 && hooks_of(l)->opened)
		hooks_of(l)->opened(l);
	return 0;
}

int sto_log_open(struct sto_log *l, const struct sto_log_cfg *cfg, struct iou_core *io, unsigned core)
{
	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->io = io;
	l->core = core;
	l->fd = -1;
	for (unsigned i = 0; i < STO_FLIGHTS_MAX; i++) {
		l->flights[i].write_op.kind = STO_OP_WRITE;
		l->flights[i].fsync_op.kind = STO_OP_FSYNC;
		l->flights[i].log = l;
	}
	l->buf = aligned_alloc(BLOCK, HRL_LOG_BUF_BYTES);
	l->undo = malloc((HRL_LOG_BUF_BYTES / STO_REC_HEADER_BYTES) * sizeof(*l->undo));
	if (!l->buf || !l->undo) {
		free(l->buf);
		free(l->undo);
		return -ENOMEM;
	}
	memset(l->buf, 0, HRL_LOG_BUF_BYTES);
	/* one registered-buffer slot per stream, in a sparse table made by the first log */
	struct iovec iov = { .iov_base = l->buf, .iov_len = HRL_LOG_BUF_BYTES };
	int rr = io_uring_register_buffers_update_tag(&io->ring, cfg->stream, &iov, NULL, 1);
	if (rr < 0 && io_uring_register_buffers_sparse(&io->ring, STO_STREAMS) == 0)
		rr = io_uring_register_buffers_update_tag(&io->ring, cfg->stream, &iov, NULL, 1);
	l->buf_registered = rr >= 0;
	if (mkdir(cfg->dir, 0755) && errno != EEXIST)
		return -errno;
	l->unix_ms_cached = unix_ms();
	return segment_open(l);
}

void sto_log_close(struct sto_log *l)
{
	if (l->fd >= 0 && !l->fl_count && !l->failed && l->buf_len == l->flushed_len) {
		/*
		 * A recycled segment holds old bytes after the last record: end it
		 * with a zero block, so a clean restart finds a clean end (after a
		 * crash they read as the torn tail they are).
		 */
		struct stat st;
		uint64_t at = ALIGN_UP(l->buf_seg_off + l->buf_len, BLOCK);
		if (fstat(l->fd, &st) == 0 && (uint64_t)st.st_size >= at + BLOCK &&
		    (zero_range(l->fd, at, at + BLOCK) || fdatasync(l->fd)))
			base_log(BASE_LOG_WARN, "msg=\"store: cannot end the segment with zeros\" err=%d", errno);
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	free(l->buf);
	free(l->undo);
	l->buf = NULL;
	l->undo = NULL;
}

/* ---- append ---------------------------------------------------------------------- */

static uint32_t rec_total(uint32_t payload)
{
	return (uint32_t)ALIGN_UP(STO_REC_HEADER_BYTES + payload, 8);
}

/* The current segment has covered its time window (time-partitioned streams). */
static bool window_over(const struct sto_log *l)
{
	return l->cfg->window_ms && l->unix_ms_cached >= l->seg_created_ms + l->cfg->window_ms;
}

static void slide(struct sto_log *l)
{
	uint32_t keep = (uint32_t)ALIGN_DOWN(l->flushed_len, BLOCK);
	if (!keep || l->inflight_len)
		return;
	memmove(l->buf, l->buf + keep, l->buf_len - keep);
	l->buf_seg_off += keep;
	l->lsn_base += keep;
	l->buf_len -= keep;
	l->flushed_len -= keep;
}

int sto_log_rotate(struct sto_log *l)
{
	if (l->failed || l->fl_count || l->buf_len != l->flushed_len)
		return -EAGAIN; /* once everything in the segment is durable */
	return segment_open(l);
}

int sto_log_room(struct sto_log *l, uint32_t payload_bytes)
{
	uint32_t need = rec_total(payload_bytes);
	if (need > HRL_RECORD_BYTES_MAX)
		return -EMSGSIZE;
	if (l->failed) {
		if (l->inflight_len || segment_open(l))
			return -EIO;
		base_log(BASE_LOG_WARN, "msg=\"store: new segment after an I/O error\" segment=%s",
			 sto_segments_path(l->seg_idx));
	}
	if (l->undo_count >= HRL_LOG_BUF_BYTES / STO_REC_HEADER_BYTES)
		return -ENOBUFS;
	if ((l->buf_seg_off + l->buf_len + need > l->cfg->segment_bytes || window_over(l)) &&
	    l->buf_seg_off + l->buf_len > STO_SEG_HEADER_BYTES) {
		/* the segment is full: switch once everything in it is durable */
		if (l->inflight_len || l->buf_len != l->flushed_len)
			return -ENOBUFS; /* the next fsync completion switches, then the caller retries */
		int rc = segment_open(l);
		if (rc)
			return rc == -ENOSPC ? -ENOBUFS : -EIO;
	}
	if (l->buf_len + need > HRL_LOG_BUF_BYTES)
		slide(l);
	if (l->buf_len + need > HRL_LOG_BUF_BYTES)
		return -ENOBUFS;
	return 0;
}

uint8_t *sto_log_append(struct sto_log *l, uint8_t type, uint16_t partition, uint64_t seq,
			uint32_t payload_bytes, uint64_t prev_loc, uint64_t *lsn, uint64_t *loc)
{
	uint32_t total = rec_total(payload_bytes);
	ALWAYS(!l->failed && l->buf_len + total <= HRL_LOG_BUF_BYTES);
	uint8_t *p = l->buf + l->buf_len;
	if (total != STO_REC_HEADER_BYTES + payload_bytes) { /* zero the padding: the payload is filled later */
		static const uint64_t zero;
		memcpy(p + total - 8, &zero, 8);
	}
	struct sto_rec_hdr h = {
		.len = payload_bytes,
		.type = type,
		.partition = partition,
		.seq = seq,
		.unix_ms = l->unix_ms_cached, /* read once per loop iteration, not per record */
	};
	memcpy(p, &h, sizeof(h));
	*lsn = l->lsn_base + l->buf_len;
	*loc = STO_LOC(l->seg_idx, l->buf_seg_off + l->buf_len);
	uint32_t u = (l->undo_head + l->undo_count) % (HRL_LOG_BUF_BYTES / STO_REC_HEADER_BYTES);
	l->undo[u].lsn = *lsn;
	l->undo[u].prev_loc = prev_loc;
	l->undo_count++;
	l->buf_len += total;
	l->records++;
	l->bytes += total;
	return p + STO_REC_HEADER_BYTES;
}

/* CRC every record appended since the last flush (their payloads are final now). */
static void seal_records(struct sto_log *l)
{
	uint32_t n = HRL_LOG_BUF_BYTES / STO_REC_HEADER_BYTES;
	for (uint32_t i = l->undo_sealed; i < l->undo_count; i++) {
		struct sto_undo *u = &l->undo[(l->undo_head + i) % n];
		uint32_t off = (uint32_t)(u->lsn - l->lsn_base);
		uint8_t *p = l->buf + off;
		uint32_t len;
		memcpy(&len, p + 4, 4);
		uint32_t crc;
		memcpy(&crc, p, 4);
		if (crc == 0)
			put32(p, base_crc32c(l->salt, p + 4, STO_REC_HEADER_BYTES - 4 + len) | 1u);
	}
	l->undo_sealed = l->undo_count;
}

/*
 * Fill the rest of the last block with a PAD record, so that the next
 * flight starts on a block of its own. false if there is no room.
 */
static bool pad_to_block(struct sto_log *l)
{
	uint32_t gap = (uint32_t)(ALIGN_UP(l->buf_len, BLOCK) - l->buf_len);
	if (gap == 0)
		return true;
	if (gap < STO_REC_HEADER_BYTES)
		gap += BLOCK;
	if (l->buf_len + gap > HRL_LOG_BUF_BYTES)
		return false;
	uint8_t *p = l->buf + l->buf_len;
	struct sto_rec_hdr h = { .len = gap - STO_REC_HEADER_BYTES, .type = STO_REC_PAD, .unix_ms = l->unix_ms_cached };
	memcpy(p, &h, sizeof(h));
	memset(p + STO_REC_HEADER_BYTES, 0, h.len);
	put32(p, base_crc32c(l->salt, p + 4, STO_REC_HEADER_BYTES - 4 + h.len) | 1u);
	l->buf_len += gap;
	l->bytes += gap;
	return true;
}

/* ---- flush ----------------------------------------------------------------------- */

static void submit_flight(struct sto_log *l, struct sto_flight *f)
{
	struct iou_core *io = l->io;
	uint32_t start = (uint32_t)ALIGN_DOWN(f->start, BLOCK) + f->write_total;
	uint32_t end = (uint32_t)ALIGN_UP(f->end, BLOCK);
	uint64_t nw = __atomic_add_fetch(&write_count, 1, __ATOMIC_RELAXED);
	uint64_t off = l->buf_seg_off + start;
	uint32_t len = end - start;

	if (fault_hit(F_CRASH_DROP, nw)) {
		base_log(BASE_LOG_WARN, "msg=\"fault: crash before write\" n=%llu", (unsigned long long)nw);
		_exit(137);
	}
	if (fault_hit(F_CRASH_TORN, nw)) {
		uint32_t half = (uint32_t)ALIGN_UP(len / 2, BLOCK);
		ssize_t w = pwrite(l->fd, l->buf + start, half, (off_t)off);
		(void)w;
		base_log(BASE_LOG_WARN, "msg=\"fault: crash after a torn write\" n=%llu", (unsigned long long)nw);
		_exit(137);
	}
	int inject = fault_hit(F_WRITE_EIO, nw) ? -EIO : fault_hit(F_WRITE_ENOSPC, nw) ? -ENOSPC : 0;
	if (!inject && fault_hit(F_WRITE_SHORT, nw) && len > BLOCK)
		len = (uint32_t)ALIGN_DOWN(len / 2, BLOCK); /* the rest goes in a second write */

	struct io_uring_sqe *sqe = iou_sqe(io);
	if (inject) {
		io_uring_prep_nop(sqe);
		f->write_res = inject;
	} else if (l->buf_registered) {
		io_uring_prep_write_fixed(sqe, l->fd, l->buf + start, len, off, (int)l->cfg->stream);
		f->write_res = 0;
	} else {
		io_uring_prep_write(sqe, l->fd, l->buf + start, len, off);
		f->write_res = 0;
	}
	io_uring_sqe_set_data(sqe, &f->write_op);
	sqe->flags |= IOSQE_IO_LINK;
	sqe = iou_sqe(io);
	io_uring_prep_fsync(sqe, l->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, &f->fsync_op);
}

void sto_log_flush(struct sto_log *l, uint64_t now_ms)
{
	l->unix_ms_cached = unix_ms();
	if (l->failed || l->failing)
		return;
	uint32_t from = l->fl_count ? l->inflight_len : l->flushed_len;
	if (l->buf_len == from)
		return;
	bool always = l->cfg->fsync_mode == STO_FSYNC_ALWAYS;
	if (l->fl_count) {
		/* another flight only for a large group, after a flight that ends on a block */
		if (!always || l->fl_count == STO_FLIGHTS_MAX || l->inflight_len % BLOCK ||
		    l->buf_len - from < STO_PIPELINE_MIN_BYTES)
			return; /* it joins the next flight */
	} else if (!always && now_ms - l->last_sync_ms < l->cfg->fsync_interval_ms) {
		return;
	}
	seal_records(l);
	if (always && l->buf_len - from >= STO_PIPELINE_MIN_BYTES)
		pad_to_block(l); /* the next large group may go while this one is in flight */
	/* zeros after the last record up to the block's end: the end marker */
	memset(l->buf + l->buf_len, 0, ALIGN_UP(l->buf_len, BLOCK) - l->buf_len);
	struct sto_flight *f = &l->flights[(l->fl_head + l->fl_count) % STO_FLIGHTS_MAX];
	f->start = from;
	f->end = l->buf_len;
	f->undo_end = l->undo_count; /* every record appended so far: the head only moves as flights land */
	f->write_total = 0;
	f->write_res = 0;
	f->err = 0;
	f->done = false;
	l->fl_count++;
	l->inflight_len = l->buf_len;
	l->last_sync_ms = now_ms;
	l->flushes++;
	submit_flight(l, f);
}

static void log_fail(struct sto_log *l, int err)
{
	uint32_t n = HRL_LOG_BUF_BYTES / STO_REC_HEADER_BYTES;
	ALWAYS(l->fl_count == 0); /* no write may still read the buffer */
	l->io_errors++;
	l->last_error = err;
	base_log(BASE_LOG_ERROR, "msg=\"store: write failed; unsynced records discarded\" err=%d segment=%s lost_records=%u",
		 err, sto_segments_path(l->seg_idx), l->undo_count);
	/* undo newest first, so each key ends at its last durable state */
	for (uint32_t i = l->undo_count; i-- > 0;) {
		struct sto_undo *u = &l->undo[(l->undo_head + i) % n];
		const uint8_t *p = l->buf + (u->lsn - l->lsn_base);
		struct sto_rec_hdr h;
		memcpy(&h, p, sizeof(h));
		if (hooks_of(l)->undo)
			hooks_of(l)->undo(l, &h, p + STO_REC_HEADER_BYTES, u->prev_loc);
	}
	l->undo_count = 0;
	l->undo_sealed = 0;
	memset(l->buf + l->flushed_len, 0, l->buf_len - l->flushed_len);
	l->buf_len = l->flushed_len;
	l->inflight_len = 0;
	l->failed = true;
	if (hooks_of(l)->failed)
		hooks_of(l)->failed(l, l->durable_lsn, err);
	if (segment_open(l) == 0)
		base_log(BASE_LOG_WARN, "msg=\"store: continuing in a new segment\" segment=%s",
			 sto_segments_path(l->seg_idx));
}

void sto_log_on_write(struct iou_core *io, struct iou_op *op, struct io_uring_cqe *cqe)
{
	struct sto_flight *f = (struct sto_flight *)((char *)op - __builtin_offsetof(struct sto_flight, write_op));
	if (f->write_res == 0) /* not injected */
		f->write_res = cqe->res;
	if (f->write_res > 0)
		f->write_total += (uint32_t)f->write_res;
}

/* Flights come back in any order; durability advances over the oldest ones that are done. */
static void flights_advance(struct sto_log *l)
{
	uint32_t n = HRL_LOG_BUF_BYTES / STO_REC_HEADER_BYTES;
	bool progressed = false;
	while (l->fl_count && l->flights[l->fl_head].done) {
		struct sto_flight *f = &l->flights[l->fl_head];
		if (f->err && !l->failing) {
			l->failing = true;
			l->fail_err = f->err;
		}
		l->fl_head = (l->fl_head + 1) % STO_FLIGHTS_MAX;
		l->fl_count--;
		if (l->failing)
			continue; /* what comes after a failed flight is discarded with it */
		l->flushed_len = f->end;
		l->durable_lsn = l->lsn_base + l->flushed_len;
		/* the flight's records are the oldest undo entries: drop them at once */
		uint32_t done = f->undo_end;
		NEVER(done > l->undo_count);
		l->undo_head = (l->undo_head + done) % n;
		l->undo_count -= done;
		l->undo_sealed = l->undo_sealed > done ? l->undo_sealed - done : 0;
		for (uint32_t k = 0; k < l->fl_count; k++) /* later flights counted from the old head */
			l->flights[(l->fl_head + k) % STO_FLIGHTS_MAX].undo_end -= done;
		progressed = true;
	}
	if (!l->fl_count)
		l->inflight_len = 0;
	if (l->failing) {
		if (!l->fl_count) {
			l->failing = false;
			log_fail(l, l->fail_err);
		}
		return;
	}
	if (!progressed)
		return;
	if (l->flushed_len >= HRL_LOG_SLIDE_BYTES)
		slide(l); /* moves only what is not yet durable, and only with no flight out */
	if (l->buf_len == l->flushed_len && !l->fl_count &&
	    (l->buf_seg_off + l->buf_len >= l->cfg->segment_bytes ||
	     (window_over(l) && l->buf_seg_off + l->buf_len > STO_SEG_HEADER_BYTES))) {
		int rc = segment_open(l); /* before the hook: waiters for room retry in it */
		if (rc) {
			base_log(BASE_LOG_ERROR, "msg=\"store: cannot open the next segment\" err=%d", rc);
			l->failed = true;
		}
	}
	if (hooks_of(l)->durable)
		hooks_of(l)->durable(l, l->durable_lsn);
}

void sto_log_on_fsync(struct iou_core *io, struct iou_op *op, struct io_uring_cqe *cqe)
{
	struct sto_flight *f = (struct sto_flight *)((char *)op - __builtin_offsetof(struct sto_flight, fsync_op));
	struct sto_log *l = f->log;
	uint32_t start = (uint32_t)ALIGN_DOWN(f->start, BLOCK);
	uint32_t end = (uint32_t)ALIGN_UP(f->end, BLOCK);
	uint64_t nf = __atomic_add_fetch(&fsync_count, 1, __ATOMIC_RELAXED);
	int res = cqe->res;

	if (f->write_res < 0) {
		f->err = f->write_res;
	} else {
		if (res == 0 && fault_hit(F_FSYNC_EIO, nf))
			res = -EIO;
		if (start + f->write_total < end && (res == 0 || res == -ECANCELED)) {
			if (f->write_res == 0 || f->write_total % BLOCK || l->failing) {
				f->err = -EIO; /* no progress, or not on a block boundary */
			} else {
				submit_flight(l, f); /* a short write: write the rest, then sync */
				return;
			}
		} else if (res < 0) {
			f->err = res;
		}
	}
	f->done = true;
	flights_advance(l);
}

/* ---- reading --------------------------------------------------------------------- */

static bool rec_valid(const uint8_t *p, size_t avail, struct sto_rec_hdr *h, uint32_t salt)
{
	if (avail < STO_REC_HEADER_BYTES)
		return false;
	memcpy(h, p, sizeof(*h));
	if (h->type == 0 || h->type >= STO_REC_TYPES || h->flags || h->reserved ||
	    h->len > HRL_RECORD_BYTES_MAX || STO_REC_HEADER_BYTES + (size_t)h->len > avail)
		return false;
	return (base_crc32c(salt, p + 4, STO_REC_HEADER_BYTES - 4 + h->len) | 1u) == h->crc;
}

int sto_log_read(uint64_t loc, struct sto_rec_hdr *h, uint8_t *buf, size_t cap)
{
	int rc = sto_segments_pread(STO_LOC_SEG(loc), buf, STO_REC_HEADER_BYTES, STO_LOC_OFF(loc));
	if (rc)
		return rc;
	uint32_t len;
	memcpy(&len, buf + 4, 4);
	if (len > cap - STO_REC_HEADER_BYTES)
		return -EBADMSG;
	rc = sto_segments_pread(STO_LOC_SEG(loc), buf, STO_REC_HEADER_BYTES + len, STO_LOC_OFF(loc));
	if (rc)
		return rc;
	uint32_t idx = STO_LOC_SEG(loc);
	if (!idx || idx >= __atomic_load_n(&seg_count, __ATOMIC_ACQUIRE))
		return -ENOENT;
	return rec_valid(buf, STO_REC_HEADER_BYTES + len, h, seg_table[idx].salt) ? 0 : -EBADMSG;
}

int sto_log_read_own(const struct sto_log *l, uint64_t loc, struct sto_rec_hdr *h, uint8_t *buf, size_t cap)
{
	uint64_t off = STO_LOC_OFF(loc);
	if (STO_LOC_SEG(loc) != l->seg_idx || off < l->buf_seg_off)
		return sto_log_read(loc, h, buf, cap);
	/* still in the write buffer: our own memory, its CRC may not be set yet */
	uint64_t at = off - l->buf_seg_off;
	if (at + STO_REC_HEADER_BYTES > l->buf_len)
		return -ENOENT;
	memcpy(h, l->buf + at, sizeof(*h));
	if (h->len > cap - STO_REC_HEADER_BYTES || at + STO_REC_HEADER_BYTES + h->len > l->buf_len)
		return -EBADMSG;
	memcpy(buf, l->buf + at, STO_REC_HEADER_BYTES + h->len);
	return 0;
}

int sto_segment_map(const char *path, bool lz4, const uint8_t **m, size_t *size, void **release)
{
	*m = NULL;
	*size = 0;
	*release = NULL;
	if (lz4) {
		uint8_t *raw = lz4_read_all(path, size);
		if (!raw)
			return -EBADMSG;
		*m = raw;
		*release = raw;
		return 0;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb)) {
		int rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (sb.st_size > 0) {
		void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			int rc = -errno;
			close(fd);
			return rc;
		}
		madvise(p, (size_t)sb.st_size, MADV_SEQUENTIAL);
		*m = p;
		*size = (size_t)sb.st_size;
	}
	close(fd);
	return 0;
}

void sto_segment_unmap(const uint8_t *m, size_t size, void *release)
{
	if (release)
		free(release);
	else if (m && size)
		munmap((void *)m, size);
}

struct seg_name {
	uint32_t epoch, core, n;
	bool lz4;
	char name[64];
};

static int seg_cmp(const void *a, const void *b)
{
	const struct seg_name *x = a, *y = b;
	if (x->epoch != y->epoch)
		return x->epoch < y->epoch ? -1 : 1;
	if (x->core != y->core)
		return x->core < y->core ? -1 : 1;
	return x->n < y->n ? -1 : x->n > y->n;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

size_t sto_segment_scan(const char *path, const uint8_t *m, size_t size, uint32_t idx, sto_apply_fn *apply,
			void *arg, struct sto_scan_stats *st, unsigned worker, bool report)
{
	uint32_t crc, epoch = 0, n = 0;
	uint16_t core = 0;
	size_t used = STO_SEG_HEADER_BYTES;
	if (size < STO_SEG_HEADER_BYTES || memcmp(m, "HRLDSEG1", 8) != 0 ||
	    (memcpy(&crc, m + 32, 4), crc != base_crc32c(0, m, 32))) {
		if (report) {
			base_log(BASE_LOG_ERROR, "msg=\"store: segment header damaged; segment skipped\" segment=%s", path);
			st->corrupt++;
		}
		return 0;
	}
	memcpy(&epoch, m + 12, 4);
	memcpy(&core, m + 16, 2);
	memcpy(&n, m + 20, 4);
	uint32_t salt = m[8] == 1 ? 0 : seg_salt(epoch, core, n); /* version 1: unsalted */
	size_t off = STO_SEG_HEADER_BYTES;
	struct sto_rec_hdr h;
	while (off + STO_REC_HEADER_BYTES <= size) {
		if (all_zero(m + off, STO_REC_HEADER_BYTES))
			break; /* end of the written part */
		if (rec_valid(m + off, size - off, &h, salt)) {
			if (h.type != STO_REC_PAD)
				apply(arg, worker, &h, m + off + STO_REC_HEADER_BYTES, STO_LOC(idx, off));
			if (report) {
				st->records += h.type != STO_REC_PAD;
				st->bytes += ALIGN_UP(STO_REC_HEADER_BYTES + h.len, 8);
			}
			off += ALIGN_UP(STO_REC_HEADER_BYTES + h.len, 8);
			used = off;
			continue;
		}
		/* not a valid record: torn tail, or corruption with valid records after it */
		size_t next = off + 8;
		while (next + STO_REC_HEADER_BYTES <= size && !rec_valid(m + next, size - next, &h, salt))
			next += 8;
		if (next + STO_REC_HEADER_BYTES > size) {
			if (report) {
				base_log(BASE_LOG_WARN, "msg=\"store: torn tail ignored\" segment=%s offset=%zu", path, off);
				st->torn_tails++;
			}
			break;
		}
		if (report) {
			base_log(BASE_LOG_ERROR, "msg=\"store: corrupt record skipped, not served\" segment=%s offset=%zu bytes=%zu",
				 path, off, next - off);
			st->corrupt++;
		}
		off = next;
	}
	return used;
}

struct scan_job {
	struct seg_name *names;
	uint32_t *idx;
	size_t *used;
	size_t count;
	const char *dir;
	sto_apply_fn *apply;
	void *arg;
	struct sto_scan_stats *st;
	unsigned worker;
	int rc;
};

static void *scan_worker(void *p)
{
	struct scan_job *j = p;
	for (size_t i = 0; i < j->count && !j->rc; i++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", j->dir, j->names[i].name);
		if (j->names[i].lz4) {
			size_t raw_size = 0;
			uint8_t *raw = lz4_read_all(path, &raw_size);
			if (!raw) {
				if (j->worker == 0) {
					base_log(BASE_LOG_ERROR, "msg=\"store: LZ4 segment damaged; segment skipped\" segment=%s", path);
					j->st->corrupt++;
				}
				continue;
			}
			sto_segment_scan(path, raw, raw_size, j->idx[i], j->apply, j->arg, j->st, j->worker, j->worker == 0);
			free(raw);
			continue;
		}
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat sb;
		if (fd < 0 || fstat(fd, &sb)) {
			j->rc = -errno;
			if (fd >= 0)
				close(fd);
			break;
		}
		if (sb.st_size > 0) {
			void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
			if (m == MAP_FAILED) {
				j->rc = -errno;
				close(fd);
				break;
			}
			madvise(m, (size_t)sb.st_size, MADV_SEQUENTIAL);
			size_t used = sto_segment_scan(path, m, (size_t)sb.st_size, j->idx[i], j->apply, j->arg, j->st,
						       j->worker, j->worker == 0);
			if (j->worker == 0)
				j->used[i] = used;
			munmap(m, (size_t)sb.st_size);
		}
		close(fd);
	}
	return NULL;
}

uint32_t sto_log_max_epoch(const char *dir)
{
	uint32_t max = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		uint32_t epoch, core, n;
		int end = 0;
		if (sscanf(e->d_name, "e%8u-c%3u-%6u.seg%n", &epoch, &core, &n, &end) == 3 && end == 25 && epoch > max)
			max = epoch;
	}
	if (d)
		closedir(d);
	return max;
}

int sto_log_scan(const char *dir, unsigned workers, sto_apply_fn *apply, void *arg, struct sto_scan_stats *st)
{
	memset(st, 0, sizeof(*st));
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct seg_name *names = NULL;
	size_t count = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct seg_name s;
		int end = 0;
		size_t len = strlen(e->d_name);
		/* exactly eNNNNNNNN-cNNN-NNNNNN.seg[.lz4]: not a .tmp being zeroed, not a spare */
		if ((len != 25 && len != 29) ||
		    sscanf(e->d_name, "e%8u-c%3u-%6u.seg%n", &s.epoch, &s.core, &s.n, &end) != 3 || end != 25 ||
		    (len == 29 && strcmp(e->d_name + 25, ".lz4") != 0))
			continue;
		s.lz4 = len == 29;
		strcpy(s.name, e->d_name);
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			struct seg_name *nn = realloc(names, cap * sizeof(*nn));
			if (!nn) {
				free(names);
				closedir(d);
				return -ENOMEM;
			}
			names = nn;
		}
		names[count++] = s;
	}
	closedir(d);
	if (count > 1)
		qsort(names, count, sizeof(*names), seg_cmp);
	/* a .seg and its .seg.lz4 both: the crash came before the .seg was removed; keep the .seg */
	size_t kept = 0;
	for (size_t i = 0; i < count; i++) {
		if (names[i].lz4 && kept && !names[kept - 1].lz4 && names[kept - 1].epoch == names[i].epoch &&
		    names[kept - 1].core == names[i].core && names[kept - 1].n == names[i].n) {
			char path[4200];
			snprintf(path, sizeof(path), "%s/%s", dir, names[i].name);
			unlink(path);
			continue;
		}
		names[kept++] = names[i];
	}
	count = kept;
	uint32_t *idx = calloc(count + 1, sizeof(*idx));
	size_t *used = calloc(count + 1, sizeof(*used));
	int rc = idx && used ? 0 : -ENOMEM;
	for (size_t i = 0; i < count && !rc; i++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i].name);
		if (names[i].epoch > st->max_epoch)
			st->max_epoch = names[i].epoch;
		rc = sto_segments_register(path, &idx[i]);
	}
	/*
	 * Every worker reads every segment in order and applies the records
	 * apply() says are its own (by partition): the expensive part, building
	 * the tables, runs in parallel; only worker 0 reports and counts.
	 */
	struct scan_job jobs[HRL_CORES_MAX];
	pthread_t threads[HRL_CORES_MAX];
	if (workers < 1)
		workers = 1;
	if (workers > HRL_CORES_MAX)
		workers = HRL_CORES_MAX;
	unsigned started = 0;
	for (unsigned w = 0; w < workers && !rc; w++) {
		jobs[w] = (struct scan_job){ names, idx, used, count, dir, apply, arg, st, w, 0 };
		if (w > 0) {
			if (pthread_create(&threads[w], NULL, scan_worker, &jobs[w])) {
				rc = -EAGAIN;
				break;
			}
			started = w;
		}
	}
	if (!rc)
		scan_worker(&jobs[0]);
	for (unsigned w = 1; w <= started; w++) {
		pthread_join(threads[w], NULL);
		if (!rc)
			rc = jobs[w].rc;
	}
	if (!rc)
		rc = jobs[0].rc;
	st->segments = rc ? 0 : count;
	/* old segments are never written again: give back their preallocated tails */
	for (size_t i = 0; i < count && !rc; i++) {
		char path[4200];
		struct stat sb;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i].name);
		uint64_t keep = ALIGN_UP(used[i], BLOCK);
		if (!names[i].lz4 && used[i] && stat(path, &sb) == 0 && keep < (uint64_t)sb.st_size && truncate(path, (off_t)keep))
			base_log(BASE_LOG_WARN, "msg=\"store: cannot trim segment\" segment=%s err=%d", path, errno);
	}
	free(idx);
	free(used);
	free(names);
	return rc;
}
