-- schema.sql -- the gwkit state database (<state_dir>/gwkit.db), layout version 3.
--
-- For operators: this is what the daemons create and migrate to on open (each table's module
-- holds its migration steps: lib/store_hb.c for heartbeat_events; schema_versions records each
-- table's version; this file is their result). A daemon creates only the tables it writes.
-- Do not load it into a live database.
-- Creating a database by hand: sqlite3 gwkit.db < schema.sql
--
-- Times are milliseconds since the epoch (UTC). Events older than history_days are pruned.
-- Read it while daemons run: sqlite3 -readonly /var/lib/gwkit/gwkit.db 'SELECT ...'

PRAGMA journal_mode = WAL;

BEGIN;

-- Backends wsgwd knows: static ones from the config, announced ones (discovery, expire at
-- expires_ms; 0 = never), and those added with `gwctl backends add`.
CREATE TABLE backends (
    name TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    source TEXT NOT NULL DEFAULT 'static', -- 'static' | 'discovery' | 'ctl'
    state TEXT NOT NULL DEFAULT '',
    ttl_s INTEGER NOT NULL DEFAULT 0,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL DEFAULT 0
);

-- One row per circuit-breaker transition (closed, open, half_open).
CREATE TABLE circuit_events (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    backend TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);

-- One row per heartbeat state change of a service or a named instance (new, up, late, dead,
-- forgotten). `instance` came in version 2, hence its place at the end. detail (version 3 on;
-- '' before): JSON, {"from_since": RFC 3339, "from_for_ms": how long the previous state
-- lasted, "last_beat": RFC 3339, "silent_ms": since that beat}, each when known.
CREATE TABLE heartbeat_events (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    service TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    instance TEXT NOT NULL DEFAULT ''
);

-- hbd's watch list (module hb_watch), read back at start so that a restart forgets no one:
-- one row per service and per instance, written on changes of the set and on transitions.
CREATE TABLE hb_services (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    interval_ms INTEGER NOT NULL,
    min_up INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '{}'  -- a JSON object
);
CREATE TABLE hb_instances (
    service TEXT NOT NULL,
    name TEXT NOT NULL,                -- '' for the unnamed instance
    state TEXT NOT NULL,
    last_ms INTEGER NOT NULL,          -- last heartbeat known when the row was written
    interval_ms INTEGER NOT NULL,
    beats INTEGER NOT NULL DEFAULT 0,
    addr TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (service, name)
);

CREATE INDEX circuit_events_ts ON circuit_events(ts_ms);
CREATE INDEX circuit_events_backend_ts ON circuit_events(backend, ts_ms);
CREATE INDEX heartbeat_events_ts ON heartbeat_events(ts_ms);
CREATE INDEX heartbeat_events_service_ts ON heartbeat_events(service, ts_ms);

-- heartbeat_events for people (version 3): UTC times, and detail's JSON (how long the
-- previous state lasted, the latest heartbeat) in columns.
--   sqlite3 -readonly gwkit.db 'SELECT * FROM heartbeat_events_v ORDER BY id DESC LIMIT 20'
CREATE VIEW heartbeat_events_v AS SELECT id,
  strftime('%Y-%m-%d %H:%M:%S', ts_ms / 1000, 'unixepoch') || printf('.%03dZ', ts_ms % 1000) AS time,
  service, instance, from_state, to_state,
  CASE WHEN json_valid(detail) THEN (
    SELECT CASE WHEN ms IS NULL THEN NULL
      WHEN ms < 60000 THEN printf('%.1f s', ms / 1000.0)
      WHEN ms < 3600000 THEN printf('%d m %d s', ms / 60000, ms / 1000 % 60)
      WHEN ms < 86400000 THEN printf('%d h %d m', ms / 3600000, ms / 60000 % 60)
      ELSE printf('%d d %d h', ms / 86400000, ms / 3600000 % 24) END
    FROM (SELECT json_extract(detail, '$.from_for_ms') AS ms)) END AS lasted,
  CASE WHEN json_valid(detail) THEN json_extract(detail, '$.last_beat') END AS last_beat,
  detail
FROM heartbeat_events;

-- The version of each table's own schema (its module's migration count).
CREATE TABLE schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL);
INSERT INTO schema_versions VALUES ('backends', 1), ('circuit_events', 2),
    ('heartbeat_events', 3), ('hb_watch', 1);

PRAGMA user_version = 3;

COMMIT;
