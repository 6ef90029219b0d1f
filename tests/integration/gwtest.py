"""gwtest.py -- shared helper for gwkit's integration tests (TAP output, daemons, sockets).

Runs daemons on free loopback ports in a temporary directory, waits until their control socket
answers, and stops them by PID at exit (TERM, then KILL); a daemon that died from a signal, or
that had to be killed, fails the test (like h2o's t/Util.pm).

    import gwtest as t
    d = t.Daemon('hbd', env={'GWKIT_HBD_CLIENT_TIMEOUT': '2s'})
    t.is_(t.line_request(d.port, 'PING'), 'PONG', 'PING answered')
    t.done()

A daemon's listeners are named ports: Daemon(prog, ports={'syslog': 'GWKIT_LOGD_SYSLOG_LISTEN',
'http': 'GWKIT_LOGD_HTTP_LISTEN'}) gives each name a free loopback port (d.ports['syslog']) and
sets the variable to 127.0.0.1:PORT. Without ports: 'listen' and 'http' on GWKIT_<PROG>_LISTEN
and GWKIT_<PROG>_HTTP_LISTEN (d.port and d.http_port are those two).

GW_BUILD names the build directory (default: build/ next to tests/). GW_WRAP prefixes every
daemon command line (e.g. "valgrind -q --error-exitcode=99"). GW_TEST_<PROG>_<KEY>=value in
the environment becomes GWKIT_<PROG>_<KEY>=value for every <prog> daemon a test starts (one
test file runs another's checks with a setting changed: GW_TEST_HBD_IO=epoll).
"""

import atexit
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get('GW_BUILD') or os.path.join(ROOT, 'build')
BIN = os.path.join(BUILD, 'bin')

_run = 0
_failed = 0
_daemons = []
_tmpdirs = []


# ---- TAP ----

def ok(cond, name):
    global _run, _failed
    _run += 1
    if not cond:
        _failed += 1
    print('%sok %d - %s' % ('' if cond else 'not ', _run, name), flush=True)
    if not cond:
        frame = sys._getframe(1)
        while frame and frame.f_code.co_filename == __file__:
            frame = frame.f_back
        if frame:
            diag('  Failed at %s line %d' % (os.path.basename(frame.f_code.co_filename),
                                             frame.f_lineno))
    return bool(cond)


def is_(got, want, name):
    r = ok(got == want, name)
    if not r:
        diag('     got: %r' % (got,))
        diag('  wanted: %r' % (want,))
    return r


def like(got, pattern, name):
    r = ok(got is not None and re.search(pattern, got) is not None, name)
    if not r:
        diag('     got: %r' % (got,))
        diag('  wanted: /%s/' % pattern)
    return r


def diag(msg):
    for line in str(msg).splitlines() or ['']:
        print('# ' + line, flush=True)


def skip_all(why):
    print('1..0 # SKIP %s' % why, flush=True)
    sys.exit(0)


def done():
    _stop_all()
    print('1..%d' % _run, flush=True)
    if _failed:
        diag('failed %d of %d' % (_failed, _run))
    sys.exit(1 if _failed else 0)


# ---- waiting, without sleeps that guess ----

