/*
 * backend.c -- framed backend links: each worker keeps one connection to every framed backend
 * and multiplexes its clients over it with the frame protocol of lib/frame.h. HELLO first,
 * then OPEN/DATA/CLOSE per client and PING/PONG for the link. Every frame from the backend is
 * checked; a bad one drops the link (counted) and its clients get 1011, never the gateway.
 * A link that is down reconnects with exponential backoff and full jitter (lib/backoff).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "conn.h"
#include "log.h"
#include "wshttp.h"
#include "wsgwd.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
/* A link whose backend does not read: past this much queued output it is dropped. */
#define LINK_MAX_OUT (256u * 1024 * 1024)

static void link_connect(struct wsgw_link *l);

static struct wsgw_config *
cfg_of(struct wsgw_link *l)
{
    return wsgw_cfg(l->wk->w);
}

static void
count(struct wsgw_link *l, int series, uint64_t n)
{
    gw_metrics_add(l->wk->w->m.reg, series, n);
}

/* Closes every client of this worker bound to l with code. */
static void
close_clients(struct wsgw_link *l, unsigned code, const char *reason)
{
    for (struct wsgw_client *cl = l->wk->conns, *next; cl; cl = next) {
        next = cl->next;
        if (wsgw_client_on_link(cl, l)) {
            /* Not told on this link; a fan-out client's other backends are told. */
            wsgw_client_unlink(cl, l);
            wsgw_client_close(cl, code, reason, !cl->fan);
        }
    }
}

static void
schedule_reconnect(struct wsgw_link *l)
{
    if (l->wk->stopping)
        return;
    gw_ev_timer_start(l->wk->ev, &l->timer, gw_backoff_next(&l->backoff));
}

/* A bad frame or a protocol error from the backend: drop the link. */
static void
drop(struct wsgw_link *l, const char *kind, const char *detail)
{
    GW_LOG_WARN("backend link dropped", "backend=%s worker=%u kind=%s err=%s", l->b->name,
                l->wk->index, kind, detail);
    count(l, l->b->m_dropped, 1);
    gw_conn_close(l->c, kind);
}

static int
send_buf(struct wsgw_link *l, struct gw_buf *b)
{
    int rc = gw_conn_write(l->c, gw_buf_data(b), gw_buf_len(b));

    gw_buf_consume(b, gw_buf_len(b));
    count(l, l->b->m_frames_out, 1);
    return rc;
}

int
wsgw_link_open(struct wsgw_link *l, struct wsgw_client *cl, const char *query,
               const char *subprotocol, json_t *claims)
{
    struct gw_buf *b = &l->wk->scratch;
    struct gw_frame_open o = {cl->id, gw_conn_addr(cl->c), cl->req->path,
                              query,  subprotocol,         claims};
    char err[GW_ERR_LEN];

    if (l->state != WSGW_LINK_UP)
        return -1;
    if (gw_frame_append_open(b, l->b->id, &o, err) == -1) {
        GW_LOG_WARN("cannot encode OPEN", "client=%u err=%s", cl->id, err);
        gw_buf_consume(b, gw_buf_len(b));
        return -1;
    }
    return send_buf(l, b);
}

int
wsgw_link_data(struct wsgw_link *l, uint32_t client, int every_backend, int text, const void *data,
               size_t len)
{
    struct gw_frame_hdr h = {(uint32_t)len,   client,           every_backend ? 0 : l->b->id,
                             GW_FRAME_DATA,   GW_FRAME_CONTROL, text ? GW_FRAME_FLAG_TEXT : 0,
                             GW_FRAME_VERSION};
    uint8_t hdr[GW_FRAME_HDR_LEN];

    if (l->state != WSGW_LINK_UP || len > UINT32_MAX)
        return -1;
    gw_frame_hdr_encode(&h, hdr);
    if (gw_conn_write(l->c, hdr, sizeof(hdr)) == -1 || gw_conn_write(l->c, data, len) == -1)
        return -1;
    count(l, l->b->m_frames_out, 1);
    return 0;
}

