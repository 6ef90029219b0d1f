/*
 * logd.h -- the log collector: what crosses its files.
 *
 * Threads: main (signals, control socket, reload, tail streams), `workers` network threads
 * (syslog UDP and TCP, native protocol; each its own loop and SO_REUSEPORT listeners), the
 * Unix datagram thread, the ZeroMQ thread, the HTTP thread (lib/httpd: /metrics, POST /ingest)
 * and the one writer thread that owns the output files.
 *
 * Message path: an input parses what it reads into records, gathers them into a batch and
 * pushes the batch onto its lane (one lane per producing thread, bounded in bytes). The writer
 * takes batches from every lane, formats and writes them, commits (fsync per policy), and only
 * then publishes each lane's durable sequence number, which is what acknowledgements wait for.
 * A full lane makes stream inputs pause reading and datagram inputs drop and count.
 */
#ifndef LOGD_H
#define LOGD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "conf.h"
#include "daemon.h"
#include "ev.h"
#include "metrics.h"
#include "net.h"

struct logd;
struct logd_lane;
struct logd_writer;
struct logd_tail;
struct gw_ctl_req;

/* Where a record came from; the names are the metrics' `input` label. */
enum logd_input {
    LOGD_IN_UDP,
    LOGD_IN_TCP,
    LOGD_IN_UNIX,
    LOGD_IN_NATIVE,
    LOGD_IN_ZMQ,
    LOGD_IN_HTTP,
    LOGD_NINPUTS,
};
extern const char *const logd_input_names[LOGD_NINPUTS];

/* Run-time settings, an immutable snapshot: a reload publishes a new one, readers load the
 * pointer once per event batch, old snapshots are freed at exit. */
enum logd_format { LOGD_FMT_RAW, LOGD_FMT_JSON };
enum logd_fsync { LOGD_FSYNC_ALWAYS, LOGD_FSYNC_BATCH, LOGD_FSYNC_NEVER };

struct logd_config {
    size_t max_line_bytes;
    size_t max_frame_bytes;
    size_t queue_bytes;
    size_t batch_bytes;
    unsigned max_clients;
    uint64_t idle_timeout_ms;
    size_t max_ingest_bytes;
    uint64_t ingest_timeout_ms;
    char *output;
    enum logd_format format;
    enum logd_fsync fsync;
    uint64_t fsync_interval_ms;
    uint64_t rotate_bytes;
    uint64_t rotate_interval_ms;
    unsigned retention;
    int compress;
    struct logd_config *older; /* previous snapshots, freed at exit */
};

/* ---- records and batches (queue.c) ---- */

/* A record's text fields; each is a byte string (not NUL-terminated, may hold any byte). RAW is
 * the message as received (what `format = raw` writes); an unparsed message has only RAW. */
enum logd_field {
    LOGD_F_HOST,
    LOGD_F_APP,
    LOGD_F_PROCID,
    LOGD_F_MSGID,
    LOGD_F_SD,
    LOGD_F_MSG,
    LOGD_F_RAW,
    LOGD_F_PEER,
    LOGD_NFIELDS,
};
extern const char *const logd_field_names[LOGD_NFIELDS];

#define LOGD_REC_PARSED 0x1    /* syslog header understood (fields besides RAW are set) */
#define LOGD_REC_TRUNCATED 0x2 /* cut at max_line */
#define LOGD_REC_HAS_TIME 0x4  /* time_ms came from the message */
#define LOGD_REC_PLAIN 0x8     /* RAW holds nothing to escape (the parser checked every byte) */

struct logd_rec {
    int64_t time_ms; /* the message's own time, else the reception time */
    int64_t recv_ms;
    int8_t facility; /* 0..23, -1 unknown */
    int8_t severity; /* 0..7, -1 unknown */
    uint8_t input;   /* enum logd_input */
    uint8_t flags;   /* LOGD_REC_* */
    uint32_t off[LOGD_NFIELDS];
    uint32_t len[LOGD_NFIELDS];
};

