#!/usr/bin/python3
# A database write refused with EFBIG (the process's file size limit, RLIMIT_FSIZE, as systemd's
# LimitFSIZE= sets it): hbd is not killed by SIGXFSZ, goes on answering heartbeats, reports the
# store fault (/status, hbd_store_errors_total{reason="io"}, /readyz 503), and once the limit is
# lifted the rows kept for retry go in by themselves: nothing lost; SIGTERM still exits 0.
# hbd's own log on a file over the limit (stderr redirected) does not kill it either: a log line
# written by the main thread (a reload) used to end hbd with SIGXFSZ.
import os
import signal
import shutil
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

if not shutil.which('prlimit'):
    t.skip_all('prlimit not installed')
d = t.Daemon('hbd')
labels = ' '.join('k%d=%s' % (i, 'v' * 100) for i in range(12))
c = t.LineClient(d.port)
N = 200
c.send(''.join('HB before%03d interval=60s %s\n' % (i, labels) for i in range(N)))
t.is_([c.line() for _ in range(N)], ['OK 1'] * N, 'services recorded under no file size limit')
t.ok(t.wait_for(lambda: t.sqlite(d.db, 'SELECT count(*) FROM hb_services') == [[str(N)]], 10),
     'written to the database')


def size(p):
    try:
        return os.path.getsize(p)
    except OSError:
        return 0


# Below what the database and its WAL already hold, far above hbd's own log (stderr), so the
# limit stops the database's writes and not the log's.
limit = max(4 * size(d.log_path), 65536)
t.ok(limit < max(size(d.db), size(d.db + '-wal')),
     'the database (%d bytes, WAL %d) is larger than the limit %d' %
     (size(d.db), size(d.db + '-wal'), limit))
rc, _, err = t.run(['prlimit', '--pid', str(d.pid), '--fsize=%d:unlimited' % limit])
t.is_(rc, 0, 'prlimit sets hbd\'s file size limit ' + err.strip())

M = 50
c.send(''.join('HB after%03d interval=60s %s\n' % (i, labels) for i in range(M)))
t.is_([c.line() for _ in range(M)], ['OK 1'] * M, 'heartbeats answered while writes fail')


def failing():
    st = d.result('status') or {}
    return (st.get('store') or {}).get('failing')


t.ok(t.wait_for(lambda: not d.alive() or bool(failing()), 10) and d.alive(),
     'a database write over the file size limit does not kill hbd (SIGXFSZ)')
if not d.alive():
    t.diag('hbd exited with %s' % d.proc.returncode)
    t.done()
t.is_(failing(), 'I/O error', '/status: store failing (I/O error)')
t.ok((d.metric('hbd_store_errors_total', {'reason': 'io'}) or 0) >= 1,
     'counted: hbd_store_errors_total{reason="io"}')
t.is_(d.http('/readyz')[0], 503, '/readyz 503 while writes fail')

rc, _, err = t.run(['prlimit', '--pid', str(d.pid), '--fsize=unlimited:unlimited'])
t.is_(rc, 0, 'the limit is lifted ' + err.strip())
t.ok(t.wait_for(lambda: failing() == '', 15), 'writes resume by themselves')
t.ok(t.wait_for(lambda: t.sqlite(d.db, 'SELECT count(*) FROM hb_services') == [[str(N + M)]], 10),
     'every service written once the limit was lifted: nothing lost')
t.is_(d.metric('hbd_store_dropped_total'), 0.0, 'nothing dropped')
c.close()
t.is_(d.stop(), 0, 'clean stop')

# ---- the log over the limit ----
d = t.Daemon('hbd')
rc, _, err = t.run(['prlimit', '--pid', str(d.pid), '--fsize=1:unlimited'])
t.is_(rc, 0, 'a file size limit below hbd\'s log ' + err.strip())
before = size(d.log_path)
os.kill(d.pid, signal.SIGHUP)  # the main thread logs the reload
t.ok(t.wait_for(lambda: not d.alive() or d.ctl('ping').get('ok'), 5) and d.alive(),
     'a log line over the file size limit does not kill hbd (SIGXFSZ)')
t.is_(size(d.log_path), before, 'the line was not written (EFBIG)')
t.is_(t.line_request(d.port, 'HB still interval=1s'), 'OK 1', 'heartbeats still answered')
rc, _, err = t.run(['prlimit', '--pid', str(d.pid), '--fsize=unlimited:unlimited'])
t.is_(rc, 0, 'the limit is lifted ' + err.strip())
t.is_(d.stop(), 0, 'clean stop')
t.done()
