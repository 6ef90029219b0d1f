/*
 * report.c -- what gwbench prints: the final report (text or JSON), the per-second progress
 * line, and the percentile distribution for --hist-out (HdrHistogram's text layout, values in
 * milliseconds, so its plotting tools read it).
 */
#include "gwbench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "util.h"

static const char *const err_names[BENCH_ERR_COUNT] = {"connect", "timeout", "closed",
                                                        "closed_at_once", "wrong"};

/* The percentiles the report gives, in its order. */
static const struct {
    const char *name;
    double p;
} pcts[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}};

const char *
bench_err_name(enum bench_err e)
{
    return e < BENCH_ERR_COUNT ? err_names[e] : "?";
}

/* "850us", "1.25ms", "2.10s". */
static const char *
fmt_ns(double ns, char *buf, size_t len)
{
    if (ns < 1e6)
        snprintf(buf, len, "%.0fus", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, len, "%.2fms", ns / 1e6);
    else
        snprintf(buf, len, "%.2fs", ns / 1e9);
    return buf;
}

static uint64_t
err_total(const struct bench_results *r)
{
    uint64_t n = 0;
    unsigned i;

    for (i = 0; i < BENCH_ERR_COUNT; i++)
        n += r->errors[i];
    return n;
}

static void
print_errors(const struct bench_results *r)
{
    unsigned i;

    printf("  errors     ");
    if (err_total(r) == 0) {
        printf("none\n");
        return;
    }
    for (i = 0; i < BENCH_ERR_COUNT; i++)
        printf("%s%s %llu", i ? ", " : "", err_names[i], (unsigned long long)r->errors[i]);
    printf("\n");
    if (r->errors[BENCH_ERR_CLOSED_AT_ONCE] && r->requests == 0)
        printf("  hint       the server closes connections at once: is this the right port and "
               "protocol?\n");
}

static void
print_latency(const struct gw_hist *h)
{
    char b[32];
    unsigned i;

    if (h->count == 0) {
        printf("  latency    no replies\n");
        return;
    }
    printf("  latency    mean %s", fmt_ns(gw_hist_mean(h), b, sizeof(b)));
    for (i = 0; i < GW_ARRAY_LEN(pcts); i++)
        printf("  %s %s", pcts[i].name,
               fmt_ns((double)gw_hist_percentile(h, pcts[i].p), b, sizeof(b)));
    printf("  max %s\n", fmt_ns((double)h->max_ns, b, sizeof(b)));
}

/* The open loop's self-check: a late send is counted in the latency (that is the point of
 * measuring from the intended time), so say how much of it was gwbench's own lateness. */
static void
print_lag(const struct gw_hist *h)
{
    char b1[32], b2[32], b3[32];

    if (h->count == 0)
        return;
    printf("  send lag   p50 %s  p99 %s  max %s (behind schedule, included above)\n",
           fmt_ns((double)gw_hist_percentile(h, 50), b1, sizeof(b1)),
           fmt_ns((double)gw_hist_percentile(h, 99), b2, sizeof(b2)),
           fmt_ns((double)h->max_ns, b3, sizeof(b3)));
}

void
bench_report_text(const struct bench_opts *o, const struct bench_results *r, double elapsed_s)
{
    printf("gwbench %s %s: %u connections, %u threads, %.2fs", o->proto->mode, o->target, o->conns,
           o->threads, elapsed_s);
    if (o->idle)
        printf(", idle\n");
    else if (o->rate > 0)
        printf(", open loop at %.0f requests/s (pipeline %u)\n", o->rate, o->pipeline);
    else
        printf(", closed loop (pipeline %u)\n", o->pipeline);
    if (o->idle) {
        printf("  open       %llu of %u at the end\n", (unsigned long long)r->open, o->conns);
    } else {
        printf("  requests   %llu, %.1f/s (sent %llu", (unsigned long long)r->requests,
               elapsed_s > 0 ? (double)r->requests / elapsed_s : 0.0, (unsigned long long)r->sent);
        if (o->rate > 0 && r->scheduled > r->sent)
            printf(", %llu scheduled never sent", (unsigned long long)(r->scheduled - r->sent));
        printf(")\n");
        if (o->batch > 1)
            printf("  records    %llu, %.1f/s (%u per request)\n",
                   (unsigned long long)r->requests * o->batch,
                   elapsed_s > 0 ? (double)r->requests * o->batch / elapsed_s : 0.0, o->batch);
        print_latency(&r->hist);
        if (o->rate > 0)
            print_lag(&r->lag);
    }
    print_errors(r);
    fflush(stdout);
}

