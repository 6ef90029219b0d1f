/*
 * native.c -- tests for lib/native.c: every frame type round trip, decoding in every split,
 * batches plain and zstd, each header and record violation with its exact reason, zstd bombs
 * and lies, the small payloads, and the server's sequence rule.
 */
#include "native.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "crc32c.h"

#include "../tap.h"

static struct gw_native_limits lim;

static struct gw_slice
sl(const char *s)
{
    struct gw_slice x = {s, strlen(s)};
    return x;
}

static int
sl_eq(struct gw_slice s, const char *want)
{
    return s.len == strlen(want) && (s.len == 0 || memcmp(s.ptr, want, s.len) == 0);
}

/* A raw frame with any header values; the CRC is right unless crc_delta. */
static size_t
raw_frame(char *out, int type, int version, unsigned flags, uint64_t seq, uint32_t count,
          const void *pl, uint32_t len, uint32_t raw_len, uint32_t crc_delta)
{
    unsigned char *w = (unsigned char *)out;
    uint32_t v[6] = {0x47574C31u, 0, count, len, raw_len, gw_crc32c(0, pl, len) + crc_delta};

    for (int i = 0; i < 4; i++)
        w[i] = (unsigned char)(v[0] >> (24 - 8 * i));
    w[4] = (unsigned char)type;
    w[5] = (unsigned char)version;
    w[6] = (unsigned char)(flags >> 8);
    w[7] = (unsigned char)flags;
    for (int i = 0; i < 8; i++)
        w[8 + i] = (unsigned char)(seq >> (56 - 8 * i));
    for (int k = 2; k < 6; k++)
        for (int i = 0; i < 4; i++)
            w[16 + 4 * (k - 2) + i] = (unsigned char)(v[k] >> (24 - 8 * i));
    if (len)
        memcpy(out + 32, pl, len);
    return 32 + (size_t)len;
}

/* Decodes a whole buffer; returns the rc, err in err, code in *code. */
static int
decode(const char *p, size_t n, struct gw_native_frame *f, int *code, char *err)
{
    size_t used;

    *code = 0;
    err[0] = '\0';
    return gw_native_frame_decode(p, n, &lim, f, &used, code, err);
}

