/*
 * log.c -- unit tests for lib/log.c: exact logfmt and JSON lines, quoting, every conversion,
 * malformed kv, truncation, levels, the hook, a stalled reader and concurrent writers.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#include "log.h"
#include "util.h"
#include "../tap.h"

#define WALL_MS 1795428000123ll /* 2026-11-23T10:00:00.123Z */
#define P "ts=2026-11-23T10:00:00.123Z level=info prog=hbd msg=\"m\""
#define PJ "{\"ts\":\"2026-11-23T10:00:00.123Z\",\"level\":\"info\",\"prog\":\"hbd\",\"msg\":\"m\""
#define BAD " log_error=\"bad format\""
#define BADJ ",\"log_error\":\"bad format\""

static char got[GW_LOG_LINE_MAX];
static char tmpdir[] = "/tmp/gwkit-log-XXXXXX";
static int json_mode;
/* NULL through a volatile, so gcc cannot see it is NULL at the call. */
static const char *volatile null_str;
static const wchar_t *volatile null_wstr;

/* Selects the format for the formatting tests (output to stderr, unused). */
static void
use(enum gw_log_format format)
{
    gw_log_init("hbd", format, 2);
    json_mode = format == GW_LOG_JSON;
}

/* Formats a line at WALL_MS in the current format. */
static const char *line(enum gw_log_level level, const char *msg, const char *kv, ...)
    GW_PRINTF(3, 4);

static const char *
line(enum gw_log_level level, const char *msg, const char *kv, ...)
{
    va_list ap;

    va_start(ap, kv);
    gw_log_format_line(got, sizeof(got), WALL_MS, level, msg, kv, ap);
    va_end(ap);
    return got;
}

/* The same without format checking, for the malformed kv strings gcc would refuse. */
static const char *
line_raw(const char *kv, ...)
{
    va_list ap;

    va_start(ap, kv);
    gw_log_format_line(got, sizeof(got), WALL_MS, GW_LOG_INFO, "m", kv, ap);
    va_end(ap);
    return got;
}

static const char *kv1(const char *kv, ...) GW_PRINTF(1, 2);

/* The part of the line after msg="m" (logfmt) or after "msg":"m" (JSON). */
static const char *
kv1(const char *kv, ...)
{
    va_list ap;
    size_t skip = strlen(json_mode ? PJ : P);

    va_start(ap, kv);
    gw_log_format_line(got, sizeof(got), WALL_MS, GW_LOG_INFO, "m", kv, ap);
    va_end(ap);
    return strlen(got) >= skip ? got + skip : got;
}

static int
json_valid(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);

    if (!j)
        diag("json error: %s in %.200s", e.text, s);
    json_decref(j);
    return j != NULL;
}

/* Reads what is in fd (non-blocking) into buf. */
static size_t
drain(int fd, char *buf, size_t size)
{
    size_t n = 0;
    ssize_t r;

    while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    return n;
}

static void
test_logfmt(void)
{
    use(GW_LOG_LOGFMT);
    is_str(line(GW_LOG_INFO, "listening", "addr=%s workers=%u", "0.0.0.0:9002", 2u),
           "ts=2026-11-23T10:00:00.123Z level=info prog=hbd msg=\"listening\" addr=0.0.0.0:9002 "
           "workers=2",
           "logfmt: the design's example line");
    is_str(line(GW_LOG_INFO, "m", NULL), P, "logfmt: NULL kv gives the fixed fields only");
    is_str(line(GW_LOG_DEBUG, "m", NULL),
           "ts=2026-11-23T10:00:00.123Z level=debug prog=hbd msg=\"m\"", "logfmt: level debug");
    is_str(line(GW_LOG_WARNING, "m", NULL),
           "ts=2026-11-23T10:00:00.123Z level=warning prog=hbd msg=\"m\"", "logfmt: level warning");
    is_str(line(GW_LOG_ERROR, "m", NULL),
           "ts=2026-11-23T10:00:00.123Z level=error prog=hbd msg=\"m\"", "logfmt: level error");
    is_str(line(GW_LOG_INFO, "", NULL), "ts=2026-11-23T10:00:00.123Z level=info prog=hbd msg=\"\"",
           "logfmt: empty msg is quoted");
    is_str(line(GW_LOG_INFO, NULL, NULL),
           "ts=2026-11-23T10:00:00.123Z level=info prog=hbd msg=\"\"", "logfmt: NULL msg is empty");
    is_str(line(GW_LOG_INFO, "say \"hi\"\n\\", NULL),
           "ts=2026-11-23T10:00:00.123Z level=info prog=hbd msg=\"say \\\"hi\\\"\\n\\\\\"",
           "logfmt: msg is escaped");
    gw_log_init("my prog", GW_LOG_LOGFMT, 2);
    is_str(line(GW_LOG_INFO, "m", NULL),
           "ts=2026-11-23T10:00:00.123Z level=info prog=\"my prog\" msg=\"m\"",
           "logfmt: a prog with a space is quoted");
    use(GW_LOG_LOGFMT);
}

