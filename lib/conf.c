/*
 * conf.c -- gwkit.conf: libinih splits each line, the schema tables check what it found.
 *
 * Each physical line goes to libinih on its own, followed by a probe line "gw_conf_probe=1".
 * That way every line gets inih's verdict (so every syntax error is reported, not only the
 * first), line numbers are ours and always right, a section header's name comes back as the
 * probe's section, and a too-long line is refused before inih could cut it in two.
 */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "net.h"
#include "progs.h"

/* inih keeps a section name in 50 bytes and cuts longer ones without a word. */
#define INIH_SECTION_LEN 50
#define MAX_SECTION_NAME (INIH_SECTION_LEN - 2)
#define PROBE "gw_conf_probe=1"
#define MSG_LEN 512
/* User text quoted in a message is cut to this many bytes. */
#define QUOTE_LEN 64
#define QBUF (QUOTE_LEN + 4)

/* More than gwkit will ever have: every daemon's section and the named ones they own. */
#define MAX_KNOWN_SECTIONS 32

struct val {
    char *text;         /* NULL: not set by any source, the default applies */
    int64_t num;        /* int, bool, duration (ms), size (bytes), enum (index) */
    char *origin;       /* "file:line" or "env NAME"; NULL for a default */
    unsigned seen_load; /* the load that last named this key, to catch duplicates */
    int seen_line;
};

struct inst {
    char *name; /* NULL for an unnamed section */
    unsigned seen_load;
    int seen_line;
    struct val *vals; /* one per key */
};

struct sec {
    const struct gw_conf_section *s;
    size_t nkeys;
    struct val *defs; /* the schema's defaults */
    struct inst *insts;
    size_t ninsts, cap; /* an unnamed section has exactly one instance */
};

struct gw_conf {
    struct sec *secs;
    size_t nsecs;
    char **errs;
    size_t nerrs;
    size_t nerrs_added; /* including those past GW_CONF_MAX_ERRORS */
    unsigned load;      /* bumped by each load, so duplicates are per source */
};

enum { AT_NONE, AT_SECTION, AT_SKIP };

struct load {
    struct gw_conf *c;
    const char *name;
    int line;
    int state;
    struct sec *sec;
    struct inst *inst;
    const char *src; /* a string source, or NULL */
    FILE *f;         /* a file source, or NULL */
    int read_errno;
    /* one line through inih */
    const char *text;
    const char *long_value; /* a value too long for inih's buffer, or NULL */
    char short_line[INIH_SECTION_LEN + 8];
    int step, too_long, calls;
    char key[GW_CONF_MAX_LINE + 1], value[GW_CONF_MAX_LINE + 1];
    char section[INIH_SECTION_LEN + 1];
};

/* Copies s for a message: cut to QUOTE_LEN bytes, non-printable bytes as '?'. */
static const char *
q(char *buf, const char *s)
{
    size_t i;

    for (i = 0; s[i] && i < QUOTE_LEN; i++)
        buf[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
    if (s[i])
        memcpy(buf + i, "...", 3), i += 3;
    buf[i] = '\0';
    return buf;
}

static void add_err(struct gw_conf *c, const char *fmt, ...) GW_PRINTF(2, 3);

static void
add_err(struct gw_conf *c, const char *fmt, ...)
{
    char msg[MSG_LEN], **errs, *e;
    va_list ap;

    c->nerrs_added++;
    if (c->nerrs > GW_CONF_MAX_ERRORS)
        return;
    if (c->nerrs == GW_CONF_MAX_ERRORS) {
        gw_strlcpy(msg, "too many errors", sizeof msg);
    } else {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    if ((errs = realloc(c->errs, (c->nerrs + 1) * sizeof *errs)) == NULL)
        return;
    c->errs = errs;
    if ((e = strdup(msg)) == NULL)
        return;
    c->errs[c->nerrs++] = e;
}

static void lerr(struct load *ld, const char *fmt, ...) GW_PRINTF(2, 3);

static void
lerr(struct load *ld, const char *fmt, ...)
{
    char msg[MSG_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    add_err(ld->c, "%s:%d: %s", ld->name, ld->line, msg);
}

/* Digits at s into *v; returns the end, or NULL without a digit. *ovf is set past INT64_MAX. */
static const char *
digits(const char *s, int64_t *v, int *ovf)
{
    const char *p;
    int64_t n = 0;

    *ovf = 0;
    for (p = s; *p >= '0' && *p <= '9'; p++) {
        if (n > (INT64_MAX - (*p - '0')) / 10)
            *ovf = 1;
        else
            n = n * 10 + (*p - '0');
    }
    *v = n;
    return p == s ? NULL : p;
}

static int
parse_int(const char *s, int64_t *v, char *err)
{
    char b[QBUF];
    const char *p = s;
    int neg = 0, ovf;

    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if ((p = digits(p, v, &ovf)) == NULL || *p)
        return gw_err(err, "expected an integer, got '%s'", q(b, s));
    if (ovf)
        return gw_err(err, "%s is too large", q(b, s));
    if (neg)
        *v = -*v;
    return 0;
}

int
gw_conf_parse_duration(const char *s, int64_t *ms, char *err)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    char b[QBUF];
    const char *p;
    int64_t n;
    size_t i;
    int ovf;

    if ((p = digits(s, &n, &ovf)) != NULL) {
        for (i = 0; i < GW_ARRAY_LEN(units); i++) {
            if (strcmp(p, units[i].unit) != 0)
                continue;
            if (ovf || __builtin_mul_overflow(n, units[i].ms, ms))
                return gw_err(err, "duration '%s' is too large", q(b, s));
            return 0;
        }
    }
    return gw_err(err, "bad duration '%s' (use ms, s, m, h or d)", q(b, s));
}

int
gw_conf_parse_size(const char *s, int64_t *bytes, char *err)
{
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"", 1},          {"b", 1},          {"k", 1 << 10},    {"kb", 1 << 10},
                 {"kib", 1 << 10}, {"m", 1 << 20},    {"mb", 1 << 20},   {"mib", 1 << 20},
                 {"g", 1ll << 30}, {"gb", 1ll << 30}, {"gib", 1ll << 30}};
    char b[QBUF], unit[4];
    const char *p;
    int64_t n;
    size_t i;
    int ovf;

    if ((p = digits(s, &n, &ovf)) != NULL && strlen(p) < sizeof unit) {
        for (i = 0; p[i]; i++)
            unit[i] = (char)tolower((unsigned char)p[i]);
        unit[i] = '\0';
        for (i = 0; i < GW_ARRAY_LEN(units); i++) {
            if (strcmp(unit, units[i].unit) != 0)
                continue;
            if (ovf || __builtin_mul_overflow(n, units[i].mult, bytes))
                return gw_err(err, "size '%s' is too large", q(b, s));
            return 0;
        }
    }
    return gw_err(err, "bad size '%s' (use k, m or g)", q(b, s));
}

