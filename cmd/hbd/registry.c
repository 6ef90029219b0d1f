/*
 * registry.c -- the services hbd knows and their instances: who is up, late, dead.
 *
 * A service is a name; each sender of its heartbeats is an instance (HB api instance=web-1;
 * without instance= there is one unnamed instance). An instance is up until it has been silent
 * for 1.5 intervals (one missed beat plus half an interval for jitter), then late, then dead
 * after grace x interval, then forgotten after forget_after. A service is up while at least
 * min_up instances are up, late while up + late instances reach min_up, dead otherwise.
 *
 * Services sit in SHARDS hash tables, each behind its own mutex, so heartbeats for different
 * services from different workers rarely meet; PING never comes here. State changes found under
 * a lock are collected and emitted (log, store, alert) after it is released.
 *
 * Every change of a service's state goes through set_state, which moves one unit between the
 * per-state counters, so the figures of STATUS, /metrics and health are O(1) and take no lock.
 *
 * The watch list survives a restart: each change of the set (a new service or instance, one
 * forgotten) and each state transition upserts its row in the database (lib/store_hb.c, under
 * the shard lock so one service's rows are queued in order); beats alone write nothing. At
 * start hbd_registry_restore reads the rows back. A restart is no evidence of silence, so an
 * instance that was up starts a fresh interval; one that was late or dead keeps its state and
 * its schedule, so no transition (and no alert) already emitted is emitted again.
 */
#include <stdlib.h>
#include <string.h>

#include "hbd.h"
#include "hbd_ctl.h"
#include "log.h"

#define SHARDS 64
#define MIN_BUCKETS 16

struct label {
    char *key, *value;
};

struct instance {
    char *name;
    enum hbd_state state;
    uint64_t last_ms; /* monotonic */
    int64_t last_wall_ms;
    uint64_t interval_ms;
    uint64_t beats;
    char addr[48];
    int64_t since_wall_ms; /* in its state since (wall clock; 0: not yet known) */
};

struct service {
    struct service *next;
    uint64_t hash;
    char *name;
    enum hbd_state state;
    int64_t since_wall_ms;
    uint64_t interval_ms;
    unsigned min_up; /* 0: the configured default */
    uint64_t beats;
    uint64_t next_check_ms;
    struct instance *inst;
    unsigned ninst, cap;
    struct label *labels;
    unsigned nlabels;
};

struct shard {
    pthread_mutex_t mu;
    struct service **buckets;
    unsigned nbuckets, count;
} __attribute__((aligned(64)));

struct hbd_registry {
    struct hbd *h;
    struct shard shards[SHARDS];
    atomic_uint nservices;                 /* reserved by service_add, for max_services */
    atomic_uint nstate[HBD_FORGOTTEN + 1]; /* linked services by state */
    atomic_int full;                       /* max_services reached: an episode is on */
    atomic_ulong refused;                  /* new services refused in this episode */
    /* What the deadlines were computed with (sweep thread only): a reload that changes one
     * makes the next sweep visit every service. */
    unsigned swept_grace, swept_min_up;
    uint64_t swept_forget_ms;
};

/* A new service refused at max_services: the first refusal of an episode is logged. */
static void
note_full(struct hbd_registry *r, unsigned max)
{
    atomic_fetch_add(&r->refused, 1);
    if (atomic_exchange(&r->full, 1) == 0)
        GW_LOG_WARN("max_services reached: new services are refused (ERR too many services)",
                    "max_services=%u", max);
}

/* Main thread (sweep): the episode ends once there is room again. */
static void
check_full(struct hbd_registry *r, unsigned max)
{
    if (atomic_load(&r->full) && atomic_load(&r->nservices) < max && atomic_exchange(&r->full, 0))
        GW_LOG_INFO("below max_services again: new services are accepted",
                    "max_services=%u refused=%lu", max, atomic_exchange(&r->refused, 0));
}

/* A state change found under a shard lock, emitted after it. */
struct change {
    char *service, *instance;
    enum hbd_state from, to;
    json_t *doc;
    struct hbd_transition_times times; /* for heartbeat_events.detail */
};

struct changes {
    struct change *v;
    size_t n, cap;
};

static const char *const state_names[] = {"new", "up", "late", "dead", "forgotten"};

const char *
hbd_state_name(enum hbd_state s)
{
    return (unsigned)s < GW_ARRAY_LEN(state_names) ? state_names[s] : "unknown";
}

int
hbd_state_parse(const char *name)
{
    for (size_t i = HBD_UP; i <= HBD_DEAD; i++)
        if (strcmp(name, state_names[i]) == 0)
            return (int)i;
    return -1;
}

static uint64_t
hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

struct hbd_registry *
hbd_registry_new(struct hbd *h)
{
    struct hbd_registry *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->h = h;
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&r->shards[i].mu, NULL);
    return r;
}

