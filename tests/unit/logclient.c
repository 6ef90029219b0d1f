/*
 * logclient.c -- tests for lib/logclient.c against a tiny native-protocol server in a thread
 * (lib/native on loopback TCP or a Unix socket) that can acknowledge, stay silent, drop the
 * connection after some batches, forget what is durable, or answer ERROR: delivery in order
 * without loss or duplicates, resend after reconnect, rejected batches, bounded memory,
 * connecting late, zstd.
 */
#include "logclient.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <unistd.h>

#include "native.h"
#include "net.h"

#include "../tap.h"

struct srv {
    int lfd, stop[2];
    pthread_t th;
    char addr[128];
    /* Behaviour, changed by the test while the server runs. */
    atomic_int ack;          /* acknowledge batches */
    atomic_int drop_after;   /* close a connection, unacknowledged, after this many batches */
    atomic_int drops_left;   /* ... this many times */
    atomic_int error_code;   /* answer the next batch with ERROR (once) */
    atomic_int welcome_zero; /* WELCOME claims nothing is durable */
    atomic_int drop_random;  /* drop_after becomes 1..drop_random, anew per connection */
    /* Results. */
    pthread_mutex_t mu;
    char **msgs;
    size_t nmsgs, cap;
    uint64_t session, accepted, durable;
    int conns, dups, batches;
};

static void
store(struct srv *s, struct gw_slice m)
{
    if (s->nmsgs == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->msgs = realloc(s->msgs, s->cap * sizeof(*s->msgs));
    }
    s->msgs[s->nmsgs] = strndup(m.ptr, m.len);
    s->nmsgs++;
}

/* After an ERROR: stop sending and read until the client closes, so the close does not turn
 * into a reset that destroys the ERROR before the client reads it (a lingering close). */
static void
linger_close(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    char junk[4096];

    shutdown(fd, SHUT_WR);
    while (poll(&p, 1, 2000) > 0 && read(fd, junk, sizeof(junk)) > 0)
        ;
}

static int
reply(int fd, struct gw_buf *b)
{
    ssize_t n = send(fd, gw_buf_data(b), gw_buf_len(b), MSG_NOSIGNAL);
    int rc = n == (ssize_t)gw_buf_len(b) ? 0 : -1;

    gw_buf_consume(b, gw_buf_len(b));
    return rc;
}

/* Handles one frame; -1 closes the connection. */
static int
on_frame(struct srv *s, int fd, const struct gw_native_frame *f, uint64_t *prev, int *nbatch,
         struct gw_native_scratch *scr, const struct gw_native_limits *lim)
{
    char err[GW_ERR_LEN];
    struct gw_native_batch b;
    struct gw_logrec r;
    struct gw_slice name;
    struct gw_buf out;
    uint64_t session;
    int code, kind, rc = 0;

    gw_buf_init(&out, 4096);
    if (f->type == GW_NATIVE_HELLO) {
        if (gw_native_hello_decode(f, &session, &name, err) < 0)
            return -1;
        pthread_mutex_lock(&s->mu);
        if (session != s->session) {
            /* One client at a time: a new session starts from nothing. */
            s->session = session;
            s->accepted = s->durable = 0;
        }
        gw_native_welcome_encode(&out, atomic_load(&s->welcome_zero) ? 0 : s->durable, lim);
        pthread_mutex_unlock(&s->mu);
        rc = reply(fd, &out);
    } else if (f->type == GW_NATIVE_BATCH) {
        if ((code = atomic_exchange(&s->error_code, 0)) != 0) {
            gw_native_error_encode(&out, f->seq, code, "test says no");
            reply(fd, &out);
            linger_close(fd);
            gw_buf_reset(&out);
            return -1;
        }
        pthread_mutex_lock(&s->mu);
        kind = gw_native_seq_check(*prev, s->accepted, f->seq);
        if (kind < 0 || gw_native_batch_open(&b, f, lim, scr, &code, err) < 0) {
            pthread_mutex_unlock(&s->mu);
            gw_native_error_encode(&out, f->seq, kind < 0 ? GW_NATIVE_E_SEQUENCE : code, err);
            reply(fd, &out);
            linger_close(fd);
            gw_buf_reset(&out);
            return -1;
        }
        *prev = f->seq;
        s->batches++;
        if (kind == GW_NATIVE_SEQ_NEW) {
            memset(&r, 0, sizeof(r));
            while (gw_native_batch_next(&b, &r))
                store(s, r.msg);
            s->accepted = s->durable = f->seq;
        } else {
            s->dups++;
        }
        pthread_mutex_unlock(&s->mu);
        if (++*nbatch == atomic_load(&s->drop_after) && atomic_load(&s->drops_left) > 0) {
            atomic_fetch_sub(&s->drops_left, 1);
            rc = -1;
        } else if (atomic_load(&s->ack)) {
            pthread_mutex_lock(&s->mu);
            gw_native_ack_encode(&out, s->durable);
            pthread_mutex_unlock(&s->mu);
            rc = reply(fd, &out);
        }
    } else {
        rc = -1;
    }
    gw_buf_reset(&out);
    return rc;
}

