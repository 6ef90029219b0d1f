/*
 * log.c -- structured logging: logfmt or JSON lines built on the stack, one write(2) per line.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <wchar.h>

#define PROG_MAX 64
/* Room kept at the end of a line for `,"log_error":"bad format","truncated":1}` and the NUL. */
#define TRAILER_BYTES 48
/* Widths and precisions are cut to this: a value cannot be longer than a line anyway. */
#define WIDTH_MAX 4096

static _Atomic int log_level = GW_LOG_INFO;
static _Atomic int log_format = GW_LOG_LOGFMT;
static _Atomic int log_fd = 2;
static char log_prog[PROG_MAX];

static const char *const level_names[] = {"debug", "info", "warning", "error"};

/* The output: fd is the caller's, wfd the one written to (a private non-blocking description
 * of the same pipe or terminal, or fd itself). Guarded by sink_lock, which also keeps lines
 * whole when a write is partial. */
enum sink_kind { SINK_PLAIN, SINK_POLL, SINK_NONBLOCK, SINK_SOCKET };
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int fd, wfd;
    enum sink_kind kind;
    int stalled, torn;
} sink = {-1, -1, SINK_PLAIN, 0, 0};
static atomic_uint_fast64_t log_dropped;

static pthread_rwlock_t hook_lock = PTHREAD_RWLOCK_INITIALIZER;
static gw_log_hook_fn hook_fn;
static void *hook_arg;
static _Atomic int hook_set;
static _Thread_local int in_hook;

/* A line being built: content stops at cap so the trailer always fits before size. */
struct line {
    char *buf;
    size_t len, cap, size;
    int json, npairs, truncated, bad;
};

enum value_kind { VALUE_STRING, VALUE_QUOTED, VALUE_NUMBER };

enum len_mod { LM_NONE, LM_HH, LM_H, LM_L, LM_LL, LM_Z, LM_J, LM_T, LM_BIG_L };

/* One conversion rebuilt as a printf format of its own, '*' replaced by the numbers. */
struct conv {
    char fmt[40];
    char c;
    enum len_mod lm;
};

/* ---- escaping ---------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1 for ASCII), 0 when s starts an invalid one
 * (stray continuation, overlong form, surrogate, above U+10FFFF, cut short). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    uint32_t cp, min;
    size_t need;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

/* The escaped form of the character at s: either written into esc or, when it passes through
 * unchanged, *unit points at s. Returns the unit's length; *used gets the bytes consumed. */
static size_t
escape_one(const char *s, size_t n, int json, char esc[8], const char **unit, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char)*s;
    const char *simple = NULL;
    size_t u;

    *unit = esc;
    *used = 1;
    switch (c) {
    case '"':
        simple = "\\\"";
        break;
    case '\\':
        simple = "\\\\";
        break;
    case '\n':
        simple = "\\n";
        break;
    case '\r':
        simple = "\\r";
        break;
    case '\t':
        simple = "\\t";
        break;
    case '\b':
        simple = json ? "\\b" : NULL;
        break;
    case '\f':
        simple = json ? "\\f" : NULL;
        break;
    }
    if (simple) {
        memcpy(esc, simple, 2);
        return 2;
    }
    u = c < 0x80 ? 1 : utf8_len((const unsigned char *)s, n);
    if (u > 0 && c >= 0x20 && c != 0x7f) {
        *unit = s;
        *used = u;
        return u;
    }
    if (json && c >= 0x80) {
        memcpy(esc, "\\ufffd", 6);
        return 6;
    }
    if (json) {
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        return 6;
    }
    esc[0] = '\\';
    esc[1] = 'x';
    esc[2] = hex[c >> 4];
    esc[3] = hex[c & 15];
    return 4;
}

static int
logfmt_needs_quotes(const char *s, size_t n)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f)
            return 1;
        if (c >= 0x80) {
            size_t u = utf8_len((const unsigned char *)s + i, n - i);
            if (u == 0)
                return 1;
            i += u - 1;
        }
    }
    return 0;
}

