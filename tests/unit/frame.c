/*
 * frame.c -- tests for lib/frame.c: the wire header, every frame type encoded and decoded,
 * every error kind, byte-at-a-time and split feeding, the max_frame boundary, EOF, and the
 * HELLO, OPEN, CLOSE and ROOM payloads.
 */
#include "frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"

#define MAX (1u << 20)

/* Feeds the n bytes at p to d in pieces of step bytes (0 = all at once); collects up to
 * max_out frames into out (payloads copied into one malloc'ed block each). Returns the
 * number of frames, or -1 at the first bad frame. */
struct got {
    struct gw_frame_hdr hdr;
    uint8_t *payload;
};

static int
feed_all(struct gw_frame_dec *d, const uint8_t *p, size_t n, size_t step, struct got *out,
         int max_out)
{
    int frames = 0;

    while (n > 0) {
        size_t piece = step && step < n ? step : n, used;
        const uint8_t *q = p;

        while (piece > 0) {
            struct gw_frame f;
            int rc = gw_frame_dec_feed(d, q, piece, &used, &f);

            q += used, piece -= used, p += used, n -= used;
            if (rc < 0)
                return -1;
            if (rc == 1 && frames < max_out) {
                out[frames].hdr = f.hdr;
                out[frames].payload = malloc(f.hdr.length + 1);
                memcpy(out[frames].payload, f.payload, f.hdr.length);
                frames++;
            }
            if (rc == 0 && used == 0)
                break;
        }
    }
    return frames;
}

static void
free_got(struct got *g, int n)
{
    for (int i = 0; i < n; i++)
        free(g[i].payload);
}

/* Decodes the whole of b in one go with a fresh decoder; the error kind, or OK. */
static enum gw_frame_error
decode_kind(const struct gw_buf *b, unsigned opts)
{
    struct gw_frame_dec d;
    struct got g[4];
    int n;
    enum gw_frame_error e;

    gw_frame_dec_init(&d, MAX, opts);
    n = feed_all(&d, (const uint8_t *)gw_buf_data(b), gw_buf_len(b), 0, g, 4);
    e = n < 0 ? d.error : GW_FRAME_OK;
    if (n > 0)
        free_got(g, n);
    gw_frame_dec_reset(&d);
    return e;
}

/* One raw frame (header exactly as given, length from len) into a fresh buffer. */
static void
raw(struct gw_buf *b, uint8_t type, uint8_t cls, uint8_t flags, uint32_t client,
    const void *payload, size_t len)
{
    struct gw_frame_hdr h = {
        .client = client, .backend = 7, .type = type, .cls = cls, .flags = flags};

    gw_buf_reset(b);
    gw_buf_init(b, 8 * MAX);
    gw_frame_append(b, &h, payload, len);
}

static void
test_header(void)
{
    struct gw_frame_hdr h = {.length = 0x01020304,
                             .client = 0x05060708,
                             .backend = 0x090a0b0c,
                             .type = 1,
                             .cls = 2,
                             .flags = 1,
                             .version = 1},
                        back;
    uint8_t w[GW_FRAME_HDR_LEN];
    static const uint8_t want[GW_FRAME_HDR_LEN] = {1, 2,  3,  4,  5, 6, 7, 8,
                                                   9, 10, 11, 12, 1, 2, 1, 1};

    gw_frame_hdr_encode(&h, w);
    ok(memcmp(w, want, sizeof(w)) == 0, "header is 16 bytes, big-endian, fields in order");
    gw_frame_hdr_decode(w, &back);
    ok(memcmp(&h, &back, sizeof(h)) == 0, "header decodes to what was encoded");
    is_str(gw_frame_type_name(GW_FRAME_ROOM), "ROOM", "type name");
    is_str(gw_frame_type_name(0), "?", "type 0 has no name");
    is_str(gw_frame_error_name(GW_FRAME_E_TOO_LONG), "too_long", "error name too_long");
    is_str(gw_frame_error_name(GW_FRAME_E_COUNT), "unknown", "error name out of range");
    for (int e = 0; e < GW_FRAME_E_COUNT; e++)
        if (gw_frame_error_name((enum gw_frame_error)e) == NULL)
            ok(0, "error %d has a name", e);
    ok(1, "every error kind has a name");
}

