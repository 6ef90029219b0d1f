/*
 * conn.c -- the connection core: lifecycle, input kept between reads, output queue, marks,
 * idle/linger/connect deadlines and the loop; the backends (conn_epoll.c, conn_uring.c) move
 * the bytes.
 *
 * Every state change that needs the backend (output queued, reads paused or resumed, finish,
 * linger, EOF) puts the connection on the loop's todo list; the list is serviced after each
 * batch of events, so a callback never re-enters the backend and replies go out together.
 */
#include "conn.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn_io.h"

static atomic_uint_fast64_t conn_ids;

static const struct gw_conn_limits default_limits;

const struct gw_conn_limits *
gw_conn__limits(struct gw_conn *c)
{
    const struct gw_conn_limits *l = c->proto->limits ? c->proto->limits(c) : NULL;

    return l ? l : &default_limits;
}

static size_t
max_in(const struct gw_conn_limits *lim)
{
    return lim->max_in ? lim->max_in : GW_CONN_MAX_IN;
}

static size_t
max_out(const struct gw_conn_limits *lim)
{
    return lim->max_out ? lim->max_out : GW_CONN_MAX_OUT;
}

int
gw_conn_io_parse(const char *name)
{
    if (strcmp(name, "auto") == 0)
        return GW_CONN_IO_AUTO;
    if (strcmp(name, "epoll") == 0)
        return GW_CONN_IO_EPOLL;
    if (strcmp(name, "uring") == 0 || strcmp(name, "io_uring") == 0)
        return GW_CONN_IO_URING;
    return -1;
}

/* ---- the todo list and freeing ---- */

/* A loop driven by gw_ev_run() (the daemon's main loop, see gw_conn_loop_new) has no
 * after-batch step of its own: what a timer, a post or a deferred call queued, and the
 * connections closed, wait for a 0 ms timer, which runs after the iteration's fd events (or on
 * the next iteration when armed from a timer). gw_conn_loop_run() does it after each batch. */
static void
kick(struct gw_conn_loop *l)
{
    if (!l->running && !gw_ev_timer_armed(&l->batch))
        (void)gw_ev_timer_start(l->ev, &l->batch, 0); /* out of memory: at the next event */
}

void
gw_conn__todo(struct gw_conn *c)
{
    if (c->flags & (CF_QUEUED | CF_CLOSED))
        return;
    c->flags |= CF_QUEUED;
    c->qnext = c->loop->todo;
    c->loop->todo = c;
    kick(c->loop);
}

/* ---- output buffers: the loop's spares ---- */

struct gw_buf *
gw_conn__outbuf(struct gw_conn *c)
{
    struct gw_conn_loop *l = c->loop;
    struct gw_buf *b;

    if (c->out)
        return c->out;
    if (l->nspares) {
        b = l->spares[--l->nspares];
        l->spare_bytes -= gw_buf_cap(b);
    } else {
        if ((b = malloc(sizeof(*b))) == NULL)
            return NULL;
        /* Bounded by max_out after each batch, not by the buffer, so replies are never cut. */
        gw_buf_init(b, SIZE_MAX / 4);
    }
    return c->out = b;
}

/* An empty buffer goes back to the loop (with its storage while that is small), or is freed. */
static void
buf_give(struct gw_conn_loop *l, struct gw_buf *b)
{
    if (!b)
        return;
    gw_buf_consume(b, gw_buf_len(b));
    if (l->nspares == GW_CONN_SPARES) {
        gw_buf_reset(b);
        free(b);
        return;
    }
    if (gw_buf_cap(b) > GW_CONN_SPARE_BYTES || l->spare_bytes + gw_buf_cap(b) > GW_CONN_SPARE_TOTAL)
        gw_buf_reset(b);
    l->spare_bytes += gw_buf_cap(b);
    l->spares[l->nspares++] = b;
}

