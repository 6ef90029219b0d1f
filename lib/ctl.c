/*
 * ctl.c -- the control socket: JSON lines over a Unix stream socket, server and client.
 *
 * Server: one listener and its connections live on one event loop. A connection holds at most
 * one request in flight; further lines wait in its input buffer (bounded by GW_CTL_MAX_LINE),
 * so replies go out in request order and a client that pipelines too much is simply not read.
 * Every entry into this module from the loop (or from a handler replying later) is bracketed
 * by enter()/leave(): closed connections, and the server itself after gw_ctl_close(), are
 * freed only when the outermost call unwinds, so a handler may close anything at any time.
 */
#include "ctl.h"

#include "buf.h"
#include "listener.h"
#include "net.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BACKLOG 16
#define IDLE_TIMEOUT_MS (5 * 60 * 1000)
#define MAX_CLIENTS 64
#define SWEEP_MAX_MS 10000
#define ACCEPTS_PER_EVENT 16
/* Above this much unsent output a connection takes no new request and is not read. */
#define OUT_HIGH_BYTES ((size_t)1 << 20)
/* Hard limit on a connection's unsent output: one reply, or a stream the client reads too
 * slowly, never holds more. */
#define OUT_MAX_BYTES ((size_t)32 << 20)
#define CLIENT_MAX_REPLY ((size_t)64 << 20)
#define MESSAGE_MAX 1024

struct conn {
    struct gw_ctl *ctl;
    struct conn *prev, *next; /* live list, or the dead list once closed */
    int fd;
    unsigned uid;
    unsigned events; /* interest registered with the loop */
    struct gw_buf in, out;
    struct gw_ctl_req *cur; /* the request in flight */
    uint64_t active_ms;
    unsigned eof : 1;     /* the client sent everything it will send */
    unsigned closing : 1; /* close once the output is flushed */
    unsigned dead : 1;    /* closed, waiting to be freed */
    unsigned driving : 1; /* inside drive(): it will continue after a synchronous reply */
};

struct gw_ctl_req {
    struct conn *c; /* NULL once orphaned (client gone, or server closed) */
    json_t *id;
    unsigned uid;
    void (*on_hangup)(struct gw_ctl_req *r, void *arg);
    void *hangup_arg;
};

struct gw_ctl {
    struct gw_ev *ev;
    struct gw_listener *listener;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t dev;
    ino_t ino;
    int has_group;
    gid_t gid;
    const struct gw_ctl_cmd *cmds;
    void *arg;
    struct conn *conns, *dead;
    unsigned nconns, max_clients;
    uint64_t idle_ms;
    struct gw_ev_timer sweep;
    int depth;  /* nesting of enter() */
    int closed; /* gw_ctl_close() ran; freed at the last leave() */
};

/* ---- replies ---- */

/* A JSON string for msg; bytes that would make it invalid (bad UTF-8, controls) become '?'. */
static json_t *
message_string(const char *msg)
{
    char clean[MESSAGE_MAX];
    json_t *s = json_string(msg);
    size_t i;

    if (s)
        return s;
    for (i = 0; msg[i] && i < sizeof(clean) - 1; i++)
        clean[i] = (unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] >= 0x7f ? '?' : msg[i];
    clean[i] = '\0';
    return json_string(clean);
}

/* {"id":id,"ok":ok,key:val}; steals val. */
static json_t *
reply_obj(json_t *id, int ok, const char *key, json_t *val)
{
    json_t *o = json_object();

    if (!o) {
        json_decref(val);
        return NULL;
    }
    json_object_set(o, "id", id ? id : json_null());
    json_object_set_new(o, "ok", json_boolean(ok));
    json_object_set_new(o, key, val ? val : json_object());
    return o;
}

static json_t *
error_obj(json_t *id, const char *code, const char *fmt, va_list ap)
{
    char msg[MESSAGE_MAX];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    return reply_obj(id, 0, "error",
                     json_pack("{s:s, s:o}", "code", code, "message", message_string(msg)));
}

static json_t *error_reply(json_t *id, const char *code, const char *fmt, ...) GW_PRINTF(3, 4);

static json_t *
error_reply(json_t *id, const char *code, const char *fmt, ...)
{
    va_list ap;
    json_t *o;

    va_start(ap, fmt);
    o = error_obj(id, code, fmt, ap);
    va_end(ap);
    return o;
}

/* Appends obj as one compact line. 0, or -1 when it cannot be encoded or does not fit. */
static int
put_json(struct gw_buf *out, const json_t *obj)
{
    size_t n = obj ? json_dumpb(obj, NULL, 0, JSON_COMPACT) : 0;
    char *dst;

    if (n == 0 || (dst = gw_buf_reserve(out, n + 1)) == NULL)
        return -1;
    json_dumpb(obj, dst, n, JSON_COMPACT);
    dst[n] = '\n';
    gw_buf_commit(out, n + 1);
    return 0;
}

