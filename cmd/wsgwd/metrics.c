/*
 * metrics.c -- wsgwd's metric families (wsgwd_ prefix): connections, handshakes by result,
 * messages and bytes per direction, close codes each way, backend links, deflate ratio and
 * per-worker load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsgwd.h"

/* The close codes counted by value; anything else counts as "other". 1005 and 1006 are never
 * sent on the wire: received 1005 = a close frame without a code, 1006 = the TCP connection
 * ended without a close frame. */
static const unsigned close_codes[WSGW_CLOSE_SERIES - 1] = {
    1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015};

static const char *const hs_reasons[WSGW_HS_COUNT] = {
    [WSGW_HS_OK] = "ok",
    [WSGW_HS_BAD_REQUEST] = "bad_request",
    [WSGW_HS_AUTH] = "unauthorized",
    [WSGW_HS_ORIGIN] = "origin",
    [WSGW_HS_NOT_FOUND] = "not_found",
    [WSGW_HS_METHOD] = "method",
    [WSGW_HS_TOO_LONG] = "too_long",
    [WSGW_HS_VERSION] = "version",
    [WSGW_HS_RATE] = "rate_limited",
    [WSGW_HS_FULL] = "too_many_clients",
    [WSGW_HS_NO_BACKEND] = "no_backend",
    [WSGW_HS_TIMEOUT] = "timeout",
    [WSGW_HS_CLOSED] = "closed",
};

unsigned
wsgw_close_index(unsigned code)
{
    for (unsigned i = 0; i < GW_ARRAY_LEN(close_codes); i++)
        if (close_codes[i] == code)
            return i;
    return WSGW_CLOSE_SERIES - 1;
}

const char *
wsgw_hs_reason(enum wsgw_hs_result r)
{
    return (unsigned)r < WSGW_HS_COUNT ? hs_reasons[r] : "unknown";
}

static void
collect(struct gw_metrics *m, void *arg)
{
    struct wsgw *w = arg;
    double in = gw_metrics_value(m, w->m.deflate_in), out = gw_metrics_value(m, w->m.deflate_out);

    gw_metrics_set(m, w->m.deflate_ratio, in > 0 ? out / in : 0);
    for (unsigned i = 0; i < w->nbackends; i++)
        gw_metrics_set(m, w->backends[i].m_links, atomic_load(&w->backends[i].links_up));
}

static int
backend_series(struct wsgw *w, struct gw_metrics *m, char *err)
{
    int links, fails, dropped, frames;

    links = gw_metrics_family(m, "wsgwd_backend_connections", GW_METRIC_GAUGE,
                              "Framed backend links up (one per worker), by backend.", "backend",
                              NULL, 0, err);
    fails =
        gw_metrics_family(m, "wsgwd_backend_connect_failures_total", GW_METRIC_COUNTER,
                          "Backend connects that failed or timed out.", "backend", NULL, 0, err);
    dropped = gw_metrics_family(m, "wsgwd_backend_dropped_total", GW_METRIC_COUNTER,
                                "Backend links dropped for a bad frame, a timeout or EOF.",
                                "backend", NULL, 0, err);
    frames = gw_metrics_family(m, "wsgwd_backend_frames_total", GW_METRIC_COUNTER,
                               "Frames on framed backend links, by backend and direction.",
                               "backend,direction", NULL, 0, err);
    for (unsigned i = 0; i < w->nbackends; i++) {
        struct wsgw_backend *b = &w->backends[i];
        b->m_links = gw_metrics_series2(m, links, b->name, NULL);
        b->m_connect_failures = gw_metrics_series2(m, fails, b->name, NULL);
        b->m_dropped = gw_metrics_series2(m, dropped, b->name, NULL);
        b->m_frames_in = gw_metrics_series2(m, frames, b->name, "in");
        b->m_frames_out = gw_metrics_series2(m, frames, b->name, "out");
        if (b->m_links < 0 || b->m_frames_out < 0 || b->m_dropped < 0)
            return -1;
    }
    return 0;
}

static int
close_series(struct wsgw_metrics *wm, struct gw_metrics *m, char *err)
{
    int f = gw_metrics_family(m, "wsgwd_close_codes_total", GW_METRIC_COUNTER,
                              "WebSocket close codes, by side (sent or received) and code.",
                              "code,side", NULL, 0, err);
    char code[16];

    for (unsigned i = 0; i < WSGW_CLOSE_SERIES; i++) {
        if (i < GW_ARRAY_LEN(close_codes))
            snprintf(code, sizeof(code), "%u", close_codes[i]);
        else
            gw_strlcpy(code, "other", sizeof(code));
        wm->close_sent[i] = gw_metrics_series2(m, f, code, "sent");
        wm->close_received[i] = gw_metrics_series2(m, f, code, "received");
        if (wm->close_sent[i] < 0 || wm->close_received[i] < 0)
            return -1;
    }
    return 0;
}

