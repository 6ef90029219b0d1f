#!/usr/bin/python3
# Per-source limits: max_clients_per_ip connections from one address, new_services_per_ip new
# services per address per minute; each refusal has its reply and its counter. New services are
# logged at debug, with one summary line at info.
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd', env={'GWKIT_HBD_MAX_CLIENTS_PER_IP': '3', 'GWKIT_HBD_NEW_SERVICES_PER_IP': '5',
                         'GWKIT_HBD_STORE': 'no'})


def errors(kind):
    return d.metric('hbd_errors_total', {'kind': kind})


cs = [t.LineClient(d.port) for _ in range(3)]
t.is_([c.request('PING') for c in cs], ['PONG'] * 3, 'three connections from 127.0.0.1')
extra = t.LineClient(d.port)
t.is_(extra.line(), 'ERR too many clients from this address', 'the fourth is refused')
t.ok(extra.closed(), 'and closed')
t.is_(errors('too_many_clients_per_ip'), 1.0, 'counted as too_many_clients_per_ip')
cs.pop().close()
t.ok(t.wait_for(lambda: d.result('status')['connections'] == 2), 'one left')
again = t.LineClient(d.port)
t.is_(again.request('PING'), 'PONG', 'a connection is accepted again once one left')

c = cs[0]
t.is_([c.request('HB n%d interval=1h' % i) for i in range(5)], ['OK 1'] * 5, 'five new services')
t.is_(c.request('HB n5 interval=1h'), 'ERR too many new services from this address',
      'the sixth new service in the minute is refused')
t.is_(c.request('HB n0 interval=1h'), 'OK 2', 'known services still beat')
t.udp_request(d.port, 'HB n6\n', expect_reply=False)
t.ok(t.wait_for(lambda: errors('new_services_per_ip') == 2), 'UDP counted the same way (new_services_per_ip 2)')
t.is_(d.metric('hbd_new_services_total'), 5.0, 'hbd_new_services_total 5')

t.ok(t.wait_for(lambda: 'msg="new services" count=5' in d.logtext(), 5), 'one summary line at info')
t.ok('from=new' not in d.logtext(), 'no info line per new service')
t.is_(d.stop(), 0, 'clean stop')

dbg = t.Daemon('hbd', env={'GWKIT_GLOBAL_LOG_LEVEL': 'debug', 'GWKIT_HBD_STORE': 'no'})
t.is_(t.line_request(dbg.port, 'HB one'), 'OK 1', 'a new service')
t.ok(t.wait_for(lambda: 'level=debug prog=hbd msg="service state changed" service=one instance="" from=new to=up' in dbg.logtext()),
     'logged at debug')
t.done()