static void
serve(struct srv *s, int fd)
{
    struct gw_native_limits lim;
    struct gw_native_scratch scr;
    struct gw_native_frame f;
    char err[GW_ERR_LEN];
    struct pollfd p[2];
    struct gw_buf in;
    uint64_t prev = 0;
    int nbatch = 0, code, rc;
    size_t used;

    gw_native_limits_default(&lim);
    memset(&scr, 0, sizeof(scr));
    gw_buf_init(&in, GW_NATIVE_HDR_LEN + lim.max_payload);
    for (;;) {
        p[0].fd = fd;
        p[0].events = POLLIN;
        p[1].fd = s->stop[0];
        p[1].events = POLLIN;
        if (poll(p, 2, -1) < 0 || p[1].revents)
            break;
        if (gw_buf_read_fd(&in, fd, 65536) <= 0)
            break;
        while ((rc = gw_native_frame_decode(gw_buf_data(&in), gw_buf_len(&in), &lim, &f, &used,
                                            &code, err)) == 1) {
            if (on_frame(s, fd, &f, &prev, &nbatch, &scr, &lim) < 0)
                goto done;
            gw_buf_consume(&in, used);
        }
        if (rc < 0)
            break;
    }
done:
    close(fd);
    gw_buf_reset(&in);
    gw_native_scratch_free(&scr);
}

static void *
srv_main(void *arg)
{
    struct srv *s = arg;
    struct pollfd p[2];
    int fd;

    for (;;) {
        p[0].fd = s->lfd;
        p[0].events = POLLIN;
        p[1].fd = s->stop[0];
        p[1].events = POLLIN;
        if (poll(p, 2, -1) < 0 || p[1].revents)
            return NULL;
        if ((fd = gw_net_accept(s->lfd, NULL, NULL)) < 0)
            continue;
        gw_net_set_nonblock(fd, 0);
        pthread_mutex_lock(&s->mu);
        s->conns++;
        if (atomic_load(&s->drop_random))
            atomic_store(&s->drop_after, 1 + s->conns * 7919 % atomic_load(&s->drop_random));
        pthread_mutex_unlock(&s->mu);
        serve(s, fd);
    }
}

/* Starts a server on addr ("127.0.0.1:0" picks a port; "unix:/path"). */
static struct srv *
srv_start(const char *addr)
{
    struct srv *s = calloc(1, sizeof(*s));
    char err[GW_ERR_LEN];
    struct gw_addr a;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    pthread_mutex_init(&s->mu, NULL);
    atomic_store(&s->ack, 1);
    if (strncmp(addr, "unix:", 5) == 0) {
        s->lfd = gw_net_listen_unix(addr + 5, 0600, 0, err);
        snprintf(s->addr, sizeof(s->addr), "%s", addr);
    } else {
        gw_net_parse_addr(addr, GW_NET_ALLOW_PORT0, &a, err);
        s->lfd = gw_net_listen_tcp(&a, 0, 0, err);
        getsockname(s->lfd, (struct sockaddr *)&ss, &len);
        gw_net_addr_str((struct sockaddr *)&ss, len, s->addr, sizeof(s->addr));
    }
    if (s->lfd < 0 || pipe(s->stop) < 0) {
        diag("server: %s", err);
        exit(1);
    }
    pthread_create(&s->th, NULL, srv_main, s);
    return s;
}

