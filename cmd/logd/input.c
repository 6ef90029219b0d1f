/*
 * input.c -- the network workers: per-worker state, the lane notes (room again, durable), the
 * pushes of a loop iteration and the writer's wake-up after them, the datagram inputs (syslog
 * UDP on every worker, the Unix socket on worker 0; lib/udp's batched receive), and turning one
 * syslog line into a record.
 *
 * Every worker owns a lane. A stream connection whose batch the full lane refused keeps the
 * batch, stops reading, and waits on its worker's blocked list; the writer's "room again" note
 * comes back to the worker as a posted call, which pushes the waiting batches in order and
 * resumes reading. Datagrams cannot wait: a refused datagram batch is dropped and counted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "logd.h"
#include "syslog.h"
#include "udp.h"
#include "worker.h"

#define TZ_REFRESH_MS 60000
#define DRAIN_ACK_MS 2000
/* The writer is woken once this much was pushed, or KICK_DELAY_MS after the first push it has
 * not been woken for, whichever comes first (see kick_soon). */
#define KICK_BYTES (128 * 1024)
#define KICK_DELAY_MS 1
/* recvmmsg() calls a datagram socket gets per read at most: a flow is read in rounds of
 * GW_UDP_BATCH until the socket is empty, this many rounds, or the batch is logd_fill_max big,
 * so the worker's other sockets still get their turn. */
#define DGRAM_ROUNDS 64
/* The UDP socket's receive buffer asked for; its reading is paced only when the kernel gave
 * it at least DGRAM_PACE_RCVBUF (as it counts: twice the payload room), so what a timer
 * period gathers (a 2 ms period of a 500k lines/s flood takes about 2 MiB) is a small part of
 * it. */
#define DGRAM_PACE_RCVBUF (8u << 20)

int
logd_local_offset(struct logd_worker *ws)
{
    uint64_t now = gw_mono_ms();

    if (!ws->tz_ms || now - ws->tz_ms >= TZ_REFRESH_MS) {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        ws->tz_offset_s = (int)tm.tm_gmtoff;
        ws->tz_ms = now;
    }
    return ws->tz_offset_s;
}

/* A sub-slice of the record's RAW field as another field (no copy). */
static void
sub(struct logd_rec *r, enum logd_field f, const char *line, struct gw_slice s)
{
    if (!s.len || s.ptr < line)
        return;
    r->off[f] = r->off[LOGD_F_RAW] + (uint32_t)(s.ptr - line);
    r->len[f] = (uint32_t)s.len;
}

