/*
 * gwctl.h -- the operator's CLI: the command and program tables and what the files share.
 *
 * A command is one entry of gwctl_cmds[] (commands.c): its name, the control request it sends,
 * the programs that answer it, its options and operands, a printer for text output and its
 * --help text. A daemon's new command is one more entry. The daemons are lib/progs.h's; a
 * daemon's schema, once built, is one more entry of the schema table in commands.c. The names of
 * a daemon's commands, arguments and reply fields come from its header (hbd/hbd_ctl.h).
 */
#ifndef GWCTL_H
#define GWCTL_H

#include <stdio.h>

#include <jansson.h>

#include "conf.h"
#include "ctl.h"

/* Exit codes (health-check follows the Nagios plugin convention instead). */
#define GWCTL_EXIT_OK 0
#define GWCTL_EXIT_FAILED 1 /* the command failed or the daemon said no */
#define GWCTL_EXIT_USAGE 2  /* bad command line */
#define GWCTL_EXIT_UNREACHABLE                                                                     \
    3 /* daemon not running, stale socket, denied, timeout, bad reply                              \
       */

#define GWCTL_DEFAULT_CONFIG "/etc/gwkit/gwkit.conf"
#define GWCTL_DEFAULT_TIMEOUT_MS 5000
#define GWCTL_MAX_ARGS 5
#define GWCTL_PATH_LEN 256
#define GWCTL_MAX_PROGS 16

enum gwctl_format { GWCTL_TEXT, GWCTL_JSON };

/* A gwkit daemon gwctl knows (one per daemon of lib/progs.h). */
struct gwctl_prog {
    const char *name;                            /* "hbd"; the socket is <run_dir>/<name>.sock */
    const struct gw_conf_section *const *schema; /* its config sections; NULL: not built yet */
    const char *doc;                             /* one line */
    /* The program's checks beyond the schema (as its -n runs them), or NULL. */
    int (*check)(const struct gw_conf *c, char *err);
};

/* The run-time options every command shares. */
struct gwctl {
    const char *socket; /* -s: talk to this socket instead of <run_dir>/<prog>.sock */
    char run_dir[GWCTL_PATH_LEN];
    int run_dir_given;
    enum gwctl_format format;
    int timeout_ms;
    long health_warning, health_critical; /* health-check --warning/--critical (default 1) */
};

/* One option or operand of a command. */
#define GWCTL_ARG_REQUIRED 0x1
#define GWCTL_ARG_REPEAT 0x2
#define GWCTL_ARG_FLAG 0x4 /* an option without a value (--follow): its value reads "1" */
#define GWCTL_ARG_COUNT 0x8 /* a count, 1..GWCTL_MAX_COUNT, checked here and sent as a number */
#define GWCTL_MAX_COUNT 1000000000L

struct gwctl_arg {
    const char *flag;    /* "--state", or NULL for an operand */
    const char *metavar; /* "STATE"; NULL ends the list */
    const char *key;     /* key in the request's args; NULL: the command's run() reads it */
    unsigned flags;      /* GWCTL_ARG_* */
    const char *choices; /* "up|late|dead", checked before sending; NULL: any value */
};

/* How a command picks its program. */
enum gwctl_prog_mode {
    GWCTL_PROG_NONE,    /* local (validate, help) or custom (status, health-check) */
    GWCTL_PROG_IMPLIED, /* the one program of cmd->progs (services -> hbd) */
    GWCTL_PROG_OPERAND, /* the first operand names it (reload PROG) */
};

struct gwctl_cmd;

/* Text printer for a command's result (the reply's "result" object). */
typedef void (*gwctl_print_fn)(FILE *out, const char *prog, json_t *result);

/* A command that does more than one request; returns the exit code. */
typedef int (*gwctl_run_fn)(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv);

struct gwctl_cmd {
    const char *name;    /* "services" */
    const char *request; /* control command sent, or NULL when run() does the work */
    const char *progs;   /* programs that answer it, space-separated; "*" for every one */
    enum gwctl_prog_mode prog_mode;
    struct gwctl_arg args[GWCTL_MAX_ARGS];
    gwctl_print_fn print;    /* text output; NULL: the result as JSON */
    gwctl_run_fn run;        /* NULL: the generic request/print */
    const char *fail_header; /* for multi-line errors (reload): said before the lines */
    const char *summary;     /* one line for `gwctl --help` */
    const char *help;        /* the rest of `gwctl help COMMAND` */
    int hidden;              /* not listed (__complete) */
};

/* commands.c */
/* Every daemon, in lib/progs.h's order; the entry after the last has a NULL name. */
const struct gwctl_prog *gwctl_progs(void);
extern const struct gwctl_cmd gwctl_cmds[];
const struct gwctl_cmd *gwctl_cmd_find(const char *name);
const struct gwctl_prog *gwctl_prog_find(const char *name);
/* 1 for any gwkit daemon, built into this gwctl or not (status and health-check then say it is
 * not running). */
int gwctl_daemon_known(const char *name);
int gwctl_prog_answers(const struct gwctl_cmd *cmd, const char *prog);
int gwctl_run_request(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv);
int gwctl_run_help(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv);
int gwctl_run_complete(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv);
void gwctl_cmd_synopsis(const struct gwctl_cmd *cmd, char *buf, size_t len);
void gwctl_cmd_usage(FILE *out, const struct gwctl_cmd *cmd);
void gwctl_cmd_help(FILE *out, const struct gwctl_cmd *cmd);

