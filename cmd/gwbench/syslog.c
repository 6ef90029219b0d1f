/*
 * syslog.c -- `gwbench log --syslog udp|tcp`: fire-and-forget syslog load (RFC 5424 or RFC
 * 3164 lines; over TCP octet-counted or LF-framed, RFC 6587), with its own small sender and
 * report, apart from the request/reply engine: syslog has no replies, so there is no latency
 * to measure, only lines sent.
 *
 * Each of the threads owns its share of the sockets and writes as fast as they take lines
 * (closed loop) or at its share of -R on a fixed schedule (slot k of a thread due at
 * t0 + k / rate, going to socket k mod n). A thread waits in ppoll() for a full socket, a
 * connect, the next slot or a retry, never longer than 100 ms so a stop is seen soon.
 *
 * Every line of a run has the same length: the fields that vary (time, socket number, counter)
 * are fixed-width. So a TCP stream is a run of equal frames, and the lines a write() completed
 * follow from the byte count alone. Each line carries "c=SOCKET n=COUNTER", the counter
 * starting at 1 on each socket and growing by one per line, so whoever reads the collector's
 * output can check that nothing was lost or reordered. UDP sockets are connected and send
 * one line per datagram, up to BATCH datagrams per sendmmsg().
 *
 * At the end nothing new is encoded; a TCP frame cut by the last write() is completed (for at
 * most --timeout) so the collector never sees half a line, and the rest is dropped.
 */
#include "gwbench.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/errqueue.h>
#include <netinet/in.h>

#include "util.h"

#define DEFAULT_LINE_BYTES 256
#define UDP_MAX_LINE 65507 /* an IPv4 datagram's payload */
#define BUF_MAX (64 * 1024)
#define BUF_MIN (4 * 1024)
#define BUF_ALL (16 * 1024 * 1024) /* what all the sockets' buffers may take together */
#define BATCH 64
#define WAIT_MAX_NS 100000000ull
#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000
#define HOST "bench"
#define UDP_REFUSED "nothing listens on the UDP port (ICMP port unreachable)"
#define UDP_CHECK_NS 100000000ull
#define APP "gwbench"

enum { S_DOWN, S_CONNECTING, S_OPEN };

struct sconn {
    int fd, state, blocked;
    unsigned idx; /* the socket's number in the whole run, in each of its lines */
    unsigned backoff_ms;
    uint64_t retry_ns, connect_ns;
    uint64_t next_n;       /* counter of the next line to encode */
    uint64_t due, encoded; /* open loop: slots that came due, lines encoded for them */
    size_t partial;        /* TCP: bytes of the frame being written that are out already */
    size_t off, len;       /* buf[off, len): encoded, not yet written */
    char *buf;
};

struct sworker {
    const struct bench_opts *o;
    pthread_t tid;
    struct sconn *conns;
    unsigned nconns;
    struct pollfd *pfd;
    unsigned *pidx;
    double step_ns;
    uint64_t k_next, t_next;
    char stamp[32]; /* the current time in the line format, fixed width */
    int64_t stamp_ms;
    uint64_t udp_check_ns;
    struct bench_syslog_results res;
    _Atomic uint64_t prog_sent, prog_errs;
    char first_err[GW_ERR_LEN];
    int started;
};

/* The run's fixed line layout, made in bench_syslog_setup(). */
static struct {
    size_t line;     /* bytes of a line, framing excluded */
    size_t frame;    /* bytes on the wire per line */
    size_t prefix;   /* octet counting: "LEN " before each line */
    size_t stamp_at; /* offsets in the frame of the time, the socket number and the counter */
    size_t conn_at, n_at;
    size_t stamp_len;
    size_t buf_bytes; /* each socket's buffer: 16 MiB over the sockets, 4 to 64 KiB */
    char frame_tmpl[BENCH_MAX_REQUEST_BYTES + 16];
} L;

static struct {
    struct sworker *w;
    unsigned nworkers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, failed;
    atomic_int stop;
    atomic_uint ready, done;
    uint64_t t0, rec_from, end_ns, stop_ns;
} S;

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The time as the format writes it: 5424 "2026-12-06T04:37:28.123Z" (24 bytes), 3164
 * "Dec  6 04:37:28" (15 bytes). */