/* Records gathered by one input, handed over as a unit. Owned by the input until pushed, then
 * by the writer, which frees it after the commit. */
struct logd_batch {
    struct logd_batch *next;
    uint64_t lane_seq; /* set by logd_lane_push */
    size_t nrec, caprec;
    size_t appended; /* the writer's progress: records handed to the output so far */
    struct logd_rec *recs;
    char *arena;
    size_t used, cap;
};

struct logd_batch *logd_batch_new(void);
void logd_batch_free(struct logd_batch *b);
/* Room for nrec records and bytes of field text (an input that knows what is coming saves
 * the growing). -1 when memory ran out (b unchanged). */
int logd_batch_reserve(struct logd_batch *b, size_t nrec, size_t bytes);
/* Memory the batch stands for in its lane's budget. */
size_t logd_batch_bytes(const struct logd_batch *b);
/* Starts a record (fields empty, facility and severity -1, both times now). The pointer is
 * valid until the next logd_batch_rec on b. NULL when memory ran out. */
struct logd_rec *logd_batch_rec(struct logd_batch *b, enum logd_input input, int64_t now_ms);
/* Sets a field of r (the last record of b) to a copy of len bytes. -1 when memory ran out. */
int logd_batch_field(struct logd_batch *b, struct logd_rec *r, enum logd_field f, const void *p,
                     size_t len);
/* Drops the last record (an input that could not finish it). */
void logd_batch_unrec(struct logd_batch *b);
static inline const char *
logd_rec_field(const struct logd_batch *b, const struct logd_rec *r, enum logd_field f, size_t *len)
{
    *len = r->len[f];
    return *len ? b->arena + r->off[f] : "";
}

/* ---- lanes (queue.c) ---- */

/* What the writer tells a lane's producer (from the writer thread): there is room again after
 * a refused push, or batches became durable (logd_lane_durable moved). */
#define LOGD_NOTE_SPACE 0x1u
#define LOGD_NOTE_DURABLE 0x2u
typedef void (*logd_lane_fn)(void *arg, unsigned notes);

/* A bounded queue from one producing thread to the writer. fn (may be NULL) gets the notes, on
 * the writer thread: it must only hand them over (gw_ev_post, a condition variable). NULL
 * when memory ran out or too many lanes exist. Any thread, before that thread pushes. */
struct logd_lane *logd_lane_new(struct logd *l, const char *name, logd_lane_fn fn, void *arg);
/* Queues b and wakes the writer. Returns b's lane sequence number (from 1, in push order), or 0
 * when the lane is over its budget (b not taken; a LOGD_NOTE_SPACE note follows once it has
 * drained below half). A batch pushed onto an empty lane is always taken. The producer's
 * thread. */
#define LOGD_PUSH_DURABLE 0x1 /* send a LOGD_NOTE_DURABLE note when it is durable */
#define LOGD_PUSH_FORCE 0x2   /* take it even over the budget (a closing connection's last) */
/* Do not wake the writer: the caller calls logd_writer_kick once after several pushes. */
#define LOGD_PUSH_NOKICK 0x4
uint64_t logd_lane_push(struct logd_lane *q, struct logd_batch *b, unsigned flags);
/* The highest lane sequence number committed to the files: every batch up to it is durable.
 * Any thread. */
uint64_t logd_lane_durable(const struct logd_lane *q);
/* The last sequence number given by logd_lane_push. Any thread. */
uint64_t logd_lane_pushed(struct logd_lane *q);
/* Blocks until seq is durable or timeout_ms passes; 0 or -1 (timeout). For producers that may
 * block (the HTTP thread). */
int logd_lane_wait(struct logd_lane *q, uint64_t seq, uint64_t timeout_ms);
const char *logd_lane_name(const struct logd_lane *q);
/* No more notes: once this returns, fn is not running and will not be called. Any thread. */
void logd_lane_detach(struct logd_lane *q);
/* Bytes and batches queued (waiting for the writer or being written). Any thread. */
void logd_lane_depth(const struct logd_lane *q, size_t *bytes, size_t *batches);
/* 1 when a push was refused and the lane still holds batches: its producer waits for the
 * room (and sends no kick) until the writer has drained it to half. Any thread. */
