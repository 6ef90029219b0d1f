/*
 * conn_uring.c -- the io_uring backend of lib/conn.
 *
 * Why: on loopback nearly all of a small request's cost is the kernel's, and with epoll each
 * request pays epoll_wait + read + write. Here each connection has one multishot receive armed,
 * which the kernel completes into a buffer of a ring shared by the loop (an idle connection
 * holds no buffer), and the output of a whole batch of completions goes out as send
 * submissions in the same io_uring_enter() that waits for the next batch. The ring is
 * single-issuer with deferred task work, so completions are produced in that one call too.
 *
 * The loop's gw_ev (listeners, UDP, timers, posts from other threads, outgoing connects) is
 * still epoll: its descriptor is polled through the ring and gw_ev is run without blocking
 * when it is ready or a timer is due.
 *
 * A connection's memory may go only when the kernel holds no request of it: closing cancels
 * its requests, and the connection is reaped once their last completions have arrived.
 * Pausing reads cancels the multishot receive; input it had completed already is kept by the
 * core (see GW_CONN_PAUSED_SLACK), and so is an EOF it completed (reported at the resume, as
 * epoll would read it then); a receive cancelled or ended is armed again at the resume.
 *
 * Requests name the plain fd, not a registered (fixed) file: registering saves the fget of
 * each request, but the cache miss on the struct file it took then moves to sock_from_file,
 * which each send and receive still calls (wsgwd raw, 1,000 connections: fget + fput +
 * sock_from_file 4.0-4.5% of its cycles before, sock_from_file alone 3.5-4.0% after), and
 * the CPU per message did not drop (medians of 24 paired runs: wsgwd +0.6% and +4.4%, hbd at
 * 500 connections -1.2%, connection churn +2%). What was tried: slot = fd number in a sparse
 * table, registered by an IORING_OP_FILES_UPDATE linked ahead of the first receive, cleared
 * at the close.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

/* The kernel fills the ring's buffers where valgrind cannot see it; telling memcheck keeps a
 * run of hbd under valgrind free of false "uninitialised" reports. A few instructions when not
 * under valgrind. */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define MARK_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED(p, n)
#endif
#endif
#ifndef MARK_DEFINED
#define MARK_DEFINED(p, n) ((void)0)
#endif

#include "conn_io.h"

/* Overridable at build time, so tests can make a full queue and an empty buffer ring common
 * (cc -DGW_URING_SQ=8 -DGW_URING_BUFS=4). */
#ifndef GW_URING_SQ
#define GW_URING_SQ 2048
#endif
#ifndef GW_URING_BUFS
#define GW_URING_BUFS 1024
#endif
#define SQ_ENTRIES GW_URING_SQ
/* The buffer ring: enough buffers for every connection of a large batch to have input at
 * once; a receive that finds none ends with ENOBUFS and is armed again after the batch. */
#define BUF_COUNT GW_URING_BUFS /* a power of two */
#define BUF_SIZE 2048
#define BGID 0
/* gw_ev rounds per wake-up: a level-triggered event left over (accept budget) runs again. */
#define EV_ROUNDS 8

/* user_data: the event loop poll, a cancel (ignored), or a connection pointer tagged with the
 * operation (connections are malloc'ed, so their low bits are free). */
#define UD_CANCEL 0
#define UD_EV 1
#define OP_RECV 1u
#define OP_SEND 2u
#define OP_POLLOUT 3u /* a send found the socket full: waiting for room */
#define OP_MASK 3u
/* Longest wait while counting on sends completing at submission (see ur_run). */
#define SEND_WAIT_CAP_MS 50

struct uring {
    struct io_uring ring;
    struct io_uring_buf_ring *br;
    char *bufs;
    unsigned nreturned;      /* buffers given back since the last advance */
    struct gw_conn *zombies; /* closed connections waiting for their last completions */
    unsigned sends;          /* sends prepared whose completion has not been seen */
    int sends_inline;        /* sends complete during the io_uring_enter() that submits them */
    int ev_armed;            /* the poll of the gw_ev loop's descriptor is armed */
    int ev_busy;             /* the gw_ev loop may still have events to run */
};

