/*
 * main.c -- gwbench: load generator for gwkit's daemons and any line-based TCP server.
 *
 *   gwbench MODE [options] HOST:PORT
 *
 * Exit status: 0 the run completed without an error; 1 errors were counted, nothing was
 * answered, or the run could not start (no connection could be opened); 2 bad usage.
 */
#include "gwbench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fdlimit.h"
#include "util.h"

enum {
    OPT_WARMUP = 256,
    OPT_SIZE,
    OPT_PIPELINE,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_HIST_OUT,
    OPT_IDLE,
    OPT_SEND,
    OPT_EXPECT,
    OPT_HB_SERVICE,
    OPT_CHECK,
    OPT_SYSLOG,
    OPT_FORMAT,
    OPT_FRAMING,
    OPT_BATCH,
};

static const struct option long_opts[] = {
    {"connections", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, 't'},
    {"duration", required_argument, NULL, 'd'},
    {"rate", required_argument, NULL, 'R'},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"size", required_argument, NULL, OPT_SIZE},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"json", no_argument, NULL, OPT_JSON},
    {"hist-out", required_argument, NULL, OPT_HIST_OUT},
    {"idle", no_argument, NULL, OPT_IDLE},
    {"send", required_argument, NULL, OPT_SEND},
    {"expect", required_argument, NULL, OPT_EXPECT},
    {"hb-service", required_argument, NULL, OPT_HB_SERVICE},
    {"check", no_argument, NULL, OPT_CHECK},
    {"syslog", required_argument, NULL, OPT_SYSLOG},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"framing", required_argument, NULL, OPT_FRAMING},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static const struct {
    const char *name;
    const struct bench_proto *proto;
} modes[] = {
    {"tcp", &bench_proto_tcp},
    {"hb", &bench_proto_hb},
    {"log", &bench_proto_log},
    {"ws", &bench_proto_ws},
};

/* Modes of the design that have no driver yet. */
static const char *const planned_modes[] = {"backend"};

static void
usage(FILE *f)
{
    fprintf(f, "usage: gwbench MODE [options] HOST:PORT | ws://HOST:PORT/PATH\n"
               "modes: hb (hbd PING or HB lines), tcp (any line protocol), ws (WebSocket echo),\n"
               "       log (logd's native protocol: acknowledged latency;\n"
               "            with --syslog, syslog lines: fire and forget, no latency)\n"
               "  -c, --connections N    connections (10)\n"
               "  -t, --threads N        threads, each an epoll loop (half the CPUs)\n"
               "  -d, --duration D       measured time, e.g. 10s, 500ms (10s)\n"
               "  -R, --rate N           open loop: total requests/s on a fixed schedule\n"
               "      --warmup D         run first for D without recording (0)\n"
               "      --pipeline N       requests in flight per connection (1)\n"
               "      --timeout D        longest wait for a reply or a connect (2s)\n"
               "      --size N           hb: pad each HB line to N bytes; ws: message size (32);\n"
               "                         log: message bytes of each record (100);\n"
               "                         log --syslog: bytes of each line, header included (256)\n"
               "      --check            ws: compare every echoed byte (else the size)\n"
               "      --send STR         tcp: the request, C escapes ('PING\\r\\n')\n"
               "      --expect STR       tcp: a reply not starting with STR is wrong\n"
               "      --hb-service NAME  hb: send 'HB NAME' instead of PING\n"
               "      --syslog udp|tcp   log: send syslog lines to logd's syslog port instead\n"
               "      --format 5424|3164 log --syslog: the line format (5424)\n"
               "      --framing octet|lf log --syslog tcp: RFC 6587 framing (octet)\n"
               "      --batch N          log: records per acknowledged batch (1)\n"
               "      --idle             open the connections, hold them, send nothing\n"
               "      --json             report as JSON\n"
               "      --hist-out FILE    write the percentile distribution\n"
               "  -q, --quiet            no progress line\n"
               "  -h, --help             this text\n"
               "  -V, --version          the version\n");
}

/* Prints "gwbench: <message>" and the hint; returns the usage exit status. */
static int usage_error(const char *fmt, ...) GW_PRINTF(1, 2);

static int
usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "gwbench: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'gwbench --help'.\n");
    return 2;
}

static int
parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    unsigned long v;
    char *end;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* Durations are bounded so that the engine's nanosecond deadlines (ms * 1e6 added to a
 * CLOCK_MONOTONIC time) cannot wrap: an unbounded -d 18446744073710ms ended at once. */
#define MAX_DURATION_MS (365 * 86400000LL)
#define MAX_TIMEOUT_MS (3600 * 1000LL)

static int
parse_ms(const char *s, int64_t max, uint64_t *ms)
{
    char err[GW_ERR_LEN];
    int64_t v;

    if (gw_conf_parse_duration(s, &v, err) == -1 || v < 0 || v > max)
        return -1;
    *ms = (uint64_t)v;
    return 0;
}

