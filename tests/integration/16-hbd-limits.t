#!/usr/bin/python3
# Resource limits: max_clients refuses politely; running out of descriptors pauses accepting
# (no spin, no crash) and resumes once descriptors are free.
import os
import socket
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd', env={'GWKIT_HBD_MAX_CLIENTS': '5'})
held = [t.LineClient(d.port) for _ in range(5)]
for c in held:
    t.is_(c.request('PING'), 'PONG', 'client within max_clients served')
extra = t.LineClient(d.port)
t.is_(extra.line(), 'ERR too many clients', 'the client past max_clients is told why')
t.ok(extra.closed(), 'and closed')
t.ok(t.wait_for(lambda: d.metric('hbd_errors_total', {'kind': 'too_many_clients'}) == 1),
     'refusal counted')
held[0].close()
t.ok(t.wait_for(lambda: d.result('status')['connections'] == 4), 'a slot frees when a client leaves')
again = t.LineClient(d.port)
t.is_(again.request('PING'), 'PONG', 'a new client fits again')
t.is_(d.stop(), 0, 'exit 0')

# Out of descriptors: hbd under a 64-descriptor limit, 100 clients.
os.environ['GW_WRAP'] = 'prlimit --nofile=64:64'
d = t.Daemon('hbd', env={'GWKIT_HBD_WORKERS': '1'})
os.environ['GW_WRAP'] = ''


def ctl_conns():
    """hbd's open control connections (in /proc/net/unix: its socket path, not listening)."""
    with open('/proc/net/unix') as f:
        return sum(1 for line in f if line.split()[7:] == [d.sock] and line.split()[5] != '01')


# The control connection that found hbd ready must be gone before the table fills up: closed
# later, it would free a descriptor for the HTTP request below.
t.ok(t.wait_for(lambda: ctl_conns() == 0, 5), 'the readiness check connection is closed')
socks = []
for i in range(100):
    s = socket.socket()
    s.settimeout(5)
    s.connect(('127.0.0.1', d.port))   # completes in the kernel backlog even when not accepted
    socks.append(s)
t.ok(t.wait_for(lambda: 'Too many open files' in d.logtext(), 5),
     'running out of descriptors is logged ("Too many open files")')
# An HTTP scrape and a control request while out of descriptors: refused, and no thread spins.
t.is_(d.http('/metrics', timeout=1)[0], 0, 'an HTTP request gets nothing while out of descriptors')
cpu0 = sum(map(int, open('/proc/%d/stat' % d.pid).read().split()[13:15]))
time.sleep(1)
cpu1 = sum(map(int, open('/proc/%d/stat' % d.pid).read().split()[13:15]))
t.ok(cpu1 - cpu0 < 20, 'no busy loop while out of descriptors (%d ticks in 1s)' % (cpu1 - cpu0))
t.is_(d.logtext().count('msg="accept failed"'), 1, 'the failure is logged once, not in a loop')
for s in socks[:60]:
    s.close()
t.ok(t.wait_for(lambda: d.result('status')['connections'] >= 35, 10),
     'accepting resumes once descriptors are free')
t.ok(d.metric('hbd_errors_total', {'kind': 'accept'}) >= 1, 'accept failures counted')
s = socks[-1]
s.sendall(b'PING\r\n')
t.is_(s.recv(16), b'PONG\r\n', 'a client that waited in the backlog is served')
for s in socks[60:]:
    s.close()
t.is_(d.stop(), 0, 'exit 0')
t.done()
