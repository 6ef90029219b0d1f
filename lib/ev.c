/*
 * ev.c -- one epoll event loop per thread: fd table, timer heap, deferred calls, eventfd
 * wake-up and signalfd signals.
 */
#include "ev.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define MIN_FDS 64
#define MIN_EVENTS 64
#define MAX_EVENTS 4096
#define MIN_TIMERS 64
#define MIN_DEFERS 16

/*
 * One slot per fd number. fn != NULL means registered. gen changes each time a free slot is
 * registered, and is stored with the fd in the epoll event, so an event fetched for an fd that
 * was deleted (and maybe closed and reused by accept) in the same batch is recognised as stale.
 */
struct fd_slot {
    gw_ev_io_fn fn;
    void *arg;
    unsigned events;
    uint32_t gen;
    int in_epoll; /* an fd watching no events is kept out of epoll: EPOLLHUP would spin */
};

struct defer {
    gw_ev_fn fn;
    void *arg;
};

struct gw_ev {
    int epfd;
    int wakefd;
    int sigfd;
    uint64_t now_ms;

    struct fd_slot *fds;
    size_t nfds;

    struct epoll_event *events;
    int nevents;

    struct gw_ev_timer **heap; /* 1-based: heap[1] is the nearest deadline */
    size_t ntimers;
    size_t heap_cap;

    struct defer *defers;
    size_t ndefers;
    size_t defers_cap;

    gw_ev_fn wake_fn;
    void *wake_arg;
    gw_ev_signal_fn sig_fn;
    void *sig_arg;

    atomic_int wake_pending;
    atomic_int stop;

    pthread_mutex_t post_mu;
    struct post *posts, **posts_tail; /* under post_mu, oldest first */
};

struct post {
    struct post *next;
    gw_ev_fn fn;
    void *arg;
};

static void wake_read(struct gw_ev *ev, int fd, unsigned events, void *arg);

struct gw_ev *
gw_ev_new(char *err)
{
    struct gw_ev *ev;

    if ((ev = calloc(1, sizeof(*ev))) == NULL)
        return gw_err(err, "out of memory"), NULL;
    ev->epfd = ev->wakefd = ev->sigfd = -1;
    atomic_init(&ev->wake_pending, 0);
    atomic_init(&ev->stop, 0);
    pthread_mutex_init(&ev->post_mu, NULL);
    ev->posts_tail = &ev->posts;
    ev->nevents = MIN_EVENTS;
    if ((ev->events = calloc((size_t)ev->nevents, sizeof(*ev->events))) == NULL) {
        gw_err(err, "out of memory");
        goto fail;
    }
    if ((ev->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
        gw_err_errno(err, "epoll_create1");
        goto fail;
    }
    if ((ev->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
        gw_err_errno(err, "eventfd");
        goto fail;
    }
    if (gw_ev_add(ev, ev->wakefd, GW_EV_READ, wake_read, NULL, err) == -1)
        goto fail;
    ev->now_ms = gw_mono_ms();
    return ev;
fail:
    gw_ev_free(ev);
    return NULL;
}

static void
run_defers(struct gw_ev *ev)
{
    size_t i;

    /* Deferred calls may defer more; they run in this same pass, in order. */
    for (i = 0; i < ev->ndefers; i++)
        ev->defers[i].fn(ev, ev->defers[i].arg);
    ev->ndefers = 0;
}

void
gw_ev_free(struct gw_ev *ev)
{
    size_t i;

    if (ev == NULL)
        return;
    run_defers(ev);
    for (i = 1; i <= ev->ntimers; i++)
        ev->heap[i]->heap_index = 0;
    if (ev->epfd != -1)
        close(ev->epfd);
    if (ev->wakefd != -1)
        close(ev->wakefd);
    if (ev->sigfd != -1)
        close(ev->sigfd);
    free(ev->fds);
    free(ev->events);
    free(ev->heap);
    free(ev->defers);
    while (ev->posts) {
        struct post *p = ev->posts;
        ev->posts = p->next;
        free(p);
    }
    pthread_mutex_destroy(&ev->post_mu);
    free(ev);
}

/* ---- fds ---- */

static uint32_t
to_epoll(unsigned events)
{
    return (events & GW_EV_READ ? EPOLLIN : 0) | (events & GW_EV_WRITE ? EPOLLOUT : 0);
}

static int
grow_fds(struct gw_ev *ev, int fd)
{
    size_t n = ev->nfds ? ev->nfds : MIN_FDS;
    struct fd_slot *p;

    while (n <= (size_t)fd)
        n *= 2;
    if ((p = realloc(ev->fds, n * sizeof(*p))) == NULL)
        return -1;
    memset(p + ev->nfds, 0, (n - ev->nfds) * sizeof(*p));
    ev->fds = p;
    ev->nfds = n;
    return 0;
}

/* Brings the kernel registration of fd in line with s->events. */
static int
sync_epoll(struct gw_ev *ev, int fd, struct fd_slot *s)
{
    struct epoll_event ee;

    memset(&ee, 0, sizeof(ee));
    ee.events = to_epoll(s->events);
    ee.data.u64 = (uint64_t)s->gen << 32 | (uint32_t)fd;
    if (s->events == 0) {
        if (s->in_epoll && epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL) == -1 && errno != ENOENT &&
            errno != EBADF)
            return -1;
        s->in_epoll = 0;
        return 0;
    }
    if (s->in_epoll) {
        if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, fd, &ee) == 0)
            return 0;
        /* The caller closed the fd without gw_ev_del() and the number came back. */
        if (errno != ENOENT)
            return -1;
    }
    if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &ee) == -1)
        return -1;
    s->in_epoll = 1;
    return 0;
}

