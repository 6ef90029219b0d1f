#!/usr/bin/python3
# A write refused with EFBIG (the process's file size limit, RLIMIT_FSIZE, as systemd's
# LimitFSIZE= sets it): logd is not killed by SIGXFSZ, acknowledges nothing it could not write,
# reports the error, and once the limit is lifted writes every held line exactly once and
# acknowledges it; a batch resent on a new connection meanwhile is acknowledged only once written,
# once; it still exits 0 on SIGTERM.
import os
import shutil
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

if not shutil.which('prlimit'):
    t.skip_all('prlimit not installed')
d = lt.Logd(env={'GWKIT_LOGD_FSYNC': 'batch', 'GWKIT_LOGD_INGEST_TIMEOUT': '1s'})
c = lt.Native(d.native_port, session=4242)
# The output file first grows past logd's own log (stderr), so the limit set next stops the
# output's writes and not the log's.
c.batch(1, ['before %04d %s' % (i, 'b' * 80) for i in range(300)])
t.is_(c.ack(), 1, 'a batch under no file size limit is acknowledged')
size = os.path.getsize(d.out)
t.ok(size > 4 * os.path.getsize(d.log_path), 'the output is larger than logd\'s log')
rc, _, err = t.run(['prlimit', '--pid', str(d.pid), '--fsize=%d:unlimited' % (size + 100)])
t.is_(rc, 0, 'prlimit sets logd\'s file size limit ' + err.strip())

c.batch(2, ['after %04d %s' % (i, 'a' * 80) for i in range(20)])


def failing():
    st = d.result('status') or {}
    return (st.get('output') or {}).get('error')


t.ok(t.wait_for(lambda: failing() is not None or not d.alive(), 10) and d.alive(),
     'a write over the file size limit does not kill logd (SIGXFSZ)')
t.like(failing() or '', r'(?i)too large', 'status names the failed write: %s' % failing())
c.sock.settimeout(0.5)
try:
    a = c.ack()
except OSError:
    a = 'no ack'
t.is_(a, 'no ack', 'the batch that could not be written is not acknowledged')
t.is_(len(d.lines()), 300, 'nothing of it is left half written in the file')
code, body = d.ingest('{"msg":"over http while the limit holds","app":"web"}\n', timeout=15)
t.is_(code, 503, 'POST /ingest while writes fail: 503, not 200 (%s)' % body.strip())

rc, _, err = t.run(['prlimit', '--pid', str(d.pid), '--fsize=unlimited:unlimited'])
t.is_(rc, 0, 'the limit is lifted ' + err.strip())
c.sock.settimeout(15)
t.is_(c.ack(), 2, 'once the write works again the batch is acknowledged')
lines = d.lines()
native = [l for l in lines if l.startswith((b'before ', b'after '))]
t.ok(native == [('before %04d %s' % (i, 'b' * 80)).encode() for i in range(300)] +
     [('after %04d %s' % (i, 'a' * 80)).encode() for i in range(20)],
     'every native line written exactly once, in order (%d lines)' % len(native))
# The 503 said "not durable in time"; the line may still be written (logd.8), but once at most.
t.ok(len([l for l in lines if b'over http while the limit holds' in l]) <= 1,
     'the line refused with 503 is written at most once')
c.batch(3, ['later'])
t.is_(c.ack(), 3, 'and logd goes on acknowledging')
c.close()
t.is_(d.stop(), 0, 'logd exits 0 on SIGTERM after the failed writes')

# A client that reconnects while its batch is accepted but not written (the session remembers
# it as accepted): the WELCOME names the last durable seq, and the resent batch is acknowledged
# only once it is written, once.
d = lt.Logd(env={'GWKIT_LOGD_FSYNC': 'batch'})
a = lt.Native(d.native_port, session=88)
a.batch(1, ['before %04d %s' % (i, 'b' * 80) for i in range(300)])
t.is_(a.ack(), 1, 'reconnect: the first batch is acknowledged')
t.run(['prlimit', '--pid', str(d.pid), '--fsize=%d:unlimited' % (os.path.getsize(d.out) + 100)])
two = ['two %d %s' % (i, 'x' * 80) for i in range(20)]
a.batch(2, two)
t.ok(t.wait_for(lambda: ((d.result('status') or {}).get('output') or {}).get('error'), 10),
     'reconnect: the second batch cannot be written')
a.close()
b = lt.Native(d.native_port, session=88)
t.is_(b.welcome, 1, 'the WELCOME of the reconnect names the last durable seq, not the accepted')
b.batch(2, two)
b.batch(3, ['three'])
b.sock.settimeout(0.5)
try:
    a = b.ack()
except OSError:
    a = 'no ack'
t.is_(a, 'no ack', 'the resent batch is not acknowledged while it cannot be written')
t.run(['prlimit', '--pid', str(d.pid), '--fsize=unlimited:unlimited'])
b.sock.settimeout(15)
t.is_(b.acks_until(3), 3, 'once writes work, the resent batch and the next are acknowledged')
lines = d.lines()
t.is_((len([l for l in lines if l.startswith(b'two ')]), lines.count(b'three')), (20, 1),
      'the batch sent twice is written once')
b.close()
t.is_(d.stop(), 0, 'logd exits 0')

# A limit below logd's own log too: the main thread's log lines fail as well (EFBIG, not a
# SIGXFSZ that kills logd with a core dump). A batch is then never acknowledged, and SIGTERM
# still ends logd by its drain deadline, not by a signal.
d2 = lt.Logd(env={'GWKIT_LOGD_FSYNC': 'batch'})
c = lt.Native(d2.native_port, session=4343)
rc, _, err = t.run(['prlimit', '--pid', str(d2.pid), '--fsize=1:unlimited'])
t.is_(rc, 0, 'prlimit sets a 1-byte file size limit ' + err.strip())
c.batch(1, ['never written'])
t.ok(t.wait_for(lambda: ((d2.result('status') or {}).get('output') or {}).get('error'), 10),
     'the write fails and status says so')
t.ok(d2.ctl('reload').get('ok') is not None and d2.alive(),
     'logd lives through a reload whose log lines cannot be written')
c.sock.settimeout(0.3)
try:
    a = c.ack()
except OSError:
    a = 'no ack'
t.is_(a, 'no ack', 'nothing acknowledged while no write works')
rc = d2.stop(timeout=30)
t.is_(rc, 1, 'SIGTERM ends logd by its drain deadline with exit status 1: lines it could not write')
t.is_(d2.lines(), [], 'and nothing was acknowledged that is not in the file')
c.close()
t.done()
