/*
 * store.h -- the state database (<state_dir>/gwkit.db): SQLite in WAL mode, written by one
 * bounded, batched writer thread; the tables come from the programs' table modules.
 *
 * A table module (struct gw_store_table) is a program's table: its name, its own migrations and
 * the statements that write it. lib/store_hb.c is hbd's heartbeat_events; wsgwd's backends and
 * circuit_events come the same way. A new table is a new module: this one does not change.
 *
 * Schema versions: PRAGMA user_version is the layout of the file itself (GW_STORE_VERSION: a
 * schema_versions(name, version) table holding each table module's version). Each module is
 * migrated forward on open, one step per transaction, from the version recorded there. Files
 * from before the split (user_version 1 and 2, one shared layout) are taken over as they are:
 * their tables are recorded at the module versions they already have (backends 1,
 * circuit_events 1 or 2, heartbeat_events 1 or 2), so a module's first steps must be the DDL of
 * that layout (see store.c). A file or a table from a newer build is refused.
 *
 * Network threads never touch SQLite: writes are queued (bounded, non-blocking: a full queue
 * drops the row and counts it; a failing disk keeps rows queued for retry, see
 * enum gw_store_fault) and one writer thread applies them in transactions, a batch of
 * up to 1024 queued writes per transaction. Rows older than history_days are pruned from every
 * module that has a prune statement, by the writer thread, once at open and every hour. Readers
 * (the sqlite3 CLI, gwctl) may read while the writer writes (WAL).
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

/* The layout version (PRAGMA user_version) this build writes. */
#define GW_STORE_VERSION 3

/* Default queue capacity, in rows (the queue also holds at most 32 MiB). */
#define GW_STORE_QUEUE_MAX 65536

/* Values of one queued write. Every statement numbers its parameters the same way: ?1 is
 * ts_ms, ?2..?7 the texts in order, ?8..?10 the numbers; a statement binds what it names. */
#define GW_STORE_TEXTS 6
#define GW_STORE_NUMS 3
struct gw_store_row {
    int64_t ts_ms;
    const char *text[GW_STORE_TEXTS]; /* copied at queueing, cut to 1024 bytes; NULL = "" */
    int64_t num[GW_STORE_NUMS];
};

/* A program's table: declared once (static const), it outlives the store. */
struct gw_store_table {
    const char *name;              /* its row in schema_versions, e.g. "heartbeat_events" */
    const char *const *migrations; /* step i takes the table from version i to i + 1 */
    int version;                   /* the number of steps: the version this build writes */
    const char *const *statements; /* written through gw_store_put(..., index, ...) */
    int nstatements;               /* at most GW_STORE_MAX_STATEMENTS */
    const char *prune;             /* deletes rows with ts_ms < ?1, or NULL: kept forever */
};

#define GW_STORE_MAX_TABLES 16
#define GW_STORE_MAX_STATEMENTS 8

struct gw_store;

/* Opens (creating the file and its directory, mode 0755), migrates the layout and each table of
 * tables (NULL-terminated, at most GW_STORE_MAX_TABLES), prepares their statements, then starts
 * the writer thread. history_days <= 0 keeps rows forever. NULL with err naming the path (a
 * newer file: "/var/lib/gwkit/gwkit.db: database schema version 7 is newer than this build
 * (3)"; a newer table: "...: table heartbeat_events schema version 5 is newer than this build
 * (2)"). Two processes may open the same file at once. */
struct gw_store *gw_store_open(const char *path, const struct gw_store_table *const *tables,
                               int history_days, char *err);

/* Writes everything queued, stops the writer, closes. While writes fail, one last attempt is
 * made and what it cannot write is dropped (counted). Call when no other thread uses s. */
void gw_store_close(struct gw_store *s);

/* Queues statement `statement` of table (one of those given to gw_store_open) with row's
 * values. Any thread, never blocks on the disk. Returns 0, or -1 when the queue is full (the
 * row is dropped and counted). Asking for a table or statement the store was not opened with
 * is a programming error and aborts. */
int gw_store_put(struct gw_store *s, const struct gw_store_table *table, int statement,
                 const struct gw_store_row *row);

