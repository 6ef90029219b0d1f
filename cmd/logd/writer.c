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
#include <sys/uio.h>
#include <time.h>

#include "log.h"
#include "logd.h"
#include "logfile.h"

#define RETRY_MS 500
#define AGAIN_BYTES (128 * 1024)
#define IDLE_WAIT_MS 1000
#define STOP_RETRY_MS 2000

/* Batches taken from one lane and not yet durable, in lane order. */
struct held {
    struct logd_batch *head, *tail;
};

struct flush_req {
    struct flush_req *next;
    void (*fn)(void *arg, int ok);
    void *arg;
    int ok;
    unsigned nlanes;
    uint64_t want[LOGD_MAX_LANES]; /* each lane's last sequence number when it was asked */
};

struct logd_writer {
    struct logd *l;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int sleeping;
    atomic_uint_fast64_t kicks;
    atomic_int reopen;
    atomic_int hurry;               /* draining: commit at once, whatever fsync_interval says */
    int stop;                       /* under mu */
    struct flush_req *flush_wanted; /* under mu */
    struct gw_logfile *lf;
    struct logd_config *lf_cfg; /* the snapshot lf was made for */
    struct gw_logfile_stats last;
    struct held held[LOGD_MAX_LANES];
    size_t held_bytes;
    unsigned next_lane;
    char *line;
    size_t line_cap;
    int failing;
    int unwritten_at_exit; /* set by the thread as it ends, read after the join */
    uint64_t stop_deadline_ms;
    /* Shown by status and health, under mu. */
    int disk_full, write_error;
    char error[GW_ERR_LEN];
    atomic_uint_fast64_t disk_bytes, open_files;
};

void
logd_writer_kick(struct logd_writer *w)
{
    if (!w)
        return;
    atomic_fetch_add(&w->kicks, 1);
    /* The writer sets sleeping before its last look at the kick count, and this reads it
     * after the increment (both sequentially consistent): one of the two sees the other.
     * Taking mu waits out a writer between that look and its wait (it then is in the wait);
     * the signal goes after the unlock, so a writer woken at once (the same CPU) does not
     * block on the mutex this thread still holds: two context switches more per kick. */
    if (atomic_load(&w->sleeping)) {
        pthread_mutex_lock(&w->mu);
        pthread_mutex_unlock(&w->mu);
        pthread_cond_signal(&w->cv);
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
    if (atomic_load(&w->kicks) == seen && !w->stop && !w->flush_wanted && !atomic_load(&w->reopen))
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    atomic_store(&w->sleeping, 0);
    pthread_mutex_unlock(&w->mu);
}

/* Takes up to budget bytes of new batches, round-robin over the lanes. */
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
            got += logd_batch_bytes(b);
            last = b;
        }
        h->tail = last;
    }
    w->next_lane = n ? (w->next_lane + 1) % n : 0;
    w->held_bytes += got;
    return got;
}

/* Hands every held record not yet appended to the output. 0; 1 when the output's pending
 * limit was reached (commit, then go on); -1 with err on another failure. */
static int
append_held(struct logd_writer *w, const struct logd_config *cfg, char *err)
{
    unsigned n = atomic_load(&w->l->nlanes);

    for (unsigned i = 0; i < n; i++) {
        for (struct logd_batch *b = w->held[i].head; b; b = b->next) {
            for (; b->appended < b->nrec; b->appended++) {
                const struct logd_rec *r = &b->recs[b->appended];
                struct iovec iov[2] = {{NULL, 0}, {"\n", 1}};
                size_t len = 0;
                int rc;
                /* A raw line that needs no escaping goes from the batch to the file. */
                if (cfg->format == LOGD_FMT_RAW &&
                    (iov[0].iov_base = (void *)logd_format_raw_as_is(b, r, &len)) != NULL) {
                    iov[0].iov_len = len;
                    rc = logd_output_appendv(w->lf, b, r, iov, 2, err);
                } else {
                    len = 0;
                    if (logd_format_line(b, r, cfg->format, &w->line, &len, &w->line_cap) == -1)
                        return gw_err(err, "out of memory");
                    rc = logd_output_append(w->lf, b, r, w->line, len, err);
                }
                if (rc == -1)
                    return errno == ENOBUFS ? 1 : -1;
            }
        }
    }
    return 0;
}

