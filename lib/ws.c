/*
 * ws.c -- RFC 6455 frame parser, message reassembler and frame encoders.
 */
#include "ws.h"

#include <string.h>

#include "util.h"
#include "wsdeflate.h"

void
gw_ws_parser_init(struct gw_ws_parser *p, uint64_t max_message, int client_mode, int deflate)
{
    memset(p, 0, sizeof(*p));
    p->max_message = max_message;
    p->client_mode = client_mode ? 1 : 0;
    p->deflate = deflate ? 1 : 0;
    p->hdr_need = 2;
}

static size_t
fail(struct gw_ws_parser *p, struct gw_ws_event *ev, unsigned code, const char *why)
{
    p->failed = (uint8_t)(code - 1000); /* remembered so later calls repeat the error */
    memset(ev, 0, sizeof(*ev));
    ev->type = GW_WS_EV_ERROR;
    ev->error_code = code;
    ev->error = why;
    return 0;
}

static int
is_control(unsigned op)
{
    return op & 0x8;
}

/* Wire bound of a message: a compressed one may be slightly larger than its inflated size
 * (stored blocks of incompressible data), which the reassembler bounds exactly. */
static uint64_t
wire_limit(const struct gw_ws_parser *p, int compressed)
{
    uint64_t m = p->max_message;

    if (!compressed)
        return m;
    return m > UINT64_MAX / 2 ? m : m + m / 64 + 64;
}

/* Checks the first two header bytes; returns NULL or the reason for a 1002. */
static const char *
check_first_bytes(struct gw_ws_parser *p)
{
    uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
    unsigned op = b0 & 0x0f, len7 = b1 & 0x7f;
    int fin = b0 >> 7, rsv1 = (b0 >> 6) & 1, masked = b1 >> 7;

    if (b0 & 0x30)
        return "reserved bits RSV2/RSV3 set";
    if ((op > GW_WS_OP_BINARY && op < GW_WS_OP_CLOSE) || op > GW_WS_OP_PONG)
        return "reserved opcode";
    if (masked && p->client_mode)
        return "masked frame from the server";
    if (!masked && !p->client_mode)
        return "unmasked frame from the client";
    if (is_control(op)) {
        if (!fin)
            return "fragmented control frame";
        if (len7 > GW_WS_MAX_CONTROL)
            return "control frame longer than 125 bytes";
        if (rsv1)
            return "RSV1 set on a control frame";
        return NULL;
    }
    if (rsv1 && !p->deflate)
        return "RSV1 set without a negotiated extension";
    if (op == GW_WS_OP_CONT) {
        if (!p->msg_opcode)
            return "continuation frame without a message to continue";
        if (rsv1)
            return "RSV1 set on a continuation frame";
    } else if (p->msg_opcode) {
        return "new data frame while a fragmented message is open";
    }
    return NULL;
}

/* Header bytes after the first two: extended length, then the mask key. */
static uint8_t
header_size(uint8_t b1)
{
    unsigned len7 = b1 & 0x7f;

    return (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0));
}

