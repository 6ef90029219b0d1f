/*
 * daemon.c -- the steps every gwkit daemon's main() shares: arguments, config, logging,
 * control socket, systemd notification, signals, reload and drain.
 */
#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <dirent.h>

#include "httpd.h"
#include "log.h"
#include "logship.h"

#define DEFAULT_CONFIG "/etc/gwkit/gwkit.conf"
#define DRAIN_POLL_MS 100
#define MAX_OVERRIDES 32

static const int handled_signals[] = {SIGHUP, SIGTERM, SIGINT, 0};

#define G(member) GW_CONF_FIELD(struct gw_daemon_global, member)

static const struct gw_conf_key global_keys[] = {
    {"run_dir", GW_CONF_STRING, "", 0, 0, NULL,
     "control sockets live here; default /run/gwkit for root, else $XDG_RUNTIME_DIR/gwkit, else "
     "/tmp/gwkit-UID",
     GW_CONF_RESTART, G(run_dir)},
    {"state_dir", GW_CONF_STRING, "/var/lib/gwkit", 0, 0, NULL,
     "directory of the state database gwkit.db", GW_CONF_RESTART, G(state_dir)},
    {"log_level", GW_CONF_ENUM, "info", 0, 0, "debug|info|warning|error",
     "least severe level logged (GWKIT_LOG_LEVEL overrides)", 0, G(log_level)},
    {"log_format", GW_CONF_ENUM, "logfmt", 0, 0, "logfmt|json", "log line format on stderr", 0,
     G(log_format)},
    {"log_to", GW_CONF_ENUM, "stderr", 0, 0, "stderr|logd",
     "where log lines go: stderr, or logd: stderr and <run_dir>/logd.dgram as RFC 5424", 0,
     G(log_to)},
    {"ctl_group", GW_CONF_STRING, "", 0, 0, NULL,
     "group whose members may use the control sockets (besides root and the daemon's user)",
     GW_CONF_RESTART, G(ctl_group)},
    {"user", GW_CONF_STRING, "", 0, 0, NULL,
     "started as root, run as this user (and its group): it keeps only the right to bind ports "
     "below 1024; run_dir and state_dir are made its own",
     GW_CONF_RESTART, G(user)},
    {"ctl_max_clients", GW_CONF_INT, "64", 1, 100000, NULL,
     "control socket connections held at once; more are refused with an error",
     GW_CONF_RESTART, G(ctl_max_clients)},
    {"ctl_idle_timeout", GW_CONF_DURATION, "5m", 1000, 86400 * 1000, NULL,
     "close a control connection idle for this long; one with a request in progress is not idle",
     GW_CONF_RESTART, G(ctl_idle_timeout_ms)},
    {"drain_timeout", GW_CONF_DURATION, "10s", 0, 3600 * 1000, NULL,
     "on SIGTERM, time allowed to finish in-flight work before exiting", 0, G(drain_timeout_ms)},
    {"history_days", GW_CONF_INT, "30", 0, 3650, NULL,
     "days of circuit and heartbeat events kept in the database; 0 keeps them forever",
     GW_CONF_RESTART, G(history_days)},
    {"http_max_connections", GW_CONF_INT, "256", 1, 100000, NULL,
     "HTTP connections served at once; a request past it is answered 503", GW_CONF_RESTART,
     G(http_max_connections)},
    {"http_max_connections_per_ip", GW_CONF_INT, "64", 1, 100000, NULL,
     "HTTP connections served at once from one address; more get 503", GW_CONF_RESTART,
     G(http_max_connections_per_ip)},
    {"http_timeout", GW_CONF_DURATION, "10s", 100, 3600 * 1000, NULL,
     "an HTTP connection must complete each request within this, however slowly it sends",
     GW_CONF_RESTART, G(http_timeout_ms)},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

const struct gw_conf_section gw_daemon_global_section = {"global", 0, global_keys,
                                                         "settings every program shares"};

struct override {
    char section[32];
    char key[64];
    char *value;
};

struct gw_daemon {
    const struct gw_daemon_desc *desc;
    void *arg;
    const char *config_path; /* -c FILE, or NULL */
    /* The file loaded, or NULL for the built-in defaults: chosen once by gw_daemon_load and
     * re-read by every reload, never changed after, so other threads may read it. */
    char *config_file;
    int check_only;
    struct override overrides[MAX_OVERRIDES];
    size_t noverrides;
    struct gw_conf *conf;
    struct gw_daemon_global global; /* bound from conf */
    struct gw_ev *ev;
    struct gw_ctl *ctl;
    struct gw_ctl_cmd *cmds;
    struct gw_metrics *metrics;
    struct gw_logship *ship; /* log_to = logd */
    char run_dir[256];
    char ctl_path[300];
    int64_t started_wall_ms;
    uint64_t started_mono_ms;
    atomic_int draining;
    int stopping;
    uint64_t drain_deadline_ms;
    struct gw_ev_timer drain_timer;
    int proc_series[6];
};

struct gw_daemon *
gw_daemon_new(const struct gw_daemon_desc *desc, void *arg)
{
    struct gw_daemon *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    d->desc = desc;
    d->arg = arg;
    d->started_wall_ms = gw_wall_ms();
    d->started_mono_ms = gw_mono_ms();
    atomic_init(&d->draining, 0);
    return d;
}

void
gw_daemon_free(struct gw_daemon *d)
{
    if (!d)
        return;
    if (d->ship) {
        gw_log_set_hook(NULL, NULL);
        gw_logship_free(d->ship);
    }
    if (d->ctl)
        gw_ctl_close(d->ctl);
    if (d->ev)
        gw_ev_free(d->ev);
    gw_conf_unbind(&gw_daemon_global_section, &d->global);
    gw_conf_free(d->conf);
    for (size_t i = 0; i < d->noverrides; i++)
        free(d->overrides[i].value);
    free(d->cmds);
    free(d->config_file);
    free(d);
}

/* The environment variable of the program's first listening key, as the --help example
 * ("GWKIT_HBD_LISTEN", "GWKIT_LOGD_SYSLOG_LISTEN"): a key the program really has. */
static void
listen_env(const struct gw_daemon_desc *desc, char *out, size_t len)
{
    const char *key = "listen";
    size_t n = 0;

    for (size_t s = 0; desc->schema && desc->schema[s]; s++) {
        const struct gw_conf_section *sec = desc->schema[s];
        if (strcmp(sec->name, desc->prog) != 0)
            continue;
        for (const struct gw_conf_key *k = sec->keys; k->name; k++) {
            size_t kl = strlen(k->name);
            if (kl >= 6 && strcmp(k->name + kl - 6, "listen") == 0) {
                key = k->name;
                break;
            }
        }
        break;
    }
    n = (size_t)snprintf(out, len, "GWKIT_%s_%s", desc->prog, key);
    for (size_t i = 0; i < n && i < len; i++)
        if (out[i] >= 'a' && out[i] <= 'z')
            out[i] = (char)(out[i] - 32);
}

static void
usage(const struct gw_daemon_desc *desc, FILE *out)
{
    char env[96];

    listen_env(desc, env, sizeof(env));
    fprintf(out, "usage: %s [-c FILE] [-n] [--version] [--help]%s%s\n\n%s\n\n", desc->prog,
            desc->usage ? " " : "", desc->usage ? desc->usage : "", desc->summary);
    fprintf(out,
            "  -c, --config FILE  config file (default %s; built-in defaults when absent)\n"
            "  -n, -t, --check    validate the config, print 'configuration OK', exit\n"
            "  -V, --version      print the version and exit\n"
            "  -h, --help         print this help and exit\n",
            DEFAULT_CONFIG);
    if (desc->options)
        fputs(desc->options, out);
    fprintf(out,
            "\nEnvironment: GWKIT_<SECTION>_<KEY>=value overrides a config key, e.g.\n"
            "%s=127.0.0.1:19002; GWKIT_LOG_LEVEL=debug.\n"
            "Signals: HUP reloads the config, TERM drains and exits.\n"
            "See %s(8) and gwkit.conf(5).\n",
            env, desc->prog);
}

int
gw_daemon_args(struct gw_daemon *d, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'n'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char err[GW_ERR_LEN];
    int ch;

    while ((ch = getopt_long(argc, argv, "c:ntVh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            d->config_path = optarg;
            break;
        case 'n':
        case 't':
            d->check_only = 1;
            break;
        case 'V':
            printf("%s %s (gwkit)\n", d->desc->prog, GW_VERSION);
            return 1;
        case 'h':
            usage(d->desc, stdout);
            return 1;
        default:
            usage(d->desc, stderr);
            return 3;
        }
    }
    if (optind < argc) {
        if (!d->desc->operands) {
            fprintf(stderr, "%s: unexpected argument '%s'\n", d->desc->prog, argv[optind]);
            usage(d->desc, stderr);
            return 3;
        }
        if (d->desc->operands(d, argc - optind, argv + optind, err) == -1) {
            fprintf(stderr, "%s: %s\n", d->desc->prog, err);
            return 3;
        }
    }
    return 0;
}

int
gw_daemon_override(struct gw_daemon *d, const char *section, const char *key, const char *value,
                   char *err)
{
    struct override *o;

    if (d->noverrides == MAX_OVERRIDES)
        return gw_err(err, "too many arguments");
    /* The value becomes a line of config text: a line break would start another line. */
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return gw_err(err, "argument holds a control character");
    o = &d->overrides[d->noverrides];
    gw_strlcpy(o->section, section, sizeof(o->section));
    gw_strlcpy(o->key, key, sizeof(o->key));
    if ((o->value = strdup(value)) == NULL)
        return gw_err(err, "out of memory");
    d->noverrides++;
    return 0;
}

/* Operands become one more config source, after the file and the environment, so they are
 * validated by the same schema and reported as "command line:N". */
static int
apply_overrides(struct gw_daemon *d, struct gw_conf *c)
{
    size_t cap = 64, len = 0;
    char *text, *p;
    int rc;

    if (d->noverrides == 0)
        return 0;
    for (size_t i = 0; i < d->noverrides; i++)
        cap += strlen(d->overrides[i].value) + 128;
    if ((text = malloc(cap)) == NULL)
        return -1;
    p = text;
    /* A named section may appear once per source: consecutive keys of one section share its
     * header ([backend cli-1] with address and protocol). */
    for (size_t i = 0; i < d->noverrides; i++) {
        const struct override *o = &d->overrides[i];
        if (i == 0 || strcmp(o->section, d->overrides[i - 1].section) != 0)
            len += (size_t)snprintf(p + len, cap - len, "[%s]\n", o->section);
        len += (size_t)snprintf(p + len, cap - len, "%s = %s\n", o->key, o->value);
    }
    rc = gw_conf_load_string(c, "command line", text);
    free(text);
    return rc;
}

/* GWKIT_LOG_LEVEL is the short form operators reach for first. */
static char **
env_with_aliases(char **envp, char **extra)
{
    size_t n = 0;
    char **out;
    const char *lvl = getenv("GWKIT_LOG_LEVEL");

    while (envp[n])
        n++;
    if ((out = calloc(n + 2, sizeof(*out))) == NULL)
        return NULL;
    memcpy(out, envp, n * sizeof(*out));
    *extra = NULL;
    if (lvl && !getenv("GWKIT_GLOBAL_LOG_LEVEL") &&
        asprintf(extra, "GWKIT_GLOBAL_LOG_LEVEL=%s", lvl) > 0)
        out[n++] = *extra;
    out[n] = NULL;
    return out;
}

extern char **environ;

/* "built-in" when no file is read. */
static const char *
config_name(const struct gw_daemon *d)
{
    return d->config_file ? d->config_file : "built-in";
}

/* Builds a config from the file (or defaults), env and operands. Errors stay in the conf. */
static struct gw_conf *
build_conf(struct gw_daemon *d)
{
    struct gw_conf *c = gw_conf_new(d->desc->schema);
    char **envp, *extra = NULL;

    if (!c)
        return NULL;
    if (d->config_file)
        gw_conf_load_file(c, d->config_file);
    if ((envp = env_with_aliases(environ, &extra)) != NULL) {
        gw_conf_apply_env(c, envp);
        free(envp);
        free(extra);
    }
    apply_overrides(d, c);
    return c;
}

/* The program's own check, run once the schema found no error. */
static int
check_conf(const struct gw_daemon *d, const struct gw_conf *c, char *err)
{
    if (!d->desc->check)
        return 0;
    err[0] = '\0';
    if (d->desc->check(c, err) == -1) {
        if (!err[0])
            gw_strlcpy(err, "configuration refused", GW_ERR_LEN);
        return -1;
    }
    return 0;
}

int
gw_daemon_load(struct gw_daemon *d)
{
    struct gw_conf *c;
    char err[GW_ERR_LEN];
    const char *path = d->config_path;
    size_t n;

    if (!path && access(DEFAULT_CONFIG, F_OK) == 0)
        path = DEFAULT_CONFIG;
    free(d->config_file);
    d->config_file = NULL;
    if ((path && (d->config_file = strdup(path)) == NULL) || (c = build_conf(d)) == NULL) {
        fprintf(stderr, "%s: out of memory\n", d->desc->prog);
        return 2;
    }
    n = gw_conf_error_count(c);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s: %s\n", d->desc->prog, gw_conf_error(c, i));
    if (n == 0 && check_conf(d, c, err) == -1) {
        fprintf(stderr, "%s: %s\n", d->desc->prog, err);
        n = 1;
    }
    if (n) {
        gw_conf_free(c);
        if (d->check_only)
            fprintf(stderr, "%s: configuration has %zu error%s\n", d->desc->prog, n,
                    n == 1 ? "" : "s");
        return 2;
    }
    if (gw_conf_bind(c, gw_daemon_global_section.name, NULL, &d->global, err) == -1) {
        fprintf(stderr, "%s: %s\n", d->desc->prog, err);
        gw_conf_free(c);
        return 2;
    }
    d->conf = c;
    if (d->check_only) {
        printf("configuration OK\n");
        return 1;
    }
    /* Before any thread exists, so every thread inherits the mask and signals reach only the
     * main loop's signalfd. */
    signal(SIGPIPE, SIG_IGN);
    /* A write past the file size limit (RLIMIT_FSIZE, systemd's LimitFSIZE=) -- a database, a
     * log file, the daemon's own log on a file -- fails with EFBIG like any write error, to be
     * reported and retried, rather than kill the daemon with a core dump. */
    signal(SIGXFSZ, SIG_IGN);
    if (gw_ev_block_signals(handled_signals, err) == -1) {
        fprintf(stderr, "%s: %s\n", d->desc->prog, err);
        return 2;
    }
    return 0;
}

void
gw_daemon_http_limits(const struct gw_daemon *d, struct gw_httpd_opts *o)
{
    const struct gw_daemon_global *g = gw_daemon_global(d);

    o->max_connections = (unsigned)g->http_max_connections;
    o->max_connections_per_ip = (unsigned)g->http_max_connections_per_ip;
    o->timeout_ms = (unsigned)g->http_timeout_ms;
}

const struct gw_conf *
gw_daemon_conf(const struct gw_daemon *d)
{
    return d->conf;
}

const struct gw_daemon_global *
gw_daemon_global(const struct gw_daemon *d)
{
    return &d->global;
}

/* log_to = logd: every line also to <run_dir>/logd.dgram (logship.h). */
static void
apply_log_to(struct gw_daemon *d, const struct gw_conf *c)
{
    const char *rd = gw_conf_str(c, "global", NULL, "run_dir");
    char dir[256], path[300], err[GW_ERR_LEN];
    struct gw_logship *old = d->ship;

    d->ship = NULL;
    if (gw_conf_int(c, "global", NULL, "log_to") == 1) {
        if (rd[0])
            gw_strlcpy(dir, rd, sizeof(dir));
        else
            gw_ctl_default_run_dir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/logd.dgram", dir);
        if ((d->ship = gw_logship_new(path, d->desc->prog, err)) == NULL)
            GW_LOG_WARN("cannot send logs to logd", "err=%s", err);
    }
    /* Once set_hook returns, the old shipper is no longer in use by any thread. */
    gw_log_set_hook(d->ship ? gw_logship_hook : NULL, d->ship);
    gw_logship_free(old);
}

static void
apply_logging(struct gw_daemon *d, const struct gw_conf *c)
{
    gw_log_init(d->desc->prog, (enum gw_log_format)gw_conf_int(c, "global", NULL, "log_format"),
                2);
    gw_log_set_level((enum gw_log_level)gw_conf_int(c, "global", NULL, "log_level"));
    apply_log_to(d, c);
}

void
gw_daemon_start_logging(struct gw_daemon *d)
{
    apply_logging(d, d->conf);
}

/* Makes dir (created if needed) the user's, so the daemon can write it once it is that user. */
static int
own_dir(const char *dir, uid_t uid, gid_t gid, char *err)
{
    if (gw_mkdir_p(dir, 0750, err) == -1)
        return -1;
    if (chown(dir, uid, gid) == -1)
        return gw_err_errno(err, "chown %s", dir);
    return 0;
}

/* The state database's files, when they exist from a run as root, become the user's too. */
static void
own_db_files(const char *dir, uid_t uid, gid_t gid)
{
    static const char *const names[] = {"gwkit.db", "gwkit.db-wal", "gwkit.db-shm"};
    char path[4096];

    for (size_t i = 0; i < GW_ARRAY_LEN(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        (void)!chown(path, uid, gid);
    }
}

/* setuid drops every capability unless PR_SET_KEEPCAPS is set; then capset keeps only
 * CAP_NET_BIND_SERVICE (what systemd's AmbientCapabilities= would give), raw, without
 * libcap. */
static int
keep_bind_capability(char *err)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];

    memset(data, 0, sizeof(data));
    data[0].effective = data[0].permitted = 1u << CAP_NET_BIND_SERVICE;
    if (syscall(SYS_capset, &hdr, data) == -1)
        return gw_err_errno(err, "capset");
    return 0;
}

static int
become(const struct passwd *pw, char *err)
{
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
        return gw_err_errno(err, "prctl(PR_SET_KEEPCAPS)");
    if (initgroups(pw->pw_name, pw->pw_gid) == -1)
        return gw_err_errno(err, "initgroups");
    if (setgid(pw->pw_gid) == -1)
        return gw_err_errno(err, "setgid %u", (unsigned)pw->pw_gid);
    if (setuid(pw->pw_uid) == -1)
        return gw_err_errno(err, "setuid %u", (unsigned)pw->pw_uid);
    (void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    return keep_bind_capability(err);
}

int
gw_daemon_drop_privileges(struct gw_daemon *d)
{
    const struct gw_daemon_global *g = gw_daemon_global(d);
    const char *user = g->user ? g->user : "";
    struct passwd *pw;
    char err[GW_ERR_LEN];

    if (geteuid() != 0) {
        if (user[0])
            GW_LOG_INFO("not root: [global] user does not apply", "user=%s uid=%u", user,
                        (unsigned)geteuid());
        return 0;
    }
    if (!user[0]) {
        GW_LOG_WARN("running as root; set [global] user to run as an unprivileged user", NULL);
        return 0;
    }
    if ((pw = getpwnam(user)) == NULL) {
        GW_LOG_ERROR("no such user ([global] user)", "user=%s", user);
        return -1;
    }
    /* The run_dir root would use by default, fixed now: as the user the default differs. */
    if (g->run_dir && g->run_dir[0])
        gw_strlcpy(d->run_dir, g->run_dir, sizeof(d->run_dir));
    else
        gw_ctl_default_run_dir(d->run_dir, sizeof(d->run_dir));
    if (own_dir(d->run_dir, pw->pw_uid, pw->pw_gid, err) == -1 ||
        own_dir(g->state_dir, pw->pw_uid, pw->pw_gid, err) == -1) {
        GW_LOG_ERROR("cannot prepare the directories for the user", "user=%s err=%s", user, err);
        return -1;
    }
    own_db_files(g->state_dir, pw->pw_uid, pw->pw_gid);
    if (become(pw, err) == -1) {
        GW_LOG_ERROR("cannot drop privileges", "user=%s err=%s", user, err);
        return -1;
    }
    GW_LOG_INFO("running as user", "user=%s uid=%u gid=%u", user, (unsigned)pw->pw_uid,
                (unsigned)pw->pw_gid);
    return 0;
}

struct gw_ev *
gw_daemon_ev(struct gw_daemon *d)
{
    char err[GW_ERR_LEN];

    if (!d->ev && (d->ev = gw_ev_new(err)) == NULL) {
        GW_LOG_ERROR("cannot create event loop", "err=%s", err);
        exit(1);
    }
    return d->ev;
}

const char *
gw_daemon_run_dir(const struct gw_daemon *d)
{
    return d->run_dir;
}

const char *
gw_daemon_ctl_path(const struct gw_daemon *d)
{
    return d->ctl_path;
}

/* ---- control commands every daemon answers ---- */

static void
cmd_status(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)args;
    gw_ctl_reply(r, gw_daemon_status(arg));
}

static void
cmd_health(struct gw_ctl_req *r, json_t *args, void *arg)
{
    struct gw_daemon *d = arg;
    json_t *h = d->desc->health ? d->desc->health(d->arg) : NULL;

    (void)args;
    if (!h)
        h = json_pack("{s:s, s:s}", "status", "ok", "summary", "running");
    if (gw_daemon_draining(d)) {
        const char *sum = json_string_value(json_object_get(h, "summary"));
        char buf[512];

        snprintf(buf, sizeof(buf), "draining, %s", sum ? sum : "");
        json_object_set_new(h, "status", json_string("critical"));
        json_object_set_new(h, "summary", json_string(buf));
        json_object_set_new(h, "draining", json_true());
    }
    json_object_set_new(h, "prog", json_string(d->desc->prog));
    gw_ctl_reply(r, h);
}

static void
cmd_config(struct gw_ctl_req *r, json_t *args, void *arg)
{
    struct gw_daemon *d = arg;
    json_t *res = json_object();

    (void)args;
    json_object_set_new(res, "file", json_string(config_name(d)));
    json_object_set_new(res, "config", gw_conf_to_json(d->conf));
    json_object_set_new(res, "text", gw_conf_to_text_json(d->conf));
    gw_ctl_reply(r, res);
}

static void
cmd_metrics(struct gw_ctl_req *r, json_t *args, void *arg)
{
    struct gw_daemon *d = arg;
    size_t len;
    char *text;

    (void)args;
    if (!d->metrics) {
        gw_ctl_error(r, "failed", "no metrics");
        return;
    }
    text = gw_metrics_render(d->metrics, &len);
    gw_ctl_reply(r, json_pack("{s:s%}", "text", text ? text : "", text ? len : 0));
    free(text);
}

/* Keys flagged GW_CONF_RESTART keep their old value until a restart: say so, do not refuse. */
static void
log_restart_changes(const struct gw_conf *old, const struct gw_conf *c)
{
    struct gw_conf_change ch[32];
    size_t n = gw_conf_restart_changes(old, c, ch, GW_ARRAY_LEN(ch));

    for (size_t i = 0; i < n && i < GW_ARRAY_LEN(ch); i++)
        GW_LOG_WARN("setting changes at restart only", "key=%s section=%s", ch[i].key,
                    ch[i].section);
}

/* Reload: the reply says what happened, so gwctl can report it without guessing. */
static int
reload(struct gw_daemon *d, char *msg, size_t msglen)
{
    struct gw_daemon_global g = {0};
    struct gw_conf *c;
    char err[GW_ERR_LEN];
    size_t n, off = 0;

    /* systemd's Type=notify-reload wants the time the reload began along with RELOADING=1. */
    snprintf(msg, msglen, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)gw_mono_us());
    gw_daemon_notify(msg);
    c = build_conf(d);
    if (!c) {
        snprintf(msg, msglen, "out of memory");
        goto fail;
    }
    if ((n = gw_conf_error_count(c)) > 0) {
        msg[0] = '\0';
        for (size_t i = 0; i < n && off < msglen; i++)
            off += (size_t)snprintf(msg + off, msglen - off, "%s%s", i ? "\n" : "",
                                    gw_conf_error(c, i));
        for (size_t i = 0; i < n; i++)
            GW_LOG_ERROR("config error", "err=%s", gw_conf_error(c, i));
        goto fail;
    }
    err[0] = '\0';
    if (gw_conf_bind(c, gw_daemon_global_section.name, NULL, &g, err) == -1 ||
        check_conf(d, c, err) == -1 || (d->desc->reload && d->desc->reload(d->arg, c, err) == -1)) {
        snprintf(msg, msglen, "%s", err[0] ? err : "refused by the program");
        gw_conf_unbind(&gw_daemon_global_section, &g);
        goto fail;
    }
    log_restart_changes(d->conf, c);
    apply_logging(d, c);
    gw_conf_unbind(&gw_daemon_global_section, &d->global);
    d->global = g;
    gw_conf_free(d->conf);
    d->conf = c;
    GW_LOG_INFO("config reloaded", "file=%s", config_name(d));
    gw_daemon_notify("READY=1");
    return 0;
fail:
    GW_LOG_ERROR("reload refused, old config kept", "err=%s", msg);
    gw_conf_free(c);
    gw_daemon_notify("READY=1");
    return -1;
}

