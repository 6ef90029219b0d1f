/*
 * frame.c -- the wsgwd <-> backend frame protocol, version 1 (see frame.h for the protocol).
 */
#include "frame.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* Decoder storage kept between frames; a larger payload buffer is freed once delivered, so one
 * big frame does not pin memory on an idle link. */
#define KEEP_BYTES (64 * 1024)
#define MIN_ALLOC 1024

static const char *const error_names[GW_FRAME_E_COUNT] = {
    [GW_FRAME_OK] = "ok",
    [GW_FRAME_E_TOO_LONG] = "too_long",
    [GW_FRAME_E_TYPE] = "bad_type",
    [GW_FRAME_E_CLASS] = "bad_class",
    [GW_FRAME_E_CLASS_TYPE] = "class_for_type",
    [GW_FRAME_E_FLAGS] = "bad_flags",
    [GW_FRAME_E_VERSION] = "bad_version",
    [GW_FRAME_E_CLIENT] = "bad_client",
    [GW_FRAME_E_ROOM_NAME] = "bad_room_name",
    [GW_FRAME_E_ROOM_OVERRUN] = "room_overrun",
    [GW_FRAME_E_CLOSE_SHORT] = "close_short",
    [GW_FRAME_E_CLOSE_CODE] = "bad_close_code",
    [GW_FRAME_E_CLOSE_REASON] = "bad_close_reason",
    [GW_FRAME_E_TEXT] = "bad_text",
    [GW_FRAME_E_TRUNCATED] = "truncated",
    [GW_FRAME_E_NOMEM] = "no_memory",
    [GW_FRAME_E_HELLO] = "bad_hello",
    [GW_FRAME_E_HELLO_VERSION] = "version_mismatch",
};

static const char *const type_names[] = {
    "?", "DATA", "OPEN", "CLOSE", "HELLO", "PING", "PONG", "JOIN", "LEAVE", "ROOM",
};

/* What each type allows: client id rule and whether it is a message type (class 1-4, text
 * flag) or a control type (class 0 or CONTROL, no flags). */
enum client_rule { CLIENT_ANY, CLIENT_NONZERO, CLIENT_ZERO };
static const struct {
    enum client_rule client;
    int message;
} type_rules[] = {
    [GW_FRAME_DATA] = {CLIENT_ANY, 1},     [GW_FRAME_OPEN] = {CLIENT_NONZERO, 0},
    [GW_FRAME_CLOSE] = {CLIENT_ANY, 0},    [GW_FRAME_HELLO] = {CLIENT_ZERO, 0},
    [GW_FRAME_PING] = {CLIENT_ZERO, 0},    [GW_FRAME_PONG] = {CLIENT_ZERO, 0},
    [GW_FRAME_JOIN] = {CLIENT_NONZERO, 0}, [GW_FRAME_LEAVE] = {CLIENT_NONZERO, 0},
    [GW_FRAME_ROOM] = {CLIENT_ZERO, 1},
};

const char *
gw_frame_error_name(enum gw_frame_error e)
{
    return (unsigned)e < GW_FRAME_E_COUNT ? error_names[e] : "unknown";
}

const char *
gw_frame_type_name(unsigned type)
{
    return type < GW_ARRAY_LEN(type_names) ? type_names[type] : "?";
}

static enum gw_frame_error fail(enum gw_frame_error e, char *err, const char *fmt, ...)
    GW_PRINTF(3, 4);

