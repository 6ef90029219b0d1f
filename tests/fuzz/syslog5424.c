/*
 * syslog5424.c -- libFuzzer target for the strict RFC 5424 parser, the SD walk, escaping, and
 * the formatter: what parses, formats to a line that parses back to the same fields.
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

static int
same(struct gw_slice a, struct gw_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Format, parse again, compare. Escaped fields change on purpose; a second BOM would be
 * stripped by the second parse; both are left out of the comparison. */
static void
round_trip(const struct gw_logrec *r)
{
    struct gw_logrec back;
    struct gw_buf b;
    char err[GW_ERR_LEN];

    gw_buf_init(&b, 1 << 20);
    if (gw_syslog_format_5424(&b, r, NULL) < 0)
        abort();
    memset(&back, 0, sizeof(back));
    if (gw_syslog_parse_5424(&back, gw_buf_data(&b), gw_buf_len(&b), err) < 0)
        abort();
    if (back.time_ns != r->time_ns || back.severity != r->severity ||
        back.facility != r->facility || !same(back.host, r->host) || !same(back.app, r->app) ||
        !same(back.procid, r->procid) || !same(back.msgid, r->msgid))
        abort();
    if (!(r->flags & GW_LOGREC_ESCAPED) && !same(back.sd, r->sd))
        abort();
    if (!(r->flags & GW_LOGREC_ESCAPED) &&
        !(r->msg.len >= 3 && memcmp(r->msg.ptr, "\xEF\xBB\xBF", 3) == 0) && !same(back.msg, r->msg))
        abort();
    gw_buf_reset(&b);
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
        round_trip(&r);
    } else if (err[0] == '\0') {
        abort();
    }
    /* The word-at-a-time check agrees with the byte-wise escaper. */
    if (gw_syslog_needs_escape(p, size) != (gw_syslog_escaped_len(p, size) != size))
        abort();
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
