/*
 * main.c -- gwctl: options, the run directory, dispatch to the command table.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "gwctl.h"

/* Longest program name, to check that a --run-dir leaves room for "<dir>/<prog>.sock". */

/* Synopses longer than this put their summary on the next line. */
#define LIST_WIDTH 30

void
gwctl_usage(FILE *out)
{
    char syn[256];

    fprintf(out, "usage: gwctl [-s SOCKET | --run-dir DIR] [--format text|json] [--timeout S] "
                 "COMMAND [ARGS]\n\n"
                 "The operator's CLI for the gwkit daemons, over their control sockets\n"
                 "(<run_dir>/<prog>.sock) and, for health-check --url, over HTTP.\n\n"
                 "Commands:\n");
    for (const struct gwctl_cmd *c = gwctl_cmds; c->name; c++) {
        if (c->hidden)
            continue;
        gwctl_cmd_synopsis(c, syn, sizeof(syn));
        if (strlen(syn) > LIST_WIDTH)
            fprintf(out, "  %s\n  %-*s  %s\n", syn, LIST_WIDTH, "", c->summary);
        else
            fprintf(out, "  %-*s  %s\n", LIST_WIDTH, syn, c->summary);
    }
    fprintf(out, "\nPROG is one of:");
    for (const struct gwctl_prog *p = gwctl_progs(); p->name; p++)
        if (p->schema)
            fprintf(out, " %s (%s)", p->name, p->doc);
    fprintf(out, ".\n\n"
                 "Options (before or after the command):\n"
                 "  -s, --socket SOCKET  talk to this control socket\n"
                 "  --run-dir DIR        directory of the control sockets (default: "
                 "$GWKIT_GLOBAL_RUN_DIR,\n"
                 "                       else run_dir in " GWCTL_DEFAULT_CONFIG ", else "
                 "/run/gwkit for root,\n"
                 "                       $XDG_RUNTIME_DIR/gwkit or /tmp/gwkit-UID)\n"
                 "  --format text|json   aligned text for people (default) or JSON for scripts\n"
                 "  --timeout S          wait at most S seconds for a daemon (500ms, 2s...; "
                 "default 5)\n"
                 "  -h, --help           this help; 'gwctl help COMMAND' for one command\n"
                 "  -V, --version        print the version\n\n"
                 "Exit status: 0 ok, 1 the command failed or the daemon said no, 2 usage error,\n"
                 "3 daemon not reachable (not running, stale socket, permission denied, timeout,\n"
                 "bad reply). health-check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
                 "See gwctl(8).\n");
}

int
gwctl_usage_error(const struct gwctl_cmd *cmd, const char *fmt, ...)
{
    va_list ap;

    fputs("gwctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd) {
        gwctl_cmd_usage(stderr, cmd);
        fprintf(stderr, "Try 'gwctl help %s'.\n", cmd->name);
    } else {
        fprintf(stderr, "Try 'gwctl --help'.\n");
    }
    return -1;
}

static int
unknown_command(const char *name)
{
    const struct gwctl_cmd *best = NULL;
    unsigned d, best_d = 3;

    for (const struct gwctl_cmd *c = gwctl_cmds; c->name; c++) {
        if (c->hidden)
            continue;
        if ((d = gw_edit_distance(name, c->name)) < best_d) {
            best_d = d;
            best = c;
        }
    }
    if (best)
        gwctl_usage_error(NULL, "unknown command '%s', did you mean '%s'?", name, best->name);
    else
        gwctl_usage_error(NULL, "unknown command '%s'", name);
    return GWCTL_EXIT_USAGE;
}

/* The daemon with the longest name: its socket path is the longest under a run dir. */
static const char *
longest_prog(void)
{
    const char *longest = "";

    for (const struct gwctl_prog *p = gwctl_progs(); p->name; p++)
        if (strlen(p->name) > strlen(longest))
            longest = p->name;
    return longest;
}

/* Applies one of the options every command takes. 0, or -1 on a bad value (printed). */
static int
global_opt(struct gwctl *g, const struct gwctl_cmd *cmd, const char *name, const char *val)
{
    char err[GW_ERR_LEN], path[GWCTL_PATH_LEN];
    int64_t ms;

    if (strcmp(name, "-s") == 0 || strcmp(name, "--socket") == 0) {
        if (strlen(val) >= GWCTL_PATH_LEN - 1)
            return gwctl_usage_error(cmd, "-s: socket path too long");
        if (g->run_dir_given)
            return gwctl_usage_error(cmd, "-s and --run-dir cannot be used together");
        g->socket = val;
    } else if (strcmp(name, "--run-dir") == 0) {
        if (gw_strlcpy(g->run_dir, val, sizeof(g->run_dir)) >= sizeof(g->run_dir) ||
            !gw_ctl_socket_path(val, longest_prog(), path, sizeof(path)))
            return gwctl_usage_error(cmd, "--run-dir: '%s' is too long for a socket path", val);
        if (g->socket)
            return gwctl_usage_error(cmd, "-s and --run-dir cannot be used together");
        g->run_dir_given = 1;
    } else if (strcmp(name, "--format") == 0) {
        if (strcmp(val, "text") == 0)
            g->format = GWCTL_TEXT;
        else if (strcmp(val, "json") == 0)
            g->format = GWCTL_JSON;
        else
            return gwctl_usage_error(cmd, "--format: '%s' is not one of text, json", val);
    } else {
        if (gw_conf_parse_duration(val, &ms, err) == -1)
            return gwctl_usage_error(cmd, "--timeout: %s", err);
        if (ms <= 0 || ms > 3600 * 1000)
            return gwctl_usage_error(cmd, "--timeout: '%s' is out of range (1ms..1h)", val);
        g->timeout_ms = (int)ms;
    }
    return 0;
}

