/*
 * server.c -- hbd's network side on lib/worker: the request/reply protocol over TCP (lines,
 * replies ending as the request did), UDP datagrams, and the `clients` listing.
 *
 * Threads, connections, buffers, limits, the lingering close and the io_uring/epoll backends
 * are lib/worker's and lib/conn's; each worker also owns a UDP socket bound with SO_REUSEPORT,
 * so a PING takes no lock on either path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "line.h"
#include "log.h"
#include "udp.h"
#include "worker.h"

#include "hbd.h"

#define ACCEPT_LOG_MS 10000
#define UDP_ROUNDS 4
#define CLIENTS_TIMEOUT_MS 2000

/* A worker's own: its UDP socket and the limits its connections read. */
struct hbd_wstate {
    struct hbd *h;
    unsigned index;
    int ufd;
    struct gw_udp_batch *udp;
    size_t udp_max;
    uint32_t udp_dropped; /* the socket's drop count already counted */
    uint64_t accept_logged_ms;
    const struct hbd_config *limits_of; /* the snapshot limits was filled from */
    struct gw_conn_limits limits;
};

static struct hbd_wstate *
wstate(struct gw_conn *c)
{
    return gw_worker_data(gw_worker_of(gw_conn_loop_of(c)));
}

/* A connection's own: what its AUTH granted, and how its requests end. Kept small (a 32-byte
 * malloc chunk): it is most of hbd's memory per idle connection after lib/conn's. Its source
 * (the address without the port) is cut from gw_conn_addr() again when needed. */
struct hbd_client {
    char *glob;      /* the services its token covers; NULL: any */
    uint8_t counted; /* in h->sources */
    uint8_t authed;
    uint8_t crlf; /* how its last request ended: replies without a request of their own (ERR line
                     too long) end the same way; CRLF before the first */
};

static struct hbd *
conn_hbd(struct gw_conn *c)
{
    return wstate(c)->h;
}

/* With auth_tokens_file set, may this HB go in? token= on the line wins over the connection's
 * AUTH (cl NULL: a datagram). */
static int
hb_allowed(const struct hbd_config *cfg, const struct hbd_client *cl, const struct hbd_req *req)
{
    const struct hbd_token *t;

    if (!cfg->auth_tokens_file[0])
        return 1;
    if (req->token)
        return (t = hbd_tokens_find(&cfg->tokens, req->token)) != NULL &&
               hbd_token_allows(t->glob, req->service);
    return cl && cl->authed && hbd_token_allows(cl->glob, req->service);
}

/* ---- requests ---- */

/* One request's context while its batch of lines is handled. */
struct batch {
    struct gw_conn *c;
    struct hbd *h;
};

static void
reply(struct gw_conn *c, const char *text, size_t len, int crlf)
{
    char *p = gw_conn_reserve(c, len + 2);

    if (!p)
        return; /* closed: out of memory */
    memcpy(p, text, len);
    if (crlf) {
        p[len] = '\r';
        p[len + 1] = '\n';
        gw_conn_commit(c, len + 2);
    } else {
        p[len] = '\n';
        gw_conn_commit(c, len + 1);
    }
}

static void
reply_err(struct gw_conn *c, const char *why, int crlf)
{
    char line[160];
    int n = snprintf(line, sizeof(line), "ERR %s", why);

    reply(c, line, (size_t)n, crlf);
}

/* Handles one complete line (without its ending); returns 0, or -1 when the connection must
 * close after its replies (QUIT). */
