/*
 * ctl.c -- tests for lib/ctl.c: the control socket server on a loop thread, its replies to good
 * and bad requests, ordering, async replies, streams, peer checks, and the client's statuses;
 * on lib/conn: hang-up during an async request, a pipeline past 64 KiB behind a request in
 * flight, a request in flight is not idle, half-close after a pipelined batch.
 */
#include "ctl.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"

#define DEADLINE_MS 5000

static char tmpdir[] = "/tmp/gwctl.XXXXXX";

/* ---- the server under test, on its own loop thread ---- */

struct server {
    struct gw_ev *ev;
    struct gw_ctl *ctl;
    pthread_t thread;
    char path[256];
    struct gw_ctl_req *held; /* "hold" */
};

static atomic_int hangups;
static atomic_int waits; /* "wait" requests received */

struct slow {
    struct gw_ev_timer t;
    struct gw_ctl_req *r;
};

static void
slow_fire(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct slow *s = arg;

    (void)ev, (void)t;
    gw_ctl_reply(s->r, json_pack("{s:b}", "slow", 1));
    free(s);
}

static void
cmd_slow(struct gw_ctl_req *r, json_t *args, void *arg)
{
    struct server *sv = arg;
    struct slow *s = calloc(1, sizeof(*s));

    (void)args;
    s->r = r;
    gw_ev_timer_init(&s->t, slow_fire, s);
    gw_ev_timer_start(sv->ev, &s->t, 30);
}

static void
cmd_echo(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)arg;
    gw_ctl_reply(r, json_incref(args));
}

static void
cmd_big(struct gw_ctl_req *r, json_t *args, void *arg)
{
    size_t n = (size_t)json_integer_value(json_object_get(args, "n"));
    char *s = malloc(n);

    (void)arg;
    memset(s, 'z', n);
    gw_ctl_reply(r, json_pack("{s:s%}", "s", s, n));
    free(s);
}

static void
cmd_uid(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)args, (void)arg;
    gw_ctl_reply(r, json_pack("{s:i}", "uid", (int)gw_ctl_req_uid(r)));
}

static void
cmd_fail(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)args, (void)arg;
    gw_ctl_error(r, "bad_args", "no %s today", "fish");
}

static void
tail_hangup(struct gw_ctl_req *r, void *arg)
{
    (void)arg;
    atomic_fetch_add(&hangups, 1);
    gw_ctl_reply(r, NULL); /* an orphan: only freed */
}

static void
cmd_tail(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)args, (void)arg;
    gw_ctl_req_on_hangup(r, tail_hangup, NULL);
    for (int i = 1; i <= 3; i++)
        gw_ctl_stream(r, json_pack("{s:i}", "n", i));
}

static void
cmd_hold(struct gw_ctl_req *r, json_t *args, void *arg)
{
    struct server *sv = arg;

    (void)args;
    sv->held = r;
}

static void
cmd_release(struct gw_ctl_req *r, json_t *args, void *arg)
{
    struct server *sv = arg;
    int had = sv->held != NULL;

    (void)args;
    if (had)
        gw_ctl_reply(sv->held, json_pack("{s:b}", "released", 1));
    sv->held = NULL;
    gw_ctl_reply(r, json_pack("{s:b}", "released", had));
}

/* "wait": held like "hold", with an on_hangup (an async request whose client may go). */
static void
cmd_wait(struct gw_ctl_req *r, json_t *args, void *arg)
{
    struct server *sv = arg;

    (void)args;
    gw_ctl_req_on_hangup(r, tail_hangup, NULL);
    sv->held = r;
    atomic_fetch_add(&waits, 1);
}

static void
drop_held(struct gw_ev *ev, void *arg)
{
    struct server *sv = arg;

    (void)ev;
    sv->held = NULL; /* freed by tail_hangup */
}

static const struct gw_ctl_cmd cmds[] = {
    {"wait", cmd_wait, "replies when released; notices a hang-up", NULL},
    {"echo", cmd_echo, "reply with the args", NULL},
    {"slow", cmd_slow, "reply after 30 ms", NULL},
    {"uid", cmd_uid, "the peer's uid", NULL},
    {"bulk", cmd_big, "a reply of args.n bytes", NULL},
    {"fail", cmd_fail, "always fails", NULL},
    {"tail", cmd_tail, "three stream items, then waits", NULL},
    {"hold", cmd_hold, "replies when released", NULL},
    {"release", cmd_release, "releases the held request", NULL},
    {NULL, NULL, NULL, NULL},
};

