#!/usr/bin/python3
# gwbench's percentiles against a server with a known delay (20 ms), closed and open loop, on
# 4 and 20 connections.
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



# The lower bound is exact (nothing is faster than the delay). The upper one leaves room for a
# loaded machine waking the Python server late (check 10 failed at 22 ms under a parallel fuzz
# run); an error of gwbench's own, a doubled or a missed delay, is still far outside it.
P50_MAX = 30000

slow = LineServer(lambda line: b'PONG\n', delay=0.020)
target = '127.0.0.1:%d' % slow.port
rc, j, err = run_json('tcp', '-c', '4', '-d', '1s', target)
lat = (j or {}).get('latency_us', {})
ok(rc == 0, 'closed loop against a 20 ms server', err)
ok(20000 <= lat.get('p50', 0) <= P50_MAX, 'p50 is the 20 ms delay plus scheduling: %.0f us' % lat.get('p50', 0))
ok(lat.get('min', 0) >= 19800, 'nothing faster than the delay: min %.0f us' % lat.get('min', 0))
ok(lat.get('p99', 0) >= lat.get('p50', 0), 'p99 >= p50')
ok(abs(j['rate'] - 4 / (lat.get('mean', 1) / 1e6)) / j['rate'] < 0.1,
   'closed loop: rate = connections / mean latency (Little): %.1f/s' % j['rate'])

# More connections, whose replies share batches of events: every reply is read and timed before
# the next requests go out. (Past 20 connections the Python server itself runs late.)
rc, j, err = run_json('tcp', '-c', '20', '-d', '1s', target)
lat = (j or {}).get('latency_us', {})
ok(rc == 0 and j['requests'] > 500, 'closed loop, 20 connections against a 20 ms server', err)
ok(20000 <= lat.get('p50', 0) <= P50_MAX, '20 connections: p50 is the delay plus scheduling: %.0f us'
   % lat.get('p50', 0))
ok(lat.get('min', 0) >= 19800, '20 connections: nothing faster than the delay: min %.0f us'
   % lat.get('min', 0))

rc, j, err = run_json('tcp', '-c', '4', '-R', '100', '-d', '1s', target)
lat = (j or {}).get('latency_us', {})
ok(rc == 0, 'open loop at 100/s against a 20 ms server', err)
ok(20000 <= lat.get('p50', 0) <= P50_MAX, 'open loop p50 is the delay plus scheduling: %.0f us'
   % lat.get('p50', 0))
ok(j and j.get('send_lag_us') is not None, 'open loop reports its send lag')

# Over capacity (4 connections x 50/s < 400/s): latency counts the queueing from the
# intended send times, it grows well past the service time.
rc, j, err = run_json('tcp', '-c', '4', '-R', '400', '-d', '1s', target)
lat = (j or {}).get('latency_us', {})
ok(lat.get('p99', 0) > 200000, 'over capacity: p99 counts the wait (%.0f us)' % lat.get('p99', 0))
ok(j and j['requests'] < 300 and j['scheduled'] == 400,
   'over capacity: fewer requests (%s) than scheduled (400)' % (j or {}).get('requests'))

done()
