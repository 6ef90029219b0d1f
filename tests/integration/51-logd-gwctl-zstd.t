#!/usr/bin/python3
# `gwctl log --zstd`: a few thousand lines (some long, some UTF-8) piped through gwctl into a
# real logd land whole and in order, exit 0; a proxy between them reads the native frames
# (lib/native.h's header) and sees the batches go zstd-compressed with --zstd, plain without.
import json
import os
import socket
import struct
import sys
import threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

d = lt.Logd(fmt='json')
HDR = struct.Struct('>IBBHQIIII')


class Proxy:
    """Forwards one client at a time to logd's native port, noting each BATCH frame the
    client sends: (flags, length as sent, raw_length)."""

    def __init__(self, port):
        self.batches = []
        self.lsock = socket.socket()
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.target = port
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            s = socket.create_connection(('127.0.0.1', self.target))
            threading.Thread(target=self.pipe, args=(s, c, False), daemon=True).start()
            threading.Thread(target=self.pipe, args=(c, s, True), daemon=True).start()

    def pipe(self, src, dst, watch):
        buf = b''
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b''
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if watch:
                buf += data
                while len(buf) >= HDR.size:
                    _, ftype, _, flags, _, _, length, raw, _ = HDR.unpack_from(buf)
                    if len(buf) < HDR.size + length:
                        break
                    if ftype == lt.BATCH:
                        self.batches.append((flags, length, raw))
                    buf = buf[HDR.size + length:]
            try:
                dst.sendall(data)
            except OSError:
                return


def lines_for(tag, n):
    out = []
    for i in range(n):
        if i % 97 == 0:
            out.append('%s %05d long %s' % (tag, i, 'x%d ' % i * 900))  # ~5 KB
        elif i % 7 == 0:
            out.append('%s %05d utf8 héllo wörld 日本語のログ ✓ 🚀 %d' % (tag, i, i))
        else:
            out.append('%s %05d plain line number %d of the file' % (tag, i, i))
    return out


def gwctl_log(port, text, *opts):
    return t.run([t.prog('gwctl'), 'log', '--addr', '127.0.0.1:%d' % port, '--app', 'ztest'] +
                 list(opts), input=text, timeout=60)


def msgs(tag):
    got = []
    for l in d.lines():
        r = json.loads(l)
        if r.get('app') == 'ztest' and r.get('msg', '').startswith(tag + ' '):
            got.append(r['msg'])
    return got


N = 3000
p = Proxy(d.native_port)
want = lines_for('z', N)
rc, out, err = gwctl_log(p.port, '\n'.join(want) + '\n', '--zstd')
t.is_(rc, 0, 'gwctl log --zstd exits 0 once acknowledged ' + err.strip())
got = msgs('z')
t.is_(len(got), N, 'every line piped through gwctl log --zstd is in the file')
t.ok(got == want, 'the lines are whole and in order, long and UTF-8 ones included')
t.ok(any('日本語のログ ✓ 🚀' in m for m in got), 'UTF-8 text kept as it was sent')
t.ok(len(p.batches) >= 2, 'several batches were sent (%d)' % len(p.batches))
t.ok(p.batches and all(f & 1 for f, _, _ in p.batches),
     'every batch carries the zstd flag with --zstd')
sent = sum(n for _, n, _ in p.batches)
raw = sum(r for _, _, r in p.batches)
t.ok(p.batches and sent * 3 < raw,
     'the batches went compressed (%d bytes on the wire for %d)' % (sent, raw))
# logd has no metric of compressed bytes received; its native input counted every line.
t.is_(d.metric('logd_received_messages_total', {'input': 'native'}), float(N),
      'logd counted every line on its native input')

# Without --zstd the same path sends plain batches (the proxy tells the two apart).
p2 = Proxy(d.native_port)
rc, _, err = gwctl_log(p2.port, '\n'.join(lines_for('p', 300)) + '\n')
t.is_(rc, 0, 'gwctl log without --zstd exits 0 ' + err.strip())
t.ok(p2.batches and not any(f & 1 for f, _, _ in p2.batches), 'without --zstd batches are plain')
t.is_(len(msgs('p')), 300, 'the plain lines land too')

# A single message with --zstd (a batch too small to gain is sent as it is, and works).
rc, _, err = gwctl_log(d.native_port, None, '--zstd', 'one', 'short', 'message')
t.is_(rc, 0, 'gwctl log --zstd MESSAGE exits 0 ' + err.strip())
t.ok(t.wait_for(lambda: 'one short message' in [json.loads(l).get('msg') for l in d.lines()], 5),
     'a single --zstd message lands')

# --zstd takes no value.
rc, _, err = t.run([t.prog('gwctl'), 'log', '--zstd=9', 'x'])
t.is_(rc, 2, '--zstd=9 is a usage error')
t.done()
