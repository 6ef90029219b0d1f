/*
 * metrics.c -- unit tests for lib/metrics.c: exposition text, per-thread summing, limits,
 * name validation, and promtool's verdict on a realistic registry.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"
#include "../tap.h"

#define NTHREADS 4
#define NLOOPS 200000

static void
test_exposition(void)
{
    static const double bounds[] = {0.125, 0.5, 1};
    static const double route_bounds[] = {1, 2.5};
    const char *v1[] = {"a\"b\\c\nd", "x"}, *v2[] = {"plain", "y"}, *r1[] = {"/ws"};
    char err[GW_ERR_LEN] = "", *text;
    struct gw_metrics *m = gw_metrics_new(2, 256, err);
    int c, g, s, fam, h, hfam, hs, hr, s1, s2;
    size_t len;

    ok(m != NULL, "registry created (%s)", err);
    c = gw_metrics_simple(m, "test_requests_total", GW_METRIC_COUNTER, "Requests handled.", err);
    g = gw_metrics_simple(m, "test_connections", GW_METRIC_GAUGE, "Open connections.", err);
    s = gw_metrics_simple(m, "test_temperature_celsius", GW_METRIC_GAUGE, "A set gauge.", err);
    fam = gw_metrics_family(m, "test_backend_up", GW_METRIC_GAUGE,
                            "Backend state, with a \\ and a\nsecond line.", "backend, kind", NULL,
                            0, err);
    ok(gw_metrics_family(m, "test_empty", GW_METRIC_GAUGE, "No series yet.", "name", NULL, 0,
                         err) >= 0,
       "labelled family without series declared");
    h = gw_metrics_family(m, "test_latency_seconds", GW_METRIC_HISTOGRAM, "Latency.", NULL, bounds,
                          3, err);
    hfam = gw_metrics_family(m, "test_route_seconds", GW_METRIC_HISTOGRAM, "Per route.", "route",
                             route_bounds, 2, err);
    ok(c >= 0 && g >= 0 && s >= 0 && fam >= 0 && h >= 0 && hfam >= 0, "families declared (%s)",
       err);
    s1 = gw_metrics_series(m, fam, v1);
    s2 = gw_metrics_series(m, fam, v2);
    hs = gw_metrics_series(m, h, NULL);
    hr = gw_metrics_series(m, hfam, r1);
    ok(s1 >= 0 && s2 >= 0 && hs >= 0 && hr >= 0, "series created");
    is(gw_metrics_series(m, fam, v1), s1, "same label values give the same series");
    is(gw_metrics_series(m, 99, NULL), -1, "unknown family id refused");
    is(gw_metrics_series2(m, fam, v1[0], v1[1]), s1, "series2: the same series as the array form");
    is(gw_metrics_series2(m, -1, "a", "b"), -1, "series2 of a failed declaration is -1");

    gw_metrics_add(m, c, 3);
    gw_metrics_bind_thread(m, 1);
    gw_metrics_add(m, c, 4);
    gw_metrics_add(m, g, 5);
    gw_metrics_sub(m, g, 7);
    gw_metrics_bind_thread(m, 99);
    gw_metrics_sub(m, c, 1);
    gw_metrics_set(m, s, 21.5);
    gw_metrics_set(m, s1, 1);
    gw_metrics_add(m, s2, 2);
    gw_metrics_observe(m, hs, 0.0625);
    gw_metrics_observe(m, hs, 0.125);
    gw_metrics_observe(m, hs, 0.25);
    gw_metrics_observe(m, hs, 2);
    gw_metrics_observe(m, hr, 3);
    gw_metrics_add(m, hs, 1);
    gw_metrics_add(m, 1000, 1);
    gw_metrics_observe(m, -1, 1);

    is(gw_metrics_value(m, c), 7, "counter value sums slots; sub on a counter ignored");
    is(gw_metrics_value(m, g), -2, "summed gauge goes negative");
    ok(gw_metrics_value(m, s) == 21.5, "set gauge value");
    is(gw_metrics_value(m, hs), 4, "histogram value is its count");
    ok(isnan(gw_metrics_value(m, 1000)), "unknown series value is NaN");

    text = gw_metrics_render(m, &len);
    is_str(text,
           "# HELP test_requests_total Requests handled.\n"
           "# TYPE test_requests_total counter\n"
           "test_requests_total 7\n"
           "# HELP test_connections Open connections.\n"
           "# TYPE test_connections gauge\n"
           "test_connections -2\n"
           "# HELP test_temperature_celsius A set gauge.\n"
           "# TYPE test_temperature_celsius gauge\n"
           "test_temperature_celsius 21.5\n"
           "# HELP test_backend_up Backend state, with a \\\\ and a\\nsecond line.\n"
           "# TYPE test_backend_up gauge\n"
           "test_backend_up{backend=\"a\\\"b\\\\c\\nd\",kind=\"x\"} 1\n"
           "test_backend_up{backend=\"plain\",kind=\"y\"} 2\n"
           "# HELP test_empty No series yet.\n"
           "# TYPE test_empty gauge\n"
           "# HELP test_latency_seconds Latency.\n"
           "# TYPE test_latency_seconds histogram\n"
           "test_latency_seconds_bucket{le=\"0.125\"} 2\n"
           "test_latency_seconds_bucket{le=\"0.5\"} 3\n"
           "test_latency_seconds_bucket{le=\"1\"} 3\n"
           "test_latency_seconds_bucket{le=\"+Inf\"} 4\n"
           "test_latency_seconds_sum 2.4375\n"
           "test_latency_seconds_count 4\n"
           "# HELP test_route_seconds Per route.\n"
           "# TYPE test_route_seconds histogram\n"
           "test_route_seconds_bucket{route=\"/ws\",le=\"1\"} 0\n"
           "test_route_seconds_bucket{route=\"/ws\",le=\"2.5\"} 0\n"
           "test_route_seconds_bucket{route=\"/ws\",le=\"+Inf\"} 1\n"
           "test_route_seconds_sum{route=\"/ws\"} 3\n"
           "test_route_seconds_count{route=\"/ws\"} 1\n",
           "exposition text: counters, gauges, labels, escaping, histograms");
    is(len, text ? strlen(text) : 0, "render length");
    free(text);
    gw_metrics_free(m);
}

static void
test_values(void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {NAN, "NaN"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {0.1, "0.1"},
        {1.0 / 3, "0.3333333333333333"},
        {-42, "-42"},
        {1e15, "1000000000000000"},
        {1e20, "1e+20"},
        {2.5e-7, "2.5e-07"},
        {-0.0, "0"},
    };
    char err[GW_ERR_LEN] = "", want[128], *text;
    struct gw_metrics *m = gw_metrics_new(0, 16, err);
    int s = gw_metrics_simple(m, "test_value", GW_METRIC_GAUGE, "Value.", err);
    size_t i;

    for (i = 0; i < GW_ARRAY_LEN(cases); i++) {
        gw_metrics_set(m, s, cases[i].v);
        text = gw_metrics_render(m, NULL);
        snprintf(want, sizeof(want),
                 "# HELP test_value Value.\n# TYPE test_value gauge\ntest_value %s\n",
                 cases[i].want);
        is_str(text, want, "set gauge %s printed as Prometheus wants", cases[i].want);
        free(text);
    }
    s = gw_metrics_simple(m, "test_cpu_seconds_total", GW_METRIC_COUNTER, "CPU.", err);
    gw_metrics_set(m, s, 1.25);
    text = gw_metrics_render(m, NULL);
    ok(strstr(text, "\ntest_cpu_seconds_total 1.25\n") != NULL,
       "a counter kept elsewhere can be set and renders the set value");
    free(text);
    gw_metrics_free(m);
}

struct worker {
    struct gw_metrics *m;
    int slot; /* -1: unbound */
    int counter, gauge, hist;
};

