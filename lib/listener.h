/*
 * listener.h -- the accept loop: one listening socket on one gw_ev loop, handing each new
 * connection to a callback, and backing off when the process runs out of descriptors.
 *
 * Each readiness event accepts at most `budget` connections, so a flood of connections cannot
 * starve the loop's other work (the rest wait for the next iteration: the fd is level-triggered).
 * When accept() fails for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), or
 * with any error that is not about a single connection (EINVAL, EBADF, ...), the listener stops
 * watching its fd and watches it again pause_ms later: pending connections wait in the listen
 * backlog meanwhile and the loop does not spin (relayd's control_accept, nginx's
 * ngx_disable_accept_events). Errors about the connection at hand (the ones Linux passes on
 * from the network: EPROTO, EHOSTUNREACH, EPERM from a firewall, ...) skip that connection.
 *
 * Every function must be called from the loop's thread (or, before the loop runs or after its
 * thread has ended, from the thread that owns the loop). Callbacks run on the loop thread.
 */
#ifndef GW_LISTENER_H
#define GW_LISTENER_H

#include <sys/socket.h>

#include "ev.h"
#include "util.h"

/* Defaults for the options left at 0. */
#define GW_LISTENER_BUDGET 64
#define GW_LISTENER_PAUSE_MS 100

struct gw_listener;

/* What the error callback reports. */
enum gw_listener_error {
    /* accept() failed for one connection (EPROTO, EHOSTUNREACH, ...): it was skipped and the
     * next one is tried. ECONNABORTED (the client left first) is skipped without a report. */
    GW_LISTENER_ERR_CONN,
    /* accept() failed with errnum (out of descriptors or memory, or unexpected): the listener
     * is paused for pause_ms, then resumes by itself. */
    GW_LISTENER_ERR_PAUSED,
    /* Watching the fd again after a pause failed (errnum from epoll_ctl): retried pause_ms
     * later. */
    GW_LISTENER_ERR_RESUME,
};

/* A new connection: fd is non-blocking and close-on-exec, and belongs to the callback (close it
 * to refuse the connection). peer is the client's address (peer_len bytes; an unnamed unix
 * client gives just the address family). The callback may pause, resume or stop l. */
typedef void (*gw_listener_accept_fn)(struct gw_listener *l, int fd, const struct sockaddr *peer,
                                      socklen_t peer_len, void *arg);

/* A failure (see enum gw_listener_error), so the owner can log or count it; errnum is the
 * errno. The listener has already acted on it. The callback may call gw_listener_stop on l. */
typedef void (*gw_listener_error_fn)(struct gw_listener *l, enum gw_listener_error what, int errnum,
                                     void *arg);

struct gw_listener_opts {
    gw_listener_accept_fn on_accept; /* required */
    gw_listener_error_fn on_error;   /* NULL: failures are handled silently */
    void *arg;                       /* passed to both callbacks */
    unsigned budget;                 /* accepts per readiness event; 0: GW_LISTENER_BUDGET */
    unsigned pause_ms;               /* back-off after a failure; 0: GW_LISTENER_PAUSE_MS */
    int own_fd;                      /* 1: gw_listener_stop closes the fd */
};

/* Starts watching fd, a listening socket (non-blocking, as gw_net_listen_tcp/unix make them),
 * on ev. o is copied. The fd is owned by the listener only when o->own_fd is set and this
 * succeeds; on failure it is left to the caller, open. Returns the listener, or NULL with err
 * (no accept callback, fd cannot be watched, out of memory). */
struct gw_listener *gw_listener_new(struct gw_ev *ev, int fd, const struct gw_listener_opts *o,
                                    char *err);

/* Stops accepting until gw_listener_resume(); cancels a back-off in progress (its timer would
 * otherwise resume). New connections wait in the listen backlog. Harmless when paused. */
void gw_listener_pause(struct gw_listener *l);

/* Accepts again from the next loop iteration, also ending a back-off early. Returns 0, or -1
 * with err when the fd cannot be watched (the listener stays paused). */
int gw_listener_resume(struct gw_listener *l, char *err);

/* 1 while not accepting: paused by the owner, or backing off after a failure. */
int gw_listener_paused(const struct gw_listener *l);

/* The listening fd. */
int gw_listener_fd(const struct gw_listener *l);

/* Stops watching the fd, disarms the back-off timer, closes the fd when owned, and frees l,
 * which must not be used afterwards. Safe from inside the listener's own callbacks (it then
 * accepts nothing more and is freed when the callback returns). Call it before gw_ev_free().
 * NULL is a no-op. */
void gw_listener_stop(struct gw_listener *l);

#endif