/* The JSON number grammar of RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
json_is_number(const char *s, size_t n)
{
    size_t i = 0, d;

    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0') {
        i++;
    } else {
        for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d)
            return 0;
    }
    if (i < n && s[i] == '.') {
        for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d)
            return 0;
    }
    return i == n;
}

/* ---- building a line --------------------------------------------------------------------- */

static void
line_init(struct line *l, char *buf, size_t size, int json)
{
    memset(l, 0, sizeof(*l));
    l->buf = buf;
    l->size = size;
    l->cap = size > TRAILER_BYTES ? size - TRAILER_BYTES : 0;
    l->json = json;
}

/* Appends the escaped s, stopping (truncated) where the next character would not leave room
 * for keep more bytes. */
static void
put_escaped(struct line *l, const char *s, size_t n, size_t keep)
{
    const char *unit;
    char esc[8];
    size_t ulen, used;

    while (n) {
        ulen = escape_one(s, n, l->json, esc, &unit, &used);
        if (ulen + keep > l->cap - l->len) {
            l->truncated = 1;
            return;
        }
        memcpy(l->buf + l->len, unit, ulen);
        l->len += ulen;
        s += used;
        n -= used;
    }
}

/* Appends one key and value. Keys come from the program, not from input: bytes that would need
 * quoting become '_'. */
static void
put_pair(struct line *l, const char *key, size_t klen, const char *val, size_t vlen,
         enum value_kind kind)
{
    int quote =
        l->json ? kind != VALUE_NUMBER : kind == VALUE_QUOTED || logfmt_needs_quotes(val, vlen);
    /* JSON numbers go whole or not at all; strings may be cut (they stay closed). */
    size_t need = (l->npairs ? 1 : 0) + klen + (l->json ? 3 : 1) + (quote ? 2 : l->json ? vlen : 0);
    char *p;

    if (l->truncated || need > l->cap - l->len) {
        l->truncated = 1;
        return;
    }
    p = l->buf + l->len;
    if (l->npairs)
        *p++ = l->json ? ',' : ' ';
    if (l->json)
        *p++ = '"';
    for (size_t i = 0; i < klen; i++) {
        unsigned char c = (unsigned char)key[i];
        int ok = c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '=';
        *p++ = ok ? (char)c : '_';
        if (!ok)
            l->bad = 1;
    }
    if (l->json)
        *p++ = '"';
    *p++ = l->json ? ':' : '=';
    l->len = (size_t)(p - l->buf);
    l->npairs++;
    if (!quote) {
        /* Needs no escaping, so this copies it, cut at a character boundary if need be. */
        put_escaped(l, val, vlen, 0);
        return;
    }
    l->buf[l->len++] = '"';
    put_escaped(l, val, vlen, 1);
    l->buf[l->len++] = '"';
}

static void
put_trailer(struct line *l, const char *s)
{
    size_t n = strlen(s);

    if (n < l->size - l->len) {
        memcpy(l->buf + l->len, s, n);
        l->len += n;
    }
}

/* ---- the kv format ----------------------------------------------------------------------- */

static int
parse_number(const char **pp)
{
    const char *p = *pp;
    int n = 0;

    for (; *p >= '0' && *p <= '9'; p++)
        if (n <= WIDTH_MAX)
            n = n * 10 + (*p - '0');
    *pp = p;
    return n > WIDTH_MAX ? WIDTH_MAX : n;
}

static enum len_mod
parse_len_mod(const char **pp)
{
    const char *p = *pp;
    enum len_mod lm = LM_NONE;

    switch (*p) {
    case 'h':
        lm = p[1] == 'h' ? LM_HH : LM_H;
        break;
    case 'l':
        lm = p[1] == 'l' ? LM_LL : LM_L;
        break;
    case 'z':
        lm = LM_Z;
        break;
    case 'j':
        lm = LM_J;
        break;
    case 't':
        lm = LM_T;
        break;
    case 'L':
        lm = LM_BIG_L;
        break;
    default:
        return LM_NONE;
    }
    *pp = p + (lm == LM_HH || lm == LM_LL ? 2 : 1);
    return lm;
}

