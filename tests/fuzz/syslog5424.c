/*
 * syslog5424.c -- libFuzzer target for the strict RFC 5424 parser, the SD walk and escaping.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "syslog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A slice must lie inside the input. */
static void
inside(struct gw_slice s, const char *p, size_t n)
{
    if (s.len && (s.ptr < p || s.ptr + s.len > p + n))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p;
    char err[GW_ERR_LEN], *copy;
    struct gw_slice id, name, value;
    struct gw_sd_iter it;
    struct gw_logrec r;
    struct gw_buf b;
    int steps = 0;

    /* An exact-size heap copy, so ASan sees any read past the end. */
    if ((copy = malloc(size ? size : 1)) == NULL)
        return 0;
    if (size)
        memcpy(copy, data, size);
    p = copy;
    memset(&r, 0, sizeof(r));
    if (gw_syslog_parse_5424(&r, p, size, err) == 0) {
        inside(r.host, p, size);
        inside(r.app, p, size);
        inside(r.procid, p, size);
        inside(r.msgid, p, size);
        inside(r.sd, p, size);
        inside(r.msg, p, size);
        if (r.host.len > 255 || r.app.len > 48 || r.procid.len > 128 || r.msgid.len > 32 ||
            r.severity < 0 || r.severity > 7 || r.facility < 0 || r.facility > 23)
            abort();
        gw_buf_init(&b, 1 << 20);
        gw_syslog_sd_begin(&it, r.sd);
        while (gw_syslog_sd_next(&it, &id, &name, &value) != 0) {
            inside(value, p, size);
            if (++steps > (int)size + 1 || gw_syslog_sd_unescape(&b, value) < 0)
                abort();
        }
        gw_buf_reset(&b);
    } else if (err[0] == '\0') {
        abort();
    }
    gw_buf_init(&b, 1 << 20);
    if (gw_syslog_escape(&b, p, size) == 0) {
        if (gw_syslog_needs_escape(gw_buf_data(&b), gw_buf_len(&b)) ||
            gw_buf_len(&b) != gw_syslog_escaped_len(p, size))
            abort();
    }
    gw_buf_reset(&b);
    free(copy);
    return 0;
}
