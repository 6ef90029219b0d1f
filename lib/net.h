/*
 * net.h -- addresses and sockets: parse "host:port", listen, accept, connect.
 *
 * Accepted address forms: "1.2.3.4:80", "[::1]:80", "*:80" (all interfaces, IPv6 dual-stack
 * when the kernel has IPv6, else 0.0.0.0), ":80" (same as "*:80"), "localhost:80" and other
 * names (resolved with getaddrinfo, so only at startup or in a thread that may block),
 * "unix:/path". Ports are 1..65535 (0 allowed only where a free port is wanted and the
 * caller says so). All sockets are created non-blocking and close-on-exec.
 * Thread-safe: no shared state.
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
 * Returns 0, or -1 with err naming the problem ("missing port in '...'", "bad port '...'",
 * "unknown host 'x'", ...). */
#define GW_NET_ALLOW_PORT0 0x1
#define GW_NET_NO_RESOLVE 0x2
int gw_net_parse_addr(const char *s, int flags, struct gw_addr *a, char *err);

/* Formats a socket address as "1.2.3.4:80", "[::1]:80" or "unix:/path". Returns buf. */
char *gw_net_addr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);

/* Port of an inet address (host order), 0 for others. */
int gw_net_addr_port(const struct gw_addr *a);

/* TCP listener with SO_REUSEADDR, and SO_REUSEPORT when reuseport is set (one listener per
 * worker thread, the kernel spreads connections). Returns the fd or -1 with err. */
int gw_net_listen_tcp(const struct gw_addr *a, int backlog, int reuseport, char *err);

/* Bound UDP socket, SO_REUSEPORT when reuseport is set. Returns the fd or -1 with err. */
int gw_net_bind_udp(const struct gw_addr *a, int reuseport, char *err);

/* Unix stream listener at path (an existing stale socket file is replaced; a live one, with a
 * process answering, is an error "already in use"), chmod to mode. Returns fd or -1. */
int gw_net_listen_unix(const char *path, unsigned mode, int backlog, char *err);

/* Accepts one connection, non-blocking and close-on-exec. Returns the fd, or -1 with errno
 * (EAGAIN when there is none; EMFILE/ENFILE when out of descriptors). */
int gw_net_accept(int lfd, struct sockaddr_storage *peer, socklen_t *peer_len);

/* Starts a non-blocking TCP (or unix) connect. Returns the fd, with *in_progress set when the
 * connection completes later (wait for writability, then gw_net_connect_result()); or -1 with
 * err. */
int gw_net_connect(const struct gw_addr *a, int *in_progress, char *err);

/* Outcome of a finished non-blocking connect: 0, or -1 with err. */
int gw_net_connect_result(int fd, char *err);

/* Blocking connect with a timeout, for clients: returns a blocking fd or -1 with err. */
int gw_net_connect_timeout(const struct gw_addr *a, int timeout_ms, char *err);

/* Socket options; 0 or -1 with errno. */
int gw_net_set_nonblock(int fd, int on);
int gw_net_set_nodelay(int fd);

#endif
