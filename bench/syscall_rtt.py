#!/usr/bin/python3
"""syscall_rtt.py -- request latencies as the kernel saw them, the reference for `make bench`.

Usage: perf script --ns -F tid,time,event,trace -i FILE | bench/syscall_rtt.py REQUEST_BYTES

Reads the raw_syscalls:sys_enter and sys_exit events of one client (perf record -e
raw_syscalls:sys_enter,raw_syscalls:sys_exit -- CLIENT ...) and prints
"count mean p50 p90 p99 hold busy" in microseconds, or "failed". A request's latency runs from the entry
of the write() or sendto() that sent it to the exit of the read() or recvfrom() that returned
its reply: the widest window any client on that socket can time, taken by the kernel's clock
outside the tool. One request in flight per connection (pipeline 1): a write of exactly
REQUEST_BYTES starts one, the next read of data on that descriptor ends it. Percentiles are
the value of rank ceil(p / 100 * count), as gwbench computes them.

hold is the mean time from the return of the epoll_wait() that reported a reply to the exit of
the read() that got it: the part of each latency the client spent on other connections' work
before reading this reply. busy is the mean time from the exit of the last write() of requests
to the entry of the next epoll_wait(): the client's own work before it waits for replies.
"""
import math
import re
import sys

EVENT = re.compile(r'^\s*(\d+)\s+(\d+)\.(\d+):\s+raw_syscalls:sys_(enter|exit):\s+NR (\d+) (.*)$')
WRITES = {1, 44}  # write, sendto (x86-64)
READS = {0, 45}  # read, recvfrom
WAITS = {232, 281}  # epoll_wait, epoll_pwait


def ns(sec, frac):
    return int(sec) * 1000000000 + int(frac.ljust(9, '0')[:9])


def latencies(lines, request_bytes):
    entered = {}  # thread -> (syscall, fd, entry time)
    started = {}  # fd -> entry time of the write that sent its request in flight
    woke = {}  # thread -> exit time of its last epoll_wait
    wrote = {}  # thread -> exit time of its last write of requests since then
    out, hold, busy = [], [], []
    for line in lines:
        m = EVENT.match(line)
        if not m:
            continue
        tid, sec, frac, kind, nr, rest = m.groups()
        nr = int(nr)
        if nr not in WRITES and nr not in READS and nr not in WAITS:
            continue
        if kind == 'enter':
            t = ns(sec, frac)
            entered[tid] = (nr, int(rest.strip('() ').split(',')[0], 16), t)
            if nr in WAITS and tid in wrote:
                busy.append(t - wrote.pop(tid))
            continue
        call = entered.pop(tid, None)
        if call is None or call[0] != nr:
            continue
        ret = int(rest.rsplit('=', 1)[1])
        fd = call[1]
        t = ns(sec, frac)
        if nr in WAITS:
            woke[tid] = t
        elif nr in WRITES and ret == request_bytes:
            started.setdefault(fd, call[2])
            wrote[tid] = t
        elif nr in READS and ret > 0 and fd in started:
            out.append(t - started.pop(fd))
            if tid in woke:
                hold.append(t - woke[tid])
    return out, hold, busy


def percentile(values, p):
    rank = max(1, math.ceil(p / 100 * len(values) - 1e-9))
    return values[min(rank, len(values)) - 1]


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: perf script ... | syscall_rtt.py REQUEST_BYTES')
    v, hold, busy = latencies(sys.stdin, int(sys.argv[1]))
    if not v:
        print('failed')
        return
    us = sorted(x / 1000 for x in v)
    print(len(us), '%.1f' % (sum(us) / len(us)),
          ' '.join('%.1f' % percentile(us, p) for p in (50, 90, 99)),
          '%.1f' % (sum(hold) / len(hold) / 1000 if hold else 0),
          '%.1f' % (sum(busy) / len(busy) / 1000 if busy else 0))


main()
