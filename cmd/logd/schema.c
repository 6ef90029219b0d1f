/*
 * schema.c -- logd's configuration keys: the one declaration parsing, validation, defaults,
 * `gwctl validate`, gwkit.conf(5), the struct logd_config field each fills and the keys a
 * reload cannot change (GW_CONF_RESTART) all come from.
 */
#include <string.h>

#include "conf.h"
#include "daemon.h"
#include "logd.h"
#include "logd_schema.h"
#include "logfile.h"
#include "net.h"
#include "progs.h"

#define MS(x) ((int64_t)(x))
#define SEC(x) ((int64_t)(x)*1000)
#define KIB(x) ((int64_t)(x)*1024)
#define MIB(x) ((int64_t)(x)*1024 * 1024)
#define F(member) GW_CONF_FIELD(struct logd_config, member)

static const struct gw_conf_key logd_keys[] = {
    {"syslog_listen", GW_CONF_STRING, "*:5514", 0, 0, NULL,
     "TCP and UDP address for syslog (RFC 5424 and 3164; TCP framing by octet count or LF); "
     "off: none",
     GW_CONF_RESTART, 0, 0},
    {"syslog_udp", GW_CONF_BOOL, "yes", 0, 0, NULL, "also take syslog over UDP on syslog_listen",
     GW_CONF_RESTART, 0, 0},
    {"udp_rcvbuf", GW_CONF_SIZE, "16m", KIB(64), MIB(1024), NULL,
     "receive buffer asked for each worker's syslog UDP socket (past net.core.rmem_max when "
     "logd runs as root); a burst waits there instead of being dropped, and with 4 MiB or more "
     "reading is paced to the writer's wake-ups",
     GW_CONF_RESTART, 0, 0},
    {"native_listen", GW_CONF_STRING, "*:5515", 0, 0, NULL,
     "TCP address of the native acknowledged protocol; off: none", GW_CONF_RESTART, 0, 0},
    {"native_path", GW_CONF_STRING, "", 0, 0, NULL,
     "Unix stream socket of the native protocol for local clients; empty: "
     "<run_dir>/logd.native; off: none",
     GW_CONF_RESTART, 0, 0},
    {"http_listen", GW_CONF_ADDR, "127.0.0.1:9093", 0, 0, NULL,
     "address of the HTTP endpoints (/metrics, /healthz, /readyz, /status, /, POST /ingest)",
     GW_CONF_RESTART, 0, 0},
    {"dgram_path", GW_CONF_STRING, "", 0, 0, NULL,
     "Unix datagram socket for local programs (logger -u); empty: <run_dir>/logd.dgram; off: none",
     GW_CONF_RESTART, 0, 0},
    {"zmq_listen", GW_CONF_STRING, "", 0, 0, NULL,
     "ZeroMQ PULL endpoint (tcp://127.0.0.1:5555, ipc:///path); empty: off", GW_CONF_RESTART, 0, 0},
    {"workers", GW_CONF_INT, "0", 0, 256, NULL,
     "network worker threads, each with its own event loop and listeners; 0 = one per CPU",
     GW_CONF_RESTART, 0, 0},
    {"io", GW_CONF_ENUM, "auto", 0, 0, "auto|epoll|uring",
     "how workers move connection bytes: io_uring where the kernel allows it (auto), or epoll",
     GW_CONF_RESTART, 0, 0},
    {"max_line", GW_CONF_SIZE, "64k", 256, MIB(16), NULL,
     "longest message kept whole; longer ones are cut to this and counted as truncated", 0,
     F(max_line_bytes)},
    {"max_frame", GW_CONF_SIZE, "4m", KIB(4), MIB(64), NULL,
     "largest native protocol frame (payload, after decompression)", 0, F(max_frame_bytes)},
    {"queue_size", GW_CONF_SIZE, "32m", KIB(64), MIB(4096), NULL,
     "bytes of messages waiting per input thread; past it stream inputs stop reading and "
     "datagram inputs drop",
     0, F(queue_bytes)},
    {"batch_size", GW_CONF_SIZE, "1m", KIB(4), MIB(256), NULL,
     "most bytes of messages the writer commits at once", 0, F(batch_bytes)},
    {"output", GW_CONF_STRING, "/var/log/gwkit/logd.log", 0, 0, NULL,
     "output file, or a path template with %{app}, %{host}, %{facility}, %{severity}, "
     "%{date}, %{hour} (UTC, of the receive time)",
     0, F(output)},
    {"format", GW_CONF_ENUM, "raw", 0, 0, "raw|json",
     "raw: each message as received, one a line; json: one JSON object a line, every field", 0,
     F(format)},
    {"fsync", GW_CONF_ENUM, "batch", 0, 0, "always|batch|never",
     "always: fsync every message; batch: once per commit; never: leave it to the kernel "
     "(acknowledged lines may be lost in a power cut, not in a crash of logd)",
     0, F(fsync)},
    {"fsync_interval", GW_CONF_DURATION, "0", 0, SEC(60), NULL,
     "with fsync = batch, commit at most this often, gathering messages in between; 0: at once", 0,
     F(fsync_interval_ms)},
    {"rotate_size", GW_CONF_SIZE, "100m", 0, INT64_MAX, NULL,
     "rotate a file once it reaches this size; 0: never", 0, F(rotate_bytes)},
    {"rotate_interval", GW_CONF_DURATION, "0", 0, SEC(86400 * 366), NULL,
     "rotate files this often (1h, 1d); 0: never", 0, F(rotate_interval_ms)},
    {"retention", GW_CONF_INT, "7", 0, 100000, NULL,
     "rotated files kept per output file; 0 keeps all", 0, F(retention)},
    {"compress", GW_CONF_BOOL, "yes", 0, 0, NULL,
     "compress rotated files with zstd, off the writer thread", 0, F(compress)},
    {"max_clients", GW_CONF_INT, "10000", 1, 10000000, NULL,
     "connections held at once (syslog TCP and native); more are refused at accept", 0,
     F(max_clients)},
    {"idle_timeout", GW_CONF_DURATION, "10m", SEC(1), SEC(86400 * 7), NULL,
     "close a connection that sent nothing for this long", 0, F(idle_timeout_ms)},
    {"max_ingest", GW_CONF_SIZE, "1m", KIB(1), MIB(256), NULL,
     "largest POST /ingest body; a larger one gets 413", 0, F(max_ingest_bytes)},
    {"ingest_timeout", GW_CONF_DURATION, "5s", MS(100), SEC(600), NULL,
     "how long POST /ingest waits for its lines to be durable before answering 503 (keep it "
     "below [global] http_timeout)",
     0, F(ingest_timeout_ms)},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

const struct gw_conf_section logd_conf_section = {GW_PROG_LOGD, 0, logd_keys, "the log collector"};

const struct gw_conf_section *const logd_schema[] = {&gw_daemon_global_section, &logd_conf_section,
                                                     NULL};

static int
check_addr(const struct gw_conf *c, const char *key, char *err)
{
    const char *v = gw_conf_str(c, "logd", NULL, key);
    struct gw_addr a;
    char why[GW_ERR_LEN];

    if (strcmp(v, "off") == 0)
        return 0;
    if (gw_net_parse_addr(v, 0, &a, why) == -1)
        return gw_err(err, "%s: '%s': bad address: %s", gw_conf_origin(c, "logd", NULL, key), key,
                      why);
    if (a.ss.ss_family != AF_INET && a.ss.ss_family != AF_INET6)
        return gw_err(err, "%s: '%s': not an IP address: '%s'",
                      gw_conf_origin(c, "logd", NULL, key), key, v);
    return 0;
}

static int
check_output(const struct gw_conf *c, char *err)
{
    const char *v = gw_conf_str(c, "logd", NULL, "output");
    const char *o = gw_conf_origin(c, "logd", NULL, "output");
    struct gw_logfile_config lc = {.path = v};
    struct gw_logfile *lf;
    char why[GW_ERR_LEN] = "";

    if (v[0] != '/')
        return gw_err(err, "%s: 'output': '%s' is not an absolute path", o, v);
    /* The template's own checks (fields, "..", a fixed suffix), without any I/O. */
    if ((lf = gw_logfile_new(&lc, why)) == NULL)
        return gw_err(err, "%s: 'output': %s", o, why);
    gw_logfile_free(lf);
    return 0;
}

static int
check_zmq(const struct gw_conf *c, char *err)
{
    const char *v = gw_conf_str(c, "logd", NULL, "zmq_listen");

    if (!v[0] || strcmp(v, "off") == 0)
        return 0;
    if (strncmp(v, "tcp://", 6) != 0 && strncmp(v, "ipc://", 6) != 0)
        return gw_err(err, "%s: 'zmq_listen': '%s' is not a tcp:// or ipc:// endpoint",
                      gw_conf_origin(c, "logd", NULL, "zmq_listen"), v);
    return 0;
}

int
logd_conf_check(const struct gw_conf *c, char *err)
{
    if (check_addr(c, "syslog_listen", err) == -1 || check_addr(c, "native_listen", err) == -1 ||
        check_output(c, err) == -1 || check_zmq(c, err) == -1)
        return -1;
    return 0;
}
