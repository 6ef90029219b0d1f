#!/usr/bin/python3
# gwctl's daemon commands on logd: log-level shows and changes the level; the output metrics
# (fsyncs, bytes, disk, queue); drain stops accepting, writes and acknowledges what was in
# flight, and exits 0; shutdown stops at once, yet every batch acknowledged before it is in the
# file (an ACK is a promise a shutdown cannot undo).
import os
import socket
import sys
import threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

g = [t.prog('gwctl'), '--format', 'json']


def stream(d, session, tag):
    """A client pipelining batches until the connection ends; (last seq sent, last seq
    acknowledged, the reader thread)."""
    c = lt.Native(d.native_port, session=session)
    st = {'sent': 0, 'acked': 0, 'error': None}

    def reader():
        try:
            while True:
                a = c.ack()
                if a is None or isinstance(a, tuple):
                    return
                st['acked'] = a
        except (OSError, RuntimeError) as e:
            st['error'] = str(e)
    th = threading.Thread(target=reader)
    th.start()

    def writer():
        try:
            while st['sent'] < 100000:
                c.batch(st['sent'] + 1, ['%s s%d i%d' % (tag, st['sent'] + 1, i) for i in range(10)])
                st['sent'] += 1
        except OSError:
            pass
    wt = threading.Thread(target=writer)
    wt.start()
    return c, st, th, wt


def written(d, tag):
    return set(l for l in d.lines() if l.startswith(tag.encode() + b' '))


# log-level
d = lt.Logd(env={'GWKIT_LOGD_FSYNC': 'batch'})
gw = g + ['--run-dir', d.run_dir]
rc, out, err = t.run(gw + ['log-level', 'logd'])
t.is_(rc, 0, 'gwctl log-level logd answers ' + err.strip())
t.like(out, r'info', 'it shows the level: ' + out.strip())
rc, out, err = t.run(gw + ['log-level', 'logd', 'debug'])
t.is_(rc, 0, 'gwctl log-level logd debug ' + err.strip())
rc, out, _ = t.run(gw + ['log-level', 'logd'])
t.like(out, r'debug', 'the level is now debug')

# The output metrics the unit tests cannot see: fsyncs, bytes received and on disk, queue depth.
m = lt.Native(d.native_port, session=10)
for seq in range(1, 4):
    m.batch(seq, ['metric line %d' % seq])
t.is_(m.acks_until(3), 3, 'metrics: three batches acknowledged')
m.close()
t.ok((d.metric('logd_fsyncs_total') or 0) >= 1, 'fsyncs counted (fsync = batch)')
t.ok((d.metric('logd_received_bytes_total', {'input': 'native'}) or 0) > 0,
     'bytes received counted per input')
t.ok(t.wait_for(lambda: d.metric('logd_disk_bytes') == os.path.getsize(d.out)),
     'logd_disk_bytes is the size of the file (%s)' % d.metric('logd_disk_bytes'))
t.is_(d.metric('logd_queue_bytes'), 0.0, 'the queue is empty once everything is acknowledged')

# drain: in flight work is written and acknowledged; exit 0.
c, st, th, wt = stream(d, 11, 'drain')
t.wait_for(lambda: st['acked'] >= 20, 10)
rc, out, err = t.run(gw + ['drain', 'logd'])
t.is_(rc, 0, 'gwctl drain logd ' + err.strip())
t.is_(d.wait(20), 0, 'logd exits 0 after drain')
wt.join()
th.join()
c.close()
t.ok(st['acked'] >= 20, 'the client had acknowledgements (%d of %d sent)' % (st['acked'], st['sent']))
got = written(d, 'drain')
missing = [s for s in range(1, st['acked'] + 1) for i in range(10)
           if ('drain s%d i%d' % (s, i)).encode() not in got]
t.is_(len(missing), 0, 'after drain every acknowledged line is in the file')
t.is_(len(got), len([l for l in d.lines() if l.startswith(b'drain ')]), 'none written twice')

# shutdown: at once, but nothing acknowledged is lost.
d.start()
c, st, th, wt = stream(d, 12, 'shut')
t.wait_for(lambda: st['acked'] >= 20, 10)
rc, out, err = t.run(gw + ['shutdown', 'logd'])
t.is_(rc, 0, 'gwctl shutdown logd ' + err.strip())
rc = d.wait(20)
t.ok(rc is not None and rc >= 0, 'logd exits after shutdown (status %s)' % rc)
wt.join()
th.join()
c.close()
got = written(d, 'shut')
missing = [s for s in range(1, st['acked'] + 1) for i in range(10)
           if ('shut s%d i%d' % (s, i)).encode() not in got]
t.is_(len(missing), 0, 'after shutdown every acknowledged line is in the file (%d batches)' %
      st['acked'])
d.start()
t.is_(d.stop(), 0, 'logd restarts and exits 0 on SIGTERM')
t.done()
