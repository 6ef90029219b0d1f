/*
 * hist.c -- unit tests for lib/hist.c: accuracy over the whole range, clamping, merge, foreach.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "util.h"
#include "../tap.h"

static struct gw_hist h1, h2, h3;

static double
rel_err(uint64_t got, uint64_t want)
{
    return fabs((double)got - (double)want) / (double)want;
}

/* Records v between the two extremes, so the median is v's bucket representative and not the
 * exact min or max; returns its relative error. */
static double
bucket_err(uint64_t v)
{
    gw_hist_init(&h1);
    gw_hist_record(&h1, GW_HIST_MIN_NS);
    gw_hist_record(&h1, v);
    gw_hist_record(&h1, GW_HIST_MAX_NS);
    return rel_err(gw_hist_percentile(&h1, 50), v);
}

struct walk {
    uint64_t calls, total, last_value;
    double last_cum;
    int monotonic;
};

static void
walk_fn(uint64_t value_ns, uint64_t count, double cumulative, void *arg)
{
    struct walk *w = arg;

    if (w->calls && (value_ns <= w->last_value || cumulative < w->last_cum))
        w->monotonic = 0;
    if (count == 0)
        w->monotonic = 0;
    w->calls++;
    w->total += count;
    w->last_value = value_ns;
    w->last_cum = cumulative;
}

static void
test_empty(void)
{
    struct walk w = {.monotonic = 1};

    gw_hist_init(&h1);
    is(gw_hist_percentile(&h1, 50), 0, "empty: p50 is 0");
    is(gw_hist_percentile(&h1, 0), 0, "empty: p0 is 0");
    is(gw_hist_percentile(&h1, 100), 0, "empty: p100 is 0");
    ok(gw_hist_mean(&h1) == 0, "empty: mean is 0");
    gw_hist_foreach(&h1, walk_fn, &w);
    ok(w.calls == 0, "empty: foreach calls nothing");
    memset(&h2, 0, sizeof(h2));
    ok(memcmp(&h1, &h2, sizeof(h1)) == 0, "init equals an all-zero struct");
}

static void
test_geometric_values(void)
{
    double worst = 0, e;
    unsigned n = 0, bad = 0;

    for (double v = 1000; v <= 60e9; v *= 1.001, n++) {
        e = bucket_err((uint64_t)v);
        if (e > worst)
            worst = e;
        if (e > 0.01)
            bad++;
    }
    is(bad, 0, "each of %u values 1000 * 1.001^k up to 60 s is within 1%%", n);
    ok(worst <= 1.0 / 256 + 1e-9, "worst relative error %.5f%% is within the midpoint bound 0.39%%",
       worst * 100);
}

static void
test_bucket_edges(void)
{
    double worst = 0, e;
    unsigned n = 0, bad = 0;

    /* The first and the last value of every sub-bucket: where the midpoint is farthest away. */
    for (unsigned oct = 9; oct <= 35; oct++) {
        for (uint64_t m = 128; m <= 256; m++) {
            uint64_t edge = m << (oct - 7);
            for (uint64_t v = edge - 1; v <= edge; v++) {
                if (v < GW_HIST_MIN_NS || v > GW_HIST_MAX_NS)
                    continue;
                e = bucket_err(v);
                n++;
                if (e > worst)
                    worst = e;
                if (e > 1.0 / 256 + 1e-9)
                    bad++;
            }
        }
    }
    is(bad, 0, "all %u sub-bucket edge values are within 0.39%%", n);
    diag("worst edge error %.5f%%", worst * 100);
}

