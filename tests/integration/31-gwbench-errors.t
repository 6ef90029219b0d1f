#!/usr/bin/python3
# gwbench counts errors by kind: wrong replies, a server that closes, one that never answers.
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



wrong = LineServer(lambda line: b'NOPE\n')
rc, j, err = run_json('tcp', '--expect', 'PONG', '-c', '2', '-d', '500ms',
                      '127.0.0.1:%d' % wrong.port)
j = j or {'errors': {}}
ok(rc == 1, 'wrong replies: exit 1')
ok(j.get('requests', 0) > 0 and j['errors'].get('wrong') == j.get('requests'),
   'every reply counted wrong: %s of %s' % (j['errors'].get('wrong'), j.get('requests')))
ok(j.get('requests') == wrong.count, 'wrong replies still count as answered requests')
ok(j['errors'].get('closed') == 0 and j['errors'].get('timeout') == 0, 'and nothing else',
   j['errors'])

rc, out, err = gwbench('tcp', '--expect', 'PONG', '-c', '1', '-d', '200ms',
                       '127.0.0.1:%d' % wrong.port)
ok('wrong ' in out and 'errors     connect 0, timeout 0, closed 0, wrong' in out,
   'text report lists the errors by kind', out)

prefix = LineServer(lambda line: b'+PONG extra\r\n')
rc, j, err = run_json('tcp', '--expect', '+PONG', '-c', '1', '-d', '300ms',
                      '127.0.0.1:%d' % prefix.port)
ok(rc == 0 and j['errors']['wrong'] == 0, '--expect is a prefix', err)

closer = LineServer(lambda line: b'PONG\n', close=True)
rc, j, err = run_json('tcp', '--expect', 'PONG', '-c', '2', '-d', '500ms',
                      '127.0.0.1:%d' % closer.port)
j = j or {'errors': {}}
ok(rc == 1, 'closing server: exit 1')
ok(j['errors'].get('closed', 0) > 0, 'closes counted: %s' % j['errors'].get('closed'))
ok(j.get('requests', 0) > 0 and j.get('requests') == closer.replied,
   'requests answered before each close counted: %s = %d' % (j.get('requests'), closer.replied))
ok(j.get('connected', 0) > 2, 'connections reopened: %s' % j.get('connected'))
ok(j['errors'].get('wrong') == 0, 'no wrong replies', j['errors'])

silent = LineServer(lambda line: None)
rc, j, err = run_json('tcp', '-c', '2', '-d', '700ms', '--timeout', '200ms',
                      '127.0.0.1:%d' % silent.port)
j = j or {'errors': {}}
ok(rc == 1, 'silent server: exit 1')
ok(j.get('requests') == 0, 'nothing answered')
ok(j['errors'].get('timeout', 0) >= 2, 'timeouts counted: %s' % j['errors'].get('timeout'))
ok(silent.count >= 4, 'connections renewed after a timeout, requests sent again: %d'
   % silent.count)

# Bytes that are no reply at all: 64 KiB without a newline.
junk = LineServer(lambda line: b'x' * 70000)
rc, j, err = run_json('tcp', '-c', '1', '-d', '300ms', '127.0.0.1:%d' % junk.port)
j = j or {'errors': {}}
ok(rc == 1 and j['errors'].get('wrong', 0) > 0, 'an over-long reply is counted wrong',
   j['errors'])

print('1..%d' % run_n)
