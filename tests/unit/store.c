/*
 * store.c -- tests for lib/store.c: the file's layout and each table module's migrations
 * (files of the shared layout taken over as they are), the writer queue, pruning, and readers
 * next to the writer. The modules: hbd's heartbeat_events and a test table, "notes".
 */
#include "store.h"
#include "store_hb.h"
#include "../tap.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/gwstore.XXXXXX";

/* A table module as a program would write one: an insert, an upsert using the numbered
 * parameters, a delete, and retention. Version 2 adds a column. */
static const char *const notes_migrations[] = {
    "CREATE TABLE notes (name TEXT PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL,"
    " first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL DEFAULT 0, ts_ms INTEGER NOT NULL DEFAULT 0);",
    "ALTER TABLE notes ADD COLUMN tag TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX notes_ts ON notes(ts_ms);",
};

enum { NOTE_UPSERT, NOTE_DELETE };

static const char *const notes_statements[] = {
    [NOTE_UPSERT] = "INSERT INTO notes(last_seen_ms, name, host, tag, port, expires_ms, "
                    "first_seen_ms, ts_ms) VALUES (?1, ?2, ?3, ?4, ?8, ?9, ?1, ?1) "
                    "ON CONFLICT(name) DO UPDATE SET host = excluded.host, port = excluded.port, "
                    "tag = excluded.tag, last_seen_ms = excluded.last_seen_ms, "
                    "expires_ms = excluded.expires_ms, ts_ms = excluded.ts_ms",
    [NOTE_DELETE] = "DELETE FROM notes WHERE name = ?2",
};

static const struct gw_store_table notes = {
    "notes", notes_migrations, 2, notes_statements, 2, "DELETE FROM notes WHERE ts_ms < ?1",
};
/* The same module as an older build had it: version 1 only. */
static const struct gw_store_table notes_v1 = {
    "notes", notes_migrations, 1, notes_statements, 0, NULL,
};

static const struct gw_store_table *const both[] = {&gw_store_hb_table, &notes, NULL};
static const struct gw_store_table *const hb_only[] = {&gw_store_hb_table, NULL};

static int
note(struct gw_store *s, int64_t ts, const char *name, const char *host, int port, const char *tag,
     int64_t expires)
{
    const struct gw_store_row row = {ts, {name, host, tag}, {port, expires}};

    return gw_store_put(s, &notes, NOTE_UPSERT, &row);
}

static int
note_delete(struct gw_store *s, const char *name)
{
    const struct gw_store_row row = {0, {name}, {0}};

    return gw_store_put(s, &notes, NOTE_DELETE, &row);
}

static const char *
path_in(const char *name, char *buf)
{
    snprintf(buf, 512, "%s/%s", tmpdir, name);
    return buf;
}

