/*
 * tail.c -- `tail [--follow] [--app A] [--severity S]`: the latest records, and a live stream of
 * the new ones as they are committed.
 *
 * The writer offers every committed batch here: the last RING records are kept for a plain
 * tail, and followers get theirs in a bounded queue each (a follower that lags loses records,
 * counted, rather than hold the writer or memory). Streams go out on the main thread, which
 * owns the control socket.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "logd.h"

#define RING 200
#define FOLLOWER_MAX 10000
#define DEFAULT_LINES 10

struct follower {
    struct follower *next;
    struct gw_ctl_req *r;
    struct logd_tail *t;
    char app[128];
    int severity; /* keep records this severe or more; -1: all */
    json_t *pending;
    uint64_t dropped;
};

struct logd_tail {
    struct logd *l;
    pthread_mutex_t mu;
    json_t *ring[RING];
    unsigned head, n;
    struct follower *followers;
    int posted; /* a drain of the followers' queues is on its way to the main loop */
};

struct logd_tail *
logd_tail_new(struct logd *l)
{
    struct logd_tail *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    t->l = l;
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void
logd_tail_free(struct logd_tail *t)
{
    if (!t)
        return;
    while (t->followers) {
        struct follower *f = t->followers;
        t->followers = f->next;
        json_decref(f->pending);
        gw_ctl_reply(f->r, NULL);
        free(f);
    }
    for (unsigned i = 0; i < t->n; i++)
        json_decref(t->ring[(t->head + RING - t->n + i) % RING]);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int
logd_tail_active(const struct logd_tail *t)
{
    return t != NULL;
}

static int
matches(const struct follower *f, const struct logd_batch *b, const struct logd_rec *r)
{
    size_t n;
    const char *app;

    if (f->severity >= 0 && (r->severity < 0 || r->severity > f->severity))
        return 0;
    if (f->app[0]) {
        app = logd_rec_field(b, r, LOGD_F_APP, &n);
        if (n != strlen(f->app) || memcmp(app, f->app, n) != 0)
            return 0;
    }
    return 1;
}

static void drain_followers(struct gw_ev *ev, void *arg);

void
logd_tail_publish(struct logd_tail *t, const struct logd_batch *b)
{
    size_t from = b->nrec > RING ? b->nrec - RING : 0;
    int any = 0;

    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < b->nrec; i++) {
        const struct logd_rec *r = &b->recs[i];
        json_t *j = NULL;
        for (struct follower *f = t->followers; f; f = f->next) {
            if (!matches(f, b, r))
                continue;
            if (json_array_size(f->pending) >= FOLLOWER_MAX) {
                f->dropped++;
                gw_metrics_add(t->l->m.reg, t->l->m.tail_dropped, 1);
                continue;
            }
            if (!j && (j = logd_format_json(b, r)) == NULL)
                break;
            json_array_append(f->pending, j);
            any = 1;
        }
        if (i >= from && (j || (j = logd_format_json(b, r)) != NULL)) {
            json_decref(t->ring[t->head]);
            t->ring[t->head] = j;
            t->head = (t->head + 1) % RING;
            t->n += t->n < RING;
        } else {
            json_decref(j);
        }
    }
    if (any && !t->posted && gw_ev_post(gw_daemon_ev(t->l->daemon), drain_followers, t) == 0)
        t->posted = 1;
    pthread_mutex_unlock(&t->mu);
}

static void
unlink_follower(struct logd_tail *t, struct follower *f)
{
    for (struct follower **p = &t->followers; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
}

static void
drop_follower(struct follower *f)
{
    struct logd_tail *t = f->t;

    pthread_mutex_lock(&t->mu);
    unlink_follower(t, f);
    pthread_mutex_unlock(&t->mu);
    json_decref(f->pending);
    gw_ctl_reply(f->r, NULL);
    free(f);
}

static void
drain_followers(struct gw_ev *ev, void *arg)
{
    struct logd_tail *t = arg;
    struct follower *f, *next, *gone = NULL;

    (void)ev;
    pthread_mutex_lock(&t->mu);
    t->posted = 0;
    for (f = t->followers; f; f = next) {
        json_t *item;
        size_t i;
        next = f->next;
        json_array_foreach(f->pending, i, item)
        {
            if (gw_ctl_stream(f->r, json_incref(item)) == -1) {
                unlink_follower(t, f);
                f->next = gone;
                gone = f;
                break;
            }
        }
        json_array_clear(f->pending);
    }
    pthread_mutex_unlock(&t->mu);
    for (f = gone; f; f = next) {
        next = f->next;
        json_decref(f->pending);
        gw_ctl_reply(f->r, NULL);
        free(f);
    }
}

static void
on_hangup(struct gw_ctl_req *r, void *arg)
{
    (void)r;
    drop_follower(arg);
}

/* The last `lines` records of the ring that pass the filter, oldest first. */
static json_t *
recent(struct logd_tail *t, const struct follower *filter, size_t lines)
{
    json_t *out = json_array();
    size_t i = t->n;

    /* Walk back to find the first record to show, then forward. */
    size_t count = 0, start = t->n;
    while (i > 0 && count < lines) {
        json_t *j = t->ring[(t->head + RING - t->n + i - 1) % RING];
        const char *app = json_string_value(json_object_get(j, "app"));
        const char *sev = json_string_value(json_object_get(j, "severity"));
        int s = sev ? logd_severity_parse(sev) : -1;
        i--;
        if (filter->app[0] && (!app || strcmp(app, filter->app) != 0))
            continue;
        if (filter->severity >= 0 && (s < 0 || s > filter->severity))
            continue;
        count++;
        start = i;
    }
    for (i = start; i < t->n && json_array_size(out) < count; i++) {
        json_t *j = t->ring[(t->head + RING - t->n + i) % RING];
        const char *app = json_string_value(json_object_get(j, "app"));
        const char *sev = json_string_value(json_object_get(j, "severity"));
        int s = sev ? logd_severity_parse(sev) : -1;
        if (filter->app[0] && (!app || strcmp(app, filter->app) != 0))
            continue;
        if (filter->severity >= 0 && (s < 0 || s > filter->severity))
            continue;
        json_array_append(out, j);
    }
    return out;
}

void
logd_tail_cmd(struct gw_ctl_req *r, json_t *args, void *arg)
{
    struct logd *l = arg;
    struct logd_tail *t = l->tail;
    json_t *app = json_object_get(args, "app"), *sev = json_object_get(args, "severity");
    json_t *lines = json_object_get(args, "lines"), *list, *item;
    int follow = json_is_true(json_object_get(args, "follow"));
    struct follower *f = calloc(1, sizeof(*f));
    size_t n = DEFAULT_LINES, i;

    if (!f) {
        gw_ctl_error(r, "failed", "out of memory");
        return;
    }
    f->severity = -1;
    if ((app && !json_is_string(app)) || (sev && !json_is_string(sev)) ||
        (lines && !json_is_integer(lines) && !json_is_string(lines)) ||
        (sev && (f->severity = logd_severity_parse(json_string_value(sev))) < 0)) {
        free(f);
        gw_ctl_error(r, "bad_args", "usage: tail {\"follow\":true, \"app\":\"A\", "
                                    "\"severity\":\"emerg..debug\", \"lines\":N}");
        return;
    }
    if (app)
        gw_strlcpy(f->app, json_string_value(app), sizeof(f->app));
    if (json_is_integer(lines) && json_integer_value(lines) >= 0)
        n = (size_t)json_integer_value(lines);
    else if (json_is_string(lines))
        n = strtoul(json_string_value(lines), NULL, 10);
    pthread_mutex_lock(&t->mu);
    list = recent(t, f, GW_MIN(n, RING));
    if (follow) {
        f->r = r;
        f->t = t;
        f->pending = json_array();
        f->next = t->followers;
        t->followers = f;
    }
    pthread_mutex_unlock(&t->mu);
    if (!follow) {
        free(f);
        gw_ctl_reply(r, json_pack("{s:o}", "records", list));
        return;
    }
    gw_ctl_req_on_hangup(r, on_hangup, f);
    json_array_foreach(list, i, item)
    {
        if (gw_ctl_stream(r, json_incref(item)) == -1)
            break;
    }
    json_decref(list);
}