int
logd_syslog_rec(struct logd_batch *b, enum logd_input in, const char *line, size_t len,
                int truncated, const char *peer, int64_t now_ms, int tz_offset_s)
{
    struct gw_logrec rec = {0};
    struct logd_rec *r;
    const char *raw;

    rec.recv_ns = now_ms * 1000000;
    gw_syslog_parse(&rec, line, len, tz_offset_s, NULL);
    /* Nothing but framing (an empty datagram, a lone LF): no record, as the TCP framer skips
     * an empty frame. */
    if (!rec.line.ptr || rec.line.len == 0)
        return 1;
    if ((r = logd_batch_rec(b, in, now_ms)) == NULL)
        return -1;
    /* The line without its framing (trailing LF, CR, NUL): what the parser calls the line. */
    if (logd_batch_field(b, r, LOGD_F_RAW, rec.line.ptr, rec.line.len) == -1) {
        logd_batch_unrec(b);
        return -1;
    }
    if (peer) {
        /* A stream's records share their peer's text with the record before. */
        size_t plen = strlen(peer);
        const struct logd_rec *prev = b->nrec >= 2 ? &b->recs[b->nrec - 2] : NULL;
        if (prev && prev->len[LOGD_F_PEER] == plen &&
            memcmp(b->arena + prev->off[LOGD_F_PEER], peer, plen) == 0) {
            r->off[LOGD_F_PEER] = prev->off[LOGD_F_PEER];
            r->len[LOGD_F_PEER] = (uint32_t)plen;
        } else if (logd_batch_field(b, r, LOGD_F_PEER, peer, plen) == -1) {
            logd_batch_unrec(b);
            return -1;
        }
    }
    raw = rec.line.ptr;
    r->severity = rec.severity;
    r->facility = rec.facility;
    if (truncated)
        r->flags |= LOGD_REC_TRUNCATED;
    /* Whether the raw line needs escaping, from what the parser already checked (so the
     * writer need not look at every byte again): the whole line when unparsed, MSG and SD
     * in RFC 5424 (its header is printable ASCII by the grammar), MSG in RFC 3164 (its
     * header is checked here: it is short). */
    if (!(rec.flags & GW_LOGREC_ESCAPED) &&
        (rec.format != GW_LOGREC_RFC3164 ||
         !gw_syslog_needs_escape(raw, (size_t)(rec.msg.ptr - raw))))
        r->flags |= LOGD_REC_PLAIN;
    if (!(rec.flags & GW_LOGREC_UNPARSED)) {
        r->flags |= LOGD_REC_PARSED;
        sub(r, LOGD_F_HOST, raw, rec.host);
        sub(r, LOGD_F_APP, raw, rec.app);
        sub(r, LOGD_F_PROCID, raw, rec.procid);
        sub(r, LOGD_F_MSGID, raw, rec.msgid);
        sub(r, LOGD_F_SD, raw, rec.sd);
        sub(r, LOGD_F_MSG, raw, rec.msg);
    }
    if (rec.time_ns) {
        r->time_ms = rec.time_ns / 1000000;
        r->flags |= LOGD_REC_HAS_TIME;
    }
    return 0;
}

/* ---- lane notes, on the worker's thread ---- */

static void
handle_notes(struct gw_ev *ev, void *arg)
{
    struct logd_worker *ws = arg;
    unsigned notes;

    (void)ev;
    atomic_store(&ws->posted, 0);
    notes = atomic_exchange(&ws->notes, 0);
    if (notes & LOGD_NOTE_SPACE)
        logd_stream_unblock(ws);
    if (notes & LOGD_NOTE_DURABLE)
        logd_native_acks(ws);
}

/* Writer thread: hand the notes over to the worker; coalesced while one post is on its way. */
static void
on_note(void *arg, unsigned notes)
{
    struct logd_worker *ws = arg;

    atomic_fetch_or(&ws->notes, notes);
    if (atomic_exchange(&ws->posted, 1) == 0 && gw_worker_post(ws->w, handle_notes, ws) == -1)
        atomic_store(&ws->posted, 0);
}

/* ---- the iteration's pushes ---- */

static void dgram_read(struct gw_ev *ev, int fd, unsigned events, void *arg);
static size_t dgram_push(struct logd_worker *ws, unsigned flags);

static void
kick_now(struct logd_worker *ws)
{
    ws->unkicked = 0;
    logd_writer_kick(ws->l->writer);
    /* A paused UDP socket is read when the timer fires: it stays armed for it. */
    if (!ws->dgram_paused)
        gw_ev_timer_stop(gw_worker_ev(ws->w), &ws->kick_timer);
}

/* Wakes the writer for what was pushed without, and reads the paused UDP socket (see
 * dgram_pace): what it gathered goes to the writer with one push and one wake-up. */
static void
kick_timer(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct logd_worker *ws = arg;

    (void)t;
    if (ws->dgram_paused) {
        dgram_read(ev, ws->udp_fd, 0, ws);
        /* The flush after this iteration pushes what it read and wakes the writer. */
        if (ws->fill_deferred) {
            ws->kick_after_flush = 1;
            return;
        }
    }
    if (ws->unkicked)
        kick_now(ws);
}