/* Whether conversion c takes length modifier lm. */
static int
conv_valid(char c, enum len_mod lm)
{
    if (strchr("diouxX", c))
        return lm != LM_BIG_L;
    if (strchr("cs", c))
        return lm == LM_NONE || lm == LM_L;
    if (strchr("fFeEgGaA", c))
        return lm == LM_NONE || lm == LM_L || lm == LM_BIG_L;
    if (strchr("pm", c))
        return lm == LM_NONE;
    return 0;
}

/* Parses the conversion after a '%' at *pp into cv, fetching the int arguments of '*'.
 * Returns -1 for a conversion we do not support: the arguments can no longer be followed. */
static int
parse_conv(const char **pp, struct conv *cv, va_list *ap)
{
    static const char flag_chars[] = "-+ #0'";
    static const char *const lm_text[] = {"", "hh", "h", "l", "ll", "z", "j", "t", "L"};
    const char *p = *pp, *f;
    unsigned flags = 0;
    int width = -1, prec = -1, n;
    char *o = cv->fmt;

    while (*p && (f = strchr(flag_chars, *p)) != NULL) {
        flags |= 1u << (f - flag_chars);
        p++;
    }
    if (*p == '*') {
        width = va_arg(*ap, int);
        p++;
        if (width < 0) {
            flags |= 1; /* a negative '*' width means left-justified */
            width = width < -WIDTH_MAX ? WIDTH_MAX : -width;
        }
        width = width > WIDTH_MAX ? WIDTH_MAX : width;
    } else if (*p >= '0' && *p <= '9') {
        width = parse_number(&p);
    }
    if (*p == '.') {
        p++;
        if (*p == '*') {
            prec = va_arg(*ap, int);
            p++;
            prec = prec > WIDTH_MAX ? WIDTH_MAX : prec; /* negative: as if omitted */
        } else {
            prec = parse_number(&p);
        }
    }
    cv->lm = parse_len_mod(&p);
    cv->c = *p;
    if (*p == '\0' || !conv_valid(*p, cv->lm))
        return -1;
    *pp = p + 1;
    *o++ = '%';
    for (unsigned i = 0; i < sizeof(flag_chars) - 1; i++)
        if (flags & (1u << i))
            *o++ = flag_chars[i];
    n = width >= 0 ? sprintf(o, "%d", width) : 0;
    o += n;
    n = prec >= 0 ? sprintf(o, ".%d", prec) : 0;
    o += n;
    strcpy(o, lm_text[cv->lm]);
    o += strlen(o);
    *o++ = cv->c == 'm' ? 's' : cv->c;
    *o = '\0';
    return 0;
}

/* Formats one signed or unsigned integer conversion, fetching the argument of its type. */
static int
format_int(char *dst, size_t room, const struct conv *cv, va_list *ap)
{
    int is_signed = cv->c == 'd' || cv->c == 'i';

    switch (cv->lm) {
    case LM_L:
        return is_signed ? snprintf(dst, room, cv->fmt, va_arg(*ap, long))
                         : snprintf(dst, room, cv->fmt, va_arg(*ap, unsigned long));
    case LM_LL:
        return is_signed ? snprintf(dst, room, cv->fmt, va_arg(*ap, long long))
                         : snprintf(dst, room, cv->fmt, va_arg(*ap, unsigned long long));
    case LM_Z:
        return is_signed ? snprintf(dst, room, cv->fmt, va_arg(*ap, ssize_t))
                         : snprintf(dst, room, cv->fmt, va_arg(*ap, size_t));
    case LM_J:
        return is_signed ? snprintf(dst, room, cv->fmt, va_arg(*ap, intmax_t))
                         : snprintf(dst, room, cv->fmt, va_arg(*ap, uintmax_t));
    case LM_T:
        return snprintf(dst, room, cv->fmt, va_arg(*ap, ptrdiff_t));
    default: /* none, h and hh: promoted to int */
        return is_signed ? snprintf(dst, room, cv->fmt, va_arg(*ap, int))
                         : snprintf(dst, room, cv->fmt, va_arg(*ap, unsigned int));
    }
}

