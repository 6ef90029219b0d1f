/*
 * print.c -- output for people (aligned columns, never coloured, never truncated) and for
 * scripts (one JSON document), plus the text printer of each command's result.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gwctl.h"
#include "wsgwd/wsgwd_ctl.h"
#include "hbd/hbd_ctl.h"

struct gwctl_table {
    size_t ncols, nrows, cap;
    char **headers;
    int *right;
    size_t *width;
    char **cells; /* nrows * ncols */
};

struct gwctl_table *
gwctl_table_new(const char *const *headers)
{
    struct gwctl_table *t = calloc(1, sizeof(*t));

    if (!t)
        abort();
    while (headers[t->ncols])
        t->ncols++;
    t->headers = calloc(t->ncols, sizeof(*t->headers));
    t->right = calloc(t->ncols, sizeof(*t->right));
    t->width = calloc(t->ncols, sizeof(*t->width));
    if (!t->headers || !t->right || !t->width)
        abort();
    for (size_t i = 0; i < t->ncols; i++) {
        t->right[i] = headers[i][0] == '>';
        t->headers[i] = strdup(headers[i] + t->right[i]);
        if (!t->headers[i])
            abort();
        t->width[i] = strlen(t->headers[i]);
    }
    return t;
}

void
gwctl_table_row(struct gwctl_table *t, ...)
{
    va_list ap;

    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = realloc(t->cells, t->cap * t->ncols * sizeof(*t->cells));
        if (!t->cells)
            abort();
    }
    va_start(ap, t);
    for (size_t i = 0; i < t->ncols; i++) {
        const char *s = va_arg(ap, const char *);
        char *c = strdup(s && s[0] ? s : "-");
        if (!c)
            abort();
        t->cells[t->nrows * t->ncols + i] = c;
        t->width[i] = GW_MAX(t->width[i], strlen(c));
    }
    va_end(ap);
    t->nrows++;
}

static void
print_row(const struct gwctl_table *t, FILE *out, char *const *cells)
{
    for (size_t i = 0; i < t->ncols; i++) {
        int w = (int)t->width[i];
        int last = i + 1 == t->ncols;

        if (t->right[i])
            fprintf(out, "%*s", w, cells[i]);
        else
            fprintf(out, "%-*s", last ? 0 : w, cells[i]);
        fputs(last ? "\n" : "  ", out);
    }
}

void
gwctl_table_print(struct gwctl_table *t, FILE *out)
{
    print_row(t, out, t->headers);
    for (size_t r = 0; r < t->nrows; r++)
        print_row(t, out, t->cells + r * t->ncols);
}

void
gwctl_table_free(struct gwctl_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ncols; i++)
        free(t->headers[i]);
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->headers);
    free(t->right);
    free(t->width);
    free(t->cells);
    free(t);
}

void
gwctl_fmt_ms(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms / 1000;

    if (ms < 0)
        snprintf(buf, len, "-");
    else if (ms < 1000)
        snprintf(buf, len, "%" PRId64 "ms", ms);
    else if (ms < 10000 && ms % 1000)
        snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
    else if (s < 60)
        snprintf(buf, len, "%" PRId64 "s", s);
    else if (s < 3600)
        snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, len, "%" PRId64 "d%" PRId64 "h", s / 86400, s % 86400 / 3600);
}

char *
gwctl_value_text(json_t *v)
{
    char *s = NULL;

    switch (json_typeof(v)) {
    case JSON_STRING:
        s = strdup(json_string_value(v));
        break;
    case JSON_INTEGER:
        if (asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
            s = NULL;
        break;
    case JSON_REAL:
        if (asprintf(&s, "%.1f", json_real_value(v)) < 0)
            s = NULL;
        break;
    case JSON_TRUE:
        s = strdup("yes");
        break;
    case JSON_FALSE:
        s = strdup("no");
        break;
    case JSON_NULL:
        s = strdup("-");
        break;
    default:
        s = json_dumps(v, JSON_COMPACT);
        break;
    }
    if (!s)
        abort();
    return s;
}

/* Milliseconds from a JSON number, as text ("-" when absent). */
static void
ms_text(json_t *v, char *buf, size_t len)
{
    if (json_is_number(v))
        gwctl_fmt_ms((int64_t)json_number_value(v), buf, len);
    else
        snprintf(buf, len, "-");
}

static int
skipped(const char *key, const char *const *skip)
{
    for (size_t i = 0; skip && skip[i]; i++)
        if (strcmp(skip[i], key) == 0)
            return 1;
    return 0;
}

static void
collect_fields(struct gwctl_table *t, const char *prefix, json_t *obj, const char *const *skip)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v)
    {
        char name[256];
        char *text;

        if (!prefix && skipped(key, skip))
            continue;
        snprintf(name, sizeof(name), "%s%s%s", prefix ? prefix : "", prefix ? "." : "", key);
        if (json_is_object(v) && json_object_size(v) > 0) {
            collect_fields(t, name, v, skip);
            continue;
        }
        text = gwctl_value_text(v);
        gwctl_table_row(t, name, text);
        free(text);
    }
}

