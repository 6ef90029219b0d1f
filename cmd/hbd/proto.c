/*
 * proto.c -- hbd's request line parser. Pure: no I/O, no allocation, so it can be fuzzed and
 * called on the hot path. Replies are written by server.c.
 *
 * Grammar (commands are case-insensitive, tokens separated by spaces or tabs):
 *   PING
 *   HB <service> [interval=<duration>] [instance=<name>] [min_up=<n>] [<key>=<value> ...]
 *   STATUS
 *   QUIT
 *   AUTH <token>                 (HB also takes token=<token>; never stored as a label)
 * A line must be valid UTF-8 (ERR invalid utf-8): names are ASCII, label values any text.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "hbd.h"
#include "utf8.h"

#define MIN_INTERVAL_MS 100ull
#define MAX_INTERVAL_MS (86400ull * 1000)
#define MAX_MIN_UP 1000
#define MAX_TOKENS (HBD_MAX_LABELS + 8)

static int
name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == ':' || c == '/' || c == '@';
}

static int
valid_name(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (!name_char((unsigned char)s[n]))
            return 0;
    return n > 0 && n <= HBD_MAX_NAME;
}

static int
valid_label_key(const char *s)
{
    size_t n = 0;

    if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return 0;
    return n <= 64;
}

#define M(series) offsetof(struct hbd_metrics, series)

const struct hbd_err_kind hbd_errs[HBD_ERR_COUNT] = {
    [HBD_ERR_LINE_TOO_LONG] = {"line_too_long", "line too long", M(err_line_too_long)},
    [HBD_ERR_BAD_REQUEST] = {"bad_request", NULL, M(err_bad_request)},
    [HBD_ERR_BAD_INTERVAL] = {"bad_interval", "bad interval (want 100ms..24h, e.g. interval=5s)",
                              M(err_bad_interval)},
    [HBD_ERR_UNKNOWN_COMMAND] = {"unknown_command", "unknown command", M(err_unknown_command)},
    [HBD_ERR_OUTPUT_OVERFLOW] = {"output_overflow", NULL, M(err_output_overflow)},
    [HBD_ERR_UDP_TOO_LONG] = {"udp_too_long", NULL, M(err_udp_too_long)},
    [HBD_ERR_UDP_BAD] = {"udp_bad", NULL, M(err_udp_bad)},
    [HBD_ERR_ACCEPT] = {"accept", NULL, M(err_accept)},
    [HBD_ERR_TOO_MANY_CLIENTS] = {"too_many_clients", "too many clients", M(err_too_many_clients)},
    [HBD_ERR_TOO_MANY_SERVICES] = {"too_many_services", "too many services",
                                   M(err_too_many_services)},
    /* Anywhere in the line: names, instances, label values. Refused rather than stored, as
     * JSON (gwctl, /status, alert bodies) cannot carry it. */
    [HBD_ERR_INVALID_UTF8] = {"invalid_utf8", "invalid utf-8", M(err_invalid_utf8)},
    [HBD_ERR_TOO_MANY_INSTANCES] = {"too_many_instances", "too many instances",
                                    M(err_too_many_instances)},
    /* No token, an unknown one, or one whose glob does not cover the service. */
    [HBD_ERR_AUTH] = {"auth", "auth", M(err_auth)},
    [HBD_ERR_TOO_MANY_CLIENTS_PER_IP] = {"too_many_clients_per_ip",
                                         "too many clients from this address",
                                         M(err_too_many_clients_per_ip)},
    [HBD_ERR_NEW_SERVICES_PER_IP] = {"new_services_per_ip",
                                     "too many new services from this address",
                                     M(err_new_services_per_ip)},
};

void
hbd_count_error(struct hbd *h, enum hbd_err e)
{
    const int *series =
        (const int *)(const void *)((const char *)&h->m + hbd_errs[e].series_offset);

    gw_metrics_add(h->m.reg, *series, 1);
}

static void
fail_as(struct hbd_req *req, enum hbd_err kind, const char *why)
{
    req->kind = HBD_REQ_ERROR;
    req->error = why;
    req->error_kind = kind;
}

static void
fail(struct hbd_req *req, const char *why)
{
    fail_as(req, HBD_ERR_BAD_REQUEST, why);
}

static void
fail_kind(struct hbd_req *req, enum hbd_err kind)
{
    fail_as(req, kind, hbd_errs[kind].reply);
}

