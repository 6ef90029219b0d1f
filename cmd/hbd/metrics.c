/*
 * metrics.c -- hbd's metric families, and the one place a state change is counted, logged,
 * stored and alerted.
 */
#include <string.h>

#include "hbd.h"
#include "log.h"
#include "progs.h"

const struct gw_store_table *const hbd_store_tables[] = {&gw_store_hb_table,
                                                         &gw_store_hb_watch_table, NULL};

/* Request processing time per read batch: loopback PINGs take microseconds. */
static const double processing_buckets[] = {1e-6,   5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4,
                                            2.5e-4, 5e-4, 1e-3, 5e-3,   1e-2, 0.1};

static void
collect(struct gw_metrics *m, void *arg)
{
    struct hbd *h = arg;
    struct hbd_counts c;
    struct gw_store_stats st;

    hbd_registry_counts(h->reg, &c);
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
    gw_metrics_on_collect(m, collect, h);
    return gw_daemon_process_metrics(h->daemon, m);
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

void
hbd_emit_transition(struct hbd *h, const char *service, const char *instance, enum hbd_state from,
                    enum hbd_state to, json_t *doc)
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
    char ts[40];

    count_transition(h, to);
    GW_LOG(lvl, what, "service=%s instance=%s from=%s to=%s", service, instance,
           hbd_state_name(from), hbd_state_name(to));
    if (h->store && gw_store_hb_event(h->store, now, service, instance, hbd_state_name(from),
                                      hbd_state_name(to), "") == -1)
        GW_LOG_DEBUG("state change not stored: queue full", "service=%s", service);
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
