/*
 * frame.c -- libFuzzer target for the backend frame decoder: the incremental decoder, fed in
 * pieces whose sizes come from the input, must agree frame for frame (and on the error kind)
 * with gw_frame_parse over the whole input; each frame's payload goes through the HELLO, OPEN,
 * CLOSE and ROOM parsers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
payload_parsers(const struct gw_frame *f)
{
    char err[GW_ERR_LEN], reason[GW_FRAME_CLOSE_REASON_MAX + 1], room[GW_FRAME_NAME_MAX + 1];
    struct gw_frame_hello h;
    const uint8_t *msg;
    size_t msg_len;
    unsigned code;

    switch (f->hdr.type) {
    case GW_FRAME_HELLO:
        gw_frame_hello_parse(f->payload, f->hdr.length, &h, err);
        break;
    case GW_FRAME_OPEN:
        json_decref(gw_frame_open_parse(f->payload, f->hdr.length, err));
        break;
    case GW_FRAME_CLOSE:
        gw_frame_close_parse(f, &code, reason);
        if (code != 0 && !gw_frame_close_code_ok(code))
            abort();
        break;
    case GW_FRAME_ROOM:
        gw_frame_room_parse(f, room, &msg, &msg_len);
        if (room[0] == '\0' || msg + msg_len != f->payload + f->hdr.length)
            abort();
        break;
    }
}

/* Feeds the n bytes at p to a decoder in pieces of step bytes; each frame it gives must be the
 * one gw_frame_parse finds at the same place. Returns the decoder's final result: 0 (clean
 * end), 1 (EOF inside a frame) or -1 (bad frame, kind in *kind). */
static int
incremental(const uint8_t *p, size_t n, size_t step, uint32_t max_frame, unsigned opts,
            enum gw_frame_error *kind)
{
    struct gw_frame_dec d;
    struct gw_frame f, g;
    enum gw_frame_error k;
    char err[GW_ERR_LEN];
    size_t pos = 0, used;
    ssize_t r;
    int rc = 0;

    gw_frame_dec_init(&d, max_frame, opts);
    while (pos < n && rc >= 0) {
        rc = gw_frame_dec_feed(&d, p + pos, GW_MIN(step, n - pos), &used, &g);
        if (rc == 1) {
            /* The frame ends at pos + used; it started where parse finds it. */
            r = (ssize_t)(GW_FRAME_HDR_LEN + g.hdr.length);
            if ((size_t)r > pos + used ||
                gw_frame_parse(p + pos + used - (size_t)r, (size_t)r, max_frame, opts, &f, &k,
                               err) != r ||
                memcmp(&f.hdr, &g.hdr, sizeof(f.hdr)) != 0 ||
                memcmp(f.payload, g.payload, f.hdr.length) != 0)
                abort();
        }
        pos += used;
    }
    if (rc < 0) {
        if (d.err[0] == '\0' || d.error == GW_FRAME_OK)
            abort();
        *kind = d.error;
    } else {
        rc = gw_frame_dec_eof(&d) == 0 ? 0 : 1;
        if (rc == 1 && d.error != GW_FRAME_E_TRUNCATED)
            abort();
    }
    gw_frame_dec_reset(&d);
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_frame f;
    enum gw_frame_error kind = GW_FRAME_OK, dkind = GW_FRAME_OK;
    char err[GW_ERR_LEN];
    const uint8_t *p;
    size_t n, off = 0, step;
    uint32_t max_frame;
    unsigned opts;
    ssize_t rc = 0;
    int want, got;

    if (size < 2)
        return 0;
    /* Byte 0: options and max_frame; byte 1: the piece size of the incremental feed. */
    opts = data[0] & 1 ? GW_FRAME_CHECK_TEXT : 0;
    max_frame = (data[0] & 2) ? 64 : 4096;
    step = data[1] ? data[1] : size;
    p = data + 2;
    n = size - 2;

    /* The reference: gw_frame_parse over the whole input, frame after frame. */
    while (off < n &&
           (rc = gw_frame_parse(p + off, n - off, max_frame, opts, &f, &kind, err)) > 0) {
        payload_parsers(&f);
        off += (size_t)rc;
    }
    want = rc < 0 ? -1 : off < n ? 1 : 0;
    got = incremental(p, n, step, max_frame, opts, &dkind);
    if (got != want || (want == -1 && dkind != kind))
        abort();
    return 0;
}
