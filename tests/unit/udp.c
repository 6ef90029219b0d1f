/*
 * udp.c -- unit tests for lib/udp.c: a batch of datagrams in one receive, their senders,
 * truncation, and replies sent back in one call; the sending side: a connected socket, a
 * batch of equal datagrams in one call, and a closed port learnt from the error queue.
 */
#include "udp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "../tap.h"

int
main(void)
{
    char err[GW_ERR_LEN], *data, buf[64];
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin), plen;
    int srv = socket(AF_INET, SOCK_DGRAM, 0), cli = socket(AF_INET, SOCK_DGRAM, 0), n, trunc;
    struct gw_udp_batch *b = gw_udp_batch_new(8, err);
    size_t dlen;
    struct pollfd pfd = {.fd = srv, .events = POLLIN};

    ok(b != NULL, "a batch of 8-byte buffers");
    bind(srv, (struct sockaddr *)&sin, sizeof(sin));
    getsockname(srv, (struct sockaddr *)&sin, &len);
    is(gw_udp_recv(b, srv), 0, "nothing waiting: 0");
    sendto(cli, "one", 3, 0, (struct sockaddr *)&sin, sizeof(sin));
    sendto(cli, "two", 3, 0, (struct sockaddr *)&sin, sizeof(sin));
    sendto(cli, "too long!", 9, 0, (struct sockaddr *)&sin, sizeof(sin));
    poll(&pfd, 1, 2000);
    n = 0;
    for (int tries = 0; n < 3 && tries < 100; tries++) {
        int got = gw_udp_recv(b, srv);
        if (got > 0 && n == 0 && got < 3) {
            poll(&pfd, 1, 20);
            continue; /* the kernel had not queued all three yet: receive again */
        }
        n = got;
    }
    is(n, 3, "three datagrams in one receive");
    data = gw_udp_data(b, 0, &dlen, &trunc);
    ok(dlen == 3 && memcmp(data, "one", 3) == 0 && !trunc, "the first one");
    data = gw_udp_data(b, 2, &dlen, &trunc);
    ok(trunc && dlen == 8, "a longer one is cut and flagged");
    ok(gw_udp_peer(b, 1, &plen)->sa_family == AF_INET && plen == sizeof(struct sockaddr_in),
       "the sender's address");
    gw_udp_reply(b, 0, "r0", 2);
    gw_udp_reply(b, 1, "r1", 2);
    is(gw_udp_send(b, srv), 2, "two replies in one send");
    n = (int)recv(cli, buf, sizeof(buf), 0);
    ok(n == 2 && memcmp(buf, "r0", 2) == 0, "the client gets the first reply");
    n = (int)recv(cli, buf, sizeof(buf), 0);
    ok(n == 2 && memcmp(buf, "r1", 2) == 0, "and the second");
    is(gw_udp_send(b, srv), 0, "nothing queued: nothing sent");

    /* The sending side. */
    struct gw_addr a = {0};
    char lines[3 * 4 + 1] = "ab1\nab2\nab3\n", err2[GW_ERR_LEN];
    int fd, refused = 0;

    memcpy(&a.ss, &sin, sizeof(sin));
    a.len = sizeof(sin);
    fd = gw_udp_connect(&a, err2);
    ok(fd >= 0, "a connected UDP socket");
    is(gw_udp_send_each(fd, lines, 4, 3), 3, "three datagrams of 4 bytes in one send");
    poll(&pfd, 1, 2000);
    n = 0;
    for (int tries = 0; n < 3 && tries < 100; tries++) {
        int got = gw_udp_recv(b, srv);
        if (got < 0)
            break;
        n += got;
        if (n < 3)
            poll(&pfd, 1, 20);
    }
    is(n, 3, "the server gets the three");
    data = gw_udp_data(b, 0, &dlen, &trunc);
    ok(n == 3 && dlen == 4 && memcmp(data, "ab", 2) == 0, "each one line of 4 bytes");
    is(gw_udp_refused(fd), 0, "a listening port: nothing on the error queue");
    close(srv); /* nothing listens there now: the sends draw ICMP port unreachable */
    for (int tries = 0; !refused && tries < 200; tries++) {
        (void)gw_udp_send_each(fd, lines, 4, 3);
        refused = gw_udp_refused(fd);
        if (!refused)
            poll(NULL, 0, 5);
    }
    ok(refused, "a closed port: port unreachable comes on the error queue");
    close(fd);
    a.ss.ss_family = AF_UNSPEC;
    ok(gw_udp_connect(&a, err2) == -1 && err2[0], "a socket that cannot be made: -1 with err");
    gw_udp_batch_free(b);
    close(cli);
    return done_testing();
}
