/*
 * metrics.c -- hbd's metric families, and the one place a state change is counted, logged,
 * stored and alerted.
 */
#include <stdlib.h>
#include <string.h>

#include "hbd.h"
#include "log.h"
#include "progs.h"

const struct gw_store_table *const hbd_store_tables[] = {&gw_store_hb_table,
                                                         &gw_store_hb_watch_table, NULL};

/* Request processing time per read batch: loopback PINGs take microseconds. */
static const double processing_buckets[] = {1e-6,   5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4,
                                            2.5e-4, 5e-4, 1e-3, 5e-3,   1e-2, 0.1};

/* One service as the per-service series show it, copied out of the registry at the start of a
 * scrape so both families render the same set. */
struct hbd_service_row {
    char name[HBD_MAX_NAME + 1];
    enum hbd_state state;
    uint64_t silent_ms;
};

static void
add_row(void *arg, const char *name, enum hbd_state state, uint64_t silent_ms)
{
    struct hbd_metrics *hm = arg;
    struct hbd_service_row *row;

    if (hm->nrows == hm->caprows) {
        size_t cap = hm->caprows ? 2 * hm->caprows : 64;
        struct hbd_service_row *v = realloc(hm->rows, cap * sizeof(*v));
        if (!v)
            return; /* this scrape shows fewer services; counted as dropped below */
        hm->rows = v;
        hm->caprows = cap;
    }
    row = &hm->rows[hm->nrows++];
    gw_strlcpy(row->name, name, sizeof(row->name));
    row->state = state;
    row->silent_ms = silent_ms;
}

/* Dead first, then late, new and up, each by name: past the cap, the services an operator
 * needs to hear of are the ones kept. */
static int
row_rank(enum hbd_state s)
{
    return s == HBD_DEAD ? 0 : s == HBD_LATE ? 1 : s == HBD_NEW ? 2 : 3;
}

static int
by_rank(const void *a, const void *b)
{
    const struct hbd_service_row *x = a, *y = b;
    int d = row_rank(x->state) - row_rank(y->state);

    return d ? d : strcmp(x->name, y->name);
}

/* Copies the services, keeps metrics_max_services of them, counts the rest. */
static void
collect_services(struct hbd *h, unsigned total)
{
    struct hbd_metrics *hm = &h->m;
    unsigned max = atomic_load_explicit(&hm->max_rows, memory_order_relaxed);

    hm->nrows = 0;
    if (max > 0)
        hbd_registry_each(h->reg, add_row, hm);
    if (hm->nrows > 1)
        qsort(hm->rows, hm->nrows, sizeof(*hm->rows), by_rank);
    if (hm->nrows > max)
        hm->nrows = max;
    gw_metrics_set(hm->reg, hm->services_dropped, total > hm->nrows ? total - hm->nrows : 0);
}

static void
render_service_up(struct gw_metrics_sink *sink, void *arg)
{
    struct hbd_metrics *hm = arg;

    for (size_t i = 0; i < hm->nrows; i++) {
        const char *v[] = {hm->rows[i].name};
        gw_metrics_emit(sink, v, hm->rows[i].state != HBD_DEAD);
    }
}

static void
render_last_beat(struct gw_metrics_sink *sink, void *arg)
{
    struct hbd_metrics *hm = arg;

    for (size_t i = 0; i < hm->nrows; i++) {
        const char *v[] = {hm->rows[i].name};
        gw_metrics_emit(sink, v, (double)hm->rows[i].silent_ms / 1000);
    }
}

static void
collect(struct gw_metrics *m, void *arg)
{
    struct hbd *h = arg;
    struct hbd_counts c;
    struct gw_store_stats st;

    hbd_registry_counts(h->reg, &c);
    collect_services(h, c.total);
    gw_metrics_set(m, h->m.services_up, c.up);
    gw_metrics_set(m, h->m.services_late, c.late);
    gw_metrics_set(m, h->m.services_dead, c.dead);
    if (h->store) {
        gw_store_stats(h->store, &st);
        gw_metrics_set(m, h->m.store_dropped, (double)st.dropped);
        for (int f = GW_STORE_FAULT_NONE + 1; f < GW_STORE_FAULTS; f++)
            gw_metrics_set(m, h->m.store_errors[f], (double)st.errors_by[f]);
        gw_metrics_set(m, h->m.store_failing, st.failing);
        gw_metrics_set(m, h->m.store_queued, (double)st.queued);
    }
}

