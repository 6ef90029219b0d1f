/*
 * crc32c.c -- tests for lib/crc32c.c: the standard check value, known vectors, chaining, and
 * the hardware and table paths agreeing on every length and alignment.
 */
#include "crc32c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"

static void
test_vectors(void)
{
    unsigned char zeros[32], ones[32], inc[32];

    is(gw_crc32c(0, "123456789", 9), 0xE3069283u, "check value crc32c(\"123456789\")");
    is(gw_crc32c_sw(0, "123456789", 9), 0xE3069283u, "table path: check value");
    is(gw_crc32c(0, "", 0), 0, "empty input gives 0");
    is(gw_crc32c(0, NULL, 0), 0, "no input at all gives 0");
    /* RFC 3720 (iSCSI) appendix B.4 vectors. */
    memset(zeros, 0, sizeof(zeros));
    memset(ones, 0xff, sizeof(ones));
    for (int i = 0; i < 32; i++)
        inc[i] = (unsigned char)i;
    is(gw_crc32c(0, zeros, 32), 0x8A9136AAu, "RFC 3720: 32 zero bytes");
    is(gw_crc32c(0, ones, 32), 0x62A8AB43u, "RFC 3720: 32 0xff bytes");
    is(gw_crc32c(0, inc, 32), 0x46DD794Eu, "RFC 3720: 32 incrementing bytes");
    is(gw_crc32c_sw(0, inc, 32), 0x46DD794Eu, "table path: RFC 3720 incrementing bytes");
}

static void
test_chaining(void)
{
    const char *s = "The quick brown fox jumps over the lazy dog";
    size_t n = strlen(s);
    uint32_t whole = gw_crc32c(0, s, n);
    int all = 1;

    for (size_t cut = 0; cut <= n; cut++)
        if (gw_crc32c(gw_crc32c(0, s, cut), s + cut, n - cut) != whole)
            all = 0;
    ok(all, "a CRC extended piece by piece equals the CRC of the whole, at every cut");
}

static void
test_paths_agree(void)
{
    unsigned char *buf = malloc(4096 + 16);
    int all = 1;

    for (int i = 0; i < 4096 + 16; i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    for (size_t off = 0; off < 16; off++)
        for (size_t len = 0; len < 300; len += (len < 40 ? 1 : 37))
            if (gw_crc32c(0, buf + off, len) != gw_crc32c_sw(0, buf + off, len))
                all = 0;
    if (gw_crc32c(0, buf, 4096) != gw_crc32c_sw(0, buf, 4096))
        all = 0;
    ok(all, "dispatched and table paths agree for every alignment and many lengths");
    diag("crc32c uses %s", gw_crc32c_hw() ? "the SSE4.2 instruction" : "the table");
    free(buf);
}

int
main(void)
{
    test_vectors();
    test_chaining();
    test_paths_agree();
    return done_testing();
}
