/*
 * syslog3164.c -- libFuzzer target for the lenient RFC 3164 parser and the format-choosing
 * gw_syslog_parse(): whatever the bytes, nothing is lost and every slice stays in the line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "syslog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
inside(struct gw_slice s, const char *p, size_t n)
{
    if (s.len && (s.ptr < p || s.ptr + s.len > p + n))
        abort();
}

static void
check(const struct gw_logrec *r, const char *p, size_t n)
{
    inside(r->host, p, n);
    inside(r->app, p, n);
    inside(r->procid, p, n);
    inside(r->msgid, p, n);
    inside(r->sd, p, n);
    inside(r->msg, p, n);
    inside(r->line, p, n);
    if (r->host.len > 255 || r->app.len > 48 || r->procid.len > 128 || r->severity > 7 ||
        r->facility > 23 || r->severity < -1 || r->facility < -1)
        abort();
    /* Nothing dropped: the message runs to the end of the (trimmed) line. */
    if (r->msg.len && r->msg.ptr + r->msg.len != r->line.ptr + r->line.len)
        abort();
    if ((r->flags & GW_LOGREC_UNPARSED) && r->msg.len != r->line.len)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[GW_ERR_LEN], *copy;
    struct gw_logrec r;
    int offset;

    if (size < 1)
        return 0;
    if ((copy = malloc(size)) == NULL)
        return 0;
    memcpy(copy, data, size);
    /* The first byte picks a receive time across years and a zone offset. */
    memset(&r, 0, sizeof(r));
    r.recv_ns = ((int64_t)data[0] * 86400 * 29 + 946684800) * 1000000000LL;
    offset = ((int)(data[0] % 27) - 13) * 3600;
    if (gw_syslog_parse_3164(&r, copy + 1, size - 1, offset, err) == 0)
        check(&r, copy + 1, size - 1);
    if (gw_syslog_parse(&r, copy + 1, size - 1, offset, err) < 0 && !(r.flags & GW_LOGREC_UNPARSED))
        abort();
    check(&r, copy + 1, size - 1);
    free(copy);
    return 0;
}