static const char *const global_opts[] = {"-s",       "--socket",  "--run-dir",
                                          "--format", "--timeout", NULL};

static const struct gwctl_arg *
cmd_opt(const struct gwctl_cmd *cmd, const char *name)
{
    for (int i = 0; cmd && i < GWCTL_MAX_ARGS && cmd->args[i].metavar; i++)
        if (cmd->args[i].flag && strcmp(cmd->args[i].flag, name) == 0)
            return &cmd->args[i];
    return NULL;
}

static int
is_global_opt(const char *name)
{
    for (int i = 0; global_opts[i]; i++)
        if (strcmp(global_opts[i], name) == 0)
            return 1;
    return 0;
}

int
gwctl_next_arg(struct gwctl *g, const struct gwctl_cmd *cmd, struct gwctl_argv *a,
               const struct gwctl_arg **arg, const char **val)
{
    char name[64];
    const char *s, *eq;

    for (;;) {
        if (a->i >= a->argc)
            return 0;
        s = a->argv[a->i++];
        if (a->no_more_options || s[0] != '-' || s[1] == '\0') {
            *val = s;
            return 'o';
        }
        if (strcmp(s, "--") == 0) {
            a->no_more_options = 1;
            continue;
        }
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0)
            return 'h';
        if (!cmd && (strcmp(s, "-V") == 0 || strcmp(s, "--version") == 0))
            return 'v';
        eq = strchr(s, '=');
        gw_strlcpy(name, s,
                   eq && (size_t)(eq - s) < sizeof(name) ? (size_t)(eq - s) + 1 : sizeof(name));
        *arg = cmd_opt(cmd, name);
        if (!*arg && !is_global_opt(name))
            return gwctl_usage_error(cmd, "unknown option '%s'", s);
        if (*arg && ((*arg)->flags & GWCTL_ARG_FLAG)) {
            if (eq)
                return gwctl_usage_error(cmd, "option %s takes no value", name);
            *val = "1";
        } else if (eq) {
            *val = eq + 1;
        } else if (a->i < a->argc) {
            *val = a->argv[a->i++];
        } else {
            return gwctl_usage_error(cmd, "option %s needs a value (%s)", name,
                                     *arg ? (*arg)->metavar : "see gwctl --help");
        }
        if (*arg)
            return 'f';
        if (global_opt(g, cmd, name, *val) == -1)
            return -1;
    }
}

/* --run-dir, else GWKIT_GLOBAL_RUN_DIR, else run_dir from the default config file (as the
 * daemons read it), else the library's default. */
static void
resolve_run_dir(struct gwctl *g)
{
    const struct gw_conf_section *sections[16];
    const char *env = getenv("GWKIT_GLOBAL_RUN_DIR");
    struct gw_conf *c;

    if (g->run_dir_given)
        return;
    if (env && env[0]) {
        gw_strlcpy(g->run_dir, env, sizeof(g->run_dir));
        return;
    }
    gwctl_all_sections(sections, GW_ARRAY_LEN(sections));
    if (access(GWCTL_DEFAULT_CONFIG, R_OK) == 0 && (c = gw_conf_new(sections)) != NULL) {
        gw_conf_load_file(c, GWCTL_DEFAULT_CONFIG);
        gw_strlcpy(g->run_dir, gw_conf_str(c, "global", NULL, "run_dir"), sizeof(g->run_dir));
        gw_conf_free(c);
    }
    if (!g->run_dir[0])
        gw_ctl_default_run_dir(g->run_dir, sizeof(g->run_dir));
}

/* Global options up to the command name. Returns the index of the command in argv, or -(exit
 * code + 1) when there is nothing to run. */
static int
parse_global(struct gwctl *g, int argc, char **argv)
{
    struct gwctl_argv a = {argc - 1, argv + 1, 0, 0};
    const struct gwctl_arg *arg;
    const char *val;

    switch (gwctl_next_arg(g, NULL, &a, &arg, &val)) {
    case 'o':
        return a.i;
    case 'h':
        gwctl_usage(stdout);
        return -1;
    case 'v':
        printf("gwctl %s (gwkit)\n", GW_VERSION);
        return -1;
    case 0:
        gwctl_usage(stderr);
        return -(GWCTL_EXIT_USAGE + 1);
    default:
        return -(GWCTL_EXIT_USAGE + 1);
    }
}

/* A bad option before "health-check" is still a plugin's usage error: UNKNOWN, not 2. */
static int
usage_exit(int rc, int argc, char **argv)
{
    for (int i = 1; rc == GWCTL_EXIT_USAGE && i < argc; i++)
        if (strcmp(argv[i], "health-check") == 0)
            return 3;
    return rc;
}

int
main(int argc, char **argv)
{
    struct gwctl g = {.format = GWCTL_TEXT, .timeout_ms = GWCTL_DEFAULT_TIMEOUT_MS};
    const struct gwctl_cmd *cmd;
    int at, rc;

    if ((at = parse_global(&g, argc, argv)) < 0)
        return usage_exit(-at - 1, argc, argv);
    if ((cmd = gwctl_cmd_find(argv[at])) == NULL)
        return unknown_command(argv[at]);
    resolve_run_dir(&g);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "gwctl: cannot initialise libcurl\n");
        return GWCTL_EXIT_FAILED;
    }
    if (cmd->run)
        rc = cmd->run(&g, cmd, argc - at - 1, argv + at + 1);
    else
        rc = gwctl_run_request(&g, cmd, argc - at - 1, argv + at + 1);
    curl_global_cleanup();
    fflush(stdout);
    return rc;
}
