/*
 * conn.h -- TCP connections on a gw_ev loop: one lifecycle, bounded buffers, flow control and
 * two I/O backends (epoll, io_uring) behind the same protocol callbacks.
 *
 * A daemon writes a protocol: a const struct gw_conn_proto of callbacks. The layer reads,
 * keeps the input the protocol has not consumed yet (bounded), queues and sends the output,
 * pauses reading at output high-water marks, times out idle connections, sends what is owed
 * after the peer's EOF, does the lingering close after a final reply, and frees every
 * connection in one way whatever the backend.
 *
 * Threads: a struct gw_conn_loop belongs to one thread, the one that created it and runs it;
 * every function here must be called on that thread, from one of its callbacks (connection
 * callbacks, gw_ev timers, gw_ev_post calls) or before gw_conn_loop_run(). The exception is
 * gw_conn_loop_stop(), which any thread may call. lib/worker.h runs N such loops, one per
 * thread, each with its own SO_REUSEPORT listener.
 *
 * Lifetime: gw_conn_close(c, reason) is the one place a connection ends (the layer calls it
 * too: EOF, errors, idle timeout, output overflow). It calls on_close at once, exactly once;
 * from then on no callback of c runs again and c may only be passed to the gw_conn_* getters
 * and gw_conn_close(), which is idempotent. The memory of c is freed later, at the end of the
 * loop iteration in which it was closed (and, on io_uring, only once the kernel holds no
 * request of it), so a pointer to c stays valid until the current callback returns. A
 * protocol that keeps pointers to c elsewhere (a proxy's peer) drops them in on_close.
 *
 * Input: on_data(c, data, len) gets the bytes received, preceded by the ones it left
 * unconsumed last time, and returns how many it consumed. The rest (at most limits.max_in
 * bytes, else the connection closes with GW_CONN_INPUT_TOO_LARGE) is kept and offered again,
 * ahead of new input. data is writable (a parser may put NUL bytes in it) and valid only
 * during the call. An idle connection keeps no input memory.
 *
 * Output: gw_conn_write()/gw_conn_reserve()+gw_conn_commit() queue bytes; they are sent after
 * the current callback batch (on io_uring, as send submissions batched with the next wait).
 * What the socket does not take waits on the connection. A connection holds an output buffer
 * only while it has output queued: once that has drained, the buffer goes back to the loop,
 * which keeps up to 1024 (with up to 4 KiB of storage each, 1 MiB in all) for the next
 * connection that writes, so a reply costs no allocation and an idle connection holds no I/O
 * buffer.
 *   - limits.max_out: output still queued above it after a send was tried closes the
 *     connection with GW_CONN_OUTPUT_FULL (a client that sends without reading).
 *   - limits.out_high / out_low: once queued output was seen above out_high (after a batch,
 *     or by gw_conn_above_high()), on_writable is called when it has drained to out_low or
 *     below (a proxy resumes its other side there). With limits.pause_on_high, the
 *     connection's own reads also pause above out_high and resume at out_low (a
 *     request/reply protocol's backpressure).
 *   - gw_conn_pause_read()/gw_conn_resume_read(): explicit, e.g. a proxy stops reading side A
 *     while side B's output is above its mark, and a server stops reading while its own queue
 *     is full. Independent of the automatic pause: reads run only when neither holds them.
 *
 * EOF: a zero-length read means "no more input", not "gone": on_eof is called (default, when
 * NULL: gw_conn_finish()), so every reply owed is still sent before the close.
 *
 * Ending politely: gw_conn_finish() stops handing input to on_data, sends what is queued, then
 * sends FIN and discards what the peer still sends for up to GW_CONN_LINGER_MS or
 * GW_CONN_LINGER_MAX_BYTES, then closes (nginx's lingering close): closing a socket with unread
 * input makes the kernel send a reset, and the peer could then lose the final reply.
 *
 * Idle timeout: the clock restarts only at gw_conn_touch(), which a protocol calls for each
 * complete message (so bytes trickled in do not keep a connection alive). One timer per
 * connection, re-armed lazily: a touch stores the time, the timer re-arms itself for the
 * remainder when it fires; nothing walks over all connections.
 */
#ifndef GW_CONN_H
#define GW_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ev.h"
#include "net.h"
#include "util.h"

struct gw_conn;
struct gw_conn_loop;

/* Close reasons the layer gives to on_close (compare with strcmp). Others: strerror(errno),
 * "connect: <strerror>", or the protocol's own reason passed to gw_conn_close(). */