static json_t *
latency_json(const struct gw_hist *h)
{
    json_t *lat = json_object();
    unsigned i;

    json_object_set_new(lat, "mean", json_real(h->count ? gw_hist_mean(h) / 1e3 : 0));
    for (i = 0; i < GW_ARRAY_LEN(pcts); i++)
        json_object_set_new(lat, pcts[i].name,
                            json_real((double)gw_hist_percentile(h, pcts[i].p) / 1e3));
    json_object_set_new(lat, "max", json_real(h->count ? (double)h->max_ns / 1e3 : 0));
    json_object_set_new(lat, "min", json_real(h->count ? (double)h->min_ns / 1e3 : 0));
    return lat;
}

int
bench_report_json(const struct bench_opts *o, const struct bench_results *r, double elapsed_s)
{
    json_t *root, *errs;
    unsigned i;
    int rc;

    errs = json_object();
    for (i = 0; i < BENCH_ERR_COUNT; i++)
        json_object_set_new(errs, err_names[i], json_integer((json_int_t)r->errors[i]));
    root = json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:f, s:b}", "mode", o->proto->mode, "target",
                     o->target, "connections", (json_int_t)o->conns, "threads",
                     (json_int_t)o->threads, "pipeline", (json_int_t)o->pipeline, "duration_s",
                     elapsed_s, "warmup_s", (double)o->warmup_ms / 1e3, "idle", o->idle);
    if (root == NULL) {
        json_decref(errs);
        return -1;
    }
    json_object_set_new(root, "rate_target", o->rate > 0 ? json_real(o->rate) : json_null());
    json_object_set_new(root, "requests", json_integer((json_int_t)r->requests));
    json_object_set_new(root, "sent", json_integer((json_int_t)r->sent));
    json_object_set_new(root, "scheduled",
                        o->rate > 0 ? json_integer((json_int_t)r->scheduled) : json_null());
    json_object_set_new(root, "rate",
                        json_real(elapsed_s > 0 ? (double)r->requests / elapsed_s : 0));
    if (o->proto == &bench_proto_log) {
        /* Records acknowledged: what the collector's file should have gained. */
        json_object_set_new(root, "batch", json_integer((json_int_t)o->batch));
        json_object_set_new(root, "records", json_integer((json_int_t)(r->requests * o->batch)));
        json_object_set_new(
            root, "records_rate",
            json_real(elapsed_s > 0 ? (double)r->requests * o->batch / elapsed_s : 0));
    }
    json_object_set_new(root, "errors", errs);
    json_object_set_new(root, "error_total", json_integer((json_int_t)err_total(r)));
    json_object_set_new(root, "connected", json_integer((json_int_t)r->connected));
    json_object_set_new(root, "open", json_integer((json_int_t)r->open));
    json_object_set_new(root, "latency_us", latency_json(&r->hist));
    json_object_set_new(root, "send_lag_us", o->rate > 0 ? latency_json(&r->lag) : json_null());
    rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    printf("\n");
    fflush(stdout);
    json_decref(root);
    return rc;
}

