/*
 * native_frame.c -- libFuzzer target for logd's native protocol: a stream of frames decoded,
 * batches opened (plain and zstd) and their records read and re-encoded. With bit 0 of the
 * first byte set, each frame's CRC is fixed up first so the fuzzer gets past the checksum
 * into the record and zstd checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "native.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t
be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
fix_crcs(unsigned char *p, size_t n)
{
    size_t off = 0;

    while (n - off >= GW_NATIVE_HDR_LEN) {
        uint32_t len = be32(p + off + 20), crc;
        if (len > n - off - GW_NATIVE_HDR_LEN)
            return;
        crc = gw_crc32c(0, p + off + GW_NATIVE_HDR_LEN, len);
        for (int i = 0; i < 4; i++)
            p[off + 28 + i] = (unsigned char)(crc >> (24 - 8 * i));
        off += GW_NATIVE_HDR_LEN + len;
    }
}

static void
read_batch(const struct gw_native_frame *f, const struct gw_native_limits *lim,
           struct gw_native_scratch *s)
{
    struct gw_native_batch b;
    struct gw_logrec r;
    char err[GW_ERR_LEN];
    struct gw_buf pl;
    uint32_t n = 0;
    int code;

    if (gw_native_batch_open(&b, f, lim, s, &code, err) < 0) {
        if (code < 1 || code > 9)
            abort();
        return;
    }
    gw_buf_init(&pl, (size_t)lim->max_raw);
    memset(&r, 0, sizeof(r));
    while (gw_native_batch_next(&b, &r) == 1) {
        n++;
        /* What the decoder accepts, the encoder takes back, byte for byte in size. */
        if (gw_native_record_size(&r) == 0 || gw_native_record_append(&pl, &r, err) < 0)
            abort();
    }
    if (n != f->count || gw_buf_len(&pl) != f->raw_length)
        abort();
    gw_buf_reset(&pl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_native_limits lim = {8192, 65536, 256}, got;
    struct gw_native_scratch s;
    struct gw_native_frame f;
    struct gw_slice name;
    char err[GW_ERR_LEN];
    unsigned char *p;
    size_t off = 0, used;
    uint64_t session;
    int rc, code;

    if (size < 1 || (p = malloc(size)) == NULL)
        return 0;
    memcpy(p, data, size);
    if (p[0] & 1)
        fix_crcs(p + 1, size - 1);
    memset(&s, 0, sizeof(s));
    off = 1;
    while ((rc = gw_native_frame_decode((const char *)p + off, size - off, &lim, &f, &used, &code,
                                        err)) == 1) {
        if (used < GW_NATIVE_HDR_LEN || used > size - off)
            abort();
        if (f.type == GW_NATIVE_BATCH)
            read_batch(&f, &lim, &s);
        else if (f.type == GW_NATIVE_HELLO)
            gw_native_hello_decode(&f, &session, &name, err);
        else if (f.type == GW_NATIVE_WELCOME)
            gw_native_welcome_decode(&f, &got, err);
        off += used;
    }
    if (rc < 0 && (code < 1 || code > 9 || err[0] == '\0'))
        abort();
    gw_native_scratch_free(&s);
    free(p);
    return 0;
}