static struct io_uring_sqe *
sqe_get(struct uring *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

    if (sqe == NULL) {
        /* The submission queue is full: hand it to the kernel and take a fresh slot. */
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static void
buf_return(struct uring *u, unsigned bid)
{
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(BUF_COUNT), (int)u->nreturned++);
}

/* A request of c's is now the kernel's: tagged with its operation and counted. */
static void
own(struct io_uring_sqe *sqe, struct gw_conn *c, unsigned op)
{
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | op);
    c->inflight++;
}

static int
arm_recv(struct uring *u, struct gw_conn *c)
{
    struct io_uring_sqe *sqe = sqe_get(u);

    if (!sqe)
        return -1;
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    own(sqe, c, OP_RECV);
    c->flags |= CF_RECV_ARMED;
    return 0;
}

/* Pausing: the multishot receive is cancelled; its last completion (-ECANCELED) disarms it. */
static int
cancel_recv(struct uring *u, struct gw_conn *c)
{
    struct io_uring_sqe *sqe = sqe_get(u);

    if (!sqe)
        return -1;
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)c | OP_RECV, 0);
    io_uring_sqe_set_data64(sqe, UD_CANCEL);
    c->flags |= CF_CANCELING;
    return 0;
}

static int
arm_send(struct uring *u, struct gw_conn *c)
{
    struct io_uring_sqe *sqe = sqe_get(u);

    if (!sqe)
        return -1;
    /* MSG_DONTWAIT: the send is tried once, at submission, and completes there, even when
     * the socket is full (-EAGAIN; then a poll waits for room), so ur_run() knows how many
     * completions a submission yields by itself. */
    io_uring_prep_send(sqe, c->fd, gw_buf_data(c->snd), gw_buf_len(c->snd),
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    own(sqe, c, OP_SEND);
    c->flags |= CF_WRITING;
    u->sends++;
    return 0;
}

static int
arm_pollout(struct uring *u, struct gw_conn *c)
{
    struct io_uring_sqe *sqe = sqe_get(u);

    if (!sqe)
        return -1;
    io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
    own(sqe, c, OP_POLLOUT);
    c->flags |= CF_WRITING;
    return 0;
}

static void
arm_ev(struct gw_conn_loop *l)
{
    struct uring *u = l->backend;
    struct io_uring_sqe *sqe = sqe_get(u);

    /* Without a free slot now, the loop polls gw_ev without blocking until it has one. */
    if (!sqe) {
        u->ev_busy = 1;
        return;
    }
    io_uring_prep_poll_multishot(sqe, gw_ev_fd(l->ev), POLLIN);
    io_uring_sqe_set_data64(sqe, UD_EV);
    u->ev_armed = 1;
}

/* What a connection needs after a batch: its receive armed (or cancelled, when paused), its
 * output sent, or, with nothing left to send, what the core decides (linger, close). */
static void
ur_service(struct gw_conn *c)
{
    struct uring *u = c->loop->backend;
    int want = gw_conn__want_read(c);

    if (want && !(c->flags & CF_RECV_ARMED) && arm_recv(u, c) == -1) {
        gw_conn_close(c, GW_CONN_QUEUE_FULL);
        return;
    }
    if (!want && (c->flags & CF_RECV_ARMED) && gw_conn_read_paused(c) &&
        !(c->flags & CF_CANCELING) && cancel_recv(u, c) == -1) {
        gw_conn_close(c, GW_CONN_QUEUE_FULL);
        return;
    }
    if (c->flags & CF_WRITING)
        return;
    if (gw_conn__snd_len(c) == 0 && gw_conn__out_len(c)) {
        struct gw_buf *t = c->snd;
        c->snd = c->out;
        c->out = t;
    }
    gw_conn__settle(c);
    if ((c->flags & CF_CLOSED) || !gw_conn__snd_len(c))
        return;
    if (arm_send(u, c) == -1)
        gw_conn_close(c, GW_CONN_QUEUE_FULL);
}

static void
zombie_add(struct uring *u, struct gw_conn *c)
{
    c->prev = NULL;
    c->next = u->zombies;
    if (u->zombies)
        u->zombies->prev = c;
    u->zombies = c;
}

/* The last completion of a closed connection's requests has arrived. */
static void
zombie_done(struct uring *u, struct gw_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        u->zombies = c->next;
    if (c->next)
        c->next->prev = c->prev;
    close(c->fd);
    gw_conn__reap(c);
}

/* A completion of c's has come while c is closed: c goes once it was the last. */
static int
settled_if_dead(struct uring *u, struct gw_conn *c)
{
    if (!(c->flags & CF_CLOSED))
        return 0;
    if (c->inflight == 0)
        zombie_done(u, c);
    return 1;
}

static void
free_list(struct gw_conn *c)
{
    while (c) {
        struct gw_conn *next = c->next;
        close(c->fd);
        gw_conn__free(c);
        c = next;
    }
}

/* A batch's input can carry more output than max_out while the peer reads it fine (one write
 * of many pipelined requests): what the socket takes now does not count against the limit,
 * as with epoll, so hand it over at once. Only a heavy pipeliner gets here. */
static void
send_now(struct gw_conn *c)
{
    ssize_t n = send(c->fd, gw_buf_data(c->out), gw_buf_len(c->out), MSG_DONTWAIT | MSG_NOSIGNAL);

    if (n > 0)
        gw_buf_consume(c->out, (size_t)n);
    else if (n < 0 && errno != EAGAIN && errno != EINTR)
        gw_conn_close(c, strerror(errno));
}

static void
on_input(struct gw_conn *c, char *data, size_t n)
{
    const struct gw_conn_limits *lim;
    size_t limit;

    gw_conn__input(c, data, n);
    /* Nothing queued (a proxy's reading side): no limit to check. */
    if ((c->flags & (CF_CLOSED | CF_LINGERING)) || !gw_conn__queued(c))
        return;
    lim = gw_conn__limits(c);
    limit = lim->max_out ? lim->max_out : GW_CONN_MAX_OUT;
    /* With no send of its own in flight, the connection's earlier output is all out. */
    if (!(c->flags & CF_WRITING) && gw_conn__out_len(c) > limit) {
        send_now(c);
        if (c->flags & CF_CLOSED)
            return;
    }
    if (gw_conn__queued(c) > limit)
        gw_conn_close(c, GW_CONN_OUTPUT_FULL);
}

/* A completion's own request is counted off before anything else, so that a close while it
 * is handled knows what the kernel still holds. */
static void
on_recv(struct uring *u, struct gw_conn *c, const struct io_uring_cqe *cqe)
{
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0, was_dead = (c->flags & CF_CLOSED) != 0;

    if (!more) {
        c->flags &= (uint16_t) ~(CF_RECV_ARMED | CF_CANCELING);
        c->inflight--;
    }
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        char *data = u->bufs + (size_t)bid * BUF_SIZE;
        if (!was_dead && cqe->res > 0) {
            MARK_DEFINED(data, (size_t)cqe->res);
            on_input(c, data, (size_t)cqe->res);
        }
        buf_return(u, bid);
    }
    if (was_dead) {
        settled_if_dead(u, c);
        return;
    }
    if (c->flags & CF_CLOSED)
        return; /* closed while its input was handled: release() saw this completion */
    if (cqe->res == 0)
        gw_conn__eof(c);
    else if (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED)
        gw_conn_close(c, strerror(-cqe->res));
    else if (!more)
        gw_conn__todo(c); /* out of buffers, cancelled or ended: armed again if wanted */
}