/* Builds one of every frame type into b. */
static void
build_all(struct gw_buf *b, json_t *claims)
{
    char err[GW_ERR_LEN];
    struct gw_frame_open o = {.client = 5,
                              .remote = "203.0.113.9:51234",
                              .path = "/ws/chat",
                              .query = "room=1",
                              .subprotocol = "gwkit.v1",
                              .claims = claims};

    ok(gw_frame_append_hello(b, 3, "gw-1", "chat-1", err) == 0, "HELLO built");
    ok(gw_frame_append_open(b, 3, &o, err) == 0, "OPEN built");
    ok(gw_frame_append_data(b, 5, 3, GW_FRAME_VIDEO, 0, "\x00\x01\xff", 3) == 0, "DATA built");
    ok(gw_frame_append_data(b, 0, 3, GW_FRAME_CONTROL, 1, "héllo", 6) == 0, "text DATA built");
    ok(gw_frame_append_close(b, 5, 3, 4001, "bye", err) == 0, "CLOSE built");
    ok(gw_frame_append_ping(b, GW_FRAME_PING, 3, "p1", 2) == 0, "PING built");
    ok(gw_frame_append_ping(b, GW_FRAME_PONG, 3, "p1", 2) == 0, "PONG built");
    ok(gw_frame_append_join(b, GW_FRAME_JOIN, 5, 3, "lobby", err) == 0, "JOIN built");
    ok(gw_frame_append_join(b, GW_FRAME_LEAVE, 5, 3, "lobby", err) == 0, "LEAVE built");
    ok(gw_frame_append_room(b, 3, "lobby", GW_FRAME_FILE, 1, "hi all", 6, err) == 0, "ROOM built");
}

static void
check_all(struct got *g, int n, const char *how)
{
    char err[GW_ERR_LEN], reason[GW_FRAME_CLOSE_REASON_MAX + 1], room[GW_FRAME_NAME_MAX + 1];
    struct gw_frame_hello hello;
    struct gw_frame f;
    const uint8_t *msg;
    size_t msg_len;
    unsigned code;
    json_t *o;

    is(n, 10, "%s: ten frames decoded", how);
    if (n != 10)
        return;
    is(g[0].hdr.type, GW_FRAME_HELLO, "%s: HELLO first", how);
    is(g[0].hdr.backend, 3, "%s: HELLO backend id kept", how);
    is(g[0].hdr.cls, GW_FRAME_CONTROL, "%s: HELLO written with class CONTROL", how);
    is(gw_frame_hello_parse(g[0].payload, g[0].hdr.length, &hello, err), GW_FRAME_OK,
       "%s: HELLO payload parses", how);
    ok(hello.version == 1 && strcmp(hello.gateway, "gw-1") == 0 &&
           strcmp(hello.backend, "chat-1") == 0,
       "%s: HELLO fields come back", how);

    is(g[1].hdr.type, GW_FRAME_OPEN, "%s: OPEN", how);
    is(g[1].hdr.client, 5, "%s: OPEN client id in the header", how);
    o = gw_frame_open_parse(g[1].payload, g[1].hdr.length, err);
    ok(o != NULL, "%s: OPEN payload parses", how);
    if (o) {
        ok(json_integer_value(json_object_get(o, "client")) == 5 &&
               strcmp(json_string_value(json_object_get(o, "remote")), "203.0.113.9:51234") == 0 &&
               strcmp(json_string_value(json_object_get(o, "path")), "/ws/chat") == 0 &&
               strcmp(json_string_value(json_object_get(o, "query")), "room=1") == 0 &&
               strcmp(json_string_value(json_object_get(o, "subprotocol")), "gwkit.v1") == 0,
           "%s: OPEN fields come back", how);
        is_str(json_string_value(json_object_get(json_object_get(o, "claims"), "sub")), "alice",
               "%s: OPEN claims come back", how);
        json_decref(o);
    }

    ok(g[2].hdr.type == GW_FRAME_DATA && g[2].hdr.client == 5 && g[2].hdr.cls == GW_FRAME_VIDEO &&
           g[2].hdr.flags == 0 && g[2].hdr.length == 3 &&
           memcmp(g[2].payload, "\x00\x01\xff", 3) == 0,
       "%s: binary DATA with class VIDEO comes back", how);
    ok(g[3].hdr.type == GW_FRAME_DATA && g[3].hdr.client == 0 &&
           g[3].hdr.flags == GW_FRAME_FLAG_TEXT && g[3].hdr.length == 6 &&
           memcmp(g[3].payload, "héllo", 6) == 0,
       "%s: text broadcast DATA comes back with its text flag", how);

    f.hdr = g[4].hdr;
    f.payload = g[4].payload;
    gw_frame_close_parse(&f, &code, reason);
    ok(g[4].hdr.type == GW_FRAME_CLOSE && code == 4001 && strcmp(reason, "bye") == 0,
       "%s: CLOSE code and reason come back", how);
    ok(g[5].hdr.type == GW_FRAME_PING && g[5].hdr.length == 2 && memcmp(g[5].payload, "p1", 2) == 0,
       "%s: PING payload comes back", how);
    ok(g[6].hdr.type == GW_FRAME_PONG && g[6].hdr.client == 0, "%s: PONG", how);
    ok(g[7].hdr.type == GW_FRAME_JOIN && g[7].hdr.client == 5 && g[7].hdr.length == 5 &&
           memcmp(g[7].payload, "lobby", 5) == 0,
       "%s: JOIN client and room come back", how);
    ok(g[8].hdr.type == GW_FRAME_LEAVE, "%s: LEAVE", how);
    f.hdr = g[9].hdr;
    f.payload = g[9].payload;
    gw_frame_room_parse(&f, room, &msg, &msg_len);
    ok(g[9].hdr.type == GW_FRAME_ROOM && g[9].hdr.cls == GW_FRAME_FILE &&
           g[9].hdr.flags == GW_FRAME_FLAG_TEXT && strcmp(room, "lobby") == 0 && msg_len == 6 &&
           memcmp(msg, "hi all", 6) == 0,
       "%s: ROOM name, message, class and flag come back", how);
    for (int i = 0; i < n; i++)
        if (g[i].hdr.version != 1)
            ok(0, "%s: frame %d has version 1", how, i);
}

