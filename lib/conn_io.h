/*
 * conn_io.h -- private to lib/conn*.c: the connection and loop structs and the interface
 * between the connection core (conn.c) and its I/O backends (conn_epoll.c, conn_uring.c).
 *
 * The core owns the lifecycle, buffers, limits, timers and callbacks; a backend only moves
 * bytes: it reads and hands input to gw_conn__input(), reports EOF and errors, and sends
 * c->out (io_uring: swapped into c->snd while a send is in flight), then calls
 * gw_conn__settle(). c->out and c->snd are NULL while c has no output: buffers come from the
 * loop's spares (gw_conn__outbuf) and go back there when c's output has drained. Every
 * function runs on the loop's thread.
 */
#ifndef GW_CONN_IO_H
#define GW_CONN_IO_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"

/* Flag bits of struct gw_conn. */
#define CF_CLOSED 0x0001      /* gw_conn_close ran; waiting to be freed */
#define CF_FINISHING 0x0002   /* no more on_data; close once the output is out */
#define CF_EOF 0x0004         /* the peer sent EOF */
#define CF_LINGERING 0x0008   /* FIN sent; discarding input until the linger ends */
#define CF_WRITING 0x0010     /* epoll: EPOLLOUT armed; io_uring: a send or poll in flight */
#define CF_QUEUED 0x0020      /* on the loop's todo list */
#define CF_RECV_ARMED 0x0040  /* io_uring: a multishot receive is armed */
#define CF_PAUSED 0x0080      /* gw_conn_pause_read() */
#define CF_PAUSED_HIGH 0x0100 /* output above out_high with pause_on_high */
#define CF_ABOVE_HIGH 0x0200  /* output went above out_high: on_writable at out_low */
#define CF_CONNECTING 0x0400  /* outgoing, not connected yet: the fd is in gw_ev */
#define CF_REDELIVER 0x0800   /* kept input to offer again after a resume */
#define CF_CANCELING 0x1000   /* io_uring: the receive is being cancelled (pause) */
#define CF_EOF_SENT 0x2000    /* on_eof was called */
#define CF_SHUT_WR 0x4000     /* gw_conn_shutdown_write: FIN once the output is out */
#define CF_WR_DONE 0x8000     /* FIN sent: no more output */

/* Kept small: an idle connection costs this struct (200 bytes, a 208-byte malloc chunk) and its
 * ev timer heap slot, nothing else: no input, no output buffer (hbd's budget is 300 B of RSS per
 * idle connection, its own per-connection state included). */
struct gw_conn {
    struct gw_conn *prev, *next; /* the loop's open list; the reap/zombie lists once closed */
    struct gw_conn_loop *loop;
    const struct gw_conn_proto *proto;
    void *user;
    uint64_t id;
    uint64_t last_ms; /* last touch; linger start; connect deadline while connecting */
    uint64_t msgs, bytes_in;
    struct gw_ev_timer timer; /* idle, linger and connect deadlines, re-armed lazily */
    char *in;                 /* unconsumed input, or NULL; its size: gw_conn__in_size(in_len) */
    uint32_t in_len;
    int fd;
    uint32_t created_s; /* loop clock, seconds */
    uint16_t flags;
    uint8_t inflight;      /* io_uring: requests whose last completion has not arrived */
    struct gw_buf *out;    /* queued output; NULL: none */
    struct gw_buf *snd;    /* io_uring: the output of the send in flight (immutable until done) */
    struct gw_conn *qnext; /* todo list */
    char addr[48];
};

/* Output buffers kept by a loop for reuse, so a reply costs no malloc and free: up to
 * GW_CONN_SPARES of them (with hundreds of busy connections, an io_uring batch hands back and
 * takes hundreds at a time: with 64, a third of hbd's user time at 500 connections went to
 * malloc/free), each with its storage when that is at most GW_CONN_SPARE_BYTES and the loop's
 * spares hold at most GW_CONN_SPARE_TOTAL (else just the 40-byte struct). */
#define GW_CONN_SPARES 1024
#define GW_CONN_SPARE_BYTES (4 * 1024)
#define GW_CONN_SPARE_TOTAL (1024 * 1024)

