/*
 * jwt.c -- JWT (compact JWS) verification: HS256, RS256, ES256 with OpenSSL libcrypto.
 */
#include "jwt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* Largest decoded part: a whole token of base64 is 3/4 of its length in bytes. */
#define PART_MAX (GW_JWT_MAX_TOKEN / 4 * 3 + 3)
/* ES256 signature: r and s, 32 bytes each. */
#define ES256_SIG_LEN 64

struct gw_jwt {
    enum gw_jwt_alg alg;
    uint8_t *secret;
    size_t secret_len;
    EVP_PKEY *pkey;
    char *audience;
    char *issuer;
    unsigned leeway_s;
    int require_exp;
};

static const char *const alg_names[] = {
    [GW_JWT_HS256] = "HS256", [GW_JWT_RS256] = "RS256", [GW_JWT_ES256] = "ES256"};

int
gw_jwt_alg_parse(const char *name)
{
    for (int a = GW_JWT_HS256; a <= GW_JWT_ES256; a++)
        if (name && strcmp(name, alg_names[a]) == 0)
            return a;
    return -1;
}

const char *
gw_jwt_alg_name(enum gw_jwt_alg alg)
{
    return alg >= GW_JWT_HS256 && alg <= GW_JWT_ES256 ? alg_names[alg] : "unknown";
}

/* ---- base64url ---- */

/* Value of a base64url character, or -1. */
static int
b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long
gw_jwt_b64url_decode(const char *in, size_t len, uint8_t *out, size_t out_len)
{
    size_t rem = len % 4, n = len / 4 * 3 + (rem ? rem - 1 : 0), o = 0;
    uint32_t acc = 0;
    int bits = 0, v;

    if (rem == 1 || n > out_len)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if ((v = b64_val((unsigned char)in[i])) < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* The bits left over must be zero: one encoding per byte string. */
    if (acc != 0)
        return -1;
    return (long)o;
}

/* ---- keys ---- */

static EVP_PKEY *
read_pubkey(BIO *bio)
{
    EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    X509 *x;

    if (k == NULL && BIO_reset(bio) >= 0 && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        k = X509_get_pubkey(x);
        X509_free(x);
    }
    ERR_clear_error();
    return k;
}

/* 0 when k suits alg, else -1 with err. */
static int
check_key(EVP_PKEY *k, enum gw_jwt_alg alg, char *err)
{
    char group[64];

    if (alg == GW_JWT_RS256) {
        if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA)
            return gw_err(err, "RS256 needs an RSA public key");
        if (EVP_PKEY_get_bits(k) < 2048)
            return gw_err(err, "RSA key of %d bits is too small (want 2048 or more)",
                          EVP_PKEY_get_bits(k));
        return 0;
    }
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
        return gw_err(err, "ES256 needs an EC public key");
    if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        NULL) ||
        OBJ_sn2nid(group) != NID_X9_62_prime256v1) {
        ERR_clear_error();
        return gw_err(err, "ES256 needs a key on curve P-256");
    }
    return 0;
}

static int
load_key(struct gw_jwt *v, const struct gw_jwt_config *cfg, char *err)
{
    const char *what = cfg->public_key_pem ? "jwt_public_key (PEM text)" : cfg->public_key_file;
    BIO *bio;

    if (cfg->public_key_pem)
        bio = BIO_new_mem_buf(cfg->public_key_pem, -1);
    else if (cfg->public_key_file)
        bio = BIO_new_file(cfg->public_key_file, "r");
    else
        return gw_err(err, "%s needs a public key", gw_jwt_alg_name(cfg->alg));
    if (bio == NULL) {
        ERR_clear_error();
        return gw_err_errno(err, "jwt_public_key %s", what);
    }
    v->pkey = read_pubkey(bio);
    BIO_free(bio);
    if (v->pkey == NULL)
        return gw_err(err, "jwt_public_key %s: no PEM public key or certificate in it", what);
    return check_key(v->pkey, cfg->alg, err);
}

static char *
dup_opt(const char *s, int *failed)
{
    char *d;

    if (s == NULL)
        return NULL;
    if ((d = strdup(s)) == NULL)
        *failed = 1;
    return d;
}

