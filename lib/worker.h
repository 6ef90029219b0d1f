/*
 * worker.h -- a daemon's network threads: N workers, each with its own gw_ev loop, its own
 * connection loop (lib/conn.h, epoll or io_uring) and its own SO_REUSEPORT listener, so the
 * kernel spreads the accepts and a connection never changes thread.
 *
 * The daemon gives a protocol (struct gw_conn_proto) for accepted connections and optional
 * hooks; it gets the threads, the start handshake (each worker's backend is set up on its own
 * thread, and gw_workers_start() returns once every worker serves or one failed), a limit on
 * connections across workers, posts to one worker or to all with a collected answer, drain
 * and stop.
 *
 * Threads: gw_workers_* functions are called by the thread that started the workers (the
 * main thread) unless noted; hooks run on the worker's thread; gw_worker_* getters may be
 * called from any thread once gw_workers_start() returned.
 */
#ifndef GW_WORKER_H
#define GW_WORKER_H

#include <stdint.h>

#include "conn.h"
#include "ev.h"
#include "listener.h"
#include "net.h"

struct gw_workers;
struct gw_worker;

struct gw_worker_opts {
    unsigned count;               /* threads; 0: gw_ncpus() */
    enum gw_conn_io io;           /* AUTO: io_uring where gw_conn_uring_probe() passes; a worker
                                   * whose ring cannot be made serves on epoll (gw_worker_fallback) */
    const struct gw_addr *listen; /* TCP, bound by each worker with SO_REUSEPORT; NULL: none */
    int backlog;                  /* 0: 1024 */
    unsigned max_conns;           /* accepted connections open across workers; 0: no limit */
    const struct gw_conn_proto *proto; /* of accepted connections (required with listen) */
    void *arg; /* the user pointer of accepted connections, and every hook's arg */

    /* All optional; on the worker's thread. */
    /* After the worker's loops exist, before it serves: add sockets or timers to
     * gw_worker_ev(w). 0, or -1 with err (the start fails). */
    int (*on_start)(struct gw_worker *w, void *arg, char *err);
    /* At gw_workers_drain(), before the connections are finished: stop other inputs. */
    void (*on_drain)(struct gw_worker *w, void *arg);
    /* After the loop ended and the connections still open were closed (on_close with
     * GW_CONN_SHUTDOWN), before the gw_ev loop is freed: release what on_start made. Also
     * called when on_start failed after it ran. */
    void (*on_stop)(struct gw_worker *w, void *arg);
    /* max_conns reached: fd is the refused connection, to write a refusal on (non-blocking);
     * the worker closes it afterwards. */
    void (*on_refuse)(struct gw_worker *w, int fd, void *arg);
    /* The listener reported a failure (see listener.h); it has acted already. */
    void (*on_accept_error)(struct gw_worker *w, enum gw_listener_error what, int errnum,
                            void *arg);
    /* A notice of the worker's connection loop (see gw_conn_loop_on_notice), to log. */
    void (*on_notice)(struct gw_worker *w, const char *msg, void *arg);
    /* An accepted connection could not be set up (err says why); it was closed. */
    void (*on_adopt_error)(struct gw_worker *w, const char *err, void *arg);
};

/* Starts o->count workers (o is copied; o->listen, o->proto and o->arg must outlive them)
 * and waits until each serves. On failure stops those already started and returns NULL with
 * err set ("io_uring: io_uring_setup: ...", "listen ...") and *failed the failing worker's
 * index (failed may be NULL). */
struct gw_workers *gw_workers_start(const struct gw_worker_opts *o, unsigned *failed, char *err);

/* Stops accepting (each worker's listener is closed), calls on_drain, and finishes every
 * connection: those with output owed get it, then close (gw_conn_loop_drain). Returns at once;
 * the workers keep running until gw_workers_stop(). Cannot fail (no allocation). */
void gw_workers_drain(struct gw_workers *ws);

