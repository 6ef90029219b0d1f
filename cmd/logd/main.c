/*
 * main.c -- logd, the log collector: start-up and shut-down, in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdlimit.h"
#include "httpd.h"
#include "log.h"
#include "logd.h"
#include "page.h"

static void
drain(void *arg)
{
    logd_inputs_drain(arg);
}

/* Connections finished; what the queues hold is written by stop(), through the writer. */
static int
drained(void *arg)
{
    struct logd *l = arg;

    return atomic_load(&l->nconns) == 0;
}

static const struct gw_daemon_desc desc = {
    .prog = "logd",
    .summary = "logd -- log collector: syslog (UDP, TCP, Unix), a native acknowledged protocol,\n"
               "ZeroMQ and HTTP in; durable files out; nothing acknowledged is ever lost.",
    .usage = NULL,
    .options = NULL,
    .schema = logd_schema,
    .operands = NULL,
    .check = logd_conf_check,
    .reload = logd_reload,
    .drain = drain,
    .drained = drained,
    .status = logd_status,
    .health = logd_health,
};

static int
configure(struct logd *l)
{
    const struct gw_conf *c = gw_daemon_conf(l->daemon);
    char err[GW_ERR_LEN] = "";
    int64_t workers = gw_conf_int(c, "logd", NULL, "workers");
    struct logd_config *cfg = logd_config_new(c, err);

    if (cfg == NULL) {
        GW_LOG_ERROR("bad configuration", "err=%s", err);
        return -1;
    }
    atomic_store(&l->cfg, cfg);
    l->nworkers = workers > 0 ? (unsigned)workers : gw_ncpus();
    l->started_ms = gw_mono_ms();
    l->syslog_udp = (int)gw_conf_int(c, "logd", NULL, "syslog_udp");
    l->udp_rcvbuf = (size_t)gw_conf_int(c, "logd", NULL, "udp_rcvbuf");
    gw_strlcpy(l->syslog_str, gw_conf_str(c, "logd", NULL, "syslog_listen"), sizeof(l->syslog_str));
    gw_strlcpy(l->native_str, gw_conf_str(c, "logd", NULL, "native_listen"), sizeof(l->native_str));
    gw_strlcpy(l->http_str, gw_conf_str(c, "logd", NULL, "http_listen"), sizeof(l->http_str));
    gw_strlcpy(l->zmq_str, gw_conf_str(c, "logd", NULL, "zmq_listen"), sizeof(l->zmq_str));
    if (strcmp(l->zmq_str, "off") == 0)
        l->zmq_str[0] = '\0';
    if (gethostname(l->hostname, sizeof(l->hostname)) == -1)
        gw_strlcpy(l->hostname, "unknown", sizeof(l->hostname));
    if (logd_metrics_init(l, err) == -1 || (l->tail = logd_tail_new(l)) == NULL) {
        GW_LOG_ERROR("cannot set up", "err=%s", err[0] ? err : "out of memory");
        return -1;
    }
    gw_metrics_bind_thread(l->m.reg, l->nworkers);
    return 0;
}

static int
start_writer(struct logd *l)
{
    struct logd_config *cfg = logd_cfg(l);
    char err[GW_ERR_LEN] = "";

    if ((l->writer = logd_writer_start(l, err)) == NULL) {
        GW_LOG_ERROR("cannot start the writer", "output=%s err=%s", cfg->output, err);
        return -1;
    }
    GW_LOG_INFO("writing", "output=%s format=%s fsync=%s", cfg->output,
                cfg->format == LOGD_FMT_JSON ? "json" : "raw",
                cfg->fsync == LOGD_FSYNC_ALWAYS  ? "always"
                : cfg->fsync == LOGD_FSYNC_BATCH ? "batch"
                                                 : "never");
    return 0;
}

/* Descriptors besides connections: listeners, sockets and loops per worker, files, HTTP. */
#define OWN_FDS(workers) (64 + 8 * (uint64_t)(workers))

static void
raise_fd_limit(struct logd *l)
{
    struct gw_fdlimit fl;
    char err[GW_ERR_LEN] = "";
    unsigned max = logd_cfg(l)->max_clients;

    if (gw_fdlimit_raise(&fl, err) == -1)
        GW_LOG_WARN("cannot raise the open-files limit", "limit=%llu err=%s",
                    (unsigned long long)fl.soft, err);
    if (gw_fdlimit_short(&fl, max, OWN_FDS(l->nworkers)))
        GW_LOG_WARN("max_clients does not fit in the open-files limit (raise ulimit -n or "
                    "LimitNOFILE=)",
                    "max_clients=%u limit=%llu", max, (unsigned long long)fl.soft);
}

