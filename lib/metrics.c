/*
 * metrics.c -- Prometheus counters, gauges and histograms kept in per-thread cells.
 *
 * Layout: one block of max_cells 64-bit cells per bound slot plus one shared block for unbound
 * threads, every block 128-byte aligned and padded (adjacent-line prefetch pulls cache lines in
 * pairs). A series owns the same cell offset in every block. A bound thread is the only writer
 * of its block, so it updates with a relaxed load and store (no lock prefix); the shared block
 * takes atomic read-modify-writes. A scrape sums the blocks.
 */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BLOCK_ALIGN 128
#define MAX_NAME_BYTES 200
#define MAX_LABEL_NAME_BYTES 64
#define MAX_HELP_BYTES 1024
#define MAX_RENDER_BYTES (64u << 20)

typedef _Atomic uint64_t cell_t;

struct series {
    int family;
    enum gw_metric_type type;
    uint32_t cell;        /* first cell, same offset in every block */
    const double *bounds; /* histogram upper bounds: the family's array, never moves */
    size_t nbounds;
    char *labels; /* rendered and escaped: a="x",b="y"; "" when none */
    _Atomic uint64_t set_bits;
    atomic_int is_set;
};

struct family {
    char *name;
    char *help; /* escaped */
    enum gw_metric_type type;
    char *labels[GW_METRICS_MAX_LABELS];
    unsigned nlabels;
    double *bounds;
    size_t nbounds;
    int *series; /* ids in creation order */
    size_t nseries, cap;
    gw_metrics_render_fn render; /* a dynamic family: its series come from here */
    void *render_arg;
};

/* What a dynamic family's render function writes into: the family's names copied, since the
 * families array may move while the function runs unlocked. */
struct gw_metrics_sink {
    const char *name;
    const char *labels[GW_METRICS_MAX_LABELS];
    unsigned nlabels;
    struct gw_buf buf;
    int rc;
};

struct hook {
    gw_metrics_collect_fn fn;
    void *arg;
};

struct gw_metrics {
    uint64_t gen; /* tells a thread's binding to this registry from one to a freed one */
    unsigned nthreads;
    size_t max_cells;
    size_t stride; /* cells from one block to the next */
    cell_t *cells;
    struct series *series; /* max_cells entries: a series uses at least one cell */
    atomic_uint nseries;   /* published with release after the entry is filled */
    size_t used_cells;
    struct family *families;
    size_t nfamilies, cap_families;
    struct hook hooks[GW_METRICS_MAX_HOOKS];
    size_t nhooks;
    pthread_mutex_t lock;        /* families, series creation, hooks */
    pthread_mutex_t render_lock; /* one render, with its hooks, at a time */
};

static const double default_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

/* promtool's lint refuses these as words of a metric name. */
static const char *const unit_abbrevs[] = {"s",  "ms", "us", "ns", "sec", "b", "kb",
                                           "mb", "gb", "tb", "pb", "m",   "h", "d"};

static const char *const type_names[] = {"counter", "gauge", "histogram"};

static _Atomic uint64_t next_gen = 1;
static _Thread_local uint64_t bound_gen;
static _Thread_local unsigned bound_slot;

/* ---- validation ---- */

static int
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int
check_unit_words(const char *name, char *err)
{
    const char *p = name, *e;
    size_t i, n;

    while (*p) {
        e = strchr(p, '_');
        n = e ? (size_t)(e - p) : strlen(p);
        for (i = 0; i < GW_ARRAY_LEN(unit_abbrevs); i++)
            if (n == strlen(unit_abbrevs[i]) && strncmp(p, unit_abbrevs[i], n) == 0)
                return gw_err(err,
                              "metric name '%s' uses the abbreviated unit '%s': spell out the "
                              "base unit (seconds, bytes)",
                              name, unit_abbrevs[i]);
        p += n;
        if (*p == '_')
            p++;
    }
    return 0;
}