static void
cmd_reload(struct gw_ctl_req *r, json_t *args, void *arg)
{
    char msg[8192];

    (void)args;
    if (reload(arg, msg, sizeof(msg)) == -1)
        gw_ctl_error(r, "failed", "%s", msg);
    else
        gw_ctl_reply(r, json_pack("{s:b}", "applied", 1));
}

static void
cmd_log_level(struct gw_ctl_req *r, json_t *args, void *arg)
{
    const char *name = json_string_value(json_object_get(args, "level"));
    int lvl;

    (void)arg;
    if (!name) {
        gw_ctl_reply(r, json_pack("{s:s}", "level", gw_log_level_name(gw_log_get_level())));
        return;
    }
    if ((lvl = gw_log_level_parse(name)) < 0) {
        gw_ctl_error(r, "bad_args", "unknown level '%s' (debug, info, warning, error)", name);
        return;
    }
    gw_log_set_level((enum gw_log_level)lvl);
    GW_LOG_INFO("log level changed", "level=%s", gw_log_level_name((enum gw_log_level)lvl));
    gw_ctl_reply(r, json_pack("{s:s}", "level", gw_log_level_name((enum gw_log_level)lvl)));
}

static void
cmd_drain(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)args;
    gw_ctl_reply(r, json_pack("{s:b}", "draining", 1));
    gw_daemon_drain(arg);
}