/* Syslog over TCP and UDP is not acknowledged, so its lines need not reach the writer the
 * moment they are read: waking the writer for every loop iteration's few KiB costs two context
 * switches and a write() each time. It is woken per KICK_BYTES, or KICK_DELAY_MS after the
 * first push it was not woken for: far fewer, larger rounds (and fsyncs), lines landing at
 * most that much later. Pushes that wait for durability (native, ingest) still wake it at
 * once. */
static void
kick_soon(struct logd_worker *ws, size_t bytes)
{
    struct gw_ev *ev = gw_worker_ev(ws->w);

    ws->unkicked += bytes;
    /* A small queue must not fill up meanwhile: a quarter of it at most. */
    if (ws->unkicked < GW_MIN((size_t)KICK_BYTES, logd_cfg(ws->l)->queue_bytes / 4) &&
        (gw_ev_timer_armed(&ws->kick_timer) ||
         gw_ev_timer_start(ev, &ws->kick_timer, KICK_DELAY_MS) == 0))
        return;
    kick_now(ws);
}

/* After the iteration's events: push every filling batch, then wake the writer (soon, or now
 * after the timer's read of the paused UDP socket). */
static void
flush_iteration(struct gw_ev *ev, void *arg)
{
    struct logd_worker *ws = arg;
    size_t pushed;

    (void)ev;
    ws->fill_deferred = 0;
    pushed = logd_stream_flush(ws) + dgram_push(ws, LOGD_PUSH_NOKICK);
    if (ws->kick_after_flush) {
        ws->kick_after_flush = 0;
        ws->unkicked += pushed;
        if (ws->unkicked)
            kick_now(ws);
    } else if (pushed) {
        kick_soon(ws, pushed);
    }
}

int
logd_worker_defer_flush(struct logd_worker *ws)
{
    if (ws->fill_deferred)
        return 0;
    if (gw_ev_defer(gw_worker_ev(ws->w), flush_iteration, ws) == -1)
        return -1;
    ws->fill_deferred = 1;
    /* One clock read per iteration: its records share the reception time. */
    ws->fill_now_ms = gw_wall_ms();
    ws->fill_tz = logd_local_offset(ws);
    return 0;
}

/* ---- datagrams ---- */

/* Pushes the worker's datagram batch; returns its bytes when the lane took it. Datagrams
 * cannot wait: refused, the batch is dropped and counted. */
static size_t
dgram_push(struct logd_worker *ws, unsigned flags)
{
    struct logd_batch *b = ws->dgram_fill;
    struct logd *l = ws->l;
    uint64_t dropped[LOGD_NINPUTS] = {0};
    size_t bytes;

    ws->dgram_fill = NULL;
    if (!b)
        return 0;
    ws->dgram_fill_recs = b->nrec;
    ws->dgram_fill_bytes = b->used;
    bytes = logd_batch_bytes(b);
    if (b->nrec && logd_lane_push(ws->lane, b, flags) != 0)
        return bytes;
    /* UDP and the Unix socket share worker 0's batch. */
    for (size_t i = 0; i < b->nrec; i++)
        dropped[b->recs[i].input]++;
    for (int in = 0; in < LOGD_NINPUTS; in++)
        if (dropped[in])
            gw_metrics_add(l->m.reg, l->m.dropped[in], dropped[in]);
    logd_batch_free(b);
    return 0;
}

/* The batch this iteration's datagrams go into, pushed after the iteration (or at the end of
 * dgram_read when no deferred call could be queued). NULL when memory ran out. */
static struct logd_batch *
dgram_batch(struct logd_worker *ws)
{
    if (ws->dgram_fill)
        return ws->dgram_fill;
    if ((ws->dgram_fill = logd_batch_new()) == NULL)
        return NULL;
    /* As big as the last one: a steady flood's batches then never grow. */
    (void)logd_batch_reserve(ws->dgram_fill, ws->dgram_fill_recs + ws->dgram_fill_recs / 4,
                             ws->dgram_fill_bytes + ws->dgram_fill_bytes / 4);
    return ws->dgram_fill;
}

