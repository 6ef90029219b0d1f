/*
 * net.c -- addresses and sockets: parse "host:port", listen, accept, connect.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Longest piece of input quoted in an error message. */
#define QUOTE_MAX 64
#define QUOTE_LEN (QUOTE_MAX + 4)
/* Longest DNS name. */
#define HOST_MAX 253

/* Copies s for an error message: bounded, non-printable bytes shown as '?'. */
static const char *
quote(const char *s, size_t n, char *buf)
{
    size_t i;

    for (i = 0; i < n && i < QUOTE_MAX; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (n > QUOTE_MAX)
        memcpy(buf + i, "...", 3), i += 3;
    buf[i] = '\0';
    return buf;
}

static int
parse_port(const char *s, size_t n, int flags, const char *in, unsigned *port, char *err)
{
    char q1[QUOTE_LEN], q2[QUOTE_LEN];
    unsigned v = 0;
    size_t i;

    if (n == 0)
        return gw_err(err, "missing port in '%s'", quote(in, strlen(in), q1));
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 5)
            return gw_err(err, "bad port '%s' in '%s' (want 1..65535)", quote(s, n, q1),
                          quote(in, strlen(in), q2));
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return gw_err(err, "bad port '%s' in '%s' (want 1..65535)", quote(s, n, q1),
                      quote(in, strlen(in), q2));
    if (v == 0 && !(flags & GW_NET_ALLOW_PORT0))
        return gw_err(err, "port 0 not allowed in '%s'", quote(in, strlen(in), q1));
    *port = v;
    return 0;
}

static int
parse_unix(const char *s, struct gw_addr *a, char *err)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
    const char *path = s + 5;
    size_t n = strlen(path);
    char q[QUOTE_LEN];

    if (n == 0)
        return gw_err(err, "empty unix socket path in '%s'", quote(s, strlen(s), q));
    if (n >= sizeof(sun->sun_path))
        return gw_err(err, "unix socket path too long in '%s' (%zu bytes, max %zu)",
                      quote(s, strlen(s), q), n, sizeof(sun->sun_path) - 1);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n + 1);
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

static int
have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        return 0;
    close(fd);
    return 1;
}

static void
set_inet(struct gw_addr *a, int family, const void *addr, unsigned port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

    if (family == AF_INET) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        if (addr)
            memcpy(&sin->sin_addr, addr, sizeof(sin->sin_addr));
        a->len = sizeof(*sin);
    } else {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        if (addr)
            memcpy(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr));
        a->len = sizeof(*sin6);
    }
}

static int
resolve(const char *host, const char *in, unsigned port, struct gw_addr *a, char *err)
{
    char q1[QUOTE_LEN], q2[QUOTE_LEN];
    struct addrinfo hints, *res;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_FAIL)
        return gw_err(err, "unknown host '%s' in '%s'", quote(host, strlen(host), q1),
                      quote(in, strlen(in), q2));
    if (rc != 0)
        return gw_err(err, "cannot resolve '%s' in '%s': %s", quote(host, strlen(host), q1),
                      quote(in, strlen(in), q2),
                      rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    if (res->ai_family == AF_INET)
        set_inet(a, AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, port);
    else if (res->ai_family == AF_INET6)
        set_inet(a, AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, port);
    else
        rc = -1;
    freeaddrinfo(res);
    if (rc)
        return gw_err(err, "unknown host '%s' in '%s'", quote(host, strlen(host), q1),
                      quote(in, strlen(in), q2));
    return 0;
}

/* Host part without brackets: wildcard, IPv4 literal, or a name. */
static int
parse_host(const char *host, size_t n, const char *in, unsigned port, int flags, struct gw_addr *a,
           char *err)
{
    char h[HOST_MAX + 1], q1[QUOTE_LEN], q2[QUOTE_LEN];
    struct in_addr v4;

    if (n == 0 || (n == 1 && host[0] == '*')) {
        a->wildcard = 1;
        if (have_ipv6())
            set_inet(a, AF_INET6, &in6addr_any, port);
        else
            set_inet(a, AF_INET, NULL, port);
        return 0;
    }
    if (n > HOST_MAX)
        return gw_err(err, "host name too long in '%s'", quote(in, strlen(in), q1));
    memcpy(h, host, n);
    h[n] = '\0';
    if (strspn(h, "0123456789.") == n) {
        if (inet_pton(AF_INET, h, &v4) != 1)
            return gw_err(err, "bad IPv4 address '%s' in '%s'", quote(h, n, q1),
                          quote(in, strlen(in), q2));
        set_inet(a, AF_INET, &v4, port);
        return 0;
    }
    if (flags & GW_NET_NO_RESOLVE)
        return gw_err(err, "host name '%s' not allowed in '%s' (numeric address required)",
                      quote(h, n, q1), quote(in, strlen(in), q2));
    return resolve(h, in, port, a, err);
}

