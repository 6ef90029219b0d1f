/*
 * jwt.c -- tests for lib/jwt.c: keys and tokens are made here with OpenSSL (HS256, RS256 with
 * a 2048-bit key, ES256 on P-256); valid tokens, each claim failure with its leeway edges,
 * forged signatures, alg none and algorithm confusion, base64url and JSON errors, size limits.
 */
#include "jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "../tap.h"

#define NOW 1800000000LL
#define SECRET "correct horse battery staple"

static EVP_PKEY *rsa_key, *rsa_other, *ec_key;
static char *rsa_pem, *ec_pem;

/* ---- minting ---- */

static char *
b64url(const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(n / 3 * 4 + 5), *o = out;
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (n - i == 1) {
        *o++ = tab[p[i] >> 2];
        *o++ = tab[(p[i] & 3) << 4];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 8 | p[i + 1];
        *o++ = tab[v >> 10];
        *o++ = tab[(v >> 4) & 63];
        *o++ = tab[(v & 15) << 2];
    }
    *o = '\0';
    return out;
}

static char *
b64s(const char *s)
{
    return b64url((const uint8_t *)s, strlen(s));
}

/* Signs data with k (RS256 or ES256, JOSE form). Returns the signature length. */
static size_t
sign_pkey(EVP_PKEY *k, int es256, const char *data, uint8_t *sig, size_t cap)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t der[512];
    size_t n = sizeof(der);
    const uint8_t *p = der;
    ECDSA_SIG *es;

    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k);
    EVP_DigestSign(ctx, der, &n, (const uint8_t *)data, strlen(data));
    EVP_MD_CTX_free(ctx);
    if (!es256) {
        memcpy(sig, der, n < cap ? n : cap);
        return n;
    }
    es = d2i_ECDSA_SIG(NULL, &p, (long)n);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
    ECDSA_SIG_free(es);
    return 64;
}

/* A token with the given header and claims JSON, signed as alg says ("HS256", "RS256",
 * "ES256"; anything else: an empty signature). k NULL means the default key for alg. */
static char *
mint_with(const char *alg, const char *header, const char *claims, EVP_PKEY *k, const char *secret)
{
    char *h = b64s(header), *c = b64s(claims), *data, *s = NULL, *tok;
    uint8_t sig[600];
    size_t n = 0;
    unsigned mlen;

    data = malloc(strlen(h) + strlen(c) + 2);
    sprintf(data, "%s.%s", h, c);
    if (strcmp(alg, "HS256") == 0) {
        HMAC(EVP_sha256(), secret ? secret : SECRET, (int)strlen(secret ? secret : SECRET),
             (const uint8_t *)data, strlen(data), sig, &mlen);
        n = mlen;
    } else if (strcmp(alg, "RS256") == 0) {
        n = sign_pkey(k ? k : rsa_key, 0, data, sig, sizeof(sig));
    } else if (strcmp(alg, "ES256") == 0) {
        n = sign_pkey(k ? k : ec_key, 1, data, sig, sizeof(sig));
    }
    s = b64url(sig, n);
    tok = malloc(strlen(data) + strlen(s) + 2);
    sprintf(tok, "%s.%s", data, s);
    free(h);
    free(c);
    free(data);
    free(s);
    return tok;
}

static char *
mint(const char *alg, const char *claims)
{
    char header[64];

    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    return mint_with(alg, header, claims, NULL, NULL);
}

static char *
pem_of(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p, *out;
    long n;

    PEM_write_bio_PUBKEY(b, k);
    n = BIO_get_mem_data(b, &p);
    out = malloc((size_t)n + 1);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    BIO_free(b);
    return out;
}

/* An RSA key of bits bits made of three primes: a verifier sees only the modulus and the
 * exponent, and three smaller primes are found several times faster than two (this test also
 * runs under valgrind, where a two-prime 2048-bit key takes 15 s or more). */