static void *
server_main(void *arg)
{
    struct server *sv = arg;

    gw_ev_run(sv->ev);
    return NULL;
}

static int
server_start(struct server *sv, const char *name, const char *group, int idle_ms, int max)
{
    char err[GW_ERR_LEN] = "";

    memset(sv, 0, sizeof(*sv));
    snprintf(sv->path, sizeof(sv->path), "%s/%s.sock", tmpdir, name);
    if ((sv->ev = gw_ev_new(err)) == NULL ||
        (sv->ctl = gw_ctl_listen(sv->ev, sv->path, group, cmds, sv, err)) == NULL) {
        diag("server %s: %s", name, err);
        if (sv->ev)
            gw_ev_free(sv->ev);
        return -1;
    }
    gw_ctl_set_limits(sv->ctl, idle_ms, max);
    return pthread_create(&sv->thread, NULL, server_main, sv) == 0 ? 0 : -1;
}

static void
close_on_loop(struct gw_ev *ev, void *arg)
{
    struct server *sv = arg;

    gw_ctl_close(sv->ctl);
    gw_ev_stop(ev);
}

static void
server_stop(struct server *sv)
{
    gw_ev_post(sv->ev, close_on_loop, sv);
    pthread_join(sv->thread, NULL);
    gw_ev_free(sv->ev);
}

/* ---- a raw client ---- */

static int
raw_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    gw_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