static void *
work(void *arg)
{
    struct worker *w = arg;
    int i;

    if (w->slot >= 0)
        gw_metrics_bind_thread(w->m, (unsigned)w->slot);
    for (i = 0; i < NLOOPS; i++) {
        gw_metrics_add(w->m, w->counter, 1);
        gw_metrics_add(w->m, w->gauge, 2);
        gw_metrics_sub(w->m, w->gauge, 3);
        if (i % 16 == 0)
            gw_metrics_observe(w->m, w->hist, 0.5);
    }
    return NULL;
}

static void
test_threads(void)
{
    char err[GW_ERR_LEN] = "", *text, want[256];
    struct gw_metrics *m = gw_metrics_new(NTHREADS, 64, err);
    struct worker w[NTHREADS + 2];
    pthread_t t[NTHREADS + 2];
    int c, g, h, i;
    long long per = (NLOOPS + 15) / 16;

    c = gw_metrics_simple(m, "test_events_total", GW_METRIC_COUNTER, "Events.", err);
    g = gw_metrics_simple(m, "test_balance", GW_METRIC_GAUGE, "Balance.", err);
    h = gw_metrics_simple(m, "test_work_seconds", GW_METRIC_HISTOGRAM, "Work.", err);
    for (i = 0; i < NTHREADS + 2; i++) {
        w[i] = (struct worker){m, i < NTHREADS ? i : -1, c, g, h};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (i = 0; i < NTHREADS + 2; i++)
        pthread_join(t[i], NULL);
    is(gw_metrics_value(m, c), (long long)(NTHREADS + 2) * NLOOPS,
       "4 bound and 2 unbound threads: exact counter total");
    is(gw_metrics_value(m, g), -(long long)(NTHREADS + 2) * NLOOPS,
       "summed gauge exact and negative");
    is(gw_metrics_value(m, h), (NTHREADS + 2) * per, "histogram count exact");
    text = gw_metrics_render(m, NULL);
    snprintf(want, sizeof(want), "test_work_seconds_bucket{le=\"0.5\"} %lld\n",
             (NTHREADS + 2) * per);
    ok(text && strstr(text, want), "histogram bucket summed over threads");
    snprintf(want, sizeof(want), "test_work_seconds_sum %lld\n", (NTHREADS + 2) * per / 2);
    ok(text && strstr(text, want), "histogram sum summed over threads");
    free(text);
    gw_metrics_free(m);
}

static void
test_full(void)
{
    char err[GW_ERR_LEN] = "";
    struct gw_metrics *m = gw_metrics_new(1, 4, err);
    const char *v[1];
    char name[16];
    int fam, i, last = 0;

    ok(gw_metrics_simple(m, "test_one_total", GW_METRIC_COUNTER, "One.", err) >= 0,
       "one cell used");
    is(gw_metrics_family(m, "test_hist_seconds", GW_METRIC_HISTOGRAM, "H.", NULL,
                         (const double[]){1, 2}, 2, err),
       -1, "histogram needing 4 cells refused with 3 left");
    ok(strstr(err, "registry full") != NULL, "err says registry full (%s)", err);
    fam = gw_metrics_family(m, "test_peers", GW_METRIC_GAUGE, "Peers.", "k", NULL, 0, err);
    for (i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "v%d", i);
        v[0] = name;
        last = gw_metrics_series(m, fam, v);
    }
    is(last, -1, "series past capacity refused");
    v[0] = "v0";
    ok(gw_metrics_series(m, fam, v) >= 0, "existing series still found when full");
    ok(gw_metrics_new(1, 0, err) == NULL && strstr(err, "out of range"), "0 cells refused");
    ok(gw_metrics_new(GW_METRICS_MAX_THREADS + 1, 8, err) == NULL, "too many threads refused");
    gw_metrics_free(m);
}

