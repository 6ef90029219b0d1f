/*
 * native.c -- the native acknowledged protocol over TCP (lib/native.h): HELLO/WELCOME, one
 * batch per BATCH frame, and ACKs that never run ahead of the files.
 *
 * Sessions outlive connections: a client that reconnects (maybe to another worker) resends
 * what was not acknowledged, and the session's marks say what it already sent (accepted) and
 * what is on disk (durable). A session's batches are acknowledged in the order they were
 * queued, whichever lane they went through: its pending list pairs each accepted native seq
 * with the lane and lane sequence number that carry it, and the durable mark moves past an
 * entry only once that lane's durable number has. Acknowledgements go out when the worker's
 * lane reports durable batches, and every ACK_POLL_MS while a connection waits on batches of
 * another worker's lane (after a reconnect).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "logd.h"
#include "native.h"
#include "worker.h"

#define ACK_POLL_MS 20
#define SESSION_BUCKETS 1024
#define SESSION_MAX 10000
#define SESSION_IDLE_MS (3600 * 1000)
#define MAX_RECORDS 65536

struct pending {
    struct logd_lane *lane;
    uint64_t lane_seq, seq;
};

struct session {
    struct session *next;
    uint64_t id;
    uint64_t accepted, durable;
    struct pending *q; /* in native seq order */
    size_t head, len, cap;
    unsigned unpushed; /* accepted batches still waiting for room in their lane */
    unsigned refs;
    uint64_t last_ms;
};

static struct {
    pthread_mutex_t mu;
    struct session *buckets[SESSION_BUCKETS];
    size_t count;
} sessions = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct logd_native {
    int welcomed;
    struct session *s;
    uint64_t prev_seq; /* the last BATCH seq on this connection */
    uint64_t want;     /* the highest seq this connection must see acknowledged */
    uint64_t acked;    /* the last ACK sent */
    uint64_t pushing;  /* native seq of the batch being pushed (for logd_native_pushed) */
    int waiting;       /* that batch waits for room (counted in its session's unpushed) */
    struct gw_native_scratch scratch;
};

/* ---- sessions (any worker; one mutex, taken per batch, never per record) ---- */

static void
forget_idle(uint64_t now)
{
    for (size_t i = 0; i < SESSION_BUCKETS; i++) {
        for (struct session **p = &sessions.buckets[i]; *p;) {
            struct session *s = *p;
            if (!s->refs && !s->len &&
                (now - s->last_ms > SESSION_IDLE_MS || sessions.count > SESSION_MAX)) {
                *p = s->next;
                free(s->q);
                free(s);
                sessions.count--;
                continue;
            }
            p = &s->next;
        }
    }
}

static struct session *
session_get(uint64_t id)
{
    struct session **b = &sessions.buckets[id % SESSION_BUCKETS], *s;
    uint64_t now = gw_mono_ms();

    pthread_mutex_lock(&sessions.mu);
    for (s = *b; s && s->id != id; s = s->next)
        ;
    if (!s) {
        if (sessions.count >= SESSION_MAX)
            forget_idle(now);
        if ((s = calloc(1, sizeof(*s))) != NULL) {
            s->id = id;
            s->next = *b;
            *b = s;
            sessions.count++;
        }
    }
    if (s) {
        s->refs++;
        s->last_ms = now;
    }
    pthread_mutex_unlock(&sessions.mu);
    return s;
}

static void
session_put(struct session *s)
{
    pthread_mutex_lock(&sessions.mu);
    s->refs--;
    s->last_ms = gw_mono_ms();
    pthread_mutex_unlock(&sessions.mu);
}

/* Moves the durable mark past every pending batch its lane has made durable. While a batch of
 * the session waits for room, it has no place in the list yet, so nothing moves. Under mu. */
static void
advance(struct session *s)
{
    while (s->len && !s->unpushed) {
        struct pending *p = &s->q[s->head];
        if (logd_lane_durable(p->lane) < p->lane_seq)
            break;
        s->durable = p->seq;
        s->head = (s->head + 1) % s->cap;
        s->len--;
    }
}

