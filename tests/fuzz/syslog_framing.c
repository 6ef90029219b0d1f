/*
 * syslog_framing.c -- libFuzzer target for RFC 6587 framing: input fed in fuzzer-chosen
 * chunks through a buffer of max_line + slack bytes never stalls (a full buffer always
 * drains), frames stay within max_line and inside the input, and an error stops the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "syslog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
            gw_buf_consume(&b, used);
            if (rc == 0)
                break;
        }
    }
    if (rc >= 0 && gw_syslog_frame_eof(&f, gw_buf_data(&b), gw_buf_len(&b), &fr, err) == 1 &&
        fr.data.len > max_line)
        abort();
    if (f.truncated > f.frames)
        abort();
    gw_buf_reset(&b);
    return 0;
}