void
gwctl_print_fields(FILE *out, json_t *obj, const char *const *skip)
{
    static const char *const headers[] = {"FIELD", "VALUE", NULL};
    struct gwctl_table *t = gwctl_table_new(headers);

    collect_fields(t, NULL, obj, skip);
    /* Field lists read better without a header line: print the rows only. */
    for (size_t r = 0; r < t->nrows; r++)
        fprintf(out, "  %-*s  %s\n", (int)t->width[0], t->cells[r * 2], t->cells[r * 2 + 1]);
    gwctl_table_free(t);
}

void
gwctl_print_json(FILE *out, json_t *doc)
{
    json_dumpf(doc ? doc : json_null(), out, JSON_INDENT(2) | JSON_ENCODE_ANY);
    fputc('\n', out);
}

/* ---- the printers of the command table ---- */

const char *
gwctl_str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : "";
}

void
gwctl_print_status(FILE *out, const char *prog, json_t *result)
{
    static const char *const skip[] = {"prog", "version", "pid", "started", "uptime_s", NULL};
    json_t *up = json_object_get(result, "uptime_s");
    char uptime[32];

    if (json_string_value(json_object_get(result, "prog")))
        prog = gwctl_str(result, "prog");
    gwctl_fmt_ms(json_is_integer(up) ? json_integer_value(up) * 1000 : -1, uptime, sizeof(uptime));
    fprintf(out, "%s %s, pid %" JSON_INTEGER_FORMAT ", up %s (since %s)\n", prog,
            gwctl_str(result, "version"), json_integer_value(json_object_get(result, "pid")), uptime,
            gwctl_str(result, "started"));
    gwctl_print_fields(out, result, skip);
}

static char *
labels_text(json_t *labels)
{
    const char *key;
    json_t *v;
    size_t len = 0;
    char *s = calloc(1, 1);

    json_object_foreach(labels, key, v)
    {
        const char *val = json_string_value(v) ? json_string_value(v) : "";
        size_t add = strlen(key) + strlen(val) + 2;
        char *n = realloc(s, len + add + 1);
        if (!n)
            break;
        s = n;
        len += (size_t)snprintf(s + len, add + 1, "%s%s=%s", len ? "," : "", key, val);
    }
    return s;
}

static void
service_row(struct gwctl_table *t, json_t *obj, const char *name, const char *min_up,
            const char *addr)
{
    char silent[32], interval[32], beats[32];
    char *labels = labels_text(json_object_get(obj, HBD_F_LABELS));

    ms_text(json_object_get(obj, HBD_F_SILENT_MS), silent, sizeof(silent));
    ms_text(json_object_get(obj, HBD_F_INTERVAL_MS), interval, sizeof(interval));
    snprintf(beats, sizeof(beats), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(obj, HBD_F_HEARTBEATS)));
    gwctl_table_row(t, name, gwctl_str(obj, HBD_F_STATE), silent, interval, beats, min_up,
                    gwctl_str(obj, HBD_F_LAST_SEEN), addr ? addr : gwctl_str(obj, HBD_F_ADDR), labels);
    free(labels);
}

struct gwctl_table *
gwctl_services_table(void)
{
    static const char *const headers[] = {"SERVICE", "STATE",     "SILENT", ">INTERVAL", ">BEATS",
                                          ">MIN_UP", "LAST_SEEN", "ADDR",   "LABELS",    NULL};

    return gwctl_table_new(headers);
}

