/*
 * commands.c -- the tables: the daemons gwctl knows and its commands (name, control request,
 * programs, options, printer, help), plus the generic "send one request, print the result".
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gwctl.h"
#include "hbd/hbd_ctl.h"
#include "hbd/hbd_schema.h"
#include "logd/logd_schema.h"
#include "progs.h"
#include "wsgwd/wsgwd_ctl.h"
#include "wsgwd/wsgwd_schema.h"

/* The daemons whose schema gwctl is built with; the others are "not built yet". */
static const struct {
    const char *prog;
    const struct gw_conf_section *const *schema;
    int (*check)(const struct gw_conf *c, char *err);
} schemas[] = {
    {GW_PROG_HBD, hbd_schema, hbd_conf_check},
    {GW_PROG_WSGWD, wsgw_schema, wsgw_conf_check},
    {GW_PROG_LOGD, logd_schema, logd_conf_check},
};

const struct gwctl_prog *
gwctl_progs(void)
{
    static struct gwctl_prog progs[GWCTL_MAX_PROGS + 1];
    static int made;
    size_t n = 0;

    if (made)
        return progs;
    for (const struct gw_prog *p = gw_progs; p->name && n < GWCTL_MAX_PROGS; p++) {
        if (!(p->flags & GW_PROG_DAEMON))
            continue;
        progs[n].name = p->name;
        progs[n].doc = p->doc;
        for (size_t i = 0; i < GW_ARRAY_LEN(schemas); i++)
            if (strcmp(schemas[i].prog, p->name) == 0) {
                progs[n].schema = schemas[i].schema;
                progs[n].check = schemas[i].check;
            }
        n++;
    }
    made = 1;
    return progs;
}

#define NOARGS                                                                                     \
    {                                                                                              \
        {                                                                                          \
            NULL, NULL, NULL, 0, NULL                                                              \
        }                                                                                          \
    }