static int
check_metric_name(const char *name, enum gw_metric_type type, char *err)
{
    static const char *const reserved[] = {"_bucket", "_sum", "_count"};
    size_t i;

    if (name == NULL || *name == '\0')
        return gw_err(err, "empty metric name");
    if (strlen(name) > MAX_NAME_BYTES)
        return gw_err(err, "metric name '%.40s...' longer than %d bytes", name, MAX_NAME_BYTES);
    for (i = 0; name[i]; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9')))
            return gw_err(err, "bad metric name '%s': use lowercase letters, digits and '_'", name);
    }
    if (strncmp(name, "__", 2) == 0)
        return gw_err(err, "bad metric name '%s': names starting with '__' are reserved", name);
    if (type == GW_METRIC_COUNTER && !ends_with(name, "_total"))
        return gw_err(err, "counter '%s' must end in _total", name);
    if (type != GW_METRIC_COUNTER && ends_with(name, "_total"))
        return gw_err(err, "%s '%s' must not end in _total (only counters do)", type_names[type],
                      name);
    for (i = 0; i < GW_ARRAY_LEN(reserved); i++)
        if (ends_with(name, reserved[i]))
            return gw_err(err, "metric name '%s' must not end in %s (histograms use it)", name,
                          reserved[i]);
    return check_unit_words(name, err);
}

static int
check_label_name(const char *name, size_t n, char *err)
{
    size_t i;

    if (n == 0)
        return gw_err(err, "empty label name");
    if (n > MAX_LABEL_NAME_BYTES)
        return gw_err(err, "label name '%.40s...' longer than %d bytes", name,
                      MAX_LABEL_NAME_BYTES);
    for (i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9')))
            return gw_err(err, "bad label name '%.*s': use letters, digits and '_'", (int)n, name);
    }
    if (n >= 2 && name[0] == '_' && name[1] == '_')
        return gw_err(err, "bad label name '%.*s': names starting with '__' are reserved", (int)n,
                      name);
    /* Prometheus reserves these for histogram buckets and summary quantiles. */
    if ((n == 2 && strncmp(name, "le", 2) == 0) || (n == 8 && strncmp(name, "quantile", 8) == 0))
        return gw_err(err, "label name '%.*s' is reserved", (int)n, name);
    return 0;
}

/* Splits "a, b" into f->labels. */
static int
parse_labels(struct family *f, const char *labels, char *err)
{
    const char *p = labels, *e;
    size_t n;
    unsigned i;

    if (labels == NULL || *labels == '\0')
        return 0;
    for (;;) {
        while (*p == ' ')
            p++;
        e = strchr(p, ',');
        n = e ? (size_t)(e - p) : strlen(p);
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (check_label_name(p, n, err) == -1)
            return -1;
        for (i = 0; i < f->nlabels; i++)
            if (strlen(f->labels[i]) == n && strncmp(f->labels[i], p, n) == 0)
                return gw_err(err, "duplicate label name '%.*s'", (int)n, p);
        if (f->nlabels == GW_METRICS_MAX_LABELS)
            return gw_err(err, "more than %d label names", GW_METRICS_MAX_LABELS);
        if ((f->labels[f->nlabels] = strndup(p, n)) == NULL)
            return gw_err(err, "out of memory");
        f->nlabels++;
        if (e == NULL)
            return 0;
        p = e + 1;
    }
}

static int
parse_bounds(struct family *f, const double *buckets, size_t nbuckets, char *err)
{
    size_t i;

    if (f->type != GW_METRIC_HISTOGRAM) {
        if (buckets != NULL || nbuckets != 0)
            return gw_err(err, "buckets given for %s '%s'", type_names[f->type], f->name);
        return 0;
    }
    if (buckets == NULL || nbuckets == 0) {
        buckets = default_bounds;
        nbuckets = GW_ARRAY_LEN(default_bounds);
    }
    if (nbuckets > GW_METRICS_MAX_BUCKETS)
        return gw_err(err, "histogram '%s' has more than %d buckets", f->name,
                      GW_METRICS_MAX_BUCKETS);
    for (i = 0; i < nbuckets; i++) {
        if (!isfinite(buckets[i]))
            return gw_err(err, "histogram '%s': bucket bounds must be finite (+Inf is implicit)",
                          f->name);
        if (i > 0 && !(buckets[i] > buckets[i - 1]))
            return gw_err(err, "histogram '%s': bucket bounds must be strictly ascending", f->name);
    }
    if ((f->bounds = malloc(nbuckets * sizeof(*f->bounds))) == NULL)
        return gw_err(err, "out of memory");
    memcpy(f->bounds, buckets, nbuckets * sizeof(*f->bounds));
    f->nbounds = nbuckets;
    return 0;
}

