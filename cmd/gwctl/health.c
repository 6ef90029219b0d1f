/*
 * health.c -- `gwctl health-check`: a Nagios plugin over the control sockets, or over HTTP
 * /readyz (libcurl) for daemons on other hosts.
 *
 * Exit status is the worst check's: CRITICAL (2) > WARNING (1) > UNKNOWN (3) > OK (0), as
 * the monitoring-plugins' max_state_alt() ranks them.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "gwctl.h"

#define MAX_BODY_BYTES (64 * 1024)
#define MAX_CHECKS 64

enum nagios { N_OK = 0, N_WARNING = 1, N_CRITICAL = 2, N_UNKNOWN = 3 };

static const char *const state_upper[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
static const char *const state_lower[] = {"ok", "warning", "critical", "unknown"};

struct check {
    char label[GWCTL_PATH_LEN];
    enum nagios state;
    char summary[1024];
    json_t *perfdata; /* object of numbers, owned */
    char perf_text[1024];
};

static int
rank(enum nagios s)
{
    static const int r[] = {0, 2, 3, 1};
    return r[s];
}

static void set(struct check *c, enum nagios state, const char *fmt, ...) GW_PRINTF(3, 4);

static void
set(struct check *c, enum nagios state, const char *fmt, ...)
{
    va_list ap;

    c->state = state;
    va_start(ap, fmt);
    vsnprintf(c->summary, sizeof(c->summary), fmt, ap);
    va_end(ap);
}

