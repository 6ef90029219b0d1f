/*
 * httpd.h -- the HTTP endpoints every daemon serves, on libmicrohttpd's own thread.
 *
 *   GET /metrics   Prometheus text from the registry
 *                  (Content-Type: text/plain; version=0.0.4; charset=utf-8)
 *   GET /healthz   200 "ok\n" while the process runs
 *   GET /readyz    200 or 503 with {"ready":bool,"checks":{"name":{"ok":bool,"detail":"..."}}}
 *                  (every check runs on each request; ready when all pass)
 *   GET /status    JSON from the status callback
 *   GET /          the stats page (page.h): the program's tables, the checks and /status,
 *                  redrawn live by its script; no external assets
 *   extra routes   added with gw_httpd_route() (e.g. POST /ingest)
 *
 * Built-in paths answer GET and HEAD; other methods get 405 with an Allow header. Unknown
 * paths get 404. Every reply carries "Server: gwkit/<version>". Limits: connections in all and
 * per address, and a per-request deadline (gw_httpd_opts), request bodies only on
 * extra routes and at most their max_body.
 *
 * libmicrohttpd (0.9.75) deadlocks its own thread when connections handed to it reach its
 * connection limit, so httpd keeps its own count (up at hand-over, down when MHD reports the
 * connection closed) and never lets MHD's limit be reached: see gw_httpd_opts for the limits.
 *
 * Two threads, started by gw_httpd_start with every signal blocked: libmicrohttpd's, which runs
 * the requests, and httpd's own, which accepts connections and hands them over. When accept
 * fails for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), accepting pauses
 * for 100 ms while new connections wait in the listen backlog, so a daemon out of descriptors
 * does not spin, and resumes by itself once descriptors are free.
 * Callbacks run on the HTTP thread, so they must be thread-safe with respect to the daemon's
 * own threads.
 */
#ifndef GW_HTTPD_H
#define GW_HTTPD_H

#include <stddef.h>

#include <jansson.h>

#include "metrics.h"
#include "net.h"
#include "page.h"

/* Returns a new JSON reference (or NULL on failure -> 500). */
typedef json_t *(*gw_httpd_json_fn)(void *arg);

/* Readiness check: returns 1 when ready, 0 when not, with a short detail either way (len bytes
 * including the NUL; invalid UTF-8 is replaced before it goes out). */
typedef int (*gw_httpd_check_fn)(void *arg, char *detail, size_t len);

struct gw_httpd_check {
    const char *name;
    gw_httpd_check_fn fn;
    void *arg;
};

struct gw_httpd_opts {
    const char *prog;           /* page title */
    struct gw_metrics *metrics; /* NULL: /metrics is 404 */
    gw_httpd_json_fn status;    /* NULL: /status is 404 */
    void *status_arg;
    const struct gw_httpd_check *checks; /* /readyz; copied (names too) */
    /* The program's own tables on the stats page (page.h); not copied: static data. */
    const struct gw_page_table *page_tables;
    size_t nchecks;
    /* Limits; 0 takes the default. Past max_connections (or max_connections_per_ip from one
     * address) a request is answered 503 with Retry-After and its connection closed; past
     * GW_HTTPD_HARD_LIMIT(max_connections) a new connection is closed at once, unread.
     * timeout_ms is a deadline per request, not an idle timeout: a connection must complete a
     * request within it (counted from its start, then from its last completed request), so a
     * client sending a byte a second cannot hold it; past it the connection is shut down. */
    unsigned max_connections;        /* default GW_HTTPD_MAX_CONNECTIONS */
    unsigned max_connections_per_ip; /* default GW_HTTPD_MAX_CONNECTIONS_PER_IP */
    unsigned timeout_ms;             /* default GW_HTTPD_TIMEOUT_MS */
};

#define GW_HTTPD_MAX_CONNECTIONS 256u
#define GW_HTTPD_MAX_CONNECTIONS_PER_IP 64u
#define GW_HTTPD_TIMEOUT_MS 10000u
/* Connections beyond max_connections that are still read, to be answered 503. */
#define GW_HTTPD_HARD_LIMIT(max) ((max) + (max) / 4 + 16)

/* Counters of the connection limits, for the daemon's metrics. */
struct gw_httpd_stats {
    unsigned connections;       /* open now */
    unsigned long long refused; /* answered 503 (over a limit) */
    unsigned long long dropped; /* closed unread past the hard limit */
    unsigned long long timeouts; /* shut down past their request deadline */
};

/* A reply filled in by a route handler. status starts at 200 and content_type at
 * "text/plain; charset=utf-8"; body (malloc'd, may be NULL) is freed by httpd. A status outside
 * 100..599 becomes 500. */
struct gw_httpd_reply {
    int status;
    const char *content_type;
    char *body;
    size_t body_len;
};

/* Handler for an extra route: gets the method, the raw query string (without '?', or ""), the
 * request body (body_len bytes, at most max_body, followed by a NUL). A Content-Length past
 * max_body gets 413 before the handler runs; a chunked body that grows past it has its
 * connection closed. Runs on the HTTP thread. */
typedef void (*gw_httpd_route_fn)(const char *method, const char *query, const char *body,
                                  size_t body_len, struct gw_httpd_reply *reply, void *arg);

struct gw_httpd;

/* Starts serving on addr, through gw_net_listen_tcp: IPv4, or IPv6 (a wildcard address from
 * "*:port" listens dual-stack). Port 0 binds an ephemeral port, see gw_httpd_port. NULL with err
 * (unsupported family; bind failure with the system's reason, as in "cannot start HTTP server:
 * bind 127.0.0.1:9091: Address already in use"; out of memory). */
struct gw_httpd *gw_httpd_start(const struct gw_addr *addr, const struct gw_httpd_opts *o,
                                char *err);

/* Adds a route for an exact path (starting with '/', at most 127 bytes) and method (a GET route
 * also answers HEAD), before or after start; any thread. Routes are looked up before the
 * built-in paths. A request for a routed path with another method gets 405 listing the
 * route's methods. Returns 0, or -1 for a bad method or path, a duplicate, or when 16 routes
 * exist. */
int gw_httpd_route(struct gw_httpd *h, const char *method, const char *path, size_t max_body,
                   gw_httpd_route_fn fn, void *arg);

/* The bound port. */
int gw_httpd_port(const struct gw_httpd *h);

/* Fills st; any thread. */
void gw_httpd_stats(struct gw_httpd *h, struct gw_httpd_stats *st);

/* Stops accepting, then the HTTP thread (waiting for the request in progress), closes the
 * listener and every connection, frees h. NULL is a no-op. Any thread but httpd's own: never
 * from a callback. */
void gw_httpd_stop(struct gw_httpd *h);

#endif
