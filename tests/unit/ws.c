/*
 * ws.c -- tests for lib/ws.c: the RFC 6455 section 5.7 examples both ways, every protocol
 * violation with its close code, UTF-8 across fragments (failing fast), every close code
 * case, control frames between fragments, the message reassembler and its bound, and the
 * encoders. Every stream is also fed one byte at a time.
 */
#include "ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "../tap.h"

static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* What a parser made of a stream. */
struct run {
    char types[64]; /* D data, I ping, O pong, C close, E error */
    size_t ntypes;
    uint8_t data[70000]; /* all DATA pieces, concatenated */
    size_t len;
    unsigned firsts, fins, opcode, compressed;
    unsigned error_code, close_code;
    char reason[GW_WS_MAX_CONTROL + 1];
    uint8_t ctl[GW_WS_MAX_CONTROL];
    size_t ctl_len;
    size_t consumed_at_error; /* bytes fed when the error came */
};

static void
record(struct run *r, const struct gw_ws_event *ev)
{
    static const char letters[] = {[GW_WS_EV_DATA] = 'D',
                                   [GW_WS_EV_PING] = 'I',
                                   [GW_WS_EV_PONG] = 'O',
                                   [GW_WS_EV_CLOSE] = 'C',
                                   [GW_WS_EV_ERROR] = 'E'};

    /* A run of pieces of one message counts once, so long messages fit. */
    if (r->ntypes < sizeof(r->types) - 1 &&
        !(ev->type == GW_WS_EV_DATA && !ev->first && r->ntypes && r->types[r->ntypes - 1] == 'D'))
        r->types[r->ntypes++] = letters[ev->type];
    switch (ev->type) {
    case GW_WS_EV_DATA:
        if (r->len + ev->len <= sizeof(r->data)) {
            memcpy(r->data + r->len, ev->data, ev->len);
            r->len += ev->len;
        }
        r->firsts += ev->first;
        r->fins += ev->fin;
        r->opcode = ev->opcode;
        r->compressed |= (unsigned)ev->compressed;
        break;
    case GW_WS_EV_CLOSE:
        r->close_code = ev->close_code;
        memcpy(r->reason, ev->reason ? ev->reason : "", ev->reason_len);
        r->reason[ev->reason_len] = '\0';
        /* fall through */
    case GW_WS_EV_PING:
    case GW_WS_EV_PONG:
        memcpy(r->ctl, ev->data, ev->len);
        r->ctl_len = ev->len;
        break;
    case GW_WS_EV_ERROR:
        r->error_code = ev->error_code;
        break;
    default:
        break;
    }
}

/* Feeds a copy of in to p, chunk bytes at a time, recording every event; stops at an error. */
static void
feed(struct gw_ws_parser *p, const void *in, size_t len, size_t chunk, struct run *r)
{
    uint8_t *buf = malloc(len ? len : 1);
    size_t pos = 0, n, c;
    struct gw_ws_event ev;

    memset(r, 0, sizeof(*r));
    memcpy(buf, in, len);
    while (pos < len) {
        uint8_t *at = buf + pos;
        n = GW_MIN(chunk, len - pos);
        pos += n;
        for (;;) {
            c = gw_ws_parse(p, at, n, &ev);
            at += c;
            n -= c;
            if (ev.type == GW_WS_EV_NONE)
                break;
            record(r, &ev);
            if (ev.type == GW_WS_EV_ERROR) {
                r->consumed_at_error = pos;
                free(buf);
                return;
            }
        }
    }
    free(buf);
}

/* 1 when two event strings are equal with runs of D counted once. */
static int
collapsed_equal(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a != *b)
            return 0;
        if (*a == 'D') {
            while (a[1] == 'D')
                a++;
            while (b[1] == 'D')
                b++;
        }
        a++;
        b++;
    }
    return *a == *b;
}

/* Parses in both whole and byte by byte with fresh parsers; 1 when both give the same
 * events and data. The whole-stream run is left in *r. */