const struct gwctl_cmd gwctl_cmds[] = {
    {"status",
     NULL,
     "*",
     GWCTL_PROG_NONE,
     {{NULL, "PROG|all", NULL, 0, NULL}},
     NULL,
     gwctl_run_status,
     NULL,
     "version, uptime, pid, listeners, connections and figures",
     "Shows a daemon's state: version, pid, uptime, listeners, connections, rates and the\n"
     "program's own figures. With 'all' (the default), every daemon whose control socket\n"
     "exists, then the ones that are not running. In JSON, 'all' gives one object keyed by\n"
     "program; absent daemons have \"running\": false.",
     0},
    {"health-check",
     NULL,
     "*",
     GWCTL_PROG_NONE,
     {{NULL, "PROG", NULL, GWCTL_ARG_REPEAT, NULL},
      {"--url", "URL", NULL, GWCTL_ARG_REPEAT, NULL},
      {"--warning", "N", NULL, 0, NULL},
      {"--critical", "N", NULL, 0, NULL}},
     NULL,
     gwctl_run_health,
     NULL,
     "Nagios-style check over the control socket or HTTP /readyz",
     "A monitoring plugin: one line per check, 'NAME STATE - summary | perfdata', and the\n"
     "exit status of the worst check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (CRITICAL\n"
     "outranks WARNING, which outranks UNKNOWN).\n"
     "Each PROG is asked over its control socket: the daemon's own verdict; not running\n"
     "(no socket, stale socket) is CRITICAL; permission denied, timeout or a bad reply is\n"
     "UNKNOWN. Without PROG or --url, every daemon whose socket exists is checked (none:\n"
     "CRITICAL).\n"
     "A daemon that counts problems (hbd: dead and late services) is judged on the counts:\n"
     "CRITICAL when its critical count (dead) reaches --critical N (default 1), else WARNING\n"
     "when critical + warning counts (dead + late) reach --warning N (default 1).\n"
     "Each --url is fetched with HTTP GET (/readyz is appended when the URL has no path):\n"
     "200 is OK, 503 is CRITICAL naming the failing checks, connection refused is\n"
     "CRITICAL; a timeout, a DNS failure, any other status or error is UNKNOWN.",
     0},
    {"validate",
     NULL,
     NULL,
     GWCTL_PROG_NONE,
     {{NULL, "FILE", NULL, 0, NULL}},
     NULL,
     gwctl_run_validate,
     NULL,
     "check a gwkit.conf against every program's schema",
     "Checks every section of FILE (default " GWCTL_DEFAULT_CONFIG ") against the schema of\n"
     "every program, as the daemons' --check does, without starting anything. Each problem\n"
     "is printed to stderr as 'file:line: message'; a good file prints\n"
     "'FILE: configuration OK'. Exit 0 when valid, 1 otherwise.",
     0},
    {"services",
     HBD_CMD_SERVICES,
     GW_PROG_HBD,
     GWCTL_PROG_IMPLIED,
     {{"--state", "STATE", HBD_ARG_STATE, 0, HBD_STATE_CHOICES},
      {"--limit", "N", HBD_ARG_LIMIT, GWCTL_ARG_COUNT, NULL},
      {NULL, "SERVICE", HBD_ARG_SERVICE, 0, NULL}},
     gwctl_print_services,
     gwctl_run_services,
     NULL,
     "hbd's services and their instances",
     "Lists the services hbd tracks, with state, silence, interval, heartbeats and labels,\n"
     "and their instances below them (one without instance= as -; a service whose only\n"
     "instance is unnamed shows its address on its own row). --state keeps one state;\n"
     "--limit N the first N by name (both applied by hbd); SERVICE shows one service, and an\n"
     "unknown SERVICE is an error (exit 1). The listing is streamed, so it has no size\n"
     "limit; with --format json it is JSON lines, one service per line.",
     0},
    {"clients", HBD_CMD_CLIENTS, GW_PROG_HBD " " GW_PROG_WSGWD, GWCTL_PROG_OPERAND, NOARGS,
     gwctl_print_clients, NULL, NULL, "the connections of a daemon",
     "Lists the open connections: id, peer address, worker thread, age, idle time, messages\n"
     "and bytes received; for wsgwd also the path, the backend and the bytes sent.",
     0},
    {"kick",
     WSGW_CMD_KICK,
     GW_PROG_WSGWD,
     GWCTL_PROG_IMPLIED,
     {{NULL, "ID", WSGW_ARG_ID, GWCTL_ARG_REQUIRED, NULL},
      {"--code", "CODE", WSGW_ARG_CODE, 0, NULL}},
     gwctl_print_kick,
     NULL,
     NULL,
     "close a WebSocket client of wsgwd",
     "Closes the WebSocket client ID (from 'gwctl clients wsgwd') with close code CODE\n"
     "(default 1008; 1000-1003, 1007-1014 or 3000-4999). Its backend gets CLOSE. An\n"
     "unknown ID is an error (exit 1).",
     0},
    {"backends", WSGW_CMD_BACKENDS, GW_PROG_WSGWD, GWCTL_PROG_IMPLIED, NOARGS, gwctl_print_backends,
     NULL, NULL, "wsgwd's backends and their state",
     "Lists wsgwd's backends: name, address, protocol (frames or raw), state (up when a\n"
     "framed backend has a link up, or a raw one's last connect worked), links up out of\n"
     "the workers, clients bound to it and connect failures.",
     0},
    {"forget",
     HBD_CMD_FORGET,
     GW_PROG_HBD,
     GWCTL_PROG_IMPLIED,
     {{NULL, "SERVICE", HBD_ARG_SERVICE, GWCTL_ARG_REQUIRED, NULL}},
     gwctl_print_forget,
     NULL,
     NULL,
     "make hbd drop a service now",
     "Drops SERVICE and its instances from hbd's registry, as if it had been silent for\n"
     "forget_after. An unknown service is an error (exit 1).",
     0},
    {"inputs", "inputs", "logd", GWCTL_PROG_IMPLIED, NOARGS, gwctl_print_inputs, NULL, NULL,
     "logd's inputs and their figures",
     "Lists logd's inputs (syslog UDP and TCP, Unix datagram socket, native protocol,\n"
     "ZeroMQ, HTTP /ingest): the address each listens on, messages and bytes received,\n"
     "datagrams dropped for a full queue, and the time stream inputs spent held back.",
     0},
    {"flush", "flush", "logd", GWCTL_PROG_IMPLIED, NOARGS, gwctl_print_flush, NULL, NULL,
     "make logd write and fsync what it has queued",
     "Asks logd to write everything queued now and fsync the files, whatever the fsync\n"
     "policy, and waits until that is done. Fails (exit 1) while the files cannot be\n"
     "written (disk full).",
     0},
    {"tail",
     "tail",
     "logd",
     GWCTL_PROG_IMPLIED,
     {{"--follow", "", "follow", GWCTL_ARG_FLAG, NULL},
      {"--app", "APP", "app", 0, NULL},
      {"--severity", "SEVERITY", "severity", 0, "emerg|alert|crit|err|warning|notice|info|debug"},
      {"-n", "LINES", "lines", 0, NULL}},
     NULL,
     gwctl_run_tail,
     NULL,
     "the latest records logd wrote; --follow streams new ones",
     "Prints the last LINES (default 10) records logd committed to its files, oldest\n"
     "first, one line each: time, host, app, severity, message. --app keeps one app;\n"
     "--severity keeps records that severe or worse. With --follow, new records are\n"
     "printed as they are committed until interrupted. --format json prints each record\n"
     "as a JSON object, one a line.",
     0},
    {"log",
     NULL,
     "logd",
     GWCTL_PROG_NONE,
     {{"--app", "APP", "app", 0, NULL},
      {"--severity", "SEVERITY", "severity", 0, "emerg|alert|crit|err|warning|notice|info|debug"},
      {"--addr", "HOST:PORT", "addr", 0, NULL},
      {"--zstd", "", "zstd", GWCTL_ARG_FLAG, NULL},
      {NULL, "MESSAGE", NULL, GWCTL_ARG_REPEAT, NULL}},
     NULL,
     gwctl_run_log,
     NULL,
     "send a message to logd and wait until it is on disk",
     "Sends MESSAGE (the words joined by spaces), or without MESSAGE each line of standard\n"
     "input, to logd over its native protocol, and returns once logd acknowledged every\n"
     "record as durable. --app names the sender (default gwctl), --severity its level\n"
     "(default notice). The address is --addr, else GWKIT_LOGD_NATIVE_LISTEN, else\n"
     "native_listen from " GWCTL_DEFAULT_CONFIG ", else 127.0.0.1:5515 (a wildcard host\n"
     "means this machine). --zstd compresses each batch with zstd (for shipping a big file\n"
     "over a slow link; logd decompresses it). Exit 0 when acknowledged, 1 when logd refused\n"
     "a record, 3 when logd could not be reached or did not acknowledge within --timeout.",
     0},
    {"reload", "reload", "*", GWCTL_PROG_OPERAND, NOARGS, gwctl_print_reload, NULL,
     "refused the new configuration; the old one keeps running",
     "reload the configuration and report the outcome",
     "Asks PROG to re-read its configuration (as SIGHUP does) and waits for the outcome:\n"
     "applied (exit 0), or refused with each config error as 'file:line: message' while\n"
     "the old configuration keeps running (exit 1).",
     0},
    {"drain", "drain", "*", GWCTL_PROG_OPERAND, NOARGS, gwctl_print_drain, NULL, NULL,
     "stop accepting, finish in-flight work, exit",
     "Asks PROG to drain, as SIGTERM does: it stops accepting, finishes its in-flight work\n"
     "within drain_timeout, then exits 0. gwctl returns once the daemon has started.",
     0},
    {"log-level",
     "log-level",
     "*",
     GWCTL_PROG_OPERAND,
     {{NULL, "LEVEL", "level", 0, "debug|info|warning|error"}},
     gwctl_print_log_level,
     NULL,
     NULL,
     "show or change a daemon's log level",
     "Without LEVEL, shows PROG's log level; with it (debug, info, warning or error), sets\n"
     "it until the next reload or restart.",
     0},
    {"shutdown", "shutdown", "*", GWCTL_PROG_OPERAND, NOARGS, gwctl_print_shutdown, NULL, NULL,
     "stop a daemon at once, without draining",
     "Asks PROG to exit now, without waiting for in-flight work (drain waits for it).", 0},
    {"config", "config", "*", GWCTL_PROG_OPERAND, NOARGS, gwctl_print_config, NULL, NULL,
     "the effective configuration of a daemon",
     "Shows the configuration PROG runs with: its file and every key of its sections\n"
     "(defaults, file and environment merged). Durations are in ms, sizes in bytes.",
     0},
    {"metrics", "metrics", "*", GWCTL_PROG_OPERAND, NOARGS, gwctl_print_metrics, NULL, NULL,
     "a daemon's Prometheus metrics",
     "Prints PROG's metrics in the Prometheus text format, as its HTTP /metrics does.", 0},
    {"ping", "ping", "*", GWCTL_PROG_OPERAND, NOARGS, gwctl_print_ping, NULL, NULL,
     "check that a daemon answers on its control socket",
     "Sends ping to PROG and prints 'PROG: pong' when it answers.", 0},
    {"help",
     NULL,
     NULL,
     GWCTL_PROG_NONE,
     {{NULL, "COMMAND", NULL, 0, NULL}},
     NULL,
     gwctl_run_help,
     NULL,
     "this list, or the help of one command",
     "Without COMMAND, lists the commands and options; with it, that command's help\n"
     "('gwctl COMMAND --help' is the same).",
     0},
    {"__complete",
     NULL,
     NULL,
     GWCTL_PROG_NONE,
     {{NULL, "WHAT", NULL, GWCTL_ARG_REQUIRED, NULL}},
     NULL,
     gwctl_run_complete,
     NULL,
     "words for shell completion",
     "Prints one word per line: commands, programs (those answering COMMAND when given),\n"
     "services (from the running hbd), levels, states or formats.",
     1},
    {"__keys-mdoc", NULL, NULL, GWCTL_PROG_NONE, NOARGS, NULL, gwctl_run_keys_mdoc, NULL,
     "every program's config keys as mdoc",
     "Prints the key list of gwkit.conf(5), generated from the schema tables ('make man').", 1},
    {NULL, NULL, NULL, GWCTL_PROG_NONE, NOARGS, NULL, NULL, NULL, NULL, NULL, 0},
};

