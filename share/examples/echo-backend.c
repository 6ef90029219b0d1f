/*
 * echo-backend.c -- an example wsgwd backend: speaks the version-1 frame protocol (lib/frame.h)
 * to any number of gateways with plain poll(), echoes each client's messages back to it, and
 * can broadcast a message to every client now and then.
 *
 *   echo-backend [--broadcast-every MS] [--name NAME] HOST:PORT
 *
 * Start here when writing a backend: a gateway connects, both sides send HELLO, then the
 * gateway sends OPEN when a WebSocket client arrives, DATA for each of its messages and CLOSE
 * when it leaves. The backend answers with DATA (client 0 = every client) and may send CLOSE.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "buf.h"
#include "frame.h"
#include "log.h"
#include "net.h"

#define MAX_GATEWAYS 64
/* Stop reading a gateway while this much output waits for it; drop it past the hard limit. */
#define OUT_HIGH_WATER (4u << 20)
#define OUT_MAX (64u << 20)

struct gateway {
    int fd;
    int hello_done;
    uint32_t backend_id; /* our id in the gateway's numbering, from its HELLO */
    char addr[GW_ADDR_STRLEN];
    struct gw_frame_dec in;
    struct gw_buf out;
};

static struct gateway gws[MAX_GATEWAYS];
static int ngws;
static const char *name = "echo";

static void
drop(struct gateway *g, const char *why)
{
    GW_LOG_INFO("gateway gone", "gateway=%s why=%s", g->addr, why);
    close(g->fd);
    gw_frame_dec_reset(&g->in);
    gw_buf_reset(&g->out);
    *g = gws[--ngws];
}

static void
accept_gateways(int lfd)
{
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    struct gateway *g;
    int fd;

    while ((fd = gw_net_accept(lfd, &peer, &len)) >= 0) {
        if (ngws == MAX_GATEWAYS) {
            GW_LOG_WARN("too many gateways", "max=%d", MAX_GATEWAYS);
            close(fd);
            continue;
        }
        g = &gws[ngws++];
        memset(g, 0, sizeof(*g));
        g->fd = fd;
        gw_net_addr_str((struct sockaddr *)&peer, len, g->addr, sizeof(g->addr));
        gw_frame_dec_init(&g->in, GW_FRAME_MAX_DEFAULT, 0);
        gw_buf_init(&g->out, OUT_MAX);
        GW_LOG_INFO("gateway connected", "gateway=%s", g->addr);
        len = sizeof(peer);
    }
}

/* Answers the gateway's HELLO with ours; -1 when its version is not ours. */
static int
on_hello(struct gateway *g, const struct gw_frame *f)
{
    struct gw_frame_hello h;
    char err[GW_ERR_LEN];

    if (gw_frame_hello_parse(f->payload, f->hdr.length, &h, err) != GW_FRAME_OK) {
        /* Tell the gateway why (best effort: one write), then hang up. */
        GW_LOG_WARN("hello refused", "gateway=%s err=%s", g->addr, err);
        gw_frame_append_close(&g->out, 0, f->hdr.backend, 1002, err, NULL);
        gw_buf_write_fd(&g->out, g->fd);
        return -1;
    }
    g->hello_done = 1;
    g->backend_id = f->hdr.backend;
    GW_LOG_INFO("gateway hello", "gateway=%s id=%s as=%s backend_id=%u", g->addr, h.gateway,
                h.backend, g->backend_id);
    return gw_frame_append_hello(&g->out, g->backend_id, h.gateway, name, err);
}

static void
on_open(struct gateway *g, const struct gw_frame *f)
{
    char err[GW_ERR_LEN];
    json_t *o = gw_frame_open_parse(f->payload, f->hdr.length, err);
    json_t *sub = json_object_get(o, "subprotocol");

    if (o == NULL) {
        GW_LOG_WARN("bad open", "gateway=%s client=%u err=%s", g->addr, f->hdr.client, err);
        return;
    }
    GW_LOG_INFO("client open", "client=%u remote=%s path=%s subprotocol=%s gateway=%s",
                f->hdr.client, json_string_value(json_object_get(o, "remote")),
                json_string_value(json_object_get(o, "path")),
                json_is_string(sub) ? json_string_value(sub) : "", g->addr);
    json_decref(o);
}

/* Handles one frame; -1 drops the gateway. */
static int
on_frame(struct gateway *g, const struct gw_frame *f)
{
    char reason[GW_FRAME_CLOSE_REASON_MAX + 1];
    unsigned code;

    if (!g->hello_done && f->hdr.type != GW_FRAME_HELLO) {
        GW_LOG_WARN("bad frame", "gateway=%s reason=no_hello type=%s", g->addr,
                    gw_frame_type_name(f->hdr.type));
        return -1;
    }
    switch (f->hdr.type) {
    case GW_FRAME_HELLO:
        return on_hello(g, f);
    case GW_FRAME_PING:
        return gw_frame_append_ping(&g->out, GW_FRAME_PONG, g->backend_id, f->payload,
                                    f->hdr.length);
    case GW_FRAME_OPEN:
        on_open(g, f);
        return 0;
    case GW_FRAME_CLOSE:
        gw_frame_close_parse(f, &code, reason);
        if (f->hdr.client == 0) {
            GW_LOG_INFO("gateway closing", "gateway=%s code=%u reason=%s", g->addr, code, reason);
            return -1;
        }
        GW_LOG_INFO("client close", "client=%u code=%u reason=%s gateway=%s", f->hdr.client, code,
                    reason, g->addr);
        return 0;
    case GW_FRAME_DATA:
        /* The echo: same client, class and text flag. */
        return gw_frame_append_data(&g->out, f->hdr.client, g->backend_id, f->hdr.cls,
                                    f->hdr.flags & GW_FRAME_FLAG_TEXT, f->payload, f->hdr.length);
    default: /* PONG; JOIN, LEAVE and ROOM only go from backends to gateways */
        return 0;
    }
}

