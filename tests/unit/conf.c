/*
 * conf.c -- tests of lib/conf.c: value types, bounds, every error message with its line,
 * did-you-mean, named sections, environment overrides, origins, JSON, mdoc, bad schemas,
 * fields bound to a settings struct, restart-only keys, and 1,000 reloads of bound snapshots
 * published through lib/snap with memory flat.
 */
#include "conf.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "snap.h"

#include "../tap.h"

#define SEC(x) ((int64_t)(x)*1000)

/* One key of each type, unbounded. */
static const struct gw_conf_key t_keys[] = {
    {"i", GW_CONF_INT, NULL, 0, 0, NULL, "an int", 0, 0, 0},
    {"b", GW_CONF_BOOL, NULL, 0, 0, NULL, "a bool", 0, 0, 0},
    {"s", GW_CONF_STRING, NULL, 0, 0, NULL, "a string", 0, 0, 0},
    {"d", GW_CONF_DURATION, NULL, 0, 0, NULL, "a duration", 0, 0, 0},
    {"z", GW_CONF_SIZE, NULL, 0, 0, NULL, "a size", 0, 0, 0},
    {"a", GW_CONF_ADDR, NULL, 0, 0, NULL, "an address", 0, 0, 0},
    {"e", GW_CONF_ENUM, NULL, 0, 0, "alpha|beta|gamma", "an enum", 0, 0, 0},
    {"least", GW_CONF_INT, NULL, 1, INT64_MAX, NULL, "at least one", 0, 0, 0},
    {"most", GW_CONF_INT, NULL, INT64_MIN, 10, NULL, "at most ten", 0, 0, 0},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

static const struct gw_conf_key hbd_keys[] = {
    {"listen", GW_CONF_ADDR, "*:9002", 0, 0, NULL, "where heartbeats arrive", 0, 0, 0},
    {"workers", GW_CONF_INT, "4", 1, 1024, NULL, "worker threads", 0, 0, 0},
    {"client_timeout", GW_CONF_DURATION, "60s", SEC(1), SEC(3600), NULL, "idle limit", 0, 0, 0},
    {"max_line", GW_CONF_SIZE, "4k", 64, 64 * 1024, NULL, "longest line", 0, 0, 0},
    {"motd", GW_CONF_STRING, NULL, 0, 0, NULL, "greeting. Shown on connect", 0, 0, 0},
    {"fsync", GW_CONF_BOOL, "no", 0, 0, NULL, "sync each write", 0, 0, 0},
    {"log_level", GW_CONF_ENUM, "info", 0, 0, "debug|info|warning|error", "least level", 0, 0, 0},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

static const struct gw_conf_key backend_keys[] = {
    {"address", GW_CONF_ADDR, NULL, 0, 0, NULL, "where the backend listens", 0, 0, 0},
    {"weight", GW_CONF_INT, "1", 0, 100, NULL, "share of the clients", 0, 0, 0},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

static const struct gw_conf_section t_sec = {"t", 0, t_keys, "one key of each type"};
static const struct gw_conf_section hbd_sec = {"hbd", 0, hbd_keys, "the heartbeat server"};
static const struct gw_conf_section backend_sec = {"backend", 1, backend_keys, "a backend"};
static const struct gw_conf_section *const schema[] = {&t_sec, &hbd_sec, &backend_sec, NULL};

static struct gw_conf *
load(const char *text, int *rc)
{
    struct gw_conf *c = gw_conf_new(schema);
    int r;

    if (!c)
        abort();
    r = gw_conf_load_string(c, "t.conf", text);
    if (rc)
        *rc = r;
    return c;
}

static const char *
first_err(const struct gw_conf *c)
{
    return gw_conf_error_count(c) ? gw_conf_error(c, 0) : "(no error)";
}

/* Loads "[section]\nkey = value" and returns the error, or NULL with *num and str filled. */
static char *
try_value(const char *section, const char *key, const char *value, int64_t *num, char *str)
{
    static char err[600];
    char text[1024];
    struct gw_conf *c;

    snprintf(text, sizeof text, "[%s]\n%s = %s\n", section, key, value);
    c = load(text, NULL);
    if (gw_conf_error_count(c)) {
        gw_strlcpy(err, gw_conf_error(c, 0), sizeof err);
        gw_conf_free(c);
        return err;
    }
    if (num)
        *num = strcmp(key, "s") && strcmp(key, "a") ? gw_conf_int(c, section, NULL, key) : 0;
    if (str)
        gw_strlcpy(str, gw_conf_str(c, section, NULL, key), 256);
    gw_conf_free(c);
    return NULL;
}

static void
good(const char *key, const char *value, int64_t want)
{
    int64_t got = -12345;
    char *err = try_value("t", key, value, &got, NULL);

    ok(err == NULL, "%s = %s accepted", key, value);
    if (err)
        diag("error: %s", err);
    is(got, want, "%s = %s reads as %lld", key, value, (long long)want);
}

static void
bad(const char *section, const char *key, const char *value, const char *want)
{
    char *err = try_value(section, key, value, NULL, NULL);

    is_str(err, want, "%s = '%s' refused with its message", key, value);
}

static void
test_int(void)
{
    good("i", "42", 42);
    good("i", "-7", -7);
    good("i", "+3", 3);
    good("i", "0", 0);
    good("i", "9223372036854775807", INT64_MAX);
    good("i", "-9223372036854775807", -INT64_MAX);
    bad("t", "i", "many", "t.conf:2: 'i': expected an integer, got 'many'");
    bad("t", "i", "", "t.conf:2: 'i': expected an integer, got ''");
    bad("t", "i", "4 2", "t.conf:2: 'i': expected an integer, got '4 2'");
    bad("t", "i", "0x10", "t.conf:2: 'i': expected an integer, got '0x10'");
    bad("t", "i", "1.5", "t.conf:2: 'i': expected an integer, got '1.5'");
    bad("t", "i", "-", "t.conf:2: 'i': expected an integer, got '-'");
    bad("t", "i", "9223372036854775808", "t.conf:2: 'i': 9223372036854775808 is too large");
    bad("t", "i", "99999999999999999999", "t.conf:2: 'i': 99999999999999999999 is too large");
}

static void
test_bool(void)
{
    good("b", "yes", 1);
    good("b", "no", 0);
    good("b", "TRUE", 1);
    good("b", "false", 0);
    good("b", "On", 1);
    good("b", "off", 0);
    good("b", "1", 1);
    good("b", "0", 0);
    bad("t", "b", "maybe",
        "t.conf:2: 'b': expected yes/no, true/false, on/off or 1/0, got 'maybe'");
    bad("t", "b", "2", "t.conf:2: 'b': expected yes/no, true/false, on/off or 1/0, got '2'");
    bad("t", "b", "", "t.conf:2: 'b': expected yes/no, true/false, on/off or 1/0, got ''");
}

static void
test_string(void)
{
    char str[256];

    ok(try_value("t", "s", "hello world", NULL, str) == NULL, "string with a space accepted");
    is_str(str, "hello world", "string kept as written");
    ok(try_value("t", "s", "\"  quoted;x \"", NULL, str) == NULL, "quoted string accepted");
    is_str(str, "  quoted;x ", "quotes removed, blanks and ';' inside quotes kept");
    ok(try_value("t", "s", "\"\"", NULL, str) == NULL && strcmp(str, "") == 0,
       "empty quotes give an empty string");
    bad("t", "s", "\"a ; b\"", "t.conf:2: 's': missing closing quote");
    bad("t", "s", "\"", "t.conf:2: 's': missing closing quote");
    ok(try_value("t", "s", "value ; comment", NULL, str) == NULL, "inline comment accepted");
    is_str(str, "value", "inline ' ;' comment dropped");
    ok(try_value("t", "s", "a;b#c", NULL, str) == NULL, "';' and '#' inside a value accepted");
    is_str(str, "a;b#c", "';' without a blank before it is part of the value");
    ok(try_value("t", "s", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", NULL, str) == NULL,
       "UTF-8 string accepted");
    ok(try_value("t", "s", "", NULL, str) == NULL && strcmp(str, "") == 0, "empty string accepted");
    bad("t", "s", "a\x01z", "t.conf:2: 's': not printable UTF-8 text");
    bad("t", "s", "a\x7fz", "t.conf:2: 's': not printable UTF-8 text");
    bad("t", "s", "caf\xe9", "t.conf:2: 's': not printable UTF-8 text");
    bad("t", "s", "\xc0\xaf", "t.conf:2: 's': not printable UTF-8 text");
    bad("t", "s", "\xe0\x80\xaf", "t.conf:2: 's': not printable UTF-8 text");
    bad("t", "s", "\xed\xa0\x80", "t.conf:2: 's': not printable UTF-8 text");
    bad("t", "s", "\xf4\x90\x80\x80", "t.conf:2: 's': not printable UTF-8 text");
    bad("t", "s", "\xe2\x82", "t.conf:2: 's': not printable UTF-8 text");
}

static void
test_duration(void)
{
    good("d", "500ms", 500);
    good("d", "30s", 30000);
    good("d", "5m", 300000);
    good("d", "2h", 7200000);
    good("d", "1d", 86400000);
    good("d", "7", 7000);
    good("d", "0", 0);
    good("d", "9223372036854775807ms", INT64_MAX);
    bad("t", "d", "5x", "t.conf:2: 'd': bad duration '5x' (use ms, s, m, h or d)");
    bad("t", "d", "-1s", "t.conf:2: 'd': bad duration '-1s' (use ms, s, m, h or d)");
    bad("t", "d", "1.5s", "t.conf:2: 'd': bad duration '1.5s' (use ms, s, m, h or d)");
    bad("t", "d", "s", "t.conf:2: 'd': bad duration 's' (use ms, s, m, h or d)");
    bad("t", "d", "", "t.conf:2: 'd': bad duration '' (use ms, s, m, h or d)");
    bad("t", "d", "5 s", "t.conf:2: 'd': bad duration '5 s' (use ms, s, m, h or d)");
    bad("t", "d", "5S", "t.conf:2: 'd': bad duration '5S' (use ms, s, m, h or d)");
    bad("t", "d", "9223372036854775807s",
        "t.conf:2: 'd': duration '9223372036854775807s' is too large");
    bad("t", "d", "99999999999999999999ms",
        "t.conf:2: 'd': duration '99999999999999999999ms' is too large");
}

static void
test_size(void)
{
    good("z", "512", 512);
    good("z", "512b", 512);
    good("z", "64k", 65536);
    good("z", "64K", 65536);
    good("z", "2kb", 2048);
    good("z", "16M", 16 << 20);
    good("z", "16MiB", 16 << 20);
    good("z", "16mib", 16 << 20);
    good("z", "1G", 1ll << 30);
    good("z", "1GiB", 1ll << 30);
    good("z", "0", 0);
    bad("t", "z", "4q", "t.conf:2: 'z': bad size '4q' (use k, m or g)");
    bad("t", "z", "k", "t.conf:2: 'z': bad size 'k' (use k, m or g)");
    bad("t", "z", "-1", "t.conf:2: 'z': bad size '-1' (use k, m or g)");
    bad("t", "z", "16MiBs", "t.conf:2: 'z': bad size '16MiBs' (use k, m or g)");
    bad("t", "z", "1.5M", "t.conf:2: 'z': bad size '1.5M' (use k, m or g)");
    bad("t", "z", "1T", "t.conf:2: 'z': bad size '1T' (use k, m or g)");
    bad("t", "z", "9999999999g", "t.conf:2: 'z': size '9999999999g' is too large");
}

static void
test_addr(void)
{
    static const char *const goods[] = {"*:9002",
                                        ":9002",
                                        "127.0.0.1:80",
                                        "[::1]:80",
                                        "localhost:9002",
                                        "redis.internal:6379",
                                        "gw-1.example.com:65535",
                                        "my_svc:80",
                                        "unix:/tmp/x.sock",
                                        "\"0.0.0.0:8080\""};
    static const char *const bads[] = {
        "1.2.3.4", "",       "localhost", "localhost:0",  "localhost:65536", "-bad-:80",
        "a..b:80", "x/y:80", "[::1]",     "1.2.3.4:http", "300.1.1.1:80",    "::1:80"};
    char str[256], *err;
    size_t i;

    for (i = 0; i < GW_ARRAY_LEN(goods); i++) {
        err = try_value("t", "a", goods[i], NULL, str);
        ok(err == NULL, "address %s accepted", goods[i]);
        if (err)
            diag("error: %s", err);
    }
    is_str(str, "0.0.0.0:8080", "quoted address kept without its quotes");
    for (i = 0; i < GW_ARRAY_LEN(bads); i++) {
        err = try_value("t", "a", bads[i], NULL, NULL);
        ok(err && strncmp(err, "t.conf:2: 'a': bad address: ", 28) == 0,
           "address '%s' refused as a bad address", bads[i]);
        if (err)
            diag("message: %s", err);
    }
    bad("t", "a", "1.2.3.4", "t.conf:2: 'a': bad address: missing port in '1.2.3.4'");
    bad("t", "a", "localhost:0", "t.conf:2: 'a': bad address: port 0 not allowed in 'localhost:0'");
    bad("t", "a", "-bad-:80", "t.conf:2: 'a': bad address: bad host name '-bad-' in '-bad-:80'");
    bad("t", "a", "a..b:80", "t.conf:2: 'a': bad address: bad host name 'a..b' in 'a..b:80'");
    bad("t", "a", "unix:/tmp/\xff", "t.conf:2: 'a': bad address: not printable UTF-8 text");
}

static void
test_enum(void)
{
    char str[256];

    good("e", "alpha", 0);
    good("e", "gamma", 2);
    ok(try_value("t", "e", "BETA", NULL, str) == NULL, "enum matched in any case");
    is_str(str, "beta", "enum text is the schema's spelling");
    bad("t", "e", "delta", "t.conf:2: 'e': 'delta' is not one of alpha, beta, gamma");
    bad("t", "e", "", "t.conf:2: 'e': '' is not one of alpha, beta, gamma");
    bad("t", "e", "alpha|beta", "t.conf:2: 'e': 'alpha|beta' is not one of alpha, beta, gamma");
    bad("hbd", "log_level", "loud",
        "t.conf:2: 'log_level': 'loud' is not one of debug, info, warning, error");
}

static void
test_bounds(void)
{
    int64_t n;

    bad("hbd", "workers", "0", "t.conf:2: 'workers': 0 is out of range (1..1024)");
    bad("hbd", "workers", "1025", "t.conf:2: 'workers': 1025 is out of range (1..1024)");
    bad("hbd", "workers", "-5", "t.conf:2: 'workers': -5 is out of range (1..1024)");
    ok(try_value("hbd", "workers", "1024", &n, NULL) == NULL && n == 1024, "workers 1024 fits");
    ok(try_value("hbd", "workers", "1", &n, NULL) == NULL && n == 1, "workers 1 fits");
    bad("hbd", "client_timeout", "2h", "t.conf:2: 'client_timeout': 2h is out of range (1s..1h)");
    bad("hbd", "client_timeout", "500ms",
        "t.conf:2: 'client_timeout': 500ms is out of range (1s..1h)");
    ok(try_value("hbd", "client_timeout", "60m", &n, NULL) == NULL && n == 3600000,
       "client_timeout 60m fits");
    bad("hbd", "max_line", "1m", "t.conf:2: 'max_line': 1m is out of range (64B..64KiB)");
    bad("hbd", "max_line", "63", "t.conf:2: 'max_line': 63 is out of range (64B..64KiB)");
    ok(try_value("hbd", "max_line", "64KiB", &n, NULL) == NULL && n == 65536,
       "max_line 64KiB fits");
    bad("t", "least", "0", "t.conf:2: 'least': 0 is out of range (at least 1)");
    bad("t", "most", "11", "t.conf:2: 'most': 11 is out of range (at most 10)");
    good("least", "9223372036854775807", INT64_MAX);
    good("most", "-9223372036854775807", -INT64_MAX);
}

static void
test_parsers(void)
{
    char err[GW_ERR_LEN];
    int64_t v;
    int on;

    ok(gw_conf_parse_duration("250ms", &v, err) == 0 && v == 250, "parse_duration 250ms");
    ok(gw_conf_parse_duration("10", &v, NULL) == 0 && v == 10000, "parse_duration bare seconds");
    ok(gw_conf_parse_duration("10y", &v, err) == -1, "parse_duration refuses 10y");
    is_str(err, "bad duration '10y' (use ms, s, m, h or d)", "parse_duration reason has no key");
    ok(gw_conf_parse_duration("10y", &v, NULL) == -1, "parse_duration takes a NULL err");
    ok(gw_conf_parse_size("16M", &v, err) == 0 && v == 16 << 20, "parse_size 16M");
    ok(gw_conf_parse_size("4q", &v, err) == -1, "parse_size refuses 4q");
    is_str(err, "bad size '4q' (use k, m or g)", "parse_size reason");
    ok(gw_conf_parse_bool("Yes", &on, err) == 0 && on == 1, "parse_bool Yes");
    ok(gw_conf_parse_bool("nope", &on, err) == -1, "parse_bool refuses nope");
    is_str(err, "expected yes/no, true/false, on/off or 1/0, got 'nope'", "parse_bool reason");
    ok(gw_conf_parse_duration(
           "1111111111111111111111111111111111111111111111111111111111111111111111111111111x", &v,
           err) == -1 &&
           strstr(err, "...'") != NULL,
       "a long bad value is cut in the message");
}

static void
errors_are(const char *what, const char *text, const char *const *want, size_t n)
{
    struct gw_conf *c;
    size_t i;
    int rc;

    c = load(text, &rc);
    ok(rc == -1, "%s: load fails", what);
    is(gw_conf_error_count(c), n, "%s: %zu error(s)", what, n);
    for (i = 0; i < n && i < gw_conf_error_count(c); i++)
        is_str(gw_conf_error(c, i), want[i], "%s: error %zu", what, i + 1);
    for (i = n; i < gw_conf_error_count(c); i++)
        diag("extra: %s", gw_conf_error(c, i));
    gw_conf_free(c);
}

#define ERRORS(what, text, ...)                                                                    \
    do {                                                                                           \
        static const char *const want_[] = {__VA_ARGS__};                                          \
        errors_are(what, text, want_, GW_ARRAY_LEN(want_));                                        \
    } while (0)

static void
test_syntax(void)
{
    ERRORS("key without '='", "[hbd]\nworkers = 4\nworkers\n",
           "t.conf:3: syntax error: expected key = value");
    ERRORS("unclosed section", "; comment\n[hbd\nworkers = 4\n",
           "t.conf:2: syntax error: missing ']'", "t.conf:3: key 'workers' outside a section");
    ERRORS("every syntax error reported", "[hbd]\nfoo\n\nbar\n# ok\n[x\n",
           "t.conf:2: syntax error: expected key = value",
           "t.conf:4: syntax error: expected key = value", "t.conf:6: syntax error: missing ']'");
    ERRORS("empty key", "[hbd]\n= 4\n", "t.conf:2: syntax error: expected key = value");
    ERRORS("key outside a section", "\n\nworkers = 4\n[hbd]\nworkers = 5\n",
           "t.conf:3: key 'workers' outside a section");
    ERRORS("empty section name", "[]\nworkers = 4\n", "t.conf:1: empty section name []");
    ERRORS("section name too long",
           "[backend aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\naddress = "
           "*:1\n",
           "t.conf:1: section name too long (max 48 bytes)");
}

static void
test_sections(void)
{
    struct gw_conf *c;
    int rc;

    ERRORS("unknown section, close", "[hbd]\nworkers = 2\n[hdb]\nworkers = 3\n",
           "t.conf:3: unknown section [hdb], did you mean [hbd]?");
    ERRORS("unknown section, upper case", "[HBD]\n",
           "t.conf:1: unknown section [HBD], did you mean [hbd]?");
    ERRORS("unknown section, far", "[zzzzzz]\nfoo = 1\n", "t.conf:1: unknown section [zzzzzz]");
    ERRORS("unknown named section", "[backnd chat-1]\naddress = *:1\n",
           "t.conf:1: unknown section [backnd chat-1], did you mean [backend]?");
    ERRORS("unknown section close to a known one", "[wsgw]\n",
           "t.conf:1: unknown section [wsgw], did you mean [wsgwd]?");
    ERRORS("named section without a name", "[backend]\naddress = *:1\n",
           "t.conf:1: [backend] needs a name: [backend NAME]");
    ERRORS("unnamed section with a name", "[hbd main]\nworkers = 2\n",
           "t.conf:1: [hbd] takes no name");
    ERRORS(
        "bad instance name", "[backend a/b]\n[backend a b]\n",
        "t.conf:1: bad name 'a/b' for [backend] (use up to 32 letters, digits, '.', '_' or '-')",
        "t.conf:2: bad name 'a b' for [backend] (use up to 32 letters, digits, '.', '_' or '-')");
    ERRORS("instance name too long", "[backend abcdefghijabcdefghijabcdefghijabc]\n",
           "t.conf:1: bad name 'abcdefghijabcdefghijabcdefghijabc' for [backend] (use up to 32 "
           "letters, digits, '.', '_' or '-')");
    ERRORS("duplicate named section",
           "[backend a]\naddress = *:1\n[backend b]\naddress = *:2\n[backend a]\nweight = 3\n",
           "t.conf:5: duplicate section [backend a] (first at line 1)");

    c = load("[logd]\nanything = 1\n[sink s3]\nx = y\n[sink]\n[wsgwd]\nlisten = junk\n", &rc);
    ok(rc == 0 && gw_conf_error_count(c) == 0, "known sections outside the schema are skipped");
    gw_conf_free(c);

    c = load("[hbd]\nworkers = 2\n[t]\ni = 1\n[hbd]\nlisten = *:1\n", &rc);
    ok(rc == 0, "an unnamed section may be reopened");
    is(gw_conf_int(c, "hbd", NULL, "workers"), 2, "first part of a reopened section kept");
    is_str(gw_conf_str(c, "hbd", NULL, "listen"), "*:1", "second part of a reopened section read");
    gw_conf_free(c);

    c = load("  [hbd]\n\tworkers = 2\n  listen = *:1\n    ; indented comment\n", &rc);
    ok(rc == 0, "indented file accepted: %s", first_err(c));
    is(gw_conf_int(c, "hbd", NULL, "workers"), 2, "indented key read");
    is_str(gw_conf_str(c, "hbd", NULL, "listen"), "*:1",
           "indented key after a key is a key, not a continuation");
    gw_conf_free(c);

    c = load("\xef\xbb\xbf[hbd]\r\nworkers = 2\r\n\r\nfoo\r\n", &rc);
    is(gw_conf_error_count(c), 1, "BOM and CRLF file: one error");
    is_str(first_err(c), "t.conf:4: syntax error: expected key = value",
           "CRLF lines counted right");
    is(gw_conf_int(c, "hbd", NULL, "workers"), 2, "value before CR read");
    gw_conf_free(c);

    c = load("[hbd] ; the server\nworkers: 3\n[hbd]\n", &rc);
    ok(rc == 0, "comment after a header, 'key: value' accepted");
    is(gw_conf_int(c, "hbd", NULL, "workers"), 3, "'key: value' read");
    gw_conf_free(c);

    c = load("[hbd]\nworkers = 2", &rc);
    ok(rc == 0 && gw_conf_int(c, "hbd", NULL, "workers") == 2, "last line without newline read");
    gw_conf_free(c);

    c = load("", &rc);
    ok(rc == 0 && gw_conf_error_count(c) == 0, "empty text is fine");
    gw_conf_free(c);
}

static void
test_keys(void)
{
    ERRORS("unknown key, close", "[hbd]\nlistn = *:1\n",
           "t.conf:2: unknown key 'listn' in [hbd], did you mean 'listen'?");
    ERRORS("unknown key, close, upper case", "[hbd]\nWORKERS = 2\n",
           "t.conf:2: unknown key 'WORKERS' in [hbd], did you mean 'workers'?");
    ERRORS("unknown key, long name", "[hbd]\nclient_timout_ms = 5s\n",
           "t.conf:2: unknown key 'client_timout_ms' in [hbd], did you mean 'client_timeout'?");
    ERRORS("unknown key, far", "[hbd]\nzzz = 1\n", "t.conf:2: unknown key 'zzz' in [hbd]");
    ERRORS("unknown key, short and far", "[hbd]\nxy = 1\n", "t.conf:2: unknown key 'xy' in [hbd]");
    ERRORS("unknown key in a named section", "[backend chat-1]\nadress = *:1\n",
           "t.conf:2: unknown key 'adress' in [backend chat-1], did you mean 'address'?");
    ERRORS("duplicate key", "[hbd]\n\nlisten = *:1\nworkers = 2\nlisten = *:2\n",
           "t.conf:5: duplicate key 'listen' in [hbd] (first at line 3)");
    ERRORS("duplicate key across a reopened section",
           "[hbd]\nworkers = 2\n[t]\n[hbd]\nworkers = 3\n",
           "t.conf:5: duplicate key 'workers' in [hbd] (first at line 2)");
    ERRORS("duplicate key in a named section", "[backend b1]\nweight = 1\nweight = 2\n",
           "t.conf:3: duplicate key 'weight' in [backend b1] (first at line 2)");
    ERRORS("duplicate of a bad value still caught", "[hbd]\nworkers = 0\nworkers = 2\n",
           "t.conf:2: 'workers': 0 is out of range (1..1024)",
           "t.conf:3: duplicate key 'workers' in [hbd] (first at line 2)");
    ERRORS("keys of a bad section are not reported", "[hdb]\nlistn = 1\nfoo\n",
           "t.conf:1: unknown section [hdb], did you mean [hbd]?",
           "t.conf:3: syntax error: expected key = value");
    ERRORS("control characters in a key are shown as '?'", "[hbd]\nwo\x1bkers = 1\n",
           "t.conf:2: unknown key 'wo?kers' in [hbd], did you mean 'workers'?");
}

static void
test_long_lines(void)
{
    char text[8192], *p;
    struct gw_conf *c;
    int rc;

    /* exactly GW_CONF_MAX_LINE bytes */
    p = text + sprintf(text, "[hbd]\nmotd = ");
    memset(p, 'x', GW_CONF_MAX_LINE - 7);
    strcpy(p + GW_CONF_MAX_LINE - 7, "\nworkers = 2\n");
    c = load(text, &rc);
    ok(rc == 0, "a line of %d bytes is fine: %s", GW_CONF_MAX_LINE, first_err(c));
    is(strlen(gw_conf_str(c, "hbd", NULL, "motd")), GW_CONF_MAX_LINE - 7, "its value is whole");
    gw_conf_free(c);

    /* one more, with a CR: the CR is not counted */
    p = text + sprintf(text, "[hbd]\nmotd = ");
    memset(p, 'x', GW_CONF_MAX_LINE - 7);
    strcpy(p + GW_CONF_MAX_LINE - 7, "\r\n");
    c = load(text, &rc);
    ok(rc == 0, "a line of %d bytes plus CR is fine", GW_CONF_MAX_LINE);
    gw_conf_free(c);

    p = text + sprintf(text, "[hbd]\nmotd = ");
    memset(p, 'x', GW_CONF_MAX_LINE - 6);
    strcpy(p + GW_CONF_MAX_LINE - 6, "\nfoo\n");
    ERRORS("line one byte too long", text, "t.conf:2: line too long (max 1024 bytes)",
           "t.conf:3: syntax error: expected key = value");

    /* past inih's own 200-byte buffer: the value is still whole, its comment still dropped */
    p = text + sprintf(text, "[hbd]\nmotd =   ");
    memset(p, 'y', 600);
    strcpy(p + 600, "   ; a comment\nworkers = 3\n");
    c = load(text, &rc);
    ok(rc == 0, "a 600-byte value loads");
    is(strlen(gw_conf_str(c, "hbd", NULL, "motd")), 600,
       "its value is whole, comment and blanks dropped");
    is(gw_conf_int(c, "hbd", NULL, "workers"), 3, "the next line is read as usual");
    is_str(gw_conf_origin(c, "hbd", NULL, "motd"), "t.conf:2", "long value origin");
    gw_conf_free(c);

    /* a long line whose tail looks like a key must not set it */
    p = text + sprintf(text, "[hbd]\nmotd = ");
    memset(p, 'x', 5000);
    strcpy(p + 5000, " workers = 7\nfoo\n");
    c = load(text, &rc);
    is(gw_conf_error_count(c), 2, "5000-byte line: two errors");
    is_str(gw_conf_error(c, 0), "t.conf:2: line too long (max 1024 bytes)",
           "5000-byte line refused");
    is_str(gw_conf_error(c, 1), "t.conf:3: syntax error: expected key = value",
           "line after a long line has the right number");
    is(gw_conf_int(c, "hbd", NULL, "workers"), 4, "tail of a long line set nothing");
    is_str(gw_conf_origin(c, "hbd", NULL, "motd"), "default", "long line set no value");
    gw_conf_free(c);

    /* a source past GW_CONF_MAX_LINES stops there */
    {
        size_t n = (size_t)GW_CONF_MAX_LINES + 5;
        char *big = malloc(n + 1);
        memset(big, '\n', n);
        big[n] = '\0';
        c = load(big, &rc);
        ok(rc == -1, "a million and five lines fail");
        is_str(first_err(c), "t.conf:1000000: too many lines (max 1000000)", "line count bound");
        is(gw_conf_error_count(c), 1, "reading stops at the bound");
        gw_conf_free(c);
        free(big);
    }

    /* section header long for inih's 50-byte section buffer */
    ERRORS("header past inih's section buffer",
           "[backend abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij]\nweight = 2\n",
           "t.conf:1: section name too long (max 48 bytes)");
}

static void
test_many_errors(void)
{
    char text[4096] = "[hbd]\n";
    struct gw_conf *c;
    int i, rc;

    for (i = 0; i < 150; i++)
        strcat(text, "x\n");
    c = load(text, &rc);
    ok(rc == -1, "150 bad lines: load fails");
    is(gw_conf_error_count(c), GW_CONF_MAX_ERRORS + 1, "errors capped");
    is_str(gw_conf_error(c, GW_CONF_MAX_ERRORS - 1),
           "t.conf:101: syntax error: expected key = value", "last kept error");
    is_str(gw_conf_error(c, GW_CONF_MAX_ERRORS), "too many errors", "cap is announced");
    ok(gw_conf_error(c, GW_CONF_MAX_ERRORS + 1) == NULL, "past the end: NULL");
    rc = gw_conf_load_string(c, "more", "[hbd]\nfoo\n");
    ok(rc == -1, "a later load past the cap still reports failure");
    gw_conf_free(c);
}

static void
test_named(void)
{
    const char *names[4];
    struct gw_conf *c;
    char text[64 * 1100];
    size_t n, len;
    int rc, i;

    c = load("[backend chat-2]\naddress = 127.0.0.1:7002\nweight = 5\n"
             "[backend chat-1]\naddress = 127.0.0.1:7001\n",
             &rc);
    ok(rc == 0, "two backends load: %s", first_err(c));
    n = gw_conf_instances(c, "backend", names, 4);
    is(n, 2, "two instances");
    is_str(names[0], "chat-2", "first instance in file order");
    is_str(names[1], "chat-1", "second instance in file order");
    is(gw_conf_instances(c, "backend", names, 1), 2, "count returned even past max");
    is(gw_conf_instances(c, "hbd", names, 4), 0, "unnamed section has no instances");
    is_str(gw_conf_str(c, "backend", "chat-1", "address"), "127.0.0.1:7001", "chat-1 address");
    is(gw_conf_int(c, "backend", "chat-2", "weight"), 5, "chat-2 weight");
    is(gw_conf_int(c, "backend", "chat-1", "weight"), 1, "chat-1 weight is the default");
    is_str(gw_conf_origin(c, "backend", "chat-2", "weight"), "t.conf:3", "chat-2 weight origin");
    is_str(gw_conf_origin(c, "backend", "chat-1", "weight"), "default", "chat-1 weight origin");
    is_str(gw_conf_str(c, "backend", "nope", "address"), "", "missing instance reads as defaults");
    is(gw_conf_int(c, "backend", NULL, "weight"), 1, "NULL instance reads as defaults");
    gw_conf_free(c);

    len = 0;
    for (i = 0; i < GW_CONF_MAX_INSTANCES + 1; i++)
        len += (size_t)sprintf(text + len, "[backend b%d]\n", i);
    c = load(text, &rc);
    is(gw_conf_error_count(c), 1, "one instance too many: one error");
    is_str(first_err(c), "t.conf:1025: too many [backend] sections (max 1024)",
           "instance limit named");
    is(gw_conf_instances(c, "backend", names, 0), GW_CONF_MAX_INSTANCES, "1024 instances kept");
    gw_conf_free(c);
}

static void
test_defaults(void)
{
    struct gw_conf *c = gw_conf_new(schema);

    ok(c != NULL, "schema accepted");
    is_str(gw_conf_str(c, "hbd", NULL, "listen"), "*:9002", "default listen");
    is(gw_conf_int(c, "hbd", NULL, "workers"), 4, "default workers");
    is(gw_conf_int(c, "hbd", NULL, "client_timeout"), 60000, "default duration in ms");
    is(gw_conf_int(c, "hbd", NULL, "max_line"), 4096, "default size in bytes");
    is(gw_conf_int(c, "hbd", NULL, "log_level"), 1, "default enum index");
    is_str(gw_conf_str(c, "hbd", NULL, "log_level"), "info", "default enum text");
    is(gw_conf_int(c, "hbd", NULL, "fsync"), 0, "default bool");
    is_str(gw_conf_str(c, "hbd", NULL, "motd"), "", "no default: empty text");
    is(gw_conf_int(c, "t", NULL, "i"), 0, "no default: 0");
    is_str(gw_conf_origin(c, "hbd", NULL, "workers"), "default", "origin of a default");
    is(gw_conf_error_count(c), 0, "no errors before any load");
    gw_conf_free(c);
    gw_conf_free(NULL);
}

static int
silent_new(const struct gw_conf_section *const *s, int *printed)
{
    char path[] = "/tmp/gw-conf-out-XXXXXX";
    int fd = mkstemp(path), o1 = dup(1), o2 = dup(2);
    struct gw_conf *c;
    struct stat st;

    fflush(stdout);
    dup2(fd, 1);
    dup2(fd, 2);
    c = gw_conf_new(s);
    fflush(stdout);
    fflush(stderr);
    dup2(o1, 1);
    dup2(o2, 2);
    close(o1);
    close(o2);
    fstat(fd, &st);
    *printed = st.st_size != 0;
    close(fd);
    unlink(path);
    gw_conf_free(c);
    return c != NULL;
}

static void
bad_schema(const struct gw_conf_key *keys, const char *what)
{
    const struct gw_conf_section sec = {"x", 0, keys, NULL};
    const struct gw_conf_section *const s[] = {&sec, NULL};
    int printed;

    ok(!silent_new(s, &printed), "bad schema refused: %s", what);
    ok(!printed, "nothing printed for: %s", what);
}

static void
test_bad_schema(void)
{
    const struct gw_conf_key bad_default[] = {{"n", GW_CONF_INT, "four", 0, 0, NULL, NULL, 0, 0, 0},
                                              {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key default_out[] = {{"n", GW_CONF_INT, "0", 1, 9, NULL, NULL, 0, 0, 0},
                                              {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key bad_dur[] = {{"d", GW_CONF_DURATION, "5x", 0, 0, NULL, NULL, 0, 0, 0},
                                          {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key bad_addr[] = {
        {"a", GW_CONF_ADDR, "1.2.3.4", 0, 0, NULL, NULL, 0, 0, 0},
        {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key bad_enum_def[] = {{"e", GW_CONF_ENUM, "c", 0, 0, "a|b", NULL, 0, 0, 0},
                                               {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key no_choices[] = {{"e", GW_CONF_ENUM, NULL, 0, 0, NULL, NULL, 0, 0, 0},
                                             {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key empty_choice[] = {
        {"e", GW_CONF_ENUM, NULL, 0, 0, "a||b", NULL, 0, 0, 0},
        {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key min_max[] = {{"n", GW_CONF_INT, NULL, 9, 1, NULL, NULL, 0, 0, 0},
                                          {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key twice[] = {{"n", GW_CONF_INT, NULL, 0, 0, NULL, NULL, 0, 0, 0},
                                        {"n", GW_CONF_BOOL, NULL, 0, 0, NULL, NULL, 0, 0, 0},
                                        {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key upper[] = {{"Listen", GW_CONF_ADDR, NULL, 0, 0, NULL, NULL, 0, 0, 0},
                                        {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key fine[] = {{"n", GW_CONF_INT, "3", 1, 9, NULL, NULL, 0, 0, 0},
                                       {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_section a = {"x", 0, fine, NULL}, b = {"x", 1, fine, NULL};
    const struct gw_conf_section *const dup_sec[] = {&a, &b, NULL};
    const struct gw_conf_section *const empty[] = {NULL};
    int printed;

    bad_schema(bad_default, "default 'four' for an int");
    bad_schema(default_out, "default out of range");
    bad_schema(bad_dur, "bad duration default");
    bad_schema(bad_addr, "bad address default");
    bad_schema(bad_enum_def, "enum default not a choice");
    bad_schema(no_choices, "enum without choices");
    bad_schema(empty_choice, "enum with an empty choice");
    bad_schema(min_max, "min above max");
    bad_schema(twice, "key declared twice");
    bad_schema(upper, "key with an upper-case letter");
    ok(!silent_new(dup_sec, &printed) && !printed, "section declared twice refused silently");
    ok(silent_new(empty, &printed) && !printed, "empty schema accepted");
    ok(silent_new(NULL, &printed), "NULL schema accepted as empty");
}

static void
test_env(void)
{
    char *env_good[] = {"PATH=/bin",
                        "GWKIT_HBD_WORKERS=8",
                        "GWKIT_HBD_CLIENT_TIMEOUT=5s",
                        "GWKIT_T_E=gamma",
                        "GWKIT_LOGD_FOO=1",
                        "GWKIT_BACKEND_ADDRESS=x",
                        "GWKIT_HBD",
                        "GWKIT_ZZZ_WORKERS=1",
                        "GWKIT_HBD_MOTD=\"hi there\"",
                        NULL};
    char *env_bad[] = {"GWKIT_HBD_WORKERS=many",
                       "GWKIT_HBD_LISTN=*:1",
                       "GWKIT_HBD_ZZZ=1",
                       "GWKIT_HBD_=1",
                       "GWKIT_HBD_MAX_LINE=1m",
                       "GWKIT_HBD_MOTD=\"x",
                       NULL};
    char longvar[1100], *env_long[] = {longvar, NULL};
    struct gw_conf *c;
    int rc;

    c = load("[hbd]\nworkers = 2\nlisten = *:1\n", &rc);
    rc = gw_conf_apply_env(c, env_good);
    ok(rc == 0, "good environment applied: %s", first_err(c));
    is(gw_conf_int(c, "hbd", NULL, "workers"), 8, "env beats the file");
    is_str(gw_conf_origin(c, "hbd", NULL, "workers"), "env GWKIT_HBD_WORKERS", "env origin");
    is(gw_conf_int(c, "hbd", NULL, "client_timeout"), 5000, "env duration with underscore key");
    is(gw_conf_int(c, "t", NULL, "e"), 2, "env enum");
    is_str(gw_conf_str(c, "hbd", NULL, "motd"), "hi there", "env value unquoted");
    is_str(gw_conf_str(c, "hbd", NULL, "listen"), "*:1", "file value not in env kept");
    is_str(gw_conf_origin(c, "hbd", NULL, "listen"), "t.conf:3", "file origin kept");
    is_str(gw_conf_origin(c, "hbd", NULL, "fsync"), "default", "default origin kept");
    gw_conf_free(c);

    c = load("[hbd]\nworkers = 2\n", &rc);
    rc = gw_conf_apply_env(c, env_bad);
    ok(rc == -1, "bad environment fails");
    is(gw_conf_error_count(c), 6, "six env errors");
    is_str(gw_conf_error(c, 0), "env GWKIT_HBD_WORKERS: 'workers': expected an integer, got 'many'",
           "env bad value");
    is_str(gw_conf_error(c, 1),
           "env GWKIT_HBD_LISTN: unknown key 'listn' in [hbd], did you mean "
           "'listen'?",
           "env unknown key with did-you-mean");
    is_str(gw_conf_error(c, 2), "env GWKIT_HBD_ZZZ: unknown key 'zzz' in [hbd]",
           "env unknown key without did-you-mean");
    is_str(gw_conf_error(c, 3), "env GWKIT_HBD_: unknown key '' in [hbd]", "env empty key");
    is_str(gw_conf_error(c, 4),
           "env GWKIT_HBD_MAX_LINE: 'max_line': 1m is out of range (64B..64KiB)",
           "env out of range");
    is_str(gw_conf_error(c, 5), "env GWKIT_HBD_MOTD: 'motd': missing closing quote",
           "env unbalanced quote");
    is(gw_conf_int(c, "hbd", NULL, "workers"), 2, "bad env value leaves the file's");
    gw_conf_free(c);

    snprintf(longvar, sizeof longvar, "GWKIT_HBD_MOTD=%01030d", 0);
    c = load("", &rc);
    ok(gw_conf_apply_env(c, env_long) == -1, "long env value fails");
    is_str(first_err(c), "env GWKIT_HBD_MOTD: value too long (max 1024 bytes)", "env value bound");
    ok(gw_conf_apply_env(c, NULL) == 0, "NULL envp is empty");
    gw_conf_free(c);

    /* env then a second file: each source replaces what it names, no duplicate errors */
    c = load("[hbd]\nworkers = 2\n", &rc);
    gw_conf_apply_env(c, env_good);
    rc = gw_conf_load_string(c, "second.conf", "[hbd]\nworkers = 3\n");
    ok(rc == 0, "second source may name the same key");
    is(gw_conf_int(c, "hbd", NULL, "workers"), 3, "latest source wins");
    is_str(gw_conf_origin(c, "hbd", NULL, "workers"), "second.conf:2", "latest origin");
    gw_conf_free(c);
}

static void
test_files(void)
{
    char dir[] = "/tmp/gw-conf-XXXXXX", path[128];
    struct gw_conf *c;
    FILE *f;
    int rc;

    ok(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof path, "%s/gwkit.conf", dir);
    f = fopen(path, "w");
    fputs("[hbd]\nworkers = 6\n", f);
    fputs("wor", f);
    fputc('\0', f);
    fputs("kers = 4\nlistn = *:1\n", f);
    fclose(f);
    c = gw_conf_new(schema);
    rc = gw_conf_load_file(c, path);
    ok(rc == -1, "file with a NUL fails");
    is(gw_conf_error_count(c), 2, "two errors in the file");
    {
        char want[256];
        snprintf(want, sizeof want, "%s:3: line contains a NUL byte", path);
        is_str(gw_conf_error(c, 0), want, "NUL byte reported with its line");
        snprintf(want, sizeof want, "%s:4: unknown key 'listn' in [hbd], did you mean 'listen'?",
                 path);
        is_str(gw_conf_error(c, 1), want, "line after the NUL counted right");
        snprintf(want, sizeof want, "%s:2", path);
        is_str(gw_conf_origin(c, "hbd", NULL, "workers"), want, "file origin is path:line");
    }
    is(gw_conf_int(c, "hbd", NULL, "workers"), 6, "file value read");
    gw_conf_free(c);

    c = gw_conf_new(schema);
    snprintf(path, sizeof path, "%s/missing.conf", dir);
    ok(gw_conf_load_file(c, path) == -1, "missing file fails");
    {
        char want[256];
        snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
        is_str(first_err(c), want, "missing file message");
    }
    gw_conf_free(c);

    c = gw_conf_new(schema);
    ok(gw_conf_load_file(c, dir) == -1, "directory fails");
    {
        char want[256];
        snprintf(want, sizeof want, "%s: read error: Is a directory", dir);
        is_str(first_err(c), want, "directory message");
    }
    gw_conf_free(c);

    snprintf(path, sizeof path, "%s/gwkit.conf", dir);
    unlink(path);
    rmdir(dir);
}

static void
test_json(void)
{
    struct gw_conf *c;
    json_t *j;
    char *s;
    int rc;

    c = load("[hbd]\nworkers = 3\nfsync = yes\nclient_timeout = 2m\nlog_level = WARNING\n"
             "[backend b1]\naddress = 127.0.0.1:7001\n[t]\ns = x\"y\n",
             &rc);
    ok(rc == 0, "json config loads: %s", first_err(c));
    j = gw_conf_to_json(c);
    ok(j != NULL, "to_json returns an object");
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    is_str(s,
           "{\"backend\":{\"b1\":{\"address\":\"127.0.0.1:7001\",\"weight\":1}},"
           "\"hbd\":{\"client_timeout\":120000,\"fsync\":true,\"listen\":\"*:9002\","
           "\"log_level\":\"warning\",\"max_line\":4096,\"motd\":null,\"workers\":3},"
           "\"t\":{\"a\":null,\"b\":null,\"d\":null,\"e\":null,\"i\":null,\"least\":null,"
           "\"most\":null,\"s\":\"x\\\"y\",\"z\":null}}",
           "effective config as JSON");
    free(s);
    json_decref(j);
    gw_conf_free(c);

    c = gw_conf_new(schema);
    j = gw_conf_to_json(c);
    s = json_dumps(json_object_get(j, "backend"), JSON_COMPACT | JSON_ENCODE_ANY);
    is_str(s, "{}", "named section without instances is an empty object");
    free(s);
    json_decref(j);
    gw_conf_free(c);
}

static void
test_mdoc(void)
{
    char dir[] = "/tmp/gw-conf-XXXXXX", path[128], cmd[256], out[8192];
    const struct gw_conf_key odd[] = {
        {"path", GW_CONF_STRING, ".hidden \"x\" \\n", 0, 0, NULL,
         ".starts with a dot. Then a backslash \\ here", 0, 0, 0},
        {"empty", GW_CONF_STRING, "", 0, 0, NULL, NULL, 0, 0, 0},
        {"wordy", GW_CONF_INT, "1", 0, 0, NULL,
         "a long doc line that goes on and on about a key, long enough to need wrapping at least "
         "once and probably twice, because mandoc frowns on input lines past eighty bytes",
         0, 0, 0},
        {"big", GW_CONF_SIZE, "16M", 1024, 1ll << 30, NULL, "a size", 0, 0, 0},
        {"port", GW_CONF_ADDR, "*:1", 0, 0, NULL, "where", GW_CONF_RESTART, 0, 0},
        {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_section odd_sec = {"odd", 0, odd, "'quoted start"};
    const struct gw_conf_section *const s[] = {&hbd_sec, &backend_sec, &odd_sec, NULL};
    size_t n;
    FILE *f;

    ok(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof path, "%s/gwkit.conf.5", dir);
    f = fopen(path, "w");
    fputs(".Dd November 23, 2026\n.Dt GWKIT.CONF 5\n.Os\n.Sh NAME\n.Nm gwkit.conf\n"
          ".Nd gwkit configuration file\n.Sh DESCRIPTION\nKeys follow.\n",
          f);
    gw_conf_schema_mdoc(f, s);
    fclose(f);
    f = fopen(path, "r");
    n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    ok(strstr(out, ".Ss \"[hbd]\\&\"\nThe heartbeat server.\n.Bl -tag -width Ds\n") != NULL,
       "section heading, doc and list");
    ok(strstr(out, ".It Ic workers Ar number\nWorker threads.\nRange: 1..1024.\nDefault:\n.Ql "
                   "\"\\&4\" .\n") != NULL,
       "int key: type, doc, range, default");
    ok(strstr(out, ".It Ic log_level Cm debug | Cm info | Cm warning | Cm error\n") != NULL,
       "enum key lists its choices");
    ok(strstr(out, ".It Ic fsync Cm yes | Cm no\n") != NULL, "bool key");
    ok(strstr(out, "Range: 1s..1h.\n") != NULL, "duration range in human form");
    ok(strstr(out, ".Ss \"[backend NAME]\\&\"\n") != NULL, "named section heading");
    ok(strstr(out, ".It Ic address Ar address\nWhere the backend listens.\nNo default.\n") != NULL,
       "key without default");
    ok(strstr(out, "Greeting.\nShown on connect.\n") != NULL, "one sentence a line");
    ok(strstr(out, "\\&.starts with a dot.\nThen a backslash \\e here.\n") != NULL,
       "doc text escaped");
    ok(strstr(out, ".Ql \"\\&.hidden \\(dqx\\(dq \\en\" .\n") != NULL, "default escaped");
    ok(strstr(out, "Empty by default.\n") != NULL, "empty default");
    ok(strstr(out, "\\&'quoted start.\n") != NULL, "section doc escaped");
    ok(strstr(out, "Range: 1KiB..1GiB.\nDefault:\n.Ql \"\\&16M\" .\n") != NULL, "size range");
    ok(strstr(out, ".It Ic port Ar address\nWhere.\nRead at start: a reload keeps the running "
                   "value.\nDefault:") != NULL,
       "a restart-only key says so");
    {
        char *line, *save = NULL;
        size_t longest = 0;
        for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            longest = GW_MAX(longest, strlen(line));
        ok(longest <= 80, "no mdoc line past 80 bytes (longest %zu)", longest);
    }
    if (access("/usr/bin/mandoc", X_OK) == 0) {
        snprintf(cmd, sizeof cmd, "mandoc -Tlint %s 2>&1", path);
        f = popen(cmd, "r");
        n = fread(out, 1, sizeof out - 1, f);
        out[n] = '\0';
        ok(pclose(f) == 0 && n == 0, "mandoc -Tlint accepts the key list");
        if (n)
            diag("%s", out);
    } else {
        ok(1, "# SKIP mandoc not installed");
    }
    unlink(path);
    rmdir(dir);
}

/* Global, so it stays reachable (no leak report) in the children that abort. */
static struct gw_conf *misuse_conf;

static int
aborts(void (*fn)(void))
{
    int st, fd;
    pid_t pid = fork();

    if (pid == 0) {
        fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        fn();
        _exit(0);
    }
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void
ask_unknown_key(void)
{
    gw_conf_int(misuse_conf, "hbd", NULL, "nope");
}

static void
ask_unknown_section(void)
{
    gw_conf_str(misuse_conf, "nope", NULL, "listen");
}

static void
ask_int_of_string(void)
{
    gw_conf_int(misuse_conf, "hbd", NULL, "listen");
}

static void
ask_instance_of_unnamed(void)
{
    gw_conf_origin(misuse_conf, "hbd", "x", "listen");
}

static void
test_misuse(void)
{
    misuse_conf = gw_conf_new(schema);
    ok(aborts(ask_unknown_key), "undeclared key aborts");
    ok(aborts(ask_unknown_section), "undeclared section aborts");
    ok(aborts(ask_int_of_string), "gw_conf_int of an addr aborts");
    ok(aborts(ask_instance_of_unnamed), "instance of an unnamed section aborts");
    gw_conf_free(misuse_conf);
}

/* A program's settings struct, every field bound to its key. */
struct settings {
    struct gw_snap snap;
    char *listen;
    int32_t workers;
    uint8_t fsync;
    uint64_t timeout_ms;
    size_t max_line_bytes;
    uint16_t level;
    char *motd;
    int16_t offset;
    int64_t anything;
};

#define S(member) GW_CONF_FIELD(struct settings, member)

static const struct gw_conf_key bound_keys[] = {
    {"listen", GW_CONF_ADDR, "*:9002", 0, 0, NULL, "where", GW_CONF_RESTART, S(listen)},
    {"workers", GW_CONF_INT, "4", 1, 1024, NULL, "threads", GW_CONF_RESTART, S(workers)},
    {"fsync", GW_CONF_BOOL, "no", 0, 0, NULL, "sync", 0, S(fsync)},
    {"timeout", GW_CONF_DURATION, "60s", SEC(1), SEC(3600), NULL, "idle", 0, S(timeout_ms)},
    {"max_line", GW_CONF_SIZE, "4k", 64, 64 * 1024, NULL, "line", 0, S(max_line_bytes)},
    {"level", GW_CONF_ENUM, "info", 0, 0, "debug|info|warning", "level", 0, S(level)},
    {"motd", GW_CONF_STRING, NULL, 0, 0, NULL, "greeting", 0, S(motd)},
    {"offset", GW_CONF_INT, "-5", -100, 100, NULL, "signed", 0, S(offset)},
    {"anything", GW_CONF_INT, NULL, 0, 0, NULL, "unbounded", 0, S(anything)},
    {"unbound", GW_CONF_INT, "7", 0, 10, NULL, "read with gw_conf_int", 0, 0, 0},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

static const struct gw_conf_key bound_named_keys[] = {
    {"address", GW_CONF_ADDR, NULL, 0, 0, NULL, "where", 0, S(listen)},
    {"weight", GW_CONF_INT, "1", 0, 100, NULL, "share", GW_CONF_RESTART, S(workers)},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

static const struct gw_conf_section bound_sec = {"prog", 0, bound_keys, "bound"};
static const struct gw_conf_section bound_named = {"backend", 1, bound_named_keys, "named"};
static const struct gw_conf_section *const bound_schema[] = {&bound_sec, &bound_named, NULL};

static struct gw_conf *
load_bound(const char *text)
{
    struct gw_conf *c = gw_conf_new(bound_schema);

    if (!c)
        abort();
    gw_conf_load_string(c, "b.conf", text);
    return c;
}

static void
test_bind(void)
{
    char err[GW_ERR_LEN];
    struct settings st = {0};
    struct gw_conf *c = gw_conf_new(bound_schema);

    ok(c != NULL, "a schema with bound fields is accepted");
    is(gw_conf_bind(c, "prog", NULL, &st, err), 0, "bind the defaults");
    is_str(st.listen, "*:9002", "addr default copied into a char *");
    is(st.workers, 4, "int into an int32_t");
    is(st.fsync, 0, "bool into a uint8_t");
    is(st.timeout_ms, 60000, "duration in ms into a uint64_t");
    is(st.max_line_bytes, 4096, "size in bytes into a size_t");
    is(st.level, 1, "enum index into a uint16_t");
    is_str(st.motd, "", "unset string: an empty copy");
    is(st.offset, -5, "negative int into an int16_t");
    gw_conf_unbind(&bound_sec, &st);
    ok(st.listen == NULL && st.motd == NULL, "unbind frees the text fields and clears them");
    gw_conf_free(c);

    c = load_bound("[prog]\nlisten = 127.0.0.1:1\nworkers = 1024\nfsync = yes\ntimeout = 1h\n"
                   "max_line = 64k\nlevel = warning\nmotd = \"hi there\"\noffset = -100\n"
                   "anything = -9223372036854775807\n"
                   "[backend b1]\naddress = 10.0.0.1:7\nweight = 9\n");
    is(gw_conf_error_count(c), 0, "file loads");
    is(gw_conf_bind(c, "prog", NULL, &st, err), 0, "bind the file's values");
    ok(strcmp(st.listen, "127.0.0.1:1") == 0 && st.workers == 1024 && st.fsync == 1 &&
           st.timeout_ms == 3600000 && st.max_line_bytes == 65536 && st.level == 2 &&
           strcmp(st.motd, "hi there") == 0 && st.offset == -100 && st.anything == -INT64_MAX,
       "every field holds the file's value at its extreme");
    gw_conf_unbind(&bound_sec, &st);
    is(gw_conf_bind(c, "backend", "b1", &st, err), 0, "bind a named section's instance");
    ok(strcmp(st.listen, "10.0.0.1:7") == 0 && st.workers == 9, "instance values bound");
    gw_conf_unbind(&bound_named, &st);
    is(gw_conf_bind(c, "backend", NULL, &st, err), 0, "bind a named section's defaults");
    ok(strcmp(st.listen, "") == 0 && st.workers == 1, "defaults of the named section bound");
    gw_conf_unbind(&bound_named, &st);
    gw_conf_free(c);

    is_str(gw_conf_field_key(&bound_sec, offsetof(struct settings, timeout_ms))->name, "timeout",
           "the key bound to a field, by its offset");
    ok(gw_conf_field_key(&bound_sec, offsetof(struct settings, snap)) == NULL,
       "no key for an unbound field");
}

static void
test_bind_bad_schema(void)
{
    const struct gw_conf_key too_small[] = {
        {"n", GW_CONF_INT, "3", 0, 70000, NULL, NULL, 0, S(level)},
        {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key unbounded_small[] = {
        {"n", GW_CONF_INT, "3", 0, 0, NULL, NULL, 0, S(workers)},
        {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key text_in_int[] = {
        {"s", GW_CONF_STRING, NULL, 0, 0, NULL, NULL, 0, S(workers)},
        {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key odd_size[] = {
        {"n", GW_CONF_INT, "3", 0, 9, NULL, NULL, 0, offsetof(struct settings, workers), 3},
        {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key neg_unsigned_wide[] = {
        {"n", GW_CONF_INT, "3", -1, 65535, NULL, NULL, 0, S(level)},
        {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};
    const struct gw_conf_key offset_no_size[] = {{"n", GW_CONF_INT, "3", 0, 9, NULL, NULL, 0, 8, 0},
                                                 {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0}};

    bad_schema(too_small, "range 0..70000 bound to a 2-byte field");
    bad_schema(unbounded_small, "unbounded int bound to a 4-byte field");
    bad_schema(text_in_int, "string bound to an int field");
    bad_schema(odd_size, "field of 3 bytes");
    bad_schema(neg_unsigned_wide, "range -1..65535 fits neither int16_t nor uint16_t");
    bad_schema(offset_no_size, "an offset without a size");
}

static void
test_restart_changes(void)
{
    struct gw_conf *a = load_bound("[prog]\nlisten = 127.0.0.1:1\nfsync = yes\n");
    struct gw_conf *b = load_bound("[prog]\nlisten = 127.0.0.1:2\nworkers = 4\nfsync = no\n"
                                   "[backend x]\nweight = 5\n");
    struct gw_conf *d = load_bound("[prog]\nlisten = 127.0.0.1:2\nworkers = 8\n");
    struct gw_conf_change ch[4];

    is(gw_conf_restart_changes(a, a, ch, 4), 0, "no change against itself");
    is(gw_conf_restart_changes(a, b, ch, 4), 1,
       "one restart-only change (fsync changes too, but takes effect; workers = its default)");
    ok(strcmp(ch[0].section, "prog") == 0 && strcmp(ch[0].key, "listen") == 0,
       "it names [prog] listen");
    is(gw_conf_restart_changes(a, d, ch, 4), 2, "listen and workers");
    is_str(ch[1].key, "workers", "in schema order");
    is(gw_conf_restart_changes(a, d, ch, 1), 2, "the count goes past max");
    gw_conf_free(a);
    gw_conf_free(b);
    gw_conf_free(d);
}

static int live_settings;

static void
settings_free(struct gw_snap *s)
{
    struct settings *st = GW_SNAP_OF(s, struct settings, snap);

    gw_conf_unbind(&bound_sec, st);
    free(st);
    live_settings--;
}

static struct settings *
settings_new(const struct gw_conf *c)
{
    char err[GW_ERR_LEN];
    struct settings *st = calloc(1, sizeof(*st));

    if (!st || gw_conf_bind(c, "prog", NULL, st, err) == -1)
        abort();
    live_settings++;
    return st;
}

/* What a daemon's SIGHUP does, 1,000 times: a new config, bound into a new snapshot, published;
 * the old one retired and freed once the (one) reader passed its quiescent point. */
static void
test_reloads(void)
{
    char err[GW_ERR_LEN], text[128];
    struct gw_snap_readers readers = {0};
    struct gw_snap_reader *rd = gw_snap_reader_add(&readers, err);
    struct gw_conf *c = load_bound("");
    _Atomic(struct settings *) cur = settings_new(c);
    int flat = 1, reads_ok = 1;

    gw_conf_free(c);
    for (int i = 0; i < 1000; i++) {
        struct settings *old = atomic_load(&cur), *next;
        snprintf(text, sizeof(text), "[prog]\nmotd = reload %d\nworkers = %d\n", i, i % 1000 + 1);
        c = load_bound(text);
        next = settings_new(c);
        gw_conf_free(c);
        atomic_store_explicit(&cur, next, memory_order_release);
        gw_snap_retire(&readers, &next->snap, &old->snap);
        if (gw_snap_reclaim(&readers, &next->snap, settings_free) != 1)
            flat = 0; /* the reader has not passed yet: it may still hold old */
        snprintf(text, sizeof(text), "reload %d", i);
        if (strcmp(gw_snap_get(&cur)->motd, text) != 0)
            reads_ok = 0;
        gw_snap_quiescent(rd);
        if (gw_snap_reclaim(&readers, &next->snap, settings_free) != 0 || live_settings != 1)
            flat = 0;
    }
    ok(flat, "1000 reloads: one settings snapshot alive after each, once the reader passed");
    ok(reads_ok, "the reader saw each new snapshot");
    ok(gw_snap_get(&cur)->snap.retired == NULL, "no chain of old snapshots");
    is(gw_snap_get(&cur)->workers, 1000, "the last reload's values are current");
    settings_free(&atomic_load(&cur)->snap);
    gw_snap_reader_remove(&readers, rd);
    gw_snap_readers_free(&readers);
    is(live_settings, 0, "every snapshot freed");
}

int
main(void)
{
    test_int();
    test_bool();
    test_string();
    test_duration();
    test_size();
    test_addr();
    test_enum();
    test_bounds();
    test_parsers();
    test_syntax();
    test_sections();
    test_keys();
    test_long_lines();
    test_many_errors();
    test_named();
    test_defaults();
    test_bad_schema();
    test_env();
    test_files();
    test_json();
    test_mdoc();
    test_misuse();
    test_bind();
    test_bind_bad_schema();
    test_restart_changes();
    test_reloads();
    return done_testing();
}
