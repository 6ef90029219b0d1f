/*
 * daemon.c -- tests for lib/daemon.c through a tiny test daemon. Run with --as-daemon, this
 * binary is "testd", a minimal program built on gw_daemon; otherwise it is the driver, which
 * re-executes itself in a temp dir and checks the arguments, -n, the control commands, reload,
 * the systemd notifications, drain and exit.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "../tap.h"

/* Upper bounds only: a healthy run takes a small fraction (valgrind a larger one). */
#define DEADLINE_MS 20000
/* Paths under the temp dir: short, so sun_path and the messages hold them. */
#define PATH_LEN 128

/* ---- the test daemon ---- */

static const struct gw_conf_key testd_keys[] = {
    {"workers", GW_CONF_INT, "2", 1, 64, NULL, "pretend workers, shown by status and health", 0, 0,
     0},
    {"drain_delay", GW_CONF_DURATION, "0", 0, 10000, NULL,
     "the drain completes this long after it begins", 0, 0, 0},
    {"drain_stuck", GW_CONF_BOOL, "no", 0, 0, NULL, "the drain never completes", 0, 0, 0},
    {"mode", GW_CONF_ENUM, "normal", 0, 0, "normal|refuse",
     "refuse: the reload callback refuses this config", 0, 0, 0},
    {"label", GW_CONF_STRING, "", 0, 0, NULL, "free text, shown by status", 0, 0, 0},
    {"url", GW_CONF_STRING, "", 0, 0, NULL, "empty or an http(s) URL (the program's check)", 0, 0,
     0},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

static const struct gw_conf_section testd_section = {"testd", 0, testd_keys, "the test daemon"};

static const struct gw_conf_section *const testd_schema[] = {&gw_daemon_global_section,
                                                             &testd_section, NULL};

struct testd {
    struct gw_daemon *d;
    int64_t workers;
    int64_t drain_delay_ms;
    int drain_stuck;
    int reloads;
    uint64_t drain_started_ms;
};

static void
testd_apply(struct testd *t, const struct gw_conf *c)
{
    t->workers = gw_conf_int(c, "testd", NULL, "workers");
    t->drain_delay_ms = gw_conf_int(c, "testd", NULL, "drain_delay");
    t->drain_stuck = (int)gw_conf_int(c, "testd", NULL, "drain_stuck");
}

static int
testd_check(const struct gw_conf *c, char *err)
{
    const char *url = gw_conf_str(c, "testd", NULL, "url");

    if (url[0] && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return gw_err(err, "%s: 'url': '%s' is not an http(s) URL",
                      gw_conf_origin(c, "testd", NULL, "url"), url);
    return 0;
}

static int
testd_reload(void *arg, const struct gw_conf *c, char *err)
{
    struct testd *t = arg;

    if (strcmp(gw_conf_str(c, "testd", NULL, "mode"), "refuse") == 0)
        return gw_err(err, "%s: 'mode': refuse is refused",
                      gw_conf_origin(c, "testd", NULL, "mode"));
    testd_apply(t, c);
    t->reloads++;
    return 0;
}

static void
testd_drain(void *arg)
{
    struct testd *t = arg;

    t->drain_started_ms = gw_mono_ms();
    GW_LOG_INFO("test drain started", NULL);
}

static int
testd_drained(void *arg)
{
    struct testd *t = arg;

    return !t->drain_stuck && gw_mono_ms() - t->drain_started_ms >= (uint64_t)t->drain_delay_ms;
}

static json_t *
testd_status(void *arg)
{
    struct testd *t = arg;

    return json_pack("{s:I, s:i, s:s, s:I, s:i}", "workers", (json_int_t)t->workers, "reloads",
                     t->reloads, "label", gw_conf_str(gw_daemon_conf(t->d), "testd", NULL, "label"),
                     "drain_timeout_ms", (json_int_t)gw_daemon_global(t->d)->drain_timeout_ms,
                     "history_days", gw_daemon_global(t->d)->history_days);
}

static json_t *
testd_health(void *arg)
{
    struct testd *t = arg;
    char sum[64];

    snprintf(sum, sizeof(sum), "%lld workers", (long long)t->workers);
    return json_pack("{s:s, s:s}", "status", "ok", "summary", sum);
}

/* A program command with its own arg, and one that gets the daemon's. */
static void
cmd_hello(struct gw_ctl_req *r, json_t *args, void *arg)
{
    (void)args;
    gw_ctl_reply(r, json_pack("{s:s}", "hello", (const char *)arg));
}

static void
cmd_workers(struct gw_ctl_req *r, json_t *args, void *arg)
{
    struct testd *t = arg;

    (void)args;
    gw_ctl_reply(r, json_pack("{s:I}", "workers", (json_int_t)t->workers));
}

static char hello_arg[] = "world";

static const struct gw_ctl_cmd testd_cmds[] = {
    {"hello", cmd_hello, "a command with its own arg", hello_arg},
    {"workers", cmd_workers, "a command with the daemon's arg", NULL},
    {NULL, NULL, NULL, NULL},
};

/* With TESTD_OPERANDS in the environment: "testd [WORKERS]". */
static int
testd_operands(struct gw_daemon *d, int argc, char **argv, char *err)
{
    if (argc > 1)
        return gw_err(err, "too many arguments: testd [WORKERS]");
    return gw_daemon_override(d, "testd", "workers", argv[0], err);
}

static const struct gw_daemon_desc testd_desc = {
    .prog = "testd",
    .summary = "testd -- the daemon of the daemon unit test.",
    .schema = testd_schema,
    .check = testd_check,
    .reload = testd_reload,
    .drain = testd_drain,
    .drained = testd_drained,
    .status = testd_status,
    .health = testd_health,
};

static int
testd_main(int argc, char **argv)
{
    static struct testd t;
    static struct gw_daemon_desc desc;
    struct gw_metrics *m = NULL;
    char err[GW_ERR_LEN];
    int rc = 1;

    desc = testd_desc;
    if (getenv("TESTD_OPERANDS")) {
        desc.operands = testd_operands;
        desc.usage = "[WORKERS]";
    }
    if ((t.d = gw_daemon_new(&desc, &t)) == NULL)
        return 1;
    if ((rc = gw_daemon_args(t.d, argc, argv)) != 0 || (rc = gw_daemon_load(t.d)) != 0) {
        gw_daemon_free(t.d);
        return GW_DAEMON_EXIT(rc);
    }
    gw_daemon_start_logging(t.d);
    testd_apply(&t, gw_daemon_conf(t.d));
    rc = 1;
    if ((m = gw_metrics_new(0, 64, err)) == NULL) {
        GW_LOG_ERROR("cannot create metrics", "err=%s", err);
        goto out;
    }
    if (gw_daemon_process_metrics(t.d, m) == -1 || gw_daemon_open_ctl(t.d, testd_cmds) == -1)
        goto out;
    gw_daemon_ready(t.d);
    rc = gw_daemon_run(t.d) == 0 ? 0 : 1;
out:
    gw_daemon_free(t.d);
    if (m)
        gw_metrics_free(m);
    return rc;
}

/* ---- the driver: runs testd in a temp dir ---- */

static char tmpdir[] = "/tmp/gwdaemon.XXXXXX";
static char self[PATH_MAX];

static char run_dir[PATH_LEN - 16];
static char ctl_path[PATH_LEN];
static char conf_path[PATH_LEN];
static char run_env[PATH_LEN + 32], state_env[PATH_LEN + 32];
static int nspawn;

struct proc {
    pid_t pid;
    int status; /* from waitpid, once exited */
    int exited;
    char out_path[PATH_LEN], err_path[PATH_LEN];
    int notify_fd; /* our end of NOTIFY_SOCKET, or -1 */
    char notify_path[PATH_LEN];
};

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

/* Reads a whole file into buf; "" when missing. */
static char *
read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    ssize_t got;

    buf[0] = '\0';
    if (fd == -1)
        return buf;
    while (n + 1 < len && (got = read(fd, buf + n, len - 1 - n)) > 0)
        n += (size_t)got;
    buf[n] = '\0';
    close(fd);
    return buf;
}

/* The environment the daemons see: ours without GWKIT_ and NOTIFY_SOCKET, then extra. */
static char **
child_env(const char *const *extra, const char *notify)
{
    extern char **environ;
    static char notify_env[PATH_LEN + 32];
    size_t n = 0, k = 0;
    char **env;

    while (environ[n])
        n++;
    for (size_t i = 0; extra && extra[i]; i++)
        n++;
    if ((env = calloc(n + 4, sizeof(*env))) == NULL)
        return NULL;
    for (size_t i = 0; environ[i]; i++)
        if (strncmp(environ[i], "GWKIT_", 6) != 0 && strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0)
            env[k++] = environ[i];
    env[k++] = run_env;
    env[k++] = state_env;
    if (notify) {
        snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", notify);
        env[k++] = notify_env;
    }
    for (size_t i = 0; extra && extra[i]; i++)
        env[k++] = (char *)extra[i];
    env[k] = NULL;
    return env;
}

/* Our end of a notification socket, as systemd holds it. */
static int
notify_open(struct proc *p)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    snprintf(p->notify_path, sizeof(p->notify_path), "%s/notify-%d.sock", tmpdir, nspawn);
    gw_strlcpy(sa.sun_path, p->notify_path, sizeof(sa.sun_path));
    if ((p->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
        return -1;
    return bind(p->notify_fd, (struct sockaddr *)&sa, sizeof(sa));
}

/* Starts testd with args (NULL-terminated) and extra environment; stdout and stderr go to
 * files. With notify, the daemon gets a NOTIFY_SOCKET of ours. */
static int
spawn(struct proc *p, const char *const *args, const char *const *env, int notify)
{
    const char *argv[32];
    char **envp;
    size_t n = 0;

    memset(p, 0, sizeof(*p));
    p->notify_fd = -1;
    nspawn++;
    snprintf(p->out_path, sizeof(p->out_path), "%s/out-%d", tmpdir, nspawn);
    snprintf(p->err_path, sizeof(p->err_path), "%s/err-%d", tmpdir, nspawn);
    if (notify && notify_open(p) == -1)
        return -1;
    argv[n++] = "testd";
    argv[n++] = "--as-daemon";
    for (size_t i = 0; args[i] && n < GW_ARRAY_LEN(argv) - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if ((envp = child_env(env, notify ? p->notify_path : NULL)) == NULL)
        return -1;
    fflush(stdout);
    if ((p->pid = fork()) == 0) {
        int out = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out == -1 || err == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
            _exit(126);
        execve(self, (char *const *)argv, envp);
        _exit(127);
    }
    free(envp);
    return p->pid > 0 ? 0 : -1;
}

/* Waits for the daemon to exit; 1 when it did within timeout_ms (its status in p->status). */
static int
wait_exit(struct proc *p, int timeout_ms)
{
    uint64_t deadline = gw_mono_ms() + (uint64_t)timeout_ms;

    while (!p->exited) {
        pid_t r = waitpid(p->pid, &p->status, WNOHANG);
        if (r == p->pid) {
            p->exited = 1;
            break;
        }
        if (r == -1 || gw_mono_ms() >= deadline)
            return 0;
        poll(NULL, 0, 5);
    }
    return 1;
}

/* The exit code, or -1 for a signal (or no exit). */
static int
exit_code(const struct proc *p)
{
    return p->exited && WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
}

/* Kills a daemon left running by a failed check, and releases the notification socket. */
static void
reap(struct proc *p)
{
    if (!p->exited) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &p->status, 0);
        p->exited = 1;
    }
    if (p->notify_fd != -1) {
        close(p->notify_fd);
        unlink(p->notify_path);
        p->notify_fd = -1;
    }
}

/* Runs testd to completion; returns its exit code, with stdout and stderr in out and err. */
static int
run(const char *const *args, const char *const *env, char *out, char *err, size_t len)
{
    struct proc p;
    int code;

    if (spawn(&p, args, env, 0) == -1)
        return -1;
    wait_exit(&p, DEADLINE_MS);
    reap(&p);
    code = exit_code(&p);
    read_file(p.out_path, out, len);
    read_file(p.err_path, err, len);
    if (code != 0 && code != 1 && code != 2)
        diag("testd exited with status %d: %s", p.status, err);
    return code;
}

/* 1 once the daemon's log holds needle. */
static int
wait_log(const struct proc *p, const char *needle)
{
    uint64_t deadline = gw_mono_ms() + DEADLINE_MS;
    static char buf[65536];

    for (;;) {
        if (strstr(read_file(p->err_path, buf, sizeof(buf)), needle))
            return 1;
        if (gw_mono_ms() >= deadline)
            return 0;
        poll(NULL, 0, 5);
    }
}

static int
log_has(const struct proc *p, const char *needle)
{
    static char buf[65536];

    return strstr(read_file(p->err_path, buf, sizeof(buf)), needle) != NULL;
}

/* The next notification the daemon sent, into buf; "" when none came in time. */
static const char *
notify_next(struct proc *p, char *buf, size_t len)
{
    struct pollfd pfd = {.fd = p->notify_fd, .events = POLLIN};
    ssize_t n;

    buf[0] = '\0';
    if (poll(&pfd, 1, DEADLINE_MS) != 1)
        return buf;
    if ((n = recv(p->notify_fd, buf, len - 1, MSG_DONTWAIT)) < 0)
        n = 0;
    buf[n] = '\0';
    return buf;
}

/* Starts testd with a notification socket and waits for its READY=1. */
static int
start(struct proc *p, const char *const *args, const char *const *env)
{
    char msg[512], want[64];

    if (spawn(p, args, env, 1) == -1)
        return -1;
    notify_next(p, msg, sizeof(msg));
    snprintf(want, sizeof(want), "MAINPID=%d", (int)p->pid);
    if (strncmp(msg, "READY=1\n", 8) != 0 || !strstr(msg, want)) {
        wait_exit(p, 100);
        diag("no READY=1 (got '%s'); log: %s", msg, read_file(p->err_path, msg, sizeof(msg)));
        return -1;
    }
    return 0;
}

/* A control call; args is stolen. Returns the result (or the error object) with its status. */
static json_t *
call(const char *cmd, json_t *args, enum gw_ctl_status *st)
{
    char err[GW_ERR_LEN];
    json_t *res = gw_ctl_call(ctl_path, cmd, args, DEADLINE_MS, st, err);

    if (*st != GW_CTL_OK && *st != GW_CTL_FAILED)
        diag("%s: %s", cmd, err);
    json_decref(args);
    return res;
}

static const char *
str_at(json_t *o, const char *k1, const char *k2)
{
    json_t *v = json_object_get(o, k1);

    return json_string_value(k2 ? json_object_get(v, k2) : v);
}

static long long
int_at(json_t *o, const char *k1, const char *k2)
{
    json_t *v = json_object_get(o, k1);

    v = k2 ? json_object_get(v, k2) : v;
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static int
socket_exists(void)
{
    struct stat sb;

    return stat(ctl_path, &sb) == 0;
}

/* ---- the checks ---- */

static void
test_args(void)
{
    static char out[16384], err[16384];
    const char *usage = "usage: testd [-c FILE] [-n] [--version] [--help]\n";
    const char *version[] = {"--version", NULL}, *help[] = {"--help", NULL},
               *bad[] = {"--bogus", NULL}, *noarg[] = {"-c", NULL},
               *operand[] = {"-c", conf_path, "extra", NULL};

    is(run(version, NULL, out, err, sizeof(out)), 0, "--version exits 0");
    is_str(out, "testd " GW_VERSION " (gwkit)\n", "--version prints the program and version");

    is(run(help, NULL, out, err, sizeof(out)), 0, "--help exits 0");
    ok(strncmp(out, usage, strlen(usage)) == 0, "--help starts with the usage line");
    ok(strstr(out, "testd -- the daemon of the daemon unit test.") != NULL,
       "--help shows the summary");
    ok(strstr(out, "GWKIT_TESTD_LISTEN") != NULL, "--help names the environment overrides");
    is_str(err, "", "--help writes nothing to stderr");

    is(run(bad, NULL, out, err, sizeof(out)), 2, "a bad option exits 2");
    ok(strstr(err, "usage: testd") != NULL, "a bad option prints the usage on stderr");
    is_str(out, "", "a bad option prints nothing on stdout");
    is(run(noarg, NULL, out, err, sizeof(out)), 2, "-c without a file exits 2");

    is(run(operand, NULL, out, err, sizeof(out)), 2, "an unexpected operand exits 2");
    ok(strstr(err, "testd: unexpected argument 'extra'\n") == err,
       "an unexpected operand is named on stderr");
}

static void
test_check(void)
{
    static char out[16384], err[16384], want[4096], path[PATH_LEN], missing[PATH_LEN];
    const char *good[] = {"-n", "-c", conf_path, NULL}, *badargs[] = {"-n", "-c", path, NULL},
               *longform[] = {"--check", "--config", conf_path, NULL},
               *missargs[] = {"-t", "-c", missing, NULL}, *builtin[] = {"-n", NULL};
    const char *badenv[] = {"GWKIT_TESTD_WORKERS=many", NULL},
               *typoenv[] = {"GWKIT_TESTD_WOKERS=3", NULL},
               *goodenv[] = {"GWKIT_TESTD_WORKERS=7", "GWKIT_LOG_LEVEL=debug", NULL},
               *badlevel[] = {"GWKIT_LOG_LEVEL=loud", NULL},
               *badurl[] = {"GWKIT_TESTD_URL=gopher://x", NULL};

    write_file(conf_path, "[global]\nlog_level = info\n\n[testd]\nworkers = 3\n");
    is(run(good, NULL, out, err, sizeof(out)), 0, "-n with a good config exits 0");
    is_str(out, "configuration OK\n", "-n with a good config prints exactly 'configuration OK'");
    is_str(err, "", "-n with a good config prints nothing on stderr");
    is(run(longform, NULL, out, err, sizeof(out)), 0, "--check --config FILE works too");
    is_str(out, "configuration OK\n", "--check prints 'configuration OK'");
    if (access("/etc/gwkit/gwkit.conf", F_OK) != 0) {
        is(run(builtin, NULL, out, err, sizeof(out)), 0,
           "-n without -c checks the built-in config");
        is_str(out, "configuration OK\n", "the built-in config is OK");
    }

    snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
    write_file(path, "[global]\nlog_level = loud\n[testd]\nworkers = many\nwokers = 3\n");
    snprintf(want, sizeof(want),
             "testd: %s:2: 'log_level': 'loud' is not one of debug, info, warning, error\n"
             "testd: %s:4: 'workers': expected an integer, got 'many'\n"
             "testd: %s:5: unknown key 'wokers' in [testd], did you mean 'workers'?\n"
             "testd: configuration has 3 errors\n",
             path, path, path);
    is(run(badargs, NULL, out, err, sizeof(out)), 1, "-n with a bad config exits 1");
    is_str(err, want, "-n prints each error as 'testd: FILE:LINE: message', then the count");
    is_str(out, "", "-n with a bad config prints nothing on stdout");

    write_file(path, "[testd]\nworkers = 3\nurl = ftp://x\n");
    snprintf(want, sizeof(want),
             "testd: %s:3: 'url': 'ftp://x' is not an http(s) URL\n"
             "testd: configuration has 1 error\n",
             path);
    is(run(badargs, NULL, out, err, sizeof(out)), 1, "-n: the program's check refuses, exit 1");
    is_str(err, want, "-n prints the program's check error with its file:line");
    is(run(good, badurl, out, err, sizeof(out)), 1, "the check sees env overrides too");
    ok(strstr(err, "testd: env GWKIT_TESTD_URL: 'url': 'gopher://x' is not an http(s) URL\n") !=
           NULL,
       "the check names the environment variable");

    snprintf(missing, sizeof(missing), "%s/missing.conf", tmpdir);
    snprintf(want, sizeof(want),
             "testd: %s: cannot open: No such file or directory\n"
             "testd: configuration has 1 error\n",
             missing);
    is(run(missargs, NULL, out, err, sizeof(out)), 1, "-t with a missing -c file exits 1");
    is_str(err, want, "a missing -c file is named");

    is(run(good, badenv, out, err, sizeof(out)), 1, "a bad GWKIT_TESTD_ value exits 1");
    ok(strstr(err,
              "testd: env GWKIT_TESTD_WORKERS: 'workers': expected an integer, got 'many'\n") !=
           NULL,
       "a bad GWKIT_TESTD_ value is named");
    is(run(good, typoenv, out, err, sizeof(out)), 1, "an unknown GWKIT_TESTD_ key exits 1");
    ok(strstr(err, "did you mean") != NULL, "an unknown GWKIT_TESTD_ key gets a did-you-mean");
    is(run(good, goodenv, out, err, sizeof(out)), 0, "good GWKIT_ values pass -n");
    is(run(good, badlevel, out, err, sizeof(out)), 1, "GWKIT_LOG_LEVEL is validated");
    ok(strstr(err, "'log_level': 'loud' is not one of") != NULL, "a bad GWKIT_LOG_LEVEL is named");
}

static void
test_operands(void)
{
    static char out[16384], err[16384], want[512];
    const char *env[] = {"TESTD_OPERANDS=1", NULL};
    const char *good[] = {"-n", "-c", conf_path, "7", NULL},
               *bad[] = {"-n", "-c", conf_path, "many", NULL},
               *two[] = {"-n", "-c", conf_path, "1", "2", NULL},
               *inject[] = {"-n", "-c", conf_path, "1\n[global]\nrun_dir = /", NULL},
               *help[] = {"--help", NULL};

    is(run(help, env, out, err, sizeof(out)), 0, "--help with operands exits 0");
    ok(strstr(out, "usage: testd [-c FILE] [-n] [--version] [--help] [WORKERS]\n") == out,
       "--help shows the operands in the usage line");
    is(run(good, env, out, err, sizeof(out)), 0, "a good operand passes -n");
    is_str(out, "configuration OK\n", "a good operand: configuration OK");
    snprintf(want, sizeof(want),
             "testd: command line:2: 'workers': expected an integer, got 'many'\n"
             "testd: configuration has 1 error\n");
    is(run(bad, env, out, err, sizeof(out)), 1, "a bad operand value exits 1");
    is_str(err, want, "a bad operand value is checked by the schema, as 'command line:N'");
    is(run(two, env, out, err, sizeof(out)), 2, "the operands callback's usage error exits 2");
    is_str(err, "testd: too many arguments: testd [WORKERS]\n",
           "the operands callback's error is printed");
    is(run(inject, env, out, err, sizeof(out)), 2, "an operand with a line break exits 2");
    is_str(err, "testd: argument holds a control character\n",
           "an operand cannot inject config lines");
}

/* The main daemon's config, rewritten between reloads. */
static void
write_main_conf(int workers, const char *extra)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "[global]\nlog_level = info\n\n[testd]\nworkers = %d\ndrain_delay = 200ms\n%s",
             workers, extra);
    write_file(conf_path, text);
}