/* "conns=12;; dead=0;;": Nagios perfdata, label=value;warn;crit. */
static void
perf_text(struct check *c)
{
    const char *key;
    json_t *v;
    size_t off = 0;

    c->perf_text[0] = '\0';
    json_object_foreach(c->perfdata, key, v)
    {
        char val[64];
        if (json_is_integer(v))
            snprintf(val, sizeof(val), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
            snprintf(val, sizeof(val), "%g", json_real_value(v));
        else
            continue;
        if (off < sizeof(c->perf_text))
            off += (size_t)snprintf(c->perf_text + off, sizeof(c->perf_text) - off, "%s%s=%s;;",
                                    off ? " " : "", key, val);
    }
}

/* A daemon that counts its problems ("levels": {"warning": n, "critical": n}, e.g. hbd's late
 * and dead services) is judged here on those counts against --warning/--critical; draining
 * stays CRITICAL whatever the counts. */
static void
judge_levels(struct check *c, json_t *res, const struct gwctl *g)
{
    json_t *lv = json_object_get(res, "levels");
    json_int_t w, k;

    if (!json_is_object(lv))
        return;
    w = json_integer_value(json_object_get(lv, "warning"));
    k = json_integer_value(json_object_get(lv, "critical"));
    if (json_is_true(json_object_get(res, "draining")))
        c->state = N_CRITICAL;
    else if (k >= g->health_critical)
        c->state = N_CRITICAL;
    else if (w + k >= g->health_warning)
        c->state = N_WARNING;
    else
        c->state = N_OK;
}

static void
check_local(struct gwctl *g, const char *prog, struct check *c)
{
    enum gw_ctl_status st;
    char path[GWCTL_PATH_LEN], why[GWCTL_PATH_LEN + 128];
    json_t *res = gwctl_call(g, prog, "health", NULL, &st, path, sizeof(path));
    const char *status, *summary;

    gw_strlcpy(c->label, prog ? prog : "daemon", sizeof(c->label));
    if (st == GW_CTL_OK && !prog && json_string_value(json_object_get(res, "prog")))
        gw_strlcpy(c->label, json_string_value(json_object_get(res, "prog")), sizeof(c->label));
    if (st == GW_CTL_FAILED) {
        set(c, N_UNKNOWN, "health failed: %s",
            json_string_value(json_object_get(res, "message"))
                ? json_string_value(json_object_get(res, "message"))
                : "no reason");
    } else if (st != GW_CTL_OK) {
        gwctl_unreachable_reason(g, path, st, why, sizeof(why));
        set(c, st == GW_CTL_NOSOCK || st == GW_CTL_REFUSED ? N_CRITICAL : N_UNKNOWN, "%s", why);
    } else {
        status = json_string_value(json_object_get(res, "status"));
        summary = json_string_value(json_object_get(res, "summary"));
        c->state = N_UNKNOWN;
        for (int i = 0; status && i < 3; i++)
            if (strcmp(status, state_lower[i]) == 0)
                c->state = (enum nagios)i;
        snprintf(c->summary, sizeof(c->summary), "%s",
                 summary  ? summary
                 : status ? status
                          : "no status in the reply");
        if (json_is_object(json_object_get(res, "perfdata")))
            c->perfdata = json_incref(json_object_get(res, "perfdata"));
        judge_levels(c, res, g);
    }
    json_decref(res);
}

struct body {
    char *data;
    size_t len;
};

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb;
    char *p;

    if (b->len + n > MAX_BODY_BYTES || (p = realloc(b->data, b->len + n + 1)) == NULL)
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    b->data = p;
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* "name: detail, ..." for the checks of a /readyz body (only the failing ones if failing). */
static void
readyz_checks(const struct body *b, int failing, char *out, size_t len)
{
    json_t *doc = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL, *chk;
    const char *name;
    size_t off = 0;

    out[0] = '\0';
    json_object_foreach(json_object_get(doc, "checks"), name, chk)
    {
        const char *detail = json_string_value(json_object_get(chk, "detail"));
        if (failing && json_is_true(json_object_get(chk, "ok")))
            continue;
        if (off < len)
            off += (size_t)snprintf(out + off, len - off, "%s%s: %s", off ? ", " : "", name,
                                    detail ? detail : (failing ? "failing" : "ok"));
    }
    json_decref(doc);
}

/* The URL to fetch: /readyz is added when the URL names no path. */
static void
readyz_url(const char *url, char *out, size_t len)
{
    const char *host = strstr(url, "://");
    const char *path = host ? strchr(host + 3, '/') : NULL;

    if (host && !path)
        snprintf(out, len, "%s/readyz", url);
    else if (path && strcmp(path, "/") == 0)
        snprintf(out, len, "%sreadyz", url);
    else
        snprintf(out, len, "%s", url);
}

static void
http_outcome(struct check *c, CURL *h, CURLcode rc, const char *errbuf, const struct body *b,
             int timeout_ms)
{
    char checks[512], t[32];
    long code = 0;
    double secs = 0;

    if (rc == CURLE_COULDNT_CONNECT) {
        set(c, N_CRITICAL, "cannot connect: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        gwctl_fmt_ms(timeout_ms, t, sizeof(t));
        set(c, N_UNKNOWN, "no answer within %s", t);
        return;
    }
    if (rc != CURLE_OK) {
        set(c, N_UNKNOWN, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &secs);
    c->perfdata = json_pack("{s:f}", "time", secs);
    if (code == 200) {
        readyz_checks(b, 0, checks, sizeof(checks));
        set(c, N_OK, "ready%s%s%s", checks[0] ? " (" : "", checks, checks[0] ? ")" : "");
    } else if (code == 503) {
        readyz_checks(b, 1, checks, sizeof(checks));
        set(c, N_CRITICAL, "not ready%s%s%s", checks[0] ? " (" : "", checks, checks[0] ? ")" : "");
    } else {
        set(c, N_UNKNOWN, "unexpected HTTP status %ld", code);
    }
}

static void
check_url(struct gwctl *g, const char *url, struct check *c)
{
    char full[2048], errbuf[CURL_ERROR_SIZE] = "";
    struct body b = {NULL, 0};
    CURL *h = curl_easy_init();
    CURLcode rc;

    gw_strlcpy(c->label, url, sizeof(c->label));
    if (!h) {
        set(c, N_UNKNOWN, "cannot initialise libcurl");
        return;
    }
    readyz_url(url, full, sizeof(full));
    curl_easy_setopt(h, CURLOPT_URL, full);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)g->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)g->timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "gwctl/" GW_VERSION);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    rc = curl_easy_perform(h);
    http_outcome(c, h, rc, errbuf, &b, g->timeout_ms);
    if (c->perfdata) {
        /* Nagios wants the unit on the value: time=0.002s;;;0 */
        snprintf(c->perf_text, sizeof(c->perf_text), "time=%.6fs;;;0",
                 json_real_value(json_object_get(c->perfdata, "time")));
    }
    free(b.data);
    curl_easy_cleanup(h);
}

