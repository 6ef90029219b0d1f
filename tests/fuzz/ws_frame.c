/*
 * ws_frame.c -- libFuzzer target for the WebSocket frame parser, reassembler and
 * permessage-deflate (lib/ws.c, lib/wsdeflate.c). The first byte picks the mode (server or
 * client, deflate or not, context takeover, window bits) and the piece size; the rest is the
 * stream. Every message must stay within max_message, every completed text message must be
 * UTF-8, and the same stream fed whole must give the same outcome. The stream is also
 * compressed and inflated back, which must give it back unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "util.h"
#include "ws.h"
#include "wsdeflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MESSAGE 4096

/* Feeds the stream in pieces of chunk bytes; returns messages seen, or -(close code). */
static long
run(uint8_t mode, const uint8_t *in, size_t len, size_t chunk)
{
    struct gw_wsdeflate_params prm = {
        .server_no_context_takeover = mode >> 2 & 1,
        .client_no_context_takeover = mode >> 3 & 1,
        .server_max_window_bits = (uint8_t)(8 + (mode >> 4 & 7)),
        .client_max_window_bits = (uint8_t)(15 - (mode >> 4 & 7)),
    };
    int client = mode & 1, deflate = mode >> 1 & 1;
    uint8_t *buf = malloc(len ? len : 1), *at;
    struct gw_ws_parser p;
    struct gw_ws_event ev;
    struct gw_wsdeflate d;
    struct gw_buf msg;
    size_t pos = 0, n, c;
    unsigned code;
    char err[GW_ERR_LEN];
    long count = 0;
    int rc;

    if (!buf)
        return 0;
    memcpy(buf, in, len);
    gw_ws_parser_init(&p, MAX_MESSAGE, client, deflate);
    gw_wsdeflate_init(&d, &prm, client, 0);
    gw_buf_init(&msg, MAX_MESSAGE);
    while (pos < len && count >= 0) {
        at = buf + pos;
        n = len - pos < chunk ? len - pos : chunk;
        pos += n;
        for (;;) {
            c = gw_ws_parse(&p, at, n, &ev);
            if (c > n)
                abort();
            at += c;
            n -= c;
            if (ev.type == GW_WS_EV_NONE)
                break;
            if (ev.type == GW_WS_EV_ERROR) {
                count = -(long)ev.error_code;
                break;
            }
            if ((ev.type == GW_WS_EV_PING || ev.type == GW_WS_EV_PONG) && ev.len > 125)
                abort();
            if (ev.type == GW_WS_EV_CLOSE &&
                (ev.close_code != 1005 && !gw_ws_close_code_valid(ev.close_code)))
                abort();
            rc = gw_ws_message_feed(&p, deflate ? &d : NULL, &ev, &msg, &code, err);
            if (msg.cap > MAX_MESSAGE)
                abort();
            if (rc < 0) {
                count = -(long)code;
                break;
            }
            if (rc == 1) {
                if (ev.opcode == GW_WS_OP_TEXT && gw_buf_len(&msg) &&
                    !gw_utf8_valid(gw_buf_data(&msg), gw_buf_len(&msg)))
                    abort();
                gw_buf_consume(&msg, gw_buf_len(&msg));
                count++;
            }
        }
    }
    gw_buf_reset(&msg);
    gw_wsdeflate_free(&d);
    free(buf);
    return count;
}

/* Compresses the input as one message and inflates it back. */
static void
round_trip(uint8_t mode, const uint8_t *in, size_t len)
{
    struct gw_wsdeflate_params prm = {.server_no_context_takeover = mode >> 2 & 1,
                                      .client_no_context_takeover = mode >> 3 & 1,
                                      .server_max_window_bits = (uint8_t)(8 + (mode >> 4 & 7)),
                                      .client_max_window_bits = 15};
    struct gw_wsdeflate tx, rx;
    struct gw_buf z, back;
    char err[GW_ERR_LEN];
    unsigned code;

    gw_wsdeflate_init(&tx, &prm, 0, 0);
    gw_wsdeflate_init(&rx, &prm, 1, 0);
    gw_buf_init(&z, 2 * len + 64);
    gw_buf_init(&back, len);
    if (gw_wsdeflate_compress(&tx, in, len, &z, err) < 0)
        abort();
    if (gw_wsdeflate_inflate(&rx, gw_buf_data(&z), gw_buf_len(&z), 1, &back, &code, err) < 0)
        abort();
    if (gw_buf_len(&back) != len || (len && memcmp(gw_buf_data(&back), in, len) != 0))
        abort();
    gw_buf_reset(&z);
    gw_buf_reset(&back);
    gw_wsdeflate_free(&tx);
    gw_wsdeflate_free(&rx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t mode;
    size_t chunk;
    long whole, pieces;

    if (size < 1)
        return 0;
    mode = data[0];
    chunk = (size_t)(mode >> 7 ? 1 : 7);
    data++;
    size--;
    whole = run(mode, data, size, size ? size : 1);
    pieces = run(mode, data, size, chunk);
    /* Pieces may fail where whole fails, with the same code, and count the same messages
     * when neither fails. */
    if ((whole < 0) != (pieces < 0) || (whole >= 0 && whole != pieces))
        abort();
    if (whole < 0 && whole != pieces)
        abort();
    round_trip(mode, data, size);
    return 0;
}
