/*
 * frame.h -- the wsgwd <-> backend frame protocol, version 1: encoder, incremental strict
 * decoder, HELLO/OPEN/CLOSE payloads.
 *
 * THE PROTOCOL
 *
 * One TCP connection (a "link") between a gateway and a backend carries the messages of many
 * WebSocket clients. Everything on it is a frame: a 16-byte header, big-endian, then the
 * payload.
 *
 *     offset size field    meaning
 *      0     u32  length   payload bytes that follow the header (0 .. max_frame; the gateway's
 *                          max_frame defaults to 16 MiB)
 *      4     u32  client   the WebSocket client the frame is about; 0 = none/every client
 *      8     u32  backend  backend id as the gateway numbers them; 0 = every backend
 *     12     u8   type     1 DATA  2 OPEN  3 CLOSE  4 HELLO  5 PING  6 PONG
 *                          7 JOIN  8 LEAVE  9 ROOM
 *     13     u8   class    1 CONTROL (never dropped)  2 VIDEO (droppable)  3 ACK  4 FILE
 *     14     u8   flags    bit 0: text (else binary); bits 1-7 must be 0
 *     15     u8   version  1
 *
 * What each type carries, and what the decoder enforces (anything else is a bad frame; the
 * receiver counts it by its error name and drops the link):
 *
 *   type    client        class          flags      payload
 *   DATA    any           1-4            text bit   the message; with the text bit set it is
 *                                                   UTF-8 (checked with GW_FRAME_CHECK_TEXT)
 *   OPEN    != 0          0 or CONTROL   0          JSON object, see below
 *   CLOSE   any           0 or CONTROL   0          empty, or u16 code + reason (see below)
 *   HELLO   0             0 or CONTROL   0          JSON object, see below
 *   PING    0             0 or CONTROL   0          opaque bytes (may be empty)
 *   PONG    0             0 or CONTROL   0          the payload of the PING it answers
 *   JOIN    != 0          0 or CONTROL   0          room name, 1-255 bytes, no NUL byte
 *   LEAVE   != 0          0 or CONTROL   0          room name, 1-255 bytes, no NUL byte
 *   ROOM    0             1-4            text bit   u8 n, room name (n bytes, 1-255, no NUL),
 *                                                   then the message (may be empty)
 *
 * The decoder checks the payloads it can check cheaply (CLOSE, JOIN, LEAVE, ROOM, and text with
 * GW_FRAME_CHECK_TEXT); the JSON of HELLO and OPEN is checked by gw_frame_hello_parse and
 * gw_frame_open_parse, which the receiver calls.
 *
 * Class 0 is accepted on the control types so a minimal backend may leave the byte zero; this
 * library always writes CONTROL there. DATA and ROOM name their class: the gateway drops VIDEO
 * first when a client falls behind and never drops CONTROL.
 *
 * The link starts with HELLO both ways: the gateway sends its HELLO right after connecting,
 * the backend answers with its own; nothing else may precede a side's HELLO. The payload is a
 * JSON object:
 *
 *     {"gateway":"gw-1","version":1,"backend":"chat-1"}
 *
 * "version" (integer, required) is the protocol version the sender speaks; a side that does
 * not speak it refuses the link with CLOSE (client 0, code 1002, reason "version mismatch:
 * ...") and closes the TCP connection. "gateway" is the gateway's instance id and "backend"
 * the name the gateway knows the backend by (its [backend NAME] section); a backend answers
 * with "gateway" echoed and "backend" set to its own name. Both are strings of at most 255
 * bytes and may be absent. Unknown keys are ignored (room to grow without a new version).
 *
 * OPEN (gateway -> backend) announces a client whose WebSocket handshake succeeded:
 *
 *     {"client":5,"remote":"203.0.113.9:51234","path":"/ws/chat","query":"room=1",
 *      "subprotocol":"gwkit.v1","claims":{"sub":"alice","exp":1767225600}}
 *
 * "client" repeats the header's client id; "query" is the raw query string without '?' ("" when
 * none); "subprotocol" is null when none was negotiated; "claims" is the verified JWT claims
 * object, or null when the gateway does not authenticate.
 *
 * DATA carries one whole WebSocket message. Gateway -> backend: client = the sender. Backend
 * -> gateway: client = the recipient, or 0 for every client of the gateway (broadcast).
 *
 * CLOSE goes either way. With a client id it ends that client's session (gateway -> backend:
 * the client left, with the code it sent, or no code when it vanished without a close frame;
 * backend -> gateway: close the client with this code). With client 0 it ends the whole link:
 * the sender closes the TCP connection after it. The payload is empty (no code, as WebSocket's
 * 1005) or a u16 code followed by a UTF-8 reason of at most 123 bytes (it must fit a WebSocket
 * close frame).
 * Valid codes are those a WebSocket endpoint may send: 1000-1003, 1007-1014, 3000-4999.
 *
 * PING asks the peer for a PONG carrying the same payload; either side may ping the link.
 * JOIN and LEAVE (backend -> gateway) put a client into a room or take it out; ROOM sends a
 * message to every member of a room.
 *
 * A receiver checks the header as soon as its 16 bytes are in (so a bad length is refused
 * before any payload is buffered) and the payload once complete. EOF in the middle of a frame
 * is an error too ("truncated").
 *
 * THE API
 *
 * Not thread-safe per object: a decoder belongs to the thread that owns the link. The stateless
 * functions may be called from any thread.
 */