int logd_lane_held_back(const struct logd_lane *q);
void logd_lanes_free(struct logd *l);

/* Writer side: up to max_bytes of batches (at least one when any is queued), taken in order;
 * returns the list (NULL when empty). Writer thread. */
struct logd_batch *logd_lane_take(struct logd_lane *q, size_t max_bytes);
/* The writer committed everything taken from q up to seq: publish it, release the budget of
 * those batches (their count and logd_batch_bytes), send the notes. Writer thread. */
void logd_lane_done(struct logd_lane *q, uint64_t seq, size_t bytes, size_t batches);

/* ---- the writer (writer.c) ---- */

struct logd_writer *logd_writer_start(struct logd *l, char *err);
/* A batch was queued: wake the writer if it sleeps. Any thread, cheap. */
void logd_writer_kick(struct logd_writer *w);
/* Asks for everything queued now to be written and fsynced (whatever the policy); fn(arg) runs
 * on the main loop once it is. Main thread. */
void logd_writer_flush(struct logd_writer *w, void (*fn)(void *arg, int ok), void *arg);
/* From now on commits go out at once, whatever fsync_interval says (draining). Any thread. */
void logd_writer_hurry(struct logd_writer *w);
/* Reopens the output files at the next commit (SIGHUP, reload, logrotate). Any thread. */
void logd_writer_reopen(struct logd_writer *w);
/* Writes what every lane holds, commits it, stops the thread, frees w. Main thread, after the
 * inputs stopped. 1 when some of it could not be written by the stop deadline (a disk that
 * stayed full; logged, never acknowledged), else 0. */
int logd_writer_stop(struct logd_writer *w);
struct logd_writer_stats {
    int disk_full; /* writing fails for want of space: nothing is acknowledged */
    int failing;   /* writing fails for another reason */
    char error[GW_ERR_LEN];
    uint64_t disk_bytes;
    unsigned files_open;
};
void logd_writer_stats(struct logd_writer *w, struct logd_writer_stats *st);

/* ---- output files (output.c): lib/logfile under logd's config ---- */

struct gw_logfile;
struct gw_logfile_stats;
/* A gw_logfile for cfg (path or template, fsync policy, rotation, retention, compression).
 * NULL with err. */
struct gw_logfile *logd_output_open(const struct logd_config *cfg, char *err);
/* Queues the formatted line of r for the file its fields name (see gw_logfile_append: -1 with
 * errno ENOBUFS means commit first). Writer thread. */
int logd_output_append(struct gw_logfile *lf, const struct logd_batch *b, const struct logd_rec *r,
                       const char *line, size_t len, char *err);
/* The same with the line in parts (text, then its '\n'). */
struct iovec;
int logd_output_appendv(struct gw_logfile *lf, const struct logd_batch *b, const struct logd_rec *r,
                        const struct iovec *iov, int iovcnt, char *err);
/* Cuts a last line without its LF off a single output file (left by a crash mid-write: never
 * acknowledged). Before the writer starts. */
/* 1 when cfg changes what the output is (path, policy, rotation): the writer makes a new one
 * instead of reopening the files. */
int logd_output_changed(const struct logd_config *a, const struct logd_config *b);

/* ---- output lines (format.c) ---- */

/* Appends the record as one output line (with its '\n') in the given format to *buf (grown as
 * needed; *len is the used length, *cap its size). Bytes that are not printable UTF-8 are
 * escaped, never dropped. -1 when memory ran out. */
int logd_format_line(const struct logd_batch *b, const struct logd_rec *r, enum logd_format fmt,
                     char **buf, size_t *len, size_t *cap);
/* For `format = raw`: the record's text when its line is that text as it is (nothing to
 * escape), to be written followed by '\n' without formatting; NULL when it must go through
 * logd_format_line. */