/* Splits in place on blanks; returns the token count, or -1 when there are too many. */
static int
tokenize(char *line, size_t len, char **tok)
{
    int n = 0;
    size_t i = 0;

    while (i < len) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            line[i++] = '\0';
        if (i == len)
            break;
        if (n == MAX_TOKENS)
            return -1;
        tok[n++] = line + i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
    }
    line[len] = '\0';
    return n;
}

static void
parse_hb_arg(char *arg, struct hbd_req *req)
{
    char *eq = strchr(arg, '=');
    int64_t ms;

    if (!eq || eq == arg) {
        fail(req, "bad argument (want key=value)");
        return;
    }
    *eq = '\0';
    const char *val = eq + 1;
    if (strcmp(arg, "interval") == 0) {
        if (gw_conf_parse_duration(val, &ms, NULL) == -1 || ms < (int64_t)MIN_INTERVAL_MS ||
            ms > (int64_t)MAX_INTERVAL_MS)
            fail_kind(req, HBD_ERR_BAD_INTERVAL);
        else
            req->interval_ms = (uint64_t)ms;
    } else if (strcmp(arg, "instance") == 0) {
        if (!valid_name(val))
            fail(req, "bad instance name");
        else
            req->instance = val;
    } else if (strcmp(arg, "token") == 0) {
        req->token = val; /* never a label: it would be stored and shown */
    } else if (strcmp(arg, "min_up") == 0) {
        char *end;
        unsigned long v = strtoul(val, &end, 10);
        if (*val < '0' || *val > '9' || *end || v < 1 || v > MAX_MIN_UP)
            fail(req, "bad min_up (want 1..1000)");
        else
            req->min_up = (unsigned)v;
    } else if (!valid_label_key(arg)) {
        fail(req, "bad label name (want [a-z_][a-z0-9_]*)");
    } else if (strlen(val) > HBD_MAX_LABEL_BYTES) {
        fail(req, "label value too long");
    } else if (req->nlabels == HBD_MAX_LABELS) {
        fail(req, "too many labels");
    } else {
        req->labels[req->nlabels].key = arg;
        req->labels[req->nlabels].value = val;
        req->nlabels++;
    }
}

static void
parse_hb(char **tok, int ntok, struct hbd_req *req)
{
    req->kind = HBD_REQ_HB;
    if (ntok < 2) {
        fail(req, "HB needs a service name");
        return;
    }
    if (!valid_name(tok[1])) {
        fail(req, "bad service name (want 1-128 of A-Z a-z 0-9 . _ - : / @)");
        return;
    }
    req->service = tok[1];
    for (int i = 2; i < ntok && req->kind == HBD_REQ_HB; i++)
        parse_hb_arg(tok[i], req);
}

void
hbd_proto_parse(char *line, size_t len, struct hbd_req *req)
{
    char *tok[MAX_TOKENS];
    int ntok;

    memset(req, 0, sizeof(*req));
    req->instance = "";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            fail(req, "binary data in request");
            return;
        }
    }
    if (!gw_utf8_valid(line, len)) {
        fail_kind(req, HBD_ERR_INVALID_UTF8);
        return;
    }
    if ((ntok = tokenize(line, len, tok)) < 0) {
        fail(req, "too many arguments");
        return;
    }
    if (ntok == 0) {
        req->kind = HBD_REQ_EMPTY;
        return;
    }
    if (strcasecmp(tok[0], "PING") == 0)
        req->kind = ntok == 1 ? HBD_REQ_PING : HBD_REQ_ERROR;
    else if (strcasecmp(tok[0], "HB") == 0)
        parse_hb(tok, ntok, req);
    else if (strcasecmp(tok[0], "STATUS") == 0)
        req->kind = ntok == 1 ? HBD_REQ_STATUS : HBD_REQ_ERROR;
    else if (strcasecmp(tok[0], "QUIT") == 0)
        req->kind = ntok == 1 ? HBD_REQ_QUIT : HBD_REQ_ERROR;
    else if (strcasecmp(tok[0], "AUTH") == 0 && ntok == 2)
        req->kind = HBD_REQ_AUTH, req->token = tok[1];
    else if (strcasecmp(tok[0], "AUTH") == 0)
        fail(req, "AUTH needs a token");
    else
        fail_kind(req, HBD_ERR_UNKNOWN_COMMAND);
    if (req->kind == HBD_REQ_ERROR && !req->error)
        fail(req, "wrong number of arguments"); /* a bad_request, not error kind 0 */
}
