/*
 * proto_log.c -- the `log` driver: logd's native protocol (lib/native.h), one BATCH per
 * request and its ACK as the reply, so the latency measured is the acknowledged latency: the
 * time until logd has the record in its file under its fsync policy.
 *
 * Each connection opens with HELLO (a fresh random session) and waits for WELCOME. A batch
 * holds --batch records (1 by default; a real client batches what accumulated while the
 * last batch was in flight) of --size message bytes each; its payload and CRC are made once,
 * in setup(), and each request only writes a header. Sequence numbers must grow on a connection: a
 * per-thread counter does, as a connection never changes thread. Acknowledgements are
 * cumulative, so one could answer several batches: the mode keeps one batch in flight per
 * connection (--pipeline 1).
 */
#include "gwbench.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"
#include "crc32c.h"
#include "native.h"
#include "syslog.h"
#include "util.h"

#define DEFAULT_SIZE 100
#define MAX_REPLY_BYTES (GW_NATIVE_HDR_LEN + GW_NATIVE_ERRTEXT_MAX)

static void
put32(char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (char)(v & 0xff);
}

static void
put64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (char)(v & 0xff);
}

static uint32_t
get32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;

    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static int
log_setup(struct bench_opts *o, char *err)
{
    struct gw_logrec rec = {0};
    struct gw_buf b;
    long size = o->size >= 0 ? o->size : DEFAULT_SIZE;
    char msg[BENCH_MAX_REQUEST_BYTES / 2];
    int rc;

    if (o->send_arg || o->expect_arg || o->hb_service)
        return gw_err(err, "--send, --expect and --hb-service are not for mode log");
    if (o->pipeline != 1)
        return gw_err(err, "mode log keeps one batch in flight per connection (acknowledgements "
                           "are cumulative): use -c for more load, not --pipeline");
    if (size < 1 || (size_t)size > sizeof(msg))
        return gw_err(err, "--size: 1..%zu message bytes", sizeof(msg));
    if (o->syslog == BENCH_SYSLOG_NONE && o->batch > 1 &&
        o->batch * ((size_t)size + 64) > sizeof(o->payload))
        return gw_err(err, "--batch %u of --size %ld: over the %zu bytes a request may have",
                      o->batch, size, sizeof(o->payload));
    memset(msg, 'x', (size_t)size);
    rec.severity = 6;
    rec.facility = 1;
    rec.app = (struct gw_slice){"gwbench", 7};
    rec.host = (struct gw_slice){"bench", 5};
    rec.msg = (struct gw_slice){msg, (size_t)size};
    gw_buf_init(&b, sizeof(o->payload));
    rc = 0;
    for (unsigned i = 0; rc == 0 && i < o->batch; i++)
        rc = gw_native_record_append(&b, &rec, err);
    if (rc == 0) {
        memcpy(o->payload, gw_buf_data(&b), gw_buf_len(&b));
        o->request_len = gw_buf_len(&b);
        o->log_crc = gw_crc32c(0, o->payload, o->request_len);
    }
    gw_buf_reset(&b);
    o->max_request_bytes = GW_NATIVE_HDR_LEN + o->request_len;
    return rc;
}

static size_t
log_encode(const struct bench_opts *o, char *dst, size_t room)
{
    /* Grows on each thread, so on each connection; starts high enough to be past any seq a
     * reused session could hold (sessions are random per connection anyway). */
    static _Thread_local uint64_t seq;
    char *h = dst;

    (void)room;
    if (seq == 0)
        seq = 1;
    put32(h, GW_NATIVE_MAGIC);
    h[4] = GW_NATIVE_BATCH;
    h[5] = GW_NATIVE_VERSION;
    h[6] = h[7] = 0;
    put64(h + 8, seq++);
    put32(h + 16, o->batch);
    put32(h + 20, (uint32_t)o->request_len);
    put32(h + 24, (uint32_t)o->request_len);
    put32(h + 28, o->log_crc);
    memcpy(dst + GW_NATIVE_HDR_LEN, o->payload, o->request_len);
    return GW_NATIVE_HDR_LEN + o->request_len;
}

/* A frame of type want at the front of buf (ERROR: BAD, the server closes). */
static enum bench_parse
frame(const char *buf, size_t len, int want, size_t *used)
{
    uint32_t n;

    if (len < GW_NATIVE_HDR_LEN)
        return BENCH_NEED_MORE;
    if (get32(buf) != GW_NATIVE_MAGIC || buf[4] == GW_NATIVE_ERROR)
        return BENCH_REPLY_BAD;
    if ((n = get32(buf + 20)) > GW_NATIVE_ERRTEXT_MAX)
        return BENCH_REPLY_BAD;
    if (len < GW_NATIVE_HDR_LEN + n)
        return BENCH_NEED_MORE;
    *used = GW_NATIVE_HDR_LEN + n;
    return buf[4] == want ? BENCH_REPLY_OK : BENCH_REPLY_WRONG;
}

static enum bench_parse
log_parse(const struct bench_opts *o, const char *buf, size_t len, size_t *used)
{
    (void)o;
    return frame(buf, len, GW_NATIVE_ACK, used);
}

static size_t
log_hello(const struct bench_opts *o, char *dst, size_t room)
{
    uint64_t session = 0;
    struct gw_buf b;
    size_t n = 0;

    (void)o;
    while (session == 0 && getrandom(&session, sizeof(session), 0) != sizeof(session))
        session = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)dst;
    gw_buf_init(&b, room);
    if (gw_native_hello_encode(&b, session, "gwbench", NULL) == 0) {
        n = gw_buf_len(&b);
        memcpy(dst, gw_buf_data(&b), n);
    }
    gw_buf_reset(&b);
    return n;
}

static enum bench_parse
log_hello_reply(const struct bench_opts *o, const char *buf, size_t len, size_t *used)
{
    (void)o;
    return frame(buf, len, GW_NATIVE_WELCOME, used);
}

const struct bench_proto bench_proto_log = {
    .mode = "log",
    .setup = log_setup,
    .encode = log_encode,
    .parse = log_parse,
    .max_reply_bytes = MAX_REPLY_BYTES,
    .hello = log_hello,
    .hello_reply = log_hello_reply,
};
