/*
 * logclient.h -- the client of logd's native protocol (lib/native.h): batches records, sends
 * them, and keeps each batch until logd acknowledges it as durable, resending after a
 * reconnect. Used by `gwctl log` and by daemons with `log_to = logd`.
 *
 * Blocking and simple: the calls below do their network work in the caller's thread, each
 * within the time it is given (poll with deadlines over a non-blocking socket). Not
 * thread-safe: one thread uses a client at a time (a daemon gives it a thread of its own).
 *
 * Memory is bounded by max_pending_bytes: the open batch plus every batch sent and not yet
 * acknowledged. When it is full, gw_logclient_add() waits for acknowledgements (up to
 * add_timeout_ms) with block_when_full, or fails at once without it; nothing already added is
 * ever dropped to make room.
 *
 * Delivery: every batch keeps its sequence number and bytes until an ACK covers it. After the
 * connection breaks (refused, reset, closed, or no ACK progress for ack_timeout_ms), the
 * client reconnects with exponential backoff and jitter (backoff_min_ms doubling to
 * backoff_max_ms), sends HELLO with the same session id, forgets what the WELCOME says is
 * durable, and resends the rest in order. A batch the server refuses for a reason resending
 * cannot cure (bad_record, too_large, ...) is dropped and counted (stats.rejected_*), and the
 * next gw_logclient_flush() reports it; transient refusals (bad_crc, busy, internal) are
 * resent.
 */
#ifndef GW_LOGCLIENT_H
#define GW_LOGCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "syslog.h"
#include "util.h"

struct gw_logclient_opts {
    const char *addr;           /* "host:port", "[v6]:port", "unix:/path" or "/path" */
    const char *name;           /* sent in HELLO; default "gwkit" */
    int connect_timeout_ms;     /* default 2000 */
    int ack_timeout_ms;         /* default 10000: sent batches without ACK progress -> reconnect */
    int add_timeout_ms;         /* default 5000: how long a full add waits (block_when_full) */
    int block_when_full;        /* default 1 */
    size_t max_batch_bytes;     /* default 256 KiB (and never above the server's limit) */
    uint32_t max_batch_records; /* default 1000 */
    size_t max_pending_bytes;   /* default 8 MiB; at least max_batch_bytes + 64 */
    int zstd_level;             /* default 0: no compression */
    int backoff_min_ms;         /* default 100 */
    int backoff_max_ms;         /* default 5000 */
};

struct gw_logclient_stats {
    uint64_t records_added;
    uint64_t records_acked;
    uint64_t batches_sent;   /* first sends */
    uint64_t batches_resent; /* sends after a reconnect */
    uint64_t batches_acked;
    uint64_t batches_rejected; /* refused for good by the server, dropped */
    uint64_t records_rejected;
    uint64_t records_truncated; /* messages cut to fit max_batch_bytes */
    uint64_t connects;          /* successful handshakes */
    uint64_t connect_failures;
    uint64_t session;   /* this client's session id */
    uint64_t last_seq;  /* highest sequence number given to a batch */
    uint64_t acked_seq; /* highest acknowledged */
    size_t pending_bytes;
    size_t pending_batches; /* sealed, not yet acknowledged */
    int connected;
};

/* Fills in the defaults above (addr NULL). */
void gw_logclient_opts_default(struct gw_logclient_opts *o);

/* Makes a client: checks the options and resolves the address (names resolve here, so call it
 * where blocking is fine); does not connect yet. Returns NULL with err ("bad port ..."). */
struct gw_logclient *gw_logclient_new(const struct gw_logclient_opts *o, char *err);

/*
 * Queues a copy of rec (its slices are copied; recv_ns, input, source and line are not sent).
 * A message too long for one batch is cut to fit and marked truncated. The batch is sealed
 * when it reaches max_batch_records or max_batch_bytes and then sent as far as the socket
 * takes it without waiting (if connected). Returns 0, or -1 with err: "bad record: ..." (see
 * gw_native_record_append), or "queue full (N bytes pending)" when there is no room (without
 * block_when_full, or after add_timeout_ms with it).
 */
int gw_logclient_add(struct gw_logclient *c, const struct gw_logrec *rec, char *err);

/* Shorthand for add(): a record with this severity (0..7 or -1), app and message, time now. */
int gw_logclient_log(struct gw_logclient *c, int severity, const char *app, const char *msg,
                     char *err);

/* Seals the open batch and sends every unsent batch, connecting if needed, for at most
 * timeout_ms (0: one round of whatever can be done without waiting, for a caller that polls;
 * connects are non-blocking and carry on over calls). Also reads ACKs. Returns 0 when all are
 * written (not yet acknowledged), -1 with err on timeout (everything stays queued; a later
 * call carries on). */
int gw_logclient_send(struct gw_logclient *c, int timeout_ms, char *err);

/* Seals the open batch and waits until every batch is acknowledged, for at most timeout_ms.
 * Returns 0, or -1 with err: on timeout ("timed out after 500 ms with 3 batches unacknowledged:
 * connect 127.0.0.1:5515: Connection refused"), or when batches were refused since the last
 * flush ("server refused 1 batch (10 records): bad_record: ..."). */
int gw_logclient_flush(struct gw_logclient *c, int timeout_ms, char *err);

/* Current figures. */
void gw_logclient_stats(const struct gw_logclient *c, struct gw_logclient_stats *st);

/* Closes the connection and frees everything, acknowledged or not (flush first). NULL is fine. */
void gw_logclient_free(struct gw_logclient *c);

#endif
