/*
 * engine.c -- gwbench's engine: one lib/conn loop per thread, each owning its share of the
 * connections, the send schedule (closed or open loop) and its own latency histogram.
 *
 * A run has three phases. Connect: every worker opens its connections (a bounded number of
 * connects in flight at once, so 20,000 of them do not overflow the server's SYN backlog) and
 * reports when each has had a first outcome. Run: once all workers are ready, the main thread
 * fixes one start time for all, and the clock starts; the warm-up comes first and is not
 * recorded. Drain: at the end nothing more is sent; replies still in flight are awaited for
 * at most --timeout, then counted as timeouts.
 *
 * Closed loop: each connection keeps `pipeline` requests outstanding and sends the next one as
 * each reply arrives; latency runs from a clock read just before the write() that sends a
 * request to one just after the read() that returns its reply. Open loop (-R): a worker's share of
 * the rate is a fixed schedule, its k-th request due at t0 + k / rate and going to connection
 * k mod n, so each connection has its own evenly spaced slots. A due request is sent at once
 * if the connection has fewer than `pipeline` requests in flight, else it waits for a reply;
 * either way its latency runs from its intended time, which corrects coordinated omission as
 * wrk2 does. A timerfd (ns resolution, unlike the loop's ms timers) wakes the worker at the
 * next slot.
 *
 * The connections are lib/conn's: connect with its timeout, input kept between reads, output,
 * close. The engine keeps per connection what a benchmark needs (requests in flight, slots,
 * reconnect backoff) and runs lib/conn's epoll backend, not io_uring: its clock brackets a
 * write() and a read() it can see. Requests go out with gw_conn_write_now(), one write() at
 * once, so each request's clock starts just before its own write() and not before the other
 * connections' sends of the batch. A request timeout is lib/conn's idle timer, armed only
 * while requests are in flight (conn_limits()); nothing walks over the connections.
 *
 * Fire and forget (proto->no_reply, syslog): nothing is answered, so nothing is in flight and
 * no latency is taken. A request counts as sent once the socket took its last byte, learnt
 * from lib/conn's queue length after each write and at each low-mark on_writable. Closed loop
 * keeps each connection's output topped up between its high and low marks; open loop sends
 * each slot as it comes due. At the end what is queued goes out (for at most --timeout), so
 * no request is cut. proto->datagram: each request is a datagram of a connected UDP socket,
 * the engine's own fd on the loop (lib/udp), written while it is writable.
 *
 * The hot path allocates nothing: a reply is parsed where lib/conn read it and only a partial
 * reply is kept; the requests of one burst go out in one write(). Every reply of a batch of
 * events is read before any request is sent (flush_sends()), so no reply waits in its socket
 * while gwbench writes to other connections. The clock is read once per read(), once per
 * write() in closed loop, and once per scheduler wake-up.
 */
#include "gwbench.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "backoff.h"
#include "conn.h"
#include "ev.h"
#include "udp.h"
#include "util.h"

#define WRITE_BYTES (64 * 1024)
#define MAX_CONNECTING 256
#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000
#define TICK_MAX_MS 100
#define TICK_MIN_MS 10
#define CLOSED_BY_LAYER (-2)  /* struct conn's kind: lib/conn ended it, the reason tells why */
#define NR_WRITES 16          /* no_reply: writes in a row to a socket that takes them all */
#define NR_OUT_MIN (4 * 1024) /* no_reply: each connection's high mark, within these bounds */
#define NR_OUT_MAX (64 * 1024)
#define NR_OUT_ALL (16 * 1024 * 1024) /* ... and all of them together */
#define UDP_CHECK_NS 100000000ull     /* datagram: how often the error queues are read */
#define UDP_REFUSED "nothing listens on the UDP port (ICMP port unreachable)"

enum conn_state { C_DOWN, C_CONNECTING, C_OPEN };

struct worker;

struct conn {
    struct worker *w;
    struct gw_conn *gc; /* while connecting or open */
    unsigned idx;       /* position in the worker: its slots in the open-loop schedule */
    enum conn_state state;
    int kind;       /* the error to count for a close the engine asked for (conn_end) */
    int first_done; /* the first connect attempt has had its outcome */
    int answered;   /* a reply came on this connection since it opened */
    int refused;    /* the protocol's hello was refused: reconnect after the backoff */
    int dirty;      /* on the worker's list of connections with due requests */
    int queued;     /* on the worker's list of connections to send on after this batch */
    int greeting;   /* the protocol's hello is out, its answer not in yet: no requests */
    unsigned inflight;
    unsigned ring_head;
    uint64_t *ring;      /* start times of the requests in flight, oldest at ring_head */
    uint64_t due;        /* open loop: slots that came due */
    uint64_t slots_sent; /* open loop: slots sent (or lost with a closed connection) */
    /* no_reply (proto->no_reply): */
    unsigned gidx;      /* the connection's number in the whole run, in its requests */
    int fd;             /* datagram: the connected UDP socket, -1 when none */
    int watching;       /* datagram: waiting for the socket to take more */
    int draining;       /* at the end: output still queued, on w->inflight */
    int kicked;         /* on the worker's list to top up at the next iteration */
    unsigned unwritten; /* requests encoded for the write in progress */
    uint64_t seq_next;  /* the number of its next request, from 1 */
    uint64_t out_bytes; /* bytes handed to lib/conn since the connection opened */
    uint64_t taken;     /* whole requests the socket took since then */
    struct gw_backoff backoff;
    struct gw_ev_timer retry;
};

struct worker {
    const struct bench_opts *o;
    unsigned id;
    pthread_t tid;
    struct gw_ev *ev;
    struct gw_conn_loop *loop;
    struct gw_conn_limits lim_busy, lim_quiet; /* with requests in flight, without */
    struct conn *conns;
    unsigned nconns;
    uint64_t *rings;
    char *wbuf;

    unsigned *connq; /* connections waiting for a connect slot (circular) */
    unsigned connq_head, connq_len, connecting;
    unsigned pending_first; /* connections still without a first connect outcome */

    int tfd; /* open loop: wakes the scheduler at the next slot */
    double step_ns;
    uint64_t k_next, t_next;
    unsigned *dirty;
    unsigned ndirty;
    unsigned *sendq; /* connections that had replies in this batch of events */
    unsigned nsendq;
    int flush_armed; /* flush_sends() is deferred to the end of this batch */
    /* no_reply: */
    unsigned base;                 /* gidx of the first connection */
    size_t out_high;               /* each connection's high mark */
    struct gw_conn_limits lim_end; /* at the end: on_writable once the output is all out */
    unsigned *kickq; /* connections whose socket took all: topped up at the next iteration */
    unsigned nkickq;
    struct gw_ev_timer kick;
    uint64_t udp_check_ns;

    int running, ending, finished, shutdown;
    uint64_t t0, rec_from, end_ns, drain_until;
    unsigned inflight;
    struct gw_ev_timer tick, end;
    unsigned tick_ms;