const char *logd_format_raw_as_is(const struct logd_batch *b, const struct logd_rec *r,
                                  size_t *len);
/* The record as a JSON object (for tail). */
json_t *logd_format_json(const struct logd_batch *b, const struct logd_rec *r);
/* Facility and severity names ("daemon", "err"); "" for -1. */
const char *logd_facility_name(int facility);
const char *logd_severity_name(int severity);
/* "err" or "3" -> 3; -1 when unknown. */
int logd_severity_parse(const char *s);

/* ---- POST /ingest (ingest.c) ---- */

struct gw_httpd;
int logd_ingest_start(struct logd *l, struct gw_httpd *h, char *err);
/* Parses a body of JSON lines into b: one record each. 0, or -1 with the 1-based number of the
 * first bad line in *bad_line and a reason in err. Any thread; fuzzed. */
int logd_ingest_parse(const char *body, size_t len, size_t max_line, int64_t now_ms,
                      struct logd_batch *b, size_t *bad_line, char *err);

/* ---- tail (tail.c) ---- */

struct logd_tail *logd_tail_new(struct logd *l);
void logd_tail_free(struct logd_tail *t);
/* Writer thread, after a commit: hands b over (tail frees it) for the latest records and the
 * followers. */
void logd_tail_publish(struct logd_tail *t, struct logd_batch *b);
/* The control command: {"follow":bool,"app":..,"severity":..,"lines":N}. Main thread. */
void logd_tail_cmd(struct gw_ctl_req *r, json_t *args, void *arg);

/* ---- network inputs (input.c, stream.c, native.c) ---- */

struct gw_worker;
struct gw_workers;
struct gw_listener;
struct gw_conn;
struct gw_conn_proto;
struct gw_udp_batch;
struct logd_native;

/* A syslog TCP or native connection (the gw_conn's user pointer). Worker thread. */
struct logd_conn {
    struct logd_worker *ws;
    struct gw_conn *c;
    enum logd_input input;
    char peer[GW_ADDR_STRLEN];
    /* Backpressure: a batch the full lane refused, waiting on ws->blocked. */
    struct logd_batch *blocked;
    int blocked_durable;
    uint64_t blocked_since_ns;
    struct logd_conn *next_blocked;
    /* Syslog framing, and the unfinished frame kept for the end of the stream. */
    struct logd_syslog_framer *framer;
    /* Syslog: the records read in this loop iteration, pushed after it (stream.c). */
    struct logd_batch *filling;
    struct logd_conn *next_filling;
    int on_filling;
    size_t fill_recs, fill_bytes; /* the size of the last one: the next is made that big */
    /* Native: the protocol state (native.c). */
    struct logd_native *native;
    struct logd_conn *next_acker;
    int in_ackers;
};

/* One network worker's own state (index = the worker's). Its fields belong to the worker's
 * thread, except notes and posted (the writer thread sets them). */
struct logd_worker {
    struct logd *l;
    struct gw_worker *w;
    struct logd_lane *lane;
    int udp_fd;
    struct gw_udp_batch *udp; /* receive buffers for the datagram inputs */
    int tz_offset_s;
    uint64_t tz_ms;
    struct logd_conn *blocked, *blocked_tail; /* refused by the full lane, reading paused */
    /* Stream connections with a filling batch to push after this loop iteration (stream.c),
     * the datagrams read in it and the size of the last such batch, whether that push is
     * deferred yet, and the iteration's reception time and zone (input.c). */
    struct logd_conn *filling;
    struct logd_batch *dgram_fill;
    size_t dgram_fill_recs, dgram_fill_bytes;
    int fill_deferred;
    int64_t fill_now_ms;
    int fill_tz;
    /* Wakes the writer for pushes that did not, and the bytes they pushed; reads the UDP
     * socket when its reading is paused until then, and has the flush after the iteration
     * wake the writer (input.c). */
    struct gw_ev_timer kick_timer;
    size_t unkicked;
    int dgram_paused;
    int udp_pace; /* the socket's buffer is big enough for paced reading */
    int kick_after_flush;
    struct logd_conn *ackers; /* native connections owed acknowledgements */
    struct gw_listener *native;
    struct gw_listener *native_unix; /* worker 0 only */
    struct gw_ev_timer ack_timer;    /* while connections wait on batches of other lanes */
    atomic_uint notes;
    atomic_int posted;
};