int
gw_ev_add(struct gw_ev *ev, int fd, unsigned events, gw_ev_io_fn fn, void *arg, char *err)
{
    struct fd_slot *s, saved;

    if (fd < 0 || fn == NULL)
        return gw_err(err, "ev add: bad fd %d or no callback", fd);
    if ((size_t)fd >= ev->nfds && grow_fds(ev, fd) == -1)
        return gw_err(err, "ev add fd %d: out of memory", fd);
    s = &ev->fds[fd];
    saved = *s;
    if (s->fn == NULL) {
        s->gen++;
        s->in_epoll = 0;
    }
    s->fn = fn;
    s->arg = arg;
    s->events = events & (GW_EV_READ | GW_EV_WRITE);
    if (sync_epoll(ev, fd, s) == -1) {
        *s = saved;
        return gw_err_errno(err, "epoll_ctl fd %d", fd);
    }
    return 0;
}

int
gw_ev_mod(struct gw_ev *ev, int fd, unsigned events)
{
    struct fd_slot *s;
    unsigned old;

    if (fd < 0 || (size_t)fd >= ev->nfds || ev->fds[fd].fn == NULL) {
        errno = ENOENT;
        return -1;
    }
    s = &ev->fds[fd];
    old = s->events;
    s->events = events & (GW_EV_READ | GW_EV_WRITE);
    if (s->events == old && (old == 0) == !s->in_epoll)
        return 0;
    if (sync_epoll(ev, fd, s) == -1) {
        s->events = old;
        return -1;
    }
    return 0;
}

void
gw_ev_del(struct gw_ev *ev, int fd)
{
    struct fd_slot *s;

    if (fd < 0 || (size_t)fd >= ev->nfds || ev->fds[fd].fn == NULL)
        return;
    s = &ev->fds[fd];
    if (s->in_epoll)
        epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
    s->fn = NULL;
    s->arg = NULL;
    s->events = 0;
    s->in_epoll = 0;
}

/* ---- time ---- */

uint64_t
gw_ev_now_ms(const struct gw_ev *ev)
{
    return ev->now_ms;
}

