/*
 * worker.c -- unit tests for lib/worker.c on each backend: workers serve a protocol on one
 * SO_REUSEPORT port, count connections and refuse past max_conns, run on_start/on_stop on
 * their threads, answer post-to-all (also with one worker stuck: the answer comes within the
 * timeout and the late part is freed), drain, and stop.
 */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"

#define WAIT_MS 3000

static char err[GW_ERR_LEN];
static const char *backend;

struct app {
    atomic_int started, stopped, opened, closed, refused;
    pthread_t threads[4];
    atomic_int stuck_fd; /* a worker blocked on this pipe's read end */
    atomic_int late_freed;
};

static size_t
echo(struct gw_conn *c, char *data, size_t len)
{
    char *nl = memchr(data, '\n', len);

    if (!nl)
        return 0;
    gw_conn_write(c, data, (size_t)(nl - data) + 1);
    return (size_t)(nl - data) + 1;
}

static void
on_open(struct gw_conn *c)
{
    struct app *a = gw_conn_user(c);

    atomic_fetch_add(&a->opened, 1);
}

static void
on_close(struct gw_conn *c, const char *reason)
{
    struct app *a = gw_conn_user(c);

    (void)reason;
    atomic_fetch_add(&a->closed, 1);
}

static const struct gw_conn_proto proto = {
    .name = "echo", .on_open = on_open, .on_data = echo, .on_close = on_close};

static int
on_start(struct gw_worker *w, void *arg, char *e)
{
    struct app *a = arg;

    (void)e;
    a->threads[gw_worker_index(w)] = pthread_self();
    gw_worker_set_data(w, a);
    atomic_fetch_add(&a->started, 1);
    return 0;
}

static void
on_stop(struct gw_worker *w, void *arg)
{
    struct app *a = arg;

    if (pthread_equal(a->threads[gw_worker_index(w)], pthread_self()))
        atomic_fetch_add(&a->stopped, 1);
}

static void
on_refuse(struct gw_worker *w, int fd, void *arg)
{
    struct app *a = arg;

    (void)w;
    atomic_fetch_add(&a->refused, 1);
    (void)!write(fd, "full\n", 5);
}

static int
free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    getsockname(fd, (struct sockaddr *)&sin, &len);
    close(fd);
    return ntohs(sin.sin_port);
}

