/*
 * client.c -- one connection on the WebSocket port: the HTTP request (plain endpoints, the
 * test page, or the upgrade with its checks), then the WebSocket client, handshake -> open ->
 * closing, until its connection ends.
 *
 * Memory: an idle client is this struct, its gw_conn and a timer slot. The reassembly buffer
 * and the zlib streams exist only while a message is in flight (an unfragmented uncompressed
 * message goes to the backend straight from the input buffer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "worker.h"
#include "wsdeflate.h"
#include "wshttp.h"
#include "wsgwd.h"
#include "wsgwd_ctl.h"

/* Raw mode backpressure marks on the client's output. */
#define CLIENT_OUT_HIGH (256 * 1024)
#define CLIENT_OUT_LOW (64 * 1024)
/* While a side is paused, how often its output is looked at in case its low-water callback
 * cannot come: lib/conn notices the high-water mark only after a send, so a queue the socket
 * took at once never crosses it. */
#define FLOW_CHECK_MS 50
/* With neither pings nor idle_timeout, how often a client's timer still fires (a reload may
 * turn them on). */
#define IDLE_CHECK_MS (60 * 1000)
/* Slack above the head limit for bytes that follow the head in the same read. */
#define HEAD_SLACK (64 * 1024)

static const char *const raw_protocols[] = {"binary", "base64"};

static void
count(struct wsgw_client *cl, int series, uint64_t n)
{
    gw_metrics_add(cl->wk->w->m.reg, series, n);
}

static struct wsgw_config *
cfg_of(struct wsgw_client *cl)
{
    return wsgw_cfg(cl->wk->w);
}

/* ---- the id table ---- */

static int
table_add(struct wsgw_worker *wk, struct wsgw_client *cl)
{
    if (wk->nclients + 1 > wk->table_size) {
        size_t size = wk->table_size ? wk->table_size * 2 : 1024;
        struct wsgw_client **t = calloc(size, sizeof(*t));
        if (!t)
            return -1;
        for (size_t i = 0; i < wk->table_size; i++)
            for (struct wsgw_client *e = wk->table[i], *next; e; e = next) {
                next = e->hnext;
                e->hnext = t[e->id & (size - 1)];
                t[e->id & (size - 1)] = e;
            }
        free(wk->table);
        wk->table = t;
        wk->table_size = size;
    }
    cl->hnext = wk->table[cl->id & (wk->table_size - 1)];
    wk->table[cl->id & (wk->table_size - 1)] = cl;
    wk->nclients++;
    return 0;
}

static void
table_remove(struct wsgw_worker *wk, struct wsgw_client *cl)
{
    struct wsgw_client **pp = &wk->table[cl->id & (wk->table_size - 1)];

    for (; *pp; pp = &(*pp)->hnext)
        if (*pp == cl) {
            *pp = cl->hnext;
            wk->nclients--;
            return;
        }
}

struct wsgw_client *
wsgw_client_find(struct wsgw_worker *wk, uint32_t id)
{
    if (!wk->table_size)
        return NULL;
    for (struct wsgw_client *e = wk->table[id & (wk->table_size - 1)]; e; e = e->hnext)
        if (e->id == id)
            return e;
    return NULL;
}

/* ---- output ---- */

static void
write_buf(struct wsgw_client *cl, struct gw_buf *b)
{
    gw_conn_write(cl->c, gw_buf_data(b), gw_buf_len(b));
    gw_buf_consume(b, gw_buf_len(b));
}

static int
over_output(struct wsgw_client *cl)
{
    if (gw_conn_out_len(cl->c) <= cfg_of(cl)->max_output_bytes)
        return 0;
    count(cl, cl->wk->w->m.output_overflow, 1);
    wsgw_client_close(cl, WSGW_CLOSE_TRY_LATER, "client too slow", 0);
    return 1;
}

void
wsgw_client_send(struct wsgw_client *cl, int text, const void *data, size_t len)
{
    struct wsgw *w = cl->wk->w;
    unsigned op = text ? GW_WS_OP_TEXT : GW_WS_OP_BINARY;
    uint8_t hdr[GW_WS_MAX_HEADER];
    char err[GW_ERR_LEN];
    int rc;

    if (cl->state != WSGW_OPEN)
        return;
    if (cl->dfl && len >= cl->dfl->threshold) {
        struct gw_buf *b = &cl->wk->scratch;
        rc = gw_wsdeflate_frame_append(cl->dfl, b, op, data, len, NULL, err);
        if (rc < 0) {
            GW_LOG_WARN("cannot compress", "client=%u err=%s", cl->id, err);
            wsgw_client_close(cl, WSGW_CLOSE_INTERNAL, "compression failed", 0);
            return;
        }
        if (rc == 1) {
            count(cl, w->m.deflate_in, len);
            count(cl, w->m.deflate_out, gw_buf_len(b));
        }
        write_buf(cl, b);
    } else {
        /* Header and payload in one reservation: one copy pass, one queueing. */
        size_t hl = gw_ws_header_write(hdr, op, 1, 0, len, NULL);
        char *p = gw_conn_reserve(cl->c, hl + len);
        if (p) {
            memcpy(p, hdr, hl);
            if (len)
                memcpy(p + hl, data, len);
            gw_conn_commit(cl->c, hl + len);
        }
    }
    cl->msgs_out++;
    cl->bytes_out += len;
    count(cl, w->m.messages[WSGW_OUT], 1);
    count(cl, w->m.bytes[WSGW_OUT], len);
    over_output(cl);
}

