/*
 * store.h -- the state database (<state_dir>/gwkit.db): SQLite in WAL mode.
 *
 * Tables (schema version in PRAGMA user_version, migrated forward on open; see store.c for
 * each version's DDL and share/schema.sql for the current one):
 *
 *   backends(name PK, host, port, source 'static'|'discovery'|'ctl', state, ttl_s,
 *            first_seen_ms, last_seen_ms, expires_ms)
 *   circuit_events(id PK, ts_ms, backend, from_state, to_state, reason)
 *   heartbeat_events(id PK, ts_ms, service, instance, from_state, to_state, detail)
 *
 * Network threads never touch SQLite: writes are queued (bounded, non-blocking: a full queue
 * drops the event and counts it) and one writer thread applies them in transactions, a batch
 * of up to 1024 queued writes per transaction. Events older than history_days are pruned by
 * the writer thread once at open and every hour. Readers (the sqlite3 CLI, gwctl) may read
 * while the writer writes (WAL).
 *
 * Connection settings: journal_mode=WAL, synchronous=NORMAL (a power loss may lose the last
 * transactions, never corrupt the file), busy_timeout 5 s. The -wal and -shm files are kept
 * after the last close (SQLITE_FCNTL_PERSIST_WAL) so that read-only users can open the file.
 * Strings are stored cut to 1024 bytes (at a UTF-8 boundary).
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "util.h"

/* The schema version this build writes. */
#define GW_STORE_VERSION 2

/* Default queue capacity, in events (the queue also holds at most 32 MiB). */
#define GW_STORE_QUEUE_MAX 65536

struct gw_store;

/* Opens (creating the file and its directory, mode 0755) and migrates the database, then
 * starts the writer thread. history_days <= 0 keeps events forever. NULL with err naming the
 * path (a database from a newer version is refused: "/var/lib/gwkit/gwkit.db: database schema
 * version 7 is newer than this build (2)"). Two processes may open the same file at once. */
struct gw_store *gw_store_open(const char *path, int history_days, char *err);

/* Writes everything queued, stops the writer, closes. Call when no other thread uses s. */
void gw_store_close(struct gw_store *s);

/* Enqueue writes; any thread, never blocks on the disk. Strings are copied; NULL means "".
 * Return 0, or -1 when the queue is full (the event is dropped and counted). An upsert keeps
 * first_seen_ms of an existing row, sets last_seen_ms = ts_ms and expires_ms = ts_ms + ttl
 * (0 when ttl_s <= 0). */
int gw_store_heartbeat_event(struct gw_store *s, int64_t ts_ms, const char *service,
                             const char *instance, const char *from_state, const char *to_state,
                             const char *detail);
int gw_store_circuit_event(struct gw_store *s, int64_t ts_ms, const char *backend,
                           const char *from_state, const char *to_state, const char *reason);
int gw_store_backend_upsert(struct gw_store *s, int64_t ts_ms, const char *name, const char *host,
                            int port, const char *source, const char *state, int ttl_s);
int gw_store_backend_remove(struct gw_store *s, const char *name);

/* Blocks until everything queued before the call is committed (for tests, shutdown and
 * `flush` commands). Any thread. Returns 0, or -1 if a write failed since the previous
 * gw_store_sync (err holds the first such failure; failed writes are counted and dropped). */
int gw_store_sync(struct gw_store *s, char *err);

struct gw_store_stats {
    uint64_t written; /* rows written */
    uint64_t dropped; /* events dropped on a full queue */
    uint64_t errors;  /* failed statements */
    uint64_t pruned;  /* rows deleted by retention */
    uint64_t queued;  /* now waiting */
};
void gw_store_stats(struct gw_store *s, struct gw_store_stats *st);

/* Changes the queue capacity (default GW_STORE_QUEUE_MAX events); any thread. */
void gw_store_set_queue_max(struct gw_store *s, size_t max_events);

/* Opens the database read-only for inspection (gwctl when a daemon is down): busy timeout set,
 * no migration. Refuses a missing file, a file that is not a gwkit database, and any schema
 * version other than GW_STORE_VERSION (older: "start a daemon once to migrate it"). NULL with
 * err naming the path. Close with sqlite3_close().
 *
 * WAL and read-only access: a reader needs the -shm file, or the right to create it in the
 * directory. The writer keeps -wal and -shm after closing, so a user who may read those files
 * can read the database while a daemon runs or after it stopped. When neither file exists and
 * the directory is not writable (a copied database, say), the file is opened immutable:
 * exact, since without a -wal file every commit is in the main file. */
sqlite3 *gw_store_open_readonly(const char *path, char *err);

/* Migrates an open handle to GW_STORE_VERSION (exposed for tests). 0 or -1 with err. */
int gw_store_migrate(sqlite3 *db, char *err);

#endif