static void
test_small_frames(void)
{
    struct gw_native_limits got;
    struct gw_native_frame f;
    struct gw_slice name;
    char err[GW_ERR_LEN];
    struct gw_buf b;
    uint64_t session;
    size_t used;
    int code, all = 1;

    gw_buf_init(&b, 1 << 20);
    is(gw_native_hello_encode(&b, 0x1122334455667788ull, "gwctl", err), 0, "HELLO encodes");
    is(gw_buf_len(&b), 32 + 8 + 5, "HELLO: header, session, name");
    ok(memcmp(gw_buf_data(&b), "GWL1\x01\x01", 6) == 0, "HELLO: magic, type 1, version 1");
    for (size_t n = 0; n < gw_buf_len(&b); n++)
        if (gw_native_frame_decode(gw_buf_data(&b), n, &lim, &f, &used, &code, err) != 0)
            all = 0;
    ok(all, "a frame cut anywhere needs more bytes");
    is(decode(gw_buf_data(&b), gw_buf_len(&b), &f, &code, err), 1, "HELLO decodes");
    ok(gw_native_hello_decode(&f, &session, &name, err) == 0 && session == 0x1122334455667788ull &&
           sl_eq(name, "gwctl"),
       "HELLO: session and name round trip");
    gw_buf_consume(&b, gw_buf_len(&b));
    is(gw_native_hello_encode(&b, 0, "bad name", err), 0, "HELLO with session 0 encodes");
    decode(gw_buf_data(&b), gw_buf_len(&b), &f, &code, err);
    is(gw_native_hello_decode(&f, &session, &name, err), -1, "HELLO with session 0 refused");
    is_str(err, "session id 0", "session 0: reason");

    gw_buf_consume(&b, gw_buf_len(&b));
    gw_native_welcome_encode(&b, 41, &lim);
    gw_native_ack_encode(&b, 42);
    gw_native_error_encode(&b, 43, GW_NATIVE_E_CRC, "bad crc in batch 43");
    is(decode(gw_buf_data(&b), gw_buf_len(&b), &f, &code, err), 1, "WELCOME decodes");
    ok(f.type == GW_NATIVE_WELCOME && f.seq == 41 && gw_native_welcome_decode(&f, &got, err) == 0 &&
           got.max_payload == lim.max_payload && got.max_raw == lim.max_raw &&
           got.max_records == lim.max_records,
       "WELCOME: durable seq and limits round trip");
    gw_buf_consume(&b, 44);
    is(decode(gw_buf_data(&b), gw_buf_len(&b), &f, &code, err), 1,
       "ACK decodes (frames back to back)");
    ok(f.type == GW_NATIVE_ACK && f.seq == 42 && f.length == 0, "ACK: seq, no payload");
    gw_buf_consume(&b, 32);
    is(decode(gw_buf_data(&b), gw_buf_len(&b), &f, &code, err), 1, "ERROR decodes");
    ok(f.type == GW_NATIVE_ERROR && f.seq == 43 && f.count == GW_NATIVE_E_CRC && f.length == 19 &&
           memcmp(f.payload, "bad crc in batch 43", 19) == 0,
       "ERROR: seq, code and text round trip");
    gw_buf_reset(&b);

    is_str(gw_native_error_name(GW_NATIVE_E_CRC), "bad_crc", "error name bad_crc");
    is_str(gw_native_error_name(GW_NATIVE_E_COMPRESSION), "bad_compression",
           "error name bad_compression");
    is_str(gw_native_error_name(77), "unknown", "unknown error code");
    ok(gw_native_error_transient(GW_NATIVE_E_CRC) && gw_native_error_transient(GW_NATIVE_E_BUSY) &&
           !gw_native_error_transient(GW_NATIVE_E_RECORD) &&
           !gw_native_error_transient(GW_NATIVE_E_TOO_LARGE),
       "bad_crc and busy are transient, bad_record and too_large are not");
}

