#!/usr/bin/python3
# Per-service series on /metrics: hbd_service_up and hbd_service_last_beat_seconds for each
# service, the worst first up to metrics_max_services, the rest counted; a forgotten service
# leaves /metrics; the text passes promtool.
import os
import re
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd', env={'GWKIT_HBD_FORGET_AFTER': '3s', 'GWKIT_HBD_METRICS_MAX_SERVICES': '2'})
c = t.LineClient(d.port)


def series(name):
    """{service: value} of one per-service family."""
    _, _, text = d.http('/metrics')
    out = {}
    for line in text.splitlines():
        m = re.match(r'%s\{service="(.*)"\} (\S+)$' % name, line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


_, _, text = d.http('/metrics')
t.like(text, r'# TYPE hbd_service_up gauge\n# HELP', 'no services: the family is declared, empty')
t.is_(d.metric('hbd_metrics_services_dropped'), 0.0, 'nothing dropped at start')

t.is_(c.request('HB api interval=200ms'), 'OK 1', 'api registered (fast interval)')
t.is_(c.request('HB db interval=1h'), 'OK 1', 'db registered')
t.is_(series('hbd_service_up'), {'api': 1.0, 'db': 1.0}, 'hbd_service_up is 1 for each live service')
beat = series('hbd_service_last_beat_seconds')
t.ok(set(beat) == {'api', 'db'} and all(0 <= v < 5 for v in beat.values()),
     'hbd_service_last_beat_seconds for each service, seconds since its beat (%r)' % beat)

t.ok(t.wait_for(lambda: series('hbd_service_up').get('api') == 0.0, 5),
     'a dead service: hbd_service_up{service="api"} 0')
t.ok(series('hbd_service_last_beat_seconds').get('api', 0) >= 0.6,
     'its last beat is at least grace x interval ago')
t.is_(series('hbd_service_up').get('db'), 1.0, 'the other service stays 1')

# Past the cap: the dead service is kept (the worst first), an up one is left out and counted.
t.is_(c.request('HB cache interval=1h'), 'OK 1', 'a third service')
up = series('hbd_service_up')
t.is_(up, {'api': 0.0, 'cache': 1.0}, 'metrics_max_services=2: the dead one first, then by name')
t.is_(d.metric('hbd_metrics_services_dropped'), 1.0, 'the service left out is counted')
t.is_(set(series('hbd_service_last_beat_seconds')), set(up), 'both families show the same services')

_, _, text = d.http('/metrics')
p = subprocess.run(['promtool', 'check', 'metrics'], input=text, capture_output=True, text=True)
t.is_((p.returncode, p.stdout + p.stderr), (0, ''), 'promtool check metrics: no problems')

# Forgotten after forget_after (3s of silence): gone from /metrics, the cap frees a place.
t.ok(t.wait_for(lambda: 'api' not in series('hbd_service_up'), 6),
     'a forgotten service disappears from hbd_service_up')
t.ok('api' not in series('hbd_service_last_beat_seconds'),
     'and from hbd_service_last_beat_seconds')
t.ok(t.wait_for(lambda: set(series('hbd_service_up')) == {'cache', 'db'}, 3),
     'the place it left goes to the service that was dropped')
t.is_(d.metric('hbd_metrics_services_dropped'), 0.0, 'nothing dropped any more')
t.is_(d.result('forget', {'service': 'db'}), {'forgotten': 'db'}, 'forget db')
t.is_(set(series('hbd_service_up')), {'cache'}, 'gwctl forget removes its series at once')
t.is_(d.stop(), 0, 'exit 0')

# 0: no per-service series at all, every service counted as left out; a reload changes it.
d = t.Daemon('hbd', conf='[hbd]\nmetrics_max_services = 0\n')
t.is_(t.line_request(d.port, 'HB api'), 'OK 1', 'api registered')
t.is_(series('hbd_service_up'), {}, 'metrics_max_services=0: no per-service series')
t.is_(d.metric('hbd_metrics_services_dropped'), 1.0, 'the service is counted as left out')
t.write(d.conf, '[hbd]\nmetrics_max_services = 10\n')
t.is_(d.ctl('reload')['ok'], True, 'reload with metrics_max_services = 10')
t.is_(series('hbd_service_up'), {'api': 1.0}, 'after the reload: api has its series')
t.is_(d.metric('hbd_metrics_services_dropped'), 0.0, 'and nothing is left out')
t.is_(d.stop(), 0, 'exit 0')
t.done()
