/*
 * gwbench.h -- the load generator's shared types: options, protocol drivers, results.
 *
 * One engine (engine.c) drives every mode: it owns the threads, the connections, the send
 * schedule and the latency histograms. What goes on the wire is a protocol driver's business
 * (struct bench_proto): it encodes one request and recognises one reply at the front of a
 * buffer. A new mode is a new driver, never a copy of the engine.
 */
#ifndef GWBENCH_H
#define GWBENCH_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "net.h"

/* Bounds on what the options may ask for. */
#define BENCH_MAX_CONNS 1000000u
#define BENCH_MAX_THREADS 256u
#define BENCH_MAX_PIPELINE 1024u
#define BENCH_MAX_REQUEST_BYTES (64 * 1024)
#define BENCH_MAX_BATCH 10000 /* log --batch: records per batch */

/* What a driver's parse() found at the front of the input. */
enum bench_parse {
    BENCH_NEED_MORE = 0, /* no complete reply yet */
    BENCH_REPLY_OK,      /* one reply, as expected */
    BENCH_REPLY_WRONG,   /* one reply, not the expected one: counted, the stream goes on */
    BENCH_REPLY_BAD,     /* the stream cannot be parsed any more: counted, connection closed */
    BENCH_SKIP,          /* not a reply (ws ping or pong): *used bytes dropped, see control */
};

/* Kinds of error, counted and reported separately. */
enum bench_err {
    BENCH_ERR_CONNECT = 0,    /* a connection attempt failed */
    BENCH_ERR_TIMEOUT,        /* a request got no reply within --timeout */
    BENCH_ERR_CLOSED,         /* the server closed (or reset) a connection */
    BENCH_ERR_CLOSED_AT_ONCE, /* ... one that never got a reply (wrong port or protocol?) */
    BENCH_ERR_WRONG,          /* a reply was not the expected one, or could not be parsed */
    BENCH_ERR_COUNT,
};

struct bench_opts;

/*
 * A protocol driver. All functions run on the engine's threads at the same time, so they may
 * read the options and their own state prepared by setup(), never write shared state.
 */
struct bench_proto {
    const char *mode; /* "tcp", "hb" */
    /* Checks the mode's options and prepares the driver. 0, or -1 with err (usage error). */
    int (*setup)(struct bench_opts *o, char *err);
    /* Writes one request into dst (room bytes, at least o->max_request_bytes). Returns its
     * size. */
    size_t (*encode)(const struct bench_opts *o, char *dst, size_t room);
    /* Looks for one reply at the front of buf. On OK, WRONG and BAD sets *used to the bytes it
     * spans (BAD: may be 0). NEED_MORE when len < max_reply_bytes could still complete it. */
    enum bench_parse (*parse)(const struct bench_opts *o, const char *buf, size_t len,
                              size_t *used);
    size_t max_reply_bytes; /* a longer reply is BAD */
    /* Optional: the answer to a frame parse said BENCH_SKIP to (frame: its len bytes), written
     * into dst (room bytes); returns its length, 0 for none (ws: a pong for a ping). */
    size_t (*control)(const struct bench_opts *o, const char *frame, size_t len, char *dst,
                      size_t room);
    /* Optional, for protocols that open with a handshake (ws: the HTTP upgrade). hello writes
     * what a new connection sends first (room bytes); hello_reply looks for the answer at the
     * front of buf: OK (then *used) opens the connection for requests, WRONG or BAD closes it
     * (counted as a connect error), NEED_MORE waits. NULL: requests start at once. */
    size_t (*hello)(const struct bench_opts *o, char *dst, size_t room);
    enum bench_parse (*hello_reply)(const struct bench_opts *o, const char *buf, size_t len,
                                    size_t *used);
    /* Fire and forget (syslog): the server answers nothing. A request counts as sent once the
     * socket took its last byte; no latency is recorded; parse is not used (input is dropped).
     * Every request is max_request_bytes long. Closed loop keeps each connection's output
     * topped up between the engine's high and low marks instead of `pipeline` requests in
     * flight; open loop (-R) sends each slot as it comes due. At the end nothing new is
     * encoded and what is queued goes out (for at most --timeout), so no request is cut. */
    int no_reply;
    /* With no_reply: each request is a datagram of a connected UDP socket instead of bytes of
     * a TCP stream (the engine's own socket, not lib/conn; ICMP port unreachable counts as a
     * connect error). */
    int datagram;
    /* Optional, with no_reply: encodes n requests numbered seq, seq + 1, ... of connection
     * conn (0..conns-1 over the whole run) into dst (room >= n * max_request_bytes), returns
     * their size. The numbers run from 1 on each connection without a gap: those of requests
     * a close dropped before they started are given again. NULL: encode(). */
    size_t (*encode_seq)(const struct bench_opts *o, unsigned conn, uint64_t seq, unsigned n,
                         char *dst, size_t room);
};