static int
request(void *arg, char *line, size_t len, int crlf)
{
    struct batch *b = arg;
    struct gw_conn *c = b->c;
    struct hbd *h = b->h;
    struct hbd_client *cl = gw_conn_user(c);
    const struct hbd_config *cfg = hbd_cfg(h);
    const struct hbd_token *tok;
    struct hbd_req req;
    enum hbd_err why;
    char text[512];
    uint64_t seq;
    int n;

    cl->crlf = (uint8_t)crlf;
    hbd_proto_parse(line, len, &req);
    if (req.kind == HBD_REQ_EMPTY)
        return 0;
    /* Counted before it is handled, so a STATUS reply includes itself. */
    gw_metrics_add(h->m.reg, h->m.msgs_tcp, 1);
    gw_conn_touch(c);
    switch (req.kind) {
    case HBD_REQ_EMPTY:
        return 0;
    case HBD_REQ_PING:
        reply(c, "PONG", 4, crlf);
        break;
    case HBD_REQ_AUTH:
        if (!cfg->auth_tokens_file[0]) {
            hbd_count_error(h, HBD_ERR_BAD_REQUEST);
            reply_err(c, "auth not enabled", crlf);
        } else if ((tok = hbd_tokens_find(&cfg->tokens, req.token)) == NULL) {
            hbd_count_error(h, HBD_ERR_AUTH);
            reply_err(c, hbd_errs[HBD_ERR_AUTH].reply, crlf);
        } else {
            free(cl->glob);
            cl->glob = tok->glob ? strdup(tok->glob) : NULL;
            cl->authed = !tok->glob || cl->glob; /* out of memory: not authed */
            reply(c, cl->authed ? "OK" : "ERR out of memory", cl->authed ? 2 : 17, crlf);
        }
        break;
    case HBD_REQ_HB:
        if (!hb_allowed(cfg, cl, &req)) {
            hbd_count_error(h, HBD_ERR_AUTH);
            reply_err(c, hbd_errs[HBD_ERR_AUTH].reply, crlf);
            break;
        }
        if ((seq = hbd_registry_beat(h->reg, &req, gw_conn_addr(c), &why)) == 0) {
            hbd_count_error(h, why);
            reply_err(c, hbd_errs[why].reply, crlf);
            break;
        }
        n = snprintf(text, sizeof(text), "OK %llu", (unsigned long long)seq);
        reply(c, text, (size_t)n, crlf);
        break;
    case HBD_REQ_STATUS:
        if (cfg->auth_tokens_file[0] && !cl->authed) {
            hbd_count_error(h, HBD_ERR_AUTH);
            reply_err(c, hbd_errs[HBD_ERR_AUTH].reply, crlf);
            break;
        }
        hbd_status_line(h, text, sizeof(text));
        reply(c, text, strlen(text), crlf);
        break;
    case HBD_REQ_QUIT:
        reply(c, "BYE", 3, crlf);
        return -1;
    case HBD_REQ_ERROR:
        hbd_count_error(h, req.error_kind);
        reply_err(c, req.error, crlf);
        break;
    }
    return gw_conn_closed(c) ? -1 : 0;
}

static size_t
on_data(struct gw_conn *c, char *data, size_t len)
{
    struct hbd *h = conn_hbd(c);
    struct batch b = {c, h};
    enum gw_line_status st;
    uint64_t t0 = gw_mono_ns();
    size_t used = gw_line_split(data, len, hbd_cfg(h)->max_line_bytes, request, &b, &st);

    if (st == GW_LINE_TOO_LONG && !gw_conn_closed(c)) {
        hbd_count_error(h, HBD_ERR_LINE_TOO_LONG);
        reply_err(c, hbd_errs[HBD_ERR_LINE_TOO_LONG].reply,
                  ((struct hbd_client *)gw_conn_user(c))->crlf);
        GW_LOG_DEBUG("line too long", "id=%llu addr=%s", (unsigned long long)gw_conn_id(c),
                     gw_conn_addr(c));
    }
    if (st != GW_LINE_MORE)
        gw_conn_finish(c);
    gw_metrics_observe(h->m.reg, h->m.processing, (double)(gw_mono_ns() - t0) / 1e9);
    return used;
}

static void
on_received(struct gw_conn *c, size_t n)
{
    struct hbd *h = conn_hbd(c);

    gw_metrics_add(h->m.reg, h->m.bytes_received, n);
}

/* Read at each batch: refilled when a reload has published another snapshot. */
static const struct gw_conn_limits *
limits(struct gw_conn *c)
{
    struct hbd_wstate *ws = wstate(c);
    const struct hbd_config *cfg = hbd_cfg(ws->h);

    if (cfg != ws->limits_of) {
        ws->limits_of = cfg;
        ws->limits.max_in = GW_LINE_MAX_IN(cfg->max_line_bytes);
        ws->limits.max_out = cfg->max_output_bytes;
        ws->limits.idle_ms = cfg->client_timeout_ms;
    }
    return &ws->limits;
}

static void
on_open(struct gw_conn *c)
{
    struct hbd_wstate *ws = wstate(c);
    struct hbd *h = ws->h;
    struct hbd_client *cl = calloc(1, sizeof(*cl));
    char ip[48];
    int rc;

    gw_metrics_add(h->m.reg, h->m.active_connections, 1);
    gw_metrics_add(h->m.reg, h->m.clients_connected, 1);
    GW_LOG_DEBUG("connection accepted", "id=%llu addr=%s worker=%u",
                 (unsigned long long)gw_conn_id(c), gw_conn_addr(c), ws->index);
    if (!cl) {
        gw_conn_close(c, GW_CONN_OUT_OF_MEMORY);
        return;
    }
    cl->crlf = 1;
    gw_conn_set_user(c, cl);
    gw_net_addr_host(gw_conn_addr(c), ip, sizeof(ip));
    if ((rc = hbd_sources_open(h->sources, ip, hbd_cfg(h)->max_clients_per_ip)) == -1) {
        hbd_count_error(h, HBD_ERR_TOO_MANY_CLIENTS_PER_IP);
        reply_err(c, hbd_errs[HBD_ERR_TOO_MANY_CLIENTS_PER_IP].reply, 1);
        gw_conn_finish(c);
        return;
    }
    cl->counted = rc == 0;
}

