/*
 * buf.c -- bounded, growable byte buffer.
 */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Storage kept after a buffer drains; beyond it, memory goes back to the allocator. */
#define KEEP_BYTES (16 * 1024)
#define MIN_ALLOC 512

void
gw_buf_init(struct gw_buf *b, size_t max_bytes)
{
    b->data = NULL;
    b->off = b->len = b->cap = 0;
    b->max_bytes = max_bytes;
}

void
gw_buf_reset(struct gw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

char *
gw_buf_reserve(struct gw_buf *b, size_t n)
{
    size_t need, ncap;
    char *p;

    if (n > b->max_bytes - b->len)
        return NULL;
    if (b->off + b->len + n <= b->cap)
        return b->data + b->off + b->len;
    need = b->len + n;
    if (b->off && need <= b->cap) {
        /* Sliding the data down is cheaper than growing. */
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        return b->data + b->len;
    }
    ncap = b->cap ? b->cap : MIN_ALLOC;
    while (ncap < need)
        ncap *= 2;
    if (ncap > b->max_bytes && need <= b->max_bytes)
        ncap = b->max_bytes;
    if (b->off) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
    }
    if ((p = realloc(b->data, ncap)) == NULL)
        return NULL;
    b->data = p;
    b->cap = ncap;
    return b->data + b->len;
}

void
gw_buf_commit(struct gw_buf *b, size_t n)
{
    b->len += n;
}

int
gw_buf_append(struct gw_buf *b, const void *p, size_t n)
{
    char *dst;

    if (n == 0)
        return 0;
    if ((dst = gw_buf_reserve(b, n)) == NULL)
        return -1;
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

int
gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256], *dst;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof(small))
        return gw_buf_append(b, small, (size_t)n);
    if ((size_t)n > gw_buf_room(b))
        return -1;
    /* vsnprintf writes a NUL after the text: format in place when there is room for it, else
     * (the text fills the buffer to its limit) through a copy. */
    if ((size_t)n < gw_buf_room(b)) {
        if ((dst = gw_buf_reserve(b, (size_t)n + 1)) == NULL)
            return -1;
        va_start(ap, fmt);
        vsnprintf(dst, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
        return 0;
    }
    if ((dst = malloc((size_t)n + 1)) == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    n = gw_buf_append(b, dst, (size_t)n);
    free(dst);
    return n;
}

void
gw_buf_consume(struct gw_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        b->off = 0;
        if (b->cap > KEEP_BYTES)
            gw_buf_reset(b);
        return;
    }
    b->off += n;
    b->len -= n;
}

size_t
gw_buf_line_len(const struct gw_buf *b)
{
    const char *nl;

    if (b->len == 0)
        return 0;
    nl = memchr(b->data + b->off, '\n', b->len);
    return nl ? (size_t)(nl - (b->data + b->off)) + 1 : 0;
}

ssize_t
gw_buf_read_fd(struct gw_buf *b, int fd, size_t max_read)
{
    size_t want = gw_buf_room(b);
    char *dst;
    ssize_t n;

    if (want == 0)
        return -2;
    if (want > max_read)
        want = max_read;
    if ((dst = gw_buf_reserve(b, want)) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    n = read(fd, dst, want);
    if (n > 0)
        b->len += (size_t)n;
    return n;
}

ssize_t
gw_buf_write_fd(struct gw_buf *b, int fd)
{
    size_t total = 0;
    ssize_t n;

    while (b->len) {
        n = write(fd, b->data + b->off, b->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (total)
                break;
            return -1;
        }
        total += (size_t)n;
        gw_buf_consume(b, (size_t)n);
    }
    return (ssize_t)total;
}