static void
send_control(struct wsgw_client *cl, unsigned op, const void *data, size_t len)
{
    uint8_t frame[GW_WS_MAX_HEADER + GW_WS_MAX_CONTROL];
    size_t n = gw_ws_header_write(frame, op, 1, 0, len, NULL);

    memcpy(frame + n, data, len);
    gw_conn_write(cl->c, frame, n + len);
}

/* ---- the framed links of a client: one, or every backend's for a fan-out client ---- */

/* A fan-out client (the upgrade path is "/ws/" and a star) is bound to every framed backend up
 * on its worker when it opens: each gets its OPEN and its messages (DATA with backend id 0,
 * "every backend"), any of them may answer it or close it, and the others are then told. Its
 * bitmap of links is allocated for it only. */

#define FAN_BIT(i) ((uint8_t)(1u << ((i) % 8)))

static size_t
fan_bytes(const struct wsgw *w)
{
    return (w->nbackends + 7) / 8;
}

/* 1 when the fan-out client cl is bound to links[i] (0 for any other client). */
static int
fan_bound(const struct wsgw_client *cl, size_t i)
{
    return cl->fan && (cl->fan[i / 8] & FAN_BIT(i)) != 0;
}

int
wsgw_client_on_link(const struct wsgw_client *cl, const struct wsgw_link *l)
{
    size_t i;

    if (cl->link == l)
        return 1;
    if (!cl->fan || l->wk != cl->wk)
        return 0;
    i = (size_t)(l - cl->wk->links);
    return fan_bound(cl, i);
}

void
wsgw_client_unlink(struct wsgw_client *cl, const struct wsgw_link *l)
{
    size_t i = (size_t)(l - cl->wk->links);

    if (cl->link == l)
        cl->link = NULL;
    if (fan_bound(cl, i)) {
        cl->fan[i / 8] &= (uint8_t)~FAN_BIT(i);
        atomic_fetch_sub(&cl->wk->w->backends[i].clients, 1);
    }
}

int
wsgw_client_links_above(const struct wsgw_client *cl, size_t mark)
{
    struct wsgw_link *l;

    if (cl->link)
        return cl->link->c && gw_conn_out_len(cl->link->c) > mark;
    for (size_t i = 0; cl->fan && i < cl->wk->w->nbackends; i++) {
        l = &cl->wk->links[i];
        if (fan_bound(cl, i) && l->c && gw_conn_out_len(l->c) > mark)
            return 1;
    }
    return 0;
}

/* Binds a fan-out client to every framed backend up on its worker: OPEN to each. 0, or -1
 * when none took it. */
static int
fan_open(struct wsgw_client *cl, const char *query, const char *subprotocol, json_t *claims)
{
    struct wsgw *w = cl->wk->w;
    unsigned n = 0;

    if ((cl->fan = calloc(1, fan_bytes(w))) == NULL)
        return -1;
    for (unsigned i = 0; i < w->nbackends; i++) {
        if (w->backends[i].proto != WSGW_FRAMES ||
            wsgw_link_open(&cl->wk->links[i], cl, query, subprotocol, claims) == -1)
            continue;
        cl->fan[i / 8] |= FAN_BIT(i);
        atomic_fetch_add(&w->backends[i].clients, 1);
        n++;
    }
    return n ? 0 : -1;
}

/* A message to every backend of a fan-out client, with backend id 0. -1 when a link failed. */
static int
fan_data(struct wsgw_client *cl, int text, const void *data, size_t len)
{
    for (unsigned i = 0; i < cl->wk->w->nbackends; i++)
        if (fan_bound(cl, i) && wsgw_link_data(&cl->wk->links[i], cl->id, 1, text, data, len) == -1)
            return -1;
    return 0;
}

static void
tell_backend(struct wsgw_client *cl, unsigned code)
{
    if (cl->told_backend)
        return;
    cl->told_backend = 1;
    if (cl->link)
        wsgw_link_close_client(cl->link, cl->id, code);
    else if (cl->raw)
        wsgw_raw_detach(cl);
    for (unsigned i = 0; cl->fan && i < cl->wk->w->nbackends; i++)
        if (fan_bound(cl, i))
            wsgw_link_close_client(&cl->wk->links[i], cl->id, code);
}

