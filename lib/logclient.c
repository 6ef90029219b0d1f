/*
 * logclient.c -- native protocol client: batches, in-order sends, cumulative ACKs, resend
 * after reconnect with backoff, bounded memory.
 */
#include "logclient.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "native.h"
#include "net.h"

/* A sealed batch: its encoded frame, kept until acknowledged. */
struct batch {
    uint64_t seq;
    uint32_t count;
    int sent; /* written whole at least once */
    size_t len;
    struct batch *next;
    char frame[];
};

enum { DOWN, CONNECTING, HANDSHAKE, READY };

struct gw_logclient {
    struct gw_logclient_opts o;
    char *addr_str, *name;
    struct gw_addr addr;
    int fd, state;
    struct gw_buf in, open; /* frames from the server; the open batch's payload */
    uint32_t open_count;
    struct batch *head, *tail; /* unacknowledged, in seq order */
    struct batch *cur;         /* next to write on this connection */
    size_t cur_off;
    size_t pending;
    size_t max_batch;
    uint32_t max_records;
    uint64_t next_seq, acked;
    uint64_t retry_at_ms, progress_ms;
    int backoff_ms;
    uint64_t rng;
    uint64_t unreported_batches, unreported_records;
    char last_err[GW_ERR_LEN], reject_err[GW_ERR_LEN];
    struct gw_logclient_stats st;
};

void
gw_logclient_opts_default(struct gw_logclient_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->name = "gwkit";
    o->connect_timeout_ms = 2000;
    o->ack_timeout_ms = 10000;
    o->add_timeout_ms = 5000;
    o->block_when_full = 1;
    o->max_batch_bytes = 256 * 1024;
    o->max_batch_records = 1000;
    o->max_pending_bytes = 8u << 20;
    o->backoff_min_ms = 100;
    o->backoff_max_ms = 5000;
}

static uint64_t
random64(void)
{
    uint64_t v = 0;
    struct timespec ts;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
        clock_gettime(CLOCK_REALTIME, &ts);
        v = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() << 32 ^
            (uint64_t)ts.tv_sec;
    }
    return v ? v : 1;
}

struct gw_logclient *
gw_logclient_new(const struct gw_logclient_opts *o, char *err)
{
    struct gw_logclient *c;
    char *a;

    if (o->addr == NULL || o->addr[0] == '\0')
        return gw_err(err, "no address"), NULL;
    if (o->max_batch_bytes < 64 || o->max_batch_records == 0 ||
        o->max_pending_bytes < o->max_batch_bytes + 64 || o->max_batch_bytes > UINT32_MAX)
        return gw_err(err, "max_pending_bytes must be at least max_batch_bytes + 64 (>= 64)"), NULL;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return gw_err(err, "out of memory"), NULL;
    c->o = *o;
    if (asprintf(&a, "%s%s", o->addr[0] == '/' ? "unix:" : "", o->addr) < 0) {
        free(c);
        return gw_err(err, "out of memory"), NULL;
    }
    c->addr_str = a;
    c->name = strdup(o->name ? o->name : "gwkit");
    if (c->name == NULL || gw_net_parse_addr(a, 0, &c->addr, err) < 0) {
        gw_logclient_free(c);
        return NULL;
    }
    c->fd = -1;
    c->max_batch = o->max_batch_bytes;
    c->max_records = o->max_batch_records;
    gw_buf_init(&c->in, GW_NATIVE_HDR_LEN + 2 * GW_NATIVE_ERRTEXT_MAX);
    gw_buf_init(&c->open, c->max_batch);
    c->next_seq = 1;
    c->st.session = random64();
    c->rng = c->st.session;
    c->backoff_ms = o->backoff_min_ms > 0 ? o->backoff_min_ms : 1;
    return c;
}

static void
free_batches(struct gw_logclient *c)
{
    while (c->head) {
        struct batch *b = c->head;
        c->head = b->next;
        free(b);
    }
    c->tail = c->cur = NULL;
}

void
gw_logclient_free(struct gw_logclient *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free_batches(c);
    gw_buf_reset(&c->in);
    gw_buf_reset(&c->open);
    free(c->addr_str);
    free(c->name);
    free(c);
}

/* ---- connection ---- */