void
wsgw_link_close_client(struct wsgw_link *l, uint32_t client, unsigned code)
{
    struct gw_buf *b = &l->wk->scratch;
    char err[GW_ERR_LEN];

    if (l->state != WSGW_LINK_UP)
        return;
    /* 1005 and 1006 stand for "no code" and "no close frame": a CLOSE may carry 1006 for the
     * backend's information only when the codec takes it; else no code at all. */
    if (gw_frame_append_close(b, client, l->b->id, code, NULL, err) == -1 &&
        gw_frame_append_close(b, client, l->b->id, 0, NULL, err) == -1)
        return;
    send_buf(l, b);
}

/* ---- frames from the backend ---- */

static void
on_hello(struct wsgw_link *l, const struct gw_frame *f)
{
    struct gw_frame_hello h;
    struct gw_buf *b = &l->wk->scratch;
    char err[GW_ERR_LEN];
    enum gw_frame_error e = gw_frame_hello_parse(f->payload, f->hdr.length, &h, err);

    if (e == GW_FRAME_E_HELLO_VERSION) {
        if (gw_frame_append_close(b, 0, l->b->id, 1002, err, err) == 0)
            send_buf(l, b);
        GW_LOG_WARN("backend refused", "backend=%s err=%s", l->b->name, err);
        count(l, l->b->m_dropped, 1);
        gw_conn_finish(l->c);
        l->state = WSGW_LINK_CONNECTING;
        return;
    }
    if (e != GW_FRAME_OK) {
        drop(l, gw_frame_error_name(e), err);
        return;
    }
    l->state = WSGW_LINK_UP;
    gw_backoff_reset(&l->backoff);
    atomic_fetch_add(&l->b->links_up, 1);
    atomic_store(&l->b->down, 0);
    GW_LOG_INFO("backend link up", "backend=%s worker=%u addr=%s peer=%s", l->b->name, l->wk->index,
                l->b->addr_str, h.backend);
}

/* DATA to one client or, with client 0, to every client this backend has on the worker: a
 * backend broadcasts to the whole gateway by sending on each of its links, and never reaches
 * the clients of another backend. */
static void
on_data_frame(struct wsgw_link *l, const struct gw_frame *f)
{
    int text = f->hdr.flags & GW_FRAME_FLAG_TEXT;
    struct wsgw_client *cl;

    if (f->hdr.client == 0) {
        for (cl = l->wk->conns; cl; cl = cl->next)
            if (cl->state == WSGW_OPEN && wsgw_client_on_link(cl, l))
                wsgw_client_send(cl, text, f->payload, f->hdr.length);
        return;
    }
    cl = wsgw_client_find(l->wk, f->hdr.client);
    if (cl && wsgw_client_on_link(cl, l)) {
        wsgw_client_send(cl, text, f->payload, f->hdr.length);
        return;
    }
    /* A client that left may still get frames the backend sent before it heard of it: ids this
     * gateway gave out are dropped quietly, others are a backend's mistake. */
    if (f->hdr.client > atomic_load(&l->wk->w->client_ids))
        drop(l, "unknown_client", "DATA for a client this gateway never had");
}

static void
on_close_frame(struct wsgw_link *l, const struct gw_frame *f)
{
    char reason[GW_FRAME_CLOSE_REASON_MAX + 1];
    struct wsgw_client *cl;
    unsigned code;

    gw_frame_close_parse(f, &code, reason);
    if (f->hdr.client == 0) {
        GW_LOG_WARN("backend closed the link", "backend=%s code=%u reason=%s", l->b->name, code,
                    reason);
        gw_conn_finish(l->c);
        l->state = WSGW_LINK_CONNECTING;
        atomic_fetch_sub(&l->b->links_up, 1);
        close_clients(l, WSGW_CLOSE_INTERNAL, "backend closed");
        return;
    }
    cl = wsgw_client_find(l->wk, f->hdr.client);
    if (cl && wsgw_client_on_link(cl, l)) {
        /* This backend knows; a fan-out client's other backends are told. */
        wsgw_client_unlink(cl, l);
        wsgw_client_close(cl, code ? code : WSGW_CLOSE_NORMAL, reason, !cl->fan);
    } else if (f->hdr.client > atomic_load(&l->wk->w->client_ids))
        drop(l, "unknown_client", "CLOSE for a client this gateway never had");
}

