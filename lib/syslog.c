/*
 * syslog.c -- RFC 5424 and RFC 3164 parsing into gw_logrec, escaping, RFC 6587 framing.
 */
#include "syslog.h"

#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* A cursor over the line being parsed. */
struct cur {
    const char *p, *end, *start;
};

static int
at_end(const struct cur *c)
{
    return c->p >= c->end;
}

static int
peek(const struct cur *c)
{
    return c->p < c->end ? (unsigned char)*c->p : -1;
}

static int
is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

/* PRINTUSASCII of RFC 5424: %d33-126. */
static int
is_print(int ch)
{
    return ch >= 33 && ch <= 126;
}

static struct gw_slice
slice(const char *p, size_t len)
{
    struct gw_slice s = {p, len};
    return s;
}

/* Reads exactly n digits. */
static int
digits(struct cur *c, int n, int *out)
{
    int v = 0;

    if (c->end - c->p < n)
        return -1;
    for (int i = 0; i < n; i++) {
        if (!is_digit((unsigned char)c->p[i]))
            return -1;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return 0;
}

static int
expect(struct cur *c, char ch)
{
    if (peek(c) != (unsigned char)ch)
        return -1;
    c->p++;
    return 0;
}

/* "<PRIVAL>", 1-3 digits, 0..191. */
static int
parse_pri(struct cur *c, int *pri)
{
    const char *save = c->p;
    int v = 0, n = 0;

    if (expect(c, '<') < 0)
        return -1;
    while (is_digit(peek(c)) && n < 3) {
        v = v * 10 + (*c->p++ - '0');
        n++;
    }
    if (n == 0 || v > 191 || expect(c, '>') < 0) {
        c->p = save;
        return -1;
    }
    *pri = v;
    return 0;
}

/* ---- time ---- */

static int
is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
mdays(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t
days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Civil date of a day count (Hinnant's civil_from_days). */
static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

struct tm_parts {
    int year, mon, day, hour, min, sec;
    int64_t frac_ns;
    int has_tz;
    int offset_min;
};

/* ns since the epoch, or 0 when outside what an int64 of ns holds (about 1678..2261). */
static int64_t
to_ns(const struct tm_parts *t)
{
    int64_t s = days_from_civil(t->year, t->mon, t->day) * 86400 + t->hour * 3600 + t->min * 60 +
                t->sec - (int64_t)t->offset_min * 60;
    if (s <= -9223372035LL || s >= 9223372035LL)
        return 0;
    return s * 1000000000LL + t->frac_ns;
}

static int
valid_clock(const struct tm_parts *t)
{
    return t->mon >= 1 && t->mon <= 12 && t->day >= 1 && t->day <= mdays(t->year, t->mon) &&
           t->hour <= 23 && t->min <= 59 && t->sec <= 59;
}

/* ".digits": strict allows 1..6 digits (RFC 5424 TIME-SECFRAC), lenient 1..9. */
static int
parse_frac(struct cur *c, int max_digits, int64_t *ns)
{
    int64_t v = 0;
    int n = 0;

    *ns = 0;
    if (peek(c) != '.')
        return 0;
    c->p++;
    while (is_digit(peek(c))) {
        if (++n > max_digits)
            return -1;
        v = v * 10 + (*c->p++ - '0');
    }
    if (n == 0)
        return -1;
    while (n++ < 9)
        v *= 10;
    *ns = v;
    return 0;
}

/* The last "YYYY-MM-DDTHH:MM:SS" a strict parse read on this thread, and its fields: the
 * lines of one second (thousands at a high rate) repeat it, and comparing 19 bytes is cheaper
 * than reading and checking them again. */
static int parse_3339_rest(struct cur *c, int strict, struct tm_parts *t);

#define STAMP_LEN 19
static _Thread_local struct {
    char text[STAMP_LEN];
    int valid;
    int year, mon, day, hour, min, sec;
} last_stamp;

/* RFC 3339 date-time. strict: RFC 5424 section 6.2.3 (upper-case T and Z, offset required,
 * at most 6 fraction digits); lenient: also t/z, 9 digits, and no offset (local time). */
static int
parse_3339(struct cur *c, int strict, struct tm_parts *t)
{
    int ch;

    memset(t, 0, sizeof(*t));
    if (strict && last_stamp.valid && c->end - c->p >= STAMP_LEN &&
        memcmp(c->p, last_stamp.text, STAMP_LEN) == 0) {
        t->year = last_stamp.year;
        t->mon = last_stamp.mon;
        t->day = last_stamp.day;
        t->hour = last_stamp.hour;
        t->min = last_stamp.min;
        t->sec = last_stamp.sec;
        c->p += STAMP_LEN;
        return parse_3339_rest(c, strict, t);
    }
    if (digits(c, 4, &t->year) < 0 || expect(c, '-') < 0 || digits(c, 2, &t->mon) < 0 ||
        expect(c, '-') < 0 || digits(c, 2, &t->day) < 0)
        return -1;
    ch = peek(c);
    if (ch != 'T' && (strict || ch != 't'))
        return -1;
    c->p++;
    if (digits(c, 2, &t->hour) < 0 || expect(c, ':') < 0 || digits(c, 2, &t->min) < 0 ||
        expect(c, ':') < 0 || digits(c, 2, &t->sec) < 0)
        return -1;
    /* Only a date and clock that are valid are remembered (the date-time of a strict parse
     * is exactly STAMP_LEN bytes). */
    if (strict && valid_clock(t)) {
        memcpy(last_stamp.text, c->p - STAMP_LEN, STAMP_LEN);
        last_stamp.year = t->year;
        last_stamp.mon = t->mon;
        last_stamp.day = t->day;
        last_stamp.hour = t->hour;
        last_stamp.min = t->min;
        last_stamp.sec = t->sec;
        last_stamp.valid = 1;
    }
    return parse_3339_rest(c, strict, t);
}

/* After the seconds: the fraction and the zone, and the check of the whole. */
static int
parse_3339_rest(struct cur *c, int strict, struct tm_parts *t)
{
    int ch, oh, om;

    if (parse_frac(c, strict ? 6 : 9, &t->frac_ns) < 0)
        return -1;
    ch = peek(c);
    if (ch == 'Z' || (!strict && ch == 'z')) {
        c->p++;
        t->has_tz = 1;
    } else if (ch == '+' || ch == '-') {
        c->p++;
        if (digits(c, 2, &oh) < 0 || expect(c, ':') < 0 || digits(c, 2, &om) < 0 || oh > 23 ||
            om > 59)
            return -1;
        t->has_tz = 1;
        t->offset_min = (ch == '-' ? -1 : 1) * (oh * 60 + om);
    } else if (strict) {
        return -1;
    }
    return valid_clock(t) ? 0 : -1;
}

static void
set_time(struct gw_logrec *rec, const struct tm_parts *t, int local_offset_s)
{
    struct tm_parts u = *t;

    if (!u.has_tz)
        u.offset_min = local_offset_s / 60;
    rec->time_ns = to_ns(&u);
    if (rec->time_ns != 0 && t->has_tz) {
        rec->flags |= GW_LOGREC_TIME_TZ;
        rec->tz_offset_min = (int16_t)t->offset_min;
    }
}

/* ---- escaping (a UTF-8 validator of our own until lib/utf8 exists) ---- */

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), or 0 when the bytes there are not one. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t need;

    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < need)
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return need;
}

