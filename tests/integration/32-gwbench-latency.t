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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GWBENCH = os.path.join(os.environ.get('GW_BUILD') or os.path.join(ROOT, 'build'), 'bin', 'gwbench')
run_n = 0


def ok(cond, name, why=''):
    global run_n
    run_n += 1
    print('%sok %d - %s' % ('' if cond else 'not ', run_n, name), flush=True)
    if not cond and why:
        print('# ' + str(why).replace('\n', '\n# '), flush=True)
    return cond


class LineServer:
    """A line server on a free loopback port: reply(line) gives the answer for each line (None:
    no answer), after `delay` seconds; with `close`, it hangs up after each answer."""

    def __init__(self, reply, delay=0.0, close=False):
        self.reply = reply
        self.delay = delay
        self.close = close
        self.replied = 0
        self.lines = []
        self.count = 0
        self.conns = 0
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(asyncio.start_server(self._client, sock=self.sock))
        ready.set()
        self.loop.run_forever()

    async def _client(self, reader, writer):
        self.conns += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                self.count += 1
                if len(self.lines) < 10:
                    self.lines.append(line)
                if self.delay:
                    await asyncio.sleep(self.delay)
                r = self.reply(line)
                if r is not None:
                    writer.write(r)
                    self.replied += 1
                if self.close:
                    await writer.drain()
                    break
        except ConnectionError:
            pass
        writer.close()


def gwbench(*args):
    p = subprocess.run([GWBENCH] + list(args), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def run_json(*args):
    rc, out, err = gwbench('--json', *args)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, out + err



slow = LineServer(lambda line: b'PONG\n', delay=0.020)
target = '127.0.0.1:%d' % slow.port
rc, j, err = run_json('tcp', '-c', '4', '-d', '1s', target)
lat = (j or {}).get('latency_us', {})
ok(rc == 0, 'closed loop against a 20 ms server', err)
ok(20000 <= lat.get('p50', 0) <= 22000, 'p50 within 10%% of 20 ms: %.0f us' % lat.get('p50', 0))
ok(lat.get('min', 0) >= 19800, 'nothing faster than the delay: min %.0f us' % lat.get('min', 0))
ok(lat.get('p99', 0) >= lat.get('p50', 0), 'p99 >= p50')
ok(abs(j['rate'] - 4 / (lat.get('mean', 1) / 1e6)) / j['rate'] < 0.1,
   'closed loop: rate = connections / mean latency (Little): %.1f/s' % j['rate'])

# More connections, whose replies share batches of events: every reply is read and timed before
# the next requests go out. (Past 20 connections the Python server itself runs late.)
rc, j, err = run_json('tcp', '-c', '20', '-d', '1s', target)
lat = (j or {}).get('latency_us', {})
ok(rc == 0 and j['requests'] > 500, 'closed loop, 20 connections against a 20 ms server', err)
ok(20000 <= lat.get('p50', 0) <= 22000, '20 connections: p50 within 10%% of 20 ms: %.0f us'
   % lat.get('p50', 0))
ok(lat.get('min', 0) >= 19800, '20 connections: nothing faster than the delay: min %.0f us'
   % lat.get('min', 0))

rc, j, err = run_json('tcp', '-c', '4', '-R', '100', '-d', '1s', target)
lat = (j or {}).get('latency_us', {})
ok(rc == 0, 'open loop at 100/s against a 20 ms server', err)
ok(20000 <= lat.get('p50', 0) <= 22000, 'open loop p50 within 10%% of 20 ms: %.0f us'
   % lat.get('p50', 0))
ok(j and j.get('send_lag_us') is not None, 'open loop reports its send lag')

# Over capacity (4 connections x 50/s < 400/s): latency counts the queueing from the
# intended send times, it grows well past the service time.
rc, j, err = run_json('tcp', '-c', '4', '-R', '400', '-d', '1s', target)
lat = (j or {}).get('latency_us', {})
ok(lat.get('p99', 0) > 200000, 'over capacity: p99 counts the wait (%.0f us)' % lat.get('p99', 0))
ok(j and j['requests'] < 300 and j['scheduled'] == 400,
   'over capacity: fewer requests (%s) than scheduled (400)' % (j or {}).get('requests'))

print('1..%d' % run_n)
