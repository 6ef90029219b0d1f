/*
 * store_hb.h -- hbd's table in the state database: heartbeat_events, one row per state change
 * of a service or an instance.
 *
 *   heartbeat_events(id PK, ts_ms, service, from_state, to_state, detail, instance)
 *     indexes on ts_ms and on (service, ts_ms); pruned after history_days
 */
#ifndef GW_STORE_HB_H
#define GW_STORE_HB_H

#include "store.h"

extern const struct gw_store_table gw_store_hb_table;

/* Queues one state change (gw_store_put: any thread, never blocks; -1 when the queue is full).
 * instance "" (or NULL) for the service itself; strings are copied. */
int gw_store_hb_event(struct gw_store *s, int64_t ts_ms, const char *service, const char *instance,
                      const char *from_state, const char *to_state, const char *detail);

#endif
