/*
 * net.c -- unit tests for lib/net.c: address forms and their errors, TCP, UDP and unix sockets.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../tap.h"

static char err[GW_ERR_LEN];

static const char *
str(const struct gw_addr *a)
{
    static char buf[GW_ADDR_STRLEN];

    return gw_net_addr_str((const struct sockaddr *)&a->ss, a->len, buf, sizeof(buf));
}

/* ---- parsing ---- */

struct good {
    const char *in;
    int flags;
    int family;
    const char *shown; /* NULL: not compared */
    int port;
    int wildcard;
};

static int v6;

static void
test_parse_good(void)
{
    const struct good cases[] = {
        {"1.2.3.4:80", 0, AF_INET, "1.2.3.4:80", 80, 0},
        {"0.0.0.0:1", 0, AF_INET, "0.0.0.0:1", 1, 0},
        {"255.255.255.255:65535", 0, AF_INET, "255.255.255.255:65535", 65535, 0},
        {"127.0.0.1:080", 0, AF_INET, "127.0.0.1:80", 80, 0},
        {"127.0.0.1:0", GW_NET_ALLOW_PORT0, AF_INET, "127.0.0.1:0", 0, 0},
        {"[::1]:80", 0, AF_INET6, "[::1]:80", 80, 0},
        {"[2001:db8::1]:443", 0, AF_INET6, "[2001:db8::1]:443", 443, 0},
        {"[::ffff:1.2.3.4]:9", 0, AF_INET6, "1.2.3.4:9", 9, 0},
        {"*:80", 0, v6 ? AF_INET6 : AF_INET, v6 ? "[::]:80" : "0.0.0.0:80", 80, 1},
        {":80", 0, v6 ? AF_INET6 : AF_INET, v6 ? "[::]:80" : "0.0.0.0:80", 80, 1},
        {"*:0", GW_NET_ALLOW_PORT0, v6 ? AF_INET6 : AF_INET, NULL, 0, 1},
        {"localhost:80", 0, 0, NULL, 80, 0},
        {"unix:/tmp/gw.sock", 0, AF_UNIX, "unix:/tmp/gw.sock", 0, 0},
        {"unix:rel/path", GW_NET_NO_RESOLVE, AF_UNIX, "unix:rel/path", 0, 0},
    };
    struct gw_addr a;
    size_t i;
    int rc;

    for (i = 0; i < GW_ARRAY_LEN(cases); i++) {
        const struct good *c = &cases[i];

        err[0] = '\0';
        rc = gw_net_parse_addr(c->in, c->flags, &a, err);
        ok(rc == 0, "'%s' accepted%s%s", c->in, rc ? ": " : "", rc ? err : "");
        if (rc)
            continue;
        if (c->family)
            is(a.ss.ss_family, c->family, "'%s' family", c->in);
        else
            ok(a.ss.ss_family == AF_INET || a.ss.ss_family == AF_INET6, "'%s' is inet", c->in);
        if (c->shown)
            is_str(str(&a), c->shown, "'%s' formats back", c->in);
        is(gw_net_addr_port(&a), c->port, "'%s' port", c->in);
        is(a.wildcard, c->wildcard, "'%s' wildcard flag", c->in);
    }
}

struct bad {
    const char *in;
    int flags;
    const char *msg;
};