static int
pending_add(struct session *s, struct logd_lane *lane, uint64_t lane_seq, uint64_t seq)
{
    if (s->len == s->cap) {
        size_t n = s->cap ? s->cap * 2 : 16;
        struct pending *q = malloc(n * sizeof(*q));
        if (!q)
            return -1;
        for (size_t i = 0; i < s->len; i++)
            q[i] = s->q[(s->head + i) % s->cap];
        free(s->q);
        s->q = q;
        s->head = 0;
        s->cap = n;
    }
    /* In seq order: after a reconnect, a batch that waited on the old connection may be
     * queued after newer ones from the new connection. */
    size_t i = s->len++;
    while (i > 0 && s->q[(s->head + i - 1) % s->cap].seq > seq) {
        s->q[(s->head + i) % s->cap] = s->q[(s->head + i - 1) % s->cap];
        i--;
    }
    s->q[(s->head + i) % s->cap] = (struct pending){lane, lane_seq, seq};
    return 0;
}

/* ---- acknowledgements (worker thread) ---- */

static void on_ack_timer(struct gw_ev *ev, struct gw_ev_timer *t, void *arg);

static void
want_ack(struct logd_conn *lc)
{
    struct logd_worker *ws = lc->ws;

    if (!lc->in_ackers) {
        lc->in_ackers = 1;
        lc->next_acker = ws->ackers;
        ws->ackers = lc;
    }
    if (!gw_ev_timer_armed(&ws->ack_timer))
        gw_ev_timer_start(gw_worker_ev(ws->w), &ws->ack_timer, ACK_POLL_MS);
}

static void
unlink_acker(struct logd_conn *lc)
{
    for (struct logd_conn **p = &lc->ws->ackers; *p; p = &(*p)->next_acker)
        if (*p == lc) {
            *p = lc->next_acker;
            break;
        }
    lc->in_ackers = 0;
}

static void
send_frame(struct logd_conn *lc, struct gw_buf *b)
{
    gw_conn_write(lc->c, gw_buf_data(b), gw_buf_len(b));
}

void
logd_native_acks(struct logd_worker *ws)
{
    struct logd_conn **p = &ws->ackers;

    while (*p) {
        struct logd_conn *lc = *p;
        struct logd_native *n = lc->native;
        uint64_t durable;
        pthread_mutex_lock(&sessions.mu);
        advance(n->s);
        durable = n->s->durable;
        pthread_mutex_unlock(&sessions.mu);
        if (durable > n->acked) {
            struct gw_buf b;
            gw_buf_init(&b, GW_NATIVE_HDR_LEN);
            if (gw_native_ack_encode(&b, durable) == 0)
                send_frame(lc, &b);
            gw_buf_reset(&b);
            n->acked = durable;
            gw_metrics_add(ws->l->m.reg, ws->l->m.acks, 1);
        }
        if (n->acked >= n->want) {
            *p = lc->next_acker;
            lc->in_ackers = 0;
        } else {
            p = &lc->next_acker;
        }
    }
}

static void
on_ack_timer(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct logd_worker *ws = arg;

    logd_native_acks(ws);
    if (ws->ackers)
        gw_ev_timer_start(ev, t, ACK_POLL_MS);
}

int
logd_native_pending(struct logd_conn *lc, uint64_t lane_seq)
{
    struct logd_native *n = lc->native;
    int rc;

    pthread_mutex_lock(&sessions.mu);
    rc = pending_add(n->s, lc->ws->lane, lane_seq, n->pushing);
    if (n->waiting) {
        n->waiting = 0;
        n->s->unpushed--;
    }
    pthread_mutex_unlock(&sessions.mu);
    return rc;
}

