/*
 * ctl.c -- wsgwd's own control commands (clients, kick, backends), its status and health, and
 * the readiness check of /readyz. The common commands (reload, drain, log-level, shutdown, ...)
 * come from lib/daemon.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "wsgwd.h"
#include "wsgwd_ctl.h"

static uint64_t
counter(struct wsgw *w, int series)
{
    return (uint64_t)gw_metrics_value(w->m.reg, series);
}

static int
backend_up(const struct wsgw_backend *b)
{
    return b->proto == WSGW_RAW ? !atomic_load(&b->down) : atomic_load(&b->links_up) > 0;
}

static unsigned
backends_up(struct wsgw *w)
{
    unsigned n = 0;

    for (unsigned i = 0; i < w->nbackends; i++)
        n += (unsigned)backend_up(&w->backends[i]);
    return n;
}

json_t *
wsgw_backends_json(struct wsgw *w)
{
    json_t *list = json_array();

    for (unsigned i = 0; i < w->nbackends; i++) {
        struct wsgw_backend *b = &w->backends[i];
        json_array_append_new(
            list, json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I}", WSGW_F_ID,
                            (int)b->id, WSGW_F_NAME, b->name, WSGW_F_ADDRESS, b->addr_str,
                            WSGW_F_PROTOCOL, b->proto == WSGW_RAW ? "raw" : "frames", WSGW_F_STATE,
                            backend_up(b) ? "up" : "down", WSGW_F_LINKS, atomic_load(&b->links_up),
                            WSGW_F_WORKERS, (int)w->nworkers, WSGW_F_CLIENTS,
                            (json_int_t)atomic_load(&b->clients), WSGW_F_CONNECT_FAILURES,
                            (json_int_t)counter(w, b->m_connect_failures), WSGW_F_FRAMES_IN,
                            (json_int_t)counter(w, b->m_frames_in), WSGW_F_FRAMES_OUT,
                            (json_int_t)counter(w, b->m_frames_out)));
    }
    return list;
}

/* Thread-safe: used by the HTTP thread and the control socket. */
json_t *
wsgw_status(void *arg)
{
    struct wsgw *w = arg;

    return json_pack(
        "{s:{s:s, s:s}, s:i, s:s, s:i, s:i, s:I, s:{s:I, s:I}, s:{s:I, s:I}, s:{s:i, s:i}}",
        "listeners", "ws", w->listen_str, "http", w->http_str, "workers", (int)w->nworkers, "io",
        wsgw_io_in_use(w), "connections", atomic_load(&w->nconns), "clients",
        atomic_load(&w->nclients), "handshakes_total",
        (json_int_t)counter(w, w->m.handshakes[WSGW_HS_OK]), "messages", "in",
        (json_int_t)counter(w, w->m.messages[WSGW_IN]), "out",
        (json_int_t)counter(w, w->m.messages[WSGW_OUT]), "bytes", "in",
        (json_int_t)counter(w, w->m.bytes[WSGW_IN]), "out",
        (json_int_t)counter(w, w->m.bytes[WSGW_OUT]), "backends", "total", (int)w->nbackends, "up",
        (int)backends_up(w));
}

json_t *
wsgw_health(void *arg)
{
    struct wsgw *w = arg;
    unsigned up = backends_up(w);
    int clients = atomic_load(&w->nclients);
    const char *status = "ok";
    char summary[200];

    if (w->nbackends == 0 || up == 0)
        status = "critical";
    else if (up < w->nbackends)
        status = "warning";
    snprintf(summary, sizeof(summary), "%d client%s, %u of %u backend%s up", clients,
             clients == 1 ? "" : "s", up, w->nbackends, w->nbackends == 1 ? "" : "s");
    return json_pack("{s:s, s:s, s:{s:i, s:i, s:i}}", "status", status, "summary", summary,
                     "perfdata", "clients", clients, "backends_up", (int)up, "backends",
                     (int)w->nbackends);
}

int
wsgw_ready_check(void *arg, char *detail, size_t len)
{
    struct wsgw *w = arg;
    unsigned up = backends_up(w);
    int listening = atomic_load(&w->listening);

    if (gw_daemon_draining(w->daemon)) {
        snprintf(detail, len, "draining");
        return 0;
    }
    if (listening < (int)w->nworkers) {
        snprintf(detail, len, "%d of %u workers listening", listening, w->nworkers);
        return 0;
    }
    snprintf(detail, len, "listening on %s, %u of %u backends reachable", w->listen_str, up,
             w->nbackends);
    return up > 0;
}

static void
cmd_clients(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)args;
    wsgw_workers_clients(arg, r);
}

static int
int_arg(json_t *args, const char *key, long long min, long long max, long long *out)
{
    json_t *v = json_object_get(args, key);
    char *end;

    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_string(v) && json_string_value(v)[0]) {
        *out = strtoll(json_string_value(v), &end, 10);
        if (*end)
            return -1;
    } else {
        return v ? -1 : 0;
    }
    return *out >= min && *out <= max ? 1 : -1;
}

static void
cmd_kick(struct gw_ctl_req *r, json_t *args, void *arg)
{
    long long id = 0, code = WSGW_KICK_CODE;

    if (int_arg(args, WSGW_ARG_ID, 1, UINT32_MAX, &id) != 1) {
        gw_ctl_error(r, "bad_args", "usage: kick {\"id\":ID, \"code\":CODE} (ID a client id)");
        return;
    }
    /* Codes a server may send: 1000-1003, 1007-1014 (not 1004-1006, 1015), and 3000-4999. */
    if (int_arg(args, WSGW_ARG_CODE, 1000, 4999, &code) < 0 || (code > 1014 && code < 3000) ||
        (code >= 1004 && code <= 1006)) {
        gw_ctl_error(r, "bad_args", "code must be a close code: 1000-1003, 1007-1014 or 3000-4999");
        return;
    }
    wsgw_workers_kick(arg, (uint32_t)id, (unsigned)code, r);
}

static void
cmd_backends(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)args;
    gw_ctl_reply(r, json_pack("{s:o}", WSGW_F_BACKENDS, wsgw_backends_json(arg)));
}

const struct gw_ctl_cmd wsgw_ctl_cmds[] = {
    {WSGW_CMD_CLIENTS, cmd_clients, "WebSocket clients: id, address, path, age, bytes, backend",
     NULL},
    {WSGW_CMD_KICK, cmd_kick, "close a client: {\"id\":ID, \"code\":1008}", NULL},
    {WSGW_CMD_BACKENDS, cmd_backends, "backends and their links", NULL},
    {NULL, NULL, NULL, NULL},
};
