/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_peers.c - durable 64-byte receipt appends: embedded stores and the
 * machine's limit, measured the same way.
 *
 *   store_peers --engine rocksdb|lmdb|sqlite|raw --dir DIR --records N
 *               --batch B [--record-bytes 64] [--seconds S] [--cpu K]
 *               [--inflight K] [--tail rewrite|pad] [--prealloc zero|falloc|none]
 *               [--ring-mib M] [--submit ring|sync]
 *
 * One thread appends N receipts, B per durability point (one group commit),
 * and stops early at the first batch boundary after --seconds if given. A
 * batch's records all exist in memory before the engine is asked to make
 * them durable, as they would in a server that gathered them from clients.
 *
 * Receipt, little-endian, --record-bytes long (64 by default, at least 64):
 *
 *   offset size field
 *        0    8 message id           (sequence number + 1)
 *        8    8 user hash            (splitmix64 of the sequence)
 *       16    8 time, ns since epoch (one clock read per batch, + index)
 *       24    2 app
 *       26    1 channel              (sms, push, email, ...)
 *       27    1 state                (accepted, sent, delivered, failed, ...)
 *       28    1 vendor
 *       29    1 reason length        (bytes used of the reason field)
 *       30  n-34 reason               (text, zero padded; 30 bytes at n = 64)
 *      n-4    4 CRC32C of bytes [0, n-4)
 *
 * Engines. Each batch is durable on disk when the engine's call returns,
 * with each engine's default way of getting there:
 *
 *   rocksdb  rocksdb_write() of a write batch of B puts, WriteOptions
 *            sync = 1, WAL on; Options default except create_if_missing.
 *            Key: the sequence as 8 bytes big-endian; value: the receipt.
 *   lmdb     one write transaction of B mdb_put() per batch; environment
 *            flags 0 (no MDB_NOSYNC, MDB_NOMETASYNC, MDB_WRITEMAP), so a
 *            commit syncs the data pages, then the meta page. Same key/value.
 *   sqlite   journal_mode=WAL, synchronous=FULL, BEGIN; B prepared INSERTs
 *            into r(k INTEGER PRIMARY KEY, v BLOB); COMMIT. k = sequence.
 *   raw      what the disk gives for the same durability, through io_uring
 *            (liburing): records packed back to back into 4 KiB blocks of a
 *            log file opened O_DIRECT; a commit is one IORING_OP_WRITE_FIXED
 *            of the blocks it touches, linked (IOSQE_IO_LINK) to an
 *            IORING_OP_FSYNC with IORING_FSYNC_DATASYNC. Buffers and the file
 *            are registered. The partial last block is written again, with
 *            more records, by the next commit, as a write-ahead log does
 *            (--tail rewrite); --tail pad starts every commit on a fresh block
 *            instead and leaves the rest of the last block unused.
 *            --inflight K keeps up to K commits in flight: the next batch is
 *            filled and submitted while earlier ones wait for their fsync,
 *            and commits are acknowledged in order. Two writes of the same
 *            block are never in flight together: with --tail rewrite a commit
 *            that starts in the block where the previous one ended waits for
 *            that one first (so --inflight only helps once a batch fills whole
 *            blocks, or with --tail pad).
 *            The log file is a ring of --ring-mib MiB (64), written and
 *            fdatasync'ed with zeros before the clock starts (--prealloc zero),
 *            so appends are overwrites of allocated blocks and fdatasync has
 *            no metadata to write: the lower bound of any log. --prealloc
 *            falloc (unwritten extents) and none (file grows) show what
 *            metadata costs. --submit sync does the same commits with
 *            pwrite() and fdatasync() instead of the ring (one in flight), to
 *            show what the ring itself adds.
 *
 * Each engine works in DIR/<engine> (a directory for rocksdb and lmdb, a file
 * for sqlite and raw), which must not exist yet; DIR is made if missing.
 *
 * Output, one line on stdout (the first fields are the same for every
 * program that reports store_append):
 *
 *   name=store_append engine=raw batch=B records=N records_per_sec=...
 *   commits_per_sec=... p50_commit_us=... p99_commit_us=... bytes_written=...
 *   record_bytes=64 inflight=1 tail=rewrite prealloc=zero submit=ring
 *   seconds=... mean_commit_us=... p10_commit_us=... p90_commit_us=...
 *   max_commit_us=... payload_bytes=... write_amp=... cpu_util=...
 *   cpu_us_per_commit=...
 *
 * Commit latency runs from the first record of a batch to the moment the
 * batch is durable and every earlier batch is too. Percentiles come from a
 * log-bucketed histogram (64 linear buckets per power of two, error < 1.6 %)
 * and are the upper edge of their bucket. bytes_written is the process's
 * write_bytes from /proc/self/io over the run (all threads, including
 * RocksDB's background threads and io_uring's workers): bytes sent towards
 * the disk, including rewrites, pages, indexes and compaction. cpu_util is
 * user + system time of the whole process over wall time.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
#include <lmdb.h>
#include <rocksdb/c.h>
#include <sqlite3.h>

#include "base/assert.h"
#include "base/crc32c.h"

/* ---- limits of the tool ------------------------------------------------------ */
#define SP_RECORD_BYTES_DEFAULT   64u
#define SP_RECORD_BYTES_MIN       64u
#define SP_RECORD_BYTES_MAX       4096u
#define SP_BATCH_RECORDS_MAX      65536u
#define SP_RECORDS_MAX            (1ull << 32)
#define SP_INFLIGHT_MAX           16u
#define SP_BLOCK_BYTES            4096u
#define SP_COMMIT_BYTES_MAX       (16u << 20)           /* one raw write */
#define SP_RING_MIB_DEFAULT       64u
#define SP_RING_MIB_MAX           (64u << 10)
#define SP_ZERO_CHUNK_BYTES       (1u << 20)
#define SP_SECONDS_MAX            3600u
#define SP_PATH_BYTES_MAX         4096u
#define SP_LMDB_MAP_BYTES_MIN     (1ull << 30)
#define SP_LMDB_MAP_BYTES_MAX     (1ull << 40)
#define SP_LMDB_BYTES_PER_RECORD_SLACK 4u              /* half-full pages, branches */
#define SP_HIST_SUB_BITS          6u
#define SP_HIST_SUB               (1u << SP_HIST_SUB_BITS)
#define SP_HIST_BUCKETS           ((64u - SP_HIST_SUB_BITS + 1u) * SP_HIST_SUB)