/* The closing handshake gets handshake_timeout too: a client that neither answers our close
 * nor reads what is queued for it (so that the lingering close of gw_conn_finish never starts)
 * would otherwise keep its connection, and its place under max_clients, for ever. */
static void
closing_deadline(struct wsgw_client *cl)
{
    gw_ev_timer_start(cl->wk->ev, &cl->timer, cfg_of(cl)->handshake_timeout_ms);
}

void
wsgw_client_close(struct wsgw_client *cl, unsigned code, const char *reason, int by_backend)
{
    uint8_t payload[GW_WS_MAX_CONTROL];

    if (cl->state != WSGW_OPEN)
        return;
    cl->state = WSGW_CLOSING;
    cl->close_code = (uint16_t)code;
    if (by_backend)
        cl->told_backend = 1;
    send_control(cl, GW_WS_OP_CLOSE, payload, gw_ws_close_payload(payload, code, reason));
    count(cl, cl->wk->w->m.close_sent[wsgw_close_index(code)], 1);
    GW_LOG_DEBUG("closing client", "client=%u code=%u reason=%s", cl->id, code,
                 reason ? reason : "");
    tell_backend(cl, code);
    gw_conn_finish(cl->c);
    closing_deadline(cl);
}

/* ---- HTTP answers before the upgrade ---- */

static void
refuse(struct wsgw_client *cl, int status, const char *reason, const char *extra,
       enum wsgw_hs_result why)
{
    struct gw_buf *b = &cl->wk->scratch;

    gw_wshttp_write_error(b, status, reason, extra);
    write_buf(cl, b);
    count(cl, cl->wk->w->m.handshakes[why], 1);
    GW_LOG_DEBUG("handshake refused", "addr=%s status=%d reason=%s", gw_conn_addr(cl->c), status,
                 reason ? reason : "");
    gw_conn_finish(cl->c);
}

/* A plain request on the WebSocket port: the test page at /, else 404. Keep-alive. */
static void
plain_request(struct wsgw_client *cl)
{
    struct gw_wshttp_req *r = cl->req;
    struct gw_buf *b = &cl->wk->scratch;
    int keep = gw_wshttp_keep_alive(r), head = strcmp(r->method, "HEAD") == 0;

    count(cl, cl->wk->w->m.http_requests, 1);
    if (strcmp(r->method, "GET") != 0 && !head) {
        refuse(cl, 405, "use GET", "Allow: GET, HEAD\r\n", WSGW_HS_METHOD);
        return;
    }
    if (strcmp(r->path, "/") != 0 || !cfg_of(cl)->test_page) {
        gw_wshttp_write_response(b, 404, "text/plain; charset=utf-8", "not found\n", 10, keep,
                                 NULL);
    } else {
        gw_wshttp_write_response(b, 200, "text/html; charset=utf-8", wsgw_test_page,
                                 head ? 0 : strlen(wsgw_test_page), keep, NULL);
    }
    write_buf(cl, b);
    if (!keep)
        gw_conn_finish(cl->c);
}

/* ---- the upgrade ---- */

static int
backend_usable(struct wsgw_client *cl, struct wsgw_backend *b)
{
    if (b->proto == WSGW_RAW)
        return 1;
    return cl->wk->links[b->id - 1].state == WSGW_LINK_UP;
}

/* The backend of /ws/NAME; for the fan-out path (*fan set) the first of every framed backend
 * usable from this worker, which all get the client; else one of those usable, by client id. NULL
 * with *status 404 (no such name) or 503 (none usable). */
static struct wsgw_backend *
choose_backend(struct wsgw_client *cl, const char *path, uint32_t id, int *status, int *fan)
{
    struct wsgw *w = cl->wk->w;
    struct wsgw_backend *ok[WSGW_MAX_BACKENDS];
    unsigned n = 0;

    if (strcmp(path, "/ws/*") == 0) {
        *fan = 1;
        for (unsigned i = 0; i < w->nbackends; i++)
            if (w->backends[i].proto == WSGW_FRAMES && backend_usable(cl, &w->backends[i]))
                return &w->backends[i];
        *status = 503;
        return NULL;
    }
    if (strncmp(path, "/ws/", 4) == 0 && path[4]) {
        struct wsgw_backend *b = wsgw_backend_find(w, path + 4, strcspn(path + 4, "/"));
        if (!b) {
            *status = 404;
            return NULL;
        }
        if (!backend_usable(cl, b)) {
            *status = 503;
            return NULL;
        }
        return b;
    }
    for (unsigned i = 0; i < w->nbackends; i++)
        if (backend_usable(cl, &w->backends[i]))
            ok[n++] = &w->backends[i];
    if (n == 0) {
        *status = 503;
        return NULL;
    }
    return ok[id % n];
}