static void
on_close(struct gw_conn *c, const char *reason)
{
    struct hbd *h = conn_hbd(c);
    struct hbd_client *cl = gw_conn_user(c) == (void *)h ? NULL : gw_conn_user(c);
    struct gw_conn_stats st;
    char ip[48];

    if (cl && cl->counted) {
        gw_net_addr_host(gw_conn_addr(c), ip, sizeof(ip));
        hbd_sources_close(h->sources, ip);
    }

    if (strcmp(reason, GW_CONN_IDLE) == 0)
        gw_metrics_add(h->m.reg, h->m.closed_idle, 1);
    else if (strcmp(reason, GW_CONN_OUTPUT_FULL) == 0)
        hbd_count_error(h, HBD_ERR_OUTPUT_OVERFLOW);
    gw_metrics_sub(h->m.reg, h->m.active_connections, 1);
    gw_conn_stats(c, &st);
    GW_LOG_DEBUG("connection closed", "id=%llu addr=%s reason=%s msgs=%llu",
                 (unsigned long long)gw_conn_id(c), gw_conn_addr(c), reason,
                 (unsigned long long)st.msgs);
    if (cl) {
        free(cl->glob);
        free(cl);
        gw_conn_set_user(c, h);
    }
}

static const struct gw_conn_proto hbd_tcp = {
    .name = "hbd",
    .limits = limits,
    .on_open = on_open,
    .on_received = on_received,
    .on_data = on_data,
    .on_close = on_close,
};

/* ---- accept ---- */

static void
on_refuse(struct gw_worker *w, int fd, void *arg)
{
    struct hbd *h = arg;

    (void)w;
    hbd_count_error(h, HBD_ERR_TOO_MANY_CLIENTS);
    (void)!write(fd, "ERR too many clients\r\n", 22);
}

/* The listener has already paused itself when descriptors ran out; this only counts and logs. */
static void
on_accept_error(struct gw_worker *w, enum gw_listener_error what, int errnum, void *arg)
{
    struct hbd *h = arg;
    struct hbd_wstate *ws = gw_worker_data(w);
    uint64_t now = gw_ev_now_ms(gw_worker_ev(w));

    if (what == GW_LISTENER_ERR_RESUME) {
        GW_LOG_ERROR("cannot resume accepting", "worker=%u err=%s", gw_worker_index(w),
                     strerror(errnum));
        return;
    }
    hbd_count_error(h, HBD_ERR_ACCEPT);
    /* Once per episode, not ten times a second while descriptors stay short. */
    if (!ws || now - ws->accept_logged_ms >= ACCEPT_LOG_MS || !ws->accept_logged_ms) {
        GW_LOG_WARN("accept failed", "worker=%u err=%s", gw_worker_index(w), strerror(errnum));
        if (ws)
            ws->accept_logged_ms = now;
    }
}

static void
on_notice(struct gw_worker *w, const char *msg, void *arg)
{
    (void)arg;
    GW_LOG_WARN(msg, "worker=%u", gw_worker_index(w));
}

static void
on_adopt_error(struct gw_worker *w, const char *err, void *arg)
{
    (void)w;
    (void)arg;
    GW_LOG_WARN("cannot watch connection", "err=%s", err);
}

/* ---- UDP ---- */