static int
ascii_bad(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Length of the escaped form of p[0..len); writes it into out too when out is not NULL, so
 * one walk sizes the output and a second fills it. */
static size_t
escape_walk(const char *p, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0, o = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t k;
        if (c >= 0x20 && c < 0x7f) {
            k = 1;
        } else if (c < 0x80) {
            k = ascii_bad(c) ? 0 : 1;
        } else {
            k = utf8_seq(s + i, len - i);
        }
        if (k) {
            if (out)
                memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            if (out) {
                out[o] = '\\';
                out[o + 1] = 'x';
                out[o + 2] = hex[c >> 4];
                out[o + 3] = hex[c & 15];
            }
            o += 4;
            i++;
        }
    }
    return o;
}

/* 1 when all 8 bytes of v are printable ASCII (0x20..0x7e), the common case, tested at once:
 * no high bit, no byte below 0x20, no byte equal to 0x7f (the "hasless"/"haszero" bit tricks,
 * exact for deciding whether any byte matches). */
static inline uint64_t
word_unprintable(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t below = (v - 0x20 * ones) & ~v;
    uint64_t del = v ^ (0x7f * ones);

    del = (del - ones) & ~del;
    return (v | below | del) & high;
}

static int
word_printable(uint64_t v)
{
    return word_unprintable(v) == 0;
}

int
gw_syslog_needs_escape(const char *p, size_t len)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;

    while (i < len) {
        unsigned char c;
        uint64_t v;
        /* Every line read goes through here: 32 bytes per test (one branch) while they are
         * all printable ASCII; past anything else (an RFC 5424 BOM), back to it. */
#ifdef __SSE2__
        for (; len - i >= 32; i += 32) {
            /* Signed bytes: below 0x20 are the controls and, negative, every byte >= 0x80. */
            const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
            __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
            __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(a, sp), _mm_cmpeq_epi8(a, del)),
                                       _mm_or_si128(_mm_cmplt_epi8(b, sp), _mm_cmpeq_epi8(b, del)));
            if (_mm_movemask_epi8(bad))
                break;
        }
#else
        for (; len - i >= 32; i += 32) {
            uint64_t q[4];
            memcpy(q, s + i, sizeof(q));
            if (word_unprintable(q[0]) | word_unprintable(q[1]) | word_unprintable(q[2]) |
                word_unprintable(q[3]))
                break;
        }