json_t *
gw_ctl_parse_request(const char *line, size_t len, const char **cmd, json_t **args, json_t **error)
{
    json_error_t je;
    json_t *req, *id, *jcmd, *jargs;

    *error = NULL;
    if (len && line[len - 1] == '\r')
        len--;
    req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!req) {
        *error =
            error_reply(NULL, "bad_request", "invalid JSON at column %d: %s", je.column, je.text);
        return NULL;
    }
    if (!json_is_object(req)) {
        *error = error_reply(NULL, "bad_request", "a request must be a JSON object");
        goto fail;
    }
    id = json_object_get(req, "id");
    jcmd = json_object_get(req, "cmd");
    jargs = json_object_get(req, "args");
    if (!json_is_string(jcmd)) {
        *error =
            error_reply(id, "bad_request", jcmd ? "\"cmd\" must be a string" : "missing \"cmd\"");
        goto fail;
    }
    if (!jargs || json_is_null(jargs)) {
        if (json_object_set_new(req, "args", json_object()) == -1)
            goto fail;
        jargs = json_object_get(req, "args");
    } else if (!json_is_object(jargs)) {
        *error = error_reply(id, "bad_request", "\"args\" must be an object");
        goto fail;
    }
    *cmd = json_string_value(jcmd);
    *args = jargs;
    return req;
fail:
    if (!*error)
        *error = error_reply(NULL, "failed", "out of memory");
    json_decref(req);
    return NULL;
}

/* ---- connections ---- */

static void
enter(struct gw_ctl *ctl)
{
    ctl->depth++;
}

static void
free_conn(struct conn *c)
{
    gw_buf_reset(&c->in);
    gw_buf_reset(&c->out);
    free(c);
}

/* Ends an entry into the module; the outermost one frees what was closed meanwhile. ctl may
 * be gone when it returns. */
static void
leave(struct gw_ctl *ctl)
{
    struct conn *c;

    if (--ctl->depth > 0)
        return;
    while ((c = ctl->dead) != NULL) {
        ctl->dead = c->next;
        free_conn(c);
    }
    if (ctl->closed)
        free(ctl);
}

static void
free_req(struct gw_ctl_req *r)
{
    json_decref(r->id);
    free(r);
}

/* The one place a connection ends. A request in flight becomes an orphan: its on_hangup runs,
 * and its handler's later reply only frees it. */
static void
conn_close(struct conn *c)
{
    struct gw_ctl *ctl = c->ctl;
    struct gw_ctl_req *r = c->cur;

    if (c->dead)
        return;
    c->dead = 1;
    gw_ev_del(ctl->ev, c->fd);
    close(c->fd);
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        ctl->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = ctl->dead;
    ctl->dead = c;
    ctl->nconns--;
    if (r) {
        c->cur = NULL;
        r->c = NULL;
        if (r->on_hangup)
            r->on_hangup(r, r->hangup_arg);
    }
}

/* Sends what the socket takes. 0, or -1 when the connection was closed. */
static int
flush(struct conn *c)
{
    while (gw_buf_len(&c->out)) {
        ssize_t n =
            send(c->fd, gw_buf_data(&c->out), gw_buf_len(&c->out), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0) {
            conn_close(c);
            return -1;
        }
        gw_buf_consume(&c->out, (size_t)n);
        c->active_ms = gw_ev_now_ms(c->ctl->ev);
    }
    return 0;
}

static void
update_interest(struct conn *c)
{
    unsigned want = 0;

    if (c->dead)
        return;
    if (c->closing && gw_buf_len(&c->out) == 0) {
        conn_close(c);
        return;
    }
    if (!c->eof && !c->closing && gw_buf_room(&c->in) > 0 && gw_buf_len(&c->out) <= OUT_HIGH_BYTES)
        want |= GW_EV_READ;
    if (gw_buf_len(&c->out))
        want |= GW_EV_WRITE;
    if (want != c->events && gw_ev_mod(c->ctl->ev, c->fd, want) == 0)
        c->events = want;
}

/* Queues a reply line; steals obj. A reply too large for the output becomes an error reply,
 * and if even that does not fit the connection is closed. */
static void
send_obj(struct conn *c, json_t *obj, json_t *id)
{
    if (put_json(&c->out, obj) == -1) {
        json_t *e = error_reply(id, "failed", "reply could not be encoded or is too large");
        if (put_json(&c->out, e) == -1)
            c->closing = 1;
        json_decref(e);
    }
    json_decref(obj);
}

static void builtin_ping(struct gw_ctl_req *r, json_t *args, void *arg);
static void builtin_help(struct gw_ctl_req *r, json_t *args, void *arg);

