/*
 * jwt.h -- JSON Web Token verification (compact JWS, RFC 7515/7519) with OpenSSL libcrypto.
 *
 * One algorithm is accepted, fixed by configuration: HS256 with a shared secret, or RS256 or
 * ES256 with a public key (PEM, loaded once). A token's header "alg" must equal it exactly;
 * "none" and every other value are refused before any signature work, so a token signed with
 * HS256 using the PEM text as the secret does not pass an RS256 verifier. A header with
 * "crit" is refused (no extension is understood). "typ" and "kid" are ignored.
 *
 * Checks, in order; the first that fails gives the reason (a short phrase, fit for a
 * WWW-Authenticate error_description or an X-Gwkit-Auth-Error header, and for a metric label):
 *
 *   "token too long"         over GW_JWT_MAX_TOKEN bytes
 *   "malformed"              not three base64url parts (strict: no padding, no stray
 *                            characters, no non-zero trailing bits), header or claims not a
 *                            JSON object (duplicate keys refused, nesting over
 *                            GW_JWT_MAX_DEPTH), "alg" missing, "crit" present, exp/nbf not
 *                            numbers, aud not a string or an array of strings, iss not a string
 *   "algorithm not allowed"  "alg" is not the configured algorithm
 *   "bad signature"          the signature does not verify (ES256: not 64 bytes r||s either)
 *   "expired"                now >= exp + leeway
 *   "not yet valid"          now + leeway < nbf
 *   "missing exp"            no exp while require_exp is set
 *   "wrong audience"         audience configured and aud neither equal to it nor an array
 *                            holding it (absent aud included); also a token with an aud when
 *                            no audience is configured, as RFC 7519 4.1.3 requires
 *   "wrong issuer"           issuer configured and iss absent or not equal to it
 *
 * The signature is checked before the claims are decoded: nothing in an unverified payload is
 * parsed. HMAC comparison is constant-time (CRYPTO_memcmp).
 */
#ifndef GW_JWT_H
#define GW_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Longest token accepted, in bytes. */
#define GW_JWT_MAX_TOKEN 8192
/* Deepest nesting of arrays and objects in the header or the claims. */
#define GW_JWT_MAX_DEPTH 16

enum gw_jwt_alg { GW_JWT_HS256 = 1, GW_JWT_RS256, GW_JWT_ES256 };

/* The fixed reasons gw_jwt_verify writes into err. */
#define GW_JWT_R_TOO_LONG "token too long"
#define GW_JWT_R_MALFORMED "malformed"
#define GW_JWT_R_ALG "algorithm not allowed"
#define GW_JWT_R_SIGNATURE "bad signature"
#define GW_JWT_R_EXPIRED "expired"
#define GW_JWT_R_NOT_YET_VALID "not yet valid"
#define GW_JWT_R_MISSING_EXP "missing exp"
#define GW_JWT_R_AUDIENCE "wrong audience"
#define GW_JWT_R_ISSUER "wrong issuer"

struct gw_jwt_config {
    enum gw_jwt_alg alg;
    /* HS256: the secret, secret_len bytes (at least 1). */
    const void *secret;
    size_t secret_len;
    /* RS256/ES256: a PEM file holding a PUBLIC KEY (or a CERTIFICATE whose key is used), or
     * the PEM text itself in public_key_pem (takes precedence). RS256 needs an RSA key of at
     * least 2048 bits, ES256 an EC key on P-256. */
    const char *public_key_file;
    const char *public_key_pem;
    /* Optional (NULL: not checked, see "wrong audience" above for aud). */
    const char *audience;
    const char *issuer;
    /* Clock skew allowed on exp and nbf, seconds. */
    unsigned leeway_s;
    /* Refuse tokens without exp. */
    int require_exp;
};

/* Parses an algorithm name as written in config and in tokens ("HS256", exact case); -1 when
 * not one of the three. */
int gw_jwt_alg_parse(const char *name);
const char *gw_jwt_alg_name(enum gw_jwt_alg alg);

/* A verifier: the configuration with the key loaded (strings copied). Returns NULL with err
 * ("jwt_public_key /etc/k.pem: No such file or directory", "RS256 needs an RSA public key",
 * "RSA key of 1024 bits is too small (want 2048 or more)", "HS256 needs a secret", ...).
 * Call at startup or reload, not on the message path (it reads a file). */
struct gw_jwt *gw_jwt_new(const struct gw_jwt_config *cfg, char *err);

void gw_jwt_free(struct gw_jwt *v);

/* Verifies the len bytes of token at time now_s (seconds since the epoch). Returns 0 with
 * *claims set to the claims object (a new reference: the caller owns it), or -1 with err set
 * to exactly one of the GW_JWT_R_* reasons and *claims NULL. The verifier is read-only here:
 * any number of threads may verify with one verifier at once. */
int gw_jwt_verify(const struct gw_jwt *v, const char *token, size_t len, int64_t now_s,
                  json_t **claims, char *err);

/* Decodes base64url (RFC 4648 section 5) strictly: alphabet A-Z a-z 0-9 - _, no padding, no
 * whitespace, length mod 4 not 1, unused trailing bits zero. Writes at most out_len bytes.
 * Returns the decoded length, or -1 (bad input, or output longer than out_len). */
long gw_jwt_b64url_decode(const char *in, size_t len, uint8_t *out, size_t out_len);

#endif