/* After a commit: every batch wholly appended is durable. Tell the lanes, feed tail, free. */
static void
release_durable(struct logd_writer *w)
{
    struct logd *l = w->l;
    unsigned n = atomic_load(&l->nlanes);

    for (unsigned i = 0; i < n; i++) {
        struct held *h = &w->held[i];
        uint64_t seq = 0;
        size_t bytes = 0, count = 0;
        while (h->head && h->head->appended == h->head->nrec) {
            struct logd_batch *b = h->head;
            h->head = b->next;
            seq = b->lane_seq;
            bytes += logd_batch_bytes(b);
            count++;
            logd_tail_publish(l->tail, b);
        }
        if (!h->head)
            h->tail = NULL;
        if (count) {
            logd_lane_done(l->lanes[i], seq, bytes, count);
            w->held_bytes -= GW_MIN(bytes, w->held_bytes);
        }
    }
}

static void
set_state(struct logd_writer *w, int failed, int enospc, const char *err)
{
    pthread_mutex_lock(&w->mu);
    if (!failed) {
        if (w->disk_full || w->write_error)
            GW_LOG_INFO("writing resumed", NULL);
        w->disk_full = w->write_error = 0;
        w->error[0] = '\0';
    } else {
        /* Logged once per outage, not per retry. */
        if (enospc && !w->disk_full)
            GW_LOG_ERROR("disk full: not acknowledging, inputs held back until space returns",
                         "err=%s", err);
        else if (!enospc && !w->write_error)
            GW_LOG_ERROR("cannot write logs: not acknowledging, retrying", "err=%s", err);
        w->disk_full = enospc;
        w->write_error = !enospc;
        gw_strlcpy(w->error, err, sizeof(w->error));
    }
    pthread_mutex_unlock(&w->mu);
}

static void
count_stats(struct logd_writer *w)
{
    struct logd_metrics *m = &w->l->m;
    struct gw_logfile_stats st;

    gw_logfile_stats(w->lf, &st);
    gw_metrics_add(m->reg, m->written, st.lines - w->last.lines);
    gw_metrics_add(m->reg, m->written_bytes, st.bytes - w->last.bytes);
    gw_metrics_add(m->reg, m->fsyncs, st.fsyncs - w->last.fsyncs);
    gw_metrics_add(m->reg, m->rotations, st.rotations - w->last.rotations);
    atomic_store(&w->disk_bytes, st.bytes_on_disk);
    atomic_store(&w->open_files, st.open_files);
    if (st.torn_cut > w->last.torn_cut)
        GW_LOG_WARN("cut an unfinished last line left by a crash", "bytes=%llu",
                    (unsigned long long)(st.torn_cut - w->last.torn_cut));
    w->last = st;
}

/* Commits (commit = 1) or runs the output's periodic work; releases what became durable.
 * 0, or -1 (nothing more is durable; retried later). */