static int
start_inputs(struct logd *l)
{
    const struct gw_conf *c = gw_daemon_conf(l->daemon);
    const char *dgram = gw_conf_str(c, "logd", NULL, "dgram_path");
    const char *native = gw_conf_str(c, "logd", NULL, "native_path");
    char err[GW_ERR_LEN] = "";

    if (!dgram[0])
        snprintf(l->dgram_path, sizeof(l->dgram_path), "%s/logd.dgram",
                 gw_daemon_run_dir(l->daemon));
    else if (strcmp(dgram, "off") != 0)
        gw_strlcpy(l->dgram_path, dgram, sizeof(l->dgram_path));
    if (!native[0])
        snprintf(l->native_path, sizeof(l->native_path), "%s/logd.native",
                 gw_daemon_run_dir(l->daemon));
    else if (strcmp(native, "off") != 0)
        gw_strlcpy(l->native_path, native, sizeof(l->native_path));
    logd_stream_logd = l;
    raise_fd_limit(l);
    if (logd_dgram_open(l, err) == -1 || logd_inputs_start(l, err) == -1 ||
        (l->zmq_str[0] && (l->zmq = logd_zmq_start(l, err)) == NULL)) {
        GW_LOG_ERROR("cannot start the inputs", "syslog=%s native=%s err=%s", l->syslog_str,
                     l->native_str, err);
        return -1;
    }
    GW_LOG_INFO(
        "listening", "syslog=%s udp=%s native=%s native_unix=%s unix=%s zmq=%s workers=%u io=%s",
        l->syslog_str, l->syslog_udp ? "yes" : "no", l->native_str,
        l->native_path[0] ? l->native_path : "off", l->dgram_path[0] ? l->dgram_path : "off",
        l->zmq_str[0] ? l->zmq_str : "off", l->nworkers, logd_inputs_backend(l));
    return 0;
}

static const struct gw_page_col input_cols[] = {
    {"input", "Input", GW_PAGE_TEXT},
    {"listen", "Listen", GW_PAGE_TEXT},
    {"messages", "Messages", GW_PAGE_NUM},
    {"bytes", "Bytes", GW_PAGE_BYTES},
    {"dropped", "Dropped", GW_PAGE_NUM},
    {"backpressure_s", "Held back", GW_PAGE_SECS},
    {NULL, NULL, 0},
};

static const struct gw_page_table page_tables[] = {
    {"Inputs", "input_list", input_cols},
    {NULL, NULL, NULL},
};

/* /status is the control socket's status plus the page's table of inputs. */
static json_t *
http_status(void *arg)
{
    struct logd *l = arg;
    json_t *st = gw_daemon_status(l->daemon);

    if (st)
        json_object_set_new(st, "input_list", logd_inputs_json(l));
    return st;
}

/* Not ready while the files cannot be written: nothing would be acknowledged. */
static int
writing_check(void *arg, char *detail, size_t len)
{
    struct logd *l = arg;
    struct logd_writer_stats st;

    logd_writer_stats(l->writer, &st);
    if (st.disk_full || st.failing) {
        snprintf(detail, len, "%s: %s", st.disk_full ? "disk full" : "cannot write", st.error);
        return 0;
    }
    snprintf(detail, len, "writing to %s", logd_cfg(l)->output);
    return 1;
}

static int
start_http(struct logd *l)
{
    struct gw_httpd_check checks[] = {{"accepting", gw_daemon_ready_check, l->daemon},
                                      {"writing", writing_check, l}};
    struct gw_httpd_opts o = {.prog = "logd",
                              .metrics = l->m.reg,
                              .status = http_status,
                              .status_arg = l,
                              .checks = checks,
                              .nchecks = GW_ARRAY_LEN(checks),
                              .page_tables = page_tables};
    struct gw_addr addr;
    char err[GW_ERR_LEN] = "";

    gw_daemon_http_limits(l->daemon, &o);
    if (gw_net_parse_addr(l->http_str, 0, &addr, err) == -1 ||
        (l->httpd = gw_httpd_start(&addr, &o, err)) == NULL ||
        logd_ingest_start(l, l->httpd, err) == -1) {
        GW_LOG_ERROR("cannot start HTTP endpoints", "addr=%s err=%s", l->http_str, err);
        return -1;
    }
    GW_LOG_INFO("http listening", "addr=%s", l->http_str);
    return 0;
}

/* Tears down whatever was started, in reverse order; safe after a partial start. HTTP goes
 * first (its /status reads the inputs; an /ingest in flight still reaches the writer); the
 * writer stops last among the message paths: it writes what the inputs queued before they
 * stopped. */
static int
stop(struct logd *l)
{
    int unwritten;

    if (l->httpd)
        gw_httpd_stop(l->httpd);
    logd_inputs_stop(l);
    logd_zmq_stop(l->zmq);
    unwritten = logd_writer_stop(l->writer);
    logd_tail_free(l->tail);
    logd_lanes_free(l);
    if (l->m.reg)
        gw_metrics_free(l->m.reg);
    logd_config_free(logd_cfg(l));
    gw_daemon_free(l->daemon);
    return unwritten;
}

int
main(int argc, char **argv)
{
    static struct logd l = {.dgram_fd = -1};
    struct gw_daemon *d;
    int rc;

    if ((d = l.daemon = gw_daemon_new(&desc, &l)) == NULL)
        return 1;
    if ((rc = gw_daemon_args(d, argc, argv)) != 0 || (rc = gw_daemon_load(d)) != 0) {
        gw_daemon_free(d);
        return GW_DAEMON_EXIT(rc);
    }
    gw_daemon_start_logging(d);
    if (gw_daemon_drop_privileges(d) == -1 || configure(&l) == -1 || start_writer(&l) == -1 ||
        gw_daemon_open_ctl(d, logd_ctl_cmds) == -1 || start_inputs(&l) == -1 ||
        start_http(&l) == -1) {
        stop(&l);
        return 1;
    }
    gw_daemon_ready(d);
    gw_daemon_run(d);
    /* Lines it could not write at exit (never acknowledged, logged): a failure the service
     * manager should see. */
    return stop(&l) ? 1 : 0;
}