static const struct gw_ctl_cmd builtin_cmds[] = {
    {"ping", builtin_ping, "check that the daemon answers", NULL},
    {"help", builtin_help, "list the commands", NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct gw_ctl_cmd *
find_cmd(const struct gw_ctl *ctl, const char *name, void **arg)
{
    for (const struct gw_ctl_cmd *k = ctl->cmds; k && k->name; k++)
        if (strcmp(k->name, name) == 0) {
            *arg = k->arg ? k->arg : ctl->arg;
            return k;
        }
    for (const struct gw_ctl_cmd *k = builtin_cmds; k->name; k++)
        if (strcmp(k->name, name) == 0) {
            *arg = (void *)ctl;
            return k;
        }
    return NULL;
}

static void
unknown_cmd(struct gw_ctl_req *r, const struct gw_ctl *ctl, const char *name)
{
    const char *best = NULL;
    unsigned best_d = 3;
    const struct gw_ctl_cmd *tables[] = {ctl->cmds, builtin_cmds};

    for (size_t t = 0; t < GW_ARRAY_LEN(tables); t++)
        for (const struct gw_ctl_cmd *k = tables[t]; k && k->name; k++) {
            unsigned d = gw_edit_distance(name, k->name);
            if (d < best_d) {
                best_d = d;
                best = k->name;
            }
        }
    if (best)
        gw_ctl_error(r, "unknown_command", "unknown command '%.64s'; did you mean '%s'?", name,
                     best);
    else
        gw_ctl_error(r, "unknown_command", "unknown command '%.64s' (see help)", name);
}

static void
dispatch(struct conn *c, const char *name, json_t *args, json_t *id)
{
    struct gw_ctl *ctl = c->ctl;
    const struct gw_ctl_cmd *k;
    struct gw_ctl_req *r;
    void *arg = NULL;

    if ((r = calloc(1, sizeof(*r))) == NULL) {
        send_obj(c, error_reply(id, "failed", "out of memory"), id);
        return;
    }
    r->c = c;
    r->id = json_incref(id ? id : json_null());
    r->uid = c->uid;
    c->cur = r;
    if ((k = find_cmd(ctl, name, &arg)) != NULL)
        k->fn(r, args, arg);
    else
        unknown_cmd(r, ctl, name);
}

/* Handles one line (without '\n'). */
static void
handle_line(struct conn *c, const char *line, size_t len, size_t consume)
{
    const char *name;
    json_t *req, *args, *error;

    if (len == 0 || (len == 1 && line[0] == '\r')) {
        gw_buf_consume(&c->in, consume); /* blank lines are ignored, as in a shell */
        return;
    }
    req = gw_ctl_parse_request(line, len, &name, &args, &error);
    /* The handler may close the connection (and release its buffers): drop the line first;
     * the request object owns what the handler sees. */
    gw_buf_consume(&c->in, consume);
    if (!req) {
        send_obj(c, error, NULL);
        return;
    }
    dispatch(c, name, args, json_object_get(req, "id"));
    json_decref(req);
}

/* True when the next buffered line may be served now. */
static int
can_serve(const struct conn *c)
{
    return !c->dead && !c->cur && !c->closing && gw_buf_len(&c->out) <= OUT_HIGH_BYTES &&
           gw_buf_line_len(&c->in) > 0;
}

/* Serves buffered lines while no request is in flight and the output has room, sending as it
 * goes; then decides what to wait for. */
static void
drive(struct conn *c)
{
    size_t n;

    if (c->driving || c->dead)
        return;
    c->driving = 1;
    do {
        while (can_serve(c)) {
            n = gw_buf_line_len(&c->in);
            handle_line(c, gw_buf_data(&c->in), n - 1, n);
        }
    } while (!c->dead && flush(c) == 0 && can_serve(c));
    c->driving = 0;
    if (c->dead)
        return;
    if (!c->cur && !c->closing && gw_buf_room(&c->in) == 0 && gw_buf_line_len(&c->in) == 0) {
        json_t *e = error_reply(NULL, "too_large", "request line over %d bytes", GW_CTL_MAX_LINE);
        send_obj(c, e, NULL);
        c->closing = 1;
    }
    if (c->eof && !c->cur && gw_buf_line_len(&c->in) == 0)
        c->closing = 1;
    if (flush(c) == 0)
        update_interest(c);
}

/* 1 when the peer closed both directions (not a mere shutdown(SHUT_WR)). */
static int
peer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};

    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* Reads what is there. 0, or -1 when the client is gone. */
static int
read_input(struct conn *c)
{
    for (int i = 0; i < 4 && !c->eof; i++) {
        ssize_t n = gw_buf_read_fd(&c->in, c->fd, GW_CTL_MAX_LINE);
        if (n > 0) {
            c->active_ms = gw_ev_now_ms(c->ctl->ev);
            continue;
        }
        if (n == -2 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
            return 0;
        if (n < 0)
            return -1;
        c->eof = 1;
        return peer_gone(c->fd) ? -1 : 0;
    }
    return 0;
}

static void
on_conn_io(struct gw_ev *ev, int fd, unsigned events, void *arg)
{
    struct conn *c = arg;
    struct gw_ctl *ctl = c->ctl;
    int gone = 0;

    (void)ev, (void)fd;
    enter(ctl);
    if (events & (GW_EV_READ | GW_EV_ERROR))
        gone = c->eof ? (events & GW_EV_ERROR) != 0 : read_input(c) == -1;
    /* Lines from a client that hung up are still served (a fire-and-forget "reload");
     * their replies go nowhere. */
    drive(c);
    if (gone)
        conn_close(c);
    leave(ctl);
}

/* ---- peer credentials ---- */

/* 1 when process pid (still running as uid) has gid among its groups, 0 when not, -1 when
 * /proc cannot tell. */
static int
proc_has_group(pid_t pid, uid_t uid, gid_t gid)
{
    char path[64], *line = NULL;
    size_t cap = 0;
    int found = -1, uid_ok = 0;
    FILE *f;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "re")) == NULL)
        return -1;
    while (getline(&line, &cap, f) > 0) {
        unsigned long real, eff;
        if (sscanf(line, "Uid: %lu %lu", &real, &eff) == 2)
            uid_ok = eff == uid;
        if (strncmp(line, "Groups:", 7) != 0)
            continue;
        found = 0;
        for (char *p = line + 7, *end;; p = end) {
            unsigned long g = strtoul(p, &end, 10);
            if (end == p)
                break;
            found |= g == gid;
        }
    }
    free(line);
    fclose(f);
    /* A pid reused by a process of another user tells nothing about the peer. */
    return uid_ok ? found : -1;
}

