/*
 * listener.c -- unit tests for lib/listener.c: connections handed over with their peer, the
 * per-event budget, pause and resume, stop from inside the callbacks, and the timed back-off
 * (no spin) when accept fails for want of descriptors or for a broken listener.
 */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "net.h"
#include "../tap.h"

#define MAX_CLIENTS 8
#define MAX_REPORTS 64
#define WAIT_MS 3000
#define PAUSE_MS 100
#define FD_LIMIT 64

static char err[GW_ERR_LEN];

struct rec {
    struct gw_listener *l;
    int accepted;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    int stop_at_accept; /* stop the listener in this accept call (0: never) */
    int stop_at_error;  /* stop it in this error call (0: never) */
    int nerrors[3];     /* by enum gw_listener_error */
    int last_errnum;
    uint64_t report_ms[MAX_REPORTS]; /* loop time of each GW_LISTENER_ERR_PAUSED */
    int nreports;
};

static void
on_accept(struct gw_listener *l, int fd, const struct sockaddr *peer, socklen_t len, void *arg)
{
    struct rec *r = arg;

    r->accepted++;
    if (len <= sizeof(r->peer)) {
        memcpy(&r->peer, peer, len);
        r->peer_len = len;
    }
    close(fd);
    if (r->accepted == r->stop_at_accept) {
        gw_listener_stop(l);
        r->l = NULL;
    }
}

static struct gw_ev *loop_ev;

static void
on_error(struct gw_listener *l, enum gw_listener_error what, int errnum, void *arg)
{
    struct rec *r = arg;
    int total;

    r->nerrors[what]++;
    r->last_errnum = errnum;
    if (what == GW_LISTENER_ERR_PAUSED && r->nreports < MAX_REPORTS)
        r->report_ms[r->nreports++] = gw_ev_now_ms(loop_ev);
    total = r->nerrors[0] + r->nerrors[1] + r->nerrors[2];
    if (total == r->stop_at_error) {
        gw_listener_stop(l);
        r->l = NULL;
    }
}

/* A listener on 127.0.0.1:0; returns the fd and sets *port. */
static int
listen_loopback(int *port)
{
    struct gw_addr a, bound;
    int fd;

    *port = 0;
    if (gw_net_parse_addr("127.0.0.1:0", GW_NET_ALLOW_PORT0, &a, err) == -1 ||
        (fd = gw_net_listen_tcp(&a, 64, 0, err)) == -1)
        return -1;
    memset(&bound, 0, sizeof(bound));
    bound.len = sizeof(bound.ss);
    if (getsockname(fd, (struct sockaddr *)&bound.ss, &bound.len) == 0)
        *port = gw_net_addr_port(&bound);
    return fd;
}

/* A connected client: once this returns, the connection waits in the accept queue. */
static int
client(int port)
{
    struct gw_addr a;
    char s[32];

    snprintf(s, sizeof(s), "127.0.0.1:%d", port);
    if (gw_net_parse_addr(s, 0, &a, err) == -1)
        return -1;
    return gw_net_connect_timeout(&a, WAIT_MS, err);
}

static int
local_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
        return -1;
    return ntohs(sin.sin_port);
}

/* Runs the loop until *count reaches want or WAIT_MS pass; returns *count. */
static int
run_until(struct gw_ev *ev, const int *count, int want)
{
    uint64_t deadline = gw_mono_ms() + WAIT_MS;

    while (*count < want && gw_mono_ms() < deadline)
        gw_ev_run_once(ev, 10);
    return *count;
}

/* Runs the loop for ms milliseconds of wall time. */
static void
run_for(struct gw_ev *ev, uint64_t ms)
{
    uint64_t now, deadline = gw_mono_ms() + ms;

    while ((now = gw_mono_ms()) < deadline)
        gw_ev_run_once(ev, (int)(deadline - now));
}

static void
close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static int
fd_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* Smallest gap between two back-off reports, in loop time. */
static uint64_t
min_gap_ms(const struct rec *r)
{
    uint64_t gap = UINT64_MAX;

    for (int i = 1; i < r->nreports; i++)
        gap = GW_MIN(gap, r->report_ms[i] - r->report_ms[i - 1]);
    return gap;
}

static void
test_new_errors(struct gw_ev *ev)
{
    struct gw_listener_opts o = {0};

    err[0] = '\0';
    ok(gw_listener_new(ev, 0, &o, err) == NULL && strstr(err, "no accept callback"),
       "no accept callback refused: %s", err);
    o.on_accept = on_accept;
    err[0] = '\0';
    ok(gw_listener_new(ev, -1, &o, err) == NULL && err[0], "fd -1 refused: %s", err);
    gw_listener_stop(NULL);
}