def wait_for(fn, timeout=5.0, interval=0.02):
    """Calls fn until it returns something truthy or timeout passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---- ports and files ----

def free_port(udp_too=True, taken=()):
    """A loopback port free for TCP (and UDP when udp_too), for daemons that bind both; not one
    of taken."""
    for _ in range(100):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        try:
            if port in taken:
                continue
            if udp_too:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.bind(('127.0.0.1', port))
                u.close()
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError('no free port')


def tmpdir():
    d = tempfile.mkdtemp(prefix='gwtest-')
    _tmpdirs.append(d)
    return d


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return path


# ---- daemons ----

class Daemon:
    """One daemon on free loopback ports in its own temporary directory.

    ports: {name: environment variable} of its listeners (default: 'listen' and 'http', see the
    module's doc); workers: GWKIT_<PROG>_WORKERS (None: not set, for a daemon without the key).
    """

    def __init__(self, prog, env=None, args=(), conf=None, start=True, wrap=True, ports=None,
                 workers=2):
        self.prog = prog
        self.dir = tmpdir()
        self.run_dir = os.path.join(self.dir, 'run')
        self.state_dir = os.path.join(self.dir, 'state')
        self.log_path = os.path.join(self.dir, prog + '.log')
        self.sock = os.path.join(self.run_dir, prog + '.sock')
        self.proc = None
        self.stopped_rc = None
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith('GWKIT_'):
                del self.env[k]
        up = prog.upper()
        self.env.update({
            'GWKIT_GLOBAL_RUN_DIR': self.run_dir,
            'GWKIT_GLOBAL_STATE_DIR': self.state_dir,
        })
        if workers is not None:
            self.env['GWKIT_%s_WORKERS' % up] = str(workers)
        if ports is None:
            ports = {'listen': 'GWKIT_%s_LISTEN' % up, 'http': 'GWKIT_%s_HTTP_LISTEN' % up}
        self.ports = {}
        for name, var in ports.items():
            self.ports[name] = free_port(taken=self.ports.values())
            self.env[var] = '127.0.0.1:%d' % self.ports[name]
        prefix = 'GW_TEST_%s_' % up
        for k, v in os.environ.items():
            if k.startswith(prefix):
                self.env['GWKIT_' + k[len('GW_TEST_'):]] = v
        self.env.update(env or {})
        self.args = list(args)
        self.conf = None
        if conf is not None:
            self.conf = write(os.path.join(self.dir, 'gwkit.conf'), conf)
            self.args = ['-c', self.conf] + self.args
        self.wrap = shlex.split(os.environ.get('GW_WRAP', '')) if wrap else []
        if start:
            self.start()

    @property
    def port(self):
        """The 'listen' port."""
        return self.ports.get('listen')

    @property
    def http_port(self):
        """The 'http' port."""
        return self.ports.get('http')

    @property
    def db(self):
        return os.path.join(self.state_dir, 'gwkit.db')

    def start(self, timeout=15.0):
        self.log = open(self.log_path, 'ab')
        cmd = self.wrap + [os.path.join(BIN, self.prog)] + self.args
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=self.log,
                                     cwd=self.dir)
        _daemons.append(self)
        if not wait_for(self._ready, timeout):
            diag('%s did not become ready; log:\n%s' % (self.prog, self.logtext()))
            raise RuntimeError('%s did not start' % self.prog)

    def _ready(self):
        if self.proc.poll() is not None:
            diag('%s exited with %s; log:\n%s' % (self.prog, self.proc.returncode,
                                                 self.logtext()))
            raise RuntimeError('%s exited at start' % self.prog)
        try:
            return self.ctl('ping').get('ok')
        except OSError:
            return False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def logtext(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def ctl(self, cmd, args=None, timeout=10.0):
        """One control request; returns the whole reply object."""
        req = {'id': 1, 'cmd': cmd}
        if args is not None:
            req['args'] = args
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.sock)
            s.sendall((json.dumps(req) + '\n').encode())
            buf = b''
            while not buf.endswith(b'\n'):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        return json.loads(buf.decode())

    def result(self, cmd, args=None):
        r = self.ctl(cmd, args)
        if not r.get('ok'):
            raise RuntimeError('%s %s failed: %r' % (self.prog, cmd, r))
        return r['result']

    def http(self, path, timeout=10, port='http'):
        """(status, content type, body) of GET path on the daemon's named HTTP port, via curl."""
        out = subprocess.run(['curl', '-s', '-m', str(timeout), '-o', '-', '-w', '\n%{http_code} %{content_type}',
                              'http://127.0.0.1:%d%s' % (self.ports[port], path)],
                             capture_output=True, text=True)
        body, _, tail = out.stdout.rpartition('\n')
        code, _, ctype = tail.partition(' ')
        return int(code or 0), ctype, body

    def metric(self, name, labels=None):
        """The value of one series from /metrics, or None."""
        _, _, text = self.http('/metrics')
        want = name
        if labels:
            want += '{' + ','.join('%s="%s"' % kv for kv in sorted(labels.items())) + '}'
        for line in text.splitlines():
            if line.startswith('#'):
                continue
            key, _, val = line.rpartition(' ')
            if key == want:
                return float(val)
        return None

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def wait(self, timeout=15.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=15.0):
        """TERM, then KILL after timeout; returns the exit status (negative: signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                ok(False, '%s stopped on SIGTERM within %ss' % (self.prog, timeout))
        self.log.close()
        if self in _daemons:
            _daemons.remove(self)
        rc = self.proc.returncode
        if rc is not None and rc < 0 and rc != -signal.SIGKILL:
            ok(False, '%s did not die from signal %d' % (self.prog, -rc))
        if rc:
            diag('%s exited %d; end of its log:\n%s' % (self.prog, rc, self.logtext()[-6000:]))
        return rc


def _stop_all():
    for d in list(_daemons):
        d.stop()
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)
    _tmpdirs.clear()


atexit.register(_stop_all)


def run(cmd, env=None, timeout=30, input=None):
    """Runs a command; returns (exit code, stdout, stderr)."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout, input=input)
    return p.returncode, p.stdout, p.stderr


def prog(name):
    return os.path.join(BIN, name)


# ---- line protocol clients ----

class LineClient:
    """A blocking TCP client for line protocols, with a timeout on every read."""

    def __init__(self, port, host='127.0.0.1', timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b''

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        """The next line without its ending, or None when the server closed."""
        while b'\n' not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b'\n')
        return line.rstrip(b'\r').decode(errors='replace')

    def raw_line(self):
        """The next line with its ending, as bytes."""
        while b'\n' not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        i = self.buf.index(b'\n') + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def request(self, text):
        self.send(text + '\r\n')
        return self.line()

    def closed(self, timeout=5.0):
        """True once the server has closed the connection (reading whatever is left)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def line_request(port, text):
    c = LineClient(port)
    try:
        return c.request(text)
    finally:
        c.close()


def udp_request(port, data, timeout=2.0, expect_reply=True):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(data if isinstance(data, bytes) else data.encode(), ('127.0.0.1', port))
        if not expect_reply:
            return None
        try:
            return s.recvfrom(65536)[0].decode(errors='replace')
        except (socket.timeout, TimeoutError):
            return None
    finally:
        s.close()


def sqlite(db, sql):
    """Rows from the sqlite3 CLI (the real peer), as lists of strings."""
    p = subprocess.run(['sqlite3', '-readonly', '-separator', '|', db, sql], capture_output=True,
                       text=True, timeout=10)
    if p.returncode != 0:
        raise RuntimeError('sqlite3: ' + p.stderr.strip())
    return [line.split('|') for line in p.stdout.splitlines()]


class AlertSink:
    """An HTTP server on 127.0.0.1 that keeps the JSON body of every POST (hbd's alert webhook)
    in .got and answers 204; .url is where to point alert_url; stop() ends it."""

    def __init__(self):
        import http.server
        got = self.got = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                got.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.port = self.srv.server_port
        self.url = 'http://127.0.0.1:%d/hook' % self.port
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
