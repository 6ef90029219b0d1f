/*
 * ev.c -- unit tests for lib/ev.c: timers, fd events, deferred calls, wake-up, stop, signals.
 */
#include "ev.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tap.h"

/* Upper bound on any wait in these tests; nothing should come near it. */
#define DEADLINE_MS 5000
/* How late a timer may fire on a busy shared machine before we call it broken. */
#define LATE_MS 250

static char err[GW_ERR_LEN];

/* Runs iterations until *flag is set or the deadline passes; returns *flag. */
static int
run_until(struct gw_ev *ev, const int *flag)
{
    uint64_t deadline = gw_mono_ms() + DEADLINE_MS;

    while (!*flag && gw_mono_ms() < deadline)
        gw_ev_run_once(ev, 50);
    return *flag;
}

/* ---- timers ---- */

struct rec {
    struct gw_ev_timer t;
    uint64_t after_ms, start_ms, fired_ns;
    int id;
};

static int order[16], norder, all_fired;
static int early;

static void
rec_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct rec *r = arg;

    (void)t;
    r->fired_ns = gw_mono_ns();
    if (r->fired_ns < (r->start_ms + r->after_ms) * 1000000 ||
        gw_ev_now_ms(ev) < r->start_ms + r->after_ms)
        early++;
    order[norder++] = r->id;
    if (norder == 3)
        all_fired = 1;
}

static void
test_timer_order(struct gw_ev *ev)
{
    struct rec r[3] = {
        {.after_ms = 30, .id = 3}, {.after_ms = 10, .id = 1}, {.after_ms = 20, .id = 2}};
    int i, late = 0;

    gw_ev_update_time(ev);
    for (i = 0; i < 3; i++) {
        gw_ev_timer_init(&r[i].t, rec_fire, &r[i]);
        ok(!gw_ev_timer_armed(&r[i].t), "timer %d unarmed after init", r[i].id);
        r[i].start_ms = gw_ev_now_ms(ev);
        gw_ev_timer_start(ev, &r[i].t, r[i].after_ms);
    }
    is(gw_ev_timer_count(ev), 3, "three timers armed");
    ok(run_until(ev, &all_fired), "three timers fired");
    ok(order[0] == 1 && order[1] == 2 && order[2] == 3, "timers fired in deadline order");
    is(early, 0, "no timer fired early");
    for (i = 0; i < 3; i++)
        if (r[i].fired_ns > (r[i].start_ms + r[i].after_ms + LATE_MS) * 1000000)
            late++;
    is(late, 0, "no timer fired more than %d ms late", LATE_MS);
    is(gw_ev_timer_count(ev), 0, "no timer armed after firing");
    ok(!gw_ev_timer_armed(&r[0].t), "fired timer is unarmed");
}

#define NRANDOM 10000

static struct gw_ev_timer rnd[NRANDOM];
static uint64_t rnd_last;
static int rnd_fired, rnd_disorder, rnd_early, rnd_done;

static void
rnd_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    (void)arg;
    if (t->when_ms < rnd_last)
        rnd_disorder++;
    if (gw_ev_now_ms(ev) < t->when_ms)
        rnd_early++;
    rnd_last = t->when_ms;
    if (++rnd_fired == NRANDOM)
        rnd_done = 1;
}

static void
test_timer_random(struct gw_ev *ev)
{
    int i;

    srand(42);
    gw_ev_update_time(ev);
    for (i = 0; i < NRANDOM; i++) {
        gw_ev_timer_init(&rnd[i], rnd_fire, NULL);
        gw_ev_timer_start(ev, &rnd[i], (uint64_t)(rand() % 150));
    }
    /* Re-arm a few to exercise sifting both ways. */
    for (i = 0; i < NRANDOM; i += 7)
        gw_ev_timer_start(ev, &rnd[i], (uint64_t)(rand() % 150));
    for (i = 3; i < NRANDOM; i += 101)
        gw_ev_timer_stop(ev, &rnd[i]);
    is(gw_ev_timer_count(ev), NRANDOM - (NRANDOM - 3 + 100) / 101, "random timers armed");
    for (i = 3; i < NRANDOM; i += 101)
        gw_ev_timer_start(ev, &rnd[i], (uint64_t)(rand() % 150));
    is(gw_ev_timer_count(ev), NRANDOM, "10000 random timers armed");
    ok(run_until(ev, &rnd_done), "10000 random timers all fired");
    is(rnd_disorder, 0, "10000 random timers fired in deadline order");
    is(rnd_early, 0, "no random timer fired before its deadline");
    is(gw_ev_timer_count(ev), 0, "heap empty afterwards");
}

