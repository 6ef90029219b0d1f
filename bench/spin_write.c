/*
 * spin_write.c -- an LD_PRELOAD shim for make bench: after each write(), busy-waits
 * SPIN_WRITE_NS nanoseconds (default 7000) before returning, as a client with a few more
 * microseconds of work after each send would. make bench runs gwbench with it on one
 * connection to show that, on a virtual machine, a client that stays busy a little longer
 * after sending gets its reply sooner: the round trip depends on the client's own idle time,
 * not only on how the client times it.
 *
 * Build: cc -O2 -shared -fPIC -o spin_write.so bench/spin_write.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);
static long spin_ns = -1;

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

ssize_t
write(int fd, const void *buf, size_t len)
{
    uint64_t t0;
    ssize_t n;

    if (real_write == NULL)
        real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (spin_ns < 0)
        spin_ns = getenv("SPIN_WRITE_NS") ? atol(getenv("SPIN_WRITE_NS")) : 7000;
    n = real_write(fd, buf, len);
    t0 = now_ns();
    while (now_ns() - t0 < (uint64_t)spin_ns)
        ;
    return n;
}
