/*
 * main.c -- wsgwd, the WebSocket gateway: start-up and shut-down, in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdlimit.h"
#include "httpd.h"
#include "page.h"
#include "log.h"
#include "wsgwd.h"

static struct wsgw gw;

static int
all_digits(const char *s)
{
    return s[0] && strspn(s, "0123456789") == strlen(s);
}

/* wsgwd [PORT | HOST:PORT [BACKEND ...]]: the listen address, then static backends named
 * cli-1, cli-2, ... (raw ones with --raw, as websockify takes them). */
static int
operands(struct gw_daemon *d, int argc, char **argv, char *err)
{
    char addr[GW_ADDR_STRLEN], section[32];

    if (all_digits(argv[0]))
        snprintf(addr, sizeof(addr), "*:%s", argv[0]);
    else
        gw_strlcpy(addr, argv[0], sizeof(addr));
    if (gw_daemon_override(d, "wsgwd", "listen", addr, err) == -1)
        return -1;
    if (gw.raw_mode && argc < 2)
        return gw_err(err, "--raw needs a backend: wsgwd --raw PORT HOST:PORT");
    for (int i = 1; i < argc; i++) {
        snprintf(section, sizeof(section), "backend cli-%d", i);
        if (gw_daemon_override(d, section, "address", argv[i], err) == -1 ||
            (gw.raw_mode && gw_daemon_override(d, section, "protocol", "raw", err) == -1))
            return -1;
        gw.cli_backends++;
    }
    return 0;
}

/* --raw is wsgwd's own option: taken out before lib/daemon parses the rest. */
static void
take_raw_option(int *argc, char **argv)
{
    int j = 1;

    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < *argc)
                argv[j++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--raw") == 0)
            gw.raw_mode = 1;
        else
            argv[j++] = argv[i];
    }
    *argc = j;
    argv[j] = NULL;
}

static void
drain(void *arg)
{
    wsgw_workers_drain(arg);
}

static int
drained(void *arg)
{
    struct wsgw *w = arg;

    return atomic_load(&w->nconns) == 0;
}

static const struct gw_daemon_desc desc = {
    .prog = "wsgwd",
    .summary = "wsgwd -- WebSocket gateway: RFC 6455 clients bridged to TCP backends, framed\n"
               "(clients multiplexed over one link) or raw (websockify-compatible).",
    .usage = "[--raw] [PORT | HOST:PORT [BACKEND_HOST:PORT ...]]",
    .options = "  --raw              operand backends are raw TCP (websockify: wsgwd --raw 8080 "
               "127.0.0.1:5900)\n"
               "  PORT, HOST:PORT    WebSocket listen address ([wsgwd] listen)\n"
               "  BACKEND_HOST:PORT  a backend, named cli-1, cli-2, ... ([backend NAME] address)\n",
    .schema = wsgw_schema,
    .operands = operands,
    .check = wsgw_conf_check,
    .reload = wsgw_reload,
    .drain = drain,
    .drained = drained,
    .status = wsgw_status,
    .health = wsgw_health,
};

/* Descriptors besides the clients: per worker its loop, listener, eventfd and a link per
 * backend; the HTTP and control sockets and the logs. */
#define OWN_FDS(w) (64 + (uint64_t)(w)->nworkers * (4 + (w)->nbackends))

/* Each client holds its connection, and a raw backend's client one more. */
static void
raise_fd_limit(struct wsgw *w)
{
    uint64_t per_client = 1;
    struct gw_fdlimit l;
    char err[GW_ERR_LEN];
    unsigned max = wsgw_cfg(w)->max_clients;

    for (unsigned i = 0; i < w->nbackends; i++)
        if (w->backends[i].proto == WSGW_RAW)
            per_client = 2;
    if (gw_fdlimit_raise(&l, err) == -1)
        GW_LOG_WARN("cannot raise the open-files limit", "limit=%llu err=%s",
                    (unsigned long long)l.soft, err);
    else
        GW_LOG_INFO("open-files limit", "limit=%llu was=%llu", (unsigned long long)l.soft,
                    (unsigned long long)l.before);
    if (gw_fdlimit_short(&l, (uint64_t)max * per_client, OWN_FDS(w)))
        GW_LOG_WARN("max_clients does not fit in the open-files limit (raise ulimit -n or "
                    "LimitNOFILE=)",
                    "max_clients=%u limit=%llu needed=%llu", max, (unsigned long long)l.soft,
                    (unsigned long long)((uint64_t)max * per_client + OWN_FDS(w)));
}

