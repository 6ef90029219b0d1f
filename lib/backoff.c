/*
 * backoff.c -- exponential backoff with full jitter.
 */
#include "backoff.h"

#include "util.h"

void
gw_backoff_init(struct gw_backoff *b, uint64_t base_ms, uint64_t max_ms, uint64_t seed)
{
    b->base_ms = base_ms ? base_ms : 1;
    b->max_ms = max_ms < b->base_ms ? b->base_ms : max_ms;
    b->attempt = 0;
    if (!seed)
        seed = gw_mono_ns() ^ ((uint64_t)(uintptr_t)b << 17);
    b->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t
gw_backoff_cap(const struct gw_backoff *b)
{
    /* Doubling stops at max: past 63 shifts, or once base << n passes max. */
    if (b->attempt >= 63 || b->base_ms > (b->max_ms >> b->attempt))
        return b->max_ms;
    return b->base_ms << b->attempt;
}

uint64_t
gw_backoff_next(struct gw_backoff *b)
{
    uint64_t cap = gw_backoff_cap(b), x = b->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b->rng = x;
    if (b->attempt < 64)
        b->attempt++;
    return cap == UINT64_MAX ? x : x % (cap + 1);
}

void
gw_backoff_reset(struct gw_backoff *b)
{
    b->attempt = 0;
}