static void
on_frame(struct wsgw_link *l, const struct gw_frame *f)
{
    struct gw_buf *b = &l->wk->scratch;

    count(l, l->b->m_frames_in, 1);
    if (l->state == WSGW_LINK_HELLO) {
        if (f->hdr.type != GW_FRAME_HELLO)
            drop(l, "bad_hello", "a frame before HELLO");
        else
            on_hello(l, f);
        return;
    }
    switch (f->hdr.type) {
    case GW_FRAME_DATA:
        on_data_frame(l, f);
        break;
    case GW_FRAME_CLOSE:
        on_close_frame(l, f);
        break;
    case GW_FRAME_PING:
        if (gw_frame_append_ping(b, GW_FRAME_PONG, l->b->id, f->payload, f->hdr.length) == 0)
            send_buf(l, b);
        break;
    case GW_FRAME_PONG:
        l->ping_sent_ms = 0;
        break;
    case GW_FRAME_JOIN:
    case GW_FRAME_LEAVE:
    case GW_FRAME_ROOM:
        /* Rooms arrive with part 3; until then they are valid frames with no effect. */
        break;
    default:
        drop(l, "bad_type", gw_frame_type_name(f->hdr.type));
        break;
    }
}

/* Everything is consumed: the decoder keeps a partial frame itself. */
static size_t
link_data(struct gw_conn *c, char *data, size_t len)
{
    struct wsgw_link *l = gw_conn_user(c);
    size_t left = len, used;
    struct gw_frame f;
    int rc;

    l->last_rx_ms = gw_ev_now_ms(l->wk->ev);
    while (left > 0 && !gw_conn_closed(c) && !gw_conn_finishing(c)) {
        rc = gw_frame_dec_feed(&l->dec, data, left, &used, &f);
        data += used;
        left -= used;
        if (rc < 0) {
            drop(l, gw_frame_error_name(l->dec.error), l->dec.err);
            break;
        }
        if (rc == 1)
            on_frame(l, &f);
    }
    return len;
}

static void
link_eof(struct gw_conn *c)
{
    struct wsgw_link *l = gw_conn_user(c);

    if (gw_frame_dec_eof(&l->dec) == -1) {
        drop(l, gw_frame_error_name(l->dec.error), l->dec.err);
        return;
    }
    GW_LOG_WARN("backend link closed by the backend", "backend=%s worker=%u", l->b->name,
                l->wk->index);
    count(l, l->b->m_dropped, 1);
    gw_conn_close(c, "backend closed");
}

static void
link_open(struct gw_conn *c)
{
    struct wsgw_link *l = gw_conn_user(c);
    struct gw_buf *b = &l->wk->scratch;
    char err[GW_ERR_LEN];

    l->state = WSGW_LINK_HELLO;
    l->last_rx_ms = gw_ev_now_ms(l->wk->ev);
    l->ping_sent_ms = 0;
    gw_frame_dec_init(&l->dec, (uint32_t)GW_MIN(cfg_of(l)->max_frame_bytes, UINT32_MAX),
                      GW_FRAME_CHECK_TEXT);
    if (gw_frame_append_hello(b, l->b->id, l->wk->w->gateway_id, l->b->name, err) == -1) {
        gw_conn_close(c, err);
        return;
    }
    send_buf(l, b);
    gw_ev_timer_start(l->wk->ev, &l->timer, cfg_of(l)->backend_ping_interval_ms);
}

