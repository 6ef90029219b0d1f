/*
 * page.h -- the stats page every daemon serves at `/` of its HTTP port, in the spirit of
 * HAProxy's: the program's own tables first (hbd: every service, coloured by state), then the
 * readiness checks and the rest of /status as compact tables.
 *
 * A program describes its tables (which array of /status, which columns, how each column is
 * formatted) and httpd renders them; the page carries the same description as JSON and a small
 * script that fetches /status and /readyz every few seconds and redraws in place, so the page
 * an operator leaves open stays live without reloading, and still reads with JavaScript off.
 * Values are always escaped (server side) or set as text (script side). No external assets.
 *
 * Pure functions of their arguments: any thread.
 */
#ifndef GW_PAGE_H
#define GW_PAGE_H

#include <jansson.h>

#include "buf.h"

/* How a column's value is shown. */
enum gw_page_fmt {
    GW_PAGE_TEXT,  /* as is */
    GW_PAGE_NUM,   /* 1,234,567 */
    GW_PAGE_BYTES, /* 1.2 MB (powers of 1000) */
    GW_PAGE_SECS,  /* a duration in seconds: 45 s, 3 m 12 s, 2 h 5 m, 3 d 4 h */
    GW_PAGE_MS,    /* a duration in ms: 850 ms, then as GW_PAGE_SECS */
    GW_PAGE_STATE, /* a state word, coloured; it also colours its row */
    GW_PAGE_KV,    /* an object of strings as k=v pairs; an array as a count */
};

struct gw_page_col {
    const char *key; /* member of each row object */
    const char *label;
    enum gw_page_fmt fmt;
};

/* One table: the rows are the array member `path` of /status (objects); when /status also has
 * a number `<path>_more`, the table says how many rows were left out. Columns end with a
 * {NULL} entry. */
struct gw_page_table {
    const char *title;
    const char *path;
    const struct gw_page_col *cols;
};

struct gw_page {
    const char *prog;
    const char *version;
    int has_metrics;
    const struct gw_page_table *tables; /* ends with a {NULL} entry; NULL: none */
    unsigned refresh_ms;                /* 0: 3000 */
};

/* Renders the whole page into b: checks is /readyz's "checks" object (or NULL), ready its
 * verdict, status /status's object (or NULL when unavailable). Returns 0, or -1 when b's limit
 * was reached. */
int gw_page_render(struct gw_buf *b, const struct gw_page *p, json_t *checks, int ready,
                   json_t *status);

/* The formatting the page uses, for tests and for programs' own text: writes v formatted as
 * fmt into out (NUL-terminated, truncated to len). */
void gw_page_format(json_t *v, enum gw_page_fmt fmt, char *out, size_t len);

/* The class a state word gets: "st-ok" (up, ok, closed, ready...), "st-warn" (late,
 * half_open, draining...), "st-bad" (dead, open, down, failed...), or "" for anything else. */
const char *gw_page_state_class(const char *state);

#endif