static int
configure(struct wsgw *w)
{
    const struct gw_conf *c = gw_daemon_conf(w->daemon);
    int64_t workers = gw_conf_int(c, "wsgwd", NULL, "workers");
    const char *id = gw_conf_str(c, "wsgwd", NULL, "gateway_id");
    char err[GW_ERR_LEN] = "";
    struct wsgw_config *cfg;

    if ((cfg = wsgw_config_new(c, err)) == NULL || wsgw_backends_load(w, c, err) == -1) {
        GW_LOG_ERROR("bad configuration", "err=%s", err);
        return -1;
    }
    atomic_store(&w->cfg, cfg);
    w->nworkers = workers > 0 ? (unsigned)workers : gw_ncpus();
    gw_strlcpy(w->io_want, gw_conf_str(c, "wsgwd", NULL, "io"), sizeof(w->io_want));
    w->started_ms = gw_mono_ms();
    gw_strlcpy(w->listen_str, gw_conf_str(c, "wsgwd", NULL, "listen"), sizeof(w->listen_str));
    gw_strlcpy(w->http_str, gw_conf_str(c, "wsgwd", NULL, "http_listen"), sizeof(w->http_str));
    if (id[0])
        gw_strlcpy(w->gateway_id, id, sizeof(w->gateway_id));
    else if (gethostname(w->gateway_id, sizeof(w->gateway_id)) == -1)
        gw_strlcpy(w->gateway_id, "wsgwd", sizeof(w->gateway_id));
    if (gw_net_parse_addr(w->listen_str, 0, &w->listen_addr, err) == -1) {
        GW_LOG_ERROR("bad listen address", "err=%s", err);
        return -1;
    }
    if ((w->limits = wsgw_limits_new()) == NULL) {
        GW_LOG_ERROR("cannot set up", "err=%s", "out of memory");
        return -1;
    }
    if (w->nbackends == 0)
        GW_LOG_WARN("no backends configured", "hint=%s", "[backend NAME] address = HOST:PORT");
    if (wsgw_metrics_init(w, err) == -1) {
        GW_LOG_ERROR("cannot set up metrics", "err=%s", err);
        return -1;
    }
    raise_fd_limit(w);
    return 0;
}

static int
start_workers(struct wsgw *w)
{
    char err[GW_ERR_LEN] = "";

    if (wsgw_workers_start(w, err) == -1) {
        GW_LOG_ERROR("cannot start workers", "addr=%s err=%s", w->listen_str, err);
        return -1;
    }
    GW_LOG_INFO("listening", "addr=%s workers=%u backends=%u io=%s", w->listen_str, w->nworkers,
                w->nbackends, wsgw_io_in_use(w));
    return 0;
}

static const struct gw_page_col backend_cols[] = {
    {"name", "backend", GW_PAGE_TEXT},
    {"state", "state", GW_PAGE_STATE},
    {"address", "address", GW_PAGE_TEXT},
    {"protocol", "protocol", GW_PAGE_TEXT},
    {"links", "links up", GW_PAGE_NUM},
    {"clients", "clients", GW_PAGE_NUM},
    {"connect_failures", "connect failures", GW_PAGE_NUM},
    {"frames_in", "frames in", GW_PAGE_NUM},
    {"frames_out", "frames out", GW_PAGE_NUM},
    {NULL, NULL, 0},
};

static const struct gw_page_table page_tables[] = {
    {"Backends", "backend_list", backend_cols},
    {NULL, NULL, NULL},
};

/* /status is the control socket's status plus the page's table of backends. */
static json_t *
http_status(void *arg)
{
    struct wsgw *w = arg;
    json_t *st = gw_daemon_status(w->daemon);

    if (st)
        json_object_set_new(st, "backend_list", wsgw_backends_json(w));
    return st;
}

static int
start_http(struct wsgw *w)
{
    struct gw_httpd_check checks[] = {
        {"accepting", gw_daemon_ready_check, w->daemon},
        {"backends", wsgw_ready_check, w},
    };
    struct gw_httpd_opts o = {.prog = "wsgwd",
                              .metrics = w->m.reg,
                              .status = http_status,
                              .status_arg = w,
                              .checks = checks,
                              .nchecks = 2,
                              .page_tables = page_tables};
    struct gw_addr addr;
    char err[GW_ERR_LEN];

    gw_daemon_http_limits(w->daemon, &o);
    if (gw_net_parse_addr(w->http_str, 0, &addr, err) == -1 ||
        (w->httpd = gw_httpd_start(&addr, &o, err)) == NULL) {
        GW_LOG_ERROR("cannot start HTTP endpoints", "addr=%s err=%s", w->http_str, err);
        return -1;
    }
    GW_LOG_INFO("http listening", "addr=%s", w->http_str);
    return 0;
}

/* Tears down whatever was started, in reverse order; safe after a partial start. HTTP goes
 * first: its /status and stats page read the workers. */
static void
stop(struct wsgw *w)
{
    if (w->httpd)
        gw_httpd_stop(w->httpd);
    wsgw_workers_stop(w);
    if (w->m.reg)
        gw_metrics_free(w->m.reg);
    free(w->m.worker_clients);
    free(w->backends);
    wsgw_limits_free(w->limits);
    wsgw_config_free(wsgw_cfg(w));
    gw_daemon_free(w->daemon);
}

int
main(int argc, char **argv)
{
    struct gw_daemon *d;
    int rc;

    take_raw_option(&argc, argv);
    if ((d = gw.daemon = gw_daemon_new(&desc, &gw)) == NULL)
        return 1;
    if ((rc = gw_daemon_args(d, argc, argv)) == 0 && gw.raw_mode && gw.cli_backends == 0) {
        fprintf(stderr, "wsgwd: --raw needs PORT and HOST:PORT: wsgwd --raw 8080 127.0.0.1:5900\n");
        rc = 3;
    }
    if (rc != 0 || (rc = gw_daemon_load(d)) != 0) {
        gw_daemon_free(d);
        return GW_DAEMON_EXIT(rc);
    }
    gw_daemon_start_logging(d);
    /* The control socket before HTTP: HTTP's thread serves /status (which names the socket) at
     * once. */
    if (gw_daemon_drop_privileges(d) == -1 || configure(&gw) == -1 || start_workers(&gw) == -1 ||
        gw_daemon_open_ctl(d, wsgw_ctl_cmds) == -1 || start_http(&gw) == -1) {
        stop(&gw);
        return 1;
    }
    gw_daemon_ready(d);
    gw_daemon_run(d);
    stop(&gw);
    return 0;
}