#ifndef GW_FRAME_H
#define GW_FRAME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "util.h"

#define GW_FRAME_HDR_LEN 16
#define GW_FRAME_VERSION 1
/* Default max_frame: the largest payload a receiver accepts. */
#define GW_FRAME_MAX_DEFAULT (16u * 1024 * 1024)
/* Longest room name, and longest HELLO gateway/backend string. */
#define GW_FRAME_NAME_MAX 255
/* Longest CLOSE reason (a WebSocket close frame holds 125 bytes: code + 123). */
#define GW_FRAME_CLOSE_REASON_MAX 123
/* Longest HELLO payload a receiver parses. */
#define GW_FRAME_HELLO_MAX 4096

enum gw_frame_type {
    GW_FRAME_DATA = 1,
    GW_FRAME_OPEN = 2,
    GW_FRAME_CLOSE = 3,
    GW_FRAME_HELLO = 4,
    GW_FRAME_PING = 5,
    GW_FRAME_PONG = 6,
    GW_FRAME_JOIN = 7,
    GW_FRAME_LEAVE = 8,
    GW_FRAME_ROOM = 9,
};

enum gw_frame_class {
    GW_FRAME_CLASS_NONE = 0, /* accepted on control types only */
    GW_FRAME_CONTROL = 1,
    GW_FRAME_VIDEO = 2,
    GW_FRAME_ACK = 3,
    GW_FRAME_FILE = 4,
};

#define GW_FRAME_FLAG_TEXT 0x01

/* Decoder option: DATA and ROOM messages with the text flag must be valid UTF-8 (a gateway
 * sets it, since it forwards them as WebSocket text frames). */
#define GW_FRAME_CHECK_TEXT 0x1

/* Every way a frame can be bad, plus HELLO outcomes. gw_frame_error_name() gives each a stable
 * snake_case name for metric labels (bad_frame{reason="too_long"}). */
enum gw_frame_error {
    GW_FRAME_OK = 0,
    GW_FRAME_E_TOO_LONG,      /* too_long: length over max_frame */
    GW_FRAME_E_TYPE,          /* bad_type: type 0 or over 9 */
    GW_FRAME_E_CLASS,         /* bad_class: class over 4, or 0 on DATA/ROOM */
    GW_FRAME_E_CLASS_TYPE,    /* class_for_type: VIDEO/ACK/FILE on a control type */
    GW_FRAME_E_FLAGS,         /* bad_flags: unknown bits, or the text bit on a control type */
    GW_FRAME_E_VERSION,       /* bad_version: version byte is not 1 */
    GW_FRAME_E_CLIENT,        /* bad_client: client 0 on OPEN/JOIN/LEAVE, not 0 on others */
    GW_FRAME_E_ROOM_NAME,     /* bad_room_name: empty, over 255 bytes or holding NUL */
    GW_FRAME_E_ROOM_OVERRUN,  /* room_overrun: ROOM name length runs past the payload */
    GW_FRAME_E_CLOSE_SHORT,   /* close_short: CLOSE payload of 1 byte */
    GW_FRAME_E_CLOSE_CODE,    /* bad_close_code: code a WebSocket endpoint may not send */
    GW_FRAME_E_CLOSE_REASON,  /* bad_close_reason: reason over 123 bytes or not UTF-8 */
    GW_FRAME_E_TEXT,          /* bad_text: text message not UTF-8 (GW_FRAME_CHECK_TEXT) */
    GW_FRAME_E_TRUNCATED,     /* truncated: EOF inside a frame */
    GW_FRAME_E_NOMEM,         /* no_memory: the payload buffer could not grow */
    GW_FRAME_E_HELLO,         /* bad_hello: HELLO payload not the JSON object described */
    GW_FRAME_E_HELLO_VERSION, /* version_mismatch: HELLO announces a version not spoken */
    GW_FRAME_E_COUNT
};

