/*
 * raw.c -- websockify mode: a client of a `protocol = raw` backend gets its own TCP connection
 * to it. Message payloads go to the backend as bytes; backend bytes come back as binary
 * messages (base64 text with websockify's `base64` subprotocol). Each side stops being read
 * while the other side's output is above its high-water mark, so memory stays bounded.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "conn.h"
#include "log.h"
#include "wsgwd.h"

/* The backend connection's marks: past RAW_HIGH queued for the backend, the client is not
 * read until it drains to RAW_LOW. */
#define RAW_HIGH (256 * 1024)
#define RAW_LOW (64 * 1024)
/* The client connection's marks: past CLIENT_HIGH the backend is not read until the client's
 * output drains to CLIENT_LOW. */
#define CLIENT_HIGH (256 * 1024)
#define CLIENT_LOW (64 * 1024)
/* Backend bytes kept unread while the client is above its mark. */
#define RAW_MAX_IN (1024 * 1024)
/* Largest backend read turned into one message at a time (base64 grows it by a third). */
#define RAW_CHUNK (48 * 1024)

static void
raw_opened(struct gw_conn *c)
{
    struct wsgw_client *cl = gw_conn_user(c);

    if (!cl)
        return;
    cl->raw_opened = 1;
    atomic_store(&cl->b->down, 0);
}

static void
send_chunk(struct wsgw_client *cl, const char *data, size_t len)
{
    unsigned char b64[(RAW_CHUNK / 3 + 1) * 4 + 1];

    if (cl->base64) {
        int n = EVP_EncodeBlock(b64, (const unsigned char *)data, (int)len);
        wsgw_client_send(cl, 1, b64, (size_t)n);
    } else {
        wsgw_client_send(cl, 0, data, len);
    }
}

static size_t
raw_data(struct gw_conn *c, char *data, size_t len)
{
    struct wsgw_client *cl = gw_conn_user(c);

    size_t off = 0;

    if (!cl || cl->state != WSGW_OPEN)
        return len;
    /* Past the client's mark the rest stays in the connection's input (io_uring may still hand
     * over what it received after the pause) and comes again at resume. */
    while (off < len && cl->state == WSGW_OPEN && gw_conn_out_len(cl->c) <= CLIENT_HIGH) {
        size_t n = GW_MIN(RAW_CHUNK, len - off);
        send_chunk(cl, data + off, n);
        off += n;
    }
    if (cl->state != WSGW_OPEN)
        return len;
    if (!cl->paused_raw && gw_conn_out_len(cl->c) > CLIENT_HIGH) {
        cl->paused_raw = 1;
        gw_conn_pause_read(c);
        wsgw_client_flow_paused(cl);
    }
    return off;
}

/* The backend's output drained: read the client again. */
static void
raw_writable(struct gw_conn *c)
{
    struct wsgw_client *cl = gw_conn_user(c);

    if (cl && cl->paused_self) {
        cl->paused_self = 0;
        gw_conn_resume_read(cl->c);
    }
}

void
wsgw_raw_flow_check(struct wsgw_client *cl)
{
    if (cl->paused_raw && cl->raw && gw_conn_out_len(cl->c) <= CLIENT_LOW)
        wsgw_raw_client_writable(cl);
    if (cl->paused_self && wsgw_client_links_above(cl, WSGW_LINK_LOW))
        return;
    if (cl->paused_self && (!cl->raw || gw_conn_out_len(cl->raw) <= RAW_LOW)) {
        cl->paused_self = 0;
        gw_conn_resume_read(cl->c);
    }
}

void
wsgw_raw_client_writable(struct wsgw_client *cl)
{
    if (cl->raw && cl->paused_raw) {
        cl->paused_raw = 0;
        gw_conn_resume_read(cl->raw);
    }
}

/* The backend closed its side: the client gets 1000 once what came before is sent. */
static void
raw_eof(struct gw_conn *c)
{
    struct wsgw_client *cl = gw_conn_user(c);

    if (cl)
        wsgw_client_close(cl, WSGW_CLOSE_NORMAL, "backend closed the connection", 1);
    gw_conn_finish(c);
}