int
gw_conf_parse_bool(const char *s, int *on, char *err)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    char b[QBUF];
    size_t i;

    for (i = 0; i < GW_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *on = strcasecmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return gw_err(err, "expected yes/no, true/false, on/off or 1/0, got '%s'", q(b, s));
}

/* Index of s among "a|b|c" (any case), or -1. */
static int
enum_index(const char *choices, const char *s, const char **canon, size_t *canon_len)
{
    const char *p = choices, *bar;
    size_t len, slen = strlen(s);
    int i;

    for (i = 0;; i++) {
        bar = strchr(p, '|');
        len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == slen && strncasecmp(p, s, len) == 0) {
            *canon = p;
            *canon_len = len;
            return i;
        }
        if (!bar)
            return -1;
        p = bar + 1;
    }
}

static int
parse_enum(const struct gw_conf_key *k, const char *s, int64_t *v, char *canon, char *err)
{
    char b[QBUF], list[GW_ERR_LEN / 2], *d;
    const char *c;
    size_t len;
    int i;

    if ((i = enum_index(k->choices, s, &c, &len)) >= 0) {
        memcpy(canon, c, len);
        canon[len] = '\0';
        *v = i;
        return 0;
    }
    gw_strlcpy(list, k->choices, sizeof list);
    for (d = list; (d = strchr(d, '|')) != NULL;)
        *d = ',';
    return gw_err(err, "'%s' is not one of %s", q(b, s), list);
}

/* Spaces after the commas of an enum's list: "a, b, c". Done apart so the list above fits. */
static void
space_list(char *err)
{
    char tmp[GW_ERR_LEN], *o = tmp;
    const char *p;

    for (p = err; *p && o < tmp + sizeof tmp - 2; p++) {
        *o++ = *p;
        if (*p == ',')
            *o++ = ' ';
    }
    *o = '\0';
    gw_strlcpy(err, tmp, GW_ERR_LEN);
}

static int
is_hostname(const char *s, size_t len)
{
    size_t i, label = 0;
    int alpha = 0;

    if (len == 0 || len > 253)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            label = 0;
        } else if (isalnum(ch) || ch == '-' || ch == '_') {
            if ((label == 0 && ch == '-') || ++label > 63)
                return 0;
            alpha |= isalpha(ch) != 0;
        } else {
            return 0;
        }
    }
    return alpha && s[len - 1] != '-';
}

/* Printable UTF-8: no control bytes, no malformed or overlong sequences, no surrogates. */
static int
is_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned cp, min, need;

    while (*p) {
        if (*p < 0x80) {
            if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
                return 0;
            p++;
            continue;
        }
        if (*p >= 0xc2 && *p <= 0xdf)
            need = 1, min = 0x80, cp = *p & 0x1f;
        else if (*p >= 0xe0 && *p <= 0xef)
            need = 2, min = 0x800, cp = *p & 0x0f;
        else if (*p >= 0xf0 && *p <= 0xf4)
            need = 3, min = 0x10000, cp = *p & 0x07;
        else
            return 0;
        for (p++; need; need--, p++) {
            if ((*p & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (*p & 0x3f);
        }
        if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return 0;
    }
    return 1;
}

/* Names are resolved by the program when it uses the address (and a config check must not wait
 * on DNS), so a host name is checked for form here. net.c judges everything else, the port
 * first, so its message names the real fault. */
static int
parse_addr(const char *s, char *err)
{
    char nerr[GW_ERR_LEN], tmp[GW_CONF_MAX_LINE + 16], b[QBUF], h[QBUF];
    const char *colon = strrchr(s, ':');
    struct gw_addr a;
    size_t n;

    if (!is_text(s))
        return gw_err(err, "bad address: not printable UTF-8 text");
    if (gw_net_parse_addr(s, GW_NET_NO_RESOLVE, &a, nerr) == 0)
        return 0;
    if (s[0] == '[' || s[0] == '*' || !colon || strncmp(s, "unix:", 5) == 0)
        return gw_err(err, "bad address: %s", nerr);
    n = (size_t)(colon - s);
    snprintf(tmp, sizeof tmp, "127.0.0.1%s", colon);
    if (n == 0 || strspn(s, "0123456789.") >= n || memchr(s, '[', n) || memchr(s, ']', n) ||
        memchr(s, ':', n) || gw_net_parse_addr(tmp, GW_NET_NO_RESOLVE, &a, NULL) < 0)
        return gw_err(err, "bad address: %s", nerr);
    if (is_hostname(s, n))
        return 0;
    snprintf(tmp, sizeof tmp, "%.*s", (int)GW_MIN(n, QUOTE_LEN), s);
    return gw_err(err, "bad address: bad host name '%s' in '%s'", q(h, tmp), q(b, s));
}

static void
fmt_num(char *buf, size_t len, enum gw_conf_type type, int64_t v)
{
    static const struct {
        int64_t mult;
        const char *unit;
    } dur[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}},
      size[] = {{1ll << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}};
    size_t i;

    if (type == GW_CONF_DURATION && v != 0) {
        for (i = 0; i < GW_ARRAY_LEN(dur); i++) {
            if (v % dur[i].mult == 0) {
                snprintf(buf, len, "%" PRId64 "%s", v / dur[i].mult, dur[i].unit);
                return;
            }
        }
        snprintf(buf, len, "%" PRId64 "ms", v);
        return;
    }
    if (type == GW_CONF_SIZE && v != 0) {
        for (i = 0; i < GW_ARRAY_LEN(size); i++) {
            if (v % size[i].mult == 0) {
                snprintf(buf, len, "%" PRId64 "%s", v / size[i].mult, size[i].unit);
                return;
            }
        }
        snprintf(buf, len, "%" PRId64 "B", v);
        return;
    }
    snprintf(buf, len, "%" PRId64 "%s", v, type == GW_CONF_DURATION ? "s" : "");
}