static int count_a, count_b, guard_done;

static void
count_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    ++*(int *)arg;
}

static void
flag_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    *(int *)arg = 1;
}

static void
test_timer_stop_restart(struct gw_ev *ev)
{
    struct gw_ev_timer a, b, guard;

    count_a = count_b = guard_done = 0;
    gw_ev_timer_init(&a, count_fire, &count_a);
    gw_ev_timer_init(&b, count_fire, &count_b);
    gw_ev_timer_init(&guard, flag_fire, &guard_done);
    gw_ev_update_time(ev);
    gw_ev_timer_start(ev, &a, 5);
    gw_ev_timer_stop(ev, &a);
    gw_ev_timer_stop(ev, &a);
    ok(!gw_ev_timer_armed(&a), "stopped timer is unarmed; stopping twice is harmless");
    gw_ev_timer_start(ev, &b, 1000);
    gw_ev_timer_start(ev, &b, 5);
    ok(gw_ev_timer_armed(&b), "restarted timer is armed");
    is(b.when_ms, gw_ev_now_ms(ev) + 5, "restart moves the deadline earlier");
    gw_ev_timer_start(ev, &guard, 40);
    ok(run_until(ev, &guard_done), "guard timer fired");
    is(count_a, 0, "stopped timer never fired");
    is(count_b, 1, "restarted timer fired once");
}

static struct gw_ev_timer pair[2];
static int pair_fired[2];

static void
pair_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    int i = (int)(intptr_t)arg;

    (void)t;
    pair_fired[i]++;
    gw_ev_timer_stop(ev, &pair[1 - i]);
}

struct self_freeing {
    struct gw_ev_timer t;
    int *done;
};

static void
self_free_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct self_freeing *s = arg;

    (void)ev;
    (void)t;
    *s->done = 1;
    free(s);
}

static int rearm_count, rearm_iters;

static void
rearm_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    (void)arg;
    if (++rearm_count < 5)
        gw_ev_timer_start(ev, t, 0);
}

static void
test_timer_callbacks(struct gw_ev *ev)
{
    struct self_freeing *s;
    struct gw_ev_timer r;
    int done = 0, i;

    for (i = 0; i < 2; i++) {
        gw_ev_timer_init(&pair[i], pair_fire, (void *)(intptr_t)i);
        gw_ev_timer_start(ev, &pair[i], 2);
    }
    gw_ev_timer_init(&r, flag_fire, &done);
    gw_ev_timer_start(ev, &r, 20);
    ok(run_until(ev, &done), "guard fired");
    is(pair_fired[0] + pair_fired[1], 1, "a timer stopping another due in the same pass wins");

    done = 0;
    s = malloc(sizeof(*s));
    s->done = &done;
    gw_ev_timer_init(&s->t, self_free_fire, s);
    gw_ev_timer_start(ev, &s->t, 1);
    ok(run_until(ev, &done), "a timer that frees itself fired (valgrind checks the rest)");
    is(gw_ev_timer_count(ev), 0, "no timer left after self-free");

    gw_ev_timer_init(&r, rearm_fire, NULL);
    gw_ev_timer_start(ev, &r, 0);
    for (rearm_iters = 0; rearm_count < 5 && rearm_iters < 100; rearm_iters++)
        gw_ev_run_once(ev, 100);
    is(rearm_count, 5, "a timer re-arming itself with 0 ms fires again");
    is(rearm_iters, 5, "once per iteration, without spinning inside one");
}

