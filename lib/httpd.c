/*
 * httpd.c -- /metrics, /healthz, /readyz, /status, the HTML stats page and extra routes, served
 * by libmicrohttpd on its internal polling thread.
 *
 * httpd owns the listener and accepts on a thread of its own (a lib/ev loop running a
 * lib/listener), handing each connection to MHD. MHD's own accept loop, once out of descriptors
 * with no connection of its own to wait for, retries accept() at once and spins; here the listener
 * is paused instead.
 *
 * Request state lives from MHD's URI log callback (which sees the raw query string) to its
 * completion callback; MHD calls the latter for every request the former saw.
 */
#include "httpd.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "ev.h"
#include "listener.h"
#include "page.h"

#ifndef GW_VERSION
#define GW_VERSION "unknown"
#endif

#define SERVER "gwkit/" GW_VERSION
#define SWEEP_MS 250
#define MAX_ROUTES 16
#define MAX_METHOD_BYTES 15
#define MAX_PATH_BYTES 127
#define MAX_QUERY_BYTES 8192
#define DETAIL_BYTES 256
#define MAX_PAGE_BYTES (16u << 20)

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_JSON "application/json"
#define CT_HTML "text/html; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct route {
    char method[MAX_METHOD_BYTES + 1];
    char path[MAX_PATH_BYTES + 1];
    size_t max_body;
    gw_httpd_route_fn fn;
    void *arg;
};

/* A connection MHD serves, from its start to its close notification. fd stays MHD's; the
 * sweeper only shuts it down, under conn_lock, which the close notification also takes before
 * MHD closes the fd, so the number is never one reused by another open. */
struct hconn {
    struct hconn *prev, *next;
    int fd;
    uint8_t refuse; /* over a limit: its request is answered 503 */
    uint8_t cut;    /* shut down past its deadline */
    uint64_t deadline_ms;
    struct sockaddr_storage ip; /* port zeroed, to compare addresses */
};

struct gw_httpd {
    struct MHD_Daemon *d;
    int lfd; /* httpd's listening socket; MHD runs without one */
    int port;
    struct gw_ev *ev;             /* the accept thread's loop */
    struct gw_listener *listener; /* accepts on lfd, which it does not own */
    pthread_t acceptor;
    int accepting; /* the accept thread runs */
    char *prog;
    struct gw_metrics *metrics;
    gw_httpd_json_fn status;
    void *status_arg;
    const struct gw_page_table *page_tables;
    struct gw_httpd_check *checks;
    size_t nchecks;
    pthread_mutex_t lock; /* routes */
    struct route routes[MAX_ROUTES];
    size_t nroutes;
    atomic_int starting; /* MHD's messages are kept only while starting */
    char start_err[GW_ERR_LEN];
    unsigned max_conns, max_per_ip, hard_limit;
    uint64_t timeout_ms;
    /* Handed to MHD and not yet reported closed: never lags behind MHD's own count. */
    atomic_uint nconns;
    pthread_mutex_t conn_lock; /* conns, nstarted */
    struct hconn *conns;
    unsigned nstarted;
    struct gw_ev_timer sweep;
    atomic_ullong refused, dropped, timeouts;
};

static struct hconn *
hconn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

enum action { ACT_ROUTE, ACT_BUILTIN, ACT_BAD_METHOD, ACT_NOT_FOUND };

struct req {
    char *query;
    int seen; /* the access handler ran once */
    enum action act;
    size_t builtin;     /* ACT_BUILTIN: index in builtins[] */
    char allow[128];    /* ACT_BAD_METHOD: the Allow header */
    struct route rt;    /* ACT_ROUTE: the matched route */
    struct gw_buf body; /* max_body + 1: room for the NUL */
};

typedef enum MHD_Result (*builtin_fn)(struct gw_httpd *h, struct MHD_Connection *c);

/* ---- replies ---- */

