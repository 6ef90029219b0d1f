/*
 * line.c -- line framing (LF or CRLF, a maximum length) for text protocols.
 */
#include "line.h"

#include <string.h>

size_t
gw_line_split(char *data, size_t len, size_t max_line, gw_line_fn fn, void *arg,
              enum gw_line_status *status)
{
    char *p = data, *end = data + len, *nl;

    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        size_t n = (size_t)(nl - p);
        int crlf = n > 0 && p[n - 1] == '\r';
        if (crlf)
            n--;
        if (n > max_line) {
            *status = GW_LINE_TOO_LONG;
            return (size_t)(p - data);
        }
        if (fn(arg, p, n, crlf) == -1) {
            *status = GW_LINE_STOP;
            return (size_t)(nl + 1 - data);
        }
        p = nl + 1;
    }
    *status = (size_t)(end - p) > max_line + 1 ? GW_LINE_TOO_LONG : GW_LINE_MORE;
    return (size_t)(p - data);
}