static void
test_round_trip(void)
{
    struct gw_buf b;
    struct gw_frame_dec d;
    struct got g[16];
    json_t *claims = json_pack("{s:s}", "sub", "alice");
    size_t steps[] = {0, 1, 2, 3, 7, 15, 16, 17, 100};
    char how[64];
    int n;

    gw_buf_init(&b, MAX);
    build_all(&b, claims);
    json_decref(claims);
    for (size_t i = 0; i < GW_ARRAY_LEN(steps); i++) {
        snprintf(how, sizeof(how), "pieces of %zu", steps[i]);
        gw_frame_dec_init(&d, MAX, GW_FRAME_CHECK_TEXT);
        n = feed_all(&d, (const uint8_t *)gw_buf_data(&b), gw_buf_len(&b), steps[i], g, 16);
        if (steps[i] == 0 || steps[i] == 1)
            check_all(g, n, how);
        else
            is(n, 10, "%s: ten frames decoded", how);
        is(gw_frame_dec_eof(&d), 0, "%s: stream ends between frames", how);
        if (n > 0)
            free_got(g, n);
        gw_frame_dec_reset(&d);
    }
    gw_buf_reset(&b);
}

/* A frame split across two reads at every offset decodes the same; nothing comes out before
 * the last byte. */
static void
test_split(void)
{
    struct gw_buf b;
    struct gw_frame_dec d;
    struct gw_frame f;
    const uint8_t *p;
    size_t n, used;
    int bad = 0, early = 0;
    char payload[300];

    memset(payload, 'x', sizeof(payload));
    gw_buf_init(&b, MAX);
    gw_frame_append_data(&b, 9, 1, GW_FRAME_CONTROL, 0, payload, sizeof(payload));
    p = (const uint8_t *)gw_buf_data(&b);
    n = gw_buf_len(&b);
    for (size_t cut = 1; cut < n; cut++) {
        gw_frame_dec_init(&d, MAX, 0);
        if (gw_frame_dec_feed(&d, p, cut, &used, &f) != 0 || used != cut)
            early++;
        if (gw_frame_dec_pending(&d) != cut)
            early++;
        if (gw_frame_dec_feed(&d, p + cut, n - cut, &used, &f) != 1 || used != n - cut ||
            f.hdr.client != 9 || f.hdr.length != sizeof(payload) ||
            memcmp(f.payload, payload, sizeof(payload)) != 0)
            bad++;
        if (gw_frame_dec_pending(&d) != 0)
            bad++;
        gw_frame_dec_reset(&d);
    }
    is(early, 0, "a split frame: first part taken whole, nothing delivered, held as pending");
    is(bad, 0, "a split frame at each of %zu offsets decodes whole", n - 1);

    /* Two frames in one read, the second cut: the first comes out zero-copy. */
    gw_frame_append_data(&b, 10, 1, GW_FRAME_CONTROL, 0, "ab", 2);
    p = (const uint8_t *)gw_buf_data(&b);
    n = gw_buf_len(&b);
    gw_frame_dec_init(&d, MAX, 0);
    is(gw_frame_dec_feed(&d, p, n - 1, &used, &f), 1, "first of two frames delivered");
    ok(f.payload == p + GW_FRAME_HDR_LEN, "a whole frame in the input is not copied");
    is(used, GW_FRAME_HDR_LEN + sizeof(payload), "used = the first frame's size");
    is(gw_frame_dec_feed(&d, p + used, n - 1 - used, &used, &f), 0, "the cut second: need more");
    is(gw_frame_dec_feed(&d, p + n - 1, 1, &used, &f), 1, "its last byte completes it");
    ok(f.hdr.client == 10 && memcmp(f.payload, "ab", 2) == 0, "second frame intact");
    gw_frame_dec_reset(&d);
    gw_buf_reset(&b);
}

