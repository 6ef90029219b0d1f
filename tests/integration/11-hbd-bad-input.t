#!/usr/bin/python3
# hbd under hostile input: every bad request gets its exact error, and other clients never notice.
import os
import socket
import sys
import threading
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd', env={'GWKIT_HBD_CLIENT_TIMEOUT': '1s', 'GWKIT_HBD_CLEANUP_INTERVAL': '200ms',
                         'GWKIT_HBD_MAX_OUTPUT': '16k'})
# A well-behaved client pings all along (more often than client_timeout); it must never see
# anything but PONG, whatever the others do.
watch = {'pings': 0, 'bad': [], 'stop': False}


def watcher():
    c = t.LineClient(d.port)
    while not watch['stop']:
        r = c.request('PING')
        if r != 'PONG':
            watch['bad'].append(r)
            return
        watch['pings'] += 1
        time.sleep(0.1)
    c.close()


wt = threading.Thread(target=watcher, daemon=True)
wt.start()


def still_fine(what):
    n = watch['pings']
    t.ok(t.wait_for(lambda: watch['pings'] > n + 1) and not watch['bad'],
         'another client is unaffected after ' + what)


cases = [
    ('FOO', 'ERR unknown command'),
    ('HB', 'ERR HB needs a service name'),
    ('HB bad!name', 'ERR bad service name (want 1-128 of A-Z a-z 0-9 . _ - : / @)'),
    ('HB ' + 'x' * 129, 'ERR bad service name (want 1-128 of A-Z a-z 0-9 . _ - : / @)'),
    ('HB api interval=5x', 'ERR bad interval (want 100ms..24h, e.g. interval=5s)'),
    ('HB api interval=10ms', 'ERR bad interval (want 100ms..24h, e.g. interval=5s)'),
    ('HB api interval=2d', 'ERR bad interval (want 100ms..24h, e.g. interval=5s)'),
    ('HB api interval=', 'ERR bad interval (want 100ms..24h, e.g. interval=5s)'),
    ('HB api instance=a!b', 'ERR bad instance name'),
    ('HB api min_up=0', 'ERR bad min_up (want 1..1000)'),
    ('HB api noequals', 'ERR bad argument (want key=value)'),
    ('HB api =v', 'ERR bad argument (want key=value)'),
    ('HB api Bad=v', 'ERR bad label name (want [a-z_][a-z0-9_]*)'),
    ('HB api k=' + 'v' * 129, 'ERR label value too long'),
    ('HB api ' + ' '.join('l%d=v' % i for i in range(17)), 'ERR too many labels'),
    ('PING\x00', 'ERR binary data in request'),
    ('\x01\x02\xff\xfe', 'ERR binary data in request'),
    ('HB api\x07', 'ERR binary data in request'),
]
c = t.LineClient(d.port)
for req, want in cases:
    t.is_(c.request(req), want, 'bad request %r' % req[:40])
t.is_(c.request('PING'), 'PONG', 'the connection survives every bad request above')
t.ok(d.metric('hbd_errors_total', {'kind': 'bad_interval'}) == 4, 'bad intervals counted by kind')
t.ok(d.metric('hbd_errors_total', {'kind': 'unknown_command'}) == 1, 'unknown commands counted')

# Binary garbage with NUL bytes and no line ending: the limit still holds.
g = t.LineClient(d.port)
g.send(bytes(range(256)) * 4 + b'\n')
t.like(g.line(), r'^ERR ', 'a line of binary garbage gets an ERR')
still_fine('binary garbage')

# Over-long lines: ERR line too long, then close -- whole, split, and without a newline.
for what, payload in [('in one write', b'A' * 5000 + b'\r\n'),
                      ('with no newline', b'B' * 5000)]:
    x = t.LineClient(d.port)
    x.send(payload)
    t.is_(x.line(), 'ERR line too long', 'over-long line %s: ERR line too long' % what)
    t.ok(x.closed(), 'over-long line %s: then closed' % what)
x = t.LineClient(d.port)
for _ in range(50):
    x.send(b'C' * 100)