/* ---- text escaping ---- */

/* HELP text: backslash and newline escaped. */
static char *
escape_help(const char *help)
{
    struct gw_buf b;
    const char *p;
    int rc = 0;

    gw_buf_init(&b, 2 * MAX_HELP_BYTES + 1);
    for (p = help; *p && rc == 0; p++) {
        if (*p == '\\')
            rc = gw_buf_append(&b, "\\\\", 2);
        else if (*p == '\n')
            rc = gw_buf_append(&b, "\\n", 2);
        else
            rc = gw_buf_append(&b, p, 1);
    }
    if (rc == -1 || gw_buf_append(&b, "", 1) == -1) {
        gw_buf_reset(&b);
        return NULL;
    }
    return b.data;
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 when invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
    size_t len, i;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Appends a label value: valid UTF-8 (bad bytes become U+FFFD), at most
 * GW_METRICS_MAX_VALUE_BYTES of it, with backslash, quote and newline escaped. */
static int
append_label_value(struct gw_buf *b, const char *value)
{
    const unsigned char *p = (const unsigned char *)(value ? value : "");
    size_t left = strlen((const char *)p), kept = 0, n;
    int rc = 0;

    while (left > 0 && rc == 0) {
        n = utf8_len(p, left);
        if (kept + (n ? n : 3) > GW_METRICS_MAX_VALUE_BYTES)
            break;
        if (n == 0) {
            rc = gw_buf_append(b, "\xef\xbf\xbd", 3);
            kept += 3;
            n = 1;
        } else {
            kept += n;
            if (*p == '\\')
                rc = gw_buf_append(b, "\\\\", 2);
            else if (*p == '"')
                rc = gw_buf_append(b, "\\\"", 2);
            else if (*p == '\n')
                rc = gw_buf_append(b, "\\n", 2);
            else
                rc = gw_buf_append(b, p, n);
        }
        p += n;
        left -= n;
    }
    return rc;
}

/* 'a="x",b="y"' for the family's label names and these values, malloc'd. */
static char *
render_labels(const struct family *f, const char *const *values)
{
    struct gw_buf b;
    unsigned i;
    int rc = 0;

    gw_buf_init(&b, (size_t)GW_METRICS_MAX_LABELS *
                            (MAX_LABEL_NAME_BYTES + 4 + 2 * GW_METRICS_MAX_VALUE_BYTES) +
                        1);
    for (i = 0; i < f->nlabels && rc == 0; i++) {
        rc = gw_buf_printf(&b, "%s%s=\"", i ? "," : "", f->labels[i]);
        if (rc == 0)
            rc = append_label_value(&b, values ? values[i] : NULL);
        if (rc == 0)
            rc = gw_buf_append(&b, "\"", 1);
    }
    if (rc == -1 || gw_buf_append(&b, "", 1) == -1) {
        gw_buf_reset(&b);
        return NULL;
    }
    return b.data;
}

/* Shortest text that reads back as v; integral values without exponent or decimals. */
static const char *
fmt_double(double v, char *buf, size_t len)
{
    int prec;

    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    if (v == 0)
        return "0";
    if (v == trunc(v) && fabs(v) < 1e17) {
        snprintf(buf, len, "%.0f", v);
        return buf;
    }
    for (prec = 15; prec < 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return buf;
    }
    snprintf(buf, len, "%.17g", v);
    return buf;
}

/* ---- registry ---- */

struct gw_metrics *
gw_metrics_new(unsigned nthreads, size_t max_cells, char *err)
{
    struct gw_metrics *m;
    size_t per_block = BLOCK_ALIGN / sizeof(cell_t);

    if (nthreads > GW_METRICS_MAX_THREADS) {
        gw_err(err, "too many metric threads %u (at most %d)", nthreads, GW_METRICS_MAX_THREADS);
        return NULL;
    }
    if (max_cells == 0 || max_cells > GW_METRICS_MAX_CELLS) {
        gw_err(err, "metric cells %zu out of range (1..%u)", max_cells, GW_METRICS_MAX_CELLS);
        return NULL;
    }
    if ((m = calloc(1, sizeof(*m))) == NULL) {
        gw_err(err, "out of memory");
        return NULL;
    }
    m->gen = atomic_fetch_add(&next_gen, 1);
    m->nthreads = nthreads;
    m->max_cells = max_cells;
    m->stride = (max_cells + per_block - 1) / per_block * per_block;
    m->cells = aligned_alloc(BLOCK_ALIGN, (nthreads + 1) * m->stride * sizeof(cell_t));
    m->series = calloc(max_cells, sizeof(*m->series));
    if (m->cells == NULL || m->series == NULL) {
        free(m->cells);
        free(m->series);
        free(m);
        gw_err(err, "out of memory for %zu metric cells", max_cells);
        return NULL;
    }
    memset(m->cells, 0, (nthreads + 1) * m->stride * sizeof(cell_t));
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->render_lock, NULL);
    return m;
}