static void
raw_closed(struct gw_conn *c, const char *reason)
{
    struct wsgw_client *cl = gw_conn_user(c);
    unsigned code;

    if (!cl)
        return;
    cl->raw = NULL;
    if (!cl->raw_opened) {
        code = atomic_load(&cl->b->down) ? WSGW_CLOSE_TRY_LATER : WSGW_CLOSE_INTERNAL;
        gw_metrics_add(cl->wk->w->m.reg, cl->b->m_connect_failures, 1);
        atomic_store(&cl->b->down, 1);
        GW_LOG_DEBUG("cannot connect to raw backend", "backend=%s client=%u err=%s", cl->b->name,
                     cl->id, reason);
        wsgw_client_close(cl, code, "backend unreachable", 1);
        return;
    }
    GW_LOG_DEBUG("raw backend connection lost", "backend=%s client=%u err=%s", cl->b->name, cl->id,
                 reason);
    wsgw_client_close(cl, WSGW_CLOSE_INTERNAL, "backend connection lost", 1);
}

/* Asked for several times per message: computed once per config snapshot and thread (a
 * detached connection, with no client, gets its own). */
static const struct gw_conn_limits *
raw_limits(struct gw_conn *c)
{
    struct wsgw_client *cl = gw_conn_user(c);
    static _Thread_local struct gw_conn_limits lim, detached;
    static _Thread_local const struct wsgw_config *lim_cfg;
    const struct wsgw_config *cfg;

    if (!cl) {
        detached.max_in = RAW_MAX_IN;
        detached.max_out = RAW_HIGH + RAW_HIGH;
        detached.out_high = RAW_HIGH;
        detached.out_low = RAW_LOW;
        return &detached;
    }
    if ((cfg = wsgw_cfg(cl->wk->w)) != lim_cfg) {
        lim_cfg = cfg;
        lim.max_in = RAW_MAX_IN;
        lim.max_out = RAW_HIGH + cfg->max_message_bytes + RAW_HIGH;
        lim.out_high = RAW_HIGH;
        lim.out_low = RAW_LOW;
    }
    return &lim;
}

static const struct gw_conn_proto raw_proto = {
    .name = "raw backend",
    .limits = raw_limits,
    .on_open = raw_opened,
    .on_data = raw_data,
    .on_writable = raw_writable,
    .on_eof = raw_eof,
    .on_close = raw_closed,
};

void
wsgw_raw_connect(struct wsgw_client *cl)
{
    char err[GW_ERR_LEN];
    unsigned code;

    cl->raw = gw_conn_connect(cl->wk->loop, &cl->b->addr, wsgw_cfg(cl->wk->w)->connect_timeout_ms,
                              &raw_proto, cl, err);
    if (!cl->raw) {
        code = atomic_load(&cl->b->down) ? WSGW_CLOSE_TRY_LATER : WSGW_CLOSE_INTERNAL;
        gw_metrics_add(cl->wk->w->m.reg, cl->b->m_connect_failures, 1);
        atomic_store(&cl->b->down, 1);
        wsgw_client_close(cl, code, "backend unreachable", 1);
    }
}

/* base64 text to bytes in place; -1 when it is not base64. */
static long
unbase64(uint8_t *p, size_t len)
{
    int n, pad = 0;

    if (len % 4 != 0 || len > INT32_MAX)
        return -1;
    if (len == 0)
        return 0;
    pad = (p[len - 1] == '=') + (p[len - 2] == '=');
    if ((n = EVP_DecodeBlock(p, p, (int)len)) < 0)
        return -1;
    return n - pad;
}

void
wsgw_raw_send(struct wsgw_client *cl, const uint8_t *data, size_t len)
{
    long n = (long)len;

    if (!cl->raw)
        return;
    if (cl->base64 && (n = unbase64((uint8_t *)data, len)) < 0) {
        wsgw_client_close(cl, WSGW_CLOSE_UNSUPPORTED, "not base64", 0);
        return;
    }
    gw_conn_write(cl->raw, data, (size_t)n);
    if (!cl->paused_self && gw_conn_out_len(cl->raw) > RAW_HIGH) {
        cl->paused_self = 1;
        gw_conn_pause_read(cl->c);
        wsgw_client_flow_paused(cl);
    }
}

void
wsgw_raw_detach(struct wsgw_client *cl)
{
    struct gw_conn *raw = cl->raw;

    if (!raw)
        return;
    cl->raw = NULL;
    gw_conn_set_user(raw, NULL);
    if (cl->paused_raw)
        gw_conn_resume_read(raw);
    /* Pending bytes go out, then FIN: the backend sees the client leave in order. */
    gw_conn_finish(raw);
}