static void
test_parse_bad(void)
{
    char longpath[200], longhost[300], msg[GW_ERR_LEN];
    const struct bad cases[] = {
        {"", 0, "empty address"},
        {NULL, 0, "empty address"},
        {"1.2.3.4", 0, "missing port in '1.2.3.4'"},
        {"localhost", 0, "missing port in 'localhost'"},
        {"1.2.3.4:", 0, "missing port in '1.2.3.4:'"},
        {"[::1]", 0, "missing port in '[::1]'"},
        {"[::1]:", 0, "missing port in '[::1]:'"},
        {"1.2.3.4:http", 0, "bad port 'http' in '1.2.3.4:http' (want 1..65535)"},
        {"1.2.3.4:-1", 0, "bad port '-1' in '1.2.3.4:-1' (want 1..65535)"},
        {"1.2.3.4:+80", 0, "bad port '+80' in '1.2.3.4:+80' (want 1..65535)"},
        {"1.2.3.4:80 ", 0, "bad port '80 ' in '1.2.3.4:80 ' (want 1..65535)"},
        {"1.2.3.4:65536", 0, "bad port '65536' in '1.2.3.4:65536' (want 1..65535)"},
        {"1.2.3.4:99999999999", 0,
         "bad port '99999999999' in '1.2.3.4:99999999999' (want 1..65535)"},
        {"1.2.3.4:0", 0, "port 0 not allowed in '1.2.3.4:0'"},
        {"*:0", 0, "port 0 not allowed in '*:0'"},
        {"[::1]:0", 0, "port 0 not allowed in '[::1]:0'"},
        {"[::1:80", 0, "unbalanced '[' in '[::1:80'"},
        {"::1]:80", 0, "unbalanced brackets in '::1]:80'"},
        {"[[::1]]:80", 0, "unbalanced brackets in '[[::1]]:80'"},
        {"[::1]]:80", 0, "unbalanced brackets in '[::1]]:80'"},
        {"[::1]80", 0, "expected ':port' after ']' in '[::1]80'"},
        {"[::g]:80", 0, "bad IPv6 address '::g' in '[::g]:80'"},
        {"[]:80", 0, "bad IPv6 address '' in '[]:80'"},
        {"[1.2.3.4]:80", 0, "bad IPv6 address '1.2.3.4' in '[1.2.3.4]:80'"},
        {"[fe80::1%eth0]:80", 0, "bad IPv6 address 'fe80::1%eth0' in '[fe80::1%eth0]:80'"},
        {"::1:80", 0, "IPv6 address needs brackets in '::1:80' (write '[addr]:port')"},
        {"1.2.3:80", 0, "bad IPv4 address '1.2.3' in '1.2.3:80'"},
        {"1.2.3.256:80", 0, "bad IPv4 address '1.2.3.256' in '1.2.3.256:80'"},
        {"1.2.3.4.5:80", 0, "bad IPv4 address '1.2.3.4.5' in '1.2.3.4.5:80'"},
        {"localhost:80", GW_NET_NO_RESOLVE,
         "host name 'localhost' not allowed in 'localhost:80' (numeric address required)"},
        {"nonexistent.invalid:80", 0,
         "unknown host 'nonexistent.invalid' in 'nonexistent.invalid:80'"},
        {"unix:", 0, "empty unix socket path in 'unix:'"},
        {"a\tb:80", GW_NET_NO_RESOLVE,
         "host name 'a?b' not allowed in 'a?b:80' (numeric address required)"},
    };
    struct gw_addr a;
    size_t i;
    int rc;

    for (i = 0; i < GW_ARRAY_LEN(cases); i++) {
        const struct bad *c = &cases[i];

        err[0] = '\0';
        rc = gw_net_parse_addr(c->in, c->flags, &a, err);
        ok(rc == -1, "'%s' refused", c->in ? c->in : "(null)");
        is_str(err, c->msg, "'%s' error text", c->in ? c->in : "(null)");
    }

    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    memcpy(longpath, "unix:/", 6);
    snprintf(msg, sizeof(msg), "unix socket path too long in 'unix:/%.58s...' (194 bytes, max 107)",
             longpath + 6);
    ok(gw_net_parse_addr(longpath, 0, &a, err) == -1, "194-byte unix path refused");
    is_str(err, msg, "long unix path error text, input cut at 64 bytes");

    memset(longhost, 'h', sizeof(longhost) - 1);
    longhost[sizeof(longhost) - 1] = '\0';
    memcpy(longhost + sizeof(longhost) - 4, ":80", 4);
    snprintf(msg, sizeof(msg), "host name too long in '%.64s...'", longhost);
    ok(gw_net_parse_addr(longhost, 0, &a, err) == -1, "296-byte host name refused");
    is_str(err, msg, "long host name error text");
}

