#!/usr/bin/python3
# gwbench ws takes control frames between the echoes (RFC 6455 5.5): a server's ping is answered
# with a pong carrying its payload, and neither ping nor pong counts as a reply. Each ping was
# counted as a wrong reply (and taken for the answer of the request in flight), never answered.
import asyncio
import logging
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtest import done, ok, run_json  # noqa: E402

try:
    import websockets
except ImportError:
    print('1..0 # SKIP python3-websockets not installed')
    sys.exit(0)

logging.getLogger('websockets').setLevel(logging.CRITICAL)
stats = {'pings': 0, 'pongs': 0, 'echoes': 0}
port = []
ready = threading.Event()


def answered(f):
    # A waiter also completes, with an exception, when the connection closes.
    if not f.cancelled() and f.exception() is None:
        stats['pongs'] += 1


async def echo(ws, path=None):
    try:
        async for m in ws:
            stats['echoes'] += 1
            if stats['echoes'] % 10 == 0:
                waiter = await ws.ping(b'gw%d' % stats['echoes'])
                stats['pings'] += 1
                waiter.add_done_callback(answered)
            if stats['echoes'] % 25 == 0:
                await ws.pong(b'unsolicited')
            await ws.send(m)
    except websockets.exceptions.ConnectionClosed:
        pass


async def main():
    async with websockets.serve(echo, '127.0.0.1', 0, ping_interval=None) as srv:
        port.append(srv.sockets[0].getsockname()[1])
        ready.set()
        await asyncio.Future()

threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
ready.wait(10)
rc, j, err = run_json('ws', '-c', '2', '-t', '1', '-d', '500ms', '--check',
                      'ws://127.0.0.1:%d/' % port[0])
j = j or {'errors': {}}
ok(rc == 0 and j.get('error_total') == 0 and j.get('requests', 0) > 0,
   'pings and pongs between the echoes: no error, exit 0', (rc, j, err))
ok(stats['pings'] > 0 and stats['pongs'] >= stats['pings'] - 2,
   'every ping answered with its pong (but those in flight at the end): %(pongs)d of %(pings)d'
   % stats)
done()
