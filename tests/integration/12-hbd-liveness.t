#!/usr/bin/python3
# Liveness: up -> late -> dead -> up, instances and min_up, forget; every change a row in
# heartbeat_events, read with the sqlite3 CLI; the STATUS counts follow every change.
import os
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd', env={'GWKIT_HBD_FORGET_AFTER': '3s'})
c = t.LineClient(d.port)


def state(name):
    s = d.result('services', {'service': name})['services']
    return s[0]['state'] if s else None


def inst_states(name):
    s = d.result('services', {'service': name})['services']
    return {i['name']: i['state'] for i in s[0]['instances']} if s else {}


def counts():
    """services, up, late, dead from the STATUS line on the heartbeat port."""
    f = dict(kv.split('=', 1) for kv in c.request('STATUS').split()[1:])
    return tuple(int(f[k]) for k in ('services', 'up', 'late', 'dead'))


# The counts are kept per transition (not counted on demand): follow one service through
# every state.
t.is_(counts(), (0, 0, 0, 0), 'STATUS: no services at start')
t.is_(c.request('HB cnt interval=500ms'), 'OK 1', 'cnt registered')
t.is_(counts(), (1, 1, 0, 0), 'STATUS: a new service counts as up')
t.ok(t.wait_for(lambda: counts() == (1, 0, 1, 0), 3), 'STATUS: up -> late moves it to late')
t.ok(t.wait_for(lambda: counts() == (1, 0, 0, 1), 3), 'STATUS: late -> dead moves it to dead')
t.is_(c.request('HB cnt interval=500ms'), 'OK 2', 'cnt beats again')
t.is_(counts(), (1, 1, 0, 0), 'STATUS: dead -> up moves it back to up')
t.is_(d.result('forget', {'service': 'cnt'}), {'forgotten': 'cnt'}, 'forget cnt')
t.is_(counts(), (0, 0, 0, 0), 'STATUS: a forgotten service leaves every count')

t.is_(c.request('HB solo interval=200ms'), 'OK 1', 'solo registered')
t.is_(state('solo'), 'up', 'a new service is up')
t.ok(t.wait_for(lambda: state('solo') == 'late', 2), 'silent for 1.5 intervals: late')
t.ok(t.wait_for(lambda: state('solo') == 'dead', 2), 'silent for grace x interval: dead')
t.is_(c.request('HB solo interval=200ms'), 'OK 2', 'solo beats again')
t.is_(state('solo'), 'up', 'the next HB brings it back up at once')

svc = d.result('services', {'service': 'solo'})['services'][0]
t.is_(svc['interval_ms'], 200, 'interval reported in ms')
t.is_(svc['heartbeats'], 2, 'heartbeats counted')
t.is_(svc['min_up'], 1, 'default min_up is 1')
t.is_(d.result('services', {'state': 'up'})['services'][0]['name'], 'solo', 'filter by state')
r = d.ctl('services', {'state': 'sleepy'})
t.is_((r['ok'], r['error']['code']), (False, 'bad_args'), 'unknown state filter refused')
for bad in ('0', '-1', '2x', '', '99999999999999999999', 0, True):
    r = d.ctl('services', {'limit': bad})
    t.is_((r['ok'], r['error']['code']), (False, 'bad_args'), 'services limit %r refused' % (bad,))
t.is_(len(d.result('services', {'limit': '1'})['services']), 1, 'services limit "1" takes one')

# Several instances: the service stays up while min_up of them are.
t.is_(c.request('HB api instance=a interval=200ms min_up=2'), 'OK 1', 'api instance a')
t.is_(c.request('HB api instance=b interval=200ms'), 'OK 2', 'api instance b')
t.is_(c.request('HB api instance=c interval=200ms'), 'OK 3', 'api instance c')
t.is_(state('api'), 'up', 'api up with three instances')
deadline = time.monotonic() + 3
# Keep a and b beating, let c die.
while time.monotonic() < deadline and inst_states('api').get('c') != 'dead':
    c.request('HB api instance=a interval=200ms')
    c.request('HB api instance=b interval=200ms')
    time.sleep(0.05)
t.is_(inst_states('api'), {'a': 'up', 'b': 'up', 'c': 'dead'}, 'each instance has its own state')
t.is_(state('api'), 'up', 'api stays up with 2 of 3 instances (min_up=2)')
deadline = time.monotonic() + 3
while time.monotonic() < deadline and state('api') == 'up':
    c.request('HB api instance=a interval=200ms')
    time.sleep(0.05)
t.ok(state('api') in ('late', 'dead'), 'api goes down when fewer than min_up instances are up')

# forget, by hand and by forget_after.
t.is_(d.result('forget', {'service': 'solo'}), {'forgotten': 'solo'}, 'forget solo')
t.is_(state('solo'), None, 'solo is gone')
r = d.ctl('forget', {'service': 'nobody'})
t.is_((r['ok'], r['error']['code']), (False, 'not_found'), 'forgetting an unknown service')
r = d.ctl('forget', {})
t.is_((r['ok'], r['error']['code']), (False, 'bad_args'), 'forget needs a service')
t.ok(t.wait_for(lambda: state('api') is None, 6), 'a service silent for forget_after is dropped')
t.is_(counts(), (0, 0, 0, 0), 'STATUS: zero once every service is forgotten or dropped')

# The history in the database, read with the sqlite3 CLI while hbd runs.
q = "select service, instance, from_state, to_state from heartbeat_events where service='solo' order by id"
# solo went silent again during the instance tests, so it was dead when forgotten.
rows = t.wait_for(lambda: len(t.sqlite(d.db, q)) >= 7 and t.sqlite(d.db, q), 5)
t.is_(rows, [['solo', '', 'new', 'up'], ['solo', '', 'up', 'late'], ['solo', '', 'late', 'dead'],
             ['solo', '', 'dead', 'up'], ['solo', '', 'up', 'late'], ['solo', '', 'late', 'dead'],
             ['solo', '', 'dead', 'forgotten']],
      'every change of solo is a row in heartbeat_events')
rows = t.sqlite(d.db, "select count(*) from heartbeat_events where service='api' and instance='c' and to_state='dead'")
t.is_(rows, [['1']], 'instance changes are rows too, with the instance name')
t.ok(int(t.sqlite(d.db, "select min(ts_ms) from heartbeat_events")[0][0]) > 1.7e12,
     'rows carry wall-clock timestamps in ms')
t.ok(d.metric('hbd_service_transitions_total', {'to': 'dead'}) >= 2, 'transitions counted')
t.like(d.logtext(), r'level=warning prog=hbd msg="service state changed" service=solo instance="" from=late to=dead',
       'the change to dead is logged as a warning')

t.is_(d.stop(), 0, 'hbd exits 0')
t.done()
