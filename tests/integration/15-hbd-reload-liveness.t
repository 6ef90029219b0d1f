#!/usr/bin/python3
# A reload that changes grace, min_up or forget_after applies to services already being watched
# at once, not at the deadline computed under the old values: hbd used to keep a late service
# late until its old dead deadline (grace 1000 -> 2 with interval=100ms: 100 s instead of at
# once), and a lowered forget_after waited likewise. (The min_up check passed before the fix
# too, a pending deadline of the other instance swept the service; it guards the full sweep.)
import os
import signal
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd', conf='[hbd]\ngrace = 1000\nmin_up = 1\n')


def states():
    return {s['name']: s['state'] for s in d.result('services')['services']}


def reload(conf, n):
    t.write(d.conf, conf)
    d.signal(signal.SIGHUP)
    t.ok(t.wait_for(lambda: d.logtext().count('config reloaded') == n, 5), 'reloaded: %s' %
         conf.replace('\n', ' ').strip())


t.is_(t.line_request(d.port, 'HB svc interval=100ms'), 'OK 1', 'svc registered')
t.ok(t.wait_for(lambda: states().get('svc') == 'late', 5), 'svc late (dead only after 1000 x 100ms)')
reload('[hbd]\ngrace = 2\nmin_up = 1\n', 1)
t.ok(t.wait_for(lambda: states().get('svc') == 'dead', 5), 'grace lowered to 2: svc dead at once')
reload('[hbd]\ngrace = 2\nmin_up = 1\nforget_after = 1s\n', 2)
t.ok(t.wait_for(lambda: 'svc' not in states(), 5),
     'forget_after lowered from 24h to 1s: svc forgotten at once')

c = t.LineClient(d.port)
t.is_(c.request('HB api instance=a interval=1h'), 'OK 1', 'api/a beats')
t.like(c.request('HB api instance=b interval=100ms'), r'^OK \d+$', 'api/b beats once')
t.ok(t.wait_for(lambda: states().get('api') == 'up', 5), 'api up with min_up 1 (a up, b dead soon)')
reload('[hbd]\ngrace = 2\nmin_up = 2\nforget_after = 1h\n', 3)
t.ok(t.wait_for(lambda: states().get('api') in ('late', 'dead'), 5),
     'default min_up raised to 2: api no longer up (%s)' % states().get('api'))
c.close()
t.is_(d.stop(), 0, 'clean stop')
t.done()
