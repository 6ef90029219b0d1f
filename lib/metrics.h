/*
 * metrics.h -- counters, gauges and histograms with labels, exposed in the Prometheus text
 * format (version 0.0.4).
 *
 * Hot-path updates touch only the calling thread's own cells (cache-line separated blocks, one
 * per thread slot), with relaxed atomics and no lock; a scrape sums the cells. A thread binds
 * itself to a slot with gw_metrics_bind_thread(); threads that never bind share one extra slot
 * updated with atomic adds.
 *
 * Families (a name, a type, help text, label names) are declared at startup; series (one set of
 * label values) may be added at any time, e.g. when a backend appears. Names must match
 * [a-zA-Z_:][a-zA-Z0-9_:]*, counters must end in _total; histograms get _bucket/_sum/_count.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum gw_metric_type { GW_METRIC_COUNTER, GW_METRIC_GAUGE, GW_METRIC_HISTOGRAM };

struct gw_metrics;

/* A registry with nthreads bound slots. Capacity is fixed at max_cells 64-bit cells per slot
 * (a histogram series uses nbuckets + 2). NULL on failure with err. */
struct gw_metrics *gw_metrics_new(unsigned nthreads, size_t max_cells, char *err);
void gw_metrics_free(struct gw_metrics *m);

/* Declares a family. labels: comma-separated label names ("backend,kind") or NULL. buckets:
 * ascending upper bounds for histograms (+Inf is implicit), else NULL/0. Returns the family id
 * (>= 0), or -1 with err (bad name, counter without _total, duplicate, too many). */
int gw_metrics_family(struct gw_metrics *m, const char *name, enum gw_metric_type type,
                      const char *help, const char *labels, const double *buckets,
                      size_t nbuckets, char *err);

/* The series of a family for the given label values (as many as the family has labels; NULL
 * when it has none), created on first use. Returns the series id (>= 0), or -1 when the
 * registry is full. Thread-safe (takes a mutex): call at setup or on rare events, keep the id. */
int gw_metrics_series(struct gw_metrics *m, int family, const char *const *values);

/* Shorthand: declares an unlabelled family and returns its one series id, -1 on error. */
int gw_metrics_simple(struct gw_metrics *m, const char *name, enum gw_metric_type type,
                      const char *help, char *err);

/* Binds the calling thread to slot (0 .. nthreads-1). */
void gw_metrics_bind_thread(struct gw_metrics *m, unsigned slot);

/* Counter or summed gauge: adds n (gauges may also go down with gw_metrics_sub). */
void gw_metrics_add(struct gw_metrics *m, int series, uint64_t n);
void gw_metrics_sub(struct gw_metrics *m, int series, uint64_t n);

/* Gauge with one value for the process (not summed across threads): last writer wins. */
void gw_metrics_set(struct gw_metrics *m, int series, double v);

/* Histogram: records one observation (e.g. seconds). */
void gw_metrics_observe(struct gw_metrics *m, int series, double v);

/* Current value of a counter or gauge (sum over slots, or the set value); histogram: count. */
double gw_metrics_value(struct gw_metrics *m, int series);

/* Runs fn before every render, in the rendering thread, to set computed gauges. */
typedef void (*gw_metrics_collect_fn)(struct gw_metrics *m, void *arg);
void gw_metrics_on_collect(struct gw_metrics *m, gw_metrics_collect_fn fn, void *arg);

/* The exposition text, malloc'd and NUL-terminated; *len gets its length. Thread-safe. */
char *gw_metrics_render(struct gw_metrics *m, size_t *len);

#endif