static void
family_free(struct family *f)
{
    unsigned i;

    free(f->name);
    free(f->help);
    for (i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->bounds);
    free(f->series);
}

void
gw_metrics_free(struct gw_metrics *m)
{
    unsigned i, n;

    if (m == NULL)
        return;
    n = atomic_load(&m->nseries);
    for (i = 0; i < n; i++)
        free(m->series[i].labels);
    for (i = 0; i < m->nfamilies; i++)
        family_free(&m->families[i]);
    free(m->families);
    free(m->series);
    free(m->cells);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->render_lock);
    free(m);
}

/* Creates a series of family fid; the caller holds the lock. */
static int
series_create(struct gw_metrics *m, int fid, char *labels)
{
    struct family *f = &m->families[fid];
    size_t ncells = f->type == GW_METRIC_HISTOGRAM ? f->nbounds + 2 : 1;
    unsigned id = atomic_load_explicit(&m->nseries, memory_order_relaxed);
    struct series *s;
    int *ids;

    if (ncells > m->max_cells - m->used_cells)
        return -1;
    if (f->nseries == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 4;
        if ((ids = realloc(f->series, cap * sizeof(*ids))) == NULL)
            return -1;
        f->series = ids;
        f->cap = cap;
    }
    s = &m->series[id];
    s->family = fid;
    s->type = f->type;
    s->cell = (uint32_t)m->used_cells;
    s->bounds = f->bounds;
    s->nbounds = f->nbounds;
    s->labels = labels;
    m->used_cells += ncells;
    f->series[f->nseries++] = (int)id;
    atomic_store_explicit(&m->nseries, id + 1, memory_order_release);
    return (int)id;
}

static int
family_add(struct gw_metrics *m, struct family *nf, char *err)
{
    struct family *fs;
    size_t i;
    char *none;
    int fid;

    for (i = 0; i < m->nfamilies; i++)
        if (strcmp(m->families[i].name, nf->name) == 0)
            return gw_err(err, "metric '%s' declared twice", nf->name);
    if (m->nfamilies == GW_METRICS_MAX_FAMILIES)
        return gw_err(err, "more than %d metric families", GW_METRICS_MAX_FAMILIES);
    if (m->nfamilies == m->cap_families) {
        size_t cap = m->cap_families ? 2 * m->cap_families : 16;
        if ((fs = realloc(m->families, cap * sizeof(*fs))) == NULL)
            return gw_err(err, "out of memory");
        m->families = fs;
        m->cap_families = cap;
    }
    fid = (int)m->nfamilies;
    m->families[fid] = *nf;
    m->nfamilies++;
    if (nf->nlabels > 0)
        return fid;
    if ((none = strdup("")) == NULL || series_create(m, fid, none) == -1) {
        free(none);
        m->nfamilies--;
        return gw_err(err, "metric '%s': registry full (%zu cells)", nf->name, m->max_cells);
    }
    return fid;
}

/* The checks and copies every registration shares: name and help valid, f named, labelled. */
static int
family_prepare(struct family *f, const char *name, enum gw_metric_type type, const char *help,
               const char *labels, char *err)
{
    if (check_metric_name(name, type, err) == -1)
        return -1;
    if (help == NULL || *help == '\0')
        return gw_err(err, "metric '%s' has no help text", name);
    if (strlen(help) > MAX_HELP_BYTES)
        return gw_err(err, "metric '%s': help text longer than %d bytes", name, MAX_HELP_BYTES);
    f->type = type;
    if ((f->name = strdup(name)) == NULL || (f->help = escape_help(help)) == NULL)
        return gw_err(err, "out of memory");
    return parse_labels(f, labels, err);
}