void
logd_native_pushed(struct logd_conn *lc, uint64_t lane_seq)
{
    int rc = logd_native_pending(lc, lane_seq);

    /* Without the entry the session's mark would stop here: better to close and let the
     * client resend (as a duplicate it is then acknowledged from the lane's progress). */
    if (rc == -1) {
        gw_conn_close(lc->c, GW_CONN_OUT_OF_MEMORY);
        return;
    }
    want_ack(lc);
}

/* ---- frames ---- */

static void
refuse(struct logd_conn *lc, uint64_t seq, int code, const char *why)
{
    struct logd *l = lc->ws->l;
    struct gw_buf b;

    gw_metrics_add(l->m.reg, l->m.native_bad_frames, 1);
    GW_LOG_DEBUG("native frame refused", "peer=%s seq=%llu code=%s err=%s", lc->peer,
                 (unsigned long long)seq, gw_native_error_name(code), why);
    gw_buf_init(&b, GW_NATIVE_HDR_LEN + GW_NATIVE_ERRTEXT_MAX);
    if (gw_native_error_encode(&b, seq, code, why) == 0)
        send_frame(lc, &b);
    gw_buf_reset(&b);
    gw_conn_finish(lc->c);
}

static void
limits_of(const struct logd_config *cfg, struct gw_native_limits *lim)
{
    lim->max_payload = (uint32_t)cfg->max_frame_bytes;
    lim->max_raw = (uint32_t)GW_MIN(cfg->max_frame_bytes * 4, (size_t)UINT32_MAX / 2);
    lim->max_records = MAX_RECORDS;
}

