/*
 * backoff.h -- reconnect delays: exponential with full jitter (each delay is uniform in
 * [0, min(max, base * 2^attempt)]), so many clients that lost the same peer do not come back
 * in step (the "full jitter" of AWS's backoff study).
 *
 * A struct gw_backoff is the caller's (embed it); not thread-safe.
 */
#ifndef GW_BACKOFF_H
#define GW_BACKOFF_H

#include <stdint.h>

struct gw_backoff {
    uint64_t base_ms, max_ms;
    unsigned attempt; /* delays given since the last reset */
    uint64_t rng;     /* xorshift state */
};

/* base_ms > 0, max_ms >= base_ms; seed 0 takes one from the clock and b's address. */
void gw_backoff_init(struct gw_backoff *b, uint64_t base_ms, uint64_t max_ms, uint64_t seed);

/* The next delay in ms, uniform in [0, min(max_ms, base_ms << attempt)]; counts the attempt. */
uint64_t gw_backoff_next(struct gw_backoff *b);

/* The upper bound the next delay will have. */
uint64_t gw_backoff_cap(const struct gw_backoff *b);

/* Back to the first attempt (after a success). */
void gw_backoff_reset(struct gw_backoff *b);

#endif