static void
test_names(void)
{
    static const struct {
        const char *name;
        enum gw_metric_type type;
        const char *help, *labels;
        const char *want;
    } bad[] = {
        {"", GW_METRIC_GAUGE, "x", NULL, "empty metric name"},
        {NULL, GW_METRIC_GAUGE, "x", NULL, "empty metric name"},
        {"9lives", GW_METRIC_GAUGE, "x", NULL, "bad metric name '9lives'"},
        {"fooBar", GW_METRIC_GAUGE, "x", NULL, "bad metric name 'fooBar'"},
        {"a:b", GW_METRIC_GAUGE, "x", NULL, "bad metric name 'a:b'"},
        {"a b", GW_METRIC_GAUGE, "x", NULL, "bad metric name"},
        {"__x", GW_METRIC_GAUGE, "x", NULL, "reserved"},
        {"test_requests", GW_METRIC_COUNTER, "x", NULL, "counter 'test_requests' must end in"},
        {"test_x_total", GW_METRIC_GAUGE, "x", NULL, "must not end in _total"},
        {"test_x_total", GW_METRIC_HISTOGRAM, "x", NULL, "must not end in _total"},
        {"test_x_count", GW_METRIC_GAUGE, "x", NULL, "must not end in _count"},
        {"test_x_bucket", GW_METRIC_GAUGE, "x", NULL, "must not end in _bucket"},
        {"test_x_sum", GW_METRIC_HISTOGRAM, "x", NULL, "must not end in _sum"},
        {"test_latency_ms", GW_METRIC_GAUGE, "x", NULL, "abbreviated unit 'ms'"},
        {"test_size_kb", GW_METRIC_GAUGE, "x", NULL, "abbreviated unit 'kb'"},
        {"test_x", GW_METRIC_GAUGE, "", NULL, "no help text"},
        {"test_x", GW_METRIC_GAUGE, NULL, NULL, "no help text"},
        {"test_x", GW_METRIC_GAUGE, "x", "bad-label", "bad label name 'bad-label'"},
        {"test_x", GW_METRIC_GAUGE, "x", "a,,b", "empty label name"},
        {"test_x", GW_METRIC_GAUGE, "x", "__name", "reserved"},
        {"test_x", GW_METRIC_GAUGE, "x", "9a", "bad label name '9a'"},
        {"test_x", GW_METRIC_GAUGE, "x", "a,a", "duplicate label name 'a'"},
        {"test_x", GW_METRIC_GAUGE, "x", "a,b,c,d,e,f,g,h,i", "more than 8 label names"},
        {"test_x_seconds", GW_METRIC_HISTOGRAM, "x", "le", "'le' is reserved"},
        {"test_x", GW_METRIC_GAUGE, "x", "a,le", "'le' is reserved"},
        {"test_x", GW_METRIC_GAUGE, "x", "quantile", "'quantile' is reserved"},
    };
    char err[GW_ERR_LEN];
    struct gw_metrics *m = gw_metrics_new(1, 64, err);
    size_t i;

    for (i = 0; i < GW_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        is(gw_metrics_family(m, bad[i].name, bad[i].type, bad[i].help, bad[i].labels, NULL, 0, err),
           -1, "family '%s' labels '%s' refused", bad[i].name ? bad[i].name : "(null)",
           bad[i].labels ? bad[i].labels : "");
        ok(strstr(err, bad[i].want) != NULL, "err '%s' contains '%s'", err, bad[i].want);
    }
    ok(gw_metrics_family(m, "test_ok_total", GW_METRIC_COUNTER, "x", "Backend_1", NULL, 0, err) >=
           0,
       "mixed-case label name accepted");
    is(gw_metrics_family(m, "test_ok_total", GW_METRIC_COUNTER, "x", NULL, NULL, 0, err), -1,
       "duplicate family refused");
    ok(strstr(err, "declared twice") != NULL, "err says declared twice (%s)", err);
    is(gw_metrics_family(m, "test_ok2_total", GW_METRIC_COUNTER, "x", NULL, (const double[]){1}, 1,
                         err),
       -1, "buckets on a counter refused");
    ok(strstr(err, "buckets given") != NULL, "err names buckets (%s)", err);
    is(gw_metrics_family(m, "test_hist_seconds", GW_METRIC_HISTOGRAM, "x", NULL,
                         (const double[]){1, 1}, 2, err),
       -1, "equal bounds refused");
    ok(strstr(err, "strictly ascending") != NULL, "err says ascending (%s)", err);
    is(gw_metrics_family(m, "test_hist_seconds", GW_METRIC_HISTOGRAM, "x", NULL,
                         (const double[]){1, INFINITY}, 2, err),
       -1, "explicit +Inf bound refused");
    ok(strstr(err, "finite") != NULL, "err says finite (%s)", err);
    ok(gw_metrics_family(m, "test_hist_seconds", GW_METRIC_HISTOGRAM, "x", NULL, NULL, 0, err) >= 0,
       "histogram with default buckets");
    gw_metrics_free(m);
}

