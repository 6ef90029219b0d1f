/*
 * main.c -- hbd, the heartbeat server: start-up and shut-down, in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fdlimit.h"
#include "hbd.h"
#include "httpd.h"
#include "log.h"

#define SWEEP_MS 100
#define RATE_MS 1000
#define ALERT_GRACE_MS 2000
#define NEW_SERVICES_SUMMARY_MS 10000

static int
operands(struct gw_daemon *d, int argc, char **argv, char *err)
{
    char addr[GW_ADDR_STRLEN];

    if (argc > 1)
        return gw_err(err, "too many arguments: hbd [PORT | HOST:PORT]");
    if (strspn(argv[0], "0123456789") == strlen(argv[0]))
        snprintf(addr, sizeof(addr), "*:%s", argv[0]);
    else
        gw_strlcpy(addr, argv[0], sizeof(addr));
    return gw_daemon_override(d, "hbd", "listen", addr, err);
}

static void
drain(void *arg)
{
    hbd_server_drain(arg);
}

static int
drained(void *arg)
{
    struct hbd *h = arg;

    return hbd_conns(h) == 0;
}

static const struct gw_daemon_desc desc = {
    .prog = "hbd",
    .summary = "hbd -- heartbeat server: PING/HB over TCP and UDP, liveness of named services,\n"
               "state changes to the database and to alert webhooks, Prometheus metrics.",
    .usage = "[PORT | HOST:PORT]",
    .options = "  PORT, HOST:PORT    listen address for TCP and UDP heartbeats ([hbd] listen)\n",
    .schema = hbd_schema,
    .operands = operands,
    .check = hbd_conf_check,
    .reload = hbd_reload,
    .drain = drain,
    .drained = drained,
    .status = hbd_status,
    .health = hbd_health,
};

/* Each worker's epoll, eventfd, listener, UDP socket and ring, plus the main thread's own. */
#define OWN_FDS(workers) (32 + 6 * (workers))

static void
raise_fd_limit(struct hbd *h)
{
    struct gw_fdlimit l;
    char err[GW_ERR_LEN];
    unsigned max = hbd_cfg(h)->max_clients;

    if (gw_fdlimit_raise(&l, err) == -1)
        GW_LOG_WARN("cannot raise the open-files limit", "limit=%llu err=%s",
                    (unsigned long long)l.soft, err);
    else
        GW_LOG_INFO("open-files limit", "limit=%llu was=%llu", (unsigned long long)l.soft,
                    (unsigned long long)l.before);
    if (gw_fdlimit_short(&l, max, OWN_FDS(h->nworkers)))
        GW_LOG_WARN("max_clients does not fit in the open-files limit (raise ulimit -n or "
                    "LimitNOFILE=)",
                    "max_clients=%u limit=%llu needed=%llu", max, (unsigned long long)l.soft,
                    (unsigned long long)(max + OWN_FDS(h->nworkers)));
}

static int
configure(struct hbd *h)
{
    const struct gw_conf *c = gw_daemon_conf(h->daemon);
    static const char *const io_names[] = {"auto", "epoll", "uring"};
    char err[GW_ERR_LEN];
    struct hbd_config *cfg = hbd_config_new(c, err);
    int io;

    if (cfg == NULL) {
        GW_LOG_ERROR("bad configuration", "err=%s", err);
        return -1;
    }
    atomic_store(&h->cfg, cfg);
    h->nworkers = cfg->workers > 0 ? cfg->workers : gw_ncpus();
    if ((io = hbd_io_select(io_names[cfg->io < 3 ? cfg->io : 0])) == -1)
        return -1;
    h->io = (enum gw_conn_io)io;
    h->udp = cfg->udp;
    h->started_ms = gw_mono_ms();
    gw_strlcpy(h->listen_str, cfg->listen, sizeof(h->listen_str));
    gw_strlcpy(h->http_str, cfg->http_listen, sizeof(h->http_str));
    if (gethostname(h->hostname, sizeof(h->hostname)) == -1)
        gw_strlcpy(h->hostname, "unknown", sizeof(h->hostname));
    if (gw_net_parse_addr(h->listen_str, 0, &h->listen_addr, err) == -1) {
        GW_LOG_ERROR("bad listen address", "err=%s", err);
        return -1;
    }
    gw_strlcpy(err, "out of memory", sizeof(err));
    if ((h->reg = hbd_registry_new(h)) == NULL || (h->sources = hbd_sources_new()) == NULL ||
        hbd_metrics_init(h, err) == -1) {
        GW_LOG_ERROR("cannot set up", "err=%s", err);
        return -1;
    }
    gw_metrics_bind_thread(h->m.reg, h->nworkers);
    raise_fd_limit(h);
    return 0;
}

