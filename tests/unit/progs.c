/*
 * progs.c -- tests for lib/progs.c: the program list, lookups, and the config sections it
 * gives lib/conf.
 */
#include "progs.h"

#include <string.h>

#include "../tap.h"

int
main(void)
{
    const char *s[16], *few[2];
    size_t n, daemons = 0;

    for (const struct gw_prog *p = gw_progs; p->name; p++) {
        ok(p->doc && p->doc[0], "%s has a doc line", p->name);
        ok(gw_prog_find(p->name) == p, "%s is found by name", p->name);
        daemons += (p->flags & GW_PROG_DAEMON) != 0;
    }
    is(daemons, 3, "three daemons: hbd, wsgwd, logd");
    ok(gw_prog_find("gwctl") && !(gw_prog_find("gwctl")->flags & GW_PROG_DAEMON),
       "gwctl is a program, not a daemon");
    ok(gw_prog_find("nope") == NULL, "an unknown name is not found");
    n = gw_prog_sections(s, 16);
    is(n, 6, "six sections a gwkit.conf may hold");
    ok(n == 6 && strcmp(s[0], "global") == 0 && strcmp(s[1], "hbd") == 0 &&
           strcmp(s[2], "wsgwd") == 0 && strcmp(s[3], "logd") == 0 &&
           strcmp(s[4], "backend") == 0 && strcmp(s[5], "sink") == 0,
       "global, the daemons', then the named ones they own");
    is(gw_prog_sections(few, 2), 6, "the count goes past max");
    is_str(few[1], "hbd", "the first max are stored");
    return done_testing();
}