/* ---- TCP ---- */

static int
bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int
wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};

    return poll(&p, 1, 5000) == 1;
}

/* Listens on spec (port 0), connects to connect_host:port both ways, accepts. */
static void
tcp_roundtrip(const char *spec, const char *connect_host, const char *peer_prefix)
{
    struct sockaddr_storage peer;
    socklen_t peer_len = 0;
    char target[64], shown[GW_ADDR_STRLEN];
    struct gw_addr a, c;
    int lfd, cfd, afd, pending, port;

    ok(gw_net_parse_addr(spec, GW_NET_ALLOW_PORT0, &a, err) == 0, "parse %s", spec);
    lfd = gw_net_listen_tcp(&a, 16, 0, err);
    ok(lfd >= 0, "listen on %s%s%s", spec, lfd < 0 ? ": " : "", lfd < 0 ? err : "");
    if (lfd < 0)
        return;
    port = bound_port(lfd);
    ok(port > 0, "%s got a port", spec);
    ok(fcntl(lfd, F_GETFL) & O_NONBLOCK, "listener is non-blocking");
    ok(fcntl(lfd, F_GETFD) & FD_CLOEXEC, "listener is close-on-exec");
    errno = 0;
    ok(gw_net_accept(lfd, NULL, NULL) == -1 && errno == EAGAIN, "accept with none: EAGAIN");

    snprintf(target, sizeof(target), "%s:%d", connect_host, port);
    ok(gw_net_parse_addr(target, 0, &c, err) == 0, "parse %s", target);
    cfd = gw_net_connect(&c, &pending, err);
    ok(cfd >= 0, "non-blocking connect to %s started", target);
    ok(wait_fd(cfd, POLLOUT), "connect completes");
    is(gw_net_connect_result(cfd, err), 0, "connect result 0");
    ok(wait_fd(lfd, POLLIN), "listener readable");
    afd = gw_net_accept(lfd, &peer, &peer_len);
    ok(afd >= 0, "accepted");
    ok(fcntl(afd, F_GETFL) & O_NONBLOCK, "accepted fd is non-blocking");
    gw_net_addr_str((struct sockaddr *)&peer, peer_len, shown, sizeof(shown));
    ok(strncmp(shown, peer_prefix, strlen(peer_prefix)) == 0, "peer shown as %s (want %s...)",
       shown, peer_prefix);
    is(gw_net_set_nodelay(afd), 0, "set TCP_NODELAY");
    close(afd);
    close(cfd);

    cfd = gw_net_connect_timeout(&c, 2000, err);
    ok(cfd >= 0, "connect_timeout to %s", target);
    ok(!(fcntl(cfd, F_GETFL) & O_NONBLOCK), "connect_timeout returns a blocking fd");
    ok(wait_fd(lfd, POLLIN) && (afd = gw_net_accept(lfd, NULL, NULL)) >= 0,
       "accepted without peer address");
    close(afd);
    close(cfd);
    close(lfd);
}