#endif
        if (i >= len)
            break;
        c = s[i];
        if (len - i >= 8 && (memcpy(&v, s + i, 8), word_printable(v))) {
            i += 8;
        } else if (c >= 0x20 && c < 0x7f) {
            i++;
        } else if (c < 0x80) {
            if (ascii_bad(c))
                return 1;
            i++;
        } else {
            size_t k = utf8_seq(s + i, len - i);
            if (k == 0)
                return 1;
            i += k;
        }
    }
    return 0;
}

size_t
gw_syslog_escaped_len(const char *p, size_t len)
{
    return escape_walk(p, len, NULL);
}

int
gw_syslog_escape(struct gw_buf *out, const char *p, size_t len)
{
    size_t n = escape_walk(p, len, NULL);
    char *w;

    if (n == 0)
        return 0;
    if ((w = gw_buf_reserve(out, n)) == NULL)
        return -1;
    escape_walk(p, len, w);
    gw_buf_commit(out, n);
    return 0;
}

/* ---- common record setup ---- */

/* Drops trailing LF, CR and NUL: framing left over by senders, never content. */
static size_t
trim(const char *line, size_t len)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == '\0'))
        len--;
    return len;
}

static void
rec_reset(struct gw_logrec *rec, const char *line, size_t len, int format)
{
    int64_t recv_ns = rec->recv_ns;
    struct gw_slice input = rec->input, source = rec->source;

    memset(rec, 0, sizeof(*rec));
    rec->recv_ns = recv_ns;
    rec->input = input;
    rec->source = source;
    rec->severity = -1;
    rec->facility = -1;
    rec->format = (uint8_t)format;
    rec->line = slice(line, len);
}

static void
set_pri(struct gw_logrec *rec, int pri)
{
    rec->severity = (int8_t)(pri & 7);
    rec->facility = (int8_t)(pri >> 3);
}

static void
set_unparsed(struct gw_logrec *rec, const char *line, size_t len)
{
    struct cur c = {line, line + len, line};
    int pri;

    rec_reset(rec, line, len, GW_LOGREC_RAW);
    rec->flags = GW_LOGREC_UNPARSED;
    rec->msg = rec->line;
    if (parse_pri(&c, &pri) == 0)
        set_pri(rec, pri);
    if (gw_syslog_needs_escape(line, len))
        rec->flags |= GW_LOGREC_ESCAPED;
}

/* ---- deep copy ---- */

static int
in_line(const struct gw_logrec *r, struct gw_slice s)
{
    return s.len == 0 ||
           (r->line.len && s.ptr >= r->line.ptr && s.ptr + s.len <= r->line.ptr + r->line.len);
}

/* The record's slices other than line, in one place for both passes. */
static void
other_slices(struct gw_logrec *r, struct gw_slice *out[8])
{
    out[0] = &r->host;
    out[1] = &r->app;
    out[2] = &r->procid;
    out[3] = &r->msgid;
    out[4] = &r->sd;
    out[5] = &r->msg;
    out[6] = &r->input;
    out[7] = &r->source;
}

size_t
gw_syslog_rec_copy_size(const struct gw_logrec *rec)
{
    struct gw_logrec r = *rec;
    struct gw_slice *f[8];
    size_t n = r.line.len;

    other_slices(&r, f);
    for (int i = 0; i < 8; i++)
        if (!in_line(&r, *f[i]))
            n += f[i]->len;
    return n;
}

size_t
gw_syslog_rec_copy(struct gw_logrec *dst, const struct gw_logrec *rec, char *storage)
{
    struct gw_logrec r = *rec;
    struct gw_slice *f[8];
    size_t n = r.line.len;

    other_slices(&r, f);
    if (r.line.len)
        memcpy(storage, r.line.ptr, r.line.len);
    for (int i = 0; i < 8; i++) {
        if (f[i]->len == 0) {
            f[i]->ptr = storage;
        } else if (in_line(rec, *f[i])) {
            f[i]->ptr = storage + (f[i]->ptr - rec->line.ptr);
        } else {
            memcpy(storage + n, f[i]->ptr, f[i]->len);
            f[i]->ptr = storage + n;
            n += f[i]->len;
        }
    }
    r.line.ptr = storage;
    *dst = r;
    return n;
}

/* ---- RFC 5424 ---- */

static int
fail5424(const struct cur *c, char *err, const char *what)
{
    return gw_err(err, "rfc5424: bad %s at byte %zu", what, (size_t)(c->p - c->start));
}

/* A header field: NILVALUE ("-", giving an empty slice) or 1..max PRINTUSASCII. */
static int
header_field(struct cur *c, size_t max, struct gw_slice *out)
{
    const char *s = c->p;

    /* 33..126 in one unsigned compare: every header of every line comes through here. */
    while (c->p < c->end && (unsigned char)(*c->p - 33) < 94)
        c->p++;
    if (c->p == s || (size_t)(c->p - s) > max)
        return -1;
    *out = (c->p - s == 1 && *s == '-') ? slice(s, 0) : slice(s, (size_t)(c->p - s));
    return 0;
}