/* Stable snake_case name of an error kind ("too_long"); "unknown" out of range. */
const char *gw_frame_error_name(enum gw_frame_error e);

/* Name of a type ("DATA"), "?" when unknown. */
const char *gw_frame_type_name(unsigned type);

/* A header, host byte order. */
struct gw_frame_hdr {
    uint32_t length;
    uint32_t client;
    uint32_t backend;
    uint8_t type;
    uint8_t cls;
    uint8_t flags;
    uint8_t version;
};

/* A decoded frame: the header and its payload (hdr.length bytes; not NUL-terminated). */
struct gw_frame {
    struct gw_frame_hdr hdr;
    const uint8_t *payload;
};

/* ---- encoding ---- */

/* Writes h into out in wire order, exactly as given (no checks). */
void gw_frame_hdr_encode(const struct gw_frame_hdr *h, uint8_t out[GW_FRAME_HDR_LEN]);

/* Reads a header from in (no checks). */
void gw_frame_hdr_decode(const uint8_t in[GW_FRAME_HDR_LEN], struct gw_frame_hdr *h);

/* Appends one frame to b: h's client, backend, type, class and flags, length = len, version
 * = 1, then len payload bytes. All or nothing: returns 0, or -1 (b unchanged) when b's limit
 * would be passed, memory ran out or len is over UINT32_MAX. Encodes what it is given: frames
 * that the decoder would refuse are the caller's mistake (the tests build bad frames this way). */
int gw_frame_append(struct gw_buf *b, const struct gw_frame_hdr *h, const void *payload,
                    size_t len);

/* DATA to or from client (0 = broadcast), class cls, text or binary. 0 or -1 as above. */
int gw_frame_append_data(struct gw_buf *b, uint32_t client, uint32_t backend, uint8_t cls, int text,
                         const void *payload, size_t len);

/* HELLO with {"gateway":gateway,"version":1,"backend":backend}; a NULL string leaves its key
 * out. 0, or -1 with err (a string over 255 bytes, no room in b, no memory). */
int gw_frame_append_hello(struct gw_buf *b, uint32_t backend_id, const char *gateway,
                          const char *backend, char *err);

/* What OPEN tells a backend. remote and path are required; query NULL is written as "";
 * subprotocol and claims NULL are written as null. claims is not consumed. */
struct gw_frame_open {
    uint32_t client;
    const char *remote;
    const char *path;
    const char *query;
    const char *subprotocol;
    const json_t *claims;
};

/* OPEN for o->client (not 0). 0, or -1 with err (client 0, a missing field, a string that is
 * not UTF-8, no room, no memory). */
int gw_frame_append_open(struct gw_buf *b, uint32_t backend_id, const struct gw_frame_open *o,
                         char *err);

/* CLOSE for client (0 = the whole link) with code and reason (NULL = ""); code 0 writes an
 * empty payload. A reason over 123 bytes is cut at a UTF-8 character boundary. 0, or -1 with
 * err (a code gw_frame_close_code_ok refuses, a reason that is not UTF-8, no room). */
int gw_frame_append_close(struct gw_buf *b, uint32_t client, uint32_t backend, unsigned code,
                          const char *reason, char *err);

/* PING or PONG (type GW_FRAME_PING or GW_FRAME_PONG) with an opaque payload. 0 or -1. */
int gw_frame_append_ping(struct gw_buf *b, uint8_t type, uint32_t backend, const void *payload,
                         size_t len);

/* JOIN or LEAVE (type GW_FRAME_JOIN or GW_FRAME_LEAVE) of client into room name. 0, or -1
 * with err (bad name, client 0, no room). */
int gw_frame_append_join(struct gw_buf *b, uint8_t type, uint32_t client, uint32_t backend,
                         const char *room, char *err);

/* ROOM: message to every member of room. 0, or -1 with err (bad name, no room). */
int gw_frame_append_room(struct gw_buf *b, uint32_t backend, const char *room, uint8_t cls,
                         int text, const void *payload, size_t len, char *err);

/* ---- checking and decoding ---- */

/* Checks a header alone: length against max_frame, type, class, flags, version, client.
 * Returns GW_FRAME_OK or the kind, with a one-line detail in err (may be NULL). */
enum gw_frame_error gw_frame_check_hdr(const struct gw_frame_hdr *h, uint32_t max_frame, char *err);

/* Checks a payload of h->length bytes against h's type (opts: GW_FRAME_CHECK_TEXT). The header
 * must have passed gw_frame_check_hdr. GW_FRAME_OK or the kind, detail in err. */
enum gw_frame_error gw_frame_check_payload(const struct gw_frame_hdr *h, const uint8_t *payload,
                                           unsigned opts, char *err);