t.is_(x.line(), 'ERR line too long', 'over-long line sent in pieces: ERR line too long')
t.ok(x.closed(), 'over-long line sent in pieces: then closed')
# The client keeps sending after the limit: hbd still gets its ERR through (FIN, then it reads
# and drops the rest instead of resetting the connection, which could destroy the reply).
x = t.LineClient(d.port)
x.send(b'E' * 200000 + b'\r\nPING\r\n')
t.is_(x.line(), 'ERR line too long', 'a client still sending after the limit gets its ERR')
t.ok(x.closed(), 'then an orderly close, not a reset')
x = t.LineClient(d.port)
x.send(b'D' * 4096 + b'\r\n')
t.is_(x.line(), 'ERR unknown command', 'a line of exactly 4096 bytes is still parsed')
still_fine('over-long lines')

# A client that never reads its replies: its output is bounded, then it is closed.
def never_reader(pings_per_write, seconds):
    """Writes PINGs and never reads; (closed by hbd, bytes sent)."""
    nr = socket.socket()
    nr.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    nr.connect(('127.0.0.1', d.port))
    nr.setblocking(False)
    sent = 0
    deadline = time.monotonic() + seconds
    closed = False
    while time.monotonic() < deadline and not closed:
        try:
            sent += nr.send(b'PING\r\n' * pings_per_write)
        except BlockingIOError:
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
    nr.close()
    return closed, sent


closed, sent = never_reader(2000, 10)
t.ok(closed, 'a client that never reads is closed (sent %d bytes)' % sent)
t.ok(t.wait_for(lambda: d.metric('hbd_errors_total', {'kind': 'output_overflow'}) == 1),
     'output overflow counted')
still_fine('a client that never reads')

# The same in small writes: the socket fills between requests, so hbd's sends meet a full
# socket (a short send, then EAGAIN: it waits for room) before the output limit closes it.
closed, sent = never_reader(100, 20)
t.ok(closed, 'a client that never reads, in small writes, is closed (sent %d bytes)' % sent)
t.ok(t.wait_for(lambda: d.metric('hbd_errors_total', {'kind': 'output_overflow'}) == 2),
     'output overflow counted again')
still_fine('a client that never reads, in small writes')

# Slowloris: a partial line, a byte at a time, never finished: closed after client_timeout.
s = t.LineClient(d.port)
start = time.monotonic()
closed = False
while time.monotonic() - start < 5:
    try:
        s.send(b'P')
    except (BrokenPipeError, ConnectionResetError):
        closed = True
        break
    if s.closed(timeout=0.2):
        closed = True
        break
t.ok(closed and time.monotonic() - start < 4, 'a slowloris client is closed after client_timeout')
t.ok(d.metric('hbd_idle_closed_total') >= 1, 'idle close counted')
still_fine('slowloris')

# 10,000 connect/disconnect cycles.
for i in range(10000):
    so = socket.create_connection(('127.0.0.1', d.port))
    if i % 1000 == 0:
        so.sendall(b'PING\r\n')
        so.recv(16)
    so.close()
still_fine('10,000 connect/disconnect cycles')
t.ok(t.wait_for(lambda: d.result('status')['connections'] == 1),
     'connections back to one (the watcher) after the cycles')

# UDP: oversized and garbage datagrams are counted and dropped, PING still answered.
t.is_(t.udp_request(d.port, b'PING' + b' ' * 5000, timeout=0.3), None,
      'an oversized datagram gets no reply')
t.is_(t.udp_request(d.port, b'\x00\xff garbage', timeout=0.3), None, 'a garbage datagram gets no reply')
t.is_(t.udp_request(d.port, b'HB x interval=1y', timeout=0.3), None, 'a bad UDP HB gets no reply')
t.ok(t.wait_for(lambda: d.metric('hbd_errors_total', {'kind': 'udp_too_long'}) == 1),
     'oversized datagram counted')
t.ok(t.wait_for(lambda: d.metric('hbd_errors_total', {'kind': 'udp_bad'}) == 2),
     'garbage datagrams counted')
t.is_(t.udp_request(d.port, 'PING'), 'PONG\n', 'UDP PING still answered')
still_fine('bad datagrams')

# Idle connections (no complete line) are closed after client_timeout.
idle = t.LineClient(d.port)
t.ok(idle.closed(timeout=4), 'an idle connection is closed after client_timeout')

watch['stop'] = True
wt.join()
t.ok(not watch['bad'], 'the watching client saw only PONGs (%d of them)' % watch['pings'])
t.is_(d.stop(), 0, 'hbd exits 0')
t.done()