    struct bench_results res;
    atomic_uint open;
    atomic_uint opened; /* connections ever opened */
    char first_err[GW_ERR_LEN];

    pthread_mutex_t mu; /* guards snap, read by the progress line */
    struct bench_results snap;
};

/* What the main thread shares with the workers. Fields above `started` are written before it
 * is set (release) and read after it is seen (acquire). */
static struct engine {
    const struct bench_opts *o;
    struct gw_ev *ev;
    struct worker *workers;
    unsigned ninit, nworkers;
    uint64_t t0, rec_from, end_ns;
    atomic_int started, stop;
    atomic_uint ready, done;
    int failed;
    uint64_t stop_ns, last_ns, last_requests;
    struct gw_ev_timer progress;
    struct bench_results prog; /* scratch for the progress line */
} E;

static const struct gw_conn_proto conn_proto;

static void conn_connect(struct conn *c);
static void send_due(struct conn *c, uint64_t now, int from_sched);
static void fill_pipeline(struct conn *c, uint64_t now);
static void start_sending(struct conn *c);
static void conn_write(struct conn *c, const char *p, size_t len);
static void worker_begin_end(struct worker *w, uint64_t now);
static void nr_send(struct conn *c, uint64_t now);
static void nr_account(struct conn *c, uint64_t now);
static int udp_open(struct conn *c);
static void nr_closed(struct conn *c, struct gw_conn *gc);
static void nr_drained(struct worker *w, uint64_t now);

void
bench_results_add(struct bench_results *dst, const struct bench_results *src)
{
    unsigned i;

    dst->requests += src->requests;
    dst->sent += src->sent;
    dst->sent_total += src->sent_total;
    dst->scheduled += src->scheduled;
    for (i = 0; i < BENCH_ERR_COUNT; i++)
        dst->errors[i] += src->errors[i];
    dst->connected += src->connected;
    dst->open += src->open;
    gw_hist_merge(&dst->hist, &src->hist);
    gw_hist_merge(&dst->lag, &src->lag);
}

static void
count_err(struct worker *w, enum bench_err kind, uint64_t n)
{
    w->res.errors[kind] += n;
}

static void
worker_finish(struct worker *w)
{
    w->finished = 1;
    gw_conn_loop_stop(w->loop);
}

/* --- connecting ---------------------------------------------------------------------- */

static void
first_outcome(struct conn *c)
{
    struct worker *w = c->w;

    if (c->first_done)
        return;
    c->first_done = 1;
    if (--w->pending_first == 0) {
        atomic_fetch_add_explicit(&E.ready, 1, memory_order_release);
        gw_ev_wake(E.ev);
    }
}

static void
connect_more(struct worker *w)
{
    struct conn *c;

    while (w->connq_len > 0 && w->connecting < MAX_CONNECTING && !w->ending) {
        c = &w->conns[w->connq[w->connq_head]];
        w->connq_head = (w->connq_head + 1) % w->nconns;
        w->connq_len--;
        conn_connect(c);
    }
}

static void
queue_connect(struct conn *c)
{
    struct worker *w = c->w;

    w->connq[(w->connq_head + w->connq_len) % w->nconns] = c->idx;
    w->connq_len++;
    connect_more(w);
}

static void
retry_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    queue_connect(arg);
}

/* A connect failed: e is its errno (0: err says why). Retried after the backoff. */
static void
connect_failed(struct conn *c, int e, const char *err)
{
    struct worker *w = c->w;

    c->state = C_DOWN;
    count_err(w, BENCH_ERR_CONNECT, 1);
    if (w->first_err[0] == '\0') {
        if (e == EMFILE)
            snprintf(w->first_err, sizeof(w->first_err),
                     "%s (the open-files limit is %llu: raise ulimit -n, or lower -c)", strerror(e),
                     (unsigned long long)bench_fd_limit());
        else if (e == ENFILE)
            snprintf(w->first_err, sizeof(w->first_err),
                     "%s (the system-wide limit: raise fs.file-max, or lower -c)", strerror(e));
        else if (e != 0)
            gw_strlcpy(w->first_err, strerror(e), sizeof(w->first_err));
        else
            gw_strlcpy(w->first_err, err, sizeof(w->first_err));
    }
    if (!w->ending)
        gw_ev_timer_start(w->ev, &c->retry, gw_backoff_next(&c->backoff));
    first_outcome(c);
}

/* A connect lib/conn gave up on: its reason ("connect: connect: Connection refused") ends in
 * strerror's text, as the error of a connect that failed at once. */
static void
connect_closed(struct conn *c, const char *reason)
{
    struct worker *w = c->w;
    const char *why = strrchr(reason, ':');

    w->connecting--;
    if (strcmp(reason, GW_CONN_CONNECT_TIMEOUT) == 0)
        connect_failed(c, ETIMEDOUT, "");
    else
        connect_failed(c, 0, why && why[1] == ' ' ? why + 2 : reason);
    connect_more(w);
}

static void
conn_opened(struct gw_conn *gc)
{
    struct conn *c = gw_conn_user(gc);
    struct worker *w = c->w;

    w->connecting--;
    c->state = C_OPEN;
    c->answered = 0;
    c->out_bytes = c->taken = 0;
    atomic_fetch_add_explicit(&w->open, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->opened, 1, memory_order_relaxed);
    w->res.connected++;
    first_outcome(c);
    if (w->o->proto->hello) {
        c->greeting = 1;
        conn_write(c, w->wbuf, w->o->proto->hello(w->o, w->wbuf, WRITE_BYTES));
        /* The answer is due within --timeout, as a request's (conn_limits). */
        if (c->gc)
            gw_conn_touch(c->gc);
    } else {
        start_sending(c);
    }
    connect_more(w);
}

/* A connection ready for requests: closed loop fills its pipeline, open loop sends what came
 * due meanwhile. */
static void
start_sending(struct conn *c)
{
    struct worker *w = c->w;

    if (w->running && !w->ending && !w->o->idle) {
        if (w->o->rate > 0)
            send_due(c, gw_mono_ns(), 0);
        else
            fill_pipeline(c, gw_mono_ns());
    }
}

static void
conn_connect(struct conn *c)
{
    struct worker *w = c->w;
    char err[GW_ERR_LEN];

    if (w->o->proto->datagram) {
        (void)udp_open(c);
        return;
    }
    errno = 0;
    if ((c->gc = gw_conn_connect(w->loop, &w->o->addr, w->o->timeout_ms, &conn_proto, c, err)) ==
        NULL) {
        connect_failed(c, errno, err);
        return;
    }
    c->state = C_CONNECTING;
    c->kind = CLOSED_BY_LAYER;
    w->connecting++;
}

/* The engine ends c, counting kind (-1: nothing). */
static void
conn_end(struct conn *c, int kind)
{
    if (!c->gc)
        return;
    c->kind = kind;
    gw_conn_close(c->gc, "closed by gwbench");
}

