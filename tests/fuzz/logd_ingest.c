/*
 * logd_ingest.c -- libFuzzer target for logd's POST /ingest body parser, and for the raw and
 * JSON output lines of what it accepts (every JSON line must parse back as JSON).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logd/logd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct logd_batch *b = logd_batch_new();
    char err[GW_ERR_LEN] = "", *line = NULL;
    size_t bad = 0, cap = 0;

    if (!b)
        return 0;
    if (logd_ingest_parse((const char *)data, size, 64, 1765000000000, b, &bad, err) == -1) {
        if (bad == 0 || !err[0])
            abort();
    } else {
        for (size_t i = 0; i < b->nrec; i++) {
            size_t len = 0;
            json_t *j;
            if (logd_format_line(b, &b->recs[i], LOGD_FMT_RAW, &line, &len, &cap) == 0 &&
                (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len) != line + len - 1))
                abort();
            len = 0;
            if (logd_format_line(b, &b->recs[i], LOGD_FMT_JSON, &line, &len, &cap) == 0) {
                if ((j = json_loadb(line, len - 1, JSON_ALLOW_NUL, NULL)) == NULL)
                    abort();
                json_decref(j);
            }
        }
    }
    free(line);
    logd_batch_free(b);
    return 0;
}
