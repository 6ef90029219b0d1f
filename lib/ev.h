/*
 * ev.h -- one epoll event loop per thread: fd events, timers, cross-thread wake-up, signals.
 *
 * A loop belongs to the thread that runs it; every function here must be called from that
 * thread, except gw_ev_wake(), gw_ev_post() and gw_ev_stop(), which any thread may call.
 *
 * Timers live in a binary min-heap ordered by deadline (O(log n) start and stop); the epoll
 * timeout is the nearest deadline. Timer structs are embedded in the caller's objects and
 * owned by them; a timer may be stopped, restarted or freed from inside any callback,
 * including its own.
 */
#ifndef GW_EV_H
#define GW_EV_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct gw_ev;
struct gw_ev_timer;

#define GW_EV_READ 0x1u
#define GW_EV_WRITE 0x2u
/* Reported with READ or WRITE when the peer hung up or the fd is in error. */
#define GW_EV_ERROR 0x4u

typedef void (*gw_ev_io_fn)(struct gw_ev *ev, int fd, unsigned events, void *arg);
typedef void (*gw_ev_timer_fn)(struct gw_ev *ev, struct gw_ev_timer *t, void *arg);
typedef void (*gw_ev_fn)(struct gw_ev *ev, void *arg);
typedef void (*gw_ev_signal_fn)(struct gw_ev *ev, int signo, void *arg);

struct gw_ev_timer {
    uint64_t when_ms;  /* deadline on the loop's monotonic clock */
    size_t heap_index; /* position in the heap; 0 = not armed */
    gw_ev_timer_fn fn;
    void *arg;
};

/* Creates a loop (epoll + an eventfd for wake-ups). NULL on failure with err set. */
struct gw_ev *gw_ev_new(char *err);

/* Runs the pending deferred calls, then frees the loop. Registered fds are not closed; armed
 * timers are disarmed and forgotten. */
void gw_ev_free(struct gw_ev *ev);

/* Watches fd for events (GW_EV_READ | GW_EV_WRITE); replaces a previous registration of the
 * same fd (an event already fetched for it then goes to the new callback). Level-triggered.
 * An fd watching no events (0) stays registered but is kept out of epoll, so a hung-up peer
 * does not spin the loop. On a hang-up or error the callback gets GW_EV_ERROR plus the
 * watched events, so its read or write sees the condition. One callback call per fd per
 * iteration. Returns 0, or -1 with err set. */
int gw_ev_add(struct gw_ev *ev, int fd, unsigned events, gw_ev_io_fn fn, void *arg, char *err);

/* Changes the events watched on a registered fd. Returns 0 or -1 (errno set; ENOENT if the
 * fd is not registered). */
int gw_ev_mod(struct gw_ev *ev, int fd, unsigned events);

/* Stops watching fd. Call before close(fd). Events already fetched for fd in the current
 * iteration are not delivered after this, even if the fd number is reused and registered
 * again (accept) in the same iteration. Harmless on an fd that is not registered. */
void gw_ev_del(struct gw_ev *ev, int fd);

/* The loop's cached monotonic time in ms, updated once per iteration. */
uint64_t gw_ev_now_ms(const struct gw_ev *ev);

/* Refreshes the cached time (for long callbacks). */
uint64_t gw_ev_update_time(struct gw_ev *ev);

/* Initialises a timer; it is not armed. */
void gw_ev_timer_init(struct gw_ev_timer *t, gw_ev_timer_fn fn, void *arg);

/* Arms t to fire once, after_ms from the cached now (gw_ev_now_ms()); re-arms if already
 * armed. Never fires early: the epoll timeout is rounded up. Timers with equal deadlines fire
 * in no set order. A timer armed with 0 from a timer callback fires on the next iteration.
 * Returns 0, or -1 if the heap could not grow (out of memory; t stays unarmed). Re-arming an
 * armed timer never fails. */
int gw_ev_timer_start(struct gw_ev *ev, struct gw_ev_timer *t, uint64_t after_ms);

/* Disarms t; harmless if it is not armed. */
void gw_ev_timer_stop(struct gw_ev *ev, struct gw_ev_timer *t);

static inline int
gw_ev_timer_armed(const struct gw_ev_timer *t)
{
    return t->heap_index != 0;
}

/* Number of armed timers. */
size_t gw_ev_timer_count(const struct gw_ev *ev);

/* Runs fn(ev, arg) once after the current iteration's callbacks (fd events, then timers), on
 * the loop thread: the place to free a connection closed from inside its own callback. Calls
 * run in the order they were deferred; one deferred from a deferred call runs in the same pass.
 * Returns 0 or -1 (out of memory). */
int gw_ev_defer(struct gw_ev *ev, gw_ev_fn fn, void *arg);

/* Sets the callback run on the loop thread after gw_ev_wake(). Publish the data the callback
 * reads (an SPSC ring) before calling gw_ev_wake(). */
void gw_ev_on_wake(struct gw_ev *ev, gw_ev_fn fn, void *arg);

/* Wakes the loop from any thread; several wakes before the loop runs coalesce into one
 * callback. Async-signal-safe. */
void gw_ev_wake(struct gw_ev *ev);

/* Queues fn(ev, arg) to run on the loop's thread, after the calls posted before it. Any thread
 * may call it; it wakes the loop. Calls still queued when the loop is freed are dropped (their
 * arg is not freed). Returns 0, or -1 when out of memory. */
int gw_ev_post(struct gw_ev *ev, gw_ev_fn fn, void *arg);

/* Blocks the given signals (0-terminated list) in the calling thread, and so in threads it
 * creates afterwards. Call in main() before starting threads, then gw_ev_signals(). */
int gw_ev_block_signals(const int *signals, char *err);

/* Delivers the given signals (0-terminated list, already blocked) through a signalfd on this
 * loop: fn(ev, signo, arg) once per signal read (standard signals sent several times before the
 * loop reads them coalesce, as usual). A second call replaces the first. Returns 0 or -1 with
 * err set. */
int gw_ev_signals(struct gw_ev *ev, const int *signals, gw_ev_signal_fn fn, void *arg, char *err);

/* Runs the loop until gw_ev_stop(). Returns 0, or -1 if epoll_wait failed. A stop requested
 * before gw_ev_run() is entered makes it return at once; the stop request is
 * cleared on return, so the loop can be run again. */
int gw_ev_run(struct gw_ev *ev);

/* One iteration: waits at most timeout_ms (-1 = until an event or the next timer; 0 when
 * deferred calls are pending), dispatches fd events, fires due timers, runs deferred calls.
 * Returns the number of fd events fetched (internal wake-up and signal fds included), or -1
 * (errno set) if epoll_wait failed; EINTR counts as 0 events. */
int gw_ev_run_once(struct gw_ev *ev, int timeout_ms);

/* For a loop driven from another poller (hbd's io_uring workers): the epoll descriptor, which
 * is readable whenever a watched fd, a wake-up or a post is pending, and the ms the owner may
 * sleep before gw_ev_run_once(ev, 0) has timers or deferred calls to run (0: now; -1: no
 * timer armed). Refresh the cached time with gw_ev_update_time() while driving it so. */
int gw_ev_fd(const struct gw_ev *ev);
int gw_ev_timeout_ms(struct gw_ev *ev);

/* Makes gw_ev_run() return after the current iteration. Any thread may call it. */
void gw_ev_stop(struct gw_ev *ev);

#endif
