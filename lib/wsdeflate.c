/*
 * wsdeflate.c -- permessage-deflate streams: lazy zlib raw deflate/inflate per connection.
 */
#include "wsdeflate.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util.h"
#include "ws.h"

/* The four bytes a sync flush ends with; RFC 7692 strips them on send, appends on receive. */
static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};

/* zlib takes uInt lengths: feed larger pieces in slices. */
#define SLICE (1u << 30)

void
gw_wsdeflate_init(struct gw_wsdeflate *d, const struct gw_wsdeflate_params *params, int client_mode,
                  size_t threshold)
{
    memset(d, 0, sizeof(*d));
    if (params)
        d->params = *params;
    if (d->params.server_max_window_bits < 8 || d->params.server_max_window_bits > 15)
        d->params.server_max_window_bits = 15;
    if (d->params.client_max_window_bits < 8 || d->params.client_max_window_bits > 15)
        d->params.client_max_window_bits = 15;
    d->client_mode = client_mode ? 1 : 0;
    d->level = Z_DEFAULT_COMPRESSION;
    d->mem_level = 8;
    d->threshold = threshold;
}

static void
drop_inflate(struct gw_wsdeflate *d)
{
    if (d->inflate) {
        inflateEnd(d->inflate);
        free(d->inflate);
        d->inflate = NULL;
    }
}

static void
drop_deflate(struct gw_wsdeflate *d)
{
    if (d->deflate) {
        deflateEnd(d->deflate);
        free(d->deflate);
        d->deflate = NULL;
    }
}

void
gw_wsdeflate_free(struct gw_wsdeflate *d)
{
    drop_inflate(d);
    drop_deflate(d);
}

/* What we send is governed by our side's parameters, what we receive by the peer's. */
static int
send_no_takeover(const struct gw_wsdeflate *d)
{
    return d->client_mode ? d->params.client_no_context_takeover
                          : d->params.server_no_context_takeover;
}

static int
recv_no_takeover(const struct gw_wsdeflate *d)
{
    return d->client_mode ? d->params.server_no_context_takeover
                          : d->params.client_no_context_takeover;
}

static z_stream *
inflate_stream(struct gw_wsdeflate *d, char *err)
{
    z_stream *z;

    if (d->inflate)
        return d->inflate;
    if ((z = calloc(1, sizeof(*z))) == NULL) {
        gw_err(err, "out of memory for an inflate stream");
        return NULL;
    }
    /* Always a 32 KiB window, whatever the peer agreed to: zlib checks distances against the
     * window only when they reach back past the current output, so with a smaller window a
     * stream could pass or fail depending on how the message was split into pieces. The
     * window is allocated when output first needs it, and freed with the stream. */
    if (inflateInit2(z, -15) != Z_OK) {
        gw_err(err, "inflateInit2 failed: %s", z->msg ? z->msg : "no memory");
        free(z);
        return NULL;
    }
    return d->inflate = z;
}

