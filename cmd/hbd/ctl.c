/*
 * ctl.c -- hbd's own control commands and its status, health and STATUS-line figures. The
 * common commands (reload, drain, log-level, ...) come from lib/daemon.c.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "hbd.h"
#include "hbd_ctl.h"
#include "log.h"

static uint64_t
counter(struct hbd *h, int series)
{
    return (uint64_t)gw_metrics_value(h->m.reg, series);
}

static uint64_t
messages_total(struct hbd *h)
{
    return counter(h, h->m.msgs_tcp) + counter(h, h->m.msgs_udp);
}

static uint64_t
errors_total(struct hbd *h)
{
    uint64_t n = 0;

    for (int e = 0; e < HBD_ERR_COUNT; e++)
        n += counter(h,
                     *(const int *)(const void *)((const char *)&h->m + hbd_errs[e].series_offset));
    return n;
}

/* The store's counters, flat (errors_<reason> for each fault); "failing" names the fault while
 * writes fail. */
static json_t *
store_json(const struct hbd *h, const struct gw_store_stats *st)
{
    json_t *o = json_pack(
        "{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s}", "enabled", h->store != NULL, "written",
        (json_int_t)st->written, "dropped", (json_int_t)st->dropped, "queued",
        (json_int_t)st->queued, "errors", (json_int_t)st->errors, "retries",
        (json_int_t)st->retries, "pruned", (json_int_t)st->pruned, "failing",
        st->failing ? gw_store_fault_text(st->fault) : "", "error", st->failing ? st->why : "");
    char key[40];

    for (int f = GW_STORE_FAULT_NONE + 1; o && f < GW_STORE_FAULTS; f++) {
        snprintf(key, sizeof(key), "errors_%s", gw_store_fault_label(f));
        json_object_set_new(o, key, json_integer((json_int_t)st->errors_by[f]));
    }
    return o;
}

/* Thread-safe: used by the HTTP thread, the control socket and the STATUS command. */
json_t *
hbd_status(void *arg)
{
    struct hbd *h = arg;
    struct hbd_counts c;
    struct gw_store_stats st = {0};

    hbd_registry_counts(h->reg, &c);
    if (h->store)
        gw_store_stats(h->store, &st);
    return json_pack(
        "{s:{s:s, s:s, s:s}, s:i, s:s, s:i, s:I, s:I, s:f, s:I, s:I, s:{s:i, s:i, s:i, s:i}, "
        "s:{s:I, s:I, s:I, s:I}, s:o}",
        "listeners", "tcp", h->listen_str, "udp", h->udp ? h->listen_str : "", "http", h->http_str,
        "workers", (int)h->nworkers, "io", hbd_io_in_use(h), "connections", (int)hbd_conns(h),
        "connections_total", (json_int_t)counter(h, h->m.clients_connected), "messages_total",
        (json_int_t)messages_total(h), "messages_per_second",
        gw_metrics_value(h->m.reg, h->m.msgs_per_second), "bytes_received_total",
        (json_int_t)counter(h, h->m.bytes_received), "errors_total", (json_int_t)errors_total(h),
        "services", "total", (int)c.total, "up", (int)c.up, "late", (int)c.late, "dead",
        (int)c.dead, "alerts", "sent", (json_int_t)counter(h, h->m.alerts_sent), "failed",
        (json_int_t)counter(h, h->m.alerts_failed), "queued",
        (json_int_t)gw_metrics_value(h->m.reg, h->m.alerts_queued), "dropped",
        (json_int_t)counter(h, h->m.alerts_dropped), "store", store_json(h, &st));
}