#define GW_CONN_PEER_CLOSED "peer closed"         /* EOF, and everything owed was sent */
#define GW_CONN_FINISHED "closed by request"      /* gw_conn_finish() completed */
#define GW_CONN_IDLE "idle timeout"               /* limits.idle_ms without gw_conn_touch() */
#define GW_CONN_OUTPUT_FULL "output buffer full"  /* limits.max_out passed */
#define GW_CONN_INPUT_TOO_LARGE "input too large" /* on_data left more than limits.max_in */
#define GW_CONN_CONNECT_TIMEOUT "connect timeout" /* gw_conn_connect() took too long */
#define GW_CONN_DRAINING "draining"               /* gw_conn_loop_drain() */
#define GW_CONN_SHUTDOWN "shutdown"               /* gw_conn_loop_free() with c still open */
#define GW_CONN_OUT_OF_MEMORY "out of memory"
#define GW_CONN_QUEUE_FULL "submission queue full" /* io_uring: no slot for a request */

/* Lingering close bounds (see gw_conn_finish). */
#define GW_CONN_LINGER_MS 2000
#define GW_CONN_LINGER_MAX_BYTES (1024 * 1024)

/* Defaults for limits left at 0. */
#define GW_CONN_MAX_IN (64 * 1024)
#define GW_CONN_MAX_OUT (64 * 1024 * 1024)

/* Per-connection limits. Read by the layer at each batch through proto->limits, so a reload
 * that publishes new values applies to open connections too. */
struct gw_conn_limits {
    size_t max_in;     /* unconsumed input kept between reads; 0: GW_CONN_MAX_IN */
    size_t max_out;    /* queued output above this (after a send was tried) closes; 0:
                        * GW_CONN_MAX_OUT */
    size_t out_high;   /* high-water mark; 0: none (no on_writable, no automatic pause) */
    size_t out_low;    /* low-water mark, <= out_high */
    int pause_on_high; /* 1: reads pause while output is above out_high (until out_low) */
    uint64_t idle_ms;  /* no gw_conn_touch() for this long closes (GW_CONN_IDLE); 0: never */
};

/*
 * A protocol. Every callback runs on the loop's thread and may call any gw_conn_* function on
 * any connection of the loop, including gw_conn_close() on its own (see Lifetime above).
 * Callbacks left NULL do nothing, except on_eof (NULL: gw_conn_finish).
 */
struct gw_conn_proto {
    const char *name; /* for errors */
    /* The limits of c: called at each batch, must be cheap; the result must stay valid until
     * the next call. NULL: every limit at its default. */
    const struct gw_conn_limits *(*limits)(struct gw_conn *c);
    /* c is connected (accepted, or an outgoing connect succeeded). */
    void (*on_open)(struct gw_conn *c);
    /* n new bytes arrived, before on_data sees them (not called for input discarded while
     * finishing or lingering): for byte counters. */
    void (*on_received)(struct gw_conn *c, size_t n);
    /* Input; returns the bytes consumed (<= len). See Input above. */
    size_t (*on_data)(struct gw_conn *c, char *data, size_t len);
    /* Queued output went above out_high and has drained to out_low or below. */
    void (*on_writable)(struct gw_conn *c);
    /* The peer sent EOF (after on_data got everything before it). */
    void (*on_eof)(struct gw_conn *c);
    /* c ended (once, at gw_conn_close); reason is a static or short-lived string: copy it to
     * keep it. For an outgoing connection that never opened, on_open was not called. */
    void (*on_close)(struct gw_conn *c, const char *reason);
};

/* ---- I/O backends ---- */

enum gw_conn_io {
    GW_CONN_IO_AUTO,  /* io_uring where gw_conn_uring_probe() passes, else epoll; a loop
                       * whose ring cannot be made falls back to epoll */
    GW_CONN_IO_EPOLL, /* readiness: read()/write() per event */
    GW_CONN_IO_URING, /* multishot receive into a per-loop buffer ring, batched sends */
};

/* "auto", "epoll" or "uring" to the enum; -1 for anything else. */
int gw_conn_io_parse(const char *name);

/* 0 when io_uring with what the layer needs (Linux 6.1: single issuer, deferred task work,
 * multishot receive, buffer rings) can be used here (seccomp filters, io_uring_disabled
 * included), else -1 with the reason in err. Any thread. */
int gw_conn_uring_probe(char *err);

/* ---- the loop ---- */