/* 1 when the user uid (primary group pgid) is listed as a member of gid. */
static int
user_has_group(uid_t uid, gid_t pgid, gid_t gid)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    gid_t groups[256];
    int n = GW_ARRAY_LEN(groups), found = 0;

    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
        return 0;
    if (getgrouplist(pw.pw_name, pgid, groups, &n) == -1)
        n = GW_ARRAY_LEN(groups); /* more than 256 groups: look at the first 256 */
    for (int i = 0; i < n; i++)
        found |= groups[i] == gid;
    return found;
}

static int
peer_allowed(const struct gw_ctl *ctl, const struct ucred *cr)
{
    int in;

    if (cr->uid == 0 || cr->uid == geteuid())
        return 1;
    if (!ctl->has_group)
        return 0;
    if (cr->gid == ctl->gid)
        return 1;
    if ((in = proc_has_group(cr->pid, cr->uid, ctl->gid)) >= 0)
        return in;
    return user_has_group(cr->uid, cr->gid, ctl->gid);
}

/* Sends one error line to a connection that is not served, and closes it. The socket buffer
 * is empty, so the short line goes out at once; the client reads it before it sees the close. */
static void refuse(int fd, const char *code, const char *fmt, ...) GW_PRINTF(3, 4);

static void
refuse(int fd, const char *code, const char *fmt, ...)
{
    struct gw_buf b;
    va_list ap;
    json_t *e;

    va_start(ap, fmt);
    e = error_obj(NULL, code, fmt, ap);
    va_end(ap);
    gw_buf_init(&b, 4096);
    if (put_json(&b, e) == 0)
        send(fd, gw_buf_data(&b), gw_buf_len(&b), MSG_NOSIGNAL | MSG_DONTWAIT);
    gw_buf_reset(&b);
    json_decref(e);
    close(fd);
}

static void
accept_one(struct gw_ctl *ctl, int fd)
{
    struct ucred cr = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
    socklen_t len = sizeof(cr);
    struct conn *c;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1 || !peer_allowed(ctl, &cr)) {
        refuse(fd, "permission_denied",
               "uid %u may not use this control socket (allowed: root, uid %u%s)", (unsigned)cr.uid,
               (unsigned)geteuid(), ctl->has_group ? ", members of ctl_group" : "");
        return;
    }
    if (ctl->nconns >= ctl->max_clients) {
        refuse(fd, "busy", "too many control connections (%u)", ctl->max_clients);
        return;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        refuse(fd, "failed", "out of memory");
        return;
    }
    c->ctl = ctl;
    c->fd = fd;
    c->uid = (unsigned)cr.uid;
    c->events = GW_EV_READ;
    c->active_ms = gw_ev_now_ms(ctl->ev);
    gw_buf_init(&c->in, GW_CTL_MAX_LINE);
    gw_buf_init(&c->out, OUT_MAX_BYTES);
    if (gw_ev_add(ctl->ev, fd, GW_EV_READ, on_conn_io, c, NULL) == -1) {
        close(fd);
        free(c);
        return;
    }
    c->next = ctl->conns;
    if (ctl->conns)
        ctl->conns->prev = c;
    ctl->conns = c;
    ctl->nconns++;
}

/* The listener pauses itself when descriptors run out. */
static void
on_accept(struct gw_listener *l, int fd, const struct sockaddr *peer, socklen_t len, void *arg)
{
    struct gw_ctl *ctl = arg;

    (void)l, (void)peer, (void)len;
    enter(ctl);
    accept_one(ctl, fd);
    leave(ctl);
}