static int
dial(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {WAIT_MS / 1000, 0};

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One line from fd (blocking, with the socket's timeout); "" on EOF or timeout. */
static void
read_line(int fd, char *buf, size_t len)
{
    size_t n = 0;

    while (n + 1 < len && read(fd, buf + n, 1) == 1 && buf[n++] != '\n')
        ;
    buf[n] = '\0';
}

static int
wait_for(atomic_int *v, int want)
{
    uint64_t end = gw_mono_ms() + WAIT_MS;

    while (atomic_load(v) < want && gw_mono_ms() < end)
        poll(NULL, 0, 1);
    return atomic_load(v) >= want;
}

/* ---- ask ---- */

struct answer {
    int done;
    unsigned n;
    int parts[4]; /* worker index + 1, or 0 for no answer */
    uint64_t at_ms;
    struct gw_ev *ev;
};

static void *
ask_index(struct gw_worker *w, void *arg)
{
    int *p = malloc(sizeof(*p));

    (void)arg;
    *p = (int)gw_worker_index(w) + 1;
    return p;
}

static void
answered(void **parts, unsigned n, void *arg)
{
    struct answer *ans = arg;

    ans->done = 1;
    ans->n = n;
    ans->at_ms = gw_mono_ms();
    for (unsigned i = 0; i < n && i < 4; i++) {
        ans->parts[i] = parts[i] ? *(int *)parts[i] : 0;
        free(parts[i]);
    }
    gw_ev_stop(ans->ev);
}

static struct app *the_app;
static struct gw_ev *reply_ev;

static void
free_late(void *part)
{
    atomic_fetch_add(&the_app->late_freed, 1);
    free(part);
}

/* Posted to a worker: blocks its thread until the test writes to the pipe. */
static void
block(struct gw_ev *ev, void *arg)
{
    int fd = *(int *)arg;
    char c;

    (void)ev;
    (void)!read(fd, &c, 1);
}

static void
timeout_stop(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    (void)t;
    (void)arg;
    gw_ev_stop(ev);
}

static void
test_ask(struct gw_workers *ws, struct app *a)
{
    struct gw_ev *ev = gw_ev_new(err);
    struct answer ans = {.ev = ev};
    struct gw_ev_timer guard;
    int pipefd[2];
    uint64_t t0;

    gw_ev_timer_init(&guard, timeout_stop, NULL);
    gw_ev_timer_start(ev, &guard, WAIT_MS);
    ok(gw_workers_ask(ws, ev, 1000, ask_index, answered, free_late, &ans, err) == 0,
       "%s: ask every worker", backend);
    gw_ev_run(ev);
    ok(ans.done && ans.n == 2 && ans.parts[0] == 1 && ans.parts[1] == 2,
       "%s: every worker's part, in worker order", backend);

    /* Worker 0 stuck: the answer comes at the timeout, without its part. */
    (void)!pipe(pipefd);
    gw_worker_post(gw_workers_get(ws, 0), block, &pipefd[0]);
    memset(&ans, 0, sizeof(ans));
    ans.ev = ev;
    t0 = gw_ev_update_time(ev); /* the timeout counts from the loop's clock */
    gw_ev_timer_start(ev, &guard, WAIT_MS);
    ok(gw_workers_ask(ws, ev, 150, ask_index, answered, free_late, &ans, err) == 0,
       "%s: ask with one worker stuck", backend);
    gw_ev_run(ev);
    ok(ans.done && ans.parts[0] == 0 && ans.parts[1] == 2,
       "%s: the answer comes without the stuck worker's part", backend);
    ok(ans.at_ms - t0 >= 150 && ans.at_ms - t0 < WAIT_MS, "%s: at the timeout (%llu ms for 150)",
       backend, (unsigned long long)(ans.at_ms - t0));
    (void)!write(pipefd[1], "x", 1);
    /* The late part comes back to this loop and is freed there. */
    gw_ev_timer_start(ev, &guard, 1);
    for (uint64_t end = gw_mono_ms() + WAIT_MS;
         atomic_load(&a->late_freed) == 0 && gw_mono_ms() < end;)
        gw_ev_run_once(ev, 5);
    is(atomic_load(&a->late_freed), 1, "%s: the late part is handed to free_part", backend);
    gw_ev_timer_stop(ev, &guard);
    close(pipefd[0]);
    close(pipefd[1]);
    /* reply_ev outlives the workers: one may still be inside its post to it. */
    reply_ev = ev;
}

static void
run_all(enum gw_conn_io io)
{
    struct app a;
    struct gw_addr addr;
    char s[64], line[64];
    int port = free_port(), fds[3];
    unsigned failed;
    struct gw_worker_counters cnt, cnt1;

    memset(&a, 0, sizeof(a));
    the_app = &a;
    snprintf(s, sizeof(s), "127.0.0.1:%d", port);
    gw_net_parse_addr(s, 0, &addr, err);
    struct gw_worker_opts o = {.count = 2,
                               .io = io,
                               .listen = &addr,
                               .max_conns = 2,
                               .proto = &proto,
                               .arg = &a,
                               .on_start = on_start,
                               .on_stop = on_stop,
                               .on_refuse = on_refuse};
    struct gw_workers *ws = gw_workers_start(&o, &failed, err);

    if (!ws) {
        ok(0, "workers start: %s", err);
        return;
    }
    backend = gw_workers_backend(ws);
    is(gw_workers_count(ws), 2, "%s: two workers", backend);
    is(atomic_load(&a.started), 2, "%s: on_start ran on each before the start returned", backend);
    ok(gw_worker_data(gw_workers_get(ws, 1)) == &a, "%s: per-worker data", backend);
    ok(gw_worker_fallback(gw_workers_get(ws, 0)) == NULL, "%s: no fallback", backend);

    fds[0] = dial(port);
    fds[1] = dial(port);
    (void)!write(fds[0], "ping\n", 5);
    read_line(fds[0], line, sizeof(line));
    is_str(line, "ping\n", "%s: a worker serves the protocol", backend);
    (void)!write(fds[1], "pong\n", 5);
    read_line(fds[1], line, sizeof(line));
    is_str(line, "pong\n", "%s: a second connection too", backend);
    is(gw_workers_conns(ws), 2, "%s: connections counted across workers", backend);
    fds[2] = dial(port);
    read_line(fds[2], line, sizeof(line));
    is_str(line, "full\n", "%s: past max_conns: refused with the protocol's message", backend);
    ok(wait_for(&a.refused, 1), "%s: on_refuse called", backend);
    close(fds[2]);
    gw_worker_counters(gw_workers_get(ws, 0), &cnt);
    gw_worker_counters(gw_workers_get(ws, 1), &cnt1);
    is(cnt.accepted + cnt1.accepted, 2, "%s: counters: accepted", backend);
    is(cnt.refused + cnt1.refused, 1, "%s: counters: refused", backend);
    is(cnt.active + cnt1.active, 2, "%s: counters: active", backend);
    close(fds[1]);
    ok(wait_for(&a.closed, 1), "%s: a client leaves: on_close", backend);
    for (uint64_t end = gw_mono_ms() + WAIT_MS; gw_workers_conns(ws) != 1 && gw_mono_ms() < end;)
        poll(NULL, 0, 1);
    is(gw_workers_conns(ws), 1, "%s: and it is counted out", backend);
    gw_workers_set_max_conns(ws, 0);

    test_ask(ws, &a);

    gw_workers_drain(ws);
    read_line(fds[0], line, sizeof(line));
    is_str(line, "", "%s: drain closes the idle connection", backend);
    int fd = -1;
    for (uint64_t end = gw_mono_ms() + WAIT_MS; (fd = dial(port)) != -1 && gw_mono_ms() < end;)
        close(fd);
    ok(fd == -1, "%s: drained: nothing listens any more", backend);
    close(fds[0]);
    gw_workers_stop(ws);
    gw_ev_free(reply_ev);
    is(atomic_load(&a.stopped), 2, "%s: on_stop ran on each worker's own thread", backend);
    is(atomic_load(&a.opened), atomic_load(&a.closed), "%s: every open connection closed", backend);
}

static void
test_start_failure(void)
{
    struct gw_addr addr;
    unsigned failed = 99;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    char s[64];

    /* A port held without SO_REUSEPORT cannot be shared. */
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    listen(fd, 1);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    port = ntohs(sin.sin_port);
    snprintf(s, sizeof(s), "127.0.0.1:%d", port);
    gw_net_parse_addr(s, 0, &addr, err);
    struct gw_worker_opts o = {
        .count = 2, .io = GW_CONN_IO_EPOLL, .listen = &addr, .proto = &proto};
    ok(gw_workers_start(&o, &failed, err) == NULL, "start fails when the port is taken");
    ok(failed == 0 && err[0], "the failing worker and why: %u, %s", failed, err);
    close(fd);
}

/* valgrind 3.19 runs io_uring_enter without knowing its semantics: wake-ups come hundreds of
 * ms late or never, so the io_uring pass is left to the ASan run (`make check-asan`). */
static int
under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");

    return p && strstr(p, "vgpreload") != NULL;
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_start_failure();
    run_all(GW_CONN_IO_EPOLL);
    if (under_valgrind())
        ok(1, "# SKIP io_uring under valgrind (see under_valgrind)");
    else if (gw_conn_uring_probe(err) == 0)
        run_all(GW_CONN_IO_URING);
    else
        ok(1, "# SKIP io_uring cannot be used here: %s", err);
    return done_testing();
}