static void
srv_stop(struct srv *s)
{
    (void)!write(s->stop[1], "x", 1);
    pthread_join(s->th, NULL);
    close(s->lfd);
    close(s->stop[0]);
    close(s->stop[1]);
    if (strncmp(s->addr, "unix:", 5) == 0)
        unlink(s->addr + 5);
    for (size_t i = 0; i < s->nmsgs; i++)
        free(s->msgs[i]);
    free(s->msgs);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* 1 when the server holds exactly "rec-0" .. "rec-(n-1)" in order. */
static int
got_all(struct srv *s, int n)
{
    char want[32];
    int same;

    pthread_mutex_lock(&s->mu);
    same = s->nmsgs == (size_t)n;
    for (int i = 0; same && i < n; i++) {
        size_t k = (size_t)snprintf(want, sizeof(want), "rec-%d", i);
        same = strncmp(s->msgs[i], want, k) == 0 && (s->msgs[i][k] == '\0' || s->msgs[i][k] == ' ');
    }
    if (!same)
        diag("server holds %zu messages", s->nmsgs);
    pthread_mutex_unlock(&s->mu);
    return same;
}

static struct gw_logclient *
client(const char *addr, size_t max_batch, uint32_t max_records, size_t max_pending, int block)
{
    struct gw_logclient_opts o;
    struct gw_logclient *c;
    char err[GW_ERR_LEN];

    gw_logclient_opts_default(&o);
    o.addr = addr;
    o.name = "unit-test";
    o.max_batch_bytes = max_batch;
    o.max_batch_records = max_records;
    o.max_pending_bytes = max_pending;
    o.block_when_full = block;
    o.add_timeout_ms = 200;
    o.ack_timeout_ms = 500;
    o.backoff_min_ms = 10;
    o.backoff_max_ms = 100;
    if ((c = gw_logclient_new(&o, err)) == NULL) {
        diag("client: %s", err);
        exit(1);
    }
    return c;
}

static int
add_n(struct gw_logclient *c, int from, int to)
{
    char err[GW_ERR_LEN], msg[32];

    for (int i = from; i < to; i++) {
        snprintf(msg, sizeof(msg), "rec-%d", i);
        if (gw_logclient_log(c, 6, "unit", msg, err) < 0) {
            diag("add %d: %s", i, err);
            return -1;
        }
    }
    return 0;
}

static void
test_basic(const char *addr, int zstd, const char *what)
{
    struct srv *s = srv_start(addr);
    struct gw_logclient_opts o;
    struct gw_logclient_stats st;
    struct gw_logclient *c;
    char err[GW_ERR_LEN];

    gw_logclient_opts_default(&o);
    o.addr = s->addr;
    o.max_batch_records = 100;
    o.zstd_level = zstd;
    c = gw_logclient_new(&o, err);
    is(add_n(c, 0, 1000), 0, "%s: 1000 records added", what);
    is(gw_logclient_flush(c, 10000, err), 0, "%s: flush returns once all are acknowledged", what);
    ok(got_all(s, 1000), "%s: server holds all 1000, in order, once", what);
    gw_logclient_stats(c, &st);
    ok(st.records_acked == 1000 && st.batches_acked == 10 && st.batches_sent == 10 &&
           st.pending_bytes == 0 && st.pending_batches == 0 && st.acked_seq == 10,
       "%s: stats: 10 batches of 100 sent and acknowledged, nothing pending", what);
    ok(st.connects == 1 && st.batches_resent == 0, "%s: one connection, no resends", what);
    is(gw_logclient_flush(c, 1000, err), 0, "%s: flush with nothing queued returns at once", what);
    gw_logclient_free(c);
    srv_stop(s);
}

static void
test_drop_and_resend(void)
{
    struct srv *s = srv_start("127.0.0.1:0");
    struct gw_logclient_stats st;
    struct gw_logclient *c;
    char err[GW_ERR_LEN];

    /* Three times, the server writes a batch and hangs up before acknowledging it. */
    atomic_store(&s->drop_after, 3);
    atomic_store(&s->drops_left, 3);
    c = client(s->addr, 4096, 50, 1 << 20, 1);
    add_n(c, 0, 1000);
    is(gw_logclient_flush(c, 10000, err), 0, "connection dropped 3 times: flush still succeeds");
    ok(got_all(s, 1000), "dropped connections: all 1000 delivered in order, none twice");
    gw_logclient_stats(c, &st);
    ok(st.connects == 4, "dropped connections: client reconnected 3 times (%llu connects)",
       (unsigned long long)st.connects);
    is(st.records_acked, 1000, "dropped connections: every record acknowledged");
    gw_logclient_free(c);
    srv_stop(s);

    /* The server forgets what is durable (WELCOME 0): the client resends batches it already
     * wrote, and the server's sequence rule keeps them from being written twice. */
    s = srv_start("127.0.0.1:0");
    atomic_store(&s->drop_after, 2);
    atomic_store(&s->drops_left, 2);
    atomic_store(&s->welcome_zero, 1);
    c = client(s->addr, 4096, 50, 1 << 20, 1);
    add_n(c, 0, 500);
    is(gw_logclient_flush(c, 10000, err), 0, "forgetful server: flush succeeds");
    ok(got_all(s, 500), "forgetful server: duplicates not written twice");
    gw_logclient_stats(c, &st);
    pthread_mutex_lock(&s->mu);
    ok(st.batches_resent > 0 && s->dups > 0,
       "forgetful server: batches were resent (%llu) and "
       "recognised as duplicates (%d)",
       (unsigned long long)st.batches_resent, s->dups);
    pthread_mutex_unlock(&s->mu);
    gw_logclient_free(c);
    srv_stop(s);
}

static void
test_errors(void)
{
    struct srv *s = srv_start("127.0.0.1:0");
    struct gw_logclient_stats st;
    struct gw_logclient *c;
    char err[GW_ERR_LEN];

    atomic_store(&s->error_code, GW_NATIVE_E_CRC);
    c = client(s->addr, 4096, 10, 1 << 20, 1);
    add_n(c, 0, 100);
    is(gw_logclient_flush(c, 10000, err), 0, "transient ERROR (bad_crc): resent, flush succeeds");
    ok(got_all(s, 100), "bad_crc: all 100 delivered once");
    gw_logclient_free(c);
    srv_stop(s);

    s = srv_start("127.0.0.1:0");
    atomic_store(&s->error_code, GW_NATIVE_E_RECORD);
    c = client(s->addr, 4096, 10, 1 << 20, 1);
    add_n(c, 0, 100);
    is(gw_logclient_flush(c, 10000, err), -1, "permanent ERROR (bad_record): flush reports it");
    is_str(err, "server refused 1 batch (10 records): bad_record: test says no",
           "bad_record: the reason names the batch and the server's text");
    gw_logclient_stats(c, &st);
    ok(st.batches_rejected == 1 && st.records_rejected == 10 && st.records_acked == 90,
       "bad_record: one batch dropped, the other 90 records acknowledged");
    pthread_mutex_lock(&s->mu);
    is(s->nmsgs, 90, "bad_record: server wrote nothing of the refused batch");
    pthread_mutex_unlock(&s->mu);
    is(gw_logclient_flush(c, 1000, err), 0, "the refusal is reported once");
    gw_logclient_free(c);
    srv_stop(s);
}

static void
test_bounded(void)
{
    struct srv *s = srv_start("127.0.0.1:0");
    struct gw_logclient_stats st;
    struct gw_logclient *c;
    char err[GW_ERR_LEN], msg[1000];
    int added = 0, within = 1;
    uint64_t t0;

    atomic_store(&s->ack, 0);
    memset(msg, 'x', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    c = client(s->addr, 8192, 1000, 65536, 0);
    gw_logclient_log(c, 6, "unit", msg, err);
    is(gw_logclient_send(c, 2000, err), 0, "send connects and writes the first batch");
    for (int i = 0; i < 1000; i++) {
        if (gw_logclient_log(c, 6, "unit", msg, err) < 0)
            break;
        added++;
        gw_logclient_stats(c, &st);
        if (st.pending_bytes > 65536)
            within = 0;
    }
    ok(added > 30 && added < 70, "silent server: adds stop after about 64 KiB (%d records)", added);
    ok(strncmp(err, "queue full (", 12) == 0, "non-blocking add fails with 'queue full' (%s)", err);
    ok(within, "pending bytes never passed max_pending_bytes");
    gw_logclient_free(c);

    c = client(s->addr, 8192, 1000, 65536, 1);
    t0 = gw_mono_ms();
    for (int i = 0; i < 1000; i++)
        if (gw_logclient_log(c, 6, "unit", msg, err) < 0)
            break;
    ok(strncmp(err, "queue full (", 12) == 0 && gw_mono_ms() - t0 >= 200,
       "blocking add waits add_timeout_ms, then fails");
    atomic_store(&s->ack, 1);
    is(gw_logclient_flush(c, 10000, err), 0,
       "once the server acknowledges again (after the ack timeout and a reconnect), flush "
       "succeeds");
    gw_logclient_stats(c, &st);
    ok(st.pending_bytes == 0 && st.connects >= 2, "all acknowledged, via a new connection");
    is(gw_logclient_log(c, 6, "unit", msg, err), 0, "room again after the acknowledgements");
    gw_logclient_free(c);
    srv_stop(s);
}

static void
test_late_server(void)
{
    char err[GW_ERR_LEN], addr[64];
    struct gw_logclient_stats st;
    struct gw_logclient *c;
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    struct srv *s;
    int fd;

    /* A port nobody listens on (yet). */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    getsockname(fd, (struct sockaddr *)&sin, &len);
    close(fd);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sin.sin_port));

    c = client(addr, 4096, 10, 1 << 20, 1);
    is(add_n(c, 0, 50), 0, "records queue while the server is down");
    is(gw_logclient_flush(c, 300, err), -1, "flush with the server down times out");
    ok(strstr(err, "timed out after 300 ms with 5 batches unacknowledged: connect") &&
           strstr(err, "Connection refused"),
       "and says why");
    diag("%s", err);
    gw_logclient_stats(c, &st);
    ok(st.connect_failures >= 2 && !st.connected, "it retried with backoff (%llu failures)",
       (unsigned long long)st.connect_failures);
    s = srv_start(addr);
    is(gw_logclient_flush(c, 10000, err), 0, "server up: the queued records go through");
    ok(got_all(s, 50), "late server: all 50 in order");
    gw_logclient_free(c);
    srv_stop(s);
}