static void
service_free(struct service *s)
{
    for (unsigned i = 0; i < s->ninst; i++)
        free(s->inst[i].name);
    for (unsigned i = 0; i < s->nlabels; i++) {
        free(s->labels[i].key);
        free(s->labels[i].value);
    }
    free(s->labels);
    free(s->inst);
    free(s->name);
    free(s);
}

void
hbd_registry_free(struct hbd_registry *r)
{
    if (!r)
        return;
    for (int i = 0; i < SHARDS; i++) {
        struct shard *sh = &r->shards[i];
        for (unsigned b = 0; b < sh->nbuckets; b++)
            for (struct service *s = sh->buckets[b], *next; s; s = next) {
                next = s->next;
                service_free(s);
            }
        free(sh->buckets);
        pthread_mutex_destroy(&sh->mu);
    }
    free(r);
}

static struct shard *
shard_of(struct hbd_registry *r, uint64_t hash)
{
    return &r->shards[hash % SHARDS];
}

static struct service **
slot_of(struct shard *sh, uint64_t hash, const char *name)
{
    struct service **p;

    if (!sh->nbuckets)
        return NULL;
    for (p = &sh->buckets[(hash / SHARDS) % sh->nbuckets]; *p; p = &(*p)->next)
        if ((*p)->hash == hash && strcmp((*p)->name, name) == 0)
            return p;
    return p;
}

static int
grow(struct shard *sh)
{
    unsigned n = sh->nbuckets ? sh->nbuckets * 2 : MIN_BUCKETS;
    struct service **b = calloc(n, sizeof(*b));

    if (!b)
        return -1;
    for (unsigned i = 0; i < sh->nbuckets; i++)
        for (struct service *s = sh->buckets[i], *next; s; s = next) {
            next = s->next;
            s->next = b[(s->hash / SHARDS) % n];
            b[(s->hash / SHARDS) % n] = s;
        }
    free(sh->buckets);
    sh->buckets = b;
    sh->nbuckets = n;
    return 0;
}

static struct service *
service_find(struct shard *sh, uint64_t hash, const char *name)
{
    struct service **p = slot_of(sh, hash, name);

    return p ? *p : NULL;
}

/* The only place a linked service's state changes. Shard lock held. */
static void
set_state(struct hbd_registry *r, struct service *s, enum hbd_state to)
{
    atomic_fetch_add_explicit(&r->nstate[to], 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&r->nstate[s->state], 1, memory_order_relaxed);
    s->state = to;
}

static struct service *
service_add(struct hbd_registry *r, struct shard *sh, uint64_t hash, const char *name,
            unsigned max_services)
{
    struct service *s, **p;

    if (atomic_fetch_add(&r->nservices, 1) >= max_services) {
        atomic_fetch_sub(&r->nservices, 1);
        return NULL;
    }
    if ((sh->count + 1 > sh->nbuckets * 2 && grow(sh) == -1) ||
        (s = calloc(1, sizeof(*s))) == NULL) {
        atomic_fetch_sub(&r->nservices, 1);
        return NULL;
    }
    if ((s->name = strdup(name)) == NULL) {
        free(s);
        atomic_fetch_sub(&r->nservices, 1);
        return NULL;
    }
    s->hash = hash;
    s->state = HBD_NEW;
    atomic_fetch_add_explicit(&r->nstate[HBD_NEW], 1, memory_order_relaxed);
    p = slot_of(sh, hash, name);
    *p = s;
    sh->count++;
    return s;
}

static void
service_unlink(struct hbd_registry *r, struct shard *sh, struct service *s)
{
    struct service **p = slot_of(sh, s->hash, s->name);

    *p = s->next;
    sh->count--;
    atomic_fetch_sub_explicit(&r->nstate[s->state], 1, memory_order_relaxed);
    atomic_fetch_sub(&r->nservices, 1);
}

static struct instance *
instance_get(struct service *s, const char *name, unsigned max_instances)
{
    struct instance *in;

    for (unsigned i = 0; i < s->ninst; i++)
        if (strcmp(s->inst[i].name, name) == 0)
            return &s->inst[i];
    if (s->ninst == max_instances)
        return NULL;
    if (s->ninst == s->cap) {
        unsigned cap = s->cap ? s->cap * 2 : 1;
        struct instance *v = realloc(s->inst, cap * sizeof(*v));
        if (!v)
            return NULL;
        s->inst = v;
        s->cap = cap;
    }
    in = &s->inst[s->ninst];
    memset(in, 0, sizeof(*in));
    if ((in->name = strdup(name)) == NULL)
        return NULL;
    in->state = HBD_NEW;
    s->ninst++;
    return in;
}

