/*
 * metrics_labels.c -- libFuzzer target: hostile label values (backend names from the network)
 * must render as valid exposition lines: valid UTF-8, quotes balanced, no raw newline inside a
 * value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each line is "name{k=\"...\",k=\"...\"} value": checks the quoted parts. */
static void
check_text(const char *t)
{
    const unsigned char *p = (const unsigned char *)t;
    int in_value = 0;

    for (; *p; p++) {
        if (in_value) {
            if (*p == '\n')
                abort();
            if (*p == '\\') {
                p++;
                if (*p != '\\' && *p != '"' && *p != 'n')
                    abort();
                continue;
            }
            if (*p == '"')
                in_value = 0;
        } else if (*p == '"') {
            in_value = 1;
        }
    }
    if (in_value)
        abort();
}

static int
valid_utf8(const unsigned char *p)
{
    size_t n, i;

    while (*p) {
        n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        if (n == 0)
            return 0;
        for (i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return 0;
        p += n;
    }
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[GW_ERR_LEN], *buf, *sep, *text;
    const char *values[2];
    struct gw_metrics *m;
    int fam, s;

    if ((buf = malloc(size + 1)) == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    sep = memchr(buf, '\t', size);
    if (sep)
        *sep = '\0';
    values[0] = buf;
    values[1] = sep ? sep + 1 : "";
    m = gw_metrics_new(1, 64, err);
    fam = gw_metrics_family(m, "fuzz_backend_up", GW_METRIC_GAUGE, "Fuzz.", "backend,kind", NULL, 0,
                            err);
    s = gw_metrics_series(m, fam, values);
    if (s < 0 || gw_metrics_series(m, fam, values) != s)
        abort();
    gw_metrics_set(m, s, 1);
    text = gw_metrics_render(m, NULL);
    if (text == NULL || !valid_utf8((const unsigned char *)text))
        abort();
    check_text(text);
    free(text);
    gw_metrics_free(m);
    free(buf);
    return 0;
}