static void
test_logfmt_quoting(void)
{
    use(GW_LOG_LOGFMT);
    is_str(kv1("v=%s", "plain-value_1.2:3/4"), " v=plain-value_1.2:3/4", "plain value unquoted");
    is_str(kv1("err=%s", "Too many open files"), " err=\"Too many open files\"", "space quoted");
    is_str(kv1("v=%s", "a\"b"), " v=\"a\\\"b\"", "quote escaped");
    is_str(kv1("v=%s", "C:\\dir"), " v=\"C:\\\\dir\"", "backslash escaped");
    is_str(kv1("v=%s", "a\nb\rc\td"), " v=\"a\\nb\\rc\\td\"", "newline, CR and tab escaped");
    is_str(kv1("v=%s", "k=v"), " v=\"k=v\"", "'=' quoted");
    is_str(kv1("v=%s", ""), " v=\"\"", "empty value quoted");
    is_str(kv1("v=%s", "a\x01\x1f\x7f"
                       "b"),
           " v=\"a\\x01\\x1f\\x7fb\"", "control chars as \\xHH");
    is_str(kv1("v=%s", "\b\f"), " v=\"\\x08\\x0c\"", "backspace and form feed as \\xHH");
    is_str(kv1("v=%s", "h\xc3\xa9llo\xe2\x82\xac\xf0\x9f\x98\x80"),
           " v=h\xc3\xa9llo\xe2\x82\xac\xf0\x9f\x98\x80", "valid UTF-8 passes unquoted");
    is_str(kv1("v=%s", "a\xff"), " v=\"a\\xff\"", "invalid byte quoted as \\xff");
    is_str(kv1("v=%s", "\xc0\xaf"), " v=\"\\xc0\\xaf\"", "overlong sequence escaped");
    is_str(kv1("v=%s", "\xe2\x82"), " v=\"\\xe2\\x82\"", "cut sequence escaped");
    is_str(kv1("v=%s", "\xed\xa0\x80"), " v=\"\\xed\\xa0\\x80\"", "surrogate escaped");
    is_str(kv1("v=%s", "\xf4\x90\x80\x80"), " v=\"\\xf4\\x90\\x80\\x80\"",
           "above U+10FFFF escaped");
    is_str(kv1("v=%s", "\x80x"), " v=\"\\x80x\"", "stray continuation byte escaped");
    is_str(kv1("v=%c", 0), " v=\"\\x00\"", "NUL from %%c escaped");
    is_str(kv1("a=%s b=%s", "x y", "z"), " a=\"x y\" b=z", "each value quoted on its own");
}