static void
link_closed(struct gw_conn *c, const char *reason)
{
    struct wsgw_link *l = gw_conn_user(c);
    int was_up = l->state == WSGW_LINK_UP;

    if (l->c != c)
        return;
    if (l->state == WSGW_LINK_CONNECTING && !l->last_rx_ms) {
        count(l, l->b->m_connect_failures, 1);
        atomic_store(&l->b->down, 1);
        /* Logged at the first failure, then once the delays have reached their ceiling. */
        if (l->backoff.attempt == 0 || gw_backoff_cap(&l->backoff) >= BACKOFF_MAX_MS)
            GW_LOG_WARN("cannot connect to backend", "backend=%s worker=%u addr=%s err=%s",
                        l->b->name, l->wk->index, l->b->addr_str, reason);
    }
    if (was_up)
        atomic_fetch_sub(&l->b->links_up, 1);
    l->c = NULL;
    l->state = WSGW_LINK_DOWN;
    gw_frame_dec_reset(&l->dec);
    gw_ev_timer_stop(l->wk->ev, &l->timer);
    close_clients(l, WSGW_CLOSE_INTERNAL, "backend unavailable");
    schedule_reconnect(l);
}

static const struct gw_conn_limits *
link_limits(struct gw_conn *c)
{
    static const struct gw_conn_limits lim = {.max_in = 1, .max_out = LINK_MAX_OUT};

    (void)c;
    return &lim;
}

static const struct gw_conn_proto link_proto = {
    .name = "backend",
    .limits = link_limits,
    .on_open = link_open,
    .on_data = link_data,
    .on_eof = link_eof,
    .on_close = link_closed,
};

/* Down: reconnect. Up: ping when idle, drop when silent for backend_ping_timeout. */
static void
on_link_timer(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct wsgw_link *l = arg;
    const struct wsgw_config *cfg = cfg_of(l);
    uint64_t now = gw_ev_now_ms(ev);
    struct gw_buf *b = &l->wk->scratch;

    (void)t;
    if (!l->c) {
        link_connect(l);
        return;
    }
    if (now - l->last_rx_ms >= cfg->backend_ping_timeout_ms) {
        drop(l, "timeout", "no frame within backend_ping_timeout");
        return;
    }
    if (l->state == WSGW_LINK_UP && now - l->last_rx_ms >= cfg->backend_ping_interval_ms &&
        !l->ping_sent_ms && gw_frame_append_ping(b, GW_FRAME_PING, l->b->id, "gwkit", 5) == 0) {
        l->ping_sent_ms = now;
        send_buf(l, b);
    }
    gw_ev_timer_start(ev, &l->timer, GW_MIN(cfg->backend_ping_interval_ms, 1000));
}

static void
link_connect(struct wsgw_link *l)
{
    char err[GW_ERR_LEN];

    l->state = WSGW_LINK_CONNECTING;
    l->last_rx_ms = 0;
    l->c = gw_conn_connect(l->wk->loop, &l->b->addr, cfg_of(l)->connect_timeout_ms, &link_proto, l,
                           err);
    if (!l->c) {
        l->state = WSGW_LINK_DOWN;
        count(l, l->b->m_connect_failures, 1);
        atomic_store(&l->b->down, 1);
        schedule_reconnect(l);
    }
}

void
wsgw_links_start(struct wsgw_worker *wk)
{
    struct wsgw *w = wk->w;

    for (unsigned i = 0; i < w->nbackends; i++) {
        struct wsgw_link *l = &wk->links[i];
        l->wk = wk;
        l->b = &w->backends[i];
        gw_ev_timer_init(&l->timer, on_link_timer, l);
        gw_backoff_init(&l->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, 0);
        gw_frame_dec_init(&l->dec, GW_FRAME_MAX_DEFAULT, GW_FRAME_CHECK_TEXT);
        if (l->b->proto == WSGW_FRAMES)
            link_connect(l);
    }
}

void
wsgw_links_stop(struct wsgw_worker *wk)
{
    for (unsigned i = 0; i < wk->w->nbackends; i++) {
        struct wsgw_link *l = &wk->links[i];
        gw_ev_timer_stop(wk->ev, &l->timer);
        if (l->c)
            gw_conn_close(l->c, GW_CONN_SHUTDOWN);
        gw_frame_dec_reset(&l->dec);
    }
}