static enum MHD_Result
send_reply(struct MHD_Connection *c, unsigned status, const char *ctype, char *body, size_t len,
           int must_free, const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(len, body ? body : (char *)"",
                                           must_free && body ? MHD_RESPMEM_MUST_FREE
                                                             : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        if (must_free)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Server", SERVER);
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (allow)
        MHD_add_response_header(resp, "Allow", allow);
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result
send_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return send_reply(c, status, CT_TEXT, (char *)text, strlen(text), 0, NULL);
}

/* Dumps j (stolen) with a trailing newline. */
static enum MHD_Result
send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL, *t;
    size_t n;

    json_decref(j);
    if (s == NULL)
        return send_text(c, 500, "cannot encode JSON\n");
    n = strlen(s);
    if ((t = realloc(s, n + 2)) == NULL) {
        free(s);
        return send_text(c, 500, "out of memory\n");
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    return send_reply(c, status, CT_JSON, t, n + 1, 1, NULL);
}

/* ---- readiness ---- */

/* Replaces bytes that are not valid UTF-8 with '?', in place. */
static void
utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t len, i;
    uint32_t cp;

    while (*p) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        len = *p >= 0xc2 && *p <= 0xdf   ? 2
              : *p >= 0xe0 && *p <= 0xef ? 3
              : *p >= 0xf0 && *p <= 0xf4 ? 4
                                         : 0;
        cp = *p & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
        for (i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                break;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (len == 0 || i < len || (len == 3 && cp < 0x800) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
            *p++ = '?';
            continue;
        }
        p += len;
    }
}

/* {"ready":..,"checks":{..}}, or NULL when memory ran out. */
static json_t *
run_checks(struct gw_httpd *h, int *ready)
{
    json_t *root = json_object(), *checks = json_object(), *one;
    char detail[DETAIL_BYTES];
    size_t i;
    int pass;

    *ready = 1;
    if (root == NULL || checks == NULL) {
        json_decref(root);
        json_decref(checks);
        return NULL;
    }
    for (i = 0; i < h->nchecks; i++) {
        detail[0] = '\0';
        pass = h->checks[i].fn(h->checks[i].arg, detail, sizeof(detail)) > 0;
        detail[sizeof(detail) - 1] = '\0';
        utf8_scrub(detail);
        if (!pass)
            *ready = 0;
        one = json_pack("{s:b,s:s}", "ok", pass, "detail", detail);
        json_object_set_new(checks, h->checks[i].name, one);
    }
    json_object_set_new(root, "ready", json_boolean(*ready));
    json_object_set_new(root, "checks", checks);
    return root;
}

/* ---- built-in endpoints ---- */

static enum MHD_Result
get_metrics(struct gw_httpd *h, struct MHD_Connection *c)
{
    size_t len;
    char *text;

    if (h->metrics == NULL)
        return send_text(c, 404, "not found\n");
    if ((text = gw_metrics_render(h->metrics, &len)) == NULL)
        return send_text(c, 500, "cannot render metrics\n");
    return send_reply(c, 200, CT_METRICS, text, len, 1, NULL);
}

static enum MHD_Result
get_healthz(struct gw_httpd *h, struct MHD_Connection *c)
{
    (void)h;
    return send_text(c, 200, "ok\n");
}

static enum MHD_Result
get_readyz(struct gw_httpd *h, struct MHD_Connection *c)
{
    json_t *j;
    int ready;

    if ((j = run_checks(h, &ready)) == NULL)
        return send_text(c, 500, "out of memory\n");
    return send_json(c, ready ? 200 : 503, j);
}

static enum MHD_Result
get_status(struct gw_httpd *h, struct MHD_Connection *c)
{
    json_t *j;

    if (h->status == NULL)
        return send_text(c, 404, "not found\n");
    if ((j = h->status(h->status_arg)) == NULL)
        return send_text(c, 500, "status unavailable\n");
    return send_json(c, 200, j);
}

