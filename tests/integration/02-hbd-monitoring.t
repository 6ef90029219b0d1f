#!/usr/bin/python3
# The shipped Prometheus rules and Grafana dashboard stay true to what hbd exports: the rules
# pass promtool, and every hbd_/process_ metric they name is in a live scrape.
import json
import os
import re
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

share = os.path.join(t.ROOT, 'share')
rules = os.path.join(share, 'prometheus', 'gwkit-alerts.yml')
p = subprocess.run(['promtool', 'check', 'rules', rules], capture_output=True, text=True)
t.is_(p.returncode, 0, 'promtool check rules passes on gwkit-alerts.yml')
p = subprocess.run(['promtool', 'test', 'rules', 'gwkit-alerts.test.yml'], capture_output=True,
                   text=True, cwd=os.path.dirname(rules))
t.is_(p.returncode, 0, 'promtool test rules: the rules fire as their tests expect (one alert '
      'per dead service)')
if p.returncode:
    t.diag(p.stdout + p.stderr)
p = subprocess.run(['promtool', 'check', 'config', os.path.join(share, 'prometheus', 'prometheus.yml')],
                   capture_output=True, text=True)
t.is_(p.returncode, 0, 'promtool check config passes on the scrape config')

dash = json.load(open(os.path.join(share, 'grafana', 'gwkit-hbd.json')))
exprs = [tg['expr'] for pn in dash['panels'] for tg in pn['targets']]
t.ok(any('hbd_service_up' in e for e in exprs), 'the dashboard has a per-service panel')
t.ok(len(exprs) >= 10, 'the dashboard has its panels (%d queries)' % len(exprs))

d = t.Daemon('hbd')
t.line_request(d.port, 'PING')
t.line_request(d.port, 'HB api')  # the per-service families have a series to show
_, _, text = d.http('/metrics')
exported = set()
for line in text.splitlines():
    m = re.match(r'# TYPE (\S+) (\S+)', line)
    if m:
        exported.add(m.group(1))
        if m.group(2) == 'histogram':
            exported.update(m.group(1) + s for s in ('_bucket', '_sum', '_count'))
used = set()
for e in exprs + [open(rules).read()]:
    used.update(re.findall(r'\b((?:hbd|process)_[a-z_]+)\b', e))
missing = sorted(u for u in used if u not in exported)
t.is_(missing, [], 'every metric the dashboard and rules use is exported (%d of them)' % len(used))
t.is_(d.stop(), 0, 'exit 0')
t.done()
