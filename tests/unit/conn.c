/*
 * conn.c -- unit tests for lib/conn.c on each backend (epoll, and io_uring where the kernel
 * allows): input kept between reads and its bound, replies, EOF delivering owed output (after
 * one request, a pipelined batch, a partial line), close from inside a callback (its own and
 * another connection's; freed after the callback, so ASan sees no use after free), finish and
 * lingering close, the idle timer re-armed lazily, pause/resume at the output marks and
 * explicitly, max_out, drain, redelivery of kept input, outgoing connects (success, refused,
 * timeout), write_now, and an epoll loop left to gw_ev_run (the after-batch work from a 0 ms
 * timer).
 */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"

#define WAIT_MS 3000

static char err[GW_ERR_LEN];
static struct gw_ev *ev;
static struct gw_conn_loop *loop;
static const char *backend;
static int lfd = -1; /* a loopback listener the pairs are made from */
static struct sockaddr_in laddr;

enum mode { LINES, NONE, CLOSE_IN_DATA, CLOSE_PEER, BIG };

struct rec {
    enum mode mode;
    struct gw_conn *c, *peer;
    struct gw_conn_limits lim;
    int opened, closed, eofs, writables, ndata, write_after_close;
    int want_ndata;        /* for ndata_at_least */
    int quiet;             /* LINES: consume lines without replying */
    int finishing_in_data; /* on_data saw gw_conn_finishing() */
    uint64_t closed_ms;
    char reason[160];
    char got[4096]; /* consumed lines */
    size_t ngot;
    char offers[256]; /* "[data]" for each call of on_data, while it fits */
};

/* ---- the protocol under test ---- */

static const struct gw_conn_limits *
t_limits(struct gw_conn *c)
{
    return &((struct rec *)gw_conn_user(c))->lim;
}

static void
t_open(struct gw_conn *c)
{
    struct rec *r = gw_conn_user(c);

    r->opened++;
    r->c = c;
}

static void
record(struct rec *r, const char *p, size_t n)
{
    if (r->ngot + n < sizeof(r->got)) {
        memcpy(r->got + r->ngot, p, n);
        r->ngot += n;
        r->got[r->ngot] = '\0';
    }
}

static size_t
t_data(struct gw_conn *c, char *data, size_t len)
{
    struct rec *r = gw_conn_user(c);
    size_t used = 0;
    char *nl;

    r->ndata++;
    if (gw_conn_finishing(c))
        r->finishing_in_data++;
    size_t o = strlen(r->offers);
    if (o + len + 3 < sizeof(r->offers))
        snprintf(r->offers + o, sizeof(r->offers) - o, "[%.*s]", (int)len, data);
    switch (r->mode) {
    case NONE:
        return 0;
    case CLOSE_IN_DATA:
        gw_conn_close(c, "closed in on_data");
        r->write_after_close = gw_conn_write(c, "x", 1);
        gw_conn_close(c, "twice");
        return len;
    case CLOSE_PEER:
        if (r->peer && !gw_conn_closed(r->peer))
            gw_conn_close(r->peer, "closed by its peer");
        return len;
    case LINES:
    case BIG:
        break;
    }
    while ((nl = memchr(data + used, '\n', len - used)) != NULL) {
        size_t n = (size_t)(nl - (data + used));
        record(r, data + used, n + 1);
        gw_conn_touch(c);
        if (r->mode == BIG) {
            char *p = gw_conn_reserve(c, 65536);
            if (p) {
                memset(p, 'b', 65536);
                gw_conn_commit(c, 65536);
            }
        } else if (n == 5 && memcmp(data + used, "pause", 5) == 0) {
            gw_conn_pause_read(c);
            return (size_t)(nl + 1 - data);
        } else if (n == 3 && memcmp(data + used, "bye", 3) == 0) {
            gw_conn_write(c, "bye!\n", 5);
            gw_conn_finish(c);
            return (size_t)(nl + 1 - data);
        } else if (!r->quiet) {
            gw_conn_write(c, data + used, n);
            gw_conn_write(c, "!\n", 2);
        }
        used = (size_t)(nl + 1 - data);
    }
    return used;
}

static void
t_writable(struct gw_conn *c)
{
    ((struct rec *)gw_conn_user(c))->writables++;
}

static void
t_eof(struct gw_conn *c)
{
    ((struct rec *)gw_conn_user(c))->eofs++;
    gw_conn_finish(c);
}

static void
t_close(struct gw_conn *c, const char *reason)
{
    struct rec *r = gw_conn_user(c);

    r->closed++;
    r->closed_ms = gw_ev_now_ms(gw_conn_loop_ev(gw_conn_loop_of(c)));
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

static const struct gw_conn_proto proto = {
    .name = "test",
    .limits = t_limits,
    .on_open = t_open,
    .on_data = t_data,
    .on_writable = t_writable,
    .on_eof = t_eof,
    .on_close = t_close,
};

/* ---- driving the loop ---- */

static int (*cond_fn)(void *);
static void *cond_arg;
static uint64_t deadline;
static int cond_met;
static struct gw_ev_timer check_timer;

static void
check(struct gw_ev *e, struct gw_ev_timer *t, void *arg)
{
    (void)arg;
    if (cond_fn(cond_arg)) {
        cond_met = 1;
        gw_conn_loop_stop(loop);
        return;
    }
    if (gw_ev_now_ms(e) >= deadline) {
        gw_conn_loop_stop(loop);
        return;
    }
    gw_ev_timer_start(e, t, 1);
}

/* Runs the loop until fn(arg) or ms pass; returns whether fn held. */
static int
run_until(int (*fn)(void *), void *arg, int ms)
{
    cond_fn = fn;
    cond_arg = arg;
    cond_met = 0;
    deadline = gw_ev_update_time(ev) + (uint64_t)ms;
    gw_ev_timer_start(ev, &check_timer, 0);
    if (gw_conn_loop_run(loop, err) == -1)
        diag("loop failed: %s", err);
    gw_ev_timer_stop(ev, &check_timer);
    return cond_met;
}

static int
never(void *arg)
{
    (void)arg;
    return 0;
}

static int
is_closed(void *arg)
{
    return ((struct rec *)arg)->closed > 0;
}

static int
is_opened(void *arg)
{
    return ((struct rec *)arg)->opened > 0 || ((struct rec *)arg)->closed > 0;
}

/* ---- the client side ---- */

struct client {
    int fd;
    char buf[1 << 16];
    size_t n;
    int eof;
    size_t want; /* bytes to read before done */
    size_t total;
};

static void
client_read(struct client *cl)
{
    ssize_t n;

    while (!cl->eof) {
        char tmp[65536];
        n = read(cl->fd, tmp, sizeof(tmp));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            cl->eof = 1;
            break;
        }
        if (n < 0)
            break;
        cl->total += (size_t)n;
        if (cl->n + (size_t)n < sizeof(cl->buf)) {
            memcpy(cl->buf + cl->n, tmp, (size_t)n);
            cl->n += (size_t)n;
            cl->buf[cl->n] = '\0';
        }
    }
}

