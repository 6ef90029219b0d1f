/*
 * format.c -- a record as an output line: raw (the message as received) or one JSON object.
 *
 * Nothing is dropped: in raw lines, control bytes (but tab) and bytes that are not valid UTF-8
 * are written as \xHH (gw_syslog_escape), so a NUL or a newline inside a message can neither
 * cut a line nor split it in two; in JSON, control characters use JSON's escapes and invalid
 * UTF-8 bytes become the text \xHH (JSON cannot hold raw bytes).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "logd.h"
#include "syslog.h"

static const char *const severities[] = {"emerg",   "alert",  "crit", "err",
                                         "warning", "notice", "info", "debug"};
static const char *const facilities[] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "cron2",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7"};

const char *
logd_facility_name(int facility)
{
    return facility >= 0 && facility < 24 ? facilities[facility] : "";
}

const char *
logd_severity_name(int severity)
{
    return severity >= 0 && severity < 8 ? severities[severity] : "";
}

int
logd_severity_parse(const char *s)
{
    if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
        return s[0] - '0';
    for (int i = 0; i < 8; i++)
        if (strcasecmp(s, severities[i]) == 0)
            return i;
    if (strcasecmp(s, "error") == 0)
        return 3;
    if (strcasecmp(s, "warn") == 0)
        return 4;
    if (strcasecmp(s, "emergency") == 0 || strcasecmp(s, "panic") == 0)
        return 0;
    if (strcasecmp(s, "critical") == 0)
        return 2;
    return -1;
}

/* Length of the valid UTF-8 sequence at p (n bytes available), 0 when invalid. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

struct out {
    char **buf;
    size_t *len, *cap;
    int failed;
};

static void
reserve(struct out *o, size_t n)
{
    size_t c = *o->cap ? *o->cap : 4096;
    char *p;

    if (o->failed || *o->len + n <= *o->cap)
        return;
    while (c < *o->len + n)
        c *= 2;
    if ((p = realloc(*o->buf, c)) == NULL) {
        o->failed = 1;
        return;
    }
    *o->buf = p;
    *o->cap = c;
}

static void
put(struct out *o, const void *p, size_t n)
{
    /* Nothing to add (an empty message) may come before anything was allocated. */
    if (n == 0)
        return;
    reserve(o, n);
    if (o->failed)
        return;
    memcpy(*o->buf + *o->len, p, n);
    *o->len += n;
}

static void
puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void
put_hex(struct out *o, const char *prefix, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char b[8];
    size_t n = strlen(prefix);

    memcpy(b, prefix, n);
    b[n] = hex[c >> 4];
    b[n + 1] = hex[c & 15];
    put(o, b, n + 2);
}

/* Raw text: printable UTF-8 and tabs as they are, the rest as \xHH (lib/syslog's escaping,
 * the same every output uses). */
static void
put_raw(struct out *o, const char *s, size_t n)
{
    struct gw_buf b;

    if (!gw_syslog_needs_escape(s, n)) {
        put(o, s, n);
        return;
    }
    gw_buf_init(&b, gw_syslog_escaped_len(s, n));
    if (gw_syslog_escape(&b, s, n) == 0)
        put(o, gw_buf_data(&b), gw_buf_len(&b));
    else
        o->failed = 1;
    gw_buf_reset(&b);
}

/* A JSON string, quoted. */
static void
put_json(struct out *o, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, start = 0;

    reserve(o, n + 2);
    put(o, "\"", 1);
    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        unsigned char c = p[i];
        if (k && c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
            i += k;
            continue;
        }
        put(o, p + start, i - start);
        if (!k)
            put_hex(o, "\\\\x", c);
        else if (c == '"')
            put(o, "\\\"", 2);
        else if (c == '\\')
            put(o, "\\\\", 2);
        else if (c == '\n')
            put(o, "\\n", 2);
        else if (c == '\r')
            put(o, "\\r", 2);
        else if (c == '\t')
            put(o, "\\t", 2);
        else
            put_hex(o, "\\u00", c);
        start = ++i;
    }
    put(o, p + start, i - start);
    put(o, "\"", 1);
}

static void
put_key(struct out *o, const char *key, int *first)
{
    puts_(o, *first ? "{\"" : ",\"");
    *first = 0;
    puts_(o, key);
    puts_(o, "\":");
}

static void
put_field(struct out *o, const struct logd_batch *b, const struct logd_rec *r, enum logd_field f,
          int *first)
{
    size_t n;
    const char *v = logd_rec_field(b, r, f, &n);

    if (!n)
        return;
    put_key(o, logd_field_names[f], first);
    put_json(o, v, n);
}

static void
put_json_rec(struct out *o, const struct logd_batch *b, const struct logd_rec *r)
{
    char ts[40];
    int first = 1;

    put_key(o, "time", &first);
    gw_time_rfc3339(r->time_ms, ts, sizeof(ts));
    put_json(o, ts, strlen(ts));
    if (r->flags & LOGD_REC_HAS_TIME) {
        put_key(o, "received", &first);
        gw_time_rfc3339(r->recv_ms, ts, sizeof(ts));
        put_json(o, ts, strlen(ts));
    }
    put_key(o, "input", &first);
    put_json(o, logd_input_names[r->input], strlen(logd_input_names[r->input]));
    put_field(o, b, r, LOGD_F_PEER, &first);
    if (r->facility >= 0) {
        put_key(o, "facility", &first);
        put_json(o, logd_facility_name(r->facility), strlen(logd_facility_name(r->facility)));
    }
    if (r->severity >= 0) {
        put_key(o, "severity", &first);
        put_json(o, logd_severity_name(r->severity), strlen(logd_severity_name(r->severity)));
    }
    for (enum logd_field f = LOGD_F_HOST; f <= LOGD_F_MSG; f++)
        put_field(o, b, r, f, &first);
    if (!(r->flags & LOGD_REC_PARSED)) {
        put_key(o, "parsed", &first);
        puts_(o, "false");
        put_field(o, b, r, LOGD_F_RAW, &first);
    }
    if (r->flags & LOGD_REC_TRUNCATED) {
        put_key(o, "truncated", &first);
        puts_(o, "true");
    }
    puts_(o, "}");
}

const char *
logd_format_raw_as_is(const struct logd_batch *b, const struct logd_rec *r, size_t *len)
{
    const char *v = logd_rec_field(b, r, LOGD_F_RAW, len);

    if (*len && (r->flags & LOGD_REC_PLAIN))
        return v;
    if (!*len)
        v = logd_rec_field(b, r, LOGD_F_MSG, len);
    return gw_syslog_needs_escape(v, *len) ? NULL : v;
}

int
logd_format_line(const struct logd_batch *b, const struct logd_rec *r, enum logd_format fmt,
                 char **buf, size_t *len, size_t *cap)
{
    struct out o = {buf, len, cap, 0};
    size_t n;
    const char *v;

    if (fmt == LOGD_FMT_JSON) {
        put_json_rec(&o, b, r);
    } else {
        v = logd_rec_field(b, r, LOGD_F_RAW, &n);
        if (!n)
            v = logd_rec_field(b, r, LOGD_F_MSG, &n);
        put_raw(&o, v, n);
    }
    put(&o, "\n", 1);
    return o.failed ? -1 : 0;
}

json_t *
logd_format_json(const struct logd_batch *b, const struct logd_rec *r)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct out o = {&buf, &len, &cap, 0};
    json_t *j;

    put_json_rec(&o, b, r);
    j = o.failed ? NULL : json_loadb(buf, len, JSON_ALLOW_NUL, NULL);
    free(buf);
    return j;
}