static void
test_ctl_basics(const struct proc *p)
{
    enum gw_ctl_status st;
    json_t *r, *cmds;
    int n = 0;

    r = call("ping", NULL, &st);
    ok(st == GW_CTL_OK && json_is_true(json_object_get(r, "pong")), "ctl ping answers pong");
    json_decref(r);

    r = call("help", NULL, &st);
    cmds = json_object_get(r, "commands");
    for (size_t i = 0; i < json_array_size(cmds); i++) {
        const char *name = str_at(json_array_get(cmds, i), "name", NULL);
        const char *want[] = {"status",    "health", "config",   "metrics", "reload",
                              "log-level", "drain",  "shutdown", "hello",   "workers"};
        for (size_t j = 0; name && j < GW_ARRAY_LEN(want); j++)
            n += strcmp(name, want[j]) == 0;
    }
    is(n, 10, "ctl help lists the common and the program's commands");
    json_decref(r);

    r = call("status", NULL, &st);
    ok(st == GW_CTL_OK, "ctl status answers");
    is_str(str_at(r, "prog", NULL), "testd", "status: prog");
    is_str(str_at(r, "version", NULL), GW_VERSION, "status: version");
    is(int_at(r, "pid", NULL), p->pid, "status: pid is the daemon's");
    ok(int_at(r, "uptime_s", NULL) >= 0, "status: uptime_s");
    is_str(str_at(r, "config", NULL), conf_path, "status: config names the file");
    is_str(str_at(r, "control_socket", NULL), ctl_path, "status: control_socket");
    ok(json_is_false(json_object_get(r, "draining")), "status: not draining");
    ok(str_at(r, "started", NULL) != NULL, "status: started");
    is(int_at(r, "workers", NULL), 3, "status: the program's fields are merged in");
    is_str(str_at(r, "label", NULL), "fromenv", "status: the program sees env overrides");
    json_decref(r);

    r = call("health", NULL, &st);
    ok(st == GW_CTL_OK, "ctl health answers");
    is_str(str_at(r, "status", NULL), "ok", "health: the program's status");
    is_str(str_at(r, "summary", NULL), "3 workers", "health: the program's summary");
    is_str(str_at(r, "prog", NULL), "testd", "health: prog");
    json_decref(r);

    r = call("config", NULL, &st);
    ok(st == GW_CTL_OK, "ctl config answers");
    is_str(str_at(r, "file", NULL), conf_path, "config: the file");
    is(int_at(json_object_get(r, "config"), "testd", "workers"), 3, "config: a file value");
    is(int_at(json_object_get(r, "config"), "testd", "drain_delay"), 200,
       "config: durations in ms");
    is_str(str_at(json_object_get(r, "config"), "testd", "label"), "fromenv",
           "config: an env override is visible");
    is_str(str_at(json_object_get(r, "config"), "global", "log_level"), "debug",
           "config: GWKIT_LOG_LEVEL overrides the file's log_level");
    is_str(str_at(json_object_get(r, "config"), "global", "run_dir"), run_dir,
           "config: GWKIT_GLOBAL_RUN_DIR is visible");
    json_decref(r);

    r = call("hello", NULL, &st);
    is_str(str_at(r, "hello", NULL), "world", "a program command gets its own arg");
    json_decref(r);
    r = call("workers", NULL, &st);
    is(int_at(r, "workers", NULL), 3, "a program command without arg gets the daemon's");
    json_decref(r);

    r = call("nosuch", NULL, &st);
    ok(st == GW_CTL_FAILED && strcmp(str_at(r, "code", NULL), "unknown_command") == 0,
       "an unknown command is refused");
    json_decref(r);
}