static int
parse_rate(const char *s, double *rate)
{
    char *end;

    errno = 0;
    *rate = strtod(s, &end);
    return errno || end == s || *end || !isfinite(*rate) || *rate <= 0 || *rate > 1e9 ? -1 : 0;
}

static int
parse_size(const char *s, long *size)
{
    char err[GW_ERR_LEN];
    int64_t v;

    if (gw_conf_parse_size(s, &v, err) == -1 || v < 0 || v > BENCH_MAX_REQUEST_BYTES)
        return -1;
    *size = (long)v;
    return 0;
}

static const char *
opt_name(int ch)
{
    unsigned i;

    for (i = 0; long_opts[i].name; i++)
        if (long_opts[i].val == ch)
            return long_opts[i].name;
    return "?";
}

/* One option; returns 0, or 2 after printing a usage error. */
static int
set_opt(struct bench_opts *o, int ch, const char *arg)
{
    int bad = 0;

    switch (ch) {
    case 'c':
        bad = parse_uint(arg, 1, BENCH_MAX_CONNS, &o->conns);
        break;
    case 't':
        bad = parse_uint(arg, 1, BENCH_MAX_THREADS, &o->threads);
        break;
    case 'd':
        bad = parse_ms(arg, MAX_DURATION_MS, &o->duration_ms) || o->duration_ms == 0;
        break;
    case 'R':
        bad = parse_rate(arg, &o->rate);
        break;
    case OPT_WARMUP:
        bad = parse_ms(arg, MAX_DURATION_MS, &o->warmup_ms);
        break;
    case OPT_TIMEOUT:
        bad = parse_ms(arg, MAX_TIMEOUT_MS, &o->timeout_ms) || o->timeout_ms == 0;
        break;
    case OPT_PIPELINE:
        bad = parse_uint(arg, 1, BENCH_MAX_PIPELINE, &o->pipeline);
        break;
    case OPT_SIZE:
        bad = parse_size(arg, &o->size);
        break;
    case OPT_JSON:
        o->json = 1;
        break;
    case OPT_HIST_OUT:
        o->hist_out = arg;
        break;
    case OPT_IDLE:
        o->idle = 1;
        break;
    case OPT_SEND:
        o->send_arg = arg;
        break;
    case OPT_EXPECT:
        o->expect_arg = arg;
        break;
    case OPT_HB_SERVICE:
        o->hb_service = arg;
        break;
    case OPT_CHECK:
        o->check = 1;
        break;
    case OPT_SYSLOG:
        o->syslog = strcmp(arg, "udp") == 0   ? BENCH_SYSLOG_UDP
                    : strcmp(arg, "tcp") == 0 ? BENCH_SYSLOG_TCP
                                              : BENCH_SYSLOG_NONE;
        bad = o->syslog == BENCH_SYSLOG_NONE;
        break;
    case OPT_FORMAT:
        o->syslog_format = strcmp(arg, "5424") == 0 ? 5424 : strcmp(arg, "3164") == 0 ? 3164 : 0;
        bad = o->syslog_format == 0;
        break;
    case OPT_FRAMING:
        o->syslog_framing = strcmp(arg, "octet") == 0 ? BENCH_FRAMING_OCTET
                            : strcmp(arg, "lf") == 0  ? BENCH_FRAMING_LF
                                                      : BENCH_FRAMING_DEFAULT;
        bad = o->syslog_framing == BENCH_FRAMING_DEFAULT;
        break;
    case OPT_BATCH:
        bad = parse_uint(arg, 1, BENCH_MAX_BATCH, &o->batch);
        break;
    case 'q':
        o->quiet = 1;
        break;
    default:
        return 2;
    }
    if (bad)
        return usage_error("bad value '%s' for --%s", arg, opt_name(ch));
    return 0;
}

static int
pick_mode(struct bench_opts *o, const char *name)
{
    unsigned i;

    for (i = 0; i < GW_ARRAY_LEN(modes); i++) {
        if (strcmp(name, modes[i].name) == 0) {
            o->proto = modes[i].proto;
            return 0;
        }
    }
    for (i = 0; i < GW_ARRAY_LEN(planned_modes); i++)
        if (strcmp(name, planned_modes[i]) == 0)
            return usage_error("mode '%s' is not implemented yet", name);
    return usage_error("unknown mode '%s' (want hb, tcp, ws or log)", name);
}

