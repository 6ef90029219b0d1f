/*
 * logfile.h -- durable file output for logd: formatted lines appended in batches to one file
 * or to files named by a path template, with an fsync policy, rotation, retention and zstd
 * compression of rotated files on a background thread.
 *
 * Lines are bytes ending in '\n', already formatted (raw or JSON lines); this module adds and
 * removes nothing. A batch is any number of gw_logfile_append() calls followed by one
 * gw_logfile_commit(). Nothing in a batch may be acknowledged to a client before the commit
 * returns 0.
 *
 * Durability, by policy (enum gw_logfile_fsync):
 *   always  commit() writes each touched file and fsync()s it (data and metadata), every
 *           commit; the caller commits after every input batch.
 *   batch   commit() writes each touched file and fdatasync()s it once, whatever the number of
 *           lines. Group commit comes from the caller: it appends what arrived and commits
 *           once the batch is large enough, and at the latest when gw_logfile_tick() finds the
 *           oldest uncommitted line fsync_interval_ms old (tick commits it then). So a line
 *           waits at most fsync_interval_ms (plus one write and one fdatasync) for its ack.
 *   never   commit() returns once write() has handed the lines to the kernel; no fsync. A
 *           crash of logd loses nothing so committed, but a crash of the machine (power loss,
 *           kernel panic) loses what the kernel had not yet written back (typically up to
 *           30 s), although logd acknowledged it: with `never`, an ack means "written", not
 *           "on disk".
 * Under always and batch, a file or directory this module creates is made durable too (its
 * parent directory is fsync()ed), and so is the rename of a rotation.
 *
 * Failure: when a write, an fsync or an open fails (ENOSPC, EDQUOT, EIO, EROFS, EFBIG...),
 * commit() returns -1 with errno and a reason, and every line not yet durable stays in
 * memory (bounded by max_pending_bytes; appends past it are refused with ENOBUFS, which is the
 * caller's signal to stop reading its inputs). The file never keeps a partial line or a line
 * that was not made durable: a short write, or a failed fsync (after which Linux may have
 * dropped the dirty pages), is undone with ftruncate() back to the last durable size, so a
 * later commit (or tick, which retries every retry_interval_ms) writes each line exactly once.
 * This assumes logd is the only writer of its files (no copytruncate; use reopen).
 *
 * Path templates: `%{app}`, `%{host}`, `%{facility}`, `%{severity}` (syslog names, "local0",
 * "err"), `%{date}` (UTC YYYY-MM-DD) and `%{hour}` (UTC HH) of the line's time. Values are
 * sanitised (gw_logfile_sanitize) so they can never name a path outside the fixed prefix (the
 * template's directory part before its first field). Missing directories (the prefix too)
 * are created with dir_mode, files with file_mode (both less the umask), opened with
 * O_APPEND|O_CLOEXEC on first use; at most max_open_files stay open (least recently used
 * closed first). A template's file name must end with fixed text after its last field
 * (`%{app}.log`), so that no value can make a current file look like a rotated one.
 *
 * Rotation: before a write would take a file past rotate_size bytes (a line longer than that
 * gets a file to itself), and at the first write (or tick) after a rotate_interval_s boundary
 * (aligned to UTC: 3600 rotates on the hour, 86400 at midnight UTC; the period of a file
 * found at start is the one of its mtime). The file is renamed to `<name>.<UTC time of the
 * rotation>` like `app.log.20261206T030000Z` (`-1`, `-2`... appended when that name is
 * taken) and a new file is opened. Timestamped names, not logrotate's app.log.1, because a
 * rotated file then never changes name again: the background compressor and the retention
 * pass never race a renaming writer, a crash during rotation leaves no gap or duplicate in a
 * numbering, backups do not copy every file again at each rotation, and the names sort by
 * time (logrotate's `dateext` gives operators the same habit). retention is the number of
 * rotated files kept per path; 0 keeps them all (a zeroed config never deletes logs).
 *
 * Compression (compress != 0): a background thread (started on first need, at lowered CPU
 * priority) compresses each rotated file into `<rotated>.zst.tmp`, fsyncs it, renames it to
 * `<rotated>.zst`, fsyncs the directory and only then unlinks the uncompressed file; it also
 * applies retention. The writer only queues a job (never waits for compression). A crash or
 * gw_logfile_free() mid-compression leaves the uncompressed file and a stale .tmp; the first
 * use of that path later removes the .tmp and compresses the file again.
 *
 * Threads: one writer thread owns a gw_logfile and makes every call on it (including
 * gw_logfile_stats); the compressor thread is internal and shares nothing with callers.
 */