static int
open_store(struct hbd *h)
{
    const struct gw_daemon_global *g = gw_daemon_global(h->daemon);
    char path[4096], err[GW_ERR_LEN];

    if (!hbd_cfg(h)->store)
        return 0;
    snprintf(path, sizeof(path), "%s/gwkit.db", g->state_dir);
    gw_strlcpy(h->store_path, path, sizeof(h->store_path));
    h->store = gw_store_open(path, hbd_store_tables, g->history_days, err);
    if (!h->store) {
        GW_LOG_ERROR("cannot open the database (set [global] state_dir, or [hbd] store = no)",
                     "path=%s err=%s", path, err);
        return -1;
    }
    GW_LOG_INFO("database open", "path=%s", path);
    if (hbd_registry_restore(h->reg, err) == -1) {
        GW_LOG_ERROR("cannot read the watch list", "path=%s err=%s", path, err);
        return -1;
    }
    return 0;
}

static int
start_workers(struct hbd *h)
{
    char err[GW_ERR_LEN];

    if ((h->alerter = hbd_alerter_start(h, err)) == NULL) {
        GW_LOG_ERROR("cannot start alerts", "err=%s", err);
        return -1;
    }
    if (hbd_server_start(h) == -1)
        return -1;
    GW_LOG_INFO("listening", "addr=%s udp=%s workers=%u io=%s", h->listen_str,
                h->udp ? "yes" : "no", h->nworkers, hbd_io_in_use(h));
    return 0;
}

#define PAGE_MAX_SERVICES 1000

static const struct gw_page_col service_cols[] = {
    {"name", "service", GW_PAGE_TEXT},
    {"state", "state", GW_PAGE_STATE},
    {"instances_up", "instances up", GW_PAGE_TEXT},
    {"silent_s", "last beat", GW_PAGE_SECS},
    {"interval_ms", "interval", GW_PAGE_MS},
    {"heartbeats", "heartbeats", GW_PAGE_NUM},
    {"labels", "labels", GW_PAGE_KV},
    {NULL, NULL, 0},
};

static const struct gw_page_table page_tables[] = {
    {"Services", "service_list", service_cols},
    {NULL, NULL, NULL},
};

/* /status is the control socket's status plus the page's list of services. */
static json_t *
http_status(void *arg)
{
    struct hbd *h = arg;
    json_t *st = gw_daemon_status(h->daemon);
    size_t more;

    if (st == NULL)
        return NULL;
    json_object_set_new(st, "service_list", hbd_registry_page(h->reg, PAGE_MAX_SERVICES, &more));
    json_object_set_new(st, "service_list_more", json_integer((json_int_t)more));
    return st;
}

static int
start_http(struct hbd *h)
{
    struct gw_httpd_check checks[] = {{"accepting", gw_daemon_ready_check, h->daemon},
                                      {"store", hbd_store_ready, h}};
    struct gw_httpd_opts o = {.prog = "hbd",
                              .metrics = h->m.reg,
                              .status = http_status,
                              .status_arg = h,
                              .checks = checks,
                              .nchecks = GW_ARRAY_LEN(checks),
                              .page_tables = page_tables};
    struct gw_addr addr;
    char err[GW_ERR_LEN];

    gw_daemon_http_limits(h->daemon, &o);
    if (gw_net_parse_addr(h->http_str, 0, &addr, err) == -1 ||
        (h->httpd = gw_httpd_start(&addr, &o, err)) == NULL) {
        GW_LOG_ERROR("cannot start HTTP endpoints", "addr=%s err=%s", h->http_str, err);
        return -1;
    }
    GW_LOG_INFO("http listening", "addr=%s", h->http_str);
    return 0;
}