/* Formats one conversion into dst (room > 0 bytes); returns what snprintf returns. */
static int
format_conv(char *dst, size_t room, const struct conv *cv, va_list *ap, int saved_errno)
{
    char errbuf[128];

    switch (cv->c) {
    case 'c':
        return cv->lm == LM_L ? snprintf(dst, room, cv->fmt, va_arg(*ap, wint_t))
                              : snprintf(dst, room, cv->fmt, va_arg(*ap, int));
    case 's':
        if (cv->lm == LM_L) {
            const wchar_t *ws = va_arg(*ap, const wchar_t *);
            return snprintf(dst, room, cv->fmt, ws ? ws : L"(null)");
        } else {
            const char *s = va_arg(*ap, const char *);
            return snprintf(dst, room, cv->fmt, s ? s : "(null)");
        }
    case 'm':
        return snprintf(dst, room, cv->fmt, strerror_r(saved_errno, errbuf, sizeof(errbuf)));
    case 'p':
        return snprintf(dst, room, cv->fmt, va_arg(*ap, void *));
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G':
    case 'a':
    case 'A':
        return cv->lm == LM_BIG_L ? snprintf(dst, room, cv->fmt, va_arg(*ap, long double))
                                  : snprintf(dst, room, cv->fmt, va_arg(*ap, double));
    default:
        return format_int(dst, room, cv, ap);
    }
}

/* What parse_value found besides the text. */
struct value_info {
    int nconv, literal, numeric, cut, failed;
};

/* Parses one value (up to the next space outside a conversion) into val, fetching and
 * formatting each argument. Returns -1 when the parse must stop. */
static int
parse_value(const char **pp, char *val, size_t size, size_t *vlen, struct value_info *vi,
            va_list *ap, int saved_errno)
{
    const char *p = *pp;
    struct conv cv;
    int n;

    *vlen = 0;
    memset(vi, 0, sizeof(*vi));
    while (*p && *p != ' ') {
        if (*p != '%' || p[1] == '%') {
            if (*vlen < size - 1)
                val[(*vlen)++] = *p;
            p += *p == '%' ? 2 : 1;
            vi->literal = 1;
            continue;
        }
        p++;
        if (parse_conv(&p, &cv, ap) == -1) {
            *pp = p;
            return -1;
        }
        n = format_conv(val + *vlen, size - *vlen, &cv, ap, saved_errno);
        if (n < 0) {
            vi->failed = 1; /* e.g. a wide string the locale cannot convert */
            n = 0;
        } else if ((size_t)n >= size - *vlen) {
            n = (int)(size - 1 - *vlen);
            vi->cut = 1;
        }
        *vlen += (size_t)n;
        vi->numeric = strchr("diufFeEgG", cv.c) != NULL;
        vi->nconv++;
    }
    *pp = p;
    return 0;
}

/* Appends the pairs of kv. The arguments are followed exactly as printf would, so that a
 * malformed pair never makes a later one read an argument of the wrong type. */
static void
put_kv(struct line *l, const char *kv, va_list *ap, int saved_errno)
{
    char val[GW_LOG_LINE_MAX];
    const char *p = kv, *key;
    struct value_info vi;
    size_t klen, vlen;
    int has_key, single;

    while (p && *p) {
        if (*p == ' ') {
            p++;
            continue;
        }
        key = p;
        while (*p && *p != '=' && *p != ' ' && *p != '%')
            p++;
        klen = (size_t)(p - key);
        has_key = *p == '=' && klen > 0;
        if (*p == '=')
            p++;
        if (parse_value(&p, val, sizeof(val), &vlen, &vi, ap, saved_errno) == -1) {
            l->bad = 1;
            return;
        }
        /* Only a value made of one numeric conversion may be a JSON number. */
        single = vi.nconv == 1 && !vi.literal;
        if (!has_key || vi.failed)
            l->bad = 1;
        if (has_key)
            put_pair(l, key, klen, val, vlen,
                     single && vi.numeric && l->json && json_is_number(val, vlen) ? VALUE_NUMBER
                                                                                  : VALUE_STRING);
        if (vi.cut)
            l->truncated = 1;
    }
}