static void
test_accept_peer(struct gw_ev *ev)
{
    struct rec r = {0};
    struct gw_listener_opts o = {.on_accept = on_accept, .arg = &r, .own_fd = 1};
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&r.peer;
    int port, lfd = listen_loopback(&port), c = -1;

    ok(lfd >= 0 && port > 0, "listening on 127.0.0.1:%d", port);
    r.l = gw_listener_new(ev, lfd, &o, err);
    ok(r.l != NULL, "listener started%s%s", r.l ? "" : ": ", r.l ? "" : err);
    if (!r.l) {
        close(lfd);
        return;
    }
    is(gw_listener_fd(r.l), lfd, "gw_listener_fd gives the listening fd");
    ok(!gw_listener_paused(r.l), "a new listener accepts");
    c = client(port);
    ok(c >= 0, "client connected");
    is(run_until(ev, &r.accepted, 1), 1, "the callback gets the connection");
    is(r.peer.ss_family, AF_INET, "peer family is AF_INET");
    is(r.peer_len, sizeof(struct sockaddr_in), "peer_len is a sockaddr_in");
    is(ntohs(sin->sin_port), local_port(c), "peer port is the client's port");
    ok(sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK), "peer address is 127.0.0.1");
    gw_listener_stop(r.l);
    ok(!fd_open(lfd), "stop closes an owned fd");
    close_all(&c, 1);
}

static void
test_budget(struct gw_ev *ev)
{
    struct rec r = {0};
    struct gw_listener_opts o = {.on_accept = on_accept, .arg = &r, .budget = 2};
    int port, lfd = listen_loopback(&port), c[5], n = 0;

    r.l = gw_listener_new(ev, lfd, &o, err);
    ok(r.l != NULL, "listener with a budget of 2 started");
    for (n = 0; n < 5; n++)
        if ((c[n] = client(port)) == -1)
            break;
    is(n, 5, "5 connections wait in the backlog");
    gw_ev_run_once(ev, WAIT_MS);
    is(r.accepted, 2, "first readiness event accepts 2");
    gw_ev_run_once(ev, WAIT_MS);
    is(r.accepted, 4, "second readiness event accepts 2 more");
    gw_ev_run_once(ev, WAIT_MS);
    is(r.accepted, 5, "third one accepts the last");
    ok(!gw_listener_paused(r.l), "an empty backlog does not pause");
    gw_listener_stop(r.l);
    ok(fd_open(lfd), "stop leaves an fd it does not own open");
    close(lfd);
    close_all(c, n);
}

static void
test_pause_resume(struct gw_ev *ev)
{
    struct rec r = {0};
    struct gw_listener_opts o = {.on_accept = on_accept, .arg = &r, .own_fd = 1};
    int port, lfd = listen_loopback(&port), c;

    r.l = gw_listener_new(ev, lfd, &o, err);
    ok(r.l != NULL, "listener started");
    gw_listener_pause(r.l);
    gw_listener_pause(r.l);
    ok(gw_listener_paused(r.l), "paused by the owner");
    c = client(port);
    gw_ev_run_once(ev, 50);
    is(r.accepted, 0, "a paused listener accepts nothing");
    is(gw_listener_resume(r.l, err), 0, "resume");
    ok(!gw_listener_paused(r.l), "accepting again");
    is(run_until(ev, &r.accepted, 1), 1, "the waiting connection is accepted after resume");
    gw_listener_stop(r.l);
    close_all(&c, 1);
}

static void
test_stop_in_callback(struct gw_ev *ev)
{
    struct rec r = {.stop_at_accept = 1};
    struct gw_listener_opts o = {.on_accept = on_accept, .arg = &r, .own_fd = 1};
    int port, lfd = listen_loopback(&port), c[3], n;

    r.l = gw_listener_new(ev, lfd, &o, err);
    ok(r.l != NULL, "listener started");
    for (n = 0; n < 3; n++)
        if ((c[n] = client(port)) == -1)
            break;
    is(n, 3, "3 connections wait in the backlog");
    is(run_until(ev, &r.accepted, 1), 1, "first connection accepted");
    ok(r.l == NULL, "the callback stopped the listener");
    ok(!fd_open(lfd), "its owned fd is closed");
    gw_ev_run_once(ev, 50);
    is(r.accepted, 1, "nothing accepted after stop in the callback");
    close_all(c, n);
}

