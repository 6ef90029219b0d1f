#!/usr/bin/python3
# A database locked by another writer (sqlite3 holding BEGIN EXCLUSIVE): at start hbd waits its
# busy timeout (5 s) and exits 1 naming the path and "locked"; while running, heartbeats are
# answered, the fault shows in /status, hbd_store_errors_total{reason="locked"} and /readyz, and
# once the lock goes the rows kept for retry go in by themselves (nothing lost). No hbd change:
# the locked case had no test (12-hbd-store-faults covers read-only and a full disk).
import os
import re
import sqlite3
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd')
t.is_(t.line_request(d.port, 'HB before interval=1h'), 'OK 1', 'a service recorded')
t.ok(t.wait_for(lambda: t.sqlite(d.db, 'SELECT count(*) FROM hb_services') == [['1']], 5),
     'written to the database')
t.is_(d.stop(), 0, 'stopped')

con = sqlite3.connect(d.db, isolation_level=None, timeout=10)
con.execute('BEGIN EXCLUSIVE')
rc, _, err = t.run([t.prog('hbd')], env=d.env, timeout=30)
t.is_(rc, 1, 'locked at start: hbd exits 1')
t.like(err, r'cannot open the database .*path=%s err="%s: locked' % (re.escape(d.db), re.escape(d.db)),
       'the error names the path and "locked"')
con.execute('ROLLBACK')

d.start()
con.execute('BEGIN EXCLUSIVE')
t.is_(t.line_request(d.port, 'HB during interval=1h'), 'OK 1', 'a heartbeat answered while locked')


def store():
    return d.result('status')['store']


t.ok(t.wait_for(lambda: store()['failing'] == 'locked', 15), '/status: store failing (locked)')
t.ok((d.metric('hbd_store_errors_total', {'reason': 'locked'}) or 0) >= 1,
     'counted: hbd_store_errors_total{reason="locked"}')
code, _, body = d.http('/readyz')
t.is_(code, 503, '/readyz 503 while locked')
t.like(body, r'store %s: writes failing \(locked\)' % re.escape(d.db), '/readyz names the store')
con.execute('ROLLBACK')
con.close()
t.ok(t.wait_for(lambda: store()['failing'] == '', 15), 'writes resume once the lock goes')
t.is_(t.sqlite(d.db, 'SELECT name FROM hb_services ORDER BY name'), [['before'], ['during']],
      'the service beaten while locked is written: nothing lost')
t.is_(store()['dropped'], 0, 'nothing dropped')
t.is_(d.http('/readyz')[0], 200, '/readyz 200 again')
t.is_(d.stop(), 0, 'clean stop')
t.done()
