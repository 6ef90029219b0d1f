/*
 * config.c -- hbd's run-time settings: built from a validated gw_conf, published as an
 * immutable snapshot so workers never see a half-applied reload.
 */
#include <stdlib.h>
#include <string.h>

#include "hbd.h"
#include "log.h"

struct hbd_config *
hbd_config_new(const struct gw_conf *c, char *err)
{
    struct hbd_config *cfg = calloc(1, sizeof(*cfg));

#define I(key) gw_conf_int(c, "hbd", NULL, key)
    if (!cfg) {
        gw_err(err, "out of memory");
        return NULL;
    }
    cfg->client_timeout_ms = (uint64_t)I("client_timeout");
    cfg->cleanup_interval_ms = (uint64_t)I("cleanup_interval");
    cfg->max_line_bytes = (size_t)I("max_line");
    cfg->max_output_bytes = (size_t)I("max_output");
    cfg->max_clients = (unsigned)I("max_clients");
    cfg->default_interval_ms = (uint64_t)I("default_interval");
    cfg->grace = (unsigned)I("grace");
    cfg->min_up = (unsigned)I("min_up");
    cfg->forget_after_ms = (uint64_t)I("forget_after");
    cfg->max_services = (unsigned)I("max_services");
    cfg->max_instances = (unsigned)I("max_instances");
    cfg->alert_timeout_ms = (uint64_t)I("alert_timeout");
    cfg->alert_retries = (unsigned)I("alert_retries");
    cfg->alert_backoff_ms = (uint64_t)I("alert_backoff");
    cfg->alert_queue = (unsigned)I("alert_queue");
#undef I
    if ((cfg->alert_urls = strdup(gw_conf_str(c, "hbd", NULL, "alert_url"))) == NULL) {
        free(cfg);
        gw_err(err, "out of memory");
        return NULL;
    }
    return cfg;
}

void
hbd_config_free(struct hbd_config *cfg)
{
    while (cfg) {
        struct hbd_config *older = cfg->older;
        free(cfg->alert_urls);
        free(cfg);
        cfg = older;
    }
}

/* Keys that only take effect at start: a reload logs them instead of refusing the file. */
static const char *const restart_keys[] = {"listen", "http_listen", "workers",
                                           "udp",    "store",       "io"};

int
hbd_reload(void *arg, const struct gw_conf *c, char *err)
{
    struct hbd *h = arg;
    const struct gw_conf *old = gw_daemon_conf(h->daemon);
    struct hbd_config *cfg = hbd_config_new(c, err);

    if (!cfg)
        return -1;
    for (size_t i = 0; i < GW_ARRAY_LEN(restart_keys); i++)
        if (strcmp(gw_conf_str(old, "hbd", NULL, restart_keys[i]),
                   gw_conf_str(c, "hbd", NULL, restart_keys[i])) != 0)
            GW_LOG_WARN("setting changes at restart only", "key=%s", restart_keys[i]);
    cfg->older = hbd_cfg(h);
    atomic_store_explicit(&h->cfg, cfg, memory_order_release);
    hbd_server_reloaded(h);
    return 0;
}
