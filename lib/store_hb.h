/*
 * store_hb.h -- hbd's tables in the state database: heartbeat_events, one row per state change
 * of a service or an instance, and the watch list that a restart reads back.
 *
 *   heartbeat_events(id PK, ts_ms, service, from_state, to_state, detail, instance)
 *     indexes on ts_ms and on (service, ts_ms); pruned after history_days
 *   hb_services(name PK, state, since_ms, interval_ms, min_up, labels JSON)     module hb_watch
 *   hb_instances(service, name, state, last_ms, interval_ms, beats, addr; PK (service, name))
 *     never pruned: a row goes when hbd forgets the service or instance
 */
#ifndef GW_STORE_HB_H
#define GW_STORE_HB_H

#include "store.h"

extern const struct gw_store_table gw_store_hb_table;

/* Queues one state change (gw_store_put: any thread, never blocks; -1 when the queue is full).
 * instance "" (or NULL) for the service itself; strings are copied. */
int gw_store_hb_event(struct gw_store *s, int64_t ts_ms, const char *service, const char *instance,
                      const char *from_state, const char *to_state, const char *detail);

/* The watch list (module "hb_watch"). Times are wall-clock milliseconds. */
extern const struct gw_store_table gw_store_hb_watch_table;

struct gw_store_hb_service {
    const char *name, *state, *labels_json; /* labels: a JSON object */
    int64_t since_ms;                       /* in this state since */
    uint64_t interval_ms;
    unsigned min_up; /* 0: the configured default */
};

struct gw_store_hb_instance {
    const char *service, *name, *state, *addr; /* name "" for the unnamed instance */
    int64_t last_ms;                           /* last heartbeat known when written */
    uint64_t interval_ms, beats;
};

/* Queue an upsert of a service's or an instance's row (gw_store_put: any thread, never blocks,
 * -1 when dropped). Strings are copied. */
int gw_store_hb_put_service(struct gw_store *s, const struct gw_store_hb_service *sv);
int gw_store_hb_put_instance(struct gw_store *s, const struct gw_store_hb_instance *in);
/* Queues the removal of one instance, or (instance NULL) of a service and all its instances. */
int gw_store_hb_delete(struct gw_store *s, const char *service, const char *instance);

/* Reads the watch list back: every service (by name), then every instance (by service, name).
 * The strings passed to the callbacks live until the callback returns. Runs on the store's
 * writer thread (gw_store_read) while the caller waits; 0 or -1 with err. */
struct gw_store_hb_loader {
    void (*on_service)(void *arg, const struct gw_store_hb_service *sv);
    void (*on_instance)(void *arg, const struct gw_store_hb_instance *in);
    void *arg;
};
int gw_store_hb_load(struct gw_store *s, const struct gw_store_hb_loader *l, char *err);

#endif
