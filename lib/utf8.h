/*
 * utf8.h -- incremental UTF-8 validation (RFC 3629): a byte-at-a-time state machine that can
 * be fed a text in pieces and fails on the first byte that cannot belong to valid UTF-8.
 *
 * Overlong forms, UTF-16 surrogates (U+D800..U+DFFF) and code points past U+10FFFF are
 * invalid. The state is one small integer, so it can live in every connection. Pure
 * functions: any thread, no allocation.
 */
#ifndef GW_UTF8_H
#define GW_UTF8_H

#include <stddef.h>
#include <stdint.h>

struct gw_utf8 {
    uint8_t state; /* 0 between characters; other values inside one, or rejected */
};

/* Starts a new text. */
static inline void
gw_utf8_init(struct gw_utf8 *u)
{
    u->state = 0;
}

/* Feeds n bytes. Returns 0 while everything seen can still be (the start of) valid UTF-8, or
 * -1 from the first invalid byte on; *bad (when not NULL) then gets the offset of that byte
 * in this piece. Once rejected, every later call returns -1 with *bad = 0. */
int gw_utf8_feed(struct gw_utf8 *u, const void *p, size_t n, size_t *bad);

/* 1 when the text fed so far ends on a character boundary (and was valid), else 0. An
 * incomplete sequence at the end of a piece is fine until the text ends. */
static inline int
gw_utf8_complete(const struct gw_utf8 *u)
{
    return u->state == 0;
}

/* 1 when the n bytes at p are, on their own, valid and complete UTF-8. */
int gw_utf8_valid(const void *p, size_t n);

/* Length of the longest prefix of the n bytes at p that is at most max bytes and does not end
 * inside a character (for truncating valid text, e.g. a close reason, at a boundary). */
size_t gw_utf8_truncate(const void *p, size_t n, size_t max);

#endif
