#!/usr/bin/python3
# Every violation of RFC 6455 answered with its exact close code (1002, 1007, 1009), a deflate
# bomb stopped at max_message, keepalive pings and their timeout, the idle timeout, and the
# connection limits (max_clients, max_clients_per_ip: 503; handshakes_per_ip: 429); a client
# that does not read closed with 1013 past max_output.
import asyncio
import os
import struct
import sys
import zlib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import wsutil as u
from framebackend import FrameBackend
import websockets

b = FrameBackend()
conf = '[backend echo]\naddress = 127.0.0.1:%d\n' % b.port
d = t.Daemon('wsgwd', conf='[wsgwd]\nmax_message = 1k\n' + conf)
t.ok(b.wait_links(2) and u.links_up(d), 'links up')


def code_after(frames, extra=''):
    return u.close_code_after(d.port, frames, extra)

F = u.frame
cases = [
    ('unmasked frame', [F(1, b'hi', mask=False)], 1002),
    ('RSV1 without deflate', [F(1, b'hi', rsv=4)], 1002),
    ('RSV2', [F(1, b'hi', rsv=2)], 1002),
    ('reserved opcode 3', [F(3, b'')], 1002),
    ('reserved control opcode 0xB', [F(0xB, b'')], 1002),
    ('continuation with no message', [F(0, b'x')], 1002),
    ('new message inside a fragmented one', [F(1, b'a', fin=False), F(1, b'b')], 1002),
    ('fragmented ping', [F(9, b'p', fin=False)], 1002),
    ('ping over 125 bytes', [F(9, b'p' * 126)], 1002),
    ('close with code 1005', [F(8, struct.pack('!H', 1005))], 1002),
    ('close with code 999', [F(8, struct.pack('!H', 999))], 1002),
    ('close with a 1-byte payload', [F(8, b'\x03')], 1002),
    ('invalid UTF-8 text', [F(1, b'\xc3\x28')], 1007),
    ('invalid UTF-8 across fragments', [F(1, b'ok \xe2\x82', fin=False), F(0, b'\x28 rest')], 1007),
    ('message over max_message', [F(2, b'x' * 1025)], 1009),
    ('fragments over max_message', [F(2, b'x' * 600, fin=False), F(0, b'y' * 600)], 1009),
]
for name, frames, want in cases:
    t.is_(code_after(frames), want, '%s: close %d' % (name, want))

# UTF-8 failing fast: the bad byte in the first fragment closes before the message ends.
t.is_(code_after([F(1, b'\xff', fin=False)]), 1007, 'invalid UTF-8 in a first fragment: 1007 at once')

# A valid close is echoed with its code.
t.is_(code_after([F(8, struct.pack('!H', 4000) + b'bye')]), 4000, 'a valid close is echoed with its code')

# Deflate bomb: 512 KiB of zeros compresses to about 500 bytes; it must stop at max_message.
co = zlib.compressobj(9, zlib.DEFLATED, -15)
bomb = co.compress(b'\0' * (512 << 10)) + co.flush(zlib.Z_SYNC_FLUSH)
bomb = bomb[:-4] if bomb.endswith(b'\x00\x00\xff\xff') else bomb
t.ok(len(bomb) < 1024, 'the bomb is under max_message on the wire (%d bytes)' % len(bomb))
ext = 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n'
t.is_(code_after([F(2, bomb, rsv=4)], extra=ext), 1009, 'deflate bomb: 1009')
small = zlib.compressobj(9, zlib.DEFLATED, -15)
msg = small.compress(b'hello hello hello') + small.flush(zlib.Z_SYNC_FLUSH)
s, hdrs, left = u.upgrade(d.port, extra=ext)
t.like(hdrs.get('sec-websocket-extensions', ''), 'permessage-deflate', 'deflate negotiated on a raw client')
s.sendall(F(1, msg[:-4], rsv=4))
fin, op, payload = u.Reader(s, left).frame()
t.is_((op, payload), (1, b'hello hello hello'), 'a compressed message is inflated for the backend and echoed')
s.close()
t.ok(d.alive(), 'the gateway survived every violation')

# Keepalive: a client that never answers pings is closed with 1001.
d2 = t.Daemon('wsgwd', conf='[wsgwd]\nping_interval = 200ms\nping_timeout = 1s\n' + conf)
t.ok(t.wait_for(lambda: d2.result('backends')['backends'][0]['links'] == 2), 'second gateway up')
s, hdrs, left = u.upgrade(d2.port)
rd = u.Reader(s, left)
ops = []
while True:
    try:
        fin, op, payload = rd.frame(5)
    except (EOFError, OSError):
        break
    ops.append(op)
    if op == 8:
        code = struct.unpack('!H', payload[:2])[0]
        break
