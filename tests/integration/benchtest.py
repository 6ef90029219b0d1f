"""benchtest.py -- what the gwbench integration tests share: TAP output, a scriptable line
server on a free loopback port, and gwbench runners."""

import asyncio
import json
import os
import socket
import subprocess
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
    no answer), after `delay` seconds; with `close`, it hangs up after each answer; with
    `at_once`, it hangs up as soon as it accepts (what an HTTP port does to a line protocol)."""

    def __init__(self, reply, delay=0.0, close=False, at_once=False):
        self.reply = reply
        self.at_once = at_once
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
        if self.at_once:
            writer.close()
            return
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


def done():
    print('1..%d' % run_n, flush=True)
