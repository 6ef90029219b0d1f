/*
 * fdlimit.h -- the open-files limit: raised to what the system allows at start, as nginx and
 * Redis do, so a daemon with many connections does not fail its accepts with EMFILE while the
 * hard limit would have allowed more.
 */
#ifndef GW_FDLIMIT_H
#define GW_FDLIMIT_H

#include <stdint.h>

struct gw_fdlimit {
    uint64_t before; /* the soft limit found */
    uint64_t soft;   /* the soft limit now */
    uint64_t hard;
};

/* Raises the soft RLIMIT_NOFILE to the hard limit. Returns 0 with l filled, or -1 with err
 * (l->soft is then the unchanged limit). Call it early in main, before threads. */
int gw_fdlimit_raise(struct gw_fdlimit *l, char *err);

/* 1 when conns connections plus own other descriptors do not fit in the soft limit. */
int gw_fdlimit_short(const struct gw_fdlimit *l, uint64_t conns, uint64_t own);

#endif
