/*
 * log_line.c -- libFuzzer target for gw_log_format_line: hostile values and msg in both
 * formats (the JSON must parse and hold the value, the logfmt must parse back to it), and
 * hostile kv format strings (no crash, JSON still valid).
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char line[GW_LOG_LINE_MAX];
static int last_json = -1;

static size_t
format(enum gw_log_level level, const char *msg, const char *kv, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, kv);
    n = gw_log_format_line(line, sizeof(line), 0, level, msg, kv, ap);
    va_end(ap);
    return n;
}

static int
hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parses a logfmt line; returns the unescaped value of key "v" in out (or -1 when the line
 * does not parse). */
static long
logfmt_value(const char *p, char *out, size_t size)
{
    long found = -1;

    while (*p) {
        const char *key = p;
        size_t klen, n = 0;
        while (*p && *p != '=' && *p != ' ')
            p++;
        if (*p != '=' || p == key)
            return -1;
        klen = (size_t)(p++ - key);
        if (*p == '"') {
            for (p++; *p != '"'; p++) {
                char c = *p;
                if (c == '\0' || (unsigned char)c < 0x20)
                    return -1;
                if (c == '\\') {
                    p++;
                    if (*p == 'n' || *p == 'r' || *p == 't' || *p == '"' || *p == '\\') {
                        c = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == 't' ? '\t' : *p;
                    } else if (*p == 'x' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
                        c = (char)(hexval(p[1]) * 16 + hexval(p[2]));
                        p += 2;
                    } else {
                        return -1;
                    }
                }
                if (klen == 1 && *key == 'v' && n < size)
                    out[n++] = c;
            }
            p++;
        } else {
            for (; *p && *p != ' '; p++) {
                if ((unsigned char)*p <= 0x20 || *p == '"' || *p == '\\' || *p == '=')
                    return -1;
                if (klen == 1 && *key == 'v' && n < size)
                    out[n++] = *p;
            }
        }
        if (klen == 1 && *key == 'v')
            found = (long)n;
        if (*p == ' ')
            p++;
        else if (*p)
            return -1;
    }
    return found;
}

static void
check_value(const char *s, int json)
{
    static char back[GW_LOG_LINE_MAX];
    size_t n = format(GW_LOG_WARNING, s, "v=%s", s);
    int truncated = strstr(line, json ? "\"truncated\":1}" : " truncated=1") != NULL;

    if (n >= sizeof(line) || strchr(line, '\n') || strlen(line) != n)
        abort();
    if (json) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        if (!j)
            abort();
        json_t *v = json_object_get(j, "v");
        /* Valid UTF-8 (what jansson accepts) survives exactly. */
        json_t *want = json_string(s);
        if (!truncated && want && !json_equal(v, want))
            abort();
        json_decref(want);
        if (!truncated && !v)
            abort();
        json_decref(j);
    } else {
        long len = logfmt_value(line, back, sizeof(back));
        if (len < 0 && !truncated)
            abort();
        if (!truncated && ((size_t)len != strlen(s) || memcmp(back, s, (size_t)len) != 0))
            abort();
    }
}

/* Any kv string: at most 6 conversions so the 32 arguments below always cover them ('*' and
 * long double included). The pointers work as char * and as wchar_t *. */
static void
check_kv(const char *kv, int json)
{
    static const wchar_t w[8] = L"abc";
    const char *a = (const char *)w;
    size_t pct = 0;

    for (const char *p = kv; *p; p++)
        pct += *p == '%';
    if (pct > 6)
        return;
    format(GW_LOG_INFO, "m", kv, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a,
           a, a, a, a, a, a, a, a, a, a);
    if (json) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j)
            abort();
        json_decref(j);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    int json;

    if (size == 0 || size > 3 * GW_LOG_LINE_MAX)
        return 0;
    json = data[0] & 1;
    if (json != last_json) {
        gw_log_init("fuzz", json ? GW_LOG_JSON : GW_LOG_LOGFMT, 2);
        last_json = json;
    }
    if ((s = malloc(size)) == NULL)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] & 2)
        check_kv(s, json);
    else
        check_value(s, json);
    free(s);
    return 0;
}
