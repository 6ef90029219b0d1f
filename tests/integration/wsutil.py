"""wsutil.py -- raw WebSocket and HTTP helpers for wsgwd's tests: exact handshake replies and
hand-built frames (masked or not, fragmented, reserved bits), which client libraries will not
send."""

import base64
import hashlib
import os
import socket
import struct
import time

GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def request(port, raw, timeout=5.0):
    """Sends raw bytes, returns (status, {lower-case header: value}, body, sock) with the
    head read; body is what came after the head so far."""
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    s.sendall(raw if isinstance(raw, bytes) else raw.encode())
    buf = b''
    deadline = time.monotonic() + timeout
    while b'\r\n\r\n' not in buf and time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    head, _, body = buf.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        status = 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(':')
        headers[k.strip().lower()] = v.strip()
    return status, headers, body, s


def upgrade_request(path='/', key=None, version='13', extra='', method='GET', host='127.0.0.1'):
    key = key or base64.b64encode(os.urandom(16)).decode()
    return ('%s %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
            'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: %s\r\n%s\r\n'
            % (method, path, host, key, version, extra))


def status_of(port, raw):
    st, hdrs, body, s = request(port, raw)
    s.close()
    return st


def upgrade(port, path='/', extra=''):
    """A raw WebSocket connection after a 101; returns (sock, headers, leftover bytes)."""
    st, hdrs, body, s = request(port, upgrade_request(path, extra=extra))
    if st != 101:
        s.close()
        raise RuntimeError('upgrade got %d' % st)
    return s, hdrs, body


def close_code_after(port, frames, extra=''):
    """Upgrades, sends frames, and returns the close code the server then sends (None without
    one)."""
    s, hdrs, left = upgrade(port, extra=extra)
    s.sendall(b''.join(frames))
    code = Reader(s, left).close_code()
    s.close()
    return code


def frame(opcode, payload=b'', fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    if n < 126:
        hdr = struct.pack('!BB', b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        hdr = struct.pack('!BBH', b0, (0x80 if mask else 0) | 126, n)
    else:
        hdr = struct.pack('!BBQ', b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Reader:
    """Reads server frames from a raw socket."""

    def __init__(self, sock, leftover=b''):
        self.s = sock
        self.buf = leftover
        self.rsv = 0  # the reserved bits (RSV1 = 4) of the last frame read

    def _need(self, n, timeout):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError('connection closed')
            self.buf += chunk

    def frame(self, timeout=5.0):
        """(fin, opcode, payload) of the next frame; EOFError when the connection ends."""
        self._need(2, timeout)
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7f, 2
        if n == 126:
            self._need(4, timeout)
            n, off = struct.unpack('!H', self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, timeout)
            n, off = struct.unpack('!Q', self.buf[2:10])[0], 10
        self._need(off + n, timeout)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        self.rsv = (b0 >> 4) & 7
        return bool(b0 & 0x80), b0 & 0x0f, payload

    def close_code(self, timeout=5.0):
        """The code of the next close frame, skipping others; None when the connection ends
        first."""
        try:
            while True:
                fin, op, payload = self.frame(timeout)
                if op == 8:
                    return struct.unpack('!H', payload[:2])[0] if len(payload) >= 2 else 1005
        except (EOFError, OSError):
            return None


def close_payload(code, reason=b''):
    return struct.pack('!H', code) + reason


def links_up(d, timeout=10.0):
    """Waits until the gateway d has a link up from every worker to every framed backend (the
    backend may have answered HELLO before the gateway read it)."""
    import gwtest

    def up():
        bs = d.result('backends')['backends']
        return all(b['links'] == b['workers'] for b in bs if b['protocol'] == 'frames')
    return gwtest.wait_for(up, timeout)


def push_until_stalled(s, chunk, limit, quiet=1.0):
    """Sends chunk again and again on s (made non-blocking) until limit bytes went, the socket
    took nothing for `quiet` seconds (the peer stopped reading: stalled), or the peer closed.
    Returns (sent, pending, stalled, closed); pending is the unsent rest of the last chunk."""
    s.setblocking(False)
    sent, pending, idle_since = 0, b'', None
    while sent < limit:
        try:
            pending = pending or chunk
            n = s.send(pending)
            pending = pending[n:]
            sent += n
            idle_since = None
        except BlockingIOError:
            if idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > quiet:
                return sent, pending, True, False
            time.sleep(0.005)
        except OSError:
            return sent, pending, False, True
    return sent, pending, False, False