static enum gw_frame_error
fail(enum gw_frame_error e, char *err, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        va_start(ap, fmt);
        vsnprintf(err, GW_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return e;
}

/* ---- encoding ---- */

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void
gw_frame_hdr_encode(const struct gw_frame_hdr *h, uint8_t out[GW_FRAME_HDR_LEN])
{
    put32(out, h->length);
    put32(out + 4, h->client);
    put32(out + 8, h->backend);
    out[12] = h->type;
    out[13] = h->cls;
    out[14] = h->flags;
    out[15] = h->version;
}

void
gw_frame_hdr_decode(const uint8_t in[GW_FRAME_HDR_LEN], struct gw_frame_hdr *h)
{
    h->length = get32(in);
    h->client = get32(in + 4);
    h->backend = get32(in + 8);
    h->type = in[12];
    h->cls = in[13];
    h->flags = in[14];
    h->version = in[15];
}

/* Appends a header and the payload pieces p1 and p2 as one frame, all or nothing. */
static int
append2(struct gw_buf *b, const struct gw_frame_hdr *h, const void *p1, size_t n1, const void *p2,
        size_t n2)
{
    struct gw_frame_hdr w = *h;
    uint8_t *dst;

    if (n1 > UINT32_MAX || n2 > UINT32_MAX - n1 || n1 + n2 > SIZE_MAX - GW_FRAME_HDR_LEN)
        return -1;
    if ((dst = (uint8_t *)gw_buf_reserve(b, GW_FRAME_HDR_LEN + n1 + n2)) == NULL)
        return -1;
    w.length = (uint32_t)(n1 + n2);
    w.version = GW_FRAME_VERSION;
    gw_frame_hdr_encode(&w, dst);
    if (n1)
        memcpy(dst + GW_FRAME_HDR_LEN, p1, n1);
    if (n2)
        memcpy(dst + GW_FRAME_HDR_LEN + n1, p2, n2);
    gw_buf_commit(b, GW_FRAME_HDR_LEN + n1 + n2);
    return 0;
}

int
gw_frame_append(struct gw_buf *b, const struct gw_frame_hdr *h, const void *payload, size_t len)
{
    return append2(b, h, payload, len, NULL, 0);
}

int
gw_frame_append_data(struct gw_buf *b, uint32_t client, uint32_t backend, uint8_t cls, int text,
                     const void *payload, size_t len)
{
    struct gw_frame_hdr h = {.client = client,
                             .backend = backend,
                             .type = GW_FRAME_DATA,
                             .cls = cls,
                             .flags = text ? GW_FRAME_FLAG_TEXT : 0};

    return append2(b, &h, payload, len, NULL, 0);
}

static int
append_json(struct gw_buf *b, const struct gw_frame_hdr *h, json_t *o, char *err)
{
    char *text;
    int rc;

    if (o == NULL)
        return gw_err(err, "out of memory");
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        return gw_err(err, "out of memory");
    rc = append2(b, h, text, strlen(text), NULL, 0);
    free(text);
    return rc == 0 ? 0 : gw_err(err, "no room for the frame");
}

/* A json string from s, or NULL (with err) when s is not UTF-8 or too long. */
static json_t *
json_str(const char *s, size_t max, const char *what, char *err)
{
    json_t *v;

    if (strlen(s) > max) {
        gw_err(err, "%s longer than %zu bytes", what, max);
        return NULL;
    }
    if ((v = json_string(s)) == NULL)
        gw_err(err, "%s is not UTF-8", what);
    return v;
}

int
gw_frame_append_hello(struct gw_buf *b, uint32_t backend_id, const char *gateway,
                      const char *backend, char *err)
{
    struct gw_frame_hdr h = {
        .backend = backend_id, .type = GW_FRAME_HELLO, .cls = GW_FRAME_CONTROL};
    json_t *o = json_object(), *v;

    if (o == NULL)
        return gw_err(err, "out of memory");
    if (gateway) {
        if ((v = json_str(gateway, GW_FRAME_NAME_MAX, "gateway id", err)) == NULL)
            goto fail;
        json_object_set_new(o, "gateway", v);
    }
    json_object_set_new(o, "version", json_integer(GW_FRAME_VERSION));
    if (backend) {
        if ((v = json_str(backend, GW_FRAME_NAME_MAX, "backend name", err)) == NULL)
            goto fail;
        json_object_set_new(o, "backend", v);
    }
    return append_json(b, &h, o, err);
fail:
    json_decref(o);
    return -1;
}

int
gw_frame_append_open(struct gw_buf *b, uint32_t backend_id, const struct gw_frame_open *o,
                     char *err)
{
    struct gw_frame_hdr h = {
        .client = o->client, .backend = backend_id, .type = GW_FRAME_OPEN, .cls = GW_FRAME_CONTROL};
    json_t *j, *remote, *path, *query, *sub;

    if (o->client == 0)
        return gw_err(err, "OPEN needs a client id");
    if (o->remote == NULL || o->path == NULL)
        return gw_err(err, "OPEN needs remote and path");
    remote = json_string(o->remote);
    path = json_string(o->path);
    query = json_string(o->query ? o->query : "");
    sub = o->subprotocol ? json_string(o->subprotocol) : json_null();
    if (remote == NULL || path == NULL || query == NULL || sub == NULL) {
        json_decref(remote);
        json_decref(path);
        json_decref(query);
        json_decref(sub);
        return gw_err(err, "OPEN: a string is not UTF-8");
    }
    j = json_pack("{s:I, s:o, s:o, s:o, s:o, s:O}", "client", (json_int_t)o->client, "remote",
                  remote, "path", path, "query", query, "subprotocol", sub, "claims",
                  o->claims ? (json_t *)o->claims : json_null());
    return append_json(b, &h, j, err);
}

int
gw_frame_close_code_ok(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

int
gw_frame_append_close(struct gw_buf *b, uint32_t client, uint32_t backend, unsigned code,
                      const char *reason, char *err)
{
    struct gw_frame_hdr h = {
        .client = client, .backend = backend, .type = GW_FRAME_CLOSE, .cls = GW_FRAME_CONTROL};
    uint8_t codebuf[2];
    size_t n = reason ? strlen(reason) : 0;

    if (code == 0)
        return append2(b, &h, NULL, 0, NULL, 0) == 0 ? 0 : gw_err(err, "no room for the frame");
    if (!gw_frame_close_code_ok(code))
        return gw_err(err, "close code %u may not be sent", code);
    if (!gw_utf8_valid(reason, n))
        return gw_err(err, "close reason is not UTF-8");
    n = gw_utf8_truncate(reason, n, GW_FRAME_CLOSE_REASON_MAX);
    codebuf[0] = (uint8_t)(code >> 8);
    codebuf[1] = (uint8_t)code;
    if (append2(b, &h, codebuf, 2, reason, n) == -1)
        return gw_err(err, "no room for the frame");
    return 0;
}

int
gw_frame_append_ping(struct gw_buf *b, uint8_t type, uint32_t backend, const void *payload,
                     size_t len)
{
    struct gw_frame_hdr h = {.backend = backend, .type = type, .cls = GW_FRAME_CONTROL};

    if (type != GW_FRAME_PING && type != GW_FRAME_PONG)
        return -1;
    return append2(b, &h, payload, len, NULL, 0);
}

/* Length of a valid room name, or 0 (with err) for an invalid one. */
static size_t
room_name_len(const char *name, char *err)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > GW_FRAME_NAME_MAX) {
        gw_err(err, "room name must be 1-%d bytes", GW_FRAME_NAME_MAX);
        return 0;
    }
    return n;
}