static void
cmd_shutdown(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)args;
    gw_ctl_reply(r, json_pack("{s:b}", "stopping", 1));
    gw_daemon_shutdown(arg);
}

static const struct gw_ctl_cmd common_cmds[] = {
    {"status", cmd_status, "version, uptime, listeners, connections and the program's figures",
     NULL},
    {"health", cmd_health, "ok, warning or critical, with a summary and perfdata", NULL},
    {"config", cmd_config, "the effective configuration", NULL},
    {"metrics", cmd_metrics, "the Prometheus exposition text", NULL},
    {"reload", cmd_reload, "re-read the config; replies once applied or refused", NULL},
    {"log-level", cmd_log_level, "show or set the log level: {\"level\":\"debug\"}", NULL},
    {"drain", cmd_drain, "stop accepting, finish in-flight work, exit", NULL},
    {"shutdown", cmd_shutdown, "exit now", NULL},
};

int
gw_daemon_open_ctl(struct gw_daemon *d, const struct gw_ctl_cmd *cmds)
{
    const struct gw_conf *c = d->conf;
    const char *rd = gw_conf_str(c, "global", NULL, "run_dir");
    size_t nprog = 0, n = 0;
    char err[GW_ERR_LEN];

    if (rd[0])
        gw_strlcpy(d->run_dir, rd, sizeof(d->run_dir));
    else if (!d->run_dir[0]) /* fixed before a privilege drop, else the caller's default */
        gw_ctl_default_run_dir(d->run_dir, sizeof(d->run_dir));
    if (gw_mkdir_p(d->run_dir, 0755, err) == -1) {
        GW_LOG_ERROR("cannot create run_dir", "path=%s err=%s", d->run_dir, err);
        return -1;
    }
    if (!gw_ctl_socket_path(d->run_dir, d->desc->prog, d->ctl_path, sizeof(d->ctl_path))) {
        GW_LOG_ERROR("control socket path too long", "run_dir=%s", d->run_dir);
        return -1;
    }
    while (cmds && cmds[nprog].name)
        nprog++;
    d->cmds = calloc(nprog + GW_ARRAY_LEN(common_cmds) + 1, sizeof(*d->cmds));
    if (!d->cmds)
        return -1;
    for (size_t i = 0; i < nprog; i++) {
        d->cmds[n] = cmds[i];
        if (!d->cmds[n].arg)
            d->cmds[n].arg = d->arg;
        n++;
    }
    for (size_t i = 0; i < GW_ARRAY_LEN(common_cmds); i++) {
        int dup = 0;
        for (size_t j = 0; j < nprog; j++)
            dup |= strcmp(cmds[j].name, common_cmds[i].name) == 0;
        if (!dup) {
            d->cmds[n] = common_cmds[i];
            d->cmds[n++].arg = d;
        }
    }
    d->ctl = gw_ctl_listen(gw_daemon_ev(d), d->ctl_path,
                           gw_conf_str(c, "global", NULL, "ctl_group"), d->cmds, NULL, err);
    if (!d->ctl) {
        GW_LOG_ERROR("cannot open control socket", "path=%s err=%s", d->ctl_path, err);
        return -1;
    }
    gw_ctl_set_limits(d->ctl, (int)gw_daemon_global(d)->ctl_idle_timeout_ms,
                      gw_daemon_global(d)->ctl_max_clients);
    GW_LOG_INFO("control socket ready", "path=%s", d->ctl_path);
    return 0;
}