static uint64_t
rnd(struct gw_logclient *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

/* Closes the connection and schedules the next attempt: half the backoff plus a random half,
 * so many clients cut off together do not come back together. */
static void
disconnect(struct gw_logclient *c, const char *why)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = DOWN;
    c->cur = NULL;
    c->cur_off = 0;
    gw_buf_reset(&c->in);
    gw_strlcpy(c->last_err, why, sizeof(c->last_err));
    c->retry_at_ms =
        gw_mono_ms() + (uint64_t)(c->backoff_ms / 2) + rnd(c) % (uint64_t)(c->backoff_ms / 2 + 1);
    c->backoff_ms =
        c->backoff_ms * 2 > c->o.backoff_max_ms ? c->o.backoff_max_ms : c->backoff_ms * 2;
    if (c->backoff_ms < 1)
        c->backoff_ms = 1;
}

static void
connect_failed(struct gw_logclient *c, const char *why)
{
    char msg[GW_ERR_LEN];

    /* gw_net_connect_result() says only "connect: ..."; name the address. */
    if (strncmp(why, "connect: ", 9) == 0)
        snprintf(msg, sizeof(msg), "connect %s: %s", c->addr_str, why + 9);
    else
        gw_strlcpy(msg, why, sizeof(msg));
    c->st.connect_failures++;
    disconnect(c, msg);
}

/* Connected: say HELLO (a fresh socket's buffer takes its 300 bytes at once). */
static int
hello(struct gw_logclient *c)
{
    struct gw_buf b;
    ssize_t n;

    gw_buf_init(&b, 512);
    gw_native_hello_encode(&b, c->st.session, c->name, NULL);
    n = send(c->fd, gw_buf_data(&b), gw_buf_len(&b), MSG_NOSIGNAL);
    if (n != (ssize_t)gw_buf_len(&b)) {
        gw_buf_reset(&b);
        connect_failed(c, "send HELLO failed");
        return -1;
    }
    gw_buf_reset(&b);
    c->state = HANDSHAKE;
    c->progress_ms = gw_mono_ms();
    return 0;
}

/* Starts a non-blocking connect, so a caller polling with a timeout of 0 still gets through
 * to a distant server over several calls. */
static int
connect_start(struct gw_logclient *c)
{
    char err[GW_ERR_LEN];
    int fd, in_progress;

    if ((fd = gw_net_connect(&c->addr, &in_progress, err)) < 0) {
        connect_failed(c, err);
        return -1;
    }
    c->fd = fd;
    c->progress_ms = gw_mono_ms();
    if (in_progress) {
        c->state = CONNECTING;
        return 0;
    }
    return hello(c);
}

static void
connect_finish(struct gw_logclient *c)
{
    char err[GW_ERR_LEN];

    if (gw_net_connect_result(c->fd, err) < 0)
        connect_failed(c, err);
    else
        hello(c);
}

/* Frees acknowledged batches from the head; a batch being written stays until it is whole,
 * since the stream must not be cut inside a frame. */
static void
release(struct gw_logclient *c)
{
    while (c->head && c->head->seq <= c->acked) {
        struct batch *b = c->head;
        if (b == c->cur) {
            if (c->cur_off > 0)
                return;
            c->cur = b->next;
        }
        c->head = b->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->pending -= b->len;
        c->st.batches_acked++;
        c->st.records_acked += b->count;
        free(b);
    }
}

static void
reject(struct gw_logclient *c, uint64_t seq, int code, const char *text)
{
    struct batch **pp = &c->head, *prev = NULL;

    for (; *pp; prev = *pp, pp = &(*pp)->next) {
        struct batch *b = *pp;
        if (b->seq != seq)
            continue;
        *pp = b->next;
        if (c->tail == b)
            c->tail = prev;
        if (c->cur == b) {
            c->cur = b->next;
            c->cur_off = 0;
        }
        c->pending -= b->len;
        c->st.batches_rejected++;
        c->st.records_rejected += b->count;
        c->unreported_batches++;
        c->unreported_records += b->count;
        snprintf(c->reject_err, sizeof(c->reject_err), "%s: %.200s", gw_native_error_name(code),
                 text);
        free(b);
        return;
    }
}