/* ---- fds ---- */

static unsigned got_events;
static int got_calls, got_fd;

static void
io_rec(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    (void)ev;
    (void)arg;
    got_events |= events;
    got_fd = fd;
    got_calls++;
}

static void
test_fd_events(struct gw_ev *ev)
{
    int sv[2], n;
    char c;

    ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    is(gw_ev_add(ev, sv[0], GW_EV_READ, io_rec, NULL, err), 0, "add read");
    got_events = got_calls = 0;
    gw_ev_run_once(ev, 0);
    is(got_calls, 0, "no read event on an empty socket");
    ok(write(sv[1], "x", 1) == 1, "write one byte");
    n = gw_ev_run_once(ev, 1000);
    ok(n >= 1 && got_calls == 1 && got_events == GW_EV_READ && got_fd == sv[0],
       "read event delivered");
    ok(gw_ev_mod(ev, sv[0], GW_EV_READ | GW_EV_WRITE) == 0, "mod to read+write");
    got_events = got_calls = 0;
    gw_ev_run_once(ev, 1000);
    is(got_calls, 1, "one callback for read and write together");
    is(got_events, GW_EV_READ | GW_EV_WRITE, "read and write reported together");
    ok(gw_ev_mod(ev, sv[0], 0) == 0, "mod to no events");
    got_events = got_calls = 0;
    gw_ev_run_once(ev, 0);
    is(got_calls, 0, "paused fd gets no events");
    ok(read(sv[0], &c, 1) == 1, "drain the byte");
    ok(gw_ev_mod(ev, sv[0], GW_EV_READ) == 0, "resume reading");
    close(sv[1]);
    got_events = got_calls = 0;
    gw_ev_run_once(ev, 1000);
    ok(got_calls == 1 && (got_events & GW_EV_READ), "peer hang-up wakes the reader");
    gw_ev_del(ev, sv[0]);
    gw_ev_del(ev, sv[0]);
    got_calls = 0;
    gw_ev_run_once(ev, 0);
    is(got_calls, 0, "no events after del; del twice harmless");
    errno = 0;
    ok(gw_ev_mod(ev, sv[0], GW_EV_READ) == -1 && errno == ENOENT, "mod of a deleted fd: ENOENT");
    ok(gw_ev_add(ev, -1, GW_EV_READ, io_rec, NULL, err) == -1, "add of fd -1 refused");
    close(sv[0]);
}

/*
 * Two readable sockets fetched in one batch: whichever callback runs first deletes and closes
 * the other, then opens a new socket that reuses its fd number and registers it. The stale
 * event must reach neither the old nor the new callback.
 */
static int victim_fd[2], victim_peer[2], kill_calls, new_calls, new_fd = -1, new_peer = -1;

static void
new_cb(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    (void)ev;
    (void)fd;
    (void)events;
    (void)arg;
    new_calls++;
}

static void
killer_cb(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    int other = victim_fd[(intptr_t)arg == 0 ? 1 : 0], sv[2];

    (void)events;
    (void)fd;
    kill_calls++;
    gw_ev_del(ev, other);
    close(other);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
        new_fd = sv[0];
        new_peer = sv[1];
        (void)!write(new_peer, "y", 1);
        gw_ev_add(ev, new_fd, GW_EV_READ, new_cb, NULL, err);
    }
    gw_ev_del(ev, fd);
}

