#!/usr/bin/python3
# gwctl without a daemon: help, usage errors (exit 2), and each way a daemon cannot be reached
# (exit 3, one line naming the socket): no socket, stale socket, a socket that never answers,
# a socket that answers garbage.
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

GWCTL = t.prog('gwctl')
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith('GWKIT_')}


def gwctl(*args, env=None):
    """(exit code, stdout, stderr) of gwctl, without the caller's GWKIT_ variables."""
    e = dict(BASE_ENV)
    e.update(env or {})
    p = subprocess.run([GWCTL] + list(args), env=e, capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


d = t.tmpdir()
run_dir = os.path.join(d, 'run')
os.mkdir(run_dir)
sock = os.path.join(run_dir, 'hbd.sock')

# ---- help and usage ----
rc, out, err = gwctl()
t.is_(rc, 2, 'no command: exit 2')
t.like(err, r'^usage: gwctl ', 'no command: usage on stderr')

rc, out, err = gwctl('--help')
t.is_(rc, 0, '--help: exit 0')
for cmd in ('status', 'health-check', 'validate', 'services', 'clients', 'forget', 'reload',
            'drain', 'log-level', 'shutdown'):
    t.like(out, r'(?m)^  %s\b' % cmd, '--help lists %s' % cmd)
t.ok('__complete' not in out, '--help hides __complete')
t.like(out, r'3 daemon not reachable', '--help gives the exit codes')

rc, out, err = gwctl('--version')
t.is_((rc, out), (0, 'gwctl 0.1.0 (gwkit)\n'), '--version')

rc, out1, _ = gwctl('help', 'services')
rc2, out2, _ = gwctl('services', '--help')
t.is_((rc, rc2), (0, 0), 'help services and services --help: exit 0')
t.is_(out1, out2, 'help services is services --help')
t.like(out1, r'^usage: gwctl services \[--state up\|late\|dead\] \[--limit N\] \[SERVICE\]\n', 'services usage line')
t.like(out1, r'Applies to: hbd', 'services help names its program')
rc, out, _ = gwctl('help', 'health-check')
t.like(out, r'usage: gwctl health-check \[PROG \.\.\.\] \[--url URL \.\.\.\]', 'health-check usage')
t.like(out, r'0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN', 'health-check help gives the Nagios codes')
rc, out, _ = gwctl('help', 'log-level')
t.like(out, r'^usage: gwctl log-level PROG \[LEVEL\]', 'log-level usage')

usage_cases = [
    (('statsu',), "gwctl: unknown command 'statsu', did you mean 'status'?"),
    (('frobnicate',), "gwctl: unknown command 'frobnicate'"),
    (('help', 'frobnicate'), "gwctl: unknown command 'frobnicate'"),
    (('services', '--bogus'), "gwctl: unknown option '--bogus'"),
    (('services', '--state'), 'gwctl: option --state needs a value (STATE)'),
    (('services', '--state', 'zombie'), "gwctl: --state: 'zombie' is not one of up, late, dead"),
    (('services', 'a', 'b'), "gwctl: unexpected argument 'b'"),
    (('reload',), "gwctl: missing PROG (a daemon's name)"),
    (('reload', 'nosuch'), "gwctl: unknown program 'nosuch'"),
    (('forget',), 'gwctl: missing SERVICE'),
    (('log-level', 'hbd', 'loud'), "gwctl: LEVEL: 'loud' is not one of debug, info, warning, error"),
    (('status', 'nosuch'), "gwctl: unknown program 'nosuch'"),
    (('--format', 'xml', 'status'), "gwctl: --format: 'xml' is not one of text, json"),
    (('status', '--format=yaml'), "gwctl: --format: 'yaml' is not one of text, json"),
    (('--timeout', '0', 'status'), "gwctl: --timeout: '0' is out of range (1ms..1h)"),
    (('-s', '/x.sock', '--run-dir', '/tmp', 'status'), 'gwctl: -s and --run-dir cannot be used together'),
    (('--run-dir', 'x' * 200, 'status'), "gwctl: --run-dir: '%s' is too long for a socket path" % ('x' * 200)),
]
for args, msg in usage_cases:
    rc, out, err = gwctl(*args)
    t.is_(rc, 2, '%s: exit 2' % ' '.join(args)[:60])
    t.is_(err.splitlines()[0] if err else '', msg, '%s: message' % ' '.join(args)[:60])
rc, out, err = gwctl('--timeout', '5x', 'status')
t.is_(rc, 2, 'bad --timeout unit: exit 2')
t.like(err, r"^gwctl: --timeout: .*'5x'", 'bad --timeout unit: message names the value')

# ---- daemon not running ----
rc, out, err = gwctl('--run-dir', run_dir, 'status', 'hbd')
t.is_(rc, 3, 'no socket: exit 3')
t.is_(err, 'gwctl: hbd is not running (no socket %s); start it or pass --run-dir\n' % sock,
      'no socket: one line naming the socket and what to do')
t.is_(out, '', 'no socket: nothing on stdout')
for prog in ('wsgwd', 'logd'):
    rc, out, err = gwctl('--run-dir', run_dir, 'status', prog)
    t.is_((rc, err), (3, 'gwctl: %s is not running (no socket %s); start it or pass --run-dir\n'
                      % (prog, os.path.join(run_dir, prog + '.sock'))),
          'status %s (known, not running): "not running" with the socket tried, exit 3' % prog)

rc, out, err = gwctl('ping', 'hbd', env={'GWKIT_GLOBAL_RUN_DIR': run_dir})
t.is_((rc, err), (3, 'gwctl: hbd is not running (no socket %s); start it or pass --run-dir\n' % sock),
      'GWKIT_GLOBAL_RUN_DIR is the default run dir')

rc, out, err = gwctl('-s', os.path.join(d, 'nope.sock'), 'ping')
t.is_((rc, err), (3, 'gwctl: the daemon is not running (no socket %s); check the -s path\n'
                  % os.path.join(d, 'nope.sock')), '-s to a missing socket')

rc, out, err = gwctl('--run-dir', run_dir, 'status')
t.is_(rc, 3, 'status all, nothing running: exit 3')
# Every daemon, in lib/progs order.
progs = ['hbd', 'wsgwd', 'logd']
socks = {p: os.path.join(run_dir, p + '.sock') for p in progs}
t.is_(out, ''.join('%s: not running (no socket %s)\n' % (p, socks[p]) for p in progs),
      'status all lists the absent daemons')
t.is_(err, 'gwctl: no gwkit daemon is running (no socket in %s); start one or pass --run-dir\n'
      % run_dir, 'status all, nothing running: message')
rc, out, err = gwctl('--run-dir', run_dir, '--format', 'json', 'status', 'all')
doc = json.loads(out)
t.is_(doc, {p: {'running': False, 'socket': socks[p], 'reason': 'not running (no socket %s)' % socks[p]}
           for p in progs}, 'status all JSON: one object keyed by program')

rc, out, err = gwctl('--run-dir', run_dir, 'health-check')
t.is_((rc, out), (2, 'gwkit CRITICAL - no gwkit daemon is running (no socket in %s)\n' % run_dir),
      'health-check, nothing running: CRITICAL')
rc, out, err = gwctl('--run-dir', run_dir, 'health-check', 'hbd')
t.is_((rc, out), (2, 'hbd CRITICAL - not running (no socket %s)\n' % sock),
      'health-check hbd, not running: CRITICAL')
rc, out, err = gwctl('health-check', 'nosuch')
t.is_(rc, 3, 'health-check usage error: UNKNOWN (3)')
rc, out, err = gwctl('--timeout', 'x', 'health-check')
t.is_(rc, 3, 'health-check, bad option before the command: UNKNOWN (3)')

# ---- stale socket: the file is there, nobody accepts ----
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sock)
s.close()
rc, out, err = gwctl('--run-dir', run_dir, 'reload', 'hbd')
t.is_(rc, 3, 'stale socket: exit 3')
t.is_(err, 'gwctl: hbd is not running (stale socket %s: connection refused); start it (it replaces '
      'the stale socket)\n' % sock, 'stale socket: message')