void
gw_conn__give_snd(struct gw_conn *c)
{
    buf_give(c->loop, c->snd);
    c->snd = NULL;
}

/* c's output has drained (or c is freed): an idle connection keeps no buffer. */
static void
bufs_give(struct gw_conn *c)
{
    buf_give(c->loop, c->out);
    buf_give(c->loop, c->snd);
    c->out = c->snd = NULL;
}

void
gw_conn__free(struct gw_conn *c)
{
    free(c->in);
    bufs_give(c);
    free(c);
}

void
gw_conn__reap(struct gw_conn *c)
{
    c->next = c->loop->reap;
    c->loop->reap = c;
    kick(c->loop);
}

static void deliver(struct gw_conn *c, char *data, size_t n);
static int can_deliver(const struct gw_conn *c);

/* Once, after every byte before the EOF was offered. */
static void
report_eof(struct gw_conn *c)
{
    if (c->flags & (CF_EOF_SENT | CF_CLOSED))
        return;
    c->flags |= CF_EOF_SENT;
    if (c->proto->on_eof)
        c->proto->on_eof(c);
    else
        gw_conn_finish(c);
}

/* Input kept while paused is offered again once reads resume. */
static void
redeliver(struct gw_conn *c)
{
    char *data = c->in;
    size_t n = c->in_len;

    c->flags &= (uint16_t)~CF_REDELIVER;
    c->in = NULL;
    c->in_len = 0;
    if (n)
        deliver(c, data, n);
    free(data);
}

void
gw_conn__service_todo(struct gw_conn_loop *l)
{
    while (l->todo) {
        struct gw_conn *c = l->todo;
        l->todo = c->qnext;
        c->flags &= (uint16_t)~CF_QUEUED;
        /* A connecting one is serviced once connected (on_connect queues it again). */
        if (c->flags & (CF_CLOSED | CF_CONNECTING))
            continue;
        if ((c->flags & CF_REDELIVER) && can_deliver(c)) {
            redeliver(c);
            if (c->flags & CF_CLOSED)
                continue;
        }
        /* An EOF that came while reads were paused, once the input kept before it was offered
         * again. Checked at every service, not only after a redelivery: on_data may have taken
         * all of that input and paused again, and at the next resume there is nothing left to
         * redeliver, nor a read to come that would report it. */
        if ((c->flags & (CF_EOF | CF_EOF_SENT | CF_REDELIVER)) == CF_EOF && can_deliver(c)) {
            report_eof(c);
            if (c->flags & CF_CLOSED)
                continue;
        }
        l->io->service(c);
    }
}

void
gw_conn__after_batch(struct gw_conn_loop *l)
{
    gw_conn__service_todo(l);
    while (l->reap) {
        struct gw_conn *c = l->reap;
        l->reap = c->next;
        gw_conn__free(c);
    }
}

/* ---- input ---- */

static int
can_deliver(const struct gw_conn *c)
{
    return !(c->flags & (CF_CLOSED | CF_FINISHING | CF_PAUSED | CF_PAUSED_HIGH | CF_CONNECTING));
}

int
gw_conn__want_read(const struct gw_conn *c)
{
    if (c->flags & (CF_CLOSED | CF_CONNECTING | CF_EOF))
        return 0;
    if (c->flags & CF_LINGERING)
        return 1;
    return !(c->flags & (CF_FINISHING | CF_PAUSED | CF_PAUSED_HIGH));
}

/* Room for n more bytes of kept input (see gw_conn__in_size); 0 or -1 (out of memory). */
static int
in_grow(struct gw_conn *c, size_t n)
{
    size_t need = c->in_len + n;
    char *p;

    if (c->in && need <= gw_conn__in_size(c->in_len))
        return 0;
    if ((p = realloc(c->in, gw_conn__in_size(need))) == NULL)
        return -1;
    c->in = p;
    return 0;
}

/* Appends to the kept input: at most max_in while reading; while paused, what still arrives
 * is kept up to the slack too. */
