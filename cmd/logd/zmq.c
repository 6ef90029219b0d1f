/*
 * zmq.c -- the ZeroMQ input: a PULL socket at zmq_listen, on a thread of its own (libzmq
 * sockets are not for sharing with the workers' loops). Each message is one syslog line, or
 * one native BATCH frame (it starts with the protocol's magic), so programs that already ship
 * logs over ZeroMQ can point at logd unchanged.
 *
 * ZeroMQ has no acknowledgements; backpressure is the socket's: while the lane is full the
 * thread stops receiving, messages queue up to the high-water mark, and then PUSH senders
 * block (their zmq_send waits), as ZeroMQ intends.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "log.h"
#include "logd.h"
#include "native.h"
#include "util.h"

#define POLL_MS 200
#define MSGS_PER_BATCH 256

struct logd_zmq {
    struct logd *l;
    void *ctx, *sock;
    pthread_t thread;
    atomic_int stop;
    struct logd_lane *lane;
    pthread_mutex_t mu;
    pthread_cond_t room;
    int has_room;
    struct gw_native_scratch scratch;
    int tz_offset_s;
};

static void
on_note(void *arg, unsigned notes)
{
    struct logd_zmq *z = arg;

    if (!(notes & LOGD_NOTE_SPACE))
        return;
    pthread_mutex_lock(&z->mu);
    z->has_room = 1;
    pthread_cond_signal(&z->room);
    pthread_mutex_unlock(&z->mu);
}

/* Pushes b, waiting for room as long as it takes (or until stop). */
static void
push(struct logd_zmq *z, struct logd_batch *b)
{
    uint64_t t0 = 0;

    while (logd_lane_push(z->lane, b, atomic_load(&z->stop) ? LOGD_PUSH_FORCE : 0) == 0) {
        struct timespec ts;
        if (!t0)
            t0 = gw_mono_ns();
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += POLL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&z->mu);
        if (!z->has_room)
            pthread_cond_timedwait(&z->room, &z->mu, &ts);
        z->has_room = 0;
        pthread_mutex_unlock(&z->mu);
    }
    if (t0)
        atomic_fetch_add(&z->l->m.backpressure_ns[LOGD_IN_ZMQ], gw_mono_ns() - t0);
}

/* A message that is a native BATCH frame: its records, or -1 (counted, dropped). */
static int
native_msg(struct logd_zmq *z, const char *p, size_t n, struct logd_batch **out)
{
    const struct logd_config *cfg = logd_cfg(z->l);
    struct gw_native_limits lim = {(uint32_t)cfg->max_frame_bytes,
                                   (uint32_t)GW_MIN(cfg->max_frame_bytes * 4, UINT32_MAX / 2),
                                   65536};
    struct gw_native_frame f;
    struct gw_native_batch nb;
    char err[GW_ERR_LEN];
    size_t used;
    int code;

    if (gw_native_frame_decode(p, n, &lim, &f, &used, &code, err) != 1 || used != n ||
        f.type != GW_NATIVE_BATCH ||
        gw_native_batch_open(&nb, &f, &lim, &z->scratch, &code, err) == -1 ||
        (*out = logd_native_convert(z->l, LOGD_IN_ZMQ, "zmq", &nb)) == NULL) {
        gw_metrics_add(z->l->m.reg, z->l->m.native_bad_frames, 1);
        GW_LOG_DEBUG("zmq: native frame dropped", "bytes=%zu", n);
        return -1;
    }
    return 0;
}

static int
is_native(const char *p, size_t n)
{
    return n >= GW_NATIVE_HDR_LEN && (unsigned char)p[0] == 0x47 && p[1] == 'W' && p[2] == 'L' &&
           p[3] == '1';
}

