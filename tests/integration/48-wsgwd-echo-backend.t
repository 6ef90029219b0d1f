#!/usr/bin/python3
# wsgwd with the example backend, in the command-line forms of DESIGN.md:
# `echo-backend HOST:PORT` and `wsgwd PORT HOST:PORT HOST:PORT`. Text stays text and binary
# binary through the gateway; --broadcast-every reaches every client once per tick; a /ws/*
# client's message (backend id 0) is echoed by both.
import asyncio
import os
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import websockets

EB = t.prog('echo-backend')
if not os.path.exists(EB):
    t.skip_all('echo-backend not built')

procs = []


def backend(*args):
    port = t.free_port(udp_too=False)
    log = open(os.path.join(t.tmpdir(), 'echo-backend.log'), 'wb')
    p = subprocess.Popen([EB] + list(args) + ['127.0.0.1:%d' % port], stdout=log, stderr=log)
    procs.append(p)
    return port, p

p1, _ = backend()
p2, _ = backend('--broadcast-every', '200')
d = t.Daemon('wsgwd', start=False)
d.args = [str(d.port), '127.0.0.1:%d' % p1, '127.0.0.1:%d' % p2]
d.start()
t.ok(t.wait_for(lambda: all(b['links'] == 2 for b in d.result('backends')['backends'])),
     'wsgwd PORT HOST:PORT HOST:PORT: both echo-backends linked from every worker')


async def echo():
    async with websockets.connect('ws://127.0.0.1:%d/ws/cli-1' % d.port, max_size=None) as ws:
        out = []
        for n in (0, 5, 70000, 1 << 20):
            s = 'ä' * (n // 2)
            await ws.send(s)
            out.append(await ws.recv() == s)
            data = os.urandom(n)
            await ws.send(data)
            out.append(await ws.recv() == data)
        return out

t.is_(asyncio.run(echo()), [True] * 8, 'echo-backend echoes text as text and binary as binary, 0..1 MiB')


async def broadcasts(n):
    clients = [await websockets.connect('ws://127.0.0.1:%d/ws/cli-2' % d.port) for _ in range(n)]
    try:
        got = await asyncio.gather(*[asyncio.wait_for(c.recv(), 10) for c in clients])
        return got
    finally:
        for c in clients:
            await c.close()



async def fan():
    async with websockets.connect('ws://127.0.0.1:%d/ws/*' % d.port) as ws:
        await ws.send('both')
        got = []
        while len(got) < 2:
            m = await asyncio.wait_for(ws.recv(), 10)
            if not m.startswith('broadcast '):
                got.append(m)
        return got

t.is_(asyncio.run(fan()), ['both', 'both'],
      '/ws/*: a message with backend id 0 reaches both echo-backends, and both echo it')

got = asyncio.run(broadcasts(20))
t.ok(len(got) == 20 and all(isinstance(g, str) and g.startswith('broadcast ') for g in got),
     '--broadcast-every: all 20 clients get the broadcast text')
for p in procs:
    p.terminate()
    p.wait(10)
t.done()
