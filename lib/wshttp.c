/*
 * wshttp.c -- HTTP/1.1 request heads and the RFC 6455 opening handshake.
 */
#include "wshttp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util.h"

/* Headers a request may carry once: two values would be ambiguous (request smuggling, key
 * confusion), so a repeat is a 400. */
static const char *const singletons[] = {
    "host",   "content-length",    "authorization",
    "origin", "sec-websocket-key", "sec-websocket-version",
};

static const struct {
    int status;
    const char *text;
} statuses[] = {
    {101, "Switching Protocols"},
    {200, "OK"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *
gw_wshttp_status_text(int status)
{
    size_t i;

    for (i = 0; i < GW_ARRAY_LEN(statuses); i++)
        if (statuses[i].status == status)
            return statuses[i].text;
    return "Unknown";
}

void
gw_wshttp_req_init(struct gw_wshttp_req *r)
{
    memset(r, 0, sizeof(*r));
    r->max_line_bytes = GW_WSHTTP_MAX_LINE;
    r->max_head_bytes = GW_WSHTTP_MAX_HEAD;
    r->max_headers = GW_WSHTTP_MAX_HEADERS;
}

void
gw_wshttp_req_free(struct gw_wshttp_req *r)
{
    size_t line = r->max_line_bytes, head = r->max_head_bytes;
    unsigned n = r->max_headers;

    free(r->storage);
    gw_wshttp_req_init(r);
    r->max_line_bytes = line;
    r->max_head_bytes = head;
    r->max_headers = n;
}

static int
bad(struct gw_wshttp_req *r, int status, char *err, const char *why)
{
    r->status = status;
    return gw_err(err, "%s", why);
}

static int
is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Field value bytes: HTAB, visible ASCII, space, obs-text. Everything else (NUL, CR, other
 * controls, DEL) is refused. */
static int
is_vchar(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Splits "METHOD SP target SP HTTP/x.y" in place. */
static int
parse_request_line(struct gw_wshttp_req *r, char *s, char *e, char *err)
{
    char *sp1, *sp2, *q, *v;

    *e = '\0';
    for (q = s; q < e; q++)
        if (*q == '\r' || (unsigned char)*q < 0x20 || *q == 0x7f)
            return bad(r, 400, err, "control byte in the request line");
    if ((sp1 = strchr(s, ' ')) == NULL || (sp2 = strchr(sp1 + 1, ' ')) == NULL)
        return bad(r, 400, err, "malformed request line");
    *sp1 = *sp2 = '\0';
    if (sp1 == s)
        return bad(r, 400, err, "empty method");
    for (q = s; *q; q++)
        if (!is_tchar((unsigned char)*q))
            return bad(r, 400, err, "invalid method");
    if (sp1[1] != '/')
        return bad(r, 400, err, "request target is not an absolute path");
    for (q = sp1 + 1; *q; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
            return bad(r, 400, err, "invalid byte in the request target");
    v = sp2 + 1;
    if (strncmp(v, "HTTP/", 5) != 0 || !isdigit((unsigned char)v[5]) || v[6] != '.' ||
        !isdigit((unsigned char)v[7]) || v[8] != '\0')
        return bad(r, 400, err, "malformed HTTP version");
    if (v[5] != '1')
        return bad(r, v[5] == '0' ? 400 : 505, err, "unsupported HTTP version");
    r->method = s;
    r->path = sp1 + 1;
    if ((q = strchr(sp1 + 1, '?')) != NULL) {
        *q = '\0';
        r->query = q + 1;
    }
    /* HTTP/1.2+ would be compatible with 1.1 (RFC 9110 section 2.5). */
    r->version_minor = v[7] == '0' ? 0 : 1;
    return 0;
}

/* Parses one header line [s, e) (no line ending) into h, in place. */
static int
parse_header(struct gw_wshttp_req *r, char *s, char *e, struct gw_wshttp_header *h, char *err)
{
    char *colon, *q, *v;

    if (*s == ' ' || *s == '\t')
        return bad(r, 400, err, "obsolete line folding in a header");
    if ((colon = memchr(s, ':', (size_t)(e - s))) == NULL)
        return bad(r, 400, err, "header line without a colon");
    if (colon == s)
        return bad(r, 400, err, "empty header name");
    for (q = s; q < colon; q++)
        if (!is_tchar((unsigned char)*q))
            return bad(r, 400, err, "invalid header name");
    for (q = colon + 1; q < e; q++)
        if (!is_vchar((unsigned char)*q))
            return bad(r, 400, err, "invalid byte in a header value");
    *colon = '\0';
    for (v = colon + 1; v < e && (*v == ' ' || *v == '\t'); v++)
        ;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *e = '\0';
    h->name = s;
    h->value = v;
    return 0;
}

static int
check_headers(struct gw_wshttp_req *r, char *err)
{
    size_t i, j, n;
    const char *cl;

    for (i = 0; i < GW_ARRAY_LEN(singletons); i++) {
        for (n = 0, j = 0; j < r->nheaders; j++)
            n += strcasecmp(r->headers[j].name, singletons[i]) == 0;
        if (n > 1) {
            r->status = 400;
            return gw_err(err, "repeated %s header", singletons[i]);
        }
    }
    if (r->version_minor == 1 && !gw_wshttp_header(r, "host"))
        return bad(r, 400, err, "missing Host header");
    if (gw_wshttp_header(r, "transfer-encoding"))
        return bad(r, 501, err, "request bodies are not supported");
    if ((cl = gw_wshttp_header(r, "content-length")) != NULL && strcmp(cl, "0") != 0)
        return bad(r, 400, err, "request bodies are not supported");
    return 0;
}

/* Copies the head [0, end) and parses the copy. */
static int
finish(struct gw_wshttp_req *r, const char *data, size_t end, char *err)
{
    size_t hdr_bytes = r->nlines * sizeof(struct gw_wshttp_header);
    char *s, *e, *nl;

    if (end - r->line_end > r->max_head_bytes)
        return bad(r, 431, err, "header section too large");
    if ((r->storage = malloc(hdr_bytes + end + 1)) == NULL)
        return bad(r, 500, err, "out of memory for a request head");
    r->headers = (struct gw_wshttp_header *)(void *)r->storage;
    s = r->storage + hdr_bytes;
    memcpy(s, data, end);
    s[end] = '\0';
    if (memchr(s, '\0', end))
        return bad(r, 400, err, "NUL byte in the request head");
    e = s + r->line_end - 1;
    if (e > s + r->req_start && e[-1] == '\r')
        e--;
    if (parse_request_line(r, s + r->req_start, e, err) < 0)
        return -1;
    for (s += r->line_end;
         (nl = strchr(s, '\n')) != NULL && nl != s && !(nl == s + 1 && *s == '\r'); s = nl + 1) {
        e = nl > s && nl[-1] == '\r' ? nl - 1 : nl;
        if (parse_header(r, s, e, &r->headers[r->nheaders++], err) < 0)
            return -1;
    }
    if (check_headers(r, err) < 0)
        return -1;
    r->head_len = end;
    return (int)end;
}

int
gw_wshttp_parse(struct gw_wshttp_req *r, const char *data, size_t len, char *err)
{
    size_t i, line;
    int empty;

    if (r->storage)
        return r->head_len ? (int)r->head_len : bad(r, r->status, err, "request already failed");
    for (i = r->scanned; i < len; i++) {
        if (data[i] != '\n')
            continue;
        line = i - r->line_start;
        empty = line == 0 || (line == 1 && data[i - 1] == '\r');
        if (!r->line_end) {
            /* Empty lines before the request line are ignored (RFC 9112 section 2.2). */
            if (!empty) {
                if (i + 1 > r->max_line_bytes)
                    return bad(r, 414, err, "request line too long");
                r->req_start = r->line_start;
                r->line_end = i + 1;
            }
        } else if (empty) {
            r->scanned = i + 1;
            return finish(r, data, i + 1, err);
        } else if (++r->nlines > r->max_headers) {
            return bad(r, 431, err, "too many header lines");
        }
        r->line_start = i + 1;
    }
    r->scanned = len;
    if (!r->line_end && len > r->max_line_bytes)
        return bad(r, 414, err, "request line too long");
    if (r->line_end && len - r->line_end > r->max_head_bytes)
        return bad(r, 431, err, "header section too large");
    return 0;
}

const char *
gw_wshttp_header(const struct gw_wshttp_req *r, const char *name)
{
    unsigned i;

    for (i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

int
gw_wshttp_header_join(const struct gw_wshttp_req *r, const char *name, char *out, size_t size,
                      char *err)
{
    size_t used = 0, n;
    unsigned i;
    int found = 0;

    if (size == 0)
        return gw_err(err, "no room for header %s", name);
    out[0] = '\0';
    for (i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) != 0)
            continue;
        n = strlen(r->headers[i].value);
        if (used + (found ? 2 : 0) + n >= size)
            return gw_err(err, "header %s too long", name);
        if (found) {
            memcpy(out + used, ", ", 2);
            used += 2;
        }
        memcpy(out + used, r->headers[i].value, n + 1);
        used += n;
        found = 1;
    }
    return found;
}

/* Takes the next element of a comma-separated list at *p (commas inside quoted strings do not
 * count) with surrounding whitespace trimmed. Returns 0 at the end of the list. */
static int
list_next(const char **p, const char **item, size_t *len)
{
    const char *s = *p, *e;
    int quoted = 0;

    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    if (!*s)
        return 0;
    for (e = s; *e && (quoted || *e != ','); e++) {
        if (*e == '\\' && quoted && e[1])
            e++;
        else if (*e == '"')
            quoted = !quoted;
    }
    *p = e;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *item = s;
    *len = (size_t)(e - s);
    return 1;
}

/* 1 when the list value holds token; icase picks the comparison. */
static int
list_has(const char *value, const char *token, int icase)
{
    size_t n = strlen(token), len;
    const char *item;

    while (list_next(&value, &item, &len))
        if (len == n && (icase ? strncasecmp(item, token, n) : strncmp(item, token, n)) == 0)
            return 1;
    return 0;
}

int
gw_wshttp_has_token(const struct gw_wshttp_req *r, const char *name, const char *token)
{
    unsigned i;

    for (i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0 && list_has(r->headers[i].value, token, 1))
            return 1;
    return 0;
}

int
gw_wshttp_keep_alive(const struct gw_wshttp_req *r)
{
    if (r->version_minor == 0)
        return gw_wshttp_has_token(r, "connection", "keep-alive");
    return !gw_wshttp_has_token(r, "connection", "close");
}

int
gw_wshttp_is_upgrade(const struct gw_wshttp_req *r)
{
    return gw_wshttp_has_token(r, "upgrade", "websocket");
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes [s, e) into out. */
static int
pct_decode(const char *s, const char *e, char *out, size_t size, char *err)
{
    size_t n = 0;
    int hi, lo;
    char c;

    for (; s < e; s++) {
        c = *s;
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (e - s < 3 || (hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
                return gw_err(err, "bad percent escape in the query");
            c = (char)(hi << 4 | lo);
            s += 2;
        }
        if (c == '\0')
            return gw_err(err, "NUL in a query parameter");
        if (n + 1 >= size)
            return gw_err(err, "query parameter too long");
        out[n++] = c;
    }
    out[n] = '\0';
    return 1;
}

int
gw_wshttp_query_param(const char *query, const char *name, char *out, size_t size, char *err)
{
    size_t nlen = strlen(name);
    const char *p = query, *amp, *eq;

    if (size)
        out[0] = '\0';
    while (p && *p) {
        amp = strchr(p, '&');
        if (!amp)
            amp = p + strlen(p);
        eq = memchr(p, '=', (size_t)(amp - p));
        if ((size_t)((eq ? eq : amp) - p) == nlen && strncmp(p, name, nlen) == 0)
            return eq ? pct_decode(eq + 1, amp, out, size, err)
                      : pct_decode(amp, amp, out, size, err);
        p = *amp ? amp + 1 : NULL;
    }
    return 0;
}

void
gw_wshttp_accept_key(const char *key, char out[GW_WSHTTP_ACCEPT_LEN])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    out[0] = '\0';
    if (!ctx)
        return;
    if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, key, strlen(key)) == 1 &&
        EVP_DigestUpdate(ctx, guid, sizeof(guid) - 1) == 1 &&
        EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20)
        EVP_EncodeBlock((unsigned char *)out, md, 20);
    EVP_MD_CTX_free(ctx);
}

/* Sec-WebSocket-Key: base64 of 16 bytes, i.e. 22 characters and "==". */
static int
key_valid(const char *key)
{
    unsigned char raw[24];

    if (strlen(key) != 24 || key[22] != '=' || key[23] != '=' || strchr(key, '=') != key + 22)
        return 0;
    return EVP_DecodeBlock(raw, (const unsigned char *)key, 24) == 18;
}

/* host[:port] of an origin or pattern after its scheme; *hlen excludes the port. */
static const char *
host_part(const char *s, size_t *hlen, size_t *full)
{
    const char *p = strstr(s, "://"), *colon;

    p = p ? p + 3 : s;
    *full = strlen(p);
    colon = strrchr(p, ':');
    if (colon && strchr(colon, ']'))
        colon = NULL; /* a colon inside an IPv6 literal */
    *hlen = colon ? (size_t)(colon - p) : *full;
    return p;
}

static int
origin_match(const char *origin, const char *pat)
{
    const char *ph, *oh, *ps = strstr(pat, "://"), *os = strstr(origin, "://");
    size_t phl, phf, ohl, ohf, olen;

    if (strcmp(pat, "*") == 0 || strcasecmp(pat, origin) == 0)
        return 1;
    if (ps && (!os || ps - pat != os - origin || strncasecmp(pat, origin, (size_t)(ps - pat))))
        return 0;
    ph = host_part(pat, &phl, &phf);
    oh = host_part(origin, &ohl, &ohf);
    /* A pattern with a port compares host and port, one without compares the host. */
    olen = phl < phf ? ohf : ohl;
    if (strncmp(ph, "*.", 2) == 0) {
        ph++;
        phf--;
        return olen > phf && strncasecmp(oh + olen - phf, ph, phf) == 0;
    }
    return olen == phf && strncasecmp(oh, ph, phf) == 0;
}

int
gw_wshttp_origin_allowed(const char *origin, const char *const *list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (origin_match(origin, list[i]))
            return 1;
    return 0;
}

/* One permessage-deflate offer's parameters; window bits 0 = not given, -1 = given without a
 * value (client_max_window_bits only). */
struct offer {
    int snct, cnct, smwb, cmwb;
};

/* Window bits value: a decimal 8..15 without leading zeros, maybe quoted. */
static int
window_bits(const char *v, size_t n)
{
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n == 1 && v[0] >= '8' && v[0] <= '9')
        return v[0] - '0';
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + v[1] - '0';
    return 0;
}

/* Applies one "name[=value]" parameter; -1 declines the offer. */
static int
offer_param(struct offer *o, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n), *v = NULL;
    size_t nlen = eq ? (size_t)(eq - s) : n, vlen = 0;

    while (nlen && (s[nlen - 1] == ' ' || s[nlen - 1] == '\t'))
        nlen--;
    if (eq) {
        for (v = eq + 1; v < s + n && (*v == ' ' || *v == '\t'); v++)
            ;
        vlen = (size_t)(s + n - v);
    }
#define IS(lit) (nlen == sizeof(lit) - 1 && strncasecmp(s, lit, nlen) == 0)
    if (IS("server_no_context_takeover") && !eq && !o->snct)
        return o->snct = 1, 0;
    if (IS("client_no_context_takeover") && !eq && !o->cnct)
        return o->cnct = 1, 0;
    if (IS("server_max_window_bits") && eq && !o->smwb)
        return (o->smwb = window_bits(v, vlen)) ? 0 : -1;
    if (IS("client_max_window_bits") && !o->cmwb) {
        o->cmwb = eq ? window_bits(v, vlen) : -1;
        return o->cmwb ? 0 : -1;
    }
#undef IS
    return -1;
}

/* Parses one list element; 0 for a valid permessage-deflate offer, -1 otherwise. */
static int
parse_offer(const char *s, size_t len, struct offer *o)
{
    const char *end = s + len, *e, *t;
    int quoted = 0;

    memset(o, 0, sizeof(*o));
    for (e = s; e < end && *e != ';'; e++)
        ;
    for (t = e; t > s && (t[-1] == ' ' || t[-1] == '\t'); t--)
        ;
    if ((size_t)(t - s) != 18 || strncasecmp(s, "permessage-deflate", 18) != 0)
        return -1;
    while (e < end) {
        for (s = ++e; s < end && (*s == ' ' || *s == '\t'); s++)
            ;
        for (e = s; e < end && (quoted || *e != ';'); e++)
            if (*e == '"')
                quoted = !quoted;
        for (t = e; t > s && (t[-1] == ' ' || t[-1] == '\t'); t--)
            ;
        if (t == s || offer_param(o, s, (size_t)(t - s)) < 0)
            return -1;
    }
    return 0;
}

int
gw_wshttp_deflate_negotiate(const char *offers, const struct gw_wsdeflate_params *prefs,
                            struct gw_wsdeflate_params *agreed, char *resp, size_t size)
{
    static const struct gw_wsdeflate_params none;
    const char *item;
    struct offer o;
    size_t len;
    int sbits, cbits, n;

    if (!prefs)
        prefs = &none;
    while (offers && list_next(&offers, &item, &len)) {
        if (parse_offer(item, len, &o) < 0)
            continue;
        /* Our window is ours to shrink; the client's only when it said it can. */
        sbits = o.smwb ? o.smwb : 15;
        if (prefs->server_max_window_bits >= 8 && prefs->server_max_window_bits < sbits)
            sbits = prefs->server_max_window_bits;
        cbits = o.cmwb > 0 ? o.cmwb : 15;
        if (o.cmwb && prefs->client_max_window_bits >= 8 && prefs->client_max_window_bits < cbits)
            cbits = prefs->client_max_window_bits;
        agreed->server_no_context_takeover = o.snct || prefs->server_no_context_takeover;
        agreed->client_no_context_takeover = o.cnct || prefs->client_no_context_takeover;
        agreed->server_max_window_bits = (uint8_t)sbits;
        agreed->client_max_window_bits = (uint8_t)cbits;
        n = snprintf(resp, size, "permessage-deflate%s%s",
                     agreed->server_no_context_takeover ? "; server_no_context_takeover" : "",
                     agreed->client_no_context_takeover ? "; client_no_context_takeover" : "");
        if (n >= 0 && (size_t)n < size && sbits < 15)
            n += snprintf(resp + n, size - (size_t)n, "; server_max_window_bits=%d", sbits);
        if (n >= 0 && (size_t)n < size && o.cmwb && cbits < 15)
            n += snprintf(resp + n, size - (size_t)n, "; client_max_window_bits=%d", cbits);
        return n >= 0 && (size_t)n < size;
    }
    return 0;
}

/* The first of the server's subprotocols that the client offered. */
static const char *
choose_protocol(const struct gw_wshttp_req *r, const struct gw_wshttp_conf *c)
{
    size_t i;
    unsigned j;

    for (i = 0; i < c->nprotocols; i++)
        for (j = 0; j < r->nheaders; j++)
            if (strcasecmp(r->headers[j].name, "sec-websocket-protocol") == 0 &&
                list_has(r->headers[j].value, c->protocols[i], 0))
                return c->protocols[i];
    return NULL;
}

/* Offers may span several header lines; more than 4 KiB of them is declined outright. */
static void
choose_deflate(const struct gw_wshttp_req *r, const struct gw_wshttp_conf *c,
               struct gw_wshttp_upgrade *u)
{
    char offers[4096];

    if (!c->deflate ||
        gw_wshttp_header_join(r, "sec-websocket-extensions", offers, sizeof(offers), NULL) != 1)
        return;
    u->deflate = gw_wshttp_deflate_negotiate(offers, &c->deflate_prefs, &u->deflate_params,
                                             u->extensions, sizeof(u->extensions));
    if (!u->deflate)
        u->extensions[0] = '\0';
}

static int
refuse(struct gw_wshttp_upgrade *u, int status, const char *extra, char *err, const char *why)
{
    u->status = status;
    u->extra = extra;
    return gw_err(err, "%s", why);
}

int
gw_wshttp_upgrade_check(const struct gw_wshttp_req *r, const struct gw_wshttp_conf *conf,
                        struct gw_wshttp_upgrade *u, char *err)
{
    const char *key, *version, *origin;

    memset(u, 0, sizeof(*u));
    if (strcmp(r->method, "GET") != 0)
        return refuse(u, 405, "Allow: GET\r\n", err, "websocket upgrade needs GET");
    if (r->version_minor < 1)
        return refuse(u, 400, NULL, err, "websocket upgrade needs HTTP/1.1");
    if (!gw_wshttp_is_upgrade(r))
        return refuse(u, 400, NULL, err, "missing Upgrade: websocket");
    if (!gw_wshttp_has_token(r, "connection", "upgrade"))
        return refuse(u, 400, NULL, err, "missing Connection: upgrade");
    version = gw_wshttp_header(r, "sec-websocket-version");
    if (!version || strcmp(version, "13") != 0)
        return refuse(u, 426, GW_WSHTTP_VERSION_HEADER, err, "unsupported websocket version");
    key = gw_wshttp_header(r, "sec-websocket-key");
    if (!key || !key_valid(key))
        return refuse(u, 400, NULL, err, "invalid Sec-WebSocket-Key");
    origin = gw_wshttp_header(r, "origin");
    if (origin && conf->norigins &&
        !gw_wshttp_origin_allowed(origin, conf->origins, conf->norigins))
        return refuse(u, 403, NULL, err, "origin not allowed");
    gw_wshttp_accept_key(key, u->accept);
    if (!u->accept[0])
        return refuse(u, 500, NULL, err, "SHA-1 unavailable");
    u->protocol = choose_protocol(r, conf);
    choose_deflate(r, conf, u);
    u->status = 101;
    return 0;
}

int
gw_wshttp_write_101(struct gw_buf *out, const struct gw_wshttp_upgrade *u, const char *extra)
{
    return gw_buf_printf(out,
                         "HTTP/1.1 101 Switching Protocols\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: %s\r\n"
                         "%s%s%s%s%s%s%s\r\n",
                         u->accept, u->protocol ? "Sec-WebSocket-Protocol: " : "",
                         u->protocol ? u->protocol : "", u->protocol ? "\r\n" : "",
                         u->extensions[0] ? "Sec-WebSocket-Extensions: " : "", u->extensions,
                         u->extensions[0] ? "\r\n" : "", extra ? extra : "");
}

int
gw_wshttp_write_response(struct gw_buf *out, int status, const char *content_type, const void *body,
                         size_t len, int keep_alive, const char *extra)
{
    static const char fmt[] = "HTTP/1.1 %d %s\r\n"
                              "Content-Type: %s\r\n"
                              "Content-Length: %zu\r\n"
                              "%s%s\r\n";
    const char *text = gw_wshttp_status_text(status),
               *conn = keep_alive ? "" : "Connection: close\r\n";
    int n;

    if (!extra)
        extra = "";
    /* Measure first so the buffer never holds half a response. */
    n = snprintf(NULL, 0, fmt, status, text, content_type, len, conn, extra);
    if (n < 0 || (size_t)n > gw_buf_room(out) || len > gw_buf_room(out) - (size_t)n)
        return -1;
    if (gw_buf_printf(out, fmt, status, text, content_type, len, conn, extra) < 0)
        return -1;
    return gw_buf_append(out, body, len);
}

int
gw_wshttp_write_error(struct gw_buf *out, int status, const char *reason, const char *extra)
{
    char body[256];
    int n;

    n = snprintf(body, sizeof(body), "%s\n", reason ? reason : gw_wshttp_status_text(status));
    if (n < 0)
        return -1;
    if ((size_t)n >= sizeof(body))
        n = sizeof(body) - 1;
    /* A one-line body: a reason holding a line break would let it forge lines. */
    for (int i = 0; i < n - 1; i++)
        if (body[i] == '\r' || body[i] == '\n')
            body[i] = ' ';
    body[n - 1] = '\n';
    return gw_wshttp_write_response(out, status, "text/plain", body, (size_t)n, 0, extra);
}

int
gw_wshttp_make_key(char out[GW_WSHTTP_KEY_LEN], char *err)
{
    unsigned char raw[16];

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return gw_err(err, "no random bytes for a websocket key");
    EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
    return 0;
}

int
gw_wshttp_write_request(struct gw_buf *out, const char *host, const char *path, const char *key,
                        const char *protocols, const char *extensions)
{
    return gw_buf_printf(out,
                         "GET %s HTTP/1.1\r\n"
                         "Host: %s\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Key: %s\r\n"
                         "Sec-WebSocket-Version: 13\r\n"
                         "%s%s%s%s%s%s\r\n",
                         path, host, key, protocols ? "Sec-WebSocket-Protocol: " : "",
                         protocols ? protocols : "", protocols ? "\r\n" : "",
                         extensions ? "Sec-WebSocket-Extensions: " : "",
                         extensions ? extensions : "", extensions ? "\r\n" : "");
}

/* Checks the headers of a 101 (the status line already read) against key. */
static int
check_101(const struct gw_wshttp_req *h, const char *key, struct gw_wshttp_resp *resp, char *err)
{
    char want[GW_WSHTTP_ACCEPT_LEN], ext[1024];
    const char *v, *item;
    struct offer o;
    size_t len;

    if (!gw_wshttp_is_upgrade(h) || !gw_wshttp_has_token(h, "connection", "upgrade"))
        return gw_err(err, "101 without Upgrade: websocket and Connection: upgrade");
    gw_wshttp_accept_key(key, want);
    if ((v = gw_wshttp_header(h, "sec-websocket-accept")) == NULL || strcmp(v, want) != 0)
        return gw_err(err, "wrong Sec-WebSocket-Accept");
    if ((v = gw_wshttp_header(h, "sec-websocket-protocol")) != NULL)
        gw_strlcpy(resp->protocol, v, sizeof(resp->protocol));
    if (gw_wshttp_header_join(h, "sec-websocket-extensions", ext, sizeof(ext), err) < 0)
        return -1;
    v = ext;
    while (list_next(&v, &item, &len)) {
        if (resp->deflate || parse_offer(item, len, &o) < 0 || o.cmwb < 0)
            return gw_err(err, "server answered an extension we cannot use");
        resp->deflate = 1;
        resp->deflate_params.server_no_context_takeover = (uint8_t)o.snct;
        resp->deflate_params.client_no_context_takeover = (uint8_t)o.cnct;
        resp->deflate_params.server_max_window_bits = (uint8_t)(o.smwb ? o.smwb : 15);
        resp->deflate_params.client_max_window_bits = (uint8_t)(o.cmwb ? o.cmwb : 15);
    }
    return 0;
}

int
gw_wshttp_response_check(const char *data, size_t len, const char *key, struct gw_wshttp_resp *resp,
                         char *err)
{
    struct gw_wshttp_req h;
    const char *line, *sp;
    char *fake;
    size_t n;
    int rc;

    memset(resp, 0, sizeof(*resp));
    /* The status line is checked here; the header lines go through the request parser, fed
     * a request line in place of the status line. */
    if ((line = memchr(data, '\n', len)) == NULL)
        return len > GW_WSHTTP_MAX_LINE ? gw_err(err, "response status line too long") : 0;
    n = (size_t)(line + 1 - data);
    if (n < 13 || strncmp(data, "HTTP/1.", 7) != 0 || data[8] != ' ' ||
        (sp = data + 9,
         sp[0] < '1' || sp[0] > '5' || sp[1] < '0' || sp[1] > '9' || sp[2] < '0' || sp[2] > '9'))
        return gw_err(err, "malformed response status line");
    resp->status = (sp[0] - '0') * 100 + (sp[1] - '0') * 10 + (sp[2] - '0');
    if (resp->status != 101)
        return gw_err(err, "server answered %d instead of 101", resp->status);
    if ((fake = malloc(len - n + 32)) == NULL)
        return gw_err(err, "out of memory for a response head");
    memcpy(fake, "GET / HTTP/1.0\r\n", 16);
    memcpy(fake + 16, line + 1, len - n);
    gw_wshttp_req_init(&h);
    rc = gw_wshttp_parse(&h, fake, 16 + len - n, err);
    if (rc > 0 && check_101(&h, key, resp, err) < 0)
        rc = -1;
    else if (rc > 0)
        rc = rc - 16 + (int)n;
    gw_wshttp_req_free(&h);
    free(fake);
    return rc;
}