static int
client_has(void *arg)
{
    struct client *cl = arg;

    client_read(cl);
    return cl->total >= cl->want;
}

static int
client_eof(void *arg)
{
    struct client *cl = arg;

    client_read(cl);
    return cl->eof;
}

static void
csend(struct client *cl, const char *s)
{
    if (write(cl->fd, s, strlen(s)) != (ssize_t)strlen(s))
        diag("client write failed: %s", strerror(errno));
}

/* A connected TCP pair on loopback; the server side adopted with r as its user pointer. */
static struct gw_conn *
pair_buf(struct client *cl, struct rec *r, int small)
{
    int s;

    memset(cl, 0, sizeof(*cl));
    cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* Small buffers, set before the handshake so the window is sized for them: output then
     * stays queued in the connection instead of the kernel. */
    if (small)
        setsockopt(cl->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    if (connect(cl->fd, (struct sockaddr *)&laddr, sizeof(laddr)) == -1 ||
        (s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
        diag("pair: %s", strerror(errno));
        return NULL;
    }
    gw_net_set_nonblock(cl->fd, 1);
    if (small)
        setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    r->c = gw_conn_adopt(loop, s, NULL, 0, &proto, r, err);
    return r->c;
}

static struct gw_conn *
pair(struct client *cl, struct rec *r)
{
    return pair_buf(cl, r, 0);
}

static void
client_close(struct client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    cl->fd = -1;
}

/* ---- tests ---- */

static void
test_basic(void)
{
    struct rec r = {.mode = LINES};
    struct client cl;
    struct gw_conn *c = pair(&cl, &r);

    ok(c && r.opened == 1, "%s: adopt opens the connection (on_open)", backend);
    ok(gw_conn_id(c) > 0, "%s: connections get an id", backend);
    ok(strncmp(gw_conn_addr(c), "127.0.0.1:", 10) == 0, "%s: the peer address: %s", backend,
       gw_conn_addr(c));
    is(gw_conn_loop_count(loop), 1, "%s: the loop counts it", backend);
    csend(&cl, "hel");
    cl.want = 0;
    ok(run_until(never, NULL, 30) == 0 && r.ndata == 1 && r.ngot == 0,
       "%s: a partial line is offered and left unconsumed", backend);
    csend(&cl, "lo\nwor");
    cl.want = 7;
    ok(run_until(client_has, &cl, WAIT_MS) && strcmp(cl.buf, "hello!\n") == 0,
       "%s: the reply to the completed line comes", backend);
    is_str(r.offers, "[hel][hello\nwor][wor]",
           "%s: the kept bytes come first, then the rest of the input in place", backend);
    csend(&cl, "ld\n");
    cl.want = 14;
    ok(run_until(client_has, &cl, WAIT_MS) && strcmp(cl.buf, "hello!\nworld!\n") == 0,
       "%s: the rest is kept and completed by the next read", backend);
    is_str(r.got, "hello\nworld\n", "%s: every line consumed once, in order", backend);
    gw_conn_close(c, "test over");
    is(r.closed, 1, "%s: gw_conn_close calls on_close at once", backend);
    is_str(r.reason, "test over", "%s: with the reason given", backend);
    ok(run_until(client_eof, &cl, WAIT_MS), "%s: the client sees the close", backend);
    is(gw_conn_loop_count(loop), 0, "%s: closed connections are not counted", backend);
    client_close(&cl);
}

/* gw_conn_write_now: sent before it returns on epoll (queued on io_uring), in order behind
 * output already queued, and what a full socket does not take is queued. */
static void
test_write_now(void)
{
    struct rec r = {.mode = LINES};
    struct client cl;
    struct gw_conn *c = pair(&cl, &r);
    int epoll = strcmp(backend, "epoll") == 0;
    static char big[1 << 20];

    ok(c && gw_conn_write_now(c, "now\n", 4) == 0, "%s: write_now accepts output", backend);
    if (epoll) {
        struct pollfd p = {.fd = cl.fd, .events = POLLIN};
        ok(gw_conn_out_len(c) == 0 && poll(&p, 1, WAIT_MS) == 1,
           "epoll: write_now sent the bytes before it returned");
    } else {
        is(gw_conn_out_len(c), 4, "%s: write_now queues the bytes", backend);
    }
    cl.want = 4;
    ok(run_until(client_has, &cl, WAIT_MS) && strcmp(cl.buf, "now\n") == 0,
       "%s: the client gets them", backend);
    gw_conn_write(c, "a\n", 2);
    ok(gw_conn_write_now(c, "b\n", 2) == 0 && gw_conn_out_len(c) == 4,
       "%s: behind queued output, write_now queues", backend);
    cl.want = 8;
    ok(run_until(client_has, &cl, WAIT_MS) && strcmp(cl.buf, "now\na\nb\n") == 0, "%s: in order",
       backend);
    gw_conn_close(c, "test over");
    client_close(&cl);

    memset(&r, 0, sizeof(r));
    r.mode = LINES;
    c = pair_buf(&cl, &r, 4096);
    memset(big, 'w', sizeof(big));
    ok(c && gw_conn_write_now(c, big, sizeof(big)) == 0 && gw_conn_out_len(c) > 0,
       "%s: what a full socket does not take is queued", backend);
    cl.want = sizeof(big);
    ok(run_until(client_has, &cl, WAIT_MS) && cl.total == sizeof(big),
       "%s: and sent later, all of it", backend);
    gw_conn_close(c, "test over");
    client_close(&cl);
}

static void
test_eof(void)
{
    struct rec r = {.mode = LINES};
    struct client cl;
    char want[4096] = "", line[32];

    pair(&cl, &r);
    csend(&cl, "one\n");
    shutdown(cl.fd, SHUT_WR);
    ok(run_until(client_eof, &cl, WAIT_MS) && strcmp(cl.buf, "one!\n") == 0,
       "%s: half-close after one request: its reply comes, then the close", backend);
    ok(r.eofs == 1 && r.closed == 1, "%s: on_eof, then on_close once", backend);
    is_str(r.reason, GW_CONN_PEER_CLOSED, "%s: reason: peer closed", backend);
    client_close(&cl);

    memset(&r, 0, sizeof(r));
    pair(&cl, &r);
    for (int i = 0; i < 200; i++) {
        snprintf(line, sizeof(line), "req%d\n", i);
        csend(&cl, line);
        snprintf(line, sizeof(line), "req%d!\n", i);
        strcat(want, line);
    }
    shutdown(cl.fd, SHUT_WR);
    ok(run_until(client_eof, &cl, WAIT_MS) && strcmp(cl.buf, want) == 0,
       "%s: half-close after a pipelined batch: all 200 replies, in order, then the close",
       backend);
    is_str(r.reason, GW_CONN_PEER_CLOSED, "%s: pipelined: reason peer closed", backend);
    client_close(&cl);

    memset(&r, 0, sizeof(r));
    pair(&cl, &r);
    csend(&cl, "full\npart");
    shutdown(cl.fd, SHUT_WR);
    ok(run_until(client_eof, &cl, WAIT_MS) && strcmp(cl.buf, "full!\n") == 0,
       "%s: half-close after a partial line: the full line answered, the partial dropped", backend);
    client_close(&cl);

    /* The default on_eof is gw_conn_finish. */
    memset(&r, 0, sizeof(r));
    struct gw_conn_proto p2 = proto;
    p2.on_eof = NULL;
    int s[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s);
    gw_conn_adopt(loop, s[0], NULL, 0, &p2, &r, err);
    memset(&cl, 0, sizeof(cl));
    cl.fd = s[1];
    csend(&cl, "x\n");
    shutdown(cl.fd, SHUT_WR);
    ok(run_until(client_eof, &cl, WAIT_MS) && strcmp(cl.buf, "x!\n") == 0 && r.closed == 1,
       "%s: without on_eof, EOF finishes (replies, then close)", backend);
    client_close(&cl);
}

static int
either_closed(void *arg)
{
    struct rec *a = arg;

    return a->closed || (a->peer && gw_conn_closed(a->peer));
}

static void
test_shutdown_write(void)
{
    struct rec r = {.mode = LINES};
    struct client cl;
    struct gw_conn *c = pair(&cl, &r);

    csend(&cl, "one\n");
    cl.want = 5;
    run_until(client_has, &cl, WAIT_MS);
    gw_conn_write(c, "last\n", 5);
    gw_conn_shutdown_write(c);
    is(gw_conn_write(c, "x", 1), -1, "%s: shutdown_write: later writes fail", backend);
    ok(run_until(client_eof, &cl, WAIT_MS) && strcmp(cl.buf, "one!\nlast\n") == 0,
       "%s: shutdown_write: the output queued, then FIN", backend);
    csend(&cl, "still\n");
    ok(run_until(never, NULL, 30) == 0 && strstr(r.got, "still\n") && r.closed == 0,
       "%s: shutdown_write: input is still read and handled", backend);
    gw_conn_close(c, "test over");
    client_close(&cl);
}

static void
test_close_in_callback(void)
{
    struct rec r = {.mode = CLOSE_IN_DATA}, a = {.mode = CLOSE_PEER}, b = {.mode = CLOSE_PEER};
    struct client cl, ca, cb;

    pair(&cl, &r);
    csend(&cl, "anything\n");
    ok(run_until(is_closed, &r, WAIT_MS), "%s: close from inside on_data", backend);
    is(r.closed, 1, "%s: on_close once, though closed twice", backend);
    is_str(r.reason, "closed in on_data", "%s: the first reason counts", backend);
    is(r.write_after_close, -1, "%s: writing to a closed connection fails", backend);
    ok(run_until(client_eof, &cl, WAIT_MS), "%s: the client sees it closed", backend);
    client_close(&cl);

    /* Each closes the other from its on_data; both have input in the same iteration. */
    pair(&ca, &a);
    pair(&cb, &b);
    a.peer = b.c;
    b.peer = a.c;
    csend(&ca, "a\n");
    csend(&cb, "b\n");
    ok(run_until(either_closed, &a, WAIT_MS), "%s: a connection closed by another's callback",
       backend);
    run_until(never, NULL, 20);
    is(a.ndata + b.ndata, 1, "%s: the closed one gets no callback after its close", backend);
    is(a.closed + b.closed, 1, "%s: on_close once", backend);
    gw_conn_close(a.closed ? b.c : a.c, "test over");
    client_close(&ca);
    client_close(&cb);
}

static int
lingering_client(void *arg)
{
    struct client *cl = arg;

    client_read(cl);
    return cl->eof;
}

static void
test_finish_linger(void)
{
    struct rec r = {.mode = LINES};
    struct client cl;
    struct gw_conn *c = pair(&cl, &r);

    csend(&cl, "x\nbye\nignored\n");
    ok(run_until(lingering_client, &cl, WAIT_MS) && strcmp(cl.buf, "x!\nbye!\n") == 0,
       "%s: finish: the replies owed, then FIN; nothing after bye answered", backend);
    ok(r.closed == 0 && gw_conn_finishing(c), "%s: then the connection lingers, open", backend);
    csend(&cl, "more input while lingering\n");
    run_until(never, NULL, 20);
    is(r.closed, 0, "%s: input while lingering is discarded, no close", backend);
    client_close(&cl);
    ok(run_until(is_closed, &r, WAIT_MS), "%s: the peer's close ends the linger", backend);
    is_str(r.reason, GW_CONN_FINISHED, "%s: reason: closed by request", backend);
}

struct idle_client {
    struct client cl;
    struct rec *r;
    uint64_t last_send;
    int sends;
};

static int
touching(void *arg)
{
    struct idle_client *ic = arg;
    uint64_t now = gw_ev_now_ms(ev);

    if (ic->sends < 8 && now - ic->last_send >= 20) {
        csend(&ic->cl, "t\n");
        ic->last_send = now;
        ic->sends++;
    }
    client_read(&ic->cl);
    return ic->r->closed > 0;
}

static void
test_idle(void)
{
    struct rec a = {.mode = LINES, .lim = {.idle_ms = 60}}, b = a;
    struct client ca;
    struct idle_client ib = {.r = &b};
    uint64_t t0 = gw_ev_update_time(ev);

    pair(&ca, &a);
    pair(&ib.cl, &b);
    ib.last_send = t0;
    ok(run_until(touching, &ib, WAIT_MS), "%s: the touched one closes once touches stop", backend);
    ok(a.closed, "%s: an idle connection is closed", backend);
    is_str(a.reason, GW_CONN_IDLE, "%s: reason: idle timeout", backend);
    ok(a.closed_ms - t0 >= 60 && a.closed_ms < b.closed_ms, "%s: after idle_ms (%llu ms)", backend,
       (unsigned long long)(a.closed_ms - t0));
    is_str(b.reason, GW_CONN_IDLE, "%s: the touched one: idle timeout too", backend);
    ok(b.closed_ms - ib.last_send >= 60 && ib.sends == 8,
       "%s: it lived 60 ms past its last touch (%llu ms, %d touches over %llu ms)", backend,
       (unsigned long long)(b.closed_ms - ib.last_send), ib.sends,
       (unsigned long long)(b.closed_ms - t0));
    client_close(&ca);
    client_close(&ib.cl);
}

static int
drained_below_low(void *arg)
{
    struct client *cl = arg;
    struct rec *r = (struct rec *)cl->want;

    client_read(cl);
    return r->writables > 0 && !gw_conn_read_paused(r->c) && strstr(r->got, "late\n") != NULL;
}

static int
has_writable(void *arg)
{
    return ((struct rec *)arg)->writables > 0;
}

static void
test_marks(void)
{
    struct rec r = {.mode = BIG,
                    .lim = {.out_high = 256 * 1024, .out_low = 64 * 1024, .pause_on_high = 1}};
    struct client cl;
    struct gw_conn *c = pair_buf(&cl, &r, 16384);
    int data_before;

    csend(&cl, "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n");
    run_until(never, NULL, 30);
    ok(gw_conn_out_len(c) > 256 * 1024 && gw_conn_read_paused(c),
       "%s: above out_high, reads pause (%zu queued)", backend, gw_conn_out_len(c));
    data_before = r.ndata;
    csend(&cl, "late\n");
    run_until(never, NULL, 30);
    ok(strstr(r.got, "late") == NULL, "%s: paused: new input is not handed to on_data", backend);
    is(r.writables, 0, "%s: no on_writable while above the mark", backend);
    cl.want = (size_t)&r;
    int drained = run_until(drained_below_low, &cl, WAIT_MS);
    ok(drained,
       "%s: the peer reads: below out_low, on_writable, reads resume, the input waiting is "
       "handled",
       backend);
    is(r.writables, 1, "%s: on_writable once", backend);
    ok(r.ndata > data_before && r.closed == 0, "%s: and the connection stays open", backend);
    gw_conn_close(c, "test over");
    client_close(&cl);

    /* A proxy's check: above the mark now, on_writable once drained, however fast. */
    memset(&r, 0, sizeof(r));
    r.mode = LINES;
    r.lim.out_high = 64 * 1024;
    r.lim.out_low = 1024;
    c = pair(&cl, &r);
    char *p = gw_conn_reserve(c, 100 * 1024);
    memset(p, 'z', 100 * 1024);
    gw_conn_commit(c, 100 * 1024);
    ok(gw_conn_above_high(c), "%s: gw_conn_above_high: 100 KiB queued, above 64 KiB", backend);
    cl.want = 100 * 1024;
    ok(run_until(client_has, &cl, WAIT_MS) && run_until(has_writable, &r, WAIT_MS),
       "%s: the peer takes it: on_writable follows", backend);
    is(r.writables, 1, "%s: once", backend);
    ok(!gw_conn_above_high(c), "%s: drained: no longer above", backend);
    gw_conn_close(c, "test over");
    client_close(&cl);

    /* Explicit pause and resume. */
    memset(&r, 0, sizeof(r));
    r.mode = LINES;
    c = pair(&cl, &r);
    gw_conn_pause_read(c);
    ok(gw_conn_read_paused(c), "%s: gw_conn_pause_read pauses", backend);
    csend(&cl, "p\n");
    run_until(never, NULL, 30);
    is(r.ndata, 0, "%s: paused: nothing reaches on_data", backend);
    gw_conn_resume_read(c);
    cl.want = 3;
    ok(run_until(client_has, &cl, WAIT_MS) && strcmp(cl.buf, "p!\n") == 0,
       "%s: resumed: the input is handled and answered", backend);
    gw_conn_close(c, "test over");
    client_close(&cl);

    /* The protocol pauses itself mid-input, and the EOF comes behind the kept input. */
    memset(&r, 0, sizeof(r));
    r.mode = LINES;
    c = pair(&cl, &r);
    csend(&cl, "pause\nq\n");
    shutdown(cl.fd, SHUT_WR);
    run_until(never, NULL, 30);
    ok(gw_conn_read_paused(c) && r.closed == 0 && strcmp(r.got, "pause\n") == 0,
       "%s: paused by on_data: the rest waits, the EOF behind it too", backend);
    gw_conn_resume_read(c);
    ok(run_until(client_eof, &cl, WAIT_MS) && strcmp(cl.buf, "q!\n") == 0 && r.eofs == 1,
       "%s: resumed: the kept request answered, then the EOF handled (replies, close)", backend);
    client_close(&cl);
}

static void
test_limits(void)
{
    struct rec r = {.mode = BIG, .lim = {.max_out = 100 * 1024}};
    struct client cl;
    pair_buf(&cl, &r, 16384);

    csend(&cl, "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n");
    ok(run_until(is_closed, &r, WAIT_MS), "%s: a peer that does not read is cut off", backend);
    is_str(r.reason, GW_CONN_OUTPUT_FULL, "%s: reason: output buffer full", backend);
    client_close(&cl);

    memset(&r, 0, sizeof(r));
    r.mode = NONE;
    r.lim.max_in = 1000;
    pair(&cl, &r);
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    csend(&cl, big);
    ok(run_until(is_closed, &r, WAIT_MS), "%s: input left unconsumed past max_in closes", backend);
    is_str(r.reason, GW_CONN_INPUT_TOO_LARGE, "%s: reason: input too large", backend);
    client_close(&cl);
}

static void
test_drain(void)
{
    struct rec a = {.mode = LINES}, b = {.mode = LINES};
    struct client ca, cb;

    pair(&ca, &a);
    pair(&cb, &b);
    gw_conn_loop_drain(loop);
    ok(a.closed && b.closed, "%s: drain closes connections with nothing owed", backend);
    is_str(a.reason, GW_CONN_DRAINING, "%s: reason: draining", backend);
    client_close(&ca);
    client_close(&cb);
}

/* Input left unconsumed is offered again on gw_conn_redeliver(), with no new input. */
static void
test_redeliver(void)
{
    struct rec r = {.mode = NONE};
    struct client cl;
    struct gw_conn *c = pair(&cl, &r);

    csend(&cl, "a\nb\n");
    ok(run_until(never, NULL, 30) == 0 && r.ndata >= 1 && r.ngot == 0,
       "%s: redeliver: input left unconsumed is kept", backend);
    r.mode = LINES;
    gw_conn_redeliver(c);
    cl.want = 6;
    ok(run_until(client_has, &cl, WAIT_MS) && strcmp(cl.buf, "a!\nb!\n") == 0,
       "%s: redeliver: the kept input is offered again without new input", backend);
    is_str(r.got, "a\nb\n", "%s: redeliver: each line consumed once", backend);
    gw_conn_close(c, "test over");
    client_close(&cl);
}

static int
ndata_at_least(void *arg)
{
    struct rec *r = arg;

    return r->ndata >= r->want_ndata;
}

/* An EOF that comes while reads are paused is reported at the resume, after the input before
 * it, on both backends: io_uring may complete it while paused (its receive still armed), epoll
 * reads nothing then. The idle timeout (20 s) is far beyond the waits, so a close within them
 * is the EOF's. */
static void
test_pause_eof(void)
{
    struct rec r = {.mode = LINES, .lim = {.idle_ms = 20000}};
    struct client cl;
    struct gw_conn *c = pair(&cl, &r);

    /* Paused first; the peer sends, then shuts down its writing side. */
    gw_conn_pause_read(c);
    run_until(never, NULL, 30);
    csend(&cl, "a\nb\n");
    shutdown(cl.fd, SHUT_WR);
    run_until(never, NULL, 50);
    ok(r.ndata == 0 && r.eofs == 0 && r.closed == 0,
       "%s: paused, data then EOF: neither reported while paused", backend);
    gw_conn_resume_read(c);
    ok(run_until(client_eof, &cl, WAIT_MS) && strcmp(cl.buf, "a!\nb!\n") == 0,
       "%s: resumed: all the input answered, then the close (got '%s')", backend, cl.buf);
    ok(r.eofs == 1 && r.closed == 1 && strcmp(r.got, "a\nb\n") == 0,
       "%s: resumed: on_data got everything, then on_eof once", backend);
    is_str(r.reason, GW_CONN_PEER_CLOSED, "%s: paused then EOF: reason peer closed", backend);
    client_close(&cl);

    /* The same, the peer closing entirely (nothing is answered, so no reset comes back). */
    memset(&r, 0, sizeof(r));
    r.mode = LINES;
    r.quiet = 1;
    r.lim.idle_ms = 20000;
    c = pair(&cl, &r);
    gw_conn_pause_read(c);
    run_until(never, NULL, 30);
    csend(&cl, "a\nb\n");
    client_close(&cl);
    run_until(never, NULL, 50);
    ok(r.ndata == 0 && r.eofs == 0 && r.closed == 0,
       "%s: paused, data then close: neither reported while paused", backend);
    gw_conn_resume_read(c);
    ok(run_until(is_closed, &r, WAIT_MS) && r.eofs == 1 && strcmp(r.got, "a\nb\n") == 0,
       "%s: peer closed while paused: resumed, all the input, then on_eof", backend);
    is_str(r.reason, GW_CONN_PEER_CLOSED, "%s: peer closed while paused: reason peer closed",
           backend);

    /* The protocol pauses itself (logd's full queue) and takes all of the input redelivered at
     * the resume, then pauses again: the EOF that came meanwhile is not lost with it. */
    memset(&r, 0, sizeof(r));
    r.mode = LINES;
    r.quiet = 1;
    r.lim.idle_ms = 20000;
    c = pair(&cl, &r);
    csend(&cl, "pause\npause\n");
    shutdown(cl.fd, SHUT_WR);
    run_until(never, NULL, 50);
    ok(gw_conn_read_paused(c) && strcmp(r.got, "pause\n") == 0 && r.eofs == 0 && r.closed == 0,
       "%s: paused by on_data: the rest and the EOF wait", backend);
    gw_conn_resume_read(c);
    r.want_ndata = 2;
    run_until(ndata_at_least, &r, WAIT_MS);
    run_until(never, NULL, 30);
    ok(gw_conn_read_paused(c) && strcmp(r.got, "pause\npause\n") == 0 && r.eofs == 0 &&
           r.closed == 0,
       "%s: resumed: the kept input all taken, paused again: the EOF still waits", backend);
    is(r.finishing_in_data, 0, "%s: not finishing while input before the EOF is offered", backend);
    gw_conn_resume_read(c);
    ok(run_until(is_closed, &r, WAIT_MS) && r.eofs == 1,
       "%s: resumed again with nothing kept: on_eof, then the close", backend);
    is_str(r.reason, GW_CONN_PEER_CLOSED, "%s: paused twice: reason peer closed", backend);
    ok(run_until(client_eof, &cl, WAIT_MS), "%s: paused twice: the peer sees the close", backend);
    client_close(&cl);

    /* Paused at the high-water mark (pause_on_high): the EOF behind the input waiting there is
     * reported once the peer has read enough for reads to resume. */
    memset(&r, 0, sizeof(r));
    r.mode = BIG;
    r.lim.out_high = 256 * 1024;
    r.lim.out_low = 64 * 1024;
    r.lim.pause_on_high = 1;
    r.lim.idle_ms = 20000;
    c = pair_buf(&cl, &r, 16384);
    csend(&cl, "1\n2\n3\n4\n5\n");
    run_until(never, NULL, 30);
    csend(&cl, "6\n7\n");
    shutdown(cl.fd, SHUT_WR);
    run_until(never, NULL, 50);
    ok(gw_conn_read_paused(c) && r.eofs == 0 && r.closed == 0,
       "%s: above out_high, the peer half-closes: the EOF waits with the input", backend);
    cl.want = 7 * 65536;
    ok(run_until(client_eof, &cl, WAIT_MS) && cl.total == 7 * 65536,
       "%s: the peer reads: every reply (%zu of %d bytes), then the close", backend, cl.total,
       7 * 65536);
    ok(r.eofs == 1 && strcmp(r.got, "1\n2\n3\n4\n5\n6\n7\n") == 0,
       "%s: above out_high: all the lines, then on_eof", backend);
    is_str(r.reason, GW_CONN_PEER_CLOSED, "%s: above out_high: reason peer closed", backend);
    client_close(&cl);

    /* The EOF alone while paused, nothing pending: after the pause took effect, and with the
     * input before it all taken by the on_data that paused. */
    for (int taken = 0; taken < 2; taken++) {
        memset(&r, 0, sizeof(r));
        r.mode = LINES;
        r.quiet = 1;
        r.lim.idle_ms = 20000;
        c = pair(&cl, &r);
        if (taken) {
            csend(&cl, "pause\n");
        } else {
            gw_conn_pause_read(c);
            run_until(never, NULL, 30);
        }
        shutdown(cl.fd, SHUT_WR);
        run_until(never, NULL, 50);
        ok(gw_conn_read_paused(c) && r.eofs == 0 && r.closed == 0,
           "%s: EOF while paused, nothing kept%s: held until the resume", backend,
           taken ? " (all taken)" : "");
        gw_conn_resume_read(c);
        ok(run_until(is_closed, &r, WAIT_MS) && r.eofs == 1,
           "%s: EOF while paused, nothing kept%s: resumed, on_eof and the close", backend,
           taken ? " (all taken)" : "");
        is_str(r.reason, GW_CONN_PEER_CLOSED, "%s: EOF while paused%s: reason peer closed", backend,
               taken ? " (all taken)" : "");
        client_close(&cl);
    }
}

/* Kept input grows in steps and output buffers are passed between connections (the loop's
 * spares): what each peer gets is still exactly its own. */
static void
test_buffers(void)
{
    struct rec r = {.mode = LINES}, rs[4];
    struct client cl, cls[4];
    char piece[101], want[3100];
    struct gw_conn *c = pair(&cl, &r);
    int okay = 1;

    memset(piece, 'p', 100);
    piece[100] = '\0';
    for (int i = 0; i < 30 && okay; i++) {
        csend(&cl, piece);
        r.want_ndata = r.ndata + 1;
        okay = run_until(ndata_at_least, &r, WAIT_MS);
    }
    ok(okay && r.ngot == 0, "%s: a line sent in 30 pieces is kept whole meanwhile", backend);
    csend(&cl, "\n");
    memset(want, 'p', 3000);
    memcpy(want + 3000, "!\n", 3);
    cl.want = 3002;
    ok(run_until(client_has, &cl, WAIT_MS) && cl.n == 3002 && memcmp(cl.buf, want, 3002) == 0,
       "%s: the line kept over 30 reads is offered whole and answered", backend);
    gw_conn_close(c, "test over");
    client_close(&cl);

    memset(&r, 0, sizeof(r));
    r.mode = BIG;
    pair(&cl, &r);
    csend(&cl, "1\n");
    cl.want = 65536;
    ok(run_until(client_has, &cl, WAIT_MS) && cl.total == 65536,
       "%s: a 64 KiB reply goes out whole", backend);
    for (int i = 0; i < 4; i++) {
        memset(&rs[i], 0, sizeof(rs[i]));
        rs[i].mode = LINES;
        pair(&cls[i], &rs[i]);
    }
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 4; i++) {
            char line[32];
            snprintf(line, sizeof(line), "c%dr%d\n", i, round);
            csend(&cls[i], line);
        }
    okay = 1;
    for (int i = 0; i < 4; i++) {
        char exp[64];
        snprintf(exp, sizeof(exp), "c%dr0!\nc%dr1!\nc%dr2!\n", i, i, i);
        cls[i].want = strlen(exp);
        okay = okay && run_until(client_has, &cls[i], WAIT_MS) && strcmp(cls[i].buf, exp) == 0;
    }
    ok(okay, "%s: after it, four connections' replies reuse buffers, each gets its own", backend);
    csend(&cl, "2\n");
    cl.want = 2 * 65536;
    ok(run_until(client_has, &cl, WAIT_MS) && cl.total == 2 * 65536,
       "%s: and a second big reply after them", backend);
    for (int i = 0; i < 4; i++) {
        gw_conn_close(rs[i].c, "test over");
        client_close(&cls[i]);
    }
    gw_conn_close(r.c, "test over");
    client_close(&cl);
}

/* ---- a loop left to gw_ev_run (a daemon's main loop): no gw_conn_loop_run ---- */

static struct gw_conn *late_c;
static int late_close;

static void
late_fire(struct gw_ev *e, struct gw_ev_timer *t, void *arg)
{
    (void)e, (void)t, (void)arg;
    if (late_close)
        gw_conn_close(late_c, "closed from a timer");
    else
        gw_conn_write(late_c, "late\n", 5);
}

/* Runs ev's own iterations (as gw_ev_run does) until fn(arg) or ms pass. */
static int
ev_run_until(int (*fn)(void *), void *arg, int ms)
{
    uint64_t end = gw_ev_update_time(ev) + (uint64_t)ms;

    while (!fn(arg) && gw_ev_now_ms(ev) < end)
        if (gw_ev_run_once(ev, 10) == -1)
            return 0;
    return fn(arg);
}

static void
test_external(void)
{
    struct gw_conn_loop *own = loop;
    struct rec r = {.mode = LINES};
    struct gw_ev_timer t;
    struct client cl;

    if ((loop = gw_conn_loop_new(ev, GW_CONN_IO_EPOLL, err)) == NULL) {
        ok(0, "external: loop: %s", err);
        loop = own;
        return;
    }
    gw_ev_timer_init(&t, late_fire, NULL);
    late_c = pair(&cl, &r);
    csend(&cl, "x\n");
    cl.want = 3;
    ok(ev_run_until(client_has, &cl, WAIT_MS) && strcmp(cl.buf, "x!\n") == 0,
       "external: a reply from on_data goes out under gw_ev_run_once");
    late_close = 0;
    gw_ev_timer_start(ev, &t, 5);
    cl.want = 8;
    ok(ev_run_until(client_has, &cl, WAIT_MS) && strcmp(cl.buf, "x!\nlate\n") == 0,
       "external: output written from a timer is sent without an event on the connection");
    late_close = 1;
    gw_ev_timer_start(ev, &t, 5);
    ok(ev_run_until(client_eof, &cl, WAIT_MS) && r.closed == 1,
       "external: a close from a timer reaches the client");
    ok(ev_run_until(is_closed, &r, WAIT_MS) && gw_conn_loop_count(loop) == 0,
       "external: the loop no longer counts it (freed by the batch timer; ASan checks)");
    client_close(&cl);
    /* A connection still open when the loop is freed: closed with the shutdown reason. */
    memset(&r, 0, sizeof(r));
    r.mode = LINES;
    pair(&cl, &r);
    gw_conn_write(r.c, "bye\n", 4);
    gw_conn_loop_free(loop);
    is_str(r.reason, GW_CONN_SHUTDOWN, "external: freeing the loop closes what is open");
    gw_ev_run_once(ev, 0); /* the batch timer was stopped with the loop: nothing fires */
    client_close(&cl);
    loop = own;
}

static int
accepted(void *arg)
{
    int *fd = arg;

    if (*fd < 0)
        *fd = accept4(*(fd + 1), NULL, NULL, SOCK_NONBLOCK);
    return *fd >= 0;
}

static void
test_connect(void)
{
    struct rec r = {.mode = LINES};
    struct gw_addr a;
    struct gw_conn *c;
    int srv[2] = {-1, lfd};
    struct client cl;

    memset(&a, 0, sizeof(a));
    memcpy(&a.ss, &laddr, sizeof(laddr));
    a.len = sizeof(laddr);
    c = gw_conn_connect(loop, &a, 1000, &proto, &r, err);
    ok(c != NULL, "%s: connect starts", backend);
    is(r.opened, 0, "%s: on_open is not called inside gw_conn_connect", backend);
    gw_conn_write(c, "early\n", 6);
    ok(run_until(is_opened, &r, WAIT_MS) && r.opened == 1 && r.closed == 0,
       "%s: connected: on_open", backend);
    ok(run_until(accepted, srv, WAIT_MS), "%s: the server side accepted", backend);
    memset(&cl, 0, sizeof(cl));
    cl.fd = srv[0];
    cl.want = 6;
    ok(run_until(client_has, &cl, WAIT_MS) && strcmp(cl.buf, "early\n") == 0,
       "%s: output written before the connect completed is sent", backend);
    csend(&cl, "hi\n");
    ok(run_until(client_has, &cl, WAIT_MS) && (cl.want = 10, run_until(client_has, &cl, WAIT_MS)),
       "%s: and the connection works both ways", backend);
    gw_conn_close(c, "test over");
    client_close(&cl);

    /* Refused: a port nobody listens on. */
    int tmp = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    bind(tmp, (struct sockaddr *)&sin, sizeof(sin));
    getsockname(tmp, (struct sockaddr *)&sin, &len);
    close(tmp);
    memcpy(&a.ss, &sin, sizeof(sin));
    memset(&r, 0, sizeof(r));
    c = gw_conn_connect(loop, &a, 1000, &proto, &r, err);
    if (c) {
        ok(run_until(is_closed, &r, WAIT_MS) && r.opened == 0,
           "%s: refused: on_close without on_open", backend);
        ok(strncmp(r.reason, "connect: ", 9) == 0 && strstr(r.reason, "refused"),
           "%s: the reason says why: %s", backend, r.reason);
    } else {
        ok(strstr(err, "refused") != NULL, "%s: refused at once: %s", backend, err);
        ok(r.closed == 0, "%s: refused at once: no callback", backend);
    }

    /* Timeout: a listener whose accept queue is full drops the SYN. */
    int full = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), fillers[4];
    sin.sin_port = 0;
    bind(full, (struct sockaddr *)&sin, sizeof(sin));
    listen(full, 0);
    len = sizeof(sin);
    getsockname(full, (struct sockaddr *)&sin, &len);
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)!connect(fillers[i], (struct sockaddr *)&sin, sizeof(sin));
    }
    memcpy(&a.ss, &sin, sizeof(sin));
    memset(&r, 0, sizeof(r));
    uint64_t t0 = gw_ev_update_time(ev);
    c = gw_conn_connect(loop, &a, 100, &proto, &r, err);
    ok(c && run_until(is_closed, &r, WAIT_MS), "%s: a connect that hangs ends", backend);
    is_str(r.reason, GW_CONN_CONNECT_TIMEOUT, "%s: reason: connect timeout", backend);
    ok(r.closed_ms - t0 >= 100 && r.opened == 0, "%s: after timeout_ms (%llu ms)", backend,
       (unsigned long long)(r.closed_ms - t0));
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(full);
}