/* SD-NAME: 1..32 PRINTUSASCII except '=', SP, ']' and '"'. */
static int
sd_name(struct cur *c)
{
    const char *s = c->p;
    int ch;

    while ((ch = peek(c)) >= 0 && is_print(ch) && ch != '=' && ch != ']' && ch != '"')
        c->p++;
    return c->p > s && c->p - s <= GW_SYSLOG_SDNAME_MAX ? 0 : -1;
}

/* PARAM-VALUE between quotes: '"', '\' and ']' must be escaped with '\'. A backslash before
 * any other byte is an ordinary character (section 6.3.3). */
static int
sd_value(struct cur *c)
{
    while (!at_end(c)) {
        int ch = (unsigned char)*c->p;
        if (ch == '"')
            return 0;
        if (ch == ']')
            return -1;
        if (ch == '\\' && c->end - c->p >= 2 &&
            (c->p[1] == '"' || c->p[1] == '\\' || c->p[1] == ']'))
            c->p++;
        c->p++;
    }
    return -1;
}

/* One SD-ELEMENT: "[" SD-ID *(SP PARAM-NAME "=" %d34 PARAM-VALUE %d34) "]". */
static int
sd_element(struct cur *c)
{
    if (expect(c, '[') < 0 || sd_name(c) < 0)
        return -1;
    while (peek(c) == ' ') {
        c->p++;
        if (sd_name(c) < 0 || expect(c, '=') < 0 || expect(c, '"') < 0 || sd_value(c) < 0 ||
            expect(c, '"') < 0)
            return -1;
    }
    return expect(c, ']');
}

static int
structured_data(struct cur *c, struct gw_slice *out)
{
    const char *s = c->p;

    if (peek(c) == '-') {
        c->p++;
        *out = slice(s, 0);
        return 0;
    }
    do {
        if (sd_element(c) < 0)
            return -1;
    } while (peek(c) == '[');
    *out = slice(s, (size_t)(c->p - s));
    return 0;
}

int
gw_syslog_sd_valid(const char *sd, size_t len)
{
    struct cur c = {sd, sd + len, sd};
    struct gw_slice out;

    return len > 0 && sd[0] == '[' && structured_data(&c, &out) == 0 && at_end(&c);
}

static int
parse_5424(struct gw_logrec *rec, struct cur *c, char *err)
{
    struct tm_parts t;
    int pri;

    if (parse_pri(c, &pri) < 0)
        return fail5424(c, err, "PRI");
    set_pri(rec, pri);
    if (expect(c, '1') < 0 || expect(c, ' ') < 0)
        return fail5424(c, err, "VERSION (want 1)");
    if (peek(c) == '-') {
        c->p++;
    } else {
        if (parse_3339(c, 1, &t) < 0)
            return fail5424(c, err, "TIMESTAMP");
        set_time(rec, &t, 0);
    }
    if (expect(c, ' ') < 0 || header_field(c, GW_SYSLOG_HOST_MAX, &rec->host) < 0)
        return fail5424(c, err, "HOSTNAME");
    if (expect(c, ' ') < 0 || header_field(c, GW_SYSLOG_APP_MAX, &rec->app) < 0)
        return fail5424(c, err, "APP-NAME");
    if (expect(c, ' ') < 0 || header_field(c, GW_SYSLOG_PROCID_MAX, &rec->procid) < 0)
        return fail5424(c, err, "PROCID");
    if (expect(c, ' ') < 0 || header_field(c, GW_SYSLOG_MSGID_MAX, &rec->msgid) < 0)
        return fail5424(c, err, "MSGID");
    if (expect(c, ' ') < 0 || structured_data(c, &rec->sd) < 0)
        return fail5424(c, err, "STRUCTURED-DATA");
    if (!at_end(c) && expect(c, ' ') < 0)
        return fail5424(c, err, "separator before MSG");
    if (c->end - c->p >= 3 && memcmp(c->p, "\xEF\xBB\xBF", 3) == 0) {
        c->p += 3;
        rec->flags |= GW_LOGREC_BOM;
    }
    rec->msg = slice(c->p, (size_t)(c->end - c->p));
    if (gw_syslog_needs_escape(rec->msg.ptr, rec->msg.len) ||
        gw_syslog_needs_escape(rec->sd.ptr, rec->sd.len))
        rec->flags |= GW_LOGREC_ESCAPED;
    return 0;
}

int
gw_syslog_parse_5424(struct gw_logrec *rec, const char *line, size_t len, char *err)
{
    struct cur c;

    len = trim(line, len);
    c = (struct cur){line, line + len, line};
    rec_reset(rec, line, len, GW_LOGREC_RFC5424);
    return parse_5424(rec, &c, err);
}

/* ---- RFC 3164 ---- */

