/*
 * auth.c -- client authentication: a verifier for the [wsgwd] jwt_* settings, and the check
 * of a bearer token from the Authorization header or the `token` query parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jwt.h"
#include "wshttp.h"
#include "wsgwd.h"

struct wsgw_auth {
    struct gw_jwt *v;
};

struct wsgw_auth *
wsgw_auth_new(const struct gw_conf *c, char *err)
{
    const char *secret = gw_conf_str(c, "wsgwd", NULL, "jwt_secret");
    const char *key = gw_conf_str(c, "wsgwd", NULL, "jwt_public_key");
    const char *aud = gw_conf_str(c, "wsgwd", NULL, "jwt_audience");
    const char *iss = gw_conf_str(c, "wsgwd", NULL, "jwt_issuer");
    struct gw_jwt_config jc = {0};
    struct wsgw_auth *a;

    err[0] = '\0';
    if (!secret[0] && !key[0])
        return NULL;
    jc.alg = (enum gw_jwt_alg)gw_jwt_alg_parse(gw_conf_str(c, "wsgwd", NULL, "jwt_alg"));
    jc.secret = secret;
    jc.secret_len = strlen(secret);
    jc.public_key_file = key[0] ? key : NULL;
    jc.audience = aud[0] ? aud : NULL;
    jc.issuer = iss[0] ? iss : NULL;
    jc.leeway_s = (unsigned)(gw_conf_int(c, "wsgwd", NULL, "jwt_leeway") / 1000);
    if ((a = calloc(1, sizeof(*a))) == NULL) {
        gw_err(err, "out of memory");
        return NULL;
    }
    if ((a->v = gw_jwt_new(&jc, err)) == NULL) {
        free(a);
        return NULL;
    }
    return a;
}

void
wsgw_auth_free(struct wsgw_auth *a)
{
    if (!a)
        return;
    gw_jwt_free(a->v);
    free(a);
}

int
wsgw_auth_check(const struct wsgw_auth *a, const struct gw_wshttp_req *req, json_t **claims,
                char *why, size_t len)
{
    const char *h = gw_wshttp_header(req, "Authorization");
    char token[GW_JWT_MAX_TOKEN + 1], err[GW_ERR_LEN];
    int rc;

    *claims = NULL;
    if (h) {
        if (strncasecmp(h, "Bearer ", 7) != 0) {
            snprintf(why, len, "malformed");
            return -1;
        }
        for (h += 7; *h == ' '; h++)
            ;
        if (gw_strlcpy(token, h, sizeof(token)) >= sizeof(token)) {
            snprintf(why, len, "%s", GW_JWT_R_TOO_LONG);
            return -1;
        }
    } else if ((rc = gw_wshttp_query_param(req->query, "token", token, sizeof(token), err)) != 1) {
        snprintf(why, len, "%s", rc == 0 ? "missing token" : GW_JWT_R_MALFORMED);
        return -1;
    }
    if (gw_jwt_verify(a->v, token, strlen(token), gw_wall_ms() / 1000, claims, err) == -1) {
        snprintf(why, len, "%s", err);
        return -1;
    }
    return 0;
}
