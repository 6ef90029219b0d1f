/*
 * logfile_template.c -- libFuzzer target for the path templates of lib/logfile.c: hostile
 * field values (any bytes, NUL included, any length, any codes and times) rendered through
 * several templates must give a path under the template's fixed prefix, with exactly the
 * template's components, none empty, ".", ".." or hidden, and only [A-Za-z0-9._-] in what the
 * values produced. gw_logfile_sanitize is checked on its own too.
 *
 * Input: byte 0 picks the template; bytes 1-2 the app length; 3 facility; 4 severity; 5-12
 * time_ms (little-endian); then the app bytes and the host bytes (the rest).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *tmpl, *prefix;
    int components; /* after the prefix */
} templates[] = {
    {"/var/log/gwkit/%{app}.log", "/var/log/gwkit/", 1},
    {"/var/log/gwkit/%{host}/%{app}.log", "/var/log/gwkit/", 2},
    {"logs/%{facility}/%{severity}-%{date}T%{hour}.log", "logs/", 2},
    {"/srv/x/%{host}-%{app}/%{date}/app.log", "/srv/x/", 3},
    {"%{app}.log", "", 1},
    {"/l/%{app}%{host}.%{app}.log", "/l/", 1},
    {"/l/fixed.log", "/l/", 1},
};
#define NTEMPLATES (sizeof(templates) / sizeof(templates[0]))

static struct gw_logfile *lfs[NTEMPLATES];

static int
safe(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

static void
check_sanitize(const char *in, size_t len)
{
    char out[GW_LOGFILE_FIELD_MAX + 1];
    size_t n = gw_logfile_sanitize(in, len, out);

    if (n == 0 || n > GW_LOGFILE_FIELD_MAX || strlen(out) != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (!safe(out[i]))
            abort();
    }
    if (out[0] == '.' || out[n - 1] == '.' || strstr(out, ".."))
        abort();
}

static void
check_path(size_t t, const char *path)
{
    size_t plen = strlen(templates[t].prefix);
    const char *p = path + plen;
    int comps = 0;

    if (strncmp(path, templates[t].prefix, plen) != 0)
        abort();
    if (strstr(p, ".."))
        abort();
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || p[0] == '.')
            abort();
        for (size_t i = 0; i < len; i++) {
            if (!safe(p[i]))
                abort();
        }
        comps++;
        if (!end)
            break;
        p = end + 1;
    }
    if (comps != templates[t].components)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_logfile_fields f = {0};
    char path[4096], err[GW_ERR_LEN];
    size_t t, app_len;
    uint64_t tm = 0;

    if (size < 13)
        return 0;
    t = data[0] % NTEMPLATES;
    if (!lfs[t]) {
        struct gw_logfile_config cfg = {.path = templates[t].tmpl};
        if ((lfs[t] = gw_logfile_new(&cfg, err)) == NULL)
            abort();
    }
    app_len = (size_t)data[1] | (size_t)data[2] << 8;
    f.facility = (int8_t)data[3];
    f.severity = (int8_t)data[4];
    for (int i = 0; i < 8; i++)
        tm |= (uint64_t)data[5 + i] << (8 * i);
    data += 13;
    size -= 13;
    if (app_len > size)
        app_len = size;
    f.app = (const char *)data;
    f.app_len = app_len;
    f.host = (const char *)data + app_len;
    f.host_len = size - app_len;
    f.time_ms = (int64_t)tm;
    if (gw_logfile_path(lfs[t], &f, path, sizeof(path), err) == -1)
        abort();
    check_path(t, path);
    check_sanitize(f.app, f.app_len);
    check_sanitize(f.host, f.host_len);
    return 0;
}