/* Decodes a complete header and starts the frame; returns 0 or -1 after fail(). */
static int
begin_frame(struct gw_ws_parser *p, struct gw_ws_event *ev)
{
    const uint8_t *h = p->hdr;
    unsigned len7 = h[1] & 0x7f, i;
    uint64_t len = len7;
    size_t at = 2;

    if (len7 == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        at = 4;
    } else if (len7 == 127) {
        if (h[2] & 0x80) {
            fail(p, ev, GW_WS_CLOSE_PROTOCOL, "64-bit frame length with the high bit set");
            return -1;
        }
        for (len = 0, i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        at = 10;
    }
    p->opcode = h[0] & 0x0f;
    p->fin = h[0] >> 7;
    p->masked = h[1] >> 7;
    if (p->masked)
        memcpy(p->mask, h + at, 4);
    p->frame_len = len;
    p->frame_off = 0;
    p->in_frame = 1;
    p->ctl_len = 0;
    if (is_control(p->opcode))
        return 0;
    if (p->opcode != GW_WS_OP_CONT) {
        p->msg_opcode = p->opcode;
        p->msg_compressed = (h[0] >> 6) & 1;
        p->msg_first = 1;
        p->msg_len = 0;
        gw_utf8_init(&p->utf8);
        gw_utf8_init(&p->inflated);
    }
    /* Fail as soon as the header shows the message cannot fit. */
    if (len > wire_limit(p, p->msg_compressed) - p->msg_len) {
        fail(p, ev, GW_WS_CLOSE_TOO_BIG, "message larger than max_message");
        return -1;
    }
    p->msg_len += len;
    return 0;
}

static void
end_frame(struct gw_ws_parser *p)
{
    p->in_frame = 0;
    p->hdr_len = 0;
    p->hdr_need = 2;
}

/* A close payload: empty, or a valid code and a UTF-8 reason. */
static size_t
close_event(struct gw_ws_parser *p, struct gw_ws_event *ev)
{
    unsigned code;

    if (p->ctl_len == 1)
        return fail(p, ev, GW_WS_CLOSE_PROTOCOL, "close payload of one byte");
    ev->close_code = GW_WS_CLOSE_NO_STATUS;
    if (p->ctl_len >= 2) {
        code = (unsigned)p->ctl[0] << 8 | p->ctl[1];
        if (!gw_ws_close_code_valid(code))
            return fail(p, ev, GW_WS_CLOSE_PROTOCOL, "invalid close code");
        if (!gw_utf8_valid(p->ctl + 2, p->ctl_len - 2u))
            return fail(p, ev, GW_WS_CLOSE_BAD_DATA, "close reason is not valid UTF-8");
        ev->close_code = code;
        ev->reason = (const char *)p->ctl + 2;
        ev->reason_len = p->ctl_len - 2u;
    }
    p->closed = 1;
    ev->type = GW_WS_EV_CLOSE;
    return 0;
}

/* Collects control payload; fills ev when the frame is whole. Returns bytes consumed. */
static size_t
control_bytes(struct gw_ws_parser *p, uint8_t *data, size_t len, struct gw_ws_event *ev)
{
    size_t n = (size_t)GW_MIN(len, p->frame_len - p->frame_off);

    memcpy(p->ctl + p->ctl_len, data, n);
    if (p->masked)
        gw_ws_mask(p->ctl + p->ctl_len, n, p->mask, p->frame_off);
    p->ctl_len = (uint8_t)(p->ctl_len + n);
    p->frame_off += n;
    if (p->frame_off < p->frame_len)
        return n;
    end_frame(p);
    ev->data = p->ctl;
    ev->len = p->ctl_len;
    if (p->opcode == GW_WS_OP_PING)
        ev->type = GW_WS_EV_PING;
    else if (p->opcode == GW_WS_OP_PONG)
        ev->type = GW_WS_EV_PONG;
    else
        close_event(p, ev);
    return n;
}

/* Hands back the next piece of data payload, unmasked in place. */
static size_t
data_bytes(struct gw_ws_parser *p, uint8_t *data, size_t len, struct gw_ws_event *ev)
{
    size_t n = (size_t)GW_MIN(len, p->frame_len - p->frame_off);
    size_t bad;
    int frame_done;

    if (p->masked)
        gw_ws_mask(data, n, p->mask, p->frame_off);
    if (p->msg_opcode == GW_WS_OP_TEXT && !p->msg_compressed &&
        gw_utf8_feed(&p->utf8, data, n, &bad) < 0)
        return fail(p, ev, GW_WS_CLOSE_BAD_DATA, "text message is not valid UTF-8");
    p->frame_off += n;
    frame_done = p->frame_off == p->frame_len;
    ev->type = GW_WS_EV_DATA;
    ev->opcode = p->msg_opcode;
    ev->first = p->msg_first;
    ev->compressed = p->msg_compressed;
    ev->fin = frame_done && p->fin;
    ev->data = data;
    ev->len = n;
    p->msg_first = 0;
    if (ev->fin && p->msg_opcode == GW_WS_OP_TEXT && !p->msg_compressed &&
        !gw_utf8_complete(&p->utf8))
        return fail(p, ev, GW_WS_CLOSE_BAD_DATA, "text message ends inside a character");
    if (frame_done) {
        end_frame(p);
        if (p->fin)
            p->msg_opcode = 0;
    }
    return n;
}

size_t
gw_ws_parse(struct gw_ws_parser *p, uint8_t *data, size_t len, struct gw_ws_event *ev)
{
    size_t used = 0, n;

    memset(ev, 0, sizeof(*ev));
    if (p->failed)
        return fail(p, ev, 1000u + p->failed, "connection already failed");
    if (p->closed)
        return len;
    /* No bytes, no event: a frame whose header completes always yields its event in the call
     * that completed it. (Also keeps a NULL data pointer out of memcpy.) */
    if (len == 0)
        return 0;
    while (!p->in_frame) {
        n = GW_MIN(len - used, (size_t)(p->hdr_need - p->hdr_len));
        memcpy(p->hdr + p->hdr_len, data + used, n);
        p->hdr_len = (uint8_t)(p->hdr_len + n);
        used += n;
        if (p->hdr_len < p->hdr_need)
            return used;
        if (p->hdr_need == 2) {
            const char *why = check_first_bytes(p);
            if (why)
                return fail(p, ev, GW_WS_CLOSE_PROTOCOL, why);
            p->hdr_need = header_size(p->hdr[1]);
            if (p->hdr_len < p->hdr_need)
                continue;
        }
        if (begin_frame(p, ev) < 0)
            return 0;
    }
    if (is_control(p->opcode))
        return used + control_bytes(p, data + used, len - used, ev);
    /* Data: a piece is returned even when empty so a zero-length frame (or the empty last
     * fragment of a message) is seen, but not for a partial frame with no new bytes. */
    if (used == len && p->frame_off < p->frame_len)
        return used;
    return used + data_bytes(p, data + used, len - used, ev);
}

/* Checks the bytes of msg past before as the next part of a compressed text message. */
static int
inflated_text_ok(struct gw_ws_parser *p, const struct gw_buf *msg, size_t before)
{
    size_t bad;

    if (gw_buf_len(msg) == before)
        return 1;
    return gw_utf8_feed(&p->inflated, gw_buf_data(msg) + before, gw_buf_len(msg) - before, &bad) ==
           0;
}

int
gw_ws_message_feed(struct gw_ws_parser *p, struct gw_wsdeflate *dfl, const struct gw_ws_event *ev,
                   struct gw_buf *msg, unsigned *close_code, char *err)
{
    size_t before = gw_buf_len(msg);
    int text = ev->opcode == GW_WS_OP_TEXT;

    if (ev->type != GW_WS_EV_DATA)
        return 0;
    if (!ev->compressed) {
        if (gw_buf_append(msg, ev->data, ev->len) < 0) {
            *close_code = GW_WS_CLOSE_TOO_BIG;
            return gw_err(err, "message larger than max_message");
        }
        return ev->fin ? 1 : 0;
    }
    if (!dfl) {
        *close_code = GW_WS_CLOSE_PROTOCOL;
        return gw_err(err, "compressed message without permessage-deflate");
    }
    if (gw_wsdeflate_inflate(dfl, ev->data, ev->len, ev->fin, msg, close_code, err) < 0) {
        /* Report the first violation in stream order, whatever the piece sizes: invalid text
         * inflated before the limit was reached comes first. */
        if (*close_code == GW_WS_CLOSE_TOO_BIG && text && !inflated_text_ok(p, msg, before)) {
            *close_code = GW_WS_CLOSE_BAD_DATA;
            return gw_err(err, "text message is not valid UTF-8");
        }
        return -1;
    }
    /* Only the newly inflated bytes: the text before them was checked already. */
    if (text &&
        (!inflated_text_ok(p, msg, before) || (ev->fin && !gw_utf8_complete(&p->inflated)))) {
        *close_code = GW_WS_CLOSE_BAD_DATA;
        return gw_err(err, "text message is not valid UTF-8");
    }
    return ev->fin ? 1 : 0;
}

size_t
gw_ws_header_write(uint8_t *out, unsigned opcode, int fin, int rsv1, uint64_t len,
                   const uint8_t *key)
{
    size_t n = 2;
    int i;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
    } else if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = 127;
        for (i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (key) {
        out[1] |= 0x80;
        memcpy(out + n, key, 4);
        n += 4;
    }
    return n;
}

void
gw_ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t offset)
{
    uint8_t k[8];
    uint64_t w, kw;
    size_t i = 0;
    int j;

    for (j = 0; j < 8; j++)
        k[j] = key[(offset + (uint64_t)j) & 3];
    memcpy(&kw, k, 8);
    /* Eight bytes at a time: the rotated key repeats every 4 bytes, so it fits a word. */
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        w ^= kw;
        memcpy(p + i, &w, 8);
    }
    for (; i < n; i++)
        p[i] ^= k[i & 7];
}

