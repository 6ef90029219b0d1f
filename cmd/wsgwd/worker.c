/*
 * worker.c -- wsgwd's network threads on lib/worker: each worker's state (its clients by id,
 * its backend links, a scratch buffer), drain, and the control commands that ask every
 * worker (clients, kick).
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "worker.h"
#include "wsgwd.h"
#include "wsgwd_ctl.h"

#define ASK_TIMEOUT_MS 2000
#define SCRATCH_MAX (2u * 1024 * 1024 * 1024 - 1)

static int
on_start(struct gw_worker *gwk, void *arg, char *err)
{
    struct wsgw *w = arg;
    struct wsgw_worker *wk = calloc(1, sizeof(*wk));

    if (!wk || (w->nbackends && (wk->links = calloc(w->nbackends, sizeof(*wk->links))) == NULL)) {
        free(wk);
        return gw_err(err, "out of memory");
    }
    wk->w = w;
    wk->index = gw_worker_index(gwk);
    wk->ev = gw_worker_ev(gwk);
    wk->loop = gw_worker_loop(gwk);
    gw_buf_init(&wk->scratch, SCRATCH_MAX);
    w->workers[wk->index] = wk;
    gw_worker_set_data(gwk, wk);
    gw_metrics_bind_thread(w->m.reg, wk->index);
    wsgw_links_start(wk);
    atomic_fetch_add(&w->listening, 1);
    return 0;
}

/* Every client gets 1001 before the layer finishes the connections. */
static void
on_drain(struct gw_worker *gwk, void *arg)
{
    struct wsgw_worker *wk = gw_worker_data(gwk);

    (void)arg;
    wk->draining = 1;
    wk->stopping = 1;
    atomic_fetch_sub(&wk->w->listening, 1);
    for (struct wsgw_client *cl = wk->conns, *next; cl; cl = next) {
        next = cl->next;
        wsgw_client_close(cl, WSGW_CLOSE_GOING_AWAY, "server shutting down", 0);
    }
}

/* The links go first; the clients still open are closed by the layer right after, and the
 * worker's struct is freed by wsgw_workers_stop once the thread has ended. */
static void
on_stop(struct gw_worker *gwk, void *arg)
{
    struct wsgw_worker *wk = gw_worker_data(gwk);

    (void)arg;
    wk->stopping = 1;
    wsgw_links_stop(wk);
}

static void
on_adopt_error(struct gw_worker *gwk, const char *err, void *arg)
{
    (void)gwk;
    (void)arg;
    GW_LOG_DEBUG("cannot take connection", "err=%s", err);
}

static void
on_accept_error(struct gw_worker *gwk, enum gw_listener_error what, int errnum, void *arg)
{
    (void)arg;
    if (what != GW_LISTENER_ERR_CONN)
        GW_LOG_WARN("accept failed", "worker=%u err=%s", gw_worker_index(gwk), strerror(errnum));
}

int
wsgw_workers_start(struct wsgw *w, char *err)
{
    struct gw_worker_opts o = {0};
    int io = gw_conn_io_parse(w->io_want);
    char why[GW_ERR_LEN];
    unsigned failed;

    if (io == GW_CONN_IO_URING && gw_conn_uring_probe(why) == -1)
        return gw_err(err, "io = uring: %s", why);
    if (io == GW_CONN_IO_AUTO && gw_conn_uring_probe(why) == -1)
        GW_LOG_INFO("io_uring cannot be used here, using epoll", "err=%s", why);
    if ((w->workers = calloc(w->nworkers, sizeof(*w->workers))) == NULL)
        return gw_err(err, "out of memory");
    o.count = w->nworkers;
    o.io = io < 0 ? GW_CONN_IO_AUTO : (enum gw_conn_io)io;
    o.listen = &w->listen_addr;
    o.proto = &wsgw_client_proto;
    o.arg = w;
    o.on_start = on_start;
    o.on_drain = on_drain;
    o.on_stop = on_stop;
    o.on_accept_error = on_accept_error;
    o.on_adopt_error = on_adopt_error;
    if ((w->pool = gw_workers_start(&o, &failed, err)) == NULL)
        return -1;
    return 0;
}

