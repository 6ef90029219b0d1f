#!/usr/bin/python3
# The operator's side of wsgwd: command-line forms, -n, control commands (status, clients,
# backends, kick) and their gwctl side, health-check, /metrics (promtool), /readyz, /status,
# reload, and drain closing clients with 1001.
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import wsutil as u
from framebackend import FrameBackend
import websockets

W = t.prog('wsgwd')
rc, out, err = t.run([W, '--raw', '8080'])
t.is_((rc, err.splitlines()[0] if err else ''), (2, 'wsgwd: --raw needs a backend: wsgwd --raw PORT HOST:PORT'),
      '--raw without a backend: usage error, exit 2')
rc, out, err = t.run([W, '-n', '8080', '127.0.0.1:9090', '127.0.0.1:9091'])
t.is_((rc, out), (0, 'configuration OK\n'), 'wsgwd -n PORT HOST:PORT HOST:PORT: OK')
rc, out, err = t.run([W, '-n', '8080', 'nope'])
t.is_(rc, 1, 'a bad backend operand is a config error')
t.like(err, "command line:\\d+: 'address': bad address: missing port in 'nope'", 'reported as command line:N')
tmp = t.tmpdir()
bad = t.write(os.path.join(tmp, 'bad.conf'), '[backend a]\nprotocol = raw\n')
rc, out, err = t.run([W, '-n', '-c', bad])
t.is_((rc, err.splitlines()[0]), (1, 'wsgwd: [backend a] needs an address (address = HOST:PORT)'), 'a backend without address: error')
bad2 = t.write(os.path.join(tmp, 'bad2.conf'), '[wsgwd]\nping_intervl = 5s\n')
rc, out, err = t.run([W, '-n', '-c', bad2])
t.like(err, "unknown key 'ping_intervl' in \\[wsgwd\\], did you mean 'ping_interval'\\?", 'unknown key with did-you-mean')
rc, out, err = t.run([t.prog('gwctl'), 'validate', bad])
t.is_(rc, 1, 'gwctl validate agrees on the backend without address')

b1, b2 = FrameBackend(), FrameBackend()
d = t.Daemon('wsgwd', start=False)
d.args = [str(d.port), '127.0.0.1:%d' % b1.port, '127.0.0.1:%d' % b2.port]
d.start()
t.ok(b1.wait_links(2) and b2.wait_links(2) and u.links_up(d), 'operand backends: a link per worker to each')
bk = d.result('backends')['backends']
t.is_([(x['name'], x['protocol'], x['state'], x['links']) for x in bk],
      [('cli-1', 'frames', 'up', 2), ('cli-2', 'frames', 'up', 2)], 'backends: cli-1 and cli-2, up, 2 links each')
code, ctype, body = d.http('/readyz')
t.is_(code, 200, '/readyz: 200 with backends up')
code, ctype, body = d.http('/healthz')
t.is_(code, 200, '/healthz: 200')
code, ctype, body = d.http('/status')
t.is_((code, json.loads(body)['prog']), (200, 'wsgwd'), '/status: JSON')
t.is_([x['name'] for x in json.loads(body)['backend_list']], ['cli-1', 'cli-2'], '/status lists the backends')
code, ctype, body = d.http('/')
t.ok(code == 200 and 'Backends' in body and 'cli-2' in body, 'the stats page has a table of backends')
code, ctype, body = d.http('/metrics')
if shutil.which('promtool'):
    p = subprocess.run(['promtool', 'check', 'metrics'], input=body, capture_output=True, text=True)
    t.is_((p.returncode, p.stdout + p.stderr), (0, ''), '/metrics passes promtool check metrics')
else:
    t.ok(False, 'promtool installed (share/deps.sh)')
t.like(body, 'wsgwd_backend_connections\\{backend="cli-1"\\} 2', 'wsgwd_backend_connections per backend')

GW = [t.prog('gwctl'), '--run-dir', d.run_dir]