/* "1..1024", "1s..1h", "at least 1", "at most 10". */
static void
fmt_range(char *buf, size_t len, const struct gw_conf_key *k)
{
    char lo[32], hi[32];

    fmt_num(lo, sizeof lo, k->type, k->min);
    fmt_num(hi, sizeof hi, k->type, k->max);
    if (k->max == INT64_MAX)
        snprintf(buf, len, "at least %s", lo);
    else if (k->min == INT64_MIN)
        snprintf(buf, len, "at most %s", hi);
    else
        snprintf(buf, len, "%s..%s", lo, hi);
}

static int
bounded(const struct gw_conf_key *k)
{
    return (k->type == GW_CONF_INT || k->type == GW_CONF_DURATION || k->type == GW_CONF_SIZE) &&
           (k->min != 0 || k->max != 0);
}

/* Parses s for key k into *num and canon (the text to keep, GW_CONF_MAX_LINE + 1 bytes);
 * -1 with err as "'key': reason". */
static int
parse_value(const struct gw_conf_key *k, const char *s, int64_t *num, char *canon, char *err)
{
    char why[GW_ERR_LEN], b[QBUF], range[80];
    int rc = 0, on = 0;

    *num = 0;
    gw_strlcpy(canon, s, GW_CONF_MAX_LINE + 1);
    switch (k->type) {
    case GW_CONF_INT:
        rc = parse_int(s, num, why);
        break;
    case GW_CONF_BOOL:
        rc = gw_conf_parse_bool(s, &on, why);
        *num = on;
        break;
    case GW_CONF_STRING:
        if (!is_text(s))
            rc = gw_err(why, "not printable UTF-8 text");
        break;
    case GW_CONF_DURATION:
        rc = gw_conf_parse_duration(s, num, why);
        break;
    case GW_CONF_SIZE:
        rc = gw_conf_parse_size(s, num, why);
        break;
    case GW_CONF_ADDR:
        rc = parse_addr(s, why);
        break;
    case GW_CONF_ENUM:
        if ((rc = parse_enum(k, s, num, canon, why)) < 0)
            space_list(why);
        break;
    }
    if (rc == 0 && bounded(k) && (*num < k->min || *num > k->max)) {
        fmt_range(range, sizeof range, k);
        rc = gw_err(why, "%s is out of range (%s)", q(b, s), range);
    }
    if (rc < 0)
        return gw_err(err, "'%s': %s", k->name, why);
    return 0;
}