static void
test_bad_headers(void)
{
    static const struct {
        int type, version;
        unsigned flags;
        uint32_t count, len, raw, crc_delta;
        int code;
        const char *err;
    } cases[] = {
        {9, 1, 0, 0, 0, 0, 0, GW_NATIVE_E_FRAME, "bad_frame: unknown frame type 9"},
        {4, 2, 0, 0, 0, 0, 0, GW_NATIVE_E_VERSION, "bad_version: version 2 (want 1)"},
        {4, 1, 1, 0, 0, 0, 0, GW_NATIVE_E_FRAME, "bad_frame: flags 0x1 not allowed"},
        {3, 1, 2, 1, 4, 4, 0, GW_NATIVE_E_FRAME, "bad_frame: flags 0x2 not allowed"},
        {3, 1, 0, 0, 4, 4, 0, GW_NATIVE_E_FRAME, "bad_frame: 0 records (want 1..65536)"},
        {3, 1, 0, 65537, 4, 4, 0, GW_NATIVE_E_TOO_LARGE,
         "too_large: 65537 records (want 1..65536)"},
        {3, 1, 0, 1, 100u << 20, 100u << 20, 0, GW_NATIVE_E_TOO_LARGE,
         "too_large: payload of 104857600 bytes over 4194304"},
        {3, 1, 1, 1, 4, 17u << 20, 0, GW_NATIVE_E_TOO_LARGE,
         "too_large: decompressed size 17825792 over 16777216"},
        {3, 1, 0, 1, 4, 5, 0, GW_NATIVE_E_FRAME, "bad_frame: raw_length 5 differs from length 4"},
        {4, 1, 0, 0, 4, 4, 0, GW_NATIVE_E_FRAME,
         "bad_frame: payload of 4 bytes in a frame of type 4"},
        {1, 1, 0, 0, 4, 4, 0, GW_NATIVE_E_FRAME,
         "bad_frame: payload of 4 bytes in a frame of type 1"},
        {2, 1, 0, 0, 4, 4, 0, GW_NATIVE_E_FRAME,
         "bad_frame: payload of 4 bytes in a frame of type 2"},
        {5, 1, 0, 0, 1025, 1025, 0, GW_NATIVE_E_FRAME,
         "bad_frame: payload of 1025 bytes in a frame of type 5"},
        {3, 1, 0, 1, 4, 4, 1, GW_NATIVE_E_CRC,
         "bad_crc: CRC-32C mismatch in frame of type 3 seq 7"},
    };
    static char big[64 + 2048];
    struct gw_native_frame f;
    char err[GW_ERR_LEN];
    int code;

    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        uint32_t have = cases[i].len <= 1025 ? cases[i].len : 0;
        size_t n;

        /* Header with the case's values; only as many payload bytes as fit. */
        memset(big + 32, 'x', 2048);
        n = raw_frame(big, cases[i].type, cases[i].version, cases[i].flags, 7, cases[i].count,
                      big + 32, have, have, cases[i].crc_delta);
        big[20] = (char)(cases[i].len >> 24);
        big[21] = (char)(cases[i].len >> 16);
        big[22] = (char)(cases[i].len >> 8);
        big[23] = (char)cases[i].len;
        big[24] = (char)(cases[i].raw >> 24);
        big[25] = (char)(cases[i].raw >> 16);
        big[26] = (char)(cases[i].raw >> 8);
        big[27] = (char)cases[i].raw;
        ok(decode(big, n, &f, &code, err) == -1 && code == cases[i].code,
           "refused with code %d: %s", cases[i].code, cases[i].err);
        is_str(err, cases[i].err, "exact reason");
    }
    raw_frame(big, GW_NATIVE_BATCH, 1, 0, 1, 1, NULL, 0, 0, 0);
    big[20] = 0x40; /* length 1 GiB */
    ok(decode(big, 32, &f, &code, err) == -1 && code == GW_NATIVE_E_TOO_LARGE,
       "a lying length is refused from the header alone");
    memcpy(big, "<13>Dec  6 02:03:19 host app: syslog to the wrong port", 55);
    is(decode(big, 55, &f, &code, err), -1, "syslog text on the native port refused");
    is_str(err, "bad_frame: bad magic 0x3c31333e", "bad magic: reason");
    is(decode(big, 2, &f, &code, err), -1, "bad magic seen from the first bytes");
    is(decode(big, 10, &f, &code, err), -1, "bad magic seen before a whole header");
}

static struct gw_logrec
rec(int sev, int fac, const char *host, const char *app, const char *procid, const char *msgid,
    const char *sd, const char *msg, size_t msglen)
{
    struct gw_logrec r;

    memset(&r, 0, sizeof(r));
    r.severity = (int8_t)sev;
    r.facility = (int8_t)fac;
    r.host = sl(host);
    r.app = sl(app);
    r.procid = sl(procid);
    r.msgid = sl(msgid);
    r.sd = sl(sd);
    r.msg.ptr = msg;
    r.msg.len = msglen;
    return r;
}

