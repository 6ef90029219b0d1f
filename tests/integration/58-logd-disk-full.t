#!/usr/bin/python3
# Backpressure and the disk filling up. While the output cannot be written, a syslog TCP
# sender is held back (logd stops reading; its writes block), UDP datagrams past the queue
# are dropped and counted, and when writing works again every line read is written. A small
# tmpfs filling up: logd stops acknowledging, says so once, and when space returns writes
# every line exactly once and acknowledges it.
import os
import select
import socket
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

# ---- backpressure: an output that cannot be opened until a file is moved out of the way ----
tmp = t.tmpdir()
blocker = os.path.join(tmp, 'logs')
t.write(blocker, 'a file where the output directory should be\n')
bp = lt.Logd(output=os.path.join(blocker, 'all.log'),
             env={'GWKIT_LOGD_QUEUE_SIZE': '64k', 'GWKIT_LOGD_WORKERS': '1'})
sender = socket.create_connection(('127.0.0.1', bp.syslog_port))
sender.setblocking(False)
line = b'<13>held back ' + b'p' * 200 + b'\n'
nbytes = 0
held = False
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        nbytes += sender.send(line * 64)
    except BlockingIOError:
        # Blocked: logd stopped reading (the kernel buffers are full too). Confirm it stays so.
        r, w, _ = select.select([], [sender], [], 0.5)
        if not w:
            held = True
            break
sent = nbytes // len(line)
t.ok(held, 'a TCP sender is held back while the queue is full (%d lines sent)' % sent)
for i in range(300):
    t.udp_request(bp.syslog_port, b'<13>udp while full %d' % i, expect_reply=False)
t.ok(t.wait_for(lambda: bp.metric('logd_dropped_messages_total', {'input': 'syslog_udp'}) > 0),
     'UDP datagrams past the full queue are dropped and counted')
t.ok(bp.result('health')['status'] == 'critical', 'health critical while the output cannot be written')
os.unlink(blocker)
sender.setblocking(True)
# The end of the line the last send cut, then one more.
sender.sendall(line[nbytes % len(line):] if nbytes % len(line) else b'')
sender.sendall(b'<13>last line\n')
sender.shutdown(socket.SHUT_WR)
t.ok(t.wait_for(lambda: bp.lines()[-1:] == [b'<13>last line'], 30),
     'once the output can be written, logd reads on and writes everything')
held_lines = [l for l in bp.lines() if l.startswith(b'<13>held back')]
t.ok(len(held_lines) == -(-nbytes // len(line)) and all(l == line[:-1] for l in held_lines),
     'every line the sender got out was written, whole (%d)' % len(held_lines))
t.ok(bp.metric('logd_backpressure_seconds_total', {'input': 'syslog_tcp'}) > 0,
     'time held back is counted')
sender.close()
t.is_(bp.stop(), 0, 'logd exits 0')

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