void
wsgw_workers_drain(struct wsgw *w)
{
    if (w->pool)
        gw_workers_drain(w->pool);
}

void
wsgw_workers_stop(struct wsgw *w)
{
    gw_workers_stop(w->pool);
    w->pool = NULL;
    for (unsigned i = 0; w->workers && i < w->nworkers; i++) {
        struct wsgw_worker *wk = w->workers[i];
        if (!wk)
            continue;
        gw_buf_reset(&wk->scratch);
        free(wk->table);
        free(wk->links);
        free(wk);
    }
    free(w->workers);
    w->workers = NULL;
}

const char *
wsgw_io_in_use(const struct wsgw *w)
{
    return w->pool ? gw_workers_backend(w->pool) : "none";
}

/* ---- clients: each worker lists its own ---- */

static void *
ask_clients(struct gw_worker *gwk, void *arg)
{
    struct wsgw_worker *wk = gw_worker_data(gwk);
    uint64_t now = gw_ev_now_ms(wk->ev);
    json_t *list = json_array();

    (void)arg;
    for (struct wsgw_client *cl = wk->conns; cl; cl = cl->next)
        if (cl->id)
            json_array_append_new(list, wsgw_client_json(cl, now));
    return list;
}

static void
clients_done(void **parts, unsigned n, void *arg)
{
    json_t *all = json_array();

    for (unsigned i = 0; i < n; i++)
        if (parts[i]) {
            json_array_extend(all, parts[i]);
            json_decref(parts[i]);
        }
    gw_ctl_reply(arg, json_pack("{s:o}", WSGW_F_CLIENTS, all));
}

static void
free_json(void *part)
{
    json_decref(part);
}

void
wsgw_workers_clients(struct wsgw *w, struct gw_ctl_req *r)
{
    char err[GW_ERR_LEN];

    if (gw_workers_ask(w->pool, gw_daemon_ev(w->daemon), ASK_TIMEOUT_MS, ask_clients, clients_done,
                       free_json, r, err) == -1)
        gw_ctl_error(r, "failed", "%s", err);
}

/* ---- kick: the worker holding the id closes it ---- */

struct kick {
    struct gw_ctl_req *r;
    uint32_t id;
    unsigned code;
};

static void *
ask_kick(struct gw_worker *gwk, void *arg)
{
    struct wsgw_worker *wk = gw_worker_data(gwk);
    struct kick *k = arg;
    struct wsgw_client *cl = wsgw_client_find(wk, k->id);

    if (!cl || cl->state != WSGW_OPEN)
        return NULL;
    GW_LOG_INFO("client kicked", "client=%u code=%u addr=%s", k->id, k->code, gw_conn_addr(cl->c));
    wsgw_client_close(cl, k->code, "kicked", 0);
    return k;
}

static void
kick_done(void **parts, unsigned n, void *arg)
{
    struct kick *k = arg;
    int found = 0;

    for (unsigned i = 0; i < n; i++)
        found |= parts[i] != NULL;
    if (found)
        gw_ctl_reply(
            k->r, json_pack("{s:I, s:i}", WSGW_F_ID, (json_int_t)k->id, WSGW_F_CODE, (int)k->code));
    else
        gw_ctl_error(k->r, "not_found", "no client %u", k->id);
    free(k);
}

void
wsgw_workers_kick(struct wsgw *w, uint32_t id, unsigned code, struct gw_ctl_req *r)
{
    struct kick *k = malloc(sizeof(*k));
    char err[GW_ERR_LEN];

    if (!k) {
        gw_ctl_error(r, "failed", "out of memory");
        return;
    }
    k->r = r;
    k->id = id;
    k->code = code;
    if (gw_workers_ask(w->pool, gw_daemon_ev(w->daemon), ASK_TIMEOUT_MS, ask_kick, kick_done, NULL,
                       k, err) == -1) {
        free(k);
        gw_ctl_error(r, "failed", "%s", err);
    }
}
