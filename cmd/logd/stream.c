/*
 * stream.c -- syslog over TCP: RFC 6587 framing (octet counting or LF, per frame, as rsyslog's
 * imtcp), one batch per connection per loop iteration, and the backpressure shared with the
 * native protocol: a batch the full lane refuses stays with its connection, which stops reading
 * until the writer makes room.
 *
 * Why per iteration, not per read: a read brings a few KiB (io_uring hands out 2 KiB buffers),
 * and every push may wake the writer, which on a loaded machine (or pinned to the same CPU)
 * preempts the worker: a push per read cost two context switches per ~8 lines. So the records
 * of every read a connection gets in one iteration gather in its filling batch, and a deferred
 * call after the iteration's events pushes every filling batch and wakes the writer once
 * (input.c's logd_worker_defer_flush, which the datagram inputs share).
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "logd.h"
#include "syslog.h"
#include "worker.h"

struct logd_syslog_framer {
    struct gw_syslog_framer fr;
    /* The bytes of an unfinished frame when the last read ended: the next read finishes it,
     * or the end of the stream delivers it. */
    char *rest;
    size_t rest_len, rest_cap;
};

/* A filling batch is pushed at once past this size (bounded memory per connection, and the
 * writer starts on it sooner). */
#define FILL_MAX_BYTES (256 * 1024)

/* The daemon, for limits(): the layer may ask for them before on_open has set the user. */
struct logd *logd_stream_logd;

static const struct gw_conn_limits *
limits(struct gw_conn *c)
{
    struct logd_config *cfg = logd_cfg(logd_stream_logd);
    static _Thread_local struct gw_conn_limits lim;

    (void)c;
    lim.max_in = cfg->max_line_bytes + GW_SYSLOG_FRAME_SLACK + 64;
    lim.idle_ms = cfg->idle_timeout_ms;
    return &lim;
}

static void
on_open(struct gw_conn *c)
{
    struct logd *l = gw_conn_user(c);
    struct logd_worker *ws = &l->ws[gw_worker_index(gw_worker_of(gw_conn_loop_of(c)))];
    struct logd_conn *lc = calloc(1, sizeof(*lc));

    if (!lc || (lc->framer = calloc(1, sizeof(*lc->framer))) == NULL) {
        free(lc);
        gw_conn_set_user(c, NULL);
        gw_conn_close(c, GW_CONN_OUT_OF_MEMORY);
        return;
    }
    gw_syslog_framer_init(&lc->framer->fr, logd_cfg(l)->max_line_bytes, 0, 0);
    logd_conn_opened(lc, ws, c, LOGD_IN_TCP);
}

static void
add_frame(struct logd_conn *lc, struct logd_batch *b, const struct gw_syslog_frame *fr, int64_t now,
          int tz, struct logd_tally *t)
{
    if (logd_syslog_rec(b, LOGD_IN_TCP, fr->data.ptr, fr->data.len, fr->truncated, lc->peer, now,
                        tz) == 0)
        logd_tally_rec(t, &b->recs[b->nrec - 1], fr->data.len);
}

size_t
logd_stream_flush(struct logd_worker *ws)
{
    struct logd_conn *lc;
    size_t pushed = 0;

    while ((lc = ws->filling) != NULL) {
        struct logd_batch *b = lc->filling;
        ws->filling = lc->next_filling;
        lc->next_filling = NULL;
        lc->on_filling = 0;
        lc->filling = NULL;
        if (b) {
            lc->fill_recs = b->nrec;
            lc->fill_bytes = b->used;
        }
        if (b && b->nrec) {
            pushed += logd_batch_bytes(b);
            logd_stream_push_nokick(ws, lc, b, 0);
        } else {
            logd_batch_free(b);
        }
    }
    return pushed;
}

/* The batch lc's input of this iteration goes into: created (and flushed after the iteration)
 * when lc has none. NULL when memory ran out. */