/* The operands and the options that depend on each other. */
static int
check_opts(struct bench_opts *o, int argc, char **argv)
{
    char err[GW_ERR_LEN], addr[GW_ADDR_STRLEN];
    int rc;

    if (argc != 2)
        return usage_error("%s", argc < 2 ? "need a MODE and a HOST:PORT"
                                          : "too many operands (the target comes last)");
    if ((rc = pick_mode(o, argv[0])) != 0)
        return rc;
    gw_strlcpy(addr, argv[1], sizeof(addr));
    if (strncmp(argv[1], "ws://", 5) == 0 && o->proto != &bench_proto_ws)
        return usage_error("a ws:// target needs mode ws");
    if (o->proto == &bench_proto_ws && bench_ws_target(o, argv[1], addr, sizeof(addr), err) == -1)
        return usage_error("%s", err);
    if (o->check && o->proto != &bench_proto_ws)
        return usage_error("--check is for mode ws");
    if (gw_net_parse_addr(addr, 0, &o->addr, err) == -1)
        return usage_error("bad target: %s", err);
    gw_strlcpy(o->target, argv[1], sizeof(o->target));
    /* Half the CPUs: the server under test often shares the machine. */
    if (o->threads == 0)
        o->threads = GW_MAX(1u, gw_ncpus() / 2);
    o->threads = GW_MIN(o->threads, o->conns);
    if (o->idle && o->rate > 0)
        return usage_error("--idle sends nothing: -R makes no sense with it");
    if (o->syslog && o->proto != &bench_proto_log)
        return usage_error("--syslog is for mode log");
    if (o->batch > 1 && (o->proto != &bench_proto_log || o->syslog))
        return usage_error("--batch is for mode log's native protocol (syslog lines are single)");
    if ((o->syslog_format || o->syslog_framing) && !o->syslog)
        return usage_error("--format and --framing go with --syslog udp|tcp");
    if ((o->syslog ? bench_syslog_setup(o, err) : o->proto->setup(o, err)) == -1)
        return usage_error("%s", err);
    o->progress = !o->quiet && isatty(2);
    return 0;
}

static int
parse_args(struct bench_opts *o, int argc, char **argv)
{
    int ch, rc;

    opterr = 0;
    while ((ch = getopt_long(argc, argv, "c:t:d:R:qhV", long_opts, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            exit(0);
        }
        if (ch == 'V') {
            printf("gwbench %s\n", GW_VERSION);
            exit(0);
        }
        if (ch == '?')
            return usage_error("unknown option or missing value in '%s'", argv[optind - 1]);
        if ((rc = set_opt(o, ch, optarg)) != 0)
            return rc;
    }
    return check_opts(o, argc - optind, argv + optind);
}

static void
defaults(struct bench_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->conns = 10;
    o->pipeline = 1;
    o->batch = 1;
    o->duration_ms = 10000;
    o->timeout_ms = 2000;
    o->size = -1;
}

static int
report(const struct bench_opts *o, const struct bench_results *r, double elapsed_s)
{
    char err[GW_ERR_LEN];
    unsigned i;
    int rc = 0;

    if (o->json)
        bench_report_json(o, r, elapsed_s);
    else
        bench_report_text(o, r, elapsed_s);
    if (o->hist_out && bench_hist_write(o->hist_out, &r->hist, err) == -1) {
        fprintf(stderr, "gwbench: %s\n", err);
        rc = 1;
    }
    for (i = 0; i < BENCH_ERR_COUNT; i++)
        if (r->errors[i])
            rc = 1;
    if (o->idle ? r->open < o->conns : r->requests == 0)
        rc = 1;
    return rc;
}

/* Descriptors besides the connections: stdio, each thread's loop, the main loop's. */
#define OWN_FDS 64

static struct gw_fdlimit fd_limit;

uint64_t
bench_fd_limit(void)
{
    return fd_limit.soft;
}

/* As the servers do: the soft limit goes up to the hard one, and a run that cannot fit its
 * connections says which limit to raise before it starts failing connects. */
static void
raise_fd_limit(const struct bench_opts *o)
{
    char err[GW_ERR_LEN];

    if (gw_fdlimit_raise(&fd_limit, err) == -1)
        fprintf(stderr, "gwbench: warning: cannot raise the open-files limit: %s\n", err);
    if (gw_fdlimit_short(&fd_limit, o->conns, OWN_FDS))
        fprintf(stderr,
                "gwbench: warning: -c %u needs about %u descriptors, the open-files limit is "
                "%llu (raise ulimit -n)\n",
                o->conns, o->conns + OWN_FDS, (unsigned long long)fd_limit.soft);
}

int
main(int argc, char **argv)
{
    static struct bench_opts o;
    static struct bench_results res;
    char err[GW_ERR_LEN];
    double elapsed_s = 0;
    int rc;

    defaults(&o);
    if ((rc = parse_args(&o, argc, argv)) != 0)
        return rc;
    /* A --hist-out that cannot be written fails now, not after the whole run. */
    if (o.hist_out && !o.syslog) {
        int fd = open(o.hist_out, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
        if (fd == -1) {
            fprintf(stderr, "gwbench: cannot write %s: %s\n", o.hist_out, strerror(errno));
            return 1;
        }
        close(fd);
    }
    raise_fd_limit(&o);
    if (o.syslog)
        return bench_syslog_main(&o);
    if (bench_run(&o, &res, &elapsed_s, err) == -1) {
        fprintf(stderr, "gwbench: %s\n", err);
        return 1;
    }
    return report(&o, &res, elapsed_s);
}
