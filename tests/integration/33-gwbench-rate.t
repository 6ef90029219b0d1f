#!/usr/bin/python3
# gwbench -R holds its rate; --warmup is not recorded; --idle holds connections open.
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



pong = LineServer(lambda line: b'PONG\n')
target = '127.0.0.1:%d' % pong.port
for rate, conns, secs in ((500, 5, 1), (50, 2, 1), (2000, 10, 1)):
    before = pong.count
    rc, j, err = run_json('tcp', '-c', str(conns), '-t', '2', '-R', str(rate), '-d',
                          '%ds' % secs, target)
    want = rate * secs
    got = (j or {}).get('requests', 0)
    ok(rc == 0 and abs(got - want) <= want * 0.03,
       '-R %d for %ds on %d connections: %d requests (want %d +- 3%%)'
       % (rate, secs, conns, got, want), err)
    ok(pong.count - before == got, 'server saw the same count: %d' % (pong.count - before))

before = pong.count
rc, j, err = run_json('tcp', '-c', '2', '-R', '200', '--warmup', '500ms', '-d', '1s', target)
got = (j or {}).get('requests', 0)
ok(rc == 0 and abs(got - 200) <= 6, '--warmup: only the measured second counted: %d' % got)
ok(abs((pong.count - before) - 300) <= 9, 'the server saw warm-up and run: %d'
   % (pong.count - before))
ok(j and j['duration_s'] == 1.0 and j['warmup_s'] == 0.5, 'duration and warm-up reported')

conns_before, count_before = pong.conns, pong.count
rc, out, err = gwbench('tcp', '--idle', '-c', '50', '-d', '500ms', target)
ok(rc == 0, '--idle exits 0', err)
ok(pong.conns - conns_before == 50, '--idle opened 50 connections')
ok(pong.count == count_before, '--idle sent nothing')
ok('gwbench: idle: 50 of 50 connections open' in err, '--idle says when all are open', err)
ok('open       50 of 50 at the end' in out, '--idle reports the connections open at the end',
   out)

done()