/* Limits and authentication, after the request passed the protocol checks. 0, or -1 once
 * refused. */
static int
admit(struct wsgw_client *cl, const struct wsgw_config *cfg, json_t **claims)
{
    struct wsgw *w = cl->wk->w;
    char ip[64], why[128], extra[512];

    gw_net_addr_host(gw_conn_addr(cl->c), ip, sizeof(ip));
    if (!wsgw_limits_handshake(w->limits, ip, cfg->handshakes_per_ip)) {
        refuse(cl, 429, "too many handshakes from this address", "Retry-After: 1\r\n",
               WSGW_HS_RATE);
        return -1;
    }
    if ((unsigned)atomic_load(&w->nclients) >= cfg->max_clients) {
        refuse(cl, 503, "too many clients", "Retry-After: 1\r\n", WSGW_HS_FULL);
        return -1;
    }
    if (cfg->max_clients_per_ip && cl->ip_counted &&
        wsgw_limits_count(w->limits, ip) > cfg->max_clients_per_ip) {
        refuse(cl, 503, "too many connections from this address", "Retry-After: 1\r\n",
               WSGW_HS_FULL);
        return -1;
    }
    if (cfg->auth && wsgw_auth_check(cfg->auth, cl->req, claims, why, sizeof(why)) == -1) {
        snprintf(extra, sizeof(extra),
                 "WWW-Authenticate: Bearer error=\"invalid_token\", error_description=%s\r\n"
                 "X-Gwkit-Auth-Error: %s\r\n",
                 why, why);
        refuse(cl, 401, why, extra, WSGW_HS_AUTH);
        return -1;
    }
    return 0;
}

static char *
path_copy(const struct gw_wshttp_req *r)
{
    size_t p = strlen(r->path), q = r->query ? strlen(r->query) : 0;
    char *s = malloc(p + q + 2);

    if (!s)
        return NULL;
    memcpy(s, r->path, p + 1);
    if (r->query) {
        s[p] = '?';
        memcpy(s + p + 1, r->query, q + 1);
    }
    return s;
}

/* The client is in: 101 sent. Sets up framing and tells the backend. 0, or -1 (closed). */
static int
open_client(struct wsgw_client *cl, const struct wsgw_config *cfg,
            const struct gw_wshttp_upgrade *u, uint32_t id, json_t *claims, int fan)
{
    struct wsgw_worker *wk = cl->wk;
    struct wsgw *w = wk->w;

    cl->id = id;
    cl->state = WSGW_OPEN;
    cl->opened_ms = cl->last_rx_ms = cl->last_msg_ms = gw_ev_now_ms(wk->ev);
    gw_ws_parser_init(&cl->parser, cfg->max_message_bytes, 0, u->deflate);
    gw_buf_init(&cl->msg, cfg->max_message_bytes);
    if (u->deflate && (cl->dfl = calloc(1, sizeof(*cl->dfl))) != NULL)
        gw_wsdeflate_init(cl->dfl, &u->deflate_params, 0, cfg->compression_threshold_bytes);
    cl->path = path_copy(cl->req);
    if ((u->deflate && !cl->dfl) || !cl->path || table_add(wk, cl) == -1) {
        gw_conn_close(cl->c, GW_CONN_OUT_OF_MEMORY);
        return -1;
    }
    atomic_fetch_add(&w->nclients, 1);
    if (!fan)
        atomic_fetch_add(&cl->b->clients, 1);
    gw_metrics_add(w->m.reg, w->m.clients, 1);
    gw_metrics_add(w->m.reg, w->m.worker_clients[wk->index], 1);
    count(cl, w->m.handshakes[WSGW_HS_OK], 1);
    GW_LOG_DEBUG("client open", "client=%u addr=%s path=%s backend=%s deflate=%s", id,
                 gw_conn_addr(cl->c), cl->path, fan ? "*" : cl->b->name, cl->dfl ? "yes" : "no");
    if (fan) {
        if (fan_open(cl, cl->req->query, u->protocol, claims) == -1) {
            wsgw_client_close(cl, WSGW_CLOSE_INTERNAL, "backend unavailable", 1);
            return -1;
        }
    } else if (cl->b->proto == WSGW_RAW) {
        cl->base64 = u->protocol && strcmp(u->protocol, "base64") == 0;
        wsgw_raw_connect(cl);
    } else {
        cl->link = &wk->links[cl->b->id - 1];
        if (wsgw_link_open(cl->link, cl, cl->req->query, u->protocol, claims) == -1) {
            cl->link = NULL;
            wsgw_client_close(cl, WSGW_CLOSE_INTERNAL, "backend unavailable", 1);
            return -1;
        }
    }
    return 0;
}

static void keepalive_arm(struct wsgw_client *cl);