void
gwctl_services_row(struct gwctl_table *t, json_t *svc)
{
    char min_up[32], name[300];
    json_t *insts = json_object_get(svc, HBD_F_INSTANCES), *only = json_array_get(insts, 0), *in;
    size_t j;

    snprintf(min_up, sizeof(min_up), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(svc, HBD_F_MIN_UP)));
    /* A service whose one instance has no name is that instance: its row says where the beats
     * come from. Otherwise every instance is listed below it, unnamed ones as -. */
    if (json_array_size(insts) == 1 && !gwctl_str(only, HBD_F_NAME)[0]) {
        service_row(t, svc, gwctl_str(svc, HBD_F_NAME), min_up, gwctl_str(only, HBD_F_ADDR));
        return;
    }
    service_row(t, svc, gwctl_str(svc, HBD_F_NAME), min_up, NULL);
    json_array_foreach(insts, j, in)
    {
        snprintf(name, sizeof(name), "  %s", gwctl_str(in, HBD_F_NAME)[0] ? gwctl_str(in, HBD_F_NAME) : "-");
        service_row(t, in, name, "", NULL);
    }
}

void
gwctl_print_services(FILE *out, const char *prog, json_t *result)
{
    json_t *list = json_object_get(result, HBD_F_SERVICES), *svc;
    struct gwctl_table *t;
    size_t i;

    (void)prog;
    if (json_array_size(list) == 0) {
        fprintf(out, "no services\n");
        return;
    }
    t = gwctl_services_table();
    json_array_foreach(list, i, svc) gwctl_services_row(t, svc);
    gwctl_table_print(t, out);
    gwctl_table_free(t);
}

static void
print_ws_clients(FILE *out, json_t *list)
{
    static const char *const headers[] = {">ID",        "ADDR",       "PATH",      "BACKEND",
                                          ">WORKER",    ">CONNECTED", ">MESSAGES", ">BYTES_IN",
                                          ">BYTES_OUT", NULL};
    struct gwctl_table *t = gwctl_table_new(headers);
    json_t *c;
    size_t i;

    json_array_foreach(list, i, c)
    {
        char id[32], worker[32], conn[32], msgs[32], in[32], outb[32];
        snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(c, WSGW_F_ID)));
        snprintf(worker, sizeof(worker), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(c, WSGW_F_WORKER)));
        gwctl_fmt_ms(json_integer_value(json_object_get(c, WSGW_F_CONNECTED_S)) * 1000, conn,
                     sizeof(conn));
        snprintf(msgs, sizeof(msgs), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(c, WSGW_F_MESSAGES)));
        snprintf(in, sizeof(in), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(c, WSGW_F_BYTES_IN)));
        snprintf(outb, sizeof(outb), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(c, WSGW_F_BYTES_OUT)));
        gwctl_table_row(t, id, gwctl_str(c, WSGW_F_ADDR), gwctl_str(c, WSGW_F_PATH), gwctl_str(c, WSGW_F_BACKEND),
                        worker, conn, msgs, in, outb);
    }
    gwctl_table_print(t, out);
    gwctl_table_free(t);
}

void
gwctl_print_clients(FILE *out, const char *prog, json_t *result)
{
    static const char *const headers[] = {">ID",   "ADDR",      ">WORKER",   ">CONNECTED",
                                          ">IDLE", ">MESSAGES", ">BYTES_IN", NULL};
    json_t *list = json_object_get(result, HBD_F_CLIENTS), *c;
    struct gwctl_table *t;
    size_t i;

    if (json_array_size(list) == 0) {
        fprintf(out, "%s: no clients\n", prog);
        return;
    }
    if (json_object_get(json_array_get(list, 0), WSGW_F_PATH)) {
        print_ws_clients(out, list);
        return;
    }
    t = gwctl_table_new(headers);
    json_array_foreach(list, i, c)
    {
        char id[32], worker[32], conn[32], idle[32], msgs[32], bytes[32];
        snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(c, HBD_F_ID)));
        snprintf(worker, sizeof(worker), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(c, HBD_F_WORKER)));
        gwctl_fmt_ms(json_integer_value(json_object_get(c, HBD_F_CONNECTED_S)) * 1000, conn,
                     sizeof(conn));
        gwctl_fmt_ms(json_integer_value(json_object_get(c, HBD_F_IDLE_S)) * 1000, idle,
                     sizeof(idle));
        snprintf(msgs, sizeof(msgs), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(c, HBD_F_MESSAGES)));
        snprintf(bytes, sizeof(bytes), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(c, HBD_F_BYTES_IN)));
        gwctl_table_row(t, id, gwctl_str(c, HBD_F_ADDR), worker, conn, idle, msgs, bytes);
    }
    gwctl_table_print(t, out);
    gwctl_table_free(t);
}