/* The error a close lib/conn decided counts as, -1 for none. */
static int
layer_kind(struct conn *c, const char *reason)
{
    if (strcmp(reason, GW_CONN_IDLE) == 0 && c->greeting) {
        /* A server that never completes the handshake (or speaks a protocol that never ends
         * the HTTP head): a connect error, tried again after the backoff. */
        count_err(c->w, BENCH_ERR_CONNECT, 1);
        if (!c->w->first_err[0])
            snprintf(c->w->first_err, sizeof(c->w->first_err),
                     "no answer to the handshake within the timeout");
        c->greeting = 0;
        c->refused = 1;
        return -1;
    }
    if (strcmp(reason, GW_CONN_IDLE) == 0) {
        /* The stream is stuck: its requests are abandoned, the connection renewed. */
        count_err(c->w, BENCH_ERR_TIMEOUT, c->inflight);
        return -1;
    }
    if (strcmp(reason, GW_CONN_INPUT_TOO_LARGE) == 0)
        return BENCH_ERR_WRONG;
    /* The server closed or reset it (or a write failed), unless it owed nothing at the end. */
    return c->w->ending && c->inflight == 0 ? -1 : BENCH_ERR_CLOSED;
}

/* Every connection ends here, whoever closed it. */
static void
conn_closed(struct gw_conn *gc, const char *reason)
{
    struct conn *c = gw_conn_user(gc);
    struct worker *w = c->w;
    int kind = c->kind;

    c->gc = NULL;
    c->kind = CLOSED_BY_LAYER;
    if (w->shutdown) {
        c->state = C_DOWN;
        return;
    }
    if (c->state == C_CONNECTING) {
        connect_closed(c, reason);
        return;
    }
    if (kind == CLOSED_BY_LAYER)
        kind = layer_kind(c, reason);
    if (w->o->proto->no_reply)
        nr_closed(c, gc);
    c->state = C_DOWN;
    atomic_fetch_sub_explicit(&w->open, 1, memory_order_relaxed);
    /* A server that closes before its first reply (an HTTP port, the wrong protocol) is named
     * as such, and reconnects to it back off like failed connects instead of spinning. No
     * reply is ever due in fire-and-forget, so there a close is a close, and backs off. */
    if (kind == BENCH_ERR_CLOSED && !c->answered && !w->o->proto->no_reply)
        kind = BENCH_ERR_CLOSED_AT_ONCE;
    if (kind >= 0)
        count_err(w, (enum bench_err)kind, 1);
    w->inflight -= c->inflight;
    c->inflight = 0;
    c->ring_head = 0;
    /* Reconnect from the next iteration, never from inside this connection's own callback. */
    if (!w->ending)
        gw_ev_timer_start(w->ev, &c->retry,
                          kind == BENCH_ERR_CLOSED_AT_ONCE || c->refused || w->o->proto->no_reply
                              ? gw_backoff_next(&c->backoff)
                              : 0);
    c->refused = 0;
}

static void
conn_eof(struct gw_conn *gc)
{
    gw_conn_close(gc, GW_CONN_PEER_CLOSED);
}

/* The request timeout: lib/conn's idle timer runs only while requests (or the handshake's
 * answer) are due; a send to a quiet connection starts its clock, a read with replies restarts
 * it for those left. */
static const struct gw_conn_limits *
conn_limits(struct gw_conn *gc)
{
    struct conn *c = gw_conn_user(gc);

    if (c->w->ending && c->w->o->proto->no_reply)
        return &c->w->lim_end;
    return c->inflight > 0 || c->greeting ? &c->w->lim_busy : &c->w->lim_quiet;
}

/* --- sending ------------------------------------------------------------------------- */

/* At once, so the clock read just before it is the request's start. A write error closes c
 * (conn_closed). */
static void
conn_write(struct conn *c, const char *p, size_t len)
{
    if (c->gc)
        (void)gw_conn_write_now(c->gc, p, len);
}

/* Puts the n requests encoded last in the worker's write buffer (len bytes) in flight and writes
 * them. Closed loop: each starts at a clock read taken just before that write(), so the latency
 * holds none of gwbench's own work between a reply and the next request. Open loop: each starts
 * at its slot's intended time, and with `on_time` (sent by the scheduler, not held back by a full
 * pipeline) how late it left is recorded: that lateness is gwbench's own. */
static void
write_batch(struct conn *c, size_t len, unsigned n, uint64_t now, int on_time)
{
    struct worker *w = c->w;
    unsigned pipe = w->o->pipeline, slot;
    uint64_t start = 0;

    /* Closed loop: the window may have closed since the caller looked; what would start after it
     * is not sent, so the server never sees a request that is not counted. */
    if (w->o->rate <= 0 && (start = gw_mono_ns()) >= w->end_ns)
        return;
    while (n-- > 0) {
        if (w->o->rate > 0)
            start = w->t0 + (uint64_t)((double)(c->idx + c->slots_sent++ * w->nconns) * w->step_ns);
        slot = (c->ring_head + c->inflight) % pipe;
        c->ring[slot] = start;
        c->inflight++;
        w->inflight++;
        if (start >= w->rec_from && start < w->end_ns) {
            w->res.sent++;
            if (on_time)
                gw_hist_record(&w->res.lag, now > start ? now - start : 0);
        }
    }
    conn_write(c, w->wbuf, len);
}

/* Sends n requests, as few writes as the buffer allows (one, unless they are large). */
static void
send_requests(struct conn *c, unsigned n, uint64_t now, int on_time)
{
    struct worker *w = c->w;
    const struct bench_opts *o = w->o;
    unsigned batch = 0;
    size_t len = 0, room;
    int quiet = c->inflight == 0;

    while (n-- > 0) {
        room = WRITE_BYTES - len;
        if (room < o->max_request_bytes) {
            write_batch(c, len, batch, now, on_time);
            if (c->state != C_OPEN)
                return;
            len = 0;
            batch = 0;
            room = WRITE_BYTES;
        }
        len += o->proto->encode(o, w->wbuf + len, room);
        batch++;
    }
    if (batch > 0)
        write_batch(c, len, batch, now, on_time);
    /* The first requests in flight start the timeout. */
    if (quiet && c->gc && c->inflight > 0)
        gw_conn_touch(c->gc);
}

static void
fill_pipeline(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;

    if (w->o->proto->no_reply) {
        nr_send(c, now);
        return;
    }
    if (now >= w->end_ns || c->inflight >= w->o->pipeline || c->greeting)
        return;
    send_requests(c, w->o->pipeline - c->inflight, now, 0);
}

static void
send_due(struct conn *c, uint64_t now, int from_sched)
{
    uint64_t due = c->due - c->slots_sent;
    unsigned room = c->w->o->pipeline - c->inflight;

    if (c->w->o->proto->no_reply) {
        nr_send(c, now);
        return;
    }
    if (due > 0 && room > 0 && !c->greeting)
        send_requests(c, (unsigned)GW_MIN(due, (uint64_t)room), now, from_sched && due <= room);
}

