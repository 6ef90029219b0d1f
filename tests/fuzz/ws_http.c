/*
 * ws_http.c -- libFuzzer target for the WebSocket upgrade parser and check (lib/wshttp.c):
 * a head parsed whole and byte by byte must give the same outcome; a parsed head goes
 * through the upgrade check, the responses and the query helper; the input is also tried as
 * a Sec-WebSocket-Extensions value, an Origin and a server's response head.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "wshttp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const origins[] = {"https://app.example.com", "*.example.org", "localhost:8443"};
static const char *const protocols[] = {"chat", "gwkit.v1"};

static void
check_status(int status)
{
    static const int ok_statuses[] = {400, 414, 431, 500, 501, 505};
    size_t i;

    for (i = 0; i < sizeof(ok_statuses) / sizeof(ok_statuses[0]); i++)
        if (status == ok_statuses[i])
            return;
    abort();
}

static void
use_request(struct gw_wshttp_req *r)
{
    static const struct gw_wshttp_conf conf = {origins, 3, protocols, 2, 1, {1, 1, 12, 12}};
    struct gw_wshttp_upgrade u;
    struct gw_buf out;
    char err[GW_ERR_LEN], value[64];
    unsigned i;

    if (!r->method || !r->path || r->path[0] != '/')
        abort();
    for (i = 0; i < r->nheaders; i++)
        if (!r->headers[i].name[0] || strchr(r->headers[i].value, '\r') ||
            strchr(r->headers[i].value, '\n'))
            abort();
    gw_wshttp_query_param(r->query, "token", value, sizeof(value), err);
    gw_wshttp_keep_alive(r);
    gw_buf_init(&out, 1 << 16);
    if (gw_wshttp_upgrade_check(r, &conf, &u, err) == 0) {
        if (u.status != 101 || strlen(u.accept) != 28)
            abort();
        if (gw_wshttp_write_101(&out, &u, NULL) < 0)
            abort();
    } else {
        if (u.status < 400 || u.status > 599 || !err[0])
            abort();
        if (gw_wshttp_write_error(&out, u.status, err, u.extra) < 0)
            abort();
    }
    gw_buf_reset(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_wshttp_req whole, bytes;
    struct gw_wsdeflate_params agreed;
    char err[GW_ERR_LEN], resp[192], *s;
    int rc1, rc2 = 0;
    size_t i;

    gw_wshttp_req_init(&whole);
    gw_wshttp_req_init(&bytes);
    whole.max_line_bytes = bytes.max_line_bytes = 1024;
    whole.max_head_bytes = bytes.max_head_bytes = 4096;
    whole.max_headers = bytes.max_headers = 32;
    rc1 = gw_wshttp_parse(&whole, (const char *)data, size, err);
    for (i = 1; i <= size; i++)
        if ((rc2 = gw_wshttp_parse(&bytes, (const char *)data, i, err)) != 0)
            break;
    if (rc1 != rc2 || (rc1 < 0 && whole.status != bytes.status))
        abort();
    if (rc1 < 0)
        check_status(whole.status);
    else if (rc1 > 0)
        use_request(&whole);
    gw_wshttp_req_free(&whole);
    gw_wshttp_req_free(&bytes);

    if ((s = malloc(size + 1)) == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (gw_wshttp_deflate_negotiate(s, NULL, &agreed, resp, sizeof(resp)) == 1 &&
        (agreed.server_max_window_bits < 8 || agreed.server_max_window_bits > 15 ||
         agreed.client_max_window_bits < 8 || agreed.client_max_window_bits > 15))
        abort();
    gw_wshttp_origin_allowed(s, origins, 3);
    free(s);
    {
        struct gw_wshttp_resp resp;
        int rc = gw_wshttp_response_check((const char *)data, size,
                                          "dGhlIHNhbXBsZSBub25jZQ==", &resp, err);
        if (rc > (int)size || (rc < 0 && !err[0]))
            abort();
    }
    return 0;
}
