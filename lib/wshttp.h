/*
 * wshttp.h -- the HTTP/1.1 side of a WebSocket server without I/O: an incremental, bounded
 * request head parser, the RFC 6455 upgrade check (key, version, origin allow-list,
 * subprotocol choice, permessage-deflate offers of RFC 7692), and writers for the 101
 * response and for plain and error responses.
 *
 * The parser is fed the bytes buffered so far (the same bytes again plus whatever arrived,
 * as a connection's input buffer grows); it resumes its scan where it stopped, so feeding a
 * head one byte at a time costs O(n). Limits apply while scanning: a request line past
 * max_line_bytes is refused with 414 before the line ends, a header section past
 * max_head_bytes or with more than max_headers lines with 431. When the blank line arrives
 * the head is copied and parsed; the request then owns that copy (gw_wshttp_req_free()), so
 * the caller may drop the head from its buffer at once.
 *
 * Not thread-safe: one request per connection. Functions that write responses append to a
 * gw_buf and fail (-1, nothing appended) past its limit.
 */
#ifndef GW_WSHTTP_H
#define GW_WSHTTP_H

#include <stddef.h>

#include "buf.h"
#include "wsdeflate.h"

#define GW_WSHTTP_MAX_LINE 8192
#define GW_WSHTTP_MAX_HEAD 16384
#define GW_WSHTTP_MAX_HEADERS 64
/* Bytes of a Sec-WebSocket-Accept value, with its NUL. */
#define GW_WSHTTP_ACCEPT_LEN 29

/* Extra header line for a 426 answer. */
#define GW_WSHTTP_VERSION_HEADER "Sec-WebSocket-Version: 13\r\n"

struct gw_wshttp_header {
    const char *name;  /* as sent, NUL-terminated */
    const char *value; /* optional whitespace trimmed, NUL-terminated */
};

struct gw_wshttp_req {
    /* Limits: gw_wshttp_req_init() sets the defaults above; change them before parsing. */
    size_t max_line_bytes;
    size_t max_head_bytes;
    unsigned max_headers;

    /* The parsed request, valid after gw_wshttp_parse() returned > 0. */
    const char *method;
    const char *path;  /* the target up to '?', still percent-encoded */
    const char *query; /* after '?', or NULL */
    int version_minor; /* HTTP/1.<minor>: 0 or 1 */
    struct gw_wshttp_header *headers;
    unsigned nheaders;

    /* On error: the status to answer (400, 414, 431, 501, 505). */
    int status;

    /* Private scan state and storage. */
    size_t scanned, line_start, req_start, line_end, head_len;
    unsigned nlines;
    char *storage;
};

/* Prepares a request with the default limits. Allocates nothing. */
void gw_wshttp_req_init(struct gw_wshttp_req *r);

/* Frees what a parse allocated and prepares r for the next request on the connection (the
 * limits are kept). */
void gw_wshttp_req_free(struct gw_wshttp_req *r);

/* Scans data (all bytes buffered since the request began). Returns the length of the request
 * head once its blank line is in (the request fields are then set), 0 when more bytes are
 * needed, or -1 with r->status and a reason in err. Malformed heads give 400: a bad request
 * line or target, obs-fold, a bare CR, NUL or other control bytes, a header name that is not
 * a token, a missing Host (HTTP/1.1), a repeated Host, Content-Length, Authorization,
 * Origin, Sec-WebSocket-Key or Sec-WebSocket-Version, or a request body (Content-Length not
 * 0; Transfer-Encoding gives 501). HTTP/2 and later give 505. */
int gw_wshttp_parse(struct gw_wshttp_req *r, const char *data, size_t len, char *err);

/* The first value of the header name (case-insensitive), or NULL. */
const char *gw_wshttp_header(const struct gw_wshttp_req *r, const char *name);

/* Writes every value of header name, joined with ", ", into out (size bytes). Returns 1, 0
 * when absent (out is ""), -1 with err when it does not fit. */
int gw_wshttp_header_join(const struct gw_wshttp_req *r, const char *name, char *out, size_t size,
                          char *err);

/* 1 when token (case-insensitive) is an element of the comma-separated lists of every header
 * line called name, e.g. ("Connection", "upgrade"). */
int gw_wshttp_has_token(const struct gw_wshttp_req *r, const char *name, const char *token);

/* 1 when the connection stays open after the response (HTTP/1.1 without "Connection: close",
 * HTTP/1.0 with "Connection: keep-alive"). */
int gw_wshttp_keep_alive(const struct gw_wshttp_req *r);

/* 1 when the request asks for a WebSocket upgrade (an Upgrade header naming "websocket"),
 * else 0: a plain request for an HTTP endpoint. */
int gw_wshttp_is_upgrade(const struct gw_wshttp_req *r);

/* Finds parameter name in a query string (without '?', may be NULL) and percent-decodes its
 * value ('+' is a space) into out (size bytes, NUL-terminated). Returns 1 when found, 0 when
 * absent, -1 with err when the value has a bad escape, a NUL, or does not fit. */
int gw_wshttp_query_param(const char *query, const char *name, char *out, size_t size, char *err);

/* What the server accepts in an upgrade. */
struct gw_wshttp_conf {
    const char *const *origins; /* allow-list; NULL or empty: any origin */
    size_t norigins;
    const char *const *protocols; /* subprotocols in the server's order of preference */
    size_t nprotocols;
    int deflate; /* 1: accept a permessage-deflate offer */
    /* The server's wishes for deflate: a *_no_context_takeover set here is always asked for
     * (it saves the window memory between messages); window bits (0 = 15) are ceilings. */
    struct gw_wsdeflate_params deflate_prefs;
};