/* Open loop: marks the slots that came due and sends them; re-arms the timerfd. */
static void
sched_run(struct worker *w, uint64_t now)
{
    struct itimerspec its = {0};
    struct conn *c;
    unsigned i;

    while (w->t_next <= now && w->t_next < w->end_ns) {
        c = &w->conns[w->k_next % w->nconns];
        c->due++;
        if (w->t_next >= w->rec_from)
            w->res.scheduled++;
        if (!c->dirty) {
            c->dirty = 1;
            w->dirty[w->ndirty++] = c->idx;
        }
        w->k_next++;
        w->t_next = w->t0 + (uint64_t)((double)w->k_next * w->step_ns);
    }
    for (i = 0; i < w->ndirty; i++) {
        c = &w->conns[w->dirty[i]];
        c->dirty = 0;
        if (c->state == C_OPEN)
            send_due(c, now, 1);
    }
    w->ndirty = 0;
    if (w->t_next < w->end_ns && !w->ending) {
        its.it_value.tv_sec = (time_t)(w->t_next / 1000000000u);
        its.it_value.tv_nsec = (long)(w->t_next % 1000000000u);
        timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    }
}

static void
sched_fire(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    uint64_t expirations;

    (void)ev;
    (void)events;
    if (read(fd, &expirations, sizeof(expirations)) == -1 && errno != EAGAIN)
        return;
    sched_run(arg, gw_mono_ns());
}

/* Sends what a connection may send now: its due slots (open loop), or a full pipeline. */
static void
send_more(struct conn *c, uint64_t now)
{
    if (c->w->o->rate > 0)
        send_due(c, now, 0);
    else
        fill_pipeline(c, now);
}

static void
flush_sends(struct gw_ev *ev, void *arg)
{
    struct worker *w = arg;
    uint64_t now = gw_mono_ns();
    struct conn *c;
    unsigned i;

    (void)ev;
    w->flush_armed = 0;
    for (i = 0; i < w->nsendq; i++) {
        c = &w->conns[w->sendq[i]];
        c->queued = 0;
        if (c->state == C_OPEN && w->running && !w->ending)
            send_more(c, now);
    }
    w->nsendq = 0;
}

/* Queues the next requests of a connection that had replies. All the replies of a batch of
 * events are read (and timed) before any request goes out: a write() to a loopback socket also
 * does the server's receive work, and done in between it would hold back the timestamps of the
 * replies still waiting in the other sockets. */
static void
queue_send(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;

    if (c->queued)
        return;
    if (!w->flush_armed) {
        if (gw_ev_defer(w->ev, flush_sends, w) == -1) {
            send_more(c, now);
            return;
        }
        w->flush_armed = 1;
    }
    c->queued = 1;
    w->sendq[w->nsendq++] = c->idx;
}

/* --- fire and forget (proto->no_reply) ------------------------------------------------ */

/* n requests were completed at now: counted in the run, and in the window when now is in it. */
static void
count_sent(struct worker *w, uint64_t n, uint64_t now)
{
    w->res.sent_total += n;
    if (now >= w->rec_from && now < w->end_ns)
        w->res.sent += n;
}

/* Encodes c's next n requests into dst (room for them); returns their size. */
static size_t
nr_encode(struct conn *c, unsigned n, char *dst)
{
    const struct bench_opts *o = c->w->o;
    size_t len = 0;

    if (o->proto->encode_seq)
        len = o->proto->encode_seq(o, c->gidx, c->seq_next, n, dst,
                                   (size_t)n * o->max_request_bytes);
    else
        for (unsigned i = 0; i < n; i++)
            len += o->proto->encode(o, dst + len, o->max_request_bytes);
    c->seq_next += n;
    return len;
}

/* Requests in one write: what the write buffer holds, at least one. */
static unsigned
nr_per_write(const struct worker *w)
{
    return (unsigned)GW_MAX(1u, WRITE_BYTES / w->o->max_request_bytes);
}

/* The whole requests the socket took since the last look count as sent at now. */
static void
nr_account(struct conn *c, uint64_t now)
{
    uint64_t done;

    if (!c->gc)
        return;
    done = (c->out_bytes - gw_conn_out_len(c->gc)) / c->w->o->max_request_bytes;
    count_sent(c->w, done - c->taken, now);
    c->taken = done;
}

/* A connection lib/conn is closing: what its socket took is counted, and the numbers of the
 * requests it never started are given back, so the only gap a server sees is the request the
 * close cut. Open loop: their slots are due again. */
static void
nr_closed(struct conn *c, struct gw_conn *gc)
{
    size_t frame = c->w->o->max_request_bytes, rest;
    uint64_t back, partial;

    c->gc = gc;
    nr_account(c, gw_mono_ns());
    c->gc = NULL;
    rest = gw_conn_out_len(gc);
    partial = (c->out_bytes - rest) % frame;
    if (partial)
        rest -= GW_MIN(rest, frame - partial);
    back = rest / frame + c->unwritten;
    c->seq_next -= back;
    if (c->w->o->rate > 0)
        c->slots_sent -= GW_MIN(c->slots_sent, back);
    c->unwritten = 0;
    if (c->draining) {
        c->draining = 0;
        c->w->inflight--;
    }
}

/* Requests c may take now: to its high mark and one past it (so a full socket arms
 * on_writable), at most one write's worth; 0 while it is above the mark. */
static unsigned
nr_room(struct conn *c)
{
    struct worker *w = c->w;
    size_t q = gw_conn_out_len(c->gc);

    if (q > w->out_high)
        return 0;
    return (unsigned)GW_MIN((w->out_high - q) / w->o->max_request_bytes + 1, nr_per_write(w));
}

/* Encodes and writes c's next n requests: to the socket at once when nothing is queued,
 * else straight into the queue (no copy). 0, or -1 when the write closed c. */
static int
nr_write(struct conn *c, unsigned n, uint64_t now)
{
    size_t len;
    char *p;

    if (gw_conn_out_len(c->gc) > 0) {
        if ((p = gw_conn_reserve(c->gc, (size_t)n * c->w->o->max_request_bytes)) == NULL)
            return -1;
        len = nr_encode(c, n, p);
        gw_conn_commit(c->gc, len);
        c->out_bytes += len;
        return 0;
    }
    len = nr_encode(c, n, c->w->wbuf);
    c->unwritten = n;
    if (gw_conn_write_now(c->gc, c->w->wbuf, len) == -1)
        return -1;
    c->unwritten = 0;
    c->out_bytes += len;
    nr_account(c, now);
    return 0;
}

static void
kick_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct worker *w = arg;
    uint64_t now = gw_mono_ns();
    unsigned i, n = w->nkickq;
    struct conn *c;

    (void)ev;
    (void)t;
    w->nkickq = 0;
    for (i = 0; i < n; i++) {
        c = &w->conns[w->kickq[i]];
        c->kicked = 0;
        if (c->state == C_OPEN && w->running && !w->ending)
            nr_send(c, now);
    }
}