static void
test_conversions(void)
{
    long double ld = 1.5L;
    int saved;

    use(GW_LOG_LOGFMT);
    is_str(kv1("v=%d", -42), " v=-42", "%%d");
    is_str(kv1("v=%i", 42), " v=42", "%%i");
    is_str(kv1("v=%u", 4294967295u), " v=4294967295", "%%u");
    is_str(kv1("v=%x", 255u), " v=ff", "%%x");
    is_str(kv1("v=%X", 255u), " v=FF", "%%X");
    is_str(kv1("v=%o", 8u), " v=10", "%%o");
    is_str(kv1("v=%c", 'A'), " v=A", "%%c");
    is_str(kv1("v=%s", "str"), " v=str", "%%s");
    is_str(kv1("v=%f", 3.5), " v=3.500000", "%%f");
    is_str(kv1("v=%F", 2.0), " v=2.000000", "%%F");
    is_str(kv1("v=%g", 0.1), " v=0.1", "%%g");
    is_str(kv1("v=%G", 1e-10), " v=1E-10", "%%G");
    is_str(kv1("v=%e", 12345.678), " v=1.234568e+04", "%%e");
    is_str(kv1("v=%E", 12345.678), " v=1.234568E+04", "%%E");
    is_str(kv1("v=%a", 1.0), " v=0x1p+0", "%%a");
    is_str(kv1("v=%p", (void *)0x1234), " v=0x1234", "%%p");
    is_str(kv1("v=%5d", 42), " v=\"   42\"", "width pads (and so quotes)");
    is_str(kv1("v=%-5d|", 42), " v=\"42   |\"", "'-' flag, then literal text");
    is_str(kv1("v=%-5d", 42), " v=\"42   \"", "'-' flag");
    is_str(kv1("v=%05d", 42), " v=00042", "'0' flag");
    is_str(kv1("v=%+d", 5), " v=+5", "'+' flag");
    is_str(kv1("v=% d", 5), " v=\" 5\"", "' ' flag is part of the conversion");
    is_str(kv1("v=%#x", 255u), " v=0xff", "'#' flag");
    is_str(kv1("v=%#o", 8u), " v=010", "'#' flag with %%o");
    is_str(kv1("v=%.3f", 3.14159), " v=3.142", "precision on %%f");
    is_str(kv1("v=%8.3f", 3.14159), " v=\"   3.142\"", "width and precision on %%f");
    is_str(kv1("v=%.2s", "abcdef"), " v=ab", "precision on %%s");
    is_str(kv1("v=%6.2s", "abcdef"), " v=\"    ab\"", "width and precision on %%s");
    is_str(kv1("v=%.5d", 42), " v=00042", "precision on %%d");
    is_str(kv1("v=%*d", 6, 42), " v=\"    42\"", "'*' width");
    is_str(kv1("v=%*d", -6, 42), " v=\"42    \"", "negative '*' width left-justifies");
    is_str(kv1("v=%.*f", 2, 3.14159), " v=3.14", "'*' precision");
    is_str(kv1("v=%.*f", -1, 3.5), " v=3.500000", "negative '*' precision is ignored");
    is_str(kv1("v=%*.*s w=%d", 4, 1, "xyz", 7), " v=\"   x\" w=7", "both '*' then the next pair");
    /* An int passed for %hh and %h is converted, as printf does; clang warns about exactly
     * that, which is what these check. */
#ifdef __clang__
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wformat"
#endif
    is_str(kv1("v=%hhd", 300), " v=44", "%%hhd wraps like a char");
    is_str(kv1("v=%hhu", 257), " v=1", "%%hhu");
    is_str(kv1("v=%hd", 70000), " v=4464", "%%hd wraps like a short");
    is_str(kv1("v=%hu", 65535), " v=65535", "%%hu");
#ifdef __clang__
#pragma clang diagnostic pop
#endif
    is_str(kv1("v=%ld", LONG_MIN), " v=-9223372036854775808", "%%ld");
    is_str(kv1("v=%lu", ULONG_MAX), " v=18446744073709551615", "%%lu");
    is_str(kv1("v=%lx", 0xdeadbeefcafeul), " v=deadbeefcafe", "%%lx");
    is_str(kv1("v=%lld", LLONG_MIN), " v=-9223372036854775808", "%%lld");
    is_str(kv1("v=%llu", ULLONG_MAX), " v=18446744073709551615", "%%llu");
    is_str(kv1("v=%llX", 0xabcull), " v=ABC", "%%llX");
    is_str(kv1("v=%zu", SIZE_MAX), " v=18446744073709551615", "%%zu");
    is_str(kv1("v=%zd", (ssize_t)-1), " v=-1", "%%zd");
    is_str(kv1("v=%zx", (size_t)4096), " v=1000", "%%zx");
    is_str(kv1("v=%jd", INTMAX_MIN), " v=-9223372036854775808", "%%jd");
    is_str(kv1("v=%ju", UINTMAX_MAX), " v=18446744073709551615", "%%ju");
    is_str(kv1("v=%td", (ptrdiff_t)-3), " v=-3", "%%td");
    is_str(kv1("v=%lf", 0.25), " v=0.250000", "%%lf");
    is_str(kv1("v=%Lf", ld), " v=1.500000", "%%Lf");
    is_str(kv1("v=%Lg", ld), " v=1.5", "%%Lg");
    is_str(kv1("v=%lc", (wint_t)'w'), " v=w", "%%lc");
    is_str(kv1("v=%ls", L"wide"), " v=wide", "%%ls");
    is_str(kv1("v=%s", null_str), " v=(null)", "%%s of NULL prints (null)");
    is_str(kv1("v=%ls", null_wstr), " v=(null)", "%%ls of NULL prints (null)");
    is_str(kv1("v=%10s", null_str), " v=\"    (null)\"", "%%10s of NULL is padded");
    is_str(kv1("v=%f", INFINITY), " v=inf", "%%f of inf");
    is_str(kv1("v=%f", NAN), " v=nan", "%%f of nan");
    errno = ENOENT;
    is_str(kv1("err=%m"), " err=\"No such file or directory\"", "%%m prints strerror(errno)");
    saved = errno;
    is(saved, ENOENT, "errno preserved by gw_log_format_line");
    errno = EAGAIN;
    is_str(kv1("a=%d err=%m b=%s", 1, "x"), " a=1 err=\"Resource temporarily unavailable\" b=x",
           "%%m takes no argument");
    is(strlen(kv1("v=%5000d", 1)), 4 + 4096 + 1, "a huge width is cut to 4096");
    is_str(kv1("v=%.9999s", "abc"), " v=abc", "a huge precision is accepted");
    is_str(kv1("v=%'d", 1234567), " v=1234567", "' flag in the C locale");
}