/* ---- process metrics, as the Prometheus client libraries export them ---- */

static double
cpu_seconds(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) == -1)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static unsigned
open_fds(void)
{
    unsigned n = 0;
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;

    if (!dir)
        return 0;
    while ((e = readdir(dir)) != NULL)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n ? n - 1 : 0; /* minus the directory's own fd */
}

static void
collect_process(struct gw_metrics *m, void *arg)
{
    struct gw_daemon *d = arg;
    struct rlimit rl;

    gw_metrics_set(m, d->proc_series[0], (double)d->started_wall_ms / 1000.0);
    gw_metrics_set(m, d->proc_series[1], cpu_seconds());
    gw_metrics_set(m, d->proc_series[2], (double)gw_rss_bytes());
    gw_metrics_set(m, d->proc_series[3], (double)open_fds());
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        gw_metrics_set(m, d->proc_series[4], (double)rl.rlim_cur);
}

int
gw_daemon_process_metrics(struct gw_daemon *d, struct gw_metrics *m)
{
    static const struct {
        const char *name;
        enum gw_metric_type type;
        const char *help;
    } defs[] = {
        {"process_start_time_seconds", GW_METRIC_GAUGE, "Start time since the epoch in seconds."},
        {"process_cpu_seconds_total", GW_METRIC_COUNTER, "User and system CPU time in seconds."},
        {"process_resident_memory_bytes", GW_METRIC_GAUGE, "Resident memory size in bytes."},
        {"process_open_fds", GW_METRIC_GAUGE, "Open file descriptors."},
        {"process_max_fds", GW_METRIC_GAUGE, "Limit of open file descriptors."},
    };
    char err[GW_ERR_LEN];

    for (size_t i = 0; i < GW_ARRAY_LEN(defs); i++) {
        d->proc_series[i] = gw_metrics_simple(m, defs[i].name, defs[i].type, defs[i].help, err);
        if (d->proc_series[i] < 0) {
            GW_LOG_ERROR("cannot register metric", "name=%s err=%s", defs[i].name, err);
            return -1;
        }
    }
    d->metrics = m;
    gw_metrics_on_collect(m, collect_process, d);
    return 0;
}

