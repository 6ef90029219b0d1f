/*
 * worker.c -- hbd's network threads. Each worker owns an event loop, a TCP listener and a UDP
 * socket bound with SO_REUSEPORT, and every connection the kernel hands to that listener, so a
 * connection never changes thread and the PING path takes no lock.
 *
 * This file is what both I/O backends share (worker.h): requests and replies, limits, the
 * lingering close, idle connections, UDP, start, drain and stop. worker_epoll.c and
 * worker_uring.c move the connections' bytes.
 *
 * Memory per idle connection is the struct conn: input is parsed in place where it landed
 * (a per-worker read buffer, or a buffer of the io_uring buffer ring); only a partial line is
 * copied into the connection's own buffer, and only replies the socket has not taken yet are
 * kept per connection.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "listener.h"
#include "log.h"
#include "worker.h"

#define ACCEPTS_PER_EVENT 64
#define ACCEPT_LOG_MS 10000
#define LINGER_MS 2000
#define LINGER_CHECK_MS 250
#define UDP_ROUNDS 4

void
hbd_conn_free(struct conn *c)
{
    gw_buf_reset(&c->in);
    gw_buf_reset(&c->out);
    gw_buf_reset(&c->snd);
    free(c);
}

void
hbd_conn_close(struct conn *c, const char *reason)
{
    struct hbd_worker *w = c->w;
    struct hbd *h = w->h;

    if (c->dead)
        return;
    c->dead = 1;
    if (c->lingering)
        w->nlingering--;
    GW_LOG_DEBUG("connection closed", "id=%llu addr=%s reason=%s msgs=%llu",
                 (unsigned long long)c->id, c->addr, reason, (unsigned long long)c->msgs);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    atomic_fetch_sub(&h->nconns, 1);
    gw_metrics_sub(h->m.reg, h->m.active_connections, 1);
    w->io->release(c);
}

int
hbd_conn_overflow(struct conn *c, size_t queued)
{
    struct hbd *h = c->w->h;

    if (queued <= hbd_cfg(h)->max_output_bytes)
        return 0;
    gw_metrics_add(h->m.reg, h->m.err_output_overflow, 1);
    hbd_conn_close(c, "output buffer full");
    return 1;
}

/* A close after a final reply (ERR line too long, BYE) must not lose that reply: closing a
 * socket with unread input makes the kernel send a reset, and the client may then drop the
 * reply before reading it. So, as nginx's lingering close does: send FIN, read and discard
 * what the client still sends for a while, then close. */
void
hbd_conn_linger(struct conn *c)
{
    struct hbd_worker *w = c->w;

    if (c->lingering || c->dead)
        return;
    if (shutdown(c->fd, SHUT_WR) == -1) {
        hbd_conn_close(c, "closed by request");
        return;
    }
    c->lingering = 1;
    c->closing = 0;
    c->last_ms = gw_ev_now_ms(w->ev);
    c->bytes_in = 0;
    w->nlingering++;
    w->io->linger(c);
    if (!gw_ev_timer_armed(&w->linger_timer))
        gw_ev_timer_start(w->ev, &w->linger_timer, LINGER_CHECK_MS);
}

void
hbd_conn_linger_input(struct conn *c, size_t n)
{
    c->bytes_in += n;
    if (c->bytes_in > HBD_LINGER_MAX_BYTES)
        hbd_conn_close(c, "closed by request");
}

static void
on_linger_timer(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct hbd_worker *w = arg;
    uint64_t now = gw_ev_now_ms(ev);

    for (struct conn *c = w->conns, *next; c && w->nlingering; c = next) {
        next = c->next;
        if (c->lingering && now - c->last_ms >= LINGER_MS)
            hbd_conn_close(c, "closed by request");
    }
    if (w->nlingering)
        gw_ev_timer_start(ev, t, LINGER_CHECK_MS);
}

void
hbd_conn_after_input(struct conn *c, uint64_t bytes, uint64_t msgs, int rc)
{
    struct hbd_worker *w = c->w;

    if (rc < 0) {
        c->closing = 1;
        gw_buf_reset(&c->in);
    }
    if (msgs)
        c->last_ms = gw_ev_now_ms(w->ev);
    c->bytes_in += bytes;
    gw_metrics_add(w->h->m.reg, w->h->m.bytes_received, bytes);
}