void
wsgw_client_flow_paused(struct wsgw_client *cl)
{
    if (cl->state == WSGW_OPEN)
        keepalive_arm(cl);
}

/* Returns 0 when the client is open, -1 when the request was refused. */
static int
upgrade(struct wsgw_client *cl)
{
    struct wsgw *w = cl->wk->w;
    const struct wsgw_config *cfg = cfg_of(cl);
    const char *protos[64];
    struct gw_wshttp_conf hc = {0};
    struct gw_wshttp_upgrade u;
    struct gw_buf *b = &cl->wk->scratch;
    char err[GW_ERR_LEN];
    json_t *claims = NULL;
    uint32_t id = (uint32_t)atomic_fetch_add(&w->client_ids, 1) + 1;
    int status = 0, fan = 0, rc;
    size_t n = 0;

    if (id == 0)
        id = (uint32_t)atomic_fetch_add(&w->client_ids, 1) + 1;
    if ((cl->b = choose_backend(cl, cl->req->path, id, &status, &fan)) == NULL && status == 404) {
        refuse(cl, 404, "no such backend", NULL, WSGW_HS_NOT_FOUND);
        return -1;
    }
    for (char **p = cfg->subprotocols; p && *p && n < GW_ARRAY_LEN(protos) - 2; p++)
        protos[n++] = *p;
    if (cl->b && cl->b->proto == WSGW_RAW)
        for (size_t i = 0; i < GW_ARRAY_LEN(raw_protocols); i++)
            protos[n++] = raw_protocols[i];
    for (char **o = cfg->origins; o && *o; o++)
        hc.norigins++;
    hc.origins = (const char *const *)cfg->origins;
    hc.protocols = protos;
    hc.nprotocols = n;
    hc.deflate = cfg->deflate;
    hc.deflate_prefs.server_no_context_takeover = 1;
    hc.deflate_prefs.client_no_context_takeover = 1;
    if (gw_wshttp_upgrade_check(cl->req, &hc, &u, err) == -1) {
        refuse(cl, u.status, err, u.extra,
               u.status == 403   ? WSGW_HS_ORIGIN
               : u.status == 405 ? WSGW_HS_METHOD
               : u.status == 426 ? WSGW_HS_VERSION
                                 : WSGW_HS_BAD_REQUEST);
        return -1;
    }
    if (admit(cl, cfg, &claims) == -1)
        return -1;
    if (!cl->b) {
        json_decref(claims);
        refuse(cl, 503, "no backend available", "Retry-After: 1\r\n", WSGW_HS_NO_BACKEND);
        return -1;
    }
    if (gw_wshttp_write_101(b, &u, NULL) == -1) {
        json_decref(claims);
        gw_conn_close(cl->c, GW_CONN_OUT_OF_MEMORY);
        return -1;
    }
    write_buf(cl, b);
    rc = open_client(cl, cfg, &u, id, claims, fan);
    json_decref(claims);
    return rc;
}

/* ---- WebSocket input ---- */

static void
deliver(struct wsgw_client *cl, unsigned opcode, const uint8_t *data, size_t len)
{
    struct wsgw *w = cl->wk->w;

    gw_conn_touch(cl->c);
    cl->last_msg_ms = gw_ev_now_ms(cl->wk->ev);
    cl->msgs_in++;
    cl->bytes_in += len;
    count(cl, w->m.messages[WSGW_IN], 1);
    count(cl, w->m.bytes[WSGW_IN], len);
    if (cl->link || cl->fan) {
        int text = opcode == GW_WS_OP_TEXT;
        if (cl->link ? wsgw_link_data(cl->link, cl->id, 0, text, data, len) == -1
                     : fan_data(cl, text, data, len) == -1) {
            wsgw_client_close(cl, WSGW_CLOSE_INTERNAL, "backend unavailable", 1);
        } else if (!cl->paused_self && wsgw_client_links_above(cl, WSGW_LINK_HIGH)) {
            /* A backend that reads slowly: its clients wait, rather than its queue growing. */
            cl->paused_self = 1;
            gw_conn_pause_read(cl->c);
            wsgw_client_flow_paused(cl);
        }
    } else if (cl->b && cl->b->proto == WSGW_RAW) {
        wsgw_raw_send(cl, data, len);
    }
}