static void
raw_send(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Reads one line (without '\n') into buf; "" on EOF or timeout. Peeks first so that no byte
 * after the line is consumed. */
static const char *
raw_line(int fd, char *buf, size_t len)
{
    uint64_t deadline = gw_mono_ms() + DEADLINE_MS;
    size_t n = 0;

    buf[0] = '\0';
    while (n + 1 < len && gw_mono_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t got;
        char *nl;
        if (poll(&p, 1, 100) <= 0)
            continue;
        if ((got = recv(fd, buf + n, len - 1 - n, MSG_PEEK)) <= 0)
            break;
        nl = memchr(buf + n, '\n', (size_t)got);
        got = recv(fd, buf + n, nl ? (size_t)(nl - (buf + n)) + 1 : (size_t)got, 0);
        if (got <= 0)
            break;
        n += (size_t)got;
        if (nl) {
            n--;
            break;
        }
    }
    buf[n] = '\0';
    return buf;
}

/* 1 when the server closes the connection within the deadline. */
static int
raw_eof(int fd)
{
    uint64_t deadline = gw_mono_ms() + DEADLINE_MS;
    char c;

    while (gw_mono_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        if (poll(&p, 1, 100) <= 0)
            continue;
        n = read(fd, &c, 1);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 1;
    }
    return 0;
}

/* Sends one line and returns the reply line. */
static const char *
ask(int fd, const char *line, char *buf, size_t len)
{
    raw_send(fd, line, strlen(line));
    return raw_line(fd, buf, len);
}

/* ---- tests ---- */

static void
test_round_trip(struct server *sv)
{
    char err[GW_ERR_LEN] = "";
    enum gw_ctl_status st = GW_CTL_PROTO;
    json_t *args = json_pack("{s:i, s:s}", "a", 1, "b", "x");
    json_t *res;

    res = gw_ctl_call(sv->path, "ping", NULL, 2000, &st, err);
    ok(st == GW_CTL_OK && json_is_true(json_object_get(res, "pong")), "ping round trip (%s)", err);
    json_decref(res);
    res = gw_ctl_call(sv->path, "echo", args, 2000, &st, err);
    ok(st == GW_CTL_OK && json_equal(res, args), "args reach the handler and come back");
    json_decref(res);
    json_decref(args);
    res = gw_ctl_call(sv->path, "uid", NULL, 2000, &st, err);
    is(json_integer_value(json_object_get(res, "uid")), 0, "handler sees the peer uid");
    json_decref(res);
    res = gw_ctl_call(sv->path, "fail", NULL, 2000, &st, err);
    ok(st == GW_CTL_FAILED, "ok:false reply gives GW_CTL_FAILED");
    is_str(json_string_value(json_object_get(res, "code")), "bad_args",
           "the error object is returned");
    ok(strstr(err, sv->path) && strstr(err, "no fish today"), "err names path and message: %s",
       err);
    json_decref(res);
    res = gw_ctl_call(sv->path, "help", NULL, 2000, &st, err);
    {
        char *s = json_dumps(res, JSON_COMPACT);
        ok(s && strstr(s, "{\"name\":\"echo\",\"help\":\"reply with the args\"}") &&
               strstr(s, "\"name\":\"ping\"") && strstr(s, "\"name\":\"help\""),
           "help lists the table and the built-ins");
        free(s);
    }
    json_decref(res);
}

struct exchange {
    const char *send, *want, *what;
};

static void
test_exact_replies(struct server *sv)
{
    static const struct exchange ex[] = {
        {"{\"id\":1,\"cmd\":\"ping\"}\n", "{\"id\":1,\"ok\":true,\"result\":{\"pong\":true}}",
         "integer id"},
        {"{\"id\":\"abc\",\"cmd\":\"ping\"}\n",
         "{\"id\":\"abc\",\"ok\":true,\"result\":{\"pong\":true}}", "string id"},
        {"{\"id\":1.5,\"cmd\":\"ping\"}\n", "{\"id\":1.5,\"ok\":true,\"result\":{\"pong\":true}}",
         "real id"},
        {"{\"id\":{\"a\":[1,null]},\"cmd\":\"ping\"}\n",
         "{\"id\":{\"a\":[1,null]},\"ok\":true,\"result\":{\"pong\":true}}", "object id"},
        {"{\"id\":[true,\"x\"],\"cmd\":\"ping\"}\n",
         "{\"id\":[true,\"x\"],\"ok\":true,\"result\":{\"pong\":true}}", "array id"},
        {"{\"id\":null,\"cmd\":\"ping\"}\n", "{\"id\":null,\"ok\":true,\"result\":{\"pong\":true}}",
         "null id"},
        {"{\"cmd\":\"ping\"}\n", "{\"id\":null,\"ok\":true,\"result\":{\"pong\":true}}",
         "absent id echoed as null"},
        {"{\"id\":2,\"cmd\":\"echo\",\"args\":null}\n", "{\"id\":2,\"ok\":true,\"result\":{}}",
         "null args become {}"},
        {"[1,2]\n",
         "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad_request\",\"message\":\"a request "
         "must be a JSON object\"}}",
         "array request refused"},
        {"\"ping\"\n",
         "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad_request\",\"message\":\"a request "
         "must be a JSON object\"}}",
         "string request refused"},
        {"{\"id\":7}\n",
         "{\"id\":7,\"ok\":false,\"error\":{\"code\":\"bad_request\",\"message\":\"missing "
         "\\\"cmd\\\"\"}}",
         "missing cmd"},
        {"{\"id\":8,\"cmd\":5}\n",
         "{\"id\":8,\"ok\":false,\"error\":{\"code\":\"bad_request\",\"message\":\"\\\"cmd\\\" "
         "must be a string\"}}",
         "non-string cmd"},
        {"{\"id\":9,\"cmd\":\"ping\",\"args\":[1]}\n",
         "{\"id\":9,\"ok\":false,\"error\":{\"code\":\"bad_request\",\"message\":\"\\\"args\\\" "
         "must be an object\"}}",
         "non-object args"},
        {"{\"id\":10,\"cmd\":\"nope\"}\n",
         "{\"id\":10,\"ok\":false,\"error\":{\"code\":\"unknown_command\",\"message\":\"unknown "
         "command 'nope' (see help)\"}}",
         "unknown command"},
        {"{\"id\":11,\"cmd\":\"pnig\"}\n",
         "{\"id\":11,\"ok\":false,\"error\":{\"code\":\"unknown_command\",\"message\":\"unknown "
         "command 'pnig'; did you mean 'ping'?\"}}",
         "unknown command with a suggestion"},
        {"\n\r\n{\"id\":12,\"cmd\":\"ping\"}\r\n",
         "{\"id\":12,\"ok\":true,\"result\":{\"pong\":true}}", "blank lines ignored, CRLF taken"},
        {"{\"id\":13,\"id\":14,\"cmd\":\"ping\"}\n",
         "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad_request\",\"message\":\"invalid JSON "
         "at column 13: duplicate object key near '\\\"id\\\"'\"}}",
         "duplicate keys refused"},
    };
    char buf[1024];
    int fd = raw_connect(sv->path);

    ok(fd >= 0, "raw connect");
    for (size_t i = 0; i < GW_ARRAY_LEN(ex); i++)
        is_str(ask(fd, ex[i].send, buf, sizeof(buf)), ex[i].want, "%s", ex[i].what);
    ask(fd, "not json\n", buf, sizeof(buf));
    ok(strncmp(
           buf,
           "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad_request\",\"message\":\"invalid "
           "JSON at column",
           80) == 0,
       "malformed JSON: %s", buf);
    ask(fd, "{\"id\":1,\"cmd\":\"\xff\xfe\"}\n", buf, sizeof(buf));
    ok(strstr(buf, "\"code\":\"bad_request\""), "invalid UTF-8 refused: %s", buf);
    is_str(ask(fd, "{\"id\":15,\"cmd\":\"ping\"}\n", buf, sizeof(buf)),
           "{\"id\":15,\"ok\":true,\"result\":{\"pong\":true}}",
           "the connection still serves after bad lines");
    close(fd);
}

static void
test_too_large(struct server *sv)
{
    size_t n = GW_CTL_MAX_LINE + 5000;
    char *big = malloc(n + 1), buf[512];
    int fd = raw_connect(sv->path);

    memset(big, 'a', n);
    big[n] = '\n';
    raw_send(fd, big, n + 1);
    is_str(raw_line(fd, buf, sizeof(buf)),
           "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"too_large\",\"message\":\"request line "
           "over 65536 bytes\"}}",
           "oversized request: too_large");
    ok(raw_eof(fd), "then the connection closes");
    close(fd);
    free(big);

    /* Just under the limit is fine. */
    fd = raw_connect(sv->path);
    n = GW_CTL_MAX_LINE - 64;
    big = malloc(n + 64);
    n = (size_t)snprintf(big, 64, "{\"id\":1,\"cmd\":\"echo\",\"args\":{\"s\":\"");
    memset(big + n, 'b', GW_CTL_MAX_LINE - 64 - n);
    n = GW_CTL_MAX_LINE - 64;
    memcpy(big + n, "\"}}\n", 4);
    raw_send(fd, big, n + 4);
    {
        char *reply = malloc(GW_CTL_MAX_LINE * 2);
        raw_line(fd, reply, GW_CTL_MAX_LINE * 2);
        ok(strncmp(reply, "{\"id\":1,\"ok\":true,\"result\":{\"s\":\"bbbb", 36) == 0,
           "a request near 64 KiB is served");
        if (strncmp(reply, "{\"id\":1,\"ok\":true,\"result\":{\"s\":\"bbbb", 36) != 0)
            diag("got %zu bytes: %.200s", strlen(reply), reply);
        free(reply);
    }
    close(fd);
    free(big);
}

static void
test_pipelined(struct server *sv)
{
    static const char reqs[] = "{\"id\":1,\"cmd\":\"slow\"}\n{\"id\":2,\"cmd\":\"ping\"}\n"
                               "{\"id\":3,\"cmd\":\"echo\",\"args\":{\"x\":3}}\n";
    char buf[512];
    int fd = raw_connect(sv->path);

    raw_send(fd, reqs, sizeof(reqs) - 1);
    is_str(raw_line(fd, buf, sizeof(buf)), "{\"id\":1,\"ok\":true,\"result\":{\"slow\":true}}",
           "pipelined: the slow reply first");
    is_str(raw_line(fd, buf, sizeof(buf)), "{\"id\":2,\"ok\":true,\"result\":{\"pong\":true}}",
           "pipelined: then the second");
    is_str(raw_line(fd, buf, sizeof(buf)), "{\"id\":3,\"ok\":true,\"result\":{\"x\":3}}",
           "pipelined: then the third");
    close(fd);
}

/* Replies pile up past the 1 MiB mark while the client does not read; all arrive, in order. */
static void
test_backpressure(struct server *sv)
{
    static const char one[] = "{\"id\":%d,\"cmd\":\"bulk\",\"args\":{\"n\":600000}}\n";
    char line[128], *buf = malloc(700000);
    int fd = raw_connect(sv->path), good = 1;

    for (int i = 1; i <= 5; i++) {
        snprintf(line, sizeof(line), one, i);
        raw_send(fd, line, strlen(line));
    }
    for (int i = 1; i <= 5; i++) {
        char want[64];
        size_t n;
        snprintf(want, sizeof(want), "{\"id\":%d,\"ok\":true,\"result\":{\"s\":\"zzz", i);
        n = strlen(raw_line(fd, buf, 700000));
        good &= strncmp(buf, want, strlen(want)) == 0 && n == 33 + 600000 + 3;
    }
    ok(good, "five 600 KB replies, pipelined, arrive whole and in order");
    close(fd);
    free(buf);
}

static void
test_async(struct server *sv)
{
    char buf[512];
    int a = raw_connect(sv->path), b = raw_connect(sv->path);

    static const char two[] = "{\"id\":\"h\",\"cmd\":\"hold\"}\n{\"id\":\"p\",\"cmd\":\"ping\"}\n";

    raw_send(a, two, sizeof(two) - 1);
    /* The connections race: release until a's hold is in flight. */
    for (uint64_t end = gw_mono_ms() + DEADLINE_MS; gw_mono_ms() < end;)
        if (strcmp(ask(b, "{\"id\":\"r\",\"cmd\":\"release\"}\n", buf, sizeof(buf)),
                   "{\"id\":\"r\",\"ok\":true,\"result\":{\"released\":false}}") != 0)
            break;
    is_str(buf, "{\"id\":\"r\",\"ok\":true,\"result\":{\"released\":true}}", "release answered");
    is_str(raw_line(a, buf, sizeof(buf)),
           "{\"id\":\"h\",\"ok\":true,\"result\":{\"released\":true}}",
           "held request answered later, from another connection's handler");
    is_str(raw_line(a, buf, sizeof(buf)), "{\"id\":\"p\",\"ok\":true,\"result\":{\"pong\":true}}",
           "the request queued behind it follows");
    close(a);
    close(b);

    /* A client that half-closes after its request still gets the reply. */
    a = raw_connect(sv->path);
    raw_send(a, "{\"id\":5,\"cmd\":\"slow\"}\n", 23);
    shutdown(a, SHUT_WR);
    is_str(raw_line(a, buf, sizeof(buf)), "{\"id\":5,\"ok\":true,\"result\":{\"slow\":true}}",
           "half-closed client gets its reply");
    ok(raw_eof(a), "then the server closes");
    close(a);
}

static int
wait_hangups(int want)
{
    uint64_t deadline = gw_mono_ms() + DEADLINE_MS;

    while (atomic_load(&hangups) < want && gw_mono_ms() < deadline)
        poll(NULL, 0, 5);
    return atomic_load(&hangups) >= want;
}

static void
test_stream(struct server *sv)
{
    char err[GW_ERR_LEN] = "";
    enum gw_ctl_status st = GW_CTL_PROTO;
    struct gw_ctl_client *cl = gw_ctl_client_open(sv->path, 2000, &st, err);
    int good = 1, before = atomic_load(&hangups);

    ok(cl != NULL && st == GW_CTL_OK, "stream client connected (%s)", err);
    if (!cl)
        return;
    ok(gw_ctl_client_send(cl, "tail", NULL, err) == 0, "tail sent");
    for (int i = 1; i <= 3; i++) {
        json_t *o = gw_ctl_client_next(cl, 2000, &st, err);
        good &= st == GW_CTL_OK &&
                json_integer_value(json_object_get(json_object_get(o, "stream"), "n")) == i &&
                json_is_true(json_object_get(o, "ok"));
        json_decref(o);
    }
    ok(good, "three stream lines received in order");
    {
        json_t *o = gw_ctl_client_next(cl, 0, &st, err);
        ok(o == NULL && st == GW_CTL_TIMEOUT, "nothing more yet: timeout (%s)", err);
    }
    gw_ctl_client_close(cl);
    ok(wait_hangups(before + 1), "client hang-up reaches on_hangup");
}

/* A peer that accepts and answers with reply (NULL: closes without a word). */
struct fake {
    int lfd;
    const char *reply;
    pthread_t thread;
};

static void *
fake_main(void *arg)
{
    struct fake *f = arg;
    char buf[4096];
    int fd = accept(f->lfd, NULL, NULL);

    if (fd >= 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, DEADLINE_MS) == 1 && read(fd, buf, sizeof(buf)) > 0 && f->reply)
            raw_send(fd, f->reply, strlen(f->reply));
        close(fd);
    }
    return NULL;
}