/* Every series id is checked: a failed one is remembered in *bad. */
static int
keep(int id, int *bad)
{
    if (id < 0)
        *bad = 1;
    return id;
}

int
hbd_metrics_init(struct hbd *h, char *err)
{
    struct hbd_metrics *hm = &h->m;
    struct gw_metrics *m;
    int f, bad = 0;

    if ((m = gw_metrics_new(h->nworkers + 2, 512, err)) == NULL)
        return -1;
    hm->reg = m;

    f = gw_metrics_family(m, "hbd_received_messages_total", GW_METRIC_COUNTER,
                          "Requests received, by transport.", "proto", NULL, 0, err);
    hm->msgs_tcp = keep(gw_metrics_series2(m, f, "tcp", NULL), &bad);
    hm->msgs_udp = keep(gw_metrics_series2(m, f, "udp", NULL), &bad);
    hm->clients_connected =
        keep(gw_metrics_simple(m, "hbd_clients_connected_total", GW_METRIC_COUNTER,
                               "TCP connections accepted.", err),
             &bad);
    hm->bytes_received = keep(gw_metrics_simple(m, "hbd_received_bytes_total", GW_METRIC_COUNTER,
                                                "Bytes received over TCP and UDP.", err),
                              &bad);
    f = gw_metrics_family(m, "hbd_processing_seconds", GW_METRIC_HISTOGRAM,
                          "Time to process one read batch of requests.", NULL, processing_buckets,
                          GW_ARRAY_LEN(processing_buckets), err);
    hm->processing = keep(gw_metrics_series2(m, f, NULL, NULL), &bad);
    hm->active_connections = keep(gw_metrics_simple(m, "hbd_active_connections", GW_METRIC_GAUGE,
                                                    "TCP connections open now.", err),
                                  &bad);
    hm->msgs_per_second = keep(gw_metrics_simple(m, "hbd_messages_per_second", GW_METRIC_GAUGE,
                                                 "Requests received over the last second.", err),
                               &bad);
    f = gw_metrics_family(m, "hbd_services", GW_METRIC_GAUGE, "Services tracked, by state.",
                          "state", NULL, 0, err);
    hm->services_up = keep(gw_metrics_series2(m, f, "up", NULL), &bad);
    hm->services_late = keep(gw_metrics_series2(m, f, "late", NULL), &bad);
    hm->services_dead = keep(gw_metrics_series2(m, f, "dead", NULL), &bad);
    f = gw_metrics_family(m, "hbd_service_transitions_total", GW_METRIC_COUNTER,
                          "Service and instance state changes, by new state.", "to", NULL, 0, err);
    hm->transitions_up = keep(gw_metrics_series2(m, f, "up", NULL), &bad);
    hm->transitions_late = keep(gw_metrics_series2(m, f, "late", NULL), &bad);
    hm->transitions_dead = keep(gw_metrics_series2(m, f, "dead", NULL), &bad);
    f = gw_metrics_family(m, "hbd_alerts_total", GW_METRIC_COUNTER,
                          "Webhook deliveries, by outcome.", "outcome", NULL, 0, err);
    hm->alerts_sent = keep(gw_metrics_series2(m, f, "sent", NULL), &bad);
    hm->alerts_failed = keep(gw_metrics_series2(m, f, "failed", NULL), &bad);
    hm->alerts_retried = keep(gw_metrics_series2(m, f, "retried", NULL), &bad);
    hm->alerts_dropped = keep(gw_metrics_series2(m, f, "dropped", NULL), &bad);
    hm->alerts_queued = keep(gw_metrics_simple(m, "hbd_alerts_queued", GW_METRIC_GAUGE,
                                               "Webhook deliveries waiting or in flight.", err),
                             &bad);
    f = gw_metrics_family(m, "hbd_errors_total", GW_METRIC_COUNTER, "Errors, by kind.", "kind",
                          NULL, 0, err);
    for (int e = 0; e < HBD_ERR_COUNT; e++)
        *(int *)(void *)((char *)hm + hbd_errs[e].series_offset) =
            keep(gw_metrics_series2(m, f, hbd_errs[e].label, NULL), &bad);
    hm->closed_idle = keep(gw_metrics_simple(m, "hbd_idle_closed_total", GW_METRIC_COUNTER,
                                             "Connections closed after client_timeout.", err),
                           &bad);
    hm->store_dropped = keep(
        gw_metrics_simple(m, "hbd_store_dropped_total", GW_METRIC_COUNTER,
                          "Rows not written: database queue full, or still failing at exit.", err),
        &bad);
    hm->new_services = keep(gw_metrics_simple(m, "hbd_new_services_total", GW_METRIC_COUNTER,
                                              "Services created by a first heartbeat.", err),
                            &bad);
    hm->udp_dropped =
        keep(gw_metrics_simple(m, "hbd_udp_dropped_total", GW_METRIC_COUNTER,
                               "Datagrams the kernel dropped: a UDP socket's receive buffer was "
                               "full (SO_RXQ_OVFL; raise udp_rcvbuf).",
                               err),
             &bad);
    if (gw_metrics_dynamic(m, "hbd_service_up", GW_METRIC_GAUGE,
                           "1 while the service is up or late, 0 once it is dead.", "service",
                           render_service_up, hm, err) == -1 ||
        gw_metrics_dynamic(m, "hbd_service_last_beat_seconds", GW_METRIC_GAUGE,
                           "Seconds since the service's last heartbeat (any instance).", "service",
                           render_last_beat, hm, err) == -1)
        return -1;
    hm->services_dropped =
        keep(gw_metrics_simple(m, "hbd_metrics_services_dropped", GW_METRIC_GAUGE,
                               "Services left out of hbd_service_* at the last scrape "
                               "([hbd] metrics_max_services).",
                               err),
             &bad);
    f = gw_metrics_family(m, "hbd_store_errors_total", GW_METRIC_COUNTER,
                          "Failed database write attempts (retried), by reason.", "reason", NULL, 0,
                          err);
    for (int i = GW_STORE_FAULT_NONE + 1; i < GW_STORE_FAULTS; i++)
        hm->store_errors[i] = keep(gw_metrics_series2(m, f, gw_store_fault_label(i), NULL), &bad);
    hm->store_failing =
        keep(gw_metrics_simple(m, "hbd_store_failing", GW_METRIC_GAUGE,
                               "1 while database writes fail (rows wait for retry).", err),
             &bad);
    hm->store_queued = keep(gw_metrics_simple(m, "hbd_store_queued", GW_METRIC_GAUGE,
                                              "Rows waiting to be written to the database.", err),
                            &bad);
    if (bad)
        return gw_err(err, "metrics registry full");
    hbd_metrics_reloaded(h);
    gw_metrics_on_collect(m, collect, h);
    return gw_daemon_process_metrics(h->daemon, m);
}