static void
on_send(struct uring *u, struct gw_conn *c, const struct io_uring_cqe *cqe)
{
    u->sends--;
    c->inflight--;
    c->flags &= (uint16_t)~CF_WRITING;
    if (settled_if_dead(u, c))
        return;
    if (cqe->res == -EAGAIN) {
        /* The peer is not reading: wait for room; max_out bounds what piles up. */
        if (arm_pollout(u, c) == -1)
            gw_conn_close(c, GW_CONN_QUEUE_FULL);
        return;
    }
    if (cqe->res < 0) {
        gw_conn_close(c, strerror(-cqe->res));
        return;
    }
    gw_buf_consume(c->snd, (size_t)cqe->res);
    /* All sent: the buffer goes back now, for the replies to this batch's input (the sends'
     * completions come ahead of the receives'), not after the batch. */
    if (gw_buf_len(c->snd) == 0)
        gw_conn__give_snd(c);
    gw_conn__todo(c);
}

static void
on_pollout(struct uring *u, struct gw_conn *c, const struct io_uring_cqe *cqe)
{
    c->inflight--;
    c->flags &= (uint16_t)~CF_WRITING;
    if (settled_if_dead(u, c))
        return;
    if (cqe->res < 0) {
        gw_conn_close(c, strerror(-cqe->res));
        return;
    }
    gw_conn__todo(c);
}

