#!/usr/bin/python3
# hbd's TCP and UDP line protocol: every request, both line endings, pipelining, QUIT.
import os
import socket
import sys
import threading
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd')
c = t.LineClient(d.port)

t.is_(c.request('PING'), 'PONG', 'PING answered PONG')
c.send('PING\r\n')
t.is_(c.raw_line(), b'PONG\r\n', 'a CRLF request gets a CRLF reply')
c.send('PING\n')
t.is_(c.raw_line(), b'PONG\n', 'an LF request gets an LF reply')
t.is_(c.request('ping'), 'PONG', 'commands are case-insensitive')
t.is_(c.request('HB api'), 'OK 1', 'first HB of a service: OK 1')
t.is_(c.request('HB api interval=2s'), 'OK 2', 'second HB: OK 2')
t.is_(c.request('HB api instance=web-1 interval=500ms region=eu'), 'OK 3',
      'HB with instance, interval and a label')
t.like(c.request('STATUS'), r'^STATUS connections=1 messages=\d+ services=1 up=1 late=0 dead=0 uptime_s=\d+$',
       'STATUS gives one line of counters')

# Pipelining: many requests in one write, answered in order.
c.send('PING\r\nHB batch\r\nHB batch\r\n\r\nPING\r\nHB batch\r\nNOPE\r\n')
got = [c.line() for _ in range(6)]
t.is_(got, ['PONG', 'OK 1', 'OK 2', 'PONG', 'OK 3', 'ERR unknown command'],
      'pipelined requests answered in order; the empty line is ignored')

# A request split across writes is put together.
c.send('PI')
c.send('NG\r')
c.send('\n')
t.is_(c.line(), 'PONG', 'a request split over three writes')

big = 'PING\r\n' * 5000
c.send(big)
pongs = [c.line() for _ in range(5000)]
t.ok(all(p == 'PONG' for p in pongs), '5000 pipelined PINGs in one write, 5000 PONGs')


def read_replies(s, n):
    """Reads until n reply lines have come (or the connection closes); the raw bytes."""
    buf = b''
    while buf.count(b'\n') < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


# Many clients pipelining at once: more input in flight than a worker has receive buffers
# (io_uring backend: 1024 of 2 KiB), so receives run out and are armed again. Every reply
# still arrives, numbered HB replies in order.
def flood(i, results):
    s = socket.create_connection(('127.0.0.1', d.port), timeout=20)
    n = 6000
    s.sendall(b''.join(b'HB flood-%d\r\n' % i for _ in range(n)))
    buf = read_replies(s, n)
    s.close()
    results[i] = buf.decode().split('\r\n')[:-1] == ['OK %d' % k for k in range(1, n + 1)]


results = {}
threads = [threading.Thread(target=flood, args=(i, results)) for i in range(64)]
for th in threads:
    th.start()
for th in threads:
    th.join()
t.is_(sum(1 for v in results.values() if v), 64,
      '64 clients x 6000 pipelined HBs at once: every reply, in order')

# A heavy pipeliner that reads as it writes: far more replies than max_output (64 KiB) come
# out of its input, but the socket takes them, so it is never cut off.
s = socket.create_connection(('127.0.0.1', d.port), timeout=20)
got = []
reader = threading.Thread(target=lambda: got.append(read_replies(s, 60000)))
reader.start()
s.sendall(b'PING\r\n' * 60000)
reader.join()
s.close()
t.ok(got and got[0] == b'PONG\r\n' * 60000,
     '60,000 PINGs in one write while reading: 60,000 PONGs, no cut-off at max_output')

# A slow reader: its socket fills and hbd waits for room (epoll: EPOLLOUT; io_uring: a send
# that finds the socket full, then a poll), then every reply arrives, in order.
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.connect(('127.0.0.1', d.port))
s.settimeout(20)
s.sendall(b'HB slow-reader\r\n' * 3000)
time.sleep(0.5)
buf = b''
while buf.count(b'\n') < 3000:
    chunk = s.recv(4096)
    if not chunk:
        break
    buf += chunk
    time.sleep(0.001)
s.close()
t.ok(buf.decode().split('\r\n')[:-1] == ['OK %d' % k for k in range(1, 3001)],
     'a client reading slowly gets all 3000 replies, in order')

t.is_(c.request('QUIT'), 'BYE', 'QUIT answered BYE')
t.ok(c.closed(), 'connection closed after BYE')

c2 = t.LineClient(d.port)
c2.send('PING\r\nQUIT\r\nPING\r\n')
t.is_([c2.line(), c2.line(), c2.line()], ['PONG', 'BYE', None],
      'nothing after QUIT is answered')

# UDP on the same port.
t.is_(t.udp_request(d.port, 'PING\n'), 'PONG\n', 'UDP PING answered')
t.is_(t.udp_request(d.port, 'HB udp-svc interval=5s', expect_reply=False), None,
      'UDP HB sent (no reply)')
svc = t.wait_for(lambda: d.result('services', {'service': 'udp-svc'})['services'])
t.ok(svc and svc[0]['state'] == 'up', 'UDP HB registered the service as up')
t.like(svc[0]['instances'][0]['addr'] if svc else '', r'^127\.0\.0\.1:\d+$',
       'the instance records the sender address')

t.is_(t.line_request(d.port, 'STATUS extra'), 'ERR wrong number of arguments',
      'STATUS with arguments refused')
t.is_(t.line_request(d.port, 'PING me'), 'ERR wrong number of arguments',
      'PING with arguments refused')


# A half-close (the client's EOF) means "no more requests", not "gone": every reply owed is
# sent, then the connection closes (printf 'PING\r\n' | socat - TCP:...).
def half_close(data):
    """Sends data, shuts down the sending side, returns (everything read, closed by hbd)."""
    s = socket.create_connection(('127.0.0.1', d.port), timeout=5)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got, closed = b'', False
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            got += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return got, closed


runs = [half_close(b'PING\r\n') for _ in range(20)]
t.is_(sum(1 for r in runs if r == (b'PONG\r\n', True)), 20,
      'half-close after one request: the reply comes, then the close (20 of 20)')
batch = b''.join(b'PING\r\nHB half-close\r\n' for _ in range(500))
got, closed = half_close(batch)
lines = got.split(b'\r\n')[:-1]
t.ok(closed and len(lines) == 1000 and lines[0] == b'PONG' and lines[-1] == b'OK 500',
     'half-close after a pipelined batch: all 1000 replies, in order, then the close '
     '(%d lines, closed=%s)' % (len(lines), closed))
t.is_(half_close(b'PING\r\nPIN'), (b'PONG\r\n', True),
      'half-close after a partial line: the complete request answered, the partial one dropped')
t.is_(half_close(b'PIN'), (b'', True), 'half-close with only a partial line: closed, no reply')

t.is_(d.stop(), 0, 'hbd exits 0 on SIGTERM')
t.done()
