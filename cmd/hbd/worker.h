/*
 * worker.h -- what hbd's worker files share: the connection, the worker, and the I/O backend
 * interface.
 *
 * A worker's connections, listener, UDP socket, timers and cross-thread posts always live in
 * its gw_ev loop. How connection bytes move is the backend's: epoll (readiness, read/write per
 * event) or io_uring (multishot receive into a shared buffer ring, replies sent as submissions
 * batched with the wait, the gw_ev loop itself polled through the ring). Parsing, replies,
 * limits, lingering close, idle timeouts and drain are the same code for both.
 */
#ifndef HBD_WORKER_H
#define HBD_WORKER_H

#include <semaphore.h>
#include <sys/socket.h>

#include "hbd.h"

#define HBD_UDP_BATCH 16

struct conn {
    struct conn *prev, *next;
    struct hbd_worker *w;
    int fd;
    uint8_t closing;    /* close once the replies are out */
    uint8_t writing;    /* epoll: EPOLLOUT armed; io_uring: a send is in flight */
    uint8_t dead;       /* closed; memory freed once the backend is done with it */
    uint8_t lingering;  /* replies sent and FIN sent; reading what the client still sends */
    uint8_t queued;     /* io_uring: on the worker's list of connections with replies to send */
    uint8_t recv_armed; /* io_uring: a multishot receive is armed */
    uint8_t inflight;   /* io_uring: submissions whose last completion has not arrived */
    uint64_t id;
    uint64_t connected_ms, last_ms;
    uint64_t msgs, bytes_in;
    struct gw_buf in;   /* a partial line, allocated only when one is pending */
    struct gw_buf out;  /* replies not yet handed to the socket */
    struct gw_buf snd;  /* io_uring: the replies of the send in flight (immutable until done) */
    struct conn *qnext; /* io_uring: send list / reap list */
    char addr[48];
};

struct hbd_worker;

/* An I/O backend. Every function runs on the worker's thread. */
struct hbd_io {
    const char *name;
    /* Sets up the backend on the worker's thread; 0 or -1 with err set. */
    int (*start)(struct hbd_worker *w, char *err);
    /* Runs until w->stop, then frees what start() made. */
    void (*run)(struct hbd_worker *w);
    /* Starts reading a new connection; 0 or -1 with err set (the caller closes). */
    int (*open)(struct conn *c, char *err);
    /* A connection hbd_conn_close() unlinked: close its fd and free it once nothing of the
     * kernel's still refers to it. */
    void (*release)(struct conn *c);
    /* Sends what is queued on c->out (replies; drain). */
    void (*flush)(struct conn *c);
    /* FIN was sent: keep reading, and discard, what the client still sends. */
    void (*linger)(struct conn *c);
};

extern const struct hbd_io hbd_io_epoll;
extern const struct hbd_io hbd_io_uring;

/* 0 when io_uring with what hbd needs works here, else -1 with why set. */
int hbd_uring_probe(char *why, size_t len);

struct hbd_worker {
    struct hbd *h;
    const struct hbd_io *io;
    unsigned index;
    pthread_t thread;
    sem_t started;
    int start_rc;
    char start_err[GW_ERR_LEN];
    volatile int stop; /* set on the worker's own thread */
    struct gw_ev *ev;
    struct gw_listener *listener;
    int ufd;
    int draining;
    struct conn *conns;
    unsigned nconns;
    struct gw_ev_timer idle_timer, linger_timer;
    uint64_t accept_logged_ms;
    unsigned nlingering;
    char *rbuf;
    struct gw_buf obuf;
    void *backend; /* the io_uring backend's state */
    size_t udp_max;
    char *udp_bufs;
    struct mmsghdr udp_msgs[HBD_UDP_BATCH];
    struct iovec udp_iov[HBD_UDP_BATCH];
    struct sockaddr_storage udp_peers[HBD_UDP_BATCH];
    struct mmsghdr udp_replies[HBD_UDP_BATCH];
    struct iovec udp_reply_iov[HBD_UDP_BATCH];
    char udp_addr[GW_ADDR_STRLEN];
};

#define HBD_READ_BYTES (64 * 1024)
#define HBD_LINGER_MAX_BYTES (1024 * 1024)

/* worker.c, for the backends */
/* The one place a connection ends (any backend). */
void hbd_conn_close(struct conn *c, const char *reason);
void hbd_conn_free(struct conn *c);
/* Replies follow any still queued on the connection, to keep them in order. */
static inline int
hbd_conn_pending(const struct conn *c)
{
    return gw_buf_len(&c->out) || gw_buf_len(&c->snd);
}
/* Parses bytes received: completes a pending partial line, then whole lines in place, then
 * keeps what is left; replies go to dst. Returns the number of requests, or -1 when the
 * connection must close once its replies are out. */
int hbd_conn_parse(struct conn *c, struct gw_buf *dst, char *data, size_t n, size_t max_line);
/* Accounting after a batch of input: total bytes, requests, -1 from the parser. */
void hbd_conn_after_input(struct conn *c, uint64_t bytes, uint64_t msgs, int rc);
/* Replies are all out and the connection is closing: lingering close. */
void hbd_conn_linger(struct conn *c);
/* Bytes read while lingering; closes past the limit. */
void hbd_conn_linger_input(struct conn *c, size_t n);
/* Output past max_output: counted, closed. Returns 1 when it closed c. */
int hbd_conn_overflow(struct conn *c, size_t queued);

#endif
