/*
 * store_hb.c -- hbd's tables: heartbeat_events (history) and the watch list (hb_services,
 * hb_instances), their migrations, the statements that write them and the read-back at start.
 */
#include "store_hb.h"

#include <stdlib.h>
#include <string.h>

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

/* The watch list: what hbd must remember across a restart. One row per service, one per
 * instance; written on changes of the set and on state transitions only (never per beat). */
static const char *const watch_migrations[] = {
    "CREATE TABLE hb_services ("
    "  name TEXT PRIMARY KEY,"
    "  state TEXT NOT NULL,"
    "  since_ms INTEGER NOT NULL,"
    "  interval_ms INTEGER NOT NULL,"
    "  min_up INTEGER NOT NULL DEFAULT 0,"
    "  labels TEXT NOT NULL DEFAULT '{}'"
    ");"
    "CREATE TABLE hb_instances ("
    "  service TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  last_ms INTEGER NOT NULL,"
    "  interval_ms INTEGER NOT NULL,"
    "  beats INTEGER NOT NULL DEFAULT 0,"
    "  addr TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY (service, name)"
    ");",
};

enum { UPSERT_SERVICE, UPSERT_INSTANCE, DELETE_SERVICE, DELETE_INSTANCES, DELETE_INSTANCE };

static const char *const watch_statements[] = {
    [UPSERT_SERVICE] =
        "INSERT INTO hb_services(name, state, labels, since_ms, interval_ms, min_up) "
        "VALUES (?2, ?3, ?4, ?1, ?8, ?9) ON CONFLICT(name) DO UPDATE SET "
        "state = excluded.state, labels = excluded.labels, since_ms = "
        "excluded.since_ms, interval_ms = excluded.interval_ms, min_up = "
        "excluded.min_up",
    [UPSERT_INSTANCE] = "INSERT INTO hb_instances(service, name, state, addr, last_ms, "
                        "interval_ms, beats) VALUES (?2, ?3, ?4, ?5, ?1, ?8, ?9) "
                        "ON CONFLICT(service, name) DO UPDATE SET state = excluded.state, "
                        "addr = excluded.addr, last_ms = excluded.last_ms, interval_ms = "
                        "excluded.interval_ms, beats = excluded.beats",
    [DELETE_SERVICE] = "DELETE FROM hb_services WHERE name = ?2",
    [DELETE_INSTANCES] = "DELETE FROM hb_instances WHERE service = ?2",
    [DELETE_INSTANCE] = "DELETE FROM hb_instances WHERE service = ?2 AND name = ?3",
};

const struct gw_store_table gw_store_hb_watch_table = {
    "hb_watch",
    watch_migrations,
    GW_ARRAY_LEN(watch_migrations),
    watch_statements,
    GW_ARRAY_LEN(watch_statements),
    NULL,
};

int
gw_store_hb_put_service(struct gw_store *s, const struct gw_store_hb_service *sv)
{
    const struct gw_store_row row = {sv->since_ms,
                                     {sv->name, sv->state, sv->labels_json},
                                     {(int64_t)sv->interval_ms, (int64_t)sv->min_up}};

    return gw_store_put(s, &gw_store_hb_watch_table, UPSERT_SERVICE, &row);
}

int
gw_store_hb_put_instance(struct gw_store *s, const struct gw_store_hb_instance *in)
{
    const struct gw_store_row row = {in->last_ms,
                                     {in->service, in->name, in->state, in->addr},
                                     {(int64_t)in->interval_ms, (int64_t)in->beats}};

    return gw_store_put(s, &gw_store_hb_watch_table, UPSERT_INSTANCE, &row);
}

int
gw_store_hb_delete(struct gw_store *s, const char *service, const char *instance)
{
    const struct gw_store_row row = {0, {service, instance}, {0}};

    if (instance)
        return gw_store_put(s, &gw_store_hb_watch_table, DELETE_INSTANCE, &row);
    if (gw_store_put(s, &gw_store_hb_watch_table, DELETE_INSTANCES, &row) == -1)
        return -1;
    return gw_store_put(s, &gw_store_hb_watch_table, DELETE_SERVICE, &row);
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? (const char *)t : "";
}

static int
load_rows(sqlite3 *db, void *arg, char *err)
{
    const struct gw_store_hb_loader *l = arg;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(db,
                           "SELECT name, state, labels, since_ms, interval_ms, min_up "
                           "FROM hb_services ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK)
        return gw_err(err, "reading hb_services: %s", sqlite3_errmsg(db));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct gw_store_hb_service sv = {col_text(st, 0),
                                         col_text(st, 1),
                                         col_text(st, 2),
                                         sqlite3_column_int64(st, 3),
                                         (uint64_t)sqlite3_column_int64(st, 4),
                                         (unsigned)sqlite3_column_int(st, 5)};
        l->on_service(l->arg, &sv);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return gw_err(err, "reading hb_services: %s", sqlite3_errmsg(db));
    if (sqlite3_prepare_v2(db,
                           "SELECT service, name, state, addr, last_ms, interval_ms, beats "
                           "FROM hb_instances ORDER BY service, name",
                           -1, &st, NULL) != SQLITE_OK)
        return gw_err(err, "reading hb_instances: %s", sqlite3_errmsg(db));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct gw_store_hb_instance in = {col_text(st, 0),
                                          col_text(st, 1),
                                          col_text(st, 2),
                                          col_text(st, 3),
                                          sqlite3_column_int64(st, 4),
                                          (uint64_t)sqlite3_column_int64(st, 5),
                                          (uint64_t)sqlite3_column_int64(st, 6)};
        l->on_instance(l->arg, &in);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return gw_err(err, "reading hb_instances: %s", sqlite3_errmsg(db));
    return 0;
}

int
gw_store_hb_load(struct gw_store *s, const struct gw_store_hb_loader *l, char *err)
{
    return gw_store_read(s, load_rows, (void *)l, err);
}