/* Handles one datagram; returns 1 when it asks for a PONG. */
static int
udp_datagram(struct hbd_wstate *ws, int i)
{
    struct hbd *h = ws->h;
    size_t len;
    int trunc;
    char *data = gw_udp_data(ws->udp, i, &len, &trunc), addr[48];
    struct hbd_req req;
    enum hbd_err why;
    socklen_t plen;
    const struct sockaddr *peer;

    gw_metrics_add(h->m.reg, h->m.bytes_received, len);
    if (len && data[len - 1] == '\n')
        len--;
    if (len && data[len - 1] == '\r')
        len--;
    if (trunc || len > ws->udp_max - 3) {
        hbd_count_error(h, HBD_ERR_UDP_TOO_LONG);
        return 0;
    }
    hbd_proto_parse(data, len, &req);
    gw_metrics_add(h->m.reg, h->m.msgs_udp, 1);
    if (req.kind == HBD_REQ_PING)
        return 1;
    if (req.kind == HBD_REQ_HB) {
        if (!hb_allowed(hbd_cfg(h), NULL, &req)) {
            hbd_count_error(h, HBD_ERR_AUTH);
            return 0;
        }
        peer = gw_udp_peer(ws->udp, i, &plen);
        gw_net_addr_str(peer, plen, addr, sizeof(addr));
        if (hbd_registry_beat(h->reg, &req, addr, &why) == 0)
            hbd_count_error(h, why);
        return 0;
    }
    /* No error replies over UDP: a forged source address must not earn anyone traffic. */
    hbd_count_error(h, req.kind == HBD_REQ_ERROR && req.error_kind == HBD_ERR_INVALID_UTF8
                           ? HBD_ERR_INVALID_UTF8
                           : HBD_ERR_UDP_BAD);
    return 0;
}

static void
on_udp(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    static const char pong[] = "PONG\n";
    struct hbd_wstate *ws = arg;
    int n;

    (void)ev;
    (void)events;
    for (int round = 0; round < UDP_ROUNDS; round++) {
        if ((n = gw_udp_recv(ws->udp, fd)) <= 0)
            return;
        if (gw_udp_dropped(ws->udp) != ws->udp_dropped) {
            gw_metrics_add(ws->h->m.reg, ws->h->m.udp_dropped,
                           (uint32_t)(gw_udp_dropped(ws->udp) - ws->udp_dropped));
            ws->udp_dropped = gw_udp_dropped(ws->udp);
        }
        for (int i = 0; i < n; i++)
            if (udp_datagram(ws, i))
                gw_udp_reply(ws->udp, i, pong, sizeof(pong) - 1);
        (void)gw_udp_send(ws->udp, fd);
        if (n < GW_UDP_BATCH)
            return;
    }
}

static void
udp_close(struct gw_worker *w, struct hbd_wstate *ws)
{
    if (ws->ufd >= 0) {
        gw_ev_del(gw_worker_ev(w), ws->ufd);
        close(ws->ufd);
        ws->ufd = -1;
    }
}

/* ---- worker hooks ---- */

static int
worker_start(struct gw_worker *w, void *arg, char *err)
{
    struct hbd *h = arg;
    struct hbd_wstate *ws = calloc(1, sizeof(*ws));
    char why[GW_ERR_LEN];
    size_t got;

    if (!ws)
        return gw_err(err, "out of memory");
    ws->h = h;
    ws->index = gw_worker_index(w);
    ws->ufd = -1;
    gw_worker_set_data(w, ws);
    gw_metrics_bind_thread(h->m.reg, ws->index);
    if (!h->udp)
        return 0;
    ws->udp_max = hbd_cfg(h)->max_line_bytes + 3;
    if ((ws->udp = gw_udp_batch_new(ws->udp_max, err)) == NULL)
        return -1;
    if ((ws->ufd = gw_net_bind_udp(&h->listen_addr, 1, err)) == -1)
        return -1;
    if (gw_udp_count_drops(ws->ufd, why) == -1)
        GW_LOG_WARN("kernel UDP drops will not be counted", "err=%s", why);
    if (hbd_cfg(h)->udp_rcvbuf) {
        if (gw_udp_set_rcvbuf(ws->ufd, hbd_cfg(h)->udp_rcvbuf, &got, err) == -1)
            return -1;
        if (ws->index == 0)
            GW_LOG_INFO("udp receive buffer", "udp_rcvbuf=%zu kernel=%zu", hbd_cfg(h)->udp_rcvbuf,
                        got);
    }
    return gw_ev_add(gw_worker_ev(w), ws->ufd, GW_EV_READ, on_udp, ws, err);
}

static void
worker_drain(struct gw_worker *w, void *arg)
{
    struct hbd_wstate *ws = gw_worker_data(w);

    (void)arg;
    if (ws)
        udp_close(w, ws);
}

static void
worker_stop(struct gw_worker *w, void *arg)
{
    struct hbd_wstate *ws = gw_worker_data(w);

    (void)arg;
    if (!ws)
        return;
    udp_close(w, ws);
    gw_udp_batch_free(ws->udp);
    free(ws);
    gw_worker_set_data(w, NULL);
}

/* ---- lifecycle ---- */