json_t *
hbd_health(void *arg)
{
    struct hbd *h = arg;
    struct hbd_counts c;
    int conns = (int)hbd_conns(h);
    char summary[200];
    const char *status = "ok";

    struct gw_store_stats st = {0};
    int n;

    hbd_registry_counts(h->reg, &c);
    if (h->store)
        gw_store_stats(h->store, &st);
    /* gwctl health-check judges the levels against its own thresholds; this is the default. */
    if (c.dead)
        status = "critical";
    else if (c.late || st.failing)
        status = "warning";
    n = snprintf(summary, sizeof(summary), "%d connection%s, %u dead service%s, %u late", conns,
                 conns == 1 ? "" : "s", c.dead, c.dead == 1 ? "" : "s", c.late);
    /* History not being written is worth a look even when every service is up: one more
     * problem at the warning level. */
    if (st.failing && n > 0 && (size_t)n < sizeof(summary))
        snprintf(summary + n, sizeof(summary) - (size_t)n, ", store failing (%s)",
                 gw_store_fault_text(st.fault));
    return json_pack("{s:s, s:s, s:{s:i, s:i, s:i, s:i}, s:{s:i, s:i}}", "status", status,
                     "summary", summary, "perfdata", "conns", conns, "up", (int)c.up, "late",
                     (int)c.late, "dead", (int)c.dead, "levels", "warning",
                     (int)c.late + (st.failing ? 1 : 0), "critical", (int)c.dead);
}

void
hbd_status_line(struct hbd *h, char *buf, size_t len)
{
    struct hbd_counts c;

    hbd_registry_counts(h->reg, &c);
    snprintf(buf, len,
             "STATUS connections=%u messages=%llu services=%u up=%u late=%u dead=%u uptime_s=%llu",
             hbd_conns(h), (unsigned long long)messages_total(h), c.total, c.up, c.late, c.dead,
             (unsigned long long)((gw_mono_ms() - h->started_ms) / 1000));
}

/* A services listing being streamed: the sorted names taken at the start, sent a chunk per
 * turn of the main loop so that heartbeats, sweeps and other control clients go on. */
#define STREAM_CHUNK 256

struct listing {
    struct hbd *h;
    struct gw_ctl_req *r;
    struct gw_ev_timer timer;
    char **names;
    size_t n, next, sent, matched;
    int state;
    int streaming; /* inside gw_ctl_stream: a hang-up there is learnt from its -1 */
};

static void
listing_free(struct listing *l)
{
    gw_ev_timer_stop(gw_daemon_ev(l->h->daemon), &l->timer);
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l);
    malloc_trim(0); /* a listing of 100,000 services leaves no high-water mark behind */
}

/* The client went away between two chunks. One that goes while gw_ctl_stream writes is seen
 * there too (it returns -1, and still reads r afterwards): left to listing_step then. */
static void
listing_hangup(struct gw_ctl_req *r, void *arg)
{
    struct listing *l = arg;

    if (l->streaming)
        return;
    gw_ctl_reply(r, NULL);
    listing_free(l);
}

static void
listing_step(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct listing *l = arg;
    json_t *doc;
    int rc;

    (void)t;
    for (size_t k = 0; k < STREAM_CHUNK && l->next < l->n; l->next++) {
        if ((doc = hbd_registry_service(l->h->reg, l->names[l->next], l->state)) == NULL)
            continue; /* forgotten, or left the state, since the listing began */
        l->streaming = 1;
        rc = gw_ctl_stream(l->r, doc);
        l->streaming = 0;
        if (rc == -1) {
            gw_ctl_reply(l->r, NULL); /* the client is gone: only frees r */
            listing_free(l);
            return;
        }
        l->sent++;
        k++;
    }
    if (l->next < l->n) {
        gw_ev_timer_start(ev, &l->timer, 0);
        return;
    }
    gw_ctl_reply(l->r, json_pack("{s:I, s:I}", HBD_F_COUNT, (json_int_t)l->sent, HBD_F_MATCHED,
                                 (json_int_t)l->matched));
    listing_free(l);
}

