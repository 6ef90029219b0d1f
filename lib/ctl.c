/*
 * ctl.c -- the control socket: JSON lines over a Unix stream socket, server and client.
 *
 * Server: the listener and a lib/conn loop live on the daemon's event loop (gw_ev_run drives
 * both); each accepted peer that passes the credentials check becomes a gw_conn of ctl_proto.
 * A connection holds at most one request in flight; further lines stay in the input the layer
 * keeps for it (and reads pause once a full line's worth waits), so replies go out in request
 * order. Lifetime, output, the idle timer and EOF are the layer's: a connection ends in its
 * on_close, and its memory lasts until the callback that closed it has returned.
 */
#include "ctl.h"

#include "buf.h"
#include "conn.h"
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
#define ACCEPTS_PER_EVENT 16
/* Above this much unsent output a connection takes no new request and is not read. */
#define OUT_HIGH_BYTES ((size_t)1 << 20)
/* Hard limit on a connection's unsent output: one reply, or a stream the client reads too
 * slowly, never holds more. */
#define OUT_MAX_BYTES ((size_t)32 << 20)
/* Input the layer may keep: a line's worth waits behind a request in flight (then reads
 * pause), plus one read. */
#define IN_MAX_BYTES (2 * (size_t)GW_CTL_MAX_LINE)
#define CLIENT_MAX_REPLY ((size_t)64 << 20)
#define MESSAGE_MAX 1024
#define CLOSED_BY_SERVER "control socket closed"

/* One control connection: the user pointer of its gw_conn, freed in on_close. */
struct ctl_conn {
    struct gw_ctl *ctl;
    struct gw_conn *c;
    struct gw_ctl_req *cur; /* the request in flight */
    struct gw_conn_limits lim;
    size_t kept; /* input left unconsumed at the last on_data, kept by the layer */
    unsigned uid;
    unsigned eof : 1;     /* the client sent everything it will send */
    unsigned closing : 1; /* gw_conn_finish ran: no new request */
    unsigned serving : 1; /* inside on_data: it goes on by itself after a synchronous reply */
    unsigned held : 1;    /* reads paused here (output above the mark, or a line waits) */
};

struct gw_ctl_req {
    struct ctl_conn *cc; /* NULL once orphaned (client gone, or server closed) */
    json_t *id;
    unsigned uid;
    void (*on_hangup)(struct gw_ctl_req *r, void *arg);
    void *hangup_arg;
};

