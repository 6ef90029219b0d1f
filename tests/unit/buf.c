/*
 * buf.c -- tests for lib/buf.c: lazy storage, append/consume/reserve/commit, the hard limit,
 * printf, lines, reading from and writing to pipes, and the release of large storage.
 */
#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"

/* 1 when the buffer holds exactly the n bytes at want. */
static int
holds(const struct gw_buf *b, const void *want, size_t n)
{
    return gw_buf_len(b) == n && (n == 0 || memcmp(gw_buf_data(b), want, n) == 0);
}

static void
test_init(void)
{
    struct gw_buf b;

    memset(&b, 0xa5, sizeof(b));
    gw_buf_init(&b, 1024);
    ok(b.data == NULL && b.cap == 0, "init allocates nothing");
    is(gw_buf_len(&b), 0, "init: empty");
    is(gw_buf_room(&b), 1024, "init: room is max_bytes");
    is(gw_buf_line_len(&b), 0, "init: no line");
    is(gw_buf_append(&b, "", 0), 0, "appending nothing succeeds");
    ok(b.data == NULL, "appending nothing allocates nothing");
    gw_buf_consume(&b, 10);
    is(gw_buf_len(&b), 0, "consuming from an empty buffer is harmless");
    gw_buf_reset(&b);
    ok(b.data == NULL && b.max_bytes == 1024, "reset of an empty buffer keeps the limit");
}

static void
test_append_consume(void)
{
    struct gw_buf b;
    char *p;

    gw_buf_init(&b, 1024);
    is(gw_buf_append(&b, "hello ", 6), 0, "append");
    is(gw_buf_append(&b, "world", 5), 0, "append again");
    ok(holds(&b, "hello world", 11), "appends are concatenated");
    ok(b.data != NULL && b.cap >= 11 && b.cap <= 1024, "storage allocated on first use");
    is(gw_buf_room(&b), 1024 - 11, "room shrinks by what is held");

    gw_buf_consume(&b, 6);
    ok(holds(&b, "world", 5), "consume drops bytes from the front");
    gw_buf_consume(&b, 100);
    is(gw_buf_len(&b), 0, "consuming more than held empties the buffer");
    is(b.off, 0, "an emptied buffer starts over at offset 0");
    ok(b.data != NULL, "small storage is kept after the buffer empties");

    p = gw_buf_reserve(&b, 4);
    ok(p != NULL, "reserve gives writable space");
    memcpy(p, "abcd", 4);
    ok(holds(&b, "", 0), "reserved bytes are not data before commit");
    gw_buf_commit(&b, 3);
    ok(holds(&b, "abc", 3), "commit makes written bytes data (only those committed)");
    gw_buf_reset(&b);
    ok(b.data == NULL && b.cap == 0 && gw_buf_len(&b) == 0, "reset frees the storage");
    is(gw_buf_append(&b, "again", 5), 0, "a reset buffer is usable again");
    ok(holds(&b, "again", 5), "a reset buffer holds new data");
    gw_buf_reset(&b);
}

static void
test_limit(void)
{
    struct gw_buf b;
    char big[40];

    memset(big, 'x', sizeof(big));
    gw_buf_init(&b, 16);
    is(gw_buf_append(&b, "0123456789", 10), 0, "append under the limit");
    is(gw_buf_append(&b, "abcdefg", 7), -1, "append past max_bytes refused");
    ok(holds(&b, "0123456789", 10), "a refused append appends nothing");
    ok(gw_buf_reserve(&b, 7) == NULL, "reserve past max_bytes refused");
    is(gw_buf_append(&b, "abcdef", 6), 0, "append up to exactly max_bytes");
    ok(holds(&b, "0123456789abcdef", 16), "the buffer is full");
    is(gw_buf_room(&b), 0, "no room left when full");
    is(gw_buf_append(&b, "z", 1), -1, "append to a full buffer refused");
    ok(b.cap <= 16, "storage never grows past max_bytes");
    gw_buf_consume(&b, 10);
    is(gw_buf_append(&b, "ghijklmnop", 10), 0, "consumed room can be reused");
    ok(holds(&b, "abcdefghijklmnop", 16), "data slides down intact to make room");
    is(gw_buf_append(&b, big, (size_t)-1), -1, "a huge length is refused, not wrapped");
    gw_buf_reset(&b);

    gw_buf_init(&b, 0);
    is(gw_buf_append(&b, "a", 1), -1, "a zero limit refuses every byte");
    ok(b.data == NULL, "a zero limit allocates nothing");
}