static void
test_max_frame(void)
{
    struct gw_buf b;
    struct gw_frame_dec d;
    struct gw_frame f;
    struct gw_frame_hdr h = {
        .length = 101, .client = 1, .type = GW_FRAME_DATA, .cls = GW_FRAME_CONTROL, .version = 1};
    uint8_t hdr[GW_FRAME_HDR_LEN];
    char *big = calloc(1, 101);
    size_t used;

    gw_buf_init(&b, MAX);
    gw_frame_append_data(&b, 1, 1, GW_FRAME_CONTROL, 0, big, 100);
    gw_frame_dec_init(&d, 100, 0);
    is(gw_frame_dec_feed(&d, gw_buf_data(&b), gw_buf_len(&b), &used, &f), 1,
       "payload of exactly max_frame accepted");
    gw_frame_dec_reset(&d);

    gw_frame_hdr_encode(&h, hdr);
    is(gw_frame_dec_feed(&d, hdr, 15, &used, &f), 0, "15 header bytes: need more");
    is(gw_frame_dec_feed(&d, hdr + 15, 1, &used, &f), -1,
       "max_frame + 1 refused at the 16th header byte, before any payload");
    is(d.error, GW_FRAME_E_TOO_LONG, "error kind too_long");
    is_str(d.err, "DATA frame of 101 bytes over max_frame 100", "too_long detail");
    is(gw_frame_dec_feed(&d, big, 1, &used, &f), -1, "errors are sticky");
    is(used, 0, "nothing consumed after an error");
    is(gw_frame_dec_eof(&d), -1, "EOF after an error is still an error");
    gw_frame_dec_reset(&d);

    h.length = UINT32_MAX;
    gw_frame_hdr_encode(&h, hdr);
    gw_frame_dec_init(&d, GW_FRAME_MAX_DEFAULT, 0);
    is(gw_frame_dec_feed(&d, hdr, 16, &used, &f), -1, "length 4 GiB - 1 refused");
    is(d.error, GW_FRAME_E_TOO_LONG, "as too_long");
    ok(d.payload == NULL, "nothing allocated for a refused frame");
    gw_frame_dec_reset(&d);
    free(big);
    gw_buf_reset(&b);
}

/* A big frame fed in small pieces grows its buffer gradually and gives it back afterwards. */
static void
test_big_frame(void)
{
    struct gw_buf b;
    struct gw_frame_dec d;
    struct gw_frame f;
    size_t n = 1 << 20, used, off = 0;
    uint8_t *big = malloc(n), *p;
    int rc = 0, grew_early = 0;

    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 7);
    gw_buf_init(&b, 4 * n);
    gw_frame_append_data(&b, 4, 1, GW_FRAME_FILE, 0, big, n);
    p = (uint8_t *)gw_buf_data(&b);
    gw_frame_dec_init(&d, GW_FRAME_MAX_DEFAULT, 0);
    while (off < gw_buf_len(&b) && rc == 0) {
        size_t piece = GW_MIN((size_t)4000, gw_buf_len(&b) - off);

        rc = gw_frame_dec_feed(&d, p + off, piece, &used, &f);
        off += used;
        if (rc == 0 && off < 100000 && d.cap > 2 * off + 4096)
            grew_early++;
    }
    is(rc, 1, "1 MiB frame fed 4000 bytes at a time is delivered");
    ok(f.hdr.length == n && memcmp(f.payload, big, n) == 0, "its payload is intact");
    is(grew_early, 0, "the buffer grows with what arrived, not with the announced length");
    gw_frame_append_ping(&b, GW_FRAME_PING, 1, NULL, 0);
    p = (uint8_t *)gw_buf_data(&b);
    is(gw_frame_dec_feed(&d, p + off, 3, &used, &f), 0, "next frame started");
    ok(d.cap <= 64 * 1024, "large storage released after delivery (cap %zu)", d.cap);
    gw_frame_dec_reset(&d);
    gw_buf_reset(&b);
    free(big);
}

struct bad_case {
    const char *what;
    uint8_t type, cls, flags;
    uint32_t client;
    const char *payload;
    size_t len;
    unsigned opts;
    enum gw_frame_error want;
};