/* The outcome of an upgrade check. */
struct gw_wshttp_upgrade {
    int status;        /* 101, or the status to answer */
    const char *extra; /* static header lines to add to the error answer, or NULL */
    char accept[GW_WSHTTP_ACCEPT_LEN];
    const char *protocol; /* chosen subprotocol (from conf->protocols) or NULL */
    int deflate;          /* 1 when a permessage-deflate offer was accepted */
    struct gw_wsdeflate_params deflate_params;
    char extensions[192]; /* Sec-WebSocket-Extensions response value, "" when none */
};

/*
 * Checks a parsed request as a WebSocket opening handshake (RFC 6455 section 4.2.1) and
 * fills u. Returns 0 (u->status 101) or -1 with u->status, u->extra and err:
 *   405 (extra "Allow: GET") for another method; 400 for HTTP/1.0, no "Upgrade: websocket",
 *   no "Connection: upgrade", or a Sec-WebSocket-Key that is not base64 of 16 bytes; 426
 *   (extra GW_WSHTTP_VERSION_HEADER) when Sec-WebSocket-Version is not 13; 403 when Origin is
 *   present and not allowed. A request without Origin passes: only browsers send it, and
 *   they always do.
 * The subprotocol is the first of conf->protocols the client offered (none when no match).
 * Of the permessage-deflate offers, the first valid one is accepted; an offer with an unknown,
 * repeated or malformed parameter is declined (RFC 7692 section 5).
 */
int gw_wshttp_upgrade_check(const struct gw_wshttp_req *r, const struct gw_wshttp_conf *conf,
                            struct gw_wshttp_upgrade *u, char *err);

/* Computes Sec-WebSocket-Accept for a key (SHA-1 and base64 through OpenSSL). */
void gw_wshttp_accept_key(const char *key, char out[GW_WSHTTP_ACCEPT_LEN]);

/* 1 when origin matches an entry of the allow-list: "*"; an exact origin
 * ("https://app.example.com", case-insensitive); a host ("example.com", any scheme and port,
 * or "example.com:8443"); or a wildcard host ("*.example.com": any subdomain, not the domain
 * itself), optionally after a scheme, as in "https://" followed by "*.example.com". */
int gw_wshttp_origin_allowed(const char *origin, const char *const *list, size_t n);

/* Picks the first acceptable permessage-deflate offer of a Sec-WebSocket-Extensions value
 * (NULL: none) under prefs (NULL: no wishes). Returns 1 with *agreed and the response value in
 * resp (size bytes), or 0 when no offer is acceptable. */
int gw_wshttp_deflate_negotiate(const char *offers, const struct gw_wsdeflate_params *prefs,
                                struct gw_wsdeflate_params *agreed, char *resp, size_t size);

/* Appends the 101 response for u, with extra header lines (may be NULL). */
int gw_wshttp_write_101(struct gw_buf *out, const struct gw_wshttp_upgrade *u, const char *extra);

/* Appends a response with a body. keep_alive 0 adds "Connection: close". extra: header lines
 * ("Name: value\r\n"...), may be NULL. */
int gw_wshttp_write_response(struct gw_buf *out, int status, const char *content_type,
                             const void *body, size_t len, int keep_alive, const char *extra);

/* Appends an error response: text/plain, the one-line reason (NUL-terminated; NULL uses the
 * status text) as body, "Connection: close", and the extra header lines. */
int gw_wshttp_write_error(struct gw_buf *out, int status, const char *reason, const char *extra);

/* Client side (gwbench ws). */

/* Length of a Sec-WebSocket-Key, with its NUL. */
#define GW_WSHTTP_KEY_LEN 25

/* Makes a random Sec-WebSocket-Key (16 random bytes from OpenSSL, base64). Returns 0, or -1
 * with err when the random generator fails. */
int gw_wshttp_make_key(char out[GW_WSHTTP_KEY_LEN], char *err);

/* Appends an opening handshake request for path (with its query) on host ("h:port"), with
 * key. protocols (a comma-separated list) and extensions (e.g. "permessage-deflate;
 * client_max_window_bits") are sent when not NULL. */
int gw_wshttp_write_request(struct gw_buf *out, const char *host, const char *path, const char *key,
                            const char *protocols, const char *extensions);

/* What a server answered to an opening handshake. */
struct gw_wshttp_resp {
    int status;                                /* the HTTP status, 0 when the head was malformed */
    char protocol[64];                         /* Sec-WebSocket-Protocol, "" when none */
    int deflate;                               /* 1 when the server accepted permessage-deflate */
    struct gw_wsdeflate_params deflate_params; /* what it agreed to */
};

/* Reads the server's response head from data (all bytes received so far). Returns its length
 * when it is a valid 101 for key (Upgrade, Connection, Sec-WebSocket-Accept checked; frames
 * may follow it in data), 0 when more bytes are needed, or -1 with resp->status and err for
 * another status, a malformed or oversized (past 16 KiB) head, or a failed check. */
int gw_wshttp_response_check(const char *data, size_t len, const char *key,
                             struct gw_wshttp_resp *resp, char *err);

/* The reason phrase of a status ("Bad Request"), "Unknown" for others. */
const char *gw_wshttp_status_text(int status);

#endif