static int
month(const char *p)
{
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    char m[3];

    for (int i = 0; i < 3; i++)
        m[i] = (char)(p[i] | 0x20);
    for (int i = 0; i < 12; i++)
        if (memcmp(names + 3 * i, m, 3) == 0)
            return i + 1;
    return 0;
}

/* The year that puts month/day/time nearest the receive time (a December line read in
 * January belongs to last year), in the sender's presumed zone. */
static int
infer_year(struct tm_parts *t, int64_t recv_ns, int local_offset_s)
{
    int64_t recv_s = recv_ns / 1000000000LL + local_offset_s;
    int64_t best = -1;
    int y, m, d, best_year = 0;

    civil_from_days(recv_s / 86400 - (recv_s % 86400 < 0), &y, &m, &d);
    for (int cand = y - 1; cand <= y + 1; cand++) {
        if (t->day > mdays(cand, t->mon))
            continue;
        int64_t s =
            days_from_civil(cand, t->mon, t->day) * 86400 + t->hour * 3600 + t->min * 60 + t->sec;
        int64_t dist = s > recv_s ? s - recv_s : recv_s - s;
        if (best < 0 || dist < best) {
            best = dist;
            best_year = cand;
        }
    }
    t->year = best_year;
    return best < 0 ? -1 : 0;
}

/* "Mmm dd[ yyyy] hh:mm:ss[.frac][:]" with dd space- or zero-padded or one digit. */
static int
parse_bsd_time(struct cur *c, int64_t recv_ns, int local_offset_s, struct tm_parts *t)
{
    int year = -1;

    memset(t, 0, sizeof(*t));
    if (c->end - c->p < 14 || (t->mon = month(c->p)) == 0 || c->p[3] != ' ')
        return -1;
    c->p += 4;
    if (peek(c) == ' ')
        c->p++;
    if (!is_digit(peek(c)))
        return -1;
    t->day = *c->p++ - '0';
    if (is_digit(peek(c)))
        t->day = t->day * 10 + (*c->p++ - '0');
    if (expect(c, ' ') < 0)
        return -1;
    if (c->end - c->p >= 5 && is_digit(c->p[2]) && c->p[4] == ' ') {
        if (digits(c, 4, &year) < 0 || expect(c, ' ') < 0)
            return -1;
    }
    if (digits(c, 2, &t->hour) < 0 || expect(c, ':') < 0 || digits(c, 2, &t->min) < 0 ||
        expect(c, ':') < 0 || digits(c, 2, &t->sec) < 0 || parse_frac(c, 9, &t->frac_ns) < 0)
        return -1;
    if (peek(c) == ':' && c->end - c->p >= 2 && c->p[1] == ' ')
        c->p++;
    if (year >= 0)
        t->year = year;
    else if (t->day < 1 || t->day > 31 || infer_year(t, recv_ns, local_offset_s) < 0)
        return -1;
    return valid_clock(t) ? 0 : -1;
}

/* A timestamp followed by SP or the end; on failure the cursor is left where it was. */
static int
bsd_timestamp(struct gw_logrec *rec, struct cur *c, int local_offset_s)
{
    const char *save = c->p;
    struct tm_parts t;

    if (parse_bsd_time(c, rec->recv_ns, local_offset_s, &t) < 0) {
        c->p = save;
        if (parse_3339(c, 0, &t) < 0) {
            c->p = save;
            return -1;
        }
    }
    if (!at_end(c) && peek(c) != ' ') {
        c->p = save;
        return -1;
    }
    set_time(rec, &t, local_offset_s);
    if (!at_end(c))
        c->p++;
    return 0;
}

static int
host_char(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '.' ||
           ch == '-' || ch == '_' || ch == ':';
}

/* HOST: a word of host-name characters, not ending in ':' (then it is a TAG), followed by SP
 * or the end. */
static int
bsd_host(struct gw_logrec *rec, struct cur *c)
{
    const char *s = c->p, *q = c->p;

    while (q < c->end && host_char((unsigned char)*q))
        q++;
    if (q == s || q - s > GW_SYSLOG_HOST_MAX || q[-1] == ':' || (q < c->end && *q != ' '))
        return 0;
    rec->host = slice(s, (size_t)(q - s));
    c->p = q < c->end ? q + 1 : q;
    return 1;
}

static int
tag_char(int ch)
{
    return is_print(ch) && ch != ':' && ch != '[' && ch != ']';
}

/* TAG: "name:", "name[pid]" or "name[pid]:", then SP or the end. loose (after a timestamp
 * and a host, where RFC 3164 puts the TAG) also takes a bare "name" word, as rsyslog does. */