static void
test_ctl_log_metrics(void)
{
    enum gw_ctl_status st;
    json_t *r;
    const char *text;

    r = call("log-level", NULL, &st);
    is_str(str_at(r, "level", NULL), "debug", "log-level: GWKIT_LOG_LEVEL=debug honoured");
    json_decref(r);
    r = call("log-level", json_pack("{s:s}", "level", "WARNING"), &st);
    ok(st == GW_CTL_OK, "log-level set answers");
    is_str(str_at(r, "level", NULL), "warning", "log-level set replies the new level");
    json_decref(r);
    r = call("log-level", NULL, &st);
    is_str(str_at(r, "level", NULL), "warning", "log-level get shows the new level");
    json_decref(r);
    r = call("log-level", json_pack("{s:s}", "level", "loud"), &st);
    ok(st == GW_CTL_FAILED, "log-level with a bad level fails");
    is_str(str_at(r, "code", NULL), "bad_args", "a bad level is bad_args");
    ok(str_at(r, "message", NULL) && strstr(str_at(r, "message", NULL), "'loud'"),
       "a bad level is named");
    json_decref(r);
    r = call("log-level", json_pack("{s:s}", "level", "info"), &st);
    json_decref(r);

    r = call("metrics", NULL, &st);
    text = str_at(r, "text", NULL);
    ok(st == GW_CTL_OK && text, "ctl metrics answers with the exposition text");
    text = text ? text : "";
    ok(strstr(text, "\nprocess_start_time_seconds ") != NULL,
       "metrics: process_start_time_seconds");
    ok(strstr(text, "\nprocess_cpu_seconds_total ") != NULL, "metrics: process_cpu_seconds_total");
    ok(strstr(text, "\nprocess_resident_memory_bytes ") != NULL &&
           !strstr(text, "\nprocess_resident_memory_bytes 0\n"),
       "metrics: process_resident_memory_bytes, not 0");
    ok(strstr(text, "\nprocess_open_fds ") != NULL, "metrics: process_open_fds");
    ok(strstr(text, "\nprocess_max_fds ") != NULL, "metrics: process_max_fds");
    json_decref(r);
}