/* ---- requests ---- */

static void
reply(struct gw_buf *dst, const char *text, size_t len, int crlf)
{
    char *p = gw_buf_reserve(dst, len + 2);

    if (!p)
        return; /* the caller sees the overflow by length */
    memcpy(p, text, len);
    if (crlf) {
        p[len] = '\r';
        p[len + 1] = '\n';
        gw_buf_commit(dst, len + 2);
    } else {
        p[len] = '\n';
        gw_buf_commit(dst, len + 1);
    }
}

static void
reply_err(struct gw_buf *dst, const char *why, int crlf)
{
    char line[160];
    int n = snprintf(line, sizeof(line), "ERR %s", why);

    reply(dst, line, (size_t)n, crlf);
}

static int
error_series(struct hbd *h, const char *why)
{
    if (strncmp(why, "bad interval", 12) == 0)
        return h->m.err_bad_interval;
    if (strcmp(why, "unknown command") == 0)
        return h->m.err_unknown_command;
    return h->m.err_bad_request;
}

/* Handles one complete line (without its ending); returns 0, or -1 when the connection must
 * close after its replies are flushed. */
static int
request(struct conn *c, struct gw_buf *dst, char *line, size_t len, int crlf)
{
    struct hbd *h = c->w->h;
    struct hbd_req req;
    const char *why = NULL;
    char text[512];
    uint64_t seq;
    int n;

    hbd_proto_parse(line, len, &req);
    if (req.kind == HBD_REQ_EMPTY)
        return 0;
    /* Counted before it is handled, so a STATUS reply includes itself. */
    gw_metrics_add(h->m.reg, h->m.msgs_tcp, 1);
    c->msgs++;
    switch (req.kind) {
    case HBD_REQ_EMPTY:
        return 0;
    case HBD_REQ_PING:
        reply(dst, "PONG", 4, crlf);
        break;
    case HBD_REQ_HB:
        if ((seq = hbd_registry_beat(h->reg, &req, c->addr, &why)) == 0) {
            gw_metrics_add(h->m.reg, h->m.err_too_many_services, 1);
            reply_err(dst, why, crlf);
            break;
        }
        n = snprintf(text, sizeof(text), "OK %llu", (unsigned long long)seq);
        reply(dst, text, (size_t)n, crlf);
        break;
    case HBD_REQ_STATUS:
        hbd_status_line(h, text, sizeof(text));
        reply(dst, text, strlen(text), crlf);
        break;
    case HBD_REQ_QUIT:
        reply(dst, "BYE", 3, crlf);
        return -1;
    case HBD_REQ_ERROR:
        gw_metrics_add(h->m.reg, error_series(h, req.error), 1);
        reply_err(dst, req.error, crlf);
        break;
    }
    return 0;
}

static int
line_too_long(struct conn *c, struct gw_buf *dst)
{
    struct hbd *h = c->w->h;

    gw_metrics_add(h->m.reg, h->m.err_line_too_long, 1);
    reply(dst, "ERR line too long", 17, 1);
    GW_LOG_DEBUG("line too long", "id=%llu addr=%s", (unsigned long long)c->id, c->addr);
    return -1;
}

static int
one_line(struct conn *c, struct gw_buf *dst, char *line, size_t len, size_t max_line)
{
    int crlf = len > 0 && line[len - 1] == '\r';

    if (crlf)
        len--;
    if (len > max_line)
        return line_too_long(c, dst);
    return request(c, dst, line, len, crlf);
}

int
hbd_conn_parse(struct conn *c, struct gw_buf *dst, char *data, size_t n, size_t max_line)
{
    char *nl, *end = data + n;
    int count = 0;

    if (gw_buf_len(&c->in)) {
        nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) + 1 : n;
        if (gw_buf_len(&c->in) + take > max_line + 2)
            return line_too_long(c, dst);
        gw_buf_append(&c->in, data, take);
        if (!nl)
            return 0;
        char *line = (char *)gw_buf_data(&c->in);
        int rc = one_line(c, dst, line, gw_buf_len(&c->in) - 1, max_line);
        gw_buf_reset(&c->in);
        if (rc == -1)
            return -1;
        count++;
        data = nl + 1;
    }
    while (data < end && (nl = memchr(data, '\n', (size_t)(end - data))) != NULL) {
        if (one_line(c, dst, data, (size_t)(nl - data), max_line) == -1)
            return -1;
        count++;
        data = nl + 1;
    }
    if (data < end) {
        if ((size_t)(end - data) > max_line + 1)
            return line_too_long(c, dst);
        /* +3: the line, its "\r\n", and the NUL the parser writes. */
        gw_buf_init(&c->in, max_line + 3);
        gw_buf_append(&c->in, data, (size_t)(end - data));
    }
    return count;
}

