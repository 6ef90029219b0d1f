/*
 * snap.h -- immutable snapshots (a reloaded config) handed to reader threads without locks, and
 * freed once no reader can still hold them: quiescent-state-based reclamation (QSBR, the scheme
 * of liburcu's urcu-qsbr).
 *
 * The program keeps the current snapshot in an atomic pointer of its own type:
 *
 *   struct cfg { struct gw_snap snap; ...immutable fields... };
 *   _Atomic(struct cfg *) cur;
 *   struct gw_snap_readers readers;            (zeroed memory is an empty set, ready to use)
 *
 * Readers load it with gw_snap_get() (an acquire load: no lock, no count, no store) and may use
 * it until their next quiescent point: a moment when the thread holds no snapshot, such as the
 * top of its event loop. They never keep the pointer across one. Each reader thread is in the
 * reader set before the first snapshot is retired, in one of two ways:
 *
 *   - gw_snap_reader_add(): the thread calls gw_snap_quiescent() at such a point (once per loop
 *     iteration), and gw_snap_offline()/gw_snap_online() around a wait that may block long;
 *   - gw_snap_reader_add_loop(): a gw_ev loop, which marks nothing itself: each retire posts it
 *     a call (gw_ev_post), and posted calls run between callbacks, where the loop holds nothing.
 *
 * The writer (one thread: the one that reloads) publishes and then retires:
 *
 *   atomic_store_explicit(&cur, next, memory_order_release);
 *   gw_snap_retire(&readers, &next->snap, &old->snap);   old joins next's chain, stamped
 *   gw_snap_reclaim(&readers, &next->snap, free_fn);     frees what every reader has passed
 *
 * A retired snapshot stays on the chain of the current one (snap.retired, newest first) until
 * every reader has passed a quiescent point after it was retired; gw_snap_reclaim() then cuts it
 * off and frees it. So memory stays flat however often the program reloads: with readers that
 * keep passing quiescent points, at most the snapshots retired since their last pass are alive.
 * Freeing the current snapshot at exit frees its chain too (gw_snap_free_chain()). The writer's
 * own reads need nothing: it never reclaims while it holds a snapshot.
 *
 * Threads: gw_snap_get, gw_snap_quiescent, gw_snap_offline and gw_snap_online on a reader's own
 * thread; gw_snap_retire and gw_snap_reclaim on the writer's; adding and removing readers on
 * any thread (a spinlock guards the set: it changes rarely).
 */
#ifndef GW_SNAP_H
#define GW_SNAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "util.h"

/* Embedded in each snapshot. Zero it when the snapshot is made. */
struct gw_snap {
    struct gw_snap *retired; /* older snapshots not yet freed, newest first */
    uint64_t epoch;          /* when this one was retired (0: never) */
};

struct gw_snap_reader;

/* The reader threads of one published pointer. Zeroed memory is an empty set. */
struct gw_snap_readers {
    atomic_int lock;
    _Atomic uint64_t epoch; /* bumped by each retire */
    struct gw_snap_reader *list;
};

/* The current snapshot of p, an _Atomic pointer: an acquire load. */
#define gw_snap_get(p) atomic_load_explicit((p), memory_order_acquire)

/* The struct holding a struct gw_snap: GW_SNAP_OF(s, struct cfg, snap). */
#define GW_SNAP_OF(s, type, member) ((type *)(void *)((char *)(s)-offsetof(type, member)))

/* Adds the calling thread as a reader that marks its own quiescent points; it is online at
 * once. NULL with err on out of memory. */
struct gw_snap_reader *gw_snap_reader_add(struct gw_snap_readers *r, char *err);

/* Adds the gw_ev loop ev as a reader: each retire posts it a call that marks it quiescent.
 * Call it before the first retire, from any thread; the loop must stay allocated until
 * gw_snap_readers_free() (a loop that stops running holds back reclamation until then, never
 * correctness). NULL with err on out of memory. */
struct gw_snap_reader *gw_snap_reader_add_loop(struct gw_snap_readers *r, struct gw_ev *ev,
                                               char *err);

/* Removes a reader added with gw_snap_reader_add, on its own thread (or once it has stopped);
 * it must hold no snapshot. Harmless with NULL. */
void gw_snap_reader_remove(struct gw_snap_readers *r, struct gw_snap_reader *rd);

/* Reader thread: it holds no snapshot at this moment. A few atomic operations. */
void gw_snap_quiescent(struct gw_snap_reader *rd);

/* Reader thread: it holds no snapshot until gw_snap_online() (around a blocking wait, so the
 * writer need not wait for it). */
void gw_snap_offline(struct gw_snap_reader *rd);
void gw_snap_online(struct gw_snap_reader *rd);

/* Writer, after storing cur as the published pointer (release order): old, the snapshot cur
 * replaced, joins cur's chain of retired snapshots, with old's own chain behind it. Never
 * fails. */
void gw_snap_retire(struct gw_snap_readers *r, struct gw_snap *cur, struct gw_snap *old);

/* Writer: calls free_fn on each snapshot of cur's chain that no reader can still hold, and cuts
 * them off the chain. Returns how many stay on it (retired, not yet passed by every reader).
 * A loop reader that is behind and has no call in flight gets one posted again. */
typedef void (*gw_snap_free_fn)(struct gw_snap *s);
size_t gw_snap_reclaim(struct gw_snap_readers *r, struct gw_snap *cur, gw_snap_free_fn free_fn);

/* Calls free_fn on every snapshot of s's chain (not on s), once no reader runs any more (at
 * exit), and empties the chain. */
void gw_snap_free_chain(struct gw_snap *s, gw_snap_free_fn free_fn);

/* Frees the reader set's records, once no reader runs any more; the set is empty again. */
void gw_snap_readers_free(struct gw_snap_readers *r);

#endif
