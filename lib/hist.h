/*
 * hist.h -- HDR-style log-linear latency histogram, 1 us .. 60 s, relative error <= 1%.
 *
 * Values are nanoseconds. Each power-of-two range [2^e, 2^(e+1)) is split into 128 linear
 * sub-buckets of width 2^(e-7), so a bucket spans less than 1/128 (0.79%) of its values;
 * percentiles report the bucket midpoint, which is within 1/256 (0.4%) of any value in it.
 * Values below 1 us count as 1 us, above 60 s as 60 s (and are counted in `clamped`).
 * min_ns and max_ns are exact (after clamping); both are 0 while count is 0.
 * The struct is fixed-size (no allocation; about 26 KiB) and an all-zero struct is a valid empty
 * histogram: merge per-thread histograms at the end.
 * Not thread-safe: one writer per histogram; readers need the writer stopped (or a copy).
 */
#ifndef GW_HIST_H
#define GW_HIST_H

#include <stddef.h>
#include <stdint.h>

#define GW_HIST_MIN_NS 1000ull
#define GW_HIST_MAX_NS 60000000000ull
#define GW_HIST_SUB_BITS 7
/*
 * A value v with e = floor(log2 v) has the key (e - 7) * 128 + (v >> (e - 7)): its octave and
 * its top 8 bits (128..255). key(1 us) = 2 * 128 + 250 = 506 and key(60 s) = 28 * 128 + 223 =
 * 3807, so the clamped range needs 3807 - 506 + 1 buckets. hist.c checks this at compile time.
 */
#define GW_HIST_BUCKETS 3302

struct gw_hist {
    uint64_t count;
    uint64_t clamped;
    uint64_t min_ns, max_ns;
    double sum_ns; /* of the clamped values */
    uint64_t counts[GW_HIST_BUCKETS];
};

/* Empties h. Equivalent to zeroing it. */
void gw_hist_init(struct gw_hist *h);
/* Records one value: O(1), no loop, a few ns. */
void gw_hist_record(struct gw_hist *h, uint64_t ns);
/* Records the same value n times (n = 0 records nothing). */
void gw_hist_record_n(struct gw_hist *h, uint64_t ns, uint64_t n);
/* dst += src. */
void gw_hist_merge(struct gw_hist *dst, const struct gw_hist *src);

/* Value at percentile p (0..100, clamped), in ns; 0 when empty. p = 0 gives the exact min and
 * p = 100 the exact max; in between, the midpoint of the bucket holding the value of rank
 * ceil(p / 100 * count), kept within [min, max]. */
uint64_t gw_hist_percentile(const struct gw_hist *h, double p);
/* Mean of the recorded (clamped) values in ns; 0 when empty. */
double gw_hist_mean(const struct gw_hist *h);

/* Calls fn for each non-empty bucket in ascending order with the bucket's representative value
 * (midpoint, kept within [min, max]), its count, and the cumulative fraction of all values up
 * to and including this bucket (for --hist-out); the last call has exactly 1.0. */
typedef void (*gw_hist_fn)(uint64_t value_ns, uint64_t count, double cumulative, void *arg);
void gw_hist_foreach(const struct gw_hist *h, gw_hist_fn fn, void *arg);

#endif