static uint64_t
sweep_every_ms(const struct gw_ctl *ctl)
{
    return GW_MAX(GW_MIN(ctl->idle_ms / 4, SWEEP_MAX_MS), 10);
}

/* Closes connections idle for idle_ms with no request in flight (a stream is not idle). */
static void
on_sweep(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct gw_ctl *ctl = arg;
    uint64_t now = gw_ev_now_ms(ev);
    struct conn *c, *next;

    enter(ctl);
    for (c = ctl->conns; c; c = next) {
        next = c->next;
        if (!c->cur && now - c->active_ms >= ctl->idle_ms)
            conn_close(c);
    }
    gw_ev_timer_start(ev, t, sweep_every_ms(ctl));
    leave(ctl);
}

/* ---- server API ---- */

static int
lookup_group(const char *name, gid_t *gid, char *err)
{
    struct group gr, *res = NULL;
    char buf[16384], *end;
    unsigned long n = strtoul(name, &end, 10);

    if (*name && *end == '\0') {
        *gid = (gid_t)n;
        return 0;
    }
    if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || !res)
        return gw_err(err, "unknown ctl_group '%s'", name);
    *gid = res->gr_gid;
    return 0;
}

struct gw_ctl *
gw_ctl_listen(struct gw_ev *ev, const char *path, const char *group, const struct gw_ctl_cmd *cmds,
              void *arg, char *err)
{
    struct gw_listener_opts lo = {.on_accept = on_accept, .budget = ACCEPTS_PER_EVENT, .own_fd = 1};
    struct gw_ctl *ctl;
    struct stat sb;
    int lfd = -1;

    if ((ctl = calloc(1, sizeof(*ctl))) == NULL) {
        gw_err(err, "out of memory");
        return NULL;
    }
    ctl->ev = ev;
    ctl->cmds = cmds;
    ctl->arg = arg;
    ctl->max_clients = MAX_CLIENTS;
    ctl->idle_ms = IDLE_TIMEOUT_MS;
    if (gw_strlcpy(ctl->path, path, sizeof(ctl->path)) >= sizeof(ctl->path)) {
        gw_err(err, "control socket path too long: %s", path);
        goto fail;
    }
    ctl->has_group = group && group[0];
    if (ctl->has_group && lookup_group(group, &ctl->gid, err) == -1)
        goto fail;
    if ((lfd = gw_net_listen_unix(path, 0660, BACKLOG, err)) == -1)
        goto fail;
    if (ctl->has_group && chown(path, (uid_t)-1, ctl->gid) == -1) {
        gw_err_errno(err, "chgrp %s to %s", path, group);
        goto fail_unlink;
    }
    if (stat(path, &sb) == 0) {
        ctl->dev = sb.st_dev;
        ctl->ino = sb.st_ino;
    }
    lo.arg = ctl;
    if ((ctl->listener = gw_listener_new(ev, lfd, &lo, err)) == NULL)
        goto fail_unlink;
    gw_ev_timer_init(&ctl->sweep, on_sweep, ctl);
    gw_ev_timer_start(ev, &ctl->sweep, sweep_every_ms(ctl));
    return ctl;
fail_unlink:
    unlink(path);
fail:
    if (lfd >= 0)
        close(lfd);
    free(ctl);
    return NULL;
}

void
gw_ctl_set_limits(struct gw_ctl *c, int idle_timeout_ms, int max_clients)
{
    if (idle_timeout_ms > 0) {
        c->idle_ms = (uint64_t)idle_timeout_ms;
        gw_ev_timer_start(c->ev, &c->sweep, sweep_every_ms(c));
    }
    if (max_clients > 0)
        c->max_clients = (unsigned)max_clients;
}

void
gw_ctl_close(struct gw_ctl *c)
{
    struct stat sb;

    if (!c)
        return;
    enter(c);
    c->closed = 1;
    gw_ev_timer_stop(c->ev, &c->sweep);
    gw_listener_stop(c->listener);
    /* Leave a socket that a newer daemon has put in our place alone. */
    if (stat(c->path, &sb) == 0 && sb.st_dev == c->dev && sb.st_ino == c->ino)
        unlink(c->path);
    while (c->conns)
        conn_close(c->conns);
    leave(c);
}

/* Ends r with a reply line; steals val. */
static void
finish(struct gw_ctl_req *r, int ok, const char *key, json_t *val)
{
    struct conn *c = r->c;
    struct gw_ctl *ctl;

    if (!c) {
        json_decref(val);
        free_req(r);
        return;
    }
    ctl = c->ctl;
    enter(ctl);
    send_obj(c, reply_obj(r->id, ok, key, val), r->id);
    c->cur = NULL;
    free_req(r);
    drive(c); /* a no-op when the reply came from inside drive(), which goes on by itself */
    leave(ctl);
}

