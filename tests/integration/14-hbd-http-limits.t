#!/usr/bin/python3
# The HTTP port under connection floods: past [global] http_max_connections (and per address)
# requests are answered 503 or refused, the server recovers by itself as connections leave,
# a slow sender is cut off at http_timeout, and SIGTERM exits 0 whatever is held.
import os
import resource
import select
import socket
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard < 2500:
    t.skip_all('RLIMIT_NOFILE hard limit %d is below what 1,000 connections need' % hard)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

REQ = b'GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'


def connect(port):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(('127.0.0.1', port))
    return s


def flood(port, n, deadline_s=20):
    """n concurrent requests; returns {status or 'closed': count} and whether any was torn."""
    socks = [connect(port) for _ in range(n)]
    pending = {s: b'' for s in socks}
    unsent = set(socks)
    result, torn = {}, 0
    end = time.time() + deadline_s
    while pending and time.time() < end:
        r, w, _ = select.select(list(pending), list(unsent), [], 0.5)
        for s in w:
            try:
                s.send(REQ)
            except OSError:
                pass
            unsent.discard(s)
        for s in r:
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b''
            if chunk:
                pending[s] += chunk
                continue
            data = pending.pop(s)
            s.close()
            if not data:
                result['closed'] = result.get('closed', 0) + 1
                continue
            head, _, body = data.partition(b'\r\n\r\n')
            status = int(head.split(b' ')[1])
            length = [int(l.split(b':')[1]) for l in head.split(b'\r\n')
                      if l.lower().startswith(b'content-length:')]
            if length and len(body) != length[0]:
                torn += 1
            result[status] = result.get(status, 0) + 1
    for s in pending:
        s.close()
    result['unanswered'] = len(pending)
    return result, torn


def served_within(d, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if d.http('/healthz', timeout=1)[0] == 200:
            return True
        time.sleep(0.05)
    return False


d = t.Daemon('hbd', env={'GWKIT_GLOBAL_HTTP_MAX_CONNECTIONS_PER_IP': '2000',
                         'GWKIT_GLOBAL_HTTP_TIMEOUT': '3s'})
res, torn = flood(d.http_port, 1000)
t.diag('1,000 concurrent /metrics: %r' % res)
t.is_(res['unanswered'], 0, '1,000 concurrent /metrics: every connection answered or closed')
t.is_(set(res) - {200, 503, 'closed', 'unanswered'}, set(), 'only 200, 503 or a clean close')
t.ok(res.get(200, 0) > 0, 'some of them served (%d)' % res.get(200, 0))
t.is_(torn, 0, 'no reply cut short')
t.ok(served_within(d, 1), 'a request after the flood is served at once')

# 300 idle connections (past the limit of 256) and 300 slow senders.
idle = [socket.create_connection(('127.0.0.1', d.http_port)) for _ in range(300)]
slow = [socket.create_connection(('127.0.0.1', d.http_port)) for _ in range(300)]
for s in slow:
    s.send(b'GET /metrics HTTP/1.1\r\n')
code = d.http('/healthz', timeout=2)[0]
t.ok(code in (0, 503), 'while 600 are held a request is refused or answered 503 (%d)' % code)
for s in slow:
    try:
        s.send(b'X-Slow: 1\r\n')
    except OSError:
        pass
for s in idle + slow:
    s.close()
t.ok(served_within(d, 1), 'served again within a second of them leaving')

# A sender of a byte every 200 ms is cut off at the 3 s deadline.
s = socket.create_connection(('127.0.0.1', d.http_port))
start, cut = time.time(), False
for b in REQ * 10:
    try:
        s.send(bytes([b]))
        r, _, _ = select.select([s], [], [], 0.2)
        if r and not s.recv(4096):
            cut = True
            break
    except OSError:
        cut = True
        break
s.close()
t.ok(cut and time.time() - start < 8, 'a byte-a-second sender is cut off at http_timeout '
     '(after %.1fs)' % (time.time() - start))

# SIGTERM while connections are held.
held = [socket.create_connection(('127.0.0.1', d.http_port)) for _ in range(300)]
t.is_(d.stop(), 0, 'SIGTERM with 300 HTTP connections held exits 0')
for s in held:
    s.close()

d = t.Daemon('hbd', env={'GWKIT_GLOBAL_HTTP_MAX_CONNECTIONS_PER_IP': '4'})
per_ip = [socket.create_connection(('127.0.0.1', d.http_port)) for _ in range(4)]
code = d.http('/healthz')[0]
t.is_(code, 503, 'a fifth connection from one address is answered 503')
for s in per_ip:
    s.close()
t.ok(served_within(d, 2), 'served again once they close')
t.is_(d.stop(), 0, 'exits 0')
t.done()
