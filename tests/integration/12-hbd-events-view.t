#!/usr/bin/python3
# heartbeat_events.detail tells how long the previous state lasted and the latest heartbeat
# (JSON), and heartbeat_events_v shows every row with readable UTC times, read with the
# sqlite3 CLI as an operator would.
import datetime
import json
import os
import re
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd')
c = t.LineClient(d.port)


def rows():
    return t.sqlite(d.db, "select id, time, service, instance, from_state, to_state, lasted, "
                          "last_beat, detail from heartbeat_events_v where service='api' "
                          "order by id")


t.is_(c.request('HB api interval=200ms'), 'OK 1', 'api registered')
t.ok(t.wait_for(lambda: d.result('services', {'service': 'api'})['services'][0]['state'] == 'dead',
                5), 'api goes late, then dead')
t.is_(c.request('HB api interval=1h'), 'OK 2', 'api comes back')
t.ok(t.wait_for(lambda: len(rows()) == 4, 5), 'four rows: new->up, up->late, late->dead, dead->up')
r = rows()
t.is_([(x[4], x[5]) for x in r], [('new', 'up'), ('up', 'late'), ('late', 'dead'), ('dead', 'up')],
      'the view has each change, oldest first')
t.ok(all(re.match(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$', x[1]) for x in r),
     'time is readable UTC with milliseconds (%s)' % r[0][1])
t.ok(all(re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', x[7]) for x in r),
     'last_beat is an RFC 3339 time on every row')
t.is_(r[0][6], '', 'new -> up: no previous state to measure')
t.ok(all(re.match(r'^\d+\.\d s$', x[6]) for x in r[1:]),
     'lasted: how long the previous state lasted (%s)' % ', '.join(x[6] for x in r[1:]))

dead = json.loads(r[2][8])
t.ok(set(dead) == {'from_since', 'from_for_ms', 'last_beat', 'silent_ms'},
     'detail is JSON: from_since, from_for_ms, last_beat, silent_ms')
t.ok(dead['silent_ms'] >= 600, 'late -> dead: silent for at least grace x interval (%d ms)'
     % dead['silent_ms'])
def ms(text):
    return datetime.datetime.fromisoformat(text.replace('Z', '+00:00')).timestamp() * 1000


# The two clocks are read a moment apart (under the registry's lock, then when the row is
# queued): close, not equal.
t.ok(abs(ms(dead['from_since']) - ms(r[1][1].replace(' ', 'T'))) < 1000,
     'its previous state began when the up -> late row was written')
t.is_(dead['last_beat'], json.loads(r[1][8])['last_beat'],
      'both rows name the same last heartbeat')
back = json.loads(r[3][8])
t.ok(back['from_for_ms'] >= 0 and 0 <= back['silent_ms'] < 1000,
     'dead -> up: how long it was dead, and the beat that brought it back')

# An instance's changes carry the same detail.
t.is_(c.request('HB db instance=a interval=200ms'), 'OK 1', 'db instance a')
t.ok(t.wait_for(lambda: t.sqlite(d.db, "select count(*) from heartbeat_events_v where "
                                       "service='db' and instance='a' and to_state='late' and "
                                       "last_beat is not null and lasted is not null")
                == [['1']], 5), 'an instance row has lasted and last_beat too')
t.is_(d.stop(), 0, 'exit 0')
t.done()