#ifndef GW_LOGFILE_H
#define GW_LOGFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Longest value a template field renders to, after sanitising. */
#define GW_LOGFILE_FIELD_MAX 64

enum gw_logfile_fsync {
    GW_LOGFILE_FSYNC_NEVER,
    GW_LOGFILE_FSYNC_BATCH,
    GW_LOGFILE_FSYNC_ALWAYS,
};

/* Error reasons counted in gw_logfile_stats.errors, from errno. */
enum gw_logfile_err {
    GW_LOGFILE_ERR_NOSPACE,  /* ENOSPC, EDQUOT */
    GW_LOGFILE_ERR_IO,       /* EIO */
    GW_LOGFILE_ERR_READONLY, /* EROFS */
    GW_LOGFILE_ERR_TOOBIG,   /* EFBIG (RLIMIT_FSIZE or the file system's limit) */
    GW_LOGFILE_ERR_ACCESS,   /* EACCES, EPERM */
    GW_LOGFILE_ERR_OTHER,
    GW_LOGFILE_ERR_COUNT,
};

struct gw_logfile_config {
    const char *path;               /* file path or template; copied */
    enum gw_logfile_fsync fsync;    /* default (0) never */
    unsigned fsync_interval_ms;     /* batch: tick commits lines this old; 0 = at every tick */
    uint64_t rotate_size;           /* bytes; 0 = no size rotation */
    unsigned rotate_interval_s;     /* seconds; 0 = no time rotation */
    unsigned retention;             /* rotated files kept per path; 0 = all */
    int compress;                   /* zstd the rotated files */
    int compress_level;             /* zstd level; 0 = 3 */
    unsigned max_open_files;        /* 0 = 64 */
    size_t max_pending_bytes;       /* uncommitted and unsynced lines; 0 = 16 MiB */
    unsigned retry_interval_ms;     /* tick retries a failed commit this often; 0 = 1000 */
    unsigned file_mode, dir_mode;   /* 0 = 0640, 0750 */
    int64_t (*clock_ms)(void *arg); /* wall clock for rotation; NULL = gw_wall_ms */
    void *clock_arg;
};

/* The record fields a template may use. Strings are bytes with a length (NUL bytes and all);
 * NULL or empty renders "unknown". facility 0..23 and severity 0..7 render their syslog
 * names, other values their number, negative ones "unknown". time_ms is the line's time (ms
 * since the epoch, UTC) for %{date} and %{hour}; prefer the receive time unless the sender's
 * clock is trusted, as each distinct hour makes a file. */
struct gw_logfile_fields {
    const char *app;
    size_t app_len;
    const char *host;
    size_t host_len;
    int facility;
    int severity;
    int64_t time_ms;
};

struct gw_logfile_stats {
    uint64_t lines, bytes;                 /* made durable under the policy (never: written) */
    uint64_t commits;                      /* commits that returned 0 with something written */
    uint64_t fsyncs;                       /* fsync/fdatasync calls, files and directories */
    uint64_t rotations;                    /* files renamed by rotation */
    uint64_t compressed;                   /* rotated files compressed */
    uint64_t removed;                      /* rotated files removed by retention */
    uint64_t errors[GW_LOGFILE_ERR_COUNT]; /* failed operations, writer and compressor */
    uint64_t refused;                      /* appends refused: max_pending_bytes reached */
    uint64_t bytes_on_disk; /* sum of the sizes of the current (unrotated) files known */
    uint64_t open_files;    /* file descriptors held by the writer */
    uint64_t pending_lines; /* appended, not yet durable */
    uint64_t pending_bytes;
    uint64_t torn_cut; /* bytes of unfinished last lines (a crash mid-write) cut at first open */
};

struct gw_logfile;