static void
test_errors(void)
{
    static char long_name[300], long_reason[130];
    struct gw_buf b;
    struct gw_frame_hdr h = {.type = GW_FRAME_DATA, .cls = 1, .version = 2};
    static struct bad_case cases[] = {
        {"type 0", 0, 1, 0, 1, "", 0, 0, GW_FRAME_E_TYPE},
        {"type 10", 10, 1, 0, 1, "", 0, 0, GW_FRAME_E_TYPE},
        {"type 255", 255, 1, 0, 1, "", 0, 0, GW_FRAME_E_TYPE},
        {"class 5", GW_FRAME_DATA, 5, 0, 1, "x", 1, 0, GW_FRAME_E_CLASS},
        {"class 0 on DATA", GW_FRAME_DATA, 0, 0, 1, "x", 1, 0, GW_FRAME_E_CLASS},
        {"class 0 on ROOM", GW_FRAME_ROOM, 0, 0, 0, "\1ax", 3, 0, GW_FRAME_E_CLASS},
        {"class VIDEO on PING", GW_FRAME_PING, 2, 0, 0, "", 0, 0, GW_FRAME_E_CLASS_TYPE},
        {"class FILE on OPEN", GW_FRAME_OPEN, 4, 0, 1, "{}", 2, 0, GW_FRAME_E_CLASS_TYPE},
        {"flag bit 1 on DATA", GW_FRAME_DATA, 1, 2, 1, "x", 1, 0, GW_FRAME_E_FLAGS},
        {"flag bit 7 on DATA", GW_FRAME_DATA, 1, 0x81, 1, "x", 1, 0, GW_FRAME_E_FLAGS},
        {"text flag on HELLO", GW_FRAME_HELLO, 1, 1, 0, "{}", 2, 0, GW_FRAME_E_FLAGS},
        {"client 0 on OPEN", GW_FRAME_OPEN, 1, 0, 0, "{}", 2, 0, GW_FRAME_E_CLIENT},
        {"client 0 on JOIN", GW_FRAME_JOIN, 1, 0, 0, "r", 1, 0, GW_FRAME_E_CLIENT},
        {"client 0 on LEAVE", GW_FRAME_LEAVE, 1, 0, 0, "r", 1, 0, GW_FRAME_E_CLIENT},
        {"client 3 on HELLO", GW_FRAME_HELLO, 1, 0, 3, "{}", 2, 0, GW_FRAME_E_CLIENT},
        {"client 3 on PING", GW_FRAME_PING, 1, 0, 3, "", 0, 0, GW_FRAME_E_CLIENT},
        {"client 3 on PONG", GW_FRAME_PONG, 1, 0, 3, "", 0, 0, GW_FRAME_E_CLIENT},
        {"client 3 on ROOM", GW_FRAME_ROOM, 1, 0, 3, "\1ax", 3, 0, GW_FRAME_E_CLIENT},
        {"JOIN with an empty room name", GW_FRAME_JOIN, 1, 0, 1, "", 0, 0, GW_FRAME_E_ROOM_NAME},
        {"JOIN with a 256-byte room name", GW_FRAME_JOIN, 1, 0, 1, long_name, 256, 0,
         GW_FRAME_E_ROOM_NAME},
        {"LEAVE with a NUL in the room name", GW_FRAME_LEAVE, 1, 0, 1, "a\0b", 3, 0,
         GW_FRAME_E_ROOM_NAME},
        {"LEAVE with a 256-byte room name", GW_FRAME_LEAVE, 1, 0, 1, long_name, 256, 0,
         GW_FRAME_E_ROOM_NAME},
        {"ROOM with an empty payload", GW_FRAME_ROOM, 1, 0, 0, "", 0, 0, GW_FRAME_E_ROOM_OVERRUN},
        {"ROOM name length past the payload", GW_FRAME_ROOM, 1, 0, 0, "\5abc", 4, 0,
         GW_FRAME_E_ROOM_OVERRUN},
        {"ROOM name length 255 in 10 bytes", GW_FRAME_ROOM, 1, 0, 0, "\377abcdefghi", 10, 0,
         GW_FRAME_E_ROOM_OVERRUN},
        {"ROOM with name length 0", GW_FRAME_ROOM, 1, 0, 0, "\0msg", 4, 0, GW_FRAME_E_ROOM_NAME},
        {"CLOSE payload of 1 byte", GW_FRAME_CLOSE, 1, 0, 1, "\3", 1, 0, GW_FRAME_E_CLOSE_SHORT},
        {"CLOSE code 999", GW_FRAME_CLOSE, 1, 0, 1, "\3\347", 2, 0, GW_FRAME_E_CLOSE_CODE},
        {"CLOSE code 1005", GW_FRAME_CLOSE, 1, 0, 1, "\3\355", 2, 0, GW_FRAME_E_CLOSE_CODE},
        {"CLOSE code 1006", GW_FRAME_CLOSE, 1, 0, 1, "\3\356", 2, 0, GW_FRAME_E_CLOSE_CODE},
        {"CLOSE code 1015", GW_FRAME_CLOSE, 1, 0, 1, "\3\367", 2, 0, GW_FRAME_E_CLOSE_CODE},
        {"CLOSE code 2999", GW_FRAME_CLOSE, 1, 0, 1, "\13\267", 2, 0, GW_FRAME_E_CLOSE_CODE},
        {"CLOSE code 5000", GW_FRAME_CLOSE, 1, 0, 1, "\23\210", 2, 0, GW_FRAME_E_CLOSE_CODE},
        {"CLOSE reason not UTF-8", GW_FRAME_CLOSE, 1, 0, 1, "\3\350\xff", 3, 0,
         GW_FRAME_E_CLOSE_REASON},
        {"CLOSE reason of 124 bytes", GW_FRAME_CLOSE, 1, 0, 1, long_reason, 126, 0,
         GW_FRAME_E_CLOSE_REASON},
        {"text DATA not UTF-8 (checked)", GW_FRAME_DATA, 1, 1, 1, "\xc0\x80", 2,
         GW_FRAME_CHECK_TEXT, GW_FRAME_E_TEXT},
        {"text ROOM message not UTF-8 (checked)", GW_FRAME_ROOM, 1, 1, 0, "\1a\xed\xa0\x80", 5,
         GW_FRAME_CHECK_TEXT, GW_FRAME_E_TEXT},
    };
    static struct bad_case good[] = {
        {"class 0 on PING", GW_FRAME_PING, 0, 0, 0, "", 0, 0, GW_FRAME_OK},
        {"class 0 on CLOSE", GW_FRAME_CLOSE, 0, 0, 4, "", 0, 0, GW_FRAME_OK},
        {"CLOSE for client 0 (the link)", GW_FRAME_CLOSE, 1, 0, 0, "\3\352", 2, 0, GW_FRAME_OK},
        {"CLOSE code 1014", GW_FRAME_CLOSE, 1, 0, 1, "\3\366", 2, 0, GW_FRAME_OK},
        {"CLOSE code 4999", GW_FRAME_CLOSE, 1, 0, 1, "\23\207", 2, 0, GW_FRAME_OK},
        {"CLOSE reason of 123 bytes", GW_FRAME_CLOSE, 1, 0, 1, long_reason, 125, 0, GW_FRAME_OK},
        {"JOIN with a 255-byte room name", GW_FRAME_JOIN, 1, 0, 1, long_name, 255, 0, GW_FRAME_OK},
        {"ROOM with an empty message", GW_FRAME_ROOM, 2, 0, 0, "\1a", 2, 0, GW_FRAME_OK},
        {"text DATA not UTF-8 (unchecked)", GW_FRAME_DATA, 1, 1, 1, "\xff", 1, 0, GW_FRAME_OK},
        {"empty PING", GW_FRAME_PING, 1, 0, 0, NULL, 0, 0, GW_FRAME_OK},
    };

    memset(long_name, 'r', sizeof(long_name));
    memset(long_reason, 'q', sizeof(long_reason));
    long_reason[0] = 0x03;
    long_reason[1] = (char)0xe8;
    gw_buf_init(&b, MAX);
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        struct bad_case *c = &cases[i];

        raw(&b, c->type, c->cls, c->flags, c->client, c->payload, c->len);
        is(decode_kind(&b, c->opts), c->want, "%s: %s", c->what, gw_frame_error_name(c->want));
    }
    for (size_t i = 0; i < GW_ARRAY_LEN(good); i++) {
        struct gw_buf *bp = &b;

        raw(bp, good[i].type, good[i].cls, good[i].flags, good[i].client, good[i].payload,
            good[i].len);
        is(decode_kind(bp, good[i].opts), GW_FRAME_OK, "%s: accepted", good[i].what);
    }

    /* Versions 0 and 2: gw_frame_append always writes 1, so encode the header by hand. */
    for (int v = 0; v <= 2; v += 2) {
        uint8_t w[GW_FRAME_HDR_LEN];
        struct gw_frame_dec d;
        struct gw_frame f;
        size_t used;

        h.version = (uint8_t)v;
        gw_frame_hdr_encode(&h, w);
        gw_frame_dec_init(&d, MAX, 0);
        ok(gw_frame_dec_feed(&d, w, sizeof(w), &used, &f) == -1 && d.error == GW_FRAME_E_VERSION,
           "version %d: bad_version", v);
        gw_frame_dec_reset(&d);
    }
    gw_buf_reset(&b);
}

