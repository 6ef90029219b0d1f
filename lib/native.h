/*
 * native.h -- logd's native protocol: acknowledged, checksummed batches of log records.
 *
 * Encoders and decoders only: no sockets, no threads, no global state (lib/logclient.h is the
 * client; logd's native input is the server). Any thread may use its own objects.
 *
 * PROTOCOL (version 1). A stream connection (TCP, default port 5515, or a Unix stream socket).
 * All integers big-endian. Every frame, either way, is a 32-byte header and a payload:
 *
 *     0  u32 magic       0x47574C31, "GWL1"
 *     4  u8  type        1 HELLO, 2 WELCOME, 3 BATCH, 4 ACK, 5 ERROR
 *     5  u8  version     1
 *     6  u16 flags       BATCH: bit 0 = payload is one zstd frame that declares its content
 *                        size; all other bits 0
 *     8  u64 seq         BATCH: its sequence number; ACK: highest durable sequence number;
 *                        WELCOME: highest durable sequence number of the session (0: none);
 *                        ERROR: the batch refused (0 if none); HELLO: 0
 *     16 u32 count       BATCH: records in it (>= 1); ERROR: the error code; others 0
 *     20 u32 length      payload bytes that follow, as sent
 *     24 u32 raw_length  BATCH: payload bytes after decompression (= length without zstd);
 *                        others: = length
 *     28 u32 crc32c      CRC-32C (lib/crc32c.h) of the payload as sent (after compression)
 *     32 payload
 *
 * Payloads:
 *     HELLO   client -> server, first frame: u64 session id (random, non-zero, one per client
 *             process or spool), then the client's name (0..255 bytes, printable ASCII, no spaces)
 *     WELCOME server -> client, the answer to HELLO: u32 max payload, u32 max decompressed
 *             payload, u32 max records per batch (the server's limits, by default 4 MiB,
 *             16 MiB and 65536; a client keeps its batches within them)
 *     BATCH   client -> server: `count` records, each
 *                 u32 length of the rest of the record
 *                 u8  severity 0..7, or 255 for none
 *                 u8  facility 0..23, or 255 for none
 *                 u8  flags: bit 0 the time carried a zone, bit 1 truncated by the sender;
 *                     other bits 0
 *                 u8  0
 *                 i16 UTC offset of the time as written, minutes (-1439..1439)
 *                 i64 event time, ns since the epoch (0 for none)
 *                 u8 n, host (n <= 255) | u8 n, app (<= 48) | u8 n, procid (<= 128) |
 *                 u8 n, msgid (<= 32): each empty or printable US-ASCII, as in RFC 5424
 *                 u16 n, structured data: empty or valid RFC 5424 SD ("[id k=\"v\"]")
 *                 the message: the rest of the record, any bytes (escaped on output)
 *             The records fill the (decompressed) payload exactly.
 *     ACK     server -> client: no payload
 *     ERROR   server -> client: UTF-8 text (at most 1024 bytes) for people; the code is in
 *             `count`. Then the server closes the connection the lingering way: it shuts
 *             down its sending side and reads and discards until the client closes (or a few
 *             seconds pass), because closing a socket with unread input sends a reset that
 *             can destroy the ERROR before the client reads it.
 *
 * Conversation. The client sends HELLO and waits for WELCOME; then it sends BATCHes, without
 * waiting for each ACK. Sequence numbers are the client's: per session, starting at 1 and
 * strictly increasing on a connection (gaps are allowed). The server writes each batch and,
 * once it and every batch before it on the session are durable under logd's fsync policy,
 * sends ACK with the highest such number: acknowledgements are cumulative, and nothing is
 * acknowledged before it is durable. A batch that fails any check is never acknowledged: the
 * server sends ERROR (with the batch's seq) and closes; nothing of that batch is written.
 *
 * Reconnects. A client keeps every batch until an ACK covers it. After losing the connection
 * it reconnects (with backoff), sends HELLO with the same session id, drops the batches the
 * WELCOME's seq covers, and resends the rest with their original numbers and bytes. The server
 * keeps, per session, the highest seq it accepted (in its pipeline or durable) and the
 * highest durable one; a batch at or below the accepted mark is a duplicate: it is checked,
 * not written again, and acknowledged when the durable mark reaches it
 * (gw_native_seq_check()). Both marks belong to the session, not to a connection: batches
 * accepted on a connection that has since closed still advance the durable mark when they
 * become durable, and the ACK for a resent duplicate comes from that. So while logd runs,
 * delivery is exactly once. A session's marks live in memory (forgotten some time after its
 * last connection closes, and on restart): after a logd restart, batches that were durable
 * but whose ACK was lost are written a second time -- delivery is at least once, never less.
 *
 * Errors (ERROR's code; "transient" ones may succeed if the client resends after a
 * reconnect, the others mean the batch itself is bad and resending it cannot help):
 *     1 bad_frame       bad magic, unknown type or flags, a frame out of turn
 *     2 bad_version     version other than 1
 *     3 bad_crc         CRC-32C mismatch (transient: corruption on the way)
 *     4 too_large       payload, decompressed size or record count over the server's limits
 *     5 bad_record      a record breaks the layout above
 *     6 bad_sequence    seq 0, or not above the previous batch on this connection
 *     7 bad_compression not one zstd frame, or its size is not raw_length
 *     8 busy            the server is shutting down or cannot accept now (transient)
 *     9 internal        the server could not make the batch durable (transient)
 */