int
gw_ws_frame_append(struct gw_buf *out, unsigned opcode, int fin, int rsv1, const void *payload,
                   size_t len, const uint8_t *key, char *err)
{
    uint8_t h[GW_WS_MAX_HEADER];
    size_t hl = gw_ws_header_write(h, opcode, fin, rsv1, len, key);
    uint8_t *dst;

    if (len > SIZE_MAX - hl || (dst = (uint8_t *)gw_buf_reserve(out, hl + len)) == NULL)
        return gw_err(err, "frame of %zu bytes does not fit the output buffer", len);
    memcpy(dst, h, hl);
    if (len)
        memcpy(dst + hl, payload, len);
    if (key)
        gw_ws_mask(dst + hl, len, key, 0);
    gw_buf_commit(out, hl + len);
    return 0;
}

size_t
gw_ws_close_payload(uint8_t out[GW_WS_MAX_CONTROL], unsigned code, const char *reason)
{
    size_t n = reason ? strlen(reason) : 0;

    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    n = gw_utf8_truncate(reason, n, GW_WS_MAX_CLOSE_REASON);
    if (n)
        memcpy(out + 2, reason, n);
    return 2 + n;
}

int
gw_ws_close_append(struct gw_buf *out, unsigned code, const char *reason, const uint8_t *key,
                   char *err)
{
    uint8_t pl[GW_WS_MAX_CONTROL];
    size_t n = gw_ws_close_payload(pl, code, reason);

    return gw_ws_frame_append(out, GW_WS_OP_CLOSE, 1, 0, pl, n, key, err);
}

int
gw_ws_close_code_valid(unsigned code)
{
    /* 1012-1014 are registered with IANA (restart, try again later, bad gateway); 1004-1006
     * and 1015 are reserved for local use and never go on the wire. */
    if (code >= 1000 && code <= 1003)
        return 1;
    if (code >= 1007 && code <= 1014)
        return 1;
    return code >= 3000 && code <= 4999;
}