/* Adds the prepared f under the lock, or frees it. */
static int
family_publish(struct gw_metrics *m, struct family *f, char *err)
{
    int fid;

    pthread_mutex_lock(&m->lock);
    fid = family_add(m, f, err);
    pthread_mutex_unlock(&m->lock);
    if (fid < 0)
        family_free(f);
    return fid;
}

int
gw_metrics_family(struct gw_metrics *m, const char *name, enum gw_metric_type type,
                  const char *help, const char *labels, const double *buckets, size_t nbuckets,
                  char *err)
{
    struct family f = {0};

    if ((unsigned)type > GW_METRIC_HISTOGRAM)
        return gw_err(err, "bad metric type %d", (int)type);
    if (family_prepare(&f, name, type, help, labels, err) == -1 ||
        parse_bounds(&f, buckets, nbuckets, err) == -1) {
        family_free(&f);
        return -1;
    }
    return family_publish(m, &f, err);
}

int
gw_metrics_dynamic(struct gw_metrics *m, const char *name, enum gw_metric_type type,
                   const char *help, const char *labels, gw_metrics_render_fn fn, void *arg,
                   char *err)
{
    struct family f = {0};

    if (type != GW_METRIC_COUNTER && type != GW_METRIC_GAUGE)
        return gw_err(err, "metric '%s': a dynamic family is a counter or a gauge", name);
    if (fn == NULL)
        return gw_err(err, "metric '%s': no render function", name);
    if (family_prepare(&f, name, type, help, labels, err) == -1) {
        family_free(&f);
        return -1;
    }
    if (f.nlabels == 0) {
        /* family_add would give it a kept series; one unlabelled value is a plain gauge. */
        family_free(&f);
        return gw_err(err, "metric '%s': a dynamic family needs labels", name);
    }
    f.render = fn;
    f.render_arg = arg;
    return family_publish(m, &f, err);
}

int
gw_metrics_emit(struct gw_metrics_sink *sink, const char *const *values, double v)
{
    char num[40];
    unsigned i;
    int rc;

    if (sink->rc == -1)
        return -1;
    rc = gw_buf_printf(&sink->buf, "%s{", sink->name);
    for (i = 0; i < sink->nlabels && rc == 0; i++) {
        rc = gw_buf_printf(&sink->buf, "%s%s=\"", i ? "," : "", sink->labels[i]);
        if (rc == 0)
            rc = append_label_value(&sink->buf, values ? values[i] : NULL);
        if (rc == 0)
            rc = gw_buf_append(&sink->buf, "\"", 1);
    }
    if (rc == 0)
        rc = gw_buf_printf(&sink->buf, "} %s\n", fmt_double(v, num, sizeof(num)));
    return sink->rc = rc;
}

int
gw_metrics_series2(struct gw_metrics *m, int family, const char *v1, const char *v2)
{
    const char *vals[2] = {v1, v2};

    return family < 0 ? -1 : gw_metrics_series(m, family, vals);
}

int
gw_metrics_series(struct gw_metrics *m, int family, const char *const *values)
{
    const struct family *f;
    char *labels;
    size_t i;
    int id = -1;

    pthread_mutex_lock(&m->lock);
    if (family < 0 || (size_t)family >= m->nfamilies)
        goto out;
    f = &m->families[family];
    if (f->render) /* its series are emitted at render time */
        goto out;
    if ((labels = render_labels(f, values)) == NULL)
        goto out;
    for (i = 0; i < f->nseries; i++) {
        if (strcmp(m->series[f->series[i]].labels, labels) == 0) {
            id = f->series[i];
            free(labels);
            goto out;
        }
    }
    if ((id = series_create(m, family, labels)) == -1)
        free(labels);
out:
    pthread_mutex_unlock(&m->lock);
    return id;
}

int
gw_metrics_simple(struct gw_metrics *m, const char *name, enum gw_metric_type type,
                  const char *help, char *err)
{
    int fid;

    if ((fid = gw_metrics_family(m, name, type, help, NULL, NULL, 0, err)) == -1)
        return -1;
    return gw_metrics_series(m, fid, NULL);
}

