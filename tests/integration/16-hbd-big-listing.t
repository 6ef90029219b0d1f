#!/usr/bin/python3
# gwctl services at 100,000 services: the listing streams (JSON lines through the control
# socket's stream replies), --state and --limit are applied by hbd, and hbd's memory comes back
# after the listing instead of holding the whole reply.
import json
import os
import socket
import subprocess
import sys
import threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

N = 100000
d = t.Daemon('hbd', env={'GWKIT_HBD_MAX_SERVICES': str(N), 'GWKIT_HBD_STORE': 'no',
                         'GWKIT_GLOBAL_LOG_LEVEL': 'warning'})
c = t.LineClient(d.port, timeout=30)
got = []


def reader():
    for _ in range(N):
        got.append(c.line())


th = threading.Thread(target=reader)
th.start()
batch = 5000
for i in range(0, N, batch):
    c.send(''.join('HB s%06d interval=1h team=t%d\n' % (j, j % 7) for j in range(i, i + batch)))
th.join()
t.is_(got.count('OK 1'), N, '%d services created over pipelined TCP' % N)
c.close()


def gwctl(*args):
    e = dict(os.environ)
    e['GWKIT_GLOBAL_RUN_DIR'] = d.run_dir
    p = subprocess.run([t.prog('gwctl')] + list(args), env=e, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def rss_kb():
    with open('/proc/%d/status' % d.pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])


before = rss_kb()
rc, out, err = gwctl('--format', 'json', 'services')
lines = out.splitlines()
t.is_((rc, err), (0, ''), 'gwctl services at %d services: exit 0, no error' % N)
t.is_(len(lines), N, 'every service listed, one JSON line each')
t.ok(lines[0].startswith('{"name": "s000000"') or '"name":"s000000"' in lines[0], 'sorted by name: first')
t.ok('"s099999"' in lines[-1], 'sorted by name: last')
after = rss_kb()
t.diag('RSS before %d kB, after %d kB' % (before, after))
# Sanitizers keep freed memory in quarantine: the RSS says nothing under them.
SANITIZED = bool(os.environ.get('GW_SANITIZED'))
t.ok(SANITIZED or after - before < 64 * 1024,
     'hbd holds no copy of the listing after it (RSS grew %d kB)' % (after - before))

rc, out, err = gwctl('services')
t.is_((rc, len(out.splitlines())), (0, N + 1), 'text table: header and %d rows' % N)
rc, out, err = gwctl('--format', 'json', 'services', '--limit', '3')
t.is_([l[:20] for l in out.splitlines()], [l[:20] for l in lines[:3]], '--limit 3: the first three by name')
t.is_(gwctl('services', '--state', 'dead'), (0, 'no services\n', ''), '--state dead: filtered in hbd')
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(d.sock)
s.sendall(json.dumps({'id': 7, 'cmd': 'services', 'args': {'state': 'up', 'limit': 2, 'stream': True}}).encode() + b'\n')
buf = b''
while buf.count(b'\n') < 3:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
s.close()
replies = [json.loads(l) for l in buf.splitlines()]
t.is_([sorted(r) for r in replies], [['id', 'ok', 'stream']] * 2 + [['id', 'ok', 'result']],
      'the control socket: two stream lines, then the reply')
t.is_(replies[-1]['result'], {'count': 2, 'matched': N}, 'the reply: count sent and matched')
# Clients that go away in the middle of a listing: hbd frees it and goes on.
for _ in range(3):
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.sock)
    s.sendall(json.dumps({'id': 1, 'cmd': 'services', 'args': {'stream': True}}).encode() + b'\n')
    s.recv(65536)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
    s.close()
t.ok(t.wait_for(lambda: d.ctl('ping').get('ok')), 'hbd answers after clients left mid-listing')
rc, out, err = gwctl('--format', 'json', 'services', '--limit', '2')
t.is_(len(out.splitlines()), 2, 'and lists again')
t.ok(SANITIZED or rss_kb() - before < 64 * 1024, 'memory still back after three more listings')
t.is_(d.stop(), 0, 'clean stop')
t.done()
