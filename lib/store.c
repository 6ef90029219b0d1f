/*
 * store.c -- the state database: the file's layout, each table module's migrations, and one
 * writer thread fed by a bounded queue.
 *
 * Callers enqueue owned copies of their rows; the writer thread takes them off in batches and
 * applies each batch in one transaction, so a burst of events costs one fsync (and with
 * synchronous=NORMAL in WAL mode, usually none until a checkpoint). Every queued item carries a
 * sequence number; gw_store_sync() waits until the writer has finished the last number handed
 * out before the call.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
#define QUEUE_MAX_BYTES ((size_t)32 << 20)
#define BATCH_MAX 1024
#define PRUNE_EVERY_MS (3600 * 1000)
/* A batch that failed on a fault that may pass (disk full, read-only, locked, I/O) is retried
 * after this delay, doubling up to the maximum, until it goes in. */
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
#define DAY_MS ((int64_t)86400 * 1000)
/* Strings longer than this are cut (at a UTF-8 boundary): it bounds the queue's memory. */
#define STR_MAX 1024

/*
 * The layout (PRAGMA user_version). Versions 1 and 2 were one shared schema; version 3 records
 * each table module's own version in schema_versions. Taking over a file of version 1 or 2
 * records the modules its tables correspond to, at these versions (index: the old version).
 * Those modules' steps must build what the shared layout had: heartbeat_events is
 * lib/store_hb.c; wsgwd's backends step 1 is share/schema.sql's CREATE TABLE backends, and its
 * circuit_events step 1 the CREATE TABLE, step 2 the two circuit_events indexes.
 * Append only; never edit a released step.
 */
#define LAYOUT_SQL "CREATE TABLE schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"

static const struct {
    const char *table;
    int version[3];
} legacy[] = {
    {"backends", {0, 1, 1}},
    {"circuit_events", {0, 1, 2}},
    {"heartbeat_events", {0, 1, 2}},
};

enum op { OP_PUT, OP_PRUNE };

struct item {
    struct item *next;
    uint64_t seq;
    size_t size;
    enum op op;
    int table, statement; /* OP_PUT */
    int64_t ts_ms;
    int64_t num[GW_STORE_NUMS];
    const char *str[GW_STORE_TEXTS]; /* point into data */
    char data[];
};

/* An opened table module and its prepared statements. */
struct table {
    const struct gw_store_table *t;
    sqlite3_stmt *st[GW_STORE_MAX_STATEMENTS];
    sqlite3_stmt *prune;
};

struct gw_store {
    sqlite3 *db;
    char *path;
    struct table tables[GW_STORE_MAX_TABLES];
    int ntables;
    int history_days;
    pthread_t thread;

    pthread_mutex_t mu;
    pthread_cond_t work; /* writer waits: items queued, stop, or prune due */
    pthread_cond_t done; /* syncers wait: seq_done advanced */
    struct item *head, *tail;
    size_t queued, queued_bytes, queue_max;
    uint64_t seq_in, seq_done;
    int stopping;
    int err_pending; /* a write failed since the last gw_store_sync */
    char err[GW_ERR_LEN];
    struct gw_store_stats stats;
};

static int
db_err(char *err, sqlite3 *db, const char *what)
{
    return gw_err(err, "%s: %s", what, sqlite3_errmsg(db));
}

