/*
 * logd.c -- gwctl's logd commands: `tail` (a stream), `log` (the native client), and the printers
 * of `inputs` and `flush`.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gwctl.h"
#include "logclient.h"
#include "net.h"

/* zstd's own default: most of the ratio of higher levels at a small part of their CPU. */
#define LOG_ZSTD_LEVEL 3

void
gwctl_print_inputs(FILE *out, const char *prog, json_t *result)
{
    static const char *const headers[] = {"INPUT",    "LISTEN",     ">MESSAGES", ">BYTES",
                                          ">DROPPED", ">HELD_BACK", NULL};
    json_t *list = json_object_get(result, "inputs"), *in;
    struct gwctl_table *t = gwctl_table_new(headers);
    size_t i;

    (void)prog;
    json_array_foreach(list, i, in)
    {
        char msgs[32], bytes[32], dropped[32], held[32];
        snprintf(msgs, sizeof(msgs), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(in, "messages")));
        snprintf(bytes, sizeof(bytes), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(in, "bytes")));
        snprintf(dropped, sizeof(dropped), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(in, "dropped")));
        gwctl_fmt_ms((int64_t)(json_number_value(json_object_get(in, "backpressure_s")) * 1000),
                     held, sizeof(held));
        gwctl_table_row(t, gwctl_str(in, "input"), gwctl_str(in, "listen"), msgs, bytes, dropped,
                        held);
    }
    gwctl_table_print(t, out);
    gwctl_table_free(t);
}

void
gwctl_print_flush(FILE *out, const char *prog, json_t *result)
{
    (void)result;
    fprintf(out, "%s: flushed\n", prog);
}

/* One record as a line for people: time host app[procid] severity: message. */
static void
print_record(FILE *out, json_t *rec)
{
    const char *procid = gwctl_str(rec, "procid"), *msg = gwctl_str(rec, "msg");

    if (!json_object_get(rec, "msg"))
        msg = gwctl_str(rec, "raw");
    fprintf(out, "%s %s %s%s%s%s %s: %s\n", gwctl_str(rec, "time"),
            *gwctl_str(rec, "host") ? gwctl_str(rec, "host") : "-",
            *gwctl_str(rec, "app") ? gwctl_str(rec, "app") : "-", *procid ? "[" : "", procid,
            *procid ? "]" : "", *gwctl_str(rec, "severity") ? gwctl_str(rec, "severity") : "-",
            msg);
}

static void
print_one(const struct gwctl *g, json_t *rec)
{
    if (g->format == GWCTL_JSON) {
        char *s = json_dumps(rec, JSON_COMPACT);
        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        print_record(stdout, rec);
    }
    fflush(stdout);
}

int
gwctl_run_tail(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv)
{
    struct gwctl_argv a = {argc, argv, 0, 0};
    const struct gwctl_arg *arg;
    json_t *args = json_object(), *line, *item;
    struct gw_ctl_client *cl;
    enum gw_ctl_status st;
    char path[GWCTL_PATH_LEN], err[GW_ERR_LEN];
    const char *val;
    int kind, follow = 0, rc = GWCTL_EXIT_OK;
    size_t i;

    while ((kind = gwctl_next_arg(g, cmd, &a, &arg, &val)) > 0) {
        if (kind == 'h') {
            gwctl_cmd_help(stdout, cmd);
            json_decref(args);
            return GWCTL_EXIT_OK;
        }
        if (kind == 'o') {
            gwctl_usage_error(cmd, "unexpected argument '%s'", val);
            kind = -1;
            break;
        }
        if (strcmp(arg->key, "follow") == 0)
            follow = 1;
        if (strcmp(arg->key, "lines") == 0 && strspn(val, "0123456789") != strlen(val)) {
            gwctl_usage_error(cmd, "-n: '%s' is not a number", val);
            kind = -1;
            break;
        }
        json_object_set_new(args, arg->key,
                            follow && strcmp(arg->key, "follow") == 0 ? json_true()
                                                                      : json_string(val));
    }
    if (kind < 0) {
        json_decref(args);
        return GWCTL_EXIT_USAGE;
    }
    gwctl_socket(g, "logd", path, sizeof(path));
    if ((cl = gw_ctl_client_open(path, g->timeout_ms, &st, err)) == NULL ||
        gw_ctl_client_send(cl, "tail", args, err) == -1) {
        json_decref(args);
        if (cl)
            gw_ctl_client_close(cl);
        return gwctl_unreachable(g, "logd", path, cl ? GW_CTL_PROTO : st);
    }
    json_decref(args);
    while ((line = gw_ctl_client_next(cl, follow ? -1 : g->timeout_ms, &st, err)) != NULL) {
        json_t *stream = json_object_get(line, "stream"), *result = json_object_get(line, "result");
        if (st != GW_CTL_OK) {
            fprintf(stderr, "gwctl: logd: %s\n",
                    gwctl_str(json_object_get(line, "error"), "message"));
            rc = GWCTL_EXIT_FAILED;
            json_decref(line);
            break;
        }
        if ((stream && !json_is_object(stream)) || (result && !json_is_object(result))) {
            json_decref(line);
            line = NULL;
            st = GW_CTL_PROTO;
            break;
        }
        if (stream)
            print_one(g, stream);
        if (result) {
            json_array_foreach(json_object_get(result, "records"), i, item) print_one(g, item);
            json_decref(line);
            break;
        }
        json_decref(line);
    }
    /* logd ends every tail, --follow too when it stops, with a result line: a connection
     * closed before it (gw_ctl_client_next says OK then) means logd died or is not logd. */
    if (!line)
        rc = gwctl_unreachable(g, "logd", path, st == GW_CTL_OK ? GW_CTL_PROTO : st);
    gw_ctl_client_close(cl);
    return rc;
}