static void
test_del_in_callback(struct gw_ev *ev)
{
    int i, sv[2], first_new;

    for (i = 0; i < 2; i++) {
        (void)!socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
        victim_fd[i] = sv[0];
        victim_peer[i] = sv[1];
        (void)!write(sv[1], "x", 1);
        gw_ev_add(ev, sv[0], GW_EV_READ, killer_cb, (void *)(intptr_t)i, err);
    }
    ok(gw_ev_run_once(ev, 1000) >= 2, "both fds fetched in one batch");
    is(kill_calls, 1, "deleted fd's already-fetched event not delivered");
    first_new = new_calls;
    ok(new_fd == victim_fd[0] || new_fd == victim_fd[1], "new socket reused the fd number");
    is(first_new, 0, "stale event not delivered to the fd number's new owner");
    gw_ev_run_once(ev, 1000);
    is(new_calls, 1, "new owner gets its own event on the next iteration");
    gw_ev_del(ev, new_fd);
    close(new_fd);
    close(new_peer);
    for (i = 0; i < 2; i++) {
        close(victim_peer[i]);
        if (victim_fd[i] != new_fd)
            close(victim_fd[i]);
    }
}

/* ---- deferred calls ---- */

static char defer_log[16];
static size_t defer_len;

static void
defer_c(struct gw_ev *ev, void *arg)
{
    (void)ev;
    defer_log[defer_len++] = *(char *)arg;
}

static void
defer_a(struct gw_ev *ev, void *arg)
{
    defer_c(ev, arg);
    gw_ev_defer(ev, defer_c, "C");
}

static void
defer_from_timer(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    (void)t;
    (void)arg;
    defer_log[defer_len++] = 'T';
    gw_ev_defer(ev, defer_c, "D");
}

static void
test_defer(struct gw_ev *ev)
{
    struct gw_ev_timer t;
    struct gw_ev *ev2;

    gw_ev_defer(ev, defer_a, "A");
    gw_ev_defer(ev, defer_c, "B");
    gw_ev_run_once(ev, 1000);
    defer_log[defer_len] = '\0';
    is_str(defer_log, "ABC", "deferred calls run in order, nested ones after");

    defer_len = 0;
    gw_ev_timer_init(&t, defer_from_timer, NULL);
    gw_ev_timer_start(ev, &t, 0);
    gw_ev_run_once(ev, 1000);
    defer_log[defer_len] = '\0';
    is_str(defer_log, "TD", "a call deferred by a timer runs in the same iteration");

    defer_len = 0;
    ev2 = gw_ev_new(err);
    gw_ev_defer(ev2, defer_c, "F");
    gw_ev_free(ev2);
    defer_log[defer_len] = '\0';
    is_str(defer_log, "F", "gw_ev_free runs pending deferred calls");
}

/* ---- wake-up and stop ---- */

static int wakes;

static void
on_wake(struct gw_ev *ev, void *arg)
{
    (void)ev;
    (void)arg;
    wakes++;
}

static void *
waker(void *arg)
{
    gw_ev_wake(arg);
    return NULL;
}

static void
test_wake(struct gw_ev *ev)
{
    pthread_t th;

    gw_ev_on_wake(ev, on_wake, NULL);
    gw_ev_wake(ev);
    gw_ev_wake(ev);
    gw_ev_wake(ev);
    gw_ev_run_once(ev, 1000);
    is(wakes, 1, "three wakes before the loop runs coalesce into one callback");
    gw_ev_run_once(ev, 0);
    is(wakes, 1, "no spurious wake afterwards");
    wakes = 0;
    ok(pthread_create(&th, NULL, waker, ev) == 0, "start waker thread");
    ok(run_until(ev, &wakes), "wake from another thread runs the callback");
    pthread_join(th, NULL);
    gw_ev_on_wake(ev, NULL, NULL);
}

/* ---- posted calls ---- */

#define POSTS 1000

static int posted[POSTS + 2], nposted;

static void
on_post(struct gw_ev *ev, void *arg)
{
    (void)ev;
    posted[nposted++] = (int)(intptr_t)arg;
}

static void *
poster(void *arg)
{
    for (int i = 0; i < POSTS; i++)
        gw_ev_post(arg, on_post, (void *)(intptr_t)i);
    return NULL;
}

