/*
 * udp.h -- batched UDP receive and reply (recvmmsg/sendmmsg): one system call for up to
 * GW_UDP_BATCH datagrams each way.
 *
 * A batch owns GW_UDP_BATCH buffers of max_bytes each; gw_udp_recv() fills them, the caller
 * looks at each datagram and queues replies to their senders, gw_udp_send() sends the replies
 * in one call. A batch belongs to one thread.
 */
#ifndef GW_UDP_H
#define GW_UDP_H

#include <stddef.h>
#include <sys/socket.h>

#define GW_UDP_BATCH 16

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

#endif