static void
test_uniform_percentiles(void)
{
    static const double ps[] = {50, 90, 99, 99.9, 99.99};
    const uint64_t n = 100000;

    gw_hist_init(&h1);
    for (uint64_t us = 1; us <= n; us++)
        gw_hist_record(&h1, us * 1000);
    is(h1.count, n, "uniform: count");
    for (size_t i = 0; i < GW_ARRAY_LEN(ps); i++) {
        /* The exact percentile is the value of rank ceil(p / 100 * n). */
        uint64_t want = (uint64_t)ceil(ps[i] / 100 * (double)n - 1e-9) * 1000;
        uint64_t got = gw_hist_percentile(&h1, ps[i]);
        ok(rel_err(got, want) <= 0.004, "uniform: p%g = %llu within 0.4%% of %llu", ps[i],
           (unsigned long long)got, (unsigned long long)want);
    }
    is(gw_hist_percentile(&h1, 0), 1000, "uniform: p0 is the exact min");
    is(gw_hist_percentile(&h1, 100), n * 1000, "uniform: p100 is the exact max");
    ok(fabs(gw_hist_mean(&h1) - 50000.5 * 1000) < 1e-3, "uniform: mean is exact");
    ok(gw_hist_percentile(&h1, -5) == 1000 && gw_hist_percentile(&h1, 250) == n * 1000,
       "p outside 0..100 is clamped");
    ok(gw_hist_percentile(&h1, NAN) == 1000, "p = NaN gives the min, not a crash");
}

static void
test_small_ranks(void)
{
    gw_hist_init(&h1);
    for (uint64_t i = 1; i <= 10; i++)
        gw_hist_record(&h1, i * 1000000);
    ok(rel_err(gw_hist_percentile(&h1, 50), 5000000) <= 0.004, "p50 of 1..10 ms is 5 ms");
    ok(rel_err(gw_hist_percentile(&h1, 10), 1000000) <= 0.004, "p10 of 1..10 ms is 1 ms");
    ok(rel_err(gw_hist_percentile(&h1, 10.01), 2000000) <= 0.004, "p10.01 of 1..10 ms is 2 ms");
    ok(rel_err(gw_hist_percentile(&h1, 0.001), 1000000) <= 0.004, "tiny p gives the lowest");
}

static void
test_clamping(void)
{
    gw_hist_init(&h1);
    gw_hist_record(&h1, 0);
    gw_hist_record(&h1, 999);
    gw_hist_record(&h1, 1000);
    is(h1.clamped, 2, "values below 1 us are counted as clamped");
    is(h1.min_ns, GW_HIST_MIN_NS, "values below 1 us count as 1 us");
    gw_hist_record(&h1, GW_HIST_MAX_NS);
    gw_hist_record(&h1, GW_HIST_MAX_NS + 1);
    gw_hist_record(&h1, UINT64_MAX);
    is(h1.clamped, 4, "values above 60 s are counted as clamped");
    is(h1.max_ns, GW_HIST_MAX_NS, "values above 60 s count as 60 s");
    is(h1.count, 6, "clamped values are still counted");
    is(gw_hist_percentile(&h1, 100), GW_HIST_MAX_NS, "p100 after clamping is 60 s");
    is(gw_hist_percentile(&h1, 0), GW_HIST_MIN_NS, "p0 after clamping is 1 us");
    ok(fabs(gw_hist_mean(&h1) - (3 * 1000.0 + 3 * 60e9) / 6) < 1, "mean uses clamped values");
}

static void
test_min_max(void)
{
    gw_hist_init(&h1);
    gw_hist_record(&h1, 987654321);
    gw_hist_record(&h1, 12345);
    gw_hist_record(&h1, 555555);
    is(h1.min_ns, 12345, "min is exact");
    is(h1.max_ns, 987654321, "max is exact");
    is(gw_hist_percentile(&h1, 0), 12345, "p0 is the exact min");
    is(gw_hist_percentile(&h1, 100), 987654321, "p100 is the exact max");
    ok(fabs(gw_hist_mean(&h1) - (987654321.0 + 12345 + 555555) / 3) < 1e-3, "mean is exact");
}

static void
test_record_n(void)
{
    gw_hist_init(&h1);
    gw_hist_init(&h2);
    for (int i = 0; i < 5; i++)
        gw_hist_record(&h1, 777777);
    gw_hist_record(&h1, 5);
    gw_hist_record_n(&h2, 777777, 5);
    gw_hist_record_n(&h2, 5, 1);
    gw_hist_record_n(&h2, 42424242, 0);
    ok(memcmp(&h1, &h2, sizeof(h1)) == 0, "record_n equals n records; n = 0 records nothing");
    gw_hist_init(&h2);
    gw_hist_record_n(&h2, 10, 7);
    is(h2.clamped, 7, "record_n counts each clamped value");
}

