/*
 * status.c -- `gwctl status [PROG|all]`: one daemon, or every daemon whose socket exists
 * and the list of those that are not running.
 */
#include <string.h>

#include "gwctl.h"

static int
status_one(struct gwctl *g, const struct gwctl_cmd *cmd, const char *prog)
{
    enum gw_ctl_status st;
    char path[GWCTL_PATH_LEN];
    json_t *res = gwctl_call(g, prog, "status", NULL, &st, path, sizeof(path));
    int rc = GWCTL_EXIT_OK;

    (void)cmd;
    if (st == GW_CTL_OK) {
        if (g->format == GWCTL_JSON)
            gwctl_print_json(stdout, res);
        else
            gwctl_print_status(stdout, prog ? prog : "daemon", res);
    } else if (st == GW_CTL_FAILED) {
        fprintf(stderr, "gwctl: %s: %s\n", prog ? prog : "daemon",
                json_string_value(json_object_get(res, "message"))
                    ? json_string_value(json_object_get(res, "message"))
                    : "status failed");
        rc = GWCTL_EXIT_FAILED;
    } else {
        rc = gwctl_unreachable(g, prog, path, st);
    }
    json_decref(res);
    return rc;
}

/* One entry of `status all`: the status with "running": true, or why it is missing. */
static json_t *
status_entry(struct gwctl *g, const char *prog, int *answered, int *failed)
{
    enum gw_ctl_status st = GW_CTL_NOSOCK;
    char path[GWCTL_PATH_LEN], why[GWCTL_PATH_LEN + 128];
    json_t *res = NULL;

    if (gwctl_socket_exists(g, prog))
        res = gwctl_call(g, prog, "status", NULL, &st, path, sizeof(path));
    else
        gwctl_socket(g, prog, path, sizeof(path));
    if (st == GW_CTL_OK && json_is_object(res)) {
        json_object_set_new(res, "running", json_true());
        (*answered)++;
        return res;
    }
    if (st == GW_CTL_OK || st == GW_CTL_FAILED)
        st = GW_CTL_PROTO;
    json_decref(res);
    gwctl_unreachable_reason(g, path, st, why, sizeof(why));
    if (st != GW_CTL_NOSOCK)
        (*failed)++;
    return json_pack("{s:b, s:s, s:s}", "running", 0, "socket", path, "reason", why);
}

static int
status_all(struct gwctl *g)
{
    json_t *doc = json_object(), *e;
    const char *prog;
    int answered = 0, failed = 0, blocks = 0, absent = 0;

    for (const struct gwctl_prog *p = gwctl_progs(); p->name; p++)
        if (p->schema)
            json_object_set_new(doc, p->name, status_entry(g, p->name, &answered, &failed));
    if (g->format == GWCTL_JSON) {
        gwctl_print_json(stdout, doc);
    } else {
        json_object_foreach(doc, prog, e)
        {
            if (json_is_true(json_object_get(e, "running"))) {
                json_t *copy = json_copy(e);
                json_object_del(copy, "running");
                printf("%s", blocks++ ? "\n" : "");
                gwctl_print_status(stdout, prog, copy);
                json_decref(copy);
            }
        }
        json_object_foreach(doc, prog, e)
        {
            if (!json_is_true(json_object_get(e, "running")))
                printf("%s%s: %s\n", blocks && !absent++ ? "\n" : "", prog,
                       json_string_value(json_object_get(e, "reason")));
        }
    }
    json_decref(doc);
    if (!answered && !failed)
        fprintf(stderr,
                "gwctl: no gwkit daemon is running (no socket in %s); start one or pass "
                "--run-dir\n",
                g->run_dir);
    return failed || !answered ? GWCTL_EXIT_UNREACHABLE : GWCTL_EXIT_OK;
}

int
gwctl_run_status(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv)
{
    struct gwctl_argv a = {argc, argv, 0, 0};
    const struct gwctl_arg *arg;
    const char *val, *which = NULL;
    int kind;

    while ((kind = gwctl_next_arg(g, cmd, &a, &arg, &val)) > 0) {
        if (kind == 'h') {
            gwctl_cmd_help(stdout, cmd);
            return GWCTL_EXIT_OK;
        }
        if (which)
            return gwctl_usage_error(cmd, "unexpected argument '%s'", val), GWCTL_EXIT_USAGE;
        if (strcmp(val, "all") != 0 && !gwctl_daemon_known(val))
            return gwctl_usage_error(cmd, "unknown program '%s'", val), GWCTL_EXIT_USAGE;
        which = val;
    }
    if (kind < 0)
        return GWCTL_EXIT_USAGE;
    if (which && strcmp(which, "all") != 0)
        return status_one(g, cmd, which);
    if (g->socket)
        return status_one(g, cmd, NULL);
    return status_all(g);
}
