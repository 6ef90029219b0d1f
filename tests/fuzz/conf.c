/*
 * conf.c -- libFuzzer target for gw_conf_load_string and gw_conf_apply_env, with a small
 * schema holding every value type and a named section.
 *
 * The input is the file text. When its first byte is odd, each of its lines also becomes an
 * environment variable "GWKIT_<line>". Checks: every error is one printable line starting with
 * its source, every key reads back, and the effective config turns into JSON.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct gw_conf_key fz_keys[] = {
    {"i", GW_CONF_INT, "5", -100, 100, NULL, "int", 0, 0, 0},
    {"b", GW_CONF_BOOL, "no", 0, 0, NULL, "bool", 0, 0, 0},
    {"s", GW_CONF_STRING, NULL, 0, 0, NULL, "string", 0, 0, 0},
    {"d", GW_CONF_DURATION, "1s", 0, 86400000, NULL, "duration", 0, 0, 0},
    {"z", GW_CONF_SIZE, "4k", 1, INT64_MAX, NULL, "size", 0, 0, 0},
    {"a", GW_CONF_ADDR, "*:1", 0, 0, NULL, "addr", 0, 0, 0},
    {"e", GW_CONF_ENUM, "x", 0, 0, "x|yy|zzz", "enum", 0, 0, 0},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

static const struct gw_conf_key fz_named_keys[] = {
    {"address", GW_CONF_ADDR, NULL, 0, 0, NULL, "addr", 0, 0, 0},
    {"weight", GW_CONF_INT, "1", 0, 0, NULL, "int", 0, 0, 0},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

static const struct gw_conf_section fz_sec = {"hbd", 0, fz_keys, "all types"};
static const struct gw_conf_section fz_named = {"backend", 1, fz_named_keys, "named"};
static const struct gw_conf_section *const fz_schema[] = {&fz_sec, &fz_named, NULL};

static void
check_errors(const struct gw_conf *c)
{
    const char *e;
    size_t i;

    for (i = 0; i < gw_conf_error_count(c); i++) {
        e = gw_conf_error(c, i);
        if (!e || !*e ||
            (strncmp(e, "fuzz:", 5) != 0 && strncmp(e, "env ", 4) != 0 &&
             strcmp(e, "too many errors") != 0))
            abort();
        for (; *e; e++)
            if (!isprint((unsigned char)*e))
                abort();
    }
}

static void
read_back(const struct gw_conf *c)
{
    const char *names[8];
    const struct gw_conf_key *k;
    size_t n, i;

    for (k = fz_keys; k->name; k++) {
        if (k->type != GW_CONF_STRING && k->type != GW_CONF_ADDR)
            (void)gw_conf_int(c, "hbd", NULL, k->name);
        (void)gw_conf_str(c, "hbd", NULL, k->name);
        (void)gw_conf_origin(c, "hbd", NULL, k->name);
    }
    if (gw_conf_int(c, "hbd", NULL, "i") < -100 || gw_conf_int(c, "hbd", NULL, "i") > 100 ||
        gw_conf_int(c, "hbd", NULL, "e") > 2 || gw_conf_int(c, "hbd", NULL, "z") < 1)
        abort();
    n = gw_conf_instances(c, "backend", names, GW_ARRAY_LEN(names));
    if (n > GW_CONF_MAX_INSTANCES)
        abort();
    for (i = 0; i < n && i < GW_ARRAY_LEN(names); i++) {
        (void)gw_conf_str(c, "backend", names[i], "address");
        (void)gw_conf_int(c, "backend", names[i], "weight");
    }
}

static char **
make_env(char *text)
{
    size_t n = 0, cap = 16;
    char **env = malloc(cap * sizeof *env), **grown, *line, *save = NULL;

    for (line = strtok_r(text, "\n", &save); env && line; line = strtok_r(NULL, "\n", &save)) {
        if (n + 2 > cap) {
            if ((grown = realloc(env, (cap *= 2) * sizeof *env)) == NULL)
                break;
            env = grown;
        }
        if ((env[n] = malloc(strlen(line) + 7)) == NULL)
            break;
        strcpy(env[n], "GWKIT_");
        strcat(env[n++], line);
    }
    if (env)
        env[n] = NULL;
    return env;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_conf *c;
    char *text, *dump, **env, **e;
    json_t *j;

    if ((c = gw_conf_new(fz_schema)) == NULL)
        abort();
    if ((text = malloc(size + 1)) == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    gw_conf_load_string(c, "fuzz", text);
    if (size && (data[0] & 1) && (env = make_env(text)) != NULL) {
        gw_conf_apply_env(c, env);
        for (e = env; *e; e++)
            free(*e);
        free(env);
    }
    check_errors(c);
    read_back(c);
    if ((j = gw_conf_to_json(c)) == NULL)
        abort();
    if ((dump = json_dumps(j, JSON_COMPACT)) == NULL)
        abort();
    free(dump);
    json_decref(j);
    free(text);
    gw_conf_free(c);
    return 0;
}