static size_t
stamp(int fmt, int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    if (fmt == 5424) {
        gw_time_rfc3339(ms, buf, len);
        return strlen(buf);
    }
    gmtime_r(&s, &tm);
    return (size_t)snprintf(buf, len, "%s %2d %02d:%02d:%02d", months[tm.tm_mon], tm.tm_mday,
                            tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int
bench_syslog_setup(struct bench_opts *o, char *err)
{
    char head[256], ts[32], *t = L.frame_tmpl;
    long want = o->size >= 0 ? o->size : DEFAULT_LINE_BYTES;
    size_t hlen, min, max = o->syslog == BENCH_SYSLOG_UDP ? UDP_MAX_LINE : BENCH_MAX_REQUEST_BYTES;
    int n;

    if (o->send_arg || o->expect_arg || o->hb_service || o->check)
        return gw_err(err, "--send, --expect, --hb-service and --check are not for syslog load");
    if (o->pipeline != 1)
        return gw_err(err, "--pipeline: syslog has no replies to wait for, nothing is in flight");
    if (o->idle)
        return gw_err(err, "--idle: not for syslog load");
    if (o->hist_out)
        return gw_err(err, "--hist-out: syslog has no replies, so no latency to write");
    if (o->syslog == BENCH_SYSLOG_UDP && o->syslog_framing)
        return gw_err(err, "--framing is for --syslog tcp (a UDP datagram is one line)");
    if (o->syslog_format == 0)
        o->syslog_format = 5424;
    if (o->syslog == BENCH_SYSLOG_TCP && o->syslog_framing == 0)
        o->syslog_framing = BENCH_FRAMING_OCTET;
    L.stamp_len = stamp(o->syslog_format, gw_wall_ms(), ts, sizeof(ts));
    /* user.info, as the native mode's records. */
    if (o->syslog_format == 5424)
        n = snprintf(head, sizeof(head), "<14>1 %s %s %s %d - - ", ts, HOST, APP, (int)getpid());
    else
        n = snprintf(head, sizeof(head), "<14>%s %s %s[%d]: ", ts, HOST, APP, (int)getpid());
    hlen = (size_t)n;
    min = hlen + strlen("c=0000000 n=000000000000");
    if (want < (long)min || (size_t)want > max)
        return gw_err(err,
                      "--size: %zu..%zu bytes for a syslog line (header and counter "
                      "included)",
                      min, max);
    L.line = (size_t)want;
    L.prefix =
        o->syslog_framing == BENCH_FRAMING_OCTET ? (size_t)snprintf(t, 16, "%zu ", L.line) : 0;
    memcpy(t + L.prefix, head, hlen);
    L.stamp_at = L.prefix + (o->syslog_format == 5424 ? 6 : 4);
    L.conn_at = L.prefix + hlen + 2;
    L.n_at = L.conn_at + 7 + 3;
    memcpy(t + L.prefix + hlen, "c=0000000 n=000000000000", min - hlen);
    memset(t + L.prefix + min, 'x', L.line - min);
    if (L.line > min)
        t[L.prefix + min] = ' ';
    L.frame = L.prefix + L.line;
    if (o->syslog_framing == BENCH_FRAMING_LF)
        t[L.frame++] = '\n';
    o->max_request_bytes = L.frame;
    L.buf_bytes = GW_MAX(BUF_MIN, GW_MIN(BUF_MAX, BUF_ALL / o->conns));
    return 0;
}

/* Writes v as width decimal digits, zero-padded (the top digits dropped past the width). */
static void
put_dec(char *p, uint64_t v, unsigned width)
{
    while (width-- > 0) {
        p[width] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* --- one socket ---------------------------------------------------------------------- */

static void
count_err(struct sworker *w, enum bench_err kind, const char *why)
{
    w->res.errors[kind]++;
    atomic_fetch_add_explicit(&w->prog_errs, 1, memory_order_relaxed);
    if (!w->first_err[0] && why)
        gw_strlcpy(w->first_err, why, sizeof(w->first_err));
}

/* Ends a connection; lines encoded and never started are given back to the counter, so the
 * only gap a collector sees is the frame the close cut. A retry follows the backoff. */
static void
conn_down(struct sworker *w, struct sconn *c, enum bench_err kind, const char *why, uint64_t now)
{
    size_t rest = c->len - c->off;

    if (c->partial)
        rest -= GW_MIN(rest, L.frame - c->partial);
    c->next_n -= rest / L.frame;
    if (w->o->rate > 0)
        c->encoded -= GW_MIN(c->encoded, rest / L.frame);
    if (c->fd != -1)
        close(c->fd);
    c->fd = -1;
    c->state = S_DOWN;
    c->blocked = 0;
    c->off = c->len = c->partial = 0;
    count_err(w, kind, why);
    c->backoff_ms = c->backoff_ms ? GW_MIN(c->backoff_ms * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
    c->retry_ns = now + (uint64_t)c->backoff_ms * 1000000u;
}

static void
conn_open(struct sworker *w, struct sconn *c, uint64_t now)
{
    const struct bench_opts *o = w->o;
    char err[GW_ERR_LEN];
    int inprog = 0, one = 1;

    if (o->syslog == BENCH_SYSLOG_UDP) {
        c->fd = socket(o->addr.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd == -1 ||
            setsockopt(c->fd, o->addr.ss.ss_family == AF_INET6 ? SOL_IPV6 : SOL_IP,
                       o->addr.ss.ss_family == AF_INET6 ? IPV6_RECVERR : IP_RECVERR, &one,
                       sizeof(one)) == -1 ||
            connect(c->fd, (const struct sockaddr *)&o->addr.ss, o->addr.len) == -1) {
            gw_err_errno(err, "udp socket");
            conn_down(w, c, BENCH_ERR_CONNECT, err, now);
            return;
        }
    } else if ((c->fd = gw_net_connect(&o->addr, &inprog, err)) == -1) {
        conn_down(w, c, BENCH_ERR_CONNECT, err, now);
        return;
    }
    c->state = inprog ? S_CONNECTING : S_OPEN;
    c->connect_ns = now;
    if (!inprog)
        w->res.connected++;
}

static void
conn_connected(struct sworker *w, struct sconn *c, uint64_t now)
{
    char err[GW_ERR_LEN];

    if (gw_net_connect_result(c->fd, err) == -1) {
        conn_down(w, c, BENCH_ERR_CONNECT, err, now);
        return;
    }
    c->state = S_OPEN;
    c->blocked = 0;
    w->res.connected++;
}

/* Encodes up to max lines into the socket's buffer; returns how many. */
static uint64_t
encode(struct sworker *w, struct sconn *c, uint64_t max)
{
    uint64_t n = 0;
    char *p;

    if (c->off > 0) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    /* The buffer holds L.buf_bytes and one frame more: a frame of any size fits alone. */
    while (n < max && (c->len == 0 || c->len + L.frame <= L.buf_bytes)) {
        p = c->buf + c->len;
        memcpy(p, L.frame_tmpl, L.frame);
        memcpy(p + L.stamp_at, w->stamp, L.stamp_len);
        put_dec(p + L.conn_at, c->idx, 7);
        put_dec(p + L.n_at, c->next_n++, 12);
        c->len += L.frame;
        n++;
    }
    return n;
}

/* Lines completed at now: counted in the run, and in the window when now is inside it. */
static void
count_sent(struct sworker *w, uint64_t lines, uint64_t now)
{
    w->res.sent_total += lines;
    if (now >= S.rec_from && now < S.end_ns) {
        w->res.sent += lines;
        atomic_fetch_add_explicit(&w->prog_sent, lines, memory_order_relaxed);
    }
}

static void
write_tcp(struct sworker *w, struct sconn *c, uint64_t now)
{
    ssize_t n;

    do
        n = write(c->fd, c->buf + c->off, c->len - c->off);
    while (n == -1 && errno == EINTR);
    if (n == -1) {
        if (errno == EAGAIN)
            c->blocked = 1;
        else
            conn_down(w, c, BENCH_ERR_CLOSED, strerror(errno), now);
        return;
    }
    c->off += (size_t)n;
    count_sent(w, (c->partial + (size_t)n) / L.frame, now);
    c->partial = (c->partial + (size_t)n) % L.frame;
    if (c->off < c->len)
        c->blocked = 1;
}

static void
write_udp(struct sworker *w, struct sconn *c, uint64_t now)
{
    struct mmsghdr m[BATCH];
    struct iovec iov[BATCH];
    unsigned k = 0;
    int n;

    memset(m, 0, sizeof(m));
    for (size_t at = c->off; at < c->len && k < BATCH; at += L.frame, k++) {
        iov[k].iov_base = c->buf + at;
        iov[k].iov_len = L.frame;
        m[k].msg_hdr.msg_iov = &iov[k];
        m[k].msg_hdr.msg_iovlen = 1;
    }
    do
        n = sendmmsg(c->fd, m, k, MSG_DONTWAIT);
    while (n == -1 && errno == EINTR);
    if (n == -1) {
        if (errno == EAGAIN || errno == ENOBUFS)
            c->blocked = 1;
        else if (errno == ECONNREFUSED)
            c->blocked = 0; /* the error queue has it: check_udp() counts it */
        else
            conn_down(w, c, BENCH_ERR_CLOSED, strerror(errno), now);
        return;
    }
    c->off += (size_t)n * L.frame;
    count_sent(w, (uint64_t)n, now);
    if ((unsigned)n < k)
        c->blocked = 1;
}

static void
conn_write(struct sworker *w, struct sconn *c, uint64_t now)
{
    if (w->o->syslog == BENCH_SYSLOG_UDP)
        write_udp(w, c, now);
    else
        write_tcp(w, c, now);
    if (c->state == S_OPEN && c->off == c->len)
        c->off = c->len = 0;
}

/* --- a worker ------------------------------------------------------------------------ */

static void
refresh_stamp(struct sworker *w)
{
    int64_t ms = gw_wall_ms();
    char ts[32];

    /* 5424 carries milliseconds, 3164 seconds. */
    if (ms / (w->o->syslog_format == 5424 ? 1 : 1000) ==
        w->stamp_ms / (w->o->syslog_format == 5424 ? 1 : 1000))
        return;
    w->stamp_ms = ms;
    if (stamp(w->o->syslog_format, ms, ts, sizeof(ts)) == L.stamp_len)
        memcpy(w->stamp, ts, L.stamp_len);
}

/* Open loop: the slots that came due by now go to their sockets. */
static void
schedule(struct sworker *w, uint64_t now)
{
    uint64_t limit = GW_MIN(now, S.end_ns);

    while (w->t_next <= limit) {
        if (w->t_next >= S.rec_from)
            w->res.scheduled++;
        w->conns[w->k_next % w->nconns].due++;
        w->k_next++;
        w->t_next = S.t0 + (uint64_t)((double)w->k_next * w->step_ns);
    }
}

/* A UDP collector that is not there answers with ICMP port unreachable, which a send reports
 * only now and then: sendmmsg() drops the error when it sent some datagrams before. With
 * IP_RECVERR each one waits on the socket's error queue instead, read every UDP_CHECK_NS; a
 * check that finds any counts one connect error. */
static void
check_udp(struct sworker *w, uint64_t now)
{
    char data[64], ctl[512];
    struct iovec iov = {data, sizeof(data)};
    struct msghdr m;
    struct cmsghdr *cm;
    struct sock_extended_err ee;
    int refused;

    if (w->o->syslog != BENCH_SYSLOG_UDP || now - w->udp_check_ns < UDP_CHECK_NS)
        return;
    w->udp_check_ns = now;
    for (unsigned i = 0; i < w->nconns; i++) {
        refused = 0;
        for (unsigned k = 0; w->conns[i].state == S_OPEN && k < 64; k++) {
            memset(&m, 0, sizeof(m));
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = ctl;
            m.msg_controllen = sizeof(ctl);
            if (recvmsg(w->conns[i].fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) == -1)
                break;
            for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
                if ((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
                    (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)) {
                    memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
                    refused |= ee.ee_errno == ECONNREFUSED;
                }
            }
        }
        if (refused)
            count_err(w, BENCH_ERR_CONNECT, UDP_REFUSED);
    }
}

/* One pass over the sockets: retries, then lines where the socket takes them. */
static void
pass(struct sworker *w, uint64_t now)
{
    struct sconn *c;
    uint64_t want;

    refresh_stamp(w);
    check_udp(w, now);
    for (unsigned i = 0; i < w->nconns; i++) {
        c = &w->conns[i];
        if (c->state == S_DOWN && now >= c->retry_ns)
            conn_open(w, c, now);
        if (c->state != S_OPEN || c->blocked)
            continue;
        want = w->o->rate > 0 ? c->due - c->encoded : UINT64_MAX;
        if (now < S.end_ns && want > 0)
            c->encoded += encode(w, c, want);
        if (c->len > c->off)
            conn_write(w, c, now);
    }
}

/* Waits for a full socket to drain, a connect to finish, a retry, or until; at most
 * WAIT_MAX_NS. */
static void
wait_io(struct sworker *w, uint64_t now, uint64_t until)
{
    struct timespec ts;
    uint64_t wait_ns;
    unsigned np = 0;
    struct sconn *c;
    int n;

    for (unsigned i = 0; i < w->nconns; i++) {
        c = &w->conns[i];
        if (c->state == S_CONNECTING || (c->state == S_OPEN && c->blocked)) {
            w->pfd[np] = (struct pollfd){.fd = c->fd, .events = POLLOUT};
            w->pidx[np++] = i;
        } else if (c->state == S_DOWN && c->retry_ns < until) {
            until = c->retry_ns;
        }
    }
    wait_ns = until > now ? GW_MIN(until - now, WAIT_MAX_NS) : 0;
    ts.tv_sec = (time_t)(wait_ns / 1000000000u);
    ts.tv_nsec = (long)(wait_ns % 1000000000u);
    if ((n = ppoll(w->pfd, np, &ts, NULL)) <= 0)
        return;
    now = gw_mono_ns();
    for (unsigned j = 0; j < np; j++) {
        if (!w->pfd[j].revents)
            continue;
        c = &w->conns[w->pidx[j]];
        if (c->state == S_CONNECTING)
            conn_connected(w, c, now);
        else
            c->blocked = 0;
    }
}

/* Connect timeouts: a connect still in progress after --timeout is a connect error. */
static void
check_connects(struct sworker *w, uint64_t now)
{
    uint64_t limit = w->o->timeout_ms * 1000000u;

    for (unsigned i = 0; i < w->nconns; i++)
        if (w->conns[i].state == S_CONNECTING && now - w->conns[i].connect_ns > limit)
            conn_down(w, &w->conns[i], BENCH_ERR_CONNECT, "connect timed out", now);
}

static void
connect_phase(struct sworker *w)
{
    uint64_t now = gw_mono_ns(), t_end = now + w->o->timeout_ms * 1000000u;
    unsigned pending;

    for (unsigned i = 0; i < w->nconns; i++)
        conn_open(w, &w->conns[i], now);
    do {
        pending = 0;
        for (unsigned i = 0; i < w->nconns; i++)
            pending += w->conns[i].state == S_CONNECTING;
        if (pending == 0 || atomic_load(&S.stop))
            break;
        wait_io(w, now, t_end);
        now = gw_mono_ns();
        check_connects(w, now);
    } while (now < t_end);
}

/* At the end: completes the frame the last write() cut, drops the lines behind it. */
static void
finish(struct sworker *w)
{
    uint64_t now = gw_mono_ns(), until = now + w->o->timeout_ms * 1000000u;
    struct sconn *c;
    unsigned left;

    for (unsigned i = 0; i < w->nconns; i++) {
        c = &w->conns[i];
        c->len = c->state == S_OPEN && c->partial ? c->off + (L.frame - c->partial) : c->off;
        c->blocked = 0;
    }
    for (;;) {
        left = 0;
        for (unsigned i = 0; i < w->nconns; i++) {
            c = &w->conns[i];
            if (c->state == S_OPEN && !c->blocked && c->len > c->off)
                conn_write(w, c, now);
            left += c->state == S_OPEN && c->len > c->off;
        }
        if (left == 0 || (now = gw_mono_ns()) >= until)
            break;
        wait_io(w, now, until);
    }
    for (unsigned i = 0; i < w->nconns; i++) {
        c = &w->conns[i];
        if (c->state == S_OPEN && c->len > c->off)
            count_err(w, BENCH_ERR_TIMEOUT, "the last frame could not be sent in time");
        if (c->fd != -1)
            close(c->fd);
        c->fd = -1;
    }
}

static void *
worker_main(void *arg)
{
    struct sworker *w = arg;
    uint64_t now, until;
    int busy;

    connect_phase(w);
    for (unsigned i = 0; i < w->nconns; i++)
        w->res.open += w->conns[i].state == S_OPEN;
    atomic_fetch_add(&S.ready, 1);
    pthread_mutex_lock(&S.mu);
    while (!S.started && !atomic_load(&S.stop))
        pthread_cond_wait(&S.cv, &S.mu);
    w->started = S.started;
    pthread_mutex_unlock(&S.mu);
    w->t_next = S.t0;
    while (w->started && !atomic_load_explicit(&S.stop, memory_order_relaxed) &&
           (now = gw_mono_ns()) < S.end_ns) {
        if (w->o->rate > 0)
            schedule(w, now);
        pass(w, now);
        check_connects(w, now);
        busy = 0;
        for (unsigned i = 0; i < w->nconns; i++)
            busy |= w->conns[i].state == S_OPEN && !w->conns[i].blocked &&
                    (w->o->rate <= 0 || w->conns[i].due > w->conns[i].encoded ||
                     w->conns[i].len > w->conns[i].off);
        if (busy)
            continue;
        until = w->o->rate > 0 ? GW_MIN(w->t_next, S.end_ns) : S.end_ns;
        wait_io(w, now, until);
    }
    finish(w);
    atomic_fetch_add(&S.done, 1);
    return NULL;
}

/* --- the run ------------------------------------------------------------------------- */

static int
workers_init(const struct bench_opts *o, char *err)
{
    unsigned share = o->conns / o->threads, extra = o->conns % o->threads, idx = 0;
    struct sworker *w;

    if ((S.w = calloc(o->threads, sizeof(*S.w))) == NULL)
        return gw_err(err, "out of memory");
    for (unsigned i = 0; i < o->threads; i++) {
        w = &S.w[i];
        w->o = o;
        w->nconns = share + (i < extra);
        w->conns = calloc(w->nconns, sizeof(*w->conns));
        w->pfd = calloc(w->nconns, sizeof(*w->pfd));
        w->pidx = calloc(w->nconns, sizeof(*w->pidx));
        if (!w->conns || !w->pfd || !w->pidx)
            return gw_err(err, "out of memory for %u connections", w->nconns);
        for (unsigned j = 0; j < w->nconns; j++) {
            w->conns[j] = (struct sconn){.fd = -1, .idx = idx++, .next_n = 1};
            if ((w->conns[j].buf = malloc(L.buf_bytes + L.frame)) == NULL)
                return gw_err(err, "out of memory for %u connections", w->nconns);
        }
        if (o->rate > 0)
            w->step_ns = 1e9 * (double)o->conns / (o->rate * (double)w->nconns);
        w->stamp_ms = -1;
    }
    return 0;
}

static void
workers_free(void)
{
    for (unsigned i = 0; S.w && i < S.nworkers; i++) {
        for (unsigned j = 0; S.w[i].conns && j < S.w[i].nconns; j++)
            free(S.w[i].conns[j].buf);
        free(S.w[i].conns);
        free(S.w[i].pfd);
        free(S.w[i].pidx);
    }
    free(S.w);
    S.w = NULL;
}

static void
start_clock(const struct bench_opts *o)
{
    pthread_mutex_lock(&S.mu);
    S.t0 = gw_mono_ns();
    S.rec_from = S.t0 + o->warmup_ms * 1000000u;
    S.end_ns = S.rec_from + o->duration_ms * 1000000u;
    S.started = 1;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
}

static void
stop_all(void)
{
    if (!S.stop_ns)
        S.stop_ns = gw_mono_ns();
    pthread_mutex_lock(&S.mu);
    atomic_store(&S.stop, 1);
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
}

static void
progress(const struct bench_opts *o, uint64_t *last_ns, uint64_t *last_sent)
{
    uint64_t now = gw_mono_ns(), sent = 0, errs = 0;

    if (!o->progress || now - *last_ns < 1000000000u)
        return;
    for (unsigned i = 0; i < S.nworkers; i++) {
        sent += atomic_load_explicit(&S.w[i].prog_sent, memory_order_relaxed);
        errs += atomic_load_explicit(&S.w[i].prog_errs, memory_order_relaxed);
    }
    fprintf(stderr, "[%5.1fs] %llu lines sent, %.0f/s, %llu errors\n", (double)(now - S.t0) / 1e9,
            (unsigned long long)sent, (double)(sent - *last_sent) * 1e9 / (double)(now - *last_ns),
            (unsigned long long)errs);
    *last_ns = now;
    *last_sent = sent;
}

/* The main thread: waits for the workers (taking SIGINT and SIGTERM as a stop), starts the
 * clock once every worker has connected, prints the progress line. */
static void
supervise(const struct bench_opts *o, const sigset_t *sigs)
{
    const struct timespec tick = {0, 100000000};
    uint64_t last_ns = 0, last_sent = 0, open;

    while (atomic_load(&S.done) < S.nworkers) {
        if (sigtimedwait(sigs, NULL, &tick) > 0)
            stop_all();
        if (!S.started && !atomic_load(&S.stop) && atomic_load(&S.ready) == S.nworkers) {
            open = 0;
            for (unsigned i = 0; i < S.nworkers; i++)
                open += S.w[i].res.open;
            if (open == 0) {
                S.failed = 1;
                stop_all();
                continue;
            }
            start_clock(o);
            last_ns = S.t0;
        }
        if (S.started)
            progress(o, &last_ns, &last_sent);
    }
}

static int
run(const struct bench_opts *o, struct bench_syslog_results *res, double *elapsed_s, char *err)
{
    sigset_t sigs;
    uint64_t end;
    unsigned i;
    int rc = 0;

    memset(&S, 0, sizeof(S));
    pthread_mutex_init(&S.mu, NULL);
    pthread_cond_init(&S.cv, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    S.nworkers = o->threads;
    if (workers_init(o, err) == -1) {
        rc = -1;
        goto out;
    }
    for (i = 0; i < o->threads; i++) {
        if (pthread_create(&S.w[i].tid, NULL, worker_main, &S.w[i]) != 0) {
            S.nworkers = i;
            stop_all();
            rc = gw_err(err, "cannot start thread %u", i);
            break;
        }
    }
    if (rc == 0)
        supervise(o, &sigs);
    for (i = 0; i < S.nworkers; i++)
        pthread_join(S.w[i].tid, NULL);
    S.nworkers = o->threads;
    memset(res, 0, sizeof(*res));
    for (i = 0; rc == 0 && i < o->threads; i++) {
        res->sent += S.w[i].res.sent;
        res->sent_total += S.w[i].res.sent_total;
        res->scheduled += S.w[i].res.scheduled;
        res->connected += S.w[i].res.connected;
        res->open += S.w[i].res.open;
        for (unsigned k = 0; k < BENCH_ERR_COUNT; k++)
            res->errors[k] += S.w[i].res.errors[k];
    }
    if (rc == 0 && !S.started && !S.failed)
        rc = gw_err(err, "stopped before the start");
    if (rc == 0 && S.failed) {
        for (i = 0; i < o->threads && !S.w[i].first_err[0]; i++)
            ;
        rc = gw_err(err, "cannot connect to %s: %s", o->target,
                    i < o->threads ? S.w[i].first_err : "no connection succeeded");
    }
    end = S.stop_ns && S.stop_ns < S.end_ns ? S.stop_ns : S.end_ns;
    *elapsed_s = S.started && end > S.rec_from ? (double)(end - S.rec_from) / 1e9 : 0;
out:
    workers_free();
    pthread_mutex_destroy(&S.mu);
    pthread_cond_destroy(&S.cv);
    return rc;
}

/* --- the report ---------------------------------------------------------------------- */

static const char *
transport_name(const struct bench_opts *o)
{
    return o->syslog == BENCH_SYSLOG_UDP ? "udp" : "tcp";
}

static const char *
framing_name(const struct bench_opts *o)
{
    return o->syslog_framing == BENCH_FRAMING_OCTET ? "octet"
           : o->syslog_framing == BENCH_FRAMING_LF  ? "lf"
                                                    : NULL;
}

static uint64_t
err_total(const struct bench_syslog_results *r)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < BENCH_ERR_COUNT; i++)
        n += r->errors[i];
    return n;
}

static void
report_text(const struct bench_opts *o, const struct bench_syslog_results *r, double secs)
{
    double rate = secs > 0 ? (double)r->sent / secs : 0;

    printf("gwbench log --syslog %s %s: %u connections, %u threads, %.2fs, ", transport_name(o),
           o->target, o->conns, o->threads, secs);
    if (o->rate > 0)
        printf("open loop at %.0f lines/s\n", o->rate);
    else
        printf("closed loop (as fast as the sockets take lines)\n");
    printf("  lines      RFC %d, %zu bytes each, %s (%zu bytes a frame)\n", o->syslog_format,
           L.line,
           o->syslog == BENCH_SYSLOG_UDP           ? "one a datagram"
           : o->syslog_framing == BENCH_FRAMING_LF ? "LF framing"
                                                   : "octet counting",
           L.frame);
    printf("  sent       %llu lines, %.1f/s, %.2f MB/s (%llu in all%s", (unsigned long long)r->sent,
           rate, rate * (double)L.frame / 1e6, (unsigned long long)r->sent_total,
           o->warmup_ms ? ", the warm-up's too" : "");
    if (o->rate > 0 && r->scheduled > r->sent)
        printf("; %llu scheduled never sent", (unsigned long long)(r->scheduled - r->sent));
    printf(")\n");
    printf("  latency    none: syslog has no replies; count the lines the server wrote\n");
    printf("  errors     ");
    if (err_total(r) == 0) {
        printf("none\n");
    } else {
        for (unsigned i = 0; i < BENCH_ERR_COUNT; i++)
            printf("%s%s %llu", i ? ", " : "", bench_err_name((enum bench_err)i),
                   (unsigned long long)r->errors[i]);
        printf("\n");
    }
    fflush(stdout);
}

static void
report_json(const struct bench_opts *o, const struct bench_syslog_results *r, double secs)
{
    json_t *root = json_object(), *errs = json_object();
    const char *fr = framing_name(o);

    for (unsigned i = 0; i < BENCH_ERR_COUNT; i++)
        json_object_set_new(errs, bench_err_name((enum bench_err)i),
                            json_integer((json_int_t)r->errors[i]));
    json_object_set_new(root, "mode", json_string("log"));
    json_object_set_new(root, "syslog", json_string(transport_name(o)));
    json_object_set_new(root, "format", json_integer(o->syslog_format));
    json_object_set_new(root, "framing", fr ? json_string(fr) : json_null());
    json_object_set_new(root, "target", json_string(o->target));
    json_object_set_new(root, "connections", json_integer(o->conns));
    json_object_set_new(root, "threads", json_integer(o->threads));
    json_object_set_new(root, "duration_s", json_real(secs));
    json_object_set_new(root, "warmup_s", json_real((double)o->warmup_ms / 1e3));
    json_object_set_new(root, "rate_target", o->rate > 0 ? json_real(o->rate) : json_null());
    json_object_set_new(root, "line_bytes", json_integer((json_int_t)L.line));
    json_object_set_new(root, "frame_bytes", json_integer((json_int_t)L.frame));
    json_object_set_new(root, "sent", json_integer((json_int_t)r->sent));
    json_object_set_new(root, "sent_total", json_integer((json_int_t)r->sent_total));
    json_object_set_new(root, "scheduled",
                        o->rate > 0 ? json_integer((json_int_t)r->scheduled) : json_null());
    json_object_set_new(root, "rate", json_real(secs > 0 ? (double)r->sent / secs : 0));
    json_object_set_new(root, "bytes", json_integer((json_int_t)(r->sent * L.frame)));
    json_object_set_new(root, "errors", errs);
    json_object_set_new(root, "error_total", json_integer((json_int_t)err_total(r)));
    json_object_set_new(root, "connected", json_integer((json_int_t)r->connected));
    json_object_set_new(root, "latency_us", json_null());
    json_object_set_new(root, "note", json_string("syslog has no replies: no latency"));
    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    printf("\n");
    fflush(stdout);
    json_decref(root);
}

int
bench_syslog_main(const struct bench_opts *o)
{
    static struct bench_syslog_results res;
    char err[GW_ERR_LEN];
    double secs = 0;

    if (run(o, &res, &secs, err) == -1) {
        fprintf(stderr, "gwbench: %s\n", err);
        return 1;
    }
    if (o->json)
        report_json(o, &res, secs);
    else
        report_text(o, &res, secs);
    return err_total(&res) || res.sent_total == 0 ? 1 : 0;
}
