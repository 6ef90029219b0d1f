/*
 * wsdeflate.c -- tests for lib/wsdeflate.c: the RFC 7692 section 7.2.3 examples, context
 * takeover and its absence, the compression threshold, window bits (8 included), a deflate
 * bomb held to max_message, corrupt data, and round trips fed one byte at a time.
 */
#include "wsdeflate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "util.h"
#include "ws.h"
#include "../tap.h"

static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Parses a stream of frames (a copy, chunk bytes at a time) and reassembles every message
 * through d into msgs (messages joined by '|'). Returns the count of messages, or -code. */
static int
receive(struct gw_wsdeflate *d, int client_mode, const void *in, size_t len, size_t chunk,
        size_t max_message, char *msgs, size_t size)
{
    struct gw_ws_parser p;
    struct gw_ws_event ev;
    struct gw_buf msg;
    uint8_t *buf = malloc(len), *at;
    size_t pos = 0, n, c, used = 0;
    unsigned code = 0;
    char err[GW_ERR_LEN];
    int count = 0, rc = 0;

    memcpy(buf, in, len);
    gw_ws_parser_init(&p, max_message, client_mode, 1);
    gw_buf_init(&msg, max_message);
    msgs[0] = '\0';
    while (pos < len && rc >= 0) {
        at = buf + pos;
        n = GW_MIN(chunk, len - pos);
        pos += n;
        while (rc >= 0) {
            c = gw_ws_parse(&p, at, n, &ev);
            at += c;
            n -= c;
            if (ev.type == GW_WS_EV_NONE)
                break;
            if (ev.type == GW_WS_EV_ERROR) {
                code = ev.error_code;
                rc = -1;
                break;
            }
            if ((rc = gw_ws_message_feed(&p, d, &ev, &msg, &code, err)) == 1) {
                if (used + gw_buf_len(&msg) + 2 < size) {
                    if (count)
                        msgs[used++] = '|';
                    memcpy(msgs + used, gw_buf_data(&msg), gw_buf_len(&msg));
                    used += gw_buf_len(&msg);
                    msgs[used] = '\0';
                }
                if (msg.cap > max_message)
                    rc = -1, code = 9999;
                gw_buf_consume(&msg, gw_buf_len(&msg));
                count++;
            }
            if (msg.cap > max_message)
                rc = -1, code = 9998; /* the bound was passed: the test fails loudly */
        }
    }
    gw_buf_reset(&msg);
    free(buf);
    return rc < 0 ? -(int)code : count;
}

/* receive() whole and byte by byte; 1 when both give want. */
static int
receive_both(const struct gw_wsdeflate_params *prm, int client_mode, const void *in, size_t len,
             const char *want)
{
    struct gw_wsdeflate d;
    char got[512];
    int n1, n2, same;

    gw_wsdeflate_init(&d, prm, client_mode, 0);
    n1 = receive(&d, client_mode, in, len, len, 1 << 20, got, sizeof(got));
    same = n1 > 0 && strcmp(got, want) == 0;
    if (!same)
        diag("whole: %d '%s'", n1, got);
    gw_wsdeflate_free(&d);
    gw_wsdeflate_init(&d, prm, client_mode, 0);
    n2 = receive(&d, client_mode, in, len, 1, 1 << 20, got, sizeof(got));
    gw_wsdeflate_free(&d);
    if (strcmp(got, want) != 0)
        diag("byte by byte: %d '%s'", n2, got);
    return same && n1 == n2 && strcmp(got, want) == 0;
}