/* Stops every worker, joins its thread (connections still open are closed on it, on_stop
 * runs) and frees everything. NULL is a no-op. */
void gw_workers_stop(struct gw_workers *ws);

unsigned gw_workers_count(const struct gw_workers *ws);
struct gw_worker *gw_workers_get(const struct gw_workers *ws, unsigned index);

/* "io_uring", "epoll", or "io_uring+epoll" when some workers fell back. Any thread. */
const char *gw_workers_backend(const struct gw_workers *ws);

/* Accepted connections open across workers. Any thread. */
unsigned gw_workers_conns(const struct gw_workers *ws);

/* Changes max_conns (a reload). Any thread. */
void gw_workers_set_max_conns(struct gw_workers *ws, unsigned max_conns);

/* Runs fn(gw_worker_ev(w), arg) on w's thread (gw_ev_post). Returns 0, or -1 when out of
 * memory (fn will not run; arg is still the caller's). Any thread. */
int gw_worker_post(struct gw_worker *w, gw_ev_fn fn, void *arg);

/* Post-to-all with a collected answer (a `clients`-style control command).
 * ask(w, arg) runs on each worker's thread and returns its part (any pointer, NULL allowed).
 * done(parts, n, arg) then runs once on reply_ev's thread, when every worker has answered or
 * timeout_ms after the call, whichever comes first: parts[i] is worker i's part, or NULL when
 * it did not answer in time or a post failed. done owns the parts it was given (free them
 * there). A part that comes after done is passed to free_part (may be NULL when parts need no
 * freeing). Must be called on reply_ev's thread. Returns 0, or -1 with err when nothing could
 * be started (out of memory); done is then not called. reply_ev must outlive the workers (a
 * worker may still be inside its post to it); a worker stuck for good keeps the request's
 * small state until it answers. */
typedef void *(*gw_worker_ask_fn)(struct gw_worker *w, void *arg);
typedef void (*gw_worker_done_fn)(void **parts, unsigned n, void *arg);
int gw_workers_ask(struct gw_workers *ws, struct gw_ev *reply_ev, uint64_t timeout_ms,
                   gw_worker_ask_fn ask, gw_worker_done_fn done, void (*free_part)(void *part),
                   void *arg, char *err);

/* A worker's index (0..count-1), loops and backend. gw_worker_ev and gw_worker_loop may only
 * be used on the worker's thread (or through gw_worker_post): outgoing connections of a
 * worker (a proxy's backends) are made there, with gw_conn_connect(gw_worker_loop(w), ...),
 * from on_start, a posted call or a connection callback. A connection pointer must not cross
 * threads: to act on connections from another thread (resume reading once a queue has
 * room), post a call that finds them on the worker (gw_conn_loop_each). */
unsigned gw_worker_index(const struct gw_worker *w);
struct gw_ev *gw_worker_ev(const struct gw_worker *w);
struct gw_conn_loop *gw_worker_loop(const struct gw_worker *w);
const char *gw_worker_backend(const struct gw_worker *w);
/* Why this worker serves on epoll though io_uring was chosen (its ring could not be made),
 * or NULL. Any thread after start. */
const char *gw_worker_fallback(const struct gw_worker *w);
/* A pointer for the daemon's per-worker state (set it in on_start). Worker's thread. */
void gw_worker_set_data(struct gw_worker *w, void *data);
void *gw_worker_data(const struct gw_worker *w);
/* The worker of a connection loop (NULL for a loop not made by a worker). */
struct gw_worker *gw_worker_of(const struct gw_conn_loop *l);

/* Per-worker counters. Any thread. */
struct gw_worker_counters {
    uint64_t accepted; /* connections adopted */
    uint64_t refused;  /* refused at max_conns */
    unsigned active;   /* accepted connections open now */
};
void gw_worker_counters(const struct gw_worker *w, struct gw_worker_counters *out);

#endif