static struct logd_batch *
filling_batch(struct logd_conn *lc)
{
    struct logd_worker *ws = lc->ws;

    if (lc->filling)
        return lc->filling;
    if ((lc->filling = logd_batch_new()) == NULL)
        return NULL;
    /* As big as the last one: a steady sender's batches then never grow (a copy each time). */
    (void)logd_batch_reserve(lc->filling, lc->fill_recs + lc->fill_recs / 4,
                             lc->fill_bytes + lc->fill_bytes / 4);
    if (logd_worker_defer_flush(ws) == -1)
        return lc->filling; /* pushed at the end of on_data instead */
    if (!lc->on_filling) {
        lc->on_filling = 1;
        lc->next_filling = ws->filling;
        ws->filling = lc;
    }
    return lc->filling;
}

/* lc's filling batch now, outside the deferred flush (too big, or lc closing). */
static void
push_filling(struct logd_conn *lc, int force)
{
    struct logd_batch *b = lc->filling;

    lc->filling = NULL;
    if (!b || !b->nrec) {
        logd_batch_free(b);
        return;
    }
    if (force)
        logd_lane_push(lc->ws->lane, b, LOGD_PUSH_FORCE);
    else
        logd_stream_push(lc->ws, lc, b, 0);
}

static void
unlink_filling(struct logd_worker *ws, struct logd_conn *lc)
{
    if (!lc->on_filling)
        return;
    for (struct logd_conn **p = &ws->filling; *p; p = &(*p)->next_filling)
        if (*p == lc) {
            *p = lc->next_filling;
            break;
        }
    lc->next_filling = NULL;
    lc->on_filling = 0;
}

/* Appends to the kept start of an unfinished frame. -1 when memory ran out. */
static int
rest_append(struct logd_syslog_framer *f, const char *p, size_t n)
{
    if (n == 0) /* nothing kept yet may mean no buffer: memcpy wants one even for 0 bytes */
        return 0;
    if (f->rest_len + n > f->rest_cap) {
        size_t cap = f->rest_cap ? f->rest_cap : 512;
        char *r;
        while (cap < f->rest_len + n)
            cap *= 2;
        if ((r = realloc(f->rest, cap)) == NULL)
            return -1;
        f->rest = r;
        f->rest_cap = cap;
    }
    memcpy(f->rest + f->rest_len, p, n);
    f->rest_len += n;
    return 0;
}

/* Frames p[0..n) into b; returns the bytes consumed, the framer's last answer in *rc. */
static size_t
frame_all(struct logd_conn *lc, struct logd_batch *b, const char *p, size_t n, int64_t now, int tz,
          struct logd_tally *t, int *rc, char *err)
{
    struct gw_syslog_frame fr;
    size_t off = 0, used;

    while ((*rc = gw_syslog_frame_next(&lc->framer->fr, p + off, n - off, &fr, &used, err)) >= 0) {
        if (*rc == 1)
            add_frame(lc, b, &fr, now, tz, t);
        off += used;
        if (*rc == 0)
            break;
    }
    return off;
}

size_t
logd_fill_max(struct logd *l)
{
    return GW_MIN(logd_cfg(l)->batch_bytes, (size_t)FILL_MAX_BYTES);
}