/* Trims blanks, in place. */
static char *
trim(char *s)
{
    size_t len;

    while (isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

/* Trims blanks and one pair of surrounding double quotes, in place; NULL when the opening
 * quote has no closing one (inih ends a value at " ;" even inside quotes). */
static char *
unquote(char *s)
{
    size_t len;

    s = trim(s);
    len = strlen(s);
    if (s[0] != '"')
        return s;
    if (len < 2 || s[len - 1] != '"')
        return NULL;
    s[len - 1] = '\0';
    return s + 1;
}

static int
set_value(struct val *v, const struct gw_conf_key *k, const char *text, const char *origin,
          char *err)
{
    char canon[GW_CONF_MAX_LINE + 1], *t, *o;
    int64_t num;

    if (parse_value(k, text, &num, canon, err) < 0)
        return -1;
    t = strdup(canon);
    o = strdup(origin);
    if (!t || !o) {
        free(t);
        free(o);
        return gw_err(err, "out of memory");
    }
    free(v->text);
    free(v->origin);
    v->text = t;
    v->origin = o;
    v->num = num;
    return 0;
}

/* Considers cand as a did-you-mean for word (lower-cased by the caller). */
static void
consider(const char *word, const char *cand, const char **best, unsigned *bestd)
{
    unsigned d = gw_edit_distance(word, cand), len = (unsigned)strlen(word);

    if (d >= len || d > GW_MAX(2u, len / 3))
        return;
    if (d < *bestd) {
        *best = cand;
        *bestd = d;
    }
}

static void
lower(char *dst, const char *src, size_t n)
{
    size_t i;

    for (i = 0; src[i] && i + 1 < n; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

/* ", did you mean 'listen'?" or "". */
static void
suggest_key(char *buf, size_t len, const struct sec *sec, const char *key)
{
    const char *best = NULL;
    unsigned bestd = ~0u;
    char low[80];
    size_t i;

    lower(low, key, sizeof low);
    for (i = 0; i < sec->nkeys; i++)
        consider(low, sec->s->keys[i].name, &best, &bestd);
    if (best)
        snprintf(buf, len, ", did you mean '%s'?", best);
    else
        buf[0] = '\0';
}

static struct sec *
find_sec(const struct gw_conf *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->nsecs; i++)
        if (strcmp(c->secs[i].s->name, name) == 0)
            return &c->secs[i];
    return NULL;
}

static int
find_key(const struct sec *sec, const char *key)
{
    size_t i;

    for (i = 0; i < sec->nkeys; i++)
        if (strcmp(sec->s->keys[i].name, key) == 0)
            return (int)i;
    return -1;
}

static struct inst *
find_inst(const struct sec *sec, const char *name)
{
    size_t i;

    if (!sec->s->named)
        return &sec->insts[0];
    for (i = 0; i < sec->ninsts; i++)
        if (strcmp(sec->insts[i].name, name) == 0)
            return &sec->insts[i];
    return NULL;
}

static struct inst *
add_inst(struct sec *sec, const char *name)
{
    struct inst *in;
    size_t ncap;

    if (sec->ninsts == sec->cap) {
        ncap = sec->cap ? sec->cap * 2 : 4;
        if ((in = realloc(sec->insts, ncap * sizeof *in)) == NULL)
            return NULL;
        sec->insts = in;
        sec->cap = ncap;
    }
    in = &sec->insts[sec->ninsts];
    memset(in, 0, sizeof *in);
    if (name && (in->name = strdup(name)) == NULL)
        return NULL;
    if ((in->vals = calloc(sec->nkeys ? sec->nkeys : 1, sizeof *in->vals)) == NULL) {
        free(in->name);
        return NULL;
    }
    sec->ninsts++;
    return in;
}

static int
valid_name(const char *s, size_t max)
{
    size_t i;

    for (i = 0; s[i]; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return 0;
    return i > 0 && i <= max;
}

static int
known_section(const char *name)
{
    const char *known[MAX_KNOWN_SECTIONS];
    size_t i, n = gw_prog_sections(known, MAX_KNOWN_SECTIONS);

    for (i = 0; i < n && i < MAX_KNOWN_SECTIONS; i++)
        if (strcmp(known[i], name) == 0)
            return 1;
    return 0;
}

static void
unknown_section(struct load *ld, const char *type, const char *name)
{
    const char *best = NULL, *known[MAX_KNOWN_SECTIONS];
    unsigned bestd = ~0u;
    char low[INIH_SECTION_LEN + 1], header[INIH_SECTION_LEN + 2], b[QBUF];
    size_t i, n = gw_prog_sections(known, MAX_KNOWN_SECTIONS);

    lower(low, type, sizeof low);
    for (i = 0; i < n && i < MAX_KNOWN_SECTIONS; i++)
        consider(low, known[i], &best, &bestd);
    for (i = 0; i < ld->c->nsecs; i++)
        consider(low, ld->c->secs[i].s->name, &best, &bestd);
    snprintf(header, sizeof header, "%s%s%s", type, *name ? " " : "", name);
    if (best)
        lerr(ld, "unknown section [%s], did you mean [%s]?", q(b, header), best);
    else
        lerr(ld, "unknown section [%s]", q(b, header));
}

static void
named_section(struct load *ld, struct sec *sec, const char *type, const char *name)
{
    struct inst *in;
    char b[QBUF];

    if (!*name) {
        lerr(ld, "[%s] needs a name: [%s NAME]", type, type);
    } else if (!valid_name(name, GW_CONF_MAX_NAME)) {
        lerr(ld, "bad name '%s' for [%s] (use up to %d letters, digits, '.', '_' or '-')",
             q(b, name), type, GW_CONF_MAX_NAME);
    } else if ((in = find_inst(sec, name)) && in->seen_load == ld->c->load) {
        lerr(ld, "duplicate section [%s %s] (first at line %d)", type, name, in->seen_line);
    } else if (!in && sec->ninsts == GW_CONF_MAX_INSTANCES) {
        lerr(ld, "too many [%s] sections (max %d)", type, GW_CONF_MAX_INSTANCES);
    } else if (!in && (in = add_inst(sec, name)) == NULL) {
        lerr(ld, "out of memory");
    } else {
        in->seen_load = ld->c->load;
        in->seen_line = ld->line;
        ld->inst = in;
        ld->state = AT_SECTION;
    }
}

static void
on_section(struct load *ld, const char *raw)
{
    char header[INIH_SECTION_LEN + 1], *type, *name;
    struct sec *sec;

    ld->state = AT_SKIP;
    ld->sec = NULL;
    ld->inst = NULL;
    gw_strlcpy(header, raw, sizeof header);
    type = trim(header);
    for (name = type; *name && !isspace((unsigned char)*name); name++)
        ;
    if (*name)
        *name++ = '\0';
    while (isspace((unsigned char)*name))
        name++;
    if (strlen(raw) > MAX_SECTION_NAME) {
        lerr(ld, "section name too long (max %d bytes)", MAX_SECTION_NAME);
    } else if (!*type) {
        lerr(ld, "empty section name []");
    } else if ((sec = find_sec(ld->c, type)) == NULL) {
        if (!known_section(type))
            unknown_section(ld, type, name);
    } else if (sec->s->named) {
        ld->sec = sec;
        named_section(ld, sec, type, name);
    } else if (*name) {
        lerr(ld, "[%s] takes no name", type);
    } else {
        ld->sec = sec;
        ld->inst = &sec->insts[0];
        ld->state = AT_SECTION;
    }
}

static void
on_key(struct load *ld, const char *key, char *value)
{
    char sname[INIH_SECTION_LEN + 1], hint[96], b[QBUF], origin[GW_ERR_LEN], err[GW_ERR_LEN];
    const struct gw_conf_key *k;
    struct val *v;
    int ki;

    if (!*key) {
        lerr(ld, "syntax error: expected key = value");
        return;
    }
    if (ld->state != AT_SECTION) {
        if (ld->state == AT_NONE)
            lerr(ld, "key '%s' outside a section", q(b, key));
        return;
    }
    if (ld->inst->name)
        snprintf(sname, sizeof sname, "%s %s", ld->sec->s->name, ld->inst->name);
    else
        gw_strlcpy(sname, ld->sec->s->name, sizeof sname);
    if ((ki = find_key(ld->sec, key)) < 0) {
        suggest_key(hint, sizeof hint, ld->sec, key);
        lerr(ld, "unknown key '%s' in [%s]%s", q(b, key), sname, hint);
        return;
    }
    k = &ld->sec->s->keys[ki];
    v = &ld->inst->vals[ki];
    if (v->seen_load == ld->c->load) {
        lerr(ld, "duplicate key '%s' in [%s] (first at line %d)", key, sname, v->seen_line);
        return;
    }
    v->seen_load = ld->c->load;
    v->seen_line = ld->line;
    snprintf(origin, sizeof origin, "%s:%d", ld->name, ld->line);
    if ((value = unquote(value)) == NULL)
        lerr(ld, "'%s': missing closing quote", key);
    else if (set_value(v, k, value, origin, err) < 0)
        lerr(ld, "%s", err);
}

/* inih's handler. The last call of a line is the probe's, whose section is the one inih saw. */
/* Debian's libinih reads lines into a fixed 200-byte buffer. A longer "key = value" line goes
 * through inih as "key = <mark>" and the value is taken here, the way inih would have: up to an
 * inline " ;" comment, without surrounding blanks. */
#define LONG_MARK "\x01"
#define INIH_LINE 196

static void
long_value(char *dst, const char *src)
{
    size_t n;

    while (*src == ' ' || *src == '\t')
        src++;
    n = strlen(src);
    for (size_t i = 1; i < n; i++)
        if (src[i] == ';' && (src[i - 1] == ' ' || src[i - 1] == '\t')) {
            n = i;
            break;
        }
    while (n && isspace((unsigned char)src[n - 1]))
        n--;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static const char *
shorten(struct load *ld, const char *text)
{
    const char *eq = strpbrk(text, "=:");

    ld->long_value = NULL;
    if (strlen(text) <= INIH_LINE || *text == '[' || *text == ';' || *text == '#' || !eq ||
        (size_t)(eq - text) + sizeof(LONG_MARK) + 1 > sizeof(ld->short_line))
        return text;
    memcpy(ld->short_line, text, (size_t)(eq - text) + 1);
    strcpy(ld->short_line + (eq - text) + 1, LONG_MARK);
    ld->long_value = eq + 1;
    return ld->short_line;
}

static int
on_ini(void *user, const char *section, const char *name, const char *value)
{
    struct load *ld = user;

    if (ld->calls++ == 0) {
        gw_strlcpy(ld->key, name, sizeof ld->key);
        if (ld->long_value && value && strcmp(value, LONG_MARK) == 0)
            long_value(ld->value, ld->long_value);
        else
            gw_strlcpy(ld->value, value ? value : "", sizeof ld->value);
    }
    gw_strlcpy(ld->section, section, sizeof ld->section);
    return 1;
}

/* inih's reader: the line, then the probe, then the end. */
static char *
feed(char *str, int num, void *stream)
{
    struct load *ld = stream;
    const char *src = ld->step == 0 ? ld->text : ld->step == 1 ? PROBE : NULL;
    size_t n;

    ld->step++;
    if (!src)
        return NULL;
    n = strlen(src);
    if (num < 2 || n + 2 > (size_t)num) {
        ld->too_long = 1;
        return NULL;
    }
    memcpy(str, src, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

static void
do_line(struct load *ld, const char *text)
{
    int rc;

    if (ld->line == 1 && strncmp(text, "\xef\xbb\xbf", 3) == 0)
        text += 3;
    /* Without leading blanks inih never takes a line for a continuation of the last value. */
    while (isspace((unsigned char)*text))
        text++;
    ld->text = shorten(ld, text);
    ld->step = ld->too_long = ld->calls = 0;
    rc = ini_parse_stream(feed, ld, on_ini, ld);
    if (ld->too_long)
        lerr(ld, "line too long (max %d bytes)", GW_CONF_MAX_LINE);
    else if (rc != 0 && *text == '[')
        lerr(ld, "syntax error: missing ']'");
    else if (rc != 0)
        lerr(ld, "syntax error: expected key = value");
    else if (*text == '[')
        on_section(ld, ld->section);
    else if (ld->calls == 2)
        on_key(ld, ld->key, ld->value);
}

/* Next line of a string into buf (GW_CONF_MAX_LINE + 2 bytes) without its end of line;
 * 0 at the end. *too_long is set for a longer line, whose rest is skipped. */
static int
next_string_line(struct load *ld, char *buf, int *too_long)
{
    const char *end;
    size_t len;

    if (!*ld->src)
        return 0;
    end = strchrnul(ld->src, '\n');
    len = (size_t)(end - ld->src);
    *too_long = len > GW_CONF_MAX_LINE + 1;
    if (!*too_long) {
        memcpy(buf, ld->src, len);
        buf[len] = '\0';
    }
    ld->src = *end ? end + 1 : end;
    return 1;
}

static int
next_file_line(struct load *ld, char *buf, int *too_long, int *nul)
{
    size_t len = 0;
    int ch, any = 0;

    *too_long = *nul = 0;
    while ((ch = getc_unlocked(ld->f)) != EOF) {
        any = 1;
        if (ch == '\n')
            break;
        if (ch == '\0')
            *nul = 1;
        if (len > GW_CONF_MAX_LINE)
            *too_long = 1;
        else
            buf[len++] = (char)ch;
    }
    if (ch == EOF && ferror(ld->f))
        ld->read_errno = errno;
    buf[len] = '\0';
    return any;
}

static int
run_load(struct gw_conf *c, struct load *ld)
{
    char buf[GW_CONF_MAX_LINE + 2];
    size_t before = c->nerrs_added, len;
    int more, too_long, nul = 0;

    c->load++;
    for (;;) {
        more =
            ld->f ? next_file_line(ld, buf, &too_long, &nul) : next_string_line(ld, buf, &too_long);
        if (!more)
            break;
        if (ld->line == GW_CONF_MAX_LINES) {
            lerr(ld, "too many lines (max %d)", GW_CONF_MAX_LINES);
            break;
        }
        ld->line++;
        len = too_long ? 0 : strlen(buf);
        if (len && buf[len - 1] == '\r')
            buf[--len] = '\0';
        if (too_long || len > GW_CONF_MAX_LINE)
            lerr(ld, "line too long (max %d bytes)", GW_CONF_MAX_LINE);
        else if (nul)
            lerr(ld, "line contains a NUL byte");
        else
            do_line(ld, buf);
    }
    return c->nerrs_added == before ? 0 : -1;
}

int
gw_conf_load_string(struct gw_conf *c, const char *name, const char *text)
{
    struct load ld = {.c = c, .name = name, .src = text};

    return run_load(c, &ld);
}

int
gw_conf_load_file(struct gw_conf *c, const char *path)
{
    struct load ld = {.c = c, .name = path};
    int rc;

    if ((ld.f = fopen(path, "re")) == NULL) {
        add_err(c, "%s: cannot open: %s", path, strerror(errno));
        c->load++;
        return -1;
    }
    rc = run_load(c, &ld);
    if (ferror(ld.f)) {
        add_err(c, "%s: read error: %s", path, strerror(ld.read_errno));
        rc = -1;
    }
    fclose(ld.f);
    return rc;
}

/* The schema section an environment variable names: the longest "GWKIT_<SECTION>_" prefix. */
static struct sec *
env_section(struct gw_conf *c, const char *var, size_t *prefix)
{
    struct sec *best = NULL;
    size_t i, j, len;
    const char *name;

    for (i = 0; i < c->nsecs; i++) {
        if (c->secs[i].s->named)
            continue;
        name = c->secs[i].s->name;
        len = strlen(name);
        for (j = 0; j < len; j++)
            if (var[6 + j] != toupper((unsigned char)name[j]))
                break;
        if (j == len && var[6 + len] == '_' && (!best || 7 + len > *prefix)) {
            best = &c->secs[i];
            *prefix = 7 + len;
        }
    }
    return best;
}

static void
apply_env_var(struct gw_conf *c, const char *var)
{
    char vname[QBUF], key[QBUF], hint[96], err[GW_ERR_LEN], origin[GW_ERR_LEN];
    char value[GW_CONF_MAX_LINE + 1], *v;
    const char *eq = strchr(var, '=');
    struct sec *sec;
    size_t prefix = 0;
    int ki;

    if (strncmp(var, "GWKIT_", 6) != 0 || !eq || (sec = env_section(c, var, &prefix)) == NULL ||
        var + prefix > eq)
        return;
    snprintf(vname, sizeof vname, "%.*s", (int)(eq - var), var);
    q(vname, vname);
    lower(key, vname + prefix, sizeof key);
    if ((ki = find_key(sec, key)) < 0 || (size_t)(eq - var) - prefix >= sizeof key) {
        suggest_key(hint, sizeof hint, sec, key);
        add_err(c, "env %s: unknown key '%s' in [%s]%s", vname, key, sec->s->name, hint);
        return;
    }
    if (strlen(eq + 1) > GW_CONF_MAX_LINE) {
        add_err(c, "env %s: value too long (max %d bytes)", vname, GW_CONF_MAX_LINE);
        return;
    }
    gw_strlcpy(value, eq + 1, sizeof value);
    snprintf(origin, sizeof origin, "env %s", vname);
    if ((v = unquote(value)) == NULL)
        add_err(c, "env %s: '%s': missing closing quote", vname, sec->s->keys[ki].name);
    else if (set_value(&sec->insts[0].vals[ki], &sec->s->keys[ki], v, origin, err) < 0)
        add_err(c, "env %s: %s", vname, err);
}

int
gw_conf_apply_env(struct gw_conf *c, char *const *envp)
{
    size_t before = c->nerrs_added;

    c->load++;
    for (; envp && *envp; envp++)
        apply_env_var(c, *envp);
    return c->nerrs_added == before ? 0 : -1;
}

size_t
gw_conf_error_count(const struct gw_conf *c)
{
    return c->nerrs;
}

const char *
gw_conf_error(const struct gw_conf *c, size_t i)
{
    return i < c->nerrs ? c->errs[i] : NULL;
}

static int
valid_ident(const char *s)
{
    size_t i;

    if (!s || !*s)
        return 0;
    for (i = 0; s[i]; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= '0' && s[i] <= '9') && s[i] != '_')
            return 0;
    return i <= MAX_SECTION_NAME;
}

static int
valid_choices(const char *s)
{
    const char *p;

    if (!s || !*s || *s == '|')
        return 0;
    for (p = s; *p; p++)
        if (*p == '|' && (p[1] == '|' || p[1] == '\0'))
            return 0;
    return strlen(s) < GW_ERR_LEN / 2;
}

/* 1 when the key's bound field (if any) can hold every value the key may take. */
static int
field_fits(const struct gw_conf_key *k)
{
    int bits;

    if (k->size == 0)
        return k->offset == 0;
    if (k->type == GW_CONF_STRING || k->type == GW_CONF_ADDR)
        return k->size == sizeof(char *);
    if (k->size != 1 && k->size != 2 && k->size != 4 && k->size != 8)
        return 0;
    if (k->size == 8 || k->type == GW_CONF_BOOL || k->type == GW_CONF_ENUM)
        return 1; /* an enum has fewer than GW_ERR_LEN / 2 choices */
    if (k->min == 0 && k->max == 0)
        return 0;
    /* Both as signed and as unsigned: the struct may use either. */
    bits = (int)k->size * 8;
    return k->min >= -(INT64_C(1) << (bits - 1)) && k->max < (INT64_C(1) << (bits - 1));
}

/* Checks one section of the schema and sets its defaults; -1 for a broken schema. */
static int
init_sec(struct sec *sec, const struct gw_conf_section *s)
{
    char canon[GW_CONF_MAX_LINE + 1], err[GW_ERR_LEN];
    const struct gw_conf_key *k;
    size_t i, j;

    sec->s = s;
    if (!valid_ident(s->name) || !s->keys)
        return -1;
    for (sec->nkeys = 0; s->keys[sec->nkeys].name; sec->nkeys++)
        ;
    if ((sec->defs = calloc(sec->nkeys ? sec->nkeys : 1, sizeof *sec->defs)) == NULL)
        return -1;
    for (i = 0; i < sec->nkeys; i++) {
        k = &s->keys[i];
        if (!valid_ident(k->name) || k->min > k->max || k->type > GW_CONF_ENUM ||
            (k->type == GW_CONF_ENUM && !valid_choices(k->choices)) || !field_fits(k))
            return -1;
        for (j = 0; j < i; j++)
            if (strcmp(s->keys[j].name, k->name) == 0)
                return -1;
        if (!k->def)
            continue;
        if (strlen(k->def) > GW_CONF_MAX_LINE ||
            parse_value(k, k->def, &sec->defs[i].num, canon, err) < 0 ||
            (sec->defs[i].text = strdup(canon)) == NULL)
            return -1;
    }
    if (!s->named && add_inst(sec, NULL) == NULL)
        return -1;
    return 0;
}

struct gw_conf *
gw_conf_new(const struct gw_conf_section *const *schema)
{
    struct gw_conf *c;
    size_t n, i;

    for (n = 0; schema && schema[n]; n++) {
        if (!schema[n]->name)
            return NULL;
        for (i = 0; i < n; i++)
            if (strcmp(schema[i]->name, schema[n]->name) == 0)
                return NULL;
    }
    if ((c = calloc(1, sizeof *c)) == NULL)
        return NULL;
    if ((c->secs = calloc(n ? n : 1, sizeof *c->secs)) == NULL)
        goto fail;
    for (i = 0; i < n; i++) {
        c->nsecs++;
        if (init_sec(&c->secs[i], schema[i]) < 0)
            goto fail;
    }
    return c;
fail:
    gw_conf_free(c);
    return NULL;
}

static void
free_vals(struct val *v, size_t n)
{
    size_t i;

    for (i = 0; v && i < n; i++) {
        free(v[i].text);
        free(v[i].origin);
    }
    free(v);
}

void
gw_conf_free(struct gw_conf *c)
{
    size_t i, j;

    if (!c)
        return;
    for (i = 0; i < c->nsecs; i++) {
        for (j = 0; j < c->secs[i].ninsts; j++) {
            free(c->secs[i].insts[j].name);
            free_vals(c->secs[i].insts[j].vals, c->secs[i].nkeys);
        }
        free(c->secs[i].insts);
        free_vals(c->secs[i].defs, c->secs[i].nkeys);
    }
    free(c->secs);
    for (i = 0; i < c->nerrs; i++)
        free(c->errs[i]);
    free(c->errs);
    free(c);
}

static void
misuse(const char *what, const char *section, const char *key)
{
    fprintf(stderr, "gw_conf: %s [%s] %s\n", what, section, key ? key : "");
    abort();
}

/* The value a getter reads: the instance's if set, else the default. */
static const struct val *
lookup(const struct gw_conf *c, const char *section, const char *instance, const char *key,
       const struct gw_conf_key **kp)
{
    const struct sec *sec;
    const struct inst *in;
    int ki;

    if ((sec = find_sec(c, section)) == NULL)
        misuse("no such section", section, key);
    if ((ki = find_key(sec, key)) < 0)
        misuse("no such key", section, key);
    if (instance && !sec->s->named)
        misuse("instance of an unnamed section", section, key);
    in = sec->s->named && !instance ? NULL : find_inst(sec, instance);
    *kp = &sec->s->keys[ki];
    if (in && in->vals[ki].text)
        return &in->vals[ki];
    return &sec->defs[ki];
}

int64_t
gw_conf_int(const struct gw_conf *c, const char *section, const char *instance, const char *key)
{
    const struct gw_conf_key *k;
    const struct val *v = lookup(c, section, instance, key, &k);

    if (k->type == GW_CONF_STRING || k->type == GW_CONF_ADDR)
        misuse("gw_conf_int of a text key", section, key);
    return v->num;
}

const char *
gw_conf_str(const struct gw_conf *c, const char *section, const char *instance, const char *key)
{
    const struct gw_conf_key *k;
    const struct val *v = lookup(c, section, instance, key, &k);

    return v->text ? v->text : "";
}

const char *
gw_conf_origin(const struct gw_conf *c, const char *section, const char *instance, const char *key)
{
    const struct gw_conf_key *k;
    const struct val *v = lookup(c, section, instance, key, &k);

    return v->origin ? v->origin : "default";
}

/* Writes v into an integer field of size bytes; the truncation gives the right bits for a
 * signed or an unsigned field, as field_fits checked the range. */
static void
store_int(void *field, size_t size, int64_t v)
{
    uint8_t u8 = (uint8_t)v;
    uint16_t u16 = (uint16_t)v;
    uint32_t u32 = (uint32_t)v;

    switch (size) {
    case 1:
        memcpy(field, &u8, 1);
        break;
    case 2:
        memcpy(field, &u16, 2);
        break;
    case 4:
        memcpy(field, &u32, 4);
        break;
    default:
        memcpy(field, &v, 8);
        break;
    }
}

int
gw_conf_bind(const struct gw_conf *c, const char *section, const char *instance, void *dst,
             char *err)
{
    const struct gw_conf_key *k;
    const struct sec *sec;
    const struct inst *in;
    const struct val *v;
    char *copy;
    size_t i;

    if ((sec = find_sec(c, section)) == NULL)
        misuse("no such section", section, NULL);
    if (instance && !sec->s->named)
        misuse("instance of an unnamed section", section, NULL);
    in = sec->s->named && !instance ? NULL : find_inst(sec, instance);
    for (i = 0; i < sec->nkeys; i++) {
        k = &sec->s->keys[i];
        if (k->size == 0)
            continue;
        v = in && in->vals[i].text ? &in->vals[i] : &sec->defs[i];
        if (k->type != GW_CONF_STRING && k->type != GW_CONF_ADDR) {
            store_int((char *)dst + k->offset, k->size, v->num);
            continue;
        }
        if ((copy = strdup(v->text ? v->text : "")) == NULL) {
            gw_conf_unbind(sec->s, dst);
            return gw_err(err, "out of memory");
        }
        memcpy((char *)dst + k->offset, &copy, sizeof(copy));
    }
    return 0;
}

void
gw_conf_unbind(const struct gw_conf_section *s, void *dst)
{
    const struct gw_conf_key *k;
    char *text;

    for (k = s->keys; k->name; k++) {
        if (k->size == 0 || (k->type != GW_CONF_STRING && k->type != GW_CONF_ADDR))
            continue;
        memcpy(&text, (char *)dst + k->offset, sizeof(text));
        free(text);
        text = NULL;
        memcpy((char *)dst + k->offset, &text, sizeof(text));
    }
}

const struct gw_conf_key *
gw_conf_field_key(const struct gw_conf_section *s, size_t offset)
{
    const struct gw_conf_key *k;

    for (k = s->keys; k->name; k++)
        if (k->size && k->offset == offset)
            return k;
    return NULL;
}

size_t
gw_conf_restart_changes(const struct gw_conf *old, const struct gw_conf *c,
                        struct gw_conf_change *out, size_t max)
{
    const struct sec *sec, *was;
    const char *a, *b;
    size_t i, j, n = 0;

    for (i = 0; i < c->nsecs; i++) {
        sec = &c->secs[i];
        if (sec->s->named || (was = find_sec(old, sec->s->name)) == NULL || was->s->named)
            continue;
        for (j = 0; j < sec->nkeys; j++) {
            if (!(sec->s->keys[j].flags & GW_CONF_RESTART) ||
                find_key(was, sec->s->keys[j].name) < 0)
                continue;
            a = gw_conf_str(old, sec->s->name, NULL, sec->s->keys[j].name);
            b = gw_conf_str(c, sec->s->name, NULL, sec->s->keys[j].name);
            if (strcmp(a, b) == 0)
                continue;
            if (n < max) {
                out[n].section = sec->s->name;
                out[n].key = sec->s->keys[j].name;
            }
            n++;
        }
    }
    return n;
}

size_t
gw_conf_instances(const struct gw_conf *c, const char *section, const char **names, size_t max)
{
    const struct sec *sec = find_sec(c, section);
    size_t i;

    if (!sec)
        misuse("no such section", section, NULL);
    if (!sec->s->named)
        return 0;
    for (i = 0; i < sec->ninsts && i < max; i++)
        names[i] = sec->insts[i].name;
    return sec->ninsts;
}

static json_t *
val_json(const struct gw_conf_key *k, const struct val *v)
{
    if (!v->text)
        return json_null();
    switch (k->type) {
    case GW_CONF_INT:
    case GW_CONF_DURATION:
    case GW_CONF_SIZE:
        return json_integer(v->num);
    case GW_CONF_BOOL:
        return json_boolean(v->num);
    default:
        return json_string(v->text);
    }
}

/* as_text: each value as written in the file (or the schema's default), with its units. */
static json_t *
inst_json(const struct sec *sec, const struct inst *in, int as_text)
{
    json_t *o = json_object();
    const struct val *v;
    size_t i;

    for (i = 0; o && i < sec->nkeys; i++) {
        v = in && in->vals[i].text ? &in->vals[i] : &sec->defs[i];
        if (json_object_set_new(o, sec->s->keys[i].name,
                                as_text ? (v->text ? json_string(v->text) : json_null())
                                        : val_json(&sec->s->keys[i], v)) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *
conf_json(const struct gw_conf *c, int as_text)
{
    json_t *root = json_object(), *o;
    const struct sec *sec;
    size_t i, j;

    for (i = 0; root && i < c->nsecs; i++) {
        sec = &c->secs[i];
        if (!sec->s->named) {
            o = inst_json(sec, &sec->insts[0], as_text);
        } else {
            o = json_object();
            for (j = 0; o && j < sec->ninsts; j++)
                if (json_object_set_new(o, sec->insts[j].name,
                                        inst_json(sec, &sec->insts[j], as_text)) < 0) {
                    json_decref(o);
                    o = NULL;
                }
        }
        if (json_object_set_new(root, sec->s->name, o) < 0) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

json_t *
gw_conf_to_json(const struct gw_conf *c)
{
    return conf_json(c, 0);
}

json_t *
gw_conf_to_text_json(const struct gw_conf *c)
{
    return conf_json(c, 1);
}

/* Doc text for mdoc: wrapped under 80 columns, one sentence a line, backslashes escaped, a dot
 * or quote at the start of a line neutralised, capitalised and ended with a period. */
static void
mdoc_text(FILE *out, const char *s)
{
    size_t col = 0, len, i;
    const char *w;
    char last = '.';

    for (;;) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        for (w = s; *s && *s != ' '; s++)
            ;
        len = (size_t)(s - w);
        if (col && (last == '.' || col + 1 + len > 72)) {
            fputc('\n', out);
            col = 0;
        } else if (col) {
            fputc(' ', out);
            col++;
        }
        if (col == 0 && (*w == '.' || *w == '\''))
            col += (size_t)fprintf(out, "\\&");
        for (i = 0; i < len; i++) {
            if (w[i] == '\\')
                fputs("\\e", out);
            else
                fputc(col == 0 && i == 0 && last == '.' ? toupper((unsigned char)w[i]) : w[i], out);
        }
        col += len;
        last = w[len - 1];
    }
    if (col)
        fputs(last == '.' || last == '!' || last == '?' ? "\n" : ".\n", out);
}

/* A macro argument: quoted, "\&" first so it is never taken for a macro or a delimiter. */
static void
mdoc_arg(FILE *out, const char *s)
{
    fputs("\"\\&", out);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '"')
            fputs("\\(dq", out);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

static void
mdoc_key(FILE *out, const struct gw_conf_key *k)
{
    static const char *const types[] = {"number", "", "string", "duration", "size", "address", ""};
    const char *p;
    char range[80];

    /* Key names are [a-z0-9_]: never an mdoc macro, nothing to escape. */
    fprintf(out, ".It Ic %s", k->name);
    if (k->type == GW_CONF_BOOL) {
        fputs(" Cm yes | Cm no", out);
    } else if (k->type == GW_CONF_ENUM) {
        fputs(" Cm ", out);
        for (p = k->choices; *p; p++) {
            if (*p == '|')
                fputs(" | Cm ", out);
            else
                fputc(*p, out);
        }
    } else {
        fprintf(out, " Ar %s", types[k->type]);
    }
    fputc('\n', out);
    if (k->doc && *k->doc)
        mdoc_text(out, k->doc);
    if (bounded(k)) {
        fmt_range(range, sizeof range, k);
        fprintf(out, "Range: %s.\n", range);
    }
    if (k->flags & GW_CONF_RESTART)
        fputs("Read at start: a reload keeps the running value.\n", out);
    if (!k->def) {
        fputs("No default.\n", out);
    } else if (!*k->def) {
        fputs("Empty by default.\n", out);
    } else {
        fputs("Default:\n.Ql ", out);
        mdoc_arg(out, k->def);
        fputs(" .\n", out);
    }
}

void
gw_conf_schema_mdoc(FILE *out, const struct gw_conf_section *const *schema)
{
    const struct gw_conf_key *k;
    size_t i;

    for (i = 0; schema && schema[i]; i++) {
        /* "\&" keeps mandoc from taking the closing bracket for a trailing delimiter. */
        fprintf(out, ".Ss \"[%s%s]\\&\"\n", schema[i]->name, schema[i]->named ? " NAME" : "");
        if (schema[i]->doc && *schema[i]->doc)
            mdoc_text(out, schema[i]->doc);
        fputs(".Bl -tag -width Ds\n", out);
        for (k = schema[i]->keys; k && k->name; k++)
            mdoc_key(out, k);
        fputs(".El\n", out);
    }
}