/* UDP reading paced to the writer's wake-ups: a read that emptied the socket after getting
 * something stops watching it, and the kick timer reads it next (within KICK_DELAY_MS, then
 * one push and one wake-up for all it gathered). A steady flow is so read in one burst per
 * timer period rather than a few datagrams per loop iteration (each its own epoll and
 * recvmmsg calls: as much CPU again as the rest of the work), and the worker sleeps in
 * between; the socket's buffer (paced only when it got DGRAM_PACE_RCVBUF) holds far more than
 * a period's datagrams. A read that found nothing, or left some (the rounds or the batch size ran
 * out), watches the socket again. Not the Unix socket: its senders block when it is full (a
 * datagram is never dropped there), and pausing would make them wait. */
static void
dgram_pace(struct logd_worker *ws, int fd, int pause)
{
    struct gw_ev *ev = gw_worker_ev(ws->w);

    if (pause && !ws->dgram_paused) {
        if ((!gw_ev_timer_armed(&ws->kick_timer) &&
             gw_ev_timer_start(ev, &ws->kick_timer, KICK_DELAY_MS) == -1) ||
            gw_ev_mod(ev, fd, 0) == -1)
            return;
        ws->dgram_paused = 1;
    } else if (pause && !gw_ev_timer_armed(&ws->kick_timer)) {
        /* Read from the timer and still paused: the timer comes again. */
        if (gw_ev_timer_start(ev, &ws->kick_timer, KICK_DELAY_MS) == -1 &&
            gw_ev_mod(ev, fd, GW_EV_READ) == 0)
            ws->dgram_paused = 0;
    } else if (!pause && ws->dgram_paused) {
        if (gw_ev_mod(ev, fd, GW_EV_READ) == 0)
            ws->dgram_paused = 0;
    }
}

static void
dgram_read(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    struct logd_worker *ws = arg;
    struct logd *l = ws->l;
    size_t max = logd_cfg(l)->max_line_bytes, fill_max = logd_fill_max(l);
    enum logd_input in = fd == ws->udp_fd ? LOGD_IN_UDP : LOGD_IN_UNIX;
    struct logd_tally t = {0};
    int deferred = logd_worker_defer_flush(ws) == 0;
    int64_t now = deferred ? ws->fill_now_ms : gw_wall_ms();
    int tz = deferred ? ws->fill_tz : logd_local_offset(ws);
    int n = GW_UDP_BATCH, got = 0, drained = 0;
    /* The last sender's address as text: a flow's datagrams mostly share it (printing it was
     * a tenth of the read's CPU). */
    struct sockaddr_storage last_sa;
    socklen_t last_len = 0;
    char peer[GW_ADDR_STRLEN] = "unix";

    (void)ev;
    (void)events;
    for (int round = 0; round < DGRAM_ROUNDS; round++) {
        struct logd_batch *b;
        if ((n = gw_udp_recv(ws->udp, fd)) <= 0) {
            drained = 1;
            break;
        }
        got += n;
        if ((b = dgram_batch(ws)) == NULL) {
            gw_metrics_add(l->m.reg, l->m.dropped[in], (uint64_t)n);
            break;
        }
        for (int i = 0; i < n; i++) {
            socklen_t plen;
            size_t len;
            int cut;
            char *p = gw_udp_data(ws->udp, i, &len, &cut);
            const struct sockaddr *sa = gw_udp_peer(ws->udp, i, &plen);
            if (in == LOGD_IN_UDP && (!last_len || plen != last_len || plen > sizeof(last_sa) ||
                                      memcmp(sa, &last_sa, plen) != 0)) {
                gw_net_addr_str(sa, plen, peer, sizeof(peer));
                if (plen <= sizeof(last_sa)) {
                    memcpy(&last_sa, sa, plen);
                    last_len = plen;
                }
            }
            /* max_line may have shrunk at a reload since the buffers were made. */
            if (len > max) {
                len = max;
                cut = 1;
            }
            if (logd_syslog_rec(b, in, p, len, cut, peer, now, tz) == 0)
                logd_tally_rec(&t, &b->recs[b->nrec - 1], len);
        }
        /* Past its size it goes at once (bounded memory, the writer starts on it sooner). */
        if (logd_batch_bytes(b) >= fill_max) {
            size_t pushed = dgram_push(ws, LOGD_PUSH_NOKICK);
            if (pushed)
                kick_soon(ws, pushed);
            break;
        }
        if (n < GW_UDP_BATCH) {
            drained = 1;
            break;
        }
    }
    if (t.n)
        logd_tally_flush(l, in, &t);
    if (!deferred)
        dgram_push(ws, 0);
    if (in == LOGD_IN_UDP && ws->udp_pace)
        dgram_pace(ws, fd, got > 0 && drained && deferred);
}