int
gw_frame_append_join(struct gw_buf *b, uint8_t type, uint32_t client, uint32_t backend,
                     const char *room, char *err)
{
    struct gw_frame_hdr h = {
        .client = client, .backend = backend, .type = type, .cls = GW_FRAME_CONTROL};
    size_t n;

    if (type != GW_FRAME_JOIN && type != GW_FRAME_LEAVE)
        return gw_err(err, "type %u is not JOIN or LEAVE", type);
    if (client == 0)
        return gw_err(err, "%s needs a client id", gw_frame_type_name(type));
    if ((n = room_name_len(room, err)) == 0)
        return -1;
    return append2(b, &h, room, n, NULL, 0) == 0 ? 0 : gw_err(err, "no room for the frame");
}

int
gw_frame_append_room(struct gw_buf *b, uint32_t backend, const char *room, uint8_t cls, int text,
                     const void *payload, size_t len, char *err)
{
    struct gw_frame_hdr h = {.backend = backend,
                             .type = GW_FRAME_ROOM,
                             .cls = cls,
                             .flags = text ? GW_FRAME_FLAG_TEXT : 0};
    uint8_t head[1 + GW_FRAME_NAME_MAX];
    size_t n;

    if ((n = room_name_len(room, err)) == 0)
        return -1;
    head[0] = (uint8_t)n;
    memcpy(head + 1, room, n);
    return append2(b, &h, head, 1 + n, payload, len) == 0 ? 0
                                                          : gw_err(err, "no room for the frame");
}

/* ---- checking ---- */