static void
keep(struct gw_conn *c, const char *data, size_t n)
{
    const struct gw_conn_limits *lim = gw_conn__limits(c);
    size_t cap = max_in(lim) + (can_deliver(c) ? 0 : GW_CONN_PAUSED_SLACK);

    if (c->in_len + n > cap) {
        gw_conn_close(c, GW_CONN_INPUT_TOO_LARGE);
        return;
    }
    if (in_grow(c, n) == -1) {
        gw_conn_close(c, GW_CONN_OUT_OF_MEMORY);
        return;
    }
    memcpy(c->in + c->in_len, data, n);
    c->in_len += (uint32_t)n;
}

static size_t
on_data(struct gw_conn *c, char *data, size_t n)
{
    size_t k;

    if (!c->proto->on_data)
        return n;
    k = c->proto->on_data(c, data, n);
    return k > n ? n : k;
}

/* Nothing is kept: data is offered in place. */
static void
deliver(struct gw_conn *c, char *data, size_t n)
{
    size_t k;

    if (!can_deliver(c)) {
        keep(c, data, n);
        return;
    }
    k = on_data(c, data, n);
    if (c->flags & (CF_CLOSED | CF_FINISHING))
        return;
    if (k < n)
        keep(c, data + k, n - k);
}

void
gw_conn__input(struct gw_conn *c, char *data, size_t n)
{
    size_t old, t, k, lim_in;

    if (c->flags & CF_CLOSED)
        return;
    c->bytes_in += n;
    if (c->flags & CF_LINGERING) {
        if (c->bytes_in > GW_CONN_LINGER_MAX_BYTES)
            gw_conn_close(c, GW_CONN_FINISHED);
        return;
    }
    if (c->flags & CF_FINISHING)
        return; /* nothing more is answered */
    if (c->proto->on_received) {
        c->proto->on_received(c, n);
        if (c->flags & (CF_CLOSED | CF_FINISHING))
            return;
    }
    if (c->in_len == 0) {
        deliver(c, data, n);
        return;
    }
    if (!can_deliver(c)) {
        keep(c, data, n);
        return;
    }
    /* The kept bytes come first: as much new input as max_in allows is appended to them, the
     * rest, once the protocol has got past the kept bytes, is offered in place. */
    old = c->in_len;
    lim_in = max_in(gw_conn__limits(c));
    t = lim_in > old ? GW_MIN(n, lim_in - old) : 0;
    if (t) {
        if (in_grow(c, t) == -1) {
            gw_conn_close(c, GW_CONN_OUT_OF_MEMORY);
            return;
        }
        memcpy(c->in + old, data, t);
        c->in_len = (uint32_t)(old + t);
    }
    k = on_data(c, c->in, c->in_len);
    if (c->flags & (CF_CLOSED | CF_FINISHING))
        return;
    if (k >= old) {
        free(c->in);
        c->in = NULL;
        c->in_len = 0;
        if (k - old < n)
            deliver(c, data + (k - old), n - (k - old));
        return;
    }
    memmove(c->in, c->in + k, c->in_len - k);
    c->in_len -= (uint32_t)k;
    if (t < n)
        keep(c, data + t, n - t);
}

void
gw_conn__eof(struct gw_conn *c)
{
    if (c->flags & CF_CLOSED)
        return;
    if (c->flags & CF_LINGERING) {
        gw_conn_close(c, GW_CONN_FINISHED);
        return;
    }
    if (c->flags & CF_EOF)
        return;
    c->flags |= CF_EOF;
    gw_conn__todo(c);
    /* io_uring may complete the EOF while reads are paused (the receive is cancelled after
     * the pause, or was still armed): as with epoll, which reads nothing then, it is reported
     * once reads resume, after the input kept meanwhile (gw_conn__service_todo). */
    if (!can_deliver(c) && !(c->flags & CF_FINISHING))
        return;
    report_eof(c);
}