static enum MHD_Result
get_page(struct gw_httpd *h, struct MHD_Connection *c)
{
    struct gw_page p = {.prog = h->prog,
                        .version = GW_VERSION,
                        .has_metrics = h->metrics != NULL,
                        .tables = h->page_tables};
    json_t *checks, *st = NULL;
    struct gw_buf b;
    int ready, rc;

    if ((checks = run_checks(h, &ready)) == NULL)
        return send_text(c, 500, "out of memory\n");
    if (h->status)
        st = h->status(h->status_arg);
    gw_buf_init(&b, MAX_PAGE_BYTES);
    rc = gw_page_render(&b, &p, json_object_get(checks, "checks"), ready, st);
    json_decref(checks);
    json_decref(st);
    if (rc == -1) {
        gw_buf_reset(&b);
        return send_text(c, 500, "cannot render page\n");
    }
    return send_reply(c, 200, CT_HTML, b.data, b.len, 1, NULL);
}

static const struct {
    const char *path;
    builtin_fn fn;
} builtins[] = {
    {"/metrics", get_metrics}, {"/healthz", get_healthz}, {"/readyz", get_readyz},
    {"/status", get_status},   {"/", get_page},
};

/* ---- routes ---- */

/* Copies the route for (path, method) into *out and returns 1; else returns 0 and, when the
 * path has routes for other methods, lists them in allow. */
static int
find_route(struct gw_httpd *h, const char *path, const char *method, struct route *out, char *allow,
           size_t len)
{
    size_t i, n = 0;
    int found = 0;

    allow[0] = '\0';
    pthread_mutex_lock(&h->lock);
    for (i = 0; i < h->nroutes && !found; i++) {
        struct route *r = &h->routes[i];
        if (strcmp(r->path, path) != 0)
            continue;
        if (strcmp(r->method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
            *out = *r;
            found = 1;
        } else if (n < len) {
            n += (size_t)snprintf(allow + n, len - n, "%s%s%s", n ? ", " : "", r->method,
                                  strcmp(r->method, "GET") == 0 ? ", HEAD" : "");
        }
    }
    pthread_mutex_unlock(&h->lock);
    return found;
}

static int
valid_token(const char *s, size_t max)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (s[n] < 'A' || s[n] > 'Z')
            return 0;
    return n > 0 && n <= max;
}

int
gw_httpd_route(struct gw_httpd *h, const char *method, const char *path, size_t max_body,
               gw_httpd_route_fn fn, void *arg)
{
    struct route *r;
    size_t i;
    int rc = -1;

    if (h == NULL || method == NULL || path == NULL || fn == NULL ||
        !valid_token(method, MAX_METHOD_BYTES) || path[0] != '/' || strlen(path) > MAX_PATH_BYTES ||
        strchr(path, '?') || max_body >= SIZE_MAX / 2)
        return -1;
    pthread_mutex_lock(&h->lock);
    for (i = 0; i < h->nroutes; i++)
        if (strcmp(h->routes[i].path, path) == 0 && strcmp(h->routes[i].method, method) == 0)
            goto out;
    if (h->nroutes == MAX_ROUTES)
        goto out;
    r = &h->routes[h->nroutes++];
    gw_strlcpy(r->method, method, sizeof(r->method));
    gw_strlcpy(r->path, path, sizeof(r->path));
    r->max_body = max_body;
    r->fn = fn;
    r->arg = arg;
    rc = 0;
out:
    pthread_mutex_unlock(&h->lock);
    return rc;
}

static enum MHD_Result
run_route(struct MHD_Connection *c, struct req *r, const char *method)
{
    struct gw_httpd_reply rep = {200, CT_TEXT, NULL, 0};
    const char *body;

    if (gw_buf_append(&r->body, "", 1) == -1)
        return send_text(c, 500, "out of memory\n");
    body = gw_buf_data(&r->body);
    r->rt.fn(method, r->query, body, gw_buf_len(&r->body) - 1, &rep, r->rt.arg);
    if (rep.status < 100 || rep.status > 599) {
        free(rep.body);
        return send_text(c, 500, "bad handler status\n");
    }
    if (rep.body == NULL)
        rep.body_len = 0;
    return send_reply(c, (unsigned)rep.status, rep.content_type ? rep.content_type : CT_TEXT,
                      rep.body, rep.body_len, 1, NULL);
}