static void
test_label_values(void)
{
    char err[GW_ERR_LEN] = "", long1[400], long2[400], *text;
    const char *v[1];
    struct gw_metrics *m = gw_metrics_new(1, 16, err);
    int fam = gw_metrics_family(m, "test_peer", GW_METRIC_GAUGE, "Peer.", "name", NULL, 0, err);
    int a, b;

    v[0] = "bad\xff\xc0utf8 \xe2\x82\xac";
    gw_metrics_series(m, fam, v);
    text = gw_metrics_render(m, NULL);
    ok(text && strstr(text, "test_peer{name=\"bad\xef\xbf\xbd\xef\xbf\xbdutf8 \xe2\x82\xac\"} 0\n"),
       "invalid UTF-8 bytes replaced by U+FFFD, valid ones kept");
    free(text);
    memset(long1, 'x', sizeof(long1) - 1);
    long1[sizeof(long1) - 1] = '\0';
    memcpy(long2, long1, sizeof(long2));
    long2[300] = 'y';
    v[0] = long1;
    a = gw_metrics_series(m, fam, v);
    v[0] = long2;
    b = gw_metrics_series(m, fam, v);
    ok(a >= 0 && a == b, "values cut at %d bytes name the same series", GW_METRICS_MAX_VALUE_BYTES);
    gw_metrics_free(m);
}

