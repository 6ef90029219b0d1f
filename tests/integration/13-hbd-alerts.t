#!/usr/bin/python3
# Alert webhooks: JSON POSTs for each state change; receivers that fail, refuse or hang are
# retried and counted, and never slow heartbeats down.
import http.server
import json
import os
import socket
import sys
import threading
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t


class Receiver(http.server.BaseHTTPRequestHandler):
    """Answers 500 to the first `fail_first` POSTs, then 200; records what it got."""
    got = []
    fail_first = 0
    calls = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        cls = type(self)
        cls.calls += 1
        if cls.calls <= cls.fail_first:
            self.send_response(500)
            self.end_headers()
            return
        cls.got.append((self.headers.get('Content-Type'), json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def serve(handler):
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


good = serve(Receiver)
Receiver.fail_first = 2
refused_port = t.free_port(udp_too=False)          # nobody listens there
hang = socket.socket()                              # accepts, never answers
hang.bind(('127.0.0.1', 0))
hang.listen(16)
urls = ' '.join(['http://127.0.0.1:%d/hook' % good.server_port,
                 'http://127.0.0.1:%d/refused' % refused_port,
                 'http://127.0.0.1:%d/hang' % hang.getsockname()[1]])
d = t.Daemon('hbd', env={'GWKIT_HBD_ALERT_URL': urls, 'GWKIT_HBD_ALERT_BACKOFF': '50ms',
                         'GWKIT_HBD_ALERT_RETRIES': '3', 'GWKIT_HBD_ALERT_TIMEOUT': '300ms'})
c = t.LineClient(d.port)
t.is_(c.request('HB pay interval=200ms team=payments'), 'OK 1', 'pay registered')
t.ok(t.wait_for(lambda: len(Receiver.got) >= 2, 8), 'late and dead alerts delivered despite two 500s')
# Retried deliveries may overtake each other; the timestamp orders them.
events = sorted([g[1] for g in Receiver.got[:2]], key=lambda e: e['ts'])
t.is_([(e['service'], e['from'], e['to']) for e in events],
      [('pay', 'up', 'late'), ('pay', 'late', 'dead')], 'alerts for up->late and late->dead')
t.is_(Receiver.got[0][0], 'application/json', 'alerts are JSON')
e = events[1]
t.is_((e['event'], e['prog']), ('state_change', 'hbd'), 'alert names the event and program')
t.like(e['ts'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', 'alert timestamp is RFC 3339 UTC')
t.is_(e['detail']['labels'], {'team': 'payments'}, 'alert carries the service labels')
t.is_(e['detail']['instances'][0]['state'], 'dead', 'alert carries instance states')
t.ok(e['host'], 'alert names the host')

# While the refused and hanging receivers are retried, heartbeats are answered at full speed.
start = time.monotonic()
for i in range(200):
    if c.request('PING') != 'PONG':
        break
elapsed = time.monotonic() - start
t.is_(i, 199, '200 PINGs answered while deliveries fail and hang')
t.ok(elapsed < 2, 'PINGs not held up by hanging webhooks (%.3fs for 200)' % elapsed)

t.ok(t.wait_for(lambda: d.metric('hbd_alerts_total', {'outcome': 'failed'}) == 4, 10),
     'refused and hanging receivers: both alerts given up after retries (4 failures)')
t.is_(d.metric('hbd_alerts_total', {'outcome': 'sent'}), 2.0, 'two alerts delivered')
t.ok(d.metric('hbd_alerts_total', {'outcome': 'retried'}) >= 2 + 3 * 4,
     'retries counted (2 for the 500s, 3 per failed delivery)')
t.like(d.logtext(), r'level=error prog=hbd msg="alert delivery failed, giving up" url=http://127\.0\.0\.1:\d+/refused',
       'a given-up delivery is logged as an error with its URL')
st = d.result('status')
t.is_(st['alerts']['queued'], 0, 'nothing left queued')

# Back up: a recovery alert.
n = len(Receiver.got)
t.is_(c.request('HB pay interval=200ms'), 'OK 2', 'pay beats again')
t.ok(t.wait_for(lambda: len(Receiver.got) > n, 5) and Receiver.got[n][1]['to'] == 'up',
     'recovery alert dead->up delivered')

t.is_(d.stop(), 0, 'hbd exits 0 with deliveries pending')
hang.close()
t.done()
