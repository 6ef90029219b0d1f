/*
 * snap.c -- snapshots freed after every reader passed a quiescent point (QSBR).
 *
 * Each reader has a record holding the epoch it saw at its last quiescent point (OFFLINE while
 * it holds nothing at all). A retire bumps the epoch and stamps the old snapshot with the new
 * value; the snapshot can go once every record shows that epoch or later. The bump is a seq_cst
 * read-modify-write that follows the release store of the new pointer, so a reader that has seen
 * the new epoch can only load the new pointer (or a later one) afterwards.
 */
#include "snap.h"

#include <sched.h>
#include <stdlib.h>

#define OFFLINE UINT64_MAX

struct gw_snap_reader {
    _Atomic uint64_t seen; /* the epoch at its last quiescent point, or OFFLINE */
    atomic_int posted;     /* loop reader: a marking call is in flight */
    struct gw_ev *ev;      /* loop reader, else NULL */
    struct gw_snap_readers *set;
    struct gw_snap_reader *next;
} __attribute__((aligned(64)));

static void
lock(struct gw_snap_readers *r)
{
    int unlocked = 0;

    while (!atomic_compare_exchange_weak_explicit(&r->lock, &unlocked, 1, memory_order_acquire,
                                                  memory_order_relaxed)) {
        unlocked = 0;
        sched_yield();
    }
}

static void
unlock(struct gw_snap_readers *r)
{
    atomic_store_explicit(&r->lock, 0, memory_order_release);
}

static struct gw_snap_reader *
reader_new(struct gw_snap_readers *r, struct gw_ev *ev, char *err)
{
    struct gw_snap_reader *rd = aligned_alloc(64, sizeof(*rd));

    if (!rd) {
        gw_err(err, "out of memory");
        return NULL;
    }
    atomic_init(&rd->posted, 0);
    rd->ev = ev;
    rd->set = r;
    lock(r);
    /* Online from now on: the next retire's epoch is above this. */
    atomic_init(&rd->seen, atomic_load(&r->epoch));
    rd->next = r->list;
    r->list = rd;
    unlock(r);
    return rd;
}

struct gw_snap_reader *
gw_snap_reader_add(struct gw_snap_readers *r, char *err)
{
    return reader_new(r, NULL, err);
}

struct gw_snap_reader *
gw_snap_reader_add_loop(struct gw_snap_readers *r, struct gw_ev *ev, char *err)
{
    return reader_new(r, ev, err);
}

void
gw_snap_reader_remove(struct gw_snap_readers *r, struct gw_snap_reader *rd)
{
    if (!rd)
        return;
    lock(r);
    for (struct gw_snap_reader **p = &r->list; *p; p = &(*p)->next)
        if (*p == rd) {
            *p = rd->next;
            break;
        }
    unlock(r);
    free(rd);
}

void
gw_snap_quiescent(struct gw_snap_reader *rd)
{
    /* The release half orders this thread's reads of old snapshots before the writer's free. */
    atomic_store(&rd->seen, atomic_load(&rd->set->epoch));
}

void
gw_snap_offline(struct gw_snap_reader *rd)
{
    atomic_store_explicit(&rd->seen, OFFLINE, memory_order_release);
}

void
gw_snap_online(struct gw_snap_reader *rd)
{
    atomic_store(&rd->seen, atomic_load(&rd->set->epoch));
    /* A read-modify-write of the epoch, ordered against the writer's own (retire): if ours comes
     * first, the writer's scan sees the store above; if it comes second, this thread's next load
     * of the pointer sees the new snapshot. (A fence would do, but TSan cannot follow fences.) */
    atomic_fetch_add(&rd->set->epoch, 0);
}

/* Runs on the loop's thread between callbacks: the loop holds no snapshot here. */
static void
loop_mark(struct gw_ev *ev, void *arg)
{
    struct gw_snap_reader *rd = arg;

    (void)ev;
    atomic_store(&rd->posted, 0);
    gw_snap_quiescent(rd);
}

static void
poke(struct gw_snap_reader *rd)
{
    if (atomic_exchange(&rd->posted, 1) == 0 && gw_ev_post(rd->ev, loop_mark, rd) == -1)
        atomic_store(&rd->posted, 0); /* the next reclaim tries again */
}

void
gw_snap_retire(struct gw_snap_readers *r, struct gw_snap *cur, struct gw_snap *old)
{
    old->epoch = atomic_fetch_add(&r->epoch, 1) + 1;
    /* old's own chain is older still: it stays behind old. */
    cur->retired = old;
    lock(r);
    for (struct gw_snap_reader *rd = r->list; rd; rd = rd->next)
        if (rd->ev)
            poke(rd);
    unlock(r);
}

/* The oldest epoch some online reader may still be in: every snapshot retired at or before it
 * is free to go. */
static uint64_t
passed_epoch(struct gw_snap_readers *r)
{
    uint64_t min = OFFLINE, seen;

    lock(r);
    for (struct gw_snap_reader *rd = r->list; rd; rd = rd->next) {
        seen = atomic_load(&rd->seen);
        if (seen < min)
            min = seen;
        if (rd->ev && seen < atomic_load(&r->epoch))
            poke(rd);
    }
    unlock(r);
    return min;
}

size_t
gw_snap_reclaim(struct gw_snap_readers *r, struct gw_snap *cur, gw_snap_free_fn free_fn)
{
    uint64_t passed;
    struct gw_snap **p, *s;
    size_t left = 0;

    if (!cur->retired)
        return 0;
    passed = passed_epoch(r);
    /* Epochs fall along the chain: once one can go, so can every older one. */
    for (p = &cur->retired; *p && (*p)->epoch > passed; p = &(*p)->retired)
        left++;
    s = *p;
    *p = NULL;
    while (s) {
        struct gw_snap *older = s->retired;
        free_fn(s);
        s = older;
    }
    return left;
}

void
gw_snap_free_chain(struct gw_snap *s, gw_snap_free_fn free_fn)
{
    struct gw_snap *o = s->retired, *older;

    s->retired = NULL;
    for (; o; o = older) {
        older = o->retired;
        free_fn(o);
    }
}

void
gw_snap_readers_free(struct gw_snap_readers *r)
{
    struct gw_snap_reader *rd, *next;

    lock(r);
    rd = r->list;
    r->list = NULL;
    unlock(r);
    for (; rd; rd = next) {
        next = rd->next;
        free(rd);
    }
}
