#!/usr/bin/python3
# What an attacker puts on the wire, answered as RFC 6455 and RFC 7692 say: a 64-bit length
# with its top bit set, close codes that never go on the wire, a character split across
# fragments (valid only once whole), permessage-deflate offers with bad parameters (declined),
# a header block of exactly the limit and one byte over, request heads browsers send and ones
# an attacker writes, a ping flood that never reads its pongs, and frames pipelined behind the
# upgrade request in the same packet (framed and raw backends).
import os
import socket
import struct
import sys
import threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import wsutil as u
from framebackend import FrameBackend

b = FrameBackend()
conf = '[backend echo]\naddress = 127.0.0.1:%d\n' % b.port
d = t.Daemon('wsgwd', conf='[wsgwd]\nmax_header = 2k\n' + conf)
t.ok(b.wait_links(2) and u.links_up(d), 'links up')
F = u.frame


def code_after(frames, extra=''):
    return u.close_code_after(d.port, frames, extra)


# ---- frame header and close codes ----
msb = struct.pack('!BBQ', 0x82, 0x80 | 127, (1 << 63) | 5) + os.urandom(4) + b'abcde'
t.is_(code_after([msb]), 1002, '64-bit length with the most significant bit set: close 1002')
for code in (1004, 1005, 1006, 1015, 1016, 2999, 5000):
    t.is_(code_after([F(8, struct.pack('!H', code))]), 1002,
          'close code %d on the wire: close 1002' % code)
for code in (1000, 1001, 1003, 1007, 1008, 1011, 1012, 1013, 1014, 3000, 4999):
    t.is_(code_after([F(8, struct.pack('!H', code))]), code,
          'close code %d is valid: echoed' % code)
t.is_(code_after([F(8, struct.pack('!H', 1000) + b'\xff')]), 1007,
      'a close reason that is not UTF-8: close 1007')
t.is_(code_after([F(8, b'')]), 1000, 'an empty close is answered with 1000')

# ---- messages valid only once whole, and control frames at their limits ----
s, hdrs, left = u.upgrade(d.port)
rd = u.Reader(s, left)
e_acute, emoji = 'é'.encode(), '😀'.encode()
s.sendall(F(1, b'caf' + e_acute[:1], fin=False) + F(0, e_acute[1:] + b' ', fin=False) +
          F(0, emoji[:1], fin=False) + F(9, b'between') + F(0, emoji[1:3], fin=False) +
          F(0, emoji[3:]))
got = [rd.frame(), rd.frame()]
t.is_(got, [(True, 10, b'between'), (True, 1, 'café 😀'.encode())],
      'characters split across fragments (a ping between) are valid once whole: pong, then the text')
s.sendall(F(9, b'p' * 125))
t.is_(rd.frame(), (True, 10, b'p' * 125), 'a 125-byte ping gets a pong with the same payload')
s.sendall(F(10, b'unasked') + F(1, b'still open'))
t.is_(rd.frame(), (True, 1, b'still open'), 'an unsolicited pong is ignored')
s.sendall(F(8, struct.pack('!H', 1000)) + F(1, b'after close'))
f = rd.frame()
t.is_((f[1], f[2][:2]), (8, struct.pack('!H', 1000)), 'close answered with 1000')
try:
    extra = rd.frame(5)
except (EOFError, OSError):
    extra = None
t.is_(extra, None, 'a frame after the close is not answered; the connection ends')
s.close()

# ---- permessage-deflate offers with bad parameters are declined (RFC 7692 section 5) ----
bad_offers = [
    'permessage-deflate; client_max_window_bits=7',
    'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate; server_max_window_bits',
    'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    'permessage-deflate; client_max_window_bits=10; client_max_window_bits=11',
    'permessage-deflate; server_no_context_takeover=yes',
    'permessage-deflate; mystery_param',
]
for offer in bad_offers:
    s, hdrs, left = u.upgrade(d.port, extra='Sec-WebSocket-Extensions: %s\r\n' % offer)
    declined = 'sec-websocket-extensions' not in hdrs
    s.sendall(F(1, b'\x01', rsv=4))
    code = u.Reader(s, left).close_code()
    s.close()
    t.is_((declined, code), (True, 1002),
          'offer "%s": 101 without the extension, so RSV1 is then a 1002' % offer)
s, hdrs, left = u.upgrade(d.port, extra='Sec-WebSocket-Extensions: permessage-deflate; '
                                        'client_max_window_bits=7, permessage-deflate\r\n')
t.like(hdrs.get('sec-websocket-extensions', ''), '^permessage-deflate',
       'a bad offer followed by a good one: the good one is accepted')
s.close()

# ---- the request head at its limits (max_header = 2k) ----
def head_with_headers(size):
    """An upgrade request whose header section (after the request line, final CRLF included)
    is exactly size bytes."""
    base = u.upgrade_request('/')
    line_end = base.index('\r\n') + 2
    section = len(base) - line_end
    pad = size - section - len('X-Pad: \r\n')
    return base[:-2] + 'X-Pad: %s\r\n\r\n' % ('p' * pad)

for size, want in ((2048, 101), (2049, 431)):
    raw = head_with_headers(size)
    t.is_(u.status_of(d.port, raw), want, 'a header section of %d bytes (limit 2048): %d' % (size, want))


def head_with_line(size):
    """An upgrade request whose request line (CRLF included) is exactly size bytes."""
    q = size - len('GET /? HTTP/1.1\r\n')
    return u.upgrade_request('/?' + 'q' * q)