/* Takes every completion there is; returns 1 when the gw_ev loop has something to run. */
static int
completions(struct gw_conn_loop *l)
{
    struct uring *u = l->backend;
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    int ev_ready = 0;

    io_uring_for_each_cqe(&u->ring, head, cqe)
    {
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        struct gw_conn *c = (struct gw_conn *)(uintptr_t)(ud & ~(uint64_t)OP_MASK);

        seen++;
        if (ud == UD_EV) {
            ev_ready = 1;
            if (!(cqe->flags & IORING_CQE_F_MORE))
                u->ev_armed = 0;
        } else if (ud == UD_CANCEL) {
            continue;
        } else if ((ud & OP_MASK) == OP_RECV) {
            on_recv(u, c, cqe);
        } else if ((ud & OP_MASK) == OP_SEND) {
            on_send(u, c, cqe);
        } else {
            on_pollout(u, c, cqe);
        }
    }
    io_uring_cq_advance(&u->ring, seen);
    if (u->nreturned) {
        io_uring_buf_ring_advance(u->br, (int)u->nreturned);
        u->nreturned = 0;
    }
    return ev_ready;
}

static void
run_ev(struct gw_conn_loop *l)
{
    struct uring *u = l->backend;
    int n = 0;

    for (int i = 0; i < EV_ROUNDS; i++)
        if ((n = gw_ev_run_once(l->ev, 0)) <= 0)
            break;
    u->ev_busy = n > 0;
}

/* One io_uring_enter() per round: it submits the output of the last batch and waits for the
 * next. The sends complete during the call itself, so waiting for one completion would end
 * the wait at once with nothing but them (an extra round, a whole system call per request
 * at low rates); so it waits for them plus one. Should a kernel ever complete a send later,
 * the wait is capped, and the loop goes back to waiting for one completion. */
static int
ur_run(struct gw_conn_loop *l, char *err)
{
    struct uring *u = l->backend;

    while (!l->stop) {
        unsigned want = 1 + (u->sends_inline ? u->sends : 0);
        int to, rc;

        if (!u->ev_armed)
            arm_ev(l);
        to = u->ev_busy ? 0 : gw_ev_timeout_ms(l->ev);
        if (want > 1 && (to < 0 || to > SEND_WAIT_CAP_MS))
            to = SEND_WAIT_CAP_MS;
        if (to == 0) {
            rc = io_uring_submit_and_get_events(&u->ring);
        } else if (to < 0) {
            rc = io_uring_submit_and_wait(&u->ring, want);
        } else {
            struct __kernel_timespec ts = {to / 1000, (long long)(to % 1000) * 1000000};
            struct io_uring_cqe *cqe;
            rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, want, &ts, NULL);
        }
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
            return gw_err(err, "io_uring_enter: %s", strerror(-rc));
        gw_ev_update_time(l->ev);
        if (completions(l) || to == 0 || gw_ev_timeout_ms(l->ev) == 0)
            run_ev(l);
        if (u->sends && u->sends_inline && (rc >= 0 || rc == -ETIME)) {
            u->sends_inline = 0;
            gw_conn__notice(l, "io_uring sends complete after their submission on this "
                               "kernel; waiting for one completion at a time");
        }
        gw_conn__after_batch(l);
    }
    return 0;
}