/* ---- output ---- */

/* epoll: while its own queue is empty, the connection being handled writes into the loop's
 * buffer, sent straight from there; an idle connection then never allocates output. */
static struct gw_buf *
wbuf(struct gw_conn *c)
{
    if (c->loop->cur == c && gw_conn__out_len(c) == 0)
        return &c->loop->obuf;
    return gw_conn__outbuf(c);
}

char *
gw_conn_reserve(struct gw_conn *c, size_t n)
{
    struct gw_buf *b;
    char *p;

    if (c->flags & (CF_CLOSED | CF_SHUT_WR | CF_WR_DONE))
        return NULL;
    if ((b = wbuf(c)) == NULL || (p = gw_buf_reserve(b, n)) == NULL) {
        gw_conn_close(c, GW_CONN_OUT_OF_MEMORY);
        return NULL;
    }
    return p;
}

void
gw_conn_commit(struct gw_conn *c, size_t n)
{
    struct gw_buf *b;

    if (c->flags & CF_CLOSED)
        return;
    /* After gw_conn_reserve(): the buffer it reserved in, which wbuf() finds again. */
    if ((b = wbuf(c)) != NULL)
        gw_buf_commit(b, n);
    gw_conn__todo(c);
}

int
gw_conn_write(struct gw_conn *c, const void *data, size_t n)
{
    char *p = gw_conn_reserve(c, n);

    if (!p)
        return -1;
    memcpy(p, data, n);
    gw_conn_commit(c, n);
    return 0;
}

int
gw_conn_write_now(struct gw_conn *c, const void *data, size_t n)
{
    struct gw_conn_loop *l = c->loop;
    ssize_t k = 0;

    if (c->flags & (CF_CLOSED | CF_SHUT_WR | CF_WR_DONE))
        return -1;
    /* Only with nothing queued, so the bytes keep their order; the connection being handled
     * writes into the loop's buffer, which goes out at the end of its event anyway. */
    if (l->io->send_now && !(c->flags & CF_CONNECTING) && l->cur != c && !gw_conn__queued(c)) {
        if ((k = l->io->send_now(c, data, n)) < 0) {
            gw_conn_close(c, strerror(errno));
            return -1;
        }
        if ((size_t)k == n)
            return 0;
    }
    return gw_conn_write(c, (const char *)data + k, n - (size_t)k);
}

size_t
gw_conn_out_len(const struct gw_conn *c)
{
    size_t n = gw_conn__queued(c);

    if (c->loop->cur == c)
        n += gw_buf_len(&c->loop->obuf);
    return n;
}

int
gw_conn_above_high(struct gw_conn *c)
{
    const struct gw_conn_limits *lim;
    size_t q;

    if ((c->flags & CF_CLOSED) || (q = gw_conn_out_len(c)) == 0)
        return 0;
    lim = gw_conn__limits(c);
    if (!lim->out_high || q <= lim->out_high)
        return 0;
    /* Armed now, so a socket that takes it all before the next settle still reports it. */
    c->flags |= CF_ABOVE_HIGH;
    gw_conn__todo(c);
    return 1;
}

/* Lingering close (see gw_conn_finish in conn.h). */
static void
linger(struct gw_conn *c)
{
    struct gw_ev *ev = c->loop->ev;

    if (shutdown(c->fd, SHUT_WR) == -1) {
        gw_conn_close(c, GW_CONN_FINISHED);
        return;
    }
    c->flags |= CF_LINGERING;
    c->last_ms = gw_ev_now_ms(ev);
    c->bytes_in = 0;
    if (gw_ev_timer_start(ev, &c->timer, GW_CONN_LINGER_MS) == -1) {
        gw_conn_close(c, GW_CONN_FINISHED);
        return;
    }
    gw_conn__todo(c);
}

