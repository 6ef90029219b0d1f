/*
 * schema.c -- wsgwd's configuration keys ([wsgwd] and [backend NAME]): the one declaration
 * parsing, validation, defaults, `gwctl validate` and gwkit.conf(5) all come from.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "wsgwd.h"
#include "wsgwd_schema.h"

#define MS(x) ((int64_t)(x))
#define SEC(x) ((int64_t)(x)*1000)
#define KIB(x) ((int64_t)(x)*1024)
#define MIB(x) ((int64_t)(x)*1024 * 1024)
#define F(member) GW_CONF_FIELD(struct wsgw_config, member)

static const struct gw_conf_key wsgw_keys[] = {
    {"listen", GW_CONF_ADDR, "*:8080", 0, 0, NULL,
     "address WebSocket clients connect to (host:port, [v6]:port, *:port)", GW_CONF_RESTART, 0, 0},
    {"http_listen", GW_CONF_ADDR, "127.0.0.1:9092", 0, 0, NULL,
     "address of the HTTP endpoints (/metrics, /healthz, /readyz, /status, /)", GW_CONF_RESTART, 0,
     0},
    {"workers", GW_CONF_INT, "0", 0, 256, NULL,
     "worker threads, each with its own event loop, listener and backend links; 0 = one per CPU",
     GW_CONF_RESTART, 0, 0},
    {"io", GW_CONF_ENUM, "auto", 0, 0, "auto|epoll|uring",
     "how workers move bytes: io_uring where the kernel allows it (auto), or epoll",
     GW_CONF_RESTART, 0, 0},
    {"max_clients", GW_CONF_INT, "100000", 1, 10000000, NULL,
     "WebSocket clients held at once; a handshake past it gets 503", 0, F(max_clients)},
    {"max_clients_per_ip", GW_CONF_INT, "0", 0, 10000000, NULL,
     "connections held at once from one source address (past it: 503); 0 = no limit", 0,
     F(max_clients_per_ip)},
    {"handshakes_per_ip", GW_CONF_INT, "0", 0, 10000000, NULL,
     "handshakes per second from one source address (past it: 429); 0 = no limit", 0,
     F(handshakes_per_ip)},
    {"handshake_timeout", GW_CONF_DURATION, "10s", MS(100), SEC(3600), NULL,
     "close a connection whose upgrade request, or whose closing handshake, is not complete "
     "after this long",
     0, F(handshake_timeout_ms)},
    {"idle_timeout", GW_CONF_DURATION, "0", 0, SEC(86400 * 7), NULL,
     "close a client (1001) that sent no message for this long; 0 = never (pings keep watch)", 0,
     F(idle_timeout_ms)},
    {"ping_interval", GW_CONF_DURATION, "25s", 0, SEC(86400), NULL,
     "send a ping to a client silent for this long; 0 = no keepalive pings", 0,
     F(ping_interval_ms)},
    {"ping_timeout", GW_CONF_DURATION, "60s", SEC(1), SEC(86400), NULL,
     "with pings on, close a client (1001) from which nothing came for this long", 0,
     F(ping_timeout_ms)},
    {"max_message", GW_CONF_SIZE, "1m", 125, MIB(1024), NULL,
     "largest client message, after reassembly and inflation; a larger one gets close 1009", 0,
     F(max_message_bytes)},
    {"max_frame", GW_CONF_SIZE, "16m", KIB(1), MIB(1024), NULL,
     "largest backend frame payload; a backend sending a larger one is dropped", 0,
     F(max_frame_bytes)},
    {"max_header", GW_CONF_SIZE, "8k", 512, KIB(64), NULL,
     "largest upgrade request header block (414 for a long request line, 431 for headers)", 0,
     F(max_header_bytes)},
    {"max_output", GW_CONF_SIZE, "4m", KIB(64), MIB(1024), NULL,
     "bytes queued for a client that does not read; past it the client gets close 1013", 0,
     F(max_output_bytes)},
    {"allowed_origins", GW_CONF_STRING, "", 0, 0, NULL,
     "Origin values allowed (space-separated, '*' any, 'null' file pages); empty = any; else 403",
     0, F(allowed_origins)},
    {"subprotocols", GW_CONF_STRING, "", 0, 0, NULL,
     "subprotocols offered, in order of preference (space-separated); empty = none", 0,
     F(subprotocols_text)},
    {"deflate", GW_CONF_BOOL, "yes", 0, 0, NULL,
     "negotiate permessage-deflate (RFC 7692) with clients that offer it", 0, F(deflate)},
    {"compression_threshold", GW_CONF_SIZE, "1k", 0, MIB(1024), NULL,
     "messages shorter than this go out uncompressed", 0, F(compression_threshold_bytes)},
    {"jwt_alg", GW_CONF_ENUM, "HS256", 0, 0, "HS256|RS256|ES256",
     "the one JWT algorithm accepted (with jwt_secret or jwt_public_key); never 'none'", 0, 0, 0},
    {"jwt_secret", GW_CONF_STRING, "", 0, 0, NULL,
     "HS256 shared secret; when set (or jwt_public_key), every client needs a valid token", 0, 0,
     0},
    {"jwt_public_key", GW_CONF_STRING, "", 0, 0, NULL,
     "PEM file with the RS256 or ES256 public key that verifies client tokens", 0, 0, 0},
    {"jwt_audience", GW_CONF_STRING, "", 0, 0, NULL,
     "required 'aud' claim of client tokens; empty = not checked", 0, 0, 0},
    {"jwt_issuer", GW_CONF_STRING, "", 0, 0, NULL,
     "required 'iss' claim of client tokens; empty = not checked", 0, 0, 0},
    {"jwt_leeway", GW_CONF_DURATION, "30s", 0, SEC(600), NULL,
     "clock skew allowed when checking 'exp' and 'nbf'", 0, 0, 0},
    {"test_page", GW_CONF_BOOL, "no", 0, 0, NULL,
     "serve a small HTML page at / of the WebSocket port that connects and echoes", 0,
     F(test_page)},
    {"gateway_id", GW_CONF_STRING, "", 0, 0, NULL,
     "this gateway's name in HELLO frames; empty = the host name", GW_CONF_RESTART, 0, 0},
    {"connect_timeout", GW_CONF_DURATION, "5s", MS(10), SEC(300), NULL,
     "time allowed for a backend TCP connect", 0, F(connect_timeout_ms)},
    {"backend_ping_interval", GW_CONF_DURATION, "10s", MS(100), SEC(3600), NULL,
     "PING on an idle framed backend link this often", 0, F(backend_ping_interval_ms)},
    {"backend_ping_timeout", GW_CONF_DURATION, "30s", SEC(1), SEC(3600), NULL,
     "drop a framed backend link that sent nothing for this long", 0, F(backend_ping_timeout_ms)},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

static const struct gw_conf_key backend_keys[] = {
    {"address", GW_CONF_ADDR, NULL, 0, 0, NULL, "host:port of the backend service (required)", 0, 0,
     0},
    {"protocol", GW_CONF_ENUM, "frames", 0, 0, "frames|raw",
     "frames: the wsgwd frame protocol, clients multiplexed; raw: one TCP connection per client, "
     "bytes as binary messages (websockify)",
     0, 0, 0},
    {NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0, 0},
};

const struct gw_conf_section wsgw_conf_section = {"wsgwd", 0, wsgw_keys, "the WebSocket gateway"};
const struct gw_conf_section wsgw_backend_section = {"backend", 1, backend_keys,
                                                     "a backend service of wsgwd"};

const struct gw_conf_section *const wsgw_schema[] = {&gw_daemon_global_section, &wsgw_conf_section,
                                                     &wsgw_backend_section, NULL};

/* Space-separated tokens of printable ASCII without separators ("()<>@,;:\"/[]?={}"), as an
 * HTTP token or an origin (which may hold ':' and '/') must be. */