static int
hello(struct logd_conn *lc, const struct gw_native_frame *f)
{
    struct logd_native *n = lc->native;
    struct gw_native_limits lim;
    struct gw_slice name;
    uint64_t id, durable;
    char err[GW_ERR_LEN];
    struct gw_buf b;

    if (gw_native_hello_decode(f, &id, &name, err) == -1) {
        refuse(lc, 0, GW_NATIVE_E_FRAME, err);
        return -1;
    }
    if ((n->s = session_get(id)) == NULL) {
        refuse(lc, 0, GW_NATIVE_E_BUSY, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&sessions.mu);
    advance(n->s);
    durable = n->s->durable;
    pthread_mutex_unlock(&sessions.mu);
    n->welcomed = 1;
    n->acked = durable;
    limits_of(logd_cfg(lc->ws->l), &lim);
    gw_buf_init(&b, GW_NATIVE_HDR_LEN + 16);
    if (gw_native_welcome_encode(&b, durable, &lim) == 0)
        send_frame(lc, &b);
    gw_buf_reset(&b);
    return 0;
}

static void
copy_field(struct logd_batch *b, struct logd_rec *r, enum logd_field f, struct gw_slice s,
           int *failed)
{
    if (s.len && logd_batch_field(b, r, f, s.ptr, s.len) == -1)
        *failed = 1;
}

struct logd_batch *
logd_native_convert(struct logd *l, enum logd_input in, const char *peer,
                    struct gw_native_batch *nb)
{
    struct logd_batch *b = logd_batch_new();
    struct gw_logrec rec;
    int64_t now = gw_wall_ms();
    int failed = 0;

    while (b && !failed && gw_native_batch_next(nb, &rec)) {
        struct logd_rec *r = logd_batch_rec(b, in, now);
        if (!r)
            break;
        r->flags = LOGD_REC_PARSED;
        r->severity = rec.severity;
        r->facility = rec.facility;
        if (rec.flags & GW_LOGREC_TRUNCATED)
            r->flags |= LOGD_REC_TRUNCATED;
        if (rec.time_ns) {
            r->time_ms = rec.time_ns / 1000000;
            r->flags |= LOGD_REC_HAS_TIME;
        }
        copy_field(b, r, LOGD_F_HOST, rec.host, &failed);
        copy_field(b, r, LOGD_F_APP, rec.app, &failed);
        copy_field(b, r, LOGD_F_PROCID, rec.procid, &failed);
        copy_field(b, r, LOGD_F_MSGID, rec.msgid, &failed);
        copy_field(b, r, LOGD_F_SD, rec.sd, &failed);
        copy_field(b, r, LOGD_F_MSG, rec.msg, &failed);
        copy_field(b, r, LOGD_F_PEER, (struct gw_slice){peer, strlen(peer)}, &failed);
        logd_count_rec(l, r, rec.msg.len);
    }
    if (b && (failed || nb->left)) {
        logd_batch_free(b);
        return NULL;
    }
    return b;
}

/* A BATCH frame. 1 when taken (or a duplicate), 0 when it must wait (lane full: the
 * connection is paused with the batch), -1 when refused (the connection is finishing). */
static int
batch(struct logd_conn *lc, const struct gw_native_frame *f)
{
    struct logd_native *n = lc->native;
    struct gw_native_limits lim;
    struct gw_native_batch nb;
    struct logd_batch *b;
    uint64_t accepted;
    char err[GW_ERR_LEN];
    int code, kind;

    pthread_mutex_lock(&sessions.mu);
    accepted = n->s->accepted;
    pthread_mutex_unlock(&sessions.mu);
    limits_of(logd_cfg(lc->ws->l), &lim);
    if ((kind = gw_native_seq_check(n->prev_seq, accepted, f->seq)) < 0) {
        refuse(lc, f->seq, GW_NATIVE_E_SEQUENCE, "sequence number not above the previous one");
        return -1;
    }
    /* A duplicate is checked as a new batch would be, then only acknowledged. */
    if (gw_native_batch_open(&nb, f, &lim, &n->scratch, &code, err) == -1) {
        refuse(lc, f->seq, code, err);
        return -1;
    }
    n->prev_seq = f->seq;
    n->want = GW_MAX(n->want, f->seq);
    if (kind == GW_NATIVE_SEQ_DUP) {
        want_ack(lc);
        return 1;
    }
    if ((b = logd_native_convert(lc->ws->l, LOGD_IN_NATIVE, lc->peer, &nb)) == NULL) {
        refuse(lc, f->seq, GW_NATIVE_E_INTERNAL, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&sessions.mu);
    n->s->accepted = GW_MAX(n->s->accepted, f->seq);
    pthread_mutex_unlock(&sessions.mu);
    n->pushing = f->seq;
    logd_stream_push(lc->ws, lc, b, 1);
    if (!lc->blocked)
        return 1;
    pthread_mutex_lock(&sessions.mu);
    n->waiting = 1;
    n->s->unpushed++;
    pthread_mutex_unlock(&sessions.mu);
    return 0;
}

/* The seq of a frame refused before it was decoded, for its ERROR (0 when not even that came). */
static uint64_t
header_seq(const char *p, size_t n)
{
    uint64_t seq = 0;

    for (size_t i = 8; n >= 16 && i < 16; i++)
        seq = seq << 8 | (unsigned char)p[i];
    return seq;
}

static size_t
on_data(struct gw_conn *c, char *data, size_t len)
{
    struct logd_conn *lc = gw_conn_user(c);
    struct logd_native *n = lc->native;
    struct gw_native_limits lim;
    struct gw_native_frame f;
    char err[GW_ERR_LEN];
    size_t off = 0, used;
    int rc, code;

    limits_of(logd_cfg(lc->ws->l), &lim);
    while (!lc->blocked && !gw_conn_finishing(c) &&
           (rc = gw_native_frame_decode(data + off, len - off, &lim, &f, &used, &code, err)) != 0) {
        if (rc < 0) {
            refuse(lc, header_seq(data + off, len - off), code, err);
            return len;
        }
        gw_conn_touch(c);
        if (f.type == GW_NATIVE_HELLO && !n->welcomed)
            rc = hello(lc, &f);
        else if (f.type == GW_NATIVE_BATCH && n->welcomed)
            rc = batch(lc, &f);
        else {
            refuse(lc, f.seq, GW_NATIVE_E_FRAME, "frame out of turn");
            rc = -1;
        }
        if (rc < 0)
            return len;
        off += used;
    }
    return off;
}

/* ---- connections ---- */

static const struct gw_conn_limits *
limits(struct gw_conn *c)
{
    struct logd_config *cfg = logd_cfg(logd_stream_logd);
    static _Thread_local struct gw_conn_limits lim;

    (void)c;
    lim.max_in = GW_NATIVE_HDR_LEN + cfg->max_frame_bytes;
    lim.idle_ms = cfg->idle_timeout_ms;
    return &lim;
}

static void
on_open(struct gw_conn *c)
{
    struct logd_worker *ws = gw_conn_user(c);
    struct logd_conn *lc = calloc(1, sizeof(*lc));

    if (!lc || (lc->native = calloc(1, sizeof(*lc->native))) == NULL) {
        free(lc);
        gw_conn_set_user(c, NULL);
        gw_conn_close(c, GW_CONN_OUT_OF_MEMORY);
        return;
    }
    logd_conn_opened(lc, ws, c, LOGD_IN_NATIVE);
}

static void
on_close(struct gw_conn *c, const char *reason)
{
    struct logd_conn *lc = gw_conn_user(c);

    (void)reason;
    if (!lc)
        return;
    if (lc->in_ackers)
        unlink_acker(lc);
    logd_conn_closed(lc);
    if (lc->native->s)
        session_put(lc->native->s);
    gw_native_scratch_free(&lc->native->scratch);
    free(lc->native);
    free(lc);
}

static const struct gw_conn_proto native_proto = {
    .name = "native",
    .limits = limits,
    .on_open = on_open,
    .on_data = on_data,
    .on_close = on_close,
};

static void
on_accept(struct gw_listener *ln, int fd, const struct sockaddr *peer, socklen_t plen, void *arg)
{
    struct logd_worker *ws = arg;
    struct logd *l = ws->l;
    char err[GW_ERR_LEN];

    (void)ln;
    if ((unsigned)atomic_load(&l->nconns) >= logd_cfg(l)->max_clients) {
        gw_metrics_add(l->m.reg, l->m.refused_connections, 1);
        close(fd);
        return;
    }
    if (gw_conn_adopt(gw_worker_loop(ws->w), fd, peer, plen, &native_proto, ws, err) == NULL)
        GW_LOG_WARN("cannot take a native connection", "err=%s", err);
}

int
logd_native_start(struct logd_worker *ws, char *err)
{
    struct gw_listener_opts o = {.on_accept = on_accept, .arg = ws, .own_fd = 1};
    struct gw_addr a;
    int fd;

    gw_ev_timer_init(&ws->ack_timer, on_ack_timer, ws);
    /* The Unix stream socket (local clients, log_to through lib/logclient): one, on worker 0. */
    if (gw_worker_index(ws->w) == 0 && ws->l->native_path[0]) {
        if ((fd = gw_net_listen_unix(ws->l->native_path, 0666, 0, err)) == -1)
            return -1;
        if ((ws->native_unix = gw_listener_new(gw_worker_ev(ws->w), fd, &o, err)) == NULL) {
            close(fd);
            return -1;
        }
    }
    if (strcmp(ws->l->native_str, "off") == 0)
        return 0;
    if (gw_net_parse_addr(ws->l->native_str, 0, &a, err) == -1 ||
        (fd = gw_net_listen_tcp(&a, 1024, 1, err)) == -1)
        return -1;
    if ((ws->native = gw_listener_new(gw_worker_ev(ws->w), fd, &o, err)) == NULL) {
        close(fd);
        return -1;
    }
    return 0;
}

void
logd_native_stop(struct logd_worker *ws)
{
    gw_listener_stop(ws->native);
    ws->native = NULL;
    if (ws->native_unix) {
        gw_listener_stop(ws->native_unix);
        ws->native_unix = NULL;
        unlink(ws->l->native_path);
    }
}

void
logd_native_stop_timer(struct logd_worker *ws)
{
    gw_ev_timer_stop(gw_worker_ev(ws->w), &ws->ack_timer);
}