/* c's socket took NR_WRITES in a row: the rest waits for the next iteration, so the other
 * connections, the timers and the end of the run are not held up by a fast server. */
static void
nr_kick(struct conn *c)
{
    struct worker *w = c->w;

    if (c->kicked)
        return;
    c->kicked = 1;
    w->kickq[w->nkickq++] = c->idx;
    if (!gw_ev_timer_armed(&w->kick))
        gw_ev_timer_start(w->ev, &w->kick, 0);
}

static void
udp_watch(struct conn *c, int on)
{
    if (c->watching != on && gw_ev_mod(c->w->ev, c->fd, on ? GW_EV_WRITE : 0) == 0)
        c->watching = on;
}

/* A datagram socket failed: closed, counted, made again after the backoff. */
static void
udp_down(struct conn *c, enum bench_err kind)
{
    struct worker *w = c->w;

    gw_ev_del(w->ev, c->fd);
    close(c->fd);
    c->fd = -1;
    c->watching = 0;
    c->state = C_DOWN;
    atomic_fetch_sub_explicit(&w->open, 1, memory_order_relaxed);
    count_err(w, kind, 1);
    if (!w->ending)
        gw_ev_timer_start(w->ev, &c->retry, gw_backoff_next(&c->backoff));
}

/* Sends c's next n requests (at most a batch), one a datagram. Returns how many the socket
 * took (the numbers of the others are given back), or -1 when c failed. */
static int
udp_send(struct conn *c, unsigned n, uint64_t now)
{
    struct worker *w = c->w;
    int k;

    n = GW_MIN(n, GW_MIN(nr_per_write(w), (unsigned)GW_UDP_SEND_BATCH));
    nr_encode(c, n, w->wbuf);
    if ((k = gw_udp_send_each(c->fd, w->wbuf, w->o->max_request_bytes, n)) == -1) {
        c->seq_next -= n;
        /* ECONNREFUSED: an ICMP error the error queue also has; udp_check() counts it. */
        if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED)
            return 0;
        udp_down(c, BENCH_ERR_CLOSED);
        return -1;
    }
    c->seq_next -= n - (unsigned)k;
    count_sent(w, (uint64_t)k, now);
    return k;
}

/* Sends what c may send now: closed loop, as much as its socket takes; open loop, its slots
 * that came due. */
static void
nr_send(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    uint64_t due;
    unsigned n;
    int k;

    if (c->state != C_OPEN || !w->running || w->ending || now >= w->end_ns)
        return;
    if (w->o->proto->datagram) {
        /* Closed loop: a batch now and one each time the socket can take more. */
        if (w->o->rate <= 0) {
            if (udp_send(c, GW_UDP_SEND_BATCH, now) >= 0)
                udp_watch(c, 1);
            return;
        }
        while ((due = c->due - c->slots_sent) > 0) {
            n = (unsigned)GW_MIN(due, (uint64_t)GW_UDP_SEND_BATCH);
            if ((k = udp_send(c, n, now)) == -1)
                return;
            c->slots_sent += (unsigned)k;
            if ((unsigned)k < n) {
                udp_watch(c, 1);
                return;
            }
        }
        udp_watch(c, 0);
        return;
    }
    for (unsigned i = 0; i < NR_WRITES; i++) {
        due = w->o->rate > 0 ? c->due - c->slots_sent : UINT64_MAX;
        if (due == 0)
            return;
        if ((n = nr_room(c)) == 0) {
            /* Full: on_writable comes at the low mark. */
            (void)gw_conn_above_high(c->gc);
            return;
        }
        n = (unsigned)GW_MIN((uint64_t)n, due);
        if (w->o->rate > 0)
            c->slots_sent += n;
        if (nr_write(c, n, now) == -1)
            return;
    }
    nr_kick(c);
}

/* The datagram socket can take more. */
static void
udp_io(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    struct conn *c = arg;

    (void)ev;
    (void)fd;
    (void)events;
    if (c->w->running && !c->w->ending)
        nr_send(c, gw_mono_ns());
    else
        udp_watch(c, 0);
}

/* A connected UDP socket: open at once (a missing server shows only as ICMP errors later). */
static int
udp_open(struct conn *c)
{
    struct worker *w = c->w;
    char err[GW_ERR_LEN];

    if ((c->fd = gw_udp_connect(&w->o->addr, err)) == -1 ||
        gw_ev_add(w->ev, c->fd, 0, udp_io, c, err) == -1) {
        if (c->fd != -1)
            close(c->fd);
        c->fd = -1;
        connect_failed(c, 0, err);
        return -1;
    }
    c->state = C_OPEN;
    c->watching = 0;
    atomic_fetch_add_explicit(&w->open, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->opened, 1, memory_order_relaxed);
    w->res.connected++;
    first_outcome(c);
    start_sending(c);
    return 0;
}

/* A UDP server that is not there answers with ICMP port unreachable: each socket's error
 * queue is read every UDP_CHECK_NS, and one that had any counts one connect error. */
static void
udp_check(struct worker *w, uint64_t now)
{
    w->udp_check_ns = now;
    for (unsigned i = 0; i < w->nconns; i++) {
        if (w->conns[i].state == C_OPEN && gw_udp_refused(w->conns[i].fd)) {
            count_err(w, BENCH_ERR_CONNECT, 1);
            if (!w->first_err[0])
                gw_strlcpy(w->first_err, UDP_REFUSED, sizeof(w->first_err));
        }
    }
}

/* Queued output went down to the low mark: more (or, at the end, maybe all out). */
static void
conn_writable(struct gw_conn *gc)
{
    struct conn *c = gw_conn_user(gc);
    struct worker *w = c->w;
    uint64_t now = gw_mono_ns();

    nr_account(c, now);
    if (w->ending) {
        if (c->draining && gw_conn_out_len(gc) == 0) {
            c->draining = 0;
            if (--w->inflight == 0 && !w->finished)
                worker_finish(w);
        }
        return;
    }
    nr_send(c, now);
}

/* The end: nothing new is encoded; the connections with output queued are waited for (on
 * w->inflight), each until it is all out. */
static void
nr_begin_drain(struct worker *w)
{
    struct conn *c;

    for (unsigned i = 0; i < w->nconns; i++) {
        c = &w->conns[i];
        if (c->fd != -1)
            udp_watch(c, 0);
        if (c->state != C_OPEN || !c->gc || gw_conn_out_len(c->gc) == 0)
            continue;
        c->draining = 1;
        w->inflight++;
        (void)gw_conn_above_high(c->gc); /* with lim_end: on_writable once empty */
    }
}

/* Counts what went out since, and takes the connections now empty off w->inflight. */
static void
nr_drained(struct worker *w, uint64_t now)
{
    struct conn *c;

    for (unsigned i = 0; i < w->nconns; i++) {
        c = &w->conns[i];
        if (!c->draining || !c->gc)
            continue;
        nr_account(c, now);
        if (gw_conn_out_len(c->gc) == 0) {
            c->draining = 0;
            w->inflight--;
        }
    }
}