static uint64_t
rand_ns(uint64_t *state)
{
    /* Log-uniform over 0.5 us .. 100 s, so clamping happens at both ends. */
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(*state >> 11) / 9007199254740992.0;
    return (uint64_t)(500 * pow(2e8, u));
}

static void
test_merge(void)
{
    uint64_t st = 42;

    gw_hist_init(&h1);
    gw_hist_init(&h2);
    gw_hist_init(&h3);
    for (int i = 0; i < 200000; i++) {
        uint64_t v = rand_ns(&st);
        gw_hist_record(i % 3 ? &h1 : &h2, v);
        gw_hist_record(&h3, v);
    }
    gw_hist_merge(&h1, &h2);
    ok(memcmp(h1.counts, h3.counts, sizeof(h1.counts)) == 0, "merge: buckets equal one histogram");
    ok(h1.count == h3.count && h1.clamped == h3.clamped && h1.min_ns == h3.min_ns &&
           h1.max_ns == h3.max_ns,
       "merge: count, clamped, min and max equal one histogram");
    ok(fabs(h1.sum_ns - h3.sum_ns) <= 1e-9 * h3.sum_ns, "merge: sums agree");
    ok(h3.clamped > 0, "the sample hit the clamps");
    gw_hist_init(&h2);
    gw_hist_merge(&h1, &h2);
    ok(memcmp(h1.counts, h3.counts, sizeof(h1.counts)) == 0 && h1.min_ns == h3.min_ns,
       "merging an empty histogram changes nothing");
    gw_hist_merge(&h2, &h3);
    ok(memcmp(&h2, &h3, sizeof(h2)) == 0, "merging into an empty histogram copies");
}

static void
test_foreach(void)
{
    struct walk w = {.monotonic = 1};
    uint64_t st = 7;

    gw_hist_init(&h1);
    for (int i = 0; i < 50000; i++)
        gw_hist_record(&h1, rand_ns(&st));
    gw_hist_foreach(&h1, walk_fn, &w);
    ok(w.calls > 1000, "foreach visits the non-empty buckets (%llu)", (unsigned long long)w.calls);
    is(w.total, h1.count, "foreach counts add up to count");
    ok(w.monotonic, "foreach values ascend, cumulative never decreases, counts > 0");
    ok(w.last_cum == 1.0, "foreach cumulative ends at exactly 1.0");
    ok(w.last_value <= h1.max_ns && rel_err(w.last_value, h1.max_ns) <= 0.004,
       "last foreach value is within 0.4%% of the max");

    memset(&w, 0, sizeof(w));
    w.monotonic = 1;
    gw_hist_init(&h1);
    gw_hist_record_n(&h1, 3000, 3);
    gw_hist_foreach(&h1, walk_fn, &w);
    ok(w.calls == 1 && w.total == 3 && w.last_value == 3000 && w.last_cum == 1.0,
       "foreach of a single value gives that value at 1.0");
}

static void
test_speed(void)
{
    uint64_t st = 1, t0, n = 2000000, sink = 0;

    gw_hist_init(&h1);
    t0 = gw_mono_ns();
    for (uint64_t i = 0; i < n; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        gw_hist_record(&h1, (st >> 30) + 1000);
    }
    sink = h1.count;
    diag("record: %.1f ns per value (information only)", (double)(gw_mono_ns() - t0) / (double)n);
    is(sink, n, "two million records counted");
}

int
main(void)
{
    test_empty();
    test_geometric_values();
    test_bucket_edges();
    test_uniform_percentiles();
    test_small_ranks();
    test_clamping();
    test_min_max();
    test_record_n();
    test_merge();
    test_foreach();
    test_speed();
    return done_testing();
}