/* Parses one syslog line into a new record of b (RAW = the line; the other fields slices of
 * it). 1 when the line is empty once its framing (LF, CR, NUL) is off: nothing is added; -1
 * when memory ran out. */
int logd_syslog_rec(struct logd_batch *b, enum logd_input in, const char *line, size_t len,
                    int truncated, const char *peer, int64_t now_ms, int tz_offset_s);
/* The UTC offset zoneless RFC 3164 times are read in (logd's own zone), cached a minute. */
int logd_local_offset(struct logd_worker *ws);
/* Queues the push of this loop iteration's filling batches (streams' and datagrams') for after
 * its events, with one wake-up of the writer within KICK_BYTES / KICK_DELAY_MS, and takes the
 * iteration's reception time and zone (ws->fill_now_ms, ws->fill_tz). 0, or -1 when the call
 * could not be queued (out of memory): the caller pushes what it read itself. Worker thread. */
int logd_worker_defer_flush(struct logd_worker *ws);
/* Binds the Unix datagram socket (l->dgram_path) before the workers start. */
int logd_dgram_open(struct logd *l, char *err);
/* Starts the workers with every network input; stops accepting; stops and joins them. Main
 * thread. */
int logd_inputs_start(struct logd *l, char *err);
void logd_inputs_drain(struct logd *l);
void logd_inputs_stop(struct logd *l);
const char *logd_inputs_backend(const struct logd *l);

/* stream.c: syslog over TCP (RFC 6587 framing, chosen per frame). */
extern const struct gw_conn_proto logd_stream_proto;
extern struct logd *logd_stream_logd;
/* The bookkeeping of a closing connection (a blocked batch is pushed anyway). */
/* A stream connection's bookkeeping at open (lc allocated by its protocol; it becomes c's user
 * pointer) and at close. */
void logd_conn_opened(struct logd_conn *lc, struct logd_worker *ws, struct gw_conn *c,
                      enum logd_input input);
void logd_conn_closed(struct logd_conn *lc);
/* Pushes every stream connection's filling batch without waking the writer (a refused one
 * blocks its connection); returns the bytes the lane took. Called after the loop iteration. */
size_t logd_stream_flush(struct logd_worker *ws);
/* The size past which a filling batch is pushed at once, not after the iteration. */
size_t logd_fill_max(struct logd *l);
/* The worker's lane has room again: push the waiting batches, resume their connections. */
void logd_stream_unblock(struct logd_worker *ws);
/* Pushes c's batch; when the lane refuses it, c stops reading and waits on ws->blocked. */
void logd_stream_push(struct logd_worker *ws, struct logd_conn *c, struct logd_batch *b,
                      int want_durable);
/* The same without waking the writer (LOGD_PUSH_NOKICK): kick it after the last push. */
void logd_stream_push_nokick(struct logd_worker *ws, struct logd_conn *c, struct logd_batch *b,
                             int want_durable);

/* native.c: the native acknowledged protocol over TCP. */
int logd_native_start(struct logd_worker *ws, char *err);
void logd_native_stop(struct logd_worker *ws);
void logd_native_stop_timer(struct logd_worker *ws);
/* Batches became durable: acknowledge what each native connection is owed. */
void logd_native_acks(struct logd_worker *ws);
/* The records of an opened native batch as a new logd batch; NULL when memory ran out. */
struct gw_native_batch;
struct logd_batch *logd_native_convert(struct logd *l, enum logd_input in, const char *peer,
                                       struct gw_native_batch *nb);
/* Records that lc's batch went into its lane as seq, for its session's durable mark. -1 when
 * memory ran out. */
