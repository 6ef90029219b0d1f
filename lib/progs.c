/*
 * progs.c -- the one list of gwkit's programs.
 */
#include "progs.h"

#include <string.h>

const struct gw_prog gw_progs[] = {
    {GW_PROG_HBD, GW_PROG_DAEMON, "the heartbeat server", NULL},
    {GW_PROG_WSGWD, GW_PROG_DAEMON, "the WebSocket gateway",
     (const char *const[]){"backend", NULL}},
    {GW_PROG_LOGD, GW_PROG_DAEMON, "the log collector", (const char *const[]){"sink", NULL}},
    {GW_PROG_GWCTL, 0, "the operator's command line", NULL},
    {GW_PROG_GWBENCH, 0, "the load generator", NULL},
    {NULL, 0, NULL, NULL},
};

const struct gw_prog *
gw_prog_find(const char *name)
{
    for (const struct gw_prog *p = gw_progs; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static size_t
add(const char **out, size_t max, size_t n, const char *name)
{
    if (n < max)
        out[n] = name;
    return n + 1;
}

size_t
gw_prog_sections(const char **out, size_t max)
{
    size_t n = add(out, max, 0, GW_PROG_GLOBAL_SECTION);

    for (const struct gw_prog *p = gw_progs; p->name; p++)
        if (p->flags & GW_PROG_DAEMON)
            n = add(out, max, n, p->name);
    for (const struct gw_prog *p = gw_progs; p->name; p++)
        for (const char *const *s = p->sections; s && *s; s++)
            n = add(out, max, n, *s);
    return n;
}
