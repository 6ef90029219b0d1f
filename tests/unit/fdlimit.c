/*
 * fdlimit.c -- unit tests for lib/fdlimit.c: the soft open-files limit is raised to the hard
 * one, and "does it fit" counts connections plus the process's own descriptors.
 */
#include "fdlimit.h"

#include <sys/resource.h>

#include "util.h"
#include "../tap.h"

int
main(void)
{
    struct gw_fdlimit l;
    struct rlimit r;
    char err[GW_ERR_LEN];

    getrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur > 64) {
        r.rlim_cur = 64;
        setrlimit(RLIMIT_NOFILE, &r);
    }
    is(gw_fdlimit_raise(&l, err), 0, "raise succeeds");
    ok(l.before <= 64, "the limit found is reported (%llu)", (unsigned long long)l.before);
    ok(l.soft == l.hard, "the soft limit is now the hard one (%llu)", (unsigned long long)l.soft);
    getrlimit(RLIMIT_NOFILE, &r);
    ok((uint64_t)r.rlim_cur == l.soft, "and in effect");
    struct gw_fdlimit small = {.before = 100, .soft = 100, .hard = 100};
    is(gw_fdlimit_short(&small, 90, 10), 0, "90 connections + 10 own fit in 100");
    is(gw_fdlimit_short(&small, 91, 10), 1, "91 + 10 do not");
    return done_testing();
}
