/*
 * gwbench_reply.c -- libFuzzer target for gwbench's line reply parser (bytes from the server
 * under test) and its C-escape decoder (--send, --expect).
 *
 * The input is split at the first NUL: before it, an --expect argument; after it, the bytes a
 * server sent. The replies are walked the way the engine does, and every answer is checked
 * against the bounds the engine relies on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gwbench/gwbench.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bench_opts opts;

static void
walk_replies(const struct bench_proto *p, const char *buf, size_t len)
{
    enum bench_parse r;
    size_t off = 0, used;

    while (off < len) {
        used = 0;
        r = p->parse(&opts, buf + off, len - off, &used);
        if (r == BENCH_NEED_MORE || r == BENCH_REPLY_BAD)
            break;
        if (r != BENCH_REPLY_OK && r != BENCH_REPLY_WRONG)
            abort();
        if (used == 0 || used > len - off || buf[off + used - 1] != '\n')
            abort();
        off += used;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nul = memchr(data, '\0', size);
    size_t arg_len = nul ? (size_t)(nul - (const char *)data) : size;
    char err[GW_ERR_LEN], *arg, *reply;
    long n;

    if ((arg = malloc(arg_len + 1)) == NULL)
        return 0;
    memcpy(arg, data, arg_len);
    arg[arg_len] = '\0';
    memset(&opts, 0, sizeof(opts));
    opts.size = -1;
    opts.expect_arg = arg;
    if (bench_proto_tcp.setup(&opts, err) == 0) {
        if (opts.expect_len > sizeof(opts.expect) || opts.request_len == 0)
            abort();
    } else if (err[0] == '\0') {
        abort();
    }
    n = bench_unescape(arg, opts.request, sizeof(opts.request), err);
    if (n > (long)sizeof(opts.request))
        abort();
    if (nul && (reply = malloc(size - arg_len)) != NULL) {
        memcpy(reply, nul + 1, size - arg_len - 1);
        walk_replies(&bench_proto_tcp, reply, size - arg_len - 1);
        free(reply);
    }
    free(arg);
    return 0;
}
