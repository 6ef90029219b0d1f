"""logdtest.py -- what logd's integration tests share: a logd on free ports writing into its
temporary directory, and a native protocol client (the layout of lib/native.h) written
independently of the C code, so the tests check the protocol rather than agree with it.

    import gwtest as t, logdtest as lt
    d = lt.Logd()
    c = lt.Native(d.native_port)
    c.batch(1, ['hello'])
    t.is_(c.ack(), 1, 'acknowledged')
"""

import os
import socket
import struct
import subprocess
import threading

import gwtest as t

MAGIC = 0x47574C31
HELLO, WELCOME, BATCH, ACK, ERROR = 1, 2, 3, 4, 5
HDR = struct.Struct('>IBBHQIIII')


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def frame(ftype, seq=0, count=0, payload=b'', version=1, flags=0, length=None, crc=None,
          magic=MAGIC, raw_length=None):
    """One frame; length and crc may lie for the bad-input tests. raw_length (the size after
    decompression, for a zstd payload) defaults to the length."""
    n = len(payload) if length is None else length
    c = crc32c(payload) if crc is None else crc
    r = n if raw_length is None else raw_length
    return HDR.pack(magic, ftype, version, flags, seq, count, n, r, c) + payload


def zstd(data):
    """data as one zstd frame that declares its content size (the zstd command line tool, so
    the frame is made independently of logd's C code)."""
    out = subprocess.run(['zstd', '-q', '-c', '--stream-size=%d' % len(data)], input=data,
                         stdout=subprocess.PIPE, check=True).stdout
    return out


def record(msg, app='test', host='h1', sev=6, fac=1, time_ns=0, procid='', msgid='', sd=''):
    if isinstance(msg, str):
        msg = msg.encode()
    body = struct.pack('>BBBBhq', sev, fac, 0, 0, 0, time_ns)
    for s in (host, app, procid, msgid):
        s = s.encode()
        body += struct.pack('>B', len(s)) + s
    sd = sd.encode()
    body += struct.pack('>H', len(sd)) + sd + msg
    return struct.pack('>I', len(body)) + body


class Native:
    """A native protocol client: HELLO on connect, batches, ACK and ERROR frames back."""

    def __init__(self, port, session=0x1234, name='gwtest', timeout=10.0, hello=True):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.buf = b''
        self.welcome = None
        if hello:
            self.send(frame(HELLO, payload=struct.pack('>Q', session) + name.encode()))
            ftype, seq, _, payload = self.read_frame()
            if ftype != WELCOME:
                raise RuntimeError('expected WELCOME, got type %s' % ftype)
            self.welcome = seq
            # The server's limits: payload bytes as sent, and after decompression.
            self.max_payload, self.max_raw = struct.unpack('>II', payload[:8])

    def send(self, data):
        self.sock.sendall(data)

    def batch(self, seq, msgs, **kw):
        payload = b''.join(record(m, **kw) for m in msgs)
        self.send(frame(BATCH, seq=seq, count=len(msgs), payload=payload))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def read_frame(self):
        """(type, seq, count, payload), or None when the server closed."""
        if not self._need(HDR.size):
            return None
        magic, ftype, ver, flags, seq, count, length, raw, crc = HDR.unpack(self.buf[:HDR.size])
        if not self._need(HDR.size + length):
            return None
        payload = self.buf[HDR.size:HDR.size + length]
        self.buf = self.buf[HDR.size + length:]
        return ftype, seq, count, payload

    def ack(self):
        """The seq of the next ACK; None on close; raises on ERROR."""
        f = self.read_frame()
        if f is None:
            return None
        if f[0] == ERROR:
            raise RuntimeError('ERROR %d: %s' % (f[2], f[3].decode(errors='replace')))
        return f[1] if f[0] == ACK else ('type', f[0])

    def acks_until(self, seq):
        """Reads ACKs until one covers seq; returns the last, or None on close."""
        last = None
        while last is None or last < seq:
            a = self.ack()
            if a is None or isinstance(a, tuple):
                return a
            last = a
        return last

    def close(self):
        self.sock.close()


class Logd(t.Daemon):
    """logd with its syslog, native and HTTP ports free on loopback and its output in the
    daemon's directory (out/all.log unless output is given)."""

    def __init__(self, env=None, conf=None, output=None, fmt='raw', start=True, args=()):
        super().__init__('logd', conf=conf, start=False, args=args,
                         ports={'syslog': 'GWKIT_LOGD_SYSLOG_LISTEN',
                                'native': 'GWKIT_LOGD_NATIVE_LISTEN',
                                'http': 'GWKIT_LOGD_HTTP_LISTEN'})
        self.syslog_port = self.ports['syslog']
        self.native_port = self.ports['native']
        self.out = output or os.path.join(self.dir, 'out', 'all.log')
        self.dgram = os.path.join(self.run_dir, 'logd.dgram')
        self.env.update({'GWKIT_LOGD_OUTPUT': self.out, 'GWKIT_LOGD_FORMAT': fmt})
        self.env.update(env or {})
        if start:
            self.start()

    def lines(self, path=None):
        """The output file's lines (bytes, without their LF); [] while it does not exist."""
        try:
            with open(path or self.out, 'rb') as f:
                return f.read().split(b'\n')[:-1]
        except FileNotFoundError:
            return []

    def wait_lines(self, n, timeout=10.0, path=None):
        """Polls until the file holds at least n lines; returns them."""
        t.wait_for(lambda: len(self.lines(path)) >= n, timeout)
        return self.lines(path)

    def ingest(self, body, timeout=15):
        """(status, body) of POST /ingest through curl."""
        out = t.subprocess.run(['curl', '-s', '-m', str(timeout), '-o', '-', '-w', '\n%{http_code}',
                                '--data-binary', '@-', 'http://127.0.0.1:%d/ingest' % self.http_port],
                               input=body if isinstance(body, bytes) else body.encode(),
                               capture_output=True)
        text, _, code = out.stdout.decode(errors='replace').rpartition('\n')
        return int(code or 0), text


def ack_reader(c):
    """Reads the acknowledgements of Native c in a thread until its connection ends. Returns
    (acked, thread): acked[0] is the highest acknowledged sequence number so far."""
    acked = [0]

    def read():
        try:
            while True:
                a = c.ack()
                if a is None or isinstance(a, tuple):
                    return
                acked[0] = a
        except OSError:
            return
    th = threading.Thread(target=read)
    th.start()
    return acked, th
