#!/usr/bin/python3
# gwbench against a small line server: counts match the server's, the report (text, --json,
# --hist-out), the hb mode's requests, an absent server, usage errors.
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtest import GWBENCH, ROOT, LineServer, done, gwbench, ok, run_json  # noqa: E402


pong = LineServer(lambda line: b'+PONG\r\n')
target = '127.0.0.1:%d' % pong.port

rc, j, err = run_json('tcp', '--send', 'PING\\r\\n', '--expect', '+PONG', '-c', '4', '-t', '2',
                      '-d', '1s', target)
ok(rc == 0 and j is not None, 'closed loop run exits 0 with a JSON report', err)
j = j or {}
ok(j.get('requests', 0) > 100, 'requests were answered: %s' % j.get('requests'))
ok(j.get('requests') == pong.count, 'requests %s = the server\'s count %d'
   % (j.get('requests'), pong.count))
ok(j.get('sent') == j.get('requests'), 'every request sent was answered')
ok(j.get('errors') == {'connect': 0, 'timeout': 0, 'closed': 0, 'closed_at_once': 0, 'wrong': 0}, 'no errors',
   j.get('errors'))
lat = j.get('latency_us', {})
ok(all(k in lat for k in ('mean', 'p50', 'p90', 'p99', 'p99.9', 'max')), 'latency keys present')
ok(0 < lat.get('p50', 0) <= lat.get('p99', 0) <= lat.get('max', 0), 'p50 <= p99 <= max', lat)
ok(abs(j.get('rate', 0) - j.get('requests', 0) / j.get('duration_s', 1)) < 1,
   'rate = requests / duration')
ok(j.get('connections') == 4 and j.get('threads') == 2 and j.get('rate_target') is None,
   'connections, threads and closed loop reported')
ok(pong.lines and pong.lines[0] == b'PING\r\n', '--send escapes decoded: %r' % pong.lines[:1])

before = pong.count
rc, j, err = run_json('tcp', '--pipeline', '8', '-c', '2', '-t', '1', '-d', '500ms', target)
ok(rc == 0 and j and j['requests'] == pong.count - before,
   'pipeline 8: requests = server count', (j, pong.count - before))

# Text report and --hist-out.
with tempfile.TemporaryDirectory() as tmp:
    hist = os.path.join(tmp, 'h.hgrm')
    before = pong.count
    rc, out, err = gwbench('tcp', '-c', '2', '-d', '500ms', '--hist-out', hist, target)
    ok(rc == 0, 'text run exits 0', err)
    ok('requests   %d,' % (pong.count - before) in out, 'text report gives the request count',
       out)
    ok('latency    mean' in out and 'p99.9' in out, 'text report gives the percentiles')
    ok('errors     none' in out, 'text report says: errors none')
    ok(err == '', 'nothing on stderr when it is not a terminal', err)
    rows = []
    with open(hist) as f:
        text = f.read()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and not line.startswith('#') and parts[0] != 'Value':
            rows.append((float(parts[0]), float(parts[1]), int(parts[2])))
    ok(rows and rows[-1][1] == 1.0 and rows[-1][2] == pong.count - before,
       '--hist-out: last row at percentile 1.0 with the total count', rows[-1:])
    ok(all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(rows, rows[1:])),
       '--hist-out: values and percentiles ascend')
    ok('#[Mean' in text and '#[Max' in text, '--hist-out: HdrHistogram footer')

# hb mode: PING lines, then HB lines padded to --size.
hb = LineServer(lambda line: b'PONG\n' if line == b'PING\n' else b'OK 7\n')
rc, j, err = run_json('hb', '-c', '1', '-d', '300ms', '127.0.0.1:%d' % hb.port)
ok(rc == 0 and hb.lines[0] == b'PING\n', 'hb sends PING lines', hb.lines[:1])
hb.lines.clear()
rc, j, err = run_json('hb', '--hb-service', 'api', '--size', '100', '-c', '1', '-d', '300ms',
                      '127.0.0.1:%d' % hb.port)
ok(rc == 0 and j and j['errors']['wrong'] == 0, 'hb --hb-service: OK replies are right', err)
first = hb.lines[0] if hb.lines else b''
ok(first.startswith(b'HB api pad=') and len(first) == 100 and first.endswith(b'\n'),
   '--size 100: one 100-byte HB line', first)

# A server that is not there.
s = socket.socket()
s.bind(('127.0.0.1', 0))
free = s.getsockname()[1]
s.close()
rc, out, err = gwbench('tcp', '-c', '2', '-d', '1s', '127.0.0.1:%d' % free)
ok(rc == 1, 'absent server: exit 1')
ok(err.strip() == 'gwbench: cannot connect to 127.0.0.1:%d: Connection refused' % free,
   'absent server: clear message', err)

# Usage errors exit 2.
for args, what in ((['backend', target], 'a mode not implemented yet'),
                   (['nope', target], 'an unknown mode'),
                   (['tcp'], 'no target'),
                   (['tcp', '-c', '0', target], '-c 0'),
                   (['tcp', '-d', '5x', target], 'a bad duration'),
                   (['tcp', '--size', '64', target], '--size in mode tcp'),
                   (['tcp', '--send', 'a\\q', target], 'an unknown escape'),
                   (['tcp', '127.0.0.1', target], 'two targets'),
                   (['hb', '127.0.0.1:0'], 'port 0')):
    rc, out, err = gwbench(*args)
    ok(rc == 2 and err.startswith('gwbench: '), 'usage error, exit 2: %s' % what, err)

done()
