/*
 * snap.c -- tests for lib/snap.c: a retired snapshot waits for every online reader's quiescent
 * point (offline readers and loops included), chains are cut oldest-first, and 1,000 reloads
 * under reader threads and a gw_ev loop keep exactly one snapshot alive once readers pass.
 */
#include "snap.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tap.h"

#define MAGIC 0x5eed5eedu
#define RELOADS 1000

struct cfg {
    struct gw_snap snap;
    unsigned magic;
    unsigned gen;
};

static atomic_int live, bad_reads;
static _Atomic(struct cfg *) cur;
static struct gw_snap_readers readers;
static atomic_int stop_readers;

static struct cfg *
cfg_new(unsigned gen)
{
    struct cfg *c = calloc(1, sizeof(*c));

    c->magic = MAGIC;
    c->gen = gen;
    atomic_fetch_add(&live, 1);
    return c;
}

static void
cfg_free(struct gw_snap *s)
{
    struct cfg *c = GW_SNAP_OF(s, struct cfg, snap);

    c->magic = 0;
    atomic_fetch_sub(&live, 1);
    free(c);
}

/* What a reload does: publish, retire the old one, free what readers have passed. */
static size_t
reload(unsigned gen)
{
    struct cfg *next = cfg_new(gen), *old = atomic_load(&cur);

    atomic_store_explicit(&cur, next, memory_order_release);
    gw_snap_retire(&readers, &next->snap, &old->snap);
    return gw_snap_reclaim(&readers, &next->snap, cfg_free);
}