uint64_t
gw_ev_update_time(struct gw_ev *ev)
{
    ev->now_ms = gw_mono_ms();
    return ev->now_ms;
}

/* ---- timers: binary min-heap, 1-based so heap_index 0 means unarmed ---- */

static void
heap_set(struct gw_ev *ev, size_t i, struct gw_ev_timer *t)
{
    ev->heap[i] = t;
    t->heap_index = i;
}

static void
sift_up(struct gw_ev *ev, size_t i)
{
    struct gw_ev_timer *t = ev->heap[i];

    while (i > 1 && ev->heap[i / 2]->when_ms > t->when_ms) {
        heap_set(ev, i, ev->heap[i / 2]);
        i /= 2;
    }
    heap_set(ev, i, t);
}

static void
sift_down(struct gw_ev *ev, size_t i)
{
    struct gw_ev_timer *t = ev->heap[i];
    size_t c;

    while ((c = 2 * i) <= ev->ntimers) {
        if (c < ev->ntimers && ev->heap[c + 1]->when_ms < ev->heap[c]->when_ms)
            c++;
        if (ev->heap[c]->when_ms >= t->when_ms)
            break;
        heap_set(ev, i, ev->heap[c]);
        i = c;
    }
    heap_set(ev, i, t);
}

static void
heap_remove(struct gw_ev *ev, struct gw_ev_timer *t)
{
    size_t i = t->heap_index;
    struct gw_ev_timer *last = ev->heap[ev->ntimers--];

    t->heap_index = 0;
    if (last == t)
        return;
    heap_set(ev, i, last);
    if (i > 1 && ev->heap[i / 2]->when_ms > last->when_ms)
        sift_up(ev, i);
    else
        sift_down(ev, i);
}

void
gw_ev_timer_init(struct gw_ev_timer *t, gw_ev_timer_fn fn, void *arg)
{
    t->when_ms = 0;
    t->heap_index = 0;
    t->fn = fn;
    t->arg = arg;
}

int
gw_ev_timer_start(struct gw_ev *ev, struct gw_ev_timer *t, uint64_t after_ms)
{
    uint64_t old = t->when_ms;
    struct gw_ev_timer **p;
    size_t n;

    t->when_ms = ev->now_ms + after_ms;
    if (t->when_ms < ev->now_ms)
        t->when_ms = UINT64_MAX;
    if (t->heap_index) {
        if (t->when_ms < old)
            sift_up(ev, t->heap_index);
        else
            sift_down(ev, t->heap_index);
        return 0;
    }
    if (ev->ntimers + 1 >= ev->heap_cap) {
        n = ev->heap_cap ? ev->heap_cap * 2 : MIN_TIMERS;
        if ((p = realloc(ev->heap, n * sizeof(*p))) == NULL)
            return -1;
        ev->heap = p;
        ev->heap_cap = n;
    }
    ev->heap[++ev->ntimers] = t;
    sift_up(ev, ev->ntimers);
    return 0;
}

void
gw_ev_timer_stop(struct gw_ev *ev, struct gw_ev_timer *t)
{
    if (t->heap_index)
        heap_remove(ev, t);
}

size_t
gw_ev_timer_count(const struct gw_ev *ev)
{
    return ev->ntimers;
}

/*
 * Fires due timers. At most as many as were armed on entry: a callback re-arming its timer
 * with 0 ms would otherwise spin here forever; what is left fires on the next iteration.
 */
static void
run_timers(struct gw_ev *ev)
{
    size_t budget = ev->ntimers;
    struct gw_ev_timer *t;

    while (budget-- > 0 && ev->ntimers > 0) {
        t = ev->heap[1];
        if (t->when_ms > ev->now_ms)
            break;
        heap_remove(ev, t);
        t->fn(ev, t, t->arg);
    }
}