static void
on_close_frame(struct wsgw_client *cl, const struct gw_ws_event *ev)
{
    struct wsgw *w = cl->wk->w;
    unsigned code = ev->close_code;
    uint8_t payload[GW_WS_MAX_CONTROL];

    count(cl, w->m.close_received[wsgw_close_index(code)], 1);
    if (cl->state == WSGW_CLOSING) {
        /* Our close was answered: the handshake is complete. */
        gw_conn_close(cl->c, "closed");
        return;
    }
    cl->state = WSGW_CLOSING;
    cl->close_code = (uint16_t)code;
    /* Echo the code (RFC 6455 5.5.1); a close without one is answered with 1000. */
    send_control(cl, GW_WS_OP_CLOSE, payload,
                 gw_ws_close_payload(payload, code == WSGW_CLOSE_NO_STATUS ? 1000 : code, NULL));
    count(cl, w->m.close_sent[wsgw_close_index(code == WSGW_CLOSE_NO_STATUS ? 1000 : code)], 1);
    tell_backend(cl, code == WSGW_CLOSE_NO_STATUS ? 1000 : code);
    gw_conn_finish(cl->c);
    closing_deadline(cl);
}

static void
on_event(struct wsgw_client *cl, struct gw_ws_event *ev)
{
    char err[GW_ERR_LEN];
    unsigned code;
    int rc;

    switch (ev->type) {
    case GW_WS_EV_DATA:
        if (cl->state != WSGW_OPEN)
            return;
        if (ev->first && ev->fin && !ev->compressed) {
            deliver(cl, ev->opcode, ev->data, ev->len);
            return;
        }
        rc = gw_ws_message_feed(&cl->parser, cl->dfl, ev, &cl->msg, &code, err);
        if (rc < 0) {
            gw_buf_reset(&cl->msg);
            wsgw_client_close(cl, code, err, 0);
        } else if (rc == 1) {
            deliver(cl, ev->opcode, (const uint8_t *)gw_buf_data(&cl->msg), gw_buf_len(&cl->msg));
            gw_buf_reset(&cl->msg);
        }
        return;
    case GW_WS_EV_PING:
        if (cl->state == WSGW_OPEN)
            send_control(cl, GW_WS_OP_PONG, ev->data, ev->len);
        return;
    case GW_WS_EV_PONG:
        cl->ping_sent_ms = 0;
        return;
    case GW_WS_EV_CLOSE:
        on_close_frame(cl, ev);
        return;
    case GW_WS_EV_ERROR:
        wsgw_client_close(cl, ev->error_code, ev->error, 0);
        return;
    case GW_WS_EV_NONE:
        return;
    }
}

static void
ws_input(struct wsgw_client *cl, uint8_t *data, size_t len)
{
    struct gw_ws_event ev;

    cl->last_rx_ms = gw_ev_now_ms(cl->wk->ev);
    for (;;) {
        size_t n = gw_ws_parse(&cl->parser, data, len, &ev);
        data += n;
        len -= n;
        if (ev.type == GW_WS_EV_NONE || gw_conn_closed(cl->c))
            return;
        on_event(cl, &ev);
        if (ev.type == GW_WS_EV_ERROR || gw_conn_finishing(cl->c) || gw_conn_closed(cl->c))
            return;
        /* Every input byte parsed: another call could only say so (no bytes, no event). */
        if (len == 0)
            return;
    }
}

static size_t
handshake(struct wsgw_client *cl, char *data, size_t len)
{
    char err[GW_ERR_LEN];
    int head = gw_wshttp_parse(cl->req, data, len, err);

    if (head == 0)
        return 0;
    if (head < 0) {
        refuse(cl, cl->req->status, err, NULL,
               cl->req->status == 414 || cl->req->status == 431 ? WSGW_HS_TOO_LONG
                                                                : WSGW_HS_BAD_REQUEST);
        return len;
    }
    if (!gw_wshttp_is_upgrade(cl->req)) {
        plain_request(cl);
        gw_wshttp_req_free(cl->req);
        cl->req->max_head_bytes = cfg_of(cl)->max_header_bytes;
        return (size_t)head;
    }
    if (upgrade(cl) == -1)
        return len;
    gw_wshttp_req_free(cl->req);
    free(cl->req);
    cl->req = NULL;
    gw_ev_timer_stop(cl->wk->ev, &cl->timer);
    keepalive_arm(cl);
    if ((size_t)head < len)
        ws_input(cl, (uint8_t *)data + head, len - (size_t)head);
    return len;
}

/* ---- timers: the handshake deadline, then keepalive pings, ping timeout and idle ---- */

/* A ping is due ping_interval after the last input, or after the last ping while that one
 * is unanswered. */
static uint64_t
ping_due(const struct wsgw_client *cl, const struct wsgw_config *cfg)
{
    return GW_MAX(cl->last_rx_ms, cl->ping_sent_ms) + cfg->ping_interval_ms;
}

