/*
 * syslog.h -- the log record every logd input and output shares, the RFC 5424 and RFC 3164
 * parsers, escaping of unsafe bytes, and RFC 6587 TCP framing.
 *
 * Everything here is pure: no I/O, no allocation (except where a caller's gw_buf grows), no
 * global state, so any thread may call any function on its own objects.
 *
 * A record's text fields are (ptr, len) slices into the bytes it was parsed from: the caller
 * keeps those bytes alive (and unmoved) for as long as it uses the record, and copies what it
 * must keep. Slices are never NUL-terminated; an absent field is { NULL or anything, 0 }.
 *
 * Nothing is ever dropped: a line that parses as neither format is kept whole in `msg` and
 * `line` and marked GW_LOGREC_UNPARSED. Bytes that a text output must not write as they are
 * (invalid UTF-8, NUL and other control characters) stay in the slices untouched; the parser
 * sets GW_LOGREC_ESCAPED and outputs write them through gw_syslog_escape(), as \xHH.
 */
#ifndef GW_SYSLOG_H
#define GW_SYSLOG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "util.h"

/* A run of bytes inside someone else's storage. */
struct gw_slice {
    const char *ptr;
    size_t len;
};

/* rec->format: where the record came from and how it was read. */
#define GW_LOGREC_RAW 0     /* not parsed: msg and line hold the whole line */
#define GW_LOGREC_RFC5424 1 /* RFC 5424, strictly */
#define GW_LOGREC_RFC3164 2 /* RFC 3164 / BSD syslog, leniently */
#define GW_LOGREC_NATIVE 3  /* logd's native protocol (lib/native.h) */
#define GW_LOGREC_JSON 4    /* a JSON line (POST /ingest) */

/* rec->flags. */
#define GW_LOGREC_UNPARSED 0x01  /* parsed as neither format; see format GW_LOGREC_RAW */
#define GW_LOGREC_TRUNCATED 0x02 /* the input cut the line at max_line (set by the caller) */
#define GW_LOGREC_ESCAPED 0x04   /* msg, sd or line hold bytes text outputs must escape */
#define GW_LOGREC_TIME_TZ 0x08   /* the event time carried its zone (else local_offset_s used) */
#define GW_LOGREC_BOM 0x10       /* an RFC 5424 MSG began with a UTF-8 BOM (not in msg) */

/* The pipeline's unit: one log line, parsed. Plain data: copy it by value. */
struct gw_logrec {
    int64_t recv_ns;        /* wall clock when logd received it, ns since the epoch */
    int64_t time_ns;        /* event time from the line, ns since the epoch; 0 if absent, bad,
                               or outside 1678..2261 */
    int16_t tz_offset_min;  /* the event time's UTC offset as written (minutes), 0 if none */
    int8_t severity;        /* 0 (emerg) .. 7 (debug), or -1 when unknown */
    int8_t facility;        /* 0 (kern) .. 23 (local7), or -1 when unknown */
    uint8_t format;         /* GW_LOGREC_RAW, _RFC5424, ... */
    uint16_t flags;         /* GW_LOGREC_UNPARSED, ... */
    struct gw_slice host;   /* HOSTNAME, at most 255 printable US-ASCII bytes; empty if absent */
    struct gw_slice app;    /* APP-NAME or 3164 TAG, at most 48 */
    struct gw_slice procid; /* PROCID or 3164 [pid], at most 128 */
    struct gw_slice msgid;  /* MSGID, at most 32 (RFC 5424 only) */
    struct gw_slice sd;     /* STRUCTURED-DATA as written, validated: "[id k=\"v\"]..."; empty
                               for NILVALUE */
    struct gw_slice msg;    /* the message (without a 5424 BOM); the whole line if unparsed */
    struct gw_slice line;   /* the whole line as received, without trailing LF/CR/NUL */
    struct gw_slice input;  /* name of the input, e.g. "syslog-tcp" (set by the caller) */
    struct gw_slice source; /* peer address, e.g. "127.0.0.1:40112" (set by the caller) */
};