/* Makes a loop over ev, which it does not own, with the given backend (AUTO: see the enum;
 * call gw_conn_uring_probe() first to log the choice). Call it on the thread that will run
 * it (an io_uring ring is single-issuer). Returns NULL with err set (io_uring: ring setup
 * failed, the caller may retry with EPOLL).
 * An EPOLL loop may also be left to ev's own gw_ev_run() (a daemon's main loop serving its
 * control socket): the work gw_conn_loop_run() does after each batch (output queued from
 * timers, posts and deferred calls; freeing closed connections) then runs from a 0 ms timer
 * on ev, after the iteration's fd events. Do not call gw_conn_loop_run() on such a loop, and
 * free it with gw_conn_loop_free() outside its connections' callbacks (gw_ev_defer). An
 * io_uring loop must be run by gw_conn_loop_run(). */
struct gw_conn_loop *gw_conn_loop_new(struct gw_ev *ev, enum gw_conn_io io, char *err);

/* Runs ev's callbacks and the connections' I/O until gw_conn_loop_stop(). Returns 0, or -1
 * when the poller failed (err set). */
int gw_conn_loop_run(struct gw_conn_loop *l, char *err);

/* Makes gw_conn_loop_run() return after the current iteration. Any thread, provided l and its
 * ev are not freed meanwhile (lib/worker stops its loops from their own thread, woken by a
 * flag, and frees each ev after the join). */
void gw_conn_loop_stop(struct gw_conn_loop *l);

/* Closes every connection still open (on_close with GW_CONN_SHUTDOWN) and frees the loop
 * (not ev). Call it on the loop's thread after gw_conn_loop_run() returned. */
void gw_conn_loop_free(struct gw_conn_loop *l);

/* Ends every connection: those with output owed finish (gw_conn_finish), the others (and
 * those still connecting) close now with GW_CONN_DRAINING. */
void gw_conn_loop_drain(struct gw_conn_loop *l);

/* "epoll" or "io_uring". */
const char *gw_conn_loop_backend(const struct gw_conn_loop *l);
struct gw_ev *gw_conn_loop_ev(const struct gw_conn_loop *l);

/* Notices: one-line messages an operator may want in the log (the library does not log), as
 * when io_uring sends do not complete at submission on this kernel and the loop waits for
 * one completion at a time instead. fn runs on the loop's thread. */
typedef void (*gw_conn_notice_fn)(struct gw_conn_loop *l, const char *msg, void *arg);
void gw_conn_loop_on_notice(struct gw_conn_loop *l, gw_conn_notice_fn fn, void *arg);

/* A pointer for the loop's owner (lib/worker keeps its worker here). */
void gw_conn_loop_set_owner(struct gw_conn_loop *l, void *owner);
void *gw_conn_loop_owner(const struct gw_conn_loop *l);

/* Open connections (closed ones awaiting their free are not counted). */
unsigned gw_conn_loop_count(const struct gw_conn_loop *l);

/* Calls fn for each open connection, newest first. fn may close the connection it is given. */
void gw_conn_loop_each(struct gw_conn_loop *l, void (*fn)(struct gw_conn *c, void *arg), void *arg);

/* ---- connections ---- */

/* Takes over fd, a connected non-blocking socket (as gw_listener hands them), as a connection
 * of proto with the given user pointer; peer (peer_len bytes) gives its address string (NULL:
 * from getpeername). Sets TCP_NODELAY, starts reading, then calls on_open. The fd is the
 * layer's from this call on: on failure it is closed and NULL returned with err set (on_open
 * and on_close are not called). */
struct gw_conn *gw_conn_adopt(struct gw_conn_loop *l, int fd, const struct sockaddr *peer,
                              socklen_t peer_len, const struct gw_conn_proto *proto, void *user,
                              char *err);

/* Starts a non-blocking connect to a. Returns the connection (connecting), or NULL with err set
 * when the connect failed at once (nothing is called then). Later, on_open when connected, or
 * on_close with "connect: <why>" or GW_CONN_CONNECT_TIMEOUT after timeout_ms (0: none). Output
 * written before on_open is sent once connected. */
struct gw_conn *gw_conn_connect(struct gw_conn_loop *l, const struct gw_addr *a,
                                uint64_t timeout_ms, const struct gw_conn_proto *proto, void *user,
                                char *err);

/* Ends c now: on_close(c, reason) runs before this returns (once; later calls do nothing).
 * Queued output is dropped; use gw_conn_finish() to send it first. reason must stay valid
 * during the call. */
void gw_conn_close(struct gw_conn *c, const char *reason);

/* Ends c politely, after the current callback: no more on_data (kept input is dropped); what
 * is queued is sent; then FIN and the lingering close, which ends with on_close(c,
 * GW_CONN_FINISHED) when the peer closes, after GW_CONN_LINGER_MS, or past
 * GW_CONN_LINGER_MAX_BYTES. After an EOF the input side is done already: closes with
 * GW_CONN_PEER_CLOSED once the output is sent. The idle timeout still applies until the
 * output is out. Idempotent. */