static void
test_json(void)
{
    use(GW_LOG_JSON);
    is_str(line(GW_LOG_INFO, "listening", "addr=%s n=%d", "0.0.0.0:9002", 3),
           "{\"ts\":\"2026-11-23T10:00:00.123Z\",\"level\":\"info\",\"prog\":\"hbd\","
           "\"msg\":\"listening\",\"addr\":\"0.0.0.0:9002\",\"n\":3}",
           "json: the brief's example line");
    is_str(line(GW_LOG_INFO, "m", NULL), PJ "}", "json: NULL kv");
    ok(json_valid(got), "json: parses");
    is_str(line(GW_LOG_WARNING, "a \"q\"\n", NULL),
           "{\"ts\":\"2026-11-23T10:00:00.123Z\",\"level\":\"warning\",\"prog\":\"hbd\","
           "\"msg\":\"a \\\"q\\\"\\n\"}",
           "json: msg escaped");
    is_str(kv1("v=%s", "a\"b\\c\n\r\t\b\f\x01\x1f\x7f/"),
           ",\"v\":\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f/\"}", "json: string escapes");
    ok(json_valid(got), "json: escaped line parses");
    is_str(kv1("v=%s", "h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
           ",\"v\":\"h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", "json: valid UTF-8 passes");
    is_str(kv1("v=%s", "a\xff\xc0\xaf\xed\xa0\x80z"),
           ",\"v\":\"a\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffdz\"}",
           "json: each invalid UTF-8 byte becomes \\ufffd");
    ok(json_valid(got), "json: line with invalid UTF-8 input parses");
    is_str(kv1("v=%c", 0), ",\"v\":\"\\u0000\"}", "json: NUL escaped");
    is_str(kv1("v=%s", ""), ",\"v\":\"\"}", "json: empty string");
    is_str(kv1("a=%d b=%u c=%ld d=%llu", -7, 8u, 9l, ULLONG_MAX),
           ",\"a\":-7,\"b\":8,\"c\":9,\"d\":18446744073709551615}", "json: integers are numbers");
    is_str(kv1("a=%f b=%g c=%e d=%g e=%.0f f=%g", 3.5, 1e20, 12345.678, 0.0001, 3.0, -0.0),
           ",\"a\":3.500000,\"b\":1e+20,\"c\":1.234568e+04,\"d\":0.0001,\"e\":3,\"f\":-0}",
           "json: doubles are numbers");
    ok(json_valid(got), "json: numbers parse");
    is_str(kv1("a=%f b=%f c=%f d=%g", INFINITY, -INFINITY, NAN, HUGE_VAL),
           ",\"a\":\"inf\",\"b\":\"-inf\",\"c\":\"nan\",\"d\":\"inf\"}",
           "json: non-finite doubles are strings");
    is_str(kv1("a=%x b=%o c=%#x d=%a e=%p", 255u, 8u, 16u, 1.0, (void *)0x10),
           ",\"a\":\"ff\",\"b\":\"10\",\"c\":\"0x10\",\"d\":\"0x1p+0\",\"e\":\"0x10\"}",
           "json: hex, octal, %%a and %%p are strings");
    is_str(kv1("a=%5d b=%+d c=%05d d=%#.0f e=%c f=%s", 42, 5, 42, 3.0, 'x', "42"),
           ",\"a\":\"   42\",\"b\":\"+5\",\"c\":\"00042\",\"d\":\"3.\",\"e\":\"x\",\"f\":\"42\"}",
           "json: text that is not a JSON number stays a string");
    ok(json_valid(got), "json: mixed line parses");
    is_str(kv1("v=%s", null_str), ",\"v\":\"(null)\"}", "json: NULL string");
    use(GW_LOG_LOGFMT);
}

static void
test_malformed(void)
{
    use(GW_LOG_LOGFMT);
    is_str(line_raw("noequals"), P BAD, "text without '=' dropped and flagged");
    is_str(line_raw("a=%d junk b=%s", 1, "x"), P " a=1 b=x" BAD, "text between pairs dropped");
    is_str(line_raw("a=abc%d", 5), P " a=abc5", "literal text in a value is kept");
    is_str(line_raw("service=%s by=ctl", "db"), P " service=db by=ctl", "a literal value");
    is_str(line_raw("addr=%s:%u", "127.0.0.1", 80u), P " addr=127.0.0.1:80",
           "two conversions and text make one value");
    is_str(line_raw("=%d b=%d", 1, 2), P " b=2" BAD, "empty key skips its argument");
    is_str(line_raw("%d b=%s", 1, "x"), P " b=x" BAD, "conversion without key skips its argument");
    is_str(line_raw("%s%d b=%s", "s", 1, "x"), P " b=x" BAD, "two keyless conversions skipped");
    is_str(line_raw("a=%d%s", 1, "x"), P " a=1x", "two conversions in one value");
    is_str(line_raw("a="), P " a=\"\"", "empty literal value");
    is_str(line_raw("a=%d  b=%d ", 1, 2), P " a=1 b=2", "extra spaces are harmless");
    is_str(line_raw("a=%%"), P " a=%", "%% is a literal '%%'");
    is_str(line_raw("a=%n b=%d", &(int){0}, 2), P BAD, "%%n is refused and stops the parse");
    is_str(line_raw("a=%d b=%q c=%d", 1, 2, 3), P " a=1" BAD, "unknown conversion stops the parse");
    is_str(line_raw("a=%d b=%", 1), P " a=1" BAD, "'%%' at the end");
    is_str(line_raw("a=%d b=%l", 1), P " a=1" BAD, "length without conversion");
    is_str(line_raw("a=%hs", "x"), P BAD, "h with s refused");
    is_str(line_raw("a=%Ld", 1), P BAD, "L with d refused");
    is_str(line_raw("a=%zf", 1.0), P BAD, "z with f refused");
    is_str(line_raw("a=%llp", (void *)0), P BAD, "ll with p refused");
    is_str(line_raw("a\"b=%d", 1), P " a_b=1" BAD, "a quote in a key becomes '_'");
    is_str(line_raw("a\x01=%d", 1), P " a_=1" BAD, "a control char in a key becomes '_'");
    is_str(line_raw("a=%d=%d", 1, 2), P " a=\"1=2\"", "'=' inside a value");
    use(GW_LOG_JSON);
    is_str(line_raw("x a=%d", 1), PJ ",\"a\":1" BADJ "}", "json: bad format flagged");
    is_str(line_raw("n=5 a=%d%d p=%d%%", 1, 2, 50), PJ ",\"n\":\"5\",\"a\":\"12\",\"p\":\"50%\"}",
           "json: literal and mixed values are strings");
    ok(json_valid(got), "json: flagged line parses");
    is_str(line_raw("a=%q"), PJ BADJ "}", "json: stopped parse still closes the object");
    use(GW_LOG_LOGFMT);
}

/* Formats msg without pairs into a buffer of len bytes. */
static size_t
format_into(char *buf, size_t len, const char *msg, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, msg);
    n = gw_log_format_line(buf, len, WALL_MS, GW_LOG_INFO, msg, NULL, ap);
    va_end(ap);
    return n;
}