size_t
gw_log_format_line(char *buf, size_t len, int64_t wall_ms, enum gw_log_level level, const char *msg,
                   const char *kv, va_list ap)
{
    int saved_errno = errno;
    struct line l;
    char ts[32];
    const char *prog = log_prog[0] ? log_prog : program_invocation_short_name;
    va_list cp;

    if (len == 0)
        return 0;
    line_init(&l, buf, len, atomic_load_explicit(&log_format, memory_order_relaxed));
    gw_time_rfc3339(wall_ms, ts, sizeof(ts));
    if (l.json && l.cap > 0)
        l.buf[l.len++] = '{';
    put_pair(&l, "ts", 2, ts, strlen(ts), VALUE_STRING);
    put_pair(&l, "level", 5, gw_log_level_name(level), strlen(gw_log_level_name(level)),
             VALUE_STRING);
    put_pair(&l, "prog", 4, prog, strlen(prog), VALUE_STRING);
    put_pair(&l, "msg", 3, msg ? msg : "", msg ? strlen(msg) : 0, VALUE_QUOTED);
    va_copy(cp, ap);
    put_kv(&l, kv, &cp, saved_errno);
    va_end(cp);
    if (l.bad)
        put_trailer(&l, l.json ? ",\"log_error\":\"bad format\"" : " log_error=\"bad format\"");
    if (l.truncated)
        put_trailer(&l, l.json ? ",\"truncated\":1" : " truncated=1");
    if (l.json)
        put_trailer(&l, "}");
    if (l.len >= len)
        l.len = len - 1;
    buf[l.len] = '\0';
    errno = saved_errno;
    return l.len;
}

/* ---- output ------------------------------------------------------------------------------ */

/* Chooses how to write to fd without ever blocking for long. Called with sink_lock held. */
static void
sink_open(int fd)
{
    char path[64];
    struct stat st;
    int nfd;

    if (sink.wfd != sink.fd && sink.wfd >= 0)
        close(sink.wfd);
    sink.fd = sink.wfd = fd;
    sink.kind = SINK_PLAIN;
    sink.stalled = sink.torn = 0;
    if (fstat(fd, &st) == -1)
        return;
    if (S_ISSOCK(st.st_mode)) {
        sink.kind = SINK_SOCKET;
        return;
    }
    /* Regular files and disks do not wait on a reader. */
    if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
        return;
    /* O_NONBLOCK on fd itself would change it for every process sharing the description
     * (a shell's terminal, a parent's pipe); a fresh open of the same file has its own. */
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    nfd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (nfd == -1) {
        sink.kind = SINK_POLL;
        return;
    }
    sink.wfd = nfd;
    sink.kind = SINK_NONBLOCK;
}

/* Waits until wfd is writable or the line's deadline passes; -1 on timeout. */
static int
sink_wait(uint64_t *deadline_ms)
{
    struct pollfd pfd = {.fd = sink.wfd, .events = POLLOUT};
    uint64_t now = gw_mono_ms();
    int rc;

    if (*deadline_ms == 0)
        *deadline_ms = now + GW_LOG_WRITE_TIMEOUT_MS;
    for (;;) {
        if (now >= *deadline_ms)
            return -1;
        rc = poll(&pfd, 1, (int)(*deadline_ms - now));
        if (rc > 0)
            return 0;
        if (rc == 0)
            return -1;
        if (errno != EINTR)
            return 0; /* let the write report it */
        now = gw_mono_ms();
    }
}

