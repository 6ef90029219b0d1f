#!/usr/bin/python3
# gwbench counts a handshake that is never answered: a server that takes the connection but
# never completes the WebSocket upgrade (or answers lines that never end an HTTP head), or
# logd's hello, counts connect errors after --timeout and exits 1; before, every connection
# waited for the whole run and the report said "errors none". And ws --check catches an echo
# that flips one byte (a python websockets server), counting each such reply as wrong.
import asyncio
import logging
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtest import LineServer, done, ok, run_json  # noqa: E402

silent = LineServer(lambda line: None)
liner = LineServer(lambda line: b'+PONG\r\n')

for name, args in (('ws, silent server', ['ws', 'ws://127.0.0.1:%d/' % silent.port]),
                   ('ws, a line server', ['ws', 'ws://127.0.0.1:%d/' % liner.port]),
                   ('log, silent server', ['log', '127.0.0.1:%d' % silent.port])):
    rc, j, err = run_json('-c', '2', '-t', '1', '-d', '1s', '--timeout', '200ms', *args)
    j = j or {'errors': {}}
    ok(rc == 1 and j.get('requests') == 0 and j['errors'].get('connect', 0) >= 2
       and j.get('error_total', 0) >= 2,
       '%s: unanswered handshakes are connect errors, exit 1' % name, (rc, j, err))

try:
    import websockets
except ImportError:
    websockets = None
if websockets is None:
    ok(True, '# skip python3-websockets not installed')
else:
    port = []
    ready = threading.Event()

    logging.getLogger('websockets').setLevel(logging.CRITICAL)

    async def flip(ws, path=None):
        n = 0
        try:
            async for m in ws:
                n += 1
                b = bytearray(m if isinstance(m, bytes) else m.encode())
                if n % 3 == 0:
                    b[len(b) // 2] ^= 1
                await ws.send(bytes(b))
        except websockets.exceptions.ConnectionClosed:
            pass  # gwbench ends its connections without a close frame

    async def main():
        async with websockets.serve(flip, '127.0.0.1', 0) as srv:
            port.append(srv.sockets[0].getsockname()[1])
            ready.set()
            await asyncio.Future()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    ready.wait(10)
    url = 'ws://127.0.0.1:%d/' % port[0]
    rc, j, err = run_json('ws', '-c', '1', '-t', '1', '-d', '500ms', '--check', url)
    j = j or {'errors': {}}
    wrong = j['errors'].get('wrong', 0)
    ok(rc == 1 and wrong > 0 and abs(wrong * 3 - j.get('requests', 0)) <= 3,
       'ws --check: every third (flipped) echo is wrong, exit 1', (rc, j, err))
    rc, j, err = run_json('ws', '-c', '1', '-t', '1', '-d', '300ms', url)
    ok(rc == 0 and (j or {}).get('errors', {}).get('wrong') == 0,
       'ws without --check: only the size is compared, exit 0', (rc, j, err))
done()