struct gw_conn_backend {
    const char *name;
    /* Sets up the backend's state for l (on l's thread); 0 or -1 with err. */
    int (*start)(struct gw_conn_loop *l, char *err);
    /* Runs until l->stop; 0 or -1 with err. */
    int (*run)(struct gw_conn_loop *l, char *err);
    /* Frees what start made, and the closed connections it still held. */
    void (*stop)(struct gw_conn_loop *l);
    /* Starts reading c (connected); 0 or -1 with err. */
    int (*open)(struct gw_conn *c, char *err);
    /* c was closed and unlinked: close the fd and hand c to gw_conn__reap() once nothing of
     * the kernel's refers to it. */
    void (*release)(struct gw_conn *c);
    /* After the batch: send c->out and call gw_conn__settle(); or follow a change of what c
     * should read (pause, resume, finish, linger, EOF). */
    void (*service)(struct gw_conn *c);
    /* Optional (gw_conn_write_now): offers n bytes straight to the socket of c, which has
     * nothing queued; returns the bytes taken (0 when the socket is full), or -1 with errno.
     * NULL: the output is always queued. */
    ssize_t (*send_now)(struct gw_conn *c, const void *data, size_t n);
};

extern const struct gw_conn_backend gw_conn__epoll;
extern const struct gw_conn_backend gw_conn__uring;

struct gw_conn_loop {
    struct gw_ev *ev;
    const struct gw_conn_backend *io;
    void *backend;
    struct gw_conn *conns; /* open */
    unsigned nconns;
    struct gw_conn *todo; /* to service after the batch (qnext) */
    struct gw_conn *reap; /* closed, freed at the end of the iteration */
    struct gw_conn *cur;  /* epoll: the connection being handled; owns obuf */
    struct gw_buf obuf;   /* epoll: cur's output while its own queue is empty */
    char *rbuf;           /* epoll: read buffer */
    void *owner;
    gw_conn_notice_fn notice;
    void *notice_arg;
    int running;              /* inside gw_conn_loop_run() */
    struct gw_ev_timer batch; /* driven by gw_ev_run(): the after-batch work, as a 0 ms timer */
    atomic_int stop;          /* set from any thread */

    struct gw_buf *spares[GW_CONN_SPARES]; /* drained output buffers, for the next to write */
    unsigned nspares;
    size_t spare_bytes; /* their storage */
};

#define GW_CONN_READ_BYTES (64 * 1024)
/* While reads are paused, input that still arrives (io_uring) is kept up to max_in plus this. */
#define GW_CONN_PAUSED_SLACK (1024 * 1024)

/* conn.c, for the backends */
/* Input received (n > 0); delivered, kept, or discarded by the connection's state. */
void gw_conn__input(struct gw_conn *c, char *data, size_t n);
/* A zero-length read. */
void gw_conn__eof(struct gw_conn *c);
/* Output progressed or the state changed: limits, marks, the end of a finish. */
void gw_conn__settle(struct gw_conn *c);
/* 1 when the backend should be reading c. */
int gw_conn__want_read(const struct gw_conn *c);
/* Passes a notice to the owner's callback, if any. */
void gw_conn__notice(struct gw_conn_loop *l, const char *msg);
/* Queues c for service after the batch. */
void gw_conn__todo(struct gw_conn *c);
/* Services every queued connection. */
void gw_conn__service_todo(struct gw_conn_loop *l);
/* Services every queued connection, then frees the reaped ones. */
void gw_conn__after_batch(struct gw_conn_loop *l);
/* Hands a released connection over to be freed at the end of the iteration. */
void gw_conn__reap(struct gw_conn *c);
/* Frees a connection's memory now (its fd is closed already). */
void gw_conn__free(struct gw_conn *c);
const struct gw_conn_limits *gw_conn__limits(struct gw_conn *c);
/* c's output buffer, taken from the loop's spares when c has none; NULL when memory ran out. */
struct gw_buf *gw_conn__outbuf(struct gw_conn *c);
/* c->snd has been sent: it goes back to the loop's spares (c->snd is NULL after). */
void gw_conn__give_snd(struct gw_conn *c);
/* What c->out / c->snd hold. */
static inline size_t
gw_conn__out_len(const struct gw_conn *c)
{
    return c->out ? gw_buf_len(c->out) : 0;
}
static inline size_t
gw_conn__snd_len(const struct gw_conn *c)
{
    return c->snd ? gw_buf_len(c->snd) : 0;
}
/* Queued output, in flight included. */
static inline size_t
gw_conn__queued(const struct gw_conn *c)
{
    return gw_conn__out_len(c) + gw_conn__snd_len(c);
}
/* The allocated size of c->in for n kept bytes: powers of two from 256, so input that comes in
 * many pieces is not copied again for each (c->in shrinks only in place, so it is always at
 * least this). */
static inline size_t
gw_conn__in_size(size_t n)
{
    size_t s = 256;

    while (s < n && s <= SIZE_MAX / 2)
        s *= 2;
    return s < n ? n : s;
}

#endif
