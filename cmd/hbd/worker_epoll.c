/*
 * worker_epoll.c -- hbd's epoll backend: level-triggered readiness, read() into the worker's
 * buffer, replies built in the worker's buffer and written at once; EPOLLOUT only while a
 * client has replies the socket did not take.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

#define READS_PER_EVENT 4

/* A closing connection is not read any more: level-triggered epoll would otherwise report its
 * unread bytes forever. */
static void
set_writing(struct conn *c, int on)
{
    c->writing = (uint8_t)on;
    gw_ev_mod(c->w->ev, c->fd, (on ? GW_EV_WRITE : 0) | (c->closing ? 0 : GW_EV_READ));
}

static void
linger_read(struct conn *c)
{
    ssize_t n = -1;

    while (!c->dead && (n = read(c->fd, c->w->rbuf, HBD_READ_BYTES)) > 0)
        hbd_conn_linger_input(c, (size_t)n);
    if (!c->dead && (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)))
        hbd_conn_close(c, "closed by request");
}

/* Sends what the batch produced; keeps the rest on the connection. */
static void
flush(struct conn *c, struct gw_buf *dst)
{
    ssize_t n;

    if (gw_buf_len(dst) && !c->writing) {
        n = gw_buf_write_fd(dst, c->fd);
        if (n < 0 && errno != EAGAIN) {
            gw_buf_consume(dst, gw_buf_len(dst));
            hbd_conn_close(c, strerror(errno));
            return;
        }
    }
    if (dst != &c->out && gw_buf_len(dst)) {
        int rc = gw_buf_append(&c->out, gw_buf_data(dst), gw_buf_len(dst));
        gw_buf_consume(dst, gw_buf_len(dst));
        if (rc == -1) {
            hbd_conn_close(c, "out of memory");
            return;
        }
    }
    if (hbd_conn_overflow(c, gw_buf_len(&c->out)))
        return;
    if (gw_buf_len(&c->out)) {
        if (!c->writing || c->closing)
            set_writing(c, 1);
        return;
    }
    if (c->closing) {
        hbd_conn_linger(c);
        return;
    }
    if (c->writing)
        set_writing(c, 0);
}

static void
on_readable(struct conn *c)
{
    struct hbd_worker *w = c->w;
    struct hbd *h = w->h;
    const struct hbd_config *cfg = hbd_cfg(h);
    struct gw_buf *dst = gw_buf_len(&c->out) ? &c->out : &w->obuf;
    uint64_t t0 = gw_mono_ns(), total = 0, msgs = 0;
    ssize_t n;
    int rc = 0;

    for (int i = 0; i < READS_PER_EVENT && rc >= 0; i++) {
        n = read(c->fd, w->rbuf, HBD_READ_BYTES);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            hbd_conn_close(c, n == 0 ? "peer closed" : strerror(errno));
            return;
        }
        if (n < 0)
            break;
        total += (uint64_t)n;
        rc = hbd_conn_parse(c, dst, w->rbuf, (size_t)n, cfg->max_line_bytes);
        if (rc > 0)
            msgs += (uint64_t)rc;
        /* A client that sends without reading is cut off here, before its replies pile up. */
        if ((size_t)n < HBD_READ_BYTES || gw_buf_len(dst) > cfg->max_output_bytes)
            break;
    }
    hbd_conn_after_input(c, total, msgs, rc);
    flush(c, dst);
    gw_metrics_observe(h->m.reg, h->m.processing, (double)(gw_mono_ns() - t0) / 1e9);
}

static void
on_writable(struct conn *c)
{
    ssize_t n = gw_buf_write_fd(&c->out, c->fd);

    if (n < 0 && errno != EAGAIN) {
        hbd_conn_close(c, strerror(errno));
        return;
    }
    if (gw_buf_len(&c->out))
        return;
    /* Drained: give the memory back, an idle connection keeps none. */
    gw_buf_reset(&c->out);
    if (c->closing) {
        hbd_conn_linger(c);
        return;
    }
    if (c->w->draining) {
        hbd_conn_close(c, "draining");
        return;
    }
    set_writing(c, 0);
}

static void
on_conn(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    struct conn *c = arg;

    (void)ev;
    (void)fd;
    if (c->lingering) {
        linger_read(c);
        return;
    }
    if ((events & GW_EV_WRITE) && !c->dead)
        on_writable(c);
    if ((events & (GW_EV_READ | GW_EV_ERROR)) && !c->dead && !c->closing)
        on_readable(c);
}

static int
epoll_start(struct hbd_worker *w, char *err)
{
    (void)w;
    (void)err;
    return 0;
}

static void
epoll_run(struct hbd_worker *w)
{
    while (!w->stop)
        if (gw_ev_run(w->ev) == -1) {
            GW_LOG_ERROR("event loop failed", "worker=%u err=%s", w->index, strerror(errno));
            break;
        }
}

static int
epoll_open(struct conn *c, char *err)
{
    return gw_ev_add(c->w->ev, c->fd, GW_EV_READ, on_conn, c, err);
}

static void
free_later(struct gw_ev *ev, void *arg)
{
    (void)ev;
    hbd_conn_free(arg);
}

/* Its memory goes after the current callback returns. */
static void
epoll_release(struct conn *c)
{
    gw_ev_del(c->w->ev, c->fd);
    close(c->fd);
    if (gw_ev_defer(c->w->ev, free_later, c) == -1)
        hbd_conn_free(c);
}

static void
epoll_flush(struct conn *c)
{
    set_writing(c, 1);
}

static void
epoll_linger(struct conn *c)
{
    c->writing = 0;
    gw_ev_mod(c->w->ev, c->fd, GW_EV_READ);
}

const struct hbd_io hbd_io_epoll = {
    .name = "epoll",
    .start = epoll_start,
    .run = epoll_run,
    .open = epoll_open,
    .release = epoll_release,
    .flush = epoll_flush,
    .linger = epoll_linger,
};
