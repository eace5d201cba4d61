/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compact.c - reclaim the space of stale records, one core at a time, in
 * bounded slices that never stall requests.
 *
 * A round on core c: remember the segment c is writing (before_n); every
 * segment of c numbered below it, and every segment of an earlier epoch,
 * is "obsolete". Walk c's users (and, on core 0, the apps) a slice per loop
 * iteration and append again every one whose latest record lies in an
 * obsolete segment. Users changed meanwhile already have a newer record. The
 * walk is repeated until a whole pass rewrites nothing (the table may grow
 * or shift under the walk between slices). Once the rewrites are durable:
 *   - earlier epochs' segments hold partitions that any core may own now:
 *     they are deleted by core 0 only when every core has finished a round
 *     in this epoch;
 *   - c's own obsolete segments of this epoch are deleted after that, so a
 *     delete record (USER_DEL) is never dropped while an older segment that
 *     may hold the same user's put could still be replayed.
 *
 * A round starts at start-up if earlier epochs' segments exist, and when the
 * core has written compact_bytes (or twice the last round's size, if more)
 * since the last round began.
 */
#include "net/server.h"

#include "base/log.h"
#include "net/fanout.h"

#define COMPACT_USERS_PER_SLICE 256u

static bool obsolete(struct net_core *nc, uint64_t loc)
{
	return loc && sto_segments_obsolete(STO_LOC_SEG(loc), nc->srv->cfg.log.epoch, nc->id,
					    nc->compact.before_n);
}

static void round_start(struct net_core *nc)
{
	struct net_compact *k = &nc->compact;
	k->state = NET_COMPACT_REWRITING;
	k->before_n = nc->log.seg_n;
	k->pos = 0;
	k->found = false;
	k->last_lsn = 0;
	k->bytes_at_start = nc->log.bytes;
	k->rounds++;
	base_log(BASE_LOG_INFO, "msg=\"compaction round started\" before_segment=%u", k->before_n);
}

void net_compact_restart(struct net_core *nc)
{
	if (nc->compact.state == NET_COMPACT_REWRITING || nc->compact.state == NET_COMPACT_SYNCING) {
		nc->compact.state = NET_COMPACT_REWRITING; /* a lost rewrite put some locs back */
		nc->compact.pos = 0;
		nc->compact.found = false;
	}
}

void net_compact_slice(struct net_core *nc)
{
	struct net_compact *k = &nc->compact;
	unsigned budget = COMPACT_USERS_PER_SLICE;
	uint64_t lsn, loc;
	uint32_t ref;

	if (k->state == NET_COMPACT_SYNCING && nc->log.durable_lsn >= k->last_lsn) {
		k->state = NET_COMPACT_DONE;
		k->round_bytes = nc->log.bytes - k->bytes_at_start;
		if (!k->epoch_counted) {
			k->epoch_counted = true;
			__atomic_add_fetch(&nc->srv->cores_compacted, 1, __ATOMIC_ACQ_REL);
		}
	}
	if (k->state != NET_COMPACT_REWRITING)
		return;
	nc->io.wake_mask |= 1ull << nc->id; /* more to do: do not sleep until the round is through */
	while (budget && sto_users_next(&nc->users, &k->pos, &ref, &loc)) {
		budget--;
		if (!obsolete(nc, loc))
			continue;
		if (!net_store_user_again(nc, sto_users_view(&nc->users, ref), &lsn)) {
			k->pos--; /* no room in the log now: this user again next time */
			return;
		}
		k->found = true;
		k->rewritten++;
		k->last_lsn = lsn;
	}
	if (!budget)
		return;
	if (k->found) { /* another pass, until one finds nothing */
		k->found = false;
		k->pos = 0;
		k->passes++;
		return;
	}
	if (!net_fanout_compact(nc, obsolete, &k->last_lsn))
		return;
	if (nc->id == 0)
		for (unsigned i = 0; i < HRL_APPS_MAX; i++)
			if (nc->apps.apps[i].used && obsolete(nc, nc->apps_loc[i])) {
				if (!net_store_app_again(nc, (uint16_t)i, &lsn))
					return;
				k->rewritten++;
				k->last_lsn = lsn;
			}
	k->state = NET_COMPACT_SYNCING;
}

void net_compact_tick(struct net_core *nc)
{
	struct net_compact *k = &nc->compact;
	struct net_server *s = nc->srv;
	uint32_t epoch = s->cfg.log.epoch;

	if (k->state == NET_COMPACT_DONE) {
		if (nc->id == 0 && !__atomic_load_n(&s->old_epochs_gone, __ATOMIC_ACQUIRE) &&
		    __atomic_load_n(&s->cores_compacted, __ATOMIC_ACQUIRE) == s->ncores) {
			uint64_t bytes = 0;
			unsigned n = sto_segments_delete(s->cfg.log_dir, epoch, -1, 0, &bytes);
			k->segments_deleted += n;
			k->bytes_reclaimed += bytes;
			__atomic_store_n(&s->old_epochs_gone, 1, __ATOMIC_RELEASE);
			if (n)
				base_log(BASE_LOG_INFO, "msg=\"compaction: earlier epochs deleted\" segments=%u bytes=%llu",
					 n, (unsigned long long)bytes);
		}
		if (!__atomic_load_n(&s->old_epochs_gone, __ATOMIC_ACQUIRE))
			return;
		uint64_t bytes = 0;
		unsigned n = sto_segments_delete(s->cfg.log_dir, epoch, (int)nc->id, k->before_n, &bytes);
		k->segments_deleted += n;
		k->bytes_reclaimed += bytes;
		if (n)
			base_log(BASE_LOG_INFO, "msg=\"compaction round done\" segments_deleted=%u bytes=%llu rewritten=%llu",
				 n, (unsigned long long)bytes, (unsigned long long)k->rewritten);
		k->state = NET_COMPACT_IDLE;
		return;
	}
	if (k->state != NET_COMPACT_IDLE || nc->draining)
		return;
	uint64_t threshold = s->cfg.compact_bytes;
	if (threshold < 2 * k->round_bytes)
		threshold = 2 * k->round_bytes;
	bool old = !k->epoch_counted && !__atomic_load_n(&s->old_epochs_gone, __ATOMIC_ACQUIRE) &&
		   sto_segments_old_epoch_present(epoch);
	if (old || (s->cfg.compact_bytes && nc->log.bytes - k->bytes_at_start >= threshold && nc->log.seg_n > 1))
		round_start(nc);
}