static void
marks(struct gw_conn *c, const struct gw_conn_limits *lim, size_t q)
{
    if (q > lim->out_high && lim->out_high) {
        if (!(c->flags & CF_ABOVE_HIGH)) {
            c->flags |= CF_ABOVE_HIGH;
            if (lim->pause_on_high) {
                c->flags |= CF_PAUSED_HIGH;
                gw_conn__todo(c);
            }
        }
        return;
    }
    if (!(c->flags & CF_ABOVE_HIGH) || (q > lim->out_low && lim->out_high))
        return;
    c->flags &= (uint16_t)~CF_ABOVE_HIGH;
    if (c->flags & CF_PAUSED_HIGH) {
        c->flags &= (uint16_t)~CF_PAUSED_HIGH;
        if (c->in_len)
            c->flags |= CF_REDELIVER;
        gw_conn__todo(c);
    }
    if (c->proto->on_writable)
        c->proto->on_writable(c);
}

void
gw_conn__settle(struct gw_conn *c)
{
    const struct gw_conn_limits *lim;
    size_t q;

    if (c->flags & (CF_CLOSED | CF_CONNECTING))
        return;
    q = gw_conn__queued(c);
    /* Nothing queued and no mark passed: no limit to check (the common case, once a reply is
     * out). */
    if (q || (c->flags & CF_ABOVE_HIGH)) {
        lim = gw_conn__limits(c);
        if (q > max_out(lim)) {
            gw_conn_close(c, GW_CONN_OUTPUT_FULL);
            return;
        }
        marks(c, lim, q);
        if ((c->flags & CF_CLOSED) || gw_conn__queued(c))
            return;
    }
    /* Drained: the buffers go back to the loop, an idle connection keeps none. */
    if (c->out || c->snd)
        bufs_give(c);
    if ((c->flags & CF_SHUT_WR) && !(c->flags & CF_FINISHING)) {
        c->flags = (uint16_t)((c->flags & ~CF_SHUT_WR) | CF_WR_DONE);
        if (shutdown(c->fd, SHUT_WR) == -1)
            gw_conn_close(c, strerror(errno));
        return;
    }
    if ((c->flags & (CF_FINISHING | CF_LINGERING)) != CF_FINISHING)
        return;
    if (c->flags & CF_EOF)
        gw_conn_close(c, GW_CONN_PEER_CLOSED);
    else
        linger(c);
}

/* ---- lifecycle ---- */

void
gw_conn_close(struct gw_conn *c, const char *reason)
{
    struct gw_conn_loop *l = c->loop;

    if (c->flags & CF_CLOSED)
        return;
    c->flags |= CF_CLOSED;
    gw_ev_timer_stop(l->ev, &c->timer);
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    l->nconns--;
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
    if (l->cur == c)
        gw_buf_consume(&l->obuf, gw_buf_len(&l->obuf));
    if (c->proto->on_close)
        c->proto->on_close(c, reason);
    if (c->flags & CF_CONNECTING) {
        gw_ev_del(l->ev, c->fd);
        close(c->fd);
        gw_conn__reap(c);
        return;
    }
    l->io->release(c);
}

void
gw_conn_finish(struct gw_conn *c)
{
    if (c->flags & (CF_CLOSED | CF_FINISHING))
        return;
    c->flags |= CF_FINISHING;
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
    gw_conn__todo(c);
}

void
gw_conn_shutdown_write(struct gw_conn *c)
{
    if (c->flags & (CF_CLOSED | CF_SHUT_WR | CF_WR_DONE))
        return;
    c->flags |= CF_SHUT_WR;
    gw_conn__todo(c);
}

void
gw_conn_redeliver(struct gw_conn *c)
{
    if ((c->flags & CF_CLOSED) || !c->in_len)
        return;
    c->flags |= CF_REDELIVER;
    gw_conn__todo(c);
}

void
gw_conn_pause_read(struct gw_conn *c)
{
    if (c->flags & (CF_CLOSED | CF_PAUSED))
        return;
    c->flags |= CF_PAUSED;
    gw_conn__todo(c);
}