/* ---- accept ---- */

static void
add_conn(struct hbd_worker *w, int fd, const struct sockaddr *peer, socklen_t plen)
{
    struct hbd *h = w->h;
    struct conn *c = calloc(1, sizeof(*c));
    char err[GW_ERR_LEN];

    if (!c) {
        close(fd);
        return;
    }
    c->w = w;
    c->fd = fd;
    c->id = atomic_fetch_add(&h->conn_ids, 1) + 1;
    c->connected_ms = c->last_ms = gw_ev_now_ms(w->ev);
    gw_buf_init(&c->in, 0);
    /* Bounded by the check after each read batch (max_output), not by the buffer itself, so a
     * batch's replies are never cut in the middle. */
    gw_buf_init(&c->out, SIZE_MAX / 4);
    gw_buf_init(&c->snd, SIZE_MAX / 4);
    gw_net_addr_str(peer, plen, c->addr, sizeof(c->addr));
    gw_net_set_nodelay(fd);
    if (w->io->open(c, err) == -1) {
        GW_LOG_WARN("cannot watch connection", "err=%s", err);
        close(fd);
        free(c);
        return;
    }
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    atomic_fetch_add(&h->nconns, 1);
    gw_metrics_add(h->m.reg, h->m.active_connections, 1);
    gw_metrics_add(h->m.reg, h->m.clients_connected, 1);
    GW_LOG_DEBUG("connection accepted", "id=%llu addr=%s worker=%u", (unsigned long long)c->id,
                 c->addr, w->index);
}

static void
on_accept(struct gw_listener *l, int fd, const struct sockaddr *peer, socklen_t plen, void *arg)
{
    struct hbd_worker *w = arg;
    struct hbd *h = w->h;

    (void)l;
    if ((unsigned)atomic_load(&h->nconns) >= hbd_cfg(h)->max_clients) {
        gw_metrics_add(h->m.reg, h->m.err_too_many_clients, 1);
        (void)!write(fd, "ERR too many clients\r\n", 22);
        close(fd);
        return;
    }
    add_conn(w, fd, peer, plen);
}

/* The listener has already paused itself when descriptors ran out; this only counts and logs. */
static void
on_accept_error(struct gw_listener *l, enum gw_listener_error what, int errnum, void *arg)
{
    struct hbd_worker *w = arg;
    uint64_t now = gw_ev_now_ms(w->ev);

    (void)l;
    if (what == GW_LISTENER_ERR_RESUME) {
        GW_LOG_ERROR("cannot resume accepting", "worker=%u err=%s", w->index, strerror(errnum));
        return;
    }
    gw_metrics_add(w->h->m.reg, w->h->m.err_accept, 1);
    /* Once per episode, not ten times a second while descriptors stay short. */
    if (now - w->accept_logged_ms >= ACCEPT_LOG_MS || !w->accept_logged_ms) {
        GW_LOG_WARN("accept failed", "worker=%u err=%s", w->index, strerror(errnum));
        w->accept_logged_ms = now;
    }
}

/* ---- idle connections ---- */

static void
on_idle_timer(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct hbd_worker *w = arg;
    struct hbd *h = w->h;
    const struct hbd_config *cfg = hbd_cfg(h);
    uint64_t now = gw_ev_now_ms(ev);

    for (struct conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (!c->lingering && now - c->last_ms > cfg->client_timeout_ms) {
            gw_metrics_add(h->m.reg, h->m.closed_idle, 1);
            hbd_conn_close(c, "idle timeout");
        }
    }
    gw_ev_timer_start(ev, t, cfg->cleanup_interval_ms);
}

/* ---- UDP ---- */