void
bench_progress(const struct bench_opts *o, double elapsed_s, uint64_t requests, double rate,
               const struct gw_hist *h, uint64_t errors, uint64_t open)
{
    char b[32];

    if (o->idle) {
        fprintf(stderr, "[%5.1fs] %llu open, %llu errors\n", elapsed_s, (unsigned long long)open,
                (unsigned long long)errors);
        return;
    }
    /* Fire and forget (syslog): nothing is answered, so lines sent and no latency. */
    if (o->proto->no_reply) {
        fprintf(stderr, "[%5.1fs] %llu lines sent, %.0f/s, %llu errors\n", elapsed_s,
                (unsigned long long)requests, rate, (unsigned long long)errors);
        return;
    }
    fprintf(stderr, "[%5.1fs] %llu requests, %.0f/s, p99 %s, %llu errors\n", elapsed_s,
            (unsigned long long)requests, rate,
            h->count ? fmt_ns((double)gw_hist_percentile(h, 99), b, sizeof(b)) : "-",
            (unsigned long long)errors);
}

void
bench_idle_ready(const struct bench_opts *o, uint64_t open)
{
    fprintf(stderr, "gwbench: idle: %llu of %u connections open\n", (unsigned long long)open,
            o->conns);
    fflush(stderr);
}

struct hist_out {
    FILE *f;
    uint64_t max_ns, seen;
    double mean_ms, var_sum;
    int pass;
};

static void
hist_line(uint64_t value_ns, uint64_t count, double cumulative, void *arg)
{
    struct hist_out *ho = arg;
    /* The last row is the exact maximum; a bucket's midpoint never passes it. */
    double ms = (double)(cumulative >= 1.0 ? ho->max_ns : GW_MIN(value_ns, ho->max_ns)) / 1e6;

    if (ho->pass == 0) {
        ho->var_sum += (double)count * (ms - ho->mean_ms) * (ms - ho->mean_ms);
        return;
    }
    ho->seen += count;
    if (cumulative < 1.0)
        fprintf(ho->f, "%12.3f %14.12f %12llu %14.2f\n", ms, cumulative,
                (unsigned long long)ho->seen, 1.0 / (1.0 - cumulative));
    else
        fprintf(ho->f, "%12.3f %14.12f %12llu\n", ms, 1.0, (unsigned long long)ho->seen);
}

int
bench_hist_write(const char *path, const struct gw_hist *h, char *err)
{
    struct hist_out ho = {0};
    int rc;

    if (strcmp(path, "-") == 0)
        ho.f = stdout;
    else if ((ho.f = fopen(path, "w")) == NULL)
        return gw_err_errno(err, "cannot write %s", path);
    ho.mean_ms = h->count ? gw_hist_mean(h) / 1e6 : 0;
    ho.max_ns = h->max_ns;
    gw_hist_foreach(h, hist_line, &ho);
    ho.pass = 1;
    fprintf(ho.f, "%12s %14s %12s %14s\n\n", "Value", "Percentile", "TotalCount",
            "1/(1-Percentile)");
    gw_hist_foreach(h, hist_line, &ho);
    fprintf(ho.f, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", ho.mean_ms,
            h->count ? sqrt(ho.var_sum / (double)h->count) : 0.0);
    fprintf(ho.f, "#[Max     = %12.3f, Total count    = %12llu]\n", (double)h->max_ns / 1e6,
            (unsigned long long)h->count);
    /* Power-of-two ranges the histogram covers, and the linear sub-buckets of each. */
    fprintf(ho.f, "#[Buckets = %12d, SubBuckets     = %12d]\n",
            (GW_HIST_BUCKETS + (1 << GW_HIST_SUB_BITS) - 1) >> GW_HIST_SUB_BITS,
            1 << GW_HIST_SUB_BITS);
    rc = ferror(ho.f) ? gw_err(err, "cannot write %s", path) : 0;
    if (ho.f != stdout && fclose(ho.f) != 0 && rc == 0)
        rc = gw_err_errno(err, "cannot write %s", path);
    return rc;
}