/* main.c */
void gwctl_usage(FILE *out);
/* Walks a command's arguments one at a time. Global options met on the way are applied to g.
 * Returns 'o' for an operand (*val), 'f' for an option of cmd->args (*arg, *val), 'h' for
 * --help, 0 at the end, -1 on a usage error (already printed). */
struct gwctl_argv {
    int argc;
    char **argv;
    int i;
    int no_more_options;
};
int gwctl_next_arg(struct gwctl *g, const struct gwctl_cmd *cmd, struct gwctl_argv *a,
                   const struct gwctl_arg **arg, const char **val);
int gwctl_usage_error(const struct gwctl_cmd *cmd, const char *fmt, ...) GW_PRINTF(2, 3);

/* ctl.c: calling a daemon */
/* Fills path with the socket of prog (-s wins over <run_dir>/<prog>.sock). */
const char *gwctl_socket(const struct gwctl *g, const char *prog, char *path, size_t len);
/* One request. On GW_CTL_OK returns the result; on GW_CTL_FAILED the error object; else NULL.
 * A permission_denied error reply counts as GW_CTL_DENIED. */
json_t *gwctl_call(const struct gwctl *g, const char *prog, const char *request, json_t *args,
                   enum gw_ctl_status *st, char *path, size_t pathlen);
/* The one line explaining why a daemon could not be reached (no "gwctl: " prefix). */
void gwctl_unreachable_msg(const struct gwctl *g, const char *prog, const char *path,
                           enum gw_ctl_status st, char *msg, size_t len);
/* The reason alone ("not running (no socket PATH)"), as health-check prints it. */
void gwctl_unreachable_reason(const struct gwctl *g, const char *path, enum gw_ctl_status st,
                              char *buf, size_t len);
/* Prints "gwctl: <why>" to stderr and returns GWCTL_EXIT_UNREACHABLE. */
int gwctl_unreachable(const struct gwctl *g, const char *prog, const char *path,
                      enum gw_ctl_status st);
/* 1 when the socket file of prog exists (under -s: the given one). */
int gwctl_socket_exists(const struct gwctl *g, const char *prog);

/* print.c */
struct gwctl_table;
/* Columns named by the NULL-terminated headers; a header starting with '>' is right-aligned
 * (the '>' is not printed). */
struct gwctl_table *gwctl_table_new(const char *const *headers);
/* Adds a row of exactly as many cells as there are columns; NULL cells print as "-". */
void gwctl_table_row(struct gwctl_table *t, ...);
void gwctl_table_print(struct gwctl_table *t, FILE *out);
void gwctl_table_free(struct gwctl_table *t);
/* Aligned "key  value" lines of an object, nested objects flattened to a.b, skipping the
 * NULL-terminated keys in skip. */
void gwctl_print_fields(FILE *out, json_t *obj, const char *const *skip);
/* A JSON value as text: strings bare, true/false as yes/no, reals with one decimal. */
char *gwctl_value_text(json_t *v);
/* Milliseconds or seconds as "850ms", "12s", "3m20s", "2h05m", "3d4h". */
void gwctl_fmt_ms(int64_t ms, char *buf, size_t len);
void gwctl_print_json(FILE *out, json_t *doc);
void gwctl_print_status(FILE *out, const char *prog, json_t *result);
/* The string at key of an object, "" when missing or not a string: for printing. */
const char *gwctl_str(json_t *obj, const char *key);
void gwctl_print_services(FILE *out, const char *prog, json_t *result);
/* The services table, one service (and its named instances) at a time, for a stream. */
struct gwctl_table *gwctl_services_table(void);
void gwctl_services_row(struct gwctl_table *t, json_t *svc);
/* services: streamed from hbd (JSON lines with --format json, else the table). */
int gwctl_run_services(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv);
void gwctl_print_clients(FILE *out, const char *prog, json_t *result);
void gwctl_print_forget(FILE *out, const char *prog, json_t *result);
void gwctl_print_kick(FILE *out, const char *prog, json_t *result);
void gwctl_print_backends(FILE *out, const char *prog, json_t *result);
void gwctl_print_reload(FILE *out, const char *prog, json_t *result);
void gwctl_print_drain(FILE *out, const char *prog, json_t *result);
void gwctl_print_log_level(FILE *out, const char *prog, json_t *result);
void gwctl_print_shutdown(FILE *out, const char *prog, json_t *result);
void gwctl_print_config(FILE *out, const char *prog, json_t *result);
void gwctl_print_metrics(FILE *out, const char *prog, json_t *result);
void gwctl_print_ping(FILE *out, const char *prog, json_t *result);

/* status.c */
int gwctl_run_status(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv);

/* logd.c: logd's commands that stream or send */
int gwctl_run_tail(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv);
int gwctl_run_log(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv);
void gwctl_print_inputs(FILE *out, const char *prog, json_t *result);
void gwctl_print_flush(FILE *out, const char *prog, json_t *result);

/* health.c */
int gwctl_run_health(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv);

/* validate.c */
int gwctl_run_validate(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv);
int gwctl_run_keys_mdoc(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv);
/* Every section of every known program's schema, each once, NULL-terminated, in out (max n). */
size_t gwctl_all_sections(const struct gw_conf_section **out, size_t n);

#endif