static void
test_batch_roundtrip(int level)
{
    struct gw_logrec in[3], out;
    struct gw_native_scratch s;
    struct gw_native_batch bt;
    struct gw_native_frame f;
    struct gw_buf pl, fr;
    char err[GW_ERR_LEN], longmsg[3000];
    size_t used;
    int code, n = 0, same = 1;

    memset(longmsg, 'm', sizeof(longmsg));
    in[0] = rec(3, 16, "web-1.example.com", "nginx", "4242", "ID47",
                "[exampleSDID@32473 iut=\"3\" src=\"a\\]b\"]", longmsg, sizeof(longmsg));
    in[0].time_ns = 1796522601384915000LL;
    in[0].tz_offset_min = -420;
    in[0].flags = GW_LOGREC_TIME_TZ | GW_LOGREC_TRUNCATED;
    in[1] = rec(-1, -1, "", "", "", "", "", "", 0);
    in[2] = rec(7, 23, "h", "a", "p", "m", "", "nul\0and \xff bad", 14);
    gw_buf_init(&pl, 1 << 20);
    gw_buf_init(&fr, 1 << 20);
    for (int i = 0; i < 3; i++)
        if (gw_native_record_append(&pl, &in[i], err) < 0)
            diag("append %d: %s", i, err);
    is(gw_buf_len(&pl),
       gw_native_record_size(&in[0]) + gw_native_record_size(&in[1]) +
           gw_native_record_size(&in[2]),
       "zstd %d: payload is the sum of record sizes", level);
    is(gw_native_record_size(&in[1]), GW_NATIVE_REC_MIN, "an empty record takes the minimum");
    is(gw_native_batch_encode(&fr, 9, 3, gw_buf_data(&pl), gw_buf_len(&pl), level, err), 0,
       "zstd %d: batch encodes", level);
    {
        int all = 1;
        for (size_t cut = 0; cut < gw_buf_len(&fr); cut++)
            if (gw_native_frame_decode(gw_buf_data(&fr), cut, &lim, &f, &used, &code, err) != 0)
                all = 0;
        ok(all, "zstd %d: the batch cut anywhere needs more bytes", level);
    }
    is(gw_native_frame_decode(gw_buf_data(&fr), gw_buf_len(&fr), &lim, &f, &used, &code, err), 1,
       "zstd %d: batch frame decodes", level);
    ok(f.type == GW_NATIVE_BATCH && f.seq == 9 && f.count == 3 && used == gw_buf_len(&fr),
       "zstd %d: header round trip", level);
    ok(level ? (f.flags & GW_NATIVE_F_ZSTD) && f.length < f.raw_length
             : f.flags == 0 && f.length == f.raw_length,
       "zstd %d: compressed exactly when asked and smaller", level);
    memset(&s, 0, sizeof(s));
    is(gw_native_batch_open(&bt, &f, &lim, &s, &code, err), 0, "zstd %d: batch opens", level);
    memset(&out, 0, sizeof(out));
    out.recv_ns = 5;
    while (gw_native_batch_next(&bt, &out) == 1) {
        struct gw_logrec *w = &in[n];
        if (out.severity != w->severity || out.facility != w->facility ||
            out.time_ns != w->time_ns || out.tz_offset_min != w->tz_offset_min ||
            out.host.len != w->host.len || memcmp(out.host.ptr, w->host.ptr, w->host.len) != 0 ||
            out.msg.len != w->msg.len || memcmp(out.msg.ptr, w->msg.ptr, w->msg.len) != 0 ||
            out.sd.len != w->sd.len || out.app.len != w->app.len ||
            out.procid.len != w->procid.len || out.msgid.len != w->msgid.len ||
            out.format != GW_LOGREC_NATIVE || out.recv_ns != 5 ||
            (out.flags & (GW_LOGREC_TIME_TZ | GW_LOGREC_TRUNCATED)) !=
                (w->flags & (GW_LOGREC_TIME_TZ | GW_LOGREC_TRUNCATED)))
            same = 0;
        n++;
    }
    is(n, 3, "zstd %d: three records come out", level);
    ok(same, "zstd %d: every field round trips; recv_ns left alone", level);
    ok((out.flags & GW_LOGREC_ESCAPED) && out.line.len == 14,
       "zstd %d: NUL and bad UTF-8 flagged for escaping; line is the message", level);
    gw_native_scratch_free(&s);
    gw_buf_reset(&pl);
    gw_buf_reset(&fr);
}