static void
test_options(void)
{
    struct gw_logclient_opts o;
    struct gw_logclient *c;
    struct gw_logrec r;
    char err[GW_ERR_LEN], big[3000];

    gw_logclient_opts_default(&o);
    ok(gw_logclient_new(&o, err) == NULL && strcmp(err, "no address") == 0, "no address refused");
    o.addr = "127.0.0.1:99999";
    ok(gw_logclient_new(&o, err) == NULL, "bad port refused (%s)", err);
    o.addr = "127.0.0.1:5515";
    o.max_pending_bytes = o.max_batch_bytes;
    ok(gw_logclient_new(&o, err) == NULL, "max_pending_bytes below a batch refused");
    gw_logclient_opts_default(&o);
    o.addr = "/tmp/nowhere.sock";
    o.max_batch_bytes = 1024;
    o.max_pending_bytes = 1 << 20;
    c = gw_logclient_new(&o, err);
    ok(c != NULL, "a bare path is a unix socket");
    is(gw_logclient_log(c, 6, "bad app", "x", err), -1, "a bad record is refused at add");
    is_str(err, "bad record: app over 48 bytes or not printable US-ASCII", "bad record: reason");
    memset(&r, 0, sizeof(r));
    memset(big, 'b', sizeof(big));
    r.severity = 6;
    r.facility = -1;
    r.msg.ptr = big;
    r.msg.len = sizeof(big);
    is(gw_logclient_add(c, &r, err), 0, "a message over a batch is accepted");
    struct gw_logclient_stats st;
    gw_logclient_stats(c, &st);
    ok(st.records_truncated == 1 && st.pending_bytes <= 1024 + 64,
       "cut to fit one batch and counted");
    gw_logclient_free(c);
}

