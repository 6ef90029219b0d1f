"""framebackend.py -- a backend speaking wsgwd's frame protocol (version 1), for tests.

Runs in a thread of the test: answers HELLO and PING, echoes DATA (text stays text), records
OPEN and CLOSE payloads, and can broadcast, close a client or send any raw bytes (bad frames).

    b = FrameBackend()            # listens on a free loopback port: b.port
    ... wsgwd with [backend echo] address = 127.0.0.1:<b.port> ...
    b.wait_links(2)               # one link per worker
    b.broadcast(b'hi', text=True)
    b.send_raw(bytes(...))        # on every link
    b.close()
"""

import json
import socket
import struct
import threading
import time

DATA, OPEN, CLOSE, HELLO, PING, PONG = 1, 2, 3, 4, 5, 6
HDR = struct.Struct('>IIIBBBB')


def frame(type_, payload=b'', client=0, backend=0, cls=1, flags=0, version=1, length=None):
    return HDR.pack(len(payload) if length is None else length, client, backend, type_, cls,
                    flags, version) + payload


class FrameBackend:
    def __init__(self, echo=True, hello=True):
        self.echo = echo
        self.hello = hello
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.links = []
        self.opens = []
        self.closes = []
        self.hellos = []
        self.ready = set()
        self.pongs = []
        self.data_bytes = 0
        self.hello_version = 1
        self.datas = []
        self.lock = threading.Lock()
        self.stopped = False
        # Cleared: the backend stops reading its links once they said HELLO (a slow backend).
        self.reading = threading.Event()
        self.reading.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.links.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _send(self, c, data):
        try:
            c.sendall(data)
        except OSError:
            pass

    def _serve(self, c):
        buf = b''
        while True:
            if c in self.ready:
                self.reading.wait()
            try:
                chunk = c.recv(1 << 20)
            except OSError:
                chunk = b''
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 16:
                length, client, backend, type_, cls, flags, version = HDR.unpack(buf[:16])
                if len(buf) < 16 + length:
                    break
                payload = buf[16:16 + length]
                buf = buf[16 + length:]
                self._frame(c, client, backend, type_, cls, flags, payload)
        with self.lock:
            if c in self.links:
                self.links.remove(c)
            self.ready.discard(c)
        c.close()

    def _frame(self, c, client, backend, type_, cls, flags, payload):
        if type_ == HELLO:
            self.hellos.append(json.loads(payload))
            if self.hello:
                self._send(c, frame(HELLO, json.dumps({'version': self.hello_version,
                                                       'backend': 'pyecho'}).encode(),
                                    backend=backend))
            with self.lock:
                self.ready.add(c)
        elif type_ == PING:
            self._send(c, frame(PONG, payload, backend=backend))
        elif type_ == OPEN:
            self.opens.append(json.loads(payload))
        elif type_ == PONG:
            self.pongs.append(payload)
        elif type_ == CLOSE:
            code = struct.unpack('>H', payload[:2])[0] if len(payload) >= 2 else None
            self.closes.append((client, code, payload[2:].decode()))
        elif type_ == DATA:
            self.datas.append((client, flags, payload))
            self.data_bytes += len(payload)
            if self.echo:
                self._send(c, frame(DATA, payload, client=client, backend=backend, cls=cls,
                                    flags=flags))

    def wait_links(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.ready) >= n:
                    return True
            time.sleep(0.02)
        return False

    def all_links(self):
        with self.lock:
            return list(self.ready)

    def send_raw(self, data, links=None):
        for c in (links or self.all_links()):
            self._send(c, data)

    def broadcast(self, payload, text=False):
        self.send_raw(frame(DATA, payload, client=0, flags=1 if text else 0))

    def close_client(self, client, code, reason=b''):
        self.send_raw(frame(CLOSE, struct.pack('>H', code) + reason, client=client))

    def close(self):
        self.stopped = True
        # A close alone leaves the socket listening while the accept thread sits in accept().
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.all_links():
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
