/*
 * logship.c -- tests for lib/logship.c: log lines as RFC 5424 datagrams to a Unix socket,
 * severities from levels, long lines, and drops counted when nobody listens.
 */
#include "logship.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../tap.h"

static int
listen_dgram(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    gw_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
        return -1;
    return fd;
}

static ssize_t
recv_one(int fd, char *buf, size_t len)
{
    ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);

    if (n >= 0)
        buf[n] = '\0';
    return n;
}

int
main(void)
{
    char dir[] = "/tmp/logship-XXXXXX", path[128], buf[16384], want[64], err[GW_ERR_LEN];
    struct gw_logship *s;
    char *line;
    int fd;

    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/logd.dgram", dir);
    fd = listen_dgram(path);
    ok(fd >= 0, "test socket bound");
    s = gw_logship_new(path, "hbd", err);
    ok(s != NULL, "shipper made");

    gw_logship_hook(GW_LOG_INFO, "level=info msg=\"started\"", 24, s);
    ok(recv_one(fd, buf, sizeof(buf)) > 0, "one datagram per line");
    snprintf(want, sizeof(want), " hbd %d - - level=info msg=\"started\"", (int)getpid());
    ok(strncmp(buf, "<30>1 ", 6) == 0, "info is daemon.info, <30>, RFC 5424 version 1: %s", buf);
    ok(strstr(buf, want) != NULL, "APP-NAME, PROCID, no MSGID or SD, then the line");
    ok(buf[6 + 4] == '-' && strchr(buf, 'Z') != NULL, "an RFC 3339 UTC timestamp");

    gw_logship_hook(GW_LOG_ERROR, "e", 1, s);
    recv_one(fd, buf, sizeof(buf));
    ok(strncmp(buf, "<27>1 ", 6) == 0, "error is daemon.err, <27>");
    gw_logship_hook(GW_LOG_WARNING, "w", 1, s);
    recv_one(fd, buf, sizeof(buf));
    ok(strncmp(buf, "<28>1 ", 6) == 0, "warning is daemon.warning, <28>");
    gw_logship_hook(GW_LOG_DEBUG, "d", 1, s);
    recv_one(fd, buf, sizeof(buf));
    ok(strncmp(buf, "<31>1 ", 6) == 0, "debug is daemon.debug, <31>");

    line = malloc(GW_LOG_LINE_MAX);
    memset(line, 'x', GW_LOG_LINE_MAX);
    gw_logship_hook(GW_LOG_INFO, line, GW_LOG_LINE_MAX, s);
    ok(recv_one(fd, buf, sizeof(buf)) > GW_LOG_LINE_MAX,
       "a line of GW_LOG_LINE_MAX bytes goes whole");
    is(gw_logship_dropped(s), 0, "nothing dropped while logd listens");

    close(fd);
    unlink(path);
    gw_logship_hook(GW_LOG_INFO, "lost", 4, s);
    is(gw_logship_dropped(s), 1, "no listener: the line is dropped and counted, without blocking");
    gw_logship_free(s);
    ok(gw_logship_new("/tmp/a-path-that-is-far-too-long-for-a-unix-socket-address-because-it-"
                      "goes-on-and-on-and-on-and-on-and-on/logd.dgram",
                      "x", err) == NULL,
       "a path too long for sun_path is refused");
    free(line);
    rmdir(dir);
    return done_testing();
}