static int
on_welcome(struct gw_logclient *c, const struct gw_native_frame *f)
{
    struct gw_native_limits lim;

    /* A WELCOME covering batches never made would silence every later one as a duplicate. */
    if (c->state != HANDSHAKE || gw_native_welcome_decode(f, &lim, NULL) < 0 ||
        f->seq >= c->next_seq)
        return -1;
    if (f->seq > c->acked)
        c->acked = f->seq;
    c->cur = NULL;
    c->cur_off = 0;
    release(c);
    c->cur = c->head;
    c->max_batch = GW_MIN(c->o.max_batch_bytes, (size_t)lim.max_payload);
    c->max_batch = GW_MIN(c->max_batch, (size_t)lim.max_raw);
    c->max_records = GW_MIN(c->o.max_batch_records, lim.max_records);
    c->state = READY;
    c->last_err[0] = '\0';
    c->backoff_ms = c->o.backoff_min_ms > 0 ? c->o.backoff_min_ms : 1;
    c->progress_ms = gw_mono_ms();
    c->st.connects++;
    return 0;
}

static int
on_frame(struct gw_logclient *c, const struct gw_native_frame *f)
{
    char why[GW_ERR_LEN];

    switch (f->type) {
    case GW_NATIVE_WELCOME:
        if (on_welcome(c, f) < 0) {
            disconnect(c, "bad WELCOME from the server");
            return -1;
        }
        return 0;
    case GW_NATIVE_ACK:
        if (c->state != READY || f->seq >= c->next_seq) {
            disconnect(c, "ACK for a batch never sent");
            return -1;
        }
        if (f->seq > c->acked) {
            c->acked = f->seq;
            c->progress_ms = gw_mono_ms();
        }
        release(c);
        return 0;
    case GW_NATIVE_ERROR:
        snprintf(why, sizeof(why), "server error %s: %.*s", gw_native_error_name((int)f->count),
                 (int)f->length, f->payload);
        if (f->seq && !gw_native_error_transient((int)f->count)) {
            char text[GW_NATIVE_ERRTEXT_MAX + 1];
            snprintf(text, sizeof(text), "%.*s", (int)f->length, f->payload);
            reject(c, f->seq, (int)f->count, text);
        }
        disconnect(c, why);
        return -1;
    default:
        disconnect(c, "unexpected frame from the server");
        return -1;
    }
}

static void
read_some(struct gw_logclient *c)
{
    struct gw_native_limits lim = {0, 0, 0};
    struct gw_native_frame f;
    char err[GW_ERR_LEN];
    size_t used;
    ssize_t n;
    int rc, code;

    n = gw_buf_read_fd(&c->in, c->fd, 4096);
    if (n == 0) {
        disconnect(c, "server closed the connection");
        return;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        gw_err_errno(err, "read");
        disconnect(c, err);
        return;
    }
    while ((rc = gw_native_frame_decode(gw_buf_data(&c->in), gw_buf_len(&c->in), &lim, &f, &used,
                                        &code, err)) == 1) {
        if (on_frame(c, &f) < 0)
            return;
        gw_buf_consume(&c->in, used);
    }
    if (rc < 0)
        disconnect(c, err);
    else if (n == -2)
        disconnect(c, "oversized frame from the server");
}

static void
write_some(struct gw_logclient *c)
{
    char err[GW_ERR_LEN];

    while (c->cur) {
        struct batch *b = c->cur;
        ssize_t n =
            send(c->fd, b->frame + c->cur_off, b->len - c->cur_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            gw_err_errno(err, "send");
            disconnect(c, err);
            return;
        }
        c->cur_off += (size_t)n;
        if (c->cur_off < b->len)
            continue;
        if (b->sent)
            c->st.batches_resent++;
        else
            c->st.batches_sent++;
        if (!b->sent && c->head == b)
            c->progress_ms = gw_mono_ms();
        b->sent = 1;
        c->cur = b->next;
        c->cur_off = 0;
        release(c);
    }
}

/* When the current phase gives up: connect_timeout_ms for a connect, ack_timeout_ms for the
 * WELCOME and for ACK progress on sent batches (the peer is gone or stuck); 0 for none. */
static uint64_t
phase_limit(const struct gw_logclient *c)
{
    if (c->state == CONNECTING)
        return c->progress_ms + (uint64_t)c->o.connect_timeout_ms;
    if (c->state == HANDSHAKE || (c->head && c->head->sent))
        return c->progress_ms + (uint64_t)c->o.ack_timeout_ms;
    return 0;
}