static void
services_stream(struct hbd *h, struct gw_ctl_req *r, int state, const char *name, size_t limit)
{
    struct listing *l = calloc(1, sizeof(*l));

    if (l && name) {
        l->names = malloc(sizeof(*l->names));
        if (l->names && (l->names[0] = strdup(name)) != NULL)
            l->n = 1;
    } else if (l) {
        l->names = hbd_registry_names(h->reg, state, &l->n);
    }
    if (!l || !l->names) {
        free(l);
        gw_ctl_error(r, "failed", "out of memory");
        return;
    }
    l->matched = l->n;
    if (limit && limit < l->n) {
        for (size_t i = limit; i < l->n; i++)
            free(l->names[i]);
        l->n = limit;
    }
    l->h = h;
    l->r = r;
    l->state = state;
    gw_ev_timer_init(&l->timer, listing_step, l);
    gw_ctl_req_on_hangup(r, listing_hangup, l);
    listing_step(gw_daemon_ev(h->daemon), &l->timer, l);
}

static void
cmd_services(struct gw_ctl_req *r, json_t *args, void *arg)
{
    struct hbd *h = arg;
    json_t *st = json_object_get(args, HBD_ARG_STATE),
           *svc = json_object_get(args, HBD_ARG_SERVICE),
           *lim = json_object_get(args, HBD_ARG_LIMIT), *list;
    int state = -1;
    long long limit = 0;
    char *end = NULL;

    if (st && (!json_is_string(st) || (state = hbd_state_parse(json_string_value(st))) < 0)) {
        gw_ctl_error(r, "bad_args", "%s must be one of %s", HBD_ARG_STATE, HBD_STATE_CHOICES);
        return;
    }
    if (svc && !json_is_string(svc)) {
        gw_ctl_error(r, "bad_args", "%s must be a string", HBD_ARG_SERVICE);
        return;
    }
    errno = 0;
    if (json_is_integer(lim))
        limit = json_integer_value(lim);
    else if (json_is_string(lim))
        limit = strtoll(json_string_value(lim), &end, 10);
    /* Past LLONG_MAX strtoll says ERANGE and gives the maximum: refused, as gwctl refuses it,
     * not taken as "everything". */
    if (lim && (limit < 1 || errno == ERANGE || (end && (*end || end == json_string_value(lim))))) {
        gw_ctl_error(r, "bad_args", "%s must be a positive integer", HBD_ARG_LIMIT);
        return;
    }
    if (json_is_true(json_object_get(args, HBD_ARG_STREAM))) {
        services_stream(h, r, state, svc ? json_string_value(svc) : NULL, (size_t)limit);
        return;
    }
    list = hbd_registry_json(h->reg, state, svc ? json_string_value(svc) : NULL);
    if (limit) {
        json_t *a = json_object_get(list, HBD_F_SERVICES);
        while (json_array_size(a) > (size_t)limit)
            json_array_remove(a, json_array_size(a) - 1);
    }
    gw_ctl_reply(r, list);
}

static void
cmd_clients(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)args;
    hbd_clients(arg, r);
}

static void
cmd_forget(struct gw_ctl_req *r, json_t *args, void *arg)
{
    struct hbd *h = arg;
    const char *name = json_string_value(json_object_get(args, HBD_ARG_SERVICE));

    if (!name) {
        gw_ctl_error(r, "bad_args", "usage: %s {\"%s\":\"NAME\"}", HBD_CMD_FORGET, HBD_ARG_SERVICE);
        return;
    }
    if (hbd_registry_forget(h->reg, name) == -1) {
        gw_ctl_error(r, "not_found", "no service named '%s'", name);
        return;
    }
    GW_LOG_INFO("service forgotten", "service=%s by=ctl", name);
    gw_ctl_reply(r, json_pack("{s:s}", HBD_F_FORGOTTEN, name));
}

const struct gw_ctl_cmd hbd_ctl_cmds[] = {
    {HBD_CMD_SERVICES, cmd_services,
     "services and their instances: {\"" HBD_ARG_STATE "\":\"dead\"} filters", NULL},
    {HBD_CMD_CLIENTS, cmd_clients, "open TCP connections", NULL},
    {HBD_CMD_FORGET, cmd_forget, "drop a service now: {\"" HBD_ARG_SERVICE "\":\"NAME\"}", NULL},
    {NULL, NULL, NULL, NULL},
};
