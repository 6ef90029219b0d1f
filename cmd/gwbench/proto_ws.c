/*
 * proto_ws.c -- the `ws` driver: a WebSocket client for an echo service behind wsgwd (or any
 * WebSocket echo server). Each connection opens with the HTTP upgrade; each request is one
 * masked binary message of --size bytes (32 by default), each reply one unmasked message of
 * the same size; --check compares every echoed byte.
 *
 * The request is the same frame every time, mask key included: encoding is one memcpy. RFC
 * 6455 wants unpredictable keys against proxy cache poisoning, which a benchmark on its own
 * servers need not fear.
 */
#include "gwbench.h"

#include <stdio.h>
#include <string.h>

#include "util.h"
#include "ws.h"

#define MAX_HEAD_BYTES (16 * 1024)
#define DEFAULT_SIZE 32

int
bench_ws_target(struct bench_opts *o, const char *target, char *addr, size_t len, char *err)
{
    const char *hostport = target, *slash;
    size_t n;

    if (strncmp(target, "wss://", 6) == 0)
        return gw_err(err, "wss:// is not supported (no TLS yet): use ws://");
    if (strncmp(target, "ws://", 5) == 0)
        hostport = target + 5;
    slash = strchr(hostport, '/');
    n = slash ? (size_t)(slash - hostport) : strlen(hostport);
    if (n == 0 || n >= len || n >= sizeof(o->ws_host))
        return gw_err(err, "bad target '%s' (want ws://HOST:PORT/path)", target);
    memcpy(addr, hostport, n);
    addr[n] = '\0';
    gw_strlcpy(o->ws_host, addr, sizeof(o->ws_host));
    if (gw_strlcpy(o->ws_path, slash ? slash : "/", sizeof(o->ws_path)) >= sizeof(o->ws_path))
        return gw_err(err, "path too long in '%s'", target);
    for (const char *p = o->ws_path; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return gw_err(err, "bad character in the path of '%s'", target);
    return 0;
}

static int
ws_setup(struct bench_opts *o, char *err)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t size = o->size >= 0 ? (size_t)o->size : DEFAULT_SIZE, hdr;

    if (o->send_arg || o->expect_arg || o->hb_service)
        return gw_err(err, "--send, --expect and --hb-service are not for mode ws");
    if (size + GW_WS_MAX_HEADER > sizeof(o->request))
        return gw_err(err, "--size: at most %d bytes", BENCH_MAX_REQUEST_BYTES - GW_WS_MAX_HEADER);
    if (!o->ws_path[0])
        gw_strlcpy(o->ws_path, "/", sizeof(o->ws_path));
    for (size_t i = 0; i < size; i++)
        o->payload[i] = (char)('a' + i % 26);
    hdr = gw_ws_header_write((uint8_t *)o->request, GW_WS_OP_BINARY, 1, 0, size, key);
    memcpy(o->request + hdr, o->payload, size);
    gw_ws_mask((uint8_t *)o->request + hdr, size, key, 0);
    o->request_len = o->max_request_bytes = hdr + size;
    o->expect_len = size;
    return 0;
}

static size_t
ws_encode(const struct bench_opts *o, char *dst, size_t room)
{
    (void)room;
    memcpy(dst, o->request, o->request_len);
    return o->request_len;
}

/* One server frame: unmasked, 2-10 header bytes. Only a whole binary message of the request's
 * size is a right reply. */
static enum bench_parse
ws_parse(const struct bench_opts *o, const char *buf, size_t len, size_t *used)
{
    const uint8_t *p = (const uint8_t *)buf;
    uint64_t n;
    size_t off = 2;

    if (len < 2)
        return BENCH_NEED_MORE;
    if (p[1] & 0x80)
        return BENCH_REPLY_BAD; /* a server never masks */
    n = p[1] & 0x7f;
    if (n == 126) {
        if (len < 4)
            return BENCH_NEED_MORE;
        n = (uint64_t)p[2] << 8 | p[3];
        off = 4;
    } else if (n == 127) {
        if (len < 10)
            return BENCH_NEED_MORE;
        n = 0;
        for (int i = 2; i < 10; i++)
            n = n << 8 | p[i];
        off = 10;
    }
    if (n > BENCH_MAX_REQUEST_BYTES * 4)
        return BENCH_REPLY_BAD;
    if (len < off + n)
        return BENCH_NEED_MORE;
    *used = off + (size_t)n;
    if ((p[0] & 0x0f) == GW_WS_OP_CLOSE)
        return BENCH_REPLY_BAD;
    /* Control frames may come between the messages (RFC 6455 5.5): a ping is answered. */
    if (p[0] == (0x80 | GW_WS_OP_PING) || p[0] == (0x80 | GW_WS_OP_PONG))
        return n <= 125 ? BENCH_SKIP : BENCH_REPLY_BAD;
    if (p[0] != (0x80 | GW_WS_OP_BINARY) || n != o->expect_len)
        return BENCH_REPLY_WRONG;
    if (o->check && memcmp(p + off, o->payload, (size_t)n) != 0)
        return BENCH_REPLY_WRONG;
    return BENCH_REPLY_OK;
}

/* A pong with the ping's payload (at most 125 bytes, parse checked), masked as a client's. */
static size_t
ws_control(const struct bench_opts *o, const char *frame, size_t len, char *dst, size_t room)
{
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    const uint8_t *p = (const uint8_t *)frame;
    size_t n = len - 2, hdr;

    (void)o;
    if ((p[0] & 0x0f) != GW_WS_OP_PING || room < 14 + n)
        return 0;
    hdr = gw_ws_header_write((uint8_t *)dst, GW_WS_OP_PONG, 1, 0, n, key);
    memcpy(dst + hdr, frame + 2, n);
    gw_ws_mask((uint8_t *)dst + hdr, n, key, 0);
    return hdr + n;
}

static size_t
ws_hello(const struct bench_opts *o, char *dst, size_t room)
{
    int n = snprintf(dst, room,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     o->ws_path, o->ws_host);

    return n > 0 && (size_t)n < room ? (size_t)n : 0;
}

static enum bench_parse
ws_hello_reply(const struct bench_opts *o, const char *buf, size_t len, size_t *used)
{
    const char *end = memmem(buf, GW_MIN(len, (size_t)MAX_HEAD_BYTES), "\r\n\r\n", 4);

    (void)o;
    if (!end)
        return len >= MAX_HEAD_BYTES ? BENCH_REPLY_BAD : BENCH_NEED_MORE;
    *used = (size_t)(end - buf) + 4;
    if (len < 12 || (memcmp(buf, "HTTP/1.1 101", 12) != 0))
        return BENCH_REPLY_WRONG;
    return BENCH_REPLY_OK;
}

const struct bench_proto bench_proto_ws = {
    .mode = "ws",
    .setup = ws_setup,
    .encode = ws_encode,
    .parse = ws_parse,
    .max_reply_bytes = BENCH_MAX_REQUEST_BYTES * 4 + 16,
    .hello = ws_hello,
    .hello_reply = ws_hello_reply,
    .control = ws_control,
};