/* A caller that never waits (timeout 0, as a daemon's log thread polling its own loop) still
 * gets everything through, over many calls. */
static void
test_polling(void)
{
    struct srv *s = srv_start("127.0.0.1:0");
    struct gw_logclient *c;
    char err[GW_ERR_LEN];
    uint64_t deadline = gw_mono_ms() + 10000;
    int calls = 0, rc = -1;

    c = client(s->addr, 4096, 10, 1 << 20, 0);
    add_n(c, 0, 100);
    while (rc != 0 && gw_mono_ms() < deadline) {
        gw_logclient_send(c, 0, err);
        rc = gw_logclient_flush(c, 0, err);
        calls++;
    }
    is(rc, 0, "timeout 0: flush eventually succeeds (%d calls)", calls);
    ok(calls > 1, "timeout 0: no single call waited for everything");
    ok(got_all(s, 100), "timeout 0: all 100 delivered in order");
    gw_logclient_free(c);
    srv_stop(s);
}

/* Many drops at random points, batches of many sizes, half of them big enough to be cut in
 * the middle of a write: every record arrives once, in order. */
static void
test_stress(void)
{
    struct srv *s = srv_start("127.0.0.1:0");
    struct gw_logclient_stats st;
    struct gw_logclient *c;
    char err[GW_ERR_LEN] = "", msg[4200];
    unsigned rng = 12345;
    int n = 3000;

    atomic_store(&s->drop_random, 5);
    atomic_store(&s->drops_left, 40);
    c = client(s->addr, 32 * 1024, 200, 4u << 20, 1);
    for (int i = 0; i < n; i++) {
        int pad, k;
        rng = rng * 1103515245 + 12345;
        pad = (int)(rng >> 16) % 4000;
        k = snprintf(msg, sizeof(msg), "rec-%d ", i);
        memset(msg + k, 'a' + i % 26, (size_t)pad);
        msg[k + pad] = '\0';
        if (gw_logclient_log(c, 6, "stress", msg, err) < 0) {
            diag("add %d: %s", i, err);
            break;
        }
        if (i % 500 == 0)
            gw_logclient_send(c, 1000, err);
    }
    is(gw_logclient_flush(c, 30000, err), 0, "stress: flush succeeds through 40 drops (%s)", err);
    ok(got_all(s, n), "stress: all %d records, in order, once", n);
    gw_logclient_stats(c, &st);
    pthread_mutex_lock(&s->mu);
    ok(st.connects == 41 && s->conns == 41, "stress: 40 drops, 41 connections (%llu)",
       (unsigned long long)st.connects);
    pthread_mutex_unlock(&s->mu);
    gw_logclient_free(c);
    srv_stop(s);
}

int
main(void)
{
    char path[64];

    test_options();
    test_basic("127.0.0.1:0", 0, "tcp");
    test_basic("127.0.0.1:0", 3, "tcp+zstd");
    snprintf(path, sizeof(path), "unix:/tmp/gwlogclient-%d.sock", (int)getpid());
    test_basic(path, 0, "unix");
    test_drop_and_resend();
    test_errors();
    test_bounded();
    test_late_server();
    test_stress();
    test_polling();
    return done_testing();
}