static void
on_timer(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct wsgw_client *cl = arg;
    const struct wsgw_config *cfg = cfg_of(cl);
    struct wsgw *w = cl->wk->w;
    uint64_t now = gw_ev_now_ms(ev);

    (void)t;
    wsgw_raw_flow_check(cl);
    if (cl->state == WSGW_HS) {
        count(cl, w->m.handshakes[WSGW_HS_TIMEOUT], 1);
        gw_conn_close(cl->c, "handshake timeout");
        return;
    }
    if (cl->state == WSGW_CLOSING) {
        count(cl, w->m.close_timeouts, 1);
        gw_conn_close(cl->c, "close timeout");
        return;
    }
    if (cfg->ping_interval_ms && now - cl->last_rx_ms >= cfg->ping_timeout_ms) {
        count(cl, w->m.pings_timed_out, 1);
        wsgw_client_close(cl, WSGW_CLOSE_GOING_AWAY, "ping timeout", 0);
        return;
    }
    if (cfg->idle_timeout_ms && now - cl->last_msg_ms >= cfg->idle_timeout_ms) {
        count(cl, w->m.idle_closed, 1);
        wsgw_client_close(cl, WSGW_CLOSE_GOING_AWAY, "idle timeout", 0);
        return;
    }
    if (cfg->ping_interval_ms && now >= ping_due(cl, cfg)) {
        cl->ping_sent_ms = now;
        send_control(cl, GW_WS_OP_PING, "gwkit", 5);
    }
    keepalive_arm(cl);
}

/* The next check: the earliest of the ping, ping timeout and idle deadlines. */
static void
keepalive_arm(struct wsgw_client *cl)
{
    const struct wsgw_config *cfg = cfg_of(cl);
    uint64_t now = gw_ev_now_ms(cl->wk->ev), next = IDLE_CHECK_MS, d;

    if (cfg->ping_interval_ms) {
        d = ping_due(cl, cfg);
        next = GW_MIN(next, d > now ? d - now : 0);
        d = cl->last_rx_ms + cfg->ping_timeout_ms;
        next = GW_MIN(next, d > now ? d - now : 0);
    }
    if (cfg->idle_timeout_ms) {
        d = cl->last_msg_ms + cfg->idle_timeout_ms;
        next = GW_MIN(next, d > now ? d - now : 0);
    }
    /* One wake-up per deadline, none in between: an idle client costs a timer firing every
     * ping_interval. Timeouts changed by a reload apply from the next one. */
    if (cl->paused_raw || cl->paused_self)
        next = GW_MIN(next, FLOW_CHECK_MS);
    gw_ev_timer_start(cl->wk->ev, &cl->timer, GW_MAX(next, 1));
}

/* ---- the connection callbacks ---- */

/* The layer asks for a connection's limits several times per message: they are computed once
 * per config snapshot (immutable) and thread, and kept with the struct wsgw they belong to. */
struct client_lim_cache {
    struct wsgw *w;
    const struct wsgw_config *cfg;
    struct gw_conn_limits lim;
};

static const struct gw_conn_limits *
client_limits(struct gw_conn *c)
{
    struct wsgw_client *cl = gw_conn_user(c);
    static _Thread_local struct client_lim_cache k;
    struct wsgw_config *cfg;

    if (!cl)
        return NULL;
    if (!k.w)
        k.w = ((struct wsgw_worker *)gw_worker_data(gw_worker_of(gw_conn_loop_of(c))))->w;
    /* Before on_open the user pointer is the struct wsgw. */
    if ((void *)cl == k.w)
        return NULL;
    if ((cfg = cfg_of(cl)) != k.cfg) {
        k.cfg = cfg;
        k.lim.max_in = cfg->max_header_bytes + HEAD_SLACK;
        k.lim.max_out = cfg->max_output_bytes * 2 + cfg->max_message_bytes + HEAD_SLACK;
        k.lim.out_high = CLIENT_OUT_HIGH;
        k.lim.out_low = CLIENT_OUT_LOW;
    }
    return &k.lim;
}

/* An accepted connection: its client struct is made here, on the worker's thread. */
static void
client_open(struct gw_conn *c)
{
    struct wsgw_worker *wk = gw_worker_data(gw_worker_of(gw_conn_loop_of(c)));
    struct wsgw *w = wk->w;
    struct wsgw_client *cl = calloc(1, sizeof(*cl));
    char ip[64];

    gw_metrics_add(w->m.reg, w->m.connections_total, 1);
    if (!cl) {
        gw_conn_set_user(c, NULL);
        gw_conn_close(c, GW_CONN_OUT_OF_MEMORY);
        return;
    }
    cl->c = c;
    cl->wk = wk;
    gw_conn_set_user(c, cl);
    cl->next = wk->conns;
    if (wk->conns)
        wk->conns->prev = cl;
    wk->conns = cl;
    atomic_fetch_add(&w->nconns, 1);
    gw_metrics_add(w->m.reg, w->m.connections, 1);
    gw_ev_timer_init(&cl->timer, on_timer, cl);
    if ((cl->req = malloc(sizeof(*cl->req))) == NULL) {
        gw_conn_close(c, GW_CONN_OUT_OF_MEMORY);
        return;
    }
    gw_wshttp_req_init(cl->req);
    cl->req->max_head_bytes = cfg_of(cl)->max_header_bytes;
    if (cl->req->max_line_bytes > cl->req->max_head_bytes)
        cl->req->max_line_bytes = cl->req->max_head_bytes;
    gw_net_addr_host(gw_conn_addr(c), ip, sizeof(ip));
    wsgw_limits_open(w->limits, ip);
    cl->ip_counted = 1;
    gw_ev_timer_start(wk->ev, &cl->timer, cfg_of(cl)->handshake_timeout_ms);
}