static void
bsd_tag(struct gw_logrec *rec, struct cur *c, int loose)
{
    const char *s = c->p, *q = c->p, *pid = NULL, *name_end;
    size_t pidlen = 0;

    while (q < c->end && tag_char((unsigned char)*q))
        q++;
    if (q == s || q - s > GW_SYSLOG_APP_MAX)
        return;
    name_end = q;
    if (q < c->end && *q == '[') {
        pid = ++q;
        while (q < c->end && tag_char((unsigned char)*q))
            q++;
        pidlen = (size_t)(q - pid);
        if (q == c->end || *q != ']' || pidlen == 0 || pidlen > GW_SYSLOG_PROCID_MAX)
            return;
        q++;
        if (q < c->end && *q == ':')
            q++;
    } else if (q < c->end && *q == ':') {
        q++;
    } else if (!loose) {
        return;
    }
    if (q < c->end && *q != ' ')
        return;
    rec->app = slice(s, (size_t)(name_end - s));
    if (pid)
        rec->procid = slice(pid, pidlen);
    c->p = q < c->end ? q + 1 : q;
}

static int
parse_3164(struct gw_logrec *rec, struct cur *c, int local_offset_s, char *err)
{
    int pri, have_pri, have_time, have_host = 0;

    have_pri = parse_pri(c, &pri) == 0;
    if (have_pri)
        set_pri(rec, pri);
    have_time = bsd_timestamp(rec, c, local_offset_s) == 0;
    if (!have_pri && !have_time)
        return gw_err(err, "rfc3164: no PRI and no timestamp");
    if (have_time)
        have_host = bsd_host(rec, c);
    bsd_tag(rec, c, have_host);
    rec->msg = slice(c->p, (size_t)(c->end - c->p));
    if (gw_syslog_needs_escape(rec->msg.ptr, rec->msg.len))
        rec->flags |= GW_LOGREC_ESCAPED;
    return 0;
}

int
gw_syslog_parse_3164(struct gw_logrec *rec, const char *line, size_t len, int local_offset_s,
                     char *err)
{
    struct cur c;

    len = trim(line, len);
    c = (struct cur){line, line + len, line};
    rec_reset(rec, line, len, GW_LOGREC_RFC3164);
    return parse_3164(rec, &c, local_offset_s, err);
}

/* "<PRI>1 ": the line claims RFC 5424. */
static int
claims_5424(const char *line, size_t len)
{
    struct cur c = {line, line + len, line};
    int pri;

    return parse_pri(&c, &pri) == 0 && c.end - c.p >= 2 && c.p[0] == '1' && c.p[1] == ' ';
}

int
gw_syslog_parse(struct gw_logrec *rec, const char *line, size_t len, int local_offset_s, char *err)
{
    len = trim(line, len);
    if (claims_5424(line, len)) {
        if (gw_syslog_parse_5424(rec, line, len, err) == 0)
            return 0;
    } else if (gw_syslog_parse_3164(rec, line, len, local_offset_s, err) == 0) {
        return 0;
    }
    set_unparsed(rec, line, len);
    return -1;
}

/* ---- formatting ---- */

char *
gw_syslog_format_time(int64_t ns, int offset_min, int utc_z, char *buf)
{
    int64_t secs = ns / 1000000000LL, frac = ns % 1000000000LL, days, sod;
    int y, m, d, off = offset_min < 0 ? -offset_min : offset_min;
    char tmp[128];

    if (frac < 0) {
        frac += 1000000000LL;
        secs--;
    }
    secs += (int64_t)offset_min * 60;
    days = secs / 86400 - (secs % 86400 < 0);
    sod = secs - days * 86400;
    civil_from_days(days, &y, &m, &d);
    if (offset_min == 0 && utc_z)
        snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)(frac / 1000));
    else
        snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06d%c%02d:%02d", y, m, d,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)(frac / 1000),
                 offset_min < 0 ? '-' : '+', off / 60, off % 60);
    gw_strlcpy(buf, tmp, GW_SYSLOG_TIME_LEN);
    return buf;
}

/* A header field, or NILVALUE when empty. */
static int
put_field(struct gw_buf *out, struct gw_slice s)
{
    if (s.len == 0)
        return gw_buf_append(out, " -", 2);
    if (gw_buf_append(out, " ", 1) < 0)
        return -1;
    return gw_buf_append(out, s.ptr, s.len);
}

static int
format_5424(struct gw_buf *out, const struct gw_logrec *rec, struct gw_slice host)
{
    char tbuf[GW_SYSLOG_TIME_LEN];
    int pri = 13;

    if (rec->severity >= 0 && rec->severity <= 7 && rec->facility >= 0 && rec->facility <= 23)
        pri = rec->facility * 8 + rec->severity;
    if (rec->time_ns)
        gw_syslog_format_time(rec->time_ns, rec->flags & GW_LOGREC_TIME_TZ ? rec->tz_offset_min : 0,
                              1, tbuf);
    if (gw_buf_printf(out, "<%d>1 %s", pri, rec->time_ns ? tbuf : "-") < 0 ||
        put_field(out, host) < 0 || put_field(out, rec->app) < 0 ||
        put_field(out, rec->procid) < 0 || put_field(out, rec->msgid) < 0 ||
        gw_buf_append(out, " ", 1) < 0)
        return -1;
    if (rec->sd.len ? gw_syslog_escape(out, rec->sd.ptr, rec->sd.len) < 0
                    : gw_buf_append(out, "-", 1) < 0)
        return -1;
    if (rec->msg.len &&
        (gw_buf_append(out, " ", 1) < 0 || gw_syslog_escape(out, rec->msg.ptr, rec->msg.len) < 0))
        return -1;
    return 0;
}

