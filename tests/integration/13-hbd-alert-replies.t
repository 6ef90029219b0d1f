#!/usr/bin/python3
# What a webhook answers, beyond its status: a 2xx is a delivery even when its body is huge or
# arrives slower than alert_timeout -- hbd reads no body, so the alert is sent once, not
# re-sent as failed (duplicate pages); a 3xx is not followed (the redirect target gets nothing)
# and counts as a failed attempt, retried then given up. hbd used to read every body to the
# end: a receiver that answered 200 and then trickled its body timed out and got the same alert
# again on every retry.
import http.server
import os
import sys
import threading
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

hits = {'redirect': 0, 'target': 0, 'huge': 0, 'trickle': 0}
stop = threading.Event()


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length', 0)))
        path = self.path.strip('/')
        hits[path] += 1
        if path == 'redirect':
            self.send_response(302)
            self.send_header('Location', '/target')
            self.send_header('Content-Length', '0')
            self.end_headers()
        elif path == 'target':
            self.send_response(204)
            self.end_headers()
        else:
            n = 64 << 20 if path == 'huge' else 1 << 20
            self.send_response(200)
            self.send_header('Content-Length', str(n))
            self.end_headers()
            chunk = b'x' * (65536 if path == 'huge' else 1)
            try:
                for _ in range(n // len(chunk)):
                    self.wfile.write(chunk)
                    if path == 'trickle':
                        self.wfile.flush()
                        if stop.wait(0.05):
                            break
            except OSError:
                pass

    def log_message(self, *args):
        pass


srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Receiver)
srv.daemon_threads = True
threading.Thread(target=srv.serve_forever, daemon=True).start()
base = 'http://127.0.0.1:%d/' % srv.server_port
d = t.Daemon('hbd', env={'GWKIT_HBD_ALERT_URL': ' '.join(base + p for p in ('redirect', 'huge', 'trickle')),
                         'GWKIT_HBD_ALERT_RETRIES': '2', 'GWKIT_HBD_ALERT_TIMEOUT': '500ms',
                         'GWKIT_HBD_ALERT_BACKOFF': '100ms'})


def alerts(outcome):
    return d.metric('hbd_alerts_total', {'outcome': outcome}) or 0


t.is_(t.line_request(d.port, 'HB svc interval=100ms'), 'OK 1', 'svc registered: up -> late -> dead')
t.ok(t.wait_for(lambda: alerts('failed') == 2, 15),
     'the redirect: both alerts given up after 3 attempts (%s failed)' % alerts('failed'))
t.ok(t.wait_for(lambda: alerts('sent') == 4, 10),
     'huge and trickling 200 bodies: both alerts delivered to each (%s sent)' % alerts('sent'))
t.is_(alerts('retried'), 4.0, 'retries only for the redirect (2 per alert)')
t.is_((hits['huge'], hits['trickle']), (2, 2), 'each 2xx receiver got each alert once')
t.is_((hits['redirect'], hits['target']), (6, 0), 'a 3xx is not followed: 3 attempts, target untouched')
t.ok(int(open('/proc/%d/status' % d.pid).read().split('VmHWM:')[1].split()[0]) < 64 * 1024,
     'a 64 MiB reply body is not held in memory')
t.is_(d.stop(), 0, 'clean stop')
stop.set()
srv.shutdown()
t.done()