static void
test_tcp(void)
{
    struct gw_addr a, c;
    char msg[GW_ERR_LEN];
    int l1, l2, l3, port, hold, fd;

    tcp_roundtrip("127.0.0.1:0", "127.0.0.1", "127.0.0.1:");
    if (v6) {
        tcp_roundtrip("[::1]:0", "[::1]", "[::1]:");
        tcp_roundtrip("*:0", "127.0.0.1", "127.0.0.1:");
        tcp_roundtrip(":0", "[::1]", "[::1]:");
    } else {
        tcp_roundtrip("*:0", "127.0.0.1", "127.0.0.1:");
    }

    gw_net_parse_addr("127.0.0.1:0", GW_NET_ALLOW_PORT0, &a, err);
    l1 = gw_net_listen_tcp(&a, 0, 1, err);
    ok(l1 >= 0, "first SO_REUSEPORT listener");
    port = bound_port(l1);
    ((struct sockaddr_in *)&a.ss)->sin_port = htons((uint16_t)port);
    l2 = gw_net_listen_tcp(&a, 0, 1, err);
    ok(l2 >= 0, "second SO_REUSEPORT listener on the same port%s%s", l2 < 0 ? ": " : "",
       l2 < 0 ? err : "");
    l3 = gw_net_listen_tcp(&a, 0, 0, err);
    ok(l3 == -1, "a listener without SO_REUSEPORT on the same port refused");
    snprintf(msg, sizeof(msg), "bind 127.0.0.1:%d: Address already in use", port);
    is_str(err, msg, "address in use error text");
    close(l1);
    close(l2);

    /* A bound socket that does not listen: the port answers with RST. */
    gw_net_parse_addr("127.0.0.1:0", GW_NET_ALLOW_PORT0, &a, err);
    hold = socket(AF_INET, SOCK_STREAM, 0);
    bind(hold, (struct sockaddr *)&a.ss, a.len);
    port = bound_port(hold);
    snprintf(msg, sizeof(msg), "127.0.0.1:%d", port);
    gw_net_parse_addr(msg, 0, &c, err);
    fd = gw_net_connect_timeout(&c, 2000, err);
    ok(fd == -1, "connect_timeout to a closed port fails");
    snprintf(msg, sizeof(msg), "connect 127.0.0.1:%d: Connection refused", port);
    is_str(err, msg, "closed port error text");
    close(hold);

    gw_net_parse_addr("unix:/tmp/x", 0, &a, err);
    ok(gw_net_listen_tcp(&a, 0, 0, err) == -1, "listen_tcp on a unix address refused");
    is_str(err, "'unix:/tmp/x' is not an IP address", "unix address for TCP error text");
}

/* ---- UDP ---- */

static void
test_udp(void)
{
    struct sockaddr_storage from;
    socklen_t from_len = sizeof(from);
    struct gw_addr a, b;
    char buf[64];
    int s1, s2, port;
    ssize_t n;

    gw_net_parse_addr("127.0.0.1:0", GW_NET_ALLOW_PORT0, &a, err);
    s1 = gw_net_bind_udp(&a, 0, err);
    ok(s1 >= 0, "UDP bind on 127.0.0.1:0");
    s2 = gw_net_bind_udp(&a, 0, err);
    ok(s2 >= 0, "second UDP socket");
    port = bound_port(s1);
    b = a;
    ((struct sockaddr_in *)&b.ss)->sin_port = htons((uint16_t)port);
    ok(sendto(s2, "PING", 4, 0, (struct sockaddr *)&b.ss, b.len) == 4, "sendto");
    ok(wait_fd(s1, POLLIN), "datagram arrives");
    n = recvfrom(s1, buf, sizeof(buf), 0, (struct sockaddr *)&from, &from_len);
    ok(n == 4 && memcmp(buf, "PING", 4) == 0, "recvfrom gets the datagram");
    is(gw_net_bind_udp(&b, 0, err), -1, "second UDP bind on a used port refused");
    close(s1);
    close(s2);
}

/* ---- unix ---- */

