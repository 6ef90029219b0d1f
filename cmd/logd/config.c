/*
 * config.c -- logd's run-time settings: filled from a validated gw_conf through the schema's
 * field bindings, published as an immutable snapshot so inputs and the writer never see a
 * half-applied reload.
 */
#include <stdlib.h>

#include "log.h"
#include "logd.h"
#include "worker.h"

struct logd_config *
logd_config_new(const struct gw_conf *c, char *err)
{
    struct logd_config *cfg = calloc(1, sizeof(*cfg));

    if (!cfg) {
        gw_err(err, "out of memory");
        return NULL;
    }
    if (gw_conf_bind(c, logd_conf_section.name, NULL, cfg, err) == -1) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

void
logd_config_free(struct logd_config *cfg)
{
    while (cfg) {
        struct logd_config *older = cfg->older;
        gw_conf_unbind(&logd_conf_section, cfg);
        free(cfg);
        cfg = older;
    }
}

int
logd_reload(void *arg, const struct gw_conf *c, char *err)
{
    struct logd *l = arg;
    struct logd_config *cfg = logd_config_new(c, err);

    /* Keys marked GW_CONF_RESTART are logged by lib/daemon when they change. Old snapshots
     * stay chained until exit: a reader on any thread may still hold one. */
    if (!cfg)
        return -1;
    cfg->older = logd_cfg(l);
    atomic_store_explicit(&l->cfg, cfg, memory_order_release);
    if (l->workers)
        gw_workers_set_max_conns(l->workers, cfg->max_clients);
    /* SIGHUP is also logrotate's "reopen your files". */
    logd_writer_reopen(l->writer);
    return 0;
}
