/*
 * ctl_request.c -- libFuzzer target for the control socket's request parsing: the input is cut
 * into lines as the server cuts it, each line goes through gw_ctl_parse_request, and whatever
 * comes out (request or error reply) must be well formed and encodable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_line(const char *line, size_t len)
{
    const char *cmd = NULL;
    json_t *args = NULL, *error = NULL, *req;
    char *out;

    req = gw_ctl_parse_request(line, len, &cmd, &args, &error);
    if (req) {
        if (!cmd || !json_is_object(args) || error || !json_is_object(req))
            abort();
        json_decref(req);
        return;
    }
    /* An error reply must always go out as one valid line. */
    if (!json_is_object(error) || !json_is_false(json_object_get(error, "ok")))
        abort();
    if ((out = json_dumps(error, JSON_COMPACT)) == NULL || strchr(out, '\n'))
        abort();
    free(out);
    json_decref(error);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;

    if (size > GW_CTL_MAX_LINE)
        return 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        check_line(p, len);
        p += len + 1;
    }
    return 0;
}
