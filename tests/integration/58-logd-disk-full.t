#!/usr/bin/python3
# The disk filling up (a small tmpfs): logd stops acknowledging, says so once, holds the
# inputs back, and when space returns writes every line exactly once and acknowledges it.
import os
import socket
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

if os.geteuid() != 0:
    t.skip_all('needs root to mount a tmpfs')
mnt = os.path.join(t.tmpdir(), 'fs')
os.mkdir(mnt)
if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt]).returncode != 0:
    t.skip_all('cannot mount a tmpfs here')
try:
    d = lt.Logd(output=os.path.join(mnt, 'all.log'))
    c = lt.Native(d.native_port, session=5)
    c.batch(1, ['before the disk filled'])
    t.is_(c.acks_until(1), 1, 'acknowledged while there is space')

    filler = os.path.join(mnt, 'filler')
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b'\0' * 4096)
    except OSError:
        pass
    os.close(fd)
    for seq in range(2, 12):
        c.batch(seq, ['line %d-%d %s' % (seq, i, 'x' * 200) for i in range(20)])
    t.ok(t.wait_for(lambda: 'disk full' in d.logtext(), 10), 'logd logs that the disk is full')
    c.sock.settimeout(1.0)
    try:
        got = c.read_frame()
    except (socket.timeout, TimeoutError):
        got = 'nothing'
    t.is_(got, 'nothing', 'no acknowledgement while the disk is full')
    h = d.result('health')
    t.is_(h['status'], 'critical', 'health is critical: ' + h['summary'])
    t.ok(d.metric('logd_write_errors_total') >= 1, 'failed commits counted')
    code, _, body = d.http('/readyz')
    t.ok(code == 503 and 'disk full' in body, '/readyz is 503 naming the full disk')

    os.unlink(filler)
    c.sock.settimeout(15.0)
    t.is_(c.acks_until(11), 11, 'once space returns, every batch is acknowledged')
    t.ok(t.wait_for(lambda: 'writing resumed' in d.logtext()), 'logd logs that writing resumed')
    t.is_(d.logtext().count('disk full'), 1, 'the outage was logged once, not per retry')
    lines = d.lines()
    want = [b'before the disk filled'] + [('line %d-%d %s' % (s, i, 'x' * 200)).encode()
                                          for s in range(2, 12) for i in range(20)]
    t.is_(len(lines), len(want), 'every line written exactly once')
    t.ok(lines == want, 'in order, whole')
    t.is_(d.result('health')['status'], 'ok', 'health ok again')
    t.is_(d.stop(), 0, 'logd exits 0')
finally:
    for dm in list(t._daemons):
        dm.stop()
    subprocess.run(['umount', '-l', mnt])
t.done()