static void
test_growth(void)
{
    struct gw_buf b;
    char *pat = malloc(100000), *want = malloc(100000);
    size_t i;

    for (i = 0; i < 100000; i++)
        pat[i] = (char)('a' + i % 26);
    gw_buf_init(&b, 1 << 20);
    /* Grow in uneven steps with consumption in between: the bytes stay in order. */
    for (i = 0; i < 100000; i += 1000)
        gw_buf_append(&b, pat + i, 1000);
    ok(holds(&b, pat, 100000), "100000 bytes in 1000-byte appends");
    gw_buf_consume(&b, 99000);
    gw_buf_append(&b, pat, 3000);
    memcpy(want, pat + 99000, 1000);
    memcpy(want + 1000, pat, 3000);
    ok(holds(&b, want, 4000), "consume then append keeps the order");
    gw_buf_reset(&b);

    gw_buf_init(&b, 1 << 20);
    gw_buf_append(&b, pat, 20000);
    ok(b.cap > 16 * 1024, "a 20000-byte burst grows the storage past 16 KiB");
    gw_buf_consume(&b, 19999);
    ok(b.data != NULL, "storage is kept while bytes remain");
    gw_buf_consume(&b, 1);
    ok(b.data == NULL && b.cap == 0, "large storage is released once consumed");
    is(gw_buf_append(&b, "x", 1), 0, "a released buffer is usable again");
    gw_buf_reset(&b);
    free(pat);
    free(want);
}

static void
test_printf(void)
{
    struct gw_buf b;
    char *big = malloc(5001), *want = malloc(6000);

    gw_buf_init(&b, 6000);
    is(gw_buf_printf(&b, "n=%d s=%s", 42, "ok"), 0, "printf small");
    ok(holds(&b, "n=42 s=ok", 9), "printf small text, no NUL appended");
    memset(big, 'y', 5000);
    big[5000] = '\0';
    is(gw_buf_printf(&b, "<%s>", big), 0, "printf large (5002 bytes)");
    snprintf(want, 6000, "n=42 s=ok<%s>", big);
    ok(holds(&b, want, 9 + 5002), "printf large text exact");
    gw_buf_reset(&b);

    gw_buf_init(&b, 10);
    gw_buf_append(&b, "abc", 3);
    is(gw_buf_printf(&b, "%s", "12345678"), -1, "printf small past the limit refused");
    ok(holds(&b, "abc", 3), "a refused small printf appends nothing");
    is(gw_buf_printf(&b, "%d", 1234567), 0, "printf filling to exactly the limit");
    ok(holds(&b, "abc1234567", 10), "printf up to the limit exact");
    gw_buf_reset(&b);

    gw_buf_init(&b, 5000);
    gw_buf_append(&b, "abc", 3);
    is(gw_buf_printf(&b, "%s", big), -1, "printf large past the limit refused");
    ok(holds(&b, "abc", 3), "a refused large printf appends nothing");
    big[4997] = '\0';
    is(gw_buf_printf(&b, "%s", big), 0, "printf large filling to exactly the limit");
    ok(gw_buf_len(&b) == 5000 && memcmp(gw_buf_data(&b), "abcyyy", 6) == 0 &&
           gw_buf_data(&b)[4999] == 'y',
       "printf large up to the limit exact");
    gw_buf_reset(&b);
    free(big);
    free(want);
}

static void
test_lines(void)
{
    struct gw_buf b;

    gw_buf_init(&b, 256);
    gw_buf_append(&b, "PING", 4);
    is(gw_buf_line_len(&b), 0, "no complete line without '\\n'");
    gw_buf_append(&b, "\r\nHB a\nQU", 9);
    is(gw_buf_line_len(&b), 6, "line length counts '\\r\\n'");
    gw_buf_consume(&b, 6);
    is(gw_buf_line_len(&b), 5, "the next line after consume");
    gw_buf_consume(&b, 5);
    is(gw_buf_line_len(&b), 0, "a partial line is not a line");
    gw_buf_append(&b, "IT\n", 3);
    is(gw_buf_line_len(&b), 5, "a line completed by a later append");
    gw_buf_consume(&b, 5);
    gw_buf_append(&b, "\n", 1);
    is(gw_buf_line_len(&b), 1, "an empty line is 1 byte");
    gw_buf_reset(&b);
}