static int
feed_both(const void *in, size_t len, uint64_t max, int client, int deflate, struct run *r)
{
    static struct run one;
    struct gw_ws_parser p;

    gw_ws_parser_init(&p, max, client, deflate);
    feed(&p, in, len, 1, &one);
    gw_ws_parser_init(&p, max, client, deflate);
    feed(&p, in, len, len ? len : 1, r);
    /* Byte by byte splits data into 1-byte pieces (and may deliver some before an error):
     * compare what they add up to. */
    if (one.error_code != r->error_code || one.close_code != r->close_code)
        return 0;
    if (r->error_code)
        return 1;
    return collapsed_equal(one.types, r->types) && one.len == r->len &&
           memcmp(one.data, r->data, r->len) == 0 && one.fins == r->fins && one.firsts == r->firsts;
}

/* Error code a server parser gives for a client stream (0 for none). */
static unsigned
server_error(const void *in, size_t len, uint64_t max, int deflate)
{
    static struct run r;

    if (!feed_both(in, len, max, 0, deflate, &r))
        return 9999;
    return r.error_code;
}

/* Builds a masked client frame of any header bits into out; returns its length. */
static size_t
cframe(uint8_t *out, unsigned b0, const void *payload, size_t len)
{
    size_t hl = gw_ws_header_write(out, b0 & 0x0f, b0 >> 7, (b0 >> 6) & 1, len, key);

    out[0] = (uint8_t)b0;
    memcpy(out + hl, payload, len);
    gw_ws_mask(out + hl, len, key, 0);
    return hl + len;
}