/* Field limits of RFC 5424 (section 6), which native records and 3164 parsing share. */
#define GW_SYSLOG_HOST_MAX 255
#define GW_SYSLOG_APP_MAX 48
#define GW_SYSLOG_PROCID_MAX 128
#define GW_SYSLOG_MSGID_MAX 32
#define GW_SYSLOG_SDNAME_MAX 32

/* Bytes a deep copy of rec needs: its line, plus every other field that does not lie inside
 * the line (input and source included). */
size_t gw_syslog_rec_copy_size(const struct gw_logrec *rec);

/* Deep copy, for queues: copies rec into *dst with every slice pointing into storage (at
 * least gw_syslog_rec_copy_size(rec) bytes, owned by the caller; fields inside the line keep
 * sharing it). dst may be rec itself. Returns the bytes of storage used. */
size_t gw_syslog_rec_copy(struct gw_logrec *dst, const struct gw_logrec *rec, char *storage);

/*
 * Parses one syslog line (one UDP datagram, one TCP frame) into rec, choosing the format:
 *   "<PRI>1 " ......... RFC 5424, strictly; a line that fails is GW_LOGREC_UNPARSED (it claims
 *                       5424, so guessing another format would misfile its fields)
 *   "<PRI>" otherwise . RFC 3164, leniently (always succeeds)
 *   no PRI ............ RFC 3164 if it starts with a 3164 or RFC 3339 timestamp (severity and
 *                       facility -1), else GW_LOGREC_UNPARSED
 * An unparsed line keeps severity/facility from a valid leading PRI, else -1.
 * Trailing LF, CR and NUL bytes are framing, not content: they are left out of every slice.
 * rec->recv_ns, rec->input and rec->source are the caller's: set them before the call (the
 * 3164 parser reads recv_ns to infer the year); every other field is overwritten.
 * local_offset_s is the UTC offset (seconds east) of the time zone senders of zoneless 3164
 * timestamps are in, usually logd's own (tm_gmtoff of localtime_r(recv time)).
 * Returns 0 when parsed, or -1 when the line is kept unparsed, with the reason in err (which
 * may be NULL), e.g. "rfc5424: bad TIMESTAMP at byte 7". Never fails otherwise.
 */
int gw_syslog_parse(struct gw_logrec *rec, const char *line, size_t len, int local_offset_s,
                    char *err);

/* RFC 5424 only, strictly (section 6 ABNF; VERSION 1 only; timestamps per section 6.2.3:
 * at most 6 fraction digits, an offset required, no leap second). Returns 0, or -1 with err
 * and rec undefined except the caller's fields. Same field conventions as gw_syslog_parse(). */
int gw_syslog_parse_5424(struct gw_logrec *rec, const char *line, size_t len, char *err);

/* RFC 3164 only, leniently, the way rsyslog's pmrfc3164 reads it:
 *   <PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG
 * where the timestamp may also be "Mmm dd yyyy hh:mm:ss", carry a fraction, or be RFC 3339
 * (rsyslog's forward format); HOST is read only after a timestamp, and only when the word is
 * a host name (letters, digits, ".-_:", not ending in ':'); TAG (at most 48 bytes) is the next
 * word after a HOST (ending in SP, ':' or "[PID]"), and elsewhere only a word that ends in ':'
 * or carries "[PID]" (so the first word of a plain message stays in it). Anything missing is
 * left empty and the rest is MSG: "<13>hello world" is severity 5, facility 1, msg "hello
 * world". The year is the one that puts the time nearest rec->recv_ns. Returns -1 (err
 * "rfc3164: no PRI and no timestamp") only when the line has neither a PRI nor a leading
 * timestamp. */
int gw_syslog_parse_3164(struct gw_logrec *rec, const char *line, size_t len, int local_offset_s,
                         char *err);

/* 1 when p[0..len) holds bytes a text output must escape: invalid UTF-8 (including overlong
 * forms, surrogates and code points past U+10FFFF), NUL, C0 controls other than TAB, DEL. */
int gw_syslog_needs_escape(const char *p, size_t len);