/* logd's native address: --addr, the environment, the config file, the default; a wildcard
 * host means this machine. */
static void
native_addr(const char *given, char *out, size_t len)
{
    const struct gw_conf_section *sections[16];
    const char *v = given ? given : getenv("GWKIT_LOGD_NATIVE_LISTEN");
    struct gw_conf *c = NULL;

    if (!v || !v[0]) {
        gwctl_all_sections(sections, GW_ARRAY_LEN(sections));
        if (access(GWCTL_DEFAULT_CONFIG, R_OK) == 0 && (c = gw_conf_new(sections)) != NULL &&
            gw_conf_load_file(c, GWCTL_DEFAULT_CONFIG) == 0)
            v = gw_conf_str(c, "logd", NULL, "native_listen");
    }
    if (!v || !v[0])
        v = "127.0.0.1:5515";
    if (v[0] == '*' || v[0] == ':')
        snprintf(out, len, "127.0.0.1%s", v + (v[0] == '*'));
    else
        gw_strlcpy(out, v, len);
    gw_conf_free(c);
}

static int
add_line(struct gw_logclient *lc, const char *app, int severity, const char *host, const char *msg,
         size_t len, char *err)
{
    struct gw_logrec rec = {0};

    rec.severity = (int8_t)severity;
    rec.facility = 1; /* user */
    rec.time_ns = gw_wall_ms() * 1000000;
    rec.app = (struct gw_slice){app, strlen(app)};
    rec.host = (struct gw_slice){host, strlen(host)};
    rec.msg = (struct gw_slice){msg, len};
    return gw_logclient_add(lc, &rec, err);
}

static const char *const severity_names[] = {"emerg",   "alert",  "crit", "err",
                                             "warning", "notice", "info", "debug"};

int
gwctl_run_log(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv)
{
    struct gwctl_argv a = {argc, argv, 0, 0};
    const struct gwctl_arg *arg;
    const char *val, *app = "gwctl", *addr_opt = NULL;
    char addr[GW_ADDR_STRLEN], host[256], err[GW_ERR_LEN] = "";
    struct gw_logclient_opts o;
    struct gw_logclient *lc;
    char *msg = NULL;
    size_t mlen = 0;
    int kind, severity = 5, zstd = 0, rc = GWCTL_EXIT_OK;

    while ((kind = gwctl_next_arg(g, cmd, &a, &arg, &val)) > 0) {
        if (kind == 'h') {
            gwctl_cmd_help(stdout, cmd);
            free(msg);
            return GWCTL_EXIT_OK;
        }
        if (kind == 'o') {
            char *m = realloc(msg, mlen + strlen(val) + 2);
            if (!m)
                break;
            msg = m;
            mlen += (size_t)sprintf(msg + mlen, "%s%s", mlen ? " " : "", val);
        } else if (strcmp(arg->key, "app") == 0) {
            app = val;
        } else if (strcmp(arg->key, "addr") == 0) {
            addr_opt = val;
        } else if (strcmp(arg->key, "zstd") == 0) {
            zstd = 1;
        } else {
            for (severity = 0; severity < 8 && strcmp(severity_names[severity], val) != 0;)
                severity++;
            if (severity == 8) {
                gwctl_usage_error(cmd,
                                  "--severity: '%s' is not one of emerg, alert, crit, err, "
                                  "warning, notice, info, debug",
                                  val);
                kind = -1;
                break;
            }
        }
    }
    if (kind < 0) {
        free(msg);
        return GWCTL_EXIT_USAGE;
    }
    native_addr(addr_opt, addr, sizeof(addr));
    if (gethostname(host, sizeof(host)) == -1)
        gw_strlcpy(host, "localhost", sizeof(host));
    gw_logclient_opts_default(&o);
    o.addr = addr;
    o.name = "gwctl";
    o.connect_timeout_ms = g->timeout_ms;
    o.add_timeout_ms = g->timeout_ms;
    o.zstd_level = zstd ? LOG_ZSTD_LEVEL : 0;
    if ((lc = gw_logclient_new(&o, err)) == NULL) {
        fprintf(stderr, "gwctl: log: %s\n", err);
        free(msg);
        return GWCTL_EXIT_USAGE;
    }
    if (msg) {
        if (add_line(lc, app, severity, host, msg, mlen, err) == -1)
            rc = GWCTL_EXIT_FAILED;
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while (rc == GWCTL_EXIT_OK && (n = getline(&line, &cap, stdin)) >= 0) {
            if (n && line[n - 1] == '\n')
                n--;
            if (n && line[n - 1] == '\r')
                n--;
            if (n && add_line(lc, app, severity, host, line, (size_t)n, err) == -1)
                rc = GWCTL_EXIT_FAILED;
        }
        free(line);
    }
    if (rc == GWCTL_EXIT_OK && gw_logclient_flush(lc, g->timeout_ms, err) == -1)
        rc = strstr(err, "refused") && !strstr(err, "Connection refused") ? GWCTL_EXIT_FAILED
                                                                          : GWCTL_EXIT_UNREACHABLE;
    if (rc != GWCTL_EXIT_OK)
        fprintf(stderr, "gwctl: log to logd at %s: %s\n", addr, err);
    gw_logclient_free(lc);
    free(msg);
    return rc;
}
