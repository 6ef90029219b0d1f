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
 * Error codes: bad_request (malformed JSON, missing "cmd"), too_large (request over 64 KiB; the
 * connection then closes), unknown_command, bad_args, permission_denied (peer refused; then
 * closes), failed (the command ran and failed), busy.
 *
 * Server side runs on one event loop (the daemon's main thread). The socket file gets mode
 * 0660 (group: ctl_group when set); every connection's peer credentials (SO_PEERCRED) are
 * checked: root, the daemon's own uid, or a member of ctl_group. Requests on one connection are
 * answered in order. Built-in commands: "ping" -> {"pong":true}, "help" -> {"commands":[...]}.
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

/* Handles one request. args is borrowed (an object, {} when absent). The handler must end the
 * request exactly once with gw_ctl_reply() or gw_ctl_error(), now or later (from the same loop
 * thread). */
typedef void (*gw_ctl_fn)(struct gw_ctl_req *r, json_t *args, void *arg);

struct gw_ctl_cmd {
    const char *name;
    gw_ctl_fn fn;
    const char *help; /* one line */
    void *arg;        /* passed to fn; NULL: the arg given to gw_ctl_listen() */
};

/* Listens on path (stale socket files are replaced; a live one is an error). cmds is an array
 * ended by an entry with name NULL; it must outlive the server. group: name of ctl_group, or
 * NULL/"". NULL on failure with err. */
struct gw_ctl *gw_ctl_listen(struct gw_ev *ev, const char *path, const char *group,
                             const struct gw_ctl_cmd *cmds, void *arg, char *err);

/* Closes every client and the listener and removes the socket file. Pending requests are
 * dropped (their handlers must not reply afterwards). */
void gw_ctl_close(struct gw_ctl *c);

/* Ends r with {"ok":true,"result":result}; steals the reference (NULL -> {}). */
void gw_ctl_reply(struct gw_ctl_req *r, json_t *result);

/* Ends r with {"ok":false,"error":{"code":code,"message":...}}. */
void gw_ctl_error(struct gw_ctl_req *r, const char *code, const char *fmt, ...) GW_PRINTF(3, 4);

/* Sends one {"ok":true,"stream":item} line; steals item. Returns 0, or -1 once the client has
 * gone (then end the request with gw_ctl_reply, which only frees it). */
int gw_ctl_stream(struct gw_ctl_req *r, json_t *item);

/* Called once if the client hangs up while r is pending (for streams). */
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

/* Sends one request and waits for its reply. Returns the "result" (new reference) on GW_CTL_OK;
 * the "error" object on GW_CTL_FAILED; NULL otherwise. err always explains a non-OK status,
 * naming the socket path. args is borrowed and may be NULL. Blocking; any thread. */
json_t *gw_ctl_call(const char *path, const char *cmd, json_t *args, int timeout_ms,
                    enum gw_ctl_status *status, char *err);

/* Streaming client: connect, send, then read lines with gw_ctl_client_next() until it returns
 * NULL. */
struct gw_ctl_client;
struct gw_ctl_client *gw_ctl_client_open(const char *path, int timeout_ms,
                                         enum gw_ctl_status *status, char *err);
int gw_ctl_client_send(struct gw_ctl_client *cl, const char *cmd, json_t *args, char *err);
/* Next reply line as a whole object ({"id":..,"ok":..,"stream"|"result"|"error":..});
 * timeout_ms < 0 waits forever. NULL on end, timeout or error (status says which). */
json_t *gw_ctl_client_next(struct gw_ctl_client *cl, int timeout_ms, enum gw_ctl_status *status,
                           char *err);
void gw_ctl_client_close(struct gw_ctl_client *cl);

/* The default run directory: /run/gwkit for root, else $XDG_RUNTIME_DIR/gwkit, else
 * /tmp/gwkit-<uid>. Writes into buf; returns buf. */
char *gw_ctl_default_run_dir(char *buf, size_t len);

/* "<run_dir>/<prog>.sock" into buf; returns buf, or NULL if it does not fit in sun_path. */
char *gw_ctl_socket_path(const char *run_dir, const char *prog, char *buf, size_t len);

#endif
