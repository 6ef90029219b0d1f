/*
 * native.c -- logd's native protocol: frame headers, batch records, zstd, CRC-32C checks.
 */
#include "native.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "crc32c.h"

static void
put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void
put32(unsigned char *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static void
put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint16_t
get16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const unsigned char *p)
{
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t
get64(const unsigned char *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

void
gw_native_limits_default(struct gw_native_limits *lim)
{
    lim->max_payload = GW_NATIVE_MAX_PAYLOAD_DEFAULT;
    lim->max_raw = GW_NATIVE_MAX_RAW_DEFAULT;
    lim->max_records = GW_NATIVE_MAX_RECORDS_DEFAULT;
}

static const char *const error_names[] = {
    "unknown",    "bad_frame",    "bad_version",     "bad_crc", "too_large",
    "bad_record", "bad_sequence", "bad_compression", "busy",    "internal",
};

const char *
gw_native_error_name(int code)
{
    if (code < 1 || code >= (int)GW_ARRAY_LEN(error_names))
        return error_names[0];
    return error_names[code];
}

int
gw_native_error_transient(int code)
{
    return code == GW_NATIVE_E_CRC || code == GW_NATIVE_E_BUSY || code == GW_NATIVE_E_INTERNAL;
}

int
gw_native_seq_check(uint64_t prev_on_conn, uint64_t accepted, uint64_t seq)
{
    if (seq == 0 || seq <= prev_on_conn)
        return -1;
    return seq <= accepted ? GW_NATIVE_SEQ_DUP : GW_NATIVE_SEQ_NEW;
}

/* ---- frames ---- */

static int fail(int *code, int c, char *err, const char *fmt, ...) GW_PRINTF(4, 5);

static int
fail(int *code, int c, char *err, const char *fmt, ...)
{
    va_list ap;
    char msg[GW_ERR_LEN];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    *code = c;
    return gw_err(err, "%s: %s", gw_native_error_name(c), msg);
}

/* Header checks that need no payload. */
static int
check_header(const struct gw_native_frame *f, const struct gw_native_limits *lim, int *code,
             char *err)
{
    uint32_t max_len;

    if (f->version != GW_NATIVE_VERSION)
        return fail(code, GW_NATIVE_E_VERSION, err, "version %u (want 1)", f->version);
    if (f->type < GW_NATIVE_HELLO || f->type > GW_NATIVE_ERROR)
        return fail(code, GW_NATIVE_E_FRAME, err, "unknown frame type %u", f->type);
    if (f->flags & ~(f->type == GW_NATIVE_BATCH ? GW_NATIVE_F_ZSTD : 0))
        return fail(code, GW_NATIVE_E_FRAME, err, "flags 0x%x not allowed", f->flags);
    if (f->type == GW_NATIVE_BATCH) {
        if (f->length > lim->max_payload)
            return fail(code, GW_NATIVE_E_TOO_LARGE, err, "payload of %u bytes over %u", f->length,
                        lim->max_payload);
        if (f->raw_length > lim->max_raw)
            return fail(code, GW_NATIVE_E_TOO_LARGE, err, "decompressed size %u over %u",
                        f->raw_length, lim->max_raw);
        if (f->count == 0 || f->count > lim->max_records)
            return fail(code, f->count ? GW_NATIVE_E_TOO_LARGE : GW_NATIVE_E_FRAME, err,
                        "%u records (want 1..%u)", f->count, lim->max_records);
        if (!(f->flags & GW_NATIVE_F_ZSTD) && f->raw_length != f->length)
            return fail(code, GW_NATIVE_E_FRAME, err, "raw_length %u differs from length %u",
                        f->raw_length, f->length);
        return 0;
    }
    if (f->raw_length != f->length)
        return fail(code, GW_NATIVE_E_FRAME, err, "raw_length %u differs from length %u",
                    f->raw_length, f->length);
    max_len = f->type == GW_NATIVE_HELLO     ? 8 + GW_NATIVE_NAME_MAX
              : f->type == GW_NATIVE_WELCOME ? 12
              : f->type == GW_NATIVE_ACK     ? 0
                                             : GW_NATIVE_ERRTEXT_MAX;
    if (f->length > max_len || (f->type == GW_NATIVE_HELLO && f->length < 8) ||
        (f->type == GW_NATIVE_WELCOME && f->length != 12))
        return fail(code, GW_NATIVE_E_FRAME, err, "payload of %u bytes in a frame of type %u",
                    f->length, f->type);
    return 0;
}

int
gw_native_frame_decode(const char *p, size_t n, const struct gw_native_limits *lim,
                       struct gw_native_frame *f, size_t *used, int *code, char *err)
{
    const unsigned char *h = (const unsigned char *)p;
    uint32_t magic;

    *used = 0;
    /* The magic is checked from the first byte, so a peer speaking something else (syslog
     * text, HTTP) is refused at once rather than after 32 bytes. */
    if (n >= 4 && (magic = get32(h)) != GW_NATIVE_MAGIC)
        return fail(code, GW_NATIVE_E_FRAME, err, "bad magic 0x%08x", magic);
    if (n > 0 && n < 4 && memcmp(p, "GWL1", n) != 0)
        return fail(code, GW_NATIVE_E_FRAME, err, "bad magic (not a logd native client?)");
    if (n < GW_NATIVE_HDR_LEN)
        return 0;
    f->type = h[4];
    f->version = h[5];
    f->flags = get16(h + 6);
    f->seq = get64(h + 8);
    f->count = get32(h + 16);
    f->length = get32(h + 20);
    f->raw_length = get32(h + 24);
    f->crc = get32(h + 28);
    f->payload = p + GW_NATIVE_HDR_LEN;
    if (check_header(f, lim, code, err) < 0)
        return -1;
    if (n - GW_NATIVE_HDR_LEN < f->length)
        return 0;
    if (gw_crc32c(0, f->payload, f->length) != f->crc)
        return fail(code, GW_NATIVE_E_CRC, err, "CRC-32C mismatch in frame of type %u seq %llu",
                    f->type, (unsigned long long)f->seq);
    *used = GW_NATIVE_HDR_LEN + (size_t)f->length;
    return 1;
}

/* Appends a header and payload (payload may be NULL when len is 0). */
static int
put_frame(struct gw_buf *out, int type, uint16_t flags, uint64_t seq, uint32_t count,
          const void *payload, uint32_t len, uint32_t raw_len)
{
    unsigned char *w = (unsigned char *)gw_buf_reserve(out, GW_NATIVE_HDR_LEN + (size_t)len);

    if (w == NULL)
        return -1;
    put32(w, GW_NATIVE_MAGIC);
    w[4] = (unsigned char)type;
    w[5] = GW_NATIVE_VERSION;
    put16(w + 6, flags);
    put64(w + 8, seq);
    put32(w + 16, count);
    put32(w + 20, len);
    put32(w + 24, raw_len);
    put32(w + 28, gw_crc32c(0, payload, len));
    if (len)
        memcpy(w + GW_NATIVE_HDR_LEN, payload, len);
    gw_buf_commit(out, GW_NATIVE_HDR_LEN + (size_t)len);
    return 0;
}

static int
printable(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 33 || (unsigned char)p[i] > 126)
            return 0;
    return 1;
}

int
gw_native_hello_encode(struct gw_buf *out, uint64_t session, const char *name, char *err)
{
    unsigned char pl[8 + GW_NATIVE_NAME_MAX];
    size_t n = name ? strlen(name) : 0;

    if (n > GW_NATIVE_NAME_MAX)
        return gw_err(err, "client name of %zu bytes over %d", n, GW_NATIVE_NAME_MAX);
    put64(pl, session);
    if (n)
        memcpy(pl + 8, name, n);
    if (put_frame(out, GW_NATIVE_HELLO, 0, 0, 0, pl, (uint32_t)(8 + n), (uint32_t)(8 + n)) < 0)
        return gw_err(err, "output buffer full");
    return 0;
}

int
gw_native_welcome_encode(struct gw_buf *out, uint64_t durable_seq,
                         const struct gw_native_limits *lim)
{
    unsigned char pl[12];

    put32(pl, lim->max_payload);
    put32(pl + 4, lim->max_raw);
    put32(pl + 8, lim->max_records);
    return put_frame(out, GW_NATIVE_WELCOME, 0, durable_seq, 0, pl, 12, 12);
}

int
gw_native_ack_encode(struct gw_buf *out, uint64_t seq)
{
    return put_frame(out, GW_NATIVE_ACK, 0, seq, 0, NULL, 0, 0);
}

int
gw_native_error_encode(struct gw_buf *out, uint64_t seq, int code, const char *text)
{
    size_t n = text ? strlen(text) : 0;

    n = GW_MIN(n, GW_NATIVE_ERRTEXT_MAX);
    return put_frame(out, GW_NATIVE_ERROR, 0, seq, (uint32_t)code, text, (uint32_t)n, (uint32_t)n);
}

int
gw_native_hello_decode(const struct gw_native_frame *f, uint64_t *session, struct gw_slice *name,
                       char *err)
{
    if (f->type != GW_NATIVE_HELLO || f->length < 8)
        return gw_err(err, "not a HELLO frame");
    *session = get64((const unsigned char *)f->payload);
    name->ptr = f->payload + 8;
    name->len = f->length - 8;
    if (*session == 0)
        return gw_err(err, "session id 0");
    if (!printable(name->ptr, name->len))
        return gw_err(err, "client name is not printable ASCII");
    return 0;
}

int
gw_native_welcome_decode(const struct gw_native_frame *f, struct gw_native_limits *lim, char *err)
{
    const unsigned char *p = (const unsigned char *)f->payload;

    if (f->type != GW_NATIVE_WELCOME || f->length != 12)
        return gw_err(err, "not a WELCOME frame");
    lim->max_payload = get32(p);
    lim->max_raw = get32(p + 4);
    lim->max_records = get32(p + 8);
    if (!lim->max_payload || !lim->max_raw || !lim->max_records)
        return gw_err(err, "WELCOME with a zero limit");
    return 0;
}

/* ---- records ---- */

static int
field_ok(struct gw_slice s, size_t max)
{
    return s.len <= max && printable(s.ptr, s.len);
}

static const char *
record_problem(const struct gw_logrec *r)
{
    if (r->severity < -1 || r->severity > 7)
        return "severity out of range";
    if (r->facility < -1 || r->facility > 23)
        return "facility out of range";
    if (!field_ok(r->host, GW_SYSLOG_HOST_MAX))
        return "host over 255 bytes or not printable US-ASCII";
    if (!field_ok(r->app, GW_SYSLOG_APP_MAX))
        return "app over 48 bytes or not printable US-ASCII";
    if (!field_ok(r->procid, GW_SYSLOG_PROCID_MAX))
        return "procid over 128 bytes or not printable US-ASCII";
    if (!field_ok(r->msgid, GW_SYSLOG_MSGID_MAX))
        return "msgid over 32 bytes or not printable US-ASCII";
    if (r->sd.len && (r->sd.len > GW_NATIVE_SD_MAX || !gw_syslog_sd_valid(r->sd.ptr, r->sd.len)))
        return "structured data is not valid RFC 5424 SD";
    if (r->tz_offset_min < -1439 || r->tz_offset_min > 1439)
        return "zone offset out of range";
    return NULL;
}

size_t
gw_native_record_size(const struct gw_logrec *r)
{
    size_t n;

    if (record_problem(r))
        return 0;
    n = GW_NATIVE_REC_MIN + r->host.len + r->app.len + r->procid.len + r->msgid.len + r->sd.len +
        r->msg.len;
    return n - 4 > UINT32_MAX ? 0 : n;
}

static unsigned char *
put_str8(unsigned char *w, struct gw_slice s)
{
    *w++ = (unsigned char)s.len;
    if (s.len)
        memcpy(w, s.ptr, s.len);
    return w + s.len;
}

int
gw_native_record_append(struct gw_buf *payload, const struct gw_logrec *r, char *err)
{
    const char *why = record_problem(r);
    size_t n = gw_native_record_size(r);
    unsigned char *w;

    if (why)
        return gw_err(err, "bad record: %s", why);
    if (n == 0)
        return gw_err(err, "bad record: message over 4 GiB");
    if ((w = (unsigned char *)gw_buf_reserve(payload, n)) == NULL)
        return gw_err(err, "payload full");
    put32(w, (uint32_t)(n - 4));
    w[4] = r->severity < 0 ? 255 : (unsigned char)r->severity;
    w[5] = r->facility < 0 ? 255 : (unsigned char)r->facility;
    w[6] = (unsigned char)((r->flags & GW_LOGREC_TIME_TZ ? GW_NATIVE_R_TZ : 0) |
                           (r->flags & GW_LOGREC_TRUNCATED ? GW_NATIVE_R_TRUNCATED : 0));
    w[7] = 0;
    put16(w + 8, (uint16_t)r->tz_offset_min);
    put64(w + 10, (uint64_t)r->time_ns);
    w += 18;
    w = put_str8(w, r->host);
    w = put_str8(w, r->app);
    w = put_str8(w, r->procid);
    w = put_str8(w, r->msgid);
    put16(w, (uint16_t)r->sd.len);
    w += 2;
    if (r->sd.len)
        memcpy(w, r->sd.ptr, r->sd.len);
    w += r->sd.len;
    if (r->msg.len)
        memcpy(w, r->msg.ptr, r->msg.len);
    gw_buf_commit(payload, n);
    return 0;
}

/* Reads one record at p (at most end), checking it; fills rec when not NULL. Returns the
 * record's size, or 0 with *why when it breaks the layout. */
static size_t
read_record(const char *p, const char *end, struct gw_logrec *rec, const char **why)
{
    const unsigned char *u = (const unsigned char *)p;
    struct gw_logrec r;
    size_t len, off;
    struct gw_slice *str8[4];

    if (end - p < GW_NATIVE_REC_MIN) {
        *why = "record shorter than its fixed part";
        return 0;
    }
    len = (size_t)get32(u) + 4;
    if (len < GW_NATIVE_REC_MIN || len > (size_t)(end - p)) {
        *why = "record length runs past the batch";
        return 0;
    }
    memset(&r, 0, sizeof(r));
    r.severity = (int8_t)(u[4] == 255 ? -1 : u[4]);
    r.facility = (int8_t)(u[5] == 255 ? -1 : u[5]);
    if ((u[4] > 7 && u[4] != 255) || (u[5] > 23 && u[5] != 255) ||
        (u[6] & ~(GW_NATIVE_R_TZ | GW_NATIVE_R_TRUNCATED)) || u[7]) {
        *why = "bad severity, facility or flags";
        return 0;
    }
    r.flags = (uint16_t)((u[6] & GW_NATIVE_R_TZ ? GW_LOGREC_TIME_TZ : 0) |
                         (u[6] & GW_NATIVE_R_TRUNCATED ? GW_LOGREC_TRUNCATED : 0));
    r.tz_offset_min = (int16_t)get16(u + 8);
    r.time_ns = (int64_t)get64(u + 10);
    off = 18;
    str8[0] = &r.host;
    str8[1] = &r.app;
    str8[2] = &r.procid;
    str8[3] = &r.msgid;
    for (int i = 0; i < 4; i++) {
        size_t k = u[off];
        /* Room for this string, the later strings' lengths and the SD length. */
        if (off + 1 + k + (size_t)(3 - i) + 2 > len) {
            *why = "record string runs past the record";
            return 0;
        }
        str8[i]->ptr = p + off + 1;
        str8[i]->len = k;
        off += 1 + k;
    }
    r.sd.len = get16(u + off);
    r.sd.ptr = p + off + 2;
    off += 2;
    if (off + r.sd.len > len) {
        *why = "structured data runs past the record";
        return 0;
    }
    off += r.sd.len;
    r.msg.ptr = p + off;
    r.msg.len = len - off;
    if ((*why = record_problem(&r)) != NULL)
        return 0;
    if (rec) {
        r.recv_ns = rec->recv_ns;
        r.input = rec->input;
        r.source = rec->source;
        r.format = GW_LOGREC_NATIVE;
        r.line = r.msg;
        if (gw_syslog_needs_escape(r.msg.ptr, r.msg.len) ||
            gw_syslog_needs_escape(r.sd.ptr, r.sd.len))
            r.flags |= GW_LOGREC_ESCAPED;
        *rec = r;
    }
    return len;
}

void
gw_native_scratch_free(struct gw_native_scratch *s)
{
    ZSTD_freeDCtx(s->zstd);
    free(s->buf);
    memset(s, 0, sizeof(*s));
}

static int
inflate(const struct gw_native_frame *f, struct gw_native_scratch *s, const char **out, int *code,
        char *err)
{
    unsigned long long declared;
    size_t got;

    declared = ZSTD_getFrameContentSize(f->payload, f->length);
    if (declared == ZSTD_CONTENTSIZE_ERROR || declared == ZSTD_CONTENTSIZE_UNKNOWN)
        return fail(code, GW_NATIVE_E_COMPRESSION, err, "no zstd frame with a declared size");
    if (declared != f->raw_length)
        return fail(code, GW_NATIVE_E_COMPRESSION, err,
                    "zstd frame holds %llu bytes, header says %u", declared, f->raw_length);
    if (ZSTD_findFrameCompressedSize(f->payload, f->length) != f->length)
        return fail(code, GW_NATIVE_E_COMPRESSION, err, "payload is not exactly one zstd frame");
    if (s->zstd == NULL && (s->zstd = ZSTD_createDCtx()) == NULL)
        return fail(code, GW_NATIVE_E_INTERNAL, err, "out of memory");
    if (s->cap < f->raw_length || s->buf == NULL) {
        char *nb = realloc(s->buf, f->raw_length ? f->raw_length : 1);
        if (nb == NULL)
            return fail(code, GW_NATIVE_E_INTERNAL, err, "out of memory");
        s->buf = nb;
        s->cap = f->raw_length ? f->raw_length : 1;
    }
    /* The output bound is raw_length, whatever the frame claims inside. */
    got = ZSTD_decompressDCtx(s->zstd, s->buf, f->raw_length, f->payload, f->length);
    if (ZSTD_isError(got))
        return fail(code, GW_NATIVE_E_COMPRESSION, err, "zstd: %s", ZSTD_getErrorName(got));
    if (got != f->raw_length)
        return fail(code, GW_NATIVE_E_COMPRESSION, err, "zstd gave %zu bytes, header says %u", got,
                    f->raw_length);
    *out = s->buf;
    return 0;
}

int
gw_native_batch_open(struct gw_native_batch *b, const struct gw_native_frame *f,
                     const struct gw_native_limits *lim, struct gw_native_scratch *s, int *code,
                     char *err)
{
    const char *p = f->payload, *why = NULL;
    uint32_t i;
    size_t k;

    memset(b, 0, sizeof(*b));
    if (f->type != GW_NATIVE_BATCH)
        return fail(code, GW_NATIVE_E_FRAME, err, "frame type %u is not BATCH", f->type);
    if (f->raw_length > lim->max_raw || f->count > lim->max_records)
        return fail(code, GW_NATIVE_E_TOO_LARGE, err, "batch over the limits");
    if ((f->flags & GW_NATIVE_F_ZSTD) && inflate(f, s, &p, code, err) < 0)
        return -1;
    b->p = p;
    b->end = p + f->raw_length;
    for (i = 0; i < f->count; i++, p += k)
        if ((k = read_record(p, b->end, NULL, &why)) == 0)
            return fail(code, GW_NATIVE_E_RECORD, err, "record %u: %s", i + 1, why);
    if (p != b->end)
        return fail(code, GW_NATIVE_E_RECORD, err, "%zu bytes after the last of %u records",
                    (size_t)(b->end - p), f->count);
    b->left = f->count;
    return 0;
}

int
gw_native_batch_next(struct gw_native_batch *b, struct gw_logrec *rec)
{
    const char *why;
    size_t k;

    if (b->left == 0)
        return 0;
    k = read_record(b->p, b->end, rec, &why);
    b->p += k;
    b->left--;
    return k ? 1 : 0;
}

int
gw_native_batch_encode(struct gw_buf *out, uint64_t seq, uint32_t count, const char *payload,
                       size_t len, int zstd_level, char *err)
{
    void *z = NULL;
    size_t zn;
    int rc;

    if (len > UINT32_MAX)
        return gw_err(err, "batch payload over 4 GiB");
    if (zstd_level > 0 && len > 0 && (z = malloc(ZSTD_compressBound(len))) != NULL) {
        zn = ZSTD_compress(z, ZSTD_compressBound(len), payload, len, zstd_level);
        if (!ZSTD_isError(zn) && zn < len) {
            rc = put_frame(out, GW_NATIVE_BATCH, GW_NATIVE_F_ZSTD, seq, count, z, (uint32_t)zn,
                           (uint32_t)len);
            free(z);
            return rc < 0 ? gw_err(err, "output buffer full") : 0;
        }
        free(z);
    }
    if (put_frame(out, GW_NATIVE_BATCH, 0, seq, count, payload, (uint32_t)len, (uint32_t)len) < 0)
        return gw_err(err, "output buffer full");
    return 0;
}