struct gw_jwt *
gw_jwt_new(const struct gw_jwt_config *cfg, char *err)
{
    struct gw_jwt *v = calloc(1, sizeof(*v));
    int failed = 0;

    if (v == NULL) {
        gw_err(err, "out of memory");
        return NULL;
    }
    v->alg = cfg->alg;
    v->leeway_s = cfg->leeway_s;
    v->require_exp = cfg->require_exp;
    v->audience = dup_opt(cfg->audience, &failed);
    v->issuer = dup_opt(cfg->issuer, &failed);
    if (failed) {
        gw_err(err, "out of memory");
        goto fail;
    }
    switch (cfg->alg) {
    case GW_JWT_HS256:
        if (cfg->secret == NULL || cfg->secret_len == 0 || cfg->secret_len > INT32_MAX) {
            gw_err(err, "HS256 needs a secret");
            goto fail;
        }
        if ((v->secret = malloc(cfg->secret_len)) == NULL) {
            gw_err(err, "out of memory");
            goto fail;
        }
        memcpy(v->secret, cfg->secret, cfg->secret_len);
        v->secret_len = cfg->secret_len;
        break;
    case GW_JWT_RS256:
    case GW_JWT_ES256:
        if (load_key(v, cfg, err) == -1)
            goto fail;
        break;
    default:
        gw_err(err, "unknown JWT algorithm %d", (int)cfg->alg);
        goto fail;
    }
    return v;
fail:
    gw_jwt_free(v);
    return NULL;
}

void
gw_jwt_free(struct gw_jwt *v)
{
    if (v == NULL)
        return;
    if (v->secret)
        OPENSSL_cleanse(v->secret, v->secret_len);
    free(v->secret);
    EVP_PKEY_free(v->pkey);
    free(v->audience);
    free(v->issuer);
    free(v);
}

/* ---- verification ---- */

/* 1 when the JSON text nests arrays and objects at most GW_JWT_MAX_DEPTH deep. Brackets
 * inside strings do not count; the text need not be valid (the parser judges that). */
static int
depth_ok(const uint8_t *p, size_t n)
{
    int depth = 0, in_str = 0;

    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            if (p[i] == '\\')
                i++;
            else if (p[i] == '"')
                in_str = 0;
        } else if (p[i] == '"') {
            in_str = 1;
        } else if (p[i] == '{' || p[i] == '[') {
            if (++depth > GW_JWT_MAX_DEPTH)
                return 0;
        } else if (p[i] == '}' || p[i] == ']') {
            depth--;
        }
    }
    return 1;
}

/* Decodes one base64url part holding a JSON object; NULL when it is not one. */
static json_t *
decode_object(const char *part, size_t len, uint8_t *buf)
{
    long n = gw_jwt_b64url_decode(part, len, buf, PART_MAX);
    json_t *o;

    if (n <= 0 || !depth_ok(buf, (size_t)n))
        return NULL;
    o = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int
verify_hs256(const struct gw_jwt *v, const char *data, size_t n, const uint8_t *sig, size_t siglen)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;

    if (HMAC(EVP_sha256(), v->secret, (int)v->secret_len, (const uint8_t *)data, n, mac, &maclen) ==
        NULL) {
        ERR_clear_error();
        return -1;
    }
    if (siglen != maclen)
        return -1;
    return CRYPTO_memcmp(mac, sig, maclen) == 0 ? 0 : -1;
}