/* "[v6]:port" */
static int
parse_bracketed(const char *s, int flags, struct gw_addr *a, char *err)
{
    const char *close = strchr(s, ']');
    char h[INET6_ADDRSTRLEN], q1[QUOTE_LEN], q2[QUOTE_LEN];
    struct in6_addr v6;
    unsigned port;
    size_t n;

    if (close == NULL)
        return gw_err(err, "unbalanced '[' in '%s'", quote(s, strlen(s), q1));
    if (strchr(s + 1, '[') || strchr(close + 1, ']'))
        return gw_err(err, "unbalanced brackets in '%s'", quote(s, strlen(s), q1));
    if (close[1] == '\0')
        return gw_err(err, "missing port in '%s'", quote(s, strlen(s), q1));
    if (close[1] != ':')
        return gw_err(err, "expected ':port' after ']' in '%s'", quote(s, strlen(s), q1));
    n = (size_t)(close - (s + 1));
    if (n == 0 || n >= sizeof(h))
        return gw_err(err, "bad IPv6 address '%s' in '%s'", quote(s + 1, n, q1),
                      quote(s, strlen(s), q2));
    memcpy(h, s + 1, n);
    h[n] = '\0';
    if (inet_pton(AF_INET6, h, &v6) != 1)
        return gw_err(err, "bad IPv6 address '%s' in '%s'", quote(h, n, q1),
                      quote(s, strlen(s), q2));
    if (parse_port(close + 2, strlen(close + 2), flags, s, &port, err) == -1)
        return -1;
    set_inet(a, AF_INET6, &v6, port);
    a->wildcard = 0;
    return 0;
}

void
gw_net_addr_host(const char *addr, char *host, size_t len)
{
    const char *colon = strrchr(addr, ':');
    size_t n = colon ? (size_t)(colon - addr) : strlen(addr);

    if (len == 0)
        return;
    if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
        addr++;
        n -= 2;
    }
    if (n >= len)
        n = len - 1;
    memcpy(host, addr, n);
    host[n] = '\0';
}

int
gw_net_parse_addr(const char *s, int flags, struct gw_addr *a, char *err)
{
    const char *colon;
    char q[QUOTE_LEN];
    unsigned port;

    memset(a, 0, sizeof(*a));
    if (s == NULL || *s == '\0')
        return gw_err(err, "empty address");
    if (strncmp(s, "unix:", 5) == 0)
        return parse_unix(s, a, err);
    if (s[0] == '[')
        return parse_bracketed(s, flags, a, err);
    if (strchr(s, ']') || strchr(s, '['))
        return gw_err(err, "unbalanced brackets in '%s'", quote(s, strlen(s), q));
    if ((colon = strrchr(s, ':')) == NULL)
        return gw_err(err, "missing port in '%s'", quote(s, strlen(s), q));
    if (memchr(s, ':', (size_t)(colon - s)))
        return gw_err(err, "IPv6 address needs brackets in '%s' (write '[addr]:port')",
                      quote(s, strlen(s), q));
    if (parse_port(colon + 1, strlen(colon + 1), flags, s, &port, err) == -1)
        return -1;
    return parse_host(s, (size_t)(colon - s), s, port, flags, a, err);
}

