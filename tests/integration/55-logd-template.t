#!/usr/bin/python3
# An output path template (%{host}/%{app}.log) fed hostile names over the native protocol and
# syslog UDP: every file stays under the output directory, no name starts with a dot, each line
# lands once, and names that cannot be used go to "unknown".
import os
import socket
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import logdtest as lt

r = lt.Logd(start=False)
outdir = os.path.join(r.dir, 'out')
r.env['GWKIT_LOGD_OUTPUT'] = os.path.join(outdir, '%{host}', '%{app}.log')
r.start()
n = lt.Native(r.native_port, session=5)
apps = ['..', '', 'a/b', '../../../../tmp/evil', '.hidden', 'x' * 48, 'dot.log.20261206T000000Z',
        '.', '/']
for i, a in enumerate(apps):
    n.batch(i + 1, ['native m%d' % i], app=a, host=('../h' if i % 2 else '..'))
t.is_(n.acks_until(len(apps)), len(apps), 'batches with hostile app and host names acknowledged')
n.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i, a in enumerate([b'..', b'../..', b'\xff\xfe', b'a\x00b', b'x' * 200]):
    u.sendto(b'<13>1 2026-12-06T10:00:00Z ../../.. ' + a + b' - - - udp m%d' % i,
             ('127.0.0.1', r.syslog_port))


def files():
    out = {}
    for root, _, names in os.walk(r.dir):
        for f in names:
            p = os.path.join(root, f)
            if p.endswith('.log') and p != r.log_path:
                out[p] = r.lines(p)
    return out


t.ok(t.wait_for(lambda: sum(len(v) for v in files().values()) >= len(apps) + 5, 10),
     'every line written (%d)' % sum(len(v) for v in files().values()))
fs = files()
t.is_([p for p in fs if not os.path.realpath(p).startswith(os.path.realpath(outdir) + os.sep)],
      [], 'every file is under the output directory')
t.is_([p for p in fs if any(part.startswith('.') for part in os.path.relpath(p, outdir).split(os.sep))],
      [], 'no directory or file name starts with a dot')
t.ok(not os.path.exists('/tmp/evil.log'), 'no path traversal out of the tree')
every = [l for v in fs.values() for l in v]
t.is_(sorted(l for l in every if l.startswith(b'native ')),
      sorted(('native m%d' % i).encode() for i in range(len(apps))), 'each native line once')
t.is_(len([l for l in every if b' udp m' in l]), 5, 'each syslog line once')
t.is_(r.stop(), 0, 'logd exits 0')
t.done()
