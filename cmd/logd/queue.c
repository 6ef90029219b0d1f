/*
 * queue.c -- records, batches and lanes: the bounded hand-over from the inputs to the writer.
 *
 * One lane per producing thread, so a lane's lock is only ever shared by its producer and the
 * writer (no global lock on the message path), and each lane's sequence numbers give its
 * producer a cheap way to know what became durable: the writer commits a lane's batches in
 * push order, so "durable up to N" is one number.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logd.h"

const char *const logd_input_names[LOGD_NINPUTS] = {"syslog_udp", "syslog_tcp", "unix",
                                                    "native",     "zmq",        "http"};

const char *const logd_field_names[LOGD_NFIELDS] = {"host", "app", "procid", "msgid",
                                                    "sd",   "msg", "raw",    "peer"};

struct logd_batch *
logd_batch_new(void)
{
    return calloc(1, sizeof(struct logd_batch));
}

void
logd_batch_free(struct logd_batch *b)
{
    if (!b)
        return;
    free(b->recs);
    free(b->arena);
    free(b);
}

size_t
logd_batch_bytes(const struct logd_batch *b)
{
    return sizeof(*b) + b->cap + b->caprec * sizeof(struct logd_rec);
}

int
logd_batch_reserve(struct logd_batch *b, size_t nrec, size_t bytes)
{
    if (nrec > b->caprec) {
        struct logd_rec *p = realloc(b->recs, nrec * sizeof(*p));
        if (!p)
            return -1;
        b->recs = p;
        b->caprec = nrec;
    }
    if (bytes > b->cap) {
        char *a = realloc(b->arena, bytes);
        if (!a)
            return -1;
        b->arena = a;
        b->cap = bytes;
    }
    return 0;
}

struct logd_rec *
logd_batch_rec(struct logd_batch *b, enum logd_input input, int64_t now_ms)
{
    struct logd_rec *r;

    if (b->nrec == b->caprec) {
        size_t n = b->caprec ? b->caprec * 2 : 16;
        struct logd_rec *p = realloc(b->recs, n * sizeof(*p));
        if (!p)
            return NULL;
        b->recs = p;
        b->caprec = n;
    }
    r = &b->recs[b->nrec++];
    memset(r, 0, sizeof(*r));
    r->time_ms = r->recv_ms = now_ms;
    r->facility = r->severity = -1;
    r->input = (uint8_t)input;
    return r;
}

void
logd_batch_unrec(struct logd_batch *b)
{
    if (b->nrec)
        b->nrec--;
}

int
logd_batch_field(struct logd_batch *b, struct logd_rec *r, enum logd_field f, const void *p,
                 size_t len)
{
    /* Offsets are 32-bit: a batch stays far below 4 GiB (queue_size caps it). */
    if (len > UINT32_MAX - b->used)
        return -1;
    if (b->used + len > b->cap) {
        size_t n = b->cap ? b->cap : 4096;
        char *a;
        while (n < b->used + len)
            n *= 2;
        if ((a = realloc(b->arena, n)) == NULL)
            return -1;
        b->arena = a;
        b->cap = n;
    }
    if (len)
        memcpy(b->arena + b->used, p, len);
    r->off[f] = (uint32_t)b->used;
    r->len[f] = (uint32_t)len;
    b->used += len;
    return 0;
}

/* ---- lanes ---- */

struct logd_lane {
    struct logd *l;
    char name[32];
    pthread_mutex_t mu;
    pthread_cond_t durable_cv;
    struct logd_batch *head, *tail; /* waiting for the writer */
    size_t bytes;                   /* queued and in the writer's hands, not yet committed */
    size_t batches;
    uint64_t pushed;  /* last sequence number given */
    int want_space;   /* a push was refused: note the producer at half the budget */
    int want_durable; /* a pushed batch wants a durable note */
    int waiters;      /* threads in logd_lane_wait */
    atomic_uint_fast64_t durable;
    logd_lane_fn fn;
    void *arg;
};

struct logd_lane *
logd_lane_new(struct logd *l, const char *name, logd_lane_fn fn, void *arg)
{
    struct logd_lane *q;
    unsigned n = atomic_load(&l->nlanes);

    if (n >= LOGD_MAX_LANES || (q = calloc(1, sizeof(*q))) == NULL)
        return NULL;
    q->l = l;
    gw_strlcpy(q->name, name, sizeof(q->name));
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->durable_cv, &ca);
    pthread_condattr_destroy(&ca);
    q->fn = fn;
    q->arg = arg;
    /* Lanes are only added, never removed before exit: the writer reads the count, then the
     * slots below it, which were filled before the count was published. Lanes are made at
     * start-up, on the main thread, so no two threads race for a slot. */
    l->lanes[n] = q;
    atomic_store_explicit(&l->nlanes, n + 1, memory_order_release);
    return q;
}

