/*
 * wsgwd.h -- the WebSocket gateway: what crosses its files.
 *
 * Threads: main (signals, control socket, reload, drain), `workers` network threads (each its
 * own loop and SO_REUSEPORT listener from lib/worker, its clients, and one link per framed
 * backend), and the HTTP thread (lib/httpd). A client never changes worker; cross-thread
 * requests (clients, kick) are posted to the worker's loop and answered on the main loop.
 */
#ifndef WSGWD_H
#define WSGWD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "conf.h"
#include "daemon.h"
#include "metrics.h"
#include "net.h"

struct gw_ctl_req;
struct gw_httpd;
struct wsgw_worker;

#define WSGW_MAX_BACKENDS 256
#define WSGW_NAME_LEN 33 /* GW_CONF_MAX_NAME + 1 */

/* Close codes of RFC 6455 section 7.4.1 wsgwd sends or counts. */
#define WSGW_CLOSE_NORMAL 1000
#define WSGW_CLOSE_GOING_AWAY 1001
#define WSGW_CLOSE_PROTOCOL 1002
#define WSGW_CLOSE_UNSUPPORTED 1003
#define WSGW_CLOSE_NO_STATUS 1005
#define WSGW_CLOSE_ABNORMAL 1006
#define WSGW_CLOSE_BAD_DATA 1007
#define WSGW_CLOSE_POLICY 1008
#define WSGW_CLOSE_TOO_BIG 1009
#define WSGW_CLOSE_INTERNAL 1011
#define WSGW_CLOSE_TRY_LATER 1013

/* Run-time settings, an immutable snapshot: a reload publishes a new one, workers load the
 * pointer once per event, old snapshots are freed at exit. */
struct wsgw_config {
    uint64_t handshake_timeout_ms;
    uint64_t idle_timeout_ms;  /* 0: off */
    uint64_t ping_interval_ms; /* 0: off */
    uint64_t ping_timeout_ms;
    size_t max_message_bytes;
    size_t max_frame_bytes;
    size_t max_header_bytes;
    size_t max_output_bytes;
    size_t compression_threshold_bytes;
    unsigned max_clients;
    unsigned max_clients_per_ip; /* 0: no limit */
    unsigned handshakes_per_ip;  /* per second; 0: no limit */
    char **origins;              /* NULL-terminated; NULL: any origin */
    char **subprotocols;         /* NULL-terminated, in order of preference */
    int deflate;
    int test_page;
    struct wsgw_auth *auth; /* NULL: no token needed */
    uint64_t connect_timeout_ms;
    uint64_t backend_ping_interval_ms;
    uint64_t backend_ping_timeout_ms;
    struct wsgw_config *older; /* previous snapshots, freed at exit */
};

enum wsgw_proto { WSGW_FRAMES, WSGW_RAW };

/* A configured backend. Fixed at start; its counters are updated by the workers. */
struct wsgw_backend {
    uint32_t id; /* 1-based, in config order: the backend field of frames */
    char name[WSGW_NAME_LEN];
    char addr_str[GW_ADDR_STRLEN];
    struct gw_addr addr;
    enum wsgw_proto proto;
    atomic_int links_up;          /* framed: workers whose link has done HELLO */
    atomic_int down;              /* the last connect attempt failed (raw: 1013 instead of 1011) */
    atomic_uint_fast64_t clients; /* clients bound to it now */
    int m_links, m_connect_failures, m_dropped, m_frames_in, m_frames_out;
};

/* Metric series ids. */
enum wsgw_dir { WSGW_IN, WSGW_OUT };

/* Why a handshake was refused (or ok), the reason label of wsgwd_handshakes_total. */
enum wsgw_hs_result {
    WSGW_HS_OK,
    WSGW_HS_BAD_REQUEST, /* 400 */
    WSGW_HS_AUTH,        /* 401 */
    WSGW_HS_ORIGIN,      /* 403 */
    WSGW_HS_NOT_FOUND,   /* 404 */
    WSGW_HS_METHOD,      /* 405 */
    WSGW_HS_TOO_LONG,    /* 414, 431 */
    WSGW_HS_VERSION,     /* 426 */
    WSGW_HS_RATE,        /* 429 */
    WSGW_HS_FULL,        /* 503: max_clients, max_clients_per_ip */
    WSGW_HS_NO_BACKEND,  /* 503 */
    WSGW_HS_TIMEOUT,     /* handshake_timeout */
    WSGW_HS_CLOSED,      /* the peer went away during the handshake */
    WSGW_HS_COUNT,
};

