/*
 * hist.c -- log-linear latency histogram: 128 linear sub-buckets per power of two.
 */
#include "hist.h"

#include <math.h>
#include <string.h>

#define SUB_COUNT (1u << GW_HIST_SUB_BITS)

/* Key of v >= SUB_COUNT: (octave above the linear range) * 128 + the top 8 bits of v. Keys grow
 * with v, and consecutive keys are adjacent buckets. */
#define KEY_SHIFT(v) (63 - __builtin_clzll(v) - GW_HIST_SUB_BITS)
#define KEY(v) (((uint64_t)KEY_SHIFT(v) << GW_HIST_SUB_BITS) + ((v) >> KEY_SHIFT(v)))
#define KEY_MIN KEY(GW_HIST_MIN_NS)

_Static_assert(KEY(GW_HIST_MAX_NS) - KEY_MIN + 1 == GW_HIST_BUCKETS,
               "GW_HIST_BUCKETS matches the bucket layout");
_Static_assert(GW_HIST_MIN_NS >= SUB_COUNT, "the first octave is log-linear too");

static inline size_t
bucket_of(uint64_t ns)
{
    return (size_t)(KEY(ns) - KEY_MIN);
}

/* Lowest value of bucket i and the bucket's width. */
static void
bucket_range(size_t i, uint64_t *low, uint64_t *width)
{
    uint64_t key = (uint64_t)i + KEY_MIN;
    unsigned shift = (unsigned)(key >> GW_HIST_SUB_BITS) - 1;
    uint64_t top = SUB_COUNT + (key & (SUB_COUNT - 1));

    *low = top << shift;
    *width = 1ull << shift;
}

/* The bucket's midpoint, kept within the exact extremes (which tightens the first and the last
 * non-empty bucket). */
static uint64_t
representative(const struct gw_hist *h, size_t i)
{
    uint64_t low, width, v;

    bucket_range(i, &low, &width);
    v = low + (width - 1) / 2;
    if (v < h->min_ns)
        v = h->min_ns;
    if (v > h->max_ns)
        v = h->max_ns;
    return v;
}

void
gw_hist_init(struct gw_hist *h)
{
    memset(h, 0, sizeof(*h));
}

void
gw_hist_record_n(struct gw_hist *h, uint64_t ns, uint64_t n)
{
    if (n == 0)
        return;
    if (ns < GW_HIST_MIN_NS) {
        ns = GW_HIST_MIN_NS;
        h->clamped += n;
    } else if (ns > GW_HIST_MAX_NS) {
        ns = GW_HIST_MAX_NS;
        h->clamped += n;
    }
    if (h->count == 0 || ns < h->min_ns)
        h->min_ns = ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
    h->count += n;
    h->sum_ns += (double)ns * (double)n;
    h->counts[bucket_of(ns)] += n;
}

void
gw_hist_record(struct gw_hist *h, uint64_t ns)
{
    if (ns < GW_HIST_MIN_NS) {
        ns = GW_HIST_MIN_NS;
        h->clamped++;
    } else if (ns > GW_HIST_MAX_NS) {
        ns = GW_HIST_MAX_NS;
        h->clamped++;
    }
    if (h->count == 0 || ns < h->min_ns)
        h->min_ns = ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
    h->count++;
    h->sum_ns += (double)ns;
    h->counts[bucket_of(ns)]++;
}

void
gw_hist_merge(struct gw_hist *dst, const struct gw_hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min_ns < dst->min_ns)
        dst->min_ns = src->min_ns;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
    dst->count += src->count;
    dst->clamped += src->clamped;
    dst->sum_ns += src->sum_ns;
    for (size_t i = 0; i < GW_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
}

uint64_t
gw_hist_percentile(const struct gw_hist *h, double p)
{
    uint64_t rank, seen = 0;
    double x;

    if (h->count == 0)
        return 0;
    if (!(p > 0))
        return h->min_ns;
    if (p >= 100)
        return h->max_ns;
    /* The 1-based rank ceil(p / 100 * count); the epsilon keeps p = 50 of 10 values at rank 5
     * despite rounding in the product. */
    x = p / 100.0 * (double)h->count;
    x = ceil(x - 1e-9 * (x > 1 ? x : 1));
    rank = x < 1 ? 1 : x >= (double)h->count ? h->count : (uint64_t)x;
    for (size_t i = 0; i < GW_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank)
            return representative(h, i);
    }
    return h->max_ns;
}

double
gw_hist_mean(const struct gw_hist *h)
{
    return h->count ? h->sum_ns / (double)h->count : 0;
}

void
gw_hist_foreach(const struct gw_hist *h, gw_hist_fn fn, void *arg)
{
    uint64_t seen = 0;

    for (size_t i = 0; i < GW_HIST_BUCKETS && seen < h->count; i++) {
        if (h->counts[i] == 0)
            continue;
        seen += h->counts[i];
        fn(representative(h, i), h->counts[i], (double)seen / (double)h->count, arg);
    }
}