static int
report(const struct gwctl *g, struct check *checks, size_t n)
{
    enum nagios worst = N_OK;
    json_t *doc = NULL, *arr = NULL;

    if (g->format == GWCTL_JSON)
        arr = json_array();
    for (size_t i = 0; i < n; i++) {
        struct check *c = &checks[i];
        if (rank(c->state) > rank(worst))
            worst = c->state;
        if (!c->perf_text[0] && c->perfdata)
            perf_text(c);
        if (arr) {
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:o}", "check", c->label, "status",
                               state_lower[c->state], "summary", c->summary, "perfdata",
                               c->perfdata ? json_incref(c->perfdata) : json_object()));
            continue;
        }
        printf("%s %s - %s%s%s\n", c->label, state_upper[c->state], c->summary,
               c->perf_text[0] ? " | " : "", c->perf_text);
    }
    if (arr) {
        doc = json_pack("{s:s, s:i, s:o}", "status", state_lower[worst], "exit", (int)worst,
                        "checks", arr);
        gwctl_print_json(stdout, doc);
        json_decref(doc);
    }
    return (int)worst;
}

/* Without PROG or --url: every built daemon whose socket exists. */
static size_t
default_progs(struct gwctl *g, const char **progs, size_t max)
{
    size_t n = 0;

    for (const struct gwctl_prog *p = gwctl_progs(); p->name && n < max; p++)
        if (p->schema && gwctl_socket_exists(g, p->name))
            progs[n++] = p->name;
    return n;
}

int
gwctl_run_health(struct gwctl *g, const struct gwctl_cmd *cmd, int argc, char **argv)
{
    struct gwctl_argv a = {argc, argv, 0, 0};
    const struct gwctl_arg *arg;
    const char *val, *progs[MAX_CHECKS], *urls[MAX_CHECKS];
    size_t nprogs = 0, nurls = 0, n = 0;
    struct check *checks;
    int kind, rc;

    g->health_warning = g->health_critical = 1;
    while ((kind = gwctl_next_arg(g, cmd, &a, &arg, &val)) > 0) {
        if (kind == 'h') {
            gwctl_cmd_help(stdout, cmd);
            return GWCTL_EXIT_OK;
        }
        if (nprogs + nurls == MAX_CHECKS)
            return gwctl_usage_error(cmd, "too many checks (at most %d)", MAX_CHECKS), N_UNKNOWN;
        if (kind == 'f' && strcmp(arg->flag, "--url") != 0) {
            char *end;
            long cnt = strtol(val, &end, 10);
            if (*val == '\0' || *end != '\0' || cnt < 1 || cnt > 1000000000)
                return gwctl_usage_error(cmd, "%s: '%s' is not a count (1 or more)", arg->flag,
                                         val),
                       N_UNKNOWN;
            if (strcmp(arg->flag, "--warning") == 0)
                g->health_warning = cnt;
            else
                g->health_critical = cnt;
            continue;
        }
        if (kind == 'f') {
            urls[nurls++] = val;
        } else if (gwctl_daemon_known(val)) {
            progs[nprogs++] = val;
        } else {
            return gwctl_usage_error(cmd, "unknown program '%s'", val), N_UNKNOWN;
        }
    }
    if (kind < 0)
        return N_UNKNOWN;
    checks = calloc(MAX_CHECKS + 1, sizeof(*checks));
    if (!checks)
        return N_UNKNOWN;
    if (nprogs == 0 && nurls == 0 && !g->socket)
        nprogs = default_progs(g, progs, MAX_CHECKS);
    if (nprogs == 0 && nurls == 0 && g->socket)
        check_local(g, NULL, &checks[n++]);
    for (size_t i = 0; i < nprogs; i++)
        check_local(g, progs[i], &checks[n++]);
    for (size_t i = 0; i < nurls; i++)
        check_url(g, urls[i], &checks[n++]);
    if (n == 0) {
        gw_strlcpy(checks[0].label, "gwkit", sizeof(checks[0].label));
        set(&checks[n++], N_CRITICAL, "no gwkit daemon is running (no socket in %s)", g->run_dir);
    }
    rc = report(g, checks, n);
    for (size_t i = 0; i < n; i++)
        json_decref(checks[i].perfdata);
    free(checks);
    return rc;
}
