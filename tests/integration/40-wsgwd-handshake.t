#!/usr/bin/python3
# wsgwd's HTTP side: the 101 with the right accept key, and each bad upgrade answered with its
# exact status and closed; plain requests, the test page switch, the handshake deadline (for
# the opening and the closing handshake).
import os
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import wsutil as u
from framebackend import FrameBackend

b = FrameBackend()
d = t.Daemon('wsgwd', conf='[wsgwd]\nallowed_origins = https://app.example.com\n'
                           'subprotocols = chat.v2 chat.v1\nhandshake_timeout = 1s\n'
                           'max_header = 2k\n[backend echo]\naddress = 127.0.0.1:%d\n' % b.port)
t.ok(b.wait_links(2) and u.links_up(d), 'one HELLO link per worker reaches the backend')
t.is_(sorted(h['backend'] for h in b.hellos), ['echo', 'echo'], 'HELLO names the backend')
port = d.port

key = 'dGhlIHNhbXBsZSBub25jZQ=='
st, hdrs, body, s = u.request(port, u.upgrade_request('/', key=key))
t.is_(st, 101, 'upgrade: 101')
t.is_(hdrs.get('sec-websocket-accept'), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
      'Sec-WebSocket-Accept of the RFC 6455 example key')
t.is_((hdrs.get('upgrade', '').lower(), hdrs.get('connection', '').lower()), ('websocket', 'upgrade'),
      'Upgrade and Connection headers')
t.ok('sec-websocket-protocol' not in hdrs, 'no subprotocol when none offered')
s.close()

st, hdrs, body, s = u.request(port, u.upgrade_request('/', extra='Sec-WebSocket-Protocol: x, chat.v1, chat.v2\r\n'))
t.is_((st, hdrs.get('sec-websocket-protocol')), (101, 'chat.v2'), 'subprotocol: the server\'s first preference the client offers')
t.ok(t.wait_for(lambda: any(o.get('subprotocol') == 'chat.v2' for o in b.opens)),
     'OPEN tells the backend the chosen subprotocol')
o = [o for o in b.opens if o.get('subprotocol') == 'chat.v2'][0]
t.is_(sorted(o), ['claims', 'client', 'path', 'query', 'remote', 'subprotocol'],
      'OPEN payload: client, remote, path, query, subprotocol, claims')
t.ok(isinstance(o['client'], int) and o['client'] > 0 and o['claims'] is None,
     'OPEN: a client id, and null claims without authentication')
s.close()
t.ok(t.wait_for(lambda: (o['client'], None, '') in b.closes),
     'a client gone without a close frame: the backend gets a CLOSE without a code')
st, hdrs, body, s = u.request(port, u.upgrade_request('/', extra='Origin: https://app.example.com\r\n'))
t.is_(st, 101, 'allowed origin: 101')
s.close()

cases = [
    ('origin refused', u.upgrade_request('/', extra='Origin: https://evil.example.net\r\n'), 403),
    ('version 8', u.upgrade_request('/', version='8'), 426),
    ('POST', u.upgrade_request('/', method='POST'), 405),
    ('key not base64 of 16 bytes', u.upgrade_request('/', key='c2hvcnQ='), 400),
    ('no key', 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
               'Sec-WebSocket-Version: 13\r\n\r\n', 400),
    ('no Connection: upgrade', 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
                               'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n', 400),
    ('HTTP/1.0 upgrade', u.upgrade_request('/').replace('HTTP/1.1', 'HTTP/1.0'), 400),
    ('garbage request line', 'HELLO\r\n\r\n', 400),
    ('request line too long', 'GET /' + 'a' * 3000 + ' HTTP/1.1\r\n\r\n', 414),
    ('headers too large', u.upgrade_request('/', extra='X-Pad: %s\r\n' % ('p' * 1500) + 'X-Pad2: %s\r\n' % ('q' * 1500)), 431),
    ('unknown backend path', u.upgrade_request('/ws/nosuch'), 404),
]
for name, raw, want in cases:
    st, hdrs, body, s = u.request(port, raw)
    closed = s.recv(100) == b'' if st else True
    s.close()
    t.is_((st, closed), (want, True), '%s: %d and closed' % (name, want))

st, hdrs, body, s = u.request(port, u.upgrade_request('/', version='8'))
t.is_(hdrs.get('sec-websocket-version'), '13', '426 names version 13')
s.close()
st, hdrs, body, s = u.request(port, u.upgrade_request('/ws/echo'))
t.is_(st, 101, '/ws/NAME picks that backend')
s.close()

# Plain HTTP on the WebSocket port: 404 without the test page, keep-alive.
st, hdrs, body, s = u.request(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
t.is_(st, 404, 'GET / without test_page: 404')
s.sendall(b'GET /x HTTP/1.1\r\nHost: x\r\n\r\n')
time.sleep(0)
more = b''
deadline = time.monotonic() + 5
while b'404' not in more and time.monotonic() < deadline:
    chunk = s.recv(4096)
    if not chunk:
        break
    more += chunk
t.ok(b'HTTP/1.1 404' in body + more, 'keep-alive: a second request on the connection is answered')
s.close()

# A connection that never finishes its request is closed after handshake_timeout.
s = __import__('socket').create_connection(('127.0.0.1', port))
s.sendall(b'GET / HTTP/1.1\r\n')
s.settimeout(5)
t0 = time.monotonic()
t.is_(s.recv(100), b'', 'an incomplete request is closed at handshake_timeout')
t.ok(time.monotonic() - t0 < 4, 'closed within about handshake_timeout (1s)')
s.close()

# A client that makes the gateway close it, then neither answers nor reads (so what is queued
# for it never drains) is dropped once the closing handshake takes handshake_timeout.
s = __import__('socket').socket()
s.setsockopt(__import__('socket').SOL_SOCKET, __import__('socket').SO_RCVBUF, 4096)
s.connect(('127.0.0.1', port))
s.sendall(u.upgrade_request('/').encode())
t.ok(t.wait_for(lambda: d.result('status')['clients'] == 1), 'a client that will not read is open')
for i in range(30):
    s.sendall(u.frame(2, b'x' * 100000))
s.sendall(u.frame(3, b''))
t0 = time.monotonic()
t.ok(t.wait_for(lambda: d.result('status')['clients'] == 0, 10),
     'after its protocol error it is dropped once the closing handshake passes handshake_timeout')
t.ok(time.monotonic() - t0 < 5, '... within about handshake_timeout (%.1fs)' % (time.monotonic() - t0))
t.is_(d.metric('wsgwd_close_timeouts_total'), 1, 'wsgwd_close_timeouts_total counts it')
s.close()

m = d.metric('wsgwd_handshakes_total', {'result': 'origin'})
t.is_(m, 1, 'wsgwd_handshakes_total{result="origin"} counts the refusal')
t.ok(d.metric('wsgwd_handshakes_total', {'result': 'timeout'}) >= 1, 'the timeout is counted')

# No backend reachable: 503.
b.close()
t.ok(t.wait_for(lambda: d.result('backends')['backends'][0]['links'] == 0), 'links down once the backend is gone')
t.is_(u.status_of(port, u.upgrade_request('/')), 503, 'no backend up: 503')
code, ctype, body = d.http('/readyz')
t.is_(code, 503, '/readyz: 503 without a reachable backend')
t.done()