static void
test_truncation(void)
{
    static char huge[20000];
    static char mixed[20000];
    size_t n;
    char small[100];

    memset(huge, 'x', sizeof(huge) - 1);
    for (size_t i = 0; i + 1 < sizeof(mixed); i++)
        mixed[i] = "a \xc3\xa9\x01\""[i % 6];
    mixed[sizeof(mixed) - 1] = '\0';

    use(GW_LOG_LOGFMT);
    n = strlen(line(GW_LOG_INFO, "m", "v=%s b=%d", huge, 5));
    ok(n < GW_LOG_LINE_MAX && n > GW_LOG_LINE_MAX - 100, "huge value fills the line (%zu)", n);
    ok(n >= 12 && strcmp(got + n - 12, " truncated=1") == 0, "huge value: truncated=1 at the end");
    ok(strstr(got, " b=5") == NULL, "pairs after the cut are dropped");
    n = strlen(line(GW_LOG_INFO, "m", "v=%s", mixed));
    ok(n < GW_LOG_LINE_MAX && strcmp(got + n - 13, "\" truncated=1") == 0,
       "huge quoted value stays closed before truncated=1");
    n = strlen(line(GW_LOG_INFO, "m", "v=%s", mixed) + strlen(P) + 4);
    ok(n > 0, "cut value has content");
    n = strlen(line(GW_LOG_INFO, huge, "v=%d", 1));
    ok(n < GW_LOG_LINE_MAX && strcmp(got + n - 13, "\" truncated=1") == 0 &&
           strstr(got, " v=1") == NULL,
       "huge msg is cut and closed");

    use(GW_LOG_JSON);
    n = strlen(line(GW_LOG_INFO, "m", "v=%s b=%d", huge, 5));
    ok(n < GW_LOG_LINE_MAX && strcmp(got + n - 15, ",\"truncated\":1}") == 0,
       "json: huge value ends with \"truncated\":1");
    ok(json_valid(got), "json: truncated line parses");
    line(GW_LOG_INFO, "m", "v=%s", mixed);
    ok(json_valid(got), "json: cut UTF-8 and escapes still parse");
    line(GW_LOG_INFO, "m", "x v=%s", mixed);
    ok(json_valid(got) && strstr(got, BADJ ",\"truncated\":1}"),
       "json: both flags fit after a cut");

    use(GW_LOG_LOGFMT);
    n = format_into(small, sizeof(small), "a rather long message");
    ok(n < sizeof(small) && small[n] == '\0', "small buffer: NUL-terminated within len (%zu)", n);
    ok(strstr(small, "truncated=1") != NULL, "small buffer: truncated=1");
    n = format_into(small, 1, "m");
    ok(n == 0 && small[0] == '\0', "len 1 gives an empty string");
    n = format_into(small, 0, "m");
    ok(n == 0, "len 0 writes nothing");
}

