#!/usr/bin/python3
# Framed backends that misbehave: each kind of bad frame drops that backend link (counted by
# kind), its clients get 1011, the gateway lives on and reconnects; a HELLO of another version
# is refused with CLOSE 1002; a backend killed mid-stream closes its clients with 1011; PING
# on the link is answered; the gateway pings an idle link and drops one that stops answering.
import asyncio
import json
import os
import struct
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import wsutil as u
import framebackend as fb
import websockets

b = fb.FrameBackend()
d = t.Daemon('wsgwd', conf='[wsgwd]\nmax_frame = 1k\n[backend echo]\naddress = 127.0.0.1:%d\n' % b.port)
t.ok(b.wait_links(2) and u.links_up(d), 'links up')
URL = 'ws://127.0.0.1:%d/' % d.port

F = fb.frame
cases = [
    ('too_long', F(fb.DATA, b'x' * 1025, client=1)),
    ('bad_type', F(10, b'')),
    ('bad_type', F(0, b'')),
    ('bad_class', F(fb.DATA, b'x', client=1, cls=5)),
    ('bad_version', F(fb.PING, b'', version=2)),
    ('bad_flags', F(fb.DATA, b'x', client=1, flags=4)),
    ('bad_text', F(fb.DATA, b'\xff\xfe', client=1, flags=1)),
    ('bad_client', F(fb.OPEN, b'{}', client=0)),
    ('bad_close_code', F(fb.CLOSE, struct.pack('>H', 1005), client=1)),
    ('unknown_client', F(fb.DATA, b'x', client=4000000000)),
]


async def one_case(raw):
    async with websockets.connect(URL) as ws:
        await ws.send('ping')
        await ws.recv()
        b.send_raw(raw)
        try:
            await asyncio.wait_for(ws.recv(), 5)
            return 'no close'
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None

for kind, raw in cases:
    before = d.metric('wsgwd_backend_dropped_total', {'backend': 'echo'}) or 0
    code = asyncio.run(one_case(raw))
    t.is_(code, 1011, '%s: the clients of the link get 1011' % kind)
    t.ok(t.wait_for(lambda: (d.metric('wsgwd_backend_dropped_total', {'backend': 'echo'}) or 0) > before),
         '%s: the drop is counted' % kind)
    t.like(d.logtext(), 'kind=%s' % kind, '%s: logged with its kind' % kind)
    t.ok(b.wait_links(2) and u.links_up(d), '%s: the links come back' % kind)
t.ok(d.alive(), 'the gateway survived every bad frame')

# Truncated: a header promising more than comes before EOF.
async def truncated():
    async with websockets.connect(URL) as ws:
        await ws.send('x')
        await ws.recv()
        for c in b.all_links():
            b.send_raw(F(fb.DATA, b'abc', client=1, length=100), [c])
            c.shutdown(2)
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None

t.is_(asyncio.run(truncated()), 1011, 'EOF inside a frame: 1011')
t.ok(t.wait_for(lambda: 'kind=truncated' in d.logtext()), 'truncated frame logged')
t.ok(b.wait_links(2) and u.links_up(d), 'links back after truncation')

# The link PINGs are answered and the gateway pings an idle link.
b.send_raw(F(fb.PING, b'are you there'))
t.ok(t.wait_for(lambda: b'are you there' in b.pongs), 'a PING on the link gets a PONG with its payload')

# A backend that stops reading: its clients stop being read (bounded memory), and every byte
# arrives once it reads again.
b.reading.clear()
b.echo = False  # the raw client below never reads
before = b.data_bytes
s, hdrs, left = u.upgrade(d.port)
s.setblocking(False)
msg = u.frame(2, b'm' * 1000)
total = 64 << 20
sent, pending, stalled, _ = u.push_until_stalled(s, msg * 64, total)
stalled_at = sent if stalled else None
t.ok(stalled_at is not None and stalled_at < total // 2,
     'a backend that does not read stalls its clients (%s bytes taken)' % stalled_at)