rc, out, err = gwctl('--run-dir', run_dir, 'health-check', 'hbd')
t.is_((rc, out), (2, 'hbd CRITICAL - not running (stale socket %s: connection refused)\n' % sock),
      'health-check, stale socket: CRITICAL')
rc, out, err = gwctl('--run-dir', run_dir, 'status')
t.is_(rc, 3, 'status all, stale socket: exit 3')
os.unlink(sock)


# ---- a socket that accepts and never answers; one that answers garbage ----
class Listener:
    def __init__(self, path, reply=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.reply = reply
        self.conns = []
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.reply is not None:
                c.recv(65536)
                c.sendall(self.reply)
                c.close()

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


silent = Listener(sock)
start = time.monotonic()
rc, out, err = gwctl('--run-dir', run_dir, '--timeout', '1', 'services')
took = time.monotonic() - start
t.is_(rc, 3, 'silent socket: exit 3')
t.is_(err, 'gwctl: hbd did not answer within 1s on %s; it may be overloaded or stuck; retry with a '
      'longer --timeout\n' % sock, 'silent socket: timeout message')
t.ok(took < 4, 'silent socket: no hang (%.1fs)' % took)
rc, out, err = gwctl('--run-dir', run_dir, 'health-check', 'hbd', '--timeout', '500ms')
t.is_((rc, out), (3, 'hbd UNKNOWN - no answer within 500ms on %s\n' % sock),
      'health-check, silent socket: UNKNOWN')
silent.close()
os.unlink(sock)

garbage = Listener(sock, reply=b'hello there\n')
rc, out, err = gwctl('--run-dir', run_dir, 'ping', 'hbd')
t.is_(rc, 3, 'garbage reply: exit 3')
t.is_(err, "gwctl: hbd: bad reply or connection closed on %s; is it a gwkit control socket? see the "
      "daemon's log\n" % sock, 'garbage reply: message')
rc, out, err = gwctl('--run-dir', run_dir, 'health-check', 'hbd')
t.is_((rc, out), (3, 'hbd UNKNOWN - bad reply or connection closed on %s\n' % sock),
      'health-check, garbage reply: UNKNOWN')
garbage.close()
os.unlink(sock)

# ---- completion helper ----
rc, out, err = gwctl('__complete', 'commands')
t.ok(rc == 0 and 'status\n' in out and 'health-check\n' in out and '__complete' not in out,
     '__complete commands')
rc, out, err = gwctl('__complete', 'programs')
t.is_(out, ''.join(p + '\n' for p in progs), '__complete programs')
rc, out, err = gwctl('--run-dir', run_dir, '__complete', 'services')
t.is_((rc, out), (0, ''), '__complete services without hbd: nothing, exit 0')

t.done()
