/*
 * worker.c -- network threads: each runs its own gw_ev loop, connection loop and
 * SO_REUSEPORT listener (see worker.h).
 *
 * Drain and stop are flags read by the loop's wake-up callback, not posted calls: a post can
 * fail for want of memory, and a failed stop would hang the join.
 */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACCEPTS_PER_EVENT 64

struct gw_worker {
    struct gw_workers *ws;
    unsigned index;
    pthread_t thread;
    int started; /* the thread was created */
    int hooked;  /* on_start was called: on_stop will be */
    int start_rc;
    char start_err[GW_ERR_LEN];
    char fallback[GW_ERR_LEN]; /* why io_uring was not used, when it was chosen */
    const char *backend;       /* set before the start handshake, then fixed */
    struct gw_ev *ev;
    struct gw_conn_loop *loop;
    struct gw_listener *listener;
    atomic_int drain;
    atomic_int stop;
    void *data;
    atomic_uint_fast64_t accepted, refused;
    atomic_uint active;
};

struct gw_workers {
    struct gw_worker_opts o;
    struct gw_conn_proto proto; /* o.proto, with on_close counting the connection out */
    unsigned n;
    struct gw_worker **w;
    sem_t started;
    atomic_uint nconns;
    atomic_uint max_conns;
};

/* ---- accepted connections ---- */

static void
counted_close(struct gw_conn *c, const char *reason)
{
    struct gw_worker *w = gw_worker_of(gw_conn_loop_of(c));

    atomic_fetch_sub(&w->ws->nconns, 1);
    atomic_fetch_sub(&w->active, 1);
    if (w->ws->o.proto->on_close)
        w->ws->o.proto->on_close(c, reason);
}

static void
on_accept(struct gw_listener *l, int fd, const struct sockaddr *peer, socklen_t plen, void *arg)
{
    struct gw_worker *w = arg;
    struct gw_workers *ws = w->ws;
    unsigned max = atomic_load(&ws->max_conns);
    char err[GW_ERR_LEN];

    (void)l;
    if (max && atomic_load(&ws->nconns) >= max) {
        atomic_fetch_add(&w->refused, 1);
        if (ws->o.on_refuse)
            ws->o.on_refuse(w, fd, ws->o.arg);
        close(fd);
        return;
    }
    atomic_fetch_add(&ws->nconns, 1);
    atomic_fetch_add(&w->active, 1);
    atomic_fetch_add(&w->accepted, 1);
    if (gw_conn_adopt(w->loop, fd, peer, plen, &ws->proto, ws->o.arg, err) == NULL) {
        atomic_fetch_sub(&ws->nconns, 1);
        atomic_fetch_sub(&w->active, 1);
        atomic_fetch_sub(&w->accepted, 1);
        if (ws->o.on_adopt_error)
            ws->o.on_adopt_error(w, err, ws->o.arg);
    }
}

static void
on_accept_error(struct gw_listener *l, enum gw_listener_error what, int errnum, void *arg)
{
    struct gw_worker *w = arg;

    (void)l;
    if (w->ws->o.on_accept_error)
        w->ws->o.on_accept_error(w, what, errnum, w->ws->o.arg);
}

static int
start_listener(struct gw_worker *w, char *err)
{
    const struct gw_worker_opts *o = &w->ws->o;
    struct gw_listener_opts lo = {.on_accept = on_accept,
                                  .on_error = on_accept_error,
                                  .arg = w,
                                  .budget = ACCEPTS_PER_EVENT,
                                  .own_fd = 1};
    int fd = gw_net_listen_tcp(o->listen, o->backlog ? o->backlog : 1024, 1, err);

    if (fd == -1)
        return -1;
    if ((w->listener = gw_listener_new(w->ev, fd, &lo, err)) == NULL) {
        close(fd);
        return -1;
    }
    return 0;
}

/* ---- the thread ---- */