static int
exec_sql(sqlite3 *db, const char *sql, char *err)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        gw_err(err, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int
user_version(sqlite3 *db, int *version, char *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_err(err, db, "reading the schema version");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return db_err(err, db, "reading the schema version");
    return 0;
}

static int
newer_err(char *err, int version)
{
    return gw_err(err, "database schema version %d is newer than this build (%d)", version,
                  GW_STORE_VERSION);
}

/* Runs step() inside one write transaction (BEGIN IMMEDIATE: two daemons migrating the same
 * file at once take turns instead of both creating the same tables). */
static int
in_transaction(sqlite3 *db, int (*step)(sqlite3 *db, const void *arg, int *done, char *err),
               const void *arg, int *done, char *err)
{
    char why[GW_ERR_LEN];

    if (exec_sql(db, "BEGIN IMMEDIATE", why) == -1)
        return gw_err(err, "migrating the schema: %s", why);
    if (step(db, arg, done, err) == -1)
        goto fail;
    if (exec_sql(db, "COMMIT", why) == -1) {
        gw_err(err, "migrating the schema: %s", why);
        goto fail;
    }
    return 0;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Brings the layout to GW_STORE_VERSION in one step, taking over a file of the shared
 * layout. */
static int
layout_step(sqlite3 *db, const void *arg, int *done, char *err)
{
    char sql[160], why[GW_ERR_LEN];
    int v;

    (void)arg;
    if (user_version(db, &v, err) == -1)
        return -1;
    if (v > GW_STORE_VERSION)
        return newer_err(err, v);
    *done = 1;
    if (v == GW_STORE_VERSION)
        return 0;
    if (exec_sql(db, LAYOUT_SQL, why) == -1)
        return gw_err(err, "migrating the schema to version %d: %s", GW_STORE_VERSION, why);
    for (size_t i = 0; v > 0 && i < GW_ARRAY_LEN(legacy); i++) {
        snprintf(sql, sizeof(sql), "INSERT INTO schema_versions VALUES ('%s', %d)", legacy[i].table,
                 legacy[i].version[v]);
        if (exec_sql(db, sql, why) == -1)
            return gw_err(err, "migrating the schema to version %d: %s", GW_STORE_VERSION, why);
    }
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", GW_STORE_VERSION);
    if (exec_sql(db, sql, why) == -1)
        return gw_err(err, "migrating the schema to version %d: %s", GW_STORE_VERSION, why);
    return 0;
}

int
gw_store_table_version(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st;
    int v = 0;

    if (sqlite3_prepare_v2(db, "SELECT version FROM schema_versions WHERE name = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Applies the table's step after its recorded version, or nothing when it is current. */
static int
table_step(sqlite3 *db, const void *arg, int *done, char *err)
{
    const struct gw_store_table *t = arg;
    char sql[160], why[GW_ERR_LEN];
    int v = gw_store_table_version(db, t->name);

    if (v > t->version)
        return gw_err(err, "table %s schema version %d is newer than this build (%d)", t->name, v,
                      t->version);
    *done = v == t->version;
    if (*done)
        return 0;
    snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO schema_versions VALUES ('%s', %d)", t->name,
             v + 1);
    if (exec_sql(db, t->migrations[v], why) == -1 || exec_sql(db, sql, why) == -1)
        return gw_err(err, "migrating table %s to version %d: %s", t->name, v + 1, why);
    return 0;
}

int
gw_store_migrate(sqlite3 *db, const struct gw_store_table *const *tables, char *err)
{
    int v, done = 0;

    /* Refuse a newer layout before taking the write lock. */
    if (user_version(db, &v, err) == -1)
        return -1;
    if (v > GW_STORE_VERSION)
        return newer_err(err, v);
    if (in_transaction(db, layout_step, NULL, &done, err) == -1)
        return -1;
    for (size_t i = 0; tables && tables[i]; i++)
        for (done = 0; !done;)
            if (in_transaction(db, table_step, tables[i], &done, err) == -1)
                return -1;
    return 0;
}

/* Copies s into *p, cut to STR_MAX bytes without splitting a UTF-8 sequence. */
static const char *
copy_str(char **p, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    const char *out = *p;

    if (n > STR_MAX) {
        n = STR_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(*p, s, n);
    (*p)[n] = '\0';
    *p += n + 1;
    return out;
}

static struct item *
item_new(enum op op, const struct gw_store_row *row)
{
    size_t size = sizeof(struct item);
    struct item *it;
    char *p;

    for (int i = 0; i < GW_STORE_TEXTS; i++)
        size += (row->text[i] ? GW_MIN(strlen(row->text[i]), STR_MAX) : 0) + 1;
    if ((it = malloc(size)) == NULL)
        return NULL;
    it->next = NULL;
    it->size = size;
    it->op = op;
    it->table = it->statement = 0;
    it->ts_ms = row->ts_ms;
    memcpy(it->num, row->num, sizeof(it->num));
    p = it->data;
    for (int i = 0; i < GW_STORE_TEXTS; i++)
        it->str[i] = copy_str(&p, row->text[i]);
    return it;
}

/* Called with the lock held. */
static void
push_locked(struct gw_store *s, struct item *it)
{
    it->seq = ++s->seq_in;
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    s->queued++;
    s->queued_bytes += it->size;
    pthread_cond_signal(&s->work);
}

/* Appends it to the queue, or drops it when the queue is full. */
static int
enqueue(struct gw_store *s, struct item *it)
{
    pthread_mutex_lock(&s->mu);
    if (s->queued >= s->queue_max || s->queued_bytes + it->size > QUEUE_MAX_BYTES) {
        s->stats.dropped++;
        pthread_mutex_unlock(&s->mu);
        free(it);
        return -1;
    }
    push_locked(s, it);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int
table_index(const struct gw_store *s, const struct gw_store_table *t)
{
    for (int i = 0; i < s->ntables; i++)
        if (s->tables[i].t == t)
            return i;
    return -1;
}

int
gw_store_put(struct gw_store *s, const struct gw_store_table *table, int statement,
             const struct gw_store_row *row)
{
    int ti = table_index(s, table);
    struct item *it;

    if (ti < 0 || statement < 0 || statement >= table->nstatements) {
        fprintf(stderr, "gw_store_put: table %s statement %d not opened\n", table->name, statement);
        abort();
    }
    if ((it = item_new(OP_PUT, row)) == NULL) {
        pthread_mutex_lock(&s->mu);
        s->stats.dropped++;
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    it->table = ti;
    it->statement = statement;
    return enqueue(s, it);
}

static int
bind_item(sqlite3_stmt *st, const struct item *it)
{
    int n = sqlite3_bind_parameter_count(st), rc = SQLITE_OK;

    for (int i = 1; i <= n && rc == SQLITE_OK; i++) {
        if (i == 1)
            rc = sqlite3_bind_int64(st, i, it->ts_ms);
        else if (i <= 1 + GW_STORE_TEXTS)
            rc = sqlite3_bind_text(st, i, it->str[i - 2], -1, SQLITE_STATIC);
        else if (i <= 1 + GW_STORE_TEXTS + GW_STORE_NUMS)
            rc = sqlite3_bind_int64(st, i, it->num[i - 2 - GW_STORE_TEXTS]);
    }
    return rc;
}

/* Runs one prepared statement for it; returns the rows changed or -1. */
static int
run_stmt(sqlite3 *db, sqlite3_stmt *st, const struct item *it)
{
    int rc = bind_item(st, it);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

/* Called with the lock held: remembers the first failure until gw_store_sync reports it. */
static void
note_error(struct gw_store *s, enum gw_store_fault f, uint64_t n, const char *what, const char *why)
{
    s->stats.errors += n;
    s->stats.errors_by[f] += n;
    if (!s->err_pending) {
        s->err_pending = 1;
        gw_err(s->err, "%s: %s", what, why);
    }
}

static const char *const fault_labels[GW_STORE_FAULTS] = {"none",   "disk_full", "read_only",
                                                          "locked", "io",        "other"};
static const char *const fault_texts[GW_STORE_FAULTS] = {"no fault", "disk full", "read-only",
                                                         "locked",   "I/O error", "error"};

const char *
gw_store_fault_label(enum gw_store_fault f)
{
    return (unsigned)f < GW_STORE_FAULTS ? fault_labels[f] : "other";
}

const char *
gw_store_fault_text(enum gw_store_fault f)
{
    return (unsigned)f < GW_STORE_FAULTS ? fault_texts[f] : "error";
}

/* What a failed call on db means; the system errno tells a disk full or a read-only file
 * system behind SQLite's I/O and open errors. */
static enum gw_store_fault
fault_of(sqlite3 *db, int rc)
{
    int sys = sqlite3_system_errno(db);

    switch (rc & 0xff) {
    case SQLITE_FULL:
        return GW_STORE_FAULT_DISK_FULL;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return GW_STORE_FAULT_READ_ONLY;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return GW_STORE_FAULT_LOCKED;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return sys == ENOSPC || sys == EDQUOT                  ? GW_STORE_FAULT_DISK_FULL
               : sys == EROFS || sys == EACCES || sys == EPERM ? GW_STORE_FAULT_READ_ONLY
                                                               : GW_STORE_FAULT_IO;
    default:
        return GW_STORE_FAULT_OTHER;
    }
}

/* A fault that may go away by itself: the batch is kept and retried. Anything else (a
 * constraint, a bad value) would fail the same way forever: the row is counted and dropped. */
static int
transient(enum gw_store_fault f)
{
    return f != GW_STORE_FAULT_OTHER;
}

struct batch_result {
    uint64_t written, pruned, errors;
    enum gw_store_fault fault; /* transient: the whole batch is to be retried */
    char why[GW_ERR_LEN];
};

/* A prune deletes from every table that has a prune statement. Returns -1 on a transient
 * fault (r->fault, r->why set), which abandons the transaction. */
static int
apply_item(struct gw_store *s, const struct item *it, struct batch_result *r)
{
    int n = 0, m, rc;
    enum gw_store_fault f;

    if (it->op == OP_PUT) {
        n = run_stmt(s->db, s->tables[it->table].st[it->statement], it);
    } else {
        for (int i = 0; i < s->ntables && n >= 0; i++)
            if (s->tables[i].prune)
                n = (m = run_stmt(s->db, s->tables[i].prune, it)) < 0 ? -1 : n + m;
    }
    if (n >= 0) {
        if (it->op == OP_PRUNE)
            r->pruned += (uint64_t)n;
        else
            r->written += (uint64_t)n;
        return 0;
    }
    rc = sqlite3_extended_errcode(s->db);
    if (transient(f = fault_of(s->db, rc))) {
        r->fault = f;
        gw_strlcpy(r->why, sqlite3_errmsg(s->db), sizeof(r->why));
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    note_error(s, f, 1, "writing to the database", sqlite3_errmsg(s->db));
    pthread_mutex_unlock(&s->mu);
    r->errors++;
    return 0;
}

/* Writes a batch in one transaction. Returns 0 (the batch is done: free it) or -1 on a
 * transient fault (r->fault, r->why): nothing of it was committed, it is to be retried. */
static int
write_batch(struct gw_store *s, struct item *batch, struct batch_result *r)
{
    struct item *it;
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        goto fail;
    for (it = batch; it; it = it->next)
        if (apply_item(s, it, r) == -1) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    if ((rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL)) == SQLITE_OK)
        return 0;
fail:
    r->fault = fault_of(s->db, sqlite3_extended_errcode(s->db));
    if (r->fault == GW_STORE_FAULT_OTHER) /* BEGIN or COMMIT: never the rows' fault */
        r->fault = GW_STORE_FAULT_IO;
    gw_strlcpy(r->why, sqlite3_errmsg(s->db), sizeof(r->why));
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static void
free_items(struct item *it)
{
    for (struct item *next; it; it = next) {
        next = it->next;
        free(it);
    }
}

static struct item *
prune_item(int history_days)
{
    const struct gw_store_row row = {gw_wall_ms() - history_days * DAY_MS, {NULL}, {0}};

    return item_new(OP_PRUNE, &row);
}

static void
deadline_after(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int
passed(const struct timespec *deadline)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Called with the lock held: waits for work. When the hour is up a prune joins the queue, even
 * under a steady stream of events. */
static void
wait_for_work(struct gw_store *s, struct timespec *next_prune)
{
    struct item *it;

    for (;;) {
        if (s->history_days > 0 && passed(next_prune)) {
            deadline_after(next_prune, PRUNE_EVERY_MS);
            if ((it = prune_item(s->history_days)) != NULL)
                push_locked(s, it); /* the writer's own work is never dropped */
        }
        if (s->head || s->stopping)
            return;
        if (s->history_days > 0)
            pthread_cond_timedwait(&s->work, &s->mu, next_prune);
        else
            pthread_cond_wait(&s->work, &s->mu);
    }
}

/* Called with the lock held: puts a batch that failed back at the head of the queue, where
 * it is retried first. The queue may exceed its bound by this batch: puts are dropped then. */
static void
put_back(struct gw_store *s, struct item *batch, size_t count)
{
    struct item *last = batch;

    s->queued_bytes += last->size;
    while (last->next) {
        last = last->next;
        s->queued_bytes += last->size;
    }
    last->next = s->head;
    s->head = batch;
    if (!s->tail)
        s->tail = last;
    s->queued += count;
}

/* Called with the lock held: waits for the retry delay, or until stopping. */
static void
wait_retry(struct gw_store *s, uint64_t delay_ms)
{
    struct timespec until;

    deadline_after(&until, delay_ms);
    while (!s->stopping && !passed(&until))
        pthread_cond_timedwait(&s->work, &s->mu, &until);
}

/* Called with the lock held: the outcome of one attempt, into the stats and the episode. */
static void
account(struct gw_store *s, const struct batch_result *r, int failed)
{
    s->stats.written += r->written;
    s->stats.pruned += r->pruned;
    if (!failed) {
        s->stats.failing = 0;
        return;
    }
    note_error(s, r->fault, 1, "writing to the database", r->why);
    if (!s->stats.failing) {
        s->stats.failing = 1;
        s->stats.episodes++;
        s->stats.fault_since_ms = gw_wall_ms();
    }
    s->stats.fault = r->fault;
    gw_strlcpy(s->stats.why, r->why, sizeof(s->stats.why));
    pthread_cond_broadcast(&s->done); /* syncers stop waiting for writes that cannot happen */
}

/* Called with the lock held: unlinks up to BATCH_MAX items from the head of the queue; *seq
 * is the number of the last one. */
static struct item *
take_batch(struct gw_store *s, size_t *count, uint64_t *seq)
{
    struct item *batch = s->head, *last = batch;

    *count = 1;
    s->queued_bytes -= last->size;
    while (last->next && *count < BATCH_MAX) {
        last = last->next;
        s->queued_bytes -= last->size;
        (*count)++;
    }
    s->head = last->next;
    if (!s->head)
        s->tail = NULL;
    s->queued -= *count;
    last->next = NULL;
    *seq = last->seq;
    return batch;
}

static void *
writer_main(void *arg)
{
    struct gw_store *s = arg;
    struct timespec next_prune;
    uint64_t delay_ms = RETRY_MIN_MS;
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    deadline_after(&next_prune, PRUNE_EVERY_MS);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        struct batch_result r = {0, 0, 0, GW_STORE_FAULT_NONE, ""};
        struct item *batch;
        uint64_t seq;
        size_t count;
        int failed;

        wait_for_work(s, &next_prune);
        if (!s->head)
            break; /* stopping, and everything is written */
        batch = take_batch(s, &count, &seq);
        pthread_mutex_unlock(&s->mu);
        failed = write_batch(s, batch, &r) == -1;
        pthread_mutex_lock(&s->mu);
        account(s, &r, failed);
        if (failed && s->stopping) {
            /* The last attempt at shutdown failed too: what is left is lost, and counted. */
            s->stats.dropped += count + s->queued;
            free_items(batch);
            free_items(s->head);
            s->head = s->tail = NULL;
            s->queued = s->queued_bytes = 0;
            s->seq_done = s->seq_in;
            pthread_cond_broadcast(&s->done);
            break;
        }
        if (failed) {
            put_back(s, batch, count);
            s->stats.retries++;
            wait_retry(s, delay_ms);
            delay_ms = GW_MIN(delay_ms * 2, RETRY_MAX_MS);
            continue;
        }
        delay_ms = RETRY_MIN_MS;
        pthread_mutex_unlock(&s->mu);
        free_items(batch);
        pthread_mutex_lock(&s->mu);
        s->seq_done = seq;
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int
gw_store_sync(struct gw_store *s, char *err)
{
    uint64_t target;
    int rc = 0;

    pthread_mutex_lock(&s->mu);
    target = s->seq_in;
    while (s->seq_done < target && !s->stats.failing)
        pthread_cond_wait(&s->done, &s->mu);
    if (s->seq_done < target) {
        gw_err(err, "writes failing (%s): %s; %zu rows queued for retry",
               gw_store_fault_text(s->stats.fault), s->stats.why, s->queued);
        rc = -1;
    } else if (s->err_pending) {
        gw_err(err, "%s", s->err);
        s->err_pending = 0;
        rc = -1;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void
gw_store_stats(struct gw_store *s, struct gw_store_stats *st)
{
    pthread_mutex_lock(&s->mu);
    *st = s->stats;
    st->queued = s->queued;
    pthread_mutex_unlock(&s->mu);
}

void
gw_store_set_queue_max(struct gw_store *s, size_t max_rows)
{
    pthread_mutex_lock(&s->mu);
    s->queue_max = max_rows;
    pthread_mutex_unlock(&s->mu);
}

/* Makes the directory that will hold path. */
static int
make_parent(const char *path, char *err)
{
    char dir[4096];
    char *slash;

    if (gw_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
        return gw_err(err, "path too long: %s", path);
    if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
        return 0;
    *slash = '\0';
    return gw_mkdir_p(dir, 0755, err);
}

/* "<path>: disk full (database or disk is full)": the fault first, SQLite's words after. */
static int
open_err(char *err, sqlite3 *db, const char *path)
{
    enum gw_store_fault f;

    if (!db)
        return gw_err(err, "%s: out of memory", path);
    f = fault_of(db, sqlite3_extended_errcode(db));
    if (f == GW_STORE_FAULT_OTHER)
        return gw_err(err, "%s: %s", path, sqlite3_errmsg(db));
    return gw_err(err, "%s: %s (%s)", path, gw_store_fault_text(f), sqlite3_errmsg(db));
}

/* Before SQLite's "unable to open database file": the file, or the directory that gets the
 * file and its -wal and -shm, must be writable. */
static int
check_writable(const char *path, char *err)
{
    char dir[4096], side[4200];
    const char *slash = strrchr(path, '/');
    int need_dir = access(path, F_OK) == -1;

    if (!need_dir && access(path, W_OK) == -1)
        return gw_err(err, "%s: read-only: %s", path,
                      errno == ENOENT ? "no such file" : strerror(errno));
    for (const char *suffix = "-wal"; !need_dir && suffix;
         suffix = suffix[1] == 'w' ? "-shm" : NULL) {
        snprintf(side, sizeof(side), "%s%s", path, suffix);
        need_dir = access(side, W_OK) == -1;
    }
    if (!need_dir)
        return 0;
    if (!slash)
        gw_strlcpy(dir, ".", sizeof(dir));
    else if (slash == path)
        gw_strlcpy(dir, "/", sizeof(dir));
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (access(dir, W_OK) == -1)
        return gw_err(
            err,
            "%s: read-only: cannot create files in %s (for the database, its -wal and -shm): %s",
            path, dir, strerror(errno));
    return 0;
}

/* Connection settings, then the schema. */
static int
setup_db(sqlite3 *db, const char *path, const struct gw_store_table *const *tables, char *err)
{
    char why[GW_ERR_LEN];
    sqlite3_stmt *st;
    int wal = 0, persist = 1;

    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK)
        return gw_err(err, "%s: %s", path, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal)
        return gw_err(err, "%s: cannot use WAL journal mode: %s", path, sqlite3_errmsg(db));
    if (exec_sql(db, "PRAGMA synchronous = NORMAL", why) == -1)
        return gw_err(err, "%s: %s", path, why);
    /* Keep -wal and -shm after the last close, so a user who may read the files but not
     * write the directory can still open the database read-only (gwctl). */
    sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    if (gw_store_migrate(db, tables, why) == -1) {
        enum gw_store_fault f = fault_of(db, sqlite3_extended_errcode(db));
        if (f == GW_STORE_FAULT_OTHER || f == GW_STORE_FAULT_NONE)
            return gw_err(err, "%s: %s", path, why);
        return gw_err(err, "%s: %s (%s)", path, gw_store_fault_text(f), why);
    }
    return 0;
}

static int
prepare(struct gw_store *s, const char *sql, sqlite3_stmt **st, const char *path, char *err)
{
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return gw_err(err, "%s: %s", path, sqlite3_errmsg(s->db));
    return 0;
}

static int
prepare_all(struct gw_store *s, const struct gw_store_table *const *tables, const char *path,
            char *err)
{
    for (int i = 0; tables && tables[i]; i++) {
        struct table *t = &s->tables[i];
        if (i == GW_STORE_MAX_TABLES || tables[i]->nstatements > GW_STORE_MAX_STATEMENTS)
            return gw_err(err, "%s: too many tables or statements", path);
        t->t = tables[i];
        s->ntables = i + 1;
        for (int j = 0; j < t->t->nstatements; j++)
            if (prepare(s, t->t->statements[j], &t->st[j], path, err) == -1)
                return -1;
        if (t->t->prune && prepare(s, t->t->prune, &t->prune, path, err) == -1)
            return -1;
    }
    return 0;
}

static void
free_db(struct gw_store *s)
{
    for (int i = 0; i < s->ntables; i++) {
        for (int j = 0; j < GW_STORE_MAX_STATEMENTS; j++)
            sqlite3_finalize(s->tables[i].st[j]);
        sqlite3_finalize(s->tables[i].prune);
    }
    sqlite3_close(s->db);
    free(s->path);
}

static int
init_sync(struct gw_store *s)
{
    pthread_condattr_t ca;
    int rc;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&s->work, &ca);
    pthread_condattr_destroy(&ca);
    if (rc)
        return -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->done, NULL);
    return 0;
}

static void
free_sync(struct gw_store *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->done);
}

struct gw_store *
gw_store_open(const char *path, const struct gw_store_table *const *tables, int history_days,
              char *err)
{
    struct gw_store *s;
    struct item *prune = NULL;
    int rc;

    if (make_parent(path, err) == -1)
        return NULL;
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        gw_err(err, "out of memory");
        return NULL;
    }
    s->history_days = history_days;
    s->queue_max = GW_STORE_QUEUE_MAX;
    if ((s->path = strdup(path)) == NULL) {
        gw_err(err, "out of memory");
        goto fail;
    }
    if (check_writable(path, err) == -1)
        goto fail;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        open_err(err, s->db, path);
        goto fail;
    }
    /* SQLite opens a write-protected file read-only without a word: every write would fail. */
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        gw_err(err, "%s: read-only: the file cannot be opened for writing", path);
        goto fail;
    }
    if (setup_db(s->db, path, tables, err) == -1 || prepare_all(s, tables, path, err) == -1)
        goto fail;
    if (init_sync(s) == -1) {
        gw_err(err, "cannot create a condition variable");
        goto fail;
    }
    if (history_days > 0 && (prune = prune_item(history_days)) != NULL)
        push_locked(s, prune);
    if ((rc = pthread_create(&s->thread, NULL, writer_main, s)) != 0) {
        errno = rc;
        gw_err_errno(err, "cannot start the database writer thread");
        free(s->head);
        free_sync(s);
        goto fail;
    }
    return s;
fail:
    free_db(s);
    free(s);
    return NULL;
}

void
gw_store_close(struct gw_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    free_db(s);
    free_sync(s);
    free(s);
}

int
gw_store_read(struct gw_store *s, int (*fn)(sqlite3 *db, void *arg, char *err), void *arg,
              char *err)
{
    sqlite3 *db = NULL;
    int rc;

    if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        open_err(err, db, s->path);
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    rc = fn(db, arg, err);
    sqlite3_close(db);
    return rc;
}

/* "file:" URI for path with immutable=1: '%', '?' and '#' must be escaped. */
static int
immutable_uri(const char *path, char *uri, size_t len)
{
    size_t n = (size_t)snprintf(uri, len, "file:");

    for (const char *p = path; *p; p++) {
        int w = strchr("%?#", *p) ? snprintf(uri + n, len - n, "%%%02X", (unsigned char)*p)
                                  : snprintf(uri + n, len - n, "%c", *p);
        if (w < 0 || (size_t)w >= len - n)
            return -1;
        n += (size_t)w;
    }
    return (size_t)snprintf(uri + n, len - n, "?immutable=1") < len - n ? 0 : -1;
}

static int
check_readonly_version(sqlite3 *db, const char *path, int *rc, char *err)
{
    char why[GW_ERR_LEN];
    int v;

    if (user_version(db, &v, why) == -1) {
        *rc = sqlite3_errcode(db);
        return gw_err(err, "%s: %s", path, why);
    }
    if (v == 0)
        return gw_err(err, "%s: not a gwkit database (schema version 0)", path);
    if (v > GW_STORE_VERSION)
        return gw_err(err, "%s: database schema version %d is newer than this build (%d)", path, v,
                      GW_STORE_VERSION);
    if (v < GW_STORE_VERSION)
        return gw_err(err,
                      "%s: database schema version %d is older than this build (%d); start a "
                      "daemon once to migrate it",
                      path, v, GW_STORE_VERSION);
    return 0;
}

static sqlite3 *
open_ro(const char *name, int flags, const char *path, int *rc, char *err)
{
    sqlite3 *db = NULL;

    *rc = SQLITE_OK;
    if (sqlite3_open_v2(name, &db, flags, NULL) != SQLITE_OK) {
        *rc = db ? sqlite3_errcode(db) : SQLITE_NOMEM;
        gw_err(err, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    if (check_readonly_version(db, path, rc, err) == -1) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

sqlite3 *
gw_store_open_readonly(const char *path, char *err)
{
    char wal[4200], uri[4200 * 3];
    struct stat sb;
    sqlite3 *db;
    int rc;

    if (stat(path, &sb) == -1) {
        gw_err_errno(err, "%s", path);
        return NULL;
    }
    db = open_ro(path, SQLITE_OPEN_READONLY, path, &rc, err);
    if (db || ((rc & 0xff) != SQLITE_CANTOPEN && (rc & 0xff) != SQLITE_READONLY))
        return db;
    /* No -shm and no right to create one (SQLite says "unable to open" or "attempt to write
     * a readonly database"). Without a -wal file every committed transaction is
     * in the main file, so reading it as immutable is exact (a writer starting meanwhile is
     * not seen). */
    snprintf(wal, sizeof(wal), "%s-wal", path);
    if (access(wal, F_OK) == 0 || errno != ENOENT)
        return NULL;
    if (immutable_uri(path, uri, sizeof(uri)) == -1) {
        gw_err(err, "path too long: %s", path);
        return NULL;
    }
    return open_ro(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, path, &rc, err);
}
