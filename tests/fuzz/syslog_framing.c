/*
 * syslog_framing.c -- libFuzzer target for RFC 6587 framing: input fed in fuzzer-chosen
 * chunks through a buffer of max_line + slack bytes never stalls (a full buffer always
 * drains), frames stay within max_line and inside the input, and an error stops the stream;
 * keeping an unfinished frame aside (gw_syslog_frame_need, as logd does) gives the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "syslog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FNV-1a over the frames (bytes, truncated flag, a separator): what both ways must agree on. */
static uint64_t
mix(uint64_t h, const struct gw_syslog_frame *fr)
{
    for (size_t i = 0; i < fr->data.len; i++)
        h = (h ^ (unsigned char)fr->data.ptr[i]) * 0x100000001b3ull;
    h = (h ^ (uint64_t)(fr->truncated ? 0x101 : 0x100)) * 0x100000001b3ull;
    return h;
}

/* The same stream the way logd reads it: every chunk consumed, an unfinished frame kept
 * aside and finished with gw_syslog_frame_need()'s bytes, the rest framed in place. The
 * kept bytes never pass max_line + slack. Returns the frames' hash; *rc the last answer. */
static uint64_t
kept_aside(const uint8_t *data, size_t size, size_t max_line, size_t chunk, int flags, int *rc)
{
    struct gw_syslog_framer f;
    struct gw_syslog_frame fr;
    char err[GW_ERR_LEN], *kept = malloc(max_line + GW_SYSLOG_FRAME_SLACK);
    size_t klen = 0, off = 2, used;
    uint64_t h = 0xcbf29ce484222325ull;

    gw_syslog_framer_init(&f, max_line, 100000, flags);
    *rc = 0;
    while (off < size && *rc >= 0) {
        const char *p = (const char *)data + off;
        size_t len = chunk < size - off ? chunk : size - off, at = 0;
        off += len;
        while (klen && at < len && *rc >= 0) {
            size_t need = gw_syslog_frame_need(&f, klen, p + at, len - at), k = 0;
            if (need == 0 || klen + need > max_line + GW_SYSLOG_FRAME_SLACK)
                abort();
            memcpy(kept + klen, p + at, need);
            klen += need;
            at += need;
            while ((*rc = gw_syslog_frame_next(&f, kept + k, klen - k, &fr, &used, err)) >= 0) {
                if (*rc == 1)
                    h = mix(h, &fr);
                k += used;
                if (*rc == 0)
                    break;
            }
            memmove(kept, kept + k, klen - k);
            klen -= k;
        }
        if (!klen && *rc >= 0) {
            while ((*rc = gw_syslog_frame_next(&f, p + at, len - at, &fr, &used, err)) >= 0) {
                if (*rc == 1)
                    h = mix(h, &fr);
                at += used;
                if (*rc == 0)
                    break;
            }
            if (*rc >= 0) {
                if (len - at > max_line + GW_SYSLOG_FRAME_SLACK)
                    abort();
                memcpy(kept, p + at, len - at);
                klen = len - at;
            }
        }
    }
    if (*rc >= 0 && gw_syslog_frame_eof(&f, kept, klen, &fr, err) == 1)
        h = mix(h, &fr);
    free(kept);
    return h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_syslog_framer f;
    struct gw_syslog_frame fr;
    char err[GW_ERR_LEN];
    struct gw_buf b;
    size_t max_line, chunk, off = 2, used;
    int rc = 0;

    if (size < 2)
        return 0;
    /* Byte 0: max_line and the NUL flag; byte 1: chunk size. */
    max_line = (size_t)(data[0] & 0x3f) + 1;
    chunk = (size_t)data[1] % 17 + 1;
    gw_syslog_framer_init(&f, max_line, 100000, data[0] & 0x40 ? GW_SYSLOG_FRAME_NUL : 0);
    gw_buf_init(&b, max_line + GW_SYSLOG_FRAME_SLACK);
    uint64_t h = 0xcbf29ce484222325ull;
    while (off < size && rc >= 0) {
        size_t k = chunk < size - off ? chunk : size - off;
        /* A connection reads only what fits; a full buffer the framer cannot drain would
         * stall the connection forever. */
        k = k < gw_buf_room(&b) ? k : gw_buf_room(&b);
        if (k == 0)
            abort();
        gw_buf_append(&b, data + off, k);
        off += k;
        while ((rc = gw_syslog_frame_next(&f, gw_buf_data(&b), gw_buf_len(&b), &fr, &used, err)) >=
               0) {
            if (used > gw_buf_len(&b))
                abort();
            if (rc == 1 && (fr.data.len > max_line || fr.data.ptr < gw_buf_data(&b) ||
                            fr.data.ptr + fr.data.len > gw_buf_data(&b) + used))
                abort();
            if (rc == 1)
                h = mix(h, &fr);
            gw_buf_consume(&b, used);
            if (rc == 0)
                break;
        }
    }
    if (rc >= 0 && gw_syslog_frame_eof(&f, gw_buf_data(&b), gw_buf_len(&b), &fr, err) == 1) {
        if (fr.data.len > max_line)
            abort();
        h = mix(h, &fr);
    }
    if (f.truncated > f.frames)
        abort();
    gw_buf_reset(&b);
    /* The input is a chunked stream: framing it with the unfinished frame kept aside gives
     * the same frames and the same error. */
    {
        int krc;
        uint64_t kh =
            kept_aside(data, size, max_line, chunk, data[0] & 0x40 ? GW_SYSLOG_FRAME_NUL : 0, &krc);
        if (kh != h || (krc < 0) != (rc < 0))
            abort();
    }
    return 0;
}