/* A refused reload: the error names file:line and the old config keeps running. */
static void
reload_refused(const char *what, int line, const char *key)
{
    enum gw_ctl_status st;
    char want[PATH_LEN + 64];
    const char *msg;
    json_t *r;

    snprintf(want, sizeof(want), "%s:%d: '%s'", conf_path, line, key);
    r = call("reload", NULL, &st);
    msg = str_at(r, "message", NULL);
    ok(st == GW_CTL_FAILED, "reload refused: %s", what);
    is_str(str_at(r, "code", NULL), "failed", "refused reload (%s): code failed", what);
    ok(msg && strstr(msg, want), "refused reload (%s): the message names %s", what, want);
    if (!msg || !strstr(msg, want))
        diag("message: %s", msg ? msg : "(none)");
    json_decref(r);
    r = call("status", NULL, &st);
    is(int_at(r, "workers", NULL), 4, "refused reload (%s): the old config keeps running", what);
    is(int_at(r, "reloads", NULL), 1, "refused reload (%s): nothing applied", what);
    json_decref(r);
}

static void
expect_notify(struct proc *p, const char *prefix, const char *what)
{
    char msg[512];

    notify_next(p, msg, sizeof(msg));
    ok(strncmp(msg, prefix, strlen(prefix)) == 0, "notify: %s", what);
    if (strncmp(msg, prefix, strlen(prefix)) != 0)
        diag("got '%s', wanted '%s...'", msg, prefix);
}

