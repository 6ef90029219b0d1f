#!/usr/bin/python3
# The rest of wsgwd's operator surface, through gwctl: `status` and `health-check` of all
# daemons include a running wsgwd, `clients` gives every field, `kick ID` without a code
# closes with 1008 and a code that may not go on the wire is refused, `log-level`, `drain`
# (clients 1001, exit 0) and `shutdown`; /readyz with one backend of two up;
# every wsgwd_ metric family the issue names is exported and documented in wsgwd.8; gwctl's
# bash completion offers kick, backends and --code.
import asyncio
import json
import os
import re
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import wsutil as u
from framebackend import FrameBackend
import websockets

b = FrameBackend()
d = t.Daemon('wsgwd', conf='[backend echo]\naddress = 127.0.0.1:%d\n'
                           '[backend gone]\naddress = 127.0.0.1:1\n' % b.port)
t.ok(t.wait_for(lambda: d.result('backends')['backends'][0]['links'] == 2), 'backend echo up, gone down')
GW = [t.prog('gwctl'), '--run-dir', d.run_dir]


def gwctl(*args):
    return t.run(GW + list(args))

# ---- /readyz: one backend of two reachable is ready ----
code, ctype, body = d.http('/readyz')
t.is_(code, 200, '/readyz: 200 with one backend of two reachable')
t.like(body, '1 of 2 backends reachable', '/readyz says how many backends are reachable')

# ---- status and health-check of all daemons include wsgwd ----
rc, out, err = gwctl('status')
t.ok(rc == 0 and re.search(r'(?m)^wsgwd \d', out), 'gwctl status (all): a wsgwd block')
rc, out, err = gwctl('--format', 'json', 'status', 'all')
doc = json.loads(out) if out.strip() else {}
t.is_((doc.get('wsgwd') or {}).get('running'), True, 'gwctl status all, JSON: wsgwd running')
t.is_(((doc.get('wsgwd') or {}).get('backends') or {}).get('up'), 1, '... with its backends up count')
rc, out, err = gwctl('health-check')
t.like(out, r'wsgwd WARNING', 'gwctl health-check (all): wsgwd included, WARNING with a backend down')
t.is_(rc, 1, 'gwctl health-check (all): exit 1 (WARNING)')


async def scenario():
    out = {}
    loop = asyncio.get_event_loop()

    def ctl(*args):
        return loop.run_in_executor(None, lambda: gwctl(*args))
    ws = await websockets.connect('ws://127.0.0.1:%d/ws/echo?k=v' % d.port)
    await ws.send('12345')
    await ws.recv()
    rc, txt, err = await ctl('--format', 'json', 'clients', 'wsgwd')
    out['clients'] = json.loads(txt)
    cid = out['clients']['clients'][0]['id']
    for code in ('1005', '1006', '1015', '2000', '5000', 'x'):
        out['bad_kick_' + code] = await ctl('kick', str(cid), '--code', code)
    out['kick'] = await ctl('kick', str(cid))
    try:
        await asyncio.wait_for(ws.recv(), 5)
    except websockets.ConnectionClosed as e:
        out['kicked'] = e.rcvd.code if e.rcvd else None
    return out

out = asyncio.run(scenario())
c = out['clients']['clients'][0]
t.is_(sorted(k for k in ('id', 'addr', 'path', 'connected_s', 'bytes_in', 'bytes_out', 'backend') if k in c),
      sorted(['id', 'addr', 'path', 'connected_s', 'bytes_in', 'bytes_out', 'backend']),
      'clients: id, address, path, age, bytes and backend (%s)' % sorted(c))
t.is_((c.get('path'), c.get('backend'), c.get('bytes_in')), ('/ws/echo?k=v', 'echo', 5),
      'clients: the values of the client')
for code in ('1005', '1006', '1015', '2000', '5000', 'x'):
    rc, txt, err = out['bad_kick_' + code]
    t.ok(rc in (1, 2) and 'code' in err, 'kick --code %s: refused (exit %d: %s)' % (code, rc, err.strip()))
t.is_((out['kick'][0], out.get('kicked')), (0, 1008), 'kick ID without a code: close 1008')

# ---- log-level ----
rc, txt, err = gwctl('log-level', 'wsgwd', 'debug')
t.is_(rc, 0, 'gwctl log-level wsgwd debug: exit 0')
st, hdrs, body, s = u.request(d.port, u.upgrade_request('/ws/echo'))
s.close()
t.ok(t.wait_for(lambda: 'level=debug' in d.logtext() and 'msg="client open"' in d.logtext()),
     'at debug, a client open is logged')
rc, txt, err = gwctl('log-level', 'wsgwd')
t.like(txt, 'debug', 'gwctl log-level wsgwd shows debug')

# ---- drain: clients get 1001, /readyz goes 503, new clients are refused, exit 0 ----