static void
drain_now(struct gw_worker *w)
{
    gw_listener_stop(w->listener);
    w->listener = NULL;
    if (w->ws->o.on_drain)
        w->ws->o.on_drain(w, w->ws->o.arg);
    gw_conn_loop_drain(w->loop);
}

static void
on_notice(struct gw_conn_loop *l, const char *msg, void *arg)
{
    struct gw_worker *w = arg;

    (void)l;
    if (w->ws->o.on_notice)
        w->ws->o.on_notice(w, msg, w->ws->o.arg);
}

static void
on_wake(struct gw_ev *ev, void *arg)
{
    struct gw_worker *w = arg;

    (void)ev;
    if (atomic_exchange(&w->drain, 0) == 1)
        drain_now(w);
    if (atomic_load(&w->stop))
        gw_conn_loop_stop(w->loop);
}

/* The loops are made on the worker's own thread (an io_uring ring with a single issuer must
 * be); gw_workers_start() waits for the outcome. */
static int
setup(struct gw_worker *w)
{
    const struct gw_worker_opts *o = &w->ws->o;
    enum gw_conn_io io = o->io;
    char why[GW_ERR_LEN];

    if ((w->ev = gw_ev_new(w->start_err)) == NULL)
        return -1;
    if (io == GW_CONN_IO_AUTO)
        io = gw_conn_uring_probe(why) == 0 ? GW_CONN_IO_URING : GW_CONN_IO_EPOLL;
    if ((w->loop = gw_conn_loop_new(w->ev, io, why)) == NULL) {
        /* The probe passed, yet this ring could not be made (memory, a limit): with auto
         * the worker still serves, on epoll. */
        if (io != GW_CONN_IO_URING || o->io != GW_CONN_IO_AUTO) {
            gw_err(w->start_err, "%s: %s", io == GW_CONN_IO_URING ? "io_uring" : "epoll", why);
            return -1;
        }
        gw_strlcpy(w->fallback, why, sizeof(w->fallback));
        if ((w->loop = gw_conn_loop_new(w->ev, GW_CONN_IO_EPOLL, w->start_err)) == NULL)
            return -1;
    }
    gw_conn_loop_set_owner(w->loop, w);
    gw_conn_loop_on_notice(w->loop, on_notice, w);
    w->backend = gw_conn_loop_backend(w->loop);
    gw_ev_on_wake(w->ev, on_wake, w);
    if (o->listen && start_listener(w, w->start_err) == -1)
        return -1;
    w->hooked = 1;
    if (o->on_start && o->on_start(w, o->arg, w->start_err) == -1)
        return -1;
    return 0;
}

static void
teardown(struct gw_worker *w)
{
    gw_listener_stop(w->listener);
    w->listener = NULL;
    gw_conn_loop_free(w->loop);
    w->loop = NULL;
    if (w->hooked && w->ws->o.on_stop)
        w->ws->o.on_stop(w, w->ws->o.arg);
    /* The gw_ev loop stays: other threads may still be waking it (drain, stop, posts); it
     * is freed after the join. */
}

static void *
run(void *arg)
{
    struct gw_worker *w = arg;
    char err[GW_ERR_LEN];

    w->start_rc = setup(w);
    if (w->start_rc == -1) {
        teardown(w);
        sem_post(&w->ws->started);
        return NULL;
    }
    sem_post(&w->ws->started);
    /* A poller failure ends this worker's service; the others go on. */
    (void)gw_conn_loop_run(w->loop, err);
    teardown(w);
    return NULL;
}

