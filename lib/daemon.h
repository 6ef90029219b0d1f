/*
 * daemon.h -- what every gwkit daemon's main() shares.
 *
 * The steps, in relayd's order, each a call from main():
 *
 *   struct gw_daemon *d = gw_daemon_new(&desc);
 *   rc = gw_daemon_args(d, argc, argv);     -c FILE, -n/--check, -t, --version, --help, -h
 *   rc = gw_daemon_load(d);                 config file (or the built-in default) + env,
 *                                           every error as "file:line: message"; with -n
 *                                           prints "configuration OK" and returns 1
 *   gw_daemon_start_logging(d);             log_level, log_format from [global]
 *   gw_daemon_open_ctl(d, cmds);            <run_dir>/<prog>.sock with the common commands
 *   ... the program opens its listeners, starts its workers ...
 *   gw_daemon_ready(d);                     READY=1 to systemd, log "started"
 *   gw_daemon_run(d);                       main loop: signals, reload, drain, periodic work
 *   gw_daemon_free(d);
 *
 * Signals: SIGHUP reloads (re-reads the same file and env; on any error the old config keeps
 * running and the errors are logged), SIGTERM and SIGINT drain (the program stops accepting,
 * finishes in-flight work; after drain_timeout the loop ends anyway; a second SIGTERM ends it
 * at once), SIGPIPE is ignored. systemd notifications (READY=1, RELOADING=1, STOPPING=1,
 * STATUS=...) go to $NOTIFY_SOCKET when set.
 *
 * Common control commands added to the program's own: ping, help (from ctl), status and health
 * (the program's callbacks, wrapped with the common fields), config (effective config as
 * JSON), reload (replies only when the outcome is known: {"applied":true} or a failed error
 * whose message lists the config errors), log-level {"level":"debug"}, drain, shutdown.
 *
 * Everything here runs on the main thread.
 */
#ifndef GW_DAEMON_H
#define GW_DAEMON_H

#include <jansson.h>

#include "conf.h"
#include "ctl.h"
#include "ev.h"
#include "metrics.h"

struct gw_httpd_opts;

struct gw_daemon;

/* The [global] section every program shares (run_dir, state_dir, log_level, log_format,
 * log_to, ctl_group, drain_timeout, history_days). */
extern const struct gw_conf_section gw_daemon_global_section;

struct gw_daemon_desc {
    const char *prog;    /* "hbd" */
    const char *summary; /* one line for --help */
    const char *usage;   /* positional arguments for --help, e.g. "[PORT]", or NULL */
    const char *options; /* extra --help lines, or NULL */
    /* The sections this program validates, NULL-terminated; include &gw_daemon_global_section. */
    const struct gw_conf_section *const *schema;
    /* Maps positional arguments to config overrides: called by gw_daemon_args with the operands
     * left after the options; return 0, or -1 with err (usage error, exit 2). NULL: no operands
     * allowed. Use gw_daemon_override() to set values. */
    int (*operands)(struct gw_daemon *d, int argc, char **argv, char *err);
    /* Program-specific validation the schema cannot express (alert_url must hold http(s) URLs),
     * run on a config the schema accepted: by gw_daemon_load (also with -n) and before every
     * reload. Return 0, or -1 with one line in err, printed as "prog: err" (and given as the
     * reload's error). Name where the value came from, as the schema's errors do:
     * "<gw_conf_origin()>: 'alert_url': ..." gives "file:line: ..." or "env GWKIT_X_Y: ...".
     * NULL: no check. */
    int (*check)(const struct gw_conf *c, char *err);
    /* Applies a freshly validated config at reload. Return 0 when applied, or -1 with err to
     * refuse it (the old config keeps running). Keys that need a restart should be logged as
     * such, not refused. */
    int (*reload)(void *arg, const struct gw_conf *conf, char *err);
    /* Begins draining: stop accepting, finish in-flight work. */
    void (*drain)(void *arg);
    /* Returns 1 once draining is complete (polled every 100 ms while draining). NULL: the
     * drain is complete as soon as drain() returns. */
    int (*drained)(void *arg);
    /* Status and health for ctl and HTTP: new JSON object, program fields only. */
    json_t *(*status)(void *arg);
    json_t *(*health)(void *arg);
};

struct gw_daemon *gw_daemon_new(const struct gw_daemon_desc *desc, void *arg);
void gw_daemon_free(struct gw_daemon *d);

/* Parses the command line. Returns 0 to go on, or an exit code + 1 (so 1 = exit 0 after
 * --help/--version, 3 = exit 2 on a usage error) -- use GW_DAEMON_EXIT(rc). */
int gw_daemon_args(struct gw_daemon *d, int argc, char **argv);
#define GW_DAEMON_EXIT(rc) ((rc)-1)

