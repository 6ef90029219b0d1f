/*
 * ctl.c -- logd's own control commands (inputs, flush, tail) and its status and health. The
 * common commands (reload, drain, log-level, shutdown, ...) come from lib/daemon.c.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "logd.h"

static uint64_t
counter(struct logd *l, int series)
{
    return (uint64_t)gw_metrics_value(l->m.reg, series);
}

static void
queue_depth(struct logd *l, size_t *bytes, size_t *batches)
{
    unsigned n = atomic_load(&l->nlanes);

    *bytes = *batches = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t b, k;
        logd_lane_depth(l->lanes[i], &b, &k);
        *bytes += b;
        *batches += k;
    }
}

static const char *
listen_of(struct logd *l, enum logd_input in)
{
    switch (in) {
    case LOGD_IN_UDP:
        return l->syslog_udp ? l->syslog_str : "off";
    case LOGD_IN_TCP:
        return l->syslog_str;
    case LOGD_IN_UNIX:
        return l->dgram_path[0] ? l->dgram_path : "off";
    case LOGD_IN_NATIVE:
        return l->native_str;
    case LOGD_IN_ZMQ:
        return l->zmq_str[0] ? l->zmq_str : "off";
    case LOGD_IN_HTTP:
        return l->http_str;
    default:
        return "";
    }
}

json_t *
logd_inputs_json(struct logd *l)
{
    json_t *a = json_array();

    for (int i = 0; i < LOGD_NINPUTS; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:I, s:I, s:I, s:f}", "input", logd_input_names[i], "listen",
                         listen_of(l, (enum logd_input)i), "messages",
                         (json_int_t)counter(l, l->m.received[i]), "bytes",
                         (json_int_t)counter(l, l->m.received_bytes[i]), "dropped",
                         (json_int_t)counter(l, l->m.dropped[i]), "backpressure_s",
                         (double)atomic_load(&l->m.backpressure_ns[i]) / 1e9));
    return a;
}

/* Thread-safe: used by the HTTP thread and the control socket. */
json_t *
logd_status(void *arg)
{
    struct logd *l = arg;
    struct logd_config *cfg = logd_cfg(l);
    struct logd_writer_stats st;
    size_t qbytes, qbatches;
    uint64_t received = 0;

    for (int i = 0; i < LOGD_NINPUTS; i++)
        received += counter(l, l->m.received[i]);
    queue_depth(l, &qbytes, &qbatches);
    logd_writer_stats(l->writer, &st);
    return json_pack(
        "{s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}, s:i, s:s, s:i, s:I, s:{s:I, s:I, s:I}, "
        "s:{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:b, s:s}, s:{s:I, s:I}}",
        "listeners", "syslog_tcp", l->syslog_str, "syslog_udp", listen_of(l, LOGD_IN_UDP), "native",
        l->native_str, "native_unix", l->native_path[0] ? l->native_path : "off", "unix",
        listen_of(l, LOGD_IN_UNIX), "zmq", listen_of(l, LOGD_IN_ZMQ), "http", l->http_str,
        "workers", (int)l->nworkers, "io", logd_inputs_backend(l), "connections",
        (int)atomic_load(&l->nconns), "messages_total", (json_int_t)received, "parse", "parsed",
        (json_int_t)counter(l, l->m.parsed), "unparsed", (json_int_t)counter(l, l->m.unparsed),
        "truncated", (json_int_t)counter(l, l->m.truncated), "output", "path", cfg->output,
        "format", cfg->format == LOGD_FMT_JSON ? "json" : "raw", "fsync",
        cfg->fsync == LOGD_FSYNC_ALWAYS  ? "always"
        : cfg->fsync == LOGD_FSYNC_BATCH ? "batch"
                                         : "never",
        "written", (json_int_t)counter(l, l->m.written), "bytes_written",
        (json_int_t)counter(l, l->m.written_bytes), "fsyncs", (json_int_t)counter(l, l->m.fsyncs),
        "disk_bytes", (json_int_t)st.disk_bytes, "files_open", (int)st.files_open, "disk_full",
        st.disk_full, "error", st.error, "queue", "bytes", (json_int_t)qbytes, "batches",
        (json_int_t)qbatches);
}

json_t *
logd_health(void *arg)
{
    struct logd *l = arg;
    struct logd_writer_stats st;
    size_t qbytes, qbatches;
    uint64_t written = counter(l, l->m.written);
    char summary[GW_ERR_LEN + 100];
    const char *status = "ok";

    logd_writer_stats(l->writer, &st);
    queue_depth(l, &qbytes, &qbatches);
    if (st.disk_full || st.failing) {
        status = "critical";
        snprintf(summary, sizeof(summary), "cannot write logs (%s): nothing is acknowledged",
                 st.error);
    } else {
        snprintf(summary, sizeof(summary), "%llu lines written, %zu bytes queued",
                 (unsigned long long)written, qbytes);
    }
    return json_pack("{s:s, s:s, s:{s:I, s:I, s:i}}", "status", status, "summary", summary,
                     "perfdata", "written", (json_int_t)written, "queue_bytes", (json_int_t)qbytes,
                     "conns", (int)atomic_load(&l->nconns));
}

static void
cmd_inputs(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)args;
    gw_ctl_reply(r, json_pack("{s:o}", "inputs", logd_inputs_json(arg)));
}

static void
flushed(void *arg, int ok)
{
    struct gw_ctl_req *r = arg;

    if (ok)
        gw_ctl_reply(r, json_pack("{s:b}", "flushed", 1));
    else
        gw_ctl_error(r, "failed", "the output files cannot be written now (see status)");
}

static void
cmd_flush(struct gw_ctl_req *r, json_t *args, void *arg)
{
    struct logd *l = arg;

    (void)args;
    logd_writer_flush(l->writer, flushed, r);
}

const struct gw_ctl_cmd logd_ctl_cmds[] = {
    {"inputs", cmd_inputs, "each input: address, messages, bytes, drops, backpressure time", NULL},
    {"flush", cmd_flush, "write and fsync everything queued now; replies once done", NULL},
    {"tail", logd_tail_cmd,
     "latest records; {\"follow\":true} streams new ones, \"app\" and \"severity\" filter", NULL},
    {NULL, NULL, NULL, NULL},
};