static void
test_unix(void)
{
    char dir[] = "/tmp/gw-net-XXXXXX", path[64], msg[GW_ERR_LEN], longp[200];
    struct gw_addr a;
    struct stat st;
    int l1, l2, c, pending;

    ok(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof(path), "%s/ctl.sock", dir);
    l1 = gw_net_listen_unix(path, 0600, 0, err);
    ok(l1 >= 0, "unix listener");
    ok(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600,
       "socket file has mode 0600");
    l2 = gw_net_listen_unix(path, 0600, 0, err);
    ok(l2 == -1, "second listener on a live socket refused");
    snprintf(msg, sizeof(msg), "unix:%s already in use (another process is listening)", path);
    is_str(err, msg, "live socket error text");

    snprintf(msg, sizeof(msg), "unix:%s", path);
    gw_net_parse_addr(msg, 0, &a, err);
    c = gw_net_connect(&a, &pending, err);
    ok(c >= 0, "connect to the unix listener");
    ok(wait_fd(c, POLLOUT) && gw_net_connect_result(c, err) == 0, "unix connect completes");
    close(c);
    close(l1);

    ok(stat(path, &st) == 0, "stale socket file left behind");
    l2 = gw_net_listen_unix(path, 0660, 0, err);
    ok(l2 >= 0, "stale socket file replaced%s%s", l2 < 0 ? ": " : "", l2 < 0 ? err : "");
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0660, "new socket file has mode 0660");
    close(l2);
    unlink(path);

    close(open(path, O_CREAT | O_WRONLY, 0600));
    ok(gw_net_listen_unix(path, 0600, 0, err) == -1, "regular file in the way refused");
    snprintf(msg, sizeof(msg), "%s exists and is not a socket", path);
    is_str(err, msg, "regular file error text");
    ok(stat(path, &st) == 0 && S_ISREG(st.st_mode), "regular file left alone");
    unlink(path);

    memset(longp, 'x', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    ok(gw_net_listen_unix(longp, 0600, 0, err) == -1, "199-byte unix path refused");
    is_str(err, "unix socket path too long (199 bytes, max 107)", "long path error text");

    c = gw_net_connect(&a, &pending, err);
    ok(c == -1, "connect to a removed unix socket fails");
    snprintf(msg, sizeof(msg), "connect unix:%s: No such file or directory", path);
    is_str(err, msg, "unix connect error text");
    rmdir(dir);
}

static void
test_misc(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
    char small[8];
    int sv[2];

    ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    is(gw_net_set_nonblock(sv[0], 1), 0, "set non-blocking");
    ok(fcntl(sv[0], F_GETFL) & O_NONBLOCK, "non-blocking set");
    is(gw_net_set_nonblock(sv[0], 0), 0, "set blocking");
    ok(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK), "non-blocking cleared");
    close(sv[0]);
    close(sv[1]);
    is_str(gw_net_addr_str((struct sockaddr *)&sun, sizeof(sa_family_t), small, sizeof(small)),
           "unix:", "unnamed unix peer");
    is_str(gw_net_addr_str((struct sockaddr *)&sin, sizeof(sin), small, sizeof(small)), "0.0.0.0",
           "formatting truncates to the buffer");
}

/* The host part of an address string, as per-source limits key it. */
static void
test_addr_host(void)
{
    char h[64], tiny[4];

    gw_net_addr_host("1.2.3.4:5678", h, sizeof(h));
    is_str(h, "1.2.3.4", "host of an IPv4 address");
    gw_net_addr_host("[::1]:5678", h, sizeof(h));
    is_str(h, "::1", "host of a bracketed IPv6 address, without its brackets");
    gw_net_addr_host("noport", h, sizeof(h));
    is_str(h, "noport", "no colon: the whole string");
    gw_net_addr_host("[x:1", h, sizeof(h));
    is_str(h, "[x", "an unclosed bracket is kept");
    gw_net_addr_host("10.20.30.40:1", tiny, sizeof(tiny));
    is_str(tiny, "10.", "cut to the buffer, NUL-terminated");
}

int
main(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);

    v6 = fd >= 0;
    if (fd >= 0)
        close(fd);
    if (!v6)
        diag("no IPv6 here: IPv6 socket tests skipped");
    test_parse_good();
    test_parse_bad();
    test_addr_host();
    test_tcp();
    test_udp();
    test_unix();
    test_misc();
    return done_testing();
}
