/*
 * ingest.c -- POST /ingest: JSON lines in, answered 200 only once every line is durable.
 *
 *   {"msg":"disk almost full","app":"backup","host":"db1","severity":"warning","time":"..."}
 *
 * One object a line ("msg" required, a string; "app", "host", "procid", "msgid", "sd" strings;
 * "severity" and "facility" a name or a number; "time" RFC 3339 or seconds since the epoch).
 * Blank lines are skipped. Replies: 200 {"accepted":N} once durable; 400 naming the first bad
 * line (nothing of the body is kept); 413 over max_ingest; 503 when the queue is full or the
 * lines were not durable within ingest_timeout (they may still be written: a client that
 * retries can cause duplicates, never losses).
 *
 * Runs on the HTTP thread, which blocks while it waits for the writer: ingestion is for
 * modest volumes (the native protocol is the fast acknowledged path).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"
#include "log.h"
#include "logd.h"

struct ingest {
    struct logd *l;
    struct logd_lane *lane;
    pthread_mutex_t mu;
};

static struct ingest ingest;

static int
parse_digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        *v = *v * 10 + (**p - '0');
    }
    return 0;
}

/* RFC 3339 ("2026-11-23T10:00:00.123Z", "...+02:00") to ms since the epoch. */
static int
parse_rfc3339(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, frac = 0, off = 0;
    const char *p = s;

    if (parse_digits(&p, 4, &y) || *p++ != '-' || parse_digits(&p, 2, &mo) || *p++ != '-' ||
        parse_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ') || !*p++ ||
        parse_digits(&p, 2, &h) || *p++ != ':' || parse_digits(&p, 2, &mi) || *p++ != ':' ||
        parse_digits(&p, 2, &sec))
        return -1;
    if (*p == '.') {
        int scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (parse_digits(&p, 2, &oh) || *p++ != ':' || parse_digits(&p, 2, &om))
            return -1;
        off = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ms = ((int64_t)timegm(&tm) - (int64_t)off * 60) * 1000 + frac;
    return 0;
}

static int
level_of(json_t *v, int max)
{
    if (json_is_integer(v))
        return json_integer_value(v) >= 0 && json_integer_value(v) <= max
                   ? (int)json_integer_value(v)
                   : -2;
    if (json_is_string(v)) {
        if (max == 7)
            return logd_severity_parse(json_string_value(v)) >= 0
                       ? logd_severity_parse(json_string_value(v))
                       : -2;
        for (int f = 0; f < 24; f++)
            if (strcmp(logd_facility_name(f), json_string_value(v)) == 0)
                return f;
    }
    return -2;
}

static const enum logd_field string_fields[] = {LOGD_F_MSG,    LOGD_F_APP,   LOGD_F_HOST,
                                                LOGD_F_PROCID, LOGD_F_MSGID, LOGD_F_SD};

static int
one_line(const char *line, size_t len, size_t max_line, int64_t now, struct logd_batch *b,
         char *err)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je), *v;
    struct logd_rec *r;
    int rc = -1;

    if (!o)
        return gw_err(err, "not JSON: %s", je.text);
    if (!json_is_object(o)) {
        gw_err(err, "not a JSON object");
        goto done;
    }
    if (!json_is_string(json_object_get(o, "msg"))) {
        gw_err(err, "\"msg\" (a string) is missing");
        goto done;
    }
    if ((r = logd_batch_rec(b, LOGD_IN_HTTP, now)) == NULL) {
        gw_err(err, "out of memory");
        goto done;
    }
    r->flags = LOGD_REC_PARSED;
    for (size_t i = 0; i < GW_ARRAY_LEN(string_fields); i++) {
        const char *name = logd_field_names[string_fields[i]];
        size_t n;
        if ((v = json_object_get(o, name)) == NULL)
            continue;
        if (!json_is_string(v)) {
            gw_err(err, "\"%s\" is not a string", name);
            goto unrec;
        }
        n = json_string_length(v);
        if (n > max_line) {
            n = max_line;
            r->flags |= LOGD_REC_TRUNCATED;
        }
        if (logd_batch_field(b, r, string_fields[i], json_string_value(v), n) == -1) {
            gw_err(err, "out of memory");
            goto unrec;
        }
    }
    if ((v = json_object_get(o, "severity")) && (r->severity = (int8_t)level_of(v, 7)) < -1) {
        gw_err(err, "\"severity\" is not a syslog severity (emerg..debug or 0..7)");
        goto unrec;
    }
    if ((v = json_object_get(o, "facility")) && (r->facility = (int8_t)level_of(v, 23)) < -1) {
        gw_err(err, "\"facility\" is not a syslog facility (kern..local7 or 0..23)");
        goto unrec;
    }
    if ((v = json_object_get(o, "time")) != NULL) {
        int64_t ms;
        if (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) < 1e11)
            ms = (int64_t)(json_number_value(v) * 1000);
        else if (!json_is_string(v) || parse_rfc3339(json_string_value(v), &ms) == -1) {
            gw_err(err, "\"time\" is neither RFC 3339 nor seconds since the epoch");
            goto unrec;
        }
        r->time_ms = ms;
        r->flags |= LOGD_REC_HAS_TIME;
    }
    rc = 0;
    goto done;
