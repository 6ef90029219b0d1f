/*
 * metrics.c -- logd's metric families, and the counting of each record an input reads.
 */
#include <string.h>

#include "logd.h"

/* A commit is a write plus, by policy, an fsync: from microseconds to seconds on a busy disk. */
static const double commit_buckets[] = {1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3,
                                        1e-2, 5e-2, 0.1,  0.5,  1,    5};

static int
series(struct gw_metrics *m, int family, const char *v1)
{
    const char *vals[1] = {v1};

    return family < 0 ? -1 : gw_metrics_series(m, family, vals);
}

static void
collect(struct gw_metrics *m, void *arg)
{
    struct logd *l = arg;
    struct logd_writer_stats st;
    size_t bytes = 0, batches = 0;
    unsigned n = atomic_load(&l->nlanes);

    for (unsigned i = 0; i < n; i++) {
        size_t b, k;
        logd_lane_depth(l->lanes[i], &b, &k);
        bytes += b;
        batches += k;
    }
    gw_metrics_set(m, l->m.queue_bytes, (double)bytes);
    gw_metrics_set(m, l->m.queue_batches, (double)batches);
    logd_writer_stats(l->writer, &st);
    gw_metrics_set(m, l->m.disk_bytes, (double)st.disk_bytes);
    for (int i = 0; i < LOGD_NINPUTS; i++)
        gw_metrics_set(m, l->m.backpressure[i],
                       (double)atomic_load(&l->m.backpressure_ns[i]) / 1e9);
}

/* Per-input families: one series per input, in the order of enum logd_input. */
static int
per_input(struct gw_metrics *m, int *ids, const char *name, enum gw_metric_type type,
          const char *help, char *err)
{
    int f = gw_metrics_family(m, name, type, help, "input", NULL, 0, err);

    for (int i = 0; i < LOGD_NINPUTS; i++)
        if ((ids[i] = series(m, f, logd_input_names[i])) < 0)
            return -1;
    return 0;
}

