/*
 * store_hb.c -- the heartbeat_events table: its migrations and the statement that writes it.
 */
#include "store_hb.h"

/* Step i takes the table from version i to i + 1. Versions 1 and 2 are the table as the shared
 * layout of user_version 1 and 2 had it. Append only; never edit a released step. */
static const char *const migrations[] = {
    "CREATE TABLE heartbeat_events ("
    "  id INTEGER PRIMARY KEY,"
    "  ts_ms INTEGER NOT NULL,"
    "  service TEXT NOT NULL,"
    "  from_state TEXT NOT NULL,"
    "  to_state TEXT NOT NULL,"
    "  detail TEXT NOT NULL DEFAULT ''"
    ");",
    /* 1 -> 2: service instances; indexes for retention and per-service history. */
    "ALTER TABLE heartbeat_events ADD COLUMN instance TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX heartbeat_events_ts ON heartbeat_events(ts_ms);"
    "CREATE INDEX heartbeat_events_service_ts ON heartbeat_events(service, ts_ms);",
    /* 2 -> 3: heartbeat_events_v, the table for people: UTC times, and detail's JSON (how long
     * the previous state lasted, the latest heartbeat) in columns; older rows' plain detail
     * leaves them NULL. */
    "CREATE VIEW heartbeat_events_v AS SELECT id,"
    "  strftime('%Y-%m-%d %H:%M:%S', ts_ms / 1000, 'unixepoch')"
    "    || printf('.%03dZ', ts_ms % 1000) AS time,"
    "  service, instance, from_state, to_state,"
    "  CASE WHEN json_valid(detail) THEN ("
    "    SELECT CASE WHEN ms IS NULL THEN NULL"
    "      WHEN ms < 60000 THEN printf('%.1f s', ms / 1000.0)"
    "      WHEN ms < 3600000 THEN printf('%d m %d s', ms / 60000, ms / 1000 % 60)"
    "      WHEN ms < 86400000 THEN printf('%d h %d m', ms / 3600000, ms / 60000 % 60)"
    "      ELSE printf('%d d %d h', ms / 86400000, ms / 3600000 % 24) END"
    "    FROM (SELECT json_extract(detail, '$.from_for_ms') AS ms)) END AS lasted,"
    "  CASE WHEN json_valid(detail) THEN json_extract(detail, '$.last_beat') END AS last_beat,"
    "  detail"
    " FROM heartbeat_events;",
};

enum { INSERT_EVENT };

static const char *const statements[] = {
    [INSERT_EVENT] = "INSERT INTO heartbeat_events(ts_ms, service, instance, from_state, "
                     "to_state, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
};

const struct gw_store_table gw_store_hb_table = {
    "heartbeat_events",       migrations,
    GW_ARRAY_LEN(migrations), statements,
    GW_ARRAY_LEN(statements), "DELETE FROM heartbeat_events WHERE ts_ms < ?1",
};

int
gw_store_hb_event(struct gw_store *s, int64_t ts_ms, const char *service, const char *instance,
                  const char *from_state, const char *to_state, const char *detail)
{
    const struct gw_store_row row = {ts_ms, {service, instance, from_state, to_state, detail}, {0}};

    return gw_store_put(s, &gw_store_hb_table, INSERT_EVENT, &row);
}