enum gw_frame_error
gw_frame_check_hdr(const struct gw_frame_hdr *h, uint32_t max_frame, char *err)
{
    const char *tn;

    if (h->version != GW_FRAME_VERSION)
        return fail(GW_FRAME_E_VERSION, err, "frame version %u, want %d", h->version,
                    GW_FRAME_VERSION);
    if (h->type == 0 || h->type >= GW_ARRAY_LEN(type_rules))
        return fail(GW_FRAME_E_TYPE, err, "unknown frame type %u", h->type);
    tn = type_names[h->type];
    if (h->length > max_frame)
        return fail(GW_FRAME_E_TOO_LONG, err, "%s frame of %u bytes over max_frame %u", tn,
                    h->length, max_frame);
    if (h->cls > GW_FRAME_FILE)
        return fail(GW_FRAME_E_CLASS, err, "unknown class %u", h->cls);
    if (type_rules[h->type].message) {
        if (h->cls == GW_FRAME_CLASS_NONE)
            return fail(GW_FRAME_E_CLASS, err, "%s frame without a class", tn);
        if (h->flags & ~GW_FRAME_FLAG_TEXT)
            return fail(GW_FRAME_E_FLAGS, err, "unknown flags 0x%02x", h->flags);
    } else {
        if (h->cls > GW_FRAME_CONTROL)
            return fail(GW_FRAME_E_CLASS_TYPE, err, "%s frame with class %u", tn, h->cls);
        if (h->flags)
            return fail(GW_FRAME_E_FLAGS, err, "%s frame with flags 0x%02x", tn, h->flags);
    }
    if (type_rules[h->type].client == CLIENT_NONZERO && h->client == 0)
        return fail(GW_FRAME_E_CLIENT, err, "%s frame for client 0", tn);
    if (type_rules[h->type].client == CLIENT_ZERO && h->client != 0)
        return fail(GW_FRAME_E_CLIENT, err, "%s frame for client %u (want 0)", tn, h->client);
    return GW_FRAME_OK;
}

static enum gw_frame_error
check_room_name(const uint8_t *p, size_t n, char *err)
{
    if (n == 0 || n > GW_FRAME_NAME_MAX)
        return fail(GW_FRAME_E_ROOM_NAME, err, "room name of %zu bytes (want 1-%d)", n,
                    GW_FRAME_NAME_MAX);
    if (memchr(p, 0, n) != NULL)
        return fail(GW_FRAME_E_ROOM_NAME, err, "room name holds a NUL byte");
    return GW_FRAME_OK;
}

static enum gw_frame_error
check_close(const uint8_t *p, size_t n, char *err)
{
    unsigned code;

    if (n == 0)
        return GW_FRAME_OK;
    if (n == 1)
        return fail(GW_FRAME_E_CLOSE_SHORT, err, "CLOSE payload of 1 byte");
    code = (unsigned)p[0] << 8 | p[1];
    if (!gw_frame_close_code_ok(code))
        return fail(GW_FRAME_E_CLOSE_CODE, err, "close code %u may not be sent", code);
    if (n - 2 > GW_FRAME_CLOSE_REASON_MAX)
        return fail(GW_FRAME_E_CLOSE_REASON, err, "close reason of %zu bytes (max %d)", n - 2,
                    GW_FRAME_CLOSE_REASON_MAX);
    if (!gw_utf8_valid(p + 2, n - 2))
        return fail(GW_FRAME_E_CLOSE_REASON, err, "close reason is not UTF-8");
    return GW_FRAME_OK;
}

enum gw_frame_error
gw_frame_check_payload(const struct gw_frame_hdr *h, const uint8_t *p, unsigned opts, char *err)
{
    size_t n = h->length;
    int text = (h->flags & GW_FRAME_FLAG_TEXT) && (opts & GW_FRAME_CHECK_TEXT);
    enum gw_frame_error e;

    switch (h->type) {
    case GW_FRAME_DATA:
        if (text && !gw_utf8_valid(p, n))
            return fail(GW_FRAME_E_TEXT, err, "text DATA is not UTF-8");
        return GW_FRAME_OK;
    case GW_FRAME_CLOSE:
        return check_close(p, n, err);
    case GW_FRAME_JOIN:
    case GW_FRAME_LEAVE:
        return check_room_name(p, n, err);
    case GW_FRAME_ROOM:
        if (n == 0)
            return fail(GW_FRAME_E_ROOM_OVERRUN, err, "ROOM frame without a name length");
        if ((size_t)p[0] + 1 > n)
            return fail(GW_FRAME_E_ROOM_OVERRUN, err,
                        "ROOM name of %u bytes runs past the %zu-byte payload", p[0], n);
        if ((e = check_room_name(p + 1, p[0], err)) != GW_FRAME_OK)
            return e;
        if (text && !gw_utf8_valid(p + 1 + p[0], n - 1 - p[0]))
            return fail(GW_FRAME_E_TEXT, err, "text ROOM message is not UTF-8");
        return GW_FRAME_OK;
    default:
        return GW_FRAME_OK;
    }
}

/* ---- decoding ---- */

ssize_t
gw_frame_parse(const void *buf, size_t len, uint32_t max_frame, unsigned opts, struct gw_frame *f,
               enum gw_frame_error *kind, char *err)
{
    const uint8_t *p = buf;
    enum gw_frame_error e;