/* ---- receipt layout ------------------------------------------------------------ */
#define SP_OFF_MSG_ID       0u
#define SP_OFF_USER_HASH    8u
#define SP_OFF_TIME_NS      16u
#define SP_OFF_APP          24u
#define SP_OFF_CHANNEL      26u
#define SP_OFF_STATE        27u
#define SP_OFF_VENDOR       28u
#define SP_OFF_REASON_LEN   29u
#define SP_OFF_REASON       30u
#define SP_CRC_BYTES        4u

_Static_assert(SP_OFF_USER_HASH == SP_OFF_MSG_ID + 8u, "msg id is a u64");
_Static_assert(SP_OFF_TIME_NS == SP_OFF_USER_HASH + 8u, "user hash is a u64");
_Static_assert(SP_OFF_APP == SP_OFF_TIME_NS + 8u, "time is a u64");
_Static_assert(SP_OFF_CHANNEL == SP_OFF_APP + 2u, "app is a u16");
_Static_assert(SP_OFF_REASON == SP_OFF_REASON_LEN + 1u, "reason follows its length");
_Static_assert(SP_RECORD_BYTES_MIN - SP_CRC_BYTES - SP_OFF_REASON == 30u, "30 reason bytes at 64");
_Static_assert(SP_RECORD_BYTES_MAX - SP_CRC_BYTES - SP_OFF_REASON <= 0xffffu, "reason fits");
_Static_assert(SP_RECORD_BYTES_MAX <= SP_BLOCK_BYTES, "a record fits a block");
_Static_assert((SP_BLOCK_BYTES & (SP_BLOCK_BYTES - 1u)) == 0, "block size: power of two");
_Static_assert((uint64_t)SP_BATCH_RECORDS_MAX * SP_RECORD_BYTES_MIN + SP_BLOCK_BYTES <= SP_COMMIT_BYTES_MAX,
	       "the largest batch of the smallest records fits one raw write");
_Static_assert(SP_COMMIT_BYTES_MAX % SP_BLOCK_BYTES == 0, "commit room in whole blocks");
_Static_assert(SP_ZERO_CHUNK_BYTES % SP_BLOCK_BYTES == 0, "zero chunks in whole blocks");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "receipts are written in host order");

static const char *const sp_reasons[] = {
	"", "delivered", "accepted by vendor", "rate limited, retry",
	"token unregistered", "invalid address", "quiet hours", "user opted out",
};
#define SP_REASONS (sizeof sp_reasons / sizeof sp_reasons[0])

enum sp_tail { SP_TAIL_REWRITE, SP_TAIL_PAD };
enum sp_prealloc { SP_PREALLOC_ZERO, SP_PREALLOC_FALLOC, SP_PREALLOC_NONE };
enum sp_submit { SP_SUBMIT_RING, SP_SUBMIT_SYNC };
static const char *const sp_tail_names[] = { [SP_TAIL_REWRITE] = "rewrite", [SP_TAIL_PAD] = "pad" };
static const char *const sp_submit_names[] = { [SP_SUBMIT_RING] = "ring", [SP_SUBMIT_SYNC] = "sync" };
static const char *const sp_prealloc_names[] = {
	[SP_PREALLOC_ZERO] = "zero", [SP_PREALLOC_FALLOC] = "falloc", [SP_PREALLOC_NONE] = "none",
};

struct sp_hist {
	uint64_t count;
	uint64_t max_ns;
	uint64_t sum_ns;
	uint64_t buckets[SP_HIST_BUCKETS];
};

struct sp_raw;

struct sp_run {
	/* settings */
	const char *engine_name;
	const char *dir;
	uint64_t records;
	uint32_t batch;
	uint32_t record_bytes;
	uint32_t inflight;
	uint32_t seconds;
	int cpu;
	enum sp_tail tail;
	enum sp_prealloc prealloc;
	enum sp_submit submit;
	uint64_t ring_bytes;
	char path[SP_PATH_BYTES_MAX];

	/* progress */
	uint64_t seq_next;          /* next record to make */
	uint64_t commits;           /* acknowledged */
	struct sp_hist hist;
	uint8_t *scratch;           /* one record, for engines that copy */

	/* engine state */
	rocksdb_t *rdb;
	rocksdb_writeoptions_t *rdb_wopts;
	rocksdb_writebatch_t *rdb_batch;
	MDB_env *mdb_env;
	MDB_dbi mdb_dbi;
	sqlite3 *sql;
	sqlite3_stmt *sql_insert, *sql_begin, *sql_commit;
	struct sp_raw *raw;
};

/* ---- time, histogram, process counters --------------------------------------------- */
static uint64_t sp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t sp_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned sp_hist_index(uint64_t v)
{
	if (v < SP_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - SP_HIST_SUB_BITS;
	return (shift + 1u) * SP_HIST_SUB + (unsigned)((v >> shift) - SP_HIST_SUB);
}

/* The largest value that falls into bucket i. */
static uint64_t sp_hist_bucket_high(unsigned i)
{
	if (i < 2u * SP_HIST_SUB)
		return i;
	unsigned shift = i / SP_HIST_SUB - 1u;
	uint64_t low = (uint64_t)(SP_HIST_SUB + i % SP_HIST_SUB) << shift;
	return low + ((1ull << shift) - 1u);
}

static void sp_hist_record(struct sp_hist *h, uint64_t v)
{
	unsigned i = sp_hist_index(v);
	ALWAYS(i < SP_HIST_BUCKETS);
	h->buckets[i]++;
	h->count++;
	h->sum_ns += v;
	if (v > h->max_ns)
		h->max_ns = v;
}

static uint64_t sp_hist_percentile(const struct sp_hist *h, double pct)
{
	if (h->count == 0)
		return 0;
	uint64_t rank = (uint64_t)(pct / 100.0 * (double)h->count + 0.5);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < SP_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t v = sp_hist_bucket_high(i);
			return v < h->max_ns ? v : h->max_ns;
		}
	}
	return h->max_ns;
}