json_t *
gw_daemon_status(struct gw_daemon *d)
{
    char ts[40];
    json_t *prog = d->desc->status ? d->desc->status(d->arg) : NULL;
    json_t *st = json_pack(
        "{s:s, s:s, s:i, s:s, s:I, s:s, s:s, s:b}", "prog", d->desc->prog, "version", GW_VERSION,
        "pid", (int)getpid(), "started", gw_time_rfc3339(d->started_wall_ms, ts, sizeof(ts)),
        "uptime_s", (json_int_t)((gw_mono_ms() - d->started_mono_ms) / 1000), "config",
        config_name(d), "control_socket", d->ctl_path, "draining", gw_daemon_draining(d));

    if (prog) {
        json_object_update(st, prog);
        json_decref(prog);
    }
    return st;
}

int
gw_daemon_draining(const struct gw_daemon *d)
{
    return atomic_load_explicit(&d->draining, memory_order_relaxed);
}

int
gw_daemon_ready_check(void *arg, char *detail, size_t len)
{
    struct gw_daemon *d = arg;

    if (gw_daemon_draining(d)) {
        snprintf(detail, len, "draining");
        return 0;
    }
    snprintf(detail, len, "accepting");
    return 1;
}

/* ---- systemd ---- */

int
gw_daemon_notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun;
    socklen_t len;
    ssize_t n;
    int fd;

    if (!path || !path[0])
        return 0;
    if (strlen(path) >= sizeof(sun.sun_path))
        return -1;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));
    /* A leading '@' names an abstract socket. */
    if (sun.sun_path[0] == '@')
        sun.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
        return -1;
    n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
    close(fd);
    return n < 0 ? -1 : 0;
}