void
gwctl_print_forget(FILE *out, const char *prog, json_t *result)
{
    fprintf(out, "%s: forgot service %s\n", prog, gwctl_str(result, HBD_F_FORGOTTEN));
}

void
gwctl_print_kick(FILE *out, const char *prog, json_t *result)
{
    fprintf(out, "%s: client %" JSON_INTEGER_FORMAT " closed with %" JSON_INTEGER_FORMAT "\n", prog,
            json_integer_value(json_object_get(result, WSGW_F_ID)),
            json_integer_value(json_object_get(result, WSGW_F_CODE)));
}

void
gwctl_print_backends(FILE *out, const char *prog, json_t *result)
{
    static const char *const headers[] = {"NAME",   "ADDRESS",  "PROTOCOL",  "STATE",
                                          ">LINKS", ">CLIENTS", ">FAILURES", NULL};
    json_t *list = json_object_get(result, WSGW_F_BACKENDS), *b;
    struct gwctl_table *t;
    size_t i;

    if (json_array_size(list) == 0) {
        fprintf(out, "%s: no backends\n", prog);
        return;
    }
    t = gwctl_table_new(headers);
    json_array_foreach(list, i, b)
    {
        char links[48], clients[32], fails[32];
        if (strcmp(gwctl_str(b, WSGW_F_PROTOCOL), "raw") == 0)
            snprintf(links, sizeof(links), "-");
        else
            snprintf(links, sizeof(links), "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
                     json_integer_value(json_object_get(b, WSGW_F_LINKS)),
                     json_integer_value(json_object_get(b, WSGW_F_WORKERS)));
        snprintf(clients, sizeof(clients), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(b, WSGW_F_CLIENTS)));
        snprintf(fails, sizeof(fails), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(b, WSGW_F_CONNECT_FAILURES)));
        gwctl_table_row(t, gwctl_str(b, WSGW_F_NAME), gwctl_str(b, WSGW_F_ADDRESS), gwctl_str(b, WSGW_F_PROTOCOL),
                        gwctl_str(b, WSGW_F_STATE), links, clients, fails);
    }
    gwctl_table_print(t, out);
    gwctl_table_free(t);
}

void
gwctl_print_reload(FILE *out, const char *prog, json_t *result)
{
    (void)result;
    fprintf(out, "%s: configuration reloaded\n", prog);
}

void
gwctl_print_drain(FILE *out, const char *prog, json_t *result)
{
    (void)result;
    fprintf(out, "%s: draining; it exits once its in-flight work is done\n", prog);
}

void
gwctl_print_log_level(FILE *out, const char *prog, json_t *result)
{
    fprintf(out, "%s: log level %s\n", prog, gwctl_str(result, "level"));
}

void
gwctl_print_shutdown(FILE *out, const char *prog, json_t *result)
{
    (void)result;
    fprintf(out, "%s: stopping\n", prog);
}

void
gwctl_print_config(FILE *out, const char *prog, json_t *result)
{
    json_t *text = json_object_get(result, "text");

    /* People read the config's own units (60s, 64k); scripts take the numbers from JSON. */
    fprintf(out, "%s: configuration from %s\n", prog, gwctl_str(result, "file"));
    gwctl_print_fields(out, text ? text : json_object_get(result, "config"), NULL);
}

void
gwctl_print_metrics(FILE *out, const char *prog, json_t *result)
{
    const char *text = gwctl_str(result, "text");
    size_t len = strlen(text);

    (void)prog;
    fputs(text, out);
    if (len && text[len - 1] != '\n')
        fputc('\n', out);
}

void
gwctl_print_ping(FILE *out, const char *prog, json_t *result)
{
    (void)result;
    fprintf(out, "%s: pong\n", prog);
}