#ifndef GW_NATIVE_H
#define GW_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "syslog.h"
#include "util.h"

#define GW_NATIVE_MAGIC 0x47574C31u
#define GW_NATIVE_VERSION 1
#define GW_NATIVE_HDR_LEN 32
#define GW_NATIVE_REC_MIN 24   /* smallest record: length, fixed part, empty strings */
#define GW_NATIVE_NAME_MAX 255 /* HELLO client name */
#define GW_NATIVE_ERRTEXT_MAX 1024
#define GW_NATIVE_SD_MAX 65535

/* Frame types. */
#define GW_NATIVE_HELLO 1
#define GW_NATIVE_WELCOME 2
#define GW_NATIVE_BATCH 3
#define GW_NATIVE_ACK 4
#define GW_NATIVE_ERROR 5

/* Header flags. */
#define GW_NATIVE_F_ZSTD 0x1

/* Record flags. */
#define GW_NATIVE_R_TZ 0x1
#define GW_NATIVE_R_TRUNCATED 0x2

/* Error codes. */
#define GW_NATIVE_E_FRAME 1
#define GW_NATIVE_E_VERSION 2
#define GW_NATIVE_E_CRC 3
#define GW_NATIVE_E_TOO_LARGE 4
#define GW_NATIVE_E_RECORD 5
#define GW_NATIVE_E_SEQUENCE 6
#define GW_NATIVE_E_COMPRESSION 7
#define GW_NATIVE_E_BUSY 8
#define GW_NATIVE_E_INTERNAL 9

/* Defaults of struct gw_native_limits. */
#define GW_NATIVE_MAX_PAYLOAD_DEFAULT (4u << 20)
#define GW_NATIVE_MAX_RAW_DEFAULT (16u << 20)
#define GW_NATIVE_MAX_RECORDS_DEFAULT 65536u

/* What a receiver accepts. The sender of a frame is held to the receiver's limits. */
struct gw_native_limits {
    uint32_t max_payload; /* payload bytes as sent */
    uint32_t max_raw;     /* payload bytes after decompression */
    uint32_t max_records; /* records per batch */
};

/* Fills in the defaults above. */
void gw_native_limits_default(struct gw_native_limits *lim);

/* A decoded frame header; payload points into the decoder's input. */
struct gw_native_frame {
    uint8_t type;
    uint8_t version;
    uint16_t flags;
    uint64_t seq;
    uint32_t count;
    uint32_t length;
    uint32_t raw_length;
    uint32_t crc;
    const char *payload;
};

/*
 * Decodes the frame at the start of p[0..n), the connection's unconsumed input (bytes may
 * arrive in any split: call again with more). Returns 1 with *f set and *used = its size
 * (header + payload: consume that after using f->payload), 0 when more bytes are needed, or -1
 * with *code (a GW_NATIVE_E_*) and err on a violation: the header is checked as soon as its 32
 * bytes are in, so a lying length is refused before any payload is buffered; the CRC once
 * the payload is complete. Per type: BATCH needs count 1..max_records, length <= max_payload,
 * raw_length <= max_raw and == length unless zstd; HELLO payload 8..263, WELCOME 12, ACK 0,
 * ERROR at most 1024. The caller's buffer must hold GW_NATIVE_HDR_LEN + lim->max_payload.
 */
int gw_native_frame_decode(const char *p, size_t n, const struct gw_native_limits *lim,
                           struct gw_native_frame *f, size_t *used, int *code, char *err);