static size_t
on_data(struct gw_conn *c, char *data, size_t len)
{
    struct logd_conn *lc = gw_conn_user(c);
    struct logd_worker *ws = lc->ws;
    struct logd_syslog_framer *f = lc->framer;
    struct logd_batch *b;
    struct logd_tally t = {0};
    char err[GW_ERR_LEN];
    size_t off = 0;
    int64_t now;
    int rc = 0, tz;

    /* Input that comes while the connection waits (io_uring may deliver some after the
     * pause) joins the waiting batch: kept in order, and not left to overflow max_in. */
    if ((b = lc->blocked) == NULL && (b = filling_batch(lc)) == NULL)
        return 0;
    if (ws->fill_deferred) {
        now = ws->fill_now_ms;
        tz = ws->fill_tz;
    } else {
        now = gw_wall_ms();
        tz = logd_local_offset(ws);
    }
    /* The start of an unfinished frame is kept here rather than left to the connection
     * layer, which would copy each later read whole behind it: only the bytes that finish the
     * frame are appended to it, the rest is framed where it lies. */
    while (f->rest_len && off < len && rc >= 0) {
        size_t need = gw_syslog_frame_need(&f->fr, f->rest_len, data + off, len - off), k;
        if (need == 0)
            need = len - off; /* not inside a frame (cannot happen): framed all the same */
        if (rest_append(f, data + off, need) == -1)
            goto nomem;
        off += need;
        k = frame_all(lc, b, f->rest, f->rest_len, now, tz, &t, &rc, err);
        memmove(f->rest, f->rest + k, f->rest_len - k);
        f->rest_len -= k;
        if (!f->rest_len && f->rest_cap > 16384) {
            /* A long line is over: an idle connection does not keep its room. */
            free(f->rest);
            f->rest = NULL;
            f->rest_cap = 0;
        }
    }
    if (!f->rest_len && rc >= 0) {
        off += frame_all(lc, b, data + off, len - off, now, tz, &t, &rc, err);
        if (rc >= 0 && rest_append(f, data + off, len - off) == -1)
            goto nomem;
    }
    if (t.n) {
        gw_conn_touch(c);
        logd_tally_flush(ws->l, LOGD_IN_TCP, &t);
    }
    /* Past its size, or with no flush to come (out of memory for the deferred call). */
    if (b == lc->filling && (!lc->on_filling || logd_batch_bytes(b) >= logd_fill_max(ws->l)))
        push_filling(lc, 0);
    if (rc < 0) {
        GW_LOG_DEBUG("syslog framing error, closing", "peer=%s err=%s", lc->peer, err);
        gw_conn_close(c, err);
    }
    return len;
nomem:
    if (t.n)
        logd_tally_flush(ws->l, LOGD_IN_TCP, &t);
    if (b == lc->filling && !lc->on_filling)
        push_filling(lc, 0);
    gw_conn_close(c, GW_CONN_OUT_OF_MEMORY);
    return len;
}

static void
on_eof(struct gw_conn *c)
{
    struct logd_conn *lc = gw_conn_user(c);
    struct logd_syslog_framer *f = lc->framer;
    struct gw_syslog_frame fr;
    struct logd_batch *b;
    struct logd_tally t = {0};
    char err[GW_ERR_LEN];

    /* Into the filling batch, after what this iteration read before. */
    if (f->rest_len && gw_syslog_frame_eof(&f->fr, f->rest, f->rest_len, &fr, err) == 1 &&
        ((b = lc->blocked) != NULL || (b = filling_batch(lc)) != NULL)) {
        add_frame(lc, b, &fr, gw_wall_ms(), logd_local_offset(lc->ws), &t);
        logd_tally_flush(lc->ws->l, LOGD_IN_TCP, &t);
        f->rest_len = 0;
        if (b == lc->filling && !lc->on_filling)
            push_filling(lc, 0);
    }
    gw_conn_finish(c);
}

static void
unlink_blocked(struct logd_worker *ws, struct logd_conn *lc)
{
    struct logd_conn *prev = NULL;

    for (struct logd_conn *p = ws->blocked; p; prev = p, p = p->next_blocked) {
        if (p != lc)
            continue;
        if (prev)
            prev->next_blocked = p->next_blocked;
        else
            ws->blocked = p->next_blocked;
        if (ws->blocked_tail == p)
            ws->blocked_tail = prev;
        break;
    }
    lc->next_blocked = NULL;
}

void
logd_conn_opened(struct logd_conn *lc, struct logd_worker *ws, struct gw_conn *c,
                 enum logd_input input)
{
    struct logd *l = ws->l;

    lc->ws = ws;
    lc->c = c;
    lc->input = (uint8_t)input;
    gw_strlcpy(lc->peer, gw_conn_addr(c), sizeof(lc->peer));
    gw_conn_set_user(c, lc);
    atomic_fetch_add(&l->nconns, 1);
    gw_metrics_add(l->m.reg, l->m.connections_total, 1);
    gw_metrics_add(l->m.reg, l->m.active_connections, 1);
}