s.close()
t.ok(9 in ops, 'a silent client is pinged')
t.is_((ops[-1], code), (8, 1001), 'no pong within ping_timeout: close 1001')
t.is_(d2.metric('wsgwd_ping_timeouts_total'), 1, 'ping timeout counted')


async def answers_pings():
    async with websockets.connect('ws://127.0.0.1:%d/' % d2.port) as ws:
        await asyncio.sleep(1.5)
        await ws.send('still here')
        return await ws.recv()

t.is_(asyncio.run(answers_pings()), 'still here', 'a client that answers pings stays open past ping_timeout')

# Idle timeout.
d3 = t.Daemon('wsgwd', conf='[wsgwd]\nidle_timeout = 1s\nping_interval = 200ms\n' + conf)
t.ok(t.wait_for(lambda: d3.result('backends')['backends'][0]['links'] == 2), 'third gateway up')


async def idle():
    async with websockets.connect('ws://127.0.0.1:%d/' % d3.port) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None

t.is_(asyncio.run(idle()), 1001, 'no message for idle_timeout: close 1001 (pongs do not count)')

# Connection limits.
d4 = t.Daemon('wsgwd', conf='[wsgwd]\nmax_clients = 3\n' + conf)
t.ok(t.wait_for(lambda: d4.result('backends')['backends'][0]['links'] == 2), 'fourth gateway up')
held = [u.upgrade(d4.port)[0] for _ in range(3)]
t.is_(u.status_of(d4.port, u.upgrade_request()), 503, 'max_clients reached: 503')
held.pop().close()
t.ok(t.wait_for(lambda: d4.result('status')['clients'] == 2), 'a client left')
t.is_(u.status_of(d4.port, u.upgrade_request()), 101, 'below max_clients again: 101')
d5 = t.Daemon('wsgwd', conf='[wsgwd]\nmax_clients_per_ip = 2\n' + conf)
t.ok(t.wait_for(lambda: d5.result('backends')['backends'][0]['links'] == 2), 'fifth gateway up')
two = [u.upgrade(d5.port)[0] for _ in range(2)]
t.is_(u.status_of(d5.port, u.upgrade_request()), 503, 'max_clients_per_ip reached: 503')
for s in two:
    s.close()
t.ok(t.wait_for(lambda: d5.result('status')['clients'] == 0), 'the two left')
d6 = t.Daemon('wsgwd', conf='[wsgwd]\nhandshakes_per_ip = 2\n' + conf)
t.ok(u.links_up(d6), 'sixth gateway up')
st = [u.status_of(d6.port, u.upgrade_request()) for _ in range(12)]
t.ok(st[0] == 101 and 429 in st, 'handshakes_per_ip: past 2 a second, 429 (%s)' % st)
t.ok(d6.metric('wsgwd_handshakes_total', {'result': 'rate_limited'}) >= 1, '429s counted')

# A client that does not read: past max_output it is closed with 1013 (counted, the backend
# told), and what it finally reads is bounded.
import socket
import framebackend as fb
b7 = FrameBackend()
d7 = t.Daemon('wsgwd', conf='[wsgwd]\nmax_output = 64k\n[backend echo]\naddress = 127.0.0.1:%d\n' % b7.port)
t.ok(b7.wait_links(2) and u.links_up(d7), 'seventh gateway up, its own backend')
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(('127.0.0.1', d7.port))
s.sendall(u.upgrade_request('/').encode())
t.ok(t.wait_for(lambda: d7.result('status')['clients'] == 1), 'the slow client is open')
cid = d7.result('clients')['clients'][0]['id']
chunk = fb.frame(fb.DATA, b's' * 32768, client=cid)
pushed = 0
while not d7.metric('wsgwd_output_overflows_total') and pushed < (64 << 20):
    b7.send_raw(chunk)
    pushed += 32768
t.is_(d7.metric('wsgwd_output_overflows_total'), 1, 'a client over max_output is counted')
t.ok(t.wait_for(lambda: any(c[0] == cid and c[1] == 1013 for c in b7.closes)),
     'the backend is told CLOSE 1013 for it')
s.settimeout(5)
rd = u.Reader(s)
head = b''
while b'\r\n\r\n' not in head:
    head += s.recv(1)
got, code = 0, None
while True:
    try:
        fin, op, payload = rd.frame()
    except (EOFError, OSError):
        break
    if op == 8:
        code = struct.unpack('!H', payload[:2])[0]
        break
    got += len(payload)
s.close()
t.is_(code, 1013, 'the slow client, reading at last, finds close 1013 after its queued messages')
t.ok(got < 8 << 20, 'what was queued for it stayed bounded (%d bytes of %d pushed)' % (got, pushed))
t.done()