/* --- receiving ----------------------------------------------------------------------- */

static void
reply_done(struct conn *c, uint64_t now, int ok)
{
    struct worker *w = c->w;
    uint64_t start = c->ring[c->ring_head];

    c->ring_head = (c->ring_head + 1) % w->o->pipeline;
    c->inflight--;
    w->inflight--;
    c->answered = 1;
    if (!ok)
        count_err(w, BENCH_ERR_WRONG, 1);
    if (start >= w->rec_from && start < w->end_ns) {
        w->res.requests++;
        gw_hist_record(&w->res.hist, now > start ? now - start : 0);
    }
}

/* Parses the replies in p[0..len); returns the bytes consumed, or -1 when the connection was
 * closed. *n counts the replies. */
static long
parse_replies(struct conn *c, const char *p, size_t len, uint64_t now, unsigned *n)
{
    const struct bench_opts *o = c->w->o;
    size_t off = 0, used;
    enum bench_parse r;

    while (off < len) {
        used = 0;
        r = o->proto->parse(o, p + off, len - off, &used);
        if (r == BENCH_NEED_MORE) {
            if (len - off < o->proto->max_reply_bytes)
                break;
            r = BENCH_REPLY_BAD;
        }
        if (r == BENCH_SKIP) {
            /* A server's ping (answered) or pong between the replies: no reply, no error. */
            size_t answer = o->proto->control
                                ? o->proto->control(o, p + off, used, c->w->wbuf, WRITE_BYTES)
                                : 0;
            if (answer)
                conn_write(c, c->w->wbuf, answer);
            off += used;
            continue;
        }
        if (r == BENCH_REPLY_BAD || c->inflight == 0) {
            /* Unparseable, or a reply to nothing: the stream is out of step. */
            count_err(c->w, BENCH_ERR_WRONG, 1);
            conn_end(c, -1);
            return -1;
        }
        reply_done(c, now, r == BENCH_REPLY_OK);
        (*n)++;
        off += used;
    }
    return (long)off;
}

/* The answer to the protocol's hello at the front of buf (len bytes): returns the bytes it
 * spans, -2 while incomplete (everything stays for the next read), or -1 once the connection
 * was closed for a wrong answer. */
static long
hello_reply(struct conn *c, const char *buf, size_t len)
{
    struct worker *w = c->w;
    size_t used = 0;
    enum bench_parse r = w->o->proto->hello_reply(w->o, buf, len, &used);

    if (r == BENCH_NEED_MORE)
        return len < w->o->proto->max_reply_bytes ? -2 : (conn_end(c, BENCH_ERR_WRONG), -1);
    if (r != BENCH_REPLY_OK) {
        count_err(w, BENCH_ERR_CONNECT, 1);
        if (!w->first_err[0])
            snprintf(w->first_err, sizeof(w->first_err), "the server refused the handshake");
        c->refused = 1;
        conn_end(c, -1);
        return -1;
    }
    c->greeting = 0;
    start_sending(c);
    return c->state == C_OPEN ? (long)used : -1;
}

/* Input, right after the read() that got it (lib/conn keeps what is not consumed: a partial
 * reply). */
static size_t
conn_data(struct gw_conn *gc, char *data, size_t len)
{
    struct conn *c = gw_conn_user(gc);
    struct worker *w = c->w;
    uint64_t now;
    unsigned replies = 0;
    long used, skip = 0;

    if (w->o->proto->no_reply)
        return len; /* nothing is expected: whatever comes is dropped */
    now = gw_mono_ns();
    if (c->greeting && (skip = hello_reply(c, data, len)) < 0)
        return skip == -2 ? 0 : len;
    if ((used = parse_replies(c, data + skip, len - (size_t)skip, now, &replies)) == -1)
        return len;
    used += skip;
    /* Replies restart the clock of those still in flight (a send to a quiet connection starts
     * it again), and end the backoff. */
    if (replies > 0) {
        if (c->inflight > 0)
            gw_conn_touch(gc);
        if (c->backoff.attempt)
            gw_backoff_reset(&c->backoff);
    }
    if (w->ending) {
        if (w->inflight == 0 && !w->finished)
            worker_finish(w);
        return (size_t)used;
    }
    if (replies > 0 && w->running)
        queue_send(c, now);
    return (size_t)used;
}

static const struct gw_conn_proto conn_proto = {
    .name = "gwbench",
    .limits = conn_limits,
    .on_open = conn_opened,
    .on_data = conn_data,
    .on_writable = conn_writable,
    .on_eof = conn_eof,
    .on_close = conn_closed,
};

/* --- worker phases ------------------------------------------------------------------- */

static void
snapshot(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->snap = w->res;
    w->snap.open = atomic_load_explicit(&w->open, memory_order_relaxed);
    pthread_mutex_unlock(&w->mu);
}

static void
tick_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct worker *w = arg;
    uint64_t now = gw_mono_ns();
    unsigned i;

    if (w->ending && w->o->proto->no_reply)
        nr_drained(w, now);
    if (w->ending && (w->inflight == 0 || now >= w->drain_until)) {
        for (i = 0; i < w->nconns; i++)
            if (w->conns[i].inflight > 0 || w->conns[i].draining)
                count_err(w, BENCH_ERR_TIMEOUT, GW_MAX(w->conns[i].inflight, 1u));
        worker_finish(w);
        return;
    }
    /* Half a tick of slack, so a 100 ms tick checks at each tick, not every other one. */
    if (w->o->proto->datagram && w->running &&
        now - w->udp_check_ns + w->tick_ms * 500000ull >= UDP_CHECK_NS)
        udp_check(w, now);
    if (w->o->progress)
        snapshot(w);
    gw_ev_timer_start(ev, t, w->tick_ms);
}

static void
worker_begin_end(struct worker *w, uint64_t now)
{
    if (w->ending)
        return;
    /* The window ends: what the sockets took until now counts in it. */
    if (w->o->proto->no_reply)
        for (unsigned i = 0; i < w->nconns; i++)
            if (w->conns[i].gc && w->conns[i].state == C_OPEN)
                nr_account(&w->conns[i], GW_MIN(now, w->end_ns) - 1);
    w->ending = 1;
    w->res.open = atomic_load_explicit(&w->open, memory_order_relaxed);
    if (w->end_ns > now)
        w->end_ns = now;
    w->drain_until = now + w->o->timeout_ms * 1000000u;
    if (w->o->proto->no_reply)
        nr_begin_drain(w);
    if (w->inflight == 0)
        worker_finish(w);
}

static void
end_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct worker *w = arg;
    uint64_t now = gw_mono_ns();

    (void)ev;
    if (now < w->end_ns) {
        /* The loop's timers have ms resolution: wait for the remainder. */
        gw_ev_timer_start(w->ev, t, (w->end_ns - now + 999999u) / 1000000u);
        return;
    }
    worker_begin_end(w, now);
}