static int
open_udp(struct logd_worker *ws, char *err)
{
    struct gw_addr a;
    char why[GW_ERR_LEN];
    size_t got = 0;
    int fd;

    if (gw_net_parse_addr(ws->l->syslog_str, 0, &a, err) == -1 ||
        (fd = gw_net_bind_udp(&a, 1, err)) == -1)
        return -1;
    /* A burst while the worker is busy (or the loop elsewhere: preempted, or paced, see
     * dgram_pace) waits in the socket rather than being dropped. Past net.core.rmem_max when
     * logd may (root); else as much of it as the kernel allows. */
    if (gw_udp_set_rcvbuf(fd, ws->l->udp_rcvbuf, &got, why) == -1)
        got = 0;
    ws->udp_pace = got >= DGRAM_PACE_RCVBUF;
    ws->udp_fd = fd;
    if (gw_ev_add(gw_worker_ev(ws->w), fd, GW_EV_READ, dgram_read, ws, err) == -1)
        return -1;
    return 0;
}

int
logd_dgram_open(struct logd *l, char *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, size = 4 << 20;

    if (!l->dgram_path[0])
        return 0;
    if (strlen(l->dgram_path) >= sizeof(sa.sun_path))
        return gw_err(err, "dgram_path too long: %s", l->dgram_path);
    gw_strlcpy(sa.sun_path, l->dgram_path, sizeof(sa.sun_path));
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
        return gw_err_errno(err, "socket");
    unlink(l->dgram_path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        gw_err_errno(err, "bind %s", l->dgram_path);
        close(fd);
        return -1;
    }
    /* Any local program may log, as with /dev/log. */
    chmod(l->dgram_path, 0666);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    l->dgram_fd = fd;
    return 0;
}

/* ---- workers ---- */

static int
on_start(struct gw_worker *w, void *arg, char *err)
{
    struct logd *l = arg;
    struct logd_worker *ws = &l->ws[gw_worker_index(w)];

    ws->w = w;
    gw_ev_timer_init(&ws->kick_timer, kick_timer, ws);
    gw_metrics_bind_thread(l->m.reg, gw_worker_index(w));
    /* A datagram holds at most 64 KiB; a longer max_line set later only matters to streams. */
    if ((ws->udp = gw_udp_batch_new(GW_MIN(logd_cfg(l)->max_line_bytes, 65536), err)) == NULL)
        return -1;
    if (l->syslog_udp && strcmp(l->syslog_str, "off") != 0 && open_udp(ws, err) == -1)
        return -1;
    if (gw_worker_index(w) == 0 && l->dgram_fd >= 0 &&
        gw_ev_add(gw_worker_ev(w), l->dgram_fd, GW_EV_READ, dgram_read, ws, err) == -1)
        return -1;
    return logd_native_start(ws, err);
}

static void
close_inputs(struct logd_worker *ws)
{
    struct gw_ev *ev = gw_worker_ev(ws->w);

    /* What was read is kept, even past the budget (as a closing connection's last batch). */
    if (dgram_push(ws, LOGD_PUSH_FORCE))
        logd_writer_kick(ws->l->writer);
    if (ws->udp_fd >= 0) {
        gw_ev_del(ev, ws->udp_fd);
        close(ws->udp_fd);
        ws->udp_fd = -1;
    }
    if (gw_worker_index(ws->w) == 0 && ws->l->dgram_fd >= 0)
        gw_ev_del(ev, ws->l->dgram_fd);
    ws->dgram_paused = 0;
    logd_native_stop(ws);
}