static void
test_names(void)
{
    is(gw_log_level_parse("debug"), GW_LOG_DEBUG, "parse debug");
    is(gw_log_level_parse("info"), GW_LOG_INFO, "parse info");
    is(gw_log_level_parse("warning"), GW_LOG_WARNING, "parse warning");
    is(gw_log_level_parse("warn"), GW_LOG_WARNING, "parse warn");
    is(gw_log_level_parse("ERROR"), GW_LOG_ERROR, "parse ERROR (any case)");
    is(gw_log_level_parse("Info"), GW_LOG_INFO, "parse Info");
    is(gw_log_level_parse("fatal"), -1, "fatal is unknown");
    is(gw_log_level_parse(""), -1, "empty level is unknown");
    is(gw_log_level_parse("info "), -1, "trailing space is unknown");
    is(gw_log_level_parse(NULL), -1, "NULL level is unknown");
    is_str(gw_log_level_name(GW_LOG_DEBUG), "debug", "name of debug");
    is_str(gw_log_level_name(GW_LOG_WARNING), "warning", "name of warning");
    is_str(gw_log_level_name(GW_LOG_ERROR), "error", "name of error");
    is_str(gw_log_level_name((enum gw_log_level)7), "unknown", "name out of range");
    is(gw_log_format_parse("logfmt"), GW_LOG_LOGFMT, "parse logfmt");
    is(gw_log_format_parse("JSON"), GW_LOG_JSON, "parse JSON");
    is(gw_log_format_parse("text"), -1, "text is unknown");
    is(gw_log_format_parse(NULL), -1, "NULL format is unknown");
}

static int side_effects;

static int
bump(void)
{
    return ++side_effects;
}

static void
test_levels_and_write(void)
{
    char buf[65536], path[256];
    int p[2], fd;
    size_t n;

    ok(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0, "pipe");
    gw_log_init("hbd", GW_LOG_LOGFMT, p[1]);
    is(gw_log_get_level(), GW_LOG_INFO, "default level is info");
    ok(!gw_log_enabled(GW_LOG_DEBUG) && gw_log_enabled(GW_LOG_INFO), "debug off, info on");

    errno = EPIPE;
    gw_log_write(GW_LOG_INFO, "hello", "n=%d s=%s", 3, "a b");
    is(errno, EPIPE, "gw_log_write preserves errno");
    n = drain(p[0], buf, sizeof(buf));
    ok(n > 30 && strncmp(buf, "ts=", 3) == 0 && buf[n - 1] == '\n',
       "line written to the pipe with a newline");
    ok(strstr(buf, " level=info prog=hbd msg=\"hello\" n=3 s=\"a b\"\n") != NULL,
       "written line content");
    ok(strchr(buf, '\n') == buf + n - 1, "exactly one line");
    ok(n > 28 && buf[26] == 'Z' && buf[27] == ' ', "timestamp has milliseconds and Z");

    gw_log_write(GW_LOG_DEBUG, "hidden", NULL);
    GW_LOG_DEBUG("hidden", "n=%d", bump());
    is(drain(p[0], buf, sizeof(buf)), 0, "debug filtered at info");
    is(side_effects, 0, "disabled macro does not evaluate its arguments");

    gw_log_set_level(GW_LOG_WARNING);
    is(gw_log_get_level(), GW_LOG_WARNING, "level changed at run time");
    GW_LOG_INFO("hidden", "n=%d", bump());
    GW_LOG_WARN("shown", "n=%d", bump());
    GW_LOG_ERROR("shown too", NULL);
    n = drain(p[0], buf, sizeof(buf));
    ok(strstr(buf, "level=warning prog=hbd msg=\"shown\" n=1\n") != NULL, "warning passes");
    ok(strstr(buf, "level=error prog=hbd msg=\"shown too\"\n") != NULL, "error passes");
    ok(strstr(buf, "hidden") == NULL, "info filtered at warning");
    is(side_effects, 1, "only the enabled macro evaluated its arguments");

    gw_log_set_level(GW_LOG_DEBUG);
    GW_LOG_DEBUG("now shown", NULL);
    n = drain(p[0], buf, sizeof(buf));
    ok(strstr(buf, "level=debug prog=hbd msg=\"now shown\"\n") != NULL, "debug passes at debug");
    gw_log_set_level((enum gw_log_level)99);
    is(gw_log_get_level(), GW_LOG_ERROR, "out-of-range level is clamped");
    gw_log_set_level(GW_LOG_INFO);

    gw_log_init("hbd", GW_LOG_JSON, p[1]);
    gw_log_write(GW_LOG_INFO, "j", "n=%d", 1);
    n = drain(p[0], buf, sizeof(buf));
    ok(n > 0 && buf[0] == '{' && strstr(buf, ",\"msg\":\"j\",\"n\":1}\n") != NULL,
       "json line written");
    buf[n > 0 ? n - 1 : 0] = '\0';
    ok(json_valid(buf), "written json line parses");

    /* A huge line is written whole, within GW_LOG_LINE_MAX with its newline. */
    static char huge[30000];
    memset(huge, 'y', sizeof(huge) - 1);
    gw_log_init("hbd", GW_LOG_LOGFMT, p[1]);
    gw_log_write(GW_LOG_INFO, "big", "v=%s", huge);
    n = drain(p[0], buf, sizeof(buf));
    ok(n <= GW_LOG_LINE_MAX && n > GW_LOG_LINE_MAX - 64,
       "huge line written as at most GW_LOG_LINE_MAX bytes (%zu)", n);
    ok(n > 13 && strcmp(buf + n - 13, " truncated=1\n") == 0, "huge line ends with truncated=1");
    close(p[0]);
    close(p[1]);

    /* A regular file. */
    snprintf(path, sizeof(path), "%s/out.log", tmpdir);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ok(fd >= 0, "temp file opened");
    gw_log_init("logd", GW_LOG_LOGFMT, fd);
    gw_log_write(GW_LOG_ERROR, "disk full", "path=%s free=%llu", "/var/x", 0ull);
    gw_log_init("logd", GW_LOG_LOGFMT, 2);
    close(fd);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    n = drain(fd, buf, sizeof(buf));
    close(fd);
    ok(n > 0 && strstr(buf, " level=error prog=logd msg=\"disk full\" path=/var/x free=0\n") &&
           strchr(buf, '\n') == buf + n - 1,
       "line written to a regular file");
    unlink(path);
}