static void
test_read_fd(void)
{
    struct gw_buf b;
    char data[100];
    int fds[2];

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)i;
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1) {
        ok(0, "pipe");
        return;
    }
    gw_buf_init(&b, 64);
    errno = 0;
    is(gw_buf_read_fd(&b, fds[0], 1000), -1, "read_fd on an empty pipe returns -1");
    is(errno, EAGAIN, "read_fd on an empty pipe: EAGAIN");
    is(write(fds[1], data, sizeof(data)), 100, "100 bytes written to the pipe");
    is(gw_buf_read_fd(&b, fds[0], 1000), 64, "read_fd reads at most the room left (64)");
    ok(holds(&b, data, 64), "read_fd bytes in order");
    is(gw_buf_read_fd(&b, fds[0], 1000), -2, "read_fd on a full buffer returns -2");
    is(gw_buf_len(&b), 64, "read_fd on a full buffer reads nothing");
    gw_buf_consume(&b, 64);
    is(gw_buf_read_fd(&b, fds[0], 10), 10, "read_fd reads at most max_read");
    ok(holds(&b, data + 64, 10), "read_fd continues where it stopped");
    is(gw_buf_read_fd(&b, fds[0], 1000), 26, "read_fd takes the rest");
    ok(holds(&b, data + 64, 36), "read_fd appends after what is held");
    close(fds[1]);
    is(gw_buf_read_fd(&b, fds[0], 1000), 0, "read_fd returns 0 at end of file");
    is(gw_buf_len(&b), 36, "end of file appends nothing");
    close(fds[0]);
    gw_buf_reset(&b);
}

static void
test_write_fd(void)
{
    struct gw_buf b;
    size_t total = 200 * 1024, got = 0;
    char *data = malloc(total), *back = malloc(total);
    int fds[2], same = 1;
    ssize_t n;

    for (size_t i = 0; i < total; i++)
        data[i] = (char)(i * 7);
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1) {
        ok(0, "pipe");
        return;
    }
    gw_buf_init(&b, 1 << 20);
    gw_buf_append(&b, "hello\n", 6);
    is(gw_buf_write_fd(&b, fds[1]), 6, "write_fd writes everything the pipe takes");
    is(gw_buf_len(&b), 0, "write_fd consumes what it wrote");
    is(read(fds[0], back, 100), 6, "the pipe got the bytes");
    ok(memcmp(back, "hello\n", 6) == 0, "the pipe got the right bytes");

    /* More than a pipe holds: partial writes, then EAGAIN, then the rest. */
    gw_buf_append(&b, data, total);
    n = gw_buf_write_fd(&b, fds[1]);
    ok(n > 0 && (size_t)n < total, "write_fd to a pipe that fills up writes part");
    is(gw_buf_len(&b), total - (size_t)n, "write_fd keeps the unwritten part");
    errno = 0;
    is(gw_buf_write_fd(&b, fds[1]), -1, "write_fd to a full pipe returns -1");
    is(errno, EAGAIN, "write_fd to a full pipe: EAGAIN");
    while (got < total) {
        ssize_t r = read(fds[0], back + got, total - got);
        if (r > 0)
            got += (size_t)r;
        else if (gw_buf_len(&b) == 0 || (gw_buf_write_fd(&b, fds[1]) < 0 && errno != EAGAIN))
            break;
    }
    for (size_t i = 0; i < total && same; i++)
        same = back[i] == data[i];
    ok(got == total && same, "all 200 KiB arrive in order");
    is(gw_buf_len(&b), 0, "the buffer is empty once written");
    ok(b.data == NULL, "and its large storage released");
    close(fds[0]);
    errno = 0;
    gw_buf_append(&b, "x", 1);
    is(gw_buf_write_fd(&b, fds[1]), -1, "write_fd to a closed pipe returns -1");
    is(errno, EPIPE, "write_fd to a closed pipe: EPIPE (SIGPIPE ignored)");
    is(gw_buf_len(&b), 1, "a failed write consumes nothing");
    close(fds[1]);
    gw_buf_reset(&b);
    free(data);
    free(back);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_init();
    test_append_consume();
    test_limit();
    test_growth();
    test_printf();
    test_lines();
    test_read_fd();
    test_write_fd();
    return done_testing();
}
