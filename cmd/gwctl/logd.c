/*
 * logd.c -- gwctl's logd commands: `tail` (a stream), and the printers of `inputs` and `flush`.
 */
#include <stdlib.h>
#include <string.h>

#include "gwctl.h"

static const char *
str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}

void
gwctl_print_inputs(FILE *out, const char *prog, json_t *result)
{
    static const char *const headers[] = {"INPUT",    "LISTEN",        ">MESSAGES",
                                          ">BYTES",   ">DROPPED",      ">HELD_BACK",
                                          NULL};
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
        gwctl_table_row(t, str(in, "input"), str(in, "listen"), msgs, bytes, dropped, held);
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
    const char *procid = str(rec, "procid"), *msg = str(rec, "msg");

    if (!json_object_get(rec, "msg"))
        msg = str(rec, "raw");
    fprintf(out, "%s %s %s%s%s%s %s: %s\n", str(rec, "time"),
            *str(rec, "host") ? str(rec, "host") : "-", *str(rec, "app") ? str(rec, "app") : "-",
            *procid ? "[" : "", procid, *procid ? "]" : "",
            *str(rec, "severity") ? str(rec, "severity") : "-", msg);
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
        json_object_set_new(args, arg->key, follow && strcmp(arg->key, "follow") == 0
                                                ? json_true()
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
                    str(json_object_get(line, "error"), "message"));
            rc = GWCTL_EXIT_FAILED;
            json_decref(line);
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
    if (!line && st != GW_CTL_OK)
        rc = gwctl_unreachable(g, "logd", path, st);
    gw_ctl_client_close(cl);
    return rc;
}