unrec:
    logd_batch_unrec(b);
done:
    json_decref(o);
    return rc;
}

static int
blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t')
            return 0;
    return 1;
}

int
logd_ingest_parse(const char *body, size_t len, size_t max_line, int64_t now_ms,
                  struct logd_batch *b, size_t *bad_line, char *err)
{
    size_t lineno = 0;
    const char *p = body, *end = body + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t n = (size_t)(e - p);
        lineno++;
        if (n && e[-1] == '\r')
            n--;
        if (!blank(p, n) && one_line(p, n, max_line, now_ms, b, err) == -1) {
            *bad_line = lineno;
            return -1;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static void
reply_json(struct gw_httpd_reply *reply, int status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    size_t n = text ? strlen(text) : 0;

    json_decref(doc);
    reply->status = status;
    reply->content_type = "application/json";
    if (text && (reply->body = realloc(text, n + 2)) != NULL) {
        reply->body[n] = '\n';
        reply->body[n + 1] = '\0';
        reply->body_len = n + 1;
    } else {
        free(text);
    }
}

static void
on_ingest(const char *method, const char *query, const char *body, size_t body_len,
          struct gw_httpd_reply *reply, void *arg)
{
    struct ingest *in = arg;
    struct logd *l = in->l;
    const struct logd_config *cfg = logd_cfg(l);
    struct logd_batch *b;
    size_t bad = 0, nrec;
    char err[GW_ERR_LEN] = "";
    uint64_t seq;

    (void)method;
    (void)query;
    if (body_len > cfg->max_ingest_bytes) {
        gw_metrics_add(l->m.reg, l->m.ingest_too_large, 1);
        reply_json(reply, 413,
                   json_pack("{s:s, s:I}", "error", "body over max_ingest", "max_ingest",
                             (json_int_t)cfg->max_ingest_bytes));
        return;
    }
    if ((b = logd_batch_new()) == NULL) {
        reply_json(reply, 503, json_pack("{s:s}", "error", "out of memory"));
        return;
    }
    if (logd_ingest_parse(body, body_len, cfg->max_line_bytes, gw_wall_ms(), b, &bad, err) == -1) {
        logd_batch_free(b);
        gw_metrics_add(l->m.reg, l->m.ingest_bad, 1);
        reply_json(reply, 400, json_pack("{s:s, s:I}", "error", err, "line", (json_int_t)bad));
        return;
    }
    nrec = b->nrec;
    for (size_t i = 0; i < nrec; i++) {
        size_t n;
        logd_rec_field(b, &b->recs[i], LOGD_F_MSG, &n);
        logd_count_rec(l, &b->recs[i], n);
    }
    pthread_mutex_lock(&in->mu);
    seq = nrec ? logd_lane_push(in->lane, b, 0) : 0;
    pthread_mutex_unlock(&in->mu);
    if (nrec && seq == 0) {
        logd_batch_free(b);
        gw_metrics_add(l->m.reg, l->m.ingest_busy, 1);
        gw_metrics_add(l->m.reg, l->m.dropped[LOGD_IN_HTTP], nrec);
        reply_json(reply, 503, json_pack("{s:s}", "error", "queue full, retry later"));
        return;
    }
    if (!nrec)
        logd_batch_free(b);
    if (seq && logd_lane_wait(in->lane, seq, cfg->ingest_timeout_ms) == -1) {
        gw_metrics_add(l->m.reg, l->m.ingest_busy, 1);
        reply_json(reply, 503,
                   json_pack("{s:s}", "error", "not durable within ingest_timeout, retry later"));
        return;
    }
    gw_metrics_add(l->m.reg, l->m.ingest_ok, 1);
    reply_json(reply, 200, json_pack("{s:I}", "accepted", (json_int_t)nrec));
}

int
logd_ingest_start(struct logd *l, struct gw_httpd *h, char *err)
{
    ingest.l = l;
    pthread_mutex_init(&ingest.mu, NULL);
    if ((ingest.lane = logd_lane_new(l, "http", NULL, NULL)) == NULL)
        return gw_err(err, "cannot make the ingest queue");
    /* httpd answers 413 itself past max_body; the handler checks again after a reload. */
    if (gw_httpd_route(h, "POST", "/ingest", logd_cfg(l)->max_ingest_bytes, on_ingest, &ingest) ==
        -1)
        return gw_err(err, "cannot add the /ingest route");
    return 0;
}