void
gw_ctl_reply(struct gw_ctl_req *r, json_t *result)
{
    finish(r, 1, "result", result ? result : json_object());
}

void
gw_ctl_error(struct gw_ctl_req *r, const char *code, const char *fmt, ...)
{
    char msg[MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    finish(r, 0, "error", json_pack("{s:s, s:o}", "code", code, "message", message_string(msg)));
}

int
gw_ctl_stream(struct gw_ctl_req *r, json_t *item)
{
    struct conn *c = r->c;
    struct gw_ctl *ctl;
    json_t *o;

    if (!c) {
        json_decref(item);
        return -1;
    }
    ctl = c->ctl;
    enter(ctl);
    o = reply_obj(r->id, 1, "stream", item);
    if (put_json(&c->out, o) == -1) {
        /* The client reads slower than the stream runs: let it go. The producer learns it
         * from the -1, so on_hangup is not called. */
        c->cur = NULL;
        r->c = NULL;
        conn_close(c);
    } else if (!c->driving && flush(c) == 0) {
        update_interest(c);
    }
    json_decref(o);
    leave(ctl);
    return r->c ? 0 : -1;
}

void
gw_ctl_req_on_hangup(struct gw_ctl_req *r, void (*fn)(struct gw_ctl_req *r, void *arg), void *arg)
{
    r->on_hangup = fn;
    r->hangup_arg = arg;
}

unsigned
gw_ctl_req_uid(const struct gw_ctl_req *r)
{
    return r->uid;
}

static void
builtin_ping(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)args, (void)arg;
    gw_ctl_reply(r, json_pack("{s:b}", "pong", 1));
}

static void
add_help(json_t *list, const struct gw_ctl_cmd *k)
{
    json_array_append_new(list,
                          json_pack("{s:s, s:s}", "name", k->name, "help", k->help ? k->help : ""));
}

static void
builtin_help(struct gw_ctl_req *r, json_t *args, void *arg)
{
    const struct gw_ctl *ctl = arg;
    json_t *list = json_array();
    void *unused;

    (void)args;
    for (const struct gw_ctl_cmd *k = ctl->cmds; k && k->name; k++)
        add_help(list, k);
    for (const struct gw_ctl_cmd *k = builtin_cmds; k->name; k++)
        if (find_cmd(ctl, k->name, &unused) == k)
            add_help(list, k);
    gw_ctl_reply(r, json_pack("{s:o}", "commands", list));
}

/* ---- client ---- */

struct gw_ctl_client {
    int fd;
    int timeout_ms;
    struct gw_buf in;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static atomic_ulong next_request_id = 1;

static void
set_status(enum gw_ctl_status *st, enum gw_ctl_status v)
{
    if (st)
        *st = v;
}

/* "hbd" for ".../hbd.sock", for messages. */
static const char *
prog_name(const char *path, char *buf, size_t len)
{
    const char *base = strrchr(path, '/');
    size_t n;

    gw_strlcpy(buf, base ? base + 1 : path, len);
    n = strlen(buf);
    if (n > 5 && strcmp(buf + n - 5, ".sock") == 0)
        buf[n - 5] = '\0';
    if (!buf[0])
        gw_strlcpy(buf, "the daemon", len);
    return buf;
}

static uint64_t
deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? UINT64_MAX : gw_mono_ms() + (uint64_t)timeout_ms;
}

/* Milliseconds left for poll(): -1 for no deadline. */
static int
time_left(uint64_t deadline)
{
    uint64_t now;

    if (deadline == UINT64_MAX)
        return -1;
    now = gw_mono_ms();
    return now >= deadline ? 0 : (int)GW_MIN(deadline - now, (uint64_t)INT32_MAX);
}

static int
connect_failed(const char *path, int e, enum gw_ctl_status *st, char *err)
{
    char prog[64];

    prog_name(path, prog, sizeof(prog));
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        set_status(st, GW_CTL_NOSOCK);
        return gw_err(err, "cannot connect to %s: no such file (is %s running? see --run-dir)",
                      path, prog);
    case EACCES:
    case EPERM:
        set_status(st, GW_CTL_DENIED);
        return gw_err(err,
                      "cannot connect to %s: permission denied (run as root, as %s's user, or "
                      "as a member of its ctl_group)",
                      path, prog);
    case ECONNREFUSED:
        set_status(st, GW_CTL_REFUSED);
        return gw_err(err,
                      "cannot connect to %s: connection refused (stale socket: %s is not "
                      "running)",
                      path, prog);
    default:
        set_status(st, GW_CTL_REFUSED);
        return gw_err(err, "cannot connect to %s: %s", path, strerror(e));
    }
}