struct gw_ctl {
    struct gw_ev *ev;
    struct gw_listener *listener;
    struct gw_conn_loop *loop;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t dev;
    ino_t ino;
    int has_group;
    gid_t gid;
    const struct gw_ctl_cmd *cmds;
    void *arg;
    unsigned max_clients;
    uint64_t idle_ms;
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
free_req(struct gw_ctl_req *r)
{
    json_decref(r->id);
    free(r);
}

/* Appends obj as one line to c's output, unless that would take it past OUT_MAX_BYTES. 0, or
 * -1 when it cannot be encoded, does not fit, or memory ran out (c is then closed). */
static int
put_conn(struct gw_conn *c, const json_t *obj)
{
    size_t n = obj ? json_dumpb(obj, NULL, 0, JSON_COMPACT) : 0;
    char *dst;

    if (n == 0 || gw_conn_out_len(c) + n + 1 > OUT_MAX_BYTES ||
        (dst = gw_conn_reserve(c, n + 1)) == NULL)
        return -1;
    json_dumpb(obj, dst, n, JSON_COMPACT);
    dst[n] = '\n';
    gw_conn_commit(c, n + 1);
    return 0;
}

/* No new request: what is queued goes out, then the connection ends (at once after the
 * client's EOF, else with the layer's lingering close). */
static void
conn_finish(struct ctl_conn *cc)
{
    cc->closing = 1;
    gw_conn_finish(cc->c);
}

/* Queues a reply line; steals obj. A reply too large for the output becomes an error reply,
 * and if even that does not fit the connection finishes. cc may be freed when it returns
 * (check gw_conn_closed). */
static void
send_obj(struct ctl_conn *cc, json_t *obj, json_t *id)
{
    struct gw_conn *c = cc->c;

    if (put_conn(c, obj) == -1 && !gw_conn_closed(c)) {
        json_t *e = error_reply(id, "failed", "reply could not be encoded or is too large");
        if (put_conn(c, e) == -1 && !gw_conn_closed(c))
            conn_finish(cc);
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
dispatch(struct ctl_conn *cc, const char *name, json_t *args, json_t *id)
{
    struct gw_ctl *ctl = cc->ctl;
    const struct gw_ctl_cmd *k;
    struct gw_ctl_req *r;
    void *arg = NULL;

    if ((r = calloc(1, sizeof(*r))) == NULL) {
        send_obj(cc, error_reply(id, "failed", "out of memory"), id);
        return;
    }
    r->cc = cc;
    r->id = json_incref(id ? id : json_null());
    r->uid = cc->uid;
    cc->cur = r;
    gw_conn_touch(cc->c);
    if ((k = find_cmd(ctl, name, &arg)) != NULL)
        k->fn(r, args, arg);
    else
        unknown_cmd(r, ctl, name);
}

/* Handles one line (without '\n'). cc may be freed when it returns (check gw_conn_closed). */
static void
handle_line(struct ctl_conn *cc, const char *line, size_t len)
{
    const char *name;
    json_t *req, *args, *error;

    if (len == 0 || (len == 1 && line[0] == '\r'))
        return; /* blank lines are ignored, as in a shell */
    /* The request object owns what the handler sees: the layer's input may go with a close. */
    req = gw_ctl_parse_request(line, len, &name, &args, &error);
    if (!req) {
        send_obj(cc, error, NULL);
        return;
    }
    dispatch(cc, name, args, json_object_get(req, "id"));
    json_decref(req);
}

/* Stops reading until conn_continue() (a full line waits, or the output is above the mark). A
 * client that hangs up meanwhile is noticed once reading resumes, as before the layer. */
static void
hold(struct ctl_conn *cc)
{
    cc->held = 1;
    gw_conn_pause_read(cc->c);
}

/* The request in flight ended, or the output drained: the lines waiting are served next. */
static void
conn_continue(struct ctl_conn *cc)
{
    if (cc->serving || cc->closing)
        return; /* on_data is on the stack and goes on by itself */
    if (cc->held) {
        cc->held = 0;
        gw_conn_resume_read(cc->c); /* offers the kept input again */
    } else if (cc->kept) {
        gw_conn_redeliver(cc->c);
    } else if (cc->eof && !cc->cur) {
        conn_finish(cc);
    }
}

static const struct gw_conn_limits *
conn_limits(struct gw_conn *c)
{
    struct ctl_conn *cc = gw_conn_user(c);

    if (!cc)
        return NULL;
    cc->lim.max_in = IN_MAX_BYTES;
    cc->lim.max_out = OUT_MAX_BYTES;
    cc->lim.out_high = OUT_HIGH_BYTES;
    cc->lim.out_low = OUT_HIGH_BYTES;
    /* A connection with a request in flight (a stream, a slow command) is not idle; the clock
     * restarts at each request and reply (gw_conn_touch). */
    cc->lim.idle_ms = cc->cur ? 0 : cc->ctl->idle_ms;
    return &cc->lim;
}

/* Serves complete lines while no request is in flight and the output has room; returns what
 * it consumed, the layer keeps the rest. */
static size_t
conn_data(struct gw_conn *c, char *data, size_t len)
{
    struct ctl_conn *cc = gw_conn_user(c);
    size_t used = 0;
    char *nl;

    cc->serving = 1;
    while (!cc->cur && !cc->closing && gw_conn_out_len(c) <= OUT_HIGH_BYTES &&
           (nl = memchr(data + used, '\n', len - used)) != NULL) {
        size_t n = (size_t)(nl - (data + used));
        handle_line(cc, data + used, n);
        used += n + 1;
        if (gw_conn_closed(c))
            return len; /* cc is gone */
    }
    cc->serving = 0;
    cc->kept = len - used;
    if (cc->closing)
        return len;
    if (cc->cur) {
        if (cc->kept >= GW_CTL_MAX_LINE)
            hold(cc); /* a client that pipelines too much is simply not read */
        return used;
    }
    if (gw_conn_out_len(c) > OUT_HIGH_BYTES && memchr(data + used, '\n', cc->kept)) {
        /* on_writable (at the low mark) continues. */
        hold(cc);
        gw_conn_above_high(c);
        return used;
    }
    if (cc->kept >= GW_CTL_MAX_LINE) {
        send_obj(cc, error_reply(NULL, "too_large", "request line over %d bytes", GW_CTL_MAX_LINE),
                 NULL);
        if (!gw_conn_closed(c))
            conn_finish(cc);
        return len;
    }
    if (cc->eof)
        conn_finish(cc); /* no complete line left, nothing in flight */
    return used;
}

static void
conn_writable(struct gw_conn *c)
{
    struct ctl_conn *cc = gw_conn_user(c);

    if (cc->held && !cc->cur)
        conn_continue(cc);
}

/* 1 when the peer closed both directions (not a mere shutdown(SHUT_WR)). */
static int
peer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};

    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* The layer reports EOF after on_data got every byte before it. A client that hung up ends the
 * connection now (a request in flight is orphaned: on_hangup); one that only half-closed still
 * gets its replies, and the connection ends after the last. */
static void
conn_eof(struct gw_conn *c)
{
    struct ctl_conn *cc = gw_conn_user(c);

    if (peer_gone(gw_conn_fd(c))) {
        gw_conn_close(c, GW_CONN_PEER_CLOSED);
        return;
    }
    cc->eof = 1;
    if (!cc->cur && !cc->held)
        conn_finish(cc);
}

/* The one place a connection ends (the layer's close, whatever the reason). A request in
 * flight becomes an orphan: its on_hangup runs, and its handler's later reply only frees it. */
static void
conn_closed(struct gw_conn *c, const char *reason)
{
    struct ctl_conn *cc = gw_conn_user(c);
    struct gw_ctl_req *r = cc->cur;

    (void)reason;
    gw_conn_set_user(c, NULL);
    free(cc);
    if (r) {
        r->cc = NULL;
        if (r->on_hangup)
            r->on_hangup(r, r->hangup_arg);
    }
}

static const struct gw_conn_proto ctl_proto = {
    .name = "ctl",
    .limits = conn_limits,
    .on_data = conn_data,
    .on_writable = conn_writable,
    .on_eof = conn_eof,
    .on_close = conn_closed,
};

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
    struct ctl_conn *cc;
    char err[GW_ERR_LEN];

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1 || !peer_allowed(ctl, &cr)) {
        refuse(fd, "permission_denied",
               "uid %u may not use this control socket (allowed: root, uid %u%s)", (unsigned)cr.uid,
               (unsigned)geteuid(), ctl->has_group ? ", members of ctl_group" : "");
        return;
    }
    if (gw_conn_loop_count(ctl->loop) >= ctl->max_clients) {
        refuse(fd, "busy", "too many control connections (%u)", ctl->max_clients);
        return;
    }
    if ((cc = calloc(1, sizeof(*cc))) == NULL) {
        refuse(fd, "failed", "out of memory");
        return;
    }
    cc->ctl = ctl;
    cc->uid = (unsigned)cr.uid;
    /* On failure the layer has closed fd and called nothing. */
    if ((cc->c = gw_conn_adopt(ctl->loop, fd, NULL, 0, &ctl_proto, cc, err)) == NULL)
        free(cc);
}

