/*
 * udp.c -- batched UDP receive and reply with recvmmsg/sendmmsg.
 */
#include "udp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/errqueue.h>
#include <netinet/in.h>

#include "util.h"

/* Room for one SO_RXQ_OVFL message per datagram. */
#define CTL_LEN CMSG_SPACE(sizeof(uint32_t))

struct gw_udp_batch {
    size_t max_bytes;
    char *bufs;
    uint32_t dropped;
    int have_dropped;
    union {
        char buf[CTL_LEN];
        struct cmsghdr align;
    } ctl[GW_UDP_BATCH];
    int nreplies;
    struct mmsghdr msgs[GW_UDP_BATCH];
    struct iovec iov[GW_UDP_BATCH];
    struct sockaddr_storage peers[GW_UDP_BATCH];
    struct mmsghdr replies[GW_UDP_BATCH];
    struct iovec reply_iov[GW_UDP_BATCH];
};

struct gw_udp_batch *
gw_udp_batch_new(size_t max_bytes, char *err)
{
    struct gw_udp_batch *b = calloc(1, sizeof(*b));

    if (!b || (b->bufs = malloc(max_bytes * GW_UDP_BATCH)) == NULL) {
        free(b);
        gw_err(err, "out of memory");
        return NULL;
    }
    b->max_bytes = max_bytes;
    for (int i = 0; i < GW_UDP_BATCH; i++) {
        b->iov[i].iov_base = b->bufs + (size_t)i * max_bytes;
        b->iov[i].iov_len = max_bytes;
        b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
        b->msgs[i].msg_hdr.msg_iovlen = 1;
        b->msgs[i].msg_hdr.msg_name = &b->peers[i];
    }
    return b;
}

void
gw_udp_batch_free(struct gw_udp_batch *b)
{
    if (!b)
        return;
    free(b->bufs);
    free(b);
}

int
gw_udp_recv(struct gw_udp_batch *b, int fd)
{
    int n;

    b->nreplies = 0;
    for (int i = 0; i < GW_UDP_BATCH; i++) {
        b->msgs[i].msg_hdr.msg_namelen = sizeof(b->peers[i]);
        b->msgs[i].msg_hdr.msg_control = b->ctl[i].buf;
        b->msgs[i].msg_hdr.msg_controllen = CTL_LEN;
    }
    n = recvmmsg(fd, b->msgs, GW_UDP_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    /* The counter only grows: the last datagram's report is the newest. */
    for (int i = n - 1; i >= 0; i--) {
        struct msghdr *m = &b->msgs[i].msg_hdr;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
                c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
                memcpy(&b->dropped, CMSG_DATA(c), sizeof(uint32_t));
                b->have_dropped = 1;
                return n;
            }
    }
    return n;
}

char *
gw_udp_data(struct gw_udp_batch *b, int i, size_t *len, int *truncated)
{
    *len = b->msgs[i].msg_len;
    *truncated = (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    return b->iov[i].iov_base;
}

const struct sockaddr *
gw_udp_peer(const struct gw_udp_batch *b, int i, socklen_t *len)
{
    *len = b->msgs[i].msg_hdr.msg_namelen;
    return (const struct sockaddr *)&b->peers[i];
}

void
gw_udp_reply(struct gw_udp_batch *b, int i, const void *data, size_t len)
{
    struct mmsghdr *r;

    if (b->nreplies >= GW_UDP_BATCH)
        return;
    r = &b->replies[b->nreplies];
    memset(&r->msg_hdr, 0, sizeof(r->msg_hdr));
    b->reply_iov[b->nreplies].iov_base = (void *)data;
    b->reply_iov[b->nreplies].iov_len = len;
    r->msg_hdr.msg_iov = &b->reply_iov[b->nreplies];
    r->msg_hdr.msg_iovlen = 1;
    r->msg_hdr.msg_name = &b->peers[i];
    r->msg_hdr.msg_namelen = b->msgs[i].msg_hdr.msg_namelen;
    b->nreplies++;
}

int
gw_udp_send(struct gw_udp_batch *b, int fd)
{
    int n = 0;

    if (b->nreplies)
        n = sendmmsg(fd, b->replies, (unsigned)b->nreplies, MSG_DONTWAIT);
    b->nreplies = 0;
    return n;
}

int
gw_udp_count_drops(int fd, char *err)
{
    int on = 1;

    if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on)) == -1)
        return gw_err_errno(err, "setsockopt SO_RXQ_OVFL");
    return 0;
}

uint32_t
gw_udp_dropped(const struct gw_udp_batch *b)
{
    return b->have_dropped ? b->dropped : 0;
}

int
gw_udp_set_rcvbuf(int fd, size_t bytes, size_t *got, char *err)
{
    int v = bytes > INT32_MAX / 2 ? INT32_MAX / 2 : (int)bytes;
    socklen_t len = sizeof(v);

    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) == -1 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) == -1)
        return gw_err_errno(err, "setsockopt SO_RCVBUF %d", v);
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) == -1)
        return gw_err_errno(err, "getsockopt SO_RCVBUF");
    *got = (size_t)v;
    return 0;
}

int
gw_udp_connect(const struct gw_addr *a, char *err)
{
    int v6 = a->ss.ss_family == AF_INET6, one = 1, fd, e;

    fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return gw_err_errno(err, "udp socket");
    if (setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVERR : IP_RECVERR, &one, sizeof(one)) ==
            -1 ||
        connect(fd, (const struct sockaddr *)&a->ss, a->len) == -1) {
        e = errno;
        gw_err_errno(err, "udp socket");
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int
gw_udp_send_each(int fd, const char *buf, size_t each, unsigned n)
{
    struct mmsghdr m[GW_UDP_SEND_BATCH];
    struct iovec iov[GW_UDP_SEND_BATCH];
    int sent;

    n = n < GW_UDP_SEND_BATCH ? n : GW_UDP_SEND_BATCH;
    memset(m, 0, n * sizeof(m[0]));
    for (unsigned k = 0; k < n; k++) {
        iov[k].iov_base = (char *)buf + k * each;
        iov[k].iov_len = each;
        m[k].msg_hdr.msg_iov = &iov[k];
        m[k].msg_hdr.msg_iovlen = 1;
    }
    do
        sent = sendmmsg(fd, m, n, MSG_DONTWAIT);
    while (sent == -1 && errno == EINTR);
    return sent;
}

int
gw_udp_refused(int fd)
{
    char data[64], ctl[512];
    struct iovec iov = {data, sizeof(data)};
    struct sock_extended_err ee;
    struct cmsghdr *cm;
    struct msghdr m;
    int refused = 0;

    for (unsigned k = 0; k < 64; k++) {
        memset(&m, 0, sizeof(m));
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl;
        m.msg_controllen = sizeof(ctl);
        if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) == -1)
            break;
        for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
            if ((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
                (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)) {
                memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
                refused |= ee.ee_errno == ECONNREFUSED;
            }
        }
    }
    return refused;
}
