#!/usr/bin/python3
# Backend id 0 on a client's message = every backend: a client at /ws/* is opened on every
# framed backend, each of its messages goes to all of them as DATA with backend id 0, any of
# them answers it (and broadcasts reach it), a CLOSE from one closes it and the others are
# told, a dropped link closes it with 1011; with no framed backend up it gets 503.
import asyncio
import os
import struct
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import wsutil as u
import framebackend as fb
import websockets

seen = {}


def spy(name, b):
    orig = b._frame
    seen[name] = []

    def f(c, client, backend, type_, cls, flags, payload):
        seen[name].append((type_, client, backend, payload))
        orig(c, client, backend, type_, cls, flags, payload)
    b._frame = f

b1, b2 = fb.FrameBackend(), fb.FrameBackend()
spy('one', b1)
spy('two', b2)
d = t.Daemon('wsgwd', conf='[backend one]\naddress = 127.0.0.1:%d\n[backend two]\naddress = 127.0.0.1:%d\n'
                           % (b1.port, b2.port))
t.ok(b1.wait_links(2) and b2.wait_links(2) and u.links_up(d), 'two framed backends up')
URL = 'ws://127.0.0.1:%d/ws/*' % d.port


def frames(name, type_, client):
    return [f for f in seen[name] if f[0] == type_ and f[1] == client]


def clients_of(name):
    return [b['clients'] for b in d.result('backends')['backends'] if b['name'] == name][0]


async def fan():
    out = {}
    loop = asyncio.get_event_loop()
    async with websockets.connect(URL) as ws:
        cid = d.result('clients')['clients'][0]['id']
        out['cid'] = cid
        out['listed'] = d.result('clients')['clients'][0]['backend']
        out['counts'] = (clients_of('one'), clients_of('two'))
        await ws.send('to all')
        out['echoes'] = sorted([await asyncio.wait_for(ws.recv(), 5) for _ in range(2)])
        b2.broadcast(b'from two', text=True)
        out['broadcast'] = await asyncio.wait_for(ws.recv(), 5)
        await ws.close(1000)
    out['closed'] = await loop.run_in_executor(
        None, lambda: t.wait_for(lambda: frames('one', fb.CLOSE, cid) and frames('two', fb.CLOSE, cid)))
    return out

out = asyncio.run(fan())
cid = out['cid']
t.ok(frames('one', fb.OPEN, cid) and frames('two', fb.OPEN, cid), '/ws/*: OPEN on every framed backend')
t.is_(out['listed'], '*', 'clients lists its backend as *')
t.is_(out['counts'], (1, 1), 'each backend counts the client')
d1, d2 = frames('one', fb.DATA, cid), frames('two', fb.DATA, cid)
t.is_([(f[2], f[3]) for f in d1 + d2], [(0, b'to all'), (0, b'to all')],
      'its message reaches both backends as DATA with backend id 0')
t.is_(out['echoes'], ['to all', 'to all'], 'both backends answer it')
t.is_(out['broadcast'], 'from two', 'a broadcast of either backend reaches it')
t.ok(out['closed'], 'its close is told to both backends')
t.is_([f[3][:2] for f in frames('one', fb.CLOSE, cid) + frames('two', fb.CLOSE, cid)],
      [struct.pack('>H', 1000)] * 2, '... with its code 1000')
t.ok(t.wait_for(lambda: (clients_of('one'), clients_of('two')) == (0, 0)), 'the counts go back to 0')


async def closed_by(backend):
    async with websockets.connect(URL) as ws:
        cid = d.result('clients')['clients'][0]['id']
        await ws.send('x')
        await ws.recv()
        await ws.recv()
        backend.close_client(cid, 4005, b'bye')
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as e:
            return cid, e.rcvd.code if e.rcvd else None

cid, code = asyncio.run(closed_by(b2))
t.is_(code, 4005, 'a CLOSE from one backend closes the client with its code')
t.ok(t.wait_for(lambda: frames('one', fb.CLOSE, cid)), 'the other backend is told')
t.is_(frames('two', fb.CLOSE, cid), [], 'the backend that closed it is not told again')


async def dropped():
    async with websockets.connect(URL) as ws:
        cid = d.result('clients')['clients'][0]['id']
        b1.send_raw(fb.frame(10, b''))
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as e:
            return cid, e.rcvd.code if e.rcvd else None

cid, code = asyncio.run(dropped())
t.is_(code, 1011, 'one backend\'s link dropped: the client gets 1011')
t.ok(t.wait_for(lambda: any(f[3][:2] == struct.pack('>H', 1011) for f in frames('two', fb.CLOSE, cid))),
     'the other backend is told 1011')
t.ok(b1.wait_links(2) and u.links_up(d), 'links back')

b1.close()
b2.close()
t.ok(t.wait_for(lambda: all(b['links'] == 0 for b in d.result('backends')['backends'])), 'both backends gone')
t.is_(u.status_of(d.port, u.upgrade_request('/ws/*')), 503, '/ws/* with no framed backend up: 503')
t.done()
