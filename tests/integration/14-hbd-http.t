#!/usr/bin/python3
# hbd's HTTP endpoints: /metrics passes promtool, /healthz, /readyz, /status, the stats page.
import json
import os
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd')
c = t.LineClient(d.port)
for i in range(10):
    c.request('PING')
c.request('HB web interval=1s')
c.request('BOGUS')
t.udp_request(d.port, 'PING')

code, ctype, text = d.http('/metrics')
t.is_(code, 200, '/metrics answers 200')
t.like(ctype, r'^text/plain; version=0\.0\.4', '/metrics content type is the Prometheus text format')
p = subprocess.run(['promtool', 'check', 'metrics'], input=text, capture_output=True, text=True)
t.is_(p.returncode, 0, 'promtool check metrics passes on a live scrape')
if p.returncode:
    t.diag(p.stdout + p.stderr)
for name in ['hbd_received_messages_total{proto="tcp"}', 'hbd_received_messages_total{proto="udp"}',
             'hbd_clients_connected_total', 'hbd_received_bytes_total', 'hbd_processing_seconds_bucket',
             'hbd_processing_seconds_sum', 'hbd_active_connections', 'hbd_messages_per_second',
             'hbd_services{state="up"}', 'hbd_alerts_total{outcome="sent"}',
             'hbd_errors_total{kind="unknown_command"}', 'process_resident_memory_bytes',
             'process_cpu_seconds_total', 'process_open_fds']:
    t.ok(any(line.startswith(name) for line in text.splitlines()), 'metric %s exposed' % name)
t.is_(d.metric('hbd_received_messages_total', {'proto': 'tcp'}), 12.0, 'TCP requests counted exactly')
t.is_(d.metric('hbd_received_messages_total', {'proto': 'udp'}), 1.0, 'UDP requests counted')
t.is_(d.metric('hbd_active_connections'), 1.0, 'one connection open')
t.is_(d.metric('hbd_services', {'state': 'up'}), 1.0, 'one service up')
t.is_(d.metric('hbd_errors_total', {'kind': 'unknown_command'}), 1.0, 'the bad command counted')

t.is_(d.http('/healthz')[0], 200, '/healthz 200')
code, ctype, body = d.http('/readyz')
t.is_(code, 200, '/readyz 200 while accepting')
t.is_(json.loads(body)['ready'], True, '/readyz body says ready')
code, ctype, body = d.http('/status')
st = json.loads(body)
t.is_((code, st['prog'], st['connections'], st['services']['up']), (200, 'hbd', 1, 1),
      '/status is the status JSON')
code, ctype, body = d.http('/')
t.ok(code == 200 and ctype.startswith('text/html') and 'hbd' in body, '/ is an HTML stats page')
t.is_(d.http('/nope')[0], 404, 'unknown path 404')

# The same figures through the control socket.
st = d.result('status')
t.is_(st['messages_total'], 13, 'status: messages_total')
t.is_(st['listeners']['tcp'], '127.0.0.1:%d' % d.port, 'status: TCP listener')
t.is_(st['workers'], 2, 'status: workers')
h = d.result('health')
t.is_((h['status'], h['perfdata']['conns']), ('ok', 1), 'health ok with one connection')
m = d.result('metrics')['text']
t.ok('hbd_active_connections 1' in m, 'metrics over the control socket')
cl = d.result('clients')['clients']
t.is_(len(cl), 1, 'clients lists the one connection')
t.is_((cl[0]['messages'], cl[0]['bytes_in']), (12, 10 * 6 + len('HB web interval=1s\r\nBOGUS\r\n')),
      'clients: messages and bytes of the connection')

t.is_(d.stop(), 0, 'hbd exits 0')
t.done()