static int
check_list(const struct gw_conf *c, const char *key, int origin, char *err)
{
    const char *s = gw_conf_str(c, "wsgwd", NULL, key);
    const char *bad = origin ? "\"<>\\^`{|}" : "()<>@,;:\\\"/[]?={}";

    for (const char *p = s; *p; p++)
        if (*p != ' ' && (*p < 0x21 || *p > 0x7e || strchr(bad, *p)))
            return gw_err(err, "%s: '%s': character '%c' not allowed in %s",
                          gw_conf_origin(c, "wsgwd", NULL, key), key, *p,
                          origin ? "an origin" : "a subprotocol name");
    return 0;
}

static int
check_jwt(const struct gw_conf *c, char *err)
{
    const char *alg = gw_conf_str(c, "wsgwd", NULL, "jwt_alg");
    const char *secret = gw_conf_str(c, "wsgwd", NULL, "jwt_secret");
    const char *key = gw_conf_str(c, "wsgwd", NULL, "jwt_public_key");

    if (!secret[0] && !key[0])
        return 0;
    if (secret[0] && key[0])
        return gw_err(err, "%s: 'jwt_secret' and 'jwt_public_key' cannot both be set",
                      gw_conf_origin(c, "wsgwd", NULL, "jwt_public_key"));
    if (strcmp(alg, "HS256") == 0 && !secret[0])
        return gw_err(err,
                      "%s: 'jwt_alg' HS256 needs 'jwt_secret' (jwt_public_key is for RS256 "
                      "and ES256)",
                      gw_conf_origin(c, "wsgwd", NULL, "jwt_alg"));
    if (strcmp(alg, "HS256") != 0 && !key[0])
        return gw_err(err, "%s: 'jwt_alg' %s needs 'jwt_public_key' (a PEM file)",
                      gw_conf_origin(c, "wsgwd", NULL, "jwt_alg"), alg);
    if (key[0] && access(key, R_OK) == -1)
        return gw_err_errno(err, "%s: 'jwt_public_key': cannot read %s",
                            gw_conf_origin(c, "wsgwd", NULL, "jwt_public_key"), key);
    return 0;
}

int
wsgw_conf_check(const struct gw_conf *c, char *err)
{
    static const char *names[GW_CONF_MAX_INSTANCES];
    size_t n = gw_conf_instances(c, "backend", names, GW_ARRAY_LEN(names));

    for (size_t i = 0; i < n && i < GW_ARRAY_LEN(names); i++)
        if (!gw_conf_str(c, "backend", names[i], "address")[0])
            return gw_err(err, "[backend %s] needs an address (address = HOST:PORT)", names[i]);
    if (check_list(c, "allowed_origins", 1, err) == -1 ||
        check_list(c, "subprotocols", 0, err) == -1)
        return -1;
    return check_jwt(c, err);
}