static int
worker_series(struct wsgw *w, struct gw_metrics *m, char *err)
{
    int f = gw_metrics_family(m, "wsgwd_worker_clients", GW_METRIC_GAUGE,
                              "WebSocket clients per worker thread.", "worker", NULL, 0, err);
    char idx[16];

    if ((w->m.worker_clients = calloc(w->nworkers, sizeof(int))) == NULL)
        return -1;
    for (unsigned i = 0; i < w->nworkers; i++) {
        snprintf(idx, sizeof(idx), "%u", i);
        if ((w->m.worker_clients[i] = gw_metrics_series2(m, f, idx, NULL)) < 0)
            return -1;
    }
    return 0;
}

int
wsgw_metrics_init(struct wsgw *w, char *err)
{
    struct wsgw_metrics *wm = &w->m;
    struct gw_metrics *m;
    int f, rc = 0;

    if ((m = gw_metrics_new(w->nworkers + 2, 4096 + 16 * w->nbackends, err)) == NULL)
        return -1;
    wm->reg = m;
    wm->connections = gw_metrics_simple(m, "wsgwd_active_connections", GW_METRIC_GAUGE,
                                        "TCP connections open on the WebSocket port.", err);
    wm->connections_total =
        gw_metrics_simple(m, "wsgwd_connections_total", GW_METRIC_COUNTER,
                          "TCP connections accepted on the WebSocket port.", err);
    wm->clients = gw_metrics_simple(m, "wsgwd_clients", GW_METRIC_GAUGE,
                                    "WebSocket clients past the handshake.", err);
    f = gw_metrics_family(m, "wsgwd_handshakes_total", GW_METRIC_COUNTER,
                          "Upgrade requests, by result: ok, or the reason for the refusal.",
                          "result", NULL, 0, err);
    for (int i = 0; i < WSGW_HS_COUNT; i++)
        if ((wm->handshakes[i] = gw_metrics_series2(m, f, hs_reasons[i], NULL)) < 0)
            rc = -1;
    f = gw_metrics_family(m, "wsgwd_messages_total", GW_METRIC_COUNTER,
                          "WebSocket messages, in (from clients) and out (to clients).",
                          "direction", NULL, 0, err);
    wm->messages[WSGW_IN] = gw_metrics_series2(m, f, "in", NULL);
    wm->messages[WSGW_OUT] = gw_metrics_series2(m, f, "out", NULL);
    f = gw_metrics_family(m, "wsgwd_message_bytes_total", GW_METRIC_COUNTER,
                          "WebSocket message payload bytes (uncompressed), by direction.",
                          "direction", NULL, 0, err);
    wm->bytes[WSGW_IN] = gw_metrics_series2(m, f, "in", NULL);
    wm->bytes[WSGW_OUT] = gw_metrics_series2(m, f, "out", NULL);
    f = gw_metrics_family(m, "wsgwd_deflate_bytes_total", GW_METRIC_COUNTER,
                          "Bytes through permessage-deflate, before (raw) and after (compressed).",
                          "stage", NULL, 0, err);
    wm->deflate_in = gw_metrics_series2(m, f, "raw", NULL);
    wm->deflate_out = gw_metrics_series2(m, f, "compressed", NULL);
    wm->deflate_ratio = gw_metrics_simple(m, "wsgwd_deflate_ratio", GW_METRIC_GAUGE,
                                          "Compressed over raw bytes of deflated messages.", err);
    wm->pings_timed_out = gw_metrics_simple(m, "wsgwd_ping_timeouts_total", GW_METRIC_COUNTER,
                                            "Clients closed for not answering pings.", err);
    wm->idle_closed = gw_metrics_simple(m, "wsgwd_idle_closed_total", GW_METRIC_COUNTER,
                                        "Clients closed after idle_timeout.", err);
    wm->output_overflow =
        gw_metrics_simple(m, "wsgwd_output_overflows_total", GW_METRIC_COUNTER,
                          "Clients closed (1013) for not reading their output.", err);
    wm->close_timeouts = gw_metrics_simple(
        m, "wsgwd_close_timeouts_total", GW_METRIC_COUNTER,
        "Connections dropped when the closing handshake did not end within handshake_timeout.",
        err);
    wm->http_requests = gw_metrics_simple(m, "wsgwd_http_requests_total", GW_METRIC_COUNTER,
                                          "Plain HTTP requests on the WebSocket port.", err);
    if (rc < 0 || wm->connections < 0 || wm->clients < 0 || wm->messages[WSGW_OUT] < 0 ||
        wm->bytes[WSGW_OUT] < 0 || wm->deflate_out < 0 || wm->deflate_ratio < 0 ||
        wm->pings_timed_out < 0 || wm->idle_closed < 0 || wm->output_overflow < 0 ||
        wm->close_timeouts < 0 || wm->http_requests < 0 || close_series(wm, m, err) < 0 ||
        backend_series(w, m, err) < 0 || worker_series(w, m, err) < 0) {
        if (!err[0])
            gw_err(err, "metrics registry full");
        return -1;
    }
    gw_metrics_on_collect(m, collect, w);
    return gw_daemon_process_metrics(w->daemon, m);
}