int
gw_syslog_format_5424(struct gw_buf *out, const struct gw_logrec *rec, const char *default_host)
{
    struct gw_slice host = rec->host;
    struct gw_buf line;
    int rc;

    if (host.len == 0 && default_host)
        host = slice(default_host, strlen(default_host));
    /* Built apart, so a line that does not fit leaves out as it was. */
    gw_buf_init(&line, gw_buf_room(out));
    rc = format_5424(&line, rec, host);
    if (rc == 0)
        rc = gw_buf_append(out, gw_buf_data(&line), gw_buf_len(&line));
    gw_buf_reset(&line);
    return rc;
}

/* ---- structured data walk ---- */

void
gw_syslog_sd_begin(struct gw_sd_iter *it, struct gw_slice sd)
{
    memset(it, 0, sizeof(*it));
    it->p = sd.ptr;
    it->end = sd.ptr + sd.len;
}

static struct gw_slice
take_name(struct gw_sd_iter *it)
{
    const char *s = it->p;

    while (it->p < it->end && *it->p != ' ' && *it->p != '=' && *it->p != ']')
        it->p++;
    return slice(s, (size_t)(it->p - s));
}

int
gw_syslog_sd_next(struct gw_sd_iter *it, struct gw_slice *id, struct gw_slice *name,
                  struct gw_slice *value)
{
    struct cur c;

    *name = slice(it->p, 0);
    *value = slice(it->p, 0);
    if (!it->in_element) {
        if (it->p >= it->end || *it->p != '[')
            return 0;
        it->p++;
        it->id = take_name(it);
        it->in_element = 1;
        *id = it->id;
        return GW_SD_ELEMENT;
    }
    if (it->p < it->end && *it->p == ']') {
        it->p++;
        it->in_element = 0;
        return gw_syslog_sd_next(it, id, name, value);
    }
    if (it->p >= it->end || *it->p != ' ')
        return 0;
    it->p++;
    *id = it->id;
    *name = take_name(it);
    if (it->end - it->p < 2 || it->p[0] != '=' || it->p[1] != '"')
        return 0;
    it->p += 2;
    c = (struct cur){it->p, it->end, it->p};
    if (sd_value(&c) < 0)
        return 0;
    *value = slice(it->p, (size_t)(c.p - it->p));
    it->p = c.p + 1;
    return GW_SD_PARAM;
}

int
gw_syslog_sd_unescape(struct gw_buf *out, struct gw_slice v)
{
    char *w;
    size_t o = 0;

    if (v.len == 0)
        return 0;
    if ((w = gw_buf_reserve(out, v.len)) == NULL)
        return -1;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] == '\\' && i + 1 < v.len &&
            (v.ptr[i + 1] == '"' || v.ptr[i + 1] == '\\' || v.ptr[i + 1] == ']'))
            i++;
        w[o++] = v.ptr[i];
    }
    gw_buf_commit(out, o);
    return 0;
}

/* ---- RFC 6587 framing ---- */

enum { F_START, F_COUNT, F_OCTETS, F_LINE, F_SKIP_N, F_SKIP_LINE };

void
gw_syslog_framer_init(struct gw_syslog_framer *f, size_t max_line, size_t max_count, int flags)
{
    memset(f, 0, sizeof(*f));
    f->max_line = max_line ? max_line : 1;
    f->max_count = max_count ? max_count : GW_SYSLOG_MAX_COUNT_DEFAULT;
    f->flags = flags;
    f->state = F_START;
}

/* First LF (or NUL with GW_SYSLOG_FRAME_NUL) in p[0..n), or NULL. */
static const char *
find_delim(const struct gw_syslog_framer *f, const char *p, size_t n)
{
    const char *lf;

    if (n == 0)
        return NULL;
    lf = memchr(p, '\n', n);
    if (f->flags & GW_SYSLOG_FRAME_NUL) {
        const char *nul = memchr(p, '\0', lf ? (size_t)(lf - p) : n);
        if (nul)
            return nul;
    }
    return lf;
}

static int
is_delim(const struct gw_syslog_framer *f, char ch)
{
    return ch == '\n' || (ch == '\0' && (f->flags & GW_SYSLOG_FRAME_NUL));
}

static int
deliver(struct gw_syslog_framer *f, struct gw_syslog_frame *fr, const char *p, size_t len,
        int truncated, int counted)
{
    fr->data = slice(p, len);
    fr->truncated = truncated;
    fr->octet_counted = counted;
    f->frames++;
    if (truncated)
        f->truncated++;
    return 1;
}

/* Octet count digits, then SP. Returns 1 when the count is complete, 0 when more input is
 * needed, -1 on a bad count. */
