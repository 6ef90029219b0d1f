/*
 * schema.c -- hbd's configuration keys: the one declaration parsing, validation, defaults,
 * `gwctl validate` and gwkit.conf(5) all come from.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "daemon.h"
#include "hbd_schema.h"

#define MS(x) ((int64_t)(x))
#define SEC(x) ((int64_t)(x)*1000)
#define KIB(x) ((int64_t)(x)*1024)

static const struct gw_conf_key hbd_keys[] = {
    {"listen", GW_CONF_ADDR, "*:9002", 0, 0, NULL,
     "TCP and UDP address for heartbeats (host:port, [v6]:port, *:port)"},
    {"http_listen", GW_CONF_ADDR, "127.0.0.1:9091", 0, 0, NULL,
     "address of the HTTP endpoints (/metrics, /healthz, /readyz, /status, /)"},
    {"udp", GW_CONF_BOOL, "yes", 0, 0, NULL, "also take heartbeats over UDP on the listen port"},
    {"workers", GW_CONF_INT, "0", 0, 256, NULL,
     "worker threads, each with its own event loop and listener; 0 = one per CPU"},
    {"io", GW_CONF_ENUM, "auto", 0, 0, "auto|epoll|uring",
     "how workers move connection bytes: io_uring where the kernel allows it (auto), or epoll"},
    {"client_timeout", GW_CONF_DURATION, "60s", SEC(1), SEC(86400), NULL,
     "close a connection that sent no complete line for this long"},
    {"cleanup_interval", GW_CONF_DURATION, "30s", MS(100), SEC(3600), NULL,
     "how often idle connections are looked for"},
    {"max_line", GW_CONF_SIZE, "4k", 64, KIB(64), NULL,
     "longest request line; a longer one gets 'ERR line too long' and a close"},
    {"max_output", GW_CONF_SIZE, "64k", KIB(4), KIB(16384), NULL,
     "replies buffered for a client that does not read them before it is closed"},
    {"max_clients", GW_CONF_INT, "100000", 1, 10000000, NULL,
     "connections held at once; more are refused at accept"},
    {"default_interval", GW_CONF_DURATION, "5s", MS(100), SEC(86400), NULL,
     "heartbeat interval of a service whose HB line names none"},
    {"grace", GW_CONF_INT, "3", 2, 1000, NULL,
     "a service is dead after grace x interval without a heartbeat"},
    {"min_up", GW_CONF_INT, "1", 1, 1000, NULL,
     "instances that must be up for a service to be up (HB min_up=N overrides)"},
    {"forget_after", GW_CONF_DURATION, "24h", SEC(1), SEC(86400 * 365), NULL,
     "drop a service (or instance) that has been silent this long"},
    {"max_services", GW_CONF_INT, "10000", 1, 1000000, NULL, "services tracked at once"},
    {"max_instances", GW_CONF_INT, "64", 1, 10000, NULL, "instances tracked per service"},
    {"alert_url", GW_CONF_STRING, "", 0, 0, NULL,
     "webhooks (space-separated http(s) URLs) that get each state change as a JSON POST"},
    {"alert_timeout", GW_CONF_DURATION, "5s", MS(100), SEC(300), NULL,
     "time allowed for one webhook request"},
    {"alert_retries", GW_CONF_INT, "5", 0, 100, NULL, "retries of a failed webhook request"},
    {"alert_backoff", GW_CONF_DURATION, "1s", MS(10), SEC(3600), NULL,
     "first retry delay; it doubles each retry, up to 60 times this, with jitter"},
    {"alert_queue", GW_CONF_INT, "1024", 1, 1000000, NULL,
     "alerts waiting for delivery; past this, new ones are dropped and counted"},
    {"store", GW_CONF_BOOL, "yes", 0, 0, NULL,
     "write state changes to heartbeat_events in <state_dir>/gwkit.db"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

const struct gw_conf_section hbd_conf_section = {"hbd", 0, hbd_keys, "the heartbeat server"};

const struct gw_conf_section *const hbd_schema[] = {&gw_daemon_global_section, &hbd_conf_section,
                                                    NULL};

static int
check_urls(const char *urls, char *err)
{
    char *copy = strdup(urls), *save = NULL;
    int rc = 0;

    if (!copy)
        return gw_err(err, "out of memory");
    for (char *u = strtok_r(copy, " \t", &save); u && rc == 0; u = strtok_r(NULL, " \t", &save))
        if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
            rc = gw_err(err, "alert_url: '%s' is not an http:// or https:// URL", u);
    free(copy);
    return rc;
}

int
hbd_conf_check(const struct gw_conf *c, char *err)
{
    char why[GW_ERR_LEN];

    if (check_urls(gw_conf_str(c, "hbd", NULL, "alert_url"), why) == -1)
        return gw_err(err, "%s: %s", gw_conf_origin(c, "hbd", NULL, "alert_url"), why);
    return 0;
}