static void
phase_timeout(struct gw_logclient *c)
{
    char why[GW_ERR_LEN];

    if (c->state == CONNECTING) {
        snprintf(why, sizeof(why), "connect %s: timed out after %d ms", c->addr_str,
                 c->o.connect_timeout_ms);
        connect_failed(c, why);
    } else {
        disconnect(c, c->state == HANDSHAKE ? "no WELCOME from the server"
                                            : "no acknowledgement from the server");
    }
}

/* One round of network work, waiting at most until deadline. */
static void
step(struct gw_logclient *c, uint64_t deadline)
{
    uint64_t now = gw_mono_ms(), until = deadline, limit;
    struct pollfd pfd;
    int rc;

    if (c->fd < 0) {
        if (now < c->retry_at_ms) {
            until = GW_MIN(deadline, c->retry_at_ms);
            poll(NULL, 0, until > now ? (int)(until - now) : 0);
            return;
        }
        if (connect_start(c) < 0)
            return;
    }
    if ((limit = phase_limit(c)) != 0) {
        if (now >= limit) {
            phase_timeout(c);
            return;
        }
        until = GW_MIN(until, limit);
    }
    pfd.fd = c->fd;
    pfd.events =
        c->state == CONNECTING ? POLLOUT : POLLIN | (c->state == READY && c->cur ? POLLOUT : 0);
    pfd.revents = 0;
    rc = poll(&pfd, 1, until > now ? (int)(until - now) : 0);
    if (rc <= 0)
        return;
    if (c->state == CONNECTING) {
        connect_finish(c);
        return;
    }
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
        read_some(c);
    if (c->fd >= 0 && c->state == READY && (pfd.revents & POLLOUT))
        write_some(c);
}

/* Seals the open batch into a frame at the tail. */
static int
seal(struct gw_logclient *c, char *err)
{
    struct gw_buf fr;
    struct batch *b;

    if (c->open_count == 0)
        return 0;
    gw_buf_init(&fr, gw_buf_len(&c->open) + GW_NATIVE_HDR_LEN + 64);
    if (gw_native_batch_encode(&fr, c->next_seq, c->open_count, gw_buf_data(&c->open),
                               gw_buf_len(&c->open), c->o.zstd_level, err) < 0 ||
        (b = malloc(sizeof(*b) + gw_buf_len(&fr))) == NULL) {
        gw_buf_reset(&fr);
        return gw_err(err, "out of memory sealing a batch");
    }
    b->seq = c->next_seq++;
    b->count = c->open_count;
    b->sent = 0;
    b->len = gw_buf_len(&fr);
    b->next = NULL;
    memcpy(b->frame, gw_buf_data(&fr), b->len);
    gw_buf_reset(&fr);
    /* The frame replaces the payload in the pending total. */
    c->pending = c->pending - gw_buf_len(&c->open) + b->len;
    gw_buf_reset(&c->open);
    c->open_count = 0;
    if (c->tail)
        c->tail->next = b;
    else
        c->head = b;
    c->tail = b;
    if (c->cur == NULL && c->state == READY && b->seq > c->acked) {
        /* Everything before it is written: it is next. */
        c->cur = b;
        c->cur_off = 0;
    }
    c->st.last_seq = b->seq;
    return 0;
}

static void
timed_out(struct gw_logclient *c, int timeout_ms, const char *what, char *err)
{
    size_t n = 0;

    for (struct batch *b = c->head; b; b = b->next)
        n++;
    gw_err(err, "timed out after %d ms with %zu batch%s %s%s%s", timeout_ms, n, n == 1 ? "" : "es",
           what, c->last_err[0] ? ": " : "", c->last_err);
}

static int
all_written(const struct gw_logclient *c)
{
    return c->state == READY && c->cur == NULL;
}

int
gw_logclient_send(struct gw_logclient *c, int timeout_ms, char *err)
{
    uint64_t deadline = gw_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

    if (seal(c, err) < 0)
        return -1;
    if (c->head == NULL)
        return 0;
    /* At least one step, so a timeout of 0 still makes progress without waiting. */
    do
        step(c, deadline);
    while (!all_written(c) && c->head && gw_mono_ms() < deadline);
    if (all_written(c) || c->head == NULL)
        return 0;
    timed_out(c, timeout_ms, "unsent", err);
    return -1;
}

