/*
 * ev.h -- one epoll event loop per thread: fd events, timers, cross-thread wake-up, signals.
 *
 * A loop belongs to the thread that runs it; every function here must be called from that
 * thread, except gw_ev_wake() and gw_ev_stop(), which any thread may call.
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

/* Frees the loop. Registered fds are not closed; armed timers are forgotten. */
void gw_ev_free(struct gw_ev *ev);

/* Watches fd for events (GW_EV_READ | GW_EV_WRITE); replaces a previous registration of the
 * same fd. Level-triggered. Returns 0, or -1 with err set. */
int gw_ev_add(struct gw_ev *ev, int fd, unsigned events, gw_ev_io_fn fn, void *arg, char *err);

/* Changes the events watched on a registered fd. Returns 0 or -1 (errno set). */
int gw_ev_mod(struct gw_ev *ev, int fd, unsigned events);

/* Stops watching fd. Call before close(fd). Events already fetched for fd in the current
 * iteration are not delivered after this. */
void gw_ev_del(struct gw_ev *ev, int fd);

/* The loop's cached monotonic time in ms, updated once per iteration. */
uint64_t gw_ev_now_ms(const struct gw_ev *ev);

/* Refreshes the cached time (for long callbacks). */
uint64_t gw_ev_update_time(struct gw_ev *ev);

/* Initialises a timer; it is not armed. */
void gw_ev_timer_init(struct gw_ev_timer *t, gw_ev_timer_fn fn, void *arg);

/* Arms t to fire once, after_ms from the cached now; re-arms if already armed. */
void gw_ev_timer_start(struct gw_ev *ev, struct gw_ev_timer *t, uint64_t after_ms);

/* Disarms t; harmless if it is not armed. */
void gw_ev_timer_stop(struct gw_ev *ev, struct gw_ev_timer *t);

static inline int
gw_ev_timer_armed(const struct gw_ev_timer *t)
{
    return t->heap_index != 0;
}

/* Number of armed timers. */
size_t gw_ev_timer_count(const struct gw_ev *ev);

/* Runs fn(ev, arg) once after the current iteration's callbacks, on the loop thread: the place
 * to free a connection closed from inside its own callback. Returns 0 or -1 (out of memory). */
int gw_ev_defer(struct gw_ev *ev, gw_ev_fn fn, void *arg);

/* Sets the callback run on the loop thread after gw_ev_wake(). */
void gw_ev_on_wake(struct gw_ev *ev, gw_ev_fn fn, void *arg);

/* Wakes the loop from any thread; several wakes before the loop runs coalesce into one
 * callback. Async-signal-safe. */
void gw_ev_wake(struct gw_ev *ev);

/* Blocks the given signals (0-terminated list) in the calling thread, and so in threads it
 * creates afterwards. Call in main() before starting threads, then gw_ev_signals(). */
int gw_ev_block_signals(const int *signals, char *err);

/* Delivers the given signals (0-terminated list, already blocked) through a signalfd on this
 * loop. Returns 0 or -1 with err set. */
int gw_ev_signals(struct gw_ev *ev, const int *signals, gw_ev_signal_fn fn, void *arg, char *err);

/* Runs the loop until gw_ev_stop(). Returns 0, or -1 if epoll_wait failed. */
int gw_ev_run(struct gw_ev *ev);

/* One iteration: waits at most timeout_ms (-1 = until an event or the next timer), dispatches,
 * runs deferred calls. Returns the number of fd events dispatched, or -1. */
int gw_ev_run_once(struct gw_ev *ev, int timeout_ms);

/* Makes gw_ev_run() return after the current iteration. Any thread may call it. */
void gw_ev_stop(struct gw_ev *ev);

#endif