async def scenario():
    out = {}
    a = await websockets.connect('ws://127.0.0.1:%d/ws/cli-2?x=1' % d.port)
    c = await websockets.connect('ws://127.0.0.1:%d/' % d.port)
    await a.send('x')
    await a.recv()
    loop = asyncio.get_event_loop()
    out['clients'] = await loop.run_in_executor(None, lambda: d.result('clients')['clients'])
    out['gwctl_clients'] = await loop.run_in_executor(None, lambda: t.run(GW + ['clients', 'wsgwd']))
    out['gwctl_backends'] = await loop.run_in_executor(None, lambda: t.run(GW + ['backends']))
    out['status'] = await loop.run_in_executor(None, lambda: t.run(GW + ['status', 'wsgwd']))
    out['health'] = await loop.run_in_executor(None, lambda: t.run(GW + ['health-check', 'wsgwd']))
    cid = [x['id'] for x in out['clients'] if x['path'].startswith('/ws/cli-2')][0]
    out['kick'] = await loop.run_in_executor(None, lambda: t.run(GW + ['kick', str(cid), '--code', '4010']))
    try:
        await asyncio.wait_for(a.recv(), 5)
    except websockets.ConnectionClosed as e:
        out['kicked'] = e.rcvd.code if e.rcvd else None
    out['kick_unknown'] = await loop.run_in_executor(None, lambda: t.run(GW + ['kick', '77777']))
    d.signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(c.recv(), 5)
    except websockets.ConnectionClosed as e:
        out['drained'] = e.rcvd.code if e.rcvd else None
    return out

out = asyncio.run(scenario())
cl = out['clients']
t.is_(sorted((x['path'], x['backend']) for x in cl), sorted([('/ws/cli-2?x=1', 'cli-2'), ('/', cl[0]['backend'] if cl[0]['path'] == '/' else cl[1]['backend'])]),
      'clients: path with query and backend of each')
t.ok(all(x['addr'].startswith('127.0.0.1:') for x in cl), 'clients: peer addresses')
rc, txt, err = out['gwctl_clients']
t.ok(rc == 0 and 'PATH' in txt and '/ws/cli-2?x=1' in txt, 'gwctl clients wsgwd: a table with paths')
rc, txt, err = out['gwctl_backends']
t.ok(rc == 0 and 'cli-1' in txt and '2/2' in txt, 'gwctl backends: names and links')
rc, txt, err = out['status']
t.ok(rc == 0 and 'wsgwd' in txt, 'gwctl status wsgwd')
rc, txt, err = out['health']
t.is_((rc, txt.split(' - ')[0]), (0, 'wsgwd OK'), 'gwctl health-check wsgwd: OK with every backend up')
rc, txt, err = out['kick']
t.is_(rc, 0, 'gwctl kick: exit 0')
t.is_(out.get('kicked'), 4010, 'the kicked client got the code given')
rc, txt, err = out['kick_unknown']
t.is_(rc, 1, 'gwctl kick of an unknown id: exit 1')
t.is_(out.get('drained'), 1001, 'SIGTERM: clients get 1001')
t.is_(d.wait(15), 0, 'then wsgwd exits 0')

# health: one backend down is a warning, none up is critical.
b3 = FrameBackend()
d2 = t.Daemon('wsgwd', conf='[backend up]\naddress = 127.0.0.1:%d\n[backend gone]\naddress = 127.0.0.1:1\n' % b3.port)
t.ok(b3.wait_links(2) and t.wait_for(lambda: d2.result('backends')['backends'][0]['links'] == 2), 'one backend up')
rc, txt, err = t.run([t.prog('gwctl'), '--run-dir', d2.run_dir, 'health-check', 'wsgwd'])
t.is_((rc, txt.split(' - ')[0]), (1, 'wsgwd WARNING'), 'health-check: one backend down is WARNING')
b3.close()
t.ok(t.wait_for(lambda: d2.result('backends')['backends'][0]['links'] == 0), 'the last backend is gone')
rc, txt, err = t.run([t.prog('gwctl'), '--run-dir', d2.run_dir, 'health-check', 'wsgwd'])
t.is_((rc, txt.split(' - ')[0]), (2, 'wsgwd CRITICAL'), 'health-check: no backend up is CRITICAL')

# reload.
conf = os.path.join(d2.dir, 'r.conf')
t.write(conf, '[wsgwd]\nmax_clients = 5\n[backend up]\naddress = 127.0.0.1:%d\n' % b3.port)
d3 = t.Daemon('wsgwd', args=['-c', conf])
t.write(conf, '[wsgwd]\nmax_clients = 7\n[backend up]\naddress = 127.0.0.1:%d\n' % b3.port)
r = d3.ctl('reload')
t.is_(r.get('ok'), True, 'reload applied')
t.is_(d3.result('config')['wsgwd']['max_clients'] if 'wsgwd' in d3.result('config') else
      d3.result('config').get('config', {}).get('wsgwd', {}).get('max_clients'), 7, 'the new value is in effect')
t.write(conf, '[wsgwd]\nmax_clients = many\n')
r = d3.ctl('reload')
t.ok(not r.get('ok') and 'max_clients' in r['error']['message'], 'a bad file is refused with its error')
t.done()