/* ---- a proxy: client side A, backend side B made with gw_conn_connect ---- */

static const struct gw_conn_proto proxy_proto;
static struct gw_addr backend_addr;

static const struct gw_conn_limits proxy_limits = {.out_high = 64 * 1024, .out_low = 16 * 1024};

static const struct gw_conn_limits *
p_limits(struct gw_conn *c)
{
    (void)c;
    return &proxy_limits;
}

static void
p_open(struct gw_conn *c)
{
    struct rec *r = gw_conn_user(c);

    r->opened++;
    r->c = c;
    if (r->peer)
        return; /* B: made by A */
    struct rec *b = calloc(1, sizeof(*b));
    b->mode = NONE;
    b->peer = c;
    if ((b->c = gw_conn_connect(gw_conn_loop_of(c), &backend_addr, 1000, &proxy_proto, b, err)) ==
        NULL) {
        free(b);
        gw_conn_close(c, "backend down");
        return;
    }
    r->peer = b->c;
}

static size_t
p_data(struct gw_conn *c, char *data, size_t len)
{
    struct rec *r = gw_conn_user(c);

    r->ndata++;
    if (!r->peer)
        return len;
    gw_conn_write(r->peer, data, len);
    if (gw_conn_above_high(r->peer))
        gw_conn_pause_read(c);
    return len;
}

