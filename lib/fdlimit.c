/*
 * fdlimit.c -- raising RLIMIT_NOFILE at start.
 */
#include "fdlimit.h"

#include <sys/resource.h>

#include "util.h"

int
gw_fdlimit_raise(struct gw_fdlimit *l, char *err)
{
    struct rlimit r;

    l->before = l->soft = l->hard = 0;
    if (getrlimit(RLIMIT_NOFILE, &r) == -1)
        return gw_err_errno(err, "getrlimit");
    l->before = l->soft = r.rlim_cur;
    l->hard = r.rlim_max;
    if (r.rlim_cur == r.rlim_max)
        return 0;
    r.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r) == -1)
        return gw_err_errno(err, "setrlimit NOFILE %llu", (unsigned long long)r.rlim_max);
    l->soft = r.rlim_cur;
    return 0;
}

int
gw_fdlimit_short(const struct gw_fdlimit *l, uint64_t conns, uint64_t own)
{
    return l->soft != (uint64_t)RLIM_INFINITY && conns + own > l->soft;
}