static ssize_t
sink_write_once(const char *p, size_t n)
{
    if (sink.kind == SINK_SOCKET)
        return send(sink.wfd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    return write(sink.wfd, p, n);
}

/* Writes all of p, waiting at most GW_LOG_WRITE_TIMEOUT_MS for a stalled reader (not at all
 * while the previous line timed out). Returns 0, or -1 when (part of) the line was dropped. */
static int
sink_write(const char *p, size_t n)
{
    uint64_t deadline_ms = 0;
    size_t off = 0;
    ssize_t w;

    while (off < n) {
        if (sink.kind == SINK_POLL && sink_wait(&deadline_ms) == -1)
            break;
        w = sink_write_once(p + off, n - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w == -1 && errno == EINTR)
            continue;
        if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return -1; /* a dead output: nothing to wait for, nothing to report */
        if (sink.stalled || sink_wait(&deadline_ms) == -1)
            break;
    }
    if (off == n) {
        sink.stalled = 0;
        return 0;
    }
    sink.stalled = 1;
    if (off > 0)
        sink.torn = 1;
    return -1;
}

static void
write_line(const char *p, size_t n)
{
    int fd;

    pthread_mutex_lock(&sink_lock);
    /* Read under the lock, so a concurrent gw_log_init is never undone with the old fd. */
    fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
    if (fd != sink.fd)
        sink_open(fd);
    /* A line cut by a timeout is ended first, so the next one starts on its own line. */
    if (sink.torn && sink_write("\n", 1) == 0)
        sink.torn = 0;
    if (sink.torn || sink_write(p, n) == -1)
        atomic_fetch_add_explicit(&log_dropped, 1, memory_order_relaxed);
    pthread_mutex_unlock(&sink_lock);
}

static void
call_hook(enum gw_log_level level, const char *line, size_t len)
{
    if (!atomic_load_explicit(&hook_set, memory_order_relaxed) || in_hook)
        return;
    pthread_rwlock_rdlock(&hook_lock);
    if (hook_fn) {
        in_hook = 1;
        hook_fn(level, line, len, hook_arg);
        in_hook = 0;
    }
    pthread_rwlock_unlock(&hook_lock);
}

/* ---- public ------------------------------------------------------------------------------ */

void
gw_log_init(const char *prog, enum gw_log_format format, int fd)
{
    /* Only a new name is written, so calling again with the same one is safe while others log. */
    if (prog && strncmp(prog, log_prog, sizeof(log_prog) - 1) != 0)
        gw_strlcpy(log_prog, prog, sizeof(log_prog));
    atomic_store_explicit(&log_format, format == GW_LOG_JSON ? GW_LOG_JSON : GW_LOG_LOGFMT,
                          memory_order_relaxed);
    fd = fd < 0 ? 2 : fd;
    pthread_mutex_lock(&sink_lock);
    atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
    sink_open(fd);
    pthread_mutex_unlock(&sink_lock);
}

void
gw_log_set_level(enum gw_log_level level)
{
    if ((int)level < GW_LOG_DEBUG)
        level = GW_LOG_DEBUG;
    if (level > GW_LOG_ERROR)
        level = GW_LOG_ERROR;
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

enum gw_log_level
gw_log_get_level(void)
{
    return (enum gw_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

int
gw_log_enabled(enum gw_log_level level)
{
    return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

int
gw_log_level_parse(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < GW_ARRAY_LEN(level_names); i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return (int)i;
    return strcasecmp(name, "warn") == 0 ? GW_LOG_WARNING : -1;
}

const char *
gw_log_level_name(enum gw_log_level level)
{
    if ((int)level < 0 || (size_t)level >= GW_ARRAY_LEN(level_names))
        return "unknown";
    return level_names[level];
}

int
gw_log_format_parse(const char *name)
{
    if (name && strcasecmp(name, "logfmt") == 0)
        return GW_LOG_LOGFMT;
    if (name && strcasecmp(name, "json") == 0)
        return GW_LOG_JSON;
    return -1;
}

void
gw_log_vwrite(enum gw_log_level level, const char *msg, const char *kv, va_list ap)
{
    char line[GW_LOG_LINE_MAX];
    int saved_errno = errno;
    size_t n;

    if (!gw_log_enabled(level))
        return;
    n = gw_log_format_line(line, sizeof(line), gw_wall_ms(), level, msg, kv, ap);
    line[n] = '\n';
    write_line(line, n + 1);
    line[n] = '\0';
    call_hook(level, line, n);
    errno = saved_errno;
}

void
gw_log_write(enum gw_log_level level, const char *msg, const char *kv, ...)
{
    va_list ap;

    va_start(ap, kv);
    gw_log_vwrite(level, msg, kv, ap);
    va_end(ap);
}

void
gw_log_set_hook(gw_log_hook_fn fn, void *arg)
{
    pthread_rwlock_wrlock(&hook_lock);
    hook_fn = fn;
    hook_arg = arg;
    atomic_store_explicit(&hook_set, fn != NULL, memory_order_relaxed);
    pthread_rwlock_unlock(&hook_lock);
}

uint64_t
gw_log_dropped(void)
{
    return atomic_load_explicit(&log_dropped, memory_order_relaxed);
}