static int
bound_socket(const char *path, int do_listen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    gw_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || (do_listen && listen(fd, 4) == -1)) {
        close(fd);
        return -1;
    }
    return fd;
}

static enum gw_ctl_status
call_status(const char *path, int timeout_ms, char *err)
{
    enum gw_ctl_status st = GW_CTL_OK;
    json_t *res = gw_ctl_call(path, "ping", NULL, timeout_ms, &st, err);

    json_decref(res);
    return st;
}

static void
fake_case(const char *name, const char *reply, enum gw_ctl_status want, const char *what)
{
    char path[256], err[GW_ERR_LEN] = "";
    struct fake f = {.reply = reply};

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f.lfd = bound_socket(path, 1);
    pthread_create(&f.thread, NULL, fake_main, &f);
    is(call_status(path, 2000, err), want, "%s (%s)", what, err);
    pthread_join(f.thread, NULL);
    close(f.lfd);
}

static void
test_client_statuses(void)
{
    char path[256], err[GW_ERR_LEN] = "";
    uint64_t t0;
    int fd;

    snprintf(path, sizeof(path), "%s/hbd.sock", tmpdir);
    is(call_status(path, 1000, err), GW_CTL_NOSOCK, "missing socket: NOSOCK");
    ok(strstr(err, path) && strstr(err, "no such file (is hbd running? see --run-dir)"),
       "NOSOCK says what to do: %s", err);

    snprintf(path, sizeof(path), "%s/stale.sock", tmpdir);
    fd = bound_socket(path, 0);
    close(fd);
    is(call_status(path, 1000, err), GW_CTL_REFUSED, "stale socket file: REFUSED");
    ok(strstr(err, path) && strstr(err, "stale socket"), "REFUSED explains: %s", err);

    snprintf(path, sizeof(path), "%s/mute.sock", tmpdir);
    fd = bound_socket(path, 1);
    t0 = gw_mono_ms();
    is(call_status(path, 200, err), GW_CTL_TIMEOUT, "listener that never answers: TIMEOUT");
    ok(gw_mono_ms() - t0 >= 190 && gw_mono_ms() - t0 < 3000, "the timeout is honoured (%llu ms)",
       (unsigned long long)(gw_mono_ms() - t0));
    ok(strstr(err, path) != NULL, "TIMEOUT names the socket: %s", err);
    close(fd);

    fake_case("garbage.sock", "garbage\n", GW_CTL_PROTO, "garbage reply: PROTO");
    fake_case("array.sock", "[1]\n", GW_CTL_PROTO, "non-object reply: PROTO");
    fake_case("silent.sock", NULL, GW_CTL_PROTO, "closed without a reply: PROTO");
    fake_case("partial.sock", "{\"id\":", GW_CTL_PROTO, "half a reply then close: PROTO");
    fake_case("otherid.sock", "{\"id\":\"zzz\",\"ok\":true,\"result\":{}}\n", GW_CTL_PROTO,
              "reply to another id: PROTO");
}