int
gw_logclient_flush(struct gw_logclient *c, int timeout_ms, char *err)
{
    uint64_t deadline = gw_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

    if (seal(c, err) < 0)
        return -1;
    while (c->head) {
        step(c, deadline);
        if (gw_mono_ms() >= deadline)
            break;
    }
    if (c->head) {
        timed_out(c, timeout_ms, "unacknowledged", err);
        return -1;
    }
    if (c->unreported_batches) {
        gw_err(err, "server refused %llu batch%s (%llu records): %s",
               (unsigned long long)c->unreported_batches, c->unreported_batches == 1 ? "" : "es",
               (unsigned long long)c->unreported_records, c->reject_err);
        c->unreported_batches = c->unreported_records = 0;
        return -1;
    }
    return 0;
}

/* Room for n more bytes, sealing and waiting for ACKs as the options say. */
static int
make_room(struct gw_logclient *c, size_t n, char *err)
{
    uint64_t deadline;

    if (c->pending + n <= c->o.max_pending_bytes)
        return 0;
    if (seal(c, err) < 0)
        return -1;
    if (c->o.block_when_full) {
        deadline = gw_mono_ms() + (uint64_t)c->o.add_timeout_ms;
        while (c->pending + n > c->o.max_pending_bytes && gw_mono_ms() < deadline)
            step(c, deadline);
    }
    if (c->pending + n <= c->o.max_pending_bytes)
        return 0;
    return gw_err(err, "queue full (%zu bytes pending)%s%s", c->pending, c->last_err[0] ? ": " : "",
                  c->last_err);
}

int
gw_logclient_add(struct gw_logclient *c, const struct gw_logrec *rec, char *err)
{
    struct gw_logrec r = *rec;
    size_t n;

    if (gw_native_record_size(&r) == 0)
        return gw_native_record_append(&c->open, &r, err);
    /* The batch frame adds its header; a record alone must fit in a batch. */
    n = gw_native_record_size(&r);
    if (n > c->max_batch) {
        size_t cut = n - c->max_batch;
        r.msg.len = r.msg.len > cut ? r.msg.len - cut : 0;
        r.flags |= GW_LOGREC_TRUNCATED;
        c->st.records_truncated++;
        n = gw_native_record_size(&r);
    }
    if (c->open_count >= c->max_records || gw_buf_len(&c->open) + n > c->max_batch) {
        if (seal(c, err) < 0)
            return -1;
    }
    if (make_room(c, n + GW_NATIVE_HDR_LEN, err) < 0)
        return -1;
    if (gw_buf_len(&c->open) + n > c->max_batch && seal(c, err) < 0)
        return -1;
    if (gw_native_record_append(&c->open, &r, err) < 0)
        return -1;
    c->open_count++;
    c->pending += n;
    c->st.records_added++;
    if (c->open_count >= c->max_records || gw_buf_len(&c->open) + GW_NATIVE_REC_MIN > c->max_batch)
        seal(c, NULL);
    if (c->state == READY && c->cur)
        write_some(c);
    return 0;
}

int
gw_logclient_log(struct gw_logclient *c, int severity, const char *app, const char *msg, char *err)
{
    struct gw_logrec r;
    struct timespec ts;

    memset(&r, 0, sizeof(r));
    clock_gettime(CLOCK_REALTIME, &ts);
    r.time_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    r.flags = GW_LOGREC_TIME_TZ;
    r.severity = (int8_t)severity;
    r.facility = 1;
    r.app.ptr = app;
    r.app.len = app ? strlen(app) : 0;
    r.msg.ptr = msg;
    r.msg.len = msg ? strlen(msg) : 0;
    return gw_logclient_add(c, &r, err);
}

void
gw_logclient_stats(const struct gw_logclient *c, struct gw_logclient_stats *st)
{
    *st = c->st;
    st->last_seq = c->next_seq - 1;
    st->acked_seq = c->acked;
    st->pending_bytes = c->pending;
    st->pending_batches = 0;
    for (struct batch *b = c->head; b; b = b->next)
        st->pending_batches++;
    st->connected = c->state == READY;
}