static int
same_labels(const struct service *s, const struct hbd_req *req)
{
    if (s->nlabels != req->nlabels)
        return 0;
    for (unsigned i = 0; i < s->nlabels; i++)
        if (!s->labels[i].key || !s->labels[i].value ||
            strcmp(s->labels[i].key, req->labels[i].key) ||
            strcmp(s->labels[i].value, req->labels[i].value))
            return 0;
    return 1;
}

/* Returns 1 when the labels changed. */
static int
set_labels(struct service *s, const struct hbd_req *req)
{
    struct label *v;

    if (req->nlabels == 0 || same_labels(s, req))
        return 0;
    if ((v = calloc(req->nlabels, sizeof(*v))) == NULL)
        return 0;
    for (unsigned i = 0; i < req->nlabels; i++) {
        v[i].key = strdup(req->labels[i].key);
        v[i].value = strdup(req->labels[i].value);
    }
    for (unsigned i = 0; i < s->nlabels; i++) {
        free(s->labels[i].key);
        free(s->labels[i].value);
    }
    free(s->labels);
    s->labels = v;
    s->nlabels = req->nlabels;
    return 1;
}

/* Watch-list rows (shard lock held). A row the store's queue drops is counted there. */
static void
persist_service(struct hbd_registry *r, const struct service *s)
{
    json_t *labels;
    char *text;

    if (!r->h->store)
        return;
    labels = json_object();
    for (unsigned i = 0; i < s->nlabels; i++)
        if (s->labels[i].key && s->labels[i].value)
            json_object_set_new(labels, s->labels[i].key, json_string(s->labels[i].value));
    text = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(labels);
    const struct gw_store_hb_service row = {
        s->name,          hbd_state_name(s->state), text ? text : "{}",
        s->since_wall_ms, s->interval_ms,           s->min_up};
    gw_store_hb_put_service(r->h->store, &row);
    free(text);
}

static void
persist_instance(struct hbd_registry *r, const struct service *s, const struct instance *in)
{
    if (!r->h->store)
        return;
    const struct gw_store_hb_instance row = {s->name,  in->name,         hbd_state_name(in->state),
                                             in->addr, in->last_wall_ms, in->interval_ms,
                                             in->beats};
    gw_store_hb_put_instance(r->h->store, &row);
}

static void
persist_delete(struct hbd_registry *r, const char *service, const char *instance)
{
    if (r->h->store)
        gw_store_hb_delete(r->h->store, service, instance);
}

/* The instance's state after silent_ms without a beat. */
static enum hbd_state
instance_state(const struct instance *in, uint64_t silent_ms, unsigned grace)
{
    if (silent_ms > in->interval_ms * grace)
        return HBD_DEAD;
    if (silent_ms > in->interval_ms + in->interval_ms / 2)
        return HBD_LATE;
    return HBD_UP;
}

/* The silence after which a dead instance is forgotten: forget_after, but never less than the
 * silence that makes it dead, so that an instance is always reported dead (alert, event row)
 * before it is dropped. With the default forget_after (24h) and grace (3), an interval of 8 h
 * or more (a daily job) otherwise went from late straight to forgotten, with no dead alert. */
static uint64_t
forget_silence(const struct instance *in, const struct hbd_config *cfg)
{
    return GW_MAX(cfg->forget_after_ms, in->interval_ms * cfg->grace);
}

/* When this instance's state next changes if nothing arrives. */
static uint64_t
instance_deadline(const struct instance *in, const struct hbd_config *cfg)
{
    switch (in->state) {
    case HBD_UP:
        return in->last_ms + in->interval_ms + in->interval_ms / 2 + 1;
    case HBD_LATE:
        return in->last_ms + in->interval_ms * cfg->grace + 1;
    default:
        return in->last_ms + forget_silence(in, cfg) + 1;
    }
}

static enum hbd_state
service_state(const struct service *s, unsigned default_min_up)
{
    unsigned up = 0, late = 0, min_up = s->min_up ? s->min_up : default_min_up;

    for (unsigned i = 0; i < s->ninst; i++) {
        up += s->inst[i].state == HBD_UP;
        late += s->inst[i].state == HBD_LATE;
    }
    if (up >= min_up)
        return HBD_UP;
    if (up + late >= min_up)
        return HBD_LATE;
    return HBD_DEAD;
}

static void
update_deadline(struct service *s, const struct hbd_config *cfg)
{
    uint64_t next = UINT64_MAX;

    for (unsigned i = 0; i < s->ninst; i++) {
        uint64_t d = instance_deadline(&s->inst[i], cfg);
        if (d < next)
            next = d;
    }
    s->next_check_ms = next;
}