struct bench_opts {
    const struct bench_proto *proto;
    struct gw_addr addr;
    char target[GW_ADDR_STRLEN];
    unsigned conns, threads, pipeline;
    uint64_t duration_ms, warmup_ms, timeout_ms;
    double rate; /* total requests/s; 0 = closed loop */
    long size;   /* --size, -1 when not given */
    int idle;    /* --idle: open the connections and hold them, send nothing */
    int json, quiet, progress;
    const char *hist_out;
    size_t max_request_bytes; /* set by the driver's setup() */
    /* Line protocol (tcp, hb). */
    const char *send_arg, *expect_arg, *hb_service;
    char request[BENCH_MAX_REQUEST_BYTES];
    size_t request_len;
    char expect[1024];
    size_t expect_len;
    int expect_exact; /* hb PING: the reply is exactly the expected line */
    /* WebSocket (ws): the URL's host and path, --check, the payload each echo must carry. */
    char ws_host[GW_ADDR_STRLEN];
    char ws_path[1024];
    int check;
    char payload[BENCH_MAX_REQUEST_BYTES];
    /* logd's native protocol (log): --batch (records per BATCH, so per request; 1 by default)
     * and the CRC-32C of the batch payload (in payload). */
    unsigned batch;
    uint32_t log_crc;
    /* log --syslog: the transport (0: native protocol instead), --format 5424|3164 (0 until
     * set), --framing over TCP (0 until set). */
    enum { BENCH_SYSLOG_NONE = 0, BENCH_SYSLOG_UDP, BENCH_SYSLOG_TCP } syslog;
    int syslog_format;
    enum { BENCH_FRAMING_DEFAULT = 0, BENCH_FRAMING_OCTET, BENCH_FRAMING_LF } syslog_framing;
};

/* Figures of one run or of one thread; threads' results are summed by bench_results_add(). */
struct bench_results {
    uint64_t requests;   /* replies to requests sent inside the measured window */
    uint64_t sent;       /* requests sent inside the measured window */
    uint64_t sent_total; /* no_reply: every whole request sent, the warm-up's and the last too */
    uint64_t scheduled;  /* open loop: slots that came due inside the window */
    uint64_t errors[BENCH_ERR_COUNT];
    uint64_t connected;  /* connections established (first ones and reconnects) */
    uint64_t open;       /* connections open at the end of the window (idle mode) */
    struct gw_hist hist; /* latency of the replies */
    struct gw_hist lag;  /* open loop: how late each request left against its schedule */
};

/* main.c */
/* The open-files limit in effect (raised to the hard limit at start). */
uint64_t bench_fd_limit(void);

/* engine.c */
/* Runs the whole benchmark on the calling (main) thread plus o->threads workers: connects,
 * sends, drains. SIGINT and SIGTERM end the run early (the results so far are kept). Fills
 * *res and the measured window's length. Returns 0, or -1 with err when the run could not
 * start, as when no connection at all could be opened ("cannot connect to HOST:PORT: ..."). */
int bench_run(const struct bench_opts *o, struct bench_results *res, double *elapsed_s, char *err);
void bench_results_add(struct bench_results *dst, const struct bench_results *src);

/* proto_line.c */
extern const struct bench_proto bench_proto_tcp;
extern const struct bench_proto bench_proto_hb;
/* Decodes C escapes (\r \n \t \\ \0 \xHH \" \') of s into dst (cap bytes). Returns the length,
 * or -1 with err. */
long bench_unescape(const char *s, char *dst, size_t cap, char *err);

/* proto_log.c */
extern const struct bench_proto bench_proto_log;

/* syslog.c: fire-and-forget syslog load (log --syslog), a no_reply protocol of the engine. */
/* Checks the syslog options (usage errors into err), lays out the run's line and sets
 * o->proto to the syslog driver; 0 or -1. */
int bench_syslog_setup(struct bench_opts *o, char *err);
/* Runs the load (bench_run) and prints the syslog report; returns the exit status (0, or 1
 * when the run could not start, had errors or sent nothing). */
int bench_syslog_main(const struct bench_opts *o);

/* proto_ws.c */
extern const struct bench_proto bench_proto_ws;
/* Splits "ws://HOST:PORT/path" (or "HOST:PORT") into o->ws_host, o->ws_path and the address
 * text in addr (len bytes). 0, or -1 with err. */
int bench_ws_target(struct bench_opts *o, const char *target, char *addr, size_t len, char *err);

/* report.c */
void bench_report_text(const struct bench_opts *o, const struct bench_results *r, double elapsed_s);
int bench_report_json(const struct bench_opts *o, const struct bench_results *r, double elapsed_s);
int bench_hist_write(const char *path, const struct gw_hist *h, char *err);
/* The progress line; requests are the replies, or with no_reply the requests sent. */
void bench_progress(const struct bench_opts *o, double elapsed_s, uint64_t requests, double rate,
                    const struct gw_hist *h, uint64_t errors, uint64_t open);
void bench_idle_ready(const struct bench_opts *o, uint64_t open);
const char *bench_err_name(enum bench_err e);

#endif