/* Length of the escaped form of p[0..len): each byte named by gw_syslog_needs_escape() becomes
 * the four bytes \xHH (lowercase hex); everything else, backslashes included, is kept. */
size_t gw_syslog_escaped_len(const char *p, size_t len);

/* Appends the escaped form of p[0..len) to out. Returns 0, or -1 with nothing appended when
 * out's limit would be passed. */
int gw_syslog_escape(struct gw_buf *out, const char *p, size_t len);

/* Longest output of gw_syslog_format_time(), with its NUL. */
#define GW_SYSLOG_TIME_LEN 33

/* Writes ns since the epoch as RFC 3339 with microseconds, in the zone offset_min minutes
 * east of UTC ("Z" for 0 when utc_z is set, else "+00:00"): "2026-12-06T03:03:21.384915+01:00".
 * buf holds GW_SYSLOG_TIME_LEN bytes. Returns buf. */
char *gw_syslog_format_time(int64_t ns, int offset_min, int utc_z, char *buf);

/*
 * Appends rec as one RFC 5424 line (no LF) to out:
 *   <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG
 * PRI defaults to user.notice (13) for an unknown facility or severity, like rsyslog; the time
 * is rec->time_ns in its own offset (or UTC), NILVALUE when 0; an empty host becomes
 * default_host when given; empty fields are NILVALUE; SD and MSG are written escaped
 * (gw_syslog_escape), so the line is safe text that gw_syslog_parse_5424() reads back. For
 * `log_to = logd`, forwarding, and raw output of records that arrived without a line. Returns
 * 0, or -1 with nothing appended past out's limit.
 */
int gw_syslog_format_5424(struct gw_buf *out, const struct gw_logrec *rec,
                          const char *default_host);

/*
 * STRUCTURED-DATA walk, for outputs that spell SD out (JSON). sd must be a slice the parser
 * validated (rec->sd). Each call yields the next element or parameter:
 *   GW_SD_ELEMENT  id set; name and value empty
 *   GW_SD_PARAM    id (of its element), name, and value as written (still escaped: undo with
 *                  gw_syslog_sd_unescape)
 *   0              the end
 */
#define GW_SD_ELEMENT 1
#define GW_SD_PARAM 2
struct gw_sd_iter {
    const char *p, *end;
    struct gw_slice id;
    int in_element;
};
void gw_syslog_sd_begin(struct gw_sd_iter *it, struct gw_slice sd);
int gw_syslog_sd_next(struct gw_sd_iter *it, struct gw_slice *id, struct gw_slice *name,
                      struct gw_slice *value);

/* 1 when sd[0..len) is one or more SD-ELEMENTs exactly as RFC 5424 section 6.3 allows (the
 * parser's check, for SD that arrives by other ways: native records, JSON). */
int gw_syslog_sd_valid(const char *sd, size_t len);

/* Appends a PARAM-VALUE with its escapes (\" \\ \]) undone. Returns 0, or -1 with nothing
 * appended past out's limit. */
int gw_syslog_sd_unescape(struct gw_buf *out, struct gw_slice value);

/*
 * RFC 6587 framing for one TCP (or Unix stream) connection, decided per frame from its first
 * byte, as rsyslog's imtcp does:
 *   '1'..'9'  octet counting: "LEN SP MSG", LEN in decimal, at most 10 digits
 *   LF        an empty frame, skipped (so is a blank CR LF line)
 *   other     non-transparent framing: MSG up to LF (the LF is not part of the frame). With
 *             GW_SYSLOG_FRAME_NUL, a NUL ends a frame too (rsyslog's AddtlFrameDelimiter=0, for
 *             Juniper NetScreen); by default NUL is content, kept and escaped, as rsyslog does.
 * A frame longer than max_line is delivered cut to its first max_line bytes, marked truncated
 * and counted; the rest is skipped as it arrives, without being buffered. A trailing CR stays
 * in the frame (the parsers drop it).
 *
 * A bad octet count -- a non-digit before the SP, more than 10 digits, or a count above
 * max_count -- is a framing error: the stream cannot be resynchronised safely, so the caller
 * closes the connection (what it already delivered stands). rsyslog instead falls back to LF
 * framing, which can split one sender's message into garbage lines; closing makes the sender
 * reconnect cleanly.
 *
 * The caller owns the input bytes (usually a gw_buf) and must let them hold max_line +
 * GW_SYSLOG_FRAME_SLACK bytes.
 */