static json_t *
service_json(const struct service *s, uint64_t now_ms, unsigned default_min_up)
{
    char ts[40];
    json_t *insts = json_array(), *labels = json_object();
    int64_t last_wall = 0;
    uint64_t last_ms = 0;

    for (unsigned i = 0; i < s->ninst; i++) {
        const struct instance *in = &s->inst[i];
        if (in->last_ms > last_ms) {
            last_ms = in->last_ms;
            last_wall = in->last_wall_ms;
        }
        json_array_append_new(
            insts, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", HBD_F_NAME, in->name,
                             HBD_F_STATE, hbd_state_name(in->state), HBD_F_LAST_SEEN,
                             gw_time_rfc3339(in->last_wall_ms, ts, sizeof(ts)), HBD_F_SILENT_MS,
                             (json_int_t)(now_ms - in->last_ms), HBD_F_INTERVAL_MS,
                             (json_int_t)in->interval_ms, HBD_F_HEARTBEATS, (json_int_t)in->beats,
                             HBD_F_ADDR, in->addr));
    }
    for (unsigned i = 0; i < s->nlabels; i++)
        if (s->labels[i].key && s->labels[i].value)
            json_object_set_new(labels, s->labels[i].key, json_string(s->labels[i].value));
    char since[40];
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:o, s:o}", HBD_F_NAME, s->name,
                     HBD_F_STATE, hbd_state_name(s->state), HBD_F_SINCE,
                     gw_time_rfc3339(s->since_wall_ms, since, sizeof(since)), HBD_F_LAST_SEEN,
                     gw_time_rfc3339(last_wall, ts, sizeof(ts)), HBD_F_SILENT_MS,
                     (json_int_t)(now_ms - last_ms), HBD_F_INTERVAL_MS, (json_int_t)s->interval_ms,
                     HBD_F_HEARTBEATS, (json_int_t)s->beats, HBD_F_MIN_UP,
                     (int)(s->min_up ? s->min_up : default_min_up), HBD_F_LABELS, labels,
                     HBD_F_INSTANCES, insts);
}

static void
note_change_at(struct changes *ch, const char *service, const char *instance, enum hbd_state from,
               enum hbd_state to, json_t *doc, int64_t from_since_ms, int64_t last_beat_ms)
{
    struct change *c;

    if (ch->n == ch->cap) {
        size_t cap = ch->cap ? ch->cap * 2 : 8;
        struct change *v = realloc(ch->v, cap * sizeof(*v));
        if (!v) {
            json_decref(doc);
            return;
        }
        ch->v = v;
        ch->cap = cap;
    }
    c = &ch->v[ch->n++];
    c->service = strdup(service);
    c->instance = strdup(instance);
    c->from = from;
    c->to = to;
    c->doc = doc;
    c->times.from_since_ms = from_since_ms;
    c->times.last_beat_ms = last_beat_ms;
}

/* The wall time of the service's latest heartbeat, any instance. */
static int64_t
last_beat_wall(const struct service *s)
{
    uint64_t last_ms = 0;
    int64_t wall = 0;

    for (unsigned i = 0; i < s->ninst; i++)
        if (s->inst[i].last_ms > last_ms) {
            last_ms = s->inst[i].last_ms;
            wall = s->inst[i].last_wall_ms;
        }
    return wall;
}

static void
emit_changes(struct hbd *h, struct changes *ch)
{
    for (size_t i = 0; i < ch->n; i++) {
        struct change *c = &ch->v[i];
        if (c->service && c->instance)
            hbd_emit_transition_at(h, c->service, c->instance, c->from, c->to, c->doc, &c->times);
        else
            json_decref(c->doc);
        free(c->service);
        free(c->instance);
    }
    free(ch->v);
}

/* Re-derives the service state after its instances changed; notes and stores a change.
 * Returns 1 when the state changed. */
static int
settle_service(struct hbd_registry *r, struct service *s, const struct hbd_config *cfg,
               uint64_t now_ms, struct changes *ch)
{
    enum hbd_state to = s->ninst ? service_state(s, cfg->min_up) : HBD_FORGOTTEN;
    int changed = to != s->state;

    if (changed) {
        enum hbd_state from = s->state;
        int64_t from_since = s->since_wall_ms;
        set_state(r, s, to);
        s->since_wall_ms = gw_wall_ms();
        note_change_at(ch, s->name, "", from, to, service_json(s, now_ms, cfg->min_up), from_since,
                       last_beat_wall(s));
        if (to == HBD_FORGOTTEN)
            persist_delete(r, s->name, NULL);
        else
            persist_service(r, s);
    }
    update_deadline(s, cfg);
    return changed;
}

/* The registry's clock for last beats and deadlines: CLOCK_MONOTONIC moved ~139 years forward,
 * so that an instance restored dead or late can be given its whole silence even when that is
 * longer than the time since boot (hbd restarted with its host: the monotonic clock starts near
 * 0 while the service has been silent for hours). Placed at 0 instead, its silence counted from
 * the boot, and the next sweep of its service turned a dead instance back up. */
