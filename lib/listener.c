/*
 * listener.c -- the accept loop shared by every server socket: a budget per readiness event,
 * and a timed pause instead of a spin when accept() cannot succeed.
 *
 * A paused listener stays registered with the loop but watches no events (gw_ev_mod(fd, 0)),
 * so resuming is a single epoll_ctl and a failed one leaves the registration intact to retry.
 * Callbacks may stop the listener: entries from the loop are bracketed by enter()/leave(), and a
 * stopped listener is freed by the outermost leave().
 */
#include "listener.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "net.h"

struct gw_listener {
    struct gw_ev *ev;
    int fd;
    int own_fd;
    gw_listener_accept_fn on_accept;
    gw_listener_error_fn on_error;
    void *arg;
    unsigned budget;
    unsigned pause_ms;
    struct gw_ev_timer resume; /* armed while backing off */
    unsigned watching : 1;     /* GW_EV_READ registered */
    unsigned stopped : 1;      /* gw_listener_stop ran; freed at the last leave() */
    int depth;                 /* nesting of enter() */
};

static void
enter(struct gw_listener *l)
{
    l->depth++;
}

/* l may be gone when it returns. */
static void
leave(struct gw_listener *l)
{
    if (--l->depth == 0 && l->stopped)
        free(l);
}

static void
report(struct gw_listener *l, enum gw_listener_error what, int errnum)
{
    if (l->on_error && !l->stopped)
        l->on_error(l, what, errnum, l->arg);
}

static void
unwatch(struct gw_listener *l)
{
    if (l->watching)
        gw_ev_mod(l->ev, l->fd, 0);
    l->watching = 0;
}

static int
watch(struct gw_listener *l)
{
    if (!l->watching && gw_ev_mod(l->ev, l->fd, GW_EV_READ) == -1)
        return -1;
    l->watching = 1;
    return 0;
}

/* The pending connections wait in the backlog meanwhile. If the timer cannot be armed (out of
 * memory) the listener stays watched: retrying beats never accepting again. */
static void
back_off(struct gw_listener *l)
{
    if (gw_ev_timer_start(l->ev, &l->resume, l->pause_ms) == 0)
        unwatch(l);
}

static void
on_resume(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct gw_listener *l = arg;
    int e;

    if (watch(l) == 0)
        return;
    e = errno;
    gw_ev_timer_start(ev, t, l->pause_ms);
    enter(l);
    report(l, GW_LISTENER_ERR_RESUME, e);
    leave(l);
}

/* accept4() errors that concern only the connection at hand (Linux passes pending network
 * errors on through accept, see accept(2)): go on with the next one. */
static int
connection_error(int e)
{
    static const int errs[] = {EPROTO, EPERM,        ENETDOWN,   ENOPROTOOPT, EHOSTDOWN,
                               ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH};

    for (size_t i = 0; i < GW_ARRAY_LEN(errs); i++)
        if (e == errs[i])
            return 1;
    return 0;
}

/* Accepts one connection; returns 0 to go on, -1 when nothing more is to be accepted now. */
static int
accept_one(struct gw_listener *l)
{
    struct sockaddr_storage peer;
    socklen_t len = 0;
    int fd = gw_net_accept(l->fd, &peer, &len), e;

    if (fd != -1) {
        l->on_accept(l, fd, (const struct sockaddr *)&peer, len, l->arg);
        return 0;
    }
    e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK)
        return -1;
    if (e == ECONNABORTED)
        return 0;
    if (connection_error(e)) {
        report(l, GW_LISTENER_ERR_CONN, e);
        return 0;
    }
    back_off(l);
    report(l, GW_LISTENER_ERR_PAUSED, e);
    return -1;
}

static void
on_ready(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    struct gw_listener *l = arg;

    (void)ev;
    (void)fd;
    (void)events;
    enter(l);
    for (unsigned i = 0; i < l->budget && l->watching && !l->stopped; i++)
        if (accept_one(l) == -1)
            break;
    leave(l);
}

struct gw_listener *
gw_listener_new(struct gw_ev *ev, int fd, const struct gw_listener_opts *o, char *err)
{
    struct gw_listener *l;

    if (o == NULL || o->on_accept == NULL) {
        gw_err(err, "listener: no accept callback");
        return NULL;
    }
    if ((l = calloc(1, sizeof(*l))) == NULL) {
        gw_err(err, "out of memory");
        return NULL;
    }
    l->ev = ev;
    l->fd = fd;
    l->own_fd = o->own_fd != 0;
    l->on_accept = o->on_accept;
    l->on_error = o->on_error;
    l->arg = o->arg;
    l->budget = o->budget ? o->budget : GW_LISTENER_BUDGET;
    l->pause_ms = o->pause_ms ? o->pause_ms : GW_LISTENER_PAUSE_MS;
    gw_ev_timer_init(&l->resume, on_resume, l);
    if (gw_ev_add(ev, fd, GW_EV_READ, on_ready, l, err) == -1) {
        free(l);
        return NULL;
    }
    l->watching = 1;
    return l;
}

void
gw_listener_pause(struct gw_listener *l)
{
    gw_ev_timer_stop(l->ev, &l->resume);
    unwatch(l);
}

int
gw_listener_resume(struct gw_listener *l, char *err)
{
    gw_ev_timer_stop(l->ev, &l->resume);
    if (watch(l) == -1)
        return gw_err_errno(err, "cannot watch listener fd %d", l->fd);
    return 0;
}

int
gw_listener_paused(const struct gw_listener *l)
{
    return !l->watching;
}

int
gw_listener_fd(const struct gw_listener *l)
{
    return l->fd;
}

void
gw_listener_stop(struct gw_listener *l)
{
    if (l == NULL || l->stopped)
        return;
    l->stopped = 1;
    gw_ev_timer_stop(l->ev, &l->resume);
    gw_ev_del(l->ev, l->fd);
    l->watching = 0;
    if (l->own_fd)
        close(l->fd);
    enter(l);
    leave(l);
}
