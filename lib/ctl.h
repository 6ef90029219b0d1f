/*
 * ctl.h -- the control socket: one JSON object per line each way over a Unix stream socket.
 *
 *   -> {"id":1,"cmd":"status","args":{}}
 *   <- {"id":1,"ok":true,"result":{...}}
 *   <- {"id":1,"ok":false,"error":{"code":"bad_args","message":"..."}}
 *
 * Streaming commands (tail) answer with any number of {"id":1,"ok":true,"stream":{...}} lines
 * and end with a normal reply, or when the client hangs up.
 *
 * "id" is echoed as sent (any JSON value; null when absent or when the line could not be
 * parsed). "args" must be an object when present. Blank lines are ignored; a trailing '\r' is.
 *
 * Error codes: bad_request (malformed JSON, not an object, missing or non-string "cmd",
 * non-object "args"), too_large (request line over GW_CTL_MAX_LINE bytes with its '\n'; the
 * connection then closes), unknown_command, bad_args, permission_denied (peer refused; then
 * closes), failed (the command ran and failed), busy (too many connections; then closes).
 *
 * Server side runs on one event loop (the daemon's main thread), its connections on a lib/conn
 * epoll loop that the same gw_ev_run drives (conn.h: lifetime, output, idle timer, EOF). The
 * socket file gets mode
 * 0660 (group: ctl_group when set); every connection's peer credentials (SO_PEERCRED) are
 * checked: root, the daemon's own euid, or a member of ctl_group (the peer's gid, or its
 * supplementary groups from /proc/<pid>/status, else the group database). Requests on one
 * connection are answered in order: one is in flight at a time, later lines wait unread in the
 * connection's bounded input buffer, and no new request starts while more than 1 MiB of output
 * is unsent. At most 64 connections (more get "busy"); one idle for 5 minutes with no request
 * in flight is closed. A client that half-closes (shutdown(SHUT_WR)) still gets its replies.
 * Built-in commands (a table entry of the same name overrides them): "ping" -> {"pong":true},
 * "help" -> {"commands":[{"name":..,"help":..},...]}.
 */
#ifndef GW_CTL_H
#define GW_CTL_H

#include <stddef.h>

#include <jansson.h>

#include "ev.h"
#include "util.h"

#define GW_CTL_MAX_LINE (64 * 1024)

struct gw_ctl;
struct gw_ctl_req;

/* Handles one request. args is borrowed for the duration of the call (an object, {} when
 * absent; json_incref it to keep it). The handler must end the request exactly once with
 * gw_ctl_reply() or gw_ctl_error(), now or later (from the same loop thread). */
typedef void (*gw_ctl_fn)(struct gw_ctl_req *r, json_t *args, void *arg);

struct gw_ctl_cmd {
    const char *name;
    gw_ctl_fn fn;
    const char *help; /* one line */
    void *arg;        /* passed to fn; NULL: the arg given to gw_ctl_listen() */
};

/* Listens on path (stale socket files are replaced; a live one is an error). cmds is an array
 * ended by an entry with name NULL; it must outlive the server. arg is passed to every handler.
 * group: name (or number) of ctl_group, or NULL/""; the socket file is chgrp'ed to it. NULL on
 * failure with err (unknown group, path too long, socket in use, chgrp refused). Loop thread. */
struct gw_ctl *gw_ctl_listen(struct gw_ev *ev, const char *path, const char *group,
                             const struct gw_ctl_cmd *cmds, void *arg, char *err);

/* Closes every client and the listener and removes the socket file (unless another process
 * has replaced it). Pending requests become orphans as if their clients had hung up: their
 * on_hangup runs now, and a later gw_ctl_reply/gw_ctl_error only frees them (handlers holding
 * a request must still end it). Safe from inside a handler. Loop thread. */
void gw_ctl_close(struct gw_ctl *c);

/* Changes the idle timeout (default 5 minutes) and the connection limit (default 64); a
 * value <= 0 keeps the current one. An open connection takes the new timeout when its idle
 * timer next fires (at the latest, the old timeout after its last request). Loop thread. */
void gw_ctl_set_limits(struct gw_ctl *c, int idle_timeout_ms, int max_clients);

/* Ends r with {"ok":true,"result":result}; steals the reference (NULL -> {}); frees r. On an
 * orphaned r (client gone) it only frees. A reply too large for the connection (32 MiB) is
 * replaced by a "failed" error. */
void gw_ctl_reply(struct gw_ctl_req *r, json_t *result);

