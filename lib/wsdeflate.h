/*
 * wsdeflate.h -- permessage-deflate (RFC 7692) for one WebSocket connection, over zlib raw
 * deflate streams.
 *
 * Streams are allocated on first use, not at the handshake, and freed after each message
 * when the sending side has agreed to "no context takeover", so an idle connection holds no
 * zlib memory (the gateway negotiates both *_no_context_takeover by default for this). With
 * context takeover a stream keeps its window between messages (2^bits bytes plus zlib's
 * tables; inflate always uses a 32 KiB window) for as long as the connection lives.
 *
 * Window bits 8: zlib refuses 8 for raw deflate, so 9 is used when 8 was agreed. That is
 * safe because zlib never reaches back further than the window minus 262 bytes (250 with 9
 * bits), inside the peer's 256-byte window.
 *
 * Inflated output goes into a caller's gw_buf whose max_bytes is the message limit: a deflate
 * bomb fails with 1009 and never allocates past it. Not thread-safe: one per connection.
 */
#ifndef GW_WSDEFLATE_H
#define GW_WSDEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct z_stream_s;

/* The agreed parameters of RFC 7692 section 7.1 (window bits 8..15; 15 when not given). */
struct gw_wsdeflate_params {
    uint8_t server_no_context_takeover;
    uint8_t client_no_context_takeover;
    uint8_t server_max_window_bits;
    uint8_t client_max_window_bits;
};

/* Default threshold below which messages go uncompressed (RSV1 clear). */
#define GW_WSDEFLATE_THRESHOLD 1024

struct gw_wsdeflate {
    struct gw_wsdeflate_params params;
    uint8_t client_mode;        /* 1: we are the client (we deflate with client_* params) */
    int level;                  /* zlib level, default Z_DEFAULT_COMPRESSION */
    int mem_level;              /* zlib memLevel for deflate, default 8 */
    size_t threshold;           /* messages shorter than this are sent uncompressed */
    struct z_stream_s *inflate; /* NULL while idle */
    struct z_stream_s *deflate; /* NULL while idle */
    uint64_t raw_bytes;         /* payload bytes we compressed ... */
    uint64_t wire_bytes;        /* ... and what they became, for a deflate ratio */
};

/* Prepares d for a connection with the agreed params (NULL: all defaults). client_mode: 0 in
 * a server, 1 in a client. threshold: see above (0 compresses everything). Allocates
 * nothing. */
void gw_wsdeflate_init(struct gw_wsdeflate *d, const struct gw_wsdeflate_params *params,
                       int client_mode, size_t threshold);

/* Frees the zlib streams; d may be initialised again. */
void gw_wsdeflate_free(struct gw_wsdeflate *d);

/* Inflates a piece of a compressed message, appending to out; fin marks the last piece, after
 * which the RFC 7692 tail (00 00 ff ff) is fed and, without context takeover, the stream is
 * freed. Output past out->max_bytes fails with *close_code 1009; corrupt data with 1007; an
 * allocation failure with 1011. Returns 0 or -1 with err. */
int gw_wsdeflate_inflate(struct gw_wsdeflate *d, const void *in, size_t len, int fin,
                         struct gw_buf *out, unsigned *close_code, char *err);

/* Compresses a whole message, appending the compressed payload (tail removed, as RFC 7692
 * section 7.2.1 says) to out. Returns 0, or -1 with err (out's limit, or zlib). */
int gw_wsdeflate_compress(struct gw_wsdeflate *d, const void *in, size_t len, struct gw_buf *out,
                          char *err);

/* Appends a whole message as one frame to out: compressed (RSV1 set) when d is not NULL and
 * len >= d->threshold, else as is. key: NULL for a server, the mask key for a client.
 * Returns 1 when compressed, 0 when sent as is, -1 with err (nothing appended). */
int gw_wsdeflate_frame_append(struct gw_wsdeflate *d, struct gw_buf *out, unsigned opcode,
                              const void *msg, size_t len, const uint8_t *key, char *err);

#endif