static void
test_eof_and_parse(void)
{
    struct gw_buf b;
    struct gw_frame_dec d;
    struct gw_frame f;
    enum gw_frame_error e = GW_FRAME_OK;
    char err[GW_ERR_LEN];
    size_t used;

    gw_buf_init(&b, MAX);
    gw_frame_append_data(&b, 1, 1, GW_FRAME_ACK, 0, "abc", 3);
    gw_frame_dec_init(&d, MAX, 0);
    is(gw_frame_dec_feed(&d, gw_buf_data(&b), 5, &used, &f), 0, "5 bytes: need more");
    is(gw_frame_dec_eof(&d), -1, "EOF inside the header is an error");
    is(d.error, GW_FRAME_E_TRUNCATED, "as truncated");
    gw_frame_dec_reset(&d);
    is(gw_frame_dec_feed(&d, gw_buf_data(&b), 17, &used, &f), 0, "17 bytes: need more");
    is(gw_frame_dec_eof(&d), -1, "EOF inside the payload is an error");
    is_str(d.err, "stream ended inside a frame (17 bytes of it held)", "truncated detail");
    gw_frame_dec_reset(&d);
    is(gw_frame_dec_eof(&d), 0, "EOF on a fresh decoder is clean");

    is(gw_frame_parse(gw_buf_data(&b), 15, MAX, 0, &f, &e, err), 0, "parse: 15 bytes need more");
    is(gw_frame_parse(gw_buf_data(&b), 18, MAX, 0, &f, &e, err), 0, "parse: 18 bytes need more");
    is(gw_frame_parse(gw_buf_data(&b), gw_buf_len(&b), MAX, 0, &f, &e, err), 19,
       "parse: a whole frame gives its size");
    is(gw_frame_parse(gw_buf_data(&b), 16, 2, 0, &f, &e, err), -1,
       "parse: a bad header is refused before its payload is in");
    is(e, GW_FRAME_E_TOO_LONG, "parse: with its kind");
    gw_buf_reset(&b);
}

