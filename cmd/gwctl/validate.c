/*
 * validate.c -- `gwctl validate [FILE]`: a gwkit.conf checked against the schema of every
 * program, with the same code the daemons' --check runs.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "gwctl.h"

size_t
gwctl_all_sections(const struct gw_conf_section **out, size_t n)
{
    size_t len = 0;

    for (const struct gwctl_prog *p = gwctl_progs(); p->name; p++) {
        for (size_t i = 0; p->schema && p->schema[i]; i++) {
            size_t j = 0;
            while (j < len && out[j] != p->schema[i])
                j++;
            if (j == len && len + 1 < n)
                out[len++] = p->schema[i];
        }
    }
    out[len] = NULL;
    return len;
}

int
gwctl_run_validate(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv)
{
    struct gwctl_argv a = {argc, argv, 0, 0};
    const struct gwctl_arg *arg;
    const struct gw_conf_section *sections[32];
    const char *val, *file = NULL;
    struct gw_conf *c;
    json_t *errors;
    size_t n;
    int kind;

    while ((kind = gwctl_next_arg(g, cmd, &a, &arg, &val)) > 0) {
        if (kind == 'h') {
            gwctl_cmd_help(stdout, cmd);
            return GWCTL_EXIT_OK;
        }
        if (file) {
            gwctl_usage_error(cmd, "unexpected argument '%s'", val);
            return GWCTL_EXIT_USAGE;
        }
        file = val;
    }
    if (kind < 0)
        return GWCTL_EXIT_USAGE;
    /* With no file named and none at the default path, the daemons run on the built-in
     * defaults, which is a valid configuration: say so. */
    if (!file && access(GWCTL_DEFAULT_CONFIG, F_OK) == -1 && errno == ENOENT) {
        if (g->format == GWCTL_JSON) {
            json_t *doc = json_pack("{s:n, s:b, s:[], s:s}", "file", "valid", 1, "errors",
                                    "note", "no " GWCTL_DEFAULT_CONFIG ": built-in defaults apply");
            gwctl_print_json(stdout, doc);
            json_decref(doc);
        } else {
            printf("%s does not exist: the built-in defaults apply; configuration OK\n",
                   GWCTL_DEFAULT_CONFIG);
        }
        return GWCTL_EXIT_OK;
    }
    if (!file)
        file = GWCTL_DEFAULT_CONFIG;
    gwctl_all_sections(sections, GW_ARRAY_LEN(sections));
    if ((c = gw_conf_new(sections)) == NULL) {
        fprintf(stderr, "gwctl: out of memory\n");
        return GWCTL_EXIT_FAILED;
    }
    gw_conf_load_file(c, file);
    n = gw_conf_error_count(c);
    errors = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(errors, json_string(gw_conf_error(c, i)));
        if (g->format == GWCTL_TEXT)
            fprintf(stderr, "%s\n", gw_conf_error(c, i));
    }
    /* The programs' own checks, as their -n runs them, once the schema is satisfied. */
    for (const struct gwctl_prog *p = gwctl_progs(); n == 0 && p->name; p++) {
        char err[GW_ERR_LEN];
        if (!p->check || p->check(c, err) == 0)
            continue;
        json_array_append_new(errors, json_string(err));
        if (g->format == GWCTL_TEXT)
            fprintf(stderr, "%s\n", err);
        n = 1;
    }
    if (g->format == GWCTL_JSON) {
        json_t *doc = json_pack("{s:s, s:b, s:o}", "file", file, "valid", n == 0, "errors", errors);
        gwctl_print_json(stdout, doc);
        json_decref(doc);
    } else {
        json_decref(errors);
        if (n == 0)
            printf("%s: configuration OK\n", file);
        else
            fprintf(stderr, "%s: configuration has %zu error%s\n", file, n, n == 1 ? "" : "s");
    }
    gw_conf_free(c);
    return n ? GWCTL_EXIT_FAILED : GWCTL_EXIT_OK;
}

int
gwctl_run_keys_mdoc(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv)
{
    const struct gw_conf_section *sections[32];

    (void)g;
    (void)cmd;
    (void)argc;
    (void)argv;
    gwctl_all_sections(sections, GW_ARRAY_LEN(sections));
    gw_conf_schema_mdoc(stdout, sections);
    return GWCTL_EXIT_OK;
}