char *
gw_net_addr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
    const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
    char h[INET6_ADDRSTRLEN];
    size_t off = offsetof(struct sockaddr_un, sun_path);

    if (buflen == 0)
        return buf;
    if (sa == NULL || len < sizeof(sa_family_t)) {
        snprintf(buf, buflen, "?");
    } else if (sa->sa_family == AF_INET && len >= sizeof(*sin)) {
        inet_ntop(AF_INET, &sin->sin_addr, h, sizeof(h));
        snprintf(buf, buflen, "%s:%u", h, ntohs(sin->sin_port));
    } else if (sa->sa_family == AF_INET6 && len >= sizeof(*sin6)) {
        /* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; show them as IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], h, sizeof(h));
            snprintf(buf, buflen, "%s:%u", h, ntohs(sin6->sin6_port));
        } else {
            inet_ntop(AF_INET6, &sin6->sin6_addr, h, sizeof(h));
            snprintf(buf, buflen, "[%s]:%u", h, ntohs(sin6->sin6_port));
        }
    } else if (sa->sa_family == AF_UNIX) {
        if (len <= off)
            snprintf(buf, buflen, "unix:");
        else if (sun->sun_path[0] == '\0')
            snprintf(buf, buflen, "unix:@%.*s", (int)(len - off - 1), sun->sun_path + 1);
        else
            snprintf(buf, buflen, "unix:%.*s", (int)strnlen(sun->sun_path, len - off),
                     sun->sun_path);
    } else {
        snprintf(buf, buflen, "family-%d", sa->sa_family);
    }
    return buf;
}

int
gw_net_addr_port(const struct gw_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return 0;
}

/* ---- sockets ---- */

static const char *
astr(const struct gw_addr *a, char *buf)
{
    return gw_net_addr_str((const struct sockaddr *)&a->ss, a->len, buf, GW_ADDR_STRLEN);
}

static int
setopt(int fd, int level, int opt, int v)
{
    return setsockopt(fd, level, opt, &v, sizeof(v));
}

/*
 * Socket for a bound inet address. A wildcard that was parsed as "::" falls back to 0.0.0.0
 * when the kernel refuses IPv6 here (the address was parsed on another machine, or IPv6 went
 * away).
 */
static int
bound_socket(const struct gw_addr *a, int type, int reuseaddr, int reuseport, char *err)
{
    struct gw_addr any;
    char s[GW_ADDR_STRLEN];
    int fd;

    if (a->ss.ss_family != AF_INET && a->ss.ss_family != AF_INET6)
        return gw_err(err, "'%s' is not an IP address", astr(a, s));
    fd = socket(a->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1 && a->wildcard && a->ss.ss_family == AF_INET6 && errno == EAFNOSUPPORT) {
        memset(&any, 0, sizeof(any));
        any.wildcard = 1;
        set_inet(&any, AF_INET, NULL, (unsigned)gw_net_addr_port(a));
        return bound_socket(&any, type, reuseaddr, reuseport, err);
    }
    if (fd == -1)
        return gw_err_errno(err, "socket for %s", astr(a, s));
    if ((reuseaddr && setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1) == -1) ||
        (reuseport && setopt(fd, SOL_SOCKET, SO_REUSEPORT, 1) == -1) ||
        (a->wildcard && a->ss.ss_family == AF_INET6 &&
         setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0) == -1)) {
        gw_err_errno(err, "setsockopt on %s", astr(a, s));
        goto fail;
    }
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1) {
        gw_err_errno(err, "bind %s", astr(a, s));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

int
gw_net_listen_tcp(const struct gw_addr *a, int backlog, int reuseport, char *err)
{
    char s[GW_ADDR_STRLEN];
    int fd;

    if ((fd = bound_socket(a, SOCK_STREAM, 1, reuseport, err)) == -1)
        return -1;
    if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) == -1) {
        gw_err_errno(err, "listen %s", astr(a, s));
        close(fd);
        return -1;
    }
    return fd;
}

int
gw_net_bind_udp(const struct gw_addr *a, int reuseport, char *err)
{
    /* No SO_REUSEADDR: on UDP it would let a second process steal datagrams. */
    return bound_socket(a, SOCK_DGRAM, 0, reuseport, err);
}

/*
 * A socket file left by a dead process refuses connections: replace it. One that accepts (or
 * whose backlog is full) belongs to a live process. Anything that is not a socket is left alone.
 */
static int
unix_stale(const struct sockaddr_un *sun, socklen_t len, char *err)
{
    struct stat st;
    int fd, rc;

    if (lstat(sun->sun_path, &st) == -1)
        return errno == ENOENT ? 0 : gw_err_errno(err, "stat %s", sun->sun_path);
    if (!S_ISSOCK(st.st_mode))
        return gw_err(err, "%s exists and is not a socket", sun->sun_path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
        return gw_err_errno(err, "socket");
    rc = connect(fd, (const struct sockaddr *)sun, len);
    if (rc == -1 && errno == ECONNREFUSED) {
        close(fd);
        if (unlink(sun->sun_path) == -1 && errno != ENOENT)
            return gw_err_errno(err, "unlink stale socket %s", sun->sun_path);
        return 0;
    }
    close(fd);
    if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS)
        return gw_err(err, "unix:%s already in use (another process is listening)", sun->sun_path);
    return gw_err_errno(err, "connect to existing socket %s", sun->sun_path);
}