#define CLOCK_BIAS_MS (UINT64_C(1) << 42)

static uint64_t
reg_now_ms(void)
{
    return gw_mono_ms() + CLOCK_BIAS_MS;
}

/* new_services_per_ip: one more service from addr's address this minute? Shard lock held (the
 * sources lock nests inside it, never the other way). */
static int
new_service_refused(struct hbd_registry *r, const struct hbd_config *cfg, const char *addr,
                    uint64_t now)
{
    char ip[48];

    gw_net_addr_host(addr, ip, sizeof(ip));
    return hbd_sources_new_service(r->h->sources, ip, cfg->new_services_per_ip,
                                   now - CLOCK_BIAS_MS) == -1;
}

uint64_t
hbd_registry_beat(struct hbd_registry *r, const struct hbd_req *req, const char *addr,
                  enum hbd_err *why)
{
    const struct hbd_config *cfg = hbd_cfg(r->h);
    uint64_t hash = hash_name(req->service), now = reg_now_ms(), seq;
    struct shard *sh = shard_of(r, hash);
    struct changes ch = {0};
    struct service *s;
    struct instance *in;
    int dirty = 0, inst_dirty;
    uint64_t interval;

    pthread_mutex_lock(&sh->mu);
    if ((s = service_find(sh, hash, req->service)) == NULL && cfg->new_services_per_ip &&
        new_service_refused(r, cfg, addr, now)) {
        pthread_mutex_unlock(&sh->mu);
        *why = HBD_ERR_NEW_SERVICES_PER_IP;
        return 0;
    }
    if (!s && (dirty = 1, s = service_add(r, sh, hash, req->service, cfg->max_services)) == NULL) {
        pthread_mutex_unlock(&sh->mu);
        *why = HBD_ERR_TOO_MANY_SERVICES;
        if (atomic_load(&r->nservices) >= cfg->max_services) /* not a failed allocation */
            note_full(r, cfg->max_services);
        return 0;
    }
    if ((in = instance_get(s, req->instance, cfg->max_instances)) == NULL) {
        if (s->ninst == 0) {
            service_unlink(r, sh, s);
            service_free(s);
        }
        pthread_mutex_unlock(&sh->mu);
        *why = HBD_ERR_TOO_MANY_INSTANCES;
        return 0;
    }
    interval = req->interval_ms ? req->interval_ms : cfg->default_interval_ms;
    inst_dirty = in->beats == 0 || in->interval_ms != interval || in->state != HBD_UP;
    dirty |= s->interval_ms != interval || (req->min_up && s->min_up != req->min_up);
    in->interval_ms = interval;
    in->last_ms = now;
    in->last_wall_ms = gw_wall_ms();
    in->beats++;
    gw_strlcpy(in->addr, addr, sizeof(in->addr));
    s->interval_ms = in->interval_ms;
    if (req->min_up)
        s->min_up = req->min_up;
    dirty |= set_labels(s, req);
    seq = ++s->beats;
    if (in->state != HBD_UP) {
        enum hbd_state from = in->state;
        in->state = HBD_UP;
        if (in->name[0])
            note_change_at(&ch, s->name, in->name, from, HBD_UP, NULL, in->since_wall_ms,
                           in->last_wall_ms);
        in->since_wall_ms = in->last_wall_ms;
    }
    if (inst_dirty)
        persist_instance(r, s, in);
    if (!settle_service(r, s, cfg, now, &ch) && dirty)
        persist_service(r, s);
    pthread_mutex_unlock(&sh->mu);
    emit_changes(r->h, &ch);
    return seq;
}

/* Ages one service's instances; returns 1 when the service is gone. Shard lock held. */
static int
sweep_service(struct hbd_registry *r, struct service *s, const struct hbd_config *cfg, uint64_t now,
              struct changes *ch)
{
    for (unsigned i = 0; i < s->ninst;) {
        struct instance *in = &s->inst[i];
        /* A worker may have stamped a beat after this sweep read the clock. */
        uint64_t silent = now > in->last_ms ? now - in->last_ms : 0;
        /* Only a dead instance is forgotten: one silent past both thresholds at once goes dead
         * in this sweep and is forgotten in the next. */
        enum hbd_state to = in->state == HBD_DEAD && silent > forget_silence(in, cfg)
                                ? HBD_FORGOTTEN
                                : instance_state(in, silent, cfg->grace);
        if (to != in->state && in->name[0])
            note_change_at(ch, s->name, in->name, in->state, to, NULL, in->since_wall_ms,
                           in->last_wall_ms);
        if (to != in->state)
            in->since_wall_ms = gw_wall_ms();
        if (to == HBD_FORGOTTEN) {
            if (s->ninst > 1) /* the last one goes with its service */
                persist_delete(r, s->name, in->name);
            free(in->name);
            s->inst[i] = s->inst[--s->ninst];
            continue;
        }
        if (to != in->state) {
            in->state = to;
            persist_instance(r, s, in);
        }
        i++;
    }
    settle_service(r, s, cfg, now, ch);
    return s->ninst == 0;
}

