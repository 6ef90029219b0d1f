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

print('1..%d' % run_n)