void
logd_conn_closed(struct logd_conn *lc)
{
    struct logd *l = lc->ws->l;

    /* What a closing connection sent is kept even past the budget: it was read, and a stream
     * sender has no way to know it should send it again. */
    unlink_filling(lc->ws, lc);
    if (lc->blocked) {
        uint64_t seq;
        unlink_blocked(lc->ws, lc);
        seq = logd_lane_push(lc->ws->lane, lc->blocked, LOGD_PUSH_FORCE);
        /* A native batch was accepted: its session must wait for it before acknowledging
         * anything after it. */
        if (lc->blocked_durable)
            logd_native_pending(lc, seq);
        lc->blocked = NULL;
    }
    /* Never both: a refused filling batch becomes the blocked one. */
    if (lc->filling)
        push_filling(lc, 1);
    atomic_fetch_sub(&l->nconns, 1);
    gw_metrics_sub(l->m.reg, l->m.active_connections, 1);
}

static void
on_close(struct gw_conn *c, const char *reason)
{
    struct logd_conn *lc = gw_conn_user(c);

    (void)reason;
    if (!lc)
        return;
    logd_conn_closed(lc);
    free(lc->framer->rest);
    free(lc->framer);
    free(lc);
}

const struct gw_conn_proto logd_stream_proto = {
    .name = "syslog-tcp",
    .limits = limits,
    .on_open = on_open,
    .on_data = on_data,
    .on_eof = on_eof,
    .on_close = on_close,
};

static void
stream_push(struct logd_worker *ws, struct logd_conn *lc, struct logd_batch *b, int want_durable,
            unsigned flags)
{
    uint64_t seq =
        ws->blocked ? 0
                    : logd_lane_push(ws->lane, b, flags | (want_durable ? LOGD_PUSH_DURABLE : 0));

    /* Behind connections already waiting, so the lane's room goes to them first. */
    if (seq) {
        if (want_durable)
            logd_native_pushed(lc, seq);
        return;
    }
    lc->blocked = b;
    lc->blocked_durable = want_durable;
    lc->blocked_since_ns = gw_mono_ns();
    lc->next_blocked = NULL;
    if (ws->blocked_tail)
        ws->blocked_tail->next_blocked = lc;
    else
        ws->blocked = lc;
    ws->blocked_tail = lc;
    gw_conn_pause_read(lc->c);
}

void
logd_stream_push(struct logd_worker *ws, struct logd_conn *lc, struct logd_batch *b,
                 int want_durable)
{
    stream_push(ws, lc, b, want_durable, 0);
}

void
logd_stream_push_nokick(struct logd_worker *ws, struct logd_conn *lc, struct logd_batch *b,
                        int want_durable)
{
    stream_push(ws, lc, b, want_durable, LOGD_PUSH_NOKICK);
}

void
logd_stream_unblock(struct logd_worker *ws)
{
    struct logd *l = ws->l;
    struct logd_conn *lc;
    int pushed = 0;

    while ((lc = ws->blocked) != NULL) {
        uint64_t seq =
            logd_lane_push(ws->lane, lc->blocked,
                           LOGD_PUSH_NOKICK | (lc->blocked_durable ? LOGD_PUSH_DURABLE : 0));
        if (!seq)
            break;
        pushed = 1;
        ws->blocked = lc->next_blocked;
        if (!ws->blocked)
            ws->blocked_tail = NULL;
        lc->next_blocked = NULL;
        lc->blocked = NULL;
        atomic_fetch_add(&l->m.backpressure_ns[lc->input], gw_mono_ns() - lc->blocked_since_ns);
        if (lc->blocked_durable)
            logd_native_pushed(lc, seq);
        gw_conn_resume_read(lc->c);
    }
    if (pushed)
        logd_writer_kick(l->writer);
}
