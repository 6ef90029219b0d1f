/*
 * auth.c -- client authentication: the JWT settings of [wsgwd] and the check of a bearer token
 * from the Authorization header or the `token` query parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsgwd.h"

struct wsgw_auth {
    char alg[8];
    char *secret;
    char *public_key_pem;
    char *audience;
    char *issuer;
    int64_t leeway_ms;
};

static char *
read_file(const char *path, char *err)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    long n;

    if (!f) {
        gw_err_errno(err, "jwt_public_key: cannot open %s", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < 1024 * 1024 &&
        fseek(f, 0, SEEK_SET) == 0 && (text = calloc(1, (size_t)n + 1)) != NULL &&
        fread(text, 1, (size_t)n, f) != (size_t)n) {
        free(text);
        text = NULL;
    }
    fclose(f);
    if (!text)
        gw_err(err, "jwt_public_key: cannot read %s", path);
    return text;
}

struct wsgw_auth *
wsgw_auth_new(const struct gw_conf *c, char *err)
{
    const char *secret = gw_conf_str(c, "wsgwd", NULL, "jwt_secret");
    const char *key = gw_conf_str(c, "wsgwd", NULL, "jwt_public_key");
    struct wsgw_auth *a;

    err[0] = '\0';
    if (!secret[0] && !key[0])
        return NULL;
    if ((a = calloc(1, sizeof(*a))) == NULL) {
        gw_err(err, "out of memory");
        return NULL;
    }
    gw_strlcpy(a->alg, gw_conf_str(c, "wsgwd", NULL, "jwt_alg"), sizeof(a->alg));
    a->leeway_ms = gw_conf_int(c, "wsgwd", NULL, "jwt_leeway");
    a->secret = strdup(secret);
    a->audience = strdup(gw_conf_str(c, "wsgwd", NULL, "jwt_audience"));
    a->issuer = strdup(gw_conf_str(c, "wsgwd", NULL, "jwt_issuer"));
    if (key[0] && (a->public_key_pem = read_file(key, err)) == NULL) {
        wsgw_auth_free(a);
        return NULL;
    }
    if (!a->secret || !a->audience || !a->issuer) {
        wsgw_auth_free(a);
        gw_err(err, "out of memory");
        return NULL;
    }
    return a;
}

void
wsgw_auth_free(struct wsgw_auth *a)
{
    if (!a)
        return;
    free(a->secret);
    free(a->public_key_pem);
    free(a->audience);
    free(a->issuer);
    free(a);
}