static EVP_PKEY *
rsa_gen(unsigned bits)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *k = NULL;

    if (c == NULL || EVP_PKEY_keygen_init(c) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(c, (int)bits) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_primes(c, 3) != 1 || EVP_PKEY_keygen(c, &k) != 1)
        k = NULL;
    EVP_PKEY_CTX_free(c);
    return k;
}

/* ---- verifying ---- */

static struct gw_jwt *
verifier(enum gw_jwt_alg alg, const char *aud, const char *iss, unsigned leeway)
{
    struct gw_jwt_config c = {.alg = alg, .audience = aud, .issuer = iss, .leeway_s = leeway};
    char err[GW_ERR_LEN];
    struct gw_jwt *v;

    if (alg == GW_JWT_HS256) {
        c.secret = SECRET;
        c.secret_len = strlen(SECRET);
    } else {
        c.public_key_pem = alg == GW_JWT_RS256 ? rsa_pem : ec_pem;
    }
    if ((v = gw_jwt_new(&c, err)) == NULL)
        diag("gw_jwt_new: %s", err);
    return v;
}

/* The verdict on tok: "ok" or the reason. Frees tok. */
static const char *
verdict(const struct gw_jwt *v, char *tok)
{
    static char err[GW_ERR_LEN];
    json_t *claims = (json_t *)1;
    int rc = gw_jwt_verify(v, tok, strlen(tok), NOW, &claims, err);

    free(tok);
    if (rc == 0) {
        json_decref(claims);
        return "ok";
    }
    if (claims != NULL)
        return "claims not NULL on failure";
    return err;
}

static void
test_b64url(void)
{
    uint8_t out[16];
    static const struct {
        const char *in;
        long want;
    } cases[] = {
        {"", 0},      {"QQ", 1},    {"QUI", 2},   {"QUJD", 3},  {"-_-_", 3},
        {"Q", -1},    {"QR", -1},   {"QUJ", -1},  {"QQ==", -1}, {"QUJD=", -1},
        {"QU+D", -1}, {"QU/D", -1}, {"QU D", -1}, {"QU.D", -1}, {"QUJ\t", -1},
    };

    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++)
        is(gw_jwt_b64url_decode(cases[i].in, strlen(cases[i].in), out, sizeof(out)), cases[i].want,
           "base64url case %zu ('%.4s') -> %ld", i, cases[i].in, cases[i].want);
    gw_jwt_b64url_decode("QUJD", 4, out, sizeof(out));
    ok(memcmp(out, "ABC", 3) == 0, "base64url decodes QUJD to ABC");
    is(gw_jwt_b64url_decode("QUJDQUJD", 8, out, 5), -1, "output longer than the room: -1");
    is(gw_jwt_alg_parse("RS256"), GW_JWT_RS256, "alg name RS256 parses");
    is(gw_jwt_alg_parse("rs256"), -1, "alg names are case-sensitive");
    is(gw_jwt_alg_parse("none"), -1, "alg none is not an algorithm");
}