/* ---- MHD callbacks ---- */

static void
decide(struct gw_httpd *h, struct req *r, const char *url, const char *method)
{
    size_t i;

    if (find_route(h, url, method, &r->rt, r->allow, sizeof(r->allow))) {
        r->act = ACT_ROUTE;
        return;
    }
    if (r->allow[0]) {
        r->act = ACT_BAD_METHOD;
        return;
    }
    r->act = ACT_NOT_FOUND;
    for (i = 0; i < GW_ARRAY_LEN(builtins); i++) {
        if (strcmp(url, builtins[i].path) != 0)
            continue;
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
            r->act = ACT_BUILTIN;
            r->builtin = i;
        } else {
            r->act = ACT_BAD_METHOD;
            gw_strlcpy(r->allow, "GET, HEAD", sizeof(r->allow));
        }
        return;
    }
}

static enum MHD_Result
answer(struct gw_httpd *h, struct MHD_Connection *c, struct req *r, const char *method)
{
    switch (r->act) {
    case ACT_ROUTE:
        return run_route(c, r, method);
    case ACT_BUILTIN:
        return builtins[r->builtin].fn(h, c);
    case ACT_BAD_METHOD:
        return send_reply(c, 405, CT_TEXT, (char *)"method not allowed\n", 19, 0, r->allow);
    case ACT_NOT_FOUND:
        break;
    }
    return send_text(c, 404, "not found\n");
}

static unsigned long long
content_length(struct MHD_Connection *c)
{
    const char *cl;

    cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl ? strtoull(cl, NULL, 10) : 0;
}

/* Decides what to do once the headers are in. Answers that wait for the end of the request
 * keep the connection open; answering now makes MHD drop the body and close. */