int
logd_metrics_init(struct logd *l, char *err)
{
    struct logd_metrics *lm = &l->m;
    struct gw_metrics *m;
    int f;

    if ((m = gw_metrics_new(l->nworkers + 4, 1024, err)) == NULL)
        return -1;
    lm->reg = m;
    if (per_input(m, lm->received, "logd_received_messages_total", GW_METRIC_COUNTER,
                  "Messages received, by input.", err) == -1 ||
        per_input(m, lm->received_bytes, "logd_received_bytes_total", GW_METRIC_COUNTER,
                  "Message bytes received, by input.", err) == -1 ||
        per_input(m, lm->dropped, "logd_dropped_messages_total", GW_METRIC_COUNTER,
                  "Datagrams dropped because their queue was full, by input.", err) == -1 ||
        per_input(m, lm->backpressure, "logd_backpressure_seconds_total", GW_METRIC_COUNTER,
                  "Time inputs spent not reading because their queue was full.", err) == -1)
        goto fail;
    f = gw_metrics_family(m, "logd_parsed_messages_total", GW_METRIC_COUNTER,
                          "Messages by outcome of the syslog parse (unparsed ones are kept whole).",
                          "result", NULL, 0, err);
    lm->parsed = series(m, f, "parsed");
    lm->unparsed = series(m, f, "unparsed");
    lm->truncated = gw_metrics_simple(m, "logd_truncated_messages_total", GW_METRIC_COUNTER,
                                      "Messages cut at max_line.", err);
    lm->queue_bytes = gw_metrics_simple(m, "logd_queue_bytes", GW_METRIC_GAUGE,
                                        "Bytes of messages queued for the writer.", err);
    lm->queue_batches = gw_metrics_simple(m, "logd_queue_batches", GW_METRIC_GAUGE,
                                          "Batches of messages queued for the writer.", err);
    lm->written = gw_metrics_simple(m, "logd_written_messages_total", GW_METRIC_COUNTER,
                                    "Lines committed to the output files.", err);
    lm->written_bytes = gw_metrics_simple(m, "logd_written_bytes_total", GW_METRIC_COUNTER,
                                          "Bytes committed to the output files.", err);
    lm->fsyncs = gw_metrics_simple(m, "logd_fsyncs_total", GW_METRIC_COUNTER,
                                   "fsync calls on output files.", err);
    lm->rotations = gw_metrics_simple(m, "logd_rotations_total", GW_METRIC_COUNTER,
                                      "Output files rotated.", err);
    lm->disk_bytes = gw_metrics_simple(m, "logd_disk_bytes", GW_METRIC_GAUGE,
                                       "Bytes in the open output files.", err);
    lm->write_errors =
        gw_metrics_simple(m, "logd_write_errors_total", GW_METRIC_COUNTER,
                          "Commits that failed (disk full, I/O error); retried.", err);
    f = gw_metrics_family(m, "logd_commit_seconds", GW_METRIC_HISTOGRAM,
                          "Time to write and sync one commit.", NULL, commit_buckets,
                          GW_ARRAY_LEN(commit_buckets), err);
    lm->commit_seconds = series(m, f, NULL);
    lm->acks = gw_metrics_simple(m, "logd_native_acks_total", GW_METRIC_COUNTER,
                                 "Acknowledgements sent to native protocol clients.", err);
    lm->native_bad_frames = gw_metrics_simple(
        m, "logd_native_bad_frames_total", GW_METRIC_COUNTER,
        "Native frames refused (bad CRC, version or length); never acknowledged.", err);
    lm->active_connections = gw_metrics_simple(m, "logd_active_connections", GW_METRIC_GAUGE,
                                               "Syslog TCP and native connections open now.", err);
    lm->connections_total = gw_metrics_simple(m, "logd_connections_total", GW_METRIC_COUNTER,
                                              "Connections accepted.", err);
    lm->refused_connections =
        gw_metrics_simple(m, "logd_refused_connections_total", GW_METRIC_COUNTER,
                          "Connections refused at max_clients.", err);
    f = gw_metrics_family(m, "logd_ingest_requests_total", GW_METRIC_COUNTER,
                          "POST /ingest requests, by status code.", "code", NULL, 0, err);
    lm->ingest_ok = series(m, f, "200");
    lm->ingest_bad = series(m, f, "400");
    lm->ingest_too_large = series(m, f, "413");
    lm->ingest_busy = series(m, f, "503");
    lm->tail_dropped = gw_metrics_simple(m, "logd_tail_dropped_total", GW_METRIC_COUNTER,
                                         "Records not sent to a tail follower that lagged.", err);
    if (lm->parsed < 0 || lm->unparsed < 0 || lm->truncated < 0 || lm->queue_bytes < 0 ||
        lm->queue_batches < 0 || lm->written < 0 || lm->written_bytes < 0 || lm->fsyncs < 0 ||
        lm->rotations < 0 || lm->disk_bytes < 0 || lm->write_errors < 0 || lm->commit_seconds < 0 ||
        lm->acks < 0 || lm->native_bad_frames < 0 || lm->active_connections < 0 ||
        lm->connections_total < 0 || lm->refused_connections < 0 || lm->ingest_ok < 0 ||
        lm->ingest_bad < 0 || lm->ingest_too_large < 0 || lm->ingest_busy < 0 ||
        lm->tail_dropped < 0)
        goto fail;
    gw_metrics_on_collect(m, collect, l);
    return gw_daemon_process_metrics(l->daemon, m);
fail:
    if (!err[0])
        gw_err(err, "metrics registry full");
    return -1;
}

void
logd_count_rec(struct logd *l, const struct logd_rec *r, size_t bytes)
{
    struct gw_metrics *m = l->m.reg;

    gw_metrics_add(m, l->m.received[r->input], 1);
    gw_metrics_add(m, l->m.received_bytes[r->input], bytes);
    gw_metrics_add(m, (r->flags & LOGD_REC_PARSED) ? l->m.parsed : l->m.unparsed, 1);
    if (r->flags & LOGD_REC_TRUNCATED)
        gw_metrics_add(m, l->m.truncated, 1);
}

void
logd_tally_flush(struct logd *l, enum logd_input in, struct logd_tally *t)
{
    struct gw_metrics *m = l->m.reg;

    if (!t->n)
        return;
    gw_metrics_add(m, l->m.received[in], t->n);
    gw_metrics_add(m, l->m.received_bytes[in], t->bytes);
    if (t->parsed)
        gw_metrics_add(m, l->m.parsed, t->parsed);
    if (t->n > t->parsed)
        gw_metrics_add(m, l->m.unparsed, t->n - t->parsed);
    if (t->truncated)
        gw_metrics_add(m, l->m.truncated, t->truncated);
    memset(t, 0, sizeof(*t));
}