/* ---- other users ---- */

struct child_case {
    const char *path;
    gid_t extra_group; /* 0: none */
    enum gw_ctl_status want;
    const char *err_has;
};

/* Runs gw_ctl_call as nobody in a child; 0 when the status and message are as wanted. */
static int
call_as_nobody(const struct child_case *cc)
{
    struct passwd *pw = getpwnam("nobody");
    int status;
    pid_t pid;

    if (!pw || (pid = fork()) == -1)
        return -1;
    if (pid == 0) {
        char err[GW_ERR_LEN] = "";
        enum gw_ctl_status st;
        gid_t groups[1] = {cc->extra_group};
        if (setgroups(cc->extra_group ? 1 : 0, groups) == -1 || setgid(pw->pw_gid) == -1 ||
            setuid(pw->pw_uid) == -1)
            _exit(90);
        st = call_status(cc->path, 2000, err);
        if (st != cc->want || (cc->err_has && !strstr(err, cc->err_has))) {
            printf("# child: status %d: %s\n", (int)st, err);
            fflush(stdout);
            _exit(10 + (int)st);
        }
        _exit(0);
    }
    if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void
test_peers(struct server *sv)
{
    struct server g;
    struct child_case cc = {sv->path, 0, GW_CTL_DENIED, "cannot connect"};
    struct group *daemon_gr = getgrnam("daemon");
    struct stat sb;

    chmod(tmpdir, 0755); /* let nobody reach the sockets */
    is(call_as_nobody(&cc), 0, "socket mode 0660 keeps another user out: DENIED");
    chmod(sv->path, 0666);
    cc.err_has = "permission denied: uid 65534 may not use this control socket";
    is(call_as_nobody(&cc), 0, "peer check refuses another uid: permission_denied -> DENIED");
    chmod(sv->path, 0660);

    if (server_start(&g, "grp", "nogroup", 0, 0) == 0) {
        ok(stat(g.path, &sb) == 0 && sb.st_gid == 65534 && (sb.st_mode & 0777) == 0660,
           "socket file is 0660, group ctl_group");
        cc = (struct child_case){g.path, 0, GW_CTL_OK, NULL};
        is(call_as_nobody(&cc), 0, "member of ctl_group by primary gid allowed");
        server_stop(&g);
    }
    if (daemon_gr && server_start(&g, "grp2", "daemon", 0, 0) == 0) {
        cc = (struct child_case){g.path, daemon_gr->gr_gid, GW_CTL_OK, NULL};
        is(call_as_nobody(&cc), 0, "member of ctl_group by supplementary group allowed");
        cc = (struct child_case){g.path, 0, GW_CTL_DENIED, NULL};
        chmod(g.path, 0666);
        is(call_as_nobody(&cc), 0, "non-member refused");
        server_stop(&g);
    }
    chmod(tmpdir, 0700);
}

static void
test_limits(void)
{
    char err[GW_ERR_LEN] = "";
    enum gw_ctl_status st;
    struct gw_ctl_client *a, *b;
    struct server sv;
    json_t *o;
    int fd;

    if (server_start(&sv, "limits", NULL, 150, 2) != 0)
        return;
    a = gw_ctl_client_open(sv.path, 2000, &st, err);
    b = gw_ctl_client_open(sv.path, 2000, &st, err);
    /* Both accepted once each has an answer; tail keeps them busy, so not idle. */
    gw_ctl_client_send(a, "tail", NULL, err);
    gw_ctl_client_send(b, "tail", NULL, err);
    json_decref(gw_ctl_client_next(a, 2000, &st, err));
    json_decref(gw_ctl_client_next(b, 2000, &st, err));
    o = gw_ctl_call(sv.path, "ping", NULL, 2000, &st, err);
    ok(st == GW_CTL_FAILED && strcmp(json_string_value(json_object_get(o, "code")), "busy") == 0,
       "connection over the limit: busy (%s)", err);
    json_decref(o);
    gw_ctl_client_close(a);
    gw_ctl_client_close(b);

    fd = raw_connect(sv.path);
    ok(fd >= 0 && raw_eof(fd), "idle connection closed after the idle timeout");
    close(fd);
    server_stop(&sv);
}

static void
test_server_misc(void)
{
    char err[GW_ERR_LEN] = "", path[256];
    struct gw_ctl_client *cl;
    enum gw_ctl_status st;
    struct server sv;
    struct gw_ev *ev;
    int before;

    if (server_start(&sv, "misc", NULL, 0, 0) != 0)
        return;
    ev = gw_ev_new(err);
    ok(gw_ctl_listen(ev, sv.path, NULL, cmds, NULL, err) == NULL && strstr(err, "in use"),
       "a live socket is not taken over: %s", err);
    ok(gw_ctl_listen(ev, sv.path, "no-such-group-gw", cmds, NULL, err) == NULL &&
           strstr(err, "unknown ctl_group 'no-such-group-gw'"),
       "unknown ctl_group refused: %s", err);
    gw_ev_free(ev);

    before = atomic_load(&hangups);
    cl = gw_ctl_client_open(sv.path, 2000, &st, err);
    gw_ctl_client_send(cl, "tail", NULL, err);
    json_decref(gw_ctl_client_next(cl, 2000, &st, err));
    server_stop(&sv);
    is(atomic_load(&hangups), before + 1, "gw_ctl_close orphans a pending stream (on_hangup ran)");
    ok(access(sv.path, F_OK) == -1, "socket file removed on close");
    json_decref(gw_ctl_client_next(cl, 2000, &st, err)); /* drain the other stream lines */
    json_decref(gw_ctl_client_next(cl, 2000, &st, err));
    ok(gw_ctl_client_next(cl, 2000, &st, err) == NULL && st == GW_CTL_OK,
       "client sees the end of the connection");
    gw_ctl_client_close(cl);

    ok(gw_ctl_socket_path("/run/gwkit", "hbd", path, sizeof(path)) &&
           strcmp(path, "/run/gwkit/hbd.sock") == 0,
       "socket path");
    {
        char longdir[200];
        memset(longdir, 'd', sizeof(longdir) - 1);
        longdir[sizeof(longdir) - 1] = '\0';
        ok(gw_ctl_socket_path(longdir, "hbd", path, sizeof(path)) == NULL,
           "socket path past sun_path refused");
    }
    is_str(gw_ctl_default_run_dir(path, sizeof(path)), geteuid() == 0 ? "/run/gwkit" : path,
           "default run dir for root");
}

static void
test_parse(void)
{
    const char *cmd = NULL;
    json_t *args = NULL, *error = NULL, *req;

    req = gw_ctl_parse_request("{\"cmd\":\"x\"}\r", 12, &cmd, &args, &error);
    ok(req && strcmp(cmd, "x") == 0 && json_is_object(args) && json_object_size(args) == 0 &&
           !error,
       "parse: absent args become {}");
    json_decref(req);
    req = gw_ctl_parse_request("{\"cmd\":\"x\"} junk", 17, &cmd, &args, &error);
    ok(!req && error, "parse: trailing junk refused");
    json_decref(error);
    req = gw_ctl_parse_request("{\"cmd\":\"a\\u0000b\"}", 18, &cmd, &args, &error);
    ok(!req && error, "parse: NUL in a string refused");
    json_decref(error);
}

/* ---- on lib/conn: EOF, hang-up, pipelining and idleness around a request in flight ---- */

static void
test_conn_layer(void)
{
    char buf[512], line[128], *big;
    struct server sv;
    size_t n = 0;
    int fd, before, good = 1;

    if (server_start(&sv, "layer", NULL, 150, 0) != 0)
        return;

    /* An async request whose client hangs up: on_hangup runs (the layer keeps reading). */
    before = atomic_load(&hangups);
    fd = raw_connect(sv.path);
    raw_send(fd, "{\"id\":1,\"cmd\":\"wait\"}\n", 22);
    for (uint64_t end = gw_mono_ms() + DEADLINE_MS; !atomic_load(&waits) && gw_mono_ms() < end;)
        poll(NULL, 0, 2);
    close(fd);
    ok(wait_hangups(before + 1), "hang-up during an async request reaches on_hangup");
    gw_ev_post(sv.ev, drop_held, &sv);

    /* A request in flight is not idle (idle timeout 150 ms here); the reply still comes. */
    fd = raw_connect(sv.path);
    raw_send(fd, "{\"id\":2,\"cmd\":\"hold\"}\n", 22);
    poll(NULL, 0, 400); /* a wait, not a poll for a condition: past the idle timeout */
    {
        int b = raw_connect(sv.path);
        ask(b, "{\"id\":\"r\",\"cmd\":\"release\"}\n", buf, sizeof(buf));
        close(b);
    }
    is_str(raw_line(fd, buf, sizeof(buf)), "{\"id\":2,\"ok\":true,\"result\":{\"released\":true}}",
           "a connection with a request in flight outlives the idle timeout");
    close(fd);

    /* Over 64 KiB pipelined behind a request in flight: reads pause, then all are served. */
    fd = raw_connect(sv.path);
    big = malloc(200000);
    n = (size_t)snprintf(big, 200000, "{\"id\":0,\"cmd\":\"slow\"}\n");
    for (int i = 1; i <= 3000; i++)
        n += (size_t)snprintf(big + n, 200000 - n, "{\"id\":%d,\"cmd\":\"ping\"}\n", i);
    raw_send(fd, big, n);
    is_str(raw_line(fd, buf, sizeof(buf)), "{\"id\":0,\"ok\":true,\"result\":{\"slow\":true}}",
           "pipeline past 64 KiB: the request in flight is answered first");
    for (int i = 1; i <= 3000; i++) {
        snprintf(line, sizeof(line), "{\"id\":%d,\"ok\":true,\"result\":{\"pong\":true}}", i);
        good &= strcmp(raw_line(fd, buf, sizeof(buf)), line) == 0;
    }
    ok(good, "pipeline past 64 KiB: the 3000 requests behind it are all answered, in order");
    close(fd);
    free(big);

    /* Half-close after a pipelined batch ending in a partial line: every reply, then the end. */
    fd = raw_connect(sv.path);
    raw_send(fd, "{\"id\":1,\"cmd\":\"slow\"}\n{\"id\":2,\"cmd\":\"ping\"}\n{\"id\":3,", 53);
    shutdown(fd, SHUT_WR);
    is_str(raw_line(fd, buf, sizeof(buf)), "{\"id\":1,\"ok\":true,\"result\":{\"slow\":true}}",
           "half-close after a batch: first reply");
    is_str(raw_line(fd, buf, sizeof(buf)), "{\"id\":2,\"ok\":true,\"result\":{\"pong\":true}}",
           "half-close after a batch: second reply");
    ok(raw_eof(fd), "half-close after a batch: the partial line is dropped, the server closes");
    close(fd);
    server_stop(&sv);
}

static int
rm_tree(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd);
}

int
main(void)
{
    struct server sv;

    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_parse();
    if (server_start(&sv, "test", NULL, 0, 0) == 0) {
        test_round_trip(&sv);
        test_exact_replies(&sv);
        test_too_large(&sv);
        test_pipelined(&sv);
        test_backpressure(&sv);
        test_async(&sv);
        test_stream(&sv);
        test_peers(&sv);
        server_stop(&sv);
    } else {
        ok(0, "server starts");
    }
    test_client_statuses();
    test_limits();
    test_server_misc();
    test_conn_layer();
    rm_tree();
    return done_testing();
}
