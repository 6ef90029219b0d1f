/*
 * tcp_echo.c -- the ceiling for wsgwd's rows in `make bench`: a single-threaded epoll TCP
 * echo server with no gateway and no framing (what a backend alone costs).
 *
 *   tcp_echo PORT        listens on 127.0.0.1:PORT until SIGTERM
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
    (void)sig;
    stop = 1;
}

/* Echoes what one readiness brings; a client that does not read is dropped, not buffered. */
static void
echo(int efd, int fd)
{
    char buf[65536];
    ssize_t n, w;

    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            for (ssize_t off = 0; off < n; off += w)
                if ((w = write(fd, buf + off, (size_t)(n - off))) <= 0)
                    goto drop;
            if (n < (ssize_t)sizeof(buf))
                return;
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            return;
        goto drop;
    }
drop:
    epoll_ctl(efd, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
}

int
main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct epoll_event ev, evs[MAX_EVENTS];
    int lfd, efd, one = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: tcp_echo PORT\n");
        return 2;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) == -1 || listen(lfd, 4096) == -1) {
        perror("tcp_echo: bind");
        return 1;
    }
    efd = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &ev);
    while (!stop) {
        int n = epoll_wait(efd, evs, MAX_EVENTS, 500);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd != lfd) {
                echo(efd, evs[i].data.fd);
                continue;
            }
            int fd;
            while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                ev.events = EPOLLIN;
                ev.data.fd = fd;
                epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev);
            }
        }
    }
    return 0;
}