void
hbd_registry_sweep(struct hbd_registry *r)
{
    const struct hbd_config *cfg = hbd_cfg(r->h);
    uint64_t now = reg_now_ms();
    struct changes ch = {0};
    /* Deadlines are computed ahead with grace and forget_after: after a reload lowering one, a
     * late service waited for the old deadline (grace 1000 -> 2 kept it late for 1000
     * intervals); min_up changes service states without any deadline. */
    int all = r->swept_grace &&
              (cfg->grace != r->swept_grace || cfg->forget_after_ms != r->swept_forget_ms ||
               cfg->min_up != r->swept_min_up);

    r->swept_grace = cfg->grace;
    r->swept_forget_ms = cfg->forget_after_ms;
    r->swept_min_up = cfg->min_up;
    for (int i = 0; i < SHARDS; i++) {
        struct shard *sh = &r->shards[i];
        pthread_mutex_lock(&sh->mu);
        for (unsigned b = 0; b < sh->nbuckets; b++) {
            for (struct service *s = sh->buckets[b], *next; s; s = next) {
                next = s->next;
                if (!all && now < s->next_check_ms)
                    continue;
                if (sweep_service(r, s, cfg, now, &ch)) {
                    service_unlink(r, sh, s);
                    service_free(s);
                }
            }
        }
        pthread_mutex_unlock(&sh->mu);
    }
    emit_changes(r->h, &ch);
    check_full(r, cfg->max_services);
}

int
hbd_registry_forget(struct hbd_registry *r, const char *name)
{
    uint64_t hash = hash_name(name);
    struct shard *sh = shard_of(r, hash);
    struct changes ch = {0};
    struct service *s;

    pthread_mutex_lock(&sh->mu);
    if ((s = service_find(sh, hash, name)) == NULL) {
        pthread_mutex_unlock(&sh->mu);
        return -1;
    }
    note_change_at(&ch, s->name, "", s->state, HBD_FORGOTTEN, NULL, s->since_wall_ms,
                   last_beat_wall(s));
    persist_delete(r, s->name, NULL);
    service_unlink(r, sh, s);
    service_free(s);
    pthread_mutex_unlock(&sh->mu);
    emit_changes(r->h, &ch);
    return 0;
}

/* Each counter is exact; read together they may straddle a transition in flight. A service
 * in HBD_NEW (under its shard lock between add and settle) counts in total only. */
void
hbd_registry_counts(struct hbd_registry *r, struct hbd_counts *c)
{
    unsigned v[HBD_FORGOTTEN + 1];

    for (int i = 0; i <= HBD_FORGOTTEN; i++)
        v[i] = atomic_load_explicit(&r->nstate[i], memory_order_relaxed);
    c->up = v[HBD_UP];
    c->late = v[HBD_LATE];
    c->dead = v[HBD_DEAD];
    c->total = v[HBD_NEW] + v[HBD_UP] + v[HBD_LATE] + v[HBD_DEAD] + v[HBD_FORGOTTEN];
}

static int
by_name(const void *a, const void *b)
{
    json_t *const *x = a, *const *y = b;

    return strcmp(json_string_value(json_object_get(*x, HBD_F_NAME)),
                  json_string_value(json_object_get(*y, HBD_F_NAME)));
}

json_t *
hbd_registry_json(struct hbd_registry *r, int state, const char *name)
{
    const struct hbd_config *cfg = hbd_cfg(r->h);
    uint64_t now = reg_now_ms();
    size_t n = 0, cap = 64;
    json_t **v = malloc(cap * sizeof(*v)), *arr = json_array();

    for (int i = 0; v && i < SHARDS; i++) {
        struct shard *sh = &r->shards[i];
        pthread_mutex_lock(&sh->mu);
        for (unsigned b = 0; b < sh->nbuckets; b++)
            for (struct service *s = sh->buckets[b]; s; s = s->next) {
                if ((state >= 0 && (int)s->state != state) || (name && strcmp(name, s->name)))
                    continue;
                if (n == cap) {
                    json_t **nv = realloc(v, (cap *= 2) * sizeof(*v));
                    if (!nv)
                        continue;
                    v = nv;
                }
                v[n++] = service_json(s, now, cfg->min_up);
            }
        pthread_mutex_unlock(&sh->mu);
    }
    if (v) {
        qsort(v, n, sizeof(*v), by_name);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, v[i]);
        free(v);
    }
    return json_pack("{s:o}", HBD_F_SERVICES, arr);
}