const struct gwctl_cmd *
gwctl_cmd_find(const char *name)
{
    for (const struct gwctl_cmd *c = gwctl_cmds; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* Programs not built yet (schema NULL) are not found: nothing could answer for them. */
const struct gwctl_prog *
gwctl_prog_find(const char *name)
{
    for (const struct gwctl_prog *p = gwctl_progs(); p->name; p++)
        if (p->schema && strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

int
gwctl_daemon_known(const char *name)
{
    const struct gw_prog *p = gw_prog_find(name);

    return p && (p->flags & GW_PROG_DAEMON);
}

int
gwctl_prog_answers(const struct gwctl_cmd *cmd, const char *prog)
{
    size_t n = strlen(prog);
    const char *s;

    if (!cmd->progs)
        return 0;
    if (strcmp(cmd->progs, "*") == 0)
        return 1;
    for (s = cmd->progs; (s = strstr(s, prog)) != NULL; s += n)
        if ((s == cmd->progs || s[-1] == ' ') && (s[n] == ' ' || s[n] == '\0'))
            return 1;
    return 0;
}

/* The first program of cmd->progs, for GWCTL_PROG_IMPLIED. */
static const char *
implied_prog(const struct gwctl_cmd *cmd, char *buf, size_t len)
{
    size_t n = strcspn(cmd->progs, " ");

    if (n >= len)
        n = len - 1;
    memcpy(buf, cmd->progs, n);
    buf[n] = '\0';
    return buf;
}

static int
check_choice(const struct gwctl_cmd *cmd, const struct gwctl_arg *arg, const char *val)
{
    size_t n = strlen(val);
    const char *s = arg->choices;
    char list[256];
    size_t j = 0;

    while (s && *s) {
        size_t w = strcspn(s, "|");
        if (w == n && strncmp(s, val, n) == 0)
            return 0;
        s += w + (s[w] == '|');
    }
    for (s = arg->choices; *s && j < sizeof(list) - 2; s++) {
        if (*s == '|') {
            list[j++] = ',';
            list[j++] = ' ';
        } else {
            list[j++] = *s;
        }
    }
    list[j] = '\0';
    return gwctl_usage_error(cmd, "%s: '%s' is not one of %s", arg->flag ? arg->flag : arg->metavar,
                             val, list);
}

/* The n-th operand spec of cmd, or NULL. */
static const struct gwctl_arg *
operand_spec(const struct gwctl_cmd *cmd, int n)
{
    for (int i = 0; i < GWCTL_MAX_ARGS && cmd->args[i].metavar; i++)
        if (!cmd->args[i].flag && n-- == 0)
            return &cmd->args[i];
    return NULL;
}

static int
take_prog(const struct gwctl *g, const struct gwctl_cmd *cmd, const char *val, const char **prog)
{
    if (!gwctl_prog_find(val)) {
        if (g->socket)
            return 0; /* with -s the program may be left out: val is an operand */
        return gwctl_usage_error(cmd, "unknown program '%s'", val);
    }
    if (!gwctl_prog_answers(cmd, val))
        return gwctl_usage_error(cmd, "%s is not a %s command (it applies to %s)", cmd->name, val,
                                 cmd->progs);
    *prog = val;
    return 1;
}

/* Reads the command line of a request command into prog and args. Returns 0 to go on, 1 after
 * --help, -1 on a usage error (printed). */
static int
parse_request(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv,
              const char **prog, json_t *args)
{
    struct gwctl_argv a = {argc, argv, 0, 0};
    const struct gwctl_arg *arg, *spec;
    const char *val;
    int kind, nops = 0, rc;

    while ((kind = gwctl_next_arg(g, cmd, &a, &arg, &val)) > 0) {
        if (kind == 'h') {
            gwctl_cmd_help(stdout, cmd);
            return 1;
        }
        if (kind == 'o' && cmd->prog_mode == GWCTL_PROG_OPERAND && !*prog && nops == 0) {
            if ((rc = take_prog(g, cmd, val, prog)) != 0) {
                if (rc < 0)
                    return -1;
                continue;
            }
        }
        if (kind == 'o' && (arg = spec = operand_spec(cmd, nops++)) == NULL)
            return gwctl_usage_error(cmd, "unexpected argument '%s'", val);
        if (arg->choices && check_choice(cmd, arg, val) < 0)
            return -1;
        if (arg->flags & GWCTL_ARG_COUNT) {
            /* Checked here: the daemon's own check came back as exit 1 (or 3 when it was down),
             * and hbd took a --limit too large for a long long as no limit at all. */
            char *end;
            long cnt;

            errno = 0;
            cnt = strtol(val, &end, 10);
            if (!isdigit((unsigned char)*val) || *end || errno || cnt < 1 || cnt > GWCTL_MAX_COUNT)
                return gwctl_usage_error(cmd, "%s: '%s' is not a count (1..%ld)", arg->flag, val,
                                         GWCTL_MAX_COUNT);
            json_object_set_new(args, arg->key, json_integer(cnt));
            continue;
        }
        json_object_set_new(args, arg->key, json_string(val));
    }
    if (kind < 0)
        return -1;
    if (cmd->prog_mode == GWCTL_PROG_OPERAND && !*prog && !g->socket)
        return gwctl_usage_error(cmd, "missing PROG (%s)",
                                 strcmp(cmd->progs, "*") == 0 ? "a daemon's name" : cmd->progs);
    for (int i = 0; i < GWCTL_MAX_ARGS && cmd->args[i].metavar; i++) {
        spec = &cmd->args[i];
        if ((spec->flags & GWCTL_ARG_REQUIRED) && !json_object_get(args, spec->key))
            return gwctl_usage_error(cmd, "missing %s", spec->flag ? spec->flag : spec->metavar);
    }
    return 0;
}

/* The daemon said no: its message on stderr (and the error object on stdout for scripts). */
static int
report_failure(const struct gwctl *g, const struct gwctl_cmd *cmd, const char *who, json_t *error)
{
    const char *msg = json_string_value(json_object_get(error, "message"));

    if (!msg || !msg[0])
        msg = json_string_value(json_object_get(error, "code"));
    if (!msg)
        msg = "failed without a reason";
    if (g->format == GWCTL_JSON) {
        json_t *doc = json_pack("{s:O}", "error", error);
        gwctl_print_json(stdout, doc);
        json_decref(doc);
    }
    if (cmd->fail_header)
        fprintf(stderr, "gwctl: %s %s:\n%s\n", who, cmd->fail_header, msg);
    else
        fprintf(stderr, "gwctl: %s: %s\n", who, msg);
    return GWCTL_EXIT_FAILED;
}


int
gwctl_run_services(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv)
{
    json_t *args = json_object(), *line, *item;
    const char *prog = NULL;
    char implied[32], path[GWCTL_PATH_LEN], err[GW_ERR_LEN], one[256] = "";
    enum gw_ctl_status st;
    struct gw_ctl_client *cl;
    struct gwctl_table *t = NULL;
    size_t rows = 0;
    int rc;

    if ((rc = parse_request(g, cmd, argc, argv, &prog, args)) != 0) {
        json_decref(args);
        return rc < 0 ? GWCTL_EXIT_USAGE : GWCTL_EXIT_OK;
    }
    prog = implied_prog(cmd, implied, sizeof(implied));
    /* An unknown SERVICE fails as `forget SERVICE` does; with --state, nothing found may only
     * mean that it is in another state, which stays a success. */
    if (json_string_value(json_object_get(args, HBD_ARG_SERVICE)) &&
        !json_object_get(args, HBD_ARG_STATE))
        snprintf(one, sizeof(one), "%s", json_string_value(json_object_get(args, HBD_ARG_SERVICE)));
    json_object_set_new(args, HBD_ARG_STREAM, json_true());
    gwctl_socket(g, prog, path, sizeof(path));
    if ((cl = gw_ctl_client_open(path, g->timeout_ms, &st, err)) == NULL) {
        json_decref(args);
        return gwctl_unreachable(g, prog, path, st);
    }
    rc = gw_ctl_client_send(cl, cmd->request, args, err);
    json_decref(args);
    if (rc == -1) {
        gw_ctl_client_close(cl);
        return gwctl_unreachable(g, prog, path, GW_CTL_PROTO);
    }
    for (;;) {
        if ((line = gw_ctl_client_next(cl, g->timeout_ms, &st, err)) == NULL) {
            rc = gwctl_unreachable(g, prog, path, st == GW_CTL_OK ? GW_CTL_PROTO : st);
            break;
        }
        if (st == GW_CTL_DENIED) {
            rc = gwctl_unreachable(g, prog, path, st);
            json_decref(line);
            break;
        }
        if (st != GW_CTL_OK) {
            rc = report_failure(g, cmd, prog, json_object_get(line, "error"));
            json_decref(line);
            break;
        }
        if ((item = json_object_get(line, "stream")) != NULL ||
            !json_is_object(json_object_get(line, "result"))) {
            if (!json_is_object(item)) {
                /* A stream item or an end that is not an object: not hbd's listing. */
                rc = gwctl_unreachable(g, prog, path, GW_CTL_PROTO);
                json_decref(line);
                break;
            }
            if (g->format == GWCTL_JSON) {
                json_dumpf(item, stdout, JSON_COMPACT);
                fputc('\n', stdout);
            } else {
                if (!t)
                    t = gwctl_services_table();
                gwctl_services_row(t, item);
            }
            rows++;
            json_decref(line);
            continue;
        }
        json_decref(line);
        if (rows == 0 && one[0]) {
            json_t *e = json_pack("{s:s, s:s++}", "code", "not_found", "message",
                                  "no service named '", one, "'");
            rc = report_failure(g, cmd, prog, e);
            json_decref(e);
            break;
        }
        if (g->format != GWCTL_JSON && rows == 0)
            fprintf(stdout, "no services\n");
        else if (t)
            gwctl_table_print(t, stdout);
        rc = GWCTL_EXIT_OK;
        break;
    }
    gwctl_table_free(t);
    gw_ctl_client_close(cl);
    return rc;
}

int
gwctl_run_request(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv)
{
    json_t *args = json_object(), *res = NULL;
    const char *prog = NULL;
    char implied[32], path[GWCTL_PATH_LEN];
    enum gw_ctl_status st;
    int rc;

    if ((rc = parse_request(g, cmd, argc, argv, &prog, args)) != 0) {
        json_decref(args);
        return rc < 0 ? GWCTL_EXIT_USAGE : GWCTL_EXIT_OK;
    }
    if (cmd->prog_mode == GWCTL_PROG_IMPLIED)
        prog = implied_prog(cmd, implied, sizeof(implied));
    res = gwctl_call(g, prog, cmd->request, args, &st, path, sizeof(path));
    json_decref(args);
    switch (st) {
    case GW_CTL_OK:
        if (g->format == GWCTL_JSON || !cmd->print)
            gwctl_print_json(stdout, res);
        else
            cmd->print(stdout, prog ? prog : "daemon", res);
        rc = GWCTL_EXIT_OK;
        break;
    case GW_CTL_FAILED:
        rc = report_failure(g, cmd, prog ? prog : "daemon", res);
        break;
    default:
        rc = gwctl_unreachable(g, prog, path, st);
        break;
    }
    json_decref(res);
    return rc;
}

/* "services [--state up|late|dead] [SERVICE]", from the table. */
void
gwctl_cmd_synopsis(const struct gwctl_cmd *cmd, char *buf, size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "%s%s", cmd->name,
                                  cmd->prog_mode == GWCTL_PROG_OPERAND ? " PROG" : "");

    for (int i = 0; i < GWCTL_MAX_ARGS && cmd->args[i].metavar && off < len; i++) {
        const struct gwctl_arg *a = &cmd->args[i];
        int opt = !(a->flags & GWCTL_ARG_REQUIRED);
        const char *more = (a->flags & GWCTL_ARG_REPEAT) ? " ..." : "";

        if (a->flags & GWCTL_ARG_FLAG)
            off += (size_t)snprintf(buf + off, len - off, " [%s]", a->flag);
        else if (a->flag)
            off += (size_t)snprintf(buf + off, len - off, " %s%s %s%s%s", opt ? "[" : "", a->flag,
                                    a->choices ? a->choices : a->metavar, more, opt ? "]" : "");
        else
            off += (size_t)snprintf(buf + off, len - off, " %s%s%s%s", opt ? "[" : "", a->metavar,
                                    more, opt ? "]" : "");
    }
}

void
gwctl_cmd_usage(FILE *out, const struct gwctl_cmd *cmd)
{
    char syn[256];

    gwctl_cmd_synopsis(cmd, syn, sizeof(syn));
    fprintf(out, "usage: gwctl %s\n", syn);
}

void
gwctl_cmd_help(FILE *out, const struct gwctl_cmd *cmd)
{
    gwctl_cmd_usage(out, cmd);
    fprintf(out, "\n%s\n", cmd->help);
    if (cmd->progs && strcmp(cmd->progs, "*") != 0)
        fprintf(out, "\nApplies to: %s\n", cmd->progs);
    if (cmd->run != gwctl_run_health)
        fprintf(out, "\nExit status: 0 ok, 1 the command failed or the daemon said no, 2 usage "
                     "error,\n3 daemon not reachable (not running, stale socket, permission "
                     "denied,\ntimeout, bad reply).\n");
    fprintf(out, "Options for every command: -s SOCKET, --run-dir DIR, --format text|json,\n"
                 "--timeout S (see 'gwctl help').\n");
}

int
gwctl_run_help(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv)
{
    struct gwctl_argv a = {argc, argv, 0, 0};
    const struct gwctl_arg *arg;
    const struct gwctl_cmd *which = NULL;
    const char *val;
    int kind;

    while ((kind = gwctl_next_arg(g, cmd, &a, &arg, &val)) > 0) {
        if (kind == 'h') {
            gwctl_cmd_help(stdout, cmd);
            return GWCTL_EXIT_OK;
        }
        if (which) {
            gwctl_usage_error(cmd, "unexpected argument '%s'", val);
            return GWCTL_EXIT_USAGE;
        }
        if ((which = gwctl_cmd_find(val)) == NULL || which->hidden) {
            gwctl_usage_error(NULL, "unknown command '%s'", val);
            return GWCTL_EXIT_USAGE;
        }
    }
    if (kind < 0)
        return GWCTL_EXIT_USAGE;
    if (which)
        gwctl_cmd_help(stdout, which);
    else
        gwctl_usage(stdout);
    return GWCTL_EXIT_OK;
}

static void
complete_services(struct gwctl *g)
{
    enum gw_ctl_status st;
    char path[GWCTL_PATH_LEN];
    json_t *res, *svc;
    size_t i;

    if (g->timeout_ms > 1000)
        g->timeout_ms = 1000;
    res = gwctl_call(g, GW_PROG_HBD, HBD_CMD_SERVICES, NULL, &st, path, sizeof(path));
    if (st == GW_CTL_OK)
        json_array_foreach(json_object_get(res, HBD_F_SERVICES), i, svc)
        {
            const char *name = json_string_value(json_object_get(svc, HBD_F_NAME));
            if (name)
                printf("%s\n", name);
        }
    json_decref(res);
}

int
gwctl_run_complete(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv)
{
    const char *what = argc > 0 ? argv[0] : "";

    (void)cmd;
    if (strcmp(what, "commands") == 0) {
        for (const struct gwctl_cmd *c = gwctl_cmds; c->name; c++)
            if (!c->hidden)
                printf("%s\n", c->name);
    } else if (strcmp(what, "programs") == 0) {
        const struct gwctl_cmd *c = argc > 1 ? gwctl_cmd_find(argv[1]) : NULL;
        for (const struct gwctl_prog *p = gwctl_progs(); p->name; p++)
            if (p->schema && (!c || gwctl_prog_answers(c, p->name)))
                printf("%s\n", p->name);
    } else if (strcmp(what, "services") == 0) {
        complete_services(g);
    } else if (strcmp(what, "levels") == 0) {
        printf("debug\ninfo\nwarning\nerror\n");
    } else if (strcmp(what, "states") == 0) {
        for (const char *s = HBD_STATE_CHOICES; *s; s++)
            putchar(*s == '|' ? '\n' : *s);
        putchar('\n');
    } else if (strcmp(what, "formats") == 0) {
        printf("text\njson\n");
    } else {
        return GWCTL_EXIT_USAGE;
    }
    return GWCTL_EXIT_OK;
}
