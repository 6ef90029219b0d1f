/*
 * conn_epoll.c -- the epoll backend of lib/conn: level-triggered readiness, read() into the
 * loop's buffer, output written at once from the loop's buffer; EPOLLOUT only while a
 * connection has output the socket did not take.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn_io.h"

#define READS_PER_EVENT 4

/* CF_RECV_ARMED here means GW_EV_READ is watched. A connection that must not read is not
 * watched for it: level-triggered epoll would otherwise report its unread bytes forever. */
static void
set_events(struct gw_conn *c)
{
    int want_read = gw_conn__want_read(c), want_write = gw_conn__out_len(c) != 0;
    int reading = (c->flags & CF_RECV_ARMED) != 0, writing = (c->flags & CF_WRITING) != 0;

    if (want_read == reading && want_write == writing)
        return;
    c->flags &= (uint16_t) ~(CF_RECV_ARMED | CF_WRITING);
    c->flags |= (uint16_t)((want_read ? CF_RECV_ARMED : 0) | (want_write ? CF_WRITING : 0));
    gw_ev_mod(c->loop->ev, c->fd, (want_read ? GW_EV_READ : 0) | (want_write ? GW_EV_WRITE : 0));
}

static int
write_failed(void)
{
    return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

/* The output the callbacks of this event wrote into the loop's buffer: sent now, and what the
 * socket does not take moves to the connection. */
static void
flush_obuf(struct gw_conn *c)
{
    struct gw_buf *ob = &c->loop->obuf;

    if (!gw_buf_len(ob))
        return;
    if (!gw_conn__out_len(c) && !(c->flags & CF_WRITING) && gw_buf_write_fd(ob, c->fd) < 0 &&
        write_failed()) {
        gw_buf_consume(ob, gw_buf_len(ob));
        gw_conn_close(c, strerror(errno));
        return;
    }
    if (gw_buf_len(ob)) {
        struct gw_buf *out = gw_conn__outbuf(c);
        int rc = out ? gw_buf_append(out, gw_buf_data(ob), gw_buf_len(ob)) : -1;
        gw_buf_consume(ob, gw_buf_len(ob));
        if (rc == -1)
            gw_conn_close(c, GW_CONN_OUT_OF_MEMORY);
    }
}

static void
write_out(struct gw_conn *c)
{
    if (gw_conn__out_len(c) && gw_buf_write_fd(c->out, c->fd) < 0 && write_failed())
        gw_conn_close(c, strerror(errno));
}

static ssize_t
ep_send_now(struct gw_conn *c, const void *data, size_t n)
{
    ssize_t k;

    do
        k = write(c->fd, data, n);
    while (k == -1 && errno == EINTR);
    if (k == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    return k;
}

static void
ep_service(struct gw_conn *c)
{
    if (!(c->flags & CF_WRITING))
        write_out(c);
    if (c->flags & CF_CLOSED)
        return;
    gw_conn__settle(c);
    if (!(c->flags & CF_CLOSED))
        set_events(c);
}

static void
read_batch(struct gw_conn *c)
{
    struct gw_conn_loop *l = c->loop;
    size_t limit = 0;
    ssize_t n;

    for (int i = 0; i < READS_PER_EVENT && gw_conn__want_read(c); i++) {
        n = read(c->fd, l->rbuf, GW_CONN_READ_BYTES);
        if (n == 0) {
            gw_conn__eof(c);
            return;
        }
        if (n < 0) {
            if (write_failed())
                gw_conn_close(c, strerror(errno));
            return;
        }
        gw_conn__input(c, l->rbuf, (size_t)n);
        if ((c->flags & CF_CLOSED) || (size_t)n < GW_CONN_READ_BYTES)
            return;
        if (!limit) {
            const struct gw_conn_limits *lim = gw_conn__limits(c);
            limit = lim->max_out ? lim->max_out : GW_CONN_MAX_OUT;
        }
        /* A client that sends without reading is cut off here, before its replies pile up. */
        if (gw_conn_out_len(c) > limit)
            return;
    }
}

static void
linger_read(struct gw_conn *c)
{
    ssize_t n = -1;

    while (!(c->flags & CF_CLOSED) && (n = read(c->fd, c->loop->rbuf, GW_CONN_READ_BYTES)) > 0)
        gw_conn__input(c, c->loop->rbuf, (size_t)n);
    if (!(c->flags & CF_CLOSED) && (n == 0 || (n < 0 && write_failed())))
        gw_conn_close(c, GW_CONN_FINISHED);
}

static void
on_event(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    struct gw_conn *c = arg;
    struct gw_conn_loop *l = c->loop;

    (void)ev;
    (void)fd;
    if (c->flags & CF_LINGERING) {
        linger_read(c);
        return;
    }
    if ((events & GW_EV_WRITE) && (c->flags & CF_WRITING)) {
        write_out(c);
        if (!(c->flags & CF_CLOSED))
            gw_conn__todo(c);
    }
    if ((events & (GW_EV_READ | GW_EV_ERROR)) && gw_conn__want_read(c)) {
        l->cur = c;
        read_batch(c);
        if (!(c->flags & CF_CLOSED))
            flush_obuf(c);
        l->cur = NULL;
        if (!(c->flags & CF_CLOSED))
            gw_conn__todo(c);
    }
    /* Replies go out with the event that asked for them, not after the whole iteration. */
    gw_conn__service_todo(l);
}

static int
ep_start(struct gw_conn_loop *l, char *err)
{
    (void)l;
    (void)err;
    return 0;
}

static int
ep_run(struct gw_conn_loop *l, char *err)
{
    while (!l->stop) {
        if (gw_ev_run_once(l->ev, -1) == -1)
            return gw_err_errno(err, "epoll_wait");
        gw_conn__after_batch(l);
    }
    return 0;
}

static void
ep_stop(struct gw_conn_loop *l)
{
    (void)l;
}

static int
ep_open(struct gw_conn *c, char *err)
{
    c->flags |= CF_RECV_ARMED;
    return gw_ev_add(c->loop->ev, c->fd, GW_EV_READ, on_event, c, err);
}

static void
ep_release(struct gw_conn *c)
{
    gw_ev_del(c->loop->ev, c->fd);
    close(c->fd);
    gw_conn__reap(c);
}

const struct gw_conn_backend gw_conn__epoll = {
    .name = "epoll",
    .start = ep_start,
    .run = ep_run,
    .stop = ep_stop,
    .open = ep_open,
    .release = ep_release,
    .service = ep_service,
    .send_now = ep_send_now,
};