static int
read_count(struct gw_syslog_framer *f, const char *p, size_t n, size_t *pos, char *err)
{
    while (*pos < n && is_digit((unsigned char)p[*pos])) {
        if (++f->digits > 10)
            return gw_err(err, "octet count longer than 10 digits");
        f->remain = f->remain * 10 + (uint64_t)(p[*pos] - '0');
        (*pos)++;
    }
    if (*pos == n)
        return 0;
    if (p[*pos] != ' ')
        return gw_err(err, "bad octet count: byte 0x%02x where SP belongs", (unsigned char)p[*pos]);
    (*pos)++;
    if (f->remain > f->max_count)
        return gw_err(err, "octet count %llu over the limit of %zu", (unsigned long long)f->remain,
                      f->max_count);
    return 1;
}

int
gw_syslog_frame_next(struct gw_syslog_framer *f, const char *p, size_t n,
                     struct gw_syslog_frame *fr, size_t *used, char *err)
{
    size_t pos = 0, k;
    const char *d;
    int rc;

    for (;;) {
        *used = pos;
        switch (f->state) {
        case F_START:
            if (pos == n)
                return 0;
            if (p[pos] >= '1' && p[pos] <= '9') {
                f->state = F_COUNT;
                f->remain = 0;
                f->digits = 0;
            } else if (is_delim(f, p[pos])) {
                pos++;
            } else {
                f->state = F_LINE;
                f->scanned = 0;
            }
            break;
        case F_COUNT:
            if ((rc = read_count(f, p, n, &pos, err)) <= 0) {
                *used = pos;
                return rc;
            }
            f->state = f->remain ? F_OCTETS : F_START;
            break;
        case F_OCTETS:
            k = f->remain < f->max_line ? (size_t)f->remain : f->max_line;
            if (n - pos < k)
                return 0;
            f->remain -= k;
            f->state = f->remain ? F_SKIP_N : F_START;
            *used = pos + k;
            return deliver(f, fr, p + pos, k, f->remain != 0, 1);
        case F_SKIP_N:
            k = f->remain < n - pos ? (size_t)f->remain : n - pos;
            pos += k;
            f->remain -= k;
            if (f->remain) {
                *used = pos;
                return 0;
            }
            f->state = F_START;
            break;
        case F_LINE:
            k = GW_MIN(n - pos, f->max_line + 1);
            d = f->scanned < k ? find_delim(f, p + pos + f->scanned, k - f->scanned) : NULL;
            if (d && d - (p + pos) == 1 && p[pos] == '\r') {
                /* A blank CR LF line: nothing to deliver, like an empty one. */
                pos = (size_t)(d - p) + 1;
                f->state = F_START;
                break;
            }
            if (d) {
                f->state = F_START;
                *used = (size_t)(d - p) + 1;
                return deliver(f, fr, p + pos, (size_t)(d - (p + pos)), 0, 0);
            }
            if (k == f->max_line + 1) {
                f->state = F_SKIP_LINE;
                *used = pos + f->max_line;
                return deliver(f, fr, p + pos, f->max_line, 1, 0);
            }
            f->scanned = k;
            return 0;
        case F_SKIP_LINE:
            d = find_delim(f, p + pos, n - pos);
            if (!d) {
                *used = n;
                return 0;
            }
            pos = (size_t)(d - p) + 1;
            f->state = F_START;
            break;
        }
    }
}

size_t
gw_syslog_frame_need(const struct gw_syslog_framer *f, size_t have, const char *p, size_t n)
{
    size_t k;
    const char *d;

    if (have == 0)
        return 0;
    switch (f->state) {
    case F_OCTETS:
        /* The kept bytes are the frame's first octets; it is delivered at k of them. */
        k = f->remain < f->max_line ? (size_t)f->remain : f->max_line;
        return k > have ? GW_MIN(k - have, n) : 0;
    case F_LINE:
        /* Up to the delimiter, or as far as gw_syslog_frame_next looks (max_line + 1). */
        k = f->max_line + 1 > have ? GW_MIN(f->max_line + 1 - have, n) : 0;
        d = find_delim(f, p, k);
        return d ? (size_t)(d - p) + 1 : k;
    default:
        return 0;
    }
}

int
gw_syslog_frame_eof(struct gw_syslog_framer *f, const char *p, size_t n, struct gw_syslog_frame *fr,
                    char *err)
{
    int state = f->state, rc = 0;

    f->state = F_START;
    f->remain = 0;
    f->digits = 0;
    f->scanned = 0;
    if (state == F_COUNT)
        return gw_err(err, "stream ended inside an octet count");
    if (state == F_LINE && n > 0)
        rc = deliver(f, fr, p, GW_MIN(n, f->max_line), n > f->max_line, 0);
    else if (state == F_OCTETS && n > 0)
        rc = deliver(f, fr, p, GW_MIN(n, f->max_line), 1, 1);
    return rc;
}