static void
test_hs256(void)
{
    struct gw_jwt *v = verifier(GW_JWT_HS256, NULL, NULL, 0);
    char err[GW_ERR_LEN], *tok;
    json_t *claims = NULL;

    tok = mint("HS256", "{\"sub\":\"alice\",\"exp\":1800000060,\"n\":{\"a\":[1,2]}}");
    is(gw_jwt_verify(v, tok, strlen(tok), NOW, &claims, err), 0, "HS256: a valid token passes");
    is_str(json_string_value(json_object_get(claims, "sub")), "alice",
           "HS256: the claims come back");
    ok(claims && claims->refcount == 1, "HS256: the caller owns the only reference");
    json_decref(claims);
    free(tok);

    is_str(verdict(v, mint("HS256", "{\"sub\":\"a\"}")), "ok", "no exp: accepted by default");
    is_str(verdict(v, mint("HS256", "{\"exp\":1800000000}")), "expired", "exp == now: expired");
    is_str(verdict(v, mint("HS256", "{\"exp\":1799999000}")), "expired", "exp in the past");
    is_str(verdict(v, mint("HS256", "{\"exp\":1800000000.5}")), "ok", "fractional exp ahead");
    is_str(verdict(v, mint("HS256", "{\"nbf\":1800000001}")), "not yet valid",
           "nbf a second ahead: not yet valid");
    is_str(verdict(v, mint("HS256", "{\"nbf\":1800000000}")), "ok", "nbf == now: valid");
    is_str(verdict(v, mint("HS256", "{\"exp\":\"1900000000\"}")), "malformed",
           "exp as a string: malformed");
    is_str(verdict(v, mint("HS256", "{\"nbf\":null}")), "malformed", "nbf null: malformed");
    is_str(verdict(v, mint("HS256", "{\"aud\":\"x\"}")), "wrong audience",
           "an aud with no audience configured is refused (RFC 7519 4.1.3)");
    is_str(verdict(v, mint("HS256", "[1]")), "malformed", "claims an array: malformed");
    is_str(verdict(v, mint("HS256", "{\"a\":1,\"a\":2}")), "malformed",
           "duplicate claim names: malformed");
    is_str(verdict(v, mint("HS256", "{\"a\":1")), "malformed", "claims not JSON: malformed");
    is_str(verdict(v, mint_with("HS256", "{\"alg\":\"HS256\"}", "{}", NULL, "other secret")),
           "bad signature", "another secret: bad signature");
    is_str(
        verdict(v, mint_with("HS256", "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", "{}", NULL, NULL)),
        "malformed", "duplicate alg in the header: malformed");
    is_str(verdict(v, mint_with("HS256", "{\"typ\":\"JWT\"}", "{}", NULL, NULL)), "malformed",
           "header without alg: malformed");
    is_str(verdict(v, mint_with("HS256", "{\"alg\":7}", "{}", NULL, NULL)), "malformed",
           "alg not a string: malformed");
    is_str(
        verdict(v, mint_with("HS256", "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{}", NULL, NULL)),
        "malformed", "crit in the header: refused");
    is_str(verdict(v, mint_with("HS256", "{\"alg\":\"HS256\",\"kid\":\"k1\"}", "{}", NULL, NULL)),
           "ok", "kid is ignored");
    is_str(verdict(v, mint_with("none", "{\"alg\":\"none\"}", "{}", NULL, NULL)),
           "algorithm not allowed", "alg none: algorithm not allowed");
    is_str(verdict(v, mint_with("HS256", "{\"alg\":\"hs256\"}", "{}", NULL, NULL)),
           "algorithm not allowed", "alg hs256 (case differs): algorithm not allowed");
    is_str(verdict(v, mint_with("HS256", "{\"alg\":\"HS512\"}", "{}", NULL, NULL)),
           "algorithm not allowed", "alg HS512: algorithm not allowed");
    is_str(verdict(v, mint("RS256", "{}")), "algorithm not allowed",
           "an RS256 token against HS256: algorithm not allowed");
    gw_jwt_free(v);

    {
        struct gw_jwt_config c = {
            .alg = GW_JWT_HS256, .secret = SECRET, .secret_len = strlen(SECRET), .require_exp = 1};
        struct gw_jwt *r = gw_jwt_new(&c, err);

        is_str(verdict(r, mint("HS256", "{\"sub\":\"a\"}")), "missing exp",
               "require_exp: a token without exp is refused");
        is_str(verdict(r, mint("HS256", "{\"exp\":1800000001}")), "ok",
               "require_exp: a token with exp passes");
        gw_jwt_free(r);
    }
}

