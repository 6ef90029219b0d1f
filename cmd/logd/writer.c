/*
 * writer.c -- the one thread that owns the output files: takes batches from every lane, writes
 * them, commits them under the fsync policy, and only then lets acknowledgements go out.
 *
 * Order of a round: take (up to batch_size bytes, round-robin over the lanes so one busy input
 * cannot starve the others), format and append, commit, then publish each lane's durable
 * sequence number and free the batches. When a commit fails (disk full, I/O error) what was
 * appended since the last commit is rolled back and the batches stay in the writer's hands:
 * nothing is acknowledged, the lanes fill up, the inputs feel backpressure, and the commit is
 * retried every RETRY_MS until it succeeds. Nothing is lost and nothing is written twice.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "logd.h"

#define RETRY_MS 500
#define IDLE_WAIT_MS 1000

/* Batches taken from one lane and not yet committed, in lane order. */
struct held {
    struct logd_batch *head, *tail;
    uint64_t last_seq;
    size_t bytes, count;
};

struct flush_req {
    struct flush_req *next;
    void (*fn)(void *arg, int ok);
    void *arg;
    int ok;
    struct logd_writer *w;
};

struct logd_writer {
    struct logd *l;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int sleeping;
    atomic_uint_fast64_t kicks;
    atomic_int reopen;
    int stop;                       /* under mu */
    struct flush_req *flush_wanted; /* under mu */
    struct logd_output *out;
    struct held held[LOGD_MAX_LANES];
    size_t held_bytes;
    unsigned next_lane;
    char *line;
    size_t line_cap;
    uint64_t last_sync_ms;
    /* State shown by status and health, under mu. */
    int disk_full, failing;
    char error[GW_ERR_LEN];
};