/* Records a config override from an operand ("listen", "127.0.0.1:9002"). section may name an
 * instance ("backend cli-1"); consecutive overrides of one section are applied as one section,
 * so a named one may get several keys. Applied after the file and env, validated by the
 * schema like them (errors read "command line:N: ..."). -1 with err for a value holding a control
 * character, or past 32 overrides. */
int gw_daemon_override(struct gw_daemon *d, const char *section, const char *key, const char *value,
                       char *err);

/* Loads the config: -c FILE, else /etc/gwkit/gwkit.conf when it exists, else the built-in
 * defaults; then env, then operand overrides. The file is chosen here, once: reloads re-read
 * it. Prints each error to stderr as "prog: file:line: message" (then, when there is none,
 * desc->check's as "prog: message"). Then blocks SIGHUP/SIGTERM/SIGINT and ignores SIGPIPE,
 * so call it before starting any thread. Returns 0 to go on, or an exit code + 1 as above (1 with
 * -n and a good config, after printing "configuration OK"; 2 on errors). */
int gw_daemon_load(struct gw_daemon *d);

/* The current config (replaced at each successful reload). */
const struct gw_conf *gw_daemon_conf(const struct gw_daemon *d);

/* [global], filled from the current config through the schema's field bindings, so a program
 * reads these keys without naming them. */
struct gw_daemon_global {
    char *run_dir, *state_dir, *ctl_group;
    unsigned log_level, log_format, log_to; /* enum indexes */
    int64_t drain_timeout_ms;
    int history_days;
    int ctl_max_clients;
    int64_t ctl_idle_timeout_ms;
    int http_max_connections, http_max_connections_per_ip;
    int64_t http_timeout_ms;
    char *user;
};

/* The [global] settings of the current config (restart-only keys show the file's value, which
 * takes effect at the next start). Main thread; valid until the next reload. */
const struct gw_daemon_global *gw_daemon_global(const struct gw_daemon *d);

/* Started as root with [global] user set: makes run_dir and state_dir (and the database's files)
 * the user's, then becomes the user, keeping only CAP_NET_BIND_SERVICE so ports below 1024
 * still bind. As root without it, logs a warning; not root, does nothing. Call it after
 * gw_daemon_start_logging(), before opening anything. 0, or -1 (logged: exit 1). */
int gw_daemon_drop_privileges(struct gw_daemon *d);

/* Fills the connection limits of o from [global] http_max_connections,
 * http_max_connections_per_ip and http_timeout. Main thread. */
void gw_daemon_http_limits(const struct gw_daemon *d, struct gw_httpd_opts *o);

/* Starts logging per [global] log_level/log_format (GWKIT_LOG_LEVEL also honoured). */
void gw_daemon_start_logging(struct gw_daemon *d);

/* The main loop (for the program's own timers and fds on the main thread). */
struct gw_ev *gw_daemon_ev(struct gw_daemon *d);

/* run_dir (created 0755 if missing) and the control socket path. */
const char *gw_daemon_run_dir(const struct gw_daemon *d);
const char *gw_daemon_ctl_path(const struct gw_daemon *d);

/* Opens the control socket with the common commands plus cmds (NULL-name terminated; may be
 * NULL). A command of the program overrides a common one of the same name. A program command
 * gets its own arg, or the arg given to gw_daemon_new when that is NULL. -1 with the error
 * logged. */
int gw_daemon_open_ctl(struct gw_daemon *d, const struct gw_ctl_cmd *cmds);

/* Registers the standard process_* metrics (start time, CPU seconds, RSS, open fds). */
int gw_daemon_process_metrics(struct gw_daemon *d, struct gw_metrics *m);

/* Common status fields: prog, version, pid, started, uptime_s, config, draining, ... merged
 * with desc->status(). New reference. Thread-safe (used by the HTTP thread too). */
json_t *gw_daemon_status(struct gw_daemon *d);

/* 1 while draining or stopping. Thread-safe. */
int gw_daemon_draining(const struct gw_daemon *d);

/* readyz check for gw_httpd: not ready while draining. */
int gw_daemon_ready_check(void *d, char *detail, size_t len);

/* Tells systemd and the log that the daemon is ready. */
void gw_daemon_ready(struct gw_daemon *d);

/* Runs the main loop until drained, shut down, or drain_timeout passes. Returns 0. */
int gw_daemon_run(struct gw_daemon *d);

/* Starts draining as SIGTERM does / stops the loop at once. */
void gw_daemon_drain(struct gw_daemon *d);
void gw_daemon_shutdown(struct gw_daemon *d);

/* Sends a raw sd_notify message (e.g. "STATUS=..."); no-op without $NOTIFY_SOCKET. */
int gw_daemon_notify(const char *msg);

#endif
