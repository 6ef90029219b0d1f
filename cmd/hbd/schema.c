/*
 * schema.c -- hbd's configuration keys: the one declaration parsing, validation, defaults,
 * `gwctl validate`, gwkit.conf(5), the struct hbd_config field each fills and the keys a reload
 * cannot change (GW_CONF_RESTART) all come from.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "daemon.h"
#include "hbd.h"
#include "progs.h"

#define MS(x) ((int64_t)(x))
#define SEC(x) ((int64_t)(x)*1000)
#define KIB(x) ((int64_t)(x)*1024)
#define F(member) GW_CONF_FIELD(struct hbd_config, member)

static const struct gw_conf_key hbd_keys[] = {
    {"listen", GW_CONF_ADDR, "*:9002", 0, 0, NULL,
     "TCP and UDP address for heartbeats (host:port, [v6]:port, *:port)", GW_CONF_RESTART,
     F(listen)},
    {"http_listen", GW_CONF_ADDR, "127.0.0.1:9091", 0, 0, NULL,
     "address of the HTTP endpoints (/metrics, /healthz, /readyz, /status, /)", GW_CONF_RESTART,
     F(http_listen)},
    {"udp", GW_CONF_BOOL, "yes", 0, 0, NULL, "also take heartbeats over UDP on the listen port",
     GW_CONF_RESTART, F(udp)},
    {"workers", GW_CONF_INT, "0", 0, 256, NULL,
     "worker threads, each with its own event loop and listener; 0 = one per CPU", GW_CONF_RESTART,
     F(workers)},
    {"io", GW_CONF_ENUM, "auto", 0, 0, "auto|epoll|uring",
     "how workers move connection bytes: io_uring where the kernel allows it (auto), or epoll",
     GW_CONF_RESTART, F(io)},
    {"client_timeout", GW_CONF_DURATION, "60s", SEC(1), SEC(86400), NULL,
     "close a connection that sent no complete line for this long", 0, F(client_timeout_ms)},
    {"cleanup_interval", GW_CONF_DURATION, "30s", MS(100), SEC(3600), NULL,
     "how often idle connections are looked for", 0, F(cleanup_interval_ms)},
    {"max_line", GW_CONF_SIZE, "4k", 64, KIB(64), NULL,
     "longest request line; a longer one gets 'ERR line too long' and a close", 0,
     F(max_line_bytes)},
    {"max_output", GW_CONF_SIZE, "64k", KIB(4), KIB(16384), NULL,
     "replies buffered for a client that does not read them before it is closed", 0,
     F(max_output_bytes)},
    {"max_clients", GW_CONF_INT, "100000", 1, 10000000, NULL,
     "connections held at once; more are refused at accept", 0, F(max_clients)},
    {"default_interval", GW_CONF_DURATION, "5s", MS(100), SEC(86400), NULL,
     "heartbeat interval of a service whose HB line names none", 0, F(default_interval_ms)},
    {"grace", GW_CONF_INT, "3", 2, 1000, NULL,
     "a service is dead after grace x interval without a heartbeat", 0, F(grace)},
    {"min_up", GW_CONF_INT, "1", 1, 1000, NULL,
     "instances that must be up for a service to be up (HB min_up=N overrides)", 0, F(min_up)},
    {"forget_after", GW_CONF_DURATION, "24h", SEC(1), SEC(86400 * 365), NULL,
     "drop a service (or instance) that has been silent this long", 0, F(forget_after_ms)},
    {"max_services", GW_CONF_INT, "10000", 1, 1000000, NULL, "services tracked at once", 0,
     F(max_services)},
    {"max_instances", GW_CONF_INT, "64", 1, 10000, NULL, "instances tracked per service", 0,
     F(max_instances)},
    {"metrics_max_services", GW_CONF_INT, "1000", 0, 1000000, NULL,
     "services with their own hbd_service_* series on /metrics (the worst first); past this, "
     "the rest are counted in hbd_metrics_services_dropped; 0 = none",
     0, F(metrics_max_services)},
    {"alert_url", GW_CONF_STRING, "", 0, 0, NULL,
     "webhooks (space-separated http(s) URLs) that get each state change as a JSON POST", 0,
     F(alert_urls)},
    {"alert_timeout", GW_CONF_DURATION, "5s", MS(100), SEC(300), NULL,
     "time allowed for one webhook request", 0, F(alert_timeout_ms)},
    {"alert_retries", GW_CONF_INT, "5", 0, 100, NULL, "retries of a failed webhook request", 0,
     F(alert_retries)},
    {"alert_backoff", GW_CONF_DURATION, "1s", MS(10), SEC(3600), NULL,
     "first retry delay; it doubles each retry, up to 60 times this, with jitter", 0,
     F(alert_backoff_ms)},
    {"alert_queue", GW_CONF_INT, "1024", 1, 1000000, NULL,
     "alerts waiting for delivery; past this, new ones are dropped and counted", 0, F(alert_queue)},
    {"auth_tokens_file", GW_CONF_STRING, "", 0, 0, NULL,
     "file of 'token [service-glob]' lines: when set, TCP clients send AUTH <token> first, HB "
     "lines and UDP datagrams may carry token=<token>, and a token with a glob beats only for "
     "matching services (read again on reload)",
     0, F(auth_tokens_file)},
    {"max_clients_per_ip", GW_CONF_INT, "0", 0, 10000000, NULL,
     "TCP connections from one address at once (0: no limit); more get 'ERR too many clients "
     "from this address'",
     0, F(max_clients_per_ip)},
    {"new_services_per_ip", GW_CONF_INT, "0", 0, 10000000, NULL,
     "new services one address may create per minute (0: no limit); more get 'ERR too many new "
     "services from this address'",
     0, F(new_services_per_ip)},
    {"udp_rcvbuf", GW_CONF_SIZE, "0", 0, KIB(1024 * 1024), NULL,
     "receive buffer of each UDP socket (0: the kernel's default); bursts past it are dropped by "
     "the kernel and counted in hbd_udp_dropped_total",
     GW_CONF_RESTART, F(udp_rcvbuf)},
    {"store", GW_CONF_BOOL, "yes", 0, 0, NULL,
     "write state changes to heartbeat_events in <state_dir>/gwkit.db", GW_CONF_RESTART, F(store)},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

const struct gw_conf_section hbd_conf_section = {GW_PROG_HBD, 0, hbd_keys, "the heartbeat server"};

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
            rc = gw_err(err, "'%s' is not an http:// or https:// URL", u);
    free(copy);
    return rc;
}

int
hbd_conf_check(const struct gw_conf *c, char *err)
{
    const char *sec = hbd_conf_section.name;
    const char *key =
        gw_conf_field_key(&hbd_conf_section, offsetof(struct hbd_config, alert_urls))->name;
    struct hbd_config cfg = {0};
    char why[GW_ERR_LEN];
    int rc = 0;

    if (gw_conf_bind(c, sec, NULL, &cfg, err) == -1)
        return -1;
    if (check_urls(cfg.alert_urls, why) == -1)
        rc = gw_err(err, "%s: %s: %s", gw_conf_origin(c, sec, NULL, key), key, why);
    gw_conf_unbind(&hbd_conf_section, &cfg);
    return rc;
}