b.reading.set()
s.setblocking(True)
want = before + (stalled_at or 0) // len(msg) * 1000
t.ok(t.wait_for(lambda: b.data_bytes >= want, 30),
     'once the backend reads, the queued messages arrive (%d of %d bytes)' % (b.data_bytes, want))
s.close()
b.echo = True
t.ok(b.wait_links(2) and u.links_up(d), 'links still up after the slow spell')

# A backend killed mid-stream.
async def killed():
    async with websockets.connect(URL) as ws:
        await ws.send('x')
        await ws.recv()
        b.close()
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None

t.is_(asyncio.run(killed()), 1011, 'backend killed: its clients get 1011')
t.ok(t.wait_for(lambda: d.result('backends')['backends'][0]['state'] == 'down'), 'the backend is reported down')
t.ok(d.alive(), 'the gateway lives on')

# A backend speaking another version: refused with CLOSE 1002 and a reason.
b2 = fb.FrameBackend()
b2.hello_version = 2
got = []
orig = b2._frame


def spy(c, client, backend, type_, cls, flags, payload):
    if type_ == fb.CLOSE:
        got.append((client, struct.unpack('>H', payload[:2])[0], payload[2:].decode()))
    orig(c, client, backend, type_, cls, flags, payload)

b2._frame = spy
d2 = t.Daemon('wsgwd', conf='[backend v2]\naddress = 127.0.0.1:%d\n' % b2.port)
t.ok(t.wait_for(lambda: got), 'a HELLO of version 2 is answered with CLOSE')
t.ok(got and got[0][0] == 0 and got[0][1] == 1002 and 'version mismatch' in got[0][2],
     'CLOSE client 0, code 1002, reason "version mismatch: ..."')
t.is_(d2.result('backends')['backends'][0]['links'], 0, 'no link up with a version-2 backend')

# Frames before HELLO.
b3 = fb.FrameBackend(hello=False)
d3 = t.Daemon('wsgwd', conf='[backend early]\naddress = 127.0.0.1:%d\n' % b3.port)
t.ok(t.wait_for(lambda: b3.hellos), 'the gateway sends HELLO first')
b3.send_raw(F(fb.DATA, b'x', client=1), b3.links)
t.ok(t.wait_for(lambda: 'kind=bad_hello' in d3.logtext()), 'DATA before HELLO drops the link')

# Link keepalive: an idle link is pinged every backend_ping_interval and answered; a backend
# that stops answering is dropped after backend_ping_timeout and its clients get 1011.
b4 = fb.FrameBackend()
pings = []
orig4 = b4._frame


def spy4(c, client, backend, type_, cls, flags, payload):
    if type_ == fb.PING:
        pings.append(payload)
    orig4(c, client, backend, type_, cls, flags, payload)

b4._frame = spy4
d4 = t.Daemon('wsgwd', conf='[wsgwd]\nbackend_ping_interval = 100ms\nbackend_ping_timeout = 1s\n'
                            '[backend keep]\naddress = 127.0.0.1:%d\n' % b4.port)
t.ok(b4.wait_links(2) and u.links_up(d4), 'keepalive gateway: links up')
t.ok(t.wait_for(lambda: len(pings) >= 4), 'the gateway pings its idle links')
t.ok(t.wait_for(lambda: len(pings) >= 8) and u.links_up(d4), 'answered PINGs keep the links up')


async def silenced():
    async with websockets.connect('ws://127.0.0.1:%d/' % d4.port) as ws:
        await ws.send('x')
        await ws.recv()
        b4.reading.clear()
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None, time.monotonic() - t0

code, took = asyncio.run(silenced())
t.is_(code, 1011, 'a backend that stops answering: its clients get 1011')
t.ok(0.5 <= took < 5, 'after about backend_ping_timeout (%.1fs)' % took)
t.ok(t.wait_for(lambda: 'kind=timeout' in d4.logtext()), 'the drop is logged as kind=timeout')
b4.reading.set()
t.done()
