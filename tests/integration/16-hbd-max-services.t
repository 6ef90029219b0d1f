#!/usr/bin/python3
# Hitting max_services is logged once per episode and counted; ERR too many instances has its own
# counter (too_many_instances), apart from too_many_services.
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd', env={'GWKIT_HBD_MAX_SERVICES': '3', 'GWKIT_HBD_MAX_INSTANCES': '2',
                         'GWKIT_HBD_STORE': 'no'})
c = t.LineClient(d.port)
FULL = 'max_services reached'
AGAIN = 'below max_services again'


def errors(kind):
    return d.metric('hbd_errors_total', {'kind': kind})


for n in ('a', 'b', 'c'):
    t.is_(c.request('HB %s interval=1h' % n), 'OK 1', 'service %s accepted' % n)
t.is_(c.request('HB d interval=1h'), 'ERR too many services', 'the fourth service is refused')
t.is_(c.request('HB e interval=1h'), 'ERR too many services', 'and the fifth')
t.udp_request(d.port, 'HB f interval=1h\n', expect_reply=False)
t.ok(t.wait_for(lambda: errors('too_many_services') == 3), 'each refusal counted (TCP and UDP): too_many_services 3')
t.ok(t.wait_for(lambda: FULL in d.logtext()), 'the episode is logged')
t.is_(d.logtext().count(FULL), 1, 'once, not per refusal')
t.like(d.logtext(), r'level=warning .*msg="max_services reached: new services are refused \(ERR too many services\)" max_services=3',
       'the log line names the limit')

t.is_(c.request('HB a instance=x'), 'OK 2', 'a second instance of a')
t.is_(c.request('HB a instance=y'), 'ERR too many instances', 'a third instance is refused')
t.is_(errors('too_many_instances'), 1.0, 'counted as too_many_instances')
t.is_(errors('too_many_services'), 3.0, 'not as too_many_services')
t.is_(d.logtext().count(FULL), 1, 'too many instances does not start an episode')

t.ok(d.ctl('forget', {'service': 'c'})['ok'], 'forget c')
t.ok(t.wait_for(lambda: AGAIN in d.logtext()), 'the end of the episode is logged')
t.like(d.logtext(), r'msg="below max_services again: new services are accepted" max_services=3 refused=3',
       'with the number refused during it')
t.is_(c.request('HB d interval=1h'), 'OK 1', 'a new service is accepted again')
t.is_(c.request('HB e interval=1h'), 'ERR too many services', 'full again')
t.ok(t.wait_for(lambda: d.logtext().count(FULL) == 2), 'a new episode is logged again')
t.is_(d.stop(), 0, 'clean stop')
t.done()