static void
test_rfc_examples(void)
{
    static const uint8_t hello[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t fragmented[] = {0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80,
                                         0x04, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t shared[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07,
                                     0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00};
    static const uint8_t stored[] = {0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff,
                                     0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00};
    static const uint8_t bfinal[] = {0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00};
    static const uint8_t two_blocks[] = {0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00,
                                         0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t want_hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t want_second[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
    struct gw_wsdeflate d;
    struct gw_buf out;
    char err[GW_ERR_LEN];

    ok(receive_both(NULL, 1, hello, sizeof(hello), "Hello"), "7.2.3.1 compressed \"Hello\"");
    ok(receive_both(NULL, 1, fragmented, sizeof(fragmented), "Hello"),
       "7.2.3.1 compressed \"Hello\" in two fragments");
    ok(receive_both(NULL, 1, shared, sizeof(shared), "Hello|Hello"),
       "7.2.3.2 second \"Hello\" through the shared window");
    ok(receive_both(NULL, 1, stored, sizeof(stored), "Hello"),
       "7.2.3.3 \"Hello\" in a stored (uncompressed) block");
    ok(receive_both(NULL, 1, bfinal, sizeof(bfinal), "Hello"), "7.2.3.4 a block with BFINAL set");
    ok(receive_both(NULL, 1, two_blocks, sizeof(two_blocks), "Hello"),
       "7.2.3.5 two DEFLATE blocks in one message");

    gw_wsdeflate_init(&d, NULL, 0, 0);
    gw_buf_init(&out, 1024);
    ok(gw_wsdeflate_compress(&d, "Hello", 5, &out, err) == 0 &&
           gw_buf_len(&out) == sizeof(want_hello) &&
           memcmp(gw_buf_data(&out), want_hello, sizeof(want_hello)) == 0,
       "compressing \"Hello\" gives f2 48 cd c9 c9 07 00 (tail removed)");
    ok(d.deflate != NULL, "with context takeover the deflate stream is kept");
    gw_buf_consume(&out, gw_buf_len(&out));
    ok(gw_wsdeflate_compress(&d, "Hello", 5, &out, err) == 0 &&
           gw_buf_len(&out) == sizeof(want_second) &&
           memcmp(gw_buf_data(&out), want_second, sizeof(want_second)) == 0,
       "a second \"Hello\" with context takeover gives f2 00 11 00 00");
    gw_buf_consume(&out, gw_buf_len(&out));
    ok(gw_wsdeflate_compress(&d, "", 0, &out, err) == 0 && gw_buf_len(&out) == 1 &&
           gw_buf_data(&out)[0] == 0,
       "an empty message compresses to a single 00 byte");
    gw_wsdeflate_free(&d);
    gw_buf_reset(&out);
}

static void
test_takeover(void)
{
    struct gw_wsdeflate_params prm = {.server_no_context_takeover = 1,
                                      .client_no_context_takeover = 1};
    static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    struct gw_wsdeflate d;
    struct gw_buf out;
    unsigned code;
    char err[GW_ERR_LEN];

    gw_wsdeflate_init(&d, &prm, 0, 0);
    ok(d.inflate == NULL && d.deflate == NULL, "init allocates no zlib stream");
    gw_buf_init(&out, 1024);
    gw_wsdeflate_compress(&d, "Hello", 5, &out, err);
    ok(d.deflate == NULL,
       "server_no_context_takeover: the deflate stream is freed after a message");
    gw_buf_consume(&out, gw_buf_len(&out));
    gw_wsdeflate_compress(&d, "Hello", 5, &out, err);
    ok(gw_buf_len(&out) == sizeof(hello) && memcmp(gw_buf_data(&out), hello, sizeof(hello)) == 0,
       "... so a second \"Hello\" compresses as the first did");
    gw_buf_consume(&out, gw_buf_len(&out));
    ok(gw_wsdeflate_inflate(&d, hello, 3, 0, &out, &code, err) == 0 && d.inflate != NULL,
       "the inflate stream is allocated on the first compressed piece");
    ok(gw_wsdeflate_inflate(&d, hello + 3, 4, 1, &out, &code, err) == 0 && d.inflate == NULL,
       "client_no_context_takeover: the inflate stream is freed after the message");
    ok(gw_buf_len(&out) == 5 && memcmp(gw_buf_data(&out), "Hello", 5) == 0, "... which inflated");
    gw_wsdeflate_free(&d);

    prm.client_no_context_takeover = 0;
    gw_wsdeflate_init(&d, &prm, 0, 0);
    gw_wsdeflate_inflate(&d, hello, sizeof(hello), 1, &out, &code, err);
    ok(d.inflate != NULL, "with client context takeover the inflate stream is kept");
    gw_wsdeflate_free(&d);
    ok(d.inflate == NULL && d.deflate == NULL, "free releases both streams");
    gw_buf_reset(&out);
}

/* Text that repeats at distances from 200 to 400 bytes, to exercise small windows. */
static size_t
make_text(char *buf, size_t len)
{
    unsigned x = 12345;
    size_t i, period;

    for (i = 0; i < len; i++) {
        period = 200 + (i / 1000) * 50 % 200;
        if (i >= period && (i / 97) % 3)
            buf[i] = buf[i - period];
        else {
            x = x * 1103515245 + 12345;
            buf[i] = (char)('a' + (x >> 16) % 26);
        }
    }
    return len;
}

/* Server sends messages to a client under prm; 1 when the client gets them back whole. */
static int
round_trip(const struct gw_wsdeflate_params *prm, size_t threshold, size_t len, int nmsg,
           size_t chunk)
{
    struct gw_wsdeflate srv, cli;
    struct gw_buf wire;
    char *text = malloc(len + 1), *got = malloc((len + 1) * (size_t)nmsg + 8), *want;
    char err[GW_ERR_LEN];
    int i, n, pass;

    make_text(text, len);
    text[len] = '\0';
    want = malloc((len + 1) * (size_t)nmsg + 8);
    want[0] = '\0';
    gw_wsdeflate_init(&srv, prm, 0, threshold);
    gw_wsdeflate_init(&cli, prm, 1, threshold);
    gw_buf_init(&wire, 1 << 24);
    for (i = 0; i < nmsg; i++) {
        text[i % len] = (char)('A' + i); /* each message differs a little */
        if (gw_wsdeflate_frame_append(&srv, &wire, GW_WS_OP_TEXT, text, len, NULL, err) < 0)
            diag("frame_append: %s", err);
        if (i)
            strcat(want, "|");
        strcat(want, text);
    }
    n = receive(&cli, 1, gw_buf_data(&wire), gw_buf_len(&wire), chunk, len, got,
                (len + 1) * (size_t)nmsg + 8);
    pass = n == nmsg && strcmp(got, want) == 0;
    if (!pass)
        diag("round trip: %d messages, want %d", n, nmsg);
    gw_wsdeflate_free(&srv);
    gw_wsdeflate_free(&cli);
    gw_buf_reset(&wire);
    free(text);
    free(got);
    free(want);
    return pass;
}

/* Deflates text under server_max_window_bits = bits and inflates it with plain zlib and a
 * window of exactly that size, one byte at a time so every match must come from the window:
 * checks that 8 bits (deflated with zlib's 9) never reaches past 256 bytes. */
static int
peer_inflates(int bits)
{
    struct gw_wsdeflate_params prm = {0, 0, (uint8_t)bits, 15};
    struct gw_wsdeflate d;
    struct gw_buf z;
    static char text[40000], back[40000];
    static const uint8_t tail4[4] = {0, 0, 0xff, 0xff};
    char err[GW_ERR_LEN];
    z_stream zs;
    size_t i, n = make_text(text, sizeof(text));
    int rc = Z_OK, pass;

    gw_wsdeflate_init(&d, &prm, 0, 0);
    gw_buf_init(&z, 1 << 20);
    gw_wsdeflate_compress(&d, text, n, &z, err);
    gw_wsdeflate_free(&d);
    memset(&zs, 0, sizeof(zs));
    inflateInit2(&zs, -bits);
    zs.next_out = (Bytef *)back;
    zs.avail_out = sizeof(back);
    for (i = 0; i < gw_buf_len(&z) + 4 && (rc == Z_OK || rc == Z_BUF_ERROR); i++) {
        zs.next_in = (Bytef *)(i < gw_buf_len(&z) ? (const uint8_t *)gw_buf_data(&z) + i
                                                  : tail4 + (i - gw_buf_len(&z)));
        zs.avail_in = 1;
        rc = inflate(&zs, Z_SYNC_FLUSH);
    }
    pass = (rc == Z_OK || rc == Z_BUF_ERROR) && zs.total_out == n && memcmp(back, text, n) == 0;
    if (!pass)
        diag("bits %d: rc %d out %lu: %s", bits, rc, zs.total_out, zs.msg ? zs.msg : "");
    inflateEnd(&zs);
    gw_buf_reset(&z);
    return pass;
}

static void
test_round_trips(void)
{
    struct gw_wsdeflate_params prm = {0};
    int bits;

    ok(round_trip(&prm, 0, 20000, 5, 20000 * 5), "round trip with context takeover");
    ok(round_trip(&prm, 0, 3000, 3, 1), "round trip with context takeover, byte by byte");
    prm.server_no_context_takeover = prm.client_no_context_takeover = 1;
    ok(round_trip(&prm, 0, 20000, 5, 100000), "round trip without context takeover");
    ok(round_trip(&prm, 0, 2000, 3, 7), "round trip without context takeover, 7-byte pieces");
    for (bits = 8; bits <= 15; bits++) {
        struct gw_wsdeflate_params w = {0, 0, (uint8_t)bits, (uint8_t)bits};
        ok(round_trip(&w, 0, 30000, 3, 4096), "round trip with window bits %d", bits);
        ok(peer_inflates(bits),
           "a peer inflating with exactly %d window bits, byte by byte, "
           "reads what we deflated",
           bits);
    }
}

static void
test_threshold(void)
{
    struct gw_wsdeflate d;
    struct gw_buf out;
    char err[GW_ERR_LEN], text[2000];
    const uint8_t *f;

    memset(text, 'a', sizeof(text));
    gw_wsdeflate_init(&d, NULL, 0, GW_WSDEFLATE_THRESHOLD);
    gw_buf_init(&out, 1 << 16);
    is(gw_wsdeflate_frame_append(&d, &out, GW_WS_OP_TEXT, text, 1023, NULL, err), 0,
       "a message below the threshold goes uncompressed");
    f = (const uint8_t *)gw_buf_data(&out);
    ok(f[0] == 0x81 && gw_buf_len(&out) == 4 + 1023, "... with RSV1 clear");
    gw_buf_consume(&out, gw_buf_len(&out));
    is(gw_wsdeflate_frame_append(&d, &out, GW_WS_OP_TEXT, text, 1024, NULL, err), 1,
       "a message at the threshold is compressed");
    f = (const uint8_t *)gw_buf_data(&out);
    ok(f[0] == 0xc1 && gw_buf_len(&out) < 100, "... with RSV1 set (%zu bytes)", gw_buf_len(&out));
    gw_buf_consume(&out, gw_buf_len(&out));
    is(gw_wsdeflate_frame_append(NULL, &out, GW_WS_OP_BINARY, text, 1024, key, err), 0,
       "without deflate a message goes as is");
    ok(d.raw_bytes == 1024 && d.wire_bytes > 0 && d.wire_bytes < 100, "ratio counters kept");
    gw_wsdeflate_free(&d);
    gw_buf_reset(&out);
}

static void
test_bomb(void)
{
    struct gw_wsdeflate d;
    struct gw_buf zipped, wire;
    char err[GW_ERR_LEN], got[16];
    size_t big = 4u << 20, max = 64u << 10;
    char *zeros = calloc(1, big);
    int rc;

    gw_wsdeflate_init(&d, NULL, 1, 0);
    gw_buf_init(&zipped, big);
    gw_wsdeflate_compress(&d, zeros, big, &zipped, err);
    gw_wsdeflate_free(&d);
    ok(gw_buf_len(&zipped) < big / 500, "4 MiB of zeros compress to %zu bytes",
       gw_buf_len(&zipped));
    gw_buf_init(&wire, big);
    gw_ws_frame_append(&wire, GW_WS_OP_BINARY, 1, 1, gw_buf_data(&zipped), gw_buf_len(&zipped), key,
                       err);
    gw_wsdeflate_init(&d, NULL, 0, 0);
    rc = receive(&d, 0, gw_buf_data(&wire), gw_buf_len(&wire), 65536, max, got, sizeof(got));
    is(rc, -1009, "the bomb fails with 1009 and the message buffer stays within max_message");
    gw_wsdeflate_free(&d);

    /* Exactly max_message inflated is fine; one byte more is not. */
    gw_buf_reset(&zipped);
    gw_buf_reset(&wire);
    gw_wsdeflate_init(&d, NULL, 1, 0);
    gw_wsdeflate_frame_append(&d, &wire, GW_WS_OP_BINARY, zeros, max, key, err);
    gw_wsdeflate_frame_append(&d, &wire, GW_WS_OP_BINARY, zeros, max + 1, key, err);
    gw_wsdeflate_free(&d);
    gw_wsdeflate_init(&d, NULL, 0, 0);
    rc = receive(&d, 0, gw_buf_data(&wire), gw_buf_len(&wire), 4096, max, got, sizeof(got));
    is(rc, -1009, "a message inflating to max_message passes, one byte more gives 1009");
    gw_wsdeflate_free(&d);
    gw_buf_reset(&wire);
    free(zeros);
}

static void
test_bad_data(void)
{
    static const uint8_t corrupt[] = {0xc1, 0x04, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t bad_text[] = {0xc1, 0x05, 0x3a, 0x30, 0x00, 0x00, 0x00};
    struct gw_wsdeflate d;
    struct gw_buf wire;
    char got[64], err[GW_ERR_LEN];
    int rc;

    gw_wsdeflate_init(&d, NULL, 1, 0);
    is(receive(&d, 1, corrupt, sizeof(corrupt), 6, 1000, got, sizeof(got)), -1007,
       "corrupt compressed data: 1007");
    gw_wsdeflate_free(&d);
    gw_wsdeflate_init(&d, NULL, 1, 0);
    rc = receive(&d, 1, bad_text, sizeof(bad_text), 7, 1000, got, sizeof(got));
    ok(rc < 0, "a compressed text of garbage fails (%d)", rc);
    gw_wsdeflate_free(&d);

    /* Compressed text that inflates to invalid UTF-8. */
    gw_wsdeflate_init(&d, NULL, 0, 0);
    gw_buf_init(&wire, 4096);
    gw_wsdeflate_frame_append(&d, &wire, GW_WS_OP_TEXT, "ok \xed\xa0\x80 no", 9, NULL, err);
    gw_wsdeflate_free(&d);
    gw_wsdeflate_init(&d, NULL, 1, 0);
    is(receive(&d, 1, gw_buf_data(&wire), gw_buf_len(&wire), 1, 1000, got, sizeof(got)), -1007,
       "compressed text inflating to invalid UTF-8: 1007");
    gw_wsdeflate_free(&d);
    gw_buf_reset(&wire);
}

int
main(void)
{
    test_rfc_examples();
    test_takeover();
    test_round_trips();
    test_threshold();
    test_bomb();
    test_bad_data();
    return done_testing();
}
