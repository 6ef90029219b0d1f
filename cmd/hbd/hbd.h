/*
 * hbd.h -- the heartbeat server: what crosses its files.
 *
 * Threads: main (signals, control socket, liveness sweep, reload), `workers` network threads
 * (each its own epoll loop, TCP listener and UDP socket with SO_REUSEPORT), the alert thread
 * (libcurl multi), the store writer (lib/store) and the HTTP thread (lib/httpd).
 */
#ifndef HBD_H
#define HBD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "daemon.h"
#include "ev.h"
#include "metrics.h"
#include "net.h"
#include "snap.h"
#include "store.h"
#include "store_hb.h"

struct hbd_alerter;
struct hbd_registry;
struct hbd_sources;

/* guard.c: auth tokens (auth_tokens_file). */
struct hbd_token {
    char *token;
    char *glob; /* services it may beat for (fnmatch); NULL: any */
};
struct hbd_tokens {
    struct hbd_token *v;
    size_t n;
};
struct gw_workers;

/* Run-time settings, an immutable snapshot filled from [hbd] by gw_conf_bind (each field is
 * bound to its key in schema.c): a reload publishes a new one, readers load the pointer once per
 * event batch and keep it no longer, old snapshots are freed once no reader can hold them
 * (lib/snap.h; config.c). */
struct hbd_config {
    struct gw_snap snap; /* retired snapshots not yet freed */
    uint64_t client_timeout_ms;
    uint64_t cleanup_interval_ms;
    size_t max_line_bytes;
    size_t max_output_bytes;
    unsigned max_clients;
    uint64_t default_interval_ms;
    unsigned grace;
    unsigned min_up;
    uint64_t forget_after_ms;
    unsigned max_services;
    unsigned max_instances;
    char *alert_urls; /* space-separated */
    uint64_t alert_timeout_ms;
    unsigned alert_retries;
    uint64_t alert_backoff_ms;
    unsigned alert_queue;
    unsigned metrics_max_services;
    char *auth_tokens_file;       /* "": no auth */
    unsigned max_clients_per_ip;  /* 0: no limit */
    unsigned new_services_per_ip; /* per minute; 0: no limit */
    struct hbd_tokens tokens;     /* loaded from auth_tokens_file with the snapshot */
    /* Read at start only (GW_CONF_RESTART). */
    char *listen, *http_listen;
    int udp, store;
    size_t udp_rcvbuf; /* 0: the kernel's default */
    unsigned workers;  /* 0: one per CPU */
    unsigned io;       /* index in "auto|epoll|uring" */
};

/* Metric series ids. */
struct hbd_metrics {
    struct gw_metrics *reg;
    int msgs_tcp, msgs_udp;
    int clients_connected;
    int bytes_received;
    int processing;
    int active_connections;
    int msgs_per_second;
    int services_up, services_late, services_dead;
    int transitions_up, transitions_late, transitions_dead;
    int alerts_sent, alerts_failed, alerts_retried, alerts_dropped, alerts_queued;
    int err_line_too_long, err_bad_request, err_bad_interval, err_unknown_command;
    int err_output_overflow, err_udp_too_long, err_udp_bad, err_accept, err_too_many_clients;
    int err_too_many_services;
    int err_invalid_utf8;
    int err_too_many_instances;
    int err_auth, err_too_many_clients_per_ip, err_new_services_per_ip;
    int new_services; /* hbd_new_services_total */
    int closed_idle;
    int store_dropped;
    int services_dropped;         /* services left out of the per-service series */
    struct hbd_service_row *rows; /* the per-service series of the scrape in progress */
    size_t nrows, caprows;
    atomic_uint max_rows; /* metrics_max_services, copied for the HTTP thread (no cfg reader) */
    int store_errors[GW_STORE_FAULTS]; /* hbd_store_errors_total{reason}; [NONE] unused */
    int store_failing, store_queued;
    int udp_dropped;
};