/* The listener pauses itself when descriptors run out. */
static void
on_accept(struct gw_listener *l, int fd, const struct sockaddr *peer, socklen_t len, void *arg)
{
    (void)l, (void)peer, (void)len;
    accept_one(arg, fd);
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
    /* Driven by the daemon's gw_ev_run, so epoll (see gw_conn_loop_new). */
    if ((ctl->loop = gw_conn_loop_new(ev, GW_CONN_IO_EPOLL, err)) == NULL)
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
    return ctl;
fail_unlink:
    unlink(path);
fail:
    if (lfd >= 0)
        close(lfd);
    gw_conn_loop_free(ctl->loop);
    free(ctl);
    return NULL;
}

void
gw_ctl_set_limits(struct gw_ctl *c, int idle_timeout_ms, int max_clients)
{
    /* Read by the layer through conn_limits; a connection's armed timer takes the new value
     * when it next fires. */
    if (idle_timeout_ms > 0)
        c->idle_ms = (uint64_t)idle_timeout_ms;
    if (max_clients > 0)
        c->max_clients = (unsigned)max_clients;
}

/* After the callback that called gw_ctl_close: the connections' memory is freed with the
 * loop, and a handler may still be on the stack. */
static void
free_ctl(struct gw_ev *ev, void *arg)
{
    struct gw_ctl *ctl = arg;

    (void)ev;
    gw_conn_loop_free(ctl->loop);
    free(ctl);
}

static void
close_conn(struct gw_conn *c, void *arg)
{
    (void)arg;
    gw_conn_close(c, CLOSED_BY_SERVER);
}

void
gw_ctl_close(struct gw_ctl *c)
{
    struct stat sb;

    if (!c)
        return;
    gw_listener_stop(c->listener);
    c->listener = NULL;
    /* Leave a socket that a newer daemon has put in our place alone. */
    if (stat(c->path, &sb) == 0 && sb.st_dev == c->dev && sb.st_ino == c->ino)
        unlink(c->path);
    gw_conn_loop_each(c->loop, close_conn, NULL);
    /* Out of memory: the server is leaked rather than freed under a running handler. */
    (void)gw_ev_defer(c->ev, free_ctl, c);
}

/* Ends r with a reply line; steals val. */
static void
finish(struct gw_ctl_req *r, int ok, const char *key, json_t *val)
{
    struct ctl_conn *cc = r->cc;
    struct gw_conn *c;

    if (!cc) {
        json_decref(val);
        free_req(r);
        return;
    }
    c = cc->c;
    cc->cur = NULL;
    send_obj(cc, reply_obj(r->id, ok, key, val), r->id);
    free_req(r);
    if (gw_conn_closed(c))
        return;
    gw_conn_touch(c);
    conn_continue(cc); /* a no-op when the reply came from inside on_data, which goes on */
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
    struct ctl_conn *cc = r->cc;
    struct gw_conn *c;
    json_t *o;
    int rc;

    if (!cc) {
        json_decref(item);
        return -1;
    }
    c = cc->c;
    o = reply_obj(r->id, 1, "stream", item);
    /* The producer learns of a close here from the -1, so on_hangup is not called for it. */
    cc->cur = NULL;
    rc = put_conn(c, o);
    json_decref(o);
    if (gw_conn_closed(c)) { /* out of memory */
        r->cc = NULL;
        return -1;
    }
    if (rc == -1) {
        /* The client reads slower than the stream runs: let it go. */
        r->cc = NULL;
        gw_conn_close(c, GW_CONN_OUTPUT_FULL);
        return -1;
    }
    cc->cur = r;
    return 0;
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