static void
p_writable(struct gw_conn *c)
{
    struct rec *r = gw_conn_user(c);

    r->writables++;
    if (r->peer)
        gw_conn_resume_read(r->peer);
}

static void
p_eof(struct gw_conn *c)
{
    struct rec *r = gw_conn_user(c);

    r->eofs++;
    if (!r->peer)
        return;
    /* The first EOF is passed on; with the second, both directions are done. */
    if (((struct rec *)gw_conn_user(r->peer))->eofs)
        gw_conn_finish(r->peer);
    else
        gw_conn_shutdown_write(r->peer);
}

static void
p_close(struct gw_conn *c, const char *reason)
{
    struct rec *r = gw_conn_user(c);
    struct gw_conn *peer = r->peer;

    r->closed++;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    r->peer = NULL;
    if (peer) {
        ((struct rec *)gw_conn_user(peer))->peer = NULL;
        gw_conn_close(peer, "peer closed");
    }
    if (r->mode == NONE) /* the backend side's rec is the proxy's own */
        free(r);
}

static const struct gw_conn_proto proxy_proto = {
    .name = "proxy",
    .limits = p_limits,
    .on_open = p_open,
    .on_data = p_data,
    .on_writable = p_writable,
    .on_eof = p_eof,
    .on_close = p_close,
};