struct hook_state {
    int calls, depth, recursed;
    char last[GW_LOG_LINE_MAX];
    size_t last_len;
};

static void
hook(enum gw_log_level level, const char *l, size_t len, void *arg)
{
    struct hook_state *h = arg;

    h->calls++;
    if (++h->depth > 1)
        h->recursed = 1;
    memcpy(h->last, l, len + 1);
    h->last_len = len;
    if (level == GW_LOG_ERROR) {
        /* Logging from the hook is written but not passed back to the hook. */
        gw_log_write(GW_LOG_WARNING, "from hook", NULL);
    }
    h->depth--;
}

static void
test_hook(void)
{
    struct hook_state h = {0};
    char buf[4096];
    int p[2];

    ok(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0, "pipe for the hook");
    gw_log_init("hbd", GW_LOG_LOGFMT, p[1]);
    gw_log_set_hook(hook, &h);
    gw_log_write(GW_LOG_INFO, "hooked", "n=%d", 1);
    is(h.calls, 1, "hook called once per line");
    ok(h.last_len == strlen(h.last) && h.last_len > 0 && h.last[h.last_len - 1] != '\n',
       "hook gets the line without newline, NUL-terminated");
    ok(strstr(h.last, "msg=\"hooked\" n=1") != NULL, "hook gets the formatted line");
    gw_log_write(GW_LOG_DEBUG, "filtered", NULL);
    is(h.calls, 1, "hook not called for filtered lines");
    gw_log_write(GW_LOG_ERROR, "boom", NULL);
    is(h.calls, 2, "line logged from the hook does not reach the hook");
    ok(!h.recursed, "no recursion");
    drain(p[0], buf, sizeof(buf));
    ok(strstr(buf, "msg=\"boom\"\n") && strstr(buf, "msg=\"from hook\"\n"),
       "line logged from the hook is written");
    gw_log_set_hook(NULL, NULL);
    gw_log_write(GW_LOG_INFO, "unhooked", NULL);
    is(h.calls, 2, "hook removed");
    use(GW_LOG_LOGFMT);
    close(p[0]);
    close(p[1]);
}

static void
test_stalled_reader(void)
{
    static char buf[1 << 20];
    uint64_t before = gw_log_dropped(), t0;
    int p[2], i;
    size_t n;

    ok(pipe2(p, O_CLOEXEC) == 0, "blocking pipe");
    fcntl(p[1], F_SETPIPE_SZ, 4096);
    gw_log_init("hbd", GW_LOG_LOGFMT, p[1]);
    t0 = gw_mono_ms();
    for (i = 0; i < 200 && gw_log_dropped() == before; i++)
        gw_log_write(GW_LOG_INFO, "fill", "i=%d pad=%0100d", i, 0);
    ok(gw_log_dropped() > before, "lines dropped once nobody reads (after %d lines)", i);
    for (i = 0; i < 50; i++)
        gw_log_write(GW_LOG_INFO, "fill", "i=%d", i);
    diag("a full pipe cost %llu ms for 50 more lines", (unsigned long long)(gw_mono_ms() - t0));
    ok(gw_log_dropped() >= before + 50, "later lines are dropped without waiting");
    ok((fcntl(p[1], F_GETFL) & O_NONBLOCK) == 0, "the caller's fd stays blocking");

    fcntl(p[0], F_SETFL, O_NONBLOCK);
    drain(p[0], buf, sizeof(buf));
    gw_log_write(GW_LOG_INFO, "after", "n=%d", 1);
    n = drain(p[0], buf, sizeof(buf));
    ok(n > 0 && (strncmp(buf, "ts=", 3) == 0 || buf[0] == '\n'),
       "the reader is back: the next line starts on a line of its own");
    ok(strstr(buf, "msg=\"after\" n=1\n") != NULL, "the next line is written");
    use(GW_LOG_LOGFMT);
    close(p[0]);
    close(p[1]);
}