void
gw_metrics_bind_thread(struct gw_metrics *m, unsigned slot)
{
    if (slot >= m->nthreads) {
        bound_gen = 0;
        return;
    }
    bound_gen = m->gen;
    bound_slot = slot;
}

int
gw_metrics_on_collect(struct gw_metrics *m, gw_metrics_collect_fn fn, void *arg)
{
    int rc = -1;

    pthread_mutex_lock(&m->lock);
    if (m->nhooks < GW_METRICS_MAX_HOOKS) {
        m->hooks[m->nhooks].fn = fn;
        m->hooks[m->nhooks].arg = arg;
        m->nhooks++;
        rc = 0;
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- hot path ---- */

static const struct series *
get_series(struct gw_metrics *m, int id)
{
    if (m == NULL || id < 0 ||
        (unsigned)id >= atomic_load_explicit(&m->nseries, memory_order_acquire))
        return NULL;
    return &m->series[id];
}

/* The calling thread's block; *shared tells whether other threads write it too. */
static cell_t *
own_block(const struct gw_metrics *m, int *shared)
{
    if (bound_gen == m->gen) {
        *shared = 0;
        return m->cells + (size_t)bound_slot * m->stride;
    }
    *shared = 1;
    return m->cells + (size_t)m->nthreads * m->stride;
}

static void
cell_add(cell_t *c, int shared, uint64_t n, memory_order mo)
{
    if (shared)
        atomic_fetch_add_explicit(c, n, mo);
    else
        atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, mo);
}

static uint64_t
dbl_bits(double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof(u));
    return u;
}

static double
bits_dbl(uint64_t u)
{
    double v;

    memcpy(&v, &u, sizeof(v));
    return v;
}