/* The HTTP thread renders /metrics but is no config reader (lib/snap.h): the one setting it
 * needs is copied here by the main thread, the config's writer. */
void
hbd_metrics_reloaded(struct hbd *h)
{
    atomic_store_explicit(&h->m.max_rows, hbd_cfg(h)->metrics_max_services, memory_order_relaxed);
}

void
hbd_metrics_free(struct hbd *h)
{
    if (h->m.reg)
        gw_metrics_free(h->m.reg);
    h->m.reg = NULL;
    free(h->m.rows);
    h->m.rows = NULL;
    h->m.nrows = h->m.caprows = 0;
}

static void
count_transition(struct hbd *h, enum hbd_state to)
{
    int s = to == HBD_UP     ? h->m.transitions_up
            : to == HBD_LATE ? h->m.transitions_late
            : to == HBD_DEAD ? h->m.transitions_dead
                             : -1;

    if (s >= 0)
        gw_metrics_add(h->m.reg, s, 1);
}

/* heartbeat_events.detail, a JSON object (heartbeat_events_v shows it readable): how long the
 * previous state lasted and the latest heartbeat; malloc'd, NULL when nothing is known. */
static char *
event_detail(int64_t now, const struct hbd_transition_times *t)
{
    json_t *o;
    char ts[40], *text;

    if (!t || (t->from_since_ms <= 0 && t->last_beat_ms <= 0))
        return NULL;
    if ((o = json_object()) == NULL)
        return NULL;
    if (t->from_since_ms > 0) {
        json_object_set_new(o, "from_since",
                            json_string(gw_time_rfc3339(t->from_since_ms, ts, sizeof(ts))));
        json_object_set_new(o, "from_for_ms", json_integer(now - t->from_since_ms));
    }
    if (t->last_beat_ms > 0) {
        json_object_set_new(o, "last_beat",
                            json_string(gw_time_rfc3339(t->last_beat_ms, ts, sizeof(ts))));
        json_object_set_new(o, "silent_ms", json_integer(now - t->last_beat_ms));
    }
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

void
hbd_emit_transition(struct hbd *h, const char *service, const char *instance, enum hbd_state from,
                    enum hbd_state to, json_t *doc)
{
    hbd_emit_transition_at(h, service, instance, from, to, doc, NULL);
}

void
hbd_emit_transition_at(struct hbd *h, const char *service, const char *instance,
                       enum hbd_state from, enum hbd_state to, json_t *doc,
                       const struct hbd_transition_times *times)
{
    enum gw_log_level lvl = to == HBD_DEAD || to == HBD_LATE ? GW_LOG_WARNING : GW_LOG_INFO;

    /* A burst of new services is not news line by line: debug, and a summary every
     * NEW_SERVICES_SUMMARY_MS at info (main.c). */
    if (from == HBD_NEW && !instance[0]) {
        lvl = GW_LOG_DEBUG;
        atomic_fetch_add_explicit(&h->new_services, 1, memory_order_relaxed);
        gw_metrics_add(h->m.reg, h->m.new_services, 1);
    }
    const char *what = instance[0] ? "instance state changed" : "service state changed";
    int64_t now = gw_wall_ms();
    char ts[40], *detail;

    count_transition(h, to);
    GW_LOG(lvl, what, "service=%s instance=%s from=%s to=%s", service, instance,
           hbd_state_name(from), hbd_state_name(to));
    detail = h->store ? event_detail(now, times) : NULL;
    if (h->store && gw_store_hb_event(h->store, now, service, instance, hbd_state_name(from),
                                      hbd_state_name(to), detail ? detail : "") == -1)
        GW_LOG_DEBUG("state change not stored: queue full", "service=%s", service);
    free(detail);
    /* Registration and removal are bookkeeping, not news: webhooks hear of up/late/dead. */
    if (!doc || instance[0] || from == HBD_NEW || to == HBD_FORGOTTEN) {
        json_decref(doc);
        return;
    }
    hbd_alerter_send(h->alerter,
                     json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "event", "state_change",
                               "prog", GW_PROG_HBD, "host", h->hostname, "service", service, "from",
                               hbd_state_name(from), "to", hbd_state_name(to), "ts",
                               gw_time_rfc3339(now, ts, sizeof(ts)), "detail", doc));
}