struct hook_state {
    int calls;
    int series;
    char order[8];
};

static void
hook_a(struct gw_metrics *m, void *arg)
{
    struct hook_state *st = arg;

    st->calls++;
    strcat(st->order, "a");
    gw_metrics_set(m, st->series, st->calls * 10);
}

static void
hook_b(struct gw_metrics *m, void *arg)
{
    struct hook_state *st = arg;

    (void)m;
    strcat(st->order, "b");
}

static void
test_hooks(void)
{
    char err[GW_ERR_LEN] = "", *text;
    struct gw_metrics *m = gw_metrics_new(1, 16, err);
    struct hook_state st = {0};
    int i, rc = 0;

    st.series = gw_metrics_simple(m, "test_computed", GW_METRIC_GAUGE, "Computed.", err);
    is(gw_metrics_on_collect(m, hook_a, &st), 0, "first hook added");
    is(gw_metrics_on_collect(m, hook_b, &st), 0, "second hook added");
    text = gw_metrics_render(m, NULL);
    ok(text && strstr(text, "test_computed 10\n"), "hook ran before render");
    free(text);
    is_str(st.order, "ab", "hooks run in the order added");
    text = gw_metrics_render(m, NULL);
    ok(text && strstr(text, "test_computed 20\n"), "hooks run on every render");
    free(text);
    for (i = 2; i < GW_METRICS_MAX_HOOKS; i++)
        rc |= gw_metrics_on_collect(m, hook_b, &st);
    is(rc, 0, "%d hooks fit", GW_METRICS_MAX_HOOKS);
    is(gw_metrics_on_collect(m, hook_b, &st), -1, "one hook too many refused");
    gw_metrics_free(m);
}

