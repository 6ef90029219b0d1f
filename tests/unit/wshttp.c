/*
 * wshttp.c -- tests for lib/wshttp.c: the RFC 6455 sample handshake, byte-at-a-time heads,
 * every limit and malformed head with its status, header lookup and token lists, query
 * parameters, the upgrade check (version, key, origin allow-list, subprotocols), the
 * permessage-deflate offers of RFC 7692, and the exact responses written.
 */
#include "wshttp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "../tap.h"

#define SAMPLE_KEY "dGhlIHNhbXBsZSBub25jZQ=="

static const char sample[] = "GET /chat HTTP/1.1\r\n"
                             "Host: server.example.com\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Key: " SAMPLE_KEY "\r\n"
                             "Origin: http://example.com\r\n"
                             "Sec-WebSocket-Protocol: chat, superchat\r\n"
                             "Sec-WebSocket-Version: 13\r\n"
                             "\r\n";

static struct gw_wshttp_req req;
static char err[GW_ERR_LEN];

/* Parses a whole head into req (freed first); returns what gw_wshttp_parse returned. */
static int
parse(const char *head)
{
    gw_wshttp_req_free(&req);
    err[0] = '\0';
    return gw_wshttp_parse(&req, head, strlen(head), err);
}

/* Status a head is refused with by the parser (0 when it parses). */
static int
parse_status(const char *head)
{
    return parse(head) < 0 ? req.status : 0;
}

/* A valid upgrade head with one extra header line (may be "") and a changed request line. */
static const char *
upgrade_head(const char *request_line, const char *extra)
{
    static char buf[1024];

    snprintf(buf, sizeof(buf),
             "%s\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: " SAMPLE_KEY "\r\n%s\r\n",
             request_line, extra);
    return buf;
}

static const char *const origins[] = {"https://app.example.com", "*.example.org", "localhost:8443",
                                      "https://*.example.net", "http://example.com"};
static const char *const protocols[] = {"superchat", "chat", "gwkit.v1"};

/* Runs the upgrade check on head; returns the status. */
static int
check(const char *head, struct gw_wshttp_upgrade *u, const struct gw_wshttp_conf *conf)
{
    static const struct gw_wshttp_conf def = {origins, GW_ARRAY_LEN(origins), protocols, 3, 1, {0}};

    if (parse(head) < 0)
        return -req.status;
    gw_wshttp_upgrade_check(&req, conf ? conf : &def, u, err);
    return u->status;
}