static void
test_reload(struct proc *p)
{
    enum gw_ctl_status st;
    uint64_t deadline;
    json_t *r;
    int workers = 0;

    write_main_conf(4, "");
    r = call("reload", NULL, &st);
    ok(st == GW_CTL_OK && json_is_true(json_object_get(r, "applied")),
       "ctl reload applies a changed file: {\"applied\":true}");
    json_decref(r);
    expect_notify(p, "RELOADING=1\nMONOTONIC_USEC=", "RELOADING=1 at reload");
    expect_notify(p, "READY=1", "READY=1 after reload");
    r = call("status", NULL, &st);
    is(int_at(r, "workers", NULL), 4, "reload: the program applied the new value");
    is(int_at(r, "reloads", NULL), 1, "reload: the reload callback ran once");
    is(int_at(r, "drain_timeout_ms", NULL), 10000, "gw_daemon_global: [global] bound (default)");
    json_decref(r);

    write_main_conf(5, "mode = refuse\n");
    reload_refused("by the program", 7, "mode");
    write_main_conf(5, "drain_stuck = maybe\n");
    reload_refused("by the schema", 7, "drain_stuck");
    write_main_conf(5, "url = ftp://x\n");
    reload_refused("by the program's check", 7, "url");
    for (int i = 0; i < 3; i++) {
        expect_notify(p, "RELOADING=1", "RELOADING=1 at a refused reload");
        expect_notify(p, "READY=1", "READY=1 after a refused reload");
    }
    ok(log_has(p, "msg=\"reload refused, old config kept\""), "a refused reload is logged");

    write_main_conf(6, "[global]\ndrain_timeout = 3s\nhistory_days = 5\n");
    kill(p->pid, SIGHUP);
    deadline = gw_mono_ms() + DEADLINE_MS;
    while (workers != 6 && gw_mono_ms() < deadline) {
        r = call("status", NULL, &st);
        workers = (int)int_at(r, "workers", NULL);
        json_decref(r);
        if (workers != 6)
            poll(NULL, 0, 5);
    }
    is(workers, 6, "SIGHUP reloads a changed file");
    r = call("status", NULL, &st);
    is(int_at(r, "drain_timeout_ms", NULL), 3000, "gw_daemon_global follows a reload");
    is(int_at(r, "history_days", NULL), 5, "a restart-only key is bound from the new file too");
    json_decref(r);
    ok(wait_log(p, "msg=\"setting changes at restart only\" key=history_days section=global"),
       "a changed restart-only key is logged, with its section");
    expect_notify(p, "RELOADING=1", "RELOADING=1 at SIGHUP");
    expect_notify(p, "READY=1", "READY=1 after SIGHUP");
    ok(wait_log(p, "msg=\"config reloaded\""), "a reload is logged");
}