void
gw_daemon_ready(struct gw_daemon *d)
{
    char buf[128];

    GW_LOG_INFO("started", "version=%s pid=%d config=%s", GW_VERSION, (int)getpid(),
                config_name(d));
    snprintf(buf, sizeof(buf), "READY=1\nSTATUS=%s running\nMAINPID=%d", d->desc->prog,
             (int)getpid());
    gw_daemon_notify(buf);
}

/* ---- signals, drain, run ---- */

static void
drain_tick(struct gw_ev *ev, struct gw_ev_timer *t, void *arg)
{
    struct gw_daemon *d = arg;

    /* Without a drained callback there is nothing in flight to wait for. */
    if (!d->desc->drained || d->desc->drained(d->arg)) {
        GW_LOG_INFO("drained", NULL);
        gw_ev_stop(ev);
        return;
    }
    if (gw_ev_now_ms(ev) >= d->drain_deadline_ms) {
        GW_LOG_WARN("drain timeout, exiting with work in flight", NULL);
        gw_ev_stop(ev);
        return;
    }
    gw_ev_timer_start(ev, t, DRAIN_POLL_MS);
}

void
gw_daemon_drain(struct gw_daemon *d)
{
    struct gw_ev *ev = gw_daemon_ev(d);
    int64_t timeout_ms = gw_conf_int(d->conf, "global", NULL, "drain_timeout");

    if (gw_daemon_draining(d)) {
        GW_LOG_WARN("second stop request, exiting now", NULL);
        gw_daemon_shutdown(d);
        return;
    }
    atomic_store(&d->draining, 1);
    gw_daemon_notify("STOPPING=1");
    GW_LOG_INFO("draining", "timeout_ms=%lld", (long long)timeout_ms);
    if (d->desc->drain)
        d->desc->drain(d->arg);
    d->drain_deadline_ms = gw_ev_now_ms(ev) + (uint64_t)timeout_ms;
    gw_ev_timer_init(&d->drain_timer, drain_tick, d);
    gw_ev_timer_start(ev, &d->drain_timer, 0);
}

void
gw_daemon_shutdown(struct gw_daemon *d)
{
    atomic_store(&d->draining, 1);
    d->stopping = 1;
    gw_daemon_notify("STOPPING=1");
    gw_ev_stop(gw_daemon_ev(d));
}

static void
on_signal(struct gw_ev *ev, int signo, void *arg)
{
    struct gw_daemon *d = arg;
    char msg[8192];

    (void)ev;
    switch (signo) {
    case SIGHUP:
        GW_LOG_INFO("reload requested", "signal=HUP");
        reload(d, msg, sizeof(msg));
        break;
    case SIGTERM:
    case SIGINT:
        GW_LOG_INFO("stop requested", "signal=%s", signo == SIGTERM ? "TERM" : "INT");
        gw_daemon_drain(d);
        break;
    default:
        break;
    }
}

int
gw_daemon_run(struct gw_daemon *d)
{
    struct gw_ev *ev = gw_daemon_ev(d);
    char err[GW_ERR_LEN];

    if (gw_ev_signals(ev, handled_signals, on_signal, d, err) == -1) {
        GW_LOG_ERROR("cannot watch signals", "err=%s", err);
        return -1;
    }
    gw_ev_run(ev);
    GW_LOG_INFO("stopped", NULL);
    return 0;
}
