/*
 * utf8.c -- tests for lib/utf8.c: boundary code points, every kind of invalid sequence,
 * pieces split inside characters, fail-fast offsets, truncation at a boundary, and a
 * comparison with a code-point decoder over every 1-2 byte input and many 3-4 byte ones.
 */
#include "utf8.h"

#include <stdio.h>
#include <string.h>

#include "../tap.h"

static int
valid_str(const char *s)
{
    return gw_utf8_valid(s, strlen(s));
}

static void
test_valid(void)
{
    ok(gw_utf8_valid("", 0), "empty text is valid");
    ok(valid_str("hello, world"), "ASCII is valid");
    ok(valid_str("\x7f"), "U+007F is valid");
    ok(valid_str("\xc2\x80"), "U+0080 (first two-byte) is valid");
    ok(valid_str("\xdf\xbf"), "U+07FF (last two-byte) is valid");
    ok(valid_str("\xe0\xa0\x80"), "U+0800 (first three-byte) is valid");
    ok(valid_str("\xed\x9f\xbf"), "U+D7FF (before the surrogates) is valid");
    ok(valid_str("\xee\x80\x80"), "U+E000 (after the surrogates) is valid");
    ok(valid_str("\xef\xbf\xbf"), "U+FFFF is valid");
    ok(valid_str("\xf0\x90\x80\x80"), "U+10000 (first four-byte) is valid");
    ok(valid_str("\xf4\x8f\xbf\xbf"), "U+10FFFF (last code point) is valid");
    ok(valid_str("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), "Greek kosme is valid");
    ok(gw_utf8_valid("a\0b", 3), "NUL is a valid character");
}

static void
test_invalid(void)
{
    ok(!valid_str("\x80"), "a lone continuation byte is invalid");
    ok(!valid_str("\xbf"), "a lone 0xbf is invalid");
    ok(!valid_str("\xc0\x80"), "overlong NUL (C0 80) is invalid");
    ok(!valid_str("\xc1\xbf"), "overlong two-byte (C1 BF) is invalid");
    ok(!valid_str("\xe0\x80\x80"), "overlong three-byte (E0 80 80) is invalid");
    ok(!valid_str("\xe0\x9f\xbf"), "overlong U+07FF in three bytes is invalid");
    ok(!valid_str("\xed\xa0\x80"), "surrogate U+D800 is invalid");
    ok(!valid_str("\xed\xbf\xbf"), "surrogate U+DFFF is invalid");
    ok(!valid_str("\xf0\x80\x80\x80"), "overlong four-byte (F0 80 80 80) is invalid");
    ok(!valid_str("\xf0\x8f\xbf\xbf"), "overlong U+FFFF in four bytes is invalid");
    ok(!valid_str("\xf4\x90\x80\x80"), "U+110000 is invalid");
    ok(!valid_str("\xf5\x80\x80\x80"), "lead byte F5 is invalid");
    ok(!valid_str("\xfe"), "byte FE is invalid");
    ok(!valid_str("\xff"), "byte FF is invalid");
    ok(!valid_str("\xc2"), "a text ending inside a character is invalid");
    ok(!valid_str("\xe2\x82"), "a truncated three-byte character is invalid");
    ok(!valid_str("\xc2\x41"), "a lead byte followed by ASCII is invalid");
    ok(!valid_str("\xe2\x28\xa1"), "a bad second byte of three is invalid");
}

static void
test_pieces(void)
{
    const char *kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
    const char *bad_text = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
                           "edited";
    struct gw_utf8 u;
    size_t i, at = 99;
    int rc = 0;

    gw_utf8_init(&u);
    for (i = 0; i < strlen(kosme); i++)
        rc |= gw_utf8_feed(&u, kosme + i, 1, NULL);
    ok(rc == 0 && gw_utf8_complete(&u), "byte-at-a-time feeding accepts kosme");

    gw_utf8_init(&u);
    is(gw_utf8_feed(&u, "\xf0\x9f", 2, NULL), 0, "a piece ending inside a character is fine");
    ok(!gw_utf8_complete(&u), "... but the text is not complete");
    is(gw_utf8_feed(&u, "\x98\x80", 2, NULL), 0, "the next piece completes it");
    ok(gw_utf8_complete(&u), "... and the text is complete");

    gw_utf8_init(&u);
    is(gw_utf8_feed(&u, bad_text, strlen(bad_text), &at), -1, "a surrogate in the middle fails");
    is(at, 12, "the failure is reported at the first impossible byte (A0 after ED)");
    is(gw_utf8_feed(&u, "a", 1, &at), -1, "a rejected state stays rejected");
    is(at, 0, "later pieces report offset 0");

    gw_utf8_init(&u);
    is(gw_utf8_feed(&u, "0123456789abcdef\xc0", 17, &at), -1,
       "the ASCII fast path still stops at a bad byte");
    is(at, 16, "fast path: offset of the bad byte");
    gw_utf8_init(&u);
    is(gw_utf8_feed(&u,
                    "01234567\xe2\x82\xac"
                    "89abcdefgh",
                    21, NULL),
       0, "the fast path resumes after a character");
    ok(gw_utf8_complete(&u), "fast path: complete");
}

static void
test_truncate(void)
{
    const char *s = "a\xc3\xa9z"; /* a é z */
    const char *e = "\xf0\x9f\x98\x80";

    is(gw_utf8_truncate(s, 4, 10), 4, "a short text is kept whole");
    is(gw_utf8_truncate(s, 4, 2), 1, "a cut inside é backs off before it");
    is(gw_utf8_truncate(s, 4, 3), 3, "a cut after é keeps it");
    is(gw_utf8_truncate(e, 4, 3), 0, "a cut inside a four-byte character keeps nothing of it");
    is(gw_utf8_truncate("abc", 3, 0), 0, "a zero limit keeps nothing");
}

/* Reference: decode to code points and check ranges. */
static int
ref_valid(const unsigned char *s, size_t n)
{
    size_t i = 0, k, need;
    unsigned long cp, min;

    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            need = 1, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
            need = 2, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
            need = 3, cp = c & 0x07, min = 0x10000;
        else
            return 0;
        if (i + need >= n)
            return 0;
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}

static void
test_exhaustive(void)
{
    static const unsigned char probes[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                           0xa0, 0xbf, 0xc0, 0xc2, 0xe0, 0xf0, 0xff};
    unsigned char b[4];
    unsigned long x, mismatches = 0;
    size_t t, u;

    /* Every 1- and 2-byte input. */
    for (x = 0; x < 256 + 65536; x++) {
        size_t n = x < 256 ? 1 : 2;
        b[0] = (unsigned char)x;
        b[1] = (unsigned char)(x >> 8);
        if (gw_utf8_valid(b, n) != ref_valid(b, n))
            mismatches++;
    }
    /* Every lead and second byte, with probe bytes after: 3 and 4 bytes. */
    for (x = 0; x < 65536; x++) {
        b[0] = (unsigned char)(x >> 8);
        b[1] = (unsigned char)x;
        for (t = 0; t < sizeof(probes); t++) {
            b[2] = probes[t];
            if (gw_utf8_valid(b, 3) != ref_valid(b, 3))
                mismatches++;
            if (b[0] < 0xf0)
                continue;
            for (u = 0; u < sizeof(probes); u++) {
                b[3] = probes[u];
                if (gw_utf8_valid(b, 4) != ref_valid(b, 4))
                    mismatches++;
            }
        }
    }
    is(mismatches, 0,
       "agrees with a code-point decoder on all 1-2 byte inputs and 3-4 byte probes");
}

int
main(void)
{
    test_valid();
    test_invalid();
    test_pieces();
    test_truncate();
    test_exhaustive();
    return done_testing();
}