/* Decompression state and output storage for batches. Starts zeroed; grows to the largest
 * compressed batch opened (at most max_raw) and stays allocated until gw_native_scratch_free().
 * One per worker thread is enough when the records of a batch are copied (or written) before
 * the next batch is opened; one per connection costs up to max_raw each. */
struct gw_native_scratch {
    void *zstd; /* ZSTD_DCtx */
    char *buf;
    size_t cap;
};
void gw_native_scratch_free(struct gw_native_scratch *s);

/* Records of one batch, being read. */
struct gw_native_batch {
    const char *p, *end;
    uint32_t left;
};

/*
 * Opens a decoded BATCH frame: decompresses it into s when flagged zstd (one zstd frame whose
 * content size is declared and equals raw_length -- never more than raw_length bytes are
 * produced, so a zstd bomb is an error, not an allocation), then checks every record against
 * the layout and limits, so gw_native_batch_next() cannot fail. Returns 0, or -1 with *code and
 * err. Records point into f->payload or s: keep both until done with them.
 */
int gw_native_batch_open(struct gw_native_batch *b, const struct gw_native_frame *f,
                         const struct gw_native_limits *lim, struct gw_native_scratch *s, int *code,
                         char *err);

/* Next record of an opened batch into rec: format GW_LOGREC_NATIVE, line = msg, flags
 * TIME_TZ, TRUNCATED and ESCAPED as they apply; recv_ns, input and source are left alone
 * (the caller's). Returns 1, or 0 after the last. */
int gw_native_batch_next(struct gw_native_batch *b, struct gw_logrec *rec);

/* Size a record takes in a payload; 0 if it cannot be encoded (see gw_native_record_append). */
size_t gw_native_record_size(const struct gw_logrec *rec);

/* Appends rec to a batch payload under construction (severity/facility -1 become 255; time_ns,
 * tz_offset_min, TIME_TZ and TRUNCATED carried). Fails, with nothing appended and err set,
 * when a field breaks the layout (host/app/procid/msgid too long or not printable US-ASCII,
 * SD invalid, severity or facility out of range) or the payload's limit would be passed
 * ("payload full"). */
int gw_native_record_append(struct gw_buf *payload, const struct gw_logrec *rec, char *err);

/*
 * Appends a BATCH frame to out: header and payload, the payload compressed with zstd at
 * zstd_level when zstd_level > 0 and that makes it smaller. Returns 0, or -1 (nothing
 * appended) past out's limit or when the payload is over 4 GiB.
 */
int gw_native_batch_encode(struct gw_buf *out, uint64_t seq, uint32_t count, const char *payload,
                           size_t len, int zstd_level, char *err);

/* Small frames. Each appends to out; 0, or -1 with nothing appended past out's limit (or a
 * name over 255 bytes for HELLO; ERROR text is cut at 1024 bytes). */
int gw_native_hello_encode(struct gw_buf *out, uint64_t session, const char *name, char *err);
int gw_native_welcome_encode(struct gw_buf *out, uint64_t durable_seq,
                             const struct gw_native_limits *lim);
int gw_native_ack_encode(struct gw_buf *out, uint64_t seq);
int gw_native_error_encode(struct gw_buf *out, uint64_t seq, int code, const char *text);

/* Payload readers for decoded frames of the right type. HELLO: -1 with err when the session is
 * 0 or the name is not printable ASCII. WELCOME: -1 with err when a limit is 0. */
int gw_native_hello_decode(const struct gw_native_frame *f, uint64_t *session,
                           struct gw_slice *name, char *err);
int gw_native_welcome_decode(const struct gw_native_frame *f, struct gw_native_limits *lim,
                             char *err);

/* "bad_crc" and so on; "unknown" for codes outside 1..9. */
const char *gw_native_error_name(int code);

/* 1 when resending the refused batch after a reconnect may succeed (bad_crc, busy, internal). */
int gw_native_error_transient(int code);

/*
 * The server's rule for a BATCH's seq. prev_on_conn: the previous batch's seq on this
 * connection (0 before the first); accepted: the highest seq the session ever accepted.
 * Returns GW_NATIVE_SEQ_NEW (write it), GW_NATIVE_SEQ_DUP (already accepted: do not write,
 * acknowledge once the session's durable mark covers it), or -1 (seq 0 or not above
 * prev_on_conn: ERROR bad_sequence).
 */
#define GW_NATIVE_SEQ_NEW 1
#define GW_NATIVE_SEQ_DUP 2
int gw_native_seq_check(uint64_t prev_on_conn, uint64_t accepted, uint64_t seq);

#endif