/* write_bytes of this process (all threads) from /proc/self/io; 0 if unreadable. */
static uint64_t sp_proc_write_bytes(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	if (!f)
		return 0;
	char line[128];
	uint64_t v = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long long x;
		if (sscanf(line, "write_bytes: %llu", &x) == 1) {
			v = x;
			break;
		}
	}
	fclose(f);
	return v;
}

static uint64_t sp_cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/* ---- receipts ------------------------------------------------------------------ */
static uint64_t sp_splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Write receipt number seq, made at time_ns, into dst (record_bytes long). */
static void sp_receipt_fill(uint8_t *dst, uint32_t record_bytes, uint64_t seq, uint64_t time_ns)
{
	uint64_t msg_id = seq + 1u, user_hash = sp_splitmix64(seq);
	uint16_t app = (uint16_t)(user_hash >> 48) % 1024u;
	const char *reason = sp_reasons[seq % SP_REASONS];
	size_t reason_len = strlen(reason);
	uint32_t reason_room = record_bytes - SP_CRC_BYTES - SP_OFF_REASON;

	ALWAYS(reason_len <= reason_room && reason_len <= 0xffu);
	memcpy(dst + SP_OFF_MSG_ID, &msg_id, 8);
	memcpy(dst + SP_OFF_USER_HASH, &user_hash, 8);
	memcpy(dst + SP_OFF_TIME_NS, &time_ns, 8);
	memcpy(dst + SP_OFF_APP, &app, 2);
	dst[SP_OFF_CHANNEL] = (uint8_t)(seq % 5u);
	dst[SP_OFF_STATE] = (uint8_t)(seq % SP_REASONS);
	dst[SP_OFF_VENDOR] = (uint8_t)(user_hash % 7u);
	dst[SP_OFF_REASON_LEN] = (uint8_t)reason_len;
	memcpy(dst + SP_OFF_REASON, reason, reason_len);
	memset(dst + SP_OFF_REASON + reason_len, 0, reason_room - reason_len);
	uint32_t crc = base_crc32c(0, dst, record_bytes - SP_CRC_BYTES);
	memcpy(dst + record_bytes - SP_CRC_BYTES, &crc, SP_CRC_BYTES);
}

static void sp_key_be64(uint8_t key[8], uint64_t seq)
{
	for (int i = 7; i >= 0; i--) {
		key[i] = (uint8_t)seq;
		seq >>= 8;
	}
}

/* A batch is durable: count it, record its latency from t_start_ns. */
static void sp_ack(struct sp_run *r, uint64_t t_start_ns)
{
	r->commits++;
	sp_hist_record(&r->hist, sp_now_ns() - t_start_ns);
}

/* ---- rocksdb -------------------------------------------------------------------- */
static int sp_rocksdb_err(const char *what, char *err)
{
	fprintf(stderr, "store_peers: rocksdb %s: %s\n", what, err ? err : "?");
	rocksdb_free(err);
	return -EIO;
}

static int sp_rocksdb_open(struct sp_run *r)
{
	char *err = NULL;
	rocksdb_options_t *opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(opts, 1);
	rocksdb_options_set_error_if_exists(opts, 1);
	r->rdb = rocksdb_open(opts, r->path, &err);
	rocksdb_options_destroy(opts);
	if (err)
		return sp_rocksdb_err("open", err);
	r->rdb_wopts = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(r->rdb_wopts, 1);
	rocksdb_writeoptions_disable_WAL(r->rdb_wopts, 0);
	r->rdb_batch = rocksdb_writebatch_create();
	return 0;
}

static int sp_rocksdb_batch(struct sp_run *r, uint32_t n, uint64_t t_start_ns, uint64_t time_ns)
{
	char *err = NULL;
	uint8_t key[8];

	rocksdb_writebatch_clear(r->rdb_batch);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t seq = r->seq_next++;
		sp_receipt_fill(r->scratch, r->record_bytes, seq, time_ns + i);
		sp_key_be64(key, seq);
		rocksdb_writebatch_put(r->rdb_batch, (const char *)key, sizeof key, (const char *)r->scratch,
				       r->record_bytes);
	}
	rocksdb_write(r->rdb, r->rdb_wopts, r->rdb_batch, &err);
	if (err)
		return sp_rocksdb_err("write", err);
	sp_ack(r, t_start_ns);
	return 0;
}

static int sp_rocksdb_finish(struct sp_run *r)
{
	return 0;
}

static void sp_rocksdb_close(struct sp_run *r)
{
	if (r->rdb_batch)
		rocksdb_writebatch_destroy(r->rdb_batch);
	if (r->rdb_wopts)
		rocksdb_writeoptions_destroy(r->rdb_wopts);
	if (r->rdb)
		rocksdb_close(r->rdb);
}

/* ---- lmdb ----------------------------------------------------------------------- */
/* LMDB returns positive errno values and its own negative MDB_ codes. */
static int sp_mdb_err(const char *what, int rc)
{
	fprintf(stderr, "store_peers: lmdb %s: %s\n", what, mdb_strerror(rc));
	return rc > 0 ? -rc : -EIO;
}