static void
test_main_daemon(void)
{
    const char *args[] = {"-c", conf_path, NULL};
    const char *env[] = {"GWKIT_TESTD_LABEL=fromenv", "GWKIT_LOG_LEVEL=debug", NULL};
    struct proc p;
    uint64_t t0;

    write_main_conf(3, "");
    if (start(&p, args, env) == -1) {
        ok(0, "testd starts and sends READY=1 with MAINPID");
        reap(&p);
        return;
    }
    ok(1, "testd starts and sends READY=1 with MAINPID");
    ok(socket_exists(), "the control socket is in run_dir");
    ok(log_has(&p, "msg=\"started\""), "'started' is logged");
    test_ctl_basics(&p);
    test_ctl_log_metrics();
    test_reload(&p);

    t0 = gw_mono_ms();
    kill(p.pid, SIGTERM);
    expect_notify(&p, "STOPPING=1", "STOPPING=1 at SIGTERM");
    ok(wait_exit(&p, DEADLINE_MS), "SIGTERM: the daemon exits once drained");
    is(exit_code(&p), 0, "SIGTERM: exit 0");
    ok(gw_mono_ms() - t0 >= 200, "SIGTERM: it waited for the drain (drain_delay 200ms)");
    ok(log_has(&p, "msg=\"test drain started\""), "SIGTERM: the drain callback ran");
    ok(log_has(&p, "msg=\"drained\""), "SIGTERM: 'drained' is logged");
    ok(!log_has(&p, "drain timeout"), "SIGTERM: no drain timeout");
    ok(!socket_exists(), "the control socket is removed at exit");
    reap(&p);
}