/* Blocks until everything queued before the call is committed (for tests, shutdown and
 * `flush` commands), or writes are failing (it does not wait for a retry to succeed). Any
 * thread. Returns 0, or -1 when writes are failing ("writes failing (disk full): ...") or a
 * write failed since the previous gw_store_sync (err holds the first such failure). */
int gw_store_sync(struct gw_store *s, char *err);

/* Runs fn(db, arg, err) on a read-only connection of its own to the same file, opened for the
 * call and closed after it: it sees what is committed (not what is still queued), and works
 * while writes fail. A table module reads its rows back this way (hbd's watch list at start).
 * Any thread. Returns fn's result (0 or -1 with err), or -1 when the file cannot be read. */
int gw_store_read(struct gw_store *s, int (*fn)(sqlite3 *db, void *arg, char *err), void *arg,
                  char *err);

/* Why writes fail. A fault other than GW_STORE_FAULT_OTHER may pass by itself (space freed, the
 * file made writable, the lock released): the batch is kept at the head of the queue and
 * retried (100 ms, doubling to 5 s) until it goes in; meanwhile new rows queue up to the bound
 * and past it are dropped (counted). GW_STORE_FAULT_OTHER (a constraint, a bad value) would
 * fail forever: that row is counted and dropped, the rest of its batch goes in. */
enum gw_store_fault {
    GW_STORE_FAULT_NONE,
    GW_STORE_FAULT_DISK_FULL, /* SQLITE_FULL, ENOSPC, EDQUOT */
    GW_STORE_FAULT_READ_ONLY, /* SQLITE_READONLY, EROFS, EACCES, EPERM */
    GW_STORE_FAULT_LOCKED,    /* SQLITE_BUSY past busy_timeout, SQLITE_LOCKED */
    GW_STORE_FAULT_IO,        /* other I/O errors */
    GW_STORE_FAULT_OTHER,
    GW_STORE_FAULTS
};
/* "disk_full", "read_only", "locked", "io", "other" (metric labels); "none" for NONE. */
const char *gw_store_fault_label(enum gw_store_fault f);
/* "disk full", "read-only", "locked", "I/O error", "error" (log lines, replies). */
const char *gw_store_fault_text(enum gw_store_fault f);

struct gw_store_stats {
    uint64_t written; /* rows written */
    uint64_t dropped; /* rows dropped: queue full, or still failing at close */
    uint64_t errors;  /* failed write attempts (a transaction retried, or one row dropped) */
    uint64_t errors_by[GW_STORE_FAULTS]; /* the same, by fault */
    uint64_t retries;                    /* batches put back for retry */
    uint64_t episodes;                   /* times writes started failing */
    uint64_t pruned;                     /* rows deleted by retention */
    uint64_t queued;                     /* now waiting */
    int failing;                         /* 1 from a transient fault until a write goes in again */
    enum gw_store_fault fault;           /* of the current (or last) episode */
    int64_t fault_since_ms;              /* wall clock: when the current (or last) episode began */
    char why[160];                       /* SQLite's message for the last failure */
};
void gw_store_stats(struct gw_store *s, struct gw_store_stats *st);

/* Changes the queue capacity (default GW_STORE_QUEUE_MAX rows); any thread. */
void gw_store_set_queue_max(struct gw_store *s, size_t max_rows);

/* Opens the database read-only for inspection (gwctl when a daemon is down): busy timeout set,
 * no migration. Refuses a missing file, a file that is not a gwkit database, and any layout
 * version other than GW_STORE_VERSION (older: "start a daemon once to migrate it"). NULL with
 * err naming the path. Close with sqlite3_close().
 *
 * WAL and read-only access: a reader needs the -shm file, or the right to create it in the
 * directory. The writer keeps -wal and -shm after closing, so a user who may read those files
 * can read the database while a daemon runs or after it stopped. When neither file exists and
 * the directory is not writable (a copied database, say), the file is opened immutable:
 * exact, since without a -wal file every commit is in the main file. */
sqlite3 *gw_store_open_readonly(const char *path, char *err);

/* Migrates an open handle: the layout, then each table (NULL-terminated; NULL: none). 0 or -1
 * with err. Exposed for tests. */
int gw_store_migrate(sqlite3 *db, const struct gw_store_table *const *tables, char *err);

/* The version of table name recorded in an open handle, 0 when none. */
int gw_store_table_version(sqlite3 *db, const char *name);

#endif