/* One info line for the services created since the last one (each is a debug line): at the
 * first rate tick after a creation, then at most every NEW_SERVICES_SUMMARY_MS. */
static void
new_services_summary(struct hbd *h, uint64_t now)
{
    unsigned long n;

    if (now - h->new_services_logged_ms < NEW_SERVICES_SUMMARY_MS)
        return;
    if ((n = atomic_exchange(&h->new_services, 0)) > 0) {
        GW_LOG_INFO("new services", "count=%lu since_s=%llu", n,
                    (unsigned long long)(h->new_services_logged_ms
                                             ? (now - h->new_services_logged_ms) / 1000
                                             : 0));
        h->new_services_logged_ms = now;
    }
}

static void
on_sweep(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct hbd *h = arg;

    hbd_registry_sweep(h->reg);
    gw_ev_timer_start(ev, t, SWEEP_MS);
}

static void
on_rate(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct hbd *h = arg;
    uint64_t now = gw_ev_now_ms(ev);
    uint64_t msgs = (uint64_t)(gw_metrics_value(h->m.reg, h->m.msgs_tcp) +
                               gw_metrics_value(h->m.reg, h->m.msgs_udp));

    /* Published through the registry: the HTTP thread and the control socket read it. */
    if (now > h->rate_last_ms)
        gw_metrics_set(h->m.reg, h->m.msgs_per_second,
                       (double)(msgs - h->rate_last_msgs) * 1000.0 /
                           (double)(now - h->rate_last_ms));
    h->rate_last_msgs = msgs;
    h->rate_last_ms = now;
    hbd_store_watch(h);
    hbd_sources_sweep(h->sources, gw_mono_ms());
    new_services_summary(h, now);
    gw_ev_timer_start(ev, t, RATE_MS);
}

static void
start_timers(struct hbd *h)
{
    struct gw_ev *ev = gw_daemon_ev(h->daemon);

    gw_ev_timer_init(&h->sweep_timer, on_sweep, h);
    gw_ev_timer_start(ev, &h->sweep_timer, SWEEP_MS);
    gw_ev_timer_init(&h->rate_timer, on_rate, h);
    h->rate_last_ms = gw_ev_now_ms(ev);
    gw_ev_timer_start(ev, &h->rate_timer, RATE_MS);
}

/* Tears down whatever was started, in reverse order; safe after a partial start. HTTP goes
 * first: its /status and stats page read the workers. */
static void
stop(struct hbd *h)
{
    if (h->httpd)
        gw_httpd_stop(h->httpd);
    hbd_server_stop(h);
    hbd_alerter_stop(h->alerter, ALERT_GRACE_MS);
    if (h->store)
        gw_store_close(h->store);
    hbd_registry_free(h->reg);
    hbd_sources_free(h->sources);
    hbd_metrics_free(h);
    hbd_config_stop(h);
    gw_daemon_free(h->daemon);
    curl_global_cleanup();
}

int
main(int argc, char **argv)
{
    static struct hbd h;
    struct gw_daemon *d;
    int rc;

    if ((d = h.daemon = gw_daemon_new(&desc, &h)) == NULL)
        return 1;
    if ((rc = gw_daemon_args(d, argc, argv)) != 0 || (rc = gw_daemon_load(d)) != 0) {
        gw_daemon_free(d);
        return GW_DAEMON_EXIT(rc);
    }
    gw_daemon_start_logging(d);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* The control socket before HTTP: HTTP's thread serves /status (which names the socket) at
     * once. */
    if (gw_daemon_drop_privileges(d) == -1 || configure(&h) == -1 || open_store(&h) == -1 ||
        start_workers(&h) == -1 || gw_daemon_open_ctl(d, hbd_ctl_cmds) == -1 ||
        start_http(&h) == -1) {
        stop(&h);
        return 1;
    }
    start_timers(&h);
    gw_daemon_ready(d);
    gw_daemon_run(d);
    stop(&h);
    return 0;
}