static void
test_rfc_examples(void)
{
    static const uint8_t unmasked_hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t masked_hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                           0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t fragmented[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t masked_pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                          0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static struct run r;
    uint8_t h[GW_WS_MAX_HEADER], big[10 + 65536], payload[5];
    struct gw_ws_parser p;

    ok(feed_both(masked_hello, sizeof(masked_hello), 1024, 0, 0, &r),
       "5.7 masked: same events byte by byte");
    ok(r.len == 5 && memcmp(r.data, "Hello", 5) == 0 && r.fins == 1 && r.firsts == 1 &&
           r.opcode == GW_WS_OP_TEXT,
       "5.7 masked text \"Hello\" parsed by a server");
    ok(feed_both(unmasked_hello, sizeof(unmasked_hello), 1024, 1, 0, &r) && r.len == 5 &&
           memcmp(r.data, "Hello", 5) == 0,
       "5.7 unmasked text \"Hello\" parsed by a client");
    is(server_error(unmasked_hello, sizeof(unmasked_hello), 1024, 0), 1002,
       "5.7 unmasked text refused by a server with 1002");
    feed_both(masked_hello, sizeof(masked_hello), 1024, 1, 0, &r);
    is(r.error_code, 1002, "5.7 masked text refused by a client with 1002");
    ok(feed_both(fragmented, sizeof(fragmented), 1024, 1, 0, &r) && r.len == 5 &&
           memcmp(r.data, "Hello", 5) == 0 && r.firsts == 1 && r.fins == 1,
       "5.7 fragmented \"Hel\" + \"lo\" is one message");
    ok(feed_both(ping, sizeof(ping), 1024, 1, 0, &r) && strcmp(r.types, "I") == 0 &&
           r.ctl_len == 5 && memcmp(r.ctl, "Hello", 5) == 0,
       "5.7 unmasked ping with \"Hello\"");
    ok(feed_both(masked_pong, sizeof(masked_pong), 1024, 0, 0, &r) && strcmp(r.types, "O") == 0 &&
           r.ctl_len == 5 && memcmp(r.ctl, "Hello", 5) == 0,
       "5.7 masked pong with \"Hello\"");

    is(gw_ws_header_write(h, GW_WS_OP_TEXT, 1, 0, 5, key), 6, "masked 5-byte header: 6 bytes");
    memcpy(payload, "Hello", 5);
    gw_ws_mask(payload, 5, key, 0);
    ok(memcmp(h, masked_hello, 6) == 0 && memcmp(payload, masked_hello + 6, 5) == 0,
       "encoder reproduces the 5.7 masked frame");
    is(gw_ws_header_write(h, GW_WS_OP_BINARY, 1, 0, 256, NULL), 4, "256 bytes: 16-bit length");
    ok(h[0] == 0x82 && h[1] == 0x7e && h[2] == 0x01 && h[3] == 0x00,
       "encoder reproduces the 5.7 256-byte header 82 7E 0100");
    is(gw_ws_header_write(h, GW_WS_OP_BINARY, 1, 0, 65536, NULL), 10, "64 KiB: 64-bit length");
    ok(h[0] == 0x82 && h[1] == 0x7f && memcmp(h + 2, "\0\0\0\0\0\x01\0\0", 8) == 0,
       "encoder reproduces the 5.7 64 KiB header 82 7F 0000000000010000");
    is(gw_ws_header_write(h, GW_WS_OP_BINARY, 1, 0, 125, NULL), 2, "125 bytes: 7-bit length");
    is(gw_ws_header_write(h, GW_WS_OP_BINARY, 1, 0, 65535, NULL), 4, "65535 bytes: 16-bit length");

    gw_ws_header_write(big, GW_WS_OP_BINARY, 1, 0, 65536, NULL);
    memset(big + 10, 'x', 65536);
    ok(feed_both(big, sizeof(big), 65536, 1, 0, &r) && r.len == 65536 && r.fins == 1,
       "a 64 KiB unmasked binary message (64-bit length) parses in client mode");
    gw_ws_parser_init(&p, 65535, 1, 0);
    feed(&p, big, sizeof(big), 1, &r);
    is(r.error_code, 1009, "the same message over max_message gives 1009");
    is(r.consumed_at_error, 10, "1009 comes as soon as the header is in");
}

static void
test_violations(void)
{
    uint8_t f[300], g[300];
    size_t n, m;
    unsigned op;
    int all;

    n = cframe(f, 0x81 | 0x20, "x", 1);
    is(server_error(f, n, 100, 0), 1002, "RSV2 set: 1002");
    n = cframe(f, 0x81 | 0x10, "x", 1);
    is(server_error(f, n, 100, 1), 1002, "RSV3 set, even with deflate: 1002");
    n = cframe(f, 0xc1, "x", 1);
    is(server_error(f, n, 100, 0), 1002, "RSV1 without a negotiated extension: 1002");
    n = cframe(f, 0xc1 & ~0x80, "x", 1);
    m = cframe(f + n, 0xc0, "y", 1);
    is(server_error(f, n + m, 100, 1), 1002, "RSV1 on a continuation frame (deflate): 1002");
    n = cframe(f, 0xc9, "", 0);
    is(server_error(f, n, 100, 1), 1002, "RSV1 on a ping (deflate): 1002");
    for (all = 1, op = 3; op <= 0xf; op++) {
        if (op >= 8 && op <= 0xa)
            continue;
        n = cframe(f, 0x80 | op, "", 0);
        all &= server_error(f, n, 100, 0) == 1002;
    }
    ok(all, "reserved opcodes 3-7 and B-F: 1002");
    memset(g, 'p', sizeof(g));
    n = cframe(f, 0x89, g, 126);
    is(server_error(f, n, 1000, 0), 1002, "ping of 126 bytes: 1002");
    n = cframe(f, 0x89, g, 125);
    is(server_error(f, n, 1000, 0), 0, "ping of 125 bytes is fine");
    n = cframe(f, 0x09, "a", 1);
    is(server_error(f, n, 100, 0), 1002, "fragmented ping: 1002");
    n = cframe(f, 0x08, "", 0);
    is(server_error(f, n, 100, 0), 1002, "fragmented close: 1002");
    n = cframe(f, 0x80, "a", 1);
    is(server_error(f, n, 100, 0), 1002, "continuation without a message: 1002");
    n = cframe(f, 0x01, "a", 1);
    m = cframe(f + n, 0x81, "b", 1);
    is(server_error(f, n + m, 100, 0), 1002, "new text frame while a message is open: 1002");
    n = cframe(f, 0x02, "a", 1);
    m = cframe(f + n, 0x02, "b", 1);
    is(server_error(f, n + m, 100, 0), 1002, "new binary frame while a message is open: 1002");
    static const uint8_t msb[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    is(server_error(msb, sizeof(msb), 100, 0), 1002, "64-bit length with the MSB set: 1002");
    static const uint8_t huge[] = {0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 1,    2,    3,    4};
    is(server_error(huge, sizeof(huge), 1 << 20, 0), 1009, "a 2^63-1 byte frame: 1009");
    n = cframe(f, 0x01, g, 60);
    m = cframe(f + n, 0x80, g, 41);
    is(server_error(f, n + m, 100, 0), 1009, "fragments adding up past max_message: 1009");
    n = cframe(f, 0x01, g, 60);
    m = cframe(f + n, 0x80, g, 40);
    is(server_error(f, n + m, 100, 0), 0, "fragments adding up to max_message are fine");
    n = cframe(f, 0x81, "", 0);
    is(server_error(f, n, 0, 0), 0, "an empty message fits max_message 0");
}

static void
test_after_error(void)
{
    struct gw_ws_parser p;
    struct gw_ws_event ev;
    uint8_t f[16] = {0x83, 0x80, 1, 2, 3, 4};
    size_t c;

    gw_ws_parser_init(&p, 100, 0, 0);
    gw_ws_parse(&p, f, 6, &ev);
    is(ev.type, GW_WS_EV_ERROR, "reserved opcode: error event");
    ok(ev.error && ev.error[0], "the error has a reason");
    c = gw_ws_parse(&p, f, 6, &ev);
    ok(ev.type == GW_WS_EV_ERROR && ev.error_code == 1002 && c == 0,
       "a failed parser repeats its error and consumes nothing");
}

static void
test_utf8(void)
{
    static struct run r;
    uint8_t f[256];
    size_t n, m;
    struct gw_ws_parser p;

    n = cframe(f, 0x81, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11);
    ok(server_error(f, n, 100, 0) == 0, "valid UTF-8 text passes");
    n = cframe(f, 0x81, "ab\xc0\xafz", 5);
    is(server_error(f, n, 100, 0), 1007, "invalid UTF-8 text: 1007");
    n = cframe(f, 0x82, "ab\xc0\xafz", 5);
    is(server_error(f, n, 100, 0), 0, "the same bytes as binary pass");
    /* An incomplete character at the end of a non-final fragment is fine. */
    n = cframe(f, 0x01, "a\xe2\x82", 3);
    m = cframe(f + n, 0x80, "\xac", 1);
    ok(feed_both(f, n + m, 100, 0, 0, &r) && r.error_code == 0 && r.len == 4 &&
           memcmp(r.data, "a\xe2\x82\xac", 4) == 0,
       "a character split across fragments passes");
    n = cframe(f, 0x01, "a\xe2\x82", 3);
    m = cframe(f + n, 0x80, "", 0);
    is(server_error(f, n + m, 100, 0), 1007, "a message ending inside a character: 1007");
    n = cframe(f, 0x81, "a\xe2\x82", 3);
    is(server_error(f, n, 100, 0), 1007, "an unfragmented text ending inside a character: 1007");
    n = cframe(f, 0x01, "ok", 2);
    m = cframe(f + n, 0x80, "\xed\xa0\x80", 3);
    is(server_error(f, n + m, 100, 0), 1007, "a surrogate in a later fragment: 1007");

    /* Fail fast: the bad byte comes before the frame (or message) is complete. */
    memset(f, 0, sizeof(f));
    n = cframe(f, 0x01,
               "abc\xff"
               "defghijklmnop",
               17);
    gw_ws_parser_init(&p, 1000, 0, 0);
    feed(&p, f, n - 10, 1, &r);
    ok(r.error_code == 1007 && r.consumed_at_error == 6 + 4,
       "1007 as soon as the invalid byte arrives, before the frame ends");
}

static void
test_close(void)
{
    static const struct {
        unsigned code, want;
    } cases[] = {
        {0, 1002},    {999, 1002},  {1000, 0},    {1001, 0},     {1002, 0}, {1003, 0},
        {1004, 1002}, {1005, 1002}, {1006, 1002}, {1007, 0},     {1008, 0}, {1009, 0},
        {1010, 0},    {1011, 0},    {1012, 0},    {1013, 0},     {1014, 0}, {1015, 1002},
        {1016, 1002}, {1100, 1002}, {2000, 1002}, {2999, 1002},  {3000, 0}, {3999, 0},
        {4000, 0},    {4999, 0},    {5000, 1002}, {65535, 1002},
    };
    static struct run r;
    uint8_t f[256], pl[4];
    size_t n, i;

    for (i = 0; i < GW_ARRAY_LEN(cases); i++) {
        pl[0] = (uint8_t)(cases[i].code >> 8);
        pl[1] = (uint8_t)cases[i].code;
        n = cframe(f, 0x88, pl, 2);
        feed_both(f, n, 100, 0, 0, &r);
        if (cases[i].want)
            ok(r.error_code == cases[i].want, "close code %u: %u", cases[i].code, cases[i].want);
        else
            ok(strcmp(r.types, "C") == 0 && r.close_code == cases[i].code,
               "close code %u is valid and delivered", cases[i].code);
        is(gw_ws_close_code_valid(cases[i].code), !cases[i].want, "gw_ws_close_code_valid(%u)",
           cases[i].code);
    }
    n = cframe(f, 0x88, "", 0);
    ok(feed_both(f, n, 100, 0, 0, &r) && strcmp(r.types, "C") == 0 && r.close_code == 1005,
       "an empty close is delivered as 1005 (no status)");
    n = cframe(f, 0x88, "\x03", 1);
    is(server_error(f, n, 100, 0), 1002, "a close payload of one byte: 1002");
    n = cframe(f, 0x88,
               "\x03\xe8"
               "bye \xce\xba",
               8);
    ok(feed_both(f, n, 100, 0, 0, &r) && r.close_code == 1000 &&
           strcmp(r.reason, "bye \xce\xba") == 0,
       "a close with code 1000 and a UTF-8 reason is delivered");
    n = cframe(f, 0x88, "\x03\xe8\xff", 3);
    is(server_error(f, n, 100, 0), 1007, "a close reason that is not UTF-8: 1007");
    n = cframe(f, 0x88, "\x03\xe8", 2);
    memcpy(f + n, "\xff\xff\xff", 3);
    ok(feed_both(f, n + 3, 100, 0, 0, &r) && strcmp(r.types, "C") == 0 && r.error_code == 0,
       "bytes after a close are ignored");
}

static void
test_interleaved(void)
{
    static struct run r;
    uint8_t f[256];
    size_t n = 0;

    n += cframe(f + n, 0x01, "Hel", 3);
    n += cframe(f + n, 0x89, "p1", 2);
    n += cframe(f + n, 0x00, "l", 1);
    n += cframe(f + n, 0x8a, "p2", 2);
    n += cframe(f + n, 0x80, "o", 1);
    ok(feed_both(f, n, 100, 0, 0, &r), "interleaved controls: same events byte by byte");
    is_str(r.types, "DIDOD", "pings and pongs between fragments are delivered in order");
    ok(r.len == 5 && memcmp(r.data, "Hello", 5) == 0 && r.firsts == 1 && r.fins == 1,
       "... and the message is whole");
    n = cframe(f, 0x81, "", 0);
    n += cframe(f + n, 0x82, "", 0);
    ok(feed_both(f, n, 100, 0, 0, &r) && strcmp(r.types, "DD") == 0 && r.firsts == 2 &&
           r.fins == 2 && r.len == 0,
       "empty messages give one empty first+fin piece each");
}

static void
test_reassembly(void)
{
    struct gw_ws_parser p;
    struct gw_ws_event ev;
    struct gw_buf msg;
    uint8_t f[256], *at;
    size_t n = 0, left, c;
    unsigned code = 0;
    int rc = 0, done = 0;
    char err[GW_ERR_LEN];

    n += cframe(f + n, 0x02, "abc", 3);
    n += cframe(f + n, 0x89, "", 0);
    n += cframe(f + n, 0x80, "def", 3);
    gw_ws_parser_init(&p, 6, 0, 0);
    gw_buf_init(&msg, 6);
    for (at = f, left = n; left;) {
        c = gw_ws_parse(&p, at, left, &ev);
        at += c;
        left -= c;
        if (ev.type == GW_WS_EV_NONE)
            break;
        rc = gw_ws_message_feed(&p, NULL, &ev, &msg, &code, err);
        done += rc == 1;
    }
    ok(done == 1 && gw_buf_len(&msg) == 6 && memcmp(gw_buf_data(&msg), "abcdef", 6) == 0,
       "the reassembler joins fragments around a ping");
    gw_buf_reset(&msg);

    gw_buf_init(&msg, 5);
    n = cframe(f, 0x82, "abcdef", 6);
    gw_ws_parser_init(&p, 100, 0, 0);
    gw_ws_parse(&p, f, n, &ev);
    rc = gw_ws_message_feed(&p, NULL, &ev, &msg, &code, err);
    ok(rc == -1 && code == 1009 && gw_buf_len(&msg) == 0,
       "the reassembler refuses past msg's limit with 1009");
    n = cframe(f, 0xc2, "abc", 3);
    gw_ws_parser_init(&p, 100, 0, 1);
    gw_ws_parse(&p, f, n, &ev);
    rc = gw_ws_message_feed(&p, NULL, &ev, &msg, &code, err);
    ok(rc == -1 && code == 1002, "a compressed piece without a deflate context: 1002");
    gw_buf_reset(&msg);
}

static void
test_encoders(void)
{
    static struct run r;
    struct gw_buf out;
    uint8_t pl[GW_WS_MAX_CONTROL], data[300], a[40], b[40];
    char reason[300], err[GW_ERR_LEN];
    size_t n, i;

    for (i = 0; i < sizeof(reason) - 1; i += 2)
        memcpy(reason + i, "\xc3\xa9", 2);
    reason[sizeof(reason) - 1] = '\0';
    n = gw_ws_close_payload(pl, 1001, reason);
    ok(n <= 125 && n >= 124, "a long close reason is cut to fit 125 bytes (%zu)", n);
    ok(gw_utf8_valid(pl + 2, n - 2), "... at a UTF-8 character boundary");
    ok(pl[0] == 0x03 && pl[1] == 0xe9, "... after the code 1001");
    is(gw_ws_close_payload(pl, 1000, NULL), 2, "a close without a reason is the code alone");

    for (i = 0; i < sizeof(a); i++)
        a[i] = b[i] = (uint8_t)i;
    gw_ws_mask(a, sizeof(a), key, 0);
    gw_ws_mask(b, 3, key, 0);
    gw_ws_mask(b + 3, 20, key, 3);
    gw_ws_mask(b + 23, 17, key, 23);
    ok(memcmp(a, b, sizeof(a)) == 0, "masking in pieces with offsets equals masking at once");

    gw_buf_init(&out, 4096);
    memset(data, 'z', sizeof(data));
    ok(gw_ws_frame_append(&out, GW_WS_OP_BINARY, 1, 0, data, 300, key, err) == 0 &&
           gw_ws_close_append(&out, 4000, "done", key, err) == 0,
       "client frames appended");
    ok(feed_both(gw_buf_data(&out), gw_buf_len(&out), 1000, 0, 0, &r) &&
           strcmp(r.types, "DC") == 0 && r.len == 300 && r.data[299] == 'z' &&
           r.close_code == 4000 && strcmp(r.reason, "done") == 0,
       "a server parser reads the client encoder's frames");
    gw_buf_reset(&out);
    ok(gw_ws_frame_append(&out, GW_WS_OP_TEXT, 1, 0, "hi", 2, NULL, err) == 0 &&
           gw_ws_close_append(&out, 1000, "", NULL, err) == 0,
       "server frames appended");
    ok(feed_both(gw_buf_data(&out), gw_buf_len(&out), 1000, 1, 0, &r) &&
           strcmp(r.types, "DC") == 0 && r.len == 2,
       "a client parser reads the server encoder's frames");
    gw_buf_reset(&out);
    gw_buf_init(&out, 10);
    ok(gw_ws_frame_append(&out, GW_WS_OP_BINARY, 1, 0, data, 20, NULL, err) == -1 &&
           gw_buf_len(&out) == 0 && err[0],
       "a frame past the output limit is refused whole");
    gw_buf_reset(&out);
}

int
main(void)
{
    test_rfc_examples();
    test_violations();
    test_after_error();
    test_utf8();
    test_close();
    test_interleaved();
    test_reassembly();
    test_encoders();
    return done_testing();
}
