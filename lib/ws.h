/*
 * ws.h -- RFC 6455 WebSocket frames without I/O: an incremental frame parser (server side,
 * or client side for gwbench), a message reassembler, and frame and close encoders.
 *
 * The parser takes whatever bytes arrived and returns one event at a time. Data frames are
 * not buffered: each event hands back a piece of payload, unmasked in place inside the
 * caller's input, so an unfragmented uncompressed message can be forwarded without a copy.
 * Control frames (at most 125 bytes) are collected inside the parser and delivered whole,
 * also between the fragments of a message. Every protocol violation yields an error event
 * with the close code to send (1002, 1007, 1009) and a one-line reason; the parser then stays
 * failed. Text is checked as UTF-8 as it arrives, across fragments, failing on the first
 * invalid sequence (for compressed messages the reassembler checks the inflated text).
 *
 * A parser is about 200 bytes and allocates nothing. Not thread-safe: one per connection.
 */
#ifndef GW_WS_H
#define GW_WS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "utf8.h"

struct gw_wsdeflate;

/* Opcodes. */
#define GW_WS_OP_CONT 0x0
#define GW_WS_OP_TEXT 0x1
#define GW_WS_OP_BINARY 0x2
#define GW_WS_OP_CLOSE 0x8
#define GW_WS_OP_PING 0x9
#define GW_WS_OP_PONG 0xa

/* Close codes used by the library. 1005 is never sent: it stands for "no code" in events. */
#define GW_WS_CLOSE_NORMAL 1000
#define GW_WS_CLOSE_GOING_AWAY 1001
#define GW_WS_CLOSE_PROTOCOL 1002
#define GW_WS_CLOSE_NO_STATUS 1005
#define GW_WS_CLOSE_BAD_DATA 1007
#define GW_WS_CLOSE_POLICY 1008
#define GW_WS_CLOSE_TOO_BIG 1009
#define GW_WS_CLOSE_INTERNAL 1011
#define GW_WS_CLOSE_TRY_LATER 1013

/* Longest frame header: 2 bytes, 8 of extended length, 4 of mask key. */
#define GW_WS_MAX_HEADER 14
/* Longest control frame payload, and of a close reason (after the 2-byte code). */
#define GW_WS_MAX_CONTROL 125
#define GW_WS_MAX_CLOSE_REASON 123

enum gw_ws_ev_type {
    GW_WS_EV_NONE,  /* every byte given was consumed; feed more */
    GW_WS_EV_DATA,  /* a piece of a text or binary message */
    GW_WS_EV_PING,  /* a whole ping; answer with a pong carrying the same payload */
    GW_WS_EV_PONG,  /* a whole pong */
    GW_WS_EV_CLOSE, /* a whole, valid close frame; later bytes are ignored */
    GW_WS_EV_ERROR, /* a violation: send a close with error_code, then close */
};

struct gw_ws_event {
    enum gw_ws_ev_type type;
    /* DATA: the message's opcode (GW_WS_OP_TEXT or GW_WS_OP_BINARY), whether this is its first
     * piece, whether it is its last piece, and whether the message is compressed (RSV1). */
    unsigned opcode;
    int first, fin, compressed;
    /* DATA: payload bytes, unmasked, inside the caller's input (valid until the caller reuses
     * that memory). PING, PONG, CLOSE: the whole payload, inside the parser (valid until the
     * next call). len may be 0. */
    uint8_t *data;
    size_t len;
    /* CLOSE: the peer's code (GW_WS_CLOSE_NO_STATUS when the payload was empty) and the UTF-8
     * reason (not NUL-terminated). */
    unsigned close_code;
    const char *reason;
    size_t reason_len;
    /* ERROR: the close code to send and a static one-line reason. */
    unsigned error_code;
    const char *error;
};

struct gw_ws_parser {
    /* Settings: filled by gw_ws_parser_init(), may be changed between messages. */
    uint64_t max_message; /* bytes of payload a message may carry on the wire */
    uint8_t client_mode;  /* 1: we are the client, frames must not be masked */
    uint8_t deflate;      /* 1: permessage-deflate negotiated, RSV1 allowed on a first frame */