#define GW_SYSLOG_FRAME_NUL 0x1
#define GW_SYSLOG_FRAME_SLACK 16                 /* LEN, SP and the delimiter */
#define GW_SYSLOG_MAX_COUNT_DEFAULT (256u << 20) /* octet counts above are errors */

struct gw_syslog_frame {
    struct gw_slice data; /* the frame's bytes, inside the caller's input */
    int truncated;        /* cut to max_line */
    int octet_counted;    /* came as "LEN SP MSG" */
};

struct gw_syslog_framer {
    size_t max_line;  /* longest frame delivered whole */
    size_t max_count; /* largest octet count accepted */
    int flags;        /* GW_SYSLOG_FRAME_NUL */
    /* Counters the caller may read (and reset). */
    uint64_t frames;    /* frames delivered */
    uint64_t truncated; /* of which truncated */
    /* State, private. */
    int state;
    uint64_t remain; /* octets of the current counted frame, or bytes to skip */
    int digits;      /* digits of the octet count read so far */
    size_t scanned;  /* bytes of the current LF frame already searched for a delimiter */
};

/* Prepares a framer. max_line >= 1; max_count 0 means GW_SYSLOG_MAX_COUNT_DEFAULT. */
void gw_syslog_framer_init(struct gw_syslog_framer *f, size_t max_line, size_t max_count,
                           int flags);

/*
 * Finds the next frame in p[0..n), the connection's unconsumed input: on every call pass the
 * bytes not yet consumed (those of the last call that *used did not cover, plus new ones).
 * Returns 1 with *fr set (pointing into p), 0 when more input is needed, or -1 on a framing
 * error (err says which; close the connection). On 1 and 0, *used is how many bytes the
 * caller now consumes (frame, prefix, delimiter, skipped bytes); use *fr before consuming,
 * since consuming may free the storage. Loop while it returns 1; in a connection's
 * on_data(c, data, len) callback that returns what it consumed:
 *
 *     size_t off = 0, used;
 *     while ((rc = gw_syslog_frame_next(&f, data + off, len - off, &fr, &used, err)) >= 0) {
 *         if (rc == 1)
 *             handle(&fr);
 *         off += used;
 *         if (rc == 0)
 *             break;
 *     }
 *     if (rc < 0)
 *         close the connection with err;
 *     return off;
 *
 * (the connection's input limit then must be at least max_line + GW_SYSLOG_FRAME_SLACK).
 */
int gw_syslog_frame_next(struct gw_syslog_framer *f, const char *p, size_t n,
                         struct gw_syslog_frame *fr, size_t *used, char *err);

/* For a caller that keeps the unconsumed start of an unfinished frame itself (have bytes, what
 * gw_syslog_frame_next's *used left over) and offers the framer only that frame, instead of
 * copying all new input behind it: how many of the new input bytes p[0..n) to append to the
 * kept ones, so that gw_syslog_frame_next on the result delivers the frame (or, when n is too
 * few, still needs more). The bytes after them can then be framed in place. 0 when have is 0
 * or the framer is not inside a frame. */
size_t gw_syslog_frame_need(const struct gw_syslog_framer *f, size_t have, const char *p,
                            size_t n);

/* At end of stream, with p[0..n) the bytes left unconsumed: returns 1 with *fr set when they
 * hold an unfinished frame (an LF frame without its LF -- delivered as is, like rsyslog; an
 * octet-counted frame cut short -- delivered marked truncated), 0 when there is nothing, or -1
 * when the stream ended inside an octet count. The framer is then reset for reuse. */
int gw_syslog_frame_eof(struct gw_syslog_framer *f, const char *p, size_t n,
                        struct gw_syslog_frame *fr, char *err);

#endif
