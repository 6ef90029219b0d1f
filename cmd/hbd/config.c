/*
 * config.c -- hbd's run-time settings: filled from a validated gw_conf through the schema's
 * field bindings, published as an immutable snapshot so readers never see a half-applied
 * reload, and freed once no reader can hold it any more (lib/snap.h).
 *
 * Readers: the worker threads (their gw_ev loops, which mark nothing: a retire posts each one
 * a call that runs between callbacks), the alert thread (offline while it waits in
 * curl_multi_poll) and the main thread (the writer, which never reclaims while it holds one).
 * No other thread reads the config.
 */
#include <stdlib.h>
#include <string.h>

#include "hbd.h"
#include "log.h"
#include "worker.h"

#define RECLAIM_RETRY_MS 50

struct hbd_config *
hbd_config_new(const struct gw_conf *c, char *err)
{
    struct hbd_config *cfg = calloc(1, sizeof(*cfg));

    if (!cfg) {
        gw_err(err, "out of memory");
        return NULL;
    }
    if (gw_conf_bind(c, hbd_conf_section.name, NULL, cfg, err) == -1) {
        free(cfg);
        return NULL;
    }
    if (cfg->auth_tokens_file[0] &&
        hbd_tokens_load(cfg->auth_tokens_file, &cfg->tokens, err) == -1) {
        gw_conf_unbind(&hbd_conf_section, cfg);
        free(cfg);
        return NULL;
    }
    return cfg;
}

static void
snapshot_free(struct gw_snap *s)
{
    struct hbd_config *cfg = GW_SNAP_OF(s, struct hbd_config, snap);

    hbd_tokens_free(&cfg->tokens);
    gw_conf_unbind(&hbd_conf_section, cfg);
    free(cfg);
}

void
hbd_config_free(struct hbd_config *cfg)
{
    if (!cfg)
        return;
    gw_snap_free_chain(&cfg->snap, snapshot_free);
    snapshot_free(&cfg->snap);
}

void
hbd_config_stop(struct hbd *h)
{
    hbd_config_free(atomic_exchange(&h->cfg, NULL));
    gw_snap_readers_free(&h->cfg_readers);
}

/* Every worker loop must be a reader before a snapshot it may hold is retired. The workers
 * start after the first snapshot is published, and only a reload retires one, so adding them
 * here, before the retire, is in time. */
static int
add_worker_loops(struct hbd *h, char *err)
{
    unsigned n = h->workers ? gw_workers_count(h->workers) : 0;

    for (; h->cfg_loops < n; h->cfg_loops++)
        if (gw_snap_reader_add_loop(&h->cfg_readers,
                                    gw_worker_ev(gw_workers_get(h->workers, h->cfg_loops)),
                                    err) == NULL)
            return -1;
    return 0;
}

/* Main thread (the writer): frees what every reader has passed, and looks again shortly while
 * something is left (readers pass within a loop iteration; the alert thread within its poll). */
static void
reclaim(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct hbd *h = arg;

    if (gw_snap_reclaim(&h->cfg_readers, &hbd_cfg(h)->snap, snapshot_free) > 0)
        gw_ev_timer_start(ev, t, RECLAIM_RETRY_MS);
}

int
hbd_reload(void *arg, const struct gw_conf *c, char *err)
{
    struct hbd *h = arg;
    struct hbd_config *cfg, *old = hbd_cfg(h);
    struct gw_ev *ev = gw_daemon_ev(h->daemon);

    if (add_worker_loops(h, err) == -1 || (cfg = hbd_config_new(c, err)) == NULL)
        return -1;
    atomic_store_explicit(&h->cfg, cfg, memory_order_release);
    gw_snap_retire(&h->cfg_readers, &cfg->snap, &old->snap);
    if (!h->cfg_reclaim.fn)
        gw_ev_timer_init(&h->cfg_reclaim, reclaim, h);
    reclaim(ev, &h->cfg_reclaim, h);
    hbd_server_reloaded(h);
    hbd_metrics_reloaded(h);
    return 0;
}