static void
test_leeway(void)
{
    struct gw_jwt *v = verifier(GW_JWT_HS256, NULL, NULL, 30);

    is_str(verdict(v, mint("HS256", "{\"exp\":1799999970}")), "expired",
           "leeway 30: exp 30 s ago is expired");
    is_str(verdict(v, mint("HS256", "{\"exp\":1799999971}")), "ok",
           "leeway 30: exp 29 s ago still passes");
    is_str(verdict(v, mint("HS256", "{\"nbf\":1800000030}")), "ok",
           "leeway 30: nbf 30 s ahead passes");
    is_str(verdict(v, mint("HS256", "{\"nbf\":1800000031}")), "not yet valid",
           "leeway 30: nbf 31 s ahead is not yet valid");
    gw_jwt_free(v);
}

static void
test_aud_iss(void)
{
    struct gw_jwt *v = verifier(GW_JWT_HS256, "chat", "https://id.example", 0);

    is_str(verdict(v, mint("HS256", "{\"aud\":\"chat\",\"iss\":\"https://id.example\"}")), "ok",
           "aud string and iss match");
    is_str(verdict(v, mint("HS256", "{\"aud\":[\"x\",\"chat\"],\"iss\":\"https://id.example\"}")),
           "ok", "aud array holding the audience");
    is_str(verdict(v, mint("HS256", "{\"aud\":\"chat2\",\"iss\":\"https://id.example\"}")),
           "wrong audience", "aud string differs: wrong audience");
    is_str(verdict(v, mint("HS256", "{\"aud\":[\"x\",\"y\"],\"iss\":\"https://id.example\"}")),
           "wrong audience", "aud array without the audience: wrong audience");
    is_str(verdict(v, mint("HS256", "{\"aud\":[],\"iss\":\"https://id.example\"}")),
           "wrong audience", "empty aud array: wrong audience");
    is_str(verdict(v, mint("HS256", "{\"iss\":\"https://id.example\"}")), "wrong audience",
           "aud absent: wrong audience");
    is_str(verdict(v, mint("HS256", "{\"aud\":[\"chat\",1],\"iss\":\"https://id.example\"}")),
           "malformed", "aud array with a number: malformed");
    is_str(verdict(v, mint("HS256", "{\"aud\":\"chat\",\"iss\":\"https://id.example/\"}")),
           "wrong issuer", "iss differs by a slash: wrong issuer");
    is_str(verdict(v, mint("HS256", "{\"aud\":\"chat\"}")), "wrong issuer",
           "iss absent: wrong issuer");
    is_str(verdict(v, mint("HS256", "{\"aud\":\"chat\",\"iss\":5}")), "malformed",
           "iss a number: malformed");
    is_str(verdict(v, mint("HS256", "{\"aud\":\"chat\",\"exp\":1,\"iss\":\"x\"}")), "expired",
           "expiry is checked before audience and issuer");
    gw_jwt_free(v);
}

/* Replaces the character at i of tok with another base64url character that keeps the
 * encoding canonical when i is not the last. */
static char *
flip(char *tok, size_t i)
{
    tok[i] = tok[i] == 'A' ? 'B' : 'A';
    return tok;
}