static int sp_lmdb_open(struct sp_run *r)
{
	MDB_txn *txn;
	int rc;
	uint64_t map_bytes = r->records * (r->record_bytes + 8u) * SP_LMDB_BYTES_PER_RECORD_SLACK;

	if (map_bytes < SP_LMDB_MAP_BYTES_MIN)
		map_bytes = SP_LMDB_MAP_BYTES_MIN;
	if (map_bytes > SP_LMDB_MAP_BYTES_MAX)
		map_bytes = SP_LMDB_MAP_BYTES_MAX;
	if (mkdir(r->path, 0755) != 0) {
		rc = -errno;
		fprintf(stderr, "store_peers: mkdir %s: %s\n", r->path, strerror(-rc));
		return rc;
	}
	if ((rc = mdb_env_create(&r->mdb_env)) != 0)
		return sp_mdb_err("env_create", rc);
	if ((rc = mdb_env_set_mapsize(r->mdb_env, (size_t)map_bytes)) != 0)
		return sp_mdb_err("set_mapsize", rc);
	if ((rc = mdb_env_open(r->mdb_env, r->path, 0, 0644)) != 0)
		return sp_mdb_err("env_open", rc);
	if ((rc = mdb_txn_begin(r->mdb_env, NULL, 0, &txn)) != 0)
		return sp_mdb_err("txn_begin", rc);
	if ((rc = mdb_dbi_open(txn, NULL, 0, &r->mdb_dbi)) != 0) {
		mdb_txn_abort(txn);
		return sp_mdb_err("dbi_open", rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return sp_mdb_err("txn_commit", rc);
	return 0;
}

static int sp_lmdb_batch(struct sp_run *r, uint32_t n, uint64_t t_start_ns, uint64_t time_ns)
{
	MDB_txn *txn;
	uint8_t key[8];
	int rc;

	if ((rc = mdb_txn_begin(r->mdb_env, NULL, 0, &txn)) != 0)
		return sp_mdb_err("txn_begin", rc);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t seq = r->seq_next++;
		sp_receipt_fill(r->scratch, r->record_bytes, seq, time_ns + i);
		sp_key_be64(key, seq);
		MDB_val k = { .mv_size = sizeof key, .mv_data = key };
		MDB_val v = { .mv_size = r->record_bytes, .mv_data = r->scratch };
		if ((rc = mdb_put(txn, r->mdb_dbi, &k, &v, 0)) != 0) {
			mdb_txn_abort(txn);
			return sp_mdb_err("put", rc);
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return sp_mdb_err("txn_commit", rc);
	sp_ack(r, t_start_ns);
	return 0;
}

static int sp_lmdb_finish(struct sp_run *r)
{
	return 0;
}

static void sp_lmdb_close(struct sp_run *r)
{
	if (r->mdb_env)
		mdb_env_close(r->mdb_env);
}

/* ---- sqlite --------------------------------------------------------------------- */
static int sp_sql_err(struct sp_run *r, const char *what)
{
	fprintf(stderr, "store_peers: sqlite %s: %s\n", what, r->sql ? sqlite3_errmsg(r->sql) : "?");
	return -EIO;
}

/* Run one statement that may return a row; if want is set, its first column must equal it. */
static int sp_sql_exec(struct sp_run *r, const char *sql, const char *want)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (sqlite3_prepare_v2(r->sql, sql, -1, &st, NULL) != SQLITE_OK)
		return sp_sql_err(r, sql);
	int step = sqlite3_step(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = sp_sql_err(r, sql);
	else if (want) {
		const unsigned char *got = step == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
		if (!got || strcmp((const char *)got, want) != 0) {
			fprintf(stderr, "store_peers: sqlite %s gave %s, not %s\n", sql, got ? (const char *)got : "nothing",
				want);
			rc = -EINVAL;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static int sp_sqlite_open(struct sp_run *r)
{
	int rc;

	if (sqlite3_open_v2(r->path, &r->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		return sp_sql_err(r, "open");
	if ((rc = sp_sql_exec(r, "PRAGMA journal_mode=WAL", "wal")) != 0 ||
	    (rc = sp_sql_exec(r, "PRAGMA synchronous=FULL", NULL)) != 0 ||
	    (rc = sp_sql_exec(r, "PRAGMA synchronous", "2")) != 0 ||
	    (rc = sp_sql_exec(r, "CREATE TABLE r(k INTEGER PRIMARY KEY, v BLOB)", NULL)) != 0)
		return rc;
	if (sqlite3_prepare_v2(r->sql, "INSERT INTO r(k, v) VALUES(?1, ?2)", -1, &r->sql_insert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->sql, "BEGIN", -1, &r->sql_begin, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->sql, "COMMIT", -1, &r->sql_commit, NULL) != SQLITE_OK)
		return sp_sql_err(r, "prepare");
	return 0;
}

static int sp_sql_step_done(struct sp_run *r, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sp_sql_err(r, what);
	sqlite3_reset(st);
	return rc;
}

static int sp_sqlite_batch(struct sp_run *r, uint32_t n, uint64_t t_start_ns, uint64_t time_ns)
{
	int rc;

	if ((rc = sp_sql_step_done(r, r->sql_begin, "BEGIN")) != 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t seq = r->seq_next++;
		sp_receipt_fill(r->scratch, r->record_bytes, seq, time_ns + i);
		if (sqlite3_bind_int64(r->sql_insert, 1, (sqlite3_int64)seq) != SQLITE_OK ||
		    sqlite3_bind_blob(r->sql_insert, 2, r->scratch, (int)r->record_bytes, SQLITE_STATIC) != SQLITE_OK)
			return sp_sql_err(r, "bind");
		if ((rc = sp_sql_step_done(r, r->sql_insert, "INSERT")) != 0)
			return rc;
	}
	if ((rc = sp_sql_step_done(r, r->sql_commit, "COMMIT")) != 0)
		return rc;
	sp_ack(r, t_start_ns);
	return 0;
}

static int sp_sqlite_finish(struct sp_run *r)
{
	return 0;
}

static void sp_sqlite_close(struct sp_run *r)
{
	sqlite3_finalize(r->sql_insert);
	sqlite3_finalize(r->sql_begin);
	sqlite3_finalize(r->sql_commit);
	if (r->sql)
		sqlite3_close(r->sql);
}

/* ---- raw: O_DIRECT + fdatasync through io_uring ------------------------------------- */
/*
 * Commit i uses slot i % inflight: its own registered buffer, big enough for a
 * carried partial block plus a whole batch. A slot is reused once its commit
 * is acknowledged; commits are acknowledged in order. user_data of a CQE is
 * slot * 2 + (0 write, 1 fsync).
 */
struct sp_raw_slot {
	uint8_t *buf;
	uint32_t len;               /* bytes written by the commit, whole blocks */
	uint32_t cqes_left;         /* 2 while in flight, 0 when both are in */
	int res;                    /* first error, or 0 */
	bool busy;
	uint64_t t_start_ns;
};

struct sp_raw {
	int fd;
	struct io_uring ring;
	bool ring_ok;
	uint32_t slot_bytes;
	uint64_t submitted, acked;  /* commit counters */
	uint64_t file_bytes;        /* ring size of the log file */
	uint64_t pos;               /* end of the records in the file */
	uint32_t tail_bytes;        /* bytes of records in the last, partial block */
	uint8_t *tail;              /* a copy of them (one block) */
	struct sp_raw_slot slots[SP_INFLIGHT_MAX];
};

static uint64_t sp_round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1u) / to * to;
}

static int sp_raw_prealloc(struct sp_run *r, struct sp_raw *w)
{
	if (r->prealloc == SP_PREALLOC_NONE)
		return 0;
	if (r->prealloc == SP_PREALLOC_FALLOC) {
		if (fallocate(w->fd, 0, 0, (off_t)w->file_bytes) != 0)
			return -errno;
	} else {
		uint8_t *zero = aligned_alloc(SP_BLOCK_BYTES, SP_ZERO_CHUNK_BYTES);
		if (!zero)
			return -ENOMEM;
		memset(zero, 0, SP_ZERO_CHUNK_BYTES);
		for (uint64_t off = 0; off < w->file_bytes; off += SP_ZERO_CHUNK_BYTES) {
			uint64_t n = w->file_bytes - off < SP_ZERO_CHUNK_BYTES ? w->file_bytes - off : SP_ZERO_CHUNK_BYTES;
			ssize_t got = pwrite(w->fd, zero, (size_t)n, (off_t)off);
			if (got != (ssize_t)n) {
				int err = got < 0 ? -errno : -EIO;
				free(zero);
				return err;
			}
		}
		free(zero);
	}
	return fsync(w->fd) == 0 ? 0 : -errno;
}

static int sp_raw_open(struct sp_run *r)
{
	struct sp_raw *w = calloc(1, sizeof *w);
	struct iovec iov[SP_INFLIGHT_MAX];
	struct io_uring_probe *probe;
	int rc;

	if (!w)
		return -ENOMEM;
	r->raw = w;
	w->fd = -1;
	uint64_t slot_bytes = sp_round_up((uint64_t)r->batch * r->record_bytes + SP_BLOCK_BYTES, SP_BLOCK_BYTES);
	if (slot_bytes > SP_COMMIT_BYTES_MAX) {
		fprintf(stderr, "store_peers: --batch x --record-bytes above %u bytes per commit\n", SP_COMMIT_BYTES_MAX);
		return -EINVAL;
	}
	w->slot_bytes = (uint32_t)slot_bytes;
	/* The ring holds every record if that is less than --ring-mib, and always a few commits. */
	uint64_t commit_bytes = (uint64_t)r->batch * r->record_bytes;
	if (r->tail == SP_TAIL_PAD)
		commit_bytes = sp_round_up(commit_bytes, SP_BLOCK_BYTES);
	w->file_bytes = sp_round_up((r->records + r->batch - 1) / r->batch * commit_bytes + SP_BLOCK_BYTES,
				    SP_BLOCK_BYTES);
	if (w->file_bytes > r->ring_bytes)
		w->file_bytes = r->ring_bytes;
	if (w->file_bytes < 4u * (uint64_t)w->slot_bytes * r->inflight)
		w->file_bytes = 4u * (uint64_t)w->slot_bytes * r->inflight;

	w->fd = open(r->path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		rc = -errno;
		fprintf(stderr, "store_peers: open %s: %s\n", r->path, strerror(-rc));
		return rc;
	}
	if ((rc = sp_raw_prealloc(r, w)) != 0)
		return fprintf(stderr, "store_peers: preallocate %s: %s\n", r->path, strerror(-rc)), rc;

	w->tail = aligned_alloc(SP_BLOCK_BYTES, SP_BLOCK_BYTES);
	if (!w->tail)
		return -ENOMEM;
	for (uint32_t i = 0; i < r->inflight; i++) {
		w->slots[i].buf = aligned_alloc(SP_BLOCK_BYTES, w->slot_bytes);
		if (!w->slots[i].buf)
			return -ENOMEM;
		memset(w->slots[i].buf, 0, w->slot_bytes); /* fault the pages in before registering */
		iov[i] = (struct iovec){ .iov_base = w->slots[i].buf, .iov_len = w->slot_bytes };
	}

	/* Single issuer with deferred task work where the kernel has it, plain otherwise. */
	unsigned entries = 2u * r->inflight + 2u;
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };
	rc = io_uring_queue_init_params(entries, &w->ring, &p);
	if (rc == -EINVAL)
		rc = io_uring_queue_init(entries, &w->ring, 0);
	if (rc != 0)
		return fprintf(stderr, "store_peers: io_uring_queue_init: %s\n", strerror(-rc)), rc;
	w->ring_ok = true;

	probe = io_uring_get_probe_ring(&w->ring);
	bool have = probe && io_uring_opcode_supported(probe, IORING_OP_WRITE_FIXED) &&
		    io_uring_opcode_supported(probe, IORING_OP_FSYNC);
	if (probe)
		io_uring_free_probe(probe);
	if (!have)
		return fprintf(stderr, "store_peers: io_uring lacks WRITE_FIXED or FSYNC\n"), -EOPNOTSUPP;
	if ((rc = io_uring_register_buffers(&w->ring, iov, r->inflight)) != 0)
		return fprintf(stderr, "store_peers: io_uring_register_buffers: %s\n", strerror(-rc)), rc;
	if ((rc = io_uring_register_files(&w->ring, &w->fd, 1)) != 0)
		return fprintf(stderr, "store_peers: io_uring_register_files: %s\n", strerror(-rc)), rc;
	return 0;
}

/* Take in every completion there is; wait for at least one if wait is set. */
static int sp_raw_reap(struct sp_run *r, bool wait)
{
	struct sp_raw *w = r->raw;
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int rc;

	if (wait) {
		rc = io_uring_wait_cqe(&w->ring, &cqe);
		if (rc != 0)
			return rc;
	}
	io_uring_for_each_cqe(&w->ring, head, cqe) {
		uint64_t slot = cqe->user_data >> 1;
		bool is_fsync = cqe->user_data & 1u;
		struct sp_raw_slot *s;

		ALWAYS(slot < r->inflight);
		s = &w->slots[slot];
		ALWAYS(s->busy && s->cqes_left > 0);
		if (cqe->res < 0 && s->res == 0)
			s->res = cqe->res;
		else if (!is_fsync && cqe->res >= 0 && (uint32_t)cqe->res != s->len && s->res == 0)
			s->res = -EIO; /* short O_DIRECT write */
		s->cqes_left--;
		seen++;
	}
	io_uring_cq_advance(&w->ring, seen);

	/* Acknowledge in order. */
	while (w->acked < w->submitted) {
		struct sp_raw_slot *s = &w->slots[w->acked % r->inflight];
		if (s->cqes_left)
			break;
		if (s->res != 0)
			return fprintf(stderr, "store_peers: raw commit %llu: %s\n", (unsigned long long)w->acked,
				       strerror(-s->res)), s->res;
		sp_ack(r, s->t_start_ns);
		s->busy = false;
		w->acked++;
	}
	return 0;
}

/* Where the next commit starts, after one that wrote [off, off + len) with records up to off + end. */
static void sp_raw_advance(struct sp_run *r, struct sp_raw *w, const struct sp_raw_slot *s, uint64_t off,
			   uint32_t end, uint32_t len)
{
	if (r->tail == SP_TAIL_REWRITE) {
		w->pos = off + end;
		w->tail_bytes = end % SP_BLOCK_BYTES;
		memcpy(w->tail, s->buf + (end - w->tail_bytes), w->tail_bytes);
	} else {
		w->pos = off + len;
		w->tail_bytes = 0;
	}
}

static int sp_raw_batch(struct sp_run *r, uint32_t n, uint64_t t_start_ns, uint64_t time_ns)
{
	struct sp_raw *w = r->raw;
	struct sp_raw_slot *s = &w->slots[w->submitted % r->inflight];
	int rc;

	/* A free slot; and with a carried block, the commit that wrote it must be done. */
	bool waited = false;
	while (s->busy || (w->tail_bytes && w->acked < w->submitted)) {
		if ((rc = sp_raw_reap(r, true)) != 0)
			return rc;
		waited = true;
	}
	if (waited)
		t_start_ns = sp_now_ns(); /* the batch starts once it can go: as the other engines' do */

	uint32_t carry = r->tail == SP_TAIL_REWRITE ? w->tail_bytes : 0;
	uint32_t end = carry + n * r->record_bytes;
	uint32_t len = (uint32_t)sp_round_up(end, SP_BLOCK_BYTES);
	uint64_t off = w->pos - carry; /* block aligned */
	ALWAYS(off % SP_BLOCK_BYTES == 0 && len <= w->slot_bytes);
	if (off + len > w->file_bytes)
		off = 0; /* wrap, as a log starts a new segment */

	memcpy(s->buf, w->tail, carry);
	for (uint32_t i = 0; i < n; i++)
		sp_receipt_fill(s->buf + carry + (size_t)i * r->record_bytes, r->record_bytes, r->seq_next++, time_ns + i);
	memset(s->buf + end, 0, len - end);

	if (r->submit == SP_SUBMIT_SYNC) {
		ssize_t got = pwrite(w->fd, s->buf, len, (off_t)off);
		if (got != (ssize_t)len)
			return got < 0 ? -errno : -EIO;
		if (fdatasync(w->fd) != 0)
			return -errno;
		sp_ack(r, t_start_ns);
		sp_raw_advance(r, w, s, off, end, len);
		return 0;
	}
	struct io_uring_sqe *wr = io_uring_get_sqe(&w->ring);
	struct io_uring_sqe *fs = io_uring_get_sqe(&w->ring);
	ALWAYS(wr && fs); /* the ring has two entries per slot */
	uint64_t slot = w->submitted % r->inflight;
	io_uring_prep_write_fixed(wr, 0, s->buf, len, off, (int)slot);
	wr->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
	wr->user_data = slot << 1;
	io_uring_prep_fsync(fs, 0, IORING_FSYNC_DATASYNC);
	fs->flags |= IOSQE_FIXED_FILE;
	fs->user_data = slot << 1 | 1u;

	s->busy = true;
	s->len = len;
	s->res = 0;
	s->cqes_left = 2;
	s->t_start_ns = t_start_ns;
	w->submitted++;
	rc = io_uring_submit(&w->ring);
	if (rc != 2)
		return fprintf(stderr, "store_peers: io_uring_submit: %d\n", rc), rc < 0 ? rc : -EIO;

	sp_raw_advance(r, w, s, off, end, len);
	return sp_raw_reap(r, false);
}

static int sp_raw_finish(struct sp_run *r)
{
	int rc;
	while (r->raw->acked < r->raw->submitted)
		if ((rc = sp_raw_reap(r, true)) != 0)
			return rc;
	return 0;
}

static void sp_raw_close(struct sp_run *r)
{
	struct sp_raw *w = r->raw;
	if (!w)
		return;
	if (w->ring_ok)
		io_uring_queue_exit(&w->ring);
	for (uint32_t i = 0; i < SP_INFLIGHT_MAX; i++)
		free(w->slots[i].buf);
	free(w->tail);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
	r->raw = NULL;
}

/* ---- engine table ----------------------------------------------------------------- */
struct sp_engine {
	const char *name;
	int (*open)(struct sp_run *r);
	/* Make n records (numbers seq_next...) and append them durably; call sp_ack()
	 * for every batch once durable (raw may do so for earlier batches instead). */
	int (*batch)(struct sp_run *r, uint32_t n, uint64_t t_start_ns, uint64_t time_ns);
	int (*finish)(struct sp_run *r); /* wait for batches still in flight */
	void (*close)(struct sp_run *r);
};

static const struct sp_engine sp_engines[] = {
	{ "rocksdb", sp_rocksdb_open, sp_rocksdb_batch, sp_rocksdb_finish, sp_rocksdb_close },
	{ "lmdb", sp_lmdb_open, sp_lmdb_batch, sp_lmdb_finish, sp_lmdb_close },
	{ "sqlite", sp_sqlite_open, sp_sqlite_batch, sp_sqlite_finish, sp_sqlite_close },
	{ "raw", sp_raw_open, sp_raw_batch, sp_raw_finish, sp_raw_close },
};
#define SP_ENGINES (sizeof sp_engines / sizeof sp_engines[0])

/* mkdir -p: 0 or -errno. */
static int sp_mkdir_p(const char *dir)
{
	char path[SP_PATH_BYTES_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof path)
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char c = path[i];
		path[i] = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -errno;
		path[i] = c;
	}
	return 0;
}

/* ---- main ------------------------------------------------------------------------- */
static void sp_usage(FILE *f)
{
	fprintf(f,
		"usage: store_peers --engine rocksdb|lmdb|sqlite|raw --dir DIR --records N --batch B\n"
		"                   [--record-bytes 64] [--seconds S] [--cpu K]\n"
		"                   [--inflight K] [--tail rewrite|pad] [--prealloc zero|falloc|none] [--ring-mib M]\n"
		"                   [--submit ring|sync]\n"
		"  --records N      receipts to append (at most %llu)\n"
		"  --batch B        receipts per durable commit (1..%u)\n"
		"  --record-bytes   bytes per receipt (%u..%u, default %u)\n"
		"  --seconds S      stop at the first commit after S seconds (0: no limit)\n"
		"  --cpu K          pin the thread to CPU K\n"
		"  raw only:\n"
		"  --inflight K     commits in flight (1..%u, default 1)\n"
		"  --tail MODE      rewrite: the next commit rewrites the partial last block (default);\n"
		"                   pad: every commit starts on a new block\n"
		"  --prealloc MODE  zero: log written with zeros and synced first (default);\n"
		"                   falloc: fallocate (unwritten extents); none: the file grows\n"
		"  --ring-mib M     size of the log file, reused from the start when full (default %u)\n"
		"  --submit MODE    ring: write + linked fdatasync through io_uring (default);\n"
		"                   sync: pwrite() then fdatasync(), --inflight 1 only\n",
		(unsigned long long)SP_RECORDS_MAX, SP_BATCH_RECORDS_MAX, SP_RECORD_BYTES_MIN, SP_RECORD_BYTES_MAX,
		SP_RECORD_BYTES_DEFAULT, SP_INFLIGHT_MAX, SP_RING_MIB_DEFAULT);
}

/* Parse an unsigned number in [lo, hi]; 0 or -EINVAL. */
static int sp_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int sp_pick(const char *s, const char *const *names, unsigned count, unsigned *out)
{
	for (unsigned i = 0; i < count; i++)
		if (strcmp(s, names[i]) == 0)
			return *out = i, 0;
	return -EINVAL;
}

int main(int argc, char **argv)
{
	static struct sp_run run; /* the histogram is large: not on the stack */
	struct sp_run *r = &run;
	const struct sp_engine *eng = NULL;
	uint64_t v;
	int rc = 0;

	enum { O_ENGINE = 1, O_DIR, O_RECORDS, O_BATCH, O_RECBYTES, O_SECONDS, O_CPU, O_INFLIGHT, O_TAIL,
	       O_PREALLOC, O_RING, O_SUBMIT, O_HELP };
	static const struct option opts[] = {
		{ "engine", required_argument, NULL, O_ENGINE },
		{ "dir", required_argument, NULL, O_DIR },
		{ "records", required_argument, NULL, O_RECORDS },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "record-bytes", required_argument, NULL, O_RECBYTES },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "cpu", required_argument, NULL, O_CPU },
		{ "inflight", required_argument, NULL, O_INFLIGHT },
		{ "tail", required_argument, NULL, O_TAIL },
		{ "prealloc", required_argument, NULL, O_PREALLOC },
		{ "ring-mib", required_argument, NULL, O_RING },
		{ "submit", required_argument, NULL, O_SUBMIT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};

	r->record_bytes = SP_RECORD_BYTES_DEFAULT;
	r->inflight = 1;
	r->cpu = -1;
	r->ring_bytes = (uint64_t)SP_RING_MIB_DEFAULT << 20;
	for (;;) {
		int c = getopt_long(argc, argv, "", opts, NULL);
		unsigned pick;
		if (c == -1)
			break;
		switch (c) {
		case O_ENGINE:
			for (unsigned i = 0; i < SP_ENGINES; i++)
				if (strcmp(optarg, sp_engines[i].name) == 0)
					eng = &sp_engines[i];
			rc = eng ? 0 : -EINVAL;
			break;
		case O_DIR: r->dir = optarg; break;
		case O_RECORDS:
			rc = sp_parse_u64(optarg, 1, SP_RECORDS_MAX, &r->records);
			break;
		case O_BATCH:
			if ((rc = sp_parse_u64(optarg, 1, SP_BATCH_RECORDS_MAX, &v)) == 0)
				r->batch = (uint32_t)v;
			break;
		case O_RECBYTES:
			if ((rc = sp_parse_u64(optarg, SP_RECORD_BYTES_MIN, SP_RECORD_BYTES_MAX, &v)) == 0)
				r->record_bytes = (uint32_t)v;
			break;
		case O_SECONDS:
			if ((rc = sp_parse_u64(optarg, 0, SP_SECONDS_MAX, &v)) == 0)
				r->seconds = (uint32_t)v;
			break;
		case O_CPU:
			if ((rc = sp_parse_u64(optarg, 0, CPU_SETSIZE - 1, &v)) == 0)
				r->cpu = (int)v;
			break;
		case O_INFLIGHT:
			if ((rc = sp_parse_u64(optarg, 1, SP_INFLIGHT_MAX, &v)) == 0)
				r->inflight = (uint32_t)v;
			break;
		case O_TAIL:
			if ((rc = sp_pick(optarg, sp_tail_names, 2, &pick)) == 0)
				r->tail = (enum sp_tail)pick;
			break;
		case O_PREALLOC:
			if ((rc = sp_pick(optarg, sp_prealloc_names, 3, &pick)) == 0)
				r->prealloc = (enum sp_prealloc)pick;
			break;
		case O_RING:
			if ((rc = sp_parse_u64(optarg, 1, SP_RING_MIB_MAX, &v)) == 0)
				r->ring_bytes = v << 20;
			break;
		case O_SUBMIT:
			if ((rc = sp_pick(optarg, sp_submit_names, 2, &pick)) == 0)
				r->submit = (enum sp_submit)pick;
			break;
		case O_HELP: sp_usage(stdout); return 0;
		default: rc = -EINVAL; break;
		}
		if (rc != 0) {
			if (c != '?')
				fprintf(stderr, "store_peers: bad value for --%s: %s\n", opts[c - 1].name, optarg);
			sp_usage(stderr);
			return 2;
		}
	}
	if (!eng || !r->dir || !r->records || !r->batch || optind != argc) {
		sp_usage(stderr);
		return 2;
	}
	bool raw = strcmp(eng->name, "raw") == 0;
	if (!raw && (r->inflight != 1 || r->tail != SP_TAIL_REWRITE || r->prealloc != SP_PREALLOC_ZERO ||
		     r->submit != SP_SUBMIT_RING)) {
		fprintf(stderr, "store_peers: --inflight, --tail, --prealloc and --submit are for --engine raw\n");
		return 2;
	}
	if (r->submit == SP_SUBMIT_SYNC && r->inflight != 1) {
		fprintf(stderr, "store_peers: --submit sync has one commit in flight\n");
		return 2;
	}
	r->engine_name = eng->name;

	if (r->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(r->cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0) {
			fprintf(stderr, "store_peers: pin to CPU %d: %s\n", r->cpu, strerror(errno));
			return 1;
		}
	}
	if ((rc = sp_mkdir_p(r->dir)) != 0) {
		fprintf(stderr, "store_peers: mkdir %s: %s\n", r->dir, strerror(-rc));
		return 1;
	}
	if ((size_t)snprintf(r->path, sizeof r->path, "%s/%s%s", r->dir, eng->name,
			     strcmp(eng->name, "sqlite") == 0 ? ".db" : strcmp(eng->name, "raw") == 0 ? ".log" : "") >=
	    sizeof r->path) {
		fprintf(stderr, "store_peers: --dir too long\n");
		return 1;
	}
	if (access(r->path, F_OK) == 0) {
		fprintf(stderr, "store_peers: %s exists; give a fresh --dir\n", r->path);
		return 1;
	}
	r->scratch = malloc(r->record_bytes);
	if (!r->scratch)
		return 1;

	if ((rc = eng->open(r)) != 0)
		goto out_close;

	/* ---- the measured part ---- */
	uint64_t io0 = sp_proc_write_bytes(), cpu0 = sp_cpu_ns(), t0 = sp_now_ns();
	uint64_t deadline = r->seconds ? t0 + (uint64_t)r->seconds * 1000000000u : UINT64_MAX;
	while (r->seq_next < r->records) {
		uint64_t left = r->records - r->seq_next;
		uint32_t n = left < r->batch ? (uint32_t)left : r->batch;
		uint64_t t = sp_now_ns();
		if (t >= deadline)
			break;
		if ((rc = eng->batch(r, n, t, sp_wall_ns())) != 0)
			goto out_close;
	}
	if ((rc = eng->finish(r)) != 0)
		goto out_close;
	uint64_t t1 = sp_now_ns(), cpu1 = sp_cpu_ns(), io1 = sp_proc_write_bytes();

	double secs = (double)(t1 - t0) / 1e9;
	uint64_t payload = r->seq_next * r->record_bytes;
	ALWAYS(r->commits == (r->seq_next + r->batch - 1) / r->batch);
	printf("name=store_append engine=%s batch=%u records=%llu records_per_sec=%.0f commits_per_sec=%.0f "
	       "p50_commit_us=%.1f p99_commit_us=%.1f bytes_written=%llu record_bytes=%u inflight=%u tail=%s "
	       "prealloc=%s submit=%s seconds=%.3f mean_commit_us=%.1f p10_commit_us=%.1f p90_commit_us=%.1f max_commit_us=%.1f payload_bytes=%llu write_amp=%.2f cpu_util=%.2f "
	       "cpu_us_per_commit=%.1f\n",
	       r->engine_name, r->batch, (unsigned long long)r->seq_next, (double)r->seq_next / secs,
	       (double)r->commits / secs, (double)sp_hist_percentile(&r->hist, 50.0) / 1e3,
	       (double)sp_hist_percentile(&r->hist, 99.0) / 1e3, (unsigned long long)(io1 - io0), r->record_bytes,
	       r->inflight, raw ? sp_tail_names[r->tail] : "-", raw ? sp_prealloc_names[r->prealloc] : "-",
	       raw ? sp_submit_names[r->submit] : "-", secs,
	       r->hist.count ? (double)r->hist.sum_ns / 1e3 / (double)r->hist.count : 0.0,
	       (double)sp_hist_percentile(&r->hist, 10.0) / 1e3, (double)sp_hist_percentile(&r->hist, 90.0) / 1e3,
	       (double)r->hist.max_ns / 1e3, (unsigned long long)payload,
	       payload ? (double)(io1 - io0) / (double)payload : 0.0, (double)(cpu1 - cpu0) / 1e9 / secs,
	       r->commits ? (double)(cpu1 - cpu0) / 1e3 / (double)r->commits : 0.0);
	fflush(stdout);

out_close:
	eng->close(r);
	free(r->scratch);
	return rc == 0 ? 0 : 1;
}