static void
test_drain_timeout(void)
{
    const char *args[] = {"-c", conf_path, NULL};
    struct proc p;
    uint64_t t0;

    write_file(conf_path, "[global]\ndrain_timeout = 300ms\n[testd]\ndrain_stuck = yes\n");
    if (start(&p, args, NULL) == -1) {
        ok(0, "testd starts (drain timeout)");
        reap(&p);
        return;
    }
    t0 = gw_mono_ms();
    kill(p.pid, SIGTERM);
    ok(wait_exit(&p, DEADLINE_MS), "drain never done: the daemon exits anyway");
    is(exit_code(&p), 0, "drain timeout: exit 0");
    ok(gw_mono_ms() - t0 >= 300, "drain timeout: after drain_timeout (300ms)");
    ok(log_has(&p, "drain timeout"), "drain timeout: logged");
    ok(!socket_exists(), "drain timeout: the control socket is removed");
    reap(&p);
}

static void
test_second_sigterm(void)
{
    const char *args[] = {"-c", conf_path, NULL};
    enum gw_ctl_status st;
    struct proc p;
    uint64_t t0;
    json_t *r;

    write_file(conf_path, "[global]\ndrain_timeout = 10s\n[testd]\ndrain_stuck = yes\n");
    if (start(&p, args, NULL) == -1) {
        ok(0, "testd starts (second SIGTERM)");
        reap(&p);
        return;
    }
    kill(p.pid, SIGTERM);
    expect_notify(&p, "STOPPING=1", "STOPPING=1 at the first SIGTERM");
    r = call("status", NULL, &st);
    ok(json_is_true(json_object_get(r, "draining")), "status: draining while draining");
    json_decref(r);
    r = call("health", NULL, &st);
    is_str(str_at(r, "status", NULL), "critical", "health: critical while draining");
    ok(str_at(r, "summary", NULL) && strncmp(str_at(r, "summary", NULL), "draining", 8) == 0,
       "health: the summary says draining");
    json_decref(r);
    t0 = gw_mono_ms();
    kill(p.pid, SIGTERM);
    ok(wait_exit(&p, 5000), "a second SIGTERM during the drain exits");
    is(exit_code(&p), 0, "second SIGTERM: exit 0");
    ok(gw_mono_ms() - t0 < 5000, "second SIGTERM: at once, not after drain_timeout (10s)");
    ok(log_has(&p, "second stop request"), "second SIGTERM: logged");
    ok(!log_has(&p, "drain timeout"), "second SIGTERM: no drain timeout");
    ok(!socket_exists(), "second SIGTERM: the control socket is removed");
    reap(&p);
}