static int
client_connect(const char *path, uint64_t deadline, enum gw_ctl_status *st, char *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (gw_strlcpy(sa.sun_path, path, sizeof(sa.sun_path)) >= sizeof(sa.sun_path)) {
        set_status(st, GW_CTL_NOSOCK);
        return gw_err(err, "control socket path too long: %s", path);
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
        set_status(st, GW_CTL_PROTO);
        return gw_err_errno(err, "cannot connect to %s: socket", path);
    }
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        int e = errno;
        if (e == EINTR)
            continue;
        if (e == EAGAIN && time_left(deadline) != 0) {
            /* The listen backlog is full: the daemon is not accepting right now. */
            int left = time_left(deadline);
            poll(NULL, 0, left < 0 || left > 10 ? 10 : left);
            continue;
        }
        close(fd);
        if (e == EAGAIN) {
            set_status(st, GW_CTL_TIMEOUT);
            return gw_err(err, "cannot connect to %s: the daemon is not accepting connections",
                          path);
        }
        return connect_failed(path, e, st, err);
    }
    return fd;
}

/* Sends all of buf. A daemon that closed early may already have answered (permission
 * denied), so EPIPE is not fatal: the caller reads next. */
static int
send_all(int fd, const char *buf, size_t len, uint64_t deadline, const char *path,
         enum gw_ctl_status *st, char *err)
{
    while (len) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return 0;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            set_status(st, GW_CTL_PROTO);
            return gw_err_errno(err, "sending to %s", path);
        }
        if (poll(&p, 1, time_left(deadline)) == 0) {
            set_status(st, GW_CTL_TIMEOUT);
            return gw_err(err, "%s: timed out sending the request", path);
        }
    }
    return 0;
}

static int
send_request(int fd, json_t *id, const char *cmd, json_t *args, uint64_t deadline, const char *path,
             enum gw_ctl_status *st, char *err)
{
    json_t *req = json_object();
    struct gw_buf b;
    int rc = -1;

    gw_buf_init(&b, GW_CTL_MAX_LINE);
    if (req) {
        json_object_set(req, "id", id);
        json_object_set_new(req, "cmd", json_string(cmd ? cmd : ""));
        if (args)
            json_object_set(req, "args", args);
    }
    if (put_json(&b, req) == -1) {
        set_status(st, GW_CTL_PROTO);
        gw_err(err, "%s: request too large or not encodable", path);
    } else {
        rc = send_all(fd, gw_buf_data(&b), gw_buf_len(&b), deadline, path, st, err);
    }
    json_decref(req);
    gw_buf_reset(&b);
    return rc;
}

/* Reads until a whole line is buffered; returns its length with the '\n', 0 on a clean EOF
 * (nothing buffered), or -1 with status and err. */
static ssize_t
read_line(int fd, struct gw_buf *in, uint64_t deadline, const char *path, enum gw_ctl_status *st,
          char *err)
{
    size_t n;

    while ((n = gw_buf_line_len(in)) == 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r = gw_buf_read_fd(in, fd, 65536);
        if (r > 0)
            continue;
        if (r == 0 && gw_buf_len(in) == 0)
            return 0;
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            set_status(st, GW_CTL_PROTO);
            return gw_err(err, "%s: connection closed before a complete reply", path);
        }
        if (r == -2) {
            set_status(st, GW_CTL_PROTO);
            return gw_err(err, "%s: reply line over %zu bytes", path, CLIENT_MAX_REPLY);
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            set_status(st, GW_CTL_PROTO);
            return gw_err_errno(err, "reading from %s", path);
        }
        if (poll(&p, 1, time_left(deadline)) == 0) {
            set_status(st, GW_CTL_TIMEOUT);
            return gw_err(err, "%s: no reply within the timeout", path);
        }
    }
    return (ssize_t)n;
}

/* Parses a reply line into an object with a boolean "ok"; consumes the line. */
static json_t *
parse_reply(struct gw_buf *in, size_t n, const char *path, enum gw_ctl_status *st, char *err)
{
    json_t *o = json_loadb(gw_buf_data(in), n - 1, 0, NULL);

    gw_buf_consume(in, n);
    if (!json_is_object(o) || !json_is_boolean(json_object_get(o, "ok"))) {
        json_decref(o);
        set_status(st, GW_CTL_PROTO);
        gw_err(err, "%s: the reply is not a control protocol line (is this a gwkit socket?)", path);
        return NULL;
    }
    return o;
}

/* Status and err for an ok:false reply. */
static enum gw_ctl_status
failure(json_t *reply, const char *path, char *err)
{
    json_t *e = json_object_get(reply, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));

    if (code && strcmp(code, "permission_denied") == 0) {
        gw_err(err, "%s: permission denied: %s", path, msg ? msg : "");
        return GW_CTL_DENIED;
    }
    gw_err(err, "%s: %s: %s", path, code ? code : "error", msg ? msg : "");
    return GW_CTL_FAILED;
}