/* ms until the nearest deadline, rounded up so that a timer never fires early; -1 if none. */
static int
timer_timeout(struct gw_ev *ev)
{
    uint64_t when_ns, now_ns, ms;

    if (ev->ntimers == 0)
        return -1;
    if (ev->heap[1]->when_ms <= ev->now_ms)
        return 0;
    if (ev->heap[1]->when_ms > UINT64_MAX / 1000000)
        return -1;
    when_ns = ev->heap[1]->when_ms * 1000000;
    now_ns = gw_mono_ns();
    if (when_ns <= now_ns)
        return 0;
    ms = (when_ns - now_ns + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* ---- deferred calls ---- */

int
gw_ev_defer(struct gw_ev *ev, gw_ev_fn fn, void *arg)
{
    struct defer *p;
    size_t n;

    if (ev->ndefers == ev->defers_cap) {
        n = ev->defers_cap ? ev->defers_cap * 2 : MIN_DEFERS;
        if ((p = realloc(ev->defers, n * sizeof(*p))) == NULL)
            return -1;
        ev->defers = p;
        ev->defers_cap = n;
    }
    ev->defers[ev->ndefers].fn = fn;
    ev->defers[ev->ndefers].arg = arg;
    ev->ndefers++;
    return 0;
}

/* ---- wake-up, posted calls and stop ---- */

static void
run_posts(struct gw_ev *ev)
{
    struct post *list;

    pthread_mutex_lock(&ev->post_mu);
    list = ev->posts;
    ev->posts = NULL;
    ev->posts_tail = &ev->posts;
    pthread_mutex_unlock(&ev->post_mu);
    while (list) {
        struct post *p = list;
        list = p->next;
        p->fn(ev, p->arg);
        free(p);
    }
}

int
gw_ev_post(struct gw_ev *ev, gw_ev_fn fn, void *arg)
{
    struct post *p = malloc(sizeof(*p));

    if (!p)
        return -1;
    p->next = NULL;
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&ev->post_mu);
    *ev->posts_tail = p;
    ev->posts_tail = &p->next;
    pthread_mutex_unlock(&ev->post_mu);
    gw_ev_wake(ev);
    return 0;
}

static void
wake_read(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    uint64_t v;

    (void)events;
    (void)arg;
    while (read(fd, &v, sizeof(v)) == -1 && errno == EINTR)
        ;
    /* Cleared before the callback: a wake that races with it writes the eventfd again. */
    atomic_store(&ev->wake_pending, 0);
    run_posts(ev);
    if (ev->wake_fn)
        ev->wake_fn(ev, ev->wake_arg);
}

void
gw_ev_on_wake(struct gw_ev *ev, gw_ev_fn fn, void *arg)
{
    ev->wake_fn = fn;
    ev->wake_arg = arg;
}

void
gw_ev_wake(struct gw_ev *ev)
{
    uint64_t one = 1;
    int saved = errno;

    if (atomic_exchange(&ev->wake_pending, 1) == 0) {
        while (write(ev->wakefd, &one, sizeof(one)) == -1 && errno == EINTR)
            ;
    }
    errno = saved;
}

void
gw_ev_stop(struct gw_ev *ev)
{
    atomic_store(&ev->stop, 1);
    gw_ev_wake(ev);
}

/* ---- signals ---- */

static int
fill_sigset(sigset_t *set, const int *signals, char *err)
{
    sigemptyset(set);
    for (; *signals; signals++)
        if (sigaddset(set, *signals) == -1)
            return gw_err(err, "bad signal number %d", *signals);
    return 0;
}

int
gw_ev_block_signals(const int *signals, char *err)
{
    sigset_t set;
    int rc;

    if (fill_sigset(&set, signals, err) == -1)
        return -1;
    if ((rc = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0) {
        errno = rc;
        return gw_err_errno(err, "pthread_sigmask");
    }
    return 0;
}

static void
signal_read(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    struct signalfd_siginfo si[16];
    ssize_t n;
    size_t i;

    (void)events;
    (void)arg;
    for (;;) {
        n = read(fd, si, sizeof(si));
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        for (i = 0; i < (size_t)n / sizeof(si[0]); i++)
            ev->sig_fn(ev, (int)si[i].ssi_signo, ev->sig_arg);
        /* The callback may have replaced or removed the signalfd. */
        if (fd != ev->sigfd)
            return;
    }
}

int
gw_ev_signals(struct gw_ev *ev, const int *signals, gw_ev_signal_fn fn, void *arg, char *err)
{
    sigset_t set;
    int fd;

    if (fill_sigset(&set, signals, err) == -1)
        return -1;
    if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
        return gw_err_errno(err, "signalfd");
    if (gw_ev_add(ev, fd, GW_EV_READ, signal_read, NULL, err) == -1) {
        close(fd);
        return -1;
    }
    if (ev->sigfd != -1) {
        gw_ev_del(ev, ev->sigfd);
        close(ev->sigfd);
    }
    ev->sigfd = fd;
    ev->sig_fn = fn;
    ev->sig_arg = arg;
    return 0;
}

/* ---- the loop ---- */

static unsigned
from_epoll(uint32_t e, unsigned watched)
{
    unsigned out = 0;

    if (e & (EPOLLIN | EPOLLRDHUP))
        out |= GW_EV_READ;
    if (e & EPOLLOUT)
        out |= GW_EV_WRITE;
    /* On error or hang-up, wake whatever the owner waits for, so its read or write sees it. */
    if (e & (EPOLLERR | EPOLLHUP))
        out |= GW_EV_ERROR | watched;
    return out & (watched | GW_EV_ERROR);
}

static void
dispatch(struct gw_ev *ev, const struct epoll_event *ee)
{
    int fd = (int)(uint32_t)ee->data.u64;
    uint32_t gen = (uint32_t)(ee->data.u64 >> 32);
    struct fd_slot *s;
    unsigned what;

    if ((size_t)fd >= ev->nfds)
        return;
    s = &ev->fds[fd];
    /* Deleted, or deleted and re-registered, since the batch was fetched. */
    if (s->fn == NULL || s->gen != gen)
        return;
    what = from_epoll(ee->events, s->events);
    if ((what & (GW_EV_READ | GW_EV_WRITE)) == 0)
        return;
    s->fn(ev, fd, what, s->arg);
}

static int
grow_events(struct gw_ev *ev)
{
    struct epoll_event *p;
    int n = ev->nevents * 2;

    if (n > MAX_EVENTS || (p = realloc(ev->events, (size_t)n * sizeof(*p))) == NULL)
        return -1;
    ev->events = p;
    ev->nevents = n;
    return 0;
}

int
gw_ev_run_once(struct gw_ev *ev, int timeout_ms)
{
    int n, i, tt;

    tt = timer_timeout(ev);
    if (tt >= 0 && (timeout_ms < 0 || tt < timeout_ms))
        timeout_ms = tt;
    if (ev->ndefers)
        timeout_ms = 0;
    n = epoll_wait(ev->epfd, ev->events, ev->nevents, timeout_ms);
    if (n == -1 && errno != EINTR)
        return -1;
    if (n < 0)
        n = 0;
    ev->now_ms = gw_mono_ms();
    for (i = 0; i < n; i++)
        dispatch(ev, &ev->events[i]);
    run_timers(ev);
    run_defers(ev);
    if (n == ev->nevents)
        grow_events(ev);
    return n;
}

int
gw_ev_fd(const struct gw_ev *ev)
{
    return ev->epfd;
}

int
gw_ev_timeout_ms(struct gw_ev *ev)
{
    return ev->ndefers ? 0 : timer_timeout(ev);
}

int
gw_ev_run(struct gw_ev *ev)
{
    int rc = 0;

    while (!atomic_load(&ev->stop)) {
        if (gw_ev_run_once(ev, -1) == -1) {
            rc = -1;
            break;
        }
    }
    atomic_store(&ev->stop, 0);
    return rc;
}