static void
test_ctl_drain(void)
{
    const char *args[] = {"9", NULL};
    const char *env[] = {"TESTD_OPERANDS=1", NULL};
    enum gw_ctl_status st;
    struct proc p;
    json_t *r;

    /* No -c: the built-in defaults (when the machine has no /etc/gwkit/gwkit.conf). */
    if (start(&p, args, env) == -1) {
        ok(0, "testd starts (ctl drain)");
        reap(&p);
        return;
    }
    if (access("/etc/gwkit/gwkit.conf", F_OK) != 0) {
        r = call("status", NULL, &st);
        is_str(str_at(r, "config", NULL), "built-in", "status: config built-in without a file");
        json_decref(r);
    }
    r = call("status", NULL, &st);
    is(int_at(r, "workers", NULL), 9, "an operand overrides the config");
    json_decref(r);
    r = call("drain", NULL, &st);
    ok(st == GW_CTL_OK && json_is_true(json_object_get(r, "draining")),
       "ctl drain replies {\"draining\":true}");
    json_decref(r);
    expect_notify(&p, "STOPPING=1", "STOPPING=1 at ctl drain");
    ok(wait_exit(&p, DEADLINE_MS), "ctl drain: the daemon exits once drained");
    is(exit_code(&p), 0, "ctl drain: exit 0");
    ok(log_has(&p, "msg=\"test drain started\""), "ctl drain: the drain callback ran");
    ok(!socket_exists(), "ctl drain: the control socket is removed");
    reap(&p);
}

static void
test_ctl_shutdown(void)
{
    const char *args[] = {"-c", conf_path, NULL};
    const char *env[] = {"GWKIT_LOG_LEVEL=warning", NULL};
    enum gw_ctl_status st;
    struct proc p;
    json_t *r;

    write_file(conf_path, "[global]\ndrain_timeout = 10s\n[testd]\ndrain_stuck = yes\n");
    if (start(&p, args, env) == -1) {
        ok(0, "testd starts (ctl shutdown)");
        reap(&p);
        return;
    }
    r = call("log-level", NULL, &st);
    is_str(str_at(r, "level", NULL), "warning", "GWKIT_LOG_LEVEL=warning honoured");
    json_decref(r);
    r = call("shutdown", NULL, &st);
    ok(st == GW_CTL_OK && json_is_true(json_object_get(r, "stopping")),
       "ctl shutdown replies {\"stopping\":true}");
    json_decref(r);
    expect_notify(&p, "STOPPING=1", "STOPPING=1 at ctl shutdown");
    ok(wait_exit(&p, 5000), "ctl shutdown: the daemon exits at once");
    is(exit_code(&p), 0, "ctl shutdown: exit 0");
    ok(!log_has(&p, "test drain started"), "ctl shutdown: no drain");
    ok(!log_has(&p, "level=info"), "GWKIT_LOG_LEVEL=warning: no info lines");
    ok(!socket_exists(), "ctl shutdown: the control socket is removed");
    reap(&p);
}

static void
cleanup(void)
{
    char cmd[PATH_LEN + 16];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        diag("cannot remove %s", tmpdir);
}

int
main(int argc, char **argv)
{
    ssize_t n;

    if (argc > 1 && strcmp(argv[1], "--as-daemon") == 0) {
        argv[1] = argv[0];
        return testd_main(argc - 1, argv + 1);
    }
    if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0 || !mkdtemp(tmpdir)) {
        printf("Bail out! cannot find myself or make a temp dir\n");
        return 1;
    }
    self[n] = '\0';
    snprintf(run_dir, sizeof(run_dir), "%s/run", tmpdir);
    snprintf(run_env, sizeof(run_env), "GWKIT_GLOBAL_RUN_DIR=%s", run_dir);
    snprintf(state_env, sizeof(state_env), "GWKIT_GLOBAL_STATE_DIR=%s/state", tmpdir);
    snprintf(ctl_path, sizeof(ctl_path), "%s/testd.sock", run_dir);
    snprintf(conf_path, sizeof(conf_path), "%s/testd.conf", tmpdir);

    test_args();
    test_check();
    test_operands();
    test_main_daemon();
    test_drain_timeout();
    test_second_sigterm();
    test_ctl_drain();
    test_ctl_shutdown();
    cleanup();
    return done_testing();
}