static int
by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
hbd_registry_names(struct hbd_registry *r, int state, size_t *n)
{
    size_t cap = 1024;
    char **v = malloc(cap * sizeof(*v));

    *n = 0;
    for (int i = 0; v && i < SHARDS; i++) {
        struct shard *sh = &r->shards[i];
        pthread_mutex_lock(&sh->mu);
        for (unsigned b = 0; v && b < sh->nbuckets; b++)
            for (struct service *s = sh->buckets[b]; s; s = s->next) {
                if (state >= 0 && (int)s->state != state)
                    continue;
                if (*n == cap) {
                    char **nv = realloc(v, (cap *= 2) * sizeof(*v));
                    if (!nv)
                        break;
                    v = nv;
                }
                if ((v[*n] = strdup(s->name)) != NULL)
                    (*n)++;
            }
        pthread_mutex_unlock(&sh->mu);
    }
    if (v)
        qsort(v, *n, sizeof(*v), by_str);
    return v;
}

json_t *
hbd_registry_service(struct hbd_registry *r, const char *name, int state)
{
    const struct hbd_config *cfg = hbd_cfg(r->h);
    uint64_t hash = hash_name(name);
    struct shard *sh = shard_of(r, hash);
    struct service *s;
    json_t *doc = NULL;

    pthread_mutex_lock(&sh->mu);
    if ((s = service_find(sh, hash, name)) != NULL && (state < 0 || (int)s->state == state))
        doc = service_json(s, reg_now_ms(), cfg->min_up);
    pthread_mutex_unlock(&sh->mu);
    return doc;
}

/* A compact row for the stats page. */
static json_t *
page_row(const struct service *s, uint64_t now_ms)
{
    json_t *labels = json_object();
    uint64_t last_ms = 0;
    unsigned up = 0;
    char inst[32];

    for (unsigned i = 0; i < s->ninst; i++) {
        if (s->inst[i].last_ms > last_ms)
            last_ms = s->inst[i].last_ms;
        up += s->inst[i].state == HBD_UP;
    }
    snprintf(inst, sizeof(inst), "%u/%u", up, s->ninst);
    for (unsigned i = 0; i < s->nlabels; i++)
        if (s->labels[i].key && s->labels[i].value)
            json_object_set_new(labels, s->labels[i].key, json_string(s->labels[i].value));
    return json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "name", s->name, "state", hbd_state_name(s->state),
        "instances_up", inst, "silent_s", (json_int_t)((now_ms - last_ms) / 1000), "interval_ms",
        (json_int_t)s->interval_ms, "heartbeats", (json_int_t)s->beats, "labels", labels);
}

json_t *
hbd_registry_page(struct hbd_registry *r, size_t max, size_t *more)
{
    static const enum hbd_state order[] = {HBD_DEAD, HBD_LATE, HBD_NEW, HBD_UP};
    uint64_t now = reg_now_ms();
    json_t *arr = json_array();

    *more = 0;
    /* Worst first, each state's rows by name; a pass per state builds rows only for it. */
    for (size_t k = 0; k < GW_ARRAY_LEN(order); k++) {
        size_t n = 0, cap = 16;
        json_t **v = malloc(cap * sizeof(*v));

        for (int i = 0; v && i < SHARDS; i++) {
            struct shard *sh = &r->shards[i];
            pthread_mutex_lock(&sh->mu);
            for (unsigned b = 0; b < sh->nbuckets; b++)
                for (struct service *s = sh->buckets[b]; s; s = s->next) {
                    if (s->state != order[k])
                        continue;
                    if (json_array_size(arr) + n >= max) {
                        (*more)++;
                        continue;
                    }
                    if (n == cap) {
                        json_t **nv = realloc(v, (cap *= 2) * sizeof(*v));
                        if (!nv)
                            continue;
                        v = nv;
                    }
                    v[n++] = page_row(s, now);
                }
            pthread_mutex_unlock(&sh->mu);
        }
        if (v) {
            qsort(v, n, sizeof(*v), by_name);
            for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, v[i]);
            free(v);
        }
    }
    return arr;
}

void
hbd_registry_each(struct hbd_registry *r, hbd_registry_fn fn, void *arg)
{
    uint64_t now = reg_now_ms();

    for (int i = 0; i < SHARDS; i++) {
        struct shard *sh = &r->shards[i];
        pthread_mutex_lock(&sh->mu);
        for (unsigned b = 0; b < sh->nbuckets; b++)
            for (struct service *s = sh->buckets[b]; s; s = s->next) {
                uint64_t last_ms = 0;
                for (unsigned k = 0; k < s->ninst; k++)
                    if (s->inst[k].last_ms > last_ms)
                        last_ms = s->inst[k].last_ms;
                fn(arg, s->name, s->state, last_ms ? now - last_ms : 0);
            }
        pthread_mutex_unlock(&sh->mu);
    }
}
/* ---- restore at start ---- */

