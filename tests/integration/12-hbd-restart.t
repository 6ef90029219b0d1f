#!/usr/bin/python3
# A restart keeps the watch list: after kill -9 hbd restores every service and instance from the
# database, a service that stays silent goes late and dead on schedule and its alert fires once,
# one already dead before the restart raises no second alert, and `forget` removes the rows.
import os
import sys
import threading
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t


sink = t.AlertSink()


def alerts(service, to):
    return [e for e in sink.got if e['service'] == service and e['to'] == to]


d = t.Daemon('hbd', env={'GWKIT_HBD_ALERT_URL': sink.url})
beating = ['alpha', 'beta', 'silent']
stop = threading.Event()


def beat(names):
    c = t.LineClient(d.port)
    while not stop.is_set():
        try:
            for n in names:
                c.request('HB %s interval=1s team=t-%s' % (n, n))
        except OSError:
            try:
                c = t.LineClient(d.port)
            except OSError:
                pass
        stop.wait(0.2)


# 'gone' dies before the restart: its dead alert is sent once, before.
t.is_(t.line_request(d.port, 'HB gone interval=200ms'), 'OK 1', 'gone registered')
t.line_request(d.port, 'HB multi instance=a interval=1s')
t.line_request(d.port, 'HB multi instance=b interval=1s')
th = threading.Thread(target=beat, args=(beating,), daemon=True)
th.start()
t.ok(t.wait_for(lambda: len(alerts('gone', 'dead')) == 1, 8), 'gone: dead alert before the restart')
t.ok(t.wait_for(lambda: d.result('status')['services']['up'] == 3, 5), 'alpha, beta, silent up')
t.ok(t.wait_for(lambda: len(t.sqlite(d.db, 'SELECT name FROM hb_services')) == 5, 5),
     'the watch list is in the database (5 services)')

d.proc.kill()
d.proc.wait()
stop.set()
th.join()
stop.clear()
sink.got.clear()
d.start()
th = threading.Thread(target=beat, args=(['alpha', 'beta'],), daemon=True)
th.start()

svc = {s['name']: s for s in d.result('services')['services']}
t.is_(sorted(svc), ['alpha', 'beta', 'gone', 'multi', 'silent'], 'every service restored after kill -9')
t.is_(svc['gone']['state'], 'dead', 'a dead service is restored dead')
t.is_(svc['silent']['labels'], {'team': 't-silent'}, 'labels restored')
t.is_(svc['silent']['interval_ms'], 1000, 'interval restored')
t.is_(sorted(i['name'] for i in svc['multi']['instances']), ['a', 'b'], 'instances restored')
t.like(d.logtext(), r'msg="watch list restored" services=5 instances=6', 'restore logged')

start = time.monotonic()
t.ok(t.wait_for(lambda: len(alerts('silent', 'dead')) == 1, 6),
     'silent: dead alert after the restart')
t.ok(time.monotonic() - start < 4.5, 'silent reported dead within its grace (3 x 1s) of the restart')
svc = {s['name']: s for s in d.result('services')['services']}
t.is_((svc['alpha']['state'], svc['beta']['state']), ('up', 'up'), 'the services still beating stay up')
t.ok(t.wait_for(lambda: len(alerts('multi', 'dead')) == 1, 6),
     'multi (silent since before the kill) goes dead too')
t.ok(t.wait_for(lambda: d.metric('hbd_alerts_queued') == 0, 5), 'every alert delivered')
t.is_(len(alerts('silent', 'dead')), 1, 'exactly one dead alert for silent')
t.is_(alerts('gone', 'dead'), [], 'no second dead alert for gone (sent before the restart)')
t.is_([e['service'] for e in sink.got if e['to'] == 'dead' and e['service'] in ('alpha', 'beta')], [],
      'no alert for the services still beating')

r = d.ctl('forget', {'service': 'silent'})
t.ok(r['ok'], 'forget silent')
t.ok(t.wait_for(lambda: t.sqlite(d.db, "SELECT count(*) FROM hb_services WHERE name = 'silent'") == [['0']] and
                t.sqlite(d.db, "SELECT count(*) FROM hb_instances WHERE service = 'silent'") == [['0']], 5),
     'forget removes the service and its instances from the database')
stop.set()
th.join()
d.stop()
d.start()
names = [s['name'] for s in d.result('services')['services']]
t.ok('silent' not in names and 'alpha' in names, 'a forgotten service stays forgotten after a restart')
t.is_(d.stop(), 0, 'clean stop')
t.done()
