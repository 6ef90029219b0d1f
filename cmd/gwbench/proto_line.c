/*
 * proto_line.c -- line protocol drivers: `tcp` (any request, a one-line reply) and `hb`
 * (hbd's PING and HB lines).
 *
 * The request is fixed for a run, so encoding is one memcpy. A reply is one line ending in
 * '\n' (a '\r' before it is dropped); it is right when it starts with the expected prefix
 * (tcp --expect, hb "OK "), or equals the expected line (hb PING -> PONG).
 */
#include "gwbench.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

#define MAX_REPLY_BYTES (64 * 1024)
#define MAX_SERVICE_BYTES 256

static int
hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

long
bench_unescape(const char *s, char *dst, size_t cap, char *err)
{
    static const char from[] = "rnt\\0\"'ae";
    static const char to[] = "\r\n\t\\\0\"'\a\033";
    const char *e;
    size_t n = 0;
    int hi, lo;
    char ch;

    for (; *s; s++) {
        ch = *s;
        if (ch == '\\') {
            s++;
            if (*s == 'x') {
                if ((hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
                    return gw_err(err, "bad escape '\\x%.2s' (want \\xHH)", s + 1);
                ch = (char)(hi * 16 + lo);
                s += 2;
            } else if (*s != '\0' && (e = strchr(from, *s)) != NULL) {
                ch = to[e - from];
            } else {
                return gw_err(err, "unknown escape '\\%c'", *s ? *s : ' ');
            }
        }
        if (n >= cap)
            return gw_err(err, "longer than %zu bytes", cap);
        dst[n++] = ch;
    }
    return (long)n;
}

static enum bench_parse
line_parse(const struct bench_opts *o, const char *buf, size_t len, size_t *used)
{
    const char *nl = memchr(buf, '\n', GW_MIN(len, (size_t)MAX_REPLY_BYTES));
    size_t n;

    if (nl == NULL)
        return BENCH_NEED_MORE;
    *used = (size_t)(nl - buf) + 1;
    n = (size_t)(nl - buf);
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (o->expect_len == 0)
        return BENCH_REPLY_OK;
    if (n < o->expect_len || (o->expect_exact && n != o->expect_len))
        return BENCH_REPLY_WRONG;
    return memcmp(buf, o->expect, o->expect_len) == 0 ? BENCH_REPLY_OK : BENCH_REPLY_WRONG;
}

static size_t
line_encode(const struct bench_opts *o, char *dst, size_t room)
{
    (void)room;
    memcpy(dst, o->request, o->request_len);
    return o->request_len;
}

static int
tcp_setup(struct bench_opts *o, char *err)
{
    char why[GW_ERR_LEN];
    long n;

    if (o->hb_service)
        return gw_err(err, "--hb-service is for mode hb");
    if (o->size >= 0)
        return gw_err(err, "--size is not supported by mode tcp (write the request with --send)");
    n = bench_unescape(o->send_arg ? o->send_arg : "PING\\r\\n", o->request, sizeof(o->request),
                       why);
    if (n < 0)
        return gw_err(err, "--send: %s", why);
    if (n == 0)
        return gw_err(err, "--send: empty request");
    o->request_len = o->max_request_bytes = (size_t)n;
    if (o->expect_arg) {
        if ((n = bench_unescape(o->expect_arg, o->expect, sizeof(o->expect), why)) < 0)
            return gw_err(err, "--expect: %s", why);
        o->expect_len = (size_t)n;
    }
    return 0;
}

static int
hb_check_service(const char *s, char *err)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > MAX_SERVICE_BYTES)
        return gw_err(err, "--hb-service: want 1..%d bytes", MAX_SERVICE_BYTES);
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return gw_err(err, "--hb-service: no spaces or control characters");
    return 0;
}

/* "HB <service>[ pad=xxx]\n", padded to --size bytes when asked. */
static int
hb_build(struct bench_opts *o, char *err)
{
    size_t base = 3 + strlen(o->hb_service) + 1, pad;

    if (o->size >= 0 && (size_t)o->size < base)
        return gw_err(err, "--size %ld is smaller than the request itself (%zu bytes)", o->size,
                      base);
    if (o->size >= 0 && (size_t)o->size > BENCH_MAX_REQUEST_BYTES / 2)
        return gw_err(err, "--size: at most %d bytes", BENCH_MAX_REQUEST_BYTES / 2);
    o->request_len = (size_t)snprintf(o->request, sizeof(o->request), "HB %s", o->hb_service);
    if (o->size >= 0 && (size_t)o->size > base) {
        /* " pad=" plus at least one byte; a smaller gap is filled with trailing blanks. */
        pad = (size_t)o->size - base;
        if (pad >= 6) {
            memcpy(o->request + o->request_len, " pad=", 5);
            memset(o->request + o->request_len + 5, 'x', pad - 5);
        } else {
            memset(o->request + o->request_len, ' ', pad);
        }
        o->request_len += pad;
    }
    o->request[o->request_len++] = '\n';
    o->max_request_bytes = o->request_len;
    memcpy(o->expect, "OK ", 3);
    o->expect_len = 3;
    return 0;
}

static int
hb_setup(struct bench_opts *o, char *err)
{
    if (o->send_arg || o->expect_arg)
        return gw_err(err, "--send and --expect are for mode tcp");
    if (o->hb_service) {
        if (hb_check_service(o->hb_service, err) == -1)
            return -1;
        return hb_build(o, err);
    }
    if (o->size >= 0)
        return gw_err(err, "--size needs --hb-service (PING has no payload)");
    memcpy(o->request, "PING\n", 5);
    o->request_len = o->max_request_bytes = 5;
    memcpy(o->expect, "PONG", 4);
    o->expect_len = 4;
    o->expect_exact = 1;
    return 0;
}

const struct bench_proto bench_proto_tcp = {
    .mode = "tcp",
    .setup = tcp_setup,
    .encode = line_encode,
    .parse = line_parse,
    .max_reply_bytes = MAX_REPLY_BYTES,
};

const struct bench_proto bench_proto_hb = {
    .mode = "hb",
    .setup = hb_setup,
    .encode = line_encode,
    .parse = line_parse,
    .max_reply_bytes = MAX_REPLY_BYTES,
};