/* A registry like a daemon's, checked by promtool. */
static void
test_promtool(void)
{
    static const double lat[] = {0.0001, 0.001, 0.01, 0.1, 1};
    const char *b1[] = {"chat-1", "closed"}, *b2[] = {"vid\"eo\\2\n", "open"};
    char err[GW_ERR_LEN] = "", dir[] = "/tmp/gw-metrics-XXXXXX", path[64], cmd[160], *text;
    struct gw_metrics *m = gw_metrics_new(2, 512, err);
    int fam, h, s, rc;
    FILE *f;

    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        printf("ok %d # skip promtool not installed\n", ++tap_run);
        gw_metrics_free(m);
        return;
    }
    s = gw_metrics_simple(m, "hbd_received_messages_total", GW_METRIC_COUNTER,
                          "Heartbeat messages received.", err);
    gw_metrics_add(m, s, 12345);
    s = gw_metrics_simple(m, "hbd_active_connections", GW_METRIC_GAUGE, "Open connections.", err);
    gw_metrics_sub(m, s, 2);
    s = gw_metrics_simple(m, "hbd_messages_per_second", GW_METRIC_GAUGE, "Message rate.", err);
    gw_metrics_set(m, s, 1234.567);
    s = gw_metrics_simple(m, "hbd_up_ratio", GW_METRIC_GAUGE, "Undefined ratio.", err);
    gw_metrics_set(m, s, NAN);
    s = gw_metrics_simple(m, "hbd_limit_bytes", GW_METRIC_GAUGE, "No limit.", err);
    gw_metrics_set(m, s, INFINITY);
    fam = gw_metrics_family(m, "wsgwd_backend_circuit_state", GW_METRIC_GAUGE,
                            "Circuit state per backend (0 closed, 1 open, 2 half-open).\nNote \\.",
                            "backend,state", NULL, 0, err);
    gw_metrics_set(m, gw_metrics_series(m, fam, b1), 0);
    gw_metrics_set(m, gw_metrics_series(m, fam, b2), 1);
    gw_metrics_family(m, "wsgwd_backend_frames_total", GW_METRIC_COUNTER, "Frames per backend.",
                      "backend", NULL, 0, err);
    h = gw_metrics_family(m, "hbd_processing_seconds", GW_METRIC_HISTOGRAM,
                          "Time to process one message.", NULL, lat, GW_ARRAY_LEN(lat), err);
    s = gw_metrics_series(m, h, NULL);
    gw_metrics_observe(m, s, 0.00005);
    gw_metrics_observe(m, s, 0.003);
    gw_metrics_observe(m, s, 7);
    h = gw_metrics_family(m, "logd_sink_request_seconds", GW_METRIC_HISTOGRAM, "Sink request time.",
                          "sink", NULL, 0, err);
    s = gw_metrics_series(m, h, (const char *[]){"loki"});
    gw_metrics_observe(m, s, 0.2);
    ok(h >= 0 && s >= 0, "realistic registry declared (%s)", err);

    ok(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof(path), "%s/metrics.txt", dir);
    text = gw_metrics_render(m, NULL);
    f = fopen(path, "w");
    ok(f && text && fputs(text, f) >= 0, "exposition written");
    if (f)
        fclose(f);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
    rc = system(cmd);
    ok(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "promtool check metrics exits 0");
    if (rc != 0)
        diag("exposition:\n%s", text);
    free(text);
    unlink(path);
    rmdir(dir);
    gw_metrics_free(m);
}

int
main(void)
{
    test_exposition();
    test_values();
    test_threads();
    test_full();
    test_names();
    test_label_values();
    test_hooks();
    test_promtool();
    return done_testing();
}