static size_t
client_data(struct gw_conn *c, char *data, size_t len)
{
    struct wsgw_client *cl = gw_conn_user(c);

    if (cl->state == WSGW_HS)
        return handshake(cl, data, len);
    ws_input(cl, (uint8_t *)data, len);
    return len;
}

static void
client_writable(struct gw_conn *c)
{
    wsgw_raw_client_writable(gw_conn_user(c));
}

static void
client_closed(struct gw_conn *c, const char *reason)
{
    struct wsgw_client *cl = gw_conn_user(c);
    struct wsgw_worker *wk;
    struct wsgw *w;
    char ip[64];

    if (!cl)
        return;
    wk = cl->wk;
    w = wk->w;
    gw_ev_timer_stop(wk->ev, &cl->timer);
    if (cl->state == WSGW_HS && cl->req && !cl->req->status && !gw_conn_finishing(c) &&
        strcmp(reason, "handshake timeout") != 0)
        count(cl, w->m.handshakes[WSGW_HS_CLOSED], 1);
    if (cl->id) {
        if (cl->state == WSGW_OPEN) {
            /* The connection ended without a close frame. */
            count(cl, w->m.close_received[wsgw_close_index(WSGW_CLOSE_ABNORMAL)], 1);
            cl->close_code = WSGW_CLOSE_ABNORMAL;
        }
        tell_backend(cl, cl->close_code ? cl->close_code : WSGW_CLOSE_ABNORMAL);
        wsgw_raw_detach(cl);
        table_remove(wk, cl);
        atomic_fetch_sub(&w->nclients, 1);
        if (cl->fan) {
            for (unsigned i = 0; i < w->nbackends; i++)
                wsgw_client_unlink(cl, &wk->links[i]);
        } else {
            atomic_fetch_sub(&cl->b->clients, 1);
        }
        gw_metrics_sub(w->m.reg, w->m.clients, 1);
        gw_metrics_sub(w->m.reg, w->m.worker_clients[wk->index], 1);
        GW_LOG_DEBUG("client closed", "client=%u reason=%s code=%u in=%llu out=%llu", cl->id,
                     reason, cl->close_code, (unsigned long long)cl->msgs_in,
                     (unsigned long long)cl->msgs_out);
    }
    if (cl->ip_counted) {
        gw_net_addr_host(gw_conn_addr(c), ip, sizeof(ip));
        wsgw_limits_close(w->limits, ip);
    }
    if (cl->prev)
        cl->prev->next = cl->next;
    else
        wk->conns = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    atomic_fetch_sub(&w->nconns, 1);
    gw_metrics_sub(w->m.reg, w->m.connections, 1);
    if (cl->req) {
        gw_wshttp_req_free(cl->req);
        free(cl->req);
    }
    if (cl->dfl) {
        gw_wsdeflate_free(cl->dfl);
        free(cl->dfl);
    }
    gw_buf_reset(&cl->msg);
    free(cl->fan);
    free(cl->path);
    free(cl);
}

const struct gw_conn_proto wsgw_client_proto = {
    .name = "websocket",
    .limits = client_limits,
    .on_open = client_open,
    .on_data = client_data,
    .on_writable = client_writable,
    .on_close = client_closed,
};

json_t *
wsgw_client_json(struct wsgw_client *cl, uint64_t now_ms)
{
    return json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I}", WSGW_F_ID, (json_int_t)cl->id,
        WSGW_F_ADDR, gw_conn_addr(cl->c), WSGW_F_PATH, cl->path ? cl->path : "", WSGW_F_BACKEND,
        cl->fan ? "*"
        : cl->b ? cl->b->name
                : "",
        WSGW_F_STATE, cl->state == WSGW_OPEN ? "open" : "closing", WSGW_F_WORKER,
        (int)cl->wk->index, WSGW_F_CONNECTED_S, (json_int_t)((now_ms - cl->opened_ms) / 1000),
        WSGW_F_MESSAGES, (json_int_t)(cl->msgs_in + cl->msgs_out), WSGW_F_BYTES_IN,
        (json_int_t)cl->bytes_in, WSGW_F_BYTES_OUT, (json_int_t)cl->bytes_out, WSGW_F_MESSAGES_IN,
        (json_int_t)cl->msgs_in);
}