struct hbd {
    struct gw_daemon *daemon;
    _Atomic(struct hbd_config *) cfg;
    struct gw_snap_readers cfg_readers; /* threads that read cfg (config.c) */
    unsigned cfg_loops;                 /* worker loops already in cfg_readers */
    struct gw_ev_timer cfg_reclaim;     /* frees retired snapshots once readers passed */
    struct hbd_metrics m;
    struct hbd_registry *reg;
    struct hbd_alerter *alerter;
    struct gw_store *store;
    struct gw_httpd *httpd;
    struct gw_workers *workers; /* server.c */
    /* The same, published for other threads (a worker answering STATUS may run before
     * gw_workers_start has returned to the main thread). */
    _Atomic(struct gw_workers *) workers_any;
    struct hbd_sources *sources; /* guard.c: per-address counts */
    atomic_ulong new_services;   /* created since the last summary (main.c logs it) */
    uint64_t new_services_logged_ms;
    unsigned nworkers;
    enum gw_conn_io io; /* the workers' I/O backend ([hbd] io) */
    struct gw_addr listen_addr;
    char listen_str[GW_ADDR_STRLEN];
    char http_str[GW_ADDR_STRLEN];
    int udp;
    struct gw_ev_timer sweep_timer;
    struct gw_ev_timer rate_timer;
    uint64_t rate_last_msgs;
    uint64_t rate_last_ms;
    uint64_t started_ms;
    char hostname[256];
    char store_path[4096];
    uint64_t store_episodes; /* the store's fault episodes already logged (main thread) */
    int store_failing;       /* as last logged (main thread) */
    struct gw_store_stats store_at_fault; /* counters when the episode was logged */
};

/* config.c */
struct hbd_config *hbd_config_new(const struct gw_conf *c, char *err);
/* Frees cfg and the retired snapshots chained to it (at exit, once no reader runs). */
void hbd_config_free(struct hbd_config *cfg);
/* At exit, after the workers and the alert thread: frees the current snapshot, its chain and
 * the reader set. */
void hbd_config_stop(struct hbd *h);
static inline struct hbd_config *
hbd_cfg(struct hbd *h)
{
    return atomic_load_explicit(&h->cfg, memory_order_acquire);
}
int hbd_reload(void *arg, const struct gw_conf *c, char *err);

/* proto.c: the request line parser (no I/O, fuzzed). */
enum hbd_req_kind {
    HBD_REQ_EMPTY, /* a blank line: ignored, as Redis ignores empty inline commands */
    HBD_REQ_PING,
    HBD_REQ_HB,
    HBD_REQ_STATUS,
    HBD_REQ_QUIT,
    HBD_REQ_AUTH,
    HBD_REQ_ERROR,
};

#define HBD_MAX_NAME 128
#define HBD_MAX_LABELS 16
#define HBD_MAX_LABEL_BYTES 128

struct hbd_label {
    const char *key, *value; /* point into the line, NUL-terminated in place */
};

/* The errors hbd counts, each with its hbd_errors_total{kind} label, its reply and its series
 * id in struct hbd_metrics: one row of hbd_errs[] (proto.c). */
enum hbd_err {
    HBD_ERR_LINE_TOO_LONG,
    HBD_ERR_BAD_REQUEST,
    HBD_ERR_BAD_INTERVAL,
    HBD_ERR_UNKNOWN_COMMAND,
    HBD_ERR_OUTPUT_OVERFLOW,
    HBD_ERR_UDP_TOO_LONG,
    HBD_ERR_UDP_BAD,
    HBD_ERR_ACCEPT,
    HBD_ERR_TOO_MANY_CLIENTS,
    HBD_ERR_TOO_MANY_SERVICES,
    HBD_ERR_INVALID_UTF8,
    HBD_ERR_TOO_MANY_INSTANCES,
    HBD_ERR_AUTH,
    HBD_ERR_TOO_MANY_CLIENTS_PER_IP,
    HBD_ERR_NEW_SERVICES_PER_IP,
    HBD_ERR_COUNT
};

struct hbd_err_kind {
    const char *label;    /* "line_too_long" */
    const char *reply;    /* after "ERR ": the one reply of this kind, or NULL (several: the
                             parser's reason; none: closed, UDP, accept) */
    size_t series_offset; /* offsetof(struct hbd_metrics, <its series id>) */
};

extern const struct hbd_err_kind hbd_errs[HBD_ERR_COUNT];

/* Counts one error of kind e. Any thread. */
void hbd_count_error(struct hbd *h, enum hbd_err e);