int
hbd_server_start(struct hbd *h)
{
    struct gw_worker_opts o = {
        .count = h->nworkers,
        .io = h->io,
        .listen = &h->listen_addr,
        .backlog = 1024,
        .max_conns = hbd_cfg(h)->max_clients,
        .proto = &hbd_tcp,
        .arg = h,
        .on_start = worker_start,
        .on_drain = worker_drain,
        .on_stop = worker_stop,
        .on_refuse = on_refuse,
        .on_accept_error = on_accept_error,
        .on_adopt_error = on_adopt_error,
        .on_notice = on_notice,
    };
    char err[GW_ERR_LEN];
    unsigned failed;

    if ((h->workers = gw_workers_start(&o, &failed, err)) == NULL) {
        GW_LOG_ERROR("cannot start worker", "worker=%u addr=%s err=%s", failed, h->listen_str, err);
        return -1;
    }
    atomic_store_explicit(&h->workers_any, h->workers, memory_order_release);
    for (unsigned i = 0; i < h->nworkers; i++) {
        const char *why = gw_worker_fallback(gw_workers_get(h->workers, i));
        if (why)
            GW_LOG_WARN("io_uring failed on this worker, using epoll", "worker=%u err=%s", i, why);
    }
    return 0;
}

/* "auto" takes io_uring where this kernel (and its seccomp filter, and
 * kernel.io_uring_disabled) lets us use it, else epoll; "uring" insists. */
int
hbd_io_select(const char *want)
{
    char why[GW_ERR_LEN];

    if (strcmp(want, "epoll") == 0)
        return GW_CONN_IO_EPOLL;
    if (gw_conn_uring_probe(why) == 0)
        return strcmp(want, "uring") == 0 ? GW_CONN_IO_URING : GW_CONN_IO_AUTO;
    if (strcmp(want, "uring") == 0) {
        GW_LOG_ERROR("io_uring cannot be used here (set [hbd] io = auto or epoll)", "err=%s", why);
        return -1;
    }
    GW_LOG_INFO("io_uring cannot be used here, using epoll", "reason=%s", why);
    return GW_CONN_IO_EPOLL;
}

const char *
hbd_io_in_use(const struct hbd *h)
{
    struct gw_workers *ws = atomic_load_explicit(&h->workers_any, memory_order_acquire);

    return ws ? gw_workers_backend(ws) : "epoll";
}

unsigned
hbd_conns(const struct hbd *h)
{
    struct gw_workers *ws = atomic_load_explicit(&h->workers_any, memory_order_acquire);

    return ws ? gw_workers_conns(ws) : 0;
}

void
hbd_server_drain(struct hbd *h)
{
    if (h->workers)
        gw_workers_drain(h->workers);
}

void
hbd_server_stop(struct hbd *h)
{
    atomic_store(&h->workers_any, NULL);
    gw_workers_stop(h->workers);
    h->workers = NULL;
}

void
hbd_server_reloaded(struct hbd *h)
{
    if (h->workers)
        gw_workers_set_max_conns(h->workers, hbd_cfg(h)->max_clients);
}

/* ---- `clients`: each worker lists its own connections on its own thread ---- */

static void
list_one(struct gw_conn *c, void *arg)
{
    struct gw_conn_stats st;
    struct hbd_wstate *ws = wstate(c);

    gw_conn_stats(c, &st);
    json_array_append_new(arg, json_pack("{s:I, s:s, s:i, s:I, s:I, s:I, s:I}", "id",
                                         (json_int_t)gw_conn_id(c), "addr", gw_conn_addr(c),
                                         "worker", (int)ws->index, "connected_s",
                                         (json_int_t)(st.connected_ms / 1000), "idle_s",
                                         (json_int_t)(st.idle_ms / 1000), "messages",
                                         (json_int_t)st.msgs, "bytes_in", (json_int_t)st.bytes_in));
}

static void *
clients_ask(struct gw_worker *w, void *arg)
{
    json_t *list = json_array();

    (void)arg;
    if (list)
        gw_conn_loop_each(gw_worker_loop(w), list_one, list);
    return list;
}

static void
clients_done(void **parts, unsigned n, void *arg)
{
    json_t *list = json_array();

    for (unsigned i = 0; i < n; i++) {
        if (parts[i] && list)
            json_array_extend(list, parts[i]);
        json_decref(parts[i]);
    }
    gw_ctl_reply(arg, json_pack("{s:o}", "clients", list));
}

static void
free_part(void *part)
{
    json_decref(part);
}

void
hbd_clients(struct hbd *h, struct gw_ctl_req *r)
{
    char err[GW_ERR_LEN];

    if (gw_workers_ask(h->workers, gw_daemon_ev(h->daemon), CLIENTS_TIMEOUT_MS, clients_ask,
                       clients_done, free_part, r, err) == -1)
        gw_ctl_error(r, "failed", "%s", err);
}
