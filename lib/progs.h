/*
 * progs.h -- gwkit's programs, listed once: name, what each is, and the config sections each
 * owns. lib/conf.c takes the sections a gwkit.conf may hold from here, gwctl the daemons it
 * knows; each program names itself with its GW_PROG_* constant.
 */
#ifndef GW_PROGS_H
#define GW_PROGS_H

#include <stddef.h>

#define GW_PROG_HBD "hbd"
#define GW_PROG_WSGWD "wsgwd"
#define GW_PROG_LOGD "logd"
#define GW_PROG_GWCTL "gwctl"
#define GW_PROG_GWBENCH "gwbench"

/* The section every program reads. */
#define GW_PROG_GLOBAL_SECTION "global"

/* A daemon: runs in the foreground under systemd, reads the [<name>] section, answers on
 * <run_dir>/<name>.sock. */
#define GW_PROG_DAEMON 0x1u

struct gw_prog {
    const char *name;
    unsigned flags;              /* GW_PROG_DAEMON */
    const char *doc;             /* one line */
    const char *const *sections; /* named sections it owns besides [<name>], NULL-terminated;
                                    NULL: none */
};

/* Every program, daemons first; the entry after the last has a NULL name. */
extern const struct gw_prog gw_progs[];

/* The program called name, or NULL. */
const struct gw_prog *gw_prog_find(const char *name);

/* Every section a gwkit.conf may hold ("global", each daemon's, the named ones daemons own),
 * in that order: stores up to max of them in out and returns how many there are. */
size_t gw_prog_sections(const char **out, size_t max);

#endif