static z_stream *
deflate_stream(struct gw_wsdeflate *d, char *err)
{
    int bits = d->client_mode ? d->params.client_max_window_bits : d->params.server_max_window_bits;
    z_stream *z;

    if (d->deflate)
        return d->deflate;
    /* zlib refuses windowBits 8 for raw deflate (since 1.2.9). 9 is safe when the peer asked
     * for 8: zlib never emits a distance past w_size - 262 (MAX_DIST in deflate.c), which is
     * 250 bytes for a 512-byte window, inside the peer's 256-byte window. */
    if (bits == 8)
        bits = 9;
    if ((z = calloc(1, sizeof(*z))) == NULL) {
        gw_err(err, "out of memory for a deflate stream");
        return NULL;
    }
    if (deflateInit2(z, d->level, Z_DEFLATED, -bits, d->mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
        gw_err(err, "deflateInit2 failed: %s", z->msg ? z->msg : "bad parameters or no memory");
        free(z);
        return NULL;
    }
    return d->deflate = z;
}

/* Room to offer inflate for the next round: enough for typical ratios, never past the limit. */
static size_t
inflate_want(const z_stream *z, size_t room)
{
    size_t want = (size_t)z->avail_in * 4;

    want = GW_MAX(want, (size_t)1024);
    want = GW_MIN(want, (size_t)65536);
    return GW_MIN(want, room);
}

/* Inflates n bytes into out. Returns 0 or -1 with *code and err. */
static int
inflate_run(z_stream *z, const uint8_t *in, size_t n, struct gw_buf *out, unsigned *code, char *err)
{
    size_t want, slice;
    uint8_t probe, *dst;
    int rc;

    while (n > 0) {
        slice = GW_MIN(n, (size_t)SLICE);
        z->next_in = (Bytef *)in;
        z->avail_in = (uInt)slice;
        for (;;) {
            want = inflate_want(z, gw_buf_room(out));
            if (want == 0) {
                /* The message is at its limit: one more byte of output is a 1009. */
                dst = &probe;
                want = 1;
            } else if ((dst = (uint8_t *)gw_buf_reserve(out, want)) == NULL) {
                *code = GW_WS_CLOSE_INTERNAL;
                return gw_err(err, "out of memory inflating a message");
            }
            z->next_out = dst;
            z->avail_out = (uInt)want;
            rc = inflate(z, Z_SYNC_FLUSH);
            if (dst == &probe) {
                if (z->avail_out == 0) {
                    *code = GW_WS_CLOSE_TOO_BIG;
                    return gw_err(err, "inflated message larger than max_message");
                }
            } else {
                gw_buf_commit(out, want - z->avail_out);
            }
            if (rc == Z_STREAM_END) {
                /* The peer ended its stream with a BFINAL block: the next bytes (at least the
                 * tail) start a new one. */
                inflateReset(z);
            } else if (rc == Z_MEM_ERROR) {
                *code = GW_WS_CLOSE_INTERNAL;
                return gw_err(err, "out of memory inflating a message");
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                *code = GW_WS_CLOSE_BAD_DATA;
                return gw_err(err, "invalid compressed data: %s", z->msg ? z->msg : "zlib error");
            }
            if (z->avail_in == 0 && z->avail_out > 0)
                break;
        }
        in += slice;
        n -= slice;
    }
    return 0;
}

int
gw_wsdeflate_inflate(struct gw_wsdeflate *d, const void *in, size_t len, int fin,
                     struct gw_buf *out, unsigned *close_code, char *err)
{
    z_stream *z = inflate_stream(d, err);

    if (!z) {
        *close_code = GW_WS_CLOSE_INTERNAL;
        return -1;
    }
    if (inflate_run(z, in, len, out, close_code, err) < 0 ||
        (fin && inflate_run(z, tail, sizeof(tail), out, close_code, err) < 0)) {
        drop_inflate(d); /* the stream is unusable; the connection is closing anyway */
        return -1;
    }
    if (fin && recv_no_takeover(d))
        drop_inflate(d);
    return 0;
}

/* Appends compressed bytes from chunk, holding back its last four (the tail to strip) for the
 * next round. Returns the bytes now held, or -1 when out is full. */
static int
flush_chunk(uint8_t *chunk, size_t have, struct gw_buf *out)
{
    if (have <= sizeof(tail))
        return (int)have;
    if (gw_buf_append(out, chunk, have - sizeof(tail)) < 0)
        return -1;
    memmove(chunk, chunk + have - sizeof(tail), sizeof(tail));
    return (int)sizeof(tail);
}

int
gw_wsdeflate_compress(struct gw_wsdeflate *d, const void *in, size_t len, struct gw_buf *out,
                      char *err)
{
    uint8_t chunk[16384];
    const uint8_t *p = in;
    size_t held = 0, slice;
    z_stream *z;
    int rc, last;

    /* zlib emits nothing for a second sync flush without input, so the empty message is
     * written by hand: an empty stored block whose LEN/NLEN is the stripped tail (RFC 7692
     * section 7.2.3.6). */
    if (len == 0)
        return gw_buf_append(out, "", 1) < 0 ? gw_err(err, "output buffer full") : 0;
    if ((z = deflate_stream(d, err)) == NULL)
        return -1;
    do {
        slice = GW_MIN(len, (size_t)SLICE);
        last = slice == len;
        z->next_in = (Bytef *)p;
        z->avail_in = (uInt)slice;
        do {
            z->next_out = chunk + held;
            z->avail_out = (uInt)(sizeof(chunk) - held);
            rc = deflate(z, last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                drop_deflate(d);
                return gw_err(err, "deflate failed: %s", z->msg ? z->msg : "zlib error");
            }
            if ((rc = flush_chunk(chunk, sizeof(chunk) - z->avail_out, out)) < 0) {
                drop_deflate(d);
                return gw_err(err, "compressed message does not fit the output buffer");
            }
            held = (size_t)rc;
        } while (z->avail_out == 0 || z->avail_in > 0);
        p += slice;
        len -= slice;
    } while (len > 0);
    if (held != sizeof(tail) || memcmp(chunk, tail, sizeof(tail)) != 0) {
        drop_deflate(d);
        return gw_err(err, "deflate output does not end with a sync flush");
    }
    if (send_no_takeover(d))
        drop_deflate(d);
    return 0;
}

int
gw_wsdeflate_frame_append(struct gw_wsdeflate *d, struct gw_buf *out, unsigned opcode,
                          const void *msg, size_t len, const uint8_t *key, char *err)
{
    struct gw_buf z;
    int rc, compressed;

    if (!d || len < d->threshold)
        return gw_ws_frame_append(out, opcode, 1, 0, msg, len, key, err);
    /* The header needs the compressed length, so compress aside first. */
    gw_buf_init(&z, gw_buf_room(out));
    if (gw_wsdeflate_compress(d, msg, len, &z, err) < 0) {
        gw_buf_reset(&z);
        return -1;
    }
    d->raw_bytes += len;
    /* Without context takeover the peer keeps no window, so a message that grew can go as
     * is; with takeover the peer's window must see it, so it goes compressed regardless. */
    compressed = !(send_no_takeover(d) && gw_buf_len(&z) >= len);
    if (compressed)
        rc = gw_ws_frame_append(out, opcode, 1, 1, gw_buf_data(&z), gw_buf_len(&z), key, err);
    else
        rc = gw_ws_frame_append(out, opcode, 1, 0, msg, len, key, err);
    d->wire_bytes += compressed ? gw_buf_len(&z) : len;
    gw_buf_reset(&z);
    return rc < 0 ? -1 : compressed;
}
