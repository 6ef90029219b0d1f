/*
 * utf8.c -- incremental UTF-8 validation as a small explicit state machine.
 */
#include "utf8.h"

#include <string.h>

/*
 * States. Each multi-byte lead byte names how many continuation bytes follow and, for the
 * four leads whose second byte has a narrower range (RFC 3629 section 4), a state that checks
 * that range: E0 (no overlongs), ED (no surrogates), F0 (no overlongs), F4 (<= U+10FFFF).
 */
enum {
    S_ACCEPT = 0,
    S_CONT1,  /* one 80..BF byte left */
    S_CONT2,  /* two left */
    S_CONT3,  /* three left */
    S_E0,     /* A0..BF, then one */
    S_ED,     /* 80..9F, then one */
    S_F0,     /* 90..BF, then two */
    S_F4,     /* 80..8F, then two */
    S_REJECT, /* sticky */
};

static uint8_t
lead(uint8_t c)
{
    if (c < 0x80)
        return S_ACCEPT;
    if (c < 0xc2) /* stray continuation, or C0/C1: overlong two-byte forms */
        return S_REJECT;
    if (c < 0xe0)
        return S_CONT1;
    if (c == 0xe0)
        return S_E0;
    if (c == 0xed)
        return S_ED;
    if (c < 0xf0)
        return S_CONT2;
    if (c == 0xf0)
        return S_F0;
    if (c < 0xf4)
        return S_CONT3;
    if (c == 0xf4)
        return S_F4;
    return S_REJECT;
}

static uint8_t
step(uint8_t s, uint8_t c)
{
    switch (s) {
    case S_ACCEPT:
        return lead(c);
    case S_CONT1:
    case S_CONT2:
    case S_CONT3:
        return c >= 0x80 && c <= 0xbf ? (uint8_t)(s - 1) : S_REJECT;
    case S_E0:
        return c >= 0xa0 && c <= 0xbf ? S_CONT1 : S_REJECT;
    case S_ED:
        return c >= 0x80 && c <= 0x9f ? S_CONT1 : S_REJECT;
    case S_F0:
        return c >= 0x90 && c <= 0xbf ? S_CONT2 : S_REJECT;
    case S_F4:
        return c >= 0x80 && c <= 0x8f ? S_CONT2 : S_REJECT;
    default:
        return S_REJECT;
    }
}

int
gw_utf8_feed(struct gw_utf8 *u, const void *p, size_t n, size_t *bad)
{
    const uint8_t *s = p;
    uint8_t st = u->state;
    size_t i = 0;

    if (st == S_REJECT) {
        if (bad)
            *bad = 0;
        return -1;
    }
    while (i < n) {
        /* Most text is ASCII: skip it eight bytes at a time between characters. */
        if (st == S_ACCEPT && n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        st = step(st, s[i]);
        if (st == S_REJECT) {
            u->state = st;
            if (bad)
                *bad = i;
            return -1;
        }
        i++;
    }
    u->state = st;
    return 0;
}

int
gw_utf8_valid(const void *p, size_t n)
{
    struct gw_utf8 u;

    gw_utf8_init(&u);
    return gw_utf8_feed(&u, p, n, NULL) == 0 && gw_utf8_complete(&u);
}

size_t
gw_utf8_truncate(const void *p, size_t n, size_t max)
{
    const uint8_t *s = p;
    size_t k;

    if (n <= max)
        return n;
    /* Back off over continuation bytes so the cut lands before a lead (or ASCII) byte. */
    k = max;
    while (k > 0 && (s[k] & 0xc0) == 0x80)
        k--;
    return k;
}