static void
udp_setup(struct hbd_worker *w)
{
    for (int i = 0; i < HBD_UDP_BATCH; i++) {
        w->udp_iov[i].iov_base = w->udp_bufs + (size_t)i * w->udp_max;
        w->udp_iov[i].iov_len = w->udp_max;
        memset(&w->udp_msgs[i].msg_hdr, 0, sizeof(w->udp_msgs[i].msg_hdr));
        w->udp_msgs[i].msg_hdr.msg_iov = &w->udp_iov[i];
        w->udp_msgs[i].msg_hdr.msg_iovlen = 1;
        w->udp_msgs[i].msg_hdr.msg_name = &w->udp_peers[i];
    }
}

/* Handles one datagram; returns 1 when it asks for a PONG. */
static int
udp_datagram(struct hbd_worker *w, int i)
{
    struct hbd *h = w->h;
    struct mmsghdr *m = &w->udp_msgs[i];
    char *data = w->udp_iov[i].iov_base, addr[48];
    size_t len = m->msg_len;
    struct hbd_req req;
    const char *why;

    gw_metrics_add(h->m.reg, h->m.bytes_received, len);
    if (len && data[len - 1] == '\n')
        len--;
    if (len && data[len - 1] == '\r')
        len--;
    if ((m->msg_hdr.msg_flags & MSG_TRUNC) || len > w->udp_max - 3) {
        gw_metrics_add(h->m.reg, h->m.err_udp_too_long, 1);
        return 0;
    }
    hbd_proto_parse(data, len, &req);
    gw_metrics_add(h->m.reg, h->m.msgs_udp, 1);
    if (req.kind == HBD_REQ_PING)
        return 1;
    if (req.kind == HBD_REQ_HB) {
        gw_net_addr_str((struct sockaddr *)&w->udp_peers[i], m->msg_hdr.msg_namelen, addr,
                        sizeof(addr));
        if (hbd_registry_beat(h->reg, &req, addr, &why) == 0)
            gw_metrics_add(h->m.reg, h->m.err_too_many_services, 1);
        return 0;
    }
    /* No error replies over UDP: a forged source address must not earn anyone traffic. */
    gw_metrics_add(h->m.reg, h->m.err_udp_bad, 1);
    return 0;
}

static void
on_udp(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    static const char pong[] = "PONG\n";
    struct hbd_worker *w = arg;
    int n, nreply;

    (void)ev;
    (void)events;
    for (int round = 0; round < UDP_ROUNDS; round++) {
        for (int i = 0; i < HBD_UDP_BATCH; i++)
            w->udp_msgs[i].msg_hdr.msg_namelen = sizeof(w->udp_peers[i]);
        if ((n = recvmmsg(fd, w->udp_msgs, HBD_UDP_BATCH, MSG_DONTWAIT, NULL)) <= 0)
            return;
        nreply = 0;
        for (int i = 0; i < n; i++) {
            if (!udp_datagram(w, i))
                continue;
            struct mmsghdr *r = &w->udp_replies[nreply];
            memset(&r->msg_hdr, 0, sizeof(r->msg_hdr));
            w->udp_reply_iov[nreply].iov_base = (void *)pong;
            w->udp_reply_iov[nreply].iov_len = sizeof(pong) - 1;
            r->msg_hdr.msg_iov = &w->udp_reply_iov[nreply];
            r->msg_hdr.msg_iovlen = 1;
            r->msg_hdr.msg_name = &w->udp_peers[i];
            r->msg_hdr.msg_namelen = w->udp_msgs[i].msg_hdr.msg_namelen;
            nreply++;
        }
        if (nreply)
            (void)sendmmsg(fd, w->udp_replies, (unsigned)nreply, MSG_DONTWAIT);
        if (n < HBD_UDP_BATCH)
            return;
    }
}

/* ---- lifecycle ---- */

/* The backend is set up on the worker's own thread (an io_uring ring with a single issuer
 * must be); hbd_worker_start() waits for the outcome. */
static void *
run(void *arg)
{
    struct hbd_worker *w = arg;

    gw_metrics_bind_thread(w->h->m.reg, w->index);
    w->start_rc = w->io->start(w, w->start_err);
    /* The probe passed, yet this ring could not be made (memory, a limit): with io = auto
     * the worker still serves, on epoll. */
    if (w->start_rc == -1 && w->io != &hbd_io_epoll && w->h->io_auto) {
        GW_LOG_WARN("io_uring failed on this worker, using epoll", "worker=%u err=%s", w->index,
                    w->start_err);
        w->io = &hbd_io_epoll;
        w->start_rc = w->io->start(w, w->start_err);
    }
    sem_post(&w->started);
    if (w->start_rc == 0)
        w->io->run(w);
    return NULL;
}