#define THREADS 4
#define LINES_PER_THREAD 1000

static char pad[6000];

static void *
writer(void *arg)
{
    int id = (int)(intptr_t)arg;

    /* Mostly short lines, every 16th longer than PIPE_BUF. */
    for (int i = 0; i < LINES_PER_THREAD; i++)
        gw_log_write(GW_LOG_INFO, "tick", "thread=%d seq=%d pad=%.*s end=%d", id, i,
                     i % 16 ? (i * 37 + id * 11) % 300 : 4500 + i % 500, pad, 1);
    return NULL;
}

struct reader_state {
    int fd;
    char *buf;
    size_t len, size;
};

/* Reads until EOF, giving up after 20 s without data. */
static void *
reader(void *arg)
{
    struct reader_state *r = arg;
    struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
    uint64_t deadline = gw_mono_ms() + 20000;
    ssize_t n;

    while (r->len < r->size && gw_mono_ms() < deadline) {
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        n = read(r->fd, r->buf + r->len, r->size - r->len);
        if (n <= 0)
            break;
        r->len += (size_t)n;
        deadline = gw_mono_ms() + 20000;
    }
    return NULL;
}

/* Every line is whole and each thread's lines arrive in order. */
static int
check_lines(char *buf, size_t len, int *count)
{
    int next[THREADS] = {0};
    char *p = buf, *nl;

    *count = 0;
    while (p < buf + len && (nl = memchr(p, '\n', (size_t)(buf + len - p))) != NULL) {
        int id, seq, off = 0;
        *nl = '\0';
        if (strncmp(p, "ts=", 3) != 0 || strlen(p) < 6 || strcmp(nl - 6, " end=1") != 0)
            return 0;
        if (sscanf(p, "ts=%*s level=info prog=conc msg=\"tick\" thread=%d seq=%d%n", &id, &seq,
                   &off) != 2 ||
            off == 0 || id < 0 || id >= THREADS || seq != next[id]++)
            return 0;
        (*count)++;
        p = nl + 1;
    }
    return p == buf + len;
}

static void
test_concurrent(void)
{
    pthread_t t[THREADS], rt;
    struct reader_state r = {0};
    char path[256];
    int fd, count, p[2];
    struct stat st;
    uint64_t before;

    memset(pad, 'p', sizeof(pad) - 1);
    before = gw_log_dropped();

    /* Into a regular file. */
    snprintf(path, sizeof(path), "%s/conc.log", tmpdir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    gw_log_init("conc", GW_LOG_LOGFMT, fd);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    gw_log_init("conc", GW_LOG_LOGFMT, 2);
    fstat(fd, &st);
    r.size = (size_t)st.st_size;
    r.buf = malloc(r.size + 1);
    ok(pread(fd, r.buf, r.size, 0) == (ssize_t)r.size, "file read back");
    ok(check_lines(r.buf, r.size, &count), "file: 4 threads wrote whole lines only, in order");
    is(count, THREADS * LINES_PER_THREAD, "file: every line arrived");
    free(r.buf);
    close(fd);
    unlink(path);

    /* Into a pipe, with lines longer than PIPE_BUF. */
    ok(pipe2(p, O_CLOEXEC) == 0, "pipe for concurrent writers");
    r.fd = p[0];
    r.len = 0;
    r.size = 64 << 20;
    r.buf = malloc(r.size);
    gw_log_init("conc", GW_LOG_LOGFMT, p[1]);
    pthread_create(&rt, NULL, reader, &r);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    /* Closes the library's own description of the pipe too, so the reader sees EOF. */
    gw_log_init("conc", GW_LOG_LOGFMT, 2);
    close(p[1]);
    pthread_join(rt, NULL);
    ok(check_lines(r.buf, r.len, &count), "pipe: whole lines only, in order");
    is(count, THREADS * LINES_PER_THREAD, "pipe: every line arrived");
    is(gw_log_dropped(), before, "pipe: nothing dropped while the reader keeps up");
    free(r.buf);
    close(p[0]);
}

int
main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_logfmt();
    test_logfmt_quoting();
    test_conversions();
    test_json();
    test_malformed();
    test_truncation();
    test_names();
    test_levels_and_write();
    test_hook();
    test_concurrent();
    test_stalled_reader();
    rmdir(tmpdir);
    return done_testing();
}