static void
cell_add_double(cell_t *c, int shared, double v)
{
    uint64_t old = atomic_load_explicit(c, memory_order_relaxed);

    if (!shared) {
        atomic_store_explicit(c, dbl_bits(bits_dbl(old) + v), memory_order_relaxed);
        return;
    }
    while (!atomic_compare_exchange_weak_explicit(c, &old, dbl_bits(bits_dbl(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

static void
add_signed(struct gw_metrics *m, int id, uint64_t n, int negate)
{
    const struct series *s = get_series(m, id);
    int shared;
    cell_t *blk;

    if (s == NULL || s->type == GW_METRIC_HISTOGRAM || (negate && s->type != GW_METRIC_GAUGE))
        return;
    blk = own_block(m, &shared);
    /* Unsigned wrap-around: a gauge cell holds the two's complement of a negative value. */
    cell_add(&blk[s->cell], shared, negate ? (uint64_t)0 - n : n, memory_order_relaxed);
}

void
gw_metrics_add(struct gw_metrics *m, int series, uint64_t n)
{
    add_signed(m, series, n, 0);
}

void
gw_metrics_sub(struct gw_metrics *m, int series, uint64_t n)
{
    add_signed(m, series, n, 1);
}

void
gw_metrics_set(struct gw_metrics *m, int series, double v)
{
    struct series *s = (struct series *)get_series(m, series);

    if (s == NULL || s->type == GW_METRIC_HISTOGRAM)
        return;
    atomic_store_explicit(&s->set_bits, dbl_bits(v), memory_order_relaxed);
    atomic_store_explicit(&s->is_set, 1, memory_order_release);
}

/* Index of the first bound >= v; nbounds (the +Inf bucket) when none, or for NaN. */
static size_t
bucket_index(const double *bounds, size_t nbounds, double v)
{
    size_t lo = 0, hi = nbounds, mid;

    if (isnan(v))
        return nbounds;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (v <= bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void
gw_metrics_observe(struct gw_metrics *m, int series, double v)
{
    const struct series *s = get_series(m, series);
    size_t i;
    int shared;
    cell_t *blk;

    if (s == NULL || s->type != GW_METRIC_HISTOGRAM)
        return;
    blk = own_block(m, &shared) + s->cell;
    i = bucket_index(s->bounds, s->nbounds, v);
    /* Count before bucket, the bucket with release: a scrape that reads the buckets (acquire)
     * and then the count never sees a bucket above +Inf. */
    cell_add(&blk[s->nbounds], shared, 1, memory_order_relaxed);
    if (i < s->nbounds)
        cell_add(&blk[i], shared, 1, memory_order_release);
    cell_add_double(&blk[s->nbounds + 1], shared, v);
}

/* ---- reading ---- */

static uint64_t
sum_cell(const struct gw_metrics *m, size_t cell)
{
    uint64_t sum = 0;
    unsigned slot;

    for (slot = 0; slot <= m->nthreads; slot++)
        sum += atomic_load_explicit(&m->cells[slot * m->stride + cell], memory_order_relaxed);
    return sum;
}

static double
sum_cell_double(const struct gw_metrics *m, size_t cell)
{
    double sum = 0;
    unsigned slot;

    for (slot = 0; slot <= m->nthreads; slot++)
        sum += bits_dbl(
            atomic_load_explicit(&m->cells[slot * m->stride + cell], memory_order_relaxed));
    return sum;
}

static double
series_value(const struct gw_metrics *m, const struct series *s)
{
    switch (s->type) {
    case GW_METRIC_COUNTER:
    case GW_METRIC_GAUGE:
        if (atomic_load_explicit(&s->is_set, memory_order_acquire))
            return bits_dbl(atomic_load_explicit(&s->set_bits, memory_order_relaxed));
        return (double)(int64_t)sum_cell(m, s->cell);
    case GW_METRIC_HISTOGRAM:
        return (double)sum_cell(m, s->cell + s->nbounds);
    }
    return NAN;
}

double
gw_metrics_value(struct gw_metrics *m, int series)
{
    const struct series *s = get_series(m, series);

    return s ? series_value(m, s) : NAN;
}

/* ---- rendering ---- */

static int
render_histogram(const struct gw_metrics *m, const struct family *f, const struct series *s,
                 struct gw_buf *b)
{
    uint64_t counts[GW_METRICS_MAX_BUCKETS] = {0}, total = 0, cum = 0;
    const char *sep = s->labels[0] ? "," : "";
    char num[40];
    unsigned slot;
    size_t i;
    int rc = 0;

    for (slot = 0; slot <= m->nthreads; slot++) {
        const cell_t *blk = m->cells + slot * m->stride + s->cell;
        for (i = 0; i < s->nbounds; i++)
            counts[i] += atomic_load_explicit(&blk[i], memory_order_acquire);
        total += atomic_load_explicit(&blk[s->nbounds], memory_order_relaxed);
    }
    for (i = 0; i < s->nbounds && rc == 0; i++) {
        cum += counts[i];
        rc = gw_buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", f->name, s->labels, sep,
                           fmt_double(s->bounds[i], num, sizeof(num)), cum);
    }
    if (rc == 0)
        rc = gw_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", f->name, s->labels, sep,
                           total);
    if (rc == 0)
        rc = gw_buf_printf(
            b, "%s_sum%s%s%s %s\n", f->name, s->labels[0] ? "{" : "", s->labels,
            s->labels[0] ? "}" : "",
            fmt_double(sum_cell_double(m, s->cell + s->nbounds + 1), num, sizeof(num)));
    if (rc == 0)
        rc = gw_buf_printf(b, "%s_count%s%s%s %" PRIu64 "\n", f->name, s->labels[0] ? "{" : "",
                           s->labels, s->labels[0] ? "}" : "", total);
    return rc;
}

static int
render_series(const struct gw_metrics *m, const struct family *f, const struct series *s,
              struct gw_buf *b)
{
    const char *open = s->labels[0] ? "{" : "", *close = s->labels[0] ? "}" : "";
    char num[40];

    if (s->type == GW_METRIC_HISTOGRAM)
        return render_histogram(m, f, s, b);
    if (s->type == GW_METRIC_COUNTER && !atomic_load_explicit(&s->is_set, memory_order_acquire))
        return gw_buf_printf(b, "%s%s%s%s %" PRIu64 "\n", f->name, open, s->labels, close,
                             sum_cell(m, s->cell));
    if (atomic_load_explicit(&s->is_set, memory_order_acquire))
        return gw_buf_printf(b, "%s%s%s%s %s\n", f->name, open, s->labels, close,
                             fmt_double(series_value(m, s), num, sizeof(num)));
    return gw_buf_printf(b, "%s%s%s%s %" PRId64 "\n", f->name, open, s->labels, close,
                         (int64_t)sum_cell(m, s->cell));
}

static int
render_family(const struct gw_metrics *m, const struct family *f, struct gw_buf *b,
              const struct gw_buf *dynamic)
{
    size_t i;

    if (gw_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                      type_names[f->type]) == -1)
        return -1;
    if (f->render)
        return dynamic && dynamic->len ? gw_buf_append(b, gw_buf_data(dynamic), dynamic->len) : 0;
    for (i = 0; i < f->nseries; i++)
        if (render_series(m, f, &m->series[f->series[i]], b) == -1)
            return -1;
    return 0;
}

static void
run_hooks(struct gw_metrics *m)
{
    struct hook hooks[GW_METRICS_MAX_HOOKS];
    size_t i, n;

    pthread_mutex_lock(&m->lock);
    n = m->nhooks;
    memcpy(hooks, m->hooks, n * sizeof(hooks[0]));
    pthread_mutex_unlock(&m->lock);
    for (i = 0; i < n; i++)
        hooks[i].fn(m, hooks[i].arg);
}

/* Runs the dynamic families' render functions without the lock, into one sink each (indexed
 * by family id; NULL when there are none). Families are only ever appended, so the ids hold. *rc
 * becomes -1 when memory ran out. */
static struct gw_metrics_sink *
run_dynamic(struct gw_metrics *m, size_t *nsinks, int *rc)
{
    struct gw_metrics_sink *sinks;
    gw_metrics_render_fn *fns;
    void **args;
    size_t i, n, ndyn = 0;

    pthread_mutex_lock(&m->lock);
    n = m->nfamilies;
    for (i = 0; i < n; i++)
        ndyn += m->families[i].render != NULL;
    if (ndyn == 0) {
        pthread_mutex_unlock(&m->lock);
        *nsinks = 0;
        return NULL;
    }
    sinks = calloc(n, sizeof(*sinks));
    fns = calloc(n, sizeof(*fns));
    args = calloc(n, sizeof(*args));
    if (!sinks || !fns || !args) {
        pthread_mutex_unlock(&m->lock);
        free(sinks);
        free(fns);
        free(args);
        *rc = -1;
        *nsinks = 0;
        return NULL;
    }
    for (i = 0; i < n; i++) {
        const struct family *f = &m->families[i];
        gw_buf_init(&sinks[i].buf, MAX_RENDER_BYTES);
        if (!f->render)
            continue;
        fns[i] = f->render;
        args[i] = f->render_arg;
        sinks[i].name = f->name; /* the strings never move, only the array holding them */
        sinks[i].nlabels = f->nlabels;
        for (unsigned l = 0; l < f->nlabels; l++)
            sinks[i].labels[l] = f->labels[l];
    }
    pthread_mutex_unlock(&m->lock);
    for (i = 0; i < n; i++) {
        if (!fns[i])
            continue;
        fns[i](&sinks[i], args[i]);
        if (sinks[i].rc == -1)
            *rc = -1;
    }
    free(fns);
    free(args);
    *nsinks = n;
    return sinks;
}

char *
gw_metrics_render(struct gw_metrics *m, size_t *len)
{
    struct gw_metrics_sink *sinks;
    struct gw_buf b;
    size_t i, nsinks;
    int rc = 0;

    gw_buf_init(&b, MAX_RENDER_BYTES);
    pthread_mutex_lock(&m->render_lock);
    run_hooks(m);
    sinks = run_dynamic(m, &nsinks, &rc);
    pthread_mutex_lock(&m->lock);
    for (i = 0; i < m->nfamilies && rc == 0; i++)
        rc = render_family(m, &m->families[i], &b, i < nsinks ? &sinks[i].buf : NULL);
    pthread_mutex_unlock(&m->lock);
    pthread_mutex_unlock(&m->render_lock);
    for (i = 0; i < nsinks; i++)
        gw_buf_reset(&sinks[i].buf);
    free(sinks);
    if (rc == -1 || gw_buf_append(&b, "", 1) == -1) {
        gw_buf_reset(&b);
        return NULL;
    }
    if (len)
        *len = b.len - 1;
    return b.data;
}