void
gw_conn_resume_read(struct gw_conn *c)
{
    if ((c->flags & CF_CLOSED) || !(c->flags & CF_PAUSED))
        return;
    c->flags &= (uint16_t)~CF_PAUSED;
    if (c->in_len)
        c->flags |= CF_REDELIVER;
    gw_conn__todo(c);
}

int
gw_conn_read_paused(const struct gw_conn *c)
{
    return (c->flags & (CF_PAUSED | CF_PAUSED_HIGH)) != 0;
}

static int
arm_idle(struct gw_conn *c)
{
    uint64_t idle = gw_conn__limits(c)->idle_ms;

    if (!idle || gw_ev_timer_armed(&c->timer))
        return 0;
    return gw_ev_timer_start(c->loop->ev, &c->timer, idle);
}

void
gw_conn_touch(struct gw_conn *c)
{
    c->msgs++;
    c->last_ms = gw_ev_now_ms(c->loop->ev);
    if (!gw_ev_timer_armed(&c->timer) && !(c->flags & (CF_CLOSED | CF_LINGERING)))
        (void)arm_idle(c);
}

/* One timer per connection: it fires at the earliest deadline it could have, and re-arms
 * itself for the rest when a touch moved the deadline since. */
static void
on_timer(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct gw_conn *c = arg;
    uint64_t now = gw_ev_now_ms(ev), deadline;
    const char *reason;

    if (c->flags & CF_CONNECTING) {
        deadline = c->last_ms;
        reason = GW_CONN_CONNECT_TIMEOUT;
    } else if (c->flags & CF_LINGERING) {
        deadline = c->last_ms + GW_CONN_LINGER_MS;
        reason = GW_CONN_FINISHED;
    } else {
        uint64_t idle = gw_conn__limits(c)->idle_ms;
        if (!idle)
            return;
        deadline = c->last_ms + idle;
        reason = GW_CONN_IDLE;
    }
    if (now >= deadline)
        gw_conn_close(c, reason);
    else
        (void)gw_ev_timer_start(ev, t, deadline - now); /* re-arming an armed timer: no fail */
}

static struct gw_conn *
conn_new(struct gw_conn_loop *l, int fd, const struct gw_conn_proto *proto, void *user)
{
    struct gw_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->loop = l;
    c->proto = proto;
    c->user = user;
    c->fd = fd;
    c->id = atomic_fetch_add(&conn_ids, 1) + 1;
    c->last_ms = gw_ev_now_ms(l->ev);
    c->created_s = (uint32_t)(c->last_ms / 1000);
    gw_ev_timer_init(&c->timer, on_timer, c);
    return c;
}

/* A connection that never opened: nothing was called, nothing refers to it. */
static struct gw_conn *
discard(struct gw_conn *c)
{
    gw_ev_timer_stop(c->loop->ev, &c->timer);
    close(c->fd);
    gw_conn__free(c);
    return NULL;
}

static void
link_conn(struct gw_conn *c)
{
    struct gw_conn_loop *l = c->loop;

    c->prev = NULL;
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    l->nconns++;
}

struct gw_conn *
gw_conn_adopt(struct gw_conn_loop *l, int fd, const struct sockaddr *peer, socklen_t peer_len,
              const struct gw_conn_proto *proto, void *user, char *err)
{
    struct gw_conn *c = conn_new(l, fd, proto, user);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (!c) {
        close(fd);
        gw_err(err, "out of memory");
        return NULL;
    }
    if (!peer && getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        peer = (struct sockaddr *)&ss;
        peer_len = len;
    }
    if (peer)
        gw_net_addr_str(peer, peer_len, c->addr, sizeof(c->addr));
    gw_net_set_nodelay(fd);
    if (arm_idle(c) == -1) {
        gw_err(err, "out of memory");
        goto fail;
    }
    if (l->io->open(c, err) == -1)
        goto fail;
    link_conn(c);
    if (proto->on_open)
        proto->on_open(c);
    return c;
fail:
    return discard(c);
}

