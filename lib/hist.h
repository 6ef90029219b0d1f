/*
 * hist.h -- HDR-style log-linear latency histogram, 1 us .. 60 s, relative error <= 1%.
 *
 * Values are nanoseconds. Each power-of-two range is split into 128 linear sub-buckets, so a
 * recorded value is known to within 1/128 (< 0.8%); percentiles report the bucket midpoint.
 * Values below 1 us count as 1 us, above 60 s as 60 s (and are counted in `clamped`).
 * The struct is fixed-size (no allocation): merge per-thread histograms at the end.
 * Not thread-safe: one writer per histogram.
 */
#ifndef GW_HIST_H
#define GW_HIST_H

#include <stddef.h>
#include <stdint.h>

#define GW_HIST_MIN_NS 1000ull
#define GW_HIST_MAX_NS 60000000000ull
#define GW_HIST_SUB_BITS 7
/* ceil(log2(60e9 / 1e3)) = 26 doublings above the first linear range, 64 buckets each, plus
 * the first range's 128. */
#define GW_HIST_BUCKETS (128 + 26 * 64)

struct gw_hist {
    uint64_t count;
    uint64_t clamped;
    uint64_t min_ns, max_ns;
    double sum_ns;
    uint64_t counts[GW_HIST_BUCKETS];
};

void gw_hist_init(struct gw_hist *h);
void gw_hist_record(struct gw_hist *h, uint64_t ns);
/* Records the same value n times. */
void gw_hist_record_n(struct gw_hist *h, uint64_t ns, uint64_t n);
/* dst += src. */
void gw_hist_merge(struct gw_hist *dst, const struct gw_hist *src);

/* Value at percentile p (0..100), in ns; 0 when empty. p = 100 gives the exact max. */
uint64_t gw_hist_percentile(const struct gw_hist *h, double p);
double gw_hist_mean(const struct gw_hist *h);

/* Calls fn for each non-empty bucket in ascending order with the bucket's representative value
 * (midpoint), its count, and the cumulative fraction at its end (for --hist-out). */
typedef void (*gw_hist_fn)(uint64_t value_ns, uint64_t count, double cumulative, void *arg);
void gw_hist_foreach(const struct gw_hist *h, gw_hist_fn fn, void *arg);

#endif
