/*
 * line.c -- libFuzzer target for gw_line_split, fed the way lib/conn feeds a protocol: the
 * input arrives in chunks, the unconsumed rest is kept (at most GW_LINE_MAX_IN bytes) and
 * offered again in front of the next chunk.
 *
 * Input: byte 0 picks max_line (1..64), byte 1 the chunk sizes, the rest is the stream.
 * Checks: the lines seen, and where a line too long stops them, are the same whether the
 * stream comes whole or in chunks; the rest left at GW_LINE_MORE never passes max_line + 1;
 * lines never hold a '\n' nor pass max_line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
    char buf[16384];
    size_t n;
    size_t max_line;
};

static int
take(void *arg, char *line, size_t len, int crlf)
{
    struct out *o = arg;

    if (len > o->max_line || memchr(line, '\n', len))
        abort();
    if (o->n + len + 2 < sizeof(o->buf)) {
        memcpy(o->buf + o->n, line, len);
        o->n += len;
        o->buf[o->n++] = crlf ? '\r' : '|';
    }
    return 0;
}

/* One-shot: the whole stream at once. Returns the status that ended it. */
static enum gw_line_status
whole(const uint8_t *s, size_t n, struct out *o)
{
    enum gw_line_status st;
    char *copy = malloc(n + 1);

    memcpy(copy, s, n);
    gw_line_split(copy, n, o->max_line, take, o, &st);
    free(copy);
    return st;
}

static enum gw_line_status
chunked(const uint8_t *s, size_t n, unsigned seed, struct out *o)
{
    size_t max_in = GW_LINE_MAX_IN(o->max_line), kept = 0, pos = 0;
    char *buf = malloc(max_in + n + 1);
    enum gw_line_status st = GW_LINE_MORE;

    while (pos < n) {
        size_t step = 1 + (seed % 7) * (seed % 3 + 1);
        seed = seed * 1103515245u + 12345u;
        if (step > n - pos)
            step = n - pos;
        memcpy(buf + kept, s + pos, step);
        pos += step;
        size_t have = kept + step, used = gw_line_split(buf, have, o->max_line, take, o, &st);
        if (st != GW_LINE_MORE)
            break;
        kept = have - used;
        if (kept > o->max_line + 1)
            abort();
        memmove(buf, buf + used, kept);
    }
    free(buf);
    return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct out a, b;

    if (size < 2)
        return 0;
    a.n = b.n = 0;
    a.max_line = b.max_line = 1 + data[0] % 64;
    enum gw_line_status sa = whole(data + 2, size - 2, &a);
    enum gw_line_status sb = chunked(data + 2, size - 2, data[1], &b);
    /* Chunks can only report "too long" as early as the whole stream does: the same lines. */
    if (a.n != b.n || memcmp(a.buf, b.buf, a.n) != 0 || sa != sb)
        abort();
    return 0;
}