/* The connections are about to be finished: the native clients' last batches are made
 * durable and acknowledged first (for at most DRAIN_ACK_MS), so a client does not resend them
 * to the next logd, which would write them twice. */
static void
on_drain(struct gw_worker *w, void *arg)
{
    struct logd *l = arg;
    struct logd_worker *ws = &l->ws[gw_worker_index(w)];

    close_inputs(ws);
    logd_writer_hurry(l->writer);
    if (ws->ackers && logd_lane_wait(ws->lane, logd_lane_pushed(ws->lane), DRAIN_ACK_MS) == 0)
        logd_native_acks(ws);
}

static void
on_stop(struct gw_worker *w, void *arg)
{
    struct logd *l = arg;
    struct logd_worker *ws = &l->ws[gw_worker_index(w)];

    close_inputs(ws);
    logd_native_stop_timer(ws);
    /* What it would have woken the writer for, the writer's stop writes anyway. */
    gw_ev_timer_stop(gw_worker_ev(w), &ws->kick_timer);
    gw_udp_batch_free(ws->udp);
    ws->udp = NULL;
}

static void
on_refuse(struct gw_worker *w, int fd, void *arg)
{
    struct logd *l = arg;

    (void)w;
    (void)fd;
    gw_metrics_add(l->m.reg, l->m.refused_connections, 1);
}

int
logd_inputs_start(struct logd *l, char *err)
{
    struct gw_worker_opts o = {0};
    struct gw_addr tcp;
    unsigned failed = 0;
    char name[32];
    int io;

    if ((l->ws = calloc(l->nworkers, sizeof(*l->ws))) == NULL)
        return gw_err(err, "out of memory");
    for (unsigned i = 0; i < l->nworkers; i++) {
        struct logd_worker *ws = &l->ws[i];
        ws->l = l;
        ws->udp_fd = -1;
        snprintf(name, sizeof(name), "worker-%u", i);
        if ((ws->lane = logd_lane_new(l, name, on_note, ws)) == NULL)
            return gw_err(err, "cannot make the input queues");
    }
    if ((io = gw_conn_io_parse(gw_conf_str(gw_daemon_conf(l->daemon), "logd", NULL, "io"))) < 0)
        io = GW_CONN_IO_AUTO;
    o.count = l->nworkers;
    o.io = (enum gw_conn_io)io;
    if (strcmp(l->syslog_str, "off") != 0) {
        if (gw_net_parse_addr(l->syslog_str, 0, &tcp, err) == -1)
            return -1;
        o.listen = &tcp;
    }
    o.max_conns = logd_cfg(l)->max_clients;
    o.proto = &logd_stream_proto;
    o.arg = l;
    o.on_start = on_start;
    o.on_drain = on_drain;
    o.on_stop = on_stop;
    o.on_refuse = on_refuse;
    if ((l->workers = gw_workers_start(&o, &failed, err)) == NULL)
        return -1;
    return 0;
}

void
logd_inputs_drain(struct logd *l)
{
    if (l->workers)
        gw_workers_drain(l->workers);
}

void
logd_inputs_stop(struct logd *l)
{
    for (unsigned i = 0; l->ws && i < l->nworkers; i++)
        if (l->ws[i].lane)
            logd_lane_detach(l->ws[i].lane);
    gw_workers_stop(l->workers);
    l->workers = NULL;
    if (l->dgram_fd >= 0) {
        close(l->dgram_fd);
        unlink(l->dgram_path);
        l->dgram_fd = -1;
    }
    free(l->ws);
    l->ws = NULL;
}

const char *
logd_inputs_backend(const struct logd *l)
{
    return l->workers ? gw_workers_backend(l->workers) : "none";
}