static enum MHD_Result
refuse(struct MHD_Connection *c)
{
    static const char text[] = "too many connections, retry later\n";
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(sizeof(text) - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Server", SERVER);
    MHD_add_response_header(resp, "Content-Type", CT_TEXT);
    MHD_add_response_header(resp, "Retry-After", "1");
    MHD_add_response_header(resp, "Connection", "close");
    ret = MHD_queue_response(c, 503, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result
first_call(struct gw_httpd *h, struct MHD_Connection *c, struct req *r, const char *url,
           const char *method)
{
    struct hconn *hc = hconn_of(c);

    if (hc && hc->refuse) {
        atomic_fetch_add(&h->refused, 1);
        return refuse(c);
    }
    decide(h, r, url, method);
    if (r->act == ACT_ROUTE) {
        if (content_length(c) > r->rt.max_body)
            return send_text(c, 413, "request body too large\n");
        gw_buf_init(&r->body, r->rt.max_body + 1);
        return MHD_YES;
    }
    if (content_length(c) > 0 ||
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        return answer(h, c, r, method);
    return MHD_YES;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct req *r = *con_cls;

    (void)version;
    if (r == NULL)
        return send_text(c, 500, "out of memory\n");
    if (!r->seen) {
        r->seen = 1;
        return first_call(cls, c, r, url, method);
    }
    if (*upload_data_size) {
        /* A response cannot be queued mid-upload: a chunked body past the limit closes. */
        if (r->act != ACT_ROUTE || *upload_data_size > r->rt.max_body - gw_buf_len(&r->body) ||
            gw_buf_append(&r->body, upload_data, *upload_data_size) == -1)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return answer(cls, c, r, method);
}

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    const char *q = strchr(uri, '?');
    struct req *r;

    (void)cls;
    (void)c;
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    if ((r->query = strndup(q ? q + 1 : "", MAX_QUERY_BYTES)) == NULL) {
        free(r);
        return NULL;
    }
    gw_buf_init(&r->body, 0);
    return r;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct gw_httpd *h = cls;
    struct req *r = *con_cls;
    struct hconn *hc = hconn_of(c);

    (void)toe;
    /* The deadline runs again for the next request on this connection. */
    if (hc) {
        pthread_mutex_lock(&h->conn_lock);
        hc->deadline_ms = gw_mono_ms() + h->timeout_ms;
        pthread_mutex_unlock(&h->conn_lock);
    }
    if (r == NULL)
        return;
    gw_buf_reset(&r->body);
    free(r->query);
    free(r);
    *con_cls = NULL;
}

/* The library never logs: MHD's messages only explain a failed start. */
static void
on_log(void *cls, const char *fmt, va_list ap)
{
    struct gw_httpd *h = cls;
    size_t n;

    if (!atomic_load(&h->starting))
        return;
    vsnprintf(h->start_err, sizeof(h->start_err), fmt, ap);
    n = strlen(h->start_err);
    while (n > 0 && (h->start_err[n - 1] == '\n' || h->start_err[n - 1] == '.'))
        h->start_err[--n] = '\0';
}

/* ---- start and stop ---- */

static int
copy_opts(struct gw_httpd *h, const struct gw_httpd_opts *o, char *err)
{
    size_t i;

    h->max_conns = o->max_connections ? o->max_connections : GW_HTTPD_MAX_CONNECTIONS;
    h->max_per_ip = o->max_connections_per_ip ? o->max_connections_per_ip
                                              : GW_HTTPD_MAX_CONNECTIONS_PER_IP;
    h->hard_limit = GW_HTTPD_HARD_LIMIT(h->max_conns);
    h->timeout_ms = o->timeout_ms ? o->timeout_ms : GW_HTTPD_TIMEOUT_MS;
    h->metrics = o->metrics;
    h->status = o->status;
    h->status_arg = o->status_arg;
    h->page_tables = o->page_tables;
    if ((h->prog = strdup(o->prog ? o->prog : "gwkit")) == NULL)
        return gw_err(err, "out of memory");
    if (o->nchecks == 0)
        return 0;
    if ((h->checks = calloc(o->nchecks, sizeof(*h->checks))) == NULL)
        return gw_err(err, "out of memory");
    for (; h->nchecks < o->nchecks; h->nchecks++) {
        i = h->nchecks;
        if (o->checks[i].name == NULL || o->checks[i].fn == NULL)
            return gw_err(err, "readiness check %zu has no name or function", i);
        h->checks[i] = o->checks[i];
        if ((h->checks[i].name = strdup(o->checks[i].name)) == NULL)
            return gw_err(err, "out of memory");
    }
    return 0;
}

static void
free_httpd(struct gw_httpd *h)
{
    size_t i;

    for (i = 0; i < h->nchecks; i++)
        free((char *)h->checks[i].name);
    free(h->checks);
    free(h->prog);
    pthread_mutex_destroy(&h->lock);
    pthread_mutex_destroy(&h->conn_lock);
    free(h);
}

/* ---- accepting ---- */

/* Past the hard limit a connection is closed unread; below it MHD takes it, and what is over
 * the soft limits gets its 503 once the request is in (see on_connection). */
static void
hand_over(struct gw_listener *l, int fd, const struct sockaddr *peer, socklen_t len, void *arg)
{
    struct gw_httpd *h = arg;

    (void)l;
    if (atomic_load(&h->nconns) >= h->hard_limit) {
        atomic_fetch_add(&h->dropped, 1);
        close(fd);
        return;
    }
    atomic_fetch_add(&h->nconns, 1);
    /* On failure MHD has closed fd, and no close notification will come. */
    if (MHD_add_connection(h->d, fd, peer, len) != MHD_YES)
        atomic_fetch_sub(&h->nconns, 1);
}

/* Shuts down connections past their deadline; MHD then sees the end of input and closes them
 * on its thread. */
static void
on_sweep(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct gw_httpd *h = arg;
    uint64_t now = gw_mono_ms();

    pthread_mutex_lock(&h->conn_lock);
    for (struct hconn *hc = h->conns; hc; hc = hc->next)
        if (!hc->cut && now >= hc->deadline_ms) {
            hc->cut = 1;
            shutdown(hc->fd, SHUT_RDWR);
            atomic_fetch_add(&h->timeouts, 1);
        }
    pthread_mutex_unlock(&h->conn_lock);
    gw_ev_timer_start(ev, t, SWEEP_MS);
}

static void
ip_key(struct MHD_Connection *c, struct sockaddr_storage *ip)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    memset(ip, 0, sizeof(*ip));
    if (ci == NULL || ci->client_addr == NULL)
        return;
    if (ci->client_addr->sa_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ip;
        memcpy(a, ci->client_addr, sizeof(*a));
        a->sin_port = 0;
    } else if (ci->client_addr->sa_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ip;
        memcpy(a, ci->client_addr, sizeof(*a));
        a->sin6_port = 0;
        a->sin6_flowinfo = 0;
        a->sin6_scope_id = 0;
    }
}

static unsigned
same_ip_count(const struct gw_httpd *h, const struct sockaddr_storage *ip)
{
    unsigned n = 0;

    for (const struct hconn *hc = h->conns; hc; hc = hc->next)
        if (memcmp(&hc->ip, ip, sizeof(*ip)) == 0)
            n++;
    return n;
}

static void
conn_started(struct gw_httpd *h, struct MHD_Connection *c, void **ctx)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct hconn *hc = calloc(1, sizeof(*hc));

    *ctx = hc;
    if (hc == NULL)
        return; /* served without a deadline; MHD's idle timeout still applies */
    hc->fd = ci ? ci->connect_fd : -1;
    hc->deadline_ms = gw_mono_ms() + h->timeout_ms;
    ip_key(c, &hc->ip);
    pthread_mutex_lock(&h->conn_lock);
    hc->refuse = h->nstarted >= h->max_conns || same_ip_count(h, &hc->ip) >= h->max_per_ip;
    if (hc->fd == -1)
        hc->cut = 1;
    hc->next = h->conns;
    if (h->conns)
        h->conns->prev = hc;
    h->conns = hc;
    h->nstarted++;
    pthread_mutex_unlock(&h->conn_lock);
}

static void
conn_closed(struct gw_httpd *h, void **ctx)
{
    struct hconn *hc = *ctx;

    atomic_fetch_sub(&h->nconns, 1);
    if (hc == NULL)
        return;
    pthread_mutex_lock(&h->conn_lock);
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        h->conns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    h->nstarted--;
    pthread_mutex_unlock(&h->conn_lock);
    free(hc);
    *ctx = NULL;
}

/* MHD reports a connection's close before it closes the fd (so the sweeper, holding the lock,
 * never shuts down a number already reused). */
static void
on_connection(void *cls, struct MHD_Connection *c, void **ctx,
              enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        conn_started(cls, c, ctx);
    else
        conn_closed(cls, ctx);
}

static void *
accept_main(void *arg)
{
    struct gw_httpd *h = arg;

    gw_ev_run(h->ev);
    return NULL;
}

/* ---- start and stop ---- */

/* httpd's threads take no signals: those belong to the daemon's main thread. */
static void
block_signals(sigset_t *old)
{
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, old);
}

static int
listen_on(struct gw_httpd *h, const struct gw_addr *addr, char *err)
{
    struct gw_addr a = *addr, bound;
    char why[GW_ERR_LEN];

    a.len = a.ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if ((h->lfd = gw_net_listen_tcp(&a, 0, 0, why)) == -1)
        return gw_err(err, "cannot start HTTP server: %s", why);
    memset(&bound, 0, sizeof(bound));
    bound.len = sizeof(bound.ss);
    if (getsockname(h->lfd, (struct sockaddr *)&bound.ss, &bound.len) == -1)
        return gw_err_errno(err, "cannot start HTTP server: getsockname");
    h->port = gw_net_addr_port(&bound);
    return 0;
}

/* MHD serves the connections httpd hands it (MHD_add_connection needs MHD_USE_ITC to wake its
 * thread) and never touches a listener. Its own limit sits above httpd's hard limit, so it is
 * never what refuses a connection (see httpd.h). */
static int
start_mhd(struct gw_httpd *h, char *err)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET |
                     MHD_USE_ERROR_LOG;
    sigset_t old;

    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    else if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        flags |= MHD_USE_POLL;
    atomic_store(&h->starting, 1);
    gw_strlcpy(h->start_err, "cannot start the HTTP server", sizeof(h->start_err));
    block_signals(&old);
    h->d =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
                         MHD_OPTION_CONNECTION_LIMIT, h->hard_limit + 64,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(h->timeout_ms + 999) / 1000,
                         MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                         MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    atomic_store(&h->starting, 0);
    if (h->d == NULL)
        return gw_err(err, "cannot start HTTP server on port %d: %s", h->port, h->start_err);
    return 0;
}

