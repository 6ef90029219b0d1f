#!/usr/bin/python3
# logd's datagram inputs push what a loop iteration read once, after it, and wake the writer
# within a bound (128 KiB or 1 ms) rather than per read: every line still lands when the flow
# stops (the last partial batch does not wait for more input), over UDP and the Unix socket,
# across a reload, and at shutdown (what was read is written before logd exits).
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

# fsync = never: the writer's idle wake-up is then its 1 s tick, which a line must not wait for.
d = lt.Logd(env={'GWKIT_LOGD_FSYNC': 'never'})
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dst = ('127.0.0.1', d.syslog_port)


def received(inp='syslog_udp'):
    return d.metric('logd_received_messages_total', {'input': inp}) or 0


def line(tag, i):
    return '<14>1 2026-12-06T10:00:00Z h app - - - %s %06d' % (tag, i)


def send_udp(tag, lo, hi, chunk=250):
    """Lines lo..hi-1 over UDP, a chunk at a time, each chunk read by logd before the next
    (so a slow run never overflows the socket: the test is about what logd does with what it
    read)."""
    base = received()
    for start in range(lo, hi, chunk):
        end = min(start + chunk, hi)
        for i in range(start, end):
            udp.sendto(line(tag, i).encode(), dst)
        t.wait_for(lambda: received() >= base + end - lo, 15)


def msgs(tag):
    want = (' %s ' % tag).encode()
    return [l.rsplit(b' ', 1)[1] for l in d.lines() if want in l]


# A flow of N lines, then nothing: all of them land, the last partial batch included.
N = 3000
send_udp('flow', 0, N)
t.ok(t.wait_for(lambda: len(msgs('flow')) >= N, 15),
     'all %d UDP lines land once the flow stops (%d)' % (N, len(msgs('flow'))))
got = msgs('flow')
t.is_(got, [b'%06d' % i for i in range(N)], 'the UDP lines are written once each, in order')

# One line alone lands without waiting for the writer's 1 s idle tick (the kick timer wakes
# it). Timing is only checked without a wrapper (valgrind slows everything).
lat = []
for i in range(5):
    t0 = time.monotonic()
    udp.sendto(line('single', i).encode(), dst)
    t.wait_for(lambda: len(msgs('single')) > i, 10)
    lat.append(time.monotonic() - t0)
t.is_(len(msgs('single')), 5, 'each single UDP line lands on its own')
if not os.environ.get('GW_WRAP'):
    t.ok(statistics.median(lat) < 0.25,
         'a lone line is not left for the writer\'s idle tick (median %.0f ms)' %
         (statistics.median(lat) * 1000))

# The Unix datagram socket (worker 0): logger, then a burst from one socket.
rc, _, err = t.run(['logger', '-u', d.dgram, '-t', 'unixapp', 'logger ulog %06d' % 0])
t.is_(rc, 0, 'logger -u exits 0 ' + err.strip())
t.ok(t.wait_for(lambda: len(msgs('ulog')) == 1, 10), 'a logger -u line lands')
ux = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ux.connect(d.dgram)
M = 2000
for i in range(M):
    ux.send(line('unix', i).encode())  # blocking: a full Unix socket makes the sender wait
ux.close()
t.ok(t.wait_for(lambda: len(msgs('unix')) >= M, 15),
     'all %d Unix datagram lines land (%d)' % (M, len(msgs('unix'))))
t.is_(msgs('unix'), [b'%06d' % i for i in range(M)], 'the Unix datagram lines in order')
t.is_(received('unix'), M + 1, 'the unix input counts every line')

# Across a reload: half before SIGHUP, half after; all land.
send_udp('reload', 0, 500)
d.signal(signal.SIGHUP)
send_udp('reload', 500, 1000)
t.ok(t.wait_for(lambda: len(msgs('reload')) >= 1000, 15),
     'lines sent around a reload all land (%d)' % len(msgs('reload')))

t.is_(d.metric('logd_dropped_messages_total', {'input': 'syslog_udp'}), 0.0,
      'no UDP line dropped by logd')

# Datagrams of nothing but framing make no record (as an empty TCP frame makes none).
udp.sendto(b'', dst)
udp.sendto(b'\n', dst)
udp.sendto(b'\r\n\x00', dst)
ux = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ux.sendto(b'\n', d.dgram)
ux.close()
send_udp('afterempty', 0, 1)
t.ok(t.wait_for(lambda: len(msgs('afterempty')) == 1, 10), 'a line after empty datagrams lands')
t.is_([l for l in d.lines() if not l.strip()], [], 'empty datagrams write no empty line')

# At shutdown: everything logd has read is written before it exits.
send_udp('last', 0, 1500, chunk=1500)
rc = d.stop()
t.is_(rc, 0, 'logd exits 0 on SIGTERM')
t.is_(len(msgs('last')), 1500, 'lines read just before SIGTERM are in the file after exit')
t.is_(len(d.lines()), N + 5 + 1 + M + 1000 + 1 + 1500, 'nothing else lost or written twice')


def udp_rcvbuf(port):
    """The kernel's receive buffer of the UDP socket on port (ss: skmem rb, twice what was
    asked for, as the kernel counts)."""
    rc, out, _ = t.run(['ss', '-u', '-l', '-n', '-m', 'sport = :%d' % port])
    for word in out.replace('(', ',').replace(')', ',').split(','):
        if word.startswith('rb') and word[2:].isdigit():
            return int(word[2:])
    return None


# udp_rcvbuf: what the UDP socket asks for; as root past net.core.rmem_max (SO_RCVBUFFORCE).
d2 = lt.Logd(env={'GWKIT_LOGD_UDP_RCVBUF': '256k'})
rb = udp_rcvbuf(d2.syslog_port)
if os.geteuid() == 0:
    t.is_(rb, 2 * 256 * 1024, 'udp_rcvbuf = 256k gives the UDP socket that buffer')
else:
    t.ok(rb is not None and rb <= 2 * 256 * 1024, 'udp_rcvbuf = 256k: the socket asked for it (%s)' % rb)
t.is_(d2.stop(), 0, 'logd with udp_rcvbuf = 256k exits 0')
t.done()
