/*
 * syslog.c -- `gwbench log --syslog udp|tcp`: fire-and-forget syslog load (RFC 5424 or RFC
 * 3164 lines; over TCP octet-counted or LF-framed, RFC 6587). The engine runs it as a no_reply
 * protocol (gwbench.h): over lib/conn for TCP, one line a datagram of a connected UDP socket
 * for UDP. What is here: the options, the line layout, the encoder, and the report: syslog has
 * no replies, so there is no latency to measure, only lines sent.
 *
 * Every line of a run has the same length: the fields that vary (time, socket number, counter)
 * are fixed-width. So a TCP stream is a run of equal frames, and the lines a write() completed
 * follow from the byte count alone. Each line carries "c=SOCKET n=COUNTER", the counter
 * starting at 1 on each socket and growing by one per line (the engine's request numbers), so
 * whoever reads the collector's output can check that nothing was lost or reordered.
 */
#include "gwbench.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util.h"

#define DEFAULT_LINE_BYTES 256
#define UDP_MAX_LINE 65507 /* an IPv4 datagram's payload */
#define HOST "bench"
#define APP "gwbench"

/* The run's fixed line layout, made in bench_syslog_setup(). */
static struct {
    size_t line;     /* bytes of a line, framing excluded */
    size_t frame;    /* bytes on the wire per line */
    size_t prefix;   /* octet counting: "LEN " before each line */
    size_t stamp_at; /* offsets in the frame of the time, the socket number and the counter */
    size_t conn_at, n_at;
    size_t stamp_len;
    int format;
    char frame_tmpl[BENCH_MAX_REQUEST_BYTES + 16];
} L;

/* Each engine thread's current time in the line format, fixed width. */
static _Thread_local struct {
    int64_t ms;
    int set;
    char text[32];
} T;

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static size_t encode_lines(const struct bench_opts *o, unsigned conn, uint64_t seq, unsigned n,
                           char *dst, size_t room);

static const struct bench_proto proto_syslog_tcp = {
    .mode = "log",
    .no_reply = 1,
    .encode_seq = encode_lines,
};

static const struct bench_proto proto_syslog_udp = {
    .mode = "log",
    .no_reply = 1,
    .datagram = 1,
    .encode_seq = encode_lines,
};

/* The time as the format writes it: 5424 "2026-12-06T04:37:28.123Z" (24 bytes), 3164
 * "Dec  6 04:37:28" (15 bytes). */