static void
test_close_builder(void)
{
    struct gw_buf b;
    char err[GW_ERR_LEN], reason[200], back[GW_FRAME_CLOSE_REASON_MAX + 1];
    struct gw_frame f;
    enum gw_frame_error e;
    unsigned code;

    gw_buf_init(&b, MAX);
    is(gw_frame_append_close(&b, 1, 1, 1005, "x", err), -1, "CLOSE 1005 is not sent");
    is_str(err, "close code 1005 may not be sent", "with a reason");
    is(gw_frame_append_close(&b, 1, 1, 1000, "\xff", err), -1, "a non-UTF-8 reason is refused");
    is(gw_buf_len(&b), 0, "nothing appended on failure");
    /* 122 ASCII bytes then a 3-byte character: cut before it, to 122 bytes. */
    memset(reason, 'a', 122);
    memcpy(reason + 122, "\xe2\x82\xac", 4);
    is(gw_frame_append_close(&b, 1, 1, 1001, reason, err), 0, "a long reason is accepted");
    is(gw_frame_parse(gw_buf_data(&b), gw_buf_len(&b), MAX, 0, &f, &e, err),
       GW_FRAME_HDR_LEN + 2 + 122, "and cut at a character boundary to 122 bytes");
    gw_frame_close_parse(&f, &code, back);
    ok(code == 1001 && strlen(back) == 122, "the cut CLOSE parses back");
    gw_buf_reset(&b);
    is(gw_frame_append_close(&b, 0, 1, 0, NULL, err), 0, "CLOSE without a code");
    is(gw_buf_len(&b), GW_FRAME_HDR_LEN, "has an empty payload");
    gw_frame_parse(gw_buf_data(&b), gw_buf_len(&b), MAX, 0, &f, &e, err);
    gw_frame_close_parse(&f, &code, back);
    ok(code == 0 && back[0] == '\0', "and parses back as no code");
    gw_buf_reset(&b);
    is(gw_frame_append_join(&b, GW_FRAME_JOIN, 1, 1, "", err), -1, "JOIN of an empty room name");
    is(gw_frame_append_join(&b, GW_FRAME_JOIN, 0, 1, "r", err), -1, "JOIN for client 0");
    is(gw_frame_append_room(&b, 1, NULL, 1, 0, "", 0, err), -1, "ROOM without a name");
    is(gw_buf_len(&b), 0, "refused builders append nothing");

    gw_buf_init(&b, 20);
    is(gw_frame_append_data(&b, 1, 1, 1, 0, "12345", 5), -1, "a frame past the buffer limit");
    is(gw_buf_len(&b), 0, "is not appended in part");
    gw_buf_reset(&b);
}

static enum gw_frame_error
hello_s(const char *json, struct gw_frame_hello *h, char *err)
{
    return gw_frame_hello_parse(json, strlen(json), h, err);
}