void gw_conn_finish(struct gw_conn *c);

/* Half-close: sends FIN once the queued output is out, and keeps reading (a proxy passing
 * on its other side's EOF). Writes after this call fail. Idempotent. */
void gw_conn_shutdown_write(struct gw_conn *c);

/* Queues n bytes of output (also while finishing: it goes out before the FIN). Returns 0, or
 * -1 when c is closed or memory ran out (c is then closed with GW_CONN_OUT_OF_MEMORY). The
 * max_out check is made after the batch, once the socket was offered the output, so a
 * batch's replies are never cut. */
int gw_conn_write(struct gw_conn *c, const void *data, size_t n);

/* As gw_conn_write(), but the bytes are offered to the socket before this returns instead of
 * after the current batch: for a client that times a request from just before it leaves
 * (gwbench's engine), or must not wait for the end of the batch. epoll: one write() straight
 * from data when nothing is queued on c; what the socket does not take is queued. Queued as by
 * gw_conn_write() instead: behind output already queued, while connecting, from c's own
 * on_data (its output goes out at the end of that event), and on io_uring. Returns 0, or -1
 * when c is closed, or was closed by a write error (on_close ran, with strerror(errno)). */
int gw_conn_write_now(struct gw_conn *c, const void *data, size_t n);

/* n contiguous bytes at the end of c's output to fill, then gw_conn_commit() with what was
 * written (<= n). NULL as gw_conn_write() fails. The pointer is valid until the next
 * gw_conn_* call on c. */
char *gw_conn_reserve(struct gw_conn *c, size_t n);
void gw_conn_commit(struct gw_conn *c, size_t n);

/* Output queued and not yet taken by the socket. */
size_t gw_conn_out_len(const struct gw_conn *c);

/* 1 when c's queued output is above limits.out_high; on_writable(c) is then called once it
 * has drained to out_low, however fast that happens (even within this batch). The check a
 * proxy makes after writing to side B: if (gw_conn_above_high(b)) gw_conn_pause_read(a), and
 * in b's on_writable: gw_conn_resume_read(a). */
int gw_conn_above_high(struct gw_conn *c);

/* Offers the input c keeps (what on_data left unconsumed) to on_data again after the current
 * callback, without waiting for more: for a protocol that stopped consuming while it waited
 * for something else (an asynchronous reply) and is ready again. Nothing when no input is
 * kept; while reads are paused, the kept input is offered at the resume instead. */
void gw_conn_redeliver(struct gw_conn *c);

/* Stops handing input to on_data and reading c (on io_uring, input the kernel completed
 * already is kept, see Input) / starts again: input kept meanwhile is offered right after the
 * current callback, without waiting for more. Not counted: one resume undoes any pauses. An
 * EOF is reported only while reads run, after the input before it, as with epoll (which reads
 * nothing while paused): one that io_uring completes while c is paused is held until the
 * resume, then reported after the kept input, even when on_data takes it all and pauses
 * again first (then at the next resume). */
void gw_conn_pause_read(struct gw_conn *c);
void gw_conn_resume_read(struct gw_conn *c);
/* 1 while reads are held, by gw_conn_pause_read or by the high-water mark. */
int gw_conn_read_paused(const struct gw_conn *c);

/* A complete message arrived: counts it and restarts the idle clock. */
void gw_conn_touch(struct gw_conn *c);

/* Per-connection state: on_open may replace the user pointer with its own allocation
 * (gw_conn_set_user), freed in on_close. Getters are valid for a closed connection until it
 * is freed. */
uint64_t gw_conn_id(const struct gw_conn *c);      /* unique in the process, from 1 */
const char *gw_conn_addr(const struct gw_conn *c); /* the peer, "1.2.3.4:5678" */
int gw_conn_fd(const struct gw_conn *c);
void *gw_conn_user(const struct gw_conn *c);
void gw_conn_set_user(struct gw_conn *c, void *user);
struct gw_conn_loop *gw_conn_loop_of(const struct gw_conn *c);
int gw_conn_closed(const struct gw_conn *c);
/* 1 once gw_conn_finish() or the EOF's report (on_eof) started the end: no more on_data. */
int gw_conn_finishing(const struct gw_conn *c);

struct gw_conn_stats {
    uint64_t connected_ms; /* how long ago it opened */
    uint64_t idle_ms;      /* since the last gw_conn_touch() (or the open) */
    uint64_t msgs;         /* gw_conn_touch() calls */
    uint64_t bytes_in;     /* bytes received (while lingering: those discarded) */
};
void gw_conn_stats(const struct gw_conn *c, struct gw_conn_stats *st);

#endif