static int
start_accepting(struct gw_httpd *h, char *err)
{
    /* The default budget bounds each batch, so that a flood of connections cannot delay a
     * stop request; out of descriptors or memory, the listener pauses for its default 100 ms. */
    struct gw_listener_opts lo = {.on_accept = hand_over, .arg = h};
    sigset_t old;
    int rc;

    if ((h->ev = gw_ev_new(err)) == NULL)
        return -1;
    if ((h->listener = gw_listener_new(h->ev, h->lfd, &lo, err)) == NULL)
        return -1;
    gw_ev_timer_init(&h->sweep, on_sweep, h);
    if (gw_ev_timer_start(h->ev, &h->sweep, SWEEP_MS) == -1)
        return gw_err(err, "out of memory");
    block_signals(&old);
    rc = pthread_create(&h->acceptor, NULL, accept_main, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        errno = rc;
        return gw_err_errno(err, "cannot start the HTTP accept thread");
    }
    h->accepting = 1;
    return 0;
}

/* Stops accepting first, so nothing is handed to MHD once it is stopping. */
static void
teardown(struct gw_httpd *h)
{
    if (h->accepting) {
        gw_ev_stop(h->ev);
        pthread_join(h->acceptor, NULL);
    }
    gw_listener_stop(h->listener);
    gw_ev_free(h->ev);
    if (h->lfd != -1)
        close(h->lfd);
    if (h->d)
        MHD_stop_daemon(h->d);
    free_httpd(h);
}

