/*
 * udp.h -- batched UDP receive and reply (recvmmsg/sendmmsg): one system call for up to
 * GW_UDP_BATCH datagrams each way.
 *
 * A batch owns GW_UDP_BATCH buffers of max_bytes each; gw_udp_recv() fills them, the caller
 * looks at each datagram and queues replies to their senders, gw_udp_send() sends the replies
 * in one call. A batch belongs to one thread.
 *
 * Kernel drops: with gw_udp_count_drops() on the socket, each datagram carries the socket's
 * count of datagrams dropped because its receive buffer was full (SO_RXQ_OVFL), and the batch
 * keeps the latest: gw_udp_dropped(). Drops are learnt with the next datagram that gets in.
 */
#ifndef GW_UDP_H
#define GW_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net.h"

#define GW_UDP_BATCH 16
#define GW_UDP_SEND_BATCH 64 /* datagrams per sendmmsg() in gw_udp_send_each() */

struct gw_udp_batch;

/* Buffers for GW_UDP_BATCH datagrams of up to max_bytes (a longer one is cut and reported as
 * truncated). NULL with err when out of memory. */
struct gw_udp_batch *gw_udp_batch_new(size_t max_bytes, char *err);
void gw_udp_batch_free(struct gw_udp_batch *b);

/* Receives up to GW_UDP_BATCH datagrams from fd without blocking; the replies queued before
 * are forgotten. Returns how many (0: none waiting), or -1 with errno. */
int gw_udp_recv(struct gw_udp_batch *b, int fd);

/* Datagram i (< the last gw_udp_recv result): its bytes, writable, valid until the next
 * receive; *len its length; *truncated 1 when it was longer than max_bytes. */
char *gw_udp_data(struct gw_udp_batch *b, int i, size_t *len, int *truncated);

/* The sender of datagram i and its length. */
const struct sockaddr *gw_udp_peer(const struct gw_udp_batch *b, int i, socklen_t *len);

/* Queues a reply of len bytes to the sender of datagram i; data must stay valid until
 * gw_udp_send(). */
void gw_udp_reply(struct gw_udp_batch *b, int i, const void *data, size_t len);

/* Sends the queued replies, best effort (non-blocking; a full socket drops them, as UDP
 * may). Returns how many were sent, or -1 with errno. */
int gw_udp_send(struct gw_udp_batch *b, int fd);

/* Asks the kernel to report fd's drops (SO_RXQ_OVFL). 0, or -1 with err. */
int gw_udp_count_drops(int fd, char *err);

/* The socket's drop count as last reported (cumulative since the socket was made, wrapping at
 * 2^32: take differences as uint32_t). 0 until a report came. */
uint32_t gw_udp_dropped(const struct gw_udp_batch *b);

/* Sets fd's receive buffer to bytes: as root past net.core.rmem_max (SO_RCVBUFFORCE), else
 * capped by it. *got gets the size the kernel uses (it doubles the request for bookkeeping).
 * 0, or -1 with err. */
int gw_udp_set_rcvbuf(int fd, size_t bytes, size_t *got, char *err);

/* ---- the sending side: a connected socket that sends without waiting for answers ---- */

/* A non-blocking UDP socket connected to a (sends need no address; a datagram from anyone
 * else is not received), with IP_RECVERR (IPV6_RECVERR) on: the ICMP errors its sends draw,
 * as "port unreachable", wait on its error queue for gw_udp_refused() instead of failing a
 * later send now and then (sendmmsg() drops the error when it sent some datagrams before).
 * Returns the fd (the caller's), or -1 with err (errno kept). */
int gw_udp_connect(const struct gw_addr *a, char *err);

/* Sends n datagrams of each bytes, laid back to back in buf, on the connected fd without
 * blocking, up to GW_UDP_SEND_BATCH in one sendmmsg(). Returns how many the socket took
 * (fewer than asked: it is full, or n > GW_UDP_SEND_BATCH), or -1 with errno (EAGAIN, ENOBUFS:
 * full; ECONNREFUSED: an ICMP error had come back, see gw_udp_refused()). */
int gw_udp_send_each(int fd, const char *buf, size_t each, unsigned n);

/* Empties fd's error queue (at most 64 entries a call): 1 when one of them said nothing
 * listens at the peer (ICMP port unreachable), else 0. */
int gw_udp_refused(int fd);

#endif
