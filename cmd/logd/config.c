/*
 * config.c -- logd's run-time settings: built from a validated gw_conf, published as an
 * immutable snapshot so inputs and the writer never see a half-applied reload.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "logd.h"
#include "worker.h"

struct logd_config *
logd_config_new(const struct gw_conf *c, char *err)
{
    struct logd_config *cfg = calloc(1, sizeof(*cfg));

#define I(key) gw_conf_int(c, "logd", NULL, key)
    if (!cfg) {
        gw_err(err, "out of memory");
        return NULL;
    }
    cfg->max_line_bytes = (size_t)I("max_line");
    cfg->max_frame_bytes = (size_t)I("max_frame");
    cfg->queue_bytes = (size_t)I("queue_size");
    cfg->batch_bytes = (size_t)I("batch_size");
    cfg->max_clients = (unsigned)I("max_clients");
    cfg->idle_timeout_ms = (uint64_t)I("idle_timeout");
    cfg->max_ingest_bytes = (size_t)I("max_ingest");
    cfg->ingest_timeout_ms = (uint64_t)I("ingest_timeout");
    cfg->format = (enum logd_format)I("format");
    cfg->fsync = (enum logd_fsync)I("fsync");
    cfg->fsync_interval_ms = (uint64_t)I("fsync_interval");
    cfg->rotate_bytes = (uint64_t)I("rotate_size");
    cfg->rotate_interval_ms = (uint64_t)I("rotate_interval");
    cfg->retention = (unsigned)I("retention");
    cfg->compress = (int)I("compress");
#undef I
    if ((cfg->output = strdup(gw_conf_str(c, "logd", NULL, "output"))) == NULL) {
        free(cfg);
        gw_err(err, "out of memory");
        return NULL;
    }
    return cfg;
}

void
logd_config_free(struct logd_config *cfg)
{
    while (cfg) {
        struct logd_config *older = cfg->older;
        free(cfg->output);
        free(cfg);
        cfg = older;
    }
}

/* Keys that only take effect at start: a reload logs them instead of refusing the file. */
static const char *const restart_keys[] = {"syslog_listen", "syslog_udp", "native_listen",
                                           "http_listen",   "dgram_path", "zmq_listen",
                                           "native_path",   "workers",    "io"};

int
logd_reload(void *arg, const struct gw_conf *c, char *err)
{
    struct logd *l = arg;
    const struct gw_conf *old = gw_daemon_conf(l->daemon);
    struct logd_config *cfg = logd_config_new(c, err);

    if (!cfg)
        return -1;
    for (size_t i = 0; i < GW_ARRAY_LEN(restart_keys); i++)
        if (strcmp(gw_conf_str(old, "logd", NULL, restart_keys[i]),
                   gw_conf_str(c, "logd", NULL, restart_keys[i])) != 0)
            GW_LOG_WARN("setting changes at restart only", "key=%s", restart_keys[i]);
    cfg->older = logd_cfg(l);
    atomic_store_explicit(&l->cfg, cfg, memory_order_release);
    if (l->workers)
        gw_workers_set_max_conns(l->workers, cfg->max_clients);
    /* SIGHUP is also logrotate's "reopen your files". */
    logd_writer_reopen(l->writer);
    return 0;
}
