#!/usr/bin/python3
# The control socket's limits are configurable: [global] ctl_max_clients refuses connections
# past it with an error reply, ctl_idle_timeout closes an idle one, so a leaky script cannot
# lock gwctl out for long.
import json
import os
import socket
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd', env={'GWKIT_GLOBAL_CTL_MAX_CLIENTS': '3',
                         'GWKIT_GLOBAL_CTL_IDLE_TIMEOUT': '1s'})


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(d.sock)
    return s


held = [connect() for _ in range(3)]
for s in held:
    s.sendall(b'{"id":1,"cmd":"ping"}\n')
    t.is_(json.loads(s.recv(4096).decode())['ok'], True, 'a held connection is answered')
extra = connect()
reply = extra.recv(4096).decode()
t.diag(reply.strip())
r = json.loads(reply.splitlines()[0])
t.is_((r['ok'], r['error']['code']), (False, 'busy'), 'a fourth connection is refused with an error')
extra.close()

start = time.time()
closed = 0
for s in held:
    try:
        if s.recv(4096) == b'':
            closed += 1
    except OSError:
        closed += 1
t.is_(closed, 3, 'idle connections closed after ctl_idle_timeout (%.1fs)' % (time.time() - start))
t.is_(d.ctl('ping')['ok'], True, 'a new connection is served again')
t.is_(d.stop(), 0, 'exits 0')
t.done()