void
logd_writer_kick(struct logd_writer *w)
{
    if (!w)
        return;
    atomic_fetch_add(&w->kicks, 1);
    /* The writer sets sleeping before its last look at the kick count, and this reads it
     * after the increment (both sequentially consistent): one of the two sees the other. */
    if (atomic_load(&w->sleeping)) {
        pthread_mutex_lock(&w->mu);
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

static void
wait_for_work(struct logd_writer *w, uint64_t seen, uint64_t wait_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(wait_ms / 1000);
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->sleeping, 1);
    if (atomic_load(&w->kicks) == seen && !w->stop && !w->flush_wanted &&
        !atomic_load(&w->reopen))
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    atomic_store(&w->sleeping, 0);
    pthread_mutex_unlock(&w->mu);
}

/* Takes up to batch_size bytes of new batches, round-robin over the lanes. */
static size_t
take(struct logd_writer *w, size_t budget)
{
    struct logd *l = w->l;
    unsigned n = atomic_load_explicit(&l->nlanes, memory_order_acquire);
    size_t got = 0;

    for (unsigned k = 0; k < n && got < budget; k++) {
        unsigned i = (w->next_lane + k) % n;
        struct logd_batch *b = logd_lane_take(l->lanes[i], budget - got), *last = NULL;
        struct held *h = &w->held[i];
        if (!b)
            continue;
        if (h->tail)
            h->tail->next = b;
        else
            h->head = b;
        for (; b; b = b->next) {
            size_t bytes = logd_batch_bytes(b);
            got += bytes;
            h->bytes += bytes;
            h->count++;
            h->last_seq = b->lane_seq;
            last = b;
        }
        h->tail = last;
    }
    w->next_lane = n ? (w->next_lane + 1) % n : 0;
    w->held_bytes += got;
    return got;
}

static int
append_batch(struct logd_writer *w, const struct logd_config *cfg, struct logd_batch *b,
             uint64_t *lines, uint64_t *bytes, char *err)
{
    for (size_t i = 0; i < b->nrec; i++) {
        size_t len = 0;
        if (logd_format_line(b, &b->recs[i], cfg->format, &w->line, &len, &w->line_cap) == -1)
            return gw_err(err, "out of memory");
        if (logd_output_append(w->out, b, &b->recs[i], w->line, len, err) == -1)
            return -1;
        (*lines)++;
        *bytes += len;
    }
    return 0;
}

/* Appends every held batch that was not appended yet (all of them: a failed round rolls back
 * everything since the last commit, so a retry starts from the first held batch). */
static int
append_held(struct logd_writer *w, const struct logd_config *cfg, uint64_t *lines,
            uint64_t *bytes, char *err)
{
    unsigned n = atomic_load(&w->l->nlanes);

    for (unsigned i = 0; i < n; i++)
        for (struct logd_batch *b = w->held[i].head; b; b = b->next)
            if (append_batch(w, cfg, b, lines, bytes, err) == -1)
                return -1;
    return 0;
}

/* Everything held is durable: tell the lanes, feed tail, free. */
static void
release_held(struct logd_writer *w)
{
    struct logd *l = w->l;
    unsigned n = atomic_load(&l->nlanes);
    int tail = logd_tail_active(l->tail);

    for (unsigned i = 0; i < n; i++) {
        struct held *h = &w->held[i];
        struct logd_batch *b, *next;
        if (!h->head)
            continue;
        logd_lane_done(l->lanes[i], h->last_seq, h->bytes, h->count);
        for (b = h->head; b; b = next) {
            next = b->next;
            if (tail)
                logd_tail_publish(l->tail, b);
            logd_batch_free(b);
        }
        memset(h, 0, sizeof(*h));
    }
    w->held_bytes = 0;
}

static void
set_state(struct logd_writer *w, int rc, int enospc, const char *err)
{
    pthread_mutex_lock(&w->mu);
    if (rc == 0) {
        if (w->disk_full || w->failing)
            GW_LOG_INFO("writing resumed", NULL);
        w->disk_full = w->failing = 0;
        w->error[0] = '\0';
    } else {
        /* Logged once per outage, not per retry. */
        if (enospc && !w->disk_full)
            GW_LOG_ERROR("disk full: not acknowledging, inputs held back until space returns",
                         "err=%s", err);
        else if (!enospc && !w->failing)
            GW_LOG_ERROR("cannot write logs: not acknowledging, retrying", "err=%s", err);
        w->disk_full = enospc;
        w->failing = !enospc;
        gw_strlcpy(w->error, err, sizeof(w->error));
    }
    pthread_mutex_unlock(&w->mu);
}

/* Writes and commits what is held. 0, or -1 (rolled back; held batches kept). */
static int
commit_round(struct logd_writer *w, const struct logd_config *cfg, int force_sync)
{
    struct logd_metrics *m = &w->l->m;
    uint64_t lines = 0, bytes = 0, t0 = gw_mono_us();
    struct logd_output_result res = {0};
    char err[GW_ERR_LEN] = "";
    int sync = force_sync || cfg->fsync != LOGD_FSYNC_NEVER;
    int rc;

    rc = append_held(w, cfg, &lines, &bytes, err);
    if (rc == 0)
        rc = logd_output_commit(w->out, sync, &res, err);
    if (rc == -1) {
        int enospc = res.enospc || strstr(err, strerror(ENOSPC)) != NULL;
        logd_output_rollback(w->out);
        gw_metrics_add(m->reg, m->write_errors, 1);
        set_state(w, -1, enospc, err);
        return -1;
    }
    set_state(w, 0, 0, NULL);
    if (sync)
        w->last_sync_ms = gw_mono_ms();
    gw_metrics_add(m->reg, m->written, lines);
    gw_metrics_add(m->reg, m->written_bytes, bytes);
    gw_metrics_add(m->reg, m->fsyncs, res.fsyncs);
    gw_metrics_add(m->reg, m->rotations, res.rotations);
    gw_metrics_observe(m->reg, m->commit_seconds, (double)(gw_mono_us() - t0) / 1e6);
    release_held(w);
    return 0;
}

static void
flush_done(struct gw_ev *ev, void *arg)
{
    struct flush_req *f = arg;

    (void)ev;
    f->fn(f->arg, f->ok);
    free(f);
}

static void
answer_flushes(struct logd_writer *w, struct flush_req *list, int ok)
{
    struct flush_req *next;

    for (; list; list = next) {
        next = list->next;
        list->ok = ok;
        if (gw_ev_post(gw_daemon_ev(w->l->daemon), flush_done, list) == -1)
            free(list);
    }
}

static void
do_reopen(struct logd_writer *w, const struct logd_config *cfg)
{
    char err[GW_ERR_LEN];

    atomic_store(&w->reopen, 0);
    /* Only between commits: reopening never splits what one commit covers. */
    if (logd_output_reopen(w->out, cfg, err) == -1)
        GW_LOG_ERROR("cannot reopen output files", "err=%s", err);
    else
        GW_LOG_INFO("output files reopened", "output=%s", cfg->output);
}

/* How long the writer may sleep before it must act. */
static uint64_t
next_wait_ms(struct logd_writer *w, const struct logd_config *cfg, int failing)
{
    uint64_t now = gw_mono_ms();

    if (failing)
        return RETRY_MS;
    if (w->held_bytes && cfg->fsync == LOGD_FSYNC_BATCH && cfg->fsync_interval_ms)
        return w->last_sync_ms + cfg->fsync_interval_ms > now
                   ? w->last_sync_ms + cfg->fsync_interval_ms - now
                   : 0;
    return IDLE_WAIT_MS;
}

static void *
writer_main(void *arg)
{
    struct logd_writer *w = arg;
    int failing = 0, stopping = 0;

    gw_metrics_bind_thread(w->l->m.reg, w->l->nworkers + 1);
    for (;;) {
        const struct logd_config *cfg = logd_cfg(w->l);
        uint64_t seen = atomic_load(&w->kicks);
        struct flush_req *flushes;
        int sync_now;

        pthread_mutex_lock(&w->mu);
        flushes = w->flush_wanted;
        w->flush_wanted = NULL;
        stopping = w->stop;
        pthread_mutex_unlock(&w->mu);
        if (atomic_load(&w->reopen) && !w->held_bytes)
            do_reopen(w, cfg);
        /* A flush covers what was queued when it was asked: take until the lanes are empty. */
        while (w->held_bytes < cfg->batch_bytes && take(w, cfg->batch_bytes - w->held_bytes) > 0 &&
               (flushes || stopping))
            ;
        sync_now = !(cfg->fsync == LOGD_FSYNC_BATCH && cfg->fsync_interval_ms) ||
                   gw_mono_ms() >= w->last_sync_ms + cfg->fsync_interval_ms ||
                   w->held_bytes >= cfg->batch_bytes || flushes || stopping;
        if ((w->held_bytes && sync_now) || flushes) {
            failing = commit_round(w, cfg, flushes != NULL) == -1;
            if (flushes && (failing || !w->held_bytes)) {
                /* A flush asked while more arrived keeps going until its part is out. */
                answer_flushes(w, flushes, !failing);
                flushes = NULL;
            }
            if (flushes) {
                pthread_mutex_lock(&w->mu);
                struct flush_req *last = flushes;
                while (last->next)
                    last = last->next;
                last->next = w->flush_wanted;
                w->flush_wanted = flushes;
                pthread_mutex_unlock(&w->mu);
            }
        }
        if (stopping && (failing || !w->held_bytes)) {
            unsigned n = atomic_load(&w->l->nlanes);
            size_t bytes = 0, batches = 0, total = 0;
            for (unsigned i = 0; i < n; i++) {
                logd_lane_depth(w->l->lanes[i], &bytes, &batches);
                total += batches;
            }
            if (failing || total == 0)
                break;
            continue;
        }
        if (!failing && atomic_load(&w->kicks) != seen)
            continue;
        wait_for_work(w, seen, next_wait_ms(w, cfg, failing));
    }
    if (w->held_bytes)
        GW_LOG_ERROR("exiting with unwritten logs (they were never acknowledged)", "bytes=%zu",
                     w->held_bytes);
    return NULL;
}

struct logd_writer *
logd_writer_start(struct logd *l, char *err)
{
    struct logd_writer *w = calloc(1, sizeof(*w));
    pthread_condattr_t ca;
    sigset_t all, old;
    int rc;

    if (!w) {
        gw_err(err, "out of memory");
        return NULL;
    }
    w->l = l;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if ((w->out = logd_output_open(logd_cfg(l), err)) == NULL) {
        free(w);
        return NULL;
    }
    w->last_sync_ms = gw_mono_ms();
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&w->thread, NULL, writer_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        errno = rc;
        gw_err_errno(err, "cannot start the writer thread");
        logd_output_close(w->out);
        free(w);
        return NULL;
    }
    return w;
}