/* The outgoing connection is writable: connected, or failed. */
static void
on_connect(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    struct gw_conn *c = arg;
    char err[GW_ERR_LEN], reason[GW_ERR_LEN + 16];

    (void)events;
    gw_ev_del(ev, fd);
    if (gw_net_connect_result(fd, err) == -1) {
        snprintf(reason, sizeof(reason), "connect: %s", err);
        gw_conn_close(c, reason);
        return;
    }
    c->flags &= (uint16_t)~CF_CONNECTING;
    c->last_ms = gw_ev_now_ms(ev);
    gw_ev_timer_stop(ev, &c->timer);
    if (arm_idle(c) == -1) {
        gw_conn_close(c, GW_CONN_OUT_OF_MEMORY);
        return;
    }
    gw_net_set_nodelay(fd);
    if (c->loop->io->open(c, err) == -1) {
        snprintf(reason, sizeof(reason), "connect: %s", err);
        /* Not open in the backend: released as a connecting one. */
        c->flags |= CF_CONNECTING;
        gw_conn_close(c, reason);
        return;
    }
    if (c->proto->on_open)
        c->proto->on_open(c);
    if (!(c->flags & CF_CLOSED))
        gw_conn__todo(c); /* output written before the connect completed */
}

struct gw_conn *
gw_conn_connect(struct gw_conn_loop *l, const struct gw_addr *a, uint64_t timeout_ms,
                const struct gw_conn_proto *proto, void *user, char *err)
{
    struct gw_conn *c;
    int pending, fd = gw_net_connect(a, &pending, err);

    if (fd == -1)
        return NULL;
    if ((c = conn_new(l, fd, proto, user)) == NULL) {
        close(fd);
        gw_err(err, "out of memory");
        return NULL;
    }
    gw_net_addr_str((const struct sockaddr *)&a->ss, a->len, c->addr, sizeof(c->addr));
    c->flags |= CF_CONNECTING;
    c->last_ms += timeout_ms;
    /* Even a connect that completed at once reports through the loop, so on_open never runs
     * inside the caller. */
    if (timeout_ms && gw_ev_timer_start(l->ev, &c->timer, timeout_ms) == -1) {
        gw_err(err, "out of memory");
        goto fail;
    }
    if (gw_ev_add(l->ev, fd, GW_EV_WRITE, on_connect, c, err) == -1)
        goto fail;
    link_conn(c);
    return c;
fail:
    return discard(c);
}

/* ---- getters ---- */

uint64_t
gw_conn_id(const struct gw_conn *c)
{
    return c->id;
}

const char *
gw_conn_addr(const struct gw_conn *c)
{
    return c->addr;
}

int
gw_conn_fd(const struct gw_conn *c)
{
    return c->fd;
}

void *
gw_conn_user(const struct gw_conn *c)
{
    return c->user;
}

void
gw_conn_set_user(struct gw_conn *c, void *user)
{
    c->user = user;
}

struct gw_conn_loop *
gw_conn_loop_of(const struct gw_conn *c)
{
    return c->loop;
}

int
gw_conn_closed(const struct gw_conn *c)
{
    return (c->flags & CF_CLOSED) != 0;
}

int
gw_conn_finishing(const struct gw_conn *c)
{
    /* An EOF still waiting behind paused input does not count: on_data has that input to come. */
    return (c->flags & (CF_FINISHING | CF_EOF_SENT | CF_LINGERING)) != 0;
}

void
gw_conn_stats(const struct gw_conn *c, struct gw_conn_stats *st)
{
    uint64_t now = gw_ev_now_ms(c->loop->ev);

    st->connected_ms = now - (uint64_t)c->created_s * 1000;
    if (st->connected_ms > now)
        st->connected_ms = 0;
    st->idle_ms = now >= c->last_ms ? now - c->last_ms : 0;
    st->msgs = c->msgs;
    st->bytes_in = c->bytes_in;
}