    /* State: private. */
    uint8_t failed, closed;
    uint8_t hdr[GW_WS_MAX_HEADER];
    uint8_t hdr_len, hdr_need;
    uint8_t opcode, fin, masked, in_frame;
    uint8_t mask[4];
    uint64_t frame_len, frame_off;
    uint8_t msg_opcode; /* open message: GW_WS_OP_TEXT/BINARY, or 0 between messages */
    uint8_t msg_compressed, msg_first;
    uint64_t msg_len;
    struct gw_utf8 utf8;     /* the open uncompressed text message */
    struct gw_utf8 inflated; /* the open compressed text message, after inflation */
    uint8_t ctl_len;
    uint8_t ctl[GW_WS_MAX_CONTROL];
};

/* Prepares a parser. max_message bounds a message's payload (sum of its frames; compressed
 * messages may carry max_message + max_message / 64 + 64 bytes on the wire, the inflated size
 * being bounded by the reassembler). client_mode: 0 for a server (client frames must be
 * masked), 1 for a client. deflate: 1 when permessage-deflate was negotiated. */
void gw_ws_parser_init(struct gw_ws_parser *p, uint64_t max_message, int client_mode, int deflate);

/* Parses from data (len bytes, writable: masked payload is unmasked in place) and fills *ev
 * with the next event. Returns the number of bytes consumed; the caller drops them and calls
 * again with the rest while ev->type is not GW_WS_EV_NONE (an event may consume 0 bytes). A
 * DATA event's piece lies inside the consumed bytes. After an ERROR every call returns the
 * same error; after a CLOSE every byte is consumed with GW_WS_EV_NONE. */
size_t gw_ws_parse(struct gw_ws_parser *p, uint8_t *data, size_t len, struct gw_ws_event *ev);

/* Appends a DATA event's piece to msg, inflating it through dfl when the message is
 * compressed (dfl may be NULL when deflate was not negotiated). msg's max_bytes bounds the
 * message (set it to max_message): a larger message, or a deflate bomb, fails with 1009
 * without msg ever growing past it. Compressed text is checked as UTF-8 as it is inflated.
 * Returns 1 when the message is complete (its bytes are msg's data; the caller consumes
 * them), 0 when more pieces are needed, -1 with *close_code and err on failure. */
int gw_ws_message_feed(struct gw_ws_parser *p, struct gw_wsdeflate *dfl,
                       const struct gw_ws_event *ev, struct gw_buf *msg, unsigned *close_code,
                       char *err);

/* Writes a frame header into out (GW_WS_MAX_HEADER bytes) and returns its length. key: NULL
 * for a server (unmasked), else the 4-byte mask key a client uses (the caller masks the
 * payload with gw_ws_mask(), offset 0). */
size_t gw_ws_header_write(uint8_t *out, unsigned opcode, int fin, int rsv1, uint64_t len,
                          const uint8_t *key);

/* XORs n bytes with the mask key; offset is the position of p[0] within the payload (so a
 * payload can be masked or unmasked in pieces). */
void gw_ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t offset);

/* Appends one whole frame (header, then the payload, masked with key when key is not NULL)
 * to out. Returns 0, or -1 with err when out's limit would be passed (nothing appended). */
int gw_ws_frame_append(struct gw_buf *out, unsigned opcode, int fin, int rsv1, const void *payload,
                       size_t len, const uint8_t *key, char *err);

/* Builds a close payload: the code, then reason (NUL-terminated, may be NULL) cut at a UTF-8
 * character boundary to fit 125 bytes. Returns the payload length (2 ... 125). */
size_t gw_ws_close_payload(uint8_t out[GW_WS_MAX_CONTROL], unsigned code, const char *reason);

/* Appends a whole close frame (code and reason as for gw_ws_close_payload()). Returns 0 or -1
 * with err. */
int gw_ws_close_append(struct gw_buf *out, unsigned code, const char *reason, const uint8_t *key,
                       char *err);

/* 1 when code may appear in a close frame on the wire (1000-1003, 1007-1011, 3000-4999). */
int gw_ws_close_code_valid(unsigned code);

#endif