void
logd_writer_flush(struct logd_writer *w, void (*fn)(void *arg, int ok), void *arg)
{
    struct flush_req *f = calloc(1, sizeof(*f));

    if (!f) {
        fn(arg, 0);
        return;
    }
    f->fn = fn;
    f->arg = arg;
    f->w = w;
    pthread_mutex_lock(&w->mu);
    f->next = w->flush_wanted;
    w->flush_wanted = f;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void
logd_writer_reopen(struct logd_writer *w)
{
    atomic_store(&w->reopen, 1);
    logd_writer_kick(w);
}

void
logd_writer_stop(struct logd_writer *w)
{
    struct flush_req *f, *next;
    unsigned n;

    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    n = atomic_load(&w->l->nlanes);
    for (unsigned i = 0; i < n; i++) {
        struct logd_batch *b, *nb;
        for (b = w->held[i].head; b; b = nb) {
            nb = b->next;
            logd_batch_free(b);
        }
    }
    for (f = w->flush_wanted; f; f = next) {
        next = f->next;
        f->fn(f->arg, 0);
        free(f);
    }
    logd_output_close(w->out);
    free(w->line);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

void
logd_writer_stats(struct logd_writer *w, struct logd_writer_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    st->disk_full = w->disk_full;
    st->failing = w->failing;
    gw_strlcpy(st->error, w->error, sizeof(st->error));
    pthread_mutex_unlock(&w->mu);
    logd_output_stats(w->out, &st->disk_bytes, &st->files_open);
}
