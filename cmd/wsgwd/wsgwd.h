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

#include "backoff.h"
#include "buf.h"
#include "conf.h"
#include "daemon.h"
#include "ev.h"
#include "frame.h"
#include "metrics.h"
#include "net.h"
#include "ws.h"

struct gw_ctl_req;
struct gw_httpd;
struct gw_workers;
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
    char *allowed_origins;       /* as written (bound), then split: */
    char *subprotocols_text;
    char **origins;      /* NULL-terminated; NULL: any origin */
    char **subprotocols; /* NULL-terminated, in order of preference */
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
    int pings_timed_out, idle_closed, output_overflow, close_timeouts, http_requests;
    int *worker_clients; /* per worker */
};

struct wsgw {
    struct gw_daemon *daemon;
    _Atomic(struct wsgw_config *) cfg;
    struct wsgw_metrics m;
    struct gw_httpd *httpd;
    struct gw_workers *pool;
    struct wsgw_worker **workers; /* [nworkers], each set by its own thread at start */
    unsigned nworkers;
    struct wsgw_backend *backends;
    unsigned nbackends;
    int raw_mode; /* --raw on the command line: operand backends are raw */
    unsigned cli_backends;
    char io_want[8];
    struct gw_addr listen_addr;
    char listen_str[GW_ADDR_STRLEN];
    char http_str[GW_ADDR_STRLEN];
    char gateway_id[256];
    atomic_int listening; /* workers whose listener is open */
    struct wsgw_limits *limits;
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
/* The verifier of the [wsgwd] jwt_* settings; NULL with err[0] == '\0' when no token is
 * required, NULL with err on failure (the key cannot be loaded). Main thread. */
struct wsgw_auth *wsgw_auth_new(const struct gw_conf *c, char *err);
void wsgw_auth_free(struct wsgw_auth *a);
/* Verifies the client's token (Authorization: Bearer, else the token query parameter).
 * Returns 0 with *claims (new reference), or -1 with a short reason in why ("missing token",
 * "expired", ...). Any thread. */
struct gw_wshttp_req;
int wsgw_auth_check(const struct wsgw_auth *a, const struct gw_wshttp_req *req, json_t **claims,
                    char *why, size_t len);

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

/* ---- the network side: one worker thread owns its clients and its backend links ---- */

struct gw_conn;
struct gw_conn_loop;
struct gw_listener;
struct gw_wsdeflate;

enum wsgw_link_state { WSGW_LINK_DOWN, WSGW_LINK_CONNECTING, WSGW_LINK_HELLO, WSGW_LINK_UP };

/* A worker's connection to one framed backend. */
struct wsgw_link {
    struct wsgw_worker *wk;
    struct wsgw_backend *b;
    struct gw_conn *c; /* NULL while down */
    enum wsgw_link_state state;
    struct gw_frame_dec dec;
    struct gw_ev_timer timer; /* reconnect while down, keepalive while up */
    struct gw_backoff backoff;
    uint64_t last_rx_ms, ping_sent_ms;
};

enum wsgw_client_state { WSGW_HS, WSGW_OPEN, WSGW_CLOSING };

/* One connection on the WebSocket port: an HTTP request until the upgrade, then a client. An
 * idle client holds this struct and its connection, and no buffer. */
struct wsgw_client {
    struct gw_conn *c;
    struct wsgw_worker *wk;
    struct wsgw_client *prev, *next; /* the worker's connections */
    struct wsgw_client *hnext;       /* the worker's id table */
    struct wsgw_backend *b;
    struct wsgw_link *link;    /* framed backend */
    uint8_t *fan;              /* fan-out client: bit i set = bound to links[i] */
    struct gw_conn *raw;       /* raw backend: this client's own connection */
    struct gw_wshttp_req *req; /* during the handshake */
    struct gw_wsdeflate *dfl;  /* permessage-deflate, when negotiated */
    char *path;                /* "path?query" of the upgrade, for `clients` */
    struct gw_buf msg;         /* a fragmented or compressed message being reassembled */
    struct gw_ws_parser parser;
    struct gw_ev_timer timer; /* handshake deadline, then keepalive and idle checks */
    uint64_t opened_ms, last_rx_ms, last_msg_ms, ping_sent_ms;
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
    uint32_t id; /* 0 until the upgrade */
    enum wsgw_client_state state;
    uint16_t close_code;  /* sent or received, told to the backend */
    uint8_t base64;       /* raw backend with websockify's base64 subprotocol */
    uint8_t raw_opened;   /* the raw connection connected */
    uint8_t paused_raw;   /* we paused the raw connection's reads (client output high) */
    uint8_t paused_self;  /* we paused this client's reads (raw output high) */
    uint8_t told_backend; /* the backend knows the client ended (or told us) */
    uint8_t ip_counted;
};

struct wsgw_worker {
    struct wsgw *w;
    unsigned index;
    struct gw_ev *ev;
    struct gw_conn_loop *loop;
    struct wsgw_client *conns;  /* every connection on the WebSocket port */
    struct wsgw_client **table; /* clients by id, chained through hnext */
    size_t table_size, nclients;
    struct wsgw_link *links; /* [nbackends]; used for framed backends */
    struct gw_buf scratch;   /* encoding space, reused */
    int draining, stopping;
};

/* client.c: the protocol of accepted connections (their user pointer starts as the struct
 * wsgw and becomes the client's struct at on_open). */
extern const struct gw_conn_proto wsgw_client_proto;
struct wsgw_client *wsgw_client_find(struct wsgw_worker *wk, uint32_t id);
/* Sends a whole message to the client (compressed when negotiated and long enough); closes it
 * with 1013 when its output passes max_output. */
void wsgw_client_send(struct wsgw_client *cl, int text, const void *data, size_t len);
/* Starts the close handshake with code and reason (server side), once; by_backend: the backend
 * asked for it, so it is not told again. */
void wsgw_client_close(struct wsgw_client *cl, unsigned code, const char *reason, int by_backend);
json_t *wsgw_client_json(struct wsgw_client *cl, uint64_t now_ms);
/* 1 when cl's messages go over the link l: its one framed backend, or one of every backend
 * of a fan-out client. */
int wsgw_client_on_link(const struct wsgw_client *cl, const struct wsgw_link *l);
/* l is going away (dropped, or the backend closed cl): cl is no longer bound to it. */
void wsgw_client_unlink(struct wsgw_client *cl, const struct wsgw_link *l);
/* 1 when a framed link of cl has more than mark bytes queued. */
int wsgw_client_links_above(const struct wsgw_client *cl, size_t mark);
/* A side of cl was paused for backpressure: its timer starts looking at the queues. */
void wsgw_client_flow_paused(struct wsgw_client *cl);

/* backend.c: framed links. A client whose backend link has more than WSGW_LINK_HIGH bytes
 * queued is not read until the queue is down to WSGW_LINK_LOW. */
#define WSGW_LINK_HIGH (4u * 1024 * 1024)
#define WSGW_LINK_LOW (1u * 1024 * 1024)
void wsgw_links_start(struct wsgw_worker *wk);
void wsgw_links_stop(struct wsgw_worker *wk);
/* Tells the backend about a client: OPEN (claims may be NULL), DATA, CLOSE. 0, or -1 when the
 * link is not up. */
int wsgw_link_open(struct wsgw_link *l, struct wsgw_client *cl, const char *query,
                   const char *subprotocol, json_t *claims);
/* DATA carries the backend's id, or 0 with every_backend (a fan-out client's message, sent
 * to each of its backends). */
int wsgw_link_data(struct wsgw_link *l, uint32_t client, int every_backend, int text,
                   const void *data, size_t len);
void wsgw_link_close_client(struct wsgw_link *l, uint32_t client, unsigned code);

/* raw.c: websockify mode. */
/* Connects the client's own backend connection; failures close the client (1011/1013). */
void wsgw_raw_connect(struct wsgw_client *cl);
/* A client message to the backend (base64-decoded with that subprotocol). */
void wsgw_raw_send(struct wsgw_client *cl, const uint8_t *data, size_t len);
/* The client ended: flush and half-close the backend connection. */
void wsgw_raw_detach(struct wsgw_client *cl);
/* The client's output drained: read the backend again. */
void wsgw_raw_client_writable(struct wsgw_client *cl);
/* Resumes a side paused for backpressure whose other side (client, raw connection or
 * framed link) has drained (the client's timer calls it while one is paused). */
void wsgw_raw_flow_check(struct wsgw_client *cl);

/* limits.c: per source address, shared by the workers (a mutex, at connect and close only). */
struct wsgw_limits;
struct wsgw_limits *wsgw_limits_new(void);
void wsgw_limits_free(struct wsgw_limits *l);
/* Counts a connection from ip; returns the connections from ip now open, this one included. */
unsigned wsgw_limits_open(struct wsgw_limits *l, const char *ip);
void wsgw_limits_close(struct wsgw_limits *l, const char *ip);
/* Connections from ip open now. */
unsigned wsgw_limits_count(struct wsgw_limits *l, const char *ip);
/* Counts a handshake from ip; 1 when within per_second (0: no limit), else 0. */
int wsgw_limits_handshake(struct wsgw_limits *l, const char *ip, unsigned per_second);

/* page.c */
extern const char wsgw_test_page[];

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