static int
verify_pkey(EVP_PKEY *k, const char *data, size_t n, const uint8_t *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = -1;

    if (ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
        EVP_DigestVerify(ctx, sig, siglen, (const uint8_t *)data, n) == 1)
        rc = 0;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

/* JOSE carries ES256 as r||s, 32 bytes each; OpenSSL verifies a DER ECDSA-Sig-Value. */
static int
verify_es256(EVP_PKEY *k, const char *data, size_t n, const uint8_t *sig, size_t siglen)
{
    uint8_t der[128], *p = der;
    ECDSA_SIG *es;
    BIGNUM *r, *s;
    int dlen;

    if (siglen != ES256_SIG_LEN || (es = ECDSA_SIG_new()) == NULL)
        return -1;
    r = BN_bin2bn(sig, ES256_SIG_LEN / 2, NULL);
    s = BN_bin2bn(sig + ES256_SIG_LEN / 2, ES256_SIG_LEN / 2, NULL);
    if (r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return -1;
    }
    dlen = i2d_ECDSA_SIG(es, NULL);
    if (dlen <= 0 || (size_t)dlen > sizeof(der) || i2d_ECDSA_SIG(es, &p) != dlen) {
        ECDSA_SIG_free(es);
        ERR_clear_error();
        return -1;
    }
    ECDSA_SIG_free(es);
    return verify_pkey(k, data, n, der, (size_t)dlen);
}

/* Checks the header: GW_JWT_R_* on failure, NULL when alg is the configured one. */
static const char *
check_header(const struct gw_jwt *v, json_t *hdr)
{
    json_t *alg = json_object_get(hdr, "alg");

    if (!json_is_string(alg) || json_object_get(hdr, "crit") != NULL)
        return GW_JWT_R_MALFORMED;
    if (strcmp(json_string_value(alg), alg_names[v->alg]) != 0)
        return GW_JWT_R_ALG;
    return NULL;
}

static const char *
check_signature(const struct gw_jwt *v, const char *token, size_t signed_len, const char *sig64,
                size_t sig64_len, uint8_t *buf)
{
    long n = gw_jwt_b64url_decode(sig64, sig64_len, buf, PART_MAX);
    int rc;

    if (n <= 0)
        return GW_JWT_R_MALFORMED;
    if (v->alg == GW_JWT_HS256)
        rc = verify_hs256(v, token, signed_len, buf, (size_t)n);
    else if (v->alg == GW_JWT_RS256)
        rc = verify_pkey(v->pkey, token, signed_len, buf, (size_t)n);
    else
        rc = verify_es256(v->pkey, token, signed_len, buf, (size_t)n);
    return rc == 0 ? NULL : GW_JWT_R_SIGNATURE;
}

/* aud is a string or an array of strings (aud_well_formed). */
static int
aud_has(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    for (size_t i = 0; i < json_array_size(aud); i++)
        if (strcmp(json_string_value(json_array_get(aud, i)), want) == 0)
            return 1;
    return 0;
}

/* 1 when aud is absent, a string or an array of strings. */
static int
aud_well_formed(json_t *aud)
{
    if (aud == NULL || json_is_string(aud))
        return 1;
    if (!json_is_array(aud))
        return 0;
    for (size_t i = 0; i < json_array_size(aud); i++)
        if (!json_is_string(json_array_get(aud, i)))
            return 0;
    return 1;
}

static const char *
check_claims(const struct gw_jwt *v, json_t *c, int64_t now_s)
{
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    json_t *aud = json_object_get(c, "aud"), *iss = json_object_get(c, "iss");
    double now = (double)now_s, leeway = (double)v->leeway_s;

    if ((exp && !json_is_number(exp)) || (nbf && !json_is_number(nbf)) || !aud_well_formed(aud) ||
        (iss && !json_is_string(iss)))
        return GW_JWT_R_MALFORMED;
    if (exp && now - leeway >= json_number_value(exp))
        return GW_JWT_R_EXPIRED;
    if (nbf && now + leeway < json_number_value(nbf))
        return GW_JWT_R_NOT_YET_VALID;
    if (exp == NULL && v->require_exp)
        return GW_JWT_R_MISSING_EXP;
    if (v->audience ? aud == NULL || !aud_has(aud, v->audience) : aud != NULL)
        return GW_JWT_R_AUDIENCE;
    if (v->issuer && (iss == NULL || strcmp(json_string_value(iss), v->issuer) != 0))
        return GW_JWT_R_ISSUER;
    return NULL;
}

int
gw_jwt_verify(const struct gw_jwt *v, const char *token, size_t len, int64_t now_s, json_t **claims,
              char *err)
{
    const char *dot1, *dot2, *why;
    uint8_t *buf;
    json_t *hdr = NULL, *c = NULL;

    *claims = NULL;
    if (len > GW_JWT_MAX_TOKEN)
        return gw_err(err, "%s", GW_JWT_R_TOO_LONG);
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
        return gw_err(err, "%s", GW_JWT_R_MALFORMED);
    /* One buffer for every decoded part, in turn: the verifier is shared between threads. */
    if ((buf = malloc(PART_MAX)) == NULL)
        return gw_err(err, "%s", GW_JWT_R_MALFORMED);
    why = GW_JWT_R_MALFORMED;
    if ((hdr = decode_object(token, (size_t)(dot1 - token), buf)) == NULL)
        goto fail;
    if ((why = check_header(v, hdr)) != NULL)
        goto fail;
    why = check_signature(v, token, (size_t)(dot2 - token), dot2 + 1,
                          len - (size_t)(dot2 + 1 - token), buf);
    if (why != NULL)
        goto fail;
    why = GW_JWT_R_MALFORMED;
    if ((c = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf)) == NULL)
        goto fail;
    if ((why = check_claims(v, c, now_s)) != NULL)
        goto fail;
    json_decref(hdr);
    free(buf);
    *claims = c;
    return 0;
fail:
    json_decref(hdr);
    json_decref(c);
    free(buf);
    return gw_err(err, "%s", why);
}
