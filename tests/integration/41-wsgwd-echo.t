#!/usr/bin/python3
# Real clients through wsgwd to a framed backend: python websockets and node ws, text and
# binary from 0 bytes to 1 MiB, fragmented, pings interleaved, permessage-deflate on and off;
# a broadcast reaching 100 clients; close codes each way; OPEN and CLOSE as the backend sees them.
import asyncio
import json
import os
import shutil
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import wsutil as u
from framebackend import FrameBackend
import websockets

b = FrameBackend()
d = t.Daemon('wsgwd', conf='[backend echo]\naddress = 127.0.0.1:%d\n' % b.port)
t.ok(b.wait_links(2) and u.links_up(d), 'backend links up')
URL = 'ws://127.0.0.1:%d/chat?room=1' % d.port
SIZES = [0, 1, 125, 126, 65535, 65536, 100000, 1 << 20]


async def echo_all(compression):
    bad = []
    async with websockets.connect(URL, max_size=None, compression=compression) as ws:
        for n in SIZES:
            text = ('é' * (n // 2) + 'x' * (n % 2))
            await ws.send(text)
            got = await ws.recv()
            if got != text:
                bad.append(('text', n))
            data = os.urandom(n)
            await ws.send(data)
            got = await ws.recv()
            if got != data:
                bad.append(('binary', n))
        return bad, ws.response_headers.get('Sec-WebSocket-Extensions')

for comp, name in ((None, 'deflate off'), ('deflate', 'deflate on')):
    bad, ext = asyncio.run(echo_all(comp))
    t.is_(bad, [], 'websockets, %s: text and binary echoed at sizes 0..1 MiB' % name)
    if comp:
        t.like(ext or '', 'permessage-deflate', 'deflate negotiated when offered')
    else:
        t.is_(ext, None, 'no extension when not offered')


async def fragmented():
    async with websockets.connect(URL, max_size=None) as ws:
        await ws.send(['frag', 'mented ', 'text ✓'])
        a = await ws.recv()
        await ws.send([b'\x00' * 70000, b'\x01' * 10, b''])
        b_ = await ws.recv()
        pongs = []
        for i in range(3):
            w = await ws.ping(b'p%d' % i)
            await asyncio.wait_for(w, 5)
            pongs.append(i)
        await ws.send('after pings')
        c = await ws.recv()
        return a, b_, pongs, c

a, b_, pongs, c = asyncio.run(fragmented())
t.is_(a, 'fragmented text ✓', 'fragmented text reassembled and echoed')
t.is_(b_, b'\x00' * 70000 + b'\x01' * 10, 'fragmented binary reassembled and echoed')
t.is_(pongs, [0, 1, 2], 'pings answered with pongs')
t.is_(c, 'after pings', 'messages flow after pings')

t.ok(any(o['path'] == '/chat' and o['query'] == 'room=1' and o['remote'].startswith('127.0.0.1:')
         for o in b.opens), 'OPEN gives the backend path, query and remote address')


async def interleaved():
    # A ping between the fragments of a message, by hand: websockets sends control frames
    # between fragments when asked to ping while a fragmented message is being sent.
    async with websockets.connect(URL, max_size=None) as ws:
        async def parts():
            yield 'one '
            await ws.ping(b'mid')
            yield 'two'
        await ws.send(parts())
        return await ws.recv()

t.is_(asyncio.run(interleaved()), 'one two', 'a ping between fragments does not break the message')


async def broadcast(n):
    clients = [await websockets.connect(URL) for _ in range(n)]
    try:
        await asyncio.sleep(0)
        ok = await asyncio.get_event_loop().run_in_executor(
            None, lambda: t.wait_for(lambda: d.result('status')['clients'] >= n))
        b.broadcast(b'to everyone', text=True)
        got = await asyncio.gather(*[asyncio.wait_for(c.recv(), 10) for c in clients])
        return ok, got
    finally:
        for c in clients:
            await c.close()

ok, got = asyncio.run(broadcast(100))
t.ok(ok, '100 clients open')
t.is_(got, ['to everyone'] * 100, 'a client-0 DATA frame reaches all 100 clients, once each')


async def close_codes():
    out = {}
    ws = await websockets.connect(URL)
    await ws.close(4001, 'bye')
    out['client'] = ws.close_code
    ws = await websockets.connect(URL)
    await ws.send('hi')
    await ws.recv()
    cid = [c for c in d.result('clients')['clients']][-1]['id']
    b.close_client(cid, 4002, b'backend says go')
    try:
        await asyncio.wait_for(ws.recv(), 5)
    except websockets.ConnectionClosed as e:
        out['backend'] = (e.rcvd.code, e.rcvd.reason) if e.rcvd else None
    ws = await websockets.connect(URL)
    await ws.send('x')
    await ws.recv()
    clients = d.result('clients')['clients']
    r = d.ctl('kick', {'id': clients[-1]['id'], 'code': 4003})
    out['kick_reply'] = r.get('ok')
    try:
        await asyncio.wait_for(ws.recv(), 5)
    except websockets.ConnectionClosed as e:
        out['kick'] = e.rcvd.code if e.rcvd else None
    return out

out = asyncio.run(close_codes())
t.is_(out.get('client'), 4001, 'a client close is echoed with its code')
t.ok(t.wait_for(lambda: any(c[1] == 4001 for c in b.closes)), 'the backend gets CLOSE with the client\'s code')
t.is_(out.get('backend'), (4002, 'backend says go'), 'a backend CLOSE closes the client with its code and reason')
t.is_((out.get('kick_reply'), out.get('kick')), (True, 4003), 'kick closes the client with the given code')
t.is_(d.ctl('kick', {'id': 999999})['error']['code'], 'not_found', 'kick of an unknown id: not_found')

node = shutil.which('node') or shutil.which('nodejs')
if node:
    script = r'''
const WebSocket = require('ws');
const url = process.argv[1], deflate = process.argv[2] === 'on';
const ws = new WebSocket(url, {perMessageDeflate: deflate});
const sizes = [0, 1, 126, 65536, 1 << 20];
const out = {ok: 0, bad: []};
let i = 0, phase = 'text';
function next() {
  if (i === sizes.length) { if (phase === 'text') { phase = 'binary'; i = 0; } else {
    out.ext = ws.extensions; ws.close(1000); return; } }
  const n = sizes[i];
  ws.expect = phase === 'text' ? 'ü'.repeat(n >> 1) : Buffer.alloc(n, 7);
  ws.send(ws.expect);
}
ws.on('open', next);
ws.on('message', (data, isBinary) => {
  const same = phase === 'text' ? (!isBinary && data.toString() === ws.expect)
                                : (isBinary && Buffer.compare(data, ws.expect) === 0);
  if (same) out.ok++; else out.bad.push(phase + sizes[i]);
  i++; next();
});
ws.on('close', (code) => { out.code = code; console.log(JSON.stringify(out)); });
ws.on('error', (e) => { console.log(JSON.stringify({error: String(e)})); });
'''
    env = dict(os.environ, NODE_PATH='/usr/share/nodejs')
    for mode in ('off', 'on'):
        p = subprocess.run([node, '-e', script, URL, mode], env=env, capture_output=True, text=True,
                           timeout=60)
        try:
            res = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res = {"error": p.stdout + p.stderr}
        if res.get("error"):
            t.diag(res["error"])
        t.is_((res.get('ok'), res.get('bad'), res.get('code')), (10, [], 1000),
              'node ws, deflate %s: text and binary echoed, clean close' % mode)
else:
    t.ok(False, 'node installed (share/deps.sh)')

t.ok(d.metric('wsgwd_messages_total', {'direction': 'in'}) > 30, 'messages counted in')
t.ok(d.metric('wsgwd_close_codes_total', {'code': 'other', 'side': 'received'}) >= 1,
     'received 4001 counted as other')
t.done()
