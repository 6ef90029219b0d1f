#!/usr/bin/python3
# A service whose grace x interval is longer than forget_after (a daily job: interval=12h, the
# default grace 3 and forget_after 24h) is reported dead before it is forgotten: the dead alert
# is sent and the dead event written, then it is dropped. hbd used to drop it at forget_after
# straight from late, with no dead alert ever: the dead-man's switch never fired for any interval
# of 8 h or more. Scaled down here: forget_after = 1s, interval = 500ms (dead after 1.5 s).
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t


sink = t.AlertSink()
d = t.Daemon('hbd', env={'GWKIT_HBD_ALERT_URL': sink.url,
                         'GWKIT_HBD_FORGET_AFTER': '1s'})


def names():
    return sorted(s['name'] for s in d.result('services')['services'])


t.is_(t.line_request(d.port, 'HB nightly interval=500ms'), 'OK 1', 'nightly registered')
t.is_(t.line_request(d.port, 'HB short interval=100ms'), 'OK 1', 'short registered (dead in 300 ms)')
t.ok(t.wait_for(lambda: names() == [], 10), 'both forgotten in the end')
got = [(e['service'], e['from'], e['to']) for e in sink.got]
t.ok(t.wait_for(lambda: ('nightly', 'late', 'dead') in
                [(e['service'], e['from'], e['to']) for e in sink.got], 5),
     'nightly: the dead alert is sent before it is forgotten (%s)' % got)
rows = t.sqlite(d.db, "SELECT from_state, to_state FROM heartbeat_events WHERE service = 'nightly' "
                "AND instance = '' ORDER BY id")
t.is_(rows, [['new', 'up'], ['up', 'late'], ['late', 'dead'], ['dead', 'forgotten']],
      'nightly events: up, late, dead, then forgotten')
rows = t.sqlite(d.db, "SELECT from_state, to_state FROM heartbeat_events WHERE service = 'short' "
                "AND instance = '' ORDER BY id")
t.is_(rows, [['new', 'up'], ['up', 'late'], ['late', 'dead'], ['dead', 'forgotten']],
      'short events (grace x interval under forget_after): unchanged')
t.is_(d.stop(), 0, 'clean stop')
sink.stop()
t.done()