    if (len < GW_FRAME_HDR_LEN)
        return 0;
    gw_frame_hdr_decode(p, &f->hdr);
    if ((e = gw_frame_check_hdr(&f->hdr, max_frame, err)) != GW_FRAME_OK)
        goto bad;
    if (len - GW_FRAME_HDR_LEN < f->hdr.length)
        return 0;
    f->payload = p + GW_FRAME_HDR_LEN;
    if ((e = gw_frame_check_payload(&f->hdr, f->payload, opts, err)) != GW_FRAME_OK)
        goto bad;
    return (ssize_t)(GW_FRAME_HDR_LEN + f->hdr.length);
bad:
    if (kind)
        *kind = e;
    return -1;
}

void
gw_frame_dec_init(struct gw_frame_dec *d, uint32_t max_frame, unsigned opts)
{
    memset(d, 0, sizeof(*d));
    d->max_frame = max_frame;
    d->opts = opts;
}

void
gw_frame_dec_reset(struct gw_frame_dec *d)
{
    free(d->payload);
    gw_frame_dec_init(d, d->max_frame, d->opts);
}

static int
dec_fail(struct gw_frame_dec *d, enum gw_frame_error e)
{
    d->error = e;
    return -1;
}

/* Grows the payload buffer for at least want bytes, doubling but never past the frame's
 * length, so a peer that announces a large frame and sends little costs little. */
static int
dec_grow(struct gw_frame_dec *d, size_t want)
{
    size_t ncap = d->cap ? d->cap : MIN_ALLOC;
    uint8_t *p;

    if (want <= d->cap)
        return 0;
    while (ncap < want)
        ncap *= 2;
    if (ncap > d->hdr.length)
        ncap = d->hdr.length;
    if ((p = realloc(d->payload, ncap)) == NULL)
        return -1;
    d->payload = p;
    d->cap = ncap;
    return 0;
}

/* Hands out the buffered frame and gets ready for the next one. */
static int
dec_deliver(struct gw_frame_dec *d, struct gw_frame *f)
{
    enum gw_frame_error e;

    f->hdr = d->hdr;
    f->payload = d->payload ? d->payload : (const uint8_t *)"";
    d->hdr_have = 0;
    d->have = 0;
    if ((e = gw_frame_check_payload(&d->hdr, d->payload, d->opts, d->err)) != GW_FRAME_OK)
        return dec_fail(d, e);
    return 1;
}

int
gw_frame_dec_feed(struct gw_frame_dec *d, const void *data, size_t len, size_t *used,
                  struct gw_frame *f)
{
    const uint8_t *p = data;
    size_t n, take;
    ssize_t rc;
    enum gw_frame_error e;

    *used = 0;
    if (d->error != GW_FRAME_OK)
        return -1;
    /* Once the previous frame is handed out, large storage goes back. */
    if (d->cap > KEEP_BYTES && d->hdr_have == 0) {
        free(d->payload);
        d->payload = NULL;
        d->cap = 0;
    }
    if (d->hdr_have == 0) {
        /* A whole frame in the input: no copy. */
        rc = gw_frame_parse(p, len, d->max_frame, d->opts, f, &e, d->err);
        if (rc > 0) {
            *used = (size_t)rc;
            return 1;
        }
        if (rc < 0)
            return dec_fail(d, e);
    }
    if (d->hdr_have < GW_FRAME_HDR_LEN) {
        n = GW_MIN(GW_FRAME_HDR_LEN - d->hdr_have, len);
        memcpy(d->hdr_bytes + d->hdr_have, p, n);
        d->hdr_have += n;
        *used += n;
        p += n, len -= n;
        if (d->hdr_have < GW_FRAME_HDR_LEN)
            return 0;
        gw_frame_hdr_decode(d->hdr_bytes, &d->hdr);
        if ((e = gw_frame_check_hdr(&d->hdr, d->max_frame, d->err)) != GW_FRAME_OK)
            return dec_fail(d, e);
        d->have = 0;
    }
    take = GW_MIN(d->hdr.length - d->have, len);
    if (take > 0) {
        if (dec_grow(d, d->have + take) == -1) {
            gw_err(d->err, "cannot buffer a %u-byte frame: out of memory", d->hdr.length);
            return dec_fail(d, GW_FRAME_E_NOMEM);
        }
        memcpy(d->payload + d->have, p, take);
        d->have += take;
        *used += take;
    }
    if (d->have < d->hdr.length)
        return 0;
    return dec_deliver(d, f);
}