static void
test_hello(void)
{
    struct gw_frame_hello h;
    char err[GW_ERR_LEN], big[GW_FRAME_HELLO_MAX + 2];
    static const struct {
        const char *json, *err;
    } bad[] = {
        {"", "HELLO: not a JSON object"},
        {"[1]", "HELLO: not a JSON object"},
        {"{\"version\":1", "HELLO: not a JSON object"},
        {"{\"gateway\":\"g\"}", "HELLO: version missing or not an integer"},
        {"{\"version\":\"1\"}", "HELLO: version missing or not an integer"},
        {"{\"version\":1.0}", "HELLO: version missing or not an integer"},
        {"{\"version\":1,\"version\":1}", "HELLO: not a JSON object"},
        {"{\"version\":1,\"gateway\":7}", "HELLO: gateway not a string of at most 255 bytes"},
        {"{\"version\":1,\"backend\":null}", "HELLO: backend not a string of at most 255 bytes"},
    };

    for (size_t i = 0; i < GW_ARRAY_LEN(bad); i++) {
        is(hello_s(bad[i].json, &h, err), GW_FRAME_E_HELLO, "HELLO '%s' is bad_hello", bad[i].json);
        is_str(err, bad[i].err, "HELLO '%s': reason", bad[i].json);
    }
    is(hello_s("{\"version\":2,\"backend\":\"b\"}", &h, err), GW_FRAME_E_HELLO_VERSION,
       "HELLO version 2: version_mismatch");
    is_str(err, "version mismatch: peer speaks 2, this side speaks 1", "with a reason to send");
    is(h.version, 2, "the announced version is reported");
    is(hello_s("{\"version\":0}", &h, err), GW_FRAME_E_HELLO_VERSION,
       "HELLO version 0: version_mismatch");
    is(hello_s("{\"version\":1,\"extra\":[1,{}]}", &h, err), GW_FRAME_OK,
       "unknown keys are ignored");
    ok(h.gateway[0] == '\0' && h.backend[0] == '\0', "absent strings are empty");
    memset(big, ' ', sizeof(big));
    memcpy(big, "{\"version\":1}", 13);
    is(gw_frame_hello_parse(big, sizeof(big), &h, err), GW_FRAME_E_HELLO,
       "a HELLO over 4 KiB is refused");
    memset(big, 'g', 300);
    big[300] = '\0';
    {
        struct gw_buf b;

        gw_buf_init(&b, MAX);
        is(gw_frame_append_hello(&b, 1, big, "x", err), -1, "HELLO with a 300-byte gateway id");
        is_str(err, "gateway id longer than 255 bytes", "refused with a reason");
        is(gw_frame_append_hello(&b, 1, NULL, NULL, err), 0, "HELLO with only the version");
        is(gw_buf_len(&b), GW_FRAME_HDR_LEN + 13, "payload {\"version\":1}");
        ok(memcmp(gw_buf_data(&b) + GW_FRAME_HDR_LEN, "{\"version\":1}", 13) == 0,
           "HELLO payload text");
        gw_buf_reset(&b);
    }
}

static void
test_open(void)
{
    struct gw_buf b;
    char err[GW_ERR_LEN];
    struct gw_frame_open o = {.client = 1, .remote = "127.0.0.1:1", .path = "/"};
    static const char want[] = "{\"client\":1,\"remote\":\"127.0.0.1:1\",\"path\":\"/\","
                               "\"query\":\"\",\"subprotocol\":null,\"claims\":null}";
    json_t *j;

    gw_buf_init(&b, MAX);
    is(gw_frame_append_open(&b, 2, &o, err), 0, "OPEN with the optional fields absent");
    ok(gw_buf_len(&b) == GW_FRAME_HDR_LEN + strlen(want) &&
           memcmp(gw_buf_data(&b) + GW_FRAME_HDR_LEN, want, strlen(want)) == 0,
       "OPEN payload: query \"\", subprotocol and claims null, keys in order");
    o.path = "\xff";
    is(gw_frame_append_open(&b, 2, &o, err), -1, "OPEN with a non-UTF-8 path is refused");
    o.path = "/";
    o.client = 0;
    is(gw_frame_append_open(&b, 2, &o, err), -1, "OPEN for client 0 is refused");
    is(gw_frame_open_parse("{\"client\":0,\"remote\":\"a\",\"path\":\"/\"}", 36, err), NULL,
       "OPEN payload with client 0 refused");
    is(gw_frame_open_parse("{\"client\":1,\"path\":\"/\"}", 23, err), NULL,
       "OPEN payload without remote refused");
    j = gw_frame_open_parse(want, strlen(want), err);
    ok(j != NULL, "a built OPEN payload parses");
    json_decref(j);
    gw_buf_reset(&b);
}

int
main(void)
{
    test_header();
    test_round_trip();
    test_split();
    test_max_frame();
    test_big_frame();
    test_errors();
    test_eof_and_parse();
    test_close_builder();
    test_hello();
    test_open();
    return done_testing();
}