/* Checks the template and prepares an output; does no I/O and starts no thread. NULL with err
 * on a bad template ("unknown field %{foo}", a "." or ".." component, no fixed file-name
 * suffix after the last field, a rendered path that could pass PATH_MAX) or no memory. */
struct gw_logfile *gw_logfile_new(const struct gw_logfile_config *cfg, char *err);

/* Closes the files, stops the compressor (abandoning a file in progress) and frees lf.
 * Uncommitted lines are dropped: commit first. NULL is ignored. */
void gw_logfile_free(struct gw_logfile *lf);

/* Queues one line (len bytes ending in '\n'; copied) for the file its fields name. No I/O.
 * -1 with errno EINVAL (no final '\n'), EMSGSIZE (longer than max_pending_bytes: it never
 * fits), ENOBUFS (max_pending_bytes reached: commit, or stop reading inputs until a commit
 * succeeds), ENOMEM. */
int gw_logfile_append(struct gw_logfile *lf, const struct gw_logfile_fields *f, const char *line,
                      size_t len, char *err);

/* The same with one line given in parts, gathered in order (a formatted line and its '\n'
 * without first copying them together): its only '\n' is its last byte (it is counted as one
 * line without searching for more). */
struct iovec;
int gw_logfile_appendv(struct gw_logfile *lf, const struct gw_logfile_fields *f,
                       const struct iovec *iov, int iovcnt, char *err);

/* Writes every queued line, rotating as needed, and applies the fsync policy. 0 when every
 * line appended so far is durable under the policy (acknowledge them now); -1 with errno and
 * err naming the file and the step when any is not: the lines not yet durable are kept and a
 * later commit retries them (each line reaches its file exactly once). Rotation failures are
 * counted but do not fail the commit (the file just grows). */
int gw_logfile_commit(struct gw_logfile *lf, char *err);

/* Periodic work; call when gw_logfile_next_tick_ms() says. Commits when lines are due (batch:
 * the oldest is fsync_interval_ms old; always and never: any queued line) or a failed commit
 * is due for a retry, and rotates idle open files whose interval has ended. 1 when it
 * committed (acknowledge what was appended), 0 when it had nothing to commit, -1 as commit. */
int gw_logfile_tick(struct gw_logfile *lf, char *err);

/* Milliseconds until gw_logfile_tick() has work (0 = now), or -1 when it has none. */
int64_t gw_logfile_next_tick_ms(struct gw_logfile *lf);

/* Bytes appended and not yet durable; a caller batching under `batch` commits past its size. */
size_t gw_logfile_pending_bytes(const struct gw_logfile *lf);

/* Closes every file so the next commit opens each path again (SIGHUP, logrotate `create`).
 * Files are durable already (commit syncs before returning). */
void gw_logfile_reopen(struct gw_logfile *lf);

/* Fills st. Compressor counters are read atomically. */
void gw_logfile_stats(const struct gw_logfile *lf, struct gw_logfile_stats *st);

/* Short name of an error reason for metric labels ("nospace", "io", ...). */
const char *gw_logfile_err_name(enum gw_logfile_err e);

/* Parses "always", "batch" or "never"; 0, or -1 for anything else. */
int gw_logfile_fsync_parse(const char *s, enum gw_logfile_fsync *out);

/* Renders the path the fields name into out (size bytes, PATH_MAX is enough). 0, or -1 with
 * err when it does not fit. Thread-safe: reads only the parsed template. */
int gw_logfile_path(const struct gw_logfile *lf, const struct gw_logfile_fields *f, char *out,
                    size_t size, char *err);

/* Sanitises len bytes of a field value into out (GW_LOGFILE_FIELD_MAX + 1 bytes) and returns
 * its length: bytes outside [A-Za-z0-9._-] become '_', and so do a leading or trailing
 * '.' and a '.' after a '.', so the result has no '/', no "..", no leading '.' and makes no
 * ".." next to the template's text; cut to GW_LOGFILE_FIELD_MAX;
 * NULL or empty gives "unknown". NUL-terminated. */
size_t gw_logfile_sanitize(const char *in, size_t len, char *out);

/* Waits until the compressor has no queued or running job: 0, or -1 after timeout_ms. For
 * tests and for a drain that wants compression finished. */
int gw_logfile_compress_wait(struct gw_logfile *lf, int timeout_ms);

#endif