struct gw_workers *
gw_workers_start(const struct gw_worker_opts *o, unsigned *failed, char *err)
{
    struct gw_workers *ws = calloc(1, sizeof(*ws));

    if (failed)
        *failed = 0;
    if (!ws) {
        gw_err(err, "out of memory");
        return NULL;
    }
    ws->o = *o;
    ws->n = o->count ? o->count : gw_ncpus();
    if (o->proto)
        ws->proto = *o->proto;
    ws->proto.on_close = counted_close;
    atomic_init(&ws->max_conns, o->max_conns);
    sem_init(&ws->started, 0, 0);
    if ((ws->w = calloc(ws->n, sizeof(*ws->w))) == NULL) {
        gw_err(err, "out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < ws->n; i++) {
        struct gw_worker *w = calloc(1, sizeof(*w));
        if (!w) {
            gw_err(err, "out of memory");
            goto fail_at;
        }
        ws->w[i] = w;
        w->ws = ws;
        w->index = i;
        if (pthread_create(&w->thread, NULL, run, w) != 0) {
            gw_err(err, "cannot start worker thread");
            goto fail_at;
        }
        w->started = 1;
        while (sem_wait(&ws->started) == -1 && errno == EINTR)
            ;
        if (w->start_rc == -1) {
            gw_strlcpy(err, w->start_err, GW_ERR_LEN);
            goto fail_at;
        }
        continue;
    fail_at:
        if (failed)
            *failed = i;
        goto fail;
    }
    return ws;
fail:
    gw_workers_stop(ws);
    return NULL;
}

void
gw_workers_drain(struct gw_workers *ws)
{
    for (unsigned i = 0; i < ws->n; i++) {
        atomic_store(&ws->w[i]->drain, 1);
        gw_ev_wake(ws->w[i]->ev);
    }
}

void
gw_workers_stop(struct gw_workers *ws)
{
    if (!ws)
        return;
    for (unsigned i = 0; ws->w && i < ws->n; i++) {
        struct gw_worker *w = ws->w[i];
        if (!w)
            continue;
        if (w->started) {
            /* A worker that failed its start has already torn down and ended. */
            if (w->start_rc == 0) {
                atomic_store(&w->stop, 1);
                gw_ev_wake(w->ev);
            }
            pthread_join(w->thread, NULL);
        }
        if (w->ev)
            gw_ev_free(w->ev);
        free(w);
    }
    free(ws->w);
    sem_destroy(&ws->started);
    free(ws);
}

/* ---- getters ---- */

unsigned
gw_workers_count(const struct gw_workers *ws)
{
    return ws->n;
}

struct gw_worker *
gw_workers_get(const struct gw_workers *ws, unsigned index)
{
    return index < ws->n ? ws->w[index] : NULL;
}

const char *
gw_workers_backend(const struct gw_workers *ws)
{
    unsigned uring = 0;

    for (unsigned i = 0; i < ws->n; i++)
        if (strcmp(gw_worker_backend(ws->w[i]), "io_uring") == 0)
            uring++;
    if (uring == 0)
        return "epoll";
    return uring == ws->n ? "io_uring" : "io_uring+epoll";
}

unsigned
gw_workers_conns(const struct gw_workers *ws)
{
    return atomic_load(&ws->nconns);
}

void
gw_workers_set_max_conns(struct gw_workers *ws, unsigned max_conns)
{
    atomic_store(&ws->max_conns, max_conns);
}

int
gw_worker_post(struct gw_worker *w, gw_ev_fn fn, void *arg)
{
    return gw_ev_post(w->ev, fn, arg);
}

unsigned
gw_worker_index(const struct gw_worker *w)
{
    return w->index;
}

struct gw_ev *
gw_worker_ev(const struct gw_worker *w)
{
    return w->ev;
}

struct gw_conn_loop *
gw_worker_loop(const struct gw_worker *w)
{
    return w->loop;
}

const char *
gw_worker_backend(const struct gw_worker *w)
{
    return w->backend ? w->backend : "epoll";
}

const char *
gw_worker_fallback(const struct gw_worker *w)
{
    return w->fallback[0] ? w->fallback : NULL;
}

void
gw_worker_set_data(struct gw_worker *w, void *data)
{
    w->data = data;
}

void *
gw_worker_data(const struct gw_worker *w)
{
    return w->data;
}

struct gw_worker *
gw_worker_of(const struct gw_conn_loop *l)
{
    return gw_conn_loop_owner(l);
}

void
gw_worker_counters(const struct gw_worker *w, struct gw_worker_counters *out)
{
    out->accepted = atomic_load(&w->accepted);
    out->refused = atomic_load(&w->refused);
    out->active = atomic_load(&w->active);
}

/* ---- ask every worker ---- */

/* Shared by the caller's thread and the workers: refs counts the parts not yet back (or lost)
 * plus one held until done has run; whoever drops the last frees the job. */
struct ask_job {
    struct gw_workers *ws;
    struct gw_ev *reply_ev;
    gw_worker_ask_fn ask;
    gw_worker_done_fn done;
    void (*free_part)(void *);
    void *arg;
    struct gw_ev_timer timer;
    unsigned pending; /* reply thread only */
    int finished;     /* reply thread only: done has run */
    atomic_uint refs;
    void *parts[];
};

struct ask_part {
    struct ask_job *job;
    unsigned index;
    void *result;
};

static void
job_unref(struct ask_job *job)
{
    if (atomic_fetch_sub(&job->refs, 1) == 1)
        free(job);
}

static void
job_finish(struct ask_job *job)
{
    if (job->finished)
        return;
    job->finished = 1;
    gw_ev_timer_stop(job->reply_ev, &job->timer);
    job->done(job->parts, job->ws->n, job->arg);
    job_unref(job);
}

static void
ask_timeout(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    job_finish(arg);
}

static void
part_lost(struct ask_job *job)
{
    if (--job->pending == 0)
        job_finish(job);
}

/* On the reply thread. */
static void
ask_collected(struct gw_ev *ev, void *arg)
{
    struct ask_part *part = arg;
    struct ask_job *job = part->job;

    (void)ev;
    if (job->finished) {
        if (job->free_part && part->result)
            job->free_part(part->result);
    } else {
        job->parts[part->index] = part->result;
        part_lost(job);
    }
    free(part);
    job_unref(job);
}

/* On a worker's thread. */
static void
ask_run(struct gw_ev *ev, void *arg)
{
    struct ask_part *part = arg;
    struct ask_job *job = part->job;

    (void)ev;
    part->result = job->ask(job->ws->w[part->index], job->arg);
    if (gw_ev_post(job->reply_ev, ask_collected, part) == 0)
        return;
    /* The answer cannot be sent back: the job's timeout answers for this worker. */
    if (job->free_part && part->result)
        job->free_part(part->result);
    free(part);
    job_unref(job);
}

int
gw_workers_ask(struct gw_workers *ws, struct gw_ev *reply_ev, uint64_t timeout_ms,
               gw_worker_ask_fn ask, gw_worker_done_fn done, void (*free_part)(void *part),
               void *arg, char *err)
{
    struct ask_job *job = calloc(1, sizeof(*job) + ws->n * sizeof(void *));

    if (!job)
        return gw_err(err, "out of memory");
    job->ws = ws;
    job->reply_ev = reply_ev;
    job->ask = ask;
    job->done = done;
    job->free_part = free_part;
    job->arg = arg;
    job->pending = ws->n;
    atomic_init(&job->refs, ws->n + 1);
    gw_ev_timer_init(&job->timer, ask_timeout, job);
    if (gw_ev_timer_start(reply_ev, &job->timer, timeout_ms) == -1) {
        free(job);
        return gw_err(err, "out of memory");
    }
    /* The posts go out before any answer can be handled: this runs on reply_ev's thread. */
    for (unsigned i = 0; i < ws->n; i++) {
        struct ask_part *part = calloc(1, sizeof(*part));
        if (part) {
            part->job = job;
            part->index = i;
            if (gw_worker_post(ws->w[i], ask_run, part) == 0)
                continue;
            free(part);
        }
        /* Counted as answered empty, so the answer still comes. */
        atomic_fetch_sub(&job->refs, 1);
        part_lost(job);
    }
    return 0;
}
