#!/usr/bin/python3
# gwbench ws: WebSocket load through wsgwd to the example echo backend, closed and open loop,
# --check verifying every echoed byte, ws:// targets and their usage errors, a refused
# handshake counted as a connect error.
import json
import os
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

EB = t.prog('echo-backend')
if not os.path.exists(EB):
    t.skip_all('echo-backend not built')
port = t.free_port(udp_too=False)
eb = subprocess.Popen([EB, '127.0.0.1:%d' % port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
d = t.Daemon('wsgwd', conf='[backend echo]\naddress = 127.0.0.1:%d\n' % port)
t.ok(t.wait_for(lambda: d.result('backends')['backends'][0]['links'] == 2), 'gateway linked to echo-backend')


def gwbench(*args):
    return t.run([t.prog('gwbench')] + list(args), timeout=60)

url = 'ws://127.0.0.1:%d/ws/echo' % d.port
rc, out, err = gwbench('ws', '-c', '20', '-d', '1s', '--check', '--json', url)
doc = json.loads(out) if rc == 0 else {}
t.is_(rc, 0, 'closed loop with --check: exit 0')
t.ok(doc.get('requests', 0) > 0, 'echoes counted (%s)' % doc.get('requests'))
t.is_(sum((doc.get('errors') or {}).values()) if isinstance(doc.get('errors'), dict) else doc.get('errors'),
      0, 'no errors: every echo was byte for byte')
rc, out, err = gwbench('ws', '-c', '5', '-d', '1s', '-R', '500', '--size', '1000', '-q', url)
t.is_(rc, 0, 'open loop at 500/s with 1000-byte messages: exit 0')
t.like(out, r'requests\s+\d+', 'the report gives the requests')
rc, out, err = gwbench('ws', '-c', '2', '-d', '1s', '-q', '127.0.0.1:%d' % d.port)
t.is_(rc, 0, 'HOST:PORT target: path /')
rc, out, err = gwbench('ws', '-c', '2', '-d', '1s', '-q', 'ws://127.0.0.1:%d/ws/nosuch' % d.port)
t.ok(rc == 1 and 'connect' in out and 'requests   0' in out, 'a handshake answered 404: connect errors, exit 1')
for args, what in ((['tcp', url], 'a ws:// URL in mode tcp'),
                   (['ws', '--send', 'x', url], '--send in mode ws'),
                   (['hb', '--check', '127.0.0.1:1'], '--check outside mode ws'),
                   (['ws', 'wss://127.0.0.1:1/'], 'wss://')):
    rc, out, err = gwbench(*args)
    t.is_(rc, 2, 'usage error: %s' % what)
eb.terminate()
eb.wait(10)
t.done()
