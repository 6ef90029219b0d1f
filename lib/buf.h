/*
 * buf.h -- bounded, growable byte buffer for connection input and output.
 *
 * The struct is public so connections can embed it; touch it only through these functions.
 * Storage is allocated lazily and released by gw_buf_reset(), so an idle connection costs no
 * buffer memory. Every growth is checked against max_bytes: a peer can never make a buffer
 * exceed it. Not thread-safe: a buffer belongs to one thread.
 */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stddef.h>
#include <sys/types.h>

struct gw_buf {
    char *data;       /* storage, NULL until first use */
    size_t off;       /* start of unconsumed bytes */
    size_t len;       /* unconsumed bytes, starting at data + off */
    size_t cap;       /* allocated bytes */
    size_t max_bytes; /* hard limit on len */
};

/* Prepares an empty buffer that will never hold more than max_bytes. Allocates nothing. */
void gw_buf_init(struct gw_buf *b, size_t max_bytes);

/* Frees the storage; the buffer stays usable (empty, same limit). */
void gw_buf_reset(struct gw_buf *b);

/* Unconsumed bytes; "" (never NULL) before the first allocation, so callers may pass it on
 * with a length of 0. */
static inline const char *
gw_buf_data(const struct gw_buf *b)
{
    return b->data ? b->data + b->off : "";
}

static inline size_t
gw_buf_len(const struct gw_buf *b)
{
    return b->len;
}

/* Bytes allocated (0 before the first allocation and after a reset). */
static inline size_t
gw_buf_cap(const struct gw_buf *b)
{
    return b->cap;
}

/* Room left before the hard limit. */
static inline size_t
gw_buf_room(const struct gw_buf *b)
{
    return b->max_bytes - b->len;
}

/* Makes at least n contiguous writable bytes available after the data and returns a pointer
 * to them, or NULL if len + n would pass max_bytes or memory ran out. Follow with
 * gw_buf_commit(). */
char *gw_buf_reserve(struct gw_buf *b, size_t n);

/* Marks n bytes written into the space returned by gw_buf_reserve() as data. */
void gw_buf_commit(struct gw_buf *b, size_t n);

/* Appends n bytes. Returns 0, or -1 (nothing appended) if the limit would be passed. */
int gw_buf_append(struct gw_buf *b, const void *p, size_t n);

/* Appends formatted text. Returns 0, or -1 (nothing appended) past the limit. */
int gw_buf_printf(struct gw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drops n bytes (at most len) from the front. Storage is released when the buffer empties
 * and it had grown past 16 KiB, so a burst does not pin memory. */
void gw_buf_consume(struct gw_buf *b, size_t n);

/* Length of the first line including its '\n', or 0 when no complete line is buffered. */
size_t gw_buf_line_len(const struct gw_buf *b);

/* Reads from fd once, at most the room left (and at most max_read). Returns what read(2)
 * returned; returns -2 with nothing read when the buffer is already full. */
ssize_t gw_buf_read_fd(struct gw_buf *b, int fd, size_t max_read);

/* Writes as much as the socket takes and consumes it. Returns bytes written, or -1 with errno
 * (EAGAIN when the socket is full). */
ssize_t gw_buf_write_fd(struct gw_buf *b, int fd);

#endif