/* Exiting the ring cancels what is in flight; connections closed already are freed here. */
static void
ur_stop(struct gw_conn_loop *l)
{
    struct uring *u = l->backend;

    if (!u)
        return;
    io_uring_queue_exit(&u->ring);
    free_list(u->zombies);
    free(u->br);
    free(u->bufs);
    free(u);
    l->backend = NULL;
}

static int
ring_init(struct io_uring *ring, unsigned entries, char *why)
{
    struct io_uring_params p;
    int rc;

    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
              IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = entries * 4;
    if ((rc = io_uring_queue_init_params(entries, ring, &p)) < 0)
        return gw_err(why, "io_uring_setup: %s", strerror(-rc));
    if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
        io_uring_queue_exit(ring);
        return gw_err(why, "this kernel's io_uring lacks wait timeouts or overflow keeping");
    }
    return 0;
}

static int
buf_ring_init(struct io_uring *ring, unsigned count, struct io_uring_buf_ring **br, char *why)
{
    struct io_uring_buf_reg reg;
    void *mem;
    int rc;

    if (posix_memalign(&mem, (size_t)sysconf(_SC_PAGESIZE), count * sizeof(struct io_uring_buf)))
        return gw_err(why, "out of memory");
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)mem;
    reg.ring_entries = count;
    reg.bgid = BGID;
    if ((rc = io_uring_register_buf_ring(ring, &reg, 0)) < 0) {
        free(mem);
        return gw_err(why, "buffer ring: %s", strerror(-rc));
    }
    *br = mem;
    io_uring_buf_ring_init(*br);
    return 0;
}

int
gw_conn_uring_probe(char *err)
{
    struct io_uring ring;
    struct io_uring_buf_ring *br;

    /* Deferred task work (6.1) is the newest feature used; multishot receive (6.0) and buffer
     * rings (5.19) come with it. */
    if (ring_init(&ring, 8, err) == -1)
        return -1;
    if (buf_ring_init(&ring, 1, &br, err) == -1) {
        io_uring_queue_exit(&ring);
        return -1;
    }
    io_uring_queue_exit(&ring);
    free(br);
    return 0;
}

static int
ur_start(struct gw_conn_loop *l, char *err)
{
    struct uring *u = calloc(1, sizeof(*u));

    if (!u || (u->bufs = malloc((size_t)BUF_COUNT * BUF_SIZE)) == NULL) {
        free(u);
        return gw_err(err, "out of memory");
    }
    if (ring_init(&u->ring, SQ_ENTRIES, err) == -1) {
        free(u->bufs);
        free(u);
        return -1;
    }
    if (buf_ring_init(&u->ring, BUF_COUNT, &u->br, err) == -1) {
        io_uring_queue_exit(&u->ring);
        free(u->bufs);
        free(u);
        return -1;
    }
    for (unsigned i = 0; i < BUF_COUNT; i++)
        buf_return(u, i);
    io_uring_buf_ring_advance(u->br, (int)u->nreturned);
    u->nreturned = 0;
    /* Each io_uring_enter() then skips looking up the ring's descriptor; optional. */
    (void)io_uring_register_ring_fd(&u->ring);
    u->sends_inline = 1;
    l->backend = u;
    return 0;
}

static int
ur_open(struct gw_conn *c, char *err)
{
    if (arm_recv(c->loop->backend, c) == -1)
        return gw_err(err, "submission queue full");
    return 0;
}

static void
ur_release(struct gw_conn *c)
{
    struct uring *u = c->loop->backend;
    struct io_uring_sqe *sqe;

    if (c->inflight == 0) {
        close(c->fd);
        gw_conn__reap(c);
        return;
    }
    zombie_add(u, c);
    if ((sqe = sqe_get(u)) != NULL) {
        io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, UD_CANCEL);
    } else {
        /* No slot for a cancel: the peer still gets its FIN, and the receive then ends. */
        shutdown(c->fd, SHUT_RDWR);
    }
}

const struct gw_conn_backend gw_conn__uring = {
    .name = "io_uring",
    .start = ur_start,
    .run = ur_run,
    .stop = ur_stop,
    .open = ur_open,
    .release = ur_release,
    .service = ur_service,
};
