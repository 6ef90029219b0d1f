#!/usr/bin/python3
# gwctl health-check, the Nagios plugin: exit 0/1/2/3 for up, degraded (a dead service), down
# and unreachable, over the control socket and over HTTP /readyz, with perfdata.
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

GWCTL = t.prog('gwctl')
ENV = {k: v for k, v in os.environ.items() if not k.startswith('GWKIT_')}

d = t.Daemon('hbd')
URL = 'http://127.0.0.1:%d' % d.http_port


def check(*args):
    e = dict(ENV)
    e['GWKIT_GLOBAL_RUN_DIR'] = d.run_dir
    p = subprocess.run([GWCTL, 'health-check'] + list(args), env=e, capture_output=True, text=True,
                       timeout=20)
    return p.returncode, p.stdout, p.stderr


# ---- up: OK (0) ----
rc, out, err = check('hbd')
t.is_(rc, 0, 'up: exit 0')
t.like(out, r'^hbd OK - \d+ connections?, 0 dead services, 0 late \| conns=\d+;; up=0;; late=0;; '
       r'dead=0;;\n$', 'up: one Nagios line with perfdata')
t.is_(check(), (0, out, ''), 'without PROG: every running daemon')
rc, out, err = check('--url', URL)
t.is_(rc, 0, 'up over HTTP: exit 0')
t.like(out, r'^http://127\.0\.0\.1:\d+ OK - ready( \(.*\))? \| time=\d+\.\d+s;;;0\n$',
       'up over HTTP: /readyz is ready, time perfdata')
rc, out, err = check('--url', URL + '/readyz')
t.is_(rc, 0, 'a URL with its path is fetched as is')
rc, out, err = check('hbd', '--url', URL)
t.is_((rc, len(out.splitlines())), (0, 2), 'two checks: two lines, exit 0')
rc, out, err = check('--format', 'json', 'hbd')
doc = json.loads(out)
t.is_((rc, doc['status'], doc['exit'], doc['checks'][0]['check'], doc['checks'][0]['status']),
      (0, 'ok', 0, 'hbd', 'ok'), 'JSON: status, exit and the checks')
t.is_(doc['checks'][0]['perfdata']['dead'], 0, 'JSON: perfdata')

# ---- a late service is WARNING (1), a dead one CRITICAL (2); thresholds move both ----
t.like(t.line_request(d.port, 'HB flaky interval=200ms'), r'^OK ', 'HB flaky interval=200ms')


def dead_check():
    r = check('hbd')
    return r if 'dead=1;;' in r[1] else None


res = t.wait_for(dead_check, timeout=5)
t.ok(res is not None, 'flaky is dead after grace x interval')
rc, out, err = res or check('hbd')
t.is_(rc, 2, 'a dead service: CRITICAL, exit 2')
t.like(out, r'^hbd CRITICAL - \d+ connections?, 1 dead service, 0 late \| conns=\d+;; up=0;; late=0;; '
       r'dead=1;;\n$', 'a dead service: CRITICAL line')
rc, out, err = check('--format', 'json')
t.is_((rc, json.loads(out)['status']), (2, 'critical'), 'a dead service, JSON')
rc, out, err = check('--critical', '2', 'hbd')
t.is_((rc, out.split(' ')[1]), (1, 'WARNING'), '--critical 2: one dead service is a WARNING')
rc, out, err = check('--critical', '2', '--warning', '2', 'hbd')
t.is_((rc, out.split(' ')[1]), (0, 'OK'), '--warning 2 --critical 2: one dead service is OK')
rc, out, err = check('--warning', 'x', 'hbd')
t.is_((rc, err.splitlines()[0]), (3, "gwctl: --warning: 'x' is not a count (1 or more)"),
      'a bad threshold: UNKNOWN (3) with a message')
t.like(t.line_request(d.port, 'HB slow interval=2s'), r'^OK ', 'HB slow interval=2s')
res = t.wait_for(lambda: (lambda r: r if 'late=1;;' in r[1] else None)(
    check('--critical', '5', 'hbd')), timeout=8)
t.ok(res is not None and res[0] == 1 and ' WARNING ' in res[1],
     'a late service is a WARNING (with --critical 5 the dead one is not critical either)')

# ---- unreachable URLs ----
closed = t.free_port(udp_too=False)
rc, out, err = check('--url', 'http://127.0.0.1:%d' % closed)
t.is_(rc, 2, 'connection refused: CRITICAL (2)')
t.like(out, r'^http://127\.0\.0\.1:%d CRITICAL - cannot connect: .+\n$' % closed,
       'connection refused: message')
rc, out, err = check('hbd', '--url', 'http://127.0.0.1:%d' % closed)
t.is_(rc, 2, 'WARNING and CRITICAL: CRITICAL wins')

silent = socket.socket()
silent.bind(('127.0.0.1', 0))
silent.listen(8)
start = time.monotonic()
rc, out, err = check('--timeout', '1', '--url', 'http://127.0.0.1:%d' % silent.getsockname()[1])
t.is_(rc, 3, 'HTTP timeout: UNKNOWN (3)')
t.like(out, r' UNKNOWN - no answer within 1s\n$', 'HTTP timeout: message')
t.ok(time.monotonic() - start < 4, 'HTTP timeout: no hang')
silent.close()

rc, out, err = check('--timeout', '2', '--url', 'http://nosuchhost.invalid:9091')
t.is_(rc, 3, 'DNS failure: UNKNOWN (3)')
t.like(out, r'^http://nosuchhost\.invalid:9091 UNKNOWN - ', 'DNS failure: message')
rc, out, err = check('--url', URL + '/nosuch')
t.is_(rc, 3, 'HTTP 404: UNKNOWN (3)')
t.like(out, r'UNKNOWN - unexpected HTTP status 404 \| time=', 'HTTP 404: message')
rc, out, err = check('--url', 'ftp://127.0.0.1/')
t.is_(rc, 3, 'a non-HTTP URL: UNKNOWN (3)')


# A /readyz that answers 503, as a draining daemon does.
class NotReady(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({'ready': False, 'checks': {'draining': {'ok': False, 'detail': 'draining'},
                                                      'store': {'ok': True, 'detail': 'open'}}})
        self.send_response(503)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(('127.0.0.1', 0), NotReady)
threading.Thread(target=srv.serve_forever, daemon=True).start()
rc, out, err = check('--url', 'http://127.0.0.1:%d/' % srv.server_address[1])
t.is_(rc, 2, '503: CRITICAL (2)')
t.like(out, r'^http://127\.0\.0\.1:\d+/ CRITICAL - not ready \(draining: draining\) \| time=',
       '503: names the failing checks only')
srv.shutdown()

# ---- down: no daemon -> CRITICAL (2) ----
sock = d.sock
d.stop()
rc, out, err = check('hbd')
t.is_((rc, out), (2, 'hbd CRITICAL - not running (no socket %s)\n' % sock), 'down: CRITICAL (2)')
rc, out, err = check('--url', URL)
t.is_(rc, 2, 'down over HTTP: CRITICAL (2)')

t.done()
