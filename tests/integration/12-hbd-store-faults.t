#!/usr/bin/python3
# Lost history is never silent: a database that cannot be written is refused at start with its
# path and the reason (unless store = no); a disk that fills while hbd runs is counted
# (hbd_store_errors_total{reason}, /status store), logged once, turns /readyz 503 naming the
# store, and the rows kept for retry go in by themselves once space is freed.
# Runs as root in a private mount namespace (a read-only bind mount, a small tmpfs).
import os
import re
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

if os.geteuid() != 0:
    t.skip_all('needs root: a read-only bind mount and a small tmpfs in a private mount namespace')
if not os.environ.get('GW_TEST_MOUNT_NS'):
    if subprocess.run(['unshare', '-m', '--propagation', 'private', 'true'],
                      capture_output=True).returncode != 0:
        t.skip_all('cannot create a private mount namespace here (unshare -m refused)')
    os.environ['GW_TEST_MOUNT_NS'] = '1'
    sys.stdout.flush()
    os.execvp('unshare', ['unshare', '-m', '--propagation', 'private', sys.executable] + sys.argv)


def mount(*args):
    subprocess.run(['mount'] + list(args), check=True)


hbd = t.prog('hbd')

# ---- read-only at start ----
d = t.Daemon('hbd')
t.is_(t.line_request(d.port, 'HB before interval=1s'), 'OK 1', 'a service recorded')
t.is_(d.stop(), 0, 'stopped')
mount('--bind', d.state_dir, d.state_dir)
mount('-o', 'remount,bind,ro', d.state_dir)
rc, out, err = t.run([hbd], env=d.env, timeout=20)
t.is_(rc, 1, 'a read-only database: hbd exits 1')
t.like(err, r'cannot open the database .*path=%s err="?%s: read-only: Read-only file system' %
       (re.escape(d.db), re.escape(d.db)), 'the error names the path and the reason')
t.ok('unable to open database file' not in err, "not SQLite's generic message")
ro = t.Daemon('hbd', env={'GWKIT_GLOBAL_STATE_DIR': d.state_dir, 'GWKIT_HBD_STORE': 'no'})
t.is_(t.line_request(ro.port, 'PING'), 'PONG', 'store = no starts on a read-only database')
t.is_(ro.stop(), 0, 'and stops cleanly')
subprocess.run(['umount', d.state_dir], check=True)

# ---- disk full while running ----
state = os.path.join(t.tmpdir(), 'small')
os.mkdir(state)
mount('-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', state)
d = t.Daemon('hbd', env={'GWKIT_GLOBAL_STATE_DIR': state})
d.state_dir = state
t.is_(t.line_request(d.port, 'HB first interval=60s'), 'OK 1', 'first service')
t.ok(t.wait_for(lambda: t.sqlite(d.db, 'SELECT count(*) FROM hb_services') == [['1']]),
     'written while there is space')
filler = os.path.join(state, 'filler')
with open(filler, 'wb') as f:
    try:
        while True:
            f.write(b'\0' * 65536)
            f.flush()
    except OSError:
        pass
labels = ' '.join('k%d=%s' % (i, 'v' * 100) for i in range(12))
c = t.LineClient(d.port)
N = 300
c.send(''.join('HB svc%03d interval=60s %s\n' % (i, labels) for i in range(N)))
replies = [c.line() for _ in range(N)]
t.is_(replies, ['OK 1'] * N, 'heartbeats answered while the disk is full')
t.ok(t.wait_for(lambda: (d.metric('hbd_store_errors_total', {'reason': 'disk_full'}) or 0) >= 3, 10),
     'failed writes counted: hbd_store_errors_total{reason="disk_full"}, and retried')
code, _, body = d.http('/readyz')
t.is_(code, 503, '/readyz answers 503 while writes fail')
t.like(body, r'store %s: writes failing \(disk full\)' % re.escape(d.db), '/readyz names the store')
st = d.result('status')['store']
t.is_((st['failing'], st['dropped']), ('disk full', 0), '/status: store failing (disk full), nothing dropped')
t.ok(st['queued'] > 0 and st['errors_disk_full'] >= 3, '/status: rows queued, errors by reason')
t.is_(d.metric('hbd_store_failing'), 1.0, 'hbd_store_failing 1')
e = dict(os.environ, GWKIT_GLOBAL_RUN_DIR=d.run_dir)
p = subprocess.run([t.prog('gwctl'), 'health-check', 'hbd'], env=e, capture_output=True, text=True, timeout=20)
t.is_(p.returncode, 1, 'gwctl health-check hbd (the health control command): WARNING (1)')
t.like(p.stdout, r'^hbd WARNING - .*store failing \(disk full\)', 'naming the store fault')
want = 'msg="database writes failing; rows kept for retry" path=%s reason="disk full"' % d.db
t.ok(t.wait_for(lambda: want in d.logtext(), 5), 'logged with the path and the reason')

os.unlink(filler)
t.ok(t.wait_for(lambda: d.result('status')['store']['failing'] == '', 10), 'writes resume by themselves')
t.ok(t.wait_for(lambda: 'database writes resumed' in d.logtext(), 5), 'the recovery is logged')
t.is_(d.http('/readyz')[0], 200, '/readyz 200 again')
t.is_(len(re.findall(r'database writes failing', d.logtext())), 1, 'logged once for the whole episode')
t.is_(t.sqlite(d.db, 'SELECT count(*) FROM hb_services'), [[str(N + 1)]],
      'every service written once the disk had room: nothing lost')
t.is_(t.sqlite(d.db, "SELECT count(*) FROM heartbeat_events WHERE to_state = 'up'"), [[str(N + 1)]],
      'every transition written')
t.is_(d.metric('hbd_store_dropped_total'), 0.0, 'nothing dropped')
c.close()
t.is_(d.stop(), 0, 'clean stop')
subprocess.run(['umount', state], check=True)
t.done()