struct restore {
    struct hbd_registry *r;
    const struct hbd_config *cfg;
    uint64_t now_mono;
    int64_t now_wall;
    unsigned services, instances, skipped;
};

static void
restore_labels(struct service *s, const char *text)
{
    json_t *obj = json_loads(text, 0, NULL), *v;
    const char *k;
    size_t n = 0;

    if (!json_is_object(obj) || json_object_size(obj) == 0 ||
        (s->labels = calloc(json_object_size(obj), sizeof(*s->labels))) == NULL) {
        json_decref(obj);
        return;
    }
    json_object_foreach(obj, k, v)
    {
        if (json_is_string(v) && n < HBD_MAX_LABELS) {
            s->labels[n].key = strdup(k);
            s->labels[n].value = strdup(json_string_value(v));
            n++;
        }
    }
    s->nlabels = (unsigned)n;
    json_decref(obj);
}

static void
restore_service(void *arg, const struct gw_store_hb_service *sv)
{
    struct restore *rs = arg;
    struct hbd_registry *r = rs->r;
    uint64_t hash = hash_name(sv->name);
    struct shard *sh = shard_of(r, hash);
    int state = hbd_state_parse(sv->state);
    struct service *s;

    pthread_mutex_lock(&sh->mu);
    if (service_find(sh, hash, sv->name) ||
        (s = service_add(r, sh, hash, sv->name, rs->cfg->max_services)) == NULL) {
        pthread_mutex_unlock(&sh->mu);
        rs->skipped++;
        return;
    }
    set_state(r, s, state > 0 ? (enum hbd_state)state : HBD_UP);
    s->since_wall_ms = sv->since_ms;
    s->interval_ms = sv->interval_ms ? sv->interval_ms : rs->cfg->default_interval_ms;
    s->min_up = sv->min_up;
    restore_labels(s, sv->labels_json);
    s->next_check_ms = 0; /* a service without instances goes at the first sweep */
    rs->services++;
    pthread_mutex_unlock(&sh->mu);
}

/* The silence to give a restored instance so that it keeps its stored state. */
static uint64_t
restored_silence(enum hbd_state st, uint64_t silent, uint64_t interval, unsigned grace)
{
    uint64_t late_after = interval + interval / 2 + 1, dead_after = interval * grace + 1;

    switch (st) {
    case HBD_LATE:
        return GW_MIN(GW_MAX(silent, late_after), dead_after - 1);
    case HBD_DEAD:
        return GW_MAX(silent, dead_after);
    default:
        return 0; /* up (or new): a fresh interval from the restart */
    }
}

static void
restore_instance(void *arg, const struct gw_store_hb_instance *row)
{
    struct restore *rs = arg;
    struct hbd_registry *r = rs->r;
    uint64_t hash = hash_name(row->service), silent;
    struct shard *sh = shard_of(r, hash);
    int state = hbd_state_parse(row->state);
    struct service *s;
    struct instance *in;

    pthread_mutex_lock(&sh->mu);
    if ((s = service_find(sh, hash, row->service)) == NULL ||
        (in = instance_get(s, row->name, rs->cfg->max_instances)) == NULL) {
        pthread_mutex_unlock(&sh->mu);
        rs->skipped++;
        return;
    }
    in->state = state > 0 ? (enum hbd_state)state : HBD_UP;
    in->interval_ms = row->interval_ms ? row->interval_ms : s->interval_ms;
    in->last_wall_ms = row->last_ms;
    in->beats = row->beats;
    gw_strlcpy(in->addr, row->addr, sizeof(in->addr));
    silent = rs->now_wall > row->last_ms ? (uint64_t)(rs->now_wall - row->last_ms) : 0;
    silent = restored_silence(in->state, silent, in->interval_ms, rs->cfg->grace);
    in->last_ms = rs->now_mono - GW_MIN(silent, rs->now_mono);
    s->beats += in->beats;
    update_deadline(s, rs->cfg);
    rs->instances++;
    pthread_mutex_unlock(&sh->mu);
}

int
hbd_registry_restore(struct hbd_registry *r, char *err)
{
    struct restore rs = {r, hbd_cfg(r->h), reg_now_ms(), gw_wall_ms(), 0, 0, 0};
    const struct gw_store_hb_loader l = {restore_service, restore_instance, &rs};

    if (!r->h->store)
        return 0;
    if (gw_store_hb_load(r->h->store, &l, err) == -1)
        return -1;
    GW_LOG_INFO("watch list restored", "services=%u instances=%u skipped=%u", rs.services,
                rs.instances, rs.skipped);
    return 0;
}