struct gw_httpd *
gw_httpd_start(const struct gw_addr *addr, const struct gw_httpd_opts *o, char *err)
{
    static const struct gw_httpd_opts none;
    struct gw_httpd *h;

    if (o == NULL)
        o = &none;
    if (addr == NULL || (addr->ss.ss_family != AF_INET && addr->ss.ss_family != AF_INET6)) {
        gw_err(err, "HTTP listen address must be IPv4 or IPv6");
        return NULL;
    }
    if ((h = calloc(1, sizeof(*h))) == NULL) {
        gw_err(err, "out of memory");
        return NULL;
    }
    h->lfd = -1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->conn_lock, NULL);
    if (copy_opts(h, o, err) == -1 || listen_on(h, addr, err) == -1 || start_mhd(h, err) == -1 ||
        start_accepting(h, err) == -1) {
        teardown(h);
        return NULL;
    }
    return h;
}

int
gw_httpd_port(const struct gw_httpd *h)
{
    return h->port;
}

void
gw_httpd_stop(struct gw_httpd *h)
{
    if (h == NULL)
        return;
    teardown(h);
}

void
gw_httpd_stats(struct gw_httpd *h, struct gw_httpd_stats *st)
{
    st->connections = atomic_load(&h->nconns);
    st->refused = atomic_load(&h->refused);
    st->dropped = atomic_load(&h->dropped);
    st->timeouts = atomic_load(&h->timeouts);
}