int
gw_frame_dec_eof(struct gw_frame_dec *d)
{
    if (d->error != GW_FRAME_OK)
        return -1;
    if (d->hdr_have == 0)
        return 0;
    gw_err(d->err, "stream ended inside a frame (%zu bytes of it held)", gw_frame_dec_pending(d));
    return dec_fail(d, GW_FRAME_E_TRUNCATED);
}

size_t
gw_frame_dec_pending(const struct gw_frame_dec *d)
{
    return d->hdr_have == 0 ? 0 : d->hdr_have + d->have;
}

/* ---- payloads ---- */

void
gw_frame_close_parse(const struct gw_frame *f, unsigned *code, char *reason)
{
    size_t n = f->hdr.length;

    *code = 0;
    reason[0] = '\0';
    if (n < 2)
        return;
    *code = (unsigned)f->payload[0] << 8 | f->payload[1];
    n = GW_MIN(n - 2, (size_t)GW_FRAME_CLOSE_REASON_MAX);
    memcpy(reason, f->payload + 2, n);
    reason[n] = '\0';
}

void
gw_frame_room_parse(const struct gw_frame *f, char *room, const uint8_t **msg, size_t *msg_len)
{
    size_t n = f->hdr.length ? f->payload[0] : 0;

    room[0] = '\0';
    *msg = f->payload;
    *msg_len = 0;
    if (f->hdr.length == 0 || n + 1 > f->hdr.length)
        return;
    memcpy(room, f->payload + 1, n);
    room[n] = '\0';
    *msg = f->payload + 1 + n;
    *msg_len = f->hdr.length - 1 - n;
}

/* Copies the optional string member key of o into dst; -1 when present but not a string of
 * at most GW_FRAME_NAME_MAX bytes. */
static int
hello_str(json_t *o, const char *key, char *dst)
{
    json_t *v = json_object_get(o, key);

    dst[0] = '\0';
    if (v == NULL)
        return 0;
    if (!json_is_string(v) || json_string_length(v) > GW_FRAME_NAME_MAX ||
        strlen(json_string_value(v)) != json_string_length(v))
        return -1;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

enum gw_frame_error
gw_frame_hello_parse(const void *payload, size_t len, struct gw_frame_hello *h, char *err)
{
    json_t *o, *v;
    enum gw_frame_error e = GW_FRAME_E_HELLO;
    json_int_t ver;

    memset(h, 0, sizeof(*h));
    if (len > GW_FRAME_HELLO_MAX)
        return fail(e, err, "HELLO: payload of %zu bytes (max %d)", len, GW_FRAME_HELLO_MAX);
    o = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return fail(e, err, "HELLO: not a JSON object");
    }
    v = json_object_get(o, "version");
    if (!json_is_integer(v)) {
        fail(e, err, "HELLO: version missing or not an integer");
        goto out;
    }
    if (hello_str(o, "gateway", h->gateway) == -1) {
        fail(e, err, "HELLO: gateway not a string of at most %d bytes", GW_FRAME_NAME_MAX);
        goto out;
    }
    if (hello_str(o, "backend", h->backend) == -1) {
        fail(e, err, "HELLO: backend not a string of at most %d bytes", GW_FRAME_NAME_MAX);
        goto out;
    }
    ver = json_integer_value(v);
    h->version = ver > INT_MAX ? INT_MAX : ver < INT_MIN ? INT_MIN : (int)ver;
    if (ver != GW_FRAME_VERSION) {
        e = fail(GW_FRAME_E_HELLO_VERSION, err,
                 "version mismatch: peer speaks %lld, this side speaks %d", (long long)ver,
                 GW_FRAME_VERSION);
        goto out;
    }
    e = GW_FRAME_OK;
out:
    json_decref(o);
    return e;
}

json_t *
gw_frame_open_parse(const void *payload, size_t len, char *err)
{
    json_t *o = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *client;

    if (!json_is_object(o)) {
        gw_err(err, "OPEN: not a JSON object");
        goto fail;
    }
    client = json_object_get(o, "client");
    if (!json_is_integer(client) || json_integer_value(client) <= 0 ||
        json_integer_value(client) > UINT32_MAX) {
        gw_err(err, "OPEN: client missing or not a positive 32-bit integer");
        goto fail;
    }
    if (!json_is_string(json_object_get(o, "remote")) ||
        !json_is_string(json_object_get(o, "path"))) {
        gw_err(err, "OPEN: remote or path missing or not a string");
        goto fail;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}