static size_t
reclaim(void)
{
    return gw_snap_reclaim(&readers, &atomic_load(&cur)->snap, cfg_free);
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reclaims until nothing is left on the chain or 10 s pass; returns what is left. */
static size_t
reclaim_all(void)
{
    double deadline = now_s() + 10;
    size_t left;

    while ((left = reclaim()) > 0 && now_s() < deadline)
        sched_yield();
    return left;
}

static void
check(const struct cfg *c)
{
    if (c->magic != MAGIC)
        atomic_fetch_add(&bad_reads, 1);
}

static void
test_explicit_reader(void)
{
    char err[GW_ERR_LEN];
    struct gw_snap_reader *rd, *off;

    atomic_store(&cur, cfg_new(0));
    is(reload(1), 0, "no reader: the old snapshot is freed at once");
    is(atomic_load(&live), 1, "no reader: one snapshot alive");

    rd = gw_snap_reader_add(&readers, err);
    off = gw_snap_reader_add(&readers, err);
    ok(rd && off, "readers added");
    gw_snap_offline(off);
    is(reload(2), 1, "an online reader holds the retired snapshot back");
    is(reload(3), 2, "and the next one too, chained newest first");
    is(atomic_load(&live), 3, "three snapshots alive while the reader has not passed");
    gw_snap_quiescent(rd);
    is(reclaim(), 0, "after its quiescent point the whole chain goes");
    is(atomic_load(&live), 1, "only the current snapshot is left");

    is(reload(4), 1, "retired again");
    gw_snap_quiescent(rd);
    is(reload(5), 1, "a pass frees what was retired before it, not what came after");
    is(atomic_load(&live), 2, "current plus the one retired after the pass");
    gw_snap_offline(rd);
    is(reclaim(), 0, "an offline reader holds nothing back");
    gw_snap_online(rd);
    gw_snap_online(off);
    is(reload(6), 1, "back online, they hold the next one back");
    gw_snap_quiescent(rd);
    is(reclaim(), 1, "each online reader is waited for");
    gw_snap_quiescent(off);
    is(reclaim(), 0, "freed once both passed");
    gw_snap_offline(off);
    is(reload(7), 1, "retired while one reader is offline");
    gw_snap_online(off);
    gw_snap_quiescent(rd);
    is(reclaim(), 0, "a reader that comes online after the retire cannot hold it: not waited for");
    gw_snap_reader_remove(&readers, rd);
    gw_snap_reader_remove(&readers, off);
    gw_snap_reader_remove(&readers, NULL);
    is(reload(8), 0, "removed readers hold nothing back");
}

static void
test_free_chain(void)
{
    char err[GW_ERR_LEN];
    struct gw_snap_reader *rd = gw_snap_reader_add(&readers, err);
    struct cfg *c;

    for (unsigned i = 0; i < 5; i++)
        reload(100 + i);
    is(atomic_load(&live), 6, "five retired snapshots wait for a reader that never passes");
    c = atomic_load(&cur);
    gw_snap_free_chain(&c->snap, cfg_free);
    ok(c->snap.retired == NULL && atomic_load(&live) == 1, "free_chain frees them (at exit)");
    gw_snap_reader_remove(&readers, rd);
}

/* A reader thread: takes the snapshot, reads it, and passes a quiescent point each round; every
 * 64 rounds it goes offline for a moment. */
static void *
reader_thread(void *arg)
{
    char err[GW_ERR_LEN];
    struct gw_snap_reader *rd = arg;
    unsigned n = 0;

    (void)err;
    while (!atomic_load(&stop_readers)) {
        const struct cfg *c = gw_snap_get(&cur);
        check(c);
        sched_yield();
        check(c);
        if (++n % 64 == 0) {
            gw_snap_offline(rd);
            sched_yield();
            gw_snap_online(rd);
        } else {
            gw_snap_quiescent(rd);
        }
    }
    gw_snap_offline(rd);
    return NULL;
}

static void
loop_tick(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    const struct cfg *c = gw_snap_get(&cur);

    (void)arg;
    check(c);
    gw_ev_timer_start(ev, t, 1);
    check(c);
}

static void *
loop_thread(void *arg)
{
    struct gw_ev *ev = arg;
    struct gw_ev_timer t;

    gw_ev_timer_init(&t, loop_tick, NULL);
    gw_ev_timer_start(ev, &t, 0);
    gw_ev_run(ev);
    gw_ev_timer_stop(ev, &t);
    return NULL;
}

static void
test_reloads_under_readers(void)
{
    char err[GW_ERR_LEN];
    struct gw_snap_reader *rd[2];
    struct gw_ev *ev = gw_ev_new(err);
    pthread_t th[3];
    size_t worst = 0, left;
    int alive_ok = 1;

    ok(ev != NULL, "loop made");
    ok(gw_snap_reader_add_loop(&readers, ev, err) != NULL, "the loop is a reader");
    for (int i = 0; i < 2; i++) {
        rd[i] = gw_snap_reader_add(&readers, err);
        pthread_create(&th[i], NULL, reader_thread, rd[i]);
    }
    pthread_create(&th[2], NULL, loop_thread, ev);
    for (unsigned gen = 1; gen <= RELOADS; gen++) {
        left = reload(1000 + gen);
        if (left > worst)
            worst = left;
        /* Memory flat: once the readers pass, only the current snapshot is alive. */
        if (reclaim_all() != 0 || atomic_load(&live) != 1)
            alive_ok = 0;
    }
    ok(alive_ok, "%d reloads under 2 reader threads and a loop: one snapshot alive after each",
       RELOADS);
    diag("at most %zu retired snapshots waited at once", worst);
    is(atomic_load(&cur)->gen, 1000 + RELOADS, "the last published snapshot is current");
    ok(atomic_load(&cur)->snap.retired == NULL, "its chain of retired snapshots is empty");
    atomic_store(&stop_readers, 1);
    gw_ev_stop(ev);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    is(atomic_load(&bad_reads), 0, "no reader ever saw a freed snapshot");
    gw_ev_free(ev);
    gw_snap_readers_free(&readers);
    ok(readers.list == NULL, "readers_free empties the set");
}

int
main(void)
{
    test_explicit_reader();
    test_free_chain();
    test_reloads_under_readers();
    cfg_free(&atomic_load(&cur)->snap);
    is(atomic_load(&live), 0, "every snapshot freed");
    return done_testing();
}