async def drain():
    ws = await websockets.connect('ws://127.0.0.1:%d/' % d.port)
    loop = asyncio.get_event_loop()
    r = await loop.run_in_executor(None, lambda: gwctl('drain', 'wsgwd'))
    try:
        await asyncio.wait_for(ws.recv(), 10)
    except websockets.ConnectionClosed as e:
        return r, e.rcvd.code if e.rcvd else None

r, code = asyncio.run(drain())
t.is_((r[0], code), (0, 1001), 'gwctl drain wsgwd: exit 0, clients closed with 1001')
t.is_(d.wait(15), 0, 'a drained wsgwd exits 0')

# ---- shutdown ----
d2 = t.Daemon('wsgwd', conf='[backend echo]\naddress = 127.0.0.1:%d\n' % b.port)
t.ok(u.links_up(d2), 'second gateway up')
s, hdrs, left = u.upgrade(d2.port)
rc, txt, err = t.run([t.prog('gwctl'), '--run-dir', d2.run_dir, 'shutdown', 'wsgwd'])
t.is_(rc, 0, 'gwctl shutdown wsgwd: exit 0')
t.is_(d2.wait(15), 0, 'wsgwd exits 0 after shutdown')
s.close()

# ---- metrics: the families the issue names, exported and documented ----
d3 = t.Daemon('wsgwd', conf='[wsgwd]\ndeflate = yes\n[backend echo]\naddress = 127.0.0.1:%d\n'
                            '[backend gone]\naddress = 127.0.0.1:1\n' % b.port)
t.ok(t.wait_for(lambda: d3.result('backends')['backends'][0]['links'] == 2), 'third gateway up')


async def traffic():
    async with websockets.connect('ws://127.0.0.1:%d/ws/echo' % d3.port, compression='deflate') as ws:
        await ws.send('x' * 5000)
        await ws.recv()
        await ws.close(4000)

asyncio.run(traffic())
u.status_of(d3.port, u.upgrade_request('/', version='8'))
t.ok(t.wait_for(lambda: (d3.metric('wsgwd_close_codes_total', {'side': 'received', 'code': 'other'}) or 0) >= 1),
     'the close is counted')
code, ctype, metrics = d3.http('/metrics')
families = set(re.findall(r'(?m)^# TYPE (wsgwd_\w+)', metrics))
need = ['wsgwd_active_connections', 'wsgwd_connections_total', 'wsgwd_handshakes_total',
        'wsgwd_messages_total', 'wsgwd_message_bytes_total', 'wsgwd_close_codes_total',
        'wsgwd_backend_connections', 'wsgwd_backend_connect_failures_total',
        'wsgwd_deflate_ratio', 'wsgwd_worker_clients']
t.is_([n for n in need if n not in families], [], 'the metric families the issue names are exported')
t.ok(re.search(r'(?m)^wsgwd_handshakes_total\{result="version"\} 1$', metrics),
     'handshakes by result: a 426 counted as result="version"')
t.ok(re.search(r'(?m)^wsgwd_close_codes_total\{code="other",side="sent"\} 1$', metrics),
     'close codes sent counted (4000 echoed, as "other")')
t.ok(re.search(r'(?m)^wsgwd_backend_connect_failures_total\{backend="gone"\} [1-9]', metrics),
     'connect failures counted per backend')
t.ok(re.search(r'(?m)^wsgwd_worker_clients\{worker="\d+"\} ', metrics), 'per-worker load')
m = re.search(r'(?m)^wsgwd_deflate_ratio (\S+)$', metrics)
t.ok(m and 0 < float(m.group(1)) < 1, 'deflate ratio below 1 after a compressible message (%s)'
     % (m.group(1) if m else None))
man = open(os.path.join(t.ROOT, 'man', 'wsgwd.8')).read()
undocumented = sorted(f for f in families if f not in man)
t.is_(undocumented, [], 'every exported wsgwd_ metric family is in wsgwd.8')

# ---- gwctl's bash completion knows wsgwd's commands ----
import subprocess


def complete(*words):
    script = ('source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _gwctl; printf "%%s\\n" "${COMPREPLY[@]}"'
              % (os.path.join(t.ROOT, 'completions', 'gwctl.bash'),
                 ' '.join("'%s'" % w for w in words), len(words) - 1))
    env = {k: v for k, v in os.environ.items() if not k.startswith('GWKIT_')}
    env['PATH'] = t.BIN + ':' + env.get('PATH', '')
    p = subprocess.run(['bash', '-c', script], env=env, capture_output=True, text=True, timeout=20)
    return [w for w in p.stdout.splitlines() if w]

t.is_((complete('gwctl', 'ki'), complete('gwctl', 'backe')), (['kick'], ['backends']),
      'gwctl completes kick and backends')
t.ok('--code' in complete('gwctl', 'kick', '5', '--'), 'gwctl kick completes --code')
t.ok('wsgwd' in complete('gwctl', 'clients', ''), 'gwctl clients completes wsgwd')
t.done()
