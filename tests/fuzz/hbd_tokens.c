/*
 * hbd_tokens.c -- libFuzzer target for hbd's auth_tokens_file parser.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hbd/hbd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hbd_tokens t;
    char err[GW_ERR_LEN];
    FILE *f;

    if (size == 0 || (f = fmemopen((void *)data, size, "r")) == NULL)
        return 0;
    if (hbd_tokens_parse(f, "fuzz", &t, err) == 0) {
        for (size_t i = 0; i < t.n; i++) {
            const char *k = t.v[i].token;
            if (!k[0] || strlen(k) > 256 || strpbrk(k, " \t\r\n#"))
                abort();
            if (t.v[i].glob && (!t.v[i].glob[0] || strpbrk(t.v[i].glob, " \t\r\n#")))
                abort();
            if (hbd_tokens_find(&t, k) == NULL)
                abort();
        }
        hbd_tokens_free(&t);
    } else if (!err[0] || t.n != 0) {
        abort();
    }
    fclose(f);
    return 0;
}