static void
test_sample(void)
{
    struct gw_wshttp_upgrade u;
    struct gw_buf out;
    char accept[GW_WSHTTP_ACCEPT_LEN];
    size_t i, n = strlen(sample);
    int rc = 0, early = 0;

    gw_wshttp_accept_key(SAMPLE_KEY, accept);
    is_str(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 sample key gives its accept value");

    gw_wshttp_req_free(&req);
    for (i = 1; i <= n; i++) {
        rc = gw_wshttp_parse(&req, sample, i, err);
        if (i < n && rc != 0)
            early = 1;
    }
    ok(!early, "byte at a time: need more until the blank line");
    is(rc, (int)n, "byte at a time: the head length at the blank line");
    is_str(req.method, "GET", "method");
    is_str(req.path, "/chat", "path");
    ok(req.query == NULL, "no query");
    is(req.version_minor, 1, "HTTP/1.1");
    is(req.nheaders, 7, "seven headers");
    is_str(gw_wshttp_header(&req, "HOST"), "server.example.com", "header lookup ignores case");
    ok(gw_wshttp_header(&req, "x-missing") == NULL, "a missing header is NULL");

    is(check(sample, &u, NULL), 101, "the sample handshake is accepted");
    is_str(u.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "accept value in the outcome");
    is_str(u.protocol, "superchat", "the server's preferred subprotocol wins");
    ok(!u.deflate && u.extensions[0] == '\0', "no extension without an offer");
    gw_buf_init(&out, 4096);
    gw_wshttp_write_101(&out, &u, NULL);
    gw_buf_append(&out, "", 1);
    is_str(gw_buf_data(&out),
           "HTTP/1.1 101 Switching Protocols\r\n"
           "Upgrade: websocket\r\n"
           "Connection: Upgrade\r\n"
           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
           "Sec-WebSocket-Protocol: superchat\r\n"
           "\r\n",
           "the 101 response");
    gw_buf_reset(&out);

    gw_wshttp_req_free(&req);
    char two[1024];
    snprintf(two, sizeof(two), "%s\x81\x85", sample);
    is(gw_wshttp_parse(&req, two, strlen(two), err), (int)n,
       "bytes after the head (the first frame) are not part of it");
}

static void
test_limits(void)
{
    char *big = malloc(70000);
    size_t i;
    int rc;

    /* 414 before the line ends. */
    gw_wshttp_req_free(&req);
    req.max_line_bytes = 100;
    memset(big, 'a', 200);
    memcpy(big, "GET /", 5);
    is(gw_wshttp_parse(&req, big, 100, err), 0, "100 bytes of request line: need more");
    is(gw_wshttp_parse(&req, big, 101, err), -1, "101 bytes without an end: refused");
    is(req.status, 414, "... with 414");
    gw_wshttp_req_free(&req);
    is(req.max_line_bytes, 100, "free keeps the limits");
    snprintf(big, 300, "GET /%0120d HTTP/1.1\r\nHost: h\r\n\r\n", 0);
    ok(gw_wshttp_parse(&req, big, strlen(big), err) == -1 && req.status == 414,
       "a whole request line over the limit: 414");
    req.max_line_bytes = GW_WSHTTP_MAX_LINE;

    gw_wshttp_req_free(&req);
    req.max_head_bytes = 1000;
    strcpy(big, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
    for (i = strlen(big); i < 1100; i++)
        big[i] = 'b';
    rc = gw_wshttp_parse(&req, big, 1100, err);
    ok(rc == -1 && req.status == 431, "a header section past max_head_bytes: 431 before it ends");
    gw_wshttp_req_free(&req);
    req.max_head_bytes = GW_WSHTTP_MAX_HEAD;

    strcpy(big, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (i = 0; i < 64; i++)
        strcat(big, "X-A: 1\r\n");
    strcat(big, "\r\n");
    is(parse_status(big), 431, "65 header lines: 431");
    strcpy(big, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (i = 0; i < 63; i++)
        strcat(big, "X-A: 1\r\n");
    strcat(big, "\r\n");
    is(parse_status(big), 0, "64 header lines are fine");
    free(big);
}

static void
test_malformed(void)
{
    static const struct {
        const char *head;
        int status;
        const char *what;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, "a minimal request"},
        {"GET / HTTP/1.1\nHost: h\n\n", 0, "bare LF line endings"},
        {"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, "empty lines before the request line"},
        {"GET / HTTP/1.0\r\n\r\n", 0, "HTTP/1.0 without Host"},
        {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "HTTP/2.0: 505"},
        {"GET / HTTP/0.9\r\nHost: h\r\n\r\n", 400, "HTTP/0.9: 400"},
        {"GET / HTTP/1.1x\r\nHost: h\r\n\r\n", 400, "a malformed version: 400"},
        {"GET / http/1.1\r\nHost: h\r\n\r\n", 400, "a lowercase version: 400"},
        {"GET /\r\nHost: h\r\n\r\n", 400, "no version: 400"},
        {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "two spaces: 400"},
        {"GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "absolute-form target: 400"},
        {"GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DEL in the target: 400"},
        {"GET /a\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "raw UTF-8 in the target: 400"},
        {"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "a method that is not a token: 400"},
        {"GET / HTTP/1.1\rX\r\nHost: h\r\n\r\n", 400, "a bare CR in the request line: 400"},
        {"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n", 400, "obs-fold: 400"},
        {"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400, "a bare CR in a value: 400"},
        {"GET / HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n", 400, "space before the colon: 400"},
        {"GET / HTTP/1.1\r\nHost: h\r\n: 1\r\n\r\n", 400, "an empty header name: 400"},
        {"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400, "a line without a colon: 400"},
        {"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01z\r\n\r\n", 400, "a control byte in a value: 400"},
        {"GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host: 400"},
        {"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, "two Host headers: 400"},
        {"GET / HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: a\r\nSec-WebSocket-Key: b\r\n\r\n", 400,
         "two keys: 400"},
        {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", 400, "a body: 400"},
        {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", 0, "Content-Length: 0 is fine"},
        {"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 501,
         "Transfer-Encoding: 501"},
        {"GET / HTTP/1.1\r\nHost: h\r\nX-A: caf\xc3\xa9\r\n\r\n", 0, "obs-text in a value is fine"},
    };
    size_t i;

    for (i = 0; i < GW_ARRAY_LEN(cases); i++)
        is(parse_status(cases[i].head), cases[i].status, "%s", cases[i].what);
    gw_wshttp_req_free(&req);
    static const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: \0\r\n\r\n";
    is(gw_wshttp_parse(&req, nul, sizeof(nul) - 1, err), -1, "a NUL in the head is refused");
    is(req.status, 400, "... with 400");
    ok(err[0] != '\0', "... and a reason");
}

static void
test_lookup(void)
{
    char buf[64], small[8];

    parse("GET /p/a%20th?token=abc%2Bd+e&x&y=1&token=second HTTP/1.1\r\n"
          "Host: h\r\n"
          "Connection: keep-alive, Upgrade\r\n"
          "X-List: a,  b\r\n"
          "x-list: \"c,d\"  \r\n"
          "Empty:\r\n"
          "\r\n");
    is_str(req.path, "/p/a%20th", "path stays encoded");
    is_str(req.query, "token=abc%2Bd+e&x&y=1&token=second", "query after '?'");
    is(gw_wshttp_header_join(&req, "X-LIST", buf, sizeof(buf), err), 1, "join finds values");
    is_str(buf, "a,  b, \"c,d\"", "values joined with \", \" and trimmed");
    is(gw_wshttp_header_join(&req, "X-List", small, sizeof(small), err), -1,
       "a join that does not fit: -1");
    is(gw_wshttp_header_join(&req, "nope", buf, sizeof(buf), err), 0, "joining an absent header");
    is_str(gw_wshttp_header(&req, "empty"), "", "an empty value");
    ok(gw_wshttp_has_token(&req, "connection", "UPGRADE"), "a token in a list, any case");
    ok(gw_wshttp_has_token(&req, "x-list", "b"), "a token after extra spaces");
    ok(!gw_wshttp_has_token(&req, "x-list", "c"), "a comma inside quotes does not split");
    ok(!gw_wshttp_has_token(&req, "connection", "keep"), "a prefix is not a token");
    ok(gw_wshttp_keep_alive(&req), "HTTP/1.1 keeps the connection");
    ok(!gw_wshttp_is_upgrade(&req), "no Upgrade header: a plain request");

    is(gw_wshttp_query_param(req.query, "token", buf, sizeof(buf), err), 1, "token found");
    is_str(buf, "abc+d e", "the first token, percent- and plus-decoded");
    is(gw_wshttp_query_param(req.query, "x", buf, sizeof(buf), err), 1, "a bare name is found");
    is_str(buf, "", "... with an empty value");
    is(gw_wshttp_query_param(req.query, "y", buf, sizeof(buf), err), 1, "y found");
    is_str(buf, "1", "y's value");
    is(gw_wshttp_query_param(req.query, "tok", buf, sizeof(buf), err), 0, "a prefix is no match");
    is(gw_wshttp_query_param(NULL, "token", buf, sizeof(buf), err), 0, "no query: absent");
    is(gw_wshttp_query_param("token=abcdefghij", "token", small, sizeof(small), err), -1,
       "a value longer than the buffer: -1");
    is(gw_wshttp_query_param("token=a%2", "token", buf, sizeof(buf), err), -1, "a cut escape: -1");
    is(gw_wshttp_query_param("token=a%zz", "token", buf, sizeof(buf), err), -1, "a bad escape: -1");
    is(gw_wshttp_query_param("token=a%00b", "token", buf, sizeof(buf), err), -1,
       "an escaped NUL: -1");

    parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    ok(!gw_wshttp_keep_alive(&req), "Connection: close ends the connection");
    parse("GET / HTTP/1.0\r\n\r\n");
    ok(!gw_wshttp_keep_alive(&req), "HTTP/1.0 closes by default");
    parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    ok(gw_wshttp_keep_alive(&req), "HTTP/1.0 with keep-alive keeps it");
}

static void
test_upgrade(void)
{
    struct gw_wshttp_upgrade u;
    const char *v13 = "Sec-WebSocket-Version: 13\r\n";
    char extra[1100];

    is(check(upgrade_head("GET / HTTP/1.1", v13), &u, NULL), 101, "a minimal upgrade: 101");
    ok(u.protocol == NULL, "no subprotocol offered: none chosen");
    is(check(upgrade_head("POST / HTTP/1.1", v13), &u, NULL), 405, "POST: 405");
    is_str(u.extra, "Allow: GET\r\n", "405 names the allowed method");
    is(check(upgrade_head("GET / HTTP/1.0", v13), &u, NULL), 400, "HTTP/1.0 upgrade: 400");
    is(check(upgrade_head("GET / HTTP/1.1", ""), &u, NULL), 426, "no version: 426");
    is_str(u.extra, "Sec-WebSocket-Version: 13\r\n", "426 names version 13");
    is(check(upgrade_head("GET / HTTP/1.1", "Sec-WebSocket-Version: 8\r\n"), &u, NULL), 426,
       "version 8: 426");
    is(check("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: " SAMPLE_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
             &u, NULL),
       400, "no Upgrade header: 400");
    is(check("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
             "Sec-WebSocket-Key: " SAMPLE_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
             &u, NULL),
       400, "no Connection: upgrade: 400");
    is(check("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c, WebSocket\r\n"
             "Connection: keep-alive, upgrade\r\n"
             "Sec-WebSocket-Key: " SAMPLE_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
             &u, NULL),
       101, "Upgrade and Connection as token lists, any case: 101");
    is(check("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n",
             &u, NULL),
       400, "no key: 400");

    static const char *const bad_keys[] = {"dGhlIHNhbXBsZSBub25jZQ=",
                                           "dGhlIHNhbXBsZSBub25jZQ===",
                                           "dGhlIHNhbXBsZSBub25jZQAA",
                                           "dGhlIHNhbXBsZSBub2*jZQ==",
                                           "dGhlIHNhbXBsZSBub25j",
                                           "AAAAAAAAAAAAAAAAAAAAAA=="
                                           "AAAA"};
    for (size_t i = 0; i < GW_ARRAY_LEN(bad_keys); i++) {
        snprintf(extra, sizeof(extra), "%s", upgrade_head("GET / HTTP/1.1", v13));
        char *k = strstr(extra, SAMPLE_KEY);
        char head[1200];
        snprintf(head, sizeof(head), "%.*s%s%s", (int)(k - extra), extra, bad_keys[i],
                 k + strlen(SAMPLE_KEY));
        is(check(head, &u, NULL), 400, "key '%s': 400", bad_keys[i]);
    }
    snprintf(extra, sizeof(extra), "%s", upgrade_head("GET / HTTP/1.1", v13));
    {
        char *k = strstr(extra, SAMPLE_KEY);
        memcpy(k, "AAAAAAAAAAAAAAAAAAAAAA==", 24);
        is(check(extra, &u, NULL), 101, "any base64 of 16 bytes is a key");
    }
}

static void
test_origin(void)
{
    static const struct {
        const char *origin;
        int allowed;
    } cases[] = {
        {"https://app.example.com", 1}, {"HTTPS://APP.EXAMPLE.COM", 1},
        {"http://app.example.com", 0},  {"https://app.example.com.evil", 0},
        {"https://a.example.org", 1},   {"http://a.b.example.org:8080", 1},
        {"https://example.org", 0},     {"https://evilexample.org", 0},
        {"http://localhost:8443", 1},   {"http://localhost:8080", 0},
        {"http://localhost", 0},        {"https://x.example.net", 1},
        {"http://x.example.net", 0},    {"null", 0},
    };
    struct gw_wshttp_upgrade u;
    char head[1100], line[256];
    size_t i;

    for (i = 0; i < GW_ARRAY_LEN(cases); i++) {
        ok(gw_wshttp_origin_allowed(cases[i].origin, origins, GW_ARRAY_LEN(origins)) ==
               cases[i].allowed,
           "origin %s %s", cases[i].origin, cases[i].allowed ? "allowed" : "refused");
        snprintf(line, sizeof(line), "Sec-WebSocket-Version: 13\r\nOrigin: %s\r\n",
                 cases[i].origin);
        snprintf(head, sizeof(head), "%s", upgrade_head("GET / HTTP/1.1", line));
        is(check(head, &u, NULL), cases[i].allowed ? 101 : 403, "... in a handshake: %d",
           cases[i].allowed ? 101 : 403);
    }
    static const char *const star[] = {"*"};
    ok(gw_wshttp_origin_allowed("https://anything", star, 1), "\"*\" allows any origin");
    ok(gw_wshttp_origin_allowed("http://[::1]:8080", (const char *const[]){"[::1]"}, 1),
       "an IPv6 host pattern ignores the port");
}

static void
test_subprotocol(void)
{
    struct gw_wshttp_upgrade u;
    const char *v = "Sec-WebSocket-Version: 13\r\n";
    char line[256];

    snprintf(line, sizeof(line),
             "%sSec-WebSocket-Protocol: chat\r\n"
             "Sec-WebSocket-Protocol: gwkit.v1, superchat\r\n",
             v);
    is(check(upgrade_head("GET / HTTP/1.1", line), &u, NULL), 101, "offers over two lines");
    is_str(u.protocol, "superchat", "... the server's first choice among them");
    snprintf(line, sizeof(line), "%sSec-WebSocket-Protocol: mqtt, CHAT\r\n", v);
    check(upgrade_head("GET / HTTP/1.1", line), &u, NULL);
    ok(u.status == 101 && u.protocol == NULL, "no match (case matters): accepted without one");
}

/* Negotiates offers with prefs; returns the response value or "(declined)". */
static const char *
nego(const char *offers, const struct gw_wsdeflate_params *prefs, struct gw_wsdeflate_params *a)
{
    static char resp[192];
    struct gw_wsdeflate_params dummy;

    if (!gw_wshttp_deflate_negotiate(offers, prefs, a ? a : &dummy, resp, sizeof(resp)))
        return "(declined)";
    return resp;
}

static void
test_deflate_offers(void)
{
    struct gw_wsdeflate_params a, prefs = {0};
    struct gw_wshttp_upgrade u;
    char line[512];

    is_str(nego("permessage-deflate", NULL, &a), "permessage-deflate", "a bare offer");
    ok(a.server_max_window_bits == 15 && a.client_max_window_bits == 15 &&
           !a.server_no_context_takeover && !a.client_no_context_takeover,
       "... agreed with the defaults");
    is_str(nego("permessage-deflate; client_max_window_bits", NULL, &a), "permessage-deflate",
           "client_max_window_bits without a value: nothing to answer");
    prefs.client_max_window_bits = 10;
    is_str(nego("permessage-deflate; client_max_window_bits", &prefs, &a),
           "permessage-deflate; client_max_window_bits=10",
           "... unless the server wants a smaller client window");
    is(a.client_max_window_bits, 10, "... which is agreed");
    is_str(nego("permessage-deflate", &prefs, &a), "permessage-deflate",
           "the client window cannot be limited unless offered");
    prefs.client_max_window_bits = 0;
    is_str(nego("permessage-deflate; server_max_window_bits=10", NULL, &a),
           "permessage-deflate; server_max_window_bits=10", "server_max_window_bits=10 honoured");
    is(a.server_max_window_bits, 10, "... and agreed");
    is_str(nego("permessage-deflate; server_max_window_bits=\"9\"", NULL, &a),
           "permessage-deflate; server_max_window_bits=9", "a quoted value");
    is_str(nego("permessage-deflate; server_max_window_bits=8", NULL, &a),
           "permessage-deflate; server_max_window_bits=8", "8 bits accepted (deflated with 9)");
    is_str(
        nego("permessage-deflate;server_no_context_takeover;client_no_context_takeover", NULL, &a),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "both no_context_takeover echoed");
    ok(a.server_no_context_takeover && a.client_no_context_takeover, "... and agreed");
    prefs.server_no_context_takeover = prefs.client_no_context_takeover = 1;
    prefs.server_max_window_bits = 12;
    is_str(nego("permessage-deflate", &prefs, &a),
           "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
           "server_max_window_bits=12",
           "the server's own wishes are added");
    memset(&prefs, 0, sizeof(prefs));

    static const char *const declined[] = {
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; client_max_window_bits=",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
        "permessage-deflate; foo",
        "permessage-deflate; ",
        "x-webkit-deflate-frame",
        "permessage-deflatex",
    };
    for (size_t i = 0; i < GW_ARRAY_LEN(declined); i++)
        is_str(nego(declined[i], NULL, NULL), "(declined)", "declined: %s", declined[i]);
    is_str(
        nego("permessage-deflate; foo=1, permessage-deflate; client_no_context_takeover", NULL, &a),
        "permessage-deflate; client_no_context_takeover",
        "an invalid offer is skipped for the next one");
    is_str(nego("x-custom; a=\"1,2\", permessage-deflate", NULL, &a), "permessage-deflate",
           "a quoted comma in another extension does not split it");

    snprintf(line, sizeof(line),
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: x-foo\r\n"
             "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
    is(check(upgrade_head("GET / HTTP/1.1", line), &u, NULL), 101, "an upgrade with deflate");
    ok(u.deflate && strcmp(u.extensions, "permessage-deflate") == 0,
       "... accepts the offer from the second header line");
    const struct gw_wshttp_conf off = {NULL, 0, NULL, 0, 0, {0}};
    check(upgrade_head("GET / HTTP/1.1", line), &u, &off);
    ok(u.status == 101 && !u.deflate && u.extensions[0] == '\0',
       "with deflate off in the config the offer is ignored");
    struct gw_buf out;
    check(upgrade_head("GET / HTTP/1.1", line), &u, NULL);
    gw_buf_init(&out, 4096);
    gw_wshttp_write_101(&out, &u, "X-Gw: 1\r\n");
    gw_buf_append(&out, "", 1);
    is_str(gw_buf_data(&out),
           "HTTP/1.1 101 Switching Protocols\r\n"
           "Upgrade: websocket\r\n"
           "Connection: Upgrade\r\n"
           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
           "Sec-WebSocket-Extensions: permessage-deflate\r\n"
           "X-Gw: 1\r\n"
           "\r\n",
           "the 101 response with the extension line and extra headers");
    gw_buf_reset(&out);
}

static void
test_responses(void)
{
    struct gw_buf out;

    gw_buf_init(&out, 4096);
    ok(gw_wshttp_write_error(&out, 426, "unsupported websocket version",
                             GW_WSHTTP_VERSION_HEADER) == 0,
       "426 written");
    gw_buf_append(&out, "", 1);
    is_str(gw_buf_data(&out),
           "HTTP/1.1 426 Upgrade Required\r\n"
           "Content-Type: text/plain\r\n"
           "Content-Length: 30\r\n"
           "Connection: close\r\n"
           "Sec-WebSocket-Version: 13\r\n"
           "\r\n"
           "unsupported websocket version\n",
           "the 426 response, byte for byte");
    gw_buf_reset(&out);
    gw_wshttp_write_error(&out, 403, "evil\r\nSet-Cookie: x", "X-Gw-Reason: origin\r\n");
    gw_buf_append(&out, "", 1);
    ok(strstr(gw_buf_data(&out), "\r\n\r\nevil  Set-Cookie: x\n") != NULL,
       "line breaks in a reason stay inside the one-line body");
    ok(strstr(gw_buf_data(&out), "X-Gw-Reason: origin\r\n") != NULL, "extra reason header");
    gw_buf_reset(&out);
    gw_wshttp_write_error(&out, 431, NULL, NULL);
    gw_buf_append(&out, "", 1);
    ok(strstr(gw_buf_data(&out), "431 Request Header Fields Too Large\r\n") &&
           strstr(gw_buf_data(&out), "\r\n\r\nRequest Header Fields Too Large\n"),
       "no reason: the status text is the body");
    gw_buf_reset(&out);
    gw_wshttp_write_response(&out, 200, "application/json", "{}", 2, 1, NULL);
    gw_buf_append(&out, "", 1);
    is_str(gw_buf_data(&out),
           "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
           "a keep-alive response has no Connection header");
    gw_buf_reset(&out);
    gw_buf_init(&out, 40);
    ok(gw_wshttp_write_error(&out, 400, "bad", NULL) == -1 && gw_buf_len(&out) == 0,
       "a response past the buffer limit is refused whole");
    gw_buf_reset(&out);
    is_str(gw_wshttp_status_text(414), "URI Too Long", "status text 414");
    is_str(gw_wshttp_status_text(299), "Unknown", "status text of an unknown code");
}

static void
test_client(void)
{
    struct gw_wshttp_upgrade u;
    struct gw_wshttp_resp resp;
    struct gw_buf out;
    char key[GW_WSHTTP_KEY_LEN], key2[GW_WSHTTP_KEY_LEN], head[1024];
    size_t i, n;
    int rc = 0, early = 0;

    ok(gw_wshttp_make_key(key, err) == 0 && strlen(key) == 24, "a random key of 24 characters");
    gw_wshttp_make_key(key2, err);
    ok(strcmp(key, key2) != 0, "two keys differ");
    gw_buf_init(&out, 4096);
    gw_wshttp_write_request(&out, "127.0.0.1:8080", "/ws?token=t", key, "chat, gwkit.v1",
                            "permessage-deflate; client_max_window_bits");
    gw_buf_append(&out, "", 1);
    is(check(gw_buf_data(&out), &u, NULL), 101, "the client's request passes the server's check");
    is_str(req.path, "/ws", "... with its path");
    is_str(u.protocol, "chat", "... a subprotocol");
    ok(u.deflate, "... and deflate");
    gw_buf_reset(&out);
    gw_wshttp_write_101(&out, &u, NULL);
    gw_buf_append(&out, "\x81\x00", 2);
    n = gw_buf_len(&out) - 2;
    for (i = 1; i <= n; i++)
        if ((rc = gw_wshttp_response_check(gw_buf_data(&out), i, key, &resp, err)) != 0 && i < n)
            early = 1;
    ok(!early && rc == (int)n, "the 101 is read byte by byte up to its blank line");
    rc = gw_wshttp_response_check(gw_buf_data(&out), n + 2, key, &resp, err);
    ok(rc == (int)n && resp.status == 101, "a frame after the 101 is not part of it");
    is_str(resp.protocol, "chat", "the client learns the subprotocol");
    ok(resp.deflate && resp.deflate_params.client_max_window_bits == 15 &&
           resp.deflate_params.server_max_window_bits == 15,
       "the client learns the deflate parameters");
    ok(gw_wshttp_response_check(gw_buf_data(&out), n, key2, &resp, err) == -1 &&
           strstr(err, "Accept"),
       "a 101 for another key is refused");
    gw_buf_reset(&out);

    snprintf(head, sizeof(head),
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n");
    ok(gw_wshttp_response_check(head, strlen(head), key, &resp, err) == -1,
       "a wrong accept value is refused");
    snprintf(head, sizeof(head), "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    ok(gw_wshttp_response_check(head, strlen(head), key, &resp, err) == -1 && resp.status == 403,
       "a 403 is reported with its status");
    ok(gw_wshttp_response_check("HTTX/1.1 101\r\n", 14, key, &resp, err) == -1 && resp.status == 0,
       "a malformed status line: status 0");
}

int
main(void)
{
    gw_wshttp_req_init(&req);
    test_sample();
    test_limits();
    test_malformed();
    test_lookup();
    test_upgrade();
    test_origin();
    test_subprotocol();
    test_deflate_offers();
    test_responses();
    test_client();
    gw_wshttp_req_free(&req);
    return done_testing();
}
