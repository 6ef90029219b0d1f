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
 * label values) may be added at any time, e.g. when a backend appears. The registry's capacity
 * is fixed when it is created, so cells never move under a writer.
 *
 * Names: metric names are lowercase snake_case, [a-z_][a-z0-9_]* (a subset of Prometheus's
 * [a-zA-Z_:][a-zA-Z0-9_:]* chosen so that `promtool check metrics` finds nothing to lint): no
 * leading "__", no abbreviated unit as a word (_s, _ms, _us, _ns, _sec, _b, _kb, _mb, ... :
 * spell out seconds, bytes), counters must end in _total and nothing else may, and no name may
 * end in _bucket, _sum or _count (histograms get those). Label names match [a-zA-Z_][a-zA-Z0-9_]*,
 * no leading "__", and "le" and "quantile" are reserved. Help text is required.
 *
 * Rendering: families in declaration order, each as "# HELP", "# TYPE", then its series in
 * creation order; a labelled family with no series yet prints only its HELP and TYPE lines.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum gw_metric_type { GW_METRIC_COUNTER, GW_METRIC_GAUGE, GW_METRIC_HISTOGRAM };

/* Limits: bound slots per registry, cells per slot, families, labels per family, histogram
 * buckets, collect hooks, bytes kept of one label value. */
#define GW_METRICS_MAX_THREADS 1024
#define GW_METRICS_MAX_CELLS (1u << 20)
#define GW_METRICS_MAX_FAMILIES 4096
#define GW_METRICS_MAX_LABELS 8
#define GW_METRICS_MAX_BUCKETS 128
#define GW_METRICS_MAX_HOOKS 16
#define GW_METRICS_MAX_VALUE_BYTES 256

struct gw_metrics;

/* A registry with nthreads bound slots (0 .. GW_METRICS_MAX_THREADS; 0 means every update goes
 * through the shared slot). Capacity is fixed at max_cells 64-bit cells per slot: a counter or
 * gauge series uses 1, a histogram series nbuckets + 2. Memory: (nthreads + 1) * max_cells * 8
 * bytes plus about 64 bytes of bookkeeping per cell. NULL on failure with err. */
struct gw_metrics *gw_metrics_new(unsigned nthreads, size_t max_cells, char *err);

/* Frees the registry. No thread may update it or render it any more. */
void gw_metrics_free(struct gw_metrics *m);

/* Declares a family. labels: comma-separated label names ("backend,kind") or NULL/"".
 * buckets: ascending finite upper bounds for histograms (+Inf is implicit); NULL/0 gives the
 * Prometheus defaults (0.005 ... 10); must be NULL/0 for other types. A family without labels
 * gets its one series at once (so this fails with "registry full" when there is no room).
 * Returns the family id (>= 0), or -1 with err (bad name, counter without _total, duplicate,
 * too many families, bad buckets, registry full). Thread-safe (takes a mutex). */
int gw_metrics_family(struct gw_metrics *m, const char *name, enum gw_metric_type type,
                      const char *help, const char *labels, const double *buckets, size_t nbuckets,
                      char *err);

/* The series of a family for the given label values (exactly as many as the family has labels;
 * NULL when it has none; a NULL value counts as ""), created on first use. Values are copied;
 * they may come from the network: invalid UTF-8 bytes become U+FFFD and values are cut at
 * GW_METRICS_MAX_VALUE_BYTES (at a character boundary), so two long values that share their
 * first 256 bytes name the same series. Returns the series id (>= 0), or -1 when the family id
 * is bad, the registry is full or memory ran out. Thread-safe (takes a mutex): call at setup
 * or on rare events and keep the id. */
int gw_metrics_series(struct gw_metrics *m, int family, const char *const *values);

/* Shorthand for families of one or two labels (v2 is ignored with one); -1 also when family
 * is -1 (a failed declaration), so declarations and series can be chained unchecked. */
int gw_metrics_series2(struct gw_metrics *m, int family, const char *v1, const char *v2);

/* Shorthand: declares an unlabelled family and returns its one series id, -1 with err. */
int gw_metrics_simple(struct gw_metrics *m, const char *name, enum gw_metric_type type,
                      const char *help, char *err);

/* Binds the calling thread to slot (0 .. nthreads-1) for its later updates to m. At most one
 * thread may be bound to a slot at a time (a slot has a single writer). A slot >= nthreads
 * unbinds the thread (its updates go to the shared slot). A thread is bound to one registry at
 * a time; binding to another one unbinds it from the first. */
void gw_metrics_bind_thread(struct gw_metrics *m, unsigned slot);

/* Counter or summed gauge: adds n. Gauges may also go down with gw_metrics_sub (a slot's cell
 * may go negative; the sum is what counts). sub on a counter, and any update of a series of
 * another type or of an unknown id, is ignored. Lock-free; any thread. */
void gw_metrics_add(struct gw_metrics *m, int series, uint64_t n);
void gw_metrics_sub(struct gw_metrics *m, int series, uint64_t n);

/* Gauge with one value for the process (not summed across threads): last writer wins. Once a
 * series has been set, it renders the set value and its summed cells are ignored. Counters may
 * be set too, for totals kept elsewhere (CPU seconds from the kernel, a module's own stats):
 * the caller keeps them monotonic. */
void gw_metrics_set(struct gw_metrics *m, int series, double v);

/* Histogram: records one observation (e.g. seconds). NaN counts only in +Inf and _count (and
 * makes _sum NaN), as in the Prometheus client libraries. */
void gw_metrics_observe(struct gw_metrics *m, int series, double v);

/* Current value of a counter or gauge (sum over slots, or the set value); histogram: count.
 * NaN for an unknown id. Any thread. */
double gw_metrics_value(struct gw_metrics *m, int series);

/* Adds fn to the hooks run, in the order added, before every render in the rendering thread
 * (one render at a time), e.g. to set computed gauges. A hook may call any function here
 * except gw_metrics_render and gw_metrics_on_collect. Returns 0, or -1 when
 * GW_METRICS_MAX_HOOKS are already registered. */
typedef void (*gw_metrics_collect_fn)(struct gw_metrics *m, void *arg);
int gw_metrics_on_collect(struct gw_metrics *m, gw_metrics_collect_fn fn, void *arg);

/* The exposition text, malloc'd (the caller frees it) and NUL-terminated; *len (when len is
 * not NULL) gets its length. NULL when memory runs out or the text would pass 64 MiB.
 * Thread-safe. */
char *gw_metrics_render(struct gw_metrics *m, size_t *len);

#endif