static void
worker_begin_run(struct worker *w)
{
    uint64_t now = gw_mono_ns();
    unsigned i;

    w->running = 1;
    w->t0 = E.t0;
    w->rec_from = E.rec_from;
    w->end_ns = E.end_ns;
    gw_ev_timer_start(w->ev, &w->end, w->end_ns > now ? (w->end_ns - now) / 1000000u : 0);
    if (w->o->idle)
        return;
    if (w->o->rate > 0) {
        w->step_ns = 1e9 * (double)w->o->conns / (w->o->rate * (double)w->nconns);
        w->k_next = 0;
        w->t_next = w->t0;
        sched_run(w, now);
        return;
    }
    for (i = 0; i < w->nconns && !w->ending; i++)
        if (w->conns[i].state == C_OPEN)
            fill_pipeline(&w->conns[i], now);
}

static void
worker_wake(struct gw_ev *ev, void *arg)
{
    struct worker *w = arg;

    (void)ev;
    if (atomic_load_explicit(&E.stop, memory_order_acquire)) {
        if (!w->running) {
            worker_finish(w);
        } else {
            worker_begin_end(w, gw_mono_ns());
        }
        return;
    }
    if (!w->running && atomic_load_explicit(&E.started, memory_order_acquire))
        worker_begin_run(w);
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    char err[GW_ERR_LEN];
    unsigned i;

    /* Precise wake-ups for the open-loop schedule. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    gw_ev_on_wake(w->ev, worker_wake, w);
    if (w->tfd != -1 && gw_ev_add(w->ev, w->tfd, GW_EV_READ, sched_fire, w, err) == -1)
        gw_strlcpy(w->first_err, err, sizeof(w->first_err));
    gw_ev_timer_init(&w->tick, tick_fire, w);
    gw_ev_timer_init(&w->end, end_fire, w);
    gw_ev_timer_init(&w->kick, kick_fire, w);
    gw_ev_timer_start(w->ev, &w->tick, w->tick_ms);
    for (i = 0; i < w->nconns; i++)
        queue_connect(&w->conns[i]);
    /* Catches a start or a stop that came before the loop ran. */
    worker_wake(w->ev, w);
    if (!w->finished && gw_conn_loop_run(w->loop, err) == -1 && !w->first_err[0])
        gw_strlcpy(w->first_err, err, sizeof(w->first_err));
    /* The results are final: the closes of the shutdown count nothing. */
    w->shutdown = 1;
    gw_conn_loop_free(w->loop);
    w->loop = NULL;
    for (i = 0; i < w->nconns; i++) {
        gw_ev_timer_stop(w->ev, &w->conns[i].retry);
        if (w->conns[i].fd != -1) {
            gw_ev_del(w->ev, w->conns[i].fd);
            close(w->conns[i].fd);
            w->conns[i].fd = -1;
        }
    }
    gw_ev_timer_stop(w->ev, &w->kick);
    if (!w->ending)
        w->res.open = 0;
    atomic_fetch_add_explicit(&E.done, 1, memory_order_release);
    gw_ev_wake(E.ev);
    return NULL;
}

static int
worker_init(struct worker *w, const struct bench_opts *o, unsigned id, unsigned nconns, char *err)
{
    struct conn *c;
    unsigned i;

    w->o = o;
    w->id = id;
    w->nconns = nconns;
    w->tfd = -1;
    w->tick_ms = (unsigned)GW_MAX(TICK_MIN_MS, GW_MIN(TICK_MAX_MS, o->timeout_ms / 4));
    w->end_ns = UINT64_MAX;
    w->rec_from = UINT64_MAX;
    w->pending_first = nconns;
    atomic_init(&w->open, 0);
    atomic_init(&w->opened, 0);
    gw_hist_init(&w->res.hist);
    gw_hist_init(&w->res.lag);
    pthread_mutex_init(&w->mu, NULL);
    w->conns = calloc(nconns, sizeof(*w->conns));
    w->connq = calloc(nconns, sizeof(*w->connq));
    w->dirty = calloc(nconns, sizeof(*w->dirty));
    w->sendq = calloc(nconns, sizeof(*w->sendq));
    w->kickq = calloc(nconns, sizeof(*w->kickq));
    w->rings = o->idle ? NULL : calloc((size_t)nconns * o->pipeline, sizeof(*w->rings));
    /* Room for one request past WRITE_BYTES: a fire-and-forget request may be that long. */
    w->wbuf = malloc(WRITE_BYTES + o->max_request_bytes);
    if (!w->conns || !w->connq || !w->dirty || !w->sendq || !w->kickq || (!o->idle && !w->rings) ||
        !w->wbuf)
        return gw_err(err, "out of memory for %u connections", nconns);
    /* An epoll loop has no tie to the thread that makes it: made here, a failure ends the run
     * before any thread starts. */
    if ((w->ev = gw_ev_new(err)) == NULL ||
        (w->loop = gw_conn_loop_new(w->ev, GW_CONN_IO_EPOLL, err)) == NULL)
        return -1;
    /* A partial reply is kept up to the longest one; requests queue up to a full pipeline and a
     * hello. */
    w->lim_quiet.max_in = o->proto->max_reply_bytes;
    w->lim_quiet.max_out = (size_t)o->pipeline * o->max_request_bytes + WRITE_BYTES;
    w->lim_busy = w->lim_quiet;
    w->lim_busy.idle_ms = o->timeout_ms;
    if (o->proto->no_reply) {
        /* The output is topped up to the high mark and refilled from the low one; all the
         * connections together hold at most NR_OUT_ALL. */
        w->out_high = GW_MAX(NR_OUT_MIN, GW_MIN(NR_OUT_MAX, NR_OUT_ALL / o->conns));
        w->lim_quiet.out_high = w->out_high;
        w->lim_quiet.out_low = w->out_high / 2;
        w->lim_quiet.max_out = w->out_high + 2 * (WRITE_BYTES + o->max_request_bytes);
        w->lim_end = w->lim_quiet;
        w->lim_end.out_high = 1;
        w->lim_end.out_low = 0;
    }
    if (o->rate > 0 && (w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) == -1)
        return gw_err_errno(err, "timerfd_create");
    for (i = 0; i < nconns; i++) {
        c = &w->conns[i];
        c->w = w;
        c->idx = i;
        c->kind = CLOSED_BY_LAYER;
        c->gidx = w->base + i;
        c->fd = -1;
        c->seq_next = 1;
        c->ring = o->idle ? NULL : w->rings + (size_t)i * o->pipeline;
        gw_ev_timer_init(&c->retry, retry_fire, c);
        gw_backoff_init(&c->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, 0);
    }
    return 0;
}

