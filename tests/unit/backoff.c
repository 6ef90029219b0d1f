/*
 * backoff.c -- unit tests for lib/backoff.c: delays within [0, min(max, base * 2^attempt)],
 * spread over that range (full jitter), capped at max, reset, and seeded runs repeat.
 */
#include "backoff.h"

#include "util.h"

#include "../tap.h"

int
main(void)
{
    struct gw_backoff b, c;
    uint64_t caps[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
    int in_bounds = 1, low = 0, high = 0, same = 1;

    gw_backoff_init(&b, 100, 5000, 42);
    for (unsigned i = 0; i < GW_ARRAY_LEN(caps); i++) {
        is(gw_backoff_cap(&b), caps[i], "attempt %u: cap %llu", i, (unsigned long long)caps[i]);
        if (gw_backoff_next(&b) > caps[i])
            in_bounds = 0;
    }
    ok(in_bounds, "each delay is within its cap");
    for (int i = 0; i < 60; i++)
        gw_backoff_next(&b);
    is(gw_backoff_cap(&b), 5000, "after many attempts the cap stays at max");

    /* Full jitter: over many draws at one cap, delays fall in both the low and high tenth. */
    for (int i = 0; i < 2000; i++) {
        gw_backoff_reset(&b);
        for (int k = 0; k < 6; k++)
            gw_backoff_next(&b);
        uint64_t d = gw_backoff_next(&b);
        if (d > 5000)
            in_bounds = 0;
        low += d < 500;
        high += d > 4500;
    }
    ok(in_bounds, "2000 draws at the max cap: all within [0, 5000]");
    ok(low > 100 && high > 100, "jitter spreads delays over the whole range (%d low, %d high)", low,
       high);

    gw_backoff_reset(&b);
    is(gw_backoff_cap(&b), 100, "reset: back to base");

    gw_backoff_init(&b, 10, 1000, 7);
    gw_backoff_init(&c, 10, 1000, 7);
    for (int i = 0; i < 20; i++)
        if (gw_backoff_next(&b) != gw_backoff_next(&c))
            same = 0;
    ok(same, "the same seed gives the same delays");
    gw_backoff_init(&b, 10, 1000, 0);
    gw_backoff_init(&c, 10, 1000, 0);
    same = 1;
    for (int i = 0; i < 20; i++)
        if (gw_backoff_next(&b) != gw_backoff_next(&c))
            same = 0;
    ok(!same, "seed 0: two backoffs do not move in step");
    gw_backoff_init(&b, 0, 0, 1);
    ok(gw_backoff_cap(&b) == 1 && gw_backoff_next(&b) <= 1, "base 0 and max 0 are made sane");
    return done_testing();
}
