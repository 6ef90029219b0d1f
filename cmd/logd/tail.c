/*
 * tail.c -- `tail [--follow] [--app A] [--severity S]`: the latest records, and a live stream of
 * the new ones as they are committed.
 *
 * The writer hands every committed batch over here instead of freeing it: the newest batches
 * holding the last RING records are kept as they are (formatted only when someone asks, so a
 * plain tail costs the message path nothing), and followers get their records in a bounded
 * queue each (a follower that lags loses records, counted, rather than hold the writer or
 * memory). Streams go out on the main thread, which owns the control socket.
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
    struct logd_batch *kept[RING]; /* oldest first; together at least RING records */
    unsigned nkept;
    size_t kept_recs;
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
    for (unsigned i = 0; i < t->nkept; i++)
        logd_batch_free(t->kept[i]);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static void drain_followers(struct gw_ev *ev, void *arg);

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

/* Keeps b; drops the oldest batches no longer needed for the last RING records. */
static void
keep(struct logd_tail *t, struct logd_batch *b)
{
    if (t->nkept == RING) {
        t->kept_recs -= t->kept[0]->nrec;
        logd_batch_free(t->kept[0]);
        memmove(t->kept, t->kept + 1, --t->nkept * sizeof(t->kept[0]));
    }
    t->kept[t->nkept++] = b;
    t->kept_recs += b->nrec;
    while (t->nkept > 1 && t->kept_recs - t->kept[0]->nrec >= RING) {
        t->kept_recs -= t->kept[0]->nrec;
        logd_batch_free(t->kept[0]);
        memmove(t->kept, t->kept + 1, --t->nkept * sizeof(t->kept[0]));
    }
}

void
logd_tail_publish(struct logd_tail *t, struct logd_batch *b)
{
    int any = 0;

    pthread_mutex_lock(&t->mu);
    for (struct follower *f = t->followers; f; f = f->next) {
        for (size_t i = 0; i < b->nrec; i++) {
            json_t *j;
            if (!matches(f, b, &b->recs[i]))
                continue;
            if (json_array_size(f->pending) >= FOLLOWER_MAX) {
                f->dropped++;
                gw_metrics_add(t->l->m.reg, t->l->m.tail_dropped, 1);
                continue;
            }
            if ((j = logd_format_json(b, &b->recs[i])) != NULL)
                json_array_append_new(f->pending, j);
            any = 1;
        }
    }
    keep(t, b);
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

/* The last `lines` kept records that pass the filter, oldest first. Under mu. */
static json_t *
recent(struct logd_tail *t, const struct follower *filter, size_t lines)
{
    json_t *out = json_array();

    for (unsigned k = t->nkept; k-- > 0 && json_array_size(out) < lines;) {
        const struct logd_batch *b = t->kept[k];
        for (size_t i = b->nrec; i-- > 0 && json_array_size(out) < lines;) {
            json_t *j;
            if (matches(filter, b, &b->recs[i]) && (j = logd_format_json(b, &b->recs[i])))
                json_array_insert_new(out, 0, j);
        }
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
        gw_ctl_error(r, "bad_args",
                     "usage: tail {\"follow\":true, \"app\":\"A\", "
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