static void
worker_free(struct worker *w)
{
    /* Still there when its thread never ran. */
    if (w->loop)
        gw_conn_loop_free(w->loop);
    if (w->ev)
        gw_ev_free(w->ev);
    if (w->tfd != -1)
        close(w->tfd);
    pthread_mutex_destroy(&w->mu);
    free(w->conns);
    free(w->connq);
    free(w->dirty);
    free(w->sendq);
    free(w->kickq);
    free(w->rings);
    free(w->wbuf);
}

/* --- the main thread ----------------------------------------------------------------- */

static void
stop_workers(void)
{
    unsigned i;

    atomic_store_explicit(&E.stop, 1, memory_order_release);
    for (i = 0; i < E.nworkers; i++)
        gw_ev_wake(E.workers[i].ev);
}

static void
progress_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct bench_results *p = &E.prog;
    uint64_t now = gw_mono_ns(), open = 0, done;
    unsigned i;
    double dt, elapsed;

    (void)arg;
    memset(p, 0, sizeof(*p));
    gw_hist_init(&p->hist);
    gw_hist_init(&p->lag);
    for (i = 0; i < E.nworkers; i++) {
        pthread_mutex_lock(&E.workers[i].mu);
        bench_results_add(p, &E.workers[i].snap);
        pthread_mutex_unlock(&E.workers[i].mu);
        open += atomic_load_explicit(&E.workers[i].open, memory_order_relaxed);
    }
    dt = (double)(now - E.last_ns) / 1e9;
    elapsed = (double)(now - E.t0) / 1e9;
    /* Fire and forget: requests sent, as nothing is answered. */
    done = E.o->proto->no_reply ? p->sent : p->requests;
    bench_progress(E.o, elapsed, done, dt > 0 ? (double)(done - E.last_requests) / dt : 0, &p->hist,
                   p->errors[0] + p->errors[1] + p->errors[2] + p->errors[3], open);
    E.last_ns = now;
    E.last_requests = done;
    gw_ev_timer_start(ev, t, 1000);
}

static void
start_run(void)
{
    uint64_t open = 0, opened = 0;
    unsigned i;

    for (i = 0; i < E.nworkers; i++) {
        open += atomic_load_explicit(&E.workers[i].open, memory_order_relaxed);
        opened += atomic_load_explicit(&E.workers[i].opened, memory_order_relaxed);
    }
    /* Fails only when nothing connected: a server that accepts and hangs up at once (or
     * refuses the handshake) may have closed every connection by now, and gets a run whose
     * report names its errors, however fast it was. */
    if (opened == 0) {
        E.failed = 1;
        stop_workers();
        return;
    }
    /* Workers start when woken, after t0: every request they send is in the window. */
    E.t0 = gw_mono_ns();
    E.rec_from = E.t0 + E.o->warmup_ms * 1000000u;
    E.end_ns = E.rec_from + E.o->duration_ms * 1000000u;
    E.last_ns = E.t0;
    atomic_store_explicit(&E.started, 1, memory_order_release);
    for (i = 0; i < E.nworkers; i++)
        gw_ev_wake(E.workers[i].ev);
    if (E.o->idle)
        bench_idle_ready(E.o, open);
    if (E.o->progress)
        gw_ev_timer_start(E.ev, &E.progress, 1001);
}

static void
main_wake(struct gw_ev *ev, void *arg)
{
    (void)arg;
    if (atomic_load_explicit(&E.done, memory_order_acquire) == E.nworkers) {
        gw_ev_stop(ev);
        return;
    }
    if (!atomic_load_explicit(&E.started, memory_order_relaxed) &&
        !atomic_load_explicit(&E.stop, memory_order_relaxed) &&
        atomic_load_explicit(&E.ready, memory_order_acquire) == E.nworkers)
        start_run();
}

static void
main_signal(struct gw_ev *ev, int signo, void *arg)
{
    (void)ev;
    (void)signo;
    (void)arg;
    if (!E.stop_ns)
        E.stop_ns = gw_mono_ns();
    stop_workers();
}

static int
start_workers(const struct bench_opts *o, char *err)
{
    unsigned i, share = o->conns / o->threads, extra = o->conns % o->threads;

    if ((E.workers = calloc(o->threads, sizeof(*E.workers))) == NULL)
        return gw_err(err, "out of memory");
    for (i = 0; i < o->threads; i++) {
        E.ninit = i + 1;
        E.workers[i].base = i == 0 ? 0 : E.workers[i - 1].base + E.workers[i - 1].nconns;
        if (worker_init(&E.workers[i], o, i, share + (i < extra), err) == -1)
            return -1;
    }
    for (i = 0; i < o->threads; i++) {
        if (pthread_create(&E.workers[i].tid, NULL, worker_main, &E.workers[i]) != 0) {
            gw_err(err, "cannot start thread %u", i);
            E.nworkers = i;
            stop_workers();
            return -1;
        }
        E.nworkers = i + 1;
    }
    return 0;
}

static void
collect(struct bench_results *res, double *elapsed_s)
{
    uint64_t end = E.end_ns;
    unsigned i;

    memset(res, 0, sizeof(*res));
    gw_hist_init(&res->hist);
    gw_hist_init(&res->lag);
    for (i = 0; i < E.nworkers; i++)
        bench_results_add(res, &E.workers[i].res);
    if (E.stop_ns && E.stop_ns < end)
        end = E.stop_ns;
    *elapsed_s = atomic_load(&E.started) && end > E.rec_from ? (double)(end - E.rec_from) / 1e9 : 0;
}

int
bench_run(const struct bench_opts *o, struct bench_results *res, double *elapsed_s, char *err)
{
    static const int sigs[] = {SIGINT, SIGTERM, 0};
    int rc = -1;
    unsigned i;

    memset(&E, 0, sizeof(E));
    E.o = o;
    signal(SIGPIPE, SIG_IGN);
    if (gw_ev_block_signals(sigs, err) == -1 || (E.ev = gw_ev_new(err)) == NULL ||
        gw_ev_signals(E.ev, sigs, main_signal, NULL, err) == -1)
        goto fail;
    gw_ev_on_wake(E.ev, main_wake, NULL);
    gw_ev_timer_init(&E.progress, progress_fire, NULL);
    if (start_workers(o, err) == -1)
        goto join;
    gw_ev_run(E.ev);
    rc = 0;
join:
    for (i = 0; i < E.nworkers; i++)
        if (E.workers[i].tid)
            pthread_join(E.workers[i].tid, NULL);
    if (rc == 0 && E.failed) {
        for (i = 0; i < E.nworkers && E.workers[i].first_err[0] == '\0'; i++)
            ;
        gw_err(err, "cannot connect to %s: %s", o->target,
               i < E.nworkers ? E.workers[i].first_err : "no connection succeeded");
        rc = -1;
    }
    if (rc == 0)
        collect(res, elapsed_s);
    for (i = 0; i < E.ninit; i++)
        worker_free(&E.workers[i]);
    free(E.workers);
fail:
    if (E.ev)
        gw_ev_free(E.ev);
    return rc;
}