static sqlite3 *
raw_open(const char *path)
{
    sqlite3 *db = NULL;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        diag("open %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static int
exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK)
        diag("%s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
    return rc == SQLITE_OK;
}

/* First column of the first row as an integer; -1 on error or no row. */
static long long
q_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    long long v = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        diag("%s: %s", sql, sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static const char *
q_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
    sqlite3_stmt *st;

    buf[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return buf;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        gw_strlcpy(buf, (const char *)sqlite3_column_text(st, 0), len);
    sqlite3_finalize(st);
    return buf;
}

/* The schema's shape: every table's columns (name, type, not null, default, pk) and every
 * index's columns, one line each, sorted. */
static const char *
schema_sig(sqlite3 *db, char *buf, size_t len)
{
    static const char sql[] =
        "SELECT group_concat(line, char(10)) FROM ("
        " SELECT m.name || '.' || p.name || ' ' || p.type || ' ' || p.\"notnull\" || ' ' ||"
        "   ifnull(p.dflt_value, '-') || ' ' || p.pk AS line"
        "   FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'"
        " UNION ALL"
        " SELECT 'index ' || m.name || ' on ' || m.tbl_name || '(' || i.name || ')'"
        "   FROM sqlite_master m, pragma_index_info(m.name) i WHERE m.type = 'index'"
        " ORDER BY 1)";

    return q_text(db, sql, buf, len);
}

/* The same for one table and its indexes. */
static const char *
table_sig(sqlite3 *db, const char *table, char *buf, size_t len)
{
    char sql[1024];

    snprintf(sql, sizeof(sql),
             "SELECT group_concat(line, char(10)) FROM ("
             " SELECT p.name || ' ' || p.type || ' ' || p.\"notnull\" || ' ' ||"
             "   ifnull(p.dflt_value, '-') || ' ' || p.pk AS line FROM pragma_table_info('%s') p"
             " UNION ALL"
             " SELECT 'index ' || m.name || '(' || i.name || ')'"
             "   FROM sqlite_master m, pragma_index_info(m.name) i"
             "   WHERE m.type = 'index' AND m.tbl_name = '%s'"
             " ORDER BY 1)",
             table, table);
    return q_text(db, sql, buf, len);
}

static void
test_fresh(void)
{
    char path[512], wal[600], buf[256], err[GW_ERR_LEN] = "";
    struct gw_store *s;
    sqlite3 *db;

    s = gw_store_open(path_in("a/b/gwkit.db", path), both, 30, err);
    ok(s != NULL, "fresh database created in a new directory (%s)", err);
    gw_store_close(s);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    ok(access(wal, F_OK) == 0, "-shm kept after close, for read-only users");
    if ((db = raw_open(path)) == NULL)
        return;
    is(q_int(db, "PRAGMA user_version"), GW_STORE_VERSION, "fresh database at layout version 3");
    is_str(q_text(db, "PRAGMA journal_mode", buf, sizeof(buf)), "wal", "journal mode is wal");
    is(q_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                 "('schema_versions', 'heartbeat_events', 'notes')"),
       3, "the versions table and one table per module");
    is(q_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"), 3,
       "no table of a module it was not opened with");
    is(gw_store_table_version(db, "heartbeat_events"), 3, "heartbeat_events at its version 3");
    is(gw_store_table_version(db, "notes"), 2, "notes at its version 2");
    is(gw_store_table_version(db, "nothing"), 0, "an unknown table: version 0");
    is(q_int(db, "SELECT count(*) FROM pragma_table_info('heartbeat_events') "
                 "WHERE name = 'instance'"),
       1, "heartbeat_events has the instance column");
    is(q_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                 "('notes_ts', 'heartbeat_events_ts', 'heartbeat_events_service_ts')"),
       3, "indexes of both modules created");
    sqlite3_close(db);
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *p;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    p = calloc(1, (size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

/* share/schema.sql must describe what the migrations build: a file made from it opens without
 * a migration, and its heartbeat_events is what lib/store_hb.c's steps make. Tests run from
 * the source root. */
static void
test_schema_file(void)
{
    char path[512], path2[512], before[4096], after[4096], want[4096], got[4096];
    char err[GW_ERR_LEN] = "";
    char *sql = slurp("share/schema.sql");
    struct gw_store *s;
    sqlite3 *db;

    ok(sql != NULL, "share/schema.sql readable");
    if (!sql || (db = raw_open(path_in("fromfile.db", path))) == NULL) {
        free(sql);
        return;
    }
    ok(exec_ok(db, sql), "share/schema.sql loads into an empty database");
    schema_sig(db, before, sizeof(before));
    table_sig(db, "heartbeat_events", got, sizeof(got));
    is(q_int(db, "PRAGMA user_version"), GW_STORE_VERSION, "schema.sql sets user_version 3");
    is(gw_store_table_version(db, "heartbeat_events"), gw_store_hb_table.version,
       "schema.sql records heartbeat_events at the module's version");
    sqlite3_close(db);
    free(sql);
    s = gw_store_open(path_in("migrated.db", path2), hb_only, 0, err);
    gw_store_close(s);
    if ((db = raw_open(path2)) == NULL)
        return;
    table_sig(db, "heartbeat_events", want, sizeof(want));
    sqlite3_close(db);
    ok(want[0] && strcmp(got, want) == 0, "schema.sql's heartbeat_events matches its migrations");
    if (strcmp(got, want) != 0)
        diag("schema.sql:\n%s\nmigrations:\n%s", got, want);
    s = gw_store_open(path, hb_only, 0, err);
    ok(s != NULL, "a database made from schema.sql opens (%s)", err);
    gw_store_close(s);
    db = raw_open(path);
    ok(strcmp(schema_sig(db, after, sizeof(after)), before) == 0, "and needs no migration");
    sqlite3_close(db);
}

static const char v1_ddl[] =
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE backends (name TEXT PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL,"
    " source TEXT NOT NULL DEFAULT 'static', state TEXT NOT NULL DEFAULT '',"
    " ttl_s INTEGER NOT NULL DEFAULT 0, first_seen_ms INTEGER NOT NULL,"
    " last_seen_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE circuit_events (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL,"
    " backend TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,"
    " reason TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE heartbeat_events (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL,"
    " service TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,"
    " detail TEXT NOT NULL DEFAULT '');"
    "INSERT INTO backends VALUES ('chat-1', '127.0.0.1', 7001, 'static', 'up', 0, 1, 2, 0);"
    "INSERT INTO circuit_events(ts_ms, backend, from_state, to_state, reason)"
    " VALUES (10, 'chat-1', 'closed', 'open', 'connect failed');"
    "INSERT INTO heartbeat_events(ts_ms, service, from_state, to_state, detail)"
    " VALUES (20, 'billing', 'up', 'late', ''), (21, 'billing', 'late', 'dead', 'x');"
    "PRAGMA user_version = 1;";

/* What user_version 2 added to the shared layout. */
static const char v2_step[] = "ALTER TABLE heartbeat_events ADD COLUMN instance TEXT NOT NULL "
                              "DEFAULT '';"
                              "CREATE INDEX circuit_events_ts ON circuit_events(ts_ms);"
                              "CREATE INDEX circuit_events_backend_ts ON circuit_events(backend, "
                              "ts_ms);"
                              "CREATE INDEX heartbeat_events_ts ON heartbeat_events(ts_ms);"
                              "CREATE INDEX heartbeat_events_service_ts ON "
                              "heartbeat_events(service, ts_ms);"
                              "PRAGMA user_version = 2;";

static void
test_migrate_v1(void)
{
    char path[512], buf[64], err[GW_ERR_LEN] = "";
    struct gw_store *s;
    sqlite3 *db;

    if ((db = raw_open(path_in("v1.db", path))) == NULL)
        return;
    ok(exec_ok(db, v1_ddl), "hand-made version 1 database (the shared layout)");
    sqlite3_close(db);
    s = gw_store_open(path, hb_only, 0, err);
    ok(s != NULL, "version 1 database opens (%s)", err);
    gw_store_close(s);
    if ((db = raw_open(path)) == NULL)
        return;
    is(q_int(db, "PRAGMA user_version"), 3, "taken over: layout version 3");
    is(gw_store_table_version(db, "heartbeat_events"), 3,
       "heartbeat_events recorded at 1, then migrated to 3 by its module");
    is(gw_store_table_version(db, "circuit_events"), 1, "circuit_events recorded at 1");
    is(gw_store_table_version(db, "backends"), 1, "backends recorded at 1");
    is(q_int(db, "SELECT count(*) FROM heartbeat_events WHERE instance = ''"), 2,
       "heartbeat rows kept, instance ''");
    is_str(q_text(db, "SELECT detail FROM heartbeat_events WHERE ts_ms = 21", buf, sizeof(buf)),
           "x", "heartbeat row content kept");
    is(q_int(db, "SELECT port FROM backends WHERE name = 'chat-1'"), 7001,
       "backend row kept (its module is not opened)");
    is_str(q_text(db, "SELECT reason FROM circuit_events", buf, sizeof(buf)), "connect failed",
           "circuit row kept");
    is(q_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'heartbeat_events_service_ts'"),
       1, "heartbeat_events' version 2 index added");
    is(q_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'heartbeat_events_v'"), 1,
       "heartbeat_events' version 3 view added");
    ok(gw_store_migrate(db, hb_only, err) == 0, "migrating a current database: no-op");
    is(q_int(db, "PRAGMA user_version"), 3, "still version 3");
    sqlite3_close(db);

    if ((db = raw_open(path_in("v2.db", path))) == NULL)
        return;
    ok(exec_ok(db, v1_ddl) && exec_ok(db, v2_step), "hand-made version 2 database");
    sqlite3_close(db);
    s = gw_store_open(path, both, 0, err);
    ok(s != NULL, "version 2 database opens, its steps not run again (%s)", err);
    gw_store_close(s);
    db = raw_open(path);
    ok(gw_store_table_version(db, "heartbeat_events") == 3 &&
           gw_store_table_version(db, "circuit_events") == 2 &&
           gw_store_table_version(db, "backends") == 1 && gw_store_table_version(db, "notes") == 2,
       "versions: heartbeat_events 3 (its view added), circuit_events 2, backends 1, and the new "
       "notes 2");
    is(q_int(db, "SELECT count(*) FROM heartbeat_events"), 2, "rows kept");
    is(q_int(db, "SELECT count(*) FROM heartbeat_events_v WHERE lasted IS NULL AND last_beat IS "
                 "NULL AND time LIKE '1970-01-01 00:00:00.0__Z'"),
       2, "heartbeat_events_v reads the old rows: readable times, no detail columns");
    sqlite3_close(db);
}

/* A table module moves forward on its own; a newer one is refused. */
static void
test_table_versions(void)
{
    char path[512], buf[64], err[GW_ERR_LEN] = "";
    const struct gw_store_table *const old[] = {&notes_v1, NULL};
    const struct gw_store_table *const now[] = {&notes, NULL};
    struct gw_store *s;
    sqlite3 *db;

    s = gw_store_open(path_in("tables.db", path), old, 0, err);
    ok(s != NULL, "opened with notes at version 1 (%s)", err);
    gw_store_close(s);
    db = raw_open(path);
    exec_ok(db, "INSERT INTO notes(name, host, port, first_seen_ms, last_seen_ms) "
                "VALUES ('n', 'h', 1, 1, 1)");
    is(gw_store_table_version(db, "notes"), 1, "notes at version 1");
    sqlite3_close(db);
    s = gw_store_open(path, now, 0, err);
    ok(s != NULL, "a newer build migrates notes (%s)", err);
    gw_store_close(s);
    db = raw_open(path);
    is(gw_store_table_version(db, "notes"), 2, "notes at version 2");
    is_str(q_text(db, "SELECT host || '/' || tag FROM notes", buf, sizeof(buf)), "h/",
           "its row kept, with the new column's default");
    sqlite3_close(db);
    s = gw_store_open(path, old, 0, err);
    ok(s == NULL && strstr(err, "table notes schema version 2 is newer than this build (1)"),
       "an older build refuses the newer table: %s", err);
    ok(strstr(err, path) != NULL, "the error names the file");
}

static void
test_newer(void)
{
    char path[512], err[GW_ERR_LEN] = "";
    struct gw_store *s;
    sqlite3 *db;

    if ((db = raw_open(path_in("v99.db", path))) == NULL)
        return;
    exec_ok(db, "CREATE TABLE future (x); PRAGMA user_version = 99;");
    sqlite3_close(db);
    s = gw_store_open(path, hb_only, 0, err);
    ok(s == NULL, "version 99 refused");
    ok(strstr(err, "database schema version 99 is newer than this build (3)") != NULL,
       "error says why: %s", err);
    ok(strstr(err, path) != NULL, "error names the file");
    gw_store_close(s);
    err[0] = '\0';
    db = gw_store_open_readonly(path, err);
    ok(db == NULL && strstr(err, "newer") != NULL, "read-only open refuses it too: %s", err);
    sqlite3_close(db);
    db = raw_open(path);
    is(q_int(db, "PRAGMA user_version"), 99, "refused file left untouched");
    sqlite3_close(db);
}

static void
test_events(void)
{
    char path[512], buf[2048], longstr[3000], err[GW_ERR_LEN] = "";
    struct gw_store_stats st;
    struct gw_store *s;
    sqlite3 *db;

    s = gw_store_open(path_in("events.db", path), both, 30, err);
    ok(s != NULL, "open (%s)", err);
    if (!s)
        return;
    memset(longstr, 'a', sizeof(longstr) - 1);
    longstr[sizeof(longstr) - 1] = '\0';
    longstr[1023] = (char)0xc3; /* a 2-byte sequence straddling the 1024-byte cut */
    longstr[1024] = (char)0xa9;
    ok(gw_store_hb_event(s, 1000, "billing", "i-1", "up", "late", "missed 1") == 0,
       "heartbeat event queued");
    ok(gw_store_hb_event(s, 1001, "billing", NULL, "late", "dead", longstr) == 0,
       "heartbeat event with NULL and a long string queued");
    ok(note(s, 5000, "chat-1", "127.0.0.1", 7001, "a", 20000) == 0, "a second table's row queued");
    note(s, 6000, "chat-1", "127.0.0.2", 7002, "b", 21000);
    note(s, 6000, "gone", "127.0.0.3", 7003, "c", 0);
    note_delete(s, "gone");
    ok(gw_store_sync(s, err) == 0, "sync (%s)", err);
    db = raw_open(path);
    is(q_int(db, "SELECT count(*) FROM heartbeat_events"), 2, "heartbeat rows visible after sync");
    is_str(q_text(db, "SELECT instance FROM heartbeat_events WHERE ts_ms = 1000", buf, 64), "i-1",
           "instance stored");
    is_str(q_text(db, "SELECT instance FROM heartbeat_events WHERE ts_ms = 1001", buf, 64), "",
           "NULL stored as ''");
    is(q_int(db, "SELECT length(CAST(detail AS BLOB)) FROM heartbeat_events WHERE ts_ms = 1001"),
       1023, "long string cut to 1024 bytes at a UTF-8 boundary");
    is_str(q_text(db,
                  "SELECT host || ':' || port || ' ' || first_seen_ms || ' ' || last_seen_ms || "
                  "' ' || expires_ms || ' ' || tag FROM notes WHERE name = 'chat-1'",
                  buf, 128),
           "127.0.0.2:7002 5000 6000 21000 b",
           "upsert binds texts and numbers, updates the row and keeps first_seen_ms");
    is(q_int(db, "SELECT count(*) FROM notes"), 1, "deleted row gone");
    sqlite3_close(db);
    gw_store_stats(s, &st);
    is(st.written, 6, "stats: 6 rows written");
    is(st.dropped + st.errors + st.queued, 0, "stats: nothing dropped, failed or waiting");
    gw_store_close(s);
}

static void
test_queue_full(void)
{
    char path[512], err[GW_ERR_LEN] = "";
    struct gw_store_stats st;
    struct gw_store *s;
    sqlite3 *db;
    int refused = 0;

    s = gw_store_open(path_in("full.db", path), hb_only, 0, err);
    db = raw_open(path);
    if (!s || !db)
        return;
    gw_store_set_queue_max(s, 4);
    /* Holding the write lock keeps the writer waiting on its first batch, so the queue fills. */
    ok(exec_ok(db, "BEGIN IMMEDIATE"), "another connection holds the write lock");
    for (int i = 0; i < 100; i++)
        refused += gw_store_hb_event(s, i, "svc", "", "up", "dead", "") == -1;
    exec_ok(db, "COMMIT");
    ok(refused >= 90, "full queue refuses events (%d of 100)", refused);
    ok(gw_store_sync(s, err) == 0, "sync after the lock is released (%s)", err);
    gw_store_stats(s, &st);
    is(st.dropped, refused, "drops counted");
    is(st.written, 100 - refused, "the rest written");
    is(q_int(db, "SELECT count(*) FROM heartbeat_events"), 100 - refused, "rows match");
    sqlite3_close(db);
    gw_store_close(s);
}

static void
test_write_error(void)
{
    char path[512], err[GW_ERR_LEN] = "";
    struct gw_store_stats st;
    struct gw_store *s;
    sqlite3 *db;

    s = gw_store_open(path_in("fail.db", path), both, 0, err);
    db = raw_open(path);
    if (!s || !db)
        return;
    exec_ok(db, "CREATE TRIGGER no_notes BEFORE INSERT ON notes "
                "BEGIN SELECT RAISE(ABORT, 'notes refused'); END");
    note(s, 1, "b", "h", 1, "", 0);
    gw_store_hb_event(s, 1, "svc", "", "up", "dead", "");
    ok(gw_store_sync(s, err) == -1 && strstr(err, "notes refused"),
       "a failed write is reported by sync: %s", err);
    ok(gw_store_sync(s, err) == 0, "and only once");
    gw_store_stats(s, &st);
    ok(st.errors == 1 && st.written == 1, "one error counted; the rest of the batch written");
    sqlite3_close(db);
    gw_store_close(s);
}

static void
test_prune(void)
{
    char path[512], err[GW_ERR_LEN] = "";
    int64_t now = gw_wall_ms(), old = now - 3 * 86400 * 1000LL;
    struct gw_store_stats st;
    struct gw_store *s;
    sqlite3 *db;

    if ((s = gw_store_open(path_in("prune.db", path), both, 0, err)) == NULL)
        return;
    for (int i = 0; i < 3; i++)
        gw_store_hb_event(s, old + i, "svc", "", "up", "dead", "old");
    gw_store_hb_event(s, now, "svc", "", "dead", "up", "new");
    gw_store_hb_event(s, now, "svc", "", "up", "late", "new");
    note(s, old, "old", "h", 1, "", 0);
    note(s, now, "new", "h", 1, "", 0);
    gw_store_sync(s, err);
    gw_store_close(s);
    s = gw_store_open(path, both, 1, err);
    ok(s != NULL, "reopen with history_days=1");
    if (!s)
        return;
    ok(gw_store_sync(s, err) == 0, "sync waits for the pruning at open");
    gw_store_stats(s, &st);
    is(st.pruned, 4, "4 old rows pruned");
    db = raw_open(path);
    is(q_int(db, "SELECT count(*) FROM heartbeat_events WHERE detail = 'old'"), 0,
       "old heartbeat events gone");
    is(q_int(db, "SELECT count(*) FROM heartbeat_events WHERE detail = 'new'"), 2,
       "recent heartbeat events kept");
    is(q_int(db, "SELECT count(*) FROM notes"), 1,
       "the other table pruned too: old gone, new kept");
    sqlite3_close(db);
    gw_store_close(s);
}

/* Runs the sqlite3 CLI; returns the count, or -1 (with its output in diag). */
static long long
cli_count(const char *path)
{
    char cmd[700], out[256] = "";
    long long n = -1;
    size_t len;
    FILE *p;

    snprintf(cmd, sizeof(cmd),
             "sqlite3 -readonly '%s' 'SELECT count(*) FROM heartbeat_events' 2>&1", path);
    if ((p = popen(cmd, "r")) == NULL)
        return -1;
    len = fread(out, 1, sizeof(out) - 1, p);
    out[len] = '\0';
    if (pclose(p) == 0 && sscanf(out, "%lld", &n) == 1 && !strstr(out, "locked"))
        return n;
    diag("sqlite3 said: %s", out);
    return -1;
}

static void
test_readers(void)
{
    char path[512], err[GW_ERR_LEN] = "";
    long long prev = 0, n;
    int good = 1, monotonic = 1;
    struct gw_store *s;

    if ((s = gw_store_open(path_in("readers.db", path), hb_only, 30, err)) == NULL)
        return;
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 3000; i++)
            gw_store_hb_event(s, gw_wall_ms(), "svc", "inst", "up", "late", "reader test");
        n = cli_count(path);
        good &= n >= 0;
        monotonic &= n >= prev;
        if (n >= 0)
            prev = n;
    }
    ok(good, "sqlite3 -readonly succeeds while the writer writes");
    ok(monotonic, "counts never decrease (last %lld)", prev);
    gw_store_sync(s, err);
    is(cli_count(path), 18000, "all 18000 rows visible after sync");
    gw_store_close(s);
}

/* Runs fn in a child switched to nobody; returns fn's result, or -1. */
static int
as_nobody(int (*fn)(const char *), const char *path)
{
    struct passwd *pw = getpwnam("nobody");
    int status;
    pid_t pid;

    if (!pw || (pid = fork()) == -1)
        return -1;
    if (pid == 0) {
        if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1)
            _exit(99);
        _exit(fn(path));
    }
    if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int
copy_file(const char *from, const char *to)
{
    char *data;
    FILE *f;
    long n;
    int rc = -1;

    if ((f = fopen(from, "rb")) == NULL)
        return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    data = malloc((size_t)n);
    if (data && fread(data, 1, (size_t)n, f) == (size_t)n) {
        FILE *out = fopen(to, "wb");
        if (out) {
            rc = fwrite(data, 1, (size_t)n, out) == (size_t)n ? 0 : -1;
            if (fclose(out) != 0)
                rc = -1;
        }
    }
    free(data);
    fclose(f);
    return rc;
}

/* Child side: 0 when the database opens read-only and has the two rows. */
static int
read_two_rows(const char *path)
{
    char err[GW_ERR_LEN] = "";
    sqlite3 *db = gw_store_open_readonly(path, err);
    int rc;

    if (!db) {
        diag("child: %s", err);
        return 1;
    }
    rc = q_int(db, "SELECT count(*) FROM heartbeat_events") == 2 ? 0 : 2;
    sqlite3_close(db);
    return rc;
}

static void
test_readonly(void)
{
    char path[512], copy[512], rodir[512], err[GW_ERR_LEN] = "";
    struct gw_store *s;
    sqlite3 *db;

    err[0] = '\0';
    ok(gw_store_open_readonly(path_in("missing.db", path), err) == NULL &&
           strstr(err, "No such file"),
       "missing file refused: %s", err);
    s = gw_store_open(path_in("ro/gwkit.db", path), hb_only, 0, err);
    if (!s)
        return;
    gw_store_hb_event(s, 1, "a", "", "up", "dead", "");
    gw_store_hb_event(s, 2, "b", "", "up", "dead", "");
    gw_store_sync(s, err);

    db = gw_store_open_readonly(path, err);
    ok(db != NULL, "read-only open while the writer runs (%s)", err);
    is(q_int(db, "SELECT count(*) FROM heartbeat_events"), 2, "read-only handle sees the rows");
    ok(sqlite3_exec(db, "DELETE FROM heartbeat_events", NULL, NULL, NULL) == SQLITE_READONLY,
       "read-only handle cannot write");
    sqlite3_close(db);
    gw_store_close(s);

    /* Another user, allowed to read the files but not to write the directory. */
    chmod(tmpdir, 0755);
    chmod(path_in("ro", rodir), 0755);
    is(as_nobody(read_two_rows, path), 0, "another user reads it after the daemon stopped");
    /* A copy of the main file alone (no -wal, no -shm) in a directory nobody may write. */
    path_in("copy", copy);
    mkdir(copy, 0755);
    path_in("copy/gwkit.db", copy);
    ok(copy_file(path, copy) == 0, "database file copied without -wal and -shm");
    is(as_nobody(read_two_rows, copy), 0, "another user reads the copy (opened immutable)");
}

/* Writing a table the store was not opened with is a programming error: it aborts. */
/* hbd's watch list: upserts replace, deletes remove a service with its instances or one
 * instance, and gw_store_hb_load reads back what is committed (gw_store_read). */
static const struct gw_store_table *const hb_watch[] = {&gw_store_hb_table,
                                                        &gw_store_hb_watch_table, NULL};

struct watch_seen {
    char services[256], instances[256];
};

static void
seen_service(void *arg, const struct gw_store_hb_service *sv)
{
    struct watch_seen *w = arg;
    size_t n = strlen(w->services);

    snprintf(w->services + n, sizeof(w->services) - n, "%s:%s:%lld:%llu:%u:%s;", sv->name,
             sv->state, (long long)sv->since_ms, (unsigned long long)sv->interval_ms, sv->min_up,
             sv->labels_json);
}

static void
seen_instance(void *arg, const struct gw_store_hb_instance *in)
{
    struct watch_seen *w = arg;
    size_t n = strlen(w->instances);

    snprintf(w->instances + n, sizeof(w->instances) - n, "%s/%s:%s:%lld:%llu:%llu:%s;", in->service,
             in->name, in->state, (long long)in->last_ms, (unsigned long long)in->interval_ms,
             (unsigned long long)in->beats, in->addr);
}

static void
test_watch(void)
{
    char path[512], err[GW_ERR_LEN] = "";
    struct gw_store *s = gw_store_open(path_in("watch.db", path), hb_watch, 0, err);
    struct watch_seen w = {"", ""};
    const struct gw_store_hb_loader l = {seen_service, seen_instance, &w};

    ok(s != NULL, "a store with the watch list opens (%s)", err);
    if (!s)
        return;
    gw_store_hb_put_service(s, &(struct gw_store_hb_service){"api", "up", "{}", 10, 1000, 0});
    gw_store_hb_put_service(
        s, &(struct gw_store_hb_service){"api", "dead", "{\"a\":\"b\"}", 20, 2000, 2});
    gw_store_hb_put_service(s, &(struct gw_store_hb_service){"old", "late", "{}", 5, 1000, 0});
    gw_store_hb_put_instance(
        s, &(struct gw_store_hb_instance){"api", "", "up", "1.2.3.4", 7, 1000, 3});
    gw_store_hb_put_instance(s, &(struct gw_store_hb_instance){"api", "w1", "up", "", 8, 1000, 1});
    gw_store_hb_put_instance(s,
                             &(struct gw_store_hb_instance){"api", "w1", "dead", "", 9, 2000, 4});
    gw_store_hb_put_instance(s, &(struct gw_store_hb_instance){"api", "w2", "up", "", 9, 2000, 4});
    gw_store_hb_put_instance(s, &(struct gw_store_hb_instance){"old", "", "late", "", 1, 1000, 1});
    gw_store_hb_delete(s, "api", "w2");
    gw_store_hb_delete(s, "old", NULL);
    is(gw_store_sync(s, err), 0, "the watch list is committed (%s)", err);
    is(gw_store_hb_load(s, &l, err), 0, "the watch list reads back (%s)", err);
    is_str(w.services, "api:dead:20:2000:2:{\"a\":\"b\"};",
           "services: upsert replaced, a deleted service gone");
    is_str(w.instances, "api/:up:7:1000:3:1.2.3.4;api/w1:dead:9:2000:4:;",
           "instances: upsert replaced, a deleted instance and a deleted service's gone");
    gw_store_close(s);
}

static void
test_misuse(void)
{
    char path[512], err[GW_ERR_LEN] = "";
    struct gw_store *s = gw_store_open(path_in("misuse.db", path), hb_only, 0, err);
    int status = 0;
    pid_t pid;

    if (!s)
        return;
    if ((pid = fork()) == 0) {
        freopen("/dev/null", "w", stderr);
        note(s, 1, "x", "h", 1, "", 0);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "a put to a table not opened aborts");
    gw_store_close(s);
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

int
main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_fresh();
    test_schema_file();
    test_migrate_v1();
    test_table_versions();
    test_newer();
    test_events();
    test_queue_full();
    test_write_error();
    test_prune();
    test_readers();
    test_readonly();
    test_watch();
    test_misuse();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return done_testing();
}