static void
test_post(struct gw_ev *ev)
{
    pthread_t th;
    int in_order = 1;
    uint64_t deadline = gw_mono_ms() + 5000;

    ok(pthread_create(&th, NULL, poster, ev) == 0, "start poster thread");
    while (nposted < POSTS && gw_mono_ms() < deadline)
        gw_ev_run_once(ev, 100);
    pthread_join(th, NULL);
    is(nposted, POSTS, "every call posted from another thread runs on the loop");
    for (int i = 0; i < nposted; i++)
        in_order &= posted[i] == i;
    ok(in_order, "posted calls run in the order they were posted");
    gw_ev_post(ev, on_post, (void *)(intptr_t)7);
    gw_ev_run_once(ev, 1000);
    is(nposted, POSTS + 1, "a call posted from the loop's own thread runs on the next iteration");
}

struct stopper {
    struct gw_ev *ev;
    int fd;
};

static void *
stopper_thread(void *arg)
{
    struct stopper *s = arg;
    char c;

    /* Wait until the loop is inside gw_ev_run(). */
    (void)!read(s->fd, &c, 1);
    gw_ev_stop(s->ev);
    return NULL;
}

static void
running_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    (void)ev;
    (void)t;
    (void)!write(*(int *)arg, "r", 1);
}

static void
guard_stop(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    (void)t;
    *(int *)arg = 1;
    gw_ev_stop(ev);
}

static void
test_stop(struct gw_ev *ev)
{
    struct gw_ev_timer running, guard;
    struct stopper s;
    int p[2], timed_out = 0;
    pthread_t th;

    ok(pipe(p) == 0, "pipe");
    s.ev = ev;
    s.fd = p[0];
    gw_ev_timer_init(&running, running_fire, &p[1]);
    gw_ev_timer_init(&guard, guard_stop, &timed_out);
    gw_ev_timer_start(ev, &running, 0);
    gw_ev_timer_start(ev, &guard, DEADLINE_MS);
    ok(pthread_create(&th, NULL, stopper_thread, &s) == 0, "start stopper thread");
    is(gw_ev_run(ev), 0, "gw_ev_run returns 0");
    is(timed_out, 0, "gw_ev_stop from another thread ended gw_ev_run");
    pthread_join(th, NULL);
    gw_ev_timer_stop(ev, &guard);
    close(p[0]);
    close(p[1]);
}

/* ---- signals ---- */

static int sig_usr1, sig_usr2;

static void
on_signal(struct gw_ev *ev, int signo, void *arg)
{
    (void)ev;
    (void)arg;
    if (signo == SIGUSR1)
        sig_usr1++;
    if (signo == SIGUSR2)
        sig_usr2++;
}

static void
test_signals(struct gw_ev *ev)
{
    static const int sigs[] = {SIGUSR1, SIGUSR2, 0};
    static const int bad[] = {999, 0};

    is(gw_ev_signals(ev, sigs, on_signal, NULL, err), 0, "signalfd for SIGUSR1 and SIGUSR2");
    kill(getpid(), SIGUSR1);
    raise(SIGUSR2);
    ok(run_until(ev, &sig_usr1), "SIGUSR1 from kill() delivered through the loop");
    ok(run_until(ev, &sig_usr2), "SIGUSR2 from raise() delivered through the loop");
    is(gw_ev_signals(ev, bad, on_signal, NULL, err), -1, "signal 999 refused");
    is_str(err, "bad signal number 999", "bad signal error text");
}

int
main(void)
{
    static const int sigs[] = {SIGUSR1, SIGUSR2, 0};
    struct gw_ev *ev;

    /* Before any thread exists, so every thread inherits the mask. */
    is(gw_ev_block_signals(sigs, err), 0, "block SIGUSR1 and SIGUSR2");
    ev = gw_ev_new(err);
    ok(ev != NULL, "gw_ev_new");
    if (ev == NULL)
        return done_testing();
    test_timer_order(ev);
    test_timer_random(ev);
    test_timer_stop_restart(ev);
    test_timer_callbacks(ev);
    test_fd_events(ev);
    test_del_in_callback(ev);
    test_defer(ev);
    test_wake(ev);
    test_post(ev);
    test_stop(ev);
    test_signals(ev);
    gw_ev_free(ev);
    return done_testing();
}
