#!/usr/bin/python3
# websockify mode: `wsgwd --raw PORT HOST:PORT` in front of plain TCP servers. Bytes both ways
# (binary and base64 subprotocols), backend EOF -> 1000, connect failure -> 1011 then 1013,
# a client close half-closes the backend connection after its bytes, and a client that does
# not read stops the gateway from reading the backend, as a backend that does not read stops
# it reading the client; a line server behind a configured protocol = raw backend.
import asyncio
import base64
import os
import socket
import sys
import threading
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import wsutil as u
import websockets


class Server:
    """A TCP server running handler(conn) per connection in a thread."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.results = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        try:
            r = self.handler(c)
            if r is not None:
                self.results.append(r)
        finally:
            c.close()


def echo(c):
    while True:
        data = c.recv(65536)
        if not data:
            return
        c.sendall(data)


def hello_then_close(c):
    c.sendall(b'hello\n')


def collect(c):
    got = b''
    while True:
        data = c.recv(65536)
        if not data:
            return got
        got += data


pushed = {}


PUSH = 64 << 20


def push(c):
    # Pushes 64 MiB once the client says go: how much the gateway took before it stopped
    # reading (the client does not read yet) is recorded, then the rest is sent.
    c.recv(2)
    c.setblocking(False)
    total, chunk = PUSH, b'z' * 65536
    sent, idle_since = 0, None
    while sent < total:
        try:
            sent += c.send(chunk[:min(65536, total - sent)])
            idle_since = None
        except BlockingIOError:
            if idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > 1.0 and 'stalled_at' not in pushed:
                pushed['stalled_at'] = sent
            time.sleep(0.005)
    pushed['done'] = sent
    c.setblocking(True)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)


def start(server, extra_args=()):
    d = t.Daemon('wsgwd', start=False)
    d.args = ['--raw'] + list(extra_args) + [str(d.port), '127.0.0.1:%d' % server.port]
    d.start()
    return d


es = Server(echo)
d = start(es)
URL = 'ws://127.0.0.1:%d/' % d.port


async def echo_binary():
    async with websockets.connect(URL, subprotocols=['binary'], max_size=None) as ws:
        sub = ws.subprotocol
        await ws.send(b'abc\x00\xff')
        got = await ws.recv()
        big = os.urandom(1 << 20)
        await ws.send(big)
        back = b''
        while len(back) < len(big):
            back += await ws.recv()
        return sub, got, back == big

sub, got, same = asyncio.run(echo_binary())
t.is_(sub, 'binary', 'the binary subprotocol is chosen')
t.is_(got, b'abc\x00\xff', 'bytes echoed as a binary message')
t.ok(same, '1 MiB echoed byte for byte (in as many messages as the backend reads)')


async def echo_base64():
    async with websockets.connect(URL, subprotocols=['base64']) as ws:
        await ws.send(base64.b64encode(b'line\n').decode())
        got = await ws.recv()
        return ws.subprotocol, got

sub, got = asyncio.run(echo_base64())
t.is_(sub, 'base64', 'the base64 subprotocol is chosen')
t.is_((type(got), base64.b64decode(got)), (str, b'line\n'), 'base64: text messages both ways')


async def no_subprotocol():
    async with websockets.connect(URL) as ws:
        await ws.send('text goes as bytes')
        return await ws.recv()

t.is_(asyncio.run(no_subprotocol()), b'text goes as bytes', 'without a subprotocol: text in, bytes back as binary')



# A line server behind a [backend] of protocol = raw from the configuration: lines split
# across messages and several lines in one message are answered line by line.
def line_server(c):
    f = c.makefile('rb')
    for line in f:
        c.sendall(b'> ' + line.upper())

ls = Server(line_server)
dl = t.Daemon('wsgwd', conf='[backend lines]\naddress = 127.0.0.1:%d\nprotocol = raw\n' % ls.port)
t.is_(dl.result('backends')['backends'][0]['protocol'], 'raw', 'protocol = raw from the configuration')


async def lines():
    async with websockets.connect('ws://127.0.0.1:%d/ws/lines' % dl.port, subprotocols=['binary']) as ws:
        for part in (b'hel', b'lo\nwor', b'ld\n', b'a\nb\nc\n'):
            await ws.send(part)
        got = b''
        while got.count(b'\n') < 5:
            got += await asyncio.wait_for(ws.recv(), 5)
        return got

t.is_(asyncio.run(lines()), b'> HELLO\n> WORLD\n> A\n> B\n> C\n',
      'a line server in raw mode answers each line, however the lines were split')

# Backend EOF -> 1000 after what it sent.
hs = Server(hello_then_close)
d2 = start(hs)


async def eof():
    async with websockets.connect('ws://127.0.0.1:%d/' % d2.port) as ws:
        msg = await ws.recv()
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as e:
            return msg, e.rcvd.code if e.rcvd else None

t.is_(asyncio.run(eof()), (b'hello\n', 1000), 'backend EOF: its bytes, then close 1000')

# Client close: the backend gets every byte, then EOF.
cs = Server(collect)
d3 = start(cs)


async def client_close():
    async with websockets.connect('ws://127.0.0.1:%d/' % d3.port) as ws:
        for i in range(100):
            await ws.send(b'%03d,' % i)
        await ws.close(1000)

asyncio.run(client_close())
t.ok(t.wait_for(lambda: cs.results), 'the backend saw EOF after the client closed')
t.is_(cs.results[0] if cs.results else None, b''.join(b'%03d,' % i for i in range(100)),
      'every byte sent before the close reached the backend, in order')

# Connect failure: 1011, then 1013 while the backend is marked down.
dead = socket.socket()
dead.bind(('127.0.0.1', 0))
dead_port = dead.getsockname()[1]
dead.close()
d4 = t.Daemon('wsgwd', start=False)
d4.args = ['--raw', str(d4.port), '127.0.0.1:%d' % dead_port]
d4.start()


async def refused():
    codes = []
    for _ in range(2):
        async with websockets.connect('ws://127.0.0.1:%d/' % d4.port) as ws:
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as e:
                codes.append(e.rcvd.code if e.rcvd else None)
    return codes

t.is_(asyncio.run(refused()), [1011, 1013], 'connect refused: 1011, then 1013 while marked down')
t.is_(d4.result('backends')['backends'][0]['state'], 'down', 'the raw backend is reported down')

# Backpressure: a client that does not read stops the gateway reading the backend.
ps = Server(push)
d5 = start(ps)


# A raw socket client, so that nothing reads on its behalf.
s, hdrs, left = u.upgrade(d5.port)
s.sendall(u.frame(2, b'go'))
stalled = t.wait_for(lambda: 'stalled_at' in pushed, 30)
rd = u.Reader(s, left)
got, code = 0, None
while True:
    try:
        fin, op, payload = rd.frame(20)
    except (EOFError, OSError):
        break
    if op == 8:
        code = int.from_bytes(payload[:2], 'big')
        break
    got += len(payload)
s.close()
t.ok(stalled and pushed['stalled_at'] < PUSH * 3 // 4,
     'the backend stalls while the client does not read (%s of %d bytes taken)'
     % (pushed.get('stalled_at'), PUSH))
t.is_((got, code), (PUSH, 1000), 'then every byte arrives once the client reads, and close 1000')

# Backpressure the other way: a backend that does not read stops the gateway reading its
# client; once it reads, every byte arrives.
go = threading.Event()
slow = {}


def slow_reader(c):
    go.wait(60)
    n = 0
    while True:
        data = c.recv(1 << 20)
        if not data:
            break
        n += len(data)
        slow['got'] = n
    return n

ss = Server(slow_reader)
d6 = start(ss)
s, hdrs, left = u.upgrade(d6.port)
sent, pending, stalled, _ = u.push_until_stalled(s, u.frame(2, b'r' * 65536) * 16, PUSH)
stalled_at = sent if stalled else None
t.ok(stalled_at is not None and stalled_at < PUSH // 2,
     'raw: a backend that does not read stalls its client (%s bytes taken)' % stalled_at)
go.set()
s.setblocking(True)
if pending:
    s.sendall(pending)
frames_sent = (stalled_at or sent) + len(pending)
payload_sent = frames_sent // len(u.frame(2, b'r' * 65536)) * 65536
t.ok(t.wait_for(lambda: slow.get('got', 0) >= payload_sent, 30),
     'raw: once the backend reads, every byte the client sent arrives (%s of %d)'
     % (slow.get('got'), payload_sent))
s.close()
t.done()