static void
worker_free(struct hbd_worker *w)
{
    while (w->conns) {
        struct conn *c = w->conns;
        w->conns = c->next;
        close(c->fd);
        hbd_conn_free(c);
    }
    gw_listener_stop(w->listener);
    if (w->ufd >= 0)
        close(w->ufd);
    if (w->ev)
        gw_ev_free(w->ev);
    gw_buf_reset(&w->obuf);
    sem_destroy(&w->started);
    free(w->rbuf);
    free(w->udp_bufs);
    free(w);
}

static int
start_listener(struct hbd_worker *w, char *err)
{
    struct gw_listener_opts o = {.on_accept = on_accept,
                                 .on_error = on_accept_error,
                                 .arg = w,
                                 .budget = ACCEPTS_PER_EVENT,
                                 .own_fd = 1};
    int fd = gw_net_listen_tcp(&w->h->listen_addr, 1024, 1, err);

    if (fd == -1)
        return -1;
    if ((w->listener = gw_listener_new(w->ev, fd, &o, err)) == NULL) {
        close(fd);
        return -1;
    }
    return 0;
}

struct hbd_worker *
hbd_worker_start(struct hbd *h, unsigned index, char *err)
{
    const struct hbd_config *cfg = hbd_cfg(h);
    struct hbd_worker *w = calloc(1, sizeof(*w));
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (!w) {
        gw_err(err, "out of memory");
        return NULL;
    }
    w->h = h;
    w->io = h->io;
    w->index = index;
    w->ufd = -1;
    sem_init(&w->started, 0, 0);
    gw_buf_init(&w->obuf, 64 * 1024 * 1024);
    w->udp_max = cfg->max_line_bytes + 3;
    if ((w->rbuf = malloc(HBD_READ_BYTES)) == NULL ||
        (w->udp_bufs = malloc(w->udp_max * HBD_UDP_BATCH)) == NULL) {
        gw_err(err, "out of memory");
        goto fail;
    }
    if ((w->ev = gw_ev_new(err)) == NULL)
        goto fail;
    if (start_listener(w, err) == -1)
        goto fail;
    if (h->udp) {
        if ((w->ufd = gw_net_bind_udp(&h->listen_addr, 1, err)) == -1)
            goto fail;
        udp_setup(w);
        if (gw_ev_add(w->ev, w->ufd, GW_EV_READ, on_udp, w, err) == -1)
            goto fail;
        if (getsockname(w->ufd, (struct sockaddr *)&ss, &len) == 0)
            gw_net_addr_str((struct sockaddr *)&ss, len, w->udp_addr, sizeof(w->udp_addr));
    }
    gw_ev_timer_init(&w->idle_timer, on_idle_timer, w);
    gw_ev_timer_init(&w->linger_timer, on_linger_timer, w);
    gw_ev_timer_start(w->ev, &w->idle_timer, cfg->cleanup_interval_ms);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        gw_err(err, "cannot start worker thread");
        goto fail;
    }
    while (sem_wait(&w->started) == -1 && errno == EINTR)
        ;
    if (w->start_rc == -1) {
        gw_err(err, "%s: %s", w->io->name, w->start_err);
        pthread_join(w->thread, NULL);
        goto fail;
    }
    return w;
fail:
    worker_free(w);
    return NULL;
}

/* "auto" takes io_uring where this kernel (and its seccomp filter, and
 * kernel.io_uring_disabled) lets us use it, else epoll; "uring" insists. */
const struct hbd_io *
hbd_io_select(const char *want)
{
    char why[GW_ERR_LEN];

    if (strcmp(want, "epoll") == 0)
        return &hbd_io_epoll;
    if (hbd_uring_probe(why, sizeof(why)) == 0)
        return &hbd_io_uring;
    if (strcmp(want, "uring") == 0) {
        GW_LOG_ERROR("io_uring cannot be used here (set [hbd] io = auto or epoll)", "err=%s", why);
        return NULL;
    }
    GW_LOG_INFO("io_uring cannot be used here, using epoll", "reason=%s", why);
    return &hbd_io_epoll;
}