static void
test_forged_and_malformed(void)
{
    struct gw_jwt *v = verifier(GW_JWT_HS256, NULL, NULL, 0);
    char *tok, *dot, big[GW_JWT_MAX_TOKEN + 2], err[GW_ERR_LEN];
    json_t *claims;
    size_t n;

    tok = mint("HS256", "{\"sub\":\"alice\"}");
    n = strlen(tok);
    is_str(verdict(v, flip(strdup(tok), n - 10)), "bad signature",
           "a changed byte in the signature: bad signature");
    dot = strchr(tok, '.');
    is_str(verdict(v, flip(strdup(tok), (size_t)(dot - tok) + 3)), "bad signature",
           "a changed byte in the claims: bad signature");
    is_str(verdict(v, flip(strdup(tok), 3)), "malformed",
           "a changed byte in the header: not JSON any more, malformed");
    {
        char *t = strdup(tok);

        t[n - 1] = t[n - 1] == 'A' ? 'B' : 'A';
        ok(strcmp(verdict(v, t), "ok") != 0, "a changed last character is refused");
    }
    tok[n - 3] = '\0';
    is_str(verdict(v, strdup(tok)), "bad signature", "a truncated signature: bad signature");
    *strrchr(tok, '.') = '\0';
    is_str(verdict(v, strdup(tok)), "malformed", "two parts: malformed");
    free(tok);

    is_str(verdict(v, strdup("")), "malformed", "empty token: malformed");
    is_str(verdict(v, strdup("garbage")), "malformed", "garbage: malformed");
    is_str(verdict(v, strdup("a.b.c.d")), "malformed", "four parts: malformed");
    is_str(verdict(v, strdup("..")), "malformed", "empty parts: malformed");
    is_str(verdict(v, strdup("eyJhbGciOiJIUzI1NiJ9.e30.")), "malformed",
           "empty signature: malformed");
    is_str(verdict(v, strdup("eyJhbGciOiJIUzI1NiJ9=.e30.AAAA")), "malformed",
           "padding in the header: malformed");
    is_str(verdict(v, strdup("eyJhbGciOiJIUzI1NiJ9.e30.AA+A")), "malformed",
           "'+' in the signature: malformed");
    is_str(verdict(v, strdup("eyJhbGciOiJIUzI1NiJ9.e30.AAAAA")), "malformed",
           "signature length 1 mod 4: malformed");
    is_str(verdict(v, strdup("eyJhbGciOiJIUzI1NiJ8.e30.AAAA")), "malformed",
           "non-zero trailing bits in the header: malformed");
    is_str(verdict(v, strdup("eyJhbGciOiJIUzI1NiJ9.e 30.AAAA")), "bad signature",
           "claims are not looked at before the signature holds");

    /* Nesting: 16 levels pass, 17 do not. */
    {
        char claims16[200] = "{\"a\":", claims17[220];
        int i;

        for (i = 1; i < 16; i++)
            strcat(claims16, "[");
        strcat(claims16, "1");
        for (i = 1; i < 16; i++)
            strcat(claims16, "]");
        strcat(claims16, "}");
        snprintf(claims17, sizeof(claims17), "{\"b\":%s}", claims16);
        is_str(verdict(v, mint("HS256", claims16)), "ok", "claims nested 16 deep pass");
        is_str(verdict(v, mint("HS256", claims17)), "malformed",
               "claims nested 17 deep: malformed");
        strcpy(claims16, "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"{{{{{{{{{{{{{{{{{{{{\"}");
        is_str(verdict(v, mint("HS256", claims16)), "ok",
               "brackets inside strings do not count as nesting");
    }

    /* Size: a token of GW_JWT_MAX_TOKEN bytes (or one less: base64 lengths skip values) is
     * looked at, a longer one is not. */
    {
        char *pad = malloc(GW_JWT_MAX_TOKEN), *t = NULL;
        size_t tl = 0;

        for (n = 5900; n < 6300; n++) {
            memcpy(pad, "{\"p\":\"", 6);
            memset(pad + 6, 'x', n);
            strcpy(pad + 6 + n, "\"}");
            t = mint("HS256", pad);
            tl = strlen(t);
            if (tl >= GW_JWT_MAX_TOKEN - 1)
                break;
            free(t);
        }
        ok(tl == GW_JWT_MAX_TOKEN || tl == GW_JWT_MAX_TOKEN - 1, "a token of %zu bytes built", tl);
        is_str(verdict(v, t), "ok", "a token at the size limit passes");
        free(pad);
    }
    memset(big, 'A', sizeof(big));
    big[10] = '.';
    big[20] = '.';
    is(gw_jwt_verify(v, big, GW_JWT_MAX_TOKEN + 1, NOW, &claims, err), -1,
       "a token one byte over the limit is refused");
    is_str(err, "token too long", "as: token too long");
    is(gw_jwt_verify(v, big, sizeof(big), NOW, &claims, err), -1, "so is a larger one");
    ok(claims == NULL, "no claims on failure");
    gw_jwt_free(v);
}

static void
test_rs256(void)
{
    struct gw_jwt *v = verifier(GW_JWT_RS256, "chat", NULL, 0);
    struct gw_jwt *hv;
    struct gw_jwt_config c = {.alg = GW_JWT_RS256};
    char err[GW_ERR_LEN], path[] = "/tmp/gwkit-jwt-XXXXXX", *tok, *hs;
    int fd;

    ok(v != NULL, "RS256 verifier from PEM text");
    is_str(verdict(v, mint("RS256", "{\"aud\":\"chat\",\"exp\":1800000100}")), "ok",
           "RS256: a valid token passes");
    tok = mint("RS256", "{\"aud\":\"chat\"}");
    is_str(verdict(v, flip(tok, strlen(tok) - 20)), "bad signature",
           "RS256: a changed byte in the signature");
    is_str(verdict(
               v, mint_with("RS256", "{\"alg\":\"RS256\"}", "{\"aud\":\"chat\"}", rsa_other, NULL)),
           "bad signature", "RS256: signed by another key");
    is_str(verdict(v, mint("HS256", "{\"aud\":\"chat\"}")), "algorithm not allowed",
           "an HS256 token against RS256: algorithm not allowed");
    /* Algorithm confusion: HMAC keyed with the public key's PEM text. */
    hs = mint_with("HS256", "{\"alg\":\"HS256\"}", "{\"aud\":\"chat\"}", NULL, rsa_pem);
    is_str(verdict(v, hs), "algorithm not allowed",
           "an HS256 token keyed with the RS256 PEM text: algorithm not allowed");
    is_str(verdict(v, mint_with("none", "{\"alg\":\"none\"}", "{\"aud\":\"chat\"}", NULL, NULL)),
           "algorithm not allowed", "RS256: alg none refused");
    is_str(verdict(v, mint("ES256", "{\"aud\":\"chat\"}")), "algorithm not allowed",
           "an ES256 token against RS256");
    gw_jwt_free(v);

    /* The same secret text as HS256 config does verify it: the refusal above is the alg. */
    {
        struct gw_jwt_config hc = {.alg = GW_JWT_HS256,
                                   .secret = rsa_pem,
                                   .secret_len = strlen(rsa_pem),
                                   .audience = "chat"};

        hv = gw_jwt_new(&hc, err);
        hs = mint_with("HS256", "{\"alg\":\"HS256\"}", "{\"aud\":\"chat\"}", NULL, rsa_pem);
        is_str(verdict(hv, hs), "ok", "(that token is well signed for an HS256 verifier)");
        gw_jwt_free(hv);
    }

    fd = mkstemp(path);
    if (write(fd, rsa_pem, strlen(rsa_pem)) < 0)
        diag("write failed");
    close(fd);
    c.public_key_file = path;
    v = gw_jwt_new(&c, err);
    ok(v != NULL, "RS256 verifier from a PEM file");
    is_str(verdict(v, mint("RS256", "{}")), "ok", "RS256 from a file: a valid token passes");
    gw_jwt_free(v);
    unlink(path);
    ok(gw_jwt_new(&c, err) == NULL, "a missing key file is an error");
    ok(strstr(err, "No such file or directory") != NULL, "which names the cause: %s", err);

    c.public_key_file = NULL;
    c.public_key_pem = "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n";
    ok(gw_jwt_new(&c, err) == NULL, "a broken PEM is an error");
    c.public_key_pem = ec_pem;
    ok(gw_jwt_new(&c, err) == NULL, "an EC key for RS256 is an error");
    is_str(err, "RS256 needs an RSA public key", "which says so");
    {
        char *pem = pem_of(rsa_other);

        c.public_key_pem = pem;
        ok(gw_jwt_new(&c, err) == NULL, "a 1024-bit RSA key is refused");
        is_str(err, "RSA key of 1024 bits is too small (want 2048 or more)", "with its size");
        free(pem);
    }
    c.public_key_pem = NULL;
    ok(gw_jwt_new(&c, err) == NULL, "RS256 without a key is an error");
    is_str(err, "RS256 needs a public key", "which says so");
}

static void
test_es256(void)
{
    struct gw_jwt *v = verifier(GW_JWT_ES256, NULL, NULL, 0);
    struct gw_jwt_config c = {.alg = GW_JWT_ES256};
    char err[GW_ERR_LEN], *tok, *h, *cl, *sig, der_tok[512];
    EVP_MD_CTX *ctx;
    uint8_t der[128];
    size_t n = sizeof(der);

    ok(v != NULL, "ES256 verifier from PEM text");
    is_str(verdict(v, mint("ES256", "{\"sub\":\"bob\"}")), "ok", "ES256: a valid token passes");
    tok = mint("ES256", "{\"sub\":\"bob\"}");
    is_str(verdict(v, flip(tok, strlen(tok) - 30)), "bad signature",
           "ES256: a changed byte in the signature");
    is_str(verdict(v, mint("RS256", "{}")), "algorithm not allowed", "an RS256 token on ES256");
    is_str(verdict(v, mint("HS256", "{}")), "algorithm not allowed", "an HS256 token on ES256");

    /* The DER form OpenSSL produces is not JOSE's r||s: refused. */
    h = b64s("{\"alg\":\"ES256\"}");
    cl = b64s("{}");
    snprintf(der_tok, sizeof(der_tok), "%s.%s", h, cl);
    ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, ec_key);
    EVP_DigestSign(ctx, der, &n, (const uint8_t *)der_tok, strlen(der_tok));
    EVP_MD_CTX_free(ctx);
    sig = b64url(der, n);
    strcat(der_tok, ".");
    strcat(der_tok, sig);
    is_str(verdict(v, strdup(der_tok)), "bad signature",
           "ES256 with a DER signature: bad signature");
    {
        uint8_t zero[64] = {0};
        char *zs = b64url(zero, 64), *t = malloc(strlen(h) + strlen(cl) + strlen(zs) + 3);

        sprintf(t, "%s.%s.%s", h, cl, zs);
        is_str(verdict(v, t), "bad signature", "ES256 with r = s = 0: bad signature");
        free(zs);
    }
    free(h);
    free(cl);
    free(sig);
    gw_jwt_free(v);

    c.public_key_pem = rsa_pem;
    ok(gw_jwt_new(&c, err) == NULL, "an RSA key for ES256 is an error");
    is_str(err, "ES256 needs an EC public key", "which says so");
    {
        EVP_PKEY *p384 = EVP_EC_gen("P-384");
        char *pem = pem_of(p384);

        c.public_key_pem = pem;
        ok(gw_jwt_new(&c, err) == NULL, "a P-384 key for ES256 is an error");
        is_str(err, "ES256 needs a key on curve P-256", "which says so");
        free(pem);
        EVP_PKEY_free(p384);
    }
}

/* Tokens made elsewhere: RFC 7515 appendix A.1 (HS256, a binary key, CRLF inside the JSON),
 * and an ES256 token signed by the openssl command line through tests/integration/jwttool.py. */
static void
test_known_answers(void)
{
    static const uint8_t rfc_key[] = {
        0x03, 0x23, 0x35, 0x4b, 0x2b, 0x0f, 0xa5, 0xbc, 0x83, 0x7e, 0x06, 0x65, 0x77,
        0x7b, 0xa6, 0x8f, 0x5a, 0xb3, 0x28, 0xe6, 0xf0, 0x54, 0xc9, 0x28, 0xa9, 0x0f,
        0x84, 0xb2, 0xd2, 0x50, 0x2e, 0xbf, 0xd3, 0xfb, 0x5a, 0x92, 0xd2, 0x06, 0x47,
        0xef, 0x96, 0x8a, 0xb4, 0xc3, 0x77, 0x62, 0x3d, 0x22, 0x3d, 0x2e, 0x21, 0x72,
        0x05, 0x2e, 0x4f, 0x08, 0xc0, 0xcd, 0x9a, 0xf5, 0x67, 0xd0, 0x80, 0xa3};
    static const char rfc_tok[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0"
        "cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    static const char es_pem[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBN97nLFmxqWgazjuPqUt4JpfouYS\n"
        "4aM/vMs2qQvmCzC1rCIHZBZq5Zqh21Ru450GczVoIAGvujK2Do6zw1yNuw==\n"
        "-----END PUBLIC KEY-----\n";
    static const char es_tok[] =
        "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiJvcGVuc3NsLWNsaSIsImlzcyI6Imp3dHRvb2wucHkifQ."
        "fLr-H7mOD1LuFhAkEdBpFCxTLLIlhP9GMWa6-xf3mnB2MIMtTWWr4w_tyFSE-hbsnDgpUabyqbYPlIqYacnazw";
    struct gw_jwt_config c = {
        .alg = GW_JWT_HS256, .secret = rfc_key, .secret_len = sizeof(rfc_key), .issuer = "joe"};
    char err[GW_ERR_LEN];
    struct gw_jwt *v = gw_jwt_new(&c, err);
    json_t *claims = NULL;

    is(gw_jwt_verify(v, rfc_tok, strlen(rfc_tok), 1300819379, &claims, err), 0,
       "RFC 7515 A.1 token verifies a second before its exp");
    ok(json_is_true(json_object_get(claims, "http://example.com/is_root")),
       "RFC 7515 A.1 claims come back");
    json_decref(claims);
    is(gw_jwt_verify(v, rfc_tok, strlen(rfc_tok), 1300819380, &claims, err), -1,
       "RFC 7515 A.1 token at its exp");
    is_str(err, "expired", "is expired");
    gw_jwt_free(v);

    memset(&c, 0, sizeof(c));
    c.alg = GW_JWT_ES256;
    c.public_key_pem = es_pem;
    c.issuer = "jwttool.py";
    v = gw_jwt_new(&c, err);
    is(gw_jwt_verify(v, es_tok, strlen(es_tok), NOW, &claims, err), 0,
       "ES256 token signed by openssl dgst (jwttool.py) verifies");
    is_str(json_string_value(json_object_get(claims, "sub")), "openssl-cli",
           "its claims come back");
    json_decref(claims);
    gw_jwt_free(v);
}

static void
test_config(void)
{
    struct gw_jwt_config c = {.alg = GW_JWT_HS256};
    char err[GW_ERR_LEN];

    ok(gw_jwt_new(&c, err) == NULL, "HS256 without a secret is an error");
    is_str(err, "HS256 needs a secret", "which says so");
    c.alg = (enum gw_jwt_alg)9;
    ok(gw_jwt_new(&c, err) == NULL, "an unknown algorithm is an error");
    gw_jwt_free(NULL);
    ok(1, "gw_jwt_free(NULL) is harmless");
}

int
main(void)
{
    rsa_key = rsa_gen(2048);
    /* Any other RSA key will do for "signed by another key"; a small one is quicker. */
    rsa_other = rsa_gen(1024);
    ec_key = EVP_EC_gen("P-256");
    if (!rsa_key || !rsa_other || !ec_key) {
        printf("1..0 # SKIP cannot generate keys\n");
        return 0;
    }
    rsa_pem = pem_of(rsa_key);
    ec_pem = pem_of(ec_key);

    test_b64url();
    test_hs256();
    test_leeway();
    test_aud_iss();
    test_forged_and_malformed();
    test_rs256();
    test_es256();
    test_known_answers();
    test_config();

    free(rsa_pem);
    free(ec_pem);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(rsa_other);
    EVP_PKEY_free(ec_key);
    return done_testing();
}
