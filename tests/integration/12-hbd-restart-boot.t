#!/usr/bin/python3
# hbd restarted with its host: the monotonic clock starts near zero (a new time namespace stands
# in for the reboot), while a restored instance has been dead or late for longer than that. It
# must keep its stored state -- dead stays dead, late stays late, no false recovery alert or
# event row -- while instances restored up still go late and dead on schedule.
# hbd used to place such an instance's last beat at monotonic 0, so its silence counted only
# from the boot: the next sweep of its service (another instance changing state) turned a dead
# instance back up, an "up" event row and alert for a service that had been silent for hours.
import ctypes
import functools
import os
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

CLONE_NEWTIME = 0x80
libc = ctypes.CDLL(None, use_errno=True)
BOOT_S = 5  # hbd sees a host up for 5 s
if time.monotonic() < 3 * BOOT_S:
    t.skip_all('the host itself was booted less than %d s ago' % (3 * BOOT_S))


def new_time_ns():
    """In the forked child before exec: hbd starts in a time namespace where CLOCK_MONOTONIC
    reads BOOT_S seconds."""
    if libc.unshare(CLONE_NEWTIME) != 0:
        raise OSError(ctypes.get_errno(), 'unshare(CLONE_NEWTIME)')
    with open('/proc/self/timens_offsets', 'w') as f:
        f.write('monotonic %d 0\n' % -(int(time.monotonic()) - BOOT_S))


try:
    ok = subprocess.run(['true'], preexec_fn=new_time_ns, capture_output=True).returncode == 0
except (OSError, subprocess.SubprocessError):
    ok = False
if not ok:
    t.skip_all('cannot create a time namespace here (needs CAP_SYS_ADMIN, Linux 5.6)')


sink = t.AlertSink()


def alerts(service, to=None):
    return [e for e in sink.got if e['service'] == service and (to is None or e['to'] == to)]


d = t.Daemon('hbd', env={'GWKIT_HBD_ALERT_URL': sink.url})
for line in ('HB gone interval=200ms', 'HB slow interval=200ms', 'HB multi instance=a interval=200ms'):
    t.is_(t.line_request(d.port, line), 'OK 1', line)
t.ok(t.wait_for(lambda: alerts('gone', 'dead') and alerts('slow', 'dead') and
                alerts('multi', 'dead'), 8), 'gone, slow and multi dead before the restart')
t.like(t.line_request(d.port, 'HB multi instance=b interval=200ms'), r'^OK \d+$', 'multi/b beats, up')
t.is_(t.line_request(d.port, 'HB tick interval=200ms'), 'OK 1', 'tick beats, up')
t.ok(t.wait_for(lambda: len(t.sqlite(d.db, "SELECT name FROM hb_instances WHERE state = 'up'")) == 2,
                5), 'the database has the two up instances')
t.is_(d.stop(), 0, 'stopped')
# Long intervals (dead after 3 x 1 h), so the hours since they went silent matter: gone and
# multi/a dead for 10 h, slow late for 2 h.
subprocess.run(['sqlite3', d.db, """
UPDATE hb_services SET interval_ms = 3600000 WHERE name IN ('gone', 'slow');
UPDATE hb_services SET state = 'late' WHERE name = 'slow';
UPDATE hb_instances SET interval_ms = 3600000, last_ms = last_ms - 36000000
  WHERE service = 'gone' OR (service = 'multi' AND name = 'a');
UPDATE hb_instances SET interval_ms = 3600000, last_ms = last_ms - 7200000, state = 'late'
  WHERE service = 'slow';
"""], check=True, timeout=10)
events_before = int(t.sqlite(d.db, 'SELECT max(rowid) FROM heartbeat_events')[0][0])

sink.got.clear()
popen = subprocess.Popen
subprocess.Popen = functools.partial(popen, preexec_fn=new_time_ns)
try:
    d.start()
finally:
    subprocess.Popen = popen


def inst_state(svc, name):
    for s in d.result('services')['services']:
        if s['name'] == svc:
            return {i['name']: i['state'] for i in s['instances']}.get(name)


# tick and multi/b, restored up, going dead 3 x 200 ms later show the sweeps ran, multi's too.
t.ok(t.wait_for(lambda: alerts('tick', 'dead'), 8), 'tick (restored up) goes dead on schedule')
t.ok(t.wait_for(lambda: inst_state('multi', 'b') == 'dead', 8), 'multi/b goes dead on schedule')
t.is_(inst_state('multi', 'a'), 'dead', 'multi/a, dead for 10 h, stays dead on a host up for 5 s')
svc = {s['name']: s for s in d.result('services')['services']}
t.is_(svc['multi']['state'], 'dead', 'multi dead (no instance up)')
t.is_(svc['gone']['state'], 'dead', 'gone stays dead')
t.is_(svc['slow']['state'], 'late', 'slow, late for 2 h, stays late')
t.is_([(e['service'], e.get('instance'), e['to']) for e in alerts('gone') + alerts('slow') +
       alerts('multi') if e['to'] == 'up' or e.get('instance') == 'a'], [],
      'no recovery alert for gone, slow, multi or multi/a')
rows = t.sqlite(d.db, "SELECT service, instance, from_state, to_state FROM heartbeat_events "
                "WHERE rowid > %d AND (service IN ('gone', 'slow') OR instance = 'a')"
                % events_before)
t.is_(rows, [], 'no event row for gone, slow or multi/a after the restart')
t.like(t.line_request(d.port, 'HB gone interval=1h'), r'^OK \d+$', 'gone beats again')
t.ok(t.wait_for(lambda: alerts('gone', 'up'), 5), 'and its recovery is alerted')
t.is_(d.stop(), 0, 'clean stop')
sink.stop()
t.done()