static size_t
stamp(int fmt, int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    if (fmt == 5424) {
        gw_time_rfc3339(ms, buf, len);
        return strlen(buf);
    }
    gmtime_r(&s, &tm);
    return (size_t)snprintf(buf, len, "%s %2d %02d:%02d:%02d", months[tm.tm_mon], tm.tm_mday,
                            tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int
bench_syslog_setup(struct bench_opts *o, char *err)
{
    char head[256], ts[32], *t = L.frame_tmpl;
    long want = o->size >= 0 ? o->size : DEFAULT_LINE_BYTES;
    size_t hlen, min, max = o->syslog == BENCH_SYSLOG_UDP ? UDP_MAX_LINE : BENCH_MAX_REQUEST_BYTES;
    int n;

    if (o->send_arg || o->expect_arg || o->hb_service || o->check)
        return gw_err(err, "--send, --expect, --hb-service and --check are not for syslog load");
    if (o->pipeline != 1)
        return gw_err(err, "--pipeline: syslog has no replies to wait for, nothing is in flight");
    if (o->idle)
        return gw_err(err, "--idle: not for syslog load");
    if (o->hist_out)
        return gw_err(err, "--hist-out: syslog has no replies, so no latency to write");
    if (o->syslog == BENCH_SYSLOG_UDP && o->syslog_framing)
        return gw_err(err, "--framing is for --syslog tcp (a UDP datagram is one line)");
    if (o->syslog_format == 0)
        o->syslog_format = 5424;
    if (o->syslog == BENCH_SYSLOG_TCP && o->syslog_framing == 0)
        o->syslog_framing = BENCH_FRAMING_OCTET;
    L.stamp_len = stamp(o->syslog_format, gw_wall_ms(), ts, sizeof(ts));
    /* user.info, as the native mode's records. */
    if (o->syslog_format == 5424)
        n = snprintf(head, sizeof(head), "<14>1 %s %s %s %d - - ", ts, HOST, APP, (int)getpid());
    else
        n = snprintf(head, sizeof(head), "<14>%s %s %s[%d]: ", ts, HOST, APP, (int)getpid());
    hlen = (size_t)n;
    min = hlen + strlen("c=0000000 n=000000000000");
    if (want < (long)min || (size_t)want > max)
        return gw_err(err,
                      "--size: %zu..%zu bytes for a syslog line (header and counter "
                      "included)",
                      min, max);
    L.line = (size_t)want;
    L.prefix =
        o->syslog_framing == BENCH_FRAMING_OCTET ? (size_t)snprintf(t, 16, "%zu ", L.line) : 0;
    memcpy(t + L.prefix, head, hlen);
    L.stamp_at = L.prefix + (o->syslog_format == 5424 ? 6 : 4);
    L.conn_at = L.prefix + hlen + 2;
    L.n_at = L.conn_at + 7 + 3;
    memcpy(t + L.prefix + hlen, "c=0000000 n=000000000000", min - hlen);
    memset(t + L.prefix + min, 'x', L.line - min);
    if (L.line > min)
        t[L.prefix + min] = ' ';
    L.frame = L.prefix + L.line;
    if (o->syslog_framing == BENCH_FRAMING_LF)
        t[L.frame++] = '\n';
    o->max_request_bytes = L.frame;
    L.format = o->syslog_format;
    o->proto = o->syslog == BENCH_SYSLOG_UDP ? &proto_syslog_udp : &proto_syslog_tcp;
    return 0;
}

/* Writes v as width decimal digits, zero-padded (the top digits dropped past the width). */
static void
put_dec(char *p, uint64_t v, unsigned width)
{
    while (width-- > 0) {
        p[width] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Keeps T's time current: 5424 carries milliseconds, 3164 seconds. */
static void
refresh_stamp(void)
{
    int64_t ms = gw_wall_ms(), unit = L.format == 5424 ? 1 : 1000;
    char ts[32];

    if (T.set && ms / unit == T.ms / unit)
        return;
    T.ms = ms;
    T.set = 1;
    if (stamp(L.format, ms, ts, sizeof(ts)) == L.stamp_len)
        memcpy(T.text, ts, L.stamp_len);
}

/* The engine's encode_seq: lines seq.. of socket conn, one frame each. */
static size_t
encode_lines(const struct bench_opts *o, unsigned conn, uint64_t seq, unsigned n, char *dst,
             size_t room)
{
    char *p = dst;

    (void)o;
    refresh_stamp();
    for (unsigned i = 0; i < n && (size_t)(p - dst) + L.frame <= room; i++, p += L.frame) {
        memcpy(p, L.frame_tmpl, L.frame);
        memcpy(p + L.stamp_at, T.text, L.stamp_len);
        put_dec(p + L.conn_at, conn, 7);
        put_dec(p + L.n_at, seq + i, 12);
    }
    return (size_t)(p - dst);
}

/* --- the report ---------------------------------------------------------------------- */

static const char *
transport_name(const struct bench_opts *o)
{
    return o->syslog == BENCH_SYSLOG_UDP ? "udp" : "tcp";
}

static const char *
framing_name(const struct bench_opts *o)
{
    return o->syslog_framing == BENCH_FRAMING_OCTET ? "octet"
           : o->syslog_framing == BENCH_FRAMING_LF  ? "lf"
                                                    : NULL;
}

static uint64_t
err_total(const struct bench_results *r)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < BENCH_ERR_COUNT; i++)
        n += r->errors[i];
    return n;
}

static void
report_text(const struct bench_opts *o, const struct bench_results *r, double secs)
{
    double rate = secs > 0 ? (double)r->sent / secs : 0;

    printf("gwbench log --syslog %s %s: %u connections, %u threads, %.2fs, ", transport_name(o),
           o->target, o->conns, o->threads, secs);
    if (o->rate > 0)
        printf("open loop at %.0f lines/s\n", o->rate);
    else
        printf("closed loop (as fast as the sockets take lines)\n");
    printf("  lines      RFC %d, %zu bytes each, %s (%zu bytes a frame)\n", o->syslog_format,
           L.line,
           o->syslog == BENCH_SYSLOG_UDP           ? "one a datagram"
           : o->syslog_framing == BENCH_FRAMING_LF ? "LF framing"
                                                   : "octet counting",
           L.frame);
    printf("  sent       %llu lines, %.1f/s, %.2f MB/s (%llu in all%s", (unsigned long long)r->sent,
           rate, rate * (double)L.frame / 1e6, (unsigned long long)r->sent_total,
           o->warmup_ms ? ", the warm-up's too" : "");
    if (o->rate > 0 && r->scheduled > r->sent)
        printf("; %llu scheduled never sent", (unsigned long long)(r->scheduled - r->sent));
    printf(")\n");
    printf("  latency    none: syslog has no replies; count the lines the server wrote\n");
    printf("  errors     ");
    if (err_total(r) == 0) {
        printf("none\n");
    } else {
        for (unsigned i = 0; i < BENCH_ERR_COUNT; i++)
            printf("%s%s %llu", i ? ", " : "", bench_err_name((enum bench_err)i),
                   (unsigned long long)r->errors[i]);
        printf("\n");
    }
    fflush(stdout);
}

static void
report_json(const struct bench_opts *o, const struct bench_results *r, double secs)
{
    json_t *root = json_object(), *errs = json_object();
    const char *fr = framing_name(o);

    for (unsigned i = 0; i < BENCH_ERR_COUNT; i++)
        json_object_set_new(errs, bench_err_name((enum bench_err)i),
                            json_integer((json_int_t)r->errors[i]));
    json_object_set_new(root, "mode", json_string("log"));
    json_object_set_new(root, "syslog", json_string(transport_name(o)));
    json_object_set_new(root, "format", json_integer(o->syslog_format));
    json_object_set_new(root, "framing", fr ? json_string(fr) : json_null());
    json_object_set_new(root, "target", json_string(o->target));
    json_object_set_new(root, "connections", json_integer(o->conns));
    json_object_set_new(root, "threads", json_integer(o->threads));
    json_object_set_new(root, "duration_s", json_real(secs));
    json_object_set_new(root, "warmup_s", json_real((double)o->warmup_ms / 1e3));
    json_object_set_new(root, "rate_target", o->rate > 0 ? json_real(o->rate) : json_null());
    json_object_set_new(root, "line_bytes", json_integer((json_int_t)L.line));
    json_object_set_new(root, "frame_bytes", json_integer((json_int_t)L.frame));
    json_object_set_new(root, "sent", json_integer((json_int_t)r->sent));
    json_object_set_new(root, "sent_total", json_integer((json_int_t)r->sent_total));
    json_object_set_new(root, "scheduled",
                        o->rate > 0 ? json_integer((json_int_t)r->scheduled) : json_null());
    json_object_set_new(root, "rate", json_real(secs > 0 ? (double)r->sent / secs : 0));
    json_object_set_new(root, "bytes", json_integer((json_int_t)(r->sent * L.frame)));
    json_object_set_new(root, "errors", errs);
    json_object_set_new(root, "error_total", json_integer((json_int_t)err_total(r)));
    json_object_set_new(root, "connected", json_integer((json_int_t)r->connected));
    json_object_set_new(root, "latency_us", json_null());
    json_object_set_new(root, "note", json_string("syslog has no replies: no latency"));
    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    printf("\n");
    fflush(stdout);
    json_decref(root);
}

int
bench_syslog_main(const struct bench_opts *o)
{
    static struct bench_results res;
    char err[GW_ERR_LEN];
    double secs = 0;

    if (bench_run(o, &res, &secs, err) == -1) {
        fprintf(stderr, "gwbench: %s\n", err);
        return 1;
    }
    if (o->json)
        report_json(o, &res, secs);
    else
        report_text(o, &res, secs);
    return err_total(&res) || res.sent_total == 0 ? 1 : 0;
}