/* Waits for the reply to id, skipping stream lines. */
static json_t *
await_reply(int fd, struct gw_buf *in, json_t *id, uint64_t deadline, const char *path,
            enum gw_ctl_status *st, char *err)
{
    for (;;) {
        ssize_t n = read_line(fd, in, deadline, path, st, err);
        json_t *o, *rid;
        if (n <= 0) {
            if (n == 0) {
                set_status(st, GW_CTL_PROTO);
                gw_err(err, "%s: connection closed without a reply", path);
            }
            return NULL;
        }
        if ((o = parse_reply(in, (size_t)n, path, st, err)) == NULL)
            return NULL;
        if (json_object_get(o, "stream")) {
            json_decref(o);
            continue;
        }
        rid = json_object_get(o, "id");
        /* Errors sent before the request was read (refused peer, bad line) carry id null. */
        if (json_equal(rid, id) || (json_is_null(rid) && json_is_false(json_object_get(o, "ok"))))
            return o;
        json_decref(o);
        set_status(st, GW_CTL_PROTO);
        gw_err(err, "%s: reply to another request", path);
        return NULL;
    }
}

json_t *
gw_ctl_call(const char *path, const char *cmd, json_t *args, int timeout_ms,
            enum gw_ctl_status *status, char *err)
{
    uint64_t deadline = deadline_of(timeout_ms);
    json_t *id = json_integer((json_int_t)atomic_fetch_add(&next_request_id, 1));
    json_t *reply = NULL, *out = NULL;
    enum gw_ctl_status st = GW_CTL_PROTO;
    struct gw_buf in;
    int fd;

    gw_buf_init(&in, CLIENT_MAX_REPLY);
    if ((fd = client_connect(path, deadline, &st, err)) == -1)
        goto done;
    if (send_request(fd, id, cmd, args, deadline, path, &st, err) == 0)
        reply = await_reply(fd, &in, id, deadline, path, &st, err);
    close(fd);
    if (!reply)
        goto done;
    if (json_is_true(json_object_get(reply, "ok"))) {
        st = GW_CTL_OK;
        out = json_object_get(reply, "result");
        out = out ? json_incref(out) : json_object();
    } else if ((st = failure(reply, path, err)) == GW_CTL_FAILED) {
        out = json_incref(json_object_get(reply, "error"));
    }
done:
    set_status(status, st);
    json_decref(reply);
    json_decref(id);
    gw_buf_reset(&in);
    return out;
}

struct gw_ctl_client *
gw_ctl_client_open(const char *path, int timeout_ms, enum gw_ctl_status *status, char *err)
{
    struct gw_ctl_client *cl = calloc(1, sizeof(*cl));

    if (!cl) {
        set_status(status, GW_CTL_PROTO);
        gw_err(err, "out of memory");
        return NULL;
    }
    if ((cl->fd = client_connect(path, deadline_of(timeout_ms), status, err)) == -1) {
        free(cl);
        return NULL;
    }
    set_status(status, GW_CTL_OK);
    cl->timeout_ms = timeout_ms;
    gw_buf_init(&cl->in, CLIENT_MAX_REPLY);
    gw_strlcpy(cl->path, path, sizeof(cl->path));
    return cl;
}

int
gw_ctl_client_send(struct gw_ctl_client *cl, const char *cmd, json_t *args, char *err)
{
    json_t *id = json_integer((json_int_t)atomic_fetch_add(&next_request_id, 1));
    int rc = send_request(cl->fd, id, cmd, args, deadline_of(cl->timeout_ms), cl->path, NULL, err);

    json_decref(id);
    return rc;
}

json_t *
gw_ctl_client_next(struct gw_ctl_client *cl, int timeout_ms, enum gw_ctl_status *status, char *err)
{
    ssize_t n = read_line(cl->fd, &cl->in, deadline_of(timeout_ms), cl->path, status, err);
    json_t *o;

    if (n <= 0) {
        if (n == 0) {
            set_status(status, GW_CTL_OK);
            gw_err(err, "%s: connection closed", cl->path);
        }
        return NULL;
    }
    if ((o = parse_reply(&cl->in, (size_t)n, cl->path, status, err)) == NULL)
        return NULL;
    if (json_is_true(json_object_get(o, "ok")))
        set_status(status, GW_CTL_OK);
    else
        set_status(status, failure(o, cl->path, err));
    return o;
}

void
gw_ctl_client_close(struct gw_ctl_client *cl)
{
    if (!cl)
        return;
    close(cl->fd);
    gw_buf_reset(&cl->in);
    free(cl);
}

char *
gw_ctl_default_run_dir(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");

    if (geteuid() == 0)
        snprintf(buf, len, "/run/gwkit");
    else if (xdg && xdg[0] == '/')
        snprintf(buf, len, "%s/gwkit", xdg);
    else
        snprintf(buf, len, "/tmp/gwkit-%u", (unsigned)geteuid());
    return buf;
}

char *
gw_ctl_socket_path(const char *run_dir, const char *prog, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s.sock", run_dir, prog);

    if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return NULL;
    return buf;
}