for size, want in ((2048, 101), (2049, 414)):
    t.is_(u.status_of(d.port, head_with_line(size)), want,
          'a request line of %d bytes (limit 2048): %d' % (size, want))

# ---- request heads browsers send, and ones an attacker writes ----
K = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
UPG = 'Upgrade: websocket\r\nConnection: Upgrade\r\n'


def req(lines, first='GET / HTTP/1.1', host='Host: x\r\n'):
    return first + '\r\n' + host + lines + '\r\n'

heads = [
    ('Connection: keep-alive, Upgrade (Firefox)',
     req('Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n' + K + 'Sec-WebSocket-Version: 13\r\n'), 101),
    ('Upgrade: WebSocket, any case', req('Upgrade: WebSocket\r\nConnection: upgrade\r\n' + K +
                                         'Sec-WebSocket-Version: 13\r\n'), 101),
    ('bare LF line ends', req(UPG + K + 'Sec-WebSocket-Version: 13\r\n').replace('\r\n', '\n'), 101),
    ('two Sec-WebSocket-Key headers', req(UPG + K + K + 'Sec-WebSocket-Version: 13\r\n'), 400),
    ('two Sec-WebSocket-Version headers', req(UPG + K + 'Sec-WebSocket-Version: 13\r\n'
                                              'Sec-WebSocket-Version: 8\r\n'), 400),
    ('no Host', req(UPG + K + 'Sec-WebSocket-Version: 13\r\n', host=''), 400),
    ('a request body', req(UPG + K + 'Sec-WebSocket-Version: 13\r\nContent-Length: 5\r\n'), 400),
    ('Transfer-Encoding', req(UPG + K + 'Sec-WebSocket-Version: 13\r\nTransfer-Encoding: chunked\r\n'), 501),
    ('70 header lines', req(''.join('X-H%d: v\r\n' % i for i in range(70)) + UPG + K +
                            'Sec-WebSocket-Version: 13\r\n'), 431),
    ('HTTP/2.0', req(UPG + K + 'Sec-WebSocket-Version: 13\r\n', first='GET / HTTP/2.0'), 505),
    ('obsolete line folding', req(UPG + K + 'X-A: 1\r\n  folded\r\nSec-WebSocket-Version: 13\r\n'), 400),
    ('a space before the colon', req('Upgrade : websocket\r\nConnection: Upgrade\r\n' + K +
                                     'Sec-WebSocket-Version: 13\r\n'), 400),
    ('HEAD', req(UPG + K + 'Sec-WebSocket-Version: 13\r\n', first='HEAD / HTTP/1.1'), 405),
]
for name, raw, want in heads:
    st, hdrs, body, s = u.request(d.port, raw)
    closed = want == 101 or s.recv(100) == b''
    s.close()
    t.is_((st, closed), (want, True), '%s: %d%s' % (name, want, '' if want == 101 else ' and closed'))

# ---- a client that sends pings and never reads the pongs: bounded ----
s, hdrs, left = u.upgrade(d.port)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
sent, pending, stalled, closed = u.push_until_stalled(s, F(9, b'p' * 125) * 512, 256 << 20)
s.close()
t.ok((stalled or closed) and sent < (64 << 20),
     'a ping flood that never reads its pongs stalls or is closed (%d bytes taken)' % sent)
t.ok(d.alive(), 'the gateway survived the ping flood')

# ---- frames in the same packet as the upgrade request ----
s = socket.create_connection(('127.0.0.1', d.port), timeout=5)
s.sendall(u.upgrade_request('/').encode() + F(1, b'pipelined one') + F(2, b'\x00two'))
buf = b''
while b'\r\n\r\n' not in buf:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
head, _, left = buf.partition(b'\r\n\r\n')
rd = u.Reader(s, left)
got = []
try:
    for _ in range(2):
        f = rd.frame()
        got.append((f[1], f[2]))
except (EOFError, OSError):
    pass
s.close()
t.like(head.decode('latin-1'), '^HTTP/1.1 101 ', 'upgrade with frames behind it: 101')
t.is_(got, [(1, b'pipelined one'), (2, b'\x00two')],
      'the frames behind the request are parsed as frames: both echoed')
# A close behind the request: answered at once (no echo can follow a close).
s = socket.create_connection(('127.0.0.1', d.port), timeout=5)
s.sendall(u.upgrade_request('/').encode() + F(8, struct.pack('!H', 4321)))
st, _, rest = s.recv(65536).partition(b'\r\n\r\n')
t.is_(u.Reader(s, rest).close_code(), 4321, 'a close behind the request is echoed with its code')
s.close()


# A raw backend: the bytes behind the upgrade reach the TCP service once it is connected.
class Echo:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        with c:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                c.sendall(data)

e = Echo()
dr = t.Daemon('wsgwd', start=False)
dr.args = ['--raw', str(dr.port), '127.0.0.1:%d' % e.port]
dr.start()
s = socket.create_connection(('127.0.0.1', dr.port), timeout=5)
s.sendall(u.upgrade_request('/').encode() + F(2, b'raw bytes early'))
buf = b''
while b'\r\n\r\n' not in buf:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
head, _, left = buf.partition(b'\r\n\r\n')
rd = u.Reader(s, left)
try:
    f = rd.frame()
    got = (f[1], f[2])
except (EOFError, OSError):
    got = None
s.close()
t.is_(got, (2, b'raw bytes early'),
      'raw: a message behind the upgrade reaches the backend before it is connected, and comes back')
t.ok(d.alive() and dr.alive(), 'both gateways survived')
t.done()
