/*
 * net.h -- addresses and sockets: parse "host:port", listen, accept, connect.
 *
 * Accepted address forms: "1.2.3.4:80", "[::1]:80", "*:80" (all interfaces, IPv6 dual-stack
 * when the kernel has IPv6, else 0.0.0.0), ":80" (same as "*:80"), "localhost:80" and other
 * names (resolved with getaddrinfo, so only at startup or in a thread that may block),
 * "unix:/path". Ports are 1..65535 (0 allowed only where a free port is wanted and the
 * caller says so). All sockets are created non-blocking and close-on-exec.
 * Thread-safe: no shared state.
 *
 * The wildcard is decided at parse time: "::" if an AF_INET6 socket can be created, else
 * 0.0.0.0. Listening on a "::" wildcard sets IPV6_V6ONLY=0 (IPv4 peers then show up as
 * ::ffff:a.b.c.d, which gw_net_addr_str() prints as plain IPv4), and falls back to 0.0.0.0 if
 * the kernel refuses AF_INET6 by then. A name resolves to its first getaddrinfo() result.
 * IPv6 zone ids ("[fe80::1%eth0]:80") and abstract unix sockets are not supported.
 */
#ifndef GW_NET_H
#define GW_NET_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "util.h"

/* "[ffff:...:ffff]:65535" or a unix path plus the prefix fits. */
#define GW_ADDR_STRLEN 128

struct gw_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    int wildcard; /* parsed from "*:port" or ":port" */
};

/* Parses s into a. Flags: GW_NET_ALLOW_PORT0 accepts port 0; GW_NET_NO_RESOLVE refuses names.
 * Returns 0, or -1 with err naming the problem. Quoted input is cut at 64 bytes ("...") and
 * non-printable bytes show as '?'. The messages, for input IN, host part H and port part P:
 *   empty address                                       ("" or NULL)
 *   missing port in 'IN'                                ("1.2.3.4", "host:", "[::1]")
 *   bad port 'P' in 'IN' (want 1..65535)                ("h:x", "h:-1", "h:65536")
 *   port 0 not allowed in 'IN'                          (without GW_NET_ALLOW_PORT0)
 *   unbalanced '[' in 'IN'                              ("[::1:80")
 *   unbalanced brackets in 'IN'                         ("::1]:80", "[[::1]]:80")
 *   expected ':port' after ']' in 'IN'                  ("[::1]80")
 *   bad IPv6 address 'H' in 'IN'                        ("[::g]:80", "[]:80")
 *   IPv6 address needs brackets in 'IN' (write '[addr]:port')   ("::1:80")
 *   bad IPv4 address 'H' in 'IN'                        (digits and dots only: "1.2.3:80")
 *   host name too long in 'IN'                          (over 253 bytes)
 *   host name 'H' not allowed in 'IN' (numeric address required)  (GW_NET_NO_RESOLVE)
 *   unknown host 'H' in 'IN'                            (getaddrinfo: no such name)
 *   cannot resolve 'H' in 'IN': REASON                  (other getaddrinfo failures)
 *   empty unix socket path in 'IN'                      ("unix:")
 *   unix socket path too long in 'IN' (N bytes, max 107)
 * On failure *a is zeroed. */
#define GW_NET_ALLOW_PORT0 0x1
#define GW_NET_NO_RESOLVE 0x2
int gw_net_parse_addr(const char *s, int flags, struct gw_addr *a, char *err);

/* The host of a "HOST:PORT" address string (as gw_net_addr_str and gw_conn_addr write it)
 * into host (len bytes, cut to fit): "1.2.3.4" of "1.2.3.4:5678", "::1" of "[::1]:5678". For
 * per-source limits keyed by address. */
void gw_net_addr_host(const char *addr, char *host, size_t len);

/* Formats a socket address as "1.2.3.4:80", "[::1]:80" or "unix:/path" ("unix:" for an
 * unnamed peer); IPv4-mapped IPv6 addresses print as IPv4. Always NUL-terminates (truncates
 * to buflen). Returns buf. */
char *gw_net_addr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);

/* Port of an inet address (host order), 0 for others. */
int gw_net_addr_port(const struct gw_addr *a);

/* TCP listener with SO_REUSEADDR, and SO_REUSEPORT when reuseport is set (one listener per
 * worker thread, the kernel spreads connections); backlog <= 0 means SOMAXCONN. Returns the
 * fd or -1 with err ("bind 127.0.0.1:80: Permission denied"; "'unix:/x' is not an IP address").
 * Use getsockname() to learn the port bound for port 0. */
int gw_net_listen_tcp(const struct gw_addr *a, int backlog, int reuseport, char *err);

/* Bound UDP socket, SO_REUSEPORT when reuseport is set (never SO_REUSEADDR). Returns the fd or
 * -1 with err. */
int gw_net_bind_udp(const struct gw_addr *a, int reuseport, char *err);

/* Unix stream listener at path (an existing stale socket file, one that refuses connections,
 * is replaced; a live one, with a process answering, is the error "unix:PATH already in use
 * (another process is listening)"; a file that is not a socket is left alone and refused),
 * chmod to mode before listen(); backlog <= 0 means SOMAXCONN. Returns fd or -1 with err.
 * The caller unlinks path when it closes the listener. */
int gw_net_listen_unix(const char *path, unsigned mode, int backlog, char *err);

/* Accepts one connection, non-blocking and close-on-exec. peer and peer_len may be NULL.
 * Returns the fd, or -1 with errno (EAGAIN when there is none; EMFILE/ENFILE when out of
 * descriptors; ECONNABORTED and the like: try the next one). */
int gw_net_accept(int lfd, struct sockaddr_storage *peer, socklen_t *peer_len);

/* Starts a non-blocking TCP (or unix) connect. Returns the fd, with *in_progress set when the
 * connection completes later (wait for writability, then gw_net_connect_result()); or -1 with
 * err. */
int gw_net_connect(const struct gw_addr *a, int *in_progress, char *err);

/* Outcome of a finished non-blocking connect (SO_ERROR): 0, or -1 with err
 * ("connect: Connection refused"). */
int gw_net_connect_result(int fd, char *err);

/* Connect with a timeout (poll), for clients: returns a blocking fd or -1 with err, e.g.
 * "connect 127.0.0.1:9: Connection refused", "connect 10.0.0.1:80: timed out after 500 ms".
 * timeout_ms <= 0 waits as long as the kernel does. */
int gw_net_connect_timeout(const struct gw_addr *a, int timeout_ms, char *err);

/* Socket options; 0 or -1 with errno. set_nonblock(fd, 0) makes fd blocking. */
int gw_net_set_nonblock(int fd, int on);
int gw_net_set_nodelay(int fd);

#endif