static void
read_gateway(struct gateway *g)
{
    static uint8_t buf[64 * 1024];
    struct gw_frame f;
    size_t used, off = 0;
    ssize_t n = read(g->fd, buf, sizeof(buf));
    int rc;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (gw_frame_dec_eof(&g->in) == -1)
            GW_LOG_WARN("bad frame", "gateway=%s reason=%s err=%s", g->addr,
                        gw_frame_error_name(g->in.error), g->in.err);
        drop(g, n == 0 ? "eof" : "read error");
        return;
    }
    while (off < (size_t)n) {
        rc = gw_frame_dec_feed(&g->in, buf + off, (size_t)n - off, &used, &f);
        off += used;
        if (rc < 0) {
            GW_LOG_WARN("bad frame", "gateway=%s reason=%s err=%s", g->addr,
                        gw_frame_error_name(g->in.error), g->in.err);
            drop(g, "bad frame");
            return;
        }
        if (rc == 1 && on_frame(g, &f) == -1) {
            drop(g, gw_buf_len(&g->out) >= OUT_HIGH_WATER ? "output full" : "protocol");
            return;
        }
    }
}

static void
broadcast(void)
{
    static unsigned long seq;
    char msg[GW_FRAME_NAME_MAX + 64];
    int len = snprintf(msg, sizeof(msg), "broadcast %lu from %s", ++seq, name);

    for (int i = 0; i < ngws; i++)
        if (gws[i].hello_done)
            gw_frame_append_data(&gws[i].out, 0, gws[i].backend_id, GW_FRAME_CONTROL, 1, msg,
                                 (size_t)len);
}

/* One poll() round over the listener, the signals and every gateway. Returns 1 on a signal. */
static int
poll_once(int lfd, int sfd, int timeout_ms)
{
    struct pollfd p[MAX_GATEWAYS + 2];
    int n = ngws;

    p[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
    p[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
    for (int i = 0; i < n; i++) {
        p[i + 2].fd = gws[i].fd;
        p[i + 2].events = (gw_buf_len(&gws[i].out) < OUT_HIGH_WATER ? POLLIN : 0) |
                          (gw_buf_len(&gws[i].out) ? POLLOUT : 0);
    }
    if (poll(p, (nfds_t)n + 2, timeout_ms) < 0)
        return 0;
    if (p[1].revents)
        return 1;
    /* Backwards, so dropping gateway i (which moves the last one into i) skips none. */
    for (int i = n - 1; i >= 0; i--) {
        struct gateway *g = &gws[i];

        if ((p[i + 2].revents & POLLOUT) && gw_buf_write_fd(&g->out, g->fd) < 0 &&
            errno != EAGAIN) {
            drop(g, "write error");
            continue;
        }
        if (p[i + 2].revents & (POLLIN | POLLHUP | POLLERR))
            read_gateway(g);
    }
    if (p[0].revents & POLLIN)
        accept_gateways(lfd);
    return 0;
}

static void
usage(FILE *to)
{
    fprintf(to, "usage: echo-backend [--broadcast-every MS] [--name NAME] HOST:PORT\n"
                "       echo-backend --help | --version\n"
                "An example wsgwd backend: echoes each client's messages over the frame "
                "protocol.\n"
                "  --broadcast-every MS  send a text message to every client each MS ms\n"
                "  --name NAME           backend name given in HELLO (default: echo)\n"
                "  HOST:PORT             listen address for gateways, e.g. 127.0.0.1:9090\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {{"broadcast-every", required_argument, NULL, 'b'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    char err[GW_ERR_LEN], shown[GW_ADDR_STRLEN], *end;
    struct gw_addr addr;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    long every_ms = 0;
    uint64_t next_ms = 0, now;
    sigset_t sigs;
    int c, lfd, sfd;

    while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
        if (c == 'V') {
            printf("echo-backend %s\n", GW_VERSION);
            return 0;
        }
        if (c == 'b' && (every_ms = strtol(optarg, &end, 10)) > 0 && *end == '\0' &&
            every_ms <= 86400000)
            continue;
        if (c == 'n' && strlen(optarg) > 0 && strlen(optarg) <= GW_FRAME_NAME_MAX) {
            name = optarg;
            continue;
        }
        usage(c == 'h' ? stdout : stderr);
        return c == 'h' ? 0 : 2;
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    gw_log_init("echo-backend", GW_LOG_LOGFMT, 2);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    if ((sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0 ||
        gw_net_parse_addr(argv[optind], GW_NET_ALLOW_PORT0, &addr, err) == -1 ||
        (lfd = gw_net_listen_tcp(&addr, 0, 0, err)) == -1) {
        GW_LOG_ERROR("cannot listen", "addr=%s err=%s", argv[optind], sfd < 0 ? "signalfd" : err);
        return 1;
    }
    getsockname(lfd, (struct sockaddr *)&ss, &sslen);
    GW_LOG_INFO("listening", "addr=%s name=%s broadcast_every_ms=%ld",
                gw_net_addr_str((struct sockaddr *)&ss, sslen, shown, sizeof(shown)), name,
                every_ms);
    for (;;) {
        now = gw_mono_ms();
        if (every_ms > 0 && now >= next_ms) {
            broadcast();
            next_ms = now + (uint64_t)every_ms;
        }
        if (poll_once(lfd, sfd, every_ms > 0 ? (int)(next_ms - now) : -1))
            break;
    }
    GW_LOG_INFO("stopping", "gateways=%d", ngws);
    while (ngws > 0)
        drop(&gws[0], "shutdown");
    close(lfd);
    return 0;
}
