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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtest import GWBENCH, ROOT, LineServer, done, gwbench, ok, run_json  # noqa: E402



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
ok('wrong ' in out and 'errors     connect 0, timeout 0, closed 0, closed_at_once 0, wrong' in out,
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

hangup = LineServer(lambda line: b'PONG\n', at_once=True)
rc, j, err = run_json('tcp', '-c', '2', '-d', '600ms', '127.0.0.1:%d' % hangup.port)
j = j or {'errors': {}}
ok(rc == 1 and j['errors'].get('closed_at_once', 0) > 0 and j['errors'].get('closed') == 0,
   'a server that hangs up at once: its own error kind (%s)' % j['errors'])
ok(hangup.conns < 100, 'and reconnects back off instead of spinning (%d connections)' % hangup.conns)
rc, out, err = gwbench('tcp', '-c', '2', '-d', '1s', '127.0.0.1:%d' % hangup.port)
ok('hint       the server closes connections at once: is this the right port and protocol?' in out,
   'with a hint in the text report', out)

# One that hangs up in its accept loop, faster than gwbench starts its run: every connection
# may be closed by then, and it still gets a run and a report, not "cannot connect".
fast = socket.socket()
fast.bind(('127.0.0.1', 0))
fast.listen(64)


def hang_up():
    while True:
        fast.accept()[0].close()


threading.Thread(target=hang_up, daemon=True).start()
rc, j, err = run_json('tcp', '-c', '2', '-d', '300ms', '127.0.0.1:%d' % fast.getsockname()[1])
ok(rc == 1 and j is not None and j['errors'].get('closed_at_once', 0) > 0,
   'a server that hangs up before the run starts: a report with closed_at_once', err)

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

done()