struct hbd_req {
    enum hbd_req_kind kind;
    const char *error;       /* HBD_REQ_ERROR: the reason after "ERR " */
    enum hbd_err error_kind; /* HBD_REQ_ERROR: what it counts as */
    const char *service;
    const char *instance; /* "" when none */
    uint64_t interval_ms; /* 0 = default */
    unsigned min_up;      /* 0 = default */
    const char *token;    /* AUTH <token>, or HB token=<token>; NULL when none */
    struct hbd_label labels[HBD_MAX_LABELS];
    unsigned nlabels;
};

/* Parses one line (without its line ending) in place: line[len] must be writable (it gets
 * NUL bytes). Never fails: malformed lines give HBD_REQ_ERROR with a reason. */
void hbd_proto_parse(char *line, size_t len, struct hbd_req *req);

/* registry.c: services and their instances; thread-safe (sharded locks). */
enum hbd_state { HBD_NEW = 0, HBD_UP, HBD_LATE, HBD_DEAD, HBD_FORGOTTEN };
const char *hbd_state_name(enum hbd_state s);
int hbd_state_parse(const char *name);

struct hbd_registry *hbd_registry_new(struct hbd *h);
void hbd_registry_free(struct hbd_registry *r);
/* Records a heartbeat; returns the service's heartbeat count (the OK sequence number) or 0 when
 * refused (*why set: HBD_ERR_TOO_MANY_SERVICES, HBD_ERR_TOO_MANY_INSTANCES, or
 * HBD_ERR_NEW_SERVICES_PER_IP: a new service past new_services_per_ip from addr's address). addr is
 * the sender. Reaching max_services is logged once per episode (until the count is below it again,
 * seen by the sweep). Any thread. */
uint64_t hbd_registry_beat(struct hbd_registry *r, const struct hbd_req *req, const char *addr,
                           enum hbd_err *why);
/* Moves silent instances/services along up -> late -> dead -> forgotten. Main thread. */
void hbd_registry_sweep(struct hbd_registry *r);
/* Reads the watch list back from the store (at start, before the workers): every service and
 * instance with its state, interval, min_up, labels and last beat, without emitting a
 * transition. Main thread; 0 or -1 with err. */
int hbd_registry_restore(struct hbd_registry *r, char *err);
/* Drops a service now (and its rows in the watch list); 0 or -1 when unknown. */
int hbd_registry_forget(struct hbd_registry *r, const char *name);
struct hbd_counts {
    unsigned total, up, late, dead;
};
/* O(1) and lock-free (per-state counters kept on each transition). Any thread. */
void hbd_registry_counts(struct hbd_registry *r, struct hbd_counts *c);
/* {"services":[...]} filtered by state (-1: all) and name (NULL: all). */
json_t *hbd_registry_json(struct hbd_registry *r, int state, const char *name);
/* Calls fn for each service under its shard's lock (fn must not call into the registry): its
 * name, state and the milliseconds since its last heartbeat. Any thread. */
typedef void (*hbd_registry_fn)(void *arg, const char *name, enum hbd_state state,
                                uint64_t silent_ms);
void hbd_registry_each(struct hbd_registry *r, hbd_registry_fn fn, void *arg);
/* The names of the services in state (-1: all), sorted; *n of them. The caller frees each and
 * the array. NULL when out of memory. Any thread. */
char **hbd_registry_names(struct hbd_registry *r, int state, size_t *n);
/* One service as in hbd_registry_json, or NULL when it is gone or no longer in state (-1:
 * any). Any thread. */
json_t *hbd_registry_service(struct hbd_registry *r, const char *name, int state);
/* Rows for the stats page, dead first, then late, new and up, each by name; at most max, with
 * *more set to how many were left out. Any thread. */
json_t *hbd_registry_page(struct hbd_registry *r, size_t max, size_t *more);

/* alert.c: webhook delivery on its own thread. */
struct hbd_alerter *hbd_alerter_start(struct hbd *h, char *err);
/* Queues one JSON document for every alert_url; steals doc. Any thread, never blocks. */
void hbd_alerter_send(struct hbd_alerter *a, json_t *doc);
/* Delivers what is queued for at most grace_ms, then stops the thread. */
void hbd_alerter_stop(struct hbd_alerter *a, uint64_t grace_ms);

/* server.c: the TCP/UDP protocol on lib/worker. Main thread unless noted. */
/* guard.c. Tokens: loaded from path (0, or -1 with err naming file and line); the entry of
 * token (constant time over all entries) or NULL; whether a glob (NULL: any) allows service. */