static int
backend_accepted(void *arg)
{
    struct rec *e = arg;
    int fd;

    if (!e->c && (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
        e->c = gw_conn_adopt(loop, fd, NULL, 0, &proto, e, err);
    return e->c != NULL;
}

static void
test_proxy(void)
{
    struct rec a = {.mode = LINES}, echo = {.mode = LINES};
    struct client cl;
    struct gw_conn *c;
    char big[300 * 1024];
    int fd, s;

    memset(&backend_addr, 0, sizeof(backend_addr));
    memcpy(&backend_addr.ss, &laddr, sizeof(laddr));
    backend_addr.len = sizeof(laddr);
    /* The client side: accepted from the same listener before the backend connects to it. */
    memset(&cl, 0, sizeof(cl));
    cl.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    connect(cl.fd, (struct sockaddr *)&laddr, sizeof(laddr));
    s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    gw_net_set_nonblock(cl.fd, 1);
    c = gw_conn_adopt(loop, s, NULL, 0, &proxy_proto, &a, err);
    ok(c && a.peer, "%s: proxy: the client side opens a backend connection", backend);
    ok(run_until(backend_accepted, &echo, WAIT_MS), "%s: proxy: the backend accepts", backend);
    csend(&cl, "through\n");
    cl.want = 9;
    ok(run_until(client_has, &cl, WAIT_MS) && strcmp(cl.buf, "through!\n") == 0,
       "%s: proxy: a request goes through both sides and back", backend);

    /* Bulk through a backend that answers each line: the client reads everything. */
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (i % 100 == 99) ? '\n' : 'p';
    fd = cl.fd;
    size_t sent = 0;
    cl.want = 9 + sizeof(big) + sizeof(big) / 100;
    while (sent < sizeof(big) || cl.total < cl.want) {
        ssize_t n = sent < sizeof(big) ? write(fd, big + sent, sizeof(big) - sent) : 0;
        if (n > 0)
            sent += (size_t)n;
        if (run_until(client_has, &cl, 20) || (n <= 0 && cl.total >= cl.want))
            break;
        if (gw_ev_now_ms(ev) > deadline + WAIT_MS)
            break;
    }
    ok(run_until(client_has, &cl, WAIT_MS), "%s: proxy: 300 KiB both ways (%zu of %zu bytes)",
       backend, cl.total, cl.want);
    shutdown(cl.fd, SHUT_WR);
    ok(run_until(is_closed, &echo, WAIT_MS) && run_until(client_eof, &cl, WAIT_MS),
       "%s: proxy: the client's EOF is passed on; the backend finishes, the client sees the end",
       backend);
    ok(a.closed == 1, "%s: proxy: the client side closed once", backend);
    client_close(&cl);
}

static void
run_all(enum gw_conn_io io)
{
    if ((ev = gw_ev_new(err)) == NULL || (loop = gw_conn_loop_new(ev, io, err)) == NULL) {
        ok(0, "loop for backend %d: %s", (int)io, err);
        return;
    }
    backend = gw_conn_loop_backend(loop);
    gw_ev_timer_init(&check_timer, check, NULL);
    test_basic();
    test_write_now();
    test_eof();
    test_close_in_callback();
    test_shutdown_write();
    test_finish_linger();
    test_idle();
    test_marks();
    test_limits();
    test_drain();
    test_redeliver();
    test_pause_eof();
    test_buffers();
    test_connect();
    test_proxy();
    gw_conn_loop_free(loop);
    gw_ev_free(ev);
}

/* valgrind 3.19 runs io_uring_enter without knowing its semantics: wake-ups come hundreds of
 * ms late or never, so the io_uring pass is left to the ASan run (`make check-asan`). */
static int
under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");

    return p && strstr(p, "vgpreload") != NULL;
}

int
main(void)
{
    socklen_t len = sizeof(laddr);

    signal(SIGPIPE, SIG_IGN);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    laddr.sin_family = AF_INET;
    laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&laddr, sizeof(laddr)) == -1 || listen(lfd, 64) == -1 ||
        getsockname(lfd, (struct sockaddr *)&laddr, &len) == -1) {
        printf("1..0 # SKIP no loopback listener: %s\n", strerror(errno));
        return 0;
    }
    is(gw_conn_io_parse("auto"), GW_CONN_IO_AUTO, "io names: auto");
    is(gw_conn_io_parse("uring"), GW_CONN_IO_URING, "io names: uring");
    is(gw_conn_io_parse("epoll"), GW_CONN_IO_EPOLL, "io names: epoll");
    is(gw_conn_io_parse("kqueue"), -1, "io names: others refused");
    run_all(GW_CONN_IO_EPOLL);
    if ((ev = gw_ev_new(err)) != NULL) {
        test_external();
        gw_ev_free(ev);
    }
    if (under_valgrind())
        ok(1, "# SKIP io_uring under valgrind (see under_valgrind)");
    else if (gw_conn_uring_probe(err) == 0)
        run_all(GW_CONN_IO_URING);
    else
        ok(1, "# SKIP io_uring cannot be used here: %s", err);
    close(lfd);
    return done_testing();
}