#define WSGW_CLOSE_SERIES 16

struct wsgw_metrics {
    struct gw_metrics *reg;
    int connections, connections_total, clients;
    int handshakes[WSGW_HS_COUNT];
    int messages[2], bytes[2];
    /* Close codes by side: index from wsgw_close_index(). */
    int close_sent[WSGW_CLOSE_SERIES], close_received[WSGW_CLOSE_SERIES];
    int deflate_in, deflate_out, deflate_ratio;
    int pings_timed_out, idle_closed, output_overflow, http_requests;
    int *worker_clients; /* per worker */
};

struct wsgw {
    struct gw_daemon *daemon;
    _Atomic(struct wsgw_config *) cfg;
    struct wsgw_metrics m;
    struct gw_httpd *httpd;
    struct wsgw_worker **workers;
    unsigned nworkers;
    struct wsgw_backend *backends;
    unsigned nbackends;
    int raw_mode; /* --raw on the command line: operand backends are raw */
    unsigned cli_backends;
    int io_auto;
    char io_want[8];
    struct gw_addr listen_addr;
    char listen_str[GW_ADDR_STRLEN];
    char http_str[GW_ADDR_STRLEN];
    char gateway_id[256];
    atomic_int listening; /* workers whose listener is open */
    atomic_uint_fast32_t client_ids;
    atomic_int nconns;   /* TCP connections on the WebSocket port */
    atomic_int nclients; /* of which, WebSocket clients past the handshake */
    uint64_t started_ms;
};

/* config.c */
struct wsgw_config *wsgw_config_new(const struct gw_conf *c, char *err);
void wsgw_config_free(struct wsgw_config *cfg);
static inline struct wsgw_config *
wsgw_cfg(struct wsgw *w)
{
    return atomic_load_explicit(&w->cfg, memory_order_acquire);
}
int wsgw_reload(void *arg, const struct gw_conf *c, char *err);
/* Reads the [backend NAME] sections into w->backends. 0, or -1 with err. */
int wsgw_backends_load(struct wsgw *w, const struct gw_conf *c, char *err);
/* The backend named name, or NULL. */
struct wsgw_backend *wsgw_backend_find(struct wsgw *w, const char *name, size_t len);

/* auth.c: tokens. */
struct wsgw_auth;
/* The [wsgwd] jwt_* settings; NULL with err[0] == '\0' when no token is required, NULL with
 * err on failure (the key file cannot be read). */
struct wsgw_auth *wsgw_auth_new(const struct gw_conf *c, char *err);
void wsgw_auth_free(struct wsgw_auth *a);

/* metrics.c */
int wsgw_metrics_init(struct wsgw *w, char *err);
/* The index of a close code in the close_* series arrays. */
unsigned wsgw_close_index(unsigned code);
const char *wsgw_hs_reason(enum wsgw_hs_result r);

/* ctl.c */
extern const struct gw_ctl_cmd wsgw_ctl_cmds[];
json_t *wsgw_status(void *arg);
json_t *wsgw_health(void *arg);
json_t *wsgw_backends_json(struct wsgw *w);
/* /readyz: listening, and at least one backend reachable. */
int wsgw_ready_check(void *arg, char *detail, size_t len);

/* worker.c: the network threads. */
int wsgw_workers_start(struct wsgw *w, char *err);
/* Stops accepting and closes every client with 1001 (going away). Main thread. */
void wsgw_workers_drain(struct wsgw *w);
void wsgw_workers_stop(struct wsgw *w);
/* Each worker lists its clients on its own thread; replies to r on the main loop. */
void wsgw_workers_clients(struct wsgw *w, struct gw_ctl_req *r);
/* Closes client id with code on its worker; replies to r (not_found when no worker has it). */
void wsgw_workers_kick(struct wsgw *w, uint32_t id, unsigned code, struct gw_ctl_req *r);
/* "io_uring", "epoll", or both when some workers fell back. */
const char *wsgw_io_in_use(const struct wsgw *w);

/* schema.c */
#include "wsgwd/wsgwd_schema.h"

#endif