int hbd_tokens_load(const char *path, struct hbd_tokens *t, char *err);
/* The parser of hbd_tokens_load, on an open stream (fuzzed); path names it in errors. */
int hbd_tokens_parse(FILE *f, const char *path, struct hbd_tokens *t, char *err);
void hbd_tokens_free(struct hbd_tokens *t);
const struct hbd_token *hbd_tokens_find(const struct hbd_tokens *t, const char *token);
int hbd_token_allows(const char *glob, const char *service);
/* Sources: client addresses without their port (gw_net_addr_host). Thread-safe. open: 0
 * counted, 1 allowed but not counted (table full, no limit), -1 refused (max connections from
 * ip; 0: no limit); close undoes a counted open. new_service: 0 allowed (counted in ip's
 * minute), -1 past per_minute (0: no limit). sweep frees entries without connections whose
 * minute is over (main thread). */
struct hbd_sources *hbd_sources_new(void);
void hbd_sources_free(struct hbd_sources *s);
int hbd_sources_open(struct hbd_sources *s, const char *ip, unsigned max);
void hbd_sources_close(struct hbd_sources *s, const char *ip);
int hbd_sources_new_service(struct hbd_sources *s, const char *ip, unsigned per_minute,
                            uint64_t now_ms);
void hbd_sources_sweep(struct hbd_sources *s, uint64_t now_ms);

/* Starts the workers (logged on failure, and each worker that fell back to epoll); 0 or -1. */
int hbd_server_start(struct hbd *h);
/* Asks every worker to stop accepting and to close connections once their replies are out. */
void hbd_server_drain(struct hbd *h);
/* Stops and joins the workers; safe when they never started. */
void hbd_server_stop(struct hbd *h);
/* A reload published a new config snapshot. */
void hbd_server_reloaded(struct hbd *h);
/* Collects the clients of every worker, then replies to the control request. */
struct gw_ctl_req;
void hbd_clients(struct hbd *h, struct gw_ctl_req *r);
/* The backend `[hbd] io` asks for (enum gw_conn_io), or -1 (logged) when it cannot be used. */
int hbd_io_select(const char *want);
/* "io_uring", "epoll", or "io_uring+epoll" when some workers fell back. Any thread. */
const char *hbd_io_in_use(const struct hbd *h);
/* TCP connections open. Any thread. */
unsigned hbd_conns(const struct hbd *h);

/* metrics.c */
int hbd_metrics_init(struct hbd *h, char *err);
/* Frees the registry of series and the per-service rows (at exit, after the HTTP thread). */
void hbd_metrics_free(struct hbd *h);
/* A reload published a new config snapshot (main thread). */
void hbd_metrics_reloaded(struct hbd *h);
/* The tables hbd writes (NULL-terminated), for gw_store_open. */
extern const struct gw_store_table *const hbd_store_tables[];
/* main.c opens the store with the three arguments of the days before table modules: this names
 * hbd's tables for it, until it passes hbd_store_tables itself. */
/* The state-change bookkeeping shared by the HB path and the sweep: counts, logs, stores,
 * alerts. Any thread. */
void hbd_emit_transition(struct hbd *h, const char *service, const char *instance,
                         enum hbd_state from, enum hbd_state to, json_t *service_json);
/* What heartbeat_events.detail tells of a change: since when the service or instance was in
 * its previous state, and its latest heartbeat (wall-clock ms; 0: unknown). */
struct hbd_transition_times {
    int64_t from_since_ms;
    int64_t last_beat_ms;
};
/* hbd_emit_transition with the times for the stored row (times may be NULL). */
void hbd_emit_transition_at(struct hbd *h, const char *service, const char *instance,
                            enum hbd_state from, enum hbd_state to, json_t *service_json,
                            const struct hbd_transition_times *times);

/* Logs a store fault episode once when it begins and once when writes resume; main thread,
 * every second. */
void hbd_store_watch(struct hbd *h);
/* /readyz check "store": not ready while writes fail. Any thread. */
int hbd_store_ready(void *arg, char *detail, size_t len);

/* ctl.c */
extern const struct gw_ctl_cmd hbd_ctl_cmds[];
json_t *hbd_status(void *arg);
json_t *hbd_health(void *arg);
void hbd_status_line(struct hbd *h, char *buf, size_t len);

/* schema.c */
#include "hbd/hbd_schema.h"

#endif