/* A TCP socket that is not listening: accept fails with EINVAL, which no connection explains. */
static void
test_broken_listener(struct gw_ev *ev)
{
    struct rec r = {.stop_at_error = 3};
    struct gw_listener_opts o = {
        .on_accept = on_accept, .on_error = on_error, .arg = &r, .pause_ms = PAUSE_MS};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    r.l = gw_listener_new(ev, fd, &o, err);
    ok(r.l != NULL, "listener on a socket that does not listen");
    if (!r.l) {
        close(fd);
        return;
    }
    run_until(ev, &r.nerrors[GW_LISTENER_ERR_PAUSED], 1);
    is(r.last_errnum, EINVAL, "accept fails with EINVAL");
    ok(r.l && gw_listener_paused(r.l), "the listener pauses");
    run_until(ev, &r.nerrors[GW_LISTENER_ERR_PAUSED], 3);
    is(r.nerrors[GW_LISTENER_ERR_PAUSED], 3, "retried after each pause");
    ok(min_gap_ms(&r) >= PAUSE_MS, "at least %d ms between attempts (%llu)", PAUSE_MS,
       (unsigned long long)min_gap_ms(&r));
    ok(r.l == NULL, "the error callback stopped the listener");
    run_for(ev, 2 * PAUSE_MS);
    is(r.nerrors[GW_LISTENER_ERR_PAUSED], 3, "no attempt after stop in the error callback");
    is(r.nerrors[GW_LISTENER_ERR_CONN] + r.nerrors[GW_LISTENER_ERR_RESUME], 0, "no other report");
    close(fd);
}

/* With RLIMIT_NOFILE lowered and every descriptor taken, each accept fails with EMFILE. Several
 * connections wait: under valgrind, which enforces the lowered limit itself, each failed accept
 * also drops one of them. */
static void
test_out_of_fds(struct gw_ev *ev)
{
    struct rec r = {0};
    struct gw_listener_opts o = {
        .on_accept = on_accept, .on_error = on_error, .arg = &r, .pause_ms = PAUSE_MS};
    int port, lfd = listen_loopback(&port), c[MAX_CLIENTS], n, fill[FD_LIMIT], nfill = 0, fd;
    struct rlimit saved, low;
    uint64_t t0;

    for (n = 0; n < MAX_CLIENTS; n++)
        if ((c[n] = client(port)) == -1)
            break;
    is(n, MAX_CLIENTS, "%d connections wait in the backlog", MAX_CLIENTS);
    if (getrlimit(RLIMIT_NOFILE, &saved) == -1) {
        ok(0, "getrlimit");
        close_all(c, n);
        close(lfd);
        return;
    }
    low = saved;
    low.rlim_cur = FD_LIMIT;
    ok(setrlimit(RLIMIT_NOFILE, &low) == 0, "RLIMIT_NOFILE lowered to %d", FD_LIMIT);
    while (nfill < FD_LIMIT && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1)
        fill[nfill++] = fd;
    ok(nfill < FD_LIMIT && errno == EMFILE, "descriptor table full (%d more opened)", nfill);
    r.l = gw_listener_new(ev, lfd, &o, err);
    ok(r.l != NULL, "listener started");

    t0 = gw_mono_ms();
    run_for(ev, 3 * PAUSE_MS + PAUSE_MS / 2);
    is(r.last_errnum, EMFILE, "accept fails with EMFILE");
    is(r.accepted, 0, "nothing accepted");
    ok(r.nreports >= 2 && r.nreports <= 5, "%d attempts in %llu ms: no spin", r.nreports,
       (unsigned long long)(gw_mono_ms() - t0));
    ok(min_gap_ms(&r) >= PAUSE_MS, "at least %d ms between attempts (%llu)", PAUSE_MS,
       (unsigned long long)min_gap_ms(&r));
    ok(gw_listener_paused(r.l), "paused while descriptors are short");

    close_all(fill, nfill);
    ok(run_until(ev, &r.accepted, 1) >= 1, "waiting connections are accepted once fds are free");
    ok(!gw_listener_paused(r.l), "accepting again");
    gw_listener_stop(r.l);
    ok(setrlimit(RLIMIT_NOFILE, &saved) == 0, "RLIMIT_NOFILE restored");
    close_all(c, n);
    close(lfd);
}

int
main(void)
{
    struct gw_ev *ev = gw_ev_new(err);

    ok(ev != NULL, "gw_ev_new");
    if (ev == NULL)
        return done_testing();
    loop_ev = ev;
    test_new_errors(ev);
    test_accept_peer(ev);
    test_budget(ev);
    test_pause_resume(ev);
    test_stop_in_callback(ev);
    test_broken_listener(ev);
    test_out_of_fds(ev);
    is(gw_ev_timer_count(ev), 0, "no timer left armed");
    gw_ev_free(ev);
    return done_testing();
}