int logd_native_pending(struct logd_conn *lc, uint64_t seq);
/* lc's batch was queued as lane sequence number seq: acknowledge it once durable. */
void logd_native_pushed(struct logd_conn *lc, uint64_t seq);

/* zmq.c: the ZeroMQ PULL input, on a thread of its own. */
struct logd_zmq;
struct logd_zmq *logd_zmq_start(struct logd *l, char *err);
void logd_zmq_stop(struct logd_zmq *z);

/* ---- metrics (metrics.c) ---- */

struct logd_metrics {
    struct gw_metrics *reg;
    int received[LOGD_NINPUTS];
    int received_bytes[LOGD_NINPUTS];
    int dropped[LOGD_NINPUTS];
    int backpressure[LOGD_NINPUTS];
    int parsed, unparsed, truncated;
    int queue_bytes, queue_batches;
    int written, written_bytes, fsyncs, rotations, disk_bytes, write_errors, commit_seconds;
    int acks;
    int native_bad_frames;
    int active_connections;
    int connections_total;
    int refused_connections;
    int ingest_ok, ingest_bad, ingest_too_large, ingest_busy;
    int tail_dropped;
    /* Time inputs spent not reading because their lane was full, in ns (a counter in seconds
     * at scrape time). */
    atomic_uint_fast64_t backpressure_ns[LOGD_NINPUTS];
};

int logd_metrics_init(struct logd *l, char *err);
/* Counts one record read by an input (received, bytes, parsed or not, truncated). */
void logd_count_rec(struct logd *l, const struct logd_rec *r, size_t bytes);
/* The same counts gathered over the records of one read, added to the metrics at once (a
 * metrics update per series per read, not per record). */
struct logd_tally {
    uint64_t n, bytes, parsed, truncated;
};
static inline void
logd_tally_rec(struct logd_tally *t, const struct logd_rec *r, size_t bytes)
{
    t->n++;
    t->bytes += bytes;
    t->parsed += (r->flags & LOGD_REC_PARSED) != 0;
    t->truncated += (r->flags & LOGD_REC_TRUNCATED) != 0;
}
void logd_tally_flush(struct logd *l, enum logd_input in, struct logd_tally *t);

/* ---- the daemon ---- */

#define LOGD_MAX_LANES 600

struct logd {
    struct gw_daemon *daemon;
    _Atomic(struct logd_config *) cfg;
    struct logd_metrics m;
    struct logd_writer *writer;
    struct logd_tail *tail;
    struct gw_httpd *httpd;
    struct logd_lane *lanes[LOGD_MAX_LANES];
    atomic_uint nlanes;
    unsigned nworkers;
    struct gw_workers *workers;
    struct logd_worker *ws; /* nworkers of them */
    int dgram_fd;
    struct logd_zmq *zmq;
    char syslog_str[GW_ADDR_STRLEN];
    char native_str[GW_ADDR_STRLEN];
    char http_str[GW_ADDR_STRLEN];
    char dgram_path[256];
    char native_path[256]; /* the native protocol's Unix stream socket, or "" */
    char zmq_str[256];
    int syslog_udp;
    size_t udp_rcvbuf; /* SO_RCVBUF asked for the UDP sockets */
    atomic_int nconns;
    uint64_t started_ms;
    char hostname[256];
};

/* config.c */
struct logd_config *logd_config_new(const struct gw_conf *c, char *err);
void logd_config_free(struct logd_config *cfg);
static inline struct logd_config *
logd_cfg(struct logd *l)
{
    return atomic_load_explicit(&l->cfg, memory_order_acquire);
}
int logd_reload(void *arg, const struct gw_conf *c, char *err);

/* ctl.c */
extern const struct gw_ctl_cmd logd_ctl_cmds[];
json_t *logd_status(void *arg);
json_t *logd_health(void *arg);
/* [{"input":..,"listen":..,"messages":..,"bytes":..,"dropped":..,"backpressure_s":..}].
 * Any thread. */
json_t *logd_inputs_json(struct logd *l);

/* schema.c */
#include "logd/logd_schema.h"

#endif