static int
commit(struct logd_writer *w, int now)
{
    struct logd_metrics *m = &w->l->m;
    char err[GW_ERR_LEN] = "";
    uint64_t t0 = gw_mono_us();
    int rc = now ? gw_logfile_commit(w->lf, err) : gw_logfile_tick(w->lf, err);

    if (rc == -1) {
        int enospc = errno == ENOSPC || errno == EDQUOT;
        gw_metrics_add(m->reg, m->write_errors, 1);
        set_state(w, 1, enospc, err);
        w->failing = 1;
        count_stats(w);
        return -1;
    }
    if (w->failing)
        set_state(w, 0, 0, NULL);
    w->failing = 0;
    if (now || rc == 1) {
        gw_metrics_observe(m->reg, m->commit_seconds, (double)(gw_mono_us() - t0) / 1e6);
        release_durable(w);
    }
    count_stats(w);
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

static int
flush_covered(struct logd_writer *w, const struct flush_req *f)
{
    for (unsigned i = 0; i < f->nlanes; i++)
        if (logd_lane_durable(w->l->lanes[i]) < f->want[i])
            return 0;
    return 1;
}

/* Answers the flushes whose part is durable (all of them, as failed, when failed is set). */
static void
answer_flushes(struct logd_writer *w, struct flush_req **list, int failed)
{
    struct flush_req **p = list, *f;

    while ((f = *p) != NULL) {
        if (!failed && !flush_covered(w, f)) {
            p = &f->next;
            continue;
        }
        *p = f->next;
        f->ok = !failed;
        if (gw_ev_post(gw_daemon_ev(w->l->daemon), flush_done, f) == -1)
            free(f);
    }
}

/* SIGHUP: reopen the files; when the output's settings changed, a new output replaces the old
 * one (only with nothing pending, so no line is left behind in the old one). */
static void
do_reopen(struct logd_writer *w, struct logd_config *cfg)
{
    char err[GW_ERR_LEN] = "";
    struct gw_logfile *lf;

    if (gw_logfile_pending_bytes(w->lf))
        return;
    atomic_store(&w->reopen, 0);
    if (!logd_output_changed(cfg, w->lf_cfg)) {
        gw_logfile_reopen(w->lf);
        GW_LOG_INFO("output files reopened", "output=%s", cfg->output);
        return;
    }
    if ((lf = logd_output_open(cfg, err)) == NULL) {
        GW_LOG_ERROR("new output refused, the old one stays", "output=%s err=%s", cfg->output, err);
        return;
    }
    gw_logfile_free(w->lf);
    w->lf = lf;
    w->lf_cfg = cfg;
    memset(&w->last, 0, sizeof(w->last));
    GW_LOG_INFO("output changed", "output=%s", cfg->output);
}

static uint64_t
next_wait_ms(struct logd_writer *w)
{
    int64_t tick = gw_logfile_next_tick_ms(w->lf);
    uint64_t wait = w->failing ? RETRY_MS : IDLE_WAIT_MS;

    return tick >= 0 && (uint64_t)tick < wait ? (uint64_t)tick : wait;
}

/* Bytes queued in every lane (and taken but not committed); 0 when no batch is queued.
 * SIZE_MAX when a lane holds its producer back (it pushes and kicks only once drained). */
static size_t
lanes_bytes(struct logd_writer *w)
{
    unsigned n = atomic_load(&w->l->nlanes);
    size_t total = 0;

    for (unsigned i = 0; i < n; i++) {
        size_t bytes, batches;
        logd_lane_depth(w->l->lanes[i], &bytes, &batches);
        if (!batches)
            continue;
        if (logd_lane_held_back(w->l->lanes[i]))
            return SIZE_MAX;
        total += bytes ? bytes : 1;
    }
    return total;
}

static int
lanes_empty(struct logd_writer *w)
{
    return lanes_bytes(w) == 0;
}

/* What queued makes another round start at once (held-back inputs always do): no more than
 * a quarter of a lane's budget, so a small queue is not left to fill up. */
static size_t
again_bytes(const struct logd_config *cfg)
{
    return GW_MIN((size_t)AGAIN_BYTES, cfg->queue_bytes / 4);
}

/* One round: take, append, commit when due. Returns 1 when it should run again at once. */
static int
round_(struct logd_writer *w, struct flush_req **flushes, int stopping)
{
    struct logd_config *cfg = logd_cfg(w->l);
    char err[GW_ERR_LEN] = "";
    int full = 0, rc, urgent = *flushes || stopping || atomic_load(&w->hurry);

    if (atomic_load(&w->reopen) && !w->failing)
        do_reopen(w, cfg);
    if (!w->failing && w->held_bytes < cfg->batch_bytes)
        take(w, cfg->batch_bytes - w->held_bytes);
    if (!w->failing && (rc = append_held(w, cfg, err)) != 0) {
        if (rc == -1) {
            set_state(w, 1, 0, err);
            w->failing = 1;
        }
        full = rc == 1;
    }
    if (w->failing || full || urgent || cfg->fsync != LOGD_FSYNC_BATCH ||
        cfg->fsync_interval_ms == 0 || gw_logfile_pending_bytes(w->lf) >= cfg->batch_bytes) {
        rc = commit(w, 1);
        /* A commit rotates only the files it writes to; an idle file whose rotate_interval
         * ended rotates in the tick (with fsync_interval = 0, the default, it ran nowhere). */
        if (rc == 0 && gw_logfile_next_tick_ms(w->lf) == 0)
            rc = commit(w, 0);
    } else
        rc = commit(w, 0);
    if (*flushes)
        answer_flushes(w, flushes, rc == -1);
    /* Another round at once for a full output, when hurried, or when much is queued;
     * otherwise the next kick says when: every producer kicks for what it pushes (syslog TCP
     * within a millisecond, see stream.c); a lane that holds its input back (a refused push)
     * counts as much, as that input pushes and kicks only once the lane is drained. So a
     * trickle queued behind this round joins the next one instead of costing a write (and an
     * fsync) of its own. */
    return rc == 0 && (full || (urgent ? !lanes_empty(w) : lanes_bytes(w) >= again_bytes(cfg)));
}

static void *
writer_main(void *arg)
{
    struct logd_writer *w = arg;
    struct flush_req *flushes = NULL;

    gw_metrics_bind_thread(w->l->m.reg, w->l->nworkers + 1);
    for (;;) {
        uint64_t seen = atomic_load(&w->kicks);
        int stopping, again;

        pthread_mutex_lock(&w->mu);
        if (w->flush_wanted) {
            struct flush_req *last = w->flush_wanted;
            while (last->next)
                last = last->next;
            last->next = flushes;
            flushes = w->flush_wanted;
            w->flush_wanted = NULL;
        }
        stopping = w->stop;
        pthread_mutex_unlock(&w->mu);
        again = round_(w, &flushes, stopping);
        if (stopping && !w->held_bytes && lanes_empty(w))
            break;
        /* A disk that stays full at exit: give up after STOP_RETRY_MS, logged below. */
        if (stopping && w->failing && gw_mono_ms() >= w->stop_deadline_ms)
            break;
        if (again || (!w->failing && atomic_load(&w->kicks) != seen))
            continue;
        wait_for_work(w, seen, next_wait_ms(w));
    }
    answer_flushes(w, &flushes, 1);
    if (w->held_bytes || !lanes_empty(w)) {
        w->unwritten_at_exit = 1;
        GW_LOG_ERROR("exiting with unwritten logs (they were never acknowledged)",
                     "bytes=%zu err=%s", w->held_bytes, w->error);
    }
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
    w->lf_cfg = logd_cfg(l);
    if ((w->lf = logd_output_open(w->lf_cfg, err)) == NULL) {
        free(w);
        return NULL;
    }
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&w->thread, NULL, writer_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        errno = rc;
        gw_err_errno(err, "cannot start the writer thread");
        gw_logfile_free(w->lf);
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
    f->nlanes = atomic_load(&w->l->nlanes);
    for (unsigned i = 0; i < f->nlanes; i++)
        f->want[i] = logd_lane_pushed(w->l->lanes[i]);
    pthread_mutex_lock(&w->mu);
    f->next = w->flush_wanted;
    w->flush_wanted = f;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void
logd_writer_hurry(struct logd_writer *w)
{
    atomic_store(&w->hurry, 1);
    logd_writer_kick(w);
}

void
logd_writer_reopen(struct logd_writer *w)
{
    atomic_store(&w->reopen, 1);
    logd_writer_kick(w);
}

int
logd_writer_stop(struct logd_writer *w)
{
    struct flush_req *f, *next;
    unsigned n;
    int unwritten;

    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    w->stop_deadline_ms = gw_mono_ms() + STOP_RETRY_MS;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    unwritten = w->unwritten_at_exit;
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
    gw_logfile_free(w->lf);
    free(w->line);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    return unwritten;
}

void
logd_writer_stats(struct logd_writer *w, struct logd_writer_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    st->disk_full = w->disk_full;
    st->failing = w->write_error;
    gw_strlcpy(st->error, w->error, sizeof(st->error));
    pthread_mutex_unlock(&w->mu);
    st->disk_bytes = atomic_load(&w->disk_bytes);
    st->files_open = (unsigned)atomic_load(&w->open_files);
}