void
hbd_store_watch(struct hbd *h)
{
    struct gw_store_stats st;

    if (!h->store)
        return;
    gw_store_stats(h->store, &st);
    if (st.episodes != h->store_episodes && st.failing) {
        GW_LOG_ERROR("database writes failing; rows kept for retry",
                     "path=%s reason=%s err=%s queued=%llu", h->store_path,
                     gw_store_fault_text(st.fault), st.why, (unsigned long long)st.queued);
        h->store_episodes = st.episodes;
        h->store_failing = 1;
        h->store_at_fault = st;
    } else if (st.episodes != h->store_episodes) {
        /* Began and ended between two looks: still one line. */
        GW_LOG_WARN("database writes failed for a moment, then resumed", "path=%s reason=%s err=%s",
                    h->store_path, gw_store_fault_text(st.fault), st.why);
        h->store_episodes = st.episodes;
    } else if (h->store_failing && !st.failing) {
        GW_LOG_INFO("database writes resumed", "path=%s reason=%s failed_for_ms=%lld dropped=%llu",
                    h->store_path, gw_store_fault_text(st.fault),
                    (long long)(gw_wall_ms() - st.fault_since_ms),
                    (unsigned long long)(st.dropped - h->store_at_fault.dropped));
        h->store_failing = 0;
        h->store_episodes = st.episodes;
    }
}

int
hbd_store_ready(void *arg, char *detail, size_t len)
{
    struct hbd *h = arg;
    struct gw_store_stats st;

    if (!h->store) {
        snprintf(detail, len, "off");
        return 1;
    }
    gw_store_stats(h->store, &st);
    if (st.failing) {
        snprintf(detail, len, "store %s: writes failing (%s): %s", h->store_path,
                 gw_store_fault_text(st.fault), st.why);
        return 0;
    }
    snprintf(detail, len, "writing");
    return 1;
}
