#!/usr/bin/python3
# share/examples/echo-backend over the version-1 frame protocol, spoken from python: HELLO,
# PING/PONG, OPEN/CLOSE logged, echo of text and binary messages from 0 bytes to 1 MiB,
# broadcasts, bad frames dropping one gateway connection while another keeps working, usage.
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

DATA, OPEN, CLOSE, HELLO, PING, PONG = 1, 2, 3, 4, 5, 6
CONTROL, VIDEO, ACK, FILE = 1, 2, 3, 4
TEXT = 1
HDR = struct.Struct('>IIIBBBB')


class Backend:
    """echo-backend on a free loopback port, its stderr in a file."""

    def __init__(self, *args):
        self.dir = t.tmpdir()
        self.port = t.free_port(udp_too=False)
        self.log_path = os.path.join(self.dir, 'echo-backend.log')
        self.log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen([t.prog('echo-backend')] + list(args) +
                                     ['127.0.0.1:%d' % self.port], stderr=self.log)
        if not t.wait_for(lambda: 'msg="listening"' in self.logtext() or
                          self.proc.poll() is not None):
            raise RuntimeError('echo-backend did not start:\n' + self.logtext())

    def logtext(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()

    def logged(self, pattern):
        """True once a log line matches pattern (polled)."""
        return bool(t.wait_for(lambda: re.search(pattern, self.logtext())))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class Gateway:
    """A gateway's end of a link: frames out and in, blocking with a timeout."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.buf = b''

    def send(self, ftype, payload=b'', client=0, backend=7, cls=CONTROL, flags=0, version=1,
             length=None):
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload) if length is None else length
        self.sock.sendall(HDR.pack(n, client, backend, ftype, cls, flags, version) + payload)

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def frame(self, skip_broadcasts=True):
        """(type, client, backend, class, flags, version, payload), or None at EOF."""
        while True:
            if not self._fill(HDR.size):
                return None
            n, client, backend, ftype, cls, flags, ver = HDR.unpack(self.buf[:HDR.size])
            if not self._fill(HDR.size + n):
                return None
            payload = self.buf[HDR.size:HDR.size + n]
            self.buf = self.buf[HDR.size + n:]
            if skip_broadcasts and ftype == DATA and client == 0:
                continue
            return ftype, client, backend, cls, flags, ver, payload

    def hello(self, gateway='gw-test', backend='echo-1'):
        self.send(HELLO, json.dumps({'gateway': gateway, 'version': 1, 'backend': backend}))
        return self.frame()

    def closed(self):
        """True once the backend hung up (frames still queued are read past)."""
        try:
            while self.frame(skip_broadcasts=False) is not None:
                pass
            return True
        except ConnectionResetError:
            return True
        except (socket.timeout, TimeoutError):
            return False

    def close(self):
        self.sock.close()


# ---- usage ----
rc, out, err = t.run([t.prog('echo-backend'), '--help'])
t.ok(rc == 0 and out.startswith('usage: echo-backend [--broadcast-every MS] [--name NAME] '
                                'HOST:PORT'), '--help prints the usage and exits 0')
rc, out, err = t.run([t.prog('echo-backend')])
t.ok(rc == 2 and 'usage:' in err, 'no address: usage on stderr, exit 2')
rc, out, err = t.run([t.prog('echo-backend'), '--broadcast-every', 'often', '127.0.0.1:1'])
t.is_(rc, 2, 'a bad --broadcast-every: exit 2')
rc, out, err = t.run([t.prog('echo-backend'), '127.0.0.1:99999'])
t.ok(rc == 1 and 'msg="cannot listen"' in err, 'a bad address: logged, exit 1')

# ---- the protocol ----
b = Backend('--name', 'echo-1')
g = Gateway(b.port)
f = g.hello()
t.ok(f is not None and f[0] == HELLO and f[1] == 0 and f[2] == 7 and f[5] == 1,
     'HELLO answered with HELLO, client 0, our backend id 7, version 1')
hello = json.loads(f[6]) if f else {}
t.is_(hello, {'gateway': 'gw-test', 'version': 1, 'backend': 'echo-1'},
      'HELLO payload: gateway echoed, version 1, the backend\'s --name')
t.ok(b.logged(r'level=info prog=echo-backend msg="gateway hello" gateway=127\.0\.0\.1:\d+ '
              r'id=gw-test as=echo-1 backend_id=7'), 'the HELLO is logged')

g.send(PING, b'\x00ping\xff')
t.is_(g.frame(), (PONG, 0, 7, CONTROL, 0, 1, b'\x00ping\xff'), 'PING answered by PONG, same payload')
g.send(PING)
t.is_(g.frame(), (PONG, 0, 7, CONTROL, 0, 1, b''), 'an empty PING gets an empty PONG')

g.send(OPEN, json.dumps({'client': 5, 'remote': '203.0.113.9:51234', 'path': '/ws/echo',
                         'query': '', 'subprotocol': None, 'claims': None}), client=5)
t.ok(b.logged(r'level=info prog=echo-backend msg="client open" client=5 '
              r'remote=203\.0\.113\.9:51234 path=/ws/echo subprotocol="" gateway='),
     'OPEN logged: client open client=5 remote=... path=...')

for size in (0, 1, 125, 65536, 1 << 20):
    text = '\u00e9' * (size // 2) + 'y' * (size % 2)  # size bytes of UTF-8
    g.send(DATA, text, client=5, flags=TEXT)
    t.is_(g.frame(), (DATA, 5, 7, CONTROL, TEXT, 1, text.encode()),
          'text message of %d bytes echoed to client 5, text flag kept' % size)
    blob = bytes((i * 31 + 7) & 0xff for i in range(size))
    g.send(DATA, blob, client=5, cls=VIDEO)
    t.is_(g.frame(), (DATA, 5, 7, VIDEO, 0, 1, blob),
          'binary message of %d bytes echoed, class VIDEO kept' % size)

# Many messages in one write come back in order.
burst = b''.join(HDR.pack(3, 9, 7, DATA, ACK, 0, 1) + b'%03d' % i for i in range(300))
g.sock.sendall(burst)
got = [g.frame() for _ in range(300)]
t.ok(all(f is not None and f[1] == 9 and f[3] == ACK and f[6] == b'%03d' % i
         for i, f in enumerate(got)), '300 messages in one write echoed in order')

g.send(CLOSE, struct.pack('>H', 1000) + b'bye', client=5)
t.ok(b.logged(r'msg="client close" client=5 code=1000 reason=bye gateway='),
     'CLOSE logged: client close client=5 code=1000 reason=bye')

# ---- bad frames: that link is dropped, the others go on ----
g2 = Gateway(b.port)
t.is_(g2.hello(gateway='gw-2')[0], HELLO, 'a second gateway connection gets its HELLO')
bad_cases = [
    ('version 2', dict(ftype=DATA, payload=b'x', client=1, version=2), 'bad_version'),
    ('type 10', dict(ftype=10, payload=b'', client=1), 'bad_type'),
    ('class 9', dict(ftype=DATA, payload=b'x', client=1, cls=9), 'bad_class'),
    ('flags 0x80', dict(ftype=DATA, payload=b'x', client=1, flags=0x80), 'bad_flags'),
    ('length over 16 MiB', dict(ftype=DATA, payload=b'', client=1, length=(16 << 20) + 1),
     'too_long'),
    ('CLOSE of 1 byte', dict(ftype=CLOSE, payload=b'\x03', client=1), 'close_short'),
    ('CLOSE code 1005', dict(ftype=CLOSE, payload=b'\x03\xed', client=1), 'bad_close_code'),
]
for what, kw, reason in bad_cases:
    bad = Gateway(b.port)
    bad.hello()
    bad.send(**kw)
    t.ok(bad.closed(), 'a frame with %s: the connection is dropped' % what)
    t.ok(b.logged(r'level=warning prog=echo-backend msg="bad frame" gateway=\S+ reason=%s '
                  % reason), '... and logged with reason=%s' % reason)
    bad.close()

nohello = Gateway(b.port)
nohello.send(DATA, b'hi', client=1)
t.ok(nohello.closed(), 'DATA before HELLO: the connection is dropped')
t.ok(b.logged(r'msg="bad frame" gateway=\S+ reason=no_hello type=DATA'), '... logged as no_hello')
nohello.close()

v2 = Gateway(b.port)
v2.send(HELLO, json.dumps({'gateway': 'future', 'version': 2}), backend=3)
f = v2.frame()
t.ok(f is not None and f[0] == CLOSE and f[1] == 0 and f[2] == 3 and f[6][:2] == b'\x03\xea' and
     f[6][2:] == b'version mismatch: peer speaks 2, this side speaks 1',
     'a HELLO with version 2 gets CLOSE 1002 "version mismatch: ..." for the link')
t.ok(v2.closed(), '... and then the connection is closed')
v2.close()

cut = Gateway(b.port)
cut.hello()
cut.sock.sendall(HDR.pack(10, 1, 7, DATA, CONTROL, 0, 1) + b'abc')
cut.sock.shutdown(socket.SHUT_WR)
t.ok(b.logged(r'msg="bad frame" gateway=\S+ reason=truncated'),
     'EOF inside a frame is logged as truncated')
cut.close()

g2.send(DATA, 'still here', client=11, flags=TEXT)
t.is_(g2.frame(), (DATA, 11, 7, CONTROL, TEXT, 1, b'still here'),
      'the other gateway connection still echoes after every drop')
g.send(DATA, 'me too', client=5, flags=TEXT)
t.is_(g.frame(), (DATA, 5, 7, CONTROL, TEXT, 1, b'me too'), 'and so does the first')

g.send(CLOSE, struct.pack('>H', 1001) + b'gateway stopping', client=0)
t.ok(g.closed(), 'CLOSE for client 0 ends the link')
t.ok(b.logged(r'msg="gateway closing" gateway=\S+ code=1001 reason="gateway stopping"'),
     '... logged as gateway closing')
g.close()
g2.close()
t.is_(b.stop(), 0, 'SIGTERM: exit 0')
t.ok(b.logged(r'msg="stopping"'), 'stopping is logged')

# ---- broadcasts ----
b = Backend('--broadcast-every', '50')
gws = [Gateway(b.port), Gateway(b.port)]
for i, gw in enumerate(gws):
    gw.hello(gateway='gw-%d' % i)
casts = []
for gw in gws:
    got = []
    while len(got) < 3:
        f = gw.frame(skip_broadcasts=False)
        if f is None:
            break
        got.append(f)
    casts.append(got)
t.ok(all(len(c) == 3 for c in casts), 'every gateway gets broadcasts')
t.ok(all(f[0] == DATA and f[1] == 0 and f[2] == 7 and f[4] == TEXT and
         f[6].startswith(b'broadcast ') and f[6].endswith(b' from echo')
         for c in casts for f in c), 'a broadcast is text DATA for client 0, "broadcast N from NAME"')
seqs = [int(f[6].split()[1]) for f in casts[0]]
t.ok(seqs == sorted(seqs) and len(set(seqs)) == 3, 'broadcasts are numbered in order: %r' % seqs)
gws[0].send(DATA, b'\x01\x02', client=3)
f = gws[0].frame()
t.is_(f, (DATA, 3, 7, CONTROL, 0, 1, b'\x01\x02'), 'echo still works between broadcasts')
for gw in gws:
    gw.close()
b.proc.send_signal(signal.SIGINT)
t.is_(b.proc.wait(10), 0, 'SIGINT: exit 0')
b.stop()
t.done()