const char *
hbd_io_in_use(const struct hbd *h)
{
    unsigned uring = 0;

    for (unsigned i = 0; i < h->nworkers; i++)
        if (h->workers && h->workers[i] && h->workers[i]->io == &hbd_io_uring)
            uring++;
    if (uring == 0)
        return hbd_io_epoll.name;
    return uring == h->nworkers ? hbd_io_uring.name : "io_uring+epoll";
}

const char *
hbd_worker_udp_addr(struct hbd_worker *w)
{
    return w->udp_addr;
}

static void
drain_worker(struct gw_ev *ev, void *arg)
{
    struct hbd_worker *w = arg;

    w->draining = 1;
    gw_listener_stop(w->listener);
    w->listener = NULL;
    if (w->ufd >= 0) {
        gw_ev_del(ev, w->ufd);
        close(w->ufd);
        w->ufd = -1;
    }
    /* Clients reconnect elsewhere; those with replies still queued get them first. */
    for (struct conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (!hbd_conn_pending(c))
            hbd_conn_close(c, "draining");
        else {
            c->closing = 1;
            w->io->flush(c);
        }
    }
}

void
hbd_workers_drain(struct hbd *h)
{
    for (unsigned i = 0; i < h->nworkers; i++)
        gw_ev_post(h->workers[i]->ev, drain_worker, h->workers[i]);
}

static void
stop_worker(struct gw_ev *ev, void *arg)
{
    ((struct hbd_worker *)arg)->stop = 1;
    gw_ev_stop(ev);
}

void
hbd_worker_join(struct hbd_worker *w)
{
    gw_ev_post(w->ev, stop_worker, w);
    pthread_join(w->thread, NULL);
    worker_free(w);
}

/* ---- `clients`: each worker lists its own connections on its own thread ---- */

struct clients_job {
    struct hbd *h;
    struct gw_ctl_req *req;
    json_t *list;
    unsigned pending;
};

struct clients_part {
    struct clients_job *job;
    struct hbd_worker *w;
    json_t *list;
};

static void
clients_collected(struct gw_ev *ev, void *arg)
{
    struct clients_part *part = arg;
    struct clients_job *job = part->job;

    (void)ev;
    json_array_extend(job->list, part->list);
    json_decref(part->list);
    free(part);
    if (--job->pending > 0)
        return;
    gw_ctl_reply(job->req, json_pack("{s:o}", "clients", job->list));
    free(job);
}

static void
clients_list(struct gw_ev *ev, void *arg)
{
    struct clients_part *part = arg;
    struct hbd_worker *w = part->w;
    uint64_t now = gw_ev_now_ms(ev);

    part->list = json_array();
    for (struct conn *c = w->conns; c; c = c->next)
        json_array_append_new(
            part->list, json_pack("{s:I, s:s, s:i, s:I, s:I, s:I, s:I}", "id", (json_int_t)c->id,
                                  "addr", c->addr, "worker", (int)w->index, "connected_s",
                                  (json_int_t)((now - c->connected_ms) / 1000), "idle_s",
                                  (json_int_t)((now - c->last_ms) / 1000), "messages",
                                  (json_int_t)c->msgs, "bytes_in", (json_int_t)c->bytes_in));
    gw_ev_post(gw_daemon_ev(w->h->daemon), clients_collected, part);
}

void
hbd_workers_clients(struct hbd *h, struct gw_ctl_req *r)
{
    struct clients_job *job = calloc(1, sizeof(*job));

    if (!job) {
        gw_ctl_error(r, "failed", "out of memory");
        return;
    }
    job->h = h;
    job->req = r;
    job->list = json_array();
    job->pending = h->nworkers;
    for (unsigned i = 0; i < h->nworkers; i++) {
        struct clients_part *part = calloc(1, sizeof(*part));
        if (!part) {
            /* Counted as answered empty so the reply still comes. */
            job->pending--;
            continue;
        }
        part->job = job;
        part->w = h->workers[i];
        gw_ev_post(h->workers[i]->ev, clients_list, part);
    }
    if (job->pending == 0) {
        gw_ctl_reply(r, json_pack("{s:o}", "clients", job->list));
        free(job);
    }
}