/* Parses one frame from the start of the len contiguous bytes at buf, without copying.
 * Returns the frame's size (16 + payload) with *f set (payload points into buf), 0 when more
 * bytes are needed (nothing is wrong so far: a bad header is reported as soon as 16 bytes are
 * there), or -1 with *kind and err set. For input already held in one buffer (gw_buf). */
ssize_t gw_frame_parse(const void *buf, size_t len, uint32_t max_frame, unsigned opts,
                       struct gw_frame *f, enum gw_frame_error *kind, char *err);

/* Incremental decoder over a byte stream that arrives in pieces of any size. It buffers at
 * most one frame (never more than max_frame + 16 bytes, grown as the payload arrives). The
 * struct is public to be embedded; use the functions. */
struct gw_frame_dec {
    uint32_t max_frame;
    unsigned opts;
    enum gw_frame_error error; /* sticky once set */
    char err[GW_ERR_LEN];      /* detail of error */
    uint8_t hdr_bytes[GW_FRAME_HDR_LEN];
    size_t hdr_have;
    struct gw_frame_hdr hdr; /* valid once hdr_have == 16 */
    uint8_t *payload;
    size_t have, cap;
};

/* Prepares a decoder (allocates nothing). opts: GW_FRAME_CHECK_TEXT. */
void gw_frame_dec_init(struct gw_frame_dec *d, uint32_t max_frame, unsigned opts);

/* Frees the storage and forgets any partial frame and error; the decoder stays usable. */
void gw_frame_dec_reset(struct gw_frame_dec *d);

/* Consumes bytes from data (len of them) until one frame is complete. Returns 1 with *f set
 * (its payload points into data when the whole frame was there, else into the decoder; valid
 * until the next call, and for the first case while data is), 0 when all bytes were taken and
 * no frame is complete yet, -1 on a bad frame (d->error and d->err say why; every later call
 * returns -1 too). *used is the number of bytes consumed; call again with the rest:
 *
 *     while (len > 0) {
 *         rc = gw_frame_dec_feed(d, p, len, &used, &f);
 *         p += used, len -= used;
 *         if (rc < 0) drop the link (count gw_frame_error_name(d->error));
 *         if (rc == 1) handle f;
 *     }
 */
int gw_frame_dec_feed(struct gw_frame_dec *d, const void *data, size_t len, size_t *used,
                      struct gw_frame *f);

/* The stream ended. 0 when it ended between frames, -1 when inside one (d->error becomes
 * GW_FRAME_E_TRUNCATED) or after an error. */
int gw_frame_dec_eof(struct gw_frame_dec *d);

/* Bytes of a partial frame held (0 between frames). */
size_t gw_frame_dec_pending(const struct gw_frame_dec *d);

/* ---- payloads ---- */

/* 1 when code is one a WebSocket endpoint may send in a close frame (1000-1003, 1007-1014,
 * 3000-4999), else 0. */
int gw_frame_close_code_ok(unsigned code);

/* Splits a checked CLOSE payload: *code (0 for an empty payload), reason (NUL-terminated,
 * at least GW_FRAME_CLOSE_REASON_MAX + 1 bytes). */
void gw_frame_close_parse(const struct gw_frame *f, unsigned *code, char *reason);

/* Splits a checked ROOM payload: the room name (NUL-terminated into room, at least
 * GW_FRAME_NAME_MAX + 1 bytes) and the message (*msg, *msg_len, pointing into f->payload). */
void gw_frame_room_parse(const struct gw_frame *f, char *room, const uint8_t **msg,
                         size_t *msg_len);

/* A HELLO payload, parsed. Absent strings are "". */
struct gw_frame_hello {
    int version;
    char gateway[GW_FRAME_NAME_MAX + 1];
    char backend[GW_FRAME_NAME_MAX + 1];
};

/* Parses a HELLO payload (at most GW_FRAME_HELLO_MAX bytes). Returns GW_FRAME_OK;
 * GW_FRAME_E_HELLO with err ("HELLO: not a JSON object", "HELLO: version missing or not an
 * integer", "HELLO: gateway not a string of at most 255 bytes", ...); or
 * GW_FRAME_E_HELLO_VERSION with err "version mismatch: peer speaks 2, this side speaks 1" and
 * h->version set, a reason fit to send back in a CLOSE. */
enum gw_frame_error gw_frame_hello_parse(const void *payload, size_t len, struct gw_frame_hello *h,
                                         char *err);

/* Parses an OPEN payload: a new reference to the JSON object (the caller owns it), having
 * checked that "client" is a positive integer and "remote" and "path" are strings. NULL with
 * err otherwise. */
json_t *gw_frame_open_parse(const void *payload, size_t len, char *err);

#endif
