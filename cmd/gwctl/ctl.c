/*
 * ctl.c -- calling a daemon over its control socket, and saying clearly why that failed.
 */
#include <string.h>
#include <sys/stat.h>

#include "gwctl.h"

const char *
gwctl_socket(const struct gwctl *g, const char *prog, char *path, size_t len)
{
    if (g->socket || !prog)
        gw_strlcpy(path, g->socket ? g->socket : "", len);
    else if (!gw_ctl_socket_path(g->run_dir, prog, path, len))
        gw_strlcpy(path, g->run_dir, len); /* cannot happen: main checked the length */
    return path;
}

int
gwctl_socket_exists(const struct gwctl *g, const char *prog)
{
    char path[GWCTL_PATH_LEN];
    struct stat sb;

    return stat(gwctl_socket(g, prog, path, sizeof(path)), &sb) == 0;
}

json_t *
gwctl_call(const struct gwctl *g, const char *prog, const char *request, json_t *args,
           enum gw_ctl_status *st, char *path, size_t pathlen)
{
    char err[GW_ERR_LEN];
    const char *code;
    json_t *res;

    gwctl_socket(g, prog, path, pathlen);
    res = gw_ctl_call(path, request, args, g->timeout_ms, st, err);
    /* Every gwkit command answers an object: anything else (a result that is an array or a
     * string, from some other JSON-lines service behind -s) is a bad reply, exit 3, not a
     * success printed as empty fields. */
    if (*st == GW_CTL_OK && !json_is_object(res)) {
        json_decref(res);
        *st = GW_CTL_PROTO;
        return NULL;
    }
    if (*st == GW_CTL_FAILED) {
        code = json_string_value(json_object_get(res, "code"));
        if (code && strcmp(code, "permission_denied") == 0) {
            json_decref(res);
            *st = GW_CTL_DENIED;
            return NULL;
        }
    }
    return res;
}

/* The reason alone, as health-check prints it after "hbd CRITICAL - ". */
static void
reason(const struct gwctl *g, const char *path, enum gw_ctl_status st, char *buf, size_t len)
{
    char t[32];

    switch (st) {
    case GW_CTL_NOSOCK:
        snprintf(buf, len, "not running (no socket %s)", path);
        break;
    case GW_CTL_REFUSED:
        snprintf(buf, len, "not running (stale socket %s: connection refused)", path);
        break;
    case GW_CTL_DENIED:
        snprintf(buf, len, "permission denied on %s", path);
        break;
    case GW_CTL_TIMEOUT:
        gwctl_fmt_ms(g->timeout_ms, t, sizeof(t));
        snprintf(buf, len, "no answer within %s on %s", t, path);
        break;
    default:
        snprintf(buf, len, "bad reply or connection closed on %s", path);
        break;
    }
}

/* What to do about it. */
static const char *
hint(const struct gwctl *g, enum gw_ctl_status st)
{
    switch (st) {
    case GW_CTL_NOSOCK:
        return g->socket ? "check the -s path" : "start it or pass --run-dir";
    case GW_CTL_REFUSED:
        return "start it (it replaces the stale socket)";
    case GW_CTL_DENIED:
        return "run gwctl as root, as the daemon's user or as a member of its ctl_group";
    case GW_CTL_TIMEOUT:
        return "it may be overloaded or stuck; retry with a longer --timeout";
    default:
        return "is it a gwkit control socket? see the daemon's log";
    }
}

void
gwctl_unreachable_msg(const struct gwctl *g, const char *prog, const char *path,
                      enum gw_ctl_status st, char *msg, size_t len)
{
    char why[GWCTL_PATH_LEN + 128], t[32];
    const char *who = prog ? prog : "the daemon";

    reason(g, path, st, why, sizeof(why));
    switch (st) {
    case GW_CTL_NOSOCK:
    case GW_CTL_REFUSED:
        snprintf(msg, len, "%s is %s; %s", who, why, hint(g, st));
        break;
    case GW_CTL_DENIED:
        snprintf(msg, len, "%s: %s; %s", who, why, hint(g, st));
        break;
    case GW_CTL_TIMEOUT:
        gwctl_fmt_ms(g->timeout_ms, t, sizeof(t));
        snprintf(msg, len, "%s did not answer within %s on %s; %s", who, t, path, hint(g, st));
        break;
    default:
        snprintf(msg, len, "%s: %s; %s", who, why, hint(g, st));
        break;
    }
}

void
gwctl_unreachable_reason(const struct gwctl *g, const char *path, enum gw_ctl_status st, char *buf,
                         size_t len)
{
    reason(g, path, st, buf, len);
}

int
gwctl_unreachable(const struct gwctl *g, const char *prog, const char *path, enum gw_ctl_status st)
{
    char msg[2 * GWCTL_PATH_LEN + 256];

    gwctl_unreachable_msg(g, prog, path, st, msg, sizeof(msg));
    fprintf(stderr, "gwctl: %s\n", msg);
    return GWCTL_EXIT_UNREACHABLE;
}