/* Ends r with {"ok":false,"error":{"code":code,"message":...}}; frees r. Messages are cut to
 * 1 KiB. */
void gw_ctl_error(struct gw_ctl_req *r, const char *code, const char *fmt, ...) GW_PRINTF(3, 4);

/* Sends one {"ok":true,"stream":item} line; steals item. Returns 0, or -1 once the client has
 * gone (then end the request with gw_ctl_reply, which only frees it). A client that lets 32 MiB
 * of output pile up is disconnected: this call then returns -1 (on_hangup is not called). */
int gw_ctl_stream(struct gw_ctl_req *r, json_t *item);

/* Called once if the client hangs up (or gw_ctl_close runs) while r is pending (for streams).
 * r is an orphan by then: fn may end it with gw_ctl_reply(r, NULL) to free it. */
void gw_ctl_req_on_hangup(struct gw_ctl_req *r, void (*fn)(struct gw_ctl_req *r, void *arg),
                          void *arg);

/* Peer uid of the connection that sent r. */
unsigned gw_ctl_req_uid(const struct gw_ctl_req *r);

/* Client side. Outcome of a call: */
enum gw_ctl_status {
    GW_CTL_OK = 0,
    GW_CTL_NOSOCK,  /* socket file missing: daemon not running, or another run_dir */
    GW_CTL_REFUSED, /* socket file exists, nobody accepts: stale socket, daemon died */
    GW_CTL_DENIED,  /* permission denied by the file mode or the daemon's peer check */
    GW_CTL_TIMEOUT, /* no complete reply within the timeout */
    GW_CTL_PROTO,   /* reply not valid JSON, or the connection closed early */
    GW_CTL_FAILED,  /* the daemon answered ok:false */
};

/* Sends one request and waits for its reply; timeout_ms bounds the whole call (< 0: no limit).
 * Returns the "result" (new reference) on GW_CTL_OK; the "error" object on GW_CTL_FAILED; NULL
 * otherwise. err always explains a non-OK status, naming the socket path and what to do
 * ("cannot connect to /run/gwkit/hbd.sock: no such file (is hbd running? see --run-dir)").
 * A permission_denied reply gives GW_CTL_DENIED. Stream lines before the reply are skipped.
 * args is borrowed and may be NULL. Blocking; any thread; SIGPIPE is never raised. */
json_t *gw_ctl_call(const char *path, const char *cmd, json_t *args, int timeout_ms,
                    enum gw_ctl_status *status, char *err);

/* Streaming client: connect, send, then read lines with gw_ctl_client_next() until it returns
 * NULL. gw_ctl_client_open's timeout_ms bounds the connect and each gw_ctl_client_send. status
 * and err as for gw_ctl_call. */
struct gw_ctl_client;
struct gw_ctl_client *gw_ctl_client_open(const char *path, int timeout_ms,
                                         enum gw_ctl_status *status, char *err);
int gw_ctl_client_send(struct gw_ctl_client *cl, const char *cmd, json_t *args, char *err);
/* Next reply line as a whole object ({"id":..,"ok":..,"stream"|"result"|"error":..}), with
 * status GW_CTL_OK for an ok:true line, else GW_CTL_FAILED or GW_CTL_DENIED (err explains).
 * timeout_ms < 0 waits forever. NULL on end (the daemon closed the connection: GW_CTL_OK),
 * timeout (GW_CTL_TIMEOUT) or error (GW_CTL_PROTO). */
json_t *gw_ctl_client_next(struct gw_ctl_client *cl, int timeout_ms, enum gw_ctl_status *status,
                           char *err);
void gw_ctl_client_close(struct gw_ctl_client *cl);

/* The default run directory: /run/gwkit for root, else $XDG_RUNTIME_DIR/gwkit, else
 * /tmp/gwkit-<uid>. Writes into buf; returns buf. */
char *gw_ctl_default_run_dir(char *buf, size_t len);

/* "<run_dir>/<prog>.sock" into buf; returns buf, or NULL if it does not fit in sun_path. */
char *gw_ctl_socket_path(const char *run_dir, const char *prog, char *buf, size_t len);

/* Internal, exported for the fuzz target: the server's parsing of one request line (len bytes,
 * without the '\n'; a trailing '\r' is dropped). On success returns the request object (new
 * reference) and sets *cmd and *args (borrowed from it; args is {} when absent). Otherwise
 * returns NULL and sets *error to the error reply to send (new reference). Any thread. */
json_t *gw_ctl_parse_request(const char *line, size_t len, const char **cmd, json_t **args,
                             json_t **error);

#endif