static void
test_record_checks(void)
{
    struct gw_logrec r;
    struct gw_buf pl;
    char err[GW_ERR_LEN];

    gw_buf_init(&pl, 64);
    r = rec(8, 1, "", "", "", "", "", "x", 1);
    ok(gw_native_record_append(&pl, &r, err) == -1 &&
           strcmp(err, "bad record: severity out of range") == 0,
       "severity 8 refused");
    r = rec(1, 24, "", "", "", "", "", "x", 1);
    is(gw_native_record_append(&pl, &r, err), -1, "facility 24 refused");
    r = rec(1, 1, "", "an app with spaces", "", "", "", "x", 1);
    is(gw_native_record_append(&pl, &r, err), -1, "app with spaces refused");
    is_str(err, "bad record: app over 48 bytes or not printable US-ASCII", "app: reason");
    r = rec(1, 1, "", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", "", "", "x", 1);
    is(gw_native_record_append(&pl, &r, err), -1, "app of 49 refused");
    r = rec(1, 1, "", "", "", "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm", "", "x", 1);
    is(gw_native_record_append(&pl, &r, err), -1, "msgid of 33 refused");
    r = rec(1, 1, "", "", "", "", "[bad", "x", 1);
    is(gw_native_record_append(&pl, &r, err), -1, "invalid SD refused");
    is_str(err, "bad record: structured data is not valid RFC 5424 SD", "SD: reason");
    r = rec(1, 1, "", "", "", "", "", "0123456789012345678901234567890123456789", 40);
    is(gw_native_record_append(&pl, &r, err), 0, "record fits");
    is(gw_native_record_append(&pl, &r, err), -1, "second one does not");
    is_str(err, "payload full", "payload full: reason");
    is(gw_buf_len(&pl), 64, "and nothing of it was appended");
    gw_buf_reset(&pl);
}

/* A BATCH frame around payload bytes, with header values of our choosing. */
static int
open_raw(const void *pl, uint32_t len, uint32_t count, unsigned flags, uint32_t raw, int *code,
         char *err)
{
    static char buf[1 << 16];
    struct gw_native_scratch s;
    struct gw_native_batch bt;
    struct gw_native_frame f;
    size_t n = raw_frame(buf, GW_NATIVE_BATCH, 1, flags, 1, count, pl, len, raw, 0);
    int rc;

    if (decode(buf, n, &f, code, err) != 1)
        return -2;
    memset(&s, 0, sizeof(s));
    rc = gw_native_batch_open(&bt, &f, &lim, &s, code, err);
    gw_native_scratch_free(&s);
    return rc;
}

static void
test_bad_batches(void)
{
    struct gw_logrec r = rec(5, 1, "h", "a", "", "", "", "msg", 3);
    char err[GW_ERR_LEN], rawrec[64], z[4096];
    struct gw_buf pl;
    size_t n, zn;
    int code;
    char *bomb;

    gw_buf_init(&pl, 4096);
    gw_native_record_append(&pl, &r, err);
    gw_native_record_append(&pl, &r, err);
    n = gw_buf_len(&pl);
    is(open_raw(gw_buf_data(&pl), (uint32_t)n, 2, 0, (uint32_t)n, &code, err), 0,
       "two good records open");
    ok(open_raw(gw_buf_data(&pl), (uint32_t)n, 3, 0, (uint32_t)n, &code, err) == -1 &&
           code == GW_NATIVE_E_RECORD,
       "count says 3, payload holds 2: bad_record");
    is_str(err, "bad_record: record 3: record shorter than its fixed part", "count 3: reason");
    is(open_raw(gw_buf_data(&pl), (uint32_t)n, 1, 0, (uint32_t)n, &code, err), -1,
       "count says 1, payload holds 2: bad_record");
    is_str(err, "bad_record: 29 bytes after the last of 1 records", "trailing bytes: reason");

    memcpy(rawrec, gw_buf_data(&pl), 29);
    rawrec[4] = 9;
    ok(open_raw(rawrec, 29, 1, 0, 29, &code, err) == -1 && code == GW_NATIVE_E_RECORD,
       "severity 9 in a record: bad_record");
    memcpy(rawrec, gw_buf_data(&pl), 29);
    rawrec[3] = 40; /* 44 > 29 */
    is(open_raw(rawrec, 29, 1, 0, 29, &code, err), -1, "record length past the batch");
    is_str(err, "bad_record: record 1: record length runs past the batch", "length: reason");
    memcpy(rawrec, gw_buf_data(&pl), 29);
    rawrec[18] = 20; /* host length 20 in a 29-byte record */
    is(open_raw(rawrec, 29, 1, 0, 29, &code, err), -1, "string length past the record");
    memcpy(rawrec, gw_buf_data(&pl), 29);
    rawrec[19] = ' '; /* host "h" becomes " " */
    is(open_raw(rawrec, 29, 1, 0, 29, &code, err), -1, "host not printable: bad_record");
    memcpy(rawrec, gw_buf_data(&pl), 29);
    rawrec[6] = 4;
    is(open_raw(rawrec, 29, 1, 0, 29, &code, err), -1, "unknown record flag: bad_record");

    /* zstd lies and bombs. */
    zn = ZSTD_compress(z, sizeof(z), gw_buf_data(&pl), n, 3);
    is(open_raw(z, (uint32_t)zn, 2, GW_NATIVE_F_ZSTD, (uint32_t)n, &code, err), 0,
       "zstd batch with the right raw_length opens");
    ok(open_raw(z, (uint32_t)zn, 2, GW_NATIVE_F_ZSTD, (uint32_t)n + 1, &code, err) == -1 &&
           code == GW_NATIVE_E_COMPRESSION,
       "raw_length one more than the zstd frame holds: bad_compression");
    is(open_raw("not zstd at all", 15, 1, GW_NATIVE_F_ZSTD, 15, &code, err), -1,
       "zstd flag on plain bytes: refused");
    is_str(err, "bad_compression: no zstd frame with a declared size", "not zstd: reason");
    memcpy(z + zn, z, zn);
    is(open_raw(z, (uint32_t)(2 * zn), 2, GW_NATIVE_F_ZSTD, (uint32_t)n, &code, err), -1,
       "two zstd frames: refused");
    is_str(err, "bad_compression: payload is not exactly one zstd frame", "two frames: reason");

    bomb = calloc(1, 64u << 20);
    zn = ZSTD_compress(z, sizeof(z), bomb, 64u << 20, 1);
    ok(!ZSTD_isError(zn) && zn < 4096, "64 MiB of zeros compress to %zu bytes", zn);
    ok(open_raw(z, (uint32_t)zn, 1, GW_NATIVE_F_ZSTD, 1u << 20, &code, err) == -1 &&
           code == GW_NATIVE_E_COMPRESSION,
       "zstd bomb claiming 1 MiB: refused before inflating");
    is_str(err, "bad_compression: zstd frame holds 67108864 bytes, header says 1048576",
           "bomb: reason");
    {
        /* A frame without its content size, produced by streaming. */
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        ZSTD_inBuffer ib = {bomb, 1u << 20, 0};
        ZSTD_outBuffer ob = {z, sizeof(z), 0};
        ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end);
        ZSTD_freeCCtx(cc);
        is(open_raw(z, (uint32_t)ob.pos, 1, GW_NATIVE_F_ZSTD, 1u << 20, &code, err), -1,
           "zstd frame without a declared size: refused");
    }
    free(bomb);
    gw_buf_reset(&pl);
}

static void
test_seq(void)
{
    is(gw_native_seq_check(0, 0, 1), GW_NATIVE_SEQ_NEW, "first batch of a new session: new");
    is(gw_native_seq_check(0, 0, 0), -1, "seq 0: refused");
    is(gw_native_seq_check(5, 5, 5), -1, "seq repeated on a connection: refused");
    is(gw_native_seq_check(5, 9, 4), -1, "seq going back on a connection: refused");
    is(gw_native_seq_check(0, 9, 7), GW_NATIVE_SEQ_DUP, "resend of an accepted batch: duplicate");
    is(gw_native_seq_check(7, 9, 10), GW_NATIVE_SEQ_NEW, "past the accepted mark: new");
    is(gw_native_seq_check(7, 9, 20), GW_NATIVE_SEQ_NEW, "gaps allowed");
}

int
main(void)
{
    gw_native_limits_default(&lim);
    test_small_frames();
    test_bad_headers();
    test_batch_roundtrip(0);
    test_batch_roundtrip(3);
    test_record_checks();
    test_bad_batches();
    test_seq();
    return done_testing();
}