/* ---- the loop ---- */

static void
on_batch(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    gw_conn__after_batch(arg);
}

struct gw_conn_loop *
gw_conn_loop_new(struct gw_ev *ev, enum gw_conn_io io, char *err)
{
    struct gw_conn_loop *l = calloc(1, sizeof(*l));
    char why[GW_ERR_LEN];

    if (!l) {
        gw_err(err, "out of memory");
        return NULL;
    }
    l->ev = ev;
    gw_ev_timer_init(&l->batch, on_batch, l);
    gw_buf_init(&l->obuf, SIZE_MAX / 4);
    if ((l->rbuf = malloc(GW_CONN_READ_BYTES)) == NULL) {
        gw_err(err, "out of memory");
        goto fail;
    }
    if (io == GW_CONN_IO_AUTO)
        io = gw_conn_uring_probe(why) == 0 ? GW_CONN_IO_URING : GW_CONN_IO_EPOLL;
    l->io = io == GW_CONN_IO_URING ? &gw_conn__uring : &gw_conn__epoll;
    if (l->io->start(l, err) == -1)
        goto fail;
    return l;
fail:
    free(l->rbuf);
    free(l);
    return NULL;
}

int
gw_conn_loop_run(struct gw_conn_loop *l, char *err)
{
    int rc;

    l->running = 1;
    rc = l->io->run(l, err);
    l->running = 0;
    l->stop = 0;
    return rc;
}

void
gw_conn_loop_stop(struct gw_conn_loop *l)
{
    struct gw_ev *ev = l->ev;

    l->stop = 1;
    gw_ev_wake(ev);
}

void
gw_conn_loop_free(struct gw_conn_loop *l)
{
    if (!l)
        return;
    while (l->conns)
        gw_conn_close(l->conns, GW_CONN_SHUTDOWN);
    l->todo = NULL;
    gw_conn__after_batch(l);
    l->io->stop(l);
    gw_conn__after_batch(l);
    gw_ev_timer_stop(l->ev, &l->batch);
    gw_buf_reset(&l->obuf);
    while (l->nspares) {
        gw_buf_reset(l->spares[--l->nspares]);
        free(l->spares[l->nspares]);
    }
    free(l->rbuf);
    free(l);
}

void
gw_conn_loop_drain(struct gw_conn_loop *l)
{
    for (struct gw_conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (gw_conn_out_len(c) == 0 || (c->flags & CF_CONNECTING))
            gw_conn_close(c, GW_CONN_DRAINING);
        else
            gw_conn_finish(c);
    }
}

const char *
gw_conn_loop_backend(const struct gw_conn_loop *l)
{
    return l->io->name;
}

struct gw_ev *
gw_conn_loop_ev(const struct gw_conn_loop *l)
{
    return l->ev;
}

void
gw_conn_loop_on_notice(struct gw_conn_loop *l, gw_conn_notice_fn fn, void *arg)
{
    l->notice = fn;
    l->notice_arg = arg;
}

void
gw_conn__notice(struct gw_conn_loop *l, const char *msg)
{
    if (l->notice)
        l->notice(l, msg, l->notice_arg);
}

void
gw_conn_loop_set_owner(struct gw_conn_loop *l, void *owner)
{
    l->owner = owner;
}

void *
gw_conn_loop_owner(const struct gw_conn_loop *l)
{
    return l->owner;
}

unsigned
gw_conn_loop_count(const struct gw_conn_loop *l)
{
    return l->nconns;
}

void
gw_conn_loop_each(struct gw_conn_loop *l, void (*fn)(struct gw_conn *c, void *arg), void *arg)
{
    for (struct gw_conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        fn(c, arg);
    }
}
