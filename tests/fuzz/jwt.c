/*
 * jwt.c -- libFuzzer target for gw_jwt_verify. The first byte picks a mode: raw tokens against
 * HS256, ES256 and RS256 verifiers (keys made once at start), or a token signed here with HS256
 * over fuzzed claims or a fuzzed header, so the parts behind the signature check are reached.
 * Every outcome must be a claims object or one of the fixed reasons.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret"

static struct gw_jwt *hs, *es, *rs;

static const char *const reasons[] = {
    GW_JWT_R_TOO_LONG,    GW_JWT_R_MALFORMED, GW_JWT_R_ALG,
    GW_JWT_R_SIGNATURE,   GW_JWT_R_EXPIRED,   GW_JWT_R_NOT_YET_VALID,
    GW_JWT_R_MISSING_EXP, GW_JWT_R_AUDIENCE,  GW_JWT_R_ISSUER,
};

static struct gw_jwt *
make(enum gw_jwt_alg alg, EVP_PKEY *k)
{
    struct gw_jwt_config c = {.alg = alg,
                              .secret = SECRET,
                              .secret_len = strlen(SECRET),
                              .audience = "aud",
                              .issuer = "iss",
                              .leeway_s = 5};
    char err[GW_ERR_LEN], *pem = NULL;
    BIO *b;
    struct gw_jwt *v;

    if (k) {
        b = BIO_new(BIO_s_mem());
        PEM_write_bio_PUBKEY(b, k);
        BIO_write(b, "", 1);
        BIO_get_mem_data(b, &pem);
        c.public_key_pem = pem;
        v = gw_jwt_new(&c, err);
        BIO_free(b);
        EVP_PKEY_free(k);
    } else {
        v = gw_jwt_new(&c, err);
    }
    if (v == NULL)
        abort();
    return v;
}

/* A 2048-bit RSA key of three primes: made several times faster than two, the same to a
 * verifier (make test runs this target over its seeds). */
static EVP_PKEY *
rsa_gen(void)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *k = NULL;

    if (c == NULL || EVP_PKEY_keygen_init(c) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_primes(c, 3) != 1 || EVP_PKEY_keygen(c, &k) != 1)
        abort();
    EVP_PKEY_CTX_free(c);
    return k;
}

static void
setup(void)
{
    if (hs)
        return;
    hs = make(GW_JWT_HS256, NULL);
    es = make(GW_JWT_ES256, EVP_EC_gen("P-256"));
    rs = make(GW_JWT_RS256, rsa_gen());
}

static size_t
b64url(const uint8_t *p, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        out[o++] = tab[p[i] >> 2];
        out[o++] = tab[(p[i] & 3) << 4];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 8 | p[i + 1];
        out[o++] = tab[v >> 10];
        out[o++] = tab[(v >> 4) & 63];
        out[o++] = tab[(v & 15) << 2];
    }
    return o;
}

/* An HS256 token over header and claims, into tok (room for 2 * GW_JWT_MAX_TOKEN). */
static size_t
sign(const uint8_t *hdr, size_t hlen, const uint8_t *claims, size_t clen, char *tok)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mlen = 0;
    size_t n = b64url(hdr, hlen, tok);

    tok[n++] = '.';
    n += b64url(claims, clen, tok + n);
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const uint8_t *)tok, n, mac, &mlen);
    tok[n++] = '.';
    n += b64url(mac, mlen, tok + n);
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char tok[2 * GW_JWT_MAX_TOKEN + 64];
    static const char hdr[] = "{\"alg\":\"HS256\"}";
    static const char claims[] = "{\"aud\":\"aud\",\"iss\":\"iss\"}";
    char err[GW_ERR_LEN];
    uint8_t out[64];
    const struct gw_jwt *v = NULL;
    json_t *c = NULL;
    size_t n;
    int rc, known = 0;

    setup();
    if (size < 1 || size > GW_JWT_MAX_TOKEN + 2)
        return 0;
    switch (data[0] % 6) {
    case 0:
    case 1:
    case 2:
        v = data[0] % 3 == 0 ? hs : data[0] % 3 == 1 ? es : rs;
        memcpy(tok, data + 1, size - 1);
        n = size - 1;
        break;
    case 3:
        v = hs;
        n = sign((const uint8_t *)hdr, strlen(hdr), data + 1, (size - 1) / 2, tok);
        break;
    case 4:
        v = hs;
        n = sign(data + 1, (size - 1) / 2, (const uint8_t *)claims, strlen(claims), tok);
        break;
    default:
        gw_jwt_b64url_decode((const char *)data + 1, size - 1, out, sizeof(out));
        return 0;
    }
    rc = gw_jwt_verify(v, tok, n, 1800000000, &c, err);
    if (rc == 0) {
        if (!json_is_object(c))
            abort();
        json_decref(c);
        return 0;
    }
    if (c != NULL)
        abort();
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        known |= strcmp(err, reasons[i]) == 0;
    if (!known)
        abort();
    return 0;
}
