/*
 * httpd.h -- the HTTP endpoints every daemon serves, on libmicrohttpd's own thread.
 *
 *   GET /metrics   Prometheus text from the registry
 *   GET /healthz   200 "ok" while the process runs
 *   GET /readyz    200 or 503 with {"ready":bool,"checks":{"name":{"ok":bool,"detail":"..."}}}
 *   GET /status    JSON from the status callback
 *   GET /          a small HTML page rendering /status (no external assets)
 *   extra routes   added with gw_httpd_route() (e.g. POST /ingest)
 *
 * Other paths get 404, other methods 405. Callbacks run on the HTTP thread, so they must be
 * thread-safe with respect to the daemon's own threads.
 */
#ifndef GW_HTTPD_H
#define GW_HTTPD_H

#include <stddef.h>

#include <jansson.h>

#include "metrics.h"
#include "net.h"

/* Returns a new JSON reference (or NULL on failure -> 500). */
typedef json_t *(*gw_httpd_json_fn)(void *arg);

/* Readiness check: returns 1 when ready, 0 when not, with a short detail either way. */
typedef int (*gw_httpd_check_fn)(void *arg, char *detail, size_t len);

struct gw_httpd_check {
    const char *name;
    gw_httpd_check_fn fn;
    void *arg;
};

struct gw_httpd_opts {
    const char *prog;                    /* page title, Server header */
    struct gw_metrics *metrics;          /* NULL: /metrics is 404 */
    gw_httpd_json_fn status;             /* NULL: /status is 404 */
    void *status_arg;
    const struct gw_httpd_check *checks; /* /readyz; copied */
    size_t nchecks;
};

/* A reply filled in by a route handler; body is malloc'd and freed by httpd. */
struct gw_httpd_reply {
    int status;
    const char *content_type;
    char *body;
    size_t body_len;
};

/* Handler for an extra route: gets the method, the query string (or ""), the request body
 * (at most max_body bytes; larger bodies get 413 before the handler runs). */
typedef void (*gw_httpd_route_fn)(const char *method, const char *query, const char *body,
                                  size_t body_len, struct gw_httpd_reply *reply, void *arg);

struct gw_httpd;

/* Starts serving on addr (port 0: an ephemeral port, see gw_httpd_port). NULL with err. */
struct gw_httpd *gw_httpd_start(const struct gw_addr *addr, const struct gw_httpd_opts *o,
                                char *err);

/* Adds a route before or after start. Returns 0 or -1. */
int gw_httpd_route(struct gw_httpd *h, const char *method, const char *path, size_t max_body,
                   gw_httpd_route_fn fn, void *arg);

/* The bound port. */
int gw_httpd_port(const struct gw_httpd *h);

/* Stops the thread, closes the listener, frees h. */
void gw_httpd_stop(struct gw_httpd *h);

#endif