uint64_t
logd_lane_push(struct logd_lane *q, struct logd_batch *b, unsigned flags)
{
    size_t bytes = logd_batch_bytes(b);
    size_t budget = logd_cfg(q->l)->queue_bytes;
    uint64_t seq;

    pthread_mutex_lock(&q->mu);
    if (q->bytes && q->bytes + bytes > budget && !(flags & LOGD_PUSH_FORCE)) {
        q->want_space = 1;
        pthread_mutex_unlock(&q->mu);
        /* The writer may have gone to sleep on a lane that held nobody back: it must drain
         * this one now (the producer pushes nothing more until it has). */
        logd_writer_kick(q->l->writer);
        return 0;
    }
    b->next = NULL;
    b->lane_seq = seq = ++q->pushed;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
    q->bytes += bytes;
    q->batches++;
    if (flags & LOGD_PUSH_DURABLE)
        q->want_durable = 1;
    pthread_mutex_unlock(&q->mu);
    if (!(flags & LOGD_PUSH_NOKICK))
        logd_writer_kick(q->l->writer);
    return seq;
}

uint64_t
logd_lane_durable(const struct logd_lane *q)
{
    return atomic_load_explicit(&q->durable, memory_order_acquire);
}

int
logd_lane_wait(struct logd_lane *q, uint64_t seq, uint64_t timeout_ms)
{
    struct timespec ts;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->mu);
    q->waiters++;
    while (logd_lane_durable(q) < seq && rc == 0)
        if (pthread_cond_timedwait(&q->durable_cv, &q->mu, &ts) == ETIMEDOUT)
            rc = logd_lane_durable(q) < seq ? -1 : 0;
    q->waiters--;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

uint64_t
logd_lane_pushed(struct logd_lane *q)
{
    uint64_t seq;

    pthread_mutex_lock(&q->mu);
    seq = q->pushed;
    pthread_mutex_unlock(&q->mu);
    return seq;
}

const char *
logd_lane_name(const struct logd_lane *q)
{
    return q->name;
}

void
logd_lane_depth(const struct logd_lane *q, size_t *bytes, size_t *batches)
{
    pthread_mutex_lock((pthread_mutex_t *)&q->mu);
    *bytes = q->bytes;
    *batches = q->batches;
    pthread_mutex_unlock((pthread_mutex_t *)&q->mu);
}

int
logd_lane_held_back(const struct logd_lane *q)
{
    int held;

    pthread_mutex_lock((pthread_mutex_t *)&q->mu);
    held = q->want_space && q->batches;
    pthread_mutex_unlock((pthread_mutex_t *)&q->mu);
    return held;
}

struct logd_batch *
logd_lane_take(struct logd_lane *q, size_t max_bytes)
{
    struct logd_batch *first, *last = NULL, *b;
    size_t taken = 0;

    pthread_mutex_lock(&q->mu);
    first = q->head;
    for (b = q->head; b && (!last || taken + logd_batch_bytes(b) <= max_bytes); b = b->next) {
        taken += logd_batch_bytes(b);
        last = b;
    }
    if (last) {
        q->head = last->next;
        if (!q->head)
            q->tail = NULL;
        last->next = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    return last ? first : NULL;
}

void
logd_lane_done(struct logd_lane *q, uint64_t seq, size_t bytes, size_t batches)
{
    unsigned notes = 0;
    size_t budget = logd_cfg(q->l)->queue_bytes;

    pthread_mutex_lock(&q->mu);
    q->bytes -= GW_MIN(bytes, q->bytes);
    q->batches -= GW_MIN(batches, q->batches);
    if (seq > logd_lane_durable(q)) {
        atomic_store_explicit(&q->durable, seq, memory_order_release);
        if (q->want_durable) {
            notes |= LOGD_NOTE_DURABLE;
            q->want_durable = q->pushed > seq;
        }
        if (q->waiters)
            pthread_cond_broadcast(&q->durable_cv);
    }
    if (q->want_space && q->bytes <= budget / 2) {
        q->want_space = 0;
        notes |= LOGD_NOTE_SPACE;
    }
    /* Under the lock, so logd_lane_detach() can wait out a note in progress. */
    if (notes && q->fn)
        q->fn(q->arg, notes);
    pthread_mutex_unlock(&q->mu);
}

void
logd_lane_detach(struct logd_lane *q)
{
    pthread_mutex_lock(&q->mu);
    q->fn = NULL;
    pthread_mutex_unlock(&q->mu);
}

void
logd_lanes_free(struct logd *l)
{
    unsigned n = atomic_load(&l->nlanes);

    for (unsigned i = 0; i < n; i++) {
        struct logd_lane *q = l->lanes[i];
        struct logd_batch *b = q->head, *next;
        for (; b; b = next) {
            next = b->next;
            logd_batch_free(b);
        }
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->durable_cv);
        free(q);
        l->lanes[i] = NULL;
    }
    atomic_store(&l->nlanes, 0);
}