static int
unix_bind(int fd, const struct sockaddr_un *sun, socklen_t len, char *err)
{
    int tries;

    for (tries = 0; tries < 3; tries++) {
        if (bind(fd, (const struct sockaddr *)sun, len) == 0)
            return 0;
        if (errno != EADDRINUSE)
            break;
        if (unix_stale(sun, len, err) == -1)
            return -1;
    }
    return gw_err_errno(err, "bind unix:%s", sun->sun_path);
}

int
gw_net_listen_unix(const char *path, unsigned mode, int backlog, char *err)
{
    struct sockaddr_un sun;
    size_t n = strlen(path);
    socklen_t len;
    int fd;

    memset(&sun, 0, sizeof(sun));
    if (n == 0)
        return gw_err(err, "empty unix socket path");
    if (n >= sizeof(sun.sun_path))
        return gw_err(err, "unix socket path too long (%zu bytes, max %zu)", n,
                      sizeof(sun.sun_path) - 1);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, n + 1);
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
        return gw_err_errno(err, "socket");
    if (unix_bind(fd, &sun, len, err) == -1)
        goto fail;
    /* Before listen(): nobody can connect until the mode is right. */
    if (chmod(path, mode) == -1) {
        gw_err_errno(err, "chmod %s", path);
        goto fail_unlink;
    }
    if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) == -1) {
        gw_err_errno(err, "listen unix:%s", path);
        goto fail_unlink;
    }
    return fd;
fail_unlink:
    unlink(path);
fail:
    close(fd);
    return -1;
}

int
gw_net_accept(int lfd, struct sockaddr_storage *peer, socklen_t *peer_len)
{
    socklen_t len = sizeof(*peer);
    int fd;

    do
        fd =
            accept4(lfd, (struct sockaddr *)peer, peer ? &len : NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (fd == -1 && errno == EINTR);
    if (fd != -1 && peer_len)
        *peer_len = peer ? len : 0;
    return fd;
}

int
gw_net_connect(const struct gw_addr *a, int *in_progress, char *err)
{
    char s[GW_ADDR_STRLEN];
    int fd;

    *in_progress = 0;
    if (a->len == 0)
        return gw_err(err, "connect: no address");
    if ((fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
        return gw_err_errno(err, "socket for %s", astr(a, s));
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
        return fd;
    if (errno == EINPROGRESS) {
        *in_progress = 1;
        return fd;
    }
    /* EAGAIN on a unix socket: the listener's backlog is full. */
    gw_err_errno(err, "connect %s", astr(a, s));
    close(fd);
    return -1;
}

/* The pending error of a socket: 0, or an errno value. */
static int
so_error(int fd)
{
    socklen_t len = sizeof(int);
    int e = 0;

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
        return errno;
    return e;
}

int
gw_net_connect_result(int fd, char *err)
{
    int e;

    if ((e = so_error(fd)) == 0)
        return 0;
    errno = e;
    return gw_err_errno(err, "connect");
}

/* poll() for writability until the deadline, across EINTR; timeout_ms <= 0 waits forever. */
static int
wait_writable(int fd, int timeout_ms)
{
    uint64_t deadline = gw_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    uint64_t now;
    int rc;

    for (;;) {
        now = gw_mono_ms();
        if (timeout_ms <= 0)
            rc = poll(&p, 1, -1);
        else
            rc = poll(&p, 1, now >= deadline ? 0 : (int)(deadline - now));
        if (rc >= 0 || errno != EINTR)
            return rc;
    }
}

int
gw_net_connect_timeout(const struct gw_addr *a, int timeout_ms, char *err)
{
    char s[GW_ADDR_STRLEN];
    int fd, pending, rc, e;

    if ((fd = gw_net_connect(a, &pending, err)) == -1)
        return -1;
    if (pending) {
        if ((rc = wait_writable(fd, timeout_ms)) == -1) {
            gw_err_errno(err, "connect %s: poll", astr(a, s));
            goto fail;
        }
        if (rc == 0) {
            gw_err(err, "connect %s: timed out after %d ms", astr(a, s), timeout_ms);
            goto fail;
        }
        if ((e = so_error(fd)) != 0) {
            errno = e;
            gw_err_errno(err, "connect %s", astr(a, s));
            goto fail;
        }
    }
    if (gw_net_set_nonblock(fd, 0) == -1) {
        gw_err_errno(err, "connect %s: fcntl", astr(a, s));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

int
gw_net_set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl == -1)
        return -1;
    fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    return fcntl(fd, F_SETFL, fl);
}

int
gw_net_set_nodelay(int fd)
{
    return setopt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
}