static void
receive(struct logd_zmq *z)
{
    struct logd *l = z->l;
    struct logd_batch *b = NULL;
    zmq_msg_t m;
    int64_t now = gw_wall_ms();

    for (int i = 0; i < MSGS_PER_BATCH; i++) {
        const char *p;
        size_t n, max = logd_cfg(l)->max_line_bytes;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z->sock, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&m);
            break;
        }
        p = zmq_msg_data(&m);
        n = zmq_msg_size(&m);
        if (is_native(p, n)) {
            struct logd_batch *nb;
            /* The lines before it first: a sender's order is kept. */
            if (b && b->nrec) {
                push(z, b);
                b = NULL;
            }
            if (native_msg(z, p, n, &nb) == 0)
                push(z, nb);
        } else if (b || (b = logd_batch_new()) != NULL) {
            /* A message is one line: a trailing LF (or CR LF) is framing. */
            if (logd_syslog_rec(b, LOGD_IN_ZMQ, p, GW_MIN(n, max), n > max, "zmq", now,
                                z->tz_offset_s) == 0)
                logd_count_rec(l, &b->recs[b->nrec - 1], n);
        }
        zmq_msg_close(&m);
    }
    if (b && b->nrec)
        push(z, b);
    else
        logd_batch_free(b);
}

static void *
zmq_main(void *arg)
{
    struct logd_zmq *z = arg;
    zmq_pollitem_t item = {z->sock, 0, ZMQ_POLLIN, 0};

    gw_metrics_bind_thread(z->l->m.reg, z->l->nworkers + 2);
    while (!atomic_load(&z->stop)) {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        z->tz_offset_s = (int)tm.tm_gmtoff;
        if (zmq_poll(&item, 1, POLL_MS) > 0)
            receive(z);
    }
    return NULL;
}

struct logd_zmq *
logd_zmq_start(struct logd *l, char *err)
{
    struct logd_zmq *z = calloc(1, sizeof(*z));
    int hwm = 10000, linger = 0, rc;
    int64_t maxmsg;
    sigset_t all, old;

    if (!z) {
        gw_err(err, "out of memory");
        return NULL;
    }
    z->l = l;
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->room, NULL);
    if ((z->lane = logd_lane_new(l, "zmq", on_note, z)) == NULL) {
        gw_err(err, "cannot make the zmq queue");
        goto fail;
    }
    if ((z->ctx = zmq_ctx_new()) == NULL || (z->sock = zmq_socket(z->ctx, ZMQ_PULL)) == NULL) {
        gw_err(err, "zmq: %s", zmq_strerror(errno));
        goto fail;
    }
    zmq_setsockopt(z->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    /* libzmq buffers each message whole before logd sees it: without a cap one 2 GiB message
     * is 2 GiB of logd's memory. Nothing longer can be used anyway (a native frame is refused
     * past max_frame, a line cut at max_line); libzmq drops the peer that sends one. */
    maxmsg = GW_NATIVE_HDR_LEN +
             (int64_t)GW_MAX(logd_cfg(l)->max_frame_bytes, logd_cfg(l)->max_line_bytes);
    zmq_setsockopt(z->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(z->sock, l->zmq_str) == -1) {
        gw_err(err, "zmq bind %s: %s", l->zmq_str, zmq_strerror(errno));
        goto fail;
    }
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&z->thread, NULL, zmq_main, z);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        errno = rc;
        gw_err_errno(err, "cannot start the zmq thread");
        goto fail;
    }
    return z;
fail:
    if (z->lane)
        logd_lane_detach(z->lane);
    if (z->sock)
        zmq_close(z->sock);
    if (z->ctx)
        zmq_ctx_term(z->ctx);
    free(z);
    return NULL;
}

void
logd_zmq_stop(struct logd_zmq *z)
{
    if (!z)
        return;
    atomic_store(&z->stop, 1);
    pthread_mutex_lock(&z->mu);
    pthread_cond_signal(&z->room);
    pthread_mutex_unlock(&z->mu);
    pthread_join(z->thread, NULL);
    logd_lane_detach(z->lane);
    zmq_close(z->sock);
    zmq_ctx_term(z->ctx);
    gw_native_scratch_free(&z->scratch);
    pthread_mutex_destroy(&z->mu);
    pthread_cond_destroy(&z->room);
    free(z);
}
